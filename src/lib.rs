//! tornbench: is PostgreSQL's full-page writing or an InnoDB-style double-write buffer the better defence
//! against torn pages? The library holds all logic; `main.rs` only parses and reports errors.

pub mod bench;
pub mod cli;
pub mod commands;
pub mod crash;
pub mod error;
pub mod experiment;
pub mod fsutil;
pub mod machine;
pub mod options;
pub mod paths;
pub mod postgres;
pub mod profile;
pub mod progress;
pub mod report;
pub mod results;
pub mod shutdown;
pub mod stats;
pub mod workload;

use anyhow::Result;
use options::Command;

/// Runs one command to completion.
pub fn run(command: Command) -> Result<()> {
    match command {
        Command::Build(o) => commands::build::run(&o),
        Command::Run(o) => commands::run::run(&o),
        Command::Server(o) => commands::server::run(&o),
        Command::CrashTest(o) => commands::crash_test::run(&o),
        Command::Prepare(o) => commands::prepare::run(&o),
        Command::Bench(o) => commands::bench::run(&o),
        Command::Report(o) => commands::report::run(&o),
    }
}
