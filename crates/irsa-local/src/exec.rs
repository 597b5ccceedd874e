//! `irsa local exec`: run a program as a pod with IRSA would run it.
//!
//! The program gets exactly what the pod identity webhook injects (`AWS_ROLE_ARN`,
//! `AWS_WEB_IDENTITY_TOKEN_FILE`, region variables, `AWS_STS_REGIONAL_ENDPOINTS`): the
//! ServiceAccount manifest is read with the webhook's parser and the variables come from the
//! webhook's planner ([`webhook_environment`]). Flags override the manifest
//! ([`ExecRequest::resolve`]). `AWS_ENDPOINT_URL_STS`/`_IAM` point at the emulator. Ambient credentials are
//! removed, and `AWS_CONFIG_FILE`/`AWS_SHARED_CREDENTIALS_FILE` point at empty files,
//! because both SDK chains prefer static keys and (in Rust) any profile over web identity:
//! a pod has neither, so a local run must not either, or it would test the developer's
//! own credentials instead of the role.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use irsa_core::mutation::{
    self, ENV_WEB_IDENTITY_TOKEN_FILE, MutationError, PlanInputs, ServiceAccountIdentity,
    ServiceAccountManifest, WebhookConfig,
};

use crate::server::TokenRequest;

/// Variables removed from the child's environment.
pub const REMOVED_VARIABLES: &[&str] = &[
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_ROLE_SESSION_NAME",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN",
];

/// Why the program could not be run.
#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    /// The private token directory or file could not be written.
    #[error("cannot write the token file under {path}: {source}")]
    TokenFile {
        /// The token directory or file that could not be written.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// The program could not be started.
    #[error("cannot run {program:?}: {source}")]
    Spawn {
        /// The program as given on the command line.
        program: String,
        /// The operating system's error (not found, permission denied…).
        source: std::io::Error,
    },
    /// No program given.
    #[error("no command given after --")]
    NoCommand,
}

/// A private directory (0700) holding the token (0600) and empty AWS config files,
/// removed on drop.
#[derive(Debug)]
pub struct PrivateDir {
    path: PathBuf,
}

impl PrivateDir {
    /// Creates a fresh directory under the system temp dir.
    pub fn create() -> Result<Self, ExecError> {
        let base = std::env::temp_dir();
        let mut last_error = None;
        for _ in 0..8 {
            let path = base.join(format!(
                "irsa-local-exec-{}",
                crate::ids::prefixed_id("", 16).to_ascii_lowercase()
            ));
            let mut builder = std::fs::DirBuilder::new();
            #[cfg(unix)]
            {
                use std::os::unix::fs::DirBuilderExt as _;
                builder.mode(0o700);
            }
            match builder.create(&path) {
                Ok(()) => return Ok(Self { path }),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => last_error = Some(e),
                Err(source) => return Err(ExecError::TokenFile { path, source }),
            }
        }
        Err(ExecError::TokenFile {
            path: base,
            source: last_error.unwrap_or_else(|| std::io::Error::other("no unique name")),
        })
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Writes `contents` to `name` inside the directory with mode 0600.
    pub fn write(&self, name: &str, contents: &[u8]) -> Result<PathBuf, ExecError> {
        let path = self.path.join(name);
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt as _;
            options.mode(0o600);
        }
        let err = |source| ExecError::TokenFile {
            path: path.clone(),
            source,
        };
        let mut file = options.open(&path).map_err(err)?;
        file.write_all(contents).map_err(err)?;
        Ok(path)
    }
}

impl Drop for PrivateDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// What `irsa local exec` was asked for: its flags and, with `--service-account-file`, the
/// ServiceAccount manifest (read by [`ServiceAccountManifest::parse`], the webhook's parser).
#[derive(Debug, Clone, Default)]
pub struct ExecRequest {
    /// `--cluster`.
    pub cluster: String,
    /// `--namespace`.
    pub namespace: Option<String>,
    /// `--service-account`.
    pub service_account: Option<String>,
    /// `--role-arn`.
    pub role_arn: Option<String>,
    /// `--audience`.
    pub audience: Option<String>,
    /// `--expiration`, seconds, used as given (an explicit flag, unlike the annotation, is
    /// not raised to the webhook's 600 s minimum, so that tests can mint short tokens).
    pub expiration: Option<i64>,
    /// The manifest, when one was given.
    pub manifest: Option<ServiceAccountManifest>,
}

