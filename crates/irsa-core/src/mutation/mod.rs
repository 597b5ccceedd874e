//! The pod-mutation planner: pod + ServiceAccount settings + webhook settings → JSON Patch.
//!
//! This is the heart of `irsa webhook` and `irsa mutate`, kept pure (no I/O, no clock, no
//! Kubernetes client) so the server, the offline CLI and the conformance tests run exactly the
//! same code. Behaviour follows amazon-eks-pod-identity-webhook (annotations, precedence,
//! env order, rules for variables already set, the `aws-iam-token` volume, Windows paths,
//! init containers, container-credentials mode) with one deliberate difference: the patch
//! is *granular*. Upstream re-emitted the whole `containers` array from compiled-in Kubernetes
//! types, silently dropping fields it did not know (gRPC probes, native-sidecar
//! `restartPolicy`); here every env entry, mount and volume is its own `add` operation on the
//! pod as received (a `serde_json::Value`, so unknown fields are never touched), and a pod
//! that already carries everything gets an empty patch (reinvocation-safe).

mod config;
mod identity;
mod manifest;
mod mapping;
mod planned;
mod pruned;
mod text;

use std::borrow::Cow;
use std::collections::HashSet;

use json_patch::PatchOperation;
use json_patch::jsonptr::PointerBuf;
use serde_json::{Map, Value};

pub use config::{
    ContainerCredentialsSettings, DEFAULT_ANNOTATION_PREFIX, DEFAULT_CC_AUDIENCE,
    DEFAULT_CC_FULL_URI, DEFAULT_CC_MOUNT_PATH, DEFAULT_CC_TOKEN_PATH, DEFAULT_CC_VOLUME_NAME,
    DEFAULT_TOKEN_AUDIENCE, DEFAULT_TOKEN_EXPIRATION, DEFAULT_TOKEN_EXPIRATION_SECS,
    DEFAULT_TOKEN_MOUNT_PATH, MIN_TOKEN_EXPIRATION, POD_IDENTITY_LABEL, POD_IDENTITY_LABEL_VALUE,
    STS_TOKEN_PATH, STS_VOLUME_NAME, WebhookConfig,
};
pub use identity::{
    ANNOTATION_AUDIENCE, ANNOTATION_ROLE_ARN, ANNOTATION_SKIP_CONTAINERS,
    ANNOTATION_STS_REGIONAL_ENDPOINTS, ANNOTATION_TOKEN_EXPIRATION, ServiceAccountIdentity,
    parse_expiration, parse_go_bool,
};
pub use manifest::{ManifestError, ServiceAccountManifest, parse_yaml};
pub use mapping::{
    ANY_NAMESPACE, CONFIG_MAP_KEY, CONFIG_MAP_NAME, ContainerCredentialsConfig, MappingEntry,
    MappingError, RoleMapping,
};
pub use planned::PlannedPatch;
pub use pruned::PrunedPod;
pub use text::{first_csv_record, go_clean, go_join, windows_path};

use mapping::json_type;
use planned::{Added, EnvVar, PlannedAdd, TokenMount, TokenVolume};

/// Env var: regional STS endpoints switch.
pub const ENV_STS_REGIONAL_ENDPOINTS: &str = "AWS_STS_REGIONAL_ENDPOINTS";
/// Env var: default region.
pub const ENV_DEFAULT_REGION: &str = "AWS_DEFAULT_REGION";
/// Env var: region.
pub const ENV_REGION: &str = "AWS_REGION";
/// Env var: role to assume with the web identity token.
pub const ENV_ROLE_ARN: &str = "AWS_ROLE_ARN";
/// Env var: path of the projected web identity token.
pub const ENV_WEB_IDENTITY_TOKEN_FILE: &str = "AWS_WEB_IDENTITY_TOKEN_FILE";
/// Env var: container credentials endpoint.
pub const ENV_CONTAINER_CREDENTIALS_FULL_URI: &str = "AWS_CONTAINER_CREDENTIALS_FULL_URI";
/// Env var: path of the container authorization token.
pub const ENV_CONTAINER_AUTHORIZATION_TOKEN_FILE: &str = "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE";

/// Lower bound of the container-credentials expiration jitter (upstream: 79200..=86400).
pub const JITTER_MIN_EXPIRATION: i64 = 79_200;
/// Width of the jitter range (`JITTER_MIN_EXPIRATION + 0..=JITTER_SPAN`).
pub const JITTER_SPAN: u64 = 7_200;

