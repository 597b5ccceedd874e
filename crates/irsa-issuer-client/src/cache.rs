//! Key sets of remote issuers, cached the way a server needs them.
//!
//! A token's issuer is resolved the way AWS STS does it: `GET <iss>/.well-known/openid-configuration`,
//! the document's `issuer` must equal the token's `iss` byte for byte, then `GET jwks_uri`.
//!
//! The key set is cached per issuer, because a verification must not cost two TLS round
//! trips each. A token whose `kid` is not in the cached set triggers one re-fetch (key
//! rotation on the issuer), but at most one per issuer every
//! [`IssuerClientConfig::min_refetch_interval`]: otherwise anybody could make the server
//! hammer an identity provider with made-up `kid`s. Concurrent misses for one issuer share a
//! single fetch.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use bytes::Bytes;
use irsa_jose::JwkSet;

use crate::discovery::jwks_uri_from_discovery;
use crate::fetch::{Fetch, FetchError};
use crate::url::check_fetch_url;
use crate::{IssuerClient, IssuerClientConfig, IssuerError};
use irsa_core::issuer::discovery_url;

/// A parsed JSON Web Key Set, as a verifier wants it.
pub trait KeySet: Send + Sync + Sized + 'static {
    /// Parses the body of `jwks_uri`; a set without any usable key is an error.
    fn parse(json: &[u8]) -> Result<Self, String>;
    /// Whether a key with this `kid` is in the set.
    fn has_kid(&self, kid: &str) -> bool;
}

impl KeySet for JwkSet {
    fn parse(json: &[u8]) -> Result<Self, String> {
        let set = JwkSet::parse(json).map_err(|e| e.to_string())?;
        if set.keys.is_empty() {
            return Err("the JWKS has no usable key".to_owned());
        }
        Ok(set)
    }

    fn has_kid(&self, kid: &str) -> bool {
        self.keys.iter().any(|k| k.kid.as_deref() == Some(kid))
    }
}

/// GETs `url`, turning a [`FetchError`] into the [`IssuerError`] that names `url`.
pub(crate) async fn get(fetch: &impl Fetch, url: &str) -> Result<Bytes, IssuerError> {
    fetch.get(url).await.map_err(|e| match e {
        FetchError::Transport(reason) => IssuerError::Unreachable {
            url: url.to_owned(),
            reason,
        },
        FetchError::Rejected(reason) | FetchError::BadUrl(reason) => IssuerError::Unusable {
            url: url.to_owned(),
            reason,
        },
    })
}

/// Parses the key set fetched from `url`.
pub(crate) fn parse_keys<K: KeySet>(url: &str, body: &[u8]) -> Result<K, IssuerError> {
    K::parse(body).map_err(|reason| IssuerError::Unusable {
        url: url.to_owned(),
        reason,
    })
}

/// Discovery document, `issuer` check, then the key set at `jwks_uri`.
pub(crate) async fn fetch_keys<K: KeySet>(
    fetch: &impl Fetch,
    issuer: &str,
) -> Result<K, IssuerError> {
    check_fetch_url(issuer).map_err(|reason| IssuerError::BadUrl {
        url: issuer.to_owned(),
        reason,
    })?;
    let discovery = discovery_url(issuer);
    let document = get(fetch, &discovery).await?;
    let jwks_uri =
        jwks_uri_from_discovery(issuer, &document).map_err(|reason| IssuerError::Unusable {
            url: discovery.clone(),
            reason,
        })?;
    let jwks = get(fetch, &jwks_uri).await?;
    parse_keys(&jwks_uri, &jwks)
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
pub struct RemoteIssuers<K, F = IssuerClient> {
    fetch: F,
    config: IssuerClientConfig,
    slots: Mutex<HashMap<String, Arc<IssuerSlot<K>>>>,
}

impl<K: KeySet> RemoteIssuers<K, IssuerClient> {
    /// The production cache, fetching with an [`IssuerClient`] built from `config`.
    pub fn new(config: IssuerClientConfig) -> Result<Self, IssuerError> {
        let fetch = IssuerClient::new(&config)?;
        Ok(Self::with_fetch(config, fetch))
    }
}

impl<K: KeySet, F: Fetch> RemoteIssuers<K, F> {
    /// A cache over any fetcher.
    pub fn with_fetch(config: IssuerClientConfig, fetch: F) -> Self {
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
    pub async fn keys(&self, issuer: &str, kid: Option<&str>) -> Result<Arc<K>, IssuerError> {
        check_fetch_url(issuer).map_err(|reason| IssuerError::BadUrl {
            url: issuer.to_owned(),
            reason,
        })?;
        let slot = self.slot(issuer);
        if let Some(keys) = self.usable(&slot, kid, Instant::now()) {
            return Ok(keys);
        }
        let _fetching = slot.fetching.lock().await;
        // Another task may have fetched while this one waited.
        if let Some(keys) = self.usable(&slot, kid, Instant::now()) {
            return Ok(keys);
        }
        let keys = Arc::new(fetch_keys::<K>(&self.fetch, issuer).await?);
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

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

    fn cache(idp: &Arc<FakeIdp>, config: IssuerClientConfig) -> RemoteIssuers<Kids, Arc<FakeIdp>> {
        RemoteIssuers::with_fetch(config, Arc::clone(idp))
    }

    #[tokio::test]
    async fn fetches_once_then_serves_from_cache() {
        let idp = Arc::new(FakeIdp::new(&["k1"]));
        let issuers = cache(&idp, IssuerClientConfig::default());
        let keys = issuers.keys(ISSUER, Some("k1")).await.unwrap();
        assert!(keys.has_kid("k1"));
        issuers.keys(ISSUER, Some("k1")).await.unwrap();
        assert_eq!(idp.gets.load(Ordering::SeqCst), 2, "discovery + jwks, once");
    }

    #[tokio::test]
    async fn unknown_kid_refetches_after_the_minimum_interval_only() {
        let idp = Arc::new(FakeIdp::new(&["old"]));
        let config = IssuerClientConfig {
            min_refetch_interval: Duration::from_millis(50),
            ..IssuerClientConfig::default()
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
        let config = IssuerClientConfig {
            ttl: Duration::from_millis(20),
            ..IssuerClientConfig::default()
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
        let err = cache(&idp, IssuerClientConfig::default())
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
        let err = cache(&idp, IssuerClientConfig::default())
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
        let err = cache(&idp, IssuerClientConfig::default())
            .keys(ISSUER, None)
            .await
            .unwrap_err();
        assert_eq!(err.sts_code(), "InvalidIdentityToken");

        let idp = Arc::new(FakeIdp::new(&[]));
        let err = cache(&idp, IssuerClientConfig::default())
            .keys(ISSUER, None)
            .await
            .unwrap_err();
        assert!(err.to_string().contains("empty key set"), "{err}");
    }

    #[tokio::test]
    async fn plain_http_issuers_off_loopback_are_never_fetched() {
        let idp = Arc::new(FakeIdp::new(&["k1"]));
        let err = cache(&idp, IssuerClientConfig::default())
            .keys("http://idp.example.com/tenant", None)
            .await
            .unwrap_err();
        assert!(matches!(err, IssuerError::BadUrl { .. }), "{err}");
        assert_eq!(err.sts_code(), "InvalidIdentityToken");
        assert_eq!(idp.gets.load(Ordering::SeqCst), 0);
    }
}
