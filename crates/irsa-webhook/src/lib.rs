//! `irsa webhook`: the pod identity mutating admission webhook server, a drop-in for
//! amazon-eks-pod-identity-webhook (same flags, endpoints, metrics and patch semantics).
//!
//! The mutation itself is the pure planner in [`irsa_core::mutation`]; this crate is the
//! I/O around it: a rustls HTTPS listener whose certificate is hot-reloaded from disk, the
//! AdmissionReview protocol, a compact ServiceAccount cache fed by a metadata-only watch
//! (with a rate-limited direct GET for ServiceAccounts the cache has not seen yet), the
//! ConfigMap and container-credentials sources, Prometheus metrics and graceful shutdown.
//!
//! [`start`] binds both listeners and returns a handle (tests and the benchmark use it with
//! port 0); [`run`] is `start` plus waiting for SIGTERM/Ctrl-C. Both listeners are served by
//! [`irsa_runtime::serve`], which bounds every connection phase and the shutdown drain.

pub mod admission;
pub mod cache;
pub mod config;
pub mod kube_sources;
pub mod metrics;
pub mod server;
pub mod tls;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use irsa_core::mutation::ContainerCredentialsConfig;
use tokio::sync::watch;
use tokio::task::JoinSet;

pub use config::{ServerConfig, TlsMinVersion, TlsSettings};
pub use irsa_kube::KubeSettings;

use crate::cache::ServiceAccountCache;
use crate::kube_sources::{Fetcher, MappingSource};
use crate::metrics::Metrics;
use crate::server::AppState;
use crate::tls::{CertStore, ReloadOutcome};

/// Why the webhook could not start.
#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    /// The serving certificate or TLS policy is unusable.
    #[error(transparent)]
    Tls(#[from] tls::TlsError),
    /// The Kubernetes client could not be built.
    #[error(transparent)]
    Kube(#[from] irsa_kube::KubeError),
    /// A listener could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The I/O error.
        source: std::io::Error,
    },
}

/// A running webhook.
#[derive(Debug)]
pub struct RunningWebhook {
    /// Where the TLS admission listener is bound.
    pub https_addr: SocketAddr,
    /// Where the metrics listener is bound.
    pub metrics_addr: SocketAddr,
    /// Shared state (cache, metrics), for tests and diagnostics.
    pub state: Arc<AppState>,
    /// The certificate store (tests observe reloads through it).
    pub certs: Arc<CertStore>,
    shutdown: watch::Sender<bool>,
    tasks: JoinSet<()>,
    servers: JoinSet<()>,
}

impl RunningWebhook {
    /// Stops accepting, lets in-flight requests finish (bounded), stops the watches.
    pub async fn shutdown(mut self) {
        let _ = self.shutdown.send(true);
        while self.servers.join_next().await.is_some() {}
        self.tasks.abort_all();
        while self.tasks.join_next().await.is_some() {}
    }
}

