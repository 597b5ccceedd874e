//! The engine against a real moto server (started here on a free loopback port): first
//! pass creates everything, the second makes no mutating call, drift is corrected, and
//! removal leaves nothing. The end-to-end tests (tests/e2e/test_provision*.py) check the
//! results with boto3 and moto's own request recorder; this test checks the library API
//! the operator uses.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use aws_config::BehaviorVersion;
use aws_credential_types::Credentials;
use irsa_aws::{AwsSettings, CallKind, Clients, Engine, RunOptions};
use irsa_core::aws::{AccountId, Region};
use irsa_core::issuer::ClusterId;
use irsa_jose::keys::{KeySpec, PrivateKey, RsaBits};
use irsa_provision::plan::Outcome;
use irsa_provision::{ClusterSpec, Desired, Options, Tag};

/// moto's default account.
const ACCOUNT: &str = "123456789012";

struct Moto {
    child: Child,
    url: String,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn moto() -> Moto {
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port");
    let child = Command::new("moto_server")
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("moto_server on PATH (.venv/bin; scripts/test installs it)");
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "moto_server did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    Moto {
        child,
        url: format!("http://127.0.0.1:{port}"),
    }
}

async fn clients(moto: &Moto, region: &str) -> Clients {
    let region = Region::parse(region).expect("region");
    let sdk = aws_config::defaults(BehaviorVersion::v2026_01_12())
        .credentials_provider(Credentials::new("testing", "testing", None, None, "test"))
        .region(aws_config::Region::new(region.as_str().to_owned()))
        .load()
        .await;
    let mut settings = AwsSettings::new(region);
    settings.s3_endpoint_url = Some(moto.url.clone());
    settings.iam_endpoint_url = Some(moto.url.clone());
    settings.sts_endpoint_url = Some(moto.url.clone());
    Clients::from_sdk_config(sdk, settings)
}

fn desired(region: &str, cluster: &str, options: &Options) -> Desired {
    let key = PrivateKey::generate(KeySpec::Rsa(RsaBits::B2048))
        .and_then(|k| k.public_key())
        .expect("key");
    let spec = ClusterSpec::new(
        AccountId::parse(ACCOUNT).expect("account"),
        Region::parse(region).expect("region"),
        ClusterId::parse(cluster).expect("cluster"),
        None,
    )
    .expect("spec");
    Desired::new(spec, options, &[key]).expect("desired")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn converges_then_makes_no_mutating_call_then_removes_everything() {
    let moto = moto();
    let c = clients(&moto, "eu-west-1").await;
    let options = Options {
        client_ids: vec!["extra".into()],
        thumbprints: vec!["9e99a48a9960b14926bb7f3b02e22da2b0ab7280".into()],
        tags: vec![Tag::new("team", "platform")],
    };
    let d = desired("eu-west-1", "abc12", &options);
    let mut lines = Vec::new();
    let first = Engine::new(&c)
        .provision(&d, RunOptions::default(), &mut |s| {
            lines.push(s.progress_line())
        })
        .await
        .expect("first pass");
    assert_eq!(first.mutating_calls(), 8, "{:?}", first.calls);
    assert!(first.documents_changed());
    assert_eq!(lines.len(), 4);
    assert!(lines[0].ends_with("created"), "{lines:?}");

    let second = Engine::new(&c)
        .provision(&d, RunOptions::default(), &mut |_| {})
        .await
        .expect("second pass");
    assert_eq!(second.mutating_calls(), 0, "{:?}", second.plan);
    assert!(second.read_calls() <= 6, "{:?}", second.calls);
    assert!(
        second
            .plan
            .steps
            .iter()
            .all(|s| s.outcome == Outcome::UpToDate)
    );

    // Drift: another writer changes the provider's tag value; the next pass fixes it.
    let iam = aws_sdk_iam::Client::from_conf(
        aws_sdk_iam::config::Builder::from(
            &aws_config::defaults(BehaviorVersion::v2026_01_12())
                .credentials_provider(Credentials::new("testing", "testing", None, None, "test"))
                .region(aws_config::Region::new("us-east-1"))
                .endpoint_url(&moto.url)
                .load()
                .await,
        )
        .build(),
    );
    let tag = aws_sdk_iam::types::Tag::builder()
        .key("team")
        .value("someone-else")
        .build()
        .expect("tag");
    iam.tag_open_id_connect_provider()
        .open_id_connect_provider_arn(d.spec.provider_arn().to_string())
        .tags(tag)
        .send()
        .await
        .expect("drift");
    let fixed = Engine::new(&c)
        .provision(&d, RunOptions::default(), &mut |_| {})
        .await
        .expect("drift pass");
    let names: Vec<&str> = fixed.plan.actions().map(|a| a.name()).collect();
    assert_eq!(names, vec!["TagOpenIDConnectProvider"]);

    // Dry-run removal plans, changes nothing.
    let dry = Engine::new(&c)
        .deprovision(&d.spec, RunOptions { dry_run: true }, &mut |_| {})
        .await
        .expect("dry run");
    assert_eq!(dry.mutating_calls(), 0);
    assert_eq!(dry.plan.actions().count(), 4);
    let gone = Engine::new(&c)
        .deprovision(&d.spec, RunOptions::default(), &mut |_| {})
        .await
        .expect("removal");
    assert_eq!(gone.mutating_calls(), 4);
    let again = Engine::new(&c)
        .deprovision(&d.spec, RunOptions::default(), &mut |_| {})
        .await
        .expect("idempotent removal");
    assert_eq!(again.mutating_calls(), 0);
    assert_eq!(
        c.calls().total(CallKind::Write),
        0,
        "per-pass engines count apart"
    );
}
