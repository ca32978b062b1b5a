//! The thread's last error, read with `cm_last_error_*` (the `sqlite3_errmsg` pattern, per thread).

use super::{guard_value, write_str_out};
use crate::error::Error;
use crate::status::Status;
use core::ffi::c_char;
use std::cell::RefCell;

thread_local! {
    static LAST_ERROR: RefCell<Option<Error>> = const { RefCell::new(None) };
}

pub(crate) fn set_last_error(err: Error) {
    LAST_ERROR.with(|e| *e.borrow_mut() = Some(err));
}

pub(crate) fn clear_last_error() {
    LAST_ERROR.with(|e| *e.borrow_mut() = None);
}

pub(crate) fn last_error() -> Option<Error> {
    LAST_ERROR.with(|e| e.borrow().clone())
}

/// Reads a text field of the last error without touching the last error itself.
fn read_field(
    pick: impl Fn(Option<&Error>) -> String,
    buf: *mut c_char,
    buf_len: usize,
    len_out: *mut usize,
) -> Status {
    guard_value(Status::Panic, || {
        let value = LAST_ERROR.with(|e| pick(e.borrow().as_ref()));
        // SAFETY: forwarded caller contract.
        match unsafe { write_str_out(&value, buf, buf_len, len_out) } {
            Ok(()) => Status::Ok,
            Err(e) => e.status,
        }
    })
}

/// The status of the last failing call on this thread, or `CM_STATUS_OK` (0) when the last call succeeded.
#[unsafe(no_mangle)]
pub extern "C" fn cm_last_error_status() -> i32 {
    guard_value(Status::Panic as i32, || {
        last_error().map_or(0, |e| e.status as i32)
    })
}

/// Copies the detailed English message of the last failing call on this thread ("" when the last call
/// succeeded). Size-query pattern: `*len_out` receives the length without the NUL; returns
/// `CM_STATUS_BUFFER_TOO_SMALL` when `buf` is NULL or shorter than `*len_out + 1`.
/// This function does not change the last error.
///
/// # Safety
/// `buf` must be NULL or point to `buf_len` writable bytes; `len_out` must point to a writable `size_t`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cm_last_error_message(
    buf: *mut c_char,
    buf_len: usize,
    len_out: *mut usize,
) -> Status {
    read_field(
        |e| e.map(|e| e.message.clone()).unwrap_or_default(),
        buf,
        buf_len,
        len_out,
    )
}

/// The HTTP status of the server answer behind the last error on this thread; 0 when there was none.
#[unsafe(no_mangle)]
pub extern "C" fn cm_last_error_http_status() -> i32 {
    guard_value(0, || last_error().map_or(0, |e| i32::from(e.http_status)))
}

/// The raw PC/SC (`SCARD_*`) code behind the last error on this thread; 0 when PC/SC was not involved.
#[unsafe(no_mangle)]
pub extern "C" fn cm_last_error_pcsc_code() -> u32 {
    guard_value(0, || last_error().map_or(0, |e| e.pcsc_code))
}

/// Copies the message the server sent with the last error ("" when none), truncated to 512 characters.
/// Size-query pattern as `cm_last_error_message`. Does not change the last error.
///
/// # Safety
/// As `cm_last_error_message`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cm_last_error_server_message(
    buf: *mut c_char,
    buf_len: usize,
    len_out: *mut usize,
) -> Status {
    read_field(
        |e| e.and_then(|e| e.server_message.clone()).unwrap_or_default(),
        buf,
        buf_len,
        len_out,
    )
}

/// Copies the correlation id the server sent with a 5xx answer ("" when none). Give it to the CM
/// administrator: it identifies the event-log and trace entry. Size-query pattern as
/// `cm_last_error_message`. Does not change the last error.
///
/// # Safety
/// As `cm_last_error_message`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cm_last_error_correlation_id(
    buf: *mut c_char,
    buf_len: usize,
    len_out: *mut usize,
) -> Status {
    read_field(
        |e| e.and_then(|e| e.correlation_id.clone()).unwrap_or_default(),
        buf,
        buf_len,
        len_out,
    )
}
