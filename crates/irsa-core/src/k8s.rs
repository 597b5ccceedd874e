//! Kubernetes names and the token subject `system:serviceaccount:NAMESPACE:NAME`.
//!
//! The subject is what a trust policy's `:sub` condition compares with the token, so a
//! namespace or service account name that Kubernetes would never accept produces a role
//! nobody can assume. Validating with Kubernetes' own rules (namespace: DNS-1123 label;
//! service account: DNS-1123 subdomain) turns that silent failure into an error.
//!
//! [`SubjectPattern`] is the trust-policy side: the same names, but `*` and `?` are
//! allowed as IAM `StringLike` wildcards, with every other character still checked.

use std::fmt;

use crate::error::{InvalidValue, Rule};

/// Prefix of every service account subject.
pub const SUBJECT_PREFIX: &str = "system:serviceaccount:";

/// Whether `s` is a DNS-1123 label: `[a-z0-9]([-a-z0-9]*[a-z0-9])?`, at most 63 characters.
pub fn is_dns1123_label(s: &str) -> bool {
    let b = s.as_bytes();
    (1..=63).contains(&b.len())
        && b.iter()
            .all(|&c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-')
        && b.first() != Some(&b'-')
        && b.last() != Some(&b'-')
}

/// Whether `s` is a DNS-1123 subdomain: `.`-separated DNS-1123 labels, at most 253 characters.
pub fn is_dns1123_subdomain(s: &str) -> bool {
    (1..=253).contains(&s.len()) && s.split('.').all(is_dns1123_label)
}

/// A Kubernetes namespace name (DNS-1123 label).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Namespace(String);

impl Namespace {
    /// Validates a namespace name.
    pub fn parse(s: &str) -> Result<Self, InvalidValue> {
        if is_dns1123_label(s) {
            Ok(Self(s.to_owned()))
        } else {
            Err(InvalidValue::new("namespace", s, Rule::Namespace))
        }
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

string_value!(Namespace);

/// A Kubernetes service account name (DNS-1123 subdomain).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ServiceAccountName(String);

impl ServiceAccountName {
    /// Validates a service account name.
    pub fn parse(s: &str) -> Result<Self, InvalidValue> {
        if is_dns1123_subdomain(s) {
            Ok(Self(s.to_owned()))
        } else {
            Err(InvalidValue::new(
                "service account",
                s,
                Rule::ServiceAccountName,
            ))
        }
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

string_value!(ServiceAccountName);

/// The subject of a service account token, `system:serviceaccount:NAMESPACE:NAME`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ServiceAccountSubject {
    namespace: Namespace,
    name: ServiceAccountName,
}

impl ServiceAccountSubject {
    /// The subject of service account `name` in `namespace`.
    pub fn new(namespace: Namespace, name: ServiceAccountName) -> Self {
        Self { namespace, name }
    }

    /// Parses `system:serviceaccount:NAMESPACE:NAME`.
    pub fn parse(s: &str) -> Result<Self, InvalidValue> {
        const LABEL: &str = "service account subject";
        let (namespace, name) = s
            .strip_prefix(SUBJECT_PREFIX)
            .and_then(|rest| rest.split_once(':'))
            .ok_or_else(|| InvalidValue::new(LABEL, s, Rule::Subject))?;
        Ok(Self {
            namespace: Namespace::parse(namespace).map_err(|e| e.within(LABEL, s))?,
            name: ServiceAccountName::parse(name).map_err(|e| e.within(LABEL, s))?,
        })
    }

    /// The namespace.
    pub fn namespace(&self) -> &Namespace {
        &self.namespace
    }

    /// The service account's name.
    pub fn name(&self) -> &ServiceAccountName {
        &self.name
    }
}

impl fmt::Display for ServiceAccountSubject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{SUBJECT_PREFIX}{}:{}", self.namespace, self.name)
    }
}

string_value!(@parse ServiceAccountSubject);

/// Whether `s` contains an IAM `StringLike` wildcard (`*` or `?`).
pub fn has_wildcard(s: &str) -> bool {
    s.contains(['*', '?'])
}

/// Validates one side of a pattern: an exact name by `exact`, a wildcard pattern by its
/// characters and length only.
fn check_pattern(
    label: &'static str,
    s: &str,
    exact: fn(&str) -> Result<(), InvalidValue>,
    allowed: fn(u8) -> bool,
    max: usize,
    allowed_text: &'static str,
) -> Result<(), InvalidValue> {
    if !has_wildcard(s) {
        return exact(s);
    }
    let ok = s.len() <= max && s.bytes().all(|b| b == b'*' || b == b'?' || allowed(b));
    if ok {
        Ok(())
    } else {
        Err(InvalidValue::new(
            label,
            s,
            Rule::NamePattern {
                max,
                allowed: allowed_text,
            },
        ))
    }
}

/// A trust-policy subject: a namespace and a service account name, either of which may
/// use the IAM `StringLike` wildcards `*` (any run of characters) and `?` (one character).
///
/// Without wildcards both sides are checked as real Kubernetes names; with them, every
/// non-wildcard character must still be one Kubernetes allows there.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SubjectPattern {
    namespace: String,
    service_account: String,
}

impl SubjectPattern {
    /// Validates a namespace (pattern) and a service account (pattern).
    pub fn new(namespace: &str, service_account: &str) -> Result<Self, InvalidValue> {
        check_pattern(
            "namespace",
            namespace,
            |s| Namespace::parse(s).map(drop),
            |b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-',
            63,
            "lowercase letters, digits or '-'",
        )?;
        check_pattern(
            "service account",
            service_account,
            |s| ServiceAccountName::parse(s).map(drop),
            |b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.',
            253,
            "lowercase letters, digits, '-' or '.'",
        )?;
        Ok(Self {
            namespace: namespace.to_owned(),
            service_account: service_account.to_owned(),
        })
    }

    /// Parses `system:serviceaccount:NAMESPACE:NAME` where either part may be a pattern.
    pub fn parse(s: &str) -> Result<Self, InvalidValue> {
        const LABEL: &str = "service account subject";
        let (namespace, name) = s
            .strip_prefix(SUBJECT_PREFIX)
            .and_then(|rest| rest.split_once(':'))
            .ok_or_else(|| InvalidValue::new(LABEL, s, Rule::Subject))?;
        Self::new(namespace, name).map_err(|e| e.within(LABEL, s))
    }

    /// The namespace or namespace pattern.
    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// The service account name or pattern.
    pub fn service_account(&self) -> &str {
        &self.service_account
    }

    /// Whether either side uses `*` or `?` (the condition then needs `StringLike`).
    pub fn is_wildcard(&self) -> bool {
        has_wildcard(&self.namespace) || has_wildcard(&self.service_account)
    }

    /// The exact subject, when there are no wildcards.
    pub fn exact(&self) -> Option<ServiceAccountSubject> {
        if self.is_wildcard() {
            return None;
        }
        let namespace = Namespace::parse(&self.namespace).ok()?;
        let name = ServiceAccountName::parse(&self.service_account).ok()?;
        Some(ServiceAccountSubject::new(namespace, name))
    }
}

impl From<ServiceAccountSubject> for SubjectPattern {
    fn from(subject: ServiceAccountSubject) -> Self {
        Self {
            namespace: subject.namespace.0,
            service_account: subject.name.0,
        }
    }
}

impl fmt::Display for SubjectPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{SUBJECT_PREFIX}{}:{}",
            self.namespace, self.service_account
        )
    }
}

