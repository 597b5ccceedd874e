//! Local clusters: each is an OIDC issuer with a signing key, as a real cluster's
//! kube-apiserver plus its S3 bucket would be.
//!
//! The issuer defaults to the guide's S3 issuer
//! (`https://s3.REGION.amazonaws.com/ACCOUNT-g8s-CLUSTER-oidc-pod-identity`) so that the
//! tokens, provider ARNs and trust policies used locally are byte-identical to the ones
//! used in AWS. The server also publishes each cluster's discovery document and JWKS under
//! the issuer's path (S3 path style), so `curl` and `irsa doctor` can read them.

use std::collections::BTreeMap;
use std::sync::Arc;

use irsa_core::InvalidValue;
use irsa_core::aws::{AccountId, Partition, Region};
use irsa_core::issuer::ClusterIssuer;
use irsa_jose::{MintRequest, Signer};
use irsa_provision::IssuerDocuments;

use crate::store::ClusterRecord;

/// Why a cluster could not be loaded or a token minted.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    /// The stored key does not parse.
    #[error("cluster {cluster}: signing key: {source}")]
    Key {
        /// Cluster name.
        cluster: String,
        /// What irsa-jose found wrong with the stored key.
        source: irsa_jose::KeyError,
    },
    /// Minting failed (bad namespace/service account name, expiration out of range).
    #[error("cluster {cluster}: {source}")]
    Mint {
        /// Cluster name.
        cluster: String,
        /// Why irsa-jose refused to mint.
        source: irsa_jose::MintError,
    },
    /// A negative or zero expiration.
    #[error("expiration {0} seconds must be positive")]
    Expiration(i64),
    /// The stored account, region or issuer breaks irsa-core's rules (a foreign file).
    #[error("cluster {cluster}: {source}")]
    Identity {
        /// Cluster name.
        cluster: String,
        /// The rule broken.
        source: InvalidValue,
    },
}

/// A cluster's explicit issuer URL: an HTTPS issuer in the partition of `region` (an S3 or
/// `amazonaws.com.cn` host in another partition is an error), or a loopback issuer with a
/// port for tests on this machine.
pub fn parse_issuer(url: &str, region: &Region) -> Result<ClusterIssuer, InvalidValue> {
    if url.starts_with("https://") {
        ClusterIssuer::from_url(url, Some(region.partition()))
            .or_else(|e| ClusterIssuer::parse_local(url).map_err(|_| e))
    } else {
        ClusterIssuer::parse_local(url)
    }
}

/// A cluster ready to mint tokens and publish its keys.
pub struct LocalCluster {
    /// The cluster's name, as in the config and in token requests.
    pub name: String,
    /// Account of the issuer (where its IAM OIDC provider lives).
    pub account: String,
    /// The issuer as irsa-core derives everything from it: partition, provider ARNs,
    /// audience.
    cluster_issuer: ClusterIssuer,
    account_id: AccountId,
    /// AWS region; it decides the partition (`cn-*` is `aws-cn`).
    pub region: String,
    /// Issuer URL as it appears in `iss`.
    pub issuer: String,
    /// The local path under which the documents are served (the issuer's path, without
    /// a trailing slash, or `/_irsa/clusters/NAME` for an issuer without a path).
    pub path_prefix: String,
    signer: Signer,
    documents: IssuerDocuments,
}

impl std::fmt::Debug for LocalCluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalCluster")
            .field("name", &self.name)
            .field("issuer", &self.issuer)
            .field("kid", &self.signer.kid())
            .finish()
    }
}

