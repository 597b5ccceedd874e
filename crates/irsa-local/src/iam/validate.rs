//! IAM's entity rules beyond member constraints, with IAM's codes and texts: the OIDC
//! provider URL grammar, thumbprints, client-ID and tag quotas, and the trust policy's
//! grammar and size. Member constraints (lengths, patterns) are
//! [`crate::validation`]'s.

use http::StatusCode;

use super::{MAX_CLIENT_IDS, MAX_TAGS, MAX_THUMBPRINTS, TRUST_POLICY_QUOTA};
use crate::query::QueryRequest;
use crate::store::Tag;
use crate::validation::{self, Violations};
use crate::xml::AwsError;

/// Validates an OIDC provider URL as IAM does and returns it without `https://`.
///
/// Loopback hosts (`localhost`, `127.0.0.1`, `[::1]`) may carry a port: a local-only
/// extension so that a test identity provider on this machine can be registered. IAM
/// itself rejects every port.
pub fn validate_provider_url(url: &str) -> Result<String, AwsError> {
    validation::check(&validation::PROVIDER_URL, url, "url")?;
    let Some((scheme, rest)) = url.split_once("://") else {
        return Err(AwsError::validation("Invalid Open ID Connect Provider URL"));
    };
    if scheme != "https" {
        return Err(AwsError::invalid_input(
            "Invalid Open ID Connect Provider URL. The URL must begin with https://.",
        ));
    }
    let invalid = || AwsError::invalid_input("Invalid Open ID Connect Provider URL.");
    if rest.contains(['?', '#', '@', '\\'])
        || rest.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(invalid());
    }
    let (authority, _path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    let (host, port) = if let Some(after) = authority.strip_prefix('[') {
        match after.split_once(']') {
            Some((h, p)) => (h, p.strip_prefix(':')),
            None => return Err(invalid()),
        }
    } else {
        match authority.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        }
    };
    if host.is_empty() {
        return Err(invalid());
    }
    let loopback = matches!(host, "localhost" | "127.0.0.1" | "::1");
    if let Some(port) = port {
        let valid_port = !port.is_empty() && port.parse::<u16>().is_ok();
        if !loopback || !valid_port {
            return Err(invalid());
        }
    }
    if host != "::1"
        && !host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
    {
        return Err(invalid());
    }
    Ok(rest.to_string())
}

pub(super) fn validate_client_ids(ids: &[String], member: &str) -> Result<(), AwsError> {
    let mut v = Violations::new();
    for id in ids {
        v.check(&validation::CLIENT_ID, id, member);
    }
    v.finish()?;
    check_quota(
        ids.len(),
        MAX_CLIENT_IDS,
        "ClientIdsPerOpenIdConnectProvider",
    )
}

pub(super) fn validate_thumbprints(thumbprints: &[String]) -> Result<Vec<String>, AwsError> {
    let mut v = Violations::new();
    for t in thumbprints {
        if t.chars().count() != 40 {
            v.push(
                Some(t),
                "thumbprintList",
                "Member must have length less than or equal to 40, Member must have length greater than or equal to 40",
            );
        }
    }
    v.finish()?;
    if thumbprints.len() > MAX_THUMBPRINTS {
        return Err(AwsError::invalid_input(
            "Thumbprint list must contain fewer than 5 entries.",
        ));
    }
    if let Some(bad) = thumbprints
        .iter()
        .find(|t| !t.bytes().all(|b| b.is_ascii_hexdigit()))
    {
        return Err(AwsError::invalid_input(format!(
            "Thumbprint {bad} is not a SHA-1 fingerprint: it must be 40 hexadecimal characters."
        )));
    }
    let mut out: Vec<String> = Vec::new();
    for t in thumbprints {
        let t = t.to_ascii_lowercase();
        if !out.contains(&t) {
            out.push(t);
        }
    }
    Ok(out)
}

pub(super) fn dedup(items: Vec<String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(items.len());
    for item in items {
        if !out.contains(&item) {
            out.push(item);
        }
    }
    out
}

pub(super) fn parse_tags(req: &QueryRequest) -> Result<Vec<Tag>, AwsError> {
    let mut v = Violations::new();
    let mut tags = Vec::new();
    for (i, t) in req.struct_list("Tags").into_iter().enumerate() {
        let member = format!("tags.{}.member", i + 1);
        v.required(
            &validation::TAG_KEY,
            t.get("Key").map(String::as_str),
            &format!("{member}.key"),
        );
        let value = t.get("Value").cloned().unwrap_or_default();
        v.check(&validation::TAG_VALUE, &value, &format!("{member}.value"));
        if let Some(k) = t.get("Key") {
            tags.push(Tag {
                key: k.clone(),
                value,
            });
        }
    }
    v.finish()?;
    check_duplicate_tags(&tags)?;
    Ok(tags)
}

