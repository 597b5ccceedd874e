//! The [`Engine`] the operator runs in production: irsa-provision's planner executed by
//! irsa-aws (the one crate holding the AWS SDK), with clients per region and identity.
//!
//! SDK clients are built once per (region, role) and reused, so credentials (and an assumed
//! role's session) are cached across reconciles. The account of the operator's own
//! credentials is asked from STS once per region and remembered. Thumbprints are the fixed
//! `--thumbprint` values, or computed from the issuer's TLS chain on every pass by the
//! [`ThumbprintSource`] the binary provides, which is how a changed CA is noticed.

use std::collections::HashMap;
use std::sync::Arc;

use futures::FutureExt as _;
use futures::future::BoxFuture;
use irsa_aws::{AwsSettings, Clients, RunOptions};
use irsa_core::aws::{AccountId, Region};
use irsa_issuer_client::IssuerClient;
use irsa_jose::PublicKey;
use irsa_provision::spec::JWKS_KEY;
use irsa_provision::{ClusterSpec, Desired, Options, Tag};
use tokio::sync::Mutex;

use crate::engine::{
    AwsCall, CallObserver, ClusterTarget, Converged, Engine, EngineError, Identity, Removed,
};

/// Where provider thumbprints come from.
#[derive(Debug, Clone)]
pub enum ThumbprintSource {
    /// `--thumbprint` values, used as given.
    Fixed(Vec<String>),
    /// Computed from the issuer's TLS chain on every pass (`irsa oidc thumbprint`'s rule).
    Fetch(IssuerClient),
}

/// Endpoints, tags and thumbprints shared by every cluster.
#[derive(Debug, Clone)]
pub struct AwsEngineConfig {
    /// `--s3-endpoint-url`.
    pub s3_endpoint_url: Option<String>,
    /// `--iam-endpoint-url`.
    pub iam_endpoint_url: Option<String>,
    /// `--sts-endpoint-url`.
    pub sts_endpoint_url: Option<String>,
    /// `--tag K=V`.
    pub tags: Vec<Tag>,
    /// `--thumbprint`, or the fetcher.
    pub thumbprints: ThumbprintSource,
}

/// Builds the base clients of a region (credentials of the operator itself); the default
/// is the SDK's standard credential chain ([`Clients::from_env`]).
pub type BaseClients = Arc<dyn Fn(AwsSettings) -> BoxFuture<'static, Clients> + Send + Sync>;

/// The production engine.
pub struct AwsEngine {
    config: AwsEngineConfig,
    base: BaseClients,
    clients: Mutex<HashMap<(String, Option<String>), Clients>>,
    accounts: Mutex<HashMap<String, AccountId>>,
}

fn engine_error(e: &irsa_aws::EngineError) -> EngineError {
    EngineError {
        step: e.step().to_string(),
        code: Some(e.code().to_string()),
        message: e.to_string(),
    }
}

fn spec_error(e: &irsa_provision::SpecError) -> EngineError {
    EngineError {
        step: "spec".to_string(),
        code: None,
        message: e.to_string(),
    }
}

fn report_calls(calls: &[(irsa_aws::CallRecord, u64)], observer: &CallObserver) {
    for (record, n) in calls {
        for _ in 0..*n {
            observer(&AwsCall {
                service: record.service.as_str(),
                action: record.action.to_string(),
                ok: record.result == "ok",
            });
        }
    }
}

