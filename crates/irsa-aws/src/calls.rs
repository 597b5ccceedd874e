//! Per-pass counts of AWS calls, by service, action, read or write, and result.
//!
//! One logical call is counted once, however many attempts the SDK's retry made; the
//! result is `ok` or AWS's error code. The CLI prints the totals at the end of every run
//! (`0 mutating calls: up to date`), the operator turns them into
//! `irsa_operator_aws_calls_total{service,action,result}`.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use irsa_provision::Service;
use serde::Serialize;

/// Whether a call changes anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CallKind {
    /// A read (Get*, List*, Head*).
    Read,
    /// A mutating call.
    Write,
}

/// One counted kind of call.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct CallRecord {
    /// The service.
    pub service: Service,
    /// AWS's action name.
    pub action: &'static str,
    /// Read or write.
    pub kind: CallKind,
    /// `ok` or the AWS error code (`NoSuchBucket` on a read is an answer, still counted).
    pub result: String,
}

/// A shared counter; clones count into the same table.
#[derive(Debug, Clone, Default)]
pub struct CallCounts {
    table: Arc<Mutex<BTreeMap<CallRecord, u64>>>,
}

impl CallCounts {
    /// Counts one call.
    pub fn record(&self, service: Service, action: &'static str, kind: CallKind, result: &str) {
        let key = CallRecord {
            service,
            action,
            kind,
            result: result.to_owned(),
        };
        if let Ok(mut table) = self.table.lock() {
            *table.entry(key).or_default() += 1;
        }
    }

    /// The table so far.
    pub fn snapshot(&self) -> Vec<(CallRecord, u64)> {
        self.table
            .lock()
            .map(|t| t.iter().map(|(k, v)| (k.clone(), *v)).collect())
            .unwrap_or_default()
    }

    /// Total calls of one kind.
    pub fn total(&self, kind: CallKind) -> u64 {
        self.snapshot()
            .iter()
            .filter(|(r, _)| r.kind == kind)
            .map(|(_, n)| n)
            .sum()
    }

    /// Starts a new pass: an empty counter sharing nothing with this one.
    pub fn fresh() -> Self {
        Self::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_by_kind_and_result() {
        let c = CallCounts::default();
        let shared = c.clone();
        c.record(Service::S3, "GetBucketTagging", CallKind::Read, "ok");
        shared.record(Service::S3, "GetBucketTagging", CallKind::Read, "ok");
        c.record(
            Service::Iam,
            "CreateOpenIDConnectProvider",
            CallKind::Write,
            "ok",
        );
        c.record(
            Service::S3,
            "GetBucketTagging",
            CallKind::Read,
            "NoSuchBucket",
        );
        assert_eq!(c.total(CallKind::Read), 3);
        assert_eq!(c.total(CallKind::Write), 1);
        let snap = c.snapshot();
        assert_eq!(snap.len(), 3);
        assert!(
            snap.iter()
                .any(|(r, n)| r.action == "GetBucketTagging" && r.result == "ok" && *n == 2)
        );
        assert_eq!(CallCounts::fresh().total(CallKind::Read), 0);
    }
}
