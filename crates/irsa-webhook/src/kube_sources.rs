//! Everything the webhook reads from the Kubernetes API: the ServiceAccount watch, the
//! rate-limited direct ServiceAccount GET, and the `pod-identity-webhook` ConfigMap watch.
//! The client itself is built by [`irsa_kube::client`], shared with the other servers.
//!
//! The admission path never calls the API itself: it reads the cache, and at most asks the
//! [`Fetcher`] to GET a ServiceAccount in the background (deduplicated per ServiceAccount,
//! token-bucket limited, bounded by a timeout) and waits for the cache to learn it. This is
//! the fix for the classic IRSA race where a ServiceAccount created a moment before its pod
//! is not yet in the informer cache (upstream issues #174, #194, #83, #108).

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use futures::StreamExt as _;
use irsa_core::mutation::RoleMapping;
use k8s_openapi::api::core::v1::{ConfigMap, ServiceAccount};
use kube::api::{Api, PartialObjectMeta};
use kube::runtime::watcher::Event;
use kube::runtime::{WatchStreamExt as _, watcher};
use tokio::sync::{mpsc, watch};

use irsa_runtime::progress::{Progress as _, Reporter};

use crate::cache::ServiceAccountCache;
use crate::metrics::Metrics;

/// Items per page of the initial ServiceAccount list. Each page is one round trip, and a
/// round trip costs more than the API server's answer: with 100,000 ServiceAccounts and a
/// fake answering each page in under 4 ms, 100-item pages (1,001 round trips) took 27 s to
/// sync, 250-item pages (401) 0.6–0.7 s. Larger pages raise the peak heap while the cache
/// is built: RSS after sync was 29 MiB with 100-item pages, 30 MiB with 250 and 32 MiB with
/// 500 (docs/benchmarks.md, "Webhook").
pub const SERVICE_ACCOUNT_PAGE_SIZE: u32 = 250;

/// Keeps `cache` in step with every ServiceAccount of the cluster until `shutdown` fires.
/// Watch errors are logged and retried with kube-runtime's default backoff.
///
/// The first sync (the initial list, one unit per ServiceAccount) is reported to `progress`;
/// later relists are not, since by then the webhook is serving.
pub async fn watch_service_accounts(
    client: kube::Client,
    cache: Arc<ServiceAccountCache>,
    progress: Reporter,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut first_sync = true;
    let api: Api<PartialObjectMeta<ServiceAccount>> = Api::all(client);
    let config = watcher::Config::default().page_size(SERVICE_ACCOUNT_PAGE_SIZE);
    let stream = watcher(api, config).default_backoff();
    let mut stream = std::pin::pin!(stream);
    loop {
        let event = tokio::select! {
            event = stream.next() => event,
            _ = shutdown.changed() => break,
        };
        match event {
            None => break,
            Some(Ok(Event::Init)) => {
                if first_sync {
                    progress.start("syncing the ServiceAccount cache", None);
                }
                cache.begin_relist();
            }
            Some(Ok(Event::InitApply(sa) | Event::Apply(sa))) => {
                if let (Some(ns), Some(name)) = (&sa.metadata.namespace, &sa.metadata.name) {
                    cache.apply(ns, name, sa.metadata.annotations.as_ref());
                }
                if first_sync {
                    progress.advance(1);
                }
            }
            Some(Ok(Event::Delete(sa))) => {
                if let (Some(ns), Some(name)) = (&sa.metadata.namespace, &sa.metadata.name) {
                    cache.delete(ns, name);
                }
            }
            Some(Ok(Event::InitDone)) => {
                cache.end_relist();
                if std::mem::take(&mut first_sync) {
                    progress.finish();
                }
            }
            Some(Err(e)) => tracing::warn!(error = %e, "ServiceAccount watch failed; retrying"),
        }
    }
    if first_sync {
        progress.finish();
    }
}

/// The ConfigMap role mapping as last read, plus whether the first read is done.
#[derive(Debug, Default)]
pub struct MappingSource {
    /// Current mapping (empty when the ConfigMap is absent).
    pub mapping: ArcSwap<RoleMapping>,
    synced: std::sync::atomic::AtomicBool,
}

