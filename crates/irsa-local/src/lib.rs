//! `irsa local`: the whole IRSA chain on one machine.
//!
//! One HTTP server hosts, for any number of local clusters, what AWS and a cluster host
//! between them: the cluster's OIDC issuer (signing key, discovery document, JWKS, token
//! minting), IAM (OpenID Connect providers and roles, with AWS's validation rules) and a
//! strict STS (`AssumeRoleWithWebIdentity` that verifies the token and evaluates the trust
//! policy, and SigV4-verified `GetCallerIdentity`). Real clients (AWS CLI, boto3,
//! aws-sdk-rust) talk to it unmodified through `AWS_ENDPOINT_URL_STS`/`_IAM`.
//!
//! - [`server`]: router, documents and the private token endpoint.
//! - [`query`]: a parsed AWS Query request (parameters, lists, the raw parts for SigV4).
//! - [`state`]: what handlers share, and SigV4 authentication of callers.
//! - [`store`]: durable state in redb (write acknowledged only once durable); STS sessions
//!   are not stored but sealed into their tokens ([`session_seal`]).
//! - [`iam`]: the IAM actions (dispatch, then `providers`, `roles`, and IAM's entity rules
//!   in `validate`).
//! - [`sts`]: the STS actions; keys of issuers hosted elsewhere come from
//!   [`irsa_issuer_client`], the one client for remote issuers.
//! - [`sigv4`]: server-side SigV4 verification; [`session_seal`]: self-contained STS
//!   session credentials.
//! - [`clusters`]: local clusters (issuers with keys).
//! - [`config`]: the YAML config ([`config::schema`]), its desired state ([`config::plan`],
//!   computed by [`irsa_provision`], the planner `irsa provision` uses), applying it to the
//!   store ([`config::apply`]) and the demo default ([`config::bootstrap`]).
//! - [`validation`]: AWS's member constraints (lengths, patterns) and the one
//!   `ValidationError` collector, for IAM, STS and the config loader.
//! - [`xml`]: Query-protocol envelopes and errors; only well-formed XML leaves it.
//! - [`client`], [`exec`]: the `irsa local token` / `irsa local exec` side.

pub mod client;
pub mod clusters;
pub mod config;
pub mod exec;
pub mod iam;
pub mod ids;
pub mod query;
pub mod server;
pub mod session_seal;
pub mod sigv4;
pub mod state;
pub mod store;
pub mod sts;
pub mod validation;
pub mod xml;
