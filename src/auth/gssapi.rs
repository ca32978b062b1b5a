//! Unix backend: GSSAPI (MIT krb5 or Heimdal) loaded at run time with `dlopen`.
//!
//! * `Negotiate` = the SPNEGO mechanism (Kerberos first) with the default credentials (ticket cache from
//!   `kinit`/sssd/`KRB5CCNAME`, or a client keytab via `KRB5_CLIENT_KTNAME`) or with explicit credentials
//!   (`gss_acquire_cred_with_password`, which for Kerberos runs the AS exchange into a memory ccache).
//! * `NTLM` = the gss-ntlmssp mechanism (OID 1.3.6.1.4.1.311.2.2.10) with explicit credentials; it emits raw
//!   NTLMSSP messages, which is exactly what the HTTP `NTLM` scheme carries. Needs the `gss-ntlmssp` package
//!   on the client machine at run time (`/etc/gss/mech.d/mech.ntlmssp.conf`); without it the mechanism is
//!   unknown and the call fails with `AuthUnavailable`.
//!
//! Why `dlopen` and ~10 hand-declared functions instead of the `libgssapi` crate: no bindgen/libclang, no
//! `libkrb5-dev`/pkg-config at build time, no link-time dependency (the library loads and works for
//! Basic/Bearer on machines without krb5), and no extra crates. The GSSAPI C ABI (RFC 2744) is stable.

use super::{Mechanism, Step};
use crate::error::{Error, Result};
use crate::status::Status;
use std::ffi::{CStr, c_char, c_int, c_void};
use std::ptr;
use std::sync::OnceLock;

type OmUint32 = u32;
type GssName = *mut c_void;
type GssCtx = *mut c_void;
type GssCred = *mut c_void;

// Apple's GSS.framework packs these structs to 2 bytes; MIT and Heimdal on other systems use natural layout.
#[cfg_attr(target_os = "macos", repr(C, packed(2)))]
#[cfg_attr(not(target_os = "macos"), repr(C))]
struct GssBuffer {
    length: usize,
    value: *mut c_void,
}

#[cfg_attr(target_os = "macos", repr(C, packed(2)))]
#[cfg_attr(not(target_os = "macos"), repr(C))]
struct GssOid {
    length: OmUint32,
    elements: *mut c_void,
}

#[cfg_attr(target_os = "macos", repr(C, packed(2)))]
#[cfg_attr(not(target_os = "macos"), repr(C))]
struct GssOidSet {
    count: usize,
    elements: *mut GssOid,
}

const GSS_C_MUTUAL_FLAG: OmUint32 = 2;
const GSS_C_INITIATE: c_int = 1;
const GSS_C_GSS_CODE: c_int = 1;
const GSS_C_MECH_CODE: c_int = 2;
const GSS_S_COMPLETE: OmUint32 = 0;
const GSS_S_CONTINUE_NEEDED: OmUint32 = 1;
const GSS_C_ROUTINE_ERROR_MASK: OmUint32 = 0xff << 16;
const GSS_C_CALLING_ERROR_MASK: OmUint32 = 0xff << 24;
const GSS_S_BAD_MECH: OmUint32 = 1 << 16;
const GSS_S_NO_CRED: OmUint32 = 7 << 16;
const GSS_S_CREDENTIALS_EXPIRED: OmUint32 = 11 << 16;

/// DER bodies of the OIDs used.
const OID_NT_HOSTBASED_SERVICE: &[u8] = b"\x2a\x86\x48\x86\xf7\x12\x01\x02\x01\x04"; // 1.2.840.113554.1.2.1.4
const OID_NT_USER_NAME: &[u8] = b"\x2a\x86\x48\x86\xf7\x12\x01\x02\x01\x01"; // 1.2.840.113554.1.2.1.1
const OID_NT_KRB5_PRINCIPAL: &[u8] = b"\x2a\x86\x48\x86\xf7\x12\x01\x02\x02\x01"; // 1.2.840.113554.1.2.2.1
const OID_SPNEGO: &[u8] = b"\x2b\x06\x01\x05\x05\x02"; // 1.3.6.1.5.5.2
const OID_KRB5: &[u8] = b"\x2a\x86\x48\x86\xf7\x12\x01\x02\x02"; // 1.2.840.113554.1.2.2
const OID_NTLMSSP: &[u8] = b"\x2b\x06\x01\x04\x01\x82\x37\x02\x02\x0a"; // 1.3.6.1.4.1.311.2.2.10

