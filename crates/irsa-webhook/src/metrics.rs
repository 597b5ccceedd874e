//! Prometheus metrics under upstream's exact names.
//!
//! Dashboards and alerts written for amazon-eks-pod-identity-webhook query
//! `pod_identity_webhook_pod_count`, `pod_identity_webhook_missing_sa_count`,
//! `http_request_count` and `http_request_latencies`. prometheus-client speaks OpenMetrics,
//! which appends `_total` to every counter sample, so the exposition is served in the classic
//! Prometheus text format (0.0.4) with those counters' samples under their upstream names.
//! Metrics that upstream does not have are prefixed `irsa_webhook_`.

use std::sync::atomic::AtomicU64;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

/// Labels of the per-request metrics (upstream: `verb`, `path`, `code`).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    /// HTTP method.
    pub verb: String,
    /// Request path.
    pub path: String,
    /// HTTP status code.
    pub code: String,
}

/// Labels of the latency histogram (upstream: `verb`, `path`).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct LatencyLabels {
    /// HTTP method.
    pub verb: String,
    /// Request path.
    pub path: String,
}

/// Label of `pod_identity_webhook_pod_count`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct MethodLabels {
    /// `sts_web_identity` or `container_credentials`.
    pub method: String,
}

/// Label of the direct-lookup counter.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ResultLabels {
    /// `found`, `not_found`, `error` or `rate_limited`.
    pub result: String,
}

/// Counters whose samples must keep upstream's name (no `_total`).
const UPSTREAM_COUNTERS: [&str; 3] = [
    "http_request_count",
    "pod_identity_webhook_pod_count",
    "pod_identity_webhook_missing_sa_count",
];

/// The `verb` label for a request method: the methods of RFC 9110 (and PATCH) as they are,
/// anything else as `OTHER`. A client invents methods at will; each distinct label value
/// would be a new series kept for the life of the process.
pub fn verb_label(method: &str) -> &'static str {
    const KNOWN: [&str; 9] = [
        "GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH",
    ];
    KNOWN
        .into_iter()
        .find(|known| *known == method)
        .unwrap_or("OTHER")
}

/// All metrics of the process.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    /// Requests by verb, path, code.
    pub request_count: Family<RequestLabels, Counter>,
    /// Latency in microseconds.
    pub request_latencies: Family<LatencyLabels, Histogram>,
    /// Pods mutated, by method.
    pub pod_count: Family<MethodLabels, Counter>,
    /// Pods whose ServiceAccount was not found.
    pub missing_sa_count: Counter,
    /// Set to 1 once any ServiceAccount was seen.
    pub used: Gauge,
    /// Patches not built because of an internal error (pod admitted unmutated).
    pub patch_errors: Counter,
    /// Requests refused as malformed (HTTP 200 with allowed:false, or 413/415).
    pub bad_requests: Counter,
    /// ServiceAccounts currently cached.
    pub cached_service_accounts: Gauge,
    /// Direct ServiceAccount GETs, by result.
    pub direct_lookups: Family<ResultLabels, Counter>,
    /// Serving certificate reloads.
    pub certificate_reloads: Counter,
    /// Rejected serving certificate rotations.
    pub certificate_reload_errors: Counter,
    /// ConfigMap mapping entries currently loaded.
    pub config_map_entries: Gauge<i64, std::sync::atomic::AtomicI64>,
    /// Handles of the hot series (`POST /mutate` answered 200), so the common request does
    /// not allocate label strings or take the family lock.
    mutate_ok: (Counter, Histogram),
}

