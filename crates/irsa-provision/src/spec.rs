//! Inputs of the planner and the desired state they determine.
//!
//! Every name comes from [`ClusterIssuer`]: the bucket, the issuer URL, the provider ARN
//! and its partition. The fixed settings (object ACL, ownership, encryption, public access
//! block) are constants here so that the planner, the executor and the IAM policy agree.

use irsa_core::aws::{AccountId, OidcProviderArn, Region};
use irsa_core::issuer::{ClusterId, ClusterIssuer};
use irsa_core::trust_policy::Audience;
use irsa_jose::PublicKey;
use md5::{Digest as _, Md5};
use serde::Serialize;

use crate::provider::{DesiredProvider, Extras, IssuerDocuments};

/// The tag that marks a bucket or provider as this engine's for one cluster. Removal
/// touches nothing without it.
pub const CLUSTER_TAG: &str = "irsa.io/cluster";
/// Value of the `kubernetes.io/cluster/CLUSTER` tag on the provider (the cloud-provider
/// convention for resources a cluster owns).
pub const OWNED: &str = "owned";
/// Object key of the discovery document, relative to the bucket root.
pub const DISCOVERY_KEY: &str = irsa_core::issuer::DISCOVERY_PATH;
/// Object key of the JWKS, relative to the bucket root.
pub const JWKS_KEY: &str = irsa_core::issuer::JWKS_PATH;
/// Content type of both objects.
pub const CONTENT_TYPE: &str = "application/json";
/// Canned ACL of both objects: STS reads them anonymously. S3 authorizes a PutObject with
/// an ACL against `s3:PutObjectAcl` too, which is why the guide lists that permission.
pub const OBJECT_ACL: &str = "public-read";
/// Object ownership that keeps ACLs working (new buckets default to `BucketOwnerEnforced`,
/// which rejects `public-read`).
pub const OBJECT_OWNERSHIP: &str = "ObjectWriter";
/// Default encryption: SSE-S3. Its ETags stay the MD5 of the body, which the upload diff needs.
pub const SSE_ALGORITHM: &str = "AES256";
/// The region where `CreateBucket` must not carry a `LocationConstraint`.
pub const US_EAST_1: &str = "us-east-1";
/// IAM's limit on thumbprints per provider.
pub const MAX_THUMBPRINTS: usize = 5;
/// IAM's (and S3's) limit on tags per resource.
pub const MAX_TAGS: usize = 50;

/// The bucket's public access block: public *ACLs* are allowed (the two objects are
/// `public-read`), public *bucket policies* stay blocked because none is needed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct PublicAccessBlock {
    /// Reject requests that set public ACLs.
    pub block_public_acls: bool,
    /// Ignore public ACLs when authorizing.
    pub ignore_public_acls: bool,
    /// Reject public bucket policies.
    pub block_public_policy: bool,
    /// Restrict access to buckets with public policies.
    pub restrict_public_buckets: bool,
}

/// What the engine sets: ACLs allowed and honoured, policies blocked.
pub const PUBLIC_ACCESS_BLOCK: PublicAccessBlock = PublicAccessBlock {
    block_public_acls: false,
    ignore_public_acls: false,
    block_public_policy: true,
    restrict_public_buckets: true,
};

/// An input that breaks a rule, named as the user gave it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{input}: {message}")]
pub struct SpecError {
    /// The input, e.g. `--tag`.
    pub input: String,
    /// The rule and the value.
    pub message: String,
}

impl SpecError {
    fn new(input: &str, message: impl Into<String>) -> Self {
        Self {
            input: input.to_owned(),
            message: message.into(),
        }
    }
}

/// A resource tag.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Tag {
    /// The key (1 to 128 characters).
    pub key: String,
    /// The value (0 to 256 characters).
    pub value: String,
}

impl Tag {
    /// A tag from its parts (validated by [`Tag::parse`] for user input).
    pub fn new(key: impl Into<String>, value: impl Into<String>) -> Self {
        Self {
            key: key.into(),
            value: value.into(),
        }
    }

