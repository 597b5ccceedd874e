//! The `Condition` element: operators, set qualifiers, `…IfExists`, policy variables.
//!
//! This is where trust policies are won or lost: `StringEquals` on `:sub` is the line between "this
//! service account" and "every pod in the cluster", so the semantics follow the IAM User Guide
//! exactly, including the corners people trip over:
//!
//! * a missing key makes positive operators false and negated operators (`StringNotEquals`, …)
//!   true; `…IfExists` makes any operator true on a missing key; `Null: {k: "true"}` is true iff
//!   the key is absent;
//! * `ForAnyValue:` is false on a missing or empty key, `ForAllValues:` is **true** on one;
//! * several keys under one operator are ANDed, several values for one key are ORed (for negated
//!   operators: the request value must match none of them);
//! * key names are case-insensitive, values are compared as the operator says;
//! * `${…}` policy variables are substituted only under `Version: 2012-10-17`; a variable with no
//!   value in the request and no default makes that value unmatchable (never a wildcard), and for
//!   negated operators fails the condition (fail closed).

use std::fmt;
use std::net::IpAddr;

use serde_json::Value;

use crate::context::RequestContext;
use crate::error::PolicyError;
use crate::wildcard::{self, Pat};

/// A condition operator, without its `ForAnyValue:`/`ForAllValues:` qualifier or `IfExists`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[allow(missing_docs)]
pub enum Operator {
    StringEquals,
    StringNotEquals,
    StringEqualsIgnoreCase,
    StringNotEqualsIgnoreCase,
    StringLike,
    StringNotLike,
    NumericEquals,
    NumericNotEquals,
    NumericLessThan,
    NumericLessThanEquals,
    NumericGreaterThan,
    NumericGreaterThanEquals,
    DateEquals,
    DateNotEquals,
    DateLessThan,
    DateLessThanEquals,
    DateGreaterThan,
    DateGreaterThanEquals,
    Bool,
    BinaryEquals,
    IpAddress,
    NotIpAddress,
    ArnEquals,
    ArnLike,
    ArnNotEquals,
    ArnNotLike,
    Null,
}

const OPERATORS: &[(&str, Operator)] = &[
    ("StringEquals", Operator::StringEquals),
    ("StringNotEquals", Operator::StringNotEquals),
    ("StringEqualsIgnoreCase", Operator::StringEqualsIgnoreCase),
    (
        "StringNotEqualsIgnoreCase",
        Operator::StringNotEqualsIgnoreCase,
    ),
    ("StringLike", Operator::StringLike),
    ("StringNotLike", Operator::StringNotLike),
    ("NumericEquals", Operator::NumericEquals),
    ("NumericNotEquals", Operator::NumericNotEquals),
    ("NumericLessThan", Operator::NumericLessThan),
    ("NumericLessThanEquals", Operator::NumericLessThanEquals),
    ("NumericGreaterThan", Operator::NumericGreaterThan),
    (
        "NumericGreaterThanEquals",
        Operator::NumericGreaterThanEquals,
    ),
    ("DateEquals", Operator::DateEquals),
    ("DateNotEquals", Operator::DateNotEquals),
    ("DateLessThan", Operator::DateLessThan),
    ("DateLessThanEquals", Operator::DateLessThanEquals),
    ("DateGreaterThan", Operator::DateGreaterThan),
    ("DateGreaterThanEquals", Operator::DateGreaterThanEquals),
    ("Bool", Operator::Bool),
    ("BinaryEquals", Operator::BinaryEquals),
    ("IpAddress", Operator::IpAddress),
    ("NotIpAddress", Operator::NotIpAddress),
    ("ArnEquals", Operator::ArnEquals),
    ("ArnLike", Operator::ArnLike),
    ("ArnNotEquals", Operator::ArnNotEquals),
    ("ArnNotLike", Operator::ArnNotLike),
    ("Null", Operator::Null),
];

impl Operator {
    /// The operator's name as written in a policy.
    pub fn name(self) -> &'static str {
        OPERATORS
            .iter()
            .find(|(_, op)| *op == self)
            .map_or("?", |(name, _)| name)
    }

    fn from_name(name: &str) -> Option<Operator> {
        OPERATORS
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, op)| *op)
    }

    /// Whether this is a negated operator (`StringNotEquals`, `NotIpAddress`, …): true on a
    /// missing key, and true only if the request value matches none of the policy values.
    pub fn is_negated(self) -> bool {
        matches!(
            self,
            Operator::StringNotEquals
                | Operator::StringNotEqualsIgnoreCase
                | Operator::StringNotLike
                | Operator::NumericNotEquals
                | Operator::DateNotEquals
                | Operator::NotIpAddress
                | Operator::ArnNotEquals
                | Operator::ArnNotLike
        )
    }

    /// The comparison underlying the operator, before negation.
    fn positive_match(self, request: &str, policy: &Resolved<'_>) -> bool {
        use Operator::*;
        match self {
            StringEquals | StringNotEquals | BinaryEquals => request == policy.text(),
            StringEqualsIgnoreCase | StringNotEqualsIgnoreCase => request
                .chars()
                .flat_map(char::to_lowercase)
                .eq(policy.text().chars().flat_map(char::to_lowercase)),
            StringLike | StringNotLike => {
                wildcard::matches_compiled(policy.pattern(), request, false)
            }
            NumericEquals | NumericNotEquals => numeric(request, policy.text(), |a, b| a == b),
            NumericLessThan => numeric(request, policy.text(), |a, b| a < b),
            NumericLessThanEquals => numeric(request, policy.text(), |a, b| a <= b),
            NumericGreaterThan => numeric(request, policy.text(), |a, b| a > b),
            NumericGreaterThanEquals => numeric(request, policy.text(), |a, b| a >= b),
            DateEquals | DateNotEquals => date(request, policy.text(), |a, b| a == b),
            DateLessThan => date(request, policy.text(), |a, b| a < b),
            DateLessThanEquals => date(request, policy.text(), |a, b| a <= b),
            DateGreaterThan => date(request, policy.text(), |a, b| a > b),
            DateGreaterThanEquals => date(request, policy.text(), |a, b| a >= b),
            Bool => request.eq_ignore_ascii_case(policy.text()),
            IpAddress | NotIpAddress => ip_in_cidr(request, policy.text()),
            ArnEquals | ArnLike | ArnNotEquals | ArnNotLike => arn_match(policy.text(), request),
            // Null is evaluated on presence, never per value.
            Null => false,
        }
    }
}

