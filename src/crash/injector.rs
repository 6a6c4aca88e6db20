//! The torn-write injector: builds the LD_PRELOAD shim (`torn_write.c`, embedded in the binary) into the
//! build cache, keyed by the hash of its source, and arms it for one tear. What the shim does is described
//! at the top of `torn_write.c`; this file owns the contract between the tool and the shim: the
//! environment variables, the arm file and the record file.

use anyhow::{bail, Context, Result};
use sha2::{Digest, Sha256};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The shim's C source.
pub const SHIM_SOURCE: &str = include_str!("torn_write.c");

/// The environment variable naming the arm file; its presence makes the shim watch for it.
pub const ARM_ENV: &str = "TORNBENCH_TEAR_ARM";

/// The size of a PostgreSQL page, the unit a torn write is made of.
pub const PAGE_SIZE: usize = crate::postgres::BLOCK_SIZE;

/// The unit a torn write keeps: a disk sector.
pub const SECTOR_SIZE: usize = 512;

/// The compiled shim in the build cache.
#[derive(Debug, Clone)]
pub struct Shim {
    /// The shared library to preload.
    pub path: PathBuf,
}

impl Shim {
    /// Returns the shim compiled from [`SHIM_SOURCE`] under `cache_dir/shims/`, compiling it with `cc` if
    /// this version is not there yet. The library and its directories are world-readable, so servers running
    /// as the unprivileged user can load it.
    pub fn build(cache_dir: &Path) -> Result<Shim> {
        let hash = hex(&Sha256::digest(SHIM_SOURCE.as_bytes()))[..16].to_string();
        let dir = cache_dir.join("shims");
        let path = dir.join(format!("torn_write-{hash}.so"));
        if path.is_file() {
            return Ok(Shim { path });
        }
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        for d in [cache_dir, dir.as_path()] {
            let mode = std::fs::metadata(d)
                .with_context(|| format!("reading {}", d.display()))?
                .permissions()
                .mode();
            if mode & 0o005 != 0o005 {
                std::fs::set_permissions(d, std::fs::Permissions::from_mode(mode | 0o755))
                    .with_context(|| format!("chmod o+rx {}", d.display()))?;
            }
        }
        let work = tempfile::Builder::new()
            .prefix(".torn_write-")
            .tempdir_in(&dir)
            .with_context(|| format!("creating a temporary directory in {}", dir.display()))?;
        let src = work.path().join("torn_write.c");
        std::fs::write(&src, SHIM_SOURCE).with_context(|| format!("writing {}", src.display()))?;
        let out_tmp = work.path().join("torn_write.so");
        let out = Command::new("cc")
            .args(["-shared", "-fPIC", "-O2", "-Wall", "-o"])
            .arg(&out_tmp)
            .arg(&src)
            .arg("-ldl")
            .output()
            .context("running cc to build the torn-write shim (install a C compiler)")?;
        if !out.status.success() {
            bail!(
                "cc failed to build the torn-write shim from {} ({}):\n{}",
                src.display(),
                out.status,
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::fs::set_permissions(&out_tmp, std::fs::Permissions::from_mode(0o755))
            .with_context(|| format!("chmod {}", out_tmp.display()))?;
        std::fs::rename(&out_tmp, &path)
            .with_context(|| format!("moving the shim into {}", path.display()))?;
        Ok(Shim { path })
    }

    /// The environment a server needs to carry the shim, watching `arm`.
    pub fn server_env(&self, arm: &Arm) -> Vec<(String, String)> {
        vec![
            ("LD_PRELOAD".to_string(), self.path.display().to_string()),
            (ARM_ENV.to_string(), arm.path.display().to_string()),
        ]
    }
}

/// What one tear does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TearPlan {
    /// Bytes of the page that reach the file: a multiple of [`SECTOR_SIZE`] in `512..=7680`.
    pub prefix: usize,
    /// Matching writes of the armed process that pass untouched before the torn one (spreads tears over
    /// the relations a checkpoint writes in order).
    pub skip: u32,
    /// Picks the block of a multi-block write.
    pub pick: u32,
}

/// The one-shot arm file of one server, in a directory the server's user may write (the shim renames the
/// arm file to take it and writes its record next to it).
#[derive(Debug, Clone)]
pub struct Arm {
    /// The arm file's path.
    pub path: PathBuf,
}

impl Arm {
    /// The arm file `tear.arm` in `dir` (the directory must exist and be writable by the server's user).
    pub fn in_dir(dir: &Path) -> Arm {
        Arm {
            path: dir.join("tear.arm"),
        }
    }

    /// The file the shim writes when it tears.
    pub fn record_path(&self) -> PathBuf {
        with_suffix(&self.path, ".record")
    }

    /// Arms the shim: the next matching write (after `plan.skip`) is torn. Written atomically, so the shim
    /// never reads half an arm file.
    pub fn arm(&self, plan: TearPlan) -> Result<()> {
        let tmp = with_suffix(&self.path, ".tmp");
        std::fs::write(
            &tmp,
            format!("{} {} {}\n", plan.prefix, plan.skip, plan.pick),
        )
        .with_context(|| format!("writing {}", tmp.display()))?;
        std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o644))
            .with_context(|| format!("chmod {}", tmp.display()))?;
        std::fs::rename(&tmp, &self.path).with_context(|| format!("arming {}", self.path.display()))
    }

    /// Whether a server process took the arm file (it may still be counting skipped writes).
    pub fn taken(&self) -> bool {
        with_suffix(&self.path, ".taken").exists()
    }

    /// Removes the arm file if no process took it, so a later start of the same data directory cannot tear.
    pub fn disarm(&self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shim_compiles_once_and_is_reused() {
        let dir = tempfile::tempdir().unwrap();
        let a = Shim::build(dir.path()).unwrap();
        let modified = std::fs::metadata(&a.path).unwrap().modified().unwrap();
        let b = Shim::build(dir.path()).unwrap();
        assert_eq!(a.path, b.path);
        assert_eq!(
            std::fs::metadata(&b.path).unwrap().modified().unwrap(),
            modified
        );
        let mode = std::fs::metadata(&a.path).unwrap().permissions().mode();
        assert_eq!(mode & 0o005, 0o005, "world-readable: {mode:o}");
    }

    #[test]
    fn arm_file_holds_the_plan_on_one_line() {
        let dir = tempfile::tempdir().unwrap();
        let arm = Arm::in_dir(dir.path());
        arm.arm(TearPlan {
            prefix: 1536,
            skip: 7,
            pick: 3,
        })
        .unwrap();
        assert_eq!(std::fs::read_to_string(&arm.path).unwrap(), "1536 7 3\n");
        assert!(!arm.taken());
        assert!(arm.record_path().ends_with("tear.arm.record"));
        arm.disarm();
        assert!(!arm.path.exists());
    }
}
