//! IAM over HTTP with aws-sdk-iam (the client the provisioning code uses), plus raw HTTP
//! checks of the envelopes, the OIDC documents and the private token endpoint.
//!
//! The server runs in-process on a free port with a fresh data directory per test.

use aws_credential_types::Credentials;
use aws_sdk_iam::config::{BehaviorVersion, Region};
use aws_sdk_iam::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_iam::types::Tag;
use irsa_local::config::{BootstrapOptions, bootstrap};
use irsa_local::server;
use percent_encoding::percent_decode_str;

struct Local {
    url: String,
    dir: tempfile::TempDir,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    done: Option<tokio::task::JoinHandle<()>>,
    state: irsa_local::state::SharedState,
}

impl Local {
    async fn start() -> Self {
        Self::start_in(tempfile::tempdir().expect("tempdir")).await
    }

    async fn start_in(dir: tempfile::TempDir) -> Self {
        let booted = bootstrap(BootstrapOptions {
            data_dir: dir.path().to_path_buf(),
            ..BootstrapOptions::default()
        })
        .await
        .expect("bootstrap");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let state = booted.state.clone();
        let done = tokio::spawn(async move {
            let _ = server::serve(listener, state, async {
                let _ = rx.await;
            })
            .await;
        });
        Self {
            url,
            dir,
            shutdown: Some(tx),
            done: Some(done),
            state: booted.state,
        }
    }

    /// Stops the server, closes the store and returns the data directory.
    async fn stop(mut self) -> tempfile::TempDir {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(done) = self.done.take() {
            let _ = done.await;
        }
        self.state.store.close();
        let dir = tempfile::tempdir().expect("placeholder");
        std::mem::replace(&mut self.dir, dir)
    }

    fn iam_with(&self, key: &str, secret: &str) -> aws_sdk_iam::Client {
        let conf = aws_sdk_iam::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .credentials_provider(Credentials::new(key, secret, None, None, "test"))
            .endpoint_url(&self.url)
            .build();
        aws_sdk_iam::Client::from_conf(conf)
    }

    fn iam(&self) -> aws_sdk_iam::Client {
        self.iam_with("test", "test")
    }
}

impl Drop for Local {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// Error code, HTTP status and message of a failed call.
fn code_status<E: ProvideErrorMetadata>(
    err: &SdkError<E, aws_sdk_iam::config::http::HttpResponse>,
) -> (String, u16, String) {
    let status = err.raw_response().map_or(0, |r| r.status().as_u16());
    (
        err.code().unwrap_or_default().to_string(),
        status,
        err.message().unwrap_or_default().to_string(),
    )
}

const PROVIDER_URL: &str = "https://oidc.example.com/cluster-a";
const PROVIDER_ARN: &str = "arn:aws:iam::000000000000:oidc-provider/oidc.example.com/cluster-a";
const THUMB: &str = "9E99A48A9960B14926BB7F3B02E22DA2B0AB7280";

fn trust_policy(sub: &str) -> String {
    format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"Federated":"{PROVIDER_ARN}"}},"Action":"sts:AssumeRoleWithWebIdentity","Condition":{{"StringEquals":{{"oidc.example.com/cluster-a:sub":"{sub}"}}}}}}]}}"#
    )
}

