//! Typed reads of the objects a diagnosis of a pod's identity looks at: the pod, its
//! ServiceAccount, its Namespace, and the pods of a namespace.
//!
//! "Does not exist" is an answer (`Ok(None)`), not an error: a missing ServiceAccount is a
//! finding `irsa doctor` reports, while a refused or failed request is a reason it cannot
//! report anything. Errors name the object that could not be read.

use k8s_openapi::api::core::v1::{Namespace, Pod, ServiceAccount};
use kube::api::{Api, ListParams};

/// Items asked for per list page: large enough that a namespace of a few thousand pods is a
/// handful of round trips, small enough that one page stays a few MiB.
pub const LIST_PAGE_SIZE: u32 = 500;

/// A read the API server refused or could not answer.
#[derive(Debug, thiserror::Error)]
#[error("cannot read {kind} {name}: {source}")]
pub struct ReadError {
    /// The object's kind (`Pod`, `ServiceAccount`, …).
    pub kind: &'static str,
    /// `namespace/name`, `name`, or for lists `namespace/*`.
    pub name: String,
    /// The client's error (HTTP status and the API server's message, or the transport error).
    #[source]
    pub source: kube::Error,
}

/// Read access to the objects behind a pod's identity.
#[derive(Clone)]
pub struct Objects {
    client: kube::Client,
}

impl std::fmt::Debug for Objects {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Objects").finish_non_exhaustive()
    }
}

impl Objects {
    /// Reads through `client` (see [`crate::client`]).
    pub fn new(client: kube::Client) -> Self {
        Self { client }
    }

    /// The pod `namespace/name`, or `None` when it does not exist.
    pub async fn pod(&self, namespace: &str, name: &str) -> Result<Option<Pod>, ReadError> {
        let api: Api<Pod> = Api::namespaced(self.client.clone(), namespace);
        api.get_opt(name).await.map_err(|source| ReadError {
            kind: "Pod",
            name: format!("{namespace}/{name}"),
            source,
        })
    }

    /// The ServiceAccount `namespace/name`, or `None` when it does not exist.
    pub async fn service_account(
        &self,
        namespace: &str,
        name: &str,
    ) -> Result<Option<ServiceAccount>, ReadError> {
        let api: Api<ServiceAccount> = Api::namespaced(self.client.clone(), namespace);
        api.get_opt(name).await.map_err(|source| ReadError {
            kind: "ServiceAccount",
            name: format!("{namespace}/{name}"),
            source,
        })
    }

    /// The Namespace `name`, or `None` when it does not exist.
    pub async fn namespace(&self, name: &str) -> Result<Option<Namespace>, ReadError> {
        let api: Api<Namespace> = Api::all(self.client.clone());
        api.get_opt(name).await.map_err(|source| ReadError {
            kind: "Namespace",
            name: name.to_string(),
            source,
        })
    }

    /// Every pod of `namespace` (all namespaces when `None`) matching `label_selector`
    /// (Kubernetes selector syntax, `app=web,tier!=db`), following list pages to the end.
    pub async fn pods(
        &self,
        namespace: Option<&str>,
        label_selector: Option<&str>,
    ) -> Result<Vec<Pod>, ReadError> {
        let api: Api<Pod> = match namespace {
            Some(ns) => Api::namespaced(self.client.clone(), ns),
            None => Api::all(self.client.clone()),
        };
        let mut params = ListParams::default().limit(LIST_PAGE_SIZE);
        if let Some(selector) = label_selector {
            params = params.labels(selector);
        }
        let mut pods = Vec::new();
        loop {
            let page = api.list(&params).await.map_err(|source| ReadError {
                kind: "Pod",
                name: format!("{}/*", namespace.unwrap_or("*")),
                source,
            })?;
            pods.extend(page.items);
            match page.metadata.continue_.filter(|c| !c.is_empty()) {
                Some(token) => params = params.continue_token(&token),
                None => return Ok(pods),
            }
        }
    }
}
