//! AWS Query-protocol responses: XML bodies, error envelopes and request IDs.
//!
//! IAM and STS both speak the `awsQuery` protocol. Clients are strict about the envelope
//! (aws-sdk-rust requires the root to be exactly `<Action>Response` with
//! `<Action>Result` as its first child, and reads `RequestId` from a different place in
//! errors than in successes), so every response goes through the helpers here instead of
//! being formatted ad hoc.

use std::fmt::Write as _;

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};

/// XML namespace of IAM responses (`Version=2010-05-08`).
pub const IAM_NAMESPACE: &str = "https://iam.amazonaws.com/doc/2010-05-08/";
/// XML namespace of STS responses (`Version=2011-06-15`).
pub const STS_NAMESPACE: &str = "https://sts.amazonaws.com/doc/2011-06-15/";

/// Escapes text for use in XML element content or attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

/// A small builder for the element tree of a `…Result`.
///
/// Text is always escaped; names are trusted (they are compile-time constants).
#[derive(Debug, Default)]
pub struct XmlBuilder {
    out: String,
}

impl XmlBuilder {
    /// An empty builder.
    pub fn new() -> Self {
        Self::default()
    }

    /// `<name>escaped text</name>`.
    pub fn text(&mut self, name: &str, value: &str) -> &mut Self {
        let _ = write!(self.out, "<{name}>{}</{name}>", escape(value));
        self
    }

    /// `<name>` (caller must [`close`](Self::close) it).
    pub fn open(&mut self, name: &str) -> &mut Self {
        let _ = write!(self.out, "<{name}>");
        self
    }

    /// `</name>`.
    pub fn close(&mut self, name: &str) -> &mut Self {
        let _ = write!(self.out, "</{name}>");
        self
    }

    /// The accumulated XML fragment.
    pub fn finish(self) -> String {
        self.out
    }
}

/// A new request ID (a UUID, as AWS uses).
pub fn new_request_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

fn xml_response(status: StatusCode, body: String, request_id: &str) -> Response {
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/xml"));
    if let Ok(value) = HeaderValue::from_str(request_id) {
        headers.insert("x-amzn-RequestId", value);
    }
    response
}

/// A successful Query-protocol response:
/// `<{action}Response xmlns=…><{action}Result>{result}</{action}Result><ResponseMetadata>…`.
///
/// `result` is an XML fragment (from [`XmlBuilder`]); pass `None` for actions whose
/// response has no `Result` element (IAM `DeleteRole` and friends).
pub fn success(action: &str, namespace: &str, result: Option<&str>, request_id: &str) -> Response {
    let mut body = String::with_capacity(256 + result.map_or(0, str::len));
    let _ = write!(body, "<{action}Response xmlns=\"{namespace}\">");
    if let Some(result) = result {
        let _ = write!(body, "<{action}Result>{result}</{action}Result>");
    }
    let _ = write!(
        body,
        "<ResponseMetadata><RequestId>{}</RequestId></ResponseMetadata></{action}Response>",
        escape(request_id)
    );
    xml_response(StatusCode::OK, body, request_id)
}

/// An error as AWS Query services report it: a code, a message and an HTTP status.
///
/// `Type` is `Sender` for 4xx and `Receiver` for 5xx.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct AwsError {
    /// The wire error code, e.g. `NoSuchEntity`.
    pub code: &'static str,
    /// The human-readable message.
    pub message: String,
    /// The HTTP status.
    pub status: StatusCode,
}

