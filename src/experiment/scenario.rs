//! One scenario: a fresh database, the server in the scenario's mode, a checkpoint and a file-system sync,
//! warm-up, statistics, the measured run, statistics again, and the result with what the mode cost per
//! transaction.

use super::database::{self, DATABASE};
use super::load;
use super::progress::RunProgress;
use super::Context as RunContext;
use crate::postgres::cluster::{free_port, Cluster, StopMode, DEFAULT_START_TIMEOUT};
use crate::postgres::config::ServerConfig;
use crate::postgres::memcap::MemoryCap;
use crate::profile::scenario::Scenario;
use crate::profile::RebuildStrategy;
use crate::results::{
    CheckpointOffset, PerTransaction, PhaseTimes, ScenarioResult, ScenarioStatus,
};
use crate::shutdown;
use crate::stats::checkpoints::parse_log;
use crate::stats::host::HostSnapshot;
use crate::stats::probe::{ProbeSummary, SpeedProbe};
use crate::stats::server::snapshot;
use anyhow::{anyhow, Result};
use chrono::Utc;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How a scenario attempt ended.
pub enum Outcome {
    /// A result to store (completed or failed).
    Stored(Box<ScenarioResult>),
    /// Ctrl-C: nothing to store; the run stops.
    Interrupted,
}

/// Runs `scenario` and returns its result; a failure becomes a failed result with the log's tail.
pub async fn run(ctx: &RunContext<'_>, scenario: &Scenario, progress: &RunProgress) -> Outcome {
    let started_at = Utc::now();
    let mut phases = PhaseTimes::default();
    let log_path = ctx.run_dir.log_path(scenario);
    let _ = std::fs::remove_file(&log_path);
    let attempt = attempt(ctx, scenario, progress, &mut phases).await;
    let _ = database::remove_data_dir(&ctx.scenario_data_dir);
    let base = |status, reason: Option<String>, log_tail: Option<String>| ScenarioResult {
        scenario: scenario.clone(),
        status,
        reason,
        log_tail,
        started_at,
        finished_at: Utc::now(),
        fingerprint: ctx.fingerprint.clone(),
        phases: phases.clone(),
        bench: None,
        server: None,
        host: None,
        host_probe: None,
        per_transaction: None,
        checkpoints: Vec::new(),
        server_memory: None,
    };
    match attempt {
        Ok(measured) => {
            let mut r = base(ScenarioStatus::Completed, None, None);
            r.per_transaction = Some(per_transaction(&measured));
            r.checkpoints = measured.checkpoints;
            r.bench = Some(measured.bench);
            r.server = Some(measured.server);
            r.host = Some(measured.host);
            r.host_probe = measured.host_probe;
            r.server_memory = measured.server_memory;
            Outcome::Stored(Box::new(r))
        }
        Err(_) if shutdown::interrupted() => Outcome::Interrupted,
        Err(e) => {
            let tail = crate::postgres::cluster::log_tail(&log_path, 30);
            Outcome::Stored(Box::new(base(
                ScenarioStatus::Failed,
                Some(format!("{e:#}")),
                Some(tail),
            )))
        }
    }
}

/// How often the host-speed probe times its task during a measured window.
const PROBE_INTERVAL: Duration = Duration::from_secs(1);

struct Measured {
    bench: crate::bench::BenchResult,
    server: crate::stats::server::ServerSnapshot,
    host: HostSnapshot,
    host_probe: Option<ProbeSummary>,
    checkpoints: Vec<CheckpointOffset>,
    server_memory: Option<crate::results::ServerMemory>,
}

