//! The server calls, written once for both ways of reaching the server: a one-shot `cm_connection` (a client
//! built for the call, its connection closed after it) and a `cm_session` (pooled, authenticated
//! connections). The exports in `connection.rs` and `session.rs` are one line each on top of these.

use super::assign_result::cm_assign_result;
use super::card::guid_order;
use super::request::cm_request;
use super::session::cm_session;
use super::smartcard::cm_smartcard;
use super::structs::{assignment, cm_assignment, cm_connection, connection_config};
use super::{guard, into_raw, required_out, required_ref, required_str, reset_out, write_str_out};
use crate::cm::{CmClient, Smartcard};
use crate::error::{Error, Result};
use crate::status::Status;
use core::ffi::{CStr, c_char};

/// Where a call gets its client.
#[derive(Clone, Copy)]
pub(crate) enum Via {
    /// A client for this call only.
    Connection(*const cm_connection),
    /// A session's client.
    Session(*const cm_session),
}

impl Via {
    /// Runs `f` with the client.
    ///
    /// # Safety
    /// The pointer inside must be NULL or valid for the call.
    pub(crate) unsafe fn with<T>(self, f: impl FnOnce(&CmClient) -> Result<T>) -> Result<T> {
        match self {
            Via::Connection(c) => {
                // SAFETY: forwarded caller contract.
                let client = CmClient::new(unsafe { connection_config(c) }?)?;
                f(&client)
            }
            Via::Session(s) => {
                // SAFETY: forwarded caller contract.
                let session = unsafe { required_ref(s, "session") }?;
                f(&session.client)
            }
        }
    }
}

/// Stores an object in `*out` (when `out` is not NULL); then reports a warning as the call's status. The one
/// non-OK status with outputs: `CM_STATUS_AUTH_SERVER_UNVERIFIED` (processed, server identity not proven).
pub(crate) fn deliver<T>(out: *mut *mut T, value: T, warning: Option<Error>) -> Result<()> {
    if !out.is_null() {
        // SAFETY: checked non-NULL; the caller passes a writable location.
        unsafe { *out = into_raw(value) };
    }
    warning.map_or(Ok(()), Err)
}

/// `cm_assign_smartcard` / `cm_session_assign_smartcard`.
///
/// # Safety
/// Pointers NULL or valid for the call.
pub(crate) unsafe fn assign(
    via: Via,
    assignment_in: *const cm_assignment,
    result_out: *mut *mut cm_assign_result,
) -> Status {
    guard(|| {
        reset_out(result_out);
        // SAFETY: forwarded caller contract.
        unsafe {
            via.with(|client| {
                let assignment = assignment(assignment_in)?;
                let outcome = client.assign_smartcard(&assignment)?;
                let warning = outcome.warning.clone();
                deliver(
                    result_out,
                    cm_assign_result {
                        outcome,
                        assignment,
                    },
                    warning,
                )
            })
        }
    })
}

/// `cm_assign_smartcard_from_reader` / `cm_session_assign_smartcard_from_reader`.
///
/// # Safety
/// Pointers NULL or valid for the call.
pub(crate) unsafe fn assign_from_reader(
    via: Via,
    request_id: *const c_char,
    reader: *const c_char,
    byte_order: u32,
    result_out: *mut *mut cm_assign_result,
) -> Status {
    guard(|| {
        reset_out(result_out);
        let order = guid_order(byte_order)?;
        // SAFETY: forwarded caller contract.
        unsafe {
            via.with(|client| {
                let request_id = required_str(request_id, "request_id")?;
                // NULL and "" both mean "the first reader holding a card".
                let reader = (!reader.is_null())
                    .then(|| CStr::from_ptr(reader))
                    .filter(|r| !r.is_empty());
                let (assignment, outcome) =
                    client.assign_card_in_reader(request_id, reader, order)?;
                let warning = outcome.warning.clone();
                deliver(
                    result_out,
                    cm_assign_result {
                        outcome,
                        assignment,
                    },
                    warning,
                )
            })
        }
    })
}

