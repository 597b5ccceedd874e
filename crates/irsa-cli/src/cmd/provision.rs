//! Wiring for `irsa provision` and `irsa deprovision`: flags to the engine's inputs, the
//! key directory, the thumbprint, and the output. The planner is `irsa-provision`, the AWS
//! calls are `irsa-aws`.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use irsa_aws::{AwsSettings, Clients, Engine, EngineError, KeyDir, Report, RunOptions};
use irsa_core::aws::{AccountId, Partition, Region};
use irsa_core::issuer::{ClusterId, ClusterIssuer};
use irsa_jose::apiserver::{ApiserverFlagsInput, apiserver_flags};
use irsa_provision::plan::Outcome;
use irsa_provision::{ClusterSpec, Desired, Options, StepPlan, Tag};
use serde_json::json;

use irsa_runtime::progress::Progress as _;

use crate::output::{CliError, finish};
use crate::progress::Bar;

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    /// Lines for people.
    Text,
    /// One JSON object on stdout.
    Json,
}

/// Endpoint overrides for S3-/IAM-/STS-compatible servers (moto, `irsa local`); the
/// operator takes the same flags.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct AwsEndpointFlags {
    /// S3 endpoint (path-style addressing is used with it).
    #[arg(long, value_name = "URL")]
    pub s3_endpoint_url: Option<String>,
    /// IAM endpoint.
    #[arg(long, value_name = "URL")]
    pub iam_endpoint_url: Option<String>,
    /// STS endpoint.
    #[arg(long, value_name = "URL")]
    pub sts_endpoint_url: Option<String>,
}

impl AwsEndpointFlags {
    /// The engine's settings for `region` with these endpoints.
    pub fn settings(&self, region: Region) -> AwsSettings {
        let mut settings = AwsSettings::new(region);
        settings.s3_endpoint_url.clone_from(&self.s3_endpoint_url);
        settings.iam_endpoint_url.clone_from(&self.iam_endpoint_url);
        settings.sts_endpoint_url.clone_from(&self.sts_endpoint_url);
        settings
    }

    /// Whether any endpoint is overridden (the issuer host is then not where the documents
    /// are served, so its thumbprint is not computed).
    pub fn any(&self) -> bool {
        self.s3_endpoint_url.is_some()
            || self.iam_endpoint_url.is_some()
            || self.sts_endpoint_url.is_some()
    }
}

/// The cluster's identity, shared by both commands.
#[derive(Debug, Clone, clap::Args)]
pub struct IdentityFlags {
    /// AWS account that owns the bucket and the provider (12 digits).
    #[arg(long, value_name = "A")]
    pub account: Option<String>,
    /// The cluster's region (the bucket's); cn-* regions use the aws-cn partition.
    #[arg(long, value_name = "R")]
    pub region: Option<String>,
    /// Cluster ID (the bucket is ACCOUNT-g8s-CLUSTER-oidc-pod-identity).
    #[arg(long, value_name = "C")]
    pub cluster: Option<String>,
    /// Issuer URL instead of the guide's S3 one (CloudFront, a custom domain).
    #[arg(long, value_name = "URL")]
    pub issuer: Option<String>,
    #[command(flatten)]
    pub endpoints: AwsEndpointFlags,
    /// Print the plan and make no mutating call.
    #[arg(long)]
    pub dry_run: bool,
    /// Output format.
    #[arg(long, value_enum, default_value = "text")]
    pub output: OutputFormat,
}

/// Arguments of `irsa provision`.
#[derive(Debug, clap::Args)]
pub struct ProvisionArgs {
    #[command(flatten)]
    pub identity: IdentityFlags,
    /// Directory of the signing key (sa.key, sa.pub, previous/); created with a new RSA
    /// 2048 key when empty. Default: irsa-keys/CLUSTER.
    #[arg(long, value_name = "DIR")]
    pub key_dir: Option<PathBuf>,
    /// The provider's thumbprint (40 hex digits); default: computed from the issuer's TLS
    /// chain, as `irsa oidc thumbprint` does.
    #[arg(long, value_name = "HEX")]
    pub thumbprint: Vec<String>,
    /// A client ID (audience) besides the partition's STS one; repeat for each.
    #[arg(long = "client-id", value_name = "ID")]
    pub client_ids: Vec<String>,
    /// A tag KEY=VALUE for the bucket and the provider; repeat for each.
    #[arg(long = "tag", value_name = "K=V")]
    pub tags: Vec<String>,
    /// Make a new signing key; both public keys are published until the old one retires.
    #[arg(long)]
    pub rotate_key: bool,
    /// Drop previous public keys rotated out longer ago than this from keys.json and the
    /// flags (Go syntax: 720h, 90m). Default: keep them.
    #[arg(long, value_name = "DURATION")]
    pub retire_keys_older_than: Option<String>,
    /// Print the least-privilege IAM policy the engine needs and exit.
    #[arg(long)]
    pub print_iam_policy: bool,
}

