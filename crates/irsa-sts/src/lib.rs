//! The one `AssumeRoleWithWebIdentity` decision, as a pure function.
//!
//! The local STS (`irsa local`) and `irsa doctor` must never disagree about whether a token
//! may assume a role, or about the error AWS would answer. So the order of the checks, the
//! condition keys STS sets and the texts of its errors live here, once, with no store, no
//! HTTP and no clock (`now` is a parameter). The callers only gather the inputs:
//!
//! - the role's ARN and, when the role exists, its trust policy and maximum session duration;
//! - the IAM OIDC providers registered in the role's account (URL and client IDs);
//! - the issuer's keys ([`IssuerKeys`]: a JWKS, public keys, a verifier the caller cached, or
//!   the AWS error for keys that could not be fetched);
//! - the token, the session name and the requested duration.
//!
//! The checks run in the order of `shared/reference/sts-behaviour.md` §2:
//!
//! 1. the token's shape and `alg` (unverified decode), then its `iss`;
//! 2. the provider for `iss` among the role account's providers, matched byte for byte (a
//!    trailing slash is another issuer): `InvalidIdentityToken`, "No OpenIDConnect provider
//!    found in your account for …";
//! 3. the issuer's keys, then the strict [`irsa_jose::Verifier`]: signature, `iss`, `aud` ∈
//!    the provider's client IDs, `exp`/`nbf`/`iat` with the verifier's default skew
//!    ([`DEFAULT_LEEWAY_SECS`](irsa_jose::verify::DEFAULT_LEEWAY_SECS));
//! 4. the role: a missing role is the same `AccessDenied` as a denied trust policy, checked
//!    only once the caller proved who they are, so role names do not leak;
//! 5. the trust policy, evaluated by [`irsa_policy`] with the keys STS sets ([`request_context`]);
//! 6. `DurationSeconds` against the role's `MaxSessionDuration`.
//!
//! The answer is a [`Decision`]: the [`Outcome`] (the subject and audience credentials are
//! issued for, or the AWS error code, HTTP status and message exactly as STS answers) and an
//! [`Explanation`] that names the step, and for a trust-policy denial the statement, the
//! condition and the value seen.

use std::fmt;

use irsa_core::aws::RoleArn;
use irsa_jose::verify::{DecodedToken, decode};
use irsa_jose::{JwkSet, PublicKey, VerifiedToken, Verifier, VerifyError, VerifyOptions};
use irsa_policy::{Evaluation, Policy, RequestContext};
use serde_json::Value;

/// What STS answers for a denied trust policy or a missing role.
pub const NOT_AUTHORIZED: &str = "Not authorized to perform sts:AssumeRoleWithWebIdentity";
/// What STS answers when the issuer's keys cannot be used (AWS's text, double space included).
pub const NO_KEY: &str = "Couldn't retrieve verification key from your identity provider,  please reference AssumeRoleWithWebIdentity documentation for requirements";
/// What STS answers when `DurationSeconds` exceeds the role's maximum.
pub const DURATION_OVER_MAXIMUM: &str =
    "The requested DurationSeconds exceeds the MaxSessionDuration set for this role.";

/// An IAM OIDC provider registered in the role's account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegisteredProvider {
    /// Its ARN (`aws:FederatedProvider`, the trust policy's `Principal.Federated`).
    pub arn: String,
    /// Its URL without `https://` (`HOST/PATH`, the condition keys' prefix).
    pub url: String,
    /// `ClientIDList`: the audiences a token may carry.
    pub client_ids: Vec<String>,
}

impl RegisteredProvider {
    /// The issuer URL a token must carry in `iss` to match this provider.
    pub fn issuer_url(&self) -> String {
        format!("https://{}", self.url)
    }

    fn matches(&self, issuer: &str) -> bool {
        issuer
            .strip_prefix("https://")
            .is_some_and(|rest| rest == self.url)
    }
}

/// A trust policy as the caller has it.
#[derive(Debug, Clone, Copy)]
pub enum TrustPolicy<'a> {
    /// The JSON document.
    Document(&'a str),
    /// Already parsed (the local STS caches parsed policies).
    Parsed(&'a Policy),
}

/// The role, when it exists.
#[derive(Debug, Clone, Copy)]
pub struct RoleFacts<'a> {
    /// The trust policy.
    pub trust_policy: TrustPolicy<'a>,
    /// `MaxSessionDuration`, seconds.
    pub max_session_duration: u32,
}

