//! AWS Query-protocol responses: XML bodies, error envelopes and request IDs.
//!
//! IAM and STS both speak the `awsQuery` protocol. Clients are strict about the envelope
//! (aws-sdk-rust requires the root to be exactly `<Action>Response` with
//! `<Action>Result` as its first child, and reads `RequestId` from a different place in
//! errors than in successes), so every response goes through the helpers here instead of
//! being formatted ad hoc.
//!
//! # Only well-formed XML leaves this module
//!
//! XML 1.0 cannot carry every character a Rust string can: NUL and the other C0 controls
//! except tab, line feed and carriage return, and U+FFFE/U+FFFF are not XML characters,
//! not even as character references. A client that receives one cannot parse the response
//! at all (boto3 raises `ResponseParserError`, aws-sdk-rust a deserialisation error), so
//! the caller never learns what went wrong, and a stored value that carries one breaks
//! every later listing. Input validation ([`crate::validation`]) keeps such characters out
//! of the store; this module is the second line, for values that got in another way (a
//! database written by an older version, a claim of a validly signed token):
//!
//! - **Data fails closed.** [`XmlBuilder::text`] escapes `&<>"'` and writes `\r` as a
//!   character reference (a raw one would be read back as `\n`); a character XML cannot
//!   carry poisons the builder, and [`XmlBuilder::finish`] returns [`Unrepresentable`]
//!   instead of a fragment. Handlers answer that with their service's 500 error and log
//!   which element it was. Replacing the character instead would hand the client a value
//!   that is not the stored one (a role description, a subject) without telling it; a
//!   500 is honest, and the list actions skip just the one entity (logged), so one bad row
//!   does not hide the others.
//! - **Error messages are prose**, often quoting the offending input (`Value 'a\u0000b'
//!   at 'roleSessionName' …`). Failing them closed would turn a client's 400 into a 500,
//!   so [`AwsError::to_response`] shows each character XML cannot carry as a `\uXXXX`
//!   escape, the way AWS's own messages print patterns.
//!
//! A [`XmlFragment`] can only come out of a builder that accepted every character, and
//! [`success`] only takes fragments, so no handler can put unchecked text into a body.

use std::fmt::Write as _;

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};

/// XML namespace of IAM responses (`Version=2010-05-08`).
pub const IAM_NAMESPACE: &str = "https://iam.amazonaws.com/doc/2010-05-08/";
/// XML namespace of STS responses (`Version=2011-06-15`).
pub const STS_NAMESPACE: &str = "https://sts.amazonaws.com/doc/2011-06-15/";

/// Whether XML 1.0 can carry `c` at all (production `Char` of the XML 1.0 spec). Lone
/// surrogates, the spec's other exclusion, cannot occur in a Rust `char`.
pub fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{d7ff}' | '\u{e000}'..='\u{fffd}' | '\u{10000}'..)
}

/// Writes `c` escaped for element content; `Err` if XML cannot carry it at all.
fn escape_char(out: &mut String, c: char) -> Result<(), ()> {
    match c {
        '&' => out.push_str("&amp;"),
        '<' => out.push_str("&lt;"),
        '>' => out.push_str("&gt;"),
        '"' => out.push_str("&quot;"),
        '\'' => out.push_str("&apos;"),
        // A raw CR would reach the client as LF (end-of-line normalisation).
        '\r' => out.push_str("&#xD;"),
        c if is_xml_char(c) => out.push(c),
        _ => return Err(()),
    }
    Ok(())
}

/// Whether [`escape_char`] writes the ASCII byte `b` unchanged: the bytes of the clean runs
/// that [`escape_into`] copies whole.
const fn is_plain(b: u8) -> bool {
    matches!(b, b'\t' | b'\n' | 0x20..=0x7e) && !matches!(b, b'&' | b'<' | b'>' | b'"' | b'\'')
}

/// [`is_plain`] for every byte, so the scan for the end of a clean run is one load per byte.
const PLAIN: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        table[b] = is_plain(b as u8);
        b += 1;
    }
    table
};

