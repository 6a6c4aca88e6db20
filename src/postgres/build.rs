//! `tornbench build`: PostgreSQL 18 with every patch of `patches/pg18/` applied in file-name order, built
//! with the profile's configure flags plus the contrib modules the tool uses, and kept in a cache directory
//! keyed by version, source hash, patch hash and flags. A warm cache returns at once; `force` rebuilds.

use super::install::PgInstall;
use super::source::{self, hex, Source};
use super::toolchain;
use crate::progress::StageProgress;
use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

/// Bumped when the build steps change in a way that makes older cached builds different.
const RECIPE: &str = "tornbench-build-1";

/// Contrib modules installed with every build: integrity checks, cache warming, statement statistics.
pub const CONTRIB_MODULES: &[&str] = &["amcheck", "pg_prewarm", "pg_stat_statements"];

/// What to build and where to cache it.
#[derive(Debug, Clone)]
pub struct BuildRequest {
    /// `--source`: a tarball or an unpacked tree; `None` finds the pinned release.
    pub source: Option<PathBuf>,
    /// Flags for `configure` (besides `--prefix`).
    pub configure_flags: Vec<String>,
    /// Directory whose `*.patch` files are applied in name order; `None` applies none.
    pub patches_dir: Option<PathBuf>,
    /// The cache directory.
    pub cache_dir: PathBuf,
    /// Rebuild even if the cache holds this build.
    pub force: bool,
    /// Parallel make jobs.
    pub jobs: usize,
}

/// One applied patch, as recorded in the manifest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PatchInfo {
    /// File name.
    pub name: String,
    /// SHA-256 of its contents.
    pub sha256: String,
}

/// What a cached build is, written next to its installation once the build succeeded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BuildManifest {
    /// PostgreSQL version.
    pub version: String,
    /// SHA-256 of the source tarball or tree.
    pub source_sha256: String,
    /// Patches in the order applied.
    pub patches: Vec<PatchInfo>,
    /// One hash over all patches (names and contents), for reports.
    pub patch_hash: String,
    /// configure flags.
    pub configure_flags: Vec<String>,
    /// The cache key.
    pub key: String,
    /// Wall time of the build in seconds.
    pub build_seconds: f64,
    /// tornbench version that built it.
    pub tool_version: String,
}

/// A ready installation from the cache.
#[derive(Debug, Clone)]
pub struct BuiltInstall {
    /// The installation.
    pub install: PgInstall,
    /// What was built.
    pub manifest: BuildManifest,
    /// Whether the cache already held it.
    pub reused: bool,
}

/// The patch directory used when none is named: `patches/pg18` in the current directory, else the one in the
/// source tree this binary was built from.
pub fn default_patches_dir() -> Option<PathBuf> {
    let local = PathBuf::from("patches/pg18");
    if local.is_dir() {
        return Some(local);
    }
    let built_from = Path::new(env!("CARGO_MANIFEST_DIR")).join("patches/pg18");
    built_from.is_dir().then_some(built_from)
}

