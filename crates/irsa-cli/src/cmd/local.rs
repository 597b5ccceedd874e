//! Wiring for `irsa local`, `irsa local token` and `irsa local exec`.
//!
//! `irsa local` starts the emulator (issuer, IAM, strict STS) and prints what a developer
//! needs to use it: endpoint, clusters, roles and `export` lines. `token` and `exec` are
//! clients of a running server: tokens are minted by the server, which holds the keys.

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use irsa_core::issuer::{DISCOVERY_PATH, JWKS_PATH};
use irsa_core::mutation::{
    DEFAULT_ANNOTATION_PREFIX, DEFAULT_TOKEN_EXPIRATION, ServiceAccountManifest,
};
use irsa_local::client::{DEFAULT_ENDPOINT, mint_token};
use irsa_local::config::{BootstrapOptions, Config, bootstrap_with_progress};
use irsa_local::exec::{ExecEnvironment, ExecRequest, PrivateDir, webhook_environment};
use irsa_local::server::{TokenRequest, TokenResponse};
use irsa_local::state::{
    Clock, DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCOUNT, DEFAULT_SECRET_ACCESS_KEY, Settings, SharedState,
};

use crate::output::{CliError, EXIT_FAILURE, Outcome, finish, write_stdout};
use crate::progress::Bar;

/// Arguments of `irsa local`.
#[derive(Debug, clap::Args)]
#[command(
    args_conflicts_with_subcommands = true,
    after_help = "Example:\n  irsa local\n  irsa local exec --cluster demo --namespace default \
     --service-account demo-app --role-arn arn:aws:iam::000000000000:role/demo-app \
     -- aws sts get-caller-identity"
)]
pub struct Args {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    serve: ServeArgs,
}

/// Subcommands of `irsa local`.
#[derive(Debug, clap::Subcommand)]
enum Command {
    /// Print a service-account token minted by the running `irsa local`.
    Token(TokenArgs),
    /// Run a command as a pod with IRSA would run it, against the running `irsa local`.
    Exec(ExecArgs),
}

/// Flags of the server itself.
#[derive(Debug, clap::Args)]
struct ServeArgs {
    /// Address to listen on (port 0 picks a free port; the chosen one is printed).
    #[arg(long, env = "IRSA_LOCAL_LISTEN", default_value = "127.0.0.1:8787")]
    listen: SocketAddr,
    /// Directory of the state database (clusters and keys, providers, roles, sessions).
    #[arg(long, env = "IRSA_LOCAL_DATA_DIR", default_value = ".irsa-local")]
    data_dir: PathBuf,
    /// YAML config of clusters and roles, applied idempotently at start. Without it an
    /// empty data directory gets the demo (cluster demo, role demo-app).
    #[arg(long, env = "IRSA_LOCAL_CONFIG", value_name = "FILE")]
    config: Option<PathBuf>,
    /// Access key ID of the local IAM admin (root of --account). A 12-digit account ID as
    /// access key ID, with the same secret, acts as the root of that account instead.
    #[arg(long, env = "IRSA_LOCAL_ACCESS_KEY_ID", default_value = DEFAULT_ACCESS_KEY_ID)]
    access_key_id: String,
    /// Secret access key of the local IAM admin.
    #[arg(long, env = "IRSA_LOCAL_SECRET_ACCESS_KEY", default_value = DEFAULT_SECRET_ACCESS_KEY, hide_env_values = true)]
    secret_access_key: String,
    /// Account of the admin credentials: signed IAM calls act in it.
    #[arg(long, env = "IRSA_LOCAL_ACCOUNT", default_value = DEFAULT_ACCOUNT)]
    account: String,
    /// PEM CA bundle used instead of the system roots to reach remote (non-local) issuers.
    #[arg(long, value_name = "FILE")]
    ca_file: Option<PathBuf>,
}

/// Flags shared by `token` and `exec`.
#[derive(Debug, clap::Args)]
struct TokenArgs {
    /// Local cluster name.
    #[arg(long)]
    cluster: String,
    /// Namespace of the service account.
    #[arg(long)]
    namespace: String,
    /// Service account name.
    #[arg(long)]
    service_account: String,
    /// Token audience (default: the cluster partition's, sts.amazonaws.com or
    /// sts.amazonaws.com.cn in China).
    #[arg(long)]
    audience: Option<String>,
    /// Token lifetime in seconds.
    #[arg(long, default_value_t = DEFAULT_TOKEN_EXPIRATION, value_name = "SECONDS")]
    expiration: i64,
    /// Issue time (UNIX seconds) instead of now, to mint already-expired tokens for tests.
    #[arg(long, value_name = "UNIX")]
    now: Option<i64>,
    /// Endpoint of the running `irsa local`.
    #[arg(long, env = "IRSA_LOCAL_ENDPOINT", default_value = DEFAULT_ENDPOINT)]
    endpoint: String,
}

