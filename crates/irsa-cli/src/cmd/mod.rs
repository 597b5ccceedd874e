//! One module per subcommand (family); each exposes clap `Args`/`Command` and `run`.

pub mod doctor;
pub mod local;
pub mod migrate;
pub mod mutate;
pub mod mutation_flags;
pub mod oidc;
pub mod operator;
pub mod provision;
pub mod shell;
pub mod token;
pub mod trust_policy;
pub mod webhook;