/// Writes `text` escaped for element content: runs of plain ASCII are copied as they are,
/// every other character goes through [`escape_char`]; `unrepresentable` is called for each
/// character XML cannot carry (and decides what, if anything, is written for it).
fn escape_into(out: &mut String, text: &str, mut unrepresentable: impl FnMut(&mut String, char)) {
    let mut rest = text;
    while let Some(i) = rest.bytes().position(|b| !PLAIN[usize::from(b)]) {
        let (clean, tail) = rest.split_at(i);
        out.push_str(clean);
        let Some(c) = tail.chars().next() else {
            return;
        };
        if escape_char(out, c).is_err() {
            unrepresentable(out, c);
        }
        rest = &tail[c.len_utf8()..];
    }
    out.push_str(rest);
}

/// Escapes prose (an error message) for element content: a character XML cannot carry is
/// shown as a `\uXXXX` escape instead of failing (see the module docs).
pub fn escape_message(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    escape_into(&mut out, text, |out, c| {
        let _ = write!(out, "\\u{:04X}", u32::from(c));
    });
    out
}

/// A value that XML 1.0 cannot carry was about to be written into a response.
///
/// Names the element and the character, never the value: it may be a secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("element <{element}> would carry U+{code:04X}, which XML 1.0 cannot represent")]
pub struct Unrepresentable {
    /// The element whose text held the character.
    pub element: String,
    /// The character's code point.
    pub code: u32,
}

/// An XML fragment in which every text went through [`XmlBuilder::text`]: well-formed
/// and made of XML characters only.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct XmlFragment(String);

impl XmlFragment {
    /// The fragment's text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A small builder for the element tree of a `…Result`.
///
/// Text is always escaped; names are trusted (they are compile-time constants). The first
/// text that XML cannot carry poisons the builder (see the module docs).
#[derive(Debug, Default)]
pub struct XmlBuilder {
    out: String,
    poisoned: Option<Unrepresentable>,
}

impl XmlBuilder {
    /// An empty builder.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty builder with room for `capacity` bytes (an answer of known size is written
    /// without growing the buffer).
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            out: String::with_capacity(capacity),
            poisoned: None,
        }
    }

    /// `<name>escaped text</name>`.
    pub fn text(&mut self, name: &str, value: &str) -> &mut Self {
        self.open(name);
        let poisoned = &mut self.poisoned;
        escape_into(&mut self.out, value, |_, c| {
            if poisoned.is_none() {
                *poisoned = Some(Unrepresentable {
                    element: name.to_owned(),
                    code: u32::from(c),
                });
            }
        });
        self.close(name)
    }

    /// `<name>` (caller must [`close`](Self::close) it).
    pub fn open(&mut self, name: &str) -> &mut Self {
        self.out.push('<');
        self.out.push_str(name);
        self.out.push('>');
        self
    }

    /// `</name>`.
    pub fn close(&mut self, name: &str) -> &mut Self {
        self.out.push_str("</");
        self.out.push_str(name);
        self.out.push('>');
        self
    }

    /// Appends a fragment built (and checked) separately, e.g. one member of a list.
    pub fn fragment(&mut self, fragment: &XmlFragment) -> &mut Self {
        self.out.push_str(&fragment.0);
        self
    }

    /// The accumulated fragment, or the first value XML could not carry.
    pub fn finish(self) -> Result<XmlFragment, Unrepresentable> {
        match self.poisoned {
            None => Ok(XmlFragment(self.out)),
            Some(e) => Err(e),
        }
    }
}

