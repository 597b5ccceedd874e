//! Process plumbing shared by irsa's long-running servers (`irsa webhook`, `irsa local`,
//! and the operator): the Tokio runtime, logging, waiting for SIGTERM/Ctrl-C, the one
//! function every HTTP listener is served with, and the [`progress`] interface through which
//! long startup work is reported to whoever draws it.
//!
//! [`serve`] exists because a server exposed to an API server or to arbitrary local
//! clients must bound every resource a client can hold: each phase of a connection has a
//! deadline, the number of connections has a cap that leaves file descriptors for the rest
//! of the process, and shutdown drains for a bounded time. Writing that loop once means a
//! fix reaches every listener (see [`serve`] for the rules).

mod process;
pub mod progress;
mod serve;
mod workers;

pub use process::{LogFormat, init_logging, runtime, shutdown_signal};
pub use serve::{ServeLimits, serve};
