//! Read-only calls for diagnostics (`irsa doctor --aws`): a role's trust policy and the
//! account's OIDC providers. Counted like every other call.

use irsa_provision::{Service, Tag};

use crate::calls::CallKind;
use crate::clients::Clients;
use crate::error::EngineError;

/// A role as `iam:GetRole` answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleInfo {
    /// The role ARN.
    pub arn: String,
    /// The trust policy document (URL-decoded JSON).
    pub assume_role_policy_document: String,
    /// The maximum session duration in seconds.
    pub max_session_duration: Option<i32>,
}

/// An OIDC provider of the account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderInfo {
    /// Its ARN.
    pub arn: String,
    /// Its URL as IAM stores it (without `https://`).
    pub url: String,
    /// Its client IDs.
    pub client_ids: Vec<String>,
    /// Its thumbprints.
    pub thumbprints: Vec<String>,
    /// Its tags.
    pub tags: Vec<Tag>,
}

impl Clients {
    /// `iam:GetRole`; `Ok(None)` when the role does not exist.
    pub async fn get_role(&self, role_name: &str) -> Result<Option<RoleInfo>, EngineError> {
        let out = self.iam.get_role().role_name(role_name).send().await;
        match self.count(Service::Iam, "GetRole", CallKind::Read, "role", out) {
            Ok(out) => Ok(out.role().map(|r| RoleInfo {
                arn: r.arn().to_owned(),
                assume_role_policy_document: r
                    .assume_role_policy_document()
                    .map(decode_policy)
                    .unwrap_or_default(),
                max_session_duration: r.max_session_duration(),
            })),
            Err(EngineError::Aws { code, .. }) if code == "NoSuchEntity" => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Every OIDC provider of the account (`ListOpenIDConnectProviders`, then
    /// `GetOpenIDConnectProvider` for each).
    pub async fn list_oidc_providers(&self) -> Result<Vec<ProviderInfo>, EngineError> {
        let out = self.iam.list_open_id_connect_providers().send().await;
        let list = self.count(
            Service::Iam,
            "ListOpenIDConnectProviders",
            CallKind::Read,
            "providers",
            out,
        )?;
        let mut providers = Vec::new();
        for entry in list.open_id_connect_provider_list() {
            let Some(arn) = entry.arn() else { continue };
            let out = self
                .iam
                .get_open_id_connect_provider()
                .open_id_connect_provider_arn(arn)
                .send()
                .await;
            match self.count(
                Service::Iam,
                "GetOpenIDConnectProvider",
                CallKind::Read,
                "providers",
                out,
            ) {
                Ok(p) => {
                    let observed = crate::observe::observed_provider(&p);
                    providers.push(ProviderInfo {
                        arn: arn.to_owned(),
                        url: p.url().unwrap_or_default().to_owned(),
                        client_ids: observed.client_ids,
                        thumbprints: observed.thumbprints,
                        tags: observed.tags,
                    });
                }
                // Deleted between the list and the get.
                Err(EngineError::Aws { code, .. }) if code == "NoSuchEntity" => {}
                Err(e) => return Err(e),
            }
        }
        Ok(providers)
    }
}

/// IAM returns policy documents URL-encoded (RFC 3986); the SDK passes them through.
fn decode_policy(doc: &str) -> String {
    percent_encoding::percent_decode_str(doc)
        .decode_utf8_lossy()
        .into_owned()
}

#[cfg(test)]
mod tests {
    use super::decode_policy;

    #[test]
    fn policies_are_url_decoded() {
        assert_eq!(decode_policy("%7B%22a%22%3A1%7D"), "{\"a\":1}");
        assert_eq!(decode_policy("{\"a\":1}"), "{\"a\":1}");
        assert_eq!(decode_policy("100%"), "100%");
    }
}
