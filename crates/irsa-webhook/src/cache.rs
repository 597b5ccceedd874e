//! The ServiceAccount cache: every ServiceAccount of the cluster, reduced to what mutation
//! reads.
//!
//! Upstream's informer held whole ServiceAccount objects and was OOM-killed on clusters with
//! many of them (upstream PR #301). Here each entry is a single string holding
//! `namespace/name` and only the annotations under `<prefix>/` (suffix and value, NUL
//! separated) plus a generation number, fed by a metadata-only watch: about 100 bytes per
//! ServiceAccount with a role. Entries for ServiceAccounts without any such
//! annotation are kept too (an empty entry), because "the ServiceAccount exists but has no
//! role" and "the ServiceAccount is unknown" are different answers (the latter waits for
//! the grace period and counts `pod_identity_webhook_missing_sa_count`).
//!
//! Relists (the watch's `Init` … `InitDone`) are applied in place with a generation
//! counter and a sweep at the end, so lookups keep working during a relist and memory is
//! never doubled.
//!
//! The cache also wakes up requests that wait for a ServiceAccount: every change bumps a
//! [`tokio::sync::watch`] version; a waiter subscribes *before* re-checking, so no insert
//! can slip between its check and its wait.

use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};

use tokio::sync::watch;

use crate::metrics::Metrics;

/// The annotation suffixes mutation reads, stored as one control character each (they
/// cannot occur as real one-character suffixes: annotation names are alphanumeric at both
/// ends), which saves a malloc size class per ServiceAccount on large clusters.
const KNOWN_SUFFIXES: [&str; 4] = [
    "role-arn",
    "audience",
    "sts-regional-endpoints",
    "token-expiration",
];
const SUFFIX_CODES: [char; 4] = ['\u{1}', '\u{2}', '\u{3}', '\u{4}'];

/// One cached ServiceAccount in a single allocation: `namespace/name`, then for each
/// annotation under the prefix `\0suffix\0value`. Hashing and equality look at the
/// `namespace/name` part only, so the set can be queried with a `&str` key.
#[derive(Debug)]
struct Entry {
    data: Box<str>,
    /// Relist generation that last saw this entry.
    generation: u32,
}

impl Entry {
    fn key(&self) -> &str {
        match self.data.find('\0') {
            Some(end) => &self.data[..end],
            None => &self.data,
        }
    }

    /// `(suffix, value)` pairs.
    fn annotations(&self) -> impl Iterator<Item = (&str, &str)> {
        let rest = self.data.get(self.key().len() + 1..).unwrap_or("");
        let mut parts = rest.split('\0').filter(|_| !rest.is_empty());
        std::iter::from_fn(move || {
            let suffix = parts.next()?;
            let value = parts.next()?;
            let mut chars = suffix.chars();
            let suffix = match (chars.next(), chars.next()) {
                (Some(c), None) => SUFFIX_CODES
                    .iter()
                    .position(|code| *code == c)
                    .map_or(suffix, |i| KNOWN_SUFFIXES[i]),
                _ => suffix,
            };
            Some((suffix, value))
        })
    }
}

impl PartialEq for Entry {
    fn eq(&self, other: &Self) -> bool {
        self.key() == other.key()
    }
}

impl Eq for Entry {}

impl std::hash::Hash for Entry {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.key().hash(state);
    }
}

impl std::borrow::Borrow<str> for Entry {
    fn borrow(&self) -> &str {
        self.key()
    }
}

#[derive(Debug, Default)]
struct State {
    map: HashSet<Entry>,
    generation: u32,
    relisting: bool,
}

/// The cache; cheap to share behind an [`Arc`].
#[derive(Debug)]
pub struct ServiceAccountCache {
    /// `<prefix>/`.
    prefix_slash: String,
    state: RwLock<State>,
    version: watch::Sender<u64>,
    synced: AtomicBool,
    metrics: Arc<Metrics>,
}

