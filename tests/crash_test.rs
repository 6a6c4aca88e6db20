//! End to end, issue 7: `tornbench crash-test` on the smoke data against a real build. Protected modes
//! survive real torn writes, the unprotected control is seen to fail, `dwb_on` runs when the build has the
//! double-write patch (and is skipped with the reason otherwise), and a "protected" mode that is not
//! protected makes the command fail.

mod common;

use common::{install, temp_dir, tornbench_bin};
use serde_json::Value;
use std::path::Path;
use std::process::{Command, Output};

/// Runs `tornbench crash-test` with `args` on the smoke profile; returns its output and `crash.json`.
fn crash_test(dir: &Path, args: &[&str]) -> (Output, Option<Value>) {
    let out_dir = dir.join("out");
    let out = Command::new(tornbench_bin())
        .arg("crash-test")
        .args(args)
        .arg("--pg-bin")
        .arg(&install().bin_dir)
        .arg("--out")
        .arg(&out_dir)
        .arg("--work-dir")
        .arg(dir.join("work"))
        .output()
        .expect("running tornbench crash-test");
    eprintln!(
        "stdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let json = std::fs::read(out_dir.join("crash.json"))
        .ok()
        .map(|b| serde_json::from_slice(&b).expect("crash.json parses"));
    (out, json)
}

fn mode<'a>(json: &'a Value, name: &str) -> &'a Value {
    json["modes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["mode"] == name)
        .unwrap_or_else(|| panic!("{name} in crash.json"))
}

fn n(v: &Value, key: &str) -> u64 {
    v[key].as_u64().unwrap_or_else(|| panic!("{key} in {v:#}"))
}

#[test]
fn fpw_on_survives_real_torn_writes() {
    let dir = temp_dir();
    let (out, json) = crash_test(dir.path(), &["--mode", "fpw_on", "--cycles", "3"]);
    assert!(out.status.success());
    let m = mode(json.as_ref().unwrap(), "fpw_on");
    assert!(n(m, "torn_writes") >= 1, "at least one real tear");
    assert_eq!(n(m, "cycles_with_damage"), 0);
    assert_eq!(n(m, "recoveries_ok"), 3);
    assert!(
        n(m, "pages_restored") >= 1,
        "WAL images repaired the torn pages"
    );
    let md = std::fs::read_to_string(dir.path().join("out/crash.md")).unwrap();
    assert!(
        md.contains("## Torn-page crash test") && md.contains("| | fpw_on |"),
        "{md}"
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        stdout.matches("fpw_on cycle").count(),
        3,
        "one line per cycle"
    );
}

#[test]
fn fpw_off_control_is_seen_to_fail() {
    let dir = temp_dir();
    // Six cycles: a tear whose changed bytes all lie in the kept prefix, or a page that redo rebuilds
    // from scratch, leaves no damage (about 3 cycles in 10 in the 20-cycle runs), so all six coming out
    // clean would be a broken injector, not bad luck.
    let (out, json) = crash_test(dir.path(), &["--mode", "fpw_off", "--cycles", "6"]);
    let m = mode(json.as_ref().unwrap(), "fpw_off");
    assert!(n(m, "torn_writes") >= 1, "the injector tore something");
    assert!(
        n(m, "torn_cycles_with_damage") >= 1,
        "without protection a real tear is detected"
    );
    assert!(
        out.status.success(),
        "a control that fails as expected is a passing test"
    );
}

#[test]
fn dwb_on_survives_real_torn_writes_or_is_skipped_with_the_reason() {
    let dir = temp_dir();
    let (out, json) = crash_test(dir.path(), &["--mode", "dwb_on", "--cycles", "3"]);
    let m = mode(json.as_ref().unwrap(), "dwb_on");
    if !install().has_double_write() {
        let reason = m["skipped"].as_str().expect("a skip reason");
        assert!(reason.contains("double-write patch"), "{reason}");
        assert!(String::from_utf8_lossy(&out.stdout).contains("skipped: "));
        eprintln!(
            "skipped dwb_on: {} has no double-write patch (set TORNBENCH_PG_BIN to a patched build)",
            install().bin_dir.display()
        );
        return;
    }
    assert!(out.status.success());
    assert!(n(m, "torn_writes") >= 1);
    assert_eq!(n(m, "cycles_with_damage"), 0);
    assert!(
        n(m, "pages_restored") >= 1,
        "the double-write area restored torn pages"
    );
}

#[test]
fn a_protected_mode_without_protection_fails_the_command() {
    let dir = temp_dir();
    let profile = dir.path().join("unprotected.toml");
    let smoke = include_str!("../profiles/smoke.toml");
    std::fs::write(
        &profile,
        format!("{smoke}\n[modes.fpw_on]\ndescription = \"fpw_on in name only\"\nsettings = {{ full_page_writes = false }}\n"),
    )
    .unwrap();
    let (out, json) = crash_test(
        dir.path(),
        &[
            "--mode",
            "fpw_on",
            "--cycles",
            "3",
            "--profile",
            profile.to_str().unwrap(),
        ],
    );
    let m = mode(json.as_ref().unwrap(), "fpw_on");
    if n(m, "torn_cycles_with_damage") == 0 {
        eprintln!("inconclusive: all real tears were repaired by redo re-initialising the pages");
        return;
    }
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("fpw_on is NOT protected"), "{stderr}");
}

#[test]
fn bad_flags_are_named() {
    let out = Command::new(tornbench_bin())
        .args(["crash-test", "--prefix", "1000"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--prefix 1000"), "{stderr}");
}

#[test]
fn a_stock_mode_is_refused_before_any_work() {
    // The crash test knows only the three built-in modes, but a profile may redefine one of them.
    let dir = temp_dir();
    let profile = dir.path().join("stock.toml");
    std::fs::write(
        &profile,
        "[modes.fpw_off]\nbuild = \"stock\"\nsettings = { full_page_writes = false }\n",
    )
    .unwrap();
    let profile = profile.to_str().unwrap();
    let args = ["--profile", profile, "--mode", "fpw_off", "--cycles", "1"];
    let (out, json) = crash_test(dir.path(), &args);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--mode fpw_off"), "{stderr}");
    assert!(stderr.contains("stock build"), "{stderr}");
    assert!(json.is_none(), "nothing was tested, so nothing is reported");
    let made_golden = std::fs::read_dir(dir.path().join("work"))
        .map(|d| d.flatten().any(|e| e.path().join("golden").exists()))
        .unwrap_or(false);
    assert!(!made_golden, "no data was loaded");
}
