//! A memory cgroup around one server: the postmaster and every process it forks share one memory limit, and
//! the kernel charges the page cache of the files they read and write to it. A data set larger than the
//! limit is then really read from and written to disk, as in the article's IO-bound setup, on a machine
//! whose RAM would otherwise cache all of it. Works with the cgroup v1 memory controller and with cgroup
//! v2 where the tool's own cgroup may enable the memory controller for its children.

use crate::results::ServerMemory;
use anyhow::{bail, Context, Result};
use std::ffi::CString;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

/// Which cgroup interface holds the memory controller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Version {
    /// `memory.limit_in_bytes`, `memory.max_usage_in_bytes`.
    V1,
    /// `memory.max`, `memory.peak`.
    V2,
}

/// A memory cgroup made for one server; removed when dropped (once its processes have exited).
#[derive(Debug)]
pub struct MemoryCap {
    dir: PathBuf,
    version: Version,
}

static SEQUENCE: AtomicU32 = AtomicU32::new(0);

impl MemoryCap {
    /// Makes a new cgroup below this process's own, named after `label`, with a limit of `limit_bytes`.
    pub fn create(label: &str, limit_bytes: u64) -> Result<MemoryCap> {
        let (version, parent) =
            locate(&read("/proc/self/cgroup")?, &read("/proc/self/mountinfo")?)?;
        let name = format!(
            "tornbench-{}-{}-{}",
            std::process::id(),
            SEQUENCE.fetch_add(1, Ordering::Relaxed),
            sanitize(label)
        );
        if version == Version::V2 {
            enable_v2_memory(&parent)?;
        }
        let dir = parent.join(name);
        std::fs::create_dir(&dir).with_context(|| {
            format!(
                "creating the memory cgroup {} (a memory cap needs root)",
                dir.display()
            )
        })?;
        let cap = MemoryCap { dir, version };
        let limit_file = match version {
            Version::V1 => "memory.limit_in_bytes",
            Version::V2 => "memory.max",
        };
        write(&cap.dir.join(limit_file), &limit_bytes.to_string())?;
        Ok(cap)
    }

    /// Checks that a cap can be made here, by making one and removing it again.
    pub fn check_available() -> Result<()> {
        MemoryCap::create("check", 1 << 30).map(drop)
    }

    /// The cgroup's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Makes the process that `cmd` starts join the cgroup between fork and exec, so it is inside before it
    /// runs any code of its own and everything it forks inherits the cgroup. Then, if `ids` (uid, gid) is
    /// given, the process drops to that user and group; they must not also be set on `cmd`, since std sets
    /// them before this runs, and a process that is no longer root may not leave root's cgroup.
    pub fn join_before_exec(&self, cmd: &mut Command, ids: Option<(u32, u32)>) -> Result<()> {
        let procs = self.dir.join("cgroup.procs");
        let procs = CString::new(procs.as_os_str().as_bytes())
            .with_context(|| format!("{} has a NUL byte", procs.display()))?;
        // SAFETY: the closure runs in the child between fork and exec; it makes only async-signal-safe
        // system calls, on memory prepared before the fork, and allocates nothing.
        unsafe {
            cmd.pre_exec(move || {
                let fd = libc::open(procs.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC);
                if fd < 0 {
                    return Err(io::Error::last_os_error());
                }
                // "0" is the writing process itself.
                let written = libc::write(fd, b"0".as_ptr().cast(), 1);
                let error = io::Error::last_os_error();
                libc::close(fd);
                if written != 1 {
                    return Err(error);
                }
                if let Some((uid, gid)) = ids {
                    if libc::setgroups(0, std::ptr::null()) != 0
                        || libc::setgid(gid) != 0
                        || libc::setuid(uid) != 0
                    {
                        return Err(io::Error::last_os_error());
                    }
                }
                Ok(())
            });
        }
        Ok(())
    }

    /// The processes in the cgroup now.
    pub fn pids(&self) -> Result<Vec<u32>> {
        Ok(read(self.dir.join("cgroup.procs"))?
            .lines()
            .filter_map(|l| l.trim().parse().ok())
            .collect())
    }

    /// Whether process `pid` is in this cgroup, from its own `/proc/PID/cgroup`; `None` once it has exited.
    /// (Asking the process, not listing the cgroup, so that forks and exits between two reads cannot make
    /// a process look outside.)
    pub fn holds(&self, pid: u32) -> Option<bool> {
        let text = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).ok()?;
        let name = self.dir.file_name()?.to_string_lossy().into_owned();
        let inside = cgroup_entries(&text).any(|(id, controllers, path)| {
            let right_hierarchy = match self.version {
                Version::V1 => controllers.split(',').any(|c| c == "memory"),
                Version::V2 => id == "0",
            };
            right_hierarchy && path.rsplit('/').next() == Some(name.as_str())
        });
        Some(inside)
    }

    /// The limit as the kernel holds it (whole pages) and the peak charge since the cgroup was made.
    pub fn usage(&self) -> Result<ServerMemory> {
        let (limit, peak) = match self.version {
            Version::V1 => ("memory.limit_in_bytes", "memory.max_usage_in_bytes"),
            Version::V2 => ("memory.max", "memory.peak"),
        };
        let limit_bytes = read(self.dir.join(limit))?
            .trim()
            .parse()
            .with_context(|| format!("parsing {}", self.dir.join(limit).display()))?;
        let peak_bytes = std::fs::read_to_string(self.dir.join(peak))
            .ok()
            .and_then(|s| s.trim().parse().ok());
        Ok(ServerMemory {
            limit_bytes,
            peak_bytes,
        })
    }
}