impl fmt::Display for Operator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

fn numeric(request: &str, policy: &str, cmp: fn(f64, f64) -> bool) -> bool {
    match (request.trim().parse::<f64>(), policy.trim().parse::<f64>()) {
        (Ok(a), Ok(b)) => cmp(a, b),
        _ => false,
    }
}

fn date(request: &str, policy: &str, cmp: fn(i128, i128) -> bool) -> bool {
    match (parse_date_millis(request), parse_date_millis(policy)) {
        (Some(a), Some(b)) => cmp(a, b),
        _ => false,
    }
}

/// Parses an IAM date: epoch seconds, or ISO 8601 `YYYY-MM-DD[Thh:mm[:ss[.fff]]][Z|±hh:mm]`.
/// Returns milliseconds since the Unix epoch.
pub(crate) fn parse_date_millis(s: &str) -> Option<i128> {
    let s = s.trim();
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
        return s.parse::<i128>().ok()?.checked_mul(1000);
    }
    let (date_part, time_part) = match s.find(['T', 't']) {
        Some(i) => (s.get(..i)?, s.get(i + 1..)?),
        None => (s, ""),
    };
    let mut d = date_part.split('-');
    let year: i64 = d.next()?.parse().ok()?;
    let month: u32 = d.next().map_or(Some(1), |m| m.parse().ok())?;
    let day: u32 = d.next().map_or(Some(1), |m| m.parse().ok())?;
    // AWS's own bounds on the year; also keeps the arithmetic below far from overflow.
    if d.next().is_some()
        || !(-292_275_054..=292_278_993).contains(&year)
        || !(1..=12).contains(&month)
        || !(1..=31).contains(&day)
    {
        return None;
    }
    // Split off the zone designator.
    let (clock, offset_secs) = if let Some(c) = time_part.strip_suffix(['Z', 'z']) {
        (c, 0i64)
    } else if let Some(i) = time_part.rfind(['+', '-']) {
        let (clock, zone) = time_part.split_at(i);
        let sign = if zone.starts_with('-') { -1 } else { 1 };
        let mut z = zone.get(1..)?.split(':');
        let zh: i64 = z.next()?.parse().ok()?;
        let zm: i64 = z.next().map_or(Some(0), |m| m.parse().ok())?;
        if !(0..=23).contains(&zh) || !(0..=59).contains(&zm) {
            return None;
        }
        (clock, sign * (zh * 3600 + zm * 60))
    } else {
        (time_part, 0)
    };
    let mut t = clock.split(':');
    let hour: i64 = match t.next() {
        Some("") | None => 0,
        Some(h) => h.parse().ok()?,
    };
    let minute: i64 = t.next().map_or(Some(0), |m| m.parse().ok())?;
    let (sec, millis): (i64, i64) = match t.next() {
        None => (0, 0),
        Some(sf) => {
            let (whole, frac) = sf.split_once('.').unwrap_or((sf, ""));
            let frac3: String = frac.chars().chain("000".chars()).take(3).collect();
            (whole.parse().ok()?, frac3.parse().ok()?)
        }
    };
    let in_range = (0..=23).contains(&hour)
        && (0..=59).contains(&minute)
        && (0..=60).contains(&sec)
        && (0..1000).contains(&millis)
        && (-86_400..=86_400).contains(&offset_secs);
    if t.next().is_some() || !in_range {
        return None;
    }
    let days = days_from_civil(year, month, day);
    let secs = days * 86_400 + hour * 3600 + minute * 60 + sec - offset_secs;
    Some(i128::from(secs) * 1000 + i128::from(millis))
}

/// Days since 1970-01-01 for a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let d = i64::from(d);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn ip_in_cidr(request: &str, policy: &str) -> bool {
    let Ok(ip) = request.trim().parse::<IpAddr>() else {
        return false;
    };
    let (net, len) = match policy.trim().split_once('/') {
        Some((net, len)) => match len.parse::<u32>() {
            Ok(len) => (net, Some(len)),
            Err(_) => return false,
        },
        None => (policy.trim(), None),
    };
    let Ok(net) = net.parse::<IpAddr>() else {
        return false;
    };
    match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(n)) => {
            let len = len.unwrap_or(32);
            if len > 32 {
                return false;
            }
            let mask = u32::MAX.checked_shl(32 - len).unwrap_or(0);
            u32::from(a) & mask == u32::from(n) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(n)) => {
            let len = len.unwrap_or(128);
            if len > 128 {
                return false;
            }
            let mask = u128::MAX.checked_shl(128 - len).unwrap_or(0);
            u128::from(a) & mask == u128::from(n) & mask
        }
        _ => false,
    }
}

