//! Snapshots of the server's cumulative statistics (`pg_stat_wal`, `pg_stat_checkpointer`, `pg_stat_io`,
//! `pg_stat_database`, and the double-write counters when the build has them), and their differences over
//! a measured window.

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use tokio_postgres::Client;

/// Numeric columns of one statistics row, by column name.
pub type Counters = BTreeMap<String, f64>;

/// The server's cumulative counters at one instant.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ServerSnapshot {
    /// `pg_stat_wal`: wal_records, wal_fpi, wal_bytes, wal_buffers_full.
    pub wal: Counters,
    /// `pg_stat_checkpointer`: num_timed, num_requested, buffers_written, write_time, sync_time, ...
    pub checkpointer: Counters,
    /// `pg_stat_io` summed per backend type: reads, writes, fsyncs, write_bytes, ...
    pub io: BTreeMap<String, Counters>,
    /// `pg_stat_database` of the benchmark database: xact_commit, xact_rollback, blks_read, blks_hit, ...
    pub database: Counters,
    /// The double-write counters (`pg_stat_double_write`), when the build has them.
    pub double_write: Option<Counters>,
}

/// Reads every statistic of [`ServerSnapshot`]. Statistics are cumulative, so the snapshot taken right after a
/// measured window minus the one right before it is what the window cost.
pub async fn snapshot(client: &Client) -> Result<ServerSnapshot> {
    // Statistics are read as of the start of a transaction unless the snapshot is cleared.
    client
        .batch_execute("SELECT pg_stat_clear_snapshot()")
        .await
        .context("clearing the statistics snapshot")?;
    let wal = row_counters(client, "SELECT row_to_json(s)::text FROM pg_stat_wal s").await?;
    let checkpointer = row_counters(
        client,
        "SELECT row_to_json(s)::text FROM pg_stat_checkpointer s",
    )
    .await?;
    let database = row_counters(
        client,
        "SELECT row_to_json(s)::text FROM pg_stat_database s WHERE datname = current_database()",
    )
    .await?;
    let mut io = BTreeMap::new();
    let rows = client
        .query(
            "SELECT backend_type, row_to_json(t)::text FROM ( \
               SELECT backend_type, sum(reads) AS reads, sum(writes) AS writes, sum(extends) AS extends, \
                      sum(fsyncs) AS fsyncs, sum(read_bytes) AS read_bytes, sum(write_bytes) AS write_bytes, \
                      sum(write_time) AS write_time, sum(fsync_time) AS fsync_time \
               FROM pg_stat_io GROUP BY backend_type) t",
            &[],
        )
        .await
        .context("reading pg_stat_io")?;
    for row in rows {
        let backend: String = row.get(0);
        let json: String = row.get(1);
        io.insert(backend, numeric_fields(&json)?);
    }
    // The view alone is not enough: a stock server opening a data directory made by the patched build
    // sees the view, but has no function behind it. The setting says what the server binary knows.
    let has_dw: bool = client
        .query_one(
            "SELECT to_regclass('pg_catalog.pg_stat_double_write') IS NOT NULL \
             AND current_setting('double_write', true) IS NOT NULL",
            &[],
        )
        .await
        .context("looking for pg_stat_double_write")?
        .get(0);
    let double_write = if has_dw {
        Some(
            row_counters(
                client,
                "SELECT row_to_json(s)::text FROM pg_stat_double_write s",
            )
            .await?,
        )
    } else {
        None
    };
    Ok(ServerSnapshot {
        wal,
        checkpointer,
        io,
        database,
        double_write,
    })
}

async fn row_counters(client: &Client, sql: &str) -> Result<Counters> {
    let row = client
        .query_one(sql, &[])
        .await
        .with_context(|| format!("running `{sql}`"))?;
    numeric_fields(&row.get::<_, String>(0))
}

/// The numeric fields of a JSON object (timestamps and names are dropped).
pub fn numeric_fields(json: &str) -> Result<Counters> {
    let value: serde_json::Value =
        serde_json::from_str(json).context("parsing a statistics row")?;
    Ok(value
        .as_object()
        .map(|o| {
            o.iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_f64()?)))
                .collect()
        })
        .unwrap_or_default())
}

/// `after - before` for every counter of `after` (one missing before counts from 0: e.g. a backend type
/// that did its first I/O inside the window).
pub fn diff_counters(before: &Counters, after: &Counters) -> Counters {
    after
        .iter()
        .map(|(k, a)| (k.clone(), a - before.get(k).copied().unwrap_or(0.0)))
        .collect()
}

impl ServerSnapshot {
    /// What changed between `self` (before) and `after`.
    pub fn delta(&self, after: &ServerSnapshot) -> ServerSnapshot {
        ServerSnapshot {
            wal: diff_counters(&self.wal, &after.wal),
            checkpointer: diff_counters(&self.checkpointer, &after.checkpointer),
            io: after
                .io
                .iter()
                .map(|(k, a)| {
                    (
                        k.clone(),
                        diff_counters(self.io.get(k).unwrap_or(&Counters::new()), a),
                    )
                })
                .collect(),
            database: diff_counters(&self.database, &after.database),
            double_write: match (&self.double_write, &after.double_write) {
                (Some(b), Some(a)) => Some(diff_counters(b, a)),
                _ => None,
            },
        }
    }

    /// A WAL counter (0 if absent).
    pub fn wal(&self, key: &str) -> f64 {
        self.wal.get(key).copied().unwrap_or(0.0)
    }

    /// A checkpointer counter (0 if absent).
    pub fn checkpointer(&self, key: &str) -> f64 {
        self.checkpointer.get(key).copied().unwrap_or(0.0)
    }

    /// An I/O counter summed over every backend type.
    pub fn io_total(&self, key: &str) -> f64 {
        self.io.values().filter_map(|c| c.get(key)).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numeric_fields_drop_text_and_timestamps() {
        let c = numeric_fields(r#"{"wal_records": 10, "wal_bytes": "123", "wal_fpi": 2.5, "stats_reset": "2026-01-01"}"#)
            .unwrap();
        assert_eq!(c.len(), 2);
        assert_eq!(c["wal_records"], 10.0);
        assert_eq!(c["wal_fpi"], 2.5);
    }

    #[test]
    fn delta_subtracts_matching_counters() {
        let before = ServerSnapshot {
            wal: [("wal_bytes".to_string(), 100.0)].into(),
            io: [(
                "checkpointer".to_string(),
                [("writes".to_string(), 5.0)].into(),
            )]
            .into(),
            ..Default::default()
        };
        let after = ServerSnapshot {
            wal: [("wal_bytes".to_string(), 250.0)].into(),
            io: [
                (
                    "checkpointer".to_string(),
                    [("writes".to_string(), 9.0)].into(),
                ),
                (
                    "client backend".to_string(),
                    [("writes".to_string(), 3.0)].into(),
                ),
            ]
            .into(),
            ..Default::default()
        };
        let d = before.delta(&after);
        assert_eq!(d.wal("wal_bytes"), 150.0);
        assert_eq!(d.io_total("writes"), 7.0);
        assert!(d.double_write.is_none());
    }
}
