//! AWS identifiers: account IDs, regions, partitions, and the three ARN kinds IRSA uses.
//!
//! IRSA glues strings from several places into ARNs (the role in a ServiceAccount
//! annotation, the provider in a trust policy, the assumed role STS returns). Each is a
//! validated type here, parsed and printed by one function, so `parse(x).to_string() == x`
//! for every valid `x` and a wrong partition or a 13-digit account is caught where it is
//! typed, not when STS refuses it.
//!
//! Partitions are derived from the region: `cn-*` is `aws-cn` (DNS suffix
//! `amazonaws.com.cn`), `us-gov-*` is `aws-us-gov`, every other region is `aws`. ISO
//! partitions are rejected rather than silently mapped to `aws`.

use std::fmt;
use std::str::FromStr;

use crate::error::{InvalidValue, Rule};

/// Characters allowed in role and session names besides ASCII letters and digits
/// (`\w` in AWS's Java regex is `[A-Za-z0-9_]`).
const NAME_PUNCTUATION: &str = "_+=,.@-";

fn is_iam_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || NAME_PUNCTUATION.contains(c)
}

/// An AWS account ID: exactly 12 ASCII digits (leading zeros are significant).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AccountId(String);

impl AccountId {
    /// Validates an account ID.
    pub fn parse(s: &str) -> Result<Self, InvalidValue> {
        if s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit()) {
            Ok(Self(s.to_owned()))
        } else {
            Err(InvalidValue::new("account ID", s, Rule::AccountId))
        }
    }

    /// The 12 digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

string_value!(AccountId);

/// An AWS partition: the namespace of ARNs and endpoints a region belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Partition {
    /// `aws`: commercial regions.
    Aws,
    /// `aws-cn`: China (`cn-north-1`, `cn-northwest-1`).
    AwsCn,
    /// `aws-us-gov`: GovCloud (`us-gov-west-1`, `us-gov-east-1`).
    AwsUsGov,
}

impl Partition {
    /// Every supported partition.
    pub const ALL: [Partition; 3] = [Partition::Aws, Partition::AwsCn, Partition::AwsUsGov];

    /// Validates a partition name (`aws`, `aws-cn`, `aws-us-gov`).
    pub fn parse(s: &str) -> Result<Self, InvalidValue> {
        Self::ALL
            .into_iter()
            .find(|p| p.as_str() == s)
            .ok_or_else(|| InvalidValue::new("partition", s, Rule::Partition))
    }

    /// The partition's name as it appears in ARNs.
    pub const fn as_str(self) -> &'static str {
        match self {
            Partition::Aws => "aws",
            Partition::AwsCn => "aws-cn",
            Partition::AwsUsGov => "aws-us-gov",
        }
    }

    /// The DNS suffix of the partition's endpoints (`amazonaws.com`, `amazonaws.com.cn`).
    pub const fn dns_suffix(self) -> &'static str {
        match self {
            Partition::AwsCn => "amazonaws.com.cn",
            Partition::Aws | Partition::AwsUsGov => "amazonaws.com",
        }
    }

    /// The token audience (IAM OIDC provider client ID) IRSA uses in this partition:
    /// `sts.amazonaws.com`, and `sts.amazonaws.com.cn` in China.
    ///
    /// One value per partition, used by every place that writes an audience: the client ID
    /// of the providers irsa registers, the trust policy's `:aud` condition and the default
    /// audience of minted tokens. China follows Giant Swarm's IRSA setup and its cross-account
    /// documentation (`shared/reference/giantswarm-irsa.md` §3.5, §9), which register
    /// `sts.amazonaws.com.cn`; GovCloud uses the commercial name, as its STS endpoints do.
    pub const fn default_audience(self) -> &'static str {
        match self {
            Partition::AwsCn => "sts.amazonaws.com.cn",
            Partition::Aws | Partition::AwsUsGov => "sts.amazonaws.com",
        }
    }
}

