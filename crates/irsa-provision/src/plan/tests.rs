use irsa_core::aws::{AccountId, Region};
use irsa_core::issuer::ClusterId;
use irsa_jose::PublicKey;
use irsa_jose::keys::{KeySpec, PrivateKey, RsaBits};

use super::*;
use crate::spec::{DISCOVERY_KEY, JWKS_KEY, Options};

const THUMB: &str = "9e99a48a9960b14926bb7f3b02e22da2b0ab7280";

fn public_key() -> PublicKey {
    PrivateKey::generate(KeySpec::Rsa(RsaBits::B2048))
        .and_then(|k| k.public_key())
        .expect("key")
}

fn spec_in(region: &str) -> ClusterSpec {
    ClusterSpec::new(
        AccountId::parse("123456789012").unwrap(),
        Region::parse(region).unwrap(),
        ClusterId::parse("abc12").unwrap(),
        None,
    )
    .unwrap()
}

fn desired_with(options: &Options, keys: &[PublicKey]) -> Desired {
    Desired::new(spec_in("eu-west-1"), options, keys).unwrap()
}

fn options() -> Options {
    Options {
        client_ids: vec!["extra-audience".into()],
        thumbprints: vec![THUMB.into()],
        tags: vec![Tag::new("team", "platform")],
    }
}

/// What AWS holds after `desired` was applied.
fn converged(desired: &Desired) -> Observed {
    Observed {
        bucket: ObservedBucket::Present(BucketState {
            tags: desired.bucket_tags.iter().rev().cloned().collect(),
            ownership: Some(OBJECT_OWNERSHIP.into()),
            public_access_block: Some(PUBLIC_ACCESS_BLOCK),
            encryption: Some(SSE_ALGORITHM.into()),
            objects: desired
                .objects
                .iter()
                .map(|o| {
                    (
                        o.key.to_owned(),
                        format!("\"{}\"", o.md5_hex.to_uppercase()),
                    )
                })
                .collect(),
        }),
        provider: Some(ObservedProvider {
            client_ids: desired.provider.client_ids.iter().rev().cloned().collect(),
            thumbprints: desired
                .provider
                .thumbprints
                .iter()
                .map(|t| t.to_uppercase())
                .collect(),
            tags: desired.provider.tags.clone(),
        }),
    }
}

fn names(plan: &Plan) -> Vec<&'static str> {
    plan.actions().map(Action::name).collect()
}

fn state(observed: &mut Observed) -> &mut BucketState {
    match &mut observed.bucket {
        ObservedBucket::Present(s) => s,
        _ => unreachable!("test builds a present bucket"),
    }
}

#[test]
fn nothing_exists_so_everything_is_created_in_order() {
    let d = desired_with(&options(), &[public_key()]);
    let plan = plan_provision(
        &d,
        &Observed {
            bucket: ObservedBucket::Absent,
            provider: None,
        },
    );
    assert_eq!(
        names(&plan),
        vec![
            "CreateBucket",
            "PutBucketTagging",
            "PutBucketOwnershipControls",
            "PutPublicAccessBlock",
            "PutBucketEncryption",
            "PutObject",
            "PutObject",
            "CreateOpenIDConnectProvider",
        ]
    );
    let Some(Action::CreateBucket {
        location_constraint,
        existing,
        ..
    }) = plan.actions().next()
    else {
        panic!("first action")
    };
    assert_eq!(location_constraint.as_deref(), Some("eu-west-1"));
    assert!(!existing);
    // keys.json first, so the discovery document never points at a missing JWKS.
    let keys: Vec<&str> = plan
        .actions()
        .filter_map(|a| match a {
            Action::PutObject {
                key,
                content_type,
                acl,
                ..
            } => {
                assert_eq!(*content_type, "application/json");
                assert_eq!(*acl, "public-read");
                Some(*key)
            }
            _ => None,
        })
        .collect();
    assert_eq!(keys, vec![JWKS_KEY, DISCOVERY_KEY]);
    let Some(Action::CreateOpenIdConnectProvider {
        arn,
        url,
        client_ids,
        thumbprints,
        tags,
    }) = plan.actions().last()
    else {
        panic!("last action")
    };
    assert_eq!(arn, &d.spec.provider_arn().to_string());
    assert_eq!(url, d.spec.issuer().url());
    assert_eq!(
        client_ids,
        &vec!["sts.amazonaws.com".to_owned(), "extra-audience".to_owned()]
    );
    assert_eq!(thumbprints, &vec![THUMB.to_owned()]);
    let tag_keys: Vec<&str> = tags.iter().map(|t| t.key.as_str()).collect();
    assert_eq!(
        tag_keys,
        vec!["irsa.io/cluster", "kubernetes.io/cluster/abc12", "team"]
    );
    let lines: Vec<String> = plan.steps.iter().map(StepPlan::progress_line).collect();
    assert_eq!(
        lines[0],
        "bucket 123456789012-g8s-abc12-oidc-pod-identity created"
    );
    assert!(
        lines[1].starts_with(
            "keys.json s3://123456789012-g8s-abc12-oidc-pod-identity/keys.json uploaded"
        )
    );
}

