//! End to end against real servers (issue 3, the load): the driver issues exactly sysbench's statements
//! (counted by pg_stat_statements), counts ignored errors and goes on, and ends with a clear error — never
//! a hang — when the server dies or stops answering.

mod common;

use common::{execute_in, rows_in, tornbench_bin, TestCluster};
use std::collections::BTreeMap;
use std::process::Command;
use std::sync::mpsc;
use std::time::{Duration, Instant};
use tornbench::bench::{self, BenchConfig, BenchResult, Quiet};
use tornbench::postgres::cluster::{Server, StopMode};
use tornbench::workload::transactions::StatementKind;
use tornbench::workload::{self, NoProgress, PrepareOptions, Workload};

fn prepare(server: &Server, db: &str, tables: u32, size: u32) {
    let opts = PrepareOptions::new(&server.connection_string(db), tables, size);
    workload::prepare(&opts, &NoProgress).expect("prepare");
}

fn config(server: &Server, db: &str, workload: Workload, tables: u32, size: u32) -> BenchConfig {
    let mut c = BenchConfig::new(&server.connection_string(db), workload);
    c.tables = tables;
    c.table_size = size;
    c.clients = 2;
    c.duration = Duration::from_secs(2);
    c
}

/// Committed transactions of database `db` so far (BEGIN and COMMIT run as prepared statements, which
/// pg_stat_statements counts once per preparation, not per execution; pg_stat_database counts every
/// commit). Read from `postgres`, so the reading connection's own transactions never count.
fn database_commits(server: &Server, db: &str) -> u64 {
    rows_in(
        server,
        "postgres",
        &format!("SELECT xact_commit FROM pg_stat_database WHERE datname = '{db}'"),
    )[0]
    .parse()
    .unwrap()
}

/// The commits of `db` once they have reached `at_least` and stop changing: backends report their counts
/// as they exit, a moment after their client has gone.
fn settled_commits(server: &Server, db: &str, at_least: u64) -> u64 {
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut last = database_commits(server, db);
    loop {
        std::thread::sleep(Duration::from_millis(300));
        let now = database_commits(server, db);
        if (now == last && now >= at_least) || Instant::now() > deadline {
            return now;
        }
        last = now;
    }
}

/// Calls per statement from pg_stat_statements, with `sbtestN` written as `sbtest*`.
fn statement_calls(server: &Server) -> BTreeMap<String, u64> {
    let mut calls = BTreeMap::new();
    for row in rows_in(
        server,
        "postgres",
        "SELECT regexp_replace(query, 'sbtest[0-9]+', 'sbtest*', 'g'), calls FROM pg_stat_statements
          WHERE query ~ 'sbtest[0-9]'",
    ) {
        let (query, n) = row.rsplit_once('|').unwrap();
        *calls.entry(query.to_string()).or_insert(0) += n.parse::<u64>().unwrap();
    }
    calls
}