impl fmt::Display for Partition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Partition {
    type Err = InvalidValue;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl serde::Serialize for Partition {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> serde::Deserialize<'de> for Partition {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// An AWS region name such as `eu-west-1`, `us-gov-west-1` or `cn-north-1`.
///
/// Validated by shape (`AREA-[WORD-]DIRECTION-NUMBER`), not against a list, so new regions
/// work without a release.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Region(String);

impl Region {
    /// Validates a region name.
    pub fn parse(s: &str) -> Result<Self, InvalidValue> {
        let err = |rule| InvalidValue::new("region", s, rule);
        let parts: Vec<&str> = s.split('-').collect();
        let [area, words @ .., number] = parts.as_slice() else {
            return Err(err(Rule::Region));
        };
        let area_ok = area.len() == 2 && area.bytes().all(|b| b.is_ascii_lowercase());
        let words_ok = (1..=2).contains(&words.len())
            && words
                .iter()
                .all(|w| (1..=16).contains(&w.len()) && w.bytes().all(|b| b.is_ascii_lowercase()));
        let number_ok = (1..=2).contains(&number.len())
            && number.bytes().all(|b| b.is_ascii_digit())
            && !number.starts_with('0');
        if !(area_ok && words_ok && number_ok) {
            return Err(err(Rule::Region));
        }
        if words.iter().any(|w| w.starts_with("iso")) {
            return Err(err(Rule::IsoRegion));
        }
        Ok(Self(s.to_owned()))
    }

    /// The region name.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The partition the region belongs to.
    pub fn partition(&self) -> Partition {
        if self.0.starts_with("cn-") {
            Partition::AwsCn
        } else if self.0.starts_with("us-gov-") {
            Partition::AwsUsGov
        } else {
            Partition::Aws
        }
    }

    /// The DNS suffix of the region's endpoints.
    pub fn dns_suffix(&self) -> &'static str {
        self.partition().dns_suffix()
    }
}

string_value!(Region);

/// An IAM role name: 1 to 64 characters of `[A-Za-z0-9_+=,.@-]`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RoleName(String);

impl RoleName {
    /// Validates a role name.
    pub fn parse(s: &str) -> Result<Self, InvalidValue> {
        if (1..=64).contains(&s.len()) && s.chars().all(is_iam_name_char) {
            Ok(Self(s.to_owned()))
        } else {
            Err(InvalidValue::new("role name", s, Rule::RoleName))
        }
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

string_value!(RoleName);

/// An IAM path: `/`, or `/` + one or more printable ASCII (`!`..`~`) + `/`, at most 512
/// characters (AWS's pattern `(\u002F)|(\u002F[\u0021-\u007E]+\u002F)`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct IamPath(String);

impl IamPath {
    /// The root path `/`.
    pub fn root() -> Self {
        Self("/".to_owned())
    }

    /// Validates a path.
    pub fn parse(s: &str) -> Result<Self, InvalidValue> {
        let nested = (3..=512).contains(&s.len())
            && s.starts_with('/')
            && s.ends_with('/')
            && s.bytes().all(|b| (0x21..=0x7e).contains(&b));
        let ok = s == "/" || nested;
        if ok {
            Ok(Self(s.to_owned()))
        } else {
            Err(InvalidValue::new("role path", s, Rule::RolePath))
        }
    }

    /// The path, starting and ending with `/`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether this is `/`.
    pub fn is_root(&self) -> bool {
        self.0 == "/"
    }
}

string_value!(IamPath);

/// An STS role session name: 2 to 64 characters of `[A-Za-z0-9_+=,.@-]`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SessionName(String);

impl SessionName {
    /// Validates a session name as STS does (`roleSessionNameType`).
    pub fn parse(s: &str) -> Result<Self, InvalidValue> {
        if is_valid_session_name(s) {
            Ok(Self(s.to_owned()))
        } else {
            Err(InvalidValue::new("role session name", s, Rule::SessionName))
        }
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

string_value!(SessionName);

/// Whether `s` is a valid STS role session name (2..=64 of `[\w+=,.@-]`).
pub fn is_valid_session_name(s: &str) -> bool {
    (2..=64).contains(&s.len()) && s.chars().all(is_iam_name_char)
}

/// Splits `arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE` into its six fields.
/// The resource keeps any further `:`.
fn split_arn(s: &str) -> Option<[&str; 6]> {
    let mut it = s.splitn(6, ':');
    let fields = [
        it.next()?,
        it.next()?,
        it.next()?,
        it.next()?,
        it.next()?,
        it.next()?,
    ];
    (fields[0] == "arn").then_some(fields)
}

/// The parts shared by the ARN kinds below: checks the fixed fields and returns the
/// validated partition, account and the resource after `prefix`.
fn parse_arn_head<'a>(
    s: &'a str,
    label: &'static str,
    expected: &'static str,
    service: &str,
    prefix: &str,
) -> Result<(Partition, AccountId, &'a str), InvalidValue> {
    let shape = || InvalidValue::new(label, s, Rule::ArnShape { expected });
    let [_, partition, svc, region, account, resource] = split_arn(s).ok_or_else(shape)?;
    if svc != service || !region.is_empty() {
        return Err(shape());
    }
    let rest = resource.strip_prefix(prefix).ok_or_else(shape)?;
    let partition = Partition::parse(partition).map_err(|e| e.within(label, s))?;
    let account = AccountId::parse(account).map_err(|e| e.within(label, s))?;
    Ok((partition, account, rest))
}

/// An IAM role ARN, `arn:PARTITION:iam::ACCOUNT:role/[PATH/]NAME`,
/// e.g. `arn:aws:iam::123456789012:role/team/app` (path `/team/`, name `app`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RoleArn {
    partition: Partition,
    account: AccountId,
    path: IamPath,
    name: RoleName,
}

impl RoleArn {
    const SHAPE: &'static str = "arn:PARTITION:iam::ACCOUNT:role/[PATH/]NAME";

    /// Builds a role ARN from its parts.
    pub fn new(partition: Partition, account: AccountId, path: IamPath, name: RoleName) -> Self {
        Self {
            partition,
            account,
            path,
            name,
        }
    }

    /// Parses a role ARN.
    pub fn parse(s: &str) -> Result<Self, InvalidValue> {
        const LABEL: &str = "role ARN";
        let (partition, account, rest) = parse_arn_head(s, LABEL, Self::SHAPE, "iam", "role/")?;
        // `rest` is `[PATH/]NAME`; the path is everything up to the last '/'.
        let (path, name) = match rest.rfind('/') {
            Some(i) => (
                IamPath::parse(&format!("/{}", &rest[..=i])).map_err(|e| e.within(LABEL, s))?,
                &rest[i + 1..],
            ),
            None => (IamPath::root(), rest),
        };
        let name = RoleName::parse(name).map_err(|e| e.within(LABEL, s))?;
        Ok(Self {
            partition,
            account,
            path,
            name,
        })
    }

    /// The partition.
    pub fn partition(&self) -> Partition {
        self.partition
    }

    /// The account the role lives in.
    pub fn account(&self) -> &AccountId {
        &self.account
    }

    /// The role's path (`/` when none).
    pub fn path(&self) -> &IamPath {
        &self.path
    }

    /// The role's name (without path).
    pub fn name(&self) -> &RoleName {
        &self.name
    }
}

impl fmt::Display for RoleArn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "arn:{}:iam::{}:role{}{}",
            self.partition, self.account, self.path, self.name
        )
    }
}

