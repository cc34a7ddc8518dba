//! A throwaway PostgreSQL cluster started from the local server binaries.
//!
//! Used by `plan` (to test-apply DDL), by rehearsals and the demo, and by the test
//! harness. `initdb` refuses to run as root, so when lite2pg runs as root the cluster is
//! created and run as the `postgres` user. The cluster lives in a temporary directory and
//! is stopped and removed on drop; a watchdog process also stops it if this process dies
//! without unwinding (a killed test run must not leave servers behind).

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::error::{Error, Result};

/// Environment variable naming the directory holding `initdb`, `pg_ctl` and `postgres`.
pub const BIN_ENV: &str = "LITE2PG_PG_BIN";

/// A running throwaway cluster.
pub struct EmbeddedPg {
    dir: tempfile::TempDir,
    bin: PathBuf,
    port: u16,
    run_as: Option<String>,
}

/// Finds the PostgreSQL server binaries: `$LITE2PG_PG_BIN`, `pg_config --bindir`, then the
/// newest `/usr/lib/postgresql/*/bin`.
pub fn find_server_binaries() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os(BIN_ENV) {
        let dir = PathBuf::from(dir);
        return dir.join("initdb").exists().then_some(dir);
    }
    if let Ok(out) = Command::new("pg_config").arg("--bindir").output() {
        let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        if dir.join("initdb").exists() {
            return Some(dir);
        }
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let v = e.file_name().to_string_lossy().parse::<u32>().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").exists().then_some((v, bin))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, b)| b)
}

fn is_root() -> bool {
    // The effective uid, read from /proc to avoid an unsafe libc call.
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(2).map(|u| u == "0"))
        })
        .unwrap_or(false)
}

fn free_port() -> Result<u16> {
    let l = TcpListener::bind("127.0.0.1:0")
        .map_err(|e| Error::Environment(format!("cannot find a free local port: {e}")))?;
    l.local_addr()
        .map(|a| a.port())
        .map_err(|e| Error::Environment(format!("cannot find a free local port: {e}")))
}

impl EmbeddedPg {
    /// Creates and starts a cluster on a free local port.
    pub fn start() -> Result<Self> {
        let bin = find_server_binaries().ok_or_else(|| {
            Error::Environment(format!(
                "no PostgreSQL server binaries found (looked at ${BIN_ENV}, pg_config, \
                 /usr/lib/postgresql/*/bin); install the postgresql package or pass --to URL"
            ))
        })?;
        let dir = tempfile::Builder::new()
            .prefix("lite2pg-pg-")
            .tempdir()
            .map_err(|e| Error::io("creating a directory for a throwaway PostgreSQL", e))?;
        let run_as = is_root().then(|| "postgres".to_string());
        if run_as.is_some() {
            chown_postgres(dir.path())?;
        }
        let mut pg = EmbeddedPg {
            dir,
            bin,
            port: 0,
            run_as,
        };
        pg.init()?;
        for attempt in 0..5 {
            pg.port = free_port()?;
            match pg.launch() {
                Ok(()) => {
                    pg.watchdog();
                    return Ok(pg);
                }
                Err(e) if attempt == 4 => return Err(e),
                Err(_) => continue,
            }
        }
        unreachable!("the loop returns on its last attempt")
    }

