//! `tornbench report RUN_DIR`: regenerate `report.md`, `charts/*.png` and `results.csv` from a run
//! directory's stored results; no database is needed. `tornbench run` calls it when a run ends.

use crate::options::ReportOptions;
use anyhow::Result;
use std::path::Path;

/// Runs `tornbench report`.
pub fn run(opts: &ReportOptions) -> Result<()> {
    write_report(&opts.run_dir)
}

/// Writes the report of the run directory `dir` and says where it is.
pub fn write_report(dir: &Path) -> Result<()> {
    let written = crate::report::generate(dir)?;
    eprintln!(
        "report: {} ({} files written, charts in {})",
        dir.join(crate::report::markdown::FILE).display(),
        written.len(),
        dir.join("charts").display()
    );
    Ok(())
}
