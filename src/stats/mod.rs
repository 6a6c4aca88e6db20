//! Measurements around a measured window that do not come from the load driver: the server's cumulative
//! statistics, the host's CPU and disk counters, and checkpoint times from the server log.

pub mod checkpoints;
pub mod host;
pub mod server;
