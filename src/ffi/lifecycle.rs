//! The enrollment and card lifecycle on a session (`cm_session_*`): profile templates, requests, card secrets,
//! certificate requests and data, smart card status, operations, certificates, profiles. Thin: each export
//! converts its arguments and calls `CmClient` (src/cm/lifecycle.rs).
//!
//! Outputs: objects (`cm_object **`) and lists (`cm_list **`) are set to NULL first. A list is never NULL on
//! success (a 204 answer is an empty list); a single object is NULL on success when CM answered 204 (nothing
//! to show). `CM_STATUS_AUTH_SERVER_UNVERIFIED` comes with the outputs filled, as everywhere.

use super::calls::{Via, deliver};
use super::list::cm_list;
use super::object::cm_object;
use super::session::cm_session;
use super::structs::{caller_slice, cm_bytes, cm_request_spec, request_spec};
use super::{
    guard, optional_str, required_out, required_str, reset_out, write_binary_out, write_str_out,
};
use crate::cm::{CmClient, CmList, CmObject, Owner};
use crate::error::{Error, Result};
use crate::status::Status;
use core::ffi::c_char;

/// Runs a session call (the session checked as every session export checks it).
///
/// # Safety
/// `session` NULL or live.
unsafe fn on_session(
    session: *const cm_session,
    call: impl FnOnce(&CmClient) -> Result<()>,
) -> Status {
    // SAFETY: forwarded caller contract.
    guard(|| unsafe { Via::Session(session).with(call) })
}

/// Hands a list out (its warning becomes the status).
fn give_list(out: *mut *mut cm_list, list: CmList) -> Result<()> {
    let warning = list.warning.clone();
    deliver(out, cm_list { list }, warning)
}

/// Hands an object out, or NULL for "nothing" (204).
fn give_object(out: *mut *mut cm_object, object: Option<CmObject>) -> Result<()> {
    match object {
        Some(object) => {
            let warning = object.warning.clone();
            deliver(out, cm_object { object }, warning)
        }
        None => Ok(()),
    }
}

/// `GET /profiletemplates`: the profile templates the caller may use (`CM_OBJECT_PROFILE_TEMPLATE`: `Name`,
/// `Description`, `Uuid`, `IsSmartcardProfileTemplate`, `IsVirtualSmartcardProfileTemplate`).
///
/// # Safety
/// `session` NULL or live; `templates_out` NULL or writable.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cm_session_list_profile_templates(
    session: *mut cm_session,
    templates_out: *mut *mut cm_list,
) -> Status {
    reset_out(templates_out);
    // SAFETY: forwarded.
    unsafe {
        on_session(session, |c| {
            required_out(templates_out, "templates_out")?;
            give_list(templates_out, c.list_profile_templates()?)
        })
    }
}

/// A profile template's workflow policy for one request type (`CM_OBJECT_POLICY`: `ApprovalsNeeded`,
/// `Enabled`, `PolicyDataCollection`, ...). `policy_type`: Enroll, Duplicate, OfflineUnblock, OnlineUpdate,
/// Renew, Recover, RecoverOnBehalf, Reinstate, Retire, Revoke, TemporaryEnroll (or TemporaryCards), Unblock, in
/// any case. Both documented paths are tried (`/policies/{type}`, then `/policy/workflow/{type}` after a 404).
///
/// # Safety
/// `session` NULL or live; strings NULL or C strings; `policy_out` NULL or writable.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cm_session_get_profile_template_policy(
    session: *mut cm_session,
    profile_template_uuid: *const c_char,
    policy_type: *const c_char,
    policy_out: *mut *mut cm_object,
) -> Status {
    reset_out(policy_out);
    // SAFETY: forwarded.
    unsafe {
        on_session(session, |c| {
            let template = required_str(profile_template_uuid, "profile_template_uuid")?;
            let policy_type = required_str(policy_type, "policy_type")?;
            required_out(policy_out, "policy_out")?;
            give_object(
                policy_out,
                c.profile_template_policy(template, policy_type)?,
            )
        })
    }
}

