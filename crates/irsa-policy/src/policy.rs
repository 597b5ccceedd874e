//! The policy document model and its strict parser.
//!
//! The parser is deliberately as strict as IAM: the emulator promises that a trust policy it
//! accepts is one AWS accepts, so unknown fields, wrong types, both `Action` and `NotAction`,
//! unknown condition operators and the like are errors, reported with the AWS message and the JSON
//! path of the culprit. Checks run in IAM's order (grammar, legacy parsing, Sid uniqueness,
//! actions, then the trust-policy rules), so the first error a document hits is the one IAM
//! reports.

use std::fmt;

use serde_json::{Map, Value};

use crate::condition::Condition;
use crate::error::PolicyError;
use crate::wildcard::{self, Pat};

/// The policy language version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    /// `2008-10-17`, also what an absent `Version` means: `${…}` is literal text.
    V2008_10_17,
    /// `2012-10-17`: policy variables are substituted.
    V2012_10_17,
}

impl Version {
    /// The version string as written in a policy.
    pub fn as_str(self) -> &'static str {
        match self {
            Version::V2008_10_17 => "2008-10-17",
            Version::V2012_10_17 => "2012-10-17",
        }
    }
}

/// `Allow` or `Deny`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    /// Grants, unless a matching `Deny` exists.
    Allow,
    /// Denies, whatever else allows.
    Deny,
}

impl fmt::Display for Effect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Effect::Allow => "Allow",
            Effect::Deny => "Deny",
        })
    }
}

/// A principal type key inside `Principal`/`NotPrincipal`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PrincipalType {
    /// `AWS`: accounts, users, roles, `*`.
    Aws,
    /// `Federated`: OIDC/SAML provider ARNs or built-in IdP names. The web-identity caller.
    Federated,
    /// `Service`: AWS service principals.
    Service,
    /// `CanonicalUser`: S3 canonical user IDs.
    CanonicalUser,
}

impl PrincipalType {
    /// The key as written in a policy.
    pub fn as_str(self) -> &'static str {
        match self {
            PrincipalType::Aws => "AWS",
            PrincipalType::Federated => "Federated",
            PrincipalType::Service => "Service",
            PrincipalType::CanonicalUser => "CanonicalUser",
        }
    }

    fn from_key(key: &str) -> Option<Self> {
        match key {
            "AWS" => Some(PrincipalType::Aws),
            "Federated" => Some(PrincipalType::Federated),
            "Service" => Some(PrincipalType::Service),
            "CanonicalUser" => Some(PrincipalType::CanonicalUser),
            _ => None,
        }
    }
}

impl fmt::Display for PrincipalType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The value of a `Principal` or `NotPrincipal` element.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// `"*"`: everyone, including anonymous and federated callers.
    Any,
    /// A map of principal type to values (ORed).
    Specific(Vec<(PrincipalType, Vec<String>)>),
}

impl Principal {
    /// Whether the calling principal is one of these. A value `"*"` matches every principal of
    /// its type; anything else must be equal (provider ARNs are case-sensitive).
    pub(crate) fn contains(&self, caller: Option<(PrincipalType, &str)>) -> bool {
        match self {
            Principal::Any => true,
            Principal::Specific(entries) => {
                let Some((kind, value)) = caller else {
                    return false;
                };
                entries
                    .iter()
                    .filter(|(k, _)| *k == kind)
                    .any(|(_, values)| values.iter().any(|v| v == "*" || v == value))
            }
        }
    }
}

/// A list of action patterns (`sts:AssumeRole*`), matched case-insensitively.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActionPatterns {
    raw: Vec<String>,
    compiled: Vec<Vec<Pat>>,
}

impl ActionPatterns {
    fn new(raw: Vec<String>) -> Self {
        let compiled = raw.iter().map(|a| wildcard::compile(a)).collect();
        ActionPatterns { raw, compiled }
    }

    /// The patterns as written.
    pub fn as_slice(&self) -> &[String] {
        &self.raw
    }

    pub(crate) fn any_matches(&self, action: &str) -> bool {
        self.compiled
            .iter()
            .any(|p| wildcard::matches_compiled(p, action, true))
    }
}

/// `Action` or `NotAction`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ActionElement {
    /// Matches the listed actions.
    Action(ActionPatterns),
    /// Matches every action except the listed ones.
    NotAction(ActionPatterns),
}

impl ActionElement {
    pub(crate) fn matches(&self, action: &str) -> bool {
        match self {
            ActionElement::Action(p) => p.any_matches(action),
            ActionElement::NotAction(p) => !p.any_matches(action),
        }
    }
}