#[test]
fn each_transaction_issues_exactly_sysbench_statements() {
    let tc = TestCluster::new();
    let server = tc.start(
        "fpw_off",
        // No autovacuum: its transactions would count as commits in the database under test.
        &[
            ("shared_preload_libraries", "pg_stat_statements"),
            ("autovacuum", "off"),
        ],
    );
    execute_in(&server, "postgres", "CREATE EXTENSION pg_stat_statements");
    // The load runs in a database of its own, so that nothing but its clients commits there.
    execute_in(&server, "postgres", "CREATE DATABASE sbtest");
    prepare(&server, "sbtest", 2, 2_000);
    for workload in Workload::ALL {
        execute_in(&server, "postgres", "SELECT pg_stat_statements_reset()");
        let commits_before = settled_commits(&server, "sbtest", 0);
        // One client: two clients can delete and re-insert the same id at once, and the second
        // insert then fails with a unique violation that sysbench also ignores — correct, but it
        // would make the counts below inexact.
        let mut one_client = config(&server, "sbtest", workload, 2, 2_000);
        one_client.clients = 1;
        let result = bench::run(&one_client, &Quiet).unwrap();
        assert_eq!(result.errors.total(), 0, "{result:?}");
        let calls = statement_calls(&server);
        // pg_stat_statements writes the constant 1 as the next parameter.
        let index_update = "UPDATE sbtest* SET k=k+$2 WHERE id=$1";
        let commits = *calls
            .get(index_update)
            .unwrap_or_else(|| panic!("{calls:#?}"));
        // Every transaction committed. More commits: each statement the client prepares (Parse runs in an
        // implicit transaction of its own), plus a few for connecting.
        let least = commits_before + commits;
        let prepared = 2 + 2 * StatementKind::for_workload(workload).len() as u64;
        let now = settled_commits(&server, "sbtest", least);
        assert!(
            (least..=least + prepared + 5).contains(&now),
            "{workload}: {commits} transactions, {} commits",
            now - commits_before
        );
        let mut expected = BTreeMap::from([
            (index_update.to_string(), commits),
            ("UPDATE sbtest* SET c=$1 WHERE id=$2".to_string(), commits),
            ("DELETE FROM sbtest* WHERE id=$1".to_string(), commits),
            (
                "INSERT INTO sbtest* (id, k, c, pad) VALUES ($1,$2,$3,$4)".to_string(),
                commits,
            ),
        ]);
        if workload == Workload::ReadWrite {
            expected.extend([
                (
                    "SELECT c FROM sbtest* WHERE id=$1".to_string(),
                    10 * commits,
                ),
                (
                    "SELECT c FROM sbtest* WHERE id BETWEEN $1 AND $2".to_string(),
                    commits,
                ),
                (
                    "SELECT SUM(k) FROM sbtest* WHERE id BETWEEN $1 AND $2".to_string(),
                    commits,
                ),
                (
                    "SELECT c FROM sbtest* WHERE id BETWEEN $1 AND $2 ORDER BY c".to_string(),
                    commits,
                ),
                (
                    "SELECT DISTINCT c FROM sbtest* WHERE id BETWEEN $1 AND $2 ORDER BY c"
                        .to_string(),
                    commits,
                ),
            ]);
        }
        assert_eq!(calls, expected, "{workload}");
        // QPS/TPS as sysbench reports them: 20 and 6.
        let per_txn = workload.statements_per_transaction() as u64;
        assert_eq!(result.statements.total(), per_txn * result.transactions);
        assert!((result.qps / result.tps - per_txn as f64).abs() < 1e-9);
        // The series adds up to the totals, and the histogram holds every transaction.
        let series: u64 = result.series.iter().map(|s| s.transactions).sum();
        assert_eq!(series, result.transactions);
        assert_eq!(result.histogram().unwrap().len(), result.transactions);
    }
}

#[test]
fn provoked_deadlocks_and_unique_violations_are_counted_and_the_run_goes_on() {
    let tc = TestCluster::new();
    let server = tc.start("fpw_off", &[("deadlock_timeout", "10ms")]);
    // Three rows and eight clients: the updates of two ids in opposite orders deadlock, and two clients
    // deleting then inserting the same id collide on the primary key.
    prepare(&server, "postgres", 1, 3);
    let mut c = config(&server, "postgres", Workload::WriteOnly, 1, 3);
    c.clients = 8;
    c.duration = Duration::from_secs(3);
    let result = bench::run(&c, &Quiet).expect("ignored errors do not end the run");
    assert!(result.errors.deadlock > 0, "{:?}", result.errors);
    assert!(result.errors.unique_violation > 0, "{:?}", result.errors);
    assert!(result.transactions > 0);
    assert_eq!(result.series.len(), 3);
    let errors: u64 = result.series.iter().map(|s| s.errors).sum();
    assert_eq!(errors, result.errors.total());
    // Every failed transaction was rolled back: the table still holds one row per id.
    let rows = rows_in(
        &server,
        "postgres",
        "SELECT count(*), count(DISTINCT id) FROM sbtest1",
    );
    assert_eq!(rows, ["3|3"]);
}