fn check_duplicate_tags(tags: &[Tag]) -> Result<(), AwsError> {
    for (i, a) in tags.iter().enumerate() {
        if tags[..i].iter().any(|b| b.key.eq_ignore_ascii_case(&a.key)) {
            return Err(AwsError::invalid_input(
                "Duplicate tag keys found. Please note that Tag keys are case insensitive.",
            ));
        }
    }
    Ok(())
}

pub(super) fn check_tag_count(tags: &[Tag], what: &str) -> Result<(), AwsError> {
    check_quota(tags.len(), MAX_TAGS, &format!("TagsPer{what}"))
}

/// IAM's `LimitExceeded` when `count` is over the quota `max` named `quota`.
pub(super) fn check_quota(count: usize, max: usize, quota: &str) -> Result<(), AwsError> {
    if count > max {
        return Err(AwsError::limit_exceeded(format!(
            "Cannot exceed quota for {quota}: {max}"
        )));
    }
    Ok(())
}

/// Validates a trust policy document: member constraints, the size quota (whitespace not
/// counted) and the policy grammar (irsa-policy, IAM's `MalformedPolicyDocument` texts).
pub fn validate_trust_policy(document: &str, member: &str) -> Result<(), AwsError> {
    validation::check(&validation::TRUST_POLICY, document, member)?;
    irsa_policy::validate_trust_policy(document, TRUST_POLICY_QUOTA)
        .map(drop)
        .map_err(|e| {
            let status = StatusCode::from_u16(e.http_status()).unwrap_or(StatusCode::BAD_REQUEST);
            let code = match e.aws_code() {
                "LimitExceeded" => "LimitExceeded",
                _ => "MalformedPolicyDocument",
            };
            AwsError::new(status, code, e.aws_message())
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provider_urls_as_iam_accepts_them() {
        assert_eq!(
            validate_provider_url("https://oidc.example.com/id/ABC").expect("ok"),
            "oidc.example.com/id/ABC"
        );
        assert_eq!(
            validate_provider_url("https://auth.example.com/").expect("trailing slash kept"),
            "auth.example.com/"
        );
        for local in [
            "https://127.0.0.1:8443/issuer",
            "https://localhost:9000",
            "https://[::1]:8443/x",
        ] {
            assert!(validate_provider_url(local).is_ok(), "{local}");
        }
        let code = |url: &str| validate_provider_url(url).map_err(|e| e.code);
        assert_eq!(code("oidc.example.com"), Err("ValidationError"));
        assert_eq!(code("http://oidc.example.com"), Err("InvalidInput"));
        for bad in [
            "https://oidc.example.com:443",
            "https://10.0.0.1:8443/x",
            "https://localhost:notaport",
            "https://oidc.example.com/x#frag",
            "https://u:p@oidc.example.com",
            "https://oidc example.com",
            "https://",
            "https:///path",
        ] {
            assert_eq!(code(bad), Err("InvalidInput"), "{bad}");
        }
        let long = format!("https://{}.com", "a".repeat(250));
        let err = validate_provider_url(&long).expect_err("too long");
        assert!(
            err.message
                .ends_with("Member must have length less than or equal to 255"),
            "{}",
            err.message
        );
    }

    #[test]
    fn thumbprints_are_checked_and_lowercased() {
        let ok = validate_thumbprints(&["A".repeat(40), "a".repeat(40)]).expect("ok");
        assert_eq!(ok, vec!["a".repeat(40)]);
        assert_eq!(
            validate_thumbprints(&["g".repeat(40)]).map_err(|e| e.code),
            Err("InvalidInput")
        );
        assert_eq!(
            validate_thumbprints(&vec!["a".repeat(40); 5]).map(|t| t.len()),
            Ok(1)
        );
        let six: Vec<String> = (0..6).map(|i| format!("{i:040}")).collect();
        let err = validate_thumbprints(&six).expect_err("six");
        assert_eq!(
            err.message,
            "Thumbprint list must contain fewer than 5 entries."
        );
    }

    #[test]
    fn trust_policy_size_ignores_whitespace() {
        let sub = "x".repeat(1700);
        let doc = format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"Federated":"arn:aws:iam::000000000000:oidc-provider/o.example.com"}},"Action":"sts:AssumeRoleWithWebIdentity","Condition":{{"StringEquals":{{"o.example.com:sub":"{sub}"}}}}}}]}}"#
        );
        assert!(validate_trust_policy(&doc, "assumeRolePolicyDocument").is_ok());
        let padded = doc.replace(',', ",      \n   ");
        assert!(validate_trust_policy(&padded, "assumeRolePolicyDocument").is_ok());
        let over = doc.replace(&sub, &"x".repeat(2100));
        let err = validate_trust_policy(&over, "assumeRolePolicyDocument").expect_err("big");
        assert_eq!(
            (err.code, err.status),
            ("LimitExceeded", StatusCode::CONFLICT)
        );
    }
}
