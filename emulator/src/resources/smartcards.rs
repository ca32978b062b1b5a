//! Smart cards: bind (`POST /smartcards`), get/find, operations, the (diversified) admin key, the Base CSP
//! authentication response, the server-proposed PIN, and status changes.

use super::{
    Ctx, Reply, bad, forbidden, guid_prop, guid_query, invalid, json_string, no_access, object,
    prop,
};
use crate::http::Response;
use crate::issuing;
use crate::state::{
    ProfileRec, RequestRec, SmartcardRec, State, ordered_array, ordered_json, parse_guid,
};
use crate::{RequestStatus, RequestType, SmartcardStatus};
use serde_json::Value;
use uuid::Uuid;

/// GET /smartcards[?cardid=X] — one object by card id (SerialNumber), or an array of all (undocumented).
pub(crate) fn list_or_find(ctx: &mut Ctx) -> Reply {
    match ctx.query("cardid") {
        Some(c) => {
            let card = parse_guid(&c).ok_or_else(invalid)?;
            Ok(match ctx.state.smartcard_by_card(card) {
                Some(sc) => object(&sc.fields()),
                None => Response::empty(204),
            })
        }
        None => Ok(Response::json(
            200,
            ordered_array(
                ctx.state
                    .smartcards
                    .iter()
                    .map(|s| ordered_json(&s.fields())),
            ),
        )),
    }
}

/// GET /smartcards/{scid}
pub(crate) fn get(ctx: &mut Ctx) -> Reply {
    let id = ctx.guid("scid")?;
    Ok(match ctx.state.smartcard(id) {
        Some(sc) => object(&sc.fields()),
        None => Response::empty(204),
    })
}

/// POST /smartcards `{"requestid","cardid","atr"}` — bind a card to an Enroll request.
pub(crate) fn bind(ctx: &mut Ctx) -> Reply {
    let obj = ctx.json_object()?;
    let request_id = guid_prop(&obj, "requestid")?;
    let card_id = guid_prop(&obj, "cardid")?;
    let atr = match prop(&obj, "atr") {
        None => String::new(),
        Some(Value::String(s)) => s.to_ascii_lowercase(),
        Some(_) => return Err(bad("'atr' must be a string.")),
    };
    let st = &mut *ctx.state;
    let req = st
        .request(request_id)
        .ok_or_else(|| no_access("Request", request_id))?;
    if !req.is_open_for_execution() {
        return Err(forbidden(&format!(
            "Request {request_id} is {}; it must be Approved or Executing.",
            req.status.name()
        )));
    }
    if let Some(sc) = req.new_smartcard {
        return Err(forbidden(&format!(
            "Request {request_id} already has smart card {sc} bound."
        )));
    }
    if !matches!(
        req.request_type,
        RequestType::Enroll | RequestType::TemporaryCards | RequestType::Duplicate
    ) || !req.is_smartcard
    {
        return Err(forbidden(&format!(
            "Request {request_id} ({}) does not enroll a smart card.",
            req.request_type.name()
        )));
    }
    if let Some(sc) = st.smartcard_by_card(card_id) {
        let reusable = sc.status == SmartcardStatus::Retired
            && st
                .template(req.profile_template)
                .and_then(|t| t.smartcard.as_ref())
                .is_some_and(|c| c.allow_reuse);
        if !reusable {
            return Err(forbidden(&format!(
                "The smart card {{{card_id}}} is already registered (smart card {}).",
                sc.uuid
            )));
        }
    }
    let sc = SmartcardRec {
        uuid: Uuid::new_v4(),
        card_id,
        atr,
        status: SmartcardStatus::Assigned,
        assigned_user: req.target_user,
        profile_template: req.profile_template,
    };
    let profile = ProfileRec {
        uuid: sc.uuid,
        status: SmartcardStatus::Assigned,
        assigned_user: sc.assigned_user,
        profile_template: sc.profile_template,
    };
    let uuid = sc.uuid;
    st.smartcards.push(sc);
    st.profiles.push(profile);
    if let Some(r) = st.request_mut(request_id) {
        r.new_smartcard = Some(uuid);
        r.new_profile = Some(uuid);
    }
    Ok(json_string(201, &format!("api/v1.0/smartcards/{uuid}")))
}

