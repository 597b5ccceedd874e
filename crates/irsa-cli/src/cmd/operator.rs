//! Wiring for `irsa operator`: maps the flags onto [`irsa_operator::OperatorConfig`] and the
//! AWS engine's settings, builds the Kubernetes client, binds the metrics and health
//! listeners, and runs until SIGTERM or Ctrl-C (the reconciles in flight finish, then the
//! Lease is released).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use irsa_kube::lease::LeaseSettings;
use irsa_kube::{KubeSettings, parse_go_duration};
use irsa_operator::aws::{AwsEngine, AwsEngineConfig, ThumbprintSource};
use irsa_operator::config::AccountSource;
use irsa_operator::metrics::Metrics;
use irsa_operator::server::Health;
use irsa_operator::{Error, OperatorConfig};
use irsa_provision::Tag;
use tokio::sync::watch;

use crate::output::{CliError, finish};

fn duration(s: &str) -> Result<Duration, String> {
    let d = parse_go_duration(s).map_err(|e| e.to_string())?;
    if d.is_zero() {
        return Err("must be longer than 0s".into());
    }
    Ok(d)
}

fn tag(s: &str) -> Result<Tag, String> {
    Tag::parse(s).map_err(|e| e.to_string())
}

/// Arguments of `irsa operator`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Role to assume in each cluster's account, with `{account}` for the account
    /// (e.g. `arn:aws:iam::{account}:role/irsa-operator`); needs --account-from-label.
    #[arg(long, value_name = "ARN")]
    pub role_arn_template: Option<String>,
    /// Label of the AWSCluster holding its AWS account ID (with --role-arn-template).
    #[arg(long, value_name = "LABEL")]
    pub account_from_label: Option<String>,
    /// Also reconcile Cluster API's AWSCluster (infrastructure.cluster.x-k8s.io/v1beta2),
    /// using the key Cluster API keeps in the Secret CLUSTER-sa.
    #[arg(long, num_args = 0..=1, default_value_t = false, default_missing_value = "true",
          action = clap::ArgAction::Set, value_name = "BOOL")]
    pub capa: bool,
    /// How often a converged cluster is checked again for drift in AWS (Go duration).
    #[arg(long, default_value = "5m", value_parser = duration, value_name = "DURATION")]
    pub resync: Duration,
    /// Run several replicas with a coordination.k8s.io/v1 Lease; only the leader reconciles.
    #[arg(long, num_args = 0..=1, default_value_t = true, default_missing_value = "true",
          action = clap::ArgAction::Set, value_name = "BOOL")]
    pub leader_election: bool,
    /// Namespace of the Lease (default: the pod's namespace, else `default`).
    #[arg(long, value_name = "NS")]
    pub leader_election_namespace: Option<String>,
    /// Port of the Prometheus metrics listener.
    #[arg(long, default_value_t = 8080)]
    pub metrics_port: u16,
    /// Port of the /healthz and /readyz listener.
    #[arg(long, default_value_t = 8081)]
    pub health_port: u16,
    /// `--s3-endpoint-url`, `--iam-endpoint-url`, `--sts-endpoint-url` (as `irsa provision`).
    #[command(flatten)]
    pub endpoints: super::provision::AwsEndpointFlags,
    /// IAM OIDC provider thumbprint (40 hex digits); repeat for several. Default: computed
    /// from each issuer's TLS chain on every pass (not when endpoints are overridden).
    #[arg(long, value_name = "HEX")]
    pub thumbprint: Vec<String>,
    /// Tag for the bucket and the provider; repeat for several.
    #[arg(long, value_name = "K=V", value_parser = tag)]
    pub tag: Vec<Tag>,
    /// Kubeconfig for out-of-cluster use (default: in-cluster, then $KUBECONFIG).
    #[arg(long, value_name = "FILE")]
    pub kubeconfig: Option<PathBuf>,
    /// Watch only this namespace (default: all).
    #[arg(long, value_name = "NS")]
    pub namespace: Option<String>,
    /// Log as JSON lines instead of text.
    #[arg(long, default_value_t = false)]
    pub log_json: bool,
}

/// The pod name (Downward API `POD_NAME`), else the host name, plus a random suffix so two
/// processes on one host never share an identity.
fn identity() -> String {
    let base = std::env::var("POD_NAME")
        .or_else(|_| std::env::var("HOSTNAME"))
        .unwrap_or_else(|_| "irsa-operator".to_string());
    let suffix = uuid::Uuid::new_v4().simple().to_string();
    format!("{base}_{}", &suffix[..8])
}

