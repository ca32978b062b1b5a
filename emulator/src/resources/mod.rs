//! One module per CM resource; this file holds what they share: the handler context, input parsing
//! (JSON bodies, GUIDs, query parameters) and the error answers.

pub(crate) mod certificates;
pub(crate) mod profiles;
pub(crate) mod requests;
pub(crate) mod smartcards;
pub(crate) mod templates;

use crate::http::{Head, Response, query_param};
use crate::state::{State, ordered_array, ordered_json, parse_guid};
use serde_json::{Map, Value};
use uuid::Uuid;

/// A handler's answer: `Err` carries an error response so handlers can use `?`.
pub(crate) type Reply = Result<Response, Response>;

/// What a handler gets: the state (locked), the request, and the path parameters of its route.
pub(crate) struct Ctx<'a> {
    pub state: &'a mut State,
    pub head: &'a Head,
    pub body: &'a [u8],
    /// `{name}` segments of the route pattern, percent-decoded.
    pub params: Vec<(&'static str, String)>,
}

impl Ctx<'_> {
    /// A path parameter (the route table guarantees it exists).
    pub fn param(&self, name: &str) -> &str {
        self.params
            .iter()
            .find(|(n, _)| *n == name)
            .map_or("", |(_, v)| v.as_str())
    }

    /// A path parameter that must be a GUID (400 otherwise).
    pub fn guid(&self, name: &str) -> Result<Uuid, Response> {
        parse_guid(self.param(name)).ok_or_else(invalid)
    }

    /// A query parameter (case-insensitive name, decoded).
    pub fn query(&self, name: &str) -> Option<String> {
        query_param(self.head.query(), name)
    }

    /// The JSON body, which must be an object.
    pub fn json_object(&self) -> Result<Map<String, Value>, Response> {
        match json_body(self.head, self.body)? {
            Value::Object(m) => Ok(m),
            _ => Err(invalid()),
        }
    }
}

pub(crate) fn invalid() -> Response {
    Response::message(400, "The request is invalid.")
}

pub(crate) fn bad(detail: &str) -> Response {
    Response::message(400, &format!("The request is invalid. {detail}"))
}

pub(crate) fn forbidden(msg: &str) -> Response {
    Response::message(403, msg)
}

pub(crate) fn no_access(what: &str, id: Uuid) -> Response {
    forbidden(&format!(
        "{what} {id} does not exist or you do not have access to it."
    ))
}

/// 200 with one ordered object.
pub(crate) fn object(fields: &[(&'static str, Value)]) -> Response {
    Response::json(200, ordered_json(fields))
}

/// 200 with an array of ordered objects, or 204 when there are none.
pub(crate) fn list_or_204(items: Vec<String>) -> Response {
    if items.is_empty() {
        Response::empty(204)
    } else {
        Response::json(200, ordered_array(items.into_iter()))
    }
}

/// A JSON string answer (`"api/v1.0/..."`, base64 blobs, PINs).
pub(crate) fn json_string(status: u16, s: &str) -> Response {
    Response::json(status, Value::String(s.to_string()).to_string())
}

/// Parses a JSON request body, checking the media type like ASP.NET Web API does (415 otherwise).
pub(crate) fn json_body(head: &Head, body: &[u8]) -> Result<Value, Response> {
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
    serde_json::from_slice::<Value>(body).map_err(|e| bad(&e.to_string()))
}

/// Case-insensitive property lookup (ASP.NET model binding ignores case). `null` counts as absent.
pub(crate) fn prop<'a>(obj: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    obj.iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v)
        .filter(|v| !v.is_null())
}

/// A required GUID string property.
pub(crate) fn guid_prop(obj: &Map<String, Value>, name: &str) -> Result<Uuid, Response> {
    opt_guid_prop(obj, name)?.ok_or_else(|| bad(&format!("Missing '{name}'.")))
}

/// An optional GUID string property (400 when present but not a GUID string).
pub(crate) fn opt_guid_prop(
    obj: &Map<String, Value>,
    name: &str,
) -> Result<Option<Uuid>, Response> {
    match prop(obj, name) {
        None => Ok(None),
        Some(Value::String(s)) => parse_guid(s)
            .map(Some)
            .ok_or_else(|| bad(&format!("'{name}' is not a GUID."))),
        Some(_) => Err(bad(&format!("'{name}' must be a string."))),
    }
}

/// An optional string property (400 when present but not a string).
pub(crate) fn opt_str_prop<'a>(
    obj: &'a Map<String, Value>,
    name: &str,
) -> Result<Option<&'a str>, Response> {
    match prop(obj, name) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(bad(&format!("'{name}' must be a string."))),
    }
}

/// A required GUID query parameter (400 when missing or not a GUID).
pub(crate) fn guid_query(ctx: &Ctx, name: &str) -> Result<Uuid, Response> {
    match ctx.query(name) {
        None => Err(bad(&format!("Missing '{name}'."))),
        Some(s) => parse_guid(&s).ok_or_else(|| bad(&format!("'{name}' is not a GUID."))),
    }
}
