//! Observed state, actions, and the two planners.
//!
//! The executor reads what exists into an [`Observed`], the planner compares it with the
//! [`Desired`] state and returns a [`Plan`]: one [`StepPlan`] per resource, in the order
//! they must be applied, each with its [`Action`]s (AWS calls, named as AWS names them).
//! A step without actions is converged; a plan without actions makes no mutating call.

use std::collections::BTreeMap;

use irsa_core::aws::RoleArn;
use serde::Serialize;

use crate::provider::{DesiredProvider, Extras};
use crate::spec::{
    CONTENT_TYPE, ClusterSpec, Desired, OBJECT_ACL, OBJECT_OWNERSHIP, PUBLIC_ACCESS_BLOCK,
    PublicAccessBlock, SSE_ALGORITHM, Tag,
};

/// The AWS service an action or read goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Service {
    /// Amazon S3.
    S3,
    /// AWS IAM.
    Iam,
    /// AWS STS.
    Sts,
}

impl Service {
    /// The lowercase service name, as in IAM action prefixes (`s3`, `iam`, `sts`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::S3 => "s3",
            Self::Iam => "iam",
            Self::Sts => "sts",
        }
    }
}

impl std::fmt::Display for Service {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What exists of the bucket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ObservedBucket {
    /// No such bucket (S3 answered `NoSuchBucket`).
    Absent,
    /// The bucket exists but reading it was denied: it is someone else's, or our
    /// credentials lack a permission. Only CreateBucket's answer tells which.
    Unreadable {
        /// The AWS error code of the denied read.
        code: String,
    },
    /// The bucket exists and could be read.
    Present(BucketState),
}

/// The settings of an existing bucket.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BucketState {
    /// Its tags (empty for `NoSuchTagSet`).
    pub tags: Vec<Tag>,
    /// The object ownership rule, `None` when none is configured.
    pub ownership: Option<String>,
    /// The public access block, `None` when none is configured.
    pub public_access_block: Option<PublicAccessBlock>,
    /// The default encryption algorithm, `None` when none is configured.
    pub encryption: Option<String>,
    /// Object keys and their ETags (quotes stripped).
    pub objects: BTreeMap<String, String>,
}

/// An existing IAM OIDC provider at the cluster's deterministic ARN.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ObservedProvider {
    /// Its client IDs (audiences).
    pub client_ids: Vec<String>,
    /// Its thumbprints.
    pub thumbprints: Vec<String>,
    /// Its tags.
    pub tags: Vec<Tag>,
}

/// Everything the executor read in one pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observed {
    /// The bucket.
    pub bucket: ObservedBucket,
    /// The provider, `None` for `NoSuchEntity`.
    pub provider: Option<ObservedProvider>,
}

