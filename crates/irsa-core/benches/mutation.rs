//! Planner cost per admission: the typical two-container pod of the webhook load test, planned
//! and (separately) planned + applied, plus the reinvocation case (nothing to do); and the
//! cost of parsing the pod of `scripts/bench-webhook`'s AdmissionReview as a full `Value`
//! versus as the `PrunedPod` the webhook uses.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use irsa_core::mutation::{
    PlanInputs, PrunedPod, ServiceAccountIdentity, WebhookConfig, apply_plan, plan,
};
use serde_json::json;

fn two_container_pod() -> serde_json::Value {
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "web-7d9f", "namespace": "shop", "labels": {"app": "web"},
                     "annotations": {"eks.amazonaws.com/token-expiration": "3600"}},
        "spec": {
            "serviceAccountName": "web",
            "containers": [
                {"name": "web", "image": "nginx:1.27", "ports": [{"containerPort": 8080}],
                 "env": [{"name": "MODE", "value": "prod"}],
                 "volumeMounts": [{"name": "data", "mountPath": "/data"}],
                 "readinessProbe": {"grpc": {"port": 8080}}},
                {"name": "log", "image": "fluent-bit:3", "resources": {"limits": {"memory": "64Mi"}}}
            ],
            "volumes": [{"name": "data", "emptyDir": {}}]
        }
    })
}

/// The pod `scripts/bench-webhook` sends, as JSON text.
const BENCH_WEBHOOK_POD: &str = r#"{"apiVersion": "v1", "kind": "Pod", "metadata": {"generateName": "web-7c9d8f-", "labels": {"app": "web", "pod-template-hash": "7c9d8f"}, "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-7c9d8f", "uid": "6c1f0b8e-0000-4000-8000-000000000001", "controller": true}]}, "spec": {"serviceAccountName": "sa-42", "containers": [{"name": "web", "image": "registry.example/web:1.2.3", "ports": [{"containerPort": 8080, "protocol": "TCP"}], "env": [{"name": "LOG_LEVEL", "value": "info"}], "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}}, "readinessProbe": {"httpGet": {"path": "/ready", "port": 8080}}, "volumeMounts": [{"name": "kube-api-access-abcde", "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount", "readOnly": true}]}, {"name": "proxy", "image": "registry.example/proxy:2.0", "args": ["--upstream", "127.0.0.1:8080"], "volumeMounts": [{"name": "kube-api-access-abcde", "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount", "readOnly": true}]}], "volumes": [{"name": "kube-api-access-abcde", "projected": {"sources": [{"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}}]}}]}}"#;

fn bench_parse(c: &mut Criterion) {
    let text = BENCH_WEBHOOK_POD.as_bytes();
    c.bench_function("parse bench-webhook pod as a full Value", |b| {
        b.iter(|| serde_json::from_slice::<serde_json::Value>(black_box(text)).ok())
    });
    c.bench_function("parse bench-webhook pod as a PrunedPod", |b| {
        b.iter(|| serde_json::from_slice::<PrunedPod>(black_box(text)).ok())
    });
}

fn bench(c: &mut Criterion) {
    let pod = two_container_pod();
    let identity = ServiceAccountIdentity {
        role_arn: Some("arn:aws:iam::111122223333:role/web".into()),
        ..ServiceAccountIdentity::default()
    };
    let config = WebhookConfig {
        aws_default_region: Some("eu-west-1".into()),
        sts_regional_endpoint: true,
        ..WebhookConfig::default()
    };
    let inputs = PlanInputs::default();
    c.bench_function("plan two-container pod", |b| {
        b.iter(|| plan(black_box(&pod), Some(&identity), &config, &inputs))
    });
    c.bench_function("plan + serialise patch", |b| {
        b.iter(|| {
            let ops = plan(black_box(&pod), Some(&identity), &config, &inputs).unwrap_or_default();
            serde_json::to_vec(&ops).unwrap_or_default()
        })
    });
    let ops = plan(&pod, Some(&identity), &config, &inputs).unwrap_or_default();
    let mutated = apply_plan(&pod, &ops).unwrap_or_else(|_| pod.clone());
    c.bench_function("plan already-mutated pod (reinvocation)", |b| {
        b.iter(|| plan(black_box(&mutated), Some(&identity), &config, &inputs))
    });
}

criterion_group!(benches, bench, bench_parse);
criterion_main!(benches);
