//! Issuer URLs as AWS accepts them for an IAM OIDC provider.
//!
//! IAM stores the provider URL without its scheme and STS compares `iss` with
//! `"https://" + url` byte for byte, so an issuer must be `https://host[/path]` with no port,
//! query, fragment or user info. (irsa-core's `ClusterIssuer` is the project-wide type; this
//! check is the same rule kept here so the JOSE toolkit stands alone.)

/// Why a string is not a usable issuer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IssuerError {
    /// Not `https://`.
    #[error("issuer {0:?} must start with https:// (AWS only accepts HTTPS OIDC providers)")]
    NotHttps(String),
    /// No host.
    #[error("issuer {0:?} has no host")]
    NoHost(String),
    /// Has a port.
    #[error("issuer {0:?} has a port; IAM OIDC provider URLs cannot have one")]
    Port(String),
    /// Has a query or fragment.
    #[error("issuer {0:?} has a query or fragment; IAM OIDC provider URLs cannot have one")]
    QueryOrFragment(String),
    /// Has user info or characters outside a URL.
    #[error(
        "issuer {0:?} has characters not allowed in an issuer URL (user info, spaces or control characters)"
    )]
    BadCharacters(String),
}

/// Checks `issuer` is `https://host[/path]` with no port, query, fragment or user info.
pub fn validate_issuer(issuer: &str) -> Result<(), IssuerError> {
    let own = || issuer.to_string();
    let rest = issuer
        .strip_prefix("https://")
        .ok_or_else(|| IssuerError::NotHttps(own()))?;
    if rest.contains(['?', '#']) {
        return Err(IssuerError::QueryOrFragment(own()));
    }
    if rest.contains('@')
        || rest
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == '\\')
    {
        return Err(IssuerError::BadCharacters(own()));
    }
    let host = rest.split('/').next().unwrap_or_default();
    if host.contains(':') {
        return Err(IssuerError::Port(own()));
    }
    if host.is_empty()
        || !host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
    {
        return Err(IssuerError::NoHost(own()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_aws_shaped_issuers() {
        for ok in [
            "https://oidc.example.com",
            "https://s3.eu-west-1.amazonaws.com/my-bucket-oidc-pod-identity",
            "https://auth.example.com/",
        ] {
            assert_eq!(validate_issuer(ok), Ok(()), "{ok}");
        }
    }

    #[test]
    fn rejects_each_broken_rule() {
        assert!(matches!(
            validate_issuer("http://a.example"),
            Err(IssuerError::NotHttps(_))
        ));
        assert!(matches!(
            validate_issuer("https://"),
            Err(IssuerError::NoHost(_))
        ));
        assert!(matches!(
            validate_issuer("https://a.example:8443/x"),
            Err(IssuerError::Port(_))
        ));
        assert!(matches!(
            validate_issuer("https://a.example/x?y=1"),
            Err(IssuerError::QueryOrFragment(_))
        ));
        assert!(matches!(
            validate_issuer("https://a.example/#f"),
            Err(IssuerError::QueryOrFragment(_))
        ));
        assert!(matches!(
            validate_issuer("https://u@a.example"),
            Err(IssuerError::BadCharacters(_))
        ));
    }
}
