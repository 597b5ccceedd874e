//! The operator's settings, validated once at start so that a bad flag fails the process
//! with its name instead of failing every reconcile.

use std::time::Duration;

use irsa_core::aws::{AccountId, RoleArn};

use crate::engine::Identity;
use irsa_kube::lease::LeaseSettings;

/// The placeholder `--role-arn-template` must contain.
pub const ACCOUNT_PLACEHOLDER: &str = "{account}";

/// Per-object error backoff: `base * 2^failures`, at most `cap`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// Delay after the first failure.
    pub base: Duration,
    /// Longest delay.
    pub cap: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Self {
            base: Duration::from_secs(5),
            cap: Duration::from_secs(300),
        }
    }
}

impl Backoff {
    /// The delay after `failures` consecutive failures (1 = first).
    pub fn delay(&self, failures: u32) -> Duration {
        let factor = 1u32
            .checked_shl(failures.saturating_sub(1).min(31))
            .unwrap_or(u32::MAX);
        self.base.saturating_mul(factor).min(self.cap)
    }
}

/// How the AWS account of a cluster is found.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum AccountSource {
    /// The operator's own credentials (`sts:GetCallerIdentity`).
    #[default]
    Ambient,
    /// The account is in this label; the role to assume is the template with `{account}`
    /// replaced.
    Label {
        /// `--role-arn-template`.
        template: String,
        /// `--account-from-label`.
        label: String,
    },
}

impl AccountSource {
    /// From the two flags, which must be given together.
    pub fn from_flags(template: Option<&str>, label: Option<&str>) -> Result<Self, String> {
        match (template, label) {
            (None, None) => Ok(Self::Ambient),
            (Some(_), None) => Err(
                "--role-arn-template needs --account-from-label LABEL (where the account is)"
                    .into(),
            ),
            (None, Some(_)) => Err(
                "--account-from-label needs --role-arn-template (the role to assume there)".into(),
            ),
            (Some(t), Some(l)) => {
                if !t.contains(ACCOUNT_PLACEHOLDER) {
                    return Err(format!(
                        "--role-arn-template {t:?} must contain {ACCOUNT_PLACEHOLDER}"
                    ));
                }
                let sample = t.replace(ACCOUNT_PLACEHOLDER, "123456789012");
                RoleArn::parse(&sample).map_err(|e| format!("--role-arn-template {t:?}: {e}"))?;
                if l.is_empty() {
                    return Err("--account-from-label must not be empty".into());
                }
                Ok(Self::Label {
                    template: t.to_string(),
                    label: l.to_string(),
                })
            }
        }
    }

    /// The identity for a cluster with these labels.
    pub fn identity(
        &self,
        labels: &std::collections::BTreeMap<String, String>,
    ) -> Result<Identity, String> {
        match self {
            Self::Ambient => Ok(Identity::Ambient),
            Self::Label { template, label } => {
                let value = labels
                    .get(label)
                    .ok_or_else(|| format!("has no label {label} (--account-from-label)"))?;
                let account = AccountId::parse(value)
                    .map_err(|e| format!("label {}", e.for_input(label.clone())))?;
                Ok(Identity::AssumeRole {
                    role_arn: template.replace(ACCOUNT_PLACEHOLDER, account.as_str()),
                    account,
                })
            }
        }
    }
}

/// Everything `irsa operator` configures.
#[derive(Debug, Clone)]
pub struct OperatorConfig {
    /// Requeue period of a converged cluster (`--resync`).
    pub resync: Duration,
    /// Also reconcile Cluster API's `AWSCluster` (`--capa`).
    pub capa: bool,
    /// Watch only this namespace (`--namespace`).
    pub namespace: Option<String>,
    /// Where each cluster's account comes from.
    pub accounts: AccountSource,
    /// Lease settings; `None` runs without leader election.
    pub leader_election: Option<LeaseSettings>,
    /// Error backoff.
    pub backoff: Backoff,
    /// Reporting instance in Events (pod name).
    pub instance: String,
}

impl OperatorConfig {
    /// Defaults of the CLI flags, for the given instance name.
    pub fn new(instance: &str) -> Self {
        Self {
            resync: Duration::from_secs(300),
            capa: false,
            namespace: None,
            accounts: AccountSource::Ambient,
            leader_election: None,
            backoff: Backoff::default(),
            instance: instance.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let b = Backoff {
            base: Duration::from_secs(1),
            cap: Duration::from_secs(10),
        };
        let delays: Vec<u64> = (1..=6).map(|n| b.delay(n).as_secs()).collect();
        assert_eq!(delays, [1, 2, 4, 8, 10, 10]);
        assert_eq!(b.delay(1000), Duration::from_secs(10));
    }

    #[test]
    fn account_flags_go_together_and_name_the_rule() {
        assert_eq!(
            AccountSource::from_flags(None, None),
            Ok(AccountSource::Ambient)
        );
        assert!(
            AccountSource::from_flags(Some("arn:aws:iam::{account}:role/x"), None)
                .unwrap_err()
                .contains("--account-from-label")
        );
        assert!(
            AccountSource::from_flags(Some("arn:aws:iam::123456789012:role/x"), Some("l"))
                .unwrap_err()
                .contains("{account}")
        );
        assert!(AccountSource::from_flags(Some("arn:aws:iam::{account}:nope"), Some("l")).is_err());
        let src = AccountSource::from_flags(Some("arn:aws:iam::{account}:role/irsa"), Some("acct"))
            .unwrap();
        let labels = BTreeMap::from([("acct".to_string(), "210987654321".to_string())]);
        assert_eq!(
            src.identity(&labels).unwrap(),
            Identity::AssumeRole {
                account: AccountId::parse("210987654321").unwrap(),
                role_arn: "arn:aws:iam::210987654321:role/irsa".into()
            }
        );
        assert!(
            src.identity(&BTreeMap::new())
                .unwrap_err()
                .contains("has no label acct")
        );
        let bad = BTreeMap::from([("acct".to_string(), "12".to_string())]);
        assert!(src.identity(&bad).unwrap_err().contains("12 digits"));
    }
}
