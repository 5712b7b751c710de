//! Azurite, the Azure Blob emulator from npm, on a free loopback port.
//!
//! `scripts/test` installs it into `.tools/` and sets `AZURITE_BLOB`; a test that
//! starts it is `#[ignore = "needs Azurite …"]` (see `tools`).

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Azurite's well-known development account (public, documented by Microsoft).
pub const ACCOUNT: &str = "devstoreaccount1";
const ACCOUNT_KEY: &str = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

/// A running Azurite; killed on drop.
pub struct Azurite {
    child: Child,
    pub url: String,
}

impl Drop for Azurite {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Whether what listens on `port` is Azurite (its `Server` header), `None` while
/// nothing answers there.
fn answers_as_azurite(port: u16) -> Option<bool> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    stream
        .write_all(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        .ok()?;
    // The response's head, however it arrives, up to its end.
    let mut head = Vec::new();
    let mut chunk = [0u8; 512];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 8192 {
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => break,
            Ok(read) => head.extend_from_slice(&chunk[..read]),
        }
    }
    Some(String::from_utf8_lossy(&head).contains("Server: Azurite-Blob"))
}

impl Azurite {
    /// Starts Azurite, which `scripts/test` installs.
    pub fn start() -> Azurite {
        let binary = super::tools::Tool::Azurite.path();
        // A port free when asked may be taken by another test's server before Azurite
        // binds it: Azurite then exits, and that server answered in its place (seen
        // once in CI: the container's creation refused later). So Azurite must answer
        // as itself, or it starts again on another port.
        for _ in 0..5 {
            let port = super::free_port();
            let child = Command::new(&binary)
                .args([
                    "--inMemoryPersistence",
                    "--skipApiVersionCheck",
                    "--silent",
                    // Offline here: its telemetry could only fail.
                    "--disableTelemetry",
                    "--blobHost",
                    "127.0.0.1",
                ])
                .args(["--blobPort", &port.to_string()])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("Azurite starts");
            let mut azurite = Azurite {
                child,
                url: format!("http://127.0.0.1:{port}"),
            };
            let deadline = Instant::now() + Duration::from_secs(30);
            loop {
                if let Some(status) = azurite.child.try_wait().ok().flatten() {
                    eprintln!("Azurite exited ({status}) before it answered on port {port}; trying another port");
                    break;
                }
                match answers_as_azurite(port) {
                    Some(true) => return azurite,
                    Some(false) => {
                        eprintln!("another server answered on Azurite's port {port}; trying another port");
                        break;
                    }
                    None => {}
                }
                assert!(
                    Instant::now() < deadline,
                    "Azurite did not listen on port {port} within 30 s"
                );
                std::thread::sleep(Duration::from_millis(100));
            }
        }
        panic!("Azurite could not start on a free port in five tries");
    }

    /// `command` with its lake at `az://raw/twitch` on this Azurite, in emulator mode,
    /// as a user configures it.
    pub fn lake_env<'c>(&self, command: &'c mut std::process::Command) -> &'c mut std::process::Command {
        command
            .env("LAKE_URL", "az://raw/twitch")
            .env("AZURE_STORAGE_USE_EMULATOR", "true")
            .env("AZURITE_BLOB_STORAGE_URL", &self.url)
            .env_remove("AZURE_STORAGE_ACCOUNT_NAME")
    }

    /// Creates a container (object_store cannot): a SharedKey-signed Create Container.
    pub async fn create_container(&self, name: &str) {
        let date = chrono::Utc::now().format("%a, %d %b %Y %H:%M:%S GMT").to_string();
        let version = "2021-08-06";
        let string_to_sign = format!(
            "PUT\n\n\n\n\n\n\n\n\n\n\n\nx-ms-date:{date}\nx-ms-version:{version}\n/{ACCOUNT}/{ACCOUNT}/{name}\nrestype:container"
        );
        let mut mac = Hmac::<Sha256>::new_from_slice(&BASE64.decode(ACCOUNT_KEY).unwrap()).unwrap();
        mac.update(string_to_sign.as_bytes());
        let signature = BASE64.encode(mac.finalize().into_bytes());
        let response = reqwest::Client::new()
            .put(format!("{}/{ACCOUNT}/{name}?restype=container", self.url))
            .header("x-ms-date", date)
            .header("x-ms-version", version)
            .header("Authorization", format!("SharedKey {ACCOUNT}:{signature}"))
            .header("Content-Length", "0")
            .send()
            .await
            .unwrap();
        let status = response.status();
        assert!(
            status.is_success(),
            "create container {name}: {status} {}",
            response.text().await.unwrap()
        );
    }

    /// A store on `container` for reading back. Built from explicit settings rather
    /// than the environment (which `Lake::open` uses), since the port is chosen here;
    /// path-style URLs and SharedKey signing come out as in emulator mode.
    pub fn store(&self, container: &str) -> object_store::azure::MicrosoftAzure {
        object_store::azure::MicrosoftAzureBuilder::new()
            .with_account(ACCOUNT)
            .with_access_key(ACCOUNT_KEY)
            .with_endpoint(format!("{}/{ACCOUNT}", self.url))
            .with_allow_http(true)
            .with_container_name(container)
            .build()
            .unwrap()
    }
}
