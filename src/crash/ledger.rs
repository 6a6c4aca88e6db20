//! The ledger client: one connection that commits numbered rows `1, 2, 3, ...` into `tornbench_ledger` with
//! `synchronous_commit = on` and remembers the last number whose COMMIT returned. Whatever was acknowledged
//! must be there after crash recovery; a missing number is a lost acknowledged commit.

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use tokio::task::JoinHandle;
use tokio_postgres::{Client, NoTls};

/// The ledger's table.
pub const LEDGER_TABLE: &str = "tornbench_ledger";

/// Creates the (empty) ledger table.
pub fn create_sql() -> String {
    format!(
        "CREATE TABLE IF NOT EXISTS {LEDGER_TABLE} (n bigint PRIMARY KEY, at timestamptz NOT NULL DEFAULT now());
         TRUNCATE {LEDGER_TABLE};"
    )
}

/// A running ledger client.
pub struct Ledger {
    last_acked: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    task: JoinHandle<()>,
}

impl Ledger {
    /// Connects and starts committing on the runtime of `rt`; numbers start after what the table holds.
    pub fn start(rt: &tokio::runtime::Runtime, conn: &str) -> Result<Ledger> {
        let conn = conn.to_string();
        let client = rt
            .block_on(async move {
                let (client, connection) = tokio_postgres::connect(&conn, NoTls).await?;
                tokio::spawn(connection);
                client.batch_execute("SET synchronous_commit = on").await?;
                Ok::<Client, tokio_postgres::Error>(client)
            })
            .context("connecting the ledger client")?;
        let last_acked = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (acked, stopping) = (last_acked.clone(), stop.clone());
        let task = rt.spawn(async move {
            let Ok(insert) = client
                .prepare(&format!("INSERT INTO {LEDGER_TABLE} (n) VALUES ($1)"))
                .await
            else {
                return;
            };
            let mut n: i64 = 0;
            while !stopping.load(Ordering::SeqCst) {
                n += 1;
                // Autocommit: the INSERT's return is its COMMIT's acknowledgement.
                if client.execute(&insert, &[&n]).await.is_err() {
                    return;
                }
                acked.store(n as u64, Ordering::SeqCst);
            }
        });
        Ok(Ledger {
            last_acked,
            stop,
            task,
        })
    }

    /// The last acknowledged number so far.
    pub fn last_acked(&self) -> u64 {
        self.last_acked.load(Ordering::SeqCst)
    }

    /// Stops the client (it stops by itself when its server dies) and returns the last acknowledged number.
    pub fn finish(self, rt: &tokio::runtime::Runtime) -> u64 {
        self.stop.store(true, Ordering::SeqCst);
        let _ = rt.block_on(async {
            tokio::time::timeout(std::time::Duration::from_secs(10), self.task).await
        });
        self.last_acked.load(Ordering::SeqCst)
    }
}

/// What the ledger check found after recovery.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct LedgerCheck {
    /// Numbers `1..=acknowledged` were acknowledged before the crash.
    pub acknowledged: u64,
    /// Of those, present after recovery.
    pub present: u64,
}

impl LedgerCheck {
    /// Acknowledged commits that recovery lost.
    pub fn lost(&self) -> u64 {
        self.acknowledged.saturating_sub(self.present)
    }
}

/// Counts the acknowledged numbers still present.
pub async fn verify(client: &Client, acknowledged: u64) -> Result<LedgerCheck> {
    let row = client
        .query_one(
            &format!("SELECT count(*) FROM {LEDGER_TABLE} WHERE n BETWEEN 1 AND $1"),
            &[&(acknowledged as i64)],
        )
        .await
        .with_context(|| format!("counting the ledger rows 1..={acknowledged}"))?;
    Ok(LedgerCheck {
        acknowledged,
        present: row.get::<_, i64>(0) as u64,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lost_commits_are_the_missing_acknowledged_ones() {
        let c = LedgerCheck {
            acknowledged: 10,
            present: 7,
        };
        assert_eq!(c.lost(), 3);
        let ok = LedgerCheck {
            acknowledged: 0,
            present: 0,
        };
        assert_eq!(ok.lost(), 0);
        assert!(create_sql().contains("PRIMARY KEY"));
    }
}
