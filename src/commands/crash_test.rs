//! `tornbench crash-test`: builds the torn-write shim, loads one golden data directory, runs the cycles of
//! every mode (printing a line per cycle and saving the results after each one), prints a summary per mode
//! and fails if a protected mode took damage or the control showed that nothing was really torn.

use super::{install_for, load_profile};
use crate::crash::cycle::CycleContext;
use crate::crash::injector::Shim;
use crate::crash::load::LoadSpec;
use crate::crash::summary::{markdown, CrashReport, ModeSummary};
use crate::crash::{plans, prepare_golden, run_mode};
use crate::fsutil::write_atomic;
use crate::options::CrashTestOptions;
use crate::postgres::config::ServerConfig;
use crate::postgres::os_user::ServerUser;
use crate::profile::mode::ModeBuild;
use anyhow::{anyhow, bail, Context, Result};
use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

/// Runs `tornbench crash-test`.
pub fn run(opts: &CrashTestOptions) -> Result<()> {
    let profile = load_profile(&opts.profile)?;
    let resolved = install_for(&profile, &opts.install)?;
    let install = &resolved.install;
    let user = ServerUser::for_this_process()?;
    let shim = Shim::build(&opts.install.request.cache_dir)?;
    let stamp = chrono::Local::now().format("%Y%m%d-%H%M%S").to_string();
    let out_dir = opts
        .out_dir
        .clone()
        .unwrap_or_else(|| Path::new("reports").join(format!("crash-{stamp}")));
    let work_dir = opts.work_dir.join(format!("crash-{stamp}"));
    std::fs::create_dir_all(&work_dir)
        .with_context(|| format!("creating {}", work_dir.display()))?;
    std::fs::set_permissions(&work_dir, std::fs::Permissions::from_mode(0o755))
        .with_context(|| format!("chmod {}", work_dir.display()))?;
    if let Some(user) = &user {
        user.check_reachable(&work_dir.join("golden"))?;
    }
    let logs_dir = out_dir.join("logs");
    std::fs::create_dir_all(&logs_dir)
        .with_context(|| format!("creating {}", logs_dir.display()))?;
    let table_size = u32::try_from(profile.data.table_size).map_err(|_| {
        anyhow!(
            "--table-size {}: the crash test supports at most {} rows per table",
            profile.data.table_size,
            u32::MAX
        )
    })?;
    let load = LoadSpec {
        tables: profile.data.tables,
        table_size,
        clients: opts.clients,
        seed: profile.run.seed,
        distribution: profile.run.distribution,
    };
    let config_of = |mode: &str| -> Result<ServerConfig> {
        let mode = profile
            .modes
            .get(mode)
            .cloned()
            .ok_or_else(|| anyhow!("--mode {mode}: the profile does not define it"))?;
        if mode.build == ModeBuild::Stock {
            bail!(
                "--mode {}: the crash test runs every mode on one build, and this mode asks for the stock \
                 build; torn-page protection does not depend on the patch when double_write is off, so test \
                 the same settings on the patched build",
                mode.name
            );
        }
        Ok(ServerConfig {
            port: 0,
            server: profile.server.clone(),
            mode,
            max_clients: opts.clients + 4,
            build_has_double_write: install.has_double_write(),
            extra: BTreeMap::new(),
        })
    };
    // Every mode's configuration up front, so a mode the test cannot run is refused before any work.
    let configs = opts
        .modes
        .iter()
        .map(|mode| Ok((mode, config_of(mode)?)))
        .collect::<Result<Vec<_>>>()?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the async runtime")?;

    eprintln!(
        "crash-test: PostgreSQL {} in {}; {} x {} rows; {} cycles per mode; seed {}; results in {}",
        install.version,
        install.bin_dir.display(),
        load.tables,
        load.table_size,
        opts.cycles,
        load.seed,
        out_dir.display()
    );
    let golden = work_dir.join("golden");
    prepare_golden(
        install,
        user.as_ref(),
        &golden,
        &config_of("fpw_on")?,
        load,
        &rt,
    )
    .context("preparing the golden data directory")?;

    let mut report = CrashReport {
        tool_version: env!("CARGO_PKG_VERSION").to_string(),
        postgres_version: install.version.clone(),
        bin_dir: install.bin_dir.display().to_string(),
        has_double_write: install.has_double_write(),
        profile: profile.name.clone(),
        tables: load.tables,
        table_size: load.table_size,
        seed: load.seed,
        cycles: opts.cycles,
        started_at: chrono::Local::now().to_rfc3339(),
        modes: Vec::new(),
    };
    let plans = plans(load.seed, opts.cycles, opts.prefix);
    for (mode, config) in configs {
        if let Err(e) = install.check_mode(&config.mode) {
            let summary = ModeSummary::skipped(mode, e.to_string());
            println!("{}", summary.text());
            report.modes.push(summary);
            save(&out_dir, &report)?;
            continue;
        }
        let ctx = CycleContext {
            install,
            user: user.as_ref(),
            shim: &shim,
            golden: &golden,
            work_dir: &work_dir,
            logs_dir: &logs_dir,
            config,
            load,
            rt: &rt,
        };
        let done = report.modes.clone();
        let summary = run_mode(&ctx, &plans, &mut |cycle, so_far| {
            println!("{}", cycle.line());
            for note in &cycle.notes {
                println!("    note: {note}");
            }
            if let Some(e) = &cycle.recovery_error {
                for line in e.lines().take(4) {
                    println!("    | {line}");
                }
            }
            let mut partial = report.clone();
            partial.modes = done.clone();
            partial.modes.push(so_far.clone());
            save(&out_dir, &partial)
        })?;
        println!("{}", summary.text());
        report.modes.push(summary);
        save(&out_dir, &report)?;
    }
    let _ = std::fs::remove_dir_all(&golden);
    let _ = std::fs::remove_dir(&work_dir);
    println!("results: {}", out_dir.join("crash.json").display());

    let failures: Vec<String> = report
        .modes
        .iter()
        .filter_map(|s| s.verdict().err().map(|e| format!("{}: {e}", s.mode)))
        .collect();
    if !failures.is_empty() {
        bail!("the crash test failed:\n  {}", failures.join("\n  "));
    }
    Ok(())
}

/// Writes `crash.json` and `crash.md`, atomically.
fn save(out_dir: &Path, report: &CrashReport) -> Result<()> {
    let json = serde_json::to_vec_pretty(report).context("serializing the crash-test results")?;
    write_atomic(&out_dir.join("crash.json"), &json)?;
    write_atomic(
        &out_dir.join("crash.md"),
        markdown(&report.modes).as_bytes(),
    )
}