/// `ArnLike`/`ArnEquals`: the six colon-separated components are matched separately, each with
/// `*`/`?` wildcards (the resource component keeps any further colons).
fn arn_match(pattern: &str, arn: &str) -> bool {
    let p: Vec<&str> = pattern.splitn(6, ':').collect();
    let a: Vec<&str> = arn.splitn(6, ':').collect();
    if p.len() < 6 {
        // Not an ARN-shaped pattern (e.g. "*"): match the whole string.
        return wildcard::wildcard_match(pattern, arn);
    }
    a.len() == 6
        && p.iter()
            .zip(a.iter())
            .all(|(p, a)| wildcard::wildcard_match(p, a))
}

/// `ForAnyValue:` / `ForAllValues:`: how a multivalued request key is compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SetQualifier {
    /// True if at least one request value satisfies the operator; false on a missing key.
    ForAnyValue,
    /// True if every request value satisfies the operator; **true** on a missing or empty key.
    ForAllValues,
}

/// One part of a condition value under `Version: 2012-10-17`.
#[derive(Debug, Clone, PartialEq, Eq)]
enum TplPart {
    /// Policy text; in `StringLike` its `*`/`?` are wildcards.
    Text(String),
    /// `${*}`, `${?}`, `${$}`: a literal character.
    Escaped(char),
    /// `${key}` or `${key, 'default'}`.
    Var {
        name: String,
        key_lower: String,
        default: Option<String>,
    },
}

/// A value on the policy side of a condition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConditionValue {
    raw: String,
    /// Present iff the value contains policy variables and the policy is version 2012-10-17.
    template: Option<Vec<TplPart>>,
    /// Compiled wildcard pattern of `raw` (used when there is no template).
    pattern: Vec<Pat>,
}

impl ConditionValue {
    /// The value as written in the policy.
    pub fn as_str(&self) -> &str {
        &self.raw
    }

    fn new(raw: String, variables: bool) -> Self {
        let template = if variables {
            parse_template(&raw)
        } else {
            None
        };
        let pattern = if template.is_none() {
            wildcard::compile(&raw)
        } else {
            Vec::new()
        };
        ConditionValue {
            raw,
            template,
            pattern,
        }
    }

    /// Substitutes policy variables. `Err(name)` names a variable with no value and no default.
    fn resolve<'a>(&'a self, ctx: &RequestContext) -> Result<Resolved<'a>, String> {
        let Some(parts) = &self.template else {
            return Ok(Resolved::Plain(self));
        };
        let mut text = String::with_capacity(self.raw.len());
        let mut pattern = Vec::with_capacity(self.raw.len());
        for part in parts {
            match part {
                TplPart::Text(t) => {
                    text.push_str(t);
                    pattern.extend(wildcard::compile(t));
                }
                TplPart::Escaped(c) => {
                    text.push(*c);
                    pattern.push(Pat::Lit(*c));
                }
                TplPart::Var {
                    name,
                    key_lower,
                    default,
                } => {
                    let value = match ctx.values_lower(key_lower) {
                        Some([single]) => single.as_str(),
                        _ => match default {
                            Some(d) => d.as_str(),
                            None => return Err(name.clone()),
                        },
                    };
                    text.push_str(value);
                    // A substituted value is data, never a pattern.
                    wildcard::push_literal(&mut pattern, value);
                }
            }
        }
        Ok(Resolved::Owned { text, pattern })
    }
}

impl fmt::Display for ConditionValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.raw)
    }
}

enum Resolved<'a> {
    Plain(&'a ConditionValue),
    Owned { text: String, pattern: Vec<Pat> },
}

impl Resolved<'_> {
    fn text(&self) -> &str {
        match self {
            Resolved::Plain(v) => &v.raw,
            Resolved::Owned { text, .. } => text,
        }
    }
    fn pattern(&self) -> &[Pat] {
        match self {
            Resolved::Plain(v) => &v.pattern,
            Resolved::Owned { pattern, .. } => pattern,
        }
    }
}

/// Splits a value into text, escapes and variables. `None` if it has no `${…}` at all.
fn parse_template(raw: &str) -> Option<Vec<TplPart>> {
    if !raw.contains("${") {
        return None;
    }
    let mut parts = Vec::new();
    let mut text = String::new();
    let mut rest = raw;
    while let Some(start) = rest.find("${") {
        let after = rest.get(start + 2..).unwrap_or("");
        let Some(end) = after.find('}') else {
            break;
        };
        text.push_str(rest.get(..start).unwrap_or(""));
        let inner = after.get(..end).unwrap_or("").trim();
        rest = after.get(end + 1..).unwrap_or("");
        let part = match inner {
            "*" => TplPart::Escaped('*'),
            "?" => TplPart::Escaped('?'),
            "$" => TplPart::Escaped('$'),
            _ => {
                let (name, default) = match inner.split_once(',') {
                    Some((name, default)) => {
                        let d = default.trim();
                        let d = d
                            .strip_prefix('\'')
                            .and_then(|d| d.strip_suffix('\''))
                            .unwrap_or(d);
                        (name.trim(), Some(d.to_owned()))
                    }
                    None => (inner, None),
                };
                TplPart::Var {
                    name: name.to_owned(),
                    key_lower: name.to_lowercase(),
                    default,
                }
            }
        };
        if !text.is_empty() {
            parts.push(TplPart::Text(std::mem::take(&mut text)));
        }
        parts.push(part);
    }
    text.push_str(rest);
    if !text.is_empty() {
        parts.push(TplPart::Text(text));
    }
    Some(parts)
}

/// One key under an operator, with its policy values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConditionEntry {
    key: String,
    key_lower: String,
    values: Vec<ConditionValue>,
}

