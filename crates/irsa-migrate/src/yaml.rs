//! An ordered YAML tree that keeps what serde-saphyr lets it keep.
//!
//! Migration rewrites a few annotations in files people maintain by hand, so the output
//! must look like the input: keys stay in their order (a `serde_json::Value` would sort
//! them), scalars keep their type under the YAML 1.2 core schema (`no`, `on`, `012` stay
//! strings, as in `irsa mutate`), and comments survive where serde-saphyr can carry them.
//!
//! Comments: serde-saphyr hands a comment to the value it belongs to (`Commented`), and
//! writes it back only after a scalar, in block style. So an end-of-line comment after a
//! scalar survives in place; a comment on its own line above a scalar key survives, moved to
//! the end of that key's line; a comment above a whole document is written back above it.
//! Comments attached to a mapping or a sequence (above `spec:`, say) are dropped: the
//! library has no place to write them. Anchors and aliases are expanded.

use std::fmt;

use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::ser::{SerializeMap, SerializeSeq, Serializer};
use serde::{Deserialize, Serialize};
use serde_saphyr::Commented;

/// One YAML value.
#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    /// `null`, `~` or nothing.
    Null,
    /// `true` / `false`.
    Bool(bool),
    /// A negative integer.
    Int(i64),
    /// A non-negative integer.
    UInt(u64),
    /// A float.
    Float(f64),
    /// A string.
    Str(String),
    /// A sequence.
    Seq(Vec<Item>),
    /// A mapping with string keys, in document order.
    Map(Vec<(String, Item)>),
}

/// A value and the comment serde-saphyr attached to it (empty when none).
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    /// The value.
    pub node: Node,
    /// The comment, without `#`.
    pub comment: String,
}

impl Item {
    /// A value without a comment.
    #[must_use]
    pub fn new(node: Node) -> Self {
        Self {
            node,
            comment: String::new(),
        }
    }
}

impl From<Node> for Item {
    fn from(node: Node) -> Self {
        Self::new(node)
    }
}

impl Node {
    /// A string node.
    #[must_use]
    pub fn str(s: impl Into<String>) -> Self {
        Self::Str(s.into())
    }

    /// The string, if this is one.
    #[must_use]
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Self::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The value under `key`, if this is a mapping that has it.
    #[must_use]
    pub fn get(&self, key: &str) -> Option<&Node> {
        match self {
            Self::Map(entries) => entries.iter().find(|(k, _)| k == key).map(|(_, v)| &v.node),
            _ => None,
        }
    }

    /// Mutable access to the value under `key`.
    pub fn get_mut(&mut self, key: &str) -> Option<&mut Node> {
        match self {
            Self::Map(entries) => entries
                .iter_mut()
                .find(|(k, _)| k == key)
                .map(|(_, v)| &mut v.node),
            _ => None,
        }
    }

    /// The value at a path of mapping keys.
    #[must_use]
    pub fn path(&self, keys: &[&str]) -> Option<&Node> {
        keys.iter().try_fold(self, |node, key| node.get(key))
    }

    /// Mutable access to the value at a path of mapping keys.
    pub fn path_mut(&mut self, keys: &[&str]) -> Option<&mut Node> {
        let mut node = self;
        for key in keys {
            node = node.get_mut(key)?;
        }
        Some(node)
    }

    /// The string at a path, if there is one.
    #[must_use]
    pub fn str_at(&self, keys: &[&str]) -> Option<&str> {
        self.path(keys).and_then(Node::as_str)
    }

    /// Sets `key` to `value` in this mapping: in place when the key exists (its comment is
    /// kept), appended otherwise. A null value becomes an empty mapping first. Returns false
    /// when this is neither a mapping nor null.
    pub fn set(&mut self, key: &str, value: Node) -> bool {
        if *self == Node::Null {
            *self = Node::Map(Vec::new());
        }
        let Self::Map(entries) = self else {
            return false;
        };
        match entries.iter_mut().find(|(k, _)| k == key) {
            Some((_, item)) => item.node = value,
            None => entries.push((key.to_owned(), Item::new(value))),
        }
        true
    }

