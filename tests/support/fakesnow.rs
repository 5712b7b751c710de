//! fakesnow (Snowflake SQL on DuckDB behind Snowflake's REST API), launched through
//! `fakesnow_json.py` so it answers in JSON rowsets; installed by `scripts/test`,
//! which sets `FAKESNOW_PYTHON`.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};

use rsa::RsaPrivateKey;
use rsa::pkcs8::{EncodePrivateKey, LineEnding};
use twitch_pipeline::warehouse::SnowflakeSettings;

use super::free_port;
use super::tools::Tool;

/// The launcher's process, stopped when the test ends; its stdout lines are kept.
pub struct FakeSnow {
    child: Child,
    pub port: u16,
    pub lines: Arc<Mutex<Vec<String>>>,
    /// The process's temporary directory, removed after it stops: fakesnow makes a
    /// folder there when imported (`fakesnow/transforms/stage.py`, LOCAL_BUCKET_PATH,
    /// `tempfile.mkdtemp`) and never removes it, which left one in /tmp per server.
    _temp: tempfile::TempDir,
}

impl Drop for FakeSnow {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The Python of fakesnow's environment, which `scripts/test` installs.
pub fn python() -> PathBuf {
    Tool::FakesnowPython.path()
}

pub async fn spawn_fakesnow(python: &Path) -> FakeSnow {
    spawn_fakesnow_with(python, &[]).await
}

/// fakesnow where statements matching `nops` succeed without effect.
pub async fn spawn_fakesnow_with(python: &Path, nops: &[&str]) -> FakeSnow {
    spawn_fakesnow_where(python, nops, &[]).await
}

/// fakesnow as [`spawn_fakesnow_with`], where a session whose schema is one of
/// `unusable` has no current schema, as a role without USAGE on it gets in Snowflake.
pub async fn spawn_fakesnow_where(python: &Path, nops: &[&str], unusable: &[&str]) -> FakeSnow {
    let port = free_port();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/fakesnow_json.py");
    let temp = tempfile::tempdir().unwrap();
    let mut child = Command::new(python)
        .arg(script)
        .arg(port.to_string())
        // Python's tempfile looks at TMPDIR first (`_candidate_tempdir_list` in
        // its tempfile.py: TMPDIR, TEMP, TMP, then /tmp).
        .env("TMPDIR", temp.path())
        .env("FAKESNOW_NOP_REGEXES", serde_json::to_string(nops).unwrap())
        .env("FAKESNOW_UNUSABLE_SCHEMAS", serde_json::to_string(unusable).unwrap())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("the fakesnow launcher starts");
    let lines = Arc::new(Mutex::new(Vec::new()));
    let stdout = child.stdout.take().unwrap();
    let sink = Arc::clone(&lines);
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            sink.lock().unwrap().push(line);
        }
    });
    let mut fakesnow = FakeSnow {
        child,
        port,
        lines,
        _temp: temp,
    };
    for _ in 0..300 {
        if let Some(status) = fakesnow.child.try_wait().unwrap() {
            panic!("the fakesnow launcher exited ({status}) before it listened; see its stderr above");
        }
        if tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
            return fakesnow;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("fakesnow did not listen on port {port} within 30 s");
}

/// Settings that reach a Snowflake at `port` (fakesnow, or a proxy in front of it),
/// with a fresh key pair.
pub fn settings(port: u16) -> SnowflakeSettings {
    let key = RsaPrivateKey::new(&mut rsa::rand_core::OsRng, 2048).unwrap();
    let pem = key.to_pkcs8_pem(LineEnding::LF).unwrap().to_string();
    SnowflakeSettings {
        account: "TESTACCOUNT".into(),
        user: "PIPELINE".into(),
        private_key: pem.into(),
        role: Some("TRANSFORMER".into()),
        warehouse: "TRANSFORMING".into(),
        database: "TWITCH".into(),
        schema: "ANALYTICS".into(),
        base_url: Some(format!("http://127.0.0.1:{port}").parse().unwrap()),
        statement_timeout: None,
    }
}
