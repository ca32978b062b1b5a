//! The CM objects this client sends and reads, and their JSON: the assignment body, the 201 answer, the
//! smartcard and request objects. Parsing is lenient where CM is (PascalCase or not, a UTF-8 byte-order mark
//! before the JSON) and strict where a wrong value would mislead.

use super::answer::body_excerpt;
use super::transport::HttpAnswer;
use crate::atr::normalize_atr;
use crate::error::{Error, Result};
use crate::guid::normalize_guid;
use crate::status::Status;
use serde_json::Value;
use uuid::Uuid;

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
    /// Set when the server processed the binding but did not prove its identity (`AuthServerUnverified`).
    pub warning: Option<Error>,
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
    /// Set when the server's identity was not proven for this answer (`AuthServerUnverified`).
    pub warning: Option<Error>,
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
    /// Set when the server's identity was not proven for this answer (`AuthServerUnverified`).
    pub warning: Option<Error>,
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
    /// Set when the server's identity was not proven for one of the answers (`AuthServerUnverified`).
    pub warning: Option<Error>,
}

/// Parses a JSON body, ignoring a UTF-8 byte-order mark in front of it (RFC 8259 §8.1 allows a parser to;
/// ASP.NET stacks emit one under some configurations).
pub fn parse_json(body: &[u8]) -> serde_json::Result<Value> {
    serde_json::from_slice(body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body))
}

pub(crate) fn parse_created_body(url: &str, answer: &HttpAnswer) -> Result<AssignOutcome> {
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
    let uri = match serde_json::from_str::<Value>(text.strip_prefix('\u{FEFF}').unwrap_or(text)) {
        Ok(Value::String(s)) => s,
        Ok(other) => {
            return Err(malformed(format!(
                "the body is {} instead of a URI string",
                super::object::json_type(&other)
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
        warning: answer.warning.clone(),
    })
}

pub(crate) fn parse_json_body(url: &str, answer: &HttpAnswer) -> Result<Value> {
    parse_json(&answer.body).map_err(|e| {
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
pub(crate) fn field<'a>(v: &'a Value, name: &str) -> Option<&'a Value> {
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

pub(crate) fn smartcard_card_id(v: &Value) -> Option<Uuid> {
    let serial = field(v, "SerialNumber")?.as_str()?;
    Uuid::parse_str(serial.trim()).ok()
}

pub(crate) fn parse_smartcard(url: &str, json: Value) -> Result<Smartcard> {
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
        warning: None,
    })
}

pub(crate) fn parse_request(url: &str, json: Value) -> Result<CmRequest> {
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
        warning: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(status: u16, ct: &str, body: &str) -> HttpAnswer {
        HttpAnswer::for_test(status, ct, body)
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

    #[test]
    fn a_utf8_byte_order_mark_before_json_is_ignored_everywhere() {
        let bom = "\u{FEFF}";
        let created = answer(
            201,
            "application/json; charset=utf-8",
            &format!("{bom}\"api/v1.0/smartcards/17cf063d-e337-4aa9-a822-346554ddd3c9\""),
        );
        assert_eq!(
            parse_created_body("u", &created)
                .unwrap()
                .smartcard_uuid
                .unwrap()
                .to_string(),
            "17cf063d-e337-4aa9-a822-346554ddd3c9"
        );
        let get = answer(
            200,
            "application/json",
            &format!("{bom}{{\"Uuid\":\"17cf063d-e337-4aa9-a822-346554ddd3c9\"}}"),
        );
        let v = parse_json_body("u", &get).unwrap();
        assert!(parse_smartcard("u", v).is_ok());
        let err = answer(
            403,
            "application/json",
            &format!("{bom}{{\"Message\":\"nope\"}}"),
        );
        assert_eq!(
            super::super::answer::server_message(&err).as_deref(),
            Some("nope")
        );
        // Only a leading BOM: one inside or twice is still malformed.
        let twice = answer(200, "application/json", &format!("{bom}{bom}{{}}"));
        assert_eq!(
            parse_json_body("u", &twice).unwrap_err().status,
            Status::MalformedResponse
        );
    }
}
