//! IAM Query API: OpenID Connect providers and roles.
//!
//! Only what IRSA needs, but with AWS's validation rules, error codes, HTTP statuses and
//! messages, so that a script or an operator that works against `irsa local` works
//! against IAM and one that IAM rejects is rejected here. Every call is SigV4-signed with
//! the local root credentials and acts in their account.

use axum::response::Response;
use http::StatusCode;
use irsa_core::aws::{OidcProviderArn, Partition};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

use crate::server::QueryRequest;
use crate::state::{Caller, SharedState};
use crate::store::{Provider, Role, Tag, Write};
use crate::validation::{self, Violations};
use crate::xml::{self, AwsError, IAM_NAMESPACE, XmlBuilder, XmlFragment};

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

const POLICY_ENCODE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

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

// ---------------------------------------------------------------------------------------
// Validation shared with the config loader.

/// Validates an OIDC provider URL as IAM does and returns it without `https://`.
///
/// Loopback hosts (`localhost`, `127.0.0.1`, `[::1]`) may carry a port: a local-only
/// extension so that a test identity provider on this machine can be registered. IAM
/// itself rejects every port.
pub fn validate_provider_url(url: &str) -> Result<String, AwsError> {
    validation::check(&validation::PROVIDER_URL, url, "url")?;
    let Some((scheme, rest)) = url.split_once("://") else {
        return Err(AwsError::validation("Invalid Open ID Connect Provider URL"));
    };
    if scheme != "https" {
        return Err(AwsError::invalid_input(
            "Invalid Open ID Connect Provider URL. The URL must begin with https://.",
        ));
    }
    let invalid = || AwsError::invalid_input("Invalid Open ID Connect Provider URL.");
    if rest.contains(['?', '#', '@', '\\'])
        || rest.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(invalid());
    }
    let (authority, _path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    let (host, port) = if let Some(after) = authority.strip_prefix('[') {
        match after.split_once(']') {
            Some((h, p)) => (h, p.strip_prefix(':')),
            None => return Err(invalid()),
        }
    } else {
        match authority.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        }
    };
    if host.is_empty() {
        return Err(invalid());
    }
    let loopback = matches!(host, "localhost" | "127.0.0.1" | "::1");
    if let Some(port) = port {
        let valid_port = !port.is_empty() && port.parse::<u16>().is_ok();
        if !loopback || !valid_port {
            return Err(invalid());
        }
    }
    if host != "::1"
        && !host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
    {
        return Err(invalid());
    }
    Ok(rest.to_string())
}

fn validate_client_ids(ids: &[String], member: &str) -> Result<(), AwsError> {
    let mut v = Violations::new();
    for id in ids {
        v.check(&validation::CLIENT_ID, id, member);
    }
    v.finish()?;
    if ids.len() > MAX_CLIENT_IDS {
        return Err(AwsError::limit_exceeded(format!(
            "Cannot exceed quota for ClientIdsPerOpenIdConnectProvider: {MAX_CLIENT_IDS}"
        )));
    }
    Ok(())
}

fn validate_thumbprints(thumbprints: &[String]) -> Result<Vec<String>, AwsError> {
    let mut v = Violations::new();
    for t in thumbprints {
        if t.chars().count() != 40 {
            v.push(
                Some(t),
                "thumbprintList",
                "Member must have length less than or equal to 40, Member must have length greater than or equal to 40",
            );
        }
    }
    v.finish()?;
    if thumbprints.len() > MAX_THUMBPRINTS {
        return Err(AwsError::invalid_input(
            "Thumbprint list must contain fewer than 5 entries.",
        ));
    }
    if let Some(bad) = thumbprints
        .iter()
        .find(|t| !t.bytes().all(|b| b.is_ascii_hexdigit()))
    {
        return Err(AwsError::invalid_input(format!(
            "Thumbprint {bad} is not a SHA-1 fingerprint: it must be 40 hexadecimal characters."
        )));
    }
    let mut out: Vec<String> = Vec::new();
    for t in thumbprints {
        let t = t.to_ascii_lowercase();
        if !out.contains(&t) {
            out.push(t);
        }
    }
    Ok(out)
}

