//! The measured OLTP loop: N clients, one connection each (a deadpool-postgres pool sized to N), each its
//! own task on a multi-threaded runtime, running sysbench transactions ([`crate::workload::transactions`])
//! back to back for a warm-up that is driven but not counted, then for the measured duration.
//!
//! Each client records the latency of every committed transaction (microseconds) into its own HDR
//! histogram and counts statements and ignored errors; once a second the driver takes every client's
//! interval (a swap under an uncontended lock) and merges it into the per-second series and the run's
//! histogram. So the totals are exactly the sum of the series.
//!
//! A statement that does not answer within the statement timeout, a lost connection, or an error sysbench
//! does not ignore ends the run with an error naming what happened; so does the observer's
//! [`Observer::should_stop`] (Ctrl-C by default).
//!
//! The orchestrator's entry point:
//! ```no_run
//! # use tornbench::bench::{run, BenchConfig, Quiet};
//! # use tornbench::workload::Workload;
//! let mut config = BenchConfig::new("host=127.0.0.1 port=5432 user=postgres dbname=postgres", Workload::WriteOnly);
//! config.clients = 32;
//! let result = run(&config, &Quiet)?;        // BenchResult: serde, histogram included
//! println!("{:.0} tps", result.tps);
//! # anyhow::Ok(())
//! ```

mod driver;
pub mod result;
pub mod summary;

pub use driver::run_async;
pub use result::{BenchResult, BenchSettings, ErrorCounts, Latency, SecondSample};

use crate::workload::{Distribution, Workload};
use anyhow::{Context, Result};
use std::time::Duration;

/// What to run, against which server.
#[derive(Debug, Clone, PartialEq)]
pub struct BenchConfig {
    /// A libpq-style connection string or `postgres://` URL.
    pub conn: String,
    /// The transaction mix.
    pub workload: Workload,
    /// Concurrent clients, one connection each.
    pub clients: u32,
    /// The measured period.
    pub duration: Duration,
    /// Driven but not counted, before the measured period.
    pub warmup: Duration,
    /// How ids are drawn.
    pub distribution: Distribution,
    /// Seed of the clients' random streams (client i uses stream i).
    pub seed: u64,
    /// Tables `sbtest1..N` (as prepared).
    pub tables: u32,
    /// Rows per table (as prepared).
    pub table_size: u32,
    /// How long connecting may take.
    pub connect_timeout: Duration,
    /// How long one statement may take before the run fails.
    pub statement_timeout: Duration,
}

impl BenchConfig {
    /// sysbench's defaults where it has them (1 table of 10,000 rows, 1 client, 10 s), the profiles'
    /// uniform distribution, seed 1, no warm-up, 10 s connect and 30 s statement timeouts.
    pub fn new(conn: &str, workload: Workload) -> BenchConfig {
        BenchConfig {
            conn: conn.to_string(),
            workload,
            clients: 1,
            duration: Duration::from_secs(10),
            warmup: Duration::ZERO,
            distribution: Distribution::Uniform,
            seed: 1,
            tables: 1,
            table_size: 10_000,
            connect_timeout: Duration::from_secs(10),
            statement_timeout: Duration::from_secs(30),
        }
    }

    /// The serializable part of the configuration.
    pub fn settings(&self) -> BenchSettings {
        BenchSettings {
            workload: self.workload,
            clients: self.clients,
            duration_secs: self.duration.as_secs_f64(),
            warmup_secs: self.warmup.as_secs_f64(),
            distribution: self.distribution,
            seed: self.seed,
            tables: self.tables,
            table_size: self.table_size,
        }
    }

    /// Checks the values no run can use.
    pub fn validate(&self) -> Result<(), BenchConfigError> {
        let bad = |flag, message: &str| {
            Err(BenchConfigError {
                flag,
                message: message.to_string(),
            })
        };
        if self.clients == 0 {
            return bad("--clients", "must be at least 1");
        }
        if self.tables == 0 {
            return bad("--tables", "must be at least 1");
        }
        if self.table_size == 0
            || self.table_size > i32::MAX as u32 - crate::workload::transactions::RANGE_SIZE
        {
            return bad(
                "--table-size",
                "must be between 1 and 2147483547 (ids are INTEGER)",
            );
        }
        if self.duration.is_zero() {
            return bad("--duration", "must be more than 0 seconds");
        }
        if self.statement_timeout.is_zero() || self.connect_timeout.is_zero() {
            return bad(
                "--statement-timeout/--connect-timeout",
                "must be more than 0 seconds",
            );
        }
        Ok(())
    }
}

/// A [`BenchConfig`] value that cannot be run, naming the flag.
#[derive(Debug, thiserror::Error)]
#[error("{flag} {message}")]
pub struct BenchConfigError {
    /// The command-line flag (the field of the same name in [`BenchConfig`]).
    pub flag: &'static str,
    /// What is wrong and what is allowed.
    pub message: String,
}

/// Watches a run: live samples, and whether to stop early.
pub trait Observer: Sync {
    /// One interval has ended; `warmup` says whether it is part of the unmeasured warm-up.
    fn sample(&self, _sample: &SecondSample, _warmup: bool) {}
    /// Asked at least once a second; `true` ends the run with an "interrupted" error.
    fn should_stop(&self) -> bool {
        crate::shutdown::interrupted()
    }
}

/// An [`Observer`] that shows nothing and stops on Ctrl-C.
pub struct Quiet;
impl Observer for Quiet {}

/// Runs the benchmark, blocking, on a runtime of its own (one worker thread per CPU, at most one per
/// client).
pub fn run(config: &BenchConfig, observer: &dyn Observer) -> Result<BenchResult> {
    config.validate()?;
    let cpus = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(cpus.min(config.clients as usize).max(1))
        .enable_all()
        .build()
        .context("starting the tokio runtime")?;
    runtime.block_on(run_async(config, observer))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_names_the_flag() {
        let mut c = BenchConfig::new("host=x", Workload::WriteOnly);
        assert!(c.validate().is_ok());
        c.clients = 0;
        assert!(c
            .validate()
            .unwrap_err()
            .to_string()
            .starts_with("--clients"));
        c.clients = 1;
        c.table_size = 0;
        assert!(c
            .validate()
            .unwrap_err()
            .to_string()
            .starts_with("--table-size"));
    }
}
