//! Wiring for `irsa token …`: mint kube-apiserver-shaped service-account tokens, and verify
//! tokens with the strict verifier (the same code the local STS uses).

use super::unix_now;
use std::path::PathBuf;
use std::process::ExitCode;

use irsa_core::mutation::DEFAULT_TOKEN_EXPIRATION_SECS;
use irsa_core::trust_policy::DEFAULT_AUDIENCE;
use irsa_jose::jwk::JwkSet;
use irsa_jose::verify::DEFAULT_LEEWAY_SECS;
use irsa_jose::{MintRequest, Signer, Verifier, VerifyOptions};

use irsa_issuer_client::{IssuerClient, IssuerClientConfig};

use super::oidc::{block_on_issuer, check_issuer, read_file};
use crate::output::{CliError, finish};

/// Subcommands of `irsa token`.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Mint a service-account token shaped like kube-apiserver's projected tokens.
    Mint(MintArgs),
    /// Verify a token strictly; print its claims (exit 0) or the reason it is rejected (exit 1).
    Verify(VerifyArgs),
}

/// Arguments of `irsa token mint`.
#[derive(Debug, clap::Args)]
pub struct MintArgs {
    /// The signing key (PKCS#1, PKCS#8 or SEC1 PEM).
    #[arg(long, value_name = "FILE")]
    pub key: PathBuf,
    /// The issuer (`iss`).
    #[arg(long, value_name = "URL")]
    pub issuer: String,
    /// The service account's namespace.
    #[arg(long, value_name = "NS")]
    pub namespace: String,
    /// The service account's name.
    #[arg(long, value_name = "SA")]
    pub service_account: String,
    /// An audience; repeat for several. Default: sts.amazonaws.com.
    #[arg(long = "audience", value_name = "A")]
    pub audiences: Vec<String>,
    /// Lifetime in seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = DEFAULT_TOKEN_EXPIRATION_SECS)]
    pub expiration: u64,
    /// Bind the token to a pod: its name (requires --pod-uid).
    #[arg(long, value_name = "N", requires = "pod_uid")]
    pub pod_name: Option<String>,
    /// The bound pod's UID (requires --pod-name).
    #[arg(long, value_name = "U", requires = "pod_name")]
    pub pod_uid: Option<String>,
    /// The service account's UID.
    #[arg(long, value_name = "U")]
    pub service_account_uid: Option<String>,
    /// Issue time (Unix seconds) instead of now.
    #[arg(long, value_name = "UNIX", allow_negative_numbers = true)]
    pub now: Option<i64>,
}

/// Arguments of `irsa token verify`.
#[derive(Debug, clap::Args)]
pub struct VerifyArgs {
    /// The token (compact JWS).
    #[arg(
        value_name = "TOKEN",
        required_unless_present = "token_file",
        conflicts_with = "token_file"
    )]
    pub token: Option<String>,
    /// Read the token from a file (trailing newline allowed).
    #[arg(long, value_name = "F")]
    pub token_file: Option<PathBuf>,
    /// The JWKS: a file, or a URL of a JWKS or of a discovery document (whose `issuer`
    /// must equal --issuer). URLs are fetched as the STS fetches remote issuers: https://
    /// (plain http:// only to a loopback host), at most 1 MiB, 10 s timeout.
    #[arg(long, value_name = "FILE_OR_URL")]
    pub jwks: String,
    /// Trust only the CA certificates in this PEM file for an https:// --jwks URL
    /// (default: the system's roots).
    #[arg(long, value_name = "PEM")]
    pub ca_file: Option<PathBuf>,
    /// The expected issuer, compared byte for byte with `iss`.
    #[arg(long, value_name = "URL")]
    pub issuer: String,
    /// The expected audience; repeat to accept any of several.
    #[arg(long = "audience", value_name = "A", required = true)]
    pub audiences: Vec<String>,
    /// Allowed clock skew in seconds for exp, nbf and iat.
    #[arg(long, value_name = "S", default_value_t = DEFAULT_LEEWAY_SECS)]
    pub leeway: u64,
    /// Verify as of this time (Unix seconds) instead of now.
    #[arg(long, value_name = "UNIX", allow_negative_numbers = true)]
    pub now: Option<i64>,
}

/// Runs the command.
pub fn run(command: Command) -> ExitCode {
    let result = match command {
        Command::Mint(args) => mint(&args),
        Command::Verify(args) => verify(&args),
    };
    finish(result)
}

fn mint(args: &MintArgs) -> Result<String, CliError> {
    check_issuer("token mint", &args.issuer)?;
    let pem = read_file("token mint", "--key", &args.key)?;
    let signer = Signer::from_pem(&args.key.display().to_string(), &pem)
        .map_err(|e| CliError::usage(format!("irsa token mint: --key {e}")))?;
    let mut request = MintRequest::new(
        args.issuer.clone(),
        args.namespace.clone(),
        args.service_account.clone(),
        args.now.unwrap_or_else(unix_now),
    );
    if !args.audiences.is_empty() {
        request.audiences.clone_from(&args.audiences);
    } else {
        request.audiences = vec![DEFAULT_AUDIENCE.to_string()];
    }
    request.expiration_secs = args.expiration;
    request
        .service_account_uid
        .clone_from(&args.service_account_uid);
    if let (Some(name), Some(uid)) = (&args.pod_name, &args.pod_uid) {
        request.pod = Some((name.clone(), uid.clone()));
    }
    signer
        .mint(&request)
        .map_err(|e| CliError::usage(format!("irsa token mint: {e}")))
}

fn verify(args: &VerifyArgs) -> Result<String, CliError> {
    let token = match (&args.token, &args.token_file) {
        (Some(token), _) => token.clone(),
        (None, Some(path)) => {
            let bytes = read_file("token verify", "--token-file", path)?;
            String::from_utf8(bytes).map_err(|_| {
                CliError::failure(format!(
                    "irsa token verify: rejected (not_utf8): {} is not UTF-8 text",
                    path.display()
                ))
            })?
        }
        (None, None) => {
            return Err(CliError::usage(
                "irsa token verify: give TOKEN or --token-file",
            ));
        }
    };
    let jwks = if args.jwks.contains("://") {
        // The same client, with the same rules, as the STS uses for remote issuers.
        let client = IssuerClient::new(&IssuerClientConfig {
            ca_file: args.ca_file.clone(),
            ..IssuerClientConfig::default()
        });
        block_on_issuer("token verify", async {
            client?.jwks_at(&args.jwks, &args.issuer).await
        })?
    } else {
        let bytes = read_file("token verify", "--jwks", std::path::Path::new(&args.jwks))?;
        JwkSet::parse(&bytes)
            .map_err(|e| CliError::usage(format!("irsa token verify: --jwks {}: {e}", args.jwks)))?
    };
    let options = VerifyOptions {
        issuer: args.issuer.clone(),
        audiences: args.audiences.clone(),
        leeway_secs: args.leeway,
    };
    let verifier = Verifier::new(&jwks, options)
        .map_err(|e| CliError::usage(format!("irsa token verify: --jwks {}: {e}", args.jwks)))?;
    let verified = verifier
        .verify(&token, args.now.unwrap_or_else(unix_now))
        .map_err(|e| {
            CliError::failure(format!("irsa token verify: rejected ({}): {e}", e.reason()))
        })?;
    serde_json::to_string_pretty(&verified.claims)
        .map_err(|e| CliError::failure(format!("irsa token verify: {e}")))
}
