//! A local fake of Snowpipe's REST API that checks what the real one checks: the
//! JWT's RS256 signature against the user's public key, its claims, the token type
//! header, the request id, the body and the 5,000-file limit.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rsa::pkcs1v15::{Signature, VerifyingKey};
use rsa::pkcs8::{EncodePrivateKey, EncodePublicKey, LineEnding};
use rsa::signature::Verifier;
use rsa::{RsaPrivateKey, RsaPublicKey};
use sha2::{Digest, Sha256};
use twitch_pipeline::retry::Backoff;
use twitch_pipeline::snowpipe::{SnowpipeClient, SnowpipeOptions};
use twitch_pipeline::warehouse::SnowflakeSettings;

/// One call the fake accepted.
#[derive(Debug, Clone)]
pub struct Call {
    pub pipe: String,
    pub request_id: String,
    pub files: Vec<String>,
}

#[derive(Default)]
pub struct Fake {
    pub public_key: Option<RsaPublicKey>,
    pub calls: Vec<Call>,
    /// Statuses to answer before accepting, one per request.
    pub failures: VecDeque<u16>,
    pub attempts: usize,
}

pub type Shared = Arc<Mutex<Fake>>;

/// Checks the bearer JWT as Snowflake does; the reason it is refused, if it is.
fn check_jwt(fake: &Fake, headers: &HeaderMap) -> Result<(), String> {
    verify_jwt(fake.public_key.as_ref().unwrap(), headers)
}

/// Checks a key-pair JWT against the user's public key, as Snowflake does: the token
/// type header, RS256, the signature, the claims (user TESTACCOUNT.PIPELINE).
pub fn verify_jwt(public_key: &RsaPublicKey, headers: &HeaderMap) -> Result<(), String> {
    if headers
        .get("X-Snowflake-Authorization-Token-Type")
        .and_then(|v| v.to_str().ok())
        != Some("KEYPAIR_JWT")
    {
        return Err("missing X-Snowflake-Authorization-Token-Type: KEYPAIR_JWT".into());
    }
    let token = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or("no bearer token")?;
    let parts: Vec<&str> = token.split('.').collect();
    let [header, claims, signature] = parts.as_slice() else {
        return Err("not a JWT".into());
    };
    let header: serde_json::Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).unwrap()).unwrap();
    if header["alg"] != "RS256" {
        return Err(format!("alg {}", header["alg"]));
    }
    let verifier = VerifyingKey::<Sha256>::new(public_key.clone());
    let signature =
        Signature::try_from(URL_SAFE_NO_PAD.decode(signature).unwrap().as_slice()).map_err(|e| e.to_string())?;
    verifier
        .verify(format!("{}.{}", parts[0], parts[1]).as_bytes(), &signature)
        .map_err(|e| format!("bad signature: {e}"))?;
    let claims: serde_json::Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(claims).unwrap()).unwrap();
    let subject = "TESTACCOUNT.PIPELINE";
    if claims["sub"] != subject {
        return Err(format!("sub {}", claims["sub"]));
    }
    // The issuer names the key by the fingerprint Snowflake keeps of the registered
    // public key (RSA_PUBLIC_KEY_FP: "SHA256:" and the base64 of the SHA-256 of its
    // DER SubjectPublicKeyInfo, "Key-pair authentication", docs.snowflake.com); a
    // token naming another key is refused even when its signature checks.
    let der = public_key.to_public_key_der().map_err(|e| e.to_string())?;
    let fingerprint = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(der.as_bytes()));
    let iss = claims["iss"].as_str().unwrap_or_default();
    if iss != format!("{subject}.SHA256:{fingerprint}") {
        return Err(format!("iss {iss}: not the registered key's fingerprint"));
    }
    let (iat, exp) = (claims["iat"].as_i64().unwrap(), claims["exp"].as_i64().unwrap());
    let now = chrono::Utc::now().timestamp();
    if exp - iat > 3_600 || exp <= now || iat > now + 60 {
        return Err(format!("iat {iat} exp {exp}"));
    }
    Ok(())
}

