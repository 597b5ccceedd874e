//! The five groups of checks. Each reads only [`Inputs`] and appends to a [`Report`].

use std::collections::BTreeMap;

use irsa_core::aws::{OidcProviderArn, RoleArn};
use irsa_core::kiam;
use irsa_core::mutation::{
    self, ANNOTATION_ROLE_ARN, ENV_ROLE_ARN, ENV_WEB_IDENTITY_TOKEN_FILE, PlanInputs,
    STS_VOLUME_NAME, ServiceAccountIdentity,
};
use irsa_jose::verify::{DEFAULT_LEEWAY_SECS, decode_unverified};
use irsa_jose::{Verifier, VerifyOptions};
use irsa_policy::{Effect, Policy, Principal, PrincipalType};
use json_patch::PatchOperation;
use serde_json::{Map, Value};

use crate::report::{Report, Status, Verdict};
use crate::{Inputs, ProviderInfo};

/// Runs every check that its inputs allow.
#[must_use]
pub fn diagnose(inputs: &Inputs) -> Report {
    let mut d = Doctor::new(inputs);
    d.service_account();
    d.pod();
    d.kiam();
    d.token();
    d.provider_and_trust_policy();
    d.report
}

/// The annotations of an object as a string map (non-string values are skipped).
#[must_use]
pub fn annotations(object: &Value) -> BTreeMap<String, String> {
    object
        .pointer("/metadata/annotations")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_owned())))
                .collect()
        })
        .unwrap_or_default()
}

fn meta<'a>(object: &'a Value, field: &str) -> Option<&'a str> {
    object
        .pointer(&format!("/metadata/{field}"))
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

/// What the webhook would still add to a pod: the pod lacks exactly this.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Missing {
    /// `container: what` for the credential variables and the token mount.
    pub credentials: Vec<String>,
    /// Other variables the webhook would add (region, regional STS).
    pub other: Vec<String>,
}

impl Missing {
    /// Nothing missing.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.credentials.is_empty() && self.other.is_empty()
    }
}

/// What the webhook's planner would add to `pod` for `identity`: the pod's missing
/// injection. `Err` when the pod has a field of the wrong type.
pub fn missing_injection(
    pod: &Value,
    identity: &ServiceAccountIdentity,
    config: &mutation::WebhookConfig,
) -> Result<Missing, mutation::MutationError> {
    let namespace = mutation::pod_namespace(pod, None);
    let inputs = PlanInputs {
        namespace: Some(namespace),
        ..PlanInputs::default()
    };
    let plan = mutation::plan_detailed(pod, Some(identity), config, &inputs)?;
    let mut missing = Missing::default();
    for op in &plan.operations {
        let PatchOperation::Add(add) = op else {
            continue;
        };
        let tokens: Vec<String> = add
            .path
            .tokens()
            .map(|t| t.decoded().into_owned())
            .collect();
        let tokens: Vec<&str> = tokens.iter().map(String::as_str).collect();
        match tokens.as_slice() {
            ["spec"] | ["spec", "volumes", ..] => {
                missing
                    .credentials
                    .push(format!("pod: volume {STS_VOLUME_NAME}"));
            }
            [
                "spec",
                field @ ("containers" | "initContainers"),
                index,
                what,
                ..,
            ] => {
                let name = pod
                    .pointer(&format!("/spec/{field}/{index}/name"))
                    .and_then(Value::as_str)
                    .unwrap_or("?");
                if *what == "volumeMounts" {
                    missing
                        .credentials
                        .push(format!("container {name}: mount of {STS_VOLUME_NAME}"));
                    continue;
                }
                let entries: Vec<&Value> = match &add.value {
                    Value::Array(items) => items.iter().collect(),
                    one => vec![one],
                };
                for e in entries {
                    let var = e.get("name").and_then(Value::as_str).unwrap_or("?");
                    let line = format!("container {name}: {var}");
                    if var == ENV_ROLE_ARN || var == ENV_WEB_IDENTITY_TOKEN_FILE {
                        missing.credentials.push(line);
                    } else {
                        missing.other.push(line);
                    }
                }
            }
            _ => missing.other.push(format!("{}", add.path)),
        }
    }
    Ok(missing)
}

/// The object that recreates a pod, and how to restart it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owner {
    /// `Deployment`, `StatefulSet`, `DaemonSet`, `Job`, `ReplicaSet`, …, or `Pod` for a
    /// pod without a controller.
    pub kind: String,
    /// Its name.
    pub name: String,
}

impl Owner {
    /// Whether `kubectl rollout restart` works on it.
    #[must_use]
    pub fn can_roll(&self) -> bool {
        matches!(
            self.kind.as_str(),
            "Deployment" | "StatefulSet" | "DaemonSet"
        )
    }
}

