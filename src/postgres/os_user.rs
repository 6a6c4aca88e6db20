//! The OS user that runs PostgreSQL servers. PostgreSQL refuses to run as root; when the tool runs as root it
//! starts its servers as an unprivileged user (created if missing) that owns their data directories.

use anyhow::{bail, Context, Result};
use std::ffi::CString;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::Command;

/// The default name of the unprivileged user, overridable with `TORNBENCH_SERVER_USER`.
pub const DEFAULT_SERVER_USER: &str = "tornbench";

/// An unprivileged OS user that servers run as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerUser {
    /// Login name.
    pub name: String,
    /// Numeric user id.
    pub uid: u32,
    /// Numeric primary group id.
    pub gid: u32,
}

impl ServerUser {
    /// The user servers must run as: `None` when this process is not root (servers run as ourselves),
    /// otherwise the unprivileged user, created with `useradd` if it does not exist.
    pub fn for_this_process() -> Result<Option<ServerUser>> {
        if !crate::paths::running_as_root() {
            return Ok(None);
        }
        let name = std::env::var("TORNBENCH_SERVER_USER")
            .unwrap_or_else(|_| DEFAULT_SERVER_USER.to_string());
        if let Some(user) = lookup(&name)? {
            if user.uid == 0 {
                bail!("TORNBENCH_SERVER_USER={name} is root; PostgreSQL refuses to run as root");
            }
            return Ok(Some(user));
        }
        // Tests start many servers at once: create the user from one thread, and tolerate another process
        // creating it at the same moment (useradd then fails on its lock; the user appears shortly after).
        static CREATE: std::sync::Mutex<()> = std::sync::Mutex::new(());
        let _guard = CREATE.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(user) = lookup(&name)? {
            return Ok(Some(user));
        }
        let status = Command::new("useradd")
            .args([
                "--system",
                "--user-group",
                "--no-create-home",
                "--shell",
                "/usr/sbin/nologin",
            ])
            .arg(&name)
            .status()
            .context("running useradd to create the unprivileged server user")?;
        for _ in 0..50 {
            if let Some(user) = lookup(&name)? {
                return Ok(Some(user));
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        bail!("useradd {name} failed ({status}); create the user by hand or set TORNBENCH_SERVER_USER")
    }

    /// Makes `cmd` run as this user.
    pub fn apply(&self, cmd: &mut Command) {
        cmd.uid(self.uid).gid(self.gid);
    }

    /// Gives this user ownership of `path` (not recursive).
    pub fn chown(&self, path: &Path) -> Result<()> {
        std::os::unix::fs::chown(path, Some(self.uid), Some(self.gid))
            .with_context(|| format!("chown {} to {}", path.display(), self.name))
    }

    /// Gives this user ownership of `path` and everything below it.
    pub fn chown_recursive(&self, path: &Path) -> Result<()> {
        let status = Command::new("chown")
            .arg("-R")
            .arg(format!("{}:{}", self.uid, self.gid))
            .arg(path)
            .status()
            .with_context(|| format!("running chown -R on {}", path.display()))?;
        if !status.success() {
            bail!(
                "chown -R {} {} failed ({status})",
                self.name,
                path.display()
            );
        }
        Ok(())
    }

    /// Fails with a clear message if this user cannot reach `path` because a parent directory denies it.
    pub fn check_reachable(&self, path: &Path) -> Result<()> {
        use std::os::unix::fs::MetadataExt;
        for dir in path.ancestors().skip(1) {
            let Ok(meta) = std::fs::metadata(dir) else {
                continue;
            };
            let mode = meta.mode();
            let can_traverse = if meta.uid() == self.uid {
                mode & 0o100 != 0
            } else if meta.gid() == self.gid {
                mode & 0o010 != 0
            } else {
                mode & 0o001 != 0
            };
            if !can_traverse {
                bail!(
                    "the server user `{}` cannot reach {}: {} (mode {:o}) is closed to it. Use a directory \
                     others may traverse (e.g. /var/lib/tornbench or /tmp), or `chmod o+x {}`",
                    self.name,
                    path.display(),
                    dir.display(),
                    mode & 0o7777,
                    dir.display()
                );
            }
        }
        Ok(())
    }
}

fn lookup(name: &str) -> Result<Option<ServerUser>> {
    let cname = CString::new(name).context("user name contains a NUL byte")?;
    // SAFETY: an all-zero passwd is a valid value to be filled in by getpwnam_r.
    let mut pwd: libc::passwd = unsafe { std::mem::zeroed() };
    let mut buf = vec![0 as libc::c_char; 16 * 1024];
    let mut result: *mut libc::passwd = std::ptr::null_mut();
    // SAFETY: every pointer refers to memory we own for the duration of the call (the reentrant variant,
    // safe from several threads at once).
    let rc = unsafe {
        libc::getpwnam_r(
            cname.as_ptr(),
            &mut pwd,
            buf.as_mut_ptr(),
            buf.len(),
            &mut result,
        )
    };
    if rc != 0 {
        bail!(
            "looking up user {name}: {}",
            std::io::Error::from_raw_os_error(rc)
        );
    }
    if result.is_null() {
        return Ok(None);
    }
    Ok(Some(ServerUser {
        name: name.to_string(),
        uid: pwd.pw_uid,
        gid: pwd.pw_gid,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn looks_up_an_existing_user_and_not_a_missing_one() {
        assert_eq!(lookup("root").unwrap().unwrap().uid, 0);
        assert!(lookup("no-such-user-tornbench-test").unwrap().is_none());
    }

    #[test]
    fn closed_parent_directory_is_reported() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let closed = dir.path().join("closed");
        std::fs::create_dir(&closed).unwrap();
        std::fs::set_permissions(&closed, std::fs::Permissions::from_mode(0o700)).unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let nobody = ServerUser {
            name: "nobody-test".into(),
            uid: 65534,
            gid: 65534,
        };
        let err = nobody
            .check_reachable(&closed.join("data"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("closed"), "{err}");
        nobody.check_reachable(&dir.path().join("open")).unwrap();
    }
}
