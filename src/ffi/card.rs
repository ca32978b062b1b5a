//! The card side: readers, ATR, card ID, waiting, ATR parsing, and "assign the card in this reader".

use super::assign_result::cm_assign_result;
use super::structs::{cm_connection, read_versioned};
use super::{
    free_boxed, guard, guard_value, into_raw, required_out, required_ref, required_str,
    write_bytes_out, write_str_out,
};
use crate::atr::{AtrInfo, decode_hex_text, to_hex};
use crate::card::{self, GuidByteOrder, ReaderInfo};
use crate::error::{Error, Result};
use crate::status::Status;
use core::ffi::{CStr, c_char};
use std::time::Duration;

/// Card-id byte order: Windows / .NET `new Guid(bytes)` (the first three fields little-endian). The default,
/// and the most likely reading of MIM CM (unverified on a real server).
pub const CM_GUID_ORDER_WINDOWS: u32 = 0;
/// Card-id byte order: RFC 4122, the 16 bytes in string order.
pub const CM_GUID_ORDER_RFC4122: u32 = 1;

/// `timeout_ms` value for `cm_wait_for_card` that waits until a card arrives or the wait is cancelled.
pub const CM_WAIT_INFINITE: u32 = 0xFFFF_FFFF;

/// A snapshot of the PC/SC readers. Free with `cm_reader_list_free`.
pub struct cm_reader_list {
    readers: Vec<ReaderInfo>,
}

/// What an ATR says about itself (filled by `cm_parse_atr`). Set `struct_size` before the call.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct cm_atr_info {
    /// Must be `sizeof(cm_atr_info)`.
    pub struct_size: u32,
    /// Number of ATR bytes (2..33).
    pub length: u32,
    /// TS: 0x3B direct or 0x3F inverse convention (anything else is reported as not well formed).
    pub ts: u32,
    /// Indicated protocols: bit n set = T=n (T=0 when none is indicated).
    pub protocol_mask: u32,
    /// Number of historical bytes (0..15).
    pub historical_length: u32,
    /// The historical bytes; the first `historical_length` are valid.
    pub historical_bytes: [u8; 15],
    /// 1 when ISO 7816-3 requires a TCK (a protocol other than T=0 is indicated), else 0.
    pub tck_required: i32,
    /// 1 when the ATR has a TCK byte, else 0.
    pub tck_present: i32,
    /// 1 when the TCK checksum is correct, 0 when it is wrong or absent.
    pub tck_valid: i32,
    /// 1 when the structure (length, TS, TCK) is consistent, else 0. Card ATRs are never rejected for this.
    pub well_formed: i32,
    /// The length the structure implies.
    pub expected_length: u32,
}

pub(crate) fn guid_order(value: u32) -> Result<GuidByteOrder> {
    match value {
        CM_GUID_ORDER_WINDOWS => Ok(GuidByteOrder::Windows),
        CM_GUID_ORDER_RFC4122 => Ok(GuidByteOrder::Rfc4122),
        other => Err(Error::new(
            Status::InvalidArgument,
            format!("byte_order {other} is not a CM_GUID_ORDER_* value"),
        )),
    }
}

/// A reader name argument: NULL and "" both mean "the first reader holding a card" (.NET and PowerShell
/// turn a missing string into ""). Names are passed to PC/SC byte-exact (they are UTF-8 on Linux; not
/// validated so any name a reader list returned works).
unsafe fn reader_arg<'a>(reader: *const c_char) -> Option<&'a CStr> {
    // SAFETY: the caller passes NULL or a NUL-terminated string.
    let name = (!reader.is_null()).then(|| unsafe { CStr::from_ptr(reader) });
    card::named(name)
}

/// Reads the ATR of the card in `reader` as lowercase packed hex, exactly as PC/SC returned it. `reader`:
/// the exact name, else a case-insensitive part of exactly one reader's name; NULL or "" = the first reader
/// that holds a card (the same in every card function). Connects in shared mode (never exclusive) and
/// releases the card on every path. Size-query pattern; `CM_ATR_BUFFER_SIZE` bytes always suffice.
/// Thread-safe: the library runs one card operation at a time per process (libpcsclite 1.9.9 crashes when
/// threads connect and disconnect concurrently); waits (`cm_wait_for_card`) do not hold up other calls.
///
/// # Safety
/// `reader` NULL or NUL-terminated; `atr_buf` NULL or `atr_buf_len` writable bytes; `atr_len_out` writable.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cm_read_card_atr(
    reader: *const c_char,
    atr_buf: *mut c_char,
    atr_buf_len: usize,
    atr_len_out: *mut usize,
) -> Status {
    guard(|| {
        // SAFETY: forwarded.
        let reader = unsafe { reader_arg(reader) };
        if atr_len_out.is_null() {
            return Err(Error::new(Status::NullArgument, "atr_len_out is NULL"));
        }
        let (_, atr) = card::read_atr(reader)?;
        // SAFETY: forwarded.
        unsafe { write_str_out(&to_hex(&atr), atr_buf, atr_buf_len, atr_len_out) }
    })
}

