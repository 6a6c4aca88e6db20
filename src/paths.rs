//! Where the tool keeps things it makes: the build cache and the data directories of its servers.

use std::path::PathBuf;

/// Whether this process runs as root (and so must run servers as an unprivileged user).
pub fn running_as_root() -> bool {
    // SAFETY: geteuid(2) has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// The default build cache: `/var/cache/tornbench` for root (readable by the server's user), else
/// `$XDG_CACHE_HOME/tornbench` or `~/.cache/tornbench`.
pub fn default_cache_dir() -> PathBuf {
    if running_as_root() {
        return PathBuf::from("/var/cache/tornbench");
    }
    user_dir("XDG_CACHE_HOME", ".cache").join("tornbench")
}

/// The default parent of data directories: `/var/lib/tornbench` for root, else
/// `$XDG_DATA_HOME/tornbench` or `~/.local/share/tornbench`.
pub fn default_work_dir() -> PathBuf {
    if running_as_root() {
        return PathBuf::from("/var/lib/tornbench");
    }
    user_dir("XDG_DATA_HOME", ".local/share").join("tornbench")
}

fn user_dir(var: &str, fallback: &str) -> PathBuf {
    match std::env::var_os(var) {
        Some(v) if !v.is_empty() => PathBuf::from(v),
        _ => std::env::var_os("HOME")
            .map(PathBuf::from)
            .unwrap_or_else(std::env::temp_dir)
            .join(fallback),
    }
}
