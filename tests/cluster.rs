//! End to end against real servers: the foundation's build, initdb, each mode's settings, start and stop.

mod common;

use common::{install, query_one, tornbench_bin, TestCluster};
use std::process::Command;
use tornbench::postgres::cluster::StopMode;
use tornbench::postgres::install::PgInstall;

#[test]
fn each_mode_starts_with_its_settings_and_checksums() {
    let tc = TestCluster::new();
    for (mode, fpw) in [("fpw_off", "off"), ("fpw_on", "on")] {
        let server = tc.start(mode, &[]);
        assert_eq!(query_one(&server, "SHOW full_page_writes"), fpw, "{mode}");
        assert_eq!(query_one(&server, "SHOW data_checksums"), "on", "{mode}");
        assert_eq!(query_one(&server, "SHOW listen_addresses"), "127.0.0.1");
        server.stop(StopMode::Fast).expect("fast stop");
    }
}

#[test]
fn dwb_on_needs_the_patch_and_runs_with_it() {
    let tc = TestCluster::new();
    if !install().has_double_write() {
        let mode = &tornbench::profile::mode::builtin_modes()["dwb_on"];
        let err = install().check_mode(mode).unwrap_err().to_string();
        assert!(err.contains("double-write patch"), "{err}");
        eprintln!("skipped the dwb_on start: this build lacks the double-write patch");
        return;
    }
    let server = tc.start("dwb_on", &[]);
    assert_eq!(query_one(&server, "SHOW full_page_writes"), "off");
    assert_eq!(query_one(&server, "SHOW double_write"), "on");
    server.stop(StopMode::Fast).expect("fast stop");
}

#[test]
fn immediate_stop_and_crash_leave_a_cluster_that_recovers() {
    let tc = TestCluster::new();
    let server = tc.start("fpw_on", &[]);
    query_one(&server, "SELECT 'x'::text");
    server.stop(StopMode::Immediate).unwrap();
    let server = tc.start("fpw_on", &[]);
    let pid = server.pid();
    // Every server process (backends and auxiliary processes run in sessions of their own).
    let pids: Vec<u32> = query_one(
        &server,
        "SELECT string_agg(pid::text, ',') FROM pg_stat_activity",
    )
    .split(',')
    .map(|p| p.parse().unwrap())
    .collect();
    assert!(pids.len() >= 3, "{pids:?}");
    server.stop(StopMode::Crash).unwrap();
    assert!(!tornbench::shutdown::process_alive(pid));
    for p in pids {
        assert!(
            !tornbench::shutdown::process_alive(p),
            "server process {p} outlived the crash"
        );
    }
    let server = tc.start("fpw_on", &[]);
    assert_eq!(query_one(&server, "SELECT 'alive'::text"), "alive");
    let log = std::fs::read_to_string(server.log_path()).unwrap();
    assert!(
        log.contains("database system was interrupted"),
        "recovery ran:\n{log}"
    );
}

#[test]
fn a_dropped_server_is_stopped() {
    let tc = TestCluster::new();
    let pid = {
        let server = tc.start("fpw_off", &[]);
        server.pid()
    };
    assert!(
        !tornbench::shutdown::process_alive(pid),
        "postmaster {pid} still running after drop"
    );
}

#[test]
fn a_server_that_cannot_start_reports_its_log() {
    let tc = TestCluster::new();
    let log = tc.dir.path().join("bad.log");
    let config = tc.config("fpw_on", &[("shared_buffers", "not-a-size")]);
    let err = tc
        .cluster
        .start(&config, &log, std::time::Duration::from_secs(30))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("shared_buffers"),
        "the log tail names the bad setting: {err}"
    );
}