/// One AWS call that changes something. Variant names are AWS's action names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "action")]
pub enum Action {
    /// Create the bucket; with `existing`, the bucket exists without our tag and the call
    /// only asks S3 whose it is (`BucketAlreadyOwnedByYou` = ours, `BucketAlreadyExists` =
    /// another account's, an error).
    CreateBucket {
        /// Bucket name.
        bucket: String,
        /// The region, or `None` in us-east-1.
        location_constraint: Option<String>,
        /// Whether the bucket is known to exist (an ownership claim).
        existing: bool,
    },
    /// Replace the bucket's tags.
    PutBucketTagging {
        /// Bucket name.
        bucket: String,
        /// The full tag set.
        tags: Vec<Tag>,
    },
    /// Set object ownership to `ObjectWriter`.
    PutBucketOwnershipControls {
        /// Bucket name.
        bucket: String,
        /// The ownership rule.
        ownership: &'static str,
    },
    /// Set the public access block.
    PutPublicAccessBlock {
        /// Bucket name.
        bucket: String,
        /// The four flags.
        config: PublicAccessBlock,
    },
    /// Set default encryption.
    PutBucketEncryption {
        /// Bucket name.
        bucket: String,
        /// The SSE algorithm.
        algorithm: &'static str,
    },
    /// Upload an object.
    PutObject {
        /// Bucket name.
        bucket: String,
        /// Object key.
        key: &'static str,
        /// The bytes (not serialized; `md5` and `size` identify them).
        #[serde(skip)]
        body: Vec<u8>,
        /// Hex MD5 of the body.
        md5: String,
        /// Body length in bytes.
        size: usize,
        /// Content type.
        content_type: &'static str,
        /// Canned ACL.
        acl: &'static str,
    },
    /// Create the provider.
    #[serde(rename = "CreateOpenIDConnectProvider")]
    CreateOpenIdConnectProvider {
        /// The ARN it gets (IAM derives it from the caller's account and the URL).
        arn: String,
        /// Issuer URL.
        url: String,
        /// Client IDs (audiences) the provider accepts.
        client_ids: Vec<String>,
        /// SHA-1 thumbprints of the issuer's TLS CA, lowercase hex.
        thumbprints: Vec<String>,
        /// Tags the provider is created with (ownership and cluster tags included).
        tags: Vec<Tag>,
    },
    /// Add a client ID.
    #[serde(rename = "AddClientIDToOpenIDConnectProvider")]
    AddClientIdToOpenIdConnectProvider {
        /// Provider ARN.
        arn: String,
        /// The client ID.
        client_id: String,
    },
    /// Remove a client ID that is not wanted.
    #[serde(rename = "RemoveClientIDFromOpenIDConnectProvider")]
    RemoveClientIdFromOpenIdConnectProvider {
        /// Provider ARN.
        arn: String,
        /// The client ID.
        client_id: String,
    },
    /// Replace the thumbprint list.
    #[serde(rename = "UpdateOpenIDConnectProviderThumbprint")]
    UpdateOpenIdConnectProviderThumbprint {
        /// Provider ARN.
        arn: String,
        /// The full list.
        thumbprints: Vec<String>,
    },
    /// Add or overwrite tags.
    #[serde(rename = "TagOpenIDConnectProvider")]
    TagOpenIdConnectProvider {
        /// Provider ARN.
        arn: String,
        /// Tags whose key is missing or whose value differs.
        tags: Vec<Tag>,
    },
    /// Remove tags that are not wanted.
    #[serde(rename = "UntagOpenIDConnectProvider")]
    UntagOpenIdConnectProvider {
        /// Provider ARN.
        arn: String,
        /// Tag keys.
        keys: Vec<String>,
    },
    /// Delete the provider.
    #[serde(rename = "DeleteOpenIDConnectProvider")]
    DeleteOpenIdConnectProvider {
        /// Provider ARN.
        arn: String,
    },
    /// Create a role.
    CreateRole {
        /// The role's ARN: partition, account, path and name.
        arn: RoleArn,
        /// The trust policy (JSON).
        assume_role_policy_document: String,
        /// Maximum session duration in seconds.
        max_session_duration: u32,
        /// IAM role description, as given.
        description: Option<String>,
    },
    /// Replace a role's trust policy.
    UpdateAssumeRolePolicy {
        /// The role's ARN.
        arn: RoleArn,
        /// The trust policy (JSON).
        policy_document: String,
    },
    /// Set a role's maximum session duration and description.
    UpdateRole {
        /// The role's ARN.
        arn: RoleArn,
        /// Maximum session duration in seconds.
        max_session_duration: u32,
        /// Description (`None` clears it).
        description: Option<String>,
    },
    /// Delete a role: before re-creating it with another path or partition, which IAM
    /// cannot change in place.
    DeleteRole {
        /// The role's current ARN.
        arn: RoleArn,
    },
    /// Delete an object.
    DeleteObject {
        /// Bucket name.
        bucket: String,
        /// Object key.
        key: String,
    },
    /// Delete the (empty) bucket.
    DeleteBucket {
        /// Bucket name.
        bucket: String,
    },
}

