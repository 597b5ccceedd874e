//! Server-side AWS Signature Version 4 verification.
//!
//! The signed IAM and STS calls (`GetCallerIdentity`) must be verified as AWS does, or a
//! client that signs wrongly (a dropped port in `Host`, a re-encoded body) passes here and
//! fails in AWS. The canonical request is built here from the request exactly as
//! received: only the headers named in `SignedHeaders`, `Host` with its port, the
//! canonical query from the URL only, and the SHA-256 of the raw body bytes (an
//! `x-amz-content-sha256` header must equal it: it is checked, not trusted). The
//! signature comparison is constant-time. Both the `Authorization` header form and the
//! presigned query form (`X-Amz-Signature=…`) are accepted; a presigned URL's
//! `X-Amz-Expires` must lie in AWS's 1..=604800 seconds and all time arithmetic
//! saturates, so no client-chosen number can wrap into a valid window.

use std::fmt::Write as _;

use aws_lc_rs::{constant_time, digest, hmac};
use http::{HeaderMap, Method, StatusCode, Uri};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};

use crate::xml::AwsError;

const ALGORITHM: &str = "AWS4-HMAC-SHA256";
/// The `x-amz-content-sha256` value of an unsigned body (S3 only).
const UNSIGNED_PAYLOAD: &str = "UNSIGNED-PAYLOAD";
const TERMINATOR: &str = "aws4_request";

/// RFC 3986 unreserved characters stay as they are; everything else is `%XX`.
const UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');
/// Same, but `/` is kept (canonical URI).
const UNRESERVED_PATH: &AsciiSet = &UNRESERVED.remove(b'/');

/// Why a request's signature was not accepted. Each maps to the AWS error a client sees.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SigV4Error {
    /// No `Authorization` header and no presigned query parameters.
    #[error("Request is missing Authentication Token")]
    Missing,
    /// The authorization information is present but incomplete or malformed.
    #[error("{0}")]
    Incomplete(String),
    /// The access key is not known (or the session token does not belong to it).
    #[error("The security token included in the request is invalid.")]
    InvalidClientTokenId,
    /// The session behind the access key has expired.
    #[error("The security token included in the request is expired")]
    ExpiredToken,
    /// The signature, its scope or its time does not match.
    #[error("{0}")]
    Mismatch(String),
    /// `x-amz-content-sha256` is not the SHA-256 of the body received (or is
    /// `UNSIGNED-PAYLOAD` where only signed bodies are accepted).
    #[error("The provided 'x-amz-content-sha256' header does not match what was computed.")]
    ContentSha256Mismatch {
        /// The header's value.
        asserted: String,
        /// The SHA-256 of the body received.
        computed: String,
        /// S3 names this error itself; IAM and STS answer `SignatureDoesNotMatch`.
        s3_style: bool,
    },
}

/// The text AWS sends for a wrong signature.
pub const SIGNATURE_MISMATCH_MESSAGE: &str = "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.";

impl SigV4Error {
    /// The AWS error (code, status, message) for this failure.
    pub fn to_aws_error(&self) -> AwsError {
        let message = self.to_string();
        match self {
            Self::Missing => {
                AwsError::new(StatusCode::FORBIDDEN, "MissingAuthenticationToken", message)
            }
            Self::Incomplete(_) => {
                AwsError::new(StatusCode::BAD_REQUEST, "IncompleteSignature", message)
            }
            Self::InvalidClientTokenId => {
                AwsError::new(StatusCode::FORBIDDEN, "InvalidClientTokenId", message)
            }
            Self::ExpiredToken => AwsError::new(StatusCode::FORBIDDEN, "ExpiredToken", message),
            Self::Mismatch(_) => {
                AwsError::new(StatusCode::FORBIDDEN, "SignatureDoesNotMatch", message)
            }
            Self::ContentSha256Mismatch { s3_style: true, .. } => AwsError::new(
                StatusCode::BAD_REQUEST,
                "XAmzContentSHA256Mismatch",
                message,
            ),
            Self::ContentSha256Mismatch { .. } => AwsError::new(
                StatusCode::FORBIDDEN,
                "SignatureDoesNotMatch",
                SIGNATURE_MISMATCH_MESSAGE,
            ),
        }
    }
}

/// The secret behind an access key, as the caller's store knows it.
#[derive(Debug, Clone)]
pub struct SigningSecret {
    /// The secret access key.
    pub secret_access_key: String,
    /// For temporary credentials: the session token the request must carry in
    /// `X-Amz-Security-Token`. `None` for long-term keys.
    pub session_token: Option<String>,
    /// For temporary credentials: expiry, UNIX seconds.
    pub expiration: Option<i64>,
}

/// What a verified signature establishes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// The access key ID that signed.
    pub access_key_id: String,
    /// The region of the credential scope.
    pub region: String,
    /// The service of the credential scope.
    pub service: String,
}

/// The parts of a request the verifier needs.
#[derive(Debug, Clone, Copy)]
pub struct RequestParts<'a> {
    /// HTTP method.
    pub method: &'a Method,
    /// Request URI as received (path and query, maybe authority).
    pub uri: &'a Uri,
    /// Request headers as received (the signed ones are canonicalised from these).
    pub headers: &'a HeaderMap,
    /// Raw body bytes.
    pub body: &'a [u8],
}

