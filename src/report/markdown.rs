//! `report.md`: the sections the reports issue asks for, in its order — the published table's layout,
//! relative throughput, latency, what each mode cost, the published ratios next to ours, the environment,
//! and what is missing or noisy — with the charts embedded by relative path.

use super::charts;
use super::model::{Cell, Costs, Group, ReportModel};
use super::reference::{self, PUBLISHED};
use super::speed;
use super::stats::{self, Summary};
use super::table::{bytes, left, num, percent, right, Table};
use super::Exporter;
use crate::profile::mode::{ModeBuild, BASELINE_MODE};
use crate::results::ScenarioStatus;
use anyhow::Result;
use std::fmt::Write;
use std::path::{Path, PathBuf};

/// The file this exporter writes, relative to the run directory.
pub const FILE: &str = "report.md";

/// Writes `report.md`.
pub struct Markdown;

impl Exporter for Markdown {
    fn export(&self, model: &ReportModel, dir: &Path) -> Result<Vec<PathBuf>> {
        let path = dir.join(FILE);
        crate::fsutil::write_atomic(&path, render(model).as_bytes())?;
        Ok(vec![path])
    }
}

/// The whole report as markdown.
pub fn render(model: &ReportModel) -> String {
    let mut out = String::new();
    header(&mut out, model);
    published_layout(&mut out, model);
    relative(&mut out, model);
    latency(&mut out, model);
    costs(&mut out, model);
    against_published(&mut out, model);
    environment(&mut out, model);
    missing_and_noise(&mut out, model);
    crash_test(&mut out, model);
    out
}

/// Section 8: the torn-page crash test stored with the run, under its own numbered heading.
fn crash_test(out: &mut String, m: &ReportModel) {
    let _ = writeln!(out, "## 8. Torn-page crash test\n");
    match &m.crash_test {
        Some(text) => {
            let body = text
                .lines()
                .skip_while(|l| l.trim().is_empty() || l.starts_with("## "));
            for line in body {
                let _ = writeln!(out, "{line}");
            }
            let _ = writeln!(
                out,
                "\nFull results: [`crash/crash.json`](crash/crash.json)."
            );
        }
        None => {
            let _ = writeln!(
                out,
                "No crash test is stored with this run; `tornbench crash-test --out <run-dir>/crash` adds one, \
                 and `tornbench report <run-dir>` then includes it here."
            );
        }
    }
}

/// The cell's figure, or why there is none.
fn figure(cell: Option<&Cell>, f: impl Fn(&Cell) -> Option<f64>, decimals: usize) -> String {
    match Cell::gap(cell) {
        Some(gap) => gap.word().to_string(),
        None => num(cell.and_then(f), decimals),
    }
}

fn chart(out: &mut String, file: &str, alt: &str) {
    let _ = writeln!(out, "![{alt}]({file})\n");
}

fn header(out: &mut String, m: &ReportModel) {
    let p = &m.manifest.profile;
    let _ = writeln!(out, "# tornbench report: {}\n", m.manifest.run_id);
    let _ = writeln!(
        out,
        "Profile **{}** ({}): {} x {} rows, {} s warm-up + {} s measured per scenario, {} repeat(s). \
         PostgreSQL {}. Run started {}.\n",
        p.name,
        p.description,
        p.data.tables,
        p.data.table_size,
        p.run.warmup_secs,
        p.run.duration_secs,
        p.run.repeats,
        m.manifest.postgres.version,
        m.manifest.created_at.format("%Y-%m-%d %H:%M UTC"),
    );
    let mut warned = false;
    for mode in &m.modes {
        let cells: Vec<Option<&Cell>> = m.groups.iter().map(|g| g.cell(mode)).collect();
        let measured = cells.iter().filter(|c| Cell::gap(**c).is_none()).count();
        if measured < cells.len() {
            let _ = writeln!(
                out,
                "> **{mode}: measured in {measured} of {} scenarios.** The others were skipped, failed or not run; \
                 the reasons are under [Missing, failed, and noise](#7-missing-failed-and-noise).",
                cells.len()
            );
            warned = true;
        }
    }
    if warned {
        out.push('\n');
    }
    let _ = writeln!(
        out,
        "Figures are means over completed repeats; every ratio is relative to `{BASELINE_MODE}` \
         (no torn-page protection) in the same scenario.\n"
    );
}