#[tokio::test]
async fn provider_lifecycle() {
    let local = Local::start().await;
    let iam = local.iam();
    let created = iam
        .create_open_id_connect_provider()
        .url(PROVIDER_URL)
        .client_id_list("sts.amazonaws.com")
        .thumbprint_list(THUMB)
        .tags(Tag::builder().key("team").value("a").build().expect("tag"))
        .send()
        .await
        .expect("create");
    assert_eq!(created.open_id_connect_provider_arn(), Some(PROVIDER_ARN));
    assert_eq!(created.tags().len(), 1);

    let got = iam
        .get_open_id_connect_provider()
        .open_id_connect_provider_arn(PROVIDER_ARN)
        .send()
        .await
        .expect("get");
    assert_eq!(got.url(), Some("oidc.example.com/cluster-a"));
    assert_eq!(got.client_id_list(), ["sts.amazonaws.com"]);
    assert_eq!(got.thumbprint_list(), [THUMB.to_ascii_lowercase()]);
    assert!(got.create_date().is_some());

    let list = iam
        .list_open_id_connect_providers()
        .send()
        .await
        .expect("list");
    let arns: Vec<&str> = list
        .open_id_connect_provider_list()
        .iter()
        .filter_map(|p| p.arn())
        .collect();
    assert!(arns.contains(&PROVIDER_ARN), "{arns:?}");
    // The demo cluster's provider is there too.
    assert_eq!(arns.len(), 2, "{arns:?}");

    iam.add_client_id_to_open_id_connect_provider()
        .open_id_connect_provider_arn(PROVIDER_ARN)
        .client_id("other")
        .send()
        .await
        .expect("add");
    iam.add_client_id_to_open_id_connect_provider()
        .open_id_connect_provider_arn(PROVIDER_ARN)
        .client_id("other")
        .send()
        .await
        .expect("add is idempotent");
    iam.remove_client_id_from_open_id_connect_provider()
        .open_id_connect_provider_arn(PROVIDER_ARN)
        .client_id("sts.amazonaws.com")
        .send()
        .await
        .expect("remove");
    iam.update_open_id_connect_provider_thumbprint()
        .open_id_connect_provider_arn(PROVIDER_ARN)
        .thumbprint_list("a".repeat(40))
        .thumbprint_list("b".repeat(40))
        .send()
        .await
        .expect("thumbprints");
    iam.tag_open_id_connect_provider()
        .open_id_connect_provider_arn(PROVIDER_ARN)
        .tags(Tag::builder().key("TEAM").value("b").build().expect("tag"))
        .tags(Tag::builder().key("env").value("dev").build().expect("tag"))
        .send()
        .await
        .expect("tag");
    iam.untag_open_id_connect_provider()
        .open_id_connect_provider_arn(PROVIDER_ARN)
        .tag_keys("env")
        .send()
        .await
        .expect("untag");
    let tags = iam
        .list_open_id_connect_provider_tags()
        .open_id_connect_provider_arn(PROVIDER_ARN)
        .send()
        .await
        .expect("tags");
    let tags: Vec<(&str, &str)> = tags.tags().iter().map(|t| (t.key(), t.value())).collect();
    assert_eq!(tags, [("TEAM", "b")]);

    let got = iam
        .get_open_id_connect_provider()
        .open_id_connect_provider_arn(PROVIDER_ARN)
        .send()
        .await
        .expect("get");
    assert_eq!(got.client_id_list(), ["other"]);
    assert_eq!(got.thumbprint_list(), ["a".repeat(40), "b".repeat(40)]);

    iam.delete_open_id_connect_provider()
        .open_id_connect_provider_arn(PROVIDER_ARN)
        .send()
        .await
        .expect("delete");
    let err = iam
        .get_open_id_connect_provider()
        .open_id_connect_provider_arn(PROVIDER_ARN)
        .send()
        .await
        .expect_err("gone");
    let (code, status, message) = code_status(&err);
    assert_eq!((code.as_str(), status), ("NoSuchEntity", 404));
    assert_eq!(
        message,
        format!("OpenIDConnect Provider not found for arn {PROVIDER_ARN}")
    );
}

