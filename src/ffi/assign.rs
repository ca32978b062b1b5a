//! `cm_assign_smartcard` and the reconciliation exports: the server side of the job.

use super::structs::{assignment, cm_assignment, cm_connection, connection_config};
use super::{
    free_boxed, guard, guard_value, into_raw, required_out, required_ref, required_str,
    write_str_out,
};
use crate::cm::{AssignOutcome, CmClient, CmRequest, Smartcard};
use crate::error::{Error, Result};
use crate::status::Status;
use core::ffi::c_char;

/// Binding state: no card is bound to the request; the assignment did not happen and may be sent again.
pub const CM_BINDING_NOT_BOUND: i32 = 0;
/// Binding state: this card is bound to the request; the assignment happened, do not send it again.
pub const CM_BINDING_BOUND_TO_THIS_CARD: i32 = 1;
/// Binding state: another card is bound to the request.
pub const CM_BINDING_BOUND_TO_OTHER_CARD: i32 = 2;

/// The outcome of a successful `cm_assign_smartcard`. Free with `cm_assign_result_free`.
pub struct cm_assign_result {
    pub(crate) outcome: AssignOutcome,
    /// What was sent (normalized), so callers of the from-reader call learn the card id and ATR.
    pub(crate) assignment: crate::cm::Assignment,
}

/// A CM smartcard object read from the server. Free with `cm_smartcard_free`.
pub struct cm_smartcard {
    card: Smartcard,
}

/// A CM request object read from the server. Free with `cm_request_free`.
pub struct cm_request {
    request: CmRequest,
}

/// Clears an optional object output at entry, so a failing call never leaves garbage in it.
pub(crate) fn reset_out<T>(out: *mut *mut T) {
    if !out.is_null() {
        // SAFETY: the caller passes NULL or a writable pointer location.
        unsafe { *out = std::ptr::null_mut() };
    }
}

/// Binds a smart card to a CM request: `POST {server}/CertificateManagement/api/v1.0/smartcards` with
/// `{"requestid","cardid","atr"}`.
///
/// - `connection`: server and authentication (required).
/// - `assignment`: request id, card id, ATR (required); validated and normalized before anything is sent.
/// - `result_out`: receives the result on success (free it with `cm_assign_result_free`); NULL if the caller
///   does not need it. Set to NULL on failure.
///
/// The POST is sent at most once. When the connection breaks after its bytes may have reached the server,
/// the call returns `CM_STATUS_OUTCOME_UNKNOWN` and does not retry: call `cm_reconcile_assignment` to learn
/// whether the card was bound. Blocks for at most the configured timeouts per authentication leg.
///
/// # Safety
/// Pointers must be NULL or valid for the call; strings NUL-terminated.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cm_assign_smartcard(
    connection: *const cm_connection,
    assignment_in: *const cm_assignment,
    result_out: *mut *mut cm_assign_result,
) -> Status {
    guard(|| {
        reset_out(result_out);
        // SAFETY: forwarded caller contract.
        let (config, assignment) =
            unsafe { (connection_config(connection)?, assignment(assignment_in)?) };
        let outcome = CmClient::new(config)?.assign_smartcard(&assignment)?;
        if !result_out.is_null() {
            // SAFETY: checked non-NULL; the caller passes a writable location.
            unsafe {
                *result_out = into_raw(cm_assign_result {
                    outcome,
                    assignment,
                })
            };
        }
        Ok(())
    })
}

/// The HTTP status of the successful answer: 201 (the body named the smartcard) or 204 (no body).
/// Returns 0 for NULL.
///
/// # Safety
/// `result` must be NULL or a live `cm_assign_result`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cm_assign_result_http_status(result: *const cm_assign_result) -> i32 {
    // SAFETY: forwarded.
    guard_value(0, || {
        unsafe { result.as_ref() }.map_or(0, |r| i32::from(r.outcome.http_status))
    })
}

