//! The strict token verifier: the security boundary of the local STS and `irsa doctor`.
//!
//! Every rule is checked in a fixed order and every failure has its own [`VerifyError`]
//! variant with a stable [`VerifyError::reason`] code, so tests can assert *why* a token was
//! refused and STS can map the reason to the error code and text real AWS STS returns
//! ([`VerifyError::sts_error_code`], [`VerifyError::sts_message`]).
//!
//! Order:
//! 1. length ≤ 20,000 characters (STS's `WebIdentityToken` maximum), before any decoding;
//! 2. trailing ASCII whitespace trimmed (SDKs send token files verbatim, newline included);
//! 3. compact JWS: exactly three base64url segments without padding (five is a JWE);
//!    header and payload are JSON objects without duplicate members;
//! 4. header `alg` in RS256/384/512, ES256/384/512 (`none`, HS*, PS*, ... rejected), no `crit`;
//! 5. key chosen by `kid`; the key must be able to do `alg` (RSA for RS*, the right curve
//!    for ES*). A token without `kid` is accepted only when exactly one key of the set can
//!    verify its `alg`: with several candidates a `kid` is required (never "try them all");
//! 6. signature verified; only then is the payload parsed and any claim read;
//! 7. `iss` byte-equal to the expected issuer; `aud` (string or array) contains an expected
//!    audience; `exp` present and not past (with leeway, default 300 s); `nbf`/`iat` not in
//!    the future beyond leeway; every numeric date an integer; `sub` a non-empty string.
//!
//! Keys are parsed once when the [`Verifier`] is built; `verify` does no key parsing.
//! Step 6 is skipped for a signature this verifier has already found valid (the same
//! signing input and signature, remembered by digest: [`crate::signature_memo`]); step 7
//! always runs.
//! Header members that point at keys (`jku`, `x5u`, `jwk`, `x5c`) are ignored: keys come only
//! from the configured set. Duplicate JSON members are rejected because parsers disagree on
//! which one wins.

use aws_lc_rs::signature::ParsedPublicKey;
use base64::Engine as _;
use serde::de::{self, DeserializeSeed, MapAccess, Visitor};
use serde_json::{Map, Value};

use crate::Algorithm;
use crate::jwk::{JwkSet, JwksError};
use crate::keys::{KeyMaterial, PublicKey};
use crate::signature_memo::{SignatureMemo, check_digest};

/// Longest token accepted, in characters (STS `clientTokenType` max).
pub const MAX_TOKEN_LEN: usize = 20_000;
/// Clock skew allowed around `exp`, `nbf` and `iat` by default, as STS allows.
pub const DEFAULT_LEEWAY_SECS: u64 = 300;

/// The error code STS returns for a rejected web identity token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StsErrorCode {
    /// `InvalidIdentityToken` (400).
    InvalidIdentityToken,
    /// `ExpiredTokenException` (400), only for a token past `exp` plus skew.
    ExpiredTokenException,
    /// `ValidationError` (400): the parameter breaks its length constraint.
    ValidationError,
}

impl StsErrorCode {
    /// The code as it appears on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidIdentityToken => "InvalidIdentityToken",
            Self::ExpiredTokenException => "ExpiredTokenException",
            Self::ValidationError => "ValidationError",
        }
    }
}

