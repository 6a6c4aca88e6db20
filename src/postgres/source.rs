//! Obtaining PostgreSQL 18 source: `--source` (a tarball or an unpacked tree), else the cached tarball, else
//! the pinned upstream release over HTTPS, else Debian's `postgresql-18` source package (whose
//! `.orig.tar.bz2` is the upstream tarball, byte for byte). Tarballs are checked against the pinned SHA-256.

use anyhow::{anyhow, bail, Context, Result};
use sha2::{Digest, Sha256};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::progress::StageProgress;

/// The upstream release the patches are written against.
pub const PINNED_VERSION: &str = "18.6";
/// SHA-256 of `postgresql-18.6.tar.bz2` (equal to Debian's `postgresql-18_18.6.orig.tar.bz2`).
pub const PINNED_SHA256: &str = "555610c24d53e4316da5b7d3fc25c279d96856d5e0e23ee308c328c5fa881d9f";
/// Where upstream publishes the pinned release.
pub const PINNED_URL: &str = "https://ftp.postgresql.org/pub/source/v18.6/postgresql-18.6.tar.bz2";

/// PostgreSQL source ready to build.
#[derive(Debug, Clone)]
pub enum Source {
    /// A release tarball.
    Tarball {
        /// The file.
        path: PathBuf,
        /// Release version, e.g. `18.6`.
        version: String,
        /// SHA-256 of the file, hex.
        sha256: String,
    },
    /// An unpacked source tree (copied before patches are applied; the tree itself is never changed).
    Tree {
        /// The top of the tree (holds `configure`).
        path: PathBuf,
        /// Version from `configure`'s PACKAGE_VERSION.
        version: String,
        /// SHA-256 over the tree's file names and contents, hex.
        sha256: String,
    },
}

impl Source {
    /// Release version.
    pub fn version(&self) -> &str {
        match self {
            Source::Tarball { version, .. } | Source::Tree { version, .. } => version,
        }
    }

    /// Content hash, part of the build cache key.
    pub fn sha256(&self) -> &str {
        match self {
            Source::Tarball { sha256, .. } | Source::Tree { sha256, .. } => sha256,
        }
    }
}

/// Finds source as the module documentation describes; `cache_dir/sources` keeps downloaded tarballs.
pub fn obtain(explicit: Option<&Path>, cache_dir: &Path) -> Result<Source> {
    if let Some(path) = explicit {
        return from_path(path);
    }
    let sources = cache_dir.join("sources");
    std::fs::create_dir_all(&sources).with_context(|| format!("creating {}", sources.display()))?;
    let cached = sources.join(format!("postgresql-{PINNED_VERSION}.tar.bz2"));
    if cached.is_file() {
        let sha = sha256_file(&cached)?;
        if sha == PINNED_SHA256 {
            return Ok(tarball(cached, PINNED_VERSION.to_string(), sha));
        }
        tracing::warn!(
            "cached {} has SHA-256 {sha}, not the pinned one; fetching again",
            cached.display()
        );
        std::fs::remove_file(&cached).with_context(|| format!("removing {}", cached.display()))?;
    }
    let mut attempts = Vec::new();
    let mut progress = StageProgress::new(&format!("PostgreSQL {PINNED_VERSION} source"));
    progress.stage("download the upstream release");
    match download_upstream(&sources, &cached) {
        Ok(source) => {
            progress.finish(&format!("saved in {}", cached.display()));
            return Ok(source);
        }
        Err(e) => {
            eprintln!("PostgreSQL {PINNED_VERSION} source: upstream download failed: {e:#}");
            attempts.push(format!("upstream {PINNED_URL}: {e:#}"));
        }
    }
    progress.stage("fetch Debian's source package postgresql-18 (sid)");
    match fetch_from_debian(&sources) {
        Ok(source) => {
            progress.finish(&format!(
                "{} from Debian's source package",
                source.version()
            ));
            return Ok(source);
        }
        Err(e) => attempts.push(format!("Debian source package postgresql-18: {e:#}")),
    }
    progress.abandon();
    bail!(
        "cannot obtain PostgreSQL {PINNED_VERSION} source. Tried:\n  - {}\nPass --source PATH with a release \
         tarball or an unpacked tree.",
        attempts.join("\n  - ")
    )
}

