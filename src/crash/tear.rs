//! Proof that a tear happened on disk: the shim's record of the page it was writing, compared with the
//! block the file holds after the crash (read before recovery can touch it). A tear counts only if the disk
//! matches the intended page in the kept prefix and differs from it after the prefix; the page checksum of
//! the block on disk (PostgreSQL's algorithm, reimplemented here) says whether PostgreSQL can notice.

use super::injector::{PAGE_SIZE, SECTOR_SIZE};
use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

/// Blocks per segment file (RELSEG_SIZE of a default build: 1 GiB segments).
pub const RELSEG_BLOCKS: u64 = 131_072;

/// What the shim wrote down just before it tore a write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TearRecord {
    /// The data file (a path inside the data directory).
    pub path: PathBuf,
    /// Byte offset of the torn block in that file.
    pub offset: u64,
    /// Bytes of the page that were written.
    pub prefix: usize,
    /// The process that was writing, e.g. `postgres: checkpointer`.
    pub process: String,
    /// Writes the shim passed over before this one because tearing them would have changed nothing on
    /// disk (their bytes after the prefix were already in the file).
    pub noop_passed: u64,
    /// The full page it meant to write.
    pub page: Vec<u8>,
}

/// The relation file a torn block belongs to, as PostgreSQL names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockLocation {
    /// Database OID (the directory under `base/`).
    pub database: u32,
    /// Relation file number.
    pub relfilenode: u32,
    /// `main`, `fsm`, `vm` or `init`.
    pub fork: String,
    /// Block number within the fork (segment files counted in).
    pub block: u64,
}

/// The verdict on one tear, from the bytes on disk.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TearProof {
    /// Where the torn block is.
    pub location: BlockLocation,
    /// Bytes of the new page that reached the file.
    pub prefix: usize,
    /// Which server process was writing.
    pub process: String,
    /// Writes passed over first because tearing them would have been a no-op.
    pub noop_passed: u64,
    /// The disk holds the new page's bytes in the prefix.
    pub prefix_matches: bool,
    /// 512-byte sectors after the prefix where the disk differs from the new page (or holds nothing).
    pub differing_sectors: usize,
    /// Bytes of the block present in the file (less than 8192 when the torn write extended the file).
    pub bytes_on_disk: usize,
    /// The intended page carries a valid checksum (a sanity check of the record and of our checksum code).
    pub intended_checksum_ok: bool,
    /// The block on disk carries a valid checksum (false for a real tear, almost always).
    pub on_disk_checksum_ok: bool,
    /// The page LSN of the image being written (absent in results made before it was recorded).
    #[serde(default)]
    pub intended_lsn: Option<u64>,
}

impl TearProof {
    /// A real tear: new bytes in the prefix, old (different) bytes after it.
    pub fn is_real(&self) -> bool {
        self.prefix_matches && self.differing_sectors > 0
    }
}

impl TearRecord {
    /// Reads the record file the shim wrote.
    pub fn read(path: &Path) -> Result<TearRecord> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        TearRecord::parse(&text)
            .with_context(|| format!("parsing the tear record {}", path.display()))
    }

    /// Parses the `key=value` lines of a record.
    pub fn parse(text: &str) -> Result<TearRecord> {
        let mut path = None;
        let mut offset = None;
        let mut prefix = None;
        let mut process = String::new();
        let mut noop_passed = 0;
        let mut page = None;
        for line in text.lines() {
            let Some((key, value)) = line.split_once('=') else {
                continue;
            };
            match key {
                "path" => path = Some(PathBuf::from(value)),
                "offset" => offset = Some(value.parse::<u64>().context("offset")?),
                "prefix" => prefix = Some(value.parse::<usize>().context("prefix")?),
                "process" => process = value.trim().to_string(),
                "noop_passed" => noop_passed = value.parse().context("noop_passed")?,
                "page" => page = Some(unhex(value.trim())?),
                _ => {}
            }
        }
        let (Some(path), Some(offset), Some(prefix), Some(page)) = (path, offset, prefix, page)
        else {
            bail!("incomplete record (needs path, offset, prefix and page)");
        };
        if page.len() != PAGE_SIZE {
            bail!(
                "the recorded page has {} bytes, not {PAGE_SIZE}",
                page.len()
            );
        }
        Ok(TearRecord {
            path,
            offset,
            prefix,
            process,
            noop_passed,
            page,
        })
    }

    /// Where the torn block is, from the file name (`base/<db>/<relfilenode>[_fork][.segment]`).
    pub fn location(&self) -> Result<BlockLocation> {
        location_of(&self.path, self.offset)
    }

    /// Compares the record with the block on disk now. Call it after the crash and before any restart.
    pub fn prove(&self) -> Result<TearProof> {
        let mut f = std::fs::File::open(&self.path)
            .with_context(|| format!("opening the torn file {}", self.path.display()))?;
        f.seek(SeekFrom::Start(self.offset))
            .with_context(|| format!("seeking in {}", self.path.display()))?;
        // A torn write that extended the file leaves the file ending inside the block.
        let mut disk = Vec::with_capacity(PAGE_SIZE);
        f.take(PAGE_SIZE as u64)
            .read_to_end(&mut disk)
            .with_context(|| format!("reading the torn block of {}", self.path.display()))?;
        let location = self.location()?;
        Ok(TearProof {
            noop_passed: self.noop_passed,
            ..compare(&self.page, &disk, self.prefix, location, &self.process)
        })
    }
}

