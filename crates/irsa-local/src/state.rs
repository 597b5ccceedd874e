//! The state every handler shares: the store, the clusters, the settings and the clock.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use irsa_core::aws::{AccountId, Partition, Region};

use crate::clusters::Clusters;
use crate::query::QueryRequest;
use crate::session_seal::{Session, SessionSealer};
use crate::sigv4::{self, RequestParts, SigningSecret};
use crate::store::Store;
use crate::xml::AwsError;

/// Default root access key ID of the local IAM admin (same convention as moto/LocalStack).
pub const DEFAULT_ACCESS_KEY_ID: &str = "test";
/// Default root secret access key.
pub const DEFAULT_SECRET_ACCESS_KEY: &str = "test";
/// Default account of the root credentials.
pub const DEFAULT_ACCOUNT: &str = "000000000000";

/// The time source. Tests fix it; the server uses the system clock.
#[derive(Debug, Clone, Default)]
pub struct Clock {
    fixed: Option<Arc<AtomicI64>>,
}

impl Clock {
    /// The system clock.
    pub fn system() -> Self {
        Self { fixed: None }
    }

    /// A clock that stays at `unix_seconds` until [`set`](Self::set).
    pub fn fixed(unix_seconds: i64) -> Self {
        Self {
            fixed: Some(Arc::new(AtomicI64::new(unix_seconds))),
        }
    }

    /// Moves a fixed clock; no effect on the system clock.
    pub fn set(&self, unix_seconds: i64) {
        if let Some(f) = &self.fixed {
            f.store(unix_seconds, Ordering::SeqCst);
        }
    }

    /// Now, UNIX seconds.
    pub fn now(&self) -> i64 {
        match &self.fixed {
            Some(f) => f.load(Ordering::SeqCst),
            None => jiff::Timestamp::now().as_second(),
        }
    }

    /// Now as a timestamp.
    pub fn now_timestamp(&self) -> jiff::Timestamp {
        jiff::Timestamp::from_second(self.now()).unwrap_or(jiff::Timestamp::UNIX_EPOCH)
    }
}

/// Server settings that are not state.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Root (IAM admin) access key ID.
    pub root_access_key_id: String,
    /// Root secret access key. Never logged.
    pub root_secret_access_key: String,
    /// The account of the root credentials; signed IAM calls act in it.
    pub root_account: String,
    /// Allowed SigV4 clock skew, seconds.
    pub max_skew_seconds: i64,
    /// How STS reaches issuers that are not local clusters (`--ca-file`, timeouts).
    pub remote_issuer: irsa_issuer_client::IssuerClientConfig,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            root_access_key_id: DEFAULT_ACCESS_KEY_ID.into(),
            root_secret_access_key: DEFAULT_SECRET_ACCESS_KEY.into(),
            root_account: DEFAULT_ACCOUNT.into(),
            max_skew_seconds: crate::sigv4::MAX_SKEW_SECS,
            remote_issuer: irsa_issuer_client::IssuerClientConfig::default(),
        }
    }
}

/// Who signed a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    /// The root credentials of [`Settings`].
    Root {
        /// The partition of the region the request was signed for (`cn-north-1` is
        /// `aws-cn`): AWS's IAM and STS endpoints each serve one partition.
        partition: Partition,
        /// The root account.
        account: String,
        /// The access key ID.
        access_key_id: String,
    },
    /// Temporary credentials issued by this server's STS.
    Session(Box<Session>),
}

impl Caller {
    /// The account the caller acts in.
    pub fn account(&self) -> &str {
        match self {
            Self::Root { account, .. } => account,
            Self::Session(s) => &s.account,
        }
    }

    /// The caller's ARN (`…:root` or the assumed-role ARN).
    pub fn arn(&self) -> String {
        match self {
            Self::Root {
                partition, account, ..
            } => format!("arn:{partition}:iam::{account}:root"),
            Self::Session(s) => s.assumed_role_arn.clone(),
        }
    }
}

/// Everything handlers share.
#[derive(Debug)]
pub struct AppState {
    /// Durable state.
    pub store: Store,
    /// The local clusters (issuers with signing keys).
    pub clusters: Clusters,
    /// Root credentials, their account and the SigV4 skew, fixed at start.
    pub settings: Settings,
    /// Time source.
    pub clock: Clock,
    /// Seals STS session credentials into their session tokens.
    pub sealer: SessionSealer,
    /// STS's remote-issuer client and hot-path caches (verifiers, parsed trust policies).
    pub sts: crate::sts::StsState,
}

/// The shared handle.
pub type SharedState = Arc<AppState>;

impl AppState {
    /// Verifies the SigV4 signature of `req` for `service` (`iam`, `sts`) and returns who
    /// signed it: the root credentials, a live STS session (opened from its token), or (LocalStack's convention)
    /// an access key ID that is a 12-digit account ID with the root secret, which acts as
    /// the root of that account, for cross-account setups.
    pub fn authenticate(&self, req: &QueryRequest, service: &str) -> Result<Caller, AwsError> {
        let parts = RequestParts {
            method: &req.method,
            uri: &req.uri,
            headers: &req.headers,
            body: &req.body,
        };
        let settings = sigv4::Settings {
            service,
            now: self.clock.now(),
            max_skew: self.settings.max_skew_seconds,
        };
        let mut session = None;
        let mut account = self.settings.root_account.clone();
        let verified = sigv4::verify(&parts, &settings, |akid| {
            let root = || SigningSecret {
                secret_access_key: self.settings.root_secret_access_key.clone(),
                session_token: None,
                expiration: None,
            };
            if akid == self.settings.root_access_key_id {
                return Some(root());
            }
            if AccountId::parse(akid).is_ok() {
                account = akid.to_string();
                return Some(root());
            }
            let token = req
                .headers
                .get("x-amz-security-token")
                .and_then(|v| v.to_str().ok())
                .or_else(|| req.param("X-Amz-Security-Token"))?;
            let s = self.sealer.open(akid, token)?;
            let secret = SigningSecret {
                secret_access_key: s.secret_access_key.clone(),
                session_token: Some(s.session_token.clone()),
                expiration: Some(s.expiration),
            };
            session = Some(s);
            Some(secret)
        })
        .map_err(|e| e.to_aws_error())?;
        Ok(match session {
            Some(s) => Caller::Session(Box::new(s)),
            None => Caller::Root {
                // The scope's region is whatever the client signed for; one that is not a
                // region name (a test's `us-east-1` stand-in is one) means `aws`.
                partition: Region::parse(&verified.region)
                    .map_or(Partition::Aws, |r| r.partition()),
                account,
                access_key_id: verified.access_key_id,
            },
        })
    }
}
