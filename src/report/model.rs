//! The report's model: a run directory's manifest and scenario results, grouped by workload and client
//! count, then by mode, with the figures every writer (markdown, CSV, charts) reads. Nothing here formats;
//! everything derived (means, pooled latency, per-transaction costs, ratios) is computed once, here.

use super::stats::Summary;
use crate::bench::{BenchResult, Latency};
use crate::profile::mode::{Mode, ModeBuild, BASELINE_MODE};
use crate::profile::scenario::{expand, Scenario};
use crate::results::{RunDir, RunManifest, ScenarioResult, ScenarioStatus};
use crate::workload::Workload;
use anyhow::{bail, Context, Result};
use hdrhistogram::Histogram;
use std::collections::BTreeMap;
use std::path::Path;

/// Everything a report shows, loaded from a run directory.
#[derive(Debug, Clone)]
pub struct ReportModel {
    /// `run.json`.
    pub manifest: RunManifest,
    /// Modes in display order: the baseline first, then the profile's order, then any other mode a result
    /// file names.
    pub modes: Vec<String>,
    /// One group per workload and client count, workloads in [`Workload::ALL`] order, clients ascending.
    pub groups: Vec<Group>,
    /// Scenarios the profile expands to that have no result file (interrupted, or left out with `--only`).
    pub absent: Vec<Scenario>,
    /// The markdown `tornbench crash-test --out <run-dir>/crash` wrote, if the run directory has one.
    pub crash_test: Option<String>,
}

/// Where a run directory keeps its crash test's output (`tornbench crash-test --out <run-dir>/crash`).
pub const CRASH_DIR: &str = "crash";

/// The scenarios of one workload at one client count.
#[derive(Debug, Clone)]
pub struct Group {
    /// The workload.
    pub workload: Workload,
    /// Concurrent clients.
    pub clients: u32,
    /// Results by mode name.
    pub cells: BTreeMap<String, Cell>,
}

/// Every repeat of one mode in one group.
#[derive(Debug, Clone, Default)]
pub struct Cell {
    /// The stored results, by repeat.
    pub results: Vec<ScenarioResult>,
}