fn oid(der: &'static [u8]) -> GssOid {
    GssOid {
        length: der.len() as OmUint32,
        elements: der.as_ptr() as *mut c_void,
    }
}

type FnImportName =
    unsafe extern "C" fn(*mut OmUint32, *mut GssBuffer, *mut GssOid, *mut GssName) -> OmUint32;
type FnReleaseName = unsafe extern "C" fn(*mut OmUint32, *mut GssName) -> OmUint32;
type FnInitSecContext = unsafe extern "C" fn(
    *mut OmUint32,
    GssCred,
    *mut GssCtx,
    GssName,
    *mut GssOid,
    OmUint32,
    OmUint32,
    *mut c_void,
    *mut GssBuffer,
    *mut *mut GssOid,
    *mut GssBuffer,
    *mut OmUint32,
    *mut OmUint32,
) -> OmUint32;
type FnDeleteSecContext =
    unsafe extern "C" fn(*mut OmUint32, *mut GssCtx, *mut GssBuffer) -> OmUint32;
type FnReleaseBuffer = unsafe extern "C" fn(*mut OmUint32, *mut GssBuffer) -> OmUint32;
type FnDisplayStatus = unsafe extern "C" fn(
    *mut OmUint32,
    OmUint32,
    c_int,
    *mut GssOid,
    *mut OmUint32,
    *mut GssBuffer,
) -> OmUint32;
type FnAcquireCredWithPassword = unsafe extern "C" fn(
    *mut OmUint32,
    GssName,
    *mut GssBuffer,
    OmUint32,
    *mut GssOidSet,
    c_int,
    *mut GssCred,
    *mut *mut GssOidSet,
    *mut OmUint32,
) -> OmUint32;
type FnReleaseCred = unsafe extern "C" fn(*mut OmUint32, *mut GssCred) -> OmUint32;

struct Gss {
    import_name: FnImportName,
    release_name: FnReleaseName,
    init_sec_context: FnInitSecContext,
    delete_sec_context: FnDeleteSecContext,
    release_buffer: FnReleaseBuffer,
    display_status: FnDisplayStatus,
    acquire_cred_with_password: Option<FnAcquireCredWithPassword>,
    release_cred: FnReleaseCred,
}

// Excluded from the C header by cbindgen.toml.
unsafe extern "C" {
    fn dlopen(filename: *const c_char, flag: c_int) -> *mut c_void;
    fn dlsym(handle: *mut c_void, symbol: *const c_char) -> *mut c_void;
}
const RTLD_NOW: c_int = 2;

#[cfg(target_os = "macos")]
const LIBRARIES: &[&CStr] = &[
    c"/System/Library/Frameworks/GSS.framework/GSS",
    c"libgssapi_krb5.dylib",
];
#[cfg(not(target_os = "macos"))]
const LIBRARIES: &[&CStr] = &[
    c"libgssapi_krb5.so.2",
    c"libgssapi_krb5.so",
    c"libgssapi.so.3",
];

fn library() -> Result<&'static Gss> {
    static LIB: OnceLock<std::result::Result<Gss, String>> = OnceLock::new();
    LIB.get_or_init(load)
        .as_ref()
        .map_err(|msg| Error::new(Status::AuthUnavailable, msg.clone()))
}

