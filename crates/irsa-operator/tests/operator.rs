//! The operator against a fake Kubernetes API (HTTP level) and a real moto server.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;

use common::*;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn opted_in_cluster_is_provisioned_and_unannotated_one_untouched() {
    logging();
    let api = FakeApi::start().await;
    let engine = Arc::new(interim::MemEngine::default());
    create(&api, GS_CLUSTERS, &gs_cluster("abc12", "eu-west-1", true)).await;
    create(&api, GS_CLUSTERS, &gs_cluster("plain", "eu-west-1", false)).await;
    let replica = start(&api, engine.clone(), test_config("op-1"));

    let cm = eventually("ConfigMap abc12-irsa", || async {
        api.object(CONFIG_MAPS, NS, "abc12-irsa")
    })
    .await;
    let cluster = api.object(GS_CLUSTERS, NS, "abc12").unwrap();
    assert_eq!(finalizers(&cluster), ["irsa.io/cleanup"]);
    let issuer = cm["data"]["issuer"].as_str().unwrap();
    assert_eq!(cluster["metadata"]["annotations"]["irsa.io/issuer"], issuer);
    for key in [
        "issuer",
        "provider-arn",
        "bucket",
        "service-account-issuer",
        "apiserver-flags",
        "keys-hash",
    ] {
        assert!(cm["data"][key].is_string(), "ConfigMap lacks {key}");
    }
    assert_eq!(
        cm["metadata"]["ownerReferences"][0]["uid"],
        cluster["metadata"]["uid"]
    );

    let secret = api.object(SECRETS, NS, "abc12-irsa-signing-key").unwrap();
    assert_eq!(secret["type"], "Opaque");
    assert_eq!(
        secret["metadata"]["ownerReferences"][0]["uid"],
        cluster["metadata"]["uid"]
    );
    assert!(
        secret_data(&secret, "sa.key")
            .unwrap()
            .starts_with("-----BEGIN PRIVATE KEY-----")
    );
    assert!(
        secret_data(&secret, "sa.pub")
            .unwrap()
            .starts_with("-----BEGIN PUBLIC KEY-----")
    );
    eventually("events", || async {
        (!events(&api, "abc12", "Provisioned").is_empty()
            && !events(&api, "abc12", "MastersMustRoll").is_empty())
        .then_some(())
    })
    .await;

    // The unannotated cluster: no finalizer, no objects, never written to.
    let plain = api.object(GS_CLUSTERS, NS, "plain").unwrap();
    assert!(finalizers(&plain).is_empty());
    assert!(api.object(CONFIG_MAPS, NS, "plain-irsa").is_none());
    assert!(api.object(SECRETS, NS, "plain-irsa-signing-key").is_none());
    assert!(
        !api.requests()
            .iter()
            .any(|r| r.is_mutation() && r.path.ends_with("/plain"))
    );
    assert!(engine.clusters.lock().unwrap().contains("abc12"));
    assert!(!engine.clusters.lock().unwrap().contains("plain"));

    // Delete: AWS first, then the finalizer; the object goes and its Secret with it.
    delete(&api, GS_CLUSTERS, "abc12").await;
    eventually("AWSCluster abc12 gone", || async {
        api.object(GS_CLUSTERS, NS, "abc12").is_none().then_some(())
    })
    .await;
    assert!(!engine.clusters.lock().unwrap().contains("abc12"));
    assert!(!events(&api, "abc12", "Deprovisioned").is_empty());
    assert!(api.object(SECRETS, NS, "abc12-irsa-signing-key").is_none());
    replica.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn removing_the_annotation_deprovisions_and_keeps_the_key() {
    logging();
    let api = FakeApi::start().await;
    let engine = Arc::new(interim::MemEngine::default());
    create(&api, GS_CLUSTERS, &gs_cluster("optout", "eu-west-1", true)).await;
    let replica = start(&api, engine.clone(), test_config("op-1"));
    eventually("ConfigMap", || async {
        api.object(CONFIG_MAPS, NS, "optout-irsa")
    })
    .await;
    merge_patch(
        &api,
        GS_CLUSTERS,
        "optout",
        &json!({"metadata": {"annotations": {irsa_operator::OPT_IN_ANNOTATION: null}}}),
    )
    .await;
    eventually("finalizer removed", || async {
        let c = api.object(GS_CLUSTERS, NS, "optout")?;
        finalizers(&c).is_empty().then_some(())
    })
    .await;
    let c = api.object(GS_CLUSTERS, NS, "optout").unwrap();
    assert!(c["metadata"]["annotations"]["irsa.io/issuer"].is_null());
    assert!(api.object(CONFIG_MAPS, NS, "optout-irsa").is_none());
    assert!(api.object(SECRETS, NS, "optout-irsa-signing-key").is_some());
    assert!(!engine.clusters.lock().unwrap().contains("optout"));
    replica.stop().await;
}
