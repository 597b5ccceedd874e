//! Adding and removing the `irsa.io/cleanup` finalizer.
//!
//! kube-runtime's `finalizer()` helper only knows "delete": it cannot clean up an object that
//! stays (the opt-in annotation was removed), which is exactly the case Giant Swarm's
//! operator got wrong (its early return left the finalizer forever). These helpers are the
//! two patches, with a JSON Patch `test` on the list so that a concurrent change by another
//! controller fails with a conflict and is retried, instead of overwriting its finalizer.

use kube::api::{Api, Patch, PatchParams};
use kube::{Resource, ResourceExt};
use serde_json::json;

use crate::FINALIZER;

/// Whether `obj` carries our finalizer.
pub fn has_finalizer<K: Resource>(obj: &K) -> bool {
    obj.finalizers().iter().any(|f| f == FINALIZER)
}

/// Adds the finalizer (before anything is created in AWS); returns the patched object.
pub async fn add<K>(api: &Api<K>, obj: &K) -> Result<K, kube::Error>
where
    K: Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    let name = obj.name_any();
    let patch = if obj.meta().finalizers.is_none() {
        json!([
            { "op": "test", "path": "/metadata/finalizers", "value": null },
            { "op": "add", "path": "/metadata/finalizers", "value": [FINALIZER] },
        ])
    } else {
        json!([
            { "op": "test", "path": "/metadata/finalizers", "value": obj.finalizers() },
            { "op": "add", "path": "/metadata/finalizers/-", "value": FINALIZER },
        ])
    };
    let patch: json_patch::Patch =
        serde_json::from_value(patch).map_err(kube::Error::SerdeError)?;
    api.patch(&name, &PatchParams::default(), &Patch::<()>::Json(patch))
        .await
}

/// Removes the finalizer (only after deprovisioning succeeded).
pub async fn remove<K>(api: &Api<K>, obj: &K) -> Result<(), kube::Error>
where
    K: Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    let Some(index) = obj.finalizers().iter().position(|f| f == FINALIZER) else {
        return Ok(());
    };
    let patch = json!([
        { "op": "test", "path": format!("/metadata/finalizers/{index}"), "value": FINALIZER },
        { "op": "remove", "path": format!("/metadata/finalizers/{index}") },
    ]);
    let patch: json_patch::Patch =
        serde_json::from_value(patch).map_err(kube::Error::SerdeError)?;
    match api
        .patch(
            &obj.name_any(),
            &PatchParams::default(),
            &Patch::<()>::Json(patch),
        )
        .await
    {
        Ok(_) => Ok(()),
        // Already gone: the last finalizer went and the object with it.
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
        Err(e) => Err(e),
    }
}
