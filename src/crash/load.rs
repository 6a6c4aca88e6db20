//! The crash test's data and write load: the sysbench tables and `write_only` transactions running on a
//! few clients until the server dies. INTERIM: this file holds a minimal stand-in (same schema, same four
//! write statements per transaction) until the project's loader and driver (branch `load`) are merged;
//! then it only adapts their API to "run until the server is gone".

use anyhow::{Context, Result};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use tokio::task::JoinHandle;
use tokio_postgres::NoTls;

/// The size and shape of the load.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoadSpec {
    /// Tables `sbtest1..N`.
    pub tables: u32,
    /// Rows per table.
    pub table_size: u32,
    /// Concurrent clients.
    pub clients: u32,
    /// Seed of the clients' random streams.
    pub seed: u64,
}

/// Creates and fills `sbtest1..N` (sysbench's schema: id, k, c, pad; primary key and `k_N`).
pub fn prepare(rt: &tokio::runtime::Runtime, conn: &str, spec: LoadSpec) -> Result<()> {
    rt.block_on(async {
        let (client, connection) = tokio_postgres::connect(conn, NoTls)
            .await
            .context("connecting to load the sysbench tables")?;
        tokio::spawn(connection);
        for n in 1..=spec.tables {
            let sql = format!(
                "DROP TABLE IF EXISTS sbtest{n};
                 CREATE TABLE sbtest{n} (id integer NOT NULL, k integer NOT NULL DEFAULT 0,
                     c character(120) NOT NULL DEFAULT '', pad character(60) NOT NULL DEFAULT '');
                 INSERT INTO sbtest{n} (id, k, c, pad)
                     SELECT g, (random() * {size})::int, md5(g::text) || md5((g + 1)::text), md5((g + 2)::text)
                     FROM generate_series(1, {size}) g;
                 ALTER TABLE sbtest{n} ADD PRIMARY KEY (id);
                 CREATE INDEX k_{n} ON sbtest{n} (k);
                 ANALYZE sbtest{n};",
                size = spec.table_size
            );
            client
                .batch_execute(&sql)
                .await
                .with_context(|| format!("loading sbtest{n}"))?;
        }
        Ok(())
    })
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
        for i in 0..spec.clients {
            let client = rt
                .block_on(async {
                    let (client, connection) = tokio_postgres::connect(conn, NoTls).await?;
                    tokio::spawn(connection);
                    Ok::<_, tokio_postgres::Error>(client)
                })
                .with_context(|| format!("connecting load client {i}"))?;
            let (stop, committed) = (stop.clone(), committed.clone());
            let mut rng = spec
                .seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(i as u64 + 1);
            tasks.push(rt.spawn(async move {
                let mut next = move |bound: u32| {
                    rng ^= rng << 13;
                    rng ^= rng >> 7;
                    rng ^= rng << 17;
                    (rng % u64::from(bound)) as u32 + 1
                };
                while !stop.load(Ordering::SeqCst) {
                    let (t, id, id2, id3) = (
                        next(spec.tables),
                        next(spec.table_size),
                        next(spec.table_size),
                        next(spec.table_size),
                    );
                    let sql = format!(
                        "BEGIN;
                         UPDATE sbtest{t} SET k = k + 1 WHERE id = {id};
                         UPDATE sbtest{t} SET c = md5(random()::text) || md5(random()::text) WHERE id = {id2};
                         DELETE FROM sbtest{t} WHERE id = {id3};
                         INSERT INTO sbtest{t} (id, k, c, pad) VALUES ({id3}, {k}, md5(random()::text), md5(random()::text));
                         COMMIT;",
                        k = next(spec.table_size)
                    );
                    match client.batch_execute(&sql).await {
                        Ok(()) => {
                            committed.fetch_add(1, Ordering::Relaxed);
                        }
                        Err(e) if e.is_closed() || e.code().is_none() => return,
                        Err(_) => {
                            let _ = client.batch_execute("ROLLBACK").await;
                        }
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
