//! Leader election over a `coordination.k8s.io/v1` Lease, as client-go's `leaderelection`
//! does it, so that several replicas of a controller can run and only one acts.
//!
//! - The Lease names its holder and when the holder last renewed it. A replica becomes
//!   leader by creating the Lease, by renewing its own, or by taking over one whose holder
//!   has not renewed for `lease_duration` (or released it).
//! - Every write carries the `resourceVersion` that was read, so two replicas racing for the
//!   same Lease cannot both win: the API server answers 409 Conflict to the slower one.
//! - Expiry is judged on this replica's monotonic clock, from the moment it last saw the
//!   Lease change (client-go's "observed time"), never by comparing another machine's
//!   `renewTime` with this machine's wall clock: skewed clocks cannot steal a Lease.
//! - A leader that cannot renew for `renew_deadline` (shorter than `lease_duration`) steps
//!   down before anyone else may take over, so there is never a moment with two leaders
//!   acting, as long as clocks run at the same rate.
//!
//! [`LeaderElector::run`] drives this loop and publishes leadership on a watch channel;
//! [`LeaderElector::release`] hands the Lease over at shutdown so a successor does not wait
//! for it to expire.

use std::time::{Duration, Instant};

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, PostParams};
use tokio::sync::{Mutex, watch};

/// How leadership is held and contested.
#[derive(Debug, Clone)]
pub struct LeaseSettings {
    /// Namespace of the Lease.
    pub namespace: String,
    /// Name of the Lease (one per controller, shared by its replicas).
    pub name: String,
    /// This replica's identity, unique among replicas (the pod name is customary).
    pub identity: String,
    /// How long a Lease stays valid after its last renewal; written into the Lease.
    pub lease_duration: Duration,
    /// A leader that has not renewed for this long steps down. Must be below `lease_duration`.
    pub renew_deadline: Duration,
    /// Pause between attempts to acquire or renew.
    pub retry_period: Duration,
}

impl LeaseSettings {
    /// client-go's defaults: 15 s lease, 10 s renew deadline, 2 s retry period.
    pub fn new(namespace: &str, name: &str, identity: &str) -> Self {
        Self {
            namespace: namespace.to_string(),
            name: name.to_string(),
            identity: identity.to_string(),
            lease_duration: Duration::from_secs(15),
            renew_deadline: Duration::from_secs(10),
            retry_period: Duration::from_secs(2),
        }
    }
}

/// A Lease write or read failed for a reason other than losing a race.
#[derive(Debug, thiserror::Error)]
#[error("Lease {namespace}/{name}: {source}")]
pub struct LeaseError {
    /// Namespace of the Lease.
    pub namespace: String,
    /// Name of the Lease.
    pub name: String,
    /// The client's error.
    #[source]
    pub source: kube::Error,
}

/// What this replica last saw of the Lease.
#[derive(Debug, Default)]
struct Observed {
    /// Holder and renew time as last read; a change restarts the expiry clock.
    record: Option<(Option<String>, Option<MicroTime>)>,
    /// When `record` was first seen with its current value.
    since: Option<Instant>,
    /// Last successful acquire or renew by this replica.
    renewed_at: Option<Instant>,
}

/// One replica's side of the election.
pub struct LeaderElector {
    api: Api<Lease>,
    settings: LeaseSettings,
    observed: Mutex<Observed>,
}

impl std::fmt::Debug for LeaderElector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LeaderElector")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

fn is_conflict(e: &kube::Error) -> bool {
    matches!(e, kube::Error::Api(status) if status.code == 409)
}

fn seconds(d: Duration) -> i32 {
    i32::try_from(d.as_secs().max(1)).unwrap_or(i32::MAX)
}

impl LeaderElector {
    /// An elector for `settings` talking through `client`.
    pub fn new(client: kube::Client, settings: LeaseSettings) -> Self {
        Self {
            api: Api::namespaced(client, &settings.namespace),
            settings,
            observed: Mutex::new(Observed::default()),
        }
    }

    /// The settings in use.
    pub fn settings(&self) -> &LeaseSettings {
        &self.settings
    }

    fn error(&self, source: kube::Error) -> LeaseError {
        LeaseError {
            namespace: self.settings.namespace.clone(),
            name: self.settings.name.clone(),
            source,
        }
    }

    fn spec(&self, now: MicroTime, acquired: Option<MicroTime>, transitions: i32) -> LeaseSpec {
        LeaseSpec {
            holder_identity: Some(self.settings.identity.clone()),
            lease_duration_seconds: Some(seconds(self.settings.lease_duration)),
            acquire_time: Some(acquired.unwrap_or_else(|| now.clone())),
            renew_time: Some(now),
            lease_transitions: Some(transitions),
            ..LeaseSpec::default()
        }
    }

