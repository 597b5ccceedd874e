//! HTTP layer: the TLS admission listener (`/mutate`, `/healthz`, `/readyz`) and the
//! plain-HTTP metrics listener (`/metrics`).
//!
//! The admission handler must never be the reason a pod cannot be created: anything that
//! goes wrong *inside* the webhook (a pod shape the planner rejects, a serialisation failure)
//! admits the pod unmutated, logs, and counts `irsa_webhook_patch_errors_total`. Only a
//! request that is not an AdmissionReview at all is refused, as upstream does.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method as HttpMethod, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use irsa_core::mutation::{
    ContainerCredentialsConfig, Jitter, PlanInputs, PlannedPatch, ServiceAccountIdentity,
    WebhookConfig, plan_mutation,
};
use tokio::net::TcpListener;

use crate::admission::{ReviewOut, parse_review, service_account_name};
use crate::cache::ServiceAccountCache;
use crate::kube_sources::{Fetcher, MappingSource};
use crate::metrics::Metrics;

/// Largest accepted AdmissionReview body (upstream: 3 MiB); larger gets HTTP 413.
pub const MAX_BODY_BYTES: usize = 3 * 1024 * 1024;

/// Everything a request handler reads.
#[derive(Debug)]
pub struct AppState {
    /// Mutation settings.
    pub mutation: WebhookConfig,
    /// ServiceAccount cache.
    pub cache: Arc<ServiceAccountCache>,
    /// ConfigMap role mapping (`None` when `--watch-config-map` is off).
    pub mapping: Option<Arc<MappingSource>>,
    /// Container-credentials identities (`None` when the flag is empty).
    pub container_credentials: Option<Arc<ArcSwap<ContainerCredentialsConfig>>>,
    /// Direct ServiceAccount GETs (`None` when the grace period is zero or there is no API).
    pub fetcher: Option<Arc<Fetcher>>,
    /// How long to wait for an uncached ServiceAccount.
    pub grace_period: Duration,
    /// Upstream-compatible Prometheus metrics every request updates (served on the
    /// metrics listener).
    pub metrics: Arc<Metrics>,
    /// Serve `/debug/alpha/*`.
    pub debug_handlers: bool,
}

impl AppState {
    /// Ready when the ServiceAccount cache (and the ConfigMap, if watched) completed a list.
    pub fn is_ready(&self) -> bool {
        self.cache.is_synced() && self.mapping.as_ref().is_none_or(|m| m.is_synced())
    }

    /// The ServiceAccount's IRSA settings, waiting up to the grace period (and asking for a
    /// direct GET) when it is not cached.
    async fn service_account(
        &self,
        namespace: &str,
        name: &str,
        may_wait: bool,
    ) -> Option<ServiceAccountIdentity> {
        if let Some(found) = self.cache.identity(namespace, name) {
            return Some(found);
        }
        if !may_wait || self.grace_period.is_zero() {
            return None;
        }
        // Boxed: the waiting state (a timer among it) is large and rarely needed, and inline
        // it would enlarge, and over-align, every admission's future.
        Box::pin(self.wait_for_service_account(namespace, name)).await
    }

    /// The slow path of [`Self::service_account`]: waits for the ServiceAccount to be cached.
    async fn wait_for_service_account(
        &self,
        namespace: &str,
        name: &str,
    ) -> Option<ServiceAccountIdentity> {
        let mut changes = self.cache.subscribe();
        if let Some(found) = self.cache.identity(namespace, name) {
            return Some(found);
        }
        tracing::info!(namespace, service_account = name, grace = ?self.grace_period,
            "ServiceAccount not in the cache; waiting for it");
        if let Some(fetcher) = &self.fetcher {
            fetcher.request(namespace, name);
        }
        let deadline = tokio::time::Instant::now() + self.grace_period;
        loop {
            match tokio::time::timeout_at(deadline, changes.changed()).await {
                Ok(Ok(())) => {
                    if let Some(found) = self.cache.identity(namespace, name) {
                        return Some(found);
                    }
                }
                Ok(Err(_)) | Err(_) => {
                    tracing::warn!(namespace, service_account = name, grace = ?self.grace_period,
                        "ServiceAccount not found in the cache within the grace period; not mutating");
                    return None;
                }
            }
        }
    }

