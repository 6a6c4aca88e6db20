//! `tornbench prepare`: the sysbench schema and rows on any server, with a progress bar (rows/s) on a
//! terminal; or `--drop` to remove the tables.

use crate::options::PrepareCommandOptions;
use crate::workload::{self, PrepareProgress};
use anyhow::Result;
use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;

/// Runs `tornbench prepare`.
pub fn run(opts: &PrepareCommandOptions) -> Result<()> {
    let load = &opts.load;
    if opts.drop_only {
        workload::drop_tables(&load.conn, load.tables, load.connect_timeout)?;
        eprintln!("dropped sbtest1..{}", load.tables);
        return Ok(());
    }
    let total = u64::from(load.tables) * u64::from(load.table_size);
    let bar = Bar::new(total);
    eprintln!(
        "loading {} tables x {} rows ({} at a time)",
        load.tables, load.table_size, load.jobs
    );
    let stats = workload::prepare(load, &bar);
    bar.0.finish_and_clear();
    let stats = stats?;
    println!(
        "prepared {} tables x {} rows in {:.2} s (data {:.2} s, {:.0} rows/s overall)",
        stats.tables,
        stats.table_size,
        stats.secs,
        stats.copy_secs,
        stats.rows as f64 / stats.secs
    );
    Ok(())
}

/// A rows/s progress bar (hidden when stderr is not a terminal).
struct Bar(ProgressBar);

impl Bar {
    fn new(total: u64) -> Bar {
        let bar = if std::io::stderr().is_terminal() {
            ProgressBar::new(total)
        } else {
            ProgressBar::hidden()
        };
        bar.set_style(
            ProgressStyle::with_template(
                "[{elapsed_precise}] {bar:40} {human_pos}/{human_len} rows ({per_sec}) {msg}",
            )
            .expect("valid template"),
        );
        Bar(bar)
    }
}

impl PrepareProgress for Bar {
    fn rows(&self, rows: u64, _total: u64) {
        self.0.set_position(rows);
    }

    fn table_done(&self, n: u32) {
        self.0.set_message(format!("sbtest{n} indexed"));
    }
}
