//! Before anything is loaded: will the data, its copies and the WAL fit on the disk, and the server and its
//! clients in memory, and can a memory cap be set up? Refuse early, with numbers, rather than fail an hour
//! into a run.

use crate::machine::free_bytes;
use crate::postgres::memcap::MemoryCap;
use crate::profile::host::parse_size;
use crate::profile::value::SettingValue;
use crate::profile::{Profile, RebuildStrategy};
use anyhow::{bail, Context, Result};
use std::path::Path;

/// Bytes one sysbench row takes on disk with its share of both indexes (measured: about 260 MB per
/// 1,000,000 rows on PostgreSQL 18).
const BYTES_PER_ROW: u64 = 270;
/// Memory per client connection (backend private memory, work_mem headroom), a generous estimate.
const BYTES_PER_CONNECTION: u64 = 16 << 20;
const GIB: f64 = (1u64 << 30) as f64;

/// Disk and memory a profile needs.
#[derive(Debug, Clone, PartialEq)]
pub struct Needs {
    /// Bytes of one loaded data directory.
    pub data_bytes: u64,
    /// Bytes of disk in all: data directories alive at once plus WAL.
    pub disk_bytes: u64,
    /// Bytes of memory: shared_buffers plus connections.
    pub memory_bytes: u64,
}

/// Estimates what `profile` needs; `golden_exists` when the golden directory is already on disk.
pub fn estimate(profile: &Profile, golden_exists: bool) -> Needs {
    let data_bytes = u64::from(profile.data.tables) * profile.data.table_size * BYTES_PER_ROW;
    let copies = match profile.run.rebuild {
        RebuildStrategy::Golden if golden_exists => 1,
        RebuildStrategy::Golden => 2,
        RebuildStrategy::Reload => 1,
    };
    let max_wal = setting_bytes(profile.server.get("max_wal_size")).unwrap_or(1 << 30);
    // WAL may run past max_wal_size between checkpoints; allow three times it, at least 2 GiB.
    let wal = (3 * max_wal).max(2 << 30);
    let shared = setting_bytes(profile.server.get("shared_buffers")).unwrap_or(128 << 20);
    Needs {
        data_bytes,
        disk_bytes: data_bytes * copies + wal,
        memory_bytes: shared + u64::from(profile.max_clients()) * BYTES_PER_CONNECTION,
    }
}

/// Refuses if `work_dir`'s file system or the machine's memory cannot hold what `profile` needs.
pub fn check(
    profile: &Profile,
    work_dir: &Path,
    golden_exists: bool,
    total_memory: u64,
) -> Result<Needs> {
    let needs = estimate(profile, golden_exists);
    if let Some(free) = free_bytes(work_dir) {
        if free < needs.disk_bytes {
            bail!(
                "not enough disk in {}: the profile needs about {:.1} GiB ({:.1} GiB per data directory, copies \
                 and WAL) but {:.1} GiB are free. Choose --work-dir on a larger file system, or fewer rows \
                 (--table-size)",
                work_dir.display(),
                needs.disk_bytes as f64 / GIB,
                needs.data_bytes as f64 / GIB,
                free as f64 / GIB
            );
        }
    }
    if total_memory > 0 && needs.memory_bytes > total_memory / 10 * 9 {
        bail!(
            "not enough memory: shared_buffers plus {} connections need about {:.1} GiB, the machine has {:.1} \
             GiB. Lower [server] shared_buffers (--set shared_buffers=...) or --clients",
            profile.max_clients(),
            needs.memory_bytes as f64 / GIB,
            total_memory as f64 / GIB
        );
    }
    if let Some(cap) = profile.host.memory_limit_bytes() {
        let shared = setting_bytes(profile.server.get("shared_buffers")).unwrap_or(128 << 20)
            + setting_bytes(profile.server.get("wal_buffers")).unwrap_or(16 << 20);
        if cap <= shared {
            bail!(
                "[host] memory_limit ({:.2} GiB) leaves nothing beside shared_buffers and wal_buffers ({:.2} GiB): \
                 raise it, or lower shared_buffers",
                cap as f64 / GIB,
                shared as f64 / GIB
            );
        }
        MemoryCap::check_available().context("[host] memory_limit is set")?;
    }
    Ok(needs)
}

/// A size setting in bytes (`"4GB"`, `"256MB"`, `"64kB"`, a bare number of 8 kB pages), if it is one.
pub fn setting_bytes(value: Option<&SettingValue>) -> Option<u64> {
    match value? {
        SettingValue::Integer(n) => u64::try_from(*n).ok().map(|n| n * 8192),
        SettingValue::Text(t) if t.trim().chars().all(|c| c.is_ascii_digit()) => {
            t.trim().parse::<u64>().ok().map(|n| n * 8192)
        }
        SettingValue::Text(t) => parse_size(t).ok(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile(text: &str) -> Profile {
        Profile::from_test_toml(text)
    }

    #[test]
    fn sizes_parse_like_postgresql() {
        assert_eq!(setting_bytes(Some(&"4GB".into())), Some(4 << 30));
        assert_eq!(setting_bytes(Some(&"256MB".into())), Some(256 << 20));
        assert_eq!(
            setting_bytes(Some(&SettingValue::Integer(16384))),
            Some(128 << 20)
        );
        assert_eq!(setting_bytes(Some(&"lots".into())), None);
    }

    #[test]
    fn article_needs_more_than_a_tiny_machine_has() {
        let p = profile("");
        let needs = estimate(&p, false);
        assert!(needs.data_bytes > 20 << 30, "{needs:?}");
        let err = check(&p, Path::new("/tmp"), false, 2 << 30)
            .unwrap_err()
            .to_string();
        assert!(err.contains("memory") || err.contains("disk"), "{err}");
    }

    #[test]
    fn smoke_fits_anywhere() {
        let p = profile(
            "[data]\ntables = 2\ntable_size = 1000\n[server]\nshared_buffers = \"128MB\"\n[run]\nclients = [4]\n",
        );
        assert!(estimate(&p, false).memory_bytes < 1 << 30);
    }

    #[test]
    fn a_memory_cap_below_shared_memory_is_refused() {
        let p = profile(
            "[data]\ntables = 2\ntable_size = 1000\n[server]\nshared_buffers = \"256MB\"\n[host]\nmemory_limit = \"200MB\"\n",
        );
        let err = check(&p, Path::new("/tmp"), false, 24 << 30)
            .unwrap_err()
            .to_string();
        assert!(err.contains("memory_limit"), "{err}");
    }
}
