//! The reads of one pass: at most six calls on a converged cluster.
//!
//! Bucket: `GetBucketTagging` (existence and ownership in one call), then in parallel
//! `GetBucketOwnershipControls`, `GetPublicAccessBlock`, `GetBucketEncryption` and
//! `ListObjectsV2` (both objects' ETags in one call, instead of a `HeadObject` each).
//! Provider: `GetOpenIDConnectProvider` on the deterministic ARN (its answer carries the
//! tags), in parallel with the bucket. Every S3 call but CreateBucket carries
//! `ExpectedBucketOwner`, so a same-named bucket of another account answers 403 instead
//! of being read.

use std::collections::BTreeMap;

use irsa_provision::spec::PublicAccessBlock;
use irsa_provision::{BucketState, ClusterSpec, ObservedBucket, ObservedProvider, Service, Tag};

use crate::calls::CallKind;
use crate::clients::Clients;
use crate::error::EngineError;

/// Error codes that mean "the bucket exists, but not for us to read".
const DENIED: &[&str] = &["AccessDenied", "AllAccessDisabled", "Forbidden"];
/// Pages of ListObjectsV2 read at most (1,000 keys each): the bucket holds two objects.
const MAX_LIST_PAGES: usize = 10;

/// What a read answered when "not found" is an answer, not a failure.
fn absent_on<T>(result: Result<T, EngineError>, codes: &[&str]) -> Result<Option<T>, EngineError> {
    match result {
        Ok(v) => Ok(Some(v)),
        Err(EngineError::Aws { ref code, .. }) if codes.contains(&code.as_str()) => Ok(None),
        Err(e) => Err(e),
    }
}

/// One bucket setting read: the call counted, the code S3 answers for "not configured"
/// (`unset`) read as `None`, and the value taken out of the answer.
fn bucket_setting<O, E, T>(
    c: &Clients,
    action: &'static str,
    unset: &str,
    out: Result<O, aws_sdk_s3::error::SdkError<E, aws_sdk_s3::config::http::HttpResponse>>,
    value: impl FnOnce(&O) -> Option<T>,
) -> Result<Option<T>, EngineError>
where
    E: aws_sdk_s3::error::ProvideErrorMetadata + std::error::Error + 'static,
{
    let out = c.count(Service::S3, action, CallKind::Read, "bucket", out);
    Ok(absent_on(out, &[unset])?.and_then(|o| value(&o)))
}

