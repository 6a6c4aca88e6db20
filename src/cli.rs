//! The command line (clap). Everything here is converted into [`crate::options`] at once; no clap type
//! travels further into the tool.

use crate::options::{
    BenchOptions, BuildOptions, Command, CrashTestOptions, InstallOptions, PrepareCommandOptions,
    ProfileOptions, ReportOptions, RunOptions, ServerOptions,
};
use crate::postgres::build::{default_patches_dir, BuildRequest};
use crate::profile::scenario::ScenarioFilter;
use crate::profile::value::{parse_assignment, SettingValue};
use crate::profile::{
    Order, PartialBuild, PartialData, PartialProfile, PartialRun, RebuildStrategy,
    DEFAULT_CONFIGURE_FLAGS,
};
use crate::workload::{Distribution, Workload};
use clap::{Args, Parser, Subcommand};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

/// Full page writes or a double-write buffer? Builds PostgreSQL 18 with a double-write patch, benchmarks
/// every torn-page mode on one build, and crash-tests them.
#[derive(Debug, Parser)]
#[command(name = "tornbench", version, propagate_version = true)]
pub struct Cli {
    /// More log output (-v: debug, -vv: trace). RUST_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// What to do.
    #[command(subcommand)]
    pub command: CommandArgs,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum CommandArgs {
    /// Build PostgreSQL 18 with the patches in patches/pg18 (cached; prints the bin directory last)
    Build(BuildArgs),
    /// Run a profile's whole experiment matrix (--dry-run lists its scenarios)
    Run(RunArgs),
    /// Start a server in one torn-page mode and keep it running until Ctrl-C
    Server(ServerArgs),
    /// Create and load the sysbench schema (sbtest1..N) on any server, fast (COPY, tables in parallel)
    Prepare(PrepareArgs),
    /// Drive sysbench's OLTP transactions against any server and print a sysbench-like summary
    Bench(BenchArgs),
    /// Write report.md, charts/*.png and results.csv into a run directory, from its stored results only
    Report(ReportArgs),
    /// Tear real in-flight page writes, crash, recover and check every mode
    CrashTest(CrashTestArgs),
}

/// `tornbench report`.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// The run directory (reports/<run-id>) holding run.json and scenarios/*.json
    #[arg(value_name = "RUN_DIR")]
    pub run_dir: PathBuf,
}

/// Where the build comes from and how it is made.
#[derive(Debug, Args)]
pub struct BuildSourceArgs {
    /// PostgreSQL source: a release tarball or an unpacked tree [default: cached, upstream, or Debian's]
    #[arg(long, value_name = "PATH")]
    pub source: Option<PathBuf>,
    /// A configure flag (repeat for several); replaces the profile's flags
    #[arg(
        long = "configure-flag",
        value_name = "FLAG",
        allow_hyphen_values = true
    )]
    pub configure_flags: Vec<String>,
    /// Directory of *.patch files applied in name order [default: patches/pg18]
    #[arg(long, value_name = "DIR")]
    pub patches: Option<PathBuf>,
    /// Apply no patches (a stock build, for side-by-side comparisons)
    #[arg(long, conflicts_with = "patches")]
    pub no_patches: bool,
    /// The build cache [default: /var/cache/tornbench as root, else ~/.cache/tornbench]
    #[arg(long, value_name = "DIR", env = "TORNBENCH_CACHE_DIR")]
    pub cache_dir: Option<PathBuf>,
    /// Parallel make jobs [default: number of CPUs]
    #[arg(long, value_name = "N")]
    pub jobs: Option<usize>,
}

/// `tornbench build`.
#[derive(Debug, Args)]
pub struct BuildArgs {
    #[command(flatten)]
    source: BuildSourceArgs,
    /// Rebuild even if the cache holds this build
    #[arg(long)]
    force: bool,
    /// Take the configure flags from this profile (unless --configure-flag is given)
    #[arg(long, value_name = "NAME|PATH")]
    profile: Option<String>,
}

/// An existing installation instead of a build.
#[derive(Debug, Args)]
pub struct PgBinArgs {
    /// Use the PostgreSQL 18 installation whose programs are in DIR instead of building
    #[arg(long, value_name = "DIR", env = "TORNBENCH_PG_BIN")]
    pub pg_bin: Option<PathBuf>,
}

