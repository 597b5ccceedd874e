//! The YAML config, the built-in demo, and applying either to the store idempotently.
//!
//! A config declares clusters and roles; applying it creates what is missing and updates
//! what differs, keeping signing keys, role IDs and creation dates, so applying the same
//! file twice changes nothing (and a restart never rotates a key). Each cluster gets an
//! IAM OIDC provider in its account, and in every other account whose roles trust it, as a
//! cross-account setup in AWS needs. Its partition is the cluster region's and its client
//! ID that partition's audience (`sts.amazonaws.com`, `sts.amazonaws.com.cn` in China:
//! [`irsa_core::aws::Partition::default_audience`]), the same value the generated trust
//! policies require in `:aud` and `irsa local token` mints by default.

use std::path::Path;
use std::sync::Arc;

use irsa_core::aws::{AccountId, Partition, Region};
use irsa_core::issuer::{ClusterId, ClusterIssuer};
use irsa_core::k8s::SubjectPattern;
use irsa_core::trust_policy::TrustPolicyRequest;
use serde::{Deserialize, Deserializer};

use crate::clusters::{ClusterError, Clusters, LocalCluster, generate_key_pem, parse_issuer};
use crate::session_seal::SessionSealer;
use crate::state::{AppState, Clock, Settings, SharedState};
use crate::store::{ClusterRecord, Provider, Role, Store, StoreError, Write};

/// Why a config could not be read or applied.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config {path}: {source}")]
    Read {
        /// File.
        path: String,
        /// Cause.
        source: std::io::Error,
    },
    /// Not valid YAML for the config schema.
    #[error("config {path}: {message}")]
    Parse {
        /// File.
        path: String,
        /// serde-saphyr's message (with line and column).
        message: String,
    },
    /// A value breaks a rule.
    #[error("config: {what}: {message}")]
    Invalid {
        /// Which entry (e.g. `clusters[0] demo`).
        what: String,
        /// The rule.
        message: String,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The STS session-sealing key could not be loaded or created.
    #[error(transparent)]
    Sealer(#[from] crate::session_seal::SealError),
    /// A cluster key failed.
    #[error(transparent)]
    Cluster(#[from] ClusterError),
    /// Key generation failed.
    #[error("generating the signing key of cluster {cluster}: {source}")]
    KeyGen {
        /// Cluster.
        cluster: String,
        /// Cause.
        source: irsa_jose::KeyError,
    },
}

/// An account ID in YAML, quoted or not. An unquoted `000000000000` would be the number 0
/// to a type-agnostic YAML reader; asking serde-saphyr for a string keeps the scalar's text
/// (leading zeros included). Numbers from other deserializers are zero-padded to 12 digits.
fn account<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    struct V;
    impl serde::de::Visitor<'_> for V {
        type Value = String;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a 12-digit AWS account ID")
        }
        fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<String, E> {
            Ok(v.to_string())
        }
        fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<String, E> {
            Ok(format!("{v:012}"))
        }
        fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<String, E> {
            u64::try_from(v)
                .map(|v| format!("{v:012}"))
                .map_err(|_| E::custom(format!("account {v} is negative")))
        }
    }
    d.deserialize_str(V)
}

/// The config file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Config {
    /// Clusters.
    #[serde(default)]
    pub clusters: Vec<ClusterConfig>,
    /// Roles.
    #[serde(default)]
    pub roles: Vec<RoleConfig>,
}

/// A cluster entry.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ClusterConfig {
    /// Name.
    pub name: String,
    /// Account of the issuer.
    #[serde(deserialize_with = "account")]
    pub account: String,
    /// Region.
    pub region: String,
    /// Issuer; default the guide's S3 issuer.
    #[serde(default)]
    pub issuer: Option<String>,
}

/// A role entry.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RoleConfig {
    /// Account of the role.
    #[serde(deserialize_with = "account")]
    pub account: String,
    /// Role name.
    pub name: String,
    /// IAM path; default `/`.
    #[serde(default)]
    pub path: Option<String>,
    /// The cluster whose service accounts may assume the role.
    #[serde(default)]
    pub cluster: Option<String>,
    /// `NAMESPACE/NAME` entries (wildcards allowed) for the generated trust policy.
    #[serde(default)]
    pub service_accounts: Option<Vec<String>>,
    /// A verbatim trust policy: a JSON string, or a YAML mapping.
    #[serde(default)]
    pub assume_role_policy_document: Option<serde_json::Value>,
    /// Maximum session duration (3600..=43200).
    #[serde(default)]
    pub max_session_duration: Option<u32>,
    /// Description.
    #[serde(default)]
    pub description: Option<String>,
}

