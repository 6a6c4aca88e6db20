//! What a cycle checks after crash recovery: the workload's row-count invariant, amcheck on every sbtest
//! table and index, `pg_checksums --check` on the stopped cluster (or, when recovery failed and the
//! cluster cannot be shut down cleanly, the same verification done by the tool), and what the server says
//! it repaired (WAL images of the torn block, pages restored from the double-write area).

use super::injector::PAGE_SIZE;
use super::tear::{checksum_ok, BlockLocation, RELSEG_BLOCKS};
use crate::postgres::cluster::Cluster;
use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use std::path::Path;
use tokio_postgres::Client;

/// Errors kept per check (the rest are only counted).
const MAX_MESSAGES: usize = 5;

/// The row-count invariant: delete+insert keeps ids, so every table keeps exactly `table_size` rows.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RowCheck {
    /// Rows missing (or extra) over all tables.
    pub rows_lost: u64,
    /// Tables that could not be counted (e.g. a page failed verification).
    pub unreadable_tables: u64,
    /// The first errors.
    pub messages: Vec<String>,
}

/// Counts the rows of `sbtest1..N`.
pub async fn row_counts(client: &Client, tables: u32, table_size: u64) -> RowCheck {
    let mut check = RowCheck::default();
    for n in 1..=tables {
        match client
            .query_one(&format!("SELECT count(*) FROM sbtest{n}"), &[])
            .await
        {
            Ok(row) => {
                let count = row.get::<_, i64>(0) as u64;
                check.rows_lost += count.abs_diff(table_size);
                if count != table_size {
                    push(
                        &mut check.messages,
                        format!("sbtest{n} has {count} rows, not {table_size}"),
                    );
                }
            }
            Err(e) => {
                check.unreadable_tables += 1;
                push(
                    &mut check.messages,
                    format!("count(*) of sbtest{n}: {}", db_error(&e)),
                );
            }
        }
    }
    check
}

/// amcheck's verdict on the sbtest tables and their indexes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AmcheckResult {
    /// Corruption rows reported by `verify_heapam` plus relations whose check raised an error.
    pub errors: u64,
    /// Relations checked.
    pub relations: u64,
    /// The first findings.
    pub messages: Vec<String>,
}

/// `verify_heapam` on every `sbtestN`, `bt_index_check(index, heapallindexed => true)` on its indexes.
pub async fn amcheck(client: &Client, tables: u32) -> AmcheckResult {
    let mut result = AmcheckResult::default();
    for n in 1..=tables {
        let table = format!("sbtest{n}");
        result.relations += 1;
        match client
            .query(
                "SELECT blkno, offnum, msg FROM verify_heapam($1::text::regclass)",
                &[&table],
            )
            .await
        {
            Ok(rows) => {
                result.errors += rows.len() as u64;
                for row in rows {
                    let (blk, off, msg): (i64, Option<i32>, String) =
                        (row.get(0), row.get(1), row.get(2));
                    push(
                        &mut result.messages,
                        format!("{table} block {blk} item {off:?}: {msg}"),
                    );
                }
            }
            Err(e) => {
                result.errors += 1;
                push(
                    &mut result.messages,
                    format!("verify_heapam({table}): {}", db_error(&e)),
                );
            }
        }
        let indexes = match client
            .query(
                "SELECT indexrelid::regclass::text FROM pg_index WHERE indrelid = $1::text::regclass",
                &[&table],
            )
            .await
        {
            Ok(rows) => rows.iter().map(|r| r.get::<_, String>(0)).collect(),
            Err(e) => {
                result.errors += 1;
                push(&mut result.messages, format!("indexes of {table}: {}", db_error(&e)));
                Vec::new()
            }
        };
        for index in indexes {
            result.relations += 1;
            if let Err(e) = client
                .execute("SELECT bt_index_check($1::text::regclass, true)", &[&index])
                .await
            {
                result.errors += 1;
                push(
                    &mut result.messages,
                    format!("bt_index_check({index}): {}", db_error(&e)),
                );
            }
        }
    }
    result
}

/// Checksum verification of every data page.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChecksumCheck {
    /// Who verified: `pg_checksums` (cluster stopped cleanly) or `tornbench` (recovery did not finish).
    pub by: String,
    /// Blocks whose checksum is wrong.
    pub failures: u64,
    /// Blocks scanned.
    pub blocks: u64,
    /// The first failures.
    pub messages: Vec<String>,
}