    /// One round: create, renew or take over the Lease if this replica may. Answers whether
    /// this replica holds the Lease afterwards. Losing a race is `Ok(false)`, not an error.
    pub async fn try_acquire_or_renew(&self) -> Result<bool, LeaseError> {
        let now = MicroTime(Timestamp::now());
        let mut observed = self.observed.lock().await;
        let current = self
            .api
            .get_opt(&self.settings.name)
            .await
            .map_err(|e| self.error(e))?;
        let Some(mut lease) = current else {
            let lease = Lease {
                metadata: ObjectMeta {
                    name: Some(self.settings.name.clone()),
                    namespace: Some(self.settings.namespace.clone()),
                    ..ObjectMeta::default()
                },
                spec: Some(self.spec(now, None, 0)),
            };
            return match self.api.create(&PostParams::default(), &lease).await {
                Ok(_) => {
                    observed.renewed_at = Some(Instant::now());
                    tracing::info!(lease = %self.settings.name, identity = %self.settings.identity, "became leader (created the Lease)");
                    Ok(true)
                }
                Err(kube::Error::Api(status)) if status.code == 409 => Ok(false),
                Err(e) => Err(self.error(e)),
            };
        };
        let spec = lease.spec.clone().unwrap_or_default();
        let holder = spec.holder_identity.clone().filter(|h| !h.is_empty());
        let record = (holder.clone(), spec.renew_time.clone());
        let local_now = Instant::now();
        if observed.record.as_ref() != Some(&record) {
            observed.record = Some(record);
            observed.since = Some(local_now);
        }
        let mine = holder.as_deref() == Some(self.settings.identity.as_str());
        let valid_for = Duration::from_secs(
            u64::try_from(spec.lease_duration_seconds.unwrap_or(0).max(0)).unwrap_or(0),
        );
        let expired = observed
            .since
            .is_none_or(|since| local_now.saturating_duration_since(since) >= valid_for);
        if !mine && holder.is_some() && !expired {
            observed.renewed_at = None;
            return Ok(false);
        }
        let transitions = spec.lease_transitions.unwrap_or(0);
        lease.spec = Some(if mine {
            self.spec(now, spec.acquire_time, transitions)
        } else {
            self.spec(now, None, transitions.saturating_add(1))
        });
        // `lease.metadata.resource_version` is the one read: a concurrent writer makes this 409.
        match self
            .api
            .replace(&self.settings.name, &PostParams::default(), &lease)
            .await
        {
            Ok(_) => {
                if !mine {
                    tracing::info!(lease = %self.settings.name, identity = %self.settings.identity,
                        previous = holder.as_deref().unwrap_or(""), "became leader (took over the Lease)");
                }
                observed.renewed_at = Some(Instant::now());
                Ok(true)
            }
            Err(e) if is_conflict(&e) => Ok(false),
            Err(e) => Err(self.error(e)),
        }
    }

    /// Gives the Lease up if this replica holds it, so a successor takes over at once.
    pub async fn release(&self) -> Result<(), LeaseError> {
        let mut observed = self.observed.lock().await;
        observed.renewed_at = None;
        let Some(mut lease) = self
            .api
            .get_opt(&self.settings.name)
            .await
            .map_err(|e| self.error(e))?
        else {
            return Ok(());
        };
        let Some(spec) = lease.spec.as_mut() else {
            return Ok(());
        };
        if spec.holder_identity.as_deref() != Some(self.settings.identity.as_str()) {
            return Ok(());
        }
        spec.holder_identity = None;
        spec.acquire_time = None;
        spec.renew_time = None;
        spec.lease_duration_seconds = Some(1);
        match self
            .api
            .replace(&self.settings.name, &PostParams::default(), &lease)
            .await
        {
            Ok(_) => {
                tracing::info!(lease = %self.settings.name, identity = %self.settings.identity, "released the Lease");
                Ok(())
            }
            Err(e) if is_conflict(&e) => Ok(()),
            Err(e) => Err(self.error(e)),
        }
    }

    /// Contends for the Lease every `retry_period` until `shutdown` turns true, publishing
    /// leadership on `leader`. A leader whose renewals keep failing for `renew_deadline`
    /// publishes `false` before the Lease can expire for others. On shutdown the Lease is
    /// released if held.
    pub async fn run(&self, leader: watch::Sender<bool>, mut shutdown: watch::Receiver<bool>) {
        loop {
            if *shutdown.borrow() {
                break;
            }
            let is_leader = match self.try_acquire_or_renew().await {
                Ok(held) => held,
                Err(e) => {
                    tracing::warn!(error = %e, "leader election round failed");
                    let renewed_at = self.observed.lock().await.renewed_at;
                    renewed_at.is_some_and(|at| at.elapsed() < self.settings.renew_deadline)
                }
            };
            leader.send_if_modified(|current| {
                let changed = *current != is_leader;
                *current = is_leader;
                changed
            });
            tokio::select! {
                () = tokio::time::sleep(self.settings.retry_period) => {}
                _ = shutdown.changed() => {}
            }
        }
        leader.send_replace(false);
        if let Err(e) = self.release().await {
            tracing::warn!(error = %e, "cannot release the Lease; a successor waits for it to expire");
        }
    }
}