/// Why a token was rejected: one variant per rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// Longer than [`MAX_TOKEN_LEN`] characters.
    #[error("token is {len} characters long, over the {MAX_TOKEN_LEN} maximum")]
    TooLong { len: usize },
    /// Empty after trimming.
    #[error("token is empty")]
    Empty,
    /// Five segments: an encrypted JWT.
    #[error(
        "token has 5 segments: JWE (encrypted tokens) not supported, a compact JWS is required"
    )]
    Jwe,
    /// Not three segments.
    #[error("token has {found} dot-separated segments, a compact JWS has exactly 3")]
    SegmentCount { found: usize },
    /// A segment is not base64url without padding.
    #[error("token {part} is not base64url without padding")]
    InvalidBase64 { part: &'static str },
    /// The header is not a JSON object.
    #[error("token header is not a JSON object: {detail}")]
    HeaderNotJson { detail: String },
    /// The payload is not a JSON object (checked after the signature).
    #[error("token payload is not a JSON object: {detail}")]
    PayloadNotJson { detail: String },
    /// The same member appears twice in the header or payload (parsers disagree on which wins).
    #[error("token {part} has the member {name:?} more than once")]
    DuplicateMember { part: &'static str, name: String },
    /// The third segment is empty.
    #[error("token has no signature (third segment empty)")]
    MissingSignature,
    /// The header has no `alg`.
    #[error("token header has no \"alg\"")]
    MissingAlg,
    /// `alg` is `none`: an unsigned token.
    #[error("token alg \"none\" (unsigned) is never accepted")]
    AlgNone,
    /// `alg` is an HMAC algorithm: a shared secret, never a public key.
    #[error("token alg {alg:?} is symmetric (HMAC) and never accepted")]
    AlgSymmetric { alg: String },
    /// Any other `alg` outside RS256/384/512, ES256/384/512.
    #[error("token alg {alg:?} is not allowed (allowed: RS256, RS384, RS512, ES256, ES384, ES512)")]
    AlgNotAllowed { alg: String },
    /// The header names critical extensions this verifier does not implement.
    #[error("token header has \"crit\"; no critical extensions are supported")]
    CriticalHeader,
    /// A header member has the wrong JSON type (e.g. numeric `kid`).
    #[error("token header member {name:?} must be a string")]
    BadHeaderMember { name: &'static str },
    /// No key in the set has the token's `kid`.
    #[error("no key with kid {kid:?} in the JWKS")]
    UnknownKid { kid: String },
    /// No `kid`, and several keys could verify the token's algorithm.
    #[error(
        "token has no kid and {candidates} keys in the JWKS can verify {alg}; a kid is required"
    )]
    KidRequired { alg: Algorithm, candidates: usize },
    /// No `kid`, and no key could verify the token's algorithm.
    #[error("token has no kid and no key in the JWKS can verify {alg}")]
    NoKeyForAlg { alg: Algorithm },
    /// The key named by `kid` cannot do the token's algorithm (RSA key for ES256, ...).
    #[error("key {kid:?} is a {key} key and cannot verify alg {alg}")]
    KeyAlgMismatch {
        kid: String,
        alg: Algorithm,
        key: String,
    },
    /// The signature does not verify with the selected key.
    #[error("token signature does not verify with key {kid}")]
    BadSignature { kid: String },
    /// No `iss` claim.
    #[error("token has no \"iss\" claim")]
    MissingIssuer,
    /// `iss` differs from the expected issuer.
    #[error("token iss {found:?} is not the expected issuer {expected:?}")]
    IssuerMismatch { found: String, expected: String },
    /// `iss` differs from the expected issuer only by a trailing slash (a different issuer).
    #[error(
        "token iss {found:?} differs from the expected issuer {expected:?} by a trailing slash"
    )]
    IssuerTrailingSlash { found: String, expected: String },
    /// No `aud` claim.
    #[error("token has no \"aud\" claim")]
    MissingAudience,
    /// `aud` is `""` or `[]`.
    #[error("token aud is empty")]
    EmptyAudience,
    /// None of the token's audiences is expected.
    #[error("token aud {found:?} does not contain {expected:?}")]
    AudienceMismatch {
        found: Vec<String>,
        expected: Vec<String>,
    },
    /// No `exp` claim.
    #[error("token has no \"exp\" claim")]
    MissingExpiry,
    /// A numeric date (`exp`, `nbf`, `iat`) is not an integer.
    #[error("token claim {claim:?} must be an integer number of seconds")]
    NonIntegerDate { claim: &'static str },
    /// `exp` (plus leeway) is past.
    #[error("token expired: now {now} is not before exp {exp} + {leeway} s leeway")]
    Expired { exp: i64, now: i64, leeway: u64 },
    /// `nbf` is in the future beyond leeway.
    #[error("token not valid yet: nbf {nbf} is after now {now} + {leeway} s leeway")]
    NotYetValid { nbf: i64, now: i64, leeway: u64 },
    /// `iat` is in the future beyond leeway.
    #[error("token issued in the future: iat {iat} is after now {now} + {leeway} s leeway")]
    IssuedInFuture { iat: i64, now: i64, leeway: u64 },
    /// No `sub` claim, or an empty one.
    #[error("token has no \"sub\" claim (or it is empty)")]
    MissingSubject,
    /// A registered claim has the wrong JSON type.
    #[error("token claim {claim:?} must be {expected}")]
    ClaimType {
        claim: &'static str,
        expected: &'static str,
    },
}

