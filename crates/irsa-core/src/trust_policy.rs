//! The IAM role trust policy that lets a cluster's service accounts assume a role.
//!
//! The policy is the guide's ("IAM role" section) plus the `:aud` condition the guide's
//! cross-account section adds, so that a token minted for another audience cannot be used:
//!
//! ```json
//! {"Version": "2012-10-17",
//!  "Statement": [{"Effect": "Allow",
//!    "Principal": {"Federated": "arn:PARTITION:iam::ROLE_ACCOUNT:oidc-provider/HOST/PATH"},
//!    "Action": "sts:AssumeRoleWithWebIdentity",
//!    "Condition": {"StringEquals": {"HOST/PATH:aud": "sts.amazonaws.com",
//!                                   "HOST/PATH:sub": "system:serviceaccount:NS:SA"}}}]}
//! ```
//!
//! `HOST/PATH` in the provider ARN and in both condition keys come from the same
//! [`ClusterIssuer`], so they are equal by construction; cross-account changes only the
//! account of the provider ARN (the provider must be registered in the role's account),
//! never the host, which carries the cluster's region because the token's `iss` does.
//!
//! Subjects with `*` or `?` need `StringLike`. When one subject is a pattern, the whole
//! `:sub` condition moves to `StringLike` (one key cannot sit under two operators without
//! both having to match); exact subjects stay exact there, because `StringLike` on a
//! string without wildcards is plain equality. The `:aud` condition stays `StringEquals`.
//!
//! IAM limits a trust policy to 2048 characters, whitespace not counted; a larger one is a
//! [`TrustPolicyError::TooLarge`] here rather than a `LimitExceeded` from IAM later.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::aws::{AccountId, Partition};
use crate::error::{InvalidValue, Rule};
use crate::issuer::{AUD, ClusterIssuer, SUB};
use crate::k8s::SubjectPattern;

/// IAM's default limit for a role trust policy, in characters without whitespace.
pub const IAM_TRUST_POLICY_MAX_CHARS: usize = 2048;

/// The audience of the `aws` partition (the webhook's default token audience); other
/// partitions have their own, see [`Partition::default_audience`].
pub const DEFAULT_AUDIENCE: &str = Partition::Aws.default_audience();

/// The only policy language version with policy variables; AWS's current one.
pub const POLICY_VERSION: &str = "2012-10-17";

/// The action IRSA clients call.
pub const ASSUME_ROLE_WITH_WEB_IDENTITY: &str = "sts:AssumeRoleWithWebIdentity";

/// A token audience (an OIDC client ID): 1 to 255 printable ASCII characters, no spaces.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Audience(String);

impl Audience {
    /// Validates an audience.
    pub fn parse(s: &str) -> Result<Self, InvalidValue> {
        if (1..=255).contains(&s.len()) && s.bytes().all(|b| (0x21..=0x7e).contains(&b)) {
            Ok(Self(s.to_owned()))
        } else {
            Err(InvalidValue::new("audience", s, Rule::Audience))
        }
    }

    /// The audience.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The audience IRSA uses in `partition` ([`Partition::default_audience`]).
    pub fn for_partition(partition: Partition) -> Self {
        Self(partition.default_audience().to_owned())
    }
}

impl Default for Audience {
    /// `sts.amazonaws.com`, the `aws` partition's.
    fn default() -> Self {
        Self::for_partition(Partition::Aws)
    }
}

string_value!(Audience);

/// Why a trust policy could not be generated.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TrustPolicyError {
    /// No service account was given.
    #[error("at least one service account is needed to build a trust policy")]
    NoSubjects,
    /// The policy is over IAM's size limit.
    #[error(
        "trust policy is {size} characters (whitespace not counted), over IAM's limit of \
         {limit}: match several service accounts with one wildcard pattern such as 'app-*' \
         instead of listing each"
    )]
    TooLarge {
        /// Characters without whitespace.
        size: usize,
        /// The limit it broke.
        limit: usize,
    },
    /// Serialising the document failed (not expected for these types).
    #[error("cannot serialise the trust policy: {0}")]
    Json(#[from] serde_json::Error),
}

/// One condition value or a list of them, as IAM writes them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ConditionValues {
    /// A single value.
    One(String),
    /// Several values; the condition matches any of them.
    Many(Vec<String>),
}

