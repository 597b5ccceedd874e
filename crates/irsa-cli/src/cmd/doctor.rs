//! Wiring for `irsa doctor` and `irsa doctor pods`: gather the inputs, call
//! [`irsa_doctor::diagnose`], print the report.
//!
//! Inputs come from files as `kubectl get … -o yaml` and `aws iam get-role` print them, or
//! live: from the cluster with `--kubeconfig` (through irsa-kube, the client the servers
//! use) and from IAM with `--aws` (through irsa-aws's read-only calls, endpoints
//! overridable so it works against `irsa local`). `--jwks URL` is fetched by the shared
//! issuer client (HTTPS only, loopback excepted). Every check itself is in the pure
//! `irsa-doctor` crate.

use super::unix_now;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use irsa_core::aws::{AccountId, Region, RoleArn};
use irsa_core::error::InvalidValue;
use irsa_core::issuer::{ClusterId, ClusterIssuer};
use irsa_core::mutation::{self, ServiceAccountIdentity, WebhookConfig};
use irsa_doctor::{Inputs, ProviderInfo, Report};
use irsa_issuer_client::{IssuerClient, IssuerClientConfig};
use irsa_jose::JwkSet;
use serde_json::{Value, json};

use crate::cmd::mutate::parse_untyped;
use crate::output::{CliError, EXIT_FAILURE, finish, flag_error, parse_flag, print_stdout};

/// Output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Output {
    /// PASS/WARN/FAIL lines with evidence and remedy.
    Text,
    /// The same checks as one JSON document.
    Json,
}

/// Arguments of `irsa doctor`.
#[derive(Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
#[command(after_help = "Examples:\n  \
    irsa doctor --pod pod.yaml --service-account sa.yaml --trust-policy role.json \\\n    \
    --token token --jwks keys.json --account 123456789012 --region eu-west-1 --cluster abc12 \\\n    \
    --provider-url https://s3.eu-west-1.amazonaws.com/123456789012-g8s-abc12-oidc-pod-identity \\\n    \
    --client-id sts.amazonaws.com\n  \
    AWS_ENDPOINT_URL_IAM=http://127.0.0.1:8787 irsa doctor --aws --role-arn ARN --token token \\\n    \
    --jwks http://127.0.0.1:8787/000000000000-g8s-demo-oidc-pod-identity/keys.json\n  \
    irsa doctor --kubeconfig ~/.kube/config --namespace NS --pod NAME --aws\n  \
    irsa doctor pods --kubeconfig ~/.kube/config --all-namespaces --restart")]
