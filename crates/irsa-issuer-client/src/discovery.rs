//! Checking a discovery document the way AWS STS does before trusting its `jwks_uri`.

use crate::url::check_fetch_url;

/// Whether `body` is a discovery document rather than a key set: a JSON object with a
/// `jwks_uri` member and no `keys` member.
pub fn is_discovery_document(body: &[u8]) -> bool {
    serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v.as_object().cloned())
        .is_some_and(|o| o.contains_key("jwks_uri") && !o.contains_key("keys"))
}

/// Checks a discovery document and returns its `jwks_uri`.
///
/// The fields AWS was seen to require are required here too; `issuer` must equal the
/// expected issuer byte for byte; `jwks_uri` must pass [`check_fetch_url`].
pub fn jwks_uri_from_discovery(issuer: &str, document: &[u8]) -> Result<String, String> {
    let value: serde_json::Value =
        serde_json::from_slice(document).map_err(|e| format!("not JSON: {e}"))?;
    let object = value
        .as_object()
        .ok_or_else(|| "not a JSON object".to_owned())?;
    let doc_issuer = object
        .get("issuer")
        .and_then(serde_json::Value::as_str)
        .ok_or_else(|| "no string member \"issuer\"".to_owned())?;
    if doc_issuer != issuer {
        return Err(format!(
            "\"issuer\" is {doc_issuer:?} but the expected issuer is {issuer:?}; they must be equal"
        ));
    }
    for required in [
        "response_types_supported",
        "subject_types_supported",
        "id_token_signing_alg_values_supported",
    ] {
        if !object
            .get(required)
            .is_some_and(serde_json::Value::is_array)
        {
            return Err(format!("no array member {required:?}"));
        }
    }
    let jwks_uri = object
        .get("jwks_uri")
        .and_then(serde_json::Value::as_str)
        .ok_or_else(|| "no string member \"jwks_uri\"".to_owned())?;
    check_fetch_url(jwks_uri).map_err(|e| format!("\"jwks_uri\" {jwks_uri:?}: {e}"))?;
    Ok(jwks_uri.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn discovery_requires_the_fields_aws_requires() {
        let doc = br#"{"issuer":"https://h","jwks_uri":"https://h/keys"}"#;
        let err = jwks_uri_from_discovery("https://h", doc).unwrap_err();
        assert!(err.contains("response_types_supported"), "{err}");
        let doc = br#"{"issuer":"https://h","jwks_uri":"http://h/keys","response_types_supported":[],"subject_types_supported":[],"id_token_signing_alg_values_supported":[]}"#;
        let err = jwks_uri_from_discovery("https://h", doc).unwrap_err();
        assert!(err.contains("loopback"), "{err}");
        assert!(jwks_uri_from_discovery("https://h", b"[]").is_err());
    }

    #[test]
    fn the_issuer_must_match_byte_for_byte() {
        let doc = br#"{"issuer":"https://h/","jwks_uri":"https://h/keys","response_types_supported":[],"subject_types_supported":[],"id_token_signing_alg_values_supported":[]}"#;
        let err = jwks_uri_from_discovery("https://h", doc).unwrap_err();
        assert!(err.contains("must be equal"), "{err}");
        assert_eq!(
            jwks_uri_from_discovery("https://h/", doc).as_deref(),
            Ok("https://h/keys")
        );
    }

    #[test]
    fn documents_are_told_apart_from_key_sets() {
        assert!(is_discovery_document(br#"{"issuer":"x","jwks_uri":"y"}"#));
        assert!(!is_discovery_document(br#"{"keys":[]}"#));
        assert!(!is_discovery_document(b"nope"));
    }
}
