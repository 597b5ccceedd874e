//! One pass: observe, plan, apply; for provisioning and for removal.

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types as s3t;
use irsa_provision::plan::plan_provider;
use irsa_provision::plan::{BucketClaim, bucket_claim};
use irsa_provision::spec::{DISCOVERY_KEY, JWKS_KEY};
use irsa_provision::{
    Action, ClusterSpec, Desired, Observed, ObservedBucket, Plan, Service, StepPlan,
    plan_deprovision, plan_provision,
};
use serde::Serialize;

use crate::calls::{CallKind, CallRecord};
use crate::clients::Clients;
use crate::error::EngineError;
use crate::observe;

/// How to run a pass.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RunOptions {
    /// Read and plan only: no mutating call.
    pub dry_run: bool,
}

/// What a pass did (or, with `dry_run`, would do).
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The plan, step by step; its actions were made unless `dry_run`.
    pub plan: Plan,
    /// Whether nothing was changed on purpose.
    pub dry_run: bool,
    /// Calls made in this pass, by service, action, kind and result.
    pub calls: Vec<(CallRecord, u64)>,
}

impl Report {
    /// Mutating calls made.
    pub fn mutating_calls(&self) -> u64 {
        self.count(CallKind::Write)
    }

    /// Reads made.
    pub fn read_calls(&self) -> u64 {
        self.count(CallKind::Read)
    }

    fn count(&self, kind: CallKind) -> u64 {
        self.calls
            .iter()
            .filter(|(r, _)| r.kind == kind)
            .map(|(_, n)| n)
            .sum()
    }

    /// Whether the published documents changed (or would): kube-apiserver's masters
    /// must then roll to pick up the issuer and keys.
    pub fn documents_changed(&self) -> bool {
        self.plan
            .actions()
            .any(|a| matches!(a, Action::PutObject { .. }))
    }
}

/// The executor for one pass over one cluster. Create one per pass: its call counter
/// starts empty, and [`Engine::calls`] still answers after a failed pass.
#[derive(Debug, Clone)]
pub struct Engine {
    clients: Clients,
}

impl Engine {
    /// An engine counting into a fresh counter.
    pub fn new(clients: &Clients) -> Self {
        Self {
            clients: clients.with_fresh_counter(),
        }
    }

    /// The calls made so far in this pass.
    pub fn calls(&self) -> Vec<(CallRecord, u64)> {
        self.clients.calls().snapshot()
    }

    /// Reads what exists for provisioning `spec` (at most six reads when converged).
    pub async fn observe(&self, spec: &ClusterSpec) -> Result<Observed, EngineError> {
        let (bucket, provider) = tokio::try_join!(
            observe::bucket(&self.clients, spec, true),
            observe::provider(&self.clients, spec)
        )?;
        Ok(Observed { bucket, provider })
    }

    /// Converges the cluster to `desired`. `progress` is called once per step, after the
    /// step's calls succeeded (before them, with `dry_run`).
    pub async fn provision(
        &self,
        desired: &Desired,
        options: RunOptions,
        progress: &mut (dyn FnMut(&StepPlan) + Send),
    ) -> Result<Report, EngineError> {
        let observed = self.observe(&desired.spec).await?;
        let plan = plan_provision(desired, &observed);
        self.run(
            &desired.spec,
            Some(desired),
            plan,
            &observed,
            options,
            progress,
        )
        .await
    }

    /// Removes what provisioning created for `spec`: provider, objects, bucket, each only
    /// when tagged `irsa.io/cluster=CLUSTER`; missing resources are fine.
    pub async fn deprovision(
        &self,
        spec: &ClusterSpec,
        options: RunOptions,
        progress: &mut (dyn FnMut(&StepPlan) + Send),
    ) -> Result<Report, EngineError> {
        let (bucket, provider) = tokio::try_join!(
            observe::bucket(&self.clients, spec, false),
            observe::provider(&self.clients, spec)
        )?;
        let observed = Observed { bucket, provider };
        let plan = plan_deprovision(spec, &[JWKS_KEY, DISCOVERY_KEY], &observed);
        self.run(spec, None, plan, &observed, options, progress)
            .await
    }

    async fn run(
        &self,
        spec: &ClusterSpec,
        desired: Option<&Desired>,
        plan: Plan,
        observed: &Observed,
        options: RunOptions,
        progress: &mut (dyn FnMut(&StepPlan) + Send),
    ) -> Result<Report, EngineError> {
        for step in &plan.steps {
            if !options.dry_run {
                for action in &step.actions {
                    self.apply(spec, step.step.label(), action, observed, desired)
                        .await?;
                }
            }
            progress(step);
        }
        Ok(Report {
            plan,
            dry_run: options.dry_run,
            calls: self.calls(),
        })
    }