/// A profile template's smart card configuration (`CM_OBJECT_SMARTCARD_CONFIG`: `DefaultAdminKeyHex`,
/// `DiversifyAdminKey`, `UserPinOption`, ...). The default admin key is a secret: wipe what you copy out.
///
/// # Safety
/// As `cm_session_get_profile_template_policy`.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cm_session_get_smartcard_config(
    session: *mut cm_session,
    profile_template_uuid: *const c_char,
    config_out: *mut *mut cm_object,
) -> Status {
    reset_out(config_out);
    // SAFETY: forwarded.
    unsafe {
        on_session(session, |c| {
            let template = required_str(profile_template_uuid, "profile_template_uuid")?;
            required_out(config_out, "config_out")?;
            give_object(config_out, c.smartcard_config(template)?)
        })
    }
}

/// `POST /requests`: creates a request. `*created_out` (`CM_OBJECT_CREATED`) has `Uri` as CM sent it and
/// `Uuid`, the new request's id.
///
/// Sent at most once: if the answer is lost after the request may have reached the server, the status is
/// `CM_STATUS_OUTCOME_UNKNOWN` and nothing is resent. Take the time (`time(NULL)`) before calling, and after
/// that status call `cm_session_find_created_requests` with the same spec and that time.
///
/// # Safety
/// `session` NULL or live; `spec` NULL or a valid `cm_request_spec`; `created_out` NULL or writable.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cm_session_create_request(
    session: *mut cm_session,
    spec: *const cm_request_spec,
    created_out: *mut *mut cm_object,
) -> Status {
    reset_out(created_out);
    // SAFETY: forwarded.
    unsafe {
        on_session(session, |c| {
            let spec = request_spec(spec)?;
            required_out(created_out, "created_out")?;
            give_object(created_out, Some(c.create_request(&spec)?))
        })
    }
}

/// The reconcile for `cm_session_create_request` after `CM_STATUS_OUTCOME_UNKNOWN`: the requests that may be
/// the one it created — matching the spec's template, target, card, comment and type (where CM documents the
/// type's number) and submitted at or after `submitted_after_unix` (seconds; five minutes of server clock skew
/// are allowed). An empty list means it was not created and may be sent again; one item is it; several mean
/// the spec is not distinctive (use a unique comment).
///
/// # Safety
/// As `cm_session_create_request`; `requests_out` NULL or writable.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cm_session_find_created_requests(
    session: *mut cm_session,
    spec: *const cm_request_spec,
    submitted_after_unix: i64,
    requests_out: *mut *mut cm_list,
) -> Status {
    reset_out(requests_out);
    // SAFETY: forwarded.
    unsafe {
        on_session(session, |c| {
            let spec = request_spec(spec)?;
            required_out(requests_out, "requests_out")?;
            give_list(
                requests_out,
                c.find_created_requests(&spec, submitted_after_unix)?,
            )
        })
    }
}

/// `GET /requests[?status=][&targetuser=current]`: requests as `CM_OBJECT_REQUEST` objects. `status`: NULL or
/// "" for all, else Approved, Canceled, Completed, Denied, Executing, Failed, None or Pending (any case);
/// `mine` non-zero: only the caller's own.
///
/// # Safety
/// `session` NULL or live; `status` NULL or a C string; `requests_out` NULL or writable.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cm_session_list_requests(
    session: *mut cm_session,
    status: *const c_char,
    mine: i32,
    requests_out: *mut *mut cm_list,
) -> Status {
    reset_out(requests_out);
    // SAFETY: forwarded.
    unsafe {
        on_session(session, |c| {
            let status = optional_str(status, "status")?;
            required_out(requests_out, "requests_out")?;
            give_list(requests_out, c.list_request_objects(status, mine != 0)?)
        })
    }
}

