//! Wiring for `irsa oidc …`: signing keys, the public issuer documents, the IAM thumbprint
//! and the kube-apiserver flags. The logic is in irsa-jose; this file reads and writes files
//! and does the one network operation (the TLS handshake for `thumbprint`).

use std::fs;
use std::io::Write as _;
use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use irsa_core::issuer::ClusterIssuer;
use irsa_jose::apiserver::{ApiserverFlagsInput, apiserver_flags};
use irsa_jose::keys::{KeySpec, PrivateKey, RsaBits, parse_public_keys_pem};
use irsa_jose::{DiscoveryDocument, JwkSet, PublicKey};
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, ServerName};

use crate::output::{EXIT_FAILURE, EXIT_USAGE, fail, print_stdout};

/// Network timeout for `thumbprint` (connect plus handshake) and JWKS fetches.
pub(crate) const NETWORK_TIMEOUT: Duration = Duration::from_secs(10);

/// Subcommands of `irsa oidc`.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Generate a service-account signing key: DIR/sa.key (PKCS#8, mode 0600) and DIR/sa.pub.
    Keygen(KeygenArgs),
    /// Write DIR/.well-known/openid-configuration and DIR/keys.json for an issuer.
    Discovery(DiscoveryArgs),
    /// Print the SHA-1 thumbprint of the last CA certificate an issuer's TLS server sends.
    Thumbprint(ThumbprintArgs),
    /// Print the kube-apiserver flags for an issuer and its keys.
    ApiserverFlags(ApiserverFlagsArgs),
}

/// Key algorithms `keygen` offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum KeyAlgorithm {
    /// RSA, signing RS256 (what kube-apiserver clusters usually use).
    #[value(name = "RS256")]
    Rs256,
    /// ECDSA P-256, signing ES256.
    #[value(name = "ES256")]
    Es256,
}

/// Arguments of `irsa oidc keygen`.
#[derive(Debug, clap::Args)]
pub struct KeygenArgs {
    /// Directory to write sa.key and sa.pub into (created if missing).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Key algorithm.
    #[arg(long, value_enum, default_value = "RS256")]
    pub algorithm: KeyAlgorithm,
    /// RSA modulus size (RS256 only): 2048, 3072 or 4096.
    #[arg(long, value_parser = clap::builder::PossibleValuesParser::new(["2048", "3072", "4096"]))]
    pub bits: Option<String>,
    /// Overwrite existing sa.key / sa.pub.
    #[arg(long)]
    pub force: bool,
}

/// Arguments of `irsa oidc discovery`.
#[derive(Debug, clap::Args)]
pub struct DiscoveryArgs {
    /// The issuer URL exactly as in tokens (https://, no port, query or trailing slash).
    #[arg(long, value_name = "URL")]
    pub issuer: String,
    /// A public key (or private key, certificate) PEM file; repeat to publish several keys
    /// during a rotation.
    #[arg(long = "public-key", value_name = "FILE", required = true)]
    pub public_keys: Vec<PathBuf>,
    /// Directory to write the documents into.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
}

/// Arguments of `irsa oidc thumbprint`.
#[derive(Debug, clap::Args)]
pub struct ThumbprintArgs {
    /// Issuer or JWKS URL (https://HOST[:PORT][/PATH]) or a bare HOST[:PORT].
    #[arg(value_name = "URL")]
    pub url: String,
    /// Trust only the CA certificates in this PEM file (default: the system's roots).
    #[arg(long, value_name = "PEM")]
    pub ca_file: Option<PathBuf>,
}

/// Arguments of `irsa oidc apiserver-flags`.
#[derive(Debug, clap::Args)]
pub struct ApiserverFlagsArgs {
    /// The issuer new tokens are minted for.
    #[arg(long, value_name = "URL")]
    pub issuer: String,
    /// Path of the signing key on the control-plane nodes.
    #[arg(long, value_name = "PATH")]
    pub signing_key: String,
    /// Path of a trusted public key on the control-plane nodes; repeat for each.
    #[arg(long = "public-key", value_name = "PATH", required = true)]
    pub public_keys: Vec<String>,
    /// An audience the API server accepts (--api-audiences); repeat for each.
    /// Default: the issuer.
    #[arg(long = "api-audience", value_name = "A")]
    pub api_audiences: Vec<String>,
    /// An issuer whose tokens stay valid during a roll; repeat for each.
    #[arg(long = "previous-issuer", value_name = "URL")]
    pub previous_issuers: Vec<String>,
}

