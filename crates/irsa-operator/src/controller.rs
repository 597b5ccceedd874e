//! The reconciler: one pass over one `AWSCluster`, its [`Context`], and [`run`], which
//! wires the kube-runtime `Controller`s, leader election, the listeners and shutdown.
//!
//! One pass, in order:
//! 1. Being deleted, or no longer opted in, and our finalizer is on it: remove everything in
//!    AWS, the ConfigMap (and on opt-out the `irsa.io/issuer` annotation), then the finalizer.
//!    A failure keeps the finalizer and retries with backoff.
//! 2. Not opted in (and no finalizer): nothing at all, not even a read.
//! 3. Opted in: the finalizer first, then the signing key, the engine's converge, the
//!    ConfigMap and the annotation, each written only when it differs, so a converged cluster
//!    costs reads only; then a requeue after `--resync` to catch drift in AWS.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::{FutureExt as _, StreamExt as _};
use jiff::Timestamp;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::ResourceExt;
use kube::api::{Api, ObjectMeta, Patch, PatchParams, PostParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use kube::runtime::watcher;
use serde_json::json;
use tokio::sync::{RwLock, watch};
use tracing::Instrument as _;

use crate::config::{AccountSource, Backoff, OperatorConfig};
use crate::crd::{CapaAwsCluster, ClusterResource, Flavour, GsAwsCluster};
use crate::engine::{CallObserver, ClusterTarget, Engine};
use crate::keys::{ClusterKeys, capa_key, ensure_signing_key};
use crate::metrics::Metrics;
use crate::outputs::{CAPA_KEY_DIR, GS_KEY_DIR, config_map_data, config_map_name, data_keys};
use crate::server::Health;
use crate::{
    Error, ISSUER_ANNOTATION, OPT_IN_ANNOTATION, ROTATE_ANNOTATION, finalizer, managed_labels,
    telemetry,
};
use irsa_kube::lease::LeaderElector;

/// Name of the controller in Events and the Lease.
pub const CONTROLLER_NAME: &str = "irsa-operator";

/// Requeue while Cluster API has not created `CLUSTER-sa` yet.
const CAPA_KEY_WAIT: Duration = Duration::from_secs(30);

/// What the health endpoint and logs show about the last activity.
#[derive(Debug, Clone)]
pub struct Diagnostics {
    /// When a reconcile last ran.
    pub last_event: Timestamp,
    /// Who reports Events.
    pub reporter: Reporter,
}

/// Everything a reconcile needs.
pub struct Context {
    /// Kubernetes client.
    pub client: kube::Client,
    /// The provisioning engine.
    pub engine: Arc<dyn Engine>,
    /// Prometheus metrics.
    pub metrics: Arc<Metrics>,
    /// Last activity.
    pub diagnostics: Arc<RwLock<Diagnostics>>,
    /// Publishes `events.k8s.io/v1` Events.
    pub recorder: Recorder,
    /// Requeue period of converged clusters.
    pub resync: Duration,
    /// Error backoff settings.
    pub backoff: Backoff,
    /// Where accounts come from.
    pub accounts: AccountSource,
    /// Whether this replica leads (always true without leader election).
    pub leader: watch::Receiver<bool>,
    failures: Mutex<HashMap<String, u32>>,
}

impl std::fmt::Debug for Context {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Context")
            .field("resync", &self.resync)
            .field("backoff", &self.backoff)
            .finish_non_exhaustive()
    }
}

impl Context {
    /// A context for `config`, reporting Events as `instance`.
    pub fn new(
        client: kube::Client,
        engine: Arc<dyn Engine>,
        metrics: Arc<Metrics>,
        config: &OperatorConfig,
        leader: watch::Receiver<bool>,
    ) -> Self {
        let reporter = Reporter {
            controller: CONTROLLER_NAME.to_string(),
            instance: Some(config.instance.clone()),
        };
        Self {
            recorder: Recorder::new(client.clone(), reporter.clone()),
            client,
            engine,
            metrics,
            diagnostics: Arc::new(RwLock::new(Diagnostics {
                last_event: Timestamp::now(),
                reporter,
            })),
            resync: config.resync,
            backoff: config.backoff,
            accounts: config.accounts.clone(),
            leader,
            failures: Mutex::new(HashMap::new()),
        }
    }

