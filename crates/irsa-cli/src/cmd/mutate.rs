//! Wiring for `irsa mutate`: the webhook's pod mutation, offline.
//!
//! Reads a Pod (and optionally its ServiceAccount, the `pod-identity-webhook` ConfigMap and the
//! container-credentials file), runs the same planner as `irsa webhook`
//! ([`irsa_core::mutation::plan_detailed`]) with the same flags, and prints the JSON Patch or
//! the mutated pod. It is how a user checks what the webhook will do before deploying.
//!
//! YAML handling: each file is read twice. First into the typed k8s-openapi object, which
//! validates its shape (a field of the wrong type is refused with its line and column). Then
//! into an untyped `serde_json::Value` for the planner, so fields the compiled-in types do not
//! know survive into `--output pod`. The untyped read uses the YAML 1.2 core schema (`strict_booleans`) and keeps
//! integers with leading zeros as strings, so an unquoted `no`, `on` or `012` stays a string
//! instead of silently becoming `false` or `10` in an env value or annotation. (kubectl's
//! YAML 1.1 reading would turn an unquoted `on` in a boolean field into `true`; such a field
//! keeps its text here, which only matters for fields the planner never reads.)

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use irsa_core::mutation::{
    self, ContainerCredentialsConfig, Jitter, PlanInputs, RoleMapping, ServiceAccountIdentity,
    WebhookConfig,
};
use k8s_openapi::api::core::v1::{ConfigMap, Pod, ServiceAccount};
use serde_json::Value;

use crate::output::{CliError, finish};

/// What `irsa mutate` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    /// The JSON Patch (RFC 6902) the webhook would return.
    Patch,
    /// The pod after the patch, as JSON.
    Pod,
    /// The pod after the patch, as YAML.
    PodYaml,
}

/// Arguments of `irsa mutate`. Webhook flags have upstream's names and defaults.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The Pod manifest (YAML or JSON).
    #[arg(short = 'f', long = "filename", value_name = "POD.yaml")]
    pub filename: PathBuf,
    /// The pod's ServiceAccount manifest; without it the ServiceAccount counts as not found.
    #[arg(long, value_name = "SA.yaml")]
    pub service_account: Option<PathBuf>,
    /// Namespace of the admission request (default: the pod's, else `default`).
    #[arg(long)]
    pub namespace: Option<String>,
    /// The mutation flags shared with `irsa webhook`/`irsa mutate`.
    #[command(flatten)]
    pub mutation: super::mutation_flags::MutationFlags,
    /// A `pod-identity-webhook` ConfigMap manifest (what `--watch-config-map` would watch).
    #[arg(long, value_name = "CONFIGMAP.yaml")]
    pub config_map: Option<PathBuf>,
    /// The container-credentials identities file (`{"identities":[{"namespace":..,"serviceAccount":..}]}`).
    #[arg(
        long,
        alias = "watch-container-credentials-config",
        value_name = "FILE"
    )]
    pub container_credentials_config: Option<PathBuf>,
    /// Fixed jitter (0..=7200 s) for a container-credentials expiration of 86400 s, for
    /// reproducible output; by default it is random like the webhook's.
    #[arg(long, value_parser = clap::value_parser!(u64).range(0..=7200))]
    pub jitter_offset: Option<u64>,
    /// What to print.
    #[arg(short, long, value_enum, default_value_t = OutputFormat::Patch)]
    pub output: OutputFormat,
}

/// Bad input to `irsa mutate`: exit status 2.
fn usage(message: String) -> CliError {
    CliError::usage(format!("irsa mutate: {message}"))
}

/// Runs the command.
pub fn run(args: Args) -> ExitCode {
    finish(execute(&args))
}

