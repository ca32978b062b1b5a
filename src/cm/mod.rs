//! The MIM CM REST client: bind a card to a request, and read back smartcards and requests to reconcile
//! an assignment whose outcome is unknown.

pub mod http;
pub mod url;

use crate::atr::normalize_atr;
use crate::error::{Error, Result};
use crate::guid::{normalize_guid, parse_guid};
use crate::status::Status;
use http::{HttpAnswer, Idempotency, Transport, TransportConfig};
use serde_json::Value;
use url::ServerUrl;
use uuid::Uuid;

/// Longest server message kept in errors.
const MAX_SERVER_MESSAGE: usize = 512;

/// What to bind: validated and normalized by [`Assignment::new`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assignment {
    /// The CM request id, lowercase hyphenated.
    pub request_id: String,
    /// The minidriver card id, lowercase hyphenated.
    pub card_id: String,
    /// The ATR as lowercase packed hex; `None` omits `atr` from the body (the docs leave open whether it is
    /// required, so sending it is the default).
    pub atr: Option<String>,
}

impl Assignment {
    /// Validates and normalizes: GUIDs in any common form, ATRs in any common notation.
    pub fn new(request_id: &str, card_id: &str, atr: Option<&str>) -> Result<Assignment> {
        Ok(Assignment {
            request_id: normalize_guid(request_id, "request id")?,
            card_id: normalize_guid(card_id, "card id")?,
            atr: match atr {
                Some(a) if !a.trim().is_empty() => Some(normalize_atr(a)?),
                _ => None,
            },
        })
    }

    /// The JSON body of `POST /smartcards`.
    pub fn to_json(&self) -> String {
        let mut body = serde_json::Map::new();
        body.insert("requestid".into(), Value::String(self.request_id.clone()));
        body.insert("cardid".into(), Value::String(self.card_id.clone()));
        if let Some(atr) = &self.atr {
            body.insert("atr".into(), Value::String(atr.clone()));
        }
        Value::Object(body).to_string()
    }
}

/// The server's answer to a successful binding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssignOutcome {
    /// 201 (the body named the new smartcard) or 204 (no body).
    pub http_status: u16,
    /// The smartcard URI exactly as returned, e.g. `api/v1.0/smartcards/<uuid>`; `None` for 204.
    pub smartcard_uri: Option<String>,
    /// The new CM smartcard uuid parsed from the URI; `None` for 204.
    pub smartcard_uuid: Option<Uuid>,
}

/// A CM smartcard object (`Microsoft.Clm.Shared.Smartcards.Smartcard`).
#[derive(Debug, Clone, PartialEq)]
pub struct Smartcard {
    /// CM's own id of the smartcard.
    pub uuid: Uuid,
    /// `SerialNumber` as the server sent it (for Base CSP cards the card id in braces).
    pub serial_number: String,
    /// The card id parsed from `SerialNumber`, when it is a GUID.
    pub card_id: Option<Uuid>,
    /// `Atr`.
    pub atr: String,
    /// `Status` (numeric; the enum's values are undocumented).
    pub status: i64,
    /// The whole object as JSON, for fields not modelled here.
    pub json: Value,
}

/// A CM request object (`Microsoft.Clm.Shared.Requests.Request`).
#[derive(Debug, Clone, PartialEq)]
pub struct CmRequest {
    /// The request id.
    pub uuid: Uuid,
    /// `Status` (numeric; the docs show 3 for a new approved request and 8 after Completed).
    pub status: i64,
    /// `NewSmartcardUuid`, `None` while it is the empty GUID (no card bound).
    pub new_smartcard_uuid: Option<Uuid>,
    /// The whole object as JSON.
    pub json: Value,
}

/// Where an assignment stands, as seen by [`CmClient::reconcile`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(i32)]
pub enum BindingState {
    /// No card is bound to the request: the assignment did not happen and may be sent again.
    NotBound = 0,
    /// This card is bound to the request: the assignment happened; do not send it again.
    BoundToThisCard = 1,
    /// Another card is bound to the request.
    BoundToOtherCard = 2,
}

/// The result of a reconciliation.
#[derive(Debug, Clone, PartialEq)]
pub struct Reconciliation {
    /// The state.
    pub state: BindingState,
    /// The smartcard bound to the request, when there is one.
    pub smartcard_uuid: Option<Uuid>,
    /// The request as read.
    pub request: CmRequest,
}