fn load() -> std::result::Result<Gss, String> {
    // SAFETY: dlopen/dlsym with NUL-terminated names; the handle is never closed, so the function pointers
    // stay valid for the life of the process. Each symbol is cast to its RFC 2744 signature.
    unsafe {
        let handle = LIBRARIES
            .iter()
            .map(|name| dlopen(name.as_ptr(), RTLD_NOW))
            .find(|h| !h.is_null());
        let Some(handle) = handle else {
            return Err("GSSAPI is not available: could not load libgssapi_krb5.so.2 (install the MIT Kerberos \
                        GSSAPI library, Debian/Ubuntu package libgssapi-krb5-2, RHEL krb5-libs)"
                .to_string());
        };
        let sym = |name: &CStr| -> std::result::Result<*mut c_void, String> {
            let p = dlsym(handle, name.as_ptr());
            if p.is_null() {
                Err(format!(
                    "the GSSAPI library lacks {}",
                    name.to_string_lossy()
                ))
            } else {
                Ok(p)
            }
        };
        let opt = |name: &CStr| dlsym(handle, name.as_ptr());
        let pw = opt(c"gss_acquire_cred_with_password");
        Ok(Gss {
            import_name: std::mem::transmute::<*mut c_void, FnImportName>(sym(c"gss_import_name")?),
            release_name: std::mem::transmute::<*mut c_void, FnReleaseName>(sym(
                c"gss_release_name",
            )?),
            init_sec_context: std::mem::transmute::<*mut c_void, FnInitSecContext>(sym(
                c"gss_init_sec_context",
            )?),
            delete_sec_context: std::mem::transmute::<*mut c_void, FnDeleteSecContext>(sym(
                c"gss_delete_sec_context",
            )?),
            release_buffer: std::mem::transmute::<*mut c_void, FnReleaseBuffer>(sym(
                c"gss_release_buffer",
            )?),
            display_status: std::mem::transmute::<*mut c_void, FnDisplayStatus>(sym(
                c"gss_display_status",
            )?),
            acquire_cred_with_password: if pw.is_null() {
                None
            } else {
                Some(std::mem::transmute::<*mut c_void, FnAcquireCredWithPassword>(pw))
            },
            release_cred: std::mem::transmute::<*mut c_void, FnReleaseCred>(sym(
                c"gss_release_cred",
            )?),
        })
    }
}

/// Which GSSAPI mechanism a context uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mech {
    /// SPNEGO, for the HTTP `Negotiate` scheme.
    Spnego,
    /// gss-ntlmssp, raw NTLMSSP messages for the HTTP `NTLM` scheme.
    Ntlm,
    /// Plain Kerberos; only used to diagnose a failed explicit-password SPNEGO start (SPNEGO hides the cause).
    Krb5,
}

impl Mech {
    fn der(self) -> &'static [u8] {
        match self {
            Mech::Spnego => OID_SPNEGO,
            Mech::Ntlm => OID_NTLMSSP,
            Mech::Krb5 => OID_KRB5,
        }
    }
}

fn display(lib: &Gss, code: OmUint32, kind: c_int) -> String {
    let mut out = Vec::new();
    let mut ctx: OmUint32 = 0;
    for _ in 0..8 {
        let mut minor = 0;
        let mut buf = GssBuffer {
            length: 0,
            value: ptr::null_mut(),
        };
        // SAFETY: valid out-pointers; the buffer is released below.
        let major = unsafe {
            (lib.display_status)(&mut minor, code, kind, ptr::null_mut(), &mut ctx, &mut buf)
        };
        if major != GSS_S_COMPLETE {
            break;
        }
        if !buf.value.is_null() && buf.length > 0 {
            // SAFETY: the library returned `length` readable bytes.
            let bytes = unsafe { std::slice::from_raw_parts(buf.value as *const u8, buf.length) };
            out.push(
                String::from_utf8_lossy(bytes)
                    .trim_end_matches('\0')
                    .to_string(),
            );
        }
        // SAFETY: releasing a buffer the library allocated.
        unsafe { (lib.release_buffer)(&mut minor, &mut buf) };
        if ctx == 0 {
            break;
        }
    }
    out.join("; ")
}

/// `what: <major text> (<minor text>)` — GSSAPI texts never contain tokens or passwords.
fn gss_error(lib: &Gss, status: Status, what: &str, major: OmUint32, minor: OmUint32) -> Error {
    let major_text = display(lib, major, GSS_C_GSS_CODE);
    let minor_text = if minor != 0 {
        display(lib, minor, GSS_C_MECH_CODE)
    } else {
        String::new()
    };
    let detail = if minor_text.is_empty() || minor_text == major_text {
        major_text
    } else {
        format!("{major_text} ({minor_text})")
    };
    Error::new(status, format!("{what}: {detail}"))
}

