//! Before anything is loaded: will the data, its copies and the WAL fit on the disk, and the server and its
//! clients in memory, and can a memory cap be set up? Refuse early, with numbers, rather than fail an hour
//! into a run.

use crate::machine::free_bytes;
use crate::postgres::memcap::MemoryCap;
use crate::postgres::BLOCK_SIZE;
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
/// The patch's default `double_write_buffer_size`: the size of a `dwb_on` server's area file.
const DOUBLE_WRITE_AREA_DEFAULT: u64 = 4 << 30;
/// The setting that sizes the double-write area.
const DOUBLE_WRITE_AREA_SETTING: &str = "double_write_buffer_size";
/// Shared memory the double-write buffer takes per slot of its area: slot header, copy table entry and
/// completion word (the patch's README: 72 + about 64 bytes), rounded up.
const DOUBLE_WRITE_SHMEM_PER_SLOT: u64 = 144;
/// The most shared memory the double-write stage ring takes (4,096 pages).
const DOUBLE_WRITE_STAGE_MAX: u64 = 32 << 20;

/// Disk and memory a profile needs.
#[derive(Debug, Clone, PartialEq)]
pub struct Needs {
    /// Bytes of one loaded data directory.
    pub data_bytes: u64,
    /// Bytes of disk in all: data directories alive at once plus WAL.
    pub disk_bytes: u64,
    /// Bytes of memory: shared_buffers, the double-write buffer's shared memory, connections.
    pub memory_bytes: u64,
    /// Bytes of the largest double-write area a mode of the matrix creates (0 when none uses one).
    pub area_bytes: u64,
}

/// The largest double-write area among the modes that turn the double-write buffer on: a mode's own
/// `double_write_buffer_size`, else the profile's `[server]` one, else the patch's default.
pub fn double_write_area_bytes(profile: &Profile) -> u64 {
    profile
        .selected_modes()
        .filter(|m| m.uses_double_write())
        .map(|m| {
            setting_bytes(m.settings.get(DOUBLE_WRITE_AREA_SETTING))
                .or_else(|| setting_bytes(profile.server.get(DOUBLE_WRITE_AREA_SETTING)))
                .unwrap_or(DOUBLE_WRITE_AREA_DEFAULT)
        })
        .max()
        .unwrap_or(0)
}

/// Shared memory a server with an area of `area_bytes` spends on the double-write buffer.
fn double_write_shmem_bytes(area_bytes: u64) -> u64 {
    if area_bytes == 0 {
        return 0;
    }
    area_bytes / BLOCK_SIZE as u64 * DOUBLE_WRITE_SHMEM_PER_SLOT
        + area_bytes.min(DOUBLE_WRITE_STAGE_MAX)
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
    // The golden directory is loaded without an area; only the scenario's copy holds one.
    let area_bytes = double_write_area_bytes(profile);
    Needs {
        data_bytes,
        disk_bytes: data_bytes * copies + wal + area_bytes,
        memory_bytes: shared
            + double_write_shmem_bytes(area_bytes)
            + u64::from(profile.max_clients()) * BYTES_PER_CONNECTION,
        area_bytes,
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
                "not enough disk in {}: the profile needs about {:.1} GiB ({:.1} GiB per data directory, copies, \
                 WAL and a {:.1} GiB double-write area) but {:.1} GiB are free. Choose --work-dir on a larger file \
                 system, fewer rows (--table-size) or a smaller area (--set double_write_buffer_size=...)",
                work_dir.display(),
                needs.disk_bytes as f64 / GIB,
                needs.data_bytes as f64 / GIB,
                needs.area_bytes as f64 / GIB,
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
            + setting_bytes(profile.server.get("wal_buffers")).unwrap_or(16 << 20)
            + double_write_shmem_bytes(needs.area_bytes);
        if cap <= shared {
            bail!(
                "[host] memory_limit ({:.2} GiB) leaves nothing beside shared_buffers, wal_buffers and the \
                 double-write buffer ({:.2} GiB): raise it, or lower shared_buffers",
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
        SettingValue::Integer(n) => u64::try_from(*n).ok().map(|n| n * BLOCK_SIZE as u64),
        SettingValue::Text(t) if t.trim().chars().all(|c| c.is_ascii_digit()) => {
            t.trim().parse::<u64>().ok().map(|n| n * BLOCK_SIZE as u64)
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
    fn the_double_write_area_counts_only_when_a_mode_uses_it() {
        let base = "[data]\ntables = 2\ntable_size = 1000\n[run]\nclients = [4]\n";
        let without = profile(&format!("{base}modes = [\"fpw_off\", \"fpw_on\"]\n"));
        let with = profile(&format!("{base}modes = [\"fpw_off\", \"dwb_on\"]\n"));
        assert_eq!(double_write_area_bytes(&without), 0);
        assert_eq!(double_write_area_bytes(&with), DOUBLE_WRITE_AREA_DEFAULT);
        let (a, b) = (estimate(&without, false), estimate(&with, false));
        assert_eq!(b.disk_bytes - a.disk_bytes, DOUBLE_WRITE_AREA_DEFAULT);
        // 524,288 slots' bookkeeping plus the 32 MiB stage ring
        assert_eq!(
            b.memory_bytes - a.memory_bytes,
            (524_288 * 144) + (32 << 20)
        );
    }

    #[test]
    fn the_area_size_comes_from_the_mode_then_the_server_settings() {
        let server =
            profile("[server]\ndouble_write_buffer_size = \"1GB\"\n[run]\nmodes = [\"dwb_on\"]\n");
        assert_eq!(double_write_area_bytes(&server), 1 << 30);
        let mode = profile(concat!(
            "[server]\ndouble_write_buffer_size = \"1GB\"\n",
            "[run]\nmodes = [\"dwb_on\", \"dwb_6gb\"]\n",
            "[modes.dwb_6gb]\nsettings = { double_write = true, double_write_buffer_size = \"6GB\" }\n",
        ));
        assert_eq!(double_write_area_bytes(&mode), 6 << 30);
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
