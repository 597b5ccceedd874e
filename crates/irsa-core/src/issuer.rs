//! The cluster's OIDC issuer: one value from which everything else is derived.
//!
//! Four strings must agree for IRSA to work: the token's `iss` claim (the apiserver's
//! `--service-account-issuer`), the discovery document's `issuer`, the IAM OIDC provider
//! (its URL, and so its ARN), and the prefix of the trust policy's condition keys
//! (`HOST/PATH:sub`, `HOST/PATH:aud`). Every known IRSA incident at Giant Swarm was two of
//! them drifting apart, e.g. the cross-account guide building the provider ARN with the
//! *role's* region but the condition key with the *cluster's*. Here a [`ClusterIssuer`] is
//! built once, and the bucket name, issuer URL, provider ARN and condition keys are all
//! methods on it, so they cannot disagree.
//!
//! Three ways to get one:
//! - [`ClusterIssuer::s3`]: the guide's naming, bucket `ACCOUNT-g8s-CLUSTER-oidc-pod-identity`
//!   served path-style at `https://s3.REGION.DNS_SUFFIX/BUCKET`;
//! - [`ClusterIssuer::from_url`]: an explicit issuer (CloudFront, a custom domain): `https`,
//!   no port, query, fragment, user info or trailing slash (STS compares byte for byte);
//! - [`ClusterIssuer::parse_local`]: a loopback issuer with a port (`http://127.0.0.1:8787/…`),
//!   for `irsa local` only; AWS would never accept it.

use std::fmt;

use crate::aws::{AccountId, OidcProviderArn, Partition, Region};
use crate::error::{InvalidValue, Rule};

/// Condition-key suffix for the token's subject.
pub const SUB: &str = "sub";
/// Condition-key suffix for the token's audience.
pub const AUD: &str = "aud";
/// Condition-key suffix for the authentication method reference.
pub const AMR: &str = "amr";

/// IAM's limit for an OIDC provider URL.
pub const MAX_ISSUER_URL_CHARS: usize = 255;

/// Where the discovery document lives below the issuer URL (OIDC Discovery §4): the path
/// STS fetches, the S3 object key the provisioner uploads and the file `irsa oidc` writes.
pub const DISCOVERY_PATH: &str = ".well-known/openid-configuration";
/// Where the JWKS lives below the issuer URL, as the guide publishes it (the discovery
/// document's `jwks_uri` points here).
pub const JWKS_PATH: &str = "keys.json";

/// The discovery document URL of `issuer`, `ISSUER/.well-known/openid-configuration`; the
/// path of a path-style issuer is kept and a trailing `/` is not doubled.
pub fn discovery_url(issuer: &str) -> String {
    format!("{}/{DISCOVERY_PATH}", issuer.trim_end_matches('/'))
}

/// The JWKS URL of `issuer`, `ISSUER/keys.json` (same joining rule as [`discovery_url`]).
pub fn jwks_url(issuer: &str) -> String {
    format!("{}/{JWKS_PATH}", issuer.trim_end_matches('/'))
}

/// A cluster ID as used in the bucket name: 1 to 28 of `[a-z0-9-]`, no `-` at either end.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ClusterId(String);

impl ClusterId {
    /// Longest cluster ID whose bucket name still fits S3's 63 characters.
    pub const MAX_LEN: usize = 63 - BUCKET_FIXED_LEN;

    /// Validates a cluster ID.
    pub fn parse(s: &str) -> Result<Self, InvalidValue> {
        let b = s.as_bytes();
        let ok = (1..=Self::MAX_LEN).contains(&b.len())
            && b.iter()
                .all(|&c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-')
            && b.first() != Some(&b'-')
            && b.last() != Some(&b'-');
        if ok {
            Ok(Self(s.to_owned()))
        } else {
            Err(InvalidValue::new("cluster ID", s, Rule::ClusterId))
        }
    }

    /// The ID.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

string_value!(ClusterId);

/// Length of the bucket name without the cluster ID: 12 digits, `-g8s-`, `-oidc-pod-identity`.
const BUCKET_FIXED_LEN: usize = 12 + "-g8s-".len() + "-oidc-pod-identity".len();

/// How the issuer is hosted.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Hosting {
    /// S3 path style: `https://s3.REGION.SUFFIX/BUCKET`.
    S3 { region: Region, bucket: String },
    /// Any other HTTPS issuer (CloudFront, custom domain).
    Custom,
    /// `http(s)://LOOPBACK:PORT[/PATH]`, for `irsa local`.
    Loopback,
}

/// The OIDC issuer of one cluster; see the module docs.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ClusterIssuer {
    /// The issuer URL exactly as it appears in tokens (no trailing slash).
    url: String,
    /// Byte offset of `HOST` in `url` (after `https://` or `http://`).
    host_start: usize,
    /// Byte offset of `/PATH` in `url` (`url.len()` when there is no path).
    path_start: usize,
    /// Partition of the provider ARN.
    partition: Partition,
    hosting: Hosting,
}

