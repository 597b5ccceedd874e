//! IAM identities of several clusters across accounts: the OIDC providers each account
//! needs, and the roles that service accounts assume.
//!
//! `irsa provision` converges one cluster's issuer and its provider in the cluster's own
//! account. A setup with several clusters and cross-account roles (what `irsa local
//! --config` declares) also needs a provider for a cluster in every account whose roles
//! trust it (IAM only accepts a `Federated` principal registered in the role's account),
//! and the roles with their trust policies. This module computes that desired state from
//! the clusters' [`ClusterIssuer`]s and the roles' trust, and plans it with the same
//! provider diff as `irsa provision` ([`crate::plan::plan_provider`]) into the same
//! [`Action`]s, which an executor interprets: the local store's, or AWS's.

use std::collections::BTreeMap;

use irsa_core::aws::{AccountId, IamPath, OidcProviderArn, Partition, RoleArn, RoleName};
use irsa_core::issuer::ClusterIssuer;
use irsa_core::k8s::SubjectPattern;
use irsa_core::trust_policy::TrustPolicyRequest;

use crate::plan::{Action, ObservedProvider, Outcome, Plan, Step, StepPlan, plan_provider};
use crate::provider::DesiredProvider;
use crate::spec::SpecError;

/// A cluster: its issuer, registered as a provider in its own account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterIdentity {
    /// The account of the cluster's issuer.
    pub account: AccountId,
    /// The issuer.
    pub issuer: ClusterIssuer,
}

/// Who may assume a role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Trust {
    /// Service accounts of one cluster: the trust policy is generated as `irsa
    /// trust-policy` generates it, for the provider of `issuer` in the role's account.
    ServiceAccounts {
        /// The cluster's issuer.
        issuer: ClusterIssuer,
        /// `NAMESPACE/NAME` patterns.
        subjects: Vec<SubjectPattern>,
    },
    /// A trust policy given verbatim; the providers it names are found in it.
    Document(String),
}

/// A role as declared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleSpec {
    /// The role's account.
    pub account: AccountId,
    /// The role's name.
    pub name: RoleName,
    /// The role's path.
    pub path: IamPath,
    /// Who may assume it.
    pub trust: Trust,
    /// Maximum session duration in seconds (validated by the caller against IAM's range).
    pub max_session_duration: u32,
    /// IAM role description, as given (the caller validates it).
    pub description: Option<String>,
}

/// A role's desired state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DesiredRole {
    /// Partition, account, path and name. The partition is that of the providers the role
    /// trusts (`aws` when its trust policy names none).
    pub arn: RoleArn,
    /// The trust policy (JSON), byte for byte as stored.
    pub trust_policy: String,
    /// Maximum session duration in seconds.
    pub max_session_duration: u32,
    /// IAM role description, as given.
    pub description: Option<String>,
    /// The providers of the given clusters that the trust policy names, in the role's
    /// account: each must exist there for the role to be assumable.
    pub trusted: Vec<OidcProviderArn>,
}

impl DesiredRole {
    /// The desired role for `spec`; `clusters` are the issuers a verbatim trust policy
    /// may name (others it names are assumed to be managed elsewhere).
    pub fn new(spec: RoleSpec, clusters: &[ClusterIdentity]) -> Result<Self, SpecError> {
        let (partition, trust_policy, trusted) = match spec.trust {
            Trust::ServiceAccounts { issuer, subjects } => {
                let trusted = vec![issuer.provider_arn(&spec.account)];
                let partition = issuer.partition();
                let policy = TrustPolicyRequest::new(issuer, spec.account.clone(), subjects)
                    .build()
                    .map_err(|e| SpecError {
                        input: "serviceAccounts".into(),
                        message: e.to_string(),
                    })?;
                (partition, policy.to_json_compact().to_owned(), trusted)
            }
            Trust::Document(document) => {
                let mut partition = None;
                let mut trusted = Vec::new();
                for arn in federated_providers(&document) {
                    // The role lives in the partition of the providers it trusts.
                    partition.get_or_insert(arn.partition());
                    for c in clusters {
                        if c.issuer.host_path() == arn.host_path() {
                            trusted.push(c.issuer.provider_arn(&spec.account));
                        }
                    }
                }
                (partition.unwrap_or(Partition::Aws), document, trusted)
            }
        };
        Ok(Self {
            arn: RoleArn::new(partition, spec.account, spec.path, spec.name),
            trust_policy,
            max_session_duration: spec.max_session_duration,
            description: spec.description,
            trusted,
        })
    }
}