impl ConditionValues {
    /// The values as a slice-like list.
    pub fn as_vec(&self) -> Vec<&str> {
        match self {
            ConditionValues::One(v) => vec![v.as_str()],
            ConditionValues::Many(vs) => vs.iter().map(String::as_str).collect(),
        }
    }
}

/// `Principal` of the statement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Principal {
    /// The IAM OIDC provider ARN.
    #[serde(rename = "Federated")]
    pub federated: String,
}

/// The single statement of an IRSA trust policy. Field order is the serialised key order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Statement {
    /// Always `Allow`.
    #[serde(rename = "Effect")]
    pub effect: String,
    /// The provider.
    #[serde(rename = "Principal")]
    pub principal: Principal,
    /// Always `sts:AssumeRoleWithWebIdentity`.
    #[serde(rename = "Action")]
    pub action: String,
    /// Operator (`StringEquals`, `StringLike`) → condition key → value(s).
    #[serde(rename = "Condition")]
    pub condition: BTreeMap<String, BTreeMap<String, ConditionValues>>,
}

/// A trust policy document (`Version`, then `Statement`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrustPolicyDocument {
    /// `2012-10-17`.
    #[serde(rename = "Version")]
    pub version: String,
    /// The statements.
    #[serde(rename = "Statement")]
    pub statement: Vec<Statement>,
}

/// What a trust policy is generated from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustPolicyRequest {
    /// The cluster's issuer: the provider's `HOST/PATH` and the condition keys.
    pub issuer: ClusterIssuer,
    /// The account the role (and so the provider it trusts) lives in.
    pub role_account: AccountId,
    /// The token audience required by the `:aud` condition.
    pub audience: Audience,
    /// The service accounts (or patterns) allowed; duplicates are dropped, order is kept.
    pub subjects: Vec<SubjectPattern>,
}

impl TrustPolicyRequest {
    /// A request for `subjects` with the audience of the issuer's partition
    /// (`sts.amazonaws.com.cn` for a China issuer, `sts.amazonaws.com` otherwise).
    pub fn new(
        issuer: ClusterIssuer,
        role_account: AccountId,
        subjects: Vec<SubjectPattern>,
    ) -> Self {
        Self {
            audience: issuer.default_audience(),
            issuer,
            role_account,
            subjects,
        }
    }

    /// Generates the policy, enforcing IAM's 2048-character limit.
    pub fn build(&self) -> Result<TrustPolicy, TrustPolicyError> {
        self.build_with_limit(IAM_TRUST_POLICY_MAX_CHARS)
    }

    /// Generates the policy with another size limit (IAM quotas can be raised to 4096).
    pub fn build_with_limit(&self, limit: usize) -> Result<TrustPolicy, TrustPolicyError> {
        let document = self.document()?;
        let compact = serde_json::to_string(&document)?;
        let size = non_whitespace_chars(&compact);
        if size > limit {
            return Err(TrustPolicyError::TooLarge { size, limit });
        }
        let pretty = serde_json::to_string_pretty(&document)?;
        Ok(TrustPolicy {
            document,
            compact,
            pretty,
            size,
        })
    }

    /// The document, without the size check.
    pub fn document(&self) -> Result<TrustPolicyDocument, TrustPolicyError> {
        let mut subjects: Vec<String> = Vec::with_capacity(self.subjects.len());
        for subject in &self.subjects {
            let subject = subject.to_string();
            if !subjects.contains(&subject) {
                subjects.push(subject);
            }
        }
        let sub_values = match subjects.len() {
            0 => return Err(TrustPolicyError::NoSubjects),
            1 => ConditionValues::One(subjects.remove(0)),
            _ => ConditionValues::Many(subjects),
        };
        let aud = (
            self.issuer.condition_key(AUD),
            ConditionValues::One(self.audience.to_string()),
        );
        let sub = (self.issuer.condition_key(SUB), sub_values);
        let mut condition = BTreeMap::new();
        if self.subjects.iter().any(SubjectPattern::is_wildcard) {
            condition.insert("StringEquals".to_owned(), BTreeMap::from([aud]));
            condition.insert("StringLike".to_owned(), BTreeMap::from([sub]));
        } else {
            condition.insert("StringEquals".to_owned(), BTreeMap::from([aud, sub]));
        }
        Ok(TrustPolicyDocument {
            version: POLICY_VERSION.to_owned(),
            statement: vec![Statement {
                effect: "Allow".to_owned(),
                principal: Principal {
                    federated: self.issuer.provider_arn(&self.role_account).to_string(),
                },
                action: ASSUME_ROLE_WITH_WEB_IDENTITY.to_owned(),
                condition,
            }],
        })
    }
}

