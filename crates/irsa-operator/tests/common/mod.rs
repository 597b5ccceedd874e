//! The operator's test harness: a fake Kubernetes API at the HTTP level, a real moto server,
//! and helpers to run operator replicas against both and wait for what they do.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

pub mod moto;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use futures::FutureExt as _;
use irsa_operator::aws::{AwsEngine, AwsEngineConfig, ThumbprintSource};
use irsa_operator::config::{Backoff, OperatorConfig};
use irsa_operator::engine::Engine;
use irsa_operator::metrics::Metrics;
use irsa_operator::server::Health;
use serde_json::{Value, json};
use tokio::sync::watch;

pub use irsa_testkit::FakeApi;
#[allow(unused_imports)]
pub use moto::Moto;

/// REST resource of Giant Swarm AWSClusters in the fake.
pub const GS_CLUSTERS: &str = "infrastructure.giantswarm.io/v1alpha3/awsclusters";
/// REST resource of Cluster API AWSClusters in the fake.
pub const CAPA_CLUSTERS: &str = "infrastructure.cluster.x-k8s.io/v1beta2/awsclusters";
/// ConfigMaps.
pub const CONFIG_MAPS: &str = "v1/configmaps";
/// Secrets.
pub const SECRETS: &str = "v1/secrets";
/// events.k8s.io Events.
pub const EVENTS: &str = "events.k8s.io/v1/events";
/// Leases.
pub const LEASES: &str = "coordination.k8s.io/v1/leases";

/// Namespace the tests put clusters in.
pub const NS: &str = "org-test";

/// Waits up to 60 s for `check` to return `Some`, polling every 100 ms.
pub async fn eventually<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// One running operator replica.
pub struct Replica {
    shutdown: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
    /// Its metrics.
    pub metrics: Arc<Metrics>,
    /// Its readiness.
    pub health: Arc<Health>,
    /// Its identity (Events' reportingInstance, the Lease holder).
    pub identity: String,
}

impl Replica {
    /// SIGTERM: finish the reconciles in flight, release the Lease, return.
    pub async fn stop(self) {
        self.shutdown.send_replace(true);
        tokio::time::timeout(Duration::from_secs(60), self.task)
            .await
            .expect("the operator stops within 60 s")
            .unwrap();
    }

    /// `irsa_operator_reconciles_total` for `result`.
    pub fn reconciles(&self, result: &str) -> u64 {
        metric(
            &self.metrics.render(),
            &format!("irsa_operator_reconciles_total{{result=\"{result}\"}}"),
        )
    }
}

/// Reads one sample from an exposition (0 when absent).
pub fn metric(text: &str, series: &str) -> u64 {
    text.lines()
        .find_map(|l| {
            l.strip_prefix(series)
                .map(|v| v.trim().parse::<f64>().unwrap_or(0.0))
        })
        .map_or(0, |v| v as u64)
}

/// Operator settings for tests: fast resync and backoff.
pub fn test_config(identity: &str) -> OperatorConfig {
    let mut config = OperatorConfig::new(identity);
    config.resync = Duration::from_secs(2);
    config.backoff = Backoff {
        base: Duration::from_millis(200),
        cap: Duration::from_secs(2),
    };
    config
}

/// Lease timings short enough for a test, in client-go's proportions.
pub fn fast_lease(identity: &str) -> irsa_kube::lease::LeaseSettings {
    let mut lease = irsa_kube::lease::LeaseSettings::new("kube-system", "irsa-operator", identity);
    lease.lease_duration = Duration::from_secs(3);
    lease.renew_deadline = Duration::from_secs(2);
    lease.retry_period = Duration::from_millis(200);
    lease
}

/// Starts a replica.
pub fn start(api: &FakeApi, engine: Arc<dyn Engine>, config: OperatorConfig) -> Replica {
    let (shutdown, rx) = watch::channel(false);
    let metrics = Arc::new(Metrics::default());
    let health = Arc::new(Health::default());
    let identity = config.instance.clone();
    let client = api.client();
    let (m, h) = (metrics.clone(), health.clone());
    let task = tokio::spawn(async move {
        irsa_operator::run(client, engine, config, m, h, rx)
            .await
            .unwrap();
    });
    Replica {
        shutdown,
        task,
        metrics,
        health,
        identity,
    }
}

