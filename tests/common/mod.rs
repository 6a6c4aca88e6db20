//! Shared test helpers: the PostgreSQL installation the tests run against (built once through the tool's
//! own cache with the repository's patches, or `TORNBENCH_PG_BIN`), and servers in temporary directories
//! that the unprivileged server user can reach.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;
use tornbench::postgres::build::{build, default_patches_dir, BuildRequest};
use tornbench::postgres::cluster::{free_port, Cluster, Server};
use tornbench::postgres::config::ServerConfig;
use tornbench::postgres::install::PgInstall;
use tornbench::postgres::os_user::ServerUser;
use tornbench::profile::mode::builtin_modes;
use tornbench::profile::value::SettingValue;
use tornbench::profile::DEFAULT_CONFIGURE_FLAGS;

/// The installation under test: `TORNBENCH_PG_BIN` if set, else the cached build of the repository's
/// patches (built on first use; concurrent tests wait on the build cache's lock).
pub fn install() -> &'static PgInstall {
    static INSTALL: OnceLock<PgInstall> = OnceLock::new();
    INSTALL.get_or_init(|| {
        if let Some(bin) = std::env::var_os("TORNBENCH_PG_BIN") {
            return PgInstall::open(Path::new(&bin))
                .expect("TORNBENCH_PG_BIN is a PostgreSQL 18 bin directory");
        }
        let request = BuildRequest {
            source: None,
            configure_flags: DEFAULT_CONFIGURE_FLAGS
                .iter()
                .map(|s| s.to_string())
                .collect(),
            patches_dir: default_patches_dir(),
            cache_dir: std::env::var_os("TORNBENCH_CACHE_DIR")
                .map(PathBuf::from)
                .unwrap_or_else(tornbench::paths::default_cache_dir),
            force: false,
            jobs: std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(2),
        };
        build(&request)
            .expect("building PostgreSQL for the tests")
            .install
    })
}

/// The OS user servers run as in tests (created when the tests run as root).
pub fn server_user() -> Option<ServerUser> {
    ServerUser::for_this_process().expect("server user")
}

/// A temporary directory that the server user can traverse.
pub fn temp_dir() -> tempfile::TempDir {
    let dir = tempfile::Builder::new()
        .prefix("tornbench-test-")
        .tempdir()
        .expect("temp dir");
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755))
        .expect("chmod temp dir");
    dir
}

/// A fresh cluster in a temporary directory.
pub struct TestCluster {
    /// Removed when the test ends (after the server stops: field order matters).
    pub cluster: Cluster,
    /// Keeps the directory alive.
    pub dir: tempfile::TempDir,
}

impl TestCluster {
    /// initdb into a new temporary directory.
    pub fn new() -> TestCluster {
        let dir = temp_dir();
        let user = server_user();
        let cluster =
            Cluster::init(install(), &dir.path().join("data"), user.as_ref()).expect("initdb");
        TestCluster { cluster, dir }
    }

    /// The configuration of a built-in mode with small test settings plus `extra`.
    pub fn config(&self, mode: &str, extra: &[(&str, &str)]) -> ServerConfig {
        ServerConfig {
            port: free_port().expect("free port"),
            server: [
                ("shared_buffers".to_string(), SettingValue::from("128MB")),
                ("checkpoint_timeout".to_string(), SettingValue::from("30s")),
            ]
            .into(),
            mode: builtin_modes()[mode].clone(),
            max_clients: 20,
            build_has_double_write: install().has_double_write(),
            extra: extra
                .iter()
                .map(|(k, v)| (k.to_string(), SettingValue::from(*v)))
                .collect::<BTreeMap<_, _>>(),
        }
    }

    /// Starts a server in `mode`; its log goes next to the data directory.
    pub fn start(&self, mode: &str, extra: &[(&str, &str)]) -> Server {
        let log = self.dir.path().join(format!("{mode}.log"));
        self.cluster
            .start(&self.config(mode, extra), &log, Duration::from_secs(120))
            .expect("server start")
    }
}