const NOT_A_JWT: &str = "The ID Token provided is not a valid JWT. (You may see this error if you sent an Access Token)";
const NO_KEY: &str = "Couldn't retrieve verification key from your identity provider,  please reference AssumeRoleWithWebIdentity documentation for requirements";

impl VerifyError {
    /// A stable snake_case code for the rule that failed (for logs, metrics and tests).
    pub fn reason(&self) -> &'static str {
        match self {
            Self::TooLong { .. } => "token_too_long",
            Self::Empty => "token_empty",
            Self::Jwe => "jwe_not_supported",
            Self::SegmentCount { .. } => "not_three_segments",
            Self::InvalidBase64 { .. } => "invalid_base64url",
            Self::HeaderNotJson { .. } => "header_not_json_object",
            Self::PayloadNotJson { .. } => "payload_not_json_object",
            Self::DuplicateMember { .. } => "duplicate_member",
            Self::MissingSignature => "signature_missing",
            Self::MissingAlg => "alg_missing",
            Self::AlgNone => "alg_none",
            Self::AlgSymmetric { .. } => "alg_symmetric",
            Self::AlgNotAllowed { .. } => "alg_not_allowed",
            Self::CriticalHeader => "crit_not_supported",
            Self::BadHeaderMember { .. } => "header_member_type",
            Self::UnknownKid { .. } => "unknown_kid",
            Self::KidRequired { .. } => "kid_required",
            Self::NoKeyForAlg { .. } => "no_key_for_alg",
            Self::KeyAlgMismatch { .. } => "key_alg_mismatch",
            Self::BadSignature { .. } => "signature_invalid",
            Self::MissingIssuer => "iss_missing",
            Self::IssuerMismatch { .. } => "iss_mismatch",
            Self::IssuerTrailingSlash { .. } => "iss_trailing_slash",
            Self::MissingAudience => "aud_missing",
            Self::EmptyAudience => "aud_empty",
            Self::AudienceMismatch { .. } => "aud_mismatch",
            Self::MissingExpiry => "exp_missing",
            Self::NonIntegerDate { .. } => "date_not_integer",
            Self::Expired { .. } => "expired",
            Self::NotYetValid { .. } => "nbf_in_future",
            Self::IssuedInFuture { .. } => "iat_in_future",
            Self::MissingSubject => "sub_missing",
            Self::ClaimType { .. } => "claim_type",
        }
    }

    /// The STS error code for this rejection: `ExpiredTokenException` only for an expired
    /// token, `ValidationError` for an over-long parameter, `InvalidIdentityToken` otherwise.
    pub fn sts_error_code(&self) -> StsErrorCode {
        match self {
            Self::Expired { .. } => StsErrorCode::ExpiredTokenException,
            Self::TooLong { .. } => StsErrorCode::ValidationError,
            _ => StsErrorCode::InvalidIdentityToken,
        }
    }

    /// The message real STS returns for this rejection (texts from
    /// `shared/reference/sts-behaviour.md` §1.6/§2; where AWS is silent, the wording is a
    /// documented choice: signature failures and bad claim types use the "not a valid JWT"
    /// text, `nbf`/`iat` in the future "Token not yet valid").
    pub fn sts_message(&self) -> String {
        match self {
            Self::TooLong { .. } => format!(
                "1 validation error detected: Value at 'webIdentityToken' failed to satisfy constraint: Member must have length less than or equal to {MAX_TOKEN_LEN}"
            ),
            Self::UnknownKid { .. }
            | Self::KidRequired { .. }
            | Self::NoKeyForAlg { .. }
            | Self::KeyAlgMismatch { .. } => NO_KEY.to_string(),
            Self::IssuerMismatch { found, .. } | Self::IssuerTrailingSlash { found, .. } => {
                format!("No OpenIDConnect provider found in your account for {found}")
            }
            Self::MissingIssuer => "Missing a required claim: iss".to_string(),
            Self::MissingAudience => "Missing a required claim: aud".to_string(),
            Self::EmptyAudience | Self::AudienceMismatch { .. } => {
                "Incorrect token audience".to_string()
            }
            Self::MissingExpiry => "Missing a required claim: exp".to_string(),
            Self::MissingSubject => "Missing a required claim: sub".to_string(),
            Self::Expired { exp, now, .. } => format!(
                "Token expired: current date/time {now} must be before the expiration date/time {exp}"
            ),
            Self::NotYetValid { .. } | Self::IssuedInFuture { .. } => {
                "Token not yet valid".to_string()
            }
            _ => NOT_A_JWT.to_string(),
        }
    }
}

