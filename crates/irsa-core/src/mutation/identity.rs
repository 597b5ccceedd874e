//! A ServiceAccount's IRSA settings, read from its annotations exactly as upstream reads them.
//!
//! Only the parsed values are kept (not the whole object): the webhook caches one of these per
//! ServiceAccount, and upstream ran out of memory caching whole objects on large clusters.
//! Malformed values never fail: like upstream they fall back to the flag default, so a typo
//! in one annotation cannot stop pods from being admitted.

use std::collections::BTreeMap;

use super::config::MIN_TOKEN_EXPIRATION;

/// Annotation suffix of the role ARN.
pub const ANNOTATION_ROLE_ARN: &str = "role-arn";
/// Annotation suffix of the token audience.
pub const ANNOTATION_AUDIENCE: &str = "audience";
/// Annotation suffix of the regional-STS switch (note the plural, unlike the flag).
pub const ANNOTATION_STS_REGIONAL_ENDPOINTS: &str = "sts-regional-endpoints";
/// Annotation suffix of the token expiration (ServiceAccount and Pod).
pub const ANNOTATION_TOKEN_EXPIRATION: &str = "token-expiration";
/// Pod annotation suffix listing containers to leave alone.
pub const ANNOTATION_SKIP_CONTAINERS: &str = "skip-containers";

/// IRSA settings of one ServiceAccount. `None` means "not set (or unparseable): use the flag".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServiceAccountIdentity {
    /// `<prefix>/role-arn`; an empty value counts as absent (no mutation), as upstream.
    pub role_arn: Option<String>,
    /// `<prefix>/audience`; any value, even empty, overrides `--token-audience`.
    pub audience: Option<String>,
    /// `<prefix>/sts-regional-endpoints`, parsed like Go's `strconv.ParseBool`.
    pub sts_regional_endpoints: Option<bool>,
    /// `<prefix>/token-expiration` in seconds, already raised to the 600 s minimum.
    pub token_expiration: Option<i64>,
}

impl ServiceAccountIdentity {
    /// Reads the settings from a ServiceAccount's annotations under `prefix`.
    ///
    /// Malformed `sts-regional-endpoints` or `token-expiration` values are ignored (the flag
    /// applies), a valid expiration below 600 s becomes 600 s, and the role ARN is kept
    /// verbatim (upstream only logs a warning when it does not look like a role ARN).
    #[must_use]
    pub fn from_annotations(prefix: &str, annotations: &BTreeMap<String, String>) -> Self {
        Self::from_suffixed(annotations.iter().filter_map(|(key, value)| {
            let suffix = key.strip_prefix(prefix)?.strip_prefix('/')?;
            Some((suffix, std::borrow::Cow::Borrowed(value.as_str())))
        }))
    }

    /// The same reading from `(suffix, value)` pairs of the annotations under the prefix,
    /// the prefix already stripped (each suffix at most once, as in an object's annotation
    /// map). The webhook's ServiceAccount cache keeps only these pairs, in its own packed
    /// form, and builds the identity straight from them on every admission.
    #[must_use]
    pub fn from_suffixed<'a>(
        pairs: impl IntoIterator<Item = (&'a str, std::borrow::Cow<'a, str>)>,
    ) -> Self {
        let mut identity = Self::default();
        for (suffix, value) in pairs {
            match suffix {
                ANNOTATION_ROLE_ARN => {
                    identity.role_arn = Some(value.into_owned()).filter(|v| !v.is_empty());
                }
                ANNOTATION_AUDIENCE => identity.audience = Some(value.into_owned()),
                ANNOTATION_STS_REGIONAL_ENDPOINTS => {
                    identity.sts_regional_endpoints = parse_go_bool(&value);
                }
                ANNOTATION_TOKEN_EXPIRATION => {
                    identity.token_expiration = parse_expiration(&value);
                }
                _ => {}
            }
        }
        identity
    }

    /// Whether this ServiceAccount asks for STS web-identity injection.
    #[must_use]
    pub fn has_role(&self) -> bool {
        self.role_arn.as_deref().is_some_and(|r| !r.is_empty())
    }
}