fn published_layout(out: &mut String, m: &ReportModel) {
    let _ = writeln!(
        out,
        "## 1. Throughput and latency (the published table's layout)\n"
    );
    let mut headers = vec![left("Scenario"), right("Concurrency")];
    for metric in ["QPS", "TPS", "avg ms"] {
        headers.extend(m.modes.iter().map(|mode| right(format!("{metric} {mode}"))));
    }
    let mut t = Table::new(headers);
    for g in &m.groups {
        let mut row = vec![g.workload.to_string(), g.clients.to_string()];
        row.extend(
            m.modes
                .iter()
                .map(|mode| figure(g.cell(mode), |c| Some(c.qps()?.mean), 0)),
        );
        row.extend(
            m.modes
                .iter()
                .map(|mode| figure(g.cell(mode), |c| Some(c.tps()?.mean), 0)),
        );
        row.extend(
            m.modes
                .iter()
                .map(|mode| figure(g.cell(mode), |c| Some(c.latency()?.avg_ms), 2)),
        );
        t.push(row);
    }
    out.push_str(&t.to_markdown());
    out.push('\n');
    chart(
        out,
        charts::TPS_FILE,
        "TPS per mode, by workload and clients",
    );
    chart(
        out,
        charts::QPS_FILE,
        "QPS per mode, by workload and clients",
    );
    chart(
        out,
        charts::LATENCY_FILE,
        "Average latency per mode, by workload and clients",
    );
}

fn relative(out: &mut String, m: &ReportModel) {
    let _ = writeln!(out, "## 2. Relative throughput\n");
    let pairs = m.stock_pairs();
    let _ = writeln!(
        out,
        "Each mode's TPS as a percentage of `{BASELINE_MODE}` in the same scenario{}.\n",
        if pairs.is_empty() {
            ""
        } else {
            "; a column `X / X_stock` is a mode of the run's build against the same settings on the stock build"
        }
    );
    let has = |mode: &str| m.modes.iter().any(|x| x == mode);
    let dwb_vs_fpw = has("dwb_on") && has("fpw_on");
    let mut headers = vec![left("Scenario"), right("Concurrency")];
    headers.extend(
        m.compared_modes()
            .map(|mode| right(format!("{mode} / {BASELINE_MODE}"))),
    );
    if dwb_vs_fpw {
        headers.push(right("dwb_on / fpw_on"));
    }
    headers.extend(
        pairs
            .iter()
            .map(|(patched, stock)| right(format!("{patched} / {stock}"))),
    );
    let mut t = Table::new(headers);
    for g in &m.groups {
        let mut row = vec![g.workload.to_string(), g.clients.to_string()];
        row.extend(
            m.compared_modes()
                .map(|mode| ratio_cell(g, mode, BASELINE_MODE)),
        );
        if dwb_vs_fpw {
            row.push(ratio_cell(g, "dwb_on", "fpw_on"));
        }
        row.extend(
            pairs
                .iter()
                .map(|(patched, stock)| ratio_cell(g, patched, stock)),
        );
        t.push(row);
    }
    out.push_str(&t.to_markdown());
    out.push('\n');
    chart(
        out,
        charts::RELATIVE_FILE,
        "TPS as % of fpw_off, with the published ratios as marks",
    );
}

fn ratio_cell(g: &Group, numerator: &str, denominator: &str) -> String {
    match Cell::gap(g.cell(numerator)).or(Cell::gap(g.cell(denominator))) {
        Some(gap) => gap.word().to_string(),
        None => percent(g.tps_ratio(numerator, denominator)),
    }
}

