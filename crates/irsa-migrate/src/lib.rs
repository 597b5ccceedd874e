//! `irsa migrate kiam`: move workloads from kiam's pod annotation to IRSA's ServiceAccount
//! annotation, and back.
//!
//! kiam gives a pod the role named in its `iam.amazonaws.com/role` annotation; IRSA gives it
//! the role in its ServiceAccount's `eks.amazonaws.com/role-arn`, which must be a full ARN.
//! [`migrate`] rewrites a multi-document YAML stream (what `kubectl get -o yaml` or a
//! kustomize build prints) accordingly:
//!
//! - the kiam annotation of every pod template (Deployment, StatefulSet, DaemonSet,
//!   ReplicaSet, Job, CronJob, Pod) is removed, and its role, expanded to a full ARN by
//!   [`irsa_core::kiam::role_arn`], goes on the ServiceAccount the pod runs as;
//! - a workload running as `default` gets a ServiceAccount of its own, named after it (plus
//!   `service_account_suffix`), since annotating `default` would give the role to every pod
//!   of the namespace;
//! - a ServiceAccount in the input is annotated in place; one that is not is emitted, just
//!   before the first workload that uses it, so `kubectl apply` creates it first;
//! - two workloads that share a ServiceAccount but name different roles (or a ServiceAccount
//!   that already names another role) are a [`MigrateError::Conflict`]: IRSA has one role
//!   per ServiceAccount;
//! - everything else passes through: other kinds, other fields, key order.
//!
//! The migration records what it replaced in `migrate.irsa.dev/…` annotations (the kiam
//! value as written, the original `serviceAccountName`, whether a ServiceAccount was created
//! or annotated), so [`rollback`] can restore the kiam form exactly: migrating and rolling
//! back gives the input's workloads back unchanged. Pure: text in, text out.

#![forbid(unsafe_code)]

pub mod yaml;

use std::collections::BTreeMap;

use irsa_core::aws::{AccountId, Partition, RoleArn};
use irsa_core::error::InvalidValue;
use irsa_core::k8s::{ServiceAccountName, SubjectPattern};
use irsa_core::kiam;
use irsa_core::mutation::{ANNOTATION_ROLE_ARN, DEFAULT_ANNOTATION_PREFIX};

use yaml::{Item, Node};

/// Pod-template annotation recording the kiam role reference as the input wrote it.
pub const RECORD_KIAM_ROLE: &str = "migrate.irsa.dev/kiam-role";
/// Pod-template annotation recording the `serviceAccountName` the migration replaced
/// (`""` when there was none).
pub const RECORD_SERVICE_ACCOUNT_NAME: &str = "migrate.irsa.dev/service-account-name";
/// ServiceAccount annotation saying what the migration did to it: [`CREATED`] or [`ANNOTATED`].
pub const RECORD_SERVICE_ACCOUNT: &str = "migrate.irsa.dev/kiam";
/// [`RECORD_SERVICE_ACCOUNT`]: the migration emitted this ServiceAccount.
pub const CREATED: &str = "created";
/// [`RECORD_SERVICE_ACCOUNT`]: the migration added the role ARN to this ServiceAccount.
pub const ANNOTATED: &str = "annotated";

/// The ServiceAccount annotation IRSA reads: `eks.amazonaws.com/role-arn`.
#[must_use]
pub fn role_arn_annotation() -> String {
    format!("{DEFAULT_ANNOTATION_PREFIX}/{ANNOTATION_ROLE_ARN}")
}

/// How role references are expanded and dedicated ServiceAccounts named.
#[derive(Debug, Clone)]
pub struct Options {
    /// The account of roles written as a name (`--account`).
    pub account: AccountId,
    /// Their partition (`--partition`).
    pub partition: Partition,
    /// Appended to a workload's name to name its dedicated ServiceAccount.
    pub service_account_suffix: String,
}

