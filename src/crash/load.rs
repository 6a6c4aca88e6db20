//! The crash test's data and write load: the project's sysbench loader, and its `write_only` transactions
//! ([`TxnRunner`]) on a few clients that run until they are stopped or their server dies. The benchmark
//! driver runs for a fixed time and treats a lost server as a failure; here a lost server is the point,
//! so this file only adapts the transaction API to "run until the server is gone".

use crate::workload::transactions::{Outcome, TxnRunner, TxnSpec};
use crate::workload::{self, Distribution, NoProgress, PrepareOptions, Workload};
use anyhow::{Context, Result};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinHandle;
use tokio_postgres::NoTls;

/// How long one statement may take; a server that stops answering ends the client.
const STATEMENT_TIMEOUT: Duration = Duration::from_secs(30);

/// The size and shape of the load.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoadSpec {
    /// Tables `sbtest1..N`.
    pub tables: u32,
    /// Rows per table.
    pub table_size: u32,
    /// Concurrent clients.
    pub clients: u32,
    /// Seed of the data and of the clients' random streams.
    pub seed: u64,
    /// How row ids are drawn.
    pub distribution: Distribution,
}

/// Creates and loads `sbtest1..N` with the project's loader (`tornbench prepare`).
pub fn prepare(conn: &str, spec: LoadSpec) -> Result<()> {
    let opts = PrepareOptions {
        seed: spec.seed,
        ..PrepareOptions::new(conn, spec.tables, spec.table_size)
    };
    workload::prepare(&opts, &NoProgress).context("loading the sysbench tables")?;
    Ok(())
}

/// Clients running `write_only` transactions.
pub struct WriteLoad {
    stop: Arc<AtomicBool>,
    committed: Arc<AtomicU64>,
    tasks: Vec<JoinHandle<()>>,
}

impl WriteLoad {
    /// Connects `spec.clients` clients and starts them on `rt`.
    pub fn start(rt: &tokio::runtime::Runtime, conn: &str, spec: LoadSpec) -> Result<WriteLoad> {
        let stop = Arc::new(AtomicBool::new(false));
        let committed = Arc::new(AtomicU64::new(0));
        let mut tasks = Vec::new();
        let txn = TxnSpec {
            workload: Workload::WriteOnly,
            tables: spec.tables,
            table_size: spec.table_size,
            distribution: spec.distribution,
            statement_timeout: STATEMENT_TIMEOUT,
        };
        for i in 0..spec.clients {
            let (client, runner) = rt
                .block_on(async {
                    let (client, connection) = tokio_postgres::connect(conn, NoTls).await?;
                    tokio::spawn(connection);
                    let runner = TxnRunner::prepare(&client, txn, spec.seed, u64::from(i)).await?;
                    Ok::<_, tokio_postgres::Error>((client, runner))
                })
                .with_context(|| format!("connecting write_only client {i}"))?;
            let (stop, committed) = (stop.clone(), committed.clone());
            tasks.push(rt.spawn(async move {
                let mut runner = runner;
                while !stop.load(Ordering::SeqCst) {
                    match runner.run(&client).await {
                        Ok(Outcome::Committed) => {
                            committed.fetch_add(1, Ordering::Relaxed);
                        }
                        Ok(Outcome::Ignored(_)) => {}
                        // The server is gone (or broken): this client's work is done.
                        Err(_) => return,
                    }
                }
            }));
        }
        Ok(WriteLoad {
            stop,
            committed,
            tasks,
        })
    }

    /// Transactions committed so far.
    pub fn committed(&self) -> u64 {
        self.committed.load(Ordering::Relaxed)
    }

    /// Stops the clients (they stop by themselves once the server is gone); returns the commit count.
    pub fn finish(self, rt: &tokio::runtime::Runtime) -> u64 {
        self.stop.store(true, Ordering::SeqCst);
        for task in self.tasks {
            let _ = rt.block_on(async {
                tokio::time::timeout(std::time::Duration::from_secs(10), task).await
            });
        }
        self.committed.load(Ordering::Relaxed)
    }
}