fn tarball(path: PathBuf, version: String, sha256: String) -> Source {
    Source::Tarball {
        path,
        version,
        sha256,
    }
}

/// Source from a path the user named: a tarball (version from its name) or an unpacked tree.
pub fn from_path(path: &Path) -> Result<Source> {
    if path.is_dir() {
        let configure = path.join("configure");
        let text = std::fs::read_to_string(&configure).with_context(|| {
            format!(
                "--source {}: no readable `configure`; not a PostgreSQL source tree",
                path.display()
            )
        })?;
        let version = text
            .lines()
            .find_map(|l| l.strip_prefix("PACKAGE_VERSION='"))
            .and_then(|rest| rest.strip_suffix('\''))
            .ok_or_else(|| {
                anyhow!(
                    "--source {}: no PACKAGE_VERSION in configure",
                    path.display()
                )
            })?
            .to_string();
        let sha256 = sha256_tree(path)?;
        return Ok(Source::Tree {
            path: path.to_path_buf(),
            version,
            sha256,
        });
    }
    if !path.is_file() {
        bail!("--source {}: no such file or directory", path.display());
    }
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let version = version_from_tarball_name(&name).ok_or_else(|| {
        anyhow!(
            "--source {}: cannot tell the version from the file name (expected postgresql-18.X.tar.bz2 or \
             postgresql-18_18.X.orig.tar.bz2)",
            path.display()
        )
    })?;
    let sha = sha256_file(path)?;
    if version == PINNED_VERSION && sha != PINNED_SHA256 {
        bail!(
            "--source {}: SHA-256 {sha} does not match the published {PINNED_VERSION} release ({PINNED_SHA256})",
            path.display()
        );
    }
    Ok(tarball(path.to_path_buf(), version, sha))
}

fn version_from_tarball_name(name: &str) -> Option<String> {
    let rest = name
        .strip_prefix("postgresql-18_")
        .or_else(|| name.strip_prefix("postgresql-"))?;
    let version: String = rest
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.')
        .collect();
    let version = version.trim_end_matches('.').to_string();
    (version.starts_with("18") && rest[version.len()..].starts_with(['.', '_'])).then_some(version)
}

fn download_upstream(sources: &Path, dest: &Path) -> Result<Source> {
    let tmp = sources.join(format!(".download-{}", std::process::id()));
    // curl's own message goes into the error (and from there into one progress line), not straight to stderr.
    let out = Command::new("curl")
        .args([
            "--fail",
            "--silent",
            "--show-error",
            "--location",
            "--connect-timeout",
            "10",
            "--max-time",
            "600",
        ])
        .arg("--output")
        .arg(&tmp)
        .arg(PINNED_URL)
        .output()
        .context("running curl")?;
    if !out.status.success() {
        let _ = std::fs::remove_file(&tmp);
        let message = String::from_utf8_lossy(&out.stderr);
        bail!("{} ({})", message.trim(), out.status);
    }
    let sha = sha256_file(&tmp)?;
    if sha != PINNED_SHA256 {
        let _ = std::fs::remove_file(&tmp);
        bail!("downloaded file has SHA-256 {sha}, expected {PINNED_SHA256}");
    }
    std::fs::rename(&tmp, dest)
        .with_context(|| format!("moving the download to {}", dest.display()))?;
    Ok(tarball(dest.to_path_buf(), PINNED_VERSION.to_string(), sha))
}