fn latency(out: &mut String, m: &ReportModel) {
    let _ = writeln!(out, "## 3. Latency\n");
    let _ = writeln!(
        out,
        "Milliseconds per committed transaction; with repeats, percentiles of all repeats' transactions together.\n"
    );
    let mut t = Table::new(vec![
        left("Scenario"),
        right("Concurrency"),
        left("Mode"),
        right("p50"),
        right("p95"),
        right("p99"),
        right("p99.9"),
        right("max"),
    ]);
    for g in &m.groups {
        for mode in &m.modes {
            let mut row = vec![g.workload.to_string(), g.clients.to_string(), mode.clone()];
            match (
                Cell::gap(g.cell(mode)),
                g.cell(mode).and_then(Cell::latency),
            ) {
                (None, Some(l)) => row.extend(
                    [l.p50_ms, l.p95_ms, l.p99_ms, l.p999_ms, l.max_ms].map(|v| num(Some(v), 2)),
                ),
                (gap, _) => row.push(gap.map(|g| g.word()).unwrap_or("—").to_string()),
            }
            t.push(row);
        }
    }
    out.push_str(&t.to_markdown());
    out.push('\n');
    let _ = writeln!(
        out,
        "Throughput through each measured window, one line per mode (and repeat); dashed vertical lines in the mode's colour mark \
         checkpoint starts, where full-page writes make throughput drop.\n"
    );
    for g in &m.groups {
        chart(
            out,
            &charts::throughput_file(g),
            &format!("TPS per second, {}", g.label()),
        );
    }
}

fn costs(out: &mut String, m: &ReportModel) {
    let _ = writeln!(out, "## 4. What each mode cost\n");
    let _ = writeln!(
        out,
        "Per committed transaction over the measured windows (pooled over repeats); checkpoints and double-write \
         figures per measured window. CPU and disk are the whole host's. DW pages are the copies written to \
         the double-write area; DW covered are the page writes that relied on an earlier copy of the page \
         instead (`double_write_reuse_copies`). DW data-file fsyncs are the ones made \
         to recycle double-write slots; Backend DW wait is the client backends' time spent waiting for the \
         double-write buffer, as a share of clients x measured time.\n"
    );
    let mut t = Table::new(vec![
        left("Scenario"),
        right("Concurrency"),
        left("Mode"),
        right("WAL bytes/txn"),
        right("FPI/txn"),
        right("Checkpoints"),
        right("CPU µs/txn"),
        right("Disk written/txn"),
        right("DW pages"),
        right("DW covered"),
        right("DW fsyncs"),
        right("DW data-file fsyncs"),
        right("Backend DW wait"),
    ]);
    push_cost_rows(&mut t, m, |_, c| {
        vec![
            num(c.wal_bytes_per_txn, 0),
            num(c.wal_fpi_per_txn, 3),
            num(Some(c.checkpoints_per_run), 1),
            num(c.cpu_us_per_txn, 0),
            bytes(c.disk_bytes_per_txn),
            num(c.dw_pages_per_run, 0),
            num(c.dw_covered_per_run, 0),
            num(c.dw_fsyncs_per_run, 0),
            num(c.dw_data_file_syncs_per_run, 0),
            percent(c.dw_backend_wait_share),
        ]
    });
    out.push_str(&t.to_markdown());
    out.push('\n');
    if !m.manifest.postgres.has_double_write {
        let _ = writeln!(
            out,
            "The DW columns are `—`: this build has no double-write buffer (no `pg_stat_double_write`).\n"
        );
    }
    written_bytes_table(out, m);
    memory_cap_table(out, m);
    chart(out, charts::WAL_FILE, "WAL bytes per transaction per mode");
}

/// Where each mode's disk writes went: the WAL, the double-write area's copies, and the rest (mostly data
/// files). Full-page writes pay in WAL, the double-write buffer in copies; the rest shows how much of the
/// data-file writing the page cache absorbed before it reached the disk.
fn written_bytes_table(out: &mut String, m: &ReportModel) {
    let _ = writeln!(
        out,
        "Where the disk writes went, per committed transaction: the WAL the server generated, the page copies \
         written to the double-write area (DW pages x 8 KiB), and the rest of what the host wrote. The rest is \
         mostly data-file writes; it also holds the rewrites of partly filled WAL pages at each flush. A data \
         page written again before it reached the disk costs the disk nothing more, so a smaller rest means \
         the page cache absorbed more of the data-file writes.\n"
    );
    let mut t = Table::new(vec![
        left("Scenario"),
        right("Concurrency"),
        left("Mode"),
        right("Disk written/txn"),
        right(format!("of {BASELINE_MODE}'s")),
        right("WAL/txn"),
        right("DW copies/txn"),
        right("Rest/txn"),
    ]);
    push_cost_rows(&mut t, m, |g, c| {
        let baseline = g
            .cell(BASELINE_MODE)
            .and_then(Cell::costs)
            .and_then(|b| b.disk_bytes_per_txn);
        vec![
            bytes(c.disk_bytes_per_txn),
            percent(c.disk_bytes_per_txn.zip(baseline).map(|(d, b)| d / b)),
            bytes(c.wal_bytes_per_txn),
            bytes(c.dw_bytes_per_txn),
            bytes(c.rest_written_per_txn()),
        ]
    });
    out.push_str(&t.to_markdown());
    out.push('\n');
}

