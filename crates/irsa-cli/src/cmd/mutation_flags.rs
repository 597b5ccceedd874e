//! Webhook flags that decide what a mutation adds, shared by `irsa webhook` (the server)
//! and `irsa mutate` (the same function offline), so both accept the same names with
//! upstream's defaults and build the same [`WebhookConfig`].

use irsa_core::mutation::{
    ContainerCredentialsSettings, DEFAULT_ANNOTATION_PREFIX, DEFAULT_CC_AUDIENCE,
    DEFAULT_CC_FULL_URI, DEFAULT_CC_MOUNT_PATH, DEFAULT_CC_TOKEN_PATH, DEFAULT_CC_VOLUME_NAME,
    DEFAULT_TOKEN_AUDIENCE, DEFAULT_TOKEN_EXPIRATION, DEFAULT_TOKEN_MOUNT_PATH, WebhookConfig,
};

/// Upstream's mutation flags, with its names and defaults.
#[derive(Debug, Clone, clap::Args)]
pub struct MutationFlags {
    /// Prefix of the annotations read on ServiceAccounts and Pods.
    #[arg(long, default_value = DEFAULT_ANNOTATION_PREFIX)]
    pub annotation_prefix: String,
    /// Default token audience.
    #[arg(long, default_value = DEFAULT_TOKEN_AUDIENCE)]
    pub token_audience: String,
    /// Where the STS web-identity token is mounted.
    #[arg(long, default_value = DEFAULT_TOKEN_MOUNT_PATH)]
    pub token_mount_path: String,
    /// Default token expiration in seconds (minimum 600).
    #[arg(long, default_value_t = DEFAULT_TOKEN_EXPIRATION, allow_negative_numbers = true)]
    pub token_expiration: i64,
    /// Inject AWS_DEFAULT_REGION and AWS_REGION with this value.
    #[arg(long, default_value = "")]
    pub aws_default_region: String,
    /// Inject AWS_STS_REGIONAL_ENDPOINTS=regional by default (`--sts-regional-endpoint` or `=true|false`).
    #[arg(long, num_args = 0..=1, default_value_t = false, default_missing_value = "true",
          action = clap::ArgAction::Set)]
    pub sts_regional_endpoint: bool,
    /// Audience of the container-credentials token.
    #[arg(long, default_value = DEFAULT_CC_AUDIENCE)]
    pub container_credentials_audience: String,
    /// Mount path of the container-credentials token.
    #[arg(long, default_value = DEFAULT_CC_MOUNT_PATH)]
    pub container_credentials_token_mount_path: String,
    /// Volume name of the container-credentials token.
    #[arg(long, default_value = DEFAULT_CC_VOLUME_NAME)]
    pub container_credentials_token_volume_name: String,
    /// File name of the container-credentials token inside its volume.
    #[arg(long, default_value = DEFAULT_CC_TOKEN_PATH)]
    pub container_credentials_token_path: String,
    /// Value of AWS_CONTAINER_CREDENTIALS_FULL_URI.
    #[arg(long, default_value = DEFAULT_CC_FULL_URI)]
    pub container_credentials_full_uri: String,
}

impl MutationFlags {
    /// The planner's configuration these flags describe.
    pub fn to_config(&self) -> WebhookConfig {
        WebhookConfig {
            annotation_prefix: self.annotation_prefix.clone(),
            token_audience: self.token_audience.clone(),
            token_mount_path: self.token_mount_path.clone(),
            token_expiration: self.token_expiration,
            aws_default_region: Some(self.aws_default_region.clone()).filter(|r| !r.is_empty()),
            sts_regional_endpoint: self.sts_regional_endpoint,
            container_credentials: ContainerCredentialsSettings {
                audience: self.container_credentials_audience.clone(),
                mount_path: self.container_credentials_token_mount_path.clone(),
                volume_name: self.container_credentials_token_volume_name.clone(),
                token_path: self.container_credentials_token_path.clone(),
                full_uri: self.container_credentials_full_uri.clone(),
            },
        }
    }
}