fn lease_namespace(flag: Option<&str>) -> String {
    if let Some(ns) = flag.filter(|n| !n.is_empty()) {
        return ns.to_string();
    }
    if let Ok(ns) = std::env::var("POD_NAMESPACE") {
        return ns;
    }
    std::fs::read_to_string("/var/run/secrets/kubernetes.io/serviceaccount/namespace")
        .map(|s| s.trim().to_string())
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "default".to_string())
}

/// Maps the flags onto the operator and engine settings.
fn configure(args: &Args, identity: &str) -> Result<(OperatorConfig, AwsEngineConfig), String> {
    let mut config = OperatorConfig::new(identity);
    config.resync = args.resync;
    config.capa = args.capa;
    config.namespace = args.namespace.clone().filter(|n| !n.is_empty());
    config.accounts = AccountSource::from_flags(
        args.role_arn_template.as_deref(),
        args.account_from_label.as_deref(),
    )?;
    if args.leader_election {
        config.leader_election = Some(LeaseSettings::new(
            &lease_namespace(args.leader_election_namespace.as_deref()),
            irsa_operator::controller::CONTROLLER_NAME,
            identity,
        ));
    }
    for t in &args.thumbprint {
        irsa_provision::spec::normalize_thumbprint(t).map_err(|e| e.to_string())?;
    }
    let thumbprints = if args.thumbprint.is_empty() && args.endpoints.any() {
        ThumbprintSource::Fixed(Vec::new())
    } else if args.thumbprint.is_empty() {
        let client = irsa_issuer_client::IssuerClient::new(
            &irsa_issuer_client::IssuerClientConfig::default(),
        )
        .map_err(|e| {
            format!("--thumbprint not given and the TLS client for computing it failed: {e}")
        })?;
        ThumbprintSource::Fetch(client)
    } else {
        ThumbprintSource::Fixed(args.thumbprint.clone())
    };
    let engine = AwsEngineConfig {
        s3_endpoint_url: args.endpoints.s3_endpoint_url.clone(),
        iam_endpoint_url: args.endpoints.iam_endpoint_url.clone(),
        sts_endpoint_url: args.endpoints.sts_endpoint_url.clone(),
        tags: args.tag.clone(),
        thumbprints,
    };
    Ok((config, engine))
}

async fn serve(args: Args, config: OperatorConfig, engine: AwsEngineConfig) -> Result<(), String> {
    let settings = KubeSettings {
        kubeconfig: args.kubeconfig.clone(),
        ..KubeSettings::default()
    };
    let client = irsa_kube::client(&settings)
        .await
        .map_err(|e| e.to_string())?;
    let bind = |port: u16, flag: &str| {
        let flag = flag.to_string();
        async move {
            tokio::net::TcpListener::bind(SocketAddr::from(([0, 0, 0, 0], port)))
                .await
                .map_err(|e| format!("{flag} {port}: cannot listen: {e}"))
        }
    };
    let metrics_listener = bind(args.metrics_port, "--metrics-port").await?;
    let health_listener = bind(args.health_port, "--health-port").await?;
    let metrics = Arc::new(Metrics::default());
    let health = Arc::new(Health::default());
    let (shutdown_tx, shutdown) = watch::channel(false);
    let servers = tokio::spawn(irsa_operator::server::serve(
        metrics_listener,
        health_listener,
        metrics.clone(),
        health.clone(),
        shutdown.clone(),
    ));
    tokio::spawn(async move {
        irsa_runtime::shutdown_signal().await;
        tracing::info!("shutting down: finishing the reconciles in flight");
        shutdown_tx.send_replace(true);
    });
    tracing::info!(
        resync = ?config.resync,
        capa = config.capa,
        leader_election = config.leader_election.is_some(),
        identity = %config.instance,
        "irsa operator starting"
    );
    let result = irsa_operator::run(
        client,
        Arc::new(AwsEngine::new(engine)),
        config,
        metrics,
        health,
        shutdown,
    )
    .await;
    let _ = servers.await;
    result.map_err(|e: Error| e.to_string())
}