/// Go `strconv.ParseBool`: `1 t T TRUE true True` / `0 f F FALSE false False`, nothing else.
#[must_use]
pub fn parse_go_bool(s: &str) -> Option<bool> {
    match s {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

/// Go `strconv.ParseInt(s, 10, 64)` then the 600 s floor: `"3600"` → 3600, `"0"` → 600,
/// `"-5"` → 600, `"1h"`/`" 60"`/`""` → `None`.
#[must_use]
pub fn parse_expiration(s: &str) -> Option<i64> {
    // Rust's i64 parser accepts exactly Go's base-10 syntax: optional sign, ASCII digits,
    // no whitespace, no underscores, overflow is an error.
    s.parse::<i64>().ok().map(|v| v.max(MIN_TOKEN_EXPIRATION))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn annotations(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn reads_all_four_annotations_under_the_prefix() {
        let a = annotations(&[
            (
                "eks.amazonaws.com/role-arn",
                "arn:aws:iam::111122223333:role/r",
            ),
            ("eks.amazonaws.com/audience", "custom"),
            ("eks.amazonaws.com/sts-regional-endpoints", "True"),
            ("eks.amazonaws.com/token-expiration", "3600"),
            ("other.example/role-arn", "ignored"),
        ]);
        let id = ServiceAccountIdentity::from_annotations("eks.amazonaws.com", &a);
        assert_eq!(
            id.role_arn.as_deref(),
            Some("arn:aws:iam::111122223333:role/r")
        );
        assert_eq!(id.audience.as_deref(), Some("custom"));
        assert_eq!(id.sts_regional_endpoints, Some(true));
        assert_eq!(id.token_expiration, Some(3600));
        assert!(id.has_role());
    }

    #[test]
    fn suffixed_pairs_read_like_the_annotation_map() {
        let a = annotations(&[
            (
                "eks.amazonaws.com/role-arn",
                "arn:aws:iam::111122223333:role/r",
            ),
            ("eks.amazonaws.com/audience", ""),
            ("eks.amazonaws.com/sts-regional-endpoints", "0"),
            ("eks.amazonaws.com/token-expiration", "30"),
            ("eks.amazonaws.com/custom", "x"),
            ("eks.amazonaws.comx/role-arn", "not under the prefix"),
        ]);
        let pairs = [
            ("role-arn", "arn:aws:iam::111122223333:role/r"),
            ("audience", ""),
            ("sts-regional-endpoints", "0"),
            ("token-expiration", "30"),
            ("custom", "x"),
        ];
        let from_pairs = ServiceAccountIdentity::from_suffixed(
            pairs
                .iter()
                .map(|(k, v)| (*k, std::borrow::Cow::Borrowed(*v))),
        );
        assert_eq!(
            from_pairs,
            ServiceAccountIdentity::from_annotations("eks.amazonaws.com", &a)
        );
        assert_eq!(from_pairs.token_expiration, Some(600));
        assert_eq!(from_pairs.sts_regional_endpoints, Some(false));
    }

    #[test]
    fn custom_prefix_is_honoured() {
        let a = annotations(&[("corp.example/role-arn", "arn:aws:iam::111122223333:role/r")]);
        assert!(ServiceAccountIdentity::from_annotations("corp.example", &a).has_role());
        assert!(!ServiceAccountIdentity::from_annotations("eks.amazonaws.com", &a).has_role());
    }

    #[test]
    fn malformed_values_fall_back_and_small_expirations_are_raised() {
        let a = annotations(&[
            ("eks.amazonaws.com/role-arn", ""),
            ("eks.amazonaws.com/audience", ""),
            ("eks.amazonaws.com/sts-regional-endpoints", "yes"),
            ("eks.amazonaws.com/token-expiration", "1h"),
        ]);
        let id = ServiceAccountIdentity::from_annotations("eks.amazonaws.com", &a);
        assert_eq!(id.role_arn, None);
        assert!(!id.has_role());
        assert_eq!(id.audience.as_deref(), Some(""));
        assert_eq!(id.sts_regional_endpoints, None);
        assert_eq!(id.token_expiration, None);
        assert_eq!(parse_expiration("0"), Some(600));
        assert_eq!(parse_expiration("-7"), Some(600));
        assert_eq!(parse_expiration("+700"), Some(700));
        assert_eq!(parse_expiration(" 700"), None);
        assert_eq!(parse_expiration("1_000"), None);
        assert_eq!(parse_expiration("99999999999999999999"), None);
    }

    #[test]
    fn go_parse_bool_accepts_exactly_go_spellings() {
        for t in ["1", "t", "T", "TRUE", "true", "True"] {
            assert_eq!(parse_go_bool(t), Some(true), "{t}");
        }
        for f in ["0", "f", "F", "FALSE", "false", "False"] {
            assert_eq!(parse_go_bool(f), Some(false), "{f}");
        }
        for bad in ["", "yes", "no", "tRUE", " true"] {
            assert_eq!(parse_go_bool(bad), None, "{bad}");
        }
    }
}