/// Reads the bucket. With `settings`, also its ownership, public access block and
/// encryption (provisioning); without, only tags and objects (removal).
pub(crate) async fn bucket(
    c: &Clients,
    spec: &ClusterSpec,
    settings: bool,
) -> Result<ObservedBucket, EngineError> {
    let bucket = spec.bucket();
    let owner = spec.account().as_str();
    let out =
        c.s3.get_bucket_tagging()
            .bucket(bucket)
            .expected_bucket_owner(owner)
            .send()
            .await;
    let tags = match c.count(
        Service::S3,
        "GetBucketTagging",
        CallKind::Read,
        "bucket",
        out,
    ) {
        Ok(out) => out
            .tag_set()
            .iter()
            .map(|t| Tag::new(t.key(), t.value()))
            .collect(),
        Err(EngineError::Aws { code, .. }) if code == "NoSuchBucket" => {
            return Ok(ObservedBucket::Absent);
        }
        Err(EngineError::Aws { code, .. }) if DENIED.contains(&code.as_str()) => {
            return Ok(ObservedBucket::Unreadable { code });
        }
        Err(EngineError::Aws { code, .. }) if code == "NoSuchTagSet" => Vec::new(),
        Err(e) => return Err(e),
    };
    let objects = objects(c, bucket, owner);
    if !settings {
        return Ok(ObservedBucket::Present(BucketState {
            tags,
            objects: objects.await?,
            ..BucketState::default()
        }));
    }
    let ownership = async {
        let out =
            c.s3.get_bucket_ownership_controls()
                .bucket(bucket)
                .expected_bucket_owner(owner)
                .send()
                .await;
        bucket_setting(
            c,
            "GetBucketOwnershipControls",
            "OwnershipControlsNotFoundError",
            out,
            |o| {
                o.ownership_controls()
                    .and_then(|oc| oc.rules().first())
                    .map(|r| r.object_ownership().as_str().to_owned())
            },
        )
    };
    let pab = async {
        let out =
            c.s3.get_public_access_block()
                .bucket(bucket)
                .expected_bucket_owner(owner)
                .send()
                .await;
        bucket_setting(
            c,
            "GetPublicAccessBlock",
            "NoSuchPublicAccessBlockConfiguration",
            out,
            |o| {
                o.public_access_block_configuration()
                    .map(|p| PublicAccessBlock {
                        block_public_acls: p.block_public_acls().unwrap_or(false),
                        ignore_public_acls: p.ignore_public_acls().unwrap_or(false),
                        block_public_policy: p.block_public_policy().unwrap_or(false),
                        restrict_public_buckets: p.restrict_public_buckets().unwrap_or(false),
                    })
            },
        )
    };
    let encryption = async {
        let out =
            c.s3.get_bucket_encryption()
                .bucket(bucket)
                .expected_bucket_owner(owner)
                .send()
                .await;
        bucket_setting(
            c,
            "GetBucketEncryption",
            "ServerSideEncryptionConfigurationNotFoundError",
            out,
            |o| {
                o.server_side_encryption_configuration()
                    .and_then(|c| c.rules().first())
                    .and_then(|r| r.apply_server_side_encryption_by_default())
                    .map(|d| d.sse_algorithm().as_str().to_owned())
            },
        )
    };
    let (ownership, public_access_block, encryption, objects) =
        tokio::try_join!(ownership, pab, encryption, objects)?;
    Ok(ObservedBucket::Present(BucketState {
        tags,
        ownership,
        public_access_block,
        encryption,
        objects,
    }))
}

/// Every object key and its ETag (quotes stripped).
async fn objects(
    c: &Clients,
    bucket: &str,
    owner: &str,
) -> Result<BTreeMap<String, String>, EngineError> {
    let mut out = BTreeMap::new();
    let mut token: Option<String> = None;
    for _ in 0..MAX_LIST_PAGES {
        let page =
            c.s3.list_objects_v2()
                .bucket(bucket)
                .expected_bucket_owner(owner)
                .set_continuation_token(token.take())
                .send()
                .await;
        let page = c.count(
            Service::S3,
            "ListObjectsV2",
            CallKind::Read,
            "objects",
            page,
        )?;
        for o in page.contents() {
            if let Some(key) = o.key() {
                let etag = o.e_tag().unwrap_or_default().trim_matches('"').to_owned();
                out.insert(key.to_owned(), etag);
            }
        }
        match page.next_continuation_token() {
            Some(t) if page.is_truncated().unwrap_or(false) => token = Some(t.to_owned()),
            _ => break,
        }
    }
    Ok(out)
}

/// Reads the provider at the cluster's deterministic ARN.
pub(crate) async fn provider(
    c: &Clients,
    spec: &ClusterSpec,
) -> Result<Option<ObservedProvider>, EngineError> {
    let out = c
        .iam
        .get_open_id_connect_provider()
        .open_id_connect_provider_arn(spec.provider_arn().to_string())
        .send()
        .await;
    let out = c.count(
        Service::Iam,
        "GetOpenIDConnectProvider",
        CallKind::Read,
        "provider",
        out,
    );
    Ok(absent_on(out, &["NoSuchEntity"])?.map(|p| observed_provider(&p)))
}

/// A provider as GetOpenIDConnectProvider answers it.
pub(crate) fn observed_provider(
    p: &aws_sdk_iam::operation::get_open_id_connect_provider::GetOpenIdConnectProviderOutput,
) -> ObservedProvider {
    ObservedProvider {
        client_ids: p.client_id_list().to_vec(),
        thumbprints: p.thumbprint_list().to_vec(),
        tags: p
            .tags()
            .iter()
            .map(|t| Tag::new(t.key(), t.value()))
            .collect(),
    }
}
