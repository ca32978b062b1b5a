//! The C ABI: thin wrappers that check pointers, convert C types, call the core, catch panics and record
//! the thread's last error. No logic lives here that the core could hold.
//!
//! Conventions (also in the header and README):
//! - every fallible function returns `cm_status` (`int32_t`, 0 = OK);
//! - every status-returning function except the `cm_last_error_*` readers records its outcome in the
//!   thread's last error: the details on failure, "no error" on success;
//! - string outputs use the size-query pattern: `(char *buf, size_t buf_len, size_t *len_out)`; `*len_out`
//!   always receives the string's length in bytes without the NUL; `buf_len` must be at least `*len_out + 1`,
//!   otherwise `CM_STATUS_BUFFER_TOO_SMALL` is returned and `buf` is left untouched;
//! - objects the library hands out have a `_free` function that accepts NULL.

#![allow(non_camel_case_types)] // C names for the C API.

pub mod assign_result;
pub mod atr_info;
pub mod calls;
pub mod card;
pub mod connection;
pub mod error;
pub mod lifecycle;
pub mod list;
pub mod object;
pub mod reader_list;
pub mod request;
pub mod session;
pub mod smartcard;
pub mod structs;
pub mod version;

use crate::error::{Error, Result};
use crate::status::Status;
use core::ffi::{CStr, c_char};
use std::any::Any;
use std::panic::{AssertUnwindSafe, catch_unwind};

/// Runs an export's body: catches panics, maps the result to a status and records the last error.
pub(crate) fn guard(body: impl FnOnce() -> Result<()>) -> Status {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(())) => {
            error::clear_last_error();
            Status::Ok
        }
        Ok(Err(e)) => {
            let status = e.status;
            error::set_last_error(e);
            status
        }
        Err(payload) => {
            error::set_last_error(panic_error(payload.as_ref()));
            Status::Panic
        }
    }
}

/// Runs a value-returning export that cannot fail (accessors): a panic yields `default`.
pub(crate) fn guard_value<T>(default: T, body: impl FnOnce() -> T) -> T {
    catch_unwind(AssertUnwindSafe(body)).unwrap_or(default)
}

fn panic_error(payload: &(dyn Any + Send)) -> Error {
    let what = payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".to_string());
    Error::new(
        Status::Panic,
        format!(
            "internal error (a bug in cm-smartcard, please report it): {what}. The call was aborted safely."
        ),
    )
}

/// A required input string: not NULL, valid UTF-8.
///
/// # Safety
/// `ptr` must be NULL or point to a NUL-terminated string valid for the call.
pub(crate) unsafe fn required_str<'a>(ptr: *const c_char, name: &str) -> Result<&'a str> {
    if ptr.is_null() {
        return Err(Error::new(Status::NullArgument, format!("{name} is NULL")));
    }
    // SAFETY: the caller promises a NUL-terminated string.
    let bytes = unsafe { CStr::from_ptr(ptr) }.to_bytes();
    std::str::from_utf8(bytes).map_err(|e| {
        Error::new(
            Status::InvalidUtf8,
            format!(
                "{name} is not valid UTF-8 (invalid byte at offset {}); pass UTF-8 strings",
                e.valid_up_to()
            ),
        )
    })
}

/// An optional input string: NULL and "" mean absent.
///
/// # Safety
/// As [`required_str`].
pub(crate) unsafe fn optional_str<'a>(ptr: *const c_char, name: &str) -> Result<Option<&'a str>> {
    if ptr.is_null() {
        return Ok(None);
    }
    // SAFETY: forwarded contract.
    let s = unsafe { required_str(ptr, name) }?;
    Ok(if s.is_empty() { None } else { Some(s) })
}

/// A required input object.
///
/// # Safety
/// `ptr` must be NULL or point to a valid `T`.
pub(crate) unsafe fn required_ref<'a, T>(ptr: *const T, name: &str) -> Result<&'a T> {
    // SAFETY: the caller promises validity when non-NULL.
    unsafe { ptr.as_ref() }
        .ok_or_else(|| Error::new(Status::NullArgument, format!("{name} is NULL")))
}

/// A required output location.
///
/// # Safety
/// `ptr` must be NULL or point to writable memory for a `T`.
pub(crate) unsafe fn required_out<'a, T>(ptr: *mut T, name: &str) -> Result<&'a mut T> {
    // SAFETY: the caller promises validity when non-NULL.
    unsafe { ptr.as_mut() }
        .ok_or_else(|| Error::new(Status::NullArgument, format!("{name} is NULL")))
}

/// Copies `value` into a caller buffer with the size-query pattern.
///
/// # Safety
/// `buf` must be NULL or point to `buf_len` writable bytes; `len_out` must be NULL or writable.
pub(crate) unsafe fn write_str_out(
    value: &str,
    buf: *mut c_char,
    buf_len: usize,
    len_out: *mut usize,
) -> Result<()> {
    // SAFETY: forwarded contract.
    unsafe { write_bytes_out(value.as_bytes(), buf, buf_len, len_out) }
}

