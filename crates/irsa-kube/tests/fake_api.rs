//! irsa-kube against a fake Kubernetes API at the HTTP level: an object store keyed by URL
//! path with `resourceVersion` optimistic concurrency (409 on a stale write), list paging
//! with `limit`/`continue`, and 404 for absent objects, which is all the API server
//! behaviour the client construction, the typed reads and the Lease election rely on.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use irsa_kube::lease::{LeaderElector, LeaseSettings};
use irsa_kube::objects::Objects;
use irsa_kube::{KubeError, KubeSettings};
use serde_json::{Value, json};
use tokio::sync::watch;

#[derive(Clone, Default)]
struct Fake {
    objects: Arc<Mutex<BTreeMap<String, Value>>>,
    version: Arc<Mutex<u64>>,
    writes: Arc<Mutex<Vec<String>>>,
}

fn status(code: StatusCode, reason: &str) -> Response {
    (
        code,
        axum::Json(
            json!({"kind": "Status", "apiVersion": "v1", "status": "Failure",
            "message": reason, "reason": reason, "code": code.as_u16()}),
        ),
    )
        .into_response()
}

async fn handle(
    State(fake): State<Fake>,
    method: Method,
    uri: Uri,
    Query(query): Query<BTreeMap<String, String>>,
    body: Bytes,
) -> Response {
    let path = uri.path().to_string();
    let mut objects = fake.objects.lock().unwrap();
    match method {
        Method::GET if objects.contains_key(&path) => {
            axum::Json(objects[&path].clone()).into_response()
        }
        Method::GET => {
            // A list: every object directly under `path`, paged by `limit` and `continue`.
            let prefix = format!("{path}/");
            let items: Vec<(&String, &Value)> = objects
                .iter()
                .filter(|(k, _)| k.starts_with(&prefix) && !k[prefix.len()..].contains('/'))
                .collect();
            if items.is_empty() && !path.ends_with('s') {
                return status(StatusCode::NOT_FOUND, "NotFound");
            }
            let start: usize = query.get("continue").map_or(0, |c| c.parse().unwrap());
            let limit: usize = query
                .get("limit")
                .map_or(usize::MAX, |l| l.parse().unwrap());
            let page: Vec<Value> = items
                .iter()
                .skip(start)
                .take(limit)
                .map(|(_, v)| (*v).clone())
                .collect();
            let next = start + page.len();
            let continue_ = if next < items.len() {
                next.to_string()
            } else {
                String::new()
            };
            axum::Json(json!({"kind": "List", "apiVersion": "v1",
                "metadata": {"resourceVersion": "1", "continue": continue_}, "items": page}))
            .into_response()
        }
        Method::POST | Method::PUT => {
            let mut object: Value = serde_json::from_slice(&body).unwrap();
            let name = object["metadata"]["name"].as_str().unwrap().to_string();
            let key = if method == Method::POST {
                format!("{path}/{name}")
            } else {
                path.clone()
            };
            match (method == Method::POST, objects.get(&key)) {
                (true, Some(_)) => return status(StatusCode::CONFLICT, "AlreadyExists"),
                (false, None) => return status(StatusCode::NOT_FOUND, "NotFound"),
                (false, Some(existing)) => {
                    if existing["metadata"]["resourceVersion"]
                        != object["metadata"]["resourceVersion"]
                    {
                        return status(StatusCode::CONFLICT, "Conflict");
                    }
                }
                (true, None) => {}
            }
            let mut version = fake.version.lock().unwrap();
            *version += 1;
            object["metadata"]["resourceVersion"] = json!(version.to_string());
            objects.insert(key.clone(), object.clone());
            fake.writes.lock().unwrap().push(format!("{method} {key}"));
            let code = if method == Method::POST {
                StatusCode::CREATED
            } else {
                StatusCode::OK
            };
            (code, axum::Json(object)).into_response()
        }
        _ => status(StatusCode::METHOD_NOT_ALLOWED, "MethodNotAllowed"),
    }
}