/// The pod's controlling owner; a ReplicaSet made by a Deployment is resolved to the
/// Deployment through the `pod-template-hash` label (the ReplicaSet is named
/// `DEPLOYMENT-HASH`).
#[must_use]
pub fn owner(pod: &Value) -> Owner {
    let refs = pod
        .pointer("/metadata/ownerReferences")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let controller = refs
        .iter()
        .find(|r| r.get("controller").and_then(Value::as_bool) == Some(true))
        .or(refs.first());
    let Some(r) = controller else {
        return Owner {
            kind: "Pod".to_owned(),
            name: meta(pod, "name").unwrap_or("?").to_owned(),
        };
    };
    let kind = r.get("kind").and_then(Value::as_str).unwrap_or("?");
    let name = r.get("name").and_then(Value::as_str).unwrap_or("?");
    let hash = pod
        .pointer("/metadata/labels/pod-template-hash")
        .and_then(Value::as_str);
    if kind == "ReplicaSet"
        && let Some(deployment) = hash.and_then(|h| name.strip_suffix(&format!("-{h}")))
    {
        return Owner {
            kind: "Deployment".to_owned(),
            name: deployment.to_owned(),
        };
    }
    Owner {
        kind: kind.to_owned(),
        name: name.to_owned(),
    }
}

/// The remedy for a pod admitted without the injection.
#[must_use]
pub fn restart_remedy(pod: &Value) -> String {
    let ns = mutation::pod_namespace(pod, None);
    let o = owner(pod);
    if o.can_roll() {
        format!(
            "restart its owner {} {ns}/{}: kubectl -n {ns} rollout restart {}/{} (or irsa doctor pods --restart)",
            o.kind,
            o.name,
            o.kind.to_lowercase(),
            o.name
        )
    } else if o.kind == "Pod" {
        format!(
            "the pod has no owner to recreate it: delete it (kubectl -n {ns} delete pod {}) and create it again from its manifest",
            o.name
        )
    } else {
        format!(
            "delete the pod so that its owner {} {ns}/{} creates it again with the injection",
            o.kind, o.name
        )
    }
}

struct Doctor<'a> {
    inputs: &'a Inputs,
    report: Report,
    role_key: String,
    /// The ServiceAccount's settings, when one was given.
    identity: Option<ServiceAccountIdentity>,
    /// The role the pod should get: `--role-arn`, else the ServiceAccount's, else the pod's.
    role: Option<RoleArn>,
    /// The token's unverified claims, when it decodes.
    claims: Option<Map<String, Value>>,
}

fn env_values<'v>(pod: &'v Value, var: &str) -> Vec<(&'v str, &'v str)> {
    let mut out = Vec::new();
    for field in ["containers", "initContainers"] {
        for c in pod
            .pointer(&format!("/spec/{field}"))
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let name = c.get("name").and_then(Value::as_str).unwrap_or("?");
            for e in c.get("env").and_then(Value::as_array).into_iter().flatten() {
                if e.get("name").and_then(Value::as_str) == Some(var)
                    && let Some(v) = e.get("value").and_then(Value::as_str)
                {
                    out.push((name, v));
                }
            }
        }
    }
    out
}

fn string_list(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
        _ => Vec::new(),
    }
}

fn host_path(url: &str) -> &str {
    url.strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .unwrap_or(url)
}

impl<'a> Doctor<'a> {
    fn new(inputs: &'a Inputs) -> Self {
        let role_key = format!("{}/{ANNOTATION_ROLE_ARN}", inputs.webhook.annotation_prefix);
        let identity = inputs.service_account.as_ref().map(|sa| {
            ServiceAccountIdentity::from_annotations(
                &inputs.webhook.annotation_prefix,
                &annotations(sa),
            )
        });
        let from_pod = inputs.pod.as_ref().and_then(|p| {
            env_values(p, ENV_ROLE_ARN)
                .first()
                .map(|(_, v)| (*v).to_owned())
        });
        let role = inputs
            .role_arn
            .clone()
            .or_else(|| identity.as_ref().and_then(|i| i.role_arn.clone()))
            .or(from_pod)
            .and_then(|r| RoleArn::parse(&r).ok());
        let claims = inputs
            .token
            .as_deref()
            .and_then(|t| decode_unverified(t).ok())
            .map(|u| u.claims);
        Self {
            inputs,
            report: Report::default(),
            role_key,
            identity,
            role,
            claims,
        }
    }

    /// The audience the webhook requests for this ServiceAccount's tokens.
    fn expected_audience(&self) -> String {
        self.identity
            .as_ref()
            .and_then(|i| i.audience.clone())
            .unwrap_or_else(|| self.inputs.webhook.token_audience.clone())
    }

    /// `NAMESPACE/NAME` of the pod's ServiceAccount (from the pod, else the ServiceAccount).
    fn subject(&self) -> Option<(String, String)> {
        if let Some(pod) = &self.inputs.pod {
            return Some((
                mutation::pod_namespace(pod, None).to_owned(),
                mutation::service_account_name(pod).to_owned(),
            ));
        }
        let sa = self.inputs.service_account.as_ref()?;
        Some((
            meta(sa, "namespace").unwrap_or("default").to_owned(),
            meta(sa, "name")?.to_owned(),
        ))
    }

