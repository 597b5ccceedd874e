//! Pure IRSA domain model: no I/O, no async runtime, no Kubernetes or AWS client.
//!
//! Everything here is a value with validation: account IDs, regions and partitions,
//! ARNs, Kubernetes names, and the [`issuer::ClusterIssuer`] from which the S3 bucket,
//! the IAM OIDC provider ARN and the trust-policy condition keys all derive. Deriving
//! them from one value is deliberate: real IRSA incidents came from two of them drifting
//! apart (see the cross-account section of the README).

pub mod aws;
pub mod issuer;
pub mod k8s;
pub mod mutation;
pub mod trust_policy;
