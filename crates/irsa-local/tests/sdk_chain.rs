//! aws-sdk-rust against `irsa local`, in-process: the same crates an application uses.
//!
//! - The default credential chain (`aws_config::load_defaults`) with the web-identity
//!   environment the webhook injects: `AssumeRoleWithWebIdentity` through
//!   `AWS_ENDPOINT_URL_STS`, then a SigV4-signed `GetCallerIdentity`. The chain reads the
//!   process environment, which a test may not change (`set_var` is `unsafe`), so that part
//!   runs in a child process (this test binary, one `#[ignore]`d test) with a clean
//!   environment and an empty `HOME`.
//! - Direct `aws-sdk-sts` calls: the response fields, SigV4 with the issued credentials
//!   (aws-sigv4 signs more headers than botocore does), and the error codes a Rust client
//!   sees for the conformance matrix.

#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

use aws_credential_types::Credentials;
use aws_sdk_sts::config::{BehaviorVersion, Region};
use aws_sdk_sts::error::ProvideErrorMetadata;
use irsa_local::config::{BootstrapOptions, Config, bootstrap};
use irsa_local::server;
use irsa_local::state::SharedState;

const ROLE_ARN: &str = "arn:aws:iam::000000000000:role/demo-app";
const ASSUMED: &str = "arn:aws:sts::000000000000:assumed-role/demo-app/";