impl Config {
    /// Parses YAML; `source` names the input in errors.
    pub fn parse(source: &str, yaml: &str) -> Result<Self, ConfigError> {
        serde_saphyr::from_str(yaml).map_err(|e| ConfigError::Parse {
            path: source.to_string(),
            message: e.to_string(),
        })
    }

    /// Reads and parses a file.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Self::parse(&path.display().to_string(), &text)
    }

    /// The demo: cluster `demo` (account 000000000000, eu-west-1) and role `demo-app`
    /// trusted for `system:serviceaccount:default:demo-app`.
    pub fn demo() -> Self {
        Self {
            clusters: vec![ClusterConfig {
                name: "demo".into(),
                account: "000000000000".into(),
                region: "eu-west-1".into(),
                issuer: None,
            }],
            roles: vec![RoleConfig {
                account: "000000000000".into(),
                name: "demo-app".into(),
                path: None,
                cluster: Some("demo".into()),
                service_accounts: Some(vec!["default/demo-app".into()]),
                assume_role_policy_document: None,
                max_session_duration: None,
                description: None,
            }],
        }
    }
}

fn invalid(what: impl Into<String>, message: impl std::fmt::Display) -> ConfigError {
    ConfigError::Invalid {
        what: what.into(),
        message: message.to_string(),
    }
}

/// A cluster after validation.
#[derive(Debug, Clone)]
struct PlannedCluster {
    name: String,
    account: String,
    region: String,
    issuer: ClusterIssuer,
}

fn plan_cluster(i: usize, c: &ClusterConfig) -> Result<PlannedCluster, ConfigError> {
    let what = format!("clusters[{i}] {}", c.name);
    let id = ClusterId::parse(&c.name).map_err(|e| invalid(&what, e))?;
    let account = AccountId::parse(&c.account).map_err(|e| invalid(&what, e))?;
    let region = Region::parse(&c.region).map_err(|e| invalid(&what, e))?;
    let issuer = match &c.issuer {
        None => ClusterIssuer::s3(&account, &region, &id),
        Some(url) => {
            let issuer = parse_issuer(url, &region).map_err(|e| invalid(&what, e))?;
            if !issuer.url().starts_with("https://") {
                return Err(invalid(
                    &what,
                    format!(
                        "issuer {url:?} must start with https:// (STS only trusts HTTPS issuers)"
                    ),
                ));
            }
            issuer
        }
    };
    Ok(PlannedCluster {
        name: c.name.clone(),
        account: c.account.clone(),
        region: c.region.clone(),
        issuer,
    })
}

/// A role after validation.
#[derive(Debug, Clone)]
struct PlannedRole {
    partition: Partition,
    account: String,
    name: String,
    path: String,
    document: String,
    max_session_duration: u32,
    description: Option<String>,
    /// Local clusters the role trusts: their provider URLs (without scheme) and partitions.
    trusted_providers: Vec<(String, Partition)>,
}

fn federated_arns(document: &serde_json::Value) -> Vec<String> {
    let statements = match document.get("Statement") {
        Some(serde_json::Value::Array(a)) => a.clone(),
        Some(s @ serde_json::Value::Object(_)) => vec![s.clone()],
        _ => Vec::new(),
    };
    let mut out = Vec::new();
    for s in statements {
        match s.get("Principal").and_then(|p| p.get("Federated")) {
            Some(serde_json::Value::String(a)) => out.push(a.clone()),
            Some(serde_json::Value::Array(list)) => {
                out.extend(list.iter().filter_map(|v| v.as_str().map(str::to_string)))
            }
            _ => {}
        }
    }
    out
}

