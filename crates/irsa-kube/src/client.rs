//! Building the Kubernetes client.
//!
//! The order of sources is the one `kubectl` and client-go use: an explicit kubeconfig file
//! wins; otherwise the in-cluster ServiceAccount (token, CA and `KUBERNETES_SERVICE_*`), then
//! `$KUBECONFIG` or `~/.kube/config` (kube's `Config::infer`).

use std::path::PathBuf;
use std::time::Duration;

use kube::config::{KubeConfigOptions, Kubeconfig};

/// Where the Kubernetes API is and how to reach it.
#[derive(Debug, Clone)]
pub struct KubeSettings {
    /// A kubeconfig file for out-of-cluster use; `None` infers (in-cluster, then `$KUBECONFIG`).
    pub kubeconfig: Option<PathBuf>,
    /// Replaces the API server URL of whatever configuration was found (the webhook's
    /// `--kube-api`); `None` or empty keeps it.
    pub kube_api: Option<String>,
    /// Bound on establishing a connection to the API server.
    pub connect_timeout: Duration,
}

impl Default for KubeSettings {
    /// Infer the configuration; 10 s to connect (client-go's dialer uses 30 s, but every
    /// caller here has something better to do than wait that long for an unreachable API).
    fn default() -> Self {
        Self {
            kubeconfig: None,
            kube_api: None,
            connect_timeout: Duration::from_secs(10),
        }
    }
}

/// Why the Kubernetes client could not be built.
#[derive(Debug, thiserror::Error)]
pub enum KubeError {
    /// The kubeconfig file could not be read or parsed.
    #[error("cannot read kubeconfig {path}: {reason}")]
    Kubeconfig {
        /// The file named by the caller.
        path: String,
        /// The reader's or parser's message.
        reason: String,
    },
    /// No configuration could be inferred (not in a cluster, no `$KUBECONFIG`).
    #[error("cannot find a Kubernetes configuration (in-cluster or $KUBECONFIG): {0}")]
    Infer(String),
    /// The API-server override is not a URL.
    #[error("--kube-api {url:?} is not a valid URL: {reason}")]
    KubeApi {
        /// The value given.
        url: String,
        /// The URI parser's message.
        reason: String,
    },
    /// The client could not be created from an otherwise valid configuration (for example
    /// an unusable CA or client certificate).
    #[error("cannot create the Kubernetes client: {0}")]
    Client(String),
}

/// Builds the Kubernetes client from `settings`.
pub async fn client(settings: &KubeSettings) -> Result<kube::Client, KubeError> {
    let config = config(settings).await?;
    kube::Client::try_from(config).map_err(|e| KubeError::Client(e.to_string()))
}

/// The client configuration `client` would use, for callers that need to adjust it further
/// (for example a different read timeout for long watches).
pub async fn config(settings: &KubeSettings) -> Result<kube::Config, KubeError> {
    let mut config = match &settings.kubeconfig {
        Some(path) => {
            let display = path.display().to_string();
            let kubeconfig = Kubeconfig::read_from(path).map_err(|e| KubeError::Kubeconfig {
                path: display.clone(),
                reason: e.to_string(),
            })?;
            kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
                .await
                .map_err(|e| KubeError::Kubeconfig {
                    path: display,
                    reason: e.to_string(),
                })?
        }
        None => kube::Config::infer()
            .await
            .map_err(|e| KubeError::Infer(e.to_string()))?,
    };
    if let Some(url) = settings.kube_api.as_deref().filter(|u| !u.is_empty()) {
        config.cluster_url =
            url.parse()
                .map_err(|e: http::uri::InvalidUri| KubeError::KubeApi {
                    url: url.to_string(),
                    reason: e.to_string(),
                })?;
    }
    config.connect_timeout = Some(settings.connect_timeout);
    Ok(config)
}