    /// The issuer URL the token should carry: `--issuer`, else the token's own.
    fn issuer_url(&self) -> Option<String> {
        self.inputs
            .issuer
            .as_ref()
            .map(|i| i.url().to_owned())
            .or_else(|| {
                self.claims
                    .as_ref()
                    .and_then(|c| c.get("iss"))
                    .and_then(Value::as_str)
                    .map(str::to_owned)
            })
    }

    // ---- 1. ServiceAccount -------------------------------------------------------------

    fn service_account(&mut self) {
        const ID: &str = "service-account.role-arn";
        let (Some(sa), Some(identity)) = (&self.inputs.service_account, &self.identity) else {
            self.report.skip(1, ID, "no --service-account given");
            return;
        };
        let ns = meta(sa, "namespace").unwrap_or("default");
        let name = meta(sa, "name").unwrap_or("?");
        let key = &self.role_key;
        if let Some(pod) = &self.inputs.pod {
            let (pns, psa) = (
                mutation::pod_namespace(pod, None),
                mutation::service_account_name(pod),
            );
            if (pns, psa) != (ns, name) {
                self.report.push(
                    1,
                    "service-account.is-the-pods",
                    Status::Fail,
                    format!("the ServiceAccount given is {ns}/{name}, the pod runs as {pns}/{psa}"),
                    format!("pass the pod's ServiceAccount: kubectl -n {pns} get serviceaccount {psa} -o yaml"),
                );
            }
        }
        let annotate = |value: &str| {
            format!("kubectl -n {ns} annotate --overwrite serviceaccount {name} {key}={value}")
        };
        let Some(value) = identity.role_arn.as_deref() else {
            self.report.push(
                1,
                ID,
                Status::Fail,
                format!("ServiceAccount {ns}/{name} has no {key} annotation (or it is empty): the webhook injects nothing"),
                annotate("arn:aws:iam::ACCOUNT:role/ROLE_NAME"),
            );
            return;
        };
        match RoleArn::parse(value) {
            Ok(arn) => {
                let region = self.inputs.region.as_ref();
                if let Some(region) = region.filter(|r| r.partition() != arn.partition()) {
                    self.report.push(
                        1,
                        ID,
                        Status::Fail,
                        format!(
                            "{key} {value} is in partition {}, but region {region} is in {}",
                            arn.partition(),
                            region.partition()
                        ),
                        annotate(&format!(
                            "arn:{}:iam::{}:role{}{}",
                            region.partition(),
                            arn.account(),
                            arn.path(),
                            arn.name()
                        )),
                    );
                } else {
                    self.report.push(
                        1,
                        ID,
                        Status::Pass,
                        format!("ServiceAccount {ns}/{name}: {key} is the full role ARN {arn}"),
                        "",
                    );
                }
                if let Some(other) = self
                    .inputs
                    .role_arn
                    .as_deref()
                    .filter(|r| *r != arn.to_string())
                {
                    self.report.push(
                        1,
                        "service-account.role-is-the-role-checked",
                        Status::Warn,
                        format!("the ServiceAccount names {arn}, but the role checked (--role-arn or --trust-policy) is {other}"),
                        "check the role the ServiceAccount names, or fix the annotation",
                    );
                }
            }
            Err(e) if !kiam::is_full_arn(value) => {
                let partition = self
                    .inputs
                    .region
                    .as_ref()
                    .map_or(irsa_core::aws::Partition::Aws, |r| r.partition());
                let full = self
                    .inputs
                    .account
                    .as_ref()
                    .or(self.role.as_ref().map(RoleArn::account))
                    .and_then(|a| kiam::role_arn(value, partition, a).ok());
                let remedy = match full {
                    Some(full) => annotate(&full.to_string()),
                    None => annotate(&format!("arn:{partition}:iam::ACCOUNT:role/{value}")),
                };
                self.report.push(
                    1,
                    ID,
                    Status::Fail,
                    format!("{key} is {value:?}, a role name, not a role ARN ({e}); the guide insists on the whole ARN, and STS rejects anything else"),
                    remedy,
                );
            }
            Err(e) => self.report.push(
                1,
                ID,
                Status::Fail,
                format!("{key} is not a valid role ARN: {e}"),
                annotate("arn:aws:iam::ACCOUNT:role/ROLE_NAME"),
            ),
        }
        let audience = self.expected_audience();
        let expiration = identity
            .token_expiration
            .unwrap_or_else(|| self.inputs.webhook.default_token_expiration());
        let regional = identity
            .sts_regional_endpoints
            .unwrap_or(self.inputs.webhook.sts_regional_endpoint);
        let evidence = format!(
            "as the webhook reads them: audience {audience:?}, token-expiration {expiration} s, sts-regional-endpoints {regional}"
        );
        if audience == self.inputs.webhook.token_audience {
            self.report
                .push(1, "service-account.settings", Status::Pass, evidence, "");
        } else {
            self.report.push(
                1,
                "service-account.settings",
                Status::Warn,
                evidence,
                format!("tokens carry the audience {audience:?}: the IAM OIDC provider must list it as a client ID"),
            );
        }
    }

