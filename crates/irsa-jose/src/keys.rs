//! Signing keys: generation, and loading every PEM shape kube-apiserver accepts.
//!
//! kube-apiserver reads `--service-account-signing-key-file` as PKCS#1 `RSA PRIVATE KEY`,
//! PKCS#8 `PRIVATE KEY` or SEC1 `EC PRIVATE KEY`, and `--service-account-key-file` as SPKI
//! `PUBLIC KEY`, PKCS#1 `RSA PUBLIC KEY`, an X.509 `CERTIFICATE`, or a private key file (whose
//! public half is used). Accepting exactly the same lets operators reuse the files their
//! cluster already has. Errors name the file and the PEM labels that were found, never the
//! key material.

use std::fmt;

use aws_lc_rs::encoding::{AsDer, Pkcs8V1Der, PublicKeyX509Der};
use aws_lc_rs::rsa::{self, KeySize};
use aws_lc_rs::signature::{
    self, ECDSA_P256_SHA256_FIXED_SIGNING, ECDSA_P384_SHA384_FIXED_SIGNING,
    ECDSA_P521_SHA512_FIXED_SIGNING, EcdsaKeyPair, EcdsaSigningAlgorithm, KeyPair as _,
};
use x509_parser::prelude::{FromDer, X509Certificate};
use x509_parser::public_key::{PublicKey as X509PublicKey, RSAPublicKey};
use x509_parser::x509::SubjectPublicKeyInfo;

use crate::{Algorithm, der};

/// Smallest RSA modulus accepted (bits); the verification algorithms need at least 2048.
pub const MIN_RSA_BITS: usize = 2048;
/// Largest RSA modulus accepted (bits), as aws-lc-rs verifies.
pub const MAX_RSA_BITS: usize = 8192;

/// Why a key could not be generated, loaded or encoded. Every message names the source
/// (usually the file path) and what was found there.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum KeyError {
    /// The input has no PEM block at all.
    #[error("{file}: no PEM block found in {len} bytes (expected -----BEGIN <label>----- lines)")]
    NotPem { file: String, len: usize },
    /// A PEM block is malformed (bad base64, unmatched BEGIN/END).
    #[error("{file}: malformed PEM: {detail}")]
    BadPem { file: String, detail: String },
    /// PEM blocks were found but none of the accepted kinds.
    #[error("{file}: no {wanted} found; PEM blocks present: {found} (accepted: {accepted})")]
    NoKey {
        file: String,
        wanted: &'static str,
        found: String,
        accepted: &'static str,
    },
    /// A block with an accepted label holds something that is not a valid key of that kind.
    #[error("{file}: PEM block {label:?} is not a valid key: {detail}")]
    Invalid {
        file: String,
        label: String,
        detail: String,
    },
    /// A valid key of a kind this tool does not use (encrypted, Ed25519, small RSA, ...).
    #[error("{file}: PEM block {label:?} holds an unsupported key: {detail}")]
    Unsupported {
        file: String,
        label: String,
        detail: String,
    },
    /// The cryptography library failed to generate or encode a key.
    #[error("key {operation} failed in aws-lc-rs")]
    Crypto { operation: &'static str },
}

/// Elliptic curves usable for ES256/ES384/ES512.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Curve {
    /// NIST P-256 (ES256).
    P256,
    /// NIST P-384 (ES384).
    P384,
    /// NIST P-521 (ES512).
    P521,
}