/// How far a request's `X-Amz-Date` may be from the server's clock, seconds: AWS's
/// five-minute SigV4 window (a request-signing rule, unrelated to the token leeway).
pub const MAX_SKEW_SECS: i64 = 300;

/// Verification settings.
#[derive(Debug, Clone, Copy)]
pub struct Settings<'a> {
    /// The service the credential scope must name (`iam`, `sts`).
    pub service: &'a str,
    /// Current time, UNIX seconds.
    pub now: i64,
    /// Allowed clock skew in seconds (AWS: [`MAX_SKEW_SECS`]).
    pub max_skew: i64,
}

struct Authorization {
    access_key_id: String,
    date: String,
    region: String,
    service: String,
    terminator: String,
    signed_headers: Vec<String>,
    signature: String,
    amz_date: String,
    session_token: Option<String>,
    presigned: Option<PresignedQuery>,
}

struct PresignedQuery {
    expires: i64,
}

fn header_str<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

fn decode(s: &str) -> String {
    percent_decode_str(s).decode_utf8_lossy().into_owned()
}

fn query_pairs(uri: &Uri) -> Vec<(String, String)> {
    uri.query()
        .unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((k, v)) => (decode(k), decode(v)),
            None => (decode(p), String::new()),
        })
        .collect()
}

fn parse_credential(credential: &str) -> Result<[String; 5], SigV4Error> {
    let parts: Vec<&str> = credential.split('/').collect();
    match parts.as_slice() {
        [a, b, c, d, e] => Ok([a, b, c, d, e].map(|s| (*s).to_string())),
        _ => Err(SigV4Error::Incomplete(format!(
            "Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, got '{credential}'"
        ))),
    }
}

/// A signature's fields as carried, in the `Authorization` header or in a presigned URL's
/// query string; [`into_authorization`](Self::into_authorization) reads both the same way.
struct SignatureFields<'a> {
    credential: &'a str,
    signed_headers: &'a str,
    signature: &'a str,
    amz_date: &'a str,
    session_token: Option<&'a str>,
    presigned: Option<PresignedQuery>,
}

impl SignatureFields<'_> {
    fn into_authorization(self) -> Result<Authorization, SigV4Error> {
        let [access_key_id, date, region, service, terminator] = parse_credential(self.credential)?;
        Ok(Authorization {
            access_key_id,
            date,
            region,
            service,
            terminator,
            signed_headers: self
                .signed_headers
                .split(';')
                .map(str::to_ascii_lowercase)
                .collect(),
            signature: self.signature.to_owned(),
            amz_date: self.amz_date.to_owned(),
            session_token: self.session_token.map(str::to_owned),
            presigned: self.presigned,
        })
    }
}

fn check_algorithm(algorithm: &str) -> Result<(), SigV4Error> {
    if algorithm == ALGORITHM {
        Ok(())
    } else {
        Err(SigV4Error::Incomplete(format!(
            "Unsupported AWS 'algorithm': '{algorithm}'"
        )))
    }
}

fn parse_header_auth(value: &str, headers: &HeaderMap) -> Result<Authorization, SigV4Error> {
    let (algorithm, rest) = value.trim().split_once(' ').unwrap_or((value.trim(), ""));
    check_algorithm(algorithm)?;
    let mut credential = None;
    let mut signed_headers = None;
    let mut signature = None;
    for item in rest.split(',') {
        let item = item.trim();
        if let Some((k, v)) = item.split_once('=') {
            match k.trim() {
                "Credential" => credential = Some(v.trim()),
                "SignedHeaders" => signed_headers = Some(v.trim()),
                "Signature" => signature = Some(v.trim()),
                _ => {}
            }
        }
    }
    let mut missing = Vec::new();
    for (name, present) in [
        ("Credential", credential.is_some()),
        ("Signature", signature.is_some()),
        ("SignedHeaders", signed_headers.is_some()),
    ] {
        if !present {
            missing.push(format!("Authorization header requires '{name}' parameter."));
        }
    }
    let amz_date = header_str(headers, "x-amz-date").or_else(|| header_str(headers, "date"));
    if amz_date.is_none() {
        missing.push(
            "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header."
                .to_string(),
        );
    }
    if !missing.is_empty() {
        return Err(SigV4Error::Incomplete(format!(
            "{} Authorization={value}",
            missing.join(" ")
        )));
    }
    SignatureFields {
        credential: credential.unwrap_or_default(),
        signed_headers: signed_headers.unwrap_or_default(),
        signature: signature.unwrap_or_default(),
        amz_date: amz_date.unwrap_or_default(),
        session_token: header_str(headers, "x-amz-security-token"),
        presigned: None,
    }
    .into_authorization()
}

