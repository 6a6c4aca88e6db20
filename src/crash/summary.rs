//! The crash test's results model (one serde type per cycle, one summary per mode) and its renderings: the
//! line printed per cycle, the summary table, and the markdown section `tornbench report` can include.

use super::checks::{AmcheckResult, ChecksumCheck, RowCheck, WalHistory};
use super::ledger::LedgerCheck;
use super::tear::TearProof;
use serde::{Deserialize, Serialize};
use std::fmt::Write;

/// Modes that must survive every tear; any other mode is a control.
pub const PROTECTED_MODES: &[&str] = &["fpw_on", "dwb_on"];

/// Everything one cycle did and found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CycleResult {
    /// The mode.
    pub mode: String,
    /// 1-based cycle number.
    pub cycle: u32,
    /// Bytes of the torn page the plan kept.
    pub planned_prefix: usize,
    /// The tear on disk, if the shim tore a write (`None`: nothing was torn before the deadline).
    pub tear: Option<TearProof>,
    /// Transactions the write load committed before the crash.
    pub load_commits: u64,
    /// Whether the restart reached "ready to accept connections".
    pub recovered: bool,
    /// Why recovery failed: the server's PANIC/FATAL/ERROR lines (or the tool's error with the log tail).
    pub recovery_error: Option<String>,
    /// Seconds the restart (crash recovery) took.
    pub recovery_secs: f64,
    /// What the replayed WAL holds for the torn block (read before the restart).
    pub wal: Option<WalHistory>,
    /// The torn relation's name (looked up after a successful recovery).
    pub relation: Option<String>,
    /// Pages the double-write area restored at the restart.
    pub dwb_restored: Option<u64>,
    /// The LSN of the double-write copy the torn block was restored from, from the server's log.
    #[serde(default)]
    pub restored_copy_lsn: Option<u64>,
    /// Checksum verification of every page.
    pub checksums: Option<ChecksumCheck>,
    /// amcheck on the sbtest tables and indexes (after a successful recovery).
    pub amcheck: Option<AmcheckResult>,
    /// The row-count invariant (after a successful recovery).
    pub rows: Option<RowCheck>,
    /// Acknowledged ledger commits, and how many survived (after a successful recovery).
    pub ledger: Option<LedgerCheck>,
    /// Problems of the tool itself during the cycle (not findings about the server).
    pub notes: Vec<String>,
}

impl CycleResult {
    /// Whether the shim tore a write for real (proven on disk).
    pub fn torn(&self) -> bool {
        self.tear.as_ref().is_some_and(TearProof::is_real)
    }

    /// Pages the server repaired: from the double-write area, or (FPW) the torn block when WAL held an
    /// image of it and recovery succeeded.
    pub fn pages_restored(&self) -> u64 {
        match self.dwb_restored {
            Some(n) if n > 0 => n,
            _ if self.recovered
                && self.torn()
                && self.wal.as_ref().is_some_and(|w| w.images > 0) =>
            {
                1
            }
            _ => 0,
        }
    }

    /// Whether the torn block was restored from a copy older than the torn write's image: the write was a
    /// covered one (it made no copy of its own, `double_write_reuse_copies`), and WAL replay had to bring
    /// the earlier copy up to date.
    pub fn restored_from_earlier_copy(&self) -> bool {
        let intended = self
            .tear
            .as_ref()
            .filter(|t| t.is_real())
            .and_then(|t| t.intended_lsn);
        matches!((self.restored_copy_lsn, intended), (Some(copy), Some(lsn)) if copy < lsn)
    }

    /// Whether anything was found wrong: a recovery that stopped, a checksum failure (or a verification
    /// that could not run), amcheck errors, lost or unreadable rows, lost acknowledged commits.
    pub fn damage_detected(&self) -> bool {
        !self.recovered
            || self.checksums.as_ref().map_or(true, |c| c.failures > 0)
            || self.amcheck.as_ref().is_some_and(|a| a.errors > 0)
            || self
                .rows
                .as_ref()
                .is_some_and(|r| r.rows_lost > 0 || r.unreadable_tables > 0)
            || self.ledger.as_ref().is_some_and(|l| l.lost() > 0)
    }