async fn insert_files(
    State(fake): State<Shared>,
    Path(pipe): Path<String>,
    Query(query): Query<std::collections::HashMap<String, String>>,
    headers: HeaderMap,
    Json(body): Json<serde_json::Value>,
) -> (StatusCode, Json<serde_json::Value>) {
    let mut fake = fake.lock().unwrap();
    fake.attempts += 1;
    if let Err(reason) = check_jwt(&fake, &headers) {
        return (StatusCode::UNAUTHORIZED, Json(serde_json::json!({ "message": reason })));
    }
    if let Some(status) = fake.failures.pop_front() {
        return (
            StatusCode::from_u16(status).unwrap(),
            Json(serde_json::json!({ "message": "scripted failure" })),
        );
    }
    let request_id = query.get("requestId").cloned().unwrap_or_default();
    assert!(
        uuid::Uuid::parse_str(&request_id).is_ok(),
        "requestId {request_id:?} is a UUID"
    );
    let files: Vec<String> = body["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap().to_string())
        .collect();
    if files.len() > 5_000 {
        return (
            StatusCode::BAD_REQUEST,
            Json(serde_json::json!({ "message": "too many files" })),
        );
    }
    fake.calls.push(Call {
        pipe,
        request_id: request_id.clone(),
        files,
    });
    (
        StatusCode::OK,
        Json(serde_json::json!({ "requestId": request_id, "responseCode": "SUCCESS" })),
    )
}

async fn insert_report(State(fake): State<Shared>, headers: HeaderMap) -> (StatusCode, Json<serde_json::Value>) {
    let fake = fake.lock().unwrap();
    if let Err(reason) = check_jwt(&fake, &headers) {
        return (StatusCode::UNAUTHORIZED, Json(serde_json::json!({ "message": reason })));
    }
    let files: Vec<_> = fake
        .calls
        .iter()
        .flat_map(|c| c.files.iter())
        .map(|f| serde_json::json!({"path": f, "status": "LOADED"}))
        .collect();
    (
        StatusCode::OK,
        Json(serde_json::json!({ "files": files, "completeResult": true })),
    )
}

/// The fake on a free port, and a client of it with fast retries.
pub async fn fake_snowpipe() -> (Shared, SnowpipeClient) {
    let (fake, settings) = fake_snowpipe_settings().await;
    let options = SnowpipeOptions {
        request_timeout: Duration::from_secs(5),
        backoff: Backoff {
            base: Duration::from_millis(1),
            cap: Duration::from_millis(5),
            max_retries: 3,
        },
    };
    (fake, SnowpipeClient::new(&settings, options).unwrap())
}

/// The fake on a free port, and Snowflake settings (with the key) that reach it.
pub async fn fake_snowpipe_settings() -> (Shared, SnowflakeSettings) {
    let key = RsaPrivateKey::new(&mut rsa::rand_core::OsRng, 2048).unwrap();
    let fake: Shared = Arc::new(Mutex::new(Fake {
        public_key: Some(key.to_public_key()),
        ..Default::default()
    }));
    let app = Router::new()
        .route("/v1/data/pipes/{pipe}/insertFiles", post(insert_files))
        .route("/v1/data/pipes/{pipe}/insertReport", get(insert_report))
        .route("/v1/data/pipes/{pipe}/loadHistoryScan", get(insert_report))
        .with_state(Arc::clone(&fake));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let settings = SnowflakeSettings {
        account: "testaccount".into(),
        user: "pipeline".into(),
        private_key: key.to_pkcs8_pem(LineEnding::LF).unwrap().to_string().into(),
        role: None,
        warehouse: "WH".into(),
        database: "TWITCH".into(),
        schema: "PUBLIC".into(),
        base_url: Some(format!("http://127.0.0.1:{port}").parse().unwrap()),
        statement_timeout: None,
    };
    (fake, settings)
}
