//! The desired-state planner behind `irsa provision`, `irsa deprovision`, the operator and
//! `irsa local --config`: what a cluster's OIDC identity in AWS must look like, and which
//! calls turn what exists into that.
//!
//! The planner is pure: no I/O, no clock, no randomness. Its inputs are a [`ClusterSpec`]
//! (everything derived from [`irsa_core::issuer::ClusterIssuer`]), the public keys to
//! publish, the [`Options`] and an [`Observed`] snapshot read by the executor
//! (`irsa-aws`); its output is a [`Plan`]: per step, the ordered [`Action`]s, empty when
//! the step is already converged. Keeping the decisions here, away from the SDK, is what
//! makes "a converged cluster makes zero mutating calls" a unit-testable property, and
//! lets one planner serve the real AWS executor and the local emulator alike.
//!
//! Rules it encodes (and Giant Swarm's irsa-operator got wrong, see
//! `shared/reference/giantswarm-irsa.md` §3, §5, §8):
//! - objects are uploaded only when their bytes differ (S3 ETag = MD5 of the body);
//! - bucket settings are compared, never blindly re-applied on every pass;
//! - the IAM provider is found by its deterministic ARN, not by listing every provider;
//! - tag *values* that drifted are corrected, not only missing keys;
//! - an existing bucket without our tag is claimed through CreateBucket, whose answer
//!   (`BucketAlreadyOwnedByYou` vs `BucketAlreadyExists`) is the only ownership proof S3
//!   gives; `HeadBucket` cannot tell the two apart;
//! - removal touches only resources tagged `irsa.io/cluster=CLUSTER`, in reverse order.
//!
//! One planner serves every place that publishes an issuer or registers its provider:
//! `irsa provision`, the operator (both through `irsa-aws`) and `irsa local --config`
//! (through its store). They all take the documents' bytes from [`IssuerDocuments`], the
//! provider's ARN, URL and client ID from [`DesiredProvider`], and the provider diff from
//! [`plan::plan_provider`]; `irsa local` plans several clusters, cross-account providers
//! and roles with [`identity`], into the same [`Action`]s.
//!
//! - [`spec`]: inputs, tags and the fixed settings;
//! - [`provider`]: the issuer's documents and its provider in one account;
//! - [`keys`]: the signing key ring, rotation and retirement;
//! - [`plan`]: observed state, actions and the planners of one cluster;
//! - [`identity`]: providers and roles of several clusters across accounts;
//! - [`policy`]: the least-privilege IAM policy the executor needs.

pub mod identity;
pub mod keys;
pub mod plan;
pub mod policy;
pub mod provider;
pub mod spec;

pub use identity::{
    ClusterIdentity, DesiredIdentities, DesiredRole, ObservedIdentities, ObservedRole, RoleSpec,
    Trust, plan_identities,
};
pub use keys::{KeyRing, PreviousKey};
pub use plan::{
    Action, BucketState, Observed, ObservedBucket, ObservedProvider, Plan, Service, Step, StepPlan,
    plan_deprovision, plan_provision,
};
pub use provider::{DesiredProvider, Extras, IssuerDocuments};
pub use spec::{ClusterSpec, Desired, Options, SpecError, Tag};
