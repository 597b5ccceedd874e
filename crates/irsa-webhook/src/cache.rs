//! The ServiceAccount cache: every ServiceAccount of the cluster, reduced to what mutation
//! reads.
//!
//! Upstream's informer held whole ServiceAccount objects and was OOM-killed on clusters with
//! many of them (upstream PR #301). Here each ServiceAccount is reduced to `namespace/name`
//! and only the annotations under `<prefix>/`, fed by a metadata-only watch, and all
//! entries are packed back to back in one arena (see [`Store`]): about 40 bytes per
//! ServiceAccount with a role. Entries for ServiceAccounts without any such
//! annotation are kept too (an empty entry), because "the ServiceAccount exists but has no
//! role" and "the ServiceAccount is unknown" are different answers (the latter waits for
//! the grace period and counts `pod_identity_webhook_missing_sa_count`).
//!
//! Relists (the watch's `Init` … `InitDone`) are applied in place with a generation
//! counter and a sweep at the end, so lookups keep working during a relist; the entries a
//! relist replaces are reclaimed by compaction, so the arena stays under twice its live
//! size (plus 64 KiB) instead of holding a second copy of the cache.
//!
//! The cache also wakes up requests that wait for a ServiceAccount: every change bumps a
//! [`tokio::sync::watch`] version; a waiter subscribes *before* re-checking, so no insert
//! can slip between its check and its wait.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::hash::{BuildHasher, Hasher, RandomState};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};

use hashbrown::HashTable;
use irsa_core::mutation::{
    ANNOTATION_AUDIENCE, ANNOTATION_ROLE_ARN, ANNOTATION_STS_REGIONAL_ENDPOINTS,
    ANNOTATION_TOKEN_EXPIRATION, ServiceAccountIdentity,
};
use tokio::sync::watch;

use crate::metrics::Metrics;

/// The annotation suffixes mutation reads, stored as their index + 1 in one tag byte
/// (0 means "another suffix, spelled out").
const KNOWN_SUFFIXES: [&str; 4] = [
    ANNOTATION_ROLE_ARN,
    ANNOTATION_AUDIENCE,
    ANNOTATION_STS_REGIONAL_ENDPOINTS,
    ANNOTATION_TOKEN_EXPIRATION,
];

/// Value tags: the value spelled out, or an interned prefix followed by the rest.
const VALUE_PLAIN: u8 = 0;
const VALUE_PREFIXED: u8 = 1;

/// Compact when at least this many arena bytes are dead and they are half the arena.
const MIN_GARBAGE_TO_COMPACT: usize = 64 * 1024;

/// Capacity of one arena chunk.
const CHUNK_BYTES: usize = 64 * 1024;

/// Where an entry starts: a chunk of the arena (high 16 bits) and a position in it (low 16
/// bits; an entry starts inside the first [`CHUNK_BYTES`] of its chunk). Four bytes per
/// table slot: the table is a quarter of the cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Loc(u32);

impl Loc {
    fn new(chunk: usize, pos: usize) -> Option<Self> {
        let chunk = u16::try_from(chunk).ok()?;
        let pos = u16::try_from(pos).ok()?;
        Some(Self((u32::from(chunk) << 16) | u32::from(pos)))
    }

    fn chunk(self) -> usize {
        (self.0 >> 16) as usize
    }

    fn pos(self) -> usize {
        (self.0 & 0xffff) as usize
    }
}

/// Append-only storage in chunks allocated at their final size, so that filling it never
/// reallocates or copies: a growing `Vec` would leave every smaller buffer it outgrew
/// (together as large as the final one) freed but still resident until the allocator
/// purges it, which an idle webhook right after its initial sync never prompts.
#[derive(Debug, Default)]
struct Arena {
    chunks: Vec<Vec<u8>>,
    used: usize,
}