/// Connection settings for [`CmClient`].
#[derive(Debug, Clone)]
pub struct ConnectionConfig {
    /// Server URL: `https://host[/CertificateManagement]`.
    pub server_url: String,
    /// Transport: timeouts, trust, authentication.
    pub transport: TransportConfig,
}

/// A client for one logical call (or a short sequence of calls from one thread).
pub struct CmClient {
    server: ServerUrl,
    transport: Transport,
}

impl CmClient {
    /// Validates the URL and builds the transport.
    pub fn new(config: ConnectionConfig) -> Result<CmClient> {
        let server = ServerUrl::parse(&config.server_url)?;
        let transport = Transport::new(config.transport)?;
        Ok(CmClient { server, transport })
    }

    /// The normalized server URL.
    pub fn server(&self) -> &ServerUrl {
        &self.server
    }

    fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<&str>,
        idempotency: Idempotency,
    ) -> Result<(String, HttpAnswer)> {
        let url = self.server.api_url(path);
        let answer = self.transport.send(
            method,
            &url,
            &self.server.host,
            self.server.is_https,
            body,
            idempotency,
        )?;
        Ok((url, answer))
    }

    /// `POST /smartcards`: binds the card to the request. Sent at most once; never retried.
    pub fn assign_smartcard(&self, assignment: &Assignment) -> Result<AssignOutcome> {
        let body = assignment.to_json();
        let (url, answer) =
            self.call("POST", "/smartcards", Some(&body), Idempotency::AtMostOnce)?;
        match answer.status {
            201 => parse_created_body(&url, &answer),
            204 => Ok(AssignOutcome {
                http_status: 204,
                smartcard_uri: None,
                smartcard_uuid: None,
            }),
            200 => {
                // Not documented for this endpoint; accept the documented body shape if present.
                let mut outcome = parse_created_body(&url, &answer)?;
                outcome.http_status = 200;
                Ok(outcome)
            }
            _ => Err(status_error("POST", &url, &answer, Operation::Assign)),
        }
    }

    /// `GET /smartcards?cardid=`: the smartcard CM holds for this card id, if any.
    pub fn find_smartcard_by_card_id(&self, card_id: &str) -> Result<Option<Smartcard>> {
        let card_id = normalize_guid(card_id, "card id")?;
        let (url, answer) = self.call(
            "GET",
            &format!("/smartcards?cardid={card_id}"),
            None,
            Idempotency::Safe,
        )?;
        match answer.status {
            200 => {
                let value = parse_json_body(&url, &answer)?;
                // The docs show a single object; accept an array too and pick the matching card.
                let wanted = Uuid::parse_str(&card_id).ok();
                let object = match value {
                    Value::Array(items) => {
                        match items.into_iter().find(|v| smartcard_card_id(v) == wanted) {
                            Some(v) => v,
                            None => return Ok(None),
                        }
                    }
                    Value::Null => return Ok(None),
                    v => v,
                };
                parse_smartcard(&url, object).map(Some)
            }
            204 => Ok(None),
            _ => Err(status_error("GET", &url, &answer, Operation::Lookup)),
        }
    }

    /// `GET /smartcards/{uuid}`.
    pub fn get_smartcard(&self, smartcard_uuid: &str) -> Result<Option<Smartcard>> {
        let id = normalize_guid(smartcard_uuid, "smartcard uuid")?;
        let (url, answer) =
            self.call("GET", &format!("/smartcards/{id}"), None, Idempotency::Safe)?;
        match answer.status {
            200 => parse_smartcard(&url, parse_json_body(&url, &answer)?).map(Some),
            204 => Ok(None),
            _ => Err(status_error("GET", &url, &answer, Operation::Lookup)),
        }
    }

    /// `GET /requests/{id}`.
    pub fn get_request(&self, request_id: &str) -> Result<Option<CmRequest>> {
        let id = normalize_guid(request_id, "request id")?;
        let (url, answer) =
            self.call("GET", &format!("/requests/{id}"), None, Idempotency::Safe)?;
        match answer.status {
            200 => parse_request(&url, parse_json_body(&url, &answer)?).map(Some),
            204 => Ok(None),
            _ => Err(status_error("GET", &url, &answer, Operation::Lookup)),
        }
    }

    /// Learns whether an assignment took effect: reads the request's `NewSmartcardUuid`, then that
    /// smartcard's `SerialNumber`, and compares it with the card id.
    pub fn reconcile(&self, assignment: &Assignment) -> Result<Reconciliation> {
        let request = self.get_request(&assignment.request_id)?.ok_or_else(|| {
            Error::new(
                Status::HttpForbidden,
                format!(
                    "CM does not know request {} (GET answered 204 No Content)",
                    assignment.request_id
                ),
            )
            .with_http_status(204)
        })?;
        let Some(bound) = request.new_smartcard_uuid else {
            return Ok(Reconciliation {
                state: BindingState::NotBound,
                smartcard_uuid: None,
                request,
            });
        };
        let wanted = parse_guid(&assignment.card_id, "card id")?;
        let state = match self.get_smartcard(&bound.to_string())? {
            Some(card) if card.card_id == Some(wanted) => BindingState::BoundToThisCard,
            Some(_) => BindingState::BoundToOtherCard,
            // The request names a smartcard CM cannot show: report it bound, to another card we cannot see.
            None => BindingState::BoundToOtherCard,
        };
        Ok(Reconciliation {
            state,
            smartcard_uuid: Some(bound),
            request,
        })
    }
}