/// `PUT /requests/{id}`: sets a request's state to Completed, Canceled or Abandoned (any case). `*request_out`
/// is the updated request, or NULL when CM answered 204. Sent at most once; after
/// `CM_STATUS_OUTCOME_UNKNOWN`, read the request back with `cm_session_get_request`.
///
/// # Safety
/// `session` NULL or live; strings NULL or C strings; `request_out` NULL or writable (NULL: no object wanted).
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cm_session_set_request_status(
    session: *mut cm_session,
    request_uuid: *const c_char,
    status: *const c_char,
    request_out: *mut *mut cm_object,
) -> Status {
    reset_out(request_out);
    // SAFETY: forwarded.
    unsafe {
        on_session(session, |c| {
            let request = required_str(request_uuid, "request_uuid")?;
            let status = required_str(status, "status")?;
            give_object(request_out, c.set_request_status(request, status)?)
        })
    }
}

/// `PUT /requests/{rid}/smartcards/{sid}`: sets a smart card's status (Active, Assigned, Disabled, New, None,
/// Retired, Suspended; any case) within a request. `*smartcard_out` is the updated smartcard, or NULL when CM
/// answered 204. Sent at most once; after `CM_STATUS_OUTCOME_UNKNOWN`, read the card back.
///
/// # Safety
/// As `cm_session_set_request_status`.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cm_session_set_smartcard_status(
    session: *mut cm_session,
    request_uuid: *const c_char,
    smartcard_uuid: *const c_char,
    status: *const c_char,
    smartcard_out: *mut *mut cm_object,
) -> Status {
    reset_out(smartcard_out);
    // SAFETY: forwarded.
    unsafe {
        on_session(session, |c| {
            let request = required_str(request_uuid, "request_uuid")?;
            let smartcard = required_str(smartcard_uuid, "smartcard_uuid")?;
            let status = required_str(status, "status")?;
            give_object(
                smartcard_out,
                c.set_smartcard_status(request, smartcard, status)?,
            )
        })
    }
}

/// `GET /requests/{id}/certificaterequestgenerationoptions`: one `CM_OBJECT_CSR_OPTION` per PKCS#10 request to
/// build (`Subject`, `KeyAlgorithmName`, `KeySize`, `HashAlgorithmName`, `KeyStorageProviderNames`,
/// `Exportable`, `KeyProtectionLevel`, `KeyUsages`, `FriendlyName`). Empty for server-generated keys.
///
/// # Safety
/// `session` NULL or live; `request_uuid` NULL or a C string; `options_out` NULL or writable.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cm_session_get_csr_options(
    session: *mut cm_session,
    request_uuid: *const c_char,
    options_out: *mut *mut cm_list,
) -> Status {
    // SAFETY: forwarded.
    unsafe {
        list_by_id(
            session,
            request_uuid,
            "request_uuid",
            options_out,
            "options_out",
            |c, id| c.csr_options(id),
        )
    }
}

/// `POST /requests/{id}/certificatedata`: sends `csr_count` PKCS#10 requests (each DER or PEM; none for
/// server-generated keys) and returns the certificates as `CM_OBJECT_CERTIFICATE_DATA` objects (`Pkcs7` or
/// `Pfx` as bytes with `cm_object_get_bytes`, `isPkcs7`, `isPfx`, `Error`, ...); CM may return more than
/// requested. `pfx_password` (NULL: "") protects server-generated keys; it is wiped from our memory after use.
///
/// Sent at most once, and there is no reconcile: CM returns certificate data only once. After
/// `CM_STATUS_OUTCOME_UNKNOWN`, `cm_session_get_smartcard_certificates` shows whether certificates were issued;
/// the CM administrator can tell whether the request must be redone.
///
/// # Safety
/// `session` NULL or live; `csrs` NULL (only with `csr_count` 0) or `csr_count` valid `cm_bytes`; strings NULL
/// or C strings; `certificates_out` NULL or writable.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cm_session_submit_certificate_requests(
    session: *mut cm_session,
    request_uuid: *const c_char,
    csrs: *const cm_bytes,
    csr_count: usize,
    pfx_password: *const c_char,
    comments: *const c_char,
    certificates_out: *mut *mut cm_list,
) -> Status {
    reset_out(certificates_out);
    // SAFETY: forwarded.
    unsafe {
        on_session(session, |c| {
            let request = required_str(request_uuid, "request_uuid")?;
            let items = caller_slice(csrs, csr_count, "csrs", "csr_count")?;
            let slices = items
                .iter()
                .enumerate()
                .map(|(i, b)| {
                    caller_slice(
                        b.data,
                        b.len,
                        &format!("csrs[{i}].data"),
                        &format!("csrs[{i}].len"),
                    )
                })
                .collect::<Result<Vec<_>>>()?;
            let password = optional_str(pfx_password, "pfx_password")?;
            let comments = optional_str(comments, "comments")?;
            required_out(certificates_out, "certificates_out")?;
            give_list(
                certificates_out,
                c.submit_certificate_requests(request, &slices, password, comments)?,
            )
        })
    }
}

