//! The one-shot exports: each call takes a `cm_connection`, opens its own connection and closes it after.
//! Process-wide caches (TLS trust roots and session tickets) still make repeated calls cheap; for many calls
//! use a `cm_session`.

use super::assign_result::cm_assign_result;
use super::calls::{self, Via};
use super::request::cm_request;
use super::smartcard::cm_smartcard;
use super::structs::{cm_assignment, cm_connection};
use crate::status::Status;
use core::ffi::c_char;

/// Binding state: no card is bound to the request; the assignment did not happen and may be sent again.
pub const CM_BINDING_NOT_BOUND: i32 = 0;
/// Binding state: this card is bound to the request; the assignment happened, do not send it again.
pub const CM_BINDING_BOUND_TO_THIS_CARD: i32 = 1;
/// Binding state: another card is bound to the request.
pub const CM_BINDING_BOUND_TO_OTHER_CARD: i32 = 2;

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
/// `CM_STATUS_AUTH_SERVER_UNVERIFIED`: the server bound the card (201) but did not prove its identity;
/// `*result_out` is filled as on success. Never resend.
///
/// Each call opens (and closes) its own connection; for many calls use a `cm_session`.
///
/// # Safety
/// Pointers must be NULL or valid for the call; strings NUL-terminated.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cm_assign_smartcard(
    connection: *const cm_connection,
    assignment: *const cm_assignment,
    result_out: *mut *mut cm_assign_result,
) -> Status {
    // SAFETY: forwarded caller contract.
    unsafe { calls::assign(Via::Connection(connection), assignment, result_out) }
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
    assignment: *const cm_assignment,
    state_out: *mut i32,
    smartcard_uuid_buf: *mut c_char,
    smartcard_uuid_buf_len: usize,
    smartcard_uuid_len_out: *mut usize,
) -> Status {
    // SAFETY: forwarded caller contract.
    unsafe {
        calls::reconcile(
            Via::Connection(connection),
            assignment,
            state_out,
            smartcard_uuid_buf,
            smartcard_uuid_buf_len,
            smartcard_uuid_len_out,
        )
    }
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
    // SAFETY: forwarded caller contract.
    unsafe { calls::find_smartcard(Via::Connection(connection), card_id, smartcard_out) }
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
    // SAFETY: forwarded caller contract.
    unsafe { calls::get_smartcard(Via::Connection(connection), smartcard_uuid, smartcard_out) }
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
    // SAFETY: forwarded caller contract.
    unsafe { calls::get_request(Via::Connection(connection), request_id, request_out) }
}