    fn failures(&self) -> std::sync::MutexGuard<'_, HashMap<String, u32>> {
        self.failures
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn observer(&self) -> CallObserver {
        let metrics = self.metrics.clone();
        Arc::new(move |call| metrics.aws_call(call))
    }

    async fn publish<K: ClusterResource>(
        &self,
        obj: &K,
        type_: EventType,
        reason: &str,
        note: String,
    ) {
        let mut note = note;
        if note.len() > 1000 {
            let mut cut = 1000;
            while !note.is_char_boundary(cut) {
                cut -= 1;
            }
            note.truncate(cut);
        }
        let event = Event {
            type_,
            reason: reason.to_string(),
            note: Some(note),
            action: reason.to_string(),
            secondary: None,
        };
        if let Err(e) = self.recorder.publish(&event, &obj.object_ref(&())).await {
            tracing::warn!(error = %e, reason, "cannot publish Event");
        }
    }
}

fn object_key<K: ClusterResource>(obj: &K) -> String {
    format!(
        "{}/{}/{}",
        K::FLAVOUR.as_str(),
        obj.namespace().unwrap_or_default(),
        obj.name_any()
    )
}

fn invalid<K: ClusterResource>(obj: &K, reason: impl Into<String>) -> Error {
    Error::InvalidCluster {
        object: format!("{}/{}", obj.namespace().unwrap_or_default(), obj.name_any()),
        reason: reason.into(),
    }
}

fn target<K: ClusterResource>(obj: &K, ctx: &Context) -> Result<ClusterTarget, Error> {
    let cluster = irsa_core::issuer::ClusterId::parse(&obj.name_any())
        .map_err(|e| invalid(obj, format!("metadata.name: {e}")))?;
    let region_field = match K::FLAVOUR {
        Flavour::GiantSwarm => "spec.provider.region",
        Flavour::Capa => "spec.region",
    };
    let region = irsa_core::aws::Region::parse(obj.region())
        .map_err(|e| invalid(obj, e.for_input(region_field).to_string()))?;
    let identity = ctx
        .accounts
        .identity(obj.labels())
        .map_err(|reason| invalid(obj, reason))?;
    Ok(ClusterTarget {
        cluster,
        region,
        identity,
    })
}

/// Reconciles one object; the controller calls it on every change and requeue.
pub async fn reconcile<K: ClusterResource>(
    obj: Arc<K>,
    ctx: Arc<Context>,
) -> Result<Action, Error> {
    if !*ctx.leader.borrow() {
        // Followers keep their cache warm and do nothing; gaining the Lease reconciles all.
        return Ok(Action::await_change());
    }
    let span = telemetry::reconcile_span(
        K::FLAVOUR.as_str(),
        &obj.namespace().unwrap_or_default(),
        &obj.name_any(),
    );
    let started = Instant::now();
    ctx.diagnostics.write().await.last_event = Timestamp::now();
    let result = reconcile_inner(obj.as_ref(), &ctx).instrument(span).await;
    let key = object_key(obj.as_ref());
    match &result {
        Ok(_) => {
            ctx.failures().remove(&key);
            ctx.metrics.reconciled("success", started.elapsed());
        }
        Err(e) => {
            let failures = {
                let mut map = ctx.failures();
                let n = map.entry(key).or_insert(0);
                *n = n.saturating_add(1);
                *n
            };
            telemetry::log_failure(e, ctx.backoff.delay(failures));
            ctx.metrics.reconciled(e.metric_label(), started.elapsed());
            ctx.publish(
                obj.as_ref(),
                EventType::Warning,
                "ProvisioningFailed",
                e.to_string(),
            )
            .await;
        }
    }
    result
}

/// After a failed reconcile: retry after the object's exponential backoff.
pub fn error_policy<K: ClusterResource>(obj: Arc<K>, _error: &Error, ctx: Arc<Context>) -> Action {
    let failures = ctx
        .failures()
        .get(&object_key(obj.as_ref()))
        .copied()
        .unwrap_or(1);
    Action::requeue(ctx.backoff.delay(failures))
}

