//! `tornbench report`: reads a run directory's stored results (no database needed) and writes `report.md`,
//! `charts/*.png` and `results.csv` into it. One model ([`model::ReportModel`]) feeds one small
//! [`Exporter`] per format.

pub mod charts;
pub mod csv;
pub mod markdown;
pub mod model;
pub mod reference;
pub mod speed;
pub mod stats;
pub mod table;

pub use model::ReportModel;

use anyhow::{Context, Result};
use std::path::{Path, PathBuf};

/// One output format, written from the model into the run directory.
pub trait Exporter {
    /// Writes this format's files under `dir`; returns the paths written.
    fn export(&self, model: &ReportModel, dir: &Path) -> Result<Vec<PathBuf>>;
}

/// Regenerates every report file of the run directory at `run_dir`; returns the paths written.
pub fn generate(run_dir: &Path) -> Result<Vec<PathBuf>> {
    let model = ReportModel::load(run_dir)?;
    let exporters: [&dyn Exporter; 3] = [&markdown::Markdown, &csv::Csv, &charts::Charts];
    let mut written = Vec::new();
    for e in exporters {
        written.extend(
            e.export(&model, run_dir)
                .with_context(|| format!("writing the report of {}", run_dir.display()))?,
        );
    }
    Ok(written)
}