impl Arena {
    /// Appends `bytes` (an entry larger than a chunk gets a chunk of its own); `None` past
    /// 65,536 chunks (4 GiB).
    fn push(&mut self, bytes: &[u8]) -> Option<Loc> {
        let fits = self
            .chunks
            .last()
            .is_some_and(|c| CHUNK_BYTES.saturating_sub(c.len()) >= bytes.len());
        if !fits {
            if self.chunks.len() > usize::from(u16::MAX) {
                return None;
            }
            self.chunks
                .push(Vec::with_capacity(bytes.len().max(CHUNK_BYTES)));
        }
        let chunk = self.chunks.len() - 1;
        let last = self.chunks.last_mut()?;
        let loc = Loc::new(chunk, last.len())?;
        last.extend_from_slice(bytes);
        self.used += bytes.len();
        Some(loc)
    }

    /// The bytes from `loc` to the end of its chunk.
    fn starting_at(&self, loc: Loc) -> Option<&[u8]> {
        self.chunks.get(loc.chunk())?.get(loc.pos()..)
    }
}

/// An entry read back from the arena.
struct EntryView<'a> {
    /// The relist generation that last saw the entry.
    generation: u32,
    key: &'a str,
    /// The encoded annotations that follow the key.
    annotations: &'a [u8],
    /// Length of the whole encoded entry (for garbage accounting).
    encoded_len: usize,
}

/// Every entry, packed back to back in an [`Arena`] and found through a table of offsets.
///
/// An entry is `varint(len) generation varint(key_len) key annotation*` (the generation: the
/// relist that last saw it, four bytes) where `key` is
/// `namespace/name` and each annotation under the prefix is a suffix (one tag byte: a known
/// suffix's index + 1, or 0 followed by `varint(len) bytes`) and a value (`0 varint(len)
/// bytes`, or `1 varint(prefix_id) varint(len) bytes` for a role ARN whose part up to the
/// last `/` is interned: `arn:aws:iam::111122223333:role/` is shared by most roles of a
/// cluster). For 100,000 ServiceAccounts this is about 4 MiB of arena in 64 KiB chunks and
/// 0.6 MiB of table, where a `Box<str>` per entry took 11 MiB in 100,000 allocations
/// interleaved with the list pages' garbage (which then could not be returned to the OS).
///
/// Replaced and deleted entries leave dead bytes behind; when they are half the arena the
/// live entries are re-encoded into a fresh one (amortised O(1) per change), which also
/// drops interned prefixes no entry uses any more.
#[derive(Debug, Default)]
struct Store {
    arena: Arena,
    table: HashTable<Loc>,
    hasher: RandomState,
    garbage: usize,
    prefixes: Vec<Box<str>>,
    prefix_ids: HashMap<Box<str>, u32>,
}