/// Why `irsa local exec` cannot run with the given flags and manifest.
#[derive(Debug, thiserror::Error)]
pub enum ExecPlanError {
    /// No role from the flag, and none the webhook would read from the manifest.
    #[error(
        "no role to assume: pass --role-arn, or a ServiceAccount with a non-empty role-arn annotation under the annotation prefix"
    )]
    NoRole,
    /// No service account name from the flag or the manifest.
    #[error("--service-account is required (or a manifest with metadata.name)")]
    NoServiceAccount,
    /// The webhook's planner refused (not expected for the pod built here).
    #[error("planning the webhook's mutation: {0}")]
    Mutation(#[from] MutationError),
}

/// The decisions of [`ExecRequest::resolve`]: whom to mint a token for, and the
/// ServiceAccount settings the webhook would act on.
#[derive(Debug, Clone)]
pub struct ResolvedExec {
    /// What to ask the server to mint (no audience or expiration means the server's
    /// defaults: the cluster partition's audience, 86,400 s).
    pub token: TokenRequest,
    /// The ServiceAccount settings after flags override the manifest.
    pub identity: ServiceAccountIdentity,
}

impl ExecRequest {
    /// Applies the precedence: a flag wins over the manifest, the manifest over the defaults
    /// (namespace `default`). The manifest's values are what the webhook reads (an empty
    /// `role-arn` is no role, `token-expiration` below 600 is 600, `"1h"` is ignored).
    pub fn resolve(&self) -> Result<ResolvedExec, ExecPlanError> {
        let manifest = self.manifest.clone().unwrap_or_default();
        let role_arn = self
            .role_arn
            .clone()
            .filter(|r| !r.is_empty())
            .or(manifest.identity.role_arn)
            .ok_or(ExecPlanError::NoRole)?;
        let namespace = self
            .namespace
            .clone()
            .or(manifest.namespace)
            .unwrap_or_else(|| "default".into());
        let service_account = self
            .service_account
            .clone()
            .or(manifest.name)
            .ok_or(ExecPlanError::NoServiceAccount)?;
        let identity = ServiceAccountIdentity {
            role_arn: Some(role_arn),
            audience: self.audience.clone().or(manifest.identity.audience),
            sts_regional_endpoints: manifest.identity.sts_regional_endpoints,
            token_expiration: self.expiration.or(manifest.identity.token_expiration),
        };
        Ok(ResolvedExec {
            token: TokenRequest {
                cluster: self.cluster.clone(),
                namespace,
                service_account,
                audience: identity.audience.clone(),
                expiration_seconds: identity.token_expiration,
                now: None,
            },
            identity,
        })
    }
}

/// The container of the pod [`webhook_environment`] plans for.
const EXEC_CONTAINER: &str = "exec";

/// The environment the webhook would give a container of a pod running as `namespace`/
/// `service_account` with `identity`, in the webhook's order: the webhook's own planner runs
/// on a one-container pod, configured as a webhook for this cluster would be
/// (`--aws-default-region` the cluster's region, `--sts-regional-endpoint`), so `local
/// exec` and the webhook cannot disagree.
pub fn webhook_environment(
    identity: &ServiceAccountIdentity,
    namespace: &str,
    service_account: &str,
    region: &str,
) -> Result<Vec<(String, String)>, MutationError> {
    let pod = serde_json::json!({
        "metadata": {"namespace": namespace},
        "spec": {
            "serviceAccountName": service_account,
            "containers": [{"name": EXEC_CONTAINER}],
        },
    });
    let config = WebhookConfig {
        aws_default_region: Some(region.to_owned()),
        sts_regional_endpoint: true,
        ..WebhookConfig::default()
    };
    let ops = mutation::plan(&pod, Some(identity), &config, &PlanInputs::default())?;
    let mutated = mutation::apply_plan(&pod, &ops)?;
    let env = mutated
        .pointer("/spec/containers/0/env")
        .and_then(serde_json::Value::as_array)
        .map(|env| {
            env.iter()
                .filter_map(|e| {
                    Some((
                        e.get("name")?.as_str()?.to_owned(),
                        e.get("value")?.as_str()?.to_owned(),
                    ))
                })
                .collect()
        })
        .unwrap_or_default();
    Ok(env)
}