/// Which call an error answer belongs to; the advice differs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Operation {
    Assign,
    Lookup,
}

fn parse_created_body(url: &str, answer: &HttpAnswer) -> Result<AssignOutcome> {
    let malformed = |why: String| {
        Error::new(
            Status::MalformedResponse,
            format!(
                "POST {url} answered HTTP {} (the card is most likely bound) but {why}. Use \
                 cm_reconcile_assignment() or cm_find_smartcard() to read the result; do not send it again",
                answer.status
            ),
        )
        .with_http_status(answer.status)
        .with_server_message(Some(body_excerpt(&answer.body)))
    };
    let text =
        std::str::from_utf8(&answer.body).map_err(|_| malformed("the body is not UTF-8".into()))?;
    let uri = match serde_json::from_str::<Value>(text) {
        Ok(Value::String(s)) => s,
        Ok(other) => {
            return Err(malformed(format!(
                "the body is JSON {} instead of a URI string",
                json_kind(&other)
            )));
        }
        Err(_) => {
            let ct = answer.content_type.as_deref().unwrap_or("none");
            return Err(malformed(format!(
                "the body is not JSON (Content-Type: {ct})"
            )));
        }
    };
    let last = uri.trim_end_matches('/').rsplit('/').next().unwrap_or("");
    let uuid = Uuid::parse_str(last).map_err(|_| {
        malformed(format!(
            "the URI '{}' does not end in a smartcard uuid",
            crate::guid::printable(&uri)
        ))
    })?;
    if !uri.to_ascii_lowercase().contains("smartcards/") {
        return Err(malformed(format!(
            "the URI '{}' is not a smartcards URI",
            crate::guid::printable(&uri)
        )));
    }
    Ok(AssignOutcome {
        http_status: answer.status,
        smartcard_uri: Some(uri),
        smartcard_uuid: Some(uuid),
    })
}

fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn parse_json_body(url: &str, answer: &HttpAnswer) -> Result<Value> {
    serde_json::from_slice(&answer.body).map_err(|e| {
        Error::new(
            Status::MalformedResponse,
            format!(
                "GET {url} answered HTTP {} with a body that is not JSON (Content-Type: {}): {e}",
                answer.status,
                answer.content_type.as_deref().unwrap_or("none")
            ),
        )
        .with_http_status(answer.status)
        .with_server_message(Some(body_excerpt(&answer.body)))
    })
}

/// Case-insensitive property lookup (CM uses PascalCase; be lenient).
fn field<'a>(v: &'a Value, name: &str) -> Option<&'a Value> {
    v.as_object()?
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v)
}

fn field_uuid(v: &Value, name: &str) -> Option<Uuid> {
    field(v, name)?
        .as_str()
        .and_then(|s| Uuid::parse_str(s.trim()).ok())
}

fn smartcard_card_id(v: &Value) -> Option<Uuid> {
    let serial = field(v, "SerialNumber")?.as_str()?;
    Uuid::parse_str(serial.trim()).ok()
}