impl ReportModel {
    /// Loads `run.json` and every scenario file of the run directory at `path`.
    pub fn load(path: &Path) -> Result<ReportModel> {
        let dir = RunDir::new(path);
        let Some(manifest) = dir.read_manifest()? else {
            bail!(
                "{} is not a run directory: it has no run.json (expected reports/<run-id>/)",
                path.display()
            );
        };
        let scenarios = dir
            .read_all_scenarios()
            .with_context(|| format!("reading the results of {}", path.display()))?;
        let mut model = ReportModel::new(manifest, scenarios);
        let crash_md = path.join(CRASH_DIR).join("crash.md");
        model.crash_test = match std::fs::read_to_string(&crash_md) {
            Ok(text) => Some(text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(e).with_context(|| format!("reading {}", crash_md.display())),
        };
        Ok(model)
    }

    /// Builds the model from a manifest and its scenario results.
    pub fn new(manifest: RunManifest, mut scenarios: Vec<ScenarioResult>) -> ReportModel {
        scenarios.sort_by_key(|r| r.scenario.repeat);
        let mut modes: Vec<String> = vec![BASELINE_MODE.to_string()];
        for m in manifest
            .profile
            .run
            .modes
            .iter()
            .chain(scenarios.iter().map(|r| &r.scenario.mode))
        {
            if !modes.contains(m) {
                modes.push(m.clone());
            }
        }
        let mut groups: Vec<Group> = Vec::new();
        let keys = manifest
            .profile
            .run
            .workloads
            .iter()
            .flat_map(|&w| manifest.profile.run.clients.iter().map(move |&c| (w, c)))
            .chain(
                scenarios
                    .iter()
                    .map(|r| (r.scenario.workload, r.scenario.clients)),
            );
        for (workload, clients) in keys {
            if !groups
                .iter()
                .any(|g| g.workload == workload && g.clients == clients)
            {
                groups.push(Group {
                    workload,
                    clients,
                    cells: BTreeMap::new(),
                });
            }
        }
        let workload_rank = |w: Workload| {
            Workload::ALL
                .iter()
                .position(|x| *x == w)
                .unwrap_or(usize::MAX)
        };
        groups.sort_by_key(|g| (workload_rank(g.workload), g.clients));
        let present: Vec<Scenario> = scenarios.iter().map(|r| r.scenario.clone()).collect();
        for r in scenarios {
            let g = groups
                .iter_mut()
                .find(|g| g.workload == r.scenario.workload && g.clients == r.scenario.clients)
                .expect("every scenario's group was added above");
            g.cells
                .entry(r.scenario.mode.clone())
                .or_default()
                .results
                .push(r);
        }
        let absent = expand(&manifest.profile)
            .into_iter()
            .filter(|s| !present.contains(s))
            .collect();
        ReportModel {
            manifest,
            modes,
            groups,
            absent,
            crash_test: None,
        }
    }

    /// Modes other than the baseline, in display order.
    pub fn compared_modes(&self) -> impl Iterator<Item = &String> {
        self.modes.iter().filter(|m| m.as_str() != BASELINE_MODE)
    }

    /// Each stock mode (`build = "stock"`) of the report with the mode of the run's build that has the same
    /// settings, as `(patched, stock)`: the pairs that show what the patch costs when it is not used.
    pub fn stock_pairs(&self) -> Vec<(String, String)> {
        let shown: Vec<(&String, &Mode)> = self
            .modes
            .iter()
            .filter_map(|name| Some((name, self.manifest.profile.modes.get(name)?)))
            .collect();
        shown
            .iter()
            .filter(|(_, m)| m.build == ModeBuild::Stock)
            .filter_map(|(stock_name, stock_mode)| {
                shown
                    .iter()
                    .find(|(_, m)| m.build == ModeBuild::Run && m.settings == stock_mode.settings)
                    .map(|(patched, _)| ((*patched).clone(), (*stock_name).clone()))
            })
            .collect()
    }

    /// Whether any mode was measured with more than one completed repeat somewhere.
    pub fn has_repeats(&self) -> bool {
        self.groups
            .iter()
            .flat_map(|g| g.cells.values())
            .any(|c| c.completed().count() > 1)
    }

    /// CPU steal over the completed measured windows that recorded it: the mean share and the window with the
    /// most (`None` when no window recorded steal).
    pub fn steal(&self) -> Option<Steal> {
        let shares: Vec<(f64, String)> = self
            .groups
            .iter()
            .flat_map(|g| g.cells.values())
            .flat_map(|c| c.completed())
            .filter_map(|(r, _)| Some((r.host.as_ref()?.steal_share()?, r.scenario.id())))
            .collect();
        let (max_share, max_scenario) =
            shares.iter().max_by(|a, b| a.0.total_cmp(&b.0)).cloned()?;
        Some(Steal {
            mean_share: shares.iter().map(|(s, _)| s).sum::<f64>() / shares.len() as f64,
            max_share,
            max_scenario,
            windows: shares.len(),
        })
    }

    /// Every stored result that was not measured to the end (failed or skipped).
    pub fn not_measured(&self) -> impl Iterator<Item = &ScenarioResult> {
        self.groups
            .iter()
            .flat_map(|g| g.cells.values())
            .flat_map(|c| c.results.iter())
            .filter(|r| r.status != ScenarioStatus::Completed)
    }
}

impl Group {
    /// `read_write, 32 clients` style label.
    pub fn label(&self) -> String {
        format!("{} / {} clients", self.workload, self.clients)
    }

    /// A file-name-safe id: `read_write-c32`.
    pub fn id(&self) -> String {
        format!("{}-c{}", self.workload, self.clients)
    }

    /// The cell of `mode`, if any result names it.
    pub fn cell(&self, mode: &str) -> Option<&Cell> {
        self.cells.get(mode)
    }

    /// Mean TPS of `mode` over its completed repeats.
    pub fn mean_tps(&self, mode: &str) -> Option<f64> {
        Some(self.cell(mode)?.tps()?.mean)
    }

