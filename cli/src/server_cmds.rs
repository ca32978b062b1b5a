//! The CM server commands: assign, reconcile, smartcard get|find, request get|list; the rest of the
//! smartcard and request commands are in `flow.rs`.

use crate::args::{AssignArgs, ReconcileArgs, RequestCmd, ServerArgs, SmartcardCmd};
use crate::out::Output;
use crate::{CmdResult, Failure, cards, connect, exit, flow};
use cm_smartcard::cm::{Assignment, BindingState, CmClient, CmRequest, Owner, Smartcard};
use cm_smartcard::{Error, Status, card};
use serde_json::json;

pub(crate) fn client(o: &Output, args: &ServerArgs) -> Result<CmClient, Failure> {
    let config = connect::config(args)?;
    if o.verbose {
        eprintln!(
            "  * server {} | auth {:?}{} | proxy {:?} | timeout {:.1} s",
            config.server_url,
            config.transport.auth.method,
            config
                .transport
                .auth
                .username
                .as_deref()
                .map(|u| format!(" as {u}"))
                .unwrap_or_default(),
            config.transport.proxy,
            config.transport.timeout.as_secs_f64()
        );
    }
    Ok(CmClient::new(config)?)
}

/// Success, or 4 when the server processed the request without proving its identity (printed as a warning).
pub(crate) fn done(o: &Output, warning: Option<&Error>) -> CmdResult {
    match warning {
        Some(w) => {
            o.warning(w);
            Ok(exit::UNVERIFIED)
        }
        None => Ok(exit::OK),
    }
}

pub(crate) fn not_found(o: &Output, what: String) -> CmdResult {
    if o.json {
        o.print_json(&json!({ "found": false, "message": what }));
    } else {
        eprintln!("{what}");
    }
    Ok(exit::NOT_FOUND)
}

pub fn assign(o: &Output, a: AssignArgs) -> CmdResult {
    // Validate the ids and the ATR before reading the card or opening a connection.
    let assignment = match &a.card_id {
        Some(card_id) => Some(Assignment::new(&a.request, card_id, a.atr.as_deref())?),
        None => {
            cm_smartcard::guid::normalize_guid(&a.request, "request id")?;
            None
        }
    };
    let reader = cards::reader_name(&a.reader)?;
    let client = client(o, &a.server)?;
    let (assignment, result) = match assignment {
        Some(assignment) => {
            let r = client.assign_smartcard(&assignment);
            (assignment, r)
        }
        None => {
            let reading = card::read_card(reader.as_deref(), a.byte_order.into())?;
            if let Some(w) = &reading.card_id.warning {
                return Err(Error::new(
                    Status::CardIdNotFound,
                    format!(
                        "refusing to bind the card in '{}': {w}",
                        reading.reader.to_string_lossy()
                    ),
                )
                .into());
            }
            if !o.json {
                eprintln!(
                    "card in '{}': card id {}, ATR {}",
                    reading.reader.to_string_lossy(),
                    reading.card_id.guid,
                    cm_smartcard::atr::to_hex(&reading.atr)
                );
            }
            let assignment = Assignment::new(
                &a.request,
                &reading.card_id.guid,
                Some(&cm_smartcard::atr::to_hex(&reading.atr)),
            )?;
            let r = client.assign_smartcard(&assignment);
            (assignment, r)
        }
    };
    let outcome = match result {
        Ok(outcome) => outcome,
        Err(e) if e.status == Status::OutcomeUnknown => {
            let mut e = e;
            e.message.push_str(&format!(
                "\n  To learn whether it took effect: cm-smartcard reconcile --server {} --request {} --card-id {}",
                a.server.server, assignment.request_id, assignment.card_id
            ));
            return Err(e.into());
        }
        Err(e) => return Err(e.into()),
    };
    let uuid = outcome.smartcard_uuid.map(|u| u.to_string());
    if o.json {
        o.print_json(&json!({
            "request_id": assignment.request_id,
            "card_id": assignment.card_id,
            "atr": assignment.atr,
            "http_status": outcome.http_status,
            "smartcard_uuid": uuid,
            "smartcard_uri": outcome.smartcard_uri,
            "warning": outcome.warning.as_ref().map(crate::out::error_json),
        }));
    } else {
        o.rows(&[
            ("bound", o.color(crate::out::Tone::Good, "yes")),
            ("request", assignment.request_id.clone()),
            ("card id", assignment.card_id.clone()),
            (
                "atr",
                assignment
                    .atr
                    .clone()
                    .unwrap_or_else(|| "(not sent)".into()),
            ),
            (
                "smartcard",
                uuid.unwrap_or_else(|| "(the server answered 204 without naming it)".into()),
            ),
            ("http status", outcome.http_status.to_string()),
        ]);
    }
    done(o, outcome.warning.as_ref())
}