/// One row per workload, client count and mode: the scenario, then `cells` of the mode's costs (given its
/// group), or the word for why there are none.
fn push_cost_rows(t: &mut Table, m: &ReportModel, cells: impl Fn(&Group, &Costs) -> Vec<String>) {
    for g in &m.groups {
        for mode in &m.modes {
            let mut row = vec![g.workload.to_string(), g.clients.to_string(), mode.clone()];
            match (Cell::gap(g.cell(mode)), g.cell(mode).and_then(Cell::costs)) {
                (None, Some(c)) => row.extend(cells(g, &c)),
                (gap, _) => row.push(gap.map(|g| g.word()).unwrap_or("—").to_string()),
            }
            t.push(row);
        }
    }
}

/// With `[host] memory_limit`, how much each mode read from disk and how close its server came to the cap:
/// the evidence that the run really was IO-bound.
fn memory_cap_table(out: &mut String, m: &ReportModel) {
    let Some(limit) = &m.manifest.profile.host.memory_limit else {
        return;
    };
    let _ = writeln!(
        out,
        "Each server ran in a memory cgroup capped at {limit}, its page cache included, so data beyond the cap \
         was read from disk. Disk read is the whole host's per committed transaction; peak is the server's \
         highest memory charge, processes and page cache together.\n"
    );
    let mut t = Table::new(vec![
        left("Scenario"),
        right("Concurrency"),
        left("Mode"),
        right("Disk read/txn"),
        right("Peak server memory"),
    ]);
    push_cost_rows(&mut t, m, |_, c| {
        vec![
            bytes(c.disk_read_bytes_per_txn),
            bytes(c.server_memory_peak_bytes.map(|b| b as f64)),
        ]
    });
    out.push_str(&t.to_markdown());
    out.push('\n');
}

fn against_published(out: &mut String, m: &ReportModel) {
    let _ = writeln!(out, "## 5. Against the published figures\n");
    let _ = writeln!(
        out,
        "The article ran sysbench on 10 x 10M rows for 300 s per run on other hardware, so only ratios compare. \
         *pub* = published, *ours* = this run.\n"
    );
    let pairs = [
        ("fpw_on", "fpw_off"),
        ("dwb_on", "fpw_off"),
        ("dwb_on", "fpw_on"),
    ];
    let mut headers = vec![left("Scenario"), right("Concurrency")];
    for (a, b) in pairs {
        headers.push(right(format!("{a}/{b} pub")));
        headers.push(right(format!("{a}/{b} ours")));
    }
    let mut t = Table::new(headers);
    let mut keys: Vec<(crate::workload::Workload, u32)> =
        PUBLISHED.iter().map(|r| (r.workload, r.clients)).collect();
    for g in &m.groups {
        if !keys.contains(&(g.workload, g.clients)) {
            keys.push((g.workload, g.clients));
        }
    }
    for (workload, clients) in keys {
        let published = reference::published(workload, clients);
        let group = m
            .groups
            .iter()
            .find(|g| g.workload == workload && g.clients == clients);
        let mut row = vec![workload.to_string(), clients.to_string()];
        for (a, b) in pairs {
            row.push(percent(published.and_then(|p| p.ratio(a, b))));
            row.push(match group {
                Some(g) => ratio_cell(g, a, b),
                None => "not run".to_string(),
            });
        }
        t.push(row);
    }
    out.push_str(&t.to_markdown());
    out.push('\n');
}

