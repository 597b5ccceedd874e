//! Key IDs, JSON Web Key Sets and the OIDC discovery document AWS reads.
//!
//! The key ID is kube-apiserver's (`base64url(SHA-256(SPKI DER))`), so the `kid` in a token
//! header names its JWKS entry. A JWKS is written from public keys only: a private key handed
//! in is reduced to its public half first, so private members (`d`, `p`, `q`, ...) cannot
//! appear. Reading a JWKS (for verification) accepts RSA and EC keys, skips key types this
//! crate never verifies with (`oct`, `OKP`, ...) and keys whose `use` is not `sig`.

use aws_lc_rs::digest;
use base64::Engine as _;
use serde::{Deserialize, Serialize};

use crate::keys::{Curve, KeyMaterial, PublicKey, PublicKeyRejected};
use crate::{Algorithm, b64url};

/// kube-apiserver's key ID: base64url without padding of SHA-256 over the SPKI DER.
pub fn key_id(spki_der: &[u8]) -> String {
    b64url(digest::digest(&digest::SHA256, spki_der).as_ref())
}

/// One public JWK as published (no private members exist in this type).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Jwk {
    /// Always `sig`.
    #[serde(rename = "use")]
    pub use_: String,
    /// `RSA` or `EC`.
    pub kty: String,
    /// The kube-apiserver key ID.
    pub kid: String,
    /// The signing algorithm.
    pub alg: String,
    /// RSA modulus.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub n: Option<String>,
    /// RSA exponent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub e: Option<String>,
    /// EC curve.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub crv: Option<String>,
    /// EC x coordinate.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub x: Option<String>,
    /// EC y coordinate.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub y: Option<String>,
}

impl PublicKey {
    /// The key as a public JWK (`use` `sig`, `alg`, `kid`).
    pub fn to_jwk(&self) -> Jwk {
        let mut jwk = Jwk {
            use_: "sig".into(),
            kty: self.kty().into(),
            kid: self.kid().into(),
            alg: self.algorithm().as_str().into(),
            n: None,
            e: None,
            crv: None,
            x: None,
            y: None,
        };
        match self.material() {
            KeyMaterial::Rsa { n, e } => {
                jwk.n = Some(b64url(n));
                jwk.e = Some(b64url(e));
            }
            KeyMaterial::Ec { curve, point } => {
                let len = curve.coordinate_len();
                jwk.crv = Some(curve.jwk_name().into());
                jwk.x = point.get(1..1 + len).map(b64url);
                jwk.y = point.get(1 + len..).map(b64url);
            }
        }
        jwk
    }
}

/// A key usable for verification, read from a JWKS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JwksKey {
    /// The JWK's `kid`, if it has one.
    pub kid: Option<String>,
    /// The JWK's `alg`, if it has one (the key may then only verify that algorithm).
    pub alg: Option<Algorithm>,
    /// The key itself.
    pub key: PublicKey,
}

/// A JSON Web Key Set.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct JwkSet {
    /// Keys in document order.
    pub keys: Vec<JwksKey>,
}

/// Why a JWKS document cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JwksError {
    /// Not JSON, or not an object with a `keys` array.
    #[error("JWKS is not a JSON object with a \"keys\" array: {0}")]
    Shape(String),
    /// An RSA or EC key has a missing or malformed member.
    #[error("JWKS key #{index}{kid}: {detail}", kid = kid.as_ref().map(|k| format!(" (kid {k:?})")).unwrap_or_default())]
    BadKey {
        index: usize,
        kid: Option<String>,
        detail: String,
    },
    /// No usable (RSA or EC signing) key in the set.
    #[error("JWKS has no usable RSA or EC signing key")]
    Empty,
}

#[derive(Deserialize)]
struct RawSet {
    keys: Vec<serde_json::Value>,
}

fn member<'a>(
    obj: &'a serde_json::Map<String, serde_json::Value>,
    name: &str,
) -> Result<&'a str, String> {
    match obj.get(name) {
        Some(serde_json::Value::String(s)) => Ok(s),
        Some(_) => Err(format!("member {name:?} is not a string")),
        None => Err(format!("member {name:?} is missing")),
    }
}

fn b64_member(
    obj: &serde_json::Map<String, serde_json::Value>,
    name: &str,
) -> Result<Vec<u8>, String> {
    let text = member(obj, name)?;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(text)
        .map_err(|_| format!("member {name:?} is not base64url without padding"))
}

