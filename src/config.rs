//! What every stage's settings share: validation that lists every problem at once.
//!
//! Each stage owns its settings next to its code (`extract::ExtractArgs`,
//! `functions::ServeArgs`, …): clap reads each setting (flag first, then the
//! environment variable) into a raw `*Args` struct of optional strings, and its
//! `validate()` turns that into typed settings or one [`ConfigError`] that lists every
//! missing or malformed setting. This module is the lowest layer: it imports no stage.

use std::fmt;

use url::Url;

/// Every problem found in the configuration, reported together.
#[derive(Debug, PartialEq, Eq)]
pub struct ConfigError {
    pub problems: Vec<String>,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "the configuration has {} problem(s):", self.problems.len())?;
        for problem in &self.problems {
            writeln!(f, "  - {problem}")?;
        }
        write!(f, "Set them as environment variables or flags (see --help).")
    }
}

impl std::error::Error for ConfigError {}

/// Collects problems while fields are validated, so none hides another.
#[derive(Default)]
pub struct Problems(Vec<String>);

impl Problems {
    /// The value of a required setting, or a problem naming its variable and flag.
    pub fn required(&mut self, value: &Option<String>, env: &str, flag: &str) -> Option<String> {
        match value.as_deref().map(str::trim) {
            // App Service leaves a Key Vault reference's text in place when it cannot
            // resolve it (the identity's access not yet granted or propagated): that
            // text is not the secret. ("Use Key Vault references as app settings",
            // learn.microsoft.com/azure/app-service/app-service-key-vault-references.)
            Some(v) if v.starts_with("@Microsoft.KeyVault(") => {
                self.0.push(format!(
                    "{env} is a Key Vault reference the platform has not resolved: the app's identity cannot read the secret yet (its Key Vault Secrets User role, or the role's propagation); restart the app once it can"
                ));
                None
            }
            Some(v) if !v.is_empty() => Some(v.to_string()),
            _ => {
                self.0.push(format!("{env} (or {flag}) is not set"));
                None
            }
        }
    }

    /// `value` parsed by `parse`, or a problem naming `env` with the parser's reason.
    pub fn parse<T>(&mut self, value: &str, env: &str, parse: impl FnOnce(&str) -> Result<T, String>) -> Option<T> {
        parse(value)
            .map_err(|reason| self.0.push(format!("{env} is malformed: {reason}")))
            .ok()
    }

    /// A problem of its own.
    pub fn push(&mut self, problem: String) {
        self.0.push(problem);
    }

    /// The problems of another validation, reported with these.
    pub fn extend(&mut self, error: ConfigError) {
        self.0.extend(error.problems);
    }

    /// The settings, or every problem found.
    pub fn finish<T>(self, value: impl FnOnce() -> T) -> Result<T, ConfigError> {
        if self.0.is_empty() {
            Ok(value())
        } else {
            Err(ConfigError { problems: self.0 })
        }
    }
}

/// An http or https URL.
pub fn parse_http_url(text: &str) -> Result<Url, String> {
    let url = Url::parse(text).map_err(|e| format!("`{text}` is not a URL ({e})"))?;
    match url.scheme() {
        "http" | "https" => Ok(url),
        other => Err(format!("`{text}` uses `{other}`; expected http or https")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_problem_is_kept_and_listed() {
        let mut problems = Problems::default();
        let missing = problems.required(&Some("  ".into()), "A_SETTING", "--a-setting");
        let port = problems.parse("x", "PORT", |p| p.parse::<u16>().map_err(|e| e.to_string()));
        problems.extend(ConfigError {
            problems: vec!["B_SETTING is not set".into()],
        });
        let error = problems.finish(|| ()).unwrap_err();
        assert!(missing.is_none() && port.is_none());
        assert_eq!(error.problems.len(), 3, "{error}");
        assert!(error.to_string().starts_with("the configuration has 3 problem(s):"));
    }

    /// The lowest layer: every stage's settings use it, so it may use none of them
    /// (it once sat in an import circle with snowflake_setup, ingest and snowpipe).
    #[test]
    fn config_imports_no_stage() {
        let source = include_str!("config.rs");
        let code = &source[..source.find("#[cfg(test)]").unwrap()];
        assert!(!code.contains(concat!("crate", "::")), "config.rs imports a stage");
    }
}
