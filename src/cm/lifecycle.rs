//! The rest of the CM enrollment and card lifecycle (`mimcm-enrollment.md` §1): profile templates and their
//! policies, requests, card secrets (diversified admin key, challenge response, server-proposed PIN),
//! certificate requests and data, smart card status, operations, certificates and profiles.
//!
//! Every state-changing call (`POST /requests`, `POST /requests/{id}/certificatedata`, the PUTs) is sent at most
//! once, like the binding: once its bytes may have left, a failure is `OutcomeUnknown` and nothing is resent.
//! Where the API allows, a reconcile call finds out what happened ([`CmClient::find_created_requests`]); where
//! it does not (certificate data is returned once), the docs say so.

use super::answer::{Operation, body_excerpt, status_error};
use super::client::{CmClient, not_found};
use super::object::{CmList, CmObject, ObjectKind, decode_base64_lenient, json_type, wipe_strings};
use super::objects::{parse_json, parse_json_body};
use super::transport::{HttpAnswer, Idempotency};
use crate::error::{Error, Result};
use crate::guid::{parse_guid, printable};
use crate::status::Status;
use base64::Engine as _;
use serde_json::{Map, Value, json};
use std::sync::atomic::Ordering;
use uuid::Uuid;
use zeroize::{Zeroize, Zeroizing};

/// Request types of `POST /requests` (create-request.md).
pub const REQUEST_TYPES: [&str; 12] = [
    "Enroll",
    "Duplicate",
    "OfflineUnblock",
    "OnlineUpdate",
    "Renew",
    "Recover",
    "RecoverOnBehalf",
    "Reinstate",
    "Retire",
    "Revoke",
    "TemporaryCards",
    "Unblock",
];

/// Workflow policy types of `GET /profiletemplates/{id}/policies/{type}` (the request types, except that the
/// docs call temporary cards `TemporaryEnroll` there).
pub const POLICY_TYPES: [&str; 12] = [
    "Enroll",
    "Duplicate",
    "OfflineUnblock",
    "OnlineUpdate",
    "Renew",
    "Recover",
    "RecoverOnBehalf",
    "Reinstate",
    "Retire",
    "Revoke",
    "TemporaryEnroll",
    "Unblock",
];

/// The `status` filter of `GET /requests` (RequestStatus members, MSDN bb490434).
pub const REQUEST_STATUSES: [&str; 8] = [
    "Approved",
    "Canceled",
    "Completed",
    "Denied",
    "Executing",
    "Failed",
    "None",
    "Pending",
];

/// States `PUT /requests/{id}` may set.
pub const SETTABLE_REQUEST_STATUSES: [&str; 3] = ["Completed", "Canceled", "Abandoned"];

/// SmartcardStatus members (MSDN bb490439), for `PUT /requests/{rid}/smartcards/{sid}`.
pub const SMARTCARD_STATUSES: [&str; 7] = [
    "Active",
    "Assigned",
    "Disabled",
    "New",
    "None",
    "Retired",
    "Suspended",
];

/// The `status` filter of `GET /profiles`.
pub const PROFILE_STATUSES: [&str; 9] = [
    "Active",
    "Approved",
    "Canceled",
    "Completed",
    "Denied",
    "Executing",
    "Failed",
    "None",
    "Pending",
];

/// How far before the caller's "submitted after" time a created request may be stamped and still match:
/// the server's clock may differ from ours (Kerberos tolerates five minutes of skew; so do we).
pub(crate) const CLOCK_TOLERANCE_SECS: i64 = 300;

/// Picks the documented spelling of an enum name given in any case; `what` names it in the error.
pub fn enum_value(text: &str, names: &[&'static str], what: &str) -> Result<&'static str> {
    names
        .iter()
        .find(|n| n.eq_ignore_ascii_case(text.trim()))
        .copied()
        .ok_or_else(|| {
            Error::new(
                Status::InvalidArgument,
                format!(
                    "{what} '{}' is not one of {}",
                    printable(text),
                    names.join(", ")
                ),
            )
        })
}

/// Whose operations or certificates to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owner {
    /// `/smartcards/{id}/...`.
    Smartcard,
    /// `/profiles/{id}/...`.
    Profile,
}

impl Owner {
    fn segment(self) -> &'static str {
        match self {
            Owner::Smartcard => "smartcards",
            Owner::Profile => "profiles",
        }
    }
}

/// A request to create (`POST /requests`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RequestSpec {
    /// One of [`REQUEST_TYPES`].
    pub request_type: &'static str,
    /// The profile template; required for Enroll (and every type that creates a profile).
    pub profile_template: Option<Uuid>,
    /// The target user; `None` means the caller.
    pub target_user: Option<Uuid>,
    /// The smart card the request is about (Unblock, Retire, ...): the docs' Unblock example sends it.
    pub smartcard: Option<Uuid>,
    /// The comment (sent even when empty: the docs make it required).
    pub comment: String,
    /// The priority; `None` leaves it to the policy's default.
    pub priority: Option<i32>,
    /// Data collection items, name and value (`None` = null).
    pub data_collection: Vec<(String, Option<String>)>,
}

