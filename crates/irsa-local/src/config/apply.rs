//! Applying the planned config to the store: one transaction, only for what differs.
//!
//! Existing records keep what the config does not declare (signing keys, role IDs, tags,
//! creation dates), so applying twice writes nothing and a restart never rotates a key.

use irsa_core::aws::Partition;
use irsa_runtime::progress::Progress;

use super::ConfigError;
use super::plan::plan;
use super::schema::Config;
use crate::clusters::generate_key_pem;
use crate::store::{ClusterRecord, Provider, Role, Store, Write};

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
///
/// `progress` counts one unit per cluster (a new one costs a key generation) and per role;
/// it is finished on every return.
pub async fn apply(
    store: &Store,
    config: &Config,
    now: i64,
    progress: &dyn Progress,
) -> Result<ApplyReport, ConfigError> {
    let planned = plan(config)?;
    let (planned_clusters, planned_roles) = (planned.clusters, planned.roles);
    let total = planned_clusters.len() + planned_roles.len();
    progress.start(
        "applying the config",
        Some(u64::try_from(total).unwrap_or(u64::MAX)),
    );
    let _finish = Finish(progress);
    let _guard = store.write_lock().await;
    let mut writes = Vec::new();
    let mut report = ApplyReport::default();
    for c in &planned_clusters {
        progress.advance(1);
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
        progress.advance(1);
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

/// Finishes the progress when dropped, whichever way [`apply`] returns.
struct Finish<'a>(&'a dyn Progress);

impl Drop for Finish<'_> {
    fn drop(&mut self) {
        self.0.finish();
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use irsa_runtime::progress::Reporter;

    use super::*;

    /// Every progress call, in order.
    #[derive(Default)]
    struct Recorder(Mutex<Vec<String>>);

    impl Progress for Recorder {
        fn start(&self, what: &str, total: Option<u64>) {
            self.log(format!("start {what} {total:?}"));
        }
        fn advance(&self, units: u64) {
            self.log(format!("advance {units}"));
        }
        fn finish(&self) {
            self.log("finish".into());
        }
    }

    impl Recorder {
        fn log(&self, entry: String) {
            self.0.lock().expect("lock").push(entry);
        }
        fn calls(&self) -> Vec<String> {
            self.0.lock().expect("lock").clone()
        }
    }

    const YAML: &str = include_str!("../../tests/fixtures/config-three-accounts.yaml");

    #[tokio::test]
    async fn progress_counts_every_cluster_and_role_and_always_finishes() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(dir.path()).expect("open");
        let config = Config::parse("t", YAML).expect("parse");
        let units = config.clusters.len() + config.roles.len();
        assert!(units > 3, "the fixture has several clusters and roles");

        let recorder = Recorder::default();
        apply(&store, &config, 100, &recorder).await.expect("apply");
        let mut expected = vec![format!("start applying the config Some({units})")];
        expected.extend(std::iter::repeat_n("advance 1".to_owned(), units));
        expected.push("finish".into());
        assert_eq!(recorder.calls(), expected);

        // A config that fails its checks reports nothing, and a second, converged apply the
        // same count again (nothing is written, every item is still looked at).
        let mut bad = config.clone();
        bad.roles[0].cluster = Some("no-such-cluster".into());
        let failing = Recorder::default();
        assert!(apply(&store, &bad, 200, &failing).await.is_err());
        assert!(failing.calls().is_empty(), "{:?}", failing.calls());
        let again = Recorder::default();
        apply(&store, &config, 300, &again)
            .await
            .expect("apply again");
        assert_eq!(again.calls(), expected);
    }

    #[tokio::test]
    async fn apply_is_idempotent_and_cross_account() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(dir.path()).expect("open");
        let config = Config::parse("t", YAML).expect("parse");
        let first = apply(&store, &config, 100, &Reporter::silent())
            .await
            .expect("apply");
        assert!(first.writes > 0);
        assert_eq!(first.clusters_created, vec!["alpha", "beta"]);
        let key = store.get_cluster("alpha").expect("alpha").private_key_pem;
        let role_id = store.get_role("000000000000", "app").expect("app").role_id;

        let second = apply(&store, &config, 200, &Reporter::silent())
            .await
            .expect("apply again");
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
        let third = apply(&store, &changed, 300, &Reporter::silent())
            .await
            .expect("apply changed");
        assert_eq!(third.writes, 1);
        let app2 = store.get_role("000000000000", "app").expect("app");
        assert_eq!(app2.max_session_duration, 3600);
        assert_eq!(app2.role_id, role_id);
    }

    #[tokio::test]
    async fn shipped_example_applies() {
        let yaml = include_str!("../../../../deploy/local/example.yaml");
        let config = Config::parse("deploy/local/example.yaml", yaml).expect("example parses");
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(dir.path()).expect("open");
        let report = apply(&store, &config, 1, &Reporter::silent())
            .await
            .expect("example applies");
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
}
