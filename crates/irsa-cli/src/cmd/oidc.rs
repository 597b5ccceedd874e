//! Wiring for `irsa oidc …`: signing keys, the public issuer documents, the IAM thumbprint
//! and the kube-apiserver flags. The logic is in irsa-jose; this file reads and writes files
//! and asks irsa-issuer-client for the one network operation (the thumbprint).

use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use irsa_aws::keydir::write_atomic;
use irsa_core::issuer::{ClusterIssuer, DISCOVERY_PATH, JWKS_PATH};
use irsa_issuer_client::{IssuerClient, IssuerClientConfig, IssuerError};
use irsa_jose::apiserver::{ApiserverFlagsInput, apiserver_flags};
use irsa_jose::keys::{KeySpec, PrivateKey, RsaBits, parse_public_keys_pem};
use irsa_jose::{DiscoveryDocument, JwkSet, PublicKey};

use crate::output::{CliError, finish};

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
    finish(result)
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
    let config_path = args.out.join(DISCOVERY_PATH);
    let jwks_path = args.out.join(JWKS_PATH);
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
    let well_known = config_path.parent().unwrap_or(&args.out);
    fs::create_dir_all(well_known).map_err(|e| {
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

fn thumbprint(args: &ThumbprintArgs) -> Result<String, CliError> {
    let config = IssuerClientConfig {
        ca_file: args.ca_file.clone(),
        ..IssuerClientConfig::default()
    };
    let thumbprint = block_on_issuer("oidc thumbprint", async {
        IssuerClient::new(&config)?.thumbprint(&args.url).await
    })?;
    Ok(thumbprint.sha1)
}

/// Runs one issuer-client call on a current-thread runtime; the client's error becomes a
/// usage error when the caller's input is at fault, a failure otherwise.
pub(crate) fn block_on_issuer<T>(
    command: &str,
    call: impl std::future::Future<Output = Result<T, IssuerError>>,
) -> Result<T, CliError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::failure(format!("irsa {command}: runtime: {e}")))?;
    runtime.block_on(call).map_err(|e| {
        let message = format!("irsa {command}: {e}");
        if e.is_input_error() {
            CliError::usage(message)
        } else {
            CliError::failure(message)
        }
    })
}
