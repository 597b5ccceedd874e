//! `irsa`: one binary for every part of IAM roles for service accounts on self-managed
//! Kubernetes clusters. This file only parses arguments and dispatches; every command's
//! logic lives in a library crate, and its wiring in `cmd/<command>.rs`.

use std::process::ExitCode;

use clap::{CommandFactory as _, Parser, Subcommand};

/// The process allocator. The servers allocate and free many small objects per request
/// (JSON values, headers, TLS records); with mimalloc the webhook spends about 40 % less CPU
/// per admission and the STS about 15 % less per call than with glibc's malloc (measured side
/// by side, docs/benchmarks.md). Built with `no_thp` so that its arenas are not backed by
/// transparent huge pages, which would multiply the resident memory of a small server.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod cmd;
mod output;
mod progress;

/// IAM roles for service accounts (IRSA) for Kubernetes clusters on AWS that are not EKS.
// The version is the crate's and the git revision the binary was built from (build.rs).
#[derive(Debug, Parser)]
#[command(name = "irsa", version = env!("IRSA_VERSION"), propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Print an IAM role trust policy that lets service accounts of a cluster assume the role.
    TrustPolicy(cmd::trust_policy::Args),
    /// Cluster OIDC issuer documents: signing keys, discovery, JWKS, thumbprints, apiserver flags.
    #[command(subcommand)]
    Oidc(cmd::oidc::Command),
    /// Mint or verify service-account tokens.
    #[command(subcommand)]
    Token(cmd::token::Command),
    /// Run the whole IRSA chain on this machine: issuer, IAM and a strict STS.
    Local(cmd::local::Args),
    /// Show the JSON Patch the webhook would apply to a pod, offline.
    Mutate(cmd::mutate::Args),
    /// Run the pod identity mutating admission webhook.
    Webhook(Box<cmd::webhook::Args>),
    /// Run the controller that gives every opted-in AWSCluster its OIDC issuer in AWS.
    Operator(Box<cmd::operator::Args>),
    /// Explain why a pod does not get its IAM role (PASS/WARN/FAIL with evidence and remedy).
    Doctor(Box<cmd::doctor::Args>),
    /// Publish a cluster's OIDC issuer in S3 and create its IAM OIDC provider (idempotent).
    Provision(Box<cmd::provision::ProvisionArgs>),
    /// Remove what `irsa provision` created for a cluster (only resources tagged as its).
    Deprovision(Box<cmd::provision::DeprovisionArgs>),
    /// Migrate manifests to IRSA from other credential systems (kiam), and back.
    #[command(subcommand)]
    Migrate(cmd::migrate::Command),
    /// Print a shell completion script (bash, zsh, fish, powershell).
    Completions(cmd::shell::CompletionsArgs),
    /// Write man pages for irsa and every subcommand into a directory.
    Man(cmd::shell::ManArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::TrustPolicy(args) => cmd::trust_policy::run(args),
        Command::Oidc(command) => cmd::oidc::run(command),
        Command::Token(command) => cmd::token::run(command),
        Command::Local(args) => cmd::local::run(args),
        Command::Mutate(args) => cmd::mutate::run(args),
        Command::Webhook(args) => cmd::webhook::run(*args),
        Command::Operator(args) => cmd::operator::run(*args),
        Command::Provision(args) => cmd::provision::run_provision(*args),
        Command::Deprovision(args) => cmd::provision::run_deprovision(*args),
        Command::Migrate(command) => cmd::migrate::run(command),
        Command::Doctor(args) => cmd::doctor::run(*args),
        Command::Completions(args) => cmd::shell::completions(&args, Cli::command()),
        Command::Man(args) => cmd::shell::man(&args, Cli::command()),
    }
}
