//! The desired state a config declares: its clusters and roles, validated.
//!
//! Every value is checked here, before anything is written, so that a bad config changes
//! nothing and its error names the entry (`roles[1] cross`) and the rule.

use irsa_core::aws::{AccountId, Partition, Region};
use irsa_core::issuer::{ClusterId, ClusterIssuer};
use irsa_core::k8s::SubjectPattern;
use irsa_core::trust_policy::TrustPolicyRequest;

use super::schema::{ClusterConfig, Config, RoleConfig};
use super::{ConfigError, invalid};
use crate::clusters::parse_issuer;

/// A cluster after validation.
#[derive(Debug, Clone)]
pub(crate) struct PlannedCluster {
    pub(crate) name: String,
    pub(crate) account: String,
    pub(crate) region: String,
    pub(crate) issuer: ClusterIssuer,
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
        issuer,
    })
}

/// A role after validation.
#[derive(Debug, Clone)]
pub(crate) struct PlannedRole {
    pub(crate) partition: Partition,
    pub(crate) account: String,
    pub(crate) name: String,
    pub(crate) path: String,
    pub(crate) document: String,
    pub(crate) max_session_duration: u32,
    pub(crate) description: Option<String>,
    /// Local clusters the role trusts: their provider URLs (without scheme) and partitions.
    pub(crate) trusted_providers: Vec<(String, Partition)>,
}

fn federated_arns(document: &serde_json::Value) -> Vec<String> {
    let statements = match document.get("Statement") {
        Some(serde_json::Value::Array(a)) => a.clone(),
        Some(s @ serde_json::Value::Object(_)) => vec![s.clone()],
        _ => Vec::new(),
    };
    let mut out = Vec::new();
    for s in statements {
        match s.get("Principal").and_then(|p| p.get("Federated")) {
            Some(serde_json::Value::String(a)) => out.push(a.clone()),
            Some(serde_json::Value::Array(list)) => {
                out.extend(list.iter().filter_map(|v| v.as_str().map(str::to_string)))
            }
            _ => {}
        }
    }
    out
}

