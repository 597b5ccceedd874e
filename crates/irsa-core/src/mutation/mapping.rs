//! The two optional sources of identities besides ServiceAccount annotations.
//!
//! * [`RoleMapping`]: the `pod-identity-webhook` ConfigMap (`--watch-config-map`), key `config`,
//!   a JSON object `{"<namespace>/<serviceAccount>": {"RoleARN": ..., ...}}` where the namespace
//!   may be `*`. Upstream crashed on a key without `/`; here every malformed entry is skipped
//!   with a warning and the good ones are kept, so one typo never disables the others.
//! * [`ContainerCredentialsConfig`]: the `--watch-container-credentials-config` file,
//!   `{"identities":[{"namespace":"ns","serviceAccount":"sa"}]}`.
//!
//! Field names follow Go `encoding/json`: an exact match wins, otherwise a case-insensitive one,
//! and unknown fields are ignored.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde_json::{Map, Value};

/// Name of the ConfigMap upstream watches.
pub const CONFIG_MAP_NAME: &str = "pod-identity-webhook";
/// Data key of the ConfigMap holding the JSON mapping.
pub const CONFIG_MAP_KEY: &str = "config";
/// Namespace wildcard accepted in mapping keys.
pub const ANY_NAMESPACE: &str = "*";

/// Why a mapping document as a whole could not be read (entries are skipped, not failed).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum MappingError {
    /// The ConfigMap has no `config` key.
    #[error("ConfigMap {CONFIG_MAP_NAME} has no data key `{CONFIG_MAP_KEY}`")]
    MissingConfigKey,
    /// The document is not JSON.
    #[error("{source_name} is not valid JSON: {reason}")]
    InvalidJson {
        /// What was being parsed.
        source_name: &'static str,
        /// The parser's message.
        reason: String,
    },
    /// The document is JSON but not an object at the top level.
    #[error("{source_name} must be a JSON object at the top level, found {found}")]
    NotAnObject {
        /// What was being parsed.
        source_name: &'static str,
        /// JSON type found instead.
        found: &'static str,
    },
}

/// One ConfigMap entry. Unlike ServiceAccount annotations, missing fields do not fall back to
/// the flags (upstream's behaviour): audience defaults to empty (the volume then omits it) and
/// regional STS to false; a `TokenExpiration` of 0 means "use the flag".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MappingEntry {
    /// `RoleARN`, used verbatim.
    pub role_arn: String,
    /// `Audience`: the projected token's audience for this service account.
    pub audience: String,
    /// `UseRegionalSTS`: inject `AWS_STS_REGIONAL_ENDPOINTS=regional`.
    pub use_regional_sts: bool,
    /// `TokenExpiration` in seconds (0 = flag value).
    pub token_expiration: i64,
}

/// The ConfigMap role mapping, keyed by `(namespace, serviceAccount)`; namespace may be `*`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RoleMapping {
    entries: HashMap<(String, String), MappingEntry>,
}

impl RoleMapping {
    /// Parses the JSON stored under the `config` key. Returns the mapping of every well-formed
    /// entry plus one warning per skipped entry; fails only when the whole document is unusable
    /// (then the caller keeps its previous mapping, as upstream does).
    pub fn parse(json: &str) -> Result<(Self, Vec<String>), MappingError> {
        let object = parse_json_object(json, "ConfigMap pod-identity-webhook key `config`")?;
        let mut mapping = Self::default();
        let mut warnings = Vec::new();
        for (key, value) in &object {
            match parse_entry(key, value) {
                Ok((namespace, name, entry)) => {
                    mapping.entries.insert((namespace, name), entry);
                }
                Err(reason) => warnings.push(format!("skipping ConfigMap entry {key:?}: {reason}")),
            }
        }
        Ok((mapping, warnings))
    }

    /// Parses a ConfigMap's `data`, reading the `config` key.
    pub fn from_config_map_data(
        data: &BTreeMap<String, String>,
    ) -> Result<(Self, Vec<String>), MappingError> {
        let json = data
            .get(CONFIG_MAP_KEY)
            .ok_or(MappingError::MissingConfigKey)?;
        Self::parse(json)
    }

    /// The entry for `namespace/name`, else for `*/name` (upstream's lookup order).
    #[must_use]
    pub fn get(&self, namespace: &str, name: &str) -> Option<&MappingEntry> {
        self.get_exact(namespace, name)
            .or_else(|| self.get_exact(ANY_NAMESPACE, name))
    }

    /// The entry for exactly `namespace/name` (no wildcard), used by container-credentials mode.
    #[must_use]
    pub fn get_exact(&self, namespace: &str, name: &str) -> Option<&MappingEntry> {
        self.entries.get(&(namespace.to_owned(), name.to_owned()))
    }