string_value!(@parse SubjectPattern);

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn namespaces_are_dns1123_labels() {
        for ok in ["default", "kube-system", "a", "0", &"a".repeat(63)] {
            assert!(Namespace::parse(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "-a",
            "a-",
            "Default",
            "a.b",
            "a_b",
            "ä",
            &"a".repeat(64),
        ] {
            let e = Namespace::parse(bad).unwrap_err();
            assert_eq!(e.rule, Rule::Namespace, "{bad}");
        }
    }

    #[test]
    fn service_accounts_are_dns1123_subdomains() {
        for ok in [
            "s3-access",
            "a.b.c",
            "default",
            &format!("{}.{}", "a".repeat(63), "b".repeat(63)),
        ] {
            assert!(ServiceAccountName::parse(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            ".a",
            "a.",
            "a..b",
            "A",
            "a_b",
            "a:b",
            "a-.b",
            &"a".repeat(64),
            &"a.".repeat(127),
        ] {
            let e = ServiceAccountName::parse(bad).unwrap_err();
            assert_eq!(e.rule, Rule::ServiceAccountName, "{bad}");
        }
    }

    #[test]
    fn subjects_format_and_parse() {
        let s = ServiceAccountSubject::new(
            Namespace::parse("default").unwrap(),
            ServiceAccountName::parse("s3-access").unwrap(),
        );
        assert_eq!(s.to_string(), "system:serviceaccount:default:s3-access");
        assert_eq!(ServiceAccountSubject::parse(&s.to_string()).unwrap(), s);
        assert_eq!(
            ServiceAccountSubject::parse("system:serviceaccount:default")
                .unwrap_err()
                .rule,
            Rule::Subject
        );
        let e = ServiceAccountSubject::parse("system:serviceaccount:Default:x").unwrap_err();
        assert_eq!(e.rule, Rule::Namespace);
        assert!(
            e.to_string()
                .starts_with("namespace in service account subject"),
            "{e}"
        );
        assert_eq!(
            ServiceAccountSubject::parse("system:serviceaccount:a:b:c")
                .unwrap_err()
                .rule,
            Rule::ServiceAccountName
        );
    }

    #[test]
    fn patterns_allow_wildcards_but_check_other_characters() {
        let p = SubjectPattern::new("*", "app-*").unwrap();
        assert!(p.is_wildcard());
        assert_eq!(p.to_string(), "system:serviceaccount:*:app-*");
        assert!(p.exact().is_none());
        assert!(SubjectPattern::new("team-?", "*").unwrap().is_wildcard());

        let exact = SubjectPattern::new("default", "s3-access").unwrap();
        assert!(!exact.is_wildcard());
        assert_eq!(
            exact.exact().unwrap().to_string(),
            "system:serviceaccount:default:s3-access"
        );

        assert!(matches!(
            SubjectPattern::new("*", "App-*").unwrap_err().rule,
            Rule::NamePattern { .. }
        ));
        assert!(matches!(
            SubjectPattern::new("a.b*", "x").unwrap_err().rule,
            Rule::NamePattern { .. }
        ));
        assert_eq!(
            SubjectPattern::new("Default", "x").unwrap_err().rule,
            Rule::Namespace
        );
        assert_eq!(
            SubjectPattern::new("default", "x_y").unwrap_err().rule,
            Rule::ServiceAccountName
        );
        assert_eq!(
            SubjectPattern::parse("system:serviceaccount:*:app-*").unwrap(),
            p
        );
    }

    proptest! {
        #[test]
        fn subject_round_trips(ns in "[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?", sa in "[a-z0-9]([a-z0-9.-]{0,30}[a-z0-9])?") {
            prop_assume!(is_dns1123_subdomain(&sa));
            let s = ServiceAccountSubject::new(Namespace::parse(&ns).unwrap(), ServiceAccountName::parse(&sa).unwrap());
            let text = s.to_string();
            prop_assert_eq!(ServiceAccountSubject::parse(&text).unwrap(), s.clone());
            prop_assert_eq!(SubjectPattern::parse(&text).unwrap().exact(), Some(s));
        }

        #[test]
        fn names_with_uppercase_are_rejected(pre in "[a-z]{0,5}", up in "[A-Z]", post in "[a-z]{0,5}") {
            let name = format!("{pre}{up}{post}");
            prop_assert!(Namespace::parse(&name).is_err());
            prop_assert!(ServiceAccountName::parse(&name).is_err());
            prop_assert!(SubjectPattern::new(&name, "x").is_err());
            let pattern = format!("{name}*");
            prop_assert!(SubjectPattern::new(&pattern, "x").is_err());
        }

        #[test]
        fn parsing_arbitrary_subjects_never_panics(s in "\\PC{0,80}") {
            let _ = ServiceAccountSubject::parse(&s);
            let _ = SubjectPattern::parse(&s);
        }
    }
}
