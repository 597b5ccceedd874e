//! The AWS Query protocol's request side: a request's parameters, parsed once from the
//! query string and the form body, with the raw parts SigV4 needs.
//!
//! Its own module because IAM, STS, authentication and the router all read it, while
//! the router also calls IAM and STS: with the type in the router, the modules formed a
//! cycle.

use std::collections::BTreeMap;

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, Uri};

use crate::xml::AwsError;

/// A parsed AWS Query request: the raw request (for SigV4) and its parameters.
#[derive(Debug, Clone)]
pub struct QueryRequest {
    /// The request ID assigned to this request.
    pub request_id: String,
    /// HTTP method.
    pub method: Method,
    /// URI as received.
    pub uri: Uri,
    /// Headers as received.
    pub headers: HeaderMap,
    /// Raw body.
    pub body: Bytes,
    /// Parameters from the query string and the form body (a name may appear in only one).
    pub params: BTreeMap<String, String>,
}

impl QueryRequest {
    /// A parameter's value.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params.get(name).map(String::as_str)
    }

    /// The `Action`.
    pub fn action(&self) -> &str {
        self.param("Action").unwrap_or_default()
    }

    /// The members of a Query list `Name.member.1`, `Name.member.2`, … in index order.
    pub fn list(&self, name: &str) -> Vec<String> {
        let prefix = format!("{name}.member.");
        let mut items: Vec<(u32, String)> = self
            .params
            .iter()
            .filter_map(|(k, v)| {
                let index = k.strip_prefix(&prefix)?.parse::<u32>().ok()?;
                Some((index, v.clone()))
            })
            .collect();
        items.sort_by_key(|(i, _)| *i);
        items.into_iter().map(|(_, v)| v).collect()
    }

    /// Whether any `Name.member.N` (or `Name` itself, for an explicitly empty list) was sent.
    pub fn has_list(&self, name: &str) -> bool {
        let prefix = format!("{name}.member.");
        self.params
            .keys()
            .any(|k| k == name || k.starts_with(&prefix))
    }

    /// Query-list structures `Name.member.N.Field`, one map per N in index order.
    pub fn struct_list(&self, name: &str) -> Vec<BTreeMap<String, String>> {
        let prefix = format!("{name}.member.");
        let mut items: BTreeMap<u32, BTreeMap<String, String>> = BTreeMap::new();
        for (k, v) in &self.params {
            let Some(rest) = k.strip_prefix(&prefix) else {
                continue;
            };
            let Some((index, field)) = rest.split_once('.') else {
                continue;
            };
            let Ok(index) = index.parse::<u32>() else {
                continue;
            };
            items
                .entry(index)
                .or_default()
                .insert(field.to_string(), v.clone());
        }
        items.into_values().collect()
    }
}

/// The parameters of a Query request, or why it could not even be parsed.
pub fn parse_params(uri: &Uri, body: &[u8]) -> Result<BTreeMap<String, String>, AwsError> {
    let mut params = BTreeMap::new();
    let query: Vec<(String, String)> = serde_urlencoded::from_str(uri.query().unwrap_or(""))
        .map_err(|e| AwsError::validation(format!("The query string is not valid: {e}")))?;
    let form: Vec<(String, String)> = serde_urlencoded::from_bytes(body).map_err(|e| {
        AwsError::validation(format!(
            "The request body is not valid application/x-www-form-urlencoded: {e}"
        ))
    })?;
    for (k, v) in query.into_iter().chain(form) {
        if params.contains_key(&k) {
            return Err(AwsError::validation(format!(
                "Parameter {k} appears more than once (in the query string and/or the body)"
            )));
        }
        params.insert(k, v);
    }
    Ok(params)
}
