//! Serving certificate with hot reload.
//!
//! cert-manager rotates the webhook's certificate by rewriting the Secret, and kubelet swaps
//! the mounted files through an atomic `..data` symlink that inotify watchers often miss.
//! So the files are *polled* (content compared every few seconds) and a good new pair is
//! swapped into an [`ArcSwap`] that the rustls resolver reads on every handshake. A bad new
//! pair (unparseable, or a key that does not match the certificate) is logged once and the
//! previous certificate keeps serving: a broken rotation must not take admission down.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arc_swap::ArcSwap;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::{Error as PemError, PemObject as _};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls::{ServerConfig, SupportedCipherSuite};

use crate::config::{TlsMinVersion, TlsSettings};

/// Why a certificate, key or TLS policy could not be used.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The certificate file has no PEM `CERTIFICATE` block or a malformed one.
    #[error("{path} holds no valid PEM certificate: {reason}")]
    NoCertificate {
        /// The file.
        path: PathBuf,
        /// What was wrong.
        reason: String,
    },
    /// The key file has no PEM private key or a malformed one.
    #[error("{path} holds no valid PEM private key (PKCS#8, PKCS#1 or SEC1): {reason}")]
    NoKey {
        /// The file.
        path: PathBuf,
        /// What was wrong.
        reason: String,
    },
    /// The key is of an unsupported type or does not belong to the certificate.
    #[error("key {key} does not fit certificate {cert}: {reason}")]
    Mismatch {
        /// The certificate file.
        cert: PathBuf,
        /// The key file.
        key: PathBuf,
        /// rustls' explanation.
        reason: String,
    },
    /// A `--tls-cipher-suites` entry names no suite this server knows.
    #[error("invalid tls-cipher-suites: unsupported cipher suite: {0}")]
    UnknownCipherSuite(String),
    /// rustls rejected the protocol configuration.
    #[error("TLS configuration rejected: {0}")]
    Config(String),
}

/// The bytes of a certificate/key pair as last read from disk.
#[derive(PartialEq, Eq)]
struct PemPair {
    cert: Vec<u8>,
    key: Vec<u8>,
}

/// Reads and parses a certificate chain and its key into a rustls [`CertifiedKey`].
fn parse_pair(
    pair: &PemPair,
    cert_path: &Path,
    key_path: &Path,
    provider: &CryptoProvider,
) -> Result<CertifiedKey, TlsError> {
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&pair.cert)
        .collect::<Result<_, _>>()
        .map_err(|e| TlsError::NoCertificate {
            path: cert_path.to_path_buf(),
            reason: e.to_string(),
        })?;
    if chain.is_empty() {
        return Err(TlsError::NoCertificate {
            path: cert_path.to_path_buf(),
            reason: "no CERTIFICATE block".to_string(),
        });
    }
    let key = PrivateKeyDer::from_pem_slice(&pair.key).map_err(|e| TlsError::NoKey {
        path: key_path.to_path_buf(),
        reason: match e {
            PemError::NoItemsFound => "no PRIVATE KEY block".to_string(),
            other => other.to_string(),
        },
    })?;
    CertifiedKey::from_der(chain, key, provider).map_err(|e| TlsError::Mismatch {
        cert: cert_path.to_path_buf(),
        key: key_path.to_path_buf(),
        reason: e.to_string(),
    })
}

fn read(path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|source| TlsError::Read {
        path: path.to_path_buf(),
        source,
    })
}

/// The current serving certificate, swappable while connections are being accepted.
pub struct CertStore {
    current: ArcSwap<CertifiedKey>,
    provider: Arc<CryptoProvider>,
    cert_path: PathBuf,
    key_path: PathBuf,
    /// The bytes last seen on disk (good or bad), so a bad pair is reported once, not every poll.
    last_seen: std::sync::Mutex<PemPair>,
}

impl fmt::Debug for CertStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CertStore")
            .field("cert_path", &self.cert_path)
            .field("key_path", &self.key_path)
            .finish_non_exhaustive()
    }
}

/// What a poll of the certificate files found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReloadOutcome {
    /// The files are unchanged since the last poll.
    Unchanged,
    /// A new valid pair is now being served.
    Reloaded,
    /// The files changed but are not usable; the previous certificate is still served.
    Rejected,
}

