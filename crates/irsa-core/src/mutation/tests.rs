//! Unit tests of the planner on hand-written pods (fixture conformance lives in
//! `crates/irsa-core/tests/mutation_fixtures.rs`).

use super::*;

fn sa(role: &str) -> ServiceAccountIdentity {
    ServiceAccountIdentity {
        role_arn: Some(role.to_owned()),
        ..ServiceAccountIdentity::default()
    }
}

fn basic_pod() -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p", "namespace": "ns"},
        "spec": {"containers": [{"name": "app", "image": "img"}]}
    })
}

#[test]
fn sts_pod_without_env_gets_env_mount_and_volume() {
    let pod = basic_pod();
    let ops = plan(
        &pod,
        Some(&sa("arn:aws:iam::111122223333:role/r")),
        &WebhookConfig::default(),
        &PlanInputs::default(),
    )
    .expect("plans");
    let out = apply_plan(&pod, &ops).expect("applies");
    assert_eq!(
        out["spec"]["containers"][0]["env"],
        json!([
            {"name": "AWS_ROLE_ARN", "value": "arn:aws:iam::111122223333:role/r"},
            {"name": "AWS_WEB_IDENTITY_TOKEN_FILE", "value": "/var/run/secrets/eks.amazonaws.com/serviceaccount/token"}
        ])
    );
    assert_eq!(
        out["spec"]["volumes"][0]["projected"]["sources"][0]["serviceAccountToken"],
        json!({"audience": "sts.amazonaws.com", "expirationSeconds": 86400, "path": "token"})
    );
    assert_eq!(
        plan(
            &out,
            Some(&sa("arn:aws:iam::111122223333:role/r")),
            &WebhookConfig::default(),
            &PlanInputs::default()
        )
        .expect("plans")
        .len(),
        0
    );
}
