//! Webhook settings that shape a mutation: the subset of upstream's flags the planner reads.
//!
//! Kept separate from the server's flag parsing so `irsa mutate` (offline) and `irsa webhook`
//! build the same value and therefore produce the same patch.

/// Upstream's default `--annotation-prefix`.
pub const DEFAULT_ANNOTATION_PREFIX: &str = "eks.amazonaws.com";
/// Upstream's default `--token-audience`: the `aws` partition's audience.
pub const DEFAULT_TOKEN_AUDIENCE: &str = crate::trust_policy::DEFAULT_AUDIENCE;
/// Upstream's default `--token-mount-path`.
pub const DEFAULT_TOKEN_MOUNT_PATH: &str = "/var/run/secrets/eks.amazonaws.com/serviceaccount";
/// Upstream's default `--token-expiration` (seconds), also the "no setting anywhere" value,
/// and the default lifetime of every token irsa mints (`irsa token mint`, `irsa local`).
pub const DEFAULT_TOKEN_EXPIRATION: i64 = 86_400;
/// [`DEFAULT_TOKEN_EXPIRATION`] for APIs that take an unsigned lifetime.
pub const DEFAULT_TOKEN_EXPIRATION_SECS: u64 = DEFAULT_TOKEN_EXPIRATION.unsigned_abs();
/// The smallest expiration the API server accepts for a projected token; smaller values are raised.
pub const MIN_TOKEN_EXPIRATION: i64 = 600;
/// Name of the projected volume in STS web-identity mode (hard-coded upstream).
pub const STS_VOLUME_NAME: &str = "aws-iam-token";
/// File name of the token inside the volume in STS web-identity mode (hard-coded upstream).
pub const STS_TOKEN_PATH: &str = "token";
/// Label written on pods mutated in container-credentials mode (does not follow the prefix).
pub const POD_IDENTITY_LABEL: &str = "eks.amazonaws.com/pod-identity";
/// Value of [`POD_IDENTITY_LABEL`].
pub const POD_IDENTITY_LABEL_VALUE: &str = "enabled";

/// Upstream's default `--container-credentials-audience`.
pub const DEFAULT_CC_AUDIENCE: &str = "pods.eks.amazonaws.com";
/// Upstream's default `--container-credentials-token-mount-path`.
pub const DEFAULT_CC_MOUNT_PATH: &str = "/var/run/secrets/pods.eks.amazonaws.com/serviceaccount";
/// Upstream's default `--container-credentials-token-volume-name`.
pub const DEFAULT_CC_VOLUME_NAME: &str = "eks-pod-identity-token";
/// Upstream's default `--container-credentials-token-path`.
pub const DEFAULT_CC_TOKEN_PATH: &str = "eks-pod-identity-token";
/// Upstream's default `--container-credentials-full-uri`.
pub const DEFAULT_CC_FULL_URI: &str = "http://169.254.170.23/v1/credentials";

/// Everything from the webhook's flags that influences the patch. `Default` is upstream's defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookConfig {
    /// `--annotation-prefix`: keys read are `<prefix>/role-arn`, `<prefix>/token-expiration`, ...
    pub annotation_prefix: String,
    /// `--token-audience`: audience when the ServiceAccount has no `<prefix>/audience`.
    pub token_audience: String,
    /// `--token-mount-path`: where the STS token volume is mounted (used verbatim).
    pub token_mount_path: String,
    /// `--token-expiration` (seconds); raised to [`MIN_TOKEN_EXPIRATION`] when read.
    pub token_expiration: i64,
    /// `--aws-default-region`: when set and non-empty, `AWS_DEFAULT_REGION` and `AWS_REGION` are injected.
    pub aws_default_region: Option<String>,
    /// `--sts-regional-endpoint`: default for `AWS_STS_REGIONAL_ENDPOINTS=regional`.
    pub sts_regional_endpoint: bool,
    /// `--container-credentials-*` settings (EKS Pod Identity mode).
    pub container_credentials: ContainerCredentialsSettings,
}

impl Default for WebhookConfig {
    fn default() -> Self {
        Self {
            annotation_prefix: DEFAULT_ANNOTATION_PREFIX.to_owned(),
            token_audience: DEFAULT_TOKEN_AUDIENCE.to_owned(),
            token_mount_path: DEFAULT_TOKEN_MOUNT_PATH.to_owned(),
            token_expiration: DEFAULT_TOKEN_EXPIRATION,
            aws_default_region: None,
            sts_regional_endpoint: false,
            container_credentials: ContainerCredentialsSettings::default(),
        }
    }
}

impl WebhookConfig {
    /// The flag expiration after upstream's start-up clamp (never below 600 s).
    #[must_use]
    pub fn default_token_expiration(&self) -> i64 {
        self.token_expiration.max(MIN_TOKEN_EXPIRATION)
    }

    /// The region to inject, if any (an empty flag value injects nothing, as upstream).
    #[must_use]
    pub fn region(&self) -> Option<&str> {
        self.aws_default_region.as_deref().filter(|r| !r.is_empty())
    }

    /// `<prefix>/<suffix>`, the full annotation key for `suffix`.
    #[must_use]
    pub fn annotation_key(&self, suffix: &str) -> String {
        format!("{}/{suffix}", self.annotation_prefix)
    }
}

/// Container-credentials ("EKS Pod Identity") settings: upstream's `--container-credentials-*` flags.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerCredentialsSettings {
    /// `--container-credentials-audience`.
    pub audience: String,
    /// `--container-credentials-token-mount-path`.
    pub mount_path: String,
    /// `--container-credentials-token-volume-name`.
    pub volume_name: String,
    /// `--container-credentials-token-path` (file name inside the volume).
    pub token_path: String,
    /// `--container-credentials-full-uri` (value of `AWS_CONTAINER_CREDENTIALS_FULL_URI`).
    pub full_uri: String,
}

impl Default for ContainerCredentialsSettings {
    fn default() -> Self {
        Self {
            audience: DEFAULT_CC_AUDIENCE.to_owned(),
            mount_path: DEFAULT_CC_MOUNT_PATH.to_owned(),
            volume_name: DEFAULT_CC_VOLUME_NAME.to_owned(),
            token_path: DEFAULT_CC_TOKEN_PATH.to_owned(),
            full_uri: DEFAULT_CC_FULL_URI.to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_upstreams_flag_defaults() {
        let c = WebhookConfig::default();
        assert_eq!(c.annotation_prefix, "eks.amazonaws.com");
        assert_eq!(c.token_audience, "sts.amazonaws.com");
        assert_eq!(
            c.token_mount_path,
            "/var/run/secrets/eks.amazonaws.com/serviceaccount"
        );
        assert_eq!(c.default_token_expiration(), 86_400);
        assert!(!c.sts_regional_endpoint);
        assert_eq!(c.region(), None);
        assert_eq!(
            c.container_credentials.full_uri,
            "http://169.254.170.23/v1/credentials"
        );
        assert_eq!(
            c.container_credentials.volume_name,
            "eks-pod-identity-token"
        );
    }

    #[test]
    fn flag_expiration_is_raised_to_the_minimum_and_empty_region_is_none() {
        let c = WebhookConfig {
            token_expiration: 10,
            aws_default_region: Some(String::new()),
            ..WebhookConfig::default()
        };
        assert_eq!(c.default_token_expiration(), 600);
        assert_eq!(c.region(), None);
        assert_eq!(c.annotation_key("role-arn"), "eks.amazonaws.com/role-arn");
    }
}