/// The patch files of `dir` in the order they are applied.
pub fn list_patches(dir: Option<&Path>) -> Result<Vec<PathBuf>> {
    let Some(dir) = dir else {
        return Ok(Vec::new());
    };
    let mut patches: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("reading patch directory {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "patch") && p.is_file())
        .collect();
    patches.sort();
    Ok(patches)
}

fn patch_infos(patches: &[PathBuf]) -> Result<Vec<PatchInfo>> {
    patches
        .iter()
        .map(|p| {
            Ok(PatchInfo {
                name: p.file_name().unwrap().to_string_lossy().into_owned(),
                sha256: source::sha256_file(p)?,
            })
        })
        .collect()
}

/// One hash over the patch series (empty series: the hash of nothing).
pub fn patch_hash(infos: &[PatchInfo]) -> String {
    let mut h = Sha256::new();
    for p in infos {
        h.update(p.name.as_bytes());
        h.update([0]);
        h.update(p.sha256.as_bytes());
        h.update([0]);
    }
    hex(&h.finalize())
}

fn cache_key(version: &str, source_sha: &str, patch_hash: &str, flags: &[String]) -> String {
    let mut h = Sha256::new();
    for part in [RECIPE, version, source_sha, patch_hash] {
        h.update(part.as_bytes());
        h.update([0]);
    }
    for f in flags {
        h.update(f.as_bytes());
        h.update([0]);
    }
    hex(&h.finalize())
}

/// Builds (or finds in the cache) the installation `req` describes.
pub fn build(req: &BuildRequest) -> Result<BuiltInstall> {
    let patches = list_patches(req.patches_dir.as_deref())?;
    let infos = patch_infos(&patches)?;
    let phash = patch_hash(&infos);
    let source = source::obtain(req.source.as_deref(), &req.cache_dir)?;
    let key = cache_key(
        source.version(),
        source.sha256(),
        &phash,
        &req.configure_flags,
    );
    let builds = req.cache_dir.join("builds");
    std::fs::create_dir_all(&builds).with_context(|| format!("creating {}", builds.display()))?;
    let dir = builds.join(format!("pg-{}-{}", source.version(), &key[..16]));
    let _lock = lock(&builds.join(format!(
        "{}.lock",
        dir.file_name().unwrap().to_string_lossy()
    )))?;
    let manifest_path = manifest_path(&dir);
    if !req.force {
        if let Some(manifest) = read_manifest(&manifest_path) {
            let install = PgInstall::open(&install_bin(&dir))?;
            return Ok(BuiltInstall {
                install,
                manifest,
                reused: true,
            });
        }
    }
    toolchain::ensure(&toolchain::requirements(&req.configure_flags))?;
    let started = Instant::now();
    let _ = std::fs::remove_file(&manifest_path);
    for p in [install_prefix(&dir), dir.join("work")] {
        if p.exists() {
            std::fs::remove_dir_all(&p).with_context(|| format!("removing {}", p.display()))?;
        }
    }
    std::fs::create_dir_all(dir.join("work"))?;
    let log_path = dir.join("build.log");
    let mut steps = Steps {
        log_path: log_path.clone(),
        progress: StageProgress::new(&format!("build PostgreSQL {}", source.version())),
    };
    let result = run_steps(&mut steps, req, &source, &patches, &dir);
    let src_dir = match result {
        Ok(src) => src,
        Err(e) => {
            let stage = steps.progress.current_stage().to_string();
            steps.progress.abandon();
            bail!(
                "{e:#}\nbuild failed at: {stage}\nlast lines of {}:\n{}",
                log_path.display(),
                super::cluster::log_tail(&log_path, 30)
            );
        }
    };
    let _ = std::fs::remove_dir_all(src_dir.parent().unwrap_or(&src_dir));
    let manifest = BuildManifest {
        version: source.version().to_string(),
        source_sha256: source.sha256().to_string(),
        patches: infos,
        patch_hash: phash,
        configure_flags: req.configure_flags.clone(),
        key,
        build_seconds: started.elapsed().as_secs_f64(),
        tool_version: env!("CARGO_PKG_VERSION").to_string(),
    };
    crate::fsutil::write_atomic(
        &manifest_path,
        serde_json::to_string_pretty(&manifest)?.as_bytes(),
    )?;
    steps
        .progress
        .finish(&format!("installed in {}", install_prefix(&dir).display()));
    let install = PgInstall::open(&install_bin(&dir))?;
    Ok(BuiltInstall {
        install,
        manifest,
        reused: false,
    })
}

/// The cache manifest of the tornbench build whose programs are in `bin_dir`, when `bin_dir` is a cached
/// build's `install/bin` (as `tornbench build` prints it); `None` for any other installation.
pub fn manifest_for_bin(bin_dir: &Path) -> Option<BuildManifest> {
    let bin = bin_dir.canonicalize().ok()?;
    let dir = bin.parent()?.parent()?;
    if install_bin(dir) != bin {
        return None;
    }
    read_manifest(&manifest_path(dir))
}

/// A cached build's installation prefix, given to its configure step.
fn install_prefix(build_dir: &Path) -> PathBuf {
    build_dir.join("install")
}

/// A cached build's programs.
fn install_bin(build_dir: &Path) -> PathBuf {
    install_prefix(build_dir).join("bin")
}

/// A cached build's manifest, written last, once the installation is complete.
fn manifest_path(build_dir: &Path) -> PathBuf {
    build_dir.join("manifest.json")
}

fn read_manifest(path: &Path) -> Option<BuildManifest> {
    let text = std::fs::read_to_string(path).ok()?;
    serde_json::from_str(&text).ok()
}

struct Steps {
    log_path: PathBuf,
    progress: StageProgress,
}

impl Steps {
    fn run(&mut self, stage: &str, cmd: &mut Command) -> Result<()> {
        self.progress.stage(stage);
        let mut log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log_path)
            .with_context(|| format!("opening {}", self.log_path.display()))?;
        writeln!(log, "\n=== {stage}: {cmd:?}")?;
        let status = cmd
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .status()
            .with_context(|| format!("{stage}: running {cmd:?}"))?;
        if !status.success() {
            bail!("{stage} failed ({status})");
        }
        Ok(())
    }
}

