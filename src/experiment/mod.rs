//! `tornbench run`: the whole matrix. Makes sure a build exists, checks disk and memory, makes the golden
//! database (or reloads per scenario), and runs every selected scenario (skipping finished ones unless
//! `--only` names them), writing each result as soon as it exists. Ctrl-C ends the current scenario, keeps
//! every finished result and prints the command that resumes.

pub mod database;
pub mod load;
pub mod preflight;
pub mod progress;
pub mod scenario;

use crate::commands::run::{describe, selected_scenarios};
use crate::commands::{build_id, install_for, load_profile, stock_install_for};
use crate::machine::MachineInfo;
use crate::options::RunOptions;
use crate::postgres::install::PgInstall;
use crate::postgres::os_user::ServerUser;
use crate::postgres::ResolvedInstall;
use crate::profile::mode::{Mode, ModeBuild};
use crate::profile::{Profile, RebuildStrategy};
use crate::results::fingerprint::Fingerprint;
use crate::results::{
    PostgresInfo, RunDir, RunManifest, RunTiming, ScenarioResult, ScenarioStatus, ToolInfo,
};
use crate::shutdown;
use anyhow::{bail, Context as _, Result};
use chrono::Utc;
use progress::RunProgress;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// What every scenario of a run shares.
pub struct Context<'a> {
    /// The complete profile.
    pub profile: &'a Profile,
    /// The run's installation.
    pub install: &'a PgInstall,
    /// The installation without patches, for modes with `build = "stock"` (when the run has any).
    pub stock: Option<&'a PgInstall>,
    /// The OS user servers run as.
    pub user: Option<&'a ServerUser>,
    /// The run directory.
    pub run_dir: &'a RunDir,
    /// The run's fingerprint, stored with every result.
    pub fingerprint: &'a Fingerprint,
    /// The golden directory (golden strategy).
    pub golden: Option<PathBuf>,
    /// Where each scenario's data directory is made (one at a time).
    pub scenario_data_dir: PathBuf,
}

impl Context<'_> {
    /// The installation `mode`'s servers run on.
    pub fn install_for(&self, mode: &Mode) -> &PgInstall {
        match (mode.build, self.stock) {
            (ModeBuild::Stock, Some(stock)) => stock,
            _ => self.install,
        }
    }
}