impl LocalCluster {
    /// Loads a cluster from its stored record.
    pub fn from_record(record: &ClusterRecord) -> Result<Self, ClusterError> {
        let signer = Signer::from_pem(
            &format!("cluster {} key", record.name),
            record.private_key_pem.as_bytes(),
        )
        .map_err(|source| ClusterError::Key {
            cluster: record.name.clone(),
            source,
        })?;
        let identity = |source| ClusterError::Identity {
            cluster: record.name.clone(),
            source,
        };
        let region = Region::parse(&record.region).map_err(identity)?;
        let account_id = AccountId::parse(&record.account).map_err(identity)?;
        let cluster_issuer = parse_issuer(&record.issuer, &region).map_err(identity)?;
        // The bytes `irsa provision` uploads for the same issuer and key.
        let documents = IssuerDocuments::new(&cluster_issuer, &[signer.public_key().clone()]);
        let path = record
            .issuer
            .strip_prefix("https://")
            .or_else(|| record.issuer.strip_prefix("http://"))
            .and_then(|rest| rest.find('/').map(|i| rest[i..].trim_end_matches('/')))
            .unwrap_or_default();
        let path_prefix = if path.is_empty() {
            format!("/_irsa/clusters/{}", record.name)
        } else {
            path.to_string()
        };
        Ok(Self {
            name: record.name.clone(),
            account: record.account.clone(),
            cluster_issuer,
            account_id,
            region: record.region.clone(),
            issuer: record.issuer.clone(),
            path_prefix,
            signer,
            documents,
        })
    }

    /// The key ID of the signing key.
    pub fn kid(&self) -> &str {
        self.signer.kid()
    }

    /// The public key (for verifying this cluster's tokens without HTTP).
    pub fn public_key(&self) -> &irsa_jose::PublicKey {
        self.signer.public_key()
    }

    /// The discovery document and JWKS, byte for byte as `irsa provision` publishes them
    /// for the same issuer and key.
    pub fn documents(&self) -> &IssuerDocuments {
        &self.documents
    }

    /// The account of the issuer, validated.
    pub fn account_id(&self) -> &AccountId {
        &self.account_id
    }

    /// The partition of the cluster's region: that of its provider ARNs.
    pub fn partition(&self) -> Partition {
        self.cluster_issuer.partition()
    }

    /// The audience of the cluster's partition: its providers' client ID, the `:aud` of
    /// its generated trust policies and the default audience of its tokens.
    pub fn default_audience(&self) -> &'static str {
        self.partition().default_audience()
    }

    /// The ARN of the cluster's IAM OIDC provider in `account`.
    pub fn provider_arn(&self, account: &AccountId) -> String {
        self.cluster_issuer.provider_arn(account).to_string()
    }

    /// Mints a projected service-account token, as kube-apiserver would.
    pub fn mint(
        &self,
        namespace: &str,
        service_account: &str,
        audience: &str,
        expiration_seconds: i64,
        now: i64,
    ) -> Result<String, ClusterError> {
        let expiration = u64::try_from(expiration_seconds)
            .ok()
            .filter(|e| *e > 0)
            .ok_or(ClusterError::Expiration(expiration_seconds))?;
        let mut request = MintRequest::new(&self.issuer, namespace, service_account, now);
        request.audiences = vec![audience.to_string()];
        request.expiration_secs = expiration;
        self.signer
            .mint(&request)
            .map_err(|source| ClusterError::Mint {
                cluster: self.name.clone(),
                source,
            })
    }
}

/// All local clusters, by name; cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct Clusters {
    by_name: Arc<BTreeMap<String, Arc<LocalCluster>>>,
}

impl Clusters {
    /// Builds the set from loaded clusters.
    pub fn new(clusters: Vec<LocalCluster>) -> Self {
        Self {
            by_name: Arc::new(
                clusters
                    .into_iter()
                    .map(|c| (c.name.clone(), Arc::new(c)))
                    .collect(),
            ),
        }
    }

    /// A cluster by name.
    pub fn get(&self, name: &str) -> Option<Arc<LocalCluster>> {
        self.by_name.get(name).cloned()
    }

    /// The cluster whose issuer is exactly `issuer` (the token's `iss`).
    pub fn by_issuer(&self, issuer: &str) -> Option<Arc<LocalCluster>> {
        self.by_name.values().find(|c| c.issuer == issuer).cloned()
    }