/// `pg_checksums --check` on the stopped cluster.
pub fn pg_checksums(cluster: &Cluster) -> Result<ChecksumCheck> {
    let out = cluster
        .command("pg_checksums")
        .arg("--check")
        .arg("-D")
        .arg(cluster.data_dir())
        .output()
        .context("running pg_checksums --check")?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let field = |name: &str| {
        stdout
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().parse::<u64>().ok())
    };
    let (Some(failures), Some(blocks)) = (field("Bad checksums:"), field("Blocks scanned:")) else {
        anyhow::bail!(
            "pg_checksums --check -D {} failed ({}): {}{}",
            cluster.data_dir().display(),
            out.status,
            stdout.trim(),
            stderr.trim()
        );
    };
    Ok(ChecksumCheck {
        by: "pg_checksums".into(),
        failures,
        blocks,
        messages: stderr
            .lines()
            .take(MAX_MESSAGES)
            .map(str::to_string)
            .collect(),
    })
}

/// The same verification as `pg_checksums --check`, done by the tool on a cluster that did not shut down
/// cleanly (pg_checksums refuses those): every block of every relation file under `base/` and `global/`.
pub fn scan_checksums(data_dir: &Path) -> Result<ChecksumCheck> {
    let mut check = ChecksumCheck {
        by: "tornbench".into(),
        ..Default::default()
    };
    let mut dirs = vec![data_dir.join("global")];
    let base = data_dir.join("base");
    for entry in std::fs::read_dir(&base).with_context(|| format!("listing {}", base.display()))? {
        dirs.push(entry?.path());
    }
    for dir in dirs {
        for entry in
            std::fs::read_dir(&dir).with_context(|| format!("listing {}", dir.display()))?
        {
            let path = entry?.path();
            let Some(segment) = relation_segment(&path) else {
                continue;
            };
            let bytes =
                std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
            for (i, block) in bytes.chunks_exact(PAGE_SIZE).enumerate() {
                check.blocks += 1;
                let blkno = segment * RELSEG_BLOCKS + i as u64;
                if !checksum_ok(block, blkno) {
                    check.failures += 1;
                    push(
                        &mut check.messages,
                        format!(
                            "checksum verification failed in {} block {blkno}",
                            path.display()
                        ),
                    );
                }
            }
        }
    }
    Ok(check)
}

/// The segment number of a relation file (`<relfilenode>[_fork][.segment]`), `None` for other files.
fn relation_segment(path: &Path) -> Option<u64> {
    let name = path.file_name()?.to_str()?;
    let (stem, segment) = match name.split_once('.') {
        Some((stem, seg)) => (stem, seg.parse().ok()?),
        None => (name, 0),
    };
    let (node, fork) = stem.split_once('_').unwrap_or((stem, "main"));
    (!node.is_empty()
        && node.bytes().all(|b| b.is_ascii_digit())
        && matches!(fork, "main" | "fsm" | "vm" | "init"))
    .then_some(segment)
}

/// What the WAL that recovery replays (from the last checkpoint's redo point) holds for the torn block.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WalHistory {
    /// Records that reference the block.
    pub records: u64,
    /// Of those, records carrying a full-page image of it: how FPW repairs a torn page.
    pub images: u64,
    /// The first such record, e.g. `Heap INSERT+INIT` (a record that re-initialises the page repairs a
    /// tear even without FPW).
    pub first: Option<String>,
}

/// Reads the WAL after the last checkpoint's redo point with `pg_waldump`, before the restart, and
/// summarises the records of `block`.
pub fn wal_history(cluster: &Cluster, block: &BlockLocation) -> Result<WalHistory> {
    let out = cluster
        .command("pg_controldata")
        .arg("-D")
        .arg(cluster.data_dir())
        .output()
        .context("running pg_controldata")?;
    let text = String::from_utf8_lossy(&out.stdout);
    let redo = text
        .lines()
        .find_map(|l| l.strip_prefix("Latest checkpoint's REDO location:"))
        .map(|v| v.trim().to_string())
        .with_context(|| format!("pg_controldata printed no REDO location: {}", text.trim()))?;
    let out = cluster
        .command("pg_waldump")
        .arg("-p")
        .arg(cluster.data_dir().join("pg_wal"))
        .args(["-s", &redo, "-F", &block.fork])
        .arg(format!(
            "--relation=1663/{}/{}",
            block.database, block.relfilenode
        ))
        .arg(format!("--block={}", block.block))
        .output()
        .context("running pg_waldump")?;
    // pg_waldump ends with an error at the end of the WAL; the records it printed before that count.
    Ok(parse_wal_history(
        &String::from_utf8_lossy(&out.stdout),
        block,
    ))
}

