//! `cm_atr_info` and `cm_parse_atr`: what an ATR says about itself.

use super::structs::read_versioned;
use super::{guard, required_str};
use crate::atr::{AtrInfo, decode_hex_text};
use crate::status::Status;
use core::ffi::c_char;

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
