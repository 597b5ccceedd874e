//! `kubectl kustomize deploy/operator` renders, every document parses as its Kubernetes type,
//! and the settings the operator's safety depends on are in place.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::path::PathBuf;

use irsa_operator::crd::GsAwsCluster;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Namespace, Service, ServiceAccount};
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, PolicyRule, Role, RoleBinding};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::CustomResourceExt as _;
use serde_json::Value;

fn render() -> Vec<Value> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../deploy/operator");
    let out = std::process::Command::new("kubectl")
        .arg("kustomize")
        .arg(&dir)
        .output()
        .expect("kubectl must be installed to render deploy/operator");
    assert!(
        out.status.success(),
        "kubectl kustomize failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_saphyr::from_multiple::<Value>(&String::from_utf8(out.stdout).unwrap()).unwrap()
}

fn one<T: serde::de::DeserializeOwned>(kinds: &BTreeMap<String, Vec<Value>>, kind: &str) -> T {
    let docs = kinds
        .get(kind)
        .unwrap_or_else(|| panic!("no {kind} rendered"));
    assert_eq!(docs.len(), 1, "expected exactly one {kind}");
    serde_json::from_value(docs[0].clone()).unwrap_or_else(|e| panic!("{kind} does not parse: {e}"))
}

fn allows(rules: &[PolicyRule], resource: &str, verb: &str) -> bool {
    rules.iter().any(|r| {
        r.resources
            .as_ref()
            .is_some_and(|rs| rs.iter().any(|x| x == resource))
            && r.verbs.iter().any(|v| v == verb)
    })
}

#[test]
fn kustomize_base_renders_typed_documents_with_safe_settings() {
    let mut kinds: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for d in render() {
        kinds
            .entry(d["kind"].as_str().unwrap().to_string())
            .or_default()
            .push(d);
    }
    let ns: Namespace = one(&kinds, "Namespace");
    let namespace = ns.metadata.name.unwrap();
    let sa: ServiceAccount = one(&kinds, "ServiceAccount");
    let sa_name = sa.metadata.name.unwrap();

    // The CRD is the generated one (labels from kustomize aside).
    let crd: CustomResourceDefinition = one(&kinds, "CustomResourceDefinition");
    assert_eq!(crd.spec, GsAwsCluster::crd().spec);

    // RBAC: nothing wildcarded; Secrets are never listed or watched; AWSClusters are patched
    // (metadata), never updated; Events can be created.
    let cr: ClusterRole = one(&kinds, "ClusterRole");
    let rules = cr.rules.unwrap();
    for r in &rules {
        assert!(!r.verbs.iter().any(|v| v == "*"), "{r:?}");
        assert!(
            !r.resources
                .iter()
                .flatten()
                .any(|x| x == "*" || x.contains('/')),
            "{r:?}"
        );
    }
    for verb in ["get", "list", "watch", "patch"] {
        assert!(allows(&rules, "awsclusters", verb), "awsclusters {verb}");
    }
    assert!(!allows(&rules, "awsclusters", "update"));
    assert!(!allows(&rules, "awsclusters", "delete"));
    for verb in ["get", "create", "update"] {
        assert!(allows(&rules, "secrets", verb));
    }
    assert!(!allows(&rules, "secrets", "list") && !allows(&rules, "secrets", "watch"));
    assert!(!allows(&rules, "secrets", "delete"));
    for verb in ["get", "list", "watch", "create", "update", "delete"] {
        assert!(allows(&rules, "configmaps", verb), "configmaps {verb}");
    }
    assert!(allows(&rules, "events", "create"));
    let crb: ClusterRoleBinding = one(&kinds, "ClusterRoleBinding");
    let subject = &crb.subjects.unwrap()[0];
    assert_eq!(
        (subject.name.as_str(), subject.namespace.as_deref()),
        (sa_name.as_str(), Some(namespace.as_str()))
    );
    let role: Role = one(&kinds, "Role");
    assert_eq!(role.metadata.namespace.as_deref(), Some(namespace.as_str()));
    let lease_rules = role.rules.unwrap();
    assert!(allows(&lease_rules, "leases", "update"));
    assert!(
        lease_rules
            .iter()
            .filter(|r| r.verbs.iter().any(|v| v == "update"))
            .all(|r| r.resource_names.is_some())
    );
    let _: RoleBinding = one(&kinds, "RoleBinding");

    // Deployment: leader election in its namespace, probes on the health port, metrics port.
    let dep: Deployment = one(&kinds, "Deployment");
    let spec = dep.spec.unwrap();
    assert!(spec.replicas.unwrap() >= 2);
    let pod = spec.template.spec.unwrap();
    assert_eq!(pod.service_account_name.as_deref(), Some(sa_name.as_str()));
    assert_eq!(pod.security_context.unwrap().run_as_non_root, Some(true));
    let c = &pod.containers[0];
    let args = c.args.clone().unwrap();
    assert_eq!(args[0], "operator");
    assert!(args.contains(&"--leader-election=true".to_string()));
    assert!(args.contains(&format!("--leader-election-namespace={namespace}")));
    let ports: BTreeMap<String, i32> = c
        .ports
        .clone()
        .unwrap()
        .into_iter()
        .map(|p| (p.name.unwrap(), p.container_port))
        .collect();
    assert_eq!(ports["metrics"], 8080);
    assert_eq!(ports["health"], 8081);
    let readiness = c.readiness_probe.clone().unwrap().http_get.unwrap();
    assert_eq!(readiness.path.as_deref(), Some("/readyz"));
    let liveness = c.liveness_probe.clone().unwrap().http_get.unwrap();
    assert_eq!(liveness.path.as_deref(), Some("/healthz"));
    let sc = c.security_context.clone().unwrap();
    assert_eq!(sc.read_only_root_filesystem, Some(true));
    assert_eq!(sc.allow_privilege_escalation, Some(false));
    assert!(
        c.resources
            .clone()
            .unwrap()
            .limits
            .unwrap()
            .contains_key("memory")
    );
    assert!(c.env.clone().unwrap().iter().any(|e| e.name == "POD_NAME"));

    let svc: Service = one(&kinds, "Service");
    let svc_spec = svc.spec.unwrap();
    assert!(svc_spec.ports.unwrap().iter().any(|p| p.port == 8080));
    assert_eq!(
        svc_spec.selector.unwrap()["app.kubernetes.io/name"],
        "irsa-operator"
    );
}

#[test]
fn the_image_is_the_shared_one_pinned_to_the_crate_version() {
    let docs = render();
    let deployment = docs
        .iter()
        .find(|d| d["kind"] == "Deployment")
        .expect("a Deployment");
    let containers = deployment["spec"]["template"]["spec"]["containers"]
        .as_array()
        .unwrap();
    for c in containers {
        assert_eq!(
            c["image"],
            format!("irsa:{}", env!("CARGO_PKG_VERSION")),
            "{}",
            c["name"]
        );
    }
}