#[tokio::test]
async fn provider_validation_errors() {
    let local = Local::start().await;
    let iam = local.iam();
    let create = |url: &str| {
        iam.create_open_id_connect_provider()
            .url(url)
            .client_id_list("sts.amazonaws.com")
    };
    create(PROVIDER_URL).send().await.expect("first");
    let cases: Vec<(aws_sdk_iam::operation::create_open_id_connect_provider::builders::CreateOpenIDConnectProviderFluentBuilder, &str, u16, &str)> = vec![
        (create(PROVIDER_URL), "EntityAlreadyExists", 409, "Provider with url https://oidc.example.com/cluster-a already exists."),
        (create("http://oidc.example.com"), "InvalidInput", 400, "Invalid Open ID Connect Provider URL. The URL must begin with https://."),
        (create("oidc.example.com"), "ValidationError", 400, "Invalid Open ID Connect Provider URL"),
        (create("https://oidc.example.com:8443/x"), "InvalidInput", 400, "Invalid Open ID Connect Provider URL."),
        (create("https://oidc.example.com/x?a=b"), "InvalidInput", 400, "Invalid Open ID Connect Provider URL."),
        (create("https://user@oidc.example.com/x"), "InvalidInput", 400, "Invalid Open ID Connect Provider URL."),
        (
            create("https://six.example.com").set_thumbprint_list(Some(vec!["a".repeat(40); 6])),
            "InvalidInput", 400, "Thumbprint list must contain fewer than 5 entries.",
        ),
        (
            create("https://short.example.com").thumbprint_list("abc"),
            "ValidationError", 400,
            "1 validation error detected: Value 'abc' at 'thumbprintList' failed to satisfy constraint: Member must have length less than or equal to 40, Member must have length greater than or equal to 40",
        ),
        (
            create("https://many.example.com").set_client_id_list(Some((0..101).map(|i| format!("c{i}")).collect())),
            "LimitExceeded", 409, "Cannot exceed quota for ClientIdsPerOpenIdConnectProvider: 100",
        ),
        (
            create("https://tags.example.com")
                .tags(Tag::builder().key("a").value("1").build().expect("tag"))
                .tags(Tag::builder().key("A").value("2").build().expect("tag")),
            "InvalidInput", 400, "Duplicate tag keys found. Please note that Tag keys are case insensitive.",
        ),
    ];
    for (call, want_code, want_status, want_message) in cases {
        let err = call.send().await.expect_err(want_code);
        let (code, status, message) = code_status(&err);
        assert_eq!(
            (code.as_str(), status, message.as_str()),
            (want_code, want_status, want_message)
        );
    }
    // Local-only extension: a loopback issuer with a port.
    create("https://127.0.0.1:8443/issuer")
        .send()
        .await
        .expect("loopback with port");
    // A provider with a trailing slash is a different provider.
    create("https://oidc.example.com/cluster-a/")
        .send()
        .await
        .expect("trailing slash is distinct");
    let err = iam
        .delete_open_id_connect_provider()
        .open_id_connect_provider_arn("arn:aws:iam::000000000000:oidc-provider/nope.example.com")
        .send()
        .await
        .expect_err("missing");
    assert_eq!(code_status(&err).0, "NoSuchEntity");
}

#[tokio::test]
async fn role_lifecycle() {
    let local = Local::start().await;
    let iam = local.iam();
    let policy = trust_policy("system:serviceaccount:default:app");
    let created = iam
        .create_role()
        .role_name("App")
        .path("/irsa/")
        .assume_role_policy_document(&policy)
        .send()
        .await
        .expect("create");
    let role = created.role().expect("role");
    assert_eq!(role.arn(), "arn:aws:iam::000000000000:role/irsa/App");
    assert!(role.role_id().starts_with("AROA") && role.role_id().len() == 21);
    assert_eq!(role.path(), "/irsa/");
    // IAM returns the document URL-encoded; the Rust SDK does not decode it.
    let encoded = role.assume_role_policy_document().expect("doc");
    assert!(encoded.starts_with("%7B%22Version%22"), "{encoded}");
    assert_eq!(
        percent_decode_str(encoded).decode_utf8().expect("utf8"),
        policy
    );
    // CreateRole omits MaxSessionDuration when not given, as AWS does.
    assert_eq!(role.max_session_duration(), None);

    let got = iam
        .get_role()
        .role_name("app")
        .send()
        .await
        .expect("get by other case");
    let got = got.role().expect("role");
    assert_eq!(got.role_name(), "App");
    assert_eq!(got.max_session_duration(), Some(3600));

    iam.update_role()
        .role_name("App")
        .max_session_duration(43200)
        .send()
        .await
        .expect("update role");
    let other = trust_policy("system:serviceaccount:default:other");
    iam.update_assume_role_policy()
        .role_name("App")
        .policy_document(&other)
        .send()
        .await
        .expect("update policy");
    let got = iam.get_role().role_name("App").send().await.expect("get");
    let got = got.role().expect("role");
    assert_eq!(got.max_session_duration(), Some(43200));
    assert_eq!(
        percent_decode_str(got.assume_role_policy_document().expect("doc"))
            .decode_utf8()
            .expect("utf8"),
        other
    );

    let list = iam
        .list_roles()
        .path_prefix("/irsa/")
        .send()
        .await
        .expect("list");
    let names: Vec<&str> = list.roles().iter().map(|r| r.role_name()).collect();
    assert_eq!(names, ["App"]);
    let all = iam.list_roles().send().await.expect("list all");
    assert_eq!(all.roles().len(), 2); // App and the demo role
    let page = iam.list_roles().max_items(1).send().await.expect("page");
    assert!(page.is_truncated());
    let next = iam
        .list_roles()
        .marker(page.marker().expect("marker"))
        .send()
        .await
        .expect("next page");
    assert_eq!(next.roles().len(), 1);
    assert_ne!(next.roles()[0].role_name(), page.roles()[0].role_name());

    iam.delete_role()
        .role_name("APP")
        .send()
        .await
        .expect("delete");
    let err = iam
        .get_role()
        .role_name("App")
        .send()
        .await
        .expect_err("gone");
    let (code, status, message) = code_status(&err);
    assert_eq!(
        (code.as_str(), status, message.as_str()),
        (
            "NoSuchEntity",
            404,
            "The role with name App cannot be found."
        )
    );
}