struct Local {
    url: String,
    state: SharedState,
    _dir: tempfile::TempDir,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Drop for Local {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// Starts `irsa local` with the demo (cluster `demo`, role `demo-app`) on a free port.
async fn start() -> Local {
    let dir = tempfile::tempdir().unwrap();
    let booted = bootstrap(BootstrapOptions {
        data_dir: dir.path().to_path_buf(),
        config: Some(Config::demo()),
        ..BootstrapOptions::default()
    })
    .await
    .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let state = booted.state.clone();
    tokio::spawn(async move {
        let _ = server::serve(listener, state, async {
            let _ = rx.await;
        })
        .await;
    });
    Local {
        url,
        state: booted.state,
        _dir: dir,
        shutdown: Some(tx),
    }
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
        .try_into()
        .unwrap()
}

impl Local {
    fn token(&self, service_account: &str, audience: &str, issued: i64, lifetime: i64) -> String {
        self.state
            .clusters
            .get("demo")
            .unwrap()
            .mint("default", service_account, audience, lifetime, issued)
            .unwrap()
    }

    fn good_token(&self) -> String {
        self.token("demo-app", "sts.amazonaws.com", now(), 3600)
    }

    fn sts(&self, credentials: Option<Credentials>) -> aws_sdk_sts::Client {
        let mut config = aws_sdk_sts::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("eu-west-1"))
            .endpoint_url(&self.url);
        if let Some(credentials) = credentials {
            config = config.credentials_provider(credentials);
        }
        aws_sdk_sts::Client::from_conf(config.build())
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn default_credential_chain_in_a_clean_process_prints_the_assumed_role() {
    let local = start().await;
    let home = tempfile::tempdir().unwrap();
    let token_file = home.path().join("token");
    // SDKs send the token file verbatim, trailing newline included.
    std::fs::write(&token_file, format!("{}\n", local.good_token())).unwrap();
    let output = Command::new(std::env::current_exe().unwrap())
        .args([
            "--ignored",
            "--exact",
            "child_default_chain_get_caller_identity",
            "--nocapture",
            "--test-threads",
            "1",
        ])
        .env_clear()
        .env("HOME", home.path())
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("AWS_ROLE_ARN", ROLE_ARN)
        .env("AWS_WEB_IDENTITY_TOKEN_FILE", &token_file)
        .env("AWS_ROLE_SESSION_NAME", "rust-sdk")
        .env("AWS_REGION", "eu-west-1")
        .env("AWS_ENDPOINT_URL_STS", &local.url)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("IRSA_SDK_CHAIN_CHILD", "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "child failed:\n{stdout}\n{stderr}");
    // libtest prints `test NAME ... ` before the child's own output, on the same line.
    let arn_line = stdout
        .split_whitespace()
        .find(|w| w.starts_with("arn:"))
        .unwrap_or_else(|| panic!("no ARN printed:\n{stdout}\n{stderr}"));
    assert_eq!(arn_line, format!("{ASSUMED}rust-sdk"));
    println!("{arn_line}");
}

/// Runs only as the child of the test above, in the environment it prepared.
#[tokio::test]
#[ignore = "child process of default_credential_chain_in_a_clean_process_prints_the_assumed_role"]
async fn child_default_chain_get_caller_identity() {
    assert_eq!(
        std::env::var("IRSA_SDK_CHAIN_CHILD").as_deref(),
        Ok("1"),
        "run only by its parent test"
    );
    assert!(
        !Path::new(&std::env::var("HOME").unwrap())
            .join(".aws")
            .exists()
    );
    let config = aws_config::load_defaults(BehaviorVersion::latest()).await;
    let identity = aws_sdk_sts::Client::new(&config)
        .get_caller_identity()
        .send()
        .await
        .unwrap();
    println!("{}", identity.arn().unwrap());
}

#[tokio::test(flavor = "multi_thread")]
async fn direct_assume_then_sigv4_get_caller_identity() {
    let local = start().await;
    let out = local
        .sts(None)
        .assume_role_with_web_identity()
        .role_arn(ROLE_ARN)
        .role_session_name("rust-direct")
        .web_identity_token(local.good_token())
        .duration_seconds(900)
        .send()
        .await
        .unwrap();
    let user = out.assumed_role_user().unwrap();
    assert_eq!(user.arn(), format!("{ASSUMED}rust-direct"));
    assert!(user.assumed_role_id().starts_with("AROA"));
    assert_eq!(out.audience(), Some("sts.amazonaws.com"));
    assert_eq!(
        out.provider(),
        Some(
            "arn:aws:iam::000000000000:oidc-provider/s3.eu-west-1.amazonaws.com/000000000000-g8s-demo-oidc-pod-identity"
        )
    );
    assert_eq!(
        out.subject_from_web_identity_token(),
        Some("system:serviceaccount:default:demo-app")
    );
    let creds = out.credentials().unwrap();
    assert!(creds.access_key_id().starts_with("ASIA"));
    assert_eq!(creds.secret_access_key().len(), 40);
    let remaining = creds.expiration().secs() - now();
    assert!((890..=905).contains(&remaining), "{remaining}");

    let signed = local.sts(Some(Credentials::new(
        creds.access_key_id(),
        creds.secret_access_key(),
        Some(creds.session_token().to_owned()),
        None,
        "test",
    )));
    let identity = signed.get_caller_identity().send().await.unwrap();
    assert_eq!(
        identity.arn(),
        Some(format!("{ASSUMED}rust-direct").as_str())
    );
    assert_eq!(identity.user_id(), Some(user.assumed_role_id()));
    assert_eq!(identity.account(), Some("000000000000"));

    // The same key with a wrong secret.
    let wrong = local.sts(Some(Credentials::new(
        creds.access_key_id(),
        "x".repeat(40),
        Some(creds.session_token().to_owned()),
        None,
        "test",
    )));
    let err = wrong.get_caller_identity().send().await.unwrap_err();
    assert_eq!(err.code(), Some("SignatureDoesNotMatch"));
}

/// A JWT-shaped token (not validly signed) whose unverified `iss` is `issuer`.
fn token_with_issuer(issuer: &str) -> String {
    use base64::Engine as _;
    let b64 = |v: serde_json::Value| {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
    };
    format!(
        "{}.{}.c2ln",
        b64(serde_json::json!({"alg": "RS256", "kid": "k"})),
        b64(
            serde_json::json!({"iss": issuer, "sub": "system:serviceaccount:default:demo-app",
            "aud": "sts.amazonaws.com", "iat": now(), "exp": now() + 3600})
        ),
    )
}

async fn assume_error(local: &Local, role: &str, session: &str, token: String) -> String {
    let err = local
        .sts(None)
        .assume_role_with_web_identity()
        .role_arn(role)
        .role_session_name(session)
        .web_identity_token(token)
        .send()
        .await
        .unwrap_err();
    err.code().unwrap_or("(no code)").to_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn rust_clients_see_the_aws_error_codes() {
    let local = start().await;
    let t = now();
    let cases = [
        (
            "wrong audience",
            ROLE_ARN,
            "s1",
            local.token("demo-app", "not-sts", t, 3600),
            "InvalidIdentityToken",
        ),
        (
            "expired beyond leeway",
            ROLE_ARN,
            "s1",
            local.token("demo-app", "sts.amazonaws.com", t - 3600 - 360, 3600),
            "ExpiredTokenException",
        ),
        (
            "wrong subject",
            ROLE_ARN,
            "s1",
            local.token("intruder", "sts.amazonaws.com", t, 3600),
            "AccessDenied",
        ),
        (
            "missing role",
            "arn:aws:iam::000000000000:role/missing",
            "s1",
            local.good_token(),
            "AccessDenied",
        ),
        (
            "bad session name",
            ROLE_ARN,
            "a:b",
            local.good_token(),
            "ValidationError",
        ),
        (
            "not a JWT",
            ROLE_ARN,
            "s1",
            "not-a-jwt".to_owned(),
            "InvalidIdentityToken",
        ),
        // Issue 9 item 3: characters XML cannot carry used to be echoed raw, and the
        // client failed to parse the answer instead of seeing the error.
        (
            "NUL in the session name",
            ROLE_ARN,
            "a\0b",
            local.good_token(),
            "ValidationError",
        ),
        (
            "U+FFFF in the session name",
            ROLE_ARN,
            "a\u{ffff}b",
            local.good_token(),
            "ValidationError",
        ),
        (
            "NUL in the role ARN",
            "arn:aws:iam::000000000000:role/demo\0app",
            "s1",
            local.good_token(),
            "ValidationError",
        ),
        (
            "NUL in the unverified iss",
            ROLE_ARN,
            "s1",
            token_with_issuer("https://issuer.example\0/x"),
            "InvalidIdentityToken",
        ),
    ];
    let mut seen = Vec::new();
    let mut want = Vec::new();
    for (name, role, session, token, code) in cases {
        seen.push((name, assume_error(&local, role, session, token).await));
        want.push((name, code.to_owned()));
    }
    assert_eq!(seen, want);

    // Within the five minutes of skew: accepted.
    let ok = local
        .sts(None)
        .assume_role_with_web_identity()
        .role_arn(ROLE_ARN)
        .role_session_name("leeway")
        .web_identity_token(local.token("demo-app", "sts.amazonaws.com", t - 3600 - 240, 3600))
        .send()
        .await;
    assert!(ok.is_ok(), "{ok:?}");
}
