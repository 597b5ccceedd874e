//! The client against real sockets on loopback: a plain-HTTP document server (allowed only
//! because it is loopback) and TLS servers with rcgen chains for thumbprints.

#![allow(clippy::unwrap_used)]

use std::collections::HashMap;
use std::sync::Arc;

use irsa_issuer_client::{IssuerClient, IssuerClientConfig, IssuerError, MAX_DOCUMENT_BYTES};
use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

/// Serves `routes` (path → status, body) over plain HTTP/1.1 on 127.0.0.1; returns the base URL.
async fn serve_http(routes: HashMap<String, (u16, Vec<u8>)>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
    let routes = Arc::new(routes);
    tokio::spawn(async move {
        while let Ok((mut tcp, _)) = listener.accept().await {
            let routes = Arc::clone(&routes);
            tokio::spawn(async move {
                let mut request = Vec::new();
                let mut buf = [0u8; 1024];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    match tcp.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => request.extend_from_slice(&buf[..n]),
                    }
                }
                let line = String::from_utf8_lossy(&request);
                let path = line.split(' ').nth(1).unwrap_or("/").to_owned();
                let (status, body) = routes
                    .get(&path)
                    .cloned()
                    .unwrap_or((404, b"not found".to_vec()));
                let head = format!(
                    "HTTP/1.1 {status} X\r\ncontent-length: {}\r\ncontent-type: application/json\r\nconnection: close\r\n\r\n",
                    body.len()
                );
                let _ = tcp.write_all(head.as_bytes()).await;
                let _ = tcp.write_all(&body).await;
            });
        }
    });
    base
}

fn discovery(issuer: &str, jwks_uri: &str) -> Vec<u8> {
    serde_json::json!({
        "issuer": issuer,
        "jwks_uri": jwks_uri,
        "response_types_supported": ["id_token"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
    })
    .to_string()
    .into_bytes()
}

const JWKS: &str = r#"{"keys":[{"kty":"EC","crv":"P-256","kid":"k1","use":"sig","alg":"ES256","x":"MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4","y":"4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM"}]}"#;

fn client() -> IssuerClient {
    let dir = std::env::temp_dir().join(format!("irsa-client-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    // A CA file keeps the test independent of the machine's trust store.
    let ca = pki();
    let path = dir.join("ca.pem");
    std::fs::write(&path, &ca.ca_pem).unwrap();
    IssuerClient::new(&IssuerClientConfig {
        ca_file: Some(path),
        ..IssuerClientConfig::default()
    })
    .unwrap()
}

#[tokio::test]
async fn loopback_http_jwks_is_fetched_and_parsed() {
    let mut routes = HashMap::new();
    routes.insert("/keys.json".to_owned(), (200, JWKS.as_bytes().to_vec()));
    let base = serve_http(routes).await;
    let set = client()
        .jwks_at(&format!("{base}/keys.json"), "https://unused")
        .await
        .unwrap();
    assert_eq!(set.keys.len(), 1);
}

#[tokio::test]
async fn oversized_documents_are_refused() {
    let mut routes = HashMap::new();
    let mut big = JWKS.as_bytes().to_vec();
    big.resize(MAX_DOCUMENT_BYTES + 1, b' ');
    routes.insert("/keys.json".to_owned(), (200, big));
    let base = serve_http(routes).await;
    let err = client()
        .jwks_at(&format!("{base}/keys.json"), "https://unused")
        .await
        .unwrap_err();
    assert!(matches!(err, IssuerError::Unusable { .. }), "{err}");
    assert!(err.to_string().contains("larger than"), "{err}");
}

/// Serves the JWKS on one server and, on another, a discovery document whose `issuer` is
/// `doc_issuer` (default: that server's own base URL). Returns the document server's base.
async fn issuer_server(doc_issuer: Option<&str>) -> String {
    let mut routes = HashMap::new();
    routes.insert("/keys.json".to_owned(), (200, JWKS.as_bytes().to_vec()));
    let keys_base = serve_http(routes).await;
    let jwks_uri = format!("{keys_base}/keys.json");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
    let body = discovery(doc_issuer.unwrap_or(&base), &jwks_uri);
    tokio::spawn(async move {
        while let Ok((mut tcp, _)) = listener.accept().await {
            let body = body.clone();
            tokio::spawn(async move {
                let mut buf = [0u8; 2048];
                let _ = tcp.read(&mut buf).await;
                let head = format!(
                    "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                    body.len()
                );
                let _ = tcp.write_all(head.as_bytes()).await;
                let _ = tcp.write_all(&body).await;
            });
        }
    });
    base
}

#[tokio::test]
async fn a_discovery_document_must_name_the_expected_issuer() {
    let base = issuer_server(Some("https://someone-else.example.com")).await;
    let url = format!("{base}/.well-known/openid-configuration");
    let err = client().jwks_at(&url, &base).await.unwrap_err();
    assert!(err.to_string().contains("must be equal"), "{err}");
    let err = client().jwks(&base).await.unwrap_err();
    assert!(err.to_string().contains("must be equal"), "{err}");
}

#[tokio::test]
async fn a_matching_discovery_document_leads_to_the_keys() {
    let issuer = issuer_server(None).await;
    let set = client().jwks(&issuer).await.unwrap();
    assert_eq!(set.keys.len(), 1);
    let url = format!("{issuer}/.well-known/openid-configuration");
    let set = client().jwks_at(&url, &issuer).await.unwrap();
    assert_eq!(set.keys.len(), 1);
}

#[tokio::test]
async fn plain_http_off_loopback_is_never_fetched() {
    let err = client()
        .jwks_at(
            "http://idp.example.com/keys.json",
            "https://idp.example.com",
        )
        .await
        .unwrap_err();
    assert!(err.is_input_error(), "{err}");
    assert!(err.to_string().contains("loopback"), "{err}");
    let err = client().jwks("http://idp.example.com").await.unwrap_err();
    assert!(err.is_input_error(), "{err}");
}

#[tokio::test]
async fn server_errors_are_unreachable_and_404s_unusable() {
    let mut routes = HashMap::new();
    routes.insert("/down".to_owned(), (503, Vec::new()));
    let base = serve_http(routes).await;
    let err = client()
        .jwks_at(&format!("{base}/down"), "x")
        .await
        .unwrap_err();
    assert_eq!(err.sts_code(), "IDPCommunicationError", "{err}");
    let err = client()
        .jwks_at(&format!("{base}/missing"), "x")
        .await
        .unwrap_err();
    assert_eq!(err.sts_code(), "InvalidIdentityToken", "{err}");
    assert!(err.to_string().contains("404"), "{err}");
}

// --- thumbprints ------------------------------------------------------------------------------

struct Pki {
    ca_der: Vec<u8>,
    ca_pem: String,
    leaf_der: Vec<u8>,
    leaf_key: Vec<u8>,
}

fn pki() -> Pki {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca_params, ca_key);
    let leaf_key = KeyPair::generate().unwrap();
    let leaf = CertificateParams::new(vec!["127.0.0.1".to_string()])
        .unwrap()
        .signed_by(&leaf_key, &issuer)
        .unwrap();
    Pki {
        ca_der: ca.der().to_vec(),
        ca_pem: ca.pem(),
        leaf_der: leaf.der().to_vec(),
        leaf_key: leaf_key.serialize_der(),
    }
}

/// Serves one TLS handshake on 127.0.0.1 with `chain`; returns the port.
async fn serve_tls(chain: Vec<Vec<u8>>, key: Vec<u8>) -> u16 {
    let certs = chain.into_iter().map(CertificateDer::from).collect();
    let key = PrivateKeyDer::try_from(key).unwrap();
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        if let Ok((tcp, _)) = listener.accept().await {
            let _ = acceptor.accept(tcp).await;
        }
    });
    port
}