    /// Mean TPS of `numerator` as a fraction of `denominator`'s.
    pub fn tps_ratio(&self, numerator: &str, denominator: &str) -> Option<f64> {
        let d = self.mean_tps(denominator)?;
        (d > 0.0).then_some(self.mean_tps(numerator)? / d)
    }
}

/// What a cell shows in place of a figure when nothing was measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gap {
    /// No result file for this mode here.
    NotRun,
    /// Every repeat was skipped.
    Skipped,
    /// Every repeat failed (or some failed, the rest skipped).
    Failed,
}

impl Gap {
    /// The word a table shows.
    pub fn word(self) -> &'static str {
        match self {
            Gap::NotRun => "not run",
            Gap::Skipped => "skipped",
            Gap::Failed => "failed",
        }
    }
}

impl Cell {
    /// The completed repeats' load-driver results.
    pub fn completed(&self) -> impl Iterator<Item = (&ScenarioResult, &BenchResult)> {
        self.results
            .iter()
            .filter(|r| r.status == ScenarioStatus::Completed)
            .filter_map(|r| Some((r, r.bench.as_ref()?)))
    }

    /// Why nothing is shown, when no repeat completed.
    pub fn gap(cell: Option<&Cell>) -> Option<Gap> {
        let Some(cell) = cell else {
            return Some(Gap::NotRun);
        };
        if cell.completed().next().is_some() {
            return None;
        }
        if cell
            .results
            .iter()
            .any(|r| r.status == ScenarioStatus::Failed)
        {
            Some(Gap::Failed)
        } else if cell.results.is_empty() {
            Some(Gap::NotRun)
        } else {
            Some(Gap::Skipped)
        }
    }

    fn summary(&self, f: impl Fn(&BenchResult) -> f64) -> Option<Summary> {
        Summary::of(&self.completed().map(|(_, b)| f(b)).collect::<Vec<_>>())
    }

    /// TPS per completed repeat.
    pub fn tps_values(&self) -> Vec<f64> {
        self.completed().map(|(_, b)| b.tps).collect()
    }

    /// (host-speed probe median ms, TPS) of the completed repeats that ran the probe.
    pub fn probed_tps(&self) -> Vec<(f64, f64)> {
        self.completed()
            .filter_map(|(r, b)| Some((r.host_probe?.median_ms, b.tps)))
            .collect()
    }

    /// TPS over the completed repeats.
    pub fn tps(&self) -> Option<Summary> {
        self.summary(|b| b.tps)
    }

    /// QPS over the completed repeats.
    pub fn qps(&self) -> Option<Summary> {
        self.summary(|b| b.qps)
    }

    /// Latency of every committed transaction of every completed repeat: the repeats' histograms merged;
    /// if one cannot be decoded, the mean of the repeats' summaries.
    pub fn latency(&self) -> Option<Latency> {
        let benches: Vec<&BenchResult> = self.completed().map(|(_, b)| b).collect();
        match benches.len() {
            0 => return None,
            1 => return Some(benches[0].latency),
            _ => {}
        }
        let merged = benches.iter().try_fold(None::<Histogram<u64>>, |acc, b| {
            let h = b.histogram().ok()?;
            Some(Some(match acc {
                None => h,
                Some(mut a) => {
                    a.add(&h).ok()?;
                    a
                }
            }))
        });
        if let Some(Some(h)) = merged {
            return Some(Latency::of(&h));
        }
        let n = benches.len() as f64;
        let mean = |f: fn(&Latency) -> f64| benches.iter().map(|b| f(&b.latency)).sum::<f64>() / n;
        Some(Latency {
            min_ms: benches
                .iter()
                .map(|b| b.latency.min_ms)
                .fold(f64::INFINITY, f64::min),
            avg_ms: mean(|l| l.avg_ms),
            p50_ms: mean(|l| l.p50_ms),
            p95_ms: mean(|l| l.p95_ms),
            p99_ms: mean(|l| l.p99_ms),
            p999_ms: mean(|l| l.p999_ms),
            max_ms: benches.iter().map(|b| b.latency.max_ms).fold(0.0, f64::max),
        })
    }