/// Runs the command.
pub fn run(command: Command) -> ExitCode {
    let result = match command {
        Command::Keygen(args) => keygen(&args),
        Command::Discovery(args) => discovery(&args),
        Command::Thumbprint(args) => thumbprint(&args),
        Command::ApiserverFlags(args) => flags(&args),
    };
    match result {
        Ok(text) => print_stdout(&text),
        Err(e) => fail(e.code, &e.message),
    }
}

/// A failure: exit status and the one line to print.
#[derive(Debug)]
pub(crate) struct CliError {
    pub(crate) code: u8,
    pub(crate) message: String,
}

impl CliError {
    pub(crate) fn usage(message: impl Into<String>) -> Self {
        Self {
            code: EXIT_USAGE,
            message: message.into(),
        }
    }

    pub(crate) fn failure(message: impl Into<String>) -> Self {
        Self {
            code: EXIT_FAILURE,
            message: message.into(),
        }
    }
}

/// Validates an issuer for documents and tokens: AWS-shaped HTTPS, or a loopback issuer
/// with a port (for `irsa local`).
pub(crate) fn check_issuer(command: &str, issuer: &str) -> Result<(), CliError> {
    match ClusterIssuer::from_url(issuer, None) {
        Ok(_) => Ok(()),
        Err(e) => match ClusterIssuer::parse_local(issuer) {
            Ok(_) => Ok(()),
            Err(_) => Err(CliError::usage(format!("irsa {command}: --issuer: {e}"))),
        },
    }
}

pub(crate) fn read_file(command: &str, flag: &str, path: &Path) -> Result<Vec<u8>, CliError> {
    fs::read(path).map_err(|e| {
        CliError::usage(format!(
            "irsa {command}: {flag} {}: cannot read: {e}",
            path.display()
        ))
    })
}