    fn command(&self, program: &str) -> Command {
        let exe = self.bin.join(program);
        match &self.run_as {
            Some(user) => {
                let mut c = Command::new("runuser");
                c.arg("-u").arg(user).arg("--").arg(exe);
                c
            }
            None => Command::new(exe),
        }
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn init(&self) -> Result<()> {
        let out = self
            .command("initdb")
            .arg("-D")
            .arg(self.data())
            .args([
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
                "--locale=C.UTF-8",
                "--no-sync",
            ])
            .stdin(Stdio::null())
            .output()
            .map_err(|e| Error::Environment(format!("cannot run initdb: {e}")))?;
        if !out.status.success() {
            return Err(Error::Environment(format!(
                "initdb failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            )));
        }
        Ok(())
    }

    fn launch(&self) -> Result<()> {
        let opts = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off \
             -c full_page_writes=off -c max_connections=100",
            self.port,
            self.dir.path().display()
        );
        let log = self.dir.path().join("server.log");
        let out = self
            .command("pg_ctl")
            .arg("-D")
            .arg(self.data())
            .arg("-o")
            .arg(opts)
            .arg("-l")
            .arg(&log)
            .args(["-w", "-t", "60", "start"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .output()
            .map_err(|e| Error::Environment(format!("cannot run pg_ctl: {e}")))?;
        if !out.status.success() {
            let tail = std::fs::read_to_string(&log).unwrap_or_default();
            return Err(Error::Environment(format!(
                "throwaway PostgreSQL did not start: {}",
                tail.lines().rev().take(3).collect::<Vec<_>>().join(" | ")
            )));
        }
        Ok(())
    }

    /// Stops the cluster when this process exits, however it exits.
    fn watchdog(&self) {
        let script = format!(
            "while [ -d /proc/{pid} ]; do sleep 1; done; {ctl} -D '{data}' -m immediate stop >/dev/null 2>&1; rm -rf '{dir}'",
            pid = std::process::id(),
            ctl = self.bin.join("pg_ctl").display(),
            data = self.data().display(),
            dir = self.dir.path().display(),
        );
        let mut c = match &self.run_as {
            Some(user) => {
                let mut c = Command::new("runuser");
                c.args(["-u", user, "--", "sh", "-c", &script]);
                c
            }
            None => {
                let mut c = Command::new("sh");
                c.args(["-c", &script]);
                c
            }
        };
        let _ = c
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
    }

    /// The port the server listens on (127.0.0.1).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// A connection URL for database `db` as the superuser `postgres` (no password: trust).
    pub fn url(&self, db: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{db}", self.port)
    }

    /// Where the server binaries are.
    pub fn bin_dir(&self) -> &Path {
        &self.bin
    }

    /// The postmaster's process id, from `postmaster.pid`.
    pub fn postmaster_pid(&self) -> Result<u32> {
        let text = std::fs::read_to_string(self.data().join("postmaster.pid"))
            .map_err(|e| Error::io("reading postmaster.pid of the throwaway PostgreSQL", e))?;
        text.lines()
            .next()
            .and_then(|l| l.trim().parse().ok())
            .ok_or_else(|| Error::Environment("postmaster.pid holds no process id".into()))
    }

    /// Sends `signal` (`KILL`, `STOP`, `CONT`, ...) to the postmaster and every server
    /// process under it: a crash, a stall, a resumption, for the fault tests.
    pub fn signal(&self, signal: &str) -> Result<()> {
        let pid = self.postmaster_pid()?.to_string();
        // Children first, so a killed postmaster cannot be replaced by a running child.
        let _ = Command::new("pkill")
            .args([&format!("-{signal}"), "-P", &pid])
            .status();
        let status = Command::new("kill")
            .args([&format!("-{signal}"), &pid])
            .status()
            .map_err(|e| Error::Environment(format!("cannot run kill: {e}")))?;
        if !status.success() {
            return Err(Error::Environment(format!("kill -{signal} {pid} failed")));
        }
        Ok(())
    }

    /// A hot standby of this server: a base backup streamed by `pg_basebackup -R`, started
    /// on a port of its own (read-only; for the tests of a standby given as the target).
    pub fn standby(&self) -> Result<EmbeddedPg> {
        let dir = tempfile::Builder::new()
            .prefix("lite2pg-standby-")
            .tempdir()
            .map_err(|e| Error::io("creating a directory for a standby", e))?;
        if self.run_as.is_some() {
            chown_postgres(dir.path())?;
        }
        let mut standby = EmbeddedPg {
            dir,
            bin: self.bin.clone(),
            port: 0,
            run_as: self.run_as.clone(),
        };
        let out = self
            .command("pg_basebackup")
            .arg("-D")
            .arg(standby.data())
            // `-c fast`: a spread checkpoint made the backup wait up to minutes.
            .args([
                "-R",
                "-c",
                "fast",
                "-X",
                "stream",
                "-h",
                "127.0.0.1",
                "-U",
                "postgres",
                "-p",
            ])
            .arg(self.port.to_string())
            .stdin(Stdio::null())
            .output()
            .map_err(|e| Error::Environment(format!("cannot run pg_basebackup: {e}")))?;
        if !out.status.success() {
            return Err(Error::Environment(format!(
                "pg_basebackup failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            )));
        }
        standby.port = free_port()?;
        standby.launch()?;
        standby.watchdog();
        Ok(standby)
    }

    /// Promotes this standby to a primary (a failover), waiting until it accepts writes.
    pub fn promote(&self) -> Result<()> {
        let status = self
            .command("pg_ctl")
            .arg("-D")
            .arg(self.data())
            .args(["-w", "promote"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .status()
            .map_err(|e| Error::Environment(format!("cannot run pg_ctl: {e}")))?;
        if !status.success() {
            return Err(Error::Environment("pg_ctl promote failed".into()));
        }
        Ok(())
    }

    /// Writes `contents` to `name` in the data directory, owned by the server's user and
    /// readable by it alone (keys and certificates for the TLS tests).
    pub fn install_file(&self, name: &str, contents: &[u8]) -> Result<()> {
        let path = self.data().join(name);
        std::fs::write(&path, contents)
            .map_err(|e| Error::io(format!("writing {name} for the throwaway PostgreSQL"), e))?;
        let _ = Command::new("chmod").arg("600").arg(&path).status();
        if let Some(user) = &self.run_as {
            let _ = Command::new("chown")
                .arg(format!("{user}:"))
                .arg(&path)
                .status();
        }
        Ok(())
    }

    /// Replaces `pg_hba.conf` with `rules` and reloads (tests of password authentication).
    pub fn set_hba(&self, rules: &str) -> Result<()> {
        std::fs::write(self.data().join("pg_hba.conf"), rules)
            .map_err(|e| Error::io("writing pg_hba.conf of the throwaway PostgreSQL", e))?;
        let status = self
            .command("pg_ctl")
            .arg("-D")
            .arg(self.data())
            .arg("reload")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .status()
            .map_err(|e| Error::Environment(format!("cannot run pg_ctl: {e}")))?;
        if !status.success() {
            return Err(Error::Environment("pg_ctl reload failed".into()));
        }
        // The postmaster rereads the file on SIGHUP, asynchronously.
        std::thread::sleep(std::time::Duration::from_millis(300));
        Ok(())
    }

    /// Starts the server again on the same port and data (after a crash: with recovery).
    pub fn restart(&self) -> Result<()> {
        // Processes killed a moment ago may still hold the port or shared memory.
        let mut last = None;
        for _ in 0..20 {
            match self.launch() {
                Ok(()) => return Ok(()),
                Err(e) => last = Some(e),
            }
            std::thread::sleep(std::time::Duration::from_millis(250));
        }
        Err(last.unwrap_or_else(|| Error::Environment("the server did not restart".into())))
    }
}

impl Drop for EmbeddedPg {
    fn drop(&mut self) {
        let _ = self
            .command("pg_ctl")
            .arg("-D")
            .arg(self.data())
            .args(["-m", "immediate", "-w", "stop"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

fn chown_postgres(dir: &Path) -> Result<()> {
    let status = Command::new("chown")
        .arg("postgres:")
        .arg(dir)
        .status()
        .map_err(|e| Error::Environment(format!("cannot run chown: {e}")))?;
    if !status.success() {
        return Err(Error::Environment(
            "running as root but cannot hand the cluster directory to the `postgres` user \
             (initdb refuses to run as root); create that user or run lite2pg as another user"
                .into(),
        ));
    }
    Ok(())
}