/// Kerberos (com_err) minor codes meaning "the KDC refused these credentials".
fn krb5_rejected(minor: OmUint32) -> bool {
    const REJECTED: [i32; 5] = [
        -1765328360, // KRB5KDC_ERR_PREAUTH_FAILED
        -1765328353, // KRB5KRB_AP_ERR_BAD_INTEGRITY (wrong password without pre-authentication)
        -1765328378, // KRB5KDC_ERR_C_PRINCIPAL_UNKNOWN
        -1765328366, // KRB5KDC_ERR_CLIENT_REVOKED
        -1765328361, // KRB5KDC_ERR_KEY_EXP
    ];
    REJECTED.contains(&(minor as i32))
}

fn is_error(major: OmUint32) -> bool {
    major & (GSS_C_ROUTINE_ERROR_MASK | GSS_C_CALLING_ERROR_MASK) != 0
}

/// One GSSAPI security context (initiator side).
pub(crate) struct GssContext {
    lib: &'static Gss,
    mech: Mech,
    ctx: GssCtx,
    target: GssName,
    cred: GssCred,
    complete: bool,
    /// Kept alive (and wiped on drop) as long as the credential: a GSSAPI mechanism may keep referring to the
    /// password buffer after `gss_acquire_cred_with_password` returns.
    _password: Option<super::Secret>,
    /// For the diagnosis of explicit-credential failures.
    spn: String,
    user: Option<String>,
}

// The raw handles are owned exclusively by this value; GSSAPI contexts may move between threads.
unsafe impl Send for GssContext {}

impl std::fmt::Debug for GssContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GssContext")
            .field("mech", &self.mech)
            .field("complete", &self.complete)
            .finish()
    }
}

impl GssContext {
    /// A context for the SPN `spn`: `HTTP/host` (imported as the host-based service `HTTP@host`),
    /// `HTTP/host@REALM` (imported as a Kerberos principal name) or already host-based `HTTP@host`.
    /// With `creds` = Some((user, password)) the credentials are acquired with the password; otherwise the
    /// default credentials (ticket cache / client keytab) are used when the context starts.
    pub(crate) fn new(
        mech: Mech,
        spn: &str,
        creds: Option<(&str, &super::Secret)>,
    ) -> Result<Self> {
        let lib = library()?;
        let mut ctx = GssContext {
            lib,
            mech,
            ctx: ptr::null_mut(),
            target: ptr::null_mut(),
            cred: ptr::null_mut(),
            complete: false,
            // NUL-terminated copy: gss-ntlmssp treats the password buffer as a C string (observed: without
            // the terminator, bytes after the buffer became part of the password and NTLM failed at random).
            _password: creds.map(|(_, p)| super::Secret::concat(&[p.expose(), "\0"])),
            spn: spn.to_string(),
            user: creds.map(|(u, _)| u.to_string()),
        };
        let (target, name_type) = match spn.split_once('/') {
            Some((_, rest)) if rest.contains('@') => (spn.to_string(), OID_NT_KRB5_PRINCIPAL),
            Some((service, host)) => (format!("{service}@{host}"), OID_NT_HOSTBASED_SERVICE),
            None => (spn.to_string(), OID_NT_HOSTBASED_SERVICE),
        };
        ctx.target = import_name(lib, &target, name_type)
            .map_err(|e| e.context(format_args!("invalid service principal name {spn:?}")))?;
        if let (Some((user, _)), Some(password)) = (creds, ctx._password.as_ref()) {
            let password = password.expose().as_bytes();
            let password = &password[..password.len() - 1]; // length without the NUL that follows it
            let Some(acquire) = lib.acquire_cred_with_password else {
                return Err(Error::new(
                    Status::AuthUnavailable,
                    "this GSSAPI library has no gss_acquire_cred_with_password; explicit credentials need MIT \
                     krb5 >= 1.11 or Heimdal",
                ));
            };
            let name = import_name(lib, user, OID_NT_USER_NAME)?;
            let mut mech_oid = oid(mech.der());
            let mut set = GssOidSet {
                count: 1,
                elements: &mut mech_oid,
            };
            // The buffer points at the caller's Secret (wiped on drop); nothing is copied here.
            let mut pw = GssBuffer {
                length: password.len(),
                value: password.as_ptr() as *mut c_void,
            };
            let (mut minor, mut cred) = (0, ptr::null_mut());
            // SAFETY: all pointers are valid for the call; `cred` is released in Drop.
            let major = unsafe {
                acquire(
                    &mut minor,
                    name,
                    &mut pw,
                    0,
                    &mut set,
                    GSS_C_INITIATE,
                    &mut cred,
                    ptr::null_mut(),
                    ptr::null_mut(),
                )
            };
            let mut m2 = 0;
            let mut name = name;
            // SAFETY: releasing the name imported above.
            unsafe { (lib.release_name)(&mut m2, &mut name) };
            if is_error(major) {
                let what = match mech {
                    Mech::Ntlm if major & GSS_C_ROUTINE_ERROR_MASK == GSS_S_BAD_MECH => {
                        "NTLM is not available: the gss-ntlmssp GSSAPI mechanism is not installed"
                            .to_string()
                    }
                    Mech::Ntlm => "could not set up the NTLM credentials".to_string(),
                    Mech::Spnego | Mech::Krb5 => {
                        "could not obtain Kerberos/Negotiate credentials with the given password"
                            .to_string()
                    }
                };
                // A KDC that refuses the password is a rejection of the credentials; anything else (KDC
                // unreachable, no realm) means authentication is unavailable.
                let status = if mech != Mech::Ntlm && krb5_rejected(minor) {
                    Status::AuthRejected
                } else {
                    Status::AuthUnavailable
                };
                return Err(gss_error(lib, status, &what, major, minor));
            }
            ctx.cred = cred;
        }
        Ok(ctx)
    }
}