impl Action {
    /// The service the call goes to.
    pub fn service(&self) -> Service {
        match self {
            Self::CreateBucket { .. }
            | Self::PutBucketTagging { .. }
            | Self::PutBucketOwnershipControls { .. }
            | Self::PutPublicAccessBlock { .. }
            | Self::PutBucketEncryption { .. }
            | Self::PutObject { .. }
            | Self::DeleteObject { .. }
            | Self::DeleteBucket { .. } => Service::S3,
            _ => Service::Iam,
        }
    }

    /// AWS's name of the call, e.g. `PutBucketTagging`.
    pub fn name(&self) -> &'static str {
        match self {
            Self::CreateBucket { .. } => "CreateBucket",
            Self::PutBucketTagging { .. } => "PutBucketTagging",
            Self::PutBucketOwnershipControls { .. } => "PutBucketOwnershipControls",
            Self::PutPublicAccessBlock { .. } => "PutPublicAccessBlock",
            Self::PutBucketEncryption { .. } => "PutBucketEncryption",
            Self::PutObject { .. } => "PutObject",
            Self::CreateOpenIdConnectProvider { .. } => "CreateOpenIDConnectProvider",
            Self::AddClientIdToOpenIdConnectProvider { .. } => "AddClientIDToOpenIDConnectProvider",
            Self::RemoveClientIdFromOpenIdConnectProvider { .. } => {
                "RemoveClientIDFromOpenIDConnectProvider"
            }
            Self::UpdateOpenIdConnectProviderThumbprint { .. } => {
                "UpdateOpenIDConnectProviderThumbprint"
            }
            Self::TagOpenIdConnectProvider { .. } => "TagOpenIDConnectProvider",
            Self::UntagOpenIdConnectProvider { .. } => "UntagOpenIDConnectProvider",
            Self::DeleteOpenIdConnectProvider { .. } => "DeleteOpenIDConnectProvider",
            Self::DeleteObject { .. } => "DeleteObject",
            Self::DeleteBucket { .. } => "DeleteBucket",
            Self::CreateRole { .. } => "CreateRole",
            Self::UpdateAssumeRolePolicy { .. } => "UpdateAssumeRolePolicy",
            Self::UpdateRole { .. } => "UpdateRole",
            Self::DeleteRole { .. } => "DeleteRole",
        }
    }

    /// What the call changes, for the plan printed by `--dry-run` (one short phrase).
    pub fn describe(&self) -> String {
        match self {
            Self::CreateBucket {
                bucket,
                location_constraint,
                existing,
            } => {
                let region = location_constraint.as_deref().unwrap_or("us-east-1");
                if *existing {
                    format!("claim existing bucket {bucket} (CreateBucket decides whose it is)")
                } else {
                    format!("create bucket {bucket} in {region}")
                }
            }
            Self::PutBucketTagging { tags, .. } => format!("set bucket tags {}", tag_list(tags)),
            Self::PutBucketOwnershipControls { ownership, .. } => {
                format!("set object ownership {ownership}")
            }
            Self::PutPublicAccessBlock { .. } => {
                "allow public ACLs, block public policies".to_owned()
            }
            Self::PutBucketEncryption { algorithm, .. } => {
                format!("set default encryption {algorithm}")
            }
            Self::PutObject { key, size, acl, .. } => format!("upload {key} ({size} bytes, {acl})"),
            Self::CreateOpenIdConnectProvider { url, .. } => format!("create provider for {url}"),
            Self::AddClientIdToOpenIdConnectProvider { client_id, .. } => {
                format!("add client ID {client_id}")
            }
            Self::RemoveClientIdFromOpenIdConnectProvider { client_id, .. } => {
                format!("remove client ID {client_id}")
            }
            Self::UpdateOpenIdConnectProviderThumbprint { thumbprints, .. } => {
                format!("set thumbprints {}", thumbprints.join(","))
            }
            Self::TagOpenIdConnectProvider { tags, .. } => format!("set tags {}", tag_list(tags)),
            Self::UntagOpenIdConnectProvider { keys, .. } => {
                format!("remove tags {}", keys.join(","))
            }
            Self::DeleteOpenIdConnectProvider { arn } => format!("delete provider {arn}"),
            Self::DeleteObject { key, .. } => format!("delete {key}"),
            Self::DeleteBucket { bucket } => format!("delete bucket {bucket}"),
            Self::CreateRole { arn, .. } => format!("create role {arn}"),
            Self::UpdateAssumeRolePolicy { .. } => "replace trust policy".to_owned(),
            Self::UpdateRole {
                max_session_duration,
                ..
            } => format!("set max session duration {max_session_duration}s and description"),
            Self::DeleteRole { arn } => format!("delete role {arn}"),
        }
    }
}