/// `cm_reconcile_assignment` / `cm_session_reconcile_assignment`.
///
/// # Safety
/// Pointers NULL or valid for the call.
pub(crate) unsafe fn reconcile(
    via: Via,
    assignment_in: *const cm_assignment,
    state_out: *mut i32,
    uuid_buf: *mut c_char,
    uuid_buf_len: usize,
    uuid_len_out: *mut usize,
) -> Status {
    guard(|| {
        // SAFETY: forwarded caller contract.
        let state_out = unsafe { required_out(state_out, "state_out") }?;
        // SAFETY: forwarded.
        let reconciliation =
            unsafe { via.with(|client| client.reconcile(&assignment(assignment_in)?)) }?;
        let uuid = reconciliation
            .smartcard_uuid
            .map(|u| u.hyphenated().to_string())
            .unwrap_or_default();
        let uuid_wanted = !uuid_buf.is_null() || uuid_buf_len != 0 || !uuid_len_out.is_null();
        if uuid_wanted {
            // SAFETY: forwarded.
            unsafe { write_str_out(&uuid, uuid_buf, uuid_buf_len, uuid_len_out) }?;
        }
        *state_out = reconciliation.state as i32;
        reconciliation.warning.map_or(Ok(()), Err)
    })
}

/// A lookup by one string argument (`arg`, named `arg_name` in messages) whose output is required; NULL stays
/// in it when the server has no such object.
///
/// # Safety
/// Pointers NULL or valid for the call.
unsafe fn lookup<T>(
    via: Via,
    arg: *const c_char,
    arg_name: &str,
    out: *mut *mut T,
    fetch: impl FnOnce(&CmClient, &str) -> Result<Option<(T, Option<Error>)>>,
) -> Status {
    guard(|| {
        if out.is_null() {
            return Err(Error::new(
                Status::NullArgument,
                "the output pointer is NULL",
            ));
        }
        reset_out(out);
        // SAFETY: forwarded caller contract.
        let found = unsafe { via.with(|client| fetch(client, required_str(arg, arg_name)?)) }?;
        match found {
            Some((value, warning)) => deliver(out, value, warning),
            None => Ok(()),
        }
    })
}

fn smartcard(card: Smartcard) -> (cm_smartcard, Option<Error>) {
    let warning = card.warning.clone();
    (cm_smartcard { card }, warning)
}

/// `cm_find_smartcard` / `cm_session_find_smartcard`.
///
/// # Safety
/// Pointers NULL or valid for the call.
pub(crate) unsafe fn find_smartcard(
    via: Via,
    card_id: *const c_char,
    out: *mut *mut cm_smartcard,
) -> Status {
    // SAFETY: forwarded.
    unsafe {
        lookup(via, card_id, "card_id", out, |client, id| {
            Ok(client.find_smartcard_by_card_id(id)?.map(smartcard))
        })
    }
}

/// `cm_get_smartcard` / `cm_session_get_smartcard`.
///
/// # Safety
/// Pointers NULL or valid for the call.
pub(crate) unsafe fn get_smartcard(
    via: Via,
    smartcard_uuid: *const c_char,
    out: *mut *mut cm_smartcard,
) -> Status {
    // SAFETY: forwarded.
    unsafe {
        lookup(via, smartcard_uuid, "smartcard_uuid", out, |client, id| {
            Ok(client.get_smartcard(id)?.map(smartcard))
        })
    }
}

/// `cm_get_request` / `cm_session_get_request`.
///
/// # Safety
/// Pointers NULL or valid for the call.
pub(crate) unsafe fn get_request(
    via: Via,
    request_id: *const c_char,
    out: *mut *mut cm_request,
) -> Status {
    // SAFETY: forwarded.
    unsafe {
        lookup(via, request_id, "request_id", out, |client, id| {
            Ok(client.get_request(id)?.map(|request| {
                let warning = request.warning.clone();
                (cm_request { request }, warning)
            }))
        })
    }
}
