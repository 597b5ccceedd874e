//! Leader election with a `coordination.k8s.io/v1` Lease, as client-go does it.
//!
//! Every replica watches the same AWSClusters (so each is ready, leader or not), but only
//! the holder of the Lease reconciles. Expiry is judged by the local monotonic clock from the
//! moment this replica last saw the Lease record *change*, never by comparing the holder's
//! `renewTime` with our wall clock, so clock skew between nodes cannot make two leaders.
//! Writes use the Lease's `resourceVersion` (optimistic concurrency): of two replicas taking
//! an expired Lease at once, one gets a conflict. On shutdown the leader releases the Lease
//! (empty holder, one-second duration) so a successor takes over at once.

use std::time::Duration;

use jiff::Timestamp;
use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use kube::api::{Api, ObjectMeta, PostParams};
use tokio::sync::watch;
use tokio::time::Instant;

/// Lease settings (client-go's defaults: 15 s lease, 10 s renew deadline, 2 s retry).
#[derive(Debug, Clone)]
pub struct LeaseConfig {
    /// Namespace of the Lease.
    pub namespace: String,
    /// Name of the Lease.
    pub name: String,
    /// This replica's identity (pod name plus a random suffix).
    pub identity: String,
    /// How long a Lease stays valid without renewal.
    pub lease_duration: Duration,
    /// A leader that could not renew for this long steps down.
    pub renew_deadline: Duration,
    /// How often to try to acquire or renew.
    pub retry_period: Duration,
}

impl LeaseConfig {
    /// client-go's timings for the given Lease.
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

/// The Lease record as last observed, and when (locally) it last changed.
#[derive(Debug)]
struct Observed {
    holder: Option<String>,
    renew_time: Option<Timestamp>,
    duration: Duration,
    at: Instant,
}

/// One replica's elector.
#[derive(Debug)]
pub struct Elector {
    api: Api<Lease>,
    config: LeaseConfig,
    observed: Option<Observed>,
    leader: watch::Sender<bool>,
    last_renew: Option<Instant>,
}

fn seconds(d: Duration) -> i32 {
    i32::try_from(d.as_secs().max(1)).unwrap_or(i32::MAX)
}

impl Elector {
    /// An elector publishing leadership on `leader`.
    pub fn new(client: kube::Client, config: LeaseConfig, leader: watch::Sender<bool>) -> Self {
        Self {
            api: Api::namespaced(client, &config.namespace),
            config,
            observed: None,
            leader,
            last_renew: None,
        }
    }

    fn is_leader(&self) -> bool {
        *self.leader.borrow()
    }

    fn set_leader(&self, value: bool) {
        if self.is_leader() != value {
            if value {
                tracing::info!(lease = %self.config.name, identity = %self.config.identity, "became leader");
            } else {
                tracing::warn!(lease = %self.config.name, identity = %self.config.identity, "lost leadership");
            }
        }
        self.leader.send_replace(value);
    }

    fn spec(&self, transitions: i32, acquire: Option<MicroTime>) -> LeaseSpec {
        let now = MicroTime(Timestamp::now());
        LeaseSpec {
            holder_identity: Some(self.config.identity.clone()),
            lease_duration_seconds: Some(seconds(self.config.lease_duration)),
            acquire_time: acquire.or_else(|| Some(now.clone())),
            renew_time: Some(now),
            lease_transitions: Some(transitions),
            ..LeaseSpec::default()
        }
    }

