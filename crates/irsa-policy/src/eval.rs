//! Evaluation: which statements apply, and the decision.
//!
//! IAM's rule for a single policy: a statement applies when its principal, action, resource and
//! every condition match; any applicable `Deny` denies; otherwise any applicable `Allow` allows;
//! otherwise the request is implicitly denied. [`Policy::evaluate`] is the hot path (no
//! allocation on success, stops at the first explicit Deny). [`Policy::evaluate_explained`] walks
//! every statement and records why each one did or did not apply, so that `irsa doctor` and the
//! emulator's logs can say "Statement[0]: StringEquals on `…:sub`: request value `…` matches none
//! of the policy values" instead of a bare AccessDenied.

use std::fmt;

use crate::condition::{Condition, ConditionEntry, FailureReason};
use crate::context::RequestContext;
use crate::policy::{Effect, Policy, Statement};

/// The outcome of evaluating a policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// An `Allow` statement applies and no `Deny` does.
    Allow,
    /// A `Deny` statement applies.
    ExplicitDeny,
    /// No statement applies.
    ImplicitDeny,
}

impl Decision {
    /// Whether the request is allowed.
    pub fn is_allowed(self) -> bool {
        self == Decision::Allow
    }
}

impl fmt::Display for Decision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Decision::Allow => "allowed",
            Decision::ExplicitDeny => "explicitly denied",
            Decision::ImplicitDeny => "implicitly denied",
        })
    }
}

/// Why one statement did or did not apply to the request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StatementResult {
    /// Principal, action, resource and all conditions matched.
    Applies,
    /// The caller is not in `Principal` (or is in `NotPrincipal`).
    PrincipalNotMatched {
        /// The caller as `Type:value`, or `(none)`.
        caller: String,
    },
    /// The action is not in `Action` (or is in `NotAction`).
    ActionNotMatched {
        /// The requested action.
        action: String,
    },
    /// The resource is not in `Resource` (or is in `NotResource`).
    ResourceNotMatched {
        /// The requested resource.
        resource: String,
    },
    /// A condition key did not hold.
    ConditionFailed {
        /// The operator block as written (`ForAnyValue:StringLike`).
        operator: String,
        /// The condition key as written in the policy.
        key: String,
        /// The policy values for that key.
        policy_values: Vec<String>,
        /// The request's values for that key (`None` if absent).
        request_values: Option<Vec<String>>,
        /// Why it failed.
        reason: FailureReason,
    },
}

/// One statement's result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatementOutcome {
    /// Index in the document.
    pub index: usize,
    /// JSON path (`Statement[1]`).
    pub path: String,
    /// The statement's `Sid`.
    pub sid: Option<String>,
    /// The statement's effect.
    pub effect: Effect,
    /// Whether it applied, and if not, why.
    pub result: StatementResult,
}

/// A decision with the per-statement reasons behind it. `Display` renders a short report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evaluation {
    /// The decision.
    pub decision: Decision,
    /// One entry per statement, in document order.
    pub statements: Vec<StatementOutcome>,
}

impl Evaluation {
    /// The statements that applied with the given effect.
    pub fn applied(&self, effect: Effect) -> impl Iterator<Item = &StatementOutcome> {
        self.statements
            .iter()
            .filter(move |s| s.effect == effect && s.result == StatementResult::Applies)
    }
}

/// Borrowed mismatch from the hot path; turned into a [`StatementResult`] only when explaining.
enum Mismatch<'a> {
    Principal,
    Action,
    Resource,
    Condition(&'a Condition, &'a ConditionEntry, FailureReason),
}

fn check<'a>(statement: &'a Statement, ctx: &RequestContext) -> Result<(), Mismatch<'a>> {
    let caller = ctx.principal();
    let principal_ok = match (&statement.principal, &statement.not_principal) {
        (Some(p), _) => p.contains(caller),
        (None, Some(np)) => !np.contains(caller),
        // No principal element: an identity policy, the principal is implied.
        (None, None) => true,
    };
    if !principal_ok {
        return Err(Mismatch::Principal);
    }
    if !statement.action.matches(ctx.action()) {
        return Err(Mismatch::Action);
    }
    if let (Some(element), Some(resource)) = (&statement.resource, ctx.resource())
        && !element.matches(resource)
    {
        return Err(Mismatch::Resource);
    }
    for condition in &statement.conditions {
        condition
            .evaluate(ctx)
            .map_err(|(entry, reason)| Mismatch::Condition(condition, entry, reason))?;
    }
    Ok(())
}

