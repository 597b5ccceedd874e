//! SDK clients for one region, with endpoint overrides, retries, timeouts and counting.

use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, SdkConfig};
use irsa_core::aws::{AccountId, Region};

use crate::calls::{CallCounts, CallKind};
use crate::error::{EngineError, code_and_message};
use irsa_provision::Service;

/// How to reach AWS.
#[derive(Debug, Clone)]
pub struct AwsSettings {
    /// The cluster's region: the bucket's, and the signing region (IAM signs in its
    /// partition's global region, which the SDK derives from this).
    pub region: Region,
    /// S3-compatible endpoint (`--s3-endpoint-url`); path-style addressing when set.
    pub s3_endpoint_url: Option<String>,
    /// IAM-compatible endpoint (`--iam-endpoint-url`).
    pub iam_endpoint_url: Option<String>,
    /// STS endpoint (`--sts-endpoint-url`).
    pub sts_endpoint_url: Option<String>,
    /// Attempts per call in the SDK's standard retry mode (1 = no retry).
    pub max_attempts: u32,
    /// Time to connect.
    pub connect_timeout: Duration,
    /// Time for one attempt.
    pub attempt_timeout: Duration,
    /// Time for a call including retries.
    pub operation_timeout: Duration,
}

impl AwsSettings {
    /// Defaults for `region`: 5 attempts, 5 s connect, 20 s per attempt, 60 s per call.
    pub fn new(region: Region) -> Self {
        Self {
            region,
            s3_endpoint_url: None,
            iam_endpoint_url: None,
            sts_endpoint_url: None,
            max_attempts: 5,
            connect_timeout: Duration::from_secs(5),
            attempt_timeout: Duration::from_secs(20),
            operation_timeout: Duration::from_secs(60),
        }
    }
}

/// S3, IAM and STS clients sharing one configuration and one call counter.
#[derive(Debug, Clone)]
pub struct Clients {
    pub(crate) s3: aws_sdk_s3::Client,
    pub(crate) iam: aws_sdk_iam::Client,
    pub(crate) sts: aws_sdk_sts::Client,
    pub(crate) calls: CallCounts,
    sdk: SdkConfig,
    settings: AwsSettings,
}

impl Clients {
    /// Clients with credentials from the SDK's standard chain (environment, shared
    /// profile, web identity, ECS, IMDS).
    pub async fn from_env(settings: AwsSettings) -> Self {
        let sdk = aws_config::defaults(BehaviorVersion::v2026_01_12())
            .region(aws_config::Region::new(settings.region.as_str().to_owned()))
            .retry_config(RetryConfig::standard().with_max_attempts(settings.max_attempts))
            .timeout_config(
                TimeoutConfig::builder()
                    .connect_timeout(settings.connect_timeout)
                    .operation_attempt_timeout(settings.attempt_timeout)
                    .operation_timeout(settings.operation_timeout)
                    .build(),
            )
            .load()
            .await;
        Self::from_sdk_config(sdk, settings)
    }

    /// Clients from an existing SDK configuration (credentials, region, retries), with
    /// the endpoint overrides of `settings`.
    pub fn from_sdk_config(sdk: SdkConfig, settings: AwsSettings) -> Self {
        let mut s3 = aws_sdk_s3::config::Builder::from(&sdk);
        if let Some(url) = &settings.s3_endpoint_url {
            s3 = s3.endpoint_url(url).force_path_style(true);
        }
        let mut iam = aws_sdk_iam::config::Builder::from(&sdk);
        if let Some(url) = &settings.iam_endpoint_url {
            iam = iam.endpoint_url(url);
        }
        let mut sts = aws_sdk_sts::config::Builder::from(&sdk);
        if let Some(url) = &settings.sts_endpoint_url {
            sts = sts.endpoint_url(url);
        }
        Self {
            s3: aws_sdk_s3::Client::from_conf(s3.build()),
            iam: aws_sdk_iam::Client::from_conf(iam.build()),
            sts: aws_sdk_sts::Client::from_conf(sts.build()),
            calls: CallCounts::default(),
            sdk,
            settings,
        }
    }

    /// The same endpoints and settings with the credentials of `role_arn`, assumed with
    /// STS `AssumeRole` from these clients' credentials and refreshed before they expire
    /// (the operator's `--role-arn-template`).
    pub async fn assume_role(&self, role_arn: &str, session_name: &str) -> Self {
        let mut sts_conf = self.sdk.clone().into_builder();
        if let Some(url) = &self.settings.sts_endpoint_url {
            sts_conf.set_endpoint_url(Some(url.clone()));
        }
        let provider = aws_config::sts::AssumeRoleProvider::builder(role_arn)
            .session_name(session_name)
            .configure(&sts_conf.build())
            .build()
            .await;
        let sdk = self
            .sdk
            .clone()
            .into_builder()
            .credentials_provider(
                aws_credential_types::provider::SharedCredentialsProvider::new(provider),
            )
            .build();
        Self::from_sdk_config(sdk, self.settings.clone())
    }

    /// The settings these clients were built with.
    pub fn settings(&self) -> &AwsSettings {
        &self.settings
    }

    /// The call counter (shared with clones of these clients).
    pub fn calls(&self) -> &CallCounts {
        &self.calls
    }

    /// These clients with a fresh counter, for one pass.
    pub fn with_fresh_counter(&self) -> Self {
        Self {
            calls: CallCounts::fresh(),
            ..self.clone()
        }
    }

    /// The account of the credentials in use (`sts:GetCallerIdentity`).
    pub async fn caller_account(&self) -> Result<AccountId, EngineError> {
        let out = self.sts.get_caller_identity().send().await;
        let out = self.count(
            Service::Sts,
            "GetCallerIdentity",
            CallKind::Read,
            "account",
            out,
        )?;
        let account = out.account().unwrap_or_default();
        AccountId::parse(account).map_err(|e| EngineError::Aws {
            step: "account",
            service: Service::Sts,
            action: "GetCallerIdentity",
            code: "InvalidAccount".into(),
            message: e.to_string(),
        })
    }

    /// Records a call's result and turns an SDK error into an [`EngineError`].
    pub(crate) fn count<T, E>(
        &self,
        service: Service,
        action: &'static str,
        kind: CallKind,
        step: &'static str,
        result: Result<T, aws_sdk_s3::error::SdkError<E, aws_sdk_s3::config::http::HttpResponse>>,
    ) -> Result<T, EngineError>
    where
        E: aws_sdk_s3::error::ProvideErrorMetadata + std::error::Error + 'static,
    {
        match result {
            Ok(v) => {
                self.calls.record(service, action, kind, "ok");
                Ok(v)
            }
            Err(e) => {
                let (code, message) = code_and_message(&e);
                self.calls.record(service, action, kind, &code);
                Err(EngineError::Aws {
                    step,
                    service,
                    action,
                    code,
                    message,
                })
            }
        }
    }
}
