//! Validation errors shared by every value type of the crate.
//!
//! Every rejected input becomes one [`InvalidValue`]: *which* input, *what* it was and
//! *which rule* it broke, e.g. `account ID must be 12 digits, got '1234'`. The input's
//! label is data, not baked into the text, so a front end can say which of *its* inputs
//! was wrong without string surgery: the CLI turns the message above into
//! `--account must be 12 digits, got '1234'` with [`InvalidValue::for_input`].
//!
//! When a value is part of a bigger one (the account inside a role ARN), the error keeps
//! both: `account in role ARN 'arn:aws:iam::1234:role/app' must be 12 digits, got '1234'`.

use std::borrow::Cow;
use std::fmt;

/// Longest value quoted back in a message; longer ones are cut with `…`.
const MAX_QUOTED_CHARS: usize = 200;

/// The rule a value broke. Its text reads after the input's name ("must be …").
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Rule {
    /// AWS account IDs are exactly twelve ASCII digits.
    #[error("must be 12 digits")]
    AccountId,
    /// Region shape, e.g. `eu-west-1`, `us-gov-west-1`, `cn-north-1`.
    #[error(
        "must be an AWS region such as 'eu-west-1', 'us-gov-west-1' or 'cn-north-1' \
         (lowercase words separated by '-', ending in a number)"
    )]
    Region,
    /// ISO (air-gapped) partitions have other DNS suffixes and are out of scope.
    #[error("is in an ISO partition (us-iso*, eu-isoe*), which irsa does not support")]
    IsoRegion,
    /// Partition names.
    #[error("must be one of 'aws', 'aws-cn', 'aws-us-gov'")]
    Partition,
    /// IAM role names.
    #[error("must be 1 to 64 characters of letters, digits and '_+=,.@-'")]
    RoleName,
    /// IAM paths.
    #[error(
        "must be '/' or start and end with '/', at most 512 characters of printable ASCII \
         without spaces"
    )]
    RolePath,
    /// STS role session names.
    #[error("must be 2 to 64 characters of letters, digits and '_+=,.@-'")]
    SessionName,
    /// The fixed shape of an ARN kind; `expected` shows it with placeholders.
    #[error("must look like '{expected}'")]
    ArnShape {
        /// The shape, e.g. `arn:PARTITION:iam::ACCOUNT:role/[PATH/]NAME`.
        expected: &'static str,
    },
    /// Kubernetes namespace names (DNS-1123 label).
    #[error(
        "must be a DNS-1123 label: 1 to 63 lowercase letters, digits or '-', \
         starting and ending with a letter or digit"
    )]
    Namespace,
    /// Kubernetes service account names (DNS-1123 subdomain).
    #[error(
        "must be a DNS-1123 subdomain: 1 to 253 lowercase letters, digits, '-' or '.', \
         each '.'-separated part starting and ending with a letter or digit"
    )]
    ServiceAccountName,
    /// A pattern for names with `*`/`?` wildcards.
    #[error(
        "must be a name or a pattern of at most {max} characters using '*', '?' and \
         {allowed}"
    )]
    NamePattern {
        /// Longest allowed pattern.
        max: usize,
        /// The characters allowed besides the wildcards.
        allowed: &'static str,
    },
    /// Service account subjects.
    #[error("must look like 'system:serviceaccount:NAMESPACE:NAME'")]
    Subject,
    /// Cluster IDs, bounded so the bucket name stays a valid S3 bucket name.
    #[error(
        "must be 1 to 28 lowercase letters, digits or '-' (not first or last), so that the \
         bucket 'ACCOUNT-g8s-CLUSTER-oidc-pod-identity' fits S3's 63 characters"
    )]
    ClusterId,
    /// The issuer URL scheme.
    #[error("must start with 'https://'")]
    IssuerScheme,
    /// Issuer URLs cannot carry a port: IAM rejects them and STS could not match them.
    #[error("must not contain a port (IAM OIDC provider URLs cannot have one)")]
    IssuerPort,
    /// No query string.
    #[error("must not contain a query ('?')")]
    IssuerQuery,
    /// No fragment.
    #[error("must not contain a fragment ('#')")]
    IssuerFragment,
    /// No user info.
    #[error("must not contain user info ('user@')")]
    IssuerUserInfo,
    /// A trailing slash makes a different issuer string.
    #[error(
        "must not end with '/': STS compares the token's 'iss' with the provider URL byte \
         for byte, so 'https://host/path/' is a different issuer from 'https://host/path'"
    )]
    IssuerTrailingSlash,
    /// Host names.
    #[error(
        "must have a lowercase host name of '.'-separated labels (letters, digits, '-'), \
         at most 253 characters"
    )]
    IssuerHost,
    /// Path segments.
    #[error(
        "must have a path of non-empty segments of letters, digits and \
         \"-._~!$&'()*+,;=:@%\""
    )]
    IssuerPath,
    /// IAM's URL length limit.
    #[error("must be at most 255 characters (IAM's limit for an OIDC provider URL)")]
    IssuerLength,
    /// Loopback issuers for `irsa local`.
    #[error(
        "must be 'http(s)://127.0.0.1:PORT[/PATH]', 'http(s)://localhost:PORT[/PATH]' or \
         'http(s)://[::1]:PORT[/PATH]' (a loopback issuer with a port)"
    )]
    LocalIssuer,
    /// The partition implied by an S3 issuer host differs from the one requested.
    #[error("is hosted in partition '{hosted}', but partition '{requested}' was requested")]
    IssuerPartition {
        /// Partition of the issuer's S3 host.
        hosted: crate::aws::Partition,
        /// Partition asked for (from the region).
        requested: crate::aws::Partition,
    },
    /// Audience values (OIDC client IDs).
    #[error("must be 1 to 255 printable ASCII characters without spaces")]
    Audience,
}