fn execute(args: &Args) -> Result<String, CliError> {
    let pod = read_pod(&args.filename)?;
    let config = args.mutation.to_config();
    let namespace = args
        .namespace
        .clone()
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| mutation::pod_namespace(&pod, None).to_owned());
    let sa_name = mutation::service_account_name(&pod).to_owned();

    let identity = match &args.service_account {
        None => None,
        Some(path) => Some(read_service_account(path, &config, &namespace, &sa_name)?),
    };
    let role_mapping = match &args.config_map {
        None => None,
        Some(path) => Some(read_config_map(path)?),
    };
    let container_credentials = match &args.container_credentials_config {
        None => None,
        Some(path) => Some(read_container_credentials(path)?),
    };
    let inputs = PlanInputs {
        namespace: Some(&namespace),
        role_mapping: role_mapping.as_ref(),
        container_credentials: container_credentials.as_ref(),
        jitter: Jitter(args.jitter_offset.unwrap_or_else(rand::random)),
    };
    let plan = mutation::plan_detailed(&pod, identity.as_ref(), &config, &inputs)
        .map_err(|e| usage(format!("{}: {e}", args.filename.display())))?;
    describe(&plan, &namespace, &sa_name);

    let internal = |e: String| CliError::failure(format!("irsa mutate: {e}"));
    match args.output {
        OutputFormat::Patch => serde_json::to_string_pretty(&plan.operations)
            .map_err(|e| internal(format!("cannot serialise the patch: {e}"))),
        OutputFormat::Pod | OutputFormat::PodYaml => {
            let mutated = mutation::apply_plan(&pod, &plan.operations)
                .map_err(|e| internal(format!("cannot apply the patch: {e}")))?;
            if args.output == OutputFormat::Pod {
                serde_json::to_string_pretty(&mutated)
                    .map_err(|e| internal(format!("cannot serialise the pod: {e}")))
            } else {
                serde_saphyr::to_string(&mutated)
                    .map(|s| s.trim_end().to_owned())
                    .map_err(|e| internal(format!("cannot serialise the pod as YAML: {e}")))
            }
        }
    }
}

/// One stderr line saying what happened and why, so an empty patch is never a mystery.
fn describe(plan: &mutation::MutationPlan, namespace: &str, sa_name: &str) {
    let line = match (plan.method, plan.missing_service_account) {
        (Some(method), _) => format!(
            "irsa mutate: {} for ServiceAccount {namespace}/{sa_name}: {} operation(s)",
            method.metric_label(),
            plan.operations.len()
        ),
        (None, true) => format!(
            "irsa mutate: no mutation: ServiceAccount {namespace}/{sa_name} not given (--service-account) and not in --config-map"
        ),
        (None, false) => format!(
            "irsa mutate: no mutation: ServiceAccount {namespace}/{sa_name} has no role ARN annotation and no ConfigMap role"
        ),
    };
    note(&line);
}

fn read_text(path: &Path, what: &str) -> Result<String, CliError> {
    std::fs::read_to_string(path)
        .map_err(|e| usage(format!("cannot read {what} file {}: {e}", path.display())))
}

/// Writes one diagnostic line to stderr (never fails the command).
fn note(line: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr().lock(), "{line}");
}

/// Parses YAML (or JSON, a YAML subset) into an untyped value without YAML 1.1 surprises
/// ([`mutation::parse_yaml`], shared with `irsa local exec`).
pub(crate) fn parse_untyped(text: &str) -> Result<Value, String> {
    mutation::parse_yaml(text)
}

/// Reads a manifest: typed (validation, precise errors) and untyped (what the planner sees).
fn read_manifest<T: serde::de::DeserializeOwned>(
    path: &Path,
    what: &str,
    kind: &str,
) -> Result<(T, Value), CliError> {
    let text = read_text(path, what)?;
    let untyped = parse_untyped(&text)
        .map_err(|e| usage(format!("{} is not valid YAML: {e}", path.display())))?;
    if !untyped.is_object() {
        return Err(usage(format!(
            "{} must hold a single {kind} object",
            path.display()
        )));
    }
    match untyped.get("kind").and_then(Value::as_str) {
        None => {}
        Some(k) if k == kind => {}
        Some(other) => {
            return Err(usage(format!(
                "{} is a {other}, expected kind {kind}",
                path.display()
            )));
        }
    }
    let typed: T = serde_saphyr::from_str(&text)
        .map_err(|e| usage(format!("{} is not a valid {kind}: {e}", path.display())))?;
    Ok((typed, untyped))
}

