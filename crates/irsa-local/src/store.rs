//! Durable state: clusters and their keys, OIDC providers, roles and server secrets.
//!
//! STS sessions are not stored: they are sealed into their own tokens
//! ([`crate::session_seal`]).
//!
//! All state lives in one redb file in the data directory. Reads are served from an
//! in-memory mirror (STS reads a role and a provider on every call; it must not touch
//! the disk for that). Writes go to a single writer thread that groups whatever writes
//! are pending into one redb transaction, commits it with the default durability (an
//! `fsync`), applies it to the mirror and only then answers every waiting caller. So a
//! write is acknowledged only once it is durable, and concurrent writers (a burst of IAM
//! calls, a config being applied) share one `fsync` instead of queueing for one each.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock, mpsc};

use irsa_core::aws::Partition;
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use serde::{Deserialize, Serialize};
use tokio::sync::oneshot;

const CLUSTERS: TableDefinition<&str, &[u8]> = TableDefinition::new("clusters");
const PROVIDERS: TableDefinition<&str, &[u8]> = TableDefinition::new("oidc_providers");
const ROLES: TableDefinition<&str, &[u8]> = TableDefinition::new("roles");
/// Where versions before sealed sessions (see [`crate::session_seal`]) stored every STS
/// session. Nothing reads it any more; [`Store::open`] drops it from an old file.
const LEGACY_SESSIONS: TableDefinition<&str, &[u8]> = TableDefinition::new("sessions");
const SECRETS: TableDefinition<&str, &[u8]> = TableDefinition::new("secrets");

/// The file name of the database inside the data directory.
pub const DB_FILE: &str = "irsa-local.redb";

/// Errors of the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The data directory could not be created.
    #[error("cannot create data directory {path}: {source}")]
    DataDir {
        /// The directory.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// redb failed (open, transaction, table or commit).
    #[error("database {path}: {source}")]
    Database {
        /// The database file.
        path: PathBuf,
        /// The cause.
        source: Box<redb::Error>,
    },
    /// A stored record is not valid JSON for its type (a corrupted or foreign file).
    #[error("database record {key:?} in table {table} is unreadable: {source}")]
    Record {
        /// The table.
        table: &'static str,
        /// The key.
        key: String,
        /// The cause.
        source: serde_json::Error,
    },
    /// A grouped commit failed; every write in the group gets this error.
    #[error("database {path}: commit failed: {message}")]
    Commit {
        /// The database file.
        path: PathBuf,
        /// The underlying error, rendered.
        message: String,
    },
    /// The writer thread is gone (the store is shutting down).
    #[error("the store's writer has stopped")]
    WriterStopped,
}

/// A key/value tag (IAM `Tag`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tag {
    /// Tag key.
    pub key: String,
    /// Tag value.
    pub value: String,
}

/// A local cluster: its identity and its signing key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterRecord {
    /// Cluster name.
    pub name: String,
    /// AWS account ID that owns the cluster's issuer.
    pub account: String,
    /// AWS region.
    pub region: String,
    /// The issuer URL (`https://…`), exactly as it appears in `iss`.
    pub issuer: String,
    /// The private signing key as PKCS#8 PEM. Never logged.
    pub private_key_pem: String,
    /// Creation time, UNIX seconds.
    pub created: i64,
}

/// Records written before partitions were stored are in `aws`.
fn commercial() -> Partition {
    Partition::Aws
}

/// An IAM OpenID Connect provider.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Provider {
    /// The partition it was registered in (that of the signed request's region, or of the
    /// cluster for providers made from the config): the first field of its ARN.
    #[serde(default = "commercial")]
    pub partition: Partition,
    /// The owning account.
    pub account: String,
    /// The URL without `https://` (how IAM stores and returns it).
    pub url: String,
    /// `ClientIDList`, in insertion order.
    pub client_ids: Vec<String>,
    /// `ThumbprintList` (lowercase hex).
    pub thumbprints: Vec<String>,
    /// Tags as IAM lists them (key, value), in insertion order.
    pub tags: Vec<Tag>,
    /// Creation time, UNIX seconds.
    pub created: i64,
}

