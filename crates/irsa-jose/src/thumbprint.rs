//! The thumbprint IAM wants for an OIDC provider: SHA-1 of the last CA certificate the
//! issuer's TLS server sends.
//!
//! IAM historically pinned the top intermediate / last certificate of the served chain; it
//! now trusts public CAs itself and uses the thumbprint only for privately issued chains,
//! but `CreateOpenIDConnectProvider` still records one. This is the pure part: the caller
//! does the TLS handshake and passes the DER certificates in the order the server sent them.

use aws_lc_rs::digest;
use x509_parser::prelude::{FromDer, X509Certificate};

/// Why no thumbprint could be computed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ThumbprintError {
    /// The server sent no certificate.
    #[error("the server sent no certificate")]
    EmptyChain,
    /// A certificate in the chain is not valid DER X.509.
    #[error("certificate #{index} of the chain is not a valid X.509 certificate")]
    BadCertificate { index: usize },
    /// No certificate in the chain has `basicConstraints CA:TRUE`.
    #[error(
        "none of the {count} certificate(s) the server sent is a CA certificate (basicConstraints CA:TRUE); the server must send its intermediate chain"
    )]
    NoCa { count: usize },
}

/// SHA-1 of `der` as 40 lowercase hex characters.
pub fn sha1_hex(der: &[u8]) -> String {
    let digest = digest::digest(&digest::SHA1_FOR_LEGACY_USE_ONLY, der);
    digest.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

/// The thumbprint (SHA-1, lowercase hex) of the last CA certificate in `chain`.
pub fn ca_thumbprint<C: AsRef<[u8]>>(chain: &[C]) -> Result<String, ThumbprintError> {
    if chain.is_empty() {
        return Err(ThumbprintError::EmptyChain);
    }
    let mut last_ca = None;
    for (index, der) in chain.iter().enumerate() {
        let (_, cert) = X509Certificate::from_der(der.as_ref())
            .map_err(|_| ThumbprintError::BadCertificate { index })?;
        if cert.is_ca() {
            last_ca = Some(der.as_ref());
        }
    }
    last_ca
        .map(sha1_hex)
        .ok_or(ThumbprintError::NoCa { count: chain.len() })
}
