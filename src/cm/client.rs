//! The CM calls: bind a card to a request, read smartcards and requests, and reconcile an assignment whose
//! outcome is unknown.

use super::answer::{Operation, status_error};
use super::objects::{
    AssignOutcome, Assignment, BindingState, CmRequest, Reconciliation, Smartcard,
    parse_created_body, parse_json_body, parse_request, parse_smartcard, smartcard_card_id,
};
use super::transport::{HttpAnswer, Idempotency, Transport, TransportConfig};
use super::url::ServerUrl;
use crate::error::{Error, Result};
use crate::guid::{normalize_guid, parse_guid};
use crate::status::Status;
use serde_json::Value;
use uuid::Uuid;

/// Connection settings for [`CmClient`].
#[derive(Debug, Clone)]
pub struct ConnectionConfig {
    /// Server URL: `https://host[/CertificateManagement]`.
    pub server_url: String,
    /// Transport: timeouts, trust, authentication.
    pub transport: TransportConfig,
}

/// "Nothing found" — unless the server's identity was not proven, which a caller must learn even then.
pub(super) fn not_found<T>(answer: &HttpAnswer) -> Result<Option<T>> {
    match &answer.warning {
        Some(w) => Err(w.clone()),
        None => Ok(None),
    }
}

/// A CM REST client. `CmClient::new` is for one call (its connections close after it);
/// `CmClient::session` keeps connections alive and authenticated between calls and may be shared by threads.
#[derive(Debug)]
pub struct CmClient {
    transport: Transport,
    /// Which documented path form of the workflow policy this server answers (see `lifecycle.rs`).
    pub(super) policy_path: std::sync::atomic::AtomicU8,
}

impl CmClient {
    /// A client for one call: validates the URL and settings; opens nothing yet.
    pub fn new(config: ConnectionConfig) -> Result<CmClient> {
        let server = ServerUrl::parse(&config.server_url)?;
        Ok(CmClient {
            transport: Transport::new(server, config.transport, false)?,
            policy_path: Default::default(),
        })
    }

    /// A long-lived client: a pool of keep-alive connections (authenticated ones are reused without a new
    /// handshake), TLS session resumption, trust roots parsed once. Thread-safe.
    pub fn session(config: ConnectionConfig) -> Result<CmClient> {
        let server = ServerUrl::parse(&config.server_url)?;
        Ok(CmClient {
            transport: Transport::new(server, config.transport, true)?,
            policy_path: Default::default(),
        })
    }

    /// The transport (connection statistics, the proxy in use).
    pub fn transport(&self) -> &Transport {
        &self.transport
    }

    /// A call whose request or answer carries a secret: traced without its bodies.
    pub(super) fn call_secret(
        &self,
        method: &str,
        path: &str,
        body: Option<&str>,
        idempotency: Idempotency,
    ) -> Result<(String, HttpAnswer)> {
        let url = self.transport.server().api_url(path);
        let answer = self.transport.send(method, path, body, idempotency, true)?;
        Ok((url, answer))
    }