#[test]
fn us_east_1_has_no_location_constraint() {
    let d = Desired::new(spec_in("us-east-1"), &options(), &[public_key()]).unwrap();
    let plan = plan_provision(
        &d,
        &Observed {
            bucket: ObservedBucket::Absent,
            provider: None,
        },
    );
    assert!(matches!(
        plan.actions().next(),
        Some(Action::CreateBucket {
            location_constraint: None,
            ..
        })
    ));
}

#[test]
fn a_converged_cluster_plans_no_call() {
    let d = desired_with(&options(), &[public_key()]);
    let plan = plan_provision(&d, &converged(&d));
    assert!(plan.is_converged(), "{:?}", names(&plan));
    assert!(plan.steps.iter().all(|s| s.outcome == Outcome::UpToDate));
    assert_eq!(plan.steps.len(), 4);
}

#[test]
fn every_bucket_setting_is_corrected_alone() {
    let d = desired_with(&options(), &[public_key()]);
    type Drift = fn(&mut BucketState);
    let cases: Vec<(Drift, &str)> = vec![
        (|s| s.tags.retain(|t| t.key != "team"), "PutBucketTagging"),
        (
            |s| s.tags.iter_mut().for_each(|t| t.value.push('x')),
            "PutBucketTagging",
        ),
        (
            |s| s.ownership = Some("BucketOwnerEnforced".into()),
            "PutBucketOwnershipControls",
        ),
        (|s| s.ownership = None, "PutBucketOwnershipControls"),
        (
            |s| {
                s.public_access_block = Some(PublicAccessBlock {
                    block_public_acls: true,
                    ..PUBLIC_ACCESS_BLOCK
                })
            },
            "PutPublicAccessBlock",
        ),
        (
            |s| s.encryption = Some("aws:kms".into()),
            "PutBucketEncryption",
        ),
        (|s| s.encryption = None, "PutBucketEncryption"),
    ];
    for (drift, expected) in cases {
        let mut o = converged(&d);
        // Keep the ownership tag for this test (losing it is a claim, tested below).
        drift(state(&mut o));
        if !d.spec.is_ours(&state(&mut o).tags) {
            state(&mut o).tags.push(d.spec.ownership_tag());
            state(&mut o)
                .tags
                .retain(|t| t.key != "irsa.io/cluster" || t.value == "abc12");
        }
        let plan = plan_provision(&d, &o);
        assert_eq!(names(&plan), vec![expected], "{expected}");
        assert_eq!(plan.steps[0].outcome, Outcome::Updated);
    }
}

#[test]
fn an_existing_bucket_without_our_tag_is_claimed_first() {
    let d = desired_with(&options(), &[public_key()]);
    let mut o = converged(&d);
    state(&mut o).tags.clear();
    let plan = plan_provision(&d, &o);
    assert_eq!(names(&plan), vec!["CreateBucket", "PutBucketTagging"]);
    assert!(matches!(
        plan.actions().next(),
        Some(Action::CreateBucket { existing: true, .. })
    ));
    let o = Observed {
        bucket: ObservedBucket::Unreadable {
            code: "AccessDenied".into(),
        },
        provider: None,
    };
    let plan = plan_provision(&d, &o);
    assert!(matches!(
        plan.actions().next(),
        Some(Action::CreateBucket { existing: true, .. })
    ));
    assert!(plan.steps[0].progress_line().contains("AccessDenied"));
}

#[test]
fn ownership_comes_from_create_buckets_answer() {
    assert_eq!(bucket_claim(None), Some(BucketClaim::Created));
    assert_eq!(
        bucket_claim(Some("BucketAlreadyOwnedByYou")),
        Some(BucketClaim::OwnedByUs)
    );
    assert_eq!(
        bucket_claim(Some("BucketAlreadyExists")),
        Some(BucketClaim::OwnedByAnotherAccount)
    );
    assert_eq!(bucket_claim(Some("AccessDenied")), None);
}

