//! Everything a run stores, as serde types every writer (JSON, CSV, markdown, PNG) reads, and the run
//! directory on disk: `run.json`, `scenarios/<scenario>.json` (each written atomically once its scenario
//! ended), `logs/<scenario>.log`.

pub mod fingerprint;

use crate::bench::BenchResult;
use crate::machine::MachineInfo;
use crate::postgres::build::PatchInfo;
use crate::profile::scenario::Scenario;
use crate::profile::Profile;
use crate::stats::host::HostSnapshot;
use crate::stats::probe::ProbeSummary;
use crate::stats::server::ServerSnapshot;
use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use fingerprint::Fingerprint;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// `run.json`: what was run, on what, with which build.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunManifest {
    /// The run's id (its directory name).
    pub run_id: String,
    /// When the run was first started.
    pub created_at: DateTime<Utc>,
    /// The complete profile, overrides applied.
    pub profile: Profile,
    /// The parts of the setup that change results; a resumed run must match them.
    pub fingerprint: Fingerprint,
    /// The host.
    pub machine: MachineInfo,
    /// The PostgreSQL build.
    pub postgres: PostgresInfo,
    /// The tool that ran it.
    pub tool: ToolInfo,
    /// Facts a reader needs (how the database was rebuilt, where VACUUM FULL ran).
    pub notes: Vec<String>,
    /// Where the wall time went, for the last invocation that ran scenarios.
    pub timing: Option<RunTiming>,
}

/// The PostgreSQL installation a run used.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PostgresInfo {
    /// Server version.
    pub version: String,
    /// The installation's bin directory.
    pub bin_dir: PathBuf,
    /// Whether the build knows `double_write`.
    pub has_double_write: bool,
    /// Patches applied (empty for `--pg-bin`, where they are unknown).
    pub patches: Vec<PatchInfo>,
    /// One hash over the patches; `None` for `--pg-bin`.
    pub patch_hash: Option<String>,
    /// configure flags; empty for `--pg-bin`.
    pub configure_flags: Vec<String>,
    /// The build without patches that the run's stock modes (`build = "stock"`) ran on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stock_build: Option<String>,
}

/// The tool that produced a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolInfo {
    /// Crate version.
    pub version: String,
    /// Git revision the binary was built from (`unknown` outside a checkout).
    pub git_revision: String,
}

impl ToolInfo {
    /// This binary.
    pub fn current() -> ToolInfo {
        ToolInfo {
            version: env!("CARGO_PKG_VERSION").to_string(),
            git_revision: env!("TORNBENCH_GIT_REVISION").to_string(),
        }
    }
}

/// Wall time of one invocation of `tornbench run`, split by what it was spent on.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RunTiming {
    /// Everything, start to end.
    pub total_secs: f64,
    /// Making sure the build exists.
    pub build_secs: f64,
    /// Loading the data (golden directory, or every reload).
    pub load_secs: f64,
    /// Copying the golden directory for each scenario.
    pub rebuild_secs: f64,
    /// VACUUM FULL.
    pub vacuum_secs: f64,
    /// CHECKPOINT and syncfs before each warm-up.
    #[serde(default)]
    pub settle_secs: f64,
    /// Unmeasured warm-up load.
    pub warmup_secs: f64,
    /// Measured load.
    pub measure_secs: f64,
}

impl RunTiming {
    /// Share of the wall time that was neither warm-up nor measurement.
    pub fn overhead_fraction(&self) -> f64 {
        if self.total_secs <= 0.0 {
            return 0.0;
        }
        1.0 - (self.warmup_secs + self.measure_secs) / self.total_secs
    }
}

/// How a scenario ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ScenarioStatus {
    /// Measured to the end.
    Completed,
    /// Something failed (the server crashed, the load could not run); see `reason` and `log_tail`.
    Failed,
    /// Not run (e.g. `dwb_on` on a build without the patch); see `reason`.
    Skipped,
}

/// Seconds each phase of a scenario took.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PhaseTimes {
    /// Fresh database: golden copy, or initdb + load.
    pub rebuild_secs: f64,
    /// VACUUM FULL (reload strategy only; golden ran it once).
    pub vacuum_secs: f64,
    /// CHECKPOINT and syncfs before the warm-up (absent from results made before this step existed).
    #[serde(default)]
    pub settle_secs: f64,
    /// Warm-up load.
    pub warmup_secs: f64,
    /// Measured load.
    pub measure_secs: f64,
}

/// Figures per committed transaction, derived from the measured window's deltas.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PerTransaction {
    /// WAL bytes.
    pub wal_bytes: f64,
    /// Full-page images in WAL.
    pub wal_fpi: f64,
    /// Host CPU microseconds (user + system, all processes).
    pub cpu_us: f64,
    /// Bytes written to the block devices.
    pub disk_bytes_written: f64,
}