impl Provider {
    /// `arn:PARTITION:iam::ACCOUNT:oidc-provider/URL`.
    pub fn arn(&self) -> String {
        format!(
            "arn:{}:iam::{}:oidc-provider/{}",
            self.partition, self.account, self.url
        )
    }

    /// The issuer URL a token must carry in `iss` to match this provider.
    pub fn issuer_url(&self) -> String {
        format!("https://{}", self.url)
    }
}

/// An IAM role.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Role {
    /// The partition it was created in; a `RoleArn` of another partition does not name it.
    #[serde(default = "commercial")]
    pub partition: Partition,
    /// The owning account.
    pub account: String,
    /// The role name, with the case it was created with.
    pub name: String,
    /// The path (`/` or `/a/b/`).
    pub path: String,
    /// `AROA…`.
    pub role_id: String,
    /// The trust policy JSON, verbatim as submitted.
    pub assume_role_policy_document: String,
    /// Maximum session duration in seconds (3600..=43200).
    pub max_session_duration: u32,
    /// Optional description.
    pub description: Option<String>,
    /// Tags as IAM lists them (key, value), in insertion order.
    pub tags: Vec<Tag>,
    /// Creation time, UNIX seconds.
    pub created: i64,
}

impl Role {
    /// The role's ARN as irsa-core's type, from which STS derives the assumed-role ARN.
    /// Fails only for a record that IAM's validation would not have let in.
    pub fn role_arn(&self) -> Result<irsa_core::aws::RoleArn, irsa_core::InvalidValue> {
        use irsa_core::aws::{AccountId, IamPath, RoleArn, RoleName};
        Ok(RoleArn::new(
            self.partition,
            AccountId::parse(&self.account)?,
            IamPath::parse(&self.path)?,
            RoleName::parse(&self.name)?,
        ))
    }

    /// `arn:PARTITION:iam::ACCOUNT:role/PATH/NAME` (the path is part of the role ARN).
    pub fn arn(&self) -> String {
        format!(
            "arn:{}:iam::{}:role{}{}",
            self.partition, self.account, self.path, self.name
        )
    }
}

/// One write.
#[derive(Debug, Clone)]
pub enum Write {
    /// Insert or replace a cluster.
    PutCluster(ClusterRecord),
    /// Insert or replace a provider.
    PutProvider(Provider),
    /// Delete a provider by (account, url).
    DeleteProvider {
        /// The 12-digit account that owns the provider.
        account: String,
        /// URL without scheme.
        url: String,
    },
    /// Insert or replace a role.
    PutRole(Role),
    /// Delete a role by (account, name, any case).
    DeleteRole {
        /// The 12-digit account that owns the role.
        account: String,
        /// Role name.
        name: String,
    },
    /// Insert a server secret (e.g. the session-sealing key) under a name. Never logged.
    PutSecret {
        /// The secret's name.
        name: String,
        /// Its bytes.
        value: Vec<u8>,
    },
}

fn provider_key(account: &str, url: &str) -> String {
    format!("{account} {url}")
}

fn role_key(account: &str, name: &str) -> String {
    format!("{account} {}", name.to_ascii_lowercase())
}

#[derive(Debug, Default)]
struct Mirror {
    clusters: BTreeMap<String, ClusterRecord>,
    providers: BTreeMap<String, Provider>,
    /// Shared, so that the STS reads a role (and its trust policy) without copying it.
    roles: BTreeMap<String, Arc<Role>>,
    secrets: BTreeMap<String, Vec<u8>>,
}

impl Mirror {
    fn apply(&mut self, write: &Write) {
        match write {
            Write::PutCluster(c) => {
                self.clusters.insert(c.name.clone(), c.clone());
            }
            Write::PutProvider(p) => {
                self.providers
                    .insert(provider_key(&p.account, &p.url), p.clone());
            }
            Write::DeleteProvider { account, url } => {
                self.providers.remove(&provider_key(account, url));
            }
            Write::PutRole(r) => {
                self.roles
                    .insert(role_key(&r.account, &r.name), Arc::new(r.clone()));
            }
            Write::DeleteRole { account, name } => {
                self.roles.remove(&role_key(account, name));
            }
            Write::PutSecret { name, value } => {
                self.secrets.insert(name.clone(), value.clone());
            }
        }
    }
}

