//! Wiring for `irsa oidc …` (being built).

use std::process::ExitCode;

/// Subcommands of `irsa oidc`.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Placeholder until the toolkit lands.
    Placeholder,
}

/// Runs the command.
pub fn run(_command: Command) -> ExitCode {
    crate::output::fail(crate::output::EXIT_FAILURE, "irsa oidc: not built yet")
}