string_value!(@parse RoleArn);

/// An IAM OIDC identity provider ARN, `arn:PARTITION:iam::ACCOUNT:oidc-provider/HOST/PATH`,
/// where `HOST/PATH` is the issuer URL without `https://`.
///
/// Build one from a [`crate::issuer::ClusterIssuer`] (`provider_arn`) so that it can
/// never disagree with the trust policy's condition keys.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct OidcProviderArn {
    partition: Partition,
    account: AccountId,
    host_path: String,
}

impl OidcProviderArn {
    const SHAPE: &'static str = "arn:PARTITION:iam::ACCOUNT:oidc-provider/HOST[/PATH]";

    /// Builds a provider ARN. `host_path` must be a valid issuer `HOST[:PORT][/PATH]`;
    /// [`crate::issuer::ClusterIssuer::provider_arn`] is the usual way to get one.
    pub(crate) fn from_parts(partition: Partition, account: AccountId, host_path: String) -> Self {
        Self {
            partition,
            account,
            host_path,
        }
    }

    /// Parses a provider ARN; the `HOST/PATH` part follows the issuer URL rules
    /// (loopback hosts may carry a port, for local issuers).
    pub fn parse(s: &str) -> Result<Self, InvalidValue> {
        const LABEL: &str = "OIDC provider ARN";
        let (partition, account, rest) =
            parse_arn_head(s, LABEL, Self::SHAPE, "iam", "oidc-provider/")?;
        crate::issuer::validate_host_path(rest).map_err(|e| e.within(LABEL, s))?;
        Ok(Self {
            partition,
            account,
            host_path: rest.to_owned(),
        })
    }