fn import_name(lib: &Gss, text: &str, name_type: &'static [u8]) -> Result<GssName> {
    // NUL-terminated as well (see the password), the length excludes the NUL.
    let owned = format!("{text}\0");
    let mut buf = GssBuffer {
        length: text.len(),
        value: owned.as_ptr() as *mut c_void,
    };
    let mut nt = oid(name_type);
    let (mut minor, mut name) = (0, ptr::null_mut());
    // SAFETY: valid pointers; GSSAPI copies the buffer.
    let major = unsafe { (lib.import_name)(&mut minor, &mut buf, &mut nt, &mut name) };
    if is_error(major) {
        return Err(gss_error(
            lib,
            Status::AuthUnavailable,
            "GSSAPI could not import a name",
            major,
            minor,
        ));
    }
    Ok(name)
}

impl GssContext {
    /// SPNEGO reports a failed Kerberos AS exchange only as "no mechanism could be negotiated"; retry the
    /// first step with plain Kerberos and the same password to name the real cause.
    fn diagnose_password(&self) -> Option<Error> {
        let (user, password) = (self.user.as_deref()?, self._password.as_ref()?);
        let password = super::Secret::new(password.expose().trim_end_matches('\0'));
        let mut krb = match GssContext::new(Mech::Krb5, &self.spn, Some((user, &password))) {
            Ok(k) => k,
            Err(e) => return Some(e),
        };
        let lib = self.lib;
        let mut mech_oid = oid(OID_KRB5);
        let mut empty = GssBuffer {
            length: 0,
            value: ptr::null_mut(),
        };
        let mut out = GssBuffer {
            length: 0,
            value: ptr::null_mut(),
        };
        let mut minor = 0;
        // SAFETY: as in `step`; the output buffer is released below.
        let major = unsafe {
            (lib.init_sec_context)(
                &mut minor,
                krb.cred,
                &mut krb.ctx,
                krb.target,
                &mut mech_oid,
                GSS_C_MUTUAL_FLAG,
                0,
                ptr::null_mut(),
                &mut empty,
                ptr::null_mut(),
                &mut out,
                ptr::null_mut(),
                ptr::null_mut(),
            )
        };
        let mut m2 = 0;
        // SAFETY: releasing the library's output buffer.
        unsafe { (lib.release_buffer)(&mut m2, &mut out) };
        if !is_error(major) {
            return None;
        }
        let status = if krb5_rejected(minor) {
            Status::AuthRejected
        } else {
            Status::AuthUnavailable
        };
        Some(gss_error(
            lib,
            status,
            "Negotiate: the KDC did not issue a ticket for the given user name and password",
            major,
            minor,
        ))
    }
}