fn tag_list(tags: &[Tag]) -> String {
    tags.iter()
        .map(|t| format!("{}={}", t.key, t.value))
        .collect::<Vec<_>>()
        .join(",")
}

/// The resource a step converges.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Step {
    /// The S3 bucket and its settings.
    Bucket,
    /// One published object (its key).
    Object(&'static str),
    /// The IAM OIDC provider.
    Provider,
    /// An IAM role.
    Role,
}

impl Step {
    /// The step's label in progress lines: `bucket`, the object key, `provider`.
    pub fn label(&self) -> &'static str {
        match self {
            Self::Bucket => "bucket",
            Self::Object(key) => key,
            Self::Provider => "provider",
            Self::Role => "role",
        }
    }
}

/// How a step ends when its actions succeed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// It did not exist and is created.
    Created,
    /// It existed and some settings are corrected.
    Updated,
    /// An object's bytes are uploaded.
    Uploaded,
    /// Nothing to do.
    UpToDate,
    /// It is removed.
    Deleted,
    /// It does not exist (removal).
    Absent,
    /// It exists but is not ours (or not removable) and is left alone.
    Kept,
}

impl Outcome {
    /// The words in progress lines.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Created => "created",
            Self::Updated => "updated",
            Self::Uploaded => "uploaded",
            Self::UpToDate => "up to date",
            Self::Deleted => "deleted",
            Self::Absent => "absent",
            Self::Kept => "kept",
        }
    }
}

/// The plan for one resource.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StepPlan {
    /// Which resource.
    pub step: Step,
    /// Its name: bucket name, `s3://BUCKET/KEY`, provider ARN.
    pub subject: String,
    /// The outcome once the actions succeeded.
    pub outcome: Outcome,
    /// Why, when it is not obvious (`tags, encryption`, `not tagged irsa.io/cluster=abc`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// The calls, in order.
    pub actions: Vec<Action>,
}

impl StepPlan {
    /// The progress line: `bucket NAME created`, `keys.json s3://B/keys.json up to date`.
    pub fn progress_line(&self) -> String {
        let mut line = format!(
            "{} {} {}",
            self.step.label(),
            self.subject,
            self.outcome.as_str()
        );
        if let Some(detail) = &self.detail {
            line.push_str(&format!(" ({detail})"));
        }
        line
    }
}

/// All steps, in the order they are applied.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Plan {
    /// The steps.
    pub steps: Vec<StepPlan>,
}

impl Plan {
    /// Every action, in order.
    pub fn actions(&self) -> impl Iterator<Item = &Action> {
        self.steps.iter().flat_map(|s| s.actions.iter())
    }

    /// True when no step has anything to do.
    pub fn is_converged(&self) -> bool {
        self.actions().next().is_none()
    }
}

/// Whose a bucket is, from CreateBucket's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BucketClaim {
    /// CreateBucket succeeded: it was created now (or, in us-east-1, re-created by its
    /// owner, which S3 answers with success).
    Created,
    /// `BucketAlreadyOwnedByYou`: it is this account's.
    OwnedByUs,
    /// `BucketAlreadyExists`: another account owns the name. Never success.
    OwnedByAnotherAccount,
}

