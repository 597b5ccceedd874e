//! The irsa operator: a kube-runtime controller that gives every opted-in `AWSCluster` its
//! OIDC identity in AWS (issuer bucket, discovery documents, IAM OIDC provider) and hands
//! the control plane what it needs (a signing key Secret, a ConfigMap with the apiserver
//! flags, an `irsa.io/issuer` annotation and Events).
//!
//! The crate follows kube-rs's controller-rs layout: [`controller`] holds `reconcile`, its
//! [`controller::Context`] and the run loop; [`metrics`], [`telemetry`] and [`finalizer`] each
//! have their own file (leader election is irsa-kube's Lease elector, shared); the AWS work goes through the
//! [`engine::Engine`] trait, implemented by the provisioning engine (the only crate that
//! talks to AWS). Errors are one enum whose variants map to metric labels.
//!
//! Fixed against Giant Swarm's irsa-operator: a removed opt-in annotation deprovisions and
//! releases the finalizer (GS returned early and kept it); requeues are events plus a
//! resync, with per-object exponential backoff; leader election releases its Lease on
//! shutdown; the signing key can be rotated with old keys kept published.

pub mod aws;
pub mod config;
pub mod controller;
pub mod crd;
pub mod engine;
pub mod finalizer;
pub mod keys;
pub mod metrics;
pub mod outputs;
pub mod server;
pub mod telemetry;

use std::collections::BTreeMap;

pub use config::OperatorConfig;
pub use controller::{Context, run};

/// The opt-in annotation (only its presence counts).
pub const OPT_IN_ANNOTATION: &str = "alpha.aws.giantswarm.io/iam-roles-for-service-accounts";
/// The finalizer that keeps an AWSCluster until its AWS resources are gone.
pub const FINALIZER: &str = "irsa.io/cleanup";
/// The annotation carrying the issuer URL once provisioned.
pub const ISSUER_ANNOTATION: &str = "irsa.io/issuer";
/// A new value of this annotation rotates the signing key.
pub const ROTATE_ANNOTATION: &str = "irsa.io/rotate-signing-key";
/// On the key Secret: the rotation request its key answers.
pub const ROTATED_FOR_ANNOTATION: &str = "irsa.io/rotated-for";
/// The `app.kubernetes.io/managed-by` value on the objects the operator creates.
pub const MANAGED_BY: &str = "irsa-operator";

/// Labels on every object the operator creates (the ConfigMap watch selects on them).
pub fn managed_labels() -> BTreeMap<String, String> {
    BTreeMap::from([(
        "app.kubernetes.io/managed-by".to_string(),
        MANAGED_BY.to_string(),
    )])
}

/// Everything a reconcile can fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The Kubernetes API refused or failed a request.
    #[error("Kubernetes API: {0}")]
    Kube(#[from] kube::Error),
    /// The AWSCluster cannot be provisioned as written (bad region, name or account label).
    #[error("AWSCluster {object}: {reason}")]
    InvalidCluster {
        /// `namespace/name`.
        object: String,
        /// The rule broken.
        reason: String,
    },
    /// The signing key Secret is unusable.
    #[error("signing key Secret {secret}: {reason}")]
    SigningKey {
        /// The Secret's name.
        secret: String,
        /// Why (never the key bytes).
        reason: String,
    },
    /// AWS (through the provisioning engine) failed.
    #[error("AWS {0}")]
    Aws(#[from] engine::EngineError),
    /// The operator's own configuration is unusable.
    #[error("{0}")]
    Config(String),
}

impl Error {
    /// The closed set of `result` label values for metrics.
    pub fn metric_label(&self) -> &'static str {
        match self {
            Self::Kube(_) => "kube_error",
            Self::InvalidCluster { .. } => "invalid_cluster",
            Self::SigningKey { .. } => "signing_key_error",
            Self::Aws(_) => "aws_error",
            Self::Config(_) => "config_error",
        }
    }

    /// AWS's error code, when AWS answered.
    pub fn aws_code(&self) -> Option<&str> {
        match self {
            Self::Aws(e) => e.code.as_deref(),
            _ => None,
        }
    }

    /// The step that failed, for logs.
    pub fn step(&self) -> &str {
        match self {
            Self::Aws(e) => &e.step,
            Self::Kube(_) => "kubernetes",
            Self::InvalidCluster { .. } => "validate",
            Self::SigningKey { .. } => "signing key",
            Self::Config(_) => "config",
        }
    }
}