/// The operations a card (or profile) in this status allows under its template, lowercase, in the
/// documentation example's order (`renew`, `unblock`, `retire`, then the others).
pub(crate) fn allowed_operations(
    st: &State,
    template: Uuid,
    status: SmartcardStatus,
) -> Vec<String> {
    const ORDER: [RequestType; 8] = [
        RequestType::Renew,
        RequestType::Unblock,
        RequestType::Retire,
        RequestType::Revoke,
        RequestType::OnlineUpdate,
        RequestType::Recover,
        RequestType::RecoverOnBehalf,
        RequestType::Reinstate,
    ];
    let Some(t) = st.template(template) else {
        return Vec::new();
    };
    ORDER
        .into_iter()
        .filter(|op| t.policy(*op).is_some())
        .filter(|op| match op {
            RequestType::Reinstate => {
                matches!(
                    status,
                    SmartcardStatus::Suspended | SmartcardStatus::Disabled
                )
            }
            _ => status == SmartcardStatus::Active,
        })
        .map(|op| op.operation_name())
        .collect()
}

/// A JSON string array, or 204 when empty.
pub(crate) fn strings_or_204(items: Vec<String>) -> Response {
    if items.is_empty() {
        Response::empty(204)
    } else {
        Response::json(200, Value::from(items).to_string())
    }
}

/// GET /smartcards/{scid}/operations
pub(crate) fn operations(ctx: &mut Ctx) -> Reply {
    let id = ctx.guid("scid")?;
    let ops = match ctx.state.smartcard(id) {
        Some(sc) => allowed_operations(ctx.state, sc.profile_template, sc.status),
        None => Vec::new(),
    };
    Ok(strings_or_204(ops))
}

/// The request and card of `/requests/{rid}/smartcards/{scid}/...`, checked: both exist, the request is
/// Approved or Executing and concerns the card. 403 otherwise.
fn request_and_card(ctx: &Ctx) -> Result<(RequestRec, SmartcardRec), Response> {
    let rid = ctx.guid("rid")?;
    let scid = ctx.guid("scid")?;
    let req = ctx
        .state
        .request(rid)
        .ok_or_else(|| no_access("Request", rid))?;
    let card = ctx
        .state
        .smartcard(scid)
        .ok_or_else(|| no_access("Smart card", scid))?;
    if !req.concerns_card(scid) {
        return Err(forbidden(&format!(
            "Smart card {scid} is not bound to request {rid}."
        )));
    }
    if !req.is_open_for_execution() {
        return Err(forbidden(&format!(
            "Request {rid} is {}; it must be Approved or Executing.",
            req.status.name()
        )));
    }
    Ok((req.clone(), card.clone()))
}

/// The `cardid` query parameter, required, and it must be the card's.
fn check_card_id(ctx: &Ctx, card: &SmartcardRec) -> Result<(), Response> {
    let given = guid_query(ctx, "cardid")?;
    if given != card.card_id {
        return Err(forbidden(&format!(
            "Card id {given} is not the card id of smart card {}.",
            card.uuid
        )));
    }
    Ok(())
}

fn smartcard_config(
    st: &State,
    card: &SmartcardRec,
) -> Result<crate::resources::templates::SmartcardConfigRec, Response> {
    st.template(card.profile_template)
        .and_then(|t| t.smartcard.clone())
        .ok_or_else(|| {
            forbidden("The smart card's profile template has no smart card configuration.")
        })
}

/// The card's diversified admin key.
pub(crate) fn diversified_admin_key(st: &State, card_id: Uuid) -> [u8; 24] {
    issuing::diversify(&st.admin_master_key, card_id.as_bytes())
}

/// GET /requests/{rid}/smartcards/{scid}/diversifiedkey?cardid=[&atr=] — base64 of the 24-byte key.
pub(crate) fn diversified_key(ctx: &mut Ctx) -> Reply {
    let (_, card) = request_and_card(ctx)?;
    check_card_id(ctx, &card)?;
    let config = smartcard_config(ctx.state, &card)?;
    if !config.diversify_admin_key {
        return Err(forbidden(
            "The profile template does not diversify the admin key.",
        ));
    }
    let key = diversified_admin_key(ctx.state, card.card_id);
    Ok(json_string(200, &issuing::b64(&key)))
}

