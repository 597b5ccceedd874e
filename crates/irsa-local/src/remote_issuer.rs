//! Verification keys of issuers that `irsa local` does not host itself.
//!
//! A token whose `iss` is one of the local clusters is verified against that cluster's key
//! directly. Any other issuer that has an IAM OIDC provider in the role's account is resolved
//! the way AWS STS does it: `GET <iss>/.well-known/openid-configuration` over HTTPS, the
//! document's `issuer` must equal the token's `iss` byte for byte, then `GET jwks_uri`.
//!
//! The key set is cached per issuer, because STS answers must not cost two TLS round trips
//! each. A token whose `kid` is not in the cached set triggers one re-fetch (key rotation on
//! the issuer), but at most one per issuer every [`RemoteIssuerConfig::min_refetch_interval`]:
//! otherwise anybody could make the server hammer an identity provider with made-up `kid`s.
//! Concurrent misses for one issuer share a single fetch.
//!
//! Failures are split as the reference describes: the provider could not be reached (connect,
//! TLS, timeout, 5xx) is `IDPCommunicationError`, which SDKs retry; the provider answered with
//! something unusable (404, not JSON, wrong `issuer`, no keys) is `InvalidIdentityToken` with
//! AWS's "Couldn't retrieve verification key" text.

use std::collections::HashMap;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use bytes::Bytes;

/// Largest discovery document or JWKS accepted, so a hostile issuer cannot exhaust memory.
pub const MAX_DOCUMENT_BYTES: usize = 1024 * 1024;

/// How `irsa local` reaches remote issuers.
#[derive(Debug, Clone)]
pub struct RemoteIssuerConfig {
    /// PEM bundle that replaces the system roots (`--ca-file`), for self-signed identity providers.
    pub ca_file: Option<PathBuf>,
    /// Whole-request timeout for each HTTPS GET.
    pub timeout: Duration,
    /// A cached key set is used for at most this long before it is fetched again.
    pub ttl: Duration,
    /// Minimum time between two fetches for one issuer triggered by an unknown `kid`.
    pub min_refetch_interval: Duration,
}

impl Default for RemoteIssuerConfig {
    fn default() -> Self {
        Self {
            ca_file: None,
            timeout: Duration::from_secs(10),
            ttl: Duration::from_secs(15 * 60),
            min_refetch_interval: Duration::from_secs(10),
        }
    }
}

/// Why the keys of a remote issuer could not be obtained.
#[derive(Debug, thiserror::Error)]
pub enum RemoteIssuerError {
    /// The identity provider could not be reached or answered with a server error.
    #[error("identity provider unreachable: GET {url} failed: {reason}")]
    Unreachable { url: String, reason: String },
    /// The identity provider answered, but not with a usable discovery document or key set.
    #[error("identity provider answered GET {url} with an unusable document: {reason}")]
    Unusable { url: String, reason: String },
    /// The issuer is not an `https://` URL, so it is never fetched.
    #[error("issuer {issuer} is not fetched: remote issuers must be https:// URLs")]
    NotHttps { issuer: String },
    /// `--ca-file` could not be read or holds no certificate.
    #[error("--ca-file {path}: {reason}")]
    CaFile { path: String, reason: String },
    /// The HTTP client could not be built.
    #[error("cannot build the HTTPS client for remote issuers: {0}")]
    Client(String),
}

impl RemoteIssuerError {
    /// The STS error code a caller sees for this failure.
    pub fn sts_code(&self) -> &'static str {
        match self {
            Self::Unreachable { .. } | Self::Client(_) | Self::CaFile { .. } => {
                "IDPCommunicationError"
            }
            Self::Unusable { .. } | Self::NotHttps { .. } => "InvalidIdentityToken",
        }
    }
}

/// A parsed JSON Web Key Set, as the verifier wants it.
pub trait KeySet: Send + Sync + Sized + 'static {
    /// Parses the body of `jwks_uri`.
    fn parse(json: &[u8]) -> Result<Self, String>;
    /// Whether a key with this `kid` is in the set.
    fn has_kid(&self, kid: &str) -> bool;
}

/// One HTTPS GET; a trait so the cache logic is testable without a network.
pub trait Fetch: Send + Sync + 'static {
    /// Fetches `url` and returns the body of a 2xx answer.
    fn get(&self, url: &str) -> impl Future<Output = Result<Bytes, FetchError>> + Send;
}

