//! A small Kubernetes API server for tests, at the HTTP level.
//!
//! It keeps objects of any kind under their REST path, with the parts of the API machinery a
//! controller depends on: resourceVersions (one global counter, as etcd's revision), uids,
//! optimistic concurrency on PUT and on patches carrying a resourceVersion, JSON Patch
//! (`test` included) and JSON Merge Patch, finalizers and deletionTimestamps (a DELETE of an
//! object with finalizers only marks it; it goes when the last finalizer is removed; no new
//! finalizer may be added while it is being deleted), owner-reference garbage collection,
//! label and name selectors, paged lists (`limit`/`continue`), and list + watch from a
//! resourceVersion (chunked JSON lines). Every request is recorded so a test can assert what
//! its client wrote. Objects are keyed by REST path, so a test seeds and reads them the way
//! the client addresses them ([`FakeApi::put`], [`FakeApi::get`]).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use tokio::sync::broadcast;

/// One recorded request.
#[derive(Debug, Clone)]
pub struct Request {
    /// HTTP method.
    pub method: String,
    /// Path (no query).
    pub path: String,
    /// Query string.
    pub query: String,
}

impl Request {
    /// Whether the request changes state.
    pub fn is_mutation(&self) -> bool {
        !matches!(self.method.as_str(), "GET" | "HEAD")
    }
}

#[derive(Debug, Clone)]
struct WatchEvent {
    rv: u64,
    resource: String,
    namespace: String,
    kind: &'static str,
    object: Value,
}

#[derive(Debug, Default)]
struct Inner {
    rv: u64,
    /// (resource, namespace, name) → object.
    objects: BTreeMap<(String, String, String), Value>,
    log: Vec<WatchEvent>,
    requests: Vec<Request>,
}

#[derive(Debug)]
struct Shared {
    inner: Mutex<Inner>,
    tx: broadcast::Sender<WatchEvent>,
}

