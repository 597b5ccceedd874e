//! `irsa local exec`: run a program as a pod with IRSA would run it.
//!
//! The program gets exactly what the pod identity webhook injects (`AWS_ROLE_ARN`,
//! `AWS_WEB_IDENTITY_TOKEN_FILE`, region variables, `AWS_STS_REGIONAL_ENDPOINTS`) plus
//! `AWS_ENDPOINT_URL_STS`/`_IAM` pointing at the emulator. Ambient credentials are
//! removed, and `AWS_CONFIG_FILE`/`AWS_SHARED_CREDENTIALS_FILE` point at empty files,
//! because both SDK chains prefer static keys and (in Rust) any profile over web identity:
//! a pod has neither, so a local run must not either, or it would test the developer's
//! own credentials instead of the role.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

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
        /// Path.
        path: PathBuf,
        /// Cause.
        source: std::io::Error,
    },
    /// The program could not be started.
    #[error("cannot run {program:?}: {source}")]
    Spawn {
        /// Program.
        program: String,
        /// Cause.
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

/// What the child gets.
#[derive(Debug, Clone)]
pub struct ExecEnvironment {
    /// Role to assume.
    pub role_arn: String,
    /// The token file.
    pub token_file: PathBuf,
    /// Region.
    pub region: String,
    /// The emulator's endpoint (for STS and IAM).
    pub endpoint: String,
    /// Empty file for `AWS_CONFIG_FILE` and `AWS_SHARED_CREDENTIALS_FILE`.
    pub empty_aws_file: PathBuf,
}

impl ExecEnvironment {
    /// The variables to set, in a fixed order.
    pub fn variables(&self) -> Vec<(&'static str, String)> {
        let endpoint = self.endpoint.trim_end_matches('/').to_string();
        vec![
            ("AWS_ROLE_ARN", self.role_arn.clone()),
            (
                "AWS_WEB_IDENTITY_TOKEN_FILE",
                self.token_file.display().to_string(),
            ),
            ("AWS_REGION", self.region.clone()),
            ("AWS_DEFAULT_REGION", self.region.clone()),
            ("AWS_STS_REGIONAL_ENDPOINTS", "regional".into()),
            ("AWS_ENDPOINT_URL_STS", endpoint.clone()),
            ("AWS_ENDPOINT_URL_IAM", endpoint),
            ("AWS_CONFIG_FILE", self.empty_aws_file.display().to_string()),
            (
                "AWS_SHARED_CREDENTIALS_FILE",
                self.empty_aws_file.display().to_string(),
            ),
        ]
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

/// The role ARN and token settings a Kubernetes ServiceAccount manifest asks for.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ServiceAccountManifest {
    /// `metadata.name`.
    pub name: Option<String>,
    /// `metadata.namespace`.
    pub namespace: Option<String>,
    /// `eks.amazonaws.com/role-arn`.
    pub role_arn: Option<String>,
    /// `eks.amazonaws.com/audience`.
    pub audience: Option<String>,
    /// `eks.amazonaws.com/token-expiration`.
    pub token_expiration: Option<i64>,
}

/// Why a ServiceAccount manifest could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    /// Not YAML.
    #[error("{source_name}: not a YAML document: {message}")]
    Yaml {
        /// File.
        source_name: String,
        /// Parser message.
        message: String,
    },
    /// Not a ServiceAccount.
    #[error("{source_name}: kind is {kind:?}, expected ServiceAccount")]
    Kind {
        /// File.
        source_name: String,
        /// Kind found.
        kind: String,
    },
    /// A value has the wrong type.
    #[error(
        "{source_name}: annotation eks.amazonaws.com/token-expiration {value:?} is not a number of seconds"
    )]
    Expiration {
        /// File.
        source_name: String,
        /// Value.
        value: String,
    },
}

/// Reads the IRSA annotations of a ServiceAccount manifest.
pub fn parse_service_account(
    source_name: &str,
    yaml: &str,
) -> Result<ServiceAccountManifest, ManifestError> {
    let doc: serde_json::Value = serde_saphyr::from_str(yaml).map_err(|e| ManifestError::Yaml {
        source_name: source_name.into(),
        message: e.to_string(),
    })?;
    let kind = doc.get("kind").and_then(|k| k.as_str()).unwrap_or_default();
    if kind != "ServiceAccount" {
        return Err(ManifestError::Kind {
            source_name: source_name.into(),
            kind: kind.into(),
        });
    }
    let metadata = doc.get("metadata");
    let text = |v: Option<&serde_json::Value>| v.and_then(|x| x.as_str()).map(str::to_string);
    let annotations = metadata.and_then(|m| m.get("annotations"));
    let annotation = |k: &str| text(annotations.and_then(|a| a.get(k)));
    let token_expiration = match annotation("eks.amazonaws.com/token-expiration") {
        None => None,
        Some(v) => Some(v.parse::<i64>().map_err(|_| ManifestError::Expiration {
            source_name: source_name.into(),
            value: v.clone(),
        })?),
    };
    Ok(ServiceAccountManifest {
        name: text(metadata.and_then(|m| m.get("name"))),
        namespace: text(metadata.and_then(|m| m.get("namespace"))),
        role_arn: annotation("eks.amazonaws.com/role-arn"),
        audience: annotation("eks.amazonaws.com/audience"),
        token_expiration,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_irsa_annotations() {
        let sa = parse_service_account(
            "sa.yaml",
            "apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: app\n  namespace: prod\n  annotations:\n    eks.amazonaws.com/role-arn: arn:aws:iam::000000000000:role/app\n    eks.amazonaws.com/token-expiration: \"3600\"\n",
        )
        .expect("parse");
        assert_eq!(sa.name.as_deref(), Some("app"));
        assert_eq!(sa.namespace.as_deref(), Some("prod"));
        assert_eq!(
            sa.role_arn.as_deref(),
            Some("arn:aws:iam::000000000000:role/app")
        );
        assert_eq!(sa.token_expiration, Some(3600));
        let err = parse_service_account("x", "kind: Pod\n").expect_err("kind");
        assert!(err.to_string().contains("Pod"), "{err}");
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
        let env = ExecEnvironment {
            role_arn: "arn:aws:iam::000000000000:role/demo-app".into(),
            token_file: dir.write("token", b"t").expect("token"),
            region: "eu-west-1".into(),
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
