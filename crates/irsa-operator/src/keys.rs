//! The cluster's service-account signing key, kept in a Kubernetes Secret.
//!
//! Giant Swarm clusters get a key the operator generates, in `CLUSTER-irsa-signing-key`
//! (`sa.key` PKCS#8, `sa.pub` SPKI, and `previous-N.pub` for every key rotated out, oldest
//! `previous-1`). Cluster API clusters already have one, made by Cluster API in `CLUSTER-sa`
//! (`tls.key`/`tls.crt`), and the operator only reads it: kube-apiserver already signs with it.
//!
//! Rotation is requested with a new value of `irsa.io/rotate-signing-key`. The value handled
//! is written on the Secret (annotation `irsa.io/rotated-for`) in the same write that stores
//! the new key, and later in the ConfigMap; a restart between the two writes therefore never
//! rotates twice. Key bytes never leave this module except into the Secret.

use std::collections::BTreeMap;

use irsa_jose::keys::{KeySpec, RsaBits, parse_private_key_pem, parse_public_keys_pem};
use irsa_jose::{PrivateKey, PublicKey};
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, ObjectMeta, PostParams};
use kube::{Resource, ResourceExt};

use crate::{Error, ROTATED_FOR_ANNOTATION, managed_labels};

/// Data key of the private key (PKCS#8 PEM).
pub const PRIVATE_KEY: &str = "sa.key";
/// Data key of the current public key (SPKI PEM).
pub const PUBLIC_KEY: &str = "sa.pub";
/// Data-key prefix of rotated-out public keys (`previous-1.pub`, …).
pub const PREVIOUS_PREFIX: &str = "previous-";
/// Cluster API's service-account key Secret: private key.
pub const CAPA_PRIVATE_KEY: &str = "tls.key";

/// Name of the Secret holding a Giant Swarm cluster's signing key.
pub fn signing_key_secret_name(cluster: &str) -> String {
    format!("{cluster}-irsa-signing-key")
}

/// Name of Cluster API's service-account key Secret.
pub fn capa_secret_name(cluster: &str) -> String {
    format!("{cluster}-sa")
}

/// The public keys to publish and how the key Secret was handled this pass.
#[derive(Debug, Clone)]
pub struct ClusterKeys {
    /// Current key first, then rotated-out keys from newest to oldest.
    pub public_keys: Vec<PublicKey>,
    /// Files of `public_keys` (data-key names), in the same order.
    pub public_key_files: Vec<String>,
    /// The private key's data-key name.
    pub private_key_file: String,
    /// The last rotation request handled (the Secret's record).
    pub rotated_for: Option<String>,
    /// Whether this pass created the key.
    pub created: bool,
    /// Whether this pass rotated the key.
    pub rotated: bool,
}

fn key_error(secret: &str, reason: impl std::fmt::Display) -> Error {
    Error::SigningKey {
        secret: secret.to_string(),
        reason: reason.to_string(),
    }
}

fn generate() -> Result<(String, String), String> {
    let key = PrivateKey::generate(KeySpec::Rsa(RsaBits::B2048)).map_err(|e| e.to_string())?;
    let private = key.to_pkcs8_pem().map_err(|e| e.to_string())?;
    let public = key.public_key().map_err(|e| e.to_string())?.to_pem();
    Ok((private, public))
}

fn previous_index(data_key: &str) -> Option<u32> {
    data_key
        .strip_prefix(PREVIOUS_PREFIX)?
        .strip_suffix(".pub")?
        .parse()
        .ok()
}

/// A fresh key's Secret data.
pub fn new_key_data() -> Result<BTreeMap<String, ByteString>, String> {
    let (private, public) = generate()?;
    Ok(BTreeMap::from([
        (PRIVATE_KEY.to_string(), ByteString(private.into_bytes())),
        (PUBLIC_KEY.to_string(), ByteString(public.into_bytes())),
    ]))
}

