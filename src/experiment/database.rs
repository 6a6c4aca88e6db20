//! Fresh databases for scenarios. `golden`: load once into a golden data directory (VACUUM FULL, clean
//! stop), reused by every run with the same build and data size; each scenario gets a copy. `reload`:
//! initdb and load for every scenario, VACUUM FULL each time.

use super::load;
use crate::postgres::cluster::{free_port, Cluster, Server, StopMode, DEFAULT_START_TIMEOUT};
use crate::postgres::config::ServerConfig;
use crate::postgres::install::PgInstall;
use crate::postgres::os_user::ServerUser;
use crate::postgres::source::hex;
use crate::profile::mode::BASELINE_MODE;
use crate::profile::Profile;
use anyhow::{bail, Context, Result};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

/// The database name every scenario runs in.
pub const DATABASE: &str = "postgres";

/// Where the golden data directory for `profile`'s data on `install` lives. Its name hashes what its
/// contents depend on, so another build or data size gets its own.
pub fn golden_dir(
    work_dir: &Path,
    profile: &Profile,
    install: &PgInstall,
    build_id: &str,
) -> PathBuf {
    let mut h = Sha256::new();
    for part in [
        install.version.as_str(),
        build_id,
        &profile.data.tables.to_string(),
        &profile.data.table_size.to_string(),
        &profile.run.seed.to_string(),
        "golden-1",
    ] {
        h.update(part.as_bytes());
        h.update([0]);
    }
    let key = hex(&h.finalize());
    work_dir.join("golden").join(format!(
        "{}x{}-{}",
        profile.data.tables,
        profile.data.table_size,
        &key[..12]
    ))
}

/// Whether a golden directory is complete (its marker is written last).
pub fn golden_ready(dir: &Path) -> bool {
    dir.join("READY").is_file()
}

/// Seconds spent making a database, by kind.
#[derive(Debug, Clone, Copy, Default)]
pub struct BuildTimes {
    /// Loading rows and building indexes.
    pub load_secs: f64,
    /// VACUUM FULL.
    pub vacuum_secs: f64,
}

/// The configuration used while loading: the profile's server settings in the unprotected mode (loading
/// is not measured, and every mode starts from the same files).
pub fn loading_config(profile: &Profile, install: &PgInstall) -> Result<ServerConfig> {
    Ok(ServerConfig {
        port: free_port()?,
        server: profile.server.clone(),
        mode: profile.modes[BASELINE_MODE].clone(),
        max_clients: profile.max_clients().max(profile.data.tables),
        build_has_double_write: install.has_double_write(),
        extra: BTreeMap::new(),
    })
}

/// Loads the sysbench data into the running `server`, then VACUUM FULL on every table.
pub async fn load_and_vacuum(server: &Server, profile: &Profile) -> Result<BuildTimes> {
    let conn = server.connection_string(DATABASE);
    let t = Instant::now();
    load::load_data(&conn, profile).await?;
    let load_secs = t.elapsed().as_secs_f64();
    let t = Instant::now();
    load::vacuum_full(&conn, profile.data.tables).await?;
    Ok(BuildTimes {
        load_secs,
        vacuum_secs: t.elapsed().as_secs_f64(),
    })
}

/// Makes the golden directory if it is not there yet; returns the time spent.
pub async fn ensure_golden(
    dir: &Path,
    profile: &Profile,
    install: &PgInstall,
    user: Option<&ServerUser>,
) -> Result<BuildTimes> {
    if golden_ready(dir) {
        return Ok(BuildTimes::default());
    }
    remove_data_dir(&dir.join("data"))?;
    if dir.exists() {
        std::fs::remove_dir_all(dir)
            .with_context(|| format!("removing the incomplete {}", dir.display()))?;
    }
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let cluster = Cluster::init(install, &dir.join("data"), user)?;
    let config = loading_config(profile, install)?;
    let server = cluster.start(&config, &dir.join("load.log"), DEFAULT_START_TIMEOUT)?;
    let times = load_and_vacuum(&server, profile).await?;
    load::checkpoint(&server.connection_string(DATABASE)).await?;
    server.stop(StopMode::Fast)?;
    std::fs::write(
        dir.join("READY"),
        format!(
            "{} tables x {} rows\n",
            profile.data.tables, profile.data.table_size
        ),
    )
    .with_context(|| format!("marking {} ready", dir.display()))?;
    Ok(times)
}

/// Replaces `dest` with a copy of the golden data directory (owner and modes kept).
pub fn copy_golden(golden: &Path, dest: &Path) -> Result<()> {
    remove_data_dir(dest)?;
    if let Some(parent) = dest.parent() {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("creating {}", parent.display()))?;
    }
    let status = Command::new("cp")
        .args(["-a", "--reflink=auto"])
        .arg(golden.join("data"))
        .arg(dest)
        .status()
        .context("running cp")?;
    if !status.success() {
        bail!(
            "copying {} to {} failed ({status})",
            golden.display(),
            dest.display()
        );
    }
    Ok(())
}

/// Removes a data directory if it exists, first killing a server left running in it by a tool process that
/// was killed (its postmaster outlives it).
pub fn remove_data_dir(dir: &Path) -> Result<()> {
    if let Ok(text) = std::fs::read_to_string(dir.join("postmaster.pid")) {
        if let Some(pid) = text
            .lines()
            .next()
            .and_then(|l| l.trim().parse::<u32>().ok())
        {
            if crate::shutdown::process_alive(pid) {
                let killed = crate::shutdown::kill_tree(pid);
                crate::shutdown::wait_all_gone(&killed, std::time::Duration::from_secs(10));
            }
        }
    }
    if dir.exists() {
        std::fs::remove_dir_all(dir).with_context(|| format!("removing {}", dir.display()))?;
    }
    Ok(())
}