    /// The one line printed for the cycle.
    pub fn line(&self) -> String {
        let tear =
            match &self.tear {
                Some(t) if t.is_real() => format!(
                "torn {}+{} B of {}/{} block {} by {} ({} sectors differ{}, checksum {}; WAL: {})",
                t.prefix,
                super::injector::PAGE_SIZE - t.prefix,
                self.relation.clone().unwrap_or_else(|| t.location.relfilenode.to_string()),
                t.location.fork,
                t.location.block,
                t.process
                    .trim_start_matches("postgres: ")
                    .split(' ')
                    .next()
                    .unwrap_or(""),
                t.differing_sectors,
                if t.bytes_on_disk < super::injector::PAGE_SIZE {
                    ", file ends in the block"
                } else {
                    ""
                },
                if t.on_disk_checksum_ok { "ok" } else { "bad" },
                match &self.wal {
                    Some(w) => format!(
                        "{} records, {} images, first {}",
                        w.records,
                        w.images,
                        w.first.as_deref().unwrap_or("-")
                    ),
                    None => "?".into(),
                }
            ),
                Some(t) => format!(
                    "tear NOT real (prefix {} B, {} sectors differ)",
                    t.prefix, t.differing_sectors
                ),
                None => "no tear injected".to_string(),
            };
        let recovery = if self.recovered {
            format!("recovered in {:.1} s", self.recovery_secs)
        } else {
            "RECOVERY FAILED".to_string()
        };
        let mut findings = Vec::new();
        if let Some(c) = &self.checksums {
            findings.push(format!("checksum failures {} ({})", c.failures, c.by));
        }
        if let Some(a) = &self.amcheck {
            findings.push(format!("amcheck errors {}", a.errors));
        }
        if let Some(r) = &self.rows {
            findings.push(format!("rows lost {}", r.rows_lost + r.unreadable_tables));
        }
        if let Some(l) = &self.ledger {
            findings.push(format!("acked lost {}/{}", l.lost(), l.acknowledged));
        }
        findings.push(if self.restored_from_earlier_copy() {
            format!("restored {} (from an earlier copy)", self.pages_restored())
        } else {
            format!("restored {}", self.pages_restored())
        });
        let verdict = if self.damage_detected() {
            "DAMAGE"
        } else {
            "clean"
        };
        format!(
            "{} cycle {:>3}: {tear}; {recovery}; {} -> {verdict}",
            self.mode,
            self.cycle,
            findings.join(", ")
        )
    }
}

/// The figures of one mode over all its cycles.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ModeSummary {
    /// The mode.
    pub mode: String,
    /// Whether the mode must survive every tear.
    pub protected: bool,
    /// Why the mode was skipped (e.g. the build lacks the double-write patch).
    pub skipped: Option<String>,
    /// Cycles run.
    pub cycles: u32,
    /// Tears proven real on disk.
    pub torn_writes: u32,
    /// Tears whose unwritten part already held the new bytes (not counted as torn).
    pub tears_not_real: u32,
    /// Writes the shim passed over because tearing them at the cycle's prefix would have been a no-op.
    pub noop_writes_passed: u64,
    /// Cycles in which nothing was torn before the deadline.
    pub no_tear: u32,
    /// Restarts that reached "ready to accept connections".
    pub recoveries_ok: u32,
    /// Pages repaired (DWB restore count; FPW: torn blocks with a WAL image).
    pub pages_restored: u64,
    /// Torn blocks restored from a double-write copy older than the torn write (covered writes).
    #[serde(default)]
    pub restored_from_earlier_copy: u32,
    /// Blocks failing checksum verification, over all cycles.
    pub checksum_failures: u64,
    /// amcheck findings, over all cycles.
    pub amcheck_errors: u64,
    /// Rows missing or extra (unreadable tables count one each), over all cycles.
    pub rows_lost: u64,
    /// Acknowledged ledger commits missing after recovery, over all cycles.
    pub acked_lost: u64,
    /// Cycles in which any check found damage.
    pub cycles_with_damage: u32,
    /// Cycles with a real tear in which damage was found.
    pub torn_cycles_with_damage: u32,
    /// Every cycle.
    pub cycle_results: Vec<CycleResult>,
}

