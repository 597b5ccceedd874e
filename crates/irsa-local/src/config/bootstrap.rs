//! Startup: open the store, apply the config (or the demo on a fresh data directory), and
//! build the state the server shares.
//!
//! The demo is what `irsa local` without `--config` serves, so that the whole chain works
//! with no setup; it is applied only to an empty data directory, never over a user's state.

use std::sync::Arc;

use irsa_runtime::progress::{Progress, Reporter};

use super::ConfigError;
use super::apply::{ApplyReport, apply};
use super::schema::{ClusterConfig, Config, RoleConfig};
use crate::clusters::{Clusters, LocalCluster};
use crate::session_seal::SessionSealer;
use crate::state::{AppState, Clock, Settings, SharedState};
use crate::store::Store;

impl Config {
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

/// How to start the state.
#[derive(Debug, Clone, Default)]
pub struct BootstrapOptions {
    /// Data directory.
    pub data_dir: std::path::PathBuf,
    /// The config to apply; `None` applies the demo when the data directory is empty.
    pub config: Option<Config>,
    /// Root credentials, their account and the SigV4 skew the server will run with.
    pub settings: Settings,
    /// Time source for what the config creates and for the server afterwards; tests fix it.
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

/// Opens the store, applies the config (or the demo on an empty data directory) and loads
/// the clusters.
pub async fn bootstrap(options: BootstrapOptions) -> Result<Bootstrapped, ConfigError> {
    bootstrap_with_progress(options, &Reporter::silent()).await
}

/// [`bootstrap`], reporting the config's application to `progress` (`irsa local` draws it
/// on a terminal: a large config generates a key per new cluster).
pub async fn bootstrap_with_progress(
    options: BootstrapOptions,
    progress: &dyn Progress,
) -> Result<Bootstrapped, ConfigError> {
    let store = Store::open(&options.data_dir)?;
    let now = options.clock.now();
    let report = match &options.config {
        Some(config) => apply(&store, config, now, progress).await?,
        None if store.list_clusters().is_empty() && store.all_roles().is_empty() => {
            apply(&store, &Config::demo(), now, progress).await?
        }
        None => ApplyReport::default(),
    };
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
}