/// Runs the command.
pub fn run(args: Args) -> ExitCode {
    let format = if args.log_json {
        irsa_runtime::LogFormat::Json
    } else {
        irsa_runtime::LogFormat::Text
    };
    irsa_runtime::init_logging("info", format);
    let identity = identity();
    let (config, engine) = match configure(&args, &identity) {
        Ok(c) => c,
        Err(e) => return finish::<()>(Err(CliError::usage(format!("irsa operator: {e}")))),
    };
    let runtime = match irsa_runtime::runtime() {
        Ok(rt) => rt,
        Err(e) => {
            return finish::<()>(Err(CliError::failure(format!(
                "irsa operator: cannot start the runtime: {e}"
            ))));
        }
    };
    finish(
        runtime
            .block_on(serve(args, config, engine))
            .map_err(|e| CliError::failure(format!("irsa operator: {e}"))),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        args: Args,
    }

    fn parse(flags: &[&str]) -> Result<Args, clap::Error> {
        let mut argv = vec!["operator"];
        argv.extend_from_slice(flags);
        Cli::try_parse_from(argv).map(|c| c.args)
    }

    #[test]
    fn defaults_are_the_documented_ones() {
        let args = parse(&[]).unwrap();
        assert_eq!(args.resync, Duration::from_secs(300));
        assert!(args.leader_election);
        assert!(!args.capa);
        assert_eq!((args.metrics_port, args.health_port), (8080, 8081));
        let (config, engine) = configure(
            &Args {
                thumbprint: vec!["a".repeat(40)],
                ..args
            },
            "me",
        )
        .unwrap();
        assert_eq!(config.leader_election.unwrap().name, "irsa-operator");
        assert_eq!(config.accounts, AccountSource::Ambient);
        assert!(matches!(engine.thumbprints, ThumbprintSource::Fixed(_)));
    }

    #[test]
    fn every_flag_parses_as_the_issue_writes_it() {
        let args = parse(&[
            "--role-arn-template",
            "arn:aws:iam::{account}:role/irsa",
            "--account-from-label",
            "giantswarm.io/account",
            "--capa",
            "--resync",
            "30s",
            "--leader-election=false",
            "--leader-election-namespace",
            "irsa-system",
            "--metrics-port",
            "9090",
            "--health-port",
            "9091",
            "--s3-endpoint-url",
            "http://127.0.0.1:5000",
            "--iam-endpoint-url",
            "http://127.0.0.1:5000",
            "--sts-endpoint-url",
            "http://127.0.0.1:5000",
            "--thumbprint",
            "9e99a48a9960b14926bb7f3b02e22da2b0ab7280",
            "--tag",
            "team=platform",
            "--tag",
            "env=test",
            "--kubeconfig",
            "/tmp/kubeconfig",
            "--namespace",
            "org-a",
        ])
        .unwrap();
        assert_eq!(args.resync, Duration::from_secs(30));
        assert!(!args.leader_election);
        assert!(args.capa);
        let (config, engine) = configure(&args, "me").unwrap();
        assert!(config.leader_election.is_none());
        assert_eq!(config.namespace.as_deref(), Some("org-a"));
        assert!(matches!(config.accounts, AccountSource::Label { .. }));
        assert_eq!(engine.tags.len(), 2);
        assert_eq!(
            engine.s3_endpoint_url.as_deref(),
            Some("http://127.0.0.1:5000")
        );
        assert_eq!(
            parse(&["--resync", "5s"]).unwrap().resync,
            Duration::from_secs(5)
        );
        assert!(
            parse(&["--leader-election", "true"])
                .unwrap()
                .leader_election
        );
        let with_ns = parse(&[
            "--leader-election-namespace=kube-system",
            "--thumbprint",
            &"b".repeat(40),
        ])
        .unwrap();
        assert_eq!(
            configure(&with_ns, "me")
                .unwrap()
                .0
                .leader_election
                .unwrap()
                .namespace,
            "kube-system"
        );
    }

    #[test]
    fn bad_flags_name_the_flag() {
        assert!(parse(&["--resync", "5"]).is_err());
        assert!(parse(&["--resync", "0s"]).is_err());
        assert!(parse(&["--tag", "novalue"]).is_err());
        let args = parse(&["--role-arn-template", "arn:aws:iam::{account}:role/x"]).unwrap();
        assert!(
            configure(&args, "me")
                .unwrap_err()
                .contains("--account-from-label")
        );
        let args = parse(&["--thumbprint", "xyz"]).unwrap();
        assert!(configure(&args, "me").unwrap_err().contains("--thumbprint"));
    }
}