impl ClusterIssuer {
    /// The guide's S3 issuer for `cluster` in `account` and `region`:
    /// `https://s3.REGION.DNS_SUFFIX/ACCOUNT-g8s-CLUSTER-oidc-pod-identity`.
    pub fn s3(account: &AccountId, region: &Region, cluster: &ClusterId) -> Self {
        let bucket = Self::bucket_name(account, cluster);
        let url = format!("https://s3.{region}.{}/{bucket}", region.dns_suffix());
        let path_start = url.len() - bucket.len() - 1;
        Self {
            url,
            host_start: "https://".len(),
            path_start,
            partition: region.partition(),
            hosting: Hosting::S3 {
                region: region.clone(),
                bucket,
            },
        }
    }

    /// The guide's bucket name, `ACCOUNT-g8s-CLUSTER-oidc-pod-identity`.
    pub fn bucket_name(account: &AccountId, cluster: &ClusterId) -> String {
        format!("{account}-g8s-{cluster}-oidc-pod-identity")
    }

    /// An explicit HTTPS issuer. `partition` is the one of the provider ARN (usually the
    /// cluster region's); `None` infers it from the host (`s3.REGION.…` gives REGION's
    /// partition, `*.amazonaws.com.cn` gives `aws-cn`, anything else `aws`). An S3 host
    /// whose partition differs from an explicit `partition` is an error.
    pub fn from_url(url: &str, partition: Option<Partition>) -> Result<Self, InvalidValue> {
        const LABEL: &str = "issuer URL";
        let err = |rule| InvalidValue::new(LABEL, url, rule);
        if url.len() > MAX_ISSUER_URL_CHARS {
            return Err(err(Rule::IssuerLength));
        }
        let rest = url
            .strip_prefix("https://")
            .ok_or_else(|| err(Rule::IssuerScheme))?;
        let split = split_host_path(rest).map_err(err)?;
        if split.port.is_some() {
            return Err(err(Rule::IssuerPort));
        }
        if !is_dns_name(split.host) {
            return Err(err(Rule::IssuerHost));
        }
        let hosting = s3_hosting(split.host, split.path);
        let hosted = match &hosting {
            Hosting::S3 { region, .. } => Some(region.partition()),
            _ if split.host.ends_with(".amazonaws.com.cn") => Some(Partition::AwsCn),
            _ => None,
        };
        let partition = match (partition, hosted) {
            (Some(requested), Some(hosted)) if requested != hosted => {
                return Err(err(Rule::IssuerPartition { hosted, requested }));
            }
            (Some(p), _) | (None, Some(p)) => p,
            (None, None) => Partition::Aws,
        };
        let host_start = "https://".len();
        Ok(Self {
            url: url.to_owned(),
            host_start,
            path_start: host_start + split.authority_len,
            partition,
            hosting,
        })
    }

    /// A loopback issuer with a port, `http(s)://{127.0.0.1|localhost|[::1]}:PORT[/PATH]`,
    /// for `irsa local` only (partition `aws`). Path rules are those of [`Self::from_url`].
    pub fn parse_local(url: &str) -> Result<Self, InvalidValue> {
        const LABEL: &str = "local issuer URL";
        let err = |rule| InvalidValue::new(LABEL, url, rule);
        if url.len() > MAX_ISSUER_URL_CHARS {
            return Err(err(Rule::IssuerLength));
        }
        let (scheme_len, rest) = if let Some(rest) = url.strip_prefix("http://") {
            ("http://".len(), rest)
        } else if let Some(rest) = url.strip_prefix("https://") {
            ("https://".len(), rest)
        } else {
            return Err(err(Rule::LocalIssuer));
        };
        let split = split_host_path(rest).map_err(err)?;
        if !is_loopback_host(split.host) || split.port.is_none() {
            return Err(err(Rule::LocalIssuer));
        }
        Ok(Self {
            url: url.to_owned(),
            host_start: scheme_len,
            path_start: scheme_len + split.authority_len,
            partition: Partition::Aws,
            hosting: Hosting::Loopback,
        })
    }