/// Why a stream cannot be migrated.
#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    /// The input does not parse.
    #[error("the input is not valid YAML: {0}")]
    Yaml(#[from] serde_saphyr::Error),
    /// The output could not be written (a value YAML cannot hold).
    #[error("cannot write the output as YAML: {0}")]
    Write(#[from] serde_saphyr::SerializeError),
    /// A value in a document breaks a rule (a role reference, a name).
    #[error("{object}: {source}")]
    Invalid {
        /// The object, e.g. `Deployment prod/api`.
        object: String,
        /// The rule it broke.
        source: InvalidValue,
    },
    /// A document has a field of the wrong type where the migration must write.
    #[error("{object}: {detail}")]
    Shape {
        /// The object.
        object: String,
        /// What is wrong.
        detail: String,
    },
    /// One ServiceAccount would need two roles.
    #[error(
        "ServiceAccount {service_account} would need two roles: {first} has {first_role}, \
         {second} names {second_role}; give one of them its own ServiceAccount"
    )]
    Conflict {
        /// `NAMESPACE/NAME` of the ServiceAccount.
        service_account: String,
        /// The first object (a workload, or the ServiceAccount's own annotation).
        first: String,
        /// Its role.
        first_role: String,
        /// The second workload.
        second: String,
        /// Its role.
        second_role: String,
    },
}

/// A role and the ServiceAccounts that now use it (for `--trust-policies`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleUse {
    /// The role.
    pub role: RoleArn,
    /// Its ServiceAccounts as trust-policy subjects; a workload without a namespace counts
    /// as `default`.
    pub subjects: Vec<SubjectPattern>,
}

/// The rewritten stream and what changed.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The output YAML.
    pub yaml: String,
    /// One line per change, for stderr.
    pub summary: Vec<String>,
    /// Roles and their ServiceAccounts (empty for a rollback).
    pub roles: Vec<RoleUse>,
}

/// Where a kind keeps its pod template.
fn template_path(kind: &str) -> Option<&'static [&'static str]> {
    match kind {
        "Pod" => Some(&[]),
        "Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet" | "Job" => {
            Some(&["spec", "template"])
        }
        "CronJob" => Some(&["spec", "jobTemplate", "spec", "template"]),
        _ => None,
    }
}

fn kind_of(doc: &Node) -> &str {
    doc.str_at(&["kind"]).unwrap_or_default()
}

fn namespace_of(doc: &Node) -> Option<String> {
    doc.str_at(&["metadata", "namespace"])
        .filter(|n| !n.is_empty())
        .map(str::to_owned)
}

/// `Kind NAMESPACE/NAME`, or `Kind NAME` when the document has no namespace.
fn describe(doc: &Node) -> String {
    let name = doc.str_at(&["metadata", "name"]).unwrap_or("(no name)");
    match namespace_of(doc) {
        Some(ns) => format!("{} {ns}/{name}", kind_of(doc)),
        None => format!("{} {name}", kind_of(doc)),
    }
}

/// A ServiceAccount key: namespace as written (absent is its own value) and name.
type SaKey = (Option<String>, String);

fn sa_display(key: &SaKey) -> String {
    match &key.0 {
        Some(ns) => format!("{ns}/{}", key.1),
        None => key.1.clone(),
    }
}

/// The ServiceAccount a pod spec runs as: `serviceAccountName`, the deprecated
/// `serviceAccount`, else `default`.
fn pod_service_account(spec: Option<&Node>) -> Option<&str> {
    let spec = spec?;
    spec.str_at(&["serviceAccountName"])
        .filter(|s| !s.is_empty())
        .or_else(|| spec.str_at(&["serviceAccount"]).filter(|s| !s.is_empty()))
}

/// What the migration will do for one workload.
struct Plan {
    doc: usize,
    role: RoleArn,
    kiam_value: String,
    service_account: SaKey,
    /// The `serviceAccountName` to record when the workload gets a dedicated ServiceAccount.
    replaced_service_account: Option<String>,
}

/// One ServiceAccount that receives a role.
struct Assignment {
    role: RoleArn,
    first: String,
    /// Index of the ServiceAccount document in the input, if there is one.
    doc: Option<usize>,
    /// Index of the first workload using it (a new ServiceAccount is emitted before it).
    first_doc: usize,
}

