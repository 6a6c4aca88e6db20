//! End to end: `tornbench run` on the smoke profile against real servers, resume after the tool is killed,
//! `--only` replacing one result, the refusal of a changed profile, and a server killed mid-scenario.

mod common;

use common::{install, temp_dir, tornbench_bin};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};
use tornbench::results::{RunDir, ScenarioStatus};

struct Run {
    dir: tempfile::TempDir,
}

impl Run {
    fn new() -> Run {
        Run { dir: temp_dir() }
    }

    fn reports(&self) -> PathBuf {
        self.dir.path().join("reports")
    }

    fn work(&self) -> PathBuf {
        self.dir.path().join("work")
    }

    fn command(&self, run_id: &str, extra: &[&str]) -> Command {
        self.command_with_profile(Path::new("smoke"), run_id, extra)
    }

    fn command_with_profile(&self, profile: &Path, run_id: &str, extra: &[&str]) -> Command {
        let mut cmd = Command::new(tornbench_bin());
        cmd.args(["run", "--profile"])
            .arg(profile)
            .args(["--run-id", run_id, "--pg-bin"])
            .arg(&install().bin_dir)
            .arg("--reports-dir")
            .arg(self.reports())
            .arg("--work-dir")
            .arg(self.work())
            .args(["--clients", "2", "--warmup", "1"])
            .args(extra)
            .stdin(Stdio::null());
        cmd
    }

    /// Writes `toml` as profile `<run_id>.toml` beside the run and runs it under that run id.
    fn run_profile_text(&self, run_id: &str, toml: &str) -> Output {
        let profile = self.dir.path().join(format!("{run_id}.toml"));
        std::fs::write(&profile, toml).unwrap();
        self.command_with_profile(&profile, run_id, &[])
            .output()
            .expect("tornbench runs")
    }

    fn run(&self, run_id: &str, extra: &[&str]) -> Output {
        self.command(run_id, extra)
            .output()
            .expect("tornbench runs")
    }

