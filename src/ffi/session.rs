//! `cm_session`: a long-lived, thread-safe client for a host that makes many calls — keep-alive connections
//! (authenticated once with Negotiate/NTLM where the server keeps it per connection, as IIS does), TLS
//! session resumption, trust roots parsed once.

use super::assign_result::cm_assign_result;
use super::calls::{self, Via};
use super::request::cm_request;
use super::smartcard::cm_smartcard;
use super::structs::{cm_assignment, cm_connection, connection_config};
use super::{free_boxed, guard, guard_value, into_raw, required_out};
use crate::cm::CmClient;
use crate::status::Status;
use core::ffi::c_char;

/// A session with one CM server: pooled keep-alive connections, kept authenticated where the protocol
/// allows, TLS session resumption, trust roots parsed once. One session may be used by several threads at
/// once (each call takes its own connection from the pool). Create with `cm_session_new`, free with
/// `cm_session_free`.
pub struct cm_session {
    pub(crate) client: CmClient,
}

/// Creates a session from the connection settings (validated now; nothing is sent until the first call).
/// The settings are copied: `connection` and its strings may be freed after the call; the password is kept
/// (wiped when the session is freed) because authentication may be needed again on a new connection.
/// `max_idle_connections` and `idle_timeout_ms` bound the idle connections the session keeps.
///
/// # Safety
/// `connection` NULL or valid; `session_out` writable.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cm_session_new(
    connection: *const cm_connection,
    session_out: *mut *mut cm_session,
) -> Status {
    guard(|| {
        // SAFETY: forwarded caller contract.
        let out = unsafe { required_out(session_out, "session_out") }?;
        *out = std::ptr::null_mut();
        // SAFETY: forwarded.
        let client = CmClient::session(unsafe { connection_config(connection) }?)?;
        *out = into_raw(cm_session { client });
        Ok(())
    })
}

/// Frees a session and closes its idle connections; NULL is ignored. No call on the session may be running
/// or start after this.
///
/// # Safety
/// `session` NULL or a session not yet freed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cm_session_free(session: *mut cm_session) {
    // SAFETY: forwarded.
    guard_value((), || unsafe { free_boxed(session) })
}

/// `cm_assign_smartcard` on a session: same parameters, same at-most-once rule. A POST rides on a pooled
/// connection only after the server shows it is alive (`Expect: 100-continue`), so a connection the server
/// closed while idle is never reported as `CM_STATUS_OUTCOME_UNKNOWN`.
///
/// # Safety
/// As `cm_assign_smartcard`; `session` NULL or live.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cm_session_assign_smartcard(
    session: *mut cm_session,
    assignment: *const cm_assignment,
    result_out: *mut *mut cm_assign_result,
) -> Status {
    // SAFETY: forwarded caller contract.
    unsafe { calls::assign(Via::Session(session), assignment, result_out) }
}

/// `cm_assign_smartcard_from_reader` on a session: reads the card in `reader` (NULL or "" = the first
/// reader holding a card) and binds it.
///
/// # Safety
/// As `cm_assign_smartcard_from_reader`; `session` NULL or live.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cm_session_assign_smartcard_from_reader(
    session: *mut cm_session,
    request_id: *const c_char,
    reader: *const c_char,
    byte_order: u32,
    result_out: *mut *mut cm_assign_result,
) -> Status {
    // SAFETY: forwarded caller contract.
    unsafe {
        calls::assign_from_reader(
            Via::Session(session),
            request_id,
            reader,
            byte_order,
            result_out,
        )
    }
}

/// `cm_reconcile_assignment` on a session.
///
/// # Safety
/// As `cm_reconcile_assignment`; `session` NULL or live.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cm_session_reconcile_assignment(
    session: *mut cm_session,
    assignment: *const cm_assignment,
    state_out: *mut i32,
    smartcard_uuid_buf: *mut c_char,
    smartcard_uuid_buf_len: usize,
    smartcard_uuid_len_out: *mut usize,
) -> Status {
    // SAFETY: forwarded caller contract.
    unsafe {
        calls::reconcile(
            Via::Session(session),
            assignment,
            state_out,
            smartcard_uuid_buf,
            smartcard_uuid_buf_len,
            smartcard_uuid_len_out,
        )
    }
}

/// `cm_find_smartcard` on a session.
///
/// # Safety
/// As `cm_find_smartcard`; `session` NULL or live.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cm_session_find_smartcard(
    session: *mut cm_session,
    card_id: *const c_char,
    smartcard_out: *mut *mut cm_smartcard,
) -> Status {
    // SAFETY: forwarded caller contract.
    unsafe { calls::find_smartcard(Via::Session(session), card_id, smartcard_out) }
}

/// `cm_get_smartcard` on a session.
///
/// # Safety
/// As `cm_get_smartcard`; `session` NULL or live.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cm_session_get_smartcard(
    session: *mut cm_session,
    smartcard_uuid: *const c_char,
    smartcard_out: *mut *mut cm_smartcard,
) -> Status {
    // SAFETY: forwarded caller contract.
    unsafe { calls::get_smartcard(Via::Session(session), smartcard_uuid, smartcard_out) }
}

/// `cm_get_request` on a session.
///
/// # Safety
/// As `cm_get_request`; `session` NULL or live.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cm_session_get_request(
    session: *mut cm_session,
    request_id: *const c_char,
    request_out: *mut *mut cm_request,
) -> Status {
    // SAFETY: forwarded caller contract.
    unsafe { calls::get_request(Via::Session(session), request_id, request_out) }
}
