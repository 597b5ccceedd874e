//! Applying the planned config to the store: the store's executor of irsa-provision's
//! plan, in one transaction, only for what differs.
//!
//! What the store holds is read into irsa-provision's observed state, the shared planner
//! compares it with the config's desired state, and the resulting actions (the IAM calls
//! an AWS executor would make) are carried out on the store's records. Existing records
//! keep what the config does not declare (signing keys, role IDs, tags, client IDs added
//! through the IAM API, creation dates), so applying twice writes nothing and a restart
//! never rotates a key. Signing keys are this executor's own business: a cluster without
//! one gets a new key, as `irsa provision` generates one for a key directory without one.

use std::collections::BTreeMap;

use irsa_core::aws::OidcProviderArn;
use irsa_provision::{
    Action, DesiredIdentities, ObservedIdentities, ObservedRole, Plan, plan::ObservedProvider,
    plan_identities,
};

use super::plan::{PlannedCluster, plan};
use super::schema::Config;
use super::{ConfigError, invalid};
use crate::clusters::generate_key_pem;
use crate::store::{ClusterRecord, Provider, Role, Store, Tag, Write};

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
    let planned = plan(config)?;
    let _guard = store.write_lock().await;
    let mut report = ApplyReport::default();
    let mut writes = Vec::new();
    for c in &planned.clusters {
        writes.extend(cluster_write(store, c, now, &mut report)?);
    }
    let observed = observe(store, &planned.identities);
    let plan = plan_identities(&planned.identities, &observed);
    writes.extend(execute(store, &plan, now)?);
    report.writes = writes.len();
    store.commit(writes).await?;
    Ok(report)
}

/// The cluster's record: identity updated in place, key kept; a new key for a new cluster.
fn cluster_write(
    store: &Store,
    c: &PlannedCluster,
    now: i64,
    report: &mut ApplyReport,
) -> Result<Option<Write>, ConfigError> {
    let issuer = c.identity.issuer.url().to_owned();
    Ok(match store.get_cluster(&c.name) {
        Some(existing) => {
            let updated = ClusterRecord {
                account: c.account.clone(),
                region: c.region.clone(),
                issuer,
                ..existing.clone()
            };
            (updated != existing).then_some(Write::PutCluster(updated))
        }
        None => {
            let pem = generate_key_pem().map_err(|source| ConfigError::KeyGen {
                cluster: c.name.clone(),
                source,
            })?;
            report.clusters_created.push(c.name.clone());
            Some(Write::PutCluster(ClusterRecord {
                name: c.name.clone(),
                account: c.account.clone(),
                region: c.region.clone(),
                issuer,
                private_key_pem: pem,
                created: now,
            }))
        }
    })
}

fn to_plan_tags(tags: &[Tag]) -> Vec<irsa_provision::Tag> {
    tags.iter()
        .map(|t| irsa_provision::Tag::new(&t.key, &t.value))
        .collect()
}

fn to_store_tags(tags: &[irsa_provision::Tag]) -> Vec<Tag> {
    tags.iter()
        .map(|t| Tag {
            key: t.key.clone(),
            value: t.value.clone(),
        })
        .collect()
}

/// What the store holds of `desired`. A provider is found by its ARN: a record for the
/// same account and URL in another partition is another provider (it is replaced).
fn observe(store: &Store, desired: &DesiredIdentities) -> ObservedIdentities {
    let mut observed = ObservedIdentities::default();
    for p in &desired.providers {
        let found = store
            .get_provider(p.arn.account().as_str(), p.arn.host_path())
            .filter(|r| r.partition == p.arn.partition());
        if let Some(r) = found {
            observed.providers.insert(
                p.arn.clone(),
                ObservedProvider {
                    client_ids: r.client_ids,
                    thumbprints: r.thumbprints,
                    tags: to_plan_tags(&r.tags),
                },
            );
        }
    }
    for r in &desired.roles {
        let found = store.get_role(r.arn.account().as_str(), r.arn.name().as_str());
        // A record whose ARN does not parse (IAM would not have let it in) is replaced.
        if let Some((record, arn)) = found.and_then(|f| f.role_arn().ok().map(|a| (f, a))) {
            observed.roles.insert(
                r.arn.clone(),
                ObservedRole {
                    arn,
                    trust_policy: record.assume_role_policy_document,
                    max_session_duration: record.max_session_duration,
                    description: record.description,
                },
            );
        }
    }
    observed
}

/// Records by key (`None`: deleted), as the plan's actions leave them.
#[derive(Default)]
struct Pending {
    providers: BTreeMap<(String, String), Option<Provider>>,
    roles: BTreeMap<(String, String), Option<Role>>,
}

