//! The CA certificates the client trusts: the system's, or only those of a PEM file.

use std::path::Path;

use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject as _;

use crate::IssuerError;

/// Trust roots for every HTTPS GET and TLS handshake of one client.
#[derive(Debug, Clone)]
pub struct TrustRoots {
    store: rustls::RootCertStore,
}

impl TrustRoots {
    /// The certificates of `ca_file` when given (they replace the system's), else the
    /// system's roots.
    pub fn load(ca_file: Option<&Path>) -> Result<Self, IssuerError> {
        match ca_file {
            Some(path) => Self::from_ca_file(path),
            None => Self::system(),
        }
    }

    /// Only the `CERTIFICATE` blocks of a PEM file; a file without a usable one is an error.
    pub fn from_ca_file(path: &Path) -> Result<Self, IssuerError> {
        let ca_error = |reason: String| IssuerError::CaFile {
            path: path.display().to_string(),
            reason,
        };
        let pem = std::fs::read(path).map_err(|e| ca_error(format!("cannot read: {e}")))?;
        let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&pem)
            .collect::<Result<_, _>>()
            .map_err(|e| ca_error(format!("not PEM certificates: {e}")))?;
        let mut store = rustls::RootCertStore::empty();
        let (added, _) = store.add_parsable_certificates(certs);
        if added == 0 {
            return Err(ca_error("no usable PEM CERTIFICATE block".to_owned()));
        }
        Ok(Self { store })
    }

    /// The operating system's trust store. It may be empty (a minimal container): plain
    /// `http://` to loopback still works, and TLS fails with [`IssuerError::NoRoots`].
    pub fn system() -> Result<Self, IssuerError> {
        let mut store = rustls::RootCertStore::empty();
        store.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
        Ok(Self { store })
    }

    /// Whether no certificate is trusted, so no TLS connection can succeed.
    pub fn is_empty(&self) -> bool {
        self.store.is_empty()
    }

    /// The roots as rustls wants them.
    pub fn store(&self) -> &rustls::RootCertStore {
        &self.store
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_ca_file_is_named() {
        let err = TrustRoots::from_ca_file(Path::new("/nonexistent/ca.pem")).unwrap_err();
        assert!(err.is_input_error());
        assert!(err.to_string().contains("/nonexistent/ca.pem"), "{err}");
    }

    #[test]
    fn a_ca_file_without_certificates_is_refused() {
        let dir = std::env::temp_dir().join(format!("irsa-roots-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("empty.pem");
        std::fs::write(&path, "not pem\n").unwrap();
        let err = TrustRoots::from_ca_file(&path).unwrap_err();
        assert!(err.to_string().contains("CERTIFICATE"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