/// Copies raw bytes (a string that need not be UTF-8, such as a reader name) with the size-query pattern.
///
/// # Safety
/// As [`write_str_out`].
pub(crate) unsafe fn write_bytes_out(
    value: &[u8],
    buf: *mut c_char,
    buf_len: usize,
    len_out: *mut usize,
) -> Result<()> {
    if value.contains(&0) {
        return Err(Error::new(
            Status::Internal,
            "a string to return contains a NUL byte",
        ));
    }
    // SAFETY: forwarded contract.
    let len_out = unsafe { required_out(len_out, "len_out") }?;
    *len_out = value.len();
    if buf.is_null() || buf_len < value.len() + 1 {
        return Err(Error::new(
            Status::BufferTooSmall,
            format!(
                "the buffer holds {buf_len} bytes; {} are needed (length {} plus the NUL)",
                value.len() + 1,
                value.len()
            ),
        ));
    }
    // SAFETY: buf has at least len + 1 writable bytes, checked above; it cannot overlap a Rust slice.
    unsafe {
        std::ptr::copy_nonoverlapping(value.as_ptr(), buf.cast::<u8>(), value.len());
        *buf.add(value.len()) = 0;
    }
    Ok(())
}

/// Copies binary data (a key, a certificate) into a caller buffer with the size-query pattern: `*len_out`
/// receives the length; `buf_len` must be at least that (no NUL is added).
///
/// # Safety
/// `buf` must be NULL or point to `buf_len` writable bytes; `len_out` must be NULL or writable.
pub(crate) unsafe fn write_binary_out(
    value: &[u8],
    buf: *mut u8,
    buf_len: usize,
    len_out: *mut usize,
) -> Result<()> {
    // SAFETY: forwarded contract.
    let len_out = unsafe { required_out(len_out, "len_out") }?;
    *len_out = value.len();
    if value.is_empty() {
        return Ok(());
    }
    if buf.is_null() || buf_len < value.len() {
        return Err(Error::new(
            Status::BufferTooSmall,
            format!(
                "the buffer holds {buf_len} bytes; {} are needed",
                value.len()
            ),
        ));
    }
    // SAFETY: buf has at least value.len() writable bytes, checked above.
    unsafe { std::ptr::copy_nonoverlapping(value.as_ptr(), buf, value.len()) };
    Ok(())
}

/// A string accessor of an object: checks the pointer, copies with the size-query pattern.
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

/// Clears an optional object output at entry, so a failing call never leaves garbage in it.
pub(crate) fn reset_out<T>(out: *mut *mut T) {
    if !out.is_null() {
        // SAFETY: the caller passes NULL or a writable pointer location.
        unsafe { *out = std::ptr::null_mut() };
    }
}

/// Boxes an object for C; freed by [`free_boxed`].
pub(crate) fn into_raw<T>(value: T) -> *mut T {
    Box::into_raw(Box::new(value))
}

/// Frees an object created by [`into_raw`]; NULL is ignored.
///
/// # Safety
/// `ptr` must be NULL or come from `into_raw::<T>` and not have been freed.
pub(crate) unsafe fn free_boxed<T>(ptr: *mut T) {
    if !ptr.is_null() {
        // SAFETY: per the contract, ptr came from Box::into_raw.
        drop(unsafe { Box::from_raw(ptr) });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guard_catches_panics_and_records_them() {
        let status = guard(|| panic!("boom"));
        assert_eq!(status, Status::Panic);
        let err = error::last_error().unwrap();
        assert!(err.message.contains("boom"), "{}", err.message);
        assert_eq!(guard(|| Ok(())), Status::Ok);
        assert!(error::last_error().is_none());
        assert_eq!(guard_value(-1, || panic!("x")), -1);
    }

    #[test]
    fn string_output_follows_the_size_query_pattern() {
        let mut len = 0usize;
        let err = unsafe { write_str_out("abc", std::ptr::null_mut(), 0, &mut len) }.unwrap_err();
        assert_eq!((err.status, len), (Status::BufferTooSmall, 3));
        let mut small = [1 as c_char; 3];
        let err = unsafe { write_str_out("abc", small.as_mut_ptr(), 3, &mut len) }.unwrap_err();
        assert_eq!(err.status, Status::BufferTooSmall);
        assert_eq!(small, [1, 1, 1], "a short buffer is left untouched");
        let mut buf = [1 as c_char; 4];
        unsafe { write_str_out("abc", buf.as_mut_ptr(), 4, &mut len) }.unwrap();
        assert_eq!(
            unsafe { CStr::from_ptr(buf.as_ptr()) }.to_str().unwrap(),
            "abc"
        );
        let err =
            unsafe { write_str_out("abc", buf.as_mut_ptr(), 4, std::ptr::null_mut()) }.unwrap_err();
        assert_eq!(err.status, Status::NullArgument);
    }

    #[test]
    fn input_strings_are_checked() {
        assert_eq!(
            unsafe { required_str(std::ptr::null(), "x") }
                .unwrap_err()
                .status,
            Status::NullArgument
        );
        let bad = [0x66u8, 0xff, 0];
        let err = unsafe { required_str(bad.as_ptr().cast(), "request_id") }.unwrap_err();
        assert_eq!(err.status, Status::InvalidUtf8);
        assert!(err.message.contains("request_id") && err.message.contains("offset 1"));
        assert_eq!(unsafe { optional_str(c"".as_ptr(), "x") }.unwrap(), None);
    }
}