fn dedup(items: Vec<String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(items.len());
    for item in items {
        if !out.contains(&item) {
            out.push(item);
        }
    }
    out
}

fn parse_tags(req: &QueryRequest) -> Result<Vec<Tag>, AwsError> {
    let mut v = Violations::new();
    let mut tags = Vec::new();
    for (i, t) in req.struct_list("Tags").into_iter().enumerate() {
        let member = format!("tags.{}.member", i + 1);
        v.required(
            &validation::TAG_KEY,
            t.get("Key").map(String::as_str),
            &format!("{member}.key"),
        );
        let value = t.get("Value").cloned().unwrap_or_default();
        v.check(&validation::TAG_VALUE, &value, &format!("{member}.value"));
        if let Some(k) = t.get("Key") {
            tags.push(Tag {
                key: k.clone(),
                value,
            });
        }
    }
    v.finish()?;
    check_duplicate_tags(&tags)?;
    Ok(tags)
}

fn check_duplicate_tags(tags: &[Tag]) -> Result<(), AwsError> {
    for (i, a) in tags.iter().enumerate() {
        if tags[..i].iter().any(|b| b.key.eq_ignore_ascii_case(&a.key)) {
            return Err(AwsError::invalid_input(
                "Duplicate tag keys found. Please note that Tag keys are case insensitive.",
            ));
        }
    }
    Ok(())
}

fn check_tag_count(tags: &[Tag], what: &str) -> Result<(), AwsError> {
    if tags.len() > MAX_TAGS {
        return Err(AwsError::limit_exceeded(format!(
            "Cannot exceed quota for TagsPer{what}: {MAX_TAGS}"
        )));
    }
    Ok(())
}

/// Validates a trust policy document: member constraints, the size quota (whitespace not
/// counted) and the policy grammar (irsa-policy, IAM's `MalformedPolicyDocument` texts).
pub fn validate_trust_policy(document: &str, member: &str) -> Result<(), AwsError> {
    validation::check(&validation::TRUST_POLICY, document, member)?;
    irsa_policy::validate_trust_policy(document, TRUST_POLICY_QUOTA)
        .map(drop)
        .map_err(|e| {
            let status = StatusCode::from_u16(e.http_status()).unwrap_or(StatusCode::BAD_REQUEST);
            let code = match e.aws_code() {
                "LimitExceeded" => "LimitExceeded",
                _ => "MalformedPolicyDocument",
            };
            AwsError::new(status, code, e.aws_message())
        })
}

// ---------------------------------------------------------------------------------------
// OIDC providers.

/// The provider URL and partition an `OpenIDConnectProviderArn` names in `account`.
fn provider_url_from_arn(arn: &str, account: &str) -> Result<(String, Partition), AwsError> {
    validation::check(&validation::ARN, arn, "openIDConnectProviderArn")?;
    match OidcProviderArn::parse(arn) {
        Ok(parsed) if parsed.account().as_str() == account => {
            Ok((parsed.host_path().to_owned(), parsed.partition()))
        }
        _ => {
            if arn.starts_with("arn:") && arn.contains(":oidc-provider/") {
                Err(AwsError::no_such_entity(format!(
                    "OpenIDConnect Provider not found for arn {arn}"
                )))
            } else {
                Err(AwsError::invalid_input(format!("ARN {arn} is not valid.")))
            }
        }
    }
}