pub struct Args {
    #[command(subcommand)]
    pub command: Option<Sub>,
    /// The Pod: a file (`kubectl get pod -o yaml`), or with --kubeconfig its name.
    #[arg(long, value_name = "POD.yaml|NAME")]
    pub pod: Option<String>,
    /// The pod's ServiceAccount (file). Read from the cluster with --kubeconfig.
    #[arg(long, value_name = "SA.yaml")]
    pub service_account: Option<PathBuf>,
    /// The pod's Namespace: a file, or with --kubeconfig its name.
    #[arg(long, value_name = "NS.yaml|NS")]
    pub namespace: Option<String>,
    /// The role's trust policy: a bare policy document or `aws iam get-role` output.
    #[arg(long, value_name = "FILE")]
    pub trust_policy: Option<PathBuf>,
    /// The token file read from the pod.
    #[arg(long, value_name = "FILE")]
    pub token: Option<PathBuf>,
    /// The issuer's keys: a JWKS file, or a URL (keys.json or the discovery document).
    #[arg(long, value_name = "FILE_OR_URL")]
    pub jwks: Option<String>,
    /// The cluster's issuer URL (instead of --account/--region/--cluster).
    #[arg(long, value_name = "URL")]
    pub issuer: Option<String>,
    /// The cluster's account (with --region and --cluster: the guide's S3 issuer).
    #[arg(long, value_name = "ACCOUNT_ID")]
    pub account: Option<String>,
    /// The cluster's region.
    #[arg(long)]
    pub region: Option<String>,
    /// The cluster ID.
    #[arg(long, value_name = "CLUSTER_ID")]
    pub cluster: Option<String>,
    /// An IAM OIDC provider registered in the role's account (repeat for several), with its
    /// client IDs after `#` when they differ per provider: `URL#sts.amazonaws.com,other`.
    #[arg(long = "provider-url", value_name = "URL[#CLIENT_ID,…]")]
    pub provider_urls: Vec<String>,
    /// A client ID (audience) of the --provider-url providers (repeat for several; a
    /// provider's own `#…` list wins). Without either, the webhook's audience is assumed,
    /// so a token with any other `aud` gets STS's "Incorrect token audience".
    #[arg(long = "client-id", value_name = "ID")]
    pub client_ids: Vec<String>,
    /// The role ARN to check (default: the ServiceAccount's annotation).
    #[arg(long, value_name = "ARN")]
    pub role_arn: Option<String>,
    /// "Now" as Unix seconds, for token expiry (default: the clock).
    #[arg(long, value_name = "UNIX")]
    pub now: Option<i64>,
    /// Output format.
    #[arg(short, long, value_enum, default_value_t = Output::Text)]
    pub output: Output,
    /// Read the pod, its ServiceAccount and Namespace from this cluster.
    #[arg(long, value_name = "FILE")]
    pub kubeconfig: Option<PathBuf>,
    /// Read the role and the account's OIDC providers with their client IDs from IAM (the
    /// AWS SDK's credential chain; `AWS_ENDPOINT_URL_IAM` or --iam-endpoint-url to point it
    /// at `irsa local`).
    #[arg(long)]
    pub aws: bool,
    /// IAM endpoint for --aws (e.g. `irsa local`'s http://127.0.0.1:8787).
    #[arg(long, value_name = "URL")]
    pub iam_endpoint_url: Option<String>,
    /// STS endpoint for --aws.
    #[arg(long, value_name = "URL")]
    pub sts_endpoint_url: Option<String>,
    /// PEM bundle of CAs for --jwks URL (replaces the system roots).
    #[arg(long, value_name = "FILE")]
    pub ca_file: Option<PathBuf>,
    /// The webhook's --annotation-prefix.
    #[arg(long, default_value = mutation::DEFAULT_ANNOTATION_PREFIX)]
    pub annotation_prefix: String,
    /// The webhook's --token-audience.
    #[arg(long, default_value = mutation::DEFAULT_TOKEN_AUDIENCE)]
    pub token_audience: String,
}

/// `irsa doctor pods`.
#[derive(Debug, clap::Subcommand)]
pub enum Sub {
    /// List pods whose ServiceAccount has a role but that lack the injected variables
    /// (admitted before the webhook or the annotation); --restart rolls their owners.
    Pods(PodsArgs),
}

/// Arguments of `irsa doctor pods`.
#[derive(Debug, clap::Args)]
pub struct PodsArgs {
    /// The cluster.
    #[arg(long, value_name = "FILE")]
    pub kubeconfig: Option<PathBuf>,
    /// Only this namespace (default: `default`).
    #[arg(long, conflicts_with = "all_namespaces")]
    pub namespace: Option<String>,
    /// Every namespace.
    #[arg(long, short = 'A')]
    pub all_namespaces: bool,
    /// Roll the owners (`kubectl rollout restart` of Deployments, StatefulSets and
    /// DaemonSets); other pods are listed, never deleted.
    #[arg(long)]
    pub restart: bool,
    /// Output format.
    #[arg(short, long, value_enum, default_value_t = Output::Text)]
    pub output: Output,
    /// The webhook's --annotation-prefix.
    #[arg(long, default_value = mutation::DEFAULT_ANNOTATION_PREFIX)]
    pub annotation_prefix: String,
}

fn usage(message: impl Into<String>) -> CliError {
    CliError::usage(message)
}

fn failure(message: impl Into<String>) -> CliError {
    CliError::failure(message)
}

/// Runs `irsa doctor`.
pub fn run(args: Args) -> ExitCode {
    let result = match &args.command {
        Some(Sub::Pods(pods)) => run_pods(pods).map_err(|f| (f, "irsa doctor pods")),
        None => run_doctor(&args).map_err(|f| (f, "irsa doctor")),
    };
    match result {
        Ok(code) => code,
        Err((e, prefix)) => finish::<()>(Err(e.prefixed(prefix))),
    }
}