impl RequestSpec {
    /// A spec of `request_type` (any case), validated.
    pub fn new(request_type: &str) -> Result<RequestSpec> {
        Ok(RequestSpec {
            request_type: enum_value(request_type, &REQUEST_TYPES, "request type")?,
            ..RequestSpec::default()
        })
    }

    /// Checks what the server would reject without telling us why.
    pub fn validate(&self) -> Result<()> {
        let invalid = |m: String| Err(Error::new(Status::InvalidArgument, m));
        if !REQUEST_TYPES.contains(&self.request_type) {
            return invalid(format!(
                "request type '{}' is not one of {}",
                printable(self.request_type),
                REQUEST_TYPES.join(", ")
            ));
        }
        if self.request_type == "Enroll" && self.profile_template.is_none() {
            return invalid("an Enroll request needs a profile template uuid".into());
        }
        if self.profile_template.is_none() && self.smartcard.is_none() {
            return invalid(format!(
                "a {} request needs a profile template uuid or the smartcard uuid it is about",
                self.request_type
            ));
        }
        if let Some(p) = self.priority
            && p < 0
        {
            return invalid(format!("priority {p} is negative"));
        }
        if let Some((i, _)) = self
            .data_collection
            .iter()
            .enumerate()
            .find(|(_, (name, _))| name.trim().is_empty())
        {
            return invalid(format!("data collection item {i} has an empty name"));
        }
        Ok(())
    }

    /// The JSON body, with the property names of the docs' table (lowercase).
    pub fn to_json(&self) -> String {
        let mut body = Map::new();
        if let Some(t) = self.profile_template {
            body.insert(
                "profiletemplateuuid".into(),
                json!(t.hyphenated().to_string()),
            );
        }
        let items: Vec<Value> = self
            .data_collection
            .iter()
            .map(|(name, value)| json!({"name": name, "value": value}))
            .collect();
        body.insert("datacollection".into(), Value::Array(items));
        if let Some(t) = self.target_user {
            body.insert("target".into(), json!(t.hyphenated().to_string()));
        }
        body.insert("type".into(), json!(self.request_type));
        body.insert("comment".into(), json!(self.comment));
        if let Some(p) = self.priority {
            body.insert("priority".into(), json!(p));
        }
        if let Some(s) = self.smartcard {
            body.insert("smartcard".into(), json!(s.hyphenated().to_string()));
        }
        Value::Object(body).to_string()
    }

    /// Whether a request object CM returned could be the one this spec created at or after `after` (Unix
    /// seconds). Compares what the object shows: template, target, card, comment, type (where its number is
    /// documented, or CM sent a name) and submission time.
    pub fn matches(&self, request: &CmObject, after: i64) -> bool {
        let guid_is = |field: &str, want: Uuid| request.guid(field).is_ok_and(|g| g == want);
        if let Some(t) = self.profile_template
            && !guid_is("ProfileTemplateUuid", t)
        {
            return false;
        }
        if let Some(t) = self.target_user
            && !guid_is("TargetUserUuid", t)
        {
            return false;
        }
        if let Some(card) = self.smartcard
            && !(guid_is("OldSmartcardUuid", card) || guid_is("NewSmartcardUuid", card))
        {
            return false;
        }
        if let Ok(comment) = request.string("Comment")
            && comment != self.comment
        {
            return false;
        }
        if let Ok(name) = request.enum_name("RequestType")
            && !name.eq_ignore_ascii_case(self.request_type)
        {
            return false;
        }
        match request.string("Submitted") {
            Ok(s) => super::time::parse_iso_time(&s)
                .is_none_or(|t| t >= after.saturating_sub(CLOCK_TOLERANCE_SECS)),
            Err(_) => true,
        }
    }
}

/// Percent-encodes a query value (RFC 3986 unreserved characters stay): base64's `+`, `/`, `=` must not reach
/// the server raw (a `+` would decode as a space).
fn query_escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len() * 3);
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Builds `cardid=...[&atr=...]` for the card-secret endpoints, validating both.
fn card_query(card_id: &str, atr: Option<&str>) -> Result<String> {
    let card_id = parse_guid(card_id, "card id")?;
    let mut query = format!("cardid={}", card_id.hyphenated());
    if let Some(atr) = atr.filter(|a| !a.trim().is_empty()) {
        query.push_str("&atr=");
        query.push_str(&crate::atr::normalize_atr(atr)?);
    }
    Ok(query)
}

/// A PKCS#10 request given as DER or PEM, checked to be one DER SEQUENCE, as the base64 CM wants: 64-character
/// lines joined by `\r\n` (get-certificate-responses.md).
fn csr_base64(index: usize, csr: &[u8]) -> Result<String> {
    let invalid = |why: &str| {
        Error::new(
            Status::InvalidArgument,
            format!("certificate request {index}: {why}"),
        )
    };
    let der = if csr.trim_ascii_start().starts_with(b"-----BEGIN") {
        let text = std::str::from_utf8(csr).map_err(|_| invalid("the PEM text is not UTF-8"))?;
        let body: String = text
            .lines()
            .filter(|l| !l.trim_start().starts_with("-----"))
            .collect();
        decode_base64_lenient(&body).ok_or_else(|| invalid("the PEM body is not valid base64"))?
    } else {
        csr.to_vec()
    };
    if der_sequence_len(&der) != Some(der.len()) {
        return Err(invalid(
            "not a DER-encoded PKCS#10 request (expected one ASN.1 SEQUENCE, or PEM \
             '-----BEGIN CERTIFICATE REQUEST-----')",
        ));
    }
    let b64 = base64::engine::general_purpose::STANDARD.encode(&der);
    Ok(b64
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).unwrap_or_default())
        .collect::<Vec<_>>()
        .join("\r\n"))
}