impl MappingSource {
    /// Whether the first list of the ConfigMap completed.
    pub fn is_synced(&self) -> bool {
        self.synced.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Marks the source synced (also used when the watch is disabled).
    pub fn mark_synced(&self) {
        self.synced.store(true, std::sync::atomic::Ordering::SeqCst);
    }

    /// Applies a ConfigMap's data: a good mapping replaces the current one; a missing
    /// `config` key empties it; an unusable document is logged and the current one kept.
    pub fn apply_data(
        &self,
        data: Option<&std::collections::BTreeMap<String, String>>,
        metrics: &Metrics,
    ) {
        let empty = std::collections::BTreeMap::new();
        match RoleMapping::from_config_map_data(data.unwrap_or(&empty)) {
            Ok((mapping, warnings)) => {
                for w in warnings {
                    tracing::warn!("{w}");
                }
                tracing::info!(entries = mapping.len(), "ConfigMap role mapping loaded");
                metrics
                    .config_map_entries
                    .set(i64::try_from(mapping.len()).unwrap_or(i64::MAX));
                self.mapping.store(Arc::new(mapping));
            }
            Err(irsa_core::mutation::MappingError::MissingConfigKey) => {
                tracing::warn!(
                    "ConfigMap pod-identity-webhook has no `config` key; no role mappings"
                );
                metrics.config_map_entries.set(0);
                self.mapping.store(Arc::new(RoleMapping::default()));
            }
            Err(e) => {
                tracing::error!(error = %e, "ConfigMap role mapping rejected; keeping the previous one");
            }
        }
    }

    /// The ConfigMap is gone: no mappings (upstream kept stale entries forever).
    pub fn clear(&self, metrics: &Metrics) {
        metrics.config_map_entries.set(0);
        self.mapping.store(Arc::new(RoleMapping::default()));
    }
}

/// Watches the `pod-identity-webhook` ConfigMap in `namespace` until `shutdown` fires.
pub async fn watch_config_map(
    client: kube::Client,
    namespace: String,
    source: Arc<MappingSource>,
    metrics: Arc<Metrics>,
    mut shutdown: watch::Receiver<bool>,
) {
    let api: Api<ConfigMap> = Api::namespaced(client, &namespace);
    let config = watcher::Config::default().fields(&format!(
        "metadata.name={}",
        irsa_core::mutation::CONFIG_MAP_NAME
    ));
    let stream = watcher(api, config).default_backoff();
    let mut stream = std::pin::pin!(stream);
    let mut seen_in_list = false;
    loop {
        let event = tokio::select! {
            event = stream.next() => event,
            _ = shutdown.changed() => return,
        };
        match event {
            None => return,
            Some(Ok(Event::Init)) => seen_in_list = false,
            Some(Ok(Event::InitApply(cm) | Event::Apply(cm))) => {
                seen_in_list = true;
                source.apply_data(cm.data.as_ref(), &metrics);
            }
            Some(Ok(Event::Delete(_))) => {
                tracing::info!("ConfigMap pod-identity-webhook deleted; role mappings cleared");
                source.clear(&metrics);
            }
            Some(Ok(Event::InitDone)) => {
                if !seen_in_list {
                    source.clear(&metrics);
                }
                source.mark_synced();
            }
            Some(Err(e)) => tracing::warn!(error = %e, "ConfigMap watch failed; retrying"),
        }
    }
}

/// Token bucket: `rate` tokens per second up to `burst`.
#[derive(Debug)]
struct TokenBucket {
    rate: f64,
    burst: f64,
    tokens: f64,
    last: Instant,
}

impl TokenBucket {
    fn new(rate: u32, burst: u32) -> Self {
        let burst = f64::from(burst.max(1));
        Self {
            rate: f64::from(rate.max(1)),
            burst,
            tokens: burst,
            last: Instant::now(),
        }
    }

    /// How long to wait before a token is available (taking it).
    fn take(&mut self, now: Instant) -> Duration {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.last = now;
        self.tokens = (self.tokens + elapsed * self.rate).min(self.burst);
        self.tokens -= 1.0;
        if self.tokens >= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(-self.tokens / self.rate)
        }
    }
}

/// Requests direct ServiceAccount GETs for ServiceAccounts missing from the cache.
#[derive(Debug)]
pub struct Fetcher {
    tx: mpsc::Sender<(String, String)>,
    pending: Arc<Mutex<HashSet<String>>>,
    metrics: Arc<Metrics>,
}

