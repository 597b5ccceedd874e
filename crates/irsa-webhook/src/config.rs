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

/// Where the Kubernetes API is and how to reach it.
#[derive(Debug, Clone, Default)]
pub struct KubeSettings {
    /// A kubeconfig file for out-of-cluster use; `None` infers (in-cluster, then `$KUBECONFIG`).
    pub kubeconfig: Option<PathBuf>,
    /// Overrides the API server URL of whatever configuration was found (`--kube-api`).
    pub kube_api: Option<String>,
    /// Timeout for connecting to the API server.
    pub connect_timeout: Duration,
    /// Timeout of a direct ServiceAccount GET (the grace-period fallback).
    pub lookup_timeout: Duration,
}

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
    /// How long in-flight requests may finish after a shutdown signal.
    pub shutdown_timeout: Duration,
    /// Pod mutation settings, passed to the planner unchanged.
    pub mutation: WebhookConfig,
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
            kube: KubeSettings {
                kubeconfig: None,
                kube_api: None,
                connect_timeout: Duration::from_secs(10),
                lookup_timeout: Duration::from_secs(1),
            },
            namespace: "eks".to_string(),
            watch_config_map: false,
            container_credentials_config: None,
            file_poll_interval: Duration::from_secs(5),
            lookup_grace_period: Duration::from_secs(1),
            lookup_rate_per_second: 10,
            lookup_burst: 20,
            enable_debugging_handlers: false,
            shutdown_timeout: Duration::from_secs(10),
            mutation,
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
    /// Not a Go duration (`300ms`, `1s`, `1m30s`, `0`).
    #[error(
        "invalid duration {value:?}: {reason} (expected Go syntax such as 300ms, 1s, 1m30s or 0)"
    )]
    Duration {
        /// The value given.
        value: String,
        /// What is wrong.
        reason: &'static str,
    },
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

/// Parses a Go `time.ParseDuration` string: an optional sign (negative is rejected here),
/// then one or more decimal numbers each followed by a unit (`ns`, `us`, `µs`, `ms`, `s`,
/// `m`, `h`); the bare `0` is allowed.
pub fn parse_go_duration(value: &str) -> Result<Duration, ConfigError> {
    let err = |reason| ConfigError::Duration {
        value: value.to_string(),
        reason,
    };
    let mut rest = value.strip_prefix('+').unwrap_or(value);
    if rest.starts_with('-') {
        return Err(err("negative durations are not allowed"));
    }
    if rest == "0" {
        return Ok(Duration::ZERO);
    }
    if rest.is_empty() {
        return Err(err("empty"));
    }
    let mut total = 0f64;
    while !rest.is_empty() {
        let number_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let number = &rest[..number_len];
        if number.is_empty() || number == "." {
            return Err(err("a number must precede each unit"));
        }
        let n: f64 = number.parse().map_err(|_| err("malformed number"))?;
        rest = &rest[number_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let seconds_per_unit = match &rest[..unit_len] {
            "ns" => 1e-9,
            "us" | "µs" | "μs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            "" => return Err(err("missing unit")),
            _ => return Err(err("unknown unit")),
        };
        total += n * seconds_per_unit;
        rest = &rest[unit_len..];
    }
    Duration::try_from_secs_f64(total).map_err(|_| err("out of range"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations_parse_like_time_parse_duration() {
        assert_eq!(parse_go_duration("0").unwrap(), Duration::ZERO);
        assert_eq!(parse_go_duration("1s").unwrap(), Duration::from_secs(1));
        assert_eq!(
            parse_go_duration("100ms").unwrap(),
            Duration::from_millis(100)
        );
        assert_eq!(parse_go_duration("1m30s").unwrap(), Duration::from_secs(90));
        assert_eq!(
            parse_go_duration("1.5h").unwrap(),
            Duration::from_secs(5400)
        );
        assert_eq!(
            parse_go_duration("250us").unwrap(),
            Duration::from_micros(250)
        );
        for bad in ["", "1", "s", "1x", "-1s", "1.2.3s"] {
            assert!(parse_go_duration(bad).is_err(), "{bad:?}");
        }
        assert!(
            parse_go_duration("5")
                .unwrap_err()
                .to_string()
                .contains("missing unit")
        );
    }

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
