//! Conformance: every scenario of upstream's webhook test data, ported to
//! `tests/fixtures/webhook/*.yaml` (input pod, ServiceAccount annotations, webhook flags and the
//! pod upstream's expected patch produces). The planner's patch, applied to the input pod, must
//! give exactly the expected pod; planning again on the result must give no operation; no
//! operation may overwrite a value that already exists in the pod; and the pruned view the
//! webhook parses ([`PrunedPod`]) must plan exactly like the full pod, before and after.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use irsa_core::mutation::{
    ContainerCredentialsConfig, ContainerCredentialsSettings, Jitter, PlanInputs, PrunedPod,
    ServiceAccountIdentity, WebhookConfig, apply_plan, plan, plan_detailed, plan_mutation,
};
use json_patch::PatchOperation;
use serde_json::Value;

fn fixture_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/webhook")
}

/// YAML 1.2 reading into an untyped value: `no`/`yes` stay strings, `012` stays a string.
fn read_yaml(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).expect("fixture readable");
    let options = serde_saphyr::options! {
        strict_booleans: true,
        leading_zero_numbers_as_strings: true,
    };
    serde_saphyr::from_str_with_options(&text, options).expect("fixture is YAML")
}

struct Scenario {
    name: String,
    identity: Option<ServiceAccountIdentity>,
    config: WebhookConfig,
    container_credentials: Option<ContainerCredentialsConfig>,
    jitter: Jitter,
    pod: Value,
    expected: Value,
}

fn scenario(path: &Path) -> Scenario {
    let doc = read_yaml(path);
    let name = path
        .file_name()
        .expect("file")
        .to_string_lossy()
        .into_owned();
    let mut config = WebhookConfig::default();
    let mut cc_settings = ContainerCredentialsSettings::default();
    let mut container_credentials = None;
    let webhook = doc["webhook"].as_object().cloned().unwrap_or_default();
    for (flag, value) in &webhook {
        let s = || value.as_str().expect("string flag").to_owned();
        match flag.as_str() {
            "annotation-prefix" => config.annotation_prefix = s(),
            "token-audience" => config.token_audience = s(),
            "token-mount-path" => config.token_mount_path = s(),
            "token-expiration" => config.token_expiration = value.as_i64().expect("int flag"),
            "aws-default-region" => config.aws_default_region = Some(s()),
            "sts-regional-endpoint" => {
                config.sts_regional_endpoint = value.as_bool().expect("bool flag")
            }
            "container-credentials-audience" => cc_settings.audience = s(),
            "container-credentials-token-mount-path" => cc_settings.mount_path = s(),
            "container-credentials-token-volume-name" => cc_settings.volume_name = s(),
            "container-credentials-token-path" => cc_settings.token_path = s(),
            "container-credentials-full-uri" => cc_settings.full_uri = s(),
            "container-credentials-identities" => {
                let text = serde_json::json!({ "identities": value }).to_string();
                let (cc, warnings) = ContainerCredentialsConfig::parse(&text).expect("identities");
                assert!(warnings.is_empty(), "{name}: {warnings:?}");
                container_credentials = Some(cc);
            }
            other => panic!("{name}: unknown webhook flag {other}"),
        }
    }
    config.container_credentials = cc_settings;
    let identity = doc["serviceAccount"].as_object().map(|sa| {
        let annotations: BTreeMap<String, String> = sa
            .get("annotations")
            .and_then(Value::as_object)
            .map(|a| {
                a.iter()
                    .map(|(k, v)| (k.clone(), v.as_str().expect("string annotation").to_owned()))
                    .collect()
            })
            .unwrap_or_default();
        ServiceAccountIdentity::from_annotations(&config.annotation_prefix, &annotations)
    });
    Scenario {
        name,
        identity,
        config,
        container_credentials,
        jitter: Jitter(doc["jitterOffset"].as_u64().unwrap_or(0)),
        pod: doc["pod"].clone(),
        expected: doc["expectedPod"].clone(),
    }
}

fn run(s: &Scenario) -> Result<(), String> {
    let inputs = PlanInputs {
        namespace: Some("default"),
        role_mapping: None,
        container_credentials: s.container_credentials.as_ref(),
        jitter: s.jitter,
    };
    let ops = plan(&s.pod, s.identity.as_ref(), &s.config, &inputs).map_err(|e| e.to_string())?;
    same_plan_when_pruned(s, &s.pod, &inputs)?;
    assert_never_overwrites(&s.pod, &ops).map_err(|e| format!("{}: {e}", s.name))?;
    let out = apply_plan(&s.pod, &ops).map_err(|e| e.to_string())?;
    if out != s.expected {
        return Err(format!(
            "{}: resulting pod differs\n got: {}\nwant: {}\n ops: {}",
            s.name,
            serde_json::to_string(&out).unwrap_or_default(),
            serde_json::to_string(&s.expected).unwrap_or_default(),
            serde_json::to_string(&ops).unwrap_or_default()
        ));
    }
    let again = plan(&out, s.identity.as_ref(), &s.config, &inputs).map_err(|e| e.to_string())?;
    same_plan_when_pruned(s, &out, &inputs)?;
    if !again.is_empty() {
        return Err(format!(
            "{}: second plan is not empty: {}",
            s.name,
            serde_json::to_string(&again).unwrap_or_default()
        ));
    }
    Ok(())
}

