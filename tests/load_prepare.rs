//! End to end against a real server (issue 3, the load): `tornbench prepare` creates exactly sysbench's
//! schema with sysbench-shaped values, and the data sets are interchangeable: sysbench runs on ours, we run
//! on sysbench's.

mod common;

use common::{execute_in, rows_in, sysbench_available, sysbench_conn_args, TestCluster};
use std::process::Command;
use tornbench::bench::{self, BenchConfig, Quiet};
use tornbench::postgres::cluster::Server;
use tornbench::workload::{self, NoProgress, PrepareOptions, Workload};

const TABLES: u32 = 2;
const SIZE: u32 = 2_000;

fn prepare_ours(server: &Server, db: &str) -> workload::PrepareStats {
    let opts = PrepareOptions::new(&server.connection_string(db), TABLES, SIZE);
    workload::prepare(&opts, &NoProgress).expect("tornbench prepare")
}

/// Columns, constraints, indexes and sequence state of sbtest*, with table numbers kept.
fn schema_of(server: &Server, db: &str) -> Vec<String> {
    let mut out = rows_in(
        server,
        db,
        "SELECT table_name, column_name, data_type, character_maximum_length, is_nullable, column_default
           FROM information_schema.columns WHERE table_name LIKE 'sbtest%'
          ORDER BY table_name, ordinal_position",
    );
    out.extend(rows_in(
        server,
        db,
        "SELECT conrelid::regclass, conname, contype, pg_get_constraintdef(oid) FROM pg_constraint
          WHERE conrelid::regclass::text LIKE 'sbtest%'
          ORDER BY conrelid::regclass::text, conname",
    ));
    out.extend(rows_in(
        server,
        db,
        "SELECT indexname, indexdef FROM pg_indexes WHERE tablename LIKE 'sbtest%' ORDER BY 1",
    ));
    out.extend(rows_in(
        server,
        db,
        "SELECT c.relname, s.seqtypid::regtype, d.refobjid::regclass
           FROM pg_sequence s JOIN pg_class c ON c.oid = s.seqrelid
           JOIN pg_depend d ON d.objid = s.seqrelid AND d.deptype = 'a'
          WHERE c.relname LIKE 'sbtest%' ORDER BY 1",
    ));
    for n in 1..=TABLES {
        out.extend(rows_in(
            server,
            db,
            &format!("SELECT 'sbtest{n}_id_seq', last_value, is_called FROM sbtest{n}_id_seq"),
        ));
    }
    out
}

#[test]
fn prepared_rows_have_sysbench_shapes_and_statistics() {
    let tc = TestCluster::new();
    let server = tc.start("fpw_off", &[]);
    let stats = prepare_ours(&server, "postgres");
    assert_eq!(stats.rows, u64::from(TABLES * SIZE));
    for n in 1..=TABLES {
        let check = rows_in(
            &server,
            "postgres",
            &format!(
                "SELECT count(*), min(id), max(id), count(DISTINCT id),
                        bool_and(k BETWEEN 1 AND {SIZE}),
                        bool_and(c ~ '^([0-9]{{11}}-){{9}}[0-9]{{11}} $'),
                        bool_and(pad ~ '^([0-9]{{11}}-){{4}}[0-9]{{11}} $')
                   FROM sbtest{n}"
            ),
        );
        assert_eq!(
            check,
            [format!("{SIZE}|1|{SIZE}|{SIZE}|t|t|t")],
            "sbtest{n}"
        );
        // k is uniform over 1..table_size: not all rows share a few values.
        let distinct_k = rows_in(
            &server,
            "postgres",
            &format!("SELECT count(DISTINCT k) > {} FROM sbtest{n}", SIZE / 2),
        );
        assert_eq!(distinct_k, ["t"]);
        let analyzed = rows_in(
            &server,
            "postgres",
            &format!("SELECT last_analyze IS NOT NULL FROM pg_stat_user_tables WHERE relname = 'sbtest{n}'"),
        );
        assert_eq!(analyzed, ["t"], "sbtest{n} analyzed");
    }
    // A second prepare replaces the tables (a clean rerun), and drop removes them.
    prepare_ours(&server, "postgres");
    let conn = server.connection_string("postgres");
    workload::drop_tables(&conn, TABLES, std::time::Duration::from_secs(5)).unwrap();
    let left = rows_in(
        &server,
        "postgres",
        "SELECT count(*) FROM pg_class WHERE relname LIKE 'sbtest%'",
    );
    assert_eq!(left, ["0"]);
}

#[test]
fn schema_equals_sysbench_and_each_runs_on_the_others_data() {
    let name = "schema_equals_sysbench_and_each_runs_on_the_others_data";
    if !sysbench_available(name) {
        return;
    }
    let tc = TestCluster::new();
    let server = tc.start("fpw_off", &[]);
    execute_in(&server, "postgres", "CREATE DATABASE ours");
    execute_in(&server, "postgres", "CREATE DATABASE theirs");
    prepare_ours(&server, "ours");
    let sysbench = |db: &str, script: &str, command: &str, extra: &[&str]| {
        let out = Command::new("sysbench")
            .arg(script)
            .args(sysbench_conn_args(&server, db))
            .arg(format!("--tables={TABLES}"))
            .arg(format!("--table-size={SIZE}"))
            .args(extra)
            .arg(command)
            .output()
            .expect("running sysbench");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            out.status.success(),
            "sysbench {script} {command} on {db}:\n{text}"
        );
        text
    };
    sysbench("theirs", "oltp_write_only", "prepare", &[]);
    assert_eq!(schema_of(&server, "ours"), schema_of(&server, "theirs"));

    // sysbench on our data.
    let out = sysbench(
        "ours",
        "oltp_write_only",
        "run",
        &["--time=2", "--threads=2", "--rand-type=uniform"],
    );
    assert!(out.contains("transactions:"), "{out}");
    let out = sysbench(
        "ours",
        "oltp_read_write",
        "run",
        &["--time=1", "--threads=2"],
    );
    assert!(out.contains("transactions:"), "{out}");

    // tornbench on sysbench's data.
    for workload in Workload::ALL {
        let mut config = BenchConfig::new(&server.connection_string("theirs"), workload);
        config.tables = TABLES;
        config.table_size = SIZE;
        config.clients = 2;
        config.duration = std::time::Duration::from_secs(1);
        let result = bench::run(&config, &Quiet).expect("tornbench bench on sysbench's data");
        assert!(result.transactions > 0, "{workload}: {result:?}");
    }
}