/// The data after a rotation: a new key, the old public key kept as the next
/// `previous-N.pub`.
pub fn rotated_data(
    secret: &str,
    old: &BTreeMap<String, ByteString>,
) -> Result<BTreeMap<String, ByteString>, Error> {
    let old_public = current_public_key(secret, old)?;
    let next = old
        .keys()
        .filter_map(|k| previous_index(k))
        .max()
        .unwrap_or(0)
        + 1;
    let mut data: BTreeMap<String, ByteString> = old
        .iter()
        .filter(|(k, _)| previous_index(k).is_some())
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    data.insert(
        format!("{PREVIOUS_PREFIX}{next}.pub"),
        ByteString(old_public.to_pem().into_bytes()),
    );
    data.extend(new_key_data().map_err(|e| key_error(secret, e))?);
    Ok(data)
}

/// The current public key: derived from the private key (what kube-apiserver signs with).
fn current_public_key(
    secret: &str,
    data: &BTreeMap<String, ByteString>,
) -> Result<PublicKey, Error> {
    let private = data
        .get(PRIVATE_KEY)
        .ok_or_else(|| key_error(secret, format!("has no `{PRIVATE_KEY}` data key")))?;
    let key = parse_private_key_pem(&format!("{secret}/{PRIVATE_KEY}"), &private.0)
        .map_err(|e| key_error(secret, e))?;
    key.public_key().map_err(|e| key_error(secret, e))
}

/// The keys to publish from a Giant Swarm key Secret's data.
pub fn public_keys_from_data(
    secret: &str,
    data: &BTreeMap<String, ByteString>,
) -> Result<(Vec<PublicKey>, Vec<String>), Error> {
    let mut keys = vec![current_public_key(secret, data)?];
    let mut files = vec![PUBLIC_KEY.to_string()];
    let mut previous: Vec<(u32, &String, &ByteString)> = data
        .iter()
        .filter_map(|(k, v)| previous_index(k).map(|i| (i, k, v)))
        .collect();
    previous.sort_by_key(|p| std::cmp::Reverse(p.0));
    for (_, name, bytes) in previous {
        let parsed = parse_public_keys_pem(&format!("{secret}/{name}"), &bytes.0)
            .map_err(|e| key_error(secret, e))?;
        for key in parsed {
            if !keys.iter().any(|k| k.kid() == key.kid()) {
                keys.push(key);
                files.push(name.clone());
            }
        }
    }
    Ok((keys, files))
}

fn owned_secret<K: Resource<DynamicType = ()>>(
    owner: &K,
    name: &str,
    data: BTreeMap<String, ByteString>,
    rotated_for: Option<&str>,
) -> Secret {
    Secret {
        metadata: ObjectMeta {
            name: Some(name.to_string()),
            namespace: owner.meta().namespace.clone(),
            owner_references: owner.controller_owner_ref(&()).map(|r| vec![r]),
            labels: Some(managed_labels()),
            annotations: rotated_for
                .map(|v| BTreeMap::from([(ROTATED_FOR_ANNOTATION.to_string(), v.to_string())])),
            ..ObjectMeta::default()
        },
        type_: Some("Opaque".to_string()),
        data: Some(data),
        ..Secret::default()
    }
}