    fn write<T, E>(
        &self,
        service: Service,
        action: &'static str,
        step: &'static str,
        result: Result<T, aws_sdk_s3::error::SdkError<E, aws_sdk_s3::config::http::HttpResponse>>,
    ) -> Result<T, EngineError>
    where
        E: aws_sdk_s3::error::ProvideErrorMetadata + std::error::Error + 'static,
    {
        self.clients
            .count(service, action, CallKind::Write, step, result)
    }

    async fn apply(
        &self,
        spec: &ClusterSpec,
        step: &'static str,
        action: &Action,
        observed: &Observed,
        desired: Option<&Desired>,
    ) -> Result<(), EngineError> {
        let c = &self.clients;
        let owner = spec.account().as_str();
        let name = action.name();
        let build = |e: &dyn std::fmt::Display| EngineError::Aws {
            step,
            service: action.service(),
            action: name,
            code: "ConstructionFailure".into(),
            message: e.to_string(),
        };
        match action {
            Action::CreateBucket {
                bucket,
                location_constraint,
                existing: _,
            } => {
                let config = location_constraint.as_ref().map(|lc| {
                    s3t::CreateBucketConfiguration::builder()
                        .location_constraint(s3t::BucketLocationConstraint::from(lc.as_str()))
                        .build()
                });
                let out =
                    c.s3.create_bucket()
                        .bucket(bucket)
                        .set_create_bucket_configuration(config)
                        .send()
                        .await;
                let result = self.write(Service::S3, name, step, out).map(|_| ());
                let code = match &result {
                    Ok(()) => None,
                    Err(EngineError::Aws { code, .. }) => Some(code.as_str()),
                    Err(_) => return result,
                };
                match bucket_claim(code) {
                    Some(BucketClaim::Created) => Ok(()),
                    Some(BucketClaim::OwnedByUs) => match &observed.bucket {
                        ObservedBucket::Unreadable { code } => Err(EngineError::Aws {
                            step,
                            service: Service::S3,
                            action: "GetBucketTagging",
                            code: code.clone(),
                            message: format!(
                                "bucket {bucket} is this account's (CreateBucket answered \
                                 BucketAlreadyOwnedByYou) but reading it was denied: the \
                                 credentials need the policy of `irsa provision --print-iam-policy`"
                            ),
                        }),
                        _ => Ok(()),
                    },
                    Some(BucketClaim::OwnedByAnotherAccount) => {
                        Err(EngineError::BucketOwnedByAnotherAccount {
                            bucket: bucket.clone(),
                        })
                    }
                    None => result,
                }
            }
            Action::PutBucketTagging { bucket, tags } => {
                let mut set = Vec::new();
                for t in tags {
                    set.push(
                        s3t::Tag::builder()
                            .key(&t.key)
                            .value(&t.value)
                            .build()
                            .map_err(|e| build(&e))?,
                    );
                }
                let tagging = s3t::Tagging::builder()
                    .set_tag_set(Some(set))
                    .build()
                    .map_err(|e| build(&e))?;
                let out =
                    c.s3.put_bucket_tagging()
                        .bucket(bucket)
                        .expected_bucket_owner(owner)
                        .tagging(tagging)
                        .send()
                        .await;
                self.write(Service::S3, name, step, out).map(|_| ())
            }
            Action::PutBucketOwnershipControls { bucket, ownership } => {
                let rule = s3t::OwnershipControlsRule::builder()
                    .object_ownership(s3t::ObjectOwnership::from(*ownership))
                    .build()
                    .map_err(|e| build(&e))?;
                let controls = s3t::OwnershipControls::builder()
                    .rules(rule)
                    .build()
                    .map_err(|e| build(&e))?;
                let out =
                    c.s3.put_bucket_ownership_controls()
                        .bucket(bucket)
                        .expected_bucket_owner(owner)
                        .ownership_controls(controls)
                        .send()
                        .await;
                self.write(Service::S3, name, step, out).map(|_| ())
            }
            Action::PutPublicAccessBlock { bucket, config } => {
                let pab = s3t::PublicAccessBlockConfiguration::builder()
                    .block_public_acls(config.block_public_acls)
                    .ignore_public_acls(config.ignore_public_acls)
                    .block_public_policy(config.block_public_policy)
                    .restrict_public_buckets(config.restrict_public_buckets)
                    .build();
                let out =
                    c.s3.put_public_access_block()
                        .bucket(bucket)
                        .expected_bucket_owner(owner)
                        .public_access_block_configuration(pab)
                        .send()
                        .await;
                self.write(Service::S3, name, step, out).map(|_| ())
            }
            Action::PutBucketEncryption { bucket, algorithm } => {
                let default = s3t::ServerSideEncryptionByDefault::builder()
                    .sse_algorithm(s3t::ServerSideEncryption::from(*algorithm))
                    .build()
                    .map_err(|e| build(&e))?;
                let rule = s3t::ServerSideEncryptionRule::builder()
                    .apply_server_side_encryption_by_default(default)
                    .build();
                let config = s3t::ServerSideEncryptionConfiguration::builder()
                    .rules(rule)
                    .build()
                    .map_err(|e| build(&e))?;
                let out =
                    c.s3.put_bucket_encryption()
                        .bucket(bucket)
                        .expected_bucket_owner(owner)
                        .server_side_encryption_configuration(config)
                        .send()
                        .await;
                self.write(Service::S3, name, step, out).map(|_| ())
            }
            Action::PutObject {
                bucket,
                key,
                body,
                content_type,
                acl,
                ..
            } => {
                let out =
                    c.s3.put_object()
                        .bucket(bucket)
                        .key(*key)
                        .expected_bucket_owner(owner)
                        .content_type(*content_type)
                        .acl(s3t::ObjectCannedAcl::from(*acl))
                        .body(ByteStream::from(body.clone()))
                        .send()
                        .await;
                self.write(Service::S3, name, step, out).map(|_| ())
            }
            Action::CreateOpenIdConnectProvider {
                arn: expected,
                url,
                client_ids,
                thumbprints,
                tags,
            } => {
                let mut tag_list = Vec::new();
                for t in tags {
                    tag_list.push(iam_tag(t).map_err(|e| build(&e))?);
                }
                let out = c
                    .iam
                    .create_open_id_connect_provider()
                    .url(url)
                    .set_client_id_list(Some(client_ids.clone()))
                    .set_thumbprint_list(Some(thumbprints.clone()))
                    .set_tags(Some(tag_list))
                    .send()
                    .await;
                match self.write(Service::Iam, name, step, out) {
                    Ok(created) => {
                        let actual = created.open_id_connect_provider_arn().unwrap_or_default();
                        if actual == expected {
                            Ok(())
                        } else {
                            Err(EngineError::WrongAccount {
                                expected: expected.clone(),
                                actual: actual.to_owned(),
                            })
                        }
                    }
                    // A retry of a create whose first attempt went through (or a race with
                    // another writer): correct whatever differs, as the next pass would.
                    Err(EngineError::Aws { code, .. }) if code == "EntityAlreadyExists" => {
                        match desired {
                            Some(desired) => Box::pin(self.correct_provider(desired)).await,
                            None => Ok(()),
                        }
                    }
                    Err(e) => Err(e),
                }
            }
            Action::AddClientIdToOpenIdConnectProvider { arn, client_id } => {
                let out = c
                    .iam
                    .add_client_id_to_open_id_connect_provider()
                    .open_id_connect_provider_arn(arn)
                    .client_id(client_id)
                    .send()
                    .await;
                self.write(Service::Iam, name, step, out).map(|_| ())
            }
            Action::RemoveClientIdFromOpenIdConnectProvider { arn, client_id } => {
                let out = c
                    .iam
                    .remove_client_id_from_open_id_connect_provider()
                    .open_id_connect_provider_arn(arn)
                    .client_id(client_id)
                    .send()
                    .await;
                self.write(Service::Iam, name, step, out).map(|_| ())
            }
            Action::UpdateOpenIdConnectProviderThumbprint { arn, thumbprints } => {
                let out = c
                    .iam
                    .update_open_id_connect_provider_thumbprint()
                    .open_id_connect_provider_arn(arn)
                    .set_thumbprint_list(Some(thumbprints.clone()))
                    .send()
                    .await;
                self.write(Service::Iam, name, step, out).map(|_| ())
            }
            Action::TagOpenIdConnectProvider { arn, tags } => {
                let mut tag_list = Vec::new();
                for t in tags {
                    tag_list.push(iam_tag(t).map_err(|e| build(&e))?);
                }
                let out = c
                    .iam
                    .tag_open_id_connect_provider()
                    .open_id_connect_provider_arn(arn)
                    .set_tags(Some(tag_list))
                    .send()
                    .await;
                self.write(Service::Iam, name, step, out).map(|_| ())
            }
            Action::UntagOpenIdConnectProvider { arn, keys } => {
                let out = c
                    .iam
                    .untag_open_id_connect_provider()
                    .open_id_connect_provider_arn(arn)
                    .set_tag_keys(Some(keys.clone()))
                    .send()
                    .await;
                self.write(Service::Iam, name, step, out).map(|_| ())
            }
            Action::DeleteOpenIdConnectProvider { arn } => {
                let out = c
                    .iam
                    .delete_open_id_connect_provider()
                    .open_id_connect_provider_arn(arn)
                    .send()
                    .await;
                missing_is_fine(self.write(Service::Iam, name, step, out), "NoSuchEntity")
            }
            Action::CreateRole {
                arn,
                assume_role_policy_document,
                max_session_duration,
                description,
            } => {
                let out = c
                    .iam
                    .create_role()
                    .role_name(arn.name().as_str())
                    .path(arn.path().as_str())
                    .assume_role_policy_document(assume_role_policy_document)
                    .max_session_duration(i32::try_from(*max_session_duration).unwrap_or(i32::MAX))
                    .set_description(description.clone())
                    .send()
                    .await;
                self.write(Service::Iam, name, step, out).map(|_| ())
            }
            Action::UpdateAssumeRolePolicy {
                arn,
                policy_document,
            } => {
                let out = c
                    .iam
                    .update_assume_role_policy()
                    .role_name(arn.name().as_str())
                    .policy_document(policy_document)
                    .send()
                    .await;
                self.write(Service::Iam, name, step, out).map(|_| ())
            }
            Action::UpdateRole {
                arn,
                max_session_duration,
                description,
            } => {
                // IAM leaves an absent description unchanged; an empty one clears it.
                let out = c
                    .iam
                    .update_role()
                    .role_name(arn.name().as_str())
                    .max_session_duration(i32::try_from(*max_session_duration).unwrap_or(i32::MAX))
                    .description(description.clone().unwrap_or_default())
                    .send()
                    .await;
                self.write(Service::Iam, name, step, out).map(|_| ())
            }
            Action::DeleteRole { arn } => {
                let out = c
                    .iam
                    .delete_role()
                    .role_name(arn.name().as_str())
                    .send()
                    .await;
                missing_is_fine(self.write(Service::Iam, name, step, out), "NoSuchEntity")
            }
            Action::DeleteObject { bucket, key } => {
                let out =
                    c.s3.delete_object()
                        .bucket(bucket)
                        .key(key)
                        .expected_bucket_owner(owner)
                        .send()
                        .await;
                missing_is_fine(self.write(Service::S3, name, step, out), "NoSuchBucket")
            }
            Action::DeleteBucket { bucket } => {
                let out =
                    c.s3.delete_bucket()
                        .bucket(bucket)
                        .expected_bucket_owner(owner)
                        .send()
                        .await;
                missing_is_fine(self.write(Service::S3, name, step, out), "NoSuchBucket")
            }
        }
    }

