//! Prometheus metrics of the operator (OpenMetrics text from prometheus-client).
//!
//! Result and error labels come from [`crate::Error::metric_label`], a closed set, so a
//! failing AWS account cannot blow up the series count with free-form messages.

use std::collections::BTreeSet;
use std::sync::Mutex;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::engine::AwsCall;

/// Label of `irsa_operator_reconciles_total`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ResultLabels {
    /// `success`, or the error's metric label (`aws`, `kube`, `invalid_cluster`, …).
    pub result: String,
}

/// Labels of `irsa_operator_aws_calls_total`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct AwsCallLabels {
    /// `s3`, `iam` or `sts`.
    pub service: String,
    /// API action.
    pub action: String,
    /// `success` or `error`.
    pub result: String,
}

/// Every metric of the operator, and the registry that renders them.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    /// Reconciles by result.
    pub reconciles: Family<ResultLabels, Counter>,
    /// Reconcile duration in seconds.
    pub reconcile_duration: Histogram,
    /// AWS calls by service, action and result.
    pub aws_calls: Family<AwsCallLabels, Counter>,
    /// Clusters currently provisioned by this operator.
    pub clusters_managed: Gauge,
    managed: Mutex<BTreeSet<String>>,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("irsa_operator");
        let reconciles = Family::<ResultLabels, Counter>::default();
        registry.register(
            "reconciles",
            "Reconciles of AWSCluster objects, by result",
            reconciles.clone(),
        );
        // 10 ms … ~82 s: a converged pass is a few reads, a first pass creates a bucket.
        let reconcile_duration = Histogram::new(exponential_buckets(0.01, 2.0, 14));
        registry.register(
            "reconcile_duration_seconds",
            "Duration of a reconcile",
            reconcile_duration.clone(),
        );
        let aws_calls = Family::<AwsCallLabels, Counter>::default();
        registry.register(
            "aws_calls",
            "AWS API calls made by the provisioning engine, by service, action and result",
            aws_calls.clone(),
        );
        let clusters_managed = Gauge::default();
        registry.register(
            "clusters_managed",
            "Opted-in clusters whose issuer this operator provisioned",
            clusters_managed.clone(),
        );
        Self {
            registry,
            reconciles,
            reconcile_duration,
            aws_calls,
            clusters_managed,
            managed: Mutex::new(BTreeSet::new()),
        }
    }
}

impl Metrics {
    /// Records a finished reconcile.
    pub fn reconciled(&self, result: &str, elapsed: Duration) {
        self.reconciles
            .get_or_create(&ResultLabels {
                result: result.to_string(),
            })
            .inc();
        self.reconcile_duration.observe(elapsed.as_secs_f64());
    }

    /// Records one AWS call.
    pub fn aws_call(&self, call: &AwsCall) {
        self.aws_calls
            .get_or_create(&AwsCallLabels {
                service: call.service.to_string(),
                action: call.action.clone(),
                result: if call.ok { "success" } else { "error" }.to_string(),
            })
            .inc();
    }

    /// Marks a cluster (`kind/namespace/name`) as managed or not, keeping the gauge exact
    /// however often the same cluster is reconciled.
    pub fn set_managed(&self, key: &str, managed: bool) {
        let mut set = self
            .managed
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if managed {
            set.insert(key.to_string());
        } else {
            set.remove(key);
        }
        self.clusters_managed
            .set(i64::try_from(set.len()).unwrap_or(i64::MAX));
    }

    /// The OpenMetrics exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        if prometheus_client::encoding::text::encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exposition_has_the_documented_names() {
        let m = Metrics::default();
        m.reconciled("success", Duration::from_millis(20));
        m.aws_call(&AwsCall {
            service: "s3",
            action: "CreateBucket".into(),
            ok: false,
        });
        m.set_managed("a/b/c", true);
        m.set_managed("a/b/c", true);
        m.set_managed("a/b/d", true);
        m.set_managed("a/b/d", false);
        let text = m.render();
        assert!(text.contains("irsa_operator_reconciles_total{result=\"success\"} 1"));
        assert!(text.contains("irsa_operator_reconcile_duration_seconds_count 1"));
        assert!(text.contains(
            "irsa_operator_aws_calls_total{service=\"s3\",action=\"CreateBucket\",result=\"error\"} 1"
        ));
        assert!(text.contains("irsa_operator_clusters_managed 1"));
    }
}
