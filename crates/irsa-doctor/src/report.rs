//! The report: one line of verdict, one of evidence and one of remedy per check.

use std::fmt::Write as _;

use serde::Serialize;

/// A check's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Status {
    /// The check holds: this part of the chain works.
    Pass,
    /// Works, but is fragile or surprising.
    Warn,
    /// Breaks IRSA for this pod.
    Fail,
    /// Not checked: an input is missing (the evidence says which).
    Skip,
}

impl Status {
    /// `PASS`, `WARN`, `FAIL`, `SKIP`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pass => "PASS",
            Self::Warn => "WARN",
            Self::Fail => "FAIL",
            Self::Skip => "SKIP",
        }
    }
}

/// One check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    /// The check number: 1 ServiceAccount, 2 pod, 3 kiam, 4 token, 5 provider and
    /// trust policy.
    pub group: u8,
    /// Stable ID, e.g. `service-account.role-arn`.
    pub id: &'static str,
    /// The verdict.
    pub status: Status,
    /// What was seen (one line).
    pub evidence: String,
    /// What to do (one line); empty when nothing is to be done.
    pub remedy: String,
}

/// What `AssumeRoleWithWebIdentity` answers for these inputs ([`irsa_sts::decide`]), as
/// data, so a script can compare it with what STS answered without parsing evidence text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verdict {
    /// `ALLOW` or `DENY`.
    pub verdict: &'static str,
    /// The AWS error code (`AccessDenied`, `InvalidIdentityToken`, …); `None` on ALLOW.
    pub code: Option<&'static str>,
    /// The HTTP status STS answers with (200 on ALLOW).
    pub status: u16,
    /// STS's error message; on ALLOW the subject credentials are issued for.
    pub message: String,
}

/// Every check, in order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Report {
    /// The checks.
    pub checks: Vec<Check>,
    /// The STS decision, when the inputs were enough to run it.
    pub decision: Option<Verdict>,
}

impl Report {
    pub(crate) fn push(
        &mut self,
        group: u8,
        id: &'static str,
        status: Status,
        evidence: impl Into<String>,
        remedy: impl Into<String>,
    ) {
        self.checks.push(Check {
            group,
            id,
            status,
            evidence: evidence.into(),
            remedy: remedy.into(),
        });
    }

    pub(crate) fn skip(&mut self, group: u8, id: &'static str, missing: &str) {
        self.push(
            group,
            id,
            Status::Skip,
            format!("not checked: {missing}"),
            "",
        );
    }

    /// Whether any check failed (exit status 1).
    #[must_use]
    pub fn failed(&self) -> bool {
        self.checks.iter().any(|c| c.status == Status::Fail)
    }

    /// The check with `id`, if it ran.
    #[must_use]
    pub fn get(&self, id: &str) -> Option<&Check> {
        self.checks.iter().find(|c| c.id == id)
    }

    fn count(&self, status: Status) -> usize {
        self.checks.iter().filter(|c| c.status == status).count()
    }

    /// The human-readable report.
    #[must_use]
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        for c in &self.checks {
            let _ = writeln!(out, "{} {}. {}", c.status.as_str(), c.group, c.id);
            let _ = writeln!(out, "     evidence: {}", c.evidence);
            if !c.remedy.is_empty() {
                let _ = writeln!(out, "     remedy:   {}", c.remedy);
            }
        }
        let _ = write!(
            out,
            "{} passed, {} warnings, {} failed, {} not checked",
            self.count(Status::Pass),
            self.count(Status::Warn),
            self.count(Status::Fail),
            self.count(Status::Skip)
        );
        out
    }

    /// The machine-readable report (`--output json`).
    #[must_use]
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "checks": self.checks,
            "summary": {
                "pass": self.count(Status::Pass),
                "warn": self.count(Status::Warn),
                "fail": self.count(Status::Fail),
                "skip": self.count(Status::Skip),
            },
            "decision": self.decision,
            "ok": !self.failed(),
        })
    }
}