/// Interprets CreateBucket's answer: `None` error code is success; other error codes are
/// not about ownership (`None` returned) and are failures of their own.
pub fn bucket_claim(error_code: Option<&str>) -> Option<BucketClaim> {
    match error_code {
        None => Some(BucketClaim::Created),
        Some("BucketAlreadyOwnedByYou") => Some(BucketClaim::OwnedByUs),
        Some("BucketAlreadyExists") => Some(BucketClaim::OwnedByAnotherAccount),
        Some(_) => None,
    }
}

/// The plan that turns `observed` into `desired`.
pub fn plan_provision(desired: &Desired, observed: &Observed) -> Plan {
    let spec = &desired.spec;
    let bucket = spec.bucket().to_owned();
    let mut steps = vec![plan_bucket(desired, &observed.bucket)];
    for object in &desired.objects {
        let etag = match &observed.bucket {
            ObservedBucket::Present(state) => state.objects.get(object.key),
            _ => None,
        };
        let current =
            etag.is_some_and(|e| e.trim_matches('"').eq_ignore_ascii_case(&object.md5_hex));
        let (outcome, detail, actions) = if current {
            (Outcome::UpToDate, None, Vec::new())
        } else {
            let why = if etag.is_some() {
                "content differs"
            } else {
                "missing"
            };
            (
                Outcome::Uploaded,
                Some(why.to_owned()),
                vec![Action::PutObject {
                    bucket: bucket.clone(),
                    key: object.key,
                    body: object.body.clone(),
                    md5: object.md5_hex.clone(),
                    size: object.body.len(),
                    content_type: CONTENT_TYPE,
                    acl: OBJECT_ACL,
                }],
            )
        };
        steps.push(StepPlan {
            step: crate::plan::Step::Object(object.key),
            subject: format!("s3://{bucket}/{}", object.key),
            outcome,
            detail,
            actions,
        });
    }
    steps.push(plan_provider(&desired.provider, observed.provider.as_ref()));
    Plan { steps }
}

fn plan_bucket(desired: &Desired, observed: &ObservedBucket) -> StepPlan {
    let spec = &desired.spec;
    let bucket = spec.bucket().to_owned();
    let create = |existing| Action::CreateBucket {
        bucket: bucket.clone(),
        location_constraint: spec.location_constraint().map(str::to_owned),
        existing,
    };
    let tagging = || Action::PutBucketTagging {
        bucket: bucket.clone(),
        tags: desired.bucket_tags.clone(),
    };
    let ownership = || Action::PutBucketOwnershipControls {
        bucket: bucket.clone(),
        ownership: OBJECT_OWNERSHIP,
    };
    let pab = || Action::PutPublicAccessBlock {
        bucket: bucket.clone(),
        config: PUBLIC_ACCESS_BLOCK,
    };
    let encryption = || Action::PutBucketEncryption {
        bucket: bucket.clone(),
        algorithm: SSE_ALGORITHM,
    };
    // The ownership tag goes on first, so that an interrupted run leaves a bucket that
    // the next run (and deprovision) recognises as ours.
    let (outcome, detail, actions) = match observed {
        ObservedBucket::Absent => (
            Outcome::Created,
            None,
            vec![create(false), tagging(), ownership(), pab(), encryption()],
        ),
        ObservedBucket::Unreadable { code } => (
            Outcome::Updated,
            Some(format!("reading it was denied ({code})")),
            vec![create(true), tagging(), ownership(), pab(), encryption()],
        ),
        ObservedBucket::Present(state) => {
            let mut actions = Vec::new();
            let mut changed = Vec::new();
            if !spec.is_ours(&state.tags) {
                actions.push(create(true));
                changed.push("claimed");
            }
            let mut tags = state.tags.clone();
            tags.sort();
            if tags != desired.bucket_tags {
                actions.push(tagging());
                changed.push("tags");
            }
            if state.ownership.as_deref() != Some(OBJECT_OWNERSHIP) {
                actions.push(ownership());
                changed.push("ownership");
            }
            if state.public_access_block != Some(PUBLIC_ACCESS_BLOCK) {
                actions.push(pab());
                changed.push("public access block");
            }
            if state.encryption.as_deref() != Some(SSE_ALGORITHM) {
                actions.push(encryption());
                changed.push("encryption");
            }
            if actions.is_empty() {
                (Outcome::UpToDate, None, actions)
            } else {
                (Outcome::Updated, Some(changed.join(", ")), actions)
            }
        }
    };
    StepPlan {
        step: Step::Bucket,
        subject: bucket,
        outcome,
        detail,
        actions,
    }
}

