//! Shared test harness: a test CA, a fake Kubernetes API at the HTTP level, and a webhook
//! started against it on ephemeral ports.
//!
//! The fake API answers what the webhook asks for: the (metadata) list and watch of all
//! ServiceAccounts, the direct GET of one ServiceAccount, and the list and watch of the
//! `pod-identity-webhook` ConfigMap. Watches stay open and stream events the test pushes.

#![allow(dead_code, clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{Path as UrlPath, Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use irsa_core::mutation::WebhookConfig;
use irsa_webhook::{RunningWebhook, ServerConfig};
use serde_json::{Value, json};
use tokio::sync::{Notify, broadcast};

/// A CA plus a serving certificate for 127.0.0.1/localhost.
pub struct TestPki {
    pub ca_pem: String,
    issuer: rcgen::Issuer<'static, rcgen::KeyPair>,
}

pub struct Leaf {
    pub cert_pem: String,
    pub key_pem: String,
    pub der: Vec<u8>,
}

impl TestPki {
    pub fn new() -> Self {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "irsa webhook test CA");
        let ca_pem = params.self_signed(&key).unwrap().pem();
        Self {
            ca_pem,
            issuer: rcgen::Issuer::new(params, key),
        }
    }

    pub fn leaf(&self, common_name: &str) -> Leaf {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params =
            rcgen::CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()])
                .unwrap();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, common_name);
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        Leaf {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
            der: cert.der().to_vec(),
        }
    }
}

/// One event pushed into the fake API's watches.
#[derive(Clone, Debug)]
pub struct WatchEvent {
    pub kind: &'static str,
    pub event_type: &'static str,
    pub object: Value,
}

#[derive(Default)]
struct ApiState {
    service_accounts: BTreeMap<(String, String), BTreeMap<String, String>>,
    /// Exist for direct GETs only (created "after" the list, before the watch saw them).
    hidden_service_accounts: BTreeMap<(String, String), BTreeMap<String, String>>,
    config_maps: BTreeMap<String, Value>,
    direct_gets: Vec<String>,
    list_calls: usize,
}

/// The fake API server.
#[derive(Clone)]
pub struct FakeApi {
    state: Arc<Mutex<ApiState>>,
    events: broadcast::Sender<WatchEvent>,
    /// While set, ServiceAccount lists wait on `release`.
    hold_lists: Arc<std::sync::atomic::AtomicBool>,
    release: Arc<Notify>,
    pub addr: SocketAddr,
}

fn sa_object(ns: &str, name: &str, annotations: &BTreeMap<String, String>) -> Value {
    json!({
        "apiVersion": "meta.k8s.io/v1",
        "kind": "PartialObjectMetadata",
        "metadata": {
            "name": name,
            "namespace": ns,
            "uid": format!("uid-{ns}-{name}"),
            "resourceVersion": "5",
            "annotations": annotations,
        }
    })
}

#[derive(serde::Deserialize)]
struct ListQuery {
    watch: Option<String>,
}

async fn list_or_watch_sas(State(api): State<FakeApi>, Query(q): Query<ListQuery>) -> Response {
    if q.watch.as_deref() == Some("true") || q.watch.as_deref() == Some("1") {
        return api.watch_stream("ServiceAccount");
    }
    if api.hold_lists.load(std::sync::atomic::Ordering::SeqCst) {
        api.release.notified().await;
    }
    let items: Vec<Value> = {
        let mut s = api.state.lock().unwrap();
        s.list_calls += 1;
        s.service_accounts
            .iter()
            .map(|((ns, name), ann)| sa_object(ns, name, ann))
            .collect()
    };
    axum::Json(json!({
        "apiVersion": "meta.k8s.io/v1",
        "kind": "PartialObjectMetadataList",
        "metadata": {"resourceVersion": "10"},
        "items": items,
    }))
    .into_response()
}