    /// Replaces the entry `old` by `new` = `value` at the same position (appends when `old`
    /// is absent). Used so that a migration and its rollback give back the same key order.
    pub fn rename(&mut self, old: &str, new: &str, value: Node) -> bool {
        if *self == Node::Null {
            *self = Node::Map(Vec::new());
        }
        let Self::Map(entries) = self else {
            return false;
        };
        match entries.iter_mut().find(|(k, _)| k == old) {
            Some(entry) => {
                entry.0 = new.to_owned();
                entry.1.node = value;
                true
            }
            None => self.set(new, value),
        }
    }

    /// Removes `key` from this mapping and returns its value.
    pub fn remove(&mut self, key: &str) -> Option<Node> {
        let Self::Map(entries) = self else {
            return None;
        };
        let index = entries.iter().position(|(k, _)| k == key)?;
        Some(entries.remove(index).1.node)
    }

    /// The mapping at `keys`, created (with every missing parent) when absent or null.
    /// `None` when something on the way is not a mapping.
    pub fn ensure_map(&mut self, keys: &[&str]) -> Option<&mut Node> {
        let mut node = self;
        for key in keys {
            if *node == Node::Null {
                *node = Node::Map(Vec::new());
            }
            let Node::Map(entries) = node else {
                return None;
            };
            let index = match entries.iter().position(|(k, _)| k == key) {
                Some(i) => i,
                None => {
                    entries.push(((*key).to_owned(), Item::new(Node::Map(Vec::new()))));
                    entries.len() - 1
                }
            };
            node = &mut entries[index].1.node;
        }
        if *node == Node::Null {
            *node = Node::Map(Vec::new());
        }
        matches!(node, Node::Map(_)).then_some(node)
    }

    /// Whether this is a mapping without entries.
    #[must_use]
    pub fn is_empty_map(&self) -> bool {
        matches!(self, Node::Map(entries) if entries.is_empty())
    }
}

/// Read options: the YAML 1.2 core schema, so YAML 1.1 look-alikes stay strings.
fn options() -> serde_saphyr::Options {
    serde_saphyr::options! {
        strict_booleans: true,
        leading_zero_numbers_as_strings: true,
    }
}

/// Parses a multi-document YAML stream (empty documents are skipped).
pub fn parse_documents(text: &str) -> Result<Vec<Item>, serde_saphyr::Error> {
    serde_saphyr::from_multiple_with_options(text, options())
}

/// Writes documents as one YAML stream, `---` between documents, a document's own comment
/// on the lines above it.
pub fn write_documents(docs: &[Item]) -> Result<String, serde_saphyr::SerializeError> {
    let mut out = String::new();
    for (i, doc) in docs.iter().enumerate() {
        if i > 0 {
            out.push_str("---\n");
        }
        if !doc.comment.is_empty() && !is_scalar(&doc.node) {
            for line in doc.comment.lines() {
                out.push_str("# ");
                out.push_str(line);
                out.push('\n');
            }
        }
        out.push_str(&serde_saphyr::to_string(doc)?);
    }
    Ok(out)
}

fn is_scalar(node: &Node) -> bool {
    !matches!(node, Node::Seq(_) | Node::Map(_))
}

impl<'de> Deserialize<'de> for Item {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let Commented(node, comment) = Commented::<Node>::deserialize(d)?;
        Ok(Item { node, comment })
    }
}

impl Serialize for Item {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if self.comment.is_empty() || !is_scalar(&self.node) {
            self.node.serialize(s)
        } else {
            Commented(&self.node, self.comment.clone()).serialize(s)
        }
    }
}

struct NodeVisitor;