/// The total length of the DER SEQUENCE at the start of `der`, when it is one.
fn der_sequence_len(der: &[u8]) -> Option<usize> {
    if der.first() != Some(&0x30) {
        return None;
    }
    let first = *der.get(1)?;
    let (len, header) = if first < 0x80 {
        (usize::from(first), 2)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 {
            return None;
        }
        let bytes = der.get(2..2 + n)?;
        (
            bytes
                .iter()
                .fold(0usize, |acc, b| (acc << 8) | usize::from(*b)),
            2 + n,
        )
    };
    header.checked_add(len)
}

impl CmClient {
    /// A GET answered by one object (200) or nothing (204).
    fn get_object(&self, path: &str, kind: ObjectKind) -> Result<Option<CmObject>> {
        // A smart card configuration carries the default admin key.
        let secret = kind == ObjectKind::SmartcardConfig;
        let (url, mut answer) = if secret {
            self.call_secret("GET", path, None, Idempotency::Safe)?
        } else {
            self.call("GET", path, None, Idempotency::Safe)?
        };
        let result = Self::object_answer(&url, &answer, kind);
        if secret {
            answer.body.zeroize();
        }
        result
    }

    fn object_answer(url: &str, answer: &HttpAnswer, kind: ObjectKind) -> Result<Option<CmObject>> {
        match answer.status {
            200 => match parse_json_body(url, answer)? {
                Value::Null => not_found(answer),
                Value::Array(mut items) if items.len() == 1 => {
                    Ok(Some(object(kind, items.remove(0), answer)))
                }
                v @ Value::Object(_) => Ok(Some(object(kind, v, answer))),
                mut other => {
                    let error = unexpected_shape(url, answer, "an object", &other);
                    wipe_strings(&mut other);
                    Err(error)
                }
            },
            204 => not_found(answer),
            _ => Err(status_error("GET", url, answer, Operation::Lookup)),
        }
    }

    /// A GET answered by an array (200; a single object counts as one item) or nothing (204: empty).
    fn get_list(&self, path: &str, kind: ObjectKind) -> Result<CmList> {
        let (url, answer) = self.call("GET", path, None, Idempotency::Safe)?;
        match answer.status {
            200 => {
                let items = match parse_json_body(&url, &answer)? {
                    Value::Array(items) => items,
                    Value::Null => Vec::new(),
                    one => vec![one],
                };
                Ok(CmList {
                    kind,
                    items,
                    warning: answer.warning,
                })
            }
            204 => not_found(&answer).map(|_: Option<()>| CmList {
                kind,
                items: Vec::new(),
                warning: None,
            }),
            _ => Err(status_error("GET", &url, &answer, Operation::Lookup)),
        }
    }

    /// A GET of a secret answered by a JSON string (or, leniently, plain text). The answer body is wiped.
    fn get_secret_text(
        &self,
        path: &str,
        what: &str,
    ) -> Result<(Zeroizing<String>, Option<Error>)> {
        let (url, mut answer) = self.call_secret("GET", path, None, Idempotency::Safe)?;
        let result = match answer.status {
            200 => secret_text(&url, &answer, what),
            204 => Err(Error::new(
                Status::HttpUnexpectedStatus,
                format!(
                    "GET {url}: CM answered 204 No Content: it has no {what} for this card (the profile \
                     template's smart card configuration may not provide one)"
                ),
            )
            .with_http_status(204)),
            _ => Err(status_error("GET", &url, &answer, Operation::CardSecret)),
        };
        answer.body.zeroize();
        result.map(|t| (t, answer.warning.take()))
    }

    /// `GET /profiletemplates`: the templates the caller may use.
    pub fn list_profile_templates(&self) -> Result<CmList> {
        self.get_list("/profiletemplates", ObjectKind::ProfileTemplate)
    }

