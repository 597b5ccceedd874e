//! The client side of the private endpoints, for `irsa local token` and `irsa local exec`.
//!
//! Tokens are minted by the running server (it holds the cluster keys), never by reading
//! the data directory, so the commands work against a server started anywhere and never
//! race its database lock.

use std::time::Duration;

use crate::server::{TokenRequest, TokenResponse};

/// Default endpoint of `irsa local`.
pub const DEFAULT_ENDPOINT: &str = "http://127.0.0.1:8787";

/// Why a token could not be obtained.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The server could not be reached.
    #[error("cannot reach irsa local at {endpoint}: {source} (is `irsa local` running?)")]
    Connect {
        /// The `irsa local` base URL that was called.
        endpoint: String,
        /// reqwest's error (connection refused, timeout…).
        source: reqwest::Error,
    },
    /// The server refused the request.
    #[error("irsa local at {endpoint} refused the token request ({status}): {message}")]
    Refused {
        /// The `irsa local` base URL that was called.
        endpoint: String,
        /// HTTP status.
        status: u16,
        /// The server's message.
        message: String,
    },
    /// The answer is not a token response.
    #[error("irsa local at {endpoint} answered something that is not a token: {source}")]
    BadAnswer {
        /// The `irsa local` base URL that was called.
        endpoint: String,
        /// reqwest's error decoding the body.
        source: reqwest::Error,
    },
}

/// Asks the server at `endpoint` to mint a token.
pub async fn mint_token(
    endpoint: &str,
    request: &TokenRequest,
) -> Result<TokenResponse, ClientError> {
    let endpoint = endpoint.trim_end_matches('/').to_string();
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .map_err(|source| ClientError::Connect {
            endpoint: endpoint.clone(),
            source,
        })?;
    let response = client
        .post(format!("{endpoint}/_irsa/token"))
        .json(request)
        .send()
        .await
        .map_err(|source| ClientError::Connect {
            endpoint: endpoint.clone(),
            source,
        })?;
    let status = response.status();
    if !status.is_success() {
        let body = response.text().await.unwrap_or_default();
        let message = serde_json::from_str::<serde_json::Value>(&body)
            .ok()
            .and_then(|v| v.get("error").and_then(|e| e.as_str()).map(str::to_string))
            .unwrap_or(body);
        return Err(ClientError::Refused {
            endpoint,
            status: status.as_u16(),
            message,
        });
    }
    response
        .json::<TokenResponse>()
        .await
        .map_err(|source| ClientError::BadAnswer { endpoint, source })
}