/// A profile and every override of it.
#[derive(Debug, Args)]
pub struct ProfileArgs {
    /// Profile: built-in name (quick, article, smoke, extended, area-size, batch-size, off-cost,
    /// io-bound), profiles/NAME.toml, or a path
    #[arg(long, short = 'p', default_value = "quick", value_name = "NAME|PATH")]
    pub profile: String,
    /// Tables sbtest1..N (overrides data.tables)
    #[arg(long, value_name = "N")]
    pub tables: Option<u32>,
    /// Rows per table (overrides data.table_size)
    #[arg(long, value_name = "N")]
    pub table_size: Option<u64>,
    /// Modes to run, comma-separated (overrides run.modes)
    #[arg(long, value_delimiter = ',', value_name = "MODE,...")]
    pub modes: Option<Vec<String>>,
    /// Workloads, comma-separated: read_write, write_only (overrides run.workloads)
    #[arg(long, value_delimiter = ',', value_name = "WORKLOAD,...")]
    pub workloads: Option<Vec<Workload>>,
    /// Client counts, comma-separated (overrides run.clients)
    #[arg(long, value_delimiter = ',', value_name = "N,...")]
    pub clients: Option<Vec<u32>>,
    /// Repeats of each scenario (overrides run.repeats)
    #[arg(long, value_name = "N")]
    pub repeats: Option<u32>,
    /// Seconds of unmeasured warm-up (overrides run.warmup_secs)
    #[arg(long, value_name = "SECS")]
    pub warmup: Option<u64>,
    /// Seconds of the measured run (overrides run.duration_secs)
    #[arg(long, value_name = "SECS")]
    pub duration: Option<u64>,
    /// Scenario order: interleaved or grouped (overrides run.order)
    #[arg(long, value_parser = parse_order)]
    pub order: Option<Order>,
    /// Rebuild strategy: golden or reload (overrides run.rebuild)
    #[arg(long, value_parser = parse_rebuild)]
    pub rebuild: Option<RebuildStrategy>,
    /// Id distribution: uniform, special, gaussian, pareto, zipfian (overrides run.distribution)
    #[arg(long)]
    pub distribution: Option<Distribution>,
    /// Seed of the load's random numbers (overrides run.seed)
    #[arg(long)]
    pub seed: Option<u64>,
    /// A server setting for every mode, NAME=VALUE (repeat for several; overrides [server])
    #[arg(long = "set", value_name = "NAME=VALUE", value_parser = parse_assignment)]
    pub settings: Vec<(String, SettingValue)>,
}

fn parse_order(s: &str) -> Result<Order, String> {
    match s {
        "interleaved" => Ok(Order::Interleaved),
        "grouped" => Ok(Order::Grouped),
        _ => Err(format!(
            "unknown order `{s}` (allowed: interleaved, grouped)"
        )),
    }
}

fn parse_rebuild(s: &str) -> Result<RebuildStrategy, String> {
    match s {
        "golden" => Ok(RebuildStrategy::Golden),
        "reload" => Ok(RebuildStrategy::Reload),
        _ => Err(format!(
            "unknown rebuild strategy `{s}` (allowed: golden, reload)"
        )),
    }
}

/// `tornbench run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    #[command(flatten)]
    profile: ProfileArgs,
    #[command(flatten)]
    pg: PgBinArgs,
    #[command(flatten)]
    build: BuildSourceArgs,
    /// Print the expanded scenarios and exit
    #[arg(long)]
    dry_run: bool,
    /// Only these scenarios, e.g. mode=dwb_on,workload=write_only,clients=64,128 (repeatable)
    #[arg(long, value_name = "KEY=VALUE,...")]
    only: Vec<String>,
    /// Continue or add to this run (a directory name under --reports-dir)
    #[arg(long, value_name = "ID")]
    run_id: Option<String>,
    /// Where run directories are written
    #[arg(long, default_value = "reports", value_name = "DIR")]
    reports_dir: PathBuf,
    /// Where data directories are made [default: /var/lib/tornbench as root, else ~/.local/share/tornbench]
    #[arg(long, value_name = "DIR", env = "TORNBENCH_WORK_DIR")]
    work_dir: Option<PathBuf>,
}

/// `tornbench server`.
#[derive(Debug, Args)]
pub struct ServerArgs {
    #[command(flatten)]
    profile: ProfileArgs,
    #[command(flatten)]
    pg: PgBinArgs,
    #[command(flatten)]
    build: BuildSourceArgs,
    /// Torn-page mode: fpw_off, fpw_on, dwb_on, or one the profile defines
    #[arg(long, default_value = "fpw_on")]
    mode: String,
    /// Data directory, created with initdb if it does not exist [default: <work dir>/server]
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// TCP port on 127.0.0.1 [default: a free one]
    #[arg(long)]
    port: Option<u16>,
    /// Where data directories are made [default: /var/lib/tornbench as root, else ~/.local/share/tornbench]
    #[arg(long, value_name = "DIR", env = "TORNBENCH_WORK_DIR")]
    work_dir: Option<PathBuf>,
}

