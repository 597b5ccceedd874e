//! The operator against a fake Kubernetes API (HTTP level) and a real moto server, with the
//! real provisioning engine (irsa-aws): what a cluster owner sees in Kubernetes and what
//! exists in AWS afterwards, read back with an independent SDK client.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn opted_in_cluster_is_provisioned_unannotated_untouched_and_deletion_cleans_up() {
    logging();
    let moto = Moto::start().await;
    let aws = AwsView::new(&moto, "eu-west-1").await;
    let api = FakeApi::start().await;
    create(&api, GS_CLUSTERS, &gs_cluster("abc12", "eu-west-1", true)).await;
    create(&api, GS_CLUSTERS, &gs_cluster("plain", "eu-west-1", false)).await;
    let replica = start(&api, engine(&moto), test_config("op-1"));

    let cm = eventually("ConfigMap abc12-irsa", || async {
        api.object(CONFIG_MAPS, NS, "abc12-irsa")
    })
    .await;
    let cluster = api.object(GS_CLUSTERS, NS, "abc12").unwrap();
    assert_eq!(finalizers(&cluster), ["irsa.io/cleanup"]);
    assert!(replica.health.is_ready(), "ready once the cache synced");
    let issuer = format!("https://s3.eu-west-1.amazonaws.com/{}", bucket("abc12"));
    let provider_arn = format!(
        "arn:aws:iam::{ACCOUNT}:oidc-provider/s3.eu-west-1.amazonaws.com/{}",
        bucket("abc12")
    );
    assert_eq!(cm["data"]["issuer"], issuer.as_str());
    assert_eq!(cm["data"]["service-account-issuer"], issuer.as_str());
    assert_eq!(cm["data"]["provider-arn"], provider_arn.as_str());
    assert_eq!(cm["data"]["bucket"], bucket("abc12").as_str());
    let flags = cm["data"]["apiserver-flags"].as_str().unwrap();
    assert!(
        flags.contains(&format!("--service-account-issuer={issuer}\n")),
        "{flags}"
    );
    assert!(flags.contains("--service-account-key-file=/etc/kubernetes/pki/irsa/sa.pub"));
    assert_eq!(
        cm["metadata"]["ownerReferences"][0]["uid"],
        cluster["metadata"]["uid"]
    );
    eventually("irsa.io/issuer annotation", || async {
        let c = api.object(GS_CLUSTERS, NS, "abc12")?;
        (c["metadata"]["annotations"]["irsa.io/issuer"] == issuer.as_str()).then_some(())
    })
    .await;

    // The key Secret, and the same key published in keys.json (whose hash is in the ConfigMap).
    let secret = api.object(SECRETS, NS, "abc12-irsa-signing-key").unwrap();
    assert_eq!(secret["type"], "Opaque");
    assert_eq!(
        secret["metadata"]["ownerReferences"][0]["uid"],
        cluster["metadata"]["uid"]
    );
    let private = secret_data(&secret, "sa.key").unwrap();
    assert!(private.starts_with("-----BEGIN PRIVATE KEY-----"));
    let public = secret_data(&secret, "sa.pub").unwrap();
    assert!(public.starts_with("-----BEGIN PUBLIC KEY-----"));
    assert_eq!(aws.kids(&bucket("abc12")).await, [kid_of_pem(&public)]);
    let out = aws
        .s3
        .get_object()
        .bucket(bucket("abc12"))
        .key("keys.json")
        .send()
        .await
        .unwrap();
    let body = out.body.collect().await.unwrap().into_bytes();
    assert_eq!(
        cm["data"]["keys-hash"],
        irsa_operator::outputs::sha256_hex(&body).as_str()
    );
    assert!(aws.provider_exists(&provider_arn).await);

    // Events, and no secret anywhere but in the Secret.
    eventually("Provisioned and MastersMustRoll", || async {
        (!events(&api, "abc12", "Provisioned").is_empty()
            && !events(&api, "abc12", "MastersMustRoll").is_empty())
        .then_some(())
    })
    .await;
    let key_body: String = private
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect();
    for e in api.objects(EVENTS) {
        assert!(!e.to_string().contains(&key_body[..40]));
        assert!(!e.to_string().contains("PRIVATE KEY"));
    }
    assert!(!cm.to_string().contains("PRIVATE KEY"));

    // The unannotated cluster: no finalizer, no objects, never written, nothing in AWS.
    let plain = api.object(GS_CLUSTERS, NS, "plain").unwrap();
    assert!(finalizers(&plain).is_empty());
    assert!(api.object(CONFIG_MAPS, NS, "plain-irsa").is_none());
    assert!(api.object(SECRETS, NS, "plain-irsa-signing-key").is_none());
    assert!(
        !api.requests()
            .iter()
            .any(|r| r.is_mutation() && r.path.ends_with("/plain"))
    );
    assert!(!aws.bucket_exists(&bucket("plain")).await);
    assert!(
        replica
            .metrics
            .render()
            .contains("irsa_operator_clusters_managed 1")
    );

    // Deletion: AWS first, then the finalizer; the object goes, and its Secret with it.
    delete(&api, GS_CLUSTERS, "abc12").await;
    eventually("AWSCluster abc12 gone", || async {
        api.object(GS_CLUSTERS, NS, "abc12").is_none().then_some(())
    })
    .await;
    assert!(!aws.bucket_exists(&bucket("abc12")).await);
    assert!(!aws.provider_exists(&provider_arn).await);
    assert!(!events(&api, "abc12", "Deprovisioned").is_empty());
    assert!(api.object(SECRETS, NS, "abc12-irsa-signing-key").is_none());
    assert!(api.object(CONFIG_MAPS, NS, "abc12-irsa").is_none());
    assert!(
        replica
            .metrics
            .render()
            .contains("irsa_operator_clusters_managed 0")
    );
    replica.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn removing_the_annotation_deprovisions_and_keeps_the_key() {
    logging();
    let moto = Moto::start().await;
    let aws = AwsView::new(&moto, "eu-central-1").await;
    let api = FakeApi::start().await;
    create(
        &api,
        GS_CLUSTERS,
        &gs_cluster("optout", "eu-central-1", true),
    )
    .await;
    let replica = start(&api, engine(&moto), test_config("op-1"));
    eventually("issuer annotation", || async {
        let c = api.object(GS_CLUSTERS, NS, "optout")?;
        c["metadata"]["annotations"]["irsa.io/issuer"]
            .as_str()
            .map(str::to_string)
    })
    .await;
    assert!(aws.bucket_exists(&bucket("optout")).await);

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
    assert!(!aws.bucket_exists(&bucket("optout")).await);
    assert!(!events(&api, "optout", "Deprovisioned").is_empty());
    replica.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aws_failure_is_an_event_with_the_code_then_backs_off_and_recovers() {
    logging();
    let moto = Moto::start().await;
    // Another account owns the bucket name the cluster needs.
    let base = sdk_config("eu-west-1", "testing", "testing", None).await;
    let sts = aws_sdk_sts::Client::from_conf(
        aws_sdk_sts::config::Builder::from(&base)
            .endpoint_url(&moto.url)
            .build(),
    );
    let assumed = sts
        .assume_role()
        .role_arn("arn:aws:iam::210987654321:role/other")
        .role_session_name("other")
        .send()
        .await
        .unwrap();
    let c = assumed.credentials.unwrap();
    let other_sdk = sdk_config(
        "eu-west-1",
        &c.access_key_id,
        &c.secret_access_key,
        Some(c.session_token.clone()),
    )
    .await;
    let other = AwsView::with_sdk(&moto, &other_sdk);
    other
        .s3
        .create_bucket()
        .bucket(bucket("taken"))
        .create_bucket_configuration(
            aws_sdk_s3::types::CreateBucketConfiguration::builder()
                .location_constraint(aws_sdk_s3::types::BucketLocationConstraint::EuWest1)
                .build(),
        )
        .send()
        .await
        .unwrap();

    let api = FakeApi::start().await;
    create(&api, GS_CLUSTERS, &gs_cluster("taken", "eu-west-1", true)).await;
    let replica = start(&api, engine(&moto), test_config("op-1"));
    let failed = eventually("ProvisioningFailed event", || async {
        events(&api, "taken", "ProvisioningFailed")
            .into_iter()
            .next()
    })
    .await;
    let note = failed["note"].as_str().unwrap();
    assert!(note.contains("BucketAlreadyExists"), "{note}");
    assert!(note.contains(&bucket("taken")), "{note}");
    assert_eq!(failed["type"], "Warning");
    // Retried with backoff: several failures, the finalizer kept, nothing provisioned.
    eventually("a few retries", || async {
        (replica.reconciles("aws_error") >= 3).then_some(())
    })
    .await;
    let c = api.object(GS_CLUSTERS, NS, "taken").unwrap();
    assert_eq!(finalizers(&c), ["irsa.io/cleanup"]);
    assert!(api.object(CONFIG_MAPS, NS, "taken-irsa").is_none());

    // The other account gives the name up: the next retry provisions.
    other
        .s3
        .delete_bucket()
        .bucket(bucket("taken"))
        .send()
        .await
        .unwrap();
    eventually("ConfigMap after recovery", || async {
        api.object(CONFIG_MAPS, NS, "taken-irsa")
    })
    .await;
    eventually("Provisioned", || async {
        (!events(&api, "taken", "Provisioned").is_empty()).then_some(())
    })
    .await;
    let aws = AwsView::new(&moto, "eu-west-1").await;
    assert!(aws.bucket_exists(&bucket("taken")).await);
    assert!(replica.metrics.render().contains("result=\"error\""));
    replica.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_over_a_converged_cluster_makes_no_mutating_call() {
    logging();
    let moto = Moto::start().await;
    let api = FakeApi::start().await;
    create(&api, GS_CLUSTERS, &gs_cluster("steady", "us-east-1", true)).await;
    let first = start(&api, engine(&moto), test_config("op-1"));
    eventually("converged", || async {
        let c = api.object(GS_CLUSTERS, NS, "steady")?;
        c["metadata"]["annotations"]["irsa.io/issuer"]
            .as_str()
            .map(|_| ())
    })
    .await;
    eventually("a converged resync", || async {
        (first.reconciles("success") >= 2).then_some(())
    })
    .await;
    first.stop().await;

    api.clear_requests();
    let second = start(&api, engine(&moto), test_config("op-2"));
    eventually("two passes of the new replica", || async {
        (second.reconciles("success") >= 2).then_some(())
    })
    .await;
    let calls = mutating_aws_calls(&second);
    assert!(
        calls.is_empty(),
        "mutating AWS calls after restart: {calls:?}"
    );
    assert!(
        second
            .metrics
            .render()
            .contains("irsa_operator_aws_calls_total{service=\"s3\"")
    );
    let writes: Vec<_> = api
        .requests()
        .into_iter()
        .filter(|r| r.is_mutation())
        .collect();
    assert!(
        writes.is_empty(),
        "Kubernetes writes after restart: {writes:?}"
    );
    second.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotation_publishes_both_keys_once_and_a_restart_does_not_rotate_again() {
    logging();
    let moto = Moto::start().await;
    let aws = AwsView::new(&moto, "eu-west-1").await;
    let api = FakeApi::start().await;
    create(&api, GS_CLUSTERS, &gs_cluster("rot", "eu-west-1", true)).await;
    let replica = start(&api, engine(&moto), test_config("op-1"));
    let cm = eventually("ConfigMap", || async {
        api.object(CONFIG_MAPS, NS, "rot-irsa")
    })
    .await;
    let old_pub = secret_data(
        &api.object(SECRETS, NS, "rot-irsa-signing-key").unwrap(),
        "sa.pub",
    )
    .unwrap();

    merge_patch(
        &api,
        GS_CLUSTERS,
        "rot",
        &json!({"metadata": {"annotations": {"irsa.io/rotate-signing-key": "2026-11-30"}}}),
    )
    .await;
    let rotated = eventually("rotated-for recorded", || async {
        let cm = api.object(CONFIG_MAPS, NS, "rot-irsa")?;
        (cm["data"]["rotated-for"] == "2026-11-30").then_some(cm)
    })
    .await;
    assert_ne!(rotated["data"]["keys-hash"], cm["data"]["keys-hash"]);
    let secret = api.object(SECRETS, NS, "rot-irsa-signing-key").unwrap();
    let new_pub = secret_data(&secret, "sa.pub").unwrap();
    assert_ne!(new_pub, old_pub);
    assert_eq!(secret_data(&secret, "previous-1.pub").unwrap(), old_pub);
    assert_eq!(
        aws.kids(&bucket("rot")).await,
        [kid_of_pem(&new_pub), kid_of_pem(&old_pub)]
    );
    let flags = rotated["data"]["apiserver-flags"].as_str().unwrap();
    assert!(flags.contains("--service-account-key-file=/etc/kubernetes/pki/irsa/previous-1.pub"));
    eventually("a second MastersMustRoll", || async {
        let e = events(&api, "rot", "MastersMustRoll");
        let count = e
            .first()
            .map_or(0, |e| e["series"]["count"].as_i64().unwrap_or(1));
        (count >= 2).then_some(())
    })
    .await;
    replica.stop().await;

    let again = start(&api, engine(&moto), test_config("op-2"));
    eventually("passes after restart", || async {
        (again.reconciles("success") >= 2).then_some(())
    })
    .await;
    let secret = api.object(SECRETS, NS, "rot-irsa-signing-key").unwrap();
    assert_eq!(secret_data(&secret, "sa.pub").unwrap(), new_pub);
    assert!(secret_data(&secret, "previous-2.pub").is_none());
    again.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_one_leader_and_the_lease_is_handed_over_on_shutdown() {
    logging();
    let moto = Moto::start().await;
    let api = FakeApi::start().await;
    create(&api, GS_CLUSTERS, &gs_cluster("ha", "eu-west-1", true)).await;
    let mut a = test_config("replica-a");
    a.leader_election = Some(fast_lease("replica-a"));
    let mut b = test_config("replica-b");
    b.leader_election = Some(fast_lease("replica-b"));
    let ra = start(&api, engine(&moto), a);
    let rb = start(&api, engine(&moto), b);
    eventually("ConfigMap", || async {
        api.object(CONFIG_MAPS, NS, "ha-irsa")
    })
    .await;
    eventually("both ready", || async {
        (ra.health.is_ready() && rb.health.is_ready()).then_some(())
    })
    .await;
    let holder =
        api.object(LEASES, "kube-system", "irsa-operator").unwrap()["spec"]["holderIdentity"]
            .as_str()
            .unwrap()
            .to_string();
    let (leader, follower) = if holder == ra.identity {
        (ra, rb)
    } else {
        (rb, ra)
    };
    assert_eq!(holder, leader.identity);
    eventually("leader resyncs", || async {
        (leader.reconciles("success") >= 2).then_some(())
    })
    .await;
    assert_eq!(follower.reconciles("success"), 0);
    for e in api.objects(EVENTS) {
        assert_eq!(e["reportingInstance"], leader.identity.as_str());
    }

    // SIGTERM to the leader: it releases the Lease and the follower takes over and reconciles.
    let follower_id = follower.identity.clone();
    leader.stop().await;
    eventually("follower holds the Lease", || async {
        let lease = api.object(LEASES, "kube-system", "irsa-operator")?;
        (lease["spec"]["holderIdentity"] == follower_id.as_str()).then_some(())
    })
    .await;
    eventually("new leader reconciles", || async {
        (follower.reconciles("success") >= 1).then_some(())
    })
    .await;
    follower.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn capa_cluster_is_published_with_cluster_apis_key() {
    logging();
    let moto = Moto::start().await;
    let aws = AwsView::new(&moto, "eu-west-1").await;
    let api = FakeApi::start().await;
    let key = irsa_jose::PrivateKey::generate(irsa_jose::keys::KeySpec::Rsa(
        irsa_jose::keys::RsaBits::B2048,
    ))
    .unwrap();
    let kid = key.public_key().unwrap().kid().to_string();
    use base64::Engine as _;
    let b64 = |s: String| base64::engine::general_purpose::STANDARD.encode(s);
    create(&api, SECRETS, &json!({
        "apiVersion": "v1", "kind": "Secret",
        "metadata": { "name": "capa1-sa", "namespace": NS },
        "data": { "tls.key": b64(key.to_pkcs8_pem().unwrap()), "tls.crt": b64(key.public_key().unwrap().to_pem()) },
    })).await;
    create(&api, CAPA_CLUSTERS, &json!({
        "apiVersion": "infrastructure.cluster.x-k8s.io/v1beta2", "kind": "AWSCluster",
        "metadata": { "name": "capa1", "namespace": NS, "annotations": { irsa_operator::OPT_IN_ANNOTATION: "" } },
        "spec": { "region": "eu-west-1" },
    })).await;
    let mut config = test_config("op-1");
    config.capa = true;
    let replica = start(&api, engine(&moto), config);
    let cm = eventually("ConfigMap", || async {
        api.object(CONFIG_MAPS, NS, "capa1-irsa")
    })
    .await;
    assert_eq!(aws.kids(&bucket("capa1")).await, [kid]);
    assert!(
        cm["data"]["apiserver-flags"]
            .as_str()
            .unwrap()
            .contains("--service-account-signing-key-file=/etc/kubernetes/pki/sa.key")
    );
    assert!(api.object(SECRETS, NS, "capa1-irsa-signing-key").is_none());
    let c = api.object(CAPA_CLUSTERS, NS, "capa1").unwrap();
    assert_eq!(finalizers(&c), ["irsa.io/cleanup"]);
    replica.stop().await;
}