/// `Resource` or `NotResource` (parsed; prohibited in trust policies).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResourceElement {
    /// Matches the listed resources (wildcards allowed).
    Resource(Vec<String>),
    /// Matches every resource except the listed ones.
    NotResource(Vec<String>),
}

impl ResourceElement {
    pub(crate) fn matches(&self, resource: &str) -> bool {
        let hit = |list: &[String]| list.iter().any(|p| wildcard::wildcard_match(p, resource));
        match self {
            ResourceElement::Resource(l) => hit(l),
            ResourceElement::NotResource(l) => !hit(l),
        }
    }
}

/// One statement of a policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    pub(crate) path: String,
    pub(crate) sid: Option<String>,
    pub(crate) effect: Effect,
    pub(crate) principal: Option<Principal>,
    pub(crate) not_principal: Option<Principal>,
    pub(crate) action: ActionElement,
    pub(crate) resource: Option<ResourceElement>,
    pub(crate) conditions: Vec<Condition>,
}

impl Statement {
    /// The statement's JSON path in the document (`Statement` or `Statement[2]`).
    pub fn path(&self) -> &str {
        &self.path
    }
    /// The `Sid`, if any.
    pub fn sid(&self) -> Option<&str> {
        self.sid.as_deref()
    }
    /// The effect.
    pub fn effect(&self) -> Effect {
        self.effect
    }
    /// The `Principal` element.
    pub fn principal(&self) -> Option<&Principal> {
        self.principal.as_ref()
    }
    /// The `NotPrincipal` element.
    pub fn not_principal(&self) -> Option<&Principal> {
        self.not_principal.as_ref()
    }
    /// The `Action`/`NotAction` element.
    pub fn action(&self) -> &ActionElement {
        &self.action
    }
    /// The `Resource`/`NotResource` element.
    pub fn resource(&self) -> Option<&ResourceElement> {
        self.resource.as_ref()
    }
    /// The `Condition` operator blocks (ANDed).
    pub fn conditions(&self) -> &[Condition] {
        &self.conditions
    }
}

/// A parsed, validated policy document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    pub(crate) version: Version,
    pub(crate) version_given: bool,
    pub(crate) id: Option<String>,
    pub(crate) statements: Vec<Statement>,
}

/// Actions a role trust policy may grant (IAM rejects others).
const TRUST_POLICY_ACTIONS: &[&str] = &[
    "sts:AssumeRole",
    "sts:AssumeRoleWithSAML",
    "sts:AssumeRoleWithWebIdentity",
    "sts:TagSession",
    "sts:SetSourceIdentity",
    "sts:SetContext",
];

impl Policy {
    /// Parses and validates a policy document with IAM's generic grammar (identity, resource or
    /// trust policy). For role trust policies use [`Policy::parse_trust_policy`], which adds the
    /// trust-only rules.
    pub fn parse(document: &str) -> Result<Policy, PolicyError> {
        // Duplicate keys are invalid JSON for a policy: serde_json would keep the last one,
        // turning `{"Effect":"Deny","Effect":"Allow"}` into an Allow.
        let value =
            crate::strict_json::from_str(document).map_err(|e| PolicyError::InvalidJson {
                detail: e.to_string(),
            })?;
        let Value::Object(top) = value else {
            return Err(PolicyError::syntax(
                "(document)",
                "a policy must be a JSON object",
            ));
        };
        Self::from_object(&top)
    }

    /// Parses a role trust policy (`AssumeRolePolicyDocument`) with every rule IAM applies in
    /// `CreateRole`/`UpdateAssumeRolePolicy`, except the size quota (see
    /// [`crate::validate_trust_policy`]): each statement needs a `Principal`; `NotPrincipal`,
    /// `Resource` and `NotResource` are prohibited; actions must be STS assume/tag actions.
    pub fn parse_trust_policy(document: &str) -> Result<Policy, PolicyError> {
        let policy = Self::parse(document)?;
        policy.check_trust_rules()?;
        Ok(policy)
    }

    /// The `Version` (absent means [`Version::V2008_10_17`]).
    pub fn version(&self) -> Version {
        self.version
    }

    /// Whether the document had an explicit `Version`.
    pub fn has_explicit_version(&self) -> bool {
        self.version_given
    }

    /// The `Id`, if any.
    pub fn id(&self) -> Option<&str> {
        self.id.as_deref()
    }

    /// The statements, in document order.
    pub fn statements(&self) -> &[Statement] {
        &self.statements
    }