/// Reads the minidriver card ID of the card in `reader` (as in `cm_read_card_atr`: NULL or "" = the first
/// reader holding a card) in the order of Windows' inbox minidriver: PIV first (card ID from the CHUID), and
/// only when the card has no PIV application, GIDS / Windows virtual smart card (`DF20` in `A012`). Returned
/// as a lowercase hyphenated GUID in `byte_order` (`CM_GUID_ORDER_WINDOWS`, the default reading, or
/// `CM_GUID_ORDER_RFC4122`). Size-query pattern; `CM_UUID_BUFFER_SIZE` bytes always suffice. An all-zero card ID (a PIV card without a unique
/// CHUID) is returned as it is; it is not unique, and `cm_assign_smartcard_from_reader` refuses to bind it.
///
/// # Safety
/// As `cm_read_card_atr`.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cm_read_card_id(
    reader: *const c_char,
    byte_order: u32,
    card_id_buf: *mut c_char,
    card_id_buf_len: usize,
    card_id_len_out: *mut usize,
) -> Status {
    guard(|| {
        let order = guid_order(byte_order)?;
        // SAFETY: forwarded.
        let reader = unsafe { reader_arg(reader) };
        if card_id_len_out.is_null() {
            return Err(Error::new(Status::NullArgument, "card_id_len_out is NULL"));
        }
        let id = card::read_card_id(reader, order)?;
        // SAFETY: forwarded.
        unsafe { write_str_out(&id.guid, card_id_buf, card_id_buf_len, card_id_len_out) }
    })
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

/// Waits until a card is present in `reader` (NULL or "" = any reader, including readers plugged in
/// meanwhile) and copies the name of the reader holding it. `timeout_ms`: 0 checks once, `CM_WAIT_INFINITE`
/// waits until a card arrives. Ends with `CM_STATUS_PCSC_TIMEOUT` or, after `cm_cancel_waits()` from another thread,
/// `CM_STATUS_PCSC_CANCELLED`. Size-query pattern for the reader name: when the buffer is too small the
/// card is still there, so call again (a present card returns at once).
///
/// # Safety
/// `reader` NULL or NUL-terminated; buffers as in the conventions.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cm_wait_for_card(
    reader: *const c_char,
    timeout_ms: u32,
    reader_buf: *mut c_char,
    reader_buf_len: usize,
    reader_len_out: *mut usize,
) -> Status {
    guard(|| {
        // SAFETY: forwarded.
        let reader = unsafe { reader_arg(reader) };
        if reader_len_out.is_null() {
            return Err(Error::new(Status::NullArgument, "reader_len_out is NULL"));
        }
        let timeout =
            (timeout_ms != CM_WAIT_INFINITE).then(|| Duration::from_millis(u64::from(timeout_ms)));
        let name = card::wait_for_card(reader, timeout)?;
        // SAFETY: forwarded.
        unsafe { write_bytes_out(name.to_bytes(), reader_buf, reader_buf_len, reader_len_out) }
    })
}

/// Cancels every `cm_wait_for_card` in progress in this process, from any thread; they return
/// `CM_STATUS_PCSC_CANCELLED`. Returns the number of waits that were blocked.
#[unsafe(no_mangle)]
pub extern "C" fn cm_cancel_waits() -> u32 {
    guard_value(0, || card::cancel_waits() as u32)
}

/// Parses an ATR given as hex in any common notation and describes it in `*info_out` (set
/// `info_out->struct_size` first). Structural problems (length, TS, TCK) are reported in the struct, not
/// as an error; only text that is not 2..33 hex bytes fails with `CM_STATUS_INVALID_ATR`.
///
/// # Safety
/// `atr` NUL-terminated; `info_out` writable for `info_out->struct_size` bytes.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cm_parse_atr(atr: *const c_char, info_out: *mut cm_atr_info) -> Status {
    guard(|| {
        // SAFETY: forwarded.
        let text = unsafe { required_str(atr, "atr") }?;
        // SAFETY: the struct's first field is struct_size, checked before anything is written.
        let _ =
            unsafe { read_versioned(info_out.cast_const(), "info_out", size_of::<cm_atr_info>()) }?;
        let info = AtrInfo::parse(&decode_hex_text(text)?)?;
        let mut historical = [0u8; 15];
        historical[..info.historical_bytes.len().min(15)]
            .copy_from_slice(&info.historical_bytes[..info.historical_bytes.len().min(15)]);
        let value = cm_atr_info {
            struct_size: size_of::<cm_atr_info>() as u32,
            length: info.bytes.len() as u32,
            ts: u32::from(info.ts),
            protocol_mask: info.protocol_mask(),
            historical_length: info.historical_bytes.len() as u32,
            historical_bytes: historical,
            tck_required: i32::from(info.tck_required),
            tck_present: i32::from(info.tck.is_some()),
            tck_valid: i32::from(info.tck_valid == Some(true)),
            well_formed: i32::from(info.is_well_formed()),
            expected_length: info.expected_len as u32,
        };
        // SAFETY: checked non-NULL and large enough by read_versioned.
        unsafe { *info_out = value };
        Ok(())
    })
}

/// The whole job in one call: reads the ATR and the card ID of the card in `reader` (NULL or "" = the first
/// reader holding a card) in one shared connection, and binds the card to `request_id` exactly like
/// `cm_assign_smartcard` (at most once; `CM_STATUS_OUTCOME_UNKNOWN` → `cm_reconcile_assignment`). The ATR is
/// sent exactly as the card gave it. A card whose card ID is all zeros (not unique) is refused with
/// `CM_STATUS_CARD_ID_NOT_FOUND` before anything is sent. `result_out` (NULL allowed) receives the result;
/// `cm_assign_result_card_id` / `_atr` tell what was read and sent.
///
/// # Safety
/// Pointers NULL or valid; strings NUL-terminated.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cm_assign_smartcard_from_reader(
    connection: *const cm_connection,
    request_id: *const c_char,
    reader: *const c_char,
    byte_order: u32,
    result_out: *mut *mut cm_assign_result,
) -> Status {
    // SAFETY: forwarded caller contract.
    unsafe {
        super::calls::assign_from_reader(
            super::calls::Via::Connection(connection),
            request_id,
            reader,
            byte_order,
            result_out,
        )
    }
}
