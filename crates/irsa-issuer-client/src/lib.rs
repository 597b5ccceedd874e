//! The one client irsa uses to reach an OIDC issuer it does not host: the discovery
//! document, the JSON Web Key Set, and the SHA-1 thumbprint of the CA that signs the
//! issuer's TLS certificate.
//!
//! The STS of `irsa local` (keys of remote issuers), `irsa token verify --jwks URL` and
//! `irsa oidc thumbprint` all go through this crate, so one set of rules holds everywhere:
//!
//! - **HTTPS only**, except plain `http://` to a loopback host (`127.0.0.1`, `localhost`,
//!   `[::1]`), so that the issuer `irsa local` serves on this machine stays usable. The rule
//!   applies to every URL fetched: the one given, the discovery document's `jwks_uri`, and
//!   every redirect ([`url::check_fetch_url`]).
//! - **Size cap**: a discovery document or key set larger than [`MAX_DOCUMENT_BYTES`] is
//!   refused before it is buffered, so a hostile issuer cannot exhaust memory.
//! - **Discovery `issuer` check**: the document's `issuer` must equal the expected issuer
//!   byte for byte, as AWS STS requires ([`discovery::jwks_uri_from_discovery`]).
//! - **Timeouts** on every network call: connect, whole request, and the TLS handshake.
//! - **Trust roots**: the system's (`rustls-native-certs`) or only those of a PEM CA file
//!   ([`roots::TrustRoots`]), one rustls 0.23 configuration (aws-lc-rs) for both HTTPS GETs
//!   and thumbprint handshakes.
//! - **Cache** ([`cache::RemoteIssuers`]): key sets kept per issuer for a TTL, with one
//!   re-fetch on an unknown `kid`, at most one per issuer per interval.
//!
//! # Using it
//!
//! Build one [`IssuerClient`] from an [`IssuerClientConfig`] and call it:
//!
//! - [`IssuerClient::jwks`]: the key set of an issuer, through its discovery document
//!   (what `irsa doctor` checks and what the STS verifies against);
//! - [`IssuerClient::jwks_at`]: the key set at a JWKS URL, or through a discovery document
//!   when the URL serves one;
//! - [`IssuerClient::thumbprint`]: the thumbprint IAM's `CreateOpenIDConnectProvider` wants
//!   (what `irsa provision` records);
//! - [`cache::RemoteIssuers`]: the cached form for servers.
//!
//! Failures are [`IssuerError`]s that say whether the issuer was unreachable (retryable),
//! answered with something unusable, or the caller's input broke a rule.

pub mod cache;
pub mod discovery;
pub mod fetch;
pub mod roots;
pub mod tls;
pub mod url;

use std::path::PathBuf;
use std::time::Duration;

pub use cache::{KeySet, RemoteIssuers};
pub use fetch::{Fetch, FetchError, MAX_DOCUMENT_BYTES};
pub use irsa_jose::JwkSet;
pub use url::Endpoint;

/// Default timeout for each network call (connect, request, TLS handshake).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// How irsa reaches issuers; the cache fields matter only to [`RemoteIssuers`].
#[derive(Debug, Clone)]
pub struct IssuerClientConfig {
    /// PEM bundle that replaces the system roots (`--ca-file`), for self-signed identity
    /// providers and test servers.
    pub ca_file: Option<PathBuf>,
    /// Limit for each connect, each whole request and each TLS handshake.
    pub timeout: Duration,
    /// A cached key set is used for at most this long before it is fetched again.
    pub ttl: Duration,
    /// Minimum time between two fetches for one issuer triggered by an unknown `kid`.
    pub min_refetch_interval: Duration,
}

impl Default for IssuerClientConfig {
    fn default() -> Self {
        Self {
            ca_file: None,
            timeout: DEFAULT_TIMEOUT,
            ttl: Duration::from_secs(15 * 60),
            min_refetch_interval: Duration::from_secs(10),
        }
    }
}

/// Why an issuer's documents or thumbprint could not be obtained.
#[derive(Debug, thiserror::Error)]
pub enum IssuerError {
    /// The issuer could not be reached (connect, TLS, timeout) or answered 5xx: worth a retry.
    #[error("identity provider unreachable: {url}: {reason}")]
    Unreachable {
        /// The URL or `host:port` that failed.
        url: String,
        /// The cause, with its whole source chain.
        reason: String,
    },
    /// The issuer answered, but not with a usable document, key set or certificate chain.
    #[error("identity provider answered {url} with an unusable document: {reason}")]
    Unusable {
        /// The URL whose answer was refused.
        url: String,
        /// Which rule the answer broke.
        reason: String,
    },
    /// A URL the caller gave breaks a rule (not https:// and not loopback, bad host or port);
    /// it is never fetched.
    #[error("{url}: {reason}")]
    BadUrl {
        /// The URL as given.
        url: String,
        /// The rule it breaks.
        reason: String,
    },
    /// The CA file could not be read or holds no usable certificate.
    #[error("--ca-file {path}: {reason}")]
    CaFile {
        /// The file as given.
        path: String,
        /// What is wrong with it.
        reason: String,
    },
    /// No trust roots for a TLS handshake: the system has none and no CA file was given.
    #[error("no system root certificates found; pass --ca-file")]
    NoRoots,
    /// The HTTP client could not be built.
    #[error("cannot build the HTTPS client: {0}")]
    Client(String),
}

