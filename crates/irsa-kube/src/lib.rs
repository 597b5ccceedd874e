//! Kubernetes plumbing shared by every irsa process that talks to a cluster: the webhook,
//! the operator and `irsa doctor`.
//!
//! Each of them needs the same three things, and they must behave the same way everywhere:
//!
//! - [`client`]: one way to build a [`kube::Client`] from `--kubeconfig` (else in-cluster,
//!   else `$KUBECONFIG`), with an optional API-server override and a connect timeout, and one
//!   error type that names the input that was wrong ([`KubeSettings`], [`KubeError`]);
//! - [`objects`]: typed reads of the objects a diagnosis looks at (a pod, its ServiceAccount,
//!   its Namespace, the pods of a namespace), answering `None` for "does not exist" so callers
//!   tell absence from failure;
//! - [`lease`]: leader election over a `coordination.k8s.io/v1` Lease, so several replicas of
//!   a controller can run and only one acts.
//!
//! Go-style durations (`300ms`, `1m30s`), the syntax of every Kubernetes-ecosystem flag, are
//! parsed by [`parse_go_duration`].
//!
//! Watches and caches stay with their users: what to keep from an object is the caller's
//! business (the webhook keeps a few annotations of each ServiceAccount, the operator its own
//! custom resources).

pub mod client;
pub mod duration;
pub mod lease;
pub mod objects;

pub use client::{KubeError, KubeSettings, client};
pub use duration::{DurationError, parse_go_duration};
