//! Minting service-account tokens shaped like kube-apiserver's projected tokens.
//!
//! A [`Signer`] holds the parsed key pair, its kid and the encoded header, so minting is one
//! JSON serialisation and one signature: jsonwebtoken would re-parse the RSA key's DER on
//! every RS256 signature, which costs more than the signature itself.

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{RSA_PKCS1_SHA256, RSA_PKCS1_SHA384, RSA_PKCS1_SHA512};
use irsa_core::mutation::DEFAULT_TOKEN_EXPIRATION_SECS;
use irsa_core::trust_policy::DEFAULT_AUDIENCE;
use serde::Serialize;

use crate::keys::{KeyError, PrivateKey, PublicKey};
use crate::{Algorithm, Jwk, b64url};

/// Why a token could not be minted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MintError {
    /// A Kubernetes name is empty, too long or has characters Kubernetes does not allow.
    #[error(
        "{field} {value:?} is not a valid Kubernetes name (lowercase letters, digits, '-' and '.', 1..=253 characters)"
    )]
    BadName { field: &'static str, value: String },
    /// No audience.
    #[error("at least one audience is required")]
    NoAudience,
    /// `now + expiration` does not fit.
    #[error("expiration of {0} seconds is out of range")]
    Expiration(u64),
    /// The key could not sign.
    #[error("signing failed in aws-lc-rs")]
    Sign,
    /// Claims could not be serialised.
    #[error("claims could not be serialised: {0}")]
    Json(String),
}

/// What to put in a token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MintRequest {
    /// `iss`.
    pub issuer: String,
    /// The service account's namespace.
    pub namespace: String,
    /// The service account's name.
    pub service_account: String,
    /// The service account's UID, if known.
    pub service_account_uid: Option<String>,
    /// Pod name and UID, for a pod-bound token.
    pub pod: Option<(String, String)>,
    /// `aud`; default `["sts.amazonaws.com"]`.
    pub audiences: Vec<String>,
    /// Lifetime in seconds (`exp - iat`).
    pub expiration_secs: u64,
    /// `iat` and `nbf` (Unix seconds).
    pub now: i64,
}

impl MintRequest {
    /// A request with the defaults: STS audience, 24 h lifetime, no pod.
    pub fn new(
        issuer: impl Into<String>,
        namespace: impl Into<String>,
        service_account: impl Into<String>,
        now: i64,
    ) -> Self {
        Self {
            issuer: issuer.into(),
            namespace: namespace.into(),
            service_account: service_account.into(),
            service_account_uid: None,
            pod: None,
            audiences: vec![DEFAULT_AUDIENCE.to_string()],
            expiration_secs: DEFAULT_TOKEN_EXPIRATION_SECS,
            now,
        }
    }
}

#[derive(Serialize)]
struct Ref<'a> {
    name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    uid: Option<&'a str>,
}

#[derive(Serialize)]
struct KubernetesClaim<'a> {
    namespace: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pod: Option<Ref<'a>>,
    serviceaccount: Ref<'a>,
}

#[derive(Serialize)]
struct Claims<'a> {
    aud: &'a [String],
    exp: i64,
    iat: i64,
    iss: &'a str,
    jti: String,
    #[serde(rename = "kubernetes.io")]
    kubernetes: KubernetesClaim<'a>,
    nbf: i64,
    sub: String,
}

fn check_name(field: &'static str, value: &str) -> Result<(), MintError> {
    let ok = !value.is_empty()
        && value.len() <= 253
        && value
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
        && value
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_alphanumeric())
        && value
            .bytes()
            .last()
            .is_some_and(|b| b.is_ascii_alphanumeric());
    if ok {
        Ok(())
    } else {
        Err(MintError::BadName {
            field,
            value: value.to_string(),
        })
    }
}

/// Signs tokens with one cached key.
pub struct Signer {
    key: PrivateKey,
    public: PublicKey,
    header_b64: String,
    rng: SystemRandom,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Signer({} kid={})",
            self.public.algorithm(),
            self.public.kid()
        )
    }
}

