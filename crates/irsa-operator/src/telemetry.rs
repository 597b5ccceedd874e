//! How reconciles show up in logs.
//!
//! Every reconcile runs in a span naming the object; a failure is logged once with the step
//! that failed and AWS's error code as fields, so `step=... code=AccessDenied` can be
//! searched for. Logging itself is set up by the binary (irsa's shared process plumbing).
//! Nothing here ever formats a Secret's data.

use tracing::Span;

use crate::Error;

/// The span of one reconcile.
pub fn reconcile_span(kind: &str, namespace: &str, name: &str) -> Span {
    tracing::info_span!("reconcile", kind, namespace, name)
}

/// Logs a failed reconcile with its step, AWS code and retry delay.
pub fn log_failure(error: &Error, retry_in: std::time::Duration) {
    tracing::warn!(
        step = error.step(),
        code = error.aws_code().unwrap_or("-"),
        result = error.metric_label(),
        retry_in_ms = u64::try_from(retry_in.as_millis()).unwrap_or(u64::MAX),
        error = %error,
        "reconcile failed"
    );
}
