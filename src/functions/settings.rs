//! `serve`'s settings: everything its functions need, validated at start.

use crate::config::{ConfigError, Problems};
use crate::extract::{ExtractArgs, ExtractSettings};
use crate::transform::{ProjectArgs, ProjectSettings, ThreadsArg};
use crate::warehouse::{WarehouseArgs, WarehouseTarget};

/// Options of `serve`, the Functions custom handler, as given: everything its
/// functions need, validated at start so a bad deployment says so at once.
#[derive(clap::Args, Clone, Debug)]
pub struct ServeArgs {
    /// Port to listen on (127.0.0.1); the Functions host sets it.
    #[arg(long, env = "FUNCTIONS_CUSTOMHANDLER_PORT", default_value = "3000")]
    pub port: String,
    #[command(flatten)]
    pub extract: ExtractArgs,
    #[command(flatten)]
    pub warehouse: WarehouseArgs,
    /// The hourly transform's project and target (`prod` in the Function App).
    #[command(flatten)]
    pub project: ProjectArgs,
    /// The hourly transform's threads.
    #[command(flatten)]
    pub transform_threads: ThreadsArg,
    /// Minutes after its commit a file Snowflake has no load record of is submitted
    /// again by the hourly run (a lost blob event); Snowpipe loads within minutes.
    #[arg(long, env = "RESUBMIT_AFTER_MINUTES", default_value_t = 30)]
    pub resubmit_after_minutes: u32,
}

/// A validated `serve`.
#[derive(Clone, Debug)]
pub struct ServeSettings {
    pub port: u16,
    pub extract: ExtractSettings,
    pub warehouse: WarehouseTarget,
    /// The transform's project and target, where the hourly run reads the fact too.
    pub project: ProjectSettings,
    /// How many nodes the hourly transform builds at once.
    pub transform_threads: usize,
    /// How long a committed file may go without a load record before the hourly run
    /// submits it again.
    pub resubmit_after: chrono::Duration,
}

impl ServeArgs {
    /// Validates every setting of every function, reporting all problems at once.
    pub fn validate(&self) -> Result<ServeSettings, ConfigError> {
        let mut problems = Problems::default();
        let extract = self.extract.validate().map_err(|error| problems.extend(error)).ok();
        let port = problems.parse(&self.port, "FUNCTIONS_CUSTOMHANDLER_PORT (--port)", |p| {
            p.trim()
                .parse::<u16>()
                .map_err(|e| format!("`{p}` is not a port ({e})"))
        });
        let warehouse = self.warehouse.check(&mut problems);
        let project = self.project.check(&mut problems);
        problems.finish(|| ServeSettings {
            port: port.expect("validated"),
            extract: extract.expect("validated"),
            warehouse: bounded_for_the_host(warehouse.expect("validated")),
            project: project.expect("validated"),
            transform_threads: self.transform_threads.count(),
            resubmit_after: chrono::Duration::minutes(self.resubmit_after_minutes.into()),
        })
    }
}

/// The longest a Snowflake statement of `serve` may run unless set shorter: 12 of the
/// 14 minutes host.json gives an invocation (`functionTimeout`), so Snowflake cancels a
/// statement before the host abandons the run that sent it.
pub const SERVE_STATEMENT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(720);

fn bounded_for_the_host(mut warehouse: WarehouseTarget) -> WarehouseTarget {
    if let WarehouseTarget::Snowflake(snowflake) = &mut warehouse {
        let bound = snowflake
            .statement_timeout
            .map_or(SERVE_STATEMENT_TIMEOUT, |t| t.min(SERVE_STATEMENT_TIMEOUT));
        snowflake.statement_timeout = Some(bound);
    }
    warehouse
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct Serve {
        #[command(flatten)]
        args: ServeArgs,
    }

    #[test]
    fn the_hourly_transform_takes_its_threads_and_refuses_none() {
        let serve = Serve::try_parse_from(["serve", "--threads", "4"]).unwrap();
        assert_eq!(serve.args.transform_threads.count(), 4);
        let error = Serve::try_parse_from(["serve", "--threads", "0"])
            .err()
            .unwrap()
            .to_string();
        assert!(error.contains("0 is not in 1..=64"), "{error}");
    }

    #[test]
    fn snowflake_statements_under_serve_end_inside_the_hosts_timeout() {
        let mut settings = crate::warehouse::SnowflakeSettings {
            account: "A".into(),
            user: "U".into(),
            private_key: "k".to_string().into(),
            role: None,
            warehouse: "W".into(),
            database: "D".into(),
            schema: "PUBLIC".into(),
            base_url: None,
            statement_timeout: None,
        };
        let bound = |settings: &crate::warehouse::SnowflakeSettings| match bounded_for_the_host(
            WarehouseTarget::Snowflake(Box::new(settings.clone())),
        ) {
            WarehouseTarget::Snowflake(s) => s.statement_timeout,
            WarehouseTarget::DuckDb(_) => None,
        };
        assert_eq!(bound(&settings), Some(SERVE_STATEMENT_TIMEOUT));
        settings.statement_timeout = Some(std::time::Duration::from_secs(3_600));
        assert_eq!(bound(&settings), Some(SERVE_STATEMENT_TIMEOUT), "never past the host's");
        settings.statement_timeout = Some(std::time::Duration::from_secs(300));
        assert_eq!(bound(&settings), Some(std::time::Duration::from_secs(300)));
    }
}