impl Curve {
    /// The JWK `crv` name.
    pub fn jwk_name(self) -> &'static str {
        match self {
            Self::P256 => "P-256",
            Self::P384 => "P-384",
            Self::P521 => "P-521",
        }
    }

    /// Parses a JWK `crv` name.
    pub fn from_jwk_name(name: &str) -> Option<Self> {
        match name {
            "P-256" => Some(Self::P256),
            "P-384" => Some(Self::P384),
            "P-521" => Some(Self::P521),
            _ => None,
        }
    }

    /// The JOSE algorithm that uses this curve.
    pub fn algorithm(self) -> Algorithm {
        match self {
            Self::P256 => Algorithm::ES256,
            Self::P384 => Algorithm::ES384,
            Self::P521 => Algorithm::ES512,
        }
    }

    /// Bytes of one coordinate (and of `r` or `s` in a signature).
    pub fn coordinate_len(self) -> usize {
        match self {
            Self::P256 => 32,
            Self::P384 => 48,
            Self::P521 => 66,
        }
    }

    fn oid_der(self) -> &'static [u8] {
        match self {
            Self::P256 => der::OID_P256,
            Self::P384 => der::OID_P384,
            Self::P521 => der::OID_P521,
        }
    }

    fn signing(self) -> &'static EcdsaSigningAlgorithm {
        match self {
            Self::P256 => &ECDSA_P256_SHA256_FIXED_SIGNING,
            Self::P384 => &ECDSA_P384_SHA384_FIXED_SIGNING,
            Self::P521 => &ECDSA_P521_SHA512_FIXED_SIGNING,
        }
    }

    const ALL: [Curve; 3] = [Curve::P256, Curve::P384, Curve::P521];
}

/// The components of a public key, kept so JWKs and canonical SPKI can be derived.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyMaterial {
    /// RSA modulus and public exponent, big-endian without leading zeros.
    Rsa { n: Vec<u8>, e: Vec<u8> },
    /// An EC point in uncompressed SEC1 form (`0x04 || x || y`).
    Ec { curve: Curve, point: Vec<u8> },
}

/// A validated public key with its canonical SPKI DER and kube-apiserver key ID.
#[derive(Clone, PartialEq, Eq)]
pub struct PublicKey {
    material: KeyMaterial,
    spki_der: Vec<u8>,
    kid: String,
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({} kid={})", self.algorithm(), self.kid)
    }
}

/// Why raw public key bytes were rejected (wrapped into [`KeyError`] or a JWKS error).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PublicKeyRejected {
    /// Not DER of the expected structure.
    #[error("not a DER {0}")]
    Malformed(&'static str),
    /// An algorithm other than RSA or EC P-256/P-384/P-521.
    #[error("key algorithm {0} is not RSA or EC P-256/P-384/P-521")]
    UnsupportedAlgorithm(String),
    /// RSA modulus outside 2048..=8192 bits.
    #[error("RSA modulus of {0} bits is outside {MIN_RSA_BITS}..={MAX_RSA_BITS}")]
    RsaSize(usize),
    /// EC point not uncompressed or of the wrong length for its curve.
    #[error(
        "EC point for {curve} must be uncompressed ({expected} bytes starting 0x04), got {got} bytes"
    )]
    EcPoint {
        curve: &'static str,
        expected: usize,
        got: usize,
    },
    /// aws-lc-rs refused the key (e.g. point not on the curve, even modulus).
    #[error("rejected by aws-lc-rs: {0}")]
    Crypto(String),
}

impl PublicKey {
    /// Builds a key from RSA components (big-endian magnitudes).
    pub fn from_rsa_components(n: &[u8], e: &[u8]) -> Result<Self, PublicKeyRejected> {
        let n = der::strip_leading_zeros(n);
        let e = der::strip_leading_zeros(e);
        let bits = rsa_bits(n);
        if !(MIN_RSA_BITS..=MAX_RSA_BITS).contains(&bits) {
            return Err(PublicKeyRejected::RsaSize(bits));
        }
        if e.is_empty() || e.len() > 4 {
            return Err(PublicKeyRejected::Crypto(format!(
                "RSA public exponent of {} bytes",
                e.len()
            )));
        }
        let spki_der = der::rsa_spki(n, e);
        Self::checked(
            KeyMaterial::Rsa {
                n: n.to_vec(),
                e: e.to_vec(),
            },
            spki_der,
        )
    }

    /// Builds a key from an EC curve and its uncompressed point.
    pub fn from_ec_point(curve: Curve, point: &[u8]) -> Result<Self, PublicKeyRejected> {
        let expected = 1 + 2 * curve.coordinate_len();
        if point.len() != expected || point.first() != Some(&0x04) {
            return Err(PublicKeyRejected::EcPoint {
                curve: curve.jwk_name(),
                expected,
                got: point.len(),
            });
        }
        let spki_der = der::ec_spki(curve.oid_der(), point);
        Self::checked(
            KeyMaterial::Ec {
                curve,
                point: point.to_vec(),
            },
            spki_der,
        )
    }