    /// Number of entries.
    #[must_use]
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are no entries.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Adds or replaces one entry (for callers building a mapping in code).
    pub fn insert(&mut self, namespace: &str, name: &str, entry: MappingEntry) {
        self.entries
            .insert((namespace.to_owned(), name.to_owned()), entry);
    }
}

fn parse_entry(key: &str, value: &Value) -> Result<(String, String, MappingEntry), String> {
    // Upstream splits on "/" and uses the first two parts; a key without "/" crashed it.
    let mut parts = key.split('/');
    let namespace = parts.next().unwrap_or_default();
    let Some(name) = parts.next() else {
        return Err("key must be <namespace>/<serviceAccount> (no `/` found)".to_owned());
    };
    if namespace.is_empty() || name.is_empty() {
        return Err(
            "key must be <namespace>/<serviceAccount> with both parts non-empty".to_owned(),
        );
    }
    let Value::Object(fields) = value else {
        return Err(format!(
            "value must be a JSON object, found {}",
            json_type(value)
        ));
    };
    let entry = MappingEntry {
        role_arn: string_field(fields, "RoleARN")?,
        audience: string_field(fields, "Audience")?,
        use_regional_sts: match go_field(fields, "UseRegionalSTS") {
            None | Some(Value::Null) => false,
            Some(Value::Bool(b)) => *b,
            Some(other) => {
                return Err(format!(
                    "UseRegionalSTS must be a boolean, found {}",
                    json_type(other)
                ));
            }
        },
        token_expiration: match go_field(fields, "TokenExpiration") {
            None | Some(Value::Null) => 0,
            Some(Value::Number(n)) => n.as_i64().ok_or_else(|| {
                format!("TokenExpiration must be an integer number of seconds, found {n}")
            })?,
            Some(other) => {
                return Err(format!(
                    "TokenExpiration must be an integer number of seconds, found {}",
                    json_type(other)
                ));
            }
        },
    };
    Ok((namespace.to_owned(), name.to_owned(), entry))
}

fn string_field(fields: &Map<String, Value>, name: &str) -> Result<String, String> {
    match go_field(fields, name) {
        None | Some(Value::Null) => Ok(String::new()),
        Some(Value::String(s)) => Ok(s.clone()),
        Some(other) => Err(format!(
            "{name} must be a string, found {}",
            json_type(other)
        )),
    }
}

/// Go `encoding/json` field matching: the exact name, else any case-insensitive match.
fn go_field<'a>(fields: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    fields.get(name).or_else(|| {
        fields
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    })
}

/// Parses `text` as a JSON object; errors name `source_name`.
fn parse_json_object(
    text: &str,
    source_name: &'static str,
) -> Result<serde_json::Map<String, Value>, MappingError> {
    let doc: Value = serde_json::from_str(text).map_err(|e| MappingError::InvalidJson {
        source_name,
        reason: e.to_string(),
    })?;
    match doc {
        Value::Object(object) => Ok(object),
        other => Err(MappingError::NotAnObject {
            source_name,
            found: json_type(&other),
        }),
    }
}

pub(crate) fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// The identities that get container credentials (EKS Pod Identity) instead of IRSA.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContainerCredentialsConfig {
    identities: HashSet<(String, String)>,
}

impl ContainerCredentialsConfig {
    /// Parses upstream's file. An empty (or blank) file is an empty set, as upstream treats
    /// a missing or empty file; invalid JSON is an error (the caller keeps the previous set);
    /// entries without a string `namespace` and `serviceAccount` are skipped with a warning.
    pub fn parse(text: &str) -> Result<(Self, Vec<String>), MappingError> {
        if text.trim().is_empty() {
            return Ok((Self::default(), Vec::new()));
        }
        let object = parse_json_object(text, "container-credentials config")?;
        let mut config = Self::default();
        let mut warnings = Vec::new();
        match go_field(&object, "identities") {
            None | Some(Value::Null) => {}
            Some(Value::Array(items)) => {
                for (index, item) in items.iter().enumerate() {
                    let pair = item.as_object().and_then(|o| {
                        let ns = go_field(o, "namespace")?.as_str()?;
                        let sa = go_field(o, "serviceAccount")?.as_str()?;
                        Some((ns.to_owned(), sa.to_owned()))
                    });
                    match pair {
                        Some(pair) => {
                            config.identities.insert(pair);
                        }
                        None => warnings.push(format!(
                            "skipping identities[{index}]: needs string fields `namespace` and `serviceAccount`"
                        )),
                    }
                }
            }
            Some(other) => warnings.push(format!(
                "ignoring `identities`: must be an array, found {}",
                json_type(other)
            )),
        }
        Ok((config, warnings))
    }