    /// The partition.
    pub fn partition(&self) -> Partition {
        self.partition
    }

    /// The account the provider is registered in.
    pub fn account(&self) -> &AccountId {
        &self.account
    }

    /// The issuer URL without its scheme: `HOST/PATH`, also the condition-key prefix.
    pub fn host_path(&self) -> &str {
        &self.host_path
    }
}

impl fmt::Display for OidcProviderArn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "arn:{}:iam::{}:oidc-provider/{}",
            self.partition, self.account, self.host_path
        )
    }
}

string_value!(@parse OidcProviderArn);

/// An STS assumed-role ARN, `arn:PARTITION:sts::ACCOUNT:assumed-role/NAME/SESSION`.
/// The role's path is not part of it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AssumedRoleArn {
    partition: Partition,
    account: AccountId,
    role_name: RoleName,
    session: SessionName,
}

impl AssumedRoleArn {
    const SHAPE: &'static str = "arn:PARTITION:sts::ACCOUNT:assumed-role/ROLE_NAME/SESSION_NAME";

    /// The ARN STS reports for a session of `role` named `session` (the path is dropped).
    pub fn new(role: &RoleArn, session: SessionName) -> Self {
        Self {
            partition: role.partition,
            account: role.account.clone(),
            role_name: role.name.clone(),
            session,
        }
    }

    /// Parses an assumed-role ARN.
    pub fn parse(s: &str) -> Result<Self, InvalidValue> {
        const LABEL: &str = "assumed-role ARN";
        let (partition, account, rest) =
            parse_arn_head(s, LABEL, Self::SHAPE, "sts", "assumed-role/")?;
        let Some((name, session)) = rest.split_once('/') else {
            return Err(InvalidValue::new(
                LABEL,
                s,
                Rule::ArnShape {
                    expected: Self::SHAPE,
                },
            ));
        };
        let role_name = RoleName::parse(name).map_err(|e| e.within(LABEL, s))?;
        let session = SessionName::parse(session).map_err(|e| e.within(LABEL, s))?;
        Ok(Self {
            partition,
            account,
            role_name,
            session,
        })
    }

    /// The partition.
    pub fn partition(&self) -> Partition {
        self.partition
    }

    /// The role's account.
    pub fn account(&self) -> &AccountId {
        &self.account
    }

    /// The role's name.
    pub fn role_name(&self) -> &RoleName {
        &self.role_name
    }

    /// The session name.
    pub fn session(&self) -> &SessionName {
        &self.session
    }
}

