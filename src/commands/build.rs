//! `tornbench build`: build or find the cached installation; the last line on stdout is its `bin` directory.

use crate::options::BuildOptions;
use crate::postgres::build::build;
use anyhow::Result;

/// Runs `tornbench build`.
pub fn run(opts: &BuildOptions) -> Result<()> {
    let built = build(&opts.request)?;
    let m = &built.manifest;
    eprintln!(
        "PostgreSQL {} ({}), patches: {}, configure: {}",
        built.install.version,
        if built.reused { "cached" } else { "built" },
        if m.patches.is_empty() {
            "none".to_string()
        } else {
            m.patches
                .iter()
                .map(|p| p.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        },
        m.configure_flags.join(" ")
    );
    eprintln!(
        "double-write patch: {}",
        if built.install.has_double_write() {
            "present (dwb_on available)"
        } else {
            "absent (dwb_on unavailable)"
        }
    );
    println!("{}", built.install.bin_dir.display());
    Ok(())
}
