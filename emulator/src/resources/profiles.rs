//! Profiles: list (`?status=`), get, a request's profiles, operations. A bound smart card's profile has the
//! card's Uuid; a software template's profile is created when its certificates are issued.

use super::smartcards::{allowed_operations, strings_or_204};
use super::{Ctx, Reply, bad, list_or_204, no_access, object};
use crate::http::Response;
use crate::state::{ProfileRec, State, ordered_json};
use crate::{RequestStatus, SmartcardStatus};

fn fields(st: &State, p: &ProfileRec) -> Vec<(&'static str, serde_json::Value)> {
    p.fields(allowed_operations(st, p.profile_template, p.status))
}

/// GET /profiles[?status=Name] — profile status names (Active, Assigned, ...); the documented request
/// status names that no profile has (Approved, Pending, ...) match nothing; other names → 400.
pub(crate) fn list(ctx: &mut Ctx) -> Reply {
    let filter = match ctx.query("status") {
        None => None,
        Some(s) if s.trim().is_empty() => None,
        Some(s) => match SmartcardStatus::from_name(&s) {
            Some(st) => Some(Some(st)),
            None if RequestStatus::from_name(&s).is_some() => Some(None),
            None => return Err(bad(&format!("Unknown profile status '{s}'."))),
        },
    };
    let st = &*ctx.state;
    Ok(list_or_204(
        st.profiles
            .iter()
            .filter(|p| filter.is_none_or(|f| f == Some(p.status)))
            .map(|p| ordered_json(&fields(st, p)))
            .collect(),
    ))
}

/// GET /profiles/{pid}
pub(crate) fn get(ctx: &mut Ctx) -> Reply {
    let id = ctx.guid("pid")?;
    let st = &*ctx.state;
    Ok(match st.profile(id) {
        Some(p) => object(&fields(st, p)),
        None => Response::empty(204),
    })
}

/// GET /requests/{rid}/profiles — the profile the request created or acts on.
pub(crate) fn for_request(ctx: &mut Ctx) -> Reply {
    let rid = ctx.guid("rid")?;
    let st = &*ctx.state;
    let req = st.request(rid).ok_or_else(|| no_access("Request", rid))?;
    Ok(list_or_204(
        st.profiles
            .iter()
            .filter(|p| Some(p.uuid) == req.new_profile || Some(p.uuid) == req.old_smartcard)
            .map(|p| ordered_json(&fields(st, p)))
            .collect(),
    ))
}

/// GET /profiles/{pid}/operations
pub(crate) fn operations(ctx: &mut Ctx) -> Reply {
    let id = ctx.guid("pid")?;
    let st = &*ctx.state;
    Ok(strings_or_204(match st.profile(id) {
        Some(p) => allowed_operations(st, p.profile_template, p.status),
        None => Vec::new(),
    }))
}