/// A failed GET, already classified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FetchError {
    /// Connect, TLS, timeout or 5xx.
    Transport(String),
    /// The server answered, with a status or body that cannot be used (4xx, too large).
    Rejected(String),
}

/// The production fetcher: reqwest with rustls, system roots or `--ca-file`, HTTPS only.
#[derive(Debug, Clone)]
pub struct HttpsFetch {
    client: reqwest::Client,
}

impl HttpsFetch {
    /// Builds the client from the configuration.
    pub fn new(config: &RemoteIssuerConfig) -> Result<Self, RemoteIssuerError> {
        let mut builder = reqwest::Client::builder()
            .https_only(true)
            .timeout(config.timeout)
            .connect_timeout(config.timeout)
            .redirect(reqwest::redirect::Policy::limited(3))
            .user_agent(concat!("irsa-local/", env!("CARGO_PKG_VERSION")));
        if let Some(path) = &config.ca_file {
            builder = builder.tls_certs_only(load_ca_file(path)?);
        }
        let client = builder
            .build()
            .map_err(|e| RemoteIssuerError::Client(e.to_string()))?;
        Ok(Self { client })
    }
}

fn load_ca_file(path: &Path) -> Result<Vec<reqwest::Certificate>, RemoteIssuerError> {
    let ca_error = |reason: String| RemoteIssuerError::CaFile {
        path: path.display().to_string(),
        reason,
    };
    let pem = std::fs::read(path).map_err(|e| ca_error(e.to_string()))?;
    let certs = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| ca_error(e.to_string()))?;
    if certs.is_empty() {
        return Err(ca_error("no PEM CERTIFICATE block in the file".to_owned()));
    }
    Ok(certs)
}