/// `GET .../diversifiedkey`: the card's admin key, diversified by CM (24 bytes for a 3DES key), copied into
/// `key_buf` (size-query pattern for bytes: `*key_len_out` receives the length). CM answers 403 when the
/// template does not diversify admin keys. The key is a secret: our copies are wiped; wipe yours after use.
///
/// # Safety
/// `session` NULL or live; strings NULL or C strings (`atr` may be NULL); `key_buf` NULL or `key_buf_len`
/// writable bytes; `key_len_out` writable.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cm_session_get_admin_key(
    session: *mut cm_session,
    request_uuid: *const c_char,
    smartcard_uuid: *const c_char,
    card_id: *const c_char,
    atr: *const c_char,
    key_buf: *mut u8,
    key_buf_len: usize,
    key_len_out: *mut usize,
) -> Status {
    // SAFETY: forwarded.
    unsafe {
        on_session(session, |c| {
            let request = required_str(request_uuid, "request_uuid")?;
            let smartcard = required_str(smartcard_uuid, "smartcard_uuid")?;
            let card_id = required_str(card_id, "card_id")?;
            let atr = optional_str(atr, "atr")?;
            required_out(key_len_out, "key_len_out")?;
            let (key, warning) = c.admin_key(request, smartcard, card_id, atr)?;
            write_binary_out(&key, key_buf, key_buf_len, key_len_out)?;
            warning.map_or(Ok(()), Err)
        })
    }
}

/// `GET .../authenticationresponse`: CM's answer to the card's admin challenge (Base CSP: 3DES of the 8-byte
/// challenge under the admin key), computed with the diversified key (`diversified` non-zero) or the
/// template's default key (0). The challenge is sent base64 and URL-escaped; the response comes back as bytes
/// (size-query pattern for bytes).
///
/// # Safety
/// As `cm_session_get_admin_key`; `challenge` NULL or `challenge_len` readable bytes.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cm_session_get_authentication_response(
    session: *mut cm_session,
    request_uuid: *const c_char,
    smartcard_uuid: *const c_char,
    card_id: *const c_char,
    atr: *const c_char,
    challenge: *const u8,
    challenge_len: usize,
    diversified: i32,
    response_buf: *mut u8,
    response_buf_len: usize,
    response_len_out: *mut usize,
) -> Status {
    // SAFETY: forwarded.
    unsafe {
        on_session(session, |c| {
            let request = required_str(request_uuid, "request_uuid")?;
            let smartcard = required_str(smartcard_uuid, "smartcard_uuid")?;
            let card_id = required_str(card_id, "card_id")?;
            let atr = optional_str(atr, "atr")?;
            if challenge.is_null() {
                return Err(Error::new(Status::NullArgument, "challenge is NULL"));
            }
            let challenge = caller_slice(challenge, challenge_len, "challenge", "challenge_len")?;
            required_out(response_len_out, "response_len_out")?;
            let (response, warning) = c.authentication_response(
                request,
                smartcard,
                card_id,
                atr,
                challenge,
                diversified != 0,
            )?;
            write_binary_out(&response, response_buf, response_buf_len, response_len_out)?;
            warning.map_or(Ok(()), Err)
        })
    }
}