impl std::fmt::Debug for AwsEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AwsEngine")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl AwsEngine {
    /// An engine with credentials from the SDK's standard chain.
    pub fn new(config: AwsEngineConfig) -> Self {
        Self::with_base_clients(
            config,
            Arc::new(|settings| Clients::from_env(settings).boxed()),
        )
    }

    /// An engine whose base clients come from `base` (tests give static credentials).
    pub fn with_base_clients(config: AwsEngineConfig, base: BaseClients) -> Self {
        Self {
            config,
            base,
            clients: Mutex::new(HashMap::new()),
            accounts: Mutex::new(HashMap::new()),
        }
    }

    async fn clients(&self, region: &Region, identity: &Identity) -> Clients {
        let role = match identity {
            Identity::Ambient => None,
            Identity::AssumeRole { role_arn, .. } => Some(role_arn.clone()),
        };
        let key = (region.as_str().to_string(), role.clone());
        let mut cache = self.clients.lock().await;
        if let Some(c) = cache.get(&key) {
            return c.clone();
        }
        let mut settings = AwsSettings::new(region.clone());
        settings.s3_endpoint_url = self.config.s3_endpoint_url.clone();
        settings.iam_endpoint_url = self.config.iam_endpoint_url.clone();
        settings.sts_endpoint_url = self.config.sts_endpoint_url.clone();
        let base = match cache.get(&(key.0.clone(), None)) {
            Some(b) => b.clone(),
            None => {
                let b = (self.base)(settings).await;
                cache.insert((key.0.clone(), None), b.clone());
                b
            }
        };
        let clients = match &role {
            None => base,
            Some(arn) => base.assume_role(arn, "irsa-operator").await,
        };
        cache.insert(key, clients.clone());
        clients
    }

    async fn spec(
        &self,
        target: &ClusterTarget,
        clients: &Clients,
        observer: &CallObserver,
    ) -> Result<ClusterSpec, EngineError> {
        let account = match &target.identity {
            Identity::AssumeRole { account, .. } => account.clone(),
            Identity::Ambient => {
                let region = target.region.as_str().to_string();
                let cached = self.accounts.lock().await.get(&region).cloned();
                match cached {
                    Some(a) => a,
                    None => {
                        let counted = clients.with_fresh_counter();
                        let result = counted.caller_account().await;
                        report_calls(&counted.calls().snapshot(), observer);
                        let account = result.map_err(|e| engine_error(&e))?;
                        self.accounts.lock().await.insert(region, account.clone());
                        account
                    }
                }
            }
        };
        ClusterSpec::new(account, target.region.clone(), target.cluster.clone(), None)
            .map_err(|e| spec_error(&e))
    }

    async fn thumbprints(&self, spec: &ClusterSpec) -> Result<Vec<String>, EngineError> {
        match &self.config.thumbprints {
            ThumbprintSource::Fixed(t) => Ok(t.clone()),
            ThumbprintSource::Fetch(client) => {
                let url = spec.issuer().url();
                // As `irsa provision`: a failure is a warning, since IAM no longer needs a
                // thumbprint for issuers whose chain ends in a well-known CA (S3's does).
                Ok(match client.thumbprint(url).await {
                    Ok(t) => vec![t.sha1],
                    Err(e) => {
                        tracing::warn!(issuer = url, error = %e, "thumbprint not computed; the provider gets none");
                        Vec::new()
                    }
                })
            }
        }
    }
}

impl Engine for AwsEngine {
    fn converge<'a>(
        &'a self,
        target: &'a ClusterTarget,
        public_keys: &'a [PublicKey],
        calls: CallObserver,
    ) -> BoxFuture<'a, Result<Converged, EngineError>> {
        async move {
            let clients = self.clients(&target.region, &target.identity).await;
            let spec = self.spec(target, &clients, &calls).await?;
            let options = Options {
                client_ids: Vec::new(),
                thumbprints: self.thumbprints(&spec).await?,
                tags: self.config.tags.clone(),
            };
            let desired =
                Desired::new(spec.clone(), &options, public_keys).map_err(|e| spec_error(&e))?;
            let engine = irsa_aws::Engine::new(&clients);
            let result = engine
                .provision(&desired, RunOptions::default(), &mut |_| {})
                .await;
            report_calls(&engine.calls(), &calls);
            let report = result.map_err(|e| engine_error(&e))?;
            let keys_json = desired
                .objects
                .iter()
                .find(|o| o.key == JWKS_KEY)
                .map(|o| o.body.clone())
                .unwrap_or_default();
            Ok(Converged {
                issuer: spec.issuer().url().to_string(),
                provider_arn: spec.provider_arn().to_string(),
                bucket: spec.bucket().to_string(),
                keys_json,
                mutating_calls: u32::try_from(report.mutating_calls()).unwrap_or(u32::MAX),
            })
        }
        .boxed()
    }

    fn remove<'a>(
        &'a self,
        target: &'a ClusterTarget,
        calls: CallObserver,
    ) -> BoxFuture<'a, Result<Removed, EngineError>> {
        async move {
            let clients = self.clients(&target.region, &target.identity).await;
            let spec = self.spec(target, &clients, &calls).await?;
            let engine = irsa_aws::Engine::new(&clients);
            let result = engine
                .deprovision(&spec, RunOptions::default(), &mut |_| {})
                .await;
            report_calls(&engine.calls(), &calls);
            let report = result.map_err(|e| engine_error(&e))?;
            Ok(Removed {
                mutating_calls: u32::try_from(report.mutating_calls()).unwrap_or(u32::MAX),
            })
        }
        .boxed()
    }
}