impl ConditionEntry {
    /// The condition key as written in the policy.
    pub fn key(&self) -> &str {
        &self.key
    }
    /// The policy values (ORed).
    pub fn values(&self) -> &[ConditionValue] {
        &self.values
    }
}

/// One operator block of a statement's `Condition`, e.g. `"ForAnyValue:StringLikeIfExists": {…}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Condition {
    name: String,
    operator: Operator,
    qualifier: Option<SetQualifier>,
    if_exists: bool,
    entries: Vec<ConditionEntry>,
}

impl Condition {
    /// The operator block's name as written (`ForAllValues:StringEqualsIfExists`).
    pub fn name(&self) -> &str {
        &self.name
    }
    /// The base operator.
    pub fn operator(&self) -> Operator {
        self.operator
    }
    /// The set qualifier, if any.
    pub fn qualifier(&self) -> Option<SetQualifier> {
        self.qualifier
    }
    /// Whether the operator carries `IfExists`.
    pub fn if_exists(&self) -> bool {
        self.if_exists
    }
    /// The keys under this operator (ANDed).
    pub fn entries(&self) -> &[ConditionEntry] {
        &self.entries
    }

    /// Parses one operator block. `path` is the JSON path of the statement's `Condition`.
    pub(crate) fn parse(
        name: &str,
        body: &Value,
        variables: bool,
        path: &str,
    ) -> Result<Condition, PolicyError> {
        let op_path = format!("{path}.{name}");
        let (qualifier, rest) = if let Some(r) = name.strip_prefix("ForAnyValue:") {
            (Some(SetQualifier::ForAnyValue), r)
        } else if let Some(r) = name.strip_prefix("ForAllValues:") {
            (Some(SetQualifier::ForAllValues), r)
        } else {
            (None, name)
        };
        let (if_exists, base) = match rest.strip_suffix("IfExists") {
            Some(b) => (true, b),
            None => (false, rest),
        };
        let operator = Operator::from_name(base).ok_or_else(|| {
            PolicyError::syntax(
                &op_path,
                format!("unknown condition operator {name:?} (expected e.g. StringEquals, StringLike, ForAnyValue:StringEquals, StringEqualsIfExists)"),
            )
        })?;
        if operator == Operator::Null && if_exists {
            return Err(PolicyError::syntax(
                &op_path,
                "the Null operator cannot take the IfExists suffix",
            ));
        }
        let Value::Object(map) = body else {
            return Err(PolicyError::syntax(
                &op_path,
                "an operator block must be an object mapping condition keys to values",
            ));
        };
        let mut entries = Vec::with_capacity(map.len());
        for (key, v) in map {
            let key_path = format!("{op_path}.{key:?}");
            let raw_values = condition_values(v, &key_path)?;
            entries.push(ConditionEntry {
                key: key.clone(),
                key_lower: key.to_lowercase(),
                values: raw_values
                    .into_iter()
                    .map(|raw| ConditionValue::new(raw, variables))
                    .collect(),
            });
        }
        Ok(Condition {
            name: name.to_owned(),
            operator,
            qualifier,
            if_exists,
            entries,
        })
    }

    /// Evaluates every key (ANDed); on failure says which key failed and why.
    pub(crate) fn evaluate<'a>(
        &'a self,
        ctx: &RequestContext,
    ) -> Result<(), (&'a ConditionEntry, FailureReason)> {
        for entry in &self.entries {
            self.evaluate_entry(entry, ctx).map_err(|r| (entry, r))?;
        }
        Ok(())
    }

    fn evaluate_entry(
        &self,
        entry: &ConditionEntry,
        ctx: &RequestContext,
    ) -> Result<(), FailureReason> {
        let request = ctx.values_lower(&entry.key_lower).filter(|v| !v.is_empty());
        if self.operator == Operator::Null {
            let present = request.is_some();
            let ok = entry.values.iter().any(|v| {
                if v.raw.eq_ignore_ascii_case("true") {
                    !present
                } else if v.raw.eq_ignore_ascii_case("false") {
                    present
                } else {
                    false
                }
            });
            return if ok {
                Ok(())
            } else if present {
                Err(FailureReason::NullKeyPresent)
            } else {
                Err(FailureReason::NullKeyAbsent)
            };
        }
        let Some(request) = request else {
            return match self.qualifier {
                Some(SetQualifier::ForAllValues) => Ok(()),
                _ if self.if_exists => Ok(()),
                None if self.operator.is_negated() => Ok(()),
                _ => Err(FailureReason::KeyMissing),
            };
        };
        let negated = self.operator.is_negated();
        let any_semantics = match self.qualifier {
            Some(SetQualifier::ForAnyValue) => true,
            Some(SetQualifier::ForAllValues) => false,
            None => !negated,
        };
        let mut last_failure = FailureReason::KeyMissing;
        for value in request {
            match self.single(entry, value, ctx, negated) {
                Ok(()) if any_semantics => return Ok(()),
                Ok(()) => {}
                Err(e) if any_semantics => last_failure = e,
                Err(e) => return Err(e),
            }
        }
        if any_semantics {
            Err(last_failure)
        } else {
            Ok(())
        }
    }

    /// The operator applied to one request value.
    fn single(
        &self,
        entry: &ConditionEntry,
        request: &str,
        ctx: &RequestContext,
        negated: bool,
    ) -> Result<(), FailureReason> {
        let mut unresolved = None;
        let mut matched = None;
        for value in &entry.values {
            match value.resolve(ctx) {
                Ok(resolved) => {
                    if self.operator.positive_match(request, &resolved) {
                        matched = Some(value.raw.clone());
                        break;
                    }
                }
                Err(name) => unresolved = unresolved.or(Some(name)),
            }
        }
        match (negated, matched, unresolved) {
            (false, Some(_), _) => Ok(()),
            (false, None, Some(variable)) => Err(FailureReason::UnresolvedVariable { variable }),
            (false, None, None) => Err(FailureReason::NoValueMatched {
                request_value: request.to_owned(),
            }),
            (true, Some(policy_value), _) => Err(FailureReason::ExcludedValueMatched {
                request_value: request.to_owned(),
                policy_value,
            }),
            (true, None, Some(variable)) => Err(FailureReason::UnresolvedVariable { variable }),
            (true, None, None) => Ok(()),
        }
    }
}