/// `GET /smartcards/{id}/serverproposedpin` (with `request_uuid`, the controller's
/// `/requests/{rid}/smartcards/{id}/serverproposedpin` is tried after a 404): the PIN CM proposes, when the
/// template's policy has one (else CM answers 403). `card_id`/`atr` NULL omit them. Size-query pattern; the
/// PIN is a secret: our copies are wiped.
///
/// # Safety
/// `session` NULL or live; strings NULL or C strings; buffers as in the conventions.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cm_session_get_server_proposed_pin(
    session: *mut cm_session,
    request_uuid: *const c_char,
    smartcard_uuid: *const c_char,
    card_id: *const c_char,
    atr: *const c_char,
    pin_buf: *mut c_char,
    pin_buf_len: usize,
    pin_len_out: *mut usize,
) -> Status {
    // SAFETY: forwarded.
    unsafe {
        on_session(session, |c| {
            let request = optional_str(request_uuid, "request_uuid")?;
            let smartcard = required_str(smartcard_uuid, "smartcard_uuid")?;
            let card_id = optional_str(card_id, "card_id")?;
            let atr = optional_str(atr, "atr")?;
            required_out(pin_len_out, "pin_len_out")?;
            let (pin, warning) = c.server_proposed_pin(request, smartcard, card_id, atr)?;
            write_str_out(&pin, pin_buf, pin_buf_len, pin_len_out)?;
            warning.map_or(Ok(()), Err)
        })
    }
}

/// Shared body of the exports that list what belongs to one id.
///
/// # Safety
/// As the exports.
unsafe fn list_by_id(
    session: *mut cm_session,
    uuid: *const c_char,
    name: &str,
    out: *mut *mut cm_list,
    out_name: &str,
    call: impl FnOnce(&CmClient, &str) -> Result<CmList>,
) -> Status {
    reset_out(out);
    // SAFETY: forwarded.
    unsafe {
        on_session(session, |c| {
            let id = required_str(uuid, name)?;
            required_out(out, out_name)?;
            give_list(out, call(c, id)?)
        })
    }
}

/// `GET /smartcards/{id}/operations`: the operations the card allows now, as strings (`cm_list_get_string`;
/// the docs' example is lowercase: "renew", "unblock", "retire").
///
/// # Safety
/// `session` NULL or live; `smartcard_uuid` NULL or a C string; `operations_out` NULL or writable.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cm_session_get_smartcard_operations(
    session: *mut cm_session,
    smartcard_uuid: *const c_char,
    operations_out: *mut *mut cm_list,
) -> Status {
    // SAFETY: forwarded.
    unsafe {
        list_by_id(
            session,
            smartcard_uuid,
            "smartcard_uuid",
            operations_out,
            "operations_out",
            |c, id| c.operations(Owner::Smartcard, id),
        )
    }
}

/// `GET /profiles/{id}/operations`, as `cm_session_get_smartcard_operations`.
///
/// # Safety
/// As `cm_session_get_smartcard_operations`.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cm_session_get_profile_operations(
    session: *mut cm_session,
    profile_uuid: *const c_char,
    operations_out: *mut *mut cm_list,
) -> Status {
    // SAFETY: forwarded.
    unsafe {
        list_by_id(
            session,
            profile_uuid,
            "profile_uuid",
            operations_out,
            "operations_out",
            |c, id| c.operations(Owner::Profile, id),
        )
    }
}

