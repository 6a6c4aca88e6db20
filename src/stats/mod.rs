//! Measurements around a measured window that do not come from the load driver: the server's cumulative
//! statistics, the host's CPU and disk counters, a probe of the host's memory speed, and checkpoint times from
//! the server log.

pub mod checkpoints;
pub mod host;
pub mod probe;
pub mod server;