impl Signer {
    /// A signer for a loaded key. The header is `{"alg":…,"kid":…}` (no `typ`, like
    /// kube-apiserver).
    pub fn new(key: PrivateKey) -> Result<Self, KeyError> {
        let public = key.public_key()?;
        let header = format!(
            "{{\"alg\":\"{}\",\"kid\":\"{}\"}}",
            key.algorithm(),
            public.kid()
        );
        Ok(Self {
            header_b64: b64url(header.as_bytes()),
            key,
            public,
            rng: SystemRandom::new(),
        })
    }

    /// A signer from a private key PEM (`source` names it in errors).
    pub fn from_pem(source: &str, pem: &[u8]) -> Result<Self, KeyError> {
        Self::new(crate::keys::parse_private_key_pem(source, pem)?)
    }

    /// The key ID in every header.
    pub fn kid(&self) -> &str {
        self.public.kid()
    }

    /// The signing algorithm.
    pub fn algorithm(&self) -> Algorithm {
        self.key.algorithm()
    }

    /// The public key.
    pub fn public_key(&self) -> &PublicKey {
        &self.public
    }

    /// The public key as a JWK.
    pub fn public_jwk(&self) -> Jwk {
        self.public.to_jwk()
    }

    /// Mints a token. `jti` is a fresh random UUID.
    pub fn mint(&self, request: &MintRequest) -> Result<String, MintError> {
        check_name("namespace", &request.namespace)?;
        check_name("service account", &request.service_account)?;
        if let Some((pod, _)) = &request.pod {
            check_name("pod name", pod)?;
        }
        if request.audiences.is_empty() {
            return Err(MintError::NoAudience);
        }
        let exp = i64::try_from(request.expiration_secs)
            .ok()
            .and_then(|secs| request.now.checked_add(secs))
            .ok_or(MintError::Expiration(request.expiration_secs))?;
        let claims = Claims {
            aud: &request.audiences,
            exp,
            iat: request.now,
            iss: &request.issuer,
            jti: uuid::Uuid::new_v4().to_string(),
            kubernetes: KubernetesClaim {
                namespace: &request.namespace,
                pod: request.pod.as_ref().map(|(name, uid)| Ref {
                    name,
                    uid: Some(uid),
                }),
                serviceaccount: Ref {
                    name: &request.service_account,
                    uid: request.service_account_uid.as_deref(),
                },
            },
            nbf: request.now,
            sub: format!(
                "system:serviceaccount:{}:{}",
                request.namespace, request.service_account
            ),
        };
        let payload = serde_json::to_vec(&claims).map_err(|e| MintError::Json(e.to_string()))?;
        self.sign_payload(&payload)
    }

    /// Signs an arbitrary JSON payload with this key's header (for tests and tools that
    /// need tokens kube-apiserver would not mint). The payload is not checked.
    pub fn sign_payload(&self, payload_json: &[u8]) -> Result<String, MintError> {
        let mut token =
            String::with_capacity(self.header_b64.len() + payload_json.len() * 4 / 3 + 700);
        token.push_str(&self.header_b64);
        token.push('.');
        token.push_str(&b64url(payload_json));
        let signature = self.sign(token.as_bytes())?;
        token.push('.');
        token.push_str(&b64url(&signature));
        Ok(token)
    }

    fn sign(&self, input: &[u8]) -> Result<Vec<u8>, MintError> {
        sign_with(&self.key, self.key.algorithm(), &self.rng, input)
    }
}

/// Signs `input` with `key` for `alg` (RSA keys may sign RS256/384/512; EC keys their
/// curve's algorithm).
pub(crate) fn sign_with(
    key: &PrivateKey,
    alg: Algorithm,
    rng: &SystemRandom,
    input: &[u8],
) -> Result<Vec<u8>, MintError> {
    match key {
        PrivateKey::Rsa(pair) => {
            let encoding = match alg {
                Algorithm::RS384 => &RSA_PKCS1_SHA384,
                Algorithm::RS512 => &RSA_PKCS1_SHA512,
                _ => &RSA_PKCS1_SHA256,
            };
            let mut signature = vec![0u8; pair.public_modulus_len()];
            pair.sign(encoding, rng, input, &mut signature)
                .map_err(|_| MintError::Sign)?;
            Ok(signature)
        }
        PrivateKey::Ec { pair, .. } => pair
            .sign(rng, input)
            .map(|s| s.as_ref().to_vec())
            .map_err(|_| MintError::Sign),
    }
}
