//! The AdmissionReview wire format, `admission.k8s.io/v1` and `v1beta1` (identical JSON).
//!
//! Own small types instead of kube-core's: kube-core serialises `response.patch` as a JSON
//! array of numbers (kube-rs issue #1781) where the API documents a base64 string, and its
//! typed request would push the pod through compiled-in Kubernetes types. Here the pod stays a
//! [`serde_json::Value`], so fields newer than this build survive untouched, and the response
//! echoes the request's `apiVersion` and `kind` (the API server rejects a v1 response without
//! them: upstream issues #225/#205/#132).

use base64::Engine as _;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The incoming review; unknown fields are ignored.
#[derive(Debug, Deserialize)]
pub struct ReviewIn {
    /// `admission.k8s.io/v1` or `admission.k8s.io/v1beta1`, echoed back.
    #[serde(rename = "apiVersion", default)]
    pub api_version: Option<String>,
    /// `AdmissionReview`, echoed back.
    #[serde(default)]
    pub kind: Option<String>,
    /// The request; absent or null is "bad content".
    #[serde(default)]
    pub request: Option<RequestIn>,
}

/// The part of `request` the webhook reads.
#[derive(Debug, Deserialize)]
pub struct RequestIn {
    /// Copied into the response.
    #[serde(default)]
    pub uid: String,
    /// Namespace of the object (pods created from a template often lack `metadata.namespace`).
    #[serde(default)]
    pub namespace: Option<String>,
    /// Operation (`CREATE`, ...), for logging only, as upstream.
    #[serde(default)]
    pub operation: Option<String>,
    /// The pod.
    #[serde(default)]
    pub object: Option<Value>,
}

/// `status` of a denial.
#[derive(Debug, Serialize)]
pub struct Status {
    /// Always `{}` (upstream's shape).
    pub metadata: serde_json::Map<String, Value>,
    /// What was wrong.
    pub message: String,
}

/// The response body.
#[derive(Debug, Serialize)]
pub struct ResponseOut {
    /// The request's uid.
    pub uid: String,
    /// Whether the pod is admitted.
    pub allowed: bool,
    /// Present on denials.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<Status>,
    /// Standard base64 of the JSON Patch.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub patch: Option<String>,
    /// `JSONPatch` whenever `patch` is present.
    #[serde(rename = "patchType", skip_serializing_if = "Option::is_none")]
    pub patch_type: Option<&'static str>,
}

/// The outgoing review.
#[derive(Debug, Serialize)]
pub struct ReviewOut {
    /// Echoed from the request (omitted when the request had none).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Echoed from the request (omitted when the request had none).
    #[serde(rename = "apiVersion", skip_serializing_if = "Option::is_none")]
    pub api_version: Option<String>,
    /// The answer.
    pub response: ResponseOut,
}

impl ReviewOut {
    /// Admits without a patch.
    pub fn allow(api_version: Option<String>, kind: Option<String>, uid: String) -> Self {
        Self {
            kind,
            api_version,
            response: ResponseOut {
                uid,
                allowed: true,
                status: None,
                patch: None,
                patch_type: None,
            },
        }
    }

    /// Admits with `patch_json` (the serialised JSON Patch), base64-encoded.
    pub fn allow_with_patch(
        api_version: Option<String>,
        kind: Option<String>,
        uid: String,
        patch_json: &[u8],
    ) -> Self {
        let mut out = Self::allow(api_version, kind, uid);
        out.response.patch = Some(base64::engine::general_purpose::STANDARD.encode(patch_json));
        out.response.patch_type = Some("JSONPatch");
        out
    }

    /// Refuses with `message` (HTTP 200, `allowed: false`), as upstream does for bad content.
    pub fn deny(
        api_version: Option<String>,
        kind: Option<String>,
        uid: String,
        message: String,
    ) -> Self {
        Self {
            kind,
            api_version,
            response: ResponseOut {
                uid,
                allowed: false,
                status: Some(Status {
                    metadata: serde_json::Map::new(),
                    message,
                }),
                patch: None,
                patch_type: None,
            },
        }
    }
}

/// A review that can be acted on.
#[derive(Debug)]
pub struct ParsedReview {
    /// The review's `apiVersion`, echoed in the response (the API server requires it).
    pub api_version: Option<String>,
    /// The review's `kind`, echoed in the response.
    pub kind: Option<String>,
    /// The request's `uid`, which the response must carry back unchanged.
    pub uid: String,
    /// Namespace the pod is created in (request's, else the pod's, else `default`).
    pub namespace: String,
    /// The pod exactly as received. The planner's patch is applied by the API server to
    /// this object, so it must not be edited here (the namespace travels in `namespace`).
    pub pod: Value,
}

