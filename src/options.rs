//! The tool's own options, converted from the command line at once (clap stays in `cli.rs`).

use crate::postgres::build::BuildRequest;
use crate::profile::scenario::ScenarioFilter;
use crate::profile::PartialProfile;
use std::path::PathBuf;

/// What to run, with everything it needs.
#[derive(Debug, Clone)]
pub enum Command {
    /// `tornbench build`.
    Build(BuildOptions),
    /// `tornbench run`.
    Run(RunOptions),
    /// `tornbench server`.
    Server(ServerOptions),
    /// `tornbench crash-test`.
    CrashTest(CrashTestOptions),
    /// `tornbench prepare`.
    Prepare(PrepareCommandOptions),
    /// `tornbench bench`.
    Bench(BenchOptions),
    /// `tornbench report`.
    Report(ReportOptions),
}

/// Options of `tornbench build`.
#[derive(Debug, Clone)]
pub struct BuildOptions {
    /// What to build and where to cache it.
    pub request: BuildRequest,
}

/// Which installation to use, and how to build one if none is named.
#[derive(Debug, Clone)]
pub struct InstallOptions {
    /// `--pg-bin`: use this installation instead of building.
    pub pg_bin: Option<PathBuf>,
    /// The build to use (from the cache, built if missing) when `pg_bin` is `None`. Its configure flags
    /// come from the profile unless `--configure-flag` was given.
    pub request: BuildRequest,
    /// Whether `--configure-flag` was given (then it wins over the profile's flags).
    pub flags_from_command_line: bool,
}

/// A profile name plus command-line overrides.
#[derive(Debug, Clone)]
pub struct ProfileOptions {
    /// `--profile`: a built-in name, `profiles/NAME.toml`, or a path.
    pub profile: String,
    /// Everything the command line overrides.
    pub overrides: PartialProfile,
}

/// Options of `tornbench run`.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// The profile.
    pub profile: ProfileOptions,
    /// The installation.
    pub install: InstallOptions,
    /// Only list the scenarios.
    pub dry_run: bool,
    /// `--only` filters (a scenario runs if any filter matches).
    pub only: Vec<ScenarioFilter>,
    /// `--run-id`: continue (or add to) this run.
    pub run_id: Option<String>,
    /// Where run directories go.
    pub reports_dir: PathBuf,
    /// Where data directories go.
    pub work_dir: PathBuf,
}

/// Options of `tornbench server`.
#[derive(Debug, Clone)]
pub struct ServerOptions {
    /// The profile whose server settings apply.
    pub profile: ProfileOptions,
    /// The installation.
    pub install: InstallOptions,
    /// The torn-page mode.
    pub mode: String,
    /// The data directory (created with initdb if missing).
    pub data_dir: PathBuf,
    /// TCP port; `None` picks a free one.
    pub port: Option<u16>,
}

/// Options of `tornbench crash-test`.
#[derive(Debug, Clone)]
pub struct CrashTestOptions {
    /// The profile whose data size and server settings apply (`--seed`, `--tables`, ... folded in).
    pub profile: ProfileOptions,
    /// The installation.
    pub install: InstallOptions,
    /// The modes to test, in order (`--mode`).
    pub modes: Vec<String>,
    /// Cycles per mode.
    pub cycles: u32,
    /// A fixed torn prefix in bytes; `None` draws one per cycle from the seed.
    pub prefix: Option<usize>,
    /// Clients of the write load.
    pub clients: u32,
    /// Where the JSON and markdown results go; `None`: `reports/crash-<timestamp>/`.
    pub out_dir: Option<PathBuf>,
    /// Where data directories are made.
    pub work_dir: PathBuf,
}

/// Options of `tornbench prepare`.
#[derive(Debug, Clone)]
pub struct PrepareCommandOptions {
    /// What to load and where.
    pub load: crate::workload::PrepareOptions,
    /// `--drop`: only drop the tables (sysbench's `cleanup`).
    pub drop_only: bool,
}

/// Options of `tornbench bench`.
#[derive(Debug, Clone)]
pub struct BenchOptions {
    /// What to run and where.
    pub config: crate::bench::BenchConfig,
    /// `--json`: where to write the full result.
    pub json: Option<PathBuf>,
    /// Print a line per second (unless `--quiet`).
    pub live: bool,
}

/// Options of `tornbench report`.
#[derive(Debug, Clone)]
pub struct ReportOptions {
    /// The run directory to report on (and write the report into).
    pub run_dir: PathBuf,
}
