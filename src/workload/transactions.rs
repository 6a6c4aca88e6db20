//! The statements of sysbench 1.0's `oltp_read_write` and `oltp_write_only`, prepared once per connection
//! for every table, and one transaction of either mix, drawn exactly as sysbench draws it: every statement
//! group (the point selects, each range kind, each update, the delete+insert pair) picks its own table
//! uniformly, and every id comes from the chosen distribution.
//!
//! `read_write`: BEGIN, 10 point selects, simple / sum / order / distinct range (100 ids each), index
//! update, non-index update, delete and insert of the same id, COMMIT (20 statements). `write_only`:
//! BEGIN, the two updates, delete, insert, COMMIT (6). Errors that sysbench ignores (SQLSTATE 40P01
//! deadlock, 40001 serialization failure, 23505 unique violation) roll the transaction back and are
//! returned as [`Outcome::Ignored`]; anything else, and a statement that does not answer in time, is a
//! [`TxnError`].

use super::random::{fill_digit_groups, seeded_rng, uniform, IdGenerator, C_LEN, PAD_LEN};
use super::{Distribution, Workload};
use futures_util::future::try_join_all;
use rand::rngs::SmallRng;
use serde::{Deserialize, Serialize};
use std::time::Duration;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, Statement};

/// sysbench's `--range-size`.
pub const RANGE_SIZE: u32 = 100;
/// sysbench's `--point-selects`.
pub const POINT_SELECTS: u32 = 10;

/// One statement kind of sysbench's `stmt_defs`, with its SQL for table `sbtest{n}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatementKind {
    /// `SELECT c FROM sbtestN WHERE id=$1`.
    PointSelect,
    /// `SELECT c ... WHERE id BETWEEN $1 AND $2`.
    SimpleRange,
    /// `SELECT SUM(k) ... BETWEEN`.
    SumRange,
    /// `SELECT c ... BETWEEN ... ORDER BY c`.
    OrderRange,
    /// `SELECT DISTINCT c ... BETWEEN ... ORDER BY c`.
    DistinctRange,
    /// `UPDATE sbtestN SET k=k+1 WHERE id=$1`.
    IndexUpdate,
    /// `UPDATE sbtestN SET c=$1 WHERE id=$2`.
    NonIndexUpdate,
    /// `DELETE FROM sbtestN WHERE id=$1`.
    Delete,
    /// `INSERT INTO sbtestN (id, k, c, pad) VALUES ($1,$2,$3,$4)`.
    Insert,
}

