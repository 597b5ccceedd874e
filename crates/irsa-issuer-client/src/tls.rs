//! One rustls configuration (aws-lc-rs) for the client, and the verified handshake whose
//! certificate chain gives the thumbprint.

use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::{CertificateDer, ServerName};

use crate::IssuerError;
use crate::roots::TrustRoots;
use crate::url::Endpoint;

/// The rustls client configuration both HTTPS GETs and thumbprint handshakes use.
pub fn client_config(roots: &TrustRoots) -> Result<Arc<rustls::ClientConfig>, IssuerError> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| IssuerError::Client(format!("TLS configuration: {e}")))?
        .with_root_certificates(roots.store().clone())
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// Completes verified TLS handshakes to read the chain a server sends.
#[derive(Clone)]
pub struct Handshaker {
    connector: tokio_rustls::TlsConnector,
    timeout: Duration,
}

impl std::fmt::Debug for Handshaker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Handshaker")
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl Handshaker {
    /// A handshaker that gives up after `timeout` (connect plus handshake).
    pub fn new(config: Arc<rustls::ClientConfig>, timeout: Duration) -> Self {
        Self {
            connector: tokio_rustls::TlsConnector::from(config),
            timeout,
        }
    }

    /// Connects to `endpoint`, completes a verified handshake, and returns the chain the
    /// server sent, leaf first.
    pub async fn chain(
        &self,
        endpoint: &Endpoint,
    ) -> Result<Vec<CertificateDer<'static>>, IssuerError> {
        let unreachable = |reason: String| IssuerError::Unreachable {
            url: endpoint.to_string(),
            reason,
        };
        let name =
            ServerName::try_from(endpoint.host.clone()).map_err(|_| IssuerError::BadUrl {
                url: endpoint.to_string(),
                reason: format!("{:?} is not a valid TLS server name", endpoint.host),
            })?;
        let handshake = async {
            let tcp = tokio::net::TcpStream::connect((endpoint.host.as_str(), endpoint.port))
                .await
                .map_err(|e| unreachable(format!("cannot connect: {e}")))?;
            let tls = self
                .connector
                .connect(name, tcp)
                .await
                .map_err(|e| unreachable(format!("TLS handshake failed: {e}")))?;
            Ok(tls
                .get_ref()
                .1
                .peer_certificates()
                .map(|certs| certs.iter().map(|c| c.clone().into_owned()).collect())
                .unwrap_or_default())
        };
        tokio::time::timeout(self.timeout, handshake)
            .await
            .map_err(|_| {
                unreachable(format!(
                    "timed out after {} s (connect and TLS handshake)",
                    self.timeout.as_secs()
                ))
            })?
    }
}