/// The keys that verify the issuer's tokens.
#[derive(Debug, Clone, Copy)]
pub enum IssuerKeys<'a> {
    /// A verifier built with [`verify_options`] for this issuer and the matched provider's
    /// client IDs (the local STS caches these).
    Verifier(&'a Verifier),
    /// The issuer's JWKS.
    Jwks(&'a JwkSet),
    /// The issuer's public keys.
    PublicKeys(&'a [PublicKey]),
    /// The keys could not be obtained; STS answers with this error.
    Unavailable(&'a Denial),
}

/// One `AssumeRoleWithWebIdentity` call, as far as the decision is concerned.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// `RoleArn`.
    pub role_arn: &'a RoleArn,
    /// The role named by `role_arn` (same partition, account, path and name), if it exists.
    pub role: Option<RoleFacts<'a>>,
    /// The providers registered in the role's account (and partition). Passing only the
    /// one whose URL equals the token's issuer, or none, gives the same decision.
    pub providers: &'a [RegisteredProvider],
    /// `WebIdentityToken`.
    pub token: &'a str,
    /// `RoleSessionName` (the `sts:RoleSessionName` condition key).
    pub session_name: &'a str,
    /// `DurationSeconds`.
    pub duration_seconds: u32,
    /// Now, UNIX seconds.
    pub now: i64,
}

/// An AWS error as STS answers it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Denial {
    /// The HTTP status.
    pub status: u16,
    /// The error code (`AccessDenied`, `InvalidIdentityToken`, `ExpiredTokenException`, …).
    pub code: &'static str,
    /// The message, exactly as STS sends it.
    pub message: String,
}

impl Denial {
    /// `InvalidIdentityToken` (400) with `message`.
    pub fn invalid_token(message: impl Into<String>) -> Self {
        Self {
            status: 400,
            code: "InvalidIdentityToken",
            message: message.into(),
        }
    }

    /// `IDPCommunicationError` (400) for `issuer`.
    pub fn idp_communication(issuer: &str) -> Self {
        Self {
            status: 400,
            code: "IDPCommunicationError",
            message: format!("Could not communicate with the identity provider {issuer}"),
        }
    }

    /// `AccessDenied` (403), the answer for a denied trust policy and a missing role alike.
    pub fn access_denied() -> Self {
        Self {
            status: 403,
            code: "AccessDenied",
            message: NOT_AUTHORIZED.to_owned(),
        }
    }

    fn token(error: &VerifyError) -> Self {
        Self {
            status: 400,
            code: error.sts_error_code().as_str(),
            message: error.sts_message(),
        }
    }
}

impl fmt::Display for Denial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({}): {}", self.code, self.status, self.message)
    }
}

/// What credentials are issued for.
#[derive(Debug, Clone, PartialEq)]
pub struct Allowed {
    /// The ARN of the provider that vouched for the token (`Provider` in the answer).
    pub provider_arn: String,
    /// The token's `sub` (`SubjectFromWebIdentityToken`).
    pub subject: String,
    /// The client ID the token's `aud` matched (`Audience`).
    pub audience: String,
    /// The verified token.
    pub token: VerifiedToken,
}

/// Allowed, or the AWS error.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Credentials are issued.
    Allow(Box<Allowed>),
    /// STS answers with this error.
    Deny(Denial),
}

/// Why the decision is what it is: the step that decided, with what it saw.
#[derive(Debug, Clone, PartialEq)]
pub enum Explanation {
    /// The token is malformed, or failed verification (signature, `iss`, `aud`, expiry …).
    Token(VerifyError),
    /// No provider of the role's account has the token's issuer as URL.
    NoProvider {
        /// The token's (unverified) `iss`.
        issuer: String,
        /// The URLs of the providers that were there.
        registered: Vec<String>,
    },
    /// The issuer's keys were unavailable or unusable.
    Keys {
        /// The issuer.
        issuer: String,
        /// What went wrong.
        reason: String,
    },
    /// The role does not exist.
    NoRole,
    /// The role's trust policy does not parse (AWS would not have stored it).
    UnparseableTrustPolicy(String),
    /// The trust policy was evaluated: which statements applied, which condition failed and
    /// with what value. Allowed when its decision is `Allow`.
    TrustPolicy(Evaluation),
    /// Allowed by the trust policy, but `DurationSeconds` is over the role's maximum.
    DurationOverMaximum {
        /// `DurationSeconds`.
        requested: u32,
        /// `MaxSessionDuration`.
        maximum: u32,
    },
}