fn plan_role(
    i: usize,
    r: &RoleConfig,
    clusters: &[PlannedCluster],
) -> Result<PlannedRole, ConfigError> {
    let what = format!("roles[{i}] {}", r.name);
    let mut v = crate::validation::Violations::new();
    v.check(&crate::validation::ROLE_NAME, &r.name, "roleName");
    if let Some(d) = &r.description {
        v.check(&crate::validation::DESCRIPTION, d, "description");
    }
    v.finish().map_err(|e| invalid(&what, e.message))?;
    let account = AccountId::parse(&r.account).map_err(|e| invalid(&what, e))?;
    let path = r.path.clone().unwrap_or_else(|| "/".into());
    irsa_core::aws::IamPath::parse(&path).map_err(|e| invalid(&what, e))?;
    let max = r
        .max_session_duration
        .unwrap_or(irsa_sts::DEFAULT_MAX_SESSION_DURATION);
    let range = irsa_sts::MAX_SESSION_DURATION_RANGE;
    if !range.contains(&max) {
        return Err(invalid(
            &what,
            format!(
                "maxSessionDuration {max} must be between {} and {} seconds",
                range.start(),
                range.end()
            ),
        ));
    }
    let mut trusted = Vec::new();
    let mut partition = None;
    let document = match (&r.service_accounts, &r.assume_role_policy_document) {
        (Some(_), Some(_)) => {
            return Err(invalid(
                &what,
                "give either serviceAccounts (with cluster) or assumeRolePolicyDocument, not both",
            ));
        }
        (None, None) => {
            return Err(invalid(
                &what,
                "needs serviceAccounts (with cluster) or assumeRolePolicyDocument",
            ));
        }
        (Some(sas), None) => {
            let cluster_name = r.cluster.as_deref().ok_or_else(|| {
                invalid(
                    &what,
                    "serviceAccounts needs cluster: NAME to know the issuer",
                )
            })?;
            let cluster = clusters
                .iter()
                .find(|c| c.name == cluster_name)
                .ok_or_else(|| {
                    invalid(
                        &what,
                        format!("cluster {cluster_name:?} is not declared under clusters"),
                    )
                })?;
            let mut subjects = Vec::new();
            for sa in sas {
                let (ns, name) = sa.split_once('/').ok_or_else(|| {
                    invalid(
                        &what,
                        format!("service account {sa:?} must be NAMESPACE/NAME"),
                    )
                })?;
                subjects.push(SubjectPattern::new(ns, name).map_err(|e| invalid(&what, e))?);
            }
            let request = TrustPolicyRequest::new(cluster.issuer.clone(), account, subjects);
            let policy = request.build().map_err(|e| invalid(&what, e))?;
            trusted.push((
                cluster.issuer.host_path().to_string(),
                cluster.issuer.partition(),
            ));
            partition = Some(cluster.issuer.partition());
            policy.to_json_compact().to_string()
        }
        (None, Some(doc)) => {
            if r.cluster.is_some() {
                return Err(invalid(
                    &what,
                    "cluster is only used with serviceAccounts; a verbatim assumeRolePolicyDocument names its provider itself",
                ));
            }
            let text = match doc {
                serde_json::Value::String(s) => s.clone(),
                other => serde_json::to_string(other).map_err(|e| invalid(&what, e))?,
            };
            if let Ok(parsed) = serde_json::from_str::<serde_json::Value>(&text) {
                for arn in federated_arns(&parsed) {
                    let Ok(arn) = irsa_core::aws::OidcProviderArn::parse(&arn) else {
                        continue;
                    };
                    // The role lives in the partition of the providers it trusts.
                    partition.get_or_insert(arn.partition());
                    if clusters
                        .iter()
                        .any(|c| c.issuer.host_path() == arn.host_path())
                    {
                        trusted.push((arn.host_path().to_owned(), arn.partition()));
                    }
                }
            }
            text
        }
    };
    crate::iam::validate_trust_policy(&document, "assumeRolePolicyDocument")
        .map_err(|e| invalid(&what, format!("{}: {}", e.code, e.message)))?;
    Ok(PlannedRole {
        partition: partition.unwrap_or(Partition::Aws),
        account: r.account.clone(),
        name: r.name.clone(),
        path,
        document,
        max_session_duration: max,
        description: r.description.clone(),
        trusted_providers: trusted,
    })
}

