//! `irsa local --config`: the YAML config, the built-in demo, and applying either to the
//! store idempotently.
//!
//! A config declares clusters and roles; applying it creates what is missing and updates
//! what differs, keeping signing keys, role IDs and creation dates, so applying the same
//! file twice changes nothing (and a restart never rotates a key). Each cluster gets an
//! IAM OIDC provider in its account, and in every other account whose roles trust it, as a
//! cross-account setup in AWS needs. Its partition is the cluster region's and its client
//! ID that partition's audience (`sts.amazonaws.com`, `sts.amazonaws.com.cn` in China:
//! [`irsa_core::aws::Partition::default_audience`]), the same value the generated trust
//! policies require in `:aud` and `irsa local token` mints by default.
//!
//! The planning is not irsa-local's own: the providers, roles and trust policies come from
//! [`irsa_provision`], the planner `irsa provision` converges AWS with, so that a cluster
//! served here has the documents, provider ARN and client ID it gets in AWS.
//!
//! The module is split along the steps a config goes through, so that each can be read
//! (and tested) without the others:
//! - [`schema`]: the serde types of the YAML file, read with serde-saphyr;
//! - [`plan`]: the config's entries, validated, turned into the shared planner's desired
//!   state;
//! - [`apply`]: the store's executor of the planner's actions, in one transaction;
//! - [`bootstrap`]: opening the store at startup, with the demo as the default.

pub mod apply;
pub mod bootstrap;
pub mod plan;
pub mod schema;

pub use apply::{ApplyReport, apply};
pub use bootstrap::{BootstrapOptions, Bootstrapped, bootstrap, bootstrap_with_progress};
pub use schema::{ClusterConfig, Config, RoleConfig};

use crate::clusters::ClusterError;
use crate::store::StoreError;

/// Why a config could not be read or applied.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config {path}: {source}")]
    Read {
        /// The config file path as given.
        path: String,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// Not valid YAML for the config schema.
    #[error("config {path}: {message}")]
    Parse {
        /// The config file path as given.
        path: String,
        /// serde-saphyr's message (with line and column).
        message: String,
    },
    /// A value breaks a rule.
    #[error("config: {what}: {message}")]
    Invalid {
        /// Which entry (e.g. `clusters[0] demo`).
        what: String,
        /// The rule.
        message: String,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The STS session-sealing key could not be loaded or created.
    #[error(transparent)]
    Sealer(#[from] crate::session_seal::SealError),
    /// A cluster key failed.
    #[error(transparent)]
    Cluster(#[from] ClusterError),
    /// Key generation failed.
    #[error("generating the signing key of cluster {cluster}: {source}")]
    KeyGen {
        /// The cluster's name in the config.
        cluster: String,
        /// What irsa-jose reported.
        source: irsa_jose::KeyError,
    },
}

pub(crate) fn invalid(what: impl Into<String>, message: impl std::fmt::Display) -> ConfigError {
    ConfigError::Invalid {
        what: what.into(),
        message: message.to_string(),
    }
}
