//! The Snowpipe client against a local fake Snowpipe that checks what the real one
//! checks: the JWT's RS256 signature against the user's public key, its claims, the
//! token type header, the request id, the body and the 5,000-file limit.

use crate::support::fake_snowpipe::fake_snowpipe;
use rsa::RsaPrivateKey;
use twitch_pipeline::snowpipe::SnowpipeError;

const PIPE: &str = "TWITCH.RAW.RAW_STREAMS_PIPE";

#[tokio::test]
async fn files_go_in_signed_calls_of_at_most_5000() {
    let (fake, client) = fake_snowpipe().await;
    let paths: Vec<String> = (0..12_001)
        .map(|i| format!("streams/date=2026-11-23/streams_{i}.ndjson.gz"))
        .collect();
    let responses = client.insert_files(PIPE, &paths).await.unwrap();
    assert_eq!(responses.len(), 3);
    assert!(responses.iter().all(|r| r.response_code == "SUCCESS"));

    let calls = fake.lock().unwrap().calls.clone();
    let sizes: Vec<usize> = calls.iter().map(|c| c.files.len()).collect();
    assert_eq!(sizes, [5_000, 5_000, 2_001]);
    assert!(calls.iter().all(|c| c.pipe == PIPE));
    let sent: Vec<String> = calls.iter().flat_map(|c| c.files.clone()).collect();
    assert_eq!(sent, paths, "every path once, in order, relative to the stage");
    let mut ids: Vec<&str> = calls.iter().map(|c| c.request_id.as_str()).collect();
    ids.dedup();
    assert_eq!(ids.len(), 3, "a request id per call");

    let report = client.insert_report(PIPE).await.unwrap();
    assert_eq!(report["files"].as_array().unwrap().len(), 12_001);
}

#[tokio::test]
async fn throttling_and_server_errors_are_retried() {
    let (fake, client) = fake_snowpipe().await;
    fake.lock().unwrap().failures.extend([429, 503, 500]);
    client
        .insert_files(PIPE, &["games/date=2026-11-23/games_20261123T2000Z.ndjson.gz".into()])
        .await
        .unwrap();
    let fake = fake.lock().unwrap();
    assert_eq!((fake.attempts, fake.calls.len()), (4, 1));
}

#[tokio::test]
async fn a_refusal_is_a_configuration_error_at_once_and_persistent_5xx_gives_up() {
    let (fake, client) = fake_snowpipe().await;
    fake.lock().unwrap().failures.extend([404]);
    let error = client.insert_files(PIPE, &["x".into()]).await.unwrap_err();
    assert!(matches!(error, SnowpipeError::Refused { status: 404, .. }), "{error}");
    assert!(error.to_string().contains("Check that the pipe exists"), "{error}");
    assert_eq!(fake.lock().unwrap().attempts, 1, "no retry of a 4xx");

    fake.lock().unwrap().failures.extend([503; 10]);
    let error = client.insert_files(PIPE, &["x".into()]).await.unwrap_err();
    assert!(
        matches!(error, SnowpipeError::Unavailable { attempts: 4, .. }),
        "{error}"
    );
}

#[tokio::test]
async fn a_key_that_is_not_the_users_is_refused_by_signature() {
    let (fake, client) = fake_snowpipe().await;
    let other = RsaPrivateKey::new(&mut rsa::rand_core::OsRng, 2048).unwrap();
    fake.lock().unwrap().public_key = Some(other.to_public_key());
    let error = client.insert_files(PIPE, &["x".into()]).await.unwrap_err();
    assert!(matches!(error, SnowpipeError::Refused { status: 401, .. }), "{error}");
    assert!(
        error.to_string().contains("bad signature") && error.to_string().contains("SHA256:"),
        "{error}"
    );
}
