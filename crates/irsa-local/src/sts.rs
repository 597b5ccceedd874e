//! STS: `AssumeRoleWithWebIdentity` and `GetCallerIdentity`, strict like AWS.
//!
//! moto and LocalStack hand out credentials for any token and any role; a trust policy that
//! "works" there can fail in AWS. This STS runs the checks AWS runs, in the order of
//! `shared/reference/sts-behaviour.md` §2, and answers with AWS's codes, statuses and texts,
//! so that a failure seen here is the failure AWS would report:
//!
//! 1. parameters (`RoleArn`, `RoleSessionName`, `WebIdentityToken`, `DurationSeconds`,
//!    `Policy`): every violation collected into one `ValidationError`, like AWS's
//!    `N validation errors detected: …`; then the `RoleArn` grammar;
//! 2. the decision itself, [`irsa_sts::decide`] (the same function `irsa doctor` calls):
//!    the token's shape and `iss`, the IAM OIDC provider for `iss` **in the role's account
//!    and partition**, the strict verifier, the role (a missing role is the same
//!    `AccessDenied` as a denied trust policy, looked at only once the caller proved who they
//!    are), the trust policy and `DurationSeconds` against `MaxSessionDuration`. This module
//!    only gathers its inputs: the provider and role from the store, the keys of a local
//!    cluster or of a remote issuer (discovery + JWKS through
//!    [`irsa_issuer_client::RemoteIssuers`]);
//! 3. when allowed, the session is sealed into its own session token
//!    ([`crate::session_seal`], key kept durably in the store), so SigV4 calls made with the
//!    credentials work, also after a restart, until they expire, without a write on this path.
//!
//! Hot-path state (verifiers with parsed keys, parsed trust policies) is cached in
//! [`StsState`] (one per server, in `AppState::sts`); `scripts/bench-local` drives this
//! handler side by side with moto. `AssumeRoleWithWebIdentity` is unsigned: an
//! `Authorization` header that an old client sends anyway is ignored, as AWS does.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use axum::response::Response;
use http::StatusCode;
use irsa_core::aws::{AssumedRoleArn, RoleArn, SessionName};
use irsa_jose::{JwkSet, Verifier, VerifyOptions};
use irsa_policy::Policy;
use irsa_sts::{
    Decision, Denial, Explanation, IssuerKeys, NO_KEY, Outcome, RegisteredProvider, Request,
    RoleFacts, TrustPolicy, WebIdentityToken,
};

use irsa_issuer_client::{IssuerClientConfig, IssuerError, RemoteIssuers};

use crate::clusters::LocalCluster;
use crate::ids;
use crate::query::QueryRequest;
use crate::session_seal::Session;
use crate::state::{Caller, SharedState};
use crate::validation::{self, Violations};
use crate::xml::{self, AwsError, STS_NAMESPACE, XmlFragment};

const MAX_CACHED_POLICIES: usize = 4096;
const MAX_VERIFIERS_PER_ISSUER: usize = 64;

/// Where the keys that verify an issuer's tokens come from. Identity (the same `Arc`)
/// decides whether a cached verifier still fits: a re-fetched key set is a new `Arc`.
enum KeySource {
    Cluster(Arc<LocalCluster>),
    Remote(Arc<JwkSet>),
}

impl KeySource {
    fn same(&self, other: &KeySource) -> bool {
        match (self, other) {
            (Self::Cluster(a), Self::Cluster(b)) => Arc::ptr_eq(a, b),
            (Self::Remote(a), Self::Remote(b)) => Arc::ptr_eq(a, b),
            _ => false,
        }
    }

    fn build(&self, options: VerifyOptions) -> Result<Verifier, irsa_jose::jwk::JwksError> {
        match self {
            Self::Cluster(cluster) => {
                Verifier::from_public_keys(std::slice::from_ref(cluster.public_key()), options)
            }
            Self::Remote(keys) => Verifier::new(keys, options),
        }
    }
}

/// A verifier (keys parsed once) for one issuer and one provider's client IDs.
struct CachedVerifier {
    source: KeySource,
    client_ids: Vec<String>,
    verifier: Arc<Verifier>,
}

/// STS state beyond the store: the remote-issuer client and the hot-path caches.
pub struct StsState {
    /// The remote-issuer cache, or why its HTTPS client could not be built (a bad
    /// `--ca-file`): then only remote issuers fail, with `IDPCommunicationError`.
    remote: Result<RemoteIssuers<JwkSet>, String>,
    verifiers: Mutex<HashMap<String, Vec<CachedVerifier>>>,
    policies: Mutex<HashMap<String, Arc<Policy>>>,
}

impl std::fmt::Debug for StsState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StsState").finish_non_exhaustive()
    }
}

impl StsState {
    /// STS state that fetches remote issuers as `config` says (`--ca-file`, timeout).
    pub fn new(config: IssuerClientConfig) -> Self {
        let remote = RemoteIssuers::new(config).map_err(|e| {
            tracing::error!(error = %e, "remote issuers cannot be reached");
            e.to_string()
        });
        Self {
            remote,
            verifiers: Mutex::new(HashMap::new()),
            policies: Mutex::new(HashMap::new()),
        }
    }