/// The bigger value an invalid part was found in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Within {
    /// Label of the bigger value, e.g. `role ARN`.
    pub input: Cow<'static, str>,
    /// The whole bigger value as given.
    pub value: String,
}

/// A value that broke a rule; see the module docs for the message shape.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct InvalidValue {
    /// Label of the input, e.g. `account ID`, or a flag such as `--account`.
    pub input: Cow<'static, str>,
    /// The offending value as given.
    pub value: String,
    /// The rule it broke.
    #[source]
    pub rule: Rule,
    /// The bigger value this one was part of, if any.
    pub within: Option<Box<Within>>,
}

impl InvalidValue {
    /// An error for `value` given as `input` that broke `rule`.
    pub fn new(input: impl Into<Cow<'static, str>>, value: impl Into<String>, rule: Rule) -> Self {
        Self {
            input: input.into(),
            value: value.into(),
            rule,
            within: None,
        }
    }

    /// Records that the value was a part of `whole`, given as `input`.
    #[must_use]
    pub fn within(mut self, input: impl Into<Cow<'static, str>>, whole: impl Into<String>) -> Self {
        self.within = Some(Box::new(Within {
            input: input.into(),
            value: whole.into(),
        }));
        self
    }

    /// Renames the input the user gave (the outermost one) to `label`, e.g. a flag name:
    /// `account ID must be …` becomes `--account must be …`, and
    /// `account in role ARN '…' must be …` becomes `account in --role-arn '…' must be …`.
    #[must_use]
    pub fn for_input(mut self, label: impl Into<Cow<'static, str>>) -> Self {
        match &mut self.within {
            Some(within) => within.input = label.into(),
            None => self.input = label.into(),
        }
        self
    }
}

impl fmt::Display for InvalidValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.input)?;
        if let Some(within) = &self.within {
            write!(f, " in {} '{}'", within.input, Quoted(&within.value))?;
        }
        write!(f, " {}, got '{}'", self.rule, Quoted(&self.value))
    }
}

/// A value quoted back to the user: escaped so that the message stays on one line, and cut
/// when it is very long.
struct Quoted<'a>(&'a str);

impl fmt::Display for Quoted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut chars = self.0.chars();
        for c in chars.by_ref().take(MAX_QUOTED_CHARS) {
            write!(f, "{}", c.escape_debug())?;
        }
        if chars.next().is_some() {
            f.write_str("…")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_names_input_rule_and_value() {
        let e = InvalidValue::new("account ID", "1234", Rule::AccountId);
        assert_eq!(e.to_string(), "account ID must be 12 digits, got '1234'");
        assert_eq!(
            e.for_input("--account").to_string(),
            "--account must be 12 digits, got '1234'"
        );
    }

    #[test]
    fn nested_value_names_the_whole_and_relabels_the_outer_input() {
        let e = InvalidValue::new("account", "1234", Rule::AccountId)
            .within("role ARN", "arn:aws:iam::1234:role/app");
        assert_eq!(
            e.to_string(),
            "account in role ARN 'arn:aws:iam::1234:role/app' must be 12 digits, got '1234'"
        );
        assert_eq!(
            e.for_input("--role-arn").to_string(),
            "account in --role-arn 'arn:aws:iam::1234:role/app' must be 12 digits, got '1234'"
        );
    }

    #[test]
    fn quoted_values_stay_on_one_line_and_are_bounded() {
        let e = InvalidValue::new("namespace", "a\nb", Rule::Namespace);
        assert!(!e.to_string().contains('\n'), "{e}");
        assert!(e.to_string().contains(r"a\nb"));
        let long = "x".repeat(1000);
        let e = InvalidValue::new("namespace", long, Rule::Namespace);
        assert!(e.to_string().len() < 600, "{}", e.to_string().len());
        assert!(e.to_string().ends_with("…'"));
    }
}