fn lookup_provider(
    state: &SharedState,
    req: &QueryRequest,
    account: &str,
) -> Result<Provider, AwsError> {
    let arn = required(req, "OpenIDConnectProviderArn", "openIDConnectProviderArn")?;
    let (url, partition) = provider_url_from_arn(arn, account)?;
    state
        .store
        .get_provider(account, &url)
        .filter(|p| p.partition == partition)
        .ok_or_else(|| {
            AwsError::no_such_entity(format!("OpenIDConnect Provider not found for arn {arn}"))
        })
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

async fn create_provider(
    state: &SharedState,
    req: &QueryRequest,
    account: &str,
    partition: Partition,
    now: i64,
) -> Result<XmlFragment, AwsError> {
    let url = required(req, "Url", "url")?;
    let stored_url = validate_provider_url(url)?;
    let client_ids = dedup(req.list("ClientIDList"));
    validate_client_ids(&client_ids, "clientIDList")?;
    let thumbprints = validate_thumbprints(&req.list("ThumbprintList"))?;
    let tags = parse_tags(req)?;
    check_tag_count(&tags, "OpenIdConnectProvider")?;
    let _guard = state.store.write_lock().await;
    if state.store.get_provider(account, &stored_url).is_some() {
        return Err(AwsError::already_exists(format!(
            "Provider with url {url} already exists."
        )));
    }
    if state.store.list_providers(account).len() >= MAX_PROVIDERS {
        return Err(AwsError::limit_exceeded(format!(
            "Cannot exceed quota for OpenIdConnectProvidersPerAccount: {MAX_PROVIDERS}"
        )));
    }
    let provider = Provider {
        partition,
        account: account.to_string(),
        url: stored_url,
        client_ids,
        thumbprints,
        tags,
        created: now,
    };
    let mut b = XmlBuilder::new();
    b.text("OpenIDConnectProviderArn", &provider.arn());
    if !provider.tags.is_empty() {
        tags_xml(&mut b, &provider.tags);
    }
    // Built before the commit: what cannot be answered is not stored either.
    let answer = b.finish().map_err(unrepresentable)?;
    state
        .store
        .commit(vec![Write::PutProvider(provider)])
        .await
        .map_err(service_failure)?;
    Ok(answer)
}

fn get_provider(
    state: &SharedState,
    req: &QueryRequest,
    account: &str,
) -> Result<XmlFragment, AwsError> {
    let p = lookup_provider(state, req, account)?;
    let mut b = XmlBuilder::new();
    b.text("Url", &p.url).open("ClientIDList");
    for id in &p.client_ids {
        b.text("member", id);
    }
    b.close("ClientIDList").open("ThumbprintList");
    for t in &p.thumbprints {
        b.text("member", t);
    }
    b.close("ThumbprintList");
    b.text("CreateDate", &irsa_sts::iso8601(p.created));
    tags_xml(&mut b, &p.tags);
    b.finish().map_err(unrepresentable)
}

fn list_providers(state: &SharedState, account: &str) -> Result<XmlFragment, AwsError> {
    let mut b = XmlBuilder::new();
    b.open("OpenIDConnectProviderList");
    for p in state.store.list_providers(account) {
        b.open("member").text("Arn", &p.arn()).close("member");
    }
    b.close("OpenIDConnectProviderList");
    b.finish().map_err(unrepresentable)
}

fn list_provider_tags(
    state: &SharedState,
    req: &QueryRequest,
    account: &str,
) -> Result<XmlFragment, AwsError> {
    let p = lookup_provider(state, req, account)?;
    let mut b = XmlBuilder::new();
    tags_xml(&mut b, &p.tags);
    b.text("IsTruncated", "false");
    b.finish().map_err(unrepresentable)
}

async fn delete_provider(
    state: &SharedState,
    req: &QueryRequest,
    account: &str,
) -> Result<(), AwsError> {
    let _guard = state.store.write_lock().await;
    let p = lookup_provider(state, req, account)?;
    state
        .store
        .commit(vec![Write::DeleteProvider {
            account: p.account,
            url: p.url,
        }])
        .await
        .map_err(service_failure)
}

#[derive(Debug, Clone, Copy)]
enum ProviderChange {
    AddClientId,
    RemoveClientId,
    Thumbprints,
    Tag,
    Untag,
}

async fn modify_provider(
    state: &SharedState,
    req: &QueryRequest,
    account: &str,
    change: ProviderChange,
) -> Result<Option<XmlFragment>, AwsError> {
    // Validate the input before looking anything up, as IAM does.
    let input_client_id = match change {
        ProviderChange::AddClientId | ProviderChange::RemoveClientId => {
            let id = required(req, "ClientID", "clientID")?;
            validation::check(&validation::CLIENT_ID, id, "clientID")?;
            Some(id.to_string())
        }
        _ => None,
    };
    let thumbprints = match change {
        ProviderChange::Thumbprints => {
            if !req.has_list("ThumbprintList") {
                let mut v = Violations::new();
                v.null("thumbprintList");
                v.finish()?;
            }
            Some(validate_thumbprints(&req.list("ThumbprintList"))?)
        }
        _ => None,
    };
    let new_tags = match change {
        ProviderChange::Tag => {
            if !req.has_list("Tags") {
                let mut v = Violations::new();
                v.null("tags");
                v.finish()?;
            }
            Some(parse_tags(req)?)
        }
        _ => None,
    };
    let untag_keys = match change {
        ProviderChange::Untag => {
            if !req.has_list("TagKeys") {
                let mut v = Violations::new();
                v.null("tagKeys");
                v.finish()?;
            }
            let keys = req.list("TagKeys");
            let mut v = Violations::new();
            for key in &keys {
                v.check(&validation::TAG_KEY, key, "tagKeys");
            }
            v.finish()?;
            Some(keys)
        }
        _ => None,
    };

    let _guard = state.store.write_lock().await;
    let mut p = lookup_provider(state, req, account)?;
    let before = p.clone();
    match change {
        ProviderChange::AddClientId => {
            if let Some(id) = input_client_id
                && !p.client_ids.contains(&id)
            {
                p.client_ids.push(id);
                validate_client_ids(&p.client_ids, "clientIDList")?;
            }
        }
        ProviderChange::RemoveClientId => {
            if let Some(id) = input_client_id {
                p.client_ids.retain(|c| *c != id);
            }
        }
        ProviderChange::Thumbprints => {
            p.thumbprints = thumbprints.unwrap_or_default();
        }
        ProviderChange::Tag => {
            for tag in new_tags.unwrap_or_default() {
                match p
                    .tags
                    .iter_mut()
                    .find(|t| t.key.eq_ignore_ascii_case(&tag.key))
                {
                    Some(existing) => *existing = tag,
                    None => p.tags.push(tag),
                }
            }
            check_tag_count(&p.tags, "OpenIdConnectProvider")?;
        }
        ProviderChange::Untag => {
            let keys = untag_keys.unwrap_or_default();
            p.tags.retain(|t| !keys.contains(&t.key));
        }
    }
    if p != before {
        state
            .store
            .commit(vec![Write::PutProvider(p)])
            .await
            .map_err(service_failure)?;
    }
    Ok(None)
}

// ---------------------------------------------------------------------------------------
// Roles.

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

fn no_such_role(name: &str) -> AwsError {
    AwsError::no_such_entity(format!("The role with name {name} cannot be found."))
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

async fn create_role(
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
    if state.store.list_roles(account).len() >= MAX_ROLES {
        return Err(AwsError::limit_exceeded(format!(
            "Cannot exceed quota for RolesPerAccount: {MAX_ROLES}"
        )));
    }
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
    // Built before the commit: what cannot be answered is not stored either.
    let answer = b.finish().map_err(unrepresentable)?;
    state
        .store
        .commit(vec![Write::PutRole(role)])
        .await
        .map_err(service_failure)?;
    Ok(answer)
}

fn get_role(
    state: &SharedState,
    req: &QueryRequest,
    account: &str,
) -> Result<XmlFragment, AwsError> {
    let name = role_name_param(req)?;
    let role = state
        .store
        .get_role(account, name)
        .ok_or_else(|| no_such_role(name))?;
    let mut b = XmlBuilder::new();
    role_xml(&mut b, "Role", &role, true, true);
    b.finish().map_err(unrepresentable)
}

fn list_roles(
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

async fn delete_role(
    state: &SharedState,
    req: &QueryRequest,
    account: &str,
) -> Result<(), AwsError> {
    let name = role_name_param(req)?;
    let _guard = state.store.write_lock().await;
    let role = state
        .store
        .get_role(account, name)
        .ok_or_else(|| no_such_role(name))?;
    state
        .store
        .commit(vec![Write::DeleteRole {
            account: role.account,
            name: role.name,
        }])
        .await
        .map_err(service_failure)
}

/// The `RoleName` parameter, with its absence or a broken naming rule recorded in `v`.
fn collect_role_name<'a>(req: &'a QueryRequest, v: &mut Violations) -> Option<&'a str> {
    v.required(&validation::ROLE_NAME, req.param("RoleName"), "roleName")
}

async fn update_assume_role_policy(
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
    let mut role = state
        .store
        .get_role(account, name)
        .ok_or_else(|| no_such_role(name))?;
    role.assume_role_policy_document = document.to_string();
    state
        .store
        .commit(vec![Write::PutRole(role)])
        .await
        .map_err(service_failure)
}

async fn update_role(
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
    let mut role = state
        .store
        .get_role(account, name)
        .ok_or_else(|| no_such_role(name))?;
    let before = role.clone();
    if let Some(Some(m)) = max_session {
        role.max_session_duration = m;
    }
    if let Some(d) = description {
        role.description = Some(d);
    }
    if role != before {
        state
            .store
            .commit(vec![Write::PutRole(role)])
            .await
            .map_err(service_failure)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provider_urls_as_iam_accepts_them() {
        assert_eq!(
            validate_provider_url("https://oidc.example.com/id/ABC").expect("ok"),
            "oidc.example.com/id/ABC"
        );
        assert_eq!(
            validate_provider_url("https://auth.example.com/").expect("trailing slash kept"),
            "auth.example.com/"
        );
        for local in [
            "https://127.0.0.1:8443/issuer",
            "https://localhost:9000",
            "https://[::1]:8443/x",
        ] {
            assert!(validate_provider_url(local).is_ok(), "{local}");
        }
        let code = |url: &str| validate_provider_url(url).map_err(|e| e.code);
        assert_eq!(code("oidc.example.com"), Err("ValidationError"));
        assert_eq!(code("http://oidc.example.com"), Err("InvalidInput"));
        for bad in [
            "https://oidc.example.com:443",
            "https://10.0.0.1:8443/x",
            "https://localhost:notaport",
            "https://oidc.example.com/x#frag",
            "https://u:p@oidc.example.com",
            "https://oidc example.com",
            "https://",
            "https:///path",
        ] {
            assert_eq!(code(bad), Err("InvalidInput"), "{bad}");
        }
        let long = format!("https://{}.com", "a".repeat(250));
        let err = validate_provider_url(&long).expect_err("too long");
        assert!(
            err.message
                .ends_with("Member must have length less than or equal to 255"),
            "{}",
            err.message
        );
    }

    #[test]
    fn thumbprints_are_checked_and_lowercased() {
        let ok = validate_thumbprints(&["A".repeat(40), "a".repeat(40)]).expect("ok");
        assert_eq!(ok, vec!["a".repeat(40)]);
        assert_eq!(
            validate_thumbprints(&["g".repeat(40)]).map_err(|e| e.code),
            Err("InvalidInput")
        );
        assert_eq!(
            validate_thumbprints(&vec!["a".repeat(40); 5]).map(|t| t.len()),
            Ok(1)
        );
        let six: Vec<String> = (0..6).map(|i| format!("{i:040}")).collect();
        let err = validate_thumbprints(&six).expect_err("six");
        assert_eq!(
            err.message,
            "Thumbprint list must contain fewer than 5 entries."
        );
    }

    #[test]
    fn trust_policy_size_ignores_whitespace() {
        let sub = "x".repeat(1700);
        let doc = format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"Federated":"arn:aws:iam::000000000000:oidc-provider/o.example.com"}},"Action":"sts:AssumeRoleWithWebIdentity","Condition":{{"StringEquals":{{"o.example.com:sub":"{sub}"}}}}}}]}}"#
        );
        assert!(validate_trust_policy(&doc, "assumeRolePolicyDocument").is_ok());
        let padded = doc.replace(',', ",      \n   ");
        assert!(validate_trust_policy(&padded, "assumeRolePolicyDocument").is_ok());
        let over = doc.replace(&sub, &"x".repeat(2100));
        let err = validate_trust_policy(&over, "assumeRolePolicyDocument").expect_err("big");
        assert_eq!(
            (err.code, err.status),
            ("LimitExceeded", StatusCode::CONFLICT)
        );
    }
}
