//! The boundary between the controller and the provisioning engine.
//!
//! The controller decides *when* a cluster is converged or removed and *which* keys it
//! publishes; the engine decides *how* (bucket, objects, IAM OIDC provider) and alone talks
//! to AWS. Keeping the boundary a small trait lets the controller's Kubernetes behaviour be
//! read without the AWS details, and keeps aws-sdk-* out of this crate.

use futures::future::BoxFuture;
use irsa_core::aws::{AccountId, Region};
use irsa_core::issuer::ClusterId;
use irsa_jose::PublicKey;

/// Whose credentials provision a cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Identity {
    /// The operator's own credentials; the account is what `sts:GetCallerIdentity` says.
    Ambient,
    /// Assume this role (from `--role-arn-template`) in the cluster's account.
    AssumeRole {
        /// The cluster's account (from `--account-from-label`).
        account: AccountId,
        /// The role to assume.
        role_arn: String,
    },
}

/// One cluster, as the engine needs it.
#[derive(Debug, Clone)]
pub struct ClusterTarget {
    /// `metadata.name` of the AWSCluster.
    pub cluster: ClusterId,
    /// The cluster's region.
    pub region: Region,
    /// Whose credentials to use.
    pub identity: Identity,
}

/// The outcome of a converge pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Converged {
    /// The issuer URL (`--service-account-issuer`).
    pub issuer: String,
    /// The IAM OIDC provider's ARN.
    pub provider_arn: String,
    /// The S3 bucket holding the discovery documents.
    pub bucket: String,
    /// The exact bytes of the published `keys.json`.
    pub keys_json: Vec<u8>,
    /// Mutating AWS calls this pass made (0 when it was already converged).
    pub mutating_calls: u32,
}

/// The outcome of a removal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Removed {
    /// Mutating AWS calls this removal made (0 when nothing was left).
    pub mutating_calls: u32,
}

/// One AWS API call, reported as it completes (for `irsa_operator_aws_calls_total`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsCall {
    /// `s3`, `iam` or `sts`.
    pub service: &'static str,
    /// The API action, e.g. `CreateBucket`.
    pub action: String,
    /// Whether AWS answered with success.
    pub ok: bool,
}

/// Receives every AWS call an engine pass makes.
pub type CallObserver = std::sync::Arc<dyn Fn(&AwsCall) + Send + Sync>;

/// A failure in AWS or in the engine, with the step that failed and AWS's error code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{step}: {}{message}", code.as_deref().map(|c| format!("{c}: ")).unwrap_or_default())]
pub struct EngineError {
    /// What the engine was doing, e.g. `bucket 123456789012-g8s-abc12-oidc-pod-identity`.
    pub step: String,
    /// AWS's error code (`BucketAlreadyExists`, `AccessDenied`, …), when AWS answered.
    pub code: Option<String>,
    /// The message (never contains credentials or keys).
    pub message: String,
}

/// Converges and removes clusters in AWS.
pub trait Engine: Send + Sync + 'static {
    /// Creates or corrects everything the cluster's issuer needs, publishing `public_keys`
    /// (the current key first) in `keys.json`.
    fn converge<'a>(
        &'a self,
        target: &'a ClusterTarget,
        public_keys: &'a [PublicKey],
        calls: CallObserver,
    ) -> BoxFuture<'a, Result<Converged, EngineError>>;

    /// Removes everything the engine created for the cluster; a missing resource is not
    /// an error.
    fn remove<'a>(
        &'a self,
        target: &'a ClusterTarget,
        calls: CallObserver,
    ) -> BoxFuture<'a, Result<Removed, EngineError>>;
}
