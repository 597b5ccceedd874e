//! The operator's two HTTP listeners: Prometheus metrics on `--metrics-port`, and
//! `/healthz`, `/readyz` on `--health-port` (separate, so a scrape storm cannot fail the
//! probes).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::metrics::Metrics;

/// What the health listener reports.
#[derive(Debug, Default)]
pub struct Health {
    ready: AtomicBool,
}

impl Health {
    /// Marks the informer caches synced.
    pub fn set_ready(&self) {
        self.ready.store(true, Ordering::SeqCst);
    }

    /// Whether the informer caches synced.
    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::SeqCst)
    }
}

/// `GET /metrics`.
pub fn metrics_router(metrics: Arc<Metrics>) -> Router {
    Router::new()
        .route("/metrics", get(render_metrics))
        .with_state(metrics)
}

async fn render_metrics(State(metrics): State<Arc<Metrics>>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        metrics.render(),
    )
        .into_response()
}

/// `GET /healthz` (the process serves) and `GET /readyz` (the caches synced; leader or not).
pub fn health_router(health: Arc<Health>) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .with_state(health)
}

async fn readyz(State(health): State<Arc<Health>>) -> Response {
    if health.is_ready() {
        (StatusCode::OK, "ok").into_response()
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "informer caches not synced yet",
        )
            .into_response()
    }
}

/// Serves both listeners (bounded by irsa-runtime's serving loop) until `shutdown` is true.
pub async fn serve(
    metrics_listener: tokio::net::TcpListener,
    health_listener: tokio::net::TcpListener,
    metrics: Arc<Metrics>,
    health: Arc<Health>,
    shutdown: tokio::sync::watch::Receiver<bool>,
) {
    let stopped = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|s| *s).await;
    };
    let limits = irsa_runtime::ServeLimits::default();
    tokio::join!(
        irsa_runtime::serve(
            metrics_listener,
            None,
            metrics_router(metrics),
            limits,
            stopped(shutdown.clone()),
        ),
        irsa_runtime::serve(
            health_listener,
            None,
            health_router(health),
            limits,
            stopped(shutdown),
        ),
    );
}