    /// The cluster whose documents are served under `prefix`.
    pub fn by_path_prefix(&self, prefix: &str) -> Option<Arc<LocalCluster>> {
        self.by_name
            .values()
            .find(|c| c.path_prefix == prefix)
            .cloned()
    }

    /// Cluster names.
    pub fn names(&self) -> Vec<String> {
        self.by_name.keys().cloned().collect()
    }

    /// All clusters, by name.
    pub fn iter(&self) -> impl Iterator<Item = &Arc<LocalCluster>> {
        self.by_name.values()
    }
}

/// Generates a fresh RSA-2048 signing key as PKCS#8 PEM (what kube-apiserver setups use).
pub fn generate_key_pem() -> Result<String, irsa_jose::KeyError> {
    irsa_jose::PrivateKey::generate(irsa_jose::keys::KeySpec::Rsa(
        irsa_jose::keys::RsaBits::B2048,
    ))?
    .to_pkcs8_pem()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(issuer: &str) -> ClusterRecord {
        ClusterRecord {
            name: "demo".into(),
            account: "000000000000".into(),
            region: "eu-west-1".into(),
            issuer: issuer.into(),
            private_key_pem: generate_key_pem().expect("key"),
            created: 0,
        }
    }

    fn default_issuer(account: &str, region: &str, cluster: &str) -> String {
        ClusterIssuer::s3(
            &AccountId::parse(account).expect("account"),
            &Region::parse(region).expect("region"),
            &irsa_core::issuer::ClusterId::parse(cluster).expect("cluster"),
        )
        .url()
        .to_owned()
    }

    #[test]
    fn documents_and_paths() {
        let issuer = default_issuer("000000000000", "eu-west-1", "demo");
        let c = LocalCluster::from_record(&record(&issuer)).expect("cluster");
        assert_eq!(c.path_prefix, "/000000000000-g8s-demo-oidc-pod-identity");
        let json = |bytes: &[u8]| serde_json::from_slice::<serde_json::Value>(bytes).expect("json");
        let discovery = json(&c.documents().discovery);
        assert_eq!(discovery["issuer"], issuer.as_str());
        assert_eq!(
            discovery["jwks_uri"],
            format!("{issuer}/keys.json").as_str()
        );
        assert_eq!(json(&c.documents().jwks)["keys"][0]["kid"], c.kid());
        assert_eq!(
            c.provider_arn(&AccountId::parse("111111111111").expect("account")),
            "arn:aws:iam::111111111111:oidc-provider/s3.eu-west-1.amazonaws.com/000000000000-g8s-demo-oidc-pod-identity"
        );
        let set = Clusters::new(vec![c]);
        assert!(set.by_issuer(&issuer).is_some());
        assert!(set.by_issuer(&format!("{issuer}/")).is_none());
        assert!(
            set.by_path_prefix("/000000000000-g8s-demo-oidc-pod-identity")
                .is_some()
        );
        let bare = LocalCluster::from_record(&record("https://oidc.example.com")).expect("c");
        assert_eq!(bare.path_prefix, "/_irsa/clusters/demo");
    }

    #[test]
    fn minted_token_carries_claims() {
        use base64::Engine as _;
        let issuer = default_issuer("000000000000", "eu-west-1", "demo");
        let c = LocalCluster::from_record(&record(&issuer)).expect("cluster");
        let token = c
            .mint(
                "default",
                "demo-app",
                "sts.amazonaws.com",
                600,
                1_700_000_000,
            )
            .expect("mint");
        let payload = token.split('.').nth(1).expect("payload");
        let claims: serde_json::Value = serde_json::from_slice(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(payload)
                .expect("b64"),
        )
        .expect("json");
        assert_eq!(claims["sub"], "system:serviceaccount:default:demo-app");
        assert_eq!(claims["iss"], issuer.as_str());
        assert_eq!(claims["exp"], 1_700_000_600);
        assert!(c.mint("Bad_NS", "x", "a", 600, 0).is_err());
        assert!(matches!(
            c.mint("ns", "x", "a", 0, 0),
            Err(ClusterError::Expiration(0))
        ));
    }
}
