//! Policy document errors.
//!
//! IAM answers a bad document with one terse `MalformedPolicyDocument` text ("Syntax errors in
//! policy.") that names nothing. The emulator must return exactly that text to clients, but a
//! developer (and `irsa doctor`) needs to know which field broke which rule. So every error carries
//! both: [`PolicyError::aws_message`] is the AWS wording, `Display` is the precise detail naming the
//! JSON path of the offending field.

use std::fmt;

/// The error code IAM answers with for a document that does not parse or validate.
pub const MALFORMED_POLICY_DOCUMENT: &str = "MalformedPolicyDocument";
/// The error code IAM answers with when a trust policy is over the size quota.
pub const LIMIT_EXCEEDED: &str = "LimitExceeded";

/// Why a policy document was rejected.
///
/// `Display` is the precise detail (JSON path and rule); [`PolicyError::aws_message`] is the
/// message IAM returns; [`PolicyError::aws_code`] is the IAM error code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    /// The document is not JSON at all.
    #[error("policy document is not valid JSON: {detail}")]
    InvalidJson {
        /// serde_json's description, with line and column.
        detail: String,
    },
    /// The JSON does not follow the policy grammar.
    #[error("policy syntax error at {path}: {rule}")]
    Syntax {
        /// JSON path of the offending element, e.g. `Statement[0].Effect`.
        path: String,
        /// The rule it broke.
        rule: String,
    },
    /// `Effect` is `allow`/`DENY`: accepted by the grammar but rejected by IAM's legacy parser.
    #[error("{path}: Effect {value:?} must be spelled exactly \"Allow\" or \"Deny\"")]
    EffectCase {
        /// JSON path of the Effect element.
        path: String,
        /// The value found.
        value: String,
    },
    /// A `Sid` contains something other than ASCII letters and digits.
    #[error("{path}: Sid {sid:?} must match [0-9A-Za-z]*")]
    SidNotAlphanumeric {
        /// JSON path of the Sid element.
        path: String,
        /// The Sid found.
        sid: String,
    },
    /// Two statements share a non-empty `Sid`.
    #[error("Statement[{first}] and Statement[{second}] both use Sid {sid:?}; Sids must be unique")]
    DuplicateSid {
        /// The Sid used twice.
        sid: String,
        /// Index of the first statement using it.
        first: usize,
        /// Index of the second statement using it.
        second: usize,
    },
    /// A statement has neither `Action` nor `NotAction`, or an empty list.
    #[error("{path}: statement needs a non-empty Action or NotAction")]
    MissingActions {
        /// JSON path of the statement.
        path: String,
    },
    /// An action has no `vendor:` prefix.
    #[error(
        "{path}: action {action:?} has no service prefix (expected e.g. \"sts:AssumeRoleWithWebIdentity\")"
    )]
    ActionWithoutVendor {
        /// JSON path of the action.
        path: String,
        /// The action found.
        action: String,
    },
    /// An action has more than one colon.
    #[error("{path}: action {action:?} contains more than one ':'")]
    ActionTooManyColons {
        /// JSON path of the action.
        path: String,
        /// The action found.
        action: String,
    },
    /// An action's service prefix contains characters outside `[A-Za-z0-9.-]`.
    #[error(
        "{path}: action {action:?} has an invalid service prefix {vendor:?} (allowed: A-Z a-z 0-9 . -)"
    )]
    InvalidVendor {
        /// JSON path of the action.
        path: String,
        /// The action found.
        action: String,
        /// Its service prefix.
        vendor: String,
    },
    /// A trust-policy action that cannot match any STS assume/tag action.
    #[error(
        "{path}: action {action:?} is not an sts: action a trust policy may grant (sts:AssumeRole, sts:AssumeRoleWithSAML, sts:AssumeRoleWithWebIdentity, sts:TagSession, sts:SetSourceIdentity, ...)"
    )]
    TrustPolicyAction {
        /// JSON path of the action.
        path: String,
        /// The action found.
        action: String,
    },
    /// A trust policy statement contains a field trust policies may not have
    /// (`Resource`, `NotResource`, `NotPrincipal`).
    #[error("{path}: trust policies may not contain {field}")]
    ProhibitedField {
        /// JSON path of the statement.
        path: String,
        /// The prohibited field.
        field: &'static str,
    },
    /// A trust policy statement has no `Principal`.
    #[error("{path}: trust policy statement has no Principal")]
    MissingPrincipal {
        /// JSON path of the statement.
        path: String,
    },
    /// A principal value IAM would reject.
    #[error("{path}: invalid {kind} principal {value:?}: {rule}")]
    InvalidPrincipal {
        /// JSON path of the principal value.
        path: String,
        /// Principal type (`AWS`, `Federated`, ...).
        kind: String,
        /// The value found.
        value: String,
        /// The rule it broke.
        rule: &'static str,
    },
    /// The document is over the trust-policy size quota (whitespace not counted).
    #[error("trust policy is {len} characters without whitespace, over the quota of {quota}")]
    TooLarge {
        /// Length without whitespace.
        len: usize,
        /// The quota.
        quota: usize,
    },
}

