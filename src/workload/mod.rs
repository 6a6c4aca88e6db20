//! The sysbench-compatible OLTP load: which transaction mixes exist and how ids are drawn
//! ([`random`]), the schema ([`schema`]) and its fast loader ([`loader`]), and the statements of each
//! transaction ([`transactions`]). The measured loop that runs them lives in [`crate::bench`].
//!
//! The orchestrator's entry points: [`prepare`] (blocking) or [`prepare_async`] with a
//! [`PrepareOptions`], which drop and recreate `sbtest1..N`, COPY the rows several tables at a time, then
//! build `sbtestN_pkey` and `k_N` and ANALYZE; [`drop_tables`] for a clean rerun.

pub mod loader;
pub mod random;
pub mod schema;
pub mod transactions;

pub use loader::{
    drop_tables, prepare, prepare_async, NoProgress, PrepareOptions, PrepareProgress, PrepareStats,
};

use anyhow::Context;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// A transaction mix, named as sysbench names its scripts (without the `oltp_` prefix).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Workload {
    /// sysbench `oltp_read_write`: 20 statements per transaction, BEGIN and COMMIT included.
    ReadWrite,
    /// sysbench `oltp_write_only`: 6 statements per transaction, BEGIN and COMMIT included.
    WriteOnly,
}

impl Workload {
    /// Every workload, in the order reports list them.
    pub const ALL: [Workload; 2] = [Workload::ReadWrite, Workload::WriteOnly];

    /// The name used in profiles, file names and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Workload::ReadWrite => "read_write",
            Workload::WriteOnly => "write_only",
        }
    }

    /// Statements per transaction as sysbench counts them for QPS (BEGIN and COMMIT included).
    pub fn statements_per_transaction(self) -> u32 {
        match self {
            Workload::ReadWrite => 20,
            Workload::WriteOnly => 6,
        }
    }
}

impl fmt::Display for Workload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Workload {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "read_write" | "oltp_read_write" => Ok(Workload::ReadWrite),
            "write_only" | "oltp_write_only" => Ok(Workload::WriteOnly),
            other => Err(format!(
                "unknown workload `{other}` (allowed: read_write, write_only)"
            )),
        }
    }
}

/// How row ids are drawn, with sysbench's names for its `--rand-type` choices.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Distribution {
    /// Every id equally likely: the IO-bound choice, and the profiles' default.
    #[default]
    Uniform,
    /// sysbench 1.0's default: 1% of the values drawn 75% of the time.
    Special,
    /// Normal around the middle of the id range.
    Gaussian,
    /// Pareto with sysbench's default h = 0.2.
    Pareto,
    /// Zipfian with sysbench's default exponent 0.8.
    Zipfian,
}

impl Distribution {
    /// The name used in profiles and on the command line (sysbench's `--rand-type` value).
    pub fn name(self) -> &'static str {
        match self {
            Distribution::Uniform => "uniform",
            Distribution::Special => "special",
            Distribution::Gaussian => "gaussian",
            Distribution::Pareto => "pareto",
            Distribution::Zipfian => "zipfian",
        }
    }
}

impl fmt::Display for Distribution {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Distribution {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "uniform" => Ok(Distribution::Uniform),
            "special" => Ok(Distribution::Special),
            "gaussian" => Ok(Distribution::Gaussian),
            "pareto" => Ok(Distribution::Pareto),
            "zipfian" => Ok(Distribution::Zipfian),
            other => Err(format!(
                "unknown distribution `{other}` (allowed: uniform, special, gaussian, pareto, zipfian)"
            )),
        }
    }
}

/// Parses a libpq-style connection string or `postgres://` URL and sets the connect timeout.
pub fn pg_config(
    conn: &str,
    connect_timeout: std::time::Duration,
) -> anyhow::Result<tokio_postgres::Config> {
    let mut config: tokio_postgres::Config = conn
        .parse()
        .with_context(|| format!("connection string `{conn}`"))?;
    config.connect_timeout(connect_timeout);
    if config.get_application_name().is_none() {
        config.application_name("tornbench");
    }
    Ok(config)
}
