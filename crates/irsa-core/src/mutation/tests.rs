//! Unit tests of the planner on hand-written pods (fixture conformance lives in
//! `crates/irsa-core/tests/mutation_fixtures.rs`).

use super::*;
use serde_json::json;

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

const ROLE: &str = "arn:aws:iam::111122223333:role/r";

fn sts_config() -> WebhookConfig {
    WebhookConfig::default()
}

fn mutate(
    pod: &Value,
    identity: Option<&ServiceAccountIdentity>,
    config: &WebhookConfig,
    inputs: &PlanInputs<'_>,
) -> Value {
    let ops = plan(pod, identity, config, inputs).expect("plans");
    apply_plan(pod, &ops).expect("applies")
}

fn env_names(container: &Value) -> Vec<String> {
    container["env"]
        .as_array()
        .map(|env| {
            env.iter()
                .filter_map(|e| e["name"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

fn volume_token(pod: &Value) -> Value {
    pod["spec"]["volumes"][0]["projected"]["sources"][0]["serviceAccountToken"].clone()
}

#[test]
fn no_role_means_no_patch_and_unknown_sa_is_reported_missing() {
    let pod = basic_pod();
    let p = plan_detailed(&pod, None, &sts_config(), &PlanInputs::default()).expect("plans");
    assert!(p.operations.is_empty());
    assert!(p.missing_service_account);
    assert_eq!(p.method, None);
    let no_role = ServiceAccountIdentity::default();
    let p =
        plan_detailed(&pod, Some(&no_role), &sts_config(), &PlanInputs::default()).expect("plans");
    assert!(p.operations.is_empty());
    assert!(!p.missing_service_account);
}

#[test]
fn precedence_pod_over_sa_over_flag_for_expiration() {
    let pod = basic_pod();
    let config = WebhookConfig {
        token_expiration: 7200,
        ..sts_config()
    };
    let mut id = sa(ROLE);
    let out = mutate(&pod, Some(&id), &config, &PlanInputs::default());
    assert_eq!(volume_token(&out)["expirationSeconds"], json!(7200));
    id.token_expiration = Some(5000);
    let out = mutate(&pod, Some(&id), &config, &PlanInputs::default());
    assert_eq!(volume_token(&out)["expirationSeconds"], json!(5000));
    let mut annotated = pod.clone();
    annotated["metadata"]["annotations"] = json!({"eks.amazonaws.com/token-expiration": "4000"});
    let out = mutate(&annotated, Some(&id), &config, &PlanInputs::default());
    assert_eq!(volume_token(&out)["expirationSeconds"], json!(4000));
    annotated["metadata"]["annotations"] = json!({"eks.amazonaws.com/token-expiration": "soon"});
    let out = mutate(&annotated, Some(&id), &config, &PlanInputs::default());
    assert_eq!(
        volume_token(&out)["expirationSeconds"],
        json!(5000),
        "invalid pod value keeps the SA value"
    );
}

#[test]
fn audience_and_regional_sts_from_sa_beat_flags() {
    let pod = basic_pod();
    let config = WebhookConfig {
        sts_regional_endpoint: true,
        token_audience: "flag-aud".into(),
        ..sts_config()
    };
    let out = mutate(&pod, Some(&sa(ROLE)), &config, &PlanInputs::default());
    assert_eq!(volume_token(&out)["audience"], json!("flag-aud"));
    assert_eq!(
        env_names(&out["spec"]["containers"][0])[0],
        ENV_STS_REGIONAL_ENDPOINTS
    );
    let id = ServiceAccountIdentity {
        audience: Some("sa-aud".into()),
        sts_regional_endpoints: Some(false),
        ..sa(ROLE)
    };
    let out = mutate(&pod, Some(&id), &config, &PlanInputs::default());
    assert_eq!(volume_token(&out)["audience"], json!("sa-aud"));
    assert!(
        !env_names(&out["spec"]["containers"][0]).contains(&ENV_STS_REGIONAL_ENDPOINTS.to_owned())
    );
}

#[test]
fn custom_annotation_prefix_applies_to_pod_annotations() {
    let mut pod = basic_pod();
    pod["metadata"]["annotations"] = json!({
        "corp.example/token-expiration": "1200",
        "corp.example/skip-containers": "app",
        "eks.amazonaws.com/token-expiration": "9999"
    });
    pod["spec"]["containers"]
        .as_array_mut()
        .expect("array")
        .push(json!({"name": "other"}));
    let config = WebhookConfig {
        annotation_prefix: "corp.example".into(),
        ..sts_config()
    };
    let out = mutate(&pod, Some(&sa(ROLE)), &config, &PlanInputs::default());
    assert_eq!(volume_token(&out)["expirationSeconds"], json!(1200));
    assert!(
        out["spec"]["containers"][0].get("env").is_none(),
        "skipped container untouched"
    );
    assert_eq!(
        env_names(&out["spec"]["containers"][1]),
        vec![ENV_ROLE_ARN, ENV_WEB_IDENTITY_TOKEN_FILE]
    );
}

#[test]
fn skip_containers_parse_error_skips_nothing_and_spaces_are_not_trimmed() {
    let mut pod = basic_pod();
    pod["spec"]["containers"]
        .as_array_mut()
        .expect("array")
        .push(json!({"name": "b"}));
    pod["metadata"]["annotations"] = json!({"eks.amazonaws.com/skip-containers": "app\"x"});
    let out = mutate(&pod, Some(&sa(ROLE)), &sts_config(), &PlanInputs::default());
    assert!(out["spec"]["containers"][0].get("env").is_some());
    assert!(out["spec"]["containers"][1].get("env").is_some());
    pod["metadata"]["annotations"] = json!({"eks.amazonaws.com/skip-containers": "app, b"});
    let out = mutate(&pod, Some(&sa(ROLE)), &sts_config(), &PlanInputs::default());
    assert!(
        out["spec"]["containers"][0].get("env").is_none(),
        "app skipped"
    );
    assert!(
        out["spec"]["containers"][1].get("env").is_some(),
        "\" b\" is not \"b\""
    );
}

#[test]
fn config_map_mapping_exact_then_wildcard_and_empty_audience_is_omitted() {
    let (mapping, warnings) = RoleMapping::parse(
        r#"{"*/app-sa": {"RoleARN": "arn:aws:iam::111122223333:role/wild"},
            "ns/app-sa": {"RoleARN": "arn:aws:iam::111122223333:role/exact", "Audience": "aud", "UseRegionalSTS": true, "TokenExpiration": 1800}}"#,
    )
    .expect("mapping");
    assert!(warnings.is_empty());
    let mut pod = basic_pod();
    pod["spec"]["serviceAccountName"] = json!("app-sa");
    let inputs = PlanInputs {
        role_mapping: Some(&mapping),
        ..PlanInputs::default()
    };
    let out = mutate(&pod, None, &sts_config(), &inputs);
    let c = &out["spec"]["containers"][0];
    assert_eq!(
        env_names(c),
        vec![
            ENV_STS_REGIONAL_ENDPOINTS,
            ENV_ROLE_ARN,
            ENV_WEB_IDENTITY_TOKEN_FILE
        ]
    );
    assert_eq!(
        c["env"][1]["value"],
        json!("arn:aws:iam::111122223333:role/exact")
    );
    assert_eq!(
        volume_token(&out),
        json!({"audience": "aud", "expirationSeconds": 1800, "path": "token"})
    );

    let other_ns = PlanInputs {
        namespace: Some("elsewhere"),
        role_mapping: Some(&mapping),
        ..PlanInputs::default()
    };
    let out = mutate(&pod, None, &sts_config(), &other_ns);
    assert_eq!(
        out["spec"]["containers"][0]["env"][0]["value"],
        json!("arn:aws:iam::111122223333:role/wild")
    );
    assert_eq!(
        volume_token(&out),
        json!({"expirationSeconds": 86400, "path": "token"})
    );

    let annotated_sa = sa(ROLE);
    let out = mutate(&pod, Some(&annotated_sa), &sts_config(), &inputs);
    assert_eq!(
        out["spec"]["containers"][0]["env"][0]["value"],
        json!(ROLE),
        "annotated SA beats the ConfigMap"
    );
    let p = plan_detailed(&pod, None, &sts_config(), &inputs).expect("plans");
    assert!(!p.missing_service_account);
}

#[test]
fn container_credentials_label_handling_and_jitter() {
    let mut cc = ContainerCredentialsConfig::default();
    cc.insert("ns", "default");
    let mut pod = basic_pod();
    pod["metadata"]["labels"] = json!({"app": "x"});
    let inputs = PlanInputs {
        container_credentials: Some(&cc),
        jitter: Jitter(7201 + 5),
        ..PlanInputs::default()
    };
    let p = plan_detailed(&pod, None, &sts_config(), &inputs).expect("plans");
    assert_eq!(p.method, Some(Method::ContainerCredentials));
    let out = apply_plan(&pod, &p.operations).expect("applies");
    assert_eq!(
        out["metadata"]["labels"],
        json!({"app": "x", "eks.amazonaws.com/pod-identity": "enabled"})
    );
    assert_eq!(volume_token(&out)["expirationSeconds"], json!(79_205));
    assert_eq!(
        volume_token(&out)["audience"],
        json!("pods.eks.amazonaws.com")
    );
    assert_eq!(
        out["spec"]["containers"][0]["env"],
        json!([
            {"name": "AWS_CONTAINER_CREDENTIALS_FULL_URI", "value": "http://169.254.170.23/v1/credentials"},
            {"name": "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", "value": "/var/run/secrets/pods.eks.amazonaws.com/serviceaccount/eks-pod-identity-token"}
        ])
    );
    assert!(
        plan(&out, None, &sts_config(), &inputs)
            .expect("plans")
            .is_empty()
    );

    // The caller's value decides the expiration, and only it: the same value gives the same
    // patch every time, and every value lands in upstream's range.
    for value in [0, 1, 7_200, 7_201, 123_456_789, u64::MAX] {
        let with = PlanInputs {
            jitter: Jitter(value),
            ..inputs
        };
        let first = mutate(&basic_pod(), None, &sts_config(), &with);
        let again = mutate(&basic_pod(), None, &sts_config(), &with);
        assert_eq!(first, again, "jitter {value}");
        let e = volume_token(&first)["expirationSeconds"]
            .as_i64()
            .expect("number");
        assert_eq!(e, 79_200 + i64::try_from(value % 7_201).expect("small"));
        assert!((79_200..=86_400).contains(&e), "{e}");
    }
    let random = PlanInputs {
        jitter: Jitter(u64::MAX),
        ..inputs
    };
    let mut annotated = basic_pod();
    annotated["metadata"]["annotations"] = json!({"eks.amazonaws.com/token-expiration": "3600"});
    let out = mutate(&annotated, None, &sts_config(), &random);
    assert_eq!(
        volume_token(&out)["expirationSeconds"],
        json!(3600),
        "non-default values are not jittered"
    );
}

#[test]
fn container_credentials_without_sa_uses_exact_config_map_entry_only() {
    let mut cc = ContainerCredentialsConfig::default();
    cc.insert("ns", "default");
    let (mapping, _) =
        RoleMapping::parse(r#"{"*/default": {"UseRegionalSTS": true, "TokenExpiration": 5000}}"#)
            .expect("mapping");
    let inputs = PlanInputs {
        container_credentials: Some(&cc),
        role_mapping: Some(&mapping),
        jitter: Jitter(0),
        ..PlanInputs::default()
    };
    let out = mutate(&basic_pod(), None, &sts_config(), &inputs);
    assert_eq!(
        volume_token(&out)["expirationSeconds"],
        json!(79_200),
        "wildcard ignored in this mode"
    );
    assert_eq!(
        env_names(&out["spec"]["containers"][0])[0],
        ENV_CONTAINER_CREDENTIALS_FULL_URI
    );
    let (exact, _) =
        RoleMapping::parse(r#"{"ns/default": {"UseRegionalSTS": true, "TokenExpiration": 5000}}"#)
            .expect("mapping");
    let inputs = PlanInputs {
        role_mapping: Some(&exact),
        ..inputs
    };
    let out = mutate(&basic_pod(), None, &sts_config(), &inputs);
    assert_eq!(volume_token(&out)["expirationSeconds"], json!(5000));
    assert_eq!(
        env_names(&out["spec"]["containers"][0])[0],
        ENV_STS_REGIONAL_ENDPOINTS
    );
}

#[test]
fn existing_label_value_is_corrected_and_missing_metadata_is_created() {
    let mut cc = ContainerCredentialsConfig::default();
    cc.insert("default", "default");
    let inputs = PlanInputs {
        container_credentials: Some(&cc),
        jitter: Jitter(0),
        ..PlanInputs::default()
    };
    let pod = json!({"spec": {"containers": [{"name": "a"}]}});
    let out = mutate(&pod, None, &sts_config(), &inputs);
    assert_eq!(
        out["metadata"]["labels"]["eks.amazonaws.com/pod-identity"],
        json!("enabled")
    );
    let pod = json!({"metadata": {"labels": {"eks.amazonaws.com/pod-identity": "disabled"}}, "spec": {"containers": [{"name": "a"}]}});
    let out = mutate(&pod, None, &sts_config(), &inputs);
    assert_eq!(
        out["metadata"]["labels"]["eks.amazonaws.com/pod-identity"],
        json!("enabled")
    );
}

#[test]
fn windows_only_changes_the_env_path_and_custom_mount_is_joined_like_go() {
    let mut pod = basic_pod();
    pod["spec"]["nodeSelector"] = json!({"kubernetes.io/os": "Windows"});
    let config = WebhookConfig {
        token_mount_path: "/custom//mount/".into(),
        ..sts_config()
    };
    let out = mutate(&pod, Some(&sa(ROLE)), &config, &PlanInputs::default());
    let c = &out["spec"]["containers"][0];
    assert_eq!(
        c["env"][1]["value"],
        json!("/custom/mount/token"),
        "case-sensitive: Windows is not windows"
    );
    assert_eq!(
        c["volumeMounts"][0]["mountPath"],
        json!("/custom//mount/"),
        "mount path verbatim"
    );
    pod["spec"]["nodeSelector"] = json!({"kubernetes.io/os": "windows"});
    let out = mutate(&pod, Some(&sa(ROLE)), &config, &PlanInputs::default());
    assert_eq!(
        out["spec"]["containers"][0]["env"][1]["value"],
        json!("C:\\custom\\mount\\token")
    );
}

#[test]
fn existing_env_and_mounts_are_appended_to_one_by_one() {
    let pod = json!({"spec": {"containers": [{"name": "a", "env": [{"name": "X", "value": "1"}], "volumeMounts": [{"name": "data", "mountPath": "/data"}]}], "volumes": [{"name": "data", "emptyDir": {}}]}});
    let ops = plan(&pod, Some(&sa(ROLE)), &sts_config(), &PlanInputs::default()).expect("plans");
    let paths: Vec<String> = ops.iter().map(|o| o.path().to_string()).collect();
    assert_eq!(
        paths,
        vec![
            "/spec/volumes/0",
            "/spec/containers/0/env/-",
            "/spec/containers/0/env/-",
            "/spec/containers/0/volumeMounts/-"
        ]
    );
    let out = apply_plan(&pod, &ops).expect("applies");
    assert_eq!(
        env_names(&out["spec"]["containers"][0]),
        vec!["X", ENV_ROLE_ARN, ENV_WEB_IDENTITY_TOKEN_FILE]
    );
    assert_eq!(out["spec"]["volumes"][1]["name"], json!("data"));
}

#[test]
fn envfrom_region_does_not_count_and_either_credential_var_blocks_both() {
    let pod = json!({"spec": {"containers": [{"name": "a", "envFrom": [{"configMapRef": {"name": "AWS_REGION"}}], "env": [{"name": "AWS_WEB_IDENTITY_TOKEN_FILE", "value": "/mine"}]}]}});
    let config = WebhookConfig {
        aws_default_region: Some("eu-west-1".into()),
        ..sts_config()
    };
    let out = mutate(&pod, Some(&sa(ROLE)), &config, &PlanInputs::default());
    assert_eq!(
        env_names(&out["spec"]["containers"][0]),
        vec![ENV_WEB_IDENTITY_TOKEN_FILE, ENV_DEFAULT_REGION, ENV_REGION]
    );
}

#[test]
fn later_added_container_is_mutated_on_reinvocation() {
    let pod = basic_pod();
    let mut out = mutate(&pod, Some(&sa(ROLE)), &sts_config(), &PlanInputs::default());
    out["spec"]["containers"]
        .as_array_mut()
        .expect("array")
        .push(json!({"name": "injected-by-another-webhook"}));
    let ops = plan(&out, Some(&sa(ROLE)), &sts_config(), &PlanInputs::default()).expect("plans");
    assert!(
        ops.iter()
            .all(|o| o.path().to_string().starts_with("/spec/containers/1/")),
        "{ops:?}"
    );
    let out = apply_plan(&out, &ops).expect("applies");
    assert_eq!(
        env_names(&out["spec"]["containers"][1]),
        vec![ENV_ROLE_ARN, ENV_WEB_IDENTITY_TOKEN_FILE]
    );
}

#[test]
fn wrong_types_are_errors_naming_the_field() {
    let id = sa(ROLE);
    let cases = [
        (json!("pod"), "pod must be a JSON object, found a string"),
        (
            json!({"spec": {"containers": {}}}),
            "`/spec/containers` must be an array",
        ),
        (
            json!({"spec": {"containers": ["x"]}}),
            "`/spec/containers/0` must be an object",
        ),
        (
            json!({"spec": {"containers": [{"name": "a", "env": "X=1"}]}}),
            "`/spec/containers/0/env` must be an array",
        ),
        (
            json!({"spec": {"initContainers": [{"name": "a", "volumeMounts": 3}]}}),
            "`/spec/initContainers/0/volumeMounts` must be an array",
        ),
        (
            json!({"spec": {"volumes": {}}}),
            "`/spec/volumes` must be an array",
        ),
        (json!({"spec": 1}), "`/spec` must be an object"),
    ];
    for (pod, message) in cases {
        let err =
            plan(&pod, Some(&id), &sts_config(), &PlanInputs::default()).expect_err("wrong type");
        assert!(
            err.to_string().contains(message),
            "{err} should contain {message}"
        );
    }
}

#[test]
fn unknown_fields_survive() {
    let pod = json!({"metadata": {"name": "p", "x-future": {"a": 1}}, "spec": {"containers": [{"name": "a", "restartPolicyRules": [{"action": "Restart"}], "readinessProbe": {"grpc": {"port": 5000}}}], "futureField": true}});
    let out = mutate(&pod, Some(&sa(ROLE)), &sts_config(), &PlanInputs::default());
    assert_eq!(out["metadata"]["x-future"], json!({"a": 1}));
    assert_eq!(out["spec"]["futureField"], json!(true));
    assert_eq!(
        out["spec"]["containers"][0]["restartPolicyRules"],
        json!([{"action": "Restart"}])
    );
    assert_eq!(
        out["spec"]["containers"][0]["readinessProbe"],
        json!({"grpc": {"port": 5000}})
    );
}