/// Flags of `exec`.
#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("role").required(true).args(["role_arn", "service_account_file"])))]
struct ExecArgs {
    /// Local cluster name.
    #[arg(long)]
    cluster: String,
    /// Namespace of the service account (default: the manifest's, else `default`).
    #[arg(long)]
    namespace: Option<String>,
    /// Service account name (default: the manifest's metadata.name).
    #[arg(long)]
    service_account: Option<String>,
    /// Role to assume (what the eks.amazonaws.com/role-arn annotation would say).
    #[arg(long, value_name = "ARN")]
    role_arn: Option<String>,
    /// A ServiceAccount manifest; its role-arn, audience, token-expiration and
    /// sts-regional-endpoints annotations are read as the webhook reads them.
    #[arg(long, value_name = "SA.yaml")]
    service_account_file: Option<PathBuf>,
    /// Prefix of the ServiceAccount annotations (the webhook's --annotation-prefix).
    #[arg(long, default_value = DEFAULT_ANNOTATION_PREFIX)]
    annotation_prefix: String,
    /// Token audience (default: the manifest's, else the cluster partition's).
    #[arg(long)]
    audience: Option<String>,
    /// Token lifetime in seconds, used as given (default: the manifest's, else 86400).
    #[arg(long, value_name = "SECONDS")]
    expiration: Option<i64>,
    /// Endpoint of the running `irsa local`.
    #[arg(long, env = "IRSA_LOCAL_ENDPOINT", default_value = DEFAULT_ENDPOINT)]
    endpoint: String,
    /// The command and its arguments.
    #[arg(last = true, required = true, value_name = "CMD")]
    command: Vec<String>,
}

/// Runs the command.
pub fn run(args: Args) -> ExitCode {
    let runtime = match irsa_runtime::runtime() {
        Ok(r) => r,
        Err(e) => {
            return finish::<()>(Err(CliError::failure(format!(
                "irsa local: cannot start runtime: {e}"
            ))));
        }
    };
    match args.command {
        None => finish(runtime.block_on(serve(args.serve))),
        Some(Command::Token(t)) => finish(runtime.block_on(token(t))),
        Some(Command::Exec(e)) => finish(runtime.block_on(exec(e))),
    }
}

async fn exec(args: ExecArgs) -> Result<Outcome, CliError> {
    let (env, dir) = prepare_exec(&args).await?;
    let result = irsa_local::exec::run(&env, &args.command).await;
    drop(dir); // removes the token before this process exits
    match result {
        Ok(code) => Ok(Outcome::Status(
            u8::try_from(code.clamp(0, 255)).unwrap_or(EXIT_FAILURE),
        )),
        Err(err) => Err(CliError::failure(format!("irsa local exec: {err}"))),
    }
}

async fn serve(args: ServeArgs) -> Result<(), CliError> {
    irsa_runtime::init_logging("info", irsa_runtime::LogFormat::Text);
    if args.account.len() != 12 || !args.account.bytes().all(|b| b.is_ascii_digit()) {
        return Err(CliError::usage(format!(
            "irsa local: --account must be 12 digits, got {:?}",
            args.account
        )));
    }
    let config = match &args.config {
        None => None,
        Some(path) => match Config::load(path) {
            Ok(c) => Some(c),
            Err(e) => return Err(CliError::usage(format!("irsa local: {e}"))),
        },
    };
    let mut settings = Settings {
        root_access_key_id: args.access_key_id.clone(),
        root_secret_access_key: args.secret_access_key.clone(),
        root_account: args.account.clone(),
        ..Settings::default()
    };
    settings.remote_issuer.ca_file.clone_from(&args.ca_file);
    let booted = match bootstrap_with_progress(
        BootstrapOptions {
            data_dir: args.data_dir.clone(),
            config,
            settings,
            clock: Clock::system(),
        },
        &Bar::stderr(),
    )
    .await
    {
        Ok(b) => b,
        Err(e) => return Err(CliError::failure(format!("irsa local: {e}"))),
    };
    let listener = match tokio::net::TcpListener::bind(args.listen).await {
        Ok(l) => l,
        Err(e) => {
            return Err(CliError::failure(format!(
                "irsa local: cannot listen on {}: {e}",
                args.listen
            )));
        }
    };
    let addr = listener.local_addr().unwrap_or(args.listen);
    let state = booted.state.clone();
    let banner = banner(&state, addr, &args);
    write_stdout(&banner)?;
    let _ = std::io::stdout().flush();
    if !addr.ip().is_loopback() {
        tracing::warn!(
            %addr,
            "listening beyond loopback: anyone who can reach this address can mint service-account tokens (/_irsa/token) and knows the default admin credentials"
        );
    }
    tracing::info!(%addr, writes = booted.report.writes, "irsa local ready");
    let result =
        irsa_local::server::serve(listener, state.clone(), irsa_runtime::shutdown_signal()).await;
    state.store.close();
    match result {
        Ok(()) => {
            tracing::info!("irsa local stopped");
            Ok(())
        }
        Err(e) => Err(CliError::failure(format!("irsa local: server error: {e}"))),
    }
}

