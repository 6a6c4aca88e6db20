//! File-system helpers: atomic writes, so a file either holds a whole result or does not exist, and
//! flushing a file system (and dropping its cached pages) before a measurement.

use anyhow::{Context, Result};
use std::io::Write;
use std::path::Path;

/// Writes `bytes` to `path` through a temporary file in the same directory, synced and then renamed.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir)
        .with_context(|| format!("creating a temporary file in {}", dir.display()))?;
    tmp.write_all(bytes)
        .with_context(|| format!("writing {}", path.display()))?;
    tmp.as_file()
        .sync_all()
        .with_context(|| format!("syncing {}", path.display()))?;
    tmp.persist(path)
        .with_context(|| format!("renaming into {}", path.display()))?;
    Ok(())
}

/// Writes back every dirty page and pending metadata change of the file system that holds `path`
/// (syncfs(2)), and returns once the device has them.
pub fn sync_filesystem(path: &Path) -> Result<()> {
    use std::os::fd::AsRawFd;
    let file = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    // SAFETY: the descriptor belongs to `file`, which is open for the whole call.
    if unsafe { libc::syncfs(file.as_raw_fd()) } != 0 {
        return Err(std::io::Error::last_os_error())
            .with_context(|| format!("syncing the file system of {}", path.display()));
    }
    Ok(())
}

/// Asks the kernel to drop the cached pages of every file below `dir` (posix_fadvise DONTNEED), so the next
/// reads come from the disk. Only clean pages are dropped: sync first. Returns how many files it went through.
pub fn drop_cached_pages(dir: &Path) -> Result<u64> {
    use std::os::fd::AsRawFd;
    let mut files = 0;
    let mut pending = vec![dir.to_path_buf()];
    while let Some(d) = pending.pop() {
        let entries = std::fs::read_dir(&d).with_context(|| format!("listing {}", d.display()))?;
        for entry in entries {
            let entry = entry.with_context(|| format!("listing {}", d.display()))?;
            let kind = entry.file_type()?;
            if kind.is_dir() {
                pending.push(entry.path());
            } else if kind.is_file() {
                let path = entry.path();
                // A file removed meanwhile (a WAL segment recycled, a temporary file) has no pages to drop.
                let Ok(file) = std::fs::File::open(&path) else {
                    continue;
                };
                // SAFETY: the descriptor belongs to `file`, which is open for the whole call.
                let rc = unsafe {
                    libc::posix_fadvise(file.as_raw_fd(), 0, 0, libc::POSIX_FADV_DONTNEED)
                };
                if rc != 0 {
                    return Err(std::io::Error::from_raw_os_error(rc)).with_context(|| {
                        format!("dropping the cached pages of {}", path.display())
                    });
                }
                files += 1;
            }
        }
    }
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// How many of the file's pages are in the page cache (mincore(2) over a mapping of it).
    fn resident_pages(path: &Path) -> usize {
        use std::os::fd::AsRawFd;
        let file = std::fs::File::open(path).unwrap();
        let len = file.metadata().unwrap().len() as usize;
        let page = 4096;
        // SAFETY: a read-only shared mapping of an open file of `len` bytes, unmapped before returning.
        unsafe {
            let addr = libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ,
                libc::MAP_SHARED,
                file.as_raw_fd(),
                0,
            );
            assert_ne!(addr, libc::MAP_FAILED);
            let mut vec = vec![0u8; len.div_ceil(page)];
            assert_eq!(libc::mincore(addr, len, vec.as_mut_ptr()), 0);
            libc::munmap(addr, len);
            vec.iter().filter(|b| **b & 1 == 1).count()
        }
    }

    #[test]
    fn dropped_pages_leave_the_page_cache() {
        // In the crate's directory, not /tmp: a tmpfs has no disk to drop pages to.
        let dir = tempfile::tempdir_in(env!("CARGO_MANIFEST_DIR")).unwrap();
        std::fs::create_dir(dir.path().join("base")).unwrap();
        let path = dir.path().join("base/data");
        std::fs::write(&path, vec![1u8; 4 << 20]).unwrap();
        sync_filesystem(dir.path()).unwrap();
        assert!(resident_pages(&path) > 0, "a file just written is cached");
        assert_eq!(drop_cached_pages(dir.path()).unwrap(), 1);
        assert_eq!(resident_pages(&path), 0);
    }

    #[test]
    fn syncs_the_file_system_of_a_directory() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("dirty"), vec![7u8; 1 << 20]).unwrap();
        sync_filesystem(dir.path()).unwrap();
        let err = sync_filesystem(&dir.path().join("missing")).unwrap_err();
        assert!(format!("{err:#}").contains("missing"), "{err:#}");
    }

    #[test]
    fn writes_whole_files_and_replaces_old_ones() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("sub/result.json");
        write_atomic(&p, b"one").unwrap();
        write_atomic(&p, b"two").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"two");
        assert_eq!(
            std::fs::read_dir(p.parent().unwrap()).unwrap().count(),
            1,
            "no temporary left behind"
        );
    }
}