/// What the environment table says of a `--pg-bin` installation tornbench did not build.
const UNKNOWN_BUILD: &str = "unknown (--pg-bin)";

fn environment(out: &mut String, m: &ReportModel) {
    let man = &m.manifest;
    let (mc, pg, p) = (&man.machine, &man.postgres, &man.profile);
    let _ = writeln!(out, "## 6. Environment\n");
    let mut t = Table::new(vec![left("What"), left("Value")]);
    let mut add = |k: &str, v: String| t.push(vec![k.to_string(), v]);
    add(
        "Machine",
        format!(
            "{}, {} CPUs, {:.1} GiB RAM",
            mc.cpu_model,
            mc.cpus,
            mc.memory_bytes as f64 / (1u64 << 30) as f64
        ),
    );
    add("OS / kernel", format!("{} / {}", mc.os, mc.kernel));
    add("Data file system", mc.data_filesystem.clone());
    add(
        "PostgreSQL",
        format!(
            "{} ({})",
            pg.version,
            if pg.has_double_write {
                "with the double-write patch"
            } else {
                "no double-write patch"
            }
        ),
    );
    add(
        "Patches",
        if pg.patch_hash.is_none() {
            UNKNOWN_BUILD.to_string()
        } else if pg.patches.is_empty() {
            "none".to_string()
        } else {
            pg.patches
                .iter()
                .map(|p| format!("{} ({})", p.name, &p.sha256[..p.sha256.len().min(12)]))
                .collect::<Vec<_>>()
                .join(", ")
        },
    );
    add(
        "Patch hash",
        pg.patch_hash
            .clone()
            .unwrap_or_else(|| UNKNOWN_BUILD.to_string()),
    );
    add("Configure flags", pg.configure_flags.join(" "));
    if let Some(stock) = &pg.stock_build {
        add(
            "Stock build",
            format!(
                "{} without patches ({stock}), for the modes marked *stock*",
                pg.version
            ),
        );
    }
    add("Profile", format!("{} ({})", p.name, p.origin));
    add(
        "Data",
        format!(
            "{} tables x {} rows, {:?} distribution, seed {}",
            p.data.tables, p.data.table_size, p.run.distribution, p.run.seed
        )
        .to_lowercase(),
    );
    add(
        "Timing",
        format!(
            "{} s warm-up + {} s measured, {} repeat(s), order {:?}, rebuild {:?}",
            p.run.warmup_secs, p.run.duration_secs, p.run.repeats, p.run.order, p.run.rebuild
        )
        .to_lowercase(),
    );
    add(
        "Server settings",
        p.server
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(", "),
    );
    if let Some(limit) = &p.host.memory_limit {
        add(
            "Server memory cap",
            format!("{limit} per server, page cache included (a memory cgroup)"),
        );
    }
    add(
        "Modes",
        m.modes
            .iter()
            .map(|name| match p.modes.get(name) {
                Some(mode) if mode.build == ModeBuild::Stock => {
                    format!("{name} (*stock*): {}", mode.description)
                }
                Some(mode) => format!("{name}: {}", mode.description),
                None => name.clone(),
            })
            .collect::<Vec<_>>()
            .join("; "),
    );
    add(
        "Tool",
        format!("tornbench {} ({})", man.tool.version, man.tool.git_revision),
    );
    out.push_str(&t.to_markdown());
    out.push('\n');
    let scaled = reference::scaled_down(p);
    if scaled.is_empty() {
        let _ = writeln!(out, "Nothing was scaled down from the article's setup.\n");
    } else {
        let _ = writeln!(out, "Scaled down or changed from the article's setup:\n");
        for line in scaled {
            let _ = writeln!(out, "- {line}");
        }
        out.push('\n');
    }
    for note in &man.notes {
        let _ = writeln!(out, "> {note}\n");
    }
}

/// Above this share of CPU time taken by the hypervisor, a window's figures are flagged as disturbed.
const STEAL_WARN_SHARE: f64 = 0.05;

