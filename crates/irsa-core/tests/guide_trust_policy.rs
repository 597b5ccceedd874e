//! The guide's two trust-policy templates (fixtures, placeholders as in the guide) against
//! what irsa-core generates, through the public API other crates use.

#![allow(
    clippy::unwrap_used,
    reason = "test code: a panic is the failure report"
)]

use irsa_core::aws::{AccountId, OidcProviderArn, Region};
use irsa_core::issuer::{ClusterId, ClusterIssuer, SUB};
use irsa_core::k8s::SubjectPattern;
use irsa_core::trust_policy::TrustPolicyRequest;
use serde_json::{Value, json};

fn fixture(name: &str, replacements: &[(&str, &str)]) -> Value {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    let mut text = std::fs::read_to_string(&path).unwrap();
    for (placeholder, value) in replacements {
        text = text.replace(placeholder, value);
    }
    serde_json::from_str(&text).unwrap()
}

fn generate(cluster_account: &str, region: &str, role_account: &str) -> (ClusterIssuer, Value) {
    let issuer = ClusterIssuer::s3(
        &AccountId::parse(cluster_account).unwrap(),
        &Region::parse(region).unwrap(),
        &ClusterId::parse("abc12").unwrap(),
    );
    let policy = TrustPolicyRequest::new(
        issuer.clone(),
        AccountId::parse(role_account).unwrap(),
        vec![SubjectPattern::new("default", "s3-access").unwrap()],
    )
    .build()
    .unwrap();
    (
        issuer,
        serde_json::from_str(policy.to_json_pretty()).unwrap(),
    )
}

#[test]
fn same_account_policy_is_the_guide_template_plus_aud() {
    let (issuer, generated) = generate("123456789012", "eu-west-1", "123456789012");
    let mut expected = fixture(
        "guide-iam-role.json",
        &[
            ("AWS_ACCOUNT", "123456789012"),
            ("REGION", "eu-west-1"),
            ("CLUSTER_ID", "abc12"),
            ("NAMESPACE", "default"),
            ("SA_NAME", "s3-access"),
        ],
    );
    expected["Statement"][0]["Condition"]["StringEquals"][issuer.condition_key("aud")] =
        json!("sts.amazonaws.com");
    assert_eq!(generated, expected);
}

#[test]
fn cross_account_policy_fixes_the_guides_role_region_and_adds_sub() {
    // The role lives in another account. irsa's policy is the guide's template with
    // ROLE_REGION replaced by the cluster's region (the provider URL must equal the token's
    // issuer, which carries the cluster's region), plus the :sub condition.
    let (issuer, generated) = generate("123456789012", "eu-central-1", "210987654321");
    let mut expected = fixture(
        "guide-iam-role-cross-account.json",
        &[
            ("ROLE_AWSACCOUNT", "210987654321"),
            ("CLUSTER_AWS_ACCOUNT", "123456789012"),
            ("ROLE_REGION", "eu-central-1"),
            ("CLUSTER_REGION", "eu-central-1"),
            ("CLUSTER_ID", "abc12"),
        ],
    );
    expected["Statement"][0]["Condition"]["StringEquals"][issuer.condition_key(SUB)] =
        json!("system:serviceaccount:default:s3-access");
    assert_eq!(generated, expected);

    // With the guide's template taken literally (ROLE_REGION = the role's region), the
    // provider ARN and the condition keys would name different issuers.
    let literal = fixture(
        "guide-iam-role-cross-account.json",
        &[
            ("ROLE_AWSACCOUNT", "210987654321"),
            ("CLUSTER_AWS_ACCOUNT", "123456789012"),
            ("ROLE_REGION", "us-east-1"),
            ("CLUSTER_REGION", "eu-central-1"),
            ("CLUSTER_ID", "abc12"),
        ],
    );
    let literal_arn = OidcProviderArn::parse(
        literal["Statement"][0]["Principal"]["Federated"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    assert_ne!(literal_arn.host_path(), issuer.host_path());
    let arn = OidcProviderArn::parse(
        generated["Statement"][0]["Principal"]["Federated"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(arn.host_path(), issuer.host_path());
    assert_eq!(arn.account().as_str(), "210987654321");
}
