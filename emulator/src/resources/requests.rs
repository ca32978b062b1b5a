//! Requests: create (`POST /requests`, every type), get, list, set state (`PUT /requests/{id}`), and the
//! side effects of completing one on its card and profile.

use super::{
    Ctx, Reply, bad, forbidden, invalid, json_string, no_access, object, opt_guid_prop,
    opt_str_prop, prop,
};
use crate::http::Response;
use crate::state::{RequestRec, iso_now, ordered_array, ordered_json};
use crate::{CALLER_USER_UUID, RequestStatus, RequestType, SmartcardStatus};
use serde_json::{Map, Value};
use uuid::Uuid;

/// GET /requests[?status=Name][&targetuser=current] — 200 array (empty included: the behaviour before
/// issue 10, kept for compatibility).
pub(crate) fn list(ctx: &mut Ctx) -> Reply {
    let filter = match ctx.query("status") {
        None => None,
        Some(s) if s.is_empty() => None,
        Some(s) => Some(RequestStatus::from_name(&s).ok_or_else(invalid)?),
    };
    let mine = match ctx.query("targetuser") {
        None => false,
        Some(s) if s.is_empty() => false,
        Some(s) if s.eq_ignore_ascii_case("current") => true,
        Some(_) => return Err(bad("Only targetuser=current is supported.")),
    };
    let items = ctx
        .state
        .requests
        .iter()
        .filter(|r| filter.is_none_or(|f| r.status == f))
        .filter(|r| !mine || r.target_user == CALLER_USER_UUID);
    Ok(Response::json(
        200,
        ordered_array(items.map(|r| ordered_json(&r.fields()))),
    ))
}

/// GET /requests/{rid}
pub(crate) fn get(ctx: &mut Ctx) -> Reply {
    let id = ctx.guid("rid")?;
    Ok(match ctx.state.request(id) {
        Some(r) => object(&r.fields()),
        None => Response::empty(204),
    })
}

/// `datacollection` in any documented form: an array of `{name, value}`, an array of single-key objects
/// (`{"city":"seattle"}`), or either of these as a JSON string (`"[]"`).
fn data_collection(v: Option<&Value>) -> Result<Vec<(String, Option<String>)>, Response> {
    let parsed;
    let v = match v {
        None => return Ok(Vec::new()),
        Some(Value::String(s)) if s.trim().is_empty() => return Ok(Vec::new()),
        Some(Value::String(s)) => {
            parsed = serde_json::from_str::<Value>(s)
                .map_err(|_| bad("'datacollection' is not a JSON array."))?;
            &parsed
        }
        Some(v) => v,
    };
    let Value::Array(items) = v else {
        return Err(bad("'datacollection' must be an array."));
    };
    let text = |v: &Value| -> Result<Option<String>, Response> {
        match v {
            Value::Null => Ok(None),
            Value::String(s) => Ok(Some(s.clone())),
            Value::Number(n) => Ok(Some(n.to_string())),
            Value::Bool(b) => Ok(Some(b.to_string())),
            _ => Err(bad("A 'datacollection' value must be a string.")),
        }
    };
    items
        .iter()
        .map(|item| {
            let Value::Object(m) = item else {
                return Err(bad("'datacollection' items must be objects."));
            };
            let name = m.iter().find(|(k, _)| k.eq_ignore_ascii_case("name"));
            let value = m.iter().find(|(k, _)| k.eq_ignore_ascii_case("value"));
            match (name, value, m.len()) {
                (Some((_, Value::String(n))), Some((_, v)), 2) => Ok((n.clone(), text(v)?)),
                (_, _, 1) => {
                    let (k, v) = m.iter().next().expect("one entry");
                    Ok((k.clone(), text(v)?))
                }
                _ => Err(bad(
                    "A 'datacollection' item is {\"name\":N,\"value\":V} or {\"N\":V}.",
                )),
            }
        })
        .collect()
}

/// `priority` as a number or a numeric string.
fn priority(v: Option<&Value>) -> Result<Option<i64>, Response> {
    match v {
        None => Ok(None),
        Some(Value::Number(n)) => n
            .as_i64()
            .map(Some)
            .ok_or_else(|| bad("'priority' must be an integer.")),
        Some(Value::String(s)) => s
            .trim()
            .parse::<i64>()
            .map(Some)
            .map_err(|_| bad("'priority' must be an integer.")),
        Some(_) => Err(bad("'priority' must be an integer.")),
    }
}

/// The card states that allow a request of this type on an existing card.
fn card_allows(t: RequestType, status: SmartcardStatus) -> bool {
    match t {
        RequestType::Reinstate => {
            matches!(
                status,
                SmartcardStatus::Suspended | SmartcardStatus::Disabled
            )
        }
        _ => status == SmartcardStatus::Active,
    }
}