/// One paragraph on CPU steal in the measured windows, when they recorded it: on a shared virtual machine
/// it slows some windows and not others, which no repeat count can tell apart from the modes' own effect.
fn steal_note(out: &mut String, m: &ReportModel) {
    let Some(steal) = m.steal() else {
        return;
    };
    let _ = write!(
        out,
        "CPU steal (time the hypervisor ran other guests while this machine wanted its CPUs) over {} measured \
         window(s): mean {}, highest {} (`{}`).",
        steal.windows,
        percent(Some(steal.mean_share)),
        percent(Some(steal.max_share)),
        steal.max_scenario
    );
    if steal.max_share > STEAL_WARN_SHARE {
        let _ = write!(
            out,
            " Windows above {} lost CPU time the others did not: compare their figures with care, or rerun them \
             with `--only`.",
            percent(Some(STEAL_WARN_SHARE))
        );
    }
    out.push_str("\n\n");
}

fn missing_and_noise(out: &mut String, m: &ReportModel) {
    let _ = writeln!(out, "## 7. Missing, failed, and noise\n");
    let mut t = Table::new(vec![left("Scenario"), left("Status"), left("Reason")]);
    for r in m.not_measured() {
        let status = match r.status {
            ScenarioStatus::Failed => "failed",
            ScenarioStatus::Skipped => "skipped",
            ScenarioStatus::Completed => "completed",
        };
        t.push(vec![
            r.scenario.id(),
            status.to_string(),
            r.reason.clone().unwrap_or_default().replace('\n', " "),
        ]);
    }
    for s in &m.absent {
        t.push(vec![
            s.id(),
            "not run".to_string(),
            "no result file: the run was interrupted or left it out (--only)".to_string(),
        ]);
    }
    if t.is_empty() {
        let _ = writeln!(out, "Every scenario of the profile completed.\n");
    } else {
        out.push_str(&t.to_markdown());
        out.push('\n');
    }
    steal_note(out, m);
    if !m.has_repeats() {
        let _ = writeln!(
            out,
            "One repeat per scenario: no confidence interval or significance test is possible. \
             Run with `--repeats 3` or more to see whether the differences are larger than the noise.\n"
        );
        return;
    }
    let conf = stats::CONFIDENCE * 100.0;
    let _ = writeln!(
        out,
        "TPS over repeats: mean ± half-width of the {conf:.0}% confidence interval (Student's t), and Welch's t-test of \
         each mode's difference from `{BASELINE_MODE}`: *yes* when p < {:.2}, i.e. the difference is larger than the noise.\n",
        1.0 - stats::CONFIDENCE
    );
    let mut t = Table::new(vec![
        left("Scenario"),
        right("Concurrency"),
        left("Mode"),
        right("n"),
        right("TPS mean"),
        right(format!("± {conf:.0}% CI")),
        right("min – max"),
        right(format!("Δ vs {BASELINE_MODE}")),
        right("p"),
        left("Beyond noise?"),
    ]);
    for g in &m.groups {
        let base = g
            .cell(BASELINE_MODE)
            .map(Cell::tps_values)
            .unwrap_or_default();
        for mode in &m.modes {
            let mut row = vec![g.workload.to_string(), g.clients.to_string(), mode.clone()];
            let values = g.cell(mode).map(Cell::tps_values).unwrap_or_default();
            let Some(s) = Summary::of(&values) else {
                row.push("0".to_string());
                row.push(
                    Cell::gap(g.cell(mode))
                        .map(|g| g.word())
                        .unwrap_or("—")
                        .to_string(),
                );
                t.push(row);
                continue;
            };
            let (lo, hi) = values
                .iter()
                .fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), v| {
                    (l.min(*v), h.max(*v))
                });
            row.extend([
                s.n.to_string(),
                num(Some(s.mean), 0),
                match s.ci_half_width {
                    Some(h) => format!(
                        "{} ({})",
                        num(Some(h), 0),
                        percent(s.ci_percent().map(|p| p / 100.0))
                    ),
                    None => "—".to_string(),
                },
                format!("{} – {}", num(Some(lo), 0), num(Some(hi), 0)),
            ]);
            if mode == BASELINE_MODE {
                row.extend(["baseline".to_string(), String::new(), String::new()]);
            } else {
                row.extend(welch_cells(&base, &values));
            }
            t.push(row);
        }
    }
    out.push_str(&t.to_markdown());
    out.push('\n');
    stock_noise(out, m);
    host_speed(out, m);
}

