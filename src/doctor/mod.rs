//! `doctor`: checks a deployment hop by hop before its first slot depends on it, as
//! `dbt debug` checks a dbt user's connection, for the whole pipeline.
//!
//! Each configured hop is checked read-only, or with a probe it removes: Twitch (the
//! app token, its validation and client id, one page of streams with its round trip
//! and rate-limit headers), the lake (a probe object written, read, listed and
//! deleted under a prefix of its own), Snowflake with the pipeline's own user and role
//! (login and session, a temporary table where the transform makes them, each pipe's
//! state and the role's privileges on it, Snowpipe's REST API with the key-pair JWT,
//! the stage's URL against the lake's). Every check is one line: ✓ or ✗, what was
//! checked, and for ✗ what to do.

mod settings;
pub use settings::{AppEndpoint, DoctorArgs, DoctorSettings, storage_account_from_env};

use std::time::Duration;

use crate::ingest::{pipe_for, pipe_states};
use crate::lake::{Entity, Lake, LakeUrl};
use crate::snowpipe::PipeState;
use crate::twitch::{ClientOptions, HelixClient, TwitchSettings};
use crate::warehouse::{SnowflakeSettings, SnowflakeWarehouse, Warehouse};

/// One check's result.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Check {
    /// `twitch`, `lake`, `snowflake`, `functions`.
    pub hop: &'static str,
    /// What was checked.
    pub check: String,
    pub ok: bool,
    /// What was found: a figure when it passed, the failure when it did not.
    pub detail: String,
    /// What to do, when it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

impl Check {
    fn pass(hop: &'static str, check: impl Into<String>, detail: impl Into<String>) -> Check {
        Check {
            hop,
            check: check.into(),
            ok: true,
            detail: detail.into(),
            fix: None,
        }
    }

    fn fail(hop: &'static str, check: impl Into<String>, detail: impl Into<String>, fix: impl Into<String>) -> Check {
        Check {
            hop,
            check: check.into(),
            ok: false,
            detail: detail.into(),
            fix: Some(fix.into()),
        }
    }

    /// `✓ twitch: the app token: …` or `✗ … — fix: …`.
    pub fn line(&self) -> String {
        let mark = if self.ok { '✓' } else { '✗' };
        let mut line = format!("{mark} {}: {}: {}", self.hop, self.check, self.detail);
        if let Some(fix) = &self.fix {
            line.push_str(&format!(" — fix: {fix}"));
        }
        line
    }
}

/// Runs every check `settings` configures, hop by hop.
pub async fn run(settings: &DoctorSettings) -> Vec<Check> {
    let mut checks = settings.problems.clone();
    if let Some(twitch) = &settings.twitch {
        checks.extend(check_twitch(twitch).await);
    }
    let mut lake_seen = None;
    if let Some(lake) = &settings.lake {
        let (lake_checks, seen) = check_lake(lake).await;
        checks.extend(lake_checks);
        lake_seen = seen;
    }
    if let Some(snowflake) = &settings.snowflake {
        checks.extend(
            check_snowflake(
                snowflake,
                settings.lake.as_ref().zip(lake_seen.as_ref()),
                settings.storage_account.as_deref(),
                settings.project.as_ref(),
            )
            .await,
        );
    }
    if let Some(app) = &settings.app {
        checks.push(check_app(app).await);
    }
    checks
}