/// The provider step alone: for the one provider of `irsa provision` (also used by the
/// executor after a create raced with another) and for each provider of
/// [`crate::identity::plan_identities`].
pub fn plan_provider(desired: &DesiredProvider, observed: Option<&ObservedProvider>) -> StepPlan {
    let arn = desired.arn.to_string();
    let Some(p) = observed else {
        return StepPlan {
            step: Step::Provider,
            subject: arn.clone(),
            outcome: Outcome::Created,
            detail: None,
            actions: vec![Action::CreateOpenIdConnectProvider {
                arn,
                url: desired.url.clone(),
                client_ids: desired.client_ids.clone(),
                thumbprints: desired.thumbprints.clone(),
                tags: desired.tags.clone(),
            }],
        };
    };
    let remove_extras = desired.extras == Extras::Remove;
    let mut actions = Vec::new();
    let mut changed = Vec::new();
    for id in &desired.client_ids {
        if !p.client_ids.contains(id) {
            actions.push(Action::AddClientIdToOpenIdConnectProvider {
                arn: arn.clone(),
                client_id: id.clone(),
            });
        }
    }
    for id in &p.client_ids {
        if remove_extras && !desired.client_ids.contains(id) {
            actions.push(Action::RemoveClientIdFromOpenIdConnectProvider {
                arn: arn.clone(),
                client_id: id.clone(),
            });
        }
    }
    if !actions.is_empty() {
        changed.push("client IDs");
    }
    // No thumbprint wanted means "not managed": IAM no longer needs one for issuers whose
    // certificate chains to a trusted CA, and an empty update would be rejected.
    if !desired.thumbprints.is_empty() && !same_thumbprints(&desired.thumbprints, &p.thumbprints) {
        actions.push(Action::UpdateOpenIdConnectProviderThumbprint {
            arn: arn.clone(),
            thumbprints: desired.thumbprints.clone(),
        });
        changed.push("thumbprints");
    }
    let to_tag: Vec<Tag> = desired
        .tags
        .iter()
        .filter(|t| !p.tags.contains(t))
        .cloned()
        .collect();
    let mut to_untag: Vec<String> = p
        .tags
        .iter()
        .filter(|t| remove_extras && !desired.tags.iter().any(|d| d.key == t.key))
        .map(|t| t.key.clone())
        .collect();
    to_untag.sort();
    to_untag.dedup();
    if !to_tag.is_empty() || !to_untag.is_empty() {
        changed.push("tags");
    }
    if !to_tag.is_empty() {
        actions.push(Action::TagOpenIdConnectProvider {
            arn: arn.clone(),
            tags: to_tag,
        });
    }
    if !to_untag.is_empty() {
        actions.push(Action::UntagOpenIdConnectProvider {
            arn: arn.clone(),
            keys: to_untag,
        });
    }
    let (outcome, detail) = if actions.is_empty() {
        (Outcome::UpToDate, None)
    } else {
        (Outcome::Updated, Some(changed.join(", ")))
    };
    StepPlan {
        step: Step::Provider,
        subject: arn,
        outcome,
        detail,
        actions,
    }
}

fn same_thumbprints(a: &[String], b: &[String]) -> bool {
    let norm = |v: &[String]| {
        let mut v: Vec<String> = v.iter().map(|t| t.to_ascii_lowercase()).collect();
        v.sort();
        v.dedup();
        v
    };
    norm(a) == norm(b)
}

