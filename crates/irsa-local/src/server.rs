//! The HTTP server: one listener for the AWS Query APIs (IAM and STS on `/`), the
//! clusters' OIDC documents (path-style, like S3) and the private `/_irsa/…` endpoints.
//!
//! AWS clients only ever talk to `/` with an `Action` parameter, so the private endpoints
//! (token minting for `irsa local token`/`exec`) live under `/_irsa/` where no AWS client
//! goes by accident, and accept only JSON.

use std::future::Future;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};
use tower_http::limit::RequestBodyLimitLayer;

use crate::query::{QueryRequest, parse_params};
use crate::state::SharedState;
use crate::xml::{self, AwsError, IAM_NAMESPACE, STS_NAMESPACE};

/// Largest request body accepted (a trust policy is at most 128 KiB, a token 20000 chars).
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// The IAM actions this server implements.
pub const IAM_ACTIONS: &[&str] = &[
    "CreateOpenIDConnectProvider",
    "GetOpenIDConnectProvider",
    "ListOpenIDConnectProviders",
    "DeleteOpenIDConnectProvider",
    "AddClientIDToOpenIDConnectProvider",
    "RemoveClientIDFromOpenIDConnectProvider",
    "UpdateOpenIDConnectProviderThumbprint",
    "TagOpenIDConnectProvider",
    "UntagOpenIDConnectProvider",
    "ListOpenIDConnectProviderTags",
    "CreateRole",
    "GetRole",
    "ListRoles",
    "DeleteRole",
    "UpdateAssumeRolePolicy",
    "UpdateRole",
];

async fn query_handler(
    State(state): State<SharedState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let request_id = xml::new_request_id();
    let params = match parse_params(&uri, &body) {
        Ok(p) => p,
        Err(e) => {
            let ns = if body_mentions_iam(&uri, &body) {
                IAM_NAMESPACE
            } else {
                STS_NAMESPACE
            };
            return e.to_response(ns, &request_id);
        }
    };
    let req = QueryRequest {
        request_id,
        method,
        uri,
        headers,
        body,
        params,
    };
    dispatch(&state, req).await
}

fn body_mentions_iam(uri: &Uri, body: &[u8]) -> bool {
    let needle = b"2010-05-08";
    uri.query().is_some_and(|q| q.contains("2010-05-08"))
        || body.windows(needle.len()).any(|w| w == needle)
}

/// Routes a Query request by `Action` to IAM or STS.
pub async fn dispatch(state: &SharedState, req: QueryRequest) -> Response {
    let action = req.action().to_string();
    match action.as_str() {
        "AssumeRoleWithWebIdentity" => crate::sts::assume_role_with_web_identity(state, &req).await,
        "GetCallerIdentity" => crate::sts::get_caller_identity(state, &req).await,
        a if IAM_ACTIONS.contains(&a) => crate::iam::handle(state, &req).await,
        "" => {
            let namespace = if req.param("Version") == Some("2010-05-08") {
                IAM_NAMESPACE
            } else {
                STS_NAMESPACE
            };
            AwsError::new(StatusCode::BAD_REQUEST, "MissingAction", "Missing Action")
                .to_response(namespace, &req.request_id)
        }
        other => {
            let namespace = if req.param("Version") == Some("2010-05-08") {
                IAM_NAMESPACE
            } else {
                STS_NAMESPACE
            };
            AwsError::invalid_action(other).to_response(namespace, &req.request_id)
        }
    }
}

/// Body of `POST /_irsa/token`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TokenRequest {
    /// Cluster name.
    pub cluster: String,
    /// Namespace of the service account.
    pub namespace: String,
    /// Service account name.
    pub service_account: String,
    /// Audience; default the cluster partition's (`sts.amazonaws.com`, or
    /// `sts.amazonaws.com.cn` for a China cluster).
    #[serde(default)]
    pub audience: Option<String>,
    /// Lifetime in seconds; default 86400 (the webhook's default).
    #[serde(default)]
    pub expiration_seconds: Option<i64>,
    /// Issue time, UNIX seconds; default now (back-date to test expiry).
    #[serde(default)]
    pub now: Option<i64>,
}

/// Answer of `POST /_irsa/token`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TokenResponse {
    /// The signed JWT.
    pub token: String,
    /// The issuer.
    pub issuer: String,
    /// The cluster's region.
    pub region: String,
    /// The cluster's account.
    pub account: String,
    /// Expiry, UNIX seconds.
    pub expiration: i64,
}