impl fmt::Display for AssumedRoleArn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "arn:{}:sts::{}:assumed-role/{}/{}",
            self.partition, self.account, self.role_name, self.session
        )
    }
}

string_value!(@parse AssumedRoleArn);

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn account_ids_are_exactly_12_digits() {
        assert_eq!(
            AccountId::parse("012345678901").unwrap().as_str(),
            "012345678901"
        );
        for bad in [
            "1234",
            "",
            "1234567890123",
            "12345678901a",
            "１２３４５６７８９０１２",
            " 123456789012",
        ] {
            let e = AccountId::parse(bad).unwrap_err();
            assert_eq!(e.rule, Rule::AccountId, "{bad}");
        }
        assert_eq!(
            AccountId::parse("1234").unwrap_err().to_string(),
            "account ID must be 12 digits, got '1234'"
        );
    }

    #[test]
    fn regions_and_their_partitions() {
        for (region, partition, suffix) in [
            ("eu-west-1", Partition::Aws, "amazonaws.com"),
            ("ap-southeast-2", Partition::Aws, "amazonaws.com"),
            ("us-east-1", Partition::Aws, "amazonaws.com"),
            ("cn-north-1", Partition::AwsCn, "amazonaws.com.cn"),
            ("cn-northwest-1", Partition::AwsCn, "amazonaws.com.cn"),
            ("us-gov-west-1", Partition::AwsUsGov, "amazonaws.com"),
            ("us-gov-east-1", Partition::AwsUsGov, "amazonaws.com"),
        ] {
            let r = Region::parse(region).unwrap();
            assert_eq!(r.partition(), partition, "{region}");
            assert_eq!(r.dns_suffix(), suffix, "{region}");
            assert_eq!(r.to_string(), region);
        }
    }

    #[test]
    fn bad_regions_are_rejected() {
        for bad in [
            "",
            "eu",
            "eu-west",
            "EU-WEST-1",
            "eu-west-01",
            "eu-west-0",
            "eu-west-1a",
            "eu_west_1",
            "e-west-1",
            "eur-west-1",
            "eu--1",
            "eu-a-b-c-1",
            "eu-west-123",
            "s3.eu-west-1",
            "eu-west-1 ",
        ] {
            assert_eq!(Region::parse(bad).unwrap_err().rule, Rule::Region, "{bad}");
        }
        assert_eq!(
            Region::parse("us-iso-east-1").unwrap_err().rule,
            Rule::IsoRegion
        );
        assert_eq!(
            Region::parse("us-isob-east-1").unwrap_err().rule,
            Rule::IsoRegion
        );
    }

    #[test]
    fn partitions_parse_and_print() {
        for p in Partition::ALL {
            assert_eq!(Partition::parse(p.as_str()).unwrap(), p);
        }
        assert_eq!(
            Partition::parse("aws-iso").unwrap_err().rule,
            Rule::Partition
        );
    }

    #[test]
    fn iam_paths() {
        for ok in [
            "/",
            "/a/",
            "/team/app/",
            "///",
            &format!("/{}/", "a".repeat(510)),
        ] {
            assert_eq!(IamPath::parse(ok).unwrap().as_str(), ok);
        }
        for bad in [
            "",
            "//",
            "/a",
            "a/",
            "/a b/",
            "/é/",
            &format!("/{}/", "a".repeat(511)),
        ] {
            assert_eq!(
                IamPath::parse(bad).unwrap_err().rule,
                Rule::RolePath,
                "{bad}"
            );
        }
    }

    #[test]
    fn role_arn_with_path() {
        let arn = RoleArn::parse("arn:aws:iam::123456789012:role/team/app").unwrap();
        assert_eq!(arn.partition(), Partition::Aws);
        assert_eq!(arn.account().as_str(), "123456789012");
        assert_eq!(arn.path().as_str(), "/team/");
        assert_eq!(arn.name().as_str(), "app");
        assert_eq!(arn.to_string(), "arn:aws:iam::123456789012:role/team/app");

        let flat = RoleArn::parse("arn:aws-cn:iam::123456789012:role/s3-access").unwrap();
        assert!(flat.path().is_root());
        assert_eq!(flat.name().as_str(), "s3-access");
    }

    #[test]
    fn bad_role_arns_name_the_broken_part() {
        let e = RoleArn::parse("arn:aws:iam::1234:role/app").unwrap_err();
        assert_eq!(e.rule, Rule::AccountId);
        assert_eq!(
            e.to_string(),
            "account ID in role ARN 'arn:aws:iam::1234:role/app' must be 12 digits, got '1234'"
        );
        assert_eq!(
            RoleArn::parse("arn:aws:iam::123456789012:role/")
                .unwrap_err()
                .rule,
            Rule::RoleName
        );
        assert_eq!(
            RoleArn::parse("arn:aws:iam::123456789012:role/a b")
                .unwrap_err()
                .rule,
            Rule::RoleName
        );
        assert_eq!(
            RoleArn::parse(&format!(
                "arn:aws:iam::123456789012:role/{}",
                "a".repeat(65)
            ))
            .unwrap_err()
            .rule,
            Rule::RoleName
        );
        assert_eq!(
            RoleArn::parse("arn:aws:iam::123456789012:role//app")
                .unwrap_err()
                .rule,
            Rule::RolePath
        );
        for shape in [
            "app",
            "arn:aws:iam::123456789012:user/app",
            "arn:aws:iam:eu-west-1:123456789012:role/app",
            "arn:aws:sts::123456789012:role/app",
            "arn:aws:iam::123456789012",
            "aws:iam::123456789012:role/app",
        ] {
            assert!(
                matches!(
                    RoleArn::parse(shape).unwrap_err().rule,
                    Rule::ArnShape { .. }
                ),
                "{shape}"
            );
        }
        assert_eq!(
            RoleArn::parse("arn:aws-iso:iam::123456789012:role/app")
                .unwrap_err()
                .rule,
            Rule::Partition
        );
    }

    #[test]
    fn assumed_role_arn_drops_the_path() {
        let role = RoleArn::parse("arn:aws:iam::123456789012:role/team/app").unwrap();
        let session = SessionName::parse("botocore-session-1").unwrap();
        let assumed = AssumedRoleArn::new(&role, session);
        assert_eq!(
            assumed.to_string(),
            "arn:aws:sts::123456789012:assumed-role/app/botocore-session-1"
        );
        assert_eq!(
            AssumedRoleArn::parse(&assumed.to_string()).unwrap(),
            assumed
        );
        assert!(AssumedRoleArn::parse("arn:aws:sts::123456789012:assumed-role/app").is_err());
        assert_eq!(
            AssumedRoleArn::parse("arn:aws:sts::123456789012:assumed-role/app/a:b")
                .unwrap_err()
                .rule,
            Rule::SessionName
        );
    }

    #[test]
    fn session_names() {
        assert!(is_valid_session_name("ab"));
        assert!(is_valid_session_name("user@example.com,x=y+z_1-2"));
        assert!(is_valid_session_name(&"a".repeat(64)));
        for bad in ["a", "", "Session1:2", "a b", "a/b", "é1"] {
            assert!(!is_valid_session_name(bad), "{bad}");
        }
        assert!(!is_valid_session_name(&"a".repeat(65)));
    }

    #[test]
    fn provider_arn_parses() {
        let s = "arn:aws:iam::123456789012:oidc-provider/s3.eu-west-1.amazonaws.com/123456789012-g8s-abc12-oidc-pod-identity";
        let arn = OidcProviderArn::parse(s).unwrap();
        assert_eq!(
            arn.host_path(),
            "s3.eu-west-1.amazonaws.com/123456789012-g8s-abc12-oidc-pod-identity"
        );
        assert_eq!(arn.to_string(), s);
        assert!(OidcProviderArn::parse("arn:aws:iam::123456789012:oidc-provider/").is_err());
        assert!(
            OidcProviderArn::parse("arn:aws:iam::123456789012:oidc-provider/https://x.example")
                .is_err()
        );
        assert!(
            OidcProviderArn::parse("arn:aws:iam::123456789012:oidc-provider/x.example/").is_err()
        );
    }

    #[test]
    fn serde_round_trip_through_strings() {
        let arn = RoleArn::parse("arn:aws:iam::123456789012:role/team/app").unwrap();
        let json = serde_json::to_string(&arn).unwrap();
        assert_eq!(json, "\"arn:aws:iam::123456789012:role/team/app\"");
        assert_eq!(serde_json::from_str::<RoleArn>(&json).unwrap(), arn);
        let err = serde_json::from_str::<AccountId>("\"1234\"").unwrap_err();
        assert!(err.to_string().contains("must be 12 digits"), "{err}");
    }

    fn account() -> impl Strategy<Value = AccountId> {
        "[0-9]{12}".prop_map(|s| AccountId::parse(&s).unwrap())
    }

    fn partition() -> impl Strategy<Value = Partition> {
        prop::sample::select(Partition::ALL.to_vec())
    }

    fn role_name() -> impl Strategy<Value = RoleName> {
        "[A-Za-z0-9_+=,.@-]{1,64}".prop_map(|s| RoleName::parse(&s).unwrap())
    }

    fn path() -> impl Strategy<Value = IamPath> {
        prop_oneof![
            Just(IamPath::root()),
            "(/[!-.0-~]{1,20}){1,5}/".prop_map(|s| IamPath::parse(&s).unwrap()),
        ]
    }

    proptest! {
        #[test]
        fn role_arn_round_trips(p in partition(), a in account(), path in path(), n in role_name()) {
            let arn = RoleArn::new(p, a, path, n);
            let text = arn.to_string();
            let back = RoleArn::parse(&text).unwrap();
            prop_assert_eq!(&back, &arn);
            prop_assert_eq!(back.to_string(), text);
        }

        #[test]
        fn assumed_role_arn_round_trips(
            p in partition(), a in account(), n in role_name(), s in "[A-Za-z0-9_+=,.@-]{2,64}"
        ) {
            let role = RoleArn::new(p, a, IamPath::root(), n);
            let arn = AssumedRoleArn::new(&role, SessionName::parse(&s).unwrap());
            let text = arn.to_string();
            prop_assert_eq!(AssumedRoleArn::parse(&text).unwrap().to_string(), text);
        }

        #[test]
        fn wrong_length_accounts_are_rejected(s in "[0-9]{0,11}|[0-9]{13,20}") {
            prop_assert_eq!(AccountId::parse(&s).unwrap_err().rule, Rule::AccountId);
        }

        #[test]
        fn non_digit_accounts_are_rejected(
            digits in "[0-9]{12}", at in 0usize..12, bad in "[^0-9]"
        ) {
            let mut chars: Vec<char> = digits.chars().collect();
            chars[at] = bad.chars().next().unwrap();
            let s: String = chars.into_iter().collect();
            prop_assert_eq!(AccountId::parse(&s).unwrap_err().rule, Rule::AccountId);
        }

        #[test]
        fn role_names_with_other_characters_are_rejected(
            pre in "[a-z]{0,10}", bad in "[^A-Za-z0-9_+=,.@-]", post in "[a-z]{0,10}"
        ) {
            let name = format!("{pre}{bad}{post}");
            prop_assert!(RoleName::parse(&name).is_err());
        }

        #[test]
        fn parsing_arbitrary_text_never_panics(s in "\\PC{0,80}") {
            let _ = RoleArn::parse(&s);
            let _ = AssumedRoleArn::parse(&s);
            let _ = OidcProviderArn::parse(&s);
            let _ = Region::parse(&s);
        }
    }
}