    /// One acquire-or-renew attempt; returns whether this replica holds the Lease now.
    pub async fn try_acquire_or_renew(&mut self) -> Result<bool, kube::Error> {
        let now = Instant::now();
        let Some(current) = self.api.get_opt(&self.config.name).await? else {
            let lease = Lease {
                metadata: ObjectMeta {
                    name: Some(self.config.name.clone()),
                    namespace: Some(self.config.namespace.clone()),
                    ..ObjectMeta::default()
                },
                spec: Some(self.spec(0, None)),
            };
            return match self.api.create(&PostParams::default(), &lease).await {
                Ok(_) => {
                    self.observe_self(now);
                    Ok(true)
                }
                Err(kube::Error::Api(s)) if s.code == 409 => Ok(false),
                Err(e) => Err(e),
            };
        };
        let spec = current.spec.clone().unwrap_or_default();
        let holder = spec.holder_identity.clone().filter(|h| !h.is_empty());
        let renew_time = spec.renew_time.as_ref().map(|t| t.0);
        let duration = Duration::from_secs(
            u64::try_from(spec.lease_duration_seconds.unwrap_or(0)).unwrap_or(0),
        );
        let changed = self
            .observed
            .as_ref()
            .is_none_or(|o| o.holder != holder || o.renew_time != renew_time);
        if changed {
            self.observed = Some(Observed {
                holder: holder.clone(),
                renew_time,
                duration,
                at: now,
            });
        }
        let mine = holder.as_deref() == Some(self.config.identity.as_str());
        let expired = self
            .observed
            .as_ref()
            .is_none_or(|o| now.saturating_duration_since(o.at) >= o.duration);
        if holder.is_some() && !mine && !expired {
            return Ok(false);
        }
        let transitions = spec.lease_transitions.unwrap_or(0) + i32::from(!mine);
        let acquire = if mine { spec.acquire_time.clone() } else { None };
        let mut lease = current;
        lease.spec = Some(self.spec(transitions, acquire));
        match self
            .api
            .replace(&self.config.name, &PostParams::default(), &lease)
            .await
        {
            Ok(_) => {
                self.observe_self(now);
                Ok(true)
            }
            Err(kube::Error::Api(s)) if s.code == 409 => Ok(false),
            Err(e) => Err(e),
        }
    }

    fn observe_self(&mut self, now: Instant) {
        self.observed = Some(Observed {
            holder: Some(self.config.identity.clone()),
            renew_time: None,
            duration: self.config.lease_duration,
            at: now,
        });
        self.last_renew = Some(now);
    }

    /// Campaigns until `stop` fires: acquires, renews, steps down when renewing failed for
    /// longer than the renew deadline or another replica took the Lease.
    pub async fn campaign(&mut self, mut stop: watch::Receiver<bool>) {
        loop {
            match self.try_acquire_or_renew().await {
                Ok(true) => self.set_leader(true),
                Ok(false) => self.set_leader(false),
                Err(e) => {
                    tracing::warn!(error = %e, lease = %self.config.name, "Lease acquire/renew failed");
                    let overdue = self.last_renew.is_none_or(|t| {
                        Instant::now().saturating_duration_since(t) > self.config.renew_deadline
                    });
                    if overdue {
                        self.set_leader(false);
                    }
                }
            }
            tokio::select! {
                () = tokio::time::sleep(self.config.retry_period) => {}
                _ = stop.wait_for(|s| *s) => return,
            }
        }
    }

    /// Gives the Lease up if held (called after the reconciles in flight finished).
    pub async fn release(&mut self) {
        if !self.is_leader() {
            return;
        }
        self.set_leader(false);
        let Ok(Some(mut lease)) = self.api.get_opt(&self.config.name).await else {
            return;
        };
        let Some(spec) = lease.spec.as_mut() else {
            return;
        };
        if spec.holder_identity.as_deref() != Some(self.config.identity.as_str()) {
            return;
        }
        spec.holder_identity = None;
        spec.lease_duration_seconds = Some(1);
        spec.renew_time = Some(MicroTime(Timestamp::now()));
        match self
            .api
            .replace(&self.config.name, &PostParams::default(), &lease)
            .await
        {
            Ok(_) => tracing::info!(lease = %self.config.name, "Lease released"),
            Err(e) => tracing::warn!(error = %e, lease = %self.config.name, "Lease release failed"),
        }
    }
}