#[tokio::test]
async fn role_validation_errors() {
    let local = Local::start().await;
    let iam = local.iam();
    let policy = trust_policy("system:serviceaccount:default:app");
    iam.create_role()
        .role_name("Dup")
        .assume_role_policy_document(&policy)
        .send()
        .await
        .expect("first");
    let big = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"Federated":"{PROVIDER_ARN}"}},"Action":"sts:AssumeRoleWithWebIdentity","Condition":{{"StringEquals":{{"oidc.example.com/cluster-a:sub":[{}]}}}}}}]}}"#,
        (0..60)
            .map(|i| format!("\"system:serviceaccount:default:app-{i:04}\""))
            .collect::<Vec<_>>()
            .join(",")
    );
    let cases = vec![
        (
            iam.create_role()
                .role_name("dup")
                .assume_role_policy_document(&policy),
            "EntityAlreadyExists",
            409,
            "Role with name Dup already exists.",
        ),
        (
            iam.create_role()
                .role_name("bad name")
                .assume_role_policy_document(&policy),
            "ValidationError",
            400,
            r"1 validation error detected: Value 'bad name' at 'roleName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\w+=,.@-]+",
        ),
        (
            iam.create_role()
                .role_name("x".repeat(65))
                .assume_role_policy_document(&policy),
            "ValidationError",
            400,
            "",
        ),
        (
            iam.create_role()
                .role_name("json")
                .assume_role_policy_document("{not json"),
            "MalformedPolicyDocument",
            400,
            "This policy contains invalid Json",
        ),
        (
            iam.create_role()
                .role_name("big")
                .assume_role_policy_document(&big),
            "LimitExceeded",
            409,
            "Cannot exceed quota for ACLSizePerRole: 2048",
        ),
        (
            iam.create_role()
                .role_name("short")
                .assume_role_policy_document(&policy)
                .max_session_duration(100),
            "ValidationError",
            400,
            "1 validation error detected: Value '100' at 'maxSessionDuration' failed to satisfy constraint: Member must have value greater than or equal to 3600",
        ),
        (
            iam.create_role()
                .role_name("path")
                .assume_role_policy_document(&policy)
                .path("no-slash"),
            "ValidationError",
            400,
            "",
        ),
    ];
    for (call, want_code, want_status, want_message) in cases {
        let err = call.send().await.expect_err(want_code);
        let (code, status, message) = code_status(&err);
        assert_eq!(
            (code.as_str(), status),
            (want_code, want_status),
            "{message}"
        );
        if !want_message.is_empty() {
            assert_eq!(message, want_message);
        }
    }
    let err = iam
        .update_assume_role_policy()
        .role_name("Dup")
        .policy_document(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole","Resource":"*"}]}"#)
        .send()
        .await
        .expect_err("resource in trust policy");
    assert_eq!(code_status(&err).0, "MalformedPolicyDocument");
    // A duplicate key would turn this Deny into an Allow if the last one won.
    let duplicate = trust_policy("system:serviceaccount:default:app").replacen(
        r#""Effect":"Allow""#,
        r#""Effect":"Deny","Effect":"Allow""#,
        1,
    );
    let err = iam
        .create_role()
        .role_name("duplicate-key")
        .assume_role_policy_document(&duplicate)
        .send()
        .await
        .expect_err("duplicate key in CreateRole");
    assert_eq!(
        code_status(&err),
        (
            "MalformedPolicyDocument".to_owned(),
            400,
            "This policy contains invalid Json".to_owned()
        )
    );
    let err = iam
        .update_assume_role_policy()
        .role_name("Dup")
        .policy_document(&duplicate)
        .send()
        .await
        .expect_err("duplicate key in UpdateAssumeRolePolicy");
    assert_eq!(code_status(&err).0, "MalformedPolicyDocument");
    let stored = iam
        .get_role()
        .role_name("Dup")
        .send()
        .await
        .expect("get role");
    let stored = stored.role().and_then(|r| r.assume_role_policy_document());
    assert!(
        !stored.unwrap_or_default().contains("Deny"),
        "the rejected document was stored: {stored:?}"
    );
    let err = iam
        .update_role()
        .role_name("missing")
        .max_session_duration(3600)
        .send()
        .await
        .expect_err("missing");
    assert_eq!(code_status(&err).1, 404);
}

