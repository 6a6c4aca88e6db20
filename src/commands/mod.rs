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
