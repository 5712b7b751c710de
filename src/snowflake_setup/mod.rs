//! `snowflake-setup`: the Snowflake objects the pipeline needs, as DDL to review or
//! apply. Every statement is idempotent (`if not exists`, grants), so applying twice
//! changes nothing.
//!
//! In order: the database, the RAW schema and raw tables; the NDJSON gzip file format;
//! the Azure storage integration (with the consent steps an admin must take once);
//! the external stage over the lake and one pipe per raw table (`AUTO_INGEST = FALSE`:
//! the blob trigger submits files through Snowpipe's REST API); a least-privilege role,
//! the service user with the key pair's public key, and the grants.
//!
//! Three Snowflake facts shape the pipes:
//! - `METADATA$START_SCAN_TIME` is a TIMESTAMP_LTZ ("Query metadata for staged files":
//!   docs.snowflake.com/en/user-guide/querying-metadata), and an LTZ cast to NTZ takes
//!   the session's time zone (America/Los_Angeles by default). `loaded_at` is UTC, as
//!   the local load writes it and `status` compares it: converted to UTC first.
//! - Snowpipe's `ON_ERROR` default is `SKIP_FILE` ("Snowpipe error notifications":
//!   docs.snowflake.com/en/user-guide/data-load-snowpipe-errors): one bad line would
//!   drop a whole slot's file. The pipes say `ON_ERROR = CONTINUE`, so a bad line costs
//!   that line, as the local load's rejects do; the load history counts it
//!   (`COPY_HISTORY`'s `ERROR_COUNT` and `FIRST_ERROR_MESSAGE`) and `status` shows it.
//! - The Snowpipe REST API needs OPERATE on a pipe for `insertFiles` and MONITOR for
//!   `insertReport` and `loadHistoryScan`, with USAGE on its database and schema;
//!   "Snowpipe loads files with the privileges of the role that owns the pipe", and a
//!   request runs with the user's default role ("Preparing to load data using the
//!   Snowpipe REST API", docs.snowflake.com/en/user-guide/data-load-snowpipe-rest-gs).
//!   So the pipes stay with the role that creates them (which owns the tables, stage
//!   and file format they use) and the pipeline's role gets OPERATE and MONITOR: no
//!   hand-over. (An earlier version handed them over, which pauses a pipe for good:
//!   "setting PIPE_EXECUTION_PAUSED = FALSE doesn't resume a pipe after an ownership
//!   transfer", "Managing Snowpipe". `--apply` resumes any pipe it finds paused with
//!   SYSTEM$PIPE_FORCE_RESUME.) The role is granted to SYSADMIN (Snowflake's advice for
//!   custom roles), so administrators can manage what it owns (the models' schemas).
//! - Key rotation: a user holds two public keys, RSA_PUBLIC_KEY and RSA_PUBLIC_KEY_2
//!   ("Key-pair authentication and key-pair rotation", docs.snowflake.com/en/user-guide/
//!   key-pair-auth). `--rotate-key` sets the new one as RSA_PUBLIC_KEY_2; once every
//!   client uses it, `alter user … unset rsa_public_key`.
//!
//! `create pipe if not exists` leaves an existing pipe as it is: a pipe created by an
//! older version (without `ON_ERROR`) must be recreated by hand, which also drops its
//! load history (see `snowflake-setup` in README.md, Commands, before doing so).

mod settings;
pub use settings::{SetupArgs, SetupSettings};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rsa::RsaPrivateKey;
use rsa::pkcs8::{DecodePrivateKey, EncodePublicKey};

use crate::ingest::{RAW_SCHEMA, pipe_for};
use crate::lake::Entity;

/// What the DDL is about: the account's objects and the lake they read.
#[derive(Debug, Clone)]
pub struct SetupPlan {
    pub database: String,
    pub warehouse: String,
    /// The service user the pipeline will log in as.
    pub user: String,
    /// The role the pipeline will run as.
    pub role: String,
    /// `azure://ACCOUNT.blob.core.windows.net/CONTAINER/[PREFIX/]`
    pub lake_location: String,
    pub azure_tenant_id: String,
    /// base64 DER of the service user's public key.
    pub public_key: String,
    /// Set the key as the user's second key, for a rotation (the user exists).
    pub rotate_key: bool,
}