impl Fetch for HttpsFetch {
    async fn get(&self, url: &str) -> Result<Bytes, FetchError> {
        let transport = |e: reqwest::Error| FetchError::Transport(error_chain(&e));
        let mut response = self.client.get(url).send().await.map_err(transport)?;
        let status = response.status();
        if status.is_server_error() {
            return Err(FetchError::Transport(format!("HTTP status {status}")));
        }
        if !status.is_success() {
            return Err(FetchError::Rejected(format!("HTTP status {status}")));
        }
        if response
            .content_length()
            .is_some_and(|len| len > MAX_DOCUMENT_BYTES as u64)
        {
            return Err(FetchError::Rejected(format!(
                "body larger than {MAX_DOCUMENT_BYTES} bytes"
            )));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(transport)? {
            if body.len() + chunk.len() > MAX_DOCUMENT_BYTES {
                return Err(FetchError::Rejected(format!(
                    "body larger than {MAX_DOCUMENT_BYTES} bytes"
                )));
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

/// The discovery URL of an issuer: the path-style issuer keeps its path.
pub fn discovery_url(issuer: &str) -> String {
    format!(
        "{}/.well-known/openid-configuration",
        issuer.trim_end_matches('/')
    )
}

/// Checks a discovery document and returns its `jwks_uri`.
///
/// The fields AWS was seen to require are required here too; `issuer` must equal the token's.
pub fn jwks_uri_from_discovery(issuer: &str, document: &[u8]) -> Result<String, String> {
    let value: serde_json::Value =
        serde_json::from_slice(document).map_err(|e| format!("not JSON: {e}"))?;
    let object = value
        .as_object()
        .ok_or_else(|| "not a JSON object".to_owned())?;
    let doc_issuer = object
        .get("issuer")
        .and_then(serde_json::Value::as_str)
        .ok_or_else(|| "no string member \"issuer\"".to_owned())?;
    if doc_issuer != issuer {
        return Err(format!(
            "\"issuer\" is {doc_issuer:?} but the token's iss is {issuer:?}; they must be equal"
        ));
    }
    for required in [
        "response_types_supported",
        "subject_types_supported",
        "id_token_signing_alg_values_supported",
    ] {
        if !object
            .get(required)
            .is_some_and(serde_json::Value::is_array)
        {
            return Err(format!("no array member {required:?}"));
        }
    }
    let jwks_uri = object
        .get("jwks_uri")
        .and_then(serde_json::Value::as_str)
        .ok_or_else(|| "no string member \"jwks_uri\"".to_owned())?;
    if !jwks_uri.starts_with("https://") {
        return Err(format!("\"jwks_uri\" {jwks_uri:?} is not an https:// URL"));
    }
    Ok(jwks_uri.to_owned())
}

struct Entry<K> {
    keys: Arc<K>,
    fetched: Instant,
}

struct IssuerSlot<K> {
    cached: Mutex<Option<Entry<K>>>,
    /// Serialises fetches for one issuer so that concurrent misses share one.
    fetching: tokio::sync::Mutex<()>,
}

/// Cache of remote issuers' key sets.
pub struct RemoteIssuers<K, F = HttpsFetch> {
    fetch: F,
    config: RemoteIssuerConfig,
    slots: Mutex<HashMap<String, Arc<IssuerSlot<K>>>>,
}

impl<K: KeySet> RemoteIssuers<K, HttpsFetch> {
    /// The production cache, fetching over HTTPS.
    pub fn new(config: RemoteIssuerConfig) -> Result<Self, RemoteIssuerError> {
        let fetch = HttpsFetch::new(&config)?;
        Ok(Self::with_fetch(config, fetch))
    }
}

impl<K: KeySet, F: Fetch> RemoteIssuers<K, F> {
    /// A cache over any fetcher.
    pub fn with_fetch(config: RemoteIssuerConfig, fetch: F) -> Self {
        Self {
            fetch,
            config,
            slots: Mutex::new(HashMap::new()),
        }
    }

    fn slot(&self, issuer: &str) -> Arc<IssuerSlot<K>> {
        let mut slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
        Arc::clone(slots.entry(issuer.to_owned()).or_insert_with(|| {
            Arc::new(IssuerSlot {
                cached: Mutex::new(None),
                fetching: tokio::sync::Mutex::new(()),
            })
        }))
    }

    /// Returns the issuer's key set, fetching it when absent, stale, or when `kid` is not in it
    /// (rate-limited). A set without `kid` may still be returned: the verifier then reports the
    /// unknown key.
    pub async fn keys(&self, issuer: &str, kid: Option<&str>) -> Result<Arc<K>, RemoteIssuerError> {
        if !issuer.starts_with("https://") {
            return Err(RemoteIssuerError::NotHttps {
                issuer: issuer.to_owned(),
            });
        }
        let slot = self.slot(issuer);
        if let Some(keys) = self.usable(&slot, kid, Instant::now()) {
            return Ok(keys);
        }
        let _fetching = slot.fetching.lock().await;
        // Another task may have fetched while this one waited.
        if let Some(keys) = self.usable(&slot, kid, Instant::now()) {
            return Ok(keys);
        }
        let keys = Arc::new(self.fetch_keys(issuer).await?);
        let mut cached = slot.cached.lock().unwrap_or_else(PoisonError::into_inner);
        *cached = Some(Entry {
            keys: Arc::clone(&keys),
            fetched: Instant::now(),
        });
        Ok(keys)
    }

    /// The cached set if it may be used without fetching.
    fn usable(&self, slot: &IssuerSlot<K>, kid: Option<&str>, now: Instant) -> Option<Arc<K>> {
        let cached = slot.cached.lock().unwrap_or_else(PoisonError::into_inner);
        let entry = cached.as_ref()?;
        let age = now.saturating_duration_since(entry.fetched);
        if age >= self.config.ttl {
            return None;
        }
        match kid {
            Some(kid) if !entry.keys.has_kid(kid) && age >= self.config.min_refetch_interval => {
                None
            }
            _ => Some(Arc::clone(&entry.keys)),
        }
    }

    async fn fetch_keys(&self, issuer: &str) -> Result<K, RemoteIssuerError> {
        let discovery = discovery_url(issuer);
        let document = self.get(&discovery).await?;
        let jwks_uri = jwks_uri_from_discovery(issuer, &document).map_err(|reason| {
            RemoteIssuerError::Unusable {
                url: discovery.clone(),
                reason,
            }
        })?;
        let jwks = self.get(&jwks_uri).await?;
        K::parse(&jwks).map_err(|reason| RemoteIssuerError::Unusable {
            url: jwks_uri,
            reason,
        })
    }

    async fn get(&self, url: &str) -> Result<Bytes, RemoteIssuerError> {
        self.fetch.get(url).await.map_err(|e| match e {
            FetchError::Transport(reason) => RemoteIssuerError::Unreachable {
                url: url.to_owned(),
                reason,
            },
            FetchError::Rejected(reason) => RemoteIssuerError::Unusable {
                url: url.to_owned(),
                reason,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A key set that is just the list of kids.
    #[derive(Debug)]
    struct Kids(Vec<String>);

    impl KeySet for Kids {
        fn parse(json: &[u8]) -> Result<Self, String> {
            let value: serde_json::Value =
                serde_json::from_slice(json).map_err(|e| e.to_string())?;
            let keys = value
                .get("keys")
                .and_then(|k| k.as_array())
                .ok_or("no keys")?;
            if keys.is_empty() {
                return Err("empty key set".into());
            }
            Ok(Kids(
                keys.iter()
                    .filter_map(|k| k.get("kid").and_then(|v| v.as_str()).map(str::to_owned))
                    .collect(),
            ))
        }
        fn has_kid(&self, kid: &str) -> bool {
            self.0.iter().any(|k| k == kid)
        }
    }

    const ISSUER: &str = "https://idp.example.com/tenant";

    /// Serves a discovery document and a JWKS whose kids can change; counts GETs.
    struct FakeIdp {
        kids: Mutex<Vec<&'static str>>,
        discovery_issuer: &'static str,
        jwks_result: Option<FetchError>,
        discovery_result: Option<FetchError>,
        gets: AtomicUsize,
    }

    impl FakeIdp {
        fn new(kids: &[&'static str]) -> Self {
            Self {
                kids: Mutex::new(kids.to_vec()),
                discovery_issuer: ISSUER,
                jwks_result: None,
                discovery_result: None,
                gets: AtomicUsize::new(0),
            }
        }
    }

    impl Fetch for Arc<FakeIdp> {
        async fn get(&self, url: &str) -> Result<Bytes, FetchError> {
            self.gets.fetch_add(1, Ordering::SeqCst);
            if url == "https://idp.example.com/tenant/.well-known/openid-configuration" {
                if let Some(e) = &self.discovery_result {
                    return Err(e.clone());
                }
                let doc = serde_json::json!({
                    "issuer": self.discovery_issuer,
                    "jwks_uri": "https://idp.example.com/tenant/keys",
                    "response_types_supported": ["id_token"],
                    "subject_types_supported": ["public"],
                    "id_token_signing_alg_values_supported": ["RS256"],
                });
                return Ok(Bytes::from(doc.to_string()));
            }
            if url == "https://idp.example.com/tenant/keys" {
                if let Some(e) = &self.jwks_result {
                    return Err(e.clone());
                }
                let kids = self.kids.lock().unwrap().clone();
                let keys: Vec<_> = kids.iter().map(|k| serde_json::json!({"kid": k})).collect();
                return Ok(Bytes::from(serde_json::json!({ "keys": keys }).to_string()));
            }
            Err(FetchError::Rejected(format!("HTTP status 404 for {url}")))
        }
    }

    fn cache(idp: &Arc<FakeIdp>, config: RemoteIssuerConfig) -> RemoteIssuers<Kids, Arc<FakeIdp>> {
        RemoteIssuers::with_fetch(config, Arc::clone(idp))
    }

    #[tokio::test]
    async fn fetches_once_then_serves_from_cache() {
        let idp = Arc::new(FakeIdp::new(&["k1"]));
        let issuers = cache(&idp, RemoteIssuerConfig::default());
        let keys = issuers.keys(ISSUER, Some("k1")).await.unwrap();
        assert!(keys.has_kid("k1"));
        issuers.keys(ISSUER, Some("k1")).await.unwrap();
        assert_eq!(idp.gets.load(Ordering::SeqCst), 2, "discovery + jwks, once");
    }

    #[tokio::test]
    async fn unknown_kid_refetches_after_the_minimum_interval_only() {
        let idp = Arc::new(FakeIdp::new(&["old"]));
        let config = RemoteIssuerConfig {
            min_refetch_interval: Duration::from_millis(50),
            ..RemoteIssuerConfig::default()
        };
        let issuers = cache(&idp, config);
        issuers.keys(ISSUER, Some("old")).await.unwrap();
        *idp.kids.lock().unwrap() = vec!["old", "new"];
        // Within the interval the cached set is returned, without the new key.
        let keys = issuers.keys(ISSUER, Some("new")).await.unwrap();
        assert!(!keys.has_kid("new"));
        assert_eq!(idp.gets.load(Ordering::SeqCst), 2);
        tokio::time::sleep(Duration::from_millis(60)).await;
        let keys = issuers.keys(ISSUER, Some("new")).await.unwrap();
        assert!(keys.has_kid("new"), "rotation picked up by the re-fetch");
        assert_eq!(idp.gets.load(Ordering::SeqCst), 4);
        // A known kid never refetches.
        issuers.keys(ISSUER, Some("old")).await.unwrap();
        assert_eq!(idp.gets.load(Ordering::SeqCst), 4);
    }

    #[tokio::test]
    async fn stale_sets_are_refetched() {
        let idp = Arc::new(FakeIdp::new(&["k1"]));
        let config = RemoteIssuerConfig {
            ttl: Duration::from_millis(20),
            ..RemoteIssuerConfig::default()
        };
        let issuers = cache(&idp, config);
        issuers.keys(ISSUER, None).await.unwrap();
        tokio::time::sleep(Duration::from_millis(30)).await;
        issuers.keys(ISSUER, None).await.unwrap();
        assert_eq!(idp.gets.load(Ordering::SeqCst), 4);
    }

    #[tokio::test]
    async fn issuer_mismatch_in_discovery_is_unusable() {
        let mut idp = FakeIdp::new(&["k1"]);
        idp.discovery_issuer = "https://idp.example.com/tenant/";
        let idp = Arc::new(idp);
        let err = cache(&idp, RemoteIssuerConfig::default())
            .keys(ISSUER, Some("k1"))
            .await
            .unwrap_err();
        assert_eq!(err.sts_code(), "InvalidIdentityToken");
        assert!(err.to_string().contains("must be equal"), "{err}");
    }

    #[tokio::test]
    async fn transport_failures_are_idp_communication_errors() {
        let mut idp = FakeIdp::new(&["k1"]);
        idp.discovery_result = Some(FetchError::Transport("connection refused".into()));
        let idp = Arc::new(idp);
        let err = cache(&idp, RemoteIssuerConfig::default())
            .keys(ISSUER, None)
            .await
            .unwrap_err();
        assert_eq!(err.sts_code(), "IDPCommunicationError");
        assert!(err.to_string().contains("connection refused"), "{err}");
    }

    #[tokio::test]
    async fn jwks_404_and_empty_sets_are_invalid_tokens() {
        let mut idp = FakeIdp::new(&["k1"]);
        idp.jwks_result = Some(FetchError::Rejected("HTTP status 404 Not Found".into()));
        let idp = Arc::new(idp);
        let err = cache(&idp, RemoteIssuerConfig::default())
            .keys(ISSUER, None)
            .await
            .unwrap_err();
        assert_eq!(err.sts_code(), "InvalidIdentityToken");

        let idp = Arc::new(FakeIdp::new(&[]));
        let err = cache(&idp, RemoteIssuerConfig::default())
            .keys(ISSUER, None)
            .await
            .unwrap_err();
        assert!(err.to_string().contains("empty key set"), "{err}");
    }

    #[tokio::test]
    async fn http_issuers_are_never_fetched() {
        let idp = Arc::new(FakeIdp::new(&["k1"]));
        let err = cache(&idp, RemoteIssuerConfig::default())
            .keys("http://idp.example.com/tenant", None)
            .await
            .unwrap_err();
        assert!(matches!(err, RemoteIssuerError::NotHttps { .. }));
        assert_eq!(idp.gets.load(Ordering::SeqCst), 0);
    }

    #[test]
    fn discovery_url_appends_to_the_path() {
        assert_eq!(
            discovery_url("https://s3.eu-west-1.amazonaws.com/b"),
            "https://s3.eu-west-1.amazonaws.com/b/.well-known/openid-configuration"
        );
        assert_eq!(
            discovery_url("https://h/"),
            "https://h/.well-known/openid-configuration"
        );
    }

    #[test]
    fn discovery_requires_the_fields_aws_requires() {
        let doc = br#"{"issuer":"https://h","jwks_uri":"https://h/keys"}"#;
        let err = jwks_uri_from_discovery("https://h", doc).unwrap_err();
        assert!(err.contains("response_types_supported"), "{err}");
        let doc = br#"{"issuer":"https://h","jwks_uri":"http://h/keys","response_types_supported":[],"subject_types_supported":[],"id_token_signing_alg_values_supported":[]}"#;
        let err = jwks_uri_from_discovery("https://h", doc).unwrap_err();
        assert!(err.contains("not an https"), "{err}");
        assert!(jwks_uri_from_discovery("https://h", b"[]").is_err());
    }

    #[test]
    fn a_missing_ca_file_is_named() {
        let config = RemoteIssuerConfig {
            ca_file: Some(PathBuf::from("/nonexistent/ca.pem")),
            ..RemoteIssuerConfig::default()
        };
        let err = HttpsFetch::new(&config).unwrap_err();
        assert!(err.to_string().contains("/nonexistent/ca.pem"), "{err}");
    }
}