/// Runs `config` in a thread; returns its result and how long it took, failing the test after `limit`.
fn run_with_limit(
    config: BenchConfig,
    limit: Duration,
    during: impl FnOnce(),
) -> (anyhow::Result<BenchResult>, Duration) {
    let (tx, rx) = mpsc::channel();
    let started = Instant::now();
    std::thread::spawn(move || {
        let _ = tx.send(bench::run(&config, &Quiet));
    });
    during();
    let result = rx
        .recv_timeout(limit)
        .unwrap_or_else(|_| panic!("the run did not end within {limit:?}"));
    (result, started.elapsed())
}

#[test]
fn a_killed_server_ends_the_run_with_a_clear_error() {
    let tc = TestCluster::new();
    let server = tc.start("fpw_off", &[]);
    prepare(&server, "postgres", 1, 1_000);
    let mut c = config(&server, "postgres", Workload::WriteOnly, 1, 1_000);
    c.duration = Duration::from_secs(120);
    c.statement_timeout = Duration::from_secs(5);
    let (result, took) = run_with_limit(c, Duration::from_secs(30), move || {
        std::thread::sleep(Duration::from_millis(1500));
        server.stop(StopMode::Crash).unwrap();
    });
    let err = format!("{:#}", result.expect_err("a dead server is an error"));
    assert!(err.contains("lost the connection to the server"), "{err}");
    assert!(took < Duration::from_secs(30), "{took:?}");
}

/// Signals the postmaster and its children (each backend is its own session leader, so a process-group
/// signal would reach the postmaster only).
fn signal_server(postmaster: u32, sig: libc::c_int) {
    tornbench::shutdown::signal(postmaster, sig);
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        let ppid = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(1))
            .and_then(|p| p.parse::<u32>().ok());
        if ppid == Some(postmaster) {
            tornbench::shutdown::signal(pid, sig);
        }
    }
}

#[test]
fn a_server_that_stops_answering_ends_the_run_at_the_statement_timeout() {
    let tc = TestCluster::new();
    let server = tc.start("fpw_off", &[]);
    prepare(&server, "postgres", 1, 1_000);
    let mut c = config(&server, "postgres", Workload::WriteOnly, 1, 1_000);
    c.duration = Duration::from_secs(120);
    c.statement_timeout = Duration::from_secs(2);
    let pid = server.pid();
    let (result, _) = run_with_limit(c, Duration::from_secs(30), move || {
        std::thread::sleep(Duration::from_millis(1500));
        // Freeze the postmaster and every backend: connections stay open, nothing answers.
        signal_server(pid, libc::SIGSTOP);
    });
    signal_server(pid, libc::SIGCONT);
    let err = format!("{:#}", result.expect_err("a frozen server is an error"));
    assert!(err.contains("did not answer"), "{err}");
    server.stop(StopMode::Immediate).unwrap();
}

#[test]
fn cli_prepares_benches_and_writes_json() {
    let tc = TestCluster::new();
    let server = tc.start("fpw_off", &[]);
    let conn = server.connection_string("postgres");
    let run = |args: &[&str]| {
        let out = Command::new(tornbench_bin()).args(args).output().unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.status.success(), "{args:?}:\n{text}");
        text
    };
    let out = run(&[
        "prepare",
        "--conn",
        &conn,
        "--tables",
        "2",
        "--table-size",
        "500",
    ]);
    assert!(out.contains("prepared 2 tables x 500 rows"), "{out}");
    let json = tc.dir.path().join("result.json");
    let out = run(&[
        "bench",
        "--conn",
        &conn,
        "--tables",
        "2",
        "--table-size",
        "500",
        "--workload",
        "read_write",
        "--clients",
        "2",
        "--duration",
        "2",
        "--warmup",
        "1",
        "--distribution",
        "zipfian",
        "--json",
        json.to_str().unwrap(),
    ]);
    assert!(
        out.contains("transactions:") && out.contains("95th percentile"),
        "{out}"
    );
    assert!(out.contains("warm-up"), "{out}");
    let result: BenchResult = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    assert_eq!(result.settings.workload, Workload::ReadWrite);
    assert_eq!(result.series.len(), 2);
    assert!(result.transactions > 0);
    let out = run(&["prepare", "--conn", &conn, "--tables", "2", "--drop"]);
    assert!(out.contains("dropped"), "{out}");
}
