//! The experiment's side of the load: the loader and the driver of `workload` and `bench`, called with a
//! profile's settings, plus the few SQL commands the experiment issues itself (VACUUM FULL, CHECKPOINT).

use super::progress::RunProgress;
use crate::bench::{run_async, BenchConfig, BenchResult, Observer, SecondSample};
use crate::profile::scenario::Scenario;
use crate::profile::Profile;
use crate::workload::loader::{prepare_async, PrepareOptions, PrepareProgress};
use crate::workload::schema::table_name;
use anyhow::{Context, Result};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio_postgres::{Client, NoTls};

/// How long the experiment waits for a connection before it calls the server unreachable.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

fn table_size(profile: &Profile) -> Result<u32> {
    u32::try_from(profile.data.table_size)
        .context("data.table_size must fit in 32 bits (sysbench ids are INTEGER)")
}

/// Creates and loads the sysbench tables of `profile` (indexes after the data, then ANALYZE).
pub async fn load_data(conn: &str, profile: &Profile) -> Result<()> {
    let opts = PrepareOptions::new(conn, profile.data.tables, table_size(profile)?);
    prepare_async(&opts, &LoadProgress::default()).await?;
    Ok(())
}

#[derive(Default)]
struct LoadProgress {
    sent: AtomicU64,
}

impl PrepareProgress for LoadProgress {
    fn rows(&self, rows: u64, _total: u64) {
        self.sent.fetch_add(rows, Ordering::Relaxed);
    }
}

/// A plain connection for the experiment's own statements and statistics.
pub async fn connect(conn: &str) -> Result<Client> {
    let (client, connection) =
        tokio::time::timeout(CONNECT_TIMEOUT, tokio_postgres::connect(conn, NoTls))
            .await
            .with_context(|| format!("connecting to {conn}: timed out"))?
            .with_context(|| format!("connecting to {conn}"))?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok(client)
}

/// VACUUM FULL on every sysbench table, then ANALYZE, as the article does before each scenario.
pub async fn vacuum_full(conn: &str, tables: u32) -> Result<()> {
    let client = connect(conn).await?;
    for n in 1..=tables {
        let sql = format!("VACUUM (FULL, ANALYZE) {}", table_name(n));
        client
            .batch_execute(&sql)
            .await
            .with_context(|| format!("running {sql}"))?;
    }
    Ok(())
}

/// A CHECKPOINT, so a clean stop afterwards is quick.
pub async fn checkpoint(conn: &str) -> Result<()> {
    connect(conn)
        .await?
        .batch_execute("CHECKPOINT")
        .await
        .context("running CHECKPOINT")
}

/// Which part of a scenario a load drives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// The unmeasured warm-up.
    WarmUp,
    /// The measured run.
    Measured,
}

/// The seed of `phase` of repeat `repeat`. The warm-up gets a seed of its own: with the measured run's
/// seed, each client's measured run would begin by replaying the transactions it had just sent in the
/// warm-up, on rows and pages the warm-up left hot (and, under `fpw_on`, with their full-page images
/// already written since the checkpoint).
pub fn phase_seed(run_seed: u64, repeat: u32, phase: Phase) -> u64 {
    let measured = run_seed.wrapping_add(u64::from(repeat));
    match phase {
        Phase::Measured => measured,
        Phase::WarmUp => splitmix64(measured ^ WARM_UP_SALT),
    }
}

/// Mixed into the warm-up's seed ("warm-up" in ASCII).
const WARM_UP_SALT: u64 = 0x0077_6172_6d2d_7570;

/// One step of SplitMix64: a seed far from its input, so the warm-up's streams share nothing with the
/// measured run's.
fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Drives `scenario`'s workload for `secs` seconds of `phase` with live TPS on the progress display.
pub async fn drive(
    conn: &str,
    profile: &Profile,
    scenario: &Scenario,
    phase: Phase,
    secs: u64,
    progress: &RunProgress,
) -> Result<BenchResult> {
    let mut config = BenchConfig::new(conn, scenario.workload);
    config.clients = scenario.clients;
    config.duration = Duration::from_secs(secs);
    config.warmup = Duration::ZERO;
    config.distribution = profile.run.distribution;
    config.seed = phase_seed(profile.run.seed, scenario.repeat, phase);
    config.tables = profile.data.tables;
    config.table_size = table_size(profile)?;
    run_async(&config, &Live { progress }).await
}

struct Live<'a> {
    progress: &'a RunProgress,
}

impl Observer for Live<'_> {
    fn sample(&self, sample: &SecondSample, _warmup: bool) {
        self.progress
            .tick(sample.t as u64, &format!("{:.0} TPS", sample.tps()));
    }
}

/// Committed transactions of a measured run.
pub fn committed_transactions(b: &BenchResult) -> u64 {
    b.transactions
}

/// One line for the log of a finished scenario.
pub fn one_line(b: &BenchResult) -> String {
    format!(
        "{:.0} TPS, {:.0} QPS, latency avg {:.2} ms, p99 {:.2} ms, {} ignored errors",
        b.tps,
        b.qps,
        b.latency.avg_ms,
        b.latency.p99_ms,
        b.errors.total()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workload::random::seeded_rng;
    use rand::RngCore;
    use std::collections::HashSet;

    /// The first draws of client `client`'s stream under `seed`, as the driver seeds it.
    fn first_draws(seed: u64, client: u64) -> [u64; 2] {
        let mut rng = seeded_rng(seed, client);
        [rng.next_u64(), rng.next_u64()]
    }

    #[test]
    fn the_measured_run_keeps_its_seed() {
        // Measured windows of earlier runs drew from seed + repeat; keep them comparable.
        assert_eq!(phase_seed(1, 0, Phase::Measured), 1);
        assert_eq!(phase_seed(1, 3, Phase::Measured), 4);
        assert_eq!(phase_seed(u64::MAX, 1, Phase::Measured), 0);
    }

    #[test]
    fn no_warm_up_client_replays_a_measured_client_of_its_scenario() {
        for run_seed in [0, 1, 7, 42, u64::MAX] {
            for repeat in 0..4 {
                let measured = phase_seed(run_seed, repeat, Phase::Measured);
                let warm_up = phase_seed(run_seed, repeat, Phase::WarmUp);
                assert_ne!(warm_up, measured);
                let measured_streams: HashSet<[u64; 2]> =
                    (0..256).map(|c| first_draws(measured, c)).collect();
                for c in 0..256 {
                    assert!(
                        !measured_streams.contains(&first_draws(warm_up, c)),
                        "seed {run_seed}, repeat {repeat}: warm-up client {c} replays a measured client"
                    );
                }
            }
        }
    }

    #[test]
    fn warm_up_seeds_repeat_and_differ_by_repeat() {
        assert_eq!(
            phase_seed(1, 2, Phase::WarmUp),
            phase_seed(1, 2, Phase::WarmUp)
        );
        let seeds: HashSet<u64> = (0..64).map(|r| phase_seed(1, r, Phase::WarmUp)).collect();
        assert_eq!(seeds.len(), 64);
    }
}