#[tokio::test]
async fn signature_errors() {
    let local = Local::start().await;
    let err = local
        .iam_with("test", "wrong")
        .list_roles()
        .send()
        .await
        .expect_err("bad secret");
    assert_eq!(code_status(&err).0.as_str(), "SignatureDoesNotMatch");
    assert_eq!(code_status(&err).1, 403);
    let err = local
        .iam_with("AKIAUNKNOWN", "x")
        .list_roles()
        .send()
        .await
        .expect_err("unknown key");
    assert_eq!(
        (code_status(&err).0.as_str(), code_status(&err).1),
        ("InvalidClientTokenId", 403)
    );
}

#[tokio::test]
async fn raw_http_envelopes_documents_and_tokens() {
    let local = Local::start().await;
    let http = reqwest::Client::new();

    // Unsigned IAM call.
    let r = http
        .post(format!("{}/", local.url))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("Action=ListRoles&Version=2010-05-08")
        .send()
        .await
        .expect("send");
    assert_eq!(r.status().as_u16(), 403);
    assert!(r.headers().contains_key("x-amzn-requestid"));
    let body = r.text().await.expect("body");
    assert!(body.starts_with("<ErrorResponse xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/\"><Error><Type>Sender</Type><Code>MissingAuthenticationToken</Code>"), "{body}");

    // Unknown action.
    let r = http
        .get(format!("{}/?Action=Nope&Version=2011-06-15", local.url))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status().as_u16(), 400);
    assert!(
        r.text()
            .await
            .expect("body")
            .contains("<Code>InvalidAction</Code>")
    );

    // A parameter both in the query string and the body.
    let r = http
        .post(format!("{}/?Action=GetCallerIdentity", local.url))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("Action=GetCallerIdentity&Version=2011-06-15")
        .send()
        .await
        .expect("send");
    assert_eq!(r.status().as_u16(), 400);
    assert!(
        r.text()
            .await
            .expect("body")
            .contains("appears more than once")
    );

    // Discovery document and JWKS of the demo cluster.
    let prefix = "/000000000000-g8s-demo-oidc-pod-identity";
    let discovery: serde_json::Value = http
        .get(format!(
            "{}{prefix}/.well-known/openid-configuration",
            local.url
        ))
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    let issuer = "https://s3.eu-west-1.amazonaws.com/000000000000-g8s-demo-oidc-pod-identity";
    assert_eq!(discovery["issuer"], issuer);
    assert_eq!(discovery["jwks_uri"], format!("{issuer}/keys.json"));
    let jwks: serde_json::Value = http
        .get(format!("{}{prefix}/keys.json", local.url))
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    let kid = jwks["keys"][0]["kid"].as_str().expect("kid").to_string();
    assert_eq!(jwks["keys"][0]["kty"], "RSA");
    assert!(
        jwks["keys"][0].get("d").is_none(),
        "private member published"
    );
    let r = http
        .get(format!("{}/other-bucket/keys.json", local.url))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status().as_u16(), 404);

    // Token endpoint: JSON only, known clusters only, and the token verifies with the JWKS.
    let r = http
        .post(format!("{}/_irsa/token", local.url))
        .body("cluster=demo")
        .send()
        .await
        .expect("send");
    assert_eq!(r.status().as_u16(), 415);
    let r = http
        .post(format!("{}/_irsa/token", local.url))
        .json(&serde_json::json!({"cluster":"nope","namespace":"default","serviceAccount":"x"}))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status().as_u16(), 404);
    let minted: serde_json::Value = http
        .post(format!("{}/_irsa/token", local.url))
        .json(&serde_json::json!({"cluster":"demo","namespace":"default","serviceAccount":"demo-app","expirationSeconds":600,"now":1700000000}))
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    let token = minted["token"].as_str().expect("token");
    assert_eq!(minted["expiration"], 1_700_000_600);
    assert_eq!(minted["region"], "eu-west-1");
    let set = irsa_jose::JwkSet::parse(jwks.to_string().as_bytes()).expect("jwks");
    let header = token.split('.').next().expect("header");
    use base64::Engine as _;
    let header: serde_json::Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(header)
            .expect("b64"),
    )
    .expect("json");
    assert_eq!(header["kid"], kid.as_str());
    assert_eq!(header["alg"], "RS256");
    assert!(!set.keys.is_empty());
}