impl ModeSummary {
    /// An empty summary for `mode`.
    pub fn new(mode: &str) -> ModeSummary {
        ModeSummary {
            mode: mode.to_string(),
            protected: PROTECTED_MODES.contains(&mode),
            ..Default::default()
        }
    }

    /// A mode that could not run, and why.
    pub fn skipped(mode: &str, reason: String) -> ModeSummary {
        ModeSummary {
            skipped: Some(reason),
            ..ModeSummary::new(mode)
        }
    }

    /// Adds one cycle's figures.
    pub fn add(&mut self, c: CycleResult) {
        self.cycles += 1;
        match &c.tear {
            Some(t) if t.is_real() => self.torn_writes += 1,
            Some(_) => self.tears_not_real += 1,
            None => self.no_tear += 1,
        }
        self.noop_writes_passed += c.tear.as_ref().map_or(0, |t| t.noop_passed);
        self.recoveries_ok += u32::from(c.recovered);
        self.pages_restored += c.pages_restored();
        self.restored_from_earlier_copy += u32::from(c.restored_from_earlier_copy());
        self.checksum_failures += c.checksums.as_ref().map_or(0, |x| x.failures);
        self.amcheck_errors += c.amcheck.as_ref().map_or(0, |a| a.errors);
        self.rows_lost += c
            .rows
            .as_ref()
            .map_or(0, |r| r.rows_lost + r.unreadable_tables);
        self.acked_lost += c.ledger.as_ref().map_or(0, LedgerCheck::lost);
        let damage = c.damage_detected();
        self.cycles_with_damage += u32::from(damage);
        self.torn_cycles_with_damage += u32::from(damage && c.torn());
        self.cycle_results.push(c);
    }

    /// The verdict: `Ok(what it showed)` or `Err(why the mode failed the test)`. A protected mode fails on
    /// any damage, and proves nothing without a real tear; the control fails if real tears left no damage
    /// in any cycle (then the injector, not the mode, is suspect).
    pub fn verdict(&self) -> Result<String, String> {
        if let Some(reason) = &self.skipped {
            return Ok(format!("skipped: {reason}"));
        }
        if self.torn_writes == 0 {
            return Err(format!(
                "torn writes injected = 0 in {} cycles: the injector tore nothing, so this proves nothing",
                self.cycles
            ));
        }
        if self.protected {
            if self.cycles_with_damage > 0 {
                return Err(format!(
                    "damage in {} of {} cycles: {} is NOT protected against torn pages",
                    self.cycles_with_damage, self.cycles, self.mode
                ));
            }
            Ok(format!(
                "every cycle clean; {} torn writes, {} pages restored",
                self.torn_writes, self.pages_restored
            ))
        } else if self.torn_cycles_with_damage == 0 {
            Err(format!(
                "the unprotected control survived all {} real tears: the test cannot tell protection from luck",
                self.torn_writes
            ))
        } else {
            Ok(format!(
                "control: damage detected in {} of {} cycles with a real tear (expected: most)",
                self.torn_cycles_with_damage, self.torn_writes
            ))
        }
    }

    /// The summary block printed after the mode's cycles.
    pub fn text(&self) -> String {
        let mut out = format!("== {} ==\n", self.mode);
        if let Some(reason) = &self.skipped {
            let _ = writeln!(out, "skipped: {reason}");
            return out;
        }
        for (label, value) in self.figures() {
            let _ = writeln!(out, "  {label:<30} {value}");
        }
        let _ = writeln!(
            out,
            "  verdict: {}",
            match self.verdict() {
                Ok(v) => v,
                Err(e) => format!("FAIL: {e}"),
            }
        );
        out
    }