    fn from_object(top: &Map<String, Value>) -> Result<Policy, PolicyError> {
        for key in top.keys() {
            if !matches!(key.as_str(), "Version" | "Id" | "Statement") {
                return Err(PolicyError::syntax(
                    key,
                    "unknown top-level field (allowed: Version, Id, Statement)",
                ));
            }
        }
        let (version, version_given) = match top.get("Version") {
            None => (Version::V2008_10_17, false),
            Some(Value::String(v)) if v == "2012-10-17" => (Version::V2012_10_17, true),
            Some(Value::String(v)) if v == "2008-10-17" => (Version::V2008_10_17, true),
            Some(other) => {
                return Err(PolicyError::syntax(
                    "Version",
                    format!("must be \"2012-10-17\" or \"2008-10-17\", got {other}"),
                ));
            }
        };
        let id = match top.get("Id") {
            None => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(_) => return Err(PolicyError::syntax("Id", "must be a string")),
        };
        let raw_statements: Vec<(String, &Value)> = match top.get("Statement") {
            None => return Err(PolicyError::syntax("Statement", "missing required field")),
            Some(Value::Object(_)) => match top.get("Statement") {
                Some(v) => vec![("Statement".to_owned(), v)],
                None => Vec::new(),
            },
            Some(Value::Array(items)) if items.is_empty() => {
                return Err(PolicyError::syntax(
                    "Statement",
                    "must contain at least one statement",
                ));
            }
            Some(Value::Array(items)) => items
                .iter()
                .enumerate()
                .map(|(i, v)| (format!("Statement[{i}]"), v))
                .collect(),
            Some(_) => {
                return Err(PolicyError::syntax(
                    "Statement",
                    "must be an object or an array of objects",
                ));
            }
        };
        let variables = version == Version::V2012_10_17;
        let mut statements = Vec::with_capacity(raw_statements.len());
        let mut raw_effects = Vec::with_capacity(raw_statements.len());
        for (path, value) in &raw_statements {
            let (statement, raw_effect) = parse_statement(value, path, variables)?;
            statements.push(statement);
            raw_effects.push(raw_effect);
        }
        // Legacy parsing: Effect is case-sensitive there.
        for ((path, _), raw) in raw_statements.iter().zip(&raw_effects) {
            if raw != "Allow" && raw != "Deny" {
                return Err(PolicyError::EffectCase {
                    path: format!("{path}.Effect"),
                    value: raw.clone(),
                });
            }
        }
        check_sids(&raw_statements, &statements)?;
        for ((path, _), statement) in raw_statements.iter().zip(&statements) {
            let patterns = match &statement.action {
                ActionElement::Action(p) | ActionElement::NotAction(p) => p,
            };
            if patterns.raw.is_empty() {
                return Err(PolicyError::MissingActions { path: path.clone() });
            }
        }
        for ((path, _), statement) in raw_statements.iter().zip(&statements) {
            let (field, patterns) = match &statement.action {
                ActionElement::Action(p) => ("Action", p),
                ActionElement::NotAction(p) => ("NotAction", p),
            };
            for (i, action) in patterns.raw.iter().enumerate() {
                check_action_format(action, &format!("{path}.{field}[{i}]"))?;
            }
        }
        Ok(Policy {
            version,
            version_given,
            id,
            statements,
        })
    }

    fn check_trust_rules(&self) -> Result<(), PolicyError> {
        for st in &self.statements {
            if st.not_principal.is_some() {
                return Err(PolicyError::ProhibitedField {
                    path: st.path.clone(),
                    field: "NotPrincipal",
                });
            }
            if st.principal.is_none() {
                return Err(PolicyError::MissingPrincipal {
                    path: st.path.clone(),
                });
            }
        }
        for st in &self.statements {
            if let ActionElement::Action(patterns) = &st.action {
                for (j, (action, compiled)) in
                    patterns.raw.iter().zip(&patterns.compiled).enumerate()
                {
                    let ok = TRUST_POLICY_ACTIONS
                        .iter()
                        .any(|allowed| wildcard::matches_compiled(compiled, allowed, true));
                    if !ok {
                        return Err(PolicyError::TrustPolicyAction {
                            path: format!("{}.Action[{j}]", st.path),
                            action: action.clone(),
                        });
                    }
                }
            }
        }
        for st in &self.statements {
            let field = match st.resource {
                Some(ResourceElement::Resource(_)) => "Resource",
                Some(ResourceElement::NotResource(_)) => "NotResource",
                None => continue,
            };
            return Err(PolicyError::ProhibitedField {
                path: st.path.clone(),
                field,
            });
        }
        Ok(())
    }
}

