//! The desired state a config declares, computed by irsa-provision's planner.
//!
//! This module only translates the YAML entries into the planner's inputs, checking each
//! value with the rule that owns it (irsa-core's types, the IAM emulator's validators) so
//! that a bad config changes nothing and its error names the entry (`roles[1] cross`) and
//! the rule. Everything else (the trust policies, the partition of each role, which
//! account needs which provider, the provider's URL and client ID) is
//! [`irsa_provision::identity`]'s, the planner `irsa provision` uses too: there is one.

use irsa_core::aws::{AccountId, IamPath, Region, RoleName};
use irsa_core::issuer::{ClusterId, ClusterIssuer};
use irsa_core::k8s::SubjectPattern;
use irsa_provision::{ClusterIdentity, DesiredIdentities, DesiredRole, RoleSpec, Trust};

use super::schema::{ClusterConfig, Config, RoleConfig};
use super::{ConfigError, invalid};
use crate::clusters::parse_issuer;

/// A cluster after validation: the store record's fields and its identity.
#[derive(Debug, Clone)]
pub(crate) struct PlannedCluster {
    pub(crate) name: String,
    pub(crate) account: String,
    pub(crate) region: String,
    pub(crate) identity: ClusterIdentity,
}

fn plan_cluster(i: usize, c: &ClusterConfig) -> Result<PlannedCluster, ConfigError> {
    let what = format!("clusters[{i}] {}", c.name);
    let id = ClusterId::parse(&c.name).map_err(|e| invalid(&what, e))?;
    let account = AccountId::parse(&c.account).map_err(|e| invalid(&what, e))?;
    let region = Region::parse(&c.region).map_err(|e| invalid(&what, e))?;
    let issuer = match &c.issuer {
        None => ClusterIssuer::s3(&account, &region, &id),
        Some(url) => {
            let issuer = parse_issuer(url, &region).map_err(|e| invalid(&what, e))?;
            if !issuer.url().starts_with("https://") {
                return Err(invalid(
                    &what,
                    format!(
                        "issuer {url:?} must start with https:// (STS only trusts HTTPS issuers)"
                    ),
                ));
            }
            issuer
        }
    };
    Ok(PlannedCluster {
        name: c.name.clone(),
        account: c.account.clone(),
        region: c.region.clone(),
        identity: ClusterIdentity { account, issuer },
    })
}

/// The planner's input for a role entry.
fn role_spec(
    what: &str,
    r: &RoleConfig,
    clusters: &[PlannedCluster],
) -> Result<RoleSpec, ConfigError> {
    let mut v = crate::validation::Violations::new();
    v.check(&crate::validation::ROLE_NAME, &r.name, "roleName");
    if let Some(d) = &r.description {
        v.check(&crate::validation::DESCRIPTION, d, "description");
    }
    v.finish().map_err(|e| invalid(what, e.message))?;
    let name = RoleName::parse(&r.name).map_err(|e| invalid(what, e))?;
    let account = AccountId::parse(&r.account).map_err(|e| invalid(what, e))?;
    let path = IamPath::parse(r.path.as_deref().unwrap_or("/")).map_err(|e| invalid(what, e))?;
    let max = r
        .max_session_duration
        .unwrap_or(irsa_sts::DEFAULT_MAX_SESSION_DURATION);
    let range = irsa_sts::MAX_SESSION_DURATION_RANGE;
    if !range.contains(&max) {
        return Err(invalid(
            what,
            format!(
                "maxSessionDuration {max} must be between {} and {} seconds",
                range.start(),
                range.end()
            ),
        ));
    }
    let trust = match (&r.service_accounts, &r.assume_role_policy_document) {
        (Some(_), Some(_)) => {
            return Err(invalid(
                what,
                "give either serviceAccounts (with cluster) or assumeRolePolicyDocument, not both",
            ));
        }
        (None, None) => {
            return Err(invalid(
                what,
                "needs serviceAccounts (with cluster) or assumeRolePolicyDocument",
            ));
        }
        (Some(sas), None) => {
            let cluster_name = r.cluster.as_deref().ok_or_else(|| {
                invalid(
                    what,
                    "serviceAccounts needs cluster: NAME to know the issuer",
                )
            })?;
            let cluster = clusters
                .iter()
                .find(|c| c.name == cluster_name)
                .ok_or_else(|| {
                    invalid(
                        what,
                        format!("cluster {cluster_name:?} is not declared under clusters"),
                    )
                })?;
            let mut subjects = Vec::new();
            for sa in sas {
                let (ns, name) = sa.split_once('/').ok_or_else(|| {
                    invalid(
                        what,
                        format!("service account {sa:?} must be NAMESPACE/NAME"),
                    )
                })?;
                subjects.push(SubjectPattern::new(ns, name).map_err(|e| invalid(what, e))?);
            }
            Trust::ServiceAccounts {
                issuer: cluster.identity.issuer.clone(),
                subjects,
            }
        }
        (None, Some(doc)) => {
            if r.cluster.is_some() {
                return Err(invalid(
                    what,
                    "cluster is only used with serviceAccounts; a verbatim assumeRolePolicyDocument names its provider itself",
                ));
            }
            Trust::Document(match doc {
                serde_json::Value::String(s) => s.clone(),
                other => serde_json::to_string(other).map_err(|e| invalid(what, e))?,
            })
        }
    };
    Ok(RoleSpec {
        account,
        name,
        path,
        trust,
        max_session_duration: max,
        description: r.description.clone(),
    })
}