    /// Builds the response for a well-formed review.
    async fn admit(&self, body: &[u8]) -> ReviewOut {
        let review = match parse_review(body) {
            Ok(r) => r,
            Err(denial) => {
                self.metrics.bad_requests.inc();
                tracing::warn!(
                    message = denial
                        .response
                        .status
                        .as_ref()
                        .map(|s| s.message.as_str())
                        .unwrap_or(""),
                    "refusing malformed AdmissionReview"
                );
                return *denial;
            }
        };
        let namespace = review.namespace.as_str();
        let sa_name = service_account_name(&review.pod);
        let cc = self.container_credentials.as_ref().map(|c| c.load_full());
        let mapping = self.mapping.as_ref().map(|m| m.mapping.load_full());
        let in_cc = cc.as_ref().is_some_and(|c| c.contains(namespace, sa_name));
        let in_mapping = mapping
            .as_ref()
            .is_some_and(|m| m.get(namespace, sa_name).is_some());
        let identity = self
            .service_account(namespace, sa_name, !in_cc && !in_mapping)
            .await;
        let inputs = PlanInputs {
            namespace: Some(namespace),
            role_mapping: mapping.as_deref(),
            container_credentials: cc.as_deref(),
            // The planner draws no randomness: a fresh value per request spreads refreshes.
            jitter: Jitter(rand::random()),
        };
        // A planner bug must not drop the connection (the API server would then apply the
        // failure policy): a panic is treated like any other internal error.
        let planned = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            plan_mutation(&review.pod, identity.as_ref(), &self.mutation, &inputs)
        }));
        let plan = match planned {
            Ok(Ok(plan)) => plan,
            Err(_) => {
                self.metrics.patch_errors.inc();
                tracing::error!(uid = %review.uid, namespace, service_account = sa_name,
                    "the planner panicked; admitting the pod unmutated");
                return ReviewOut::allow(review.api_version, review.kind, review.uid);
            }
            Ok(Err(e)) => {
                self.metrics.patch_errors.inc();
                tracing::error!(uid = %review.uid, namespace, service_account = sa_name, error = %e,
                    "cannot build a patch; admitting the pod unmutated");
                return ReviewOut::allow(review.api_version, review.kind, review.uid);
            }
        };
        if plan.missing_service_account {
            self.metrics.missing_sa_count.inc();
        }
        if let Some(method) = plan.method {
            self.metrics.pod_mutated(method.metric_label());
        }
        if plan.patch.is_empty() {
            tracing::debug!(uid = %review.uid, namespace, service_account = sa_name, "pod not mutated");
            return ReviewOut::allow(review.api_version, review.kind, review.uid);
        }
        match patch_json(&plan.patch) {
            Ok(patch) => {
                tracing::debug!(uid = %review.uid, namespace, service_account = sa_name,
                    operations = plan.patch.len(), "pod mutated");
                ReviewOut::allow_with_patch(review.api_version, review.kind, review.uid, patch)
            }
            Err(e) => {
                self.metrics.patch_errors.inc();
                tracing::error!(uid = %review.uid, error = %e, "cannot serialise the patch; admitting the pod unmutated");
                ReviewOut::allow(review.api_version, review.kind, review.uid)
            }
        }
    }
}

fn text(status: StatusCode, body: &'static str) -> Response {
    (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        )],
        body,
    )
        .into_response()
}

fn json_response(review: &ReviewOut) -> Response {
    match review.to_json() {
        Ok(bytes) => (
            StatusCode::OK,
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            )],
            bytes,
        )
            .into_response(),
        // Our own types always serialise; answer something the API server can act on anyway.
        Err(_) => text(
            StatusCode::INTERNAL_SERVER_ERROR,
            "cannot encode the AdmissionReview\n",
        ),
    }
}

/// `application/json`, optionally with parameters (`; charset=utf-8`).
fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|t| t.trim().eq_ignore_ascii_case("application/json"))
}

