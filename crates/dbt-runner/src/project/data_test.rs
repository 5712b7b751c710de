//! Data tests as declared: generic ones on a model, column or source, and singular
//! SQL files; their severity, thresholds and config.

use std::collections::BTreeMap;
use std::fmt;

use super::node::NodeName;
use crate::layering;

/// How bad a failing test is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Severity {
    Error,
    Warn,
}

/// What a generic test reads: a model or snapshot, or a declared source table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Tested {
    Node(NodeName),
    Source { source: String, table: String },
}

impl fmt::Display for Tested {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Tested::Node(name) => write!(f, "{name}"),
            Tested::Source { source, table } => write!(f, "source {source}.{table}"),
        }
    }
}

/// dbt's `warn_if` / `error_if`: a comparison of the failing-row count with a number.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Threshold {
    op: Comparison,
    value: i64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Comparison {
    Equal,
    NotEqual,
    Greater,
    GreaterOrEqual,
    Less,
    LessOrEqual,
}

impl Default for Threshold {
    /// dbt's default for both: `!= 0`.
    fn default() -> Self {
        Threshold {
            op: Comparison::NotEqual,
            value: 0,
        }
    }
}

impl fmt::Display for Threshold {
    /// As dbt writes its default, `!= 0`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let op = match self.op {
            Comparison::Equal => "=",
            Comparison::NotEqual => "!=",
            Comparison::Greater => ">",
            Comparison::GreaterOrEqual => ">=",
            Comparison::Less => "<",
            Comparison::LessOrEqual => "<=",
        };
        write!(f, "{op} {}", self.value)
    }
}

impl Threshold {
    /// `"!= 0"`, `">10"`, `">= 5"`, `"= 0"`, …
    pub fn parse(text: &str) -> Result<Threshold, String> {
        let text = text.trim();
        let (op, rest) = [
            ("!=", Comparison::NotEqual),
            ("<>", Comparison::NotEqual),
            (">=", Comparison::GreaterOrEqual),
            ("<=", Comparison::LessOrEqual),
            ("==", Comparison::Equal),
            ("=", Comparison::Equal),
            (">", Comparison::Greater),
            ("<", Comparison::Less),
        ]
        .into_iter()
        .find_map(|(symbol, op)| text.strip_prefix(symbol).map(|rest| (op, rest)))
        .ok_or_else(|| format!("`{text}` is not a comparison such as '!= 0' or '>10'"))?;
        let value = rest
            .trim()
            .parse()
            .map_err(|_| format!("`{text}` does not compare with a whole number"))?;
        Ok(Threshold { op, value })
    }

    /// Whether `failures` failing rows meet the condition.
    pub fn holds(self, failures: i64) -> bool {
        match self.op {
            Comparison::Equal => failures == self.value,
            Comparison::NotEqual => failures != self.value,
            Comparison::Greater => failures > self.value,
            Comparison::GreaterOrEqual => failures >= self.value,
            Comparison::Less => failures < self.value,
            Comparison::LessOrEqual => failures <= self.value,
        }
    }
}

/// A data test: a query returning the failing rows.
#[derive(Clone, Debug)]
pub struct DataTest {
    /// dbt-style name, e.g. `not_null_stg_orders_order_id`.
    pub name: String,
    /// dbt's fqn: the project, the folders of the file defining the test, its name
    /// (dbt_project.yml's `data_tests:` applies by it).
    pub fqn: Vec<String>,
    pub kind: TestKind,
    /// The file defining it: a properties file, or a singular test's SQL.
    pub path: String,
    /// Tags it carries from what it tests: its column's, and a source's and its
    /// table's (dbt-core's `parse_test` and `SourcePatcher`); its config adds its own.
    pub inherited_tags: Vec<String>,
    /// For a generic test, its config resolved; for a singular test, what
    /// dbt_project.yml gives it, which its own `config(…)` may override when rendered.
    pub settings: TestSettings,
}