/// The server and data set that `prepare` and `bench` work on.
#[derive(Debug, Args)]
pub struct DataSetArgs {
    /// The server: a libpq connection string (`host=127.0.0.1 port=5432 user=postgres dbname=postgres`)
    /// or a postgres:// URL, as `tornbench server` prints it
    #[arg(long, value_name = "CONNINFO|URL", env = "TORNBENCH_CONN")]
    pub conn: String,
    /// Tables sbtest1..N
    #[arg(long, default_value_t = 10, value_name = "N")]
    pub tables: u32,
    /// Rows per table
    #[arg(long, default_value_t = 10_000, value_name = "N")]
    pub table_size: u32,
    /// Seed of the random values
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Seconds a connection attempt may take
    #[arg(long, default_value_t = 10, value_name = "SECS")]
    pub connect_timeout: u64,
}

/// `tornbench prepare`.
#[derive(Debug, Args)]
pub struct PrepareArgs {
    #[command(flatten)]
    data: DataSetArgs,
    /// Tables loaded at the same time, each over its own connection [default: CPUs, at least 2]
    #[arg(long, value_name = "N")]
    jobs: Option<u32>,
    /// Only drop sbtest1..N (sysbench's cleanup); without it, existing sbtest1..N are dropped and reloaded
    #[arg(long)]
    drop: bool,
}

impl PrepareArgs {
    fn into_options(self) -> PrepareCommandOptions {
        let d = self.data;
        PrepareCommandOptions {
            load: crate::workload::PrepareOptions {
                jobs: self
                    .jobs
                    .unwrap_or_else(|| crate::workload::loader::default_jobs(d.tables))
                    .max(1),
                recreate: true,
                seed: d.seed,
                connect_timeout: Duration::from_secs(d.connect_timeout),
                ..crate::workload::PrepareOptions::new(&d.conn, d.tables, d.table_size)
            },
            drop_only: self.drop,
        }
    }
}

/// `tornbench bench`.
#[derive(Debug, Args)]
pub struct BenchArgs {
    #[command(flatten)]
    data: DataSetArgs,
    /// Transaction mix: read_write (20 statements) or write_only (6)
    #[arg(long, default_value = "write_only")]
    workload: Workload,
    /// Concurrent clients, one connection each
    #[arg(long, default_value_t = 1, value_name = "N")]
    clients: u32,
    /// Measured seconds
    #[arg(long, default_value_t = 10.0, value_name = "SECS")]
    duration: f64,
    /// Seconds driven before the measurement, not counted
    #[arg(long, default_value_t = 0.0, value_name = "SECS")]
    warmup: f64,
    /// Id distribution: uniform, special, gaussian, pareto, zipfian
    #[arg(long, default_value = "uniform")]
    distribution: Distribution,
    /// Seconds one statement may take before the run fails
    #[arg(long, default_value_t = 30, value_name = "SECS")]
    statement_timeout: u64,
    /// Write the full result (histogram and per-second series included) to FILE as JSON
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
    /// No line per second, only the summary
    #[arg(long, short)]
    quiet: bool,
}

impl BenchArgs {
    fn into_options(self) -> BenchOptions {
        let d = self.data;
        let secs = |s: f64| Duration::from_secs_f64(s.max(0.0));
        BenchOptions {
            config: crate::bench::BenchConfig {
                conn: d.conn,
                workload: self.workload,
                clients: self.clients,
                duration: secs(self.duration),
                warmup: secs(self.warmup),
                distribution: self.distribution,
                seed: d.seed,
                tables: d.tables,
                table_size: d.table_size,
                connect_timeout: Duration::from_secs(d.connect_timeout),
                statement_timeout: Duration::from_secs(self.statement_timeout),
            },
            json: self.json,
            live: !self.quiet,
        }
    }
}