pub fn reconcile(o: &Output, a: ReconcileArgs) -> CmdResult {
    let assignment = Assignment::new(&a.request, &a.card_id, None)?;
    let client = client(o, &a.server)?;
    let r = client.reconcile(&assignment)?;
    let (state, meaning) = match r.state {
        BindingState::NotBound => (
            "not-bound",
            "no card is bound to the request: the assignment did not take effect and may be sent again",
        ),
        BindingState::BoundToThisCard => (
            "bound-to-this-card",
            "this card is bound to the request: the assignment took effect; do not send it again",
        ),
        BindingState::BoundToOtherCard => (
            "bound-to-other-card",
            "another card is bound to the request",
        ),
    };
    let smartcard = r.smartcard_uuid.map(|u| u.to_string());
    if o.json {
        o.print_json(&json!({
            "state": state,
            "request_id": assignment.request_id,
            "card_id": assignment.card_id,
            "smartcard_uuid": smartcard,
            "request_status": r.request.status,
            "warning": r.warning.as_ref().map(crate::out::error_json),
        }));
    } else {
        let tone = match r.state {
            BindingState::BoundToThisCard => crate::out::Tone::Good,
            BindingState::NotBound => crate::out::Tone::Warn,
            BindingState::BoundToOtherCard => crate::out::Tone::Bad,
        };
        o.rows(&[
            ("state", o.color(tone, state)),
            ("meaning", meaning.to_string()),
            ("request", assignment.request_id.clone()),
            ("request status", r.request.status.to_string()),
            ("smartcard", smartcard.unwrap_or_else(|| "(none)".into())),
        ]);
    }
    done(o, r.warning.as_ref())
}

fn print_smartcard(o: &Output, c: &Smartcard) {
    if o.json {
        o.print_json(&json!({ "found": true, "smartcard": c.json }));
    } else {
        o.rows(&[
            ("smartcard", c.uuid.to_string()),
            ("serial number", c.serial_number.clone()),
            (
                "card id",
                c.card_id.map(|u| u.to_string()).unwrap_or_default(),
            ),
            ("atr", c.atr.clone()),
            ("status", c.status.to_string()),
        ]);
    }
}