/// Binds the listeners and starts every background task.
pub async fn start(config: ServerConfig) -> Result<RunningWebhook, WebhookError> {
    let provider = tls::provider(&config.tls)?;
    let certs = Arc::new(CertStore::load(
        &config.tls.cert_path,
        &config.tls.key_path,
        provider.clone(),
    )?);
    let tls_config = tls::server_config(certs.clone(), provider, config.tls.min_version)?;
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(tls_config));

    let metrics = Arc::new(Metrics::new());
    let cache = Arc::new(ServiceAccountCache::new(
        &config.mutation.annotation_prefix,
        metrics.clone(),
    ));
    let client = irsa_kube::client(&config.kube).await?;
    let (shutdown_tx, shutdown_rx) = watch::channel(false);
    let mut tasks = JoinSet::new();

    tasks.spawn(kube_sources::watch_service_accounts(
        client.clone(),
        cache.clone(),
        config.progress.clone(),
        shutdown_rx.clone(),
    ));
    let mapping = if config.watch_config_map {
        let source = Arc::new(MappingSource::default());
        tasks.spawn(kube_sources::watch_config_map(
            client.clone(),
            config.namespace.clone(),
            source.clone(),
            metrics.clone(),
            shutdown_rx.clone(),
        ));
        Some(source)
    } else {
        None
    };
    let container_credentials = config.container_credentials_config.clone().map(|path| {
        let current = Arc::new(ArcSwap::from_pointee(ContainerCredentialsConfig::default()));
        let mut last = None;
        load_container_credentials(&path, &current, &mut last);
        tasks.spawn(poll_container_credentials(
            path,
            current.clone(),
            last,
            config.file_poll_interval,
            shutdown_rx.clone(),
        ));
        current
    });
    let fetcher = (!config.lookup_grace_period.is_zero()).then(|| {
        Fetcher::start(
            client.clone(),
            cache.clone(),
            metrics.clone(),
            config.lookup_rate_per_second,
            config.lookup_burst,
            config.lookup_timeout,
            shutdown_rx.clone(),
        )
    });
    tasks.spawn(poll_certificate(
        certs.clone(),
        metrics.clone(),
        config.tls.reload_interval,
        shutdown_rx.clone(),
    ));

    let state = Arc::new(AppState {
        mutation: config.mutation.clone(),
        cache,
        mapping,
        container_credentials,
        fetcher,
        grace_period: config.lookup_grace_period,
        metrics,
        debug_handlers: config.enable_debugging_handlers,
    });

    let https_addr = config.https_addr();
    let https = server::bind(https_addr)
        .await
        .map_err(|source| WebhookError::Bind {
            addr: https_addr,
            source,
        })?;
    let metrics_addr = config.metrics_addr();
    let plain = server::bind(metrics_addr)
        .await
        .map_err(|source| WebhookError::Bind {
            addr: metrics_addr,
            source,
        })?;
    let https_addr = https.local_addr().unwrap_or(https_addr);
    let metrics_addr = plain.local_addr().unwrap_or(metrics_addr);

    let mut servers = JoinSet::new();
    // Both listeners get the same bounds, the metrics port's drain included.
    let limits = config.serve_limits;
    servers.spawn(irsa_runtime::serve(
        https,
        Some(acceptor),
        server::admission_router(state.clone()),
        limits,
        stopped(shutdown_rx.clone()),
    ));
    servers.spawn(irsa_runtime::serve(
        plain,
        None,
        server::metrics_router(state.clone()),
        limits,
        stopped(shutdown_rx),
    ));
    tracing::info!(https = %https_addr, metrics = %metrics_addr, "pod identity webhook listening");
    Ok(RunningWebhook {
        https_addr,
        metrics_addr,
        state,
        certs,
        shutdown: shutdown_tx,
        tasks,
        servers,
    })
}

/// Runs the webhook until SIGTERM or Ctrl-C, then shuts down gracefully.
pub async fn run(config: ServerConfig) -> Result<(), WebhookError> {
    let running = start(config).await?;
    irsa_runtime::shutdown_signal().await;
    tracing::info!("shutting down");
    running.shutdown().await;
    Ok(())
}

/// Resolves once `shutdown` turns true (or its sender is gone).
async fn stopped(mut shutdown: watch::Receiver<bool>) {
    let _ = shutdown.wait_for(|stop| *stop).await;
}

async fn poll_certificate(
    certs: Arc<CertStore>,
    metrics: Arc<Metrics>,
    every: Duration,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut ticker = tokio::time::interval(every.max(Duration::from_millis(10)));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            _ = shutdown.changed() => return,
        }
        let store = certs.clone();
        // File reads are blocking; keep them off the async workers.
        match tokio::task::spawn_blocking(move || store.reload()).await {
            Ok(ReloadOutcome::Reloaded) => metrics.certificate_reloads.inc(),
            Ok(ReloadOutcome::Rejected) => metrics.certificate_reload_errors.inc(),
            Ok(ReloadOutcome::Unchanged) | Err(_) => 0,
        };
    }
}

/// Reads the container-credentials file if its content changed since `last`.
fn load_container_credentials(
    path: &PathBuf,
    current: &ArcSwap<ContainerCredentialsConfig>,
    last: &mut Option<Vec<u8>>,
) {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        // Missing file: no container-credentials identities (upstream's behaviour).
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => {
            tracing::warn!(path = %path.display(), error = %e, "cannot read the container-credentials config; keeping the previous one");
            return;
        }
    };
    if last.as_ref() == Some(&bytes) {
        return;
    }
    let text = String::from_utf8_lossy(&bytes);
    match ContainerCredentialsConfig::parse(&text) {
        Ok((config, warnings)) => {
            for w in warnings {
                tracing::warn!(path = %path.display(), "{w}");
            }
            tracing::info!(path = %path.display(), identities = config.len(), "container-credentials config loaded");
            current.store(Arc::new(config));
        }
        Err(e) => {
            tracing::error!(path = %path.display(), error = %e, "container-credentials config rejected; keeping the previous one");
        }
    }
    *last = Some(bytes);
}

async fn poll_container_credentials(
    path: PathBuf,
    current: Arc<ArcSwap<ContainerCredentialsConfig>>,
    mut last: Option<Vec<u8>>,
    every: Duration,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut ticker = tokio::time::interval(every.max(Duration::from_millis(10)));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            _ = shutdown.changed() => return,
        }
        load_container_credentials(&path, &current, &mut last);
    }
}