    // ---- 2. Pod ------------------------------------------------------------------------

    fn pod(&mut self) {
        const ID: &str = "pod.injection";
        let Some(pod) = &self.inputs.pod else {
            self.report.skip(2, ID, "no --pod given");
            return;
        };
        let pod_name = format!(
            "{}/{}",
            mutation::pod_namespace(pod, None),
            meta(pod, "name").unwrap_or("?")
        );
        let identity = match &self.identity {
            Some(i) if i.has_role() => i.clone(),
            Some(_) => {
                self.report.skip(
                    2,
                    ID,
                    "the ServiceAccount names no role, so the webhook injects nothing into the pod",
                );
                return;
            }
            None => match env_values(pod, ENV_ROLE_ARN).first() {
                Some((_, role)) => ServiceAccountIdentity {
                    role_arn: Some((*role).to_owned()),
                    ..ServiceAccountIdentity::default()
                },
                None => {
                    self.report.skip(
                        2,
                        ID,
                        &format!("pod {pod_name} has no {ENV_ROLE_ARN}; without --service-account it is unknown whether it should have a role"),
                    );
                    return;
                }
            },
        };
        match missing_injection(pod, &identity, &self.inputs.webhook) {
            Err(e) => self.report.push(
                2,
                ID,
                Status::Fail,
                format!("pod {pod_name} cannot be read as the webhook reads it: {e}"),
                "fix the pod manifest",
            ),
            Ok(m) if !m.credentials.is_empty() => {
                let o = owner(pod);
                self.report.push(
                    2,
                    ID,
                    Status::Fail,
                    format!(
                        "pod {pod_name} lacks what the webhook injects ({}): it was admitted before the webhook was running or before its ServiceAccount had {}; owner {} {}",
                        m.credentials.join(", "),
                        self.role_key,
                        o.kind,
                        o.name
                    ),
                    restart_remedy(pod),
                );
            }
            Ok(m) if !m.other.is_empty() => self.report.push(
                2,
                ID,
                Status::Warn,
                format!(
                    "pod {pod_name} has the credentials but not everything the webhook would add now ({})",
                    m.other.join(", ")
                ),
                restart_remedy(pod),
            ),
            Ok(_) => self.report.push(
                2,
                ID,
                Status::Pass,
                format!("pod {pod_name}: every container that is not skipped has {ENV_ROLE_ARN}, {ENV_WEB_IDENTITY_TOKEN_FILE} and the {STS_VOLUME_NAME} mount"),
                "",
            ),
        }

        let expected = identity.role_arn.clone().unwrap_or_default();
        let present = env_values(pod, ENV_ROLE_ARN);
        let differing: Vec<String> = present
            .iter()
            .filter(|(_, v)| *v != expected)
            .map(|(c, v)| format!("container {c} has {v}"))
            .collect();
        if self.identity.is_some() && !present.is_empty() {
            if differing.is_empty() {
                self.report.push(
                    2,
                    "pod.role-arn",
                    Status::Pass,
                    format!(
                        "{ENV_ROLE_ARN} equals the ServiceAccount's {} ({expected})",
                        self.role_key
                    ),
                    "",
                );
            } else {
                self.report.push(
                    2,
                    "pod.role-arn",
                    Status::Fail,
                    format!(
                        "{ENV_ROLE_ARN} differs from the ServiceAccount's {expected}: {}; the annotation changed after the pod was created",
                        differing.join(", ")
                    ),
                    restart_remedy(pod),
                );
            }
        }

        let audience = self.expected_audience();
        let volume = pod
            .pointer("/spec/volumes")
            .and_then(Value::as_array)
            .and_then(|vs| {
                vs.iter()
                    .find(|v| v.get("name").and_then(Value::as_str) == Some(STS_VOLUME_NAME))
            });
        if let Some(volume) = volume {
            let found: Vec<String> = volume
                .pointer("/projected/sources")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|s| s.get("serviceAccountToken"))
                .map(|t| {
                    t.get("audience")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_owned()
                })
                .collect();
            if found.contains(&audience) {
                self.report.push(
                    2,
                    "pod.token-audience",
                    Status::Pass,
                    format!("volume {STS_VOLUME_NAME} projects a token for audience {audience:?}"),
                    "",
                );
            } else {
                self.report.push(
                    2,
                    "pod.token-audience",
                    Status::Fail,
                    format!("volume {STS_VOLUME_NAME} projects a token for audience {found:?}, the ServiceAccount asks for {audience:?}"),
                    restart_remedy(pod),
                );
            }
        }
    }

    // ---- 3. kiam -----------------------------------------------------------------------

    fn kiam(&mut self) {
        let has_irsa = |pod: &Value| {
            !env_values(pod, ENV_ROLE_ARN).is_empty()
                && !env_values(pod, ENV_WEB_IDENTITY_TOKEN_FILE).is_empty()
        };
        match &self.inputs.pod {
            None => self.report.skip(3, "kiam.pod", "no --pod given"),
            Some(pod) => match annotations(pod).get(kiam::ROLE_ANNOTATION) {
                None => self.report.push(
                    3,
                    "kiam.pod",
                    Status::Pass,
                    format!("the pod has no {} annotation", kiam::ROLE_ANNOTATION),
                    "",
                ),
                Some(role) if has_irsa(pod) => self.report.push(
                    3,
                    "kiam.pod",
                    Status::Warn,
                    format!("the pod has both kiam's {}={role} and IRSA's variables; the SDK uses IRSA: its default chain reads {ENV_ROLE_ARN} and {ENV_WEB_IDENTITY_TOKEN_FILE} before the instance metadata that kiam answers", kiam::ROLE_ANNOTATION),
                    format!("remove {} from the workload once IRSA works (irsa migrate kiam)", kiam::ROLE_ANNOTATION),
                ),
                Some(role) => self.report.push(
                    3,
                    "kiam.pod",
                    Status::Warn,
                    format!("the pod still gets its credentials from kiam ({}={role}) and has no IRSA variables", kiam::ROLE_ANNOTATION),
                    "move the role to the ServiceAccount: irsa migrate kiam -f workload.yaml --account ACCOUNT",
                ),
            },
        }
        match &self.inputs.namespace {
            None => self.report.skip(3, "kiam.namespace", "no --namespace given"),
            Some(ns) => match annotations(ns).get(kiam::PERMITTED_ANNOTATION) {
                None => self.report.push(
                    3,
                    "kiam.namespace",
                    Status::Pass,
                    format!("the namespace has no {} annotation", kiam::PERMITTED_ANNOTATION),
                    "",
                ),
                Some(re) => self.report.push(
                    3,
                    "kiam.namespace",
                    Status::Warn,
                    format!("the namespace still has {}={re:?}; it only restricts kiam and does not affect IRSA", kiam::PERMITTED_ANNOTATION),
                    "remove it once no pod of the namespace uses kiam",
                ),
            },
        }
    }

    // ---- 4. Token ----------------------------------------------------------------------

    fn token(&mut self) {
        let Some(token) = self.inputs.token.as_deref() else {
            self.report.skip(4, "token.parse", "no --token given");
            return;
        };
        let claims = match decode_unverified(token) {
            Ok(u) => u.claims,
            Err(e) => {
                self.report.push(
                    4,
                    "token.parse",
                    Status::Fail,
                    format!("the token is not a JWT STS accepts: {e}"),
                    "pass the file at AWS_WEB_IDENTITY_TOKEN_FILE inside the pod (kubectl exec POD -- cat /var/run/secrets/eks.amazonaws.com/serviceaccount/token)",
                );
                return;
            }
        };
        self.report.push(
            4,
            "token.parse",
            Status::Pass,
            "the token is a compact JWS with an allowed alg".to_owned(),
            "",
        );
        let iss = claims.get("iss").and_then(Value::as_str).unwrap_or("");
        match &self.inputs.issuer {
            None => self.report.skip(
                4,
                "token.issuer",
                &format!("no --issuer (or --account/--region/--cluster) to compare the token's iss {iss:?} with"),
            ),
            Some(issuer) if issuer.url() == iss => self.report.push(
                4,
                "token.issuer",
                Status::Pass,
                format!("iss is the cluster's issuer {iss}"),
                "",
            ),
            Some(issuer) => self.report.push(
                4,
                "token.issuer",
                Status::Fail,
                format!("iss is {iss:?}, the cluster's issuer is {:?}", issuer.url()),
                "kube-apiserver's --service-account-issuer must be exactly the issuer URL (irsa oidc apiserver-flags --issuer URL …)",
            ),
        }
        let auds = string_list(claims.get("aud"));
        let audience = self.expected_audience();
        if auds.contains(&audience) {
            self.report.push(
                4,
                "token.audience",
                Status::Pass,
                format!("aud {auds:?} contains {audience:?}"),
                "",
            );
        } else {
            self.report.push(
                4,
                "token.audience",
                Status::Fail,
                format!("aud {auds:?} does not contain {audience:?} (STS: Incorrect token audience)"),
                format!("the projected volume's audience must be {audience:?}: set {}/audience or restart the pod so the webhook projects it", self.inputs.webhook.annotation_prefix),
            );
        }
        let sub = claims.get("sub").and_then(Value::as_str).unwrap_or("");
        match self.subject() {
            None => self.report.skip(
                4,
                "token.subject",
                &format!("no --pod or --service-account to compare the token's sub {sub:?} with"),
            ),
            Some((ns, sa)) => {
                let want = format!("system:serviceaccount:{ns}:{sa}");
                if sub == want {
                    self.report.push(
                        4,
                        "token.subject",
                        Status::Pass,
                        format!("sub is {want}"),
                        "",
                    );
                } else {
                    self.report.push(
                        4,
                        "token.subject",
                        Status::Fail,
                        format!("sub is {sub:?}, this pod's ServiceAccount is {want}"),
                        "pass the token of this pod; a token of another ServiceAccount gets another role",
                    );
                }
            }
        }
        let now = self.inputs.now;
        match claims.get("exp").and_then(Value::as_i64) {
            None => self.report.push(
                4,
                "token.expiry",
                Status::Fail,
                "the token has no integer exp claim",
                "use the projected token the kubelet writes",
            ),
            Some(exp) if exp.saturating_add_unsigned(DEFAULT_LEEWAY_SECS) <= now => {
                self.report.push(
                    4,
                    "token.expiry",
                    Status::Fail,
                    format!("the token expired: exp {exp}, now {now} ({} s ago)", now - exp),
                    "the kubelet refreshes projected tokens; a stale file means it was copied out of the pod, or the kubelet cannot reach the API server",
                );
            }
            Some(exp) => self.report.push(
                4,
                "token.expiry",
                Status::Pass,
                format!("exp {exp}, now {now}: valid for {} s more", exp - now),
                "",
            ),
        }
        let Some(jwks) = &self.inputs.jwks else {
            self.report.skip(
                4,
                "token.signature",
                "no --jwks given (a file or the issuer's keys URL)",
            );
            return;
        };
        let options = VerifyOptions {
            issuer: iss.to_owned(),
            audiences: if auds.is_empty() {
                vec![String::new()]
            } else {
                auds.clone()
            },
            leeway_secs: DEFAULT_LEEWAY_SECS,
        };
        let verdict = Verifier::new(jwks, options).map(|v| v.verify(token, now));
        match verdict {
            Err(e) => self.report.push(
                4,
                "token.signature",
                Status::Fail,
                format!("the JWKS cannot verify anything: {e}"),
                "publish the API server's public key: irsa oidc discovery --issuer URL --public-key sa.pub",
            ),
            Ok(Err(e)) if is_key_or_signature(e.reason()) => self.report.push(
                4,
                "token.signature",
                Status::Fail,
                format!("the signature does not verify with the JWKS: {e}"),
                "the issuer's keys.json must contain the key kube-apiserver signs with (--service-account-signing-key-file); after a key rotation publish old and new keys together",
            ),
            Ok(_) => self.report.push(
                4,
                "token.signature",
                Status::Pass,
                format!(
                    "the signature verifies with key {}",
                    decode_unverified(token)
                        .ok()
                        .and_then(|u| u.header.get("kid").and_then(Value::as_str).map(str::to_owned))
                        .unwrap_or_else(|| "(no kid)".to_owned())
                ),
                "",
            ),
        }
    }

    // ---- 5. Provider and trust policy --------------------------------------------------

    fn provider_and_trust_policy(&mut self) {
        let issuer = self.issuer_url();
        let role = self.role.clone();
        self.provider(issuer.as_deref(), role.as_ref());
        self.trust_policy(issuer.as_deref(), role.as_ref());
        self.decision(role.as_ref());
    }

    /// The one STS decision ([`irsa_sts::decide`], what the local STS runs) on these inputs.
    fn decision(&mut self, role: Option<&RoleArn>) {
        const ID: &str = "trust.decision";
        let inputs = self.inputs;
        // A role IAM says does not exist is decided too: STS answers AccessDenied for it
        // once the token is proven, and the token checks come first.
        let facts = match (inputs.trust_policy.as_deref(), inputs.role_missing) {
            (Some(document), _) => Some(Some(irsa_sts::RoleFacts {
                trust_policy: irsa_sts::TrustPolicy::Document(document),
                max_session_duration: 43_200,
            })),
            (None, true) => Some(None),
            (None, false) => None,
        };
        let (Some(role), Some(facts), Some(token), Some(providers), Some(jwks)) = (
            role,
            facts,
            inputs.token.as_deref(),
            inputs.providers.as_ref(),
            inputs.jwks.as_ref(),
        ) else {
            self.report.skip(
                5,
                ID,
                "the STS decision needs the role ARN, --trust-policy (or --aws), --token, --jwks and the providers",
            );
            return;
        };
        let registered: Vec<irsa_sts::RegisteredProvider> = providers
            .iter()
            .map(|p| irsa_sts::RegisteredProvider {
                arn: format!(
                    "arn:{}:iam::{}:oidc-provider/{}",
                    role.partition(),
                    role.account(),
                    p.host_path()
                ),
                url: p.host_path().to_owned(),
                client_ids: if p.client_ids.is_empty() {
                    vec![self.expected_audience()]
                } else {
                    p.client_ids.clone()
                },
            })
            .collect();
        let request = irsa_sts::Request {
            role_arn: role,
            role: facts,
            providers: &registered,
            token,
            session_name: "irsa-doctor",
            duration_seconds: 3600,
            now: inputs.now,
        };
        let decision = irsa_sts::decide(&request, irsa_sts::IssuerKeys::Jwks(jwks));
        match &decision.outcome {
            irsa_sts::Outcome::Allow(a) => {
                self.report.decision = Some(Verdict {
                    verdict: "ALLOW",
                    code: None,
                    status: 200,
                    message: a.subject.clone(),
                });
                self.report.push(
                    5,
                    ID,
                    Status::Pass,
                    format!(
                        "ALLOW: AssumeRoleWithWebIdentity gives {role} to {} (audience {}, provider {})",
                        a.subject, a.audience, a.provider_arn
                    ),
                    "",
                );
            }
            irsa_sts::Outcome::Deny(d) => {
                self.report.decision = Some(Verdict {
                    verdict: "DENY",
                    code: Some(d.code),
                    status: d.status,
                    message: d.message.clone(),
                });
                self.report.push(
                    5,
                    ID,
                    Status::Fail,
                    format!("DENY: {} ({}): {}", d.code, d.message, decision.explanation),
                    "fix what the checks above report; irsa trust-policy generates a policy that allows this ServiceAccount",
                );
            }
        }
    }

    fn provider(&mut self, issuer: Option<&str>, role: Option<&RoleArn>) {
        const ID: &str = "trust.provider";
        let Some(providers) = &self.inputs.providers else {
            self.report.skip(
                5,
                ID,
                "no --provider-url (or --aws) listing the role account's OIDC providers",
            );
            return;
        };
        let Some(issuer) = issuer else {
            self.report
                .skip(5, ID, "no --token or --issuer to know the issuer");
            return;
        };
        let account = role.map_or_else(
            || "the role's account".to_owned(),
            |r| format!("account {}", r.account()),
        );
        let hp = host_path(issuer);
        match providers.iter().find(|p| p.host_path() == hp) {
            None => {
                let known: Vec<&str> = providers.iter().map(ProviderInfo::host_path).collect();
                self.report.push(
                    5,
                    ID,
                    Status::Fail,
                    format!("No OpenIDConnect provider found in your account for {issuer}: {account} has {known:?}"),
                    format!("in {account}: aws iam create-open-id-connect-provider --url {issuer} --client-id-list {} --thumbprint-list $(irsa oidc thumbprint {issuer})", self.expected_audience()),
                );
            }
            Some(p) => {
                let auds = self
                    .claims
                    .as_ref()
                    .map(|c| string_list(c.get("aud")))
                    .unwrap_or_else(|| vec![self.expected_audience()]);
                if p.client_ids.is_empty() {
                    self.report.push(
                        5,
                        ID,
                        Status::Pass,
                        format!("{account} has a provider for {hp} (its client IDs are not known: --aws reads them)"),
                        "",
                    );
                } else if auds.iter().any(|a| p.client_ids.contains(a)) {
                    self.report.push(
                        5,
                        ID,
                        Status::Pass,
                        format!(
                            "{account} has a provider for {hp} with client IDs {:?}",
                            p.client_ids
                        ),
                        "",
                    );
                } else {
                    self.report.push(
                        5,
                        ID,
                        Status::Fail,
                        format!("the provider for {hp} lists client IDs {:?}, none of the token's audiences {auds:?} (STS: Incorrect token audience)", p.client_ids),
                        format!("aws iam add-client-id-to-open-id-connect-provider --open-id-connect-provider-arn arn:aws:iam::ACCOUNT:oidc-provider/{hp} --client-id {}", self.expected_audience()),
                    );
                }
            }
        }
    }

    fn trust_policy(&mut self, issuer: Option<&str>, role: Option<&RoleArn>) {
        let Some(document) = &self.inputs.trust_policy else {
            if self.inputs.role_missing {
                let name = role.map_or_else(|| "the role".to_owned(), ToString::to_string);
                self.report.push(
                    5,
                    "trust.federated",
                    Status::Fail,
                    format!("{name} does not exist (iam:GetRole: NoSuchEntity); STS answers AccessDenied, as for a denied trust policy"),
                    "create the role with the trust policy irsa trust-policy prints, or fix the role ARN",
                );
            } else {
                self.report
                    .skip(5, "trust.federated", "no --trust-policy given");
            }
            return;
        };
        let policy = match Policy::parse_trust_policy(document) {
            Ok(p) => p,
            Err(e) => {
                self.report.push(
                    5,
                    "trust.federated",
                    Status::Fail,
                    format!("the trust policy is not one IAM accepts: {e}"),
                    "generate it: irsa trust-policy --account … --region … --cluster … --namespace … --service-account …",
                );
                return;
            }
        };
        let Some(issuer) = issuer else {
            self.report.skip(
                5,
                "trust.federated",
                "no --token or --issuer to compare the policy with",
            );
            return;
        };
        let hp = host_path(issuer);
        let mut providers: Vec<(String, Option<OidcProviderArn>)> = Vec::new();
        for statement in policy.statements() {
            if statement.effect() != Effect::Allow {
                continue;
            }
            if let Some(Principal::Specific(entries)) = statement.principal() {
                for (kind, values) in entries {
                    if *kind == PrincipalType::Federated {
                        for v in values {
                            providers.push((v.clone(), OidcProviderArn::parse(v).ok()));
                        }
                    }
                }
            }
        }
        let matching = providers
            .iter()
            .filter_map(|(_, p)| p.as_ref())
            .find(|p| p.host_path() == hp);
        let remedy_generate = format!(
            "use the issuer's HOST/PATH {hp} in Principal.Federated and in every condition key; irsa trust-policy builds both from one value (--role-account for a cross-account role)"
        );
        match matching {
            Some(p) if role.is_some_and(|r| r.account() != p.account()) => {
                let r = role.map(|r| r.account().to_string()).unwrap_or_default();
                self.report.push(
                    5,
                    "trust.federated",
                    Status::Fail,
                    format!("Principal.Federated is {p}, in account {}, but the role is in account {r}: STS only uses providers of the role's account", p.account()),
                    format!("use arn:{}:iam::{r}:oidc-provider/{hp} and create that provider in account {r}", p.partition()),
                );
            }
            Some(p) => self.report.push(
                5,
                "trust.federated",
                Status::Pass,
                format!("Principal.Federated {p} names the token's issuer"),
                "",
            ),
            None => {
                let names: Vec<&str> = providers.iter().map(|(v, _)| v.as_str()).collect();
                let guide = providers
                    .iter()
                    .filter_map(|(_, p)| p.as_ref())
                    .any(|p| differs_only_by_s3_region(p.host_path(), hp));
                let mut evidence = format!(
                    "Principal.Federated names {names:?}, none of them the token's issuer {hp}"
                );
                if guide {
                    evidence.push_str(": the provider uses another region than the issuer, as the guide's cross-account example does (ROLE_REGION in the provider, CLUSTER_REGION in the condition key); IAM roles have no region, the issuer URL carries the cluster's");
                }
                self.report.push(
                    5,
                    "trust.federated",
                    Status::Fail,
                    evidence,
                    remedy_generate.clone(),
                );
            }
        }

        let mut wrong = Vec::new();
        let mut right = 0usize;
        for statement in policy.statements() {
            for condition in statement.conditions() {
                for entry in condition.entries() {
                    let key = entry.key();
                    let Some((prefix, _)) = key.rsplit_once(':') else {
                        continue;
                    };
                    // Global keys (`aws:…`, `sts:…`) have no '/' or '.' in their prefix.
                    if !prefix.contains('/') && !prefix.contains('.') {
                        continue;
                    }
                    if prefix.eq_ignore_ascii_case(hp) {
                        right += 1;
                    } else {
                        wrong.push(key.to_owned());
                    }
                }
            }
        }
        if !wrong.is_empty() {
            self.report.push(
                5,
                "trust.condition-keys",
                Status::Fail,
                format!("condition keys {wrong:?} do not start with the issuer's {hp}: STS never sets them, so their conditions fail"),
                remedy_generate,
            );
        } else if right == 0 {
            self.report.push(
                5,
                "trust.condition-keys",
                Status::Warn,
                format!("no condition on {hp}:sub: every ServiceAccount of the cluster can assume the role"),
                format!("add \"StringEquals\": {{\"{hp}:sub\": \"system:serviceaccount:NAMESPACE:NAME\"}} (irsa trust-policy does)"),
            );
        } else {
            self.report.push(
                5,
                "trust.condition-keys",
                Status::Pass,
                format!("every provider condition key starts with {hp}"),
                "",
            );
        }
    }
}

/// Verifier reasons about keys and signatures (the rest are claims, reported on their own).
fn is_key_or_signature(reason: &str) -> bool {
    matches!(
        reason,
        "unknown_kid"
            | "kid_required"
            | "no_key_for_alg"
            | "key_alg_mismatch"
            | "signature_invalid"
            | "signature_missing"
            | "alg_none"
            | "alg_symmetric"
            | "alg_not_allowed"
    )
}

/// `s3.A.amazonaws.com/BUCKET` vs `s3.B.amazonaws.com/BUCKET`: the guide's mistake.
fn differs_only_by_s3_region(a: &str, b: &str) -> bool {
    let split = |s: &str| -> Option<(String, String)> {
        let (host, path) = s.split_once('/')?;
        let rest = host.strip_prefix("s3.")?;
        let (_region, suffix) = rest.split_once('.')?;
        Some((suffix.to_owned(), path.to_owned()))
    };
    a != b && split(a).is_some() && split(a) == split(b)
}
