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
    let query = form_pairs(uri.query().unwrap_or("").as_bytes());
    for (k, v) in query.chain(form_pairs(body)) {
        if params.contains_key(&k) {
            return Err(AwsError::validation(format!(
                "Parameter {k} appears more than once (in the query string and/or the body)"
            )));
        }
        params.insert(k, v);
    }
    Ok(params)
}

/// The name/value pairs of `application/x-www-form-urlencoded` input, decoded exactly as
/// the URL standard's parser (and so `form_urlencoded` and `serde_urlencoded`) decodes them:
/// empty sequences between `&` skipped, the name up to the first `=`, `+` as a space, `%XX`
/// as a byte and a `%` without two hex digits kept as it is, invalid UTF-8 replaced by
/// U+FFFD. Written out because it is on every STS call's path: a token is a thousand
/// characters with nothing to decode, copied whole here instead of byte by byte
/// (`form_urlencoded::parse` in its place measured 22,000 more instructions per
/// `AssumeRoleWithWebIdentity`, +4.9 %, with `CALLGRIND=1 scripts/bench-local --quick`).
fn form_pairs(input: &[u8]) -> impl Iterator<Item = (String, String)> + '_ {
    input
        .split(|&b| b == b'&')
        .filter(|sequence| !sequence.is_empty())
        .map(|sequence| {
            let (name, value) = match sequence.iter().position(|&b| b == b'=') {
                Some(at) => (&sequence[..at], &sequence[at + 1..]),
                None => (sequence, &[][..]),
            };
            (decode_component(name), decode_component(value))
        })
}

fn decode_component(input: &[u8]) -> String {
    if !input.contains(&b'%') && !input.contains(&b'+') {
        return match std::str::from_utf8(input) {
            Ok(text) => text.to_owned(),
            Err(_) => String::from_utf8_lossy(input).into_owned(),
        };
    }
    let mut out = Vec::with_capacity(input.len());
    let mut rest = input;
    while let Some(at) = rest.iter().position(|&b| b == b'%' || b == b'+') {
        out.extend_from_slice(&rest[..at]);
        let special = &rest[at..];
        if special.first() == Some(&b'+') {
            out.push(b' ');
            rest = &special[1..];
            continue;
        }
        let hex = |i: usize| special.get(i).and_then(|&b| char::from(b).to_digit(16));
        match (hex(1), hex(2)) {
            (Some(high), Some(low)) => {
                // Two hex digits: at most 0xff.
                out.push(u8::try_from(high * 16 + low).unwrap_or(b'%'));
                rest = &special[3..];
            }
            _ => {
                out.push(b'%');
                rest = &special[1..];
            }
        }
    }
    out.extend_from_slice(rest);
    match String::from_utf8(out) {
        Ok(text) => text,
        Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn reference(input: &[u8]) -> Vec<(String, String)> {
        serde_urlencoded::from_bytes(input).expect("serde_urlencoded decodes any input")
    }

    #[test]
    fn decodes_like_the_url_standard() {
        for input in [
            &b"Action=AssumeRoleWithWebIdentity&RoleArn=arn%3Aaws%3Aiam%3A%3A1%3Arole%2Fx"[..],
            b"a=1&&b=&c&=d&e==f&",
            b"k=a+b%20c%2Bd",
            b"k=%&k2=%4&k3=%zz&k4=%4g&k5=%41%",
            b"k=%ff%fe&n%C3%A9=caf%C3%A9&x=%c3",
            b"&&&",
            b"",
            "sessi\u{f3}n=\u{1F600}".as_bytes(),
            b"k=\xff\xfe&\xc3=1",
        ] {
            let ours: Vec<_> = form_pairs(input).collect();
            assert_eq!(
                ours,
                reference(input),
                "{:?}",
                String::from_utf8_lossy(input)
            );
        }
    }

    proptest! {
        #[test]
        fn agrees_with_serde_urlencoded(input in proptest::collection::vec(
            prop_oneof![
                Just(b'%'), Just(b'+'), Just(b'&'), Just(b'='), Just(b'a'), Just(b'F'),
                Just(b'4'), Just(b'1'), Just(0xc3_u8), Just(0xa9_u8), Just(0xff_u8), any::<u8>(),
            ],
            0..64,
        )) {
            let ours: Vec<_> = form_pairs(&input).collect();
            prop_assert_eq!(ours, reference(&input));
        }
    }
}