/// Downloads Debian's `postgresql-18` source package through a temporary deb-src list for `sid` derived from
/// the system's apt sources, and keeps its upstream tarball in `sources`.
fn fetch_from_debian(sources: &Path) -> Result<Source> {
    let work = tempfile::Builder::new()
        .prefix(".debian-")
        .tempdir_in(sources)
        .context("creating a work directory for apt")?;
    let list = work.path().join("sid-src.sources");
    std::fs::write(&list, debian_src_stanza(&read_system_apt_sources())?)
        .with_context(|| format!("writing {}", list.display()))?;
    let lists = work.path().join("lists");
    std::fs::create_dir_all(lists.join("partial"))?;
    let apt_opts = |cmd: &mut Command| {
        cmd.arg("-o")
            .arg(format!("Dir::Etc::sourcelist={}", list.display()))
            .args(["-o", "Dir::Etc::sourceparts=-"])
            .arg("-o")
            .arg(format!("Dir::State::Lists={}", lists.display()))
            .args(["-o", "APT::Sandbox::User=root", "-q"]);
    };
    let mut update = Command::new("apt-get");
    apt_opts(&mut update);
    run_quiet(update.arg("update"), "apt-get update (deb-src sid)")?;
    let mut source = Command::new("apt-get");
    apt_opts(&mut source);
    run_quiet(
        source
            .current_dir(work.path())
            .args(["source", "--download-only", "postgresql-18"]),
        "apt-get source --download-only postgresql-18",
    )?;
    let orig = std::fs::read_dir(work.path())?
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .find(|p| {
            let n = p.file_name().unwrap_or_default().to_string_lossy();
            n.starts_with("postgresql-18_") && n.contains(".orig.tar.")
        })
        .ok_or_else(|| {
            anyhow!(
                "apt-get source left no postgresql-18_*.orig.tar.* in {}",
                work.path().display()
            )
        })?;
    let name = orig.file_name().unwrap().to_string_lossy().into_owned();
    let version = version_from_tarball_name(&name)
        .ok_or_else(|| anyhow!("cannot read the version of {name}"))?;
    let sha = sha256_file(&orig)?;
    if version == PINNED_VERSION {
        if sha != PINNED_SHA256 {
            bail!("Debian's {name} has SHA-256 {sha}, not the published release's {PINNED_SHA256}");
        }
    } else {
        // apt verified the file against the signed .dsc; it is Debian's copy of another upstream release.
        tracing::warn!(
            "Debian offers PostgreSQL {version}, not the pinned {PINNED_VERSION}; using it (checked by apt against \
             Debian's signed index). The patches may need updating if they do not apply."
        );
    }
    let dest = sources.join(format!("postgresql-{version}.tar.bz2"));
    std::fs::rename(&orig, &dest)
        .with_context(|| format!("moving {name} to {}", dest.display()))?;
    Ok(tarball(dest, version, sha))
}

fn run_quiet(cmd: &mut Command, what: &str) -> Result<()> {
    let out = cmd.output().with_context(|| format!("running {what}"))?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        let tail: Vec<&str> = err.lines().rev().take(5).collect();
        bail!(
            "{what} failed ({}): {}",
            out.status,
            tail.into_iter().rev().collect::<Vec<_>>().join(" | ")
        );
    }
    Ok(())
}

fn read_system_apt_sources() -> String {
    let mut text = String::new();
    if let Ok(entries) = std::fs::read_dir("/etc/apt/sources.list.d") {
        let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok()).map(|e| e.path()).collect();
        paths.sort();
        for p in paths
            .iter()
            .filter(|p| p.extension().is_some_and(|e| e == "sources"))
        {
            text.push_str(&std::fs::read_to_string(p).unwrap_or_default());
            text.push_str("\n\n");
        }
    }
    if let Ok(list) = std::fs::read_to_string("/etc/apt/sources.list") {
        text.push_str(&list);
    }
    text
}