/// Queue length of pending direct lookups (as upstream's buffered channel).
const FETCH_QUEUE: usize = 1000;

impl Fetcher {
    /// Starts the background worker; it stops when `shutdown` fires.
    pub fn start(
        client: kube::Client,
        cache: Arc<ServiceAccountCache>,
        metrics: Arc<Metrics>,
        rate: u32,
        burst: u32,
        timeout: Duration,
        shutdown: watch::Receiver<bool>,
    ) -> Arc<Self> {
        let (tx, rx) = mpsc::channel(FETCH_QUEUE);
        let pending = Arc::new(Mutex::new(HashSet::new()));
        let fetcher = Arc::new(Self {
            tx,
            pending: pending.clone(),
            metrics: metrics.clone(),
        });
        tokio::spawn(fetch_worker(
            rx,
            client,
            cache,
            metrics,
            pending,
            TokenBucket::new(rate, burst),
            timeout,
            shutdown,
        ));
        fetcher
    }

    /// Asks for `namespace/name` to be fetched; at most one fetch per ServiceAccount is queued.
    pub fn request(&self, namespace: &str, name: &str) {
        let key = format!("{namespace}/{name}");
        {
            let mut pending = self
                .pending
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if !pending.insert(key.clone()) {
                return;
            }
        }
        if self
            .tx
            .try_send((namespace.to_string(), name.to_string()))
            .is_err()
        {
            self.pending
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .remove(&key);
            self.metrics.direct_lookup("dropped");
        }
    }
}

#[allow(clippy::too_many_arguments)]
async fn fetch_worker(
    mut rx: mpsc::Receiver<(String, String)>,
    client: kube::Client,
    cache: Arc<ServiceAccountCache>,
    metrics: Arc<Metrics>,
    pending: Arc<Mutex<HashSet<String>>>,
    mut bucket: TokenBucket,
    timeout: Duration,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        let next = tokio::select! {
            next = rx.recv() => next,
            _ = shutdown.changed() => return,
        };
        let Some((namespace, name)) = next else {
            return;
        };
        let wait = bucket.take(Instant::now());
        if !wait.is_zero() {
            metrics.direct_lookup("rate_limited");
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                _ = shutdown.changed() => return,
            }
        }
        let client = client.clone();
        let cache = cache.clone();
        let metrics = metrics.clone();
        let pending = pending.clone();
        tokio::spawn(async move {
            let api: Api<ServiceAccount> = Api::namespaced(client, &namespace);
            let result = tokio::time::timeout(timeout, api.get_metadata_opt(&name)).await;
            match result {
                Ok(Ok(Some(sa))) => {
                    metrics.direct_lookup("found");
                    tracing::info!(namespace = %namespace, service_account = %name, "ServiceAccount fetched from the API");
                    cache.apply(&namespace, &name, sa.metadata.annotations.as_ref());
                }
                Ok(Ok(None)) => {
                    metrics.direct_lookup("not_found");
                    tracing::warn!(namespace = %namespace, service_account = %name, "ServiceAccount does not exist");
                }
                Ok(Err(e)) => {
                    metrics.direct_lookup("error");
                    tracing::warn!(namespace = %namespace, service_account = %name, error = %e, "fetching ServiceAccount failed");
                }
                Err(_) => {
                    metrics.direct_lookup("timeout");
                    tracing::warn!(namespace = %namespace, service_account = %name, timeout = ?timeout, "fetching ServiceAccount timed out");
                }
            }
            pending
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .remove(&format!("{namespace}/{name}"));
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_bucket_allows_burst_then_paces() {
        let start = Instant::now();
        let mut b = TokenBucket::new(10, 2);
        b.last = start;
        assert_eq!(b.take(start), Duration::ZERO);
        assert_eq!(b.take(start), Duration::ZERO);
        let wait = b.take(start);
        assert!((wait.as_secs_f64() - 0.1).abs() < 1e-9, "{wait:?}");
        // After a second the bucket is full again (capped at the burst).
        let later = start + Duration::from_secs(5);
        assert_eq!(b.take(later), Duration::ZERO);
        assert_eq!(b.take(later), Duration::ZERO);
        assert!(b.take(later) > Duration::ZERO);
    }
}