const STATEMENT_FIELDS: &[&str] = &[
    "Sid",
    "Effect",
    "Principal",
    "NotPrincipal",
    "Action",
    "NotAction",
    "Resource",
    "NotResource",
    "Condition",
];

/// Parses one statement; also returns the Effect as written for the legacy case check.
fn parse_statement(
    value: &Value,
    path: &str,
    variables: bool,
) -> Result<(Statement, String), PolicyError> {
    let Value::Object(map) = value else {
        return Err(PolicyError::syntax(
            path,
            "a statement must be a JSON object",
        ));
    };
    for key in map.keys() {
        if !STATEMENT_FIELDS.contains(&key.as_str()) {
            return Err(PolicyError::syntax(
                format!("{path}.{key}"),
                "unknown statement field (allowed: Sid, Effect, Principal, NotPrincipal, Action, NotAction, Resource, NotResource, Condition)",
            ));
        }
    }
    for (a, b) in [
        ("Action", "NotAction"),
        ("Resource", "NotResource"),
        ("Principal", "NotPrincipal"),
    ] {
        if map.contains_key(a) && map.contains_key(b) {
            return Err(PolicyError::syntax(
                path,
                format!("a statement may have {a} or {b}, not both"),
            ));
        }
    }
    let raw_effect = match map.get("Effect") {
        None => {
            return Err(PolicyError::syntax(
                format!("{path}.Effect"),
                "missing required field",
            ));
        }
        Some(Value::String(e)) if e.eq_ignore_ascii_case("allow") => e.clone(),
        Some(Value::String(e)) if e.eq_ignore_ascii_case("deny") => e.clone(),
        Some(other) => {
            return Err(PolicyError::syntax(
                format!("{path}.Effect"),
                format!("must be \"Allow\" or \"Deny\", got {other}"),
            ));
        }
    };
    let effect = if raw_effect.eq_ignore_ascii_case("allow") {
        Effect::Allow
    } else {
        Effect::Deny
    };
    let sid = match map.get("Sid") {
        None => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => {
            return Err(PolicyError::syntax(
                format!("{path}.Sid"),
                "must be a string",
            ));
        }
    };
    let action = if let Some(v) = map.get("Action") {
        ActionElement::Action(ActionPatterns::new(string_list(
            v,
            &format!("{path}.Action"),
        )?))
    } else if let Some(v) = map.get("NotAction") {
        ActionElement::NotAction(ActionPatterns::new(string_list(
            v,
            &format!("{path}.NotAction"),
        )?))
    } else {
        // Reported after the grammar pass, as IAM does ("must contain actions").
        ActionElement::Action(ActionPatterns::new(Vec::new()))
    };
    let resource = if let Some(v) = map.get("Resource") {
        Some(ResourceElement::Resource(string_list(
            v,
            &format!("{path}.Resource"),
        )?))
    } else if let Some(v) = map.get("NotResource") {
        Some(ResourceElement::NotResource(string_list(
            v,
            &format!("{path}.NotResource"),
        )?))
    } else {
        None
    };
    let principal = map
        .get("Principal")
        .map(|v| parse_principal(v, &format!("{path}.Principal")))
        .transpose()?;
    let not_principal = map
        .get("NotPrincipal")
        .map(|v| parse_principal(v, &format!("{path}.NotPrincipal")))
        .transpose()?;
    let conditions = match map.get("Condition") {
        None => Vec::new(),
        Some(Value::Object(blocks)) => {
            let cpath = format!("{path}.Condition");
            blocks
                .iter()
                .map(|(name, body)| Condition::parse(name, body, variables, &cpath))
                .collect::<Result<Vec<_>, _>>()?
        }
        Some(_) => {
            return Err(PolicyError::syntax(
                format!("{path}.Condition"),
                "must be an object mapping operators to key/value blocks",
            ));
        }
    };
    Ok((
        Statement {
            path: path.to_owned(),
            sid,
            effect,
            principal,
            not_principal,
            action,
            resource,
            conditions,
        },
        raw_effect,
    ))
}

/// A string or an array of strings.
fn string_list(v: &Value, path: &str) -> Result<Vec<String>, PolicyError> {
    match v {
        Value::String(s) => Ok(vec![s.clone()]),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .map(|(i, item)| match item {
                Value::String(s) => Ok(s.clone()),
                _ => Err(PolicyError::syntax(
                    format!("{path}[{i}]"),
                    "must be a string",
                )),
            })
            .collect(),
        _ => Err(PolicyError::syntax(
            path,
            "must be a string or an array of strings",
        )),
    }
}