/// A Giant Swarm AWSCluster manifest.
pub fn gs_cluster(name: &str, region: &str, opted_in: bool) -> Value {
    let mut annotations = serde_json::Map::new();
    if opted_in {
        annotations.insert(irsa_operator::OPT_IN_ANNOTATION.into(), json!(""));
    }
    json!({
        "apiVersion": "infrastructure.giantswarm.io/v1alpha3",
        "kind": "AWSCluster",
        "metadata": { "name": name, "namespace": NS, "annotations": annotations },
        "spec": { "provider": { "region": region }, "cluster": { "description": "test" } },
    })
}

/// Creates an object through the client.
pub async fn create(api: &FakeApi, resource: &str, obj: &Value) {
    let (group_version, plural) = resource.rsplit_once('/').unwrap();
    let prefix = if group_version == "v1" {
        "/api/v1".to_string()
    } else {
        format!("/apis/{group_version}")
    };
    let url = format!("{}{prefix}/namespaces/{NS}/{plural}", api.url);
    let resp = reqwest::Client::new()
        .post(url)
        .json(obj)
        .send()
        .await
        .unwrap();
    assert!(
        resp.status().is_success(),
        "create failed: {}",
        resp.text().await.unwrap()
    );
}

/// Sends a JSON merge patch.
pub async fn merge_patch(api: &FakeApi, resource: &str, name: &str, patch: &Value) {
    let (group_version, plural) = resource.rsplit_once('/').unwrap();
    let prefix = if group_version == "v1" {
        "/api/v1".to_string()
    } else {
        format!("/apis/{group_version}")
    };
    let url = format!("{}{prefix}/namespaces/{NS}/{plural}/{name}", api.url);
    let resp = reqwest::Client::new()
        .patch(url)
        .header("content-type", "application/merge-patch+json")
        .body(patch.to_string())
        .send()
        .await
        .unwrap();
    assert!(
        resp.status().is_success(),
        "patch failed: {}",
        resp.text().await.unwrap()
    );
}

/// Deletes an object.
pub async fn delete(api: &FakeApi, resource: &str, name: &str) {
    let (group_version, plural) = resource.rsplit_once('/').unwrap();
    let prefix = if group_version == "v1" {
        "/api/v1".to_string()
    } else {
        format!("/apis/{group_version}")
    };
    let url = format!("{}{prefix}/namespaces/{NS}/{plural}/{name}", api.url);
    let resp = reqwest::Client::new().delete(url).send().await.unwrap();
    assert!(
        resp.status().is_success(),
        "delete failed: {}",
        resp.text().await.unwrap()
    );
}

/// Events about `name` with `reason`.
pub fn events(api: &FakeApi, name: &str, reason: &str) -> Vec<Value> {
    api.objects(EVENTS)
        .into_iter()
        .filter(|e| e["regarding"]["name"] == name && e["reason"] == reason)
        .collect()
}

/// The finalizers of a stored object.
pub fn finalizers(obj: &Value) -> Vec<String> {
    obj["metadata"]["finalizers"]
        .as_array()
        .map(|a| a.iter().map(|v| v.as_str().unwrap().to_string()).collect())
        .unwrap_or_default()
}

/// Decodes a Secret's data value.
pub fn secret_data(secret: &Value, key: &str) -> Option<String> {
    use base64::Engine as _;
    let b64 = secret["data"][key].as_str()?;
    let bytes = base64::engine::general_purpose::STANDARD.decode(b64).ok()?;
    String::from_utf8(bytes).ok()
}

/// Installs test logging once (`RUST_LOG` to see it).
pub fn logging() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
}

/// moto's default account (what `sts:GetCallerIdentity` answers for its test credentials).
pub const ACCOUNT: &str = "123456789012";
/// A thumbprint for the IAM provider (moto's issuers are not reachable over TLS here).
pub const THUMBPRINT: &str = "9e99a48a9960b14926bb7f3b02e22da2b0ab7280";

