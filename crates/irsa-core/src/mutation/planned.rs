//! The planner's operations in typed form, before they become JSON.
//!
//! Why: every operation the planner emits is an `add` of one of a few shapes (an env var, a
//! volume mount, the token volume, the pod-identity label, or a list or parent object
//! holding one of them). The webhook only sends the patch, so it writes these shapes
//! straight into JSON bytes ([`PlannedPatch::write_json`]). Building `serde_json::Value`
//! trees, serialising them and dropping them again cost about a tenth of an admission.
//! `irsa mutate` and `irsa doctor` apply or print the patch, so they get
//! `json_patch::PatchOperation`s ([`PlannedPatch::into_operations`]).
//!
//! The two forms must say the same thing byte for byte. `write_json` follows
//! `serde_json`'s own output for the `Value`s that `to_value` builds: the same string
//! escaping (through `serde_json`), and members in `serde_json::Map`'s sorted key order.
//! `tests/mutation_fixtures.rs` and `tests/mutation_proptest.rs` hold the two equal for
//! every plan they make.

use std::borrow::Cow;

use json_patch::jsonptr::PointerBuf;
use json_patch::{AddOperation, PatchOperation};
use serde_json::{Value, json};

use super::config::{POD_IDENTITY_LABEL, POD_IDENTITY_LABEL_VALUE};

/// One `{"name": …, "value": …}` env var.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct EnvVar<'a> {
    pub(crate) name: &'a str,
    pub(crate) value: Cow<'a, str>,
}

/// The projected service-account token volume.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TokenVolume<'a> {
    pub(crate) name: &'a str,
    /// Left out of the token source when empty.
    pub(crate) audience: &'a str,
    pub(crate) expiration: i64,
    pub(crate) path: &'a str,
}

/// The read-only mount of the token volume.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TokenMount<'a> {
    pub(crate) name: &'a str,
    pub(crate) mount_path: &'a str,
}

