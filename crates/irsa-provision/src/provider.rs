//! The IAM OIDC provider an issuer needs in one account, and the issuer's two documents.
//!
//! Both are derived from a [`ClusterIssuer`] and nothing else, so that every place that
//! publishes an issuer or registers its provider (`irsa provision` and the operator in
//! AWS, `irsa local` in its store) computes the same bytes, the same ARN, the same URL
//! and the same client ID. A token minted by `irsa local` for a cluster is then accepted
//! by AWS for the same cluster provisioned with `irsa provision`, and the other way round.

use irsa_core::aws::{AccountId, OidcProviderArn};
use irsa_core::issuer::ClusterIssuer;
use irsa_jose::{DiscoveryDocument, JwkSet, PublicKey};

use crate::spec::Tag;

/// The documents an issuer publishes, as the exact bytes served: S3 objects for
/// `irsa provision`, HTTP responses for `irsa local`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuerDocuments {
    /// `.well-known/openid-configuration`.
    pub discovery: Vec<u8>,
    /// `keys.json`, whose URL the discovery document names.
    pub jwks: Vec<u8>,
}

impl IssuerDocuments {
    /// The documents of `issuer` publishing `keys` (the signing key first). Loopback
    /// issuers of `irsa local` are accepted: the layout does not depend on the host.
    pub fn new(issuer: &ClusterIssuer, keys: &[PublicKey]) -> Self {
        Self {
            discovery: DiscoveryDocument::new(issuer.url(), keys).to_document_bytes(),
            jwks: JwkSet::from_keys(keys).to_document_bytes(),
        }
    }
}

/// What to do with client IDs and tags a provider has but the desired state does not list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Extras {
    /// Remove them: the provider is wholly the engine's (`irsa provision`, the operator),
    /// so anything else is drift.
    Remove,
    /// Keep them: the provider is shared with whoever else manages it through the IAM API
    /// (`irsa local --config` only guarantees what a config declares).
    Keep,
}

/// The desired state of one IAM OIDC provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DesiredProvider {
    /// Its deterministic ARN: the partition and host/path of the issuer, in one account.
    pub arn: OidcProviderArn,
    /// The issuer URL IAM registers (`https://` and the ARN's host/path).
    pub url: String,
    /// Client IDs: the partition's default audience first, then any others requested.
    pub client_ids: Vec<String>,
    /// Thumbprints, lowercase; empty means "not managed" (IAM no longer needs one for
    /// issuers whose certificate chains to a trusted CA, and rejects an empty update).
    pub thumbprints: Vec<String>,
    /// Tags, sorted.
    pub tags: Vec<Tag>,
    /// Whether client IDs and tags beyond these are removed.
    pub extras: Extras,
}

impl DesiredProvider {
    /// The provider `arn` names, as STS needs it: its URL, and the partition's audience
    /// (`sts.amazonaws.com`, `sts.amazonaws.com.cn` in China) as its only client ID; no
    /// thumbprints, no tags, other client IDs and tags kept.
    pub fn new(arn: OidcProviderArn) -> Self {
        Self {
            url: format!("https://{}", arn.host_path()),
            client_ids: vec![arn.partition().default_audience().to_owned()],
            thumbprints: Vec::new(),
            tags: Vec::new(),
            extras: Extras::Keep,
            arn,
        }
    }

    /// The provider of `issuer` in `account` (the issuer's own account, or one whose
    /// roles trust it), as [`Self::new`] describes.
    pub fn for_issuer(issuer: &ClusterIssuer, account: &AccountId) -> Self {
        Self::new(issuer.provider_arn(account))
    }
}

#[cfg(test)]
mod tests {
    use irsa_core::aws::Region;
    use irsa_core::issuer::ClusterId;

    use super::*;

    #[test]
    fn provider_follows_the_issuer_partition() {
        let account = AccountId::parse("123456789012").unwrap();
        let cluster = ClusterId::parse("abc").unwrap();
        for (region, arn, audience) in [
            (
                "eu-west-1",
                "arn:aws:iam::123456789012:oidc-provider/s3.eu-west-1.amazonaws.com/123456789012-g8s-abc-oidc-pod-identity",
                "sts.amazonaws.com",
            ),
            (
                "cn-north-1",
                "arn:aws-cn:iam::123456789012:oidc-provider/s3.cn-north-1.amazonaws.com.cn/123456789012-g8s-abc-oidc-pod-identity",
                "sts.amazonaws.com.cn",
            ),
        ] {
            let issuer = ClusterIssuer::s3(&account, &Region::parse(region).unwrap(), &cluster);
            let p = DesiredProvider::for_issuer(&issuer, &account);
            assert_eq!(p.arn.to_string(), arn);
            assert_eq!(p.url, issuer.url());
            assert_eq!(p.client_ids, vec![audience.to_owned()]);
            assert_eq!(p.extras, Extras::Keep);
        }
    }
}
