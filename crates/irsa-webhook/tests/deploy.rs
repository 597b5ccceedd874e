//! `kubectl kustomize deploy/webhook` renders, every document parses as its Kubernetes type,
//! and the settings the webhook's safety depends on are in place.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use k8s_openapi::api::admissionregistration::v1::MutatingWebhookConfiguration;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Namespace, Service, ServiceAccount};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, Role, RoleBinding};
use serde_json::Value;

fn deploy_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../deploy")
}

fn render() -> Vec<Value> {
    render_dir(&deploy_dir().join("webhook"))
}

fn render_dir(dir: &Path) -> Vec<Value> {
    let out = std::process::Command::new("kubectl")
        .arg("kustomize")
        .arg(dir)
        .output()
        .expect("kubectl must be installed to render deploy/webhook");
    assert!(
        out.status.success(),
        "kubectl kustomize failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    serde_saphyr::from_multiple::<Value>(&text).unwrap()
}

fn by_kind(docs: &[Value]) -> BTreeMap<String, Vec<Value>> {
    let mut map: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for d in docs {
        map.entry(d["kind"].as_str().unwrap().to_string())
            .or_default()
            .push(d.clone());
    }
    map
}

fn one<T: serde::de::DeserializeOwned>(kinds: &BTreeMap<String, Vec<Value>>, kind: &str) -> T {
    let docs = kinds
        .get(kind)
        .unwrap_or_else(|| panic!("no {kind} rendered"));
    assert_eq!(docs.len(), 1, "expected exactly one {kind}");
    serde_json::from_value(docs[0].clone()).unwrap_or_else(|e| panic!("{kind} does not parse: {e}"))
}

#[test]
fn kustomize_base_renders_typed_documents_with_safe_settings() {
    let docs = render();
    let kinds = by_kind(&docs);
    let ns: Namespace = one(&kinds, "Namespace");
    let namespace = ns.metadata.name.clone().unwrap();
    let _: ServiceAccount = one(&kinds, "ServiceAccount");

    // RBAC: cluster-wide read of ServiceAccounts, namespaced read of ConfigMaps.
    let cr: ClusterRole = one(&kinds, "ClusterRole");
    let rules = cr.rules.unwrap();
    assert!(rules.iter().any(|r| {
        r.resources.as_deref() == Some(&["serviceaccounts".to_string()][..])
            && ["get", "list", "watch"]
                .iter()
                .all(|v| r.verbs.contains(&v.to_string()))
    }));
    assert!(!rules.iter().any(|r| {
        r.verbs
            .iter()
            .any(|v| ["create", "update", "patch", "delete"].contains(&v.as_str()))
    }));
    let _: ClusterRoleBinding = one(&kinds, "ClusterRoleBinding");
    let role: Role = one(&kinds, "Role");
    assert_eq!(role.metadata.namespace.as_deref(), Some(namespace.as_str()));
    assert!(
        role.rules
            .unwrap()
            .iter()
            .any(|r| r.resources.as_deref() == Some(&["configmaps".to_string()][..]))
    );
    let _: RoleBinding = one(&kinds, "RoleBinding");

    // Deployment.
    let dep: Deployment = one(&kinds, "Deployment");
    let spec = dep.spec.unwrap();
    assert_eq!(spec.replicas, Some(2));
    let pod = spec.template.spec.unwrap();
    let pod_labels = spec.template.metadata.unwrap().labels.unwrap();
    assert!(pod_labels.contains_key("eks.amazonaws.com/skip-pod-identity-webhook"));
    assert_eq!(pod.security_context.unwrap().run_as_non_root, Some(true));
    let c = &pod.containers[0];
    let args = c.args.clone().unwrap();
    assert_eq!(args[0], "webhook");
    assert!(args.contains(&format!("--namespace={namespace}")));
    assert!(
        args.iter()
            .any(|a| a == "--tls-cert=/etc/webhook/certs/tls.crt")
    );
    let sc = c.security_context.clone().unwrap();
    assert_eq!(sc.read_only_root_filesystem, Some(true));
    assert_eq!(sc.allow_privilege_escalation, Some(false));
    let readiness = c.readiness_probe.clone().unwrap().http_get.unwrap();
    assert_eq!(readiness.path.as_deref(), Some("/readyz"));
    assert_eq!(readiness.scheme.as_deref(), Some("HTTPS"));
    let liveness = c.liveness_probe.clone().unwrap().http_get.unwrap();
    assert_eq!(liveness.path.as_deref(), Some("/healthz"));
    let resources = c.resources.clone().unwrap();
    assert!(resources.requests.unwrap().contains_key("memory"));
    assert!(resources.limits.unwrap().contains_key("memory"));
    let cert_volume = pod
        .volumes
        .unwrap()
        .into_iter()
        .find(|v| v.secret.is_some())
        .unwrap();
    let secret_name = cert_volume.secret.unwrap().secret_name.unwrap();
    assert!(
        c.volume_mounts
            .clone()
            .unwrap()
            .iter()
            .any(|m| m.name == cert_volume.name
                && m.mount_path == "/etc/webhook/certs"
                && m.read_only == Some(true))
    );

    let pdb: PodDisruptionBudget = one(&kinds, "PodDisruptionBudget");
    assert!(pdb.spec.unwrap().min_available.is_some());
    let svc: Service = one(&kinds, "Service");
    let svc_name = svc.metadata.name.clone().unwrap();
    assert!(
        svc.spec
            .unwrap()
            .ports
            .unwrap()
            .iter()
            .any(|p| p.port == 443)
    );

    // cert-manager: an Issuer chain and a Certificate writing the Secret the pod mounts.
    let certs = kinds.get("Certificate").unwrap();
    let serving = certs
        .iter()
        .find(|c| c["spec"]["secretName"] == secret_name.as_str())
        .unwrap();
    let dns: Vec<&str> = serving["spec"]["dnsNames"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(
        dns.contains(&format!("{svc_name}.{namespace}.svc").as_str()),
        "{dns:?}"
    );
    assert!(kinds.get("Issuer").is_some_and(|i| !i.is_empty()));
    let cert_name = serving["metadata"]["name"].as_str().unwrap();

    // The admission registration.
    let mwc: MutatingWebhookConfiguration = one(&kinds, "MutatingWebhookConfiguration");
    assert_eq!(
        mwc.metadata.annotations.as_ref().unwrap()["cert-manager.io/inject-ca-from"],
        format!("{namespace}/{cert_name}")
    );
    let hooks = mwc.webhooks.unwrap();
    assert_eq!(hooks.len(), 1);
    let w = &hooks[0];
    assert_eq!(w.failure_policy.as_deref(), Some("Ignore"));
    assert_eq!(w.side_effects, "None");
    assert_eq!(
        w.admission_review_versions,
        vec!["v1".to_string(), "v1beta1".to_string()]
    );
    assert_eq!(w.timeout_seconds, Some(5));
    assert_eq!(w.reinvocation_policy.as_deref(), Some("IfNeeded"));
    let service = w.client_config.service.clone().unwrap();
    assert_eq!(service.name, svc_name);
    assert_eq!(service.namespace, namespace);
    assert_eq!(service.path.as_deref(), Some("/mutate"));
    let rules = w.rules.clone().unwrap();
    assert_eq!(
        rules[0].operations.as_deref(),
        Some(&["CREATE".to_string()][..])
    );
    assert_eq!(
        rules[0].resources.as_deref(),
        Some(&["pods".to_string()][..])
    );
    let exprs = w
        .object_selector
        .clone()
        .unwrap()
        .match_expressions
        .unwrap();
    assert!(
        exprs
            .iter()
            .any(|e| e.key == "eks.amazonaws.com/skip-pod-identity-webhook"
                && e.operator == "DoesNotExist")
    );
    // The webhook's own pods are excluded twice over: by the skip label and by name.
    assert!(exprs.iter().any(|e| {
        e.operator == "NotIn"
            && e.values
                .as_ref()
                .is_some_and(|v| v.iter().any(|x| pod_labels.get(&e.key) == Some(x)))
    }));
}

/// The images of every container of every Deployment rendered.
fn images(docs: &[Value]) -> Vec<String> {
    let kinds = by_kind(docs);
    kinds["Deployment"]
        .iter()
        .flat_map(|d| {
            d["spec"]["template"]["spec"]["containers"]
                .as_array()
                .unwrap()
        })
        .map(|c| c["image"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn the_image_is_named_once_and_pinned_to_the_crate_version() {
    let version = env!("CARGO_PKG_VERSION");
    assert_eq!(images(&render()), [format!("irsa:{version}")]);

    // One place: the deploy/image component; the bases name the bare image and include it.
    let component: Value = serde_saphyr::from_str(
        &std::fs::read_to_string(deploy_dir().join("image/kustomization.yaml")).unwrap(),
    )
    .unwrap();
    assert_eq!(component["kind"], "Component");
    assert_eq!(component["images"][0]["name"], "irsa");
    assert_eq!(component["images"][0]["newTag"], version);
    for base in ["webhook", "operator"] {
        let dir = deploy_dir().join(base);
        let kustomization = std::fs::read_to_string(dir.join("kustomization.yaml")).unwrap();
        assert!(!kustomization.contains("newTag"), "{base} sets its own tag");
        let k: Value = serde_saphyr::from_str(&kustomization).unwrap();
        assert_eq!(k["components"][0], "../image", "{base}");
        let deployment = std::fs::read_to_string(dir.join("deployment.yaml")).unwrap();
        assert!(
            deployment.contains("image: irsa\n"),
            "{base}: untagged image"
        );
    }
}

#[test]
fn an_overlay_points_the_image_at_its_registry() {
    let overlay = tempfile::tempdir().unwrap();
    // kustomize loads bases by relative path only.
    let base = deploy_dir().join("webhook").canonicalize().unwrap();
    let from = overlay.path().canonicalize().unwrap();
    let base = format!(
        "{}{}",
        "../".repeat(from.components().count() - 1),
        base.strip_prefix("/").unwrap().display()
    );
    std::fs::write(
        overlay.path().join("kustomization.yaml"),
        format!(
            "resources:\n  - {base}\nimages:\n  - name: irsa\n    newName: registry.example.com/platform/irsa\n    newTag: \"9.9.9\"\n"
        ),
    )
    .unwrap();
    assert_eq!(
        images(&render_dir(overlay.path())),
        ["registry.example.com/platform/irsa:9.9.9"]
    );
}