#[test]
fn objects_are_uploaded_only_when_their_bytes_differ() {
    let d = desired_with(&options(), &[public_key()]);
    let mut o = converged(&d);
    state(&mut o).objects.insert(
        JWKS_KEY.into(),
        "\"0123456789abcdef0123456789abcdef\"".into(),
    );
    let plan = plan_provision(&d, &o);
    assert_eq!(names(&plan), vec!["PutObject"]);
    let step = plan
        .steps
        .iter()
        .find(|s| s.step == Step::Object(JWKS_KEY))
        .unwrap();
    assert_eq!(step.detail.as_deref(), Some("content differs"));
    let Action::PutObject { body, md5, .. } = &step.actions[0] else {
        panic!()
    };
    assert_eq!(body, &d.objects[0].body);
    assert_eq!(md5, &d.objects[0].md5_hex);
    state(&mut o).objects.remove(DISCOVERY_KEY);
    assert_eq!(
        names(&plan_provision(&d, &o)),
        vec!["PutObject", "PutObject"]
    );
}

#[test]
fn published_bytes_are_irsa_joses_documents() {
    let keys = [public_key(), public_key()];
    let d = desired_with(&options(), &keys);
    let jwks: serde_json::Value = serde_json::from_slice(&d.objects[0].body).unwrap();
    let kids: Vec<&str> = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap())
        .collect();
    assert_eq!(kids, vec![keys[0].kid(), keys[1].kid()]);
    assert_eq!(d.kids, kids);
    let discovery: serde_json::Value = serde_json::from_slice(&d.objects[1].body).unwrap();
    assert_eq!(discovery["issuer"], d.spec.issuer().url());
    assert_eq!(
        discovery["jwks_uri"],
        format!("{}/keys.json", d.spec.issuer().url())
    );
    assert_eq!(
        d.objects[1].body,
        irsa_jose::DiscoveryDocument::new(d.spec.issuer().url(), &keys).to_document_bytes()
    );
    // A rotation changes keys.json but not the discovery document (same algorithms).
    let rotated = desired_with(&options(), &keys[..1]);
    assert_ne!(rotated.objects[0].md5_hex, d.objects[0].md5_hex);
    assert_eq!(rotated.objects[1].md5_hex, d.objects[1].md5_hex);
}

#[test]
fn provider_drift_is_corrected_call_by_call() {
    let d = desired_with(&options(), &[public_key()]);
    let arn = d.spec.provider_arn().to_string();
    let mut o = converged(&d);
    let p = o.provider.as_mut().unwrap();
    p.client_ids = vec!["sts.amazonaws.com".into(), "stranger".into()];
    p.thumbprints = vec!["0000000000000000000000000000000000000000".into()];
    p.tags = vec![
        Tag::new("irsa.io/cluster", "abc12"),
        Tag::new("kubernetes.io/cluster/abc12", "shared"),
        Tag::new("added-by-hand", "x"),
    ];
    let plan = plan_provision(&d, &o);
    assert_eq!(
        plan.actions().cloned().collect::<Vec<_>>(),
        vec![
            Action::AddClientIdToOpenIdConnectProvider {
                arn: arn.clone(),
                client_id: "extra-audience".into()
            },
            Action::RemoveClientIdFromOpenIdConnectProvider {
                arn: arn.clone(),
                client_id: "stranger".into()
            },
            Action::UpdateOpenIdConnectProviderThumbprint {
                arn: arn.clone(),
                thumbprints: vec![THUMB.into()]
            },
            Action::TagOpenIdConnectProvider {
                arn: arn.clone(),
                tags: vec![
                    Tag::new("kubernetes.io/cluster/abc12", "owned"),
                    Tag::new("team", "platform")
                ],
            },
            Action::UntagOpenIdConnectProvider {
                arn,
                keys: vec!["added-by-hand".into()]
            },
        ]
    );
    assert_eq!(
        plan.steps[3].detail.as_deref(),
        Some("client IDs, thumbprints, tags")
    );
}

#[test]
fn unmanaged_thumbprints_are_left_alone() {
    let d = desired_with(&Options::default(), &[public_key()]);
    let mut o = converged(&d);
    o.provider.as_mut().unwrap().thumbprints = vec![THUMB.into()];
    assert!(plan_provision(&d, &o).is_converged());
}

#[test]
fn deprovision_removes_ours_in_reverse_order() {
    let d = desired_with(&options(), &[public_key()]);
    let keys = [JWKS_KEY, DISCOVERY_KEY];
    let plan = plan_deprovision(&d.spec, &keys, &converged(&d));
    assert_eq!(
        names(&plan),
        vec![
            "DeleteOpenIDConnectProvider",
            "DeleteObject",
            "DeleteObject",
            "DeleteBucket"
        ]
    );
    // Idempotent: nothing left, nothing to do, nothing is an error.
    let gone = Observed {
        bucket: ObservedBucket::Absent,
        provider: None,
    };
    let plan = plan_deprovision(&d.spec, &keys, &gone);
    assert!(plan.is_converged());
    assert!(plan.steps.iter().all(|s| s.outcome == Outcome::Absent));
    // Half-removed: only the bucket is left.
    let mut half = converged(&d);
    half.provider = None;
    state(&mut half).objects.clear();
    assert_eq!(
        names(&plan_deprovision(&d.spec, &keys, &half)),
        vec!["DeleteBucket"]
    );
}