fn banner(state: &SharedState, addr: SocketAddr, args: &ServeArgs) -> String {
    let endpoint = format!("http://{addr}");
    let mut out = String::new();
    let mut line = |s: String| {
        out.push_str(&s);
        out.push('\n');
    };
    line(format!(
        "irsa local listening on {endpoint} (data: {})",
        args.data_dir.display()
    ));
    line(String::new());
    line("Clusters:".into());
    let mut first_region = None;
    let mut example = None;
    for c in state.clusters.iter() {
        first_region.get_or_insert_with(|| c.region.clone());
        line(format!(
            "  {}  account {}  region {}",
            c.name, c.account, c.region
        ));
        line(format!("    issuer     {}", c.issuer));
        line(format!("    provider   {}", c.provider_arn(c.account_id())));
        line(format!(
            "    discovery  {endpoint}{}/{DISCOVERY_PATH}",
            c.path_prefix
        ));
        line(format!(
            "    keys       {endpoint}{}/{JWKS_PATH}",
            c.path_prefix
        ));
    }
    line(String::new());
    line("Roles:".into());
    for r in state.store.all_roles() {
        line(format!("  {}", r.arn()));
        if example.is_none() && r.name == "demo-app" {
            example = Some(r.arn());
        }
    }
    line(String::new());
    line(format!(
        "IAM admin credentials (account {}): access key {} / secret {}",
        args.account, args.access_key_id, args.secret_access_key
    ));
    line("  (for another account, use its 12-digit ID as access key with the same secret)".into());
    line(String::new());
    line("# Use the emulator from this shell:".into());
    let region = first_region.unwrap_or_else(|| "eu-west-1".into());
    line(format!("export AWS_ENDPOINT_URL_STS={endpoint}"));
    line(format!("export AWS_ENDPOINT_URL_IAM={endpoint}"));
    line(format!(
        "export AWS_REGION={region} AWS_DEFAULT_REGION={region}"
    ));
    line(format!(
        "export AWS_ACCESS_KEY_ID={} AWS_SECRET_ACCESS_KEY={}",
        args.access_key_id, args.secret_access_key
    ));
    if let Some(arn) = example {
        line("# Run a command as the demo service account:".into());
        line(format!(
            "irsa local exec --endpoint {endpoint} --cluster demo --namespace default --service-account demo-app --role-arn {arn} -- aws sts get-caller-identity"
        ));
    }
    out.trim_end().to_string()
}

async fn token(args: TokenArgs) -> Result<String, CliError> {
    let request = TokenRequest {
        cluster: args.cluster,
        namespace: args.namespace,
        service_account: args.service_account,
        audience: args.audience,
        expiration_seconds: Some(args.expiration),
        now: args.now,
    };
    match mint_token(&args.endpoint, &request).await {
        Ok(TokenResponse { token, .. }) => Ok(token),
        Err(e) => Err(CliError::failure(format!("irsa local token: {e}"))),
    }
}

async fn prepare_exec(args: &ExecArgs) -> Result<(ExecEnvironment, PrivateDir), CliError> {
    let manifest = match &args.service_account_file {
        None => None,
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|e| {
                CliError::usage(format!(
                    "irsa local exec: cannot read {}: {e}",
                    path.display()
                ))
            })?;
            Some(
                ServiceAccountManifest::parse(&text, &args.annotation_prefix).map_err(|e| {
                    CliError::usage(format!("irsa local exec: {}: {e}", path.display()))
                })?,
            )
        }
    };
    let request = ExecRequest {
        cluster: args.cluster.clone(),
        namespace: args.namespace.clone(),
        service_account: args.service_account.clone(),
        role_arn: args.role_arn.clone(),
        audience: args.audience.clone(),
        expiration: args.expiration,
        manifest,
    };
    let resolved = request
        .resolve()
        .map_err(|e| CliError::usage(format!("irsa local exec: {e}")))?;
    let minted = mint_token(&args.endpoint, &resolved.token)
        .await
        .map_err(|e| CliError::failure(format!("irsa local exec: {e}")))?;
    let webhook = webhook_environment(
        &resolved.identity,
        &resolved.token.namespace,
        &resolved.token.service_account,
        &minted.region,
    )
    .map_err(|e| CliError::failure(format!("irsa local exec: {e}")))?;
    let dir =
        PrivateDir::create().map_err(|e| CliError::failure(format!("irsa local exec: {e}")))?;
    let token_file = dir
        .write("token", minted.token.as_bytes())
        .map_err(|e| CliError::failure(format!("irsa local exec: {e}")))?;
    let empty = dir
        .write("aws-config", b"")
        .map_err(|e| CliError::failure(format!("irsa local exec: {e}")))?;
    Ok((
        ExecEnvironment {
            webhook,
            token_file,
            endpoint: args.endpoint.clone(),
            empty_aws_file: empty,
        },
        dir,
    ))
}