/// What the child gets.
#[derive(Debug, Clone)]
pub struct ExecEnvironment {
    /// The webhook's variables ([`webhook_environment`]); `AWS_WEB_IDENTITY_TOKEN_FILE` is
    /// replaced by [`token_file`](Self::token_file).
    pub webhook: Vec<(String, String)>,
    /// The token file.
    pub token_file: PathBuf,
    /// The emulator's endpoint (for STS and IAM).
    pub endpoint: String,
    /// Empty file for `AWS_CONFIG_FILE` and `AWS_SHARED_CREDENTIALS_FILE`.
    pub empty_aws_file: PathBuf,
}

impl ExecEnvironment {
    /// The variables to set, in a fixed order: the webhook's, then the emulator's endpoints
    /// and the empty AWS files.
    pub fn variables(&self) -> Vec<(String, String)> {
        let endpoint = self.endpoint.trim_end_matches('/').to_string();
        let mut vars: Vec<(String, String)> = self
            .webhook
            .iter()
            .map(|(name, value)| {
                let value = if name == ENV_WEB_IDENTITY_TOKEN_FILE {
                    self.token_file.display().to_string()
                } else {
                    value.clone()
                };
                (name.clone(), value)
            })
            .collect();
        let empty = self.empty_aws_file.display().to_string();
        for (name, value) in [
            ("AWS_ENDPOINT_URL_STS", endpoint.clone()),
            ("AWS_ENDPOINT_URL_IAM", endpoint),
            ("AWS_CONFIG_FILE", empty.clone()),
            ("AWS_SHARED_CREDENTIALS_FILE", empty),
        ] {
            vars.push((name.to_owned(), value));
        }
        vars
    }

    /// A command for `argv` with this environment applied.
    pub fn command(&self, argv: &[String]) -> Result<Command, ExecError> {
        let (program, args) = argv.split_first().ok_or(ExecError::NoCommand)?;
        let mut command = Command::new(program);
        command.args(args);
        for name in REMOVED_VARIABLES {
            command.env_remove(name);
        }
        for (name, value) in self.variables() {
            command.env(name, value);
        }
        Ok(command)
    }
}

fn exit_code(status: std::process::ExitStatus) -> i32 {
    if let Some(code) = status.code() {
        return code;
    }
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt as _;
        if let Some(signal) = status.signal() {
            return 128 + signal;
        }
    }
    1
}

/// Runs `argv` with `env` and returns its exit code (128 + signal when killed).
///
/// While the child runs, Ctrl-C does not kill this process (the terminal delivers it to
/// the child too, which decides), and SIGTERM is passed on as a kill of the child, so the
/// token directory is always cleaned up by the caller afterwards.
pub async fn run(env: &ExecEnvironment, argv: &[String]) -> Result<i32, ExecError> {
    let command = env.command(argv)?;
    let program = argv.first().cloned().unwrap_or_default();
    // Take over SIGINT/SIGTERM before the child exists, so there is no window in which
    // they would kill this process and leave the token behind.
    let mut signals = Signals::install();
    let mut child = tokio::process::Command::from(command)
        .kill_on_drop(true)
        .spawn()
        .map_err(|source| ExecError::Spawn {
            program: program.clone(),
            source,
        })?;
    loop {
        tokio::select! {
            status = child.wait() => {
                let status = status.map_err(|source| ExecError::Spawn { program, source })?;
                return Ok(exit_code(status));
            }
            kill = signals.next() => {
                if kill {
                    let _ = child.start_kill();
                }
            }
        }
    }
}

/// SIGINT (ignored: the terminal sends it to the child too) and SIGTERM (kill the child).
struct Signals {
    #[cfg(unix)]
    interrupt: Option<tokio::signal::unix::Signal>,
    #[cfg(unix)]
    terminate: Option<tokio::signal::unix::Signal>,
}