async fn get_sa(
    State(api): State<FakeApi>,
    UrlPath((ns, name)): UrlPath<(String, String)>,
) -> Response {
    let found = {
        let mut s = api.state.lock().unwrap();
        s.direct_gets.push(format!("{ns}/{name}"));
        let key = (ns.clone(), name.clone());
        s.service_accounts
            .get(&key)
            .or_else(|| s.hidden_service_accounts.get(&key))
            .cloned()
    };
    match found {
        Some(ann) => axum::Json(sa_object(&ns, &name, &ann)).into_response(),
        None => (
            axum::http::StatusCode::NOT_FOUND,
            axum::Json(json!({
                "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                "message": format!("serviceaccounts \"{name}\" not found"),
                "reason": "NotFound", "code": 404
            })),
        )
            .into_response(),
    }
}

async fn list_or_watch_cms(
    State(api): State<FakeApi>,
    UrlPath(ns): UrlPath<String>,
    Query(q): Query<ListQuery>,
) -> Response {
    if q.watch.as_deref() == Some("true") || q.watch.as_deref() == Some("1") {
        return api.watch_stream("ConfigMap");
    }
    let items: Vec<Value> = {
        let s = api.state.lock().unwrap();
        s.config_maps.get(&ns).cloned().into_iter().collect()
    };
    axum::Json(json!({
        "apiVersion": "v1",
        "kind": "ConfigMapList",
        "metadata": {"resourceVersion": "10"},
        "items": items,
    }))
    .into_response()
}

impl FakeApi {
    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (events, _) = broadcast::channel(1024);
        let api = FakeApi {
            state: Arc::default(),
            events,
            hold_lists: Arc::default(),
            release: Arc::new(Notify::new()),
            addr,
        };
        let router = Router::new()
            .route("/api/v1/serviceaccounts", get(list_or_watch_sas))
            .route(
                "/api/v1/namespaces/{ns}/serviceaccounts/{name}",
                get(get_sa),
            )
            .route("/api/v1/namespaces/{ns}/configmaps", get(list_or_watch_cms))
            .with_state(api.clone());
        tokio::spawn(async move {
            axum::serve(listener, router).await.unwrap();
        });
        api
    }

    fn watch_stream(&self, kind: &'static str) -> Response {
        let rx = self.events.subscribe();
        let stream = futures::stream::unfold(rx, move |mut rx| async move {
            loop {
                match rx.recv().await {
                    Ok(ev) if ev.kind == kind => {
                        let mut line = serde_json::to_vec(
                            &json!({"type": ev.event_type, "object": ev.object}),
                        )
                        .unwrap();
                        line.push(b'\n');
                        return Some((Ok::<_, std::io::Error>(bytes::Bytes::from(line)), rx));
                    }
                    Ok(_) => continue,
                    Err(broadcast::error::RecvError::Lagged(_)) => continue,
                    Err(broadcast::error::RecvError::Closed) => return None,
                }
            }
        });
        Response::builder()
            .header("content-type", "application/json")
            .body(Body::from_stream(stream))
            .unwrap()
    }

    /// Makes ServiceAccount lists hang until [`Self::release_lists`].
    pub fn hold_lists(&self) {
        self.hold_lists
            .store(true, std::sync::atomic::Ordering::SeqCst);
    }

    pub fn release_lists(&self) {
        self.hold_lists
            .store(false, std::sync::atomic::Ordering::SeqCst);
        self.release.notify_waiters();
    }

    pub fn add_sa(&self, ns: &str, name: &str, annotations: &[(&str, &str)]) {
        let ann: BTreeMap<String, String> = annotations
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        self.state
            .lock()
            .unwrap()
            .service_accounts
            .insert((ns.to_string(), name.to_string()), ann);
    }

    /// A ServiceAccount only the direct GET can see.
    pub fn add_hidden_sa(&self, ns: &str, name: &str, annotations: &[(&str, &str)]) {
        let ann: BTreeMap<String, String> = annotations
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        self.state
            .lock()
            .unwrap()
            .hidden_service_accounts
            .insert((ns.to_string(), name.to_string()), ann);
    }

    /// Sends a watch event for a ServiceAccount (and records it in the list state).
    pub fn push_sa(
        &self,
        event_type: &'static str,
        ns: &str,
        name: &str,
        annotations: &[(&str, &str)],
    ) {
        let ann: BTreeMap<String, String> = annotations
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        {
            let mut s = self.state.lock().unwrap();
            if event_type == "DELETED" {
                s.service_accounts
                    .remove(&(ns.to_string(), name.to_string()));
            } else {
                s.service_accounts
                    .insert((ns.to_string(), name.to_string()), ann.clone());
            }
        }
        let _ = self.events.send(WatchEvent {
            kind: "ServiceAccount",
            event_type,
            object: sa_object(ns, name, &ann),
        });
    }

    pub fn config_map_object(ns: &str, config: Option<&str>) -> Value {
        let mut data = serde_json::Map::new();
        if let Some(c) = config {
            data.insert("config".into(), Value::String(c.to_string()));
        }
        json!({
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "pod-identity-webhook", "namespace": ns, "resourceVersion": "7"},
            "data": data,
        })
    }

    pub fn set_config_map(&self, ns: &str, config: Option<&str>) {
        self.state
            .lock()
            .unwrap()
            .config_maps
            .insert(ns.to_string(), Self::config_map_object(ns, config));
    }

    pub fn push_config_map(&self, event_type: &'static str, ns: &str, config: Option<&str>) {
        let object = Self::config_map_object(ns, config);
        {
            let mut s = self.state.lock().unwrap();
            if event_type == "DELETED" {
                s.config_maps.remove(ns);
            } else {
                s.config_maps.insert(ns.to_string(), object.clone());
            }
        }
        let _ = self.events.send(WatchEvent {
            kind: "ConfigMap",
            event_type,
            object,
        });
    }

    pub fn direct_gets(&self) -> Vec<String> {
        self.state.lock().unwrap().direct_gets.clone()
    }

    pub fn list_calls(&self) -> usize {
        self.state.lock().unwrap().list_calls
    }

    pub fn write_kubeconfig(&self, dir: &Path) -> PathBuf {
        let path = dir.join("kubeconfig");
        std::fs::write(
            &path,
            format!(
                "apiVersion: v1\nkind: Config\nclusters:\n- name: fake\n  cluster:\n    server: http://{}\nusers:\n- name: tester\n  user: {{}}\ncontexts:\n- name: fake\n  context:\n    cluster: fake\n    user: tester\n    namespace: default\ncurrent-context: fake\n",
                self.addr
            ),
        )
        .unwrap();
        path
    }
}