fn parse_wal_history(text: &str, block: &BlockLocation) -> WalHistory {
    let fork = if block.fork == "main" {
        String::new()
    } else {
        format!(" fork {}", block.fork)
    };
    let needle = format!(
        "rel 1663/{}/{}{fork} blk {}",
        block.database, block.relfilenode, block.block
    );
    let mut history = WalHistory::default();
    for line in text.lines().filter(|l| l.starts_with("rmgr:")) {
        // "blk 6" must not match "blk 60".
        let Some(at) = line
            .match_indices(&needle)
            .map(|(i, _)| i)
            .find(|&i| !line[i + needle.len()..].starts_with(|c: char| c.is_ascii_digit()))
        else {
            continue;
        };
        history.records += 1;
        let rest = &line[at + needle.len()..];
        let own = rest.split(", blkref").next().unwrap_or("");
        if own.contains("FPW") {
            history.images += 1;
        }
        if history.first.is_none() {
            let rmgr = line.split_whitespace().nth(1).unwrap_or("?");
            let op = line
                .split("desc: ")
                .nth(1)
                .and_then(|d| d.split_whitespace().next())
                .unwrap_or("?");
            history.first = Some(format!("{rmgr} {op}"));
        }
    }
    history
}

/// Pages the double-write patch restored at the last startup, from its LOG line
/// `double-write: restored N torn pages from the double-write area` in `log` (the log of that start).
pub fn double_write_restored(log: &str) -> Option<u64> {
    log.lines().rev().find_map(|l| {
        let rest = l.split("double-write: restored ").nth(1)?;
        let (n, tail) = rest.split_once(' ')?;
        tail.starts_with("torn pages").then(|| n.parse().ok())?
    })
}

/// The LSN of the copy the double-write patch restored `block` from at the last startup, from its LOG
/// line `double-write: restored block B of relation "base/D/R[_fork]"` and the DETAIL line after it
/// (`The copy has LSN X/Y and ...`) in `log`.
pub fn double_write_restored_copy_lsn(log: &str, block: &BlockLocation) -> Option<u64> {
    let fork = match block.fork.as_str() {
        "main" => String::new(),
        other => format!("_{other}"),
    };
    let wanted = format!(
        "double-write: restored block {} of relation \"base/{}/{}{fork}\"",
        block.block, block.database, block.relfilenode
    );
    let mut lines = log.lines();
    while let Some(line) = lines.next() {
        if !line.contains(&wanted) {
            continue;
        }
        let detail = lines.next()?;
        let lsn = detail
            .split("The copy has LSN ")
            .nth(1)?
            .split(' ')
            .next()?;
        let (hi, lo) = lsn.split_once('/')?;
        return Some((u64::from_str_radix(hi, 16).ok()? << 32) | u64::from_str_radix(lo, 16).ok()?);
    }
    None
}

/// Reads `pages_restored` from the patch's `pg_stat_double_write` view (`None` without the patch).
pub async fn double_write_restored_sql(client: &Client) -> Option<u64> {
    let row = client
        .query_one("SELECT pages_restored FROM pg_stat_double_write", &[])
        .await
        .ok()?;
    Some(row.get::<_, i64>(0) as u64)
}

/// The relation whose file number is `relfilenode` (in the default tablespace), e.g. `sbtest1`.
pub async fn relation_of(client: &Client, relfilenode: u32) -> Option<String> {
    let row = client
        .query_one(
            "SELECT pg_filenode_relation(0, $1::bigint::oid)::text",
            &[&i64::from(relfilenode)],
        )
        .await
        .ok()?;
    row.get::<_, Option<String>>(0)
}