    /// `GET /profiletemplates/{id}/policies/{type}`: a template's workflow policy for a request type. The docs
    /// give two paths; the examples' `/policies/{type}` is tried first, the URL table's
    /// `/policy/workflow/{type}` after a 404, and the form that answered is remembered.
    pub fn profile_template_policy(
        &self,
        template: &str,
        policy_type: &str,
    ) -> Result<Option<CmObject>> {
        let template = parse_guid(template, "profile template uuid")?;
        let policy_type = if policy_type.trim().eq_ignore_ascii_case("TemporaryCards") {
            "TemporaryEnroll"
        } else {
            enum_value(policy_type, &POLICY_TYPES, "policy type")?
        };
        let forms = [
            format!(
                "/profiletemplates/{template}/policies/{}",
                policy_type.to_ascii_lowercase()
            ),
            format!(
                "/profiletemplates/{template}/policy/workflow/{}",
                policy_type.to_ascii_lowercase()
            ),
        ];
        let first = usize::from(self.policy_path.load(Ordering::Relaxed));
        match self.get_object(&forms[first], ObjectKind::Policy) {
            Err(e) if e.status == Status::HttpNotFound => {
                let other = 1 - first;
                let found = self.get_object(&forms[other], ObjectKind::Policy);
                if found.is_ok() {
                    self.policy_path.store(other as u8, Ordering::Relaxed);
                }
                // Both 404: the first error explains it (API disabled or wrong URL).
                found.map_err(|second| {
                    if second.status == Status::HttpNotFound {
                        e
                    } else {
                        second
                    }
                })
            }
            other => other,
        }
    }

    /// `GET /profiletemplates/{id}/configuration/smartcards`: admin key, diversification, PIN options.
    pub fn smartcard_config(&self, template: &str) -> Result<Option<CmObject>> {
        let template = parse_guid(template, "profile template uuid")?;
        self.get_object(
            &format!("/profiletemplates/{template}/configuration/smartcards"),
            ObjectKind::SmartcardConfig,
        )
    }

    /// `POST /requests`: creates a request. Sent at most once. Returns an object of kind `Created` with `Uri`
    /// (as sent by CM) and `Uuid`.
    pub fn create_request(&self, spec: &RequestSpec) -> Result<CmObject> {
        spec.validate()?;
        let body = spec.to_json();
        let (url, answer) = self.call("POST", "/requests", Some(&body), Idempotency::AtMostOnce)?;
        match answer.status {
            200 | 201 => created(&url, &answer, "requests"),
            // Undocumented success statuses (a 204 without the URI, say): the request was most likely created.
            202..=299 => Err(Error::new(
                Status::MalformedResponse,
                format!(
                    "POST {url} answered HTTP {} without the new request's URI: the request WAS most likely \
                     created. Do not send it again: find it with cm_session_find_created_requests()",
                    answer.status
                ),
            )
            .with_http_status(answer.status)),
            _ => Err(status_error(
                "POST",
                &url,
                &answer,
                Operation::CreateRequest,
            )),
        }
    }

    /// After `create_request` ended in `OutcomeUnknown`: the requests that may be the one it created — those
    /// matching the spec (see [`RequestSpec::matches`]) submitted at or after `submitted_after` (Unix seconds,
    /// taken before the create call; five minutes of server clock skew allowed). Empty: it was not
    /// created and may be sent again. A unique comment in the spec makes the match exact.
    pub fn find_created_requests(
        &self,
        spec: &RequestSpec,
        submitted_after: i64,
    ) -> Result<CmList> {
        spec.validate()?;
        let mut all = self.get_list("/requests", ObjectKind::Request)?;
        all.items.retain(|v| {
            spec.matches(
                &CmObject::new(ObjectKind::Request, v.clone()),
                submitted_after,
            )
        });
        Ok(all)
    }

    /// `GET /requests[?status=][&targetuser=current]` as objects.
    pub fn list_request_objects(&self, status: Option<&str>, mine: bool) -> Result<CmList> {
        let requests = self.list_requests(status, mine)?;
        let warning = requests.first().and_then(|r| r.warning.clone());
        Ok(CmList {
            kind: ObjectKind::Request,
            items: requests.into_iter().map(|r| r.json).collect(),
            warning,
        })
    }

    /// `PUT /requests/{id}` `{"status": ...}` (Completed, Canceled, Abandoned). Sent at most once; after
    /// `OutcomeUnknown`, read the request back. `None` when CM answered 204.
    pub fn set_request_status(&self, request: &str, status: &str) -> Result<Option<CmObject>> {
        let request = parse_guid(request, "request id")?;
        let status = enum_value(status, &SETTABLE_REQUEST_STATUSES, "request status")?;
        let body = json!({ "status": status }).to_string();
        self.put(&format!("/requests/{request}"), &body, ObjectKind::Request)
    }

    /// `PUT /requests/{rid}/smartcards/{sid}` `{"status": ...}` (e.g. Retired). Sent at most once. The docs'
    /// method table says GET; their example uses PUT, which is what is sent.
    pub fn set_smartcard_status(
        &self,
        request: &str,
        smartcard: &str,
        status: &str,
    ) -> Result<Option<CmObject>> {
        let request = parse_guid(request, "request id")?;
        let smartcard = parse_guid(smartcard, "smartcard uuid")?;
        let status = enum_value(status, &SMARTCARD_STATUSES, "smartcard status")?;
        let body = json!({ "status": status }).to_string();
        self.put(
            &format!("/requests/{request}/smartcards/{smartcard}"),
            &body,
            ObjectKind::Smartcard,
        )
    }