impl CertStore {
    /// Loads the pair at startup; failure is fatal for the caller (nothing to serve).
    pub fn load(
        cert_path: &Path,
        key_path: &Path,
        provider: Arc<CryptoProvider>,
    ) -> Result<Self, TlsError> {
        let pair = PemPair {
            cert: read(cert_path)?,
            key: read(key_path)?,
        };
        let certified = parse_pair(&pair, cert_path, key_path, &provider)?;
        Ok(Self {
            current: ArcSwap::from_pointee(certified),
            provider,
            cert_path: cert_path.to_path_buf(),
            key_path: key_path.to_path_buf(),
            last_seen: std::sync::Mutex::new(pair),
        })
    }

    /// Re-reads both files; swaps in a changed, valid pair. Never fails: problems are logged.
    pub fn reload(&self) -> ReloadOutcome {
        let pair = match (read(&self.cert_path), read(&self.key_path)) {
            (Ok(cert), Ok(key)) => PemPair { cert, key },
            (Err(e), _) | (_, Err(e)) => {
                // Mid-rotation a file may briefly be missing; keep serving and retry next poll.
                tracing::debug!(error = %e, "serving certificate not readable; keeping the current one");
                return ReloadOutcome::Unchanged;
            }
        };
        let mut last = self
            .last_seen
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if *last == pair {
            return ReloadOutcome::Unchanged;
        }
        let outcome = match parse_pair(&pair, &self.cert_path, &self.key_path, &self.provider) {
            Ok(certified) => {
                self.current.store(Arc::new(certified));
                tracing::info!(cert = %self.cert_path.display(), "serving certificate reloaded");
                ReloadOutcome::Reloaded
            }
            Err(e) => {
                tracing::error!(error = %e, "new serving certificate rejected; still serving the previous one");
                ReloadOutcome::Rejected
            }
        };
        *last = pair;
        outcome
    }

    /// The leaf certificate currently served (DER).
    pub fn current_leaf(&self) -> Option<CertificateDer<'static>> {
        self.current.load().cert.first().cloned()
    }
}

/// rustls resolver handing out whatever [`CertStore`] holds right now.
#[derive(Debug)]
struct Resolver(Arc<CertStore>);

impl ResolvesServerCert for Resolver {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.0.current.load_full())
    }
}

/// Maps a Go/IANA cipher-suite name to rustls' suite, if this build supports it.
fn find_suite(name: &str, provider: &CryptoProvider) -> Option<SupportedCipherSuite> {
    // Go spells the ChaCha20 suites without the `_SHA256` tail and the TLS 1.3 suites without `13`.
    let canonical = match name {
        "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305" => "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
        "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305" => "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
        "TLS_AES_128_GCM_SHA256" => "TLS13_AES_128_GCM_SHA256",
        "TLS_AES_256_GCM_SHA384" => "TLS13_AES_256_GCM_SHA384",
        "TLS_CHACHA20_POLY1305_SHA256" => "TLS13_CHACHA20_POLY1305_SHA256",
        other => other,
    };
    provider
        .cipher_suites
        .iter()
        .find(|s| format!("{:?}", s.suite()) == canonical)
        .copied()
}

/// Go cipher-suite names that Go accepts but rustls deliberately does not implement (CBC,
/// RC4, 3DES, static RSA). Accepted with a warning so existing flag sets keep working.
fn is_known_insecure_go_suite(name: &str) -> bool {
    let ecdhe_cbc = (name.starts_with("TLS_ECDHE_RSA_WITH_AES_")
        || name.starts_with("TLS_ECDHE_ECDSA_WITH_AES_"))
        && (name.contains("CBC") || name.ends_with("_SHA"));
    name.starts_with("TLS_RSA_WITH_") || ecdhe_cbc || name.contains("RC4") || name.contains("3DES")
}

/// The crypto provider: aws-lc-rs, explicitly, with the suites `--tls-cipher-suites` selects.
pub fn provider(settings: &TlsSettings) -> Result<Arc<CryptoProvider>, TlsError> {
    let mut provider = rustls::crypto::aws_lc_rs::default_provider();
    if !settings.cipher_suites.is_empty() {
        let mut chosen: Vec<SupportedCipherSuite> = provider
            .cipher_suites
            .iter()
            .filter(|s| matches!(s, SupportedCipherSuite::Tls13(_)))
            .copied()
            .collect();
        for name in &settings.cipher_suites {
            let name = name.trim();
            if name.is_empty() {
                continue;
            }
            match find_suite(name, &provider) {
                Some(suite) => {
                    if !chosen.contains(&suite) {
                        chosen.push(suite);
                    }
                }
                None if is_known_insecure_go_suite(name) => {
                    tracing::warn!(
                        suite = name,
                        "insecure cipher suite is not supported by rustls; ignored"
                    );
                }
                None => return Err(TlsError::UnknownCipherSuite(name.to_string())),
            }
        }
        provider.cipher_suites = chosen;
    }
    Ok(Arc::new(provider))
}