/// A webhook running against a fake API, with a client trusting the test CA.
pub struct Harness {
    pub api: FakeApi,
    pub pki: TestPki,
    pub dir: tempfile::TempDir,
    pub webhook: Option<RunningWebhook>,
    pub client: reqwest::Client,
    /// DER of the certificate served at start.
    pub initial_cert: Vec<u8>,
}

pub fn init_tracing() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .with_test_writer()
        .try_init();
}

impl Harness {
    /// A config with test-friendly timings; `edit` may change it before start.
    pub async fn start(api: FakeApi, edit: impl FnOnce(&mut ServerConfig, &Path)) -> Self {
        init_tracing();
        let pki = TestPki::new();
        let dir = tempfile::tempdir().unwrap();
        let leaf = pki.leaf("webhook-1");
        std::fs::write(dir.path().join("tls.crt"), &leaf.cert_pem).unwrap();
        std::fs::write(dir.path().join("tls.key"), &leaf.key_pem).unwrap();
        let mut config = ServerConfig::new(WebhookConfig::default());
        config.bind_address = "127.0.0.1".parse().unwrap();
        config.port = 0;
        config.metrics_port = 0;
        config.tls.cert_path = dir.path().join("tls.crt");
        config.tls.key_path = dir.path().join("tls.key");
        config.tls.reload_interval = Duration::from_millis(100);
        config.file_poll_interval = Duration::from_millis(100);
        config.kube.kubeconfig = Some(api.write_kubeconfig(dir.path()));
        config.lookup_grace_period = Duration::from_millis(0);
        config.namespace = "irsa-system".to_string();
        edit(&mut config, dir.path());
        let webhook = irsa_webhook::start(config).await.unwrap();
        let client = reqwest::Client::builder()
            .tls_certs_only([reqwest::Certificate::from_pem(pki.ca_pem.as_bytes()).unwrap()])
            .tls_info(true)
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap();
        Self {
            api,
            pki,
            dir,
            webhook: Some(webhook),
            client,
            initial_cert: leaf.der,
        }
    }