#[tokio::test]
async fn acknowledged_writes_survive_restart() {
    let local = Local::start().await;
    let iam = local.iam();
    let policy = trust_policy("system:serviceaccount:default:app");
    for i in 0..10 {
        iam.create_role()
            .role_name(format!("r{i}"))
            .assume_role_policy_document(&policy)
            .send()
            .await
            .expect("create");
    }
    iam.create_open_id_connect_provider()
        .url(PROVIDER_URL)
        .send()
        .await
        .expect("provider");
    let kid = local
        .state
        .clusters
        .get("demo")
        .expect("demo")
        .kid()
        .to_string();
    let dir = local.stop().await;
    let local = Local::start_in(dir).await;
    let iam = local.iam();
    let roles = iam.list_roles().send().await.expect("list");
    assert_eq!(roles.roles().len(), 11);
    iam.get_open_id_connect_provider()
        .open_id_connect_provider_arn(PROVIDER_ARN)
        .send()
        .await
        .expect("provider persisted");
    assert_eq!(local.state.clusters.get("demo").expect("demo").kid(), kid);
}

#[tokio::test]
async fn session_credentials_cannot_administer_iam_and_expire() {
    let local = Local::start().await;
    let now = local.state.clock.now();
    // Sessions as STS issues them: sealed into their tokens, nothing stored.
    let session = |expiration: i64| {
        local
            .state
            .sealer
            .seal(irsa_local::session_seal::Session {
                access_key_id: irsa_local::ids::session_access_key_id(),
                secret_access_key: String::new(),
                session_token: String::new(),
                account: "000000000000".into(),
                role_arn: "arn:aws:iam::000000000000:role/demo-app".into(),
                assumed_role_arn: "arn:aws:sts::000000000000:assumed-role/demo-app/s1".into(),
                assumed_role_id: "AROAAAAAAAAAAAAAAAAAA:s1".into(),
                session_name: "s1".into(),
                subject: "system:serviceaccount:default:demo-app".into(),
                provider_arn: "arn:aws:iam::000000000000:oidc-provider/x".into(),
                audience: "sts.amazonaws.com".into(),
                expiration,
            })
            .expect("sealed")
    };
    let live = session(now + 600);
    let expired = session(now - 1);
    let client = |s: &irsa_local::session_seal::Session, token: &str| {
        let conf = aws_sdk_iam::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .credentials_provider(Credentials::new(
                &s.access_key_id,
                &s.secret_access_key,
                Some(token.to_owned()),
                None,
                "test",
            ))
            .endpoint_url(&local.url)
            .build();
        aws_sdk_iam::Client::from_conf(conf)
    };
    let err = client(&live, &live.session_token)
        .list_roles()
        .send()
        .await
        .expect_err("sessions have no IAM permissions");
    let (code, status, message) = code_status(&err);
    assert_eq!((code.as_str(), status), ("AccessDenied", 403));
    assert!(
        message.starts_with(
            "User: arn:aws:sts::000000000000:assumed-role/demo-app/s1 is not authorized to perform: iam:ListRoles"
        ),
        "{message}"
    );
    let err = client(&live, &expired.session_token)
        .list_roles()
        .send()
        .await
        .expect_err("token mismatch");
    assert_eq!(code_status(&err).0, "InvalidClientTokenId");
    let err = client(&expired, &expired.session_token)
        .list_roles()
        .send()
        .await
        .expect_err("expired");
    assert_eq!(
        (code_status(&err).0.as_str(), code_status(&err).1),
        ("ExpiredToken", 403)
    );
}

