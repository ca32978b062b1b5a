//! `cm_request`: a CM request object read from the server, and its accessors.

use super::{free_boxed, guard_value, string_field};
use crate::cm::CmRequest;
use crate::status::Status;
use core::ffi::c_char;

/// A CM request object read from the server. Free with `cm_request_free`.
pub struct cm_request {
    pub(crate) request: CmRequest,
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
