//! `cm_object`: any CM object the enrollment calls return (profile template, policy, request, smartcard,
//! certificate, profile, ...), read through typed accessors by field name.

use super::request::cm_request;
use super::smartcard::cm_smartcard;
use super::{
    free_boxed, guard, guard_value, into_raw, required_out, required_ref, required_str, reset_out,
    write_binary_out, write_str_out,
};
use crate::cm::{CmObject, ObjectKind};
use crate::error::Result;
use crate::status::Status;
use core::ffi::c_char;

/// A profile template (`GET /profiletemplates` item).
pub const CM_OBJECT_PROFILE_TEMPLATE: i32 = 1;
/// A profile template's workflow policy for one request type.
pub const CM_OBJECT_POLICY: i32 = 2;
/// A profile template's smart card configuration.
pub const CM_OBJECT_SMARTCARD_CONFIG: i32 = 3;
/// A request.
pub const CM_OBJECT_REQUEST: i32 = 4;
/// A smart card.
pub const CM_OBJECT_SMARTCARD: i32 = 5;
/// One certificate request to build (generation options item).
pub const CM_OBJECT_CSR_OPTION: i32 = 6;
/// One certificate returned by certificate data (`Pkcs7`, `Pfx`, `isPkcs7`, `isPfx`, ...).
pub const CM_OBJECT_CERTIFICATE_DATA: i32 = 7;
/// A certificate of a smart card or profile.
pub const CM_OBJECT_CARD_CERTIFICATE: i32 = 8;
/// One of the caller's certificates.
pub const CM_OBJECT_USER_CERTIFICATE: i32 = 9;
/// A profile.
pub const CM_OBJECT_PROFILE: i32 = 10;
/// A request's data collection item (`Name`, `Value`).
pub const CM_OBJECT_DATA_ITEM: i32 = 11;
/// What a create call returned: `Uri` (as CM sent it) and `Uuid`.
pub const CM_OBJECT_CREATED: i32 = 12;
/// Another (nested) object.
pub const CM_OBJECT_OTHER: i32 = 99;

// The constants above are the `ObjectKind` discriminants, written out for cbindgen; checked by a test.
#[cfg(test)]
#[test]
fn object_kind_constants_match_the_core() {
    for (c, k) in [
        (CM_OBJECT_PROFILE_TEMPLATE, ObjectKind::ProfileTemplate),
        (CM_OBJECT_POLICY, ObjectKind::Policy),
        (CM_OBJECT_SMARTCARD_CONFIG, ObjectKind::SmartcardConfig),
        (CM_OBJECT_REQUEST, ObjectKind::Request),
        (CM_OBJECT_SMARTCARD, ObjectKind::Smartcard),
        (CM_OBJECT_CSR_OPTION, ObjectKind::CsrOption),
        (CM_OBJECT_CERTIFICATE_DATA, ObjectKind::CertificateData),
        (CM_OBJECT_CARD_CERTIFICATE, ObjectKind::CardCertificate),
        (CM_OBJECT_USER_CERTIFICATE, ObjectKind::UserCertificate),
        (CM_OBJECT_PROFILE, ObjectKind::Profile),
        (CM_OBJECT_DATA_ITEM, ObjectKind::DataItem),
        (CM_OBJECT_CREATED, ObjectKind::Created),
        (CM_OBJECT_OTHER, ObjectKind::Other),
    ] {
        assert_eq!(c, k as i32);
    }
}

/// A CM object as the server sent it. Read it with the `cm_object_get_*` accessors, which take the field name
/// of the server's JSON (`"Uuid"`, `"Status"`, `"Pkcs7"`, ...; matched case-insensitively). Free with
/// `cm_object_free`.
pub struct cm_object {
    pub(crate) object: CmObject,
}

/// Runs an accessor: checks the object and the field name, then reads.
fn access(
    object: *const cm_object,
    field: *const c_char,
    read: impl FnOnce(&CmObject, &str) -> Result<()>,
) -> Status {
    guard(|| {
        // SAFETY: the caller passes NULL or a live object and NULL or a C string.
        let o = unsafe { required_ref(object, "object") }?;
        // SAFETY: as above.
        let field = unsafe { required_str(field, "field") }?;
        read(&o.object, field).map_err(|e| e.context(format!("{:?} object", o.object.kind)))
    })
}