    /// Parses a DER SubjectPublicKeyInfo.
    pub fn from_spki_der(spki: &[u8]) -> Result<Self, PublicKeyRejected> {
        let (rest, info) = SubjectPublicKeyInfo::from_der(spki)
            .map_err(|_| PublicKeyRejected::Malformed("SubjectPublicKeyInfo"))?;
        if !rest.is_empty() {
            return Err(PublicKeyRejected::Malformed(
                "SubjectPublicKeyInfo (trailing bytes)",
            ));
        }
        Self::from_spki_info(&info)
    }

    fn from_spki_info(info: &SubjectPublicKeyInfo<'_>) -> Result<Self, PublicKeyRejected> {
        match info.parsed() {
            Ok(X509PublicKey::RSA(rsa)) => Self::from_rsa_components(rsa.modulus, rsa.exponent),
            Ok(X509PublicKey::EC(point)) => {
                let curve_oid = info
                    .algorithm
                    .parameters
                    .as_ref()
                    .and_then(|p| p.as_oid().ok())
                    .ok_or(PublicKeyRejected::Malformed("EC key without a named curve"))?;
                let curve = Curve::ALL
                    .into_iter()
                    .find(|c| c.oid_der().get(2..) == Some(curve_oid.as_bytes()))
                    .ok_or_else(|| {
                        PublicKeyRejected::UnsupportedAlgorithm(format!("EC curve {curve_oid}"))
                    })?;
                Self::from_ec_point(curve, point.data())
            }
            Ok(_) | Err(_) => Err(PublicKeyRejected::UnsupportedAlgorithm(
                info.algorithm.algorithm.to_id_string(),
            )),
        }
    }

    /// Parses a PKCS#1 `RSAPublicKey`.
    pub fn from_pkcs1_der(pkcs1: &[u8]) -> Result<Self, PublicKeyRejected> {
        let (rest, key) = RSAPublicKey::from_der(pkcs1)
            .map_err(|_| PublicKeyRejected::Malformed("PKCS#1 RSAPublicKey"))?;
        if !rest.is_empty() {
            return Err(PublicKeyRejected::Malformed(
                "PKCS#1 RSAPublicKey (trailing bytes)",
            ));
        }
        Self::from_rsa_components(key.modulus, key.exponent)
    }

    /// Parses the subject public key of a DER X.509 certificate.
    pub fn from_certificate_der(cert: &[u8]) -> Result<Self, PublicKeyRejected> {
        let (_, cert) = X509Certificate::from_der(cert)
            .map_err(|_| PublicKeyRejected::Malformed("X.509 certificate"))?;
        Self::from_spki_info(cert.public_key())
    }

    fn checked(material: KeyMaterial, spki_der: Vec<u8>) -> Result<Self, PublicKeyRejected> {
        let key = Self {
            kid: crate::jwk::key_id(&spki_der),
            material,
            spki_der,
        };
        // Let aws-lc-rs validate the key once (point on curve, sane modulus).
        key.parsed_for(key.algorithm())
            .map_err(|e| PublicKeyRejected::Crypto(e.to_string()))?;
        Ok(key)
    }