fn parse_query_auth(pairs: &[(String, String)]) -> Result<Authorization, SigV4Error> {
    let get = |name: &str| {
        pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    check_algorithm(get("X-Amz-Algorithm").unwrap_or_default())?;
    let mut missing = Vec::new();
    for name in [
        "X-Amz-Credential",
        "X-Amz-Signature",
        "X-Amz-SignedHeaders",
        "X-Amz-Date",
    ] {
        if get(name).is_none() {
            missing.push(format!(
                "AWS query-string parameters must include '{name}'."
            ));
        }
    }
    if !missing.is_empty() {
        return Err(SigV4Error::Incomplete(missing.join(" ")));
    }
    let expires = get("X-Amz-Expires")
        .map(parse_expires)
        .transpose()?
        .unwrap_or(DEFAULT_PRESIGNED_EXPIRES);
    SignatureFields {
        credential: get("X-Amz-Credential").unwrap_or_default(),
        signed_headers: get("X-Amz-SignedHeaders").unwrap_or_default(),
        signature: get("X-Amz-Signature").unwrap_or_default(),
        amz_date: get("X-Amz-Date").unwrap_or_default(),
        session_token: get("X-Amz-Security-Token"),
        presigned: Some(PresignedQuery { expires }),
    }
    .into_authorization()
}

/// `X-Amz-Expires` when a presigned URL omits it (AWS SDK default).
const DEFAULT_PRESIGNED_EXPIRES: i64 = 900;
/// AWS accepts presigned URLs valid for at most a week.
const MAX_PRESIGNED_EXPIRES: i64 = 604_800;

/// `X-Amz-Expires` in 1..=604800 seconds, with AWS's messages outside it. Digits beyond
/// `i64` are "more than a week", not a parse error, and never wrap.
fn parse_expires(v: &str) -> Result<i64, SigV4Error> {
    let too_long = || {
        SigV4Error::Incomplete(format!(
            "X-Amz-Expires must be less than a week (in seconds) that is; {MAX_PRESIGNED_EXPIRES}"
        ))
    };
    if let Some(digits) = v.strip_prefix('-')
        && !digits.is_empty()
        && digits.bytes().all(|b| b.is_ascii_digit())
    {
        return Err(SigV4Error::Incomplete(
            "X-Amz-Expires must be non-negative".into(),
        ));
    }
    if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
        return Err(SigV4Error::Incomplete(format!(
            "X-Amz-Expires should be a number, got '{v}'"
        )));
    }
    match v.parse::<i64>() {
        Ok(0) => Err(SigV4Error::Incomplete(
            "X-Amz-Expires must be at least 1 second".into(),
        )),
        Ok(n) if n <= MAX_PRESIGNED_EXPIRES => Ok(n),
        _ => Err(too_long()),
    }
}

/// Parses `YYYYMMDDTHHMMSSZ` into UNIX seconds.
pub fn parse_amz_date(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() != 16 || b[8] != b'T' || b[15] != b'Z' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| s.get(r)?.parse::<i64>().ok();
    let (y, mo, d) = (num(0..4)?, num(4..6)?, num(6..8)?);
    let (h, mi, se) = (num(9..11)?, num(11..13)?, num(13..15)?);
    let dt = jiff::civil::DateTime::new(
        i16::try_from(y).ok()?,
        i8::try_from(mo).ok()?,
        i8::try_from(d).ok()?,
        i8::try_from(h).ok()?,
        i8::try_from(mi).ok()?,
        i8::try_from(se).ok()?,
        0,
    )
    .ok()?;
    Some(
        dt.to_zoned(jiff::tz::TimeZone::UTC)
            .ok()?
            .timestamp()
            .as_second(),
    )
}

/// Formats UNIX seconds as `YYYYMMDDTHHMMSSZ`.
pub fn format_amz_date(t: i64) -> String {
    match jiff::Timestamp::from_second(t) {
        Ok(ts) => ts.strftime("%Y%m%dT%H%M%SZ").to_string(),
        Err(_) => t.to_string(),
    }
}

