//! Checkpoint start and end times from the server log (`log_checkpoints = on`, the tool's
//! `log_line_prefix = '%m [%p] '`), so that charts can mark where each checkpoint ran.

use chrono::{DateTime, NaiveDateTime, Utc};
use serde::{Deserialize, Serialize};

/// One checkpoint seen in the log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckpointMark {
    /// When it started.
    pub started: DateTime<Utc>,
    /// When it completed, if it did before the log ends.
    pub completed: Option<DateTime<Utc>>,
    /// Why it ran: `time`, `wal`, `immediate force wait`, ...
    pub reason: String,
}

/// Every checkpoint (not restartpoint) in a server log, in order.
pub fn parse_log(log: &str) -> Vec<CheckpointMark> {
    let mut marks: Vec<CheckpointMark> = Vec::new();
    for line in log.lines() {
        let Some(at) = line_time(line) else { continue };
        if let Some(rest) = line.split("LOG:  checkpoint starting: ").nth(1) {
            marks.push(CheckpointMark {
                started: at,
                completed: None,
                reason: rest.trim().to_string(),
            });
        } else if line.contains("LOG:  checkpoint complete:") {
            if let Some(open) = marks.iter_mut().rev().find(|m| m.completed.is_none()) {
                open.completed = Some(at);
            }
        }
    }
    marks
}

/// The timestamp `%m` puts at the start of a line: `2026-11-23 12:00:00.123 UTC`.
fn line_time(line: &str) -> Option<DateTime<Utc>> {
    let stamp = line.get(..23)?;
    let naive = NaiveDateTime::parse_from_str(stamp, "%Y-%m-%d %H:%M:%S%.3f").ok()?;
    // The tool's servers log in their own time zone; initdb sets it from the environment, which is UTC on
    // the machines this runs on. A zone other than UTC is read as UTC too (marks shift, counts stay right).
    Some(naive.and_utc())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_starts_with_completions() {
        let log = "2026-11-23 12:00:00.100 UTC [10] LOG:  checkpoint starting: time\n\
                   2026-11-23 12:00:05.600 UTC [10] LOG:  checkpoint complete: wrote 10 buffers (0.1%); ...\n\
                   2026-11-23 12:00:30.000 UTC [10] LOG:  checkpoint starting: wal\n\
                   garbage line\n";
        let marks = parse_log(log);
        assert_eq!(marks.len(), 2);
        assert_eq!(marks[0].reason, "time");
        assert_eq!(
            (marks[0].completed.unwrap() - marks[0].started).num_milliseconds(),
            5500
        );
        assert_eq!(marks[1].reason, "wal");
        assert!(marks[1].completed.is_none());
    }
}