impl JwkSet {
    /// A set of the given public keys, each with its own kid and algorithm.
    pub fn from_keys(keys: &[PublicKey]) -> Self {
        Self {
            keys: keys
                .iter()
                .map(|k| JwksKey {
                    kid: Some(k.kid().to_string()),
                    alg: Some(k.algorithm()),
                    key: k.clone(),
                })
                .collect(),
        }
    }

    /// The published document `{"keys":[...]}` (public members only).
    pub fn to_json(&self) -> serde_json::Value {
        let keys: Vec<Jwk> = self
            .keys
            .iter()
            .map(|k| {
                let mut jwk = k.key.to_jwk();
                if let Some(kid) = &k.kid {
                    jwk.kid.clone_from(kid);
                }
                if let Some(alg) = k.alg {
                    jwk.alg = alg.as_str().into();
                }
                jwk
            })
            .collect();
        serde_json::json!({ "keys": keys })
    }

    /// The bytes published as `keys.json`: pretty JSON and a newline. The provisioning
    /// engine compares uploaded objects byte for byte (by their MD5), so this is the one
    /// place the layout is decided.
    pub fn to_document_bytes(&self) -> Vec<u8> {
        pretty_document(&self.to_json())
    }

    /// Parses a JWKS document for verification.
    pub fn parse(json: &[u8]) -> Result<Self, JwksError> {
        let raw: RawSet =
            serde_json::from_slice(json).map_err(|e| JwksError::Shape(e.to_string()))?;
        let mut keys = Vec::new();
        for (index, value) in raw.keys.iter().enumerate() {
            let serde_json::Value::Object(obj) = value else {
                return Err(JwksError::Shape(format!("key #{index} is not an object")));
            };
            let kid = match obj.get("kid") {
                None => None,
                Some(serde_json::Value::String(s)) => Some(s.clone()),
                Some(_) => {
                    return Err(JwksError::BadKey {
                        index,
                        kid: None,
                        detail: "member \"kid\" is not a string".into(),
                    });
                }
            };
            let bad = |detail: String| JwksError::BadKey {
                index,
                kid: kid.clone(),
                detail,
            };
            if obj.get("use").is_some_and(|u| u != "sig") {
                continue; // an encryption key is never used to verify
            }
            let kty = member(obj, "kty").map_err(&bad)?;
            let key = match kty {
                "RSA" => {
                    let n = b64_member(obj, "n").map_err(&bad)?;
                    let e = b64_member(obj, "e").map_err(&bad)?;
                    PublicKey::from_rsa_components(&n, &e)
                }
                "EC" => {
                    let crv = member(obj, "crv").map_err(&bad)?;
                    let curve = Curve::from_jwk_name(crv).ok_or_else(|| {
                        bad(format!("curve {crv:?} is not P-256, P-384 or P-521"))
                    })?;
                    let x = b64_member(obj, "x").map_err(&bad)?;
                    let y = b64_member(obj, "y").map_err(&bad)?;
                    let len = curve.coordinate_len();
                    if x.len() != len || y.len() != len {
                        return Err(bad(format!(
                            "x and y must be {len} bytes each for {crv}, got {} and {}",
                            x.len(),
                            y.len()
                        )));
                    }
                    let mut point = Vec::with_capacity(1 + 2 * len);
                    point.push(0x04);
                    point.extend_from_slice(&x);
                    point.extend_from_slice(&y);
                    PublicKey::from_ec_point(curve, &point)
                }
                _ => continue, // oct, OKP, ...: never used to verify
            }
            .map_err(|e: PublicKeyRejected| bad(e.to_string()))?;
            let alg = match obj.get("alg") {
                None => None,
                Some(serde_json::Value::String(name)) => Some(
                    Algorithm::from_name(name)
                        .ok_or_else(|| bad(format!("alg {name:?} is not in the allow-list")))?,
                ),
                Some(_) => return Err(bad("member \"alg\" is not a string".into())),
            };
            keys.push(JwksKey { kid, alg, key });
        }
        if keys.is_empty() {
            return Err(JwksError::Empty);
        }
        Ok(Self { keys })
    }
}

/// The OIDC discovery document (`/.well-known/openid-configuration`) AWS STS reads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DiscoveryDocument {
    /// Exactly the issuer.
    pub issuer: String,
    /// `<issuer>/keys.json`.
    pub jwks_uri: String,
    /// `urn:kubernetes:programmatic_authorization`.
    pub authorization_endpoint: String,
    /// `["id_token"]`.
    pub response_types_supported: Vec<String>,
    /// `["public"]`.
    pub subject_types_supported: Vec<String>,
    /// The algorithms of the published keys, deduplicated, in key order.
    pub id_token_signing_alg_values_supported: Vec<String>,
    /// `["sub","iss"]`.
    pub claims_supported: Vec<String>,
}

