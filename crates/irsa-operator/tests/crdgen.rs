//! crdgen: `deploy/operator/crd.yaml` is generated from the Rust types of the Giant Swarm
//! `AWSCluster` subset, never written by hand. This test fails when the file and the types
//! disagree; `IRSA_WRITE_CRD=1 cargo nextest run -p irsa-operator --test crdgen` rewrites it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;

use irsa_operator::crd::GsAwsCluster;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::CustomResourceExt as _;

const HEADER: &str = "# Generated from irsa_operator::crd::GsAwsCluster by crates/irsa-operator/tests/crdgen.rs;\n# do not edit (IRSA_WRITE_CRD=1 cargo nextest run -p irsa-operator --test crdgen).\n";

fn generated() -> String {
    let crd = GsAwsCluster::crd();
    format!("{HEADER}{}", serde_saphyr::to_string(&crd).unwrap())
}

#[test]
fn deployed_crd_is_the_generated_one() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../deploy/operator/crd.yaml");
    let text = generated();
    if std::env::var_os("IRSA_WRITE_CRD").is_some() {
        std::fs::write(&path, &text).unwrap();
    }
    let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        on_disk == text,
        "{} is stale; regenerate it with IRSA_WRITE_CRD=1 cargo nextest run -p irsa-operator --test crdgen",
        path.display()
    );
    // And it is a CRD the API server accepts in shape.
    let crd: CustomResourceDefinition = serde_saphyr::from_str(&on_disk).unwrap();
    assert_eq!(
        crd.metadata.name.as_deref(),
        Some("awsclusters.infrastructure.giantswarm.io")
    );
    assert_eq!(crd.spec.scope, "Namespaced");
    let version = &crd.spec.versions[0];
    assert_eq!(version.name, "v1alpha3");
    let schema = version
        .schema
        .as_ref()
        .unwrap()
        .open_api_v3_schema
        .as_ref()
        .unwrap();
    let spec = &schema.properties.as_ref().unwrap()["spec"];
    let provider = &spec.properties.as_ref().unwrap()["provider"];
    assert!(
        provider
            .required
            .as_ref()
            .unwrap()
            .contains(&"region".to_string())
    );
    assert_eq!(spec.x_kubernetes_preserve_unknown_fields, Some(true));
}