/// Writes `data` to `path` through a temporary file in the same directory and a rename,
/// with `mode` set before any byte is written.
fn write_atomic(path: &Path, data: &[u8], mode: u32) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let result = (|| {
        let mut file = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&tmp)?;
        // The umask may have narrowed the mode; set it exactly.
        file.set_permissions(fs::Permissions::from_mode(mode))?;
        file.write_all(data)?;
        file.sync_all()?;
        fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

fn keygen(args: &KeygenArgs) -> Result<String, CliError> {
    let spec = match (args.algorithm, args.bits.as_deref()) {
        (KeyAlgorithm::Es256, Some(_)) => {
            return Err(CliError::usage(
                "irsa oidc keygen: --bits applies to RS256 only (ES256 keys are P-256)",
            ));
        }
        (KeyAlgorithm::Es256, None) => KeySpec::EcP256,
        (KeyAlgorithm::Rs256, bits) => {
            let bits = bits.unwrap_or("2048");
            let size = bits
                .parse()
                .ok()
                .and_then(RsaBits::from_bits)
                .ok_or_else(|| {
                    CliError::usage(format!(
                        "irsa oidc keygen: --bits must be 2048, 3072 or 4096, got {bits:?}"
                    ))
                })?;
            KeySpec::Rsa(size)
        }
    };
    let key_path = args.out.join("sa.key");
    let pub_path = args.out.join("sa.pub");
    if !args.force {
        for path in [&key_path, &pub_path] {
            if path.exists() {
                return Err(CliError::failure(format!(
                    "irsa oidc keygen: {} exists; refusing to overwrite a signing key without --force",
                    path.display()
                )));
            }
        }
    }
    fs::create_dir_all(&args.out).map_err(|e| {
        CliError::failure(format!(
            "irsa oidc keygen: --out {}: cannot create directory: {e}",
            args.out.display()
        ))
    })?;
    let key = PrivateKey::generate(spec)
        .map_err(|e| CliError::failure(format!("irsa oidc keygen: {e}")))?;
    let private_pem = key
        .to_pkcs8_pem()
        .map_err(|e| CliError::failure(format!("irsa oidc keygen: {e}")))?;
    let public = key
        .public_key()
        .map_err(|e| CliError::failure(format!("irsa oidc keygen: {e}")))?;
    write_atomic(&key_path, private_pem.as_bytes(), 0o600).map_err(|e| {
        CliError::failure(format!(
            "irsa oidc keygen: cannot write {}: {e}",
            key_path.display()
        ))
    })?;
    write_atomic(&pub_path, public.to_pem().as_bytes(), 0o644).map_err(|e| {
        CliError::failure(format!(
            "irsa oidc keygen: cannot write {}: {e}",
            pub_path.display()
        ))
    })?;
    let size = public
        .rsa_bits()
        .map(|b| format!(", {b} bits"))
        .unwrap_or_default();
    Ok(format!(
        "wrote {} ({}{size}, mode 0600)\nwrote {}\nkid {}",
        key_path.display(),
        public.algorithm(),
        pub_path.display(),
        public.kid()
    ))
}

/// Loads every key of every `--public-key` file, dropping repeats of the same key.
pub(crate) fn load_public_keys(
    command: &str,
    paths: &[PathBuf],
) -> Result<Vec<PublicKey>, CliError> {
    let mut keys: Vec<PublicKey> = Vec::new();
    for path in paths {
        let data = read_file(command, "--public-key", path)?;
        let loaded = parse_public_keys_pem(&path.display().to_string(), &data)
            .map_err(|e| CliError::usage(format!("irsa {command}: --public-key {e}")))?;
        for key in loaded {
            if !keys.iter().any(|k| k.kid() == key.kid()) {
                keys.push(key);
            }
        }
    }
    Ok(keys)
}

fn discovery(args: &DiscoveryArgs) -> Result<String, CliError> {
    check_issuer("oidc discovery", &args.issuer)?;
    let keys = load_public_keys("oidc discovery", &args.public_keys)?;
    let document = DiscoveryDocument::new(&args.issuer, &keys);
    let jwks = JwkSet::from_keys(&keys).to_json();
    let well_known = args.out.join(".well-known");
    let config_path = well_known.join("openid-configuration");
    let jwks_path = args.out.join("keys.json");
    let write = |path: &Path, value: &dyn erased::Json| -> Result<(), CliError> {
        let mut text = value
            .pretty()
            .map_err(|e| CliError::failure(format!("irsa oidc discovery: {e}")))?;
        text.push('\n');
        write_atomic(path, text.as_bytes(), 0o644).map_err(|e| {
            CliError::failure(format!(
                "irsa oidc discovery: cannot write {}: {e}",
                path.display()
            ))
        })
    };
    fs::create_dir_all(&well_known).map_err(|e| {
        CliError::failure(format!(
            "irsa oidc discovery: cannot create {}: {e}",
            well_known.display()
        ))
    })?;
    write(&config_path, &document)?;
    write(&jwks_path, &jwks)?;
    let kids: Vec<&str> = keys.iter().map(PublicKey::kid).collect();
    Ok(format!(
        "wrote {}\nwrote {} ({} key(s): {})",
        config_path.display(),
        jwks_path.display(),
        keys.len(),
        kids.join(", ")
    ))
}

fn flags(args: &ApiserverFlagsArgs) -> Result<String, CliError> {
    for issuer in std::iter::once(&args.issuer).chain(&args.previous_issuers) {
        check_issuer("oidc apiserver-flags", issuer)?;
    }
    let out = apiserver_flags(&ApiserverFlagsInput {
        issuer: args.issuer.clone(),
        previous_issuers: args.previous_issuers.clone(),
        signing_key: args.signing_key.clone(),
        public_keys: args.public_keys.clone(),
        api_audiences: args.api_audiences.clone(),
    });
    for warning in &out.warnings {
        let _ = writeln!(std::io::stderr().lock(), "{warning}");
    }
    Ok(out.flags.join("\n"))
}

mod erased {
    /// Pretty JSON for documents of different types (keeps struct field order).
    pub(super) trait Json {
        fn pretty(&self) -> serde_json::Result<String>;
    }

    impl<T: serde::Serialize> Json for T {
        fn pretty(&self) -> serde_json::Result<String> {
            serde_json::to_string_pretty(self)
        }
    }
}

/// Host, port and the name to verify for a thumbprint URL.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Endpoint {
    pub(crate) host: String,
    pub(crate) port: u16,
}

