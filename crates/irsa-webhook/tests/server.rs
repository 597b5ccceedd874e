//! The webhook over real TLS and HTTP, against a fake Kubernetes API.

#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::*;
use serde_json::{Value, json};

const ROLE: &str = "arn:aws:iam::111122223333:role/s3-reader";
const UID: &str = "918ef1dc-928f-4525-99ef-988389f263c3";

async fn harness_with_app_sa() -> Harness {
    let api = FakeApi::start().await;
    api.add_sa(
        "team",
        "app",
        &[
            ("eks.amazonaws.com/role-arn", ROLE),
            ("eks.amazonaws.com/token-expiration", "3600"),
        ],
    );
    api.add_sa("team", "plain", &[("unrelated/annotation", "x")]);
    let h = Harness::start(api, |_, _| {}).await;
    h.wait_ready().await;
    h
}

fn assert_irsa_pod(mutated: &Value, original: &Value) {
    for c in 0..2 {
        let env = env_of(mutated, c);
        let names: Vec<&str> = env.iter().map(|(n, _)| n.as_str()).collect();
        assert!(
            names.ends_with(&["AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE"]),
            "{names:?}"
        );
        assert!(env.contains(&("AWS_ROLE_ARN".into(), ROLE.into())));
        assert!(env.contains(&(
            "AWS_WEB_IDENTITY_TOKEN_FILE".into(),
            "/var/run/secrets/eks.amazonaws.com/serviceaccount/token".into()
        )));
        let mounts = mutated["spec"]["containers"][c]["volumeMounts"]
            .as_array()
            .unwrap();
        assert!(mounts.iter().any(|m| m["name"] == "aws-iam-token"
            && m["mountPath"] == "/var/run/secrets/eks.amazonaws.com/serviceaccount"
            && m["readOnly"] == true));
    }
    // The existing env entry and the fields unknown to any Kubernetes types survive.
    assert_eq!(
        env_of(mutated, 0)[0],
        ("LOG".to_string(), "info".to_string())
    );
    assert_eq!(
        mutated["spec"]["containers"][0]["readinessProbe"],
        original["spec"]["containers"][0]["readinessProbe"]
    );
    assert_eq!(
        mutated["spec"]["containers"][1]["someFutureField"],
        json!({"x": 1})
    );
    let volumes = mutated["spec"]["volumes"].as_array().unwrap();
    let token = volumes
        .iter()
        .find(|v| v["name"] == "aws-iam-token")
        .unwrap();
    let source = &token["projected"]["sources"][0]["serviceAccountToken"];
    assert_eq!(source["audience"], "sts.amazonaws.com");
    assert_eq!(source["expirationSeconds"], 3600);
    assert_eq!(source["path"], "token");
    assert!(volumes.iter().any(|v| v["name"] == "data"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v1_review_is_patched_and_echoes_type_meta() {
    let h = harness_with_app_sa().await;
    let pod = pod(None, "app");
    let out = h
        .review(&review("admission.k8s.io/v1", UID, "team", pod.clone()))
        .await;
    assert_eq!(out["apiVersion"], "admission.k8s.io/v1");
    assert_eq!(out["kind"], "AdmissionReview");
    assert_eq!(out["response"]["uid"], UID);
    assert_eq!(out["response"]["allowed"], true);
    assert_eq!(out["response"]["patchType"], "JSONPatch");
    assert!(
        out["response"]["patch"].is_string(),
        "patch must be a base64 string: {out}"
    );
    let mutated = apply_response(&out, &pod);
    assert_irsa_pod(&mutated, &pod);
    // Reinvocation: the mutated pod needs nothing more.
    let again = h
        .review(&review("admission.k8s.io/v1", "u2", "team", mutated))
        .await;
    assert_eq!(again["response"]["allowed"], true);
    assert!(again["response"].get("patch").is_none(), "{again}");
    let metrics = h.metrics().await;
    assert!(
        metrics.contains("pod_identity_webhook_pod_count{method=\"sts_web_identity\"} 2"),
        "{metrics}"
    );
    assert!(
        metrics.contains("http_request_count{verb=\"POST\",path=\"/mutate\",code=\"200\"} 2"),
        "{metrics}"
    );
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v1beta1_review_is_patched_and_echoes_v1beta1() {
    let h = harness_with_app_sa().await;
    let pod = pod(Some("team"), "app");
    let out = h
        .review(&review(
            "admission.k8s.io/v1beta1",
            UID,
            "team",
            pod.clone(),
        ))
        .await;
    assert_eq!(out["apiVersion"], "admission.k8s.io/v1beta1");
    assert_eq!(out["kind"], "AdmissionReview");
    assert_eq!(out["response"]["uid"], UID);
    let mutated = apply_response(&out, &pod);
    assert_irsa_pod(&mutated, &pod);
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pods_without_role_or_with_unknown_service_account_are_admitted_unchanged() {
    let h = harness_with_app_sa().await;
    let out = h
        .review(&review(
            "admission.k8s.io/v1",
            "u-plain",
            "team",
            pod(None, "plain"),
        ))
        .await;
    assert_eq!(out["response"]["allowed"], true);
    assert!(out["response"].get("patch").is_none());
    let out = h
        .review(&review(
            "admission.k8s.io/v1",
            "u-missing",
            "team",
            pod(None, "ghost"),
        ))
        .await;
    assert_eq!(out["response"]["allowed"], true);
    assert!(out["response"].get("patch").is_none());
    let metrics = h.metrics().await;
    assert!(
        metrics.contains("pod_identity_webhook_missing_sa_count 1\n"),
        "{metrics}"
    );
    // The pod's own namespace does not matter: the request's does.
    let out = h
        .review(&review(
            "admission.k8s.io/v1",
            "u-ns",
            "other",
            pod(None, "app"),
        ))
        .await;
    assert!(out["response"].get("patch").is_none());
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_get_upstream_answers() {
    let h = harness_with_app_sa().await;
    // Wrong content type: 415.
    let resp = h
        .client
        .post(h.url("/mutate"))
        .header("content-type", "application/xml")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 415);
    assert_eq!(
        resp.text().await.unwrap(),
        "Invalid Content-Type, expected `application/json`\n"
    );
    // No content type at all: 415 too.
    let resp = h
        .client
        .post(h.url("/mutate"))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 415);
    // Unparseable JSON: 200 with a denial naming the problem.
    let resp = h
        .client
        .post(h.url("/mutate"))
        .header("content-type", "application/json")
        .body("{\"request\":")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let out: Value = resp.json().await.unwrap();
    assert_eq!(out["response"]["allowed"], false);
    assert_eq!(out["response"]["uid"], "");
    let message = out["response"]["status"]["message"].as_str().unwrap();
    assert!(
        message.contains("couldn't parse the AdmissionReview") && message.contains("EOF"),
        "{message}"
    );
    // Empty body and `{}`: no request.
    for body in ["", "{}"] {
        let resp = h
            .client
            .post(h.url("/mutate"))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        let out: Value = resp.json().await.unwrap();
        assert_eq!(out["response"]["allowed"], false, "{body:?}");
        assert!(out["response"]["status"]["message"].as_str().unwrap().len() > 5);
    }
    let out = h
        .review(&json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview"}))
        .await;
    assert_eq!(
        out["response"]["status"]["message"],
        "bad content: the AdmissionReview has no request"
    );
    assert_eq!(out["apiVersion"], "admission.k8s.io/v1");
    // Object is not a pod object.
    let out = h
        .review(
            &json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
        "request": {"uid": "u-str", "object": "a pod"}}),
        )
        .await;
    assert_eq!(out["response"]["allowed"], false);
    assert_eq!(out["response"]["uid"], "u-str");
    assert!(
        out["response"]["status"]["message"]
            .as_str()
            .unwrap()
            .contains("found a string")
    );
    // Over 3 MiB: 413.
    let mut big = pod(None, "app");
    big["metadata"]["annotations"] = json!({"filler": "x".repeat(3 * 1024 * 1024 + 10)});
    let resp = h
        .client
        .post(h.url("/mutate"))
        .header("content-type", "application/json")
        .body(serde_json::to_vec(&review("admission.k8s.io/v1", "u-big", "team", big)).unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 413);
    // Just under the limit is fine.
    let mut fits = pod(None, "app");
    fits["metadata"]["annotations"] = json!({"filler": "x".repeat(2 * 1024 * 1024)});
    let out = h
        .review(&review("admission.k8s.io/v1", "u-fits", "team", fits))
        .await;
    assert_eq!(out["response"]["allowed"], true);
    assert!(out["response"]["patch"].is_string());
    let metrics = h.metrics().await;
    assert!(
        metrics.contains("http_request_count{verb=\"POST\",path=\"/mutate\",code=\"415\"} 2"),
        "{metrics}"
    );
    assert!(
        metrics.contains("http_request_count{verb=\"POST\",path=\"/mutate\",code=\"413\"} 1"),
        "{metrics}"
    );
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn internal_planning_error_admits_without_patch_and_counts() {
    let h = harness_with_app_sa().await;
    let mut broken = pod(None, "app");
    broken["spec"]["containers"] = json!("not-a-list");
    let out = h
        .review(&review("admission.k8s.io/v1", "u-broken", "team", broken))
        .await;
    assert_eq!(out["response"]["allowed"], true);
    assert_eq!(out["response"]["uid"], "u-broken");
    assert!(out["response"].get("patch").is_none(), "{out}");
    assert!(out["response"].get("status").is_none(), "{out}");
    let metrics = h.metrics().await;
    assert!(
        metrics.contains("irsa_webhook_patch_errors_total 1\n"),
        "{metrics}"
    );
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_follows_the_service_account_cache_sync() {
    let api = FakeApi::start().await;
    api.add_sa("team", "app", &[("eks.amazonaws.com/role-arn", ROLE)]);
    api.hold_lists();
    let h = Harness::start(api.clone(), |_, _| {}).await;
    // The list is held: live but not ready.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let healthz = h.client.get(h.url("/healthz")).send().await.unwrap();
    assert_eq!(healthz.status(), 200);
    assert_eq!(healthz.text().await.unwrap(), "ok");
    let readyz = h.client.get(h.url("/readyz")).send().await.unwrap();
    assert_eq!(readyz.status(), 503);
    api.release_lists();
    let ready = eventually(async || {
        h.client
            .get(h.url("/readyz"))
            .send()
            .await
            .unwrap()
            .status()
            == 200
    })
    .await;
    assert!(ready, "readyz never turned 200 after the list completed");
    assert!(api.list_calls() >= 1);
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serving_certificate_is_reloaded_from_disk() {
    let h = harness_with_app_sa().await;
    let served = |resp: &reqwest::Response| {
        resp.extensions()
            .get::<reqwest::tls::TlsInfo>()
            .and_then(|i| i.peer_certificate().map(<[u8]>::to_vec))
            .unwrap()
    };
    let first = served(&h.client.get(h.url("/healthz")).send().await.unwrap());
    assert_eq!(first, h.initial_cert);
    // A broken rotation keeps the old certificate.
    std::fs::write(h.dir.path().join("tls.crt"), "not a certificate").unwrap();
    tokio::time::sleep(Duration::from_millis(400)).await;
    let fresh_client = || {
        reqwest::Client::builder()
            .tls_certs_only([reqwest::Certificate::from_pem(h.pki.ca_pem.as_bytes()).unwrap()])
            .tls_info(true)
            .build()
            .unwrap()
    };
    let still = served(&fresh_client().get(h.url("/healthz")).send().await.unwrap());
    assert_eq!(still, first);
    // A good rotation is picked up without restart.
    let next = h.pki.leaf("webhook-2");
    std::fs::write(h.dir.path().join("tls.key"), &next.key_pem).unwrap();
    std::fs::write(h.dir.path().join("tls.crt"), &next.cert_pem).unwrap();
    let rotated = eventually(async || {
        served(&fresh_client().get(h.url("/healthz")).send().await.unwrap()) == next.der
    })
    .await;
    assert!(rotated, "the new certificate was never served");
    let metrics = h.metrics().await;
    assert!(
        metrics.contains("irsa_webhook_certificate_reload_errors_total 1\n"),
        "{metrics}"
    );
    assert!(
        metrics.contains("irsa_webhook_certificate_reloads_total 1\n"),
        "{metrics}"
    );
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_events_update_the_cache() {
    let h = harness_with_app_sa().await;
    h.api.push_sa(
        "ADDED",
        "team",
        "late",
        &[("eks.amazonaws.com/role-arn", ROLE)],
    );
    let seen = eventually(async || h.webhook().state.cache.get("team", "late").is_some()).await;
    assert!(seen);
    let out = h
        .review(&review(
            "admission.k8s.io/v1",
            "u",
            "team",
            pod(None, "late"),
        ))
        .await;
    assert!(out["response"]["patch"].is_string());
    // Removing the role annotation stops mutation; deleting forgets the ServiceAccount.
    h.api.push_sa("MODIFIED", "team", "late", &[]);
    let stripped = eventually(async || {
        h.webhook()
            .state
            .cache
            .get("team", "late")
            .is_some_and(|a| a.is_empty())
    })
    .await;
    assert!(stripped);
    let out = h
        .review(&review(
            "admission.k8s.io/v1",
            "u",
            "team",
            pod(None, "late"),
        ))
        .await;
    assert!(out["response"].get("patch").is_none());
    h.api.push_sa("DELETED", "team", "late", &[]);
    let gone = eventually(async || h.webhook().state.cache.get("team", "late").is_none()).await;
    assert!(gone);
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uncached_service_account_is_fetched_within_the_grace_period() {
    let api = FakeApi::start().await;
    api.add_hidden_sa("team", "fresh", &[("eks.amazonaws.com/role-arn", ROLE)]);
    let h = Harness::start(api.clone(), |c, _| {
        c.lookup_grace_period = Duration::from_secs(2)
    })
    .await;
    h.wait_ready().await;
    let pod = pod(None, "fresh");
    let out = h
        .review(&review(
            "admission.k8s.io/v1",
            "u-fresh",
            "team",
            pod.clone(),
        ))
        .await;
    let mutated = apply_response(&out, &pod);
    assert!(env_of(&mutated, 0).contains(&("AWS_ROLE_ARN".into(), ROLE.into())));
    assert_eq!(api.direct_gets(), vec!["team/fresh".to_string()]);
    // Now cached: no second GET.
    h.review(&review("admission.k8s.io/v1", "u-fresh2", "team", pod))
        .await;
    assert_eq!(api.direct_gets().len(), 1);
    // A ServiceAccount that does not exist anywhere: waits at most the grace period, no patch.
    let started = std::time::Instant::now();
    let out = h
        .review(&review(
            "admission.k8s.io/v1",
            "u-none",
            "team",
            common::pod(None, "nobody"),
        ))
        .await;
    assert!(out["response"].get("patch").is_none());
    assert!(started.elapsed() < Duration::from_secs(4));
    let metrics = h.metrics().await;
    assert!(
        metrics.contains("irsa_webhook_service_account_direct_lookups_total{result=\"found\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics
            .contains("irsa_webhook_service_account_direct_lookups_total{result=\"not_found\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("pod_identity_webhook_missing_sa_count 1\n"),
        "{metrics}"
    );
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zero_grace_period_never_calls_the_api() {
    let api = FakeApi::start().await;
    api.add_hidden_sa("team", "fresh", &[("eks.amazonaws.com/role-arn", ROLE)]);
    let h = Harness::start(api.clone(), |c, _| c.lookup_grace_period = Duration::ZERO).await;
    h.wait_ready().await;
    let out = h
        .review(&review(
            "admission.k8s.io/v1",
            "u",
            "team",
            pod(None, "fresh"),
        ))
        .await;
    assert!(out["response"].get("patch").is_none());
    assert!(api.direct_gets().is_empty());
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn config_map_mapping_is_watched_and_deletes_are_honoured() {
    let api = FakeApi::start().await;
    api.add_sa("team", "mapped", &[]);
    let cm_role = "arn:aws:iam::111122223333:role/from-config-map";
    api.set_config_map(
        "irsa-system",
        Some(&format!(r#"{{"team/mapped":{{"RoleARN":"{cm_role}","Audience":"sts.amazonaws.com","UseRegionalSTS":true}}, "bad-key": {{}}}}"#)),
    );
    let h = Harness::start(api.clone(), |c, _| c.watch_config_map = true).await;
    h.wait_ready().await;
    let pod = pod(None, "mapped");
    let out = h
        .review(&review("admission.k8s.io/v1", "u", "team", pod.clone()))
        .await;
    let mutated = apply_response(&out, &pod);
    let env = env_of(&mutated, 0);
    assert!(
        env.contains(&("AWS_ROLE_ARN".into(), cm_role.into())),
        "{env:?}"
    );
    assert!(
        env.contains(&("AWS_STS_REGIONAL_ENDPOINTS".into(), "regional".into())),
        "{env:?}"
    );
    // A malformed update is skipped: the previous mapping stays.
    api.push_config_map("MODIFIED", "irsa-system", Some("{not json"));
    tokio::time::sleep(Duration::from_millis(300)).await;
    let out = h
        .review(&review("admission.k8s.io/v1", "u", "team", pod.clone()))
        .await;
    assert!(out["response"]["patch"].is_string());
    // Deleting the ConfigMap removes its mappings (upstream kept them).
    api.push_config_map("DELETED", "irsa-system", None);
    let cleared = eventually(async || {
        h.review(&review("admission.k8s.io/v1", "u", "team", pod.clone()))
            .await["response"]
            .get("patch")
            .is_none()
    })
    .await;
    assert!(cleared, "mapping survived the ConfigMap's deletion");
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn container_credentials_file_is_watched() {
    let api = FakeApi::start().await;
    api.add_sa("team", "app", &[("eks.amazonaws.com/role-arn", ROLE)]);
    let h = Harness::start(api, |c, dir| {
        let path = dir.join("cc.json");
        std::fs::write(
            &path,
            r#"{"identities":[{"namespace":"team","serviceAccount":"app"}]}"#,
        )
        .unwrap();
        c.container_credentials_config = Some(path);
    })
    .await;
    h.wait_ready().await;
    let pod = pod(None, "app");
    let out = h
        .review(&review("admission.k8s.io/v1", "u", "team", pod.clone()))
        .await;
    let mutated = apply_response(&out, &pod);
    let env = env_of(&mutated, 0);
    assert!(
        env.contains(&(
            "AWS_CONTAINER_CREDENTIALS_FULL_URI".into(),
            "http://169.254.170.23/v1/credentials".into()
        )),
        "{env:?}"
    );
    assert_eq!(
        mutated["metadata"]["labels"]["eks.amazonaws.com/pod-identity"],
        "enabled"
    );
    // Emptying the file switches the pod back to IRSA.
    std::fs::write(h.dir.path().join("cc.json"), "").unwrap();
    let back = eventually(async || {
        let out = h
            .review(&review("admission.k8s.io/v1", "u", "team", pod.clone()))
            .await;
        env_of(&apply_response(&out, &pod), 0)
            .iter()
            .any(|(n, _)| n == "AWS_ROLE_ARN")
    })
    .await;
    assert!(back);
    let metrics = h.metrics().await;
    assert!(
        metrics.contains("pod_identity_webhook_pod_count{method=\"container_credentials\"}"),
        "{metrics}"
    );
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http2_and_keep_alive_work_and_shutdown_is_graceful() {
    let h = harness_with_app_sa().await;
    let h2 = reqwest::Client::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(h.pki.ca_pem.as_bytes()).unwrap()])
        .http2_prior_knowledge()
        .build()
        .unwrap();
    let resp = h2
        .post(h.url("/mutate"))
        .header("content-type", "application/json")
        .body(
            serde_json::to_vec(&review(
                "admission.k8s.io/v1",
                "u",
                "team",
                pod(None, "app"),
            ))
            .unwrap(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(resp.version(), reqwest::Version::HTTP_2);
    let out: Value = resp.json().await.unwrap();
    assert!(out["response"]["patch"].is_string());
    let addr = h.webhook().https_addr;
    h.stop().await;
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "listener still open after shutdown"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn debugging_handlers_only_when_enabled() {
    let h = harness_with_app_sa().await;
    let resp = h
        .client
        .get(h.url("/debug/alpha/deny"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
    let metrics_base = h.metrics_url().replace("/metrics", "");
    let resp = reqwest::get(format!("{metrics_base}/debug/alpha/cache"))
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
    h.stop().await;

    let api = FakeApi::start().await;
    api.add_sa("team", "app", &[("eks.amazonaws.com/role-arn", ROLE)]);
    let h = Harness::start(api, |c, _| c.enable_debugging_handlers = true).await;
    h.wait_ready().await;
    let deny: Value = h
        .client
        .get(h.url("/debug/alpha/deny"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(deny["response"]["allowed"], false);
    assert_eq!(deny["response"]["status"]["message"], "Test deny message");
    let resp = h
        .client
        .get(h.url("/debug/alpha/500"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 500);
    let metrics_base = h.metrics_url().replace("/metrics", "");
    let dump: Value = reqwest::get(format!("{metrics_base}/debug/alpha/cache"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(dump["team/app"]["eks.amazonaws.com/role-arn"], ROLE);
    let resp = reqwest::get(format!("{metrics_base}/debug/alpha/cache/clear"))
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(h.webhook().state.cache.is_empty());
    let resp = reqwest::get(h.metrics_url()).await.unwrap();
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain; version=0.0.4")
    );
    h.stop().await;
}
