//! Version and status-description exports.

use super::guard_value;
use crate::status::Status;
use core::ffi::{CStr, c_char};
use std::collections::HashMap;
use std::ffi::CString;
use std::sync::LazyLock;

/// The ABI version: raised only when an existing signature or struct layout changes incompatibly
/// (never within a major version). Adding exports or appending struct fields does not change it.
pub const CM_ABI_VERSION: u32 = 1;

/// Size of a buffer that holds any GUID string this library returns (36 characters plus the NUL).
pub const CM_UUID_BUFFER_SIZE: usize = 37;

/// Size of a buffer that holds any ATR as hex this library returns (33 bytes = 66 characters plus the NUL).
pub const CM_ATR_BUFFER_SIZE: usize = 67;

static VERSION: &CStr =
    match CStr::from_bytes_with_nul(concat!(env!("CARGO_PKG_VERSION"), "\0").as_bytes()) {
        Ok(v) => v,
        Err(_) => panic!("version contains a NUL"),
    };

static DESCRIPTIONS: LazyLock<HashMap<i32, CString>> = LazyLock::new(|| {
    Status::ALL
        .iter()
        .map(|s| {
            (
                *s as i32,
                CString::new(s.description()).expect("descriptions have no NUL"),
            )
        })
        .collect()
});

/// The library version as "MAJOR.MINOR.PATCH" (a static string; do not free it).
#[unsafe(no_mangle)]
pub extern "C" fn cm_version() -> *const c_char {
    VERSION.as_ptr()
}

/// The ABI version this library implements; compare with `CM_ABI_VERSION` from the header you compiled
/// against (or hard-code it in a P/Invoke wrapper) to detect a mismatched DLL.
#[unsafe(no_mangle)]
pub extern "C" fn cm_abi_version() -> u32 {
    CM_ABI_VERSION
}

/// A short static English description of a status code, for any `int32_t` (unknown codes give
/// "unknown status code"). Never NULL; do not free it.
#[unsafe(no_mangle)]
pub extern "C" fn cm_status_str(status: i32) -> *const c_char {
    guard_value(c"internal error".as_ptr(), || {
        DESCRIPTIONS
            .get(&status)
            .map_or(c"unknown status code".as_ptr(), |s| s.as_ptr())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_status_has_a_description_and_unknown_codes_are_handled() {
        for s in Status::ALL {
            let text = unsafe { CStr::from_ptr(cm_status_str(*s as i32)) }
                .to_str()
                .unwrap();
            assert_eq!(text, s.description());
            assert!(!text.is_empty());
        }
        for code in [-1, 14, 99, 250, i32::MAX, i32::MIN] {
            let text = unsafe { CStr::from_ptr(cm_status_str(code)) }
                .to_str()
                .unwrap();
            assert_eq!(text, "unknown status code", "{code}");
        }
        assert_eq!(
            unsafe { CStr::from_ptr(cm_version()) }.to_str().unwrap(),
            env!("CARGO_PKG_VERSION")
        );
    }
}
