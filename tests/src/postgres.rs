//! A throwaway PostgreSQL 15 server on loopback for oracle tests: `initdb` into a fresh
//! temporary directory, `postgres` on a free port with its socket in that directory, and
//! `pg_ctl stop -m immediate` plus removal of the directory when dropped.
//!
//! PostgreSQL refuses to run as root, so when the test runs as root the server binaries run
//! as the `postgres` OS user (Debian's package creates it) and the directory is handed to
//! that user.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::free_port;

/// Where Debian installs the PostgreSQL 15 server binaries; `$EDDY_PG_BIN` overrides.
pub fn postgres_bin_dir() -> PathBuf {
    std::env::var("EDDY_PG_BIN").map(PathBuf::from).unwrap_or_else(|_| PathBuf::from("/usr/lib/postgresql/15/bin"))
}

/// Session settings every oracle database gets, so PostgreSQL prints values the way Eddy
/// does: UTC, ISO dates, shortest exact floats.
pub const ORACLE_SETTINGS: [(&str, &str); 3] =
    [("TimeZone", "UTC"), ("DateStyle", "ISO, MDY"), ("extra_float_digits", "1")];

/// A running PostgreSQL server, stopped and deleted when dropped.
pub struct PostgresProcess {
    pub port: u16,
    dir: PathBuf,
    bin: PathBuf,
    as_postgres_user: bool,
}

impl PostgresProcess {
    /// Runs `initdb` into a fresh temporary directory and starts the server on a free
    /// loopback port, waiting until it accepts connections.
    pub fn start() -> anyhow::Result<Self> {
        Self::start_with(&postgres_bin_dir(), &[])
    }

    /// Like [`start`](Self::start), with the server binaries in `bin` and extra server
    /// `settings` (`-c name=value`), e.g. memory sizes for a benchmark.
    pub fn start_with(bin: &Path, settings: &[(&str, &str)]) -> anyhow::Result<Self> {
        let bin = bin.to_path_buf();
        if !bin.join("postgres").exists() {
            anyhow::bail!("PostgreSQL 15 is not installed at {} (apt-get install postgresql-15)", bin.display());
        }
        let port = free_port()?;
        let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
        let dir = std::env::temp_dir().join(format!("eddy-pg-{}-{port}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        let as_postgres_user = std::fs::metadata("/proc/self")?.uid() == 0;
        // From here on Drop cleans up whatever was created.
        let pg = PostgresProcess { port, dir, bin, as_postgres_user };
        if as_postgres_user {
            check(Command::new("chown").args(["-R", "postgres:postgres"]).arg(&pg.dir).output()?, "chown")?;
        }
        let data = pg.data_dir();
        let initdb = pg
            .pg_command("initdb")
            .arg("-D")
            .arg(&data)
            .args(["-U", "postgres", "--auth=trust", "--encoding=UTF8", "--locale=C", "--no-sync"])
            .output()?;
        check(initdb, "initdb")?;
        let mut options = format!("-c listen_addresses=127.0.0.1 -p {port} -k {} -c fsync=off -c synchronous_commit=off -c full_page_writes=off", pg.dir.display());
        for (name, value) in ORACLE_SETTINGS.iter().chain(settings) {
            options.push_str(&format!(" -c {name}='{value}'"));
        }
        let start = pg
            .pg_command("pg_ctl")
            .arg("-D")
            .arg(&data)
            .arg("-l")
            .arg(pg.log_file())
            .args(["-o", &options, "-w", "-t", "60", "start"])
            .output()?;
        if let Err(e) = check(start, "pg_ctl start") {
            let log = std::fs::read_to_string(pg.log_file()).unwrap_or_default();
            anyhow::bail!("{e}\nserver log:\n{log}");
        }
        Ok(pg)
    }

    /// Connection string for `dbname` as the `postgres` superuser.
    pub fn connection_string(&self, dbname: &str) -> String {
        format!("host=127.0.0.1 port={} user=postgres dbname={dbname}", self.port)
    }

    /// Connects with tokio-postgres; the connection task runs in the background.
    pub async fn connect(&self, dbname: &str) -> anyhow::Result<tokio_postgres::Client> {
        let (client, conn) = tokio_postgres::connect(&self.connection_string(dbname), tokio_postgres::NoTls).await?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        Ok(client)
    }

    /// Creates database `name` (dropping an older one of that name) with
    /// [`ORACLE_SETTINGS`] as its defaults, and connects to it.
    pub async fn create_oracle_database(&self, name: &str) -> anyhow::Result<tokio_postgres::Client> {
        let admin = self.connect("postgres").await?;
        admin.batch_execute(&format!("DROP DATABASE IF EXISTS {name}")).await?;
        admin
            .batch_execute(&format!(
                "CREATE DATABASE {name} TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C'"
            ))
            .await?;
        for (setting, value) in ORACLE_SETTINGS {
            admin.batch_execute(&format!("ALTER DATABASE {name} SET {setting} = '{value}'")).await?;
        }
        self.connect(name).await
    }

    fn data_dir(&self) -> PathBuf {
        self.dir.join("data")
    }

    fn log_file(&self) -> PathBuf {
        self.dir.join("postgres.log")
    }

    /// A command running server binary `name`, as the `postgres` user when we are root.
    fn pg_command(&self, name: &str) -> Command {
        let program = self.bin.join(name);
        let mut cmd = if self.as_postgres_user {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(program);
            c
        } else {
            Command::new(program)
        };
        cmd.current_dir(&self.dir);
        cmd
    }
}

impl Drop for PostgresProcess {
    fn drop(&mut self) {
        if self.data_dir().join("postmaster.pid").exists() {
            let _ = self
                .pg_command("pg_ctl")
                .arg("-D")
                .arg(self.data_dir())
                .args(["-m", "immediate", "-w", "stop"])
                .output();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn check(output: Output, what: &str) -> anyhow::Result<()> {
    if output.status.success() {
        return Ok(());
    }
    anyhow::bail!(
        "{what} failed ({}):\n{}{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}