    /// The issuer URL, exactly as in the token's `iss` and the IAM provider's URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The URL without its scheme: `HOST/PATH` (`HOST:PORT/PATH` for loopback issuers).
    /// This names the IAM OIDC provider and prefixes the trust policy's condition keys.
    pub fn host_path(&self) -> &str {
        &self.url[self.host_start..]
    }

    /// The host (with `:PORT` for loopback issuers).
    pub fn host(&self) -> &str {
        &self.url[self.host_start..self.path_start]
    }

    /// The path, `""` or `/…` without a trailing slash.
    pub fn path(&self) -> &str {
        &self.url[self.path_start..]
    }

    /// The partition of the provider ARN.
    pub fn partition(&self) -> Partition {
        self.partition
    }

    /// The S3 bucket serving the issuer documents, for S3 path-style issuers.
    pub fn bucket(&self) -> Option<&str> {
        match &self.hosting {
            Hosting::S3 { bucket, .. } => Some(bucket),
            _ => None,
        }
    }

    /// The region of the S3 bucket, for S3 path-style issuers.
    pub fn region(&self) -> Option<&Region> {
        match &self.hosting {
            Hosting::S3 { region, .. } => Some(region),
            _ => None,
        }
    }

    /// Whether this is a loopback issuer from [`Self::parse_local`].
    pub fn is_loopback(&self) -> bool {
        self.hosting == Hosting::Loopback
    }

    /// The audience of this issuer's partition: the client ID of its IAM OIDC providers,
    /// the trust policy's `:aud` value and the default audience of its tokens.
    pub fn default_audience(&self) -> crate::trust_policy::Audience {
        crate::trust_policy::Audience::for_partition(self.partition)
    }

    /// The ARN of this issuer's IAM OIDC provider registered in `account` (the role's
    /// account; cross-account changes only the account, never `HOST/PATH`).
    pub fn provider_arn(&self, account: &AccountId) -> OidcProviderArn {
        OidcProviderArn::from_parts(self.partition, account.clone(), self.host_path().to_owned())
    }

    /// The trust-policy condition key `HOST/PATH:suffix`, e.g. `condition_key(SUB)`.
    pub fn condition_key(&self, suffix: &str) -> String {
        format!("{}:{suffix}", self.host_path())
    }

    /// The discovery document URL, `ISSUER/.well-known/openid-configuration`.
    pub fn discovery_url(&self) -> String {
        discovery_url(&self.url)
    }

    /// The JWKS URL as the guide's issuer publishes it, `ISSUER/keys.json`.
    pub fn jwks_url(&self) -> String {
        jwks_url(&self.url)
    }
}

impl fmt::Display for ClusterIssuer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.url)
    }
}

impl std::str::FromStr for ClusterIssuer {
    type Err = InvalidValue;
    /// Parses an explicit HTTPS issuer with an inferred partition ([`ClusterIssuer::from_url`]).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::from_url(s, None)
    }
}

impl serde::Serialize for ClusterIssuer {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.url)
    }
}

/// Checks an OIDC provider's `HOST[/PATH]` (the part of its ARN after `oidc-provider/`):
/// HTTPS issuer rules, or a loopback host with a port.
pub(crate) fn validate_host_path(host_path: &str) -> Result<(), InvalidValue> {
    const LABEL: &str = "provider URL";
    let err = |rule| InvalidValue::new(LABEL, host_path, rule);
    if host_path.len() + "https://".len() > MAX_ISSUER_URL_CHARS {
        return Err(err(Rule::IssuerLength));
    }
    let split = split_host_path(host_path).map_err(err)?;
    match split.port {
        Some(_) if is_loopback_host(split.host) => Ok(()),
        Some(_) => Err(err(Rule::IssuerPort)),
        None if is_dns_name(split.host) => Ok(()),
        None => Err(err(Rule::IssuerHost)),
    }
}

/// `HOST[:PORT][/PATH]` split into its parts, with the rules every issuer shares checked.
struct Split<'a> {
    host: &'a str,
    port: Option<u16>,
    path: &'a str,
    /// Length of `HOST[:PORT]`.
    authority_len: usize,
}