/// Parses a body into a review, or the denial to send back (with a message saying what was
/// wrong). Never panics on any input.
pub fn parse_review(body: &[u8]) -> Result<ParsedReview, Box<ReviewOut>> {
    let review: ReviewIn = match serde_json::from_slice(body) {
        Ok(r) => r,
        Err(e) => {
            // Salvage apiVersion/kind for the echo when the JSON itself is fine.
            let (api_version, kind) = serde_json::from_slice::<Value>(body)
                .ok()
                .map(|v| {
                    (
                        v.get("apiVersion")
                            .and_then(Value::as_str)
                            .map(str::to_string),
                        v.get("kind").and_then(Value::as_str).map(str::to_string),
                    )
                })
                .unwrap_or_default();
            let what = if body.is_empty() {
                "empty body".to_string()
            } else {
                e.to_string()
            };
            return Err(Box::new(ReviewOut::deny(
                api_version,
                kind,
                String::new(),
                format!("couldn't parse the AdmissionReview: {what}"),
            )));
        }
    };
    let ReviewIn {
        api_version,
        kind,
        request,
    } = review;
    let Some(request) = request else {
        return Err(Box::new(ReviewOut::deny(
            api_version,
            kind,
            String::new(),
            "bad content: the AdmissionReview has no request".to_string(),
        )));
    };
    let RequestIn {
        uid,
        namespace,
        object,
        ..
    } = request;
    let pod = match object {
        Some(pod @ Value::Object(_)) => pod,
        Some(other) => {
            return Err(Box::new(ReviewOut::deny(
                api_version,
                kind,
                uid,
                format!(
                    "bad content: request.object must be a Pod object, found {}",
                    json_type(&other)
                ),
            )));
        }
        None => {
            return Err(Box::new(ReviewOut::deny(
                api_version,
                kind,
                uid,
                "bad content: the AdmissionReview request has no object".to_string(),
            )));
        }
    };
    let pod_namespace = pod
        .pointer("/metadata/namespace")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_string);
    let namespace = namespace
        .filter(|s| !s.is_empty())
        .or(pod_namespace.clone())
        .unwrap_or_else(|| "default".to_string());
    Ok(ParsedReview {
        api_version,
        kind,
        uid,
        namespace,
        pod,
    })
}

fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// The pod's ServiceAccount name (`spec.serviceAccountName`, else `default`, which is what
/// the API server's ServiceAccount admission plugin sets before webhooks run).
pub fn service_account_name(pod: &Value) -> &str {
    pod.pointer("/spec/serviceAccountName")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .unwrap_or("default")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_body_and_missing_request_are_denied_with_reasons() {
        let out = parse_review(b"").unwrap_err();
        assert!(!out.response.allowed);
        assert!(
            out.response
                .status
                .as_ref()
                .unwrap()
                .message
                .contains("empty body")
        );
        let out = parse_review(br#"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview"}"#)
            .unwrap_err();
        assert_eq!(out.api_version.as_deref(), Some("admission.k8s.io/v1"));
        assert!(
            out.response
                .status
                .as_ref()
                .unwrap()
                .message
                .contains("no request")
        );
        let out = parse_review(b"{").unwrap_err();
        assert!(
            out.response
                .status
                .as_ref()
                .unwrap()
                .message
                .contains("EOF")
        );
    }

    #[test]
    fn string_object_is_denied_and_uid_is_kept() {
        let out = parse_review(br#"{"request":{"uid":"u1","object":"pod"}}"#).unwrap_err();
        assert_eq!(out.response.uid, "u1");
        assert!(
            out.response
                .status
                .as_ref()
                .unwrap()
                .message
                .contains("a string")
        );
    }

    #[test]
    fn namespace_comes_from_the_request_when_the_pod_lacks_it() {
        let r = parse_review(
            br#"{"request":{"uid":"u","namespace":"team","object":{"spec":{"serviceAccountName":"app"}}}}"#,
        )
        .unwrap();
        assert_eq!(r.namespace, "team");
        assert!(
            r.pod.get("metadata").is_none(),
            "the pod is kept as received"
        );
        assert_eq!(service_account_name(&r.pod), "app");
        let r = parse_review(
            br#"{"request":{"uid":"u","object":{"metadata":{"namespace":"own"},"spec":{}}}}"#,
        )
        .unwrap();
        assert_eq!(r.namespace, "own");
        assert_eq!(service_account_name(&r.pod), "default");
    }

    #[test]
    fn patch_is_standard_base64_with_patch_type() {
        let out = ReviewOut::allow_with_patch(
            Some("admission.k8s.io/v1".into()),
            Some("AdmissionReview".into()),
            "u".into(),
            br#"[{"op":"add","path":"/a","value":"?>"}]"#,
        );
        let v = serde_json::to_value(&out).unwrap();
        let b64 = v["response"]["patch"].as_str().unwrap();
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(b64)
            .unwrap();
        assert_eq!(decoded, br#"[{"op":"add","path":"/a","value":"?>"}]"#);
        assert_eq!(v["response"]["patchType"], "JSONPatch");
        assert_eq!(v["apiVersion"], "admission.k8s.io/v1");
        assert_eq!(v["kind"], "AdmissionReview");
        let text = serde_json::to_string(&out).unwrap();
        assert!(
            text.starts_with(r#"{"kind":"AdmissionReview","apiVersion":"admission.k8s.io/v1""#)
        );
    }
}