type Job = (Vec<Write>, oneshot::Sender<Result<(), StoreError>>);

struct Inner {
    mirror: RwLock<Mirror>,
    writer: std::sync::Mutex<Option<mpsc::Sender<Job>>>,
    thread: std::sync::Mutex<Option<std::thread::JoinHandle<()>>>,
    path: PathBuf,
    /// Serialises check-then-write sequences (IAM create/update) across handlers.
    write_lock: tokio::sync::Mutex<()>,
}

/// A handle to the store; cheap to clone.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("path", &self.inner.path)
            .finish()
    }
}

fn db_err(path: &Path, e: impl Into<redb::Error>) -> StoreError {
    StoreError::Database {
        path: path.to_path_buf(),
        source: Box::new(e.into()),
    }
}

fn load_table<T: for<'de> Deserialize<'de>>(
    db: &Database,
    path: &Path,
    table: TableDefinition<&str, &[u8]>,
    name: &'static str,
) -> Result<Vec<T>, StoreError> {
    let txn = db.begin_read().map_err(|e| db_err(path, e))?;
    let table = match txn.open_table(table) {
        Ok(t) => t,
        Err(redb::TableError::TableDoesNotExist(_)) => return Ok(Vec::new()),
        Err(e) => return Err(db_err(path, e)),
    };
    let mut out = Vec::new();
    for entry in table.iter().map_err(|e| db_err(path, e))? {
        let (k, v) = entry.map_err(|e| db_err(path, e))?;
        let record = serde_json::from_slice(v.value()).map_err(|source| StoreError::Record {
            table: name,
            key: k.value().to_string(),
            source,
        })?;
        out.push(record);
    }
    Ok(out)
}

/// Secrets are raw bytes, not JSON records.
fn load_secrets(db: &Database, path: &Path) -> Result<BTreeMap<String, Vec<u8>>, StoreError> {
    let txn = db.begin_read().map_err(|e| db_err(path, e))?;
    let table = match txn.open_table(SECRETS) {
        Ok(t) => t,
        Err(redb::TableError::TableDoesNotExist(_)) => return Ok(BTreeMap::new()),
        Err(e) => return Err(db_err(path, e)),
    };
    let mut out = BTreeMap::new();
    for entry in table.iter().map_err(|e| db_err(path, e))? {
        let (k, v) = entry.map_err(|e| db_err(path, e))?;
        out.insert(k.value().to_string(), v.value().to_vec());
    }
    Ok(out)
}

fn commit_batch(db: &Database, path: &Path, writes: &[&Write]) -> Result<(), StoreError> {
    let txn = db.begin_write().map_err(|e| db_err(path, e))?;
    {
        let mut clusters = txn.open_table(CLUSTERS).map_err(|e| db_err(path, e))?;
        let mut providers = txn.open_table(PROVIDERS).map_err(|e| db_err(path, e))?;
        let mut roles = txn.open_table(ROLES).map_err(|e| db_err(path, e))?;
        let mut secrets = txn.open_table(SECRETS).map_err(|e| db_err(path, e))?;
        for write in writes {
            let result = match write {
                Write::PutCluster(c) => clusters
                    .insert(c.name.as_str(), to_json(c).as_slice())
                    .map(drop),
                Write::PutProvider(p) => providers
                    .insert(
                        provider_key(&p.account, &p.url).as_str(),
                        to_json(p).as_slice(),
                    )
                    .map(drop),
                Write::DeleteProvider { account, url } => providers
                    .remove(provider_key(account, url).as_str())
                    .map(drop),
                Write::PutRole(r) => roles
                    .insert(
                        role_key(&r.account, &r.name).as_str(),
                        to_json(r).as_slice(),
                    )
                    .map(drop),
                Write::DeleteRole { account, name } => {
                    roles.remove(role_key(account, name).as_str()).map(drop)
                }
                Write::PutSecret { name, value } => {
                    secrets.insert(name.as_str(), value.as_slice()).map(drop)
                }
            };
            result.map_err(|e| db_err(path, e))?;
        }
    }
    txn.commit().map_err(|e| db_err(path, e))
}