    pub(super) fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<&str>,
        idempotency: Idempotency,
    ) -> Result<(String, HttpAnswer)> {
        let url = self.transport.server().api_url(path);
        let answer = self
            .transport
            .send(method, path, body, idempotency, false)?;
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
                warning: answer.warning,
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
                            None => return not_found(&answer),
                        }
                    }
                    Value::Null => return not_found(&answer),
                    v => v,
                };
                parse_smartcard(&url, object).map(|mut c| {
                    c.warning = answer.warning;
                    Some(c)
                })
            }
            204 => not_found(&answer),
            _ => Err(status_error("GET", &url, &answer, Operation::Lookup)),
        }
    }

    /// `GET /smartcards/{uuid}`.
    pub fn get_smartcard(&self, smartcard_uuid: &str) -> Result<Option<Smartcard>> {
        let id = normalize_guid(smartcard_uuid, "smartcard uuid")?;
        let (url, answer) =
            self.call("GET", &format!("/smartcards/{id}"), None, Idempotency::Safe)?;
        match answer.status {
            200 => parse_smartcard(&url, parse_json_body(&url, &answer)?).map(|mut c| {
                c.warning = answer.warning;
                Some(c)
            }),
            204 => not_found(&answer),
            _ => Err(status_error("GET", &url, &answer, Operation::Lookup)),
        }
    }

    /// `GET /requests/{id}`.
    pub fn get_request(&self, request_id: &str) -> Result<Option<CmRequest>> {
        let id = normalize_guid(request_id, "request id")?;
        let (url, answer) =
            self.call("GET", &format!("/requests/{id}"), None, Idempotency::Safe)?;
        match answer.status {
            200 => parse_request(&url, parse_json_body(&url, &answer)?).map(|mut r| {
                r.warning = answer.warning;
                Some(r)
            }),
            204 => not_found(&answer),
            _ => Err(status_error("GET", &url, &answer, Operation::Lookup)),
        }
    }

    /// `GET /requests[?status=S][&targetuser=current]`: the requests CM shows to this account, optionally
    /// only those in `status` (Approved, Canceled, Completed, Denied, Executing, Failed, None, Pending; any
    /// case) and only the caller's own (`mine`: CM supports only `targetuser=current`). A single object or
    /// an array is accepted; 204 is an empty list.
    pub fn list_requests(&self, status: Option<&str>, mine: bool) -> Result<Vec<CmRequest>> {
        let status = status
            .map(|s| {
                super::lifecycle::enum_value(
                    s,
                    &super::lifecycle::REQUEST_STATUSES,
                    "request status",
                )
            })
            .transpose()?;
        let mut query = Vec::new();
        if let Some(s) = status {
            query.push(format!("status={s}"));
        }
        if mine {
            query.push("targetuser=current".to_string());
        }
        let path = if query.is_empty() {
            "/requests".to_string()
        } else {
            format!("/requests?{}", query.join("&"))
        };
        let (url, answer) = self.call("GET", &path, None, Idempotency::Safe)?;
        match answer.status {
            200 => {
                let items = match parse_json_body(&url, &answer)? {
                    Value::Array(items) => items,
                    Value::Null => Vec::new(),
                    one => vec![one],
                };
                let mut requests = items
                    .into_iter()
                    .map(|v| parse_request(&url, v))
                    .collect::<Result<Vec<_>>>()?;
                if let Some(w) = &answer.warning {
                    requests
                        .iter_mut()
                        .for_each(|r| r.warning = Some(w.clone()));
                }
                Ok(requests)
            }
            204 => not_found(&answer).map(|none: Option<()>| {
                let _ = none;
                Vec::new()
            }),
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
                warning: request.warning.clone(),
                request,
            });
        };
        let wanted = parse_guid(&assignment.card_id, "card id")?;
        let card = self.get_smartcard(&bound.to_string())?;
        let warning = request
            .warning
            .clone()
            .or_else(|| card.as_ref().and_then(|c| c.warning.clone()));
        let state = match card {
            Some(card) if card.card_id == Some(wanted) => BindingState::BoundToThisCard,
            Some(_) => BindingState::BoundToOtherCard,
            // The request names a smartcard CM cannot show: report it bound, to another card we cannot see.
            None => BindingState::BoundToOtherCard,
        };
        Ok(Reconciliation {
            state,
            smartcard_uuid: Some(bound),
            request,
            warning,
        })
    }

    /// The whole job: reads the ATR and card ID of the card in `reader` (None = the first reader holding a
    /// card) in one connection to the card, refuses a card ID that is not unique (all zeros), and binds it
    /// to `request_id` with [`CmClient::assign_smartcard`]. Returns what was sent and the server's answer.
    pub fn assign_card_in_reader(
        &self,
        request_id: &str,
        reader: Option<&std::ffi::CStr>,
        order: crate::card::GuidByteOrder,
    ) -> Result<(Assignment, AssignOutcome)> {
        let request_id = normalize_guid(request_id, "request id")?;
        let reading = crate::card::read_card(reader, order)?;
        if let Some(warning) = &reading.card_id.warning {
            return Err(Error::new(
                Status::CardIdNotFound,
                format!(
                    "refusing to bind the card in '{}': {warning}",
                    reading.reader.to_string_lossy()
                ),
            ));
        }
        let assignment = Assignment {
            request_id,
            card_id: reading.card_id.guid.clone(),
            atr: Some(crate::atr::to_hex(&reading.atr)),
        };
        let outcome = self.assign_smartcard(&assignment)?;
        Ok((assignment, outcome))
    }
}
