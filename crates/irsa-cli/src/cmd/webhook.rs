//! Wiring for `irsa webhook`: maps upstream amazon-eks-pod-identity-webhook's flags (same
//! names, same defaults, `--flag=value` or `--flag value`) onto
//! [`irsa_webhook::ServerConfig`] and runs the server until SIGTERM or Ctrl-C.
//!
//! Flags for upstream modes this server does not have (CSR-based in-cluster certificates,
//! role-name composition from IMDS, klog's file logging) are accepted so existing manifests
//! keep working; selecting such a mode logs a warning saying what happens instead.

use std::net::IpAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use irsa_kube::parse_go_duration;
use irsa_webhook::ServerConfig;
use irsa_webhook::config::{ConfigError, TlsMinVersion};

use crate::output::{CliError, finish};

/// Arguments of `irsa webhook` (upstream's flags plus `--bind-address` and `--tls-reload-interval`).
#[derive(Debug, clap::Args)]
pub struct Args {
    /// HTTPS port for /mutate, /healthz and /readyz.
    #[arg(long, default_value_t = 443)]
    pub port: u16,
    /// Plain-HTTP port for /metrics.
    #[arg(long, default_value_t = 9999)]
    pub metrics_port: u16,
    /// Address both listeners bind to.
    #[arg(long, default_value = "0.0.0.0")]
    pub bind_address: IpAddr,
    /// Kubeconfig for out-of-cluster use (default: in-cluster, then $KUBECONFIG).
    #[arg(long, default_value = "")]
    pub kubeconfig: String,
    /// Kubernetes API server URL override.
    #[arg(long, default_value = "")]
    pub kube_api: String,
    /// TLS private key file (PEM), reloaded when it changes.
    #[arg(long, default_value = "/etc/webhook/certs/tls.key")]
    pub tls_key: PathBuf,
    /// TLS certificate chain file (PEM), reloaded when it changes.
    #[arg(long, default_value = "/etc/webhook/certs/tls.crt")]
    pub tls_cert: PathBuf,
    /// How often the certificate files are checked for changes (Go duration).
    #[arg(long, default_value = "5s", value_parser = parse_go_duration)]
    pub tls_reload_interval: std::time::Duration,
    /// Comma-separated TLS 1.2 cipher suites by Go/IANA name (TLS 1.3 suites are always on).
    #[arg(long, default_value = "")]
    pub tls_cipher_suites: String,
    /// Minimum TLS version: 1.2 or 1.3 (1.0/1.1 are served as 1.2).
    #[arg(long, default_value = "")]
    pub tls_min_version: String,
    /// Upstream's CSR-based certificate mode (default true upstream). Not supported: the
    /// certificate always comes from --tls-cert/--tls-key; `true` only logs a warning.
    #[arg(long, num_args = 0..=1, default_missing_value = "true", action = clap::ArgAction::Set)]
    pub in_cluster: Option<bool>,
    /// Service name for CSR mode (accepted, unused).
    #[arg(long, default_value = "pod-identity-webhook")]
    pub service_name: String,
    /// Namespace of the pod-identity-webhook ConfigMap.
    #[arg(long, default_value = "eks")]
    pub namespace: String,
    /// Secret for CSR mode (accepted, unused).
    #[arg(long, default_value = "pod-identity-webhook")]
    pub tls_secret: String,
    /// The mutation flags shared with `irsa webhook`/`irsa mutate`.
    #[command(flatten)]
    pub mutation: super::mutation_flags::MutationFlags,
    /// Watch the pod-identity-webhook ConfigMap in --namespace for role mappings.
    #[arg(long, num_args = 0..=1, default_value_t = false, default_missing_value = "true",
          action = clap::ArgAction::Set)]
    pub watch_config_map: bool,
    /// Compose role ARNs from bare role names using IMDS (not supported: role-arn values are
    /// used verbatim and a warning is logged).
    #[arg(long, num_args = 0..=1, default_value_t = false, default_missing_value = "true",
          action = clap::ArgAction::Set)]
    pub compose_role_arn: bool,
    /// Container-credentials identities file, re-read when it changes.
    #[arg(long, default_value = "")]
    pub watch_container_credentials_config: String,
    /// Serve /debug/alpha/* endpoints.
    #[arg(long, num_args = 0..=1, default_value_t = false, default_missing_value = "true",
          action = clap::ArgAction::Set)]
    pub enable_debugging_handlers: bool,
    /// How long a pod whose ServiceAccount is not cached waits for it (a rate-limited direct
    /// GET is made meanwhile); 0 disables both. Go duration.
    #[arg(long, default_value = "1s", value_parser = parse_go_duration)]
    pub service_account_lookup_grace_period: std::time::Duration,
    /// Informer resync period (accepted; the watch keeps the cache current without resyncs).
    #[arg(long, default_value = "60s", value_parser = parse_go_duration)]
    pub resync_period: std::time::Duration,
    /// klog verbosity: 0-3 info, 4-5 debug, 6+ trace (RUST_LOG overrides).
    #[arg(short = 'v', long = "v", default_value_t = 0)]
    pub verbosity: u8,
    /// klog flag (accepted; logs always go to stderr).
    #[arg(long = "logtostderr", num_args = 0..=1, default_value_t = true,
          default_missing_value = "true", action = clap::ArgAction::Set)]
    pub logtostderr: bool,
    /// klog flag (accepted; logs always go to stderr).
    #[arg(long = "alsologtostderr", num_args = 0..=1, default_value_t = false,
          default_missing_value = "true", action = clap::ArgAction::Set)]
    pub alsologtostderr: bool,
    /// klog flag (accepted, ignored).
    #[arg(long = "vmodule", default_value = "")]
    pub vmodule: String,
    /// klog flag (accepted; file logging is not supported).
    #[arg(long = "log_dir", default_value = "")]
    pub log_dir: String,
    /// klog flag (accepted; file logging is not supported).
    #[arg(long = "log_file", default_value = "")]
    pub log_file: String,
    /// klog flag (accepted, ignored).
    #[arg(long = "stderrthreshold", default_value = "2")]
    pub stderrthreshold: String,
    /// Log as JSON lines instead of text.
    #[arg(long, default_value_t = false)]
    pub log_json: bool,
}

