//! The loader behind `tornbench prepare` and the orchestrator's load step: creates `sbtest1..N`, streams
//! sysbench-shaped rows in with `COPY ... FREEZE` over several connections at once (one table per
//! connection at a time), then per table builds the primary key and `k_N`, moves the id sequence, and
//! runs `ANALYZE`.
//!
//! ```no_run
//! # use tornbench::workload::{prepare, PrepareOptions, NoProgress};
//! let stats = prepare(&PrepareOptions::new("host=127.0.0.1 port=5432 user=postgres dbname=postgres", 10, 200_000), &NoProgress)?;
//! println!("{} rows in {:.1} s", stats.rows, stats.secs);
//! # anyhow::Ok(())
//! ```

use super::random::{fill_digit_groups, seeded_rng, uniform, C_LEN, PAD_LEN};
use super::{pg_config, schema};
use anyhow::{Context, Result};
use bytes::BytesMut;
use futures_util::SinkExt;
use serde::{Deserialize, Serialize};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio_postgres::NoTls;

/// Rows per COPY message (about 250 kB).
const ROWS_PER_CHUNK: u32 = 1_300;

/// What to load.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrepareOptions {
    /// A libpq-style connection string or `postgres://` URL.
    pub conn: String,
    /// Tables `sbtest1..N`.
    pub tables: u32,
    /// Rows per table.
    pub table_size: u32,
    /// Tables loaded at the same time (each over its own connection).
    pub jobs: u32,
    /// Drop `sbtest1..N` first if they exist.
    pub recreate: bool,
    /// Seed of the row values.
    pub seed: u64,
    /// How long a connection attempt may take.
    pub connect_timeout: Duration,
}

impl PrepareOptions {
    /// Defaults for everything but the server and the size: recreate, as many jobs as CPUs (at most the
    /// table count), seed 1, 10 s connect timeout.
    pub fn new(conn: &str, tables: u32, table_size: u32) -> PrepareOptions {
        PrepareOptions {
            conn: conn.to_string(),
            tables,
            table_size,
            jobs: default_jobs(tables),
            recreate: true,
            seed: 1,
            connect_timeout: Duration::from_secs(10),
        }
    }
}

/// Parallel loads by default: one per CPU, at least 2 (the server works while the client generates), at
/// most one per table.
pub fn default_jobs(tables: u32) -> u32 {
    let cpus = std::thread::available_parallelism()
        .map(|n| n.get() as u32)
        .unwrap_or(2);
    cpus.max(2).min(tables.max(1))
}

/// What a load did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PrepareStats {
    /// Tables loaded.
    pub tables: u32,
    /// Rows per table.
    pub table_size: u32,
    /// Rows in all.
    pub rows: u64,
    /// Seconds from the first statement to the last ANALYZE.
    pub secs: f64,
    /// Seconds until the last COPY had finished (data only).
    pub copy_secs: f64,
}

/// Receives progress while a load runs (called from several tasks).
pub trait PrepareProgress: Sync {
    /// `rows` more rows were sent to the server (out of `total`).
    fn rows(&self, _rows: u64, _total: u64) {}
    /// Table `n` has its data, indexes and statistics.
    fn table_done(&self, _n: u32) {}
}

/// A [`PrepareProgress`] that shows nothing.
pub struct NoProgress;
impl PrepareProgress for NoProgress {}

/// Loads the schema and rows, blocking; starts its own runtime.
pub fn prepare(opts: &PrepareOptions, progress: &dyn PrepareProgress) -> Result<PrepareStats> {
    runtime(opts.jobs as usize)?.block_on(prepare_async(opts, progress))
}

/// Drops `sbtest1..N` (for a clean rerun), blocking.
pub fn drop_tables(conn: &str, tables: u32, connect_timeout: Duration) -> Result<()> {
    runtime(1)?.block_on(async {
        let client = connect(conn, connect_timeout).await?;
        drop_all(&client, tables).await
    })
}

fn runtime(threads: usize) -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads.clamp(1, 8))
        .enable_all()
        .build()
        .context("starting the tokio runtime")
}

/// Loads the schema and rows on the caller's runtime.
pub async fn prepare_async(
    opts: &PrepareOptions,
    progress: &dyn PrepareProgress,
) -> Result<PrepareStats> {
    let started = Instant::now();
    if opts.recreate {
        let client = connect(&opts.conn, opts.connect_timeout).await?;
        drop_all(&client, opts.tables).await?;
    }
    let next = AtomicU32::new(1);
    let sent = AtomicU64::new(0);
    let copy_done_us = AtomicU64::new(0);
    let total = u64::from(opts.tables) * u64::from(opts.table_size);
    let ctx = LoadContext {
        opts,
        progress,
        next: &next,
        sent: &sent,
        total,
        started,
        copy_done_us: &copy_done_us,
    };
    let workers = (0..opts.jobs.clamp(1, opts.tables.max(1))).map(|_| ctx.worker());
    futures_util::future::try_join_all(workers).await?;
    Ok(PrepareStats {
        tables: opts.tables,
        table_size: opts.table_size,
        rows: total,
        secs: started.elapsed().as_secs_f64(),
        copy_secs: copy_done_us.load(Ordering::Relaxed) as f64 / 1e6,
    })
}