impl Signals {
    fn install() -> Self {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            Self {
                interrupt: signal(SignalKind::interrupt()).ok(),
                terminate: signal(SignalKind::terminate()).ok(),
            }
        }
        #[cfg(not(unix))]
        {
            Self {}
        }
    }

    /// Waits for the next signal; `true` when the child should be killed.
    async fn next(&mut self) -> bool {
        #[cfg(unix)]
        {
            async fn recv(s: &mut Option<tokio::signal::unix::Signal>) {
                match s.as_mut() {
                    Some(s) => {
                        s.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            }
            tokio::select! {
                () = recv(&mut self.interrupt) => false,
                () = recv(&mut self.terminate) => true,
            }
        }
        #[cfg(not(unix))]
        {
            std::future::pending::<bool>().await
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest(annotations: &[(&str, &str)], prefix: &str) -> ServiceAccountManifest {
        let mut yaml = String::from(
            "apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: app\n  namespace: prod\n  annotations:\n",
        );
        for (k, v) in annotations {
            yaml.push_str(&format!("    {k}: {}\n", serde_json::to_string(v).unwrap()));
        }
        ServiceAccountManifest::parse(&yaml, prefix).expect("manifest")
    }

    /// The webhook's view of the same ServiceAccount: its projected volume and env for a
    /// pod of that ServiceAccount, planned with the annotations as the webhook reads them.
    fn webhook_view(
        annotations: &[(&str, &str)],
        prefix: &str,
    ) -> (Option<String>, Option<i64>, Vec<(String, String)>) {
        let a = annotations
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let identity = ServiceAccountIdentity::from_annotations(prefix, &a);
        let pod = serde_json::json!({"metadata": {"namespace": "prod"},
            "spec": {"serviceAccountName": "app", "containers": [{"name": "c"}]}});
        let config = WebhookConfig {
            annotation_prefix: prefix.to_owned(),
            aws_default_region: Some("eu-west-1".into()),
            sts_regional_endpoint: true,
            ..WebhookConfig::default()
        };
        let ops = mutation::plan(&pod, Some(&identity), &config, &PlanInputs::default()).unwrap();
        let out = mutation::apply_plan(&pod, &ops).unwrap();
        let token = out.pointer("/spec/volumes/0/projected/sources/0/serviceAccountToken");
        let env = out
            .pointer("/spec/containers/0/env")
            .and_then(serde_json::Value::as_array)
            .map(|env| {
                env.iter()
                    .map(|e| {
                        (
                            e["name"].as_str().unwrap().to_owned(),
                            e["value"].as_str().unwrap().to_owned(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        (
            token.and_then(|t| t["audience"].as_str().map(str::to_owned)),
            token.and_then(|t| t["expirationSeconds"].as_i64()),
            env,
        )
    }

    /// `local exec --service-account-file` and the webhook agree on every annotation: the
    /// role (an empty one is none), the audience, the expiration (raised to 600, `"1h"`
    /// ignored), the regional-STS switch and a custom prefix.
    #[test]
    fn exec_and_webhook_agree_on_annotations() {
        const ROLE: &str = "arn:aws:iam::000000000000:role/app";
        let eks = "eks.amazonaws.com";
        let table: &[(&str, &[(&str, &str)])] = &[
            (eks, &[("eks.amazonaws.com/role-arn", ROLE)]),
            (
                eks,
                &[
                    ("eks.amazonaws.com/role-arn", ROLE),
                    ("eks.amazonaws.com/token-expiration", "300"),
                ],
            ),
            (
                eks,
                &[
                    ("eks.amazonaws.com/role-arn", ROLE),
                    ("eks.amazonaws.com/token-expiration", "1h"),
                    ("eks.amazonaws.com/audience", "custom-aud"),
                ],
            ),
            (
                eks,
                &[
                    ("eks.amazonaws.com/role-arn", ROLE),
                    ("eks.amazonaws.com/token-expiration", "7200"),
                    ("eks.amazonaws.com/sts-regional-endpoints", "false"),
                ],
            ),
            (eks, &[("eks.amazonaws.com/role-arn", "")]),
            (
                "corp.example",
                &[
                    ("corp.example/role-arn", ROLE),
                    ("corp.example/token-expiration", "900"),
                ],
            ),
            ("corp.example", &[("eks.amazonaws.com/role-arn", ROLE)]),
        ];
        for (prefix, annotations) in table {
            let (audience, expiration, webhook_env) = webhook_view(annotations, prefix);
            let request = ExecRequest {
                cluster: "demo".into(),
                manifest: Some(manifest(annotations, prefix)),
                ..ExecRequest::default()
            };
            let resolved = match request.resolve() {
                Ok(r) => r,
                Err(ExecPlanError::NoRole) => {
                    assert!(webhook_env.is_empty(), "{annotations:?}: webhook injects");
                    continue;
                }
                Err(e) => panic!("{annotations:?}: {e}"),
            };
            assert_eq!(resolved.token.namespace, "prod");
            assert_eq!(resolved.token.service_account, "app");
            // What is minted: the webhook's volume values (no value = the server's default,
            // which is the webhook's flag default).
            assert_eq!(
                resolved
                    .token
                    .audience
                    .as_deref()
                    .unwrap_or("sts.amazonaws.com"),
                audience.as_deref().unwrap_or_default(),
                "{annotations:?}"
            );
            assert_eq!(
                resolved
                    .token
                    .expiration_seconds
                    .unwrap_or(mutation::DEFAULT_TOKEN_EXPIRATION),
                expiration.unwrap_or_default(),
                "{annotations:?}"
            );
            let exec_env =
                webhook_environment(&resolved.identity, "prod", "app", "eu-west-1").unwrap();
            assert_eq!(exec_env, webhook_env, "{annotations:?}");
        }
    }

    #[test]
    fn flags_win_over_the_manifest() {
        let request = ExecRequest {
            cluster: "demo".into(),
            namespace: Some("other".into()),
            role_arn: Some("arn:aws:iam::000000000000:role/flag".into()),
            expiration: Some(300),
            manifest: Some(manifest(
                &[
                    (
                        "eks.amazonaws.com/role-arn",
                        "arn:aws:iam::000000000000:role/app",
                    ),
                    ("eks.amazonaws.com/token-expiration", "7200"),
                ],
                "eks.amazonaws.com",
            )),
            ..ExecRequest::default()
        };
        let resolved = request.resolve().unwrap();
        assert_eq!(resolved.token.namespace, "other");
        assert_eq!(resolved.token.service_account, "app");
        assert_eq!(resolved.token.expiration_seconds, Some(300));
        assert_eq!(
            resolved.identity.role_arn.as_deref(),
            Some("arn:aws:iam::000000000000:role/flag")
        );
        let no_name = ExecRequest {
            role_arn: Some("arn:aws:iam::000000000000:role/flag".into()),
            ..ExecRequest::default()
        };
        assert!(matches!(
            no_name.resolve(),
            Err(ExecPlanError::NoServiceAccount)
        ));
    }

    #[test]
    fn private_dir_is_private_and_removed() {
        let dir = PrivateDir::create().expect("dir");
        let file = dir.write("token", b"abc").expect("write");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&file).expect("meta").permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
            let dmode = std::fs::metadata(dir.path())
                .expect("meta")
                .permissions()
                .mode();
            assert_eq!(dmode & 0o777, 0o700);
        }
        let path = dir.path().to_path_buf();
        drop(dir);
        assert!(!path.exists());
    }

    #[cfg(unix)]
    #[test]
    fn child_sees_irsa_environment_without_ambient_credentials() {
        let dir = PrivateDir::create().expect("dir");
        let identity = ServiceAccountIdentity {
            role_arn: Some("arn:aws:iam::000000000000:role/demo-app".into()),
            ..ServiceAccountIdentity::default()
        };
        let env = ExecEnvironment {
            webhook: webhook_environment(&identity, "default", "demo-app", "eu-west-1")
                .expect("plan"),
            token_file: dir.write("token", b"t").expect("token"),
            endpoint: "http://127.0.0.1:8787/".into(),
            empty_aws_file: dir.write("empty", b"").expect("empty"),
        };
        let mut command = env.command(&["env".to_string()]).expect("command");
        let removed: Vec<String> = command
            .get_envs()
            .filter(|(_, v)| v.is_none())
            .map(|(k, _)| k.to_string_lossy().into_owned())
            .collect();
        for name in [
            "AWS_ACCESS_KEY_ID",
            "AWS_SECRET_ACCESS_KEY",
            "AWS_SESSION_TOKEN",
            "AWS_PROFILE",
        ] {
            assert!(
                removed.iter().any(|r| r == name),
                "{name} not removed: {removed:?}"
            );
        }
        let out = command.output().expect("run env");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            text.contains("AWS_ROLE_ARN=arn:aws:iam::000000000000:role/demo-app"),
            "{text}"
        );
        assert!(
            text.contains("AWS_ENDPOINT_URL_STS=http://127.0.0.1:8787\n"),
            "{text}"
        );
        assert!(text.contains("AWS_DEFAULT_REGION=eu-west-1"), "{text}");
        assert!(!text.contains("AWS_ACCESS_KEY_ID="), "{text}");
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let code = runtime
            .block_on(run(&env, &["sh".into(), "-c".into(), "exit 7".into()]))
            .expect("run");
        assert_eq!(code, 7);
        let code = runtime
            .block_on(run(&env, &["sh".into(), "-c".into(), "kill -9 $$".into()]))
            .expect("run");
        assert_eq!(code, 128 + 9);
        assert!(matches!(
            runtime.block_on(run(&env, &[])),
            Err(ExecError::NoCommand)
        ));
    }
}