/// Runs one SQL query through a blocking tokio-postgres client and returns the first column of the first
/// row as text.
pub fn query_one(server: &Server, sql: &str) -> String {
    let conn = server.connection_string("postgres");
    let sql = sql.to_string();
    block_on(async move {
        let client = connect(&conn).await.expect("connect");
        let row = client.query_one(sql.as_str(), &[]).await.expect("query");
        row.get::<_, String>(0)
    })
}

/// The `tornbench` binary built for these tests.
pub fn tornbench_bin() -> &'static str {
    env!("CARGO_BIN_EXE_tornbench")
}

/// Runs `sql` (one or more statements, simple protocol) in database `db`; panics on an error.
pub fn execute_in(server: &Server, db: &str, sql: &str) {
    try_execute_in(server, db, sql).unwrap_or_else(|e| panic!("{sql}: {e}"))
}

/// Runs `sql` (one or more statements, no result rows) in database `db`; returns the error text instead of
/// panicking, since crash tests expect some statements to lose their server.
pub fn try_execute_in(server: &Server, db: &str, sql: &str) -> Result<(), String> {
    let conn = server.connection_string(db);
    let sql = sql.to_string();
    block_on(async move {
        let client = connect(&conn).await.map_err(|e| e.to_string())?;
        client
            .batch_execute(&sql)
            .await
            .map_err(|e| format!("{e:?}"))
    })
}

/// Runs a query in database `db` and returns every row's columns as text (NULL as ""), each row joined
/// by `|`.
pub fn rows_in(server: &Server, db: &str, sql: &str) -> Vec<String> {
    let conn = server.connection_string(db);
    let sql = sql.to_string();
    block_on(async move {
        let client = connect(&conn).await.expect("connect");
        let rows = client
            .simple_query(&sql)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e:?}"));
        rows.iter()
            .filter_map(|m| match m {
                tokio_postgres::SimpleQueryMessage::Row(r) => Some(
                    (0..r.len())
                        .map(|i| r.get(i).unwrap_or("").to_string())
                        .collect::<Vec<_>>()
                        .join("|"),
                ),
                _ => None,
            })
            .collect()
    })
}

/// A client for the connection string `conn`, its connection driven by a background task (call inside
/// [`block_on`]).
async fn connect(conn: &str) -> Result<tokio_postgres::Client, tokio_postgres::Error> {
    let (client, connection) = tokio_postgres::connect(conn, tokio_postgres::NoTls).await?;
    tokio::spawn(connection);
    Ok(client)
}

/// Runs a future to completion on a fresh single-threaded runtime.
pub fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

/// Whether `sysbench` is on PATH; prints why a test part is skipped when it is not.
pub fn sysbench_available(test: &str) -> bool {
    let found = std::process::Command::new("sysbench")
        .arg("--version")
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !found {
        eprintln!("{test}: skipped the sysbench part: `sysbench` is not on PATH (CI installs it)");
    }
    found
}

/// sysbench's pgsql connection arguments for `db` on `server`.
pub fn sysbench_conn_args(server: &Server, db: &str) -> Vec<String> {
    vec![
        "--db-driver=pgsql".into(),
        "--pgsql-host=127.0.0.1".into(),
        format!("--pgsql-port={}", server.port()),
        format!("--pgsql-user={}", tornbench::postgres::cluster::SUPERUSER),
        format!("--pgsql-db={db}"),
    ]
}

/// A directory inside `parent` that the server user owns (for files the server writes, like the crash
/// test's tear record).
pub fn server_writable_dir(parent: &Path, name: &str) -> PathBuf {
    let dir = parent.join(name);
    std::fs::create_dir_all(&dir).expect("create dir");
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    if let Some(user) = server_user() {
        user.chown(&dir).expect("chown");
    }
    dir
}