    /// Parses `KEY=VALUE` (the value may be empty and may contain `=`), with the rules IAM
    /// and S3 share: key 1 to 128 and value at most 256 characters of letters, digits,
    /// spaces and `_.:/=+-@`; keys starting with `aws:` are AWS's.
    pub fn parse(s: &str) -> Result<Self, SpecError> {
        const INPUT: &str = "--tag";
        let (key, value) = s
            .split_once('=')
            .ok_or_else(|| SpecError::new(INPUT, format!("must be KEY=VALUE, got {s:?}")))?;
        let allowed = |c: char| c.is_alphanumeric() || c == ' ' || "_.:/=+-@".contains(c);
        if !(1..=128).contains(&key.chars().count()) || !key.chars().all(allowed) {
            return Err(SpecError::new(
                INPUT,
                format!("key must be 1 to 128 letters, digits, spaces or '_.:/=+-@', got {key:?}"),
            ));
        }
        if key.to_ascii_lowercase().starts_with("aws:") {
            return Err(SpecError::new(
                INPUT,
                format!("keys starting with 'aws:' are reserved by AWS, got {key:?}"),
            ));
        }
        if value.chars().count() > 256 || !value.chars().all(allowed) {
            return Err(SpecError::new(
                INPUT,
                format!(
                    "value must be at most 256 letters, digits, spaces or '_.:/=+-@', got {value:?}"
                ),
            ));
        }
        Ok(Self::new(key, value))
    }
}

/// The cluster: account, region, ID and issuer, checked to agree with each other.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterSpec {
    account: AccountId,
    region: Region,
    cluster: ClusterId,
    issuer: ClusterIssuer,
    bucket: String,
}

impl ClusterSpec {
    /// The guide's S3 issuer for the cluster, or an explicit `issuer` (CloudFront, a
    /// custom domain, or an S3 path-style URL). The documents go to the issuer's own S3
    /// bucket when it names one, else to the guide's bucket `ACCOUNT-g8s-CLUSTER-oidc-pod-identity`
    /// in `region` (served by whatever fronts the custom domain).
    pub fn new(
        account: AccountId,
        region: Region,
        cluster: ClusterId,
        issuer: Option<ClusterIssuer>,
    ) -> Result<Self, SpecError> {
        let issuer = issuer.unwrap_or_else(|| ClusterIssuer::s3(&account, &region, &cluster));
        if issuer.is_loopback() {
            return Err(SpecError::new(
                "--issuer",
                format!(
                    "{} is a loopback issuer: AWS STS can only fetch HTTPS issuers",
                    issuer.url()
                ),
            ));
        }
        if issuer.partition() != region.partition() {
            return Err(SpecError::new(
                "--issuer",
                format!(
                    "{} is in partition {}, but region {region} is in {}",
                    issuer.url(),
                    issuer.partition(),
                    region.partition()
                ),
            ));
        }
        if let Some(bucket_region) = issuer.region()
            && bucket_region != &region
        {
            return Err(SpecError::new(
                "--issuer",
                format!(
                    "{} is served from S3 in {bucket_region}, but --region is {region}: \
                     the bucket lives in the cluster's region",
                    issuer.url()
                ),
            ));
        }
        let bucket = issuer
            .bucket()
            .map(str::to_owned)
            .unwrap_or_else(|| ClusterIssuer::bucket_name(&account, &cluster));
        Ok(Self {
            account,
            region,
            cluster,
            issuer,
            bucket,
        })
    }

    /// The account that owns the bucket and the provider.
    pub fn account(&self) -> &AccountId {
        &self.account
    }

    /// The region of the bucket.
    pub fn region(&self) -> &Region {
        &self.region
    }

    /// The cluster ID, the value of the ownership tag.
    pub fn cluster(&self) -> &ClusterId {
        &self.cluster
    }

    /// The issuer.
    pub fn issuer(&self) -> &ClusterIssuer {
        &self.issuer
    }

    /// The bucket holding the documents.
    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    /// The provider's deterministic ARN in the cluster's account.
    pub fn provider_arn(&self) -> OidcProviderArn {
        self.issuer.provider_arn(&self.account)
    }

    /// `LocationConstraint` for `CreateBucket`: the region, except in us-east-1 where S3
    /// rejects it. (The Go SDK filled it in silently; the Rust SDK does not.)
    pub fn location_constraint(&self) -> Option<&str> {
        (self.region.as_str() != US_EAST_1).then_some(self.region.as_str())
    }

    /// The ownership tag `irsa.io/cluster=CLUSTER`.
    pub fn ownership_tag(&self) -> Tag {
        Tag::new(CLUSTER_TAG, self.cluster.as_str())
    }

    /// Whether `tags` carry this cluster's ownership tag.
    pub fn is_ours(&self, tags: &[Tag]) -> bool {
        tags.iter()
            .any(|t| t.key == CLUSTER_TAG && t.value == self.cluster.as_str())
    }
}

