//! The one drawing of progress for every command: a bar or spinner on stderr when stderr is a
//! terminal, nothing otherwise.
//!
//! Libraries report through [`irsa_runtime::progress::Progress`] (the webhook's first
//! ServiceAccount sync, `irsa local` applying its config) or a per-step callback (provisioning);
//! this is the only implementation that draws. Pipes, CI logs and `kubectl logs` get no
//! redrawn lines, and stdout is never touched: it stays data only.

use std::io::{IsTerminal as _, Write as _};
use std::sync::Arc;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use irsa_runtime::progress::{Progress, Reporter};

/// Progress on stderr, drawn only when stderr is a terminal.
#[derive(Debug, Clone)]
pub struct Bar {
    bar: ProgressBar,
    drawn: bool,
}

impl Bar {
    /// A bar on stderr, hidden (every call a no-op) when stderr is not a terminal.
    pub fn stderr() -> Self {
        Self::new(std::io::stderr().is_terminal())
    }

    fn new(drawn: bool) -> Self {
        let target = if drawn {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        };
        Self {
            bar: ProgressBar::with_draw_target(None, target),
            drawn,
        }
    }

    /// This bar as a [`Reporter`], for library configuration.
    pub fn reporter(&self) -> Reporter {
        Reporter::new(Arc::new(self.clone()))
    }

    /// Prints a permanent line on stderr (a step's result) without tearing the bar: the bar
    /// is cleared, the line written, the bar redrawn below it.
    pub fn line(&self, text: &str) {
        self.bar.suspend(|| {
            let _ = writeln!(std::io::stderr().lock(), "{text}");
        });
    }
}

impl Progress for Bar {
    fn start(&self, what: &str, total: Option<u64>) {
        let template = match total {
            Some(_) => "{spinner} {msg} [{bar:30}] {pos}/{len} ({elapsed})",
            None => "{spinner} {msg}: {pos} ({elapsed})",
        };
        if let Ok(style) = ProgressStyle::with_template(template) {
            self.bar.set_style(style.progress_chars("=> "));
        }
        self.bar.reset();
        match total {
            Some(total) => self.bar.set_length(total),
            None => self.bar.unset_length(),
        }
        self.bar.set_message(what.to_owned());
        if self.drawn {
            self.bar.enable_steady_tick(Duration::from_millis(120));
        }
    }

    fn advance(&self, units: u64) {
        self.bar.inc(units);
    }

    fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hidden_bar_still_counts_and_finishes() {
        let bar = Bar::new(false);
        bar.start("applying the config", Some(3));
        bar.advance(2);
        assert_eq!(bar.bar.position(), 2);
        assert_eq!(bar.bar.length(), Some(3));
        bar.finish();
        assert!(bar.bar.is_finished());
        // The same bar serves a second, open-ended operation.
        let reporter = bar.reporter();
        reporter.start("syncing the ServiceAccount cache", None);
        reporter.advance(1);
        assert_eq!(bar.bar.position(), 1);
        assert_eq!(bar.bar.length(), None);
        reporter.finish();
    }
}