    /// After `EntityAlreadyExists`: reads the provider and applies what still differs.
    async fn correct_provider(&self, desired: &Desired) -> Result<(), EngineError> {
        let found = observe::provider(&self.clients, &desired.spec).await?;
        let observed = Observed {
            bucket: ObservedBucket::Absent,
            provider: found,
        };
        let step = plan_provider(&desired.provider, observed.provider.as_ref());
        for action in &step.actions {
            if matches!(action, Action::CreateOpenIdConnectProvider { .. }) {
                continue; // gone again in between: the next pass creates it
            }
            Box::pin(self.apply(&desired.spec, "provider", action, &observed, Some(desired)))
                .await?;
        }
        Ok(())
    }
}

fn iam_tag(
    t: &irsa_provision::Tag,
) -> Result<aws_sdk_iam::types::Tag, aws_sdk_iam::error::BuildError> {
    aws_sdk_iam::types::Tag::builder()
        .key(&t.key)
        .value(&t.value)
        .build()
}

fn missing_is_fine<T>(result: Result<T, EngineError>, missing: &str) -> Result<(), EngineError> {
    match result {
        Ok(_) => Ok(()),
        Err(EngineError::Aws { code, .. }) if code == missing => Ok(()),
        Err(e) => Err(e),
    }
}