/// Splits the URL after its scheme; rejects query, fragment, user info, bad ports and bad
/// paths (including a trailing slash). The host itself is checked by the caller.
fn split_host_path(rest: &str) -> Result<Split<'_>, Rule> {
    if rest.contains('#') {
        return Err(Rule::IssuerFragment);
    }
    if rest.contains('?') {
        return Err(Rule::IssuerQuery);
    }
    let authority_len = rest.find('/').unwrap_or(rest.len());
    let (authority, path) = rest.split_at(authority_len);
    if authority.contains('@') {
        return Err(Rule::IssuerUserInfo);
    }
    // An IPv6 literal keeps its brackets; the port is what follows `]:`.
    let (host, port) = match authority.strip_prefix('[') {
        Some(v6) => {
            let end = v6.find(']').ok_or(Rule::IssuerHost)?;
            let host = &authority[..end + 2];
            match &authority[end + 2..] {
                "" => (host, None),
                p => (host, Some(p.strip_prefix(':').ok_or(Rule::IssuerHost)?)),
            }
        }
        None => match authority.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        },
    };
    let port = match port {
        None => None,
        Some(p) => {
            let ok = !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit());
            let n = if ok { p.parse::<u16>().ok() } else { None };
            Some(n.filter(|&n| n != 0).ok_or(Rule::IssuerPort)?)
        }
    };
    if path.ends_with('/') {
        return Err(Rule::IssuerTrailingSlash);
    }
    if !path.is_empty() && !path[1..].split('/').all(is_path_segment) {
        return Err(Rule::IssuerPath);
    }
    Ok(Split {
        host,
        port,
        path,
        authority_len,
    })
}

/// A non-empty RFC 3986 path segment (`pchar`s).
fn is_path_segment(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@%".contains(&b))
}