/// Extracts a condition's values: a string, boolean or number, or an array of those.
fn condition_values(v: &Value, path: &str) -> Result<Vec<String>, PolicyError> {
    fn scalar(v: &Value, path: &str) -> Result<String, PolicyError> {
        match v {
            Value::String(s) => Ok(s.clone()),
            Value::Bool(b) => Ok(b.to_string()),
            Value::Number(n) => Ok(n.to_string()),
            _ => Err(PolicyError::syntax(
                path,
                "condition values must be strings, booleans or numbers",
            )),
        }
    }
    match v {
        Value::Array(items) => items
            .iter()
            .enumerate()
            .map(|(i, item)| scalar(item, &format!("{path}[{i}]")))
            .collect(),
        other => Ok(vec![scalar(other, path)?]),
    }
}

/// Why one condition key did not hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FailureReason {
    /// The key is not in the request (and the operator is positive, or `ForAnyValue:`).
    KeyMissing,
    /// No policy value matched this request value.
    NoValueMatched {
        /// The request value that matched nothing.
        request_value: String,
    },
    /// A negated operator: the request value matched a value the policy excludes.
    ExcludedValueMatched {
        /// The request value.
        request_value: String,
        /// The policy value it matched.
        policy_value: String,
    },
    /// A policy variable had no value in the request and no default.
    UnresolvedVariable {
        /// The variable's name as written.
        variable: String,
    },
    /// `Null: "true"` but the key is present.
    NullKeyPresent,
    /// `Null: "false"` but the key is absent.
    NullKeyAbsent,
}