/// Drops the tables older versions wrote and this one no longer reads, so an old data
/// directory opens and does not carry dead session records (and their secrets) forever.
/// Writes (one commit) only when there is something to drop.
fn drop_legacy_tables(db: &Database, path: &Path) -> Result<(), StoreError> {
    let txn = db.begin_write().map_err(|e| db_err(path, e))?;
    if txn
        .delete_table(LEGACY_SESSIONS)
        .map_err(|e| db_err(path, e))?
    {
        tracing::info!(path = %path.display(), "dropped the sessions table of an older version");
        txn.commit().map_err(|e| db_err(path, e))
    } else {
        txn.abort().map_err(|e| db_err(path, e))
    }
}

fn to_json<T: Serialize>(value: &T) -> Vec<u8> {
    // Serialising these plain structs (strings, integers, vectors) cannot fail.
    serde_json::to_vec(value).unwrap_or_default()
}

fn writer_loop(
    db: Database,
    path: PathBuf,
    inner: std::sync::Weak<Inner>,
    rx: mpsc::Receiver<Job>,
) {
    while let Ok(first) = rx.recv() {
        let mut jobs = vec![first];
        while jobs.len() < 1024 {
            match rx.try_recv() {
                Ok(job) => jobs.push(job),
                Err(_) => break,
            }
        }
        let writes: Vec<&Write> = jobs.iter().flat_map(|(w, _)| w.iter()).collect();
        let result = commit_batch(&db, &path, &writes);
        if result.is_ok()
            && let Some(inner) = inner.upgrade()
        {
            let mut mirror = match inner.mirror.write() {
                Ok(m) => m,
                Err(poisoned) => poisoned.into_inner(),
            };
            for write in &writes {
                mirror.apply(write);
            }
        }
        if let Err(e) = &result {
            tracing::error!(error = %e, "store commit failed");
        }
        for (_, reply) in jobs {
            let _ = reply.send(match &result {
                Ok(()) => Ok(()),
                Err(e) => Err(StoreError::Commit {
                    path: path.clone(),
                    message: e.to_string(),
                }),
            });
        }
    }
}

impl Store {
    /// Opens (or creates) the store in `data_dir` and loads everything into memory.
    pub fn open(data_dir: &Path) -> Result<Self, StoreError> {
        std::fs::create_dir_all(data_dir).map_err(|source| StoreError::DataDir {
            path: data_dir.to_path_buf(),
            source,
        })?;
        let path = data_dir.join(DB_FILE);
        let db = Database::create(&path).map_err(|e| db_err(&path, e))?;
        drop_legacy_tables(&db, &path)?;
        let mut mirror = Mirror::default();
        for c in load_table::<ClusterRecord>(&db, &path, CLUSTERS, "clusters")? {
            mirror.clusters.insert(c.name.clone(), c);
        }
        for p in load_table::<Provider>(&db, &path, PROVIDERS, "oidc_providers")? {
            mirror.providers.insert(provider_key(&p.account, &p.url), p);
        }
        for r in load_table::<Role>(&db, &path, ROLES, "roles")? {
            mirror
                .roles
                .insert(role_key(&r.account, &r.name), Arc::new(r));
        }
        mirror.secrets = load_secrets(&db, &path)?;
        let (tx, rx) = mpsc::channel::<Job>();
        let inner = Arc::new(Inner {
            mirror: RwLock::new(mirror),
            writer: std::sync::Mutex::new(Some(tx)),
            thread: std::sync::Mutex::new(None),
            path: path.clone(),
            write_lock: tokio::sync::Mutex::new(()),
        });
        let weak = Arc::downgrade(&inner);
        let handle = std::thread::Builder::new()
            .name("irsa-local-store".into())
            .spawn(move || writer_loop(db, path, weak, rx))
            .map_err(|source| StoreError::DataDir {
                path: data_dir.to_path_buf(),
                source,
            })?;
        if let Ok(mut slot) = inner.thread.lock() {
            *slot = Some(handle);
        }
        Ok(Self { inner })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// Commits `writes` atomically and durably; returns once they are on disk and visible
    /// to readers.
    pub async fn commit(&self, writes: Vec<Write>) -> Result<(), StoreError> {
        if writes.is_empty() {
            return Ok(());
        }
        let (tx, rx) = oneshot::channel();
        {
            let guard = match self.inner.writer.lock() {
                Ok(g) => g,
                Err(poisoned) => poisoned.into_inner(),
            };
            let sender = guard.as_ref().ok_or(StoreError::WriterStopped)?;
            sender
                .send((writes, tx))
                .map_err(|_| StoreError::WriterStopped)?;
        }
        rx.await.map_err(|_| StoreError::WriterStopped)?
    }

    /// Takes the store-wide lock for a read-check-write sequence (e.g. "create the role
    /// unless it exists"). Hold it across the check and the [`commit`](Self::commit).
    pub async fn write_lock(&self) -> tokio::sync::MutexGuard<'_, ()> {
        self.inner.write_lock.lock().await
    }