    fn run_dir(&self, run_id: &str) -> RunDir {
        RunDir::new(self.reports().join(run_id))
    }
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn wait_for(what: &str, timeout: Duration, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn postmaster_of(work: &Path, run_id: &str) -> Option<u32> {
    let pid_file = work.join("runs").join(run_id).join("data/postmaster.pid");
    let text = std::fs::read_to_string(pid_file).ok()?;
    let mut lines = text.lines();
    let pid = lines.next()?.trim().parse().ok()?;
    (lines.nth(6)?.trim() == "ready").then_some(pid)
}

#[test]
fn smoke_profile_runs_every_supported_mode_and_records_costs() {
    let run = Run::new();
    let out = run.run("smoke", &["--duration", "2"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let results = run.run_dir("smoke").read_all_scenarios().unwrap();
    assert_eq!(results.len(), 6, "3 modes x 2 workloads");
    for r in &results {
        if r.scenario.mode == "dwb_on" && !install().has_double_write() {
            assert_eq!(r.status, ScenarioStatus::Skipped, "{:?}", r.reason);
            assert!(r.reason.as_deref().unwrap().contains("double-write patch"));
            continue;
        }
        assert_eq!(
            r.status,
            ScenarioStatus::Completed,
            "{}: {:?}",
            r.scenario.id(),
            r.reason
        );
        let bench = r.bench.as_ref().unwrap();
        assert!(bench.transactions > 0, "{}", r.scenario.id());
        let server = r.server.as_ref().unwrap();
        assert!(server.wal("wal_bytes") > 0.0, "{}", r.scenario.id());
        assert!(r.per_transaction.as_ref().unwrap().wal_bytes > 0.0);
        let probe = r
            .host_probe
            .expect("the host-speed probe ran in the window");
        assert!(probe.samples >= 1 && probe.median_ms > 0.0, "{probe:?}");
        assert!(run.run_dir("smoke").log_path(&r.scenario).is_file());
    }
    let manifest = run.run_dir("smoke").read_manifest().unwrap().unwrap();
    assert_eq!(manifest.postgres.version, install().version);
    assert!(manifest.timing.unwrap().measure_secs > 0.0);
}

#[test]
fn a_changed_profile_is_refused_and_only_replaces_one_result() {
    let run = Run::new();
    let first = run.run(
        "r",
        &[
            "--duration",
            "1",
            "--modes",
            "fpw_off,fpw_on",
            "--workloads",
            "write_only",
        ],
    );
    assert!(first.status.success(), "{}", stderr(&first));
    let dir = run.run_dir("r");
    let before = dir.read_all_scenarios().unwrap();
    assert_eq!(before.len(), 2);

    let changed = run.run(
        "r",
        &[
            "--duration",
            "2",
            "--modes",
            "fpw_off,fpw_on",
            "--workloads",
            "write_only",
        ],
    );
    assert!(!changed.status.success());
    assert!(
        stderr(&changed).contains("duration_secs"),
        "{}",
        stderr(&changed)
    );

    let again = run.run(
        "r",
        &[
            "--duration",
            "1",
            "--modes",
            "fpw_off,fpw_on",
            "--workloads",
            "write_only",
        ],
    );
    assert!(again.status.success(), "{}", stderr(&again));
    assert!(
        stderr(&again).contains("0 to run"),
        "finished scenarios are skipped: {}",
        stderr(&again)
    );

    let only = run.run(
        "r",
        &[
            "--duration",
            "1",
            "--modes",
            "fpw_off,fpw_on",
            "--workloads",
            "write_only",
            "--only",
            "mode=fpw_on",
        ],
    );
    assert!(only.status.success(), "{}", stderr(&only));
    let after = dir.read_all_scenarios().unwrap();
    for (b, a) in before.iter().zip(&after) {
        if b.scenario.mode == "fpw_on" {
            assert_ne!(b.started_at, a.started_at, "fpw_on was measured again");
        } else {
            assert_eq!(b, a, "{} was left alone", b.scenario.id());
        }
    }
}

#[test]
fn a_killed_run_resumes_without_redoing_finished_scenarios() {
    let run = Run::new();
    let args = [
        "--duration",
        "4",
        "--modes",
        "fpw_off,fpw_on",
        "--workloads",
        "write_only",
    ];
    let mut child: Child = run
        .command("k", &args)
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let dir = run.run_dir("k");
    wait_for("the first result", Duration::from_secs(180), || {
        dir.read_all_scenarios()
            .map(|r| r.len() == 1)
            .unwrap_or(false)
    });
    wait_for(
        "the second scenario's server",
        Duration::from_secs(60),
        || postmaster_of(&run.work(), "k").is_some(),
    );
    child.kill().unwrap();
    child.wait().unwrap();
    let first = dir.read_all_scenarios().unwrap();
    assert_eq!(first.len(), 1, "the killed scenario left no result");

    let resumed = run.run("k", &args);
    assert!(resumed.status.success(), "{}", stderr(&resumed));
    assert!(
        stderr(&resumed).contains("1 to run"),
        "{}",
        stderr(&resumed)
    );
    let all = dir.read_all_scenarios().unwrap();
    assert_eq!(all.len(), 2);
    assert!(all.contains(&first[0]), "the finished result is untouched");
    assert!(all.iter().all(|r| r.status == ScenarioStatus::Completed));
}

#[test]
fn a_server_killed_mid_scenario_is_recorded_as_failed_and_the_run_goes_on() {
    let run = Run::new();
    let args = [
        "--duration",
        "6",
        "--modes",
        "fpw_on,fpw_off",
        "--workloads",
        "write_only",
    ];
    let child = run
        .command("f", &args)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut killed = None;
    wait_for(
        "the first measured window",
        Duration::from_secs(180),
        || {
            if let Some(pid) = postmaster_of(&run.work(), "f") {
                // Let warm-up end and measurement begin before the crash.
                std::thread::sleep(Duration::from_secs(3));
                tornbench::shutdown::kill_tree(pid);
                killed = Some(pid);
                true
            } else {
                false
            }
        },
    );
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "a failed scenario does not fail the run: {}",
        stderr(&out)
    );
    let results = run.run_dir("f").read_all_scenarios().unwrap();
    let failed: Vec<_> = results
        .iter()
        .filter(|r| r.status == ScenarioStatus::Failed)
        .collect();
    let completed: Vec<_> = results
        .iter()
        .filter(|r| r.status == ScenarioStatus::Completed)
        .collect();
    assert_eq!(failed.len(), 1, "{results:#?}");
    assert_eq!(failed[0].scenario.mode, "fpw_on");
    assert!(failed[0].reason.is_some() && failed[0].log_tail.is_some());
    assert_eq!(completed.len(), 1);
    assert_eq!(completed[0].scenario.mode, "fpw_off");
}

#[test]
fn a_stock_mode_runs_on_the_unpatched_build_beside_the_patched_one() {
    if !install().has_double_write() {
        eprintln!("skipped: the installation under test has no double-write patch to compare with");
        return;
    }
    let run = Run::new();
    let out = run.run_profile_text(
        "stock",
        "[data]\ntables = 2\ntable_size = 10_000\n\
         [server]\nshared_buffers = \"128MB\"\nwal_buffers = \"4MB\"\n\
         [modes.fpw_off_stock]\ndescription = \"fpw_off without the patch\"\nbuild = \"stock\"\n\
         settings = { full_page_writes = false }\n\
         [run]\nmodes = [\"fpw_off\", \"fpw_off_stock\"]\nworkloads = [\"write_only\"]\n\
         duration_secs = 2\n",
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let dir = run.run_dir("stock");
    let results = dir.read_all_scenarios().unwrap();
    assert_eq!(results.len(), 2, "2 modes x 1 workload");
    for r in &results {
        assert_eq!(r.status, ScenarioStatus::Completed, "{:?}", r.reason);
        assert!(r.bench.as_ref().unwrap().transactions > 0);
        // The patched server has the double-write counters (off, but there); the stock one has none.
        let counters = r.server.as_ref().unwrap().double_write.is_some();
        assert_eq!(
            counters,
            r.scenario.mode == "fpw_off",
            "{}",
            r.scenario.id()
        );
    }
    let manifest = dir.read_manifest().unwrap().unwrap();
    let stock = manifest
        .postgres
        .stock_build
        .expect("the stock build is recorded");
    assert!(stock.starts_with("build "), "{stock}");
    assert_eq!(manifest.fingerprint.stock_modes, vec!["fpw_off_stock"]);
    let report = std::fs::read_to_string(dir.root().join("report.md")).unwrap();
    assert!(report.contains("Stock build"), "{report}");
    assert!(report.contains("fpw_off_stock (*stock*)"), "{report}");
    assert!(report.contains("fpw_off / fpw_off_stock"), "{report}");
}

#[test]
fn a_memory_capped_run_records_each_servers_cap_and_peak() {
    if !tornbench::paths::running_as_root() {
        eprintln!("skipped: a memory cgroup needs root");
        return;
    }
    let run = Run::new();
    let out = run.run_profile_text(
        "capped",
        "[data]\ntables = 2\ntable_size = 10_000\n\
         [server]\nshared_buffers = \"128MB\"\nwal_buffers = \"4MB\"\n\
         [host]\nmemory_limit = \"768MB\"\n\
         [run]\nmodes = [\"fpw_off\"]\nworkloads = [\"write_only\"]\nduration_secs = 2\n",
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let dir = run.run_dir("capped");
    let results = dir.read_all_scenarios().unwrap();
    assert_eq!(results.len(), 1);
    let r = &results[0];
    assert_eq!(r.status, ScenarioStatus::Completed, "{:?}", r.reason);
    let memory = r.server_memory.expect("the cap is recorded");
    assert_eq!(memory.limit_bytes, 768 << 20);
    // shared_buffers is touched at start-up, so the server's charge passed it: the cgroup held the server.
    let peak = memory.peak_bytes.expect("the kernel keeps a peak");
    assert!(peak > 16 << 20 && peak <= 768 << 20, "peak {peak}");
    let manifest = dir.read_manifest().unwrap().unwrap();
    assert_eq!(
        manifest.fingerprint.host.memory_limit.as_deref(),
        Some("768MB")
    );
    let report = std::fs::read_to_string(dir.root().join("report.md")).unwrap();
    assert!(report.contains("Server memory cap"), "{report}");
    assert!(report.contains("Peak server memory"), "{report}");
}
