//! Wiring for `irsa trust-policy` (being built).

use std::process::ExitCode;

/// Arguments of `irsa trust-policy`.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Runs the command.
pub fn run(_args: Args) -> ExitCode {
    crate::output::fail(crate::output::EXIT_FAILURE, "irsa trust-policy: not built yet")
}