/// The app from outside: a job id that does not exist must be answered 404 by `run`
/// (the host let the key through and the handler answered), not 401 (the key) or 5xx
/// (the host or the handler down).
async fn check_app(app: &AppEndpoint) -> Check {
    use secrecy::ExposeSecret;
    const HOP: &str = "functions";
    let mut url = app.url.clone();
    url.set_path("/api/run");
    url.query_pairs_mut().append_pair("id", "doctor-no-such-job");
    let what = format!("GET {} of a job that does not exist", url);
    let client = reqwest::Client::builder().timeout(Duration::from_secs(30)).build();
    let answer = match client {
        Ok(client) => {
            client
                .get(url.clone())
                .header("x-functions-key", app.key.expose_secret())
                .send()
                .await
        }
        Err(e) => return Check::fail(HOP, what, e.to_string(), "report this: the HTTP client cannot be built"),
    };
    match answer {
        Ok(response) if response.status().as_u16() == 404 => {
            Check::pass(HOP, what, "404, as it should: the app answers")
        }
        Ok(response) if matches!(response.status().as_u16(), 401 | 403) => Check::fail(
            HOP,
            what,
            format!("{}: the key was refused", response.status()),
            "use a function key of `run` (az functionapp function keys list --function-name run)",
        ),
        Ok(response) => Check::fail(
            HOP,
            what,
            format!("{}", response.status()),
            "the host or the handler is not running: see the app's log stream and its Application Insights failures",
        ),
        Err(e) => Check::fail(
            HOP,
            what,
            e.to_string(),
            "the app's URL must be reachable from here (https://APP.azurewebsites.net)",
        ),
    }
}

async fn check_twitch(settings: &TwitchSettings) -> Vec<Check> {
    const HOP: &str = "twitch";
    let options = ClientOptions {
        request_timeout: Duration::from_secs(10),
        ..Default::default()
    };
    let client = match HelixClient::connect(settings, options).await {
        Ok(client) => client,
        Err(e) => {
            return vec![Check::fail(
                HOP,
                "an app token for the client id and secret",
                e.to_string(),
                "set TWITCH_CLIENT_ID and TWITCH_CLIENT_SECRET to an application's (dev.twitch.tv/console/apps)",
            )];
        }
    };
    let mut checks = vec![Check::pass(HOP, "an app token for the client id and secret", "issued")];
    match client.token_validation().await {
        Ok(validation) => {
            let issued_to = validation["client_id"].as_str().unwrap_or_default();
            checks.push(if issued_to == settings.client_id {
                Check::pass(
                    HOP,
                    "the token's validation",
                    format!(
                        "valid for {} s more, issued to this client id",
                        validation["expires_in"].as_i64().unwrap_or_default()
                    ),
                )
            } else {
                Check::fail(
                    HOP,
                    "the token's validation",
                    format!("issued to client id `{issued_to}`, not `{}`", settings.client_id),
                    "TWITCH_CLIENT_ID and TWITCH_CLIENT_SECRET must be the same application's",
                )
            });
        }
        Err(e) => checks.push(Check::fail(
            HOP,
            "the token's validation",
            e.to_string(),
            "Twitch's /oauth2/validate must accept the token: check TWITCH_AUTH_URL and the application",
        )),
    }
    checks.push(match client.probe("streams", &[("first", "100")]).await {
        Ok(probe) if probe.status == 200 => Check::pass(
            HOP,
            "one page of Get Streams",
            format!(
                "{} ms; Ratelimit-Limit {}, Ratelimit-Remaining {}",
                probe.round_trip.as_millis(),
                probe.ratelimit_limit.as_deref().unwrap_or("absent"),
                probe.ratelimit_remaining.as_deref().unwrap_or("absent"),
            ),
        ),
        Ok(probe) => Check::fail(
            HOP,
            "one page of Get Streams",
            format!("status {}: {}", probe.status, probe.body),
            "Helix must answer Get Streams to the app token: check TWITCH_API_URL and the application's status",
        ),
        Err(e) => Check::fail(
            HOP,
            "one page of Get Streams",
            e.to_string(),
            "Helix must be reachable from here: check TWITCH_API_URL and the network",
        ),
    });
    checks
}

/// What the lake's checks found, for Snowflake's: the lake, and its newest committed
/// slot (none yet, or the lake could not be listed: then its check said so).
struct LakeSeen {
    lake: Lake,
    newest: Option<crate::lake::Slot>,
}

