//! `cm_list`: an array answer of the enrollment calls (templates, requests, certificates, operations, ...).

use super::object::cm_object;
use super::{
    free_boxed, guard, guard_value, into_raw, required_out, required_ref, reset_out, write_str_out,
};
use crate::cm::CmList;
use crate::status::Status;
use core::ffi::c_char;

/// An array CM returned; a 204 answer is an empty list. Free with `cm_list_free`.
pub struct cm_list {
    pub(crate) list: CmList,
}

/// The number of items.
///
/// # Safety
/// `list` NULL or live; `count_out` NULL or writable.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cm_list_count(list: *const cm_list, count_out: *mut usize) -> Status {
    guard(|| {
        // SAFETY: forwarded.
        let l = unsafe { required_ref(list, "list") }?;
        // SAFETY: forwarded.
        *unsafe { required_out(count_out, "count_out") }? = l.list.len();
        Ok(())
    })
}

/// Item `index` as a new object (free it with `cm_object_free`); its kind is the list's.
/// `CM_STATUS_INDEX_OUT_OF_RANGE` past the end, `CM_STATUS_FIELD_TYPE` for an item that is not an object
/// (operations are strings: use `cm_list_get_string`).
///
/// # Safety
/// `list` NULL or live; `item_out` NULL or writable.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cm_list_get(
    list: *const cm_list,
    index: usize,
    item_out: *mut *mut cm_object,
) -> Status {
    reset_out(item_out);
    guard(|| {
        // SAFETY: forwarded.
        let l = unsafe { required_ref(list, "list") }?;
        // SAFETY: forwarded.
        let out = unsafe { required_out(item_out, "item_out") }?;
        *out = into_raw(cm_object {
            object: l.list.object(index)?,
        });
        Ok(())
    })
}

/// Copies item `index` as text (operations such as "renew"; numbers and booleans as their JSON text).
/// Size-query pattern.
///
/// # Safety
/// `list` NULL or live; buffers as in the conventions.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cm_list_get_string(
    list: *const cm_list,
    index: usize,
    buf: *mut c_char,
    buf_len: usize,
    len_out: *mut usize,
) -> Status {
    guard(|| {
        // SAFETY: forwarded.
        let l = unsafe { required_ref(list, "list") }?;
        // SAFETY: forwarded.
        unsafe { write_str_out(&l.list.string(index)?, buf, buf_len, len_out) }
    })
}

/// Copies the whole list as JSON (an array). Size-query pattern.
///
/// # Safety
/// `list` NULL or live; buffers as in the conventions.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cm_list_json(
    list: *const cm_list,
    buf: *mut c_char,
    buf_len: usize,
    len_out: *mut usize,
) -> Status {
    super::string_field(list, "list", |l| l.list.to_json(), buf, buf_len, len_out)
}

/// Frees a list; NULL is ignored.
///
/// # Safety
/// `list` NULL or not yet freed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cm_list_free(list: *mut cm_list) {
    // SAFETY: forwarded.
    guard_value((), || unsafe { free_boxed(list) })
}