/// `tornbench crash-test`.
#[derive(Debug, Args)]
pub struct CrashTestArgs {
    /// Modes to test: fpw_off (the unprotected control), fpw_on, dwb_on, a comma-separated list, or all
    #[arg(long, default_value = "all", value_name = "MODE|all")]
    mode: String,
    /// Crash cycles per mode
    #[arg(long, default_value_t = 5, value_name = "N")]
    cycles: u32,
    /// Profile for the data size and server settings: built-in name, profiles/NAME.toml, or a path
    #[arg(long, short = 'p', default_value = "smoke", value_name = "NAME|PATH")]
    profile: String,
    /// Seed of the tears and the load (overrides run.seed)
    #[arg(long)]
    seed: Option<u64>,
    /// Keep exactly this many bytes of every torn page (a multiple of 512) [default: random per cycle]
    #[arg(long, value_name = "BYTES")]
    prefix: Option<usize>,
    /// Clients of the write_only load
    #[arg(long, default_value_t = 4, value_name = "N")]
    clients: u32,
    /// Tables sbtest1..N (overrides data.tables)
    #[arg(long, value_name = "N")]
    tables: Option<u32>,
    /// Rows per table (overrides data.table_size)
    #[arg(long, value_name = "N")]
    table_size: Option<u64>,
    /// A server setting for every mode, NAME=VALUE (repeat for several; overrides [server])
    #[arg(long = "set", value_name = "NAME=VALUE", value_parser = parse_assignment)]
    settings: Vec<(String, SettingValue)>,
    /// Where crash.json and crash.md are written [default: reports/crash-<timestamp>]
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// Where data directories are made [default: /var/lib/tornbench as root, else ~/.local/share/tornbench]
    #[arg(long, value_name = "DIR", env = "TORNBENCH_WORK_DIR")]
    work_dir: Option<PathBuf>,
    #[command(flatten)]
    pg: PgBinArgs,
    #[command(flatten)]
    build: BuildSourceArgs,
}

impl CrashTestArgs {
    fn into_options(self) -> anyhow::Result<CrashTestOptions> {
        use crate::crash::{check_prefix, parse_modes, CrashTestError};
        if self.cycles == 0 {
            return Err(CrashTestError::NoCycles.into());
        }
        if self.clients == 0 {
            return Err(CrashTestError::NoClients.into());
        }
        let overrides = PartialProfile {
            data: Some(PartialData {
                tables: self.tables,
                table_size: self.table_size,
            }),
            server: (!self.settings.is_empty())
                .then(|| self.settings.iter().cloned().collect::<BTreeMap<_, _>>()),
            run: Some(PartialRun {
                seed: self.seed,
                ..Default::default()
            }),
            ..Default::default()
        };
        Ok(CrashTestOptions {
            profile: ProfileOptions {
                profile: self.profile,
                overrides,
            },
            install: self.build.to_install(&self.pg),
            modes: parse_modes(&self.mode)?,
            cycles: self.cycles,
            prefix: self.prefix.map(check_prefix).transpose()?,
            clients: self.clients,
            out_dir: self.out,
            work_dir: self.work_dir.unwrap_or_else(crate::paths::default_work_dir),
        })
    }
}

impl ProfileArgs {
    fn to_options(&self, configure_flags: &[String]) -> ProfileOptions {
        let run = PartialRun {
            modes: self.modes.clone(),
            workloads: self.workloads.clone(),
            clients: self.clients.clone(),
            repeats: self.repeats,
            warmup_secs: self.warmup,
            duration_secs: self.duration,
            order: self.order,
            rebuild: self.rebuild,
            distribution: self.distribution,
            seed: self.seed,
        };
        let overrides = PartialProfile {
            build: (!configure_flags.is_empty()).then(|| PartialBuild {
                configure_flags: Some(configure_flags.to_vec()),
            }),
            data: Some(PartialData {
                tables: self.tables,
                table_size: self.table_size,
            }),
            server: (!self.settings.is_empty())
                .then(|| self.settings.iter().cloned().collect::<BTreeMap<_, _>>()),
            run: Some(run),
            ..Default::default()
        };
        ProfileOptions {
            profile: self.profile.clone(),
            overrides,
        }
    }
}

impl BuildSourceArgs {
    fn to_request(&self, force: bool) -> BuildRequest {
        let patches_dir = if self.no_patches {
            None
        } else {
            self.patches.clone().or_else(default_patches_dir)
        };
        BuildRequest {
            source: self.source.clone(),
            configure_flags: if self.configure_flags.is_empty() {
                DEFAULT_CONFIGURE_FLAGS
                    .iter()
                    .map(|s| s.to_string())
                    .collect()
            } else {
                self.configure_flags.clone()
            },
            patches_dir,
            cache_dir: self
                .cache_dir
                .clone()
                .unwrap_or_else(crate::paths::default_cache_dir),
            force,
            jobs: self.jobs.unwrap_or_else(|| {
                std::thread::available_parallelism()
                    .map(|n| n.get())
                    .unwrap_or(2)
            }),
        }
    }

    fn to_install(&self, pg: &PgBinArgs) -> InstallOptions {
        InstallOptions {
            pg_bin: pg.pg_bin.clone(),
            request: self.to_request(false),
            flags_from_command_line: !self.configure_flags.is_empty(),
        }
    }
}

