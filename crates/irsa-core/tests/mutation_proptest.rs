//! Property test: for arbitrary pods (containers, init containers, env, mounts, volumes,
//! labels, annotations in any combination) and arbitrary settings, the planned patch applies
//! cleanly with the json-patch crate, replaces nothing the pod had, keeps every existing
//! container field, and planning again on the result yields no operation. And for the same
//! pods with nodes of the wrong JSON type sprinkled in, the pruned view the webhook parses
//! ([`PrunedPod`]) plans exactly like the full pod (same patch, same error).

use irsa_core::mutation::{
    ContainerCredentialsConfig, Jitter, PlanInputs, PrunedPod, RoleMapping, ServiceAccountIdentity,
    WebhookConfig, apply_plan, plan, plan_detailed, plan_mutation,
};
use json_patch::PatchOperation;
use proptest::prelude::*;
use serde_json::{Map, Value, json};

const NAMES: &[&str] = &["app", "sidecar", "init", "proxy"];
const ENV_NAMES: &[&str] = &[
    "AWS_ROLE_ARN",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_STS_REGIONAL_ENDPOINTS",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
    "OTHER",
];
const VOLUME_NAMES: &[&str] = &["aws-iam-token", "eks-pod-identity-token", "data"];

/// An optional array field: absent, explicit null, or an array of generated items.
fn optional_list(item: BoxedStrategy<Value>) -> BoxedStrategy<Option<Value>> {
    prop_oneof![
        Just(None),
        Just(Some(Value::Null)),
        prop::collection::vec(item, 0..4).prop_map(|v| Some(Value::Array(v))),
    ]
    .boxed()
}

