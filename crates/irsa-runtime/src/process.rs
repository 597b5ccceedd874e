//! Runtime, logging and signals: the first and last lines of every server's `main`.

/// How log lines are written to stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    /// Human-readable lines, coloured when stderr is a terminal.
    #[default]
    Text,
    /// One JSON object per line, for log collectors.
    Json,
}

/// Installs the global subscriber writing to stderr. `RUST_LOG` wins over `default_filter`
/// (an `EnvFilter` directive such as `info` or `irsa_webhook=debug`). A second call keeps
/// the first subscriber, so tests may call it freely.
pub fn init_logging(default_filter: &str, format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_filter));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Text => builder
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .try_init(),
    };
}

/// The servers' control-plane runtime, with I/O and timers enabled: watches, listeners,
/// reconcilers and timers run here, while every accepted connection is served on a per-core
/// runtime of its own (`workers.rs`). One worker thread is enough for that work and
/// keeps the allocator's per-thread heaps to one: with a worker per core, the webhook's
/// initial ServiceAccount list hopped between threads and left about 3 MiB more resident
/// (100,000 ServiceAccounts; `scripts/bench-webhook`). `TOKIO_WORKER_THREADS` still
/// overrides it. It stays a multi-threaded runtime, so `spawn_blocking` and
/// `block_in_place` behave as on any other.
pub fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    if std::env::var_os("TOKIO_WORKER_THREADS").is_none() {
        builder.worker_threads(CONTROL_PLANE_WORKERS);
    }
    builder.enable_all().build()
}

/// Worker threads of [`runtime`] unless `TOKIO_WORKER_THREADS` says otherwise.
const CONTROL_PLANE_WORKERS: usize = 1;

/// Resolves at the first SIGTERM (what Kubernetes and systemd send) or Ctrl-C. If the
/// SIGTERM handler cannot be installed, says so and waits for Ctrl-C alone.
pub async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for SIGTERM; only Ctrl-C stops the server");
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_control_plane_runtime_has_one_worker_unless_the_environment_says_otherwise() {
        let runtime = super::runtime().expect("runtime");
        let expected = std::env::var("TOKIO_WORKER_THREADS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(super::CONTROL_PLANE_WORKERS);
        assert_eq!(runtime.metrics().num_workers(), expected);
    }
}