/// Arguments of `irsa deprovision`.
#[derive(Debug, clap::Args)]
pub struct DeprovisionArgs {
    #[command(flatten)]
    pub identity: IdentityFlags,
}

fn usage(command: &str, message: impl std::fmt::Display) -> CliError {
    CliError::usage(format!("irsa {command}: {message}"))
}

fn failure(command: &str, message: impl std::fmt::Display) -> CliError {
    CliError::failure(format!("irsa {command}: {message}"))
}

/// Runs `irsa provision`.
pub fn run_provision(args: ProvisionArgs) -> ExitCode {
    if args.print_iam_policy {
        return print_policy(&args.identity);
    }
    finish(run_async(provision(args)))
}

/// Runs `irsa deprovision`.
pub fn run_deprovision(args: DeprovisionArgs) -> ExitCode {
    finish(run_async(deprovision(args)))
}

fn run_async<F: std::future::Future<Output = Result<String, CliError>>>(
    future: F,
) -> Result<String, CliError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| failure("provision", format!("cannot start the async runtime: {e}")))?;
    runtime.block_on(future)
}

fn print_policy(identity: &IdentityFlags) -> ExitCode {
    finish(iam_policy(identity))
}

fn iam_policy(identity: &IdentityFlags) -> Result<String, CliError> {
    let account = identity
        .account
        .as_deref()
        .map(AccountId::parse)
        .transpose()
        .map_err(|e| usage("provision", e.for_input("--account")))?;
    let partition = identity
        .region
        .as_deref()
        .map(Region::parse)
        .transpose()
        .map_err(|e| usage("provision", e.for_input("--region")))?
        .map_or(Partition::Aws, |r| r.partition());
    let policy = irsa_provision::policy::iam_policy(partition, account.as_ref());
    serde_json::to_string_pretty(&policy).map_err(|e| failure("provision", e))
}

/// The validated identity.
fn spec(command: &str, identity: &IdentityFlags) -> Result<ClusterSpec, CliError> {
    let required = |v: &Option<String>, flag: &str| {
        v.clone()
            .ok_or_else(|| usage(command, format!("{flag} is required")))
    };
    let account = AccountId::parse(&required(&identity.account, "--account")?)
        .map_err(|e| usage(command, e.for_input("--account")))?;
    let region = Region::parse(&required(&identity.region, "--region")?)
        .map_err(|e| usage(command, e.for_input("--region")))?;
    let cluster = ClusterId::parse(&required(&identity.cluster, "--cluster")?)
        .map_err(|e| usage(command, e.for_input("--cluster")))?;
    let issuer = identity
        .issuer
        .as_deref()
        .map(|url| ClusterIssuer::from_url(url, Some(region.partition())))
        .transpose()
        .map_err(|e| usage(command, e.for_input("--issuer")))?;
    ClusterSpec::new(account, region, cluster, issuer).map_err(|e| usage(command, e))
}

fn stderr_line(line: &str) {
    let _ = writeln!(std::io::stderr().lock(), "{line}");
}

/// The per-step callback of a pass: each step's line on stderr, and the step counted on the
/// progress spinner (drawn only on a terminal), which `what` names.
fn progress(dry_run: bool, bar: &Bar, what: String) -> impl FnMut(&StepPlan) + Send + use<> {
    let bar = bar.clone();
    bar.start(&what, None);
    move |step: &StepPlan| {
        if dry_run && step.outcome != Outcome::UpToDate && step.outcome != Outcome::Absent {
            bar.line(&format!(
                "{} (dry run: would be {})",
                step.progress_line(),
                step.outcome.as_str()
            ));
        } else {
            bar.line(&step.progress_line());
        }
        bar.advance(1);
    }
}

fn aws_failure(command: &str, e: &EngineError) -> CliError {
    failure(command, e)
}

/// Which engine pass to run.
enum Pass<'a> {
    Provision(&'a Desired),
    Deprovision,
}

