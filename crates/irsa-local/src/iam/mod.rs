//! IAM Query API: OpenID Connect providers and roles.
//!
//! - this module: the entry point, dispatch by action and what both halves share;
//! - `validate`: IAM's entity rules beyond member constraints (provider URL grammar,
//!   thumbprints, client-ID and tag quotas, trust-policy grammar and size), shared with the
//!   config loader; member constraints are [`crate::validation`]'s;
//! - `providers`, `roles`: the actions on each entity.
//!
//! Only what IRSA needs, but with AWS's validation rules, error codes, HTTP statuses and
//! messages, so that a script or an operator that works against `irsa local` works
//! against IAM and one that IAM rejects is rejected here. Every call is SigV4-signed with
//! the local root credentials and acts in their account.

use axum::response::Response;
use http::StatusCode;
use irsa_core::aws::Partition;

use crate::query::QueryRequest;
use crate::state::{Caller, SharedState};
use crate::store::{Tag, Write};
use crate::validation::Violations;
use crate::xml::{self, AwsError, IAM_NAMESPACE, XmlBuilder, XmlFragment};

mod providers;
mod roles;
mod validate;

pub use validate::{validate_provider_url, validate_trust_policy};

use providers::{
    ProviderChange, create_provider, delete_provider, get_provider, list_provider_tags,
    list_providers, modify_provider,
};
use roles::{
    create_role, delete_role, get_role, list_roles, update_assume_role_policy, update_role,
};

/// Most client IDs per provider.
pub const MAX_CLIENT_IDS: usize = 100;
/// Most thumbprints per provider.
pub const MAX_THUMBPRINTS: usize = 5;
/// Most tags per resource.
pub const MAX_TAGS: usize = 50;
/// Most OIDC providers per account.
pub const MAX_PROVIDERS: usize = 100;
/// Most roles per account (IAM's default quota).
pub const MAX_ROLES: usize = 1000;
/// Trust-policy size quota (non-whitespace characters).
pub const TRUST_POLICY_QUOTA: usize = irsa_policy::DEFAULT_TRUST_POLICY_QUOTA;

/// A required parameter that has no constraint to check here beyond being present.
fn required<'a>(req: &'a QueryRequest, name: &str, member: &str) -> Result<&'a str, AwsError> {
    req.param(name).ok_or_else(|| {
        let mut v = Violations::new();
        v.null(member);
        v.finish().err().unwrap_or_else(AwsError::service_failure)
    })
}

/// A value that XML cannot carry (a row written before input validation existed): fail
/// closed with IAM's 500 (see [`crate::xml`]).
fn unrepresentable(e: xml::Unrepresentable) -> AwsError {
    tracing::error!(error = %e, "an IAM answer cannot be written as XML");
    AwsError::service_failure()
}

fn service_failure(e: impl std::fmt::Display) -> AwsError {
    tracing::error!(error = %e, "IAM storage failure");
    AwsError::service_failure()
}

/// Entry point from the router for every IAM action.
pub async fn handle(state: &SharedState, req: &QueryRequest) -> Response {
    let action = req.action().to_string();
    let result = match state.authenticate(req, "iam") {
        Ok(Caller::Root {
            account, partition, ..
        }) => run(state, req, &action, &account, partition).await,
        Ok(Caller::Session(session)) => Err(AwsError::new(
            StatusCode::FORBIDDEN,
            "AccessDenied",
            format!(
                "User: {} is not authorized to perform: iam:{action} because no identity-based policy allows the iam:{action} action",
                session.assumed_role_arn
            ),
        )),
        Err(e) => Err(e),
    };
    match result {
        Ok(body) => xml::success(&action, IAM_NAMESPACE, body.as_ref(), &req.request_id),
        Err(e) => e.to_response(IAM_NAMESPACE, &req.request_id),
    }
}

async fn run(
    state: &SharedState,
    req: &QueryRequest,
    action: &str,
    account: &str,
    partition: Partition,
) -> Result<Option<XmlFragment>, AwsError> {
    let now = state.clock.now();
    match action {
        "CreateOpenIDConnectProvider" => create_provider(state, req, account, partition, now)
            .await
            .map(Some),
        "GetOpenIDConnectProvider" => get_provider(state, req, account).map(Some),
        "ListOpenIDConnectProviders" => list_providers(state, account).map(Some),
        "DeleteOpenIDConnectProvider" => delete_provider(state, req, account).await.map(|()| None),
        "AddClientIDToOpenIDConnectProvider" => {
            modify_provider(state, req, account, ProviderChange::AddClientId).await
        }
        "RemoveClientIDFromOpenIDConnectProvider" => {
            modify_provider(state, req, account, ProviderChange::RemoveClientId).await
        }
        "UpdateOpenIDConnectProviderThumbprint" => {
            modify_provider(state, req, account, ProviderChange::Thumbprints).await
        }
        "TagOpenIDConnectProvider" => {
            modify_provider(state, req, account, ProviderChange::Tag).await
        }
        "UntagOpenIDConnectProvider" => {
            modify_provider(state, req, account, ProviderChange::Untag).await
        }
        "ListOpenIDConnectProviderTags" => list_provider_tags(state, req, account).map(Some),
        "CreateRole" => create_role(state, req, account, partition, now)
            .await
            .map(Some),
        "GetRole" => get_role(state, req, account).map(Some),
        "ListRoles" => list_roles(state, req, account).map(Some),
        "DeleteRole" => delete_role(state, req, account).await.map(|()| None),
        "UpdateAssumeRolePolicy" => update_assume_role_policy(state, req, account)
            .await
            .map(|()| None),
        "UpdateRole" => update_role(state, req, account)
            .await
            .map(|()| Some(XmlFragment::default())),
        other => Err(AwsError::invalid_action(other)),
    }
}

fn tags_xml(b: &mut XmlBuilder, tags: &[Tag]) {
    b.open("Tags");
    for t in tags {
        b.open("member")
            .text("Key", &t.key)
            .text("Value", &t.value)
            .close("member");
    }
    b.close("Tags");
}

/// Commits `write` and answers `answer`, built before the commit: what cannot be
/// answered (see [`crate::xml`]) is not stored either.
async fn commit_answering(
    state: &SharedState,
    write: Write,
    answer: XmlBuilder,
) -> Result<XmlFragment, AwsError> {
    let answer = answer.finish().map_err(unrepresentable)?;
    commit(state, write).await?;
    Ok(answer)
}

/// Commits `write` durably; a storage failure is IAM's 500 (logged).
async fn commit(state: &SharedState, write: Write) -> Result<(), AwsError> {
    state
        .store
        .commit(vec![write])
        .await
        .map_err(service_failure)
}

/// `ValidationError` if the Query list `name` (`Name.member.N`) was not sent at all.
fn require_list(req: &QueryRequest, name: &str, member: &str) -> Result<(), AwsError> {
    let mut v = Violations::new();
    if !req.has_list(name) {
        v.null(member);
    }
    v.finish()
}