/// TPS against the host-speed probe, and each mode's TPS at one common host speed.
fn host_speed(out: &mut String, m: &ReportModel) {
    let fits: Vec<(&Group, Vec<&String>, speed::SpeedFit)> = m
        .groups
        .iter()
        .filter_map(|g| {
            let (modes, windows): (Vec<&String>, Vec<_>) = m
                .modes
                .iter()
                .map(|mode| (mode, g.cell(mode).map(Cell::probed_tps).unwrap_or_default()))
                .filter(|(_, w)| !w.is_empty())
                .unzip();
            Some((g, modes, speed::fit(&windows)?))
        })
        .collect();
    if fits.is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        "Host speed. Once a second in every measured window a probe timed one fixed memory-bound task in its \
         own thread's CPU time (`host_probe_ms` in results.csv, the window's median; higher means a slower \
         host: other guests were loading the caches and memory this machine shares). *Explained* is the share \
         of the spread of each mode's TPS over its repeats that goes with the probe (pooled r²). *At common \
         speed* moves each mode's mean TPS to the scenario's mean probe time along one slope fitted within \
         the modes (analysis of covariance). The probe runs beside the load, so a mode that loads memory \
         more reads a little slower: compare the modes' mean probe times before trusting an adjusted ratio \
         far from the raw one.\n"
    );
    let mut t = Table::new(vec![
        left("Scenario"),
        right("Concurrency"),
        left("Mode"),
        right("n"),
        right("probe ms"),
        right("TPS mean"),
        right("at common speed"),
        right(format!("/ {BASELINE_MODE} raw")),
        right(format!("/ {BASELINE_MODE} at common speed")),
        right("Explained"),
    ]);
    for (g, modes, fit) in &fits {
        let base = modes.iter().position(|mode| *mode == BASELINE_MODE);
        for (i, mode) in modes.iter().enumerate() {
            let raw_ratio = base.map(|b| fit.mean_tps[i] / fit.mean_tps[b]);
            let adjusted_ratio = base.map(|b| fit.adjusted_tps[i] / fit.adjusted_tps[b]);
            let show_ratio = |r: Option<f64>| {
                if Some(i) == base {
                    "baseline".to_string()
                } else {
                    percent(r)
                }
            };
            t.push(vec![
                g.workload.to_string(),
                g.clients.to_string(),
                mode.to_string(),
                fit.windows[i].to_string(),
                num(Some(fit.mean_probe_ms[i]), 1),
                num(Some(fit.mean_tps[i]), 0),
                num(Some(fit.adjusted_tps[i]), 0),
                show_ratio(raw_ratio),
                show_ratio(adjusted_ratio),
                if i == 0 {
                    percent(Some(fit.explained))
                } else {
                    String::new()
                },
            ]);
        }
    }
    out.push_str(&t.to_markdown());
    out.push('\n');
}

/// The difference (`b` minus `a`) with its interval, p and the verdict, as three table cells.
fn welch_cells(a: &[f64], b: &[f64]) -> [String; 3] {
    match stats::welch(a, b) {
        Some(w) => [
            format!("{:+.0} ± {:.0}", w.difference, w.ci_half_width),
            format!("{:.3}", w.p_value),
            if w.significant() { "yes" } else { "no" }.to_string(),
        ],
        None => [
            "—".to_string(),
            "—".to_string(),
            "no test: needs 2+ repeats of both".to_string(),
        ],
    }
}