/// A lowercase DNS name: `.`-separated labels of `[a-z0-9-]`, no `-` at either end of a label.
fn is_dns_name(host: &str) -> bool {
    (1..=253).contains(&host.len())
        && host.split('.').all(|label| {
            let b = label.as_bytes();
            (1..=63).contains(&b.len())
                && b.iter()
                    .all(|&c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-')
                && b.first() != Some(&b'-')
                && b.last() != Some(&b'-')
        })
}

/// Whether `host` (as it appears in a URL's authority, IPv6 in brackets) names this machine.
/// Local issuers must use one, and plain `http://` is allowed only to one: traffic to it
/// never leaves the machine.
pub fn is_loopback_host(host: &str) -> bool {
    matches!(host, "127.0.0.1" | "localhost" | "[::1]")
}

/// Recognises the S3 path-style host `s3.REGION.SUFFIX` with a one-segment path.
fn s3_hosting(host: &str, path: &str) -> Hosting {
    let bucket = path
        .strip_prefix('/')
        .filter(|b| !b.is_empty() && !b.contains('/'));
    let region = host
        .strip_prefix("s3.")
        .and_then(|r| r.split_once('.'))
        .and_then(|(region, suffix)| {
            let region = Region::parse(region).ok()?;
            (region.dns_suffix() == suffix).then_some(region)
        });
    match (region, bucket) {
        (Some(region), Some(bucket)) => Hosting::S3 {
            region,
            bucket: bucket.to_owned(),
        },
        _ => Hosting::Custom,
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn guide() -> ClusterIssuer {
        ClusterIssuer::s3(
            &AccountId::parse("123456789012").unwrap(),
            &Region::parse("eu-west-1").unwrap(),
            &ClusterId::parse("abc12").unwrap(),
        )
    }

    #[test]
    fn guide_s3_issuer_derives_everything() {
        let i = guide();
        assert_eq!(
            i.url(),
            "https://s3.eu-west-1.amazonaws.com/123456789012-g8s-abc12-oidc-pod-identity"
        );
        assert_eq!(i.bucket(), Some("123456789012-g8s-abc12-oidc-pod-identity"));
        assert_eq!(i.host(), "s3.eu-west-1.amazonaws.com");
        assert_eq!(i.path(), "/123456789012-g8s-abc12-oidc-pod-identity");
        assert_eq!(
            i.host_path(),
            "s3.eu-west-1.amazonaws.com/123456789012-g8s-abc12-oidc-pod-identity"
        );
        assert_eq!(
            i.provider_arn(&AccountId::parse("123456789012").unwrap())
                .to_string(),
            "arn:aws:iam::123456789012:oidc-provider/s3.eu-west-1.amazonaws.com/123456789012-g8s-abc12-oidc-pod-identity"
        );
        assert_eq!(
            i.condition_key(SUB),
            "s3.eu-west-1.amazonaws.com/123456789012-g8s-abc12-oidc-pod-identity:sub"
        );
        assert_eq!(
            i.discovery_url(),
            "https://s3.eu-west-1.amazonaws.com/123456789012-g8s-abc12-oidc-pod-identity/.well-known/openid-configuration"
        );
        // The explicit form of the same URL is the same issuer.
        assert_eq!(ClusterIssuer::from_url(i.url(), None).unwrap(), i);
    }

    #[test]
    fn document_urls_append_to_the_path_once() {
        assert_eq!(
            discovery_url("https://s3.eu-west-1.amazonaws.com/b"),
            "https://s3.eu-west-1.amazonaws.com/b/.well-known/openid-configuration"
        );
        assert_eq!(
            discovery_url("https://h/"),
            "https://h/.well-known/openid-configuration"
        );
        assert_eq!(jwks_url("https://h/p/"), "https://h/p/keys.json");
    }

    #[test]
    fn china_uses_its_partition_and_suffix() {
        let i = ClusterIssuer::s3(
            &AccountId::parse("123456789012").unwrap(),
            &Region::parse("cn-north-1").unwrap(),
            &ClusterId::parse("abc12").unwrap(),
        );
        assert_eq!(
            i.url(),
            "https://s3.cn-north-1.amazonaws.com.cn/123456789012-g8s-abc12-oidc-pod-identity"
        );
        assert_eq!(i.partition(), Partition::AwsCn);
        assert!(
            i.provider_arn(&AccountId::parse("210987654321").unwrap())
                .to_string()
                .starts_with(
                    "arn:aws-cn:iam::210987654321:oidc-provider/s3.cn-north-1.amazonaws.com.cn/"
                )
        );
    }

    #[test]
    fn explicit_issuers() {
        let i = ClusterIssuer::from_url("https://irsa.abc12.example.com", None).unwrap();
        assert_eq!(i.host_path(), "irsa.abc12.example.com");
        assert_eq!(i.path(), "");
        assert_eq!(i.bucket(), None);
        assert_eq!(i.partition(), Partition::Aws);
        let cf =
            ClusterIssuer::from_url("https://d1234.cloudfront.net/a/b", Some(Partition::AwsCn))
                .unwrap();
        assert_eq!(cf.partition(), Partition::AwsCn);
        assert_eq!(cf.condition_key(AUD), "d1234.cloudfront.net/a/b:aud");
        let cn =
            ClusterIssuer::from_url("https://s3.cn-north-1.amazonaws.com.cn/b-v2", None).unwrap();
        assert_eq!(cn.partition(), Partition::AwsCn);
        assert_eq!(cn.region().map(Region::as_str), Some("cn-north-1"));
    }

    #[test]
    fn explicit_issuer_rules() {
        for (url, rule) in [
            ("http://irsa.example.com", Rule::IssuerScheme),
            ("irsa.example.com", Rule::IssuerScheme),
            ("https://irsa.example.com:443", Rule::IssuerPort),
            ("https://irsa.example.com?x=1", Rule::IssuerQuery),
            ("https://irsa.example.com/p#f", Rule::IssuerFragment),
            ("https://user@irsa.example.com", Rule::IssuerUserInfo),
            ("https://irsa.example.com/", Rule::IssuerTrailingSlash),
            ("https://irsa.example.com/path/", Rule::IssuerTrailingSlash),
            ("https://irsa.example.com//x", Rule::IssuerPath),
            ("https://irsa.example.com/a b", Rule::IssuerPath),
            ("https://IRSA.example.com", Rule::IssuerHost),
            ("https://", Rule::IssuerHost),
            ("https://-a.example.com", Rule::IssuerHost),
            ("https://127.0.0.1:8080", Rule::IssuerPort),
        ] {
            assert_eq!(
                ClusterIssuer::from_url(url, None).unwrap_err().rule,
                rule,
                "{url}"
            );
        }
        let long = format!("https://example.com/{}", "a".repeat(250));
        assert_eq!(
            ClusterIssuer::from_url(&long, None).unwrap_err().rule,
            Rule::IssuerLength
        );
        let e = ClusterIssuer::from_url(
            "https://s3.cn-north-1.amazonaws.com.cn/b",
            Some(Partition::Aws),
        )
        .unwrap_err();
        assert_eq!(
            e.rule,
            Rule::IssuerPartition {
                hosted: Partition::AwsCn,
                requested: Partition::Aws
            }
        );
        assert_eq!(
            ClusterIssuer::from_url("https://irsa.example.com/", None)
                .unwrap_err()
                .to_string(),
            "issuer URL must not end with '/': STS compares the token's 'iss' with the provider \
             URL byte for byte, so 'https://host/path/' is a different issuer from \
             'https://host/path', got 'https://irsa.example.com/'"
        );
    }

    #[test]
    fn local_issuers_need_loopback_and_a_port() {
        let i = ClusterIssuer::parse_local(
            "http://127.0.0.1:8787/000000000000-g8s-demo-oidc-pod-identity",
        )
        .unwrap();
        assert!(i.is_loopback());
        assert_eq!(i.host(), "127.0.0.1:8787");
        assert_eq!(
            i.host_path(),
            "127.0.0.1:8787/000000000000-g8s-demo-oidc-pod-identity"
        );
        let arn = i.provider_arn(&AccountId::parse("000000000000").unwrap());
        assert_eq!(OidcProviderArn::parse(&arn.to_string()).unwrap(), arn);
        assert!(ClusterIssuer::parse_local("http://localhost:1").is_ok());
        assert!(ClusterIssuer::parse_local("https://[::1]:8443/x").is_ok());
        for (url, rule) in [
            ("http://127.0.0.1/x", Rule::LocalIssuer),
            ("http://10.0.0.1:80", Rule::LocalIssuer),
            ("http://example.com:80", Rule::LocalIssuer),
            ("ftp://127.0.0.1:80", Rule::LocalIssuer),
            ("http://127.0.0.1:0", Rule::IssuerPort),
            ("http://127.0.0.1:65536", Rule::IssuerPort),
            ("http://127.0.0.1:80/", Rule::IssuerTrailingSlash),
            ("http://127.0.0.1:80?a", Rule::IssuerQuery),
        ] {
            assert_eq!(
                ClusterIssuer::parse_local(url).unwrap_err().rule,
                rule,
                "{url}"
            );
        }
    }

    #[test]
    fn cluster_ids_keep_the_bucket_name_valid() {
        assert_eq!(ClusterId::MAX_LEN, 28);
        let longest = "a".repeat(28);
        let bucket = ClusterIssuer::bucket_name(
            &AccountId::parse("123456789012").unwrap(),
            &ClusterId::parse(&longest).unwrap(),
        );
        assert_eq!(bucket.len(), 63);
        for bad in ["", "-a", "a-", "A", "a.b", "a_b", &"a".repeat(29)] {
            assert_eq!(
                ClusterId::parse(bad).unwrap_err().rule,
                Rule::ClusterId,
                "{bad}"
            );
        }
    }

    proptest! {
        #[test]
        fn s3_issuers_agree_with_their_own_parse(
            account in "[0-9]{12}",
            region in prop::sample::select(vec!["eu-west-1", "us-east-2", "cn-north-1", "cn-northwest-1", "us-gov-west-1", "ap-southeast-4"]),
            cluster in "[a-z0-9]([a-z0-9-]{0,26}[a-z0-9])?",
            role_account in "[0-9]{12}",
        ) {
            let account = AccountId::parse(&account).unwrap();
            let region = Region::parse(region).unwrap();
            let i = ClusterIssuer::s3(&account, &region, &ClusterId::parse(&cluster).unwrap());
            let parsed = ClusterIssuer::from_url(i.url(), Some(region.partition())).unwrap();
            prop_assert_eq!(&parsed, &i);
            let arn = i.provider_arn(&AccountId::parse(&role_account).unwrap());
            prop_assert_eq!(arn.host_path(), i.host_path());
            prop_assert_eq!(arn.partition(), region.partition());
            let arn_text = arn.to_string();
            prop_assert_eq!(OidcProviderArn::parse(&arn_text).unwrap(), arn);
            prop_assert_eq!(format!("https://{}", i.host_path()), i.url());
            prop_assert!(i.bucket().is_some_and(|b| b.len() <= 63));
        }

        #[test]
        fn arbitrary_urls_never_panic(s in "\\PC{0,80}") {
            let _ = ClusterIssuer::from_url(&s, None);
            let _ = ClusterIssuer::parse_local(&s);
            let _ = validate_host_path(&s);
        }
    }
}
