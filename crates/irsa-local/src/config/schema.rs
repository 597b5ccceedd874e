//! The config file's schema: what `irsa local --config FILE` accepts.
//!
//! The types mirror the YAML one to one (camelCase keys, unknown keys rejected) and hold
//! the values as written; whether they make sense together is [`super::plan`]'s job, so
//! that a parse error names a line and column and a rule error names the entry.

use std::path::Path;

use serde::{Deserialize, Deserializer};

use super::ConfigError;

/// An account ID in YAML, quoted or not. An unquoted `000000000000` would be the number 0
/// to a type-agnostic YAML reader; asking serde-saphyr for a string keeps the scalar's text
/// (leading zeros included). Numbers from other deserializers are zero-padded to 12 digits.
fn account<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    struct V;
    impl serde::de::Visitor<'_> for V {
        type Value = String;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a 12-digit AWS account ID")
        }
        fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<String, E> {
            Ok(v.to_string())
        }
        fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<String, E> {
            Ok(format!("{v:012}"))
        }
        fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<String, E> {
            u64::try_from(v)
                .map(|v| format!("{v:012}"))
                .map_err(|_| E::custom(format!("account {v} is negative")))
        }
    }
    d.deserialize_str(V)
}

/// The config file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Config {
    /// Local clusters: each gets an issuer with its own signing key.
    #[serde(default)]
    pub clusters: Vec<ClusterConfig>,
    /// IAM roles to create, each trusting a cluster's service accounts or a verbatim policy.
    #[serde(default)]
    pub roles: Vec<RoleConfig>,
}

/// A cluster entry.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ClusterConfig {
    /// Cluster name, used by `irsa local token --cluster` and in the issuer URL.
    pub name: String,
    /// Account of the issuer.
    #[serde(deserialize_with = "account")]
    pub account: String,
    /// AWS region of the cluster; `cn-*` regions give `aws-cn` ARNs and the China audience.
    pub region: String,
    /// Issuer; default the guide's S3 issuer.
    #[serde(default)]
    pub issuer: Option<String>,
}

/// A role entry.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RoleConfig {
    /// Account of the role.
    #[serde(deserialize_with = "account")]
    pub account: String,
    /// Role name.
    pub name: String,
    /// IAM path; default `/`.
    #[serde(default)]
    pub path: Option<String>,
    /// The cluster whose service accounts may assume the role.
    #[serde(default)]
    pub cluster: Option<String>,
    /// `NAMESPACE/NAME` entries (wildcards allowed) for the generated trust policy.
    #[serde(default)]
    pub service_accounts: Option<Vec<String>>,
    /// A verbatim trust policy: a JSON string, or a YAML mapping.
    #[serde(default)]
    pub assume_role_policy_document: Option<serde_json::Value>,
    /// Maximum session duration (3600..=43200).
    #[serde(default)]
    pub max_session_duration: Option<u32>,
    /// IAM role description (AWS's character class, at most 1000 characters).
    #[serde(default)]
    pub description: Option<String>,
}

impl Config {
    /// Parses YAML; `source` names the input in errors.
    pub fn parse(source: &str, yaml: &str) -> Result<Self, ConfigError> {
        serde_saphyr::from_str(yaml).map_err(|e| ConfigError::Parse {
            path: source.to_string(),
            message: e.to_string(),
        })
    }

    /// Reads and parses a file.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Self::parse(&path.display().to_string(), &text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const YAML: &str = include_str!("../../tests/fixtures/config-three-accounts.yaml");

    #[test]
    fn parses_accounts_with_leading_zeros() {
        let c = Config::parse("t", YAML).expect("parse");
        assert_eq!(c.clusters[0].account, "000000000000");
        assert_eq!(c.roles[1].account, "222222222222");
        assert!(c.roles[2].assume_role_policy_document.is_some());
    }
}