/// A role entry planned: its desired state, its trust policy accepted by IAM's rules.
fn plan_role(
    i: usize,
    r: &RoleConfig,
    clusters: &[PlannedCluster],
) -> Result<DesiredRole, ConfigError> {
    let what = format!("roles[{i}] {}", r.name);
    let identities: Vec<ClusterIdentity> = clusters.iter().map(|c| c.identity.clone()).collect();
    let role = DesiredRole::new(role_spec(&what, r, clusters)?, &identities)
        .map_err(|e| invalid(&what, e.message))?;
    crate::iam::validate_trust_policy(&role.trust_policy, "assumeRolePolicyDocument")
        .map_err(|e| invalid(&what, format!("{}: {}", e.code, e.message)))?;
    Ok(role)
}

/// The whole config, validated and planned.
#[derive(Debug, Clone)]
pub(crate) struct Planned {
    /// The clusters, in declaration order (their keys are the store's business).
    pub(crate) clusters: Vec<PlannedCluster>,
    /// Their providers in every account that needs one, and the roles.
    pub(crate) identities: DesiredIdentities,
}

/// Validates every entry of `config` and that names are unique, and plans its identities.
pub(crate) fn plan(config: &Config) -> Result<Planned, ConfigError> {
    let mut clusters: Vec<PlannedCluster> = Vec::new();
    for (i, c) in config.clusters.iter().enumerate() {
        if clusters.iter().any(|p| p.name == c.name) {
            return Err(invalid(
                format!("clusters[{i}] {}", c.name),
                "duplicate cluster name",
            ));
        }
        clusters.push(plan_cluster(i, c)?);
    }
    let mut roles: Vec<DesiredRole> = Vec::new();
    for (i, r) in config.roles.iter().enumerate() {
        let role = plan_role(i, r, &clusters)?;
        if roles.iter().any(|p| {
            p.arn.account() == role.arn.account()
                && p.arn
                    .name()
                    .as_str()
                    .eq_ignore_ascii_case(role.arn.name().as_str())
        }) {
            return Err(invalid(
                format!("roles[{i}] {}", r.name),
                "duplicate role name in this account (IAM role names are case-insensitive)",
            ));
        }
        roles.push(role);
    }
    let identities: Vec<ClusterIdentity> = clusters.iter().map(|c| c.identity.clone()).collect();
    Ok(Planned {
        identities: DesiredIdentities::new(&identities, roles),
        clusters,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_unknown_fields_and_bad_values() {
        let err = Config::parse("t", "clusters: []\nrole: []\n").expect_err("unknown");
        assert!(err.to_string().contains("role"), "{err}");
        let c = Config::parse(
            "t",
            "clusters: [{name: x, account: '000000000000', region: eu-west-1, issuer: 'http://example.com'}]",
        )
        .expect("parse");
        assert!(plan_cluster(0, &c.clusters[0]).is_err());
    }

    #[test]
    fn role_needs_exactly_one_policy_source() {
        let clusters = vec![];
        let r = RoleConfig {
            account: "000000000000".into(),
            name: "x".into(),
            path: None,
            cluster: None,
            service_accounts: None,
            assume_role_policy_document: None,
            max_session_duration: None,
            description: None,
        };
        assert!(plan_role(0, &r, &clusters).is_err());
        let bad_max = RoleConfig {
            assume_role_policy_document: Some(serde_json::json!("{}")),
            max_session_duration: Some(100),
            ..r
        };
        let err = plan_role(0, &bad_max, &clusters).expect_err("max");
        assert!(err.to_string().contains("maxSessionDuration 100"), "{err}");
    }
}
