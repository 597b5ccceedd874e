//! Writing results to stdout and errors to stderr.
//!
//! Data goes to stdout, diagnostics to stderr. A closed pipe (`irsa … | head`) is a clean
//! exit, never a panic, which `println!` would give.

use std::io::{self, Write};
use std::process::ExitCode;

/// Exit status for bad input (a flag or file that breaks a rule), as clap uses.
pub const EXIT_USAGE: u8 = 2;
/// Exit status for a well-formed request that failed (denied, invalid token, too large).
pub const EXIT_FAILURE: u8 = 1;

/// Writes `text` and a newline to stdout; a broken pipe is not an error.
pub fn print_stdout(text: &str) -> ExitCode {
    let mut out = io::stdout().lock();
    match writeln!(out, "{text}").and_then(|()| out.flush()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => fail(EXIT_FAILURE, &format!("irsa: cannot write to stdout: {e}")),
    }
}

/// Prints `message` on one line to stderr and returns `code` as the exit status.
pub fn fail(code: u8, message: &str) -> ExitCode {
    let _ = writeln!(io::stderr().lock(), "{message}");
    ExitCode::from(code)
}