/// Welch's t-test of each mode of the run's build against the same settings on the stock build.
fn stock_noise(out: &mut String, m: &ReportModel) {
    let pairs = m.stock_pairs();
    if pairs.is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        "The patched build against the stock build, the same settings: Welch's t-test of the TPS difference \
         (patched minus stock).\n"
    );
    let mut t = Table::new(vec![
        left("Scenario"),
        right("Concurrency"),
        left("Patched"),
        left("Stock"),
        right("Patched / stock"),
        right("Δ TPS"),
        right("p"),
        left("Beyond noise?"),
    ]);
    for g in &m.groups {
        for (patched, stock) in &pairs {
            let values = |mode: &str| g.cell(mode).map(Cell::tps_values).unwrap_or_default();
            let mut row = vec![
                g.workload.to_string(),
                g.clients.to_string(),
                patched.clone(),
                stock.clone(),
                ratio_cell(g, patched, stock),
            ];
            row.extend(welch_cells(&values(stock), &values(patched)));
            t.push(row);
        }
    }
    out.push_str(&t.to_markdown());
    out.push('\n');
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::model::tests::{fixture, fixture_with_steal};

    #[test]
    fn the_written_bytes_table_splits_each_modes_disk_writes_and_compares_them_with_the_baseline() {
        let m = fixture();
        let mut out = String::new();
        written_bytes_table(&mut out, &m);
        let g = &m.groups[1];
        let on = g.cell("fpw_on").and_then(Cell::costs).unwrap();
        let off = g.cell("fpw_off").and_then(Cell::costs).unwrap();
        let share = percent(Some(
            on.disk_bytes_per_txn.unwrap() / off.disk_bytes_per_txn.unwrap(),
        ));
        let row = format!(
            "| write_only | 4 | fpw_on | {} | {share} | {} | — | {} |",
            bytes(on.disk_bytes_per_txn),
            bytes(on.wal_bytes_per_txn),
            bytes(on.rest_written_per_txn()),
        );
        let rows: Vec<String> = out
            .lines()
            .filter(|l| l.starts_with("| write_only"))
            .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
            .collect();
        assert!(rows.contains(&row), "{row}\n{out}");
        assert!(rows
            .iter()
            .any(|r| r.starts_with("| write_only | 4 | fpw_off |") && r.contains("| 100.0% |")));
        assert!(
            rows.iter()
                .any(|r| r.starts_with("| write_only | 4 | dwb_on | skipped")),
            "{out}"
        );
    }

    #[test]
    fn steal_is_reported_and_flagged_only_when_recorded() {
        let mut plain = String::new();
        steal_note(&mut plain, &fixture());
        assert_eq!(plain, "");
        let mut noted = String::new();
        steal_note(&mut noted, &fixture_with_steal());
        assert!(
            noted.contains(
                "over 2 measured window(s): mean 6.0%, highest 10.0% (`write_only-c4-fpw_on-r2`)"
            ),
            "{noted}"
        );
        assert!(noted.contains("compare their figures with care"), "{noted}");
    }

    #[test]
    fn host_speed_appears_only_with_probe_results_and_compares_modes_at_one_speed() {
        let mut plain = String::new();
        host_speed(&mut plain, &fixture());
        assert_eq!(plain, "");

        let mut m = fixture();
        let g = m
            .groups
            .iter_mut()
            .find(|g| g.id() == "write_only-c4")
            .unwrap();
        for (mode, probes) in [("fpw_off", [10.0, 14.0]), ("fpw_on", [11.0, 12.0])] {
            let cell = g.cells.get_mut(mode).unwrap();
            for (r, ms) in cell.results.iter_mut().zip(probes) {
                r.host_probe = Some(crate::stats::probe::ProbeSummary {
                    samples: 40,
                    median_ms: ms,
                });
            }
        }
        let g = &m.groups[1];
        let windows: Vec<Vec<(f64, f64)>> = ["fpw_off", "fpw_on"]
            .iter()
            .map(|mode| g.cell(mode).unwrap().probed_tps())
            .collect();
        let fit = speed::fit(&windows).unwrap();
        let mut out = String::new();
        host_speed(&mut out, &m);
        let rows: Vec<String> = out
            .lines()
            .filter(|l| l.starts_with("| write_only"))
            .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
            .collect();
        assert_eq!(rows.len(), 2, "{out}");
        let adjusted = percent(Some(fit.adjusted_tps[1] / fit.adjusted_tps[0]));
        assert!(
            rows[1].starts_with("| write_only | 4 | fpw_on | 2 | 11.5 |")
                && rows[1].contains(&format!("| {adjusted} |")),
            "{adjusted}\n{out}"
        );
        assert!(rows[0].contains("| baseline | baseline |"), "{out}");
    }
}