/// MIT krb5 (com_err) codes with a cause an administrator can fix.
const KRB5KDC_ERR_S_PRINCIPAL_UNKNOWN: i32 = -1765328377;
const KRB5KRB_AP_ERR_SKEW: i32 = -1765328347;
const KRB5KDC_ERR_WRONG_REALM: i32 = -1765328316;
const KRB5_REALM_UNKNOWN: i32 = -1765328230;
const KRB5_REALM_CANT_RESOLVE: i32 = -1765328164;
const KRB5_KDC_UNREACH: i32 = -1765328228;
const KRB5_FCC_NOFILE: i32 = -1765328189;
const KRB5_CC_NOTFOUND: i32 = -1765328243;

impl GssContext {
    /// Names a Kerberos failure by its cause, first in the message; `None` for the other failures.
    fn kerberos_cause(&self, minor: OmUint32) -> Option<Error> {
        if self.mech == Mech::Ntlm || minor == 0 {
            return None;
        }
        let text = display(self.lib, minor, GSS_C_MECH_CODE);
        let lower = text.to_ascii_lowercase();
        let code = minor as i32;
        let spn = &self.spn;
        // "Server krbtgt/OTHER@MINE not found": the client's KDC has no trust path to the server's realm.
        let referral = lower.find("krbtgt/").map(|i| {
            let rest = &text[i + "krbtgt/".len()..];
            let (to, from) = rest.split_once('@').unwrap_or((rest, ""));
            let from: String = from
                .chars()
                .take_while(|c| !c.is_whitespace() && *c != ')')
                .collect();
            (to.to_string(), from)
        });
        let (status, what) = if code == KRB5KDC_ERR_S_PRINCIPAL_UNKNOWN
            || lower.contains("not found in kerberos database")
        {
            match referral {
                Some((to, from)) => (
                    Status::AuthUnavailable,
                    format!(
                        "no cross-realm trust from {from} to {to}: the KDC of {from} cannot refer this client to                          the realm of {spn}; ask the AD administrators for a trust, use an account of {to}, or                          set the connection's spn to HTTP/<host>@<realm> if the realm mapping is wrong"
                    ),
                ),
                None => (
                    Status::AuthUnavailable,
                    format!(
                        "the KDC has no service principal {spn}: register it on the account that runs the IIS \
                         application pool (setspn -S {spn} <account>), or set the connection's spn to the name \
                         that is registered (a CNAME or alias host name needs its own SPN)"
                    ),
                ),
            }
        } else if code == KRB5KRB_AP_ERR_SKEW || lower.contains("clock skew") {
            (
                Status::AuthUnavailable,
                "the clocks of this machine and the domain controller differ by more than Kerberos allows                  (5 minutes by default); synchronize the time (w32tm /resync, or NTP)"
                    .to_string(),
            )
        } else if matches!(
            code,
            KRB5KDC_ERR_WRONG_REALM | KRB5_REALM_UNKNOWN | KRB5_REALM_CANT_RESOLVE
        ) || lower.contains("cannot find kdc for realm")
            || lower.contains("cannot resolve network address for kdc")
        {
            (
                Status::AuthUnavailable,
                format!(
                    "no KDC is known for the realm of {spn} (no cross-realm trust or realm mapping from your                      realm; check [domain_realm] in krb5.conf or the AD trusts)"
                ),
            )
        } else if code == KRB5_KDC_UNREACH || lower.contains("cannot contact any kdc") {
            (
                Status::AuthUnavailable,
                "no domain controller (KDC) could be reached for the Kerberos ticket; check the network and DNS                  SRV records (_kerberos._tcp)"
                    .to_string(),
            )
        } else if matches!(code, KRB5_FCC_NOFILE | KRB5_CC_NOTFOUND) && self.cred.is_null() {
            (
                Status::AuthUnavailable,
                "no Kerberos ticket for the current user (run kinit, or set KRB5CCNAME / KRB5_CLIENT_KTNAME)"
                    .to_string(),
            )
        } else {
            return None;
        };
        Some(Error::new(status, format!("{what} [GSSAPI: {text}]")))
    }
}