impl PolicyError {
    /// The IAM error code a client sees: `MalformedPolicyDocument` (HTTP 400) or, for
    /// [`PolicyError::TooLarge`], `LimitExceeded` (HTTP 409).
    pub fn aws_code(&self) -> &'static str {
        match self {
            PolicyError::TooLarge { .. } => LIMIT_EXCEEDED,
            _ => MALFORMED_POLICY_DOCUMENT,
        }
    }

    /// The HTTP status IAM uses for this error.
    pub fn http_status(&self) -> u16 {
        match self {
            PolicyError::TooLarge { .. } => 409,
            _ => 400,
        }
    }

    /// The message text IAM returns for this error (what `aws iam create-role` prints).
    pub fn aws_message(&self) -> String {
        match self {
            PolicyError::InvalidJson { .. } => "This policy contains invalid Json".to_owned(),
            PolicyError::Syntax { .. } => "Syntax errors in policy.".to_owned(),
            PolicyError::EffectCase { .. } => "The policy failed legacy parsing".to_owned(),
            PolicyError::SidNotAlphanumeric { .. } => "Statement IDs (SID) must be alpha-numeric. Check that your input satisfies the regular expression [0-9A-Za-z]*".to_owned(),
            PolicyError::DuplicateSid { .. } => {
                "Statement IDs (SID) in a single policy must be unique.".to_owned()
            }
            PolicyError::MissingActions { .. } => "Policy statement must contain actions.".to_owned(),
            PolicyError::ActionWithoutVendor { .. } => {
                "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc."
                    .to_owned()
            }
            PolicyError::ActionTooManyColons { .. } => {
                "Actions/Condition can contain only one colon.".to_owned()
            }
            PolicyError::InvalidVendor { vendor, .. } => format!("Vendor {vendor} is not valid"),
            PolicyError::TrustPolicyAction { .. } => "Trust Policy statement actions can only be sts:AssumeRole, sts:AssumeRoleWithSAML,  and sts:AssumeRoleWithWebIdentity".to_owned(),
            PolicyError::ProhibitedField { field, .. } => format!("Has prohibited field {field}"),
            PolicyError::MissingPrincipal { .. } => "Invalid principal in policy: com.amazon.balsa.error.InvalidPolicyException: The passed in policy has a statement with no principals!".to_owned(),
            PolicyError::InvalidPrincipal { kind, value, .. } => {
                format!("Invalid principal in policy: \"{kind}\":\"{value}\"")
            }
            PolicyError::TooLarge { quota, .. } => {
                format!("Cannot exceed quota for ACLSizePerRole: {quota}")
            }
        }
    }

    pub(crate) fn syntax(path: impl fmt::Display, rule: impl Into<String>) -> Self {
        PolicyError::Syntax {
            path: path.to_string(),
            rule: rule.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_statuses() {
        let e = PolicyError::TooLarge {
            len: 2049,
            quota: 2048,
        };
        assert_eq!(e.aws_code(), "LimitExceeded");
        assert_eq!(e.http_status(), 409);
        assert_eq!(
            e.aws_message(),
            "Cannot exceed quota for ACLSizePerRole: 2048"
        );
        let e = PolicyError::syntax("Statement[0].Effect", "missing");
        assert_eq!(e.aws_code(), "MalformedPolicyDocument");
        assert_eq!(e.http_status(), 400);
        assert_eq!(e.aws_message(), "Syntax errors in policy.");
        assert_eq!(
            e.to_string(),
            "policy syntax error at Statement[0].Effect: missing"
        );
    }

    #[test]
    fn prohibited_field_names_the_field() {
        let e = PolicyError::ProhibitedField {
            path: "Statement[1]".into(),
            field: "Resource",
        };
        assert_eq!(e.aws_message(), "Has prohibited field Resource");
        assert!(e.to_string().contains("Statement[1]"));
    }
}