/// What a token must satisfy besides its signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyOptions {
    /// The expected `iss`, compared byte for byte.
    pub issuer: String,
    /// Accepted audiences: the token's `aud` must contain at least one.
    pub audiences: Vec<String>,
    /// Clock skew allowed for `exp`, `nbf` and `iat`, in seconds.
    pub leeway_secs: u64,
}

impl VerifyOptions {
    /// Options for one issuer and one audience with the default 300 s leeway.
    pub fn new(issuer: impl Into<String>, audience: impl Into<String>) -> Self {
        Self {
            issuer: issuer.into(),
            audiences: vec![audience.into()],
            leeway_secs: DEFAULT_LEEWAY_SECS,
        }
    }
}

/// A token whose signature and claims verified.
#[derive(Debug, Clone, PartialEq)]
pub struct VerifiedToken {
    /// The signing algorithm.
    pub algorithm: Algorithm,
    /// The header's `kid`, if any.
    pub kid: Option<String>,
    /// The whole header.
    pub header: Map<String, Value>,
    /// All claims.
    pub claims: Map<String, Value>,
    /// `iss`.
    pub issuer: String,
    /// `sub`.
    pub subject: String,
    /// `aud`, as a list even when the token had a string.
    pub audiences: Vec<String>,
    /// The first token audience that is among the expected ones (STS's `Audience`).
    pub matched_audience: String,
    /// `exp`.
    pub expires_at: i64,
    /// `nbf`, if present.
    pub not_before: Option<i64>,
    /// `iat`, if present.
    pub issued_at: Option<i64>,
}

/// A token decoded *without* verifying anything but its shape and `alg`. Every value in it
/// is attacker-controlled; use it only to decide which issuer's keys to verify with.
#[derive(Debug, Clone, PartialEq)]
pub struct UnverifiedToken {
    /// The header.
    pub header: Map<String, Value>,
    /// The claims, NOT verified.
    pub claims: Map<String, Value>,
}

impl UnverifiedToken {
    /// The unverified `iss`, if it is a string.
    pub fn issuer(&self) -> Option<&str> {
        self.claims.get("iss").and_then(Value::as_str)
    }
}

struct VerifierKey {
    kid: Option<String>,
    description: String,
    parsed: Vec<(Algorithm, ParsedPublicKey)>,
}

impl VerifierKey {
    fn for_alg(&self, alg: Algorithm) -> Option<&ParsedPublicKey> {
        self.parsed.iter().find(|(a, _)| *a == alg).map(|(_, k)| k)
    }
}

/// Verifies tokens against a fixed set of keys and options. Build once, use for many tokens.
pub struct Verifier {
    keys: Vec<VerifierKey>,
    options: VerifyOptions,
    /// Signatures already found valid with these keys (see [`crate::signature_memo`]).
    memo: SignatureMemo,
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verifier")
            .field(
                "keys",
                &self.keys.iter().map(|k| &k.description).collect::<Vec<_>>(),
            )
            .field("options", &self.options)
            .finish()
    }
}

impl Verifier {
    /// A verifier for the keys of a JWKS. An RSA key without `alg` may verify RS256/384/512;
    /// with `alg`, only that algorithm. An EC key only its curve's algorithm.
    pub fn new(jwks: &JwkSet, options: VerifyOptions) -> Result<Self, JwksError> {
        let mut keys = Vec::with_capacity(jwks.keys.len());
        for (index, entry) in jwks.keys.iter().enumerate() {
            let possible: Vec<Algorithm> = match entry.key.material() {
                KeyMaterial::Rsa { .. } => {
                    vec![Algorithm::RS256, Algorithm::RS384, Algorithm::RS512]
                }
                KeyMaterial::Ec { curve, .. } => vec![curve.algorithm()],
            };
            let algs: Vec<Algorithm> = match entry.alg {
                None => possible,
                Some(alg) if possible.contains(&alg) => vec![alg],
                Some(alg) => {
                    return Err(JwksError::BadKey {
                        index,
                        kid: entry.kid.clone(),
                        detail: format!("alg {alg} does not fit a {} key", describe(&entry.key)),
                    });
                }
            };
            let mut parsed = Vec::with_capacity(algs.len());
            for alg in algs {
                let key = entry.key.parsed_for(alg).map_err(|e| JwksError::BadKey {
                    index,
                    kid: entry.kid.clone(),
                    detail: format!("rejected by aws-lc-rs: {e}"),
                })?;
                parsed.push((alg, key));
            }
            keys.push(VerifierKey {
                kid: entry.kid.clone(),
                description: describe(&entry.key),
                parsed,
            });
        }
        if keys.is_empty() {
            return Err(JwksError::Empty);
        }
        Ok(Self {
            keys,
            options,
            memo: SignatureMemo::default(),
        })
    }

