//! The input structs of the C API and their conversion to core types.
//!
//! Each struct starts with `struct_size`, which the caller sets to `sizeof(the struct)`. Fields are only
//! ever appended, so an older caller's smaller struct stays valid: the library reads `struct_size` bytes
//! and treats the missing fields as zero (their defaults).

use super::{optional_str, required_ref, required_str};
use crate::auth::{AuthConfig, AuthMethod, Secret};
use crate::cm::transport::{
    CM_DEFAULT_CONNECT_TIMEOUT, CM_DEFAULT_MAX_RESPONSE_BYTES, CM_DEFAULT_TIMEOUT, TransportConfig,
};
use crate::cm::{Assignment, ConnectionConfig, RequestSpec};
use crate::error::{Error, Result};
use crate::guid::parse_guid;
use crate::http::proxy::ProxyConfig;
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

/// Auth flag: allow credentials or tokens to be sent over plain `http://` (labs only); also allows Basic
/// credentials to a plain-http proxy.
pub const CM_AUTH_FLAG_ALLOW_INSECURE_HTTP: u32 = 1;
/// Auth flag: require the server to prove its identity (Kerberos mutual authentication). An answer without
/// that proof — NTLM, or Negotiate without a verified final token — is `CM_STATUS_AUTH_SERVER_UNVERIFIED`
/// (the server did process the request; never resend it).
pub const CM_AUTH_FLAG_REQUIRE_MUTUAL_AUTH: u32 = 2;

/// Proxy: the system's settings (the default, value 0). Windows: the current user's WinHTTP / Internet
/// Options settings incl. auto-detect and PAC (as .NET uses). Unix: `https_proxy`/`HTTPS_PROXY`,
/// `http_proxy`, `all_proxy`/`ALL_PROXY` with `no_proxy`/`NO_PROXY`. Loopback servers are never proxied.
pub const CM_PROXY_SYSTEM: u32 = 0;
/// Proxy: never use one.
pub const CM_PROXY_NONE: u32 = 1;
/// Proxy: `proxy_url`, except for the hosts in `proxy_bypass`.
pub const CM_PROXY_EXPLICIT: u32 = 2;

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
    /// One of the `CM_PROXY_*` values; 0 = `CM_PROXY_SYSTEM`. https servers are reached through a CONNECT
    /// tunnel; a proxy that cannot be reached or refuses the tunnel gives `CM_STATUS_PROXY_FAILED` (nothing
    /// sent).
    pub proxy_mode: u32,
    /// `CM_PROXY_EXPLICIT`: the proxy, `http://host:port`.
    pub proxy_url: *const c_char,
    /// `CM_PROXY_EXPLICIT`: hosts never proxied, separated by `,` or `;` (`cm.contoso.com`, `.contoso.com`,
    /// `*.contoso.com`, `<local>`, `*`); NULL = none.
    pub proxy_bypass: *const c_char,
    /// User for a proxy that answers 407 (`DOMAIN\user`); NULL = the current user (Negotiate/NTLM).
    pub proxy_username: *const c_char,
    /// Password for `proxy_username`; wiped after use like `password`.
    pub proxy_password: *const c_char,
    /// Sessions: idle connections kept alive for later calls; 0 = 4.
    pub max_idle_connections: u32,
    /// Sessions: idle connections older than this many milliseconds are closed; 0 = 30000.
    pub idle_timeout_ms: u32,
}

