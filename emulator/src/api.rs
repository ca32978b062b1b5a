//! The emulated CM REST API routes (`/CertificateManagement/api/v1.0/...`).

use crate::RequestStatus;
use crate::http::{HTML, Head, Response, query_param};
use crate::state::{SmartcardRec, State, ordered_array, ordered_json, parse_guid};
use serde_json::{Map, Value};
use uuid::Uuid;

/// The API prefix, lowercase (matched case-insensitively).
pub(crate) const PREFIX: &str = "/certificatemanagement/api/v1.0";

/// IIS-like 404 page, used for URLs outside the API and for every URL while the API is disabled.
pub(crate) fn iis_404() -> Response {
    Response::new(
        404,
        HTML,
        "<!DOCTYPE html PUBLIC \"-//W3C//DTD XHTML 1.0 Strict//EN\" \"http://www.w3.org/TR/xhtml1/DTD/xhtml1-strict.dtd\">\r\n\
<html xmlns=\"http://www.w3.org/1999/xhtml\">\r\n<head>\r\n<title>404 - File or directory not found.</title>\r\n</head>\r\n\
<body>\r\n<div id=\"header\"><h1>Server Error</h1></div>\r\n<div id=\"content\">\r\n<fieldset>\r\n\
<h2>404 - File or directory not found.</h2>\r\n\
<h3>The resource you are looking for might have been removed, had its name changed, or is temporarily unavailable.</h3>\r\n\
</fieldset></div>\r\n</body>\r\n</html>\r\n",
    )
}

fn not_allowed(method: &str, allow: &str) -> Response {
    Response::message(
        405,
        &format!("The requested resource does not support http method '{method}'."),
    )
    .with_header("Allow", allow)
}

fn invalid() -> Response {
    Response::message(400, "The request is invalid.")
}

fn decode_segment(s: &str) -> String {
    crate::fault::percent_decode(s)
}

/// Handles a CM API request (faults already dealt with by the caller).
pub(crate) fn handle(state: &mut State, head: &Head, body: &[u8]) -> Response {
    let path = head.path();
    let lower = path.to_ascii_lowercase();
    let rest = if lower == PREFIX {
        ""
    } else if lower.starts_with(PREFIX) && lower.as_bytes()[PREFIX.len()] == b'/' {
        &path[PREFIX.len() + 1..]
    } else {
        return iis_404();
    };
    if state.api_disabled {
        return iis_404();
    }
    let segs: Vec<String> = rest
        .split('/')
        .filter(|s| !s.is_empty())
        .map(decode_segment)
        .collect();
    let seg = |i: usize| segs.get(i).map(|s| s.to_ascii_lowercase());
    let method = head.method.as_str();
    match (segs.len(), seg(0).as_deref()) {
        (1, Some("smartcards")) => match method {
            "GET" => get_smartcards(state, head.query()),
            "POST" => match json_body(head, body) {
                Ok(v) => bind(state, &v),
                Err(r) => r,
            },
            _ => not_allowed(method, "GET, POST"),
        },
        (2, Some("smartcards")) => match method {
            "GET" => match parse_guid(&segs[1]) {
                None => invalid(),
                Some(id) => match state.smartcard(id) {
                    Some(sc) => Response::json(200, ordered_json(&sc.fields())),
                    None => Response::empty(204),
                },
            },
            _ => not_allowed(method, "GET"),
        },
        (1, Some("requests")) => match method {
            "GET" => list_requests(state, head.query()),
            _ => not_allowed(method, "GET"),
        },
        (2, Some("requests")) => {
            let Some(id) = parse_guid(&segs[1]) else {
                return if matches!(method, "GET" | "PUT") {
                    invalid()
                } else {
                    not_allowed(method, "GET, PUT")
                };
            };
            match method {
                "GET" => match state.request(id) {
                    Some(r) => Response::json(200, ordered_json(&r.fields())),
                    None => Response::empty(204),
                },
                "PUT" => match json_body(head, body) {
                    Ok(v) => put_request(state, id, &v),
                    Err(r) => r,
                },
                _ => not_allowed(method, "GET, PUT"),
            }
        }
        _ => Response::message(
            404,
            &format!(
                "No HTTP resource was found that matches the request URI 'http://{}{}'.",
                head.header("host").unwrap_or("localhost"),
                head.target
            ),
        ),
    }
}

/// Parses a JSON request body, checking the media type like ASP.NET Web API does (415 otherwise).
fn json_body(head: &Head, body: &[u8]) -> Result<Value, Response> {
    let ct = head.header("content-type").unwrap_or("");
    let media = ct
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if media != "application/json" && media != "text/json" {
        let shown = if ct.is_empty() {
            "application/octet-stream"
        } else {
            ct
        };
        return Err(Response::message(
            415,
            &format!(
                "The request entity's media type '{shown}' is not supported for this resource."
            ),
        ));
    }
    let body = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
    serde_json::from_slice::<Value>(body)
        .map_err(|e| Response::message(400, &format!("The request is invalid. {e}")))
}