/// One statement and why it is there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    pub comment: String,
    pub sql: String,
}

/// The service user's public key, base64 DER, from a PEM public key or from the
/// private key (whose public half it then is).
pub fn public_key_der(pem: &str) -> Result<String, String> {
    use rsa::pkcs8::DecodePublicKey;
    let public = match RsaPrivateKey::from_pkcs8_pem(pem) {
        Ok(private) => private.to_public_key(),
        Err(_) => rsa::RsaPublicKey::from_public_key_pem(pem)
            .map_err(|e| format!("it is neither a PEM public key nor an unencrypted PKCS#8 private key ({e})"))?,
    };
    let der = public
        .to_public_key_der()
        .map_err(|e| format!("cannot encode the public key ({e})"))?;
    Ok(STANDARD.encode(der.as_bytes()))
}

impl SetupPlan {
    /// The lake's location for a stage: `azure://ACCOUNT.blob.core.windows.net/CONTAINER/[PREFIX/]`.
    pub fn lake_location(storage_account: &str, container: &str, prefix: &str) -> String {
        match prefix.trim_matches('/') {
            "" => format!("azure://{storage_account}.blob.core.windows.net/{container}/"),
            prefix => format!("azure://{storage_account}.blob.core.windows.net/{container}/{prefix}/"),
        }
    }

    /// The statements, in the order they must run.
    pub fn statements(&self) -> Vec<Statement> {
        let db = &self.database;
        let raw = format!("{db}.{RAW_SCHEMA}");
        let integration = format!("{db}_LAKE");
        let stage = crate::ingest::stage_for(db);
        let format = format!("{raw}.NDJSON_GZ");
        let mut statements = Vec::new();
        let mut add = |comment: &str, sql: String| {
            statements.push(Statement {
                comment: comment.to_string(),
                sql,
            })
        };

        add(
            "The database and the schema of the raw tables.",
            format!("create database if not exists {db}"),
        );
        add("", format!("create schema if not exists {raw}"));
        for entity in Entity::ALL {
            add(
                if entity == Entity::Streams {
                    "Raw tables: the Helix object as loaded, the file and row it came from, the load time."
                } else {
                    ""
                },
                format!(
                    "create table if not exists {raw}.{} (raw_json variant not null, file_name varchar not null, file_row_number number not null, loaded_at timestamp_ntz not null)",
                    raw_table(entity)
                ),
            );
        }
        add(
            "One JSON object per line, gzip: the lake's NDJSON.gz files.",
            format!("create file format if not exists {format} type = json compression = gzip"),
        );
        add(
            "Snowflake's access to the lake. Once, as ACCOUNTADMIN: run `desc storage integration` on it, open its AZURE_CONSENT_URL and consent, then give its AZURE_MULTI_TENANT_APP_NAME the role Storage Blob Data Reader on the storage account.",
            format!(
                "create storage integration if not exists {integration} type = external_stage storage_provider = 'AZURE' enabled = true azure_tenant_id = '{}' storage_allowed_locations = ('{}')",
                self.azure_tenant_id, self.lake_location
            ),
        );
        add(
            "The lake as a stage: insertFiles names files relative to it (the lake's own paths).",
            format!(
                "create stage if not exists {stage} url = '{}' storage_integration = {integration} file_format = {format}",
                self.lake_location
            ),
        );
        for entity in Entity::ALL {
            add(
                if entity == Entity::Streams {
                    "A pipe per raw table, fed only through the REST API (the blob trigger submits each manifest's files)."
                } else {
                    ""
                },
                format!(
                    "create pipe if not exists {} auto_ingest = false as copy into {raw}.{} (raw_json, file_name, file_row_number, loaded_at) from (select $1, metadata$filename, metadata$file_row_number, convert_timezone('UTC', metadata$start_scan_time)::timestamp_ntz from @{stage}) on_error = continue",
                    pipe_for(db, entity),
                    raw_table(entity)
                ),
            );
        }
        let role = &self.role;
        add(
            "The pipeline's role: what it needs and no more.",
            format!("create role if not exists {role}"),
        );
        add(
            "",
            format!("grant usage on warehouse {} to role {role}", self.warehouse),
        );
        // The transform creates its schemas (staging, snapshots, marts) and owns them.
        add(
            "",
            format!("grant usage, create schema on database {db} to role {role}"),
        );
        add("", format!("grant usage on schema {raw} to role {role}"));
        add("", format!("grant usage on stage {stage} to role {role}"));
        add("", format!("grant usage on file format {format} to role {role}"));
        for entity in Entity::ALL {
            add(
                "",
                format!(
                    "grant select, insert on table {raw}.{} to role {role}",
                    raw_table(entity)
                ),
            );
        }
        add(
            "The service user: key-pair login only (no password), with the key pair's public key.",
            format!(
                "create user if not exists {} type = service default_role = {role} default_warehouse = {} rsa_public_key = '{}'",
                self.user, self.warehouse, self.public_key
            ),
        );
        add("", format!("grant role {role} to user {}", self.user));
        add(
            "Under SYSADMIN, so administrators can manage what the role owns (the pipes).",
            format!("grant role {role} to role sysadmin"),
        );
        for entity in Entity::ALL {
            add(
                if entity == Entity::Streams {
                    "Each pipe stays with its creator; the role may submit files to it (OPERATE) and read its history (MONITOR), as the Snowpipe REST API requires."
                } else {
                    ""
                },
                format!("grant operate, monitor on pipe {} to role {role}", pipe_for(db, entity)),
            );
        }
        if self.rotate_key {
            add(
                "Key rotation: the new key as the second; once every client uses it, run `alter user … unset rsa_public_key`.",
                format!("alter user {} set rsa_public_key_2 = '{}'", self.user, self.public_key),
            );
        }
        statements
    }
}

