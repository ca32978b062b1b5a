//! Error answers: the status code and message for every HTTP status, with the server's own message and
//! correlation id, and advice for the call it belongs to.

use super::objects::{field, parse_json};
use super::transport::HttpAnswer;
use crate::error::Error;
use crate::status::Status;
use serde_json::Value;
use uuid::Uuid;

/// Longest server message kept in errors.
const MAX_SERVER_MESSAGE: usize = 512;

/// Which call an error answer belongs to; the advice differs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Operation {
    /// `POST /smartcards`.
    Assign,
    /// A GET.
    Lookup,
    /// `POST /requests`.
    CreateRequest,
    /// `PUT /requests/{id}` or `PUT /requests/{rid}/smartcards/{sid}`.
    SetStatus,
    /// `POST /requests/{id}/certificatedata`.
    CertificateData,
    /// A card secret: diversified admin key, authentication response, server-proposed PIN.
    CardSecret,
}

/// A short printable excerpt of a body for messages.
pub(crate) fn body_excerpt(body: &[u8]) -> String {
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
pub(crate) fn server_message(answer: &HttpAnswer) -> Option<String> {
    if answer.body.is_empty() {
        return None;
    }
    if let Ok(v) = parse_json(&answer.body) {
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
    if let Ok(v) = parse_json(&answer.body)
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

pub(crate) fn status_error(method: &str, url: &str, answer: &HttpAnswer, op: Operation) -> Error {
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
                Operation::CreateRequest => {
                    " Likely causes: the profile template's workflow policy for this request type is not enabled \
                     or does not let your account initiate it (AuthorizedInitiator, SelfServiceEnabled, enrollment \
                     agent rights), or the smart card is not in a state that allows this request type."
                }
                Operation::SetStatus => {
                    " Likely causes: the object is not in a state that allows this change (for a request: \
                     Completed needs Approved or Executing; a closed request cannot change), or your account \
                     lacks the CM permission for it."
                }
                Operation::CertificateData => {
                    " Likely causes: the request is not Approved or Executing, no card is bound to it, the \
                     number of certificate requests does not match the generation options, or the certificate \
                     data was already returned once."
                }
                Operation::CardSecret => {
                    " Likely causes: the profile template's smart card configuration does not allow it \
                     (admin key diversification or server-proposed PIN off), the card id does not match the \
                     smartcard bound to the request, or the request is not Approved or Executing."
                }
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
        HttpAnswer::for_test(status, ct, body)
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
}