/// The pod could not be planned: a field the patch must write into has the wrong JSON type.
#[derive(Debug, thiserror::Error)]
pub enum MutationError {
    /// The pod is not a JSON object.
    #[error("pod must be a JSON object, found {found}")]
    PodNotObject {
        /// JSON type found instead.
        found: &'static str,
    },
    /// A field the planner reads or writes has the wrong type.
    #[error("pod field `{path}` must be {expected} (or absent), found {found}")]
    WrongType {
        /// JSON Pointer of the field.
        path: String,
        /// Type required.
        expected: &'static str,
        /// Type found.
        found: &'static str,
    },
    /// Applying a patch to a pod failed (only from [`apply_plan`]).
    #[error("cannot apply the JSON Patch to the pod: {0}")]
    Apply(#[from] json_patch::PatchError),
}

/// The container-credentials expiration jitter, for a pod whose expiration is exactly
/// 86400 s: upstream spreads token refreshes over `[79200, 86400]`.
///
/// The planner draws no randomness of its own: the caller supplies the value, so a plan is a
/// function of its inputs. The webhook passes a fresh random `u64` per request; `irsa mutate
/// --jitter-offset` and tests pass a fixed one. The offset is the value modulo
/// `JITTER_SPAN + 1` (`Jitter(0)`, the default, gives 79200 like upstream's fixtures).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Jitter(pub u64);

/// Inputs beyond the ServiceAccount: where the pod is and the optional identity sources.
#[derive(Debug, Clone, Copy, Default)]
pub struct PlanInputs<'a> {
    /// The admission request's namespace (upstream overwrites the pod's with it). When `None`
    /// the pod's `metadata.namespace` is used, then `default`.
    pub namespace: Option<&'a str>,
    /// The `--watch-config-map` mapping, when enabled.
    pub role_mapping: Option<&'a RoleMapping>,
    /// The `--watch-container-credentials-config` identities, when enabled.
    pub container_credentials: Option<&'a ContainerCredentialsConfig>,
    /// Expiration jitter for container-credentials mode.
    pub jitter: Jitter,
}

/// Which kind of credentials the pod receives (also the `method` label of
/// `pod_identity_webhook_pod_count`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// IRSA: `AWS_ROLE_ARN` + `AWS_WEB_IDENTITY_TOKEN_FILE`.
    StsWebIdentity,
    /// EKS Pod Identity: `AWS_CONTAINER_CREDENTIALS_FULL_URI` + `AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE`.
    ContainerCredentials,
}

impl Method {
    /// Upstream's metric label value.
    #[must_use]
    pub fn metric_label(self) -> &'static str {
        match self {
            Self::StsWebIdentity => "sts_web_identity",
            Self::ContainerCredentials => "container_credentials",
        }
    }
}

/// The planner's full answer.
#[derive(Debug, Clone, PartialEq)]
pub struct MutationPlan {
    /// The granular JSON Patch (empty when nothing is to change).
    pub operations: Vec<PatchOperation>,
    /// `Some` when the pod qualifies for injection (even if it already has everything).
    pub method: Option<Method>,
    /// True when no ServiceAccount settings were given and no ConfigMap entry matched:
    /// upstream counts these in `pod_identity_webhook_missing_sa_count`.
    pub missing_service_account: bool,
}

/// The planner's full answer with the patch in typed form, borrowing the settings it was
/// planned from: what the webhook writes straight into its response
/// ([`PlannedPatch::write_json`]). [`plan_detailed`] turns it into a [`MutationPlan`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedMutation<'a> {
    /// The granular JSON Patch (empty when nothing is to change).
    pub patch: PlannedPatch<'a>,
    /// `Some` when the pod qualifies for injection (even if it already has everything).
    pub method: Option<Method>,
    /// True when no ServiceAccount settings were given and no ConfigMap entry matched.
    pub missing_service_account: bool,
}

impl From<PlannedMutation<'_>> for MutationPlan {
    fn from(planned: PlannedMutation<'_>) -> Self {
        Self {
            operations: planned.patch.into_operations(),
            method: planned.method,
            missing_service_account: planned.missing_service_account,
        }
    }
}

/// Plans the mutation of `pod` and returns only the JSON Patch. See [`plan_detailed`].
pub fn plan(
    pod: &Value,
    identity: Option<&ServiceAccountIdentity>,
    config: &WebhookConfig,
    inputs: &PlanInputs<'_>,
) -> Result<Vec<PatchOperation>, MutationError> {
    plan_detailed(pod, identity, config, inputs).map(|p| p.operations)
}

