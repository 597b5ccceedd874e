//! `irsa doctor --kubeconfig` and `irsa doctor pods` against the workspace's fake Kubernetes
//! API ([`irsa_testkit::FakeApi`], at the HTTP level): the binary gets a kubeconfig naming the
//! fake, reads the objects through kube-rs as it would from a cluster, and its writes
//! (`--restart`) are checked on the fake's stored objects and request log.
//!
//! Objects come from `tests/fixtures/doctor/shared/` (the files the golden tests give doctor)
//! and `tests/fixtures/doctor/live/cluster.yaml` (a namespace of stale, healthy and
//! out-of-scope pods with their owners).

use std::path::{Path, PathBuf};
use std::process::Output;

use irsa_testkit::FakeApi;
use serde_json::Value;

const POD: &str = "api-5d9c7b8f4-x2x7q";
const RESTARTED_AT: &str = "kubectl.kubernetes.io/restartedAt";

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/doctor")
}

fn yaml(text: &str) -> Value {
    serde_saphyr::from_str(text).expect("fixture is YAML")
}

fn shared(name: &str) -> Value {
    yaml(&std::fs::read_to_string(fixtures().join("shared").join(name)).expect("fixture"))
}

/// Every object of `live/cluster.yaml`.
fn cluster() -> Vec<Value> {
    let text = std::fs::read_to_string(fixtures().join("live/cluster.yaml")).expect("fixture");
    text.split("\n---\n").map(yaml).collect()
}

async fn irsa(args: &[&str], cwd: &Path) -> Output {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_irsa"))
        .args(args)
        .current_dir(cwd)
        .env_remove("KUBECONFIG")
        .env_remove("AWS_REGION")
        .output()
        .await
        .expect("run irsa")
}

fn code(out: &Output) -> i32 {
    out.status.code().unwrap_or(-1)
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(out)))
}