impl Fake {
    async fn start(dir: &Path) -> (Self, PathBuf) {
        let fake = Fake::default();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let router = Router::new().fallback(handle).with_state(fake.clone());
        tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
        let path = dir.join("kubeconfig");
        std::fs::write(
            &path,
            format!(
                "apiVersion: v1\nkind: Config\nclusters:\n- name: fake\n  cluster:\n    server: http://{addr}\nusers:\n- name: tester\n  user: {{}}\ncontexts:\n- name: fake\n  context:\n    cluster: fake\n    user: tester\ncurrent-context: fake\n"
            ),
        )
        .unwrap();
        (fake, path)
    }

    fn put(&self, path: &str, object: Value) {
        self.objects
            .lock()
            .unwrap()
            .insert(path.to_string(), object);
    }

    fn get(&self, path: &str) -> Option<Value> {
        self.objects.lock().unwrap().get(path).cloned()
    }
}

async fn client(kubeconfig: PathBuf) -> kube::Client {
    irsa_kube::client(&KubeSettings {
        kubeconfig: Some(kubeconfig),
        ..KubeSettings::default()
    })
    .await
    .unwrap()
}

#[tokio::test]
async fn client_errors_name_the_input() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope");
    let err = irsa_kube::client(&KubeSettings {
        kubeconfig: Some(missing.clone()),
        ..KubeSettings::default()
    })
    .await
    .err()
    .unwrap();
    assert!(matches!(err, KubeError::Kubeconfig { .. }), "{err}");
    assert!(
        err.to_string().contains(&missing.display().to_string()),
        "{err}"
    );

    let (_, kubeconfig) = Fake::start(dir.path()).await;
    let err = irsa_kube::client(&KubeSettings {
        kubeconfig: Some(kubeconfig),
        kube_api: Some("http://exa mple".to_string()),
        ..KubeSettings::default()
    })
    .await
    .err()
    .unwrap();
    assert!(matches!(err, KubeError::KubeApi { .. }), "{err}");
    assert!(
        err.to_string().contains("--kube-api \"http://exa mple\""),
        "{err}"
    );
}

#[tokio::test]
async fn typed_reads_tell_absence_from_presence_and_follow_pages() {
    let dir = tempfile::tempdir().unwrap();
    let (fake, kubeconfig) = Fake::start(dir.path()).await;
    fake.put(
        "/api/v1/namespaces/default/serviceaccounts/app",
        json!({"apiVersion": "v1", "kind": "ServiceAccount",
            "metadata": {"name": "app", "namespace": "default",
                "annotations": {"eks.amazonaws.com/role-arn": "arn:aws:iam::111122223333:role/app"}}}),
    );
    fake.put(
        "/api/v1/namespaces/default",
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "default"}}),
    );
    for i in 0..1203 {
        fake.put(
            &format!("/api/v1/namespaces/default/pods/p{i:04}"),
            json!({"apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": format!("p{i:04}"), "namespace": "default"},
                "spec": {"serviceAccountName": "app", "containers": [{"name": "c", "image": "busybox"}]}}),
        );
    }
    let objects = Objects::new(client(kubeconfig).await);
    let sa = objects
        .service_account("default", "app")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        sa.metadata.annotations.unwrap()["eks.amazonaws.com/role-arn"],
        "arn:aws:iam::111122223333:role/app"
    );
    assert!(
        objects
            .service_account("default", "ghost")
            .await
            .unwrap()
            .is_none()
    );
    assert!(objects.namespace("default").await.unwrap().is_some());
    assert!(objects.namespace("elsewhere").await.unwrap().is_none());
    let pod = objects.pod("default", "p0007").await.unwrap().unwrap();
    assert_eq!(
        pod.spec.unwrap().service_account_name.as_deref(),
        Some("app")
    );
    assert!(objects.pod("default", "ghost").await.unwrap().is_none());
    let pods = objects.pods(Some("default"), None).await.unwrap();
    assert_eq!(pods.len(), 1203);
    assert_eq!(pods[1202].metadata.name.as_deref(), Some("p1202"));
}

fn settings(identity: &str) -> LeaseSettings {
    LeaseSettings {
        lease_duration: Duration::from_secs(2),
        renew_deadline: Duration::from_millis(1500),
        retry_period: Duration::from_millis(100),
        ..LeaseSettings::new("kube-system", "irsa-operator", identity)
    }
}

