//! The `tornbench` binary: parse the command line, run, and report an error with its causes.

use clap::Parser;
use tornbench::cli::Cli;

fn main() {
    let cli = Cli::parse();
    init_logging(cli.verbose);
    tornbench::shutdown::install_handler();
    let result = cli.into_command().and_then(tornbench::run);
    if let Err(e) = result {
        eprintln!("Error: {e:#}");
        let code = if tornbench::shutdown::interrupted() {
            tornbench::shutdown::INTERRUPTED_EXIT_CODE
        } else {
            1
        };
        std::process::exit(code);
    }
}

fn init_logging(verbose: u8) {
    let default = match verbose {
        0 => "warn",
        1 => "tornbench=debug,warn",
        _ => "tornbench=trace,info",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}