/// Carries out `plan`'s actions on copies of the records, and returns one write per
/// record that changed (deletions first, so that a role re-created under the same name
/// is not deleted after being written).
fn execute(store: &Store, plan: &Plan, now: i64) -> Result<Vec<Write>, ConfigError> {
    let mut pending = Pending::default();
    for action in plan.actions() {
        pending.apply(store, action, now)?;
    }
    let mut deletes = Vec::new();
    let mut puts = Vec::new();
    for ((account, url), record) in pending.providers {
        match record {
            Some(p) => puts.push(Write::PutProvider(p)),
            None => deletes.push(Write::DeleteProvider { account, url }),
        }
    }
    for ((account, name), record) in pending.roles {
        match record {
            Some(r) => puts.push(Write::PutRole(r)),
            None => deletes.push(Write::DeleteRole { account, name }),
        }
    }
    deletes.extend(puts);
    Ok(deletes)
}

impl Pending {
    fn provider(&mut self, store: &Store, arn: &str) -> Result<&mut Option<Provider>, ConfigError> {
        let arn = OidcProviderArn::parse(arn).map_err(|e| invalid("plan", e))?;
        let key = (arn.account().to_string(), arn.host_path().to_owned());
        let entry = self
            .providers
            .entry(key)
            .or_insert_with(|| store.get_provider(arn.account().as_str(), arn.host_path()));
        Ok(entry)
    }

    fn role(&mut self, store: &Store, arn: &irsa_core::aws::RoleArn) -> &mut Option<Role> {
        let key = (
            arn.account().to_string(),
            arn.name().as_str().to_ascii_lowercase(),
        );
        self.roles
            .entry(key)
            .or_insert_with(|| store.get_role(arn.account().as_str(), arn.name().as_str()))
    }