/// Runs `tornbench run`.
pub fn run(opts: &RunOptions) -> Result<()> {
    let started = Instant::now();
    let profile = load_profile(&opts.profile)?;
    let scenarios = selected_scenarios(&profile, opts)?;
    if opts.dry_run {
        print!("{}", describe(&profile, &scenarios));
        return Ok(());
    }
    let t = Instant::now();
    let resolved = install_for(&profile, &opts.install)?;
    let stock_needed = scenarios
        .iter()
        .any(|s| profile.modes[&s.mode].build == ModeBuild::Stock);
    let stock = match stock_needed {
        true => Some(stock_install_for(&profile, &opts.install)?),
        false => None,
    };
    let build_secs = t.elapsed().as_secs_f64();
    let install = &resolved.install;
    let run_build_id = build_id(&resolved);
    let fingerprint = Fingerprint::of(&profile, &install.version, &run_build_id)
        .with_stock_build(stock.as_ref().map(build_id));
    let run_id = opts.run_id.clone().unwrap_or_else(|| new_run_id(&profile));
    let run_dir = RunDir::new(opts.reports_dir.join(&run_id));
    let manifest = open_or_create_run(
        &run_dir,
        &run_id,
        &profile,
        &fingerprint,
        &resolved,
        stock.as_ref(),
        &opts.work_dir,
    )?;

    let golden = (profile.run.rebuild == RebuildStrategy::Golden)
        .then(|| database::golden_dir(&opts.work_dir, &profile, install, &run_build_id));
    let golden_exists = golden.as_deref().is_some_and(database::golden_ready);
    let total_memory = manifest.machine.memory_bytes;
    preflight::check(&profile, &opts.work_dir, golden_exists, total_memory)?;

    let user = ServerUser::for_this_process()?;
    std::fs::create_dir_all(&opts.work_dir)
        .with_context(|| format!("creating {}", opts.work_dir.display()))?;
    if let Some(u) = &user {
        u.check_reachable(&opts.work_dir.join("x"))?;
    }
    shutdown::set_graceful(true);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;

    let todo: Vec<_> = scenarios
        .iter()
        .filter(|s| !opts.only.is_empty() || !already_completed(&run_dir, s))
        .cloned()
        .collect();
    eprintln!(
        "run {run_id}: {} scenarios selected, {} to run; results in {}",
        scenarios.len(),
        todo.len(),
        run_dir.root().display()
    );
    let mut timing = RunTiming {
        build_secs,
        ..Default::default()
    };
    let progress = RunProgress::new(
        todo.len(),
        profile.run.warmup_secs + profile.run.duration_secs,
    );
    let mut interrupted = false;
    if !todo.is_empty() {
        if let Some(golden) = &golden {
            if !golden_exists {
                progress.phase("load golden database", 0);
                let times = runtime.block_on(database::ensure_golden(
                    golden,
                    &profile,
                    install,
                    user.as_ref(),
                ))?;
                timing.load_secs += times.load_secs;
                timing.vacuum_secs += times.vacuum_secs;
            }
        }
        let ctx = Context {
            profile: &profile,
            install,
            stock: stock.as_ref().map(|s| &s.install),
            user: user.as_ref(),
            run_dir: &run_dir,
            fingerprint: &fingerprint,
            golden: golden.clone(),
            scenario_data_dir: opts.work_dir.join("runs").join(&run_id).join("data"),
        };
        for (i, s) in todo.iter().enumerate() {
            if shutdown::interrupted() {
                interrupted = true;
                break;
            }
            progress.scenario(i + 1, todo.len(), &s.id());
            let mode = &profile.modes[&s.mode];
            if let Err(e) = ctx.install_for(mode).check_mode(mode) {
                let result = skipped(&fingerprint, s, e.to_string());
                run_dir.write_scenario(&result)?;
                progress.println(&format!("{}: skipped: {e}", s.id()));
                continue;
            }
            match runtime.block_on(scenario::run(&ctx, s, &progress)) {
                scenario::Outcome::Interrupted => {
                    interrupted = true;
                    break;
                }
                scenario::Outcome::Stored(result) => {
                    run_dir.write_scenario(&result)?;
                    account(&mut timing, &result);
                    progress.println(&summary_line(&result));
                }
            }
            progress.advance(profile.run.warmup_secs + profile.run.duration_secs);
        }
        let _ = std::fs::remove_dir_all(opts.work_dir.join("runs").join(&run_id));
    }
    progress.finish();
    timing.total_secs = started.elapsed().as_secs_f64();
    let mut manifest = manifest;
    manifest.timing = Some(timing.clone());
    run_dir.write_manifest(&manifest)?;
    if interrupted {
        bail!(
            "interrupted; finished scenarios are kept in {}. Resume with:\n  tornbench run --profile {} --run-id {run_id}",
            run_dir.root().display(),
            opts.profile.profile
        );
    }
    eprintln!(
        "run {run_id}: {:.0} s in all, {:.0}% warm-up and measurement ({:.0} s build check, {:.0} s load, {:.0} s \
         rebuilds, {:.0} s VACUUM FULL, {:.0} s checkpoint + sync)",
        timing.total_secs,
        100.0 * (1.0 - timing.overhead_fraction()),
        timing.build_secs,
        timing.load_secs,
        timing.rebuild_secs,
        timing.vacuum_secs,
        timing.settle_secs
    );
    crate::commands::run::after_run(&run_dir)?;
    println!("{}", run_dir.root().display());
    Ok(())
}

fn already_completed(run_dir: &RunDir, s: &crate::profile::scenario::Scenario) -> bool {
    matches!(run_dir.read_scenario(s), Ok(Some(r)) if r.status == ScenarioStatus::Completed)
}

fn account(timing: &mut RunTiming, r: &ScenarioResult) {
    timing.rebuild_secs += r.phases.rebuild_secs;
    timing.vacuum_secs += r.phases.vacuum_secs;
    timing.settle_secs += r.phases.settle_secs;
    timing.warmup_secs += r.phases.warmup_secs;
    timing.measure_secs += r.phases.measure_secs;
}