fn plan_role(
    i: usize,
    r: &RoleConfig,
    clusters: &[PlannedCluster],
) -> Result<PlannedRole, ConfigError> {
    let what = format!("roles[{i}] {}", r.name);
    let mut v = crate::validation::Violations::new();
    v.check(&crate::validation::ROLE_NAME, &r.name, "roleName");
    if let Some(d) = &r.description {
        v.check(&crate::validation::DESCRIPTION, d, "description");
    }
    v.finish().map_err(|e| invalid(&what, e.message))?;
    let account = AccountId::parse(&r.account).map_err(|e| invalid(&what, e))?;
    let path = r.path.clone().unwrap_or_else(|| "/".into());
    irsa_core::aws::IamPath::parse(&path).map_err(|e| invalid(&what, e))?;
    let max = r
        .max_session_duration
        .unwrap_or(irsa_sts::DEFAULT_MAX_SESSION_DURATION);
    let range = irsa_sts::MAX_SESSION_DURATION_RANGE;
    if !range.contains(&max) {
        return Err(invalid(
            &what,
            format!(
                "maxSessionDuration {max} must be between {} and {} seconds",
                range.start(),
                range.end()
            ),
        ));
    }
    let mut trusted = Vec::new();
    let mut partition = None;
    let document = match (&r.service_accounts, &r.assume_role_policy_document) {
        (Some(_), Some(_)) => {
            return Err(invalid(
                &what,
                "give either serviceAccounts (with cluster) or assumeRolePolicyDocument, not both",
            ));
        }
        (None, None) => {
            return Err(invalid(
                &what,
                "needs serviceAccounts (with cluster) or assumeRolePolicyDocument",
            ));
        }
        (Some(sas), None) => {
            let cluster_name = r.cluster.as_deref().ok_or_else(|| {
                invalid(
                    &what,
                    "serviceAccounts needs cluster: NAME to know the issuer",
                )
            })?;
            let cluster = clusters
                .iter()
                .find(|c| c.name == cluster_name)
                .ok_or_else(|| {
                    invalid(
                        &what,
                        format!("cluster {cluster_name:?} is not declared under clusters"),
                    )
                })?;
            let mut subjects = Vec::new();
            for sa in sas {
                let (ns, name) = sa.split_once('/').ok_or_else(|| {
                    invalid(
                        &what,
                        format!("service account {sa:?} must be NAMESPACE/NAME"),
                    )
                })?;
                subjects.push(SubjectPattern::new(ns, name).map_err(|e| invalid(&what, e))?);
            }
            let request = TrustPolicyRequest::new(cluster.issuer.clone(), account, subjects);
            let policy = request.build().map_err(|e| invalid(&what, e))?;
            trusted.push((
                cluster.issuer.host_path().to_string(),
                cluster.issuer.partition(),
            ));
            partition = Some(cluster.issuer.partition());
            policy.to_json_compact().to_string()
        }
        (None, Some(doc)) => {
            if r.cluster.is_some() {
                return Err(invalid(
                    &what,
                    "cluster is only used with serviceAccounts; a verbatim assumeRolePolicyDocument names its provider itself",
                ));
            }
            let text = match doc {
                serde_json::Value::String(s) => s.clone(),
                other => serde_json::to_string(other).map_err(|e| invalid(&what, e))?,
            };
            if let Ok(parsed) = serde_json::from_str::<serde_json::Value>(&text) {
                for arn in federated_arns(&parsed) {
                    let Ok(arn) = irsa_core::aws::OidcProviderArn::parse(&arn) else {
                        continue;
                    };
                    // The role lives in the partition of the providers it trusts.
                    partition.get_or_insert(arn.partition());
                    if clusters
                        .iter()
                        .any(|c| c.issuer.host_path() == arn.host_path())
                    {
                        trusted.push((arn.host_path().to_owned(), arn.partition()));
                    }
                }
            }
            text
        }
    };
    crate::iam::validate_trust_policy(&document, "assumeRolePolicyDocument")
        .map_err(|e| invalid(&what, format!("{}: {}", e.code, e.message)))?;
    Ok(PlannedRole {
        partition: partition.unwrap_or(Partition::Aws),
        account: r.account.clone(),
        name: r.name.clone(),
        path,
        document,
        max_session_duration: max,
        description: r.description.clone(),
        trusted_providers: trusted,
    })
}

/// The whole config, validated: clusters and roles in declaration order.
#[derive(Debug, Clone)]
pub(crate) struct Planned {
    pub(crate) clusters: Vec<PlannedCluster>,
    pub(crate) roles: Vec<PlannedRole>,
}

/// Validates every entry of `config`, and that names are unique.
pub(crate) fn plan(config: &Config) -> Result<Planned, ConfigError> {
    let mut planned_clusters = Vec::new();
    for (i, c) in config.clusters.iter().enumerate() {
        if planned_clusters
            .iter()
            .any(|p: &PlannedCluster| p.name == c.name)
        {
            return Err(invalid(
                format!("clusters[{i}] {}", c.name),
                "duplicate cluster name",
            ));
        }
        planned_clusters.push(plan_cluster(i, c)?);
    }
    let mut planned_roles: Vec<PlannedRole> = Vec::new();
    for (i, r) in config.roles.iter().enumerate() {
        let role = plan_role(i, r, &planned_clusters)?;
        if planned_roles
            .iter()
            .any(|p| p.account == role.account && p.name.eq_ignore_ascii_case(&role.name))
        {
            return Err(invalid(
                format!("roles[{i}] {}", r.name),
                "duplicate role name in this account (IAM role names are case-insensitive)",
            ));
        }
        planned_roles.push(role);
    }
    Ok(Planned {
        clusters: planned_clusters,
        roles: planned_roles,
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