/// Case-insensitive property lookup (ASP.NET model binding ignores case). `null` counts as absent.
fn prop<'a>(obj: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    obj.iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v)
        .filter(|v| !v.is_null())
}

fn guid_prop(obj: &Map<String, Value>, name: &str) -> Result<Uuid, Response> {
    match prop(obj, name) {
        None => Err(Response::message(
            400,
            &format!("The request is invalid. Missing '{name}'."),
        )),
        Some(Value::String(s)) => parse_guid(s).ok_or_else(|| {
            Response::message(
                400,
                &format!("The request is invalid. '{name}' is not a GUID."),
            )
        }),
        Some(_) => Err(Response::message(
            400,
            &format!("The request is invalid. '{name}' must be a string."),
        )),
    }
}

/// POST /smartcards: bind a card to a request.
fn bind(state: &mut State, v: &Value) -> Response {
    let Some(obj) = v.as_object() else {
        return invalid();
    };
    let request_id = match guid_prop(obj, "requestid") {
        Ok(u) => u,
        Err(r) => return r,
    };
    let card_id = match guid_prop(obj, "cardid") {
        Ok(u) => u,
        Err(r) => return r,
    };
    let atr = match prop(obj, "atr") {
        None => String::new(),
        Some(Value::String(s)) => s.to_ascii_lowercase(),
        Some(_) => {
            return Response::message(400, "The request is invalid. 'atr' must be a string.");
        }
    };
    let Some(req) = state.request(request_id) else {
        return Response::message(
            403,
            &format!("Request {request_id} does not exist or you do not have access to it."),
        );
    };
    if !matches!(
        req.status,
        RequestStatus::Approved | RequestStatus::Executing
    ) {
        return Response::message(
            403,
            &format!(
                "Request {request_id} is {}; it must be Approved or Executing.",
                req.status.name()
            ),
        );
    }
    if let Some(sc) = req.new_smartcard {
        return Response::message(
            403,
            &format!("Request {request_id} already has smart card {sc} bound."),
        );
    }
    if let Some(sc) = state.smartcard_by_card(card_id) {
        return Response::message(
            403,
            &format!(
                "The smart card {{{card_id}}} is already registered (smart card {}).",
                sc.uuid
            ),
        );
    }
    let sc = SmartcardRec {
        uuid: Uuid::new_v4(),
        card_id,
        atr,
        assigned_user: req.target_user,
        profile_template: req.profile_template,
    };
    let uuid = sc.uuid;
    state.smartcards.push(sc);
    if let Some(r) = state.request_mut(request_id) {
        r.new_smartcard = Some(uuid);
    }
    Response::json(
        201,
        Value::String(format!("api/v1.0/smartcards/{uuid}")).to_string(),
    )
}

/// GET /smartcards[?cardid=X].
fn get_smartcards(state: &State, query: &str) -> Response {
    match query_param(query, "cardid") {
        Some(c) => match parse_guid(&c) {
            None => invalid(),
            Some(card) => match state.smartcard_by_card(card) {
                Some(sc) => Response::json(200, ordered_json(&sc.fields())),
                None => Response::empty(204),
            },
        },
        None => Response::json(
            200,
            ordered_array(state.smartcards.iter().map(|s| ordered_json(&s.fields()))),
        ),
    }
}

/// GET /requests[?status=Name][&targetuser=current].
fn list_requests(state: &State, query: &str) -> Response {
    let filter = match query_param(query, "status") {
        None => None,
        Some(s) if s.is_empty() => None,
        Some(s) => match RequestStatus::from_name(&s) {
            Some(st) => Some(st),
            None => return invalid(),
        },
    };
    let items = state
        .requests
        .iter()
        .filter(|r| filter.is_none_or(|f| r.status == f));
    Response::json(200, ordered_array(items.map(|r| ordered_json(&r.fields()))))
}

/// PUT /requests/{id} `{"status":"Completed"|"Canceled"|"Abandoned"}`.
fn put_request(state: &mut State, id: Uuid, v: &Value) -> Response {
    let Some(obj) = v.as_object() else {
        return invalid();
    };
    let status = match prop(obj, "status") {
        Some(Value::String(s)) => RequestStatus::from_name(s),
        _ => None,
    };
    let Some(status) = status.filter(|s| {
        matches!(
            s,
            RequestStatus::Completed | RequestStatus::Canceled | RequestStatus::Abandoned
        )
    }) else {
        return Response::message(
            400,
            "The request is invalid. 'status' must be Completed, Canceled or Abandoned.",
        );
    };
    let Some(req) = state.request_mut(id) else {
        return Response::message(
            403,
            &format!("Request {id} does not exist or you do not have access to it."),
        );
    };
    let allowed = match status {
        RequestStatus::Completed => matches!(
            req.status,
            RequestStatus::Approved | RequestStatus::Executing
        ),
        _ => !req.status.is_final(),
    };
    if !allowed {
        return Response::message(
            403,
            &format!(
                "Request {id} is {}; it cannot be set to {}.",
                req.status.name(),
                status.name()
            ),
        );
    }
    req.status = status;
    req.completed = Some(crate::state::iso_now());
    Response::json(200, ordered_json(&req.fields()))
}