impl Drop for MemoryCap {
    fn drop(&mut self) {
        // A cgroup can be removed only once its last process has been reaped; give stragglers a moment.
        for _ in 0..50 {
            if std::fs::remove_dir(&self.dir).is_ok() || !self.dir.exists() {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        eprintln!(
            "warning: could not remove the memory cgroup {}; remove it with rmdir once its processes are gone",
            self.dir.display()
        );
    }
}

/// Finds the directory of this process's own cgroup that holds the memory controller: the v1 `memory`
/// hierarchy if one is mounted, else the v2 hierarchy.
fn locate(proc_cgroup: &str, mountinfo: &str) -> Result<(Version, PathBuf)> {
    let mut v2_path = None;
    for (id, controllers, path) in cgroup_entries(proc_cgroup) {
        if controllers.split(',').any(|c| c == "memory") {
            let mount = mount_point(mountinfo, |fs, opts| {
                fs == "cgroup" && opts.split(',').any(|o| o == "memory")
            })
            .context("the cgroup v1 memory controller is in use but its mount was not found")?;
            return Ok((Version::V1, join_cgroup(&mount, path)));
        }
        if id == "0" && controllers.is_empty() {
            v2_path = Some(path.to_string());
        }
    }
    if let Some(path) = v2_path {
        if let Some(mount) = mount_point(mountinfo, |fs, _| fs == "cgroup2") {
            return Ok((Version::V2, join_cgroup(&mount, &path)));
        }
    }
    bail!(
        "no cgroup memory controller is mounted here, so a server's memory cannot be capped; \
         remove memory_limit from the profile's [host] table"
    )
}

/// The `hierarchy-id:controllers:path` lines of a `/proc/PID/cgroup` file, split into their three fields.
fn cgroup_entries(text: &str) -> impl Iterator<Item = (&str, &str, &str)> {
    text.lines().filter_map(|line| {
        let mut parts = line.splitn(3, ':');
        Some((parts.next()?, parts.next()?, parts.next()?))
    })
}

/// The mount point of the first mount in `/proc/self/mountinfo` whose file-system type and super options
/// satisfy `wanted`.
fn mount_point(mountinfo: &str, wanted: impl Fn(&str, &str) -> bool) -> Option<PathBuf> {
    mountinfo.lines().find_map(|line| {
        let (left, right) = line.split_once(" - ")?;
        let mut right = right.split_whitespace();
        let fs = right.next()?;
        let _source = right.next()?;
        let opts = right.next().unwrap_or("");
        let mount = left.split_whitespace().nth(4)?;
        wanted(fs, opts).then(|| PathBuf::from(mount))
    })
}

fn join_cgroup(mount: &Path, path: &str) -> PathBuf {
    mount.join(path.trim_start_matches('/'))
}

/// In v2, a child cgroup has a memory limit only when its parent enables the controller for its children.
fn enable_v2_memory(parent: &Path) -> Result<()> {
    let subtree = parent.join("cgroup.subtree_control");
    if read(&subtree)?.split_whitespace().any(|c| c == "memory") {
        return Ok(());
    }
    write(&subtree, "+memory").with_context(|| {
        format!(
            "enabling the memory controller in {} (cgroup v2 allows it only in a cgroup without processes \
             of its own; run tornbench from such a cgroup, or remove memory_limit from the profile)",
            parent.display()
        )
    })
}

fn sanitize(label: &str) -> String {
    label
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect()
}

fn read(path: impl AsRef<Path>) -> Result<String> {
    let path = path.as_ref();
    std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))
}

fn write(path: &Path, text: &str) -> Result<()> {
    std::fs::write(path, text).with_context(|| format!("writing {text} to {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const MOUNTINFO: &str = "\
24 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw
30 25 0:26 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
33 25 0:29 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
40 25 0:36 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
";

    #[test]
    fn the_v1_memory_hierarchy_wins_where_it_is_mounted() {
        let cgroup = "4:memory:/process_api/abc\n1:cpu:/\n0::/\n";
        let (v, dir) = locate(cgroup, MOUNTINFO).unwrap();
        assert_eq!(v, Version::V1);
        assert_eq!(dir, PathBuf::from("/sys/fs/cgroup/memory/process_api/abc"));
    }

    #[test]
    fn a_pure_v2_machine_uses_the_unified_hierarchy() {
        let mountinfo = "35 25 0:30 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw,nsdelegate\n";
        let (v, dir) = locate("0::/user.slice/session-1.scope\n", mountinfo).unwrap();
        assert_eq!(v, Version::V2);
        assert_eq!(
            dir,
            PathBuf::from("/sys/fs/cgroup/user.slice/session-1.scope")
        );
    }

    #[test]
    fn no_controller_is_a_clear_error() {
        let err = locate("1:cpu:/\n", "30 25 0:26 / /x rw - cgroup cgroup rw,cpu\n").unwrap_err();
        assert!(format!("{err:#}").contains("memory_limit"), "{err:#}");
    }

    #[test]
    fn labels_become_safe_directory_names() {
        assert_eq!(sanitize("write_only/c32 dwb_on"), "write-only-c32-dwb-on");
    }
}