/// Characters IAM counts towards the policy size limit (whitespace is not counted).
pub fn non_whitespace_chars(json: &str) -> usize {
    json.chars().filter(|c| !c.is_whitespace()).count()
}

/// A generated trust policy with its serialisations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustPolicy {
    document: TrustPolicyDocument,
    compact: String,
    pretty: String,
    size: usize,
}

impl TrustPolicy {
    /// The document.
    pub fn document(&self) -> &TrustPolicyDocument {
        &self.document
    }

    /// One-line JSON.
    pub fn to_json_compact(&self) -> &str {
        &self.compact
    }

    /// Indented JSON.
    pub fn to_json_pretty(&self) -> &str {
        &self.pretty
    }

    /// Size as IAM counts it (characters, whitespace not counted).
    pub fn size(&self) -> usize {
        self.size
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde_json::{Value, json};

    use super::*;
    use crate::aws::Region;
    use crate::issuer::ClusterId;

    fn account(s: &str) -> AccountId {
        AccountId::parse(s).unwrap()
    }

    fn s3(acct: &str, region: &str, cluster: &str) -> ClusterIssuer {
        ClusterIssuer::s3(
            &account(acct),
            &Region::parse(region).unwrap(),
            &ClusterId::parse(cluster).unwrap(),
        )
    }

    fn subject(ns: &str, sa: &str) -> SubjectPattern {
        SubjectPattern::new(ns, sa).unwrap()
    }

    fn value(p: &TrustPolicy) -> Value {
        serde_json::from_str(p.to_json_pretty()).unwrap()
    }

    /// The guide's "IAM role" policy with its placeholders filled in.
    fn guide_policy(account: &str, region: &str, cluster: &str, ns: &str, sa: &str) -> Value {
        let text = r#"{
"Version": "2012-10-17",
"Statement": [
{
"Effect": "Allow",
"Principal": {
"Federated": "arn:aws:iam::AWS_ACCOUNT:oidc-provider/s3.REGION.amazonaws.com/AWS_ACCOUNT-g8s-CLUSTER_ID-oidc-pod-identity"
},
"Action": "sts:AssumeRoleWithWebIdentity",
"Condition": {
"StringEquals": {
"s3.REGION.amazonaws.com/AWS_ACCOUNT-g8s-CLUSTER_ID-oidc-pod-identity:sub": "system:serviceaccount:NAMESPACE:SA_NAME"
}
}
}
]
}"#
        .replace("AWS_ACCOUNT", account)
        .replace("REGION", region)
        .replace("CLUSTER_ID", cluster)
        .replace("NAMESPACE", ns)
        .replace("SA_NAME", sa);
        serde_json::from_str(&text).unwrap()
    }

    #[test]
    fn guide_example_plus_audience() {
        let request = TrustPolicyRequest::new(
            s3("123456789012", "eu-west-1", "abc12"),
            account("123456789012"),
            vec![subject("default", "s3-access")],
        );
        let policy = request.build().unwrap();
        let mut expected =
            guide_policy("123456789012", "eu-west-1", "abc12", "default", "s3-access");
        expected["Statement"][0]["Condition"]["StringEquals"]["s3.eu-west-1.amazonaws.com/123456789012-g8s-abc12-oidc-pod-identity:aud"] =
            json!("sts.amazonaws.com");
        assert_eq!(value(&policy), expected);
        // Keys in the documented order.
        let compact = policy.to_json_compact();
        let pos = |k: &str| compact.find(k).unwrap();
        assert!(pos("\"Version\"") < pos("\"Statement\""));
        assert!(pos("\"Effect\"") < pos("\"Principal\""));
        assert!(pos("\"Principal\"") < pos("\"Action\""));
        assert!(pos("\"Action\"") < pos("\"Condition\""));
        assert_eq!(policy.size(), compact.len());
        assert!(!compact.contains('\n'));
        assert!(policy.to_json_pretty().contains('\n'));
    }

