//! The role actions: create, get, list, delete, update the trust policy and the role.

use irsa_core::aws::Partition;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

use super::validate::{check_quota, check_tag_count, parse_tags, validate_trust_policy};
use super::{MAX_ROLES, commit, commit_answering, tags_xml, unrepresentable};
use crate::query::QueryRequest;
use crate::state::SharedState;
use crate::store::{Role, Write};
use crate::validation::{self, Violations};
use crate::xml::{AwsError, XmlBuilder, XmlFragment};

const POLICY_ENCODE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

fn role_xml(
    b: &mut XmlBuilder,
    element: &str,
    role: &Role,
    with_max_session: bool,
    with_tags: bool,
) {
    b.open(element)
        .text("Path", &role.path)
        .text("RoleName", &role.name)
        .text("RoleId", &role.role_id)
        .text("Arn", &role.arn())
        .text("CreateDate", &irsa_sts::iso8601(role.created))
        .text(
            "AssumeRolePolicyDocument",
            &utf8_percent_encode(&role.assume_role_policy_document, POLICY_ENCODE).to_string(),
        );
    if let Some(d) = &role.description {
        b.text("Description", d);
    }
    if with_max_session {
        b.text("MaxSessionDuration", &role.max_session_duration.to_string());
    }
    if with_tags && !role.tags.is_empty() {
        tags_xml(b, &role.tags);
    }
    b.close(element);
}

fn role_name_param(req: &QueryRequest) -> Result<&str, AwsError> {
    let mut v = Violations::new();
    let name = collect_role_name(req, &mut v);
    v.finish()?;
    name.ok_or_else(AwsError::service_failure)
}

/// The role `name` of `account`, or IAM's `NoSuchEntity`.
fn lookup_role(state: &SharedState, account: &str, name: &str) -> Result<Role, AwsError> {
    state.store.get_role(account, name).ok_or_else(|| {
        AwsError::no_such_entity(format!("The role with name {name} cannot be found."))
    })
}

/// `MaxSessionDuration`, if given, checked against IAM's range.
fn max_session_param(req: &QueryRequest, v: &mut Violations) -> Option<Option<u32>> {
    req.param("MaxSessionDuration").map(|m| {
        v.integer(
            m,
            "maxSessionDuration",
            irsa_sts::MAX_SESSION_DURATION_RANGE,
        )
    })
}

/// `Description`, if given, checked against IAM's pattern.
fn description_param(req: &QueryRequest, v: &mut Violations) -> Option<String> {
    let description = req.param("Description")?;
    v.check(&validation::DESCRIPTION, description, "description");
    Some(description.to_owned())
}

pub(super) async fn create_role(
    state: &SharedState,
    req: &QueryRequest,
    account: &str,
    partition: Partition,
    now: i64,
) -> Result<XmlFragment, AwsError> {
    let mut v = Violations::new();
    let name = collect_role_name(req, &mut v);
    let document = req.param("AssumeRolePolicyDocument");
    if document.is_none() {
        v.null("assumeRolePolicyDocument");
    }
    let path = req.param("Path").unwrap_or("/");
    v.check(&validation::PATH, path, "path");
    let max_session = max_session_param(req, &mut v);
    let description = description_param(req, &mut v);
    v.finish()?;
    let (name, document) = (name.unwrap_or_default(), document.unwrap_or_default());
    validate_trust_policy(document, "assumeRolePolicyDocument")?;
    let tags = parse_tags(req)?;
    check_tag_count(&tags, "Role")?;

    let _guard = state.store.write_lock().await;
    if let Some(existing) = state.store.get_role(account, name) {
        return Err(AwsError::already_exists(format!(
            "Role with name {} already exists.",
            existing.name
        )));
    }
    // One more must fit.
    check_quota(
        state.store.list_roles(account).len() + 1,
        MAX_ROLES,
        "RolesPerAccount",
    )?;
    let role = Role {
        partition,
        account: account.to_string(),
        name: name.to_string(),
        path: path.to_string(),
        role_id: crate::ids::role_id(),
        assume_role_policy_document: document.to_string(),
        max_session_duration: max_session
            .flatten()
            .unwrap_or(irsa_sts::DEFAULT_MAX_SESSION_DURATION),
        description,
        tags,
        created: now,
    };
    let mut b = XmlBuilder::new();
    role_xml(&mut b, "Role", &role, max_session.is_some(), true);
    commit_answering(state, Write::PutRole(role), b).await
}

