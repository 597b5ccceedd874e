//! Progress of long operations: reported by the libraries that run them, drawn by the binary.
//!
//! A library says what it is doing through [`Progress`] (the ServiceAccount cache's first
//! sync, applying a large `irsa local` config) and never decides whether that is shown. The
//! `irsa` binary implements the trait once, drawing on stderr only when stderr is a terminal;
//! servers in pods, tests and pipes get nothing. So no library depends on a terminal crate, and
//! every command's progress looks and behaves alike.

use std::fmt;
use std::sync::Arc;

/// A sink for the progress of one operation at a time. Calls come from async tasks and must
/// not block.
pub trait Progress: Send + Sync {
    /// Work described by `what` begins: `total` units when known, open-ended otherwise.
    fn start(&self, what: &str, total: Option<u64>);
    /// `units` more units are done.
    fn advance(&self, units: u64);
    /// The work is over; whatever was drawn for it goes away.
    fn finish(&self);
}

/// Shows nothing.
#[derive(Debug, Clone, Copy, Default)]
struct Silent;

impl Progress for Silent {
    fn start(&self, _what: &str, _total: Option<u64>) {}
    fn advance(&self, _units: u64) {}
    fn finish(&self) {}
}

/// A cloneable handle on a [`Progress`], for configuration structs and tasks. The default
/// shows nothing.
#[derive(Clone)]
pub struct Reporter(Arc<dyn Progress>);

impl Reporter {
    /// Reports to `progress`.
    pub fn new(progress: Arc<dyn Progress>) -> Self {
        Self(progress)
    }

    /// Reports nowhere.
    pub fn silent() -> Self {
        Self(Arc::new(Silent))
    }
}

impl Default for Reporter {
    fn default() -> Self {
        Self::silent()
    }
}

impl fmt::Debug for Reporter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Reporter")
    }
}

impl Progress for Reporter {
    fn start(&self, what: &str, total: Option<u64>) {
        self.0.start(what, total);
    }

    fn advance(&self, units: u64) {
        self.0.advance(units);
    }

    fn finish(&self) {
        self.0.finish();
    }
}