impl fmt::Display for Explanation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Token(e) => write!(f, "the token was rejected: {e}"),
            Self::NoProvider { issuer, registered } if registered.is_empty() => write!(
                f,
                "the role's account has no IAM OIDC provider; one for {issuer} is needed"
            ),
            Self::NoProvider { issuer, registered } => write!(
                f,
                "no IAM OIDC provider of the role's account has the URL {issuer} (registered: {})",
                registered.join(", ")
            ),
            Self::Keys { issuer, reason } => {
                write!(f, "the keys of {issuer} cannot be used: {reason}")
            }
            Self::NoRole => f.write_str("the role does not exist"),
            Self::UnparseableTrustPolicy(e) => {
                write!(f, "the role's trust policy does not parse: {e}")
            }
            Self::TrustPolicy(evaluation) => write!(f, "trust policy: {evaluation}"),
            Self::DurationOverMaximum { requested, maximum } => write!(
                f,
                "DurationSeconds {requested} is over the role's MaxSessionDuration {maximum}"
            ),
        }
    }
}

/// The decision and its reason.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    /// Allowed, or the AWS error.
    pub outcome: Outcome,
    /// The step that decided, and for a trust-policy denial the statement, condition and
    /// value seen (what `irsa doctor` prints).
    pub explanation: Explanation,
}

impl Decision {
    fn deny(denial: Denial, explanation: Explanation) -> Self {
        Self {
            outcome: Outcome::Deny(denial),
            explanation,
        }
    }

    /// Whether credentials are issued.
    pub fn is_allowed(&self) -> bool {
        matches!(self.outcome, Outcome::Allow(_))
    }
}

/// The verifier options STS uses for `issuer` and a provider's client IDs: exact `iss`, `aud`
/// among the client IDs, [`DEFAULT_LEEWAY_SECS`](irsa_jose::verify::DEFAULT_LEEWAY_SECS) of skew.
pub fn verify_options(issuer: &str, client_ids: &[String]) -> VerifyOptions {
    VerifyOptions {
        issuer: issuer.to_owned(),
        audiences: client_ids.to_vec(),
        leeway_secs: irsa_jose::verify::DEFAULT_LEEWAY_SECS,
    }
}

/// A web identity token decoded once (step 1): its shape and `alg` checked, its header and
/// claims parsed but NOT verified, and a string `iss`. [`decide_decoded`] verifies it
/// without decoding it again.
#[derive(Debug, Clone, PartialEq)]
pub struct WebIdentityToken<'a> {
    decoded: DecodedToken<'a>,
}

impl WebIdentityToken<'_> {
    /// The unverified `iss`: what a caller needs to know whose keys to fetch.
    pub fn issuer(&self) -> &str {
        // decode_token only returns tokens with a string `iss`.
        self.decoded.unverified().issuer().unwrap_or_default()
    }

    /// The unverified header `kid`, to pick or re-fetch keys.
    pub fn kid(&self) -> Option<&str> {
        self.decoded
            .unverified()
            .header
            .get("kid")
            .and_then(Value::as_str)
    }
}

/// Step 1: the token's shape, `alg` and `iss`. An error is the decision itself.
pub fn decode_token(token: &str) -> Result<WebIdentityToken<'_>, Decision> {
    let decoded =
        decode(token).map_err(|e| Decision::deny(Denial::token(&e), Explanation::Token(e)))?;
    if decoded.unverified().issuer().is_none() {
        let e = VerifyError::MissingIssuer;
        return Err(Decision::deny(Denial::token(&e), Explanation::Token(e)));
    }
    Ok(WebIdentityToken { decoded })
}

