//! The input structs of the C API and their conversion to core types.
//!
//! Each struct starts with `struct_size`, which the caller sets to `sizeof(the struct)`. Fields are only
//! ever appended, so an older caller's smaller struct stays valid: the library reads `struct_size` bytes
//! and treats the missing fields as zero (their defaults).

use super::{optional_str, required_ref, required_str};
use crate::auth::{AuthConfig, AuthMethod, Secret};
use crate::cm::http::{
    DEFAULT_CONNECT_TIMEOUT, DEFAULT_MAX_RESPONSE_BYTES, DEFAULT_TIMEOUT, TransportConfig,
};
use crate::cm::{Assignment, ConnectionConfig};
use crate::error::{Error, Result};
use crate::status::Status;
use core::ffi::c_char;
use std::time::Duration;

/// Authentication: Negotiate (Kerberos, NTLM fallback) with the current user's credentials — the logged-on
/// Windows session (SSPI) or the Kerberos ticket cache / keytab (GSSAPI). The default (value 0).
pub const CM_AUTH_NEGOTIATE: u32 = 0;
/// Authentication: none. A 401 answer is reported as `CM_STATUS_AUTH_REQUIRED`.
pub const CM_AUTH_NONE: u32 = 1;
/// Authentication: Negotiate with explicit `username` (`DOMAIN\user` or `user@REALM`) and `password`.
pub const CM_AUTH_NEGOTIATE_EXPLICIT: u32 = 2;
/// Authentication: NTLM with explicit `username` (`DOMAIN\user`) and `password`.
pub const CM_AUTH_NTLM: u32 = 3;
/// Authentication: HTTP Basic with `username` and `password` (HTTPS only unless allowed by flag).
pub const CM_AUTH_BASIC: u32 = 4;
/// Authentication: `Authorization: Bearer <bearer_token>` (for example a token obtained from ADFS).
pub const CM_AUTH_BEARER: u32 = 5;

/// Auth flag: allow credentials or tokens to be sent over plain `http://` (labs only).
pub const CM_AUTH_FLAG_ALLOW_INSECURE_HTTP: u32 = 1;

/// How to reach and authenticate to the CM server. Zero-initialize, set `struct_size` and `server_url`;
/// every other field has a safe default at zero / NULL. The strings are UTF-8 and only read during the call.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct cm_connection {
    /// Must be `sizeof(cm_connection)`.
    pub struct_size: u32,
    /// Server URL, e.g. `https://cm.contoso.com/CertificateManagement` (the `/CertificateManagement` part
    /// and a trailing `/` are optional). `http://` is allowed for labs. Required.
    pub server_url: *const c_char,
    /// Time to connect (TCP and TLS) in milliseconds; 0 = 10000.
    pub connect_timeout_ms: u32,
    /// Time for one whole HTTP request in milliseconds; 0 = 30000. Each authentication leg is one request.
    pub timeout_ms: u32,
    /// Cap on a response body in bytes; 0 = 1 MiB.
    pub max_response_bytes: u32,
    /// Path of a PEM file with extra CA certificates to trust besides the OS trust store; NULL = none.
    pub extra_ca_file: *const c_char,
    /// One of the `CM_AUTH_*` methods; 0 = `CM_AUTH_NEGOTIATE`.
    pub auth_method: u32,
    /// `CM_AUTH_FLAG_*` bits; 0 = none.
    pub auth_flags: u32,
    /// User name for the explicit-credential methods and Basic; NULL otherwise.
    pub username: *const c_char,
    /// Password for the explicit-credential methods and Basic; NULL otherwise. Never logged; the library's
    /// copies are wiped after use.
    pub password: *const c_char,
    /// Token for `CM_AUTH_BEARER`; NULL otherwise.
    pub bearer_token: *const c_char,
    /// Kerberos service principal name override; NULL = `HTTP/<host of server_url>`.
    pub spn: *const c_char,
}

/// What to bind: the CM request, the card, and its ATR. Zero-initialize and set `struct_size`.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct cm_assignment {
    /// Must be `sizeof(cm_assignment)`.
    pub struct_size: u32,
    /// The CM request id: a GUID in any common form (braces, upper case, no hyphens). Required.
    pub request_id: *const c_char,
    /// The card id (minidriver card ID) as a GUID in any common form. Required.
    pub card_id: *const c_char,
    /// The ATR as hex in any common notation (`3B 8D 01 …`, `3b:8d:…`, packed); NULL or "" omits it.
    pub atr: *const c_char,
}