/// What one `add` operation adds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Added<'a> {
    /// `{"labels": {label: value}}`, for a pod without metadata.
    MetadataWithLabel,
    /// `{label: value}`, for a pod without labels.
    Labels,
    /// `"value"`, the label itself.
    LabelValue,
    /// `{"volumes": [volume]}`, for a pod without a spec.
    SpecWithVolume(TokenVolume<'a>),
    /// `[volume]`, for a pod without volumes.
    Volumes(TokenVolume<'a>),
    /// The volume, into an existing list.
    Volume(TokenVolume<'a>),
    /// A list of env vars, for a container without one.
    EnvList(Vec<EnvVar<'a>>),
    /// One env var, appended to an existing list.
    Env(EnvVar<'a>),
    /// `[mount]`, for a container without mounts.
    Mounts(TokenMount<'a>),
    /// The mount, appended to an existing list.
    Mount(TokenMount<'a>),
}

/// One `add` operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PlannedAdd<'a> {
    pub(crate) path: PointerBuf,
    pub(crate) value: Added<'a>,
}

/// The planned JSON Patch, borrowing the settings it was planned from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PlannedPatch<'a> {
    pub(crate) adds: Vec<PlannedAdd<'a>>,
}

impl PlannedPatch<'_> {
    /// Whether the patch changes nothing.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.adds.is_empty()
    }

    /// How many operations the patch has.
    #[must_use]
    pub fn len(&self) -> usize {
        self.adds.len()
    }

    /// The patch as `json_patch` operations.
    #[must_use]
    pub fn into_operations(self) -> Vec<PatchOperation> {
        self.adds
            .into_iter()
            .map(|add| {
                PatchOperation::Add(AddOperation {
                    path: add.path,
                    value: add.value.to_value(),
                })
            })
            .collect()
    }

    /// Appends the patch as JSON to `out`: the same bytes as `serde_json::to_vec` of
    /// [`into_operations`](Self::into_operations).
    ///
    /// # Errors
    /// Only what `serde_json` reports while writing a string, which a `Vec` never causes.
    pub fn write_json(&self, out: &mut Vec<u8>) -> serde_json::Result<()> {
        array(out, &self.adds, |add, out| {
            out.extend_from_slice(br#"{"op":"add","path":"#);
            string(out, add.path.as_str())?;
            out.extend_from_slice(br#","value":"#);
            add.value.write_json(out)?;
            out.push(b'}');
            Ok(())
        })
    }
}

/// A JSON string, escaped as `serde_json` escapes it.
fn string(out: &mut Vec<u8>, s: &str) -> serde_json::Result<()> {
    serde_json::to_writer(&mut *out, s)
}

impl Added<'_> {
    /// The value as a `serde_json::Value`: the specification `write_json` follows.
    fn to_value(&self) -> Value {
        match self {
            Self::MetadataWithLabel => {
                json!({"labels": {POD_IDENTITY_LABEL: POD_IDENTITY_LABEL_VALUE}})
            }
            Self::Labels => json!({POD_IDENTITY_LABEL: POD_IDENTITY_LABEL_VALUE}),
            Self::LabelValue => json!(POD_IDENTITY_LABEL_VALUE),
            Self::SpecWithVolume(v) => json!({"volumes": [v.to_value()]}),
            Self::Volumes(v) => json!([v.to_value()]),
            Self::Volume(v) => v.to_value(),
            Self::EnvList(vars) => Value::Array(vars.iter().map(EnvVar::to_value).collect()),
            Self::Env(var) => var.to_value(),
            Self::Mounts(m) => json!([m.to_value()]),
            Self::Mount(m) => m.to_value(),
        }
    }

    fn write_json(&self, out: &mut Vec<u8>) -> serde_json::Result<()> {
        match self {
            Self::MetadataWithLabel => {
                out.extend_from_slice(br#"{"labels":"#);
                label_object(out)?;
                out.push(b'}');
            }
            Self::Labels => label_object(out)?,
            Self::LabelValue => string(out, POD_IDENTITY_LABEL_VALUE)?,
            Self::SpecWithVolume(v) => {
                out.extend_from_slice(br#"{"volumes":["#);
                v.write_json(out)?;
                out.extend_from_slice(b"]}");
            }
            Self::Volumes(v) => array(out, std::slice::from_ref(v), |v, out| v.write_json(out))?,
            Self::Volume(v) => v.write_json(out)?,
            Self::EnvList(vars) => array(out, vars, EnvVar::write_json)?,
            Self::Env(var) => var.write_json(out)?,
            Self::Mounts(m) => array(out, std::slice::from_ref(m), |m, out| m.write_json(out))?,
            Self::Mount(m) => m.write_json(out)?,
        }
        Ok(())
    }
}

/// Writes `items` as a JSON array, each one through `write`.
fn array<T>(
    out: &mut Vec<u8>,
    items: &[T],
    mut write: impl FnMut(&T, &mut Vec<u8>) -> serde_json::Result<()>,
) -> serde_json::Result<()> {
    out.push(b'[');
    for (index, item) in items.iter().enumerate() {
        if index > 0 {
            out.push(b',');
        }
        write(item, out)?;
    }
    out.push(b']');
    Ok(())
}

fn label_object(out: &mut Vec<u8>) -> serde_json::Result<()> {
    out.push(b'{');
    string(out, POD_IDENTITY_LABEL)?;
    out.push(b':');
    string(out, POD_IDENTITY_LABEL_VALUE)?;
    out.push(b'}');
    Ok(())
}

impl EnvVar<'_> {
    fn to_value(&self) -> Value {
        json!({"name": self.name, "value": self.value})
    }

    /// Members in sorted order: `name`, `value`.
    fn write_json(&self, out: &mut Vec<u8>) -> serde_json::Result<()> {
        out.extend_from_slice(br#"{"name":"#);
        string(out, self.name)?;
        out.extend_from_slice(br#","value":"#);
        string(out, &self.value)?;
        out.push(b'}');
        Ok(())
    }
}

impl TokenMount<'_> {
    fn to_value(self) -> Value {
        json!({"name": self.name, "readOnly": true, "mountPath": self.mount_path})
    }

    /// Members in sorted order: `mountPath`, `name`, `readOnly`.
    fn write_json(self, out: &mut Vec<u8>) -> serde_json::Result<()> {
        out.extend_from_slice(br#"{"mountPath":"#);
        string(out, self.mount_path)?;
        out.extend_from_slice(br#","name":"#);
        string(out, self.name)?;
        out.extend_from_slice(br#","readOnly":true}"#);
        Ok(())
    }
}

impl TokenVolume<'_> {
    fn to_value(self) -> Value {
        let mut token = serde_json::Map::new();
        if !self.audience.is_empty() {
            token.insert("audience".to_owned(), json!(self.audience));
        }
        token.insert("expirationSeconds".to_owned(), json!(self.expiration));
        token.insert("path".to_owned(), json!(self.path));
        json!({
            "name": self.name,
            "projected": {"sources": [{"serviceAccountToken": Value::Object(token)}]},
        })
    }

    /// Members in sorted order: `name`, `projected`; in the token source `audience` (when
    /// set), `expirationSeconds`, `path`.
    fn write_json(self, out: &mut Vec<u8>) -> serde_json::Result<()> {
        out.extend_from_slice(br#"{"name":"#);
        string(out, self.name)?;
        out.extend_from_slice(br#","projected":{"sources":[{"serviceAccountToken":{"#);
        if !self.audience.is_empty() {
            out.extend_from_slice(br#""audience":"#);
            string(out, self.audience)?;
            out.push(b',');
        }
        out.extend_from_slice(br#""expirationSeconds":"#);
        serde_json::to_writer(&mut *out, &self.expiration)?;
        out.extend_from_slice(br#","path":"#);
        string(out, self.path)?;
        out.extend_from_slice(b"}}]}}");
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn both(adds: Vec<PlannedAdd<'_>>) -> (Vec<u8>, Vec<u8>) {
        let patch = PlannedPatch { adds };
        let mut direct = Vec::new();
        patch.write_json(&mut direct).expect("writes");
        let via_serde = serde_json::to_vec(&patch.into_operations()).expect("serialises");
        (direct, via_serde)
    }

    #[test]
    fn every_shape_writes_what_serde_json_writes() {
        let volume = |audience| TokenVolume {
            name: "aws-iam-token",
            audience,
            expiration: 86_400,
            path: "token",
        };
        let mount = TokenMount {
            name: "aws-iam-token",
            mount_path: "/var/run/secrets/eks.amazonaws.com/serviceaccount",
        };
        let var = |name, value: &'static str| EnvVar {
            name,
            value: Cow::Borrowed(value),
        };
        let tricky = EnvVar {
            name: "AWS_ROLE_ARN",
            value: Cow::Owned("arn:aws:iam::1:role/a\"b\\c\u{1}\u{e9}</x>".to_owned()),
        };
        let path = |p: &str| PointerBuf::parse(p).expect("pointer");
        let adds = vec![
            PlannedAdd {
                path: path("/metadata"),
                value: Added::MetadataWithLabel,
            },
            PlannedAdd {
                path: path("/metadata/labels"),
                value: Added::Labels,
            },
            PlannedAdd {
                path: PointerBuf::from_tokens(["metadata", "labels", POD_IDENTITY_LABEL]),
                value: Added::LabelValue,
            },
            PlannedAdd {
                path: path("/spec"),
                value: Added::SpecWithVolume(volume("sts.amazonaws.com")),
            },
            PlannedAdd {
                path: path("/spec/volumes"),
                value: Added::Volumes(volume("")),
            },
            PlannedAdd {
                path: path("/spec/volumes/0"),
                value: Added::Volume(volume("x")),
            },
            PlannedAdd {
                path: path("/spec/containers/0/env"),
                value: Added::EnvList(vec![var("AWS_REGION", "eu-west-1"), tricky.clone()]),
            },
            PlannedAdd {
                path: path("/spec/containers/1/env/-"),
                value: Added::Env(tricky),
            },
            PlannedAdd {
                path: path("/spec/containers/1/volumeMounts"),
                value: Added::Mounts(mount),
            },
            PlannedAdd {
                path: path("/spec/initContainers/0/volumeMounts/-"),
                value: Added::Mount(mount),
            },
        ];
        let (direct, via_serde) = both(adds);
        assert_eq!(
            String::from_utf8_lossy(&direct),
            String::from_utf8_lossy(&via_serde)
        );
        let (direct, via_serde) = both(Vec::new());
        assert_eq!(direct, via_serde);
    }
}
