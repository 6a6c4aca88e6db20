//! `[host]`: what the tool does to the machine around each measured server, as opposed to the server's own
//! settings. Today one thing: a memory cap, so that a small machine can run the article's IO-bound regime.

use serde::{Deserialize, Serialize};

/// The smallest cap accepted: below it not even a small server's shared memory fits.
pub const MIN_MEMORY_LIMIT: u64 = 128 << 20;

/// `[host]`: limits around each measured server.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostSettings {
    /// Memory of each measured server, its page cache included (a memory cgroup around the postmaster and
    /// everything it forks), e.g. `"1536MB"`; PostgreSQL's units (kB, MB, GB, TB, powers of 1024). A data
    /// set larger than this is read from and written to disk instead of living in the page cache, as in
    /// the article, where 10 x 10M rows did not fit in RAM. Needs root. Absent: no cap.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_limit: Option<String>,
}

/// `[host]` as written.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PartialHost {
    /// See [`HostSettings::memory_limit`].
    pub memory_limit: Option<String>,
}

impl HostSettings {
    /// Whether nothing is set (then fingerprints and stored profiles leave the table out).
    pub fn is_default(&self) -> bool {
        self == &HostSettings::default()
    }

    /// The memory cap in bytes, if one is set and valid.
    pub fn memory_limit_bytes(&self) -> Option<u64> {
        self.memory_limit
            .as_deref()
            .and_then(|s| parse_size(s).ok())
    }
}

/// Parses a size in PostgreSQL's notation (`"512MB"`, `"1.5GB"`; a bare number is bytes) into bytes.
pub fn parse_size(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let factor: u64 = match unit.trim() {
        "" | "B" => 1,
        "kB" => 1 << 10,
        "MB" => 1 << 20,
        "GB" => 1 << 30,
        "TB" => 1 << 40,
        other => {
            return Err(format!(
                "has unit `{other}` in `{text}`; use B, kB, MB, GB or TB"
            ))
        }
    };
    let value: f64 = number
        .parse()
        .map_err(|_| format!("`{text}` is not a size like \"1536MB\" or \"1.5GB\""))?;
    Ok((value * factor as f64).round() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_use_postgres_units() {
        assert_eq!(parse_size("1536MB"), Ok(1536 << 20));
        assert_eq!(parse_size("1.5GB"), Ok(1536 << 20));
        assert_eq!(parse_size("64kB"), Ok(64 << 10));
        assert_eq!(parse_size("4096"), Ok(4096));
        assert!(parse_size("2GiB").unwrap_err().contains("GiB"));
        assert!(parse_size("lots").is_err());
    }

    #[test]
    fn an_empty_table_is_the_default() {
        assert!(HostSettings::default().is_default());
        let capped = HostSettings {
            memory_limit: Some("1GB".into()),
        };
        assert!(!capped.is_default());
        assert_eq!(capped.memory_limit_bytes(), Some(1 << 30));
    }
}
