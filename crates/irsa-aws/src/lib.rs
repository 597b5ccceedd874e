//! The provisioning executor: the only crate that talks to AWS.
//!
//! `irsa-provision` decides *what* to change; this crate reads what exists, asks the
//! planner, and makes the calls, with the AWS SDK for Rust (S3, IAM, STS). Keeping the
//! SDK in one crate keeps its compile cost and its API surface out of everything else
//! (the webhook and the local emulator never link it except as a test client), and gives
//! one place for the rules every call follows:
//!
//! - credentials from the SDK's standard chain (environment, profile, web identity, ECS,
//!   IMDS), or an assumed role ([`Clients::assume_role`]);
//! - endpoint overrides per service for S3-/IAM-compatible servers (moto, `irsa local`),
//!   with path-style S3 addressing when S3 is overridden;
//! - the SDK's standard retry mode (exponential backoff with jitter) for throttling, 5xx
//!   and connection failures, and connect/attempt/operation timeouts;
//! - every call counted per pass by service, action, read or write, and result
//!   ([`calls::CallCounts`]), so "a converged pass makes zero mutating calls" can be
//!   printed by the CLI and exported as metrics by the operator;
//! - errors as one enum that names the step, the AWS action, and AWS's code and message
//!   ([`EngineError`]).
//!
//! The entry points are [`Engine::provision`] and [`Engine::deprovision`]; key material
//! comes from the caller as a [`irsa_provision::KeyRing`] (the CLI keeps it in a
//! [`keydir::KeyDir`], the operator in a Kubernetes Secret). [`read`] has the read-only
//! calls `irsa doctor --aws` needs.

pub mod calls;
pub mod clients;
pub mod engine;
pub mod error;
pub mod keydir;
mod observe;
pub mod read;

pub use calls::{CallCounts, CallKind, CallRecord};
pub use clients::{AwsSettings, Clients};
pub use engine::{Engine, Report, RunOptions};
pub use error::EngineError;
pub use keydir::{KeyDir, KeyDirError, LoadedKeys};