fn init_logging(args: &Args) {
    let default = match args.verbosity {
        0..=3 => "info",
        4..=5 => "debug",
        _ => "trace",
    };
    let format = if args.log_json {
        irsa_runtime::LogFormat::Json
    } else {
        irsa_runtime::LogFormat::Text
    };
    irsa_runtime::init_logging(default, format);
}

/// Maps the flags onto the server configuration; the warnings are logged once logging is up.
fn server_config(args: &Args) -> Result<(ServerConfig, Vec<String>), ConfigError> {
    let mut warnings = Vec::new();
    let mutation = args.mutation.to_config();
    let mut config = ServerConfig::new(mutation);
    config.bind_address = args.bind_address;
    config.port = args.port;
    config.metrics_port = args.metrics_port;
    config.tls.cert_path = args.tls_cert.clone();
    config.tls.key_path = args.tls_key.clone();
    config.tls.reload_interval = args.tls_reload_interval;
    let (min_version, warning) = TlsMinVersion::from_flag(&args.tls_min_version)?;
    config.tls.min_version = min_version;
    warnings.extend(warning.map(str::to_string));
    config.tls.cipher_suites = args
        .tls_cipher_suites
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect();
    config.kube.kubeconfig =
        Some(PathBuf::from(&args.kubeconfig)).filter(|_| !args.kubeconfig.is_empty());
    config.kube.kube_api = Some(args.kube_api.clone()).filter(|u| !u.is_empty());
    config.namespace = args.namespace.clone();
    config.watch_config_map = args.watch_config_map;
    config.container_credentials_config =
        Some(PathBuf::from(&args.watch_container_credentials_config))
            .filter(|_| !args.watch_container_credentials_config.is_empty());
    config.lookup_grace_period = args.service_account_lookup_grace_period;
    config.enable_debugging_handlers = args.enable_debugging_handlers;
    if args.in_cluster == Some(true) {
        warnings.push(
            "--in-cluster=true (CSR-issued certificates) is not supported; serving --tls-cert/--tls-key"
                .to_string(),
        );
    }
    if args.compose_role_arn {
        warnings.push(
            "--compose-role-arn is not supported; role-arn annotations are used verbatim"
                .to_string(),
        );
    }
    if !args.log_dir.is_empty() || !args.log_file.is_empty() {
        warnings.push("--log_dir/--log_file are not supported; logging to stderr".to_string());
    }
    Ok((config, warnings))
}