/// Reads a versioned struct: checks `struct_size` and copies what the caller provided over zeroes.
///
/// # Safety
/// `ptr` must be NULL or point to at least `struct_size` readable bytes (its first field).
pub(crate) unsafe fn read_versioned<T: Copy>(
    ptr: *const T,
    name: &str,
    min_size: usize,
) -> Result<T> {
    // SAFETY: forwarded; the first field of every versioned struct is a u32 struct_size.
    let first: &u32 = unsafe { required_ref(ptr.cast::<u32>(), name) }?;
    let given = *first as usize;
    if given < min_size {
        return Err(Error::new(
            Status::InvalidStructSize,
            format!(
                "{name}->struct_size is {given}; set it to sizeof the struct ({} in this version)",
                size_of::<T>()
            ),
        ));
    }
    // SAFETY: T is a repr(C) struct of integers and raw pointers, for which all-zero bytes are valid.
    let mut value: T = unsafe { std::mem::zeroed() };
    let n = given.min(size_of::<T>());
    // SAFETY: the caller provided `given` >= n readable bytes; value has size_of::<T>() >= n bytes.
    unsafe { std::ptr::copy_nonoverlapping(ptr.cast::<u8>(), (&raw mut value).cast::<u8>(), n) };
    Ok(value)
}

fn ms(value: u32, default: Duration) -> Duration {
    if value == 0 {
        default
    } else {
        Duration::from_millis(u64::from(value))
    }
}

/// Converts a caller's connection struct.
///
/// # Safety
/// `conn` must be NULL or valid, with valid or NULL string pointers.
pub(crate) unsafe fn connection_config(conn: *const cm_connection) -> Result<ConnectionConfig> {
    // SAFETY: forwarded.
    let c = unsafe { read_versioned(conn, "connection", size_of::<cm_connection>()) }?;
    // SAFETY: forwarded string contracts.
    let server_url = unsafe { required_str(c.server_url, "connection->server_url") }?.to_string();
    let method = match c.auth_method {
        CM_AUTH_NEGOTIATE => AuthMethod::NegotiateCurrentUser,
        CM_AUTH_NONE => AuthMethod::None,
        CM_AUTH_NEGOTIATE_EXPLICIT => AuthMethod::NegotiateExplicit,
        CM_AUTH_NTLM => AuthMethod::Ntlm,
        CM_AUTH_BASIC => AuthMethod::Basic,
        CM_AUTH_BEARER => AuthMethod::Bearer,
        other => {
            return Err(Error::new(
                Status::InvalidArgument,
                format!("connection->auth_method {other} is not a CM_AUTH_* value"),
            ));
        }
    };
    if c.auth_flags & !CM_AUTH_FLAG_ALLOW_INSECURE_HTTP != 0 {
        return Err(Error::new(
            Status::InvalidArgument,
            format!(
                "connection->auth_flags has unknown bits {:#x}",
                c.auth_flags
            ),
        ));
    }
    // SAFETY: forwarded string contracts.
    let (username, password, token, spn, extra_ca) = unsafe {
        (
            optional_str(c.username, "connection->username")?,
            optional_str(c.password, "connection->password")?,
            optional_str(c.bearer_token, "connection->bearer_token")?,
            optional_str(c.spn, "connection->spn")?,
            optional_str(c.extra_ca_file, "connection->extra_ca_file")?,
        )
    };
    let needs_password = matches!(
        method,
        AuthMethod::NegotiateExplicit | AuthMethod::Ntlm | AuthMethod::Basic
    );
    if needs_password && username.is_none() {
        return Err(Error::new(
            Status::InvalidArgument,
            "this auth_method needs connection->username",
        ));
    }
    if method == AuthMethod::Bearer && token.is_none() {
        return Err(Error::new(
            Status::InvalidArgument,
            "CM_AUTH_BEARER needs connection->bearer_token",
        ));
    }
    Ok(ConnectionConfig {
        server_url,
        transport: TransportConfig {
            connect_timeout: ms(c.connect_timeout_ms, DEFAULT_CONNECT_TIMEOUT),
            timeout: ms(c.timeout_ms, DEFAULT_TIMEOUT),
            extra_ca_file: extra_ca.map(Into::into),
            max_response_bytes: if c.max_response_bytes == 0 {
                DEFAULT_MAX_RESPONSE_BYTES
            } else {
                u64::from(c.max_response_bytes)
            },
            auth: AuthConfig {
                method,
                username: username.map(str::to_string),
                password: password.map(Secret::new),
                token: token.map(Secret::new),
                spn: spn.map(str::to_string),
                allow_insecure_http: c.auth_flags & CM_AUTH_FLAG_ALLOW_INSECURE_HTTP != 0,
            },
        },
    })
}

/// Converts and validates a caller's assignment struct.
///
/// # Safety
/// `assignment` must be NULL or valid, with valid or NULL string pointers.
pub(crate) unsafe fn assignment(assignment: *const cm_assignment) -> Result<Assignment> {
    // SAFETY: forwarded.
    let a = unsafe { read_versioned(assignment, "assignment", size_of::<cm_assignment>()) }?;
    // SAFETY: forwarded string contracts.
    unsafe {
        Assignment::new(
            required_str(a.request_id, "assignment->request_id")?,
            required_str(a.card_id, "assignment->card_id")?,
            optional_str(a.atr, "assignment->atr")?,
        )
    }
}