pub fn smartcard(o: &Output, cmd: SmartcardCmd) -> CmdResult {
    match cmd {
        SmartcardCmd::Get { server, uuid } => {
            let uuid = cm_smartcard::guid::normalize_guid(&uuid, "smartcard uuid")?;
            let client = client(o, &server)?;
            match client.get_smartcard(&uuid)? {
                Some(c) => {
                    print_smartcard(o, &c);
                    done(o, c.warning.as_ref())
                }
                None => not_found(o, format!("CM has no smartcard {uuid} (HTTP 204)")),
            }
        }
        SmartcardCmd::Find {
            server,
            card_id,
            reader,
            byte_order,
        } => {
            let card_id = match card_id {
                Some(id) => cm_smartcard::guid::normalize_guid(&id, "card id")?,
                None => {
                    let reader = cards::reader_name(&reader)?;
                    connect::config(&server)?; // bad options before touching the card
                    let id = card::read_card_id(reader.as_deref(), byte_order.into())?;
                    id.guid
                }
            };
            let client = client(o, &server)?;
            match client.find_smartcard_by_card_id(&card_id)? {
                Some(c) => {
                    print_smartcard(o, &c);
                    done(o, c.warning.as_ref())
                }
                None => not_found(o, format!("CM knows no smartcard with card id {card_id}")),
            }
        }
        SmartcardCmd::AdminKey { server, card, show } => flow::admin_key(o, server, card, show),
        SmartcardCmd::AuthResponse {
            server,
            card,
            challenge,
            diversified,
        } => flow::auth_response(o, server, card, challenge, diversified),
        SmartcardCmd::Pin {
            server,
            smartcard,
            request,
            card_id,
            atr,
            reader,
            byte_order,
            show,
        } => flow::pin(
            o, server, smartcard, request, card_id, atr, reader, byte_order, show,
        ),
        SmartcardCmd::SetStatus {
            server,
            request,
            smartcard,
            status,
            dry_run,
        } => flow::set_smartcard_status(o, server, request, smartcard, status, dry_run),
        SmartcardCmd::Operations { server, smartcard } => {
            flow::operations(o, server, Owner::Smartcard, smartcard)
        }
        SmartcardCmd::Certificates { server, smartcard } => {
            flow::certificates(o, server, Owner::Smartcard, smartcard)
        }
    }
}

fn print_request(o: &Output, r: &CmRequest) {
    if o.json {
        o.print_json(&json!({ "found": true, "request": r.json }));
    } else {
        let field = |name: &str| {
            r.json
                .get(name)
                .map(|v| match v {
                    serde_json::Value::String(s) => s.clone(),
                    other => other.to_string(),
                })
                .unwrap_or_default()
        };
        o.rows(&[
            ("request", r.uuid.to_string()),
            ("status", r.status.to_string()),
            (
                "smartcard",
                r.new_smartcard_uuid
                    .map(|u| u.to_string())
                    .unwrap_or_else(|| "(none bound)".into()),
            ),
            ("type", field("Type")),
            ("profile template", field("ProfileTemplateUuid")),
            ("target user", field("TargetUserUuid")),
            ("submitted", field("Submitted")),
        ]);
    }
}

pub fn request(o: &Output, cmd: RequestCmd) -> CmdResult {
    match cmd {
        RequestCmd::Get { server, id } => {
            let id = cm_smartcard::guid::normalize_guid(&id, "request id")?;
            let client = client(o, &server)?;
            match client.get_request(&id)? {
                Some(r) => {
                    print_request(o, &r);
                    done(o, r.warning.as_ref())
                }
                None => not_found(o, format!("CM has no request {id} (HTTP 204)")),
            }
        }
        RequestCmd::List {
            server,
            status,
            mine,
        } => {
            let client = client(o, &server)?;
            let requests = client.list_requests(status.as_deref(), mine)?;
            if o.json {
                let items: Vec<&serde_json::Value> = requests.iter().map(|r| &r.json).collect();
                o.print_json(&json!({ "count": requests.len(), "requests": items }));
            } else if requests.is_empty() {
                eprintln!("no requests");
            } else {
                println!("{:<38} {:>6}  smartcard", "request", "status");
                for r in &requests {
                    println!(
                        "{:<38} {:>6}  {}",
                        r.uuid,
                        r.status,
                        r.new_smartcard_uuid
                            .map(|u| u.to_string())
                            .unwrap_or_else(|| "-".into())
                    );
                }
            }
            done(o, requests.first().and_then(|r| r.warning.as_ref()))
        }
        RequestCmd::Create {
            server,
            spec,
            dry_run,
        } => flow::create_request(o, server, spec, dry_run),
        RequestCmd::FindCreated {
            server,
            spec,
            since,
        } => flow::find_created(o, server, spec, since),
        RequestCmd::SetStatus {
            server,
            id,
            status,
            dry_run,
        } => flow::set_request_status(o, server, id, status, dry_run),
        RequestCmd::Profiles { server, id } => flow::request_profiles(o, server, id),
    }
}