#[derive(Debug, Serialize)]
struct JsonError {
    error: String,
}

fn json_error(status: StatusCode, message: String) -> Response {
    (status, axum::Json(JsonError { error: message })).into_response()
}

async fn token_handler(
    State(state): State<SharedState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let is_json = headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !is_json {
        return json_error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "POST /_irsa/token takes Content-Type: application/json".into(),
        );
    }
    let request: TokenRequest = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => {
            return json_error(
                StatusCode::BAD_REQUEST,
                format!("invalid token request: {e}"),
            );
        }
    };
    let Some(cluster) = state.clusters.get(&request.cluster) else {
        return json_error(
            StatusCode::NOT_FOUND,
            format!(
                "no cluster named {:?}; clusters: {}",
                request.cluster,
                state.clusters.names().join(", ")
            ),
        );
    };
    let now = request.now.unwrap_or_else(|| state.clock.now());
    let expiration = request
        .expiration_seconds
        .unwrap_or(irsa_core::mutation::DEFAULT_TOKEN_EXPIRATION);
    let audience = request
        .audience
        .clone()
        .unwrap_or_else(|| cluster.default_audience().to_owned());
    match cluster.mint(
        &request.namespace,
        &request.service_account,
        &audience,
        expiration,
        now,
    ) {
        Ok(token) => axum::Json(TokenResponse {
            token,
            issuer: cluster.issuer.clone(),
            region: cluster.region.clone(),
            account: cluster.account.clone(),
            expiration: now + expiration,
        })
        .into_response(),
        Err(e) => json_error(StatusCode::BAD_REQUEST, e.to_string()),
    }
}

async fn health() -> &'static str {
    "ok\n"
}

/// Serves `<issuer path>/.well-known/openid-configuration` and `<issuer path>/keys.json`.
async fn documents(State(state): State<SharedState>, request: Request) -> Response {
    if request.method() != Method::GET && request.method() != Method::HEAD {
        return StatusCode::NOT_FOUND.into_response();
    }
    let path = request.uri().path();
    let under = |file: &str| path.strip_suffix(file).and_then(|p| p.strip_suffix('/'));
    let (prefix, document) = if let Some(p) = under(irsa_core::issuer::DISCOVERY_PATH) {
        (p, "discovery")
    } else if let Some(p) = under(irsa_core::issuer::JWKS_PATH) {
        (p, "jwks")
    } else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let Some(cluster) = state.clusters.by_path_prefix(prefix) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let documents = cluster.documents();
    let body = if document == "discovery" {
        &documents.discovery
    } else {
        &documents.jwks
    };
    (
        [(
            axum::http::header::CONTENT_TYPE,
            irsa_provision::spec::CONTENT_TYPE,
        )],
        body.clone(),
    )
        .into_response()
}

/// The body limit answers 413 itself (tower-http for a large `Content-Length`, axum's
/// `Bytes` extractor for a streamed body), as text/plain; clients of a Query API parse the
/// XML error envelope, so the 413 is rewritten into it here.
async fn too_large_as_aws_error(response: Response) -> Response {
    if response.status() != StatusCode::PAYLOAD_TOO_LARGE {
        return response;
    }
    AwsError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "RequestEntityTooLarge",
        format!("Request body must be at most {MAX_BODY_BYTES} bytes"),
    )
    .to_response(STS_NAMESPACE, &xml::new_request_id())
}

/// The router with all routes and the body limit. The time a request may take is bounded by
/// [`irsa_runtime::serve`] around the router ([`irsa_runtime::ServeLimits`]'s
/// `request_timeout`, answered with 408), so the router adds no timer of its own to every
/// request.
pub fn router(state: SharedState) -> Router {
    Router::new()
        .route("/", get(query_handler).post(query_handler))
        .route("/_irsa/token", post(token_handler))
        .route("/_irsa/health", get(health))
        .fallback(documents)
        .layer(RequestBodyLimitLayer::new(MAX_BODY_BYTES))
        .layer(axum::middleware::map_response(too_large_as_aws_error))
        .with_state(state)
}

/// Serves `router(state)` on `listener` until `shutdown` resolves, then drains for at most
/// 10 s, with [`irsa_runtime::serve`]'s bounds on every connection.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: SharedState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    irsa_runtime::serve(
        listener,
        None,
        router(state),
        irsa_runtime::ServeLimits::default(),
        shutdown,
    )
    .await;
    Ok(())
}