impl Shared {
    /// The state; a test that panicked while holding it leaves it usable for the others.
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The running fake.
#[derive(Debug)]
pub struct FakeApi {
    shared: Arc<Shared>,
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FakeApi {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn status(code: u16, reason: &str, message: String) -> Response {
    let body = json!({
        "kind": "Status", "apiVersion": "v1", "metadata": {},
        "status": "Failure", "message": message, "reason": reason, "code": code,
    });
    (
        StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        [("content-type", "application/json")],
        body.to_string(),
    )
        .into_response()
}

fn ok_json(code: StatusCode, value: &Value) -> Response {
    (
        code,
        [("content-type", "application/json")],
        value.to_string(),
    )
        .into_response()
}

/// A parsed REST path.
struct Target {
    resource: String,
    namespace: Option<String>,
    name: Option<String>,
}

fn parse_path(path: &str) -> Option<Target> {
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    let (prefix, rest) = match parts.as_slice() {
        ["api", version, rest @ ..] => ((*version).to_string(), rest),
        ["apis", group, version, rest @ ..] => (format!("{group}/{version}"), rest),
        _ => return None,
    };
    let (namespace, plural, name) = match rest {
        ["namespaces", ns, plural] => (Some(*ns), *plural, None),
        ["namespaces", ns, plural, name] => (Some(*ns), *plural, Some(*name)),
        [plural] => (None, *plural, None),
        [plural, name] => (None, *plural, Some(*name)),
        _ => return None,
    };
    Some(Target {
        resource: format!("{prefix}/{plural}"),
        namespace: namespace.map(str::to_string),
        name: name.map(str::to_string),
    })
}

/// The REST path of a manifest (see [`FakeApi::create`]).
fn manifest_path(object: &Value) -> Option<String> {
    let api_version = object["apiVersion"].as_str()?;
    let kind = object["kind"].as_str()?;
    let name = object["metadata"]["name"].as_str()?;
    let group = if api_version.contains('/') {
        format!("/apis/{api_version}")
    } else {
        format!("/api/{api_version}")
    };
    let namespace = object["metadata"]["namespace"]
        .as_str()
        .map(|ns| format!("/namespaces/{ns}"))
        .unwrap_or_default();
    Some(format!(
        "{group}{namespace}/{}s/{name}",
        kind.to_ascii_lowercase()
    ))
}

fn query_map(query: &str) -> BTreeMap<String, String> {
    serde_urlencoded::from_str::<Vec<(String, String)>>(query)
        .unwrap_or_default()
        .into_iter()
        .collect()
}

fn matches_selectors(obj: &Value, query: &BTreeMap<String, String>) -> bool {
    if let Some(sel) = query.get("labelSelector").filter(|s| !s.is_empty()) {
        for term in sel.split(',') {
            let Some((k, v)) = term.split_once('=') else {
                return false;
            };
            if obj["metadata"]["labels"][k].as_str() != Some(v.trim_start_matches('=')) {
                return false;
            }
        }
    }
    if let Some(sel) = query.get("fieldSelector").filter(|s| !s.is_empty()) {
        for term in sel.split(',') {
            if let Some(name) = term.strip_prefix("metadata.name=")
                && obj["metadata"]["name"].as_str() != Some(name)
            {
                return false;
            }
        }
    }
    true
}

fn now_rfc3339() -> String {
    jiff::Timestamp::now()
        .round(jiff::Unit::Second)
        .unwrap_or(jiff::Timestamp::UNIX_EPOCH)
        .to_string()
}

impl Inner {
    fn bump(&mut self) -> u64 {
        self.rv += 1;
        self.rv
    }

    fn emit(
        &mut self,
        tx: &broadcast::Sender<WatchEvent>,
        resource: &str,
        namespace: &str,
        kind: &'static str,
        object: Value,
    ) {
        let rv = object["metadata"]["resourceVersion"]
            .as_str()
            .and_then(|s| s.parse().ok())
            .unwrap_or(self.rv);
        let ev = WatchEvent {
            rv,
            resource: resource.to_string(),
            namespace: namespace.to_string(),
            kind,
            object,
        };
        self.log.push(ev.clone());
        let _ = tx.send(ev);
    }

    /// Stores `obj` as the new state of `key`, or deletes it when it is being deleted and has
    /// no finalizers left. Returns the object as stored (or as deleted).
    fn commit(
        &mut self,
        tx: &broadcast::Sender<WatchEvent>,
        key: (String, String, String),
        mut obj: Value,
        created: bool,
    ) -> Value {
        let rv = self.bump();
        obj["metadata"]["resourceVersion"] = json!(rv.to_string());
        let deleting = obj["metadata"]["deletionTimestamp"].is_string();
        let finalizers_left = obj["metadata"]["finalizers"]
            .as_array()
            .is_some_and(|f| !f.is_empty());
        if deleting && !finalizers_left {
            self.objects.remove(&key);
            self.emit(tx, &key.0, &key.1, "DELETED", obj.clone());
            let uid = obj["metadata"]["uid"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            self.collect_garbage(tx, &uid);
        } else {
            self.objects.insert(key.clone(), obj.clone());
            self.emit(
                tx,
                &key.0,
                &key.1,
                if created { "ADDED" } else { "MODIFIED" },
                obj.clone(),
            );
        }
        obj
    }

    /// Deletes what `uid` owned (background cascading deletion, as kube-controller-manager).
    fn collect_garbage(&mut self, tx: &broadcast::Sender<WatchEvent>, uid: &str) {
        let owned: Vec<(String, String, String)> = self
            .objects
            .iter()
            .filter(|(_, o)| {
                o["metadata"]["ownerReferences"]
                    .as_array()
                    .is_some_and(|refs| refs.iter().any(|r| r["uid"] == uid))
            })
            .map(|(k, _)| k.clone())
            .collect();
        for key in owned {
            self.delete(tx, &key);
        }
    }

    fn delete(
        &mut self,
        tx: &broadcast::Sender<WatchEvent>,
        key: &(String, String, String),
    ) -> Option<Value> {
        let mut obj = self.objects.get(key)?.clone();
        if obj["metadata"]["deletionTimestamp"].is_null() {
            obj["metadata"]["deletionTimestamp"] = json!(now_rfc3339());
        }
        Some(self.commit(tx, key.clone(), obj, false))
    }
}

fn finalizers(obj: &Value) -> Vec<String> {
    obj["metadata"]["finalizers"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// Checks the rules an update must follow against the stored object; fixes up what the
/// server owns (uid, creation time, deletion time).
#[allow(clippy::result_large_err)]
fn validate_update(old: &Value, new: &mut Value) -> Result<(), Response> {
    if old["metadata"]["deletionTimestamp"].is_string() {
        let before = finalizers(old);
        if finalizers(new).iter().any(|f| !before.contains(f)) {
            return Err(status(
                422,
                "Invalid",
                "Forbidden: no new finalizers can be added if the object is being deleted".into(),
            ));
        }
    }
    for field in [
        "uid",
        "creationTimestamp",
        "deletionTimestamp",
        "name",
        "namespace",
    ] {
        new["metadata"][field] = old["metadata"][field].clone();
    }
    if new["metadata"]["deletionTimestamp"].is_null()
        && let Some(m) = new["metadata"].as_object_mut()
    {
        m.remove("deletionTimestamp");
    }
    for field in ["apiVersion", "kind"] {
        if new[field].is_null() {
            new[field] = old[field].clone();
        }
    }
    Ok(())
}

async fn handle(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path().to_string();
    let query_string = uri.query().unwrap_or_default().to_string();
    let query = query_map(&query_string);
    {
        let mut inner = shared.lock();
        inner.requests.push(Request {
            method: method.to_string(),
            path: path.clone(),
            query: query_string.clone(),
        });
    }
    let Some(target) = parse_path(&path) else {
        return status(404, "NotFound", format!("the server could not find {path}"));
    };
    let ns = target.namespace.clone().unwrap_or_default();
    match (method.as_str(), &target.name) {
        ("GET", None) if query.get("watch").is_some_and(|w| w == "true" || w == "1") => {
            watch(shared, target, query)
        }
        ("GET", None) => {
            let inner = shared.lock();
            let matching = inner.objects.iter().filter(|((r, n, _), o)| {
                *r == target.resource
                    && (target.namespace.is_none() || *n == ns)
                    && matches_selectors(o, &query)
            });
            // Pages: `continue` is the offset of the next item (opaque to clients).
            let start: usize = query
                .get("continue")
                .and_then(|c| c.parse().ok())
                .unwrap_or(0);
            let limit: usize = query
                .get("limit")
                .and_then(|l| l.parse().ok())
                .filter(|l| *l > 0)
                .unwrap_or(usize::MAX);
            let mut items: Vec<Value> = matching
                .skip(start)
                .take(limit.saturating_add(1))
                .map(|(_, o)| o.clone())
                .collect();
            let more = items.len() > limit;
            items.truncate(limit);
            let next = if more {
                (start + items.len()).to_string()
            } else {
                String::new()
            };
            ok_json(
                StatusCode::OK,
                &json!({
                    "kind": "List", "apiVersion": "v1",
                    "metadata": { "resourceVersion": inner.rv.to_string(), "continue": next },
                    "items": items,
                }),
            )
        }
        ("GET", Some(name)) => {
            let inner = shared.lock();
            match inner
                .objects
                .get(&(target.resource.clone(), ns.clone(), name.clone()))
            {
                Some(o) => ok_json(StatusCode::OK, o),
                None => status(
                    404,
                    "NotFound",
                    format!("{} \"{name}\" not found", target.resource),
                ),
            }
        }
        ("POST", None) => {
            let Ok(mut obj) = serde_json::from_slice::<Value>(&body) else {
                return status(400, "BadRequest", "body is not JSON".into());
            };
            let mut inner = shared.lock();
            let name = match obj["metadata"]["name"].as_str() {
                Some(n) => n.to_string(),
                None => match obj["metadata"]["generateName"].as_str() {
                    Some(g) => format!("{g}{:05}", inner.rv + 1),
                    None => return status(422, "Invalid", "metadata.name: Required value".into()),
                },
            };
            let key = (target.resource.clone(), ns.clone(), name.clone());
            if inner.objects.contains_key(&key) {
                return status(
                    409,
                    "AlreadyExists",
                    format!("{} \"{name}\" already exists", target.resource),
                );
            }
            obj["metadata"]["name"] = json!(name);
            if target.namespace.is_some() {
                obj["metadata"]["namespace"] = json!(ns);
            }
            obj["metadata"]["uid"] = json!(uuid::Uuid::new_v4().to_string());
            obj["metadata"]["creationTimestamp"] = json!(now_rfc3339());
            obj["metadata"]["generation"] = json!(1);
            if let Some(m) = obj["metadata"].as_object_mut() {
                m.remove("resourceVersion");
                m.remove("deletionTimestamp");
            }
            let stored = inner.commit(&shared.tx, key, obj, true);
            ok_json(StatusCode::CREATED, &stored)
        }
        ("PUT", Some(name)) => {
            let Ok(mut obj) = serde_json::from_slice::<Value>(&body) else {
                return status(400, "BadRequest", "body is not JSON".into());
            };
            let mut inner = shared.lock();
            let key = (target.resource.clone(), ns.clone(), name.clone());
            let Some(old) = inner.objects.get(&key).cloned() else {
                return status(
                    404,
                    "NotFound",
                    format!("{} \"{name}\" not found", target.resource),
                );
            };
            if let Some(rv) = obj["metadata"]["resourceVersion"].as_str()
                && Some(rv) != old["metadata"]["resourceVersion"].as_str()
            {
                return status(
                    409,
                    "Conflict",
                    format!(
                        "Operation cannot be fulfilled on {} \"{name}\": the object has been modified; please apply your changes to the latest version and try again",
                        target.resource
                    ),
                );
            }
            if let Err(r) = validate_update(&old, &mut obj) {
                return r;
            }
            let stored = inner.commit(&shared.tx, key, obj, false);
            ok_json(StatusCode::OK, &stored)
        }
        ("PATCH", Some(name)) => {
            let content_type = headers
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_string();
            let Ok(patch) = serde_json::from_slice::<Value>(&body) else {
                return status(400, "BadRequest", "body is not JSON".into());
            };
            let mut inner = shared.lock();
            let key = (target.resource.clone(), ns.clone(), name.clone());
            let Some(old) = inner.objects.get(&key).cloned() else {
                return status(
                    404,
                    "NotFound",
                    format!("{} \"{name}\" not found", target.resource),
                );
            };
            let mut obj = old.clone();
            match content_type.as_str() {
                "application/json-patch+json" => {
                    // As the real API server (evanphx/json-patch): `test` of `null` passes
                    // on a path that does not exist.
                    let patch = Value::Array(
                        patch
                            .as_array()
                            .cloned()
                            .unwrap_or_default()
                            .into_iter()
                            .filter(|op| {
                                !(op["op"] == "test"
                                    && op["value"].is_null()
                                    && op["path"]
                                        .as_str()
                                        .is_some_and(|p| obj.pointer(p).is_none()))
                            })
                            .collect(),
                    );
                    let Ok(ops) = serde_json::from_value::<json_patch::Patch>(patch) else {
                        return status(400, "BadRequest", "not a JSON Patch".into());
                    };
                    if let Err(e) = json_patch::patch(&mut obj, &ops) {
                        return status(422, "Invalid", format!("the JSON Patch failed: {e}"));
                    }
                }
                "application/merge-patch+json" | "application/strategic-merge-patch+json" => {
                    if let Some(rv) = patch["metadata"]["resourceVersion"].as_str()
                        && Some(rv) != old["metadata"]["resourceVersion"].as_str()
                    {
                        return status(409, "Conflict", "the object has been modified".into());
                    }
                    json_patch::merge(&mut obj, &patch);
                }
                other => {
                    return status(
                        415,
                        "UnsupportedMediaType",
                        format!("patch type {other} is not supported by the fake"),
                    );
                }
            }
            if let Err(r) = validate_update(&old, &mut obj) {
                return r;
            }
            let stored = inner.commit(&shared.tx, key, obj, false);
            ok_json(StatusCode::OK, &stored)
        }
        ("DELETE", Some(name)) => {
            let mut inner = shared.lock();
            let key = (target.resource.clone(), ns.clone(), name.clone());
            match inner.delete(&shared.tx, &key) {
                Some(obj) => ok_json(StatusCode::OK, &obj),
                None => status(
                    404,
                    "NotFound",
                    format!("{} \"{name}\" not found", target.resource),
                ),
            }
        }
        _ => status(
            405,
            "MethodNotAllowed",
            format!("{method} {path} is not supported by the fake"),
        ),
    }
}

fn watch(shared: Arc<Shared>, target: Target, query: BTreeMap<String, String>) -> Response {
    let since: Option<u64> = query
        .get("resourceVersion")
        .and_then(|v| v.parse().ok())
        .filter(|v| *v > 0);
    let timeout = query
        .get("timeoutSeconds")
        .and_then(|v| v.parse().ok())
        .map_or(Duration::from_secs(60), |s: u64| {
            Duration::from_secs(s.min(60))
        });
    let namespace = target.namespace.clone();
    let resource = target.resource.clone();
    let relevant = move |ev: &WatchEvent| {
        ev.resource == resource
            && namespace.as_ref().is_none_or(|n| *n == ev.namespace)
            && matches_selectors(&ev.object, &query)
    };
    let (backlog, mut rx, last) = {
        let inner = shared.lock();
        let rx = shared.tx.subscribe();
        let backlog: Vec<WatchEvent> = match since {
            Some(since) => inner
                .log
                .iter()
                .filter(|e| e.rv > since && relevant(e))
                .cloned()
                .collect(),
            None => inner
                .objects
                .iter()
                .filter(|((r, _, _), _)| *r == target.resource)
                .map(|((r, n, _), o)| WatchEvent {
                    rv: inner.rv,
                    resource: r.clone(),
                    namespace: n.clone(),
                    kind: "ADDED",
                    object: o.clone(),
                })
                .filter(&relevant)
                .collect(),
        };
        (backlog, rx, inner.rv)
    };
    let (tx, body_rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(64);
    tokio::spawn(async move {
        let line = |ev: &WatchEvent| {
            Bytes::from(json!({ "type": ev.kind, "object": ev.object }).to_string() + "\n")
        };
        for ev in &backlog {
            if tx.send(Ok(line(ev))).await.is_err() {
                return;
            }
        }
        let deadline = tokio::time::sleep(timeout);
        tokio::pin!(deadline);
        loop {
            tokio::select! {
                () = &mut deadline => return,
                ev = rx.recv() => match ev {
                    Ok(ev) if ev.rv > last && relevant(&ev) => {
                        if tx.send(Ok(line(&ev))).await.is_err() {
                            return;
                        }
                    }
                    Ok(_) => {}
                    Err(broadcast::error::RecvError::Lagged(_)) => return,
                    Err(broadcast::error::RecvError::Closed) => return,
                },
            }
        }
    });
    let stream = futures::stream::unfold(body_rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    });
    Response::builder()
        .status(StatusCode::OK)
        .header("content-type", "application/json")
        .body(Body::from_stream(stream))
        .unwrap_or_else(|_| {
            status(
                500,
                "InternalError",
                "cannot build the watch response".into(),
            )
        })
}

impl FakeApi {
    /// Starts the fake on a free loopback port.
    pub async fn start() -> Self {
        let (tx, _) = broadcast::channel(4096);
        let shared = Arc::new(Shared {
            inner: Mutex::new(Inner::default()),
            tx,
        });
        let app = axum::Router::new()
            .fallback(handle)
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
            .await
            .expect("bind a loopback port for the fake API");
        let url = format!(
            "http://{}",
            listener.local_addr().expect("the fake API's address")
        );
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self { shared, url, task }
    }

    /// A kube client for this fake.
    pub fn client(&self) -> kube::Client {
        let config = kube::Config::new(self.url.parse().expect("the fake API's URL"));
        kube::Client::try_from(config).expect("a kube client for the fake API")
    }

    /// Writes a kubeconfig naming this fake (no credentials) to `dir/kubeconfig`, for code
    /// under test that builds its own client, as the CLI's `--kubeconfig` does.
    pub fn kubeconfig(&self, dir: &Path) -> PathBuf {
        let path = dir.join("kubeconfig");
        let text = format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: fake\n  cluster:\n    server: {}\nusers:\n- name: tester\n  user: {{}}\ncontexts:\n- name: fake\n  context:\n    cluster: fake\n    user: tester\ncurrent-context: fake\n",
            self.url
        );
        std::fs::write(&path, text).expect("write the fake API's kubeconfig");
        path
    }

    /// Stores `object` at the REST path of the object itself
    /// (`/api/v1/namespaces/default/pods/app`), as a write through the API would: a new
    /// resourceVersion, a uid and a creation time unless the object has them (a test may
    /// backdate `creationTimestamp`). Panics on a path that names no object.
    pub fn put(&self, path: &str, mut object: Value) -> Value {
        let Some(Target {
            resource,
            namespace,
            name: Some(name),
        }) = parse_path(path)
        else {
            panic!("{path} is not the REST path of an object");
        };
        let ns = namespace.unwrap_or_default();
        if object["metadata"]["uid"].is_null() {
            object["metadata"]["uid"] = json!(uuid::Uuid::new_v4().to_string());
        }
        if object["metadata"]["creationTimestamp"].is_null() {
            object["metadata"]["creationTimestamp"] = json!(now_rfc3339());
        }
        object["metadata"]["name"] = json!(name);
        if !ns.is_empty() {
            object["metadata"]["namespace"] = json!(ns);
        }
        let mut inner = self.shared.lock();
        let key = (resource, ns, name);
        let created = !inner.objects.contains_key(&key);
        inner.commit(&self.shared.tx, key, object, created)
    }

    /// Stores a manifest at the path its `apiVersion`, `kind`, namespace and name give, as
    /// [`FakeApi::put`]. The resource is the kind's plural made the simple way (lower case
    /// plus `s`: pods, deployments, serviceaccounts, leases); for other kinds use `put`.
    pub fn create(&self, object: Value) -> Value {
        let path = manifest_path(&object)
            .unwrap_or_else(|| panic!("not a manifest with apiVersion, kind and name: {object}"));
        self.put(&path, object)
    }

    /// The object at a REST path, if stored.
    pub fn get(&self, path: &str) -> Option<Value> {
        let target = parse_path(path)?;
        self.object(
            &target.resource,
            &target.namespace.unwrap_or_default(),
            &target.name?,
        )
    }

    /// Every request so far.
    pub fn requests(&self) -> Vec<Request> {
        self.shared.lock().requests.clone()
    }

    /// Forgets the recorded requests.
    pub fn clear_requests(&self) {
        self.shared.lock().requests.clear();
    }

    /// A stored object, by REST resource (`v1/configmaps`, `infrastructure.giantswarm.io/v1alpha3/awsclusters`).
    pub fn object(&self, resource: &str, namespace: &str, name: &str) -> Option<Value> {
        self.shared
            .lock()
            .objects
            .get(&(
                resource.to_string(),
                namespace.to_string(),
                name.to_string(),
            ))
            .cloned()
    }

    /// All stored objects of a resource.
    pub fn objects(&self, resource: &str) -> Vec<Value> {
        self.shared
            .lock()
            .objects
            .iter()
            .filter(|((r, _, _), _)| r == resource)
            .map(|(_, o)| o.clone())
            .collect()
    }
}
