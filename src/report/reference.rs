//! The published figures the report compares against: the article's sysbench table (10 tables x 10M rows,
//! 300 s per run), built in so a report needs nothing but the run directory, and the article's experiment
//! setup (the built-in `article` profile) to say what a run scaled down.

use crate::profile::{PartialProfile, Profile};
use crate::workload::Workload;

/// One row of the published table: QPS, TPS and average latency (ms) for `fpw_off`, `fpw_on`, `dwb_on`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PublishedRow {
    /// The sysbench workload.
    pub workload: Workload,
    /// sysbench threads.
    pub clients: u32,
    /// QPS: off, on, dwb.
    pub qps: [f64; 3],
    /// TPS: off, on, dwb.
    pub tps: [f64; 3],
    /// Average latency in ms: off, on, dwb.
    pub avg_ms: [f64; 3],
}

/// The modes of the published table, in its column order.
pub const PUBLISHED_MODES: [&str; 3] = ["fpw_off", "fpw_on", "dwb_on"];

/// The published table.
pub const PUBLISHED: [PublishedRow; 6] = [
    row(
        Workload::ReadWrite,
        32,
        [360764.0, 158865.0, 260171.0],
        [18038.0, 7943.0, 13009.0],
        [1.77, 4.03, 2.46],
    ),
    row(
        Workload::ReadWrite,
        64,
        [484988.0, 190654.0, 307735.0],
        [24249.0, 9533.0, 15387.0],
        [2.64, 6.71, 4.16],
    ),
    row(
        Workload::ReadWrite,
        128,
        [556021.0, 194301.0, 301791.0],
        [27801.0, 9715.0, 15387.0],
        [4.60, 13.17, 9.81],
    ),
    row(
        Workload::WriteOnly,
        32,
        [318879.0, 108696.0, 188760.0],
        [53146.0, 18116.0, 31460.0],
        [0.60, 1.77, 1.02],
    ),
    row(
        Workload::WriteOnly,
        64,
        [345766.0, 117533.0, 197251.0],
        [57628.0, 19589.0, 32875.0],
        [1.11, 3.27, 1.95],
    ),
    row(
        Workload::WriteOnly,
        128,
        [356725.0, 89144.0, 202884.0],
        [59454.0, 14857.0, 33814.0],
        [2.15, 8.61, 3.78],
    ),
];

const fn row(
    workload: Workload,
    clients: u32,
    qps: [f64; 3],
    tps: [f64; 3],
    avg_ms: [f64; 3],
) -> PublishedRow {
    PublishedRow {
        workload,
        clients,
        qps,
        tps,
        avg_ms,
    }
}

impl PublishedRow {
    /// Published TPS of `mode`, if the article measured it.
    pub fn tps_of(&self, mode: &str) -> Option<f64> {
        PUBLISHED_MODES
            .iter()
            .position(|m| *m == mode)
            .map(|i| self.tps[i])
    }

    /// Published TPS ratio `numerator / denominator` (both modes must be in the article).
    pub fn ratio(&self, numerator: &str, denominator: &str) -> Option<f64> {
        Some(self.tps_of(numerator)? / self.tps_of(denominator)?)
    }
}

/// The published row for a workload and client count.
pub fn published(workload: Workload, clients: u32) -> Option<&'static PublishedRow> {
    PUBLISHED
        .iter()
        .find(|r| r.workload == workload && r.clients == clients)
}

/// The article's experiment as a profile (the built-in `article.toml`, read from the binary so a local
/// `profiles/` directory cannot change it).
pub fn article_profile() -> Profile {
    PartialProfile::from_toml(
        include_str!("../../profiles/article.toml"),
        "built-in article",
    )
    .and_then(|p| p.to_complete("article", "built-in article"))
    .expect("the built-in article profile is valid")
}

/// What `profile` changed relative to the article's setup, one line each (empty when nothing).
pub fn scaled_down(profile: &Profile) -> Vec<String> {
    let a = article_profile();
    let mut out = Vec::new();
    let mut differs = |what: &str, article: String, ours: String| {
        if article != ours {
            out.push(format!("{what}: {ours} (article: {article})"));
        }
    };
    differs(
        "tables",
        a.data.tables.to_string(),
        profile.data.tables.to_string(),
    );
    differs(
        "rows per table",
        a.data.table_size.to_string(),
        profile.data.table_size.to_string(),
    );
    differs(
        "warm-up",
        format!("{} s", a.run.warmup_secs),
        format!("{} s", profile.run.warmup_secs),
    );
    differs(
        "measured",
        format!("{} s", a.run.duration_secs),
        format!("{} s", profile.run.duration_secs),
    );
    differs("clients", join(&a.run.clients), join(&profile.run.clients));
    differs(
        "workloads",
        join(&a.run.workloads),
        join(&profile.run.workloads),
    );
    let keys: std::collections::BTreeSet<&String> =
        a.server.keys().chain(profile.server.keys()).collect();
    for key in keys {
        let show = |p: &Profile| {
            p.server
                .get(key)
                .map(|v| v.to_string())
                .unwrap_or_else(|| "default".into())
        };
        differs(key, show(&a), show(profile));
    }
    let cap = |p: &Profile| {
        p.host
            .memory_limit
            .as_ref()
            .map(|l| format!("capped at {l}, page cache included"))
            .unwrap_or_else(|| "the machine's".into())
    };
    differs("server memory", cap(&a), cap(profile));
    out
}

fn join<T: std::fmt::Display>(items: &[T]) -> String {
    items
        .iter()
        .map(|i| i.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn published_ratios_read_the_table() {
        let r = published(Workload::WriteOnly, 128).unwrap();
        assert_eq!(r.tps_of("dwb_on"), Some(33814.0));
        assert!((r.ratio("fpw_on", "fpw_off").unwrap() - 14857.0 / 59454.0).abs() < 1e-12);
        assert_eq!(r.ratio("fpw_lz4", "fpw_off"), None);
        assert!(published(Workload::WriteOnly, 4).is_none());
    }

    #[test]
    fn the_article_profile_is_not_scaled_down() {
        assert!(scaled_down(&article_profile()).is_empty());
        let mut small = article_profile();
        small.data.table_size = 1_000_000;
        small.run.duration_secs = 40;
        let lines = scaled_down(&small);
        assert_eq!(lines.len(), 2, "{lines:?}");
        assert!(
            lines[0].contains("1000000 (article: 10000000)"),
            "{lines:?}"
        );
    }
}
