//! One HTTP GET under the client's rules: URL check (also on redirects), timeouts, size cap.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;

use crate::IssuerError;
use crate::url::check_fetch_url;

/// Largest discovery document or JWKS accepted, so a hostile issuer cannot exhaust memory.
pub const MAX_DOCUMENT_BYTES: usize = 1024 * 1024;

/// Redirects followed at most per GET.
const MAX_REDIRECTS: usize = 3;

/// One GET; a trait so the cache logic is testable without a network.
pub trait Fetch: Send + Sync + 'static {
    /// Fetches `url` and returns the body of a 2xx answer.
    fn get(&self, url: &str) -> impl Future<Output = Result<Bytes, FetchError>> + Send;
}

/// A failed GET, already classified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FetchError {
    /// Connect, TLS, timeout or 5xx: the issuer could not be reached.
    Transport(String),
    /// The server answered, with a status or body that cannot be used (4xx, too large).
    Rejected(String),
    /// The URL (or a redirect target) breaks [`check_fetch_url`]; nothing was sent to it.
    BadUrl(String),
}

/// The production fetcher: reqwest on the client's rustls configuration.
#[derive(Debug, Clone)]
pub struct HttpsFetch {
    client: reqwest::Client,
}

impl HttpsFetch {
    /// A fetcher trusting what `tls` trusts, with `timeout` on connect and on each request.
    pub fn new(tls: Arc<rustls::ClientConfig>, timeout: Duration) -> Result<Self, IssuerError> {
        let redirect = reqwest::redirect::Policy::custom(|attempt| {
            if attempt.previous().len() >= MAX_REDIRECTS {
                attempt.error(format!("more than {MAX_REDIRECTS} redirects"))
            } else if let Err(rule) = check_fetch_url(attempt.url().as_str()) {
                let target = attempt.url().to_string();
                attempt.error(format!("redirect to {target}: {rule}"))
            } else {
                attempt.follow()
            }
        });
        let client = reqwest::Client::builder()
            .tls_backend_preconfigured(rustls::ClientConfig::clone(&tls))
            .timeout(timeout)
            .connect_timeout(timeout)
            .redirect(redirect)
            .user_agent(concat!("irsa/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| IssuerError::Client(error_chain(&e)))?;
        Ok(Self { client })
    }
}

impl Fetch for HttpsFetch {
    async fn get(&self, url: &str) -> Result<Bytes, FetchError> {
        check_fetch_url(url).map_err(FetchError::BadUrl)?;
        let transport = |e: reqwest::Error| {
            if e.is_redirect() {
                FetchError::Rejected(error_chain(&e))
            } else {
                FetchError::Transport(error_chain(&e))
            }
        };
        let mut response = self.client.get(url).send().await.map_err(transport)?;
        let status = response.status();
        if status.is_server_error() {
            return Err(FetchError::Transport(format!("HTTP status {status}")));
        }
        if !status.is_success() {
            return Err(FetchError::Rejected(format!("HTTP status {status}")));
        }
        let too_large =
            || FetchError::Rejected(format!("body larger than {MAX_DOCUMENT_BYTES} bytes"));
        if response
            .content_length()
            .is_some_and(|len| len > MAX_DOCUMENT_BYTES as u64)
        {
            return Err(too_large());
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(transport)? {
            if body.len() + chunk.len() > MAX_DOCUMENT_BYTES {
                return Err(too_large());
            }
            body.extend_from_slice(&chunk);
        }
        Ok(Bytes::from(body))
    }
}

/// reqwest's Display hides the cause ("error sending request"); the chain names it.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