/// Migrates a YAML stream from kiam to IRSA. See the crate docs.
pub fn migrate(input: &str, options: &Options) -> Result<Outcome, MigrateError> {
    let mut docs = yaml::parse_documents(input)?;
    let role_key = role_arn_annotation();

    let mut service_accounts: BTreeMap<SaKey, usize> = BTreeMap::new();
    for (i, doc) in docs.iter().enumerate() {
        if kind_of(&doc.node) == "ServiceAccount"
            && let Some(name) = doc.node.str_at(&["metadata", "name"])
        {
            service_accounts
                .entry((namespace_of(&doc.node), name.to_owned()))
                .or_insert(i);
        }
    }

    let mut plans = Vec::new();
    let mut assignments: BTreeMap<SaKey, Assignment> = BTreeMap::new();
    let mut summary = Vec::new();
    for (i, doc) in docs.iter().enumerate() {
        let node = &doc.node;
        let Some(path) = template_path(kind_of(node)) else {
            if kind_of(node) == "Namespace"
                && node
                    .path(&["metadata", "annotations", kiam::PERMITTED_ANNOTATION])
                    .is_some()
            {
                summary.push(format!(
                    "{}: kept {} (kiam only; remove it once no pod of the namespace uses kiam)",
                    describe(node),
                    kiam::PERMITTED_ANNOTATION
                ));
            }
            continue;
        };
        let template = node.path(path);
        let Some(value) =
            template.and_then(|t| t.str_at(&["metadata", "annotations", kiam::ROLE_ANNOTATION]))
        else {
            continue;
        };
        let object = describe(node);
        let role = kiam::role_arn(value, options.partition, &options.account).map_err(|e| {
            MigrateError::Invalid {
                object: object.clone(),
                source: e,
            }
        })?;
        let namespace = namespace_of(node);
        let spec = template.and_then(|t| t.get("spec"));
        let (sa_name, replaced) = match pod_service_account(spec) {
            Some(name) if name != "default" => (name.to_owned(), None),
            _ => {
                let workload = node.str_at(&["metadata", "name"]).unwrap_or_default();
                let name = format!("{workload}{}", options.service_account_suffix);
                ServiceAccountName::parse(&name).map_err(|e| MigrateError::Invalid {
                    object: object.clone(),
                    source: e.for_input("dedicated ServiceAccount name"),
                })?;
                let recorded = spec
                    .and_then(|s| s.str_at(&["serviceAccountName"]))
                    .unwrap_or_default()
                    .to_owned();
                (name, Some(recorded))
            }
        };
        let key = (namespace, sa_name);
        let existing_doc = service_accounts.get(&key).copied();
        match assignments.get(&key) {
            Some(a) if a.role != role => {
                return Err(MigrateError::Conflict {
                    service_account: sa_display(&key),
                    first: a.first.clone(),
                    first_role: a.role.to_string(),
                    second: object,
                    second_role: role.to_string(),
                });
            }
            Some(_) => {}
            None => {
                if let Some(sa_doc) = existing_doc
                    && let Some(current) = docs[sa_doc]
                        .node
                        .str_at(&["metadata", "annotations", &role_key])
                        .filter(|c| !c.is_empty() && *c != role.to_string())
                {
                    return Err(MigrateError::Conflict {
                        service_account: sa_display(&key),
                        first: format!("its {role_key} annotation"),
                        first_role: current.to_owned(),
                        second: object,
                        second_role: role.to_string(),
                    });
                }
                assignments.insert(
                    key.clone(),
                    Assignment {
                        role: role.clone(),
                        first: object.clone(),
                        doc: existing_doc,
                        first_doc: i,
                    },
                );
            }
        }
        plans.push(Plan {
            doc: i,
            role,
            kiam_value: value.to_owned(),
            service_account: key,
            replaced_service_account: replaced,
        });
    }

    for plan in &plans {
        let node = &mut docs[plan.doc].node;
        let object = describe(node);
        let path = template_path(kind_of(node)).unwrap_or(&[]);
        let shape = |detail: &str| MigrateError::Shape {
            object: object.clone(),
            detail: detail.to_owned(),
        };
        let template = node
            .path_mut(path)
            .ok_or_else(|| shape("the pod template disappeared"))?;
        let renamed = template
            .path_mut(&["metadata", "annotations"])
            .is_some_and(|a| {
                a.rename(
                    kiam::ROLE_ANNOTATION,
                    RECORD_KIAM_ROLE,
                    Node::str(&plan.kiam_value),
                )
            });
        if !renamed {
            return Err(shape("the pod template's annotations are not a mapping"));
        }
        if let Some(recorded) = &plan.replaced_service_account {
            let spec = template
                .ensure_map(&["spec"])
                .ok_or_else(|| shape("the pod template's spec is not a mapping"))?;
            spec.set("serviceAccountName", Node::str(&plan.service_account.1));
            template
                .ensure_map(&["metadata", "annotations"])
                .map(|a| a.set(RECORD_SERVICE_ACCOUNT_NAME, Node::str(recorded)))
                .ok_or_else(|| shape("the pod template's annotations are not a mapping"))?;
        }
        let how = match (
            &plan.replaced_service_account,
            assignments.get(&plan.service_account),
        ) {
            (Some(_), Some(a)) if a.doc.is_none() => "dedicated, created",
            (Some(_), _) => "dedicated, in the input",
            (None, Some(a)) if a.doc.is_none() => "created",
            (None, _) => "in the input",
        };
        summary.push(format!(
            "{object}: {} {:?} -> ServiceAccount {} ({how}) {role_key}={}",
            kiam::ROLE_ANNOTATION,
            plan.kiam_value,
            sa_display(&plan.service_account),
            plan.role
        ));
    }

    let mut created: BTreeMap<usize, Vec<Item>> = BTreeMap::new();
    for (key, a) in &assignments {
        match a.doc {
            Some(sa_doc) => {
                let node = &mut docs[sa_doc].node;
                let object = describe(node);
                let annotations =
                    node.ensure_map(&["metadata", "annotations"])
                        .ok_or_else(|| MigrateError::Shape {
                            object: object.clone(),
                            detail: "metadata.annotations is not a mapping".to_owned(),
                        })?;
                if annotations.str_at(&[&role_key]) != Some(a.role.to_string().as_str()) {
                    annotations.set(&role_key, Node::str(a.role.to_string()));
                    annotations.set(RECORD_SERVICE_ACCOUNT, Node::str(ANNOTATED));
                    summary.push(format!("{object}: annotated {role_key}={}", a.role));
                } else {
                    summary.push(format!("{object}: already has {role_key}={}", a.role));
                }
            }
            None => {
                created
                    .entry(a.first_doc)
                    .or_default()
                    .push(Item::new(new_service_account(key, &role_key, &a.role)));
                summary.push(format!(
                    "ServiceAccount {}: created with {role_key}={}",
                    sa_display(key),
                    a.role
                ));
            }
        }
    }

    let mut roles: Vec<RoleUse> = Vec::new();
    for (key, a) in &assignments {
        let namespace = key.0.as_deref().unwrap_or("default");
        let subject =
            SubjectPattern::new(namespace, &key.1).map_err(|e| MigrateError::Invalid {
                object: format!("ServiceAccount {}", sa_display(key)),
                source: e,
            })?;
        match roles.iter_mut().find(|r| r.role == a.role) {
            Some(r) => r.subjects.push(subject),
            None => roles.push(RoleUse {
                role: a.role.clone(),
                subjects: vec![subject],
            }),
        }
    }

    let migrated = plans.len();
    let mut out = Vec::with_capacity(docs.len() + created.len());
    for (i, doc) in docs.into_iter().enumerate() {
        if let Some(new) = created.remove(&i) {
            out.extend(new);
        }
        out.push(doc);
    }
    summary.push(format!(
        "{migrated} workload(s) migrated, {} ServiceAccount(s) given a role, {} document(s) in the output",
        assignments.len(),
        out.len()
    ));
    Ok(Outcome {
        yaml: yaml::write_documents(&out)?,
        summary,
        roles,
    })
}