    fn put(&self, path: &str, body: &str, kind: ObjectKind) -> Result<Option<CmObject>> {
        let (url, answer) = self.call("PUT", path, Some(body), Idempotency::AtMostOnce)?;
        match answer.status {
            200 => match parse_json(&answer.body) {
                Ok(v @ Value::Object(_)) => Ok(Some(object(kind, v, &answer))),
                Ok(Value::Null) => not_found(&answer),
                _ => Err(Error::new(
                    Status::MalformedResponse,
                    format!(
                        "PUT {url} answered HTTP 200 (the change WAS made) but the body is not the updated \
                         object; read it back instead of sending the change again. Body: {}",
                        body_excerpt(&answer.body)
                    ),
                )
                .with_http_status(200)),
            },
            204 => not_found(&answer),
            _ => Err(status_error("PUT", &url, &answer, Operation::SetStatus)),
        }
    }

    /// `GET /requests/{id}/certificaterequestgenerationoptions`: one item per PKCS#10 request to build.
    pub fn csr_options(&self, request: &str) -> Result<CmList> {
        let request = parse_guid(request, "request id")?;
        self.get_list(
            &format!("/requests/{request}/certificaterequestgenerationoptions"),
            ObjectKind::CsrOption,
        )
    }

    /// `POST /requests/{id}/certificatedata`: sends PKCS#10 requests (DER or PEM; none for server-generated
    /// keys), returns the certificates (possibly more than requested). Sent at most once. No reconcile is
    /// possible: CM returns certificate data once, so after `OutcomeUnknown` read the card's certificates
    /// (`certificates(Owner::Smartcard, ..)`) to learn whether they were issued.
    pub fn submit_certificate_requests(
        &self,
        request: &str,
        csrs: &[&[u8]],
        pfx_password: Option<&str>,
        comments: Option<&str>,
    ) -> Result<CmList> {
        let request = parse_guid(request, "request id")?;
        let encoded = csrs
            .iter()
            .enumerate()
            .map(|(i, c)| csr_base64(i, c))
            .collect::<Result<Vec<_>>>()?;
        // The body carries the PFX password: built in a buffer that is wiped, sized so it never reallocates.
        let password = pfx_password.unwrap_or("");
        let comments = comments.unwrap_or("");
        let mut body = Zeroizing::new(String::with_capacity(
            64 + 2 * password.len()
                + 6 * comments.len()
                + encoded.iter().map(|e| e.len() + 8).sum::<usize>(),
        ));
        body.push_str("{\"pfxpassword\":");
        push_json_string(&mut body, password);
        body.push_str(",\"certificaterequests\":[");
        for (i, e) in encoded.iter().enumerate() {
            if i > 0 {
                body.push(',');
            }
            push_json_string(&mut body, e);
        }
        body.push_str("],\"comments\":");
        push_json_string(&mut body, comments);
        body.push('}');
        let (url, mut answer) = self.call_secret(
            "POST",
            &format!("/requests/{request}/certificatedata"),
            Some(&body),
            Idempotency::AtMostOnce,
        )?;
        let result = match answer.status {
            200 | 201 => match parse_json(&answer.body) {
                Ok(Value::Array(items)) => Ok(CmList {
                    kind: ObjectKind::CertificateData,
                    items,
                    warning: answer.warning.take(),
                }),
                Ok(one @ Value::Object(_)) => Ok(CmList {
                    kind: ObjectKind::CertificateData,
                    items: vec![one],
                    warning: answer.warning.take(),
                }),
                _ => Err(Error::new(
                    Status::MalformedResponse,
                    format!(
                        "POST {url} answered HTTP {} (the certificates WERE issued) but the body is not a \
                         certificate array, and CM returns certificate data only once; read the card's \
                         certificates and ask the CM administrator before retrying",
                        answer.status
                    ),
                )
                .with_http_status(answer.status)),
            },
            204 => Ok(CmList {
                kind: ObjectKind::CertificateData,
                items: Vec::new(),
                warning: answer.warning.take(),
            }),
            _ => Err(status_error("POST", &url, &answer, Operation::CertificateData)),
        };
        // PFX answers hold private keys (encrypted, but under a password we know).
        answer.body.zeroize();
        result
    }

    /// `GET /requests/{rid}/smartcards/{sid}/diversifiedkey?cardid=[&atr=]`: the card's (diversified) admin key,
    /// decoded from base64 (24 bytes for a 3DES key). Wiped when dropped.
    pub fn admin_key(
        &self,
        request: &str,
        smartcard: &str,
        card_id: &str,
        atr: Option<&str>,
    ) -> Result<(Zeroizing<Vec<u8>>, Option<Error>)> {
        let request = parse_guid(request, "request id")?;
        let smartcard = parse_guid(smartcard, "smartcard uuid")?;
        let query = card_query(card_id, atr)?;
        let path = format!("/requests/{request}/smartcards/{smartcard}/diversifiedkey?{query}");
        let (text, warning) = self.get_secret_text(&path, "admin key")?;
        let key = decode_base64_lenient(&text).map(Zeroizing::new).ok_or_else(|| {
            Error::new(
                Status::MalformedResponse,
                "the admin key CM returned is not base64 (its value is not shown: it is a secret)",
            )
        })?;
        Ok((key, warning))
    }