/// The provider among `providers` whose URL is the token's issuer (step 2).
pub fn find_provider<'p>(
    providers: &'p [RegisteredProvider],
    issuer: &str,
) -> Option<&'p RegisteredProvider> {
    providers.iter().find(|p| p.matches(issuer))
}

/// A role's `MaxSessionDuration` (IAM), seconds: the range IAM accepts.
pub const MAX_SESSION_DURATION_RANGE: std::ops::RangeInclusive<u32> = 3600..=43_200;
/// A role's `MaxSessionDuration` when none is given.
pub const DEFAULT_MAX_SESSION_DURATION: u32 = 3600;
/// `DurationSeconds` of `AssumeRoleWithWebIdentity`: the range STS accepts (the role's
/// `MaxSessionDuration` caps it further).
pub const DURATION_SECONDS_RANGE: std::ops::RangeInclusive<u32> = 900..=43_200;
/// `DurationSeconds` when none is given.
pub const DEFAULT_DURATION_SECONDS: u32 = 3600;

/// An STS timestamp (`Expiration`, `aws:CurrentTime`): ISO 8601 UTC, second precision, `Z`.
///
/// Two are written per `AssumeRoleWithWebIdentity`: jiff's own RFC 3339 printer (a whole-second
/// timestamp prints exactly this) is used rather than interpreting a `strftime` format on
/// every call; years outside 0000–9999, which no clock here reaches, keep `strftime`'s form.
pub fn iso8601(unix_seconds: i64) -> String {
    let timestamp =
        jiff::Timestamp::from_second(unix_seconds).unwrap_or(jiff::Timestamp::UNIX_EPOCH);
    if (0..=9999).contains(&jiff::tz::Offset::UTC.to_datetime(timestamp).year()) {
        timestamp.to_string()
    } else {
        timestamp.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
    }
}

/// The condition keys STS sets for a verified web identity token (reference §3.4):
/// `aws:FederatedProvider`, `HOST/PATH:sub`, `:aud`, `:oaud`, `:amr`, `:azp`,
/// `sts:RoleSessionName`, `aws:CurrentTime`, `aws:EpochTime`.
pub fn request_context(
    provider: &RegisteredProvider,
    verified: &VerifiedToken,
    session_name: &str,
    now: i64,
) -> RequestContext {
    let url = provider.url.as_str();
    let mut ctx = RequestContext::web_identity(
        &provider.arn,
        url,
        &verified.subject,
        &verified.matched_audience,
    )
    .with_value("sts:RoleSessionName", session_name)
    .with_value("aws:CurrentTime", iso8601(now))
    .with_value("aws:EpochTime", now.to_string());
    // `amr` is multivalued (string or array of strings in the token).
    match verified.claims.get("amr") {
        Some(Value::String(one)) => ctx = ctx.with_values(format!("{url}:amr"), [one.as_str()]),
        Some(Value::Array(many)) => {
            ctx = ctx.with_values(format!("{url}:amr"), many.iter().filter_map(Value::as_str));
        }
        _ => {}
    }
    if let Some(Value::String(azp)) = verified.claims.get("azp") {
        ctx = ctx.with_value(format!("{url}:azp"), azp.as_str());
    }
    ctx
}

/// The decision for `request` with `keys`. See the module docs for the order of the checks.
pub fn decide(request: &Request<'_>, keys: IssuerKeys<'_>) -> Decision {
    match decode_token(request.token) {
        Ok(token) => decide_decoded(request, token, keys),
        Err(decision) => decision,
    }
}