fn parse_principal(v: &Value, path: &str) -> Result<Principal, PolicyError> {
    match v {
        Value::String(s) if s == "*" => Ok(Principal::Any),
        Value::String(s) => Err(PolicyError::syntax(
            path,
            format!(
                "a principal string must be \"*\", got {s:?}; use a map such as {{\"Federated\": \"arn:…\"}}"
            ),
        )),
        Value::Object(map) => {
            if map.is_empty() {
                return Err(PolicyError::MissingPrincipal {
                    path: path.to_owned(),
                });
            }
            let mut entries = Vec::with_capacity(map.len());
            for (key, value) in map {
                let kpath = format!("{path}.{key}");
                let kind = PrincipalType::from_key(key).ok_or_else(|| {
                    PolicyError::syntax(
                        &kpath,
                        "unknown principal type (allowed: AWS, Federated, Service, CanonicalUser)",
                    )
                })?;
                let values = string_list(value, &kpath)?;
                if values.is_empty() {
                    return Err(PolicyError::syntax(
                        &kpath,
                        "must list at least one principal",
                    ));
                }
                for (i, val) in values.iter().enumerate() {
                    check_principal_value(kind, val, &format!("{kpath}[{i}]"))?;
                }
                entries.push((kind, values));
            }
            Ok(Principal::Specific(entries))
        }
        _ => Err(PolicyError::syntax(
            path,
            "must be \"*\" or an object of principal types",
        )),
    }
}

fn check_principal_value(kind: PrincipalType, value: &str, path: &str) -> Result<(), PolicyError> {
    let invalid = |rule| PolicyError::InvalidPrincipal {
        path: path.to_owned(),
        kind: kind.as_str().to_owned(),
        value: value.to_owned(),
        rule,
    };
    match kind {
        PrincipalType::Aws => {
            let account = value.len() == 12 && value.bytes().all(|b| b.is_ascii_digit());
            if value == "*" || account || value.starts_with("arn:") {
                Ok(())
            } else {
                Err(invalid("must be \"*\", a 12-digit account ID or an ARN"))
            }
        }
        PrincipalType::Federated => {
            if value.trim().is_empty() {
                Err(invalid(
                    "must be a provider ARN or a built-in identity provider name",
                ))
            } else {
                Ok(())
            }
        }
        PrincipalType::Service | PrincipalType::CanonicalUser => {
            if value.trim().is_empty() {
                Err(invalid("must not be empty"))
            } else {
                Ok(())
            }
        }
    }
}

fn check_sids(
    raw_statements: &[(String, &Value)],
    statements: &[Statement],
) -> Result<(), PolicyError> {
    for ((path, _), st) in raw_statements.iter().zip(statements) {
        if let Some(sid) = &st.sid
            && !sid.bytes().all(|b| b.is_ascii_alphanumeric())
        {
            return Err(PolicyError::SidNotAlphanumeric {
                path: format!("{path}.Sid"),
                sid: sid.clone(),
            });
        }
    }
    for (second, st) in statements.iter().enumerate() {
        let Some(sid) = st.sid.as_deref().filter(|s| !s.is_empty()) else {
            continue;
        };
        if let Some(first) = statements[..second]
            .iter()
            .position(|earlier| earlier.sid.as_deref() == Some(sid))
        {
            return Err(PolicyError::DuplicateSid {
                sid: sid.to_owned(),
                first,
                second,
            });
        }
    }
    Ok(())
}

fn check_action_format(action: &str, path: &str) -> Result<(), PolicyError> {
    if action == "*" {
        return Ok(());
    }
    let mut parts = action.split(':');
    let vendor = parts.next().unwrap_or("");
    match (parts.next(), parts.next()) {
        (None, _) => Err(PolicyError::ActionWithoutVendor {
            path: path.to_owned(),
            action: action.to_owned(),
        }),
        (Some(_), Some(_)) => Err(PolicyError::ActionTooManyColons {
            path: path.to_owned(),
            action: action.to_owned(),
        }),
        (Some(_), None) => {
            if vendor
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
            {
                Ok(())
            } else {
                Err(PolicyError::InvalidVendor {
                    path: path.to_owned(),
                    action: action.to_owned(),
                    vendor: vendor.to_owned(),
                })
            }
        }
    }
}
