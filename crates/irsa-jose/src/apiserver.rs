//! The kube-apiserver flags that make a cluster issue IRSA-compatible tokens.
//!
//! `--service-account-issuer` may be repeated: the first value signs new tokens, all values
//! are accepted, which is how an issuer is rolled without invalidating running pods' tokens.
//! Every trusted public key gets its own `--service-account-key-file` (old and new keys
//! during a key roll).

/// Inputs for [`apiserver_flags`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ApiserverFlagsInput {
    /// The (new) issuer.
    pub issuer: String,
    /// Issuers whose tokens must stay valid during a roll.
    pub previous_issuers: Vec<String>,
    /// Path of the signing key on the control-plane node.
    pub signing_key: String,
    /// Paths of the trusted public keys.
    pub public_keys: Vec<String>,
    /// `--api-audiences`; empty means the issuer (kube-apiserver's own default).
    pub api_audiences: Vec<String>,
}

/// The flags (one per line) and warnings for the operator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiserverFlags {
    /// `--flag=value` lines.
    pub flags: Vec<String>,
    /// Things the operator should know (printed on stderr).
    pub warnings: Vec<String>,
}

/// Builds the flags.
pub fn apiserver_flags(input: &ApiserverFlagsInput) -> ApiserverFlags {
    let mut flags = Vec::new();
    let mut seen: Vec<&str> = Vec::new();
    for issuer in std::iter::once(&input.issuer).chain(&input.previous_issuers) {
        if !seen.contains(&issuer.as_str()) {
            seen.push(issuer);
            flags.push(format!("--service-account-issuer={issuer}"));
        }
    }
    flags.push(format!(
        "--service-account-signing-key-file={}",
        input.signing_key
    ));
    for key in &input.public_keys {
        flags.push(format!("--service-account-key-file={key}"));
    }
    let audiences = if input.api_audiences.is_empty() {
        vec![input.issuer.clone()]
    } else {
        input.api_audiences.clone()
    };
    flags.push(format!("--api-audiences={}", audiences.join(",")));
    let mut warnings = Vec::new();
    if audiences
        .iter()
        .any(|a| a == irsa_core::trust_policy::DEFAULT_AUDIENCE)
    {
        warnings.push(format!(
            "warning: {} is among --api-audiences: tokens minted for AWS STS would also authenticate to this cluster's API server",
            irsa_core::trust_policy::DEFAULT_AUDIENCE
        ));
    }
    if input.public_keys.is_empty() {
        warnings.push("warning: no --public-key given: kube-apiserver then verifies only with the signing key's public half".into());
    }
    ApiserverFlags { flags, warnings }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_issuer_first_then_previous_and_sts_warning() {
        let out = apiserver_flags(&ApiserverFlagsInput {
            issuer: "https://new.example".into(),
            previous_issuers: vec!["https://old.example".into(), "https://new.example".into()],
            signing_key: "/etc/k/sa.key".into(),
            public_keys: vec!["/etc/k/new.pub".into(), "/etc/k/old.pub".into()],
            api_audiences: vec![
                "https://kubernetes.default.svc".into(),
                "sts.amazonaws.com".into(),
            ],
        });
        assert_eq!(
            out.flags,
            vec![
                "--service-account-issuer=https://new.example",
                "--service-account-issuer=https://old.example",
                "--service-account-signing-key-file=/etc/k/sa.key",
                "--service-account-key-file=/etc/k/new.pub",
                "--service-account-key-file=/etc/k/old.pub",
                "--api-audiences=https://kubernetes.default.svc,sts.amazonaws.com",
            ]
        );
        assert_eq!(out.warnings.len(), 1);
        assert!(out.warnings[0].contains("sts.amazonaws.com"));
    }

    #[test]
    fn audiences_default_to_the_issuer_without_warning() {
        let out = apiserver_flags(&ApiserverFlagsInput {
            issuer: "https://new.example".into(),
            signing_key: "sa.key".into(),
            public_keys: vec!["sa.pub".into()],
            ..Default::default()
        });
        assert_eq!(
            out.flags.last().map(String::as_str),
            Some("--api-audiences=https://new.example")
        );
        assert!(out.warnings.is_empty());
    }
}