/// What the user asks for beyond the defaults.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Options {
    /// Client IDs besides the default one (`--client-id`).
    pub client_ids: Vec<String>,
    /// Provider thumbprints, 40 hex digits each (`--thumbprint`, or computed from the
    /// issuer's TLS chain by the caller).
    pub thumbprints: Vec<String>,
    /// User tags for the bucket and the provider (`--tag`).
    pub tags: Vec<Tag>,
}

/// One object to publish.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DesiredObject {
    /// Key relative to the bucket root.
    pub key: &'static str,
    /// The exact bytes.
    pub body: Vec<u8>,
    /// Lowercase hex MD5 of `body`: S3's ETag for a single-part SSE-S3 upload.
    pub md5_hex: String,
}

/// Everything the engine converges for one cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Desired {
    /// The cluster.
    pub spec: ClusterSpec,
    /// Bucket tags: the ownership tag, then user tags, sorted by key.
    pub bucket_tags: Vec<Tag>,
    /// `keys.json`, then the discovery document (upload order).
    pub objects: Vec<DesiredObject>,
    /// The provider: the default client ID first, then the requested ones; thumbprints;
    /// tags (ownership, `kubernetes.io/cluster/CLUSTER=owned`, user tags), sorted; and
    /// nothing else ([`Extras::Remove`]).
    pub provider: DesiredProvider,
    /// The key IDs published in `keys.json`, in order.
    pub kids: Vec<String>,
}

impl Desired {
    /// The desired state for `spec` publishing `keys` (current key first).
    pub fn new(
        spec: ClusterSpec,
        options: &Options,
        keys: &[PublicKey],
    ) -> Result<Self, SpecError> {
        if keys.is_empty() {
            return Err(SpecError::new(
                "keys",
                "at least one public key must be published",
            ));
        }
        let mut provider = DesiredProvider::for_issuer(spec.issuer(), spec.account());
        provider.extras = Extras::Remove;
        let client_ids = &mut provider.client_ids;
        for id in &options.client_ids {
            Audience::parse(id).map_err(|e| SpecError::new("--client-id", e.to_string()))?;
            if !client_ids.contains(id) {
                client_ids.push(id.clone());
            }
        }
        let thumbprints = &mut provider.thumbprints;
        for t in &options.thumbprints {
            let t = normalize_thumbprint(t)?;
            if !thumbprints.contains(&t) {
                thumbprints.push(t);
            }
        }
        if thumbprints.len() > MAX_THUMBPRINTS {
            return Err(SpecError::new(
                "--thumbprint",
                format!("IAM allows at most {MAX_THUMBPRINTS} thumbprints per provider"),
            ));
        }
        let kube_key = format!("kubernetes.io/cluster/{}", spec.cluster());
        let mut user = Vec::new();
        for tag in &options.tags {
            if tag.key == CLUSTER_TAG || tag.key == kube_key {
                return Err(SpecError::new(
                    "--tag",
                    format!("{} is set by irsa itself and cannot be overridden", tag.key),
                ));
            }
            if user.iter().any(|t: &Tag| t.key == tag.key) {
                return Err(SpecError::new(
                    "--tag",
                    format!("key {:?} is given twice", tag.key),
                ));
            }
            user.push(tag.clone());
        }
        let mut bucket_tags = vec![spec.ownership_tag()];
        bucket_tags.extend(user.iter().cloned());
        bucket_tags.sort();
        let mut provider_tags = vec![spec.ownership_tag(), Tag::new(kube_key, OWNED)];
        provider_tags.extend(user);
        provider_tags.sort();
        if provider_tags.len() > MAX_TAGS {
            return Err(SpecError::new(
                "--tag",
                format!("AWS allows at most {MAX_TAGS} tags per resource, irsa adds 2"),
            ));
        }
        provider.tags = provider_tags;
        let documents = IssuerDocuments::new(spec.issuer(), keys);
        // keys.json first: the discovery document must never point at a JWKS that is not there yet.
        let objects = vec![
            object(JWKS_KEY, documents.jwks),
            object(DISCOVERY_KEY, documents.discovery),
        ];
        Ok(Self {
            spec,
            bucket_tags,
            objects,
            provider,
            kids: keys.iter().map(|k| k.kid().to_owned()).collect(),
        })
    }
}

fn object(key: &'static str, body: Vec<u8>) -> DesiredObject {
    let md5_hex = hex::encode(Md5::digest(&body));
    DesiredObject { key, body, md5_hex }
}