pub(super) fn get_role(
    state: &SharedState,
    req: &QueryRequest,
    account: &str,
) -> Result<XmlFragment, AwsError> {
    let name = role_name_param(req)?;
    let role = lookup_role(state, account, name)?;
    let mut b = XmlBuilder::new();
    role_xml(&mut b, "Role", &role, true, true);
    b.finish().map_err(unrepresentable)
}

pub(super) fn list_roles(
    state: &SharedState,
    req: &QueryRequest,
    account: &str,
) -> Result<XmlFragment, AwsError> {
    let mut v = Violations::new();
    let prefix = req.param("PathPrefix").unwrap_or("/");
    v.check(&validation::PATH_PREFIX, prefix, "pathPrefix");
    let max_items = match req.param("MaxItems") {
        None => Some(100),
        Some(m) => v.integer(m, "maxItems", 1..=1000),
    };
    v.finish()?;
    let max_items = usize::try_from(max_items.unwrap_or(100)).unwrap_or(100);
    let marker = req.param("Marker").map(str::to_ascii_lowercase);
    let roles: Vec<Role> = state
        .store
        .list_roles(account)
        .into_iter()
        .filter(|r| r.path.starts_with(prefix))
        .filter(|r| {
            marker
                .as_deref()
                .is_none_or(|m| r.name.to_ascii_lowercase().as_str() > m)
        })
        .collect();
    let truncated = roles.len() > max_items;
    let page = &roles[..roles.len().min(max_items)];
    let mut b = XmlBuilder::new();
    b.open("Roles");
    for role in page {
        // Fail closed per role: one row XML cannot carry (stored by an older version)
        // must not make the whole listing unparseable, nor hide the other roles.
        let mut member = XmlBuilder::new();
        role_xml(&mut member, "member", role, true, false);
        match member.finish() {
            Ok(member) => {
                b.fragment(&member);
            }
            Err(e) => {
                tracing::error!(role = %role.name.escape_debug(), error = %e, "ListRoles skips a role that XML cannot carry; fix it with UpdateRole or delete it");
            }
        }
    }
    b.close("Roles");
    b.text("IsTruncated", if truncated { "true" } else { "false" });
    if truncated && let Some(last) = page.last() {
        b.text("Marker", &last.name.to_ascii_lowercase());
    }
    b.finish().map_err(unrepresentable)
}

pub(super) async fn delete_role(
    state: &SharedState,
    req: &QueryRequest,
    account: &str,
) -> Result<(), AwsError> {
    let name = role_name_param(req)?;
    let _guard = state.store.write_lock().await;
    let role = lookup_role(state, account, name)?;
    commit(
        state,
        Write::DeleteRole {
            account: role.account,
            name: role.name,
        },
    )
    .await
}

/// The `RoleName` parameter, with its absence or a broken naming rule recorded in `v`.
fn collect_role_name<'a>(req: &'a QueryRequest, v: &mut Violations) -> Option<&'a str> {
    v.required(&validation::ROLE_NAME, req.param("RoleName"), "roleName")
}

pub(super) async fn update_assume_role_policy(
    state: &SharedState,
    req: &QueryRequest,
    account: &str,
) -> Result<(), AwsError> {
    let mut v = Violations::new();
    let name = collect_role_name(req, &mut v);
    let document = req.param("PolicyDocument");
    if document.is_none() {
        v.null("policyDocument");
    }
    v.finish()?;
    let (name, document) = (name.unwrap_or_default(), document.unwrap_or_default());
    validate_trust_policy(document, "policyDocument")?;
    let _guard = state.store.write_lock().await;
    let mut role = lookup_role(state, account, name)?;
    role.assume_role_policy_document = document.to_string();
    commit(state, Write::PutRole(role)).await
}

pub(super) async fn update_role(
    state: &SharedState,
    req: &QueryRequest,
    account: &str,
) -> Result<(), AwsError> {
    let mut v = Violations::new();
    let name = collect_role_name(req, &mut v);
    let max_session = max_session_param(req, &mut v);
    let description = description_param(req, &mut v);
    v.finish()?;
    let name = name.unwrap_or_default();
    let _guard = state.store.write_lock().await;
    let mut role = lookup_role(state, account, name)?;
    let before = role.clone();
    if let Some(Some(m)) = max_session {
        role.max_session_duration = m;
    }
    if let Some(d) = description {
        role.description = Some(d);
    }
    if role != before {
        commit(state, Write::PutRole(role)).await?;
    }
    Ok(())
}
