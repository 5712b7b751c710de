//! Snowflake, through snowflake-connector-rs with key-pair authentication.
//!
//! One session per run (more when a transform builds several nodes at once); every
//! statement carries the session's `QUERY_TAG` (`twitch-pipeline <command> <run
//! id>`), so a run's queries can be found in Snowflake's query history.

use snowflake_connector_rs::{
    AuthConfig, CellValue, Client, ClientConfig, EndpointConfig, KeyPairConfig, QueryConfig, Session, SessionConfig,
};

/// Snowflake's own statement timeout when none is set: "172800 (2 days)"
/// (STATEMENT_TIMEOUT_IN_SECONDS, docs.snowflake.com/en/sql-reference/parameters).
const SNOWFLAKE_DEFAULT_STATEMENT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(172_800);

/// How much longer than a statement's timeout the client waits for Snowflake's answer,
/// which is the timeout error itself when Snowflake cancels it.
const ANSWER_MARGIN: std::time::Duration = std::time::Duration::from_secs(60);

use super::{Cell, Table, Warehouse, WarehouseError};
use crate::warehouse::SnowflakeSettings;

/// An open Snowflake session.
pub struct SnowflakeWarehouse {
    /// The logged-in client, which opens more sessions like this one.
    client: Client,
    session: Session,
    schema: String,
}

impl std::fmt::Debug for SnowflakeWarehouse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SnowflakeWarehouse")
            .field("schema", &self.schema)
            .finish_non_exhaustive()
    }
}

/// Why a session could not be opened.
#[derive(Debug, thiserror::Error)]
#[error("cannot open a Snowflake session for {user} on account {account}: {source}")]
pub struct SnowflakeConnectError {
    pub account: String,
    pub user: String,
    #[source]
    pub source: snowflake_connector_rs::Error,
}

impl SnowflakeWarehouse {
    /// Logs in with the key pair; `query_tag` marks every statement of the session.
    pub async fn connect(settings: &SnowflakeSettings, query_tag: &str) -> Result<Self, SnowflakeConnectError> {
        let fail = |source| SnowflakeConnectError {
            account: settings.account.clone(),
            user: settings.user.clone(),
            source,
        };
        use secrecy::ExposeSecret;
        let auth = AuthConfig::key_pair(KeyPairConfig::from_pem(settings.private_key.expose_secret()));
        let mut session = SessionConfig::new()
            .with_database(&settings.database)
            .with_schema(&settings.schema)
            .with_warehouse(&settings.warehouse)
            .with_session_parameter("QUERY_TAG", serde_json::Value::from(query_tag));
        if let Some(role) = &settings.role {
            session = session.with_role(role);
        }
        // Snowflake cancels a statement past its timeout itself, so none outlives the
        // run that sent it. The client waits that long and a little more: its own default
        // (300 s, snowflake-connector-rs `DEFAULT_QUERY_RESPONSE_TIMEOUT`) "does not
        // cancel the query on Snowflake", and a full refresh's statement ran on, unseen.
        if let Some(timeout) = settings.statement_timeout {
            session = session.with_session_parameter(
                "STATEMENT_TIMEOUT_IN_SECONDS",
                serde_json::Value::from(timeout.as_secs()),
            );
        }
        let waiting = settings
            .statement_timeout
            .unwrap_or(SNOWFLAKE_DEFAULT_STATEMENT_TIMEOUT)
            + ANSWER_MARGIN;
        let mut config = ClientConfig::new(&settings.user, &settings.account, auth)
            .with_session(session)
            .with_query(QueryConfig::new().with_query_response_timeout(waiting));
        if let Some(url) = &settings.base_url {
            config = config.with_endpoint(EndpointConfig::custom_base_url(url.clone()));
        }
        let client = Client::new(config).map_err(fail)?;
        let session = client.create_session().await.map_err(fail)?;
        Ok(SnowflakeWarehouse {
            client,
            session,
            schema: settings.schema.clone(),
        })
    }
}

impl Warehouse for SnowflakeWarehouse {
    fn dialect(&self) -> super::Dialect {
        super::Dialect::Snowflake
    }

    fn default_schema(&self) -> &str {
        &self.schema
    }

    async fn execute(&mut self, sql: &str) -> Result<(), WarehouseError> {
        self.session
            .query(sql.to_string())
            .await
            .map(drop)
            .map_err(|e| refused(sql, e))
    }

    async fn query(&mut self, sql: &str) -> Result<Table, WarehouseError> {
        let result = self.session.query(sql.to_string()).await.map_err(|e| refused(sql, e))?;
        let columns = result
            .schema()
            .columns()
            .iter()
            .map(|c| c.name().to_ascii_lowercase())
            .collect();
        let rows = result.collect::<Vec<_>>().await.map_err(|e| refused(sql, e))?;
        let rows = rows
            .into_iter()
            .map(|row| row.values().iter().map(cell).collect())
            .collect();
        Ok(Table { columns, rows })
    }

    /// Sessions of the same user, role, warehouse and query tag: each logs in again
    /// (a session is one login, `Client::create_session`), and Snowflake runs their
    /// statements at once on the warehouse.
    async fn more_sessions(&mut self, count: usize) -> Result<Vec<Self>, WarehouseError> {
        let logins = (0..count).map(|_| self.client.create_session());
        futures::future::try_join_all(logins)
            .await
            .map(|sessions| {
                sessions
                    .into_iter()
                    .map(|session| SnowflakeWarehouse {
                        client: self.client.clone(),
                        session,
                        schema: self.schema.clone(),
                    })
                    .collect()
            })
            .map_err(|e| WarehouseError {
                warehouse: "Snowflake",
                message: format!("cannot open another session: {e}"),
                sql: String::new(),
            })
    }
}

fn refused(sql: &str, error: snowflake_connector_rs::Error) -> WarehouseError {
    WarehouseError {
        warehouse: "Snowflake",
        message: error.to_string(),
        sql: sql.to_string(),
    }
}

/// A Snowflake value as text, in the same forms the DuckDB side prints.
fn cell(value: &CellValue) -> Cell {
    let text = match value {
        CellValue::Null => return None,
        CellValue::Boolean(b) => b.to_string(),
        CellValue::Integer(n) => n.to_string(),
        CellValue::Float(n) => n.to_string(),
        CellValue::Decimal(d) => d.to_string(),
        CellValue::String(s) => s.clone(),
        CellValue::Date(d) => d.format("%Y-%m-%d").to_string(),
        CellValue::Time(t) => t.to_string(),
        CellValue::TimestampNtz(t) if t.and_utc().timestamp_subsec_micros() == 0 => {
            t.format("%Y-%m-%d %H:%M:%S").to_string()
        }
        CellValue::TimestampNtz(t) => t.format("%Y-%m-%d %H:%M:%S%.6f").to_string(),
        CellValue::TimestampLtz(t) => t.format("%Y-%m-%d %H:%M:%S%.f").to_string(),
        CellValue::TimestampTz(t) => t.format("%Y-%m-%d %H:%M:%S%.f %:z").to_string(),
        CellValue::Json(v) => v.to_string(),
        other => format!("{other:?}"),
    };
    Some(text)
}