#[tokio::test]
async fn account_id_access_keys_act_in_that_account() {
    let local = Local::start().await;
    let other = local.iam_with("222222222222", "test");
    let created = other
        .create_role()
        .role_name("cross")
        .assume_role_policy_document(trust_policy("system:serviceaccount:default:x"))
        .send()
        .await
        .expect("create in 222222222222");
    assert_eq!(
        created.role().expect("role").arn(),
        "arn:aws:iam::222222222222:role/cross"
    );
    let mine = local.iam().list_roles().send().await.expect("list");
    assert!(mine.roles().iter().all(|r| r.role_name() != "cross"));
    let theirs = other.list_roles().send().await.expect("list");
    let names: Vec<&str> = theirs.roles().iter().map(|r| r.role_name()).collect();
    assert_eq!(names, ["cross"]);
    let err = local
        .iam_with("222222222222", "wrong")
        .list_roles()
        .send()
        .await
        .expect_err("still signed with the root secret");
    assert_eq!(code_status(&err).0, "SignatureDoesNotMatch");
}

/// Issue 9 item 3: a value XML 1.0 cannot carry (NUL, other C0 controls, U+FFFE, U+FFFF)
/// is refused with `ValidationError` before anything is stored, and the SDK can parse
/// every answer, so `ListRoles` stays usable.
#[tokio::test]
async fn control_characters_are_refused_before_they_are_stored() {
    let local = Local::start().await;
    let iam = local.iam();
    let policy = trust_policy("system:serviceaccount:default:app");
    let tag = |k: &str, v: &str| Tag::builder().key(k).value(v).build().expect("tag");
    for (what, call) in [
        (
            "description \\x01",
            iam.create_role()
                .role_name("desc")
                .assume_role_policy_document(&policy)
                .description("a\u{1}b"),
        ),
        (
            "description U+FFFE",
            iam.create_role()
                .role_name("desc")
                .assume_role_policy_document(&policy)
                .description("a\u{fffe}b"),
        ),
        (
            "NUL in a tag key",
            iam.create_role()
                .role_name("tagk")
                .assume_role_policy_document(&policy)
                .tags(tag("k\0", "v")),
        ),
        (
            "U+FFFF in a tag value",
            iam.create_role()
                .role_name("tagv")
                .assume_role_policy_document(&policy)
                .tags(tag("k", "v\u{ffff}")),
        ),
        (
            "NUL in the role name",
            iam.create_role()
                .role_name("a\0b")
                .assume_role_policy_document(&policy),
        ),
    ] {
        let err = call.send().await.expect_err(what);
        let (code, status, message) = code_status(&err);
        assert_eq!(
            (code.as_str(), status),
            ("ValidationError", 400),
            "{what}: {message}"
        );
    }
    let err = iam
        .create_role()
        .role_name("desc")
        .assume_role_policy_document(&policy)
        .description("a\u{1}b")
        .send()
        .await
        .expect_err("refused");
    assert_eq!(
        code_status(&err).2,
        r"1 validation error detected: Value 'a\u0001b' at 'description' failed to satisfy constraint: Member must satisfy regular expression pattern: [\u0009\u000A\u000D\u0020-\u007E\u00A1-\u00FF]*"
    );
    let err = iam
        .get_role()
        .role_name("desc")
        .send()
        .await
        .expect_err("not stored");
    assert_eq!(code_status(&err).0, "NoSuchEntity");
    let listed = iam.list_roles().send().await.expect("ListRoles parses");
    let names: Vec<&str> = listed.roles().iter().map(|r| r.role_name()).collect();
    assert_eq!(names, ["demo-app"], "only the demo config's role");

    // UpdateRole, GetRole echoes and provider client IDs follow the same rules.
    iam.create_role()
        .role_name("ok")
        .assume_role_policy_document(&policy)
        .description("tab\tnewline\ncarriage return\r¡ÿ")
        .send()
        .await
        .expect("Latin-1 printable with tab, LF, CR is fine");
    let err = iam
        .update_role()
        .role_name("ok")
        .description("\0")
        .send()
        .await
        .expect_err("NUL");
    assert_eq!(code_status(&err).0, "ValidationError");
    let role = iam.get_role().role_name("ok").send().await.expect("get");
    assert_eq!(
        role.role().and_then(|r| r.description()),
        Some("tab\tnewline\ncarriage return\r¡ÿ")
    );
    let err = iam
        .get_role()
        .role_name("o\0k")
        .send()
        .await
        .expect_err("NUL");
    assert_eq!(code_status(&err).0, "ValidationError");

    let err = iam
        .create_open_id_connect_provider()
        .url(PROVIDER_URL)
        .client_id_list("sts\0amazonaws.com")
        .thumbprint_list(THUMB)
        .send()
        .await
        .expect_err("NUL client ID");
    assert_eq!(code_status(&err).0, "ValidationError");
    iam.create_open_id_connect_provider()
        .url(PROVIDER_URL)
        .client_id_list("sts.amazonaws.com")
        .thumbprint_list(THUMB)
        .send()
        .await
        .expect("provider");
    for bad in ["\u{fffe}", "a\u{1f}"] {
        let err = iam
            .add_client_id_to_open_id_connect_provider()
            .open_id_connect_provider_arn(PROVIDER_ARN)
            .client_id(bad)
            .send()
            .await
            .expect_err("bad client ID");
        assert_eq!(code_status(&err).0, "ValidationError", "{bad:?}");
    }
    let err = iam
        .tag_open_id_connect_provider()
        .open_id_connect_provider_arn(PROVIDER_ARN)
        .tags(tag("team", "a\0"))
        .send()
        .await
        .expect_err("NUL tag value");
    assert_eq!(code_status(&err).0, "ValidationError");
    let err = iam
        .get_open_id_connect_provider()
        .open_id_connect_provider_arn(format!("{PROVIDER_ARN}\0"))
        .send()
        .await
        .expect_err("NUL in the ARN");
    assert_eq!(code_status(&err).0, "ValidationError");
    let provider = iam
        .get_open_id_connect_provider()
        .open_id_connect_provider_arn(PROVIDER_ARN)
        .send()
        .await
        .expect("provider parses");
    assert_eq!(provider.client_id_list(), ["sts.amazonaws.com"]);
}

