//! Shared helpers for Eddy's end-to-end tests: start a real `eddy` process on a free
//! loopback port and connect to it over pgwire.

pub mod compare;
pub mod kafka;
pub mod postgres;
pub mod registry;
pub mod rng;
pub mod subscription;

use anyhow::Context;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running `eddy` server on a free loopback port, with its own data directory and log
/// file; stopped (SIGTERM, then SIGKILL) and its directory removed when dropped.
pub struct EddyProcess {
    child: Child,
    pub port: u16,
    dir: PathBuf,
    /// How it was started, for [`EddyProcess::restart`].
    command: Vec<std::ffi::OsString>,
    env: Vec<(String, String)>,
}

impl EddyProcess {
    /// Starts the `eddy` under test (see [`eddy_binary`]) with `workers` timely workers.
    pub fn start(workers: usize) -> anyhow::Result<Self> {
        Self::start_with(&eddy_binary(), workers)
    }

    /// Starts the `eddy` binary `bin` and waits until it accepts connections.
    pub fn start_with(bin: &Path, workers: usize) -> anyhow::Result<Self> {
        Self::start_custom(bin, workers, &[], &[])
    }

    /// Starts `bin` with extra environment variables (for `CREATE SECRET ... AS 'env:VAR'`)
    /// and extra flags.
    pub fn start_custom(bin: &Path, workers: usize, env: &[(&str, &str)], args: &[String]) -> anyhow::Result<Self> {
        if !bin.exists() {
            anyhow::bail!("no eddy binary at {} (build it: cargo build --bin eddy)", bin.display());
        }
        let port = free_port()?;
        let dir = std::env::temp_dir().join(format!("eddy-test-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        let mut command: Vec<std::ffi::OsString> = vec![bin.into()];
        for a in ["--listen", &format!("127.0.0.1:{port}"), "--workers", &workers.to_string()] {
            command.push(a.into());
        }
        // A data directory of its own unless the caller chose one (or none).
        if !args.iter().any(|a| a == "--data-dir" || a == "--ephemeral") {
            command.push("--data-dir".into());
            command.push(dir.join("data").into());
        }
        command.extend(args.iter().map(Into::into));
        let env: Vec<(String, String)> = env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let child = spawn(&command, &env, &dir)?;
        let mut process = EddyProcess { child, port, dir, command, env };
        process.wait_ready()?;
        Ok(process)
    }

    /// Kills the server with SIGKILL (no chance to flush or clean up) and waits for it.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Starts the server again, same port, flags and data directory (after [`Self::kill`]).
    pub fn restart(&mut self) -> anyhow::Result<()> {
        self.kill();
        self.child = spawn(&self.command, &self.env, &self.dir)?;
        self.wait_ready()
    }

    /// The server's data directory.
    pub fn data_dir(&self) -> PathBuf {
        let given = self.command.iter().position(|a| a == "--data-dir").and_then(|i| self.command.get(i + 1));
        given.map_or_else(|| self.dir.join("data"), PathBuf::from)
    }

    fn wait_ready(&mut self) -> anyhow::Result<()> {
        let port = self.port;
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Some(status) = self.child.try_wait()? {
                anyhow::bail!("eddy exited at startup ({status}):\n{}", self.log_tail());
            }
            if Instant::now() > deadline {
                anyhow::bail!("eddy did not start listening on 127.0.0.1:{port} within 30 s");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(())
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn connection_string(&self) -> String {
        format!("host=127.0.0.1 port={} user=eddy dbname=eddy", self.port)
    }

    /// Connects with tokio-postgres; the connection task runs in the background. A
    /// connection refused or reset right after the server started listening (seen on a
    /// machine busy with parallel tests) is retried for a few seconds; a server error is not.
    pub async fn connect(&self) -> anyhow::Result<tokio_postgres::Client> {
        let deadline = Instant::now() + Duration::from_secs(10);
        let (client, conn) = loop {
            match tokio_postgres::connect(&self.connection_string(), tokio_postgres::NoTls).await {
                Ok(pair) => break pair,
                Err(e) if e.as_db_error().is_none() && Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(e) => {
                    return Err(e).with_context(|| {
                        format!("connecting to eddy on port {}; its log ends:\n{}", self.port, self.log_tail())
                    })
                }
            }
        };
        tokio::spawn(async move {
            let _ = conn.await;
        });
        Ok(client)
    }

    /// The last lines of the server's log, for error messages.
    pub fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(self.dir.join("eddy.log")).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }

    /// Stops the server and removes its directory.
    pub fn stop(&mut self) {
        self.stop_keeping_data();
        let _ = std::fs::remove_dir_all(&self.dir);
    }

    /// Stops the server (SIGTERM, and SIGKILL if it has not exited after 10 seconds),
    /// keeping its data directory for [`Self::restart`].
    pub fn stop_keeping_data(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status();
            let deadline = Instant::now() + Duration::from_secs(10);
            while let Ok(None) = self.child.try_wait() {
                if Instant::now() > deadline {
                    let _ = self.child.kill();
                    let _ = self.child.wait();
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }
}

impl Drop for EddyProcess {
    fn drop(&mut self) {
        // A failing test shows what the server said before its log file goes.
        if std::thread::panicking() {
            eprintln!("eddy log (last lines):\n{}", self.log_tail());
        }
        self.stop();
    }
}

/// Starts `command` with `env`, appending its stderr to `dir`/eddy.log.
fn spawn(command: &[std::ffi::OsString], env: &[(String, String)], dir: &Path) -> anyhow::Result<Child> {
    let log = std::fs::OpenOptions::new().create(true).append(true).open(dir.join("eddy.log"))?;
    Command::new(&command[0])
        .args(&command[1..])
        .env("RUST_LOG", "warn")
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .map_err(|e| anyhow::anyhow!("cannot start {:?}: {e}", command[0]))
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
    // Tests in one binary run in parallel and some restart a server on its port: a port
    // handed out once is never handed out again here, or a test could pick a port another
    // test's server is about to take back after a kill.
    static HANDED_OUT: std::sync::Mutex<Vec<u16>> = std::sync::Mutex::new(Vec::new());
    loop {
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let mut handed_out = HANDED_OUT.lock().unwrap_or_else(|e| e.into_inner());
        if !handed_out.contains(&port) {
            handed_out.push(port);
            return Ok(port);
        }
    }
}

/// Query results as text cells (`None` for NULL), as the simple protocol gives them.
pub type Rows = Vec<Vec<Option<String>>>;

/// Runs `sql` with the simple protocol and returns its rows as text.
pub async fn rows(client: &tokio_postgres::Client, sql: &str) -> anyhow::Result<Rows> {
    let mut out = Vec::new();
    for m in client.simple_query(sql).await? {
        if let tokio_postgres::SimpleQueryMessage::Row(r) = m {
            out.push((0..r.len()).map(|i| r.get(i).map(str::to_string)).collect());
        }
    }
    Ok(out)
}

/// Polls `sql` until it returns `expected` (60 s at most), returning what it last saw.
pub async fn wait_for(client: &tokio_postgres::Client, sql: &str, expected: &Rows) -> anyhow::Result<Rows> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let got = rows(client, sql).await?;
        if &got == expected || Instant::now() > deadline {
            return Ok(got);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// One expected row of text cells; `"NULL"` stands for NULL.
pub fn row(cells: &[&str]) -> Vec<Option<String>> {
    cells.iter().map(|c| if *c == "NULL" { None } else { Some(c.to_string()) }).collect()
}
