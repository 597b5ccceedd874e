//! Planner cost per admission: the typical two-container pod of the webhook load test, planned
//! and (separately) planned + applied, plus the reinvocation case (nothing to do).

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use irsa_core::mutation::{PlanInputs, ServiceAccountIdentity, WebhookConfig, apply_plan, plan};
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

criterion_group!(benches, bench);
criterion_main!(benches);