#[test]
fn bad_pg_bin_fails_clearly() {
    let dir = common::temp_dir();
    let err = PgInstall::open(dir.path()).unwrap_err().to_string();
    assert!(err.contains("no `postgres` there"), "{err}");
    let out = Command::new(tornbench_bin())
        .args(["server", "--profile", "smoke", "--pg-bin"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("--pg-bin") && stderr.contains("no `postgres` there"),
        "{stderr}"
    );
}

#[test]
fn pg_bin_of_another_major_version_is_refused() {
    // Debian's own PostgreSQL, when installed, is another major version.
    let Some(other) = std::fs::read_dir("/usr/lib/postgresql").ok().and_then(|d| {
        d.filter_map(|e| e.ok())
            .map(|e| e.path().join("bin"))
            .find(|p| !p.starts_with("/usr/lib/postgresql/18"))
    }) else {
        eprintln!("skipped: no other PostgreSQL major version installed under /usr/lib/postgresql");
        return;
    };
    if !other.join("pg_checksums").is_file() {
        eprintln!("skipped: {} is incomplete", other.display());
        return;
    }
    let err = PgInstall::open(&other).unwrap_err().to_string();
    assert!(err.contains("needs major version 18"), "{err}");
}

#[test]
fn bad_profile_fails_naming_the_key() {
    let dir = common::temp_dir();
    let path = dir.path().join("bad.toml");
    std::fs::write(&path, "[run]\nclinets = [4]\n").unwrap();
    let out = Command::new(tornbench_bin())
        .args(["run", "--dry-run", "--profile"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("clinets") && stderr.contains("bad.toml"),
        "{stderr}"
    );
}

#[test]
fn dry_run_of_the_article_profile_lists_eighteen_scenarios() {
    let out = Command::new(tornbench_bin())
        .args(["run", "--dry-run", "--profile", "article"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("18 scenarios"), "{stdout}");
    assert_eq!(
        stdout.lines().filter(|l| l.contains("-r1 ")).count(),
        18,
        "{stdout}"
    );
}

#[test]
fn a_capped_server_runs_with_every_process_inside_its_memory_cgroup() {
    use std::sync::Arc;
    use tornbench::postgres::memcap::MemoryCap;
    if !tornbench::paths::running_as_root() {
        eprintln!("skipped: a memory cgroup needs root");
        return;
    }
    let cap = Arc::new(MemoryCap::create("cluster-test", 512 << 20).expect("memory cgroup"));
    let cgroup_dir = cap.dir().to_path_buf();
    let tc = TestCluster::new();
    let capped = tc.cluster.clone().with_memory_cap(Some(cap.clone()));
    let log = tc.dir.path().join("capped.log");
    let server = capped
        .start(
            &tc.config("fpw_off", &[]),
            &log,
            std::time::Duration::from_secs(120),
        )
        .expect("capped start");
    let tree = tornbench::shutdown::process_tree(server.pid());
    assert!(
        tree.len() > 3,
        "postmaster and its auxiliary processes: {tree:?}"
    );
    let inside = cap.pids().unwrap();
    for pid in &tree {
        assert!(inside.contains(pid), "{pid} is outside {inside:?}");
        assert_eq!(cap.holds(*pid), Some(true), "{pid}'s own /proc entry");
    }
    assert_eq!(
        cap.holds(std::process::id()),
        Some(false),
        "the test itself is outside"
    );
    // A backend forked for a new connection lands in the cgroup too.
    let conn = server.connection_string("postgres");
    let backend = common::block_on(async {
        let client = tornbench::experiment::load::connect(&conn)
            .await
            .expect("connect");
        let row = client
            .query_one("SELECT pg_backend_pid()", &[])
            .await
            .expect("query");
        let pid: i32 = row.get(0);
        let inside = cap.pids().unwrap();
        (pid as u32, inside)
    });
    assert!(
        backend.1.contains(&backend.0),
        "backend {} is outside {:?}",
        backend.0,
        backend.1
    );
    let used = cap.usage().unwrap();
    assert_eq!(used.limit_bytes, 512 << 20);
    assert!(used.peak_bytes.unwrap_or(0) > 0);
    server.stop(StopMode::Fast).expect("fast stop");
    drop(capped);
    drop(cap);
    assert!(
        !cgroup_dir.exists(),
        "the cgroup is removed with its last handle"
    );
}