async fn reconcile_inner<K: ClusterResource>(obj: &K, ctx: &Context) -> Result<Action, Error> {
    let namespace = obj.namespace().unwrap_or_default();
    let api: Api<K> = Api::namespaced(ctx.client.clone(), &namespace);
    let opted_in = obj.annotations().contains_key(OPT_IN_ANNOTATION);
    let deleting = obj.meta().deletion_timestamp.is_some();
    let has_finalizer = finalizer::has_finalizer(obj);

    if deleting || !opted_in {
        if has_finalizer {
            cleanup(obj, ctx, &api, deleting).await?;
        }
        ctx.metrics.set_managed(&object_key(obj), false);
        return Ok(Action::await_change());
    }

    let target = target(obj, ctx)?;
    let patched;
    let obj = if has_finalizer {
        obj
    } else {
        patched = finalizer::add(&api, obj).await?;
        &patched
    };
    let cluster = target.cluster.as_str().to_string();
    let secrets: Api<Secret> = Api::namespaced(ctx.client.clone(), &namespace);
    let config_maps: Api<ConfigMap> = Api::namespaced(ctx.client.clone(), &namespace);
    let cm_name = config_map_name(&cluster);
    let existing_cm = config_maps.get_opt(&cm_name).await?;
    let existing_data = existing_cm
        .as_ref()
        .and_then(|cm| cm.data.clone())
        .unwrap_or_default();

    let (keys, key_dir): (ClusterKeys, &str) = match K::FLAVOUR {
        Flavour::GiantSwarm => {
            let request = obj.annotations().get(ROTATE_ANNOTATION).map(String::as_str);
            let handled = existing_data
                .get(data_keys::ROTATED_FOR)
                .map(String::as_str);
            let keys = ensure_signing_key(&secrets, obj, &cluster, request, handled).await?;
            (keys, GS_KEY_DIR)
        }
        Flavour::Capa => {
            if obj.annotations().contains_key(ROTATE_ANNOTATION) {
                tracing::warn!(
                    "{ROTATE_ANNOTATION} is ignored on Cluster API clusters: their key belongs to Cluster API"
                );
            }
            match capa_key(&secrets, &cluster).await? {
                Some(keys) => (keys, CAPA_KEY_DIR),
                None => {
                    tracing::info!(
                        secret = %crate::keys::capa_secret_name(&cluster),
                        "waiting for Cluster API's service-account key Secret"
                    );
                    return Ok(Action::requeue(CAPA_KEY_WAIT));
                }
            }
        }
    };

    let converged = ctx
        .engine
        .converge(&target, &keys.public_keys, ctx.observer())
        .await?;
    let data = config_map_data(&converged, &keys, key_dir);
    let issuer_changed = existing_data.get(data_keys::ISSUER) != data.get(data_keys::ISSUER);
    let keys_changed = existing_data.get(data_keys::KEYS_HASH) != data.get(data_keys::KEYS_HASH);
    let cm_written = write_config_map(&config_maps, obj, &cm_name, existing_cm, &data).await?;

    if obj.annotations().get(ISSUER_ANNOTATION) != Some(&converged.issuer) {
        let patch =
            json!({ "metadata": { "annotations": { ISSUER_ANNOTATION: converged.issuer } } });
        api.patch(
            &obj.name_any(),
            &PatchParams::default(),
            &Patch::Merge(&patch),
        )
        .await?;
    }
    ctx.metrics.set_managed(&object_key(obj), true);

    if converged.mutating_calls > 0 || cm_written || keys.created || keys.rotated {
        ctx.publish(
            obj,
            EventType::Normal,
            "Provisioned",
            format!(
                "issuer {} and IAM OIDC provider {} are in place ({} mutating AWS calls); apiserver flags in ConfigMap {cm_name}",
                converged.issuer, converged.provider_arn, converged.mutating_calls
            ),
        )
        .await;
    }
    if issuer_changed || keys_changed {
        let what = match (issuer_changed, keys_changed) {
            (true, true) => "issuer and signing keys",
            (true, false) => "issuer",
            _ => "signing keys",
        };
        ctx.publish(
            obj,
            EventType::Normal,
            "MastersMustRoll",
            format!(
                "the {what} changed (keys-hash {}): roll the control plane to apply apiserver-flags from ConfigMap {cm_name}",
                data.get(data_keys::KEYS_HASH).map(String::as_str).unwrap_or_default()
            ),
        )
        .await;
    }
    Ok(Action::requeue(ctx.resync))
}