async fn mutate(
    State(state): State<Arc<AppState>>,
    method: HttpMethod,
    headers: HeaderMap,
    body: Body,
) -> Response {
    // The API server only POSTs reviews; anything else is refused before its body is read.
    if method != HttpMethod::POST {
        let mut response = text(StatusCode::METHOD_NOT_ALLOWED, "only POST is allowed\n");
        response
            .headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("POST"));
        return response;
    }
    if !is_json(&headers) {
        state.metrics.bad_requests.inc();
        return text(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Invalid Content-Type, expected `application/json`\n",
        );
    }
    let too_large = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok())
        .is_some_and(|n| n > MAX_BODY_BYTES);
    if too_large {
        state.metrics.bad_requests.inc();
        return text(
            StatusCode::PAYLOAD_TOO_LARGE,
            "AdmissionReview larger than 3 MiB\n",
        );
    }
    let bytes = match axum::body::to_bytes(body, MAX_BODY_BYTES).await {
        Ok(b) => b,
        Err(e) => {
            state.metrics.bad_requests.inc();
            // Length-limit errors are the only ones a client can cause on purpose.
            let is_limit = std::error::Error::source(&e)
                .is_some_and(|s| s.to_string().contains("length limit"))
                || e.to_string().contains("length limit");
            return if is_limit {
                text(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "AdmissionReview larger than 3 MiB\n",
                )
            } else {
                text(StatusCode::BAD_REQUEST, "cannot read the request body\n")
            };
        }
    };
    json_response(&state.admit(&bytes).await)
}

async fn healthz() -> Response {
    text(StatusCode::OK, "ok")
}

async fn readyz(State(state): State<Arc<AppState>>) -> Response {
    if state.is_ready() {
        text(StatusCode::OK, "ok")
    } else {
        text(
            StatusCode::SERVICE_UNAVAILABLE,
            "ServiceAccount cache not synced\n",
        )
    }
}

async fn debug_deny() -> Response {
    json_response(&ReviewOut::deny(
        None,
        None,
        String::new(),
        "Test deny message".to_string(),
    ))
}

async fn debug_500() -> Response {
    text(StatusCode::INTERNAL_SERVER_ERROR, "test error")
}

/// Records upstream's request metrics for every request on the admission listener.
async fn instrument(
    State(state): State<Arc<AppState>>,
    method: HttpMethod,
    uri: Uri,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let start = Instant::now();
    let response = next.run(request).await;
    let micros = start.elapsed().as_secs_f64() * 1e6;
    state.metrics.observe_request(
        method.as_str(),
        uri.path(),
        response.status().as_u16(),
        micros,
    );
    response
}

/// The admission router (TLS listener).
pub fn admission_router(state: Arc<AppState>) -> Router {
    let mut router = Router::new().route("/mutate", any(mutate));
    if state.debug_handlers {
        router = router
            .route("/debug/alpha/deny", any(debug_deny))
            .route("/debug/alpha/500", any(debug_500));
    }
    router = router.route_layer(axum::middleware::from_fn_with_state(
        state.clone(),
        instrument,
    ));
    router
        .route("/healthz", any(healthz))
        .route("/readyz", any(readyz))
        .with_state(state)
}

async fn metrics_handler(State(state): State<Arc<AppState>>) -> Response {
    (
        StatusCode::OK,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
        )],
        state.metrics.render(),
    )
        .into_response()
}

async fn debug_cache(State(state): State<Arc<AppState>>) -> Response {
    match serde_json::to_vec_pretty(&state.cache.dump()) {
        Ok(bytes) => (
            StatusCode::OK,
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            )],
            bytes,
        )
            .into_response(),
        Err(_) => text(
            StatusCode::INTERNAL_SERVER_ERROR,
            "cannot encode the cache\n",
        ),
    }
}

async fn debug_cache_clear(State(state): State<Arc<AppState>>) -> Response {
    state.cache.clear();
    text(StatusCode::OK, "ok")
}

/// The metrics router (plain HTTP listener).
pub fn metrics_router(state: Arc<AppState>) -> Router {
    let mut router = Router::new().route("/metrics", get(metrics_handler));
    if state.debug_handlers {
        router = router
            .route("/debug/alpha/cache", get(debug_cache))
            .route("/debug/alpha/cache/clear", any(debug_cache_clear));
    }
    router.with_state(state)
}

/// Binds a TCP listener.
pub async fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    TcpListener::bind(addr).await
}

/// The JSON Patch as bytes, written straight from the typed plan into a buffer sized for a
/// typical pod's patch (about 1 KiB), so that writing it does not grow it from empty.
fn patch_json(patch: &PlannedPatch<'_>) -> serde_json::Result<Vec<u8>> {
    let mut out = Vec::with_capacity(PATCH_CAPACITY);
    patch.write_json(&mut out)?;
    Ok(out)
}

/// Starting size of the patch buffer: the benchmark's two-container pod needs 1,068 bytes.
const PATCH_CAPACITY: usize = 2048;