    /// Stops the writer thread after pending writes and closes the database file; later
    /// commits fail with [`StoreError::WriterStopped`]. Blocks until the file is closed.
    pub fn close(&self) {
        if let Ok(mut guard) = self.inner.writer.lock() {
            guard.take();
        }
        let handle = self.inner.thread.lock().ok().and_then(|mut h| h.take());
        if let Some(handle) = handle {
            let _ = handle.join();
        }
    }

    fn read<R>(&self, f: impl FnOnce(&Mirror) -> R) -> R {
        match self.inner.mirror.read() {
            Ok(m) => f(&m),
            Err(poisoned) => f(&poisoned.into_inner()),
        }
    }

    /// A cluster by name.
    pub fn get_cluster(&self, name: &str) -> Option<ClusterRecord> {
        self.read(|m| m.clusters.get(name).cloned())
    }

    /// All clusters, by name.
    pub fn list_clusters(&self) -> Vec<ClusterRecord> {
        self.read(|m| m.clusters.values().cloned().collect())
    }

    /// The provider of `account` whose issuer URL (`https://` + stored URL) equals
    /// `issuer_url` exactly (case and trailing slash significant).
    pub fn find_provider(&self, account: &str, issuer_url: &str) -> Option<Provider> {
        let url = issuer_url.strip_prefix("https://")?;
        self.get_provider(account, url)
    }

    /// A provider by account and URL without scheme.
    pub fn get_provider(&self, account: &str, url: &str) -> Option<Provider> {
        self.read(|m| m.providers.get(&provider_key(account, url)).cloned())
    }

    /// The providers of `account`, sorted by URL.
    pub fn list_providers(&self, account: &str) -> Vec<Provider> {
        self.read(|m| {
            m.providers
                .values()
                .filter(|p| p.account == account)
                .cloned()
                .collect()
        })
    }

    /// A role by account and name (names are case-insensitive, as in IAM).
    pub fn get_role(&self, account: &str, name: &str) -> Option<Role> {
        self.role(account, name).map(|r| Role::clone(&r))
    }

    /// [`get_role`](Self::get_role) without the copy: the stored role, shared.
    pub fn role(&self, account: &str, name: &str) -> Option<Arc<Role>> {
        self.read(|m| m.roles.get(&role_key(account, name)).cloned())
    }

    /// The roles of `account`, sorted by lower-case name.
    pub fn list_roles(&self, account: &str) -> Vec<Role> {
        self.read(|m| {
            m.roles
                .values()
                .filter(|r| r.account == account)
                .map(|r| Role::clone(r))
                .collect()
        })
    }

    /// All roles of all accounts.
    pub fn all_roles(&self) -> Vec<Role> {
        self.read(|m| m.roles.values().map(|r| Role::clone(r)).collect())
    }

    /// All providers of all accounts.
    pub fn all_providers(&self) -> Vec<Provider> {
        self.read(|m| m.providers.values().cloned().collect())
    }