fn parse_smartcard(url: &str, json: Value) -> Result<Smartcard> {
    let uuid = field_uuid(&json, "Uuid").ok_or_else(|| {
        Error::new(
            Status::MalformedResponse,
            format!("GET {url}: the smartcard object has no valid Uuid"),
        )
        .with_http_status(200)
    })?;
    Ok(Smartcard {
        uuid,
        serial_number: field(&json, "SerialNumber")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string(),
        card_id: smartcard_card_id(&json),
        atr: field(&json, "Atr")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string(),
        status: field(&json, "Status").and_then(Value::as_i64).unwrap_or(-1),
        json,
    })
}

fn parse_request(url: &str, json: Value) -> Result<CmRequest> {
    let uuid = field_uuid(&json, "Uuid").ok_or_else(|| {
        Error::new(
            Status::MalformedResponse,
            format!("GET {url}: the request object has no valid Uuid"),
        )
        .with_http_status(200)
    })?;
    Ok(CmRequest {
        uuid,
        status: field(&json, "Status").and_then(Value::as_i64).unwrap_or(-1),
        new_smartcard_uuid: field_uuid(&json, "NewSmartcardUuid").filter(|u| !u.is_nil()),
        json,
    })
}

/// A short printable excerpt of a body for messages.
fn body_excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let clean: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let clean = clean.split_whitespace().collect::<Vec<_>>().join(" ");
    if clean.chars().count() > MAX_SERVER_MESSAGE {
        let mut cut: String = clean.chars().take(MAX_SERVER_MESSAGE).collect();
        cut.push('…');
        cut
    } else {
        clean
    }
}

/// The server's message: `Message`-like JSON fields, else the body text.
fn server_message(answer: &HttpAnswer) -> Option<String> {
    if answer.body.is_empty() {
        return None;
    }
    if let Ok(v) = serde_json::from_slice::<Value>(&answer.body) {
        if let Value::String(s) = &v {
            return Some(body_excerpt(s.as_bytes()));
        }
        let mut parts = Vec::new();
        for key in [
            "Message",
            "ExceptionMessage",
            "error_description",
            "error",
            "MessageDetail",
        ] {
            if let Some(Value::String(s)) = field(&v, key) {
                parts.push(s.clone());
            }
        }
        if !parts.is_empty() {
            return Some(body_excerpt(parts.join(" — ").as_bytes()));
        }
    }
    let looks_html = answer
        .content_type
        .as_deref()
        .is_some_and(|c| c.contains("html"));
    let text = String::from_utf8_lossy(&answer.body);
    if looks_html {
        // Keep the <title> of an IIS error page, not the markup.
        if let (Some(a), Some(b)) = (text.find("<title>"), text.find("</title>"))
            && a + 7 <= b
        {
            return Some(body_excerpt(text[a + 7..b].as_bytes()));
        }
    }
    Some(body_excerpt(&answer.body))
}

/// The correlation id of a 500 answer: a JSON field whose name mentions "correlation", else the GUID that
/// follows the word "correlation" in the message (the docs say it is "sent … in the error message").
fn correlation_id(answer: &HttpAnswer) -> Option<String> {
    if let Ok(v) = serde_json::from_slice::<Value>(&answer.body)
        && let Some(obj) = v.as_object()
    {
        for (k, val) in obj {
            if k.to_ascii_lowercase().contains("correlation")
                && let Some(s) = val.as_str()
            {
                return Some(s.trim().to_string());
            }
        }
    }
    let text = String::from_utf8_lossy(&answer.body);
    let lower = text.to_ascii_lowercase();
    let start = lower.find("correlation")?;
    first_guid(&text[start..])
}

fn first_guid(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    (0..bytes.len()).find_map(|i| {
        let candidate = text.get(i..i + 36)?;
        Uuid::parse_str(candidate)
            .ok()
            .filter(|_| candidate.as_bytes()[8] == b'-')
            .map(|u| u.hyphenated().to_string())
    })
}

