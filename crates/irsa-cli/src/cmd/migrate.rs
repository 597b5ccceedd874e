//! Wiring for `irsa migrate kiam`: read the stream, call [`irsa_migrate`], write the result.
//!
//! The transform is pure and lives in `irsa-migrate`; this file reads `-f FILE` (or stdin),
//! validates the flags with irsa-core's parsers, prints the YAML on stdout and the summary
//! on stderr, and with `--trust-policies DIR` writes each role's trust policy, built by
//! the same [`TrustPolicyRequest`] as `irsa trust-policy`.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use irsa_core::aws::{AccountId, Partition, Region};
use irsa_core::error::InvalidValue;
use irsa_core::issuer::{ClusterId, ClusterIssuer};
use irsa_core::trust_policy::TrustPolicyRequest;
use irsa_migrate::{MigrateError, Options, RoleUse};

use crate::output::{CliError, finish, flag_error, parse_flag};

/// `irsa migrate …`.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Move workloads from kiam's `iam.amazonaws.com/role` pod annotation to IRSA's
    /// `eks.amazonaws.com/role-arn` ServiceAccount annotation (or back with --rollback).
    Kiam(KiamArgs),
}

/// Arguments of `irsa migrate kiam`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Example:\n  kubectl get deploy,sts,ds,cronjob,job,sa -n reporting -o yaml \\\n    \
    | irsa migrate kiam -f - --account 123456789012 > migrated.yaml\n  \
    irsa migrate kiam -f migrated.yaml --rollback > kiam.yaml"
)]
pub struct KiamArgs {
    /// Multi-document YAML (Deployments, StatefulSets, DaemonSets, Jobs, CronJobs, Pods,
    /// ServiceAccounts, Namespaces, anything else passes through); `-` reads stdin.
    #[arg(short = 'f', long = "filename", value_name = "FILE")]
    pub filename: PathBuf,
    /// Account of roles written as a name or path/name (12 digits).
    #[arg(long, value_name = "ACCOUNT_ID", required_unless_present = "rollback")]
    pub account: Option<String>,
    /// Partition of those roles: aws, aws-cn or aws-us-gov (default: --region's, else aws).
    #[arg(long)]
    pub partition: Option<String>,
    /// Appended to a workload's name to name the ServiceAccount it gets when it ran as
    /// `default`.
    #[arg(long, default_value = "", value_name = "SUFFIX")]
    pub service_account_suffix: String,
    /// Restore the kiam form of a stream this command migrated.
    #[arg(long, conflicts_with_all = ["trust_policies", "service_account_suffix"])]
    pub rollback: bool,
    /// Also write each role's trust policy to DIR/ROLE_NAME.json (needs --region and
    /// --cluster: the cluster's S3 issuer, as `irsa trust-policy`).
    #[arg(long, value_name = "DIR", requires_all = ["region", "cluster"])]
    pub trust_policies: Option<PathBuf>,
    /// Region of the cluster's issuer bucket (for --trust-policies).
    #[arg(long)]
    pub region: Option<String>,
    /// Cluster ID (for --trust-policies).
    #[arg(long, value_name = "CLUSTER_ID")]
    pub cluster: Option<String>,
}

/// Runs `irsa migrate`.
pub fn run(command: Command) -> ExitCode {
    match command {
        Command::Kiam(args) => run_kiam(&args),
    }
}

const COMMAND: &str = "irsa migrate kiam";

fn usage(message: impl std::fmt::Display) -> CliError {
    CliError::usage(format!("{COMMAND}: {message}"))
}

fn failure(message: impl std::fmt::Display) -> CliError {
    CliError::failure(format!("{COMMAND}: {message}"))
}

/// [`flag_error`] with this command's prefix.
fn flag(name: &'static str) -> impl Fn(InvalidValue) -> CliError {
    move |e| flag_error(name)(e).prefixed(COMMAND)
}