/// The `Principal.Federated` provider ARNs of a trust policy (a statement or a list of
/// them); what does not parse is skipped, since IAM's own validation judges the document.
fn federated_providers(document: &str) -> Vec<OidcProviderArn> {
    let Ok(parsed) = serde_json::from_str::<serde_json::Value>(document) else {
        return Vec::new();
    };
    let statements = match parsed.get("Statement") {
        Some(serde_json::Value::Array(a)) => a.iter().collect(),
        Some(s @ serde_json::Value::Object(_)) => vec![s],
        _ => Vec::new(),
    };
    let mut out = Vec::new();
    for s in statements {
        let federated = match s.get("Principal").and_then(|p| p.get("Federated")) {
            Some(serde_json::Value::String(a)) => vec![a.as_str()],
            Some(serde_json::Value::Array(list)) => {
                list.iter().filter_map(serde_json::Value::as_str).collect()
            }
            _ => Vec::new(),
        };
        out.extend(
            federated
                .into_iter()
                .filter_map(|a| OidcProviderArn::parse(a).ok()),
        );
    }
    out
}

/// The providers and roles of a set of clusters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DesiredIdentities {
    /// Each cluster's provider in its own account and in every account with a role that
    /// trusts it; one per ARN, sorted by ARN.
    pub providers: Vec<DesiredProvider>,
    /// The roles, in the order given.
    pub roles: Vec<DesiredRole>,
}

impl DesiredIdentities {
    /// The desired state of `clusters` and `roles` (built with [`DesiredRole::new`]).
    pub fn new(clusters: &[ClusterIdentity], roles: Vec<DesiredRole>) -> Self {
        let mut arns: Vec<OidcProviderArn> = clusters
            .iter()
            .map(|c| c.issuer.provider_arn(&c.account))
            .chain(roles.iter().flat_map(|r| r.trusted.iter().cloned()))
            .collect();
        arns.sort();
        arns.dedup();
        Self {
            providers: arns.into_iter().map(DesiredProvider::new).collect(),
            roles,
        }
    }
}

/// An existing role with the account and name of a desired one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObservedRole {
    /// Its ARN (partition and path may differ from the desired one's).
    pub arn: RoleArn,
    /// Its trust policy.
    pub trust_policy: String,
    /// Its maximum session duration.
    pub max_session_duration: u32,
    /// Its description.
    pub description: Option<String>,
}

/// What exists of the desired identities.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ObservedIdentities {
    /// Providers, by ARN (absent: none at that ARN).
    pub providers: BTreeMap<OidcProviderArn, ObservedProvider>,
    /// Roles, by the desired role's ARN (absent: no role of that name in that account).
    pub roles: BTreeMap<RoleArn, ObservedRole>,
}

/// The plan that turns `observed` into `desired`: providers first (a role's trust policy
/// names them), then roles.
pub fn plan_identities(desired: &DesiredIdentities, observed: &ObservedIdentities) -> Plan {
    let mut steps: Vec<StepPlan> = desired
        .providers
        .iter()
        .map(|p| plan_provider(p, observed.providers.get(&p.arn)))
        .collect();
    steps.extend(
        desired
            .roles
            .iter()
            .map(|r| plan_role(r, observed.roles.get(&r.arn))),
    );
    Plan { steps }
}

/// One role's step.
pub fn plan_role(desired: &DesiredRole, observed: Option<&ObservedRole>) -> StepPlan {
    let create = || Action::CreateRole {
        arn: desired.arn.clone(),
        assume_role_policy_document: desired.trust_policy.clone(),
        max_session_duration: desired.max_session_duration,
        description: desired.description.clone(),
    };
    let (outcome, detail, actions) = match observed {
        None => (Outcome::Created, None, vec![create()]),
        Some(o)
            if o.arn.partition() != desired.arn.partition()
                || o.arn.path() != desired.arn.path() =>
        {
            (
                Outcome::Updated,
                Some(format!(
                    "replaces {}: IAM cannot change a role's path or partition",
                    o.arn
                )),
                vec![Action::DeleteRole { arn: o.arn.clone() }, create()],
            )
        }
        Some(o) => {
            let mut actions = Vec::new();
            let mut changed = Vec::new();
            if o.trust_policy != desired.trust_policy {
                actions.push(Action::UpdateAssumeRolePolicy {
                    arn: o.arn.clone(),
                    policy_document: desired.trust_policy.clone(),
                });
                changed.push("trust policy");
            }
            if o.max_session_duration != desired.max_session_duration
                || o.description != desired.description
            {
                actions.push(Action::UpdateRole {
                    arn: o.arn.clone(),
                    max_session_duration: desired.max_session_duration,
                    description: desired.description.clone(),
                });
                changed.push("max session duration, description");
            }
            if actions.is_empty() {
                (Outcome::UpToDate, None, actions)
            } else {
                (Outcome::Updated, Some(changed.join(", ")), actions)
            }
        }
    };
    StepPlan {
        step: Step::Role,
        subject: desired.arn.to_string(),
        outcome,
        detail,
        actions,
    }
}

#[cfg(test)]
mod tests;