/// What applying a config did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ApplyReport {
    /// Number of records written (0 when nothing changed).
    pub writes: usize,
    /// Clusters created (new keys generated).
    pub clusters_created: Vec<String>,
}

/// Applies `config` to `store`: creates missing clusters (with new keys), providers and
/// roles, updates changed ones, and commits everything in one transaction.
pub async fn apply(store: &Store, config: &Config, now: i64) -> Result<ApplyReport, ConfigError> {
    let mut planned_clusters = Vec::new();
    for (i, c) in config.clusters.iter().enumerate() {
        if planned_clusters
            .iter()
            .any(|p: &PlannedCluster| p.name == c.name)
        {
            return Err(invalid(
                format!("clusters[{i}] {}", c.name),
                "duplicate cluster name",
            ));
        }
        planned_clusters.push(plan_cluster(i, c)?);
    }
    let mut planned_roles: Vec<PlannedRole> = Vec::new();
    for (i, r) in config.roles.iter().enumerate() {
        let role = plan_role(i, r, &planned_clusters)?;
        if planned_roles
            .iter()
            .any(|p| p.account == role.account && p.name.eq_ignore_ascii_case(&role.name))
        {
            return Err(invalid(
                format!("roles[{i}] {}", r.name),
                "duplicate role name in this account (IAM role names are case-insensitive)",
            ));
        }
        planned_roles.push(role);
    }

    let _guard = store.write_lock().await;
    let mut writes = Vec::new();
    let mut report = ApplyReport::default();
    for c in &planned_clusters {
        match store.get_cluster(&c.name) {
            Some(existing) => {
                let updated = ClusterRecord {
                    account: c.account.clone(),
                    region: c.region.clone(),
                    issuer: c.issuer.url().to_string(),
                    ..existing.clone()
                };
                if updated != existing {
                    writes.push(Write::PutCluster(updated));
                }
            }
            None => {
                let pem = generate_key_pem().map_err(|source| ConfigError::KeyGen {
                    cluster: c.name.clone(),
                    source,
                })?;
                writes.push(Write::PutCluster(ClusterRecord {
                    name: c.name.clone(),
                    account: c.account.clone(),
                    region: c.region.clone(),
                    issuer: c.issuer.url().to_string(),
                    private_key_pem: pem,
                    created: now,
                }));
                report.clusters_created.push(c.name.clone());
            }
        }
    }

    // Providers: each cluster in its own account, plus every account whose roles trust it.
    let mut wanted: Vec<(String, String, Partition)> = planned_clusters
        .iter()
        .map(|c| {
            let issuer = &c.issuer;
            (
                c.account.clone(),
                issuer.host_path().to_string(),
                issuer.partition(),
            )
        })
        .collect();
    for r in &planned_roles {
        for (url, partition) in &r.trusted_providers {
            wanted.push((r.account.clone(), url.clone(), *partition));
        }
    }
    wanted.sort();
    wanted.dedup();
    for (account, url, partition) in wanted {
        let audience = partition.default_audience();
        match store.get_provider(&account, &url) {
            Some(mut p) => {
                if p.partition != partition || !p.client_ids.iter().any(|c| c == audience) {
                    p.partition = partition;
                    if !p.client_ids.iter().any(|c| c == audience) {
                        p.client_ids.push(audience.into());
                    }
                    writes.push(Write::PutProvider(p));
                }
            }
            None => writes.push(Write::PutProvider(Provider {
                partition,
                account,
                url,
                client_ids: vec![audience.into()],
                thumbprints: Vec::new(),
                tags: Vec::new(),
                created: now,
            })),
        }
    }

    for r in planned_roles {
        match store.get_role(&r.account, &r.name) {
            Some(existing) => {
                let updated = Role {
                    partition: r.partition,
                    path: r.path,
                    assume_role_policy_document: r.document,
                    max_session_duration: r.max_session_duration,
                    description: r.description,
                    ..existing.clone()
                };
                if updated != existing {
                    writes.push(Write::PutRole(updated));
                }
            }
            None => writes.push(Write::PutRole(Role {
                partition: r.partition,
                account: r.account,
                name: r.name,
                path: r.path,
                role_id: crate::ids::role_id(),
                assume_role_policy_document: r.document,
                max_session_duration: r.max_session_duration,
                description: r.description,
                tags: Vec::new(),
                created: now,
            })),
        }
    }
    report.writes = writes.len();
    store.commit(writes).await?;
    Ok(report)
}

