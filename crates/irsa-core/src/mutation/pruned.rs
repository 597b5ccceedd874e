//! The pod reduced to what the planner reads, deserialised in one pass.
//!
//! Why: the webhook parses every AdmissionReview it receives. Building the whole pod as a
//! [`Value`] (a map node and a `String` per key, for images, probes, resources, owner
//! references, ...) and dropping it again was the largest single cost of an admission, yet
//! the planner reads a handful of fields. [`PrunedPod`] deserialises straight into a `Value`
//! that holds only those fields; everything else is *validated* like before (so the same
//! bodies are accepted and refused, with the same messages) but never stored.
//!
//! What keeps it in step with the planner: [`PLANNER_READS`] is the one list of the paths
//! [`super::plan_detailed`] reads, and the rule that makes pruning safe is that every node on
//! those paths keeps its JSON type (a container that is a string stays a string, so the
//! planner still reports the same `WrongType` error; a non-object volume item stays as it
//! was). `tests/mutation_proptest.rs` checks `plan(full pod) == plan(pruned pod)` for
//! generated pods with wrong types sprinkled in, and `tests/mutation_fixtures.rs` for every
//! upstream scenario. A planner change that reads a new field must add it here: those tests
//! then fail until it is.
//!
//! `irsa mutate` keeps parsing the full pod (it prints the mutated pod); the pruned view is
//! only ever planned, never patched.

use std::fmt;

use serde::de::value::{MapAccessDeserializer, SeqAccessDeserializer};
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::OS_NODE_SELECTORS;
use super::config::POD_IDENTITY_LABEL;
use super::identity::{ANNOTATION_SKIP_CONTAINERS, ANNOTATION_TOKEN_EXPIRATION};

/// What to keep of one JSON node. A node whose type is not the one a rule expects (an
/// array where an object is read, ...) is always kept whole, type and content.
#[derive(Debug, Clone, Copy)]
enum Keep {
    /// The whole value.
    All,
    /// An object: only these members, each under its own rule.
    Members(&'static [(&'static str, Keep)]),
    /// An object (annotations): only the members whose key is `<anything>/<suffix>` for one
    /// of these suffixes, whole. Any annotation prefix the webhook is configured with matches.
    KeySuffixes(&'static [&'static str]),
    /// An array: every item under this rule.
    Items(&'static Keep),
}

/// An item of `volumes`, `env` or `volumeMounts`: the planner looks at its `name` only.
const NAMED: Keep = Keep::Members(&[("name", Keep::All)]);

/// A container or init container.
const CONTAINER: Keep = Keep::Members(&[
    ("name", Keep::All),
    ("env", Keep::Items(&NAMED)),
    ("volumeMounts", Keep::Items(&NAMED)),
]);

/// Every path of the pod the planner reads: the one list to extend when it reads more.
const PLANNER_READS: Keep = Keep::Members(&[
    (
        "metadata",
        Keep::Members(&[
            ("namespace", Keep::All),
            (
                "annotations",
                Keep::KeySuffixes(&[ANNOTATION_TOKEN_EXPIRATION, ANNOTATION_SKIP_CONTAINERS]),
            ),
            ("labels", Keep::Members(&[(POD_IDENTITY_LABEL, Keep::All)])),
        ]),
    ),
    (
        "spec",
        Keep::Members(&[
            ("serviceAccountName", Keep::All),
            (
                "nodeSelector",
                Keep::Members(&[
                    (OS_NODE_SELECTORS[0], Keep::All),
                    (OS_NODE_SELECTORS[1], Keep::All),
                ]),
            ),
            ("volumes", Keep::Items(&NAMED)),
            ("containers", Keep::Items(&CONTAINER)),
            ("initContainers", Keep::Items(&CONTAINER)),
        ]),
    ),
]);

/// A pod as the planner sees it: [`plan_detailed`](super::plan_detailed) on it gives exactly
/// what it gives on the full pod. Deserialise it from the pod's JSON (for example as a field
/// of a larger document); parsing accepts and refuses exactly what parsing a [`Value`] does.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(transparent)]
pub struct PrunedPod(pub Value);

impl<'de> Deserialize<'de> for PrunedPod {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Prune(PLANNER_READS).deserialize(deserializer).map(Self)
    }
}

/// Deserialises one node under a rule.
struct Prune(Keep);

impl<'de> DeserializeSeed<'de> for Prune {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        match self.0 {
            Keep::All => Value::deserialize(deserializer),
            keep => deserializer.deserialize_any(PruneVisitor(keep)),
        }
    }
}

struct PruneVisitor(Keep);

impl<'de> Visitor<'de> for PruneVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any valid JSON value")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        // `Value::from` maps non-finite floats to null, as the `Value` deserialiser does.
        Ok(Value::from(v))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        Prune(self.0).deserialize(deserializer)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let Keep::Items(item) = self.0 else {
            return Value::deserialize(SeqAccessDeserializer::new(seq));
        };
        let mut items = Vec::new();
        while let Some(value) = seq.next_element_seed(Prune(*item))? {
            items.push(value);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut kept = Map::new();
        match self.0 {
            Keep::Members(members) => {
                while let Some(found) = map.next_key_seed(MemberKey(members))? {
                    match found {
                        Some(index) => {
                            let (name, rule) = members[index];
                            let value = map.next_value_seed(Prune(rule))?;
                            kept.insert(name.to_owned(), value);
                        }
                        None => map.next_value_seed(Validate)?,
                    }
                }
            }
            Keep::KeySuffixes(suffixes) => {
                while let Some(found) = map.next_key_seed(SuffixKey(suffixes))? {
                    match found {
                        Some(key) => {
                            let value = map.next_value()?;
                            kept.insert(key, value);
                        }
                        None => map.next_value_seed(Validate)?,
                    }
                }
            }
            Keep::All | Keep::Items(_) => {
                return Value::deserialize(MapAccessDeserializer::new(map));
            }
        }
        Ok(Value::Object(kept))
    }
}