    /// A verifier for public keys, each under its kube-apiserver kid and algorithm.
    pub fn from_public_keys(keys: &[PublicKey], options: VerifyOptions) -> Result<Self, JwksError> {
        Self::new(&JwkSet::from_keys(keys), options)
    }

    /// The options this verifier checks.
    pub fn options(&self) -> &VerifyOptions {
        &self.options
    }

    /// How many valid signatures this verifier remembers (at most
    /// [`MAX_REMEMBERED`](crate::signature_memo::MAX_REMEMBERED)).
    pub fn remembered_signatures(&self) -> usize {
        self.memo.len()
    }

    /// Forgets every remembered signature, so the next verification of each token checks
    /// its signature again. Benchmarks use it to measure the full check; the STS never needs
    /// it (a new key set is a new verifier).
    pub fn forget_signatures(&self) {
        self.memo.clear();
    }

    /// Verifies `token` as of `now` (Unix seconds). The verifier never reads a clock: the
    /// caller owns time, so the same token, keys and `now` always give the same answer.
    pub fn verify(&self, token: &str, now: i64) -> Result<VerifiedToken, VerifyError> {
        let parts = split(token)?;
        let (header, alg) = parse_header(&parts.header)?;
        let signature = parts
            .signature
            .as_deref()
            .ok_or(VerifyError::MissingSignature)?;
        let kid = self.check_signature(&header, alg, parts.signing_input, signature)?;
        // Only now is the payload looked at.
        let claims = parse_payload(&parts.payload)?;
        self.finish(header, claims, alg, kid, now)
    }

    /// Verifies a token [`decode`]d earlier (its shape, header and `alg` already checked, its
    /// payload already parsed), as of `now`: the same checks and the same answers as
    /// [`verify`](Self::verify) gives for a token that decodes, without decoding it again.
    pub fn verify_decoded(
        &self,
        token: DecodedToken<'_>,
        now: i64,
    ) -> Result<VerifiedToken, VerifyError> {
        let DecodedToken {
            signing_input,
            signature,
            alg,
            unverified: UnverifiedToken { header, claims },
        } = token;
        let kid = self.check_signature(&header, alg, signing_input, &signature)?;
        self.finish(header, claims, alg, kid, now)
    }

    /// Steps 5 and 6: the key named by the header's `kid` (or the only one for `alg`), then
    /// the signature. Returns the `kid`.
    fn check_signature(
        &self,
        header: &Map<String, Value>,
        alg: Algorithm,
        signing_input: &str,
        signature: &[u8],
    ) -> Result<Option<String>, VerifyError> {
        let kid = match header.get("kid") {
            None => None,
            Some(Value::String(kid)) => Some(kid.as_str()),
            Some(_) => return Err(VerifyError::BadHeaderMember { name: "kid" }),
        };
        let (key, key_name) = self.select_key(kid, alg)?;
        let digest = check_digest(signing_input.as_bytes(), signature);
        if !self.memo.is_known_valid(&digest) {
            key.verify_sig(signing_input.as_bytes(), signature)
                .map_err(|_| VerifyError::BadSignature {
                    kid: key_name.to_string(),
                })?;
            self.memo.remember_valid(digest);
        }
        Ok(kid.map(str::to_string))
    }