/// A database written before input validation may hold a value XML cannot carry. The
/// XML writer fails closed for that one role: `ListRoles` still parses and lists the
/// others (also after a restart), `GetRole` of that role is a 500, and the role can be
/// repaired with `UpdateRole` or deleted.
#[tokio::test]
async fn rows_stored_before_validation_do_not_break_listings() {
    let local = Local::start().await;
    let iam = local.iam();
    let policy = trust_policy("system:serviceaccount:default:app");
    iam.create_role()
        .role_name("good")
        .assume_role_policy_document(&policy)
        .send()
        .await
        .expect("good");
    let mut bad = local
        .state
        .store
        .get_role("000000000000", "good")
        .expect("stored");
    bad.name = "legacy".into();
    bad.description = Some("a\u{1}b\0\u{ffff}".into());
    bad.tags = vec![irsa_local::store::Tag {
        key: "k\0".into(),
        value: "v".into(),
    }];
    local
        .state
        .store
        .commit(vec![irsa_local::store::Write::PutRole(bad)])
        .await
        .expect("written directly, as an older version could have");

    let names = |out: &aws_sdk_iam::operation::list_roles::ListRolesOutput| -> Vec<String> {
        out.roles()
            .iter()
            .map(|r| r.role_name().to_owned())
            .collect()
    };
    let listed = iam.list_roles().send().await.expect("ListRoles parses");
    assert_eq!(names(&listed), ["demo-app", "good"]);
    let err = iam
        .get_role()
        .role_name("legacy")
        .send()
        .await
        .expect_err("500");
    assert_eq!(
        (code_status(&err).0.as_str(), code_status(&err).1),
        ("ServiceFailure", 500)
    );

    let local = Local::start_in(local.stop().await).await;
    let iam = local.iam();
    let listed = iam
        .list_roles()
        .send()
        .await
        .expect("ListRoles parses after a restart");
    assert_eq!(names(&listed), ["demo-app", "good"]);
    iam.update_role()
        .role_name("legacy")
        .description("repaired")
        .send()
        .await
        .expect("UpdateRole repairs the description");
    let still = iam
        .get_role()
        .role_name("legacy")
        .send()
        .await
        .expect_err("tag key");
    assert_eq!(code_status(&still).0, "ServiceFailure");
    iam.delete_role()
        .role_name("legacy")
        .send()
        .await
        .expect("DeleteRole works on it");
    let listed = iam.list_roles().send().await.expect("ListRoles");
    assert_eq!(names(&listed), ["demo-app", "good"]);
}