    #[test]
    fn cross_account_changes_only_the_provider_account() {
        let policy = TrustPolicyRequest::new(
            s3("123456789012", "eu-central-1", "abc12"),
            account("210987654321"),
            vec![subject("default", "s3-access")],
        )
        .build()
        .unwrap();
        let v = value(&policy);
        let host_path = "s3.eu-central-1.amazonaws.com/123456789012-g8s-abc12-oidc-pod-identity";
        assert_eq!(
            v["Statement"][0]["Principal"]["Federated"],
            json!(format!(
                "arn:aws:iam::210987654321:oidc-provider/{host_path}"
            ))
        );
        assert_eq!(
            v["Statement"][0]["Condition"],
            json!({"StringEquals": {
                format!("{host_path}:aud"): "sts.amazonaws.com",
                format!("{host_path}:sub"): "system:serviceaccount:default:s3-access",
            }})
        );
    }

    #[test]
    fn china_partition_and_suffix() {
        let policy = TrustPolicyRequest::new(
            s3("123456789012", "cn-north-1", "abc12"),
            account("123456789012"),
            vec![subject("default", "s3-access")],
        )
        .build()
        .unwrap();
        let v = value(&policy);
        assert_eq!(
            v["Statement"][0]["Principal"]["Federated"],
            json!(
                "arn:aws-cn:iam::123456789012:oidc-provider/s3.cn-north-1.amazonaws.com.cn/123456789012-g8s-abc12-oidc-pod-identity"
            )
        );
        let keys: Vec<&String> = v["Statement"][0]["Condition"]["StringEquals"]
            .as_object()
            .unwrap()
            .keys()
            .collect();
        assert_eq!(keys.len(), 2);
        for key in keys {
            assert!(
                key.starts_with(
                    "s3.cn-north-1.amazonaws.com.cn/123456789012-g8s-abc12-oidc-pod-identity:"
                ),
                "{key}"
            );
        }
    }

    #[test]
    fn wildcards_move_sub_to_string_like_and_several_subjects_are_a_list() {
        let issuer = s3("123456789012", "eu-west-1", "abc12");
        let hp = issuer.host_path().to_owned();
        let policy = TrustPolicyRequest::new(
            issuer,
            account("123456789012"),
            vec![subject("default", "app-*"), subject("default", "db")],
        )
        .build()
        .unwrap();
        assert_eq!(
            value(&policy)["Statement"][0]["Condition"],
            json!({
                "StringEquals": {format!("{hp}:aud"): "sts.amazonaws.com"},
                "StringLike": {format!("{hp}:sub"): [
                    "system:serviceaccount:default:app-*",
                    "system:serviceaccount:default:db",
                ]},
            })
        );
    }

    #[test]
    fn duplicates_are_dropped_and_custom_audience_is_used() {
        let issuer = ClusterIssuer::from_url("https://irsa.example.com", None).unwrap();
        let mut request = TrustPolicyRequest::new(
            issuer,
            account("123456789012"),
            vec![subject("a", "x"), subject("a", "y"), subject("a", "x")],
        );
        request.audience = Audience::parse("my-aud").unwrap();
        let v = value(&request.build().unwrap());
        assert_eq!(
            v["Statement"][0]["Condition"]["StringEquals"],
            json!({
                "irsa.example.com:aud": "my-aud",
                "irsa.example.com:sub": ["system:serviceaccount:a:x", "system:serviceaccount:a:y"],
            })
        );
    }

    #[test]
    fn no_subjects_and_too_large_are_errors() {
        let issuer = s3("123456789012", "eu-west-1", "abc12");
        let empty = TrustPolicyRequest::new(issuer.clone(), account("123456789012"), vec![]);
        assert!(matches!(empty.build(), Err(TrustPolicyError::NoSubjects)));

        let many: Vec<_> = (0..60)
            .map(|i| subject("default", &format!("service-{i}")))
            .collect();
        let big = TrustPolicyRequest::new(issuer, account("123456789012"), many);
        let size = non_whitespace_chars(&serde_json::to_string(&big.document().unwrap()).unwrap());
        assert!(size > IAM_TRUST_POLICY_MAX_CHARS);
        match big.build() {
            Err(e @ TrustPolicyError::TooLarge { .. }) => {
                let msg = e.to_string();
                assert!(msg.contains(&size.to_string()), "{msg}");
                assert!(msg.contains("2048") && msg.contains("wildcard"), "{msg}");
            }
            other => panic!("expected TooLarge, got {other:?}"),
        }
        assert_eq!(big.build_with_limit(size).unwrap().size(), size);
    }

