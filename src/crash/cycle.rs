//! One crash-test cycle: a fresh copy of the golden data directory, a server carrying the armed shim, the
//! write load and the ledger client running, a checkpoint that writes the page the shim tears, the proof of
//! the tear on disk, the restart through crash recovery, and the checks.

use super::checks;
use super::injector::{Arm, Shim, TearPlan};
use super::ledger::{self, Ledger};
use super::load::{LoadSpec, WriteLoad};
use super::summary::{CycleResult, PROTECTED_MODES};
use super::tear::TearRecord;
use crate::postgres::cluster::{free_port, Cluster, StopMode};
use crate::postgres::config::ServerConfig;
use crate::postgres::install::PgInstall;
use crate::postgres::os_user::ServerUser;
use crate::shutdown;
use anyhow::{Context, Result};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use tokio_postgres::NoTls;

/// How long the tool waits for the armed shim to tear (checkpoints are requested meanwhile).
pub const TEAR_DEADLINE: Duration = Duration::from_secs(30);

/// Set to keep every cycle's data directory (normally only a protected mode's damaged ones are kept).
pub const KEEP_ENV: &str = "TORNBENCH_CRASH_KEEP";

/// How long crash recovery may take.
pub const RECOVERY_TIMEOUT: Duration = Duration::from_secs(300);

/// What every cycle of a run shares.
pub struct CycleContext<'a> {
    /// The installation.
    pub install: &'a PgInstall,
    /// The OS user servers run as.
    pub user: Option<&'a ServerUser>,
    /// The compiled shim.
    pub shim: &'a Shim,
    /// The loaded, cleanly stopped data directory every cycle copies.
    pub golden: &'a Path,
    /// Where cycle data directories are made.
    pub work_dir: &'a Path,
    /// Where server logs are kept.
    pub logs_dir: &'a Path,
    /// The server configuration of the mode (its port is replaced at every start).
    pub config: ServerConfig,
    /// The write load.
    pub load: LoadSpec,
    /// The async runtime the clients run on.
    pub rt: &'a tokio::runtime::Runtime,
}

/// What one cycle does, drawn from the seed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CyclePlan {
    /// 1-based cycle number.
    pub cycle: u32,
    /// The tear.
    pub tear: TearPlan,
    /// Load before the checkpoint that recovery will start from.
    pub load_before_checkpoint: Duration,
    /// Load between that checkpoint and arming the shim.
    pub load_before_tear: Duration,
}