    /// What the measured windows cost, pooled over the completed repeats.
    pub fn costs(&self) -> Option<Costs> {
        let runs: Vec<&ScenarioResult> = self.completed().map(|(r, _)| r).collect();
        if runs.is_empty() {
            return None;
        }
        let txns: f64 = self
            .completed()
            .map(|(_, b)| b.transactions as f64)
            .sum::<f64>()
            .max(1.0);
        let n = runs.len() as f64;
        let server_sum = |f: &dyn Fn(&crate::stats::server::ServerSnapshot) -> f64| -> Option<f64> {
            runs.iter().map(|r| r.server.as_ref().map(f)).sum()
        };
        let dw_sum = |key: &str| -> Option<f64> {
            runs.iter()
                .map(|r| r.server.as_ref()?.double_write.as_ref()?.get(key).copied())
                .sum()
        };
        let dw_pages = dw_sum("pages_written");
        Some(Costs {
            wal_bytes_per_txn: server_sum(&|s| s.wal("wal_bytes")).map(|v| v / txns),
            wal_fpi_per_txn: server_sum(&|s| s.wal("wal_fpi")).map(|v| v / txns),
            checkpoints_per_run: runs.iter().map(|r| r.checkpoints.len() as f64).sum::<f64>() / n,
            cpu_us_per_txn: runs
                .iter()
                .map(|r| r.host.as_ref().map(|h| h.cpu_busy_secs() * 1e6))
                .sum::<Option<f64>>()
                .map(|v| v / txns),
            disk_bytes_per_txn: runs
                .iter()
                .map(|r| r.host.as_ref().map(|h| h.disk_written_bytes))
                .sum::<Option<f64>>()
                .map(|v| v / txns),
            disk_read_bytes_per_txn: runs
                .iter()
                .map(|r| r.host.as_ref().map(|h| h.disk_read_bytes))
                .sum::<Option<f64>>()
                .map(|v| v / txns),
            server_memory_peak_bytes: runs
                .iter()
                .filter_map(|r| r.server_memory?.peak_bytes)
                .max(),
            dw_pages_per_run: dw_pages.map(|v| v / n),
            dw_covered_per_run: dw_sum("pages_covered").map(|v| v / n),
            dw_bytes_per_txn: dw_pages
                .map(|pages| pages * crate::postgres::BLOCK_SIZE as f64 / txns),
            dw_fsyncs_per_run: dw_sum("fsyncs").map(|v| v / n),
            dw_data_file_syncs_per_run: dw_sum("data_file_syncs").map(|v| v / n),
            dw_backend_wait_share: dw_sum("backend_wait_time_us").and_then(|wait_us| {
                let client_us: f64 = self
                    .completed()
                    .map(|(r, b)| f64::from(r.scenario.clients) * b.elapsed_secs * 1e6)
                    .sum();
                (client_us > 0.0).then(|| wait_us / client_us)
            }),
        })
    }
}

/// How much CPU time the hypervisor took from the measured windows.
#[derive(Debug, Clone, PartialEq)]
pub struct Steal {
    /// Mean over windows of each window's steal share.
    pub mean_share: f64,
    /// The largest window's share.
    pub max_share: f64,
    /// The scenario (with repeat) of that window.
    pub max_scenario: String,
    /// Windows that recorded steal.
    pub windows: usize,
}

/// What one mode cost in one group, pooled over its completed repeats (`None`: not recorded).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Costs {
    /// WAL bytes per committed transaction.
    pub wal_bytes_per_txn: Option<f64>,
    /// Full-page images per committed transaction.
    pub wal_fpi_per_txn: Option<f64>,
    /// Checkpoints that started inside a measured window, per repeat.
    pub checkpoints_per_run: f64,
    /// Host CPU microseconds (user + system) per committed transaction.
    pub cpu_us_per_txn: Option<f64>,
    /// Bytes written to the block devices per committed transaction.
    pub disk_bytes_per_txn: Option<f64>,
    /// Bytes read from the block devices per committed transaction.
    pub disk_read_bytes_per_txn: Option<f64>,
    /// The highest memory charge of a capped server over the repeats (`[host] memory_limit` only).
    pub server_memory_peak_bytes: Option<u64>,
    /// Pages written to the double-write buffer, per repeat (builds with the patch only).
    pub dw_pages_per_run: Option<f64>,
    /// Page writes that relied on an earlier copy in the double-write area instead of making one, per
    /// repeat (builds whose patch has covered writes only).
    pub dw_covered_per_run: Option<f64>,
    /// Bytes of page copies written to the double-write area per committed transaction (builds with the
    /// patch only).
    pub dw_bytes_per_txn: Option<f64>,
    /// fsyncs of the double-write buffer, per repeat (builds with the patch only).
    pub dw_fsyncs_per_run: Option<f64>,
    /// Data-file fsyncs made to recycle double-write slots, per repeat (builds with the patch only).
    pub dw_data_file_syncs_per_run: Option<f64>,
    /// Client backends' time waiting for the double-write buffer, as a fraction of clients x measured
    /// time (builds with the patch only).
    pub dw_backend_wait_share: Option<f64>,
}