impl<'de> Visitor<'de> for NodeVisitor {
    type Value = Node;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a YAML value with string keys")
    }
    fn visit_unit<E: de::Error>(self) -> Result<Node, E> {
        Ok(Node::Null)
    }
    fn visit_none<E: de::Error>(self) -> Result<Node, E> {
        Ok(Node::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Node, D::Error> {
        Node::deserialize(d)
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Node, E> {
        Ok(Node::Bool(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Node, E> {
        Ok(if v >= 0 {
            Node::UInt(v.unsigned_abs())
        } else {
            Node::Int(v)
        })
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Node, E> {
        Ok(Node::UInt(v))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Node, E> {
        Ok(Node::Float(v))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Node, E> {
        Ok(Node::Str(v.to_owned()))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Node, E> {
        Ok(Node::Str(v))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut a: A) -> Result<Node, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = a.next_element::<Item>()? {
            items.push(item);
        }
        Ok(Node::Seq(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut a: A) -> Result<Node, A::Error> {
        let mut entries: Vec<(String, Item)> = Vec::new();
        while let Some(key) = a.next_key::<String>()? {
            let value = a.next_value::<Item>()?;
            entries.push((key, value));
        }
        Ok(Node::Map(entries))
    }
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(NodeVisitor)
    }
}

impl Serialize for Node {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Node::Null => s.serialize_unit(),
            Node::Bool(b) => s.serialize_bool(*b),
            Node::Int(i) => s.serialize_i64(*i),
            Node::UInt(u) => s.serialize_u64(*u),
            Node::Float(f) => s.serialize_f64(*f),
            Node::Str(v) => s.serialize_str(v),
            Node::Seq(items) => {
                let mut seq = s.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
            Node::Map(entries) => {
                let mut map = s.serialize_map(Some(entries.len()))?;
                for (key, value) in entries {
                    map.serialize_entry(key, value)?;
                }
                map.end()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_types_and_scalar_comments_survive() {
        let text = "# the app\napiVersion: apps/v1 # pinned\nkind: Deployment\nmetadata:\n  name: app\n  annotations:\n    x: \"no\"\n    y: 012\n    z: on\n    w: true\nspec:\n  replicas: 2\n  list:\n  - b # first\n  - a\n  empty: {}\n  n: null\n  f: 1.5\n  neg: -3\n---\napiVersion: v1\nkind: ServiceAccount\n";
        let docs = parse_documents(text).expect("parse");
        assert_eq!(docs.len(), 2);
        let out = write_documents(&docs).expect("write");
        assert!(out.starts_with("# the app\napiVersion: apps/v1 # pinned\nkind: Deployment\nmetadata:\n  name: app\n"), "{out}");
        assert!(out.contains("- b # first\n"), "{out}");
        assert_eq!(parse_documents(&out).expect("reparse"), docs, "{out}");
        let d = &docs[0].node;
        assert_eq!(d.str_at(&["metadata", "annotations", "x"]), Some("no"));
        assert_eq!(d.str_at(&["metadata", "annotations", "y"]), Some("012"));
        assert_eq!(d.str_at(&["metadata", "annotations", "z"]), Some("on"));
        assert_eq!(
            d.path(&["metadata", "annotations", "w"]),
            Some(&Node::Bool(true))
        );
        assert_eq!(d.path(&["spec", "neg"]), Some(&Node::Int(-3)));
    }

    #[test]
    fn rename_keeps_position_and_set_appends() {
        let mut n = parse_documents("a: 1\nb: 2\nc: 3\n")
            .expect("parse")
            .remove(0)
            .node;
        assert!(n.rename("b", "x", Node::str("z")));
        assert!(n.set("d", Node::UInt(4)));
        let out = write_documents(&[Item::new(n.clone())]).expect("write");
        assert_eq!(out, "a: 1\nx: z\nc: 3\nd: 4\n");
        assert_eq!(n.remove("x"), Some(Node::str("z")));
        let mut null = Node::Null;
        assert!(null.ensure_map(&["metadata", "annotations"]).is_some());
        assert_eq!(
            null.path(&["metadata", "annotations"]),
            Some(&Node::Map(vec![]))
        );
    }
}