impl DiscoveryDocument {
    /// The document for `issuer` publishing `keys`.
    pub fn new(issuer: &str, keys: &[PublicKey]) -> Self {
        let mut algs: Vec<String> = Vec::new();
        for key in keys {
            let alg = key.algorithm().as_str().to_string();
            if !algs.contains(&alg) {
                algs.push(alg);
            }
        }
        Self {
            issuer: issuer.to_string(),
            jwks_uri: irsa_core::issuer::jwks_url(issuer),
            authorization_endpoint: "urn:kubernetes:programmatic_authorization".into(),
            response_types_supported: vec!["id_token".into()],
            subject_types_supported: vec!["public".into()],
            id_token_signing_alg_values_supported: algs,
            claims_supported: vec!["sub".into(), "iss".into()],
        }
    }

    /// The bytes published at `.well-known/openid-configuration`: pretty JSON (members in
    /// the struct's order) and a newline, the same layout as `keys.json`.
    pub fn to_document_bytes(&self) -> Vec<u8> {
        pretty_document(self)
    }
}

/// Pretty JSON plus a trailing newline. Serializing these plain documents cannot fail
/// (string keys, no maps with non-string keys), so a failure yields an empty document
/// that any comparison treats as different.
fn pretty_document<T: Serialize>(value: &T) -> Vec<u8> {
    let mut bytes = serde_json::to_vec_pretty(value).unwrap_or_default();
    bytes.push(b'\n');
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::{KeySpec, PrivateKey, RsaBits};

    #[test]
    fn kid_is_sha256_of_spki_base64url() {
        // SHA-256 of the empty input, a fixed known value.
        assert_eq!(key_id(b""), "47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU");
    }

    #[test]
    fn jwks_has_public_members_only_and_round_trips() {
        let rsa = PrivateKey::generate(KeySpec::Rsa(RsaBits::B2048)).expect("rsa");
        let ec = PrivateKey::generate(KeySpec::EcP256).expect("ec");
        let keys = vec![rsa.public_key().expect("p"), ec.public_key().expect("p")];
        let set = JwkSet::from_keys(&keys);
        let json = set.to_json();
        let text = json.to_string();
        for private in ["\"d\"", "\"p\"", "\"q\"", "\"dp\"", "\"dq\"", "\"qi\""] {
            assert!(!text.contains(private), "{private} in {text}");
        }
        let first = &json["keys"][0];
        assert_eq!(first["kty"], "RSA");
        assert_eq!(first["use"], "sig");
        assert_eq!(first["alg"], "RS256");
        assert_eq!(first["e"], "AQAB");
        assert_eq!(json["keys"][1]["crv"], "P-256");
        assert_eq!(json["keys"][1]["alg"], "ES256");
        let parsed = JwkSet::parse(text.as_bytes()).expect("parse");
        assert_eq!(parsed, set);
    }

    #[test]
    fn jwks_parsing_skips_foreign_keys_and_rejects_broken_ones() {
        let set = br#"{"keys":[{"kty":"oct","k":"c2VjcmV0"}]}"#;
        assert_eq!(JwkSet::parse(set), Err(JwksError::Empty));
        let enc = br#"{"keys":[{"kty":"RSA","use":"enc","n":"AQAB","e":"AQAB"}]}"#;
        assert_eq!(JwkSet::parse(enc), Err(JwksError::Empty));
        let bad = br#"{"keys":[{"kty":"RSA","kid":"k1","n":"AQAB"}]}"#;
        let err = JwkSet::parse(bad).expect_err("missing e");
        assert!(
            err.to_string().contains("\"e\" is missing") && err.to_string().contains("k1"),
            "{err}"
        );
        assert!(matches!(JwkSet::parse(b"[]"), Err(JwksError::Shape(_))));
    }

    #[test]
    fn discovery_document_has_the_exact_fields() {
        let ec = PrivateKey::generate(KeySpec::EcP256).expect("ec");
        let keys = vec![ec.public_key().expect("p"), ec.public_key().expect("p")];
        let doc = DiscoveryDocument::new("https://example.com/oidc", &keys);
        let json = serde_json::to_value(&doc).expect("json");
        assert_eq!(
            json,
            serde_json::json!({
                "issuer": "https://example.com/oidc",
                "jwks_uri": "https://example.com/oidc/keys.json",
                "authorization_endpoint": "urn:kubernetes:programmatic_authorization",
                "response_types_supported": ["id_token"],
                "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ["ES256"],
                "claims_supported": ["sub", "iss"],
            })
        );
    }
}