fn canonical_header_value(values: Vec<&str>) -> String {
    values
        .iter()
        .map(|v| v.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect::<Vec<_>>()
        .join(",")
}

/// Builds the canonical request of SigV4 from the request as received.
fn canonical_request(
    parts: &RequestParts<'_>,
    signed_headers: &[String],
    payload_hash: &str,
    presigned: bool,
) -> String {
    let mut out = String::with_capacity(512);
    out.push_str(parts.method.as_str());
    out.push('\n');
    let path = parts.uri.path();
    let path = if path.is_empty() { "/" } else { path };
    let _ = write!(out, "{}", utf8_percent_encode(path, UNRESERVED_PATH));
    out.push('\n');
    let mut query: Vec<(String, String)> = query_pairs(parts.uri)
        .into_iter()
        .filter(|(k, _)| !(presigned && k == "X-Amz-Signature"))
        .map(|(k, v)| {
            (
                utf8_percent_encode(&k, UNRESERVED).to_string(),
                utf8_percent_encode(&v, UNRESERVED).to_string(),
            )
        })
        .collect();
    query.sort();
    let query: Vec<String> = query.into_iter().map(|(k, v)| format!("{k}={v}")).collect();
    out.push_str(&query.join("&"));
    out.push('\n');
    for name in signed_headers {
        let mut values: Vec<&str> = parts
            .headers
            .get_all(name.as_str())
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect();
        if values.is_empty()
            && name == "host"
            && let Some(authority) = parts.uri.authority()
        {
            values.push(authority.as_str());
        }
        let _ = writeln!(out, "{name}:{}", canonical_header_value(values));
    }
    out.push('\n');
    out.push_str(&signed_headers.join(";"));
    out.push('\n');
    out.push_str(payload_hash);
    out
}

fn hmac_sha256(key: &[u8], data: &[u8]) -> Vec<u8> {
    let key = hmac::Key::new(hmac::HMAC_SHA256, key);
    hmac::sign(&key, data).as_ref().to_vec()
}

/// Computes the SigV4 signature (lowercase hex) for a string to sign.
pub fn signature(
    secret: &str,
    date: &str,
    region: &str,
    service: &str,
    string_to_sign: &str,
) -> String {
    let k_date = hmac_sha256(format!("AWS4{secret}").as_bytes(), date.as_bytes());
    let k_region = hmac_sha256(&k_date, region.as_bytes());
    let k_service = hmac_sha256(&k_region, service.as_bytes());
    let k_signing = hmac_sha256(&k_service, TERMINATOR.as_bytes());
    hex::encode(hmac_sha256(&k_signing, string_to_sign.as_bytes()))
}

/// Verifies the SigV4 signature of a request.
///
/// `lookup` maps an access key ID to its secret (and, for temporary credentials, the
/// session token and expiry); `None` means the key is unknown.
pub fn verify(
    parts: &RequestParts<'_>,
    settings: &Settings<'_>,
    lookup: impl FnOnce(&str) -> Option<SigningSecret>,
) -> Result<Verified, SigV4Error> {
    let query = query_pairs(parts.uri);
    let auth = if let Some(value) = parts.headers.get(http::header::AUTHORIZATION) {
        let value = value
            .to_str()
            .map_err(|_| SigV4Error::Incomplete("Authorization header is not ASCII.".into()))?;
        parse_header_auth(value, parts.headers)?
    } else if query
        .iter()
        .any(|(k, _)| k == "X-Amz-Algorithm" || k == "X-Amz-Signature")
    {
        parse_query_auth(&query)?
    } else {
        return Err(SigV4Error::Missing);
    };

    if !auth.signed_headers.iter().any(|h| h == "host") {
        return Err(SigV4Error::Incomplete(
            "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.".into(),
        ));
    }
    let request_time = parse_amz_date(&auth.amz_date).ok_or_else(|| {
        SigV4Error::Incomplete(format!(
            "Date must be in ISO-8601 'basic format'. Got '{}'. See http://en.wikipedia.org/wiki/ISO_8601",
            auth.amz_date
        ))
    })?;
    if auth.date != auth.amz_date.get(0..8).unwrap_or_default() {
        return Err(SigV4Error::Mismatch(format!(
            "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '{}' != '{}', from '{}'.",
            auth.date,
            auth.amz_date.get(0..8).unwrap_or_default(),
            auth.amz_date
        )));
    }
    if auth.terminator != TERMINATOR {
        return Err(SigV4Error::Mismatch(format!(
            "Credential should be scoped with a valid terminator: '{TERMINATOR}', not '{}'.",
            auth.terminator
        )));
    }
    if auth.region.is_empty() {
        return Err(SigV4Error::Mismatch(
            "Credential should be scoped to a valid region, not ''. ".into(),
        ));
    }
    if auth.service != settings.service {
        return Err(SigV4Error::Mismatch(format!(
            "Credential should be scoped to correct service: '{}'. ",
            settings.service
        )));
    }

    let secret = lookup(&auth.access_key_id).ok_or(SigV4Error::InvalidClientTokenId)?;
    if let Some(expected) = &secret.session_token {
        let sent = auth.session_token.as_deref().unwrap_or_default();
        if constant_time::verify_slices_are_equal(sent.as_bytes(), expected.as_bytes()).is_err() {
            return Err(SigV4Error::InvalidClientTokenId);
        }
    }
    if let Some(expiration) = secret.expiration
        && expiration <= settings.now
    {
        return Err(SigV4Error::ExpiredToken);
    }

    // Saturating: no time or duration a client sends can wrap around into the window.
    let earliest = settings.now.saturating_sub(settings.max_skew);
    let latest = settings.now.saturating_add(settings.max_skew);
    match &auth.presigned {
        None => {
            if request_time < earliest {
                return Err(SigV4Error::Mismatch(format!(
                    "Signature expired: {} is now earlier than {} ({} - {} min.)",
                    auth.amz_date,
                    format_amz_date(earliest),
                    format_amz_date(settings.now),
                    settings.max_skew / 60
                )));
            }
            if request_time > latest {
                return Err(SigV4Error::Mismatch(format!(
                    "Signature not yet current: {} is still later than {} ({} + {} min.)",
                    auth.amz_date,
                    format_amz_date(latest),
                    format_amz_date(settings.now),
                    settings.max_skew / 60
                )));
            }
        }
        Some(p) => {
            let valid_until = request_time.saturating_add(p.expires);
            if valid_until < settings.now {
                return Err(SigV4Error::Mismatch(format!(
                    "Signature expired: {} is now earlier than {}",
                    format_amz_date(valid_until),
                    format_amz_date(settings.now)
                )));
            }
            if request_time > latest {
                return Err(SigV4Error::Mismatch(format!(
                    "Signature not yet current: {} is still later than {}",
                    auth.amz_date,
                    format_amz_date(latest)
                )));
            }
        }
    }

    // The body is bound by the hash of the bytes received. `x-amz-content-sha256` is the
    // client's assertion of that hash: checked, never trusted (trusting it let a captured
    // signature carry another body). Only S3 accepts an unsigned payload.
    let body_hash = hex::encode(digest::digest(&digest::SHA256, parts.body));
    let s3_style = settings.service == "s3";
    let payload_hash = match header_str(parts.headers, "x-amz-content-sha256") {
        Some(UNSIGNED_PAYLOAD) if s3_style => UNSIGNED_PAYLOAD.to_owned(),
        Some(asserted) if asserted != body_hash => {
            return Err(SigV4Error::ContentSha256Mismatch {
                asserted: asserted.to_owned(),
                computed: body_hash,
                s3_style,
            });
        }
        _ => body_hash,
    };
    let canonical = canonical_request(
        parts,
        &auth.signed_headers,
        &payload_hash,
        auth.presigned.is_some(),
    );
    let scope = format!(
        "{}/{}/{}/{TERMINATOR}",
        auth.date, auth.region, auth.service
    );
    let string_to_sign = format!(
        "{ALGORITHM}\n{}\n{scope}\n{}",
        auth.amz_date,
        hex::encode(digest::digest(&digest::SHA256, canonical.as_bytes()))
    );
    let expected = signature(
        &secret.secret_access_key,
        &auth.date,
        &auth.region,
        &auth.service,
        &string_to_sign,
    );
    let provided = auth.signature.to_ascii_lowercase();
    constant_time::verify_slices_are_equal(expected.as_bytes(), provided.as_bytes())
        .map_err(|_| SigV4Error::Mismatch(SIGNATURE_MISMATCH_MESSAGE.into()))?;
    Ok(Verified {
        access_key_id: auth.access_key_id,
        region: auth.region,
        service: auth.service,
    })
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use aws_credential_types::Credentials;
    use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
    use aws_sigv4::sign::v4;

    use super::*;

    const NOW: i64 = 1_764_365_789; // 2025-11-28T21:36:29Z

    fn signed(
        body: &str,
        uri: &str,
        service: &str,
        token: Option<&str>,
        secret: &str,
        at: i64,
    ) -> http::Request<String> {
        let mut req = http::Request::builder()
            .method("POST")
            .uri(uri)
            .header("host", "127.0.0.1:8787")
            .header(
                "content-type",
                "application/x-www-form-urlencoded; charset=utf-8",
            )
            .body(body.to_string())
            .expect("request");
        let identity =
            Credentials::new("AKIDEXAMPLE", secret, token.map(str::to_string), None, "t").into();
        let time = UNIX_EPOCH + Duration::from_secs(u64::try_from(at).expect("positive"));
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region("us-east-1")
            .name(service)
            .time(time)
            .settings(SigningSettings::default())
            .build()
            .expect("params")
            .into();
        let headers: Vec<(String, String)> = req
            .headers()
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_str().expect("ascii").to_string()))
            .collect();
        let signable = SignableRequest::new(
            "POST",
            uri,
            headers.iter().map(|(k, v)| (k.as_str(), v.as_str())),
            SignableBody::Bytes(body.as_bytes()),
        )
        .expect("signable");
        let (instructions, _) = sign(signable, &params).expect("sign").into_parts();
        instructions.apply_to_request_http1x(&mut req);
        req
    }

    fn check(
        req: &http::Request<String>,
        service: &str,
        now: i64,
        secret: SigningSecret,
    ) -> Result<Verified, SigV4Error> {
        let parts = RequestParts {
            method: req.method(),
            uri: req.uri(),
            headers: req.headers(),
            body: req.body().as_bytes(),
        };
        verify(
            &parts,
            &Settings {
                service,
                now,
                max_skew: 300,
            },
            |akid| (akid == "AKIDEXAMPLE").then_some(secret),
        )
    }

    fn long_term(secret: &str) -> SigningSecret {
        SigningSecret {
            secret_access_key: secret.into(),
            session_token: None,
            expiration: None,
        }
    }

    const BODY: &str = "Action=ListRoles&Version=2010-05-08";
    const URI: &str = "http://127.0.0.1:8787/";

    /// A captured signed `GetRole` resent with another body and the old body's hash in
    /// `x-amz-content-sha256` must not verify (it did while the header was trusted), and
    /// IAM/STS refuse `UNSIGNED-PAYLOAD`.
    #[test]
    fn the_signature_binds_the_body_received() {
        let get = "Action=GetRole&RoleName=victim&Version=2010-05-08";
        let hash = hex::encode(digest::digest(&digest::SHA256, get.as_bytes()));
        let sign_with = |header: &str| {
            let mut req = signed_with_header(get, "x-amz-content-sha256", header);
            *req.body_mut() = "Action=DeleteRole&RoleName=victim&Version=2010-05-08".into();
            req
        };
        let secret = || SigningSecret {
            secret_access_key: "secret".into(),
            session_token: None,
            expiration: None,
        };
        // Untampered, the asserted hash is the body's: accepted.
        let good = signed_with_header(get, "x-amz-content-sha256", &hash);
        assert!(check(&good, "iam", NOW, secret()).is_ok());
        for header in [hash.as_str(), "UNSIGNED-PAYLOAD"] {
            let err = check(&sign_with(header), "iam", NOW, secret()).unwrap_err();
            assert!(
                matches!(
                    err,
                    SigV4Error::ContentSha256Mismatch {
                        s3_style: false,
                        ..
                    }
                ),
                "{err:?}"
            );
            let aws = err.to_aws_error();
            assert_eq!(aws.code, "SignatureDoesNotMatch");
            assert_eq!(aws.status, StatusCode::FORBIDDEN);
        }
        let s3 = SigV4Error::ContentSha256Mismatch {
            asserted: String::new(),
            computed: String::new(),
            s3_style: true,
        };
        assert_eq!(s3.to_aws_error().code, "XAmzContentSHA256Mismatch");
    }

    fn signed_with_header(body: &str, name: &str, value: &str) -> http::Request<String> {
        let uri = "http://127.0.0.1:8787/";
        let mut req = http::Request::builder()
            .method("POST")
            .uri(uri)
            .header("host", "127.0.0.1:8787")
            .header(
                "content-type",
                "application/x-www-form-urlencoded; charset=utf-8",
            )
            .header(name, value)
            .body(body.to_string())
            .expect("request");
        let identity = Credentials::new("AKIDEXAMPLE", "secret", None, None, "t").into();
        let time = UNIX_EPOCH + Duration::from_secs(u64::try_from(NOW).expect("positive"));
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region("us-east-1")
            .name("iam")
            .time(time)
            .settings(SigningSettings::default())
            .build()
            .expect("params")
            .into();
        let headers: Vec<(String, String)> = req
            .headers()
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_str().expect("ascii").to_string()))
            .collect();
        let signable = SignableRequest::new(
            "POST",
            uri,
            headers.iter().map(|(k, v)| (k.as_str(), v.as_str())),
            // What the client's signature covered: the header's claim about the body.
            if value == "UNSIGNED-PAYLOAD" {
                SignableBody::UnsignedPayload
            } else {
                SignableBody::Bytes(body.as_bytes())
            },
        )
        .expect("signable");
        let (instructions, _) = sign(signable, &params).expect("sign").into_parts();
        instructions.apply_to_request_http1x(&mut req);
        req
    }

    #[test]
    fn accepts_aws_sigv4_signed_request() {
        let req = signed(BODY, URI, "iam", None, "secret", NOW);
        let v = check(&req, "iam", NOW + 10, long_term("secret")).expect("valid");
        assert_eq!(v.access_key_id, "AKIDEXAMPLE");
        assert_eq!(v.region, "us-east-1");
    }

    #[test]
    fn accepts_query_string_with_encoding() {
        let uri =
            "http://127.0.0.1:8787/?Action=ListRoles&PathPrefix=%2Fa%20b%2F&Version=2010-05-08";
        let req = signed("", uri, "iam", None, "secret", NOW);
        check(&req, "iam", NOW, long_term("secret")).expect("valid");
    }

    #[test]
    fn wrong_secret_is_signature_mismatch() {
        let req = signed(BODY, URI, "iam", None, "other", NOW);
        let err = check(&req, "iam", NOW, long_term("secret")).expect_err("bad");
        assert_eq!(err, SigV4Error::Mismatch(SIGNATURE_MISMATCH_MESSAGE.into()));
        assert_eq!(err.to_aws_error().code, "SignatureDoesNotMatch");
        assert_eq!(err.to_aws_error().status, StatusCode::FORBIDDEN);
    }

    #[test]
    fn tampered_body_or_host_port_is_rejected() {
        let mut req = signed(BODY, URI, "iam", None, "secret", NOW);
        *req.body_mut() = "Action=ListRoles&Version=2010-05-09".into();
        assert!(matches!(
            check(&req, "iam", NOW, long_term("secret")),
            Err(SigV4Error::Mismatch(_))
        ));
        let mut req = signed(BODY, URI, "iam", None, "secret", NOW);
        req.headers_mut()
            .insert("host", http::HeaderValue::from_static("127.0.0.1"));
        assert!(matches!(
            check(&req, "iam", NOW, long_term("secret")),
            Err(SigV4Error::Mismatch(_))
        ));
    }

    #[test]
    fn unsigned_extra_headers_are_ignored() {
        let mut req = signed(BODY, URI, "iam", None, "secret", NOW);
        req.headers_mut()
            .insert("user-agent", http::HeaderValue::from_static("x"));
        req.headers_mut().insert(
            "amz-sdk-request",
            http::HeaderValue::from_static("attempt=1"),
        );
        check(&req, "iam", NOW, long_term("secret")).expect("valid");
    }

    #[test]
    fn skew_is_five_minutes() {
        let req = signed(BODY, URI, "iam", None, "secret", NOW);
        check(&req, "iam", NOW + 300, long_term("secret")).expect("at the edge");
        let err = check(&req, "iam", NOW + 301, long_term("secret")).expect_err("late");
        let SigV4Error::Mismatch(msg) = err else {
            panic!("wrong error {err:?}")
        };
        assert!(
            msg.starts_with("Signature expired: 20251128T213629Z is now earlier than"),
            "{msg}"
        );
        let err = check(&req, "iam", NOW - 301, long_term("secret")).expect_err("early");
        assert!(
            err.to_string().starts_with("Signature not yet current"),
            "{err}"
        );
    }

    #[test]
    fn wrong_service_scope() {
        let req = signed(BODY, URI, "sts", None, "secret", NOW);
        let err = check(&req, "iam", NOW, long_term("secret")).expect_err("scope");
        assert_eq!(
            err.to_string(),
            "Credential should be scoped to correct service: 'iam'. "
        );
    }

    #[test]
    fn unknown_key_and_missing_auth() {
        let req = signed(BODY, URI, "iam", None, "secret", NOW);
        let parts = RequestParts {
            method: req.method(),
            uri: req.uri(),
            headers: req.headers(),
            body: req.body().as_bytes(),
        };
        let settings = Settings {
            service: "iam",
            now: NOW,
            max_skew: 300,
        };
        assert_eq!(
            verify(&parts, &settings, |_| None),
            Err(SigV4Error::InvalidClientTokenId)
        );
        let empty = HeaderMap::new();
        let parts = RequestParts {
            headers: &empty,
            ..parts
        };
        let err = verify(&parts, &settings, |_| None).expect_err("missing");
        assert_eq!(err, SigV4Error::Missing);
        assert_eq!(err.to_aws_error().code, "MissingAuthenticationToken");
    }

    #[test]
    fn session_token_must_match_and_not_be_expired() {
        let session = |exp| SigningSecret {
            secret_access_key: "secret".into(),
            session_token: Some("TOKEN".into()),
            expiration: Some(exp),
        };
        let req = signed(BODY, URI, "sts", Some("TOKEN"), "secret", NOW);
        check(&req, "sts", NOW, session(NOW + 60)).expect("valid session");
        assert_eq!(
            check(&req, "sts", NOW, session(NOW - 1)),
            Err(SigV4Error::ExpiredToken)
        );
        let req = signed(BODY, URI, "sts", Some("OTHER"), "secret", NOW);
        assert_eq!(
            check(&req, "sts", NOW, session(NOW + 60)),
            Err(SigV4Error::InvalidClientTokenId)
        );
        let req = signed(BODY, URI, "sts", None, "secret", NOW);
        assert_eq!(
            check(&req, "sts", NOW, session(NOW + 60)),
            Err(SigV4Error::InvalidClientTokenId)
        );
    }

    #[test]
    fn garbled_authorization_is_incomplete() {
        let mut req = signed(BODY, URI, "iam", None, "secret", NOW);
        req.headers_mut().insert(
            "authorization",
            http::HeaderValue::from_static(
                "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20251128/us-east-1/iam/aws4_request",
            ),
        );
        let err = check(&req, "iam", NOW, long_term("secret")).expect_err("incomplete");
        assert_eq!(err.to_aws_error().code, "IncompleteSignature");
        assert!(err.to_string().contains("'Signature'"), "{err}");
    }

    /// A GET presigned by aws-sigv4 at `time` for `expires` in `region`.
    fn presigned(expires: Duration, region: &str, time: i64) -> http::Request<String> {
        let uri = "http://127.0.0.1:8787/?Action=GetCallerIdentity&Version=2011-06-15";
        let mut req = http::Request::builder()
            .method("GET")
            .uri(uri)
            .header("host", "127.0.0.1:8787")
            .body(String::new())
            .expect("request");
        let identity = Credentials::new("AKIDEXAMPLE", "secret", None, None, "t").into();
        let mut settings = SigningSettings::default();
        settings.signature_location = aws_sigv4::http_request::SignatureLocation::QueryParams;
        settings.expires_in = Some(expires);
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(region)
            .name("sts")
            .time(UNIX_EPOCH + Duration::from_secs(u64::try_from(time).expect("positive")))
            .settings(settings)
            .build()
            .expect("params")
            .into();
        let signable = SignableRequest::new(
            "GET",
            uri,
            [("host", "127.0.0.1:8787")].into_iter(),
            SignableBody::Bytes(b""),
        )
        .expect("signable");
        let (instructions, _) = sign(signable, &params).expect("sign").into_parts();
        instructions.apply_to_request_http1x(&mut req);
        req
    }

    #[test]
    fn presigned_expiry_is_one_second_to_a_week() {
        let week = 604_800;
        check(
            &presigned(Duration::from_secs(week), "us-east-1", NOW),
            "sts",
            NOW + 10,
            long_term("secret"),
        )
        .expect("a week is allowed");
        check(
            &presigned(Duration::from_secs(1), "us-east-1", NOW),
            "sts",
            NOW,
            long_term("secret"),
        )
        .expect("one second is allowed");
        // Out of range, including values that overflowed the old `request_time + expires`.
        for expires in [
            week + 1,
            31_536_000_000,
            9_223_372_036_854_775_807,
            u64::MAX,
        ] {
            let req = presigned(Duration::from_secs(expires), "us-east-1", NOW);
            let err = check(&req, "sts", NOW, long_term("secret")).expect_err("too long");
            assert_eq!(err.to_aws_error().code, "IncompleteSignature", "{expires}");
            assert_eq!(
                err.to_string(),
                "X-Amz-Expires must be less than a week (in seconds) that is; 604800"
            );
        }
        // Signed 31 years ago with a huge expiry: not a valid URL today.
        let then = NOW - 31 * 365 * 86_400;
        let req = presigned(Duration::from_secs(31_536_000_000), "us-east-1", then);
        check(&req, "sts", NOW, long_term("secret")).expect_err("31 years old");
        // Zero, negative and non-numbers, substituted into a good URL.
        let good = presigned(Duration::from_secs(60), "us-east-1", NOW);
        for (bad, message) in [
            ("0", "X-Amz-Expires must be at least 1 second"),
            ("-5", "X-Amz-Expires must be non-negative"),
            ("", "X-Amz-Expires should be a number, got ''"),
            ("6e2", "X-Amz-Expires should be a number, got '6e2'"),
        ] {
            let uri = good
                .uri()
                .to_string()
                .replace("X-Amz-Expires=60", &format!("X-Amz-Expires={bad}"));
            let mut req = good.clone();
            *req.uri_mut() = uri.parse().expect("uri");
            let err = check(&req, "sts", NOW, long_term("secret")).expect_err(bad);
            assert_eq!(err.to_string(), message);
        }
    }

    #[test]
    fn empty_region_in_scope_is_rejected() {
        let req = presigned(Duration::from_secs(60), "", NOW);
        let err = check(&req, "sts", NOW, long_term("secret")).expect_err("empty region");
        assert_eq!(err.to_aws_error().code, "SignatureDoesNotMatch");
        assert!(err.to_string().contains("valid region"), "{err}");
        let mut req = signed(BODY, URI, "iam", None, "secret", NOW);
        let auth = req.headers()["authorization"]
            .to_str()
            .expect("ascii")
            .replace("/us-east-1/", "//");
        req.headers_mut()
            .insert("authorization", auth.parse().expect("header"));
        let err = check(&req, "iam", NOW, long_term("secret")).expect_err("empty region");
        assert!(err.to_string().contains("valid region"), "{err}");
    }

    #[test]
    fn accepts_presigned_query_form() {
        let uri = "http://127.0.0.1:8787/?Action=GetCallerIdentity&Version=2011-06-15";
        let mut req = http::Request::builder()
            .method("GET")
            .uri(uri)
            .header("host", "127.0.0.1:8787")
            .body(String::new())
            .expect("request");
        let identity = Credentials::new("AKIDEXAMPLE", "secret", None, None, "t").into();
        let mut settings = SigningSettings::default();
        settings.signature_location = aws_sigv4::http_request::SignatureLocation::QueryParams;
        settings.expires_in = Some(Duration::from_secs(60));
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region("us-east-1")
            .name("sts")
            .time(UNIX_EPOCH + Duration::from_secs(u64::try_from(NOW).expect("positive")))
            .settings(settings)
            .build()
            .expect("params")
            .into();
        let signable = SignableRequest::new(
            "GET",
            uri,
            [("host", "127.0.0.1:8787")].into_iter(),
            SignableBody::Bytes(b""),
        )
        .expect("signable");
        let (instructions, _) = sign(signable, &params).expect("sign").into_parts();
        instructions.apply_to_request_http1x(&mut req);
        assert!(
            req.uri()
                .query()
                .unwrap_or_default()
                .contains("X-Amz-Signature=")
        );
        check(&req, "sts", NOW + 30, long_term("secret")).expect("valid presigned");
        let err = check(&req, "sts", NOW + 61, long_term("secret")).expect_err("expired");
        assert!(err.to_string().starts_with("Signature expired"), "{err}");
        assert!(matches!(
            check(&req, "sts", NOW, long_term("other")),
            Err(SigV4Error::Mismatch(_))
        ));
    }

    /// The `get-vanilla-query-order-key-case` vector of the AWS SigV4 test suite:
    /// a fixed request whose signature is published.
    #[test]
    fn aws_test_suite_vector() {
        let req = http::Request::builder()
            .method("GET")
            .uri("/?Param2=value2&Param1=value1")
            .header("host", "example.amazonaws.com")
            .header("x-amz-date", "20150830T123600Z")
            .header(
                "authorization",
                "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500",
            )
            .body(String::new())
            .expect("request");
        let now = parse_amz_date("20150830T123600Z").expect("date");
        check(
            &req,
            "service",
            now,
            long_term("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"),
        )
        .expect("published vector verifies");
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]

        /// Whatever aws-sigv4 signs verifies, and flipping any body byte breaks it.
        #[test]
        fn signed_requests_verify_and_mutations_fail(
            body in "[A-Za-z0-9=&%+._~-]{0,200}",
            query_value in "[A-Za-z0-9 /+=.*-]{0,30}",
            flip in 0usize..200,
        ) {
            let encoded: String =
                utf8_percent_encode(&query_value, UNRESERVED).to_string();
            let uri = format!("http://127.0.0.1:8787/?Action=ListRoles&Marker={encoded}");
            let req = signed(&body, &uri, "iam", None, "secret", NOW);
            proptest::prop_assert!(check(&req, "iam", NOW, long_term("secret")).is_ok());
            if !body.is_empty() {
                let mut bytes = body.clone().into_bytes();
                let i = flip % bytes.len();
                bytes[i] = if bytes[i] == b'a' { b'b' } else { b'a' };
                let mut tampered = req.clone();
                *tampered.body_mut() = String::from_utf8(bytes).unwrap_or_default();
                let result = check(&tampered, "iam", NOW, long_term("secret"));
                if tampered.body() != req.body() {
                    proptest::prop_assert!(matches!(result, Err(SigV4Error::Mismatch(_))));
                }
            }
        }
    }

    #[test]
    fn amz_date_round_trip() {
        assert_eq!(parse_amz_date("20251128T213629Z"), Some(NOW));
        assert_eq!(format_amz_date(NOW), "20251128T213629Z");
        assert_eq!(parse_amz_date("2025-11-28T21:36:29Z"), None);
    }
}