fn run_kiam(args: &KiamArgs) -> ExitCode {
    finish(execute(args))
}

fn read_input(path: &Path) -> Result<String, CliError> {
    if path == Path::new("-") {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .map_err(|e| usage(format!("cannot read stdin: {e}")))?;
        return Ok(text);
    }
    std::fs::read_to_string(path).map_err(|e| usage(format!("cannot read {}: {e}", path.display())))
}

fn execute(args: &KiamArgs) -> Result<String, CliError> {
    let region = parse_flag("--region", args.region.as_deref(), Region::parse)
        .map_err(|e| e.prefixed(COMMAND))?;
    let cluster = parse_flag("--cluster", args.cluster.as_deref(), ClusterId::parse)
        .map_err(|e| e.prefixed(COMMAND))?;
    let partition = match (&args.partition, &region) {
        (Some(p), region) => {
            let p = Partition::parse(p).map_err(flag("--partition"))?;
            if let Some(r) = region.as_ref().filter(|r| r.partition() != p) {
                return Err(usage(format!(
                    "--partition {p} does not match --region {r}, which is in {}",
                    r.partition()
                )));
            }
            p
        }
        (None, Some(r)) => r.partition(),
        (None, None) => Partition::Aws,
    };
    let input = read_input(&args.filename)?;
    let source = args.filename.display().to_string();
    let classify = |e: MigrateError| match e {
        MigrateError::Conflict { .. } => failure(format!("{source}: {e}")),
        _ => usage(format!("{source}: {e}")),
    };

    let outcome = if args.rollback {
        irsa_migrate::rollback(&input).map_err(classify)?
    } else {
        let account = args.account.as_deref().unwrap_or_default();
        let options = Options {
            account: AccountId::parse(account).map_err(flag("--account"))?,
            partition,
            service_account_suffix: args.service_account_suffix.clone(),
        };
        irsa_migrate::migrate(&input, &options).map_err(classify)?
    };

    if let (Some(dir), Some(region), Some(cluster)) = (&args.trust_policies, &region, &cluster) {
        let account = AccountId::parse(args.account.as_deref().unwrap_or_default())
            .map_err(flag("--account"))?;
        let issuer = ClusterIssuer::s3(&account, region, cluster);
        write_trust_policies(dir, &issuer, &outcome.roles)?;
    }
    let mut stderr = std::io::stderr().lock();
    for line in &outcome.summary {
        use std::io::Write;
        let _ = writeln!(stderr, "irsa migrate kiam: {line}");
    }
    Ok(outcome.yaml.trim_end().to_owned())
}

fn write_trust_policies(
    dir: &Path,
    issuer: &ClusterIssuer,
    roles: &[RoleUse],
) -> Result<(), CliError> {
    for (i, role) in roles.iter().enumerate() {
        if let Some(other) = roles[..i]
            .iter()
            .find(|r| r.role.name() == role.role.name())
        {
            return Err(usage(format!(
                "--trust-policies: {} and {} would both be written to {}.json",
                other.role,
                role.role,
                role.role.name()
            )));
        }
    }
    std::fs::create_dir_all(dir)
        .map_err(|e| failure(format!("cannot create {}: {e}", dir.display())))?;
    for role in roles {
        let request = TrustPolicyRequest::new(
            issuer.clone(),
            role.role.account().clone(),
            role.subjects.clone(),
        );
        let policy = request
            .build()
            .map_err(|e| failure(format!("trust policy of {}: {e}", role.role)))?;
        let path = dir.join(format!("{}.json", role.role.name()));
        std::fs::write(&path, format!("{}\n", policy.to_json_pretty()))
            .map_err(|e| failure(format!("cannot write {}: {e}", path.display())))?;
        let mut stderr = std::io::stderr().lock();
        use std::io::Write;
        let _ = writeln!(
            stderr,
            "irsa migrate kiam: wrote the trust policy of {} to {}",
            role.role,
            path.display()
        );
    }
    Ok(())
}