fn summary_line(r: &ScenarioResult) -> String {
    match (&r.status, &r.bench) {
        (ScenarioStatus::Completed, Some(b)) => {
            format!("{}: {}", r.scenario.id(), load::one_line(b))
        }
        _ => format!(
            "{}: {:?}: {}",
            r.scenario.id(),
            r.status,
            r.reason
                .as_deref()
                .unwrap_or("")
                .lines()
                .next()
                .unwrap_or("")
        ),
    }
}

fn skipped(
    fingerprint: &Fingerprint,
    s: &crate::profile::scenario::Scenario,
    reason: String,
) -> ScenarioResult {
    let now = Utc::now();
    ScenarioResult {
        scenario: s.clone(),
        status: ScenarioStatus::Skipped,
        reason: Some(reason),
        log_tail: None,
        started_at: now,
        finished_at: now,
        fingerprint: fingerprint.clone(),
        phases: Default::default(),
        bench: None,
        server: None,
        host: None,
        host_probe: None,
        per_transaction: None,
        checkpoints: Vec::new(),
        server_memory: None,
    }
}

/// A new run id: UTC time and profile name, e.g. `20261123-120000-quick`.
pub fn new_run_id(profile: &Profile) -> String {
    format!("{}-{}", Utc::now().format("%Y%m%d-%H%M%S"), profile.name)
}

fn open_or_create_run(
    run_dir: &RunDir,
    run_id: &str,
    profile: &Profile,
    fingerprint: &Fingerprint,
    resolved: &ResolvedInstall,
    stock: Option<&ResolvedInstall>,
    work_dir: &Path,
) -> Result<RunManifest> {
    if let Some(existing) = run_dir.read_manifest()? {
        let diffs = existing.fingerprint.differences(fingerprint);
        if !diffs.is_empty() {
            bail!(
                "run {run_id} was made with a different setup; its results would not be comparable:\n  {}\nStart a \
                 new run (omit --run-id), or restore the setup above.",
                diffs.join("\n  ")
            );
        }
        let mut m = existing;
        m.profile = profile.clone();
        if let Some(stock) = stock {
            m.postgres.stock_build = Some(build_id(stock));
            m.fingerprint.stock_build = fingerprint.stock_build.clone();
        }
        return Ok(m);
    }
    let install = &resolved.install;
    let manifest = RunManifest {
        run_id: run_id.to_string(),
        created_at: Utc::now(),
        profile: profile.clone(),
        fingerprint: fingerprint.clone(),
        machine: MachineInfo::collect(work_dir),
        postgres: PostgresInfo {
            version: install.version.clone(),
            bin_dir: install.bin_dir.clone(),
            has_double_write: install.has_double_write(),
            patches: resolved
                .manifest
                .as_ref()
                .map(|m| m.patches.clone())
                .unwrap_or_default(),
            patch_hash: resolved.manifest.as_ref().map(|m| m.patch_hash.clone()),
            configure_flags: resolved
                .manifest
                .as_ref()
                .map(|m| m.configure_flags.clone())
                .unwrap_or_default(),
            stock_build: stock.map(build_id),
        },
        tool: ToolInfo::current(),
        notes: rebuild_notes(profile),
        timing: None,
    };
    run_dir.write_manifest(&manifest)?;
    Ok(manifest)
}

fn rebuild_notes(profile: &Profile) -> Vec<String> {
    let rebuild = match profile.run.rebuild {
        RebuildStrategy::Golden => {
            "Every scenario started from a fresh copy of one golden data directory, loaded once; VACUUM FULL ran \
             once on the golden directory, so every copy starts from the same vacuumed state."
        }
        RebuildStrategy::Reload => "Every scenario ran initdb, loaded the data and ran VACUUM FULL itself.",
    };
    let settle = "Before each warm-up a CHECKPOINT and a sync of the data file system wrote back what making \
                  the database left dirty, so no mode paid for it.";
    let mut notes = vec![rebuild.to_string(), settle.to_string()];
    let stock = profile.stock_modes();
    if !stock.is_empty() {
        let data = match profile.run.rebuild {
            RebuildStrategy::Golden => {
                "from copies of the same golden data directory as every other mode (made by the run's build; \
                 the stock server opens it unchanged)"
            }
            RebuildStrategy::Reload => "with initdb and the load done by the stock build itself",
        };
        notes.push(format!(
            "{} ran on PostgreSQL built from the same source and configure flags without any patch, {data}.",
            stock.join(", ")
        ));
    }
    notes
}