fn client_trusting(pki: &Pki, name: &str) -> IssuerClient {
    let dir = std::env::temp_dir().join(format!("irsa-thumb-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("ca.pem");
    std::fs::write(&path, &pki.ca_pem).unwrap();
    IssuerClient::new(&IssuerClientConfig {
        ca_file: Some(path),
        ..IssuerClientConfig::default()
    })
    .unwrap()
}

#[tokio::test]
async fn thumbprint_is_the_sha1_of_the_ca_the_server_sends() {
    let pki = pki();
    let port = serve_tls(
        vec![pki.leaf_der.clone(), pki.ca_der.clone()],
        pki.leaf_key.clone(),
    )
    .await;
    let thumb = client_trusting(&pki, "ok")
        .thumbprint(&format!("https://127.0.0.1:{port}/keys.json"))
        .await
        .unwrap();
    assert_eq!(thumb.sha1, irsa_jose::thumbprint::sha1_hex(&pki.ca_der));
    assert_eq!(thumb.endpoint.port, port);
}

#[tokio::test]
async fn a_chain_without_a_ca_is_a_clear_error() {
    let pki = pki();
    let port = serve_tls(vec![pki.leaf_der.clone()], pki.leaf_key.clone()).await;
    let err = client_trusting(&pki, "noca")
        .thumbprint(&format!("127.0.0.1:{port}"))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("CA certificate"), "{err}");
}

#[tokio::test]
async fn an_untrusted_server_fails_the_handshake() {
    let pki = pki();
    let other = self::pki();
    let port = serve_tls(
        vec![pki.leaf_der.clone(), pki.ca_der.clone()],
        pki.leaf_key.clone(),
    )
    .await;
    let err = client_trusting(&other, "untrusted")
        .thumbprint(&format!("https://127.0.0.1:{port}"))
        .await
        .unwrap_err();
    assert_eq!(err.sts_code(), "IDPCommunicationError");
    assert!(err.to_string().contains("TLS handshake"), "{err}");
}

#[tokio::test]
async fn thumbprint_urls_without_tls_are_input_errors() {
    let pki = pki();
    let err = client_trusting(&pki, "http")
        .thumbprint("http://127.0.0.1:1")
        .await
        .unwrap_err();
    assert!(err.is_input_error(), "{err}");
}
