//! `tornbench crash-test`: torn-page verification. A shim preloaded into the server tears one real,
//! in-flight data-page write and kills the server at once ([`injector`]); the tool proves the tear on disk
//! ([`tear`]), restarts the server through crash recovery and checks what survived.

pub mod injector;
pub mod process;
pub mod tear;
