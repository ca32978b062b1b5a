//! The card exports: ATR, card ID, waiting for a card, and "assign the card in this reader". The reader list
//! is `reader_list.rs`, ATR parsing `atr_info.rs`.

use super::assign_result::cm_assign_result;
use super::structs::cm_connection;
use super::{guard, guard_value, write_bytes_out, write_str_out};
use crate::atr::to_hex;
use crate::card::{self, GuidByteOrder};
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