/// How to start the state.
#[derive(Debug, Clone, Default)]
pub struct BootstrapOptions {
    /// Data directory.
    pub data_dir: std::path::PathBuf,
    /// The config to apply; `None` applies the demo when the data directory is empty.
    pub config: Option<Config>,
    /// Settings.
    pub settings: Settings,
    /// Clock.
    pub clock: Clock,
}

/// The started state and what applying the config did.
#[derive(Debug)]
pub struct Bootstrapped {
    /// Shared state for the server.
    pub state: SharedState,
    /// What the config application did.
    pub report: ApplyReport,
}

/// Opens the store, applies the config (or the demo on an empty data directory), drops
/// expired sessions and loads the clusters.
pub async fn bootstrap(options: BootstrapOptions) -> Result<Bootstrapped, ConfigError> {
    let store = Store::open(&options.data_dir)?;
    let now = options.clock.now();
    let report = match &options.config {
        Some(config) => apply(&store, config, now).await?,
        None if store.list_clusters().is_empty() && store.all_roles().is_empty() => {
            apply(&store, &Config::demo(), now).await?
        }
        None => ApplyReport::default(),
    };
    store.prune_sessions(now).await?;
    let mut clusters = Vec::new();
    for record in store.list_clusters() {
        clusters.push(LocalCluster::from_record(&record)?);
    }
    let sealer = SessionSealer::load_or_create(&store).await?;
    let state = Arc::new(AppState {
        sts: crate::sts::StsState::new(options.settings.remote_issuer.clone()),
        sealer,
        store,
        clusters: Clusters::new(clusters),
        settings: options.settings,
        clock: options.clock,
    });
    Ok(Bootstrapped { state, report })
}

#[cfg(test)]
mod tests {
    use super::*;

    const YAML: &str = r#"
clusters:
  - name: alpha
    account: 000000000000
    region: eu-west-1
  - name: beta
    account: "111111111111"
    region: us-east-1
    issuer: https://oidc.example.com/beta
roles:
  - account: 000000000000
    name: app
    cluster: alpha
    serviceAccounts: ["default/app", "jobs/*"]
    maxSessionDuration: 7200
  - account: "222222222222"
    name: cross
    cluster: alpha
    serviceAccounts: ["default/cross"]
  - account: "111111111111"
    name: verbatim
    assumeRolePolicyDocument:
      Version: "2012-10-17"
      Statement:
        - Effect: Allow
          Principal:
            Federated: arn:aws:iam::111111111111:oidc-provider/oidc.example.com/beta
          Action: sts:AssumeRoleWithWebIdentity
"#;

    #[test]
    fn parses_accounts_with_leading_zeros() {
        let c = Config::parse("t", YAML).expect("parse");
        assert_eq!(c.clusters[0].account, "000000000000");
        assert_eq!(c.roles[1].account, "222222222222");
        assert!(c.roles[2].assume_role_policy_document.is_some());
    }

    #[test]
    fn rejects_unknown_fields_and_bad_values() {
        let err = Config::parse("t", "clusters: []\nrole: []\n").expect_err("unknown");
        assert!(err.to_string().contains("role"), "{err}");
        let c = Config::parse(
            "t",
            "clusters: [{name: x, account: '000000000000', region: eu-west-1, issuer: 'http://example.com'}]",
        )
        .expect("parse");
        assert!(plan_cluster(0, &c.clusters[0]).is_err());
    }

    #[tokio::test]
    async fn apply_is_idempotent_and_cross_account() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(dir.path()).expect("open");
        let config = Config::parse("t", YAML).expect("parse");
        let first = apply(&store, &config, 100).await.expect("apply");
        assert!(first.writes > 0);
        assert_eq!(first.clusters_created, vec!["alpha", "beta"]);
        let key = store.get_cluster("alpha").expect("alpha").private_key_pem;
        let role_id = store.get_role("000000000000", "app").expect("app").role_id;