fn runtime() -> Result<tokio::runtime::Runtime, CliError> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| failure(format!("runtime: {e}")))
}

fn read_text(path: &Path, what: &str) -> Result<String, CliError> {
    std::fs::read_to_string(path)
        .map_err(|e| usage(format!("cannot read {what} {}: {e}", path.display())))
}

/// A manifest file as an untyped object; its `kind`, when present, must be `kind`.
fn read_object(path: &Path, flag_name: &str, kind: &str) -> Result<Value, CliError> {
    let text = read_text(path, flag_name)?;
    let value = parse_untyped(&text).map_err(|e| {
        usage(format!(
            "{flag_name} {}: not valid YAML or JSON: {e}",
            path.display()
        ))
    })?;
    if !value.is_object() {
        return Err(usage(format!(
            "{flag_name} {}: must hold one {kind} object",
            path.display()
        )));
    }
    match value.get("kind").and_then(Value::as_str) {
        Some(k) if k != kind => Err(usage(format!(
            "{flag_name} {}: is a {k}, expected a {kind}",
            path.display()
        ))),
        _ => Ok(value),
    }
}

/// A trust policy file: a bare document, or `aws iam get-role` output (then also the ARN).
fn read_trust_policy(path: &Path) -> Result<(String, Option<String>), CliError> {
    let text = read_text(path, "--trust-policy")?;
    let value = parse_untyped(&text).map_err(|e| {
        usage(format!(
            "--trust-policy {}: not valid JSON or YAML: {e}",
            path.display()
        ))
    })?;
    let role = value.get("Role").unwrap_or(&value);
    let arn = role.get("Arn").and_then(Value::as_str).map(str::to_owned);
    let document = match role.get("AssumeRolePolicyDocument") {
        Some(Value::String(s)) => s.clone(),
        Some(doc) => serde_json::to_string(doc).map_err(|e| failure(e.to_string()))?,
        None if value.get("Statement").is_some() => text,
        None => {
            return Err(usage(format!(
                "--trust-policy {}: neither a policy document (no Statement) nor `aws iam get-role` output (no Role.AssumeRolePolicyDocument)",
                path.display()
            )));
        }
    };
    Ok((document, arn))
}

fn parse_issuer(url: &str, region: Option<&Region>) -> Result<ClusterIssuer, InvalidValue> {
    ClusterIssuer::from_url(url, region.map(Region::partition))
        .or_else(|e| ClusterIssuer::parse_local(url).map_err(|_| e))
}

fn kube_settings(kubeconfig: &Path) -> irsa_kube::KubeSettings {
    irsa_kube::KubeSettings {
        kubeconfig: Some(kubeconfig.to_path_buf()),
        ..irsa_kube::KubeSettings::default()
    }
}

fn to_value<T: serde::Serialize>(object: &T) -> Result<Value, CliError> {
    serde_json::to_value(object).map_err(|e| failure(e.to_string()))
}

