//! The programs and headers a PostgreSQL build needs, and installing the missing ones with apt-get when we
//! are root (otherwise an error that prints the exact command).

use anyhow::{bail, Context, Result};
use std::path::Path;
use std::process::Command;

/// A build requirement: how to tell it is there, and the Debian package that provides it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Requirement {
    /// A program on PATH, or an absolute path to a header file.
    pub probe: &'static str,
    /// The Debian package that provides it.
    pub package: &'static str,
}

const ALWAYS: &[Requirement] = &[
    Requirement {
        probe: "cc",
        package: "gcc",
    },
    Requirement {
        probe: "make",
        package: "make",
    },
    Requirement {
        probe: "perl",
        package: "perl",
    },
    Requirement {
        probe: "bison",
        package: "bison",
    },
    Requirement {
        probe: "flex",
        package: "flex",
    },
    Requirement {
        probe: "patch",
        package: "patch",
    },
    Requirement {
        probe: "tar",
        package: "tar",
    },
    Requirement {
        probe: "bzip2",
        package: "bzip2",
    },
];

const WITH_LZ4: &[Requirement] = &[
    Requirement {
        probe: "/usr/include/lz4.h",
        package: "liblz4-dev",
    },
    Requirement {
        probe: "pkg-config",
        package: "pkg-config",
    },
];

/// What a build with `configure_flags` needs.
pub fn requirements(configure_flags: &[String]) -> Vec<Requirement> {
    let mut reqs = ALWAYS.to_vec();
    if configure_flags.iter().any(|f| f == "--with-lz4") {
        reqs.extend_from_slice(WITH_LZ4);
    }
    reqs
}

fn present(req: &Requirement) -> bool {
    if req.probe.starts_with('/') {
        return Path::new(req.probe).exists();
    }
    std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).any(|dir| dir.join(req.probe).is_file()))
        .unwrap_or(false)
}

/// The Debian packages of the requirements that are missing.
pub fn missing_packages(reqs: &[Requirement]) -> Vec<&'static str> {
    let mut pkgs: Vec<&'static str> = reqs
        .iter()
        .filter(|r| !present(r))
        .map(|r| r.package)
        .collect();
    pkgs.dedup();
    pkgs
}

/// Makes sure every requirement is present, installing missing packages with apt-get when root.
pub fn ensure(reqs: &[Requirement]) -> Result<()> {
    let missing = missing_packages(reqs);
    if missing.is_empty() {
        return Ok(());
    }
    let command = format!("apt-get install -y {}", missing.join(" "));
    if !crate::paths::running_as_root() {
        bail!(
            "building PostgreSQL needs {}; install them with:\n  sudo {command}",
            missing.join(", ")
        );
    }
    eprintln!("installing build tools: {command}");
    let install = || {
        Command::new("apt-get")
            .args(["install", "-y", "-q"])
            .args(&missing)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .status()
            .context("running apt-get install")
    };
    if !install()?.success() {
        // A fresh machine may have no package lists yet.
        let _ = Command::new("apt-get").args(["update", "-q"]).status();
        let status = install()?;
        if !status.success() {
            bail!("`{command}` failed ({status})");
        }
    }
    let still = missing_packages(reqs);
    if !still.is_empty() {
        bail!("still missing after apt-get: {}", still.join(", "));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lz4_is_needed_only_with_its_flag() {
        let plain = requirements(&["--without-icu".to_string()]);
        assert!(!plain.iter().any(|r| r.package == "liblz4-dev"));
        let lz4 = requirements(&["--with-lz4".to_string()]);
        assert!(lz4.iter().any(|r| r.package == "liblz4-dev"));
    }

    #[test]
    fn present_programs_are_not_reported_missing() {
        let reqs = [
            Requirement {
                probe: "sh",
                package: "dash",
            },
            Requirement {
                probe: "/no/such/header.h",
                package: "libnothing-dev",
            },
        ];
        assert_eq!(missing_packages(&reqs), vec!["libnothing-dev"]);
    }
}