    /// Step 7, on a token whose signature verified.
    fn finish(
        &self,
        header: Map<String, Value>,
        claims: Map<String, Value>,
        alg: Algorithm,
        kid: Option<String>,
        now: i64,
    ) -> Result<VerifiedToken, VerifyError> {
        let checked = check_claims(&claims, &self.options, now)?;
        Ok(VerifiedToken {
            algorithm: alg,
            kid,
            header,
            claims,
            issuer: checked.issuer,
            subject: checked.subject,
            audiences: checked.audiences,
            matched_audience: checked.matched_audience,
            expires_at: checked.exp,
            not_before: checked.nbf,
            issued_at: checked.iat,
        })
    }

    fn select_key<'a>(
        &'a self,
        kid: Option<&'a str>,
        alg: Algorithm,
    ) -> Result<(&'a ParsedPublicKey, &'a str), VerifyError> {
        match kid {
            Some(kid) => {
                let mut named = self
                    .keys
                    .iter()
                    .filter(|k| k.kid.as_deref() == Some(kid))
                    .peekable();
                let Some(first) = named.peek().map(|k| k.description.clone()) else {
                    return Err(VerifyError::UnknownKid {
                        kid: kid.to_string(),
                    });
                };
                named
                    .find_map(|k| k.for_alg(alg))
                    .map(|k| (k, kid))
                    .ok_or_else(|| VerifyError::KeyAlgMismatch {
                        kid: kid.to_string(),
                        alg,
                        key: first,
                    })
            }
            None => {
                let candidates: Vec<(&ParsedPublicKey, &VerifierKey)> = self
                    .keys
                    .iter()
                    .filter_map(|k| k.for_alg(alg).map(|p| (p, k)))
                    .collect();
                match candidates.as_slice() {
                    [] => Err(VerifyError::NoKeyForAlg { alg }),
                    [(parsed, key)] => Ok((*parsed, key.kid.as_deref().unwrap_or("(no kid)"))),
                    many => Err(VerifyError::KidRequired {
                        alg,
                        candidates: many.len(),
                    }),
                }
            }
        }
    }
}

fn describe(key: &PublicKey) -> String {
    match key.material() {
        KeyMaterial::Rsa { .. } => format!("RSA-{}", key.rsa_bits().unwrap_or(0)),
        KeyMaterial::Ec { curve, .. } => format!("EC {}", curve.jwk_name()),
    }
}

/// Decodes the shape of a token without verifying its signature or claims. See
/// [`UnverifiedToken`]: nothing in the result may be trusted.
pub fn decode_unverified(token: &str) -> Result<UnverifiedToken, VerifyError> {
    decode(token).map(|decoded| decoded.unverified)
}

/// A token decoded once: what [`decode_unverified`] returns, plus the signing input and the
/// signature, so that [`Verifier::verify_decoded`] checks it without decoding it again (a
/// caller that reads the unverified `iss` to pick the keys decodes each token once).
#[derive(Debug, Clone, PartialEq)]
pub struct DecodedToken<'a> {
    signing_input: &'a str,
    signature: Vec<u8>,
    alg: Algorithm,
    unverified: UnverifiedToken,
}

impl DecodedToken<'_> {
    /// The header and the claims, NOT verified.
    pub fn unverified(&self) -> &UnverifiedToken {
        &self.unverified
    }

    /// The header's `alg` (one of the allowed algorithms).
    pub fn algorithm(&self) -> Algorithm {
        self.alg
    }
}

/// Decodes a token like [`decode_unverified`] (same checks, same errors in the same order)
/// and keeps what verifying it needs.
pub fn decode(token: &str) -> Result<DecodedToken<'_>, VerifyError> {
    let parts = split(token)?;
    let (header, alg) = parse_header(&parts.header)?;
    let signature = parts.signature.ok_or(VerifyError::MissingSignature)?;
    let claims = parse_payload(&parts.payload)?;
    Ok(DecodedToken {
        signing_input: parts.signing_input,
        signature,
        alg,
        unverified: UnverifiedToken { header, claims },
    })
}

/// Step 3 and 4 for the header: a JSON object without duplicate members, with an allowed
/// `alg` and no `crit`.
fn parse_header(bytes: &[u8]) -> Result<(Map<String, Value>, Algorithm), VerifyError> {
    let header = parse_object(bytes, "header")
        .map_err(|e| e.into_error(|detail| VerifyError::HeaderNotJson { detail }))?;
    let alg = header_alg(&header)?;
    Ok((header, alg))
}

