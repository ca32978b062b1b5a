//! Control endpoints under `/_emulator/` for out-of-process tests. Never faulted, never logged,
//! available while the API is disabled.

use crate::fault::Fault;
use crate::http::{Head, Response, query_param};
use crate::server::Shared;
use crate::state::{ordered_array, ordered_json, parse_guid};
use crate::{LoggedRequest, RequestStatus};
use serde_json::{Value, json};
use std::sync::atomic::Ordering;
use uuid::Uuid;

pub(crate) const PREFIX: &str = "/_emulator/";

pub(crate) fn is_control(path: &str) -> bool {
    let lower = path.to_ascii_lowercase();
    lower.starts_with(PREFIX) || lower == "/_emulator"
}

fn bad(msg: &str) -> Response {
    Response::message(400, msg)
}

fn parse_body(body: &[u8]) -> Result<Value, Response> {
    serde_json::from_slice(body).map_err(|e| bad(&format!("Body is not JSON: {e}")))
}

/// JSON form of a logged request, with Authorization values already redacted.
pub(crate) fn log_entry_json(l: &LoggedRequest) -> Value {
    json!({
        "connection_id": l.connection_id,
        "method": l.method,
        "path": l.path,
        "headers": l.headers.iter().map(|(n, v)| json!([n, v])).collect::<Vec<_>>(),
        "body": String::from_utf8_lossy(&l.body),
        "fault": l.fault,
    })
}