/// Applies `ops` to a copy of `pod` (RFC 6902, all-or-nothing) and returns the result.
pub fn apply_plan(pod: &Value, ops: &[PatchOperation]) -> Result<Value, MutationError> {
    let mut out = pod.clone();
    json_patch::patch(&mut out, ops)?;
    Ok(out)
}

/// The ServiceAccount a pod runs as: `spec.serviceAccountName`, else `default` (what the
/// API server's ServiceAccount admission plugin fills in before webhooks run).
#[must_use]
pub fn service_account_name(pod: &Value) -> &str {
    member(pod, "spec", "serviceAccountName")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .unwrap_or("default")
}

/// The namespace the plan uses: the request's, else the pod's, else `default`.
#[must_use]
pub fn pod_namespace<'a>(pod: &'a Value, request_namespace: Option<&'a str>) -> &'a str {
    request_namespace
        .filter(|s| !s.is_empty())
        .or_else(|| {
            member(pod, "metadata", "namespace")
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
        })
        .unwrap_or("default")
}

/// Everything decided before touching containers, borrowed from the settings (a plan runs
/// per admission: nothing is copied until it goes into the patch).
struct Injection<'a> {
    method: Method,
    volume_name: &'a str,
    mount_path: &'a str,
    audience: &'a str,
    expiration: i64,
    token_path: &'a str,
    /// The two credential variables in order; the second one's value is the token file,
    /// known once the pod's OS (Windows or not) is.
    credentials: [(&'static str, &'a str); 2],
    regional_sts: bool,
    region: Option<&'a str>,
}

/// Plans the mutation of `pod` (an `admission` Pod object as JSON).
///
/// Precedence (upstream's): container-credentials file match > ServiceAccount `role-arn` >
/// ConfigMap entry (`ns/name`, then `*/name`) > no mutation. Token expiration: pod annotation >
/// ServiceAccount annotation > flag. `identity` is the pod's ServiceAccount settings, `None`
/// when the ServiceAccount is unknown.
pub fn plan_detailed(
    pod: &Value,
    identity: Option<&ServiceAccountIdentity>,
    config: &WebhookConfig,
    inputs: &PlanInputs<'_>,
) -> Result<MutationPlan, MutationError> {
    plan_mutation(pod, identity, config, inputs).map(MutationPlan::from)
}

/// [`plan_detailed`] with the patch in typed form (see [`PlannedMutation`]).
pub fn plan_mutation<'a>(
    pod: &Value,
    identity: Option<&'a ServiceAccountIdentity>,
    config: &'a WebhookConfig,
    inputs: &PlanInputs<'a>,
) -> Result<PlannedMutation<'a>, MutationError> {
    let Value::Object(pod_obj) = pod else {
        return Err(MutationError::PodNotObject {
            found: json_type(pod),
        });
    };
    let namespace = pod_namespace(pod, inputs.namespace);
    let sa_name = service_account_name(pod);
    let annotations = member(pod, "metadata", "annotations").and_then(Value::as_object);
    // `<prefix>/<suffix>`, matched in place rather than built per request.
    let pod_annotation = |suffix: &str| {
        annotations
            .and_then(|a| {
                a.iter().find_map(|(key, value)| {
                    let rest = key.strip_prefix(config.annotation_prefix.as_str())?;
                    (rest.strip_prefix('/')? == suffix).then_some(value)
                })
            })
            .and_then(Value::as_str)
    };
    let pod_expiration = pod_annotation(ANNOTATION_TOKEN_EXPIRATION).and_then(parse_expiration);

    let injection = match decide(identity, config, inputs, namespace, sa_name, pod_expiration) {
        Ok(injection) => injection,
        Err(missing_service_account) => {
            return Ok(PlannedMutation {
                patch: PlannedPatch::default(),
                method: None,
                missing_service_account,
            });
        }
    };

    let skip: HashSet<String> = pod_annotation(ANNOTATION_SKIP_CONTAINERS)
        .and_then(first_csv_record)
        .map(|names| names.into_iter().collect())
        .unwrap_or_default();

    let mut ops: Vec<PlannedAdd<'a>> = Vec::new();
    if injection.method == Method::ContainerCredentials {
        plan_label(pod_obj, &mut ops)?;
    }
    plan_volume(pod, &injection, &mut ops)?;

    let windows = is_windows(pod);
    let token_file = go_join(injection.mount_path, injection.token_path);
    let token_file = if windows {
        windows_path(&token_file)
    } else {
        token_file
    };
    for field in ["containers", "initContainers"] {
        plan_containers(pod, field, &skip, &injection, &token_file, &mut ops)?;
    }
    Ok(PlannedMutation {
        patch: PlannedPatch { adds: ops },
        method: Some(injection.method),
        missing_service_account: false,
    })
}

