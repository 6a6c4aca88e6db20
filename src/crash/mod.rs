//! `tornbench crash-test`: torn-page verification. A shim preloaded into the server tears one real,
//! in-flight data-page write and kills the server at once ([`injector`]); the tool proves the tear on disk
//! ([`tear`]), restarts the server through crash recovery and checks what survived ([`checks`],
//! [`ledger`]); [`cycle`] runs one such cycle and [`summary`] adds them up per mode.
//!
//! Every cycle starts from a copy of one golden data directory, loaded once per run and stopped cleanly:
//! a cycle of the unprotected control leaves a damaged cluster behind, so re-using it would make every
//! later cycle inherit that damage, and loading again per cycle would cost more than the cycle itself.

pub mod checks;
pub mod cycle;
pub mod injector;
pub mod ledger;
pub mod load;
pub mod summary;
pub mod tear;

use crate::postgres::cluster::{free_port, Cluster, StopMode};
use crate::postgres::config::ServerConfig;
use crate::postgres::install::PgInstall;
use crate::postgres::os_user::ServerUser;
use anyhow::{Context, Result};
use cycle::{CycleContext, CyclePlan};
use injector::{TearPlan, PAGE_SIZE, SECTOR_SIZE};
use load::LoadSpec;
use rand::{Rng, SeedableRng};
use std::path::Path;
use std::time::Duration;
use summary::{CycleResult, ModeSummary};

/// The modes `--mode all` runs, the control first.
pub const ALL_MODES: &[&str] = &["fpw_off", "fpw_on", "dwb_on"];

/// Largest `skip` drawn: how far into a checkpoint's writes the torn one may be.
const MAX_SKIP: u32 = 120;

/// A crash-test option that cannot be used, naming its flag.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CrashTestError {
    /// `--mode` names no known mode.
    #[error("--mode {0}: unknown (allowed: fpw_off, fpw_on, dwb_on, all)")]
    UnknownMode(String),
    /// `--cycles 0`.
    #[error("--cycles must be at least 1")]
    NoCycles,
    /// `--prefix` outside `512..=7680` or not a multiple of 512.
    #[error("--prefix {0}: must be a multiple of {SECTOR_SIZE} from {SECTOR_SIZE} to {max} (bytes of the 8 KiB page that reach the disk)", max = PAGE_SIZE - SECTOR_SIZE)]
    BadPrefix(usize),
    /// `--clients 0`.
    #[error("--clients must be at least 1")]
    NoClients,
}

/// The modes `--mode` names, in run order.
pub fn parse_modes(spec: &str) -> Result<Vec<String>, CrashTestError> {
    if spec == "all" {
        return Ok(ALL_MODES.iter().map(|m| m.to_string()).collect());
    }
    spec.split(',')
        .map(|m| {
            if ALL_MODES.contains(&m) {
                Ok(m.to_string())
            } else {
                Err(CrashTestError::UnknownMode(m.to_string()))
            }
        })
        .collect()
}

/// Checks `--prefix`.
pub fn check_prefix(prefix: usize) -> Result<usize, CrashTestError> {
    if (SECTOR_SIZE..PAGE_SIZE).contains(&prefix) && prefix % SECTOR_SIZE == 0 {
        Ok(prefix)
    } else {
        Err(CrashTestError::BadPrefix(prefix))
    }
}

/// Draws the plan of each cycle from the seed: a prefix of 1..=15 sectors (unless fixed), how deep into
/// the checkpoint the tear lands, and how long the load runs first.
pub fn plans(seed: u64, cycles: u32, fixed_prefix: Option<usize>) -> Vec<CyclePlan> {
    let mut rng = rand::rngs::SmallRng::seed_from_u64(seed);
    (1..=cycles)
        .map(|cycle| {
            let prefix = rng.gen_range(1..PAGE_SIZE / SECTOR_SIZE) * SECTOR_SIZE;
            CyclePlan {
                cycle,
                tear: TearPlan {
                    prefix: fixed_prefix.unwrap_or(prefix),
                    skip: rng.gen_range(0..=MAX_SKIP),
                    pick: rng.gen(),
                },
                load_before_checkpoint: Duration::from_millis(rng.gen_range(500..=1500)),
                load_before_tear: Duration::from_millis(rng.gen_range(500..=2000)),
            }
        })
        .collect()
}