/// The rustls server configuration serving from `store` (HTTP/2 and HTTP/1.1 via ALPN).
pub fn server_config(
    store: Arc<CertStore>,
    provider: Arc<CryptoProvider>,
    min_version: TlsMinVersion,
) -> Result<ServerConfig, TlsError> {
    let versions: &[&rustls::SupportedProtocolVersion] = match min_version {
        TlsMinVersion::Tls12 => &[&rustls::version::TLS13, &rustls::version::TLS12],
        TlsMinVersion::Tls13 => &[&rustls::version::TLS13],
    };
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(versions)
        .map_err(|e| TlsError::Config(e.to_string()))?
        .with_no_client_auth()
        .with_cert_resolver(Arc::new(Resolver(store)));
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn settings(suites: &[&str]) -> TlsSettings {
        TlsSettings {
            cert_path: PathBuf::new(),
            key_path: PathBuf::new(),
            reload_interval: Duration::from_secs(1),
            min_version: TlsMinVersion::Tls12,
            cipher_suites: suites.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn go_cipher_suite_names_map_to_rustls_suites() {
        let p = provider(&settings(&[
            "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
            " TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305",
        ]))
        .unwrap();
        let names: Vec<String> = p
            .cipher_suites
            .iter()
            .map(|s| format!("{:?}", s.suite()))
            .collect();
        assert!(names.contains(&"TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256".to_string()));
        assert!(names.contains(&"TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256".to_string()));
        assert!(!names.contains(&"TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384".to_string()));
        assert!(names.iter().any(|n| n.starts_with("TLS13_")));
    }

    #[test]
    fn unknown_cipher_suite_is_rejected_with_upstream_message() {
        let err = provider(&settings(&["TLS_BOGUS"])).unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid tls-cipher-suites: unsupported cipher suite: TLS_BOGUS"
        );
    }

    #[test]
    fn insecure_go_suites_are_ignored_not_fatal() {
        let p = provider(&settings(&[
            "TLS_RSA_WITH_AES_128_CBC_SHA",
            "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
        ]))
        .unwrap();
        assert!(
            !p.cipher_suites
                .iter()
                .any(|s| format!("{:?}", s.suite()).contains("CBC"))
        );
    }

    #[test]
    fn load_rejects_missing_and_mismatched_files() {
        let dir = tempfile::tempdir().unwrap();
        let a = rcgen::generate_simple_self_signed(vec!["a".into()]).unwrap();
        let b = rcgen::generate_simple_self_signed(vec!["b".into()]).unwrap();
        let cert = dir.path().join("tls.crt");
        let key = dir.path().join("tls.key");
        let p = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        assert!(matches!(
            CertStore::load(&cert, &key, p.clone()),
            Err(TlsError::Read { .. })
        ));
        std::fs::write(&cert, a.cert.pem()).unwrap();
        std::fs::write(&key, b.signing_key.serialize_pem()).unwrap();
        assert!(matches!(
            CertStore::load(&cert, &key, p.clone()),
            Err(TlsError::Mismatch { .. })
        ));
        std::fs::write(&key, a.signing_key.serialize_pem()).unwrap();
        let store = CertStore::load(&cert, &key, p).unwrap();
        assert_eq!(store.reload(), ReloadOutcome::Unchanged);
        // A broken rotation keeps the old certificate.
        std::fs::write(&cert, "garbage").unwrap();
        assert_eq!(store.reload(), ReloadOutcome::Rejected);
        assert_eq!(
            store.current_leaf().unwrap().as_ref(),
            a.cert.der().as_ref()
        );
        // A good rotation swaps.
        std::fs::write(&cert, b.cert.pem()).unwrap();
        std::fs::write(&key, b.signing_key.serialize_pem()).unwrap();
        assert_eq!(store.reload(), ReloadOutcome::Reloaded);
        assert_eq!(
            store.current_leaf().unwrap().as_ref(),
            b.cert.der().as_ref()
        );
    }
}