/// GET /requests/{rid}/smartcards/{scid}/authenticationresponse?cardid=&challenge=&diversified=[&atr=]
/// — base64 of 3DES-EDE-ECB(challenge) under the admin key.
pub(crate) fn authentication_response(ctx: &mut Ctx) -> Reply {
    let (_, card) = request_and_card(ctx)?;
    check_card_id(ctx, &card)?;
    // A client that did not escape '+' has it decoded to ' ' by the query rules: put it back.
    let challenge_text = ctx
        .query("challenge")
        .ok_or_else(|| bad("Missing 'challenge'."))?
        .replace(' ', "+");
    let challenge: [u8; 8] = issuing::b64_decode_lenient(&challenge_text)
        .and_then(|c| c.try_into().ok())
        .ok_or_else(|| bad("'challenge' must be 8 bytes in base64."))?;
    let diversified = match ctx.query("diversified") {
        None => return Err(bad("Missing 'diversified'.")),
        Some(d) if d.trim().eq_ignore_ascii_case("true") => true,
        Some(d) if d.trim().eq_ignore_ascii_case("false") => false,
        Some(_) => return Err(bad("'diversified' must be true or false.")),
    };
    let config = smartcard_config(ctx.state, &card)?;
    let key = if diversified {
        if !config.diversify_admin_key {
            return Err(forbidden(
                "The profile template does not diversify the admin key.",
            ));
        }
        diversified_admin_key(ctx.state, card.card_id)
    } else {
        config.default_admin_key
    };
    Ok(json_string(
        200,
        &issuing::b64(&issuing::des3_ecb(&key, &challenge)),
    ))
}

/// The card's server-proposed PIN: 8 digits, deterministic per card (FNV-1a over the master key and the
/// card id, mod 10^8).
pub(crate) fn proposed_pin_for(st: &State, card_id: Uuid) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in st.admin_master_key.iter().chain(card_id.as_bytes()) {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("{:08}", h % 100_000_000)
}

fn proposed_pin_answer(ctx: &Ctx, card: &SmartcardRec) -> Reply {
    if let Some(c) = ctx.query("cardid") {
        let given = parse_guid(&c).ok_or_else(|| bad("'cardid' is not a GUID."))?;
        if given != card.card_id {
            return Err(forbidden(&format!(
                "Card id {given} is not the card id of smart card {}.",
                card.uuid
            )));
        }
    }
    let config = smartcard_config(ctx.state, card)?;
    if !config.server_proposed_pin {
        return Err(forbidden(
            "The profile template does not let the server propose a PIN.",
        ));
    }
    Ok(json_string(200, &proposed_pin_for(ctx.state, card.card_id)))
}

/// GET /smartcards/{scid}/serverproposedpin[?atr&cardid&challenge]
pub(crate) fn proposed_pin(ctx: &mut Ctx) -> Reply {
    let scid = ctx.guid("scid")?;
    let card = ctx
        .state
        .smartcard(scid)
        .ok_or_else(|| no_access("Smart card", scid))?
        .clone();
    proposed_pin_answer(ctx, &card)
}

/// GET /requests/{rid}/smartcards/{scid}/serverproposedpin[?atr&cardid&challenge]
pub(crate) fn request_proposed_pin(ctx: &mut Ctx) -> Reply {
    let (_, card) = request_and_card(ctx)?;
    proposed_pin_answer(ctx, &card)
}

/// PUT /requests/{rid}/smartcards/{scid} `{"status":"Retired"|"Active"|"Disabled"|"Suspended"}`.
pub(crate) fn set_status(ctx: &mut Ctx) -> Reply {
    let obj = ctx.json_object()?;
    let status = match prop(&obj, "status") {
        Some(Value::String(s)) => SmartcardStatus::from_name(s),
        _ => None,
    }
    .filter(|s| {
        matches!(
            s,
            SmartcardStatus::Retired
                | SmartcardStatus::Active
                | SmartcardStatus::Disabled
                | SmartcardStatus::Suspended
        )
    })
    .ok_or_else(|| bad("'status' must be Retired, Active, Disabled or Suspended."))?;
    let (req, card) = request_and_card(ctx)?;
    if card.status == SmartcardStatus::Retired && status != SmartcardStatus::Retired {
        return Err(forbidden(&format!(
            "Smart card {} is Retired; it cannot be set to {}.",
            card.uuid,
            status.name()
        )));
    }
    ctx.state.set_card_status(card.uuid, status);
    if req.status == RequestStatus::Approved
        && let Some(r) = ctx.state.request_mut(req.uuid)
    {
        r.status = RequestStatus::Executing;
    }
    let card = ctx.state.smartcard(card.uuid).expect("still there");
    Ok(object(&card.fields()))
}