/// The payload: a JSON object without duplicate members.
fn parse_payload(bytes: &[u8]) -> Result<Map<String, Value>, VerifyError> {
    parse_object(bytes, "payload")
        .map_err(|e| e.into_error(|detail| VerifyError::PayloadNotJson { detail }))
}

struct Parts<'a> {
    signing_input: &'a str,
    header: Vec<u8>,
    payload: Vec<u8>,
    signature: Option<Vec<u8>>,
}

fn split(token: &str) -> Result<Parts<'_>, VerifyError> {
    if token.len() > MAX_TOKEN_LEN {
        let chars = token.chars().count();
        if chars > MAX_TOKEN_LEN {
            return Err(VerifyError::TooLong { len: chars });
        }
    }
    let token = token.trim_end_matches(|c: char| c.is_ascii_whitespace());
    if token.is_empty() {
        return Err(VerifyError::Empty);
    }
    let mut dots = token.match_indices('.').map(|(i, _)| i);
    let (first, second) = match (dots.next(), dots.next(), dots.next()) {
        (Some(a), Some(b), None) => (a, b),
        (a, b, c) => {
            let found = [a, b, c].iter().flatten().count() + dots.count();
            return Err(if found == 4 {
                VerifyError::Jwe
            } else {
                VerifyError::SegmentCount { found: found + 1 }
            });
        }
    };
    let header_b64 = &token[..first];
    let payload_b64 = &token[first + 1..second];
    let signature_b64 = &token[second + 1..];
    let header = decode_segment(header_b64, "header")?;
    let payload = decode_segment(payload_b64, "payload")?;
    // An empty signature is reported after the header, so `alg: none` tokens get their
    // own reason.
    let signature = if signature_b64.is_empty() {
        None
    } else {
        Some(decode_segment(signature_b64, "signature")?)
    };
    Ok(Parts {
        signing_input: &token[..second],
        header,
        payload,
        signature,
    })
}

fn decode_segment(segment: &str, part: &'static str) -> Result<Vec<u8>, VerifyError> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(segment)
        .map_err(|_| VerifyError::InvalidBase64 { part })
}

fn header_alg(header: &Map<String, Value>) -> Result<Algorithm, VerifyError> {
    let alg = match header.get("alg") {
        None => return Err(VerifyError::MissingAlg),
        Some(Value::String(alg)) => alg.as_str(),
        Some(_) => return Err(VerifyError::BadHeaderMember { name: "alg" }),
    };
    if header.contains_key("crit") {
        return Err(VerifyError::CriticalHeader);
    }
    if let Some(alg) = Algorithm::from_name(alg) {
        return Ok(alg);
    }
    if alg.eq_ignore_ascii_case("none") {
        Err(VerifyError::AlgNone)
    } else if alg.get(..2).is_some_and(|p| p.eq_ignore_ascii_case("HS")) {
        Err(VerifyError::AlgSymmetric {
            alg: alg.to_string(),
        })
    } else {
        Err(VerifyError::AlgNotAllowed {
            alg: alg.to_string(),
        })
    }
}

enum ObjectError {
    Syntax(String),
    Duplicate(&'static str, String),
}

impl ObjectError {
    fn into_error(self, syntax: impl FnOnce(String) -> VerifyError) -> VerifyError {
        match self {
            Self::Syntax(detail) => syntax(detail),
            Self::Duplicate(part, name) => VerifyError::DuplicateMember { part, name },
        }
    }
}

/// Parses a JSON object, refusing duplicate top-level members.
fn parse_object(bytes: &[u8], part: &'static str) -> Result<Map<String, Value>, ObjectError> {
    let mut duplicate = None;
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let result = StrictObject {
        duplicate: &mut duplicate,
    }
    .deserialize(&mut de)
    .and_then(|map| de.end().map(|()| map));
    match (result, duplicate) {
        (_, Some(name)) => Err(ObjectError::Duplicate(part, name)),
        (Ok(map), None) => Ok(map),
        (Err(e), None) => Err(ObjectError::Syntax(e.to_string())),
    }
}

struct StrictObject<'a> {
    duplicate: &'a mut Option<String>,
}