/// Runs the command.
pub fn run(args: Args) -> ExitCode {
    finish(execute(&args))
}

fn execute(args: &Args) -> Result<(), CliError> {
    init_logging(args);
    let (mut config, warnings) =
        server_config(args).map_err(|e| CliError::usage(format!("irsa webhook: {e}")))?;
    config.progress = crate::progress::Bar::stderr().reporter();
    for w in warnings {
        tracing::warn!("{w}");
    }
    let runtime = irsa_runtime::runtime()
        .map_err(|e| CliError::failure(format!("irsa webhook: cannot start the runtime: {e}")))?;
    runtime
        .block_on(irsa_webhook::run(config))
        .map_err(|e| CliError::failure(format!("irsa webhook: {e}")))
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

    fn parse(flags: &[&str]) -> Args {
        let mut argv = vec!["webhook"];
        argv.extend_from_slice(flags);
        Cli::try_parse_from(argv).unwrap().args
    }

    #[test]
    fn upstream_deployment_flags_are_accepted() {
        let args = parse(&[
            "--in-cluster=false",
            "--namespace=kube-system",
            "--service-name=pod-identity-webhook",
            "--annotation-prefix=eks.amazonaws.com",
            "--token-audience=amazonaws.com",
            "--logtostderr",
            "--watch-config-map",
            "--sts-regional-endpoint",
            "--aws-default-region=eu-west-1",
            "--v=5",
            "--port=9443",
            "--metrics-port",
            "9999",
            "--tls-secret=x",
            "--service-account-lookup-grace-period=100ms",
        ]);
        let (config, warnings) = server_config(&args).unwrap();
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!(config.port, 9443);
        assert_eq!(config.namespace, "kube-system");
        assert!(config.watch_config_map);
        assert!(config.mutation.sts_regional_endpoint);
        assert_eq!(config.mutation.token_audience, "amazonaws.com");
        assert_eq!(
            config.mutation.aws_default_region.as_deref(),
            Some("eu-west-1")
        );
        assert_eq!(
            config.lookup_grace_period,
            std::time::Duration::from_millis(100)
        );
        assert_eq!(args.verbosity, 5);
    }

    #[test]
    fn defaults_match_upstream_except_the_grace_period() {
        let args = parse(&[]);
        let (config, warnings) = server_config(&args).unwrap();
        assert!(warnings.is_empty());
        assert_eq!(config.port, 443);
        assert_eq!(config.metrics_port, 9999);
        assert_eq!(config.namespace, "eks");
        assert_eq!(
            config.tls.cert_path,
            PathBuf::from("/etc/webhook/certs/tls.crt")
        );
        assert_eq!(
            config.tls.key_path,
            PathBuf::from("/etc/webhook/certs/tls.key")
        );
        assert_eq!(
            config.mutation,
            irsa_core::mutation::WebhookConfig::default()
        );
        assert_eq!(
            config.lookup_grace_period,
            std::time::Duration::from_secs(1)
        );
        assert!(config.kube.kubeconfig.is_none());
        assert!(config.container_credentials_config.is_none());
    }

    #[test]
    fn unsupported_modes_warn_and_bad_values_fail() {
        let args = parse(&[
            "--in-cluster",
            "--compose-role-arn=true",
            "--tls-min-version=1.0",
        ]);
        let (_, warnings) = server_config(&args).unwrap();
        assert_eq!(warnings.len(), 3, "{warnings:?}");
        let args = parse(&["--tls-min-version=2.0"]);
        assert!(server_config(&args).is_err());
        assert!(
            Cli::try_parse_from(["webhook", "--service-account-lookup-grace-period=5"]).is_err()
        );
        let args = parse(&["--service-account-lookup-grace-period=0"]);
        assert!(
            server_config(&args)
                .unwrap()
                .0
                .lookup_grace_period
                .is_zero()
        );
    }
}