fn env_entry() -> BoxedStrategy<Value> {
    (prop::sample::select(ENV_NAMES), any::<bool>())
        .prop_map(|(n, from)| {
            if from {
                json!({"name": n, "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}})
            } else {
                json!({"name": n, "value": "v"})
            }
        })
        .boxed()
}

fn mount() -> BoxedStrategy<Value> {
    prop::sample::select(VOLUME_NAMES)
        .prop_map(|n| json!({"name": n, "mountPath": format!("/m/{n}")}))
        .boxed()
}

fn container() -> impl Strategy<Value = Value> {
    (
        prop::sample::select(NAMES),
        optional_list(env_entry()),
        optional_list(mount()),
        any::<bool>(),
    )
        .prop_map(|(name, env, mounts, extras)| {
            let mut c = Map::new();
            c.insert("name".into(), json!(name));
            c.insert("image".into(), json!("img"));
            if let Some(env) = env {
                c.insert("env".into(), env);
            }
            if let Some(mounts) = mounts {
                c.insert("volumeMounts".into(), mounts);
            }
            if extras {
                c.insert("restartPolicy".into(), json!("Always"));
                c.insert("readinessProbe".into(), json!({"grpc": {"port": 5000}}));
            }
            Value::Object(c)
        })
}

fn pod() -> impl Strategy<Value = Value> {
    (
        prop::collection::vec(container(), 0..4),
        prop::option::of(prop::collection::vec(container(), 0..3)),
        optional_list(
            prop::sample::select(VOLUME_NAMES)
                .prop_map(|n| json!({"name": n, "emptyDir": {}}))
                .boxed(),
        ),
        prop::option::of(prop::option::of(any::<bool>())),
        prop::option::of("[a-z, \"]{0,12}"),
        prop::option::of("-?[0-9]{1,6}|x"),
        any::<bool>(),
    )
        .prop_map(
            |(containers, init, volumes, labels, skip, expiration, windows)| {
                let mut spec = Map::new();
                spec.insert("containers".into(), Value::Array(containers));
                if let Some(init) = init {
                    spec.insert("initContainers".into(), Value::Array(init));
                }
                if let Some(volumes) = volumes {
                    spec.insert("volumes".into(), volumes);
                }
                if windows {
                    spec.insert(
                        "nodeSelector".into(),
                        json!({"kubernetes.io/os": "windows"}),
                    );
                }
                let mut metadata = Map::new();
                metadata.insert("name".into(), json!("p"));
                match labels {
                    None => {}
                    Some(None) => {
                        metadata.insert("labels".into(), Value::Null);
                    }
                    Some(Some(with_label)) => {
                        let labels = if with_label {
                            json!({"eks.amazonaws.com/pod-identity": "enabled"})
                        } else {
                            json!({"app": "x"})
                        };
                        metadata.insert("labels".into(), labels);
                    }
                }
                let mut annotations = Map::new();
                if let Some(skip) = skip {
                    annotations.insert("eks.amazonaws.com/skip-containers".into(), json!(skip));
                }
                if let Some(expiration) = expiration {
                    annotations.insert(
                        "eks.amazonaws.com/token-expiration".into(),
                        json!(expiration),
                    );
                }
                metadata.insert("annotations".into(), Value::Object(annotations));
                json!({"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": spec})
            },
        )
}

#[derive(Debug, Clone)]
struct Settings {
    identity: Option<ServiceAccountIdentity>,
    config: WebhookConfig,
    container_credentials: bool,
    config_map: bool,
    jitter: u64,
}

fn settings() -> impl Strategy<Value = Settings> {
    (
        prop::option::of((
            any::<bool>(),
            prop::option::of(any::<bool>()),
            prop::option::of(600i64..100_000),
        )),
        prop::option::of(prop::sample::select(&["", "eu-west-1"][..])),
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
        0u64..10_000,
    )
        .prop_map(
            |(identity, region, sts, container_credentials, config_map, jitter)| Settings {
                identity: identity.map(|(role, regional, expiration)| ServiceAccountIdentity {
                    role_arn: role.then(|| "arn:aws:iam::111122223333:role/r".to_owned()),
                    audience: None,
                    sts_regional_endpoints: regional,
                    token_expiration: expiration,
                }),
                config: WebhookConfig {
                    aws_default_region: region.map(str::to_owned),
                    sts_regional_endpoint: sts,
                    ..WebhookConfig::default()
                },
                container_credentials,
                config_map,
                jitter,
            },
        )
}

fn never_overwrites(pod: &Value, ops: &[PatchOperation]) -> Result<(), String> {
    for op in ops {
        let PatchOperation::Add(add) = op else {
            return Err(format!("unexpected operation {op}"));
        };
        let path = add.path.as_str();
        let (parent, _) = path.rsplit_once('/').unwrap_or(("", path));
        if !pod.pointer(parent).is_some_and(Value::is_array)
            && pod.pointer(path).is_some_and(|v| !v.is_null())
        {
            if path == "/metadata/labels/eks.amazonaws.com~1pod-identity" {
                continue; // a wrong label value is corrected, by design
            }
            return Err(format!("{path} exists and would be replaced"));
        }
    }
    Ok(())
}

/// Every field of every original container is still there with the same value, except that
/// `env`/`volumeMounts` may have grown (their original items staying first, in order).
fn containers_preserved(before: &Value, after: &Value) -> Result<(), String> {
    for field in ["containers", "initContainers"] {
        let old = before["spec"][field]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let new = after["spec"][field].as_array().cloned().unwrap_or_default();
        if old.len() != new.len() {
            return Err(format!("{field} length changed"));
        }
        for (o, n) in old.iter().zip(&new) {
            for (k, v) in o.as_object().into_iter().flatten() {
                match (k.as_str(), v) {
                    ("env" | "volumeMounts", Value::Array(items)) => {
                        let grown = n[k].as_array().cloned().unwrap_or_default();
                        if grown.get(..items.len()) != Some(items.as_slice()) {
                            return Err(format!("{field}.{k} original items changed"));
                        }
                    }
                    ("env" | "volumeMounts", Value::Null) => {}
                    _ if n[k] != *v => return Err(format!("{field}.{k} changed")),
                    _ => {}
                }
            }
        }
    }
    Ok(())
}

/// A value of any JSON type, to put where the planner expects another one.
fn odd_value() -> BoxedStrategy<Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i32>().prop_map(|n| json!(n)),
        Just(json!(1.5)),
        "[a-z/]{0,6}".prop_map(Value::String),
        Just(json!([])),
        Just(json!(["app", {"name": "app"}])),
        Just(json!({})),
        Just(json!({"name": "aws-iam-token", "other": [1, 2]})),
    ]
    .boxed()
}

/// Every node of `pod` (objects, arrays, leaves), as JSON Pointers.
fn node_paths(value: &Value, at: String, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                let token = k.replace('~', "~0").replace('/', "~1");
                node_paths(v, format!("{at}/{token}"), out);
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                node_paths(v, format!("{at}/{i}"), out);
            }
        }
        _ => {}
    }
    out.push(at);
}