impl fmt::Display for FailureReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FailureReason::KeyMissing => f.write_str("the key is not in the request"),
            FailureReason::NoValueMatched { request_value } => {
                write!(
                    f,
                    "request value {request_value:?} matches none of the policy values"
                )
            }
            FailureReason::ExcludedValueMatched {
                request_value,
                policy_value,
            } => write!(
                f,
                "request value {request_value:?} matches the excluded value {policy_value:?}"
            ),
            FailureReason::UnresolvedVariable { variable } => write!(
                f,
                "policy variable ${{{variable}}} has no value in the request and no default"
            ),
            FailureReason::NullKeyPresent => {
                f.write_str("Null expects the key to be absent, but it is present")
            }
            FailureReason::NullKeyAbsent => {
                f.write_str("Null expects the key to be present, but it is absent")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn cond(name: &str, body: Value) -> Condition {
        match Condition::parse(name, &body, true, "Statement[0].Condition") {
            Ok(c) => c,
            Err(e) => panic!("condition {name} should parse: {e}"),
        }
    }

    fn holds(c: &Condition, ctx: &RequestContext) -> bool {
        c.evaluate(ctx).is_ok()
    }

    fn ctx() -> RequestContext {
        RequestContext::new("sts:AssumeRoleWithWebIdentity")
    }

    const SUB: &str = "oidc.example.com/id/1:sub";

    #[test]
    fn string_equals_is_case_sensitive_on_values_not_keys() {
        let c = cond(
            "StringEquals",
            json!({"OIDC.example.com/id/1:SUB": "system:serviceaccount:a:b"}),
        );
        assert!(holds(
            &c,
            &ctx().with_value(SUB, "system:serviceaccount:a:b")
        ));
        assert!(!holds(
            &c,
            &ctx().with_value(SUB, "system:serviceaccount:a:B")
        ));
        assert!(
            !holds(&c, &ctx()),
            "positive operator on a missing key is false"
        );
    }

    #[test]
    fn multiple_values_are_ored_and_multiple_keys_anded() {
        let c = cond(
            "StringEquals",
            json!({SUB: ["x", "y"], "k:aud": "sts.amazonaws.com"}),
        );
        let base = ctx().with_value("k:aud", "sts.amazonaws.com");
        assert!(holds(&c, &base.clone().with_value(SUB, "y")));
        assert!(!holds(&c, &base.clone().with_value(SUB, "z")));
        assert!(
            !holds(&c, &ctx().with_value(SUB, "x")),
            "second key missing"
        );
    }

    #[test]
    fn string_not_equals_semantics() {
        let c = cond("StringNotEquals", json!({SUB: ["x", "y"]}));
        assert!(
            holds(&c, &ctx()),
            "negated operator on a missing key is true"
        );
        assert!(holds(&c, &ctx().with_value(SUB, "z")));
        assert!(!holds(&c, &ctx().with_value(SUB, "y")));
        let err = c
            .evaluate(&ctx().with_value(SUB, "x"))
            .err()
            .map(|(_, r)| r);
        assert_eq!(
            err,
            Some(FailureReason::ExcludedValueMatched {
                request_value: "x".into(),
                policy_value: "x".into()
            })
        );
    }

    #[test]
    fn ignore_case_operators() {
        let c = cond(
            "StringEqualsIgnoreCase",
            json!({SUB: "System:ServiceAccount:A:B"}),
        );
        assert!(holds(
            &c,
            &ctx().with_value(SUB, "system:serviceaccount:a:b")
        ));
        assert!(!holds(
            &c,
            &ctx().with_value(SUB, "system:serviceaccount:a:c")
        ));
        let n = cond("StringNotEqualsIgnoreCase", json!({SUB: "ABC"}));
        assert!(!holds(&n, &ctx().with_value(SUB, "abc")));
        assert!(holds(&n, &ctx().with_value(SUB, "abd")));
        assert!(holds(&n, &ctx()));
    }

    #[test]
    fn string_like_and_not_like() {
        let c = cond(
            "StringLike",
            json!({SUB: "system:serviceaccount:default:*"}),
        );
        assert!(holds(
            &c,
            &ctx().with_value(SUB, "system:serviceaccount:default:web")
        ));
        assert!(!holds(
            &c,
            &ctx().with_value(SUB, "system:serviceaccount:other:web")
        ));
        assert!(!holds(&c, &ctx()));
        let q = cond("StringLike", json!({SUB: "a?c"}));
        assert!(holds(&q, &ctx().with_value(SUB, "abc")));
        assert!(!holds(&q, &ctx().with_value(SUB, "ac")));
        let n = cond(
            "StringNotLike",
            json!({SUB: "system:serviceaccount:kube-system:*"}),
        );
        assert!(holds(
            &n,
            &ctx().with_value(SUB, "system:serviceaccount:default:x")
        ));
        assert!(!holds(
            &n,
            &ctx().with_value(SUB, "system:serviceaccount:kube-system:x")
        ));
        assert!(holds(&n, &ctx()));
    }

    #[test]
    fn if_exists_variants() {
        let c = cond("StringEqualsIfExists", json!({SUB: "x"}));
        assert!(holds(&c, &ctx()), "IfExists on a missing key is true");
        assert!(holds(&c, &ctx().with_value(SUB, "x")));
        assert!(
            !holds(&c, &ctx().with_value(SUB, "y")),
            "IfExists still compares a present key"
        );
        let l = cond("StringLikeIfExists", json!({SUB: "a*"}));
        assert!(holds(&l, &ctx()));
        assert!(!holds(&l, &ctx().with_value(SUB, "b")));
        let n = cond("StringNotEqualsIfExists", json!({SUB: "x"}));
        assert!(holds(&n, &ctx()));
        assert!(!holds(&n, &ctx().with_value(SUB, "x")));
    }

    #[test]
    fn null_operator() {
        let absent = cond("Null", json!({SUB: "true"}));
        assert!(holds(&absent, &ctx()));
        assert!(!holds(&absent, &ctx().with_value(SUB, "x")));
        let present = cond("Null", json!({SUB: false}));
        assert!(holds(&present, &ctx().with_value(SUB, "x")));
        assert!(!holds(&present, &ctx()));
        assert!(
            holds(&absent, &ctx().with_values(SUB, Vec::<String>::new())),
            "an empty value set counts as absent"
        );
    }

    #[test]
    fn null_if_exists_is_rejected() {
        let err = Condition::parse("NullIfExists", &json!({SUB: "true"}), true, "C");
        assert!(matches!(err, Err(PolicyError::Syntax { .. })));
    }

    #[test]
    fn unknown_operator_is_a_syntax_error_naming_it() {
        let err = Condition::parse(
            "StringEqual",
            &json!({SUB: "x"}),
            true,
            "Statement[0].Condition",
        );
        match err {
            Err(PolicyError::Syntax { path, rule }) => {
                assert_eq!(path, "Statement[0].Condition.StringEqual");
                assert!(rule.contains("StringEqual"));
            }
            other => panic!("expected a syntax error, got {other:?}"),
        }
        assert!(Condition::parse("ForSomeValues:StringEquals", &json!({}), true, "C").is_err());
    }

    #[test]
    fn bad_value_types_are_syntax_errors() {
        for body in [
            json!({SUB: null}),
            json!({SUB: {"a": "b"}}),
            json!({SUB: [["x"]]}),
            json!("x"),
        ] {
            assert!(
                matches!(
                    Condition::parse("StringEquals", &body, true, "C"),
                    Err(PolicyError::Syntax { .. })
                ),
                "{body} should be rejected"
            );
        }
    }

    #[test]
    fn for_any_value() {
        let amr = "cognito-identity.amazonaws.com:amr";
        let c = cond("ForAnyValue:StringLike", json!({amr: "authenticated"}));
        assert!(holds(
            &c,
            &ctx().with_values(amr, ["unauthenticated", "authenticated"])
        ));
        assert!(!holds(&c, &ctx().with_values(amr, ["unauthenticated"])));
        assert!(!holds(&c, &ctx()), "ForAnyValue on a missing key is false");
        assert!(
            !holds(&c, &ctx().with_values(amr, Vec::<String>::new())),
            "…and on an empty set"
        );
        let n = cond("ForAnyValue:StringNotEquals", json!({amr: "a"}));
        assert!(
            holds(&n, &ctx().with_values(amr, ["a", "b"])),
            "one value is not excluded"
        );
        assert!(!holds(&n, &ctx().with_values(amr, ["a"])));
        assert!(!holds(&n, &ctx()));
        let e = cond("ForAnyValue:StringEqualsIfExists", json!({amr: "a"}));
        assert!(
            holds(&e, &ctx()),
            "IfExists turns a missing key true even under ForAnyValue"
        );
    }

    #[test]
    fn for_all_values() {
        let aud = "token.actions.githubusercontent.com:aud";
        let c = cond(
            "ForAllValues:StringEquals",
            json!({aud: ["sts.amazonaws.com", "other"]}),
        );
        assert!(holds(&c, &ctx()), "ForAllValues on a missing key is true");
        assert!(
            holds(&c, &ctx().with_values(aud, Vec::<String>::new())),
            "…and on an empty set"
        );
        assert!(holds(
            &c,
            &ctx().with_values(aud, ["sts.amazonaws.com", "other"])
        ));
        assert!(!holds(
            &c,
            &ctx().with_values(aud, ["sts.amazonaws.com", "evil"])
        ));
        let n = cond("ForAllValues:StringNotLike", json!({aud: "evil*"}));
        assert!(holds(&n, &ctx().with_values(aud, ["a", "b"])));
        assert!(!holds(&n, &ctx().with_values(aud, ["a", "evil-x"])));
    }

    #[test]
    fn plain_operator_on_multivalued_key() {
        let amr = "x:amr";
        let c = cond("StringEquals", json!({amr: "b"}));
        assert!(
            holds(&c, &ctx().with_values(amr, ["a", "b"])),
            "positive: any value"
        );
        let n = cond("StringNotEquals", json!({amr: "b"}));
        assert!(
            !holds(&n, &ctx().with_values(amr, ["a", "b"])),
            "negated: no value may match"
        );
        assert!(holds(&n, &ctx().with_values(amr, ["a", "c"])));
    }

    #[test]
    fn bool_numeric_date_ip_binary() {
        let b = cond("Bool", json!({"aws:SecureTransport": true}));
        assert!(holds(&b, &ctx().with_value("aws:securetransport", "true")));
        assert!(!holds(
            &b,
            &ctx().with_value("aws:SecureTransport", "false")
        ));
        assert!(holds(
            &cond("BoolIfExists", json!({"aws:SecureTransport": "true"})),
            &ctx()
        ));

        let n = cond(
            "NumericLessThanEquals",
            json!({"sts:DurationSeconds": 3600}),
        );
        assert!(holds(&n, &ctx().with_value("sts:DurationSeconds", "900")));
        assert!(holds(&n, &ctx().with_value("sts:DurationSeconds", "3600")));
        assert!(!holds(&n, &ctx().with_value("sts:DurationSeconds", "3601")));
        assert!(!holds(&n, &ctx().with_value("sts:DurationSeconds", "abc")));
        assert!(holds(
            &cond("NumericEquals", json!({"k:n": "1.50"})),
            &ctx().with_value("k:n", "1.5")
        ));
        assert!(holds(
            &cond("NumericNotEquals", json!({"k:n": 2})),
            &ctx().with_value("k:n", "1")
        ));
        assert!(holds(
            &cond("NumericGreaterThan", json!({"k:n": 2})),
            &ctx().with_value("k:n", "3")
        ));
        assert!(!holds(
            &cond("NumericLessThan", json!({"k:n": 2})),
            &ctx().with_value("k:n", "2")
        ));
        assert!(holds(
            &cond("NumericGreaterThanEquals", json!({"k:n": 2})),
            &ctx().with_value("k:n", "2")
        ));

        let d = cond(
            "DateLessThan",
            json!({"aws:CurrentTime": "2027-01-01T00:00:00Z"}),
        );
        assert!(holds(
            &d,
            &ctx().with_value("aws:CurrentTime", "2026-11-28T23:00:00Z")
        ));
        assert!(!holds(
            &d,
            &ctx().with_value("aws:CurrentTime", "2027-01-01T00:00:01Z")
        ));
        assert!(holds(
            &d,
            &ctx().with_value("aws:CurrentTime", "1798761599")
        ));
        assert!(holds(
            &cond("DateGreaterThan", json!({"k:t": "2020-01-01"})),
            &ctx().with_value("k:t", "2020-01-01T00:00:01+00:00")
        ));
        assert!(holds(
            &cond("DateEquals", json!({"k:t": "2020-01-01T02:00:00+02:00"})),
            &ctx().with_value("k:t", "2020-01-01T00:00:00Z")
        ));
        assert!(holds(
            &cond("DateNotEquals", json!({"k:t": "2020-01-01"})),
            &ctx().with_value("k:t", "2020-01-02")
        ));
        assert!(holds(
            &cond("DateLessThanEquals", json!({"k:t": "2020-01-01"})),
            &ctx().with_value("k:t", "1577836800")
        ));
        assert!(holds(
            &cond("DateGreaterThanEquals", json!({"k:t": "2020-01-01"})),
            &ctx().with_value("k:t", "1577836800")
        ));

        let ip = cond(
            "IpAddress",
            json!({"aws:SourceIp": ["10.0.0.0/8", "2001:db8::/32"]}),
        );
        assert!(holds(&ip, &ctx().with_value("aws:SourceIp", "10.1.2.3")));
        assert!(holds(&ip, &ctx().with_value("aws:SourceIp", "2001:db8::1")));
        assert!(!holds(
            &ip,
            &ctx().with_value("aws:SourceIp", "192.168.0.1")
        ));
        assert!(!holds(&ip, &ctx().with_value("aws:SourceIp", "not-an-ip")));
        let nip = cond("NotIpAddress", json!({"aws:SourceIp": "10.0.0.0/8"}));
        assert!(holds(&nip, &ctx().with_value("aws:SourceIp", "11.0.0.1")));
        assert!(!holds(&nip, &ctx().with_value("aws:SourceIp", "10.0.0.1")));
        assert!(holds(
            &cond("IpAddress", json!({"aws:SourceIp": "0.0.0.0/0"})),
            &ctx().with_value("aws:SourceIp", "8.8.8.8")
        ));

        let bin = cond("BinaryEquals", json!({"k:b": "QmluYXJ5"}));
        assert!(holds(&bin, &ctx().with_value("k:b", "QmluYXJ5")));
        assert!(!holds(&bin, &ctx().with_value("k:b", "QmluYXJ6")));
    }

    #[test]
    fn arn_operators_match_per_component() {
        let p = "arn:aws:iam::111122223333:oidc-provider/*";
        let like = cond("ArnLike", json!({"aws:FederatedProvider": p}));
        let arn = "arn:aws:iam::111122223333:oidc-provider/oidc.example.com/id/1";
        assert!(holds(
            &like,
            &ctx().with_value("aws:FederatedProvider", arn)
        ));
        assert!(!holds(
            &like,
            &ctx().with_value(
                "aws:FederatedProvider",
                "arn:aws:iam::999999999999:oidc-provider/x"
            )
        ));
        assert!(!holds(
            &like,
            &ctx().with_value("aws:FederatedProvider", "not-an-arn")
        ));
        // `*` in one component does not swallow the component separator.
        let per = cond("ArnEquals", json!({"k:arn": "arn:aws:iam::*:role/x"}));
        assert!(holds(
            &per,
            &ctx().with_value("k:arn", "arn:aws:iam::123:role/x")
        ));
        assert!(!holds(
            &per,
            &ctx().with_value("k:arn", "arn:aws:iam::1:2:role/x")
        ));
        let not = cond("ArnNotLike", json!({"k:arn": "arn:aws:iam::1:*"}));
        assert!(holds(
            &not,
            &ctx().with_value("k:arn", "arn:aws:iam::2:role/x")
        ));
        assert!(!holds(
            &not,
            &ctx().with_value("k:arn", "arn:aws:iam::1:role/x")
        ));
        let ne = cond("ArnNotEquals", json!({"k:arn": "arn:aws:iam::1:role/x"}));
        assert!(holds(&ne, &ctx()));
    }

    #[test]
    fn policy_variables_are_substituted() {
        let c = cond(
            "StringLike",
            json!({SUB: "system:serviceaccount:${k:ns}:*"}),
        );
        let base = ctx().with_value("K:NS", "team-a");
        assert!(holds(
            &c,
            &base
                .clone()
                .with_value(SUB, "system:serviceaccount:team-a:web")
        ));
        assert!(!holds(
            &c,
            &base.with_value(SUB, "system:serviceaccount:team-b:web")
        ));
        let missing = c.evaluate(&ctx().with_value(SUB, "system:serviceaccount:x:y"));
        assert_eq!(
            missing.err().map(|(_, r)| r),
            Some(FailureReason::UnresolvedVariable {
                variable: "k:ns".into()
            })
        );
    }

    #[test]
    fn substituted_values_are_literal_not_wildcards() {
        let c = cond("StringLike", json!({SUB: "${k:v}"}));
        assert!(!holds(
            &c,
            &ctx().with_value("k:v", "*").with_value(SUB, "anything")
        ));
        assert!(holds(
            &c,
            &ctx().with_value("k:v", "*").with_value(SUB, "*")
        ));
    }

    #[test]
    fn escapes_and_defaults() {
        let star = cond("StringLike", json!({SUB: "a${*}"}));
        assert!(holds(&star, &ctx().with_value(SUB, "a*")));
        assert!(!holds(&star, &ctx().with_value(SUB, "ab")));
        let q = cond("StringEquals", json!({SUB: "${?}${$}"}));
        assert!(holds(&q, &ctx().with_value(SUB, "?$")));
        let d = cond("StringEquals", json!({SUB: "${k:missing, 'fallback'}"}));
        assert!(holds(&d, &ctx().with_value(SUB, "fallback")));
        let unterminated = cond("StringEquals", json!({SUB: "a${b"}));
        assert!(holds(&unterminated, &ctx().with_value(SUB, "a${b")));
    }

    #[test]
    fn negated_operator_with_unresolved_variable_fails_closed() {
        let c = cond("StringNotEquals", json!({SUB: "${k:missing}"}));
        assert!(!holds(&c, &ctx().with_value(SUB, "x")));
    }

    #[test]
    fn variables_are_literal_without_2012_version() {
        let c = match Condition::parse("StringEquals", &json!({SUB: "${k:v}"}), false, "C") {
            Ok(c) => c,
            Err(e) => panic!("{e}"),
        };
        assert!(holds(&c, &ctx().with_value(SUB, "${k:v}")));
        assert!(!holds(
            &c,
            &ctx().with_value("k:v", "x").with_value(SUB, "x")
        ));
    }

    #[test]
    fn date_parser() {
        assert_eq!(parse_date_millis("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_date_millis("1970-01-02"), Some(86_400_000));
        assert_eq!(
            parse_date_millis("2020-02-29T12:00:00.5Z"),
            Some(1_582_977_600_500)
        );
        assert_eq!(parse_date_millis("2020-13-01"), None);
        assert_eq!(parse_date_millis("garbage"), None);
        assert_eq!(parse_date_millis("10"), Some(10_000));
    }

    #[test]
    fn date_parser_rejects_out_of_range_without_overflow() {
        assert_eq!(parse_date_millis("99999999999-01-01"), None);
        assert_eq!(parse_date_millis("2020-01-01T10:-5:00Z"), None);
        assert_eq!(
            parse_date_millis("2020-01-01T10:00:00+99999999999:00"),
            None
        );
        assert!(parse_date_millis("292278993-12-31T23:59:59Z").is_some());
    }

    proptest::proptest! {
        #[test]
        fn date_parser_never_panics(s in "[0-9Tt:.+Zz-]{0,40}") {
            let _ = parse_date_millis(&s);
        }
    }

    #[test]
    fn operator_names_round_trip() {
        for (name, op) in OPERATORS {
            assert_eq!(op.name(), *name);
            assert_eq!(Operator::from_name(name), Some(*op));
        }
    }
}