impl Mechanism for GssContext {
    fn step(&mut self, input: Option<&[u8]>) -> Result<Step> {
        let lib = self.lib;
        let mut mech_oid = oid(self.mech.der());
        let mut in_buf = match input {
            Some(t) => GssBuffer {
                length: t.len(),
                value: t.as_ptr() as *mut c_void,
            },
            None => GssBuffer {
                length: 0,
                value: ptr::null_mut(),
            },
        };
        let mut out = GssBuffer {
            length: 0,
            value: ptr::null_mut(),
        };
        let (mut minor, mut ret_flags) = (0, 0);
        // SAFETY: all pointers valid for the call; the output buffer is copied and released below.
        let major = unsafe {
            (lib.init_sec_context)(
                &mut minor,
                self.cred,
                &mut self.ctx,
                self.target,
                &mut mech_oid,
                GSS_C_MUTUAL_FLAG,
                0,
                ptr::null_mut(),
                &mut in_buf,
                ptr::null_mut(),
                &mut out,
                &mut ret_flags,
                ptr::null_mut(),
            )
        };
        let token = if out.value.is_null() || out.length == 0 {
            Vec::new()
        } else {
            // SAFETY: the library returned `length` readable bytes.
            unsafe { std::slice::from_raw_parts(out.value as *const u8, out.length) }.to_vec()
        };
        let mut m2 = 0;
        // SAFETY: releasing the library's output buffer (a no-op when empty).
        unsafe { (lib.release_buffer)(&mut m2, &mut out) };
        if is_error(major) {
            // The Kerberos cause first: a missing SPN, a foreign realm or a skewed clock each has its own fix,
            // and must not be reported as "no ticket, run kinit".
            if let Some(e) = self.kerberos_cause(minor) {
                return Err(e);
            }
            let routine = major & GSS_C_ROUTINE_ERROR_MASK;
            let (status, what) = if routine == GSS_S_NO_CRED
                || routine == GSS_S_CREDENTIALS_EXPIRED
                || (input.is_none() && self.cred.is_null())
            {
                (
                    Status::AuthUnavailable,
                    match self.mech {
                        Mech::Spnego => {
                            "no usable Kerberos credentials for the current user (run kinit, or set \
                                         KRB5CCNAME / KRB5_CLIENT_KTNAME)"
                        }
                        Mech::Ntlm => "no usable NTLM credentials",
                        Mech::Krb5 => "no usable Kerberos credentials",
                    },
                )
            } else if routine == GSS_S_BAD_MECH && input.is_some() {
                (
                    Status::AuthUnavailable,
                    "the server and this client have no authentication mechanism in common (for example the \
                     server accepts only Kerberos and no Kerberos ticket could be obtained)",
                )
            } else if routine == GSS_S_BAD_MECH {
                (
                    Status::AuthUnavailable,
                    "the GSSAPI mechanism is not installed",
                )
            } else {
                (
                    Status::AuthUnavailable,
                    "GSSAPI could not process the server's authentication token",
                )
            };
            if self.mech == Mech::Spnego
                && let Some(e) = self
                    .diagnose_password()
                    .filter(|e| e.status == Status::AuthRejected)
            {
                return Err(e);
            }
            return Err(gss_error(lib, status, what, major, minor));
        }
        self.complete = major == GSS_S_COMPLETE;
        debug_assert!(
            self.complete || major & 0xffff == GSS_S_CONTINUE_NEEDED || major & 0xffff != 0
        );
        Ok(Step {
            token,
            complete: self.complete,
        })
    }

    fn complete(&self) -> bool {
        self.complete
    }
}

impl Drop for GssContext {
    fn drop(&mut self) {
        let mut minor = 0;
        // SAFETY: each handle is released once, only if it was set.
        unsafe {
            if !self.ctx.is_null() {
                (self.lib.delete_sec_context)(&mut minor, &mut self.ctx, ptr::null_mut());
            }
            if !self.target.is_null() {
                (self.lib.release_name)(&mut minor, &mut self.target);
            }
            if !self.cred.is_null() {
                (self.lib.release_cred)(&mut minor, &mut self.cred);
            }
        }
    }
}
