//! The reports issue: a committed fixture run directory (a real smoke run, `--repeats 2`, stock build so
//! `dwb_on` is skipped) renders to a report whose markdown matches the reviewed snapshot, to a CSV with one
//! row per scenario, and to PNG charts of the expected size that decode. Nothing here needs a database or
//! depends on the machine.

use std::path::{Path, PathBuf};
use tornbench::report::charts::{self, BAR_SIZE, SERIES_SIZE};
use tornbench::report::{self, markdown, ReportModel};
use tornbench::results::ScenarioResult;

fn fixture_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/smoke-run")
}

/// A scratch copy of the fixture run directory (the report writes into the run directory).
fn fixture_copy() -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::copy(fixture_dir().join("run.json"), tmp.path().join("run.json")).unwrap();
    std::fs::create_dir(tmp.path().join("scenarios")).unwrap();
    for e in std::fs::read_dir(fixture_dir().join("scenarios")).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), tmp.path().join("scenarios").join(e.file_name())).unwrap();
    }
    tmp
}

fn png_size(path: &Path) -> (u32, u32) {
    let img =
        image::open(path).unwrap_or_else(|e| panic!("{} does not decode: {e}", path.display()));
    (img.width(), img.height())
}

#[test]
fn fixture_markdown_matches_the_reviewed_snapshot() {
    let model = ReportModel::load(&fixture_dir()).unwrap();
    insta::assert_snapshot!("smoke_report_md", markdown::render(&model));
}

#[test]
fn report_writes_markdown_csv_and_decodable_charts() {
    let dir = fixture_copy();
    let written = report::generate(dir.path()).unwrap();
    assert_eq!(written.len(), 2 + 7);
    let md = std::fs::read_to_string(dir.path().join("report.md")).unwrap();
    let csv = std::fs::read_to_string(dir.path().join("results.csv")).unwrap();
    assert_eq!(csv.lines().count(), 1 + 12);
    // Every chart report.md embeds exists, by a relative path, at the size its kind promises.
    let embedded: Vec<&str> = md
        .lines()
        .filter_map(|l| l.strip_prefix("![")?.split_once("](")?.1.strip_suffix(')'))
        .collect();
    assert_eq!(embedded.len(), 7, "{embedded:?}");
    for rel in embedded {
        assert!(rel.starts_with("charts/"), "{rel}");
        let want = if rel.contains("throughput-") {
            SERIES_SIZE
        } else {
            BAR_SIZE
        };
        assert_eq!(png_size(&dir.path().join(rel)), want, "{rel}");
    }
    // Regenerating overwrites in place.
    assert_eq!(report::generate(dir.path()).unwrap().len(), written.len());
}

#[test]
fn a_stored_crash_test_becomes_section_8() {
    let dir = fixture_copy();
    let md = markdown::render(&ReportModel::load(dir.path()).unwrap());
    assert!(md.contains("## 8. Torn-page crash test\n\nNo crash test is stored"));
    std::fs::create_dir(dir.path().join("crash")).unwrap();
    std::fs::write(
        dir.path().join("crash/crash.md"),
        "## Torn-page crash test\n\n| | fpw_on |\n|---|---:|\n| cycles | 3 |\n",
    )
    .unwrap();
    let md = markdown::render(&ReportModel::load(dir.path()).unwrap());
    let section = md.split_once("## 8. Torn-page crash test\n").unwrap().1;
    assert!(section.starts_with("\n| | fpw_on |\n"), "{section}");
    assert!(section.contains("| cycles | 3 |"));
    assert!(section.contains("(crash/crash.json)"));
}

#[test]
fn skipped_modes_are_said_plainly() {
    let md = markdown::render(&ReportModel::load(&fixture_dir()).unwrap());
    assert!(md.contains("**dwb_on: measured in 0 of 2 scenarios.**"));
    assert!(md.contains("| skipped |") || md.contains("skipped |"));
    assert!(md.contains("this build lacks the double-write patch"));
}

#[test]
fn extra_modes_appear_in_every_table_and_chart() {
    let base = ReportModel::load(&fixture_dir()).unwrap();
    let mut results: Vec<ScenarioResult> = base
        .groups
        .iter()
        .flat_map(|g| g.cells.values())
        .flat_map(|c| c.results.iter().cloned())
        .collect();
    let extra: Vec<ScenarioResult> = results
        .iter()
        .filter(|r| r.scenario.mode == "fpw_on")
        .cloned()
        .map(|mut r| {
            r.scenario.mode = "fpw_lz4".to_string();
            if let Some(b) = r.bench.as_mut() {
                b.tps *= 1.1;
            }
            r
        })
        .collect();
    results.extend(extra);
    let model = ReportModel::new(base.manifest.clone(), results);
    assert_eq!(model.modes, ["fpw_off", "fpw_on", "dwb_on", "fpw_lz4"]);
    let md = markdown::render(&model);
    for needle in ["TPS fpw_lz4", "fpw_lz4 / fpw_off", "| fpw_lz4 |"] {
        assert!(md.contains(needle), "missing {needle}");
    }
    assert_ne!(
        charts::mode_color(&model, "fpw_lz4"),
        charts::mode_color(&model, "fpw_on")
    );
    let dir = tempfile::tempdir().unwrap();
    use tornbench::report::Exporter;
    let pngs = charts::Charts.export(&model, dir.path()).unwrap();
    assert_eq!(pngs.len(), 7);
}

#[test]
fn a_directory_without_run_json_is_refused_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let err = report::generate(dir.path()).unwrap_err().to_string();
    assert!(err.contains("no run.json"), "{err}");
}