/// Copies the smartcard URI exactly as the server returned it (e.g. `api/v1.0/smartcards/<uuid>`);
/// "" after a 204 answer. Size-query pattern (see the header's conventions).
///
/// # Safety
/// `result` must be NULL or live; `buf` NULL or `buf_len` writable bytes; `len_out` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cm_assign_result_smartcard_uri(
    result: *const cm_assign_result,
    buf: *mut c_char,
    buf_len: usize,
    len_out: *mut usize,
) -> Status {
    guard(|| {
        // SAFETY: forwarded.
        let r = unsafe { required_ref(result, "result") }?;
        // SAFETY: forwarded.
        unsafe {
            write_str_out(
                r.outcome.smartcard_uri.as_deref().unwrap_or(""),
                buf,
                buf_len,
                len_out,
            )
        }
    })
}

/// Copies the new CM smartcard uuid parsed from the URI (lowercase, 36 characters; a
/// `CM_UUID_BUFFER_SIZE` buffer always suffices); "" after a 204 answer. Size-query pattern.
///
/// # Safety
/// As `cm_assign_result_smartcard_uri`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cm_assign_result_smartcard_uuid(
    result: *const cm_assign_result,
    buf: *mut c_char,
    buf_len: usize,
    len_out: *mut usize,
) -> Status {
    guard(|| {
        // SAFETY: forwarded.
        let r = unsafe { required_ref(result, "result") }?;
        let uuid = r
            .outcome
            .smartcard_uuid
            .map(|u| u.hyphenated().to_string())
            .unwrap_or_default();
        // SAFETY: forwarded.
        unsafe { write_str_out(&uuid, buf, buf_len, len_out) }
    })
}

/// Copies the card id that was sent (lowercase hyphenated GUID). Size-query pattern.
///
/// # Safety
/// As `cm_assign_result_smartcard_uri`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cm_assign_result_card_id(
    result: *const cm_assign_result,
    buf: *mut c_char,
    buf_len: usize,
    len_out: *mut usize,
) -> Status {
    string_field(
        result,
        "result",
        |r| r.assignment.card_id.clone(),
        buf,
        buf_len,
        len_out,
    )
}

/// Copies the ATR that was sent (lowercase packed hex; "" when none was sent). Size-query pattern.
///
/// # Safety
/// As `cm_assign_result_smartcard_uri`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cm_assign_result_atr(
    result: *const cm_assign_result,
    buf: *mut c_char,
    buf_len: usize,
    len_out: *mut usize,
) -> Status {
    string_field(
        result,
        "result",
        |r| r.assignment.atr.clone().unwrap_or_default(),
        buf,
        buf_len,
        len_out,
    )
}

/// Frees a result; NULL is ignored.
///
/// # Safety
/// `result` must be NULL or a result not yet freed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cm_assign_result_free(result: *mut cm_assign_result) {
    // SAFETY: forwarded.
    guard_value((), || unsafe { free_boxed(result) })
}

/// Learns whether an assignment took effect, after `CM_STATUS_OUTCOME_UNKNOWN` (or any doubt): reads the
/// request (`GET /requests/{id}`) and, when a card is bound to it, that smartcard (`GET /smartcards/{uuid}`),
/// and compares its serial number with the card id. Only GETs are sent.
///
/// - `state_out` (required): one of `CM_BINDING_*`.
/// - `smartcard_uuid_buf`/`smartcard_uuid_buf_len`/`smartcard_uuid_len_out`: the smartcard bound to the
///   request ("" when none), size-query pattern; the buffer may be NULL with length 0 when not wanted, in
///   which case `smartcard_uuid_len_out` may be NULL too. `CM_UUID_BUFFER_SIZE` bytes always suffice.
///
/// An unknown request gives `CM_STATUS_HTTP_FORBIDDEN` with HTTP status 204 in the last error.
///
/// # Safety
/// Pointers must be NULL or valid for the call.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cm_reconcile_assignment(
    connection: *const cm_connection,
    assignment_in: *const cm_assignment,
    state_out: *mut i32,
    smartcard_uuid_buf: *mut c_char,
    smartcard_uuid_buf_len: usize,
    smartcard_uuid_len_out: *mut usize,
) -> Status {
    guard(|| {
        // SAFETY: forwarded caller contract.
        let state_out = unsafe { required_out(state_out, "state_out") }?;
        // SAFETY: forwarded.
        let (config, assignment) =
            unsafe { (connection_config(connection)?, assignment(assignment_in)?) };
        let reconciliation = CmClient::new(config)?.reconcile(&assignment)?;
        let uuid = reconciliation
            .smartcard_uuid
            .map(|u| u.hyphenated().to_string())
            .unwrap_or_default();
        let uuid_wanted = !smartcard_uuid_buf.is_null()
            || smartcard_uuid_buf_len != 0
            || !smartcard_uuid_len_out.is_null();
        if uuid_wanted {
            // SAFETY: forwarded.
            unsafe {
                write_str_out(
                    &uuid,
                    smartcard_uuid_buf,
                    smartcard_uuid_buf_len,
                    smartcard_uuid_len_out,
                )
            }?;
        }
        *state_out = reconciliation.state as i32;
        Ok(())
    })
}

