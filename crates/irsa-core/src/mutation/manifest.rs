//! Reading the Kubernetes manifests the mutation takes (Pod, ServiceAccount) from YAML text,
//! one way for every command: `irsa mutate` and `irsa local exec` must see the same values,
//! or `local exec` would give a process something other than what the webhook gives the pod.
//!
//! The reading uses the YAML 1.2 core schema (`strict_booleans`) and keeps integers with
//! leading zeros as strings, so an unquoted `no`, `on` or `012` stays a string instead of
//! silently becoming `false` or `10` in an env value or annotation.

use std::collections::BTreeMap;

use serde_json::Value;

use super::identity::ServiceAccountIdentity;

/// serde-saphyr options for untyped reading (see the module docs).
fn untyped_options() -> serde_saphyr::Options {
    serde_saphyr::options! {
        strict_booleans: true,
        leading_zero_numbers_as_strings: true,
    }
}

/// Parses YAML (or JSON, a YAML subset) into an untyped value without YAML 1.1 surprises.
pub fn parse_yaml(text: &str) -> Result<Value, String> {
    serde_saphyr::from_str_with_options(text, untyped_options()).map_err(|e| e.to_string())
}

/// Why a ServiceAccount manifest cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ManifestError {
    /// Not YAML, or not one mapping.
    #[error("not a YAML mapping: {0}")]
    Yaml(String),
    /// Another kind of object.
    #[error("kind is {0:?}, expected ServiceAccount")]
    Kind(String),
    /// A field has the wrong type (Kubernetes would refuse the object).
    #[error("{field} must be {expected}")]
    FieldType {
        /// The field's path, e.g. `metadata.annotations["eks.amazonaws.com/role-arn"]`.
        field: String,
        /// What it must be.
        expected: &'static str,
    },
}

/// A ServiceAccount as the webhook sees it: its name, namespace and IRSA settings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServiceAccountManifest {
    /// `metadata.name`, when given.
    pub name: Option<String>,
    /// `metadata.namespace`, when given.
    pub namespace: Option<String>,
    /// The annotations under the prefix, read by the webhook's own parser.
    pub identity: ServiceAccountIdentity,
}

impl ServiceAccountManifest {
    /// Reads a ServiceAccount manifest (YAML or JSON) with annotations under `prefix`.
    pub fn parse(text: &str, prefix: &str) -> Result<Self, ManifestError> {
        let doc = parse_yaml(text).map_err(ManifestError::Yaml)?;
        if !doc.is_object() {
            return Err(ManifestError::Yaml(
                "the document is not a mapping".to_owned(),
            ));
        }
        match doc.get("kind") {
            None => {}
            Some(Value::String(k)) if k == "ServiceAccount" => {}
            Some(other) => {
                let kind = other
                    .as_str()
                    .map_or_else(|| other.to_string(), str::to_owned);
                return Err(ManifestError::Kind(kind));
            }
        }
        let metadata = doc.get("metadata").unwrap_or(&Value::Null);
        let text_field = |name: &str| -> Result<Option<String>, ManifestError> {
            match metadata.get(name) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.clone())),
                Some(_) => Err(ManifestError::FieldType {
                    field: format!("metadata.{name}"),
                    expected: "a string",
                }),
            }
        };
        let mut annotations = BTreeMap::new();
        match metadata.get("annotations") {
            None | Some(Value::Null) => {}
            Some(Value::Object(map)) => {
                for (key, value) in map {
                    let Value::String(value) = value else {
                        return Err(ManifestError::FieldType {
                            field: format!("metadata.annotations[{key:?}]"),
                            expected: "a string (quote numbers and booleans)",
                        });
                    };
                    annotations.insert(key.clone(), value.clone());
                }
            }
            Some(_) => {
                return Err(ManifestError::FieldType {
                    field: "metadata.annotations".to_owned(),
                    expected: "a mapping of strings",
                });
            }
        }
        Ok(Self {
            name: text_field("name")?,
            namespace: text_field("namespace")?,
            identity: ServiceAccountIdentity::from_annotations(prefix, &annotations),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml_1_1_words_stay_strings() {
        let v = parse_yaml("a: no\nb: 012\nc: on\nd: true\n").expect("yaml");
        assert_eq!(v["a"], "no");
        assert_eq!(v["b"], "012");
        assert_eq!(v["c"], "on");
        assert_eq!(v["d"], true);
    }

    #[test]
    fn service_account_annotations_use_the_webhook_parser() {
        let sa = ServiceAccountManifest::parse(
            "kind: ServiceAccount\nmetadata:\n  name: app\n  namespace: prod\n  annotations:\n    corp.example/role-arn: arn:aws:iam::111122223333:role/r\n    corp.example/token-expiration: \"300\"\n",
            "corp.example",
        )
        .expect("parse");
        assert_eq!(sa.name.as_deref(), Some("app"));
        assert_eq!(sa.namespace.as_deref(), Some("prod"));
        assert!(sa.identity.has_role());
        assert_eq!(sa.identity.token_expiration, Some(600));
        assert_eq!(
            ServiceAccountManifest::parse("kind: Pod\n", "x"),
            Err(ManifestError::Kind("Pod".into()))
        );
        let err = ServiceAccountManifest::parse(
            "kind: ServiceAccount\nmetadata:\n  annotations:\n    a/token-expiration: 300\n",
            "a",
        )
        .expect_err("number");
        assert!(err.to_string().contains("a/token-expiration"), "{err}");
    }
}