impl IssuerError {
    /// The STS error code a caller of `AssumeRoleWithWebIdentity` sees for this failure:
    /// `IDPCommunicationError` (SDKs retry it) when the provider could not be reached or
    /// irsa cannot reach anything; `InvalidIdentityToken` when the provider's answer or the
    /// token's issuer URL is unusable.
    pub fn sts_code(&self) -> &'static str {
        match self {
            Self::Unreachable { .. } | Self::Client(_) | Self::CaFile { .. } | Self::NoRoots => {
                "IDPCommunicationError"
            }
            Self::Unusable { .. } | Self::BadUrl { .. } => "InvalidIdentityToken",
        }
    }

    /// Whether the caller's own input (a URL or `--ca-file`) is at fault, as opposed to the
    /// issuer: a CLI exits with its usage status then.
    pub fn is_input_error(&self) -> bool {
        matches!(self, Self::BadUrl { .. } | Self::CaFile { .. })
    }
}

/// A thumbprint and the endpoint whose chain it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Thumbprint {
    /// The server that was asked.
    pub endpoint: Endpoint,
    /// SHA-1 of the last CA certificate the server sent, 40 lowercase hex characters.
    pub sha1: String,
}

/// The client: HTTPS GETs under the rules above and TLS handshakes for thumbprints, sharing
/// one set of trust roots. Cheap to clone.
#[derive(Debug, Clone)]
pub struct IssuerClient {
    fetch: fetch::HttpsFetch,
    tls: tls::Handshaker,
    no_roots: bool,
}

impl IssuerClient {
    /// Loads the trust roots (the CA file, or the system's) and builds the client.
    pub fn new(config: &IssuerClientConfig) -> Result<Self, IssuerError> {
        let roots = roots::TrustRoots::load(config.ca_file.as_deref())?;
        let tls_config = tls::client_config(&roots)?;
        Ok(Self {
            fetch: fetch::HttpsFetch::new(tls_config.clone(), config.timeout)?,
            tls: tls::Handshaker::new(tls_config, config.timeout),
            no_roots: roots.is_empty(),
        })
    }

    /// The key set of `issuer` the way AWS STS resolves it: its discovery document, whose
    /// `issuer` must equal `issuer`, then the document's `jwks_uri`.
    pub async fn jwks(&self, issuer: &str) -> Result<JwkSet, IssuerError> {
        cache::fetch_keys(&self.fetch, issuer).await
    }

    /// The key set at `url`. When `url` serves a discovery document instead (it has a
    /// `jwks_uri` and no `keys`), its `issuer` must equal `expected_issuer` and the key set
    /// is fetched from its `jwks_uri`.
    pub async fn jwks_at(&self, url: &str, expected_issuer: &str) -> Result<JwkSet, IssuerError> {
        url::check_fetch_url(url).map_err(|reason| IssuerError::BadUrl {
            url: url.to_owned(),
            reason,
        })?;
        let body = cache::get(&self.fetch, url).await?;
        if discovery::is_discovery_document(&body) {
            let jwks_uri =
                discovery::jwks_uri_from_discovery(expected_issuer, &body).map_err(|reason| {
                    IssuerError::Unusable {
                        url: url.to_owned(),
                        reason,
                    }
                })?;
            let jwks = cache::get(&self.fetch, &jwks_uri).await?;
            return cache::parse_keys(&jwks_uri, &jwks);
        }
        cache::parse_keys(url, &body)
    }

    /// The thumbprint of the CA that signs the TLS certificate of `url`
    /// (`https://HOST[:PORT][/PATH]` or a bare `HOST[:PORT]`), after a verified handshake.
    pub async fn thumbprint(&self, url: &str) -> Result<Thumbprint, IssuerError> {
        let endpoint = url::parse_endpoint(url).map_err(|reason| IssuerError::BadUrl {
            url: url.to_owned(),
            reason,
        })?;
        if self.no_roots {
            return Err(IssuerError::NoRoots);
        }
        let chain = self.tls.chain(&endpoint).await?;
        let sha1 =
            irsa_jose::thumbprint::ca_thumbprint(&chain).map_err(|e| IssuerError::Unusable {
                url: endpoint.to_string(),
                reason: e.to_string(),
            })?;
        Ok(Thumbprint { endpoint, sha1 })
    }
}

impl Fetch for IssuerClient {
    async fn get(&self, url: &str) -> Result<bytes::Bytes, FetchError> {
        self.fetch.get(url).await
    }
}
