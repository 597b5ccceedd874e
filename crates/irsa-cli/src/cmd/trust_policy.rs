//! Wiring for `irsa trust-policy`: flags → [`irsa_core::trust_policy::TrustPolicyRequest`].
//!
//! Flags are taken as plain strings and validated by irsa-core here, not by clap value
//! parsers, so that a bad value gives exactly one line naming the flag and the rule
//! (`--account must be 12 digits, got '1234'`) and exits 2, like clap's own usage errors.

use std::process::ExitCode;

use irsa_core::aws::{AccountId, Region};
use irsa_core::issuer::{ClusterId, ClusterIssuer};
use irsa_core::k8s::SubjectPattern;
use irsa_core::trust_policy::{Audience, TrustPolicyError, TrustPolicyRequest};

use crate::output::{CliError, finish, flag_error, parse_flag};

/// Arguments of `irsa trust-policy`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Example:\n  irsa trust-policy --account 123456789012 --region eu-west-1 \
     --cluster abc12 --namespace default --service-account s3-access"
)]
pub struct Args {
    /// AWS account ID the cluster runs in (12 digits); also the provider's account unless
    /// --role-account is given.
    #[arg(long, value_name = "ACCOUNT_ID")]
    pub account: String,
    /// AWS region the cluster (and its issuer bucket) is in, e.g. eu-west-1 or cn-north-1.
    /// Optional with --issuer, where it only selects the partition.
    #[arg(long, required_unless_present = "issuer")]
    pub region: Option<String>,
    /// Cluster ID, as in the bucket ACCOUNT-g8s-CLUSTER-oidc-pod-identity.
    #[arg(long, value_name = "CLUSTER_ID", required_unless_present = "issuer")]
    pub cluster: Option<String>,
    /// Kubernetes namespace of the service account(s); '*' and '?' are wildcards.
    #[arg(long)]
    pub namespace: String,
    /// Service account name; repeat for several. '*' and '?' are wildcards (StringLike).
    #[arg(long = "service-account", value_name = "NAME", required = true)]
    pub service_accounts: Vec<String>,
    /// Account the role lives in, for cross-account roles (the OIDC provider must be
    /// registered there too). Default: --account.
    #[arg(long, value_name = "ACCOUNT_ID")]
    pub role_account: Option<String>,
    /// Explicit issuer URL (CloudFront or a custom domain) instead of the S3 issuer:
    /// https://, no port, query, fragment or trailing slash.
    #[arg(long, value_name = "URL")]
    pub issuer: Option<String>,
    /// Token audience required by the :aud condition (default: the partition's,
    /// sts.amazonaws.com, or sts.amazonaws.com.cn in China).
    #[arg(long)]
    pub audience: Option<String>,
    /// Print the policy on one line instead of indented.
    #[arg(long)]
    pub compact: bool,
}

/// Runs the command.
pub fn run(args: Args) -> ExitCode {
    finish(execute(&args))
}

fn execute(args: &Args) -> Result<String, CliError> {
    match request(args)?.build() {
        Ok(policy) if args.compact => Ok(policy.to_json_compact().to_owned()),
        Ok(policy) => Ok(policy.to_json_pretty().to_owned()),
        Err(e @ TrustPolicyError::TooLarge { .. }) => Err(CliError::failure(e.to_string())),
        Err(e) => Err(CliError::failure(format!("irsa trust-policy: {e}"))),
    }
}

/// Validates every flag, naming the flag in the error.
fn request(args: &Args) -> Result<TrustPolicyRequest, CliError> {
    let account = AccountId::parse(&args.account).map_err(flag_error("--account"))?;
    let region = parse_flag("--region", args.region.as_deref(), Region::parse)?;
    let cluster = parse_flag("--cluster", args.cluster.as_deref(), ClusterId::parse)?;
    let role_account = parse_flag(
        "--role-account",
        args.role_account.as_deref(),
        AccountId::parse,
    )?
    .unwrap_or_else(|| account.clone());
    let audience = parse_flag("--audience", args.audience.as_deref(), Audience::parse)?;

    let issuer = match (&args.issuer, &region, &cluster) {
        (Some(url), region, _) => {
            ClusterIssuer::from_url(url, region.as_ref().map(Region::partition))
                .map_err(flag_error("--issuer"))?
        }
        (None, Some(region), Some(cluster)) => ClusterIssuer::s3(&account, region, cluster),
        // clap already requires --region and --cluster without --issuer.
        (None, None, _) => return Err(missing("--region")),
        (None, _, None) => return Err(missing("--cluster")),
    };

    let mut subjects = Vec::with_capacity(args.service_accounts.len());
    for sa in &args.service_accounts {
        let subject = SubjectPattern::new(&args.namespace, sa).map_err(|e| {
            // The pattern's own label is "namespace" or "service account"; name the flag.
            let name = if e.input == "namespace" {
                "--namespace"
            } else {
                "--service-account"
            };
            flag_error(name)(e)
        })?;
        subjects.push(subject);
    }

    Ok(TrustPolicyRequest {
        audience: audience.unwrap_or_else(|| issuer.default_audience()),
        issuer,
        role_account,
        subjects,
    })
}

fn missing(flag: &str) -> CliError {
    CliError::usage(format!("{flag} is required unless --issuer is given"))
}
