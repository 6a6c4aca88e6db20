//! End to end: the torn-write shim tears a real checkpoint write of a real server, kills the whole server at
//! once, and the bytes on disk prove the tear (issue 7's "prove each tear on disk").

mod common;

use common::{execute_in, install, query_one, server_writable_dir, try_execute_in, TestCluster};
use std::time::{Duration, Instant};
use tornbench::crash::injector::{Arm, Shim, TearPlan, PAGE_SIZE};
use tornbench::crash::tear::{checksum_ok, TearRecord};
use tornbench::postgres::cluster::StopMode;

fn shim() -> Shim {
    let cache = std::env::var_os("TORNBENCH_CACHE_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(tornbench::paths::default_cache_dir);
    Shim::build(&cache).expect("building the shim")
}

#[test]
fn a_checkpoint_write_is_torn_proven_and_the_server_is_gone() {
    let tc = TestCluster::new();
    let arm = Arm::in_dir(&server_writable_dir(tc.dir.path(), "arm"));
    let config = tc.config("fpw_off", &[]);
    let log = tc.dir.path().join("torn.log");
    let mut server = tc
        .cluster
        .start_with_env(
            &config,
            &log,
            Duration::from_secs(60),
            &shim().server_env(&arm),
        )
        .expect("start with the shim");
    try_execute_in(
        &server,
        "postgres",
        "CREATE TABLE t(id int primary key, v text);
         INSERT INTO t SELECT g, repeat('a', 100) FROM generate_series(1, 20000) g;
         CHECKPOINT;
         UPDATE t SET v = repeat('b', 100) WHERE id % 3 = 0;",
    )
    .expect("load");
    assert_eq!(query_one(&server, "SELECT count(*)::text FROM t"), "20000");
    arm.arm(TearPlan {
        prefix: 512,
        skip: 5,
        pick: 0,
    })
    .unwrap();
    let server_tree = tornbench::shutdown::process_tree(server.pid());
    assert!(
        server_tree.len() > 3,
        "postmaster and its children: {server_tree:?}"
    );
    let err = try_execute_in(&server, "postgres", "CHECKPOINT")
        .expect_err("the checkpoint never completes");
    eprintln!("CHECKPOINT: {err}");
    let deadline = Instant::now() + Duration::from_secs(20);
    while server.is_running() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(!server.is_running(), "the shim killed the postmaster");
    server.stop(StopMode::Crash).unwrap();
    assert!(
        tornbench::shutdown::wait_all_gone(&server_tree, Duration::from_secs(10)),
        "no server process survives the tear"
    );

    let record = TearRecord::read(&arm.record_path()).expect("the shim's record");
    assert!(record.path.starts_with(tc.cluster.data_dir().join("base")));
    assert!(
        record.process.contains("checkpointer"),
        "{}",
        record.process
    );
    let proof = record.prove().unwrap();
    eprintln!("{proof:?}");
    assert!(
        proof.intended_checksum_ok,
        "our checksum code agrees with PostgreSQL's"
    );
    assert!(
        proof.prefix_matches && proof.differing_sectors > 0,
        "a real tear"
    );
    assert!(
        !proof.on_disk_checksum_ok,
        "the torn block fails its checksum"
    );

    // Our checksum agrees with PostgreSQL's on every block of a cleanly stopped cluster.
    let tc2 = TestCluster::new();
    let s = tc2.start("fpw_on", &[]);
    execute_in(
        &s,
        "postgres",
        "CREATE TABLE u AS SELECT g FROM generate_series(1, 50000) g; CHECKPOINT;",
    );
    s.stop(StopMode::Fast).unwrap();
    let mut blocks = 0;
    for db in std::fs::read_dir(tc2.cluster.data_dir().join("base")).unwrap() {
        for f in std::fs::read_dir(db.unwrap().path()).unwrap() {
            let path = f.unwrap().path();
            let name = path.file_name().unwrap().to_str().unwrap().to_string();
            if !name.chars().all(|c| c.is_ascii_digit()) {
                continue;
            }
            let bytes = std::fs::read(&path).unwrap();
            for (i, block) in bytes.chunks(PAGE_SIZE).enumerate() {
                assert!(checksum_ok(block, i as u64), "{} block {i}", path.display());
                blocks += 1;
            }
        }
    }
    assert!(blocks > 200, "{blocks} blocks checked");
    let _ = install();
}