/// The webhook plans on the [`PrunedPod`] parsed from the same JSON: same answer, field for field.
fn same_plan_when_pruned(s: &Scenario, pod: &Value, inputs: &PlanInputs<'_>) -> Result<(), String> {
    let text = serde_json::to_string(pod).map_err(|e| e.to_string())?;
    let pruned: PrunedPod = serde_json::from_str(&text).map_err(|e| e.to_string())?;
    let full = plan_detailed(pod, s.identity.as_ref(), &s.config, inputs);
    let seen = plan_detailed(&pruned.0, s.identity.as_ref(), &s.config, inputs);
    if format!("{full:?}") != format!("{seen:?}") {
        return Err(format!(
            "{}: the pruned pod plans differently
 full: {full:?}
 pruned: {seen:?}",
            s.name
        ));
    }
    // What the webhook sends: the typed plan of the pruned pod, written straight to JSON,
    // byte for byte the serialised operations.
    if let Ok(plan) = &full {
        let typed = plan_mutation(&pruned.0, s.identity.as_ref(), &s.config, inputs)
            .map_err(|e| format!("{}: typed plan failed: {e}", s.name))?;
        let mut direct = Vec::new();
        typed
            .patch
            .write_json(&mut direct)
            .map_err(|e| e.to_string())?;
        let via_serde = serde_json::to_vec(&plan.operations).map_err(|e| e.to_string())?;
        if direct != via_serde || typed.method != plan.method {
            return Err(format!(
                "{}: the patch written directly differs\n direct: {}\n serde:  {}",
                s.name,
                String::from_utf8_lossy(&direct),
                String::from_utf8_lossy(&via_serde)
            ));
        }
    }
    Ok(())
}

/// Every `add` targets a new object member, an array end (`-`) or an array insertion point:
/// nothing the pod already had is replaced.
fn assert_never_overwrites(pod: &Value, ops: &[PatchOperation]) -> Result<(), String> {
    for op in ops {
        let PatchOperation::Add(add) = op else {
            return Err(format!("only add operations are expected, got {op}"));
        };
        let path = add.path.as_str();
        let (parent, last) = path.rsplit_once('/').unwrap_or(("", path));
        let parent_is_array = pod.pointer(parent).is_some_and(Value::is_array);
        if parent_is_array {
            if last != "-" && last.parse::<usize>().is_err() {
                return Err(format!("{path}: bad array token"));
            }
        } else if pod.pointer(path).is_some_and(|v| !v.is_null()) {
            return Err(format!(
                "{path} already exists in the pod and would be replaced"
            ));
        }
    }
    Ok(())
}

#[test]
fn every_upstream_scenario_gives_the_expected_pod_and_is_reinvocation_safe() {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(fixture_dir())
        .expect("fixture dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    paths.sort();
    assert!(
        paths.len() >= 24,
        "expected the 24 ported scenarios, found {}",
        paths.len()
    );
    let failures: Vec<String> = paths
        .iter()
        .filter_map(|p| run(&scenario(p)).err())
        .collect();
    assert!(
        failures.is_empty(),
        "{} failing:\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

#[test]
fn every_upstream_scenario_is_ported() {
    let upstream = [
        "betaWindowsPodWithoutVolumes",
        "windowsPodWithoutVolumes",
        "initPodNeedsRegion",
        "rawPodHasAll",
        "rawPodHasSTS",
        "rawPodHasTokenExpiration",
        "rawPodHasVolumeMount",
        "rawPodMinTokenExpiration",
        "rawPodNeedsRegion",
        "rawPodNeedsSTS",
        "rawPodNoSTSAnnotationOverride",
        "rawPodRegionPresent",
        "rawPodSkip",
        "rawPodWithGRPC",
        "rawPodWithInitContainer",
        "rawPodWithVolumes",
        "rawPodWithoutVolumes",
        "rawPodWithsecCompProfile",
    ];
    let cc = [
        "rawPodNeedsAll",
        "rawPodSkip",
        "rawPodWithConflictingVolumeMount",
        "rawPodWithRoleArn",
        "rawPodWithVolume",
        "rawPodWithoutVolumes",
    ];
    let mut ported: Vec<(String, bool)> = Vec::new();
    for entry in std::fs::read_dir(fixture_dir()).expect("fixture dir") {
        let path = entry.expect("entry").path();
        let doc = read_yaml(&path);
        let name = doc["upstreamScenario"]
            .as_str()
            .expect("upstreamScenario")
            .to_owned();
        let is_cc = doc["webhook"]
            .get("container-credentials-identities")
            .is_some();
        ported.push((name, is_cc));
    }
    for u in upstream {
        assert!(ported.contains(&(u.to_owned(), false)), "{u} not ported");
    }
    for u in cc {
        assert!(
            ported.contains(&(u.to_owned(), true)),
            "containercredentials/{u} not ported"
        );
    }
}

#[test]
fn the_harness_notices_a_wrong_expectation() {
    let path = fixture_dir().join("sts-baseline.yaml");
    let mut s = scenario(&path);
    s.expected["spec"]["containers"][0]["env"][0]["value"] =
        Value::from("arn:aws:iam::000000000000:role/other");
    assert!(run(&s).is_err());
}