const LEASE: &str = "/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/irsa-operator";

#[tokio::test]
async fn one_leader_among_two_and_a_fresh_lease_is_never_stolen() {
    let dir = tempfile::tempdir().unwrap();
    let (fake, kubeconfig) = Fake::start(dir.path()).await;
    let a = LeaderElector::new(client(kubeconfig.clone()).await, settings("a"));
    let b = LeaderElector::new(client(kubeconfig).await, settings("b"));
    assert!(a.try_acquire_or_renew().await.unwrap());
    assert!(!b.try_acquire_or_renew().await.unwrap());
    let lease = fake.get(LEASE).unwrap();
    assert_eq!(lease["spec"]["holderIdentity"], "a");
    assert_eq!(lease["spec"]["leaseDurationSeconds"], 2);
    // a keeps renewing: b never gets it, however often it asks.
    for _ in 0..5 {
        assert!(a.try_acquire_or_renew().await.unwrap());
        assert!(!b.try_acquire_or_renew().await.unwrap());
    }
    assert_eq!(fake.get(LEASE).unwrap()["spec"]["leaseTransitions"], 0);
    // a releases: b takes over at once, counting a transition.
    a.release().await.unwrap();
    assert!(b.try_acquire_or_renew().await.unwrap());
    let lease = fake.get(LEASE).unwrap();
    assert_eq!(lease["spec"]["holderIdentity"], "b");
    assert_eq!(lease["spec"]["leaseTransitions"], 1);
    assert!(!a.try_acquire_or_renew().await.unwrap());
}

#[tokio::test]
async fn a_stale_write_loses_the_race() {
    let dir = tempfile::tempdir().unwrap();
    let (fake, kubeconfig) = Fake::start(dir.path()).await;
    // The Lease exists with a holder that stopped renewing: both see it expire, both try to
    // take over with the same resourceVersion, and exactly one wins.
    fake.put(
        LEASE,
        json!({"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
            "metadata": {"name": "irsa-operator", "namespace": "kube-system", "resourceVersion": "0"},
            "spec": {"holderIdentity": "gone", "leaseDurationSeconds": 1, "renewTime": "2020-01-01T00:00:00.000000Z"}}),
    );
    let a = LeaderElector::new(client(kubeconfig.clone()).await, settings("a"));
    let b = LeaderElector::new(client(kubeconfig).await, settings("b"));
    assert!(!a.try_acquire_or_renew().await.unwrap());
    assert!(!b.try_acquire_or_renew().await.unwrap());
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let (ra, rb) = tokio::join!(a.try_acquire_or_renew(), b.try_acquire_or_renew());
    let (ra, rb) = (ra.unwrap(), rb.unwrap());
    assert!(ra ^ rb, "exactly one leader: a={ra} b={rb}");
    let holder = fake.get(LEASE).unwrap()["spec"]["holderIdentity"].clone();
    assert_eq!(holder, if ra { "a" } else { "b" });
}

#[tokio::test]
async fn run_publishes_leadership_and_releases_on_shutdown() {
    let dir = tempfile::tempdir().unwrap();
    let (fake, kubeconfig) = Fake::start(dir.path()).await;
    let a = Arc::new(LeaderElector::new(client(kubeconfig).await, settings("a")));
    let (leader_tx, mut leader_rx) = watch::channel(false);
    let (stop_tx, stop_rx) = watch::channel(false);
    let task = tokio::spawn({
        let a = a.clone();
        async move { a.run(leader_tx, stop_rx).await }
    });
    tokio::time::timeout(Duration::from_secs(10), leader_rx.wait_for(|l| *l))
        .await
        .unwrap()
        .unwrap();
    stop_tx.send(true).unwrap();
    task.await.unwrap();
    assert!(!*leader_rx.borrow());
    let lease = fake.get(LEASE).unwrap();
    assert!(
        lease["spec"]
            .get("holderIdentity")
            .is_none_or(Value::is_null),
        "{lease}"
    );
}