/// A new request ID (a random UUID, as AWS uses). The bits come from `rand`'s thread-local
/// generator (as [`crate::ids`]), not `Uuid::new_v4`'s system call per ID.
pub fn new_request_id() -> String {
    let bytes: [u8; 16] = rand::random();
    let mut text = [0_u8; uuid::fmt::Hyphenated::LENGTH];
    uuid::Builder::from_random_bytes(bytes)
        .into_uuid()
        .hyphenated()
        .encode_lower(&mut text)
        .to_owned()
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
/// `action` is one of the server's own action names, `request_id` one of its UUIDs;
/// `result` comes from an [`XmlBuilder`]; pass `None` for actions whose
/// response has no `Result` element (IAM `DeleteRole` and friends).
pub fn success(
    action: &str,
    namespace: &str,
    result: Option<&XmlFragment>,
    request_id: &str,
) -> Response {
    let result = result.map(XmlFragment::as_str);
    let mut body = String::with_capacity(256 + result.map_or(0, str::len));
    let _ = write!(body, "<{action}Response xmlns=\"{namespace}\">");
    if let Some(result) = result {
        let _ = write!(body, "<{action}Result>{result}</{action}Result>");
    }
    let _ = write!(
        body,
        "<ResponseMetadata><RequestId>{}</RequestId></ResponseMetadata></{action}Response>",
        escape_message(request_id)
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

    /// `500 InternalFailure` (STS) for internal failures; generic like
    /// [`service_failure`](Self::service_failure).
    pub fn internal_failure() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "InternalFailure",
            "The request processing has failed because of an unknown error, exception or failure.",
        )
    }

    /// The XML error envelope with `RequestId` as a direct child of `ErrorResponse`. The
    /// message may quote input: characters XML cannot carry are shown escaped.
    pub fn to_response(&self, namespace: &str, request_id: &str) -> Response {
        let body = format!(
            "<ErrorResponse xmlns=\"{namespace}\"><Error><Type>{}</Type><Code>{}</Code><Message>{}</Message></Error><RequestId>{}</RequestId></ErrorResponse>",
            self.fault_type(),
            self.code,
            escape_message(&self.message),
            escape_message(request_id)
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
        let fragment = b.finish().expect("XML characters only");
        let response = success("GetRole", IAM_NAMESPACE, Some(&fragment), "rid");
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

    /// Parses `doc` with quick-xml (a peer parser, not this module's code): the texts of
    /// the leaf elements in document order, references resolved, or the parse error.
    fn parse(doc: &str) -> Result<Vec<(String, String)>, String> {
        use quick_xml::events::Event;
        let mut reader = quick_xml::Reader::from_str(doc);
        let mut stack: Vec<String> = Vec::new();
        let mut raw = String::new();
        let mut leaves = Vec::new();
        let mut roots = 0;
        loop {
            match reader.read_event().map_err(|e| e.to_string())? {
                Event::Start(e) => {
                    if stack.is_empty() {
                        roots += 1;
                    }
                    stack.push(String::from_utf8_lossy(e.name().as_ref()).into_owned());
                    raw.clear();
                }
                Event::End(_) => {
                    let name = stack.pop().ok_or("unbalanced end tag")?;
                    let text = quick_xml::escape::unescape(&raw).map_err(|e| e.to_string())?;
                    leaves.push((name, text.into_owned()));
                    raw.clear();
                }
                Event::Text(t) => raw.push_str(&t.decode().map_err(|e| e.to_string())?),
                Event::GeneralRef(r) => {
                    raw.push('&');
                    raw.push_str(&r.decode().map_err(|e| e.to_string())?);
                    raw.push(';');
                }
                Event::Eof => break,
                other => return Err(format!("unexpected {other:?}")),
            }
        }
        if !stack.is_empty() || roots != 1 {
            return Err(format!("not one closed root: {stack:?}, {roots} roots"));
        }
        Ok(leaves)
    }

    /// XML 1.0 forbids C0 controls other than tab, LF and CR, and U+FFFE/U+FFFF; a raw CR
    /// would not survive end-of-line normalisation. Written from the spec, independently
    /// of [`is_xml_char`].
    fn only_xml_characters(doc: &str) -> bool {
        !doc.bytes().any(|b| b < 0x20 && b != b'\t' && b != b'\n')
            && !doc.contains(['\u{fffe}', '\u{ffff}'])
    }

    fn text_strategy() -> impl proptest::strategy::Strategy<Value = String> {
        use proptest::prelude::*;
        let hostile = prop_oneof![
            prop::char::range('\0', '\u{20}'),
            Just('\u{7f}'),
            Just('\u{85}'),
            Just('\u{fffe}'),
            Just('\u{ffff}'),
            Just('\u{fffd}'),
            Just('\u{10ffff}'),
            prop::sample::select(vec!['&', '<', '>', '"', '\'', ';', '#', ']', '\r']),
            any::<char>(),
        ];
        prop::collection::vec(hostile, 0..24).prop_map(|cs| cs.into_iter().collect())
    }

    async fn body_of(response: Response) -> String {
        body_text(response).await
    }

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime")
    }

    proptest::proptest! {
        /// Every success body the builder lets out parses and carries the texts exactly;
        /// every text it refuses holds a character XML cannot carry.
        #[test]
        fn every_success_body_parses(a in text_strategy(), b in text_strategy()) {
            let mut builder = XmlBuilder::new();
            builder.open("Role").text("RoleName", &a).text("Description", &b).close("Role");
            let carryable = |s: &str| s.chars().all(is_xml_char);
            match builder.finish() {
                Ok(fragment) => {
                    proptest::prop_assert!(carryable(&a) && carryable(&b));
                    let body = runtime().block_on(body_of(success("GetRole", IAM_NAMESPACE, Some(&fragment), "rid")));
                    proptest::prop_assert!(only_xml_characters(&body), "{body:?}");
                    let leaves = parse(&body).map_err(proptest::test_runner::TestCaseError::fail)?;
                    proptest::prop_assert_eq!(&leaves[0], &("RoleName".to_owned(), a.clone()));
                    proptest::prop_assert_eq!(&leaves[1], &("Description".to_owned(), b.clone()));
                }
                Err(e) => {
                    proptest::prop_assert!(!carryable(&a) || !carryable(&b));
                    let first_bad = a.chars().chain(b.chars()).find(|c| !is_xml_char(*c));
                    proptest::prop_assert_eq!(Some(e.code), first_bad.map(u32::from));
                }
            }
        }

        /// Copying clean runs whole writes exactly what escaping character by character
        /// writes, and reports the same unrepresentable characters.
        #[test]
        fn runs_escape_like_single_characters(
            a in text_strategy(),
            plain in "[ -~\t\n]{0,60}",
            b in text_strategy(),
        ) {
            let text = format!("{a}{plain}{b}{plain}");
            let mut by_char = String::new();
            for c in text.chars() {
                if escape_char(&mut by_char, c).is_err() {
                    let _ = write!(by_char, "[{:X}]", u32::from(c));
                }
            }
            let mut by_run = String::new();
            escape_into(&mut by_run, &text, |out, c| {
                let _ = write!(out, "[{:X}]", u32::from(c));
            });
            proptest::prop_assert_eq!(by_run, by_char);
        }

        /// Every error envelope parses, whatever its message quotes; characters XML can
        /// carry come back as sent.
        #[test]
        fn every_error_envelope_parses(message in text_strategy()) {
            let error = AwsError::validation(message.clone());
            let body = runtime().block_on(body_of(error.to_response(STS_NAMESPACE, "rid")));
            proptest::prop_assert!(only_xml_characters(&body), "{body:?}");
            let leaves = parse(&body).map_err(proptest::test_runner::TestCaseError::fail)?;
            let shown = leaves.iter().find(|(n, _)| n == "Message").map(|(_, t)| t.clone());
            let expected: String = message
                .chars()
                .map(|c| if is_xml_char(c) { c.to_string() } else { format!("\\u{:04X}", u32::from(c)) })
                .collect();
            proptest::prop_assert_eq!(shown, Some(expected));
        }
    }

    #[test]
    fn builder_fails_closed_and_names_the_element_not_the_value() {
        for bad in ['\0', '\u{1}', '\u{1f}', '\u{fffe}', '\u{ffff}'] {
            let mut b = XmlBuilder::new();
            b.text("Arn", "fine")
                .text("Description", &format!("secret{bad}"));
            let err = b.finish().expect_err("unrepresentable");
            assert_eq!(err.element, "Description");
            assert_eq!(err.code, u32::from(bad));
            assert!(!err.to_string().contains("secret"), "{err}");
        }
    }

    #[test]
    fn carriage_returns_survive_as_references() {
        let mut b = XmlBuilder::new();
        b.text("Description", "a\r\nb\tc");
        let fragment = b.finish().expect("ok");
        assert_eq!(fragment.as_str(), "<Description>a&#xD;\nb\tc</Description>");
        let leaves = parse(fragment.as_str()).expect("parses");
        assert_eq!(leaves[0].1, "a\r\nb\tc");
    }

    #[tokio::test]
    async fn messages_show_unrepresentable_characters_escaped() {
        let error = AwsError::validation("Value 'a\0b\u{ffff}' at 'roleSessionName'");
        let body = body_text(error.to_response(STS_NAMESPACE, "rid")).await;
        assert!(
            body.contains(r"<Message>Value &apos;a\u0000b\uFFFF&apos; at &apos;roleSessionName&apos;</Message>"),
            "{body}"
        );
    }
}