fn push_varint(out: &mut Vec<u8>, mut v: usize) {
    while v >= 0x80 {
        // Truncation is the point: the low seven bits, with the continuation bit.
        out.push((v as u8 & 0x7f) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn read_varint(bytes: &[u8], pos: &mut usize) -> Option<usize> {
    let mut value = 0usize;
    for shift in (0..usize::BITS).step_by(7) {
        let byte = *bytes.get(*pos)?;
        *pos += 1;
        value |= usize::from(byte & 0x7f).checked_shl(shift)?;
        if byte & 0x80 == 0 {
            return Some(value);
        }
    }
    None
}

fn read_str<'a>(bytes: &'a [u8], pos: &mut usize) -> Option<&'a str> {
    let len = read_varint(bytes, pos)?;
    let s = bytes.get(*pos..pos.checked_add(len)?)?;
    *pos += len;
    std::str::from_utf8(s).ok()
}

/// The interned part of a role ARN: up to and including its last `/`.
fn arn_prefix(value: &str) -> Option<&str> {
    let end = value.rfind('/')? + 1;
    (end >= 8).then(|| &value[..end])
}

impl Store {
    fn hash_key(&self, namespace: &str, name: &str) -> u64 {
        // The hasher sees one byte stream, so `(namespace, name)` hashes like the stored
        // `namespace/name`: lookups need no key allocation.
        let mut h = self.hasher.build_hasher();
        h.write(namespace.as_bytes());
        h.write(b"/");
        h.write(name.as_bytes());
        h.finish()
    }

    fn hash_stored(hasher: &RandomState, key: &str) -> u64 {
        let mut h = hasher.build_hasher();
        h.write(key.as_bytes());
        h.finish()
    }

    fn view(arena: &Arena, offset: Loc) -> Option<EntryView<'_>> {
        let bytes = arena.starting_at(offset)?;
        let mut pos = 0;
        let len = read_varint(bytes, &mut pos)?;
        let body = bytes.get(pos..pos.checked_add(len)?)?;
        let encoded_len = pos + len;
        let generation = u32::from_le_bytes(body.get(..4)?.try_into().ok()?);
        let mut at = 4;
        let key = read_str(body, &mut at)?;
        Some(EntryView {
            generation,
            key,
            annotations: body.get(at..)?,
            encoded_len,
        })
    }

    fn key_matches(key: &str, namespace: &str, name: &str) -> bool {
        key.len() == namespace.len() + 1 + name.len()
            && key.starts_with(namespace)
            && key.ends_with(name)
            && key.as_bytes().get(namespace.len()) == Some(&b'/')
    }

    fn find(&self, namespace: &str, name: &str) -> Option<EntryView<'_>> {
        let hash = self.hash_key(namespace, name);
        let arena = &self.arena;
        let slot = self.table.find(hash, |slot| {
            Self::view(arena, *slot).is_some_and(|v| Self::key_matches(v.key, namespace, name))
        })?;
        Self::view(arena, *slot)
    }

    /// `(suffix, value)` pairs of an entry's encoded annotations.
    fn annotations<'a>(
        &'a self,
        encoded: &'a [u8],
    ) -> impl Iterator<Item = (&'a str, Cow<'a, str>)> + 'a {
        let mut pos = 0;
        std::iter::from_fn(move || {
            if pos >= encoded.len() {
                return None;
            }
            let tag = *encoded.get(pos)?;
            pos += 1;
            let suffix = match tag {
                0 => read_str(encoded, &mut pos)?,
                known => *KNOWN_SUFFIXES.get(usize::from(known) - 1)?,
            };
            let kind = *encoded.get(pos)?;
            pos += 1;
            let value = match kind {
                VALUE_PLAIN => Cow::Borrowed(read_str(encoded, &mut pos)?),
                VALUE_PREFIXED => {
                    let id = read_varint(encoded, &mut pos)?;
                    let prefix = self.prefixes.get(id)?;
                    let rest = read_str(encoded, &mut pos)?;
                    Cow::Owned(format!("{prefix}{rest}"))
                }
                _ => return None,
            };
            Some((suffix, value))
        })
    }

    fn intern(&mut self, prefix: &str) -> Option<usize> {
        if let Some(id) = self.prefix_ids.get(prefix) {
            return usize::try_from(*id).ok();
        }
        let id = u32::try_from(self.prefixes.len()).ok()?;
        self.prefixes.push(prefix.into());
        self.prefix_ids.insert(prefix.into(), id);
        usize::try_from(id).ok()
    }

    /// Appends an entry to the arena.
    fn encode<'p>(
        &mut self,
        key: &str,
        generation: u32,
        annotations: impl Iterator<Item = (&'p str, &'p str)>,
    ) -> Option<Loc> {
        let mut body = Vec::with_capacity(key.len() + 64);
        body.extend_from_slice(&generation.to_le_bytes());
        push_varint(&mut body, key.len());
        body.extend_from_slice(key.as_bytes());
        for (suffix, value) in annotations {
            match KNOWN_SUFFIXES.iter().position(|known| *known == suffix) {
                Some(index) => body.push(u8::try_from(index + 1).ok()?),
                None => {
                    body.push(0);
                    push_varint(&mut body, suffix.len());
                    body.extend_from_slice(suffix.as_bytes());
                }
            }
            let interned = (suffix == ANNOTATION_ROLE_ARN)
                .then(|| arn_prefix(value))
                .flatten()
                .and_then(|prefix| Some((prefix.len(), self.intern(prefix)?)));
            match interned {
                Some((prefix_len, id)) => {
                    body.push(VALUE_PREFIXED);
                    push_varint(&mut body, id);
                    let rest = &value[prefix_len..];
                    push_varint(&mut body, rest.len());
                    body.extend_from_slice(rest.as_bytes());
                }
                None => {
                    body.push(VALUE_PLAIN);
                    push_varint(&mut body, value.len());
                    body.extend_from_slice(value.as_bytes());
                }
            }
        }
        let mut entry = Vec::with_capacity(body.len() + 5);
        push_varint(&mut entry, body.len());
        entry.extend_from_slice(&body);
        self.arena.push(&entry)
    }

    /// Adds or replaces an entry; `false` when it could not be stored.
    fn insert<'p>(
        &mut self,
        namespace: &str,
        name: &str,
        generation: u32,
        annotations: impl Iterator<Item = (&'p str, &'p str)>,
    ) -> bool {
        let key = format!("{namespace}/{name}");
        let Some(offset) = self.encode(&key, generation, annotations) else {
            return false;
        };
        let hash = self.hash_key(namespace, name);
        let Self {
            arena,
            table,
            hasher,
            garbage,
            ..
        } = self;
        let arena = &*arena;
        let found = table.find_mut(hash, |slot| {
            Self::view(arena, *slot).is_some_and(|v| Self::key_matches(v.key, namespace, name))
        });
        match found {
            Some(slot) => {
                *garbage += Self::view(arena, *slot).map_or(0, |v| v.encoded_len);
                *slot = offset;
            }
            None => {
                table.insert_unique(hash, offset, |slot| {
                    Self::view(arena, *slot).map_or(0, |v| Self::hash_stored(hasher, v.key))
                });
            }
        }
        self.maybe_compact();
        true
    }

    fn remove(&mut self, namespace: &str, name: &str) {
        let hash = self.hash_key(namespace, name);
        let arena = &self.arena;
        if let Ok(entry) = self.table.find_entry(hash, |slot| {
            Self::view(arena, *slot).is_some_and(|v| Self::key_matches(v.key, namespace, name))
        }) {
            let (loc, _) = entry.remove();
            self.garbage += Self::view(arena, loc).map_or(0, |v| v.encoded_len);
        }
        self.maybe_compact();
    }

    /// Drops entries whose generation is not `generation`.
    fn retain_generation(&mut self, generation: u32) {
        let arena = &self.arena;
        let mut dead = 0;
        self.table.retain(|slot| {
            let Some(view) = Self::view(arena, *slot) else {
                return false;
            };
            let keep = view.generation == generation;
            if !keep {
                dead += view.encoded_len;
            }
            keep
        });
        self.garbage += dead;
        self.maybe_compact();
    }

    fn maybe_compact(&mut self) {
        if self.garbage >= MIN_GARBAGE_TO_COMPACT && self.garbage * 2 >= self.arena.used {
            self.compact();
        }
    }

    /// Re-encodes every live entry into a fresh arena (and prefix table).
    fn compact(&mut self) {
        let mut fresh = Store {
            hasher: self.hasher.clone(),
            ..Store::default()
        };
        fresh.table.reserve(self.table.len(), |_| 0);
        for slot in &self.table {
            let Some(view) = Self::view(&self.arena, *slot) else {
                continue;
            };
            let Some((namespace, name)) = view.key.split_once('/') else {
                continue;
            };
            let pairs: Vec<(&str, Cow<'_, str>)> = self.annotations(view.annotations).collect();
            fresh.insert(
                namespace,
                name,
                view.generation,
                pairs.iter().map(|(k, v)| (*k, v.as_ref())),
            );
        }
        *self = fresh;
    }

    fn shrink_to_fit(&mut self) {
        let Self {
            arena,
            table,
            hasher,
            ..
        } = self;
        let arena = &*arena;
        table.shrink_to_fit(|slot| {
            Self::view(arena, *slot).map_or(0, |v| Self::hash_stored(hasher, v.key))
        });
        self.prefixes.shrink_to_fit();
    }

    fn len(&self) -> usize {
        self.table.len()
    }

    fn clear(&mut self) {
        *self = Store {
            hasher: self.hasher.clone(),
            ..Store::default()
        };
    }
}

