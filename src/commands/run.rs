//! `tornbench run`: expand the profile into scenarios (`--dry-run` prints them), make sure a build exists,
//! and run the matrix.

use crate::options::RunOptions;
use crate::profile::scenario::{expand, Scenario};
use crate::profile::Profile;
use anyhow::Result;

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
    crate::experiment::run(opts)
}

/// What follows a run that finished: the report, written into the run directory.
pub fn after_run(run_dir: &crate::results::RunDir) -> Result<()> {
    crate::commands::report::write_report(run_dir.root())
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
    let stock = profile.stock_modes();
    if !stock.is_empty() {
        out.push_str(&format!(
            "modes on the stock build (the same release without patches): {}\n",
            stock.join(", ")
        ));
    }
    let id_width = scenarios
        .iter()
        .map(|s| s.id().len())
        .max()
        .unwrap_or(0)
        .max(8);
    let mode_width = scenarios
        .iter()
        .map(|s| s.mode.len())
        .max()
        .unwrap_or(0)
        .max(4);
    out.push_str(&format!(
        "{:>3}  {:<id_width$} {:<mode_width$} {:<11} {:>7} {:>6}\n",
        "#", "scenario", "mode", "workload", "clients", "repeat"
    ));
    for (i, s) in scenarios.iter().enumerate() {
        out.push_str(&format!(
            "{:>3}  {:<id_width$} {:<mode_width$} {:<11} {:>7} {:>6}\n",
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_plan_keeps_its_columns_with_long_mode_names() {
        let profile = Profile::from_test_toml(
            "[modes.dwb_on_with_a_long_name]\nsettings = { double_write = true }\n\
             [run]\nmodes = [\"fpw_off\", \"dwb_on_with_a_long_name\"]\nworkloads = [\"write_only\"]\nclients = [8]\n",
        );
        let plan = describe(&profile, &expand(&profile));
        // The header and both scenario rows; the last column is right-aligned, so aligned rows are
        // equally long.
        let rows: Vec<&str> = plan.lines().skip(1).take(3).collect();
        assert!(rows[2].contains("dwb_on_with_a_long_name"), "{plan}");
        assert!(rows.iter().all(|r| r.len() == rows[0].len()), "{plan}");
    }
}
