//! Shared helpers for Eddy's end-to-end tests: start a real `eddy` process on a free
//! loopback port and connect to it over pgwire.

pub mod postgres;

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running `eddy` server, killed when dropped.
pub struct EddyProcess {
    child: Child,
    pub port: u16,
    _data_dir: PathBuf,
}

impl EddyProcess {
    /// Starts `eddy` with `workers` timely workers and waits until it accepts connections.
    pub fn start(workers: usize) -> anyhow::Result<Self> {
        let port = free_port()?;
        let data_dir = std::env::temp_dir().join(format!("eddy-test-{}-{port}", std::process::id()));
        let child = Command::new(eddy_binary())
            .args(["--listen", &format!("127.0.0.1:{port}"), "--workers", &workers.to_string()])
            .arg("--data-dir")
            .arg(&data_dir)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .spawn()
            .map_err(|e| {
                anyhow::anyhow!(
                    "cannot start {}: {e} (build it first: cargo build --bin eddy)",
                    eddy_binary().display()
                )
            })?;
        let mut process = EddyProcess { child, port, _data_dir: data_dir };
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if Instant::now() > deadline {
                anyhow::bail!("eddy did not start listening on port {port}");
            }
            if let Some(status) = process.child.try_wait()? {
                anyhow::bail!("eddy exited at startup: {status}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(process)
    }

    pub fn connection_string(&self) -> String {
        format!("host=127.0.0.1 port={} user=eddy dbname=eddy", self.port)
    }

    /// Connects with tokio-postgres; the connection task runs in the background.
    pub async fn connect(&self) -> anyhow::Result<tokio_postgres::Client> {
        let (client, conn) = tokio_postgres::connect(&self.connection_string(), tokio_postgres::NoTls).await?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        Ok(client)
    }
}

impl Drop for EddyProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self._data_dir);
    }
}

/// The `eddy` binary under test: `$EDDY_BIN`, else the debug build in the target dir.
pub fn eddy_binary() -> PathBuf {
    if let Ok(p) = std::env::var("EDDY_BIN") {
        return PathBuf::from(p);
    }
    let target =
        std::env::var("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|_| manifest_dir().join("../target"));
    target.join("debug/eddy")
}

/// This crate's directory. Read at run time first (cargo sets it for tests): a test binary
/// reused from a shared target dir may have been compiled in another checkout.
pub fn manifest_dir() -> PathBuf {
    std::env::var("CARGO_MANIFEST_DIR").map(PathBuf::from).unwrap_or_else(|_| PathBuf::from(env!("CARGO_MANIFEST_DIR")))
}

pub fn free_port() -> anyhow::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}