fn raw_table(entity: Entity) -> String {
    format!("RAW_{}", entity.name().to_ascii_uppercase())
}

/// The statements as a script a person can read and run.
pub fn script(statements: &[Statement]) -> String {
    let mut out = String::from("-- twitch-pipeline: Snowflake bootstrap. Idempotent: safe to run again.\n");
    for statement in statements {
        if !statement.comment.is_empty() {
            out.push_str(&format!("\n-- {}\n", statement.comment));
        }
        out.push_str(&statement.sql);
        out.push_str(";\n");
    }
    out.push_str(
        "\n-- A pipe an earlier version of this setup handed to the role is paused for good (SYSTEM$PIPE_STATUS says\n-- PAUSED); `--apply` resumes it, by hand: select system$pipe_force_resume('<pipe>')\n",
    );
    out
}

/// Runs `statements` on `warehouse` (logged in as an admin), then resumes each pipe
/// of `plan` found paused. Returns a line per statement and per pipe resumed.
pub async fn apply<W: crate::warehouse::Warehouse>(
    warehouse: &mut W,
    plan: &SetupPlan,
    statements: &[Statement],
) -> Result<Vec<String>, crate::warehouse::WarehouseError> {
    let mut lines = Vec::new();
    for statement in statements {
        warehouse.execute(&statement.sql).await?;
        lines.push(format!(
            "ok: {}",
            statement.sql.split(" as ").next().unwrap_or(&statement.sql)
        ));
    }
    for entity in Entity::ALL {
        let pipe = pipe_for(&plan.database, entity);
        let paused = matches!(
            crate::ingest::pipe_status(warehouse, &pipe).await?,
            crate::snowpipe::PipeState::Stopped { state, .. } if state == "PAUSED"
        );
        if paused {
            warehouse
                .query(&format!("select system$pipe_force_resume('{pipe}')"))
                .await?;
            lines.push(format!(
                "resumed: {pipe} was paused (as an earlier setup's hand-over left it)"
            ));
        }
    }
    Ok(lines)
}

#[cfg(test)]
mod tests {
    use rsa::pkcs8::{EncodePrivateKey, LineEnding};

    use super::*;

