//! STS: `AssumeRoleWithWebIdentity` and `GetCallerIdentity`.
//!
//! Owned by the STS engineer (this file and remote_issuer.rs). The router in
//! `server.rs` calls the two functions below with the parsed Query request; shared
//! pieces: `AppState` (`state.rs`: `store`, `clusters`, `settings`, `clock`,
//! `authenticate(req, "sts")`), the store (`store.rs`: `get_role`, `find_provider`,
//! `put_session`, `get_session`), the XML helpers (`xml.rs`: `success`, `AwsError`,
//! `STS_NAMESPACE`) and the cluster keys (`clusters.rs`).

use axum::response::Response;

use crate::server::QueryRequest;
use crate::state::SharedState;
use crate::xml::{self, AwsError, STS_NAMESPACE};

/// `Action=AssumeRoleWithWebIdentity` (unsigned).
pub async fn assume_role_with_web_identity(_state: &SharedState, req: &QueryRequest) -> Response {
    AwsError::new(
        http::StatusCode::SERVICE_UNAVAILABLE,
        "ServiceUnavailable",
        "AssumeRoleWithWebIdentity is being built",
    )
    .to_response(STS_NAMESPACE, &req.request_id)
}

/// `Action=GetCallerIdentity` (SigV4-signed).
pub async fn get_caller_identity(state: &SharedState, req: &QueryRequest) -> Response {
    match state.authenticate(req, "sts") {
        Ok(caller) => {
            let mut b = xml::XmlBuilder::new();
            b.text("Arn", &caller.arn())
                .text("UserId", caller.account())
                .text("Account", caller.account());
            xml::success("GetCallerIdentity", STS_NAMESPACE, Some(&b.finish()), &req.request_id)
        }
        Err(e) => e.to_response(STS_NAMESPACE, &req.request_id),
    }
}