    /// The verifier for `issuer` with `source`'s keys and the provider's client IDs as the
    /// accepted audiences.
    fn verifier(
        &self,
        issuer: &str,
        source: KeySource,
        client_ids: &[String],
    ) -> Result<Arc<Verifier>, Denial> {
        let mut cache = self
            .verifiers
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        // Providers of several accounts may share an issuer with different client IDs:
        // one verifier per (issuer, client IDs).
        let entries = cache.entry(issuer.to_owned()).or_default();
        if let Some(cached) = entries
            .iter()
            .find(|c| c.client_ids == client_ids && c.source.same(&source))
        {
            return Ok(Arc::clone(&cached.verifier));
        }
        let options = irsa_sts::verify_options(issuer, client_ids);
        let verifier = Arc::new(source.build(options).map_err(|e| {
            tracing::info!(issuer, error = %e, "the issuer's key set is unusable");
            Denial::invalid_token(NO_KEY)
        })?);
        // A verifier for older keys of the same client IDs is stale: replace it.
        entries.retain(|c| c.client_ids != client_ids);
        if entries.len() >= MAX_VERIFIERS_PER_ISSUER {
            entries.clear();
        }
        entries.push(CachedVerifier {
            source,
            client_ids: client_ids.to_vec(),
            verifier: Arc::clone(&verifier),
        });
        Ok(verifier)
    }

    /// The parsed trust policy for `document` (parsed once per distinct document).
    fn policy(&self, document: &str) -> Result<Arc<Policy>, irsa_policy::PolicyError> {
        let mut cache = self.policies.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(policy) = cache.get(document) {
            return Ok(Arc::clone(policy));
        }
        let policy = Arc::new(Policy::parse_trust_policy(document)?);
        if cache.len() >= MAX_CACHED_POLICIES {
            cache.clear();
        }
        cache.insert(document.to_owned(), Arc::clone(&policy));
        Ok(policy)
    }
}

/// A value for the answer that XML cannot carry (a claim of a validly signed token, say):
/// fail closed with STS's 500 (see [`crate::xml`]).
fn unrepresentable(e: xml::Unrepresentable) -> AwsError {
    tracing::error!(error = %e, "an STS answer cannot be written as XML");
    AwsError::internal_failure()
}

/// The validated parameters of one `AssumeRoleWithWebIdentity` call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssumeParams {
    /// `RoleArn`, parsed.
    pub role_arn: RoleArn,
    /// `RoleSessionName`.
    pub session_name: String,
    /// `WebIdentityToken`, trailing whitespace removed.
    pub token: String,
    /// `DurationSeconds`, or the default.
    pub duration_seconds: u32,
}

/// Checks the parameters in the model's member order; every violation is reported at once.
pub fn validate_params(req: &QueryRequest) -> Result<AssumeParams, AwsError> {
    let mut v = Violations::new();
    let role_arn = v.required(&validation::ARN, req.param("RoleArn"), "roleArn");
    let session = v.required(
        &validation::ROLE_SESSION_NAME,
        req.param("RoleSessionName"),
        "roleSessionName",
    );
    let token = v.required(
        &validation::WEB_IDENTITY_TOKEN,
        req.param("WebIdentityToken"),
        "webIdentityToken",
    );
    if let Some(policy) = req.param("Policy") {
        v.check(&validation::SESSION_POLICY, policy, "policy");
    }
    let duration_seconds = match req.param("DurationSeconds") {
        None => Some(irsa_sts::DEFAULT_DURATION_SECONDS),
        Some(d) => v.integer(d, "durationSeconds", irsa_sts::DURATION_SECONDS_RANGE),
    };
    v.finish()?;
    let (Some(role_arn), Some(session), Some(token), Some(duration_seconds)) =
        (role_arn, session, token, duration_seconds)
    else {
        // finish() returned Ok, so nothing is missing: unreachable, but never a panic.
        return Err(AwsError::internal_failure());
    };

    // Parameters an OIDC web identity call cannot use here.
    if req.param("ProviderId").is_some() {
        return Err(AwsError::new(
            StatusCode::BAD_REQUEST,
            "InvalidParameterValue",
            "ProviderId is only for OAuth 2.0 access tokens of www.amazon.com or graph.facebook.com; do not specify it for OpenID Connect ID tokens",
        ));
    }
    if req.has_list("PolicyArns") {
        return Err(AwsError::new(
            StatusCode::BAD_REQUEST,
            "InvalidParameterValue",
            "PolicyArns cannot be used with irsa local: its IAM has no managed policies",
        ));
    }
    if let Some(policy) = req.param("Policy") {
        // A session policy only narrows the session, and irsa local authorises no other
        // service, so it is checked with IAM's grammar and not kept.
        Policy::parse(policy).map_err(|e| AwsError::malformed_policy(e.to_string()))?;
    }

    let role_arn = RoleArn::parse(role_arn)
        .map_err(|_| AwsError::validation(format!("{role_arn} is invalid")))?;
    Ok(AssumeParams {
        role_arn,
        session_name: session.to_owned(),
        token: token
            .trim_end_matches(|c: char| c.is_ascii_whitespace())
            .to_owned(),
        duration_seconds,
    })
}

fn remote_error(issuer: &str, error: &IssuerError) -> Denial {
    tracing::info!(issuer, error = %error, "cannot get the verification keys of a remote issuer");
    match error.sts_code() {
        "IDPCommunicationError" => Denial::idp_communication(issuer),
        _ => Denial::invalid_token(NO_KEY),
    }
}