/// A deb822 stanza for Debian sid's source packages, from the first Debian archive (not the security
/// archive) in the system's apt sources, in deb822 or one-line format.
pub fn debian_src_stanza(system_sources: &str) -> Result<String> {
    // deb822 stanzas
    for stanza in system_sources.split("\n\n") {
        let field = |name: &str| {
            stanza.lines().find_map(|l| {
                l.strip_prefix(name)
                    .and_then(|r| r.strip_prefix(':'))
                    .map(|v| v.trim().to_string())
            })
        };
        if let Some(uris) = field("URIs") {
            if uris.contains("security") || !uris.contains("debian") {
                continue;
            }
            let mut out = format!("Types: deb-src\nURIs: {uris}\nSuites: sid\nComponents: main\n");
            if let Some(key) = field("Signed-By") {
                out.push_str(&format!("Signed-By: {key}\n"));
            }
            return Ok(out);
        }
    }
    // one-line format: deb [opts] URI suite components
    for line in system_sources.lines().map(str::trim) {
        let Some(rest) = line.strip_prefix("deb ") else {
            continue;
        };
        let mut words = rest.split_whitespace().peekable();
        let mut options = String::new();
        if words.peek().is_some_and(|w| w.starts_with('[')) {
            for w in words.by_ref() {
                options.push_str(w.trim_matches(|c| c == '[' || c == ']'));
                options.push(' ');
                if w.ends_with(']') {
                    break;
                }
            }
        }
        let Some(uri) = words.next() else { continue };
        if uri.contains("security") || !uri.contains("debian") {
            continue;
        }
        let mut out = format!("Types: deb-src\nURIs: {uri}\nSuites: sid\nComponents: main\n");
        if let Some(key) = options
            .split_whitespace()
            .find_map(|o| o.strip_prefix("signed-by="))
        {
            out.push_str(&format!("Signed-By: {key}\n"));
        }
        return Ok(out);
    }
    bail!("no Debian archive found in /etc/apt/sources.list.d/*.sources or /etc/apt/sources.list")
}

/// SHA-256 of a file, hex.
pub fn sha256_file(path: &Path) -> Result<String> {
    let mut f = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f
            .read(&mut buf)
            .with_context(|| format!("reading {}", path.display()))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hex(&hasher.finalize()))
}

fn sha256_tree(root: &Path) -> Result<String> {
    let mut files = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in
            std::fs::read_dir(&dir).with_context(|| format!("reading {}", dir.display()))?
        {
            let entry = entry?;
            let path = entry.path();
            let kind = entry.file_type()?;
            if entry.file_name() == ".git" {
                continue;
            }
            if kind.is_dir() {
                stack.push(path);
            } else if kind.is_file() {
                files.push(path);
            }
        }
    }
    files.sort();
    let mut hasher = Sha256::new();
    for f in files {
        hasher.update(
            f.strip_prefix(root)
                .unwrap_or(&f)
                .to_string_lossy()
                .as_bytes(),
        );
        hasher.update([0]);
        hasher.update(std::fs::read(&f).with_context(|| format!("reading {}", f.display()))?);
    }
    Ok(hex(&hasher.finalize()))
}

/// Lower-case hex of bytes.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_come_from_upstream_and_debian_names() {
        assert_eq!(
            version_from_tarball_name("postgresql-18.6.tar.bz2").as_deref(),
            Some("18.6")
        );
        assert_eq!(
            version_from_tarball_name("postgresql-18_18.6.orig.tar.bz2").as_deref(),
            Some("18.6")
        );
        assert_eq!(version_from_tarball_name("postgresql-17.2.tar.bz2"), None);
        assert_eq!(version_from_tarball_name("notes.txt"), None);
    }

    #[test]
    fn deb822_sources_become_a_sid_deb_src_stanza() {
        let system = "Types: deb\nURIs: http://mirror.example/debian\nSuites: bookworm\nComponents: main\n\
                      Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n\n\
                      Types: deb\nURIs: http://mirror.example/debian-security\nSuites: bookworm-security\n";
        let stanza = debian_src_stanza(system).unwrap();
        assert!(stanza.contains("Types: deb-src\n"));
        assert!(stanza.contains("URIs: http://mirror.example/debian\n"));
        assert!(stanza.contains("Suites: sid\n"));
        assert!(stanza.contains("Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg"));
    }

    #[test]
    fn one_line_sources_are_understood() {
        let system =
            "deb [arch=amd64 signed-by=/k.gpg] http://mirror.example/debian bookworm main\n";
        let stanza = debian_src_stanza(system).unwrap();
        assert!(
            stanza.contains("URIs: http://mirror.example/debian\n"),
            "{stanza}"
        );
        assert!(stanza.contains("Signed-By: /k.gpg"), "{stanza}");
        assert!(debian_src_stanza("# nothing\n").is_err());
    }

    #[test]
    fn a_tarball_with_the_pinned_name_but_other_bytes_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let fake = dir.path().join("postgresql-18.6.tar.bz2");
        std::fs::write(&fake, b"not a tarball").unwrap();
        let err = from_path(&fake).unwrap_err().to_string();
        assert!(err.contains("does not match"), "{err}");
    }
}