    #[test]
    fn audiences_are_validated() {
        assert_eq!(Audience::default().as_str(), "sts.amazonaws.com");
        for bad in ["", "a b", "a\u{7f}", &"a".repeat(256)] {
            assert_eq!(
                Audience::parse(bad).unwrap_err().rule,
                Rule::Audience,
                "{bad:?}"
            );
        }
    }

    fn name_or_pattern() -> impl Strategy<Value = String> {
        prop_oneof![
            "[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?",
            "[a-z0-9-]{0,5}[*?][a-z0-9-]{0,5}",
            Just("*".to_owned()),
        ]
    }

    proptest! {
        #[test]
        fn provider_arn_and_condition_keys_name_the_same_host_path(
            acct in "[0-9]{12}",
            role_acct in "[0-9]{12}",
            region in prop::sample::select(vec!["eu-west-1", "us-west-2", "cn-north-1", "us-gov-east-1", "ap-south-2"]),
            cluster in "[a-z0-9]([a-z0-9-]{0,20}[a-z0-9])?",
            explicit in prop::option::of("[a-z][a-z0-9]{0,10}\\.example\\.(com|cn)(/[a-z0-9]{1,8}){0,2}"),
            subjects in prop::collection::vec((name_or_pattern(), name_or_pattern()), 1..6),
        ) {
            let region = Region::parse(region).unwrap();
            let issuer = match &explicit {
                Some(url) => ClusterIssuer::from_url(&format!("https://{url}"), Some(region.partition())).unwrap(),
                None => ClusterIssuer::s3(&account(&acct), &region, &ClusterId::parse(&cluster).unwrap()),
            };
            let subjects: Vec<SubjectPattern> = subjects
                .iter()
                .map(|(ns, sa)| SubjectPattern::new(ns, sa).unwrap())
                .collect();
            let any_wildcard = subjects.iter().any(SubjectPattern::is_wildcard);
            let policy = TrustPolicyRequest::new(issuer.clone(), account(&role_acct), subjects.clone())
                .build()
                .unwrap();
            let v: Value = serde_json::from_str(policy.to_json_compact()).unwrap();
            prop_assert_eq!(&v, &serde_json::from_str::<Value>(policy.to_json_pretty()).unwrap());
            let federated = v["Statement"][0]["Principal"]["Federated"].as_str().unwrap();
            let arn = crate::aws::OidcProviderArn::parse(federated).unwrap();
            prop_assert_eq!(arn.account().as_str(), role_acct.as_str());
            prop_assert_eq!(arn.partition(), region.partition());
            let host_path = arn.host_path();
            prop_assert_eq!(host_path, issuer.host_path());
            let condition = v["Statement"][0]["Condition"].as_object().unwrap();
            let mut keys = Vec::new();
            for (op, entries) in condition {
                prop_assert!(op == "StringEquals" || op == "StringLike");
                for key in entries.as_object().unwrap().keys() {
                    let (prefix, suffix) = key.rsplit_once(':').unwrap();
                    prop_assert_eq!(prefix, host_path);
                    keys.push((op.clone(), suffix.to_owned()));
                }
            }
            keys.sort();
            let sub_op = if any_wildcard { "StringLike" } else { "StringEquals" };
            let mut expected = vec![("StringEquals".to_owned(), "aud".to_owned()), (sub_op.to_owned(), "sub".to_owned())];
            expected.sort();
            prop_assert_eq!(keys, expected);
            // Every subject appears among the :sub values.
            let sub = &condition[sub_op][&format!("{host_path}:sub")];
            let values: Vec<String> = match sub {
                Value::String(s) => vec![s.clone()],
                Value::Array(a) => a.iter().map(|x| x.as_str().unwrap().to_owned()).collect(),
                other => panic!("unexpected {other}"),
            };
            for s in &subjects {
                prop_assert!(values.contains(&s.to_string()));
            }
        }
    }
}
