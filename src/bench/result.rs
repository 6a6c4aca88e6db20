//! The serde model of one benchmark run, as the orchestrator stores it and reports read it back: settings,
//! totals, ignored errors by kind, the latency summary, the whole latency histogram (HDR V2, base64) and
//! the per-second series. Latencies are of committed transactions, recorded in microseconds, reported in
//! milliseconds.

use crate::workload::transactions::{IgnoredError, StatementCounts};
use crate::workload::{Distribution, Workload};
use anyhow::{Context, Result};
use base64::Engine;
use hdrhistogram::serialization::{Deserializer, Serializer, V2Serializer};
use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

/// What was run (everything of [`super::BenchConfig`] but the connection string, which may hold a
/// password).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BenchSettings {
    /// The mix.
    pub workload: Workload,
    /// Concurrent clients (one connection each).
    pub clients: u32,
    /// Measured seconds asked for.
    pub duration_secs: f64,
    /// Unmeasured warm-up seconds before them.
    pub warmup_secs: f64,
    /// How ids were drawn.
    pub distribution: Distribution,
    /// The seed of every client's random stream.
    pub seed: u64,
    /// Tables `sbtest1..N`.
    pub tables: u32,
    /// Rows per table.
    pub table_size: u32,
}

/// Ignored errors (rolled back, run continued) by kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorCounts {
    /// SQLSTATE 40P01.
    pub deadlock: u64,
    /// SQLSTATE 40001.
    pub serialization_failure: u64,
    /// SQLSTATE 23505.
    pub unique_violation: u64,
}

impl ErrorCounts {
    /// Counts one error of `kind`.
    pub fn count(&mut self, kind: IgnoredError) {
        match kind {
            IgnoredError::Deadlock => self.deadlock += 1,
            IgnoredError::SerializationFailure => self.serialization_failure += 1,
            IgnoredError::UniqueViolation => self.unique_violation += 1,
        }
    }

    /// All kinds together.
    pub fn total(&self) -> u64 {
        self.deadlock + self.serialization_failure + self.unique_violation
    }

    /// Adds `other` to `self`.
    pub fn add(&mut self, other: &ErrorCounts) {
        self.deadlock += other.deadlock;
        self.serialization_failure += other.serialization_failure;
        self.unique_violation += other.unique_violation;
    }
}

/// Latency percentiles in milliseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Latency {
    /// Smallest.
    pub min_ms: f64,
    /// Mean.
    pub avg_ms: f64,
    /// Median.
    pub p50_ms: f64,
    /// 95th percentile (sysbench's default report).
    pub p95_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// 99.9th percentile.
    pub p999_ms: f64,
    /// Largest.
    pub max_ms: f64,
}

impl Latency {
    /// The summary of a histogram in microseconds (all zero when it is empty).
    pub fn of(h: &Histogram<u64>) -> Latency {
        if h.is_empty() {
            return Latency::default();
        }
        let ms = |us: u64| us as f64 / 1000.0;
        Latency {
            min_ms: ms(h.min()),
            avg_ms: h.mean() / 1000.0,
            p50_ms: ms(h.value_at_quantile(0.50)),
            p95_ms: ms(h.value_at_quantile(0.95)),
            p99_ms: ms(h.value_at_quantile(0.99)),
            p999_ms: ms(h.value_at_quantile(0.999)),
            max_ms: ms(h.max()),
        }
    }
}

/// One interval of the per-second series (the last one may be shorter).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SecondSample {
    /// Seconds from the start of the measured period to the end of this interval (for the warm-up
    /// samples an observer sees: from the start of the run).
    pub t: f64,
    /// Length of the interval in seconds.
    pub secs: f64,
    /// Transactions committed.
    pub transactions: u64,
    /// Statements executed (BEGIN, COMMIT and ROLLBACK included).
    pub statements: u64,
    /// Ignored errors.
    pub errors: u64,
    /// Latency of the transactions committed in this interval.
    pub latency: Latency,
}

impl SecondSample {
    /// Transactions per second in this interval.
    pub fn tps(&self) -> f64 {
        rate(self.transactions, self.secs)
    }

    /// Statements per second in this interval.
    pub fn qps(&self) -> f64 {
        rate(self.statements, self.secs)
    }
}

fn rate(n: u64, secs: f64) -> f64 {
    if secs > 0.0 {
        n as f64 / secs
    } else {
        0.0
    }
}

/// Everything measured in one run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BenchResult {
    /// What was run.
    pub settings: BenchSettings,
    /// When the measured period began (UTC).
    pub started_at: chrono::DateTime<chrono::Utc>,
    /// Measured seconds, as timed.
    pub elapsed_secs: f64,
    /// Committed transactions.
    pub transactions: u64,
    /// Statements by kind.
    pub statements: StatementCounts,
    /// Ignored errors by kind.
    pub errors: ErrorCounts,
    /// Transactions per second.
    pub tps: f64,
    /// Statements per second (BEGIN and COMMIT included, as sysbench counts them).
    pub qps: f64,
    /// Latency summary of committed transactions.
    pub latency: Latency,
    /// The latency histogram (microseconds): HDR V2 serialization, base64.
    pub histogram: String,
    /// The per-second series.
    pub series: Vec<SecondSample>,
}

impl BenchResult {
    /// The latency histogram (microseconds), decoded.
    pub fn histogram(&self) -> Result<Histogram<u64>> {
        decode_histogram(&self.histogram)
    }
}

/// An HDR histogram as base64 of its V2 serialization.
pub fn encode_histogram(h: &Histogram<u64>) -> Result<String> {
    let mut bytes = Vec::new();
    V2Serializer::new()
        .serialize(h, &mut bytes)
        .map_err(|e| anyhow::anyhow!("serializing the latency histogram: {e:?}"))?;
    Ok(base64::engine::general_purpose::STANDARD.encode(bytes))
}

/// The inverse of [`encode_histogram`].
pub fn decode_histogram(text: &str) -> Result<Histogram<u64>> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text)
        .context("latency histogram: not base64")?;
    Deserializer::new()
        .deserialize(&mut bytes.as_slice())
        .map_err(|e| anyhow::anyhow!("latency histogram: not an HDR V2 serialization: {e:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_round_trips_through_base64() {
        let mut h = Histogram::<u64>::new(3).unwrap();
        for us in [120, 950, 1_000, 25_000, 2_000_000] {
            h.record(us).unwrap();
        }
        let back = decode_histogram(&encode_histogram(&h).unwrap()).unwrap();
        assert_eq!(back, h);
        let lat = Latency::of(&back);
        assert_eq!(lat.min_ms, 0.12);
        assert!((lat.max_ms - 2000.0).abs() < 2.0);
        assert!(decode_histogram("not base64!").is_err());
    }

    #[test]
    fn errors_count_by_kind() {
        let mut e = ErrorCounts::default();
        e.count(IgnoredError::Deadlock);
        e.count(IgnoredError::UniqueViolation);
        e.count(IgnoredError::UniqueViolation);
        assert_eq!((e.deadlock, e.unique_violation, e.total()), (1, 2, 3));
    }
}