/// A checkpoint inside a measured window, in seconds from the window's start.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckpointOffset {
    /// Seconds from the start of the measured window to the checkpoint's start.
    pub start_secs: f64,
    /// Seconds to its completion, if it completed.
    pub end_secs: Option<f64>,
    /// Why it ran (`time`, `wal`, ...).
    pub reason: String,
}

/// The memory cgroup a capped server ran in, read at the end of its measured window.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ServerMemory {
    /// The cap as the kernel held it.
    pub limit_bytes: u64,
    /// The highest charge (processes and page cache) from the server's start to the window's end.
    pub peak_bytes: Option<u64>,
}

/// `scenarios/<scenario>.json`: one scenario's outcome.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScenarioResult {
    /// Which scenario.
    pub scenario: Scenario,
    /// How it ended.
    pub status: ScenarioStatus,
    /// Why it failed or was skipped.
    pub reason: Option<String>,
    /// The end of the server log, when it failed.
    pub log_tail: Option<String>,
    /// When it started.
    pub started_at: DateTime<Utc>,
    /// When it ended.
    pub finished_at: DateTime<Utc>,
    /// The fingerprint it ran under.
    pub fingerprint: Fingerprint,
    /// Phase durations.
    pub phases: PhaseTimes,
    /// The load driver's measurements of the measured window.
    pub bench: Option<BenchResult>,
    /// Server statistics: after minus before the measured window.
    pub server: Option<ServerSnapshot>,
    /// Host counters: after minus before the measured window.
    pub host: Option<HostSnapshot>,
    /// The host-speed probe over the measured window (`None` in results recorded before the probe).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_probe: Option<ProbeSummary>,
    /// Derived per-transaction costs.
    pub per_transaction: Option<PerTransaction>,
    /// Checkpoints that started inside the measured window.
    pub checkpoints: Vec<CheckpointOffset>,
    /// The server's memory cap and its peak use, when the profile capped it (`[host] memory_limit`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_memory: Option<ServerMemory>,
}

/// A run directory on disk.
#[derive(Debug, Clone)]
pub struct RunDir {
    root: PathBuf,
}

impl RunDir {
    /// The run directory at `root` (not created until something is written).
    pub fn new(root: impl Into<PathBuf>) -> RunDir {
        RunDir { root: root.into() }
    }

    /// The directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `run.json`.
    pub fn manifest_path(&self) -> PathBuf {
        self.root.join("run.json")
    }

    /// Where the server log of a scenario goes.
    pub fn log_path(&self, scenario: &Scenario) -> PathBuf {
        self.root
            .join("logs")
            .join(format!("{}.log", scenario.id()))
    }

    fn scenario_path(&self, scenario: &Scenario) -> PathBuf {
        self.root
            .join("scenarios")
            .join(format!("{}.json", scenario.id()))
    }

    /// Reads `run.json`, if the run exists.
    pub fn read_manifest(&self) -> Result<Option<RunManifest>> {
        let path = self.manifest_path();
        if !path.exists() {
            return Ok(None);
        }
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        Ok(Some(
            serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))?,
        ))
    }

    /// Writes `run.json` atomically.
    pub fn write_manifest(&self, manifest: &RunManifest) -> Result<()> {
        crate::fsutil::write_atomic(
            &self.manifest_path(),
            serde_json::to_string_pretty(manifest)?.as_bytes(),
        )
    }

    /// Writes a scenario's result atomically, replacing an earlier one.
    pub fn write_scenario(&self, result: &ScenarioResult) -> Result<()> {
        crate::fsutil::write_atomic(
            &self.scenario_path(&result.scenario),
            serde_json::to_string_pretty(result)?.as_bytes(),
        )
    }

    /// The stored result of `scenario`, if any.
    pub fn read_scenario(&self, scenario: &Scenario) -> Result<Option<ScenarioResult>> {
        let path = self.scenario_path(scenario);
        if !path.exists() {
            return Ok(None);
        }
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        Ok(Some(
            serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))?,
        ))
    }

    /// Every stored scenario result, ordered by file name.
    pub fn read_all_scenarios(&self) -> Result<Vec<ScenarioResult>> {
        let dir = self.root.join("scenarios");
        if !dir.exists() {
            return Ok(Vec::new());
        }
        let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
            .with_context(|| format!("reading {}", dir.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == "json"))
            .collect();
        paths.sort();
        paths
            .iter()
            .map(|p| {
                let text = std::fs::read_to_string(p)
                    .with_context(|| format!("reading {}", p.display()))?;
                serde_json::from_str(&text).with_context(|| format!("parsing {}", p.display()))
            })
            .collect()
    }
}
