//! `tornbench run`: expand the profile into scenarios (`--dry-run` prints them), make sure a build exists,
//! and run the matrix.

use super::{install_for, load_profile};
use crate::options::RunOptions;
use crate::profile::scenario::{expand, Scenario};
use crate::profile::Profile;
use anyhow::{bail, Result};

/// The scenarios `opts` selects: the profile's matrix, narrowed by `--only`.
pub fn selected_scenarios(profile: &Profile, opts: &RunOptions) -> Result<Vec<Scenario>> {
    for f in &opts.only {
        f.check_against(profile)?;
    }
    Ok(expand(profile)
        .into_iter()
        .filter(|s| opts.only.is_empty() || opts.only.iter().any(|f| f.matches(s)))
        .collect())
}

/// Runs `tornbench run`.
pub fn run(opts: &RunOptions) -> Result<()> {
    let profile = load_profile(&opts.profile)?;
    let scenarios = selected_scenarios(&profile, opts)?;
    if opts.dry_run {
        print!("{}", describe(&profile, &scenarios));
        return Ok(());
    }
    let resolved = install_for(&profile, &opts.install)?;
    for mode in profile.selected_modes() {
        if let Err(e) = resolved.install.check_mode(mode) {
            eprintln!("note: {e}; its scenarios will be skipped");
        }
    }
    bail!(
        "PostgreSQL {} is ready in {}, but running the matrix is not implemented yet (the experiment issue); \
         `tornbench run --dry-run` lists the {} scenarios it will run",
        resolved.install.version,
        resolved.install.bin_dir.display(),
        scenarios.len()
    )
}

/// A human-readable plan: the profile's shape and one line per scenario.
pub fn describe(profile: &Profile, scenarios: &[Scenario]) -> String {
    let r = &profile.run;
    let mut out = format!(
        "profile {} ({}): {} scenarios; {} tables x {} rows; warm-up {} s + measured {} s each; rebuild {:?}, order {:?}\n",
        profile.name,
        profile.origin,
        scenarios.len(),
        profile.data.tables,
        profile.data.table_size,
        r.warmup_secs,
        r.duration_secs,
        r.rebuild,
        r.order,
    );
    out.push_str(&format!(
        "{:>3}  {:<28} {:<9} {:<11} {:>7} {:>6}\n",
        "#", "scenario", "mode", "workload", "clients", "repeat"
    ));
    for (i, s) in scenarios.iter().enumerate() {
        out.push_str(&format!(
            "{:>3}  {:<28} {:<9} {:<11} {:>7} {:>6}\n",
            i + 1,
            s.id(),
            s.mode,
            s.workload.name(),
            s.clients,
            s.repeat
        ));
    }
    let load_secs = scenarios.len() as u64 * (r.warmup_secs + r.duration_secs);
    out.push_str(&format!(
        "load time: {} min {} s of warm-up and measurement, plus build, data load and rebuilds\n",
        load_secs / 60,
        load_secs % 60
    ));
    out
}
