//! kiam's annotations, and how its role references become IAM role ARNs.
//!
//! kiam (the node-level credentials proxy IRSA replaces) reads the role from the pod
//! annotation `iam.amazonaws.com/role` and restricts roles per namespace with the regular
//! expression in `iam.amazonaws.com/permitted`. The role may be written three ways: a bare
//! name (`app`), a name under a path (`team/app`, kiam puts it under
//! `arn:aws:iam::ACCOUNT:role/`), or a full ARN. IRSA only accepts the full ARN, so
//! `irsa migrate kiam` and `irsa doctor` both expand the short forms with
//! [`role_arn`], the one place that rule lives.

use crate::aws::{AccountId, Partition, RoleArn};
use crate::error::InvalidValue;

/// Pod annotation naming the role kiam assumes for the pod.
pub const ROLE_ANNOTATION: &str = "iam.amazonaws.com/role";
/// Namespace annotation: a regular expression of the roles kiam allows in the namespace.
pub const PERMITTED_ANNOTATION: &str = "iam.amazonaws.com/permitted";

/// The full role ARN a kiam role reference means: a full ARN is parsed as it is; a name or
/// `path/name` (a leading `/` is allowed, as kiam allows it) is put under
/// `arn:PARTITION:iam::ACCOUNT:role/`.
///
/// ```
/// use irsa_core::aws::{AccountId, Partition};
/// use irsa_core::kiam::role_arn;
///
/// let account = AccountId::parse("123456789012")?;
/// let arn = role_arn("team/app", Partition::Aws, &account)?;
/// assert_eq!(arn.to_string(), "arn:aws:iam::123456789012:role/team/app");
/// # Ok::<(), irsa_core::InvalidValue>(())
/// ```
pub fn role_arn(
    value: &str,
    partition: Partition,
    account: &AccountId,
) -> Result<RoleArn, InvalidValue> {
    if value.starts_with("arn:") {
        return RoleArn::parse(value).map_err(|e| e.for_input("kiam role"));
    }
    let relative = value.strip_prefix('/').unwrap_or(value);
    RoleArn::parse(&format!("arn:{partition}:iam::{account}:role/{relative}"))
        .map_err(|e| e.within("kiam role", value))
}

/// Whether a role reference is a full ARN rather than a name kiam expands.
#[must_use]
pub fn is_full_arn(value: &str) -> bool {
    value.starts_with("arn:")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn account() -> AccountId {
        AccountId::parse("123456789012").expect("account")
    }

    #[test]
    fn names_paths_and_arns() {
        let a = account();
        let cases = [
            ("app", "arn:aws:iam::123456789012:role/app"),
            ("/app", "arn:aws:iam::123456789012:role/app"),
            ("team/app", "arn:aws:iam::123456789012:role/team/app"),
            (
                "/team/sub/app",
                "arn:aws:iam::123456789012:role/team/sub/app",
            ),
            (
                "arn:aws:iam::222222222222:role/x/y",
                "arn:aws:iam::222222222222:role/x/y",
            ),
        ];
        for (input, want) in cases {
            let got = role_arn(input, Partition::Aws, &a).expect(input);
            assert_eq!(got.to_string(), want, "{input}");
        }
        let cn = role_arn("app", Partition::AwsCn, &a).expect("cn");
        assert_eq!(cn.to_string(), "arn:aws-cn:iam::123456789012:role/app");
    }

    #[test]
    fn bad_references_name_the_reference() {
        let a = account();
        for bad in [
            "",
            "a b",
            "team/",
            "arn:aws:iam::1:role/x",
            "arn:aws:s3:::bucket",
        ] {
            let err = role_arn(bad, Partition::Aws, &a).expect_err(bad);
            assert!(err.to_string().contains("kiam role"), "{bad}: {err}");
        }
    }
}