pub(crate) fn parse_endpoint(url: &str) -> Result<Endpoint, String> {
    let rest = if let Some(rest) = url.strip_prefix("https://") {
        rest
    } else if url.contains("://") {
        return Err(format!("{url:?}: only https:// URLs have a TLS chain"));
    } else {
        url
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if authority.contains('@') {
        return Err(format!("{url:?}: user info is not allowed"));
    }
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let (host, after) = v6
            .split_once(']')
            .ok_or_else(|| format!("{url:?}: unterminated [IPv6] host"))?;
        let port = match after.strip_prefix(':') {
            Some(p) => Some(p),
            None if after.is_empty() => None,
            None => return Err(format!("{url:?}: junk after the [IPv6] host")),
        };
        (host, port)
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        }
    };
    if host.is_empty() {
        return Err(format!("{url:?}: no host"));
    }
    let port = match port {
        None => 443,
        Some(p) => p
            .parse::<u16>()
            .ok()
            .filter(|p| *p != 0)
            .ok_or_else(|| format!("{url:?}: port {p:?} is not 1..65535"))?,
    };
    Ok(Endpoint {
        host: host.to_string(),
        port,
    })
}

fn root_store(ca_file: Option<&Path>) -> Result<rustls::RootCertStore, CliError> {
    let mut roots = rustls::RootCertStore::empty();
    match ca_file {
        Some(path) => {
            let data = read_file("oidc thumbprint", "--ca-file", path)?;
            let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&data)
                .collect::<Result<_, _>>()
                .map_err(|e| {
                    CliError::usage(format!(
                        "irsa oidc thumbprint: --ca-file {}: not PEM certificates: {e}",
                        path.display()
                    ))
                })?;
            let (added, _) = roots.add_parsable_certificates(certs);
            if added == 0 {
                return Err(CliError::usage(format!(
                    "irsa oidc thumbprint: --ca-file {}: no usable CERTIFICATE block",
                    path.display()
                )));
            }
        }
        None => {
            let native = rustls_native_certs::load_native_certs();
            roots.add_parsable_certificates(native.certs);
            if roots.is_empty() {
                return Err(CliError::failure(
                    "irsa oidc thumbprint: no system root certificates found; pass --ca-file",
                ));
            }
        }
    }
    Ok(roots)
}

/// Connects to `endpoint`, completes a verified TLS handshake, and returns the chain the
/// server sent (leaf first).
pub(crate) async fn fetch_chain(
    endpoint: &Endpoint,
    roots: rustls::RootCertStore,
) -> Result<Vec<CertificateDer<'static>>, String> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS configuration: {e}"))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let name = ServerName::try_from(endpoint.host.clone())
        .map_err(|_| format!("{:?} is not a valid TLS server name", endpoint.host))?;
    let address = (endpoint.host.as_str(), endpoint.port);
    let handshake = async {
        let tcp = tokio::net::TcpStream::connect(address)
            .await
            .map_err(|e| format!("cannot connect to {}:{}: {e}", endpoint.host, endpoint.port))?;
        let tls = connector.connect(name, tcp).await.map_err(|e| {
            format!(
                "TLS handshake with {}:{} failed: {e}",
                endpoint.host, endpoint.port
            )
        })?;
        let chain: Vec<CertificateDer<'static>> = tls
            .get_ref()
            .1
            .peer_certificates()
            .map(|certs| certs.iter().map(|c| c.clone().into_owned()).collect())
            .unwrap_or_default();
        Ok::<_, String>(chain)
    };
    tokio::time::timeout(NETWORK_TIMEOUT, handshake)
        .await
        .map_err(|_| {
            format!(
                "timed out after {} s connecting to {}:{}",
                NETWORK_TIMEOUT.as_secs(),
                endpoint.host,
                endpoint.port
            )
        })?
}