fn latency_histogram() -> Histogram {
    // Upstream's buckets: 125 ms × 2^k, k = 0..6, in microseconds. They say nothing about the
    // sub-millisecond latencies this server has, so finer buckets come first.
    let mut buckets: Vec<f64> = vec![100.0, 250.0, 500.0, 1_000.0, 2_500.0, 5_000.0, 10_000.0];
    buckets.extend((0..7).map(|k| 125_000.0 * f64::from(1u32 << k)));
    Histogram::new(buckets)
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Registers every metric.
    pub fn new() -> Self {
        let mut registry = Registry::default();
        let request_count = Family::<RequestLabels, Counter>::default();
        registry.register(
            "http_request_count",
            "Counter of requests broken out for each verb, path, and response code.",
            request_count.clone(),
        );
        let request_latencies = Family::<LatencyLabels, Histogram>::new_with_constructor(
            latency_histogram as fn() -> Histogram,
        );
        registry.register(
            "http_request_latencies",
            "Response latency distribution in microseconds for each verb and path",
            request_latencies.clone(),
        );
        let pod_count = Family::<MethodLabels, Counter>::default();
        registry.register(
            "pod_identity_webhook_pod_count",
            "Counter of pods mutated, by credential method",
            pod_count.clone(),
        );
        let missing_sa_count = Counter::<u64, AtomicU64>::default();
        registry.register(
            "pod_identity_webhook_missing_sa_count",
            "Counter of pods whose service account was not found",
            missing_sa_count.clone(),
        );
        let used = Gauge::default();
        registry.register(
            "pod_identity_webhook_used",
            "Set to 1 once a service account has been seen",
            used.clone(),
        );
        let patch_errors = Counter::default();
        registry.register(
            "irsa_webhook_patch_errors",
            "Pods admitted without mutation because building the patch failed",
            patch_errors.clone(),
        );
        let bad_requests = Counter::default();
        registry.register(
            "irsa_webhook_bad_requests",
            "Admission requests refused as malformed",
            bad_requests.clone(),
        );
        let cached_service_accounts = Gauge::default();
        registry.register(
            "irsa_webhook_cached_service_accounts",
            "ServiceAccounts in the cache",
            cached_service_accounts.clone(),
        );
        let direct_lookups = Family::<ResultLabels, Counter>::default();
        registry.register(
            "irsa_webhook_service_account_direct_lookups",
            "Direct ServiceAccount GETs for pods whose ServiceAccount was not cached, by result",
            direct_lookups.clone(),
        );
        let certificate_reloads = Counter::default();
        registry.register(
            "irsa_webhook_certificate_reloads",
            "Serving certificate rotations picked up",
            certificate_reloads.clone(),
        );
        let certificate_reload_errors = Counter::default();
        registry.register(
            "irsa_webhook_certificate_reload_errors",
            "Serving certificate rotations rejected (previous certificate kept)",
            certificate_reload_errors.clone(),
        );
        let config_map_entries = Gauge::<i64, std::sync::atomic::AtomicI64>::default();
        registry.register(
            "irsa_webhook_config_map_entries",
            "Role mappings loaded from the pod-identity-webhook ConfigMap",
            config_map_entries.clone(),
        );
        let mutate_ok = (
            request_count
                .get_or_create(&RequestLabels {
                    verb: "POST".to_string(),
                    path: "/mutate".to_string(),
                    code: "200".to_string(),
                })
                .clone(),
            request_latencies
                .get_or_create(&LatencyLabels {
                    verb: "POST".to_string(),
                    path: "/mutate".to_string(),
                })
                .clone(),
        );
        Self {
            mutate_ok,
            registry,
            request_count,
            request_latencies,
            pod_count,
            missing_sa_count,
            used,
            patch_errors,
            bad_requests,
            cached_service_accounts,
            direct_lookups,
            certificate_reloads,
            certificate_reload_errors,
            config_map_entries,
        }
    }

    /// Records one request on the admission listener (upstream's `http_request_count` and
    /// `http_request_latencies`, in microseconds).
    ///
    /// Every label value is bounded: `verb` is folded by [`verb_label`], `path` is a route the
    /// router matched (never the raw request path), `code` a status this server produced.
    pub fn observe_request(&self, verb: &str, path: &str, code: u16, micros: f64) {
        let verb = verb_label(verb);
        if code == 200 && verb == "POST" && path == "/mutate" {
            self.mutate_ok.0.inc();
            self.mutate_ok.1.observe(micros);
            return;
        }
        self.request_count
            .get_or_create(&RequestLabels {
                verb: verb.to_string(),
                path: path.to_string(),
                code: code.to_string(),
            })
            .inc();
        self.request_latencies
            .get_or_create(&LatencyLabels {
                verb: verb.to_string(),
                path: path.to_string(),
            })
            .observe(micros);
    }

    /// Counts one direct lookup with `result`.
    pub fn direct_lookup(&self, result: &str) {
        self.direct_lookups
            .get_or_create(&ResultLabels {
                result: result.to_string(),
            })
            .inc();
    }

    /// Counts one mutated pod by `method`.
    pub fn pod_mutated(&self, method: &str) {
        self.pod_count
            .get_or_create(&MethodLabels {
                method: method.to_string(),
            })
            .inc();
    }

    /// The exposition in Prometheus text format 0.0.4.
    pub fn render(&self) -> String {
        let mut open_metrics = String::new();
        if prometheus_client::encoding::text::encode(&mut open_metrics, &self.registry).is_err() {
            // Writing into a String cannot fail; keep the endpoint answering regardless.
            return String::new();
        }
        to_prometheus_text(&open_metrics)
    }
}