/// `GET /smartcards/{id}/certificates`: the certificates on the card (`CM_OBJECT_CARD_CERTIFICATE`:
/// `TemplateCommonName`, `SerialNumber`, `Thumbprint`, `CertificateType`, `IsKeyHistory`, `ArchivedOnCa`).
///
/// # Safety
/// As `cm_session_get_smartcard_operations`.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cm_session_get_smartcard_certificates(
    session: *mut cm_session,
    smartcard_uuid: *const c_char,
    certificates_out: *mut *mut cm_list,
) -> Status {
    // SAFETY: forwarded.
    unsafe {
        list_by_id(
            session,
            smartcard_uuid,
            "smartcard_uuid",
            certificates_out,
            "certificates_out",
            |c, id| c.certificates(Owner::Smartcard, id),
        )
    }
}

/// `GET /profiles/{id}/certificates`, as `cm_session_get_smartcard_certificates`.
///
/// # Safety
/// As `cm_session_get_smartcard_operations`.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cm_session_get_profile_certificates(
    session: *mut cm_session,
    profile_uuid: *const c_char,
    certificates_out: *mut *mut cm_list,
) -> Status {
    // SAFETY: forwarded.
    unsafe {
        list_by_id(
            session,
            profile_uuid,
            "profile_uuid",
            certificates_out,
            "certificates_out",
            |c, id| c.certificates(Owner::Profile, id),
        )
    }
}

/// `GET /certificates`: the caller's certificates, retired ones filtered out by CM
/// (`CM_OBJECT_USER_CERTIFICATE`: the card certificate fields plus `Issuer`, `NotBefore`, `NotAfter`,
/// `RequesterName`, `Status`).
///
/// # Safety
/// `session` NULL or live; `certificates_out` NULL or writable.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cm_session_get_user_certificates(
    session: *mut cm_session,
    certificates_out: *mut *mut cm_list,
) -> Status {
    reset_out(certificates_out);
    // SAFETY: forwarded.
    unsafe {
        on_session(session, |c| {
            required_out(certificates_out, "certificates_out")?;
            give_list(certificates_out, c.user_certificates()?)
        })
    }
}

/// `GET /profiles[?status=]`: profiles (`CM_OBJECT_PROFILE`). `status`: NULL or "" for all, else Active,
/// Approved, Canceled, Completed, Denied, Executing, Failed, None or Pending (any case).
///
/// # Safety
/// `session` NULL or live; `status` NULL or a C string; `profiles_out` NULL or writable.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cm_session_list_profiles(
    session: *mut cm_session,
    status: *const c_char,
    profiles_out: *mut *mut cm_list,
) -> Status {
    reset_out(profiles_out);
    // SAFETY: forwarded.
    unsafe {
        on_session(session, |c| {
            let status = optional_str(status, "status")?;
            required_out(profiles_out, "profiles_out")?;
            give_list(profiles_out, c.list_profiles(status)?)
        })
    }
}

/// `GET /profiles/{id}`: one profile, or NULL (with `CM_STATUS_OK`) when CM answered 204.
///
/// # Safety
/// `session` NULL or live; `profile_uuid` NULL or a C string; `profile_out` NULL or writable.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cm_session_get_profile(
    session: *mut cm_session,
    profile_uuid: *const c_char,
    profile_out: *mut *mut cm_object,
) -> Status {
    reset_out(profile_out);
    // SAFETY: forwarded.
    unsafe {
        on_session(session, |c| {
            let id = required_str(profile_uuid, "profile_uuid")?;
            required_out(profile_out, "profile_out")?;
            give_object(profile_out, c.get_profile(id)?)
        })
    }
}

/// `GET /requests/{id}/profiles`: the profiles of a request.
///
/// # Safety
/// As `cm_session_get_smartcard_operations`.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cm_session_list_request_profiles(
    session: *mut cm_session,
    request_uuid: *const c_char,
    profiles_out: *mut *mut cm_list,
) -> Status {
    // SAFETY: forwarded.
    unsafe {
        list_by_id(
            session,
            request_uuid,
            "request_uuid",
            profiles_out,
            "profiles_out",
            |c, id| c.request_profiles(id),
        )
    }
}