    pub fn webhook(&self) -> &RunningWebhook {
        self.webhook.as_ref().unwrap()
    }

    pub fn url(&self, path: &str) -> String {
        format!(
            "https://127.0.0.1:{}{path}",
            self.webhook().https_addr.port()
        )
    }

    pub fn metrics_url(&self) -> String {
        format!(
            "http://127.0.0.1:{}/metrics",
            self.webhook().metrics_addr.port()
        )
    }

    pub async fn wait_ready(&self) {
        for _ in 0..200 {
            if self.webhook().state.is_ready() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("webhook never became ready");
    }

    /// Posts `body` as JSON to /mutate and returns the parsed review.
    pub async fn review(&self, body: &Value) -> Value {
        let resp = self
            .client
            .post(self.url("/mutate"))
            .header("content-type", "application/json")
            .body(serde_json::to_vec(body).unwrap())
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        resp.json().await.unwrap()
    }

    pub async fn metrics(&self) -> String {
        reqwest::get(self.metrics_url())
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    pub async fn stop(mut self) {
        if let Some(w) = self.webhook.take() {
            w.shutdown().await;
        }
    }
}

/// A typical two-container pod.
pub fn pod(ns: Option<&str>, sa: &str) -> Value {
    let mut metadata = json!({"name": "app-1", "labels": {"app": "demo"}});
    if let Some(ns) = ns {
        metadata["namespace"] = json!(ns);
    }
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": metadata,
        "spec": {
            "serviceAccountName": sa,
            "containers": [
                {"name": "app", "image": "example/app:1", "env": [{"name": "LOG", "value": "info"}],
                 "readinessProbe": {"grpc": {"port": 5000}}},
                {"name": "sidecar", "image": "example/sidecar:1", "someFutureField": {"x": 1}}
            ],
            "volumes": [{"name": "data", "emptyDir": {}}]
        }
    })
}

pub fn review(api_version: &str, uid: &str, ns: &str, pod: Value) -> Value {
    json!({
        "apiVersion": api_version,
        "kind": "AdmissionReview",
        "request": {
            "uid": uid,
            "kind": {"group": "", "version": "v1", "kind": "Pod"},
            "resource": {"group": "", "version": "v1", "resource": "pods"},
            "namespace": ns,
            "operation": "CREATE",
            "userInfo": {"username": "system:serviceaccount:kube-system:replicaset-controller"},
            "object": pod,
            "dryRun": false
        }
    })
}

/// Decodes the response's patch and applies it to `pod`.
pub fn apply_response(response: &Value, pod: &Value) -> Value {
    use base64::Engine as _;
    let b64 = response["response"]["patch"]
        .as_str()
        .unwrap_or_else(|| panic!("no patch in {response}"));
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .unwrap();
    let patch: json_patch::Patch = serde_json::from_slice(&bytes).unwrap();
    let mut out = pod.clone();
    json_patch::patch(&mut out, &patch).unwrap();
    out
}

pub fn env_of(pod: &Value, container: usize) -> Vec<(String, String)> {
    pod["spec"]["containers"][container]["env"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|e| {
            (
                e["name"].as_str().unwrap().to_string(),
                e["value"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

/// Polls `check` until true or 5 s pass.
pub async fn eventually(mut check: impl AsyncFnMut() -> bool) -> bool {
    for _ in 0..100 {
        if check().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}