/// Creates or updates the ConfigMap; returns whether it wrote.
async fn write_config_map<K: ClusterResource>(
    config_maps: &Api<ConfigMap>,
    owner: &K,
    name: &str,
    existing: Option<ConfigMap>,
    data: &BTreeMap<String, String>,
) -> Result<bool, Error> {
    match existing {
        None => {
            let cm = ConfigMap {
                metadata: ObjectMeta {
                    name: Some(name.to_string()),
                    namespace: owner.namespace(),
                    owner_references: owner.controller_owner_ref(&()).map(|r| vec![r]),
                    labels: Some(managed_labels()),
                    ..ObjectMeta::default()
                },
                data: Some(data.clone()),
                ..ConfigMap::default()
            };
            config_maps.create(&PostParams::default(), &cm).await?;
            Ok(true)
        }
        Some(cm) if cm.data.as_ref() == Some(data) => Ok(false),
        Some(mut cm) => {
            cm.data = Some(data.clone());
            if cm
                .metadata
                .owner_references
                .as_ref()
                .is_none_or(Vec::is_empty)
            {
                cm.metadata.owner_references = owner.controller_owner_ref(&()).map(|r| vec![r]);
            }
            config_maps
                .replace(name, &PostParams::default(), &cm)
                .await?;
            Ok(true)
        }
    }
}

/// Deprovisions a cluster that is being deleted (`deleting`) or opted out, then releases it.
async fn cleanup<K: ClusterResource>(
    obj: &K,
    ctx: &Context,
    api: &Api<K>,
    deleting: bool,
) -> Result<(), Error> {
    let target = target(obj, ctx)?;
    let removed = ctx.engine.remove(&target, ctx.observer()).await?;
    let namespace = obj.namespace().unwrap_or_default();
    let config_maps: Api<ConfigMap> = Api::namespaced(ctx.client.clone(), &namespace);
    match config_maps
        .delete(
            &config_map_name(target.cluster.as_str()),
            &Default::default(),
        )
        .await
    {
        Ok(_) => {}
        Err(kube::Error::Api(s)) if s.code == 404 => {}
        Err(e) => return Err(e.into()),
    }
    let mut current = obj.clone();
    if !deleting && obj.annotations().contains_key(ISSUER_ANNOTATION) {
        let patch = json!({ "metadata": { "annotations": { ISSUER_ANNOTATION: null } } });
        current = api
            .patch(
                &obj.name_any(),
                &PatchParams::default(),
                &Patch::Merge(&patch),
            )
            .await?;
    }
    ctx.publish(
        obj,
        EventType::Normal,
        "Deprovisioned",
        format!(
            "{}: issuer bucket and IAM OIDC provider removed ({} mutating AWS calls){}",
            if deleting {
                "AWSCluster deleted"
            } else {
                "opt-in annotation removed"
            },
            removed.mutating_calls,
            if deleting {
                ""
            } else {
                "; the signing key Secret stays until the AWSCluster is deleted"
            }
        ),
    )
    .await;
    finalizer::remove(api, &current).await?;
    Ok(())
}

fn leader_gained(rx: watch::Receiver<bool>) -> impl futures::Stream<Item = ()> + Send {
    let was = *rx.borrow();
    futures::stream::unfold((rx, was), |(mut rx, mut was)| async move {
        loop {
            rx.changed().await.ok()?;
            let now = *rx.borrow_and_update();
            if now && !was {
                return Some(((), (rx, true)));
            }
            was = now;
        }
    })
}

fn shutdown_future(
    mut shutdown: watch::Receiver<bool>,
) -> impl std::future::Future<Output = ()> + Send + Sync {
    let (tx, rx) = futures::channel::oneshot::channel::<()>();
    tokio::spawn(async move {
        let _ = shutdown.wait_for(|s| *s).await;
        let _ = tx.send(());
    });
    async move {
        let _ = rx.await;
    }
}