/// Converts prometheus-client's OpenMetrics text into Prometheus 0.0.4 text, restoring
/// upstream's counter sample names and dropping OpenMetrics-only lines.
fn to_prometheus_text(open_metrics: &str) -> String {
    let mut out = String::with_capacity(open_metrics.len());
    for line in open_metrics.lines() {
        if line == "# EOF" || line.starts_with("# UNIT ") {
            continue;
        }
        let mut rewritten = None;
        for name in UPSTREAM_COUNTERS {
            let total = format!("{name}_total");
            if let Some(rest) = line.strip_prefix(total.as_str())
                && (rest.starts_with('{') || rest.starts_with(' '))
            {
                rewritten = Some(format!("{name}{rest}"));
                break;
            }
        }
        match rewritten {
            Some(l) => out.push_str(&l),
            None => out.push_str(line),
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invented_methods_share_one_label_value() {
        let m = Metrics::new();
        for i in 0..100 {
            let method = format!("X{i}{}", "A".repeat(16 * 1024));
            m.observe_request(&method, "/mutate", 405, 10.0);
        }
        m.observe_request("DELETE", "/mutate", 405, 10.0);
        let text = m.render();
        assert!(text.len() < 16 * 1024, "{} bytes", text.len());
        assert!(
            text.contains("http_request_count{verb=\"OTHER\",path=\"/mutate\",code=\"405\"} 100\n"),
            "{text}"
        );
        assert!(text.contains("verb=\"DELETE\""), "{text}");
    }

    #[test]
    fn upstream_counter_names_are_exposed_without_total_suffix() {
        let m = Metrics::new();
        m.pod_mutated("sts_web_identity");
        m.missing_sa_count.inc();
        m.patch_errors.inc();
        m.request_count
            .get_or_create(&RequestLabels {
                verb: "POST".into(),
                path: "/mutate".into(),
                code: "200".into(),
            })
            .inc();
        let text = m.render();
        assert!(
            text.contains("pod_identity_webhook_pod_count{method=\"sts_web_identity\"} 1\n"),
            "{text}"
        );
        assert!(
            text.contains("pod_identity_webhook_missing_sa_count 1\n"),
            "{text}"
        );
        assert!(
            text.contains("http_request_count{verb=\"POST\",path=\"/mutate\",code=\"200\"} 1\n"),
            "{text}"
        );
        assert!(text.contains("# TYPE pod_identity_webhook_pod_count counter"));
        // Our own counters keep the conventional suffix.
        assert!(
            text.contains("irsa_webhook_patch_errors_total 1\n"),
            "{text}"
        );
        assert!(!text.contains("# EOF"));
    }

    #[test]
    fn latency_histogram_has_upstream_buckets() {
        let m = Metrics::new();
        m.request_latencies
            .get_or_create(&LatencyLabels {
                verb: "POST".into(),
                path: "/mutate".into(),
            })
            .observe(300.0);
        let text = m.render();
        assert!(
            text.contains(
                "http_request_latencies_bucket{le=\"125000.0\",verb=\"POST\",path=\"/mutate\"} 1"
            ),
            "{text}"
        );
        assert!(text.contains("le=\"8000000.0\""), "{text}");
        assert!(
            text.contains("http_request_latencies_count{verb=\"POST\",path=\"/mutate\"} 1"),
            "{text}"
        );
    }
}