/// What the object is: one of the `CM_OBJECT_*` values (-1 for NULL).
///
/// # Safety
/// `object` NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cm_object_kind(object: *const cm_object) -> i32 {
    // SAFETY: forwarded.
    guard_value(-1, || {
        unsafe { object.as_ref() }.map_or(-1, |o| o.object.kind as i32)
    })
}

/// Copies a field as text: a string as is, a number or boolean as its JSON text. Size-query pattern.
/// `CM_STATUS_FIELD_MISSING` when the field is absent or null, `CM_STATUS_FIELD_TYPE` for an array or object.
///
/// # Safety
/// `object` NULL or live; `field` NULL or a C string; buffers as in the conventions.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cm_object_get_string(
    object: *const cm_object,
    field: *const c_char,
    buf: *mut c_char,
    buf_len: usize,
    len_out: *mut usize,
) -> Status {
    access(object, field, |o, f| {
        // SAFETY: forwarded.
        unsafe { write_str_out(&o.string(f)?, buf, buf_len, len_out) }
    })
}

/// Reads an integer field (a JSON integer, or a string holding one as some CM examples send).
///
/// # Safety
/// `object` NULL or live; `field` NULL or a C string; `value_out` NULL or writable.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cm_object_get_int(
    object: *const cm_object,
    field: *const c_char,
    value_out: *mut i64,
) -> Status {
    access(object, field, |o, f| {
        // SAFETY: forwarded.
        let out = unsafe { required_out(value_out, "value_out") }?;
        *out = o.int(f)?;
        Ok(())
    })
}

/// Reads a boolean field as 1 or 0 (`true`/`false`, `"True"`/`"false"`, 1/0).
///
/// # Safety
/// As `cm_object_get_int`.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cm_object_get_bool(
    object: *const cm_object,
    field: *const c_char,
    value_out: *mut i32,
) -> Status {
    access(object, field, |o, f| {
        // SAFETY: forwarded.
        let out = unsafe { required_out(value_out, "value_out") }?;
        *out = i32::from(o.bool(f)?);
        Ok(())
    })
}

/// Copies a GUID field, lower-case hyphenated (braces as in `SerialNumber` removed). Size-query pattern; 36
/// characters plus the NUL. `CM_STATUS_FIELD_TYPE` when the field is not a GUID.
///
/// # Safety
/// As `cm_object_get_string`.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cm_object_get_guid(
    object: *const cm_object,
    field: *const c_char,
    buf: *mut c_char,
    buf_len: usize,
    len_out: *mut usize,
) -> Status {
    access(object, field, |o, f| {
        let guid = o.guid(f)?.hyphenated().to_string();
        // SAFETY: forwarded.
        unsafe { write_str_out(&guid, buf, buf_len, len_out) }
    })
}

/// Copies a base64 field decoded (`Pkcs7`, `Pfx`). Size-query pattern for binary data: `*len_out` receives
/// the length; `buf_len` must be at least that.
///
/// # Safety
/// `object` NULL or live; `field` NULL or a C string; `buf` NULL or `buf_len` writable bytes; `len_out`
/// writable.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cm_object_get_bytes(
    object: *const cm_object,
    field: *const c_char,
    buf: *mut u8,
    buf_len: usize,
    len_out: *mut usize,
) -> Status {
    access(object, field, |o, f| {
        let bytes = zeroize::Zeroizing::new(o.bytes(f)?);
        // SAFETY: forwarded.
        unsafe { write_binary_out(&bytes, buf, buf_len, len_out) }
    })
}

/// Copies the name of an enum field's value (`RequestType`, `Status`). CM sends numbers whose names it
/// documents only by example; a number without a documented name gives `CM_STATUS_ENUM_UNKNOWN` (read the
/// number with `cm_object_get_int`). When CM sent a name, that name. Size-query pattern.
///
/// # Safety
/// As `cm_object_get_string`.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cm_object_get_enum_name(
    object: *const cm_object,
    field: *const c_char,
    buf: *mut c_char,
    buf_len: usize,
    len_out: *mut usize,
) -> Status {
    access(object, field, |o, f| {
        // SAFETY: forwarded.
        unsafe { write_str_out(&o.enum_name(f)?, buf, buf_len, len_out) }
    })
}