impl StatementKind {
    /// The statements a workload prepares, in sysbench's order.
    pub fn for_workload(workload: Workload) -> &'static [StatementKind] {
        use StatementKind::*;
        match workload {
            Workload::ReadWrite => &[
                PointSelect,
                SimpleRange,
                SumRange,
                OrderRange,
                DistinctRange,
                IndexUpdate,
                NonIndexUpdate,
                Delete,
                Insert,
            ],
            Workload::WriteOnly => &[IndexUpdate, NonIndexUpdate, Delete, Insert],
        }
    }

    /// The SQL for table `sbtest{n}`.
    pub fn sql(self, n: u32) -> String {
        use StatementKind::*;
        match self {
            PointSelect => format!("SELECT c FROM sbtest{n} WHERE id=$1"),
            SimpleRange => format!("SELECT c FROM sbtest{n} WHERE id BETWEEN $1 AND $2"),
            SumRange => format!("SELECT SUM(k) FROM sbtest{n} WHERE id BETWEEN $1 AND $2"),
            OrderRange => format!("SELECT c FROM sbtest{n} WHERE id BETWEEN $1 AND $2 ORDER BY c"),
            DistinctRange => {
                format!("SELECT DISTINCT c FROM sbtest{n} WHERE id BETWEEN $1 AND $2 ORDER BY c")
            }
            IndexUpdate => format!("UPDATE sbtest{n} SET k=k+1 WHERE id=$1"),
            NonIndexUpdate => format!("UPDATE sbtest{n} SET c=$1 WHERE id=$2"),
            Delete => format!("DELETE FROM sbtest{n} WHERE id=$1"),
            Insert => format!("INSERT INTO sbtest{n} (id, k, c, pad) VALUES ($1,$2,$3,$4)"),
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// An error sysbench counts as "ignored": the transaction is rolled back and the client goes on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IgnoredError {
    /// SQLSTATE 40P01.
    Deadlock,
    /// SQLSTATE 40001.
    SerializationFailure,
    /// SQLSTATE 23505 (the delete+insert race on one id).
    UniqueViolation,
}

impl IgnoredError {
    /// The kind of `e`, if sysbench would ignore it.
    pub fn classify(e: &tokio_postgres::Error) -> Option<IgnoredError> {
        let code = e.code()?;
        if *code == SqlState::T_R_DEADLOCK_DETECTED {
            Some(IgnoredError::Deadlock)
        } else if *code == SqlState::T_R_SERIALIZATION_FAILURE {
            Some(IgnoredError::SerializationFailure)
        } else if *code == SqlState::UNIQUE_VIOLATION {
            Some(IgnoredError::UniqueViolation)
        } else {
            None
        }
    }
}

/// How a transaction ended, when the run can go on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// COMMIT succeeded.
    Committed,
    /// An ignored error; the transaction was rolled back.
    Ignored(IgnoredError),
}

/// A failure that ends the run.
#[derive(Debug, thiserror::Error)]
pub enum TxnError {
    /// The server did not answer a statement within the statement timeout.
    #[error("the server did not answer `{statement}` within {timeout:?} (statement timeout)")]
    Timeout {
        /// The statement.
        statement: String,
        /// The timeout.
        timeout: Duration,
    },
    /// The connection broke (the server stopped, crashed, or the network failed).
    #[error("lost the connection to the server during `{statement}`: {source}")]
    ConnectionLost {
        /// The statement.
        statement: String,
        /// What tokio-postgres reported.
        source: tokio_postgres::Error,
    },
    /// A database error that sysbench does not ignore.
    #[error("`{statement}` failed: {source}")]
    Sql {
        /// The statement.
        statement: String,
        /// The server's error.
        #[source]
        source: tokio_postgres::Error,
    },
}

/// Statements executed, as sysbench counts them (reads, writes, other = BEGIN/COMMIT/ROLLBACK).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatementCounts {
    /// SELECTs.
    pub reads: u64,
    /// UPDATE, DELETE, INSERT.
    pub writes: u64,
    /// BEGIN, COMMIT, ROLLBACK.
    pub other: u64,
}

impl StatementCounts {
    /// Every statement (QPS counts these).
    pub fn total(&self) -> u64 {
        self.reads + self.writes + self.other
    }

    /// Adds `other` to `self`.
    pub fn add(&mut self, other: &StatementCounts) {
        self.reads += other.reads;
        self.writes += other.writes;
        self.other += other.other;
    }
}

/// The parameters of a run that decide what each transaction does.
#[derive(Debug, Clone, Copy)]
pub struct TxnSpec {
    /// The mix.
    pub workload: Workload,
    /// Tables `sbtest1..N`.
    pub tables: u32,
    /// Rows per table (ids are drawn in `1..=table_size`).
    pub table_size: u32,
    /// How ids are drawn.
    pub distribution: Distribution,
    /// How long one statement may take before the run fails.
    pub statement_timeout: Duration,
}

/// One client's prepared statements and random state: runs transactions one after the other.
pub struct TxnRunner {
    spec: TxnSpec,
    ids: IdGenerator,
    rng: SmallRng,
    begin: Statement,
    commit: Statement,
    /// `statements[table - 1][kind]`.
    statements: Vec<Vec<Option<Statement>>>,
    c: [u8; C_LEN],
    pad: [u8; PAD_LEN],
    /// Statements of the current transaction so far.
    pub counts: StatementCounts,
}