    /// Whether `namespace/service_account` is listed (exact match, no wildcard).
    #[must_use]
    pub fn contains(&self, namespace: &str, service_account: &str) -> bool {
        self.identities
            .contains(&(namespace.to_owned(), service_account.to_owned()))
    }

    /// Adds one identity.
    pub fn insert(&mut self, namespace: &str, service_account: &str) {
        self.identities
            .insert((namespace.to_owned(), service_account.to_owned()));
    }

    /// Number of identities.
    #[must_use]
    pub fn len(&self) -> usize {
        self.identities.len()
    }

    /// Whether no identity is listed.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.identities.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_entries_with_go_field_matching_and_wildcard_lookup() {
        let json = r#"{
            "team-a/app": {"RoleARN": "arn:aws:iam::111122223333:role/a", "Audience": "sts.amazonaws.com", "UseRegionalSTS": true, "TokenExpiration": 3600},
            "*/shared": {"rolearn": "arn:aws:iam::111122223333:role/shared", "unknown": 1},
            "team-b/shared": {"RoleARN": "arn:aws:iam::111122223333:role/b-shared"}
        }"#;
        let (m, warnings) = RoleMapping::parse(json).expect("valid");
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!(m.len(), 3);
        let a = m.get("team-a", "app").expect("exact");
        assert_eq!(a.role_arn, "arn:aws:iam::111122223333:role/a");
        assert!(a.use_regional_sts);
        assert_eq!(a.token_expiration, 3600);
        let wild = m.get("anything", "shared").expect("wildcard");
        assert_eq!(wild.role_arn, "arn:aws:iam::111122223333:role/shared");
        assert_eq!(wild.audience, "");
        assert!(!wild.use_regional_sts);
        assert_eq!(
            m.get("team-b", "shared").expect("exact first").role_arn,
            "arn:aws:iam::111122223333:role/b-shared"
        );
        assert!(m.get_exact("anything", "shared").is_none());
        assert!(m.get("team-a", "other").is_none());
    }

    #[test]
    fn malformed_entries_are_skipped_and_reported() {
        let json = r#"{
            "no-slash": {"RoleARN": "x"},
            "ns/": {"RoleARN": "x"},
            "ns/str": "arn",
            "ns/badbool": {"RoleARN": "x", "UseRegionalSTS": "true"},
            "ns/badexp": {"RoleARN": "x", "TokenExpiration": 1.5},
            "ns/badrole": {"RoleARN": 7},
            "ns/good/extra": {"RoleARN": "arn:aws:iam::111122223333:role/good"}
        }"#;
        let (m, warnings) = RoleMapping::parse(json).expect("document is valid");
        assert_eq!(warnings.len(), 6, "{warnings:?}");
        assert!(
            warnings
                .iter()
                .any(|w| w.contains("\"no-slash\"") && w.contains("no `/`"))
        );
        assert_eq!(m.len(), 1);
        assert_eq!(
            m.get("ns", "good").expect("first two segments").role_arn,
            "arn:aws:iam::111122223333:role/good"
        );
    }

    #[test]
    fn unusable_documents_are_errors() {
        assert!(matches!(
            RoleMapping::parse("{"),
            Err(MappingError::InvalidJson { .. })
        ));
        assert_eq!(
            RoleMapping::parse("[]"),
            Err(MappingError::NotAnObject {
                source_name: "ConfigMap pod-identity-webhook key `config`",
                found: "an array"
            })
        );
        assert_eq!(
            RoleMapping::from_config_map_data(&BTreeMap::new()),
            Err(MappingError::MissingConfigKey)
        );
        let data = BTreeMap::from([("config".to_owned(), "{}".to_owned())]);
        assert!(
            RoleMapping::from_config_map_data(&data)
                .expect("empty ok")
                .0
                .is_empty()
        );
    }

    #[test]
    fn container_credentials_file() {
        let (c, w) = ContainerCredentialsConfig::parse(
            r#"{"identities":[{"namespace":"foo","serviceAccount":"bar"},{"namespace":"x"},{"Namespace":"a","ServiceAccount":"b"}]}"#,
        )
        .expect("valid");
        assert_eq!(w.len(), 1);
        assert!(c.contains("foo", "bar"));
        assert!(c.contains("a", "b"));
        assert!(!c.contains("foo", "baz"));
        assert!(!c.contains("*", "bar"));
        assert!(
            ContainerCredentialsConfig::parse("  \n")
                .expect("blank")
                .0
                .is_empty()
        );
        assert!(ContainerCredentialsConfig::parse("{").is_err());
        assert!(ContainerCredentialsConfig::parse("[]").is_err());
    }
}
