//! `cm_smartcard`: a CM smartcard object read from the server, and its accessors.

use super::{free_boxed, guard_value, string_field};
use crate::cm::Smartcard;
use crate::status::Status;
use core::ffi::c_char;

/// A CM smartcard object read from the server. Free with `cm_smartcard_free`.
pub struct cm_smartcard {
    pub(crate) card: Smartcard,
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