    fn apply(&mut self, store: &Store, action: &Action, now: i64) -> Result<(), ConfigError> {
        let missing = || invalid("plan", format!("{}: no such record", action.name()));
        match action {
            Action::CreateOpenIdConnectProvider {
                arn,
                client_ids,
                thumbprints,
                tags,
                ..
            } => {
                let parsed = OidcProviderArn::parse(arn).map_err(|e| invalid("plan", e))?;
                *self.provider(store, arn)? = Some(Provider {
                    partition: parsed.partition(),
                    account: parsed.account().to_string(),
                    url: parsed.host_path().to_owned(),
                    client_ids: client_ids.clone(),
                    thumbprints: thumbprints.clone(),
                    tags: to_store_tags(tags),
                    created: now,
                });
            }
            Action::AddClientIdToOpenIdConnectProvider { arn, client_id } => {
                let p = self.provider(store, arn)?.as_mut().ok_or_else(missing)?;
                if !p.client_ids.contains(client_id) {
                    p.client_ids.push(client_id.clone());
                }
            }
            Action::RemoveClientIdFromOpenIdConnectProvider { arn, client_id } => {
                let p = self.provider(store, arn)?.as_mut().ok_or_else(missing)?;
                p.client_ids.retain(|c| c != client_id);
            }
            Action::UpdateOpenIdConnectProviderThumbprint { arn, thumbprints } => {
                let p = self.provider(store, arn)?.as_mut().ok_or_else(missing)?;
                p.thumbprints.clone_from(thumbprints);
            }
            Action::TagOpenIdConnectProvider { arn, tags } => {
                let p = self.provider(store, arn)?.as_mut().ok_or_else(missing)?;
                for t in to_store_tags(tags) {
                    match p.tags.iter_mut().find(|e| e.key == t.key) {
                        Some(e) => e.value = t.value,
                        None => p.tags.push(t),
                    }
                }
            }
            Action::UntagOpenIdConnectProvider { arn, keys } => {
                let p = self.provider(store, arn)?.as_mut().ok_or_else(missing)?;
                p.tags.retain(|t| !keys.contains(&t.key));
            }
            Action::DeleteOpenIdConnectProvider { arn } => {
                *self.provider(store, arn)? = None;
            }
            Action::CreateRole {
                arn,
                assume_role_policy_document,
                max_session_duration,
                description,
            } => {
                *self.role(store, arn) = Some(Role {
                    partition: arn.partition(),
                    account: arn.account().to_string(),
                    name: arn.name().to_string(),
                    path: arn.path().to_string(),
                    role_id: crate::ids::role_id(),
                    assume_role_policy_document: assume_role_policy_document.clone(),
                    max_session_duration: *max_session_duration,
                    description: description.clone(),
                    tags: Vec::new(),
                    created: now,
                });
            }
            Action::UpdateAssumeRolePolicy {
                arn,
                policy_document,
            } => {
                let r = self.role(store, arn).as_mut().ok_or_else(missing)?;
                r.assume_role_policy_document.clone_from(policy_document);
            }
            Action::UpdateRole {
                arn,
                max_session_duration,
                description,
            } => {
                let r = self.role(store, arn).as_mut().ok_or_else(missing)?;
                r.max_session_duration = *max_session_duration;
                r.description.clone_from(description);
            }
            Action::DeleteRole { arn } => *self.role(store, arn) = None,
            Action::CreateBucket { .. }
            | Action::PutBucketTagging { .. }
            | Action::PutBucketOwnershipControls { .. }
            | Action::PutPublicAccessBlock { .. }
            | Action::PutBucketEncryption { .. }
            | Action::PutObject { .. }
            | Action::DeleteObject { .. }
            | Action::DeleteBucket { .. } => {
                // irsa local serves the documents itself; its plans never hold S3 calls.
                return Err(invalid(
                    "plan",
                    format!("{} has no meaning for irsa local's store", action.name()),
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const YAML: &str = include_str!("../../tests/fixtures/config-three-accounts.yaml");

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
    async fn shipped_example_applies() {
        let yaml = include_str!("../../../../deploy/local/example.yaml");
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

    /// There is one planner: a cluster applied by `irsa local --config` publishes the
    /// bytes, and registers the provider (ARN, URL, client IDs), that `irsa provision`
    /// plans for the same account, region, cluster and key, in both partitions.
    #[tokio::test]
    async fn local_and_provision_plan_the_same_issuer_and_provider() {
        use irsa_core::aws::{AccountId, Region};
        use irsa_core::issuer::ClusterId;
        use irsa_provision::{ClusterSpec, Desired, Options};

        for (region, audience) in [
            ("eu-west-1", "sts.amazonaws.com"),
            ("cn-north-1", "sts.amazonaws.com.cn"),
        ] {
            let yaml =
                format!("clusters: [{{name: one, account: '123456789012', region: {region}}}]\n");
            let config = Config::parse("t", &yaml).expect("parse");
            let dir = tempfile::tempdir().expect("tempdir");
            let store = Store::open(dir.path()).expect("open");
            apply(&store, &config, 1).await.expect("apply");
            let record = store.get_cluster("one").expect("cluster");
            let local = crate::clusters::LocalCluster::from_record(&record).expect("load");

            let spec = ClusterSpec::new(
                AccountId::parse("123456789012").expect("account"),
                Region::parse(region).expect("region"),
                ClusterId::parse("one").expect("cluster"),
                None,
            )
            .expect("spec");
            let provision = Desired::new(spec, &Options::default(), &[local.public_key().clone()])
                .expect("desired");
            let object = |key| {
                provision
                    .objects
                    .iter()
                    .find(|o| o.key == key)
                    .map(|o| o.body.clone())
                    .expect("object")
            };
            assert_eq!(
                local.documents().jwks,
                object(irsa_provision::spec::JWKS_KEY)
            );
            assert_eq!(
                local.documents().discovery,
                object(irsa_provision::spec::DISCOVERY_KEY)
            );

            let wanted = &provision.provider;
            let provider = store
                .get_provider("123456789012", wanted.arn.host_path())
                .expect("provider");
            assert_eq!(provider.arn(), wanted.arn.to_string(), "{region}");
            assert_eq!(provider.issuer_url(), wanted.url);
            assert_eq!(provider.issuer_url(), local.issuer);
            assert_eq!(provider.client_ids, wanted.client_ids);
            assert_eq!(provider.client_ids, [audience]);
        }
    }

    /// The store executor keeps what the IAM API added, restores the audience, replaces a
    /// provider recorded in the wrong partition, and re-creates a role whose path changed.
    #[tokio::test]
    async fn store_executor_interprets_the_shared_plan() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(dir.path()).expect("open");
        let config = Config::parse("t", YAML).expect("parse");
        apply(&store, &config, 100).await.expect("apply");
        let alpha_url = "s3.eu-west-1.amazonaws.com/000000000000-g8s-alpha-oidc-pod-identity";

        let mut p = store
            .get_provider("000000000000", alpha_url)
            .expect("provider");
        p.client_ids = vec!["added-through-iam".into()];
        store
            .commit(vec![Write::PutProvider(p)])
            .await
            .expect("commit");
        let report = apply(&store, &config, 200).await.expect("reapply");
        assert_eq!(report.writes, 1);
        let p = store
            .get_provider("000000000000", alpha_url)
            .expect("provider");
        assert_eq!(p.client_ids, ["added-through-iam", "sts.amazonaws.com"]);
        assert_eq!(p.created, 100);

        let mut legacy = p.clone();
        legacy.partition = irsa_core::aws::Partition::AwsCn;
        store
            .commit(vec![Write::PutProvider(legacy)])
            .await
            .expect("commit");
        apply(&store, &config, 300).await.expect("reapply");
        let p = store
            .get_provider("000000000000", alpha_url)
            .expect("provider");
        assert_eq!(p.partition, irsa_core::aws::Partition::Aws);
        assert_eq!(p.client_ids, ["sts.amazonaws.com"]);

        let mut moved = config.clone();
        moved.roles[0].path = Some("/team/".into());
        let report = apply(&store, &moved, 400).await.expect("apply moved");
        assert_eq!(report.writes, 1, "delete and re-create make one write");
        let app = store.get_role("000000000000", "app").expect("app");
        assert_eq!(app.path, "/team/");
        assert_eq!(app.created, 400);
        assert_eq!(
            apply(&store, &moved, 500).await.expect("again"),
            ApplyReport::default()
        );
    }
}