fn run_doctor(args: &Args) -> Result<ExitCode, CliError> {
    let region = parse_flag("--region", args.region.as_deref(), Region::parse)?;
    let account = parse_flag("--account", args.account.as_deref(), AccountId::parse)?;
    let cluster = parse_flag("--cluster", args.cluster.as_deref(), ClusterId::parse)?;
    let issuer = match (&args.issuer, &account, &region, &cluster) {
        (Some(url), ..) => {
            Some(parse_issuer(url, region.as_ref()).map_err(flag_error("--issuer"))?)
        }
        (None, Some(a), Some(r), Some(c)) => Some(ClusterIssuer::s3(a, r, c)),
        (None, None, None, None) | (None, _, _, None) => None,
        (None, ..) => {
            return Err(usage(
                "--cluster needs --account and --region to derive the issuer (or give --issuer)",
            ));
        }
    };
    if let Some(arn) = &args.role_arn {
        RoleArn::parse(arn).map_err(flag_error("--role-arn"))?;
    }
    let webhook = WebhookConfig {
        annotation_prefix: args.annotation_prefix.clone(),
        token_audience: args.token_audience.clone(),
        ..WebhookConfig::default()
    };
    let mut inputs = Inputs {
        role_arn: args.role_arn.clone(),
        issuer,
        account,
        region: region.clone(),
        webhook,
        now: args.now.unwrap_or_else(unix_now),
        ..Inputs::default()
    };
    let mut notes = Vec::new();

    if let Some(path) = &args.service_account {
        inputs.service_account = Some(read_object(path, "--service-account", "ServiceAccount")?);
    }
    match &args.kubeconfig {
        Some(kubeconfig) => {
            let Some(pod_name) = &args.pod else {
                return Err(usage("--kubeconfig needs --pod NAME (and --namespace NS)"));
            };
            let ns = args
                .namespace
                .clone()
                .unwrap_or_else(|| "default".to_owned());
            let rt = runtime()?;
            let live = rt.block_on(async {
                let client = irsa_kube::client(&kube_settings(kubeconfig))
                    .await
                    .map_err(|e| usage(e.to_string()))?;
                let objects = irsa_kube::objects::Objects::new(client);
                let pod = objects
                    .pod(&ns, pod_name)
                    .await
                    .map_err(|e| failure(e.to_string()))?
                    .ok_or_else(|| failure(format!("pod {ns}/{pod_name} does not exist")))?;
                let pod = to_value(&pod)?;
                let sa_name = mutation::service_account_name(&pod).to_owned();
                let sa = objects
                    .service_account(&ns, &sa_name)
                    .await
                    .map_err(|e| failure(e.to_string()))?;
                let namespace = objects
                    .namespace(&ns)
                    .await
                    .map_err(|e| failure(e.to_string()))?;
                Ok::<_, CliError>((
                    pod,
                    sa_name,
                    sa.map(|s| to_value(&s)).transpose()?,
                    namespace.map(|n| to_value(&n)).transpose()?,
                ))
            })?;
            let (pod, sa_name, sa, namespace) = live;
            if sa.is_none() {
                notes.push(format!(
                    "ServiceAccount {ns}/{sa_name} does not exist in the cluster"
                ));
            }
            inputs.pod = Some(pod);
            if inputs.service_account.is_none() {
                inputs.service_account = sa;
            }
            inputs.namespace = namespace;
        }
        None => {
            if let Some(path) = &args.pod {
                inputs.pod = Some(read_object(Path::new(path), "--pod", "Pod")?);
            }
            if let Some(path) = &args.namespace {
                inputs.namespace = Some(read_object(Path::new(path), "--namespace", "Namespace")?);
            }
        }
    }
    if let Some(path) = &args.trust_policy {
        let (document, arn) = read_trust_policy(path)?;
        inputs.trust_policy = Some(document);
        if inputs.role_arn.is_none() {
            inputs.role_arn = arn;
        }
    }
    if let Some(path) = &args.token {
        let token = read_text(path, "--token")?;
        inputs.token = Some(token.trim_end().to_owned());
    }
    if !args.provider_urls.is_empty() {
        inputs.providers = Some(
            args.provider_urls
                .iter()
                .map(|flag| provider_flag(flag, &args.client_ids))
                .collect::<Result<_, _>>()?,
        );
    } else if !args.client_ids.is_empty() {
        return Err(usage(
            "--client-id names the client IDs of the --provider-url providers: give --provider-url (with --aws they are read from IAM)",
        ));
    }
    if let Some(jwks) = &args.jwks {
        inputs.jwks = Some(read_jwks(jwks, args, &inputs)?);
    }
    if args.aws {
        read_aws(args, region.as_ref(), &mut inputs)?;
    }

    let report = irsa_doctor::diagnose(&inputs);
    for note in &notes {
        let _ = std::io::Write::write_all(
            &mut std::io::stderr().lock(),
            format!("irsa doctor: {note}\n").as_bytes(),
        );
    }
    print_report(&report, args.output)
}

fn print_report(report: &Report, output: Output) -> Result<ExitCode, CliError> {
    let text = match output {
        Output::Text => report.to_text(),
        Output::Json => {
            serde_json::to_string_pretty(&report.to_json()).map_err(|e| failure(e.to_string()))?
        }
    };
    let printed = print_stdout(&text);
    if printed != ExitCode::SUCCESS {
        return Ok(printed);
    }
    Ok(if report.failed() {
        ExitCode::from(EXIT_FAILURE)
    } else {
        ExitCode::SUCCESS
    })
}