    /// An aws-lc-rs key parsed for verifying `alg`; `None` when the key cannot do `alg`.
    pub(crate) fn parsed_for(
        &self,
        alg: Algorithm,
    ) -> Result<signature::ParsedPublicKey, aws_lc_rs::error::KeyRejected> {
        let verification: &'static dyn signature::VerificationAlgorithm = match alg {
            Algorithm::RS256 => &signature::RSA_PKCS1_2048_8192_SHA256,
            Algorithm::RS384 => &signature::RSA_PKCS1_2048_8192_SHA384,
            Algorithm::RS512 => &signature::RSA_PKCS1_2048_8192_SHA512,
            Algorithm::ES256 => &signature::ECDSA_P256_SHA256_FIXED,
            Algorithm::ES384 => &signature::ECDSA_P384_SHA384_FIXED,
            Algorithm::ES512 => &signature::ECDSA_P521_SHA512_FIXED,
        };
        signature::ParsedPublicKey::new(verification, &self.spki_der)
    }

    /// The key's components.
    pub fn material(&self) -> &KeyMaterial {
        &self.material
    }

    /// Canonical DER SubjectPublicKeyInfo (what Go's `MarshalPKIXPublicKey` writes).
    pub fn spki_der(&self) -> &[u8] {
        &self.spki_der
    }

    /// The key ID kube-apiserver puts in token headers: base64url(SHA-256(SPKI DER)).
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The algorithm kube-apiserver signs with for this key: RS256 for every RSA key,
    /// ES256/ES384/ES512 by curve.
    pub fn algorithm(&self) -> Algorithm {
        match &self.material {
            KeyMaterial::Rsa { .. } => Algorithm::RS256,
            KeyMaterial::Ec { curve, .. } => curve.algorithm(),
        }
    }

    /// `RSA` or `EC`.
    pub fn kty(&self) -> &'static str {
        match self.material {
            KeyMaterial::Rsa { .. } => "RSA",
            KeyMaterial::Ec { .. } => "EC",
        }
    }

    /// RSA modulus size in bits, `None` for EC keys.
    pub fn rsa_bits(&self) -> Option<usize> {
        match &self.material {
            KeyMaterial::Rsa { n, .. } => Some(rsa_bits(n)),
            KeyMaterial::Ec { .. } => None,
        }
    }

    /// SPKI PEM (`-----BEGIN PUBLIC KEY-----`).
    pub fn to_pem(&self) -> String {
        pem::encode(&pem::Pem::new("PUBLIC KEY", self.spki_der.clone()))
    }
}

fn rsa_bits(n: &[u8]) -> usize {
    let n = der::strip_leading_zeros(n);
    match n.first() {
        None => 0,
        Some(top) => n.len() * 8 - top.leading_zeros() as usize,
    }
}

/// A private signing key held parsed, ready to sign.
pub enum PrivateKey {
    /// An RSA key pair (signs RS256).
    Rsa(rsa::KeyPair),
    /// An ECDSA key pair on `curve` (signs ES256/ES384/ES512).
    Ec {
        /// The key pair, fixed-length `r||s` signing.
        pair: EcdsaKeyPair,
        /// Its curve.
        curve: Curve,
    },
}

impl fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never print key material.
        match self {
            Self::Rsa(pair) => write!(f, "PrivateKey(RSA {} bits)", pair.public_modulus_len() * 8),
            Self::Ec { curve, .. } => write!(f, "PrivateKey(EC {})", curve.jwk_name()),
        }
    }
}

/// What `irsa oidc keygen` can generate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeySpec {
    /// RSA with a 2048, 3072 or 4096-bit modulus (RS256).
    Rsa(RsaBits),
    /// ECDSA P-256 (ES256).
    EcP256,
}

/// RSA modulus sizes offered for generation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RsaBits {
    /// 2048 bits (what kube-apiserver setups and the GS operator use).
    B2048,
    /// 3072 bits.
    B3072,
    /// 4096 bits.
    B4096,
}

impl RsaBits {
    /// From a bit count; only 2048, 3072 and 4096 are offered.
    pub fn from_bits(bits: u32) -> Option<Self> {
        match bits {
            2048 => Some(Self::B2048),
            3072 => Some(Self::B3072),
            4096 => Some(Self::B4096),
            _ => None,
        }
    }
}

impl PrivateKey {
    /// Generates a fresh key.
    pub fn generate(spec: KeySpec) -> Result<Self, KeyError> {
        match spec {
            KeySpec::Rsa(bits) => {
                let size = match bits {
                    RsaBits::B2048 => KeySize::Rsa2048,
                    RsaBits::B3072 => KeySize::Rsa3072,
                    RsaBits::B4096 => KeySize::Rsa4096,
                };
                rsa::KeyPair::generate(size)
                    .map(Self::Rsa)
                    .map_err(|_| KeyError::Crypto {
                        operation: "generation",
                    })
            }
            KeySpec::EcP256 => EcdsaKeyPair::generate(Curve::P256.signing())
                .map(|pair| Self::Ec {
                    pair,
                    curve: Curve::P256,
                })
                .map_err(|_| KeyError::Crypto {
                    operation: "generation",
                }),
        }
    }

