//! The request side of an evaluation: action, calling principal and condition keys.
//!
//! Condition key names are case-insensitive in IAM, so keys are stored lower-cased once here and
//! the policy side pre-lowers its keys at parse time; a lookup is then a plain comparison. A
//! request has a handful of keys, so a vector beats a hash map.

use crate::policy::PrincipalType;

/// Everything a trust policy can look at for one request.
///
/// Build it with [`RequestContext::web_identity`] for `AssumeRoleWithWebIdentity`, or from
/// [`RequestContext::new`] with the `with_*` methods.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestContext {
    action: String,
    principal: Option<(PrincipalType, String)>,
    resource: Option<String>,
    /// (lower-cased key, original key, values)
    /// (lower-cased key, the key as given when that differs, values).
    keys: Vec<(String, Option<String>, Vec<String>)>,
}

impl RequestContext {
    /// A request for `action` (e.g. `sts:AssumeRoleWithWebIdentity`) with no principal and no keys.
    pub fn new(action: impl Into<String>) -> Self {
        RequestContext {
            action: action.into(),
            principal: None,
            resource: None,
            keys: Vec::new(),
        }
    }

    /// The context STS builds for `AssumeRoleWithWebIdentity`:
    /// principal `Federated` = `provider_arn`, and the keys `<provider_url>:sub`,
    /// `<provider_url>:aud` and `aws:FederatedProvider`.
    ///
    /// `provider_url` is the provider's URL **without** `https://`
    /// (e.g. `s3.eu-west-1.amazonaws.com/000000000000-g8s-demo-oidc-pod-identity`), exactly the
    /// prefix trust policies use. Add `:amr`, `:azp` or `sts:RoleSessionName` with
    /// [`RequestContext::with_value`]/[`RequestContext::with_values`].
    pub fn web_identity(provider_arn: &str, provider_url: &str, sub: &str, aud: &str) -> Self {
        let url = provider_url
            .strip_prefix("https://")
            .unwrap_or(provider_url);
        RequestContext::new("sts:AssumeRoleWithWebIdentity")
            .with_principal(PrincipalType::Federated, provider_arn)
            .with_value(format!("{url}:sub"), sub)
            .with_value(format!("{url}:aud"), aud)
            .with_value("aws:FederatedProvider", provider_arn)
    }

    /// Sets the calling principal.
    pub fn with_principal(mut self, kind: PrincipalType, value: impl Into<String>) -> Self {
        self.principal = Some((kind, value.into()));
        self
    }

    /// Sets the resource (only consulted by statements that have a `Resource`/`NotResource`;
    /// trust policies have none).
    pub fn with_resource(mut self, resource: impl Into<String>) -> Self {
        self.resource = Some(resource.into());
        self
    }

    /// Adds one value to a condition key (keys are case-insensitive; adding twice makes the key
    /// multivalued).
    pub fn with_value(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        let (lower, original) = lowered(key.into());
        let value = value.into();
        match self.keys.iter_mut().find(|(k, _, _)| *k == lower) {
            Some((_, _, values)) => values.push(value),
            None => self.keys.push((lower, original, vec![value])),
        }
        self
    }

    /// Sets all values of a multivalued key (e.g. `:amr`), replacing earlier ones. An empty set is
    /// treated like an absent key by the operators.
    pub fn with_values<I, S>(mut self, key: impl Into<String>, values: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let (lower, original) = lowered(key.into());
        let values: Vec<String> = values.into_iter().map(Into::into).collect();
        match self.keys.iter_mut().find(|(k, _, _)| *k == lower) {
            Some((_, _, existing)) => *existing = values,
            None => self.keys.push((lower, original, values)),
        }
        self
    }

    /// The action being requested.
    pub fn action(&self) -> &str {
        &self.action
    }

    /// The calling principal, if set.
    pub fn principal(&self) -> Option<(PrincipalType, &str)> {
        self.principal.as_ref().map(|(k, v)| (*k, v.as_str()))
    }

    /// The resource, if set.
    pub fn resource(&self) -> Option<&str> {
        self.resource.as_deref()
    }

    /// The values of a condition key (case-insensitive lookup).
    pub fn values(&self, key: &str) -> Option<&[String]> {
        self.values_lower(&key.to_lowercase())
    }

    pub(crate) fn values_lower(&self, lower: &str) -> Option<&[String]> {
        self.keys
            .iter()
            .find(|(k, _, _)| k == lower)
            .map(|(_, _, v)| v.as_slice())
    }

    /// All keys as (name as given, values), in insertion order.
    pub fn keys(&self) -> impl Iterator<Item = (&str, &[String])> {
        self.keys
            .iter()
            .map(|(lower, original, v)| (original.as_deref().unwrap_or(lower), v.as_slice()))
    }
}

/// `key` lower-cased, and `key` itself when that differs (kept for [`RequestContext::keys`]).
/// Most keys a caller builds are lower case already: they are then moved, not copied.
fn lowered(key: String) -> (String, Option<String>) {
    if key.is_ascii() {
        if !key.bytes().any(|b| b.is_ascii_uppercase()) {
            return (key, None);
        }
        return (key.to_ascii_lowercase(), Some(key));
    }
    let lower = key.to_lowercase();
    if lower == key {
        (key, None)
    } else {
        (lower, Some(key))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn web_identity_builds_provider_scoped_keys() {
        let ctx = RequestContext::web_identity(
            "arn:aws:iam::1:oidc-provider/issuer.example.com/x",
            "https://issuer.example.com/x",
            "system:serviceaccount:a:b",
            "sts.amazonaws.com",
        );
        assert_eq!(ctx.action(), "sts:AssumeRoleWithWebIdentity");
        assert_eq!(
            ctx.values("ISSUER.example.com/x:SUB"),
            Some(&["system:serviceaccount:a:b".to_owned()][..])
        );
        assert_eq!(
            ctx.values("issuer.example.com/x:aud"),
            Some(&["sts.amazonaws.com".to_owned()][..])
        );
        assert_eq!(
            ctx.principal(),
            Some((
                PrincipalType::Federated,
                "arn:aws:iam::1:oidc-provider/issuer.example.com/x"
            ))
        );
        assert!(ctx.values("aws:federatedprovider").is_some());
    }

    #[test]
    fn values_accumulate_and_replace() {
        let ctx = RequestContext::new("a:b")
            .with_value("K:amr", "one")
            .with_value("k:AMR", "two");
        assert_eq!(ctx.values("k:amr").map(<[String]>::len), Some(2));
        let ctx = ctx.with_values("k:amr", ["three"]);
        assert_eq!(ctx.values("k:amr"), Some(&["three".to_owned()][..]));
        assert_eq!(ctx.keys().count(), 1);
    }
}
