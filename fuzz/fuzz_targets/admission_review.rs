//! The AdmissionReview parser and the planner behind it, on arbitrary bytes: parsing never
//! panics, and whenever a patch is planned (on the pruned pod the parser keeps) it applies to
//! the pod exactly as received (what the API server does with it).
#![no_main]

use irsa_core::mutation::{
    ContainerCredentialsConfig, Jitter, PlanInputs, ServiceAccountIdentity, WebhookConfig,
    plan_detailed,
};
use irsa_webhook::admission::parse_review;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(review) = parse_review(data) else {
        return;
    };
    // The parser accepted the body, so the full pod parses too.
    let Some(received) = serde_json::from_slice::<serde_json::Value>(data)
        .ok()
        .and_then(|v| v.pointer("/request/object").cloned())
    else {
        panic!("parse_review accepted a body whose pod does not parse as JSON");
    };
    let identities = ContainerCredentialsConfig::parse(
        r#"{"identities":[{"namespace":"default","serviceAccount":"default"}]}"#,
    )
    .map(|(c, _)| c)
    .unwrap_or_default();
    let identity = ServiceAccountIdentity {
        role_arn: Some("arn:aws:iam::111122223333:role/fuzz".to_string()),
        ..ServiceAccountIdentity::default()
    };
    for container_credentials in [None, Some(&identities)] {
        let inputs = PlanInputs {
            namespace: Some(&review.namespace),
            role_mapping: None,
            container_credentials,
            jitter: Jitter(0),
        };
        if let Ok(plan) = plan_detailed(&review.pod, Some(&identity), &WebhookConfig::default(), &inputs) {
            let mut pod = received.clone();
            if let Err(e) = json_patch::patch(&mut pod, &plan.operations) {
                panic!("planned patch does not apply to the pod as received: {e}");
            }
        }
    }
});