fn push(messages: &mut Vec<String>, message: String) {
    if messages.len() < MAX_MESSAGES {
        messages.push(message);
    }
}

fn db_error(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{}: {}", db.severity(), db.message()),
        None => e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relation_files_are_recognised() {
        assert_eq!(relation_segment(Path::new("/d/base/5/16384")), Some(0));
        assert_eq!(relation_segment(Path::new("/d/base/5/16384.3")), Some(3));
        assert_eq!(relation_segment(Path::new("/d/base/5/16384_fsm")), Some(0));
        assert_eq!(
            relation_segment(Path::new("/d/base/5/pg_filenode.map")),
            None
        );
        assert_eq!(relation_segment(Path::new("/d/base/5/PG_VERSION")), None);
        assert_eq!(relation_segment(Path::new("/d/base/5/t3_16384")), None);
    }

    #[test]
    fn wal_records_of_the_block_are_summarised() {
        let block = BlockLocation {
            database: 5,
            relfilenode: 16400,
            fork: "main".into(),
            block: 6,
        };
        let text = "rmgr: Heap        len (rec/tot):     59/  8271, tx:        758, lsn: 0/0301B2A8, prev 0/0301B270, desc: INSERT+INIT off: 1, blkref #0: rel 1663/5/16400 blk 6\n\
                    rmgr: Heap        len (rec/tot):     59/  8271, tx:        759, lsn: 0/0301B2F0, prev 0/0301B2A8, desc: UPDATE old_xmax: 759, blkref #0: rel 1663/5/16400 blk 60 FPW, blkref #1: rel 1663/5/16400 blk 6\n\
                    rmgr: Btree       len (rec/tot):     64/  8200, tx:        760, lsn: 0/0301B300, prev 0/0301B2F0, desc: INSERT_LEAF off: 3, blkref #0: rel 1663/5/16400 blk 6 FPW\n";
        let h = parse_wal_history(text, &block);
        assert_eq!((h.records, h.images), (3, 1));
        assert_eq!(h.first.as_deref(), Some("Heap INSERT+INIT"));
    }

    #[test]
    fn the_double_write_log_line_is_parsed() {
        let log = "2026-11-23 LOG:  double-write: restored block 3 of relation \"base/5/16384\" from the double-write area\n\
                   2026-11-23 LOG:  double-write: restored 2 torn pages from the double-write area\n";
        assert_eq!(double_write_restored(log), Some(2));
        assert_eq!(double_write_restored("LOG:  redo done"), None);
    }

    #[test]
    fn the_restored_copys_lsn_is_read_for_the_torn_block_only() {
        let log = "2026-11-23 LOG:  double-write: restored block 3 of relation \"base/5/16384_fsm\" from the double-write area\n\
                   2026-11-23 DETAIL:  The copy has LSN 0/AAAA and sequence number 5.\n\
                   2026-11-23 LOG:  double-write: restored block 3 of relation \"base/5/16384\" from the double-write area\n\
                   2026-11-23 DETAIL:  The copy has LSN 1/2E94AB78 and sequence number 73.\n";
        let mut block = BlockLocation {
            database: 5,
            relfilenode: 16384,
            fork: "main".into(),
            block: 3,
        };
        assert_eq!(
            double_write_restored_copy_lsn(log, &block),
            Some(0x1_2E94_AB78)
        );
        block.fork = "fsm".into();
        assert_eq!(double_write_restored_copy_lsn(log, &block), Some(0xAAAA));
        block.block = 30;
        assert_eq!(double_write_restored_copy_lsn(log, &block), None);
    }

    #[test]
    fn a_damaged_block_is_found_by_the_scan() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("base/5");
        std::fs::create_dir_all(&db).unwrap();
        std::fs::create_dir_all(dir.path().join("global")).unwrap();
        let mut bytes = vec![0u8; PAGE_SIZE * 2];
        bytes[PAGE_SIZE + 100] = 1; // block 1: not new, checksum 0: wrong
        std::fs::write(db.join("16384"), &bytes).unwrap();
        std::fs::write(db.join("pg_filenode.map"), b"junk").unwrap();
        let check = scan_checksums(dir.path()).unwrap();
        assert_eq!((check.blocks, check.failures), (2, 1));
    }
}