/// Loads the Giant Swarm signing key, creating it when absent and rotating it when
/// `rotate_request` is a value not handled yet (`handled` is the ConfigMap's record).
pub async fn ensure_signing_key<K: Resource<DynamicType = ()>>(
    secrets: &Api<Secret>,
    owner: &K,
    cluster: &str,
    rotate_request: Option<&str>,
    handled: Option<&str>,
) -> Result<ClusterKeys, Error> {
    let name = signing_key_secret_name(cluster);
    let (secret, created, rotated) = match secrets.get_opt(&name).await? {
        None => {
            let data = new_key_data().map_err(|e| key_error(&name, e))?;
            // A fresh key needs no rotation: the request it carries counts as handled.
            let secret = owned_secret(owner, &name, data, rotate_request.or(handled));
            let created = secrets.create(&PostParams::default(), &secret).await?;
            (created, true, false)
        }
        Some(existing) => {
            let recorded = existing
                .annotations()
                .get(ROTATED_FOR_ANNOTATION)
                .map(String::as_str)
                .or(handled);
            match rotate_request {
                Some(request) if Some(request) != recorded => {
                    let old = existing.data.clone().unwrap_or_default();
                    let data = rotated_data(&name, &old)?;
                    let mut replacement = owned_secret(owner, &name, data, Some(request));
                    replacement.metadata.resource_version = existing.resource_version();
                    replacement.metadata.owner_references = existing
                        .metadata
                        .owner_references
                        .clone()
                        .or(replacement.metadata.owner_references);
                    let replaced = secrets
                        .replace(&name, &PostParams::default(), &replacement)
                        .await?;
                    (replaced, false, true)
                }
                _ => (existing, false, false),
            }
        }
    };
    let rotated_for = secret
        .annotations()
        .get(ROTATED_FOR_ANNOTATION)
        .cloned()
        .or_else(|| handled.map(str::to_string));
    let data = secret.data.unwrap_or_default();
    let (public_keys, public_key_files) = public_keys_from_data(&name, &data)?;
    Ok(ClusterKeys {
        public_keys,
        public_key_files,
        private_key_file: PRIVATE_KEY.to_string(),
        rotated_for,
        created,
        rotated,
    })
}

/// Reads Cluster API's key; `None` while Cluster API has not created the Secret yet.
pub async fn capa_key(secrets: &Api<Secret>, cluster: &str) -> Result<Option<ClusterKeys>, Error> {
    let name = capa_secret_name(cluster);
    let Some(secret) = secrets.get_opt(&name).await? else {
        return Ok(None);
    };
    let data = secret.data.unwrap_or_default();
    let private = data
        .get(CAPA_PRIVATE_KEY)
        .ok_or_else(|| key_error(&name, format!("has no `{CAPA_PRIVATE_KEY}` data key")))?;
    let key = parse_private_key_pem(&format!("{name}/{CAPA_PRIVATE_KEY}"), &private.0)
        .map_err(|e| key_error(&name, e))?;
    let public = key.public_key().map_err(|e| key_error(&name, e))?;
    Ok(Some(ClusterKeys {
        public_keys: vec![public],
        public_key_files: vec!["sa.pub".to_string()],
        private_key_file: "sa.key".to_string(),
        rotated_for: None,
        created: false,
        rotated: false,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotation_keeps_every_previous_key_newest_first() {
        let first = new_key_data().unwrap();
        let (k1, _) = public_keys_from_data("s", &first).unwrap();
        let second = rotated_data("s", &first).unwrap();
        let third = rotated_data("s", &second).unwrap();
        assert!(third.contains_key("previous-1.pub"));
        assert!(third.contains_key("previous-2.pub"));
        let (k2, _) = public_keys_from_data("s", &second).unwrap();
        let (k3, files) = public_keys_from_data("s", &third).unwrap();
        assert_eq!(k3.len(), 3);
        assert_eq!(files, ["sa.pub", "previous-2.pub", "previous-1.pub"]);
        assert_eq!(k3[1].kid(), k2[0].kid());
        assert_eq!(k3[2].kid(), k1[0].kid());
        assert_ne!(k3[0].kid(), k2[0].kid());
        let pem = String::from_utf8(third[PRIVATE_KEY].0.clone()).unwrap();
        assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----"));
        let public = String::from_utf8(third[PUBLIC_KEY].0.clone()).unwrap();
        assert!(public.starts_with("-----BEGIN PUBLIC KEY-----"));
    }

    #[test]
    fn a_secret_without_a_private_key_names_the_secret_and_key() {
        let err = public_keys_from_data("c-irsa-signing-key", &BTreeMap::new()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "signing key Secret c-irsa-signing-key: has no `sa.key` data key"
        );
    }
}