/// Decides the mode and its settings; `Err(missing)` means "no mutation", with `missing`
/// true when neither a ServiceAccount nor a ConfigMap entry was found.
fn decide<'a>(
    identity: Option<&'a ServiceAccountIdentity>,
    config: &'a WebhookConfig,
    inputs: &PlanInputs<'a>,
    namespace: &str,
    sa_name: &str,
    pod_expiration: Option<i64>,
) -> Result<Injection<'a>, bool> {
    let flag_expiration = config.default_token_expiration();
    let region = config.region();
    let mapping_expiration = |e: &MappingEntry| {
        // Beyond upstream: ConfigMap values below the API server's 600 s minimum are raised
        // too (upstream passed them through and the API server then rejected the pod).
        if e.token_expiration == 0 {
            flag_expiration
        } else {
            e.token_expiration.max(MIN_TOKEN_EXPIRATION)
        }
    };

    if inputs
        .container_credentials
        .is_some_and(|c| c.contains(namespace, sa_name))
    {
        let (regional_sts, expiration) = if let Some(id) = identity {
            (
                id.sts_regional_endpoints
                    .unwrap_or(config.sts_regional_endpoint),
                id.token_expiration.unwrap_or(flag_expiration),
            )
        } else if let Some(e) = inputs
            .role_mapping
            .and_then(|m| m.get_exact(namespace, sa_name))
        {
            (e.use_regional_sts, mapping_expiration(e))
        } else {
            (false, DEFAULT_TOKEN_EXPIRATION)
        };
        let mut expiration = pod_expiration.unwrap_or(expiration);
        if expiration == DEFAULT_TOKEN_EXPIRATION {
            expiration = JITTER_MIN_EXPIRATION + jitter_offset(inputs.jitter);
        }
        let cc = &config.container_credentials;
        return Ok(Injection {
            method: Method::ContainerCredentials,
            volume_name: &cc.volume_name,
            mount_path: &cc.mount_path,
            audience: &cc.audience,
            expiration,
            token_path: &cc.token_path,
            credentials: [
                (ENV_CONTAINER_CREDENTIALS_FULL_URI, &cc.full_uri),
                (ENV_CONTAINER_AUTHORIZATION_TOKEN_FILE, ""),
            ],
            regional_sts,
            region,
        });
    }

    let sts = |role: &'a str, audience: &'a str, regional_sts: bool, expiration: i64| Injection {
        method: Method::StsWebIdentity,
        volume_name: STS_VOLUME_NAME,
        mount_path: &config.token_mount_path,
        audience,
        expiration: pod_expiration.unwrap_or(expiration),
        token_path: STS_TOKEN_PATH,
        credentials: [(ENV_ROLE_ARN, role), (ENV_WEB_IDENTITY_TOKEN_FILE, "")],
        regional_sts,
        region,
    };

    if let Some(id) = identity.filter(|id| id.has_role()) {
        return Ok(sts(
            id.role_arn.as_deref().unwrap_or_default(),
            id.audience.as_deref().unwrap_or(&config.token_audience),
            id.sts_regional_endpoints
                .unwrap_or(config.sts_regional_endpoint),
            id.token_expiration.unwrap_or(flag_expiration),
        ));
    }
    match inputs.role_mapping.and_then(|m| m.get(namespace, sa_name)) {
        Some(e) if !e.role_arn.is_empty() => Ok(sts(
            &e.role_arn,
            &e.audience,
            e.use_regional_sts,
            mapping_expiration(e),
        )),
        Some(_) => Err(false),
        None => Err(identity.is_none()),
    }
}

fn jitter_offset(Jitter(value): Jitter) -> i64 {
    i64::try_from(value % (JITTER_SPAN + 1)).unwrap_or(0)
}

