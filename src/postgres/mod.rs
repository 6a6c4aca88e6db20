//! PostgreSQL: obtaining and building it, the installation on disk, the OS user servers run as, the
//! configuration of each torn-page mode, and the lifecycle of clusters and servers.

pub mod build;
pub mod cluster;
pub mod config;
pub mod install;
pub mod memcap;
pub mod os_user;
pub mod source;
pub mod toolchain;

use anyhow::Result;
use build::{BuildManifest, BuildRequest};
use install::PgInstall;
use std::path::Path;

/// The size of a page in the builds tornbench makes: PostgreSQL's default BLCKSZ.
pub const BLOCK_SIZE: usize = 8192;

/// The installation a command runs against, and how it came to be.
#[derive(Debug, Clone)]
pub struct ResolvedInstall {
    /// The checked installation.
    pub install: PgInstall,
    /// The cache manifest when the tool built it (also when `--pg-bin` names a cached build's
    /// `install/bin`); `None` for other `--pg-bin` installations.
    pub manifest: Option<BuildManifest>,
}

/// `--pg-bin` if given (checked), else the cached build of `request`, building it if needed.
pub fn resolve_install(pg_bin: Option<&Path>, request: &BuildRequest) -> Result<ResolvedInstall> {
    match pg_bin {
        Some(bin) => Ok(ResolvedInstall {
            install: PgInstall::open(bin)?,
            manifest: build::manifest_for_bin(bin),
        }),
        None => {
            let built = build::build(request)?;
            Ok(ResolvedInstall {
                install: built.install,
                manifest: Some(built.manifest),
            })
        }
    }
}