/// The AWS error of a decision reached before the inputs were complete (a malformed token).
fn outcome_error(params: &AssumeParams, decision: Decision) -> AwsError {
    tracing::debug!(role = %params.role_arn, "AssumeRoleWithWebIdentity denied: {}", decision.explanation);
    match decision.outcome {
        Outcome::Deny(denial) => denied(denial),
        Outcome::Allow(_) => AwsError::internal_failure(),
    }
}

fn denied(denial: Denial) -> AwsError {
    let status = StatusCode::from_u16(denial.status).unwrap_or(StatusCode::BAD_REQUEST);
    AwsError::new(status, denial.code, denial.message)
}

/// The issuer's keys for the decision: a local cluster's (cached verifier), or a remote
/// issuer's discovery + JWKS; a failure is the AWS error STS answers with.
async fn issuer_verifier(
    state: &SharedState,
    token: &WebIdentityToken<'_>,
    client_ids: &[String],
) -> Result<Arc<Verifier>, Denial> {
    let sts = &state.sts;
    let issuer = token.issuer();
    let source = match state.clusters.by_issuer(issuer) {
        Some(cluster) => KeySource::Cluster(cluster),
        None => {
            let remote = sts.remote.as_ref().map_err(|reason| {
                tracing::info!(issuer, reason, "remote issuers are not available");
                Denial::idp_communication(issuer)
            })?;
            let keys = remote
                .keys(issuer, token.kid())
                .await
                .map_err(|e| remote_error(issuer, &e))?;
            KeySource::Remote(keys)
        }
    };
    sts.verifier(issuer, source, client_ids)
}

/// Runs the whole check and, when everything passes, stores the session and returns the
/// `AssumeRoleWithWebIdentityResult` XML.
async fn assume(state: &SharedState, req: &QueryRequest) -> Result<XmlFragment, AwsError> {
    let params = validate_params(req)?;
    let now = state.clock.now();
    let account = params.role_arn.account().as_str();
    let partition = params.role_arn.partition();

    // Gather the decision's inputs. The token's claims are not trusted here: its `iss` only
    // selects the provider and the keys; irsa_sts::decide verifies everything.
    let token = irsa_sts::decode_token(&params.token).map_err(|d| outcome_error(&params, d))?;
    let providers: Vec<RegisteredProvider> = state
        .store
        .find_provider(account, token.issuer())
        .filter(|p| p.partition == partition)
        .map(|p| RegisteredProvider {
            arn: p.arn(),
            url: p.url,
            client_ids: p.client_ids,
        })
        .into_iter()
        .collect();
    let keys = match providers.first() {
        // Without a provider the keys are never looked at (or fetched).
        None => Err(Denial::invalid_token(NO_KEY)),
        Some(provider) => issuer_verifier(state, &token, &provider.client_ids).await,
    };
    let role = state
        .store
        .role(account, params.role_arn.name().as_str())
        .filter(|role| role.path == params.role_arn.path().as_str() && role.partition == partition);
    let policy = role
        .as_ref()
        .and_then(|r| state.sts.policy(&r.assume_role_policy_document).ok());
    let decision = irsa_sts::decide_decoded(
        &Request {
            role_arn: &params.role_arn,
            role: role.as_ref().map(|r| RoleFacts {
                trust_policy: match &policy {
                    Some(parsed) => TrustPolicy::Parsed(parsed),
                    None => TrustPolicy::Document(&r.assume_role_policy_document),
                },
                max_session_duration: r.max_session_duration,
            }),
            providers: &providers,
            token: &params.token,
            session_name: &params.session_name,
            duration_seconds: params.duration_seconds,
            now,
        },
        token,
        match &keys {
            Ok(verifier) => IssuerKeys::Verifier(verifier),
            Err(denial) => IssuerKeys::Unavailable(denial),
        },
    );
    let allowed = match decision.outcome {
        Outcome::Allow(allowed) => allowed,
        Outcome::Deny(denial) => {
            let explanation = &decision.explanation;
            match explanation {
                Explanation::UnparseableTrustPolicy(_) => {
                    tracing::warn!(role = %params.role_arn, "AssumeRoleWithWebIdentity denied: {explanation}");
                }
                _ => {
                    tracing::info!(role = %params.role_arn, "AssumeRoleWithWebIdentity denied: {explanation}")
                }
            }
            return Err(denied(denial));
        }
    };
    let Some(role) = role else {
        // decide() allows only for an existing role.
        return Err(AwsError::internal_failure());
    };

    // The stored role's ARN, with the case the role was created with.
    let role_arn = role.role_arn().map_err(|e| {
        tracing::error!(role = %params.role_arn, error = %e, "a stored role does not form an ARN");
        AwsError::internal_failure()
    })?;
    // validate_params already enforced STS's session-name rule.
    let session_name = SessionName::parse(&params.session_name)
        .map_err(|e| AwsError::validation(e.to_string()))?;
    let assumed_role_arn = AssumedRoleArn::new(&role_arn, session_name).to_string();
    let session = Session {
        access_key_id: ids::session_access_key_id(),
        // Filled in by the sealer: the token carries the session, the secret derives from it.
        secret_access_key: String::new(),
        session_token: String::new(),
        account: role.account.clone(),
        role_arn: role_arn.to_string(),
        assumed_role_arn,
        assumed_role_id: format!("{}:{}", role.role_id, params.session_name),
        session_name: params.session_name,
        subject: allowed.subject,
        provider_arn: allowed.provider_arn,
        audience: allowed.audience,
        expiration: now + i64::from(params.duration_seconds),
    };
    // Nothing is written: the session is sealed into its token with the store's durable
    // key (see `session_seal`), so the answer does not wait for an fsync and the
    // credentials still work after a restart.
    let session = state.sealer.seal(session).map_err(|e| {
        tracing::error!(error = %e, "cannot seal an STS session");
        AwsError::internal_failure()
    })?;
    // The element names and the short values fit in 1 KiB; the session token is the rest.
    let mut b = xml::XmlBuilder::with_capacity(1024 + session.session_token.len());
    b.text("Audience", &session.audience)
        .open("AssumedRoleUser")
        .text("AssumedRoleId", &session.assumed_role_id)
        .text("Arn", &session.assumed_role_arn)
        .close("AssumedRoleUser")
        .text("Provider", &session.provider_arn)
        .open("Credentials")
        .text("AccessKeyId", &session.access_key_id)
        .text("SecretAccessKey", &session.secret_access_key)
        .text("SessionToken", &session.session_token)
        .text("Expiration", &irsa_sts::iso8601(session.expiration))
        .close("Credentials")
        .text("SubjectFromWebIdentityToken", &session.subject);
    let result = b.finish().map_err(unrepresentable)?;
    tracing::debug!(arn = %session.assumed_role_arn, subject = %session.subject, "AssumeRoleWithWebIdentity");
    Ok(result)
}