    /// The algorithm this key signs with (RS256 for RSA, by curve for EC).
    pub fn algorithm(&self) -> Algorithm {
        match self {
            Self::Rsa(_) => Algorithm::RS256,
            Self::Ec { curve, .. } => curve.algorithm(),
        }
    }

    /// The public half.
    pub fn public_key(&self) -> Result<PublicKey, KeyError> {
        let der: Result<PublicKeyX509Der<'static>, _> = match self {
            Self::Rsa(pair) => pair.public_key().as_der(),
            Self::Ec { pair, .. } => pair.public_key().as_der(),
        };
        let der = der.map_err(|_| KeyError::Crypto {
            operation: "public key encoding",
        })?;
        PublicKey::from_spki_der(der.as_ref()).map_err(|_| KeyError::Crypto {
            operation: "public key encoding",
        })
    }

    /// PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`). The string is secret: never log it.
    pub fn to_pkcs8_pem(&self) -> Result<String, KeyError> {
        let der: Vec<u8> = match self {
            Self::Rsa(pair) => {
                let doc: Pkcs8V1Der<'static> = pair.as_der().map_err(|_| KeyError::Crypto {
                    operation: "PKCS#8 encoding",
                })?;
                doc.as_ref().to_vec()
            }
            Self::Ec { pair, .. } => pair
                .to_pkcs8v1()
                .map_err(|_| KeyError::Crypto {
                    operation: "PKCS#8 encoding",
                })?
                .as_ref()
                .to_vec(),
        };
        Ok(pem::encode(&pem::Pem::new("PRIVATE KEY", der)))
    }
}

const PRIVATE_LABELS: &str = "RSA PRIVATE KEY, PRIVATE KEY, EC PRIVATE KEY";
const PUBLIC_LABELS: &str = "PUBLIC KEY, RSA PUBLIC KEY, CERTIFICATE, or a private key (RSA PRIVATE KEY, PRIVATE KEY, EC PRIVATE KEY)";

fn parse_blocks(source: &str, data: &[u8]) -> Result<Vec<pem::Pem>, KeyError> {
    let blocks = pem::parse_many(data).map_err(|e| KeyError::BadPem {
        file: source.to_string(),
        detail: e.to_string(),
    })?;
    if blocks.is_empty() {
        return Err(KeyError::NotPem {
            file: source.to_string(),
            len: data.len(),
        });
    }
    Ok(blocks)
}

fn labels(blocks: &[pem::Pem]) -> String {
    let names: Vec<String> = blocks.iter().map(|b| format!("{:?}", b.tag())).collect();
    names.join(", ")
}

/// Parses one private-key PEM block (by label) into a key pair.
fn private_from_block(source: &str, block: &pem::Pem) -> Option<Result<PrivateKey, KeyError>> {
    let label = block.tag();
    let der = block.contents();
    let invalid = |detail: &str| KeyError::Invalid {
        file: source.to_string(),
        label: label.to_string(),
        detail: detail.to_string(),
    };
    let unsupported = |detail: &str| KeyError::Unsupported {
        file: source.to_string(),
        label: label.to_string(),
        detail: detail.to_string(),
    };
    let result = match label {
        "RSA PRIVATE KEY" => rsa::KeyPair::from_der(der)
            .map(PrivateKey::Rsa)
            .map_err(|e| invalid(&format!("PKCS#1 RSAPrivateKey rejected: {e}"))),
        "EC PRIVATE KEY" => Curve::ALL
            .into_iter()
            .find_map(|curve| {
                EcdsaKeyPair::from_private_key_der(curve.signing(), der)
                    .ok()
                    .map(|pair| PrivateKey::Ec { pair, curve })
            })
            .ok_or_else(|| invalid("not a SEC1 ECPrivateKey on P-256, P-384 or P-521")),
        "PRIVATE KEY" => {
            if let Ok(pair) = rsa::KeyPair::from_pkcs8(der) {
                Ok(PrivateKey::Rsa(pair))
            } else if let Some(key) = Curve::ALL.into_iter().find_map(|curve| {
                EcdsaKeyPair::from_pkcs8(curve.signing(), der)
                    .ok()
                    .map(|pair| PrivateKey::Ec { pair, curve })
            }) {
                Ok(key)
            } else {
                Err(unsupported(
                    "PKCS#8 key that is neither RSA (2048..8192 bits) nor EC P-256/P-384/P-521",
                ))
            }
        }
        "ENCRYPTED PRIVATE KEY" => Err(unsupported(
            "encrypted private keys are not supported (kube-apiserver cannot read them either)",
        )),
        _ => return None,
    };
    Some(result)
}

