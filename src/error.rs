//! Errors a user can fix by changing what they typed or wrote: each names the file, key or flag and what is
//! allowed. Failures at I/O, process and SQL boundaries use `anyhow` context instead.

use std::path::PathBuf;

/// A profile that cannot be used, with the place to fix it.
#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    /// `--profile NAME` matched no file and no built-in profile.
    #[error("no profile `{name}`: looked for {searched}; built-in profiles: {available}")]
    NotFound {
        /// What the user asked for.
        name: String,
        /// The places looked at, joined for display.
        searched: String,
        /// Built-in profile names, joined for display.
        available: String,
    },
    /// The profile file could not be read.
    #[error("cannot read profile {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// What the OS said.
        source: std::io::Error,
    },
    /// The TOML is malformed, or has an unknown key or a value of the wrong type.
    #[error("profile {origin}: {message}")]
    Parse {
        /// The file, or `built-in NAME`.
        origin: String,
        /// The TOML parser's message, which names the key and its line.
        message: String,
    },
    /// A value is of the right type but not allowed.
    #[error("profile {origin}: `{key}` {message}")]
    Invalid {
        /// The file, or `built-in NAME`, or `command line`.
        origin: String,
        /// The key, with its table (`run.clients`).
        key: String,
        /// What is wrong and what is allowed.
        message: String,
    },
}

/// A `--only` filter that cannot be understood.
#[derive(Debug, thiserror::Error)]
#[error("--only `{spec}`: {message}")]
pub struct FilterError {
    /// The filter as typed.
    pub spec: String,
    /// What is wrong and what is allowed.
    pub message: String,
}