/// One engine pass against AWS with the progress display (a terminal only); an AWS failure
/// becomes the command's exit 1 with AWS's code.
async fn run_pass(
    command: &str,
    identity: &IdentityFlags,
    spec: &ClusterSpec,
    pass: Pass<'_>,
) -> Result<Report, CliError> {
    let clients = Clients::from_env(identity.endpoints.settings(spec.region().clone())).await;
    let engine = Engine::new(&clients);
    let bar = Bar::stderr();
    let verb = match pass {
        Pass::Provision(_) => "provisioning",
        Pass::Deprovision => "deprovisioning",
    };
    let mut on_step = progress(identity.dry_run, &bar, format!("{verb} {}", spec.cluster()));
    let options = RunOptions {
        dry_run: identity.dry_run,
    };
    let result = match pass {
        Pass::Provision(desired) => engine.provision(desired, options, &mut on_step).await,
        Pass::Deprovision => engine.deprovision(spec, options, &mut on_step).await,
    };
    bar.finish();
    result.map_err(|e| aws_failure(command, &e))
}

async fn provision(args: ProvisionArgs) -> Result<String, CliError> {
    const CMD: &str = "provision";
    let identity = &args.identity;
    let spec = spec(CMD, identity)?;
    let mut tags = Vec::new();
    for t in &args.tags {
        tags.push(Tag::parse(t).map_err(|e| usage(CMD, e))?);
    }
    let retire = args
        .retire_keys_older_than
        .as_deref()
        .map(irsa_kube::parse_go_duration)
        .transpose()
        .map_err(|e| usage(CMD, format!("--retire-keys-older-than: {e}")))?;
    let thumbprints = if args.thumbprint.is_empty() {
        computed_thumbprint(&spec, &identity.endpoints).await
    } else {
        args.thumbprint.clone()
    };
    let options = Options {
        client_ids: args.client_ids.clone(),
        thumbprints,
        tags,
    };
    // Validate every flag before touching the key directory or AWS.
    let probe_key = irsa_jose::keys::PrivateKey::generate(irsa_jose::keys::KeySpec::EcP256)
        .and_then(|k| k.public_key())
        .map_err(|e| failure(CMD, e))?;
    Desired::new(spec.clone(), &options, &[probe_key]).map_err(|e| usage(CMD, e))?;

    let key_dir = KeyDir::new(
        args.key_dir
            .clone()
            .unwrap_or_else(|| Path::new("irsa-keys").join(spec.cluster().as_str())),
    );
    let now = super::unix_now();
    let keys = key_dir
        .prepare(args.rotate_key, now, identity.dry_run)
        .map_err(|e| usage(CMD, e))?;
    let verb = match (keys.generated, keys.rotated, identity.dry_run) {
        (true, _, false) => "generated",
        (true, _, true) => "would be generated",
        (_, true, false) => "rotated",
        (_, true, true) => "would be rotated",
        _ => "loaded",
    };
    stderr_line(&format!(
        "signing key {} {verb} (kid {})",
        keys.signing_key_path.display(),
        keys.ring.current.kid()
    ));
    let published = keys.ring.published(retire, now);
    let desired = Desired::new(spec.clone(), &options, &published).map_err(|e| usage(CMD, e))?;

    let report = run_pass(CMD, identity, &spec, Pass::Provision(&desired)).await?;

    let public_paths: Vec<String> = keys
        .paths_of(&published)
        .iter()
        .map(|p| absolute(p))
        .collect();
    let flags = apiserver_flags(&ApiserverFlagsInput {
        issuer: spec.issuer().url().to_owned(),
        signing_key: absolute(&keys.signing_key_path),
        public_keys: public_paths,
        ..ApiserverFlagsInput::default()
    });
    for w in &flags.warnings {
        stderr_line(w);
    }
    let must_roll = report.documents_changed() || keys.generated || keys.rotated;
    print_calls(&report);
    let closing = closing_line(&report);
    let arn = spec.provider_arn().to_string();
    match identity.output {
        OutputFormat::Json => {
            stderr_line(&closing);
            let value = json!({
                "issuer": spec.issuer().url(),
                "providerArn": arn,
                "bucket": spec.bucket(),
                "region": spec.region(),
                "kids": desired.kids,
                "apiserverFlags": flags.flags,
                "mastersMustRoll": must_roll,
                "dryRun": report.dry_run,
                "plan": report.plan,
                "calls": calls_json(&report),
                "mutatingCalls": report.mutating_calls(),
                "readCalls": report.read_calls(),
            });
            serde_json::to_string_pretty(&value).map_err(|e| failure(CMD, e))
        }
        OutputFormat::Text => {
            let mut out = Vec::new();
            if report.dry_run {
                out.push(plan_text(&report));
            }
            out.push(format!("issuer: {}", spec.issuer().url()));
            out.push(format!("provider: {arn}"));
            out.push("kube-apiserver flags:".to_owned());
            out.extend(flags.flags.iter().cloned());
            if must_roll {
                out.push(format!(
                    "note: the issuer or keys changed{}: the control-plane (master) nodes must roll so that kube-apiserver runs with these flags and keys",
                    if report.dry_run { " (would change)" } else { "" }
                ));
            }
            out.push(closing);
            Ok(out.join("\n"))
        }
    }
}