/// Node selector labels that mark a Windows pod (with the value `windows`).
const OS_NODE_SELECTORS: [&str; 2] = ["kubernetes.io/os", "beta.kubernetes.io/os"];

fn is_windows(pod: &Value) -> bool {
    member(pod, "spec", "nodeSelector")
        .and_then(Value::as_object)
        .is_some_and(|ns| {
            OS_NODE_SELECTORS
                .iter()
                .any(|k| ns.get(*k).and_then(Value::as_str) == Some("windows"))
        })
}

/// `value[outer][inner]` when both are object members: what `Value::pointer("/outer/inner")`
/// answers for names without `~` or `/`, without parsing and unescaping the pointer on every
/// admission (it was 3 % of the webhook's profile).
fn member<'a>(value: &'a Value, outer: &str, inner: &str) -> Option<&'a Value> {
    value.as_object()?.get(outer)?.as_object()?.get(inner)
}

fn pointer(tokens: &[&str]) -> PointerBuf {
    PointerBuf::from_tokens(tokens.iter().copied())
}

fn add(path: PointerBuf, value: Added<'_>) -> PlannedAdd<'_> {
    PlannedAdd { path, value }
}

fn wrong_type(path: &str, expected: &'static str, found: &Value) -> MutationError {
    MutationError::WrongType {
        path: path.to_owned(),
        expected,
        found: json_type(found),
    }
}

/// An optional array field: `Ok(None)` when absent or null, an error for any other type.
/// `path` is the parent's JSON Pointer, only built for the error.
fn optional_array<'a>(
    parent: &'a Map<String, Value>,
    key: &str,
    path: impl FnOnce() -> String,
) -> Result<Option<&'a Vec<Value>>, MutationError> {
    match parent.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(items)) => Ok(Some(items)),
        Some(other) => Err(wrong_type(&format!("{}/{key}", path()), "an array", other)),
    }
}

fn plan_label(
    pod: &Map<String, Value>,
    ops: &mut Vec<PlannedAdd<'_>>,
) -> Result<(), MutationError> {
    let metadata = match pod.get("metadata") {
        None | Some(Value::Null) => {
            ops.push(add(pointer(&["metadata"]), Added::MetadataWithLabel));
            return Ok(());
        }
        Some(Value::Object(m)) => m,
        Some(other) => return Err(wrong_type("/metadata", "an object", other)),
    };
    match metadata.get("labels") {
        None | Some(Value::Null) => ops.push(add(pointer(&["metadata", "labels"]), Added::Labels)),
        Some(Value::Object(labels)) => {
            if labels.get(POD_IDENTITY_LABEL).and_then(Value::as_str)
                != Some(POD_IDENTITY_LABEL_VALUE)
            {
                ops.push(add(
                    pointer(&["metadata", "labels", POD_IDENTITY_LABEL]),
                    Added::LabelValue,
                ));
            }
        }
        Some(other) => return Err(wrong_type("/metadata/labels", "an object", other)),
    }
    Ok(())
}

fn spec(pod: &Value) -> Result<Option<&Map<String, Value>>, MutationError> {
    match pod.get("spec") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(s)) => Ok(Some(s)),
        Some(other) => Err(wrong_type("/spec", "an object", other)),
    }
}

fn plan_volume<'a>(
    pod: &Value,
    inj: &Injection<'a>,
    ops: &mut Vec<PlannedAdd<'a>>,
) -> Result<(), MutationError> {
    let volume = TokenVolume {
        name: inj.volume_name,
        audience: inj.audience,
        expiration: inj.expiration,
        path: inj.token_path,
    };
    let Some(spec) = spec(pod)? else {
        ops.push(add(pointer(&["spec"]), Added::SpecWithVolume(volume)));
        return Ok(());
    };
    match optional_array(spec, "volumes", || "/spec".to_owned())? {
        None => ops.push(add(pointer(&["spec", "volumes"]), Added::Volumes(volume))),
        Some(volumes) => {
            let exists = volumes
                .iter()
                .any(|v| v.get("name").and_then(Value::as_str) == Some(inj.volume_name));
            if !exists {
                // Prepended, as upstream does, so the resulting pod is identical to upstream's.
                ops.push(add(
                    pointer(&["spec", "volumes", "0"]),
                    Added::Volume(volume),
                ));
            }
        }
    }
    Ok(())
}

