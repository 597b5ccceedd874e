//! What the control plane needs, in the ConfigMap `CLUSTER-irsa`.
//!
//! Another controller (or a person) renders kube-apiserver from it: the issuer flag, the full
//! flag lines, and `keys-hash`, which changes exactly when `keys.json` changes, so a
//! master roll can be triggered by watching one value. It holds no secret: the private key's
//! *path* appears in the flags, never its bytes.

use std::collections::BTreeMap;

use irsa_jose::apiserver::{ApiserverFlagsInput, apiserver_flags};

use crate::engine::Converged;
use crate::keys::ClusterKeys;

/// Data keys of the ConfigMap.
pub mod data_keys {
    /// The issuer URL.
    pub const ISSUER: &str = "issuer";
    /// The IAM OIDC provider ARN.
    pub const PROVIDER_ARN: &str = "provider-arn";
    /// The S3 bucket.
    pub const BUCKET: &str = "bucket";
    /// The `--service-account-issuer` value.
    pub const SERVICE_ACCOUNT_ISSUER: &str = "service-account-issuer";
    /// The kube-apiserver flag lines.
    pub const APISERVER_FLAGS: &str = "apiserver-flags";
    /// Hex SHA-256 of the published `keys.json`.
    pub const KEYS_HASH: &str = "keys-hash";
    /// The last `irsa.io/rotate-signing-key` value handled.
    pub const ROTATED_FOR: &str = "rotated-for";
}

/// Where the Giant Swarm key Secret's files are expected on the control-plane nodes.
pub const GS_KEY_DIR: &str = "/etc/kubernetes/pki/irsa";
/// Where kubeadm (Cluster API) keeps the service-account key on the control-plane nodes.
pub const CAPA_KEY_DIR: &str = "/etc/kubernetes/pki";

/// Name of the ConfigMap.
pub fn config_map_name(cluster: &str) -> String {
    format!("{cluster}-irsa")
}

/// Hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, bytes).as_ref())
}

/// The ConfigMap data for a converged cluster.
pub fn config_map_data(
    converged: &Converged,
    keys: &ClusterKeys,
    key_dir: &str,
) -> BTreeMap<String, String> {
    let flags = apiserver_flags(&ApiserverFlagsInput {
        issuer: converged.issuer.clone(),
        previous_issuers: Vec::new(),
        signing_key: format!("{key_dir}/{}", keys.private_key_file),
        public_keys: keys
            .public_key_files
            .iter()
            .map(|f| format!("{key_dir}/{f}"))
            .collect(),
        api_audiences: Vec::new(),
    });
    let mut data = BTreeMap::from([
        (data_keys::ISSUER.to_string(), converged.issuer.clone()),
        (
            data_keys::PROVIDER_ARN.to_string(),
            converged.provider_arn.clone(),
        ),
        (data_keys::BUCKET.to_string(), converged.bucket.clone()),
        (
            data_keys::SERVICE_ACCOUNT_ISSUER.to_string(),
            converged.issuer.clone(),
        ),
        (
            data_keys::APISERVER_FLAGS.to_string(),
            flags.flags.join("\n") + "\n",
        ),
        (
            data_keys::KEYS_HASH.to_string(),
            sha256_hex(&converged.keys_json),
        ),
    ]);
    if let Some(r) = &keys.rotated_for {
        data.insert(data_keys::ROTATED_FOR.to_string(), r.clone());
    }
    data
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_has_every_documented_key_and_no_key_material() {
        let keys = crate::keys::new_key_data().unwrap();
        let (public_keys, public_key_files) =
            crate::keys::public_keys_from_data("c-irsa-signing-key", &keys).unwrap();
        let ck = ClusterKeys {
            public_keys,
            public_key_files,
            private_key_file: "sa.key".into(),
            rotated_for: Some("r1".into()),
            created: true,
            rotated: false,
        };
        let conv = Converged {
            issuer: "https://s3.eu-west-1.amazonaws.com/123456789012-g8s-c-oidc-pod-identity".into(),
            provider_arn: "arn:aws:iam::123456789012:oidc-provider/s3.eu-west-1.amazonaws.com/123456789012-g8s-c-oidc-pod-identity".into(),
            bucket: "123456789012-g8s-c-oidc-pod-identity".into(),
            keys_json: b"{\"keys\":[]}".to_vec(),
            mutating_calls: 0,
        };
        let data = config_map_data(&conv, &ck, GS_KEY_DIR);
        assert_eq!(
            data.keys().map(String::as_str).collect::<Vec<_>>(),
            [
                "apiserver-flags",
                "bucket",
                "issuer",
                "keys-hash",
                "provider-arn",
                "rotated-for",
                "service-account-issuer"
            ]
        );
        assert_eq!(data["keys-hash"], sha256_hex(b"{\"keys\":[]}"));
        assert_eq!(data["keys-hash"].len(), 64);
        let flags = &data["apiserver-flags"];
        assert!(flags.contains(&format!("--service-account-issuer={}\n", conv.issuer)));
        assert!(
            flags.contains("--service-account-signing-key-file=/etc/kubernetes/pki/irsa/sa.key\n")
        );
        assert!(flags.contains("--service-account-key-file=/etc/kubernetes/pki/irsa/sa.pub\n"));
        for v in data.values() {
            assert!(!v.contains("PRIVATE KEY"));
        }
    }
}
