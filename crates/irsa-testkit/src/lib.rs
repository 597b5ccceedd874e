//! Test support shared by the workspace's integration tests; used only as a dev-dependency.
//!
//! No kube-apiserver can run where the tests run, and mocking `kube::Client` would test the
//! mock. So the Kubernetes API is faked at the HTTP level, once, in [`FakeApi`]: the
//! operator's reconcilers, irsa-kube's typed reads and Lease election, and `irsa doctor`'s
//! live mode all talk to it through a real `kube::Client` (or a kubeconfig file naming it),
//! and see the API machinery they depend on: resourceVersions and conflicts, finalizers and
//! deletion timestamps, owner-reference garbage collection, selectors, paged lists and
//! watches.

#![forbid(unsafe_code)]

pub mod fake_api;

pub use fake_api::{FakeApi, Request};