impl Cli {
    /// Converts the parsed command line into the tool's options; fails on values clap cannot check.
    pub fn into_command(self) -> anyhow::Result<Command> {
        Ok(match self.command {
            CommandArgs::Build(a) => {
                let mut request = a.source.to_request(a.force);
                if a.source.configure_flags.is_empty() {
                    if let Some(profile) = &a.profile {
                        let p = crate::profile::Profile::load(profile, PartialProfile::default())?;
                        request.configure_flags = p.build.configure_flags;
                    }
                }
                Command::Build(BuildOptions { request })
            }
            CommandArgs::Run(a) => Command::Run(RunOptions {
                profile: a.profile.to_options(&a.build.configure_flags),
                install: a.build.to_install(&a.pg),
                dry_run: a.dry_run,
                only: a
                    .only
                    .iter()
                    .map(|s| ScenarioFilter::parse(s))
                    .collect::<Result<_, _>>()?,
                run_id: a.run_id,
                reports_dir: a.reports_dir,
                work_dir: a.work_dir.unwrap_or_else(crate::paths::default_work_dir),
            }),
            CommandArgs::Server(a) => {
                let work_dir = a.work_dir.unwrap_or_else(crate::paths::default_work_dir);
                Command::Server(ServerOptions {
                    profile: a.profile.to_options(&a.build.configure_flags),
                    install: a.build.to_install(&a.pg),
                    mode: a.mode,
                    data_dir: a.data_dir.unwrap_or_else(|| work_dir.join("server")),
                    port: a.port,
                })
            }
            CommandArgs::Prepare(a) => Command::Prepare(a.into_options()),
            CommandArgs::Bench(a) => Command::Bench(a.into_options()),
            CommandArgs::Report(a) => Command::Report(ReportOptions { run_dir: a.run_dir }),
            CommandArgs::CrashTest(a) => Command::CrashTest(a.into_options()?),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn the_profile_help_names_every_built_in_profile() {
        // The list in ProfileArgs' doc comment is kept by hand; this keeps it complete.
        let mut cmd = Cli::command();
        let help = cmd
            .find_subcommand_mut("run")
            .unwrap()
            .render_help()
            .to_string();
        for name in crate::profile::builtin_profile_names() {
            assert!(
                help.contains(name),
                "`--profile` help does not name {name}:\n{help}"
            );
        }
    }

    #[test]
    fn overrides_reach_the_partial_profile() {
        let cli = Cli::try_parse_from([
            "tornbench",
            "run",
            "--profile",
            "smoke",
            "--clients",
            "8,16",
            "--set",
            "shared_buffers=1GB",
            "--workloads",
            "write_only",
            "--dry-run",
        ])
        .unwrap();
        let Command::Run(opts) = cli.into_command().unwrap() else {
            panic!("not a run")
        };
        let run = opts.profile.overrides.run.unwrap();
        assert_eq!(run.clients, Some(vec![8, 16]));
        assert_eq!(run.workloads, Some(vec![Workload::WriteOnly]));
        assert_eq!(
            opts.profile.overrides.server.unwrap()["shared_buffers"],
            SettingValue::from("1GB")
        );
        assert!(opts.dry_run);
    }

    #[test]
    fn crash_test_flags_are_checked_and_named() {
        let parse = |args: &[&str]| {
            let mut all = vec!["tornbench", "crash-test"];
            all.extend_from_slice(args);
            Cli::try_parse_from(all).unwrap().into_command()
        };
        let Command::CrashTest(o) =
            parse(&["--mode", "fpw_off", "--cycles", "3", "--seed", "9"]).unwrap()
        else {
            panic!("not a crash test")
        };
        assert_eq!(
            (o.modes.as_slice(), o.cycles),
            (&["fpw_off".to_string()][..], 3)
        );
        assert_eq!(o.profile.profile, "smoke");
        assert_eq!(o.profile.overrides.run.unwrap().seed, Some(9));
        let err = parse(&["--prefix", "100"]).unwrap_err().to_string();
        assert!(err.contains("--prefix 100"), "{err}");
        let err = parse(&["--cycles", "0"]).unwrap_err().to_string();
        assert!(err.contains("--cycles"), "{err}");
        let err = parse(&["--mode", "dwb"]).unwrap_err().to_string();
        assert!(err.contains("--mode dwb"), "{err}");
    }

    #[test]
    fn bad_only_filter_is_rejected_with_its_text() {
        let cli = Cli::try_parse_from(["tornbench", "run", "--only", "colour=red"]).unwrap();
        let err = cli.into_command().unwrap_err().to_string();
        assert!(err.contains("colour"), "{err}");
    }
}