/// Creates the golden data directory: initdb, amcheck, the sysbench tables, the empty ledger, a clean stop.
pub fn prepare_golden(
    install: &PgInstall,
    user: Option<&ServerUser>,
    data_dir: &Path,
    config: &ServerConfig,
    load: LoadSpec,
    rt: &tokio::runtime::Runtime,
) -> Result<()> {
    if data_dir.exists() {
        std::fs::remove_dir_all(data_dir)
            .with_context(|| format!("removing {}", data_dir.display()))?;
    }
    let cluster = Cluster::init(install, data_dir, user)?;
    let mut config = config.clone();
    config.port = free_port()?;
    let log = data_dir.with_extension("log");
    let server = cluster.start(&config, &log, Duration::from_secs(120))?;
    let conn = server.connection_string("postgres");
    cycle::sql(rt, &conn, "CREATE EXTENSION IF NOT EXISTS amcheck")?;
    cycle::sql(rt, &conn, &ledger::create_sql())?;
    load::prepare(&conn, load)?;
    cycle::sql(rt, &conn, "VACUUM ANALYZE")?;
    cycle::sql(rt, &conn, "CHECKPOINT")?;
    server.stop(StopMode::Fast)
}

/// Runs the cycles of one mode, calling `after_cycle` with each result and the summary so far (to print
/// and save it at once).
pub fn run_mode(
    ctx: &CycleContext<'_>,
    plans: &[CyclePlan],
    after_cycle: &mut dyn FnMut(&CycleResult, &ModeSummary) -> Result<()>,
) -> Result<ModeSummary> {
    let mut summary = ModeSummary::new(&ctx.config.mode.name);
    for plan in plans {
        if crate::shutdown::interrupted() {
            break;
        }
        let result = cycle::run_cycle(ctx, *plan).with_context(|| {
            format!(
                "{} cycle {} (the tool failed, not the server)",
                ctx.config.mode.name, plan.cycle
            )
        })?;
        summary.add(result.clone());
        after_cycle(&result, &summary)?;
    }
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_are_parsed_and_unknown_ones_named() {
        assert_eq!(parse_modes("all").unwrap(), ALL_MODES);
        assert_eq!(parse_modes("fpw_on,dwb_on").unwrap(), ["fpw_on", "dwb_on"]);
        assert_eq!(
            parse_modes("fpw_maybe").unwrap_err().to_string(),
            "--mode fpw_maybe: unknown (allowed: fpw_off, fpw_on, dwb_on, all)"
        );
    }

    #[test]
    fn prefixes_are_whole_sectors_short_of_a_page() {
        assert_eq!(check_prefix(4096), Ok(4096));
        assert!(check_prefix(0).is_err());
        assert!(check_prefix(8192).is_err());
        assert!(check_prefix(1000)
            .unwrap_err()
            .to_string()
            .contains("--prefix 1000"));
    }

    #[test]
    fn plans_are_reproducible_and_vary_the_prefix() {
        let a = plans(7, 20, None);
        assert_eq!(a, plans(7, 20, None));
        assert!(a.iter().all(|p| p.tear.prefix % SECTOR_SIZE == 0
            && (SECTOR_SIZE..PAGE_SIZE).contains(&p.tear.prefix)));
        let distinct: std::collections::BTreeSet<_> = a.iter().map(|p| p.tear.prefix).collect();
        assert!(distinct.len() > 5, "{distinct:?}");
        assert!(plans(7, 3, Some(4096))
            .iter()
            .all(|p| p.tear.prefix == 4096));
    }
}
