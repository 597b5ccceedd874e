//! Every patch the webhook plans applies, with the `json-patch` crate, to the pod exactly as
//! the API server sent it: for arbitrary pods with missing, null or empty `metadata`,
//! `spec`, `containers`, `initContainers`, `volumes`, `volumeMounts` and `env`, in both the
//! IRSA and the container-credentials mode.
//!
//! The API server applies the patch to the object it sent; a patch planned on any other
//! object (such as one with `metadata.namespace` filled in) can refer to paths that do not
//! exist there, and is then rejected as a whole.

use irsa_core::mutation::{
    ContainerCredentialsConfig, Jitter, PlanInputs, ServiceAccountIdentity, WebhookConfig,
    plan_detailed,
};
use irsa_webhook::admission::{parse_review, service_account_name};
use proptest::prelude::*;
use serde_json::{Map, Value, json};

/// Absent, null, or one of the given values.
fn field(values: Vec<Value>) -> impl Strategy<Value = Option<Value>> {
    let mut choices = vec![Just(None).boxed(), Just(Some(Value::Null)).boxed()];
    choices.extend(values.into_iter().map(|v| Just(Some(v)).boxed()));
    proptest::strategy::Union::new(choices)
}

fn insert(map: &mut Map<String, Value>, key: &str, value: Option<Value>) {
    if let Some(v) = value {
        map.insert(key.to_string(), v);
    }
}

fn container() -> impl Strategy<Value = Value> {
    (
        "[a-c]",
        field(vec![
            json!([]),
            json!([{"name": "OTHER", "value": "1"}]),
            json!([{"name": "AWS_ROLE_ARN", "value": "preset"}]),
        ]),
        field(vec![
            json!([]),
            json!([{"name": "data", "mountPath": "/data"}]),
        ]),
    )
        .prop_map(|(name, env, mounts)| {
            let mut c = Map::new();
            c.insert("name".to_string(), json!(name));
            insert(&mut c, "env", env);
            insert(&mut c, "volumeMounts", mounts);
            Value::Object(c)
        })
}

fn containers() -> impl Strategy<Value = Option<Value>> {
    prop_oneof![
        Just(None),
        Just(Some(Value::Null)),
        proptest::collection::vec(container(), 0..3).prop_map(|cs| Some(Value::Array(cs))),
    ]
}

fn pod() -> impl Strategy<Value = Value> {
    let metadata = (
        field(vec![json!({}), json!({"app": "x"})]),
        field(vec![json!({}), json!({"x": "y"})]),
        proptest::option::of(Just(json!("own-namespace"))),
    )
        .prop_map(|(labels, annotations, namespace)| {
            let mut m = Map::new();
            insert(&mut m, "labels", labels);
            insert(&mut m, "annotations", annotations);
            insert(&mut m, "namespace", namespace);
            Value::Object(m)
        });
    let spec = (
        containers(),
        containers(),
        field(vec![json!([]), json!([{"name": "data", "emptyDir": {}}])]),
        proptest::option::of(prop_oneof![Just("app"), Just("default"), Just("")]),
    )
        .prop_map(|(containers, init, volumes, sa)| {
            let mut s = Map::new();
            insert(&mut s, "containers", containers);
            insert(&mut s, "initContainers", init);
            insert(&mut s, "volumes", volumes);
            insert(&mut s, "serviceAccountName", sa.map(|n| json!(n)));
            Value::Object(s)
        });
    (
        prop_oneof![
            Just(None),
            Just(Some(Value::Null)),
            Just(Some(json!({}))),
            metadata.prop_map(Some)
        ],
        prop_oneof![
            Just(None),
            Just(Some(Value::Null)),
            Just(Some(json!({}))),
            spec.prop_map(Some)
        ],
    )
        .prop_map(|(metadata, spec)| {
            let mut p = Map::new();
            insert(&mut p, "metadata", metadata);
            insert(&mut p, "spec", spec);
            Value::Object(p)
        })
}

fn check(pod: &Value, request_namespace: Option<&str>, container_credentials: bool) {
    let mut request = json!({"uid": "u-1", "object": pod});
    if let Some(ns) = request_namespace {
        request["namespace"] = json!(ns);
    }
    let body =
        json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": request});
    let review = parse_review(body.to_string().as_bytes()).expect("a well-formed review");
    let identities = ContainerCredentialsConfig::parse(
        r#"{"identities":[{"namespace":"team","serviceAccount":"app"},{"namespace":"team","serviceAccount":"default"},{"namespace":"default","serviceAccount":"default"},{"namespace":"own-namespace","serviceAccount":"app"}]}"#,
    )
    .expect("identities parse")
    .0;
    let identity = ServiceAccountIdentity {
        role_arn: Some("arn:aws:iam::111122223333:role/app".to_string()),
        ..ServiceAccountIdentity::default()
    };
    let inputs = PlanInputs {
        namespace: Some(&review.namespace),
        role_mapping: None,
        container_credentials: container_credentials.then_some(&identities),
        jitter: Jitter(0),
    };
    let _ = service_account_name(&review.pod);
    let Ok(plan) = plan_detailed(
        &review.pod,
        Some(&identity),
        &WebhookConfig::default(),
        &inputs,
    ) else {
        // A pod the planner refuses is admitted unmutated: nothing to apply.
        return;
    };
    let patch: json_patch::Patch =
        serde_json::from_value(serde_json::to_value(&plan.operations).expect("serialises"))
            .expect("a JSON Patch");
    let mut received = pod.clone();
    if let Err(e) = json_patch::patch(&mut received, &patch) {
        panic!(
            "patch does not apply to the pod as received: {e}\npod: {pod}\npatch: {}",
            serde_json::to_string(&plan.operations).unwrap_or_default()
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn container_credentials_patch_applies_to_the_pod_as_received(
        pod in pod(),
        namespace in proptest::option::of(prop_oneof![Just("team"), Just("")]),
    ) {
        check(&pod, namespace, true);
    }

    #[test]
    fn irsa_patch_applies_to_the_pod_as_received(
        pod in pod(),
        namespace in proptest::option::of(prop_oneof![Just("team"), Just("")]),
    ) {
        check(&pod, namespace, false);
    }
}

#[test]
fn pod_without_metadata_gets_its_metadata_added() {
    let pod = json!({"spec": {"serviceAccountName": "app", "containers": [{"name": "a"}]}});
    check(&pod, Some("team"), true);
}