/// The number of items of an array field (`KeyStorageProviderNames`, `DataCollection`, `ProfileOperations`).
///
/// # Safety
/// `object` NULL or live; `field` NULL or a C string; `count_out` writable.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cm_object_get_count(
    object: *const cm_object,
    field: *const c_char,
    count_out: *mut usize,
) -> Status {
    access(object, field, |o, f| {
        // SAFETY: forwarded.
        let out = unsafe { required_out(count_out, "count_out") }?;
        *out = o.count(f)?;
        Ok(())
    })
}

/// Copies item `index` of an array field as text. Size-query pattern; `CM_STATUS_INDEX_OUT_OF_RANGE` past
/// the end.
///
/// # Safety
/// As `cm_object_get_string`.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cm_object_get_string_at(
    object: *const cm_object,
    field: *const c_char,
    index: usize,
    buf: *mut c_char,
    buf_len: usize,
    len_out: *mut usize,
) -> Status {
    access(object, field, |o, f| {
        // SAFETY: forwarded.
        unsafe { write_str_out(&o.string_at(f, index)?, buf, buf_len, len_out) }
    })
}

/// Item `index` of an array field of objects, as a new object (free it with `cm_object_free`). Index 0 of a
/// field holding a single object is that object. A request's `DataCollection` items are `CM_OBJECT_DATA_ITEM`.
///
/// # Safety
/// `object` NULL or live; `field` NULL or a C string; `item_out` NULL or writable.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cm_object_get_object_at(
    object: *const cm_object,
    field: *const c_char,
    index: usize,
    item_out: *mut *mut cm_object,
) -> Status {
    reset_out(item_out);
    access(object, field, |o, f| {
        // SAFETY: forwarded.
        let out = unsafe { required_out(item_out, "item_out") }?;
        *out = into_raw(cm_object {
            object: o.object_at(f, index)?,
        });
        Ok(())
    })
}

/// Copies the whole object as the server's JSON. Size-query pattern.
///
/// # Safety
/// `object` NULL or live; buffers as in the conventions.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cm_object_json(
    object: *const cm_object,
    buf: *mut c_char,
    buf_len: usize,
    len_out: *mut usize,
) -> Status {
    super::string_field(
        object,
        "object",
        |o| o.object.json.to_string(),
        buf,
        buf_len,
        len_out,
    )
}

/// Frees an object; NULL is ignored.
///
/// # Safety
/// `object` NULL or not yet freed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cm_object_free(object: *mut cm_object) {
    // SAFETY: forwarded.
    guard_value((), || unsafe { free_boxed(object) })
}

/// A request read with `cm_get_request` / `cm_session_get_request` as a `cm_object`, for the accessors (a
/// copy: free both).
///
/// # Safety
/// `request` NULL or live; `object_out` NULL or writable.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cm_request_to_object(
    request: *const cm_request,
    object_out: *mut *mut cm_object,
) -> Status {
    reset_out(object_out);
    guard(|| {
        // SAFETY: forwarded.
        let r = unsafe { required_ref(request, "request") }?;
        // SAFETY: forwarded.
        let out = unsafe { required_out(object_out, "object_out") }?;
        *out = into_raw(cm_object {
            object: CmObject::new(ObjectKind::Request, r.request.json.clone()),
        });
        Ok(())
    })
}

/// A smartcard read with `cm_get_smartcard` / `cm_find_smartcard` (or their session forms) as a `cm_object`
/// (a copy: free both).
///
/// # Safety
/// `smartcard` NULL or live; `object_out` NULL or writable.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cm_smartcard_to_object(
    smartcard: *const cm_smartcard,
    object_out: *mut *mut cm_object,
) -> Status {
    reset_out(object_out);
    guard(|| {
        // SAFETY: forwarded.
        let s = unsafe { required_ref(smartcard, "smartcard") }?;
        // SAFETY: forwarded.
        let out = unsafe { required_out(object_out, "object_out") }?;
        *out = into_raw(cm_object {
            object: CmObject::new(ObjectKind::Smartcard, s.card.json.clone()),
        });
        Ok(())
    })
}
