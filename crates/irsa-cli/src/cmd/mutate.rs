//! Wiring for `irsa mutate` (being built).

use std::process::ExitCode;

/// Arguments of `irsa mutate`.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Runs the command.
pub fn run(_args: Args) -> ExitCode {
    crate::output::fail(crate::output::EXIT_FAILURE, "irsa mutate: not built yet")
}
