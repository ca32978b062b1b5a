//! `cm_assign_result`: the outcome of a binding, and its accessors.

use super::{free_boxed, guard, guard_value, required_ref, string_field, write_str_out};
use crate::cm::{AssignOutcome, Assignment};
use crate::status::Status;
use core::ffi::c_char;

/// The outcome of a successful `cm_assign_smartcard` (or one answered with
/// `CM_STATUS_AUTH_SERVER_UNVERIFIED`). Free with `cm_assign_result_free`.
pub struct cm_assign_result {
    pub(crate) outcome: AssignOutcome,
    /// What was sent (normalized), so callers of the from-reader call learn the card id and ATR.
    pub(crate) assignment: Assignment,
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