    fn figures(&self) -> Vec<(&'static str, String)> {
        vec![
            ("cycles", self.cycles.to_string()),
            (
                "torn writes injected",
                format!(
                    "{} (+{} not real, {} cycles without a tear)",
                    self.torn_writes, self.tears_not_real, self.no_tear
                ),
            ),
            (
                "no-op tears passed over",
                self.noop_writes_passed.to_string(),
            ),
            ("recoveries succeeded", self.recoveries_ok.to_string()),
            ("pages restored", self.pages_restored.to_string()),
            (
                "restored from an earlier copy",
                self.restored_from_earlier_copy.to_string(),
            ),
            ("checksum failures", self.checksum_failures.to_string()),
            ("amcheck errors", self.amcheck_errors.to_string()),
            ("rows lost", self.rows_lost.to_string()),
            ("acknowledged commits lost", self.acked_lost.to_string()),
            (
                "cycles with damage detected",
                format!(
                    "{} ({} of them with a real tear)",
                    self.cycles_with_damage, self.torn_cycles_with_damage
                ),
            ),
        ]
    }
}

/// Everything a crash-test run wrote down: `crash.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CrashReport {
    /// The tool's version.
    pub tool_version: String,
    /// The PostgreSQL version tested.
    pub postgres_version: String,
    /// Its bin directory.
    pub bin_dir: String,
    /// Whether the build carries the double-write patch.
    pub has_double_write: bool,
    /// The profile (data size and server settings).
    pub profile: String,
    /// Tables and rows per table of the data set.
    pub tables: u32,
    /// Rows per table.
    pub table_size: u32,
    /// The seed the tears and the load were drawn from.
    pub seed: u64,
    /// Cycles asked for per mode.
    pub cycles: u32,
    /// When the run started (RFC 3339).
    pub started_at: String,
    /// One summary per mode, with every cycle.
    pub modes: Vec<ModeSummary>,
}