fn status_error(method: &str, url: &str, answer: &HttpAnswer, op: Operation) -> Error {
    let status = answer.status;
    let message = server_message(answer);
    let said = message
        .as_deref()
        .map(|m| format!(" The server said: \"{m}\"."))
        .unwrap_or_default();
    let (code, text) = match status {
        300..=399 => (
            Status::RedirectRefused,
            format!(
                "{method} {url}: the server answered HTTP {status} redirecting to '{}'. Redirects are not followed \
                 (credentials must not leak); set the server URL to the final address.",
                answer.location.as_deref().unwrap_or("?")
            ),
        ),
        400 => (
            Status::HttpBadRequest,
            format!("{method} {url}: HTTP 400 Bad Request: the server rejected the request.{said}"),
        ),
        403 => {
            let advice = match op {
                Operation::Assign => {
                    " Likely causes: the request is not Approved or Executing (check it with cm_get_request()), \
                     the request already has a card or this card is already bound (check with \
                     cm_reconcile_assignment() / cm_find_smartcard()), or your account lacks CM permissions on the \
                     profile template (enroll / enrollment-agent rights, workflow policy)."
                }
                Operation::Lookup => " Your account may lack CM permissions to read this object.",
            };
            (
                Status::HttpForbidden,
                format!("{method} {url}: HTTP 403 Forbidden.{said}{advice}"),
            )
        }
        404 => (
            Status::HttpNotFound,
            format!(
                "{method} {url}: HTTP 404 Not Found. The CM REST API is disabled by default: set \
                 <add key=\"Clm.WebApi.Enabled\" value=\"true\" /> in the CM web.config and run iisreset. \
                 Otherwise the server URL is wrong (expected https://<server>/CertificateManagement).{said}"
            ),
        ),
        500..=599 => {
            let corr = correlation_id(answer);
            let corr_text = corr
                .as_deref()
                .map(|c| format!(" Correlation ID {c}: give it to the CM administrator; it identifies the event-log and CM trace entry."))
                .unwrap_or_default();
            return Error::new(
                Status::HttpServerError,
                format!("{method} {url}: HTTP {status} server error.{said}{corr_text}"),
            )
            .with_http_status(status)
            .with_server_message(message)
            .with_correlation_id(corr);
        }
        _ => (
            Status::HttpUnexpectedStatus,
            format!("{method} {url}: unexpected HTTP {status}.{said}"),
        ),
    };
    Error::new(code, text)
        .with_http_status(status)
        .with_server_message(message)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(status: u16, ct: &str, body: &str) -> HttpAnswer {
        HttpAnswer {
            status,
            content_type: Some(ct.into()),
            location: None,
            body: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn assignment_normalizes_and_serializes() {
        let a = Assignment::new(
            "{A9B4B42C-CC50-4C9B-89D1-BBC0BCD5A099}",
            "BC88F13F83BA4037826246EBA1291C6E",
            Some("3B 8D 01 80 FB A0 00 00 03 97 42 54 46 59 03 01 C8"),
        )
        .unwrap();
        let v: Value = serde_json::from_str(&a.to_json()).unwrap();
        assert_eq!(v["requestid"], "a9b4b42c-cc50-4c9b-89d1-bbc0bcd5a099");
        assert_eq!(v["cardid"], "bc88f13f-83ba-4037-8262-46eba1291c6e");
        assert_eq!(v["atr"], "3b8d0180fba000000397425446590301c8");
        let no_atr = Assignment::new(
            "a9b4b42c-cc50-4c9b-89d1-bbc0bcd5a099",
            "bc88f13f-83ba-4037-8262-46eba1291c6e",
            None,
        )
        .unwrap();
        assert!(!no_atr.to_json().contains("atr"));
        assert_eq!(
            Assignment::new("x", "bc88f13f-83ba-4037-8262-46eba1291c6e", None)
                .unwrap_err()
                .status,
            Status::InvalidGuid
        );
        assert_eq!(
            Assignment::new(
                "a9b4b42c-cc50-4c9b-89d1-bbc0bcd5a099",
                "bc88f13f-83ba-4037-8262-46eba1291c6e",
                Some("3b")
            )
            .unwrap_err()
            .status,
            Status::InvalidAtr
        );
    }

    #[test]
    fn created_body_is_parsed() {
        let ok = parse_created_body(
            "u",
            &answer(
                201,
                "application/json",
                "\"api/v1.0/smartcards/17cf063d-e337-4aa9-a822-346554ddd3c9\"",
            ),
        )
        .unwrap();
        assert_eq!(
            ok.smartcard_uri.as_deref(),
            Some("api/v1.0/smartcards/17cf063d-e337-4aa9-a822-346554ddd3c9")
        );
        assert_eq!(
            ok.smartcard_uuid.unwrap().to_string(),
            "17cf063d-e337-4aa9-a822-346554ddd3c9"
        );
        for body in [
            "<html>ok</html>",
            "{\"Uuid\":\"x\"}",
            "\"api/v1.0/smartcards/nope\"",
            "\"api/v1.0/requests/17cf063d-e337-4aa9-a822-346554ddd3c9\"",
        ] {
            let err = parse_created_body("u", &answer(201, "text/html", body)).unwrap_err();
            assert_eq!(err.status, Status::MalformedResponse, "{body}");
            assert_eq!(err.http_status, 201);
            assert!(err.message.contains("most likely bound"), "{}", err.message);
        }
    }

    #[test]
    fn every_error_status_maps_to_its_code_with_advice() {
        let cases = [
            (302, Status::RedirectRefused, "Redirects are not followed"),
            (400, Status::HttpBadRequest, "Bad Request"),
            (403, Status::HttpForbidden, "Approved or Executing"),
            (404, Status::HttpNotFound, "Clm.WebApi.Enabled"),
            (500, Status::HttpServerError, "server error"),
            (503, Status::HttpServerError, "server error"),
            (418, Status::HttpUnexpectedStatus, "unexpected HTTP 418"),
        ];
        for (status, code, needle) in cases {
            let err = status_error(
                "POST",
                "u",
                &answer(status, "application/json", "{\"Message\":\"nope\"}"),
                Operation::Assign,
            );
            assert_eq!(err.status, code, "{status}");
            assert_eq!(err.http_status, status);
            assert!(err.message.contains(needle), "{status}: {}", err.message);
            assert_eq!(err.server_message.as_deref(), Some("nope"));
        }
    }

    #[test]
    fn correlation_id_is_found_in_field_or_text() {
        let field_form = answer(
            500,
            "application/json",
            "{\"Message\":\"x\",\"CorrelationId\":\"5f0c1d2e-0000-4000-8000-000000000001\"}",
        );
        assert_eq!(
            correlation_id(&field_form).as_deref(),
            Some("5f0c1d2e-0000-4000-8000-000000000001")
        );
        let text_form = answer(
            500,
            "application/json",
            "{\"Message\":\"An error has occurred. Correlation ID: 5F0C1D2E-0000-4000-8000-000000000002.\"}",
        );
        let err = status_error("POST", "u", &text_form, Operation::Assign);
        assert_eq!(
            err.correlation_id.as_deref(),
            Some("5f0c1d2e-0000-4000-8000-000000000002")
        );
        assert!(err.message.contains("5f0c1d2e-0000-4000-8000-000000000002"));
        assert_eq!(correlation_id(&answer(500, "text/plain", "boom")), None);
    }

    #[test]
    fn html_error_pages_are_summarized_by_title() {
        let a = answer(
            401,
            "text/html",
            "<html><head><title>401 - Unauthorized: Access is denied</title></head><body>long</body></html>",
        );
        assert_eq!(
            server_message(&a).as_deref(),
            Some("401 - Unauthorized: Access is denied")
        );
        let long = answer(500, "text/plain", &"x".repeat(2000));
        assert_eq!(
            server_message(&long).unwrap().chars().count(),
            MAX_SERVER_MESSAGE + 1
        );
    }

    #[test]
    fn request_and_smartcard_objects_are_parsed() {
        let r = parse_request("u", serde_json::json!({"Uuid":"a9b4b42c-cc50-4c9b-89d1-bbc0bcd5a099","Status":3,"NewSmartcardUuid":"00000000-0000-0000-0000-000000000000"})).unwrap();
        assert_eq!(r.status, 3);
        assert_eq!(r.new_smartcard_uuid, None);
        let s = parse_smartcard("u", serde_json::json!({"Uuid":"17cf063d-e337-4aa9-a822-346554ddd3c9","SerialNumber":"{bc88f13f-83ba-4037-8262-46eba1291c6e}","Atr":"3b","Status":2})).unwrap();
        assert_eq!(
            s.card_id.unwrap().to_string(),
            "bc88f13f-83ba-4037-8262-46eba1291c6e"
        );
        assert_eq!(
            parse_smartcard("u", serde_json::json!({"SerialNumber":"x"}))
                .unwrap_err()
                .status,
            Status::MalformedResponse
        );
    }
}