/// Runs one cycle; an `Err` is a failure of the tool (the server's failures are findings in the result).
pub fn run_cycle(ctx: &CycleContext<'_>, plan: CyclePlan) -> Result<CycleResult> {
    let mode = ctx.config.mode.name.clone();
    let dir = cycle_dir(ctx.work_dir, &mode, plan.cycle);
    let data = dir.join("data");
    fresh_copy(ctx.golden, &dir, &data, ctx.user)?;
    let cluster = Cluster::open(ctx.install, &data, ctx.user)?;
    let log = ctx.logs_dir.join(format!("{mode}-{:03}.log", plan.cycle));
    let arm = Arm::in_dir(&dir);
    let mut result = CycleResult {
        mode: mode.clone(),
        cycle: plan.cycle,
        planned_prefix: plan.tear.prefix,
        tear: None,
        load_commits: 0,
        recovered: false,
        recovery_error: None,
        recovery_secs: 0.0,
        wal: None,
        relation: None,
        dwb_restored: None,
        restored_copy_lsn: None,
        checksums: None,
        amcheck: None,
        rows: None,
        ledger: None,
        notes: Vec::new(),
    };

    // Load, tear, crash.
    let mut server = cluster.start_with_env(
        &with_port(&ctx.config)?,
        &log,
        Duration::from_secs(120),
        &ctx.shim.server_env(&arm),
    )?;
    let conn = server.connection_string("postgres");
    let load = WriteLoad::start(ctx.rt, &conn, ctx.load)?;
    let ledger = Ledger::start(ctx.rt, &conn)?;
    std::thread::sleep(plan.load_before_checkpoint);
    sql(ctx.rt, &conn, "CHECKPOINT").context("the checkpoint before the tear")?;
    std::thread::sleep(plan.load_before_tear);
    arm.arm(plan.tear)?;
    let checkpoints = ctx.rt.spawn(request_checkpoints(conn.clone()));
    let deadline = Instant::now() + TEAR_DEADLINE;
    while server.is_running() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let postmaster = server.pid();
    if server.is_running() {
        arm.disarm();
        result.notes.push(format!(
            "nothing was torn within {} s (arm file {}); crashed the server without a tear",
            TEAR_DEADLINE.as_secs(),
            if arm.taken() { "taken" } else { "not taken" }
        ));
    }
    let killed = shutdown::kill_tree(postmaster);
    if !shutdown::wait_all_gone(&killed, Duration::from_secs(10)) {
        let survivors: Vec<u32> = killed
            .into_iter()
            .filter(|&p| shutdown::process_alive(p))
            .collect();
        result.notes.push(format!(
            "server processes still alive after the crash: {survivors:?}"
        ));
    }
    server.stop(StopMode::Crash)?;
    checkpoints.abort();
    result.load_commits = load.finish(ctx.rt);
    let acknowledged = ledger.finish(ctx.rt);

    // Prove the tear before recovery can touch the block.
    if arm.record_path().exists() {
        let record = TearRecord::read(&arm.record_path())?;
        let proof = record.prove()?;
        if !proof.intended_checksum_ok {
            result.notes.push(
                "the recorded page does not carry a valid checksum (the shim or the checksum code is wrong)"
                    .into(),
            );
        }
        match checks::wal_history(&cluster, &proof.location) {
            Ok(h) => result.wal = Some(h),
            Err(e) => result.notes.push(format!("pg_waldump: {e:#}")),
        }
        result.tear = Some(proof);
    }

    // Recover and check.
    let log_start = std::fs::metadata(&log).map(|m| m.len()).unwrap_or(0);
    let started = Instant::now();
    match cluster.start(&with_port(&ctx.config)?, &log, RECOVERY_TIMEOUT) {
        Ok(server) => {
            result.recovered = true;
            result.recovery_secs = started.elapsed().as_secs_f64();
            let conn = server.connection_string("postgres");
            let tables = ctx.load.tables;
            let table_size = u64::from(ctx.load.table_size);
            let torn_node = result.tear.as_ref().map(|t| t.location.relfilenode);
            let found = ctx.rt.block_on(async {
                let (client, connection) = tokio_postgres::connect(&conn, NoTls).await?;
                tokio::spawn(connection);
                let rows = checks::row_counts(&client, tables, table_size).await;
                let amcheck = checks::amcheck(&client, tables).await;
                let ledger = ledger::verify(&client, acknowledged).await;
                let restored = checks::double_write_restored_sql(&client).await;
                let relation = match torn_node {
                    Some(node) => checks::relation_of(&client, node).await,
                    None => None,
                };
                anyhow::Ok((rows, amcheck, ledger, restored, relation))
            });
            match found {
                Ok((rows, amcheck, ledger, restored, relation)) => {
                    result.relation = relation;
                    result.rows = Some(rows);
                    result.amcheck = Some(amcheck);
                    match ledger {
                        Ok(l) => result.ledger = Some(l),
                        Err(e) => result.notes.push(format!("ledger: {e:#}")),
                    }
                    result.dwb_restored = restored;
                }
                Err(e) => result.notes.push(format!("checks after recovery: {e:#}")),
            }
            server.stop(StopMode::Fast)?;
            match checks::pg_checksums(&cluster) {
                Ok(c) => result.checksums = Some(c),
                Err(e) => result.notes.push(format!("{e:#}")),
            }
        }
        Err(e) => {
            // The server's own words (the FATAL and its context) say more than the last lines of the log.
            let log_text = std::fs::read(&log)
                .map(|b| String::from_utf8_lossy(&b[log_start as usize..]).into_owned())
                .unwrap_or_default();
            let key: Vec<&str> = log_text
                .lines()
                .filter(|l| {
                    ["PANIC:", "FATAL:", "ERROR:", "WARNING:"]
                        .iter()
                        .any(|k| l.contains(k))
                })
                .take(4)
                .collect();
            result.recovery_error = Some(if key.is_empty() {
                format!("{e:#}")
            } else {
                key.join("\n")
            });
            result.checksums = Some(checks::scan_checksums(&data)?);
        }
    }
    let log_text = std::fs::read(&log)
        .map(|b| String::from_utf8_lossy(&b[log_start as usize..]).into_owned())
        .unwrap_or_default();
    if let Some(n) = checks::double_write_restored(&log_text) {
        result.dwb_restored = Some(result.dwb_restored.unwrap_or(0).max(n));
    }
    if let Some(t) = &result.tear {
        result.restored_copy_lsn = checks::double_write_restored_copy_lsn(&log_text, &t.location);
    }
    let keep = std::env::var_os(KEEP_ENV).is_some()
        || (result.damage_detected() && PROTECTED_MODES.contains(&result.mode.as_str()));
    if !keep {
        std::fs::remove_dir_all(&dir).with_context(|| format!("removing {}", dir.display()))?;
    }
    Ok(result)
}

/// Copies the golden data directory into `data` (inside a fresh `dir` the server user owns).
fn fresh_copy(golden: &Path, dir: &Path, data: &Path, user: Option<&ServerUser>) -> Result<()> {
    if dir.exists() {
        std::fs::remove_dir_all(dir).with_context(|| format!("removing {}", dir.display()))?;
    }
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755))
        .with_context(|| format!("chmod {}", dir.display()))?;
    if let Some(user) = user {
        user.chown(dir)?;
    }
    let status = std::process::Command::new("cp")
        .arg("-a")
        .arg(golden)
        .arg(data)
        .status()
        .context("running cp -a")?;
    if !status.success() {
        anyhow::bail!(
            "cp -a {} {} failed ({status})",
            golden.display(),
            data.display()
        );
    }
    // The golden copy was stopped cleanly; a stale pid file would only come from a tool crash.
    let _ = std::fs::remove_file(data.join("postmaster.pid"));
    Ok(())
}

fn with_port(config: &ServerConfig) -> Result<ServerConfig> {
    let mut c = config.clone();
    c.port = free_port()?;
    Ok(c)
}

/// Runs one statement on a fresh connection.
pub fn sql(rt: &tokio::runtime::Runtime, conn: &str, statement: &str) -> Result<()> {
    rt.block_on(async {
        let (client, connection) = tokio_postgres::connect(conn, NoTls).await?;
        tokio::spawn(connection);
        client.batch_execute(statement).await
    })
    .with_context(|| format!("running `{statement}`"))
}

/// Asks for a checkpoint every half second until the server is gone: the checkpointer then writes every
/// dirty page, and the shim tears one of those writes.
async fn request_checkpoints(conn: String) {
    let Ok((client, connection)) = tokio_postgres::connect(&conn, NoTls).await else {
        return;
    };
    tokio::spawn(connection);
    loop {
        if client.batch_execute("CHECKPOINT").await.is_err() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// The directory of one cycle (kept after a protected mode's failure, for inspection).
pub fn cycle_dir(work_dir: &Path, mode: &str, cycle: u32) -> PathBuf {
    work_dir.join(format!("{mode}-{cycle:03}"))
}