/// `Action=AssumeRoleWithWebIdentity` (unsigned; any `Authorization` header is ignored).
pub async fn assume_role_with_web_identity(state: &SharedState, req: &QueryRequest) -> Response {
    match assume(state, req).await {
        Ok(result) => xml::success(
            "AssumeRoleWithWebIdentity",
            STS_NAMESPACE,
            Some(&result),
            &req.request_id,
        ),
        Err(e) => e.to_response(STS_NAMESPACE, &req.request_id),
    }
}

/// `Action=GetCallerIdentity` (SigV4-signed): who signed the request.
pub async fn get_caller_identity(state: &SharedState, req: &QueryRequest) -> Response {
    match state.authenticate(req, "sts") {
        Ok(caller) => {
            let user_id = match &caller {
                Caller::Root { account, .. } => account.clone(),
                Caller::Session(session) => session.assumed_role_id.clone(),
            };
            let mut b = xml::XmlBuilder::new();
            b.text("Arn", &caller.arn())
                .text("UserId", &user_id)
                .text("Account", caller.account());
            match b.finish() {
                Ok(result) => xml::success(
                    "GetCallerIdentity",
                    STS_NAMESPACE,
                    Some(&result),
                    &req.request_id,
                ),
                Err(e) => unrepresentable(e).to_response(STS_NAMESPACE, &req.request_id),
            }
        }
        Err(e) => e.to_response(STS_NAMESPACE, &req.request_id),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::time::{Duration, UNIX_EPOCH};

    use aws_credential_types::Credentials;
    use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
    use aws_sigv4::sign::v4;
    use axum::body::Bytes;
    use http::{HeaderMap, HeaderValue, Method, Uri};

    use super::*;
    use crate::config::{BootstrapOptions, Config, bootstrap};
    use crate::state::Clock;
    use crate::store::Provider;

    const T0: i64 = 1_764_365_789; // 2025-11-28T21:36:29Z
    const ROLE: &str = "arn:aws:iam::000000000000:role/demo-app";

    fn query(params: &[(&str, &str)]) -> QueryRequest {
        let body = serde_urlencoded::to_string(params).unwrap();
        let mut headers = HeaderMap::new();
        headers.insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/x-www-form-urlencoded"),
        );
        headers.insert(
            http::header::HOST,
            HeaderValue::from_static("127.0.0.1:8787"),
        );
        QueryRequest {
            request_id: "rid".into(),
            method: Method::POST,
            uri: Uri::from_static("/"),
            headers,
            body: Bytes::from(body),
            params: params
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect::<BTreeMap<_, _>>(),
        }
    }

    fn assume_params<'a>(token: &'a str, extra: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
        let mut p = vec![
            ("Action", "AssumeRoleWithWebIdentity"),
            ("Version", "2011-06-15"),
            ("RoleArn", ROLE),
            ("RoleSessionName", "unit"),
            ("WebIdentityToken", token),
        ];
        for (k, v) in extra {
            p.retain(|(key, _)| key != k);
            p.push((k, v));
        }
        p
    }

    fn validation_message(params: &[(&str, &str)]) -> String {
        let err = validate_params(&query(params)).unwrap_err();
        assert_eq!(err.code, "ValidationError", "{err}");
        err.message
    }

    #[test]
    fn session_name_rules_with_aws_texts() {
        let msg = validation_message(&assume_params("abcd", &[("RoleSessionName", "a:b")]));
        assert_eq!(
            msg,
            r"1 validation error detected: Value 'a:b' at 'roleSessionName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\w+=,.@-]*"
        );
        let long = "s".repeat(65);
        let msg = validation_message(&assume_params("abcd", &[("RoleSessionName", &long)]));
        assert!(
            msg.ends_with("Member must have length less than or equal to 64"),
            "{msg}"
        );
        // Non-ASCII letters are not `\w` in Java's regex.
        let msg = validation_message(&assume_params("abcd", &[("RoleSessionName", "sessión")]));
        assert!(msg.contains("regular expression"), "{msg}");
        let ok = validate_params(&query(&assume_params(
            "abcd",
            &[("RoleSessionName", "a_Z9+=,.@-")],
        )))
        .unwrap();
        assert_eq!(ok.session_name, "a_Z9+=,.@-");
    }

    #[test]
    fn several_violations_are_listed_together_without_the_token() {
        let secret_token = "x".repeat(20_001);
        let msg = validation_message(&[
            ("RoleArn", ROLE),
            ("WebIdentityToken", &secret_token),
            ("DurationSeconds", "50000"),
        ]);
        assert!(msg.starts_with("3 validation errors detected: "), "{msg}");
        assert!(msg.contains("Value null at 'roleSessionName' failed to satisfy constraint: Member must not be null"), "{msg}");
        assert!(msg.contains("Value at 'webIdentityToken' failed to satisfy constraint: Member must have length less than or equal to 20000"), "{msg}");
        assert!(msg.contains("Value '50000' at 'durationSeconds' failed to satisfy constraint: Member must have value less than or equal to 43200"), "{msg}");
        assert!(!msg.contains("xxxx"), "the token is never echoed");
    }

    #[test]
    fn duration_bounds_and_default() {
        let p = validate_params(&query(&assume_params("abcd", &[]))).unwrap();
        assert_eq!(p.duration_seconds, 3600);
        let p = validate_params(&query(&assume_params(
            "abcd",
            &[("DurationSeconds", "900")],
        )))
        .unwrap();
        assert_eq!(p.duration_seconds, 900);
        let msg = validation_message(&assume_params("abcd", &[("DurationSeconds", "899")]));
        assert!(
            msg.ends_with("Member must have value greater than or equal to 900"),
            "{msg}"
        );
        let msg = validation_message(&assume_params("abcd", &[("DurationSeconds", "1h")]));
        assert!(msg.contains("'durationSeconds'"), "{msg}");
    }

    #[test]
    fn malformed_role_arn_and_unsupported_parameters() {
        let msg = validation_message(&assume_params(
            "abcd",
            &[("RoleArn", "nothing-valid-in-here")],
        ));
        assert_eq!(msg, "nothing-valid-in-here is invalid");
        let err = validate_params(&query(&assume_params(
            "abcd",
            &[("ProviderId", "www.amazon.com")],
        )))
        .unwrap_err();
        assert_eq!(err.code, "InvalidParameterValue");
        let err = validate_params(&query(&assume_params("abcd", &[("Policy", "{not json")])))
            .unwrap_err();
        assert_eq!(err.code, "MalformedPolicyDocument");
    }

    #[test]
    fn trailing_whitespace_of_the_token_is_dropped() {
        let p = validate_params(&query(&assume_params("a.b.c\r\n", &[]))).unwrap();
        assert_eq!(p.token, "a.b.c");
    }

    #[test]
    fn expiration_is_second_precision_utc() {
        assert_eq!(irsa_sts::iso8601(T0), "2025-11-28T21:36:29Z");
    }

    async fn demo_state(clock: Clock) -> (SharedState, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let booted = bootstrap(BootstrapOptions {
            data_dir: dir.path().to_path_buf(),
            config: Some(Config::demo()),
            clock,
            ..BootstrapOptions::default()
        })
        .await
        .unwrap();
        (booted.state, dir)
    }

    fn demo_token(state: &SharedState, service_account: &str, now: i64) -> String {
        state
            .clusters
            .get("demo")
            .unwrap()
            .mint("default", service_account, "sts.amazonaws.com", 3600, now)
            .unwrap()
    }

    async fn body(response: Response) -> (StatusCode, String) {
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .unwrap();
        (status, String::from_utf8(bytes.to_vec()).unwrap())
    }

    fn element<'a>(xml: &'a str, name: &str) -> &'a str {
        maybe_element(xml, name).unwrap_or_else(|| panic!("no <{name}> in {xml}"))
    }

    fn maybe_element<'a>(xml: &'a str, name: &str) -> Option<&'a str> {
        let open = format!("<{name}>");
        let start = xml.find(&open)? + open.len();
        let end = xml[start..].find(&format!("</{name}>"))? + start;
        Some(&xml[start..end])
    }

    /// A `GetCallerIdentity` signed with aws-sigv4 at `at`.
    fn signed_get_caller_identity(
        akid: &str,
        secret: &str,
        token: Option<&str>,
        at: i64,
    ) -> QueryRequest {
        let body = "Action=GetCallerIdentity&Version=2011-06-15";
        let uri = "http://127.0.0.1:8787/";
        let headers = [
            ("host", "127.0.0.1:8787"),
            (
                "content-type",
                "application/x-www-form-urlencoded; charset=utf-8",
            ),
        ];
        let identity = Credentials::new(akid, secret, token.map(str::to_owned), None, "t").into();
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region("eu-west-1")
            .name("sts")
            .time(UNIX_EPOCH + Duration::from_secs(u64::try_from(at).unwrap()))
            .settings(SigningSettings::default())
            .build()
            .unwrap()
            .into();
        let signable = SignableRequest::new(
            "POST",
            uri,
            headers.iter().copied(),
            SignableBody::Bytes(body.as_bytes()),
        )
        .unwrap();
        let mut req = http::Request::builder().method("POST").uri(uri);
        for (k, v) in headers {
            req = req.header(k, v);
        }
        let mut req = req.body(body.to_owned()).unwrap();
        let (instructions, _) = sign(signable, &params).unwrap().into_parts();
        instructions.apply_to_request_http1x(&mut req);
        let (parts, body) = req.into_parts();
        QueryRequest {
            request_id: "rid".into(),
            method: parts.method,
            uri: Uri::from_static("/"),
            headers: parts.headers,
            body: Bytes::from(body),
            params: [("Action", "GetCallerIdentity"), ("Version", "2011-06-15")]
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        }
    }

    #[tokio::test]
    async fn assume_then_get_caller_identity_until_the_session_expires() {
        let clock = Clock::fixed(T0);
        let (state, _dir) = demo_state(clock.clone()).await;
        let token = demo_token(&state, "demo-app", T0);
        let req = query(&assume_params(&token, &[("DurationSeconds", "900")]));
        let (status, xml) = body(assume_role_with_web_identity(&state, &req).await).await;
        assert_eq!(status, StatusCode::OK, "{xml}");
        assert!(xml.starts_with("<AssumeRoleWithWebIdentityResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><AssumeRoleWithWebIdentityResult><Audience>sts.amazonaws.com</Audience><AssumedRoleUser>"), "{xml}");
        assert_eq!(element(&xml, "Expiration"), "2025-11-28T21:51:29Z");
        assert_eq!(
            element(&xml, "Arn"),
            "arn:aws:sts::000000000000:assumed-role/demo-app/unit"
        );
        let akid = element(&xml, "AccessKeyId").to_owned();
        let secret = element(&xml, "SecretAccessKey").to_owned();
        let session_token = element(&xml, "SessionToken").to_owned();

        let req = signed_get_caller_identity(&akid, &secret, Some(&session_token), T0 + 10);
        clock.set(T0 + 10);
        let (status, xml) = body(get_caller_identity(&state, &req).await).await;
        assert_eq!(status, StatusCode::OK, "{xml}");
        assert_eq!(
            element(&xml, "Arn"),
            "arn:aws:sts::000000000000:assumed-role/demo-app/unit"
        );
        assert!(element(&xml, "UserId").ends_with(":unit"));
        assert!(element(&xml, "UserId").starts_with("AROA"));
        assert_eq!(element(&xml, "Account"), "000000000000");

        // After the session's expiry, the same credentials are ExpiredToken.
        clock.set(T0 + 901);
        let req = signed_get_caller_identity(&akid, &secret, Some(&session_token), T0 + 901);
        let (status, xml) = body(get_caller_identity(&state, &req).await).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{xml}");
        assert_eq!(element(&xml, "Code"), "ExpiredToken");
    }

    /// Every ARN irsa local prints (banner, IAM, STS) for a cluster and role of each
    /// partition, built from one config: the partition comes from the cluster's region.
    #[tokio::test]
    async fn every_printed_arn_carries_the_clusters_partition() {
        for (region, partition, suffix, audience) in [
            ("eu-west-1", "aws", "amazonaws.com", "sts.amazonaws.com"),
            (
                "cn-north-1",
                "aws-cn",
                "amazonaws.com.cn",
                "sts.amazonaws.com.cn",
            ),
        ] {
            let dir = tempfile::tempdir().unwrap();
            let yaml = format!(
                "clusters: [{{name: c1, account: '000000000000', region: {region}}}]\n\
                 roles: [{{account: '000000000000', name: app, path: /team/, cluster: c1, \
                 serviceAccounts: [default/app]}}]\n"
            );
            let booted = bootstrap(BootstrapOptions {
                data_dir: dir.path().to_path_buf(),
                config: Some(Config::parse("t", &yaml).unwrap()),
                clock: Clock::fixed(T0),
                ..BootstrapOptions::default()
            })
            .await
            .unwrap();
            let state = booted.state;
            let host_path = format!("s3.{region}.{suffix}/000000000000-g8s-c1-oidc-pod-identity");
            let provider_arn =
                format!("arn:{partition}:iam::000000000000:oidc-provider/{host_path}");
            let role_arn = format!("arn:{partition}:iam::000000000000:role/team/app");

            let cluster = state.clusters.get("c1").unwrap();
            assert_eq!(cluster.provider_arn(cluster.account_id()), provider_arn);
            assert_eq!(cluster.default_audience(), audience);
            let provider = state.store.all_providers().into_iter().next().unwrap();
            assert_eq!(provider.arn(), provider_arn);
            assert_eq!(provider.client_ids, [audience]);
            let role = state.store.get_role("000000000000", "app").unwrap();
            assert_eq!(role.arn(), role_arn);
            assert_eq!(role.role_arn().unwrap().to_string(), role_arn);
            assert!(
                role.assume_role_policy_document
                    .contains(&format!("\"{host_path}:aud\":\"{audience}\""))
            );
            let root = Caller::Root {
                partition: irsa_core::aws::Region::parse(region).unwrap().partition(),
                account: "000000000000".into(),
                access_key_id: "test".into(),
            };
            assert_eq!(
                root.arn(),
                format!("arn:{partition}:iam::000000000000:root")
            );

            // The cluster's own token (default audience) for its own role.
            let token = cluster
                .mint("default", "app", cluster.default_audience(), 3600, T0)
                .unwrap();
            let req = query(&assume_params(&token, &[("RoleArn", &role_arn)]));
            let (status, xml) = body(assume_role_with_web_identity(&state, &req).await).await;
            assert_eq!(status, StatusCode::OK, "{xml}");
            assert_eq!(element(&xml, "Provider"), provider_arn);
            assert_eq!(element(&xml, "Audience"), audience);
            assert_eq!(
                element(&xml, "Arn"),
                format!("arn:{partition}:sts::000000000000:assumed-role/app/unit")
            );
        }
    }

    /// The local STS and `irsa_sts::decide` called directly (as doctor calls it, with the
    /// JWKS the issuer publishes, the role's document and every provider of the account)
    /// answer the same on a matrix of tokens and roles.
    #[tokio::test]
    async fn the_sts_answers_what_the_decision_says() {
        let (state, _dir) = demo_state(Clock::fixed(T0)).await;
        let deny_policy = serde_json::json!({
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow",
                 "Principal": {"Federated": state.store.all_providers()[0].arn()},
                 "Action": "sts:AssumeRoleWithWebIdentity"},
                {"Sid": "NoBlocked", "Effect": "Deny",
                 "Principal": {"Federated": state.store.all_providers()[0].arn()},
                 "Action": "sts:AssumeRole*",
                 "Condition": {"StringLike": {"aws:FederatedProvider": "*", "s3.eu-west-1.amazonaws.com/000000000000-g8s-demo-oidc-pod-identity:sub": "*:blocked"}}}
            ]
        })
        .to_string();
        let mut extra = state.store.get_role("000000000000", "demo-app").unwrap();
        extra.name = "open".into();
        extra.assume_role_policy_document = deny_policy;
        state
            .store
            .commit(vec![crate::store::Write::PutRole(extra)])
            .await
            .unwrap();
        let cluster = state.clusters.get("demo").unwrap();
        let tokens = [
            demo_token(&state, "demo-app", T0),
            demo_token(&state, "intruder", T0),
            demo_token(&state, "blocked", T0),
            cluster
                .mint("default", "demo-app", "other-aud", 3600, T0)
                .unwrap(),
            demo_token(&state, "demo-app", T0 - 3600 - 301),
            "a.b.c".to_owned(),
        ];
        let roles = ["demo-app", "open", "nope"];
        let jwks = irsa_jose::JwkSet::parse(&cluster.documents().jwks).unwrap();
        let mut allowed = 0;
        for token in &tokens {
            for role_name in roles {
                for duration in ["900", "7200"] {
                    let role_arn = format!("arn:aws:iam::000000000000:role/{role_name}");
                    let req = query(&assume_params(
                        token,
                        &[("RoleArn", &role_arn), ("DurationSeconds", duration)],
                    ));
                    let (status, xml) =
                        body(assume_role_with_web_identity(&state, &req).await).await;

                    let role_arn = RoleArn::parse(&role_arn).unwrap();
                    let role = state.store.get_role("000000000000", role_name);
                    let providers: Vec<RegisteredProvider> = state
                        .store
                        .list_providers("000000000000")
                        .into_iter()
                        .map(|p| RegisteredProvider {
                            arn: p.arn(),
                            url: p.url,
                            client_ids: p.client_ids,
                        })
                        .collect();
                    let decision = irsa_sts::decide(
                        &Request {
                            role_arn: &role_arn,
                            role: role.as_ref().map(|r| RoleFacts {
                                trust_policy: TrustPolicy::Document(&r.assume_role_policy_document),
                                max_session_duration: r.max_session_duration,
                            }),
                            providers: &providers,
                            token,
                            session_name: "unit",
                            duration_seconds: duration.parse().unwrap(),
                            now: T0,
                        },
                        IssuerKeys::Jwks(&jwks),
                    );
                    let case = format!("{role_name} {duration} {}", decision.explanation);
                    match decision.outcome {
                        Outcome::Allow(a) => {
                            allowed += 1;
                            assert_eq!(status, StatusCode::OK, "{case}: {xml}");
                            assert_eq!(element(&xml, "SubjectFromWebIdentityToken"), a.subject);
                            assert_eq!(element(&xml, "Audience"), a.audience);
                            assert_eq!(element(&xml, "Provider"), a.provider_arn);
                        }
                        Outcome::Deny(d) => {
                            assert_eq!(status.as_u16(), d.status, "{case}: {xml}");
                            assert_eq!(element(&xml, "Code"), d.code, "{case}");
                            assert_eq!(
                                element(&xml, "Message"),
                                xml::escape_message(&d.message),
                                "{case}"
                            );
                        }
                    }
                }
            }
        }
        // demo-app for its own role and for the open role (900 s), and blocked is denied.
        assert_eq!(allowed, 3);
    }

    #[tokio::test]
    async fn root_credentials_are_the_root_arn() {
        let (state, _dir) = demo_state(Clock::fixed(T0)).await;
        let req = signed_get_caller_identity("test", "test", None, T0);
        let (status, xml) = body(get_caller_identity(&state, &req).await).await;
        assert_eq!(status, StatusCode::OK, "{xml}");
        assert_eq!(element(&xml, "Arn"), "arn:aws:iam::000000000000:root");
        assert_eq!(element(&xml, "UserId"), "000000000000");
    }

    #[tokio::test]
    async fn token_errors_follow_the_reference_order() {
        let (state, _dir) = demo_state(Clock::fixed(T0)).await;
        let call = |token: String, role: &'static str| {
            let state = state.clone();
            async move {
                let req = query(&assume_params(&token, &[("RoleArn", role)]));
                let (status, xml) = body(assume_role_with_web_identity(&state, &req).await).await;
                (
                    status,
                    maybe_element(&xml, "Code").unwrap_or_default().to_owned(),
                    maybe_element(&xml, "Message")
                        .unwrap_or_default()
                        .to_owned(),
                )
            }
        };
        let good = demo_token(&state, "demo-app", T0);

        // Expired beyond the 300 s of skew, and just inside it.
        let old = demo_token(&state, "demo-app", T0 - 3600 - 301);
        let (status, code, message) = call(old, ROLE).await;
        assert_eq!(
            (status, code.as_str()),
            (StatusCode::BAD_REQUEST, "ExpiredTokenException")
        );
        assert_eq!(
            message,
            format!(
                "Token expired: current date/time {T0} must be before the expiration date/time {}",
                T0 - 301
            )
        );
        let (status, _, _) = call(demo_token(&state, "demo-app", T0 - 3600 - 299), ROLE).await;
        assert_eq!(status, StatusCode::OK);

        // Another account has no provider for the issuer.
        let (status, code, message) =
            call(good.clone(), "arn:aws:iam::111122223333:role/demo-app").await;
        assert_eq!(
            (status, code.as_str()),
            (StatusCode::BAD_REQUEST, "InvalidIdentityToken")
        );
        assert!(message.starts_with("No OpenIDConnect provider found in your account for https://s3.eu-west-1.amazonaws.com/000000000000-g8s-demo-oidc-pod-identity"), "{message}");

        // Missing role and denied subject: the same answer.
        let missing = call(good.clone(), "arn:aws:iam::000000000000:role/nope").await;
        let denied = call(demo_token(&state, "intruder", T0), ROLE).await;
        assert_eq!(missing, denied);
        assert_eq!(
            missing,
            (
                StatusCode::FORBIDDEN,
                "AccessDenied".to_owned(),
                irsa_sts::NOT_AUTHORIZED.to_owned()
            )
        );
        // A role path that is not the role's is a missing role.
        let (status, code, _) = call(good, "arn:aws:iam::000000000000:role/team/demo-app").await;
        assert_eq!(
            (status, code.as_str()),
            (StatusCode::FORBIDDEN, "AccessDenied")
        );
    }

    #[tokio::test]
    async fn duration_over_the_role_maximum_is_checked_after_authorisation() {
        let (state, _dir) = demo_state(Clock::fixed(T0)).await;
        let token = demo_token(&state, "demo-app", T0);
        let req = query(&assume_params(&token, &[("DurationSeconds", "3601")]));
        let (status, xml) = body(assume_role_with_web_identity(&state, &req).await).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(
            element(&xml, "Message"),
            "The requested DurationSeconds exceeds the MaxSessionDuration set for this role."
        );
        // For a caller the trust policy denies, the answer reveals nothing about the role.
        let intruder = demo_token(&state, "intruder", T0);
        let req = query(&assume_params(&intruder, &[("DurationSeconds", "3601")]));
        let (status, _) = body(assume_role_with_web_identity(&state, &req).await).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
    }

    #[tokio::test]
    async fn audiences_are_the_client_ids_of_the_provider_in_the_roles_account() {
        let (state, _dir) = demo_state(Clock::fixed(T0)).await;
        let demo = state.store.all_providers().into_iter().next().unwrap();
        // The same issuer registered in a second account, for another client ID only.
        let other = Provider {
            account: "111122223333".into(),
            client_ids: vec!["other-client".into()],
            ..demo.clone()
        };
        let mut role = state.store.get_role("000000000000", "demo-app").unwrap();
        role.account = "111122223333".into();
        role.assume_role_policy_document = role
            .assume_role_policy_document
            .replace("000000000000", "111122223333");
        state
            .store
            .commit(vec![
                crate::store::Write::PutProvider(other),
                crate::store::Write::PutRole(role),
            ])
            .await
            .unwrap();
        let token = demo_token(&state, "demo-app", T0);
        for _ in 0..2 {
            let req = query(&assume_params(
                &token,
                &[("RoleArn", "arn:aws:iam::111122223333:role/demo-app")],
            ));
            let (status, xml) = body(assume_role_with_web_identity(&state, &req).await).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{xml}");
            assert_eq!(element(&xml, "Message"), "Incorrect token audience");
            let req = query(&assume_params(&token, &[]));
            let (status, xml) = body(assume_role_with_web_identity(&state, &req).await).await;
            assert_eq!(status, StatusCode::OK, "{xml}");
        }
    }
}