fn thumbprint(args: &ThumbprintArgs) -> Result<String, CliError> {
    let endpoint = parse_endpoint(&args.url)
        .map_err(|e| CliError::usage(format!("irsa oidc thumbprint: {e}")))?;
    let roots = root_store(args.ca_file.as_deref())?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::failure(format!("irsa oidc thumbprint: runtime: {e}")))?;
    let chain = runtime
        .block_on(fetch_chain(&endpoint, roots))
        .map_err(|e| CliError::failure(format!("irsa oidc thumbprint: {e}")))?;
    irsa_jose::thumbprint::ca_thumbprint(&chain).map_err(|e| {
        CliError::failure(format!(
            "irsa oidc thumbprint: {}:{}: {e}",
            endpoint.host, endpoint.port
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
    use rustls::pki_types::PrivateKeyDer;

    #[test]
    fn endpoints_parse() {
        let e = |h: &str, p| Endpoint {
            host: h.into(),
            port: p,
        };
        assert_eq!(
            parse_endpoint("https://oidc.example.com/x/y"),
            Ok(e("oidc.example.com", 443))
        );
        assert_eq!(
            parse_endpoint("https://127.0.0.1:8443"),
            Ok(e("127.0.0.1", 8443))
        );
        assert_eq!(parse_endpoint("example.com"), Ok(e("example.com", 443)));
        assert_eq!(
            parse_endpoint("https://[::1]:9443/keys.json"),
            Ok(e("::1", 9443))
        );
        assert!(parse_endpoint("http://example.com").is_err());
        assert!(parse_endpoint("https://example.com:0").is_err());
        assert!(parse_endpoint("https://").is_err());
    }

    struct Pki {
        ca_der: Vec<u8>,
        ca_pem: String,
        leaf_der: Vec<u8>,
        leaf_key: Vec<u8>,
    }

    fn pki() -> Pki {
        let ca_key = KeyPair::generate().expect("ca key");
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("params");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca = ca_params.self_signed(&ca_key).expect("ca");
        let issuer = Issuer::new(ca_params, ca_key);
        let leaf_key = KeyPair::generate().expect("leaf key");
        let leaf = CertificateParams::new(vec!["127.0.0.1".to_string()])
            .expect("params")
            .signed_by(&leaf_key, &issuer)
            .expect("leaf");
        Pki {
            ca_der: ca.der().to_vec(),
            ca_pem: ca.pem(),
            leaf_der: leaf.der().to_vec(),
            leaf_key: leaf_key.serialize_der(),
        }
    }

    /// Serves one TLS handshake on 127.0.0.1 with `chain`; returns the port.
    async fn serve(chain: Vec<Vec<u8>>, key: Vec<u8>) -> u16 {
        let certs = chain.into_iter().map(CertificateDer::from).collect();
        let key = PrivateKeyDer::try_from(key).expect("key");
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("versions")
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .expect("server config");
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let port = listener.local_addr().expect("addr").port();
        tokio::spawn(async move {
            if let Ok((tcp, _)) = listener.accept().await {
                let _ = acceptor.accept(tcp).await;
            }
        });
        port
    }

    #[tokio::test]
    async fn thumbprint_is_the_sha1_of_the_ca_the_server_sends() {
        let pki = pki();
        let port = serve(
            vec![pki.leaf_der.clone(), pki.ca_der.clone()],
            pki.leaf_key.clone(),
        )
        .await;
        let mut roots = rustls::RootCertStore::empty();
        roots
            .add(CertificateDer::from(pki.ca_der.clone()))
            .expect("root");
        let chain = fetch_chain(
            &Endpoint {
                host: "127.0.0.1".into(),
                port,
            },
            roots,
        )
        .await
        .expect("chain");
        assert_eq!(chain.len(), 2);
        let thumb = irsa_jose::thumbprint::ca_thumbprint(&chain).expect("thumbprint");
        assert_eq!(thumb, irsa_jose::thumbprint::sha1_hex(&pki.ca_der));
        assert_eq!(thumb.len(), 40);
        assert!(pki.ca_pem.contains("BEGIN CERTIFICATE"));
    }

    #[tokio::test]
    async fn a_chain_without_a_ca_is_a_clear_error() {
        let pki = pki();
        let port = serve(vec![pki.leaf_der.clone()], pki.leaf_key.clone()).await;
        let mut roots = rustls::RootCertStore::empty();
        roots
            .add(CertificateDer::from(pki.ca_der.clone()))
            .expect("root");
        let chain = fetch_chain(
            &Endpoint {
                host: "127.0.0.1".into(),
                port,
            },
            roots,
        )
        .await
        .expect("chain");
        let err = irsa_jose::thumbprint::ca_thumbprint(&chain).expect_err("no CA");
        assert_eq!(
            err,
            irsa_jose::thumbprint::ThumbprintError::NoCa { count: 1 }
        );
    }

    #[tokio::test]
    async fn an_untrusted_server_fails_the_handshake() {
        let pki = pki();
        let other = self::pki();
        let port = serve(
            vec![pki.leaf_der.clone(), pki.ca_der.clone()],
            pki.leaf_key.clone(),
        )
        .await;
        let mut roots = rustls::RootCertStore::empty();
        roots
            .add(CertificateDer::from(other.ca_der.clone()))
            .expect("root");
        let err = fetch_chain(
            &Endpoint {
                host: "127.0.0.1".into(),
                port,
            },
            roots,
        )
        .await
        .expect_err("untrusted");
        assert!(err.contains("TLS handshake"), "{err}");
    }
}
