//! `results.csv`: one row per scenario (every repeat, plus scenarios without a result file), every figure
//! the stored result holds, in plain units (bytes, ms, seconds) for spreadsheets and scripts.

use super::model::ReportModel;
use super::Exporter;
use crate::results::{ScenarioResult, ScenarioStatus};
use anyhow::Result;
use std::path::{Path, PathBuf};

/// The file this exporter writes, relative to the run directory.
pub const FILE: &str = "results.csv";

/// Writes `results.csv`.
pub struct Csv;

impl Exporter for Csv {
    fn export(&self, model: &ReportModel, dir: &Path) -> Result<Vec<PathBuf>> {
        let path = dir.join(FILE);
        crate::fsutil::write_atomic(&path, render(model).as_bytes())?;
        Ok(vec![path])
    }
}

const COLUMNS: &[&str] = &[
    "scenario",
    "workload",
    "clients",
    "mode",
    "repeat",
    "status",
    "reason",
    "elapsed_secs",
    "transactions",
    "statements",
    "errors",
    "tps",
    "qps",
    "latency_min_ms",
    "latency_avg_ms",
    "latency_p50_ms",
    "latency_p95_ms",
    "latency_p99_ms",
    "latency_p999_ms",
    "latency_max_ms",
    "wal_records",
    "wal_fpi",
    "wal_bytes",
    "wal_buffers_full",
    "wal_bytes_per_txn",
    "wal_fpi_per_txn",
    "cpu_us_per_txn",
    "disk_bytes_written_per_txn",
    "checkpoints_started",
    "checkpoints_done",
    "checkpoint_buffers_written",
    "io_writes",
    "io_write_bytes",
    "io_fsyncs",
    "io_reads",
    "io_read_bytes",
    "xact_commit",
    "xact_rollback",
    "blks_read",
    "blks_hit",
    "host_cpu_user_secs",
    "host_cpu_system_secs",
    "host_cpu_iowait_secs",
    "host_cpu_idle_secs",
    "host_disk_read_bytes",
    "host_disk_written_bytes",
    "dw_pages_written",
    "dw_batches",
    "dw_fsyncs",
    "dw_waits",
    "dw_wait_time_us",
    "dw_data_file_syncs",
    "dw_backend_waits",
    "dw_backend_wait_time_us",
    "dw_pages_covered",
    "host_probe_ms",
];

/// The CSV text.
pub fn render(model: &ReportModel) -> String {
    let mut out = COLUMNS.join(",");
    out.push('\n');
    let results = model.groups.iter().flat_map(|g| {
        model
            .modes
            .iter()
            .filter_map(|m| g.cell(m))
            .flat_map(|c| c.results.iter())
    });
    for r in results {
        out.push_str(&row(r).join(","));
        out.push('\n');
    }
    for s in &model.absent {
        let mut cells = vec![
            s.id(),
            s.workload.to_string(),
            s.clients.to_string(),
            s.mode.clone(),
            s.repeat.to_string(),
            "not_run".into(),
        ];
        cells.resize(COLUMNS.len(), String::new());
        out.push_str(&cells.join(","));
        out.push('\n');
    }
    out
}

fn row(r: &ScenarioResult) -> Vec<String> {
    let s = &r.scenario;
    let status = match r.status {
        ScenarioStatus::Completed => "completed",
        ScenarioStatus::Failed => "failed",
        ScenarioStatus::Skipped => "skipped",
    };
    let mut cells = vec![
        s.id(),
        s.workload.to_string(),
        s.clients.to_string(),
        s.mode.clone(),
        s.repeat.to_string(),
        status.to_string(),
        quote(r.reason.as_deref().unwrap_or("")),
    ];
    let n = |v: Option<f64>| {
        v.filter(|v| v.is_finite())
            .map(|v| v.to_string())
            .unwrap_or_default()
    };
    let b = r.bench.as_ref();
    cells.extend([
        n(b.map(|b| b.elapsed_secs)),
        n(b.map(|b| b.transactions as f64)),
        n(b.map(|b| (b.statements.reads + b.statements.writes + b.statements.other) as f64)),
        n(b.map(|b| b.errors.total() as f64)),
        n(b.map(|b| b.tps)),
        n(b.map(|b| b.qps)),
    ]);
    let l = b.map(|b| b.latency);
    cells.extend(
        [
            l.map(|l| l.min_ms),
            l.map(|l| l.avg_ms),
            l.map(|l| l.p50_ms),
            l.map(|l| l.p95_ms),
            l.map(|l| l.p99_ms),
            l.map(|l| l.p999_ms),
            l.map(|l| l.max_ms),
        ]
        .map(n),
    );
    let sv = r.server.as_ref();
    cells.extend(
        ["wal_records", "wal_fpi", "wal_bytes", "wal_buffers_full"]
            .map(|k| n(sv.map(|s| s.wal(k)))),
    );
    let pt = r.per_transaction.as_ref();
    cells.extend([
        n(pt.map(|p| p.wal_bytes)),
        n(pt.map(|p| p.wal_fpi)),
        n(pt.map(|p| p.cpu_us)),
        n(pt.map(|p| p.disk_bytes_written)),
    ]);
    cells.push(if b.is_some() {
        r.checkpoints.len().to_string()
    } else {
        String::new()
    });
    cells.extend(["num_done", "buffers_written"].map(|k| n(sv.map(|s| s.checkpointer(k)))));
    cells.extend(
        ["writes", "write_bytes", "fsyncs", "reads", "read_bytes"]
            .map(|k| n(sv.map(|s| s.io_total(k)))),
    );
    cells.extend(
        ["xact_commit", "xact_rollback", "blks_read", "blks_hit"]
            .map(|k| n(sv.and_then(|s| s.database.get(k).copied()))),
    );
    let h = r.host.as_ref();
    cells.extend([
        n(h.map(|h| h.cpu_user_secs)),
        n(h.map(|h| h.cpu_system_secs)),
        n(h.map(|h| h.cpu_iowait_secs)),
        n(h.map(|h| h.cpu_idle_secs)),
        n(h.map(|h| h.disk_read_bytes)),
        n(h.map(|h| h.disk_written_bytes)),
    ]);
    let dw = sv.and_then(|s| s.double_write.as_ref());
    cells.extend(
        [
            "pages_written",
            "batches",
            "fsyncs",
            "waits",
            "wait_time_us",
            "data_file_syncs",
            "backend_waits",
            "backend_wait_time_us",
            "pages_covered",
        ]
        .map(|k| n(dw.and_then(|d| d.get(k).copied()))),
    );
    cells.push(n(r.host_probe.map(|p| p.median_ms)));
    cells
}

/// A CSV field, quoted when it holds a comma, quote or line break.
fn quote(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_row_per_scenario_with_every_column() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/smoke-run");
        let text = render(&ReportModel::load(&dir).unwrap());
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 1 + 12);
        assert!(lines[1].starts_with("read_write-c4-fpw_off-r1,read_write,4,fpw_off,1,completed,,"));
        let skipped = lines.iter().find(|l| l.contains("dwb_on-r1")).unwrap();
        assert!(
            skipped.contains(",skipped,\"mode dwb_on needs"),
            "{skipped}"
        );
        assert!(skipped.ends_with(",,,,,,,"));
    }

    #[test]
    fn fields_with_commas_are_quoted() {
        assert_eq!(quote("a, \"b\""), "\"a, \"\"b\"\"\"");
        assert_eq!(quote("plain"), "plain");
    }
}
