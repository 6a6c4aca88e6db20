//! What machine a run ran on (sysinfo, /proc/mounts), for `run.json` and the report's environment section.

use serde::{Deserialize, Serialize};
use std::path::Path;

/// The host, as far as results depend on it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MachineInfo {
    /// CPU model name.
    pub cpu_model: String,
    /// Logical CPUs.
    pub cpus: usize,
    /// Total memory in bytes.
    pub memory_bytes: u64,
    /// Kernel version.
    pub kernel: String,
    /// Operating system, e.g. `Linux 12 (bookworm)`.
    pub os: String,
    /// File system type of the data directories (e.g. `ext4`) and its mount point.
    pub data_filesystem: String,
}

impl MachineInfo {
    /// Reads the machine; `data_dir` is where data directories live.
    pub fn collect(data_dir: &Path) -> MachineInfo {
        let mut sys = sysinfo::System::new();
        sys.refresh_cpu_all();
        sys.refresh_memory();
        MachineInfo {
            cpu_model: sys
                .cpus()
                .first()
                .map(|c| c.brand().trim().to_string())
                .unwrap_or_default(),
            cpus: sys.cpus().len(),
            memory_bytes: sys.total_memory(),
            kernel: sysinfo::System::kernel_version().unwrap_or_default(),
            os: sysinfo::System::long_os_version().unwrap_or_default(),
            data_filesystem: filesystem_of(data_dir),
        }
    }
}

/// `TYPE on MOUNTPOINT (DEVICE)` for the mount holding `path`, from /proc/mounts.
pub fn filesystem_of(path: &Path) -> String {
    let path = std::fs::canonicalize(path)
        .ok()
        .or_else(|| path.ancestors().find_map(|a| std::fs::canonicalize(a).ok()))
        .unwrap_or_else(|| path.to_path_buf());
    let mounts = std::fs::read_to_string("/proc/mounts").unwrap_or_default();
    mounts
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.len() >= 3 && path.starts_with(f[1]))
                .then(|| (f[1].len(), format!("{} on {} ({})", f[2], f[1], f[0])))
        })
        .max_by_key(|(len, _)| *len)
        .map(|(_, s)| s)
        .unwrap_or_else(|| "unknown".to_string())
}

/// Free bytes on the file system holding `path` (or its nearest existing ancestor).
pub fn free_bytes(path: &Path) -> Option<u64> {
    let existing = path.ancestors().find(|a| a.exists())?;
    let c = std::ffi::CString::new(existing.as_os_str().as_encoded_bytes()).ok()?;
    // SAFETY: statvfs fills the zeroed struct we own.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    if unsafe { libc::statvfs(c.as_ptr(), &mut st) } != 0 {
        return None;
    }
    Some(st.f_bavail as u64 * st.f_frsize as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_has_a_filesystem_and_free_space() {
        assert_ne!(filesystem_of(Path::new("/")), "unknown");
        assert!(free_bytes(Path::new("/no/such/dir/below/root")).is_some());
        let m = MachineInfo::collect(Path::new("/tmp"));
        assert!(m.cpus >= 1 && m.memory_bytes > 0);
    }
}