impl AwsError {
    /// An error with an explicit status.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            status,
        }
    }

    /// `400 ValidationError`.
    pub fn validation(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "ValidationError", message)
    }

    /// `400 InvalidInput` (IAM).
    pub fn invalid_input(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "InvalidInput", message)
    }

    /// `404 NoSuchEntity` (IAM).
    pub fn no_such_entity(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "NoSuchEntity", message)
    }

    /// `409 EntityAlreadyExists` (IAM).
    pub fn already_exists(message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, "EntityAlreadyExists", message)
    }

    /// `409 LimitExceeded` (IAM).
    pub fn limit_exceeded(message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, "LimitExceeded", message)
    }

    /// `400 MalformedPolicyDocument` (IAM and STS).
    pub fn malformed_policy(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "MalformedPolicyDocument", message)
    }

    /// `500 ServiceFailure` (IAM) for internal failures such as a storage error. The
    /// message is generic on purpose; details go to the log.
    pub fn service_failure() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "ServiceFailure",
            "The request processing has failed because of an unknown error, exception or failure.",
        )
    }

    /// `400 InvalidAction` for an `Action` this server does not implement.
    pub fn invalid_action(action: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "InvalidAction",
            format!("Could not find operation {action} for version NO_VERSION_SPECIFIED"),
        )
    }

    /// `Sender` or `Receiver`, from the status.
    pub fn fault_type(&self) -> &'static str {
        if self.status.is_server_error() {
            "Receiver"
        } else {
            "Sender"
        }
    }

    /// The XML error envelope with `RequestId` as a direct child of `ErrorResponse`.
    pub fn to_response(&self, namespace: &str, request_id: &str) -> Response {
        let body = format!(
            "<ErrorResponse xmlns=\"{namespace}\"><Error><Type>{}</Type><Code>{}</Code><Message>{}</Message></Error><RequestId>{}</RequestId></ErrorResponse>",
            self.fault_type(),
            self.code,
            escape(&self.message),
            escape(request_id)
        );
        xml_response(self.status, body, request_id)
    }
}

/// An [`AwsError`] bound to a namespace and request ID, so handlers can `?` it into a
/// response.
#[derive(Debug)]
pub struct ErrorReply {
    /// The error.
    pub error: AwsError,
    /// The namespace of the service that answered.
    pub namespace: &'static str,
    /// The request ID.
    pub request_id: String,
}

impl IntoResponse for ErrorReply {
    fn into_response(self) -> Response {
        self.error.to_response(self.namespace, &self.request_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn body_text(response: Response) -> String {
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .expect("body");
        String::from_utf8(bytes.to_vec()).expect("utf8")
    }

    #[tokio::test]
    async fn error_envelope_has_request_id_outside_error() {
        let error = AwsError::no_such_entity("The role with name x cannot be found.");
        let response = error.to_response(IAM_NAMESPACE, "rid-1");
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
        assert_eq!(response.headers()["x-amzn-RequestId"], "rid-1");
        let body = body_text(response).await;
        assert_eq!(
            body,
            "<ErrorResponse xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/\"><Error><Type>Sender</Type><Code>NoSuchEntity</Code><Message>The role with name x cannot be found.</Message></Error><RequestId>rid-1</RequestId></ErrorResponse>"
        );
    }

    #[tokio::test]
    async fn server_errors_are_receiver_faults() {
        let body = body_text(AwsError::service_failure().to_response(STS_NAMESPACE, "r")).await;
        assert!(body.contains("<Type>Receiver</Type>"), "{body}");
    }

    #[tokio::test]
    async fn success_wraps_result_and_escapes() {
        let mut b = XmlBuilder::new();
        b.open("Role").text("RoleName", "a<b&c").close("Role");
        let response = success("GetRole", IAM_NAMESPACE, Some(&b.finish()), "rid");
        let body = body_text(response).await;
        assert_eq!(
            body,
            "<GetRoleResponse xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/\"><GetRoleResult><Role><RoleName>a&lt;b&amp;c</RoleName></Role></GetRoleResult><ResponseMetadata><RequestId>rid</RequestId></ResponseMetadata></GetRoleResponse>"
        );
    }

    #[tokio::test]
    async fn success_without_result() {
        let body = body_text(success("DeleteRole", IAM_NAMESPACE, None, "rid")).await;
        assert!(body.starts_with("<DeleteRoleResponse xmlns="), "{body}");
        assert!(!body.contains("DeleteRoleResult"), "{body}");
    }
}
