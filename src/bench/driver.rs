//! The client tasks and the once-a-second collector of [`super::run_async`].

use super::result::{encode_histogram, ErrorCounts, Latency, SecondSample};
use super::{BenchConfig, BenchResult, Observer};
use crate::workload::pg_config;
use crate::workload::transactions::{Outcome, StatementCounts, TxnRunner, TxnSpec};
use anyhow::{anyhow, bail, Context, Result};
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use hdrhistogram::Histogram;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::Notify;
use tokio_postgres::NoTls;

/// What one client did since the collector last looked.
struct Interval {
    transactions: u64,
    statements: StatementCounts,
    errors: ErrorCounts,
    /// Latency of committed transactions, microseconds.
    latency: Histogram<u64>,
}

impl Interval {
    fn new() -> Interval {
        Interval {
            transactions: 0,
            statements: StatementCounts::default(),
            errors: ErrorCounts::default(),
            latency: Histogram::new(3).expect("3 significant digits are allowed"),
        }
    }

    fn merge(&mut self, other: &Interval) {
        self.transactions += other.transactions;
        self.statements.add(&other.statements);
        self.errors.add(&other.errors);
        self.latency
            .add(&other.latency)
            .expect("auto-resizing histograms merge");
    }

    fn reset(&mut self) {
        self.transactions = 0;
        self.statements = StatementCounts::default();
        self.errors = ErrorCounts::default();
        self.latency.reset();
    }
}

/// State shared by the clients and the collector.
struct Shared {
    stop: AtomicBool,
    intervals: Vec<Mutex<Interval>>,
    failure: Mutex<Option<anyhow::Error>>,
    failed: Notify,
}

impl Shared {
    fn fail(&self, e: anyhow::Error) {
        let mut slot = self.failure.lock().unwrap();
        if slot.is_none() {
            *slot = Some(e);
        }
        self.stop.store(true, Ordering::SeqCst);
        self.failed.notify_one();
    }
}

/// Runs the benchmark on the caller's (multi-threaded) runtime.
pub async fn run_async(config: &BenchConfig, observer: &dyn Observer) -> Result<BenchResult> {
    config.validate()?;
    let spec = TxnSpec {
        workload: config.workload,
        tables: config.tables,
        table_size: config.table_size,
        distribution: config.distribution,
        statement_timeout: config.statement_timeout,
    };
    let pool = connect_pool(config).await?;
    let clients = prepare_clients(config, &pool, spec).await?;

    let shared = Arc::new(Shared {
        stop: AtomicBool::new(false),
        intervals: (0..config.clients)
            .map(|_| Mutex::new(Interval::new()))
            .collect(),
        failure: Mutex::new(None),
        failed: Notify::new(),
    });
    let start = Instant::now();
    let measure_start = start + config.warmup;
    let end = measure_start + config.duration;
    let started_at = chrono::Utc::now() + chrono::Duration::from_std(config.warmup)?;
    let tasks: Vec<_> = clients
        .into_iter()
        .enumerate()
        .map(|(i, (client, runner))| {
            tokio::spawn(client_loop(i, client, runner, Arc::clone(&shared)))
        })
        .collect();

    let collected = collect(config, observer, &shared, start, measure_start, end).await;
    shared.stop.store(true, Ordering::SeqCst);
    // Clients finish the transaction they are in (bounded by the statement timeout), then end.
    let drain = config.statement_timeout + Duration::from_secs(2);
    for task in tasks {
        let abort = task.abort_handle();
        if tokio::time::timeout(drain, task).await.is_err() {
            abort.abort();
        }
    }
    if let Some(e) = shared.failure.lock().unwrap().take() {
        return Err(e);
    }
    let (total, series, elapsed) = collected?;
    let secs = elapsed.as_secs_f64();
    Ok(BenchResult {
        settings: config.settings(),
        started_at,
        elapsed_secs: secs,
        transactions: total.transactions,
        statements: total.statements,
        errors: total.errors,
        tps: total.transactions as f64 / secs,
        qps: total.statements.total() as f64 / secs,
        latency: Latency::of(&total.latency),
        histogram: encode_histogram(&total.latency)?,
        series,
    })
}

async fn connect_pool(config: &BenchConfig) -> Result<Pool> {
    let pg = pg_config(&config.conn, config.connect_timeout)?;
    let manager = Manager::from_config(
        pg,
        NoTls,
        ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        },
    );
    Pool::builder(manager)
        .max_size(config.clients as usize)
        .build()
        .context("building the connection pool")
}

type Client = deadpool_postgres::Object;