/// IAM's limit on one client ID's length (`CreateOpenIDConnectProvider`'s `ClientIDList`).
const MAX_CLIENT_ID_LEN: usize = 255;

/// `--provider-url URL[#ID,…]`: the provider's URL and client IDs, the `#` list, else
/// every `--client-id`, else none (unknown: the decision assumes the webhook's audience).
fn provider_flag(flag: &str, client_ids: &[String]) -> Result<ProviderInfo, CliError> {
    let (url, inline) = match flag.split_once('#') {
        Some((url, list)) => (url, Some(list)),
        None => (flag, None),
    };
    if url.is_empty() {
        return Err(usage(format!("--provider-url {flag:?}: the URL is empty")));
    }
    let ids: Vec<String> = match inline {
        Some(list) => list.split(',').map(str::to_owned).collect(),
        None => client_ids.to_vec(),
    };
    for id in &ids {
        if id.is_empty() || id.len() > MAX_CLIENT_ID_LEN {
            return Err(usage(format!(
                "--provider-url {flag:?} / --client-id: a client ID is 1 to {MAX_CLIENT_ID_LEN} characters, got {id:?}"
            )));
        }
    }
    Ok(ProviderInfo {
        url: url.to_owned(),
        client_ids: ids,
    })
}

/// `--jwks FILE_OR_URL`: a URL goes through the shared issuer client.
fn read_jwks(source: &str, args: &Args, inputs: &Inputs) -> Result<JwkSet, CliError> {
    if source.starts_with("https://") || source.starts_with("http://") {
        let expected = inputs
            .issuer
            .as_ref()
            .map(|i| i.url().to_owned())
            .or_else(|| {
                inputs
                    .token
                    .as_deref()
                    .and_then(|t| irsa_jose::verify::decode_unverified(t).ok())
                    .and_then(|u| u.issuer().map(str::to_owned))
            })
            .unwrap_or_default();
        let config = IssuerClientConfig {
            ca_file: args.ca_file.clone(),
            ..IssuerClientConfig::default()
        };
        let rt = runtime()?;
        return rt
            .block_on(async { IssuerClient::new(&config)?.jwks_at(source, &expected).await })
            .map_err(|e| {
                let message = format!("--jwks: {e}");
                if e.is_input_error() {
                    usage(message)
                } else {
                    failure(message)
                }
            });
    }
    let bytes =
        std::fs::read(source).map_err(|e| usage(format!("cannot read --jwks {source}: {e}")))?;
    JwkSet::parse(&bytes).map_err(|e| usage(format!("--jwks {source}: {e}")))
}

/// `--aws`: the role's trust policy (GetRole) and the account's OIDC providers.
fn read_aws(args: &Args, region: Option<&Region>, inputs: &mut Inputs) -> Result<(), CliError> {
    let role = inputs
        .role_arn
        .clone()
        .or_else(|| {
            let sa = inputs.service_account.as_ref()?;
            ServiceAccountIdentity::from_annotations(
                &inputs.webhook.annotation_prefix,
                &irsa_doctor::annotations(sa),
            )
            .role_arn
        })
        .and_then(|r| RoleArn::parse(&r).ok());
    let region = match region {
        Some(r) => r.clone(),
        None => {
            Region::parse(&std::env::var("AWS_REGION").unwrap_or_else(|_| "us-east-1".to_owned()))
                .map_err(flag_error("AWS_REGION"))?
        }
    };
    let mut settings = irsa_aws::AwsSettings::new(region);
    settings.iam_endpoint_url = args.iam_endpoint_url.clone();
    settings.sts_endpoint_url = args.sts_endpoint_url.clone();
    settings.max_attempts = 2;
    let rt = runtime()?;
    let (role_info, providers) = rt.block_on(async {
        let clients = irsa_aws::Clients::from_env(settings).await;
        let role_info = match &role {
            Some(r) if inputs.trust_policy.is_none() => Some(
                clients
                    .get_role(r.name().as_str())
                    .await
                    .map_err(|e| failure(format!("--aws: GetRole {}: {e}", r.name())))?,
            ),
            _ => None,
        };
        let providers = clients
            .list_oidc_providers()
            .await
            .map_err(|e| failure(format!("--aws: ListOpenIDConnectProviders: {e}")))?;
        Ok::<_, CliError>((role_info, providers))
    })?;
    match (role_info, &role) {
        (Some(Some(info)), _) => {
            inputs.trust_policy = Some(info.assume_role_policy_document);
            if inputs.role_arn.is_none() {
                inputs.role_arn = Some(info.arn);
            }
        }
        (Some(None), Some(_)) => inputs.role_missing = true,
        _ => {}
    }
    let mut list: Vec<ProviderInfo> = inputs.providers.take().unwrap_or_default();
    list.extend(providers.into_iter().map(|p| ProviderInfo {
        url: p.url,
        client_ids: p.client_ids,
    }));
    inputs.providers = Some(list);
    Ok(())
}

