//! The IAM policy parsers of irsa-policy (generic, trust policy, trust policy with IAM's size
//! quota) on arbitrary text, through the strict JSON reader that refuses duplicate keys: they
//! never panic, never accept what plain JSON rejects, and a parsed policy evaluates.
#![no_main]

use irsa_policy::{DEFAULT_TRUST_POLICY_QUOTA, Policy, RequestContext, validate_trust_policy};
use libfuzzer_sys::fuzz_target;

const PROVIDER: &str = "arn:aws:iam::111122223333:oidc-provider/issuer.example.com/c1";

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let generic = Policy::parse(text);
    if generic.is_ok() {
        // The strict reader only ever refuses more than serde_json.
        assert!(serde_json::from_str::<serde_json::Value>(text).is_ok());
    }
    let trust = Policy::parse_trust_policy(text);
    // The trust-policy rules only add to the generic grammar.
    assert!(trust.is_err() || generic.is_ok());
    let quota = validate_trust_policy(text, DEFAULT_TRUST_POLICY_QUOTA);
    assert!(quota.is_err() || trust.is_ok());
    if generic.is_ok()
        && let Some(rest) = text.trim_start().strip_prefix('{')
        && let Ok(top) = serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(text)
        && let Some(key) = top.keys().next()
        && let Ok(key) = serde_json::to_string(key)
    {
        // The same document with one top-level key written twice is refused, whatever the
        // first value: the last key must never silently win (a Deny turning into an Allow).
        let doubled = format!("{{{key}:null,{rest}");
        assert!(Policy::parse(&doubled).is_err(), "{doubled}");
    }
    if let Ok(policy) = generic {
        let context = RequestContext::web_identity(
            PROVIDER,
            "issuer.example.com/c1",
            "system:serviceaccount:default:app",
            "sts.amazonaws.com",
        );
        let decision = policy.evaluate(&context);
        assert_eq!(policy.evaluate(&context), decision);
        let _ = policy.evaluate_explained(&context);
    }
});
