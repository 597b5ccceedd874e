//! irsa-kube against the workspace's fake Kubernetes API ([`irsa_testkit::FakeApi`]), at the
//! HTTP level: `resourceVersion` optimistic concurrency (409 on a stale write), list paging
//! with `limit`/`continue`, and 404 for absent objects are the API server behaviour the
//! client construction, the typed reads and the Lease election rely on.

#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use irsa_kube::lease::{LeaderElector, LeaseSettings};
use irsa_kube::objects::Objects;
use irsa_kube::{KubeError, KubeSettings};
use irsa_testkit::FakeApi;
use serde_json::{Value, json};
use tokio::sync::watch;

/// The shared fake and a kubeconfig naming it, in `dir`.
async fn fake(dir: &Path) -> (FakeApi, PathBuf) {
    let api = FakeApi::start().await;
    let kubeconfig = api.kubeconfig(dir);
    (api, kubeconfig)
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

    let (_, kubeconfig) = fake(dir.path()).await;
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
    let (fake, kubeconfig) = fake(dir.path()).await;
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
    let (fake, kubeconfig) = fake(dir.path()).await;
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
    let (fake, kubeconfig) = fake(dir.path()).await;
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
    let (fake, kubeconfig) = fake(dir.path()).await;
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