/// POST /requests — 201 `"api/v1.0/requests/<uuid>"`.
pub(crate) fn create(ctx: &mut Ctx) -> Reply {
    let obj: Map<String, Value> = ctx.json_object()?;
    let type_name = opt_str_prop(&obj, "type")?.ok_or_else(|| bad("Missing 'type'."))?;
    let request_type = RequestType::from_name(type_name)
        .ok_or_else(|| bad(&format!("Unknown request type '{type_name}'.")))?;
    let template_id = opt_guid_prop(&obj, "profiletemplateuuid")?;
    let card_id = opt_guid_prop(&obj, "smartcard")?;
    let target = opt_guid_prop(&obj, "target")?;
    let comment = opt_str_prop(&obj, "comment")?.unwrap_or("").to_string();
    let data = data_collection(prop(&obj, "datacollection"))?;
    let priority = priority(prop(&obj, "priority"))?;
    if template_id.is_none() && card_id.is_none() {
        return Err(bad("Missing 'profiletemplateuuid'."));
    }

    let st = &*ctx.state;
    // The card a non-Enroll request acts on, and the template it implies.
    let card = match card_id {
        Some(c) => Some(
            st.smartcard(c)
                .ok_or_else(|| no_access("Smart card", c))?
                .clone(),
        ),
        None => None,
    };
    let template_id = match (template_id, &card) {
        (Some(t), Some(c)) if t != c.profile_template => {
            return Err(forbidden(&format!(
                "Smart card {} does not belong to profile template {t}.",
                c.uuid
            )));
        }
        (Some(t), _) => t,
        (None, Some(c)) => c.profile_template,
        (None, None) => unreachable!("checked above"),
    };
    let template = st
        .template(template_id)
        .ok_or_else(|| no_access("Profile template", template_id))?;
    let policy = template.policy(request_type).ok_or_else(|| {
        forbidden(&format!(
            "The {} policy of profile template '{}' is not enabled.",
            request_type.policy_name(),
            template.name
        ))
    })?;
    if request_type.acts_on_existing_card() && template.is_smartcard {
        let Some(c) = &card else {
            return Err(bad(&format!(
                "A {} request needs 'smartcard'.",
                request_type.name()
            )));
        };
        if !card_allows(request_type, c.status) {
            return Err(forbidden(&format!(
                "Smart card {} is {}; a {} request is not allowed.",
                c.uuid,
                c.status.name(),
                request_type.name()
            )));
        }
    } else if let Some(c) = &card
        && !request_type.acts_on_existing_card()
    {
        return Err(forbidden(&format!(
            "A {} request cannot name an existing smart card ({}).",
            request_type.name(),
            c.uuid
        )));
    }

    // The policy's data items first (null where not given), then any others sent.
    let mut collected: Vec<(String, Option<String>)> = policy
        .data_collection
        .iter()
        .map(|d| {
            let v = data
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(d.name))
                .and_then(|(_, v)| v.clone());
            (d.name.to_string(), v)
        })
        .collect();
    for (n, v) in &data {
        if !collected.iter().any(|(c, _)| c.eq_ignore_ascii_case(n)) {
            collected.push((n.clone(), v.clone()));
        }
    }

    let uuid = Uuid::new_v4();
    let approvals = policy.approvals_needed;
    let rec = RequestRec {
        request_type,
        status: if approvals == 0 {
            RequestStatus::Approved
        } else {
            RequestStatus::Pending
        },
        approvals_left: approvals,
        old_smartcard: card.as_ref().map(|c| c.uuid),
        target_user: target
            .or(card.as_ref().map(|c| c.assigned_user))
            .unwrap_or(CALLER_USER_UUID),
        profile_template: template_id,
        data_collection: collected,
        comment,
        priority: priority.unwrap_or(0),
        is_smartcard: template.is_smartcard,
        submitted: iso_now(),
        ..RequestRec::new(uuid, RequestStatus::Approved)
    };
    ctx.state.upsert(rec);
    Ok(json_string(201, &format!("api/v1.0/requests/{uuid}")))
}

/// PUT /requests/{rid} `{"status":"Completed"|"Canceled"|"Abandoned"}`.
pub(crate) fn set_status(ctx: &mut Ctx) -> Reply {
    let id = ctx.guid("rid")?;
    let obj = ctx.json_object()?;
    let status = match prop(&obj, "status") {
        Some(Value::String(s)) => RequestStatus::from_name(s),
        _ => None,
    };
    let Some(status) = status.filter(|s| {
        matches!(
            s,
            RequestStatus::Completed | RequestStatus::Canceled | RequestStatus::Abandoned
        )
    }) else {
        return Err(bad("'status' must be Completed, Canceled or Abandoned."));
    };
    let req = ctx
        .state
        .request_mut(id)
        .ok_or_else(|| no_access("Request", id))?;
    let allowed = match status {
        RequestStatus::Completed => req.is_open_for_execution(),
        _ => !req.status.is_final(),
    };
    if !allowed {
        return Err(forbidden(&format!(
            "Request {id} is {}; it cannot be set to {}.",
            req.status.name(),
            status.name()
        )));
    }
    req.status = status;
    req.completed = Some(iso_now());
    let (t, new_card, new_profile, old_card) = (
        req.request_type,
        req.new_smartcard,
        req.new_profile,
        req.old_smartcard,
    );
    if status == RequestStatus::Completed {
        complete_effects(ctx.state, t, new_card, new_profile, old_card);
    }
    let req = ctx.state.request(id).expect("still there");
    Ok(object(&req.fields()))
}

/// What completing a request does to its card and profile.
fn complete_effects(
    st: &mut crate::state::State,
    t: RequestType,
    new_card: Option<Uuid>,
    new_profile: Option<Uuid>,
    old_card: Option<Uuid>,
) {
    match t {
        RequestType::Enroll | RequestType::TemporaryCards => {
            if let Some(c) = new_card {
                st.set_card_status(c, SmartcardStatus::Active);
            }
            if let Some(p) = new_profile {
                st.set_profile_status(p, SmartcardStatus::Active);
            }
        }
        RequestType::Retire => {
            if let Some(c) = old_card {
                st.set_card_status(c, SmartcardStatus::Retired);
            }
        }
        RequestType::Revoke => {
            if let Some(c) = old_card {
                st.set_card_status(c, SmartcardStatus::Disabled);
            }
        }
        RequestType::Reinstate => {
            if let Some(c) = old_card {
                st.set_card_status(c, SmartcardStatus::Active);
            }
        }
        _ => {}
    }
}