#[derive(Debug, Default)]
struct State {
    store: Store,
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

    fn bump(&self) {
        self.version.send_modify(|v| *v = v.wrapping_add(1));
    }

    /// Adds or replaces a ServiceAccount, keeping only the annotations under the prefix.
    pub fn apply(
        &self,
        namespace: &str,
        name: &str,
        annotations: Option<&BTreeMap<String, String>>,
    ) {
        let prefix = self.prefix_slash.as_str();
        let under_prefix = annotations
            .into_iter()
            .flatten()
            .filter_map(|(k, v)| Some((k.strip_prefix(prefix)?, v.as_str())));
        let (stored, len) = {
            let mut state = self.write();
            let generation = state.generation;
            let stored = state
                .store
                .insert(namespace, name, generation, under_prefix);
            (stored, state.store.len())
        };
        if !stored {
            // Only reachable past 4 GiB of annotations; the pod then waits for the grace
            // period and is admitted unmutated, as for an unknown ServiceAccount.
            tracing::error!(
                namespace,
                service_account = name,
                "ServiceAccount cache is full; entry not stored"
            );
        }
        self.metrics.used.set(1);
        self.metrics.cached_service_accounts.set(gauge_value(len));
        self.bump();
    }

    /// Removes a ServiceAccount.
    pub fn delete(&self, namespace: &str, name: &str) {
        let len = {
            let mut state = self.write();
            state.store.remove(namespace, name);
            state.store.len()
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
                state.store.retain_generation(generation);
                state.store.shrink_to_fit();
                state.relisting = false;
            }
            state.store.len()
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
        self.read().store.len()
    }