impl Policy {
    /// Evaluates the policy for one request: explicit Deny wins, then Allow, else implicit deny.
    pub fn evaluate(&self, ctx: &RequestContext) -> Decision {
        let mut allowed = false;
        for statement in &self.statements {
            if statement.effect == Effect::Allow && allowed {
                // Already allowed; only a Deny can still change the outcome.
                continue;
            }
            if check(statement, ctx).is_ok() {
                match statement.effect {
                    Effect::Deny => return Decision::ExplicitDeny,
                    Effect::Allow => allowed = true,
                }
            }
        }
        if allowed {
            Decision::Allow
        } else {
            Decision::ImplicitDeny
        }
    }

    /// Like [`Policy::evaluate`], and records for every statement whether it applied and, if
    /// not, the first thing that did not match (principal, action, resource, or which condition
    /// failed on which key with which values).
    pub fn evaluate_explained(&self, ctx: &RequestContext) -> Evaluation {
        let statements: Vec<StatementOutcome> = self
            .statements
            .iter()
            .enumerate()
            .map(|(index, st)| StatementOutcome {
                index,
                path: st.path.clone(),
                sid: st.sid.clone(),
                effect: st.effect,
                result: match check(st, ctx) {
                    Ok(()) => StatementResult::Applies,
                    Err(m) => explain(m, ctx),
                },
            })
            .collect();
        let applies = |effect| {
            statements
                .iter()
                .any(|s| s.effect == effect && s.result == StatementResult::Applies)
        };
        let decision = if applies(Effect::Deny) {
            Decision::ExplicitDeny
        } else if applies(Effect::Allow) {
            Decision::Allow
        } else {
            Decision::ImplicitDeny
        };
        Evaluation {
            decision,
            statements,
        }
    }
}

fn explain(m: Mismatch<'_>, ctx: &RequestContext) -> StatementResult {
    match m {
        Mismatch::Principal => StatementResult::PrincipalNotMatched {
            caller: ctx
                .principal()
                .map_or_else(|| "(none)".to_owned(), |(k, v)| format!("{k}:{v}")),
        },
        Mismatch::Action => StatementResult::ActionNotMatched {
            action: ctx.action().to_owned(),
        },
        Mismatch::Resource => StatementResult::ResourceNotMatched {
            resource: ctx.resource().unwrap_or_default().to_owned(),
        },
        Mismatch::Condition(condition, entry, reason) => StatementResult::ConditionFailed {
            operator: condition.name().to_owned(),
            key: entry.key().to_owned(),
            policy_values: entry
                .values()
                .iter()
                .map(|v| v.as_str().to_owned())
                .collect(),
            request_values: ctx.values(entry.key()).map(<[String]>::to_vec),
            reason,
        },
    }
}

impl fmt::Display for StatementResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StatementResult::Applies => f.write_str("applies"),
            StatementResult::PrincipalNotMatched { caller } => {
                write!(f, "principal {caller} is not a principal of this statement")
            }
            StatementResult::ActionNotMatched { action } => {
                write!(f, "action {action} is not covered by this statement")
            }
            StatementResult::ResourceNotMatched { resource } => {
                write!(f, "resource {resource} is not covered by this statement")
            }
            StatementResult::ConditionFailed {
                operator,
                key,
                policy_values,
                request_values,
                reason,
            } => {
                write!(
                    f,
                    "condition {operator} on {key:?} (policy values {policy_values:?}"
                )?;
                match request_values {
                    Some(v) => write!(f, ", request values {v:?}")?,
                    None => f.write_str(", key absent from the request")?,
                }
                write!(f, ") failed: {reason}")
            }
        }
    }
}

impl fmt::Display for StatementOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({}", self.path, self.effect)?;
        if let Some(sid) = self.sid.as_deref().filter(|s| !s.is_empty()) {
            write!(f, ", Sid {sid:?}")?;
        }
        write!(f, "): {}", self.result)
    }
}

impl fmt::Display for Evaluation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.decision {
            Decision::Allow => {
                f.write_str("allowed by ")?;
                let names: Vec<&str> = self
                    .applied(Effect::Allow)
                    .map(|s| s.path.as_str())
                    .collect();
                f.write_str(&names.join(", "))
            }
            Decision::ExplicitDeny => {
                f.write_str("explicitly denied by ")?;
                let names: Vec<&str> = self
                    .applied(Effect::Deny)
                    .map(|s| s.path.as_str())
                    .collect();
                f.write_str(&names.join(", "))
            }
            Decision::ImplicitDeny => {
                f.write_str("implicitly denied: no statement allows the request")?;
                for s in &self.statements {
                    write!(f, "\n  - {s}")?;
                }
                Ok(())
            }
        }
    }
}
