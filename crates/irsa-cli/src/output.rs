//! Results to stdout, errors to stderr, and the one error type every command returns.
//!
//! Data goes to stdout, diagnostics to stderr. A closed pipe (`irsa … | head`) is a clean
//! exit, never a panic, which `println!` would give.
//!
//! Exit statuses are the same for every command:
//!
//! | status | meaning |
//! |---|---|
//! | 0 | success |
//! | 1 | a well-formed request that failed: denied, invalid token, unreachable server |
//! | 2 | usage: a flag, argument or input file breaks a rule (clap uses 2 as well) |
//!
//! `irsa local exec` alone also exits with its child's status.

use std::fmt;
use std::io::{self, Write};
use std::process::ExitCode;

use irsa_core::error::InvalidValue;

/// Maps a validation error to the usage error that names the flag it came from
/// (`--account must be 12 digits, got '1234'`).
pub fn flag_error(name: &'static str) -> impl Fn(InvalidValue) -> CliError {
    move |e| CliError::usage(e.for_input(name).to_string())
}

/// Parses an optional flag with a validated type's `parse`: `None` stays `None`, a bad value
/// is a usage error naming the flag.
pub fn parse_flag<T>(
    name: &'static str,
    value: Option<&str>,
    parse: impl FnOnce(&str) -> Result<T, InvalidValue>,
) -> Result<Option<T>, CliError> {
    value.map(parse).transpose().map_err(flag_error(name))
}

/// Exit status for bad input (a flag or file that breaks a rule), as clap uses.
pub const EXIT_USAGE: u8 = 2;
/// Exit status for a well-formed request that failed (denied, invalid token, too large).
pub const EXIT_FAILURE: u8 = 1;

/// Why a command failed: its exit status and the one line printed to stderr, which names
/// the command, the input and the rule it breaks.
#[derive(Debug)]
pub struct CliError {
    code: u8,
    message: String,
}

impl CliError {
    /// The caller's input is wrong: exit status 2.
    pub fn usage(message: impl Into<String>) -> Self {
        Self {
            code: EXIT_USAGE,
            message: message.into(),
        }
    }

    /// The request was well-formed but failed: exit status 1.
    pub fn failure(message: impl Into<String>) -> Self {
        Self {
            code: EXIT_FAILURE,
            message: message.into(),
        }
    }

    /// The same error with `prefix: ` (the command's name) before its message.
    pub fn prefixed(self, prefix: &str) -> Self {
        Self {
            code: self.code,
            message: format!("{prefix}: {}", self.message),
        }
    }

    /// The exit status this error ends the process with.
    pub fn code(&self) -> u8 {
        self.code
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for CliError {}

/// What a successful command leaves behind.
#[derive(Debug)]
pub enum Outcome {
    /// Text printed to stdout with a trailing newline; exit 0.
    Stdout(String),
    /// Nothing more to print (a server that stopped cleanly, files written); exit 0.
    Done,
    /// A child process's exit status, passed through (`irsa local exec`).
    Status(u8),
}

impl From<String> for Outcome {
    fn from(text: String) -> Self {
        Self::Stdout(text)
    }
}

impl From<()> for Outcome {
    fn from((): ()) -> Self {
        Self::Done
    }
}

/// Ends a command: prints its output or its error and returns the exit status.
pub fn finish<T: Into<Outcome>>(result: Result<T, CliError>) -> ExitCode {
    match result.map(Into::into) {
        Ok(Outcome::Stdout(text)) => print_stdout(&text),
        Ok(Outcome::Done) => ExitCode::SUCCESS,
        Ok(Outcome::Status(code)) => ExitCode::from(code),
        Err(e) => fail(&e),
    }
}

/// Writes `text` and a newline to stdout; a broken pipe is not an error.
pub fn print_stdout(text: &str) -> ExitCode {
    match write_stdout(text) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(&e),
    }
}

/// Writes `text` and a newline to stdout now (a server's banner before it starts serving).
pub fn write_stdout(text: &str) -> Result<(), CliError> {
    let mut out = io::stdout().lock();
    match writeln!(out, "{text}").and_then(|()| out.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(CliError::failure(format!(
            "irsa: cannot write to stdout: {e}"
        ))),
    }
}

/// Prints the error on one line to stderr and returns its exit status.
fn fail(error: &CliError) -> ExitCode {
    let _ = writeln!(io::stderr().lock(), "{error}");
    ExitCode::from(error.code())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usage_and_failure_have_their_own_statuses() {
        assert_eq!(CliError::usage("x").code(), 2);
        assert_eq!(CliError::failure("x").code(), 1);
        assert_eq!(
            CliError::usage("irsa x: --y: bad").to_string(),
            "irsa x: --y: bad"
        );
    }

    #[test]
    fn outcomes_map_to_exit_statuses() {
        assert_eq!(finish::<()>(Ok(())), ExitCode::SUCCESS);
        assert_eq!(finish(Ok(Outcome::Status(7))), ExitCode::from(7));
        assert_eq!(finish::<()>(Err(CliError::usage("u"))), ExitCode::from(2));
        assert_eq!(finish::<()>(Err(CliError::failure("f"))), ExitCode::from(1));
    }
}
