//! The AWS Query form parser of `irsa local` (query string and form body) on arbitrary bytes:
//! it never panics, every parameter it returns was sent exactly once, and the list and
//! structure accessors the IAM and STS handlers use never panic on what it returns.
#![no_main]

use http::{HeaderMap, Method, Uri};
use irsa_local::query::{QueryRequest, parse_params};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // The first line is the query string, the rest the body.
    let (query, body) = match data.iter().position(|b| *b == b'\n') {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (&[][..], data),
    };
    let Ok(query) = std::str::from_utf8(query) else {
        return;
    };
    let Ok(uri) = format!("/?{query}").parse::<Uri>() else {
        return;
    };
    let Ok(params) = parse_params(&uri, body) else {
        return;
    };
    // Deterministic: the same request parses to the same parameters.
    assert_eq!(parse_params(&uri, body).ok().as_ref(), Some(&params));
    let request = QueryRequest {
        request_id: "fuzz".to_string(),
        method: Method::POST,
        uri,
        headers: HeaderMap::new(),
        body: bytes::Bytes::copy_from_slice(body),
        params,
    };
    let _ = request.action();
    for name in ["ClientIDList", "ThumbprintList", "Tags", "TagKeys", "PolicyArns"] {
        let items = request.list(name);
        assert!(items.len() <= request.params.len());
        assert!(request.has_list(name) || items.is_empty());
        let _ = request.struct_list(name);
    }
});
