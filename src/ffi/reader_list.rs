//! `cm_reader_list`: a snapshot of the PC/SC readers, their state and their cards' ATRs.

use super::{
    free_boxed, guard, guard_value, into_raw, required_out, required_ref, write_bytes_out,
    write_str_out,
};
use crate::atr::to_hex;
use crate::card::{self, ReaderInfo};
use crate::error::{Error, Result};
use crate::status::Status;
use core::ffi::c_char;

/// A snapshot of the PC/SC readers. Free with `cm_reader_list_free`.
pub struct cm_reader_list {
    readers: Vec<ReaderInfo>,
}

/// Lists the PC/SC readers with their state. On success `*list_out` is a snapshot (free it with
/// `cm_reader_list_free`); an empty list means no reader is connected.
///
/// # Safety
/// `list_out` must be writable.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cm_list_readers(list_out: *mut *mut cm_reader_list) -> Status {
    guard(|| {
        // SAFETY: forwarded.
        let out = unsafe { required_out(list_out, "list_out") }?;
        *out = std::ptr::null_mut();
        let readers = match card::list_readers() {
            Ok(r) => r,
            Err(e) if e.status == Status::PcscNoReaders => Vec::new(),
            Err(e) => return Err(e),
        };
        *out = into_raw(cm_reader_list { readers });
        Ok(())
    })
}

/// Number of readers in the list (0 for NULL).
///
/// # Safety
/// `list` NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cm_reader_list_count(list: *const cm_reader_list) -> u32 {
    // SAFETY: forwarded.
    guard_value(0, || {
        unsafe { list.as_ref() }.map_or(0, |l| l.readers.len() as u32)
    })
}

unsafe fn reader_at<'a>(list: *const cm_reader_list, index: u32) -> Result<&'a ReaderInfo> {
    // SAFETY: forwarded.
    let l = unsafe { required_ref(list, "list") }?;
    l.readers.get(index as usize).ok_or_else(|| {
        Error::new(
            Status::InvalidArgument,
            format!(
                "index {index} is out of range (the list has {} readers)",
                l.readers.len()
            ),
        )
    })
}

/// Copies the name of reader `index` (the bytes PC/SC reported, UTF-8 on Linux; pass them back unchanged).
/// Size-query pattern.
///
/// # Safety
/// `list` NULL or live; buffers as in the conventions.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cm_reader_list_name(
    list: *const cm_reader_list,
    index: u32,
    buf: *mut c_char,
    buf_len: usize,
    len_out: *mut usize,
) -> Status {
    guard(|| {
        // SAFETY: forwarded.
        let r = unsafe { reader_at(list, index) }?;
        // SAFETY: forwarded.
        unsafe { write_bytes_out(r.name.to_bytes(), buf, buf_len, len_out) }
    })
}

/// 1 when reader `index` holds a card, 0 when it is empty, -1 for NULL or an index out of range.
///
/// # Safety
/// `list` NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cm_reader_list_card_present(
    list: *const cm_reader_list,
    index: u32,
) -> i32 {
    // SAFETY: forwarded.
    guard_value(-1, || {
        unsafe { reader_at(list, index) }.map_or(-1, |r| i32::from(r.card_present))
    })
}

/// Copies the ATR of the card in reader `index` as lowercase packed hex ("" when empty). Size-query pattern.
///
/// # Safety
/// As `cm_reader_list_name`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cm_reader_list_atr(
    list: *const cm_reader_list,
    index: u32,
    buf: *mut c_char,
    buf_len: usize,
    len_out: *mut usize,
) -> Status {
    guard(|| {
        // SAFETY: forwarded.
        let r = unsafe { reader_at(list, index) }?;
        // SAFETY: forwarded.
        unsafe {
            write_str_out(
                &r.atr.as_deref().map(to_hex).unwrap_or_default(),
                buf,
                buf_len,
                len_out,
            )
        }
    })
}

/// Frees a reader list; NULL is ignored.
///
/// # Safety
/// `list` NULL or not yet freed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cm_reader_list_free(list: *mut cm_reader_list) {
    // SAFETY: forwarded.
    guard_value((), || unsafe { free_boxed(list) })
}