    fn plan(prefix: &str) -> SetupPlan {
        let key = RsaPrivateKey::new(&mut rsa::rand_core::OsRng, 2048).unwrap();
        SetupPlan {
            database: "TWITCH".into(),
            warehouse: "TRANSFORMING".into(),
            user: "PIPELINE_SVC".into(),
            role: "TWITCH_PIPELINE".into(),
            lake_location: SetupPlan::lake_location("lakeacct", "raw", prefix),
            azure_tenant_id: "tenant-1".into(),
            public_key: public_key_der(&key.to_pkcs8_pem(LineEnding::LF).unwrap()).unwrap(),
            rotate_key: false,
        }
    }

    #[test]
    fn pipes_copy_with_metadata_columns_and_no_auto_ingest() {
        let sql = script(&plan("").statements());
        for entity in ["STREAMS", "USERS", "GAMES"] {
            let pipe = format!(
                "create pipe if not exists TWITCH.RAW.RAW_{entity}_PIPE auto_ingest = false as copy into TWITCH.RAW.RAW_{entity}"
            );
            assert!(sql.contains(&pipe), "{sql}");
        }
        assert_eq!(
            sql.matches("metadata$filename, metadata$file_row_number, convert_timezone('UTC', metadata$start_scan_time)::timestamp_ntz")
                .count(),
            3
        );
        assert_eq!(
            sql.matches(" from @TWITCH.RAW.LAKE) on_error = continue;").count(),
            3,
            "a bad line costs the line, not the file: {sql}"
        );
        assert!(sql.contains("url = 'azure://lakeacct.blob.core.windows.net/raw/'"));
        assert!(script(&plan("/twitch/").statements()).contains("azure://lakeacct.blob.core.windows.net/raw/twitch/"));
    }

    #[test]
    fn every_object_is_created_idempotently_and_the_role_gets_only_what_it_needs() {
        let statements = plan("").statements();
        for statement in &statements {
            let sql = &statement.sql;
            assert!(
                sql.starts_with("create ") && sql.contains(" if not exists ") || sql.starts_with("grant "),
                "{sql}"
            );
            assert!(
                !sql.contains("ACCOUNTADMIN") && !sql.contains(" all "),
                "least privilege: {sql}"
            );
        }
        let sql = script(&statements);
        for pipe in ["RAW_STREAMS_PIPE", "RAW_USERS_PIPE", "RAW_GAMES_PIPE"] {
            let pipe = format!("TWITCH.RAW.{pipe}");
            let grant = format!("grant operate, monitor on pipe {pipe} to role TWITCH_PIPELINE");
            let granted = statements.iter().position(|s| s.sql == grant).expect(&grant);
            let created = statements
                .iter()
                .position(|s| s.sql.contains(&format!("create pipe if not exists {pipe}")));
            assert!(created < Some(granted), "the pipe comes first");
            // No hand-over: a pipe whose owner changed stays paused until force-resumed.
            assert!(!sql.contains(&format!("ownership on pipe {pipe}")), "{sql}");
            assert!(!sql.contains(&format!("alter pipe {pipe}")), "{sql}");
        }
        assert!(!sql.contains("rsa_public_key_2"));
        let rotating = SetupPlan {
            rotate_key: true,
            ..plan("")
        };
        assert!(script(&rotating.statements()).contains("alter user PIPELINE_SVC set rsa_public_key_2 = '"));
        assert!(sql.contains("create user if not exists PIPELINE_SVC type = service default_role = TWITCH_PIPELINE"));
        assert!(sql.contains("AZURE_CONSENT_URL"), "the consent steps are explained");
    }

    #[test]
    fn the_public_key_comes_from_either_half_of_the_pair() {
        use rsa::pkcs8::EncodePublicKey;
        let key = RsaPrivateKey::new(&mut rsa::rand_core::OsRng, 2048).unwrap();
        let from_private = public_key_der(&key.to_pkcs8_pem(LineEnding::LF).unwrap()).unwrap();
        let from_public = public_key_der(&key.to_public_key().to_public_key_pem(LineEnding::LF).unwrap()).unwrap();
        assert_eq!(from_private, from_public);
        assert!(public_key_der("hunter2").unwrap_err().contains("neither"));
    }
}