fn new_service_account(key: &SaKey, role_key: &str, role: &RoleArn) -> Node {
    let mut metadata = vec![("name".to_owned(), Item::new(Node::str(&key.1)))];
    if let Some(ns) = &key.0 {
        metadata.push(("namespace".to_owned(), Item::new(Node::str(ns))));
    }
    metadata.push((
        "annotations".to_owned(),
        Item::new(Node::Map(vec![
            (role_key.to_owned(), Item::new(Node::str(role.to_string()))),
            (
                RECORD_SERVICE_ACCOUNT.to_owned(),
                Item::new(Node::str(CREATED)),
            ),
        ])),
    ));
    Node::Map(vec![
        ("apiVersion".to_owned(), Item::new(Node::str("v1"))),
        ("kind".to_owned(), Item::new(Node::str("ServiceAccount"))),
        ("metadata".to_owned(), Item::new(Node::Map(metadata))),
    ])
}

/// Restores the kiam form of a stream [`migrate`] produced, using its `migrate.irsa.dev/…`
/// records: ServiceAccounts it created are dropped, role ARNs it added are removed, and
/// pod templates get their kiam annotation and `serviceAccountName` back as they were.
pub fn rollback(input: &str) -> Result<Outcome, MigrateError> {
    let docs = yaml::parse_documents(input)?;
    let role_key = role_arn_annotation();
    let mut summary = Vec::new();
    let mut out = Vec::with_capacity(docs.len());
    let (mut restored, mut dropped) = (0usize, 0usize);
    for mut doc in docs {
        let object = describe(&doc.node);
        let shape = |detail: &str| MigrateError::Shape {
            object: object.clone(),
            detail: detail.to_owned(),
        };
        if kind_of(&doc.node) == "ServiceAccount" {
            match doc
                .node
                .str_at(&["metadata", "annotations", RECORD_SERVICE_ACCOUNT])
            {
                Some(CREATED) => {
                    summary.push(format!("{object}: dropped (created by the migration)"));
                    dropped += 1;
                    continue;
                }
                Some(ANNOTATED) => {
                    let metadata = doc
                        .node
                        .get_mut("metadata")
                        .ok_or_else(|| shape("metadata is not a mapping"))?;
                    if let Some(annotations) = metadata.get_mut("annotations") {
                        annotations.remove(&role_key);
                        annotations.remove(RECORD_SERVICE_ACCOUNT);
                        if annotations.is_empty_map() {
                            metadata.remove("annotations");
                        }
                    }
                    summary.push(format!("{object}: removed {role_key}"));
                }
                _ => {}
            }
        } else if let Some(path) = template_path(kind_of(&doc.node))
            && let Some(template) = doc.node.path_mut(path)
            && let Some(value) = template
                .str_at(&["metadata", "annotations", RECORD_KIAM_ROLE])
                .map(str::to_owned)
        {
            let annotations = template
                .path_mut(&["metadata", "annotations"])
                .ok_or_else(|| shape("the pod template's annotations are not a mapping"))?;
            annotations.rename(RECORD_KIAM_ROLE, kiam::ROLE_ANNOTATION, Node::str(&value));
            let recorded = annotations
                .remove(RECORD_SERVICE_ACCOUNT_NAME)
                .and_then(|n| n.as_str().map(str::to_owned));
            if let Some(recorded) = recorded
                && let Some(spec) = template.get_mut("spec")
            {
                if recorded.is_empty() {
                    spec.remove("serviceAccountName");
                } else {
                    spec.set("serviceAccountName", Node::str(recorded));
                }
            }
            summary.push(format!(
                "{object}: restored {} {value:?}",
                kiam::ROLE_ANNOTATION
            ));
            restored += 1;
        }
        out.push(doc);
    }
    summary.push(format!(
        "{restored} workload(s) restored to kiam, {dropped} ServiceAccount(s) dropped, {} document(s) in the output",
        out.len()
    ));
    Ok(Outcome {
        yaml: yaml::write_documents(&out)?,
        summary,
        roles: Vec::new(),
    })
}