#[test]
fn deprovision_keeps_what_is_not_ours() {
    let d = desired_with(&options(), &[public_key()]);
    let keys = [JWKS_KEY, DISCOVERY_KEY];
    let mut o = converged(&d);
    state(&mut o).tags = vec![Tag::new("irsa.io/cluster", "other")];
    o.provider.as_mut().unwrap().tags.clear();
    let plan = plan_deprovision(&d.spec, &keys, &o);
    assert!(plan.is_converged());
    assert!(plan.steps.iter().all(|s| s.outcome == Outcome::Kept));
    assert!(
        plan.steps[0]
            .progress_line()
            .contains("not tagged irsa.io/cluster=abc12")
    );
    // Our bucket holding someone's other object: our objects go, the bucket stays.
    let mut o = converged(&d);
    state(&mut o)
        .objects
        .insert("backup.tar".into(), "\"x\"".into());
    let plan = plan_deprovision(&d.spec, &keys, &o);
    assert_eq!(
        names(&plan),
        vec![
            "DeleteOpenIDConnectProvider",
            "DeleteObject",
            "DeleteObject"
        ]
    );
    assert_eq!(plan.steps[3].outcome, Outcome::Kept);
    assert!(
        plan.steps[3]
            .detail
            .as_deref()
            .unwrap()
            .contains("backup.tar")
    );
}

#[test]
fn actions_name_their_service_and_serialize_without_bodies() {
    let d = desired_with(&options(), &[public_key()]);
    let plan = plan_provision(
        &d,
        &Observed {
            bucket: ObservedBucket::Absent,
            provider: None,
        },
    );
    let services: Vec<Service> = plan.actions().map(Action::service).collect();
    assert_eq!(services.iter().filter(|s| **s == Service::S3).count(), 7);
    assert_eq!(services.last(), Some(&Service::Iam));
    let json = serde_json::to_value(&plan).unwrap();
    let put = &json["steps"][1]["actions"][0];
    assert_eq!(put["action"], "PutObject");
    assert!(put.get("body").is_none());
    assert_eq!(
        json["steps"][3]["actions"][0]["action"],
        "CreateOpenIDConnectProvider"
    );
    for a in plan.actions() {
        assert!(!a.describe().is_empty());
    }
}

#[test]
fn china_provider_gets_the_china_audience() {
    let d = Desired::new(spec_in("cn-north-1"), &Options::default(), &[public_key()]).unwrap();
    let plan = plan_provision(
        &d,
        &Observed {
            bucket: ObservedBucket::Absent,
            provider: None,
        },
    );
    let Some(Action::CreateOpenIdConnectProvider {
        url, client_ids, ..
    }) = plan.actions().last()
    else {
        panic!()
    };
    assert!(url.starts_with("https://s3.cn-north-1.amazonaws.com.cn/"));
    assert_eq!(client_ids, &vec!["sts.amazonaws.com.cn".to_owned()]);
    assert!(
        plan.steps[3]
            .subject
            .starts_with("arn:aws-cn:iam::123456789012:oidc-provider/")
    );
}

#[test]
fn options_are_validated() {
    let spec = spec_in("eu-west-1");
    let bad_tag = Options {
        tags: vec![Tag::new("irsa.io/cluster", "x")],
        ..Options::default()
    };
    assert_eq!(
        Desired::new(spec.clone(), &bad_tag, &[public_key()])
            .unwrap_err()
            .input,
        "--tag"
    );
    let dup = Options {
        tags: vec![Tag::new("a", "1"), Tag::new("a", "2")],
        ..Options::default()
    };
    assert!(Desired::new(spec.clone(), &dup, &[public_key()]).is_err());
    let thumbs = Options {
        thumbprints: vec!["zz".into()],
        ..Options::default()
    };
    assert_eq!(
        Desired::new(spec.clone(), &thumbs, &[public_key()])
            .unwrap_err()
            .input,
        "--thumbprint"
    );
    let ids = Options {
        client_ids: vec!["has space".into()],
        ..Options::default()
    };
    assert_eq!(
        Desired::new(spec.clone(), &ids, &[public_key()])
            .unwrap_err()
            .input,
        "--client-id"
    );
    assert!(Desired::new(spec, &Options::default(), &[]).is_err());
}
