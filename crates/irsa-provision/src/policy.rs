//! The least-privilege IAM policy the engine needs (`irsa provision --print-iam-policy`).
//!
//! A superset of the guide's list (`iam:CreateOpenIDConnectProvider`,
//! `DeleteOpenIDConnectProvider`, `ListOpenIDConnectProviderTags`,
//! `TagOpenIDConnectProvider`, `UntagOpenIDConnectProvider`, `s3:PutObjectAcl` on
//! `arn:aws:s3:::*-g8s-*`) that also covers every read and write the executor makes:
//! bucket creation and configuration, the uploads, and the provider's drift corrections.
//! Each statement lists exactly the IAM actions that authorize the calls, on the narrowest
//! resources: `*-g8s-*` buckets (`ACCOUNT-g8s-*` with an account) and the account's OIDC
//! providers.

use irsa_core::aws::{AccountId, Partition};
use irsa_core::trust_policy::POLICY_VERSION;
use serde_json::{Value, json};

/// S3 bucket-level actions: create/delete, tags, ownership, public access block,
/// encryption, and `ListBucket` for ListObjectsV2 (the object ETags in one read).
pub const BUCKET_ACTIONS: &[&str] = &[
    "s3:CreateBucket",
    "s3:DeleteBucket",
    "s3:ListBucket",
    "s3:GetBucketTagging",
    "s3:PutBucketTagging",
    "s3:GetBucketOwnershipControls",
    "s3:PutBucketOwnershipControls",
    "s3:GetBucketPublicAccessBlock",
    "s3:PutBucketPublicAccessBlock",
    "s3:GetEncryptionConfiguration",
    "s3:PutEncryptionConfiguration",
];

/// S3 object-level actions: the uploads (`PutObjectAcl` because they carry a canned ACL)
/// and their removal.
pub const OBJECT_ACTIONS: &[&str] = &["s3:PutObject", "s3:PutObjectAcl", "s3:DeleteObject"];

/// IAM actions on the cluster's OIDC provider (including the guide's
/// `ListOpenIDConnectProviderTags`, which `GetOpenIDConnectProvider` makes unnecessary
/// but the guide's users already grant).
pub const PROVIDER_ACTIONS: &[&str] = &[
    "iam:CreateOpenIDConnectProvider",
    "iam:GetOpenIDConnectProvider",
    "iam:DeleteOpenIDConnectProvider",
    "iam:TagOpenIDConnectProvider",
    "iam:UntagOpenIDConnectProvider",
    "iam:ListOpenIDConnectProviderTags",
    "iam:UpdateOpenIDConnectProviderThumbprint",
    "iam:AddClientIDToOpenIDConnectProvider",
    "iam:RemoveClientIDFromOpenIDConnectProvider",
];

/// The policy document. Without `account`, buckets are `*-g8s-*` and providers are in any
/// account (`*`); with it, `ACCOUNT-g8s-*` and that account's providers.
pub fn iam_policy(partition: Partition, account: Option<&AccountId>) -> Value {
    let bucket = match account {
        Some(a) => format!("arn:{partition}:s3:::{a}-g8s-*"),
        None => format!("arn:{partition}:s3:::*-g8s-*"),
    };
    let providers = format!(
        "arn:{partition}:iam::{}:oidc-provider/*",
        account.map_or("*", AccountId::as_str)
    );
    json!({
        "Version": POLICY_VERSION,
        "Statement": [
            {
                "Sid": "IrsaIssuerBucket",
                "Effect": "Allow",
                "Action": BUCKET_ACTIONS,
                "Resource": bucket,
            },
            {
                "Sid": "IrsaIssuerDocuments",
                "Effect": "Allow",
                "Action": OBJECT_ACTIONS,
                "Resource": format!("{bucket}/*"),
            },
            {
                "Sid": "IrsaOidcProvider",
                "Effect": "Allow",
                "Action": PROVIDER_ACTIONS,
                "Resource": providers,
            },
        ],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn covers_the_guides_list_and_scopes_to_the_account() {
        let account = AccountId::parse("123456789012").unwrap();
        let p = iam_policy(Partition::Aws, Some(&account));
        let text = p.to_string();
        for needed in [
            "iam:CreateOpenIDConnectProvider",
            "iam:DeleteOpenIDConnectProvider",
            "iam:ListOpenIDConnectProviderTags",
            "iam:TagOpenIDConnectProvider",
            "iam:UntagOpenIDConnectProvider",
            "s3:PutObjectAcl",
            "s3:CreateBucket",
        ] {
            assert!(text.contains(needed), "{needed}");
        }
        assert_eq!(
            p["Statement"][0]["Resource"],
            "arn:aws:s3:::123456789012-g8s-*"
        );
        assert_eq!(
            p["Statement"][1]["Resource"],
            "arn:aws:s3:::123456789012-g8s-*/*"
        );
        assert_eq!(
            p["Statement"][2]["Resource"],
            "arn:aws:iam::123456789012:oidc-provider/*"
        );
        let any = iam_policy(Partition::AwsCn, None);
        assert_eq!(any["Statement"][0]["Resource"], "arn:aws-cn:s3:::*-g8s-*");
        assert_eq!(
            any["Statement"][2]["Resource"],
            "arn:aws-cn:iam::*:oidc-provider/*"
        );
    }
}