/// The proof for `intended` vs `disk` (the block as read, possibly cut short by the end of the file) when
/// `prefix` bytes were written.
pub fn compare(
    intended: &[u8],
    disk: &[u8],
    prefix: usize,
    location: BlockLocation,
    process: &str,
) -> TearProof {
    let prefix = prefix.min(PAGE_SIZE);
    let sector = |s: usize| disk.get(s..s + SECTOR_SIZE);
    let differing_sectors = (prefix..PAGE_SIZE)
        .step_by(SECTOR_SIZE)
        .filter(|&s| sector(s) != Some(&intended[s..s + SECTOR_SIZE]))
        .count();
    TearProof {
        prefix,
        process: process.to_string(),
        noop_passed: 0,
        prefix_matches: disk.get(..prefix) == Some(&intended[..prefix]),
        differing_sectors,
        bytes_on_disk: disk.len(),
        intended_checksum_ok: checksum_ok(intended, location.block),
        on_disk_checksum_ok: disk.len() == PAGE_SIZE && checksum_ok(disk, location.block),
        intended_lsn: Some(page_lsn(intended)),
        location,
    }
}

/// The LSN in a page's header (`pd_lsn`: the high 32 bits, then the low 32 bits).
pub fn page_lsn(page: &[u8]) -> u64 {
    let word = |at: usize| u64::from(u32::from_le_bytes(page[at..at + 4].try_into().unwrap()));
    (word(0) << 32) | word(4)
}

fn location_of(path: &Path, offset: u64) -> Result<BlockLocation> {
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .with_context(|| format!("{} has no file name", path.display()))?;
    let database: u32 = path
        .parent()
        .and_then(|p| p.file_name())
        .and_then(|n| n.to_str())
        .and_then(|n| n.parse().ok())
        .with_context(|| format!("{} is not under base/<database oid>/", path.display()))?;
    let (stem, segment) = match name.split_once('.') {
        Some((stem, seg)) => (stem, seg.parse::<u64>().context("segment number")?),
        None => (name, 0),
    };
    let (node, fork) = match stem.split_once('_') {
        Some((node, fork)) => (node, fork.to_string()),
        None => (stem, "main".to_string()),
    };
    Ok(BlockLocation {
        database,
        relfilenode: node
            .parse()
            .with_context(|| format!("{name} does not start with a relfilenode"))?,
        fork,
        block: segment * RELSEG_BLOCKS + offset / PAGE_SIZE as u64,
    })
}

fn unhex(text: &str) -> Result<Vec<u8>> {
    if text.len() % 2 != 0 {
        bail!("odd number of hex digits");
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).context("bad hex digit"))
        .collect()
}

const N_SUMS: usize = 32;
const FNV_PRIME: u32 = 16_777_619;
const CHECKSUM_BASE_OFFSETS: [u32; N_SUMS] = [
    0x5B1F36E9, 0xB8525960, 0x02AB50AA, 0x1DE66D2A, 0x79FF467A, 0x9BB9F8A3, 0x217E7CD2, 0x83E13D2C,
    0xF8D4474F, 0xE39EB970, 0x42C6AE16, 0x993216FA, 0x7B093B5D, 0x98DAFF3C, 0xF718902A, 0x0B1C9CDB,
    0xE58F764B, 0x187636BC, 0x5D7B3BB1, 0xE73DE7DE, 0x92BEC979, 0xCCA6C0B2, 0x304A0979, 0x85AA43D4,
    0x783125BB, 0x6CA8EAA2, 0xE407EAC6, 0x4B5CFC3E, 0x9FBF8C76, 0x15CA20BE, 0xF2CA9FD3, 0x959BD756,
];

/// PostgreSQL's page checksum (`pg_checksum_page` in `storage/checksum_impl.h`) of an 8 KiB page that is
/// block `block` of its fork, computed with the stored checksum field (bytes 8..10) taken as zero.
pub fn page_checksum(page: &[u8], block: u64) -> u16 {
    fn comp(sum: &mut u32, value: u32) {
        let tmp = *sum ^ value;
        *sum = tmp.wrapping_mul(FNV_PRIME) ^ (tmp >> 17);
    }
    let mut sums = CHECKSUM_BASE_OFFSETS;
    let words = |i: usize| -> u32 {
        // The checksum field counts as zero.
        if i == 2 {
            let w = u32::from_le_bytes(page[8..12].try_into().unwrap());
            return w & 0xFFFF_0000;
        }
        u32::from_le_bytes(page[i * 4..i * 4 + 4].try_into().unwrap())
    };
    for row in 0..PAGE_SIZE / (4 * N_SUMS) {
        for (j, sum) in sums.iter_mut().enumerate() {
            comp(sum, words(row * N_SUMS + j));
        }
    }
    for _ in 0..2 {
        for sum in sums.iter_mut() {
            comp(sum, 0);
        }
    }
    let checksum = sums.iter().fold(0u32, |acc, s| acc ^ s) ^ (block as u32);
    ((checksum % 65535) + 1) as u16
}