    /// A server secret by name (see [`Write::PutSecret`]).
    pub fn get_secret(&self, name: &str) -> Option<Vec<u8>> {
        self.read(|m| m.secrets.get(name).cloned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn role(name: &str) -> Role {
        Role {
            partition: Partition::Aws,
            account: "000000000000".into(),
            name: name.into(),
            path: "/".into(),
            role_id: crate::ids::role_id(),
            assume_role_policy_document: "{}".into(),
            max_session_duration: 3600,
            description: None,
            tags: vec![],
            created: 1_700_000_000,
        }
    }

    fn provider(url: &str) -> Provider {
        Provider {
            partition: Partition::Aws,
            account: "000000000000".into(),
            url: url.into(),
            client_ids: vec!["sts.amazonaws.com".into()],
            thumbprints: vec![],
            tags: vec![],
            created: 1_700_000_000,
        }
    }

    #[tokio::test]
    async fn round_trip_survives_reopen() {
        let dir = tempfile::tempdir().expect("tempdir");
        {
            let store = Store::open(dir.path()).expect("open");
            store
                .commit(vec![
                    Write::PutRole(role("App")),
                    Write::PutProvider(provider("h/p")),
                    Write::PutRole(role("Gone")),
                ])
                .await
                .expect("commit");
            store
                .commit(vec![Write::DeleteRole {
                    account: "000000000000".into(),
                    name: "GONE".into(),
                }])
                .await
                .expect("delete");
            assert!(store.get_role("000000000000", "app").is_some());
            store.close();
        }
        let store = Store::open(dir.path()).expect("reopen");
        let app = store
            .get_role("000000000000", "APP")
            .expect("role persisted");
        assert_eq!(app.name, "App");
        assert!(store.get_role("000000000000", "Gone").is_none());
        assert_eq!(store.list_roles("000000000000").len(), 1);
        assert!(store.list_roles("111111111111").is_empty());
        let p = store
            .find_provider("000000000000", "https://h/p")
            .expect("provider");
        assert_eq!(p.arn(), "arn:aws:iam::000000000000:oidc-provider/h/p");
        assert!(
            store
                .find_provider("000000000000", "https://h/p/")
                .is_none()
        );
        assert!(store.find_provider("000000000000", "http://h/p").is_none());
    }

    #[tokio::test]
    async fn concurrent_writes_all_land() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(dir.path()).expect("open");
        let mut tasks = Vec::new();
        for i in 0..50 {
            let store = store.clone();
            tasks.push(tokio::spawn(async move {
                store
                    .commit(vec![Write::PutRole(role(&format!("r{i}")))])
                    .await
            }));
        }
        for t in tasks {
            t.await.expect("join").expect("commit");
        }
        assert_eq!(store.list_roles("000000000000").len(), 50);
        store.close();
        drop(store);
        let store = Store::open(dir.path()).expect("reopen");
        assert_eq!(store.list_roles("000000000000").len(), 50);
    }

    /// A file written by a version that stored sessions still opens: its records load and
    /// the dead sessions table is dropped.
    #[tokio::test]
    async fn files_with_the_old_sessions_table_open() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join(DB_FILE);
        {
            let db = Database::create(&path).expect("create");
            let txn = db.begin_write().expect("txn");
            {
                let mut roles = txn.open_table(ROLES).expect("roles");
                roles
                    .insert(
                        role_key("000000000000", "App").as_str(),
                        to_json(&role("App")).as_slice(),
                    )
                    .expect("role");
                let mut sessions = txn.open_table(LEGACY_SESSIONS).expect("sessions");
                sessions
                    .insert(
                        "ASIAOLD",
                        br#"{"access_key_id":"ASIAOLD","secret_access_key":"s"}"#.as_slice(),
                    )
                    .expect("session");
            }
            txn.commit().expect("commit");
        }
        let store = Store::open(dir.path()).expect("an old file opens");
        assert!(store.get_role("000000000000", "app").is_some());
        store.close();
        drop(store);
        let db = Database::create(&path).expect("reopen");
        let txn = db.begin_read().expect("read");
        assert!(
            matches!(
                txn.open_table(LEGACY_SESSIONS),
                Err(redb::TableError::TableDoesNotExist(_))
            ),
            "the sessions table is dropped"
        );
    }

    #[tokio::test]
    async fn closed_store_rejects_writes() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(dir.path()).expect("open");
        store.close();
        let err = store
            .commit(vec![Write::PutRole(role("x"))])
            .await
            .expect_err("closed");
        assert!(matches!(err, StoreError::WriterStopped));
    }
}