/// [`decide`] for a token the caller already decoded with [`decode_token`] (to read its
/// `iss` and gather the keys): `token` must be `request.token` decoded, and the decision is
/// the one [`decide`] reaches, without decoding the token a second time.
pub fn decide_decoded(
    request: &Request<'_>,
    token: WebIdentityToken<'_>,
    keys: IssuerKeys<'_>,
) -> Decision {
    let issuer = token.issuer();
    let Some(provider) = find_provider(request.providers, issuer) else {
        return Decision::deny(
            Denial::invalid_token(format!(
                "No OpenIDConnect provider found in your account for {issuer}"
            )),
            Explanation::NoProvider {
                registered: request
                    .providers
                    .iter()
                    .map(RegisteredProvider::issuer_url)
                    .collect(),
                issuer: issuer.to_owned(),
            },
        );
    };

    let built;
    let verifier = match keys {
        IssuerKeys::Verifier(v) => v,
        IssuerKeys::Unavailable(denial) => {
            return Decision::deny(
                denial.clone(),
                Explanation::Keys {
                    reason: denial.message.clone(),
                    issuer: issuer.to_owned(),
                },
            );
        }
        IssuerKeys::Jwks(set) => {
            match Verifier::new(set, verify_options(issuer, &provider.client_ids)) {
                Ok(v) => {
                    built = v;
                    &built
                }
                Err(e) => return unusable_keys(issuer, &e),
            }
        }
        IssuerKeys::PublicKeys(list) => {
            match Verifier::from_public_keys(list, verify_options(issuer, &provider.client_ids)) {
                Ok(v) => {
                    built = v;
                    &built
                }
                Err(e) => return unusable_keys(issuer, &e),
            }
        }
    };
    let verified = match verifier.verify_decoded(token.decoded, request.now) {
        Ok(v) => v,
        Err(e) => return Decision::deny(Denial::token(&e), Explanation::Token(e)),
    };

    // The caller has proven who they are: now the role and its trust policy.
    let Some(role) = request.role else {
        return Decision::deny(Denial::access_denied(), Explanation::NoRole);
    };
    let parsed;
    let policy = match role.trust_policy {
        TrustPolicy::Parsed(p) => p,
        TrustPolicy::Document(text) => match Policy::parse_trust_policy(text) {
            Ok(p) => {
                parsed = p;
                &parsed
            }
            Err(e) => {
                return Decision::deny(
                    Denial::access_denied(),
                    Explanation::UnparseableTrustPolicy(e.to_string()),
                );
            }
        },
    };
    let ctx = request_context(provider, &verified, request.session_name, request.now);
    // The explained evaluation is the engine's decision plus its reasons (a few small
    // allocations next to the signature check).
    let evaluation = policy.evaluate_explained(&ctx);
    if !evaluation.decision.is_allowed() {
        return Decision::deny(
            Denial::access_denied(),
            Explanation::TrustPolicy(evaluation),
        );
    }
    if request.duration_seconds > role.max_session_duration {
        return Decision::deny(
            Denial {
                status: 400,
                code: "ValidationError",
                message: DURATION_OVER_MAXIMUM.to_owned(),
            },
            Explanation::DurationOverMaximum {
                requested: request.duration_seconds,
                maximum: role.max_session_duration,
            },
        );
    }
    Decision {
        outcome: Outcome::Allow(Box::new(Allowed {
            provider_arn: provider.arn.clone(),
            subject: verified.subject.clone(),
            audience: verified.matched_audience.clone(),
            token: verified,
        })),
        explanation: Explanation::TrustPolicy(evaluation),
    }
}

/// The issuer's keys do not form a usable key set: STS cannot retrieve a verification key.
fn unusable_keys(issuer: &str, error: &dyn fmt::Display) -> Decision {
    Decision::deny(
        Denial::invalid_token(NO_KEY),
        Explanation::Keys {
            issuer: issuer.to_owned(),
            reason: error.to_string(),
        },
    )
}

#[cfg(test)]
mod tests {
    use super::iso8601;

    #[test]
    fn iso8601_writes_what_strftime_writes() {
        let strftime = |s: i64| {
            jiff::Timestamp::from_second(s)
                .unwrap_or(jiff::Timestamp::UNIX_EPOCH)
                .strftime("%Y-%m-%dT%H:%M:%SZ")
                .to_string()
        };
        assert_eq!(iso8601(1_764_365_789), "2025-11-28T21:36:29Z");
        let mut s: i64 = -62_167_219_200 - 86_400 * 400; // before year 0
        while s < 253_402_300_800 + 86_400 * 400 {
            // past 9999-12-31
            assert_eq!(iso8601(s), strftime(s), "{s}");
            s += 7_919_999; // about three months, every time of day over the years
        }
        for s in [i64::MIN, -1, 0, 59, 951_782_400, i64::MAX] {
            assert_eq!(iso8601(s), strftime(s), "{s}");
        }
    }
}
