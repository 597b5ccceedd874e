//! Settings of the webhook server process.
//!
//! The CLI maps upstream's flags (same names, same defaults) onto [`ServerConfig`]; the
//! library never parses arguments itself, so tests and the benchmark build a config in code.
//! Settings that only shape the pod mutation live in the planner's
//! [`irsa_core::mutation::WebhookConfig`], carried here unchanged.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use irsa_core::mutation::WebhookConfig;
use irsa_kube::KubeSettings;
use irsa_runtime::ServeLimits;

/// Lowest TLS protocol version offered (`--tls-min-version`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TlsMinVersion {
    /// TLS 1.2 and 1.3 (rustls supports nothing older; `1.0`/`1.1` map here with a warning).
    #[default]
    Tls12,
    /// TLS 1.3 only.
    Tls13,
}

/// TLS settings of the admission listener.
#[derive(Debug, Clone)]
pub struct TlsSettings {
    /// PEM certificate chain (leaf first), re-read when it changes on disk.
    pub cert_path: PathBuf,
    /// PEM private key (PKCS#8, PKCS#1 or SEC1), re-read with the certificate.
    pub key_path: PathBuf,
    /// How often the files are polled for changes.
    pub reload_interval: Duration,
    /// Lowest protocol version.
    pub min_version: TlsMinVersion,
    /// TLS 1.2 cipher suites by IANA/Go name; empty means rustls' safe defaults.
    /// TLS 1.3 suites are always enabled, as in Go.
    pub cipher_suites: Vec<String>,
}

/// Everything `irsa webhook` needs to run.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Address both listeners bind to.
    pub bind_address: IpAddr,
    /// HTTPS port for `/mutate`, `/healthz`, `/readyz` (0 picks a free port, for tests).
    pub port: u16,
    /// Plain-HTTP port for `/metrics` (0 picks a free port).
    pub metrics_port: u16,
    /// TLS certificate and policy.
    pub tls: TlsSettings,
    /// Kubernetes API access.
    pub kube: KubeSettings,
    /// Timeout of a direct ServiceAccount GET (the grace-period fallback).
    pub lookup_timeout: Duration,
    /// Namespace of the `pod-identity-webhook` ConfigMap (`--namespace`).
    pub namespace: String,
    /// Watch the `pod-identity-webhook` ConfigMap (`--watch-config-map`).
    pub watch_config_map: bool,
    /// Container-credentials identities file (`--watch-container-credentials-config`).
    pub container_credentials_config: Option<PathBuf>,
    /// How often that file is polled for changes.
    pub file_poll_interval: Duration,
    /// How long a pod whose ServiceAccount is not cached may wait for it
    /// (`--service-account-lookup-grace-period`; zero disables the wait and the direct GET).
    pub lookup_grace_period: Duration,
    /// Direct ServiceAccount GETs allowed per second (token bucket refill).
    pub lookup_rate_per_second: u32,
    /// Burst of direct ServiceAccount GETs.
    pub lookup_burst: u32,
    /// Serve `/debug/alpha/*` endpoints (`--enable-debugging-handlers`).
    pub enable_debugging_handlers: bool,
    /// Bounds of both listeners: connection cap, per-phase timeouts, and how long
    /// in-flight requests may finish after a shutdown signal (`drain_timeout`, 10 s).
    pub serve_limits: ServeLimits,
    /// Pod mutation settings, passed to the planner unchanged.
    pub mutation: WebhookConfig,
    /// Where the ServiceAccount cache's first sync is reported (silent by default; the CLI
    /// draws it on a terminal).
    pub progress: irsa_runtime::progress::Reporter,
}

impl ServerConfig {
    /// Defaults matching upstream's flag defaults, with the given mutation settings.
    pub fn new(mutation: WebhookConfig) -> Self {
        Self {
            bind_address: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            port: 443,
            metrics_port: 9999,
            tls: TlsSettings {
                cert_path: PathBuf::from("/etc/webhook/certs/tls.crt"),
                key_path: PathBuf::from("/etc/webhook/certs/tls.key"),
                reload_interval: Duration::from_secs(5),
                min_version: TlsMinVersion::Tls12,
                cipher_suites: Vec::new(),
            },
            kube: KubeSettings::default(),
            lookup_timeout: Duration::from_secs(1),
            namespace: "eks".to_string(),
            watch_config_map: false,
            container_credentials_config: None,
            file_poll_interval: Duration::from_secs(5),
            lookup_grace_period: Duration::from_secs(1),
            lookup_rate_per_second: 10,
            lookup_burst: 20,
            enable_debugging_handlers: false,
            serve_limits: ServeLimits::default(),
            mutation,
            progress: irsa_runtime::progress::Reporter::silent(),
        }
    }

    /// The HTTPS listen address.
    pub fn https_addr(&self) -> SocketAddr {
        SocketAddr::new(self.bind_address, self.port)
    }

    /// The metrics listen address.
    pub fn metrics_addr(&self) -> SocketAddr {
        SocketAddr::new(self.bind_address, self.metrics_port)
    }
}

/// A flag value that breaks its syntax rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// Not one of upstream's `--tls-min-version` spellings.
    #[error(
        "invalid tls-min-version {0:?}: expected 1.0, 1.1, 1.2, 1.3 or VersionTLS10..VersionTLS13"
    )]
    TlsMinVersion(String),
}

impl TlsMinVersion {
    /// Parses upstream's `--tls-min-version`. TLS 1.0/1.1 are accepted for compatibility but
    /// served as TLS 1.2 (rustls implements nothing older); the second value says so.
    pub fn from_flag(value: &str) -> Result<(Self, Option<&'static str>), ConfigError> {
        match value {
            "" | "1.2" | "VersionTLS12" => Ok((Self::Tls12, None)),
            "1.3" | "VersionTLS13" => Ok((Self::Tls13, None)),
            "1.0" | "1.1" | "VersionTLS10" | "VersionTLS11" => Ok((
                Self::Tls12,
                Some("TLS 1.0 and 1.1 are not supported; the minimum is TLS 1.2"),
            )),
            other => Err(ConfigError::TlsMinVersion(other.to_string())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tls_min_version_accepts_upstream_spellings() {
        assert_eq!(
            TlsMinVersion::from_flag("").unwrap(),
            (TlsMinVersion::Tls12, None)
        );
        assert_eq!(
            TlsMinVersion::from_flag("VersionTLS13").unwrap().0,
            TlsMinVersion::Tls13
        );
        assert!(TlsMinVersion::from_flag("1.0").unwrap().1.is_some());
        assert!(TlsMinVersion::from_flag("1.4").is_err());
    }
}
