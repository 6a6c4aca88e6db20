//! Cluster lifecycle: initdb with data checksums, the configuration of a mode, start (as the unprivileged
//! user when we are root, inside a memory cgroup when one is given), wait until ready, and stop (fast,
//! immediate, or a crash). A [`Server`] that is dropped while running is stopped, and every running server
//! is registered with [`crate::shutdown`] so Ctrl-C stops it too.

use super::config::{ServerConfig, CONFIG_FILE};
use super::install::PgInstall;
use super::memcap::MemoryCap;
use super::os_user::ServerUser;
use crate::shutdown;
use anyhow::{bail, Context, Result};
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The database superuser every cluster is created with.
pub const SUPERUSER: &str = "postgres";

/// How long a start may take (crash recovery included) before the tool gives up.
pub const DEFAULT_START_TIMEOUT: Duration = Duration::from_secs(600);

/// A data directory belonging to one installation.
#[derive(Debug, Clone)]
pub struct Cluster {
    install: PgInstall,
    data_dir: PathBuf,
    user: Option<ServerUser>,
    memory_cap: Option<Arc<MemoryCap>>,
}

/// How a server is stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopMode {
    /// SIGINT: roll back sessions, write a shutdown checkpoint.
    Fast,
    /// SIGQUIT: end at once; the next start runs crash recovery.
    Immediate,
    /// SIGKILL to the postmaster and every backend at the same instant (all stopped first): a power failure
    /// as far as the database can tell (the OS page cache survives).
    Crash,
}