    /// `GET /requests/{rid}/smartcards/{sid}/authenticationresponse?cardid=&challenge=&diversified=[&atr=]`: the
    /// response to a card's admin challenge, computed by CM with the default (`diversified` false) or the
    /// diversified admin key. The challenge goes base64 and URL-escaped; the response comes back decoded.
    pub fn authentication_response(
        &self,
        request: &str,
        smartcard: &str,
        card_id: &str,
        atr: Option<&str>,
        challenge: &[u8],
        diversified: bool,
    ) -> Result<(Vec<u8>, Option<Error>)> {
        let request = parse_guid(request, "request id")?;
        let smartcard = parse_guid(smartcard, "smartcard uuid")?;
        if challenge.is_empty() {
            return Err(Error::new(
                Status::InvalidArgument,
                "the card challenge is empty (a Base CSP admin challenge is 8 bytes)",
            ));
        }
        let query = card_query(card_id, atr)?;
        let challenge = query_escape(&base64::engine::general_purpose::STANDARD.encode(challenge));
        let path = format!(
            "/requests/{request}/smartcards/{smartcard}/authenticationresponse?{query}&challenge={challenge}\
             &diversified={diversified}"
        );
        let (text, warning) = self.get_secret_text(&path, "authentication response")?;
        let response = decode_base64_lenient(&text).ok_or_else(|| {
            Error::new(
                Status::MalformedResponse,
                "the authentication response CM returned is not base64",
            )
        })?;
        Ok((response, warning))
    }

    /// `GET /smartcards/{id}/serverproposedpin` (the page's path; with a request id the controller table's
    /// `/requests/{rid}/smartcards/{id}/serverproposedpin` is tried after a 404). Wiped when dropped.
    pub fn server_proposed_pin(
        &self,
        request: Option<&str>,
        smartcard: &str,
        card_id: Option<&str>,
        atr: Option<&str>,
    ) -> Result<(Zeroizing<String>, Option<Error>)> {
        let request = request.map(|r| parse_guid(r, "request id")).transpose()?;
        let smartcard = parse_guid(smartcard, "smartcard uuid")?;
        let query = match card_id {
            Some(c) => format!("?{}", card_query(c, atr)?),
            None => String::new(),
        };
        let page = format!("/smartcards/{smartcard}/serverproposedpin{query}");
        match (self.get_secret_text(&page, "server-proposed PIN"), request) {
            (Err(e), Some(request)) if e.status == Status::HttpNotFound => self
                .get_secret_text(
                    &format!("/requests/{request}/smartcards/{smartcard}/serverproposedpin{query}"),
                    "server-proposed PIN",
                )
                .map_err(|second| {
                    if second.status == Status::HttpNotFound {
                        e
                    } else {
                        second
                    }
                }),
            (result, _) => result,
        }
    }

    /// `GET /smartcards/{id}/operations` or `/profiles/{id}/operations`: the operations allowed now (strings
    /// such as "renew", "unblock", "retire"; the docs' example is lowercase).
    pub fn operations(&self, owner: Owner, id: &str) -> Result<CmList> {
        let id = parse_guid(id, "uuid")?;
        self.get_list(
            &format!("/{}/{id}/operations", owner.segment()),
            ObjectKind::Other,
        )
    }

    /// `GET /smartcards/{id}/certificates` or `/profiles/{id}/certificates`.
    pub fn certificates(&self, owner: Owner, id: &str) -> Result<CmList> {
        let id = parse_guid(id, "uuid")?;
        self.get_list(
            &format!("/{}/{id}/certificates", owner.segment()),
            ObjectKind::CardCertificate,
        )
    }

    /// `GET /certificates`: the caller's certificates (retired ones filtered out by CM).
    pub fn user_certificates(&self) -> Result<CmList> {
        self.get_list("/certificates", ObjectKind::UserCertificate)
    }

    /// `GET /profiles[?status=]`.
    pub fn list_profiles(&self, status: Option<&str>) -> Result<CmList> {
        let path = match status {
            Some(s) => format!(
                "/profiles?status={}",
                enum_value(s, &PROFILE_STATUSES, "profile status")?
            ),
            None => "/profiles".into(),
        };
        self.get_list(&path, ObjectKind::Profile)
    }

    /// `GET /profiles/{id}`.
    pub fn get_profile(&self, id: &str) -> Result<Option<CmObject>> {
        let id = parse_guid(id, "profile uuid")?;
        self.get_object(&format!("/profiles/{id}"), ObjectKind::Profile)
    }

    /// `GET /requests/{id}/profiles`.
    pub fn request_profiles(&self, request: &str) -> Result<CmList> {
        let request = parse_guid(request, "request id")?;
        self.get_list(
            &format!("/requests/{request}/profiles"),
            ObjectKind::Profile,
        )
    }
}

fn object(kind: ObjectKind, json: Value, answer: &HttpAnswer) -> CmObject {
    CmObject {
        kind,
        json,
        warning: answer.warning.clone(),
    }
}

fn unexpected_shape(url: &str, answer: &HttpAnswer, wanted: &str, got: &Value) -> Error {
    let kind = match got {
        Value::Array(a) => format!("an array of {}", a.len()),
        other => json_type(other).to_string(),
    };
    Error::new(
        Status::MalformedResponse,
        format!(
            "GET {url} answered HTTP {} with {kind} where {wanted} was expected",
            answer.status
        ),
    )
    .with_http_status(answer.status)
}