/// A pod that should have the injection and does not.
struct Stale {
    namespace: String,
    pod: String,
    service_account: String,
    owner: irsa_doctor::Owner,
    missing: Vec<String>,
}

fn run_pods(args: &PodsArgs) -> Result<ExitCode, CliError> {
    let Some(kubeconfig) = &args.kubeconfig else {
        return Err(usage("--kubeconfig is required"));
    };
    let namespace = if args.all_namespaces {
        None
    } else {
        Some(
            args.namespace
                .clone()
                .unwrap_or_else(|| "default".to_owned()),
        )
    };
    let config = WebhookConfig {
        annotation_prefix: args.annotation_prefix.clone(),
        ..WebhookConfig::default()
    };
    let rt = runtime()?;
    let (stale, restarted) = rt.block_on(async {
        let client = irsa_kube::client(&kube_settings(kubeconfig))
            .await
            .map_err(|e| usage(e.to_string()))?;
        let objects = irsa_kube::objects::Objects::new(client.clone());
        let pods = objects
            .pods(namespace.as_deref(), None)
            .await
            .map_err(|e| failure(e.to_string()))?;
        let mut identities: BTreeMap<(String, String), Option<ServiceAccountIdentity>> =
            BTreeMap::new();
        let mut stale = Vec::new();
        for pod in pods {
            let pod = to_value(&pod)?;
            let phase = pod.pointer("/status/phase").and_then(Value::as_str);
            if matches!(phase, Some("Succeeded" | "Failed")) {
                continue;
            }
            let ns = mutation::pod_namespace(&pod, None).to_owned();
            let sa = mutation::service_account_name(&pod).to_owned();
            let key = (ns.clone(), sa.clone());
            if !identities.contains_key(&key) {
                let object = objects
                    .service_account(&ns, &sa)
                    .await
                    .map_err(|e| failure(e.to_string()))?;
                let identity = object.map(|o| {
                    let v = serde_json::to_value(&o).unwrap_or(Value::Null);
                    ServiceAccountIdentity::from_annotations(
                        &config.annotation_prefix,
                        &irsa_doctor::annotations(&v),
                    )
                });
                identities.insert(key.clone(), identity);
            }
            let Some(Some(identity)) = identities.get(&key) else {
                continue;
            };
            if !identity.has_role() {
                continue;
            }
            let Ok(missing) = irsa_doctor::missing_injection(&pod, identity, &config) else {
                continue;
            };
            if missing.credentials.is_empty() {
                continue;
            }
            stale.push(Stale {
                namespace: ns,
                pod: pod
                    .pointer("/metadata/name")
                    .and_then(Value::as_str)
                    .unwrap_or("?")
                    .to_owned(),
                service_account: sa,
                owner: irsa_doctor::owner(&pod),
                missing: missing.credentials,
            });
        }
        let mut restarted = Vec::new();
        if args.restart {
            for s in &stale {
                let key = format!("{} {}/{}", s.owner.kind, s.namespace, s.owner.name);
                if s.owner.can_roll() && !restarted.contains(&key) {
                    restart(&client, &s.namespace, &s.owner)
                        .await
                        .map_err(|e| failure(format!("cannot restart {key}: {e}")))?;
                    restarted.push(key);
                }
            }
        }
        Ok::<_, CliError>((stale, restarted))
    })?;

    let unresolved = stale
        .iter()
        .filter(|s| !(args.restart && s.owner.can_roll()))
        .count();
    let text = match args.output {
        Output::Json => serde_json::to_string_pretty(&json!({
            "pods": stale.iter().map(|s| json!({
                "namespace": s.namespace,
                "name": s.pod,
                "serviceAccount": s.service_account,
                "owner": {"kind": s.owner.kind, "name": s.owner.name},
                "missing": s.missing,
                "restarted": args.restart && s.owner.can_roll(),
            })).collect::<Vec<_>>(),
            "restarted": restarted,
        }))
        .map_err(|e| failure(e.to_string()))?,
        Output::Text => {
            let mut lines: Vec<String> = stale
                .iter()
                .map(|s| {
                    let action = match (args.restart, s.owner.can_roll()) {
                        (true, true) => "restarted",
                        (_, true) => "needs a restart",
                        (_, false) => "not restarted (recreate it yourself)",
                    };
                    format!(
                        "{}/{} ServiceAccount {} owner {} {}: {action}; missing {}",
                        s.namespace,
                        s.pod,
                        s.service_account,
                        s.owner.kind,
                        s.owner.name,
                        s.missing.join(", ")
                    )
                })
                .collect();
            lines.push(format!(
                "{} pod(s) without the injection, {} owner(s) restarted",
                stale.len(),
                restarted.len()
            ));
            lines.join("\n")
        }
    };
    let printed = print_stdout(&text);
    if printed != ExitCode::SUCCESS {
        return Ok(printed);
    }
    Ok(if unresolved > 0 {
        ExitCode::from(EXIT_FAILURE)
    } else {
        ExitCode::SUCCESS
    })
}