fn lookup<T>(out: *mut *mut T, fetch: impl FnOnce() -> Result<Option<T>>) -> Status {
    guard(|| {
        if out.is_null() {
            return Err(Error::new(
                Status::NullArgument,
                "the output pointer is NULL",
            ));
        }
        reset_out(out);
        if let Some(value) = fetch()? {
            // SAFETY: checked non-NULL.
            unsafe { *out = into_raw(value) };
        }
        Ok(())
    })
}

/// Looks up the smartcard CM holds for a card id (`GET /smartcards?cardid=`). On success `*smartcard_out`
/// is the smartcard (free with `cm_smartcard_free`) or NULL when CM has none for this card.
///
/// # Safety
/// Pointers must be NULL or valid; `card_id` NUL-terminated.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cm_find_smartcard(
    connection: *const cm_connection,
    card_id: *const c_char,
    smartcard_out: *mut *mut cm_smartcard,
) -> Status {
    lookup(smartcard_out, || {
        // SAFETY: forwarded.
        let (config, card_id) = unsafe {
            (
                connection_config(connection)?,
                required_str(card_id, "card_id")?,
            )
        };
        Ok(CmClient::new(config)?
            .find_smartcard_by_card_id(card_id)?
            .map(|card| cm_smartcard { card }))
    })
}

/// Reads a smartcard by its CM uuid (`GET /smartcards/{uuid}`). On success `*smartcard_out` is the
/// smartcard or NULL when CM does not know it.
///
/// # Safety
/// Pointers must be NULL or valid; `smartcard_uuid` NUL-terminated.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cm_get_smartcard(
    connection: *const cm_connection,
    smartcard_uuid: *const c_char,
    smartcard_out: *mut *mut cm_smartcard,
) -> Status {
    lookup(smartcard_out, || {
        // SAFETY: forwarded.
        let (config, id) = unsafe {
            (
                connection_config(connection)?,
                required_str(smartcard_uuid, "smartcard_uuid")?,
            )
        };
        Ok(CmClient::new(config)?
            .get_smartcard(id)?
            .map(|card| cm_smartcard { card }))
    })
}

/// Reads a CM request (`GET /requests/{id}`). On success `*request_out` is the request (free with
/// `cm_request_free`) or NULL when CM does not know it.
///
/// # Safety
/// Pointers must be NULL or valid; `request_id` NUL-terminated.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cm_get_request(
    connection: *const cm_connection,
    request_id: *const c_char,
    request_out: *mut *mut cm_request,
) -> Status {
    lookup(request_out, || {
        // SAFETY: forwarded.
        let (config, id) = unsafe {
            (
                connection_config(connection)?,
                required_str(request_id, "request_id")?,
            )
        };
        Ok(CmClient::new(config)?
            .get_request(id)?
            .map(|request| cm_request { request }))
    })
}

pub(crate) fn string_field<T>(
    obj: *const T,
    name: &str,
    pick: impl FnOnce(&T) -> String,
    buf: *mut c_char,
    buf_len: usize,
    len_out: *mut usize,
) -> Status {
    guard(|| {
        // SAFETY: the caller passes NULL or a live object.
        let o = unsafe { required_ref(obj, name) }?;
        // SAFETY: forwarded.
        unsafe { write_str_out(&pick(o), buf, buf_len, len_out) }
    })
}

