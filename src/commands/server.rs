//! `tornbench server`: one server in one torn-page mode, with the profile's settings, running until Ctrl-C;
//! for trying sysbench or psql against a mode by hand.

use super::{install_for, load_profile, stock_install_for};
use crate::options::ServerOptions;
use crate::postgres::cluster::{free_port, Cluster, StopMode, DEFAULT_START_TIMEOUT};
use crate::postgres::config::ServerConfig;
use crate::postgres::os_user::ServerUser;
use crate::profile::mode::ModeBuild;
use crate::shutdown;
use anyhow::{anyhow, Result};
use std::collections::BTreeMap;
use std::time::Duration;

/// Runs `tornbench server`.
pub fn run(opts: &ServerOptions) -> Result<()> {
    let profile = load_profile(&opts.profile)?;
    let mode = profile.modes.get(&opts.mode).cloned().ok_or_else(|| {
        anyhow!(
            "--mode {}: unknown (known: {})",
            opts.mode,
            profile.modes.keys().cloned().collect::<Vec<_>>().join(", ")
        )
    })?;
    let resolved = match mode.build {
        ModeBuild::Run => install_for(&profile, &opts.install)?,
        ModeBuild::Stock => stock_install_for(&profile, &opts.install)?,
    };
    let install = &resolved.install;
    install.check_mode(&mode)?;
    let user = ServerUser::for_this_process()?;
    let cluster = if opts.data_dir.join("PG_VERSION").is_file() {
        Cluster::open(install, &opts.data_dir, user.as_ref())?
    } else {
        eprintln!("initdb {}", opts.data_dir.display());
        Cluster::init(install, &opts.data_dir, user.as_ref())?
    };
    let config = ServerConfig {
        port: match opts.port {
            Some(p) => p,
            None => free_port()?,
        },
        server: profile.server.clone(),
        mode,
        max_clients: profile.max_clients(),
        build_has_double_write: install.has_double_write(),
        extra: BTreeMap::new(),
    };
    let log = opts.data_dir.with_extension("log");
    shutdown::set_graceful(true);
    let server = cluster.start(&config, &log, DEFAULT_START_TIMEOUT)?;
    eprintln!("server log: {}", log.display());
    eprintln!(
        "mode {} ({}); press Ctrl-C to stop",
        config.mode.name, config.mode.description
    );
    println!("{}", server.connection_string("postgres"));
    let mut server = server;
    while !shutdown::interrupted() {
        if !server.is_running() {
            return Err(anyhow!(
                "the server stopped by itself; last lines of its log:\n{}",
                server.log_tail(20)
            ));
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    server.stop(StopMode::Fast)
}