async fn deprovision(args: DeprovisionArgs) -> Result<String, CliError> {
    const CMD: &str = "deprovision";
    let identity = &args.identity;
    let spec = spec(CMD, identity)?;
    let report = run_pass(CMD, identity, &spec, Pass::Deprovision).await?;
    print_calls(&report);
    let closing = closing_line(&report);
    match identity.output {
        OutputFormat::Json => {
            stderr_line(&closing);
            let value = json!({
                "issuer": spec.issuer().url(),
                "providerArn": spec.provider_arn().to_string(),
                "bucket": spec.bucket(),
                "dryRun": report.dry_run,
                "plan": report.plan,
                "calls": calls_json(&report),
                "mutatingCalls": report.mutating_calls(),
                "readCalls": report.read_calls(),
            });
            serde_json::to_string_pretty(&value).map_err(|e| failure(CMD, e))
        }
        OutputFormat::Text => {
            let mut out = Vec::new();
            if report.dry_run {
                out.push(plan_text(&report));
            }
            out.push(closing);
            Ok(out.join("\n"))
        }
    }
}

/// Without `--thumbprint`: the issuer's CA thumbprint, as `irsa oidc thumbprint` computes
/// it. Not attempted when endpoints are overridden (the issuer host is then not where
/// the documents are served), and a failure is a warning: IAM no longer needs a thumbprint
/// for issuers whose certificate chains to a well-known CA, which S3's does.
async fn computed_thumbprint(spec: &ClusterSpec, endpoints: &AwsEndpointFlags) -> Vec<String> {
    if endpoints.any() {
        stderr_line(
            "thumbprint: not computed (endpoints are overridden); pass --thumbprint to set one",
        );
        return Vec::new();
    }
    let config = irsa_issuer_client::IssuerClientConfig {
        timeout: Duration::from_secs(10),
        ..Default::default()
    };
    let result = match irsa_issuer_client::IssuerClient::new(&config) {
        Ok(client) => client.thumbprint(spec.issuer().url()).await,
        Err(e) => Err(e),
    };
    match result {
        Ok(t) => {
            stderr_line(&format!("thumbprint {} (CA of {})", t.sha1, t.endpoint));
            vec![t.sha1]
        }
        Err(e) => {
            stderr_line(&format!(
                "warning: thumbprint: {e}; the provider gets none (pass --thumbprint to set one)"
            ));
            Vec::new()
        }
    }
}

fn absolute(path: &Path) -> String {
    std::path::absolute(path)
        .unwrap_or_else(|_| path.to_path_buf())
        .display()
        .to_string()
}

fn calls_json(report: &Report) -> serde_json::Value {
    report
        .calls
        .iter()
        .map(|(r, n)| {
            json!({
                "service": r.service,
                "action": r.action,
                "kind": r.kind,
                "result": r.result,
                "count": n,
            })
        })
        .collect()
}

/// The calls of the pass on stderr, one line per action.
fn print_calls(report: &Report) {
    for (r, n) in &report.calls {
        let kind = match r.kind {
            irsa_aws::CallKind::Read => "read",
            irsa_aws::CallKind::Write => "write",
        };
        stderr_line(&format!(
            "calls: {}:{} {kind} {} x{n}",
            r.service, r.action, r.result
        ));
    }
}

/// `N mutating calls …`, or `0 mutating calls: up to date`.
fn closing_line(report: &Report) -> String {
    let writes = report.mutating_calls();
    let reads = report.read_calls();
    if report.dry_run {
        let planned = report.plan.actions().count();
        if planned == 0 {
            return "0 mutating calls: up to date".to_owned();
        }
        return format!("0 mutating calls (dry run): {planned} planned, {reads} reads");
    }
    if writes == 0 {
        "0 mutating calls: up to date".to_owned()
    } else {
        format!("{writes} mutating calls, {reads} reads")
    }
}

fn plan_text(report: &Report) -> String {
    let mut lines = vec!["plan (dry run, nothing changed):".to_owned()];
    for step in &report.plan.steps {
        lines.push(format!("  {}", step.progress_line()));
        for a in &step.actions {
            lines.push(format!("    {}:{} {}", a.service(), a.name(), a.describe()));
        }
    }
    lines.join("\n")
}