fn run_steps(
    steps: &mut Steps,
    req: &BuildRequest,
    source: &Source,
    patches: &[PathBuf],
    dir: &Path,
) -> Result<PathBuf> {
    let work = dir.join("work");
    let src = work.join("src");
    match source {
        Source::Tarball { path, .. } => {
            steps.run(
                "extract",
                Command::new("tar")
                    .arg("-xf")
                    .arg(path)
                    .arg("-C")
                    .arg(&work),
            )?;
            let top = std::fs::read_dir(&work)?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .find(|p| p.join("configure").is_file())
                .with_context(|| format!("{} holds no PostgreSQL source tree", path.display()))?;
            std::fs::rename(&top, &src)?;
        }
        Source::Tree { path, .. } => {
            steps.run(
                "copy source tree",
                Command::new("cp").arg("-a").arg(path).arg(&src),
            )?;
        }
    }
    for patch in patches {
        let name = patch.file_name().unwrap().to_string_lossy();
        let patch = std::fs::canonicalize(patch)?;
        steps
            .run(
                &format!("apply {name}"),
                Command::new("patch")
                    .args(["-p1", "--forward", "--batch", "-i"])
                    .arg(&patch)
                    .current_dir(&src),
            )
            .with_context(|| {
                format!(
                    "patch {name} does not apply to PostgreSQL {}",
                    source.version()
                )
            })?;
    }
    let prefix = install_prefix(dir);
    steps.run(
        "configure",
        Command::new("./configure")
            .arg(format!("--prefix={}", prefix.display()))
            .args(&req.configure_flags)
            .current_dir(&src),
    )?;
    let jobs = format!("-j{}", req.jobs.max(1));
    steps.run("make", Command::new("make").arg(&jobs).current_dir(&src))?;
    steps.run(
        "make install",
        Command::new("make").arg("install").current_dir(&src),
    )?;
    for module in CONTRIB_MODULES {
        steps.run(
            &format!("contrib/{module}"),
            Command::new("make")
                .arg(&jobs)
                .arg("-C")
                .arg(format!("contrib/{module}"))
                .arg("install")
                .current_dir(&src),
        )?;
    }
    Ok(src)
}

/// An exclusive lock on `path`, held until the returned file is dropped, so that concurrent builds of the
/// same key (parallel tests, two terminals) wait for one another instead of colliding.
fn lock(path: &Path) -> Result<File> {
    let f = File::create(path).with_context(|| format!("creating lock file {}", path.display()))?;
    // SAFETY: flock on a file descriptor we own.
    if unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
        eprintln!(
            "waiting for another tornbench build of the same PostgreSQL ({})",
            path.display()
        );
        // SAFETY: as above, blocking this time.
        if unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX) } != 0 {
            bail!(
                "cannot lock {}: {}",
                path.display(),
                std::io::Error::last_os_error()
            );
        }
    }
    Ok(f)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_changes_with_patches_and_flags() {
        let flags = vec!["--without-icu".to_string()];
        let a = cache_key("18.6", "abc", &patch_hash(&[]), &flags);
        let p = [PatchInfo {
            name: "0001-x.patch".into(),
            sha256: "ff".into(),
        }];
        assert_ne!(a, cache_key("18.6", "abc", &patch_hash(&p), &flags));
        assert_ne!(a, cache_key("18.6", "abc", &patch_hash(&[]), &[]));
        assert_eq!(a, cache_key("18.6", "abc", &patch_hash(&[]), &flags));
    }

    #[test]
    fn patches_are_listed_in_name_order() {
        let dir = tempfile::tempdir().unwrap();
        for n in ["0002-b.patch", "0001-a.patch", "README.md"] {
            std::fs::write(dir.path().join(n), "x").unwrap();
        }
        let names: Vec<String> = list_patches(Some(dir.path()))
            .unwrap()
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["0001-a.patch", "0002-b.patch"]);
    }

    #[test]
    fn a_cached_builds_bin_dir_leads_to_its_manifest() {
        let dir = tempfile::tempdir().unwrap();
        let build = dir.path().join("pg-18.6-0123456789abcdef");
        let bin = install_bin(&build);
        std::fs::create_dir_all(&bin).unwrap();
        assert!(manifest_for_bin(&bin).is_none(), "no manifest yet");
        let manifest = BuildManifest {
            version: "18.6".into(),
            source_sha256: "aa".into(),
            patches: vec![PatchInfo {
                name: "0001-x.patch".into(),
                sha256: "ff".into(),
            }],
            patch_hash: "bb".into(),
            configure_flags: vec!["--without-icu".into()],
            key: "0123456789abcdef".into(),
            build_seconds: 1.0,
            tool_version: "0.1.0".into(),
        };
        std::fs::write(
            manifest_path(&build),
            serde_json::to_string(&manifest).unwrap(),
        )
        .unwrap();
        let found = manifest_for_bin(&bin).expect("the build's manifest");
        assert_eq!(found.patch_hash, "bb");
        assert_eq!(found.patches[0].name, "0001-x.patch");
        // A bin directory elsewhere, even beside a manifest, is not a cached build.
        let other = build.join("bin");
        std::fs::create_dir_all(&other).unwrap();
        assert!(manifest_for_bin(&other).is_none());
    }
}