fn read_pod(path: &Path) -> Result<Value, CliError> {
    let (_pod, untyped): (Pod, Value) = read_manifest(path, "pod", "Pod")?;
    Ok(untyped)
}

fn read_service_account(
    path: &Path,
    config: &WebhookConfig,
    namespace: &str,
    sa_name: &str,
) -> Result<ServiceAccountIdentity, CliError> {
    let (sa, _): (ServiceAccount, Value) = read_manifest(path, "ServiceAccount", "ServiceAccount")?;
    let name = sa.metadata.name.as_deref().unwrap_or_default();
    if name != sa_name {
        return Err(usage(format!(
            "{}: ServiceAccount {name:?} is not the pod's serviceAccountName {sa_name:?}",
            path.display()
        )));
    }
    if let Some(ns) = sa.metadata.namespace.as_deref().filter(|n| *n != namespace) {
        return Err(usage(format!(
            "{}: ServiceAccount namespace {ns:?} is not the pod's namespace {namespace:?}",
            path.display()
        )));
    }
    let annotations: BTreeMap<String, String> = sa.metadata.annotations.unwrap_or_default();
    Ok(ServiceAccountIdentity::from_annotations(
        &config.annotation_prefix,
        &annotations,
    ))
}

fn read_config_map(path: &Path) -> Result<RoleMapping, CliError> {
    let (cm, _): (ConfigMap, Value) = read_manifest(path, "ConfigMap", "ConfigMap")?;
    if let Some(name) = cm
        .metadata
        .name
        .as_deref()
        .filter(|n| *n != mutation::CONFIG_MAP_NAME)
    {
        note(&format!(
            "irsa mutate: warning: {}: the webhook only reads the ConfigMap named {}, not {name:?}",
            path.display(),
            mutation::CONFIG_MAP_NAME
        ));
    }
    let (mapping, warnings) = RoleMapping::from_config_map_data(&cm.data.unwrap_or_default())
        .map_err(|e| usage(format!("{}: {e}", path.display())))?;
    for w in warnings {
        note(&format!("irsa mutate: warning: {}: {w}", path.display()));
    }
    Ok(mapping)
}

fn read_container_credentials(path: &Path) -> Result<ContainerCredentialsConfig, CliError> {
    let text = read_text(path, "container-credentials config")?;
    let (config, warnings) = ContainerCredentialsConfig::parse(&text)
        .map_err(|e| usage(format!("{}: {e}", path.display())))?;
    for w in warnings {
        note(&format!("irsa mutate: warning: {}: {w}", path.display()));
    }
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn untyped_yaml_keeps_yaml11_lookalikes_as_strings() {
        let v = parse_untyped(
            "a: no\nb: \"no\"\nc: 012\nd: \"012\"\ne: on\nf: true\ng: 3600\nh: \"true\"\n",
        )
        .expect("yaml");
        assert_eq!(v["a"], Value::from("no"));
        assert_eq!(v["b"], Value::from("no"));
        assert_eq!(v["c"], Value::from("012"));
        assert_eq!(v["d"], Value::from("012"));
        assert_eq!(v["e"], Value::from("on"));
        assert_eq!(v["f"], Value::from(true));
        assert_eq!(v["g"], Value::from(3600));
        assert_eq!(v["h"], Value::from("true"));
    }

    #[test]
    fn yaml_output_round_trips_ambiguous_strings() {
        let v = serde_json::json!({"env": [{"name": "X", "value": "no"}, {"name": "Y", "value": "012"}, {"name": "Z", "value": "true"}]});
        let text = serde_saphyr::to_string(&v).expect("serialise");
        assert_eq!(parse_untyped(&text).expect("parse"), v, "{text}");
    }
}
