//! `tornbench bench`: sysbench's OLTP transactions against any server, a line per second on stderr, a
//! sysbench-like summary on stdout, and optionally the full result as JSON.

use crate::bench::{self, summary, Observer, SecondSample};
use crate::options::BenchOptions;
use anyhow::{Context, Result};

/// Runs `tornbench bench`.
pub fn run(opts: &BenchOptions) -> Result<()> {
    crate::shutdown::set_graceful(true);
    let live = Live {
        enabled: opts.live,
        clients: opts.config.clients,
    };
    let result = bench::run(&opts.config, &live)?;
    print!("{}", summary::render(&result));
    if let Some(path) = &opts.json {
        let json = serde_json::to_vec_pretty(&result)?;
        crate::fsutil::write_atomic(path, &json)
            .with_context(|| format!("writing {}", path.display()))?;
        eprintln!("result written to {}", path.display());
    }
    Ok(())
}

struct Live {
    enabled: bool,
    clients: u32,
}

impl Observer for Live {
    fn sample(&self, sample: &SecondSample, warmup: bool) {
        if self.enabled {
            eprintln!("{}", summary::sample_line(sample, self.clients, warmup));
        }
    }
}
