//! The `AWSCluster` kinds the operator reconciles, as Rust types.
//!
//! Only the fields the operator reads are modelled; everything else in a real object is
//! ignored on read, and the operator never writes a spec (it patches metadata only), so
//! fields it does not know are never lost. The Giant Swarm CRD generated from [`GsAwsCluster`]
//! (see `tests/crdgen.rs`) keeps unknown spec fields (`x-kubernetes-preserve-unknown-fields`),
//! so test clusters written for the full upstream schema still apply.

use kube::{CustomResource, Resource};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Which `AWSCluster` flavour an object is: it decides where the region lives and where the
/// signing key comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavour {
    /// Giant Swarm vintage (`infrastructure.giantswarm.io/v1alpha3`): the operator generates
    /// the signing key and keeps it in `CLUSTER-irsa-signing-key`.
    GiantSwarm,
    /// Cluster API provider AWS (`infrastructure.cluster.x-k8s.io/v1beta2`): the key is the
    /// one Cluster API made for the cluster, in `CLUSTER-sa`.
    Capa,
}

impl Flavour {
    /// Short name used in metric labels and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::GiantSwarm => "giantswarm",
            Self::Capa => "capa",
        }
    }
}

/// What the controller needs from any `AWSCluster` kind.
pub trait ClusterResource:
    Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>
    + Clone
    + std::fmt::Debug
    + serde::de::DeserializeOwned
    + Serialize
    + Send
    + Sync
    + 'static
{
    /// The flavour of this kind.
    const FLAVOUR: Flavour;
    /// The region as written in the object (validated by the caller).
    fn region(&self) -> &str;
}

/// The `spec` subset of Giant Swarm's vintage `AWSCluster`.
#[derive(CustomResource, Deserialize, Serialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[kube(
    group = "infrastructure.giantswarm.io",
    version = "v1alpha3",
    kind = "AWSCluster",
    root = "GsAwsCluster",
    namespaced,
    plural = "awsclusters",
    shortname = "gsawscluster"
)]
#[schemars(extend("x-kubernetes-preserve-unknown-fields" = true))]
pub struct GsAwsClusterSpec {
    /// Where the cluster runs in AWS.
    pub provider: GsProvider,
    /// Descriptive settings of the cluster.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<GsClusterSettings>,
}

/// `spec.provider` of a Giant Swarm `AWSCluster`.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[schemars(extend("x-kubernetes-preserve-unknown-fields" = true))]
pub struct GsProvider {
    /// The AWS region, e.g. `eu-west-1`.
    pub region: String,
}

/// `spec.cluster` of a Giant Swarm `AWSCluster` (only the description is modelled).
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[schemars(extend("x-kubernetes-preserve-unknown-fields" = true))]
pub struct GsClusterSettings {
    /// Human-readable description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

impl ClusterResource for GsAwsCluster {
    const FLAVOUR: Flavour = Flavour::GiantSwarm;
    fn region(&self) -> &str {
        &self.spec.provider.region
    }
}

/// The `spec` subset of Cluster API provider AWS's `AWSCluster`.
#[derive(CustomResource, Deserialize, Serialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[kube(
    group = "infrastructure.cluster.x-k8s.io",
    version = "v1beta2",
    kind = "AWSCluster",
    root = "CapaAwsCluster",
    namespaced,
    plural = "awsclusters"
)]
#[schemars(extend("x-kubernetes-preserve-unknown-fields" = true))]
pub struct CapaAwsClusterSpec {
    /// The AWS region, e.g. `eu-west-1`.
    #[serde(default)]
    pub region: String,
}

impl ClusterResource for CapaAwsCluster {
    const FLAVOUR: Flavour = Flavour::Capa;
    fn region(&self) -> &str {
        &self.spec.region
    }
}