/// A thumbprint as IAM stores it: 40 hex digits (SHA-1), lowercase; `:` separators as
/// some tools print them are accepted.
pub fn normalize_thumbprint(t: &str) -> Result<String, SpecError> {
    let clean: String = t.chars().filter(|&c| c != ':').collect();
    if clean.len() == 40 && clean.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(clean.to_ascii_lowercase())
    } else {
        Err(SpecError::new(
            "--thumbprint",
            format!("must be 40 hex digits (the SHA-1 of the issuer's CA certificate), got {t:?}"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(region: &str) -> ClusterSpec {
        ClusterSpec::new(
            AccountId::parse("123456789012").unwrap(),
            Region::parse(region).unwrap(),
            ClusterId::parse("abc12").unwrap(),
            None,
        )
        .unwrap()
    }

    #[test]
    fn names_come_from_the_issuer() {
        let s = spec("eu-west-1");
        assert_eq!(s.bucket(), "123456789012-g8s-abc12-oidc-pod-identity");
        assert_eq!(s.location_constraint(), Some("eu-west-1"));
        assert_eq!(
            s.provider_arn().to_string(),
            "arn:aws:iam::123456789012:oidc-provider/s3.eu-west-1.amazonaws.com/123456789012-g8s-abc12-oidc-pod-identity"
        );
        assert_eq!(
            DesiredProvider::for_issuer(s.issuer(), s.account()).client_ids,
            ["sts.amazonaws.com"]
        );
        assert_eq!(spec("us-east-1").location_constraint(), None);
    }

    #[test]
    fn china_gets_its_partition_hosts_and_audience() {
        let s = spec("cn-north-1");
        assert_eq!(
            s.issuer().url(),
            "https://s3.cn-north-1.amazonaws.com.cn/123456789012-g8s-abc12-oidc-pod-identity"
        );
        assert!(s.provider_arn().to_string().starts_with(
            "arn:aws-cn:iam::123456789012:oidc-provider/s3.cn-north-1.amazonaws.com.cn/"
        ));
        assert_eq!(
            DesiredProvider::for_issuer(s.issuer(), s.account()).client_ids,
            ["sts.amazonaws.com.cn"]
        );
    }

    #[test]
    fn explicit_issuers_must_agree_with_the_region() {
        let account = AccountId::parse("123456789012").unwrap();
        let cluster = ClusterId::parse("abc12").unwrap();
        let cf = ClusterIssuer::from_url("https://d111.cloudfront.net", None).unwrap();
        let s = ClusterSpec::new(
            account.clone(),
            Region::parse("eu-west-1").unwrap(),
            cluster.clone(),
            Some(cf),
        )
        .unwrap();
        assert_eq!(s.bucket(), "123456789012-g8s-abc12-oidc-pod-identity");
        assert_eq!(
            s.provider_arn().to_string(),
            "arn:aws:iam::123456789012:oidc-provider/d111.cloudfront.net"
        );
        let other =
            ClusterIssuer::from_url("https://s3.eu-west-2.amazonaws.com/b-v2", None).unwrap();
        let e = ClusterSpec::new(
            account.clone(),
            Region::parse("eu-west-1").unwrap(),
            cluster.clone(),
            Some(other),
        )
        .unwrap_err();
        assert_eq!(e.input, "--issuer");
        assert!(e.message.contains("eu-west-2"), "{e}");
        let own =
            ClusterIssuer::from_url("https://s3.eu-west-1.amazonaws.com/own-bucket", None).unwrap();
        let s = ClusterSpec::new(
            account.clone(),
            Region::parse("eu-west-1").unwrap(),
            cluster.clone(),
            Some(own),
        )
        .unwrap();
        assert_eq!(s.bucket(), "own-bucket");
        let local = ClusterIssuer::parse_local("http://127.0.0.1:8787/x").unwrap();
        assert!(
            ClusterSpec::new(
                account,
                Region::parse("eu-west-1").unwrap(),
                cluster,
                Some(local)
            )
            .is_err()
        );
    }

    #[test]
    fn tags_parse_and_reject_reserved_keys() {
        assert_eq!(Tag::parse("team=a=b").unwrap(), Tag::new("team", "a=b"));
        assert_eq!(Tag::parse("empty=").unwrap(), Tag::new("empty", ""));
        for bad in ["novalue", "=v", "aws:x=1", "a*b=1"] {
            assert_eq!(Tag::parse(bad).unwrap_err().input, "--tag", "{bad}");
        }
    }

    #[test]
    fn thumbprints_are_normalized() {
        let t = "9E99A48A9960B14926BB7F3B02E22DA2B0AB7280";
        assert_eq!(normalize_thumbprint(t).unwrap(), t.to_ascii_lowercase());
        assert!(normalize_thumbprint("abc").is_err());
        assert!(normalize_thumbprint(&"g".repeat(40)).is_err());
    }
}