async fn check_lake(url: &LakeUrl) -> (Vec<Check>, Option<LakeSeen>) {
    const HOP: &str = "lake";
    let lake = match Lake::open(url) {
        Ok(lake) => lake,
        Err(e) => {
            let failed = vec![Check::fail(
                HOP,
                format!("opening {}", describe_lake(url)),
                e.to_string(),
                "set LAKE_URL (and for Azure AZURE_STORAGE_ACCOUNT_NAME, with the app's identity granted Storage Blob Data Contributor)",
            )];
            return (failed, None);
        }
    };
    let probe = object_store::path::Path::from(format!("_doctor/probe-{}.txt", crate::pipeline::run_id()));
    let what = format!("write, read, list and delete a probe in {}", describe_lake(url));
    let result: Result<(), String> = async {
        use futures::TryStreamExt;
        use object_store::ObjectStoreExt;
        let store = lake.store();
        let body = b"twitch-pipeline doctor probe".to_vec();
        store
            .put(&probe, body.clone().into())
            .await
            .map_err(|e| format!("write: {e}"))?;
        let read = store
            .get(&probe)
            .await
            .map_err(|e| format!("read: {e}"))?
            .bytes()
            .await
            .map_err(|e| format!("read: {e}"))?;
        if read.as_ref() != body.as_slice() {
            return Err("read back other bytes than were written".into());
        }
        let listed: Vec<_> = store
            .list(Some(&object_store::path::Path::from("_doctor")))
            .try_collect()
            .await
            .map_err(|e| format!("list: {e}"))?;
        if !listed.iter().any(|m| m.location == probe) {
            return Err("the probe is not listed".into());
        }
        store.delete(&probe).await.map_err(|e| format!("delete: {e}"))?;
        Ok(())
    }
    .await;
    let mut checks = vec![match result {
        Ok(()) => Check::pass(HOP, what, "done, and the probe removed"),
        Err(e) => Check::fail(
            HOP,
            what,
            e,
            "the container must exist (Bicep creates it) and the identity in use must hold Storage Blob Data Contributor on it",
        ),
    }];
    if !checks[0].ok {
        return (checks, None);
    }
    match lake.committed_slots().await {
        Ok(slots) => {
            checks.push(Check::pass(
                HOP,
                "committed slots",
                match slots.last() {
                    Some(last) => format!("{}, the last {last}", slots.len()),
                    None => "none yet: the first timer run commits one".into(),
                },
            ));
            let newest = slots.last().copied();
            (checks, Some(LakeSeen { lake, newest }))
        }
        Err(e) => {
            checks.push(Check::fail(
                HOP,
                "committed slots",
                e.to_string(),
                "the lake's manifests must be readable",
            ));
            (checks, None)
        }
    }
}

fn describe_lake(url: &LakeUrl) -> String {
    match url {
        LakeUrl::Local(path) => format!("the folder {}", path.display()),
        LakeUrl::Azure { container, prefix } if prefix.is_empty() => format!("container `{container}`"),
        LakeUrl::Azure { container, prefix } => format!("container `{container}`, prefix `{prefix}/`"),
    }
}