/// `kubectl rollout restart`: a pod-template annotation with the time of the restart.
async fn restart(
    client: &kube::Client,
    namespace: &str,
    owner: &irsa_doctor::Owner,
) -> Result<(), kube::Error> {
    use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, StatefulSet};
    use kube::api::{Api, Patch, PatchParams};
    let patch = json!({"spec": {"template": {"metadata": {"annotations": {
        "kubectl.kubernetes.io/restartedAt": jiff::Timestamp::now().to_string()
    }}}}});
    let params = PatchParams::default();
    let patch = Patch::Merge(&patch);
    match owner.kind.as_str() {
        "Deployment" => {
            Api::<Deployment>::namespaced(client.clone(), namespace)
                .patch(&owner.name, &params, &patch)
                .await?;
        }
        "StatefulSet" => {
            Api::<StatefulSet>::namespaced(client.clone(), namespace)
                .patch(&owner.name, &params, &patch)
                .await?;
        }
        "DaemonSet" => {
            Api::<DaemonSet>::namespaced(client.clone(), namespace)
                .patch(&owner.name, &params, &patch)
                .await?;
        }
        _ => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(flag: &str, client_ids: &[&str]) -> Result<Vec<String>, String> {
        let owned: Vec<String> = client_ids.iter().map(|s| (*s).to_owned()).collect();
        provider_flag(flag, &owned)
            .map(|p| p.client_ids)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn provider_client_ids_come_from_the_fragment_then_the_flag() {
        assert_eq!(
            ids("https://issuer.example/x#a,b", &["c"]),
            Ok(vec!["a".to_owned(), "b".to_owned()])
        );
        assert_eq!(
            ids("https://issuer.example/x", &["c"]),
            Ok(vec!["c".to_owned()])
        );
        assert_eq!(ids("https://issuer.example/x", &[]), Ok(Vec::new()));
        let url = provider_flag("https://issuer.example/x#a", &[]).map(|p| p.url);
        assert_eq!(url.ok().as_deref(), Some("https://issuer.example/x"));
    }

    #[test]
    fn empty_or_oversized_client_ids_are_usage_errors() {
        for bad in [
            "https://issuer.example/x#".to_owned(),
            "https://issuer.example/x#a,,b".to_owned(),
            format!("https://issuer.example/x#{}", "a".repeat(256)),
            "#a".to_owned(),
        ] {
            let err = ids(&bad, &[]).expect_err(&bad);
            assert!(err.contains("--provider-url"), "{err}");
        }
    }
}
