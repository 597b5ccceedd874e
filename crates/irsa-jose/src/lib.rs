//! JOSE for IRSA: keys, key IDs, JWKS, discovery documents, token minting and strict verification.
//!
//! This crate is the cluster side of IAM roles for service accounts: the service-account
//! signing key, the public OIDC documents AWS reads, the tokens kube-apiserver projects into
//! pods, and the strict verifier the local STS and `irsa doctor` use. It does no I/O (callers
//! read files and fetch URLs) and uses aws-lc-rs as its only cryptography.
//!
//! - [`keys`]: generate and load keys in every PEM shape kube-apiserver accepts.
//! - [`jwk`]: key IDs (kube-apiserver's), JWKS and the OIDC discovery document.
//! - [`mint`]: a [`mint::Signer`] that mints kube-apiserver-shaped projected tokens.
//! - [`verify`]: the [`verify::Verifier`], a security boundary with one error per rule.
//! - [`thumbprint`]: the SHA-1 thumbprint IAM wants for an OIDC provider.
//! - [`apiserver`]: the kube-apiserver flags for a given issuer and keys.

pub mod apiserver;
mod der;
pub mod jwk;
pub mod keys;
pub mod mint;
pub mod signature_memo;
pub mod thumbprint;
pub mod verify;

pub use jwk::{DiscoveryDocument, Jwk, JwkSet, key_id};
pub use keys::{KeyError, PrivateKey, PublicKey};
pub use mint::{MintError, MintRequest, Signer};
pub use verify::{StsErrorCode, VerifiedToken, Verifier, VerifyError, VerifyOptions};

/// Signature algorithms this crate signs and verifies with (the allow-list STS documents).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Algorithm {
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    RS256,
    /// RSASSA-PKCS1-v1_5 with SHA-384.
    RS384,
    /// RSASSA-PKCS1-v1_5 with SHA-512.
    RS512,
    /// ECDSA P-256 with SHA-256, fixed `r||s` signature.
    ES256,
    /// ECDSA P-384 with SHA-384, fixed `r||s` signature.
    ES384,
    /// ECDSA P-521 with SHA-512, fixed `r||s` signature.
    ES512,
}

impl Algorithm {
    /// The JOSE name, e.g. `RS256`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::RS256 => "RS256",
            Self::RS384 => "RS384",
            Self::RS512 => "RS512",
            Self::ES256 => "ES256",
            Self::ES384 => "ES384",
            Self::ES512 => "ES512",
        }
    }

    /// Parses a JOSE name from the allow-list; anything else is `None`.
    pub fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "RS256" => Self::RS256,
            "RS384" => Self::RS384,
            "RS512" => Self::RS512,
            "ES256" => Self::ES256,
            "ES384" => Self::ES384,
            "ES512" => Self::ES512,
            _ => return None,
        })
    }

    /// True for the RSA (`kty` `RSA`) algorithms.
    pub fn is_rsa(self) -> bool {
        matches!(self, Self::RS256 | Self::RS384 | Self::RS512)
    }
}

impl std::fmt::Display for Algorithm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// base64url without padding, the encoding of every JOSE segment and JWK member.
pub(crate) fn b64url(data: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(data)
}