        let second = apply(&store, &config, 200).await.expect("apply again");
        assert_eq!(second, ApplyReport::default());
        assert_eq!(
            store.get_cluster("alpha").expect("alpha").private_key_pem,
            key
        );
        assert_eq!(
            store.get_role("000000000000", "app").expect("app").role_id,
            role_id
        );

        let alpha_url = "s3.eu-west-1.amazonaws.com/000000000000-g8s-alpha-oidc-pod-identity";
        assert!(store.get_provider("000000000000", alpha_url).is_some());
        // The cross-account role's account gets its own provider for alpha.
        assert!(store.get_provider("222222222222", alpha_url).is_some());
        assert!(
            store
                .get_provider("111111111111", "oidc.example.com/beta")
                .is_some()
        );
        let cross = store.get_role("222222222222", "cross").expect("cross");
        assert!(
            cross
                .assume_role_policy_document
                .contains("arn:aws:iam::222222222222:oidc-provider/s3.eu-west-1"),
            "{}",
            cross.assume_role_policy_document
        );
        let app = store.get_role("000000000000", "app").expect("app");
        assert_eq!(app.max_session_duration, 7200);
        assert!(app.assume_role_policy_document.contains("StringLike"));

        // A changed config updates in place.
        let mut changed = config.clone();
        changed.roles[0].max_session_duration = Some(3600);
        let third = apply(&store, &changed, 300).await.expect("apply changed");
        assert_eq!(third.writes, 1);
        let app2 = store.get_role("000000000000", "app").expect("app");
        assert_eq!(app2.max_session_duration, 3600);
        assert_eq!(app2.role_id, role_id);
    }

    #[tokio::test]
    async fn bootstrap_creates_demo_once() {
        let dir = tempfile::tempdir().expect("tempdir");
        let options = BootstrapOptions {
            data_dir: dir.path().to_path_buf(),
            ..Default::default()
        };
        let b = bootstrap(options.clone()).await.expect("bootstrap");
        assert_eq!(b.report.clusters_created, vec!["demo"]);
        let demo = b.state.clusters.get("demo").expect("demo");
        assert_eq!(
            demo.issuer,
            "https://s3.eu-west-1.amazonaws.com/000000000000-g8s-demo-oidc-pod-identity"
        );
        let role = b
            .state
            .store
            .get_role("000000000000", "demo-app")
            .expect("role");
        assert!(
            role.assume_role_policy_document
                .contains("system:serviceaccount:default:demo-app")
        );
        let kid = demo.kid().to_string();
        b.state.store.close();
        drop(b);
        let again = bootstrap(options).await.expect("bootstrap again");
        assert_eq!(again.report, ApplyReport::default());
        assert_eq!(again.state.clusters.get("demo").expect("demo").kid(), kid);
    }

    #[tokio::test]
    async fn shipped_example_applies() {
        let yaml = include_str!("../../../deploy/local/example.yaml");
        let config = Config::parse("deploy/local/example.yaml", yaml).expect("example parses");
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(dir.path()).expect("open");
        let report = apply(&store, &config, 1).await.expect("example applies");
        assert_eq!(report.clusters_created, vec!["dev", "prod"]);
        let payments = store
            .get_role("111111111111", "payments")
            .expect("payments");
        assert_eq!(payments.path, "/irsa/");
        assert!(
            store
                .get_provider(
                    "222222222222",
                    "s3.eu-west-1.amazonaws.com/000000000000-g8s-dev-oidc-pod-identity"
                )
                .is_some()
        );
        assert!(
            store
                .get_provider("111111111111", "oidc.prod.example.com/prod")
                .is_some()
        );
    }

    #[test]
    fn role_needs_exactly_one_policy_source() {
        let clusters = vec![];
        let r = RoleConfig {
            account: "000000000000".into(),
            name: "x".into(),
            path: None,
            cluster: None,
            service_accounts: None,
            assume_role_policy_document: None,
            max_session_duration: None,
            description: None,
        };
        assert!(plan_role(0, &r, &clusters).is_err());
        let bad_max = RoleConfig {
            assume_role_policy_document: Some(serde_json::json!("{}")),
            max_session_duration: Some(100),
            ..r
        };
        let err = plan_role(0, &bad_max, &clusters).expect_err("max");
        assert!(err.to_string().contains("maxSessionDuration 100"), "{err}");
    }
}