fn plan_containers<'a>(
    pod: &Value,
    field: &str,
    skip: &HashSet<String>,
    inj: &Injection<'a>,
    token_file: &str,
    ops: &mut Vec<PlannedAdd<'a>>,
) -> Result<(), MutationError> {
    let Some(spec) = spec(pod)? else {
        return Ok(());
    };
    let Some(containers) = optional_array(spec, field, || "/spec".to_owned())? else {
        return Ok(());
    };
    for (index, container) in containers.iter().enumerate() {
        let path = || format!("/spec/{field}/{index}");
        let Value::Object(container) = container else {
            return Err(wrong_type(&path(), "an object", container));
        };
        let name = container
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if skip.contains(name) {
            continue;
        }
        let index_token = index.to_string();
        plan_container(
            container,
            &["spec", field, &index_token],
            path,
            inj,
            token_file,
            ops,
        )?;
    }
    Ok(())
}

fn plan_container<'a>(
    container: &Map<String, Value>,
    base: &[&str],
    path: impl Fn() -> String,
    inj: &Injection<'a>,
    token_file: &str,
    ops: &mut Vec<PlannedAdd<'a>>,
) -> Result<(), MutationError> {
    let env = optional_array(container, "env", &path)?;
    // Env lists are short: a linear scan beats building a set per container.
    let defined = |name: &str| {
        env.into_iter()
            .flatten()
            .any(|e| e.get("name").and_then(Value::as_str) == Some(name))
    };
    let any = |names: &[&str]| names.iter().any(|n| defined(n));
    let credentials_defined = any(&[inj.credentials[0].0, inj.credentials[1].0]);
    let region_defined = any(&[ENV_REGION, ENV_DEFAULT_REGION]);
    let sts_defined = any(&[ENV_STS_REGIONAL_ENDPOINTS]);
    // Upstream quirk kept for identical pods: a container that already has credentials,
    // a region and the STS switch is left completely alone, mount included.
    if credentials_defined && region_defined && sts_defined {
        return Ok(());
    }

    let mut new_env: Vec<EnvVar<'a>> = Vec::new();
    let mut push = |name: &'a str, value: Cow<'a, str>| new_env.push(EnvVar { name, value });
    if !sts_defined && inj.regional_sts {
        push(ENV_STS_REGIONAL_ENDPOINTS, Cow::Borrowed("regional"));
    }
    if let Some(region) = inj.region.filter(|_| !region_defined) {
        push(ENV_DEFAULT_REGION, Cow::Borrowed(region));
        push(ENV_REGION, Cow::Borrowed(region));
    }
    if !credentials_defined {
        // The second credential variable's value is the token file, known per pod.
        let [(first, first_value), (second, _)] = inj.credentials;
        push(first, Cow::Borrowed(first_value));
        push(second, Cow::Owned(token_file.to_owned()));
    }
    append_env(base, env.is_some(), new_env, ops);

    let mounts = optional_array(container, "volumeMounts", path)?;
    let mounted = mounts
        .into_iter()
        .flatten()
        .any(|m| m.get("name").and_then(Value::as_str) == Some(inj.volume_name));
    if !mounted {
        let mount = TokenMount {
            name: inj.volume_name,
            mount_path: inj.mount_path,
        };
        let append = mounts.is_some();
        let value = if append {
            Added::Mount(mount)
        } else {
            Added::Mounts(mount)
        };
        ops.push(add(list_pointer(base, "volumeMounts", append), value));
    }
    Ok(())
}

/// Appends `vars` to the container's `env`: one `-` add per var when the list exists, a
/// single add creating it otherwise. Never replaces an existing list.
fn append_env<'a>(
    base: &[&str],
    exists: bool,
    vars: Vec<EnvVar<'a>>,
    ops: &mut Vec<PlannedAdd<'a>>,
) {
    if vars.is_empty() {
        return;
    }
    if exists {
        let path = list_pointer(base, "env", true);
        for var in vars {
            ops.push(add(path.clone(), Added::Env(var)));
        }
    } else {
        ops.push(add(list_pointer(base, "env", false), Added::EnvList(vars)));
    }
}

/// The pointer to the list `base/key`, or to its end (`base/key/-`) when `append`.
fn list_pointer(base: &[&str], key: &str, append: bool) -> PointerBuf {
    let mut tokens: Vec<&str> = Vec::with_capacity(base.len() + 2);
    tokens.extend_from_slice(base);
    tokens.push(key);
    if append {
        tokens.push("-");
    }
    pointer(&tokens)
}

#[cfg(test)]
mod tests;
