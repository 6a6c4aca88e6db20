//! One file per subcommand: each takes its options and does the work, printing results on stdout and
//! progress on stderr.

pub mod bench;
pub mod build;
pub mod crash_test;
pub mod prepare;
pub mod report;
pub mod run;
pub mod server;

use crate::options::{InstallOptions, ProfileOptions};
use crate::postgres::{resolve_install, ResolvedInstall};
use crate::profile::Profile;
use anyhow::Result;

/// Loads the profile with its command-line overrides.
pub fn load_profile(opts: &ProfileOptions) -> Result<Profile> {
    Ok(Profile::load(&opts.profile, opts.overrides.clone())?)
}

/// The installation for `profile`: `--pg-bin`, or the cached build with the profile's configure flags
/// (unless `--configure-flag` replaced them), built if missing.
pub fn install_for(profile: &Profile, opts: &InstallOptions) -> Result<ResolvedInstall> {
    let mut request = opts.request.clone();
    if !opts.flags_from_command_line {
        request.configure_flags = profile.build.configure_flags.clone();
    }
    resolve_install(opts.pg_bin.as_deref(), &request)
}

/// The stock installation for `profile`'s `build = "stock"` modes: the same source and configure flags as
/// [`install_for`] with no patches applied, from the cache or built. Built even with `--pg-bin`, whose
/// patches are unknown.
pub fn stock_install_for(profile: &Profile, opts: &InstallOptions) -> Result<ResolvedInstall> {
    let mut stock = opts.clone();
    stock.pg_bin = None;
    stock.request.patches_dir = None;
    install_for(profile, &stock)
}

/// How results name a cached build (or a `--pg-bin` installation).
pub fn build_id(resolved: &ResolvedInstall) -> String {
    match &resolved.manifest {
        Some(m) => format!("build {} ({})", m.key, m.configure_flags.join(" ")),
        None => format!("pg-bin {}", resolved.install.bin_dir.display()),
    }
}