/// Snowflake's checks; `lake` is the lake's URL and what its checks found, when they
/// could list it.
async fn check_snowflake(
    settings: &SnowflakeSettings,
    lake: Option<(&LakeUrl, &LakeSeen)>,
    storage_account: Option<&str>,
    project: Option<&crate::transform::ProjectSettings>,
) -> Vec<Check> {
    const HOP: &str = "snowflake";
    let who = format!(
        "login as {} (role {})",
        settings.user,
        settings.role.as_deref().unwrap_or("the user's default")
    );
    let mut session = match SnowflakeWarehouse::connect(settings, "twitch-pipeline doctor").await {
        Ok(session) => session,
        Err(e) => {
            return vec![Check::fail(
                HOP,
                who,
                e.to_string(),
                "the user needs the public key of SNOWFLAKE_PRIVATE_KEY (RSA_PUBLIC_KEY or _2) and the role granted: run snowflake-setup --apply",
            )];
        }
    };
    let mut checks = vec![Check::pass(HOP, who, "logged in")];

    checks.push(check_temporary_table(&mut session, settings, project).await);

    for (entity, state) in sorted(pipe_states(&mut session, &settings.database).await) {
        let pipe = pipe_for(&settings.database, entity);
        let what = format!("pipe {pipe}");
        checks.push(match state {
            PipeState::Running => match operate_granted(&mut session, &pipe, settings.role.as_deref()).await {
                Ok(detail) => Check::pass(HOP, what, detail),
                Err(detail) => Check::fail(
                    HOP,
                    what,
                    detail,
                    "grant the role OPERATE and MONITOR on the pipe: run snowflake-setup --apply",
                ),
            },
            PipeState::Stopped { state, error, .. } => Check::fail(
                HOP,
                what,
                format!("{state}{}", error.map(|e| format!(": {e}")).unwrap_or_default()),
                "run snowflake-setup --apply, which resumes a paused pipe",
            ),
            PipeState::Unreadable { error, .. } => Check::fail(
                HOP,
                what,
                error,
                "the pipe must exist and the role hold MONITOR and OPERATE on it: run snowflake-setup --apply",
            ),
        });
    }

    match crate::snowpipe::SnowpipeClient::new(settings, Default::default()) {
        Ok(snowpipe) => {
            let pipe = pipe_for(&settings.database, Entity::Streams);
            checks.push(match snowpipe.insert_report(&pipe).await {
                Ok(_) => Check::pass(HOP, "Snowpipe's REST API with the key-pair JWT", "insertReport answered"),
                Err(e) => Check::fail(
                    HOP,
                    "Snowpipe's REST API with the key-pair JWT",
                    e.to_string(),
                    "the user's RSA_PUBLIC_KEY must be the public half of SNOWFLAKE_PRIVATE_KEY (DESC USER shows its RSA_PUBLIC_KEY_FP)",
                ),
            });
        }
        Err(e) => checks.push(Check::fail(
            HOP,
            "Snowpipe's REST API with the key-pair JWT",
            e.to_string(),
            "SNOWFLAKE_PRIVATE_KEY must be an unencrypted PKCS#8 RSA key",
        )),
    }

    if let Some((url, seen)) = lake {
        if let LakeUrl::Azure { container, prefix } = url {
            checks.push(check_stage(&mut session, &settings.database, container, prefix, storage_account).await);
        }
        checks.extend(check_staged_files(&mut session, &settings.database, seen).await);
    }
    checks
}

/// What the stage sees of the lake's newest committed slot: its manifest among
/// `LIST @stage`'s files, and the `METADATA$FILENAME` Snowflake gives its streams
/// file, which `status` must match to the manifest's path (`lake_path`).
async fn check_staged_files(session: &mut SnowflakeWarehouse, database: &str, seen: &LakeSeen) -> Vec<Check> {
    const HOP: &str = "snowflake";
    let stage = crate::ingest::stage_for(database);
    let newest = match seen.newest {
        Some(slot) => slot,
        None => {
            return vec![Check::pass(
                HOP,
                format!("LIST @{stage}"),
                "nothing committed yet to look for: run doctor again after the first slot",
            )];
        }
    };
    let manifest = crate::lake::manifest_path(newest).to_string();
    let mut checks = Vec::new();
    let what = format!("LIST @{stage} sees the newest committed manifest");
    checks.push(match session.query(&format!("list @{stage}/_manifests/")).await {
        Ok(table) => {
            let names: Vec<&str> = table.rows.iter().filter_map(|r| r.first()?.as_deref()).collect();
            if names.iter().any(|name| name.ends_with(&format!("/{manifest}"))) {
                Check::pass(HOP, what, format!("{manifest} among {} file(s)", names.len()))
            } else {
                Check::fail(
                    HOP,
                    what,
                    format!("{manifest} is not among the {} file(s) it lists", names.len()),
                    "the stage must read the lake (its URL and LAKE_URL), and the storage integration's app must hold Storage Blob Data Reader on the account",
                )
            }
        }
        Err(e) => Check::fail(
            HOP,
            what,
            e.message,
            "the role needs USAGE on the stage, and the storage integration its consent: run snowflake-setup --apply (infra/README.md, step 3)",
        ),
    });
    let what = "METADATA$FILENAME of a staged file against the manifest's path".to_string();
    let committed = match seen.lake.manifest(newest).await {
        Ok(Some(committed)) => committed,
        Ok(None) => return checks,
        Err(e) => {
            checks.push(Check::fail(
                HOP,
                what,
                format!("the newest manifest, {manifest}, cannot be read: {e}"),
                "status names the slot UNREADABLE; the extraction must write manifests this version reads",
            ));
            return checks;
        }
    };
    let Some(file) = committed.file(Entity::Streams) else {
        return checks;
    };
    checks.push(
        match session
            .query(&format!("select metadata$filename from @{stage}/{} limit 1", file.path))
            .await
        {
            Ok(table) => match table.scalar() {
                Some(name) if crate::lake::lake_path(name) == file.path => {
                    Check::pass(HOP, what, format!("`{name}` matches `{}`", file.path))
                }
                other => Check::fail(
                    HOP,
                    what,
                    format!("Snowflake names `{}` `{}`", file.path, other.unwrap_or("nothing")),
                    "status and the resubmission match RAW's file names to the manifest's paths: report this with both names",
                ),
            },
            Err(e) => Check::fail(
                HOP,
                what,
                e.message,
                "the role needs USAGE on the stage and its file format: run snowflake-setup --apply",
            ),
        },
    );
    checks
}