/// Loads the signing key from PEM: the first private-key block (other blocks such as
/// `EC PARAMETERS` are skipped, as kube-apiserver does). `source` names the input in errors.
pub fn parse_private_key_pem(source: &str, data: &[u8]) -> Result<PrivateKey, KeyError> {
    let blocks = parse_blocks(source, data)?;
    for block in &blocks {
        if let Some(result) = private_from_block(source, block) {
            return result;
        }
    }
    Err(KeyError::NoKey {
        file: source.to_string(),
        wanted: "private key",
        found: labels(&blocks),
        accepted: PRIVATE_LABELS,
    })
}

/// Loads every public key in a PEM file. A file without public blocks but with a private key
/// yields that key's public half (kube-apiserver's `--service-account-key-file` behaviour).
pub fn parse_public_keys_pem(source: &str, data: &[u8]) -> Result<Vec<PublicKey>, KeyError> {
    let blocks = parse_blocks(source, data)?;
    let mut keys = Vec::new();
    for block in &blocks {
        let label = block.tag();
        let parsed = match label {
            "PUBLIC KEY" => PublicKey::from_spki_der(block.contents()),
            "RSA PUBLIC KEY" => PublicKey::from_pkcs1_der(block.contents()),
            "CERTIFICATE" => PublicKey::from_certificate_der(block.contents()),
            _ => continue,
        };
        keys.push(parsed.map_err(|e| match e {
            PublicKeyRejected::UnsupportedAlgorithm(_) | PublicKeyRejected::RsaSize(_) => {
                KeyError::Unsupported {
                    file: source.to_string(),
                    label: label.to_string(),
                    detail: e.to_string(),
                }
            }
            _ => KeyError::Invalid {
                file: source.to_string(),
                label: label.to_string(),
                detail: e.to_string(),
            },
        })?);
    }
    if !keys.is_empty() {
        return Ok(keys);
    }
    for block in &blocks {
        if let Some(result) = private_from_block(source, block) {
            return Ok(vec![result?.public_key()?]);
        }
    }
    Err(KeyError::NoKey {
        file: source.to_string(),
        wanted: "public key",
        found: labels(&blocks),
        accepted: PUBLIC_LABELS,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rsa_pem() -> (PrivateKey, String) {
        let key = PrivateKey::generate(KeySpec::Rsa(RsaBits::B2048)).expect("generate");
        let pem = key.to_pkcs8_pem().expect("pem");
        (key, pem)
    }

    #[test]
    fn generated_rsa_round_trips_through_pkcs8_and_spki() {
        let (key, pem) = rsa_pem();
        assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----"));
        let loaded = parse_private_key_pem("sa.key", pem.as_bytes()).expect("load");
        let public = key.public_key().expect("public");
        assert_eq!(loaded.public_key().expect("public"), public);
        assert_eq!(public.rsa_bits(), Some(2048));
        assert_eq!(public.algorithm(), Algorithm::RS256);
        let pub_pem = public.to_pem();
        assert!(pub_pem.starts_with("-----BEGIN PUBLIC KEY-----"));
        let keys = parse_public_keys_pem("sa.pub", pub_pem.as_bytes()).expect("pub");
        assert_eq!(keys, vec![public]);
    }

    #[test]
    fn canonical_spki_equals_aws_lc_encoding() {
        let key = PrivateKey::generate(KeySpec::EcP256).expect("generate");
        let PrivateKey::Ec { pair, .. } = &key else {
            panic!("not EC")
        };
        let der: PublicKeyX509Der<'static> = pair.public_key().as_der().expect("der");
        assert_eq!(key.public_key().expect("public").spki_der(), der.as_ref());
        let (rsa, _) = rsa_pem();
        let PrivateKey::Rsa(pair) = &rsa else {
            panic!("not RSA")
        };
        let der: PublicKeyX509Der<'static> = pair.public_key().as_der().expect("der");
        assert_eq!(rsa.public_key().expect("public").spki_der(), der.as_ref());
    }

    #[test]
    fn private_key_file_yields_its_public_key() {
        let (key, pem) = rsa_pem();
        let keys = parse_public_keys_pem("sa.key", pem.as_bytes()).expect("pub");
        assert_eq!(keys, vec![key.public_key().expect("public")]);
    }

    #[test]
    fn pkcs1_private_and_public_keys_load() {
        // PKCS#1 blocks built from a generated key: RSAPublicKey from components, and the
        // RSAPrivateKey is the inner OCTET STRING of the PKCS#8 document.
        let (key, _) = rsa_pem();
        let public = key.public_key().expect("public");
        let KeyMaterial::Rsa { n, e } = public.material() else {
            panic!("not RSA")
        };
        let pkcs1 = der::rsa_public_key_pkcs1(n, e);
        let pem_text = pem::encode(&pem::Pem::new("RSA PUBLIC KEY", pkcs1));
        let keys = parse_public_keys_pem("k.pub", pem_text.as_bytes()).expect("pkcs1 pub");
        assert_eq!(keys[0].kid(), public.kid());
    }

    #[test]
    fn garbage_and_wrong_labels_are_named() {
        let err = parse_private_key_pem("x.key", b"hello").expect_err("not pem");
        assert_eq!(
            err,
            KeyError::NotPem {
                file: "x.key".into(),
                len: 5
            }
        );
        let csr = pem::encode(&pem::Pem::new("CERTIFICATE REQUEST", vec![1, 2, 3]));
        let err = parse_private_key_pem("x.key", csr.as_bytes()).expect_err("csr");
        let text = err.to_string();
        assert!(
            text.contains("x.key") && text.contains("CERTIFICATE REQUEST"),
            "{text}"
        );
        let err = parse_public_keys_pem("y.pub", csr.as_bytes()).expect_err("csr");
        assert!(
            matches!(
                err,
                KeyError::NoKey {
                    wanted: "public key",
                    ..
                }
            ),
            "{err}"
        );
        let bad = pem::encode(&pem::Pem::new("PUBLIC KEY", vec![0x30, 0x03, 1, 2, 3]));
        let err = parse_public_keys_pem("z.pub", bad.as_bytes()).expect_err("bad");
        assert!(matches!(err, KeyError::Invalid { .. }), "{err}");
        let enc = pem::encode(&pem::Pem::new("ENCRYPTED PRIVATE KEY", vec![0x30, 0x00]));
        let err = parse_private_key_pem("e.key", enc.as_bytes()).expect_err("enc");
        assert!(matches!(err, KeyError::Unsupported { .. }), "{err}");
    }

    #[test]
    fn small_rsa_and_compressed_points_are_rejected() {
        let n = [0xffu8; 128]; // 1024 bits
        assert_eq!(
            PublicKey::from_rsa_components(&n, &[1, 0, 1]),
            Err(PublicKeyRejected::RsaSize(1024))
        );
        let mut compressed = vec![0x02];
        compressed.extend_from_slice(&[7u8; 32]);
        assert!(matches!(
            PublicKey::from_ec_point(Curve::P256, &compressed),
            Err(PublicKeyRejected::EcPoint { .. })
        ));
        let mut off_curve = vec![0x04];
        off_curve.extend_from_slice(&[7u8; 64]);
        assert!(matches!(
            PublicKey::from_ec_point(Curve::P256, &off_curve),
            Err(PublicKeyRejected::Crypto(_))
        ));
    }

    #[test]
    fn debug_never_prints_key_material() {
        let (key, pem) = rsa_pem();
        let text = format!("{key:?}");
        assert_eq!(text, "PrivateKey(RSA 2048 bits)");
        assert!(!pem.contains(&text));
    }
}