/// The markdown section for `tornbench report`: one table, one column per mode, then the verdicts.
pub fn markdown(summaries: &[ModeSummary]) -> String {
    let mut out = String::from("## Torn-page crash test\n\n");
    out.push_str(
        "Each cycle runs the write_only load plus a ledger client, tears one in-flight 8 KiB data-page write \
         (a 512-byte-aligned prefix reaches the file), kills the server, proves the tear on disk, restarts \
         through crash recovery and checks pg_checksums, amcheck, row counts and acknowledged commits.\n\n",
    );
    let ran: Vec<&ModeSummary> = summaries.iter().filter(|s| s.skipped.is_none()).collect();
    if !ran.is_empty() {
        let _ = write!(out, "| |");
        for s in &ran {
            let _ = write!(out, " {} |", s.mode);
        }
        let _ = write!(out, "\n|---|");
        for _ in &ran {
            let _ = write!(out, "---:|");
        }
        out.push('\n');
        let rows = ran[0].figures().len();
        for i in 0..rows {
            let _ = write!(out, "| {} |", ran[0].figures()[i].0);
            for s in &ran {
                let _ = write!(out, " {} |", s.figures()[i].1);
            }
            out.push('\n');
        }
        out.push('\n');
    }
    for s in summaries {
        let verdict = match s.verdict() {
            Ok(v) => v,
            Err(e) => format!("**FAIL**: {e}"),
        };
        let _ = writeln!(out, "- **{}**: {verdict}", s.mode);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crash::tear::BlockLocation;

    fn cycle(mode: &str, real: bool, recovered: bool, failures: u64) -> CycleResult {
        CycleResult {
            mode: mode.into(),
            cycle: 1,
            planned_prefix: 512,
            tear: Some(TearProof {
                location: BlockLocation {
                    database: 5,
                    relfilenode: 16384,
                    fork: "main".into(),
                    block: 3,
                },
                prefix: 512,
                process: "postgres: checkpointer".into(),
                noop_passed: 2,
                prefix_matches: true,
                differing_sectors: usize::from(real) * 15,
                bytes_on_disk: 8192,
                intended_checksum_ok: true,
                on_disk_checksum_ok: !real,
                intended_lsn: Some(0x2_0000_0100),
            }),
            load_commits: 100,
            recovered,
            recovery_error: None,
            recovery_secs: 0.5,
            wal: Some(WalHistory {
                records: 2,
                images: 1,
                first: Some("Heap UPDATE".into()),
            }),
            relation: Some("sbtest1".into()),
            dwb_restored: None,
            restored_copy_lsn: None,
            checksums: Some(ChecksumCheck {
                by: "pg_checksums".into(),
                failures,
                blocks: 100,
                messages: vec![],
            }),
            amcheck: recovered.then(AmcheckResult::default),
            rows: recovered.then(RowCheck::default),
            ledger: recovered.then_some(LedgerCheck {
                acknowledged: 10,
                present: 10,
            }),
            notes: vec![],
        }
    }

    #[test]
    fn a_tear_restored_from_a_copy_older_than_the_torn_image_is_counted() {
        let mut s = ModeSummary::new("dwb_on");
        let mut own = cycle("dwb_on", true, true, 0);
        own.dwb_restored = Some(1);
        own.restored_copy_lsn = Some(0x2_0000_0100);
        assert!(
            !own.restored_from_earlier_copy(),
            "the copy of the torn write itself"
        );
        let mut earlier = own.clone();
        earlier.restored_copy_lsn = Some(0x2_0000_00f0);
        assert!(earlier.restored_from_earlier_copy());
        assert!(
            earlier.line().contains("restored 1 (from an earlier copy)"),
            "{}",
            earlier.line()
        );
        let mut not_real = cycle("dwb_on", false, true, 0);
        not_real.restored_copy_lsn = Some(0x2_0000_00f0);
        assert!(
            !not_real.restored_from_earlier_copy(),
            "no real tear, nothing to tell"
        );
        for c in [own, earlier, not_real] {
            s.add(c);
        }
        assert_eq!(s.restored_from_earlier_copy, 1);
        assert!(
            s.text()
                .lines()
                .any(|l| l.split_whitespace().collect::<Vec<_>>().join(" ")
                    == "restored from an earlier copy 1"),
            "{}",
            s.text()
        );
    }

    #[test]
    fn a_protected_mode_passes_only_clean_cycles_with_real_tears() {
        let mut s = ModeSummary::new("fpw_on");
        s.add(cycle("fpw_on", true, true, 0));
        s.add(cycle("fpw_on", false, true, 0));
        assert!(s.verdict().is_ok(), "{:?}", s.verdict());
        assert_eq!(
            (s.torn_writes, s.tears_not_real, s.pages_restored),
            (1, 1, 1)
        );
        s.add(cycle("fpw_on", true, true, 1));
        assert!(s.verdict().unwrap_err().contains("NOT protected"));
        let mut none = ModeSummary::new("dwb_on");
        none.add(cycle("dwb_on", false, true, 0));
        assert!(none
            .verdict()
            .unwrap_err()
            .contains("torn writes injected = 0"));
    }

    #[test]
    fn the_control_must_be_seen_to_fail() {
        let mut s = ModeSummary::new("fpw_off");
        s.add(cycle("fpw_off", true, true, 0));
        assert!(s.verdict().unwrap_err().contains("control survived"));
        s.add(cycle("fpw_off", true, false, 0));
        assert!(s.verdict().unwrap().contains("1 of 2"));
        assert!(s.cycle_results[1].line().contains("RECOVERY FAILED"));
    }

    #[test]
    fn markdown_has_a_column_per_mode_and_the_verdicts() {
        let mut on = ModeSummary::new("fpw_on");
        on.add(cycle("fpw_on", true, true, 0));
        let skipped = ModeSummary::skipped("dwb_on", "no patch".into());
        let md = markdown(&[on, skipped]);
        assert!(md.contains("| | fpw_on |"), "{md}");
        assert!(
            md.contains("| torn writes injected | 1 (+0 not real"),
            "{md}"
        );
        assert!(md.contains("- **dwb_on**: skipped: no patch"), "{md}");
    }
}