/// Whether `page` passes PostgreSQL's verification as far as checksums go: an all-zero (new) page, or a
/// stored checksum equal to [`page_checksum`].
pub fn checksum_ok(page: &[u8], block: u64) -> bool {
    if page.iter().all(|&b| b == 0) {
        return true;
    }
    let stored = u16::from_le_bytes([page[8], page[9]]);
    stored == page_checksum(page, block)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn loc(block: u64) -> BlockLocation {
        BlockLocation {
            database: 5,
            relfilenode: 16384,
            fork: "main".into(),
            block,
        }
    }

    /// A page with a valid checksum for `block`, filled from `seed`.
    fn page(seed: u8, block: u64) -> Vec<u8> {
        let mut p: Vec<u8> = (0..PAGE_SIZE)
            .map(|i| (i as u8).wrapping_mul(31) ^ seed)
            .collect();
        let c = page_checksum(&p, block);
        p[8..10].copy_from_slice(&c.to_le_bytes());
        p
    }

    #[test]
    fn the_page_lsn_is_the_high_word_then_the_low_word() {
        let mut p = vec![0u8; PAGE_SIZE];
        p[..4].copy_from_slice(&1u32.to_le_bytes());
        p[4..8].copy_from_slice(&0x2E94_AB78u32.to_le_bytes());
        assert_eq!(page_lsn(&p), 0x1_2E94_AB78);
    }

    #[test]
    fn checksum_ignores_its_own_field_and_depends_on_the_block() {
        let p = page(1, 3);
        assert!(checksum_ok(&p, 3));
        assert!(!checksum_ok(&p, 4));
        let mut q = p.clone();
        q[4000] ^= 1;
        assert!(!checksum_ok(&q, 3));
        assert!(checksum_ok(&vec![0; PAGE_SIZE], 9), "new pages pass");
    }

    #[test]
    fn a_torn_block_is_proven_and_a_no_op_is_not() {
        let old = page(1, 0);
        let new = page(2, 0);
        let mut torn = old.clone();
        torn[..1024].copy_from_slice(&new[..1024]);
        let proof = compare(&new, &torn, 1024, loc(0), "checkpointer");
        assert!(proof.is_real());
        assert_eq!(proof.differing_sectors, 14);
        assert!(proof.intended_checksum_ok && !proof.on_disk_checksum_ok);
        assert_eq!(proof.intended_lsn, Some(page_lsn(&new)));
        // The tail did not change between old and new: writing the prefix changed nothing that matters.
        let mut same_tail = old.clone();
        same_tail[..1024].copy_from_slice(&new[..1024]);
        let proof = compare(&same_tail, &same_tail, 1024, loc(0), "checkpointer");
        assert!(!proof.is_real());
        // The prefix never reached the disk.
        assert!(!compare(&new, &old, 1024, loc(0), "x").prefix_matches);
        // A torn extension: the file ends after the prefix.
        let short = compare(&new, &new[..1024], 1024, loc(0), "x");
        assert!(short.is_real() && !short.on_disk_checksum_ok);
        assert_eq!((short.bytes_on_disk, short.differing_sectors), (1024, 14));
    }

    #[test]
    fn locations_follow_postgres_file_names() {
        let l = location_of(Path::new("/d/base/5/16399.2"), 8192 * 3).unwrap();
        assert_eq!(
            (l.database, l.relfilenode, l.fork.as_str(), l.block),
            (5, 16399, "main", 2 * RELSEG_BLOCKS + 3)
        );
        let l = location_of(Path::new("/d/base/16384/2619_fsm"), 0).unwrap();
        assert_eq!((l.relfilenode, l.fork.as_str()), (2619, "fsm"));
    }

    #[test]
    fn records_round_trip() {
        let p = page(7, 1);
        let hex: String = p.iter().map(|b| format!("{b:02x}")).collect();
        let text = format!(
            "path=/x/base/5/16399\noffset=8192\nprefix=512\npid=9\nprocess=postgres: checkpointer  \nnoop_passed=4\npage={hex}\n"
        );
        let r = TearRecord::parse(&text).unwrap();
        assert_eq!(r.page, p);
        assert_eq!((r.prefix, r.noop_passed), (512, 4));
        assert_eq!(r.process, "postgres: checkpointer");
        assert_eq!(r.location().unwrap().block, 1);
        assert!(TearRecord::parse("path=/x\n").is_err());
    }
}
