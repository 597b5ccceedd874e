//! `irsa doctor`: why a pod does not get its IAM role, checked the way the webhook and STS
//! decide it.
//!
//! IRSA fails silently (a pod without the injected variables falls back to the node's
//! credentials) or with opaque STS errors. The doctor takes whatever the user has (pod,
//! ServiceAccount and namespace as `kubectl get -o yaml` prints them, the role's trust
//! policy, the token from the pod, the issuer's keys, the account's OIDC providers) and runs
//! five groups of checks, each PASS, WARN or FAIL with one line of evidence and one of
//! remedy, or SKIP naming the missing input:
//!
//! 1. the ServiceAccount's `eks.amazonaws.com/role-arn`, read with the webhook's own parser
//!    ([`irsa_core::mutation::ServiceAccountIdentity`]) and validated as a full role ARN
//!    ([`irsa_core::aws::RoleArn`]), partition against region;
//! 2. the pod: what the webhook's planner ([`irsa_core::mutation::plan_detailed`]) would
//!    still add is what the pod is missing, so the doctor and the webhook cannot disagree;
//! 3. kiam leftovers ([`irsa_core::kiam`]);
//! 4. the token, with the strict verifier STS uses ([`irsa_jose::Verifier`]);
//! 5. the provider and the trust policy: the provider in the role's account, the policy's
//!    `HOST/PATH` against the token's issuer (the guide's cross-account mistake), and the
//!    trust policy evaluated by [`irsa_policy`].
//!
//! Pure: no I/O, no clock (`now` is an input). The CLI reads files, the cluster and AWS.

#![forbid(unsafe_code)]

mod checks;
pub mod report;

pub use checks::{Missing, Owner, annotations, diagnose, missing_injection, owner, restart_remedy};
pub use report::{Check, Report, Status, Verdict};

use irsa_core::aws::{AccountId, Region};
use irsa_core::issuer::ClusterIssuer;
use irsa_core::mutation::WebhookConfig;
use irsa_jose::JwkSet;
use serde_json::Value;

/// An IAM OIDC provider registered in the role's account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderInfo {
    /// Its URL, with or without `https://` (IAM prints it without).
    pub url: String,
    /// Its client IDs (audiences).
    pub client_ids: Vec<String>,
}

impl ProviderInfo {
    /// The URL without its scheme (`HOST/PATH`), as IAM and provider ARNs write it.
    #[must_use]
    pub fn host_path(&self) -> &str {
        self.url
            .strip_prefix("https://")
            .or_else(|| self.url.strip_prefix("http://"))
            .unwrap_or(&self.url)
    }
}

/// Everything the doctor may be given; every field is optional except the clock.
#[derive(Debug, Default)]
pub struct Inputs {
    /// The Pod (JSON value of `kubectl get pod -o yaml`).
    pub pod: Option<Value>,
    /// Its ServiceAccount.
    pub service_account: Option<Value>,
    /// Its Namespace.
    pub namespace: Option<Value>,
    /// The role's trust policy document (JSON text).
    pub trust_policy: Option<String>,
    /// The role ARN (`--role-arn`, or from `aws iam get-role`).
    pub role_arn: Option<String>,
    /// IAM said the role does not exist (`--aws`: `GetRole` answered `NoSuchEntity`). STS
    /// then answers `AccessDenied`, as for a denied trust policy.
    pub role_missing: bool,
    /// The token file's content.
    pub token: Option<String>,
    /// The issuer's keys.
    pub jwks: Option<JwkSet>,
    /// The cluster's issuer.
    pub issuer: Option<ClusterIssuer>,
    /// The OIDC providers of the role's account (`None`: not known).
    pub providers: Option<Vec<ProviderInfo>>,
    /// The cluster's account (`--account`), to spell out a full ARN for a bare role name.
    pub account: Option<AccountId>,
    /// The cluster's region (`--region`), for the partition check.
    pub region: Option<Region>,
    /// The webhook's settings (annotation prefix, default audience, mount path).
    pub webhook: WebhookConfig,
    /// Unix seconds (`--now`, else the CLI's clock).
    pub now: i64,
}