/// Copies the smartcard's CM uuid. Size-query pattern.
///
/// # Safety
/// `smartcard` NULL or live; buffers as in the conventions.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cm_smartcard_uuid(
    smartcard: *const cm_smartcard,
    buf: *mut c_char,
    buf_len: usize,
    len_out: *mut usize,
) -> Status {
    string_field(
        smartcard,
        "smartcard",
        |s| s.card.uuid.hyphenated().to_string(),
        buf,
        buf_len,
        len_out,
    )
}

/// Copies the smartcard's `SerialNumber` as CM returned it (for Base CSP cards `{card id}` in braces).
/// Size-query pattern.
///
/// # Safety
/// As `cm_smartcard_uuid`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cm_smartcard_serial_number(
    smartcard: *const cm_smartcard,
    buf: *mut c_char,
    buf_len: usize,
    len_out: *mut usize,
) -> Status {
    string_field(
        smartcard,
        "smartcard",
        |s| s.card.serial_number.clone(),
        buf,
        buf_len,
        len_out,
    )
}

/// Copies the smartcard's `Atr`. Size-query pattern.
///
/// # Safety
/// As `cm_smartcard_uuid`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cm_smartcard_atr(
    smartcard: *const cm_smartcard,
    buf: *mut c_char,
    buf_len: usize,
    len_out: *mut usize,
) -> Status {
    string_field(
        smartcard,
        "smartcard",
        |s| s.card.atr.clone(),
        buf,
        buf_len,
        len_out,
    )
}

/// Copies the whole smartcard object as the server's JSON, for fields not modelled here. Size-query pattern.
///
/// # Safety
/// As `cm_smartcard_uuid`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cm_smartcard_json(
    smartcard: *const cm_smartcard,
    buf: *mut c_char,
    buf_len: usize,
    len_out: *mut usize,
) -> Status {
    string_field(
        smartcard,
        "smartcard",
        |s| s.card.json.to_string(),
        buf,
        buf_len,
        len_out,
    )
}

/// The smartcard's numeric `Status` as CM returned it (-1 when absent or for NULL).
///
/// # Safety
/// `smartcard` NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cm_smartcard_status(smartcard: *const cm_smartcard) -> i32 {
    // SAFETY: forwarded.
    guard_value(-1, || {
        unsafe { smartcard.as_ref() }.map_or(-1, |s| i32::try_from(s.card.status).unwrap_or(-1))
    })
}

/// Frees a smartcard; NULL is ignored.
///
/// # Safety
/// `smartcard` NULL or not yet freed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cm_smartcard_free(smartcard: *mut cm_smartcard) {
    // SAFETY: forwarded.
    guard_value((), || unsafe { free_boxed(smartcard) })
}

/// The request's numeric `Status` as CM returned it (-1 when absent or for NULL). The docs show 3 for an
/// approved request and 8 for a completed one; other values are undocumented.
///
/// # Safety
/// `request` NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cm_request_status(request: *const cm_request) -> i32 {
    // SAFETY: forwarded.
    guard_value(-1, || {
        unsafe { request.as_ref() }.map_or(-1, |r| i32::try_from(r.request.status).unwrap_or(-1))
    })
}

/// Copies the request's `NewSmartcardUuid`: the smartcard bound to it, "" while none is. Size-query pattern.
///
/// # Safety
/// `request` NULL or live; buffers as in the conventions.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cm_request_new_smartcard_uuid(
    request: *const cm_request,
    buf: *mut c_char,
    buf_len: usize,
    len_out: *mut usize,
) -> Status {
    string_field(
        request,
        "request",
        |r| {
            r.request
                .new_smartcard_uuid
                .map(|u| u.hyphenated().to_string())
                .unwrap_or_default()
        },
        buf,
        buf_len,
        len_out,
    )
}

/// Copies the whole request object as the server's JSON. Size-query pattern.
///
/// # Safety
/// As `cm_request_new_smartcard_uuid`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cm_request_json(
    request: *const cm_request,
    buf: *mut c_char,
    buf_len: usize,
    len_out: *mut usize,
) -> Status {
    string_field(
        request,
        "request",
        |r| r.request.json.to_string(),
        buf,
        buf_len,
        len_out,
    )
}

/// Frees a request; NULL is ignored.
///
/// # Safety
/// `request` NULL or not yet freed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cm_request_free(request: *mut cm_request) {
    // SAFETY: forwarded.
    guard_value((), || unsafe { free_boxed(request) })
}
