//! The engine's errors: which step, which AWS call, and AWS's own code and message.
//!
//! The CLI prints them on one line and exits 1; the operator maps [`EngineError::code`]
//! and [`EngineError::step`] to metric labels and Kubernetes events.

use irsa_provision::Service;

/// Why a pass failed.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// An AWS call failed (after the SDK's retries).
    #[error("{step}: {service}:{action} failed: {code}: {message}")]
    Aws {
        /// The step's label (`bucket`, `keys.json`, `provider`, …).
        step: &'static str,
        /// The service.
        service: Service,
        /// AWS's action name.
        action: &'static str,
        /// AWS's error code, or the transport failure (`DispatchFailure`, `TimeoutError`).
        code: String,
        /// AWS's message, or the transport error text.
        message: String,
    },
    /// CreateBucket answered `BucketAlreadyExists`: the name belongs to another account.
    #[error(
        "bucket: {bucket} exists and is owned by another AWS account (CreateBucket answered \
         BucketAlreadyExists); choose another cluster ID or account, irsa never publishes into \
         someone else's bucket"
    )]
    BucketOwnedByAnotherAccount {
        /// The bucket.
        bucket: String,
    },
    /// IAM created the provider under another account than `--account`: the credentials
    /// are for a different account.
    #[error(
        "provider: the credentials are for another account: IAM created {actual}, expected \
         {expected}; pass the credentials' account as --account"
    )]
    WrongAccount {
        /// The ARN derived from the issuer and `--account`.
        expected: String,
        /// The ARN IAM answered.
        actual: String,
    },
}

impl EngineError {
    /// AWS's error code (or this crate's name for the failure), for metrics and events.
    pub fn code(&self) -> &str {
        match self {
            Self::Aws { code, .. } => code,
            Self::BucketOwnedByAnotherAccount { .. } => "BucketAlreadyExists",
            Self::WrongAccount { .. } => "WrongAccount",
        }
    }

    /// The step label.
    pub fn step(&self) -> &'static str {
        match self {
            Self::Aws { step, .. } => step,
            Self::BucketOwnedByAnotherAccount { .. } => "bucket",
            Self::WrongAccount { .. } => "provider",
        }
    }

    /// The AWS action that failed, when one did.
    pub fn action(&self) -> Option<&'static str> {
        match self {
            Self::Aws { action, .. } => Some(action),
            Self::BucketOwnedByAnotherAccount { .. } => Some("CreateBucket"),
            Self::WrongAccount { .. } => Some("CreateOpenIDConnectProvider"),
        }
    }
}

/// AWS's code and message of a failed SDK call; transport failures get a stable code.
pub(crate) fn code_and_message<E>(
    err: &aws_sdk_s3::error::SdkError<E, aws_sdk_s3::config::http::HttpResponse>,
) -> (String, String)
where
    E: aws_sdk_s3::error::ProvideErrorMetadata + std::error::Error + 'static,
{
    use aws_sdk_s3::error::SdkError;
    match err {
        SdkError::ServiceError(e) => {
            let inner = e.err();
            let status = e.raw().status().as_u16();
            // A body the SDK could not read a code from (a proxy's HTML page, an empty
            // HEAD answer): name the HTTP status and quote the start of the body.
            let code = inner
                .code()
                .map_or_else(|| format!("HTTP{status}"), str::to_owned);
            let message = inner.message().map(str::to_owned).unwrap_or_else(|| {
                let body = e.raw().body().bytes().unwrap_or_default();
                let text = String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned();
                format!("HTTP {status}: {}", text.trim())
            });
            (code, message)
        }
        SdkError::TimeoutError(_) => ("TimeoutError".into(), "the call timed out".into()),
        SdkError::DispatchFailure(e) => (
            "DispatchFailure".into(),
            e.as_connector_error()
                .map(|c| c.to_string())
                .unwrap_or_else(|| "the request could not be sent".into()),
        ),
        SdkError::ResponseError(_) => (
            "ResponseError".into(),
            "the response could not be read".into(),
        ),
        SdkError::ConstructionFailure(_) => (
            "ConstructionFailure".into(),
            "the request could not be built".into(),
        ),
        other => ("Unknown".into(), other.to_string()),
    }
}