async fn attempt(
    ctx: &RunContext<'_>,
    scenario: &Scenario,
    progress: &RunProgress,
    phases: &mut PhaseTimes,
) -> Result<Measured> {
    let profile = ctx.profile;
    let mode = profile.modes[&scenario.mode].clone();
    let install = ctx.install_for(&mode);
    let log_path = ctx.run_dir.log_path(scenario);

    let memory_cap = match profile.host.memory_limit_bytes() {
        Some(limit) => Some(Arc::new(MemoryCap::create(&scenario.to_string(), limit)?)),
        None => None,
    };

    progress.phase("rebuild", 0);
    let t = Instant::now();
    let cluster = match (profile.run.rebuild, ctx.golden.as_deref()) {
        (RebuildStrategy::Golden, Some(golden)) => {
            database::copy_golden(golden, &ctx.scenario_data_dir)?;
            Cluster::open(install, &ctx.scenario_data_dir, ctx.user)?
        }
        _ => {
            database::remove_data_dir(&ctx.scenario_data_dir)?;
            Cluster::init(install, &ctx.scenario_data_dir, ctx.user)?
        }
    }
    .with_memory_cap(memory_cap.clone());
    let config = ServerConfig {
        port: free_port()?,
        server: profile.server.clone(),
        mode,
        max_clients: profile.max_clients().max(profile.data.tables),
        build_has_double_write: install.has_double_write(),
        extra: BTreeMap::new(),
    };
    let server = cluster.start(&config, &log_path, DEFAULT_START_TIMEOUT)?;
    if profile.run.rebuild == RebuildStrategy::Reload {
        progress.phase("load + VACUUM FULL", 0);
        let times = database::load_and_vacuum(&server, profile).await?;
        phases.vacuum_secs = times.vacuum_secs;
        phases.rebuild_secs = t.elapsed().as_secs_f64() - times.vacuum_secs;
    } else {
        phases.rebuild_secs = t.elapsed().as_secs_f64();
    }
    let conn = server.connection_string(DATABASE);

    // Start every mode from the same quiet disk: the golden copy (or the load) leaves gigabytes of dirty
    // page cache. Written back during the run, it would be charged to whichever mode fsyncs first.
    progress.phase("checkpoint + sync", 0);
    let t = Instant::now();
    load::checkpoint(&conn).await?;
    crate::fsutil::sync_filesystem(&ctx.scenario_data_dir)?;
    if memory_cap.is_some() {
        // The copy was made outside the server's cgroup, so its pages would be free hits for the server:
        // every mode starts with the data on disk only, as after a reboot.
        crate::fsutil::drop_cached_pages(&ctx.scenario_data_dir)?;
    }
    phases.settle_secs = t.elapsed().as_secs_f64();
    check_interrupted()?;

    if profile.run.warmup_secs > 0 {
        progress.phase("warm-up", profile.run.warmup_secs);
        let t = Instant::now();
        load::drive(
            &conn,
            profile,
            scenario,
            load::Phase::WarmUp,
            profile.run.warmup_secs,
            progress,
        )
        .await?;
        phases.warmup_secs = t.elapsed().as_secs_f64();
    }
    check_interrupted()?;

    let stats_client = load::connect(&conn).await?;
    let server_before = snapshot(&stats_client).await?;
    let host_before = HostSnapshot::now();
    let probe = SpeedProbe::start(PROBE_INTERVAL);
    let window_start = Utc::now();
    progress.phase("measure", profile.run.duration_secs);
    let t = Instant::now();
    let bench = load::drive(
        &conn,
        profile,
        scenario,
        load::Phase::Measured,
        profile.run.duration_secs,
        progress,
    )
    .await?;
    phases.measure_secs = t.elapsed().as_secs_f64();
    let host_probe = probe.finish();
    let host_after = HostSnapshot::now();
    let server_after = snapshot(&stats_client).await?;
    let window_end = Utc::now();
    let server_memory = memory_cap.as_ref().map(|cap| cap.usage()).transpose()?;
    drop(stats_client);
    check_interrupted()?;

    server.stop(StopMode::Fast)?;
    let log = std::fs::read_to_string(&log_path).unwrap_or_default();
    let checkpoints = parse_log(&log)
        .into_iter()
        .filter(|m| m.started >= window_start && m.started <= window_end)
        .map(|m| CheckpointOffset {
            start_secs: (m.started - window_start).num_milliseconds() as f64 / 1000.0,
            end_secs: m
                .completed
                .map(|c| (c - window_start).num_milliseconds() as f64 / 1000.0),
            reason: m.reason,
        })
        .collect();
    Ok(Measured {
        bench,
        server: server_before.delta(&server_after),
        host: host_before.delta(&host_after),
        host_probe,
        checkpoints,
        server_memory,
    })
}

fn check_interrupted() -> Result<()> {
    if shutdown::interrupted() {
        return Err(anyhow!("interrupted"));
    }
    Ok(())
}

fn per_transaction(m: &Measured) -> PerTransaction {
    let txns = load::committed_transactions(&m.bench).max(1) as f64;
    PerTransaction {
        wal_bytes: m.server.wal("wal_bytes") / txns,
        wal_fpi: m.server.wal("wal_fpi") / txns,
        cpu_us: m.host.cpu_busy_secs() * 1e6 / txns,
        disk_bytes_written: m.host.disk_written_bytes / txns,
    }
}