impl Costs {
    /// What the host wrote per transaction besides the WAL the server generated and the double-write area's
    /// copies: mostly data-file writes, plus rewrites of partly filled WAL pages at each flush and whatever
    /// else the host wrote. A build without the patch has no area, so its copies count as none.
    pub fn rest_written_per_txn(&self) -> Option<f64> {
        Some(
            self.disk_bytes_per_txn?
                - self.wal_bytes_per_txn?
                - self.dw_bytes_per_txn.unwrap_or(0.0),
        )
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn fixture() -> ReportModel {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/smoke-run");
        ReportModel::load(&dir).unwrap()
    }

    #[test]
    fn fixture_groups_by_workload_and_clients_with_the_baseline_first() {
        let m = fixture();
        assert_eq!(m.modes, ["fpw_off", "fpw_on", "dwb_on"]);
        let labels: Vec<String> = m.groups.iter().map(|g| g.id()).collect();
        assert_eq!(labels, ["read_write-c4", "write_only-c4"]);
        let g = &m.groups[0];
        assert_eq!(g.cell("fpw_off").unwrap().completed().count(), 2);
        assert_eq!(Cell::gap(g.cell("dwb_on")), Some(Gap::Skipped));
        assert_eq!(Cell::gap(g.cell("fpw_lz4")), Some(Gap::NotRun));
        assert!(m.absent.is_empty());
        assert!(m.has_repeats());
        assert_eq!(m.not_measured().count(), 4);
    }

    /// The fixture with steal recorded in two windows: 2% in read_write fpw_off r1, 10% in write_only fpw_on r2.
    pub(crate) fn fixture_with_steal() -> ReportModel {
        let mut m = fixture();
        for g in m.groups.iter_mut() {
            for cell in g.cells.values_mut() {
                for r in cell.results.iter_mut() {
                    let share = match r.scenario.id().as_str() {
                        "read_write-c4-fpw_off-r1" => 0.02,
                        "write_only-c4-fpw_on-r2" => 0.10,
                        _ => continue,
                    };
                    let host = r.host.as_mut().unwrap();
                    let rest = host.cpu_busy_secs() + host.cpu_idle_secs + host.cpu_iowait_secs;
                    host.cpu_steal_secs = Some(rest * share / (1.0 - share));
                }
            }
        }
        m
    }

    #[test]
    fn steal_is_summarised_over_the_windows_that_recorded_it() {
        assert_eq!(fixture().steal(), None);
        let steal = fixture_with_steal().steal().unwrap();
        assert_eq!(steal.windows, 2);
        assert!((steal.mean_share - 0.06).abs() < 1e-9, "{steal:?}");
        assert!((steal.max_share - 0.10).abs() < 1e-9, "{steal:?}");
        assert_eq!(steal.max_scenario, "write_only-c4-fpw_on-r2");
    }

    #[test]
    fn a_stock_mode_pairs_with_the_mode_of_the_same_settings() {
        let mut m = fixture();
        assert!(m.stock_pairs().is_empty());
        let modes = &mut m.manifest.profile.modes;
        for (name, like, setting) in [
            ("fpw_on_stock", "fpw_on", None),
            ("lz4_stock", "fpw_on", Some("wal_compression")),
        ] {
            let mut mode = modes[like].clone();
            mode.name = name.to_string();
            mode.build = ModeBuild::Stock;
            if let Some(key) = setting {
                mode.settings.insert(key.to_string(), "lz4".into());
            }
            modes.insert(name.to_string(), mode);
            m.modes.push(name.to_string());
        }
        assert_eq!(
            m.stock_pairs(),
            [("fpw_on".to_string(), "fpw_on_stock".to_string())]
        );
    }

    #[test]
    fn pooled_latency_and_costs_cover_every_repeat() {
        let m = fixture();
        let cell = m.groups[1].cell("fpw_on").unwrap();
        let lat = cell.latency().unwrap();
        let maxes: Vec<f64> = cell.completed().map(|(_, b)| b.latency.max_ms).collect();
        assert!((lat.max_ms - maxes.iter().cloned().fold(0.0, f64::max)).abs() < 0.1);
        let c = cell.costs().unwrap();
        assert!(c.wal_bytes_per_txn.unwrap() > 0.0);
        assert!(c.wal_fpi_per_txn.unwrap() > 0.0);
        assert_eq!(c.dw_pages_per_run, None);
    }

    #[test]
    fn double_write_recycling_and_backend_wait_are_pooled_over_repeats() {
        let mut m = fixture();
        let cell = m.groups[1].cells.get_mut("fpw_on").unwrap();
        for r in cell.results.iter_mut() {
            if let Some(server) = r.server.as_mut() {
                server.double_write = Some(
                    [
                        ("data_file_syncs".to_string(), 10.0),
                        ("backend_wait_time_us".to_string(), 1000.0),
                    ]
                    .into(),
                );
            }
        }
        let completed = cell.completed().count() as f64;
        let client_us: f64 = cell
            .completed()
            .map(|(r, b)| f64::from(r.scenario.clients) * b.elapsed_secs * 1e6)
            .sum();
        assert!(completed > 1.0);
        let c = cell.costs().unwrap();
        assert_eq!(c.dw_data_file_syncs_per_run, Some(10.0));
        let share = c.dw_backend_wait_share.unwrap();
        assert!(
            (share - 1000.0 * completed / client_us).abs() < 1e-12,
            "{share}"
        );
        assert_eq!(
            fixture().groups[1]
                .cell("fpw_on")
                .unwrap()
                .costs()
                .unwrap()
                .dw_backend_wait_share,
            None
        );
    }

    #[test]
    fn the_area_copies_are_pages_times_the_block_size_and_leave_the_rest_to_the_data_files() {
        let mut m = fixture();
        let cell = m.groups[1].cells.get_mut("fpw_on").unwrap();
        for r in cell.results.iter_mut() {
            if let Some(server) = r.server.as_mut() {
                server.double_write = Some([("pages_written".to_string(), 3.0)].into());
            }
        }
        let txns: f64 = cell.completed().map(|(_, b)| b.transactions as f64).sum();
        let completed = cell.completed().count() as f64;
        let c = cell.costs().unwrap();
        let area = c.dw_bytes_per_txn.unwrap();
        assert!(
            (area - 3.0 * completed * 8192.0 / txns).abs() < 1e-9,
            "{area}"
        );
        let rest = c.rest_written_per_txn().unwrap();
        let expected = c.disk_bytes_per_txn.unwrap() - c.wal_bytes_per_txn.unwrap() - area;
        assert!((rest - expected).abs() < 1e-9, "{rest} vs {expected}");

        let stock = fixture().groups[1].cell("fpw_on").unwrap().costs().unwrap();
        assert_eq!(stock.dw_bytes_per_txn, None);
        let rest = stock.rest_written_per_txn().unwrap();
        let expected = stock.disk_bytes_per_txn.unwrap() - stock.wal_bytes_per_txn.unwrap();
        assert!(
            (rest - expected).abs() < 1e-9,
            "a build without the area counts no copies"
        );
    }

    #[test]
    fn a_missing_scenario_file_is_listed_as_absent() {
        let mut m = fixture();
        let mut results: Vec<ScenarioResult> = m
            .groups
            .drain(..)
            .flat_map(|g| g.cells.into_values())
            .flat_map(|c| c.results)
            .collect();
        results.retain(|r| r.scenario.repeat == 1);
        let m = ReportModel::new(m.manifest, results);
        assert_eq!(m.absent.len(), 6);
        assert!(!m.has_repeats());
    }
}
