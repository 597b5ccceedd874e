//! One module per subcommand (family); each exposes clap `Args`/`Command` and `run`.

pub mod doctor;
pub mod local;
pub mod migrate;
pub mod mutate;
pub mod mutation_flags;
pub mod oidc;
pub mod operator;
pub mod provision;
pub mod shell;
pub mod token;
pub mod trust_policy;
pub mod webhook;

/// The system clock in Unix seconds: the one place the CLI reads it, so every library below
/// takes `now` as an input (commands with `--now` pass that instead).
pub fn unix_now() -> i64 {
    use std::time::{SystemTime, UNIX_EPOCH};
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}
