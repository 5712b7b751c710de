//! Log setup: readable lines on a terminal, JSON lines where a machine reads them.

use tracing_subscriber::EnvFilter;

/// How log lines are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    /// Compact human-readable lines on stderr.
    Text,
    /// One JSON object per line (Azure Functions, log shippers).
    Json,
}

impl LogFormat {
    /// `LOG_FORMAT=json`, or running under the Functions host, selects JSON.
    pub fn from_env() -> LogFormat {
        let json = std::env::var("LOG_FORMAT").is_ok_and(|v| v.eq_ignore_ascii_case("json"))
            || std::env::var_os("FUNCTIONS_CUSTOMHANDLER_PORT").is_some();
        if json { LogFormat::Json } else { LogFormat::Text }
    }
}

/// Where log lines go.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogTarget {
    /// The CLI's commands: their results go to stdout, their logs beside them.
    Stderr,
    /// `serve`: the Functions host collects the handler's stdout.
    Stdout,
}

/// Installs the global subscriber. `RUST_LOG` overrides `default_level`.
pub fn init(format: LogFormat, target: LogTarget, default_level: &str) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_level));
    let writer = tracing_subscriber::fmt::writer::BoxMakeWriter::new(move || -> Box<dyn std::io::Write> {
        match target {
            LogTarget::Stderr => Box::new(std::io::stderr()),
            LogTarget::Stdout => Box::new(std::io::stdout()),
        }
    });
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(writer);
    // A second init (tests calling twice) keeps the first subscriber.
    let _ = match format {
        LogFormat::Text => builder.compact().try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
}
