//! The OIDC provider actions: create, get, list, delete, client IDs, thumbprints, tags.

use irsa_core::aws::{OidcProviderArn, Partition};

use super::validate::{
    check_quota, check_tag_count, dedup, parse_tags, validate_client_ids, validate_provider_url,
    validate_thumbprints,
};
use super::{
    MAX_PROVIDERS, commit, commit_answering, require_list, required, tags_xml, unrepresentable,
};
use crate::query::QueryRequest;
use crate::state::SharedState;
use crate::store::{Provider, Write};
use crate::validation::{self, Violations};
use crate::xml::{AwsError, XmlBuilder, XmlFragment};

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

pub(super) async fn create_provider(
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
    // One more must fit.
    check_quota(
        state.store.list_providers(account).len() + 1,
        MAX_PROVIDERS,
        "OpenIdConnectProvidersPerAccount",
    )?;
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
    commit_answering(state, Write::PutProvider(provider), b).await
}

pub(super) fn get_provider(
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

pub(super) fn list_providers(state: &SharedState, account: &str) -> Result<XmlFragment, AwsError> {
    let mut b = XmlBuilder::new();
    b.open("OpenIDConnectProviderList");
    for p in state.store.list_providers(account) {
        b.open("member").text("Arn", &p.arn()).close("member");
    }
    b.close("OpenIDConnectProviderList");
    b.finish().map_err(unrepresentable)
}

pub(super) fn list_provider_tags(
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

pub(super) async fn delete_provider(
    state: &SharedState,
    req: &QueryRequest,
    account: &str,
) -> Result<(), AwsError> {
    let _guard = state.store.write_lock().await;
    let p = lookup_provider(state, req, account)?;
    commit(
        state,
        Write::DeleteProvider {
            account: p.account,
            url: p.url,
        },
    )
    .await
}

#[derive(Debug, Clone, Copy)]
pub(super) enum ProviderChange {
    AddClientId,
    RemoveClientId,
    Thumbprints,
    Tag,
    Untag,
}

pub(super) async fn modify_provider(
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
            require_list(req, "ThumbprintList", "thumbprintList")?;
            Some(validate_thumbprints(&req.list("ThumbprintList"))?)
        }
        _ => None,
    };
    let new_tags = match change {
        ProviderChange::Tag => {
            require_list(req, "Tags", "tags")?;
            Some(parse_tags(req)?)
        }
        _ => None,
    };
    let untag_keys = match change {
        ProviderChange::Untag => {
            require_list(req, "TagKeys", "tagKeys")?;
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
        commit(state, Write::PutProvider(p)).await?;
    }
    Ok(None)
}