/// A temporary table where the transform makes them: in its models' schema (the
/// fact's, for the app's project and target; the session's without a project). A
/// schema no transform has made yet passes if the role may create it, which
/// `snowflake-setup` grants (CREATE SCHEMA on the database).
async fn check_temporary_table(
    session: &mut SnowflakeWarehouse,
    settings: &SnowflakeSettings,
    project: Option<&crate::transform::ProjectSettings>,
) -> Check {
    const HOP: &str = "snowflake";
    let schema = match project {
        Some(project) => match crate::pipeline::marts(project, session).await {
            Ok(marts) => marts
                .fact_stream_snapshots
                .rsplit_once('.')
                .map(|(schema, _)| schema.to_string())
                .unwrap_or_else(|| settings.schema.clone()),
            Err(e) => {
                return Check::fail(
                    HOP,
                    "the transform's schemas",
                    format!("{e:#}"),
                    "set TRANSFORM_PROJECT_DIR and TRANSFORM_TARGET_NAME as the app has them",
                );
            }
        },
        None => settings.schema.clone(),
    };
    let qualified = if schema.contains('.') {
        schema.clone()
    } else {
        format!("{}.{schema}", settings.database)
    };
    let scratch = format!("{qualified}.TWITCH_PIPELINE_DOCTOR_{:08X}", rand::random::<u32>());
    let what = format!("a temporary table in {qualified}, where the transform makes them");
    match session
        .execute(&format!("create temporary table {scratch} (probe integer)"))
        .await
    {
        Ok(()) => {
            let _ = session.execute(&format!("drop table if exists {scratch}")).await;
            Check::pass(HOP, what, "created and dropped")
        }
        Err(e) if e.message.contains("does not exist") && may_create_schemas(session, settings).await => Check::pass(
            HOP,
            what,
            "the schema is not made yet (no transform has run), and the role may create it",
        ),
        Err(e) => Check::fail(
            HOP,
            what,
            e.message,
            "the role needs USAGE and CREATE SCHEMA on the database (it makes and owns the model schemas): run snowflake-setup --apply",
        ),
    }
}

/// Whether the session's role holds CREATE SCHEMA on its database (SHOW GRANTS TO ROLE).
async fn may_create_schemas(session: &mut SnowflakeWarehouse, settings: &SnowflakeSettings) -> bool {
    let Some(role) = settings.role.clone() else {
        return false;
    };
    let Ok(grants) = session.query(&format!("show grants to role {role}")).await else {
        return false;
    };
    let (Some(privilege), Some(on), Some(name)) = (
        grants.column("privilege"),
        grants.column("granted_on"),
        grants.column("name"),
    ) else {
        return false;
    };
    grants.rows.iter().any(|row| {
        let cell = |i: usize| row.get(i).cloned().flatten().unwrap_or_default();
        cell(privilege) == "CREATE SCHEMA"
            && cell(on) == "DATABASE"
            && cell(name).eq_ignore_ascii_case(&settings.database)
    })
}

