//! The AdmissionReview wire format, `admission.k8s.io/v1` and `v1beta1` (identical JSON).
//!
//! Own small types instead of kube-core's: kube-core serialises `response.patch` as a JSON
//! array of numbers (kube-rs issue #1781) where the API documents a base64 string, and its
//! typed request would push the pod through compiled-in Kubernetes types. Here the pod is
//! parsed as a [`PrunedPod`]: a [`serde_json::Value`] holding only the fields the planner
//! reads (everything else is validated, not stored), which plans exactly like the full pod and
//! costs a fraction of building it. The patch only ever adds, so the API server applies it to
//! the pod as it has it, fields newer than this build included. The response echoes the
//! request's `apiVersion` and `kind` (the API server rejects a v1 response without them:
//! upstream issues #225/#205/#132).

use base64::Engine as _;
/// The pod's ServiceAccount, read the planner's way.
pub use irsa_core::mutation::service_account_name;
use irsa_core::mutation::{PrunedPod, pod_namespace};
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
    /// The pod, reduced to what the planner reads.
    #[serde(default)]
    pub object: Option<PrunedPod>,
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
    /// The JSON Patch (the serialised operations), sent as standard base64.
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "serialize_base64"
    )]
    pub patch: Option<Vec<u8>>,
    /// `JSONPatch` whenever `patch` is present.
    #[serde(rename = "patchType", skip_serializing_if = "Option::is_none")]
    pub patch_type: Option<&'static str>,
}

fn serialize_base64<S: serde::Serializer>(
    patch: &Option<Vec<u8>>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match patch {
        Some(bytes) => serializer.serialize_str(&BASE64.encode(bytes)),
        None => serializer.serialize_none(),
    }
}

const BASE64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

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

    /// Admits with `patch_json` (the serialised JSON Patch), sent base64-encoded.
    pub fn allow_with_patch(
        api_version: Option<String>,
        kind: Option<String>,
        uid: String,
        patch_json: Vec<u8>,
    ) -> Self {
        let mut out = Self::allow(api_version, kind, uid);
        out.response.patch = Some(patch_json);
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

    /// The response body: byte for byte what `serde_json::to_vec(self)` gives (the
    /// `Serialize` derive above is the specification, and a test holds the two together),
    /// written in one buffer of the right size. Why: the base64 patch is most of the body and
    /// its alphabet never needs JSON escaping, so it is encoded straight into place instead of
    /// into a `String` that serde_json then scans for characters to escape. The strings that
    /// come from the request (uid, apiVersion, kind) and the denial message still go through
    /// serde_json's escaping.
    pub fn to_json(&self) -> serde_json::Result<Vec<u8>> {
        let response = &self.response;
        let patch_len = response
            .patch
            .as_ref()
            .map_or(0, |p| base64::encoded_len(p.len(), true).unwrap_or(0));
        let mut out = Vec::with_capacity(160 + patch_len);
        out.push(b'{');
        if let Some(kind) = &self.kind {
            out.extend_from_slice(br#""kind":"#);
            serde_json::to_writer(&mut out, kind)?;
            out.push(b',');
        }
        if let Some(api_version) = &self.api_version {
            out.extend_from_slice(br#""apiVersion":"#);
            serde_json::to_writer(&mut out, api_version)?;
            out.push(b',');
        }
        out.extend_from_slice(br#""response":{"uid":"#);
        serde_json::to_writer(&mut out, &response.uid)?;
        out.extend_from_slice(if response.allowed {
            br#","allowed":true"#
        } else {
            br#","allowed":false"#
        });
        if let Some(status) = &response.status {
            out.extend_from_slice(br#","status":"#);
            serde_json::to_writer(&mut out, status)?;
        }
        if let Some(patch) = &response.patch {
            out.extend_from_slice(br#","patch":""#);
            let start = out.len();
            out.resize(start + patch_len, 0);
            BASE64
                .encode_slice(patch, &mut out[start..])
                .map_err(serde::ser::Error::custom)?;
            out.push(b'"');
        }
        if let Some(patch_type) = response.patch_type {
            out.extend_from_slice(br#","patchType":"#);
            serde_json::to_writer(&mut out, patch_type)?;
        }
        out.extend_from_slice(b"}}");
        Ok(out)
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
    /// The pod as received, pruned to what the planner reads ([`PrunedPod`]). The planner's
    /// patch is applied by the API server to the full object, so this must not be edited
    /// here (the namespace travels in `namespace`).
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
    let pod = match object.map(|p| p.0) {
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
    let namespace = pod_namespace(&pod, namespace.as_deref()).to_owned();
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
    fn the_direct_writer_matches_serde_byte_for_byte() {
        let odd = "q\"u\\o\u{1}t\u{7f}é\u{2028}😀</script>".to_string();
        let patch = br#"[{"op":"add","path":"/a","value":"?>\u00e9"}]"#;
        let mut cases = Vec::new();
        for (api_version, kind) in [
            (None, None),
            (Some("admission.k8s.io/v1".to_string()), None),
            (None, Some(odd.clone())),
            (Some(odd.clone()), Some("AdmissionReview".to_string())),
        ] {
            for uid in [String::new(), "705ab4f5".to_string(), odd.clone()] {
                cases.push(ReviewOut::allow(
                    api_version.clone(),
                    kind.clone(),
                    uid.clone(),
                ));
                for len in [0, 1, 2, 3, patch.len()] {
                    cases.push(ReviewOut::allow_with_patch(
                        api_version.clone(),
                        kind.clone(),
                        uid.clone(),
                        patch[..len].to_vec(),
                    ));
                }
                cases.push(ReviewOut::deny(
                    api_version.clone(),
                    kind.clone(),
                    uid.clone(),
                    odd.clone(),
                ));
            }
        }
        for case in &cases {
            let direct = case.to_json().unwrap();
            let serde = serde_json::to_vec(case).unwrap();
            assert_eq!(
                String::from_utf8_lossy(&direct),
                String::from_utf8_lossy(&serde)
            );
        }
    }

    #[test]
    fn patch_is_standard_base64_with_patch_type() {
        let out = ReviewOut::allow_with_patch(
            Some("admission.k8s.io/v1".into()),
            Some("AdmissionReview".into()),
            "u".into(),
            br#"[{"op":"add","path":"/a","value":"?>"}]"#.to_vec(),
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