impl Cluster {
    /// Creates a new cluster in `data_dir` (which must not exist or be empty) with data checksums, trust
    /// authentication on 127.0.0.1 and the superuser [`SUPERUSER`].
    pub fn init(
        install: &PgInstall,
        data_dir: &Path,
        user: Option<&ServerUser>,
    ) -> Result<Cluster> {
        std::fs::create_dir_all(data_dir)
            .with_context(|| format!("creating {}", data_dir.display()))?;
        std::fs::set_permissions(data_dir, std::fs::Permissions::from_mode(0o700))
            .with_context(|| format!("chmod 700 {}", data_dir.display()))?;
        if let Some(user) = user {
            user.check_reachable(data_dir)?;
            user.chown(data_dir)?;
        }
        let cluster = Cluster {
            install: install.clone(),
            data_dir: data_dir.to_path_buf(),
            user: user.cloned(),
            memory_cap: None,
        };
        let out = cluster
            .command("initdb")
            .arg("-D")
            .arg(data_dir)
            .args([
                "--data-checksums",
                "--username",
                SUPERUSER,
                "--auth",
                "trust",
                "--encoding",
                "UTF8",
                "--locale",
                "C",
                "--no-sync",
                "--no-instructions",
            ])
            .output()
            .context("running initdb")?;
        if !out.status.success() {
            bail!(
                "initdb -D {} failed ({}):\n{}{}",
                data_dir.display(),
                out.status,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let conf = data_dir.join("postgresql.conf");
        let mut f = OpenOptions::new()
            .append(true)
            .open(&conf)
            .with_context(|| format!("opening {}", conf.display()))?;
        writeln!(f, "\n# The settings of the current torn-page mode, written by tornbench.\ninclude '{CONFIG_FILE}'")
            .with_context(|| format!("writing {}", conf.display()))?;
        Ok(cluster)
    }

    /// Opens an existing cluster (e.g. a copy of a golden data directory).
    pub fn open(
        install: &PgInstall,
        data_dir: &Path,
        user: Option<&ServerUser>,
    ) -> Result<Cluster> {
        if !data_dir.join("PG_VERSION").is_file() {
            bail!(
                "{} is not a PostgreSQL data directory (no PG_VERSION)",
                data_dir.display()
            );
        }
        Ok(Cluster {
            install: install.clone(),
            data_dir: data_dir.to_path_buf(),
            user: user.cloned(),
            memory_cap: None,
        })
    }

    /// The same cluster, whose servers from now on run inside `cap` (`None`: uncapped).
    pub fn with_memory_cap(mut self, cap: Option<Arc<MemoryCap>>) -> Cluster {
        self.memory_cap = cap;
        self
    }

    /// The data directory.
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// The installation whose programs run this cluster.
    pub fn install(&self) -> &PgInstall {
        &self.install
    }

    /// The OS user servers of this cluster run as (`None`: this process's user).
    pub fn user(&self) -> Option<&ServerUser> {
        self.user.as_ref()
    }

    /// A command for program `name` of the installation, run as the cluster's OS user, with libpq's
    /// environment cleared so nothing from the caller's shell leaks in.
    pub fn command(&self, name: &str) -> Command {
        let mut cmd = self.program(name);
        if let Some(user) = &self.user {
            user.apply(&mut cmd);
        }
        cmd
    }

    /// Program `name` of the installation with libpq's environment cleared, run as this process's user.
    fn program(&self, name: &str) -> Command {
        let mut cmd = Command::new(self.install.bin(name));
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("PG") {
                cmd.env_remove(key);
            }
        }
        cmd
    }

    /// The postmaster's command: as the cluster's OS user, and inside the memory cgroup if there is one
    /// (joined before exec, so no process of the server ever runs outside it).
    fn postmaster_command(&self) -> Result<Command> {
        let Some(cap) = &self.memory_cap else {
            return Ok(self.command("postgres"));
        };
        let mut cmd = self.program("postgres");
        cap.join_before_exec(&mut cmd, self.user.as_ref().map(|u| (u.uid, u.gid)))?;
        Ok(cmd)
    }

    /// Writes the mode's configuration into the data directory.
    pub fn write_config(&self, config: &ServerConfig) -> Result<()> {
        let path = self.data_dir.join(CONFIG_FILE);
        std::fs::write(&path, config.render())
            .with_context(|| format!("writing {}", path.display()))?;
        if let Some(user) = &self.user {
            user.chown(&path)?;
        }
        Ok(())
    }

    /// Writes `config`, starts the server with its output appended to `log_path`, and waits until it
    /// accepts connections (crash recovery included) or `timeout` passes.
    pub fn start(
        &self,
        config: &ServerConfig,
        log_path: &Path,
        timeout: Duration,
    ) -> Result<Server> {
        self.start_with_env(config, log_path, timeout, &[])
    }

    /// Like [`Cluster::start`], with extra environment variables for the postmaster (inherited by every
    /// server process), e.g. `LD_PRELOAD` for the crash test's torn-write injector.
    pub fn start_with_env(
        &self,
        config: &ServerConfig,
        log_path: &Path,
        timeout: Duration,
        env: &[(String, String)],
    ) -> Result<Server> {
        self.write_config(config)?;
        let pid_file = self.data_dir.join("postmaster.pid");
        if pid_file.exists() {
            let stale_pid = read_pid_file(&pid_file)
                .ok()
                .and_then(|l| l.first()?.trim().parse::<u32>().ok());
            if let Some(pid) = stale_pid.filter(|p| shutdown::process_alive(*p)) {
                bail!(
                    "a server (pid {pid}) is already running in {}; stop it first",
                    self.data_dir.display()
                );
            }
        }
        if let Some(parent) = log_path.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("creating {}", parent.display()))?;
        }
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(log_path)
            .with_context(|| format!("opening server log {}", log_path.display()))?;
        let log_err = log
            .try_clone()
            .context("duplicating the server log handle")?;
        let mut cmd = self.postmaster_command()?;
        cmd.arg("-D")
            .arg(&self.data_dir)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log_err)
            // Its own process group: a Ctrl-C in the terminal reaches the tool, which stops the server in
            // order, and a crash can kill the postmaster and all its backends at once.
            .process_group(0);
        for (key, value) in env {
            cmd.env(key, value);
        }
        let child = cmd.spawn().with_context(|| {
            format!(
                "starting {} -D {}",
                self.install.bin("postgres").display(),
                self.data_dir.display()
            )
        })?;
        let pid = child.id();
        shutdown::register_server(pid, &self.data_dir);
        let mut server = Server {
            child: Some(child),
            pid,
            port: config.port,
            data_dir: self.data_dir.clone(),
            log_path: log_path.to_path_buf(),
        };
        server.wait_ready(timeout)?;
        if let Some(cap) = &self.memory_cap {
            if let Err(e) = check_all_capped(pid, cap) {
                server.terminate(StopMode::Immediate);
                return Err(e);
            }
        }
        Ok(server)
    }
}

/// A running postmaster started by [`Cluster::start`].
#[derive(Debug)]
pub struct Server {
    child: Option<Child>,
    pid: u32,
    port: u16,
    data_dir: PathBuf,
    log_path: PathBuf,
}

impl Server {
    /// TCP port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The postmaster's process id.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// The data directory.
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// The file the server's output goes to.
    pub fn log_path(&self) -> &Path {
        &self.log_path
    }

    /// A libpq/tokio-postgres connection string for database `dbname` as the superuser.
    pub fn connection_string(&self, dbname: &str) -> String {
        format!(
            "host=127.0.0.1 port={} user={SUPERUSER} dbname={dbname}",
            self.port
        )
    }

    /// Whether the postmaster is still running.
    pub fn is_running(&mut self) -> bool {
        match self.child.as_mut() {
            Some(child) => matches!(child.try_wait(), Ok(None)),
            None => false,
        }
    }

    /// The last `lines` lines of the server log.
    pub fn log_tail(&self, lines: usize) -> String {
        log_tail(&self.log_path, lines)
    }