fn statuses(report: &Value) -> Vec<(String, String)> {
    report["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .map(|c| {
            (
                c["id"].as_str().unwrap_or_default().to_owned(),
                c["status"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

fn status_of(report: &Value, id: &str) -> String {
    statuses(report)
        .into_iter()
        .find(|(i, _)| i == id)
        .map(|(_, s)| s)
        .unwrap_or_else(|| panic!("no check {id} in {report}"))
}

/// The fake with the namespace, the ServiceAccount and `pod` (a file of `shared/`).
async fn cluster_with(pod: &str) -> (FakeApi, tempfile::TempDir, PathBuf) {
    let api = FakeApi::start().await;
    api.create(shared("namespace.yaml"));
    api.create(shared("sa.yaml"));
    api.create(shared(pod));
    let dir = tempfile::tempdir().expect("tempdir");
    let kubeconfig = api.kubeconfig(dir.path());
    (api, dir, kubeconfig)
}

#[tokio::test(flavor = "multi_thread")]
async fn live_mode_reads_what_the_files_would_give_and_judges_it_the_same() {
    let (api, _dir, kubeconfig) = cluster_with("pod.yaml").await;
    let kc = kubeconfig.to_str().expect("utf-8 path");
    let live = irsa(
        &[
            "doctor",
            "--kubeconfig",
            kc,
            "--namespace",
            "reporting",
            "--pod",
            POD,
            "--output",
            "json",
        ],
        &fixtures(),
    )
    .await;
    assert_eq!(code(&live), 0, "{}", text(&live));
    let files = irsa(
        &[
            "doctor",
            "--pod",
            "shared/pod.yaml",
            "--service-account",
            "shared/sa.yaml",
            "--namespace",
            "shared/namespace.yaml",
            "--output",
            "json",
        ],
        &fixtures(),
    )
    .await;
    assert_eq!(code(&files), 0, "{}", text(&files));
    let live = json(&live);
    assert_eq!(statuses(&live), statuses(&json(&files)));
    assert_eq!(status_of(&live, "pod.injection"), "PASS");
    assert_eq!(status_of(&live, "service-account.role-arn"), "PASS");
    // It read the pod, then its ServiceAccount and namespace, and wrote nothing.
    let paths: Vec<String> = api.requests().iter().map(|r| r.path.clone()).collect();
    for path in [
        format!("/api/v1/namespaces/reporting/pods/{POD}"),
        "/api/v1/namespaces/reporting/serviceaccounts/api".to_owned(),
        "/api/v1/namespaces/reporting".to_owned(),
    ] {
        assert!(paths.contains(&path), "{path} not read: {paths:?}");
    }
    assert!(!api.requests().iter().any(|r| r.is_mutation()));
}

#[tokio::test(flavor = "multi_thread")]
async fn live_mode_names_the_owner_of_a_pod_admitted_before_the_webhook() {
    let (_api, _dir, kubeconfig) = cluster_with("pod-bare.yaml").await;
    let out = irsa(
        &[
            "doctor",
            "--kubeconfig",
            kubeconfig.to_str().expect("utf-8 path"),
            "--namespace",
            "reporting",
            "--pod",
            POD,
        ],
        &fixtures(),
    )
    .await;
    assert_eq!(code(&out), 1, "{}", text(&out));
    let report = text(&out);
    assert!(report.contains("FAIL 2. pod.injection"), "{report}");
    assert!(
        report.contains("kubectl -n reporting rollout restart deployment/api"),
        "{report}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn live_mode_errors_name_what_is_missing() {
    let api = FakeApi::start().await;
    api.create(shared("namespace.yaml"));
    let mut pod = shared("pod.yaml");
    pod["spec"]["serviceAccountName"] = "ghost".into();
    api.create(pod);
    let dir = tempfile::tempdir().expect("tempdir");
    let kubeconfig = api.kubeconfig(dir.path());
    let kc = kubeconfig.to_str().expect("utf-8 path");

    let absent = irsa(
        &[
            "doctor",
            "--kubeconfig",
            kc,
            "--namespace",
            "reporting",
            "--pod",
            "nope",
        ],
        &fixtures(),
    )
    .await;
    assert_eq!(code(&absent), 1, "{}", text(&absent));
    assert!(
        text(&absent).contains("pod reporting/nope does not exist"),
        "{}",
        text(&absent)
    );

    let no_pod = irsa(&["doctor", "--kubeconfig", kc], &fixtures()).await;
    assert_eq!(code(&no_pod), 2, "{}", text(&no_pod));
    assert!(text(&no_pod).contains("--pod"), "{}", text(&no_pod));

    // The pod's ServiceAccount is not in the cluster: said, and its checks are skipped.
    let no_sa = irsa(
        &[
            "doctor",
            "--kubeconfig",
            kc,
            "--namespace",
            "reporting",
            "--pod",
            POD,
        ],
        &fixtures(),
    )
    .await;
    assert!(
        text(&no_sa).contains("ServiceAccount reporting/ghost does not exist"),
        "{}",
        text(&no_sa)
    );
}

async fn seeded_cluster() -> (FakeApi, tempfile::TempDir, String) {
    let api = FakeApi::start().await;
    for object in cluster() {
        api.create(object);
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let kubeconfig = api.kubeconfig(dir.path()).display().to_string();
    (api, dir, kubeconfig)
}

fn listed(report: &Value) -> Vec<String> {
    let mut names: Vec<String> = report["pods"]
        .as_array()
        .expect("pods")
        .iter()
        .map(|p| {
            format!(
                "{}/{}",
                p["namespace"].as_str().unwrap_or("?"),
                p["name"].as_str().unwrap_or("?")
            )
        })
        .collect();
    names.sort();
    names
}

const STALE_IN_REPORTING: [&str; 6] = [
    "reporting/agent-x1x2y",
    "reporting/api-5d9c7b8f4-aaaaa",
    "reporting/api-5d9c7b8f4-bbbbb",
    "reporting/db-0",
    "reporting/manual",
    "reporting/migrate-7q8rs",
];

#[tokio::test(flavor = "multi_thread")]
async fn pods_lists_the_stale_pods_of_a_namespace_and_changes_nothing() {
    let (api, dir, kubeconfig) = seeded_cluster().await;
    let out = irsa(
        &[
            "doctor",
            "pods",
            "--kubeconfig",
            &kubeconfig,
            "--namespace",
            "reporting",
            "--output",
            "json",
        ],
        dir.path(),
    )
    .await;
    assert_eq!(code(&out), 1, "{}", text(&out));
    let report = json(&out);
    assert_eq!(listed(&report), STALE_IN_REPORTING);
    let api_pod = report["pods"]
        .as_array()
        .expect("pods")
        .iter()
        .find(|p| p["name"] == "api-5d9c7b8f4-aaaaa")
        .expect("listed");
    assert_eq!(api_pod["owner"]["kind"], "Deployment");
    assert_eq!(api_pod["owner"]["name"], "api");
    assert_eq!(api_pod["restarted"], false);
    assert!(!api.requests().iter().any(|r| r.is_mutation()));

    let text_out = irsa(
        &[
            "doctor",
            "pods",
            "--kubeconfig",
            &kubeconfig,
            "--namespace",
            "reporting",
        ],
        dir.path(),
    )
    .await;
    let listing = text(&text_out);
    assert!(
        listing.contains("reporting/db-0 ServiceAccount api owner StatefulSet db: needs a restart"),
        "{listing}"
    );
    assert!(
        listing.contains("6 pod(s) without the injection, 0 owner(s) restarted"),
        "{listing}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn pods_all_namespaces_includes_every_namespace() {
    let (_api, dir, kubeconfig) = seeded_cluster().await;
    let out = irsa(
        &[
            "doctor",
            "pods",
            "--kubeconfig",
            &kubeconfig,
            "--all-namespaces",
            "--output",
            "json",
        ],
        dir.path(),
    )
    .await;
    assert_eq!(code(&out), 1, "{}", text(&out));
    let mut expected: Vec<String> = STALE_IN_REPORTING.iter().map(|s| (*s).to_owned()).collect();
    expected.insert(0, "batch/worker-6f7d8c9b5-zzzzz".to_owned());
    assert_eq!(listed(&json(&out)), expected);
}

#[tokio::test(flavor = "multi_thread")]
async fn restart_rolls_the_owners_once_and_never_deletes_a_pod() {
    let (api, dir, kubeconfig) = seeded_cluster().await;
    api.clear_requests();
    let before = api
        .get("/apis/apps/v1/namespaces/batch/deployments/worker")
        .expect("seeded");
    let out = irsa(
        &[
            "doctor",
            "pods",
            "--kubeconfig",
            &kubeconfig,
            "--namespace",
            "reporting",
            "--restart",
            "--output",
            "json",
        ],
        dir.path(),
    )
    .await;
    // The plain pod and the Job's pod are left for the user: still a failure.
    assert_eq!(code(&out), 1, "{}", text(&out));
    let report = json(&out);
    let mut restarted: Vec<String> = report["restarted"]
        .as_array()
        .expect("restarted")
        .iter()
        .map(|r| r.as_str().unwrap_or_default().to_owned())
        .collect();
    restarted.sort();
    assert_eq!(
        restarted,
        [
            "DaemonSet reporting/agent",
            "Deployment reporting/api",
            "StatefulSet reporting/db"
        ]
    );
    for path in [
        "/apis/apps/v1/namespaces/reporting/deployments/api",
        "/apis/apps/v1/namespaces/reporting/statefulsets/db",
        "/apis/apps/v1/namespaces/reporting/daemonsets/agent",
    ] {
        let object = api.get(path).expect("still there");
        let at = &object["spec"]["template"]["metadata"]["annotations"][RESTARTED_AT];
        assert!(
            at.as_str()
                .is_some_and(|t| t.parse::<jiff::Timestamp>().is_ok()),
            "{path}: {object}"
        );
        // The rest of the template survives the merge patch.
        assert!(object["spec"]["template"]["spec"]["containers"].is_array());
    }
    let mutations: Vec<String> = api
        .requests()
        .iter()
        .filter(|r| r.is_mutation())
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    assert_eq!(mutations.len(), 3, "one patch per owner: {mutations:?}");
    assert!(
        mutations.iter().all(|m| m.starts_with("PATCH ")),
        "{mutations:?}"
    );
    assert!(
        api.get("/api/v1/namespaces/reporting/pods/manual")
            .is_some()
    );
    assert!(
        api.get("/api/v1/namespaces/reporting/pods/migrate-7q8rs")
            .is_some()
    );
    // Another namespace is not touched.
    assert_eq!(
        api.get("/apis/apps/v1/namespaces/batch/deployments/worker"),
        Some(before)
    );

    // Only rollable owners left: the restart resolves everything.
    let (api, dir, kubeconfig) = seeded_cluster().await;
    for pod in ["manual", "migrate-7q8rs"] {
        let path = format!("/api/v1/namespaces/reporting/pods/{pod}");
        let mut object = api.get(&path).expect("seeded");
        object["status"] = serde_json::json!({"phase": "Succeeded"});
        api.put(&path, object);
    }
    let out = irsa(
        &[
            "doctor",
            "pods",
            "--kubeconfig",
            &kubeconfig,
            "--namespace",
            "reporting",
            "--restart",
        ],
        dir.path(),
    )
    .await;
    assert_eq!(code(&out), 0, "{}", text(&out));
    assert!(
        text(&out).contains("4 pod(s) without the injection, 3 owner(s) restarted"),
        "{}",
        text(&out)
    );
}