/// `pod` with up to three of its nodes replaced by odd values (or extra odd members added).
fn odd_pod() -> impl Strategy<Value = Value> {
    (
        pod(),
        prop::collection::vec(
            (any::<prop::sample::Index>(), odd_value(), any::<bool>()),
            0..4,
        ),
    )
        .prop_map(|(mut pod, edits)| {
            for (index, odd, add) in edits {
                let mut paths = Vec::new();
                node_paths(&pod, String::new(), &mut paths);
                let path = index.get(&paths).clone();
                match pod.pointer_mut(&path) {
                    Some(Value::Object(map)) if add => {
                        for key in [
                            "name",
                            "env",
                            "volumeMounts",
                            "labels",
                            "annotations",
                            "namespace",
                        ] {
                            map.entry(key).or_insert_with(|| odd.clone());
                        }
                    }
                    Some(node) => *node = odd,
                    None => {}
                }
            }
            pod
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn pruned_pod_plans_like_the_full_pod(pod in odd_pod(), s in settings(), prefix in prop::sample::select(&["eks.amazonaws.com", "corp.example", ""][..])) {
        let mut cc = ContainerCredentialsConfig::default();
        cc.insert("default", "default");
        let (mapping, _) = RoleMapping::parse(r#"{"*/default": {"RoleARN": "arn:aws:iam::111122223333:role/cm"}}"#)
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        let inputs = PlanInputs {
            namespace: None,
            role_mapping: s.config_map.then_some(&mapping),
            container_credentials: s.container_credentials.then_some(&cc),
            jitter: Jitter(s.jitter),
        };
        let config = WebhookConfig { annotation_prefix: prefix.to_owned(), ..s.config.clone() };
        let text = serde_json::to_string(&pod).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let pruned: PrunedPod = serde_json::from_str(&text).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let full = plan_detailed(&pod, s.identity.as_ref(), &config, &inputs);
        let seen = plan_detailed(&pruned.0, s.identity.as_ref(), &config, &inputs);
        prop_assert_eq!(format!("{full:?}"), format!("{seen:?}"));
        // What the webhook sends: the typed plan written straight to JSON is byte for byte
        // the serialised operations.
        if let Ok(plan) = &full {
            let typed = plan_mutation(&pruned.0, s.identity.as_ref(), &config, &inputs)
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
            let mut direct = Vec::new();
            typed.patch.write_json(&mut direct).map_err(|e| TestCaseError::fail(e.to_string()))?;
            let via_serde = serde_json::to_vec(&plan.operations).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(String::from_utf8_lossy(&direct), String::from_utf8_lossy(&via_serde));
            prop_assert_eq!(typed.method, plan.method);
            prop_assert_eq!(typed.missing_service_account, plan.missing_service_account);
        }
    }

    #[test]
    fn patch_applies_preserves_and_is_idempotent(pod in pod(), s in settings()) {
        let mut cc = ContainerCredentialsConfig::default();
        cc.insert("default", "default");
        let (mapping, _) = RoleMapping::parse(r#"{"*/default": {"RoleARN": "arn:aws:iam::111122223333:role/cm"}}"#)
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        let inputs = PlanInputs {
            namespace: Some("default"),
            role_mapping: s.config_map.then_some(&mapping),
            container_credentials: s.container_credentials.then_some(&cc),
            jitter: Jitter(s.jitter),
        };
        let ops = plan(&pod, s.identity.as_ref(), &s.config, &inputs)
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        never_overwrites(&pod, &ops).map_err(TestCaseError::fail)?;
        let out = apply_plan(&pod, &ops).map_err(|e| TestCaseError::fail(e.to_string()))?;
        containers_preserved(&pod, &out).map_err(TestCaseError::fail)?;
        let again = plan(&out, s.identity.as_ref(), &s.config, &inputs)
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert!(again.is_empty(), "second plan not empty: {}", serde_json::to_string(&again).unwrap_or_default());
        let qualifies = s.container_credentials || s.config_map || s.identity.as_ref().is_some_and(ServiceAccountIdentity::has_role);
        if qualifies {
            let volumes = out["spec"]["volumes"].as_array().cloned().unwrap_or_default();
            let wanted = if s.container_credentials { "eks-pod-identity-token" } else { "aws-iam-token" };
            prop_assert!(volumes.iter().any(|v| v["name"] == wanted), "token volume missing");
        } else {
            prop_assert!(ops.is_empty());
        }
    }
}