async fn connect(conn: &str, timeout: Duration) -> Result<tokio_postgres::Client> {
    let config = pg_config(conn, timeout)?;
    let (client, connection) = tokio::time::timeout(timeout, config.connect(NoTls))
        .await
        .map_err(|_| anyhow::anyhow!("connecting to `{conn}`: no answer within {timeout:?}"))?
        .with_context(|| format!("connecting to `{conn}`"))?;
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::debug!("loader connection ended: {e}");
        }
    });
    Ok(client)
}

async fn drop_all(client: &tokio_postgres::Client, tables: u32) -> Result<()> {
    for n in 1..=tables {
        let sql = schema::drop_table_sql(n);
        client
            .batch_execute(&sql)
            .await
            .with_context(|| format!("`{sql}`"))?;
    }
    Ok(())
}

struct LoadContext<'a> {
    opts: &'a PrepareOptions,
    progress: &'a dyn PrepareProgress,
    next: &'a AtomicU32,
    sent: &'a AtomicU64,
    total: u64,
    started: Instant,
    copy_done_us: &'a AtomicU64,
}

impl LoadContext<'_> {
    /// One connection that loads tables until none is left.
    async fn worker(&self) -> Result<()> {
        let client = connect(&self.opts.conn, self.opts.connect_timeout).await?;
        loop {
            let n = self.next.fetch_add(1, Ordering::Relaxed);
            if n > self.opts.tables {
                return Ok(());
            }
            self.load_table(&client, n)
                .await
                .with_context(|| format!("loading {}", schema::table_name(n)))?;
            self.progress.table_done(n);
        }
    }

    async fn load_table(&self, client: &tokio_postgres::Client, n: u32) -> Result<()> {
        let size = self.opts.table_size;
        // CREATE and COPY in one transaction: COPY FREEZE writes the rows frozen, and with
        // wal_level=minimal without WAL.
        client.batch_execute("BEGIN").await?;
        let sql = schema::create_table_sql(n);
        client
            .batch_execute(&sql)
            .await
            .with_context(|| format!("`{sql}`"))?;
        let sink = client
            .copy_in::<_, bytes::Bytes>(&schema::copy_sql(n))
            .await
            .context("starting COPY")?;
        futures_util::pin_mut!(sink);
        let mut rng = seeded_rng(self.opts.seed, u64::from(n));
        let mut buf = BytesMut::with_capacity(ROWS_PER_CHUNK as usize * 200);
        let mut id = 1;
        while id <= size {
            let end = (id + ROWS_PER_CHUNK - 1).min(size);
            for row in id..=end {
                write_row(&mut buf, row, uniform(&mut rng, 1, size), &mut rng);
            }
            sink.send(buf.split().freeze()).await.context("COPY")?;
            let rows = u64::from(end - id + 1);
            let sent = self.sent.fetch_add(rows, Ordering::Relaxed) + rows;
            self.progress.rows(sent, self.total);
            id = end + 1;
        }
        sink.finish().await.context("finishing COPY")?;
        client.batch_execute("COMMIT").await?;
        self.copy_done_us
            .fetch_max(self.started.elapsed().as_micros() as u64, Ordering::Relaxed);
        let mut after = vec![schema::primary_key_sql(n), schema::secondary_index_sql(n)];
        after.extend(schema::sequence_sql(n, size));
        after.push(format!("ANALYZE {}", schema::table_name(n)));
        for sql in after {
            client
                .batch_execute(&sql)
                .await
                .with_context(|| format!("`{sql}`"))?;
        }
        Ok(())
    }
}

/// One row in COPY text format: `id \t k \t c \t pad \n`.
fn write_row(buf: &mut BytesMut, id: u32, k: u32, rng: &mut rand::rngs::SmallRng) {
    let mut line = [0u8; 10 + 1 + 10 + 1 + C_LEN + 1 + PAD_LEN + 1];
    let mut at = write_u32(&mut line, 0, id);
    line[at] = b'\t';
    at = write_u32(&mut line, at + 1, k);
    line[at] = b'\t';
    at += 1;
    fill_digit_groups(rng, &mut line[at..at + C_LEN]);
    at += C_LEN;
    line[at] = b'\t';
    at += 1;
    fill_digit_groups(rng, &mut line[at..at + PAD_LEN]);
    at += PAD_LEN;
    line[at] = b'\n';
    buf.extend_from_slice(&line[..=at]);
}

/// Writes `v` in decimal at `buf[at..]`; returns the index after it.
fn write_u32(buf: &mut [u8], at: usize, mut v: u32) -> usize {
    let mut digits = [0u8; 10];
    let mut len = 0;
    loop {
        digits[len] = b'0' + (v % 10) as u8;
        len += 1;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    for i in 0..len {
        buf[at + i] = digits[len - 1 - i];
    }
    at + len
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_copy_text_with_sysbench_shapes() {
        let mut rng = seeded_rng(1, 1);
        let mut buf = BytesMut::new();
        write_row(&mut buf, 42, 4_294_967_295, &mut rng);
        write_row(&mut buf, 0, 7, &mut rng);
        let text = std::str::from_utf8(&buf).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2);
        let fields: Vec<&str> = lines[0].split('\t').collect();
        assert_eq!(fields[..2], ["42", "4294967295"]);
        assert_eq!(fields[2].len(), C_LEN);
        assert_eq!(fields[3].len(), PAD_LEN);
        assert!(lines[1].starts_with("0\t7\t"));
    }

    #[test]
    fn jobs_never_exceed_tables() {
        assert_eq!(default_jobs(1), 1);
        assert!(default_jobs(10) >= 2);
    }
}