/// A test's config, as dbt resolves it: `data_tests:` (or `tests:`) of
/// dbt_project.yml by the test's fqn, the deeper folder winning, then the test's own.
#[derive(Clone, Debug, PartialEq)]
pub struct TestSettings {
    pub severity: Severity,
    /// dbt's `where` config: a generic test checks only the model's rows that match.
    /// dbt applies it through a generic test's `model` argument
    /// (`get_where_subquery`), so a singular test's is ignored, as there.
    pub filter: Option<String>,
    /// As in dbt: an error-severity test fails when `error_if` holds, else warns when
    /// `warn_if` does; a warn-severity test only warns.
    pub warn_if: Threshold,
    pub error_if: Threshold,
    pub enabled: bool,
    /// Its `tags` config, which adds up across levels as a model's does.
    pub tags: Vec<String>,
}

impl Default for TestSettings {
    fn default() -> Self {
        TestSettings {
            severity: Severity::Error,
            filter: None,
            warn_if: Threshold::default(),
            error_if: Threshold::default(),
            enabled: true,
            tags: Vec::new(),
        }
    }
}

/// Config keys a test may set, and those refused (why).
pub(super) const TEST_KEYS: &[&str] = &["severity", "where", "warn_if", "error_if", "enabled", "tags", "meta"];
const TEST_REFUSED: &[(&str, &str)] = &[
    ("limit", "the runner counts every failing row"),
    ("fail_calc", "the runner counts failing rows (count(*))"),
    ("store_failures", "the runner stores no failing rows"),
    ("store_failures_as", "the runner stores no failing rows"),
];

/// Whether `key` names a test config, applied or refused (as written: a generic
/// test's top level holds its arguments beside them).
pub(super) fn is_test_config_key(key: &str) -> bool {
    TEST_KEYS.contains(&key) || TEST_REFUSED.iter().any(|(k, _)| *k == key)
}

/// Refuses a test config key the runner does not apply (`+` and `-` as dbt reads them).
fn check_test_key(key: &str) -> Result<(), String> {
    let key = layering::normalized(key);
    if let Some((_, why)) = TEST_REFUSED.iter().find(|(k, _)| *k == key) {
        return Err(format!("config `{key}` is not supported: {why}"));
    }
    if !is_test_config_key(&key) {
        return Err(format!(
            "config `{key}` is not one this runner knows; a test may set {}",
            TEST_KEYS.join(", ")
        ));
    }
    Ok(())
}

impl TestSettings {
    /// These settings with those `config` sets (keys as written, checked) over them.
    pub fn overridden_by(mut self, config: &BTreeMap<String, serde_json::Value>) -> Result<TestSettings, String> {
        for (key, value) in config {
            check_test_key(key)?;
            let key = layering::normalized(key);
            let text = || {
                value
                    .as_str()
                    .ok_or_else(|| format!("`{key}` must be text, not {value}"))
            };
            match key.as_str() {
                "severity" => {
                    self.severity = match text()? {
                        s if s.eq_ignore_ascii_case("error") => Severity::Error,
                        s if s.eq_ignore_ascii_case("warn") => Severity::Warn,
                        s => return Err(format!("severity `{s}` is not `error` or `warn`")),
                    }
                }
                "where" => self.filter = (!value.is_null()).then(text).transpose()?.map(str::to_string),
                "warn_if" => self.warn_if = Threshold::parse(text()?).map_err(|e| format!("warn_if: {e}"))?,
                "error_if" => self.error_if = Threshold::parse(text()?).map_err(|e| format!("error_if: {e}"))?,
                "enabled" => {
                    self.enabled = value
                        .as_bool()
                        .ok_or_else(|| format!("`enabled` must be true or false, not {value}"))?
                }
                "tags" => {
                    for tag in layering::text_or_list(value).map_err(|e| format!("`tags`: {e}"))? {
                        if !self.tags.contains(&tag) {
                            self.tags.push(tag);
                        }
                    }
                }
                // Meta changes nothing a test checks.
                _ => {}
            }
        }
        Ok(self)
    }
}

/// The four generic tests, or a singular test's own SQL.
#[derive(Clone, Debug)]
pub enum TestKind {
    NotNull {
        model: Tested,
        column: String,
    },
    Unique {
        model: Tested,
        column: String,
    },
    AcceptedValues {
        model: Tested,
        column: String,
        values: Vec<String>,
    },
    Relationships {
        model: Tested,
        column: String,
        to: NodeName,
        field: String,
    },
    /// A `.sql` file under the test path (the test's `path`), rendered like a model.
    Singular {
        sql: String,
    },
}