fn cache_key(namespace: &str, name: &str) -> String {
    let mut key = String::with_capacity(namespace.len() + name.len() + 1);
    key.push_str(namespace);
    key.push('/');
    key.push_str(name);
    key
}

impl ServiceAccountCache {
    /// An empty, not yet synced cache for annotations under `annotation_prefix`.
    pub fn new(annotation_prefix: &str, metrics: Arc<Metrics>) -> Self {
        let (version, _) = watch::channel(0);
        Self {
            prefix_slash: format!("{annotation_prefix}/"),
            state: RwLock::new(State::default()),
            version,
            synced: AtomicBool::new(false),
            metrics,
        }
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, State> {
        self.state
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, State> {
        self.state
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Packs the key and the annotations under the prefix into one string.
    fn pack(
        &self,
        namespace: &str,
        name: &str,
        annotations: Option<&BTreeMap<String, String>>,
    ) -> Box<str> {
        let mut packed = cache_key(namespace, name);
        for (k, v) in annotations.into_iter().flatten() {
            if let Some(suffix) = k.strip_prefix(self.prefix_slash.as_str()) {
                // Kubernetes strings cannot carry NUL in practice; skip such a value rather
                // than corrupt the packing.
                if v.contains('\0') {
                    continue;
                }
                packed.push('\0');
                match KNOWN_SUFFIXES.iter().position(|known| *known == suffix) {
                    Some(code) => packed.push(SUFFIX_CODES[code]),
                    None => packed.push_str(suffix),
                }
                packed.push('\0');
                packed.push_str(v);
            }
        }
        packed.into_boxed_str()
    }

    fn bump(&self) {
        self.version.send_modify(|v| *v = v.wrapping_add(1));
    }

    /// Adds or replaces a ServiceAccount.
    pub fn apply(
        &self,
        namespace: &str,
        name: &str,
        annotations: Option<&BTreeMap<String, String>>,
    ) {
        let data = self.pack(namespace, name, annotations);
        let len = {
            let mut state = self.write();
            let generation = state.generation;
            state.map.replace(Entry { data, generation });
            state.map.len()
        };
        self.metrics.used.set(1);
        self.metrics.cached_service_accounts.set(gauge_value(len));
        self.bump();
    }

    /// Removes a ServiceAccount.
    pub fn delete(&self, namespace: &str, name: &str) {
        let len = {
            let mut state = self.write();
            state.map.remove(cache_key(namespace, name).as_str());
            state.map.len()
        };
        self.metrics.cached_service_accounts.set(gauge_value(len));
        self.bump();
    }

    /// A relist starts: entries not seen again before [`Self::end_relist`] are removed.
    pub fn begin_relist(&self) {
        let mut state = self.write();
        state.generation = state.generation.wrapping_add(1);
        state.relisting = true;
    }

    /// A relist ended: drops entries it did not see and marks the cache synced.
    pub fn end_relist(&self) {
        let len = {
            let mut state = self.write();
            if state.relisting {
                let generation = state.generation;
                state.map.retain(|e| e.generation == generation);
                state.map.shrink_to_fit();
                state.relisting = false;
            }
            state.map.len()
        };
        self.metrics.cached_service_accounts.set(gauge_value(len));
        if !self.synced.swap(true, Ordering::SeqCst) {
            tracing::info!(service_accounts = len, "ServiceAccount cache synced");
        }
        self.bump();
    }

    /// Whether the initial list has completed.
    pub fn is_synced(&self) -> bool {
        self.synced.load(Ordering::SeqCst)
    }

    /// Number of cached ServiceAccounts.
    pub fn len(&self) -> usize {
        self.read().map.len()
    }

    /// Whether the cache is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The annotations under the prefix (full keys) of a cached ServiceAccount, or `None`
    /// when the ServiceAccount is not cached.
    pub fn get(&self, namespace: &str, name: &str) -> Option<BTreeMap<String, String>> {
        let key = cache_key(namespace, name);
        let state = self.read();
        let entry = state.map.get(key.as_str())?;
        let out = entry
            .annotations()
            .map(|(suffix, value)| (format!("{}{suffix}", self.prefix_slash), value.to_string()))
            .collect();
        Some(out)
    }

    /// A receiver that changes whenever the cache does (subscribe before re-checking).
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.version.subscribe()
    }

    /// Every cached entry as `namespace/name` → annotations (debug endpoint).
    pub fn dump(&self) -> BTreeMap<String, BTreeMap<String, String>> {
        let keys: Vec<String> = self
            .read()
            .map
            .iter()
            .map(|e| e.key().to_string())
            .collect();
        keys.into_iter()
            .filter_map(|k| {
                let (ns, name) = k.split_once('/')?;
                let ann = self.get(ns, name)?;
                Some((k.clone(), ann))
            })
            .collect()
    }

    /// Drops every entry (debug endpoint); the watch refills it over time.
    pub fn clear(&self) {
        self.write().map.clear();
        self.metrics.cached_service_accounts.set(0);
        self.bump();
    }
}

fn gauge_value(len: usize) -> i64 {
    i64::try_from(len).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ann(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn keeps_only_prefixed_annotations() {
        let c = ServiceAccountCache::new("eks.amazonaws.com", Arc::new(Metrics::new()));
        c.apply(
            "ns",
            "sa",
            Some(&ann(&[
                (
                    "eks.amazonaws.com/role-arn",
                    "arn:aws:iam::111122223333:role/r",
                ),
                ("eks.amazonaws.com/audience", ""),
                ("kubectl.kubernetes.io/last-applied-configuration", "{...}"),
                ("other.eks.amazonaws.com/role-arn", "x"),
                ("eks.amazonaws.com/custom", "kept"),
            ])),
        );
        let got = c.get("ns", "sa").unwrap();
        assert_eq!(
            got,
            ann(&[
                ("eks.amazonaws.com/audience", ""),
                ("eks.amazonaws.com/custom", "kept"),
                (
                    "eks.amazonaws.com/role-arn",
                    "arn:aws:iam::111122223333:role/r"
                ),
            ])
        );
        assert_eq!(c.get("ns", "other"), None);
    }

    #[test]
    fn service_account_without_annotations_is_known_but_empty() {
        let c = ServiceAccountCache::new("eks.amazonaws.com", Arc::new(Metrics::new()));
        c.apply("ns", "plain", None);
        assert_eq!(c.get("ns", "plain"), Some(BTreeMap::new()));
        c.delete("ns", "plain");
        assert_eq!(c.get("ns", "plain"), None);
    }

    #[test]
    fn relist_sweeps_entries_not_seen_again_and_marks_synced() {
        let c = ServiceAccountCache::new("p", Arc::new(Metrics::new()));
        assert!(!c.is_synced());
        c.begin_relist();
        c.apply("a", "1", None);
        c.apply("a", "2", None);
        c.end_relist();
        assert!(c.is_synced());
        assert_eq!(c.len(), 2);
        c.begin_relist();
        c.apply("a", "2", Some(&ann(&[("p/role-arn", "r")])));
        // During the relist the old entry is still answered.
        assert!(c.get("a", "1").is_some());
        c.end_relist();
        assert_eq!(c.get("a", "1"), None);
        assert_eq!(c.get("a", "2"), Some(ann(&[("p/role-arn", "r")])));
    }

    #[test]
    fn changes_wake_subscribers() {
        let c = ServiceAccountCache::new("p", Arc::new(Metrics::new()));
        let mut rx = c.subscribe();
        assert!(!rx.has_changed().unwrap());
        c.apply("a", "1", None);
        assert!(rx.has_changed().unwrap());
        rx.mark_unchanged();
        c.delete("a", "1");
        assert!(rx.has_changed().unwrap());
    }
}