/// The size of `cm_connection` before the proxy and session fields were appended (ABI 1 callers).
pub(crate) const CONNECTION_V1_SIZE: usize = std::mem::offset_of!(cm_connection, proxy_mode);

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
    // A size every compiler produces is a multiple of the struct's alignment; anything else would end
    // inside a field (half a pointer would then be read as a string).
    if !given.is_multiple_of(align_of::<T>()) {
        return Err(Error::new(
            Status::InvalidStructSize,
            format!(
                "{name}->struct_size is {given}, which ends inside a field; set it to sizeof the struct ({} in \
                 this version)",
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
    let c = unsafe { read_versioned(conn, "connection", CONNECTION_V1_SIZE) }?;
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
    if c.auth_flags & !(CM_AUTH_FLAG_ALLOW_INSECURE_HTTP | CM_AUTH_FLAG_REQUIRE_MUTUAL_AUTH) != 0 {
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
    // SAFETY: forwarded string contracts.
    let (proxy_url, proxy_bypass, proxy_username, proxy_password) = unsafe {
        (
            optional_str(c.proxy_url, "connection->proxy_url")?,
            optional_str(c.proxy_bypass, "connection->proxy_bypass")?,
            optional_str(c.proxy_username, "connection->proxy_username")?,
            optional_str(c.proxy_password, "connection->proxy_password")?,
        )
    };
    let proxy = match c.proxy_mode {
        CM_PROXY_SYSTEM => ProxyConfig::System,
        CM_PROXY_NONE => ProxyConfig::None,
        CM_PROXY_EXPLICIT => ProxyConfig::Explicit {
            url: proxy_url
                .ok_or_else(|| {
                    Error::new(
                        Status::InvalidArgument,
                        "CM_PROXY_EXPLICIT needs connection->proxy_url",
                    )
                })?
                .to_string(),
            bypass: proxy_bypass.unwrap_or("").to_string(),
        },
        other => {
            return Err(Error::new(
                Status::InvalidArgument,
                format!("connection->proxy_mode {other} is not a CM_PROXY_* value"),
            ));
        }
    };
    let config = ConnectionConfig {
        server_url,
        transport: TransportConfig {
            connect_timeout: ms(c.connect_timeout_ms, CM_DEFAULT_CONNECT_TIMEOUT),
            timeout: ms(c.timeout_ms, CM_DEFAULT_TIMEOUT),
            extra_ca_file: extra_ca.map(Into::into),
            max_response_bytes: if c.max_response_bytes == 0 {
                CM_DEFAULT_MAX_RESPONSE_BYTES
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
                require_mutual_auth: c.auth_flags & CM_AUTH_FLAG_REQUIRE_MUTUAL_AUTH != 0,
            },
            proxy,
            proxy_username: proxy_username.map(str::to_string),
            proxy_password: proxy_password.map(Secret::new),
            max_idle_connections: if c.max_idle_connections == 0 {
                crate::http::DEFAULT_MAX_IDLE
            } else {
                c.max_idle_connections as usize
            },
            idle_timeout: ms(c.idle_timeout_ms, crate::http::DEFAULT_IDLE_TIMEOUT),
        },
    };
    config.transport.auth.validate()?;
    Ok(config)
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

/// One data collection item of a new request: a name and a value (NULL value: sent as null).
#[repr(C)]
#[derive(Clone, Copy)]
pub struct cm_data_item {
    /// The item's name, as the profile template's policy names it. Required.
    pub name: *const c_char,
    /// The value; NULL sends null.
    pub value: *const c_char,
}

/// A request to create (`POST /requests`). Zero-initialize, set `struct_size` and the fields you need.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct cm_request_spec {
    /// Must be `sizeof(cm_request_spec)`.
    pub struct_size: u32,
    /// The request type, any case: Enroll, Duplicate, OfflineUnblock, OnlineUpdate, Renew, Recover,
    /// RecoverOnBehalf, Reinstate, Retire, Revoke, TemporaryCards, Unblock. Required.
    pub request_type: *const c_char,
    /// The profile template uuid. Required for Enroll; for the other types this or `smartcard_uuid`.
    pub profile_template_uuid: *const c_char,
    /// The target user's uuid; NULL or "" means the caller.
    pub target_user_uuid: *const c_char,
    /// The smart card the request is about (Unblock, Retire, ...: the CM Uuid, not the card id); NULL omits it.
    pub smartcard_uuid: *const c_char,
    /// The comment; NULL sends "". A unique comment makes `cm_session_find_created_requests` exact.
    pub comment: *const c_char,
    /// The priority (0 and up); negative leaves it to the policy's default.
    pub priority: i32,
    /// The data collection items (`data_collection_count` of them); NULL when the count is 0.
    pub data_collection: *const cm_data_item,
    /// The number of data collection items.
    pub data_collection_count: usize,
}

/// A byte string given to the library (a PKCS#10 request in DER or PEM).
#[repr(C)]
#[derive(Clone, Copy)]
pub struct cm_bytes {
    /// The bytes; NULL only when `len` is 0.
    pub data: *const u8,
    /// The number of bytes.
    pub len: usize,
}

/// A caller's array (`count` items at `data`) as a slice; NULL with a count of 0 is the empty slice.
/// `name` and `count_name` name the pointer and its count in the error.
///
/// # Safety
/// `data` must be NULL or point to `count` readable items valid for the call.
pub(crate) unsafe fn caller_slice<'a, T>(
    data: *const T,
    count: usize,
    name: &str,
    count_name: &str,
) -> Result<&'a [T]> {
    if count == 0 {
        return Ok(&[]);
    }
    if data.is_null() {
        return Err(Error::new(
            Status::NullArgument,
            format!("{name} is NULL but {count_name} is {count}"),
        ));
    }
    // SAFETY: the caller promises `count` readable items.
    Ok(unsafe { std::slice::from_raw_parts(data, count) })
}

/// Converts and validates a caller's request spec.
///
/// # Safety
/// `spec` must be NULL or valid, with valid or NULL string pointers and `data_collection_count` readable items.
pub(crate) unsafe fn request_spec(spec: *const cm_request_spec) -> Result<RequestSpec> {
    // SAFETY: forwarded.
    let s = unsafe { read_versioned(spec, "spec", size_of::<cm_request_spec>()) }?;
    // SAFETY: forwarded string contracts.
    let text = |p: *const c_char, name: &str| unsafe { optional_str(p, name) };
    let guid = |p: *const c_char, name: &str| -> Result<Option<uuid::Uuid>> {
        text(p, name)?.map(|g| parse_guid(g, name)).transpose()
    };
    // SAFETY: forwarded.
    let mut out = RequestSpec::new(unsafe { required_str(s.request_type, "spec->request_type") }?)?;
    out.profile_template = guid(s.profile_template_uuid, "spec->profile_template_uuid")?;
    out.target_user = guid(s.target_user_uuid, "spec->target_user_uuid")?;
    out.smartcard = guid(s.smartcard_uuid, "spec->smartcard_uuid")?;
    out.comment = text(s.comment, "spec->comment")?.unwrap_or("").to_string();
    out.priority = (s.priority >= 0).then_some(s.priority);
    // SAFETY: the caller promises data_collection_count readable items.
    let items = unsafe {
        caller_slice(
            s.data_collection,
            s.data_collection_count,
            "spec->data_collection",
            "spec->data_collection_count",
        )
    }?;
    for (i, item) in items.iter().enumerate() {
        let name = format!("spec->data_collection[{i}].name");
        // SAFETY: forwarded string contracts.
        let key = unsafe { required_str(item.name, &name) }?.to_string();
        // NULL is null; "" stays "".
        let value = if item.value.is_null() {
            None
        } else {
            let name = format!("spec->data_collection[{i}].value");
            // SAFETY: forwarded string contracts.
            Some(unsafe { required_str(item.value, &name) }?.to_string())
        };
        out.data_collection.push((key, value));
    }
    out.validate()?;
    Ok(out)
}
