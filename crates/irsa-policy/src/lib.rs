//! IAM policy grammar and evaluation for role trust policies.
//!
//! irsa's local STS promises that a trust policy which passes here passes in AWS and one which
//! fails here fails there. That needs a real policy engine, not "accept any token": this crate
//! parses documents as strictly as IAM's `CreateRole` does (with AWS's `MalformedPolicyDocument`
//! texts), and evaluates them for `sts:AssumeRoleWithWebIdentity` with IAM's semantics for
//! principals, actions, condition operators, set qualifiers, `…IfExists`, `Null`, case-insensitive
//! key names and `${…}` policy variables. `irsa doctor` uses the explanations to say *why* a role
//! cannot be assumed. No I/O, no async: it is called on the request path.
//!
//! # API
//!
//! Validate a document for `CreateRole` / `UpdateAssumeRolePolicy`:
//!
//! ```
//! use irsa_policy::{validate_trust_policy, DEFAULT_TRUST_POLICY_QUOTA};
//!
//! let err = validate_trust_policy(r#"{"Statement":{"Effect":"Allow","Action":"sts:AssumeRole",
//!     "Principal":{"Service":"ec2.amazonaws.com"},"Resource":"*"}}"#, DEFAULT_TRUST_POLICY_QUOTA)
//!     .unwrap_err();
//! assert_eq!(err.aws_code(), "MalformedPolicyDocument");        // IAM error code
//! assert_eq!(err.http_status(), 400);
//! assert_eq!(err.aws_message(), "Has prohibited field Resource"); // what clients see
//! assert_eq!(err.to_string(), "Statement: trust policies may not contain Resource"); // for logs
//! ```
//!
//! Evaluate at `AssumeRoleWithWebIdentity` time (parse once when the role is stored, evaluate per
//! request):
//!
//! ```
//! use irsa_policy::{Decision, Policy, RequestContext};
//!
//! let policy = Policy::parse_trust_policy(r#"{"Version":"2012-10-17","Statement":[{
//!   "Effect":"Allow",
//!   "Principal":{"Federated":"arn:aws:iam::000000000000:oidc-provider/issuer.example.com/demo"},
//!   "Action":"sts:AssumeRoleWithWebIdentity",
//!   "Condition":{"StringEquals":{
//!     "issuer.example.com/demo:sub":"system:serviceaccount:default:demo-app",
//!     "issuer.example.com/demo:aud":"sts.amazonaws.com"}}}]}"#).unwrap();
//!
//! let ctx = RequestContext::web_identity(
//!     "arn:aws:iam::000000000000:oidc-provider/issuer.example.com/demo", // provider ARN
//!     "issuer.example.com/demo",                                         // provider URL, no https://
//!     "system:serviceaccount:default:demo-app",                          // token sub
//!     "sts.amazonaws.com",                                               // matched audience
//! );
//! assert_eq!(policy.evaluate(&ctx), Decision::Allow);
//!
//! // Why not? (for doctor and for logs; never sent to the client, which sees AccessDenied)
//! let other = RequestContext::web_identity(
//!     "arn:aws:iam::000000000000:oidc-provider/issuer.example.com/demo",
//!     "issuer.example.com/demo", "system:serviceaccount:default:other", "sts.amazonaws.com");
//! let why = policy.evaluate_explained(&other);
//! assert_eq!(why.decision, Decision::ImplicitDeny);
//! println!("{why}");
//! ```
//!
//! Extra request keys (`:amr`, `:azp`, `sts:RoleSessionName`, …) are added with
//! [`RequestContext::with_value`] / [`RequestContext::with_values`]; key names are
//! case-insensitive.
//!
//! # Deliberate choices
//!
//! * Only `"*"` and `Federated` principals match a web-identity caller; `{"AWS":"*"}` does not.
//! * Trust policies: `NotPrincipal`, `Resource`, `NotResource` are rejected; actions must be able
//!   to match an STS assume/tag action (`sts:AssumeRole*`, `sts:TagSession`, `sts:SetSourceIdentity`,
//!   `sts:SetContext`; wildcards allowed, so `sts:*` and `*` pass).
//! * A `${var}` with no value in the request and no default never matches (and fails negated
//!   operators); values substituted from the request are literal text, never wildcards.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod condition;
mod context;
mod error;
mod eval;
mod policy;
mod strict_json;
mod wildcard;

pub use condition::{
    Condition, ConditionEntry, ConditionValue, FailureReason, Operator, SetQualifier,
};
pub use context::RequestContext;
pub use error::{LIMIT_EXCEEDED, MALFORMED_POLICY_DOCUMENT, PolicyError};
pub use eval::{Decision, Evaluation, StatementOutcome, StatementResult};
pub use policy::{
    ActionElement, ActionPatterns, Effect, Policy, Principal, PrincipalType, ResourceElement,
    Statement, Version,
};
pub use wildcard::wildcard_match;

/// IAM's default account quota for a role trust policy ("Role trust policy length"), in
/// characters without whitespace. Accounts can raise it to 4096.
pub const DEFAULT_TRUST_POLICY_QUOTA: usize = 2048;

/// The length IAM uses against policy size quotas: characters, not counting whitespace.
pub fn non_whitespace_len(document: &str) -> usize {
    document.chars().filter(|c| !c.is_whitespace()).count()
}

/// Everything `CreateRole` / `UpdateAssumeRolePolicy` check on `AssumeRolePolicyDocument`:
/// the size quota (`LimitExceeded`) first, then [`Policy::parse_trust_policy`]
/// (`MalformedPolicyDocument`).
pub fn validate_trust_policy(document: &str, quota: usize) -> Result<Policy, PolicyError> {
    let len = non_whitespace_len(document);
    if len > quota {
        return Err(PolicyError::TooLarge { len, quota });
    }
    Policy::parse_trust_policy(document)
}

#[cfg(test)]
mod tests;