type Params<'a> = [&'a (dyn ToSql + Sync)];

/// A statement failure before it is classified.
enum Failure {
    Db(&'static str, u32, tokio_postgres::Error),
    Timeout(&'static str, u32),
}

impl TxnRunner {
    /// Prepares every statement of `spec.workload` on every table, pipelined on `client`; the random
    /// stream is `(seed, client_index)`.
    pub async fn prepare(
        client: &Client,
        spec: TxnSpec,
        seed: u64,
        client_index: u64,
    ) -> Result<TxnRunner, tokio_postgres::Error> {
        let kinds = StatementKind::for_workload(spec.workload);
        let (begin, commit) = tokio::try_join!(client.prepare("BEGIN"), client.prepare("COMMIT"))?;
        let mut statements = Vec::with_capacity(spec.tables as usize);
        for n in 1..=spec.tables {
            let sql: Vec<String> = kinds.iter().map(|k| k.sql(n)).collect();
            let prepared = try_join_all(sql.iter().map(|s| client.prepare(s))).await?;
            let mut row = vec![None; 9];
            for (kind, stmt) in kinds.iter().zip(prepared) {
                row[kind.index()] = Some(stmt);
            }
            statements.push(row);
        }
        Ok(TxnRunner {
            spec,
            ids: IdGenerator::new(spec.distribution),
            rng: seeded_rng(seed, client_index),
            begin,
            commit,
            statements,
            c: [0; C_LEN],
            pad: [0; PAD_LEN],
            counts: StatementCounts::default(),
        })
    }

    /// Runs one transaction; on an ignored error rolls back and says which.
    pub async fn run(&mut self, client: &Client) -> Result<Outcome, TxnError> {
        self.counts = StatementCounts::default();
        match self.body(client).await {
            Ok(()) => Ok(Outcome::Committed),
            Err(Failure::Db(name, table, e)) => match IgnoredError::classify(&e) {
                Some(kind) => {
                    self.rollback(client).await?;
                    Ok(Outcome::Ignored(kind))
                }
                None => Err(self.fatal(Failure::Db(name, table, e))),
            },
            Err(f) => Err(self.fatal(f)),
        }
    }

    fn fatal(&self, failure: Failure) -> TxnError {
        let describe = |name: &str, table: u32| {
            if table == 0 {
                name.to_string()
            } else {
                format!("{name} on sbtest{table}")
            }
        };
        match failure {
            Failure::Timeout(name, table) => TxnError::Timeout {
                statement: describe(name, table),
                timeout: self.spec.statement_timeout,
            },
            Failure::Db(name, table, e) if e.is_closed() || e.code().is_none() => {
                TxnError::ConnectionLost {
                    statement: describe(name, table),
                    source: e,
                }
            }
            Failure::Db(name, table, e) => TxnError::Sql {
                statement: describe(name, table),
                source: e,
            },
        }
    }

    async fn rollback(&mut self, client: &Client) -> Result<(), TxnError> {
        self.counts.other += 1;
        match tokio::time::timeout(
            self.spec.statement_timeout,
            client.batch_execute("ROLLBACK"),
        )
        .await
        {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(self.fatal(Failure::Db("ROLLBACK", 0, e))),
            Err(_) => Err(self.fatal(Failure::Timeout("ROLLBACK", 0))),
        }
    }

    async fn exec(
        &self,
        client: &Client,
        stmt: &Statement,
        params: &Params<'_>,
        name: &'static str,
        table: u32,
    ) -> Result<(), Failure> {
        match tokio::time::timeout(self.spec.statement_timeout, client.execute(stmt, params)).await
        {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(Failure::Db(name, table, e)),
            Err(_) => Err(Failure::Timeout(name, table)),
        }
    }

    fn table(&mut self) -> u32 {
        uniform(&mut self.rng, 1, self.spec.tables)
    }

    fn id(&mut self) -> i32 {
        self.ids.draw(&mut self.rng, 1, self.spec.table_size) as i32
    }

    fn stmt(&self, table: u32, kind: StatementKind) -> Statement {
        // Statement is an Arc inside: cloning is a reference count, and frees `self` for the RNG.
        self.statements[table as usize - 1][kind.index()]
            .clone()
            .expect("statement prepared for this workload")
    }

    async fn body(&mut self, client: &Client) -> Result<(), Failure> {
        use StatementKind::*;
        let begin = self.begin.clone();
        self.counts.other += 1;
        self.exec(client, &begin, &[], "BEGIN", 0).await?;
        if self.spec.workload == Workload::ReadWrite {
            let t = self.table();
            let stmt = self.stmt(t, PointSelect);
            for _ in 0..POINT_SELECTS {
                let id = self.id();
                self.counts.reads += 1;
                self.exec(client, &stmt, &[&id], "point select", t).await?;
            }
            for (kind, name) in [
                (SimpleRange, "simple range"),
                (SumRange, "sum range"),
                (OrderRange, "order range"),
                (DistinctRange, "distinct range"),
            ] {
                let t = self.table();
                let stmt = self.stmt(t, kind);
                let lo = self.id();
                let hi = lo + RANGE_SIZE as i32 - 1;
                self.counts.reads += 1;
                self.exec(client, &stmt, &[&lo, &hi], name, t).await?;
            }
        }
        let t = self.table();
        let stmt = self.stmt(t, IndexUpdate);
        let id = self.id();
        self.counts.writes += 1;
        self.exec(client, &stmt, &[&id], "index update", t).await?;

        let t = self.table();
        let stmt = self.stmt(t, NonIndexUpdate);
        fill_digit_groups(&mut self.rng, &mut self.c);
        let id = self.id();
        let c = std::str::from_utf8(&self.c).expect("ASCII digits");
        self.counts.writes += 1;
        self.exec(client, &stmt, &[&c, &id], "non-index update", t)
            .await?;

        let t = self.table();
        let (delete, insert) = (self.stmt(t, Delete), self.stmt(t, Insert));
        let id = self.id();
        let k = self.id();
        fill_digit_groups(&mut self.rng, &mut self.c);
        fill_digit_groups(&mut self.rng, &mut self.pad);
        self.counts.writes += 1;
        self.exec(client, &delete, &[&id], "delete", t).await?;
        let c = std::str::from_utf8(&self.c).expect("ASCII digits");
        let pad = std::str::from_utf8(&self.pad).expect("ASCII digits");
        self.counts.writes += 1;
        self.exec(client, &insert, &[&id, &k, &c, &pad], "insert", t)
            .await?;

        let commit = self.commit.clone();
        self.counts.other += 1;
        self.exec(client, &commit, &[], "COMMIT", 0).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statement_counts_match_sysbench_composition() {
        // Prepared kinds per table, plus BEGIN and COMMIT, executed with sysbench's repetition counts.
        let per_txn = |w: Workload| -> u32 {
            StatementKind::for_workload(w)
                .iter()
                .map(|k| {
                    if *k == StatementKind::PointSelect {
                        POINT_SELECTS
                    } else {
                        1
                    }
                })
                .sum::<u32>()
                + 2
        };
        for w in Workload::ALL {
            assert_eq!(per_txn(w), w.statements_per_transaction(), "{w}");
        }
    }

    #[test]
    fn sql_is_sysbench_sql() {
        assert_eq!(
            StatementKind::NonIndexUpdate.sql(4),
            "UPDATE sbtest4 SET c=$1 WHERE id=$2"
        );
        assert_eq!(
            StatementKind::DistinctRange.sql(1),
            "SELECT DISTINCT c FROM sbtest1 WHERE id BETWEEN $1 AND $2 ORDER BY c"
        );
    }
}
