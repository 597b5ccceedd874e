//! `irsa local`'s SigV4 verifier on arbitrary `Authorization` headers, presigned query
//! strings, `X-Amz-Date`, `X-Amz-Content-Sha256` and bodies: it answers a verification or
//! an AWS error, never panics, and answers the same request the same way twice.
#![no_main]

use http::header::{AUTHORIZATION, HOST};
use http::{HeaderMap, HeaderValue, Method, Uri};
use irsa_local::sigv4::{MAX_SKEW_SECS, RequestParts, Settings, SigningSecret, verify};
use libfuzzer_sys::fuzz_target;

/// 2015-08-30T12:36:00Z, the date of AWS's SigV4 test suite.
const NOW: i64 = 1_440_938_160;

fuzz_target!(|data: &[u8]| {
    // Lines: Authorization, query string, X-Amz-Date, X-Amz-Content-Sha256, then the body.
    let mut lines = data.splitn(5, |b| *b == b'\n');
    let mut next = || lines.next().unwrap_or_default();
    let (authorization, query, date, content_sha, body) = (next(), next(), next(), next(), next());
    let Ok(query) = std::str::from_utf8(query) else {
        return;
    };
    let Ok(uri) = format!("/?{query}").parse::<Uri>() else {
        return;
    };
    let mut headers = HeaderMap::new();
    headers.insert(HOST, HeaderValue::from_static("127.0.0.1:8787"));
    for (name, value) in [
        (AUTHORIZATION.as_str(), authorization),
        ("x-amz-date", date),
        ("x-amz-content-sha256", content_sha),
    ] {
        if !value.is_empty()
            && let Ok(value) = HeaderValue::from_bytes(value)
        {
            headers.insert(name, value);
        }
    }
    let method = Method::POST;
    let parts = RequestParts {
        method: &method,
        uri: &uri,
        headers: &headers,
        body,
    };
    for service in ["iam", "sts"] {
        let settings = Settings {
            service,
            now: NOW,
            max_skew: MAX_SKEW_SECS,
        };
        let lookup = |key: &str| {
            (key == "AKIDEXAMPLE").then(|| SigningSecret {
                secret_access_key: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY".to_string(),
                session_token: None,
                expiration: None,
            })
        };
        let first = verify(&parts, &settings, lookup);
        assert_eq!(verify(&parts, &settings, lookup), first);
        if let Ok(verified) = first {
            assert_eq!(verified.access_key_id, "AKIDEXAMPLE");
            assert_eq!(verified.service, service);
        }
    }
});