/// One connection per client, each with every statement prepared.
async fn prepare_clients(
    config: &BenchConfig,
    pool: &Pool,
    spec: TxnSpec,
) -> Result<Vec<(Client, TxnRunner)>> {
    let timeout = config.connect_timeout + config.statement_timeout;
    let one = |i: u64| async move {
        let client = pool
            .get()
            .await
            .with_context(|| format!("connecting to `{}`", config.conn))?;
        let runner = TxnRunner::prepare(&client, spec, config.seed, i)
            .await
            .context(
                "preparing the statements (are the sbtest tables prepared, with --tables as many?)",
            )?;
        anyhow::Ok((client, runner))
    };
    tokio::time::timeout(
        timeout,
        futures_util::future::try_join_all((0..u64::from(config.clients)).map(one)),
    )
    .await
    .map_err(|_| {
        anyhow!(
            "connecting {} clients to `{}` took more than {timeout:?}",
            config.clients,
            config.conn
        )
    })?
}

async fn client_loop(index: usize, client: Client, mut runner: TxnRunner, shared: Arc<Shared>) {
    let interval = &shared.intervals[index];
    while !shared.stop.load(Ordering::Relaxed) {
        let began = Instant::now();
        let outcome = runner.run(&client).await;
        let us = began.elapsed().as_micros() as u64;
        let mut iv = interval.lock().unwrap();
        iv.statements.add(&runner.counts);
        match outcome {
            Ok(Outcome::Committed) => {
                iv.transactions += 1;
                iv.latency
                    .record(us.max(1))
                    .expect("auto-resizing histogram");
            }
            Ok(Outcome::Ignored(kind)) => iv.errors.count(kind),
            Err(e) => {
                drop(iv);
                shared.fail(anyhow::Error::new(e).context(format!("client {}", index + 1)));
                return;
            }
        }
    }
}

/// Takes every client's interval once a second until `end`: warm-up intervals go to the observer only,
/// measured ones into the series and the total. Returns early if a client failed or the observer wants to
/// stop.
async fn collect(
    config: &BenchConfig,
    observer: &dyn Observer,
    shared: &Shared,
    start: Instant,
    measure_start: Instant,
    end: Instant,
) -> Result<(Interval, Vec<SecondSample>, Duration)> {
    let mut total = Interval::new();
    let mut series = Vec::with_capacity(config.duration.as_secs() as usize + 1);
    let mut current = Interval::new();
    let mut last = start;
    loop {
        let next = next_tick(last, start, measure_start, end);
        tokio::select! {
            _ = tokio::time::sleep_until(next.into()) => {}
            _ = shared.failed.notified() => bail!("a client failed"),
        }
        if shared.stop.load(Ordering::SeqCst) {
            bail!("a client failed");
        }
        current.reset();
        for slot in &shared.intervals {
            let mut iv = slot.lock().unwrap();
            current.merge(&iv);
            iv.reset();
        }
        let warmup = next <= measure_start;
        let sample = SecondSample {
            t: if warmup {
                (next - start).as_secs_f64()
            } else {
                (next - measure_start).as_secs_f64()
            },
            secs: (next - last).as_secs_f64(),
            transactions: current.transactions,
            statements: current.statements.total(),
            errors: current.errors.total(),
            latency: Latency::of(&current.latency),
        };
        observer.sample(&sample, warmup);
        if !warmup {
            total.merge(&current);
            series.push(sample);
        }
        last = next;
        if next >= end {
            return Ok((total, series, end - measure_start));
        }
        if observer.should_stop() {
            bail!(
                "interrupted after {:.0} s of {:.0}",
                (next - start).as_secs_f64(),
                (end - start).as_secs_f64()
            );
        }
    }
}

/// The end of the interval that starts at `last`: whole seconds from `start` during the warm-up and from
/// `measure_start` after it, never past the warm-up's end or `end`.
fn next_tick(last: Instant, start: Instant, measure_start: Instant, end: Instant) -> Instant {
    let second = Duration::from_secs(1);
    if last < measure_start {
        let k = (last - start).as_secs() + 1;
        (start + second * k as u32).min(measure_start)
    } else {
        let k = (last - measure_start).as_secs() + 1;
        (measure_start + second * k as u32).min(end)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_split_warmup_and_measurement_into_seconds() {
        let s = Instant::now();
        let ms = |n: u64| Duration::from_millis(n);
        let (measure, end) = (s + ms(1500), s + ms(3700));
        let mut ticks = vec![];
        let mut last = s;
        while last < end {
            last = next_tick(last, s, measure, end);
            ticks.push((last - s).as_millis());
        }
        assert_eq!(ticks, [1000, 1500, 2500, 3500, 3700]);
    }
}