/// Reads a secret the server sent as a JSON string (or, leniently, as plain text) without leaving plain
/// copies beyond the one returned.
fn secret_text(url: &str, answer: &HttpAnswer, what: &str) -> Result<Zeroizing<String>> {
    let body = answer
        .body
        .strip_prefix(b"\xEF\xBB\xBF")
        .unwrap_or(&answer.body);
    let malformed = || {
        Error::new(
            Status::MalformedResponse,
            format!(
                "GET {url} answered HTTP 200 but the {what} is neither a JSON string nor plain text (not shown: \
                 it may be a secret)"
            ),
        )
        .with_http_status(200)
    };
    let trimmed = body.trim_ascii();
    if trimmed.first() == Some(&b'"') {
        // serde_json builds the String in place; it is moved, not copied, into the wiping wrapper.
        return serde_json::from_slice::<String>(trimmed)
            .map(Zeroizing::new)
            .map_err(|_| malformed());
    }
    match std::str::from_utf8(trimmed) {
        Ok(t) if !t.is_empty() && !t.starts_with(['{', '[']) => {
            let mut s = Zeroizing::new(String::with_capacity(t.len()));
            s.push_str(t);
            Ok(s)
        }
        _ => Err(malformed()),
    }
}

/// The `Created` object from a 201 whose body is the new resource's URI as a JSON string.
fn created(url: &str, answer: &HttpAnswer, resource: &str) -> Result<CmObject> {
    let malformed = |why: String| {
        Error::new(
            Status::MalformedResponse,
            format!(
                "POST {url} answered HTTP {} (the request WAS most likely created) but {why}. Do not send it \
                 again: find it with cm_session_find_created_requests()",
                answer.status
            ),
        )
        .with_http_status(answer.status)
        .with_server_message(Some(body_excerpt(&answer.body)))
    };
    let uri = match parse_json(&answer.body) {
        Ok(Value::String(s)) => s,
        // Not the documented form, but unambiguous: the created request itself. `Uri` stays absent.
        Ok(v @ Value::Object(_)) => {
            let object = CmObject::new(ObjectKind::Request, v);
            let uuid = object
                .guid("Uuid")
                .map_err(|_| malformed("the body is an object without a Uuid".into()))?;
            return Ok(CmObject {
                kind: ObjectKind::Created,
                json: json!({"Uuid": uuid.hyphenated().to_string()}),
                warning: answer.warning.clone(),
            });
        }
        Ok(_) => return Err(malformed("the body is not a URI string".into())),
        Err(_) => return Err(malformed("the body is not JSON".into())),
    };
    let last = uri.trim_end_matches('/').rsplit('/').next().unwrap_or("");
    let uuid = Uuid::parse_str(last)
        .ok()
        .filter(|_| uri.to_ascii_lowercase().contains(&format!("{resource}/")))
        .ok_or_else(|| {
            malformed(format!(
                "the URI '{}' is not a {resource} URI ending in a uuid",
                printable(&uri)
            ))
        })?;
    Ok(CmObject {
        kind: ObjectKind::Created,
        json: json!({"Uri": uri, "Uuid": uuid.hyphenated().to_string()}),
        warning: answer.warning.clone(),
    })
}