impl<'de> DeserializeSeed<'de> for StrictObject<'_> {
    type Value = Map<String, Value>;

    fn deserialize<D: de::Deserializer<'de>>(
        self,
        deserializer: D,
    ) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for StrictObject<'_> {
    type Value = Map<String, Value>;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Self::Value, A::Error> {
        let mut map = Map::new();
        while let Some(key) = access.next_key::<String>()? {
            let value: Value = access.next_value()?;
            if map.contains_key(&key) {
                let message = format!("duplicate member {key:?}");
                *self.duplicate = Some(key);
                return Err(de::Error::custom(message));
            }
            map.insert(key, value);
        }
        Ok(map)
    }
}

struct CheckedClaims {
    issuer: String,
    subject: String,
    audiences: Vec<String>,
    matched_audience: String,
    exp: i64,
    nbf: Option<i64>,
    iat: Option<i64>,
}

fn numeric_date(
    claims: &Map<String, Value>,
    claim: &'static str,
) -> Result<Option<i64>, VerifyError> {
    match claims.get(claim) {
        None => Ok(None),
        Some(Value::Number(n)) => n
            .as_i64()
            .map(Some)
            .ok_or(VerifyError::NonIntegerDate { claim }),
        Some(_) => Err(VerifyError::NonIntegerDate { claim }),
    }
}

fn check_claims(
    claims: &Map<String, Value>,
    options: &VerifyOptions,
    now: i64,
) -> Result<CheckedClaims, VerifyError> {
    let issuer = match claims.get("iss") {
        None => return Err(VerifyError::MissingIssuer),
        Some(Value::String(iss)) => iss,
        Some(_) => {
            return Err(VerifyError::ClaimType {
                claim: "iss",
                expected: "a string",
            });
        }
    };
    if *issuer != options.issuer {
        let expected = options.issuer.clone();
        let found = issuer.clone();
        let slash_only = issuer.trim_end_matches('/') == options.issuer.trim_end_matches('/');
        return Err(if slash_only {
            VerifyError::IssuerTrailingSlash { found, expected }
        } else {
            VerifyError::IssuerMismatch { found, expected }
        });
    }

    let audiences: Vec<String> = match claims.get("aud") {
        None => return Err(VerifyError::MissingAudience),
        Some(Value::String(aud)) => vec![aud.clone()],
        Some(Value::Array(items)) => {
            let mut out = Vec::with_capacity(items.len());
            for item in items {
                match item {
                    Value::String(aud) => out.push(aud.clone()),
                    _ => {
                        return Err(VerifyError::ClaimType {
                            claim: "aud",
                            expected: "a string or an array of strings",
                        });
                    }
                }
            }
            out
        }
        Some(_) => {
            return Err(VerifyError::ClaimType {
                claim: "aud",
                expected: "a string or an array of strings",
            });
        }
    };
    if audiences.iter().all(String::is_empty) {
        return Err(VerifyError::EmptyAudience);
    }
    let matched_audience = audiences
        .iter()
        .find(|a| options.audiences.contains(a))
        .cloned()
        .ok_or_else(|| VerifyError::AudienceMismatch {
            found: audiences.clone(),
            expected: options.audiences.clone(),
        })?;

    let leeway = options.leeway_secs;
    let leeway_i = i64::try_from(leeway).unwrap_or(i64::MAX);
    let exp = numeric_date(claims, "exp")?.ok_or(VerifyError::MissingExpiry)?;
    let nbf = numeric_date(claims, "nbf")?;
    let iat = numeric_date(claims, "iat")?;
    if now >= exp.saturating_add(leeway_i) {
        return Err(VerifyError::Expired { exp, now, leeway });
    }
    if let Some(nbf) = nbf
        && nbf > now.saturating_add(leeway_i)
    {
        return Err(VerifyError::NotYetValid { nbf, now, leeway });
    }
    if let Some(iat) = iat
        && iat > now.saturating_add(leeway_i)
    {
        return Err(VerifyError::IssuedInFuture { iat, now, leeway });
    }

    let subject = match claims.get("sub") {
        None => return Err(VerifyError::MissingSubject),
        Some(Value::String(sub)) if sub.is_empty() => return Err(VerifyError::MissingSubject),
        Some(Value::String(sub)) => sub.clone(),
        Some(_) => {
            return Err(VerifyError::ClaimType {
                claim: "sub",
                expected: "a string",
            });
        }
    };

    Ok(CheckedClaims {
        issuer: issuer.clone(),
        subject,
        audiences,
        matched_audience,
        exp,
        nbf,
        iat,
    })
}

#[cfg(test)]
#[path = "verify_tests.rs"]
mod tests;