/// An SDK configuration with static test credentials for `region`.
pub async fn sdk_config(
    region: &str,
    access_key: &str,
    secret: &str,
    token: Option<String>,
) -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .credentials_provider(aws_credential_types::Credentials::new(
            access_key, secret, token, None, "test",
        ))
        .region(aws_config::Region::new(region.to_string()))
        .load()
        .await
}

/// The real engine (irsa-aws) pointed at moto, with static test credentials.
pub fn engine(moto: &Moto) -> Arc<dyn Engine> {
    let config = AwsEngineConfig {
        s3_endpoint_url: Some(moto.url.clone()),
        iam_endpoint_url: Some(moto.url.clone()),
        sts_endpoint_url: Some(moto.url.clone()),
        tags: vec![irsa_provision::Tag::new("team", "platform")],
        thumbprints: ThumbprintSource::Fixed(vec![THUMBPRINT.to_string()]),
    };
    Arc::new(AwsEngine::with_base_clients(
        config,
        Arc::new(|settings: irsa_aws::AwsSettings| {
            async move {
                let sdk = sdk_config(settings.region.as_str(), "testing", "testing", None).await;
                irsa_aws::Clients::from_sdk_config(sdk, settings)
            }
            .boxed()
        }),
    ))
}

/// Independent SDK clients for checking moto's state.
pub struct AwsView {
    /// S3.
    pub s3: aws_sdk_s3::Client,
    /// IAM.
    pub iam: aws_sdk_iam::Client,
}

impl AwsView {
    /// Clients for `region` with the default test credentials.
    pub async fn new(moto: &Moto, region: &str) -> Self {
        let sdk = sdk_config(region, "testing", "testing", None).await;
        Self::with_sdk(moto, &sdk)
    }

    /// Clients from an SDK configuration (e.g. another account's credentials).
    pub fn with_sdk(moto: &Moto, sdk: &aws_config::SdkConfig) -> Self {
        let s3 = aws_sdk_s3::config::Builder::from(sdk)
            .endpoint_url(&moto.url)
            .force_path_style(true)
            .build();
        let iam = aws_sdk_iam::config::Builder::from(sdk)
            .endpoint_url(&moto.url)
            .build();
        Self {
            s3: aws_sdk_s3::Client::from_conf(s3),
            iam: aws_sdk_iam::Client::from_conf(iam),
        }
    }

    /// Whether the bucket exists.
    pub async fn bucket_exists(&self, bucket: &str) -> bool {
        self.s3.head_bucket().bucket(bucket).send().await.is_ok()
    }

    /// The published `keys.json`, parsed.
    pub async fn keys_json(&self, bucket: &str) -> Option<Value> {
        let out = self
            .s3
            .get_object()
            .bucket(bucket)
            .key("keys.json")
            .send()
            .await
            .ok()?;
        let bytes = out.body.collect().await.ok()?.into_bytes();
        serde_json::from_slice(&bytes).ok()
    }

    /// The kids in `keys.json`.
    pub async fn kids(&self, bucket: &str) -> Vec<String> {
        self.keys_json(bucket)
            .await
            .map(|j| {
                j["keys"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|k| k["kid"].as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Whether the IAM OIDC provider exists.
    pub async fn provider_exists(&self, arn: &str) -> bool {
        self.iam
            .get_open_id_connect_provider()
            .open_id_connect_provider_arn(arn)
            .send()
            .await
            .is_ok()
    }
}

/// The bucket of a cluster in moto's default account.
pub fn bucket(cluster: &str) -> String {
    format!("{ACCOUNT}-g8s-{cluster}-oidc-pod-identity")
}

/// The kid of a PEM public key.
pub fn kid_of_pem(pem: &str) -> String {
    irsa_jose::keys::parse_public_keys_pem("test", pem.as_bytes()).unwrap()[0]
        .kid()
        .to_string()
}

/// AWS calls in a replica's metrics whose action is not a read.
pub fn mutating_aws_calls(replica: &Replica) -> Vec<String> {
    replica
        .metrics
        .render()
        .lines()
        .filter(|l| l.starts_with("irsa_operator_aws_calls_total{"))
        .filter(|l| {
            let action = l.split("action=\"").nth(1).unwrap_or_default();
            !["Get", "Head", "List"]
                .iter()
                .any(|p| action.starts_with(p))
        })
        .map(str::to_string)
        .collect()
}
