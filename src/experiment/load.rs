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

/// Drives `scenario`'s workload for `secs` seconds with live TPS on the progress display.
pub async fn drive(
    conn: &str,
    profile: &Profile,
    scenario: &Scenario,
    secs: u64,
    progress: &RunProgress,
) -> Result<BenchResult> {
    let mut config = BenchConfig::new(conn, scenario.workload);
    config.clients = scenario.clients;
    config.duration = Duration::from_secs(secs);
    config.warmup = Duration::ZERO;
    config.distribution = profile.run.distribution;
    config.seed = profile.run.seed.wrapping_add(u64::from(scenario.repeat));
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
