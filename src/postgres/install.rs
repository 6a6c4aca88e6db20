//! A PostgreSQL installation on disk (our cached build or `--pg-bin`): its version and the settings its
//! server knows, which tell whether it carries the double-write patch.

use crate::profile::mode::{Mode, DOUBLE_WRITE_SETTING};
use anyhow::{bail, Context, Result};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The PostgreSQL major version this tool is written for.
pub const SUPPORTED_MAJOR: u32 = 18;

/// Programs the tool runs from an installation's `bin` directory.
const REQUIRED_PROGRAMS: &[&str] = &["postgres", "initdb", "pg_ctl", "pg_checksums", "psql"];

/// A checked PostgreSQL 18 installation.
#[derive(Debug, Clone)]
pub struct PgInstall {
    /// The `bin` directory.
    pub bin_dir: PathBuf,
    /// Full version, e.g. `18.6`.
    pub version: String,
    settings: BTreeSet<String>,
}

impl PgInstall {
    /// Opens and checks the installation whose programs are in `bin_dir`: the programs exist, the server is
    /// major version 18, and its list of settings can be read.
    pub fn open(bin_dir: &Path) -> Result<PgInstall> {
        if !bin_dir.is_dir() {
            bail!("--pg-bin {}: not a directory", bin_dir.display());
        }
        for program in REQUIRED_PROGRAMS {
            if !bin_dir.join(program).is_file() {
                bail!(
                    "--pg-bin {}: no `{program}` there; point at the bin directory of a PostgreSQL {SUPPORTED_MAJOR} \
                     installation (`tornbench build` prints one as its last line)",
                    bin_dir.display()
                );
            }
        }
        let postgres = bin_dir.join("postgres");
        let out = Command::new(&postgres)
            .arg("--version")
            .output()
            .with_context(|| format!("running {} --version", postgres.display()))?;
        let text = String::from_utf8_lossy(&out.stdout);
        let version = parse_version(&text).with_context(|| {
            format!("{} --version printed `{}`", postgres.display(), text.trim())
        })?;
        let major: u32 = version
            .split('.')
            .next()
            .and_then(|m| m.parse().ok())
            .unwrap_or(0);
        if major != SUPPORTED_MAJOR {
            bail!(
                "--pg-bin {}: PostgreSQL {version}, but tornbench needs major version {SUPPORTED_MAJOR}",
                bin_dir.display()
            );
        }
        let out = Command::new(&postgres)
            .arg("--describe-config")
            .output()
            .with_context(|| format!("running {} --describe-config", postgres.display()))?;
        if !out.status.success() {
            bail!(
                "{} --describe-config failed: {}",
                postgres.display(),
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        let settings = String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| l.split('\t').next())
            .filter(|n| !n.is_empty())
            .map(str::to_string)
            .collect();
        Ok(PgInstall {
            bin_dir: bin_dir.to_path_buf(),
            version,
            settings,
        })
    }

    /// The path of program `name` in this installation.
    pub fn bin(&self, name: &str) -> PathBuf {
        self.bin_dir.join(name)
    }

    /// Whether the server knows the setting `name`.
    pub fn knows_setting(&self, name: &str) -> bool {
        self.settings.contains(name)
    }

    /// Whether this build carries the double-write patch.
    pub fn has_double_write(&self) -> bool {
        self.knows_setting(DOUBLE_WRITE_SETTING)
    }

    /// Fails, saying why, if this build cannot run `mode` (a setting the mode needs is unknown to it).
    pub fn check_mode(&self, mode: &Mode) -> Result<(), UnsupportedMode> {
        match mode.settings.keys().find(|k| !self.knows_setting(k)) {
            None => Ok(()),
            Some(setting) => Err(UnsupportedMode {
                mode: mode.name.clone(),
                setting: setting.clone(),
                bin_dir: self.bin_dir.clone(),
            }),
        }
    }
}

/// A mode that this build cannot run.
#[derive(Debug, Clone, thiserror::Error)]
#[error("mode {mode} needs the setting `{setting}`, which the server in {} does not know{}", bin_dir.display(), hint(setting))]
pub struct UnsupportedMode {
    /// The mode's name.
    pub mode: String,
    /// The first setting the server does not know.
    pub setting: String,
    /// The installation's bin directory.
    pub bin_dir: PathBuf,
}

fn hint(setting: &str) -> &'static str {
    if setting == DOUBLE_WRITE_SETTING {
        ": this build lacks the double-write patch (build with `tornbench build`, which applies patches/pg18/)"
    } else {
        ""
    }
}

fn parse_version(text: &str) -> Option<String> {
    // "postgres (PostgreSQL) 18.6" or "postgres (PostgreSQL) 18devel" or "... 18.6 (Debian 18.6-1)"
    let after = text.split(')').nth(1)?.split_whitespace().next()?;
    let version: String = after
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.')
        .collect();
    (!version.is_empty()).then_some(version)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_server_versions() {
        assert_eq!(
            parse_version("postgres (PostgreSQL) 18.6\n").as_deref(),
            Some("18.6")
        );
        assert_eq!(
            parse_version("postgres (PostgreSQL) 18devel").as_deref(),
            Some("18")
        );
        assert_eq!(
            parse_version("postgres (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)").as_deref(),
            Some("15.18")
        );
        assert_eq!(parse_version("garbage"), None);
    }

    #[test]
    fn missing_directory_is_a_clear_error() {
        let err = PgInstall::open(Path::new("/no/such/dir"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("/no/such/dir"), "{err}");
    }
}