fn controller_for<K: ClusterResource>(
    client: &kube::Client,
    namespace: Option<&str>,
    ctx: Arc<Context>,
    health: Arc<ReadyCounter>,
    shutdown: watch::Receiver<bool>,
) -> futures::future::BoxFuture<'static, ()> {
    let api: Api<K> = match namespace {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    };
    let cms: Api<ConfigMap> = match namespace {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    };
    let controller = Controller::new(api, watcher::Config::default())
        .owns(
            cms,
            watcher::Config::default().labels(&format!(
                "app.kubernetes.io/managed-by={}",
                crate::MANAGED_BY
            )),
        )
        .reconcile_all_on(leader_gained(ctx.leader.clone()))
        .graceful_shutdown_on(shutdown_future(shutdown));
    let store = controller.store();
    tokio::spawn(async move {
        // Polled again every 200 ms: the store's readiness future wakes only the last task
        // that polled it, and the controller's own runner waits on it too.
        loop {
            match tokio::time::timeout(Duration::from_millis(200), store.wait_until_ready()).await {
                Ok(Ok(())) => {
                    tracing::debug!(kind = K::FLAVOUR.as_str(), "informer cache synced");
                    health.one_ready();
                    return;
                }
                Ok(Err(e)) => {
                    tracing::warn!(error = %e, "informer cache never synced");
                    return;
                }
                Err(_) => {}
            }
        }
    });
    controller
        .run(reconcile::<K>, error_policy::<K>, ctx)
        .for_each(|result| async move {
            if let Err(e) = result {
                tracing::debug!(error = %e, "controller event");
            }
        })
        .boxed()
}

/// Counts controllers whose caches synced; the process is ready when all did.
#[derive(Debug)]
struct ReadyCounter {
    remaining: std::sync::atomic::AtomicUsize,
    health: Arc<Health>,
}

impl ReadyCounter {
    fn one_ready(&self) {
        if self
            .remaining
            .fetch_sub(1, std::sync::atomic::Ordering::SeqCst)
            == 1
        {
            self.health.set_ready();
        }
    }
}

/// Runs the operator until `shutdown` becomes true: the controllers finish the reconciles in
/// flight, then the Lease is released.
pub async fn run(
    client: kube::Client,
    engine: Arc<dyn Engine>,
    config: OperatorConfig,
    metrics: Arc<Metrics>,
    health: Arc<Health>,
    shutdown: watch::Receiver<bool>,
) -> Result<(), Error> {
    let (leader_tx, leader_rx) = watch::channel(config.leader_election.is_none());
    // The elector keeps renewing until the controllers drained, then releases the Lease.
    let (stop_elector, elector_stop) = watch::channel(false);
    let elector_task = config.leader_election.clone().map(|lease| {
        let elector = LeaderElector::new(client.clone(), lease);
        let leader = leader_tx.clone();
        tokio::spawn(async move { elector.run(leader, elector_stop).await })
    });
    let ctx = Arc::new(Context::new(
        client.clone(),
        engine,
        metrics,
        &config,
        leader_rx,
    ));
    let kinds = if config.capa { 2 } else { 1 };
    let ready = Arc::new(ReadyCounter {
        remaining: std::sync::atomic::AtomicUsize::new(kinds),
        health,
    });
    let namespace = config.namespace.as_deref();
    let mut controllers = vec![controller_for::<GsAwsCluster>(
        &client,
        namespace,
        ctx.clone(),
        ready.clone(),
        shutdown.clone(),
    )];
    if config.capa {
        controllers.push(controller_for::<CapaAwsCluster>(
            &client,
            namespace,
            ctx.clone(),
            ready.clone(),
            shutdown.clone(),
        ));
    }
    futures::future::join_all(controllers).await;
    stop_elector.send_replace(true);
    if let Some(task) = elector_task
        && let Err(e) = task.await
    {
        tracing::warn!(error = %e, "leader election task failed");
    }
    drop(leader_tx);
    Ok(())
}