    /// Whether the cache is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The IRSA settings of a cached ServiceAccount, or `None` when it is not cached: what
    /// every admission asks, answered without building the annotation map.
    pub fn identity(&self, namespace: &str, name: &str) -> Option<ServiceAccountIdentity> {
        let state = self.read();
        let entry = state.store.find(namespace, name)?;
        Some(ServiceAccountIdentity::from_suffixed(
            state.store.annotations(entry.annotations),
        ))
    }

    /// The annotations under the prefix (full keys) of a cached ServiceAccount, or `None`
    /// when the ServiceAccount is not cached.
    pub fn get(&self, namespace: &str, name: &str) -> Option<BTreeMap<String, String>> {
        let state = self.read();
        let entry = state.store.find(namespace, name)?;
        Some(self.full_keys(&state.store, entry.annotations))
    }

    fn full_keys(&self, store: &Store, encoded: &[u8]) -> BTreeMap<String, String> {
        store
            .annotations(encoded)
            .map(|(suffix, value)| (format!("{}{suffix}", self.prefix_slash), value.into_owned()))
            .collect()
    }

    /// A receiver that changes whenever the cache does (subscribe before re-checking).
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.version.subscribe()
    }

    /// Every cached entry as `namespace/name` → annotations (debug endpoint).
    pub fn dump(&self) -> BTreeMap<String, BTreeMap<String, String>> {
        let state = self.read();
        let store = &state.store;
        store
            .table
            .iter()
            .filter_map(|slot| {
                let view = Store::view(&store.arena, *slot)?;
                Some((view.key.to_owned(), self.full_keys(store, view.annotations)))
            })
            .collect()
    }

    /// Drops every entry (debug endpoint); the watch refills it over time.
    pub fn clear(&self) {
        self.write().store.clear();
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

    #[test]
    fn identity_reads_like_the_annotation_map() {
        let c = ServiceAccountCache::new("eks.amazonaws.com", Arc::new(Metrics::new()));
        let annotations = ann(&[
            (
                "eks.amazonaws.com/role-arn",
                "arn:aws:iam::111122223333:role/team/app",
            ),
            ("eks.amazonaws.com/sts-regional-endpoints", "true"),
            ("eks.amazonaws.com/token-expiration", "100"),
        ]);
        c.apply("ns", "sa", Some(&annotations));
        let identity = c.identity("ns", "sa").unwrap();
        assert_eq!(
            identity.role_arn.as_deref(),
            Some("arn:aws:iam::111122223333:role/team/app")
        );
        assert_eq!(
            identity,
            ServiceAccountIdentity::from_annotations("eks.amazonaws.com", &annotations)
        );
        assert_eq!(c.identity("ns", "other"), None);
        assert_eq!(
            c.identity("n", "s/sa"),
            None,
            "the key is not split anywhere"
        );
    }

    #[test]
    fn replacing_entries_compacts_the_arena() {
        let c = ServiceAccountCache::new("p", Arc::new(Metrics::new()));
        let long = "x".repeat(200);
        for i in 0..5_000 {
            let value = format!("arn:aws:iam::111122223333:role/{long}-{i}");
            c.apply("ns", "churn", Some(&ann(&[("p/role-arn", &value)])));
            c.apply("ns", &format!("steady-{}", i % 10), None);
        }
        let state = c.read();
        let live: usize = state
            .store
            .table
            .iter()
            .filter_map(|slot| Store::view(&state.store.arena, *slot))
            .map(|v| v.encoded_len)
            .sum();
        assert!(
            state.store.arena.used <= 2 * live + MIN_GARBAGE_TO_COMPACT + 512,
            "arena {} bytes for {live} live bytes",
            state.store.arena.used
        );
        assert_eq!(state.store.prefixes.len(), 1, "one interned ARN prefix");
        drop(state);
        assert_eq!(c.len(), 11);
        let last = format!("arn:aws:iam::111122223333:role/{long}-4999");
        assert_eq!(
            c.get("ns", "churn"),
            Some(ann(&[("p/role-arn", last.as_str())]))
        );
    }

    #[test]
    fn entries_larger_than_a_chunk_get_their_own() {
        let c = ServiceAccountCache::new("p", Arc::new(Metrics::new()));
        let big = "v".repeat(3 * CHUNK_BYTES);
        c.apply("ns", "small-1", Some(&ann(&[("p/custom", "a")])));
        c.apply("ns", "big", Some(&ann(&[("p/custom", big.as_str())])));
        c.apply("ns", "small-2", Some(&ann(&[("p/custom", "b")])));
        assert_eq!(c.get("ns", "big"), Some(ann(&[("p/custom", big.as_str())])));
        assert_eq!(c.get("ns", "small-1"), Some(ann(&[("p/custom", "a")])));
        assert_eq!(c.get("ns", "small-2"), Some(ann(&[("p/custom", "b")])));
        assert_eq!(c.read().store.arena.chunks.len(), 3);
    }

    proptest::proptest! {
        #[test]
        fn varints_round_trip(v in proptest::prelude::any::<u32>()) {
            let mut out = Vec::new();
            push_varint(&mut out, v as usize);
            let mut pos = 0;
            proptest::prop_assert_eq!(read_varint(&out, &mut pos), Some(v as usize));
            proptest::prop_assert_eq!(pos, out.len());
        }
    }

    #[derive(Debug, Clone)]
    enum Op {
        Apply(usize, usize, Vec<(usize, usize)>),
        Delete(usize, usize),
        BeginRelist,
        EndRelist,
        Compact,
        Clear,
    }

    const NAMESPACES: [&str; 3] = ["a", "team-b", "ns"];
    const NAMES: [&str; 3] = ["x", "sa", "worker-1"];
    const KEYS: [&str; 7] = [
        "p/role-arn",
        "p/audience",
        "p/sts-regional-endpoints",
        "p/token-expiration",
        "p/custom",
        "q/role-arn",
        "p",
    ];
    const VALUES: [&str; 8] = [
        "arn:aws:iam::111122223333:role/r",
        "arn:aws:iam::444455556666:role/path/to/r2",
        "arn:aws-cn:iam::111122223333:role/",
        "",
        "true",
        "600",
        "nul\0inside/é",
        "/short",
    ];

    fn op() -> impl proptest::strategy::Strategy<Value = Op> {
        use proptest::prelude::*;
        prop_oneof![
            6 => (0..3usize, 0..3usize, proptest::collection::vec((0..7usize, 0..8usize), 0..5))
                .prop_map(|(n, s, a)| Op::Apply(n, s, a)),
            2 => (0..3usize, 0..3usize).prop_map(|(n, s)| Op::Delete(n, s)),
            1 => Just(Op::BeginRelist),
            1 => Just(Op::EndRelist),
            1 => Just(Op::Compact),
            1 => Just(Op::Clear),
        ]
    }

    proptest::proptest! {
        /// The arena cache answers like a plain map of annotation maps with the same
        /// relist rules, through replacements, deletes, relists and compactions.
        #[test]
        fn arena_cache_answers_like_a_map_model(ops in proptest::collection::vec(op(), 1..60)) {
            let c = ServiceAccountCache::new("p", Arc::new(Metrics::new()));
            // (namespace, name) -> (annotations under the prefix, generation)
            let mut model: BTreeMap<(usize, usize), (BTreeMap<String, String>, u32)> = BTreeMap::new();
            let mut generation = 0u32;
            let mut relisting = false;
            for op in ops {
                match op {
                    Op::Apply(n, s, pairs) => {
                        let a: BTreeMap<String, String> = pairs
                            .iter()
                            .map(|(k, v)| (KEYS[*k].to_owned(), VALUES[*v].to_owned()))
                            .collect();
                        c.apply(NAMESPACES[n], NAMES[s], Some(&a));
                        let kept = a.into_iter().filter(|(k, _)| k.starts_with("p/")).collect();
                        model.insert((n, s), (kept, generation));
                    }
                    Op::Delete(n, s) => {
                        c.delete(NAMESPACES[n], NAMES[s]);
                        model.remove(&(n, s));
                    }
                    Op::BeginRelist => {
                        c.begin_relist();
                        generation = generation.wrapping_add(1);
                        relisting = true;
                    }
                    Op::EndRelist => {
                        c.end_relist();
                        if relisting {
                            model.retain(|_, (_, g)| *g == generation);
                            relisting = false;
                        }
                    }
                    Op::Compact => c.write().store.compact(),
                    Op::Clear => {
                        c.clear();
                        model.clear();
                    }
                }
                proptest::prop_assert_eq!(c.len(), model.len());
                for (n, namespace) in NAMESPACES.iter().enumerate() {
                    for (s, name) in NAMES.iter().enumerate() {
                        let want = model.get(&(n, s)).map(|(a, _)| a.clone());
                        proptest::prop_assert_eq!(c.get(namespace, name), want.clone());
                        proptest::prop_assert_eq!(
                            c.identity(namespace, name),
                            want.map(|a| ServiceAccountIdentity::from_annotations("p", &a))
                        );
                    }
                }
                let dumped = c.dump();
                proptest::prop_assert_eq!(dumped.len(), model.len());
            }
        }
    }
}