/// The removal plan: provider, objects, bucket (the reverse of creation), touching only
/// what carries this cluster's `irsa.io/cluster` tag. Missing resources are not errors.
pub fn plan_deprovision(
    spec: &ClusterSpec,
    object_keys: &[&'static str],
    observed: &Observed,
) -> Plan {
    let arn = spec.provider_arn().to_string();
    let ours_detail = || format!("not tagged {}={}", crate::spec::CLUSTER_TAG, spec.cluster());
    let provider = match &observed.provider {
        None => StepPlan {
            step: Step::Provider,
            subject: arn,
            outcome: Outcome::Absent,
            detail: None,
            actions: Vec::new(),
        },
        Some(p) if spec.is_ours(&p.tags) => StepPlan {
            step: Step::Provider,
            subject: arn.clone(),
            outcome: Outcome::Deleted,
            detail: None,
            actions: vec![Action::DeleteOpenIdConnectProvider { arn }],
        },
        Some(_) => StepPlan {
            step: Step::Provider,
            subject: arn,
            outcome: Outcome::Kept,
            detail: Some(ours_detail()),
            actions: Vec::new(),
        },
    };
    let bucket = spec.bucket().to_owned();
    let mut steps = vec![provider];
    let object_step = |key: &'static str, outcome, detail: Option<String>, actions| StepPlan {
        step: Step::Object(key),
        subject: format!("s3://{bucket}/{key}"),
        outcome,
        detail,
        actions,
    };
    match &observed.bucket {
        ObservedBucket::Present(state) if spec.is_ours(&state.tags) => {
            for &key in object_keys {
                if state.objects.contains_key(key) {
                    steps.push(object_step(
                        key,
                        Outcome::Deleted,
                        None,
                        vec![Action::DeleteObject {
                            bucket: bucket.clone(),
                            key: key.to_owned(),
                        }],
                    ));
                } else {
                    steps.push(object_step(key, Outcome::Absent, None, Vec::new()));
                }
            }
            let others: Vec<&String> = state
                .objects
                .keys()
                .filter(|k| !object_keys.contains(&k.as_str()))
                .collect();
            steps.push(if others.is_empty() {
                StepPlan {
                    step: Step::Bucket,
                    subject: bucket.clone(),
                    outcome: Outcome::Deleted,
                    detail: None,
                    actions: vec![Action::DeleteBucket {
                        bucket: bucket.clone(),
                    }],
                }
            } else {
                StepPlan {
                    step: Step::Bucket,
                    subject: bucket.clone(),
                    outcome: Outcome::Kept,
                    detail: Some(format!(
                        "holds {} object(s) irsa did not write, e.g. {}",
                        others.len(),
                        others[0]
                    )),
                    actions: Vec::new(),
                }
            });
        }
        ObservedBucket::Absent => {
            for &key in object_keys {
                steps.push(object_step(key, Outcome::Absent, None, Vec::new()));
            }
            steps.push(StepPlan {
                step: Step::Bucket,
                subject: bucket.clone(),
                outcome: Outcome::Absent,
                detail: None,
                actions: Vec::new(),
            });
        }
        ObservedBucket::Present(_) | ObservedBucket::Unreadable { .. } => {
            let detail = match &observed.bucket {
                ObservedBucket::Unreadable { code } => format!("reading it was denied ({code})"),
                _ => ours_detail(),
            };
            for &key in object_keys {
                steps.push(object_step(
                    key,
                    Outcome::Kept,
                    Some(detail.clone()),
                    Vec::new(),
                ));
            }
            steps.push(StepPlan {
                step: Step::Bucket,
                subject: bucket.clone(),
                outcome: Outcome::Kept,
                detail: Some(detail),
                actions: Vec::new(),
            });
        }
    }
    Plan { steps }
}

#[cfg(test)]
mod tests;