/// A member name: `Some(index)` into the members to keep, `None` for one to drop.
struct MemberKey(&'static [(&'static str, Keep)]);

impl<'de> DeserializeSeed<'de> for MemberKey {
    type Value = Option<usize>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl Visitor<'_> for MemberKey {
    type Value = Option<usize>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object key")
    }

    fn visit_str<E: de::Error>(self, key: &str) -> Result<Self::Value, E> {
        Ok(self.0.iter().position(|(name, _)| *name == key))
    }
}

/// An annotation key: `Some(key)` when it ends in `/<suffix>` for a suffix to keep.
struct SuffixKey(&'static [&'static str]);

impl<'de> DeserializeSeed<'de> for SuffixKey {
    type Value = Option<String>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl Visitor<'_> for SuffixKey {
    type Value = Option<String>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object key")
    }

    fn visit_str<E: de::Error>(self, key: &str) -> Result<Self::Value, E> {
        let wanted = self.0.iter().any(|suffix| {
            key.strip_suffix(suffix)
                .is_some_and(|rest| rest.ends_with('/'))
        });
        Ok(wanted.then(|| key.to_owned()))
    }
}

/// Parses a dropped value as thoroughly as a [`Value`] would be parsed (numbers in range,
/// escapes valid, nesting within the deserialiser's limit) without storing anything, so a
/// body the full parse refused is still refused. (`IgnoredAny` only skips over the text.)
struct Validate;

impl<'de> DeserializeSeed<'de> for Validate {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Deserialize<'de> for Validate {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(Validate).map(|()| Validate)
    }
}

impl<'de> Visitor<'de> for Validate {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any valid JSON value")
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        Ok(())
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        Ok(())
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
        Ok(())
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        Ok(())
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<(), E> {
        Ok(())
    }

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_none<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element::<Validate>()?.is_some() {}
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while map.next_entry::<Validate, Validate>()?.is_some() {}
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pruned(text: &str) -> Value {
        serde_json::from_str::<PrunedPod>(text)
            .map(|p| p.0)
            .unwrap()
    }

    #[test]
    fn keeps_only_what_the_planner_reads() {
        let pod = json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "p", "namespace": "ns",
                         "labels": {"app": "x", "eks.amazonaws.com/pod-identity": "enabled"},
                         "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{...}",
                                         "corp.example/skip-containers": "a",
                                         "eks.amazonaws.com/token-expiration": "3600",
                                         "token-expiration": "no prefix, never read"}},
            "spec": {"serviceAccountName": "sa", "nodeSelector": {"kubernetes.io/os": "linux", "zone": "a"},
                     "containers": [{"name": "c", "image": "i", "env": [{"name": "A", "value": "x"}],
                                     "volumeMounts": [{"name": "v", "mountPath": "/v"}]}, "oops"],
                     "volumes": [{"name": "v", "emptyDir": {}}, 7],
                     "initContainers": null,
                     "restartPolicy": "Always"}
        });
        assert_eq!(
            pruned(&pod.to_string()),
            json!({
                "metadata": {"namespace": "ns",
                             "labels": {"eks.amazonaws.com/pod-identity": "enabled"},
                             "annotations": {"corp.example/skip-containers": "a",
                                             "eks.amazonaws.com/token-expiration": "3600"}},
                "spec": {"serviceAccountName": "sa", "nodeSelector": {"kubernetes.io/os": "linux"},
                         "containers": [{"name": "c", "env": [{"name": "A"}],
                                         "volumeMounts": [{"name": "v"}]}, "oops"],
                         "volumes": [{"name": "v"}, 7],
                         "initContainers": null}
            })
        );
    }

    #[test]
    fn nodes_of_an_unexpected_type_are_kept_whole() {
        let text = r#"{"metadata": [1, {"a": 2}], "spec": {"containers": {"name": "c", "x": [1.5]}, "volumes": "v"}}"#;
        let full: Value = serde_json::from_str(text).unwrap();
        assert_eq!(pruned(text), full);
        assert_eq!(pruned("\"pod\""), json!("pod"));
        assert_eq!(pruned("[1]"), json!([1]));
    }

    #[test]
    fn dropped_parts_are_validated_like_a_full_parse() {
        for bad in [
            r#"{"spec": {"x": 1e999}}"#,
            r#"{"spec": {"x": "\ud800"}}"#,
            r#"{"spec": {"x": [1,]}}"#,
        ] {
            let full = serde_json::from_str::<Value>(bad).unwrap_err().to_string();
            let pruned = serde_json::from_str::<PrunedPod>(bad)
                .unwrap_err()
                .to_string();
            assert_eq!(pruned, full, "{bad}");
        }
        let deep = format!(
            r#"{{"spec": {{"x": {}{}}}}}"#,
            "[".repeat(200),
            "]".repeat(200)
        );
        let full = serde_json::from_str::<Value>(&deep)
            .unwrap_err()
            .to_string();
        let pruned = serde_json::from_str::<PrunedPod>(&deep)
            .unwrap_err()
            .to_string();
        assert_eq!(pruned, full);
    }
}