pub(crate) fn handle(shared: &Shared, head: &Head, body: &[u8]) -> Response {
    let path = head.path().to_ascii_lowercase();
    let route = path.trim_start_matches("/_emulator").trim_matches('/');
    let m = head.method.as_str();
    if let Some(r) = request_action(shared, m, route) {
        return r;
    }
    match (m, route) {
        ("POST", "requests") => {
            let v = match parse_body(body) {
                Ok(v) => v,
                Err(r) => return r,
            };
            let Some(obj) = v.as_object() else {
                return bad("Expected {\"uuid\":\"...\",\"status\":\"Approved\"}");
            };
            let field = |k: &str| {
                obj.iter()
                    .find(|(n, _)| n.eq_ignore_ascii_case(k))
                    .map(|(_, v)| v)
            };
            let uuid = match field("uuid") {
                None | Some(Value::Null) => Uuid::new_v4(),
                Some(Value::String(s)) => match parse_guid(s) {
                    Some(u) => u,
                    None => return bad("\"uuid\" is not a GUID"),
                },
                Some(_) => return bad("\"uuid\" must be a string"),
            };
            let status = match field("status") {
                None | Some(Value::Null) => RequestStatus::Approved,
                Some(Value::String(s)) => match RequestStatus::from_name(s) {
                    Some(st) => st,
                    None => return bad("unknown \"status\""),
                },
                Some(_) => return bad("\"status\" must be a request status name"),
            };
            let mut st = shared.lock();
            let rec = st.upsert_request(uuid, status);
            Response::json(201, ordered_json(&rec.fields()))
        }
        ("GET", "requests") => {
            let st = shared.lock();
            Response::json(
                200,
                ordered_array(st.requests.iter().map(|r| ordered_json(&r.fields()))),
            )
        }
        ("GET", "smartcards") => {
            let st = shared.lock();
            Response::json(
                200,
                ordered_array(st.smartcards.iter().map(|s| ordered_json(&s.fields()))),
            )
        }
        ("POST", "faults") => {
            let v = match parse_body(body) {
                Ok(v) => v,
                Err(r) => return r,
            };
            let items = match v {
                Value::Array(a) => a,
                other => vec![other],
            };
            let mut faults = Vec::new();
            for item in &items {
                match Fault::from_json(item) {
                    Ok(f) => faults.push(f),
                    Err(e) => return bad(&e),
                }
            }
            shared.lock().faults.extend(faults);
            Response::empty(204)
        }
        ("DELETE", "faults") => {
            shared.lock().faults.clear();
            Response::empty(204)
        }
        ("POST", "api-disabled") => {
            let text = String::from_utf8_lossy(body)
                .trim()
                .trim_matches('"')
                .to_ascii_lowercase();
            let disabled = match text.as_str() {
                "true" | "1" => true,
                "false" | "0" => false,
                _ => return bad("Body must be true or false"),
            };
            shared.lock().api_disabled = disabled;
            Response::empty(204)
        }
        ("GET", "api-disabled") => Response::json(200, shared.lock().api_disabled.to_string()),
        ("GET", "log") => {
            let st = shared.lock();
            Response::json(
                200,
                Value::Array(st.log.iter().map(log_entry_json).collect()).to_string(),
            )
        }
        ("DELETE", "log") => {
            shared.lock().log.clear();
            Response::empty(204)
        }
        ("GET", "count") => {
            let method = query_param(head.query(), "method").unwrap_or_default();
            let p = query_param(head.query(), "path").unwrap_or_default();
            let n = shared.count(&method, &p);
            Response::json(200, json!({ "count": n }).to_string())
        }
        ("GET", "ca.pem") => {
            Response::new(200, "application/x-pem-file", shared.lock().pki.ca_pem())
        }
        ("GET", "templates") => {
            let st = shared.lock();
            let items = st.templates.iter().map(|t| {
                let mut f = t.limited_view();
                f.push((
                    "EnabledPolicies",
                    Value::from(
                        t.policies
                            .iter()
                            .map(|p| json!({"Type": p.request_type.policy_name(), "ApprovalsNeeded": p.approvals_needed}))
                            .collect::<Vec<_>>(),
                    ),
                ));
                f.push((
                    "SmartcardConfiguration",
                    t.smartcard_config_fields()
                        .map_or(Value::Null, crate::state::to_value),
                ));
                f.push(("CertificateRequests", Value::from(t.csr_items.len())));
                f.push(("ServerGeneratedKeys", Value::from(t.server_key_items.len())));
                ordered_json(&f)
            });
            Response::json(200, ordered_array(items))
        }
        ("POST", "smartcards") => {
            let v = match parse_body(body) {
                Ok(v) => v,
                Err(r) => return r,
            };
            let field = |k: &str| v.get(k).and_then(Value::as_str);
            let Some(card_id) = field("cardid").and_then(parse_guid) else {
                return bad(
                    "Expected {\"cardid\":\"<GUID>\", \"template\":\"<GUID>\", \"atr\":\"hex\"}",
                );
            };
            let template = match field("template") {
                None => crate::SMARTCARD_USER_TEMPLATE,
                Some(t) => match parse_guid(t) {
                    Some(t) => t,
                    None => return bad("\"template\" is not a GUID"),
                },
            };
            let atr = field("atr").unwrap_or("");
            match shared.lock().add_active_smartcard(card_id, template, atr) {
                Ok((request, card)) => Response::json(
                    201,
                    json!({"request": request.to_string(), "smartcard": card.to_string()})
                        .to_string(),
                ),
                Err(e) => Response::message(409, &e),
            }
        }
        ("POST", "shutdown") => {
            shared.stop.store(true, Ordering::SeqCst);
            Response::empty(204)
        }
        (
            _,
            "requests" | "faults" | "api-disabled" | "log" | "count" | "shutdown" | "smartcards"
            | "ca.pem" | "templates",
        ) => Response::message(405, &format!("Method {m} not supported on {}", head.path())),
        _ => Response::message(404, &format!("Unknown control endpoint {}", head.path())),
    }
}

/// `POST /_emulator/requests/{id}/approve` and `.../deny`: 200 with the Request; 404 unknown; 409 not Pending.
fn request_action(shared: &Shared, method: &str, route: &str) -> Option<Response> {
    let rest = route.strip_prefix("requests/")?;
    let (id, action) = rest.split_once('/')?;
    if action != "approve" && action != "deny" {
        return None;
    }
    if method != "POST" {
        return Some(Response::message(405, "Use POST").with_header("Allow", "POST"));
    }
    let Some(id) = parse_guid(id) else {
        return Some(bad("Not a request GUID"));
    };
    let mut st = shared.lock();
    if st.request(id).is_none() {
        return Some(Response::message(404, &format!("No request {id}")));
    }
    let outcome = if action == "approve" {
        st.approve(id)
    } else {
        st.deny(id)
    };
    Some(match outcome {
        Ok(_) => Response::json(200, ordered_json(&st.request(id).expect("exists").fields())),
        Err(e) => Response::message(409, &e),
    })
}