/// Appends `text` as a JSON string literal without intermediate copies (secrets go through here).
fn push_json_string(out: &mut String, text: &str) {
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_spec_validates_and_serializes_the_documented_body() {
        assert_eq!(
            RequestSpec::new("enrol").unwrap_err().status,
            Status::InvalidArgument
        );
        let mut spec = RequestSpec::new("ENROLL").unwrap();
        assert_eq!(spec.request_type, "Enroll");
        assert_eq!(spec.validate().unwrap_err().status, Status::InvalidArgument);
        spec.profile_template = Some(Uuid::from_u128(1));
        spec.priority = Some(4);
        spec.data_collection = vec![
            ("City".into(), Some("Seattle".into())),
            ("Empty".into(), None),
        ];
        spec.validate().unwrap();
        let body: Value = serde_json::from_str(&spec.to_json()).unwrap();
        assert_eq!(body["type"], "Enroll");
        assert_eq!(
            body["profiletemplateuuid"],
            "00000000-0000-0000-0000-000000000001"
        );
        assert_eq!(body["comment"], "");
        assert_eq!(body["priority"], 4);
        assert_eq!(body["datacollection"][0]["name"], "City");
        assert_eq!(body["datacollection"][1]["value"], Value::Null);
        assert!(body.get("target").is_none() && body.get("smartcard").is_none());
        let mut unblock = RequestSpec::new("unblock").unwrap();
        assert!(unblock.validate().is_err());
        unblock.smartcard = Some(Uuid::from_u128(2));
        unblock.validate().unwrap();
        unblock.data_collection = vec![(" ".into(), None)];
        assert!(unblock.validate().is_err());
    }

    #[test]
    fn created_requests_match_on_what_the_object_shows() {
        let template = Uuid::from_u128(7);
        let mut spec = RequestSpec::new("Enroll").unwrap();
        spec.profile_template = Some(template);
        spec.comment = "batch 42".into();
        let req = |t: &str, ty: i64, comment: &str, submitted: &str| {
            CmObject::new(
                ObjectKind::Request,
                json!({"ProfileTemplateUuid": t, "RequestType": ty, "Comment": comment, "Submitted": submitted}),
            )
        };
        let t = template.to_string();
        let after = crate::cm::time::parse_iso_time("2026-12-02T10:00:00Z").unwrap();
        assert!(spec.matches(&req(&t, 1, "batch 42", "2026-12-02T10:00:01.5Z"), after));
        // Within the clock tolerance, outside it, other comment, other type, other template.
        assert!(spec.matches(&req(&t, 1, "batch 42", "2026-12-02T09:56:00Z"), after));
        assert!(!spec.matches(&req(&t, 1, "batch 42", "2026-12-02T09:54:00Z"), after));
        assert!(!spec.matches(&req(&t, 1, "batch 43", "2026-12-02T10:00:01Z"), after));
        assert!(!spec.matches(&req(&t, 5, "batch 42", "2026-12-02T10:00:01Z"), after));
        assert!(!spec.matches(
            &req(
                &Uuid::from_u128(8).to_string(),
                1,
                "batch 42",
                "2026-12-02T10:00:01Z"
            ),
            after
        ));
        // A type number without a documented name cannot be compared: kept as a candidate.
        assert!(spec.matches(&req(&t, 12, "batch 42", "2026-12-02T10:00:01Z"), after));
    }

    #[test]
    fn csrs_are_checked_and_sent_as_crlf_base64() {
        let der: Vec<u8> = [&[0x30u8, 0x81, 0x50][..], &[7u8; 0x50][..]].concat();
        let b64 = csr_base64(0, &der).unwrap();
        assert!(b64.contains("\r\n") && b64.split("\r\n").all(|l| l.len() <= 64));
        let pem = format!(
            "-----BEGIN CERTIFICATE REQUEST-----\n{}\n-----END CERTIFICATE REQUEST-----\n",
            b64.replace("\r\n", "\n")
        );
        assert_eq!(csr_base64(0, pem.as_bytes()).unwrap(), b64);
        for bad in [
            &b""[..],
            b"\x30\x05\x01",
            b"hello",
            b"-----BEGIN X-----\n%%%\n-----END X-----",
        ] {
            assert_eq!(
                csr_base64(3, bad).unwrap_err().status,
                Status::InvalidArgument
            );
        }
        assert_eq!(query_escape("a+b/c=="), "a%2Bb%2Fc%3D%3D");
    }

    #[test]
    fn secrets_parse_from_json_or_text_and_garbage_is_refused() {
        let a = |body: &str, ct: &str| HttpAnswer::for_test(200, ct, body);
        let url = "u";
        assert_eq!(
            secret_text(url, &a("\"mBVA+Hop\"", "application/json"), "k")
                .unwrap()
                .as_str(),
            "mBVA+Hop"
        );
        assert_eq!(
            secret_text(url, &a("12345678\r\n", "text/plain"), "pin")
                .unwrap()
                .as_str(),
            "12345678"
        );
        for bad in ["{\"a\":1}", "[1]", "", "\"unterminated"] {
            assert_eq!(
                secret_text(url, &a(bad, "application/json"), "k")
                    .unwrap_err()
                    .status,
                Status::MalformedResponse,
                "{bad}"
            );
        }
    }

    #[test]
    fn created_answers_in_either_form() {
        let a = |status: u16, body: &str| HttpAnswer::for_test(status, "application/json", body);
        let id = "a9b4b42c-cc50-4c9b-89d1-bbc0bcd5a099";
        let uri = created(
            "u",
            &a(201, &format!("\"api/v1.0/requests/{id}\"")),
            "requests",
        )
        .unwrap();
        assert_eq!(uri.guid("Uuid").unwrap().to_string(), id);
        assert!(uri.string("Uri").unwrap().ends_with(id));
        let object = created(
            "u",
            &a(201, &format!("{{\"Uuid\":\"{id}\",\"Status\":3}}")),
            "requests",
        )
        .unwrap();
        assert_eq!(object.guid("Uuid").unwrap().to_string(), id);
        assert_eq!(
            object.string("Uri").unwrap_err().status,
            Status::FieldMissing
        );
        let wrong_resource = format!("\"api/v1.0/smartcards/{id}\"");
        for bad in [
            "\"api/v1.0/requests/x\"",
            "{\"Status\":3}",
            "[]",
            "<html>",
            wrong_resource.as_str(),
        ] {
            let e = created("u", &a(201, bad), "requests").unwrap_err();
            assert_eq!(e.status, Status::MalformedResponse, "{bad}");
            assert!(
                e.message.contains("cm_session_find_created_requests"),
                "{bad}"
            );
        }
    }

    #[test]
    fn json_strings_are_escaped() {
        let mut s = String::new();
        push_json_string(&mut s, "a\"b\\c\u{1}\ré");
        assert_eq!(
            serde_json::from_str::<String>(&s).unwrap(),
            "a\"b\\c\u{1}\ré"
        );
    }
}