/// Whether the session's role holds OPERATE on `pipe` (or owns it), from
/// `SHOW GRANTS ON PIPE`.
async fn operate_granted(session: &mut SnowflakeWarehouse, pipe: &str, role: Option<&str>) -> Result<String, String> {
    let role = match role {
        Some(role) => role.to_ascii_uppercase(),
        None => session
            .query("select current_role()")
            .await
            .ok()
            .and_then(|t| t.scalar().map(str::to_ascii_uppercase))
            .unwrap_or_default(),
    };
    let grants = session
        .query(&format!("show grants on pipe {pipe}"))
        .await
        .map_err(|e| e.message)?;
    let (Some(privilege), Some(grantee)) = (grants.column("privilege"), grants.column("grantee_name")) else {
        return Err("SHOW GRANTS gave no privilege and grantee_name columns".into());
    };
    let held: Vec<String> = grants
        .rows
        .iter()
        .filter(|r| {
            r.get(grantee)
                .cloned()
                .flatten()
                .is_some_and(|g| g.eq_ignore_ascii_case(&role))
        })
        .filter_map(|r| r.get(privilege).cloned().flatten())
        .collect();
    if held.iter().any(|p| p == "OPERATE" || p == "OWNERSHIP") {
        Ok(format!("RUNNING; role {role} holds {}", held.join(", ")))
    } else {
        Err(format!(
            "RUNNING, but role {role} holds {} on it: insertFiles needs OPERATE",
            if held.is_empty() {
                "nothing".to_string()
            } else {
                held.join(", ")
            }
        ))
    }
}

/// The stage's URL (SHOW STAGES' `url`) against the lake's container and prefix: a
/// stage elsewhere loads nothing the pipeline commits.
async fn check_stage(
    session: &mut SnowflakeWarehouse,
    database: &str,
    container: &str,
    prefix: &str,
    storage_account: Option<&str>,
) -> Check {
    const HOP: &str = "snowflake";
    let stage = crate::ingest::stage_for(database);
    let what = format!("stage {stage} against LAKE_URL");
    let url = match session
        .query(&format!(
            "show stages like 'LAKE' in schema {database}.{}",
            crate::ingest::RAW_SCHEMA
        ))
        .await
    {
        Ok(table) => {
            let url = table.column("url");
            url.and_then(|i| table.rows.first().and_then(|r| r.get(i).cloned().flatten()))
        }
        Err(e) => {
            return Check::fail(
                HOP,
                what,
                e.message,
                "the role needs USAGE on the stage: run snowflake-setup --apply",
            );
        }
    };
    let Some(url) = url else {
        return Check::fail(HOP, what, "no such stage", "run snowflake-setup --apply");
    };
    let expected =
        crate::snowflake_setup::SetupPlan::lake_location(storage_account.unwrap_or("ACCOUNT"), container, prefix);
    // Below the host: the container and prefix, which the lake's paths are relative to.
    let below_host = |u: &str| {
        u.split_once(".blob.core.windows.net/")
            .map(|(_, rest)| rest.trim_end_matches('/').to_string())
    };
    let same_place = below_host(&url) == below_host(&expected);
    let same_account =
        storage_account.is_none_or(|account| url.contains(&format!("://{account}.blob.core.windows.net/")));
    if same_place && same_account {
        Check::pass(HOP, what, format!("{url} is the lake"))
    } else {
        Check::fail(
            HOP,
            what,
            format!("the stage reads {url}, the lake is {expected}"),
            "LAKE_URL (az://CONTAINER/PREFIX) and snowflake-setup's --lake must name the same place: the pipes load only what the stage sees",
        )
    }
}

fn sorted(states: std::collections::HashMap<Entity, PipeState>) -> Vec<(Entity, PipeState)> {
    Entity::ALL
        .into_iter()
        .filter_map(|entity| states.get(&entity).cloned().map(|s| (entity, s)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_check_is_one_line_with_its_fix_when_it_failed() {
        let passed = Check::pass("lake", "a probe", "done");
        assert_eq!(passed.line(), "✓ lake: a probe: done");
        let failed = Check::fail("snowflake", "pipe P", "PAUSED", "run snowflake-setup --apply");
        assert_eq!(
            failed.line(),
            "✗ snowflake: pipe P: PAUSED — fix: run snowflake-setup --apply"
        );
        let json = serde_json::to_value(&passed).unwrap();
        assert!(json.get("fix").is_none() && json["ok"] == true, "{json}");
    }
}