    fn wait_ready(&mut self, timeout: Duration) -> Result<()> {
        let deadline = Instant::now() + timeout;
        let pid_file = self.data_dir.join("postmaster.pid");
        loop {
            if let Some(child) = self.child.as_mut() {
                if let Some(status) = child.try_wait().context("waiting for the postmaster")? {
                    self.child = None;
                    shutdown::unregister_server(self.pid);
                    bail!(
                        "the server in {} exited during startup ({status}); last lines of {}:\n{}",
                        self.data_dir.display(),
                        self.log_path.display(),
                        log_tail(&self.log_path, 20)
                    );
                }
            }
            // Line 8 of postmaster.pid is the postmaster's status; "ready" once it accepts connections.
            if let Ok(lines) = read_pid_file(&pid_file) {
                let ours = lines
                    .first()
                    .map(|l| l.trim() == self.pid.to_string())
                    .unwrap_or(false);
                if ours && lines.get(7).map(|s| s.trim() == "ready").unwrap_or(false) {
                    return Ok(());
                }
            }
            if Instant::now() > deadline {
                let tail = log_tail(&self.log_path, 20);
                self.terminate(StopMode::Immediate);
                bail!(
                    "the server in {} was not ready after {} s; last lines of {}:\n{tail}",
                    self.data_dir.display(),
                    timeout.as_secs(),
                    self.log_path.display()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Stops the server and waits for it to exit.
    pub fn stop(mut self, how: StopMode) -> Result<()> {
        let status = self.terminate(how);
        match (how, status) {
            (StopMode::Fast, Some(status)) if !status.success() => bail!(
                "the server in {} exited with {status} on a fast shutdown; last lines of {}:\n{}",
                self.data_dir.display(),
                self.log_path.display(),
                log_tail(&self.log_path, 20)
            ),
            _ => Ok(()),
        }
    }

    /// Signals the server according to `how` and reaps it; returns its exit status if it was running.
    fn terminate(&mut self, how: StopMode) -> Option<std::process::ExitStatus> {
        let mut child = self.child.take()?;
        match how {
            StopMode::Fast => shutdown::signal(self.pid, libc::SIGINT),
            StopMode::Immediate => shutdown::signal(self.pid, libc::SIGQUIT),
            // The postmaster and every backend at once, so nothing writes after the "power failure".
            StopMode::Crash => {
                let killed = shutdown::kill_tree(self.pid);
                // Backends are reparented and reaped elsewhere; wait until none is left, so that nothing
                // touches the data directory after this returns.
                shutdown::wait_all_gone(&killed, Duration::from_secs(10));
            }
        }
        let patience = if how == StopMode::Fast {
            Duration::from_secs(120)
        } else {
            Duration::from_secs(10)
        };
        let deadline = Instant::now() + patience;
        let status = loop {
            match child.try_wait() {
                Ok(Some(status)) => break Some(status),
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(20))
                }
                _ => {
                    shutdown::kill_tree(self.pid);
                    break child.wait().ok();
                }
            }
        };
        shutdown::unregister_server(self.pid);
        status
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if self.child.is_some() {
            self.terminate(StopMode::Fast);
        }
    }
}

/// Fails unless the postmaster `pid` and every process it has forked are inside `cap`.
fn check_all_capped(pid: u32, cap: &MemoryCap) -> Result<()> {
    let outside: Vec<u32> = shutdown::process_tree(pid)
        .into_iter()
        .filter(|&p| cap.holds(p) == Some(false))
        .collect();
    if !outside.is_empty() {
        bail!(
            "server processes {outside:?} of postmaster {pid} are outside its memory cgroup {}",
            cap.dir().display()
        );
    }
    Ok(())
}

fn read_pid_file(path: &Path) -> std::io::Result<Vec<String>> {
    Ok(std::fs::read_to_string(path)?
        .lines()
        .map(str::to_string)
        .collect())
}

/// The last `lines` lines of a log file (empty if it cannot be read).
pub fn log_tail(path: &Path, lines: usize) -> String {
    let Ok(mut f) = File::open(path) else {
        return String::new();
    };
    use std::io::{Read, Seek, SeekFrom};
    let len = f.metadata().map(|m| m.len()).unwrap_or(0);
    let _ = f.seek(SeekFrom::Start(len.saturating_sub(64 * 1024)));
    let mut text = String::new();
    let _ = f.read_to_string(&mut text);
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// A free TCP port on 127.0.0.1 (bound, then released for the server to take).
pub fn free_port() -> Result<u16> {
    let listener =
        std::net::TcpListener::bind("127.0.0.1:0").context("finding a free port on 127.0.0.1")?;
    Ok(listener.local_addr()?.port())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_tail_returns_the_last_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        std::fs::write(&path, "a\nb\nc\nd\n").unwrap();
        assert_eq!(log_tail(&path, 2), "c\nd");
        assert_eq!(log_tail(&dir.path().join("missing"), 2), "");
    }

    #[test]
    fn free_ports_are_nonzero() {
        assert_ne!(free_port().unwrap(), 0);
    }
}
