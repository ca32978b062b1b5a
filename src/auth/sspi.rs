//! Windows backend: native SSPI (`secur32.dll`) through `windows-sys`.
//!
//! * Current user (single sign-on): `AcquireCredentialsHandleW(pAuthData = NULL)` uses the logon session's
//!   credentials (Kerberos ticket or NTLM hash), exactly as IE/Edge/WinHTTP do.
//! * Explicit credentials: a `SEC_WINNT_AUTH_IDENTITY_W` with `DOMAIN\user` (or `user@domain`, passed whole as
//!   the user name with no domain) and the password as UTF-16, wiped right after the handle is acquired.
//! * Packages: `Negotiate` for the HTTP `Negotiate` scheme (Kerberos, NTLM fallback inside SPNEGO) and `NTLM`
//!   for the raw `NTLM` scheme. `ISC_REQ_MUTUAL_AUTH` is requested; the final server token is fed back so a
//!   bad one fails verification.

use super::{Mechanism, Scheme, Secret, Step};
use crate::error::{Error, Result};
use crate::status::Status;
use std::ffi::c_void;
use std::ptr;
use windows_sys::Win32::Foundation::{
    SEC_E_LOGON_DENIED, SEC_E_NO_AUTHENTICATING_AUTHORITY, SEC_E_NO_CREDENTIALS, SEC_E_OK,
    SEC_E_SECPKG_NOT_FOUND, SEC_E_TARGET_UNKNOWN, SEC_E_UNKNOWN_CREDENTIALS, SEC_E_WRONG_PRINCIPAL,
    SEC_I_COMPLETE_AND_CONTINUE, SEC_I_COMPLETE_NEEDED, SEC_I_CONTINUE_NEEDED,
};
use windows_sys::Win32::Security::Authentication::Identity::{
    AcquireCredentialsHandleW, CompleteAuthToken, DeleteSecurityContext, FreeCredentialsHandle,
    ISC_REQ_MUTUAL_AUTH, InitializeSecurityContextW, SECBUFFER_TOKEN, SECBUFFER_VERSION,
    SECPKG_CRED_OUTBOUND, SECURITY_NATIVE_DREP, SecBuffer, SecBufferDesc,
};
use windows_sys::Win32::Security::Credentials::SecHandle;

/// `SEC_WINNT_AUTH_IDENTITY_W` (sspi.h / rpcdce.h), declared here to avoid the `Win32_System_Rpc` feature.
#[repr(C)]
struct AuthIdentityW {
    user: *mut u16,
    user_length: u32,
    domain: *mut u16,
    domain_length: u32,
    password: *mut u16,
    password_length: u32,
    flags: u32,
}
const SEC_WINNT_AUTH_IDENTITY_UNICODE: u32 = 2;
/// Largest SSPI token (Kerberos `MaxTokenSize` is at most 65535).
const MAX_TOKEN: usize = 65536;

fn wide(s: &str) -> Vec<u16> {
    s.encode_utf16().chain(std::iter::once(0)).collect()
}

fn wipe(v: &mut [u16]) {
    for c in v.iter_mut() {
        // SAFETY: a valid, aligned element of the slice.
        unsafe { ptr::write_volatile(c, 0) };
    }
    std::sync::atomic::compiler_fence(std::sync::atomic::Ordering::SeqCst);
}

fn sspi_error(status: Status, what: &str, code: i32) -> Error {
    Error::new(status, format!("{what} (SSPI error 0x{:08X})", code as u32))
}

/// One SSPI security context (client side).
pub(crate) struct SspiContext {
    scheme: Scheme,
    cred: SecHandle,
    ctx: Option<SecHandle>,
    target: Vec<u16>,
    complete: bool,
    explicit: bool,
}

// The handles are owned exclusively by this value; SSPI handles may be used from any thread, one at a time.
unsafe impl Send for SspiContext {}

impl std::fmt::Debug for SspiContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SspiContext")
            .field("scheme", &self.scheme)
            .field("complete", &self.complete)
            .finish()
    }
}

impl SspiContext {
    /// Acquires outbound credentials for the scheme's package: the logon session's, or the given user's.
    pub(crate) fn new(scheme: Scheme, spn: &str, creds: Option<(&str, &Secret)>) -> Result<Self> {
        let package = wide(match scheme {
            Scheme::Negotiate => "Negotiate",
            Scheme::Ntlm => "NTLM",
        });
        let mut cred = SecHandle {
            dwLower: 0,
            dwUpper: 0,
        };
        let mut expiry = 0i64;
        let status = match creds {
            None => {
                // SAFETY: NULL auth data = the current logon session; all pointers valid for the call.
                unsafe {
                    AcquireCredentialsHandleW(
                        ptr::null(),
                        package.as_ptr(),
                        SECPKG_CRED_OUTBOUND,
                        ptr::null(),
                        ptr::null(),
                        None,
                        ptr::null(),
                        &mut cred,
                        &mut expiry,
                    )
                }
            }
            Some((user, password)) => {
                let (domain, user) = match user.split_once('\\') {
                    Some((d, u)) => (d, u),
                    None => ("", user), // user@domain (UPN) or a bare user name
                };
                let mut w_user = wide(user);
                let mut w_domain = wide(domain);
                let mut w_password = wide(password.expose());
                let identity = AuthIdentityW {
                    user: w_user.as_mut_ptr(),
                    user_length: (w_user.len() - 1) as u32,
                    domain: if domain.is_empty() {
                        ptr::null_mut()
                    } else {
                        w_domain.as_mut_ptr()
                    },
                    domain_length: (w_domain.len() - 1) as u32,
                    password: w_password.as_mut_ptr(),
                    password_length: (w_password.len() - 1) as u32,
                    flags: SEC_WINNT_AUTH_IDENTITY_UNICODE,
                };
                // SAFETY: the identity and its strings outlive the call; SSPI copies them.
                let status = unsafe {
                    AcquireCredentialsHandleW(
                        ptr::null(),
                        package.as_ptr(),
                        SECPKG_CRED_OUTBOUND,
                        ptr::null(),
                        &identity as *const AuthIdentityW as *const c_void,
                        None,
                        ptr::null(),
                        &mut cred,
                        &mut expiry,
                    )
                };
                wipe(&mut w_password);
                status
            }
        };
        if status != SEC_E_OK {
            let what = if status == SEC_E_SECPKG_NOT_FOUND {
                format!("the SSPI package {} is not available", scheme.name())
            } else if status == SEC_E_NO_CREDENTIALS && creds.is_none() {
                "the current Windows logon session has no usable credentials for Negotiate/NTLM (no Kerberos \
                 ticket, not a domain logon)"
                    .to_string()
            } else if status == SEC_E_LOGON_DENIED {
                return Err(sspi_error(
                    Status::AuthRejected,
                    &format!("{} credentials rejected", scheme.name()),
                    status,
                ));
            } else {
                format!("could not acquire {} credentials", scheme.name())
            };
            return Err(sspi_error(Status::AuthUnavailable, &what, status));
        }
        Ok(SspiContext {
            scheme,
            cred,
            ctx: None,
            target: wide(spn),
            complete: false,
            explicit: creds.is_some(),
        })
    }
}

impl Mechanism for SspiContext {
    fn step(&mut self, input: Option<&[u8]>) -> Result<Step> {
        let mut in_buf = SecBuffer {
            cbBuffer: input.map_or(0, |t| t.len() as u32),
            BufferType: SECBUFFER_TOKEN,
            pvBuffer: input.map_or(ptr::null_mut(), |t| t.as_ptr() as *mut c_void),
        };
        let in_desc = SecBufferDesc {
            ulVersion: SECBUFFER_VERSION,
            cBuffers: 1,
            pBuffers: &mut in_buf,
        };
        // Our own output buffer (the documented maximum token size is 48000 bytes by default, 65535 at most):
        // Wine's Negotiate fails with ISC_REQ_ALLOCATE_MEMORY, and this avoids FreeContextBuffer bookkeeping.
        let mut out_bytes = vec![0u8; MAX_TOKEN];
        let mut out_buf = SecBuffer {
            cbBuffer: MAX_TOKEN as u32,
            BufferType: SECBUFFER_TOKEN,
            pvBuffer: out_bytes.as_mut_ptr() as *mut c_void,
        };
        let mut out_desc = SecBufferDesc {
            ulVersion: SECBUFFER_VERSION,
            cBuffers: 1,
            pBuffers: &mut out_buf,
        };
        let mut new_ctx = self.ctx.unwrap_or(SecHandle {
            dwLower: 0,
            dwUpper: 0,
        });
        let mut attrs = 0u32;
        let mut expiry = 0i64;
        let flags = ISC_REQ_MUTUAL_AUTH;
        let old_ctx: *const SecHandle = match &self.ctx {
            Some(h) => h,
            None => ptr::null(),
        };
        // SAFETY: all buffers and handles are valid for the call; the output buffer is freed below.
        let status = unsafe {
            InitializeSecurityContextW(
                &self.cred,
                old_ctx,
                self.target.as_ptr(),
                flags,
                0,
                SECURITY_NATIVE_DREP,
                if input.is_some() {
                    &in_desc
                } else {
                    ptr::null()
                },
                0,
                &mut new_ctx,
                &mut out_desc,
                &mut attrs,
                &mut expiry,
            )
        };
        if status == SEC_I_COMPLETE_NEEDED || status == SEC_I_COMPLETE_AND_CONTINUE {
            // SAFETY: completing the token just produced, on the context just returned, before it is freed.
            unsafe { CompleteAuthToken(&new_ctx, &out_desc) };
        }
        let token = if status < 0 {
            Vec::new()
        } else {
            out_bytes.truncate((out_buf.cbBuffer as usize).min(MAX_TOKEN));
            out_bytes
        };
        if status < 0 {
            let (st, what) = match status {
                SEC_E_LOGON_DENIED | SEC_E_UNKNOWN_CREDENTIALS => (
                    Status::AuthRejected,
                    format!("{} credentials rejected", self.scheme.name()),
                ),
                SEC_E_NO_CREDENTIALS if !self.explicit => (
                    Status::AuthUnavailable,
                    "the current Windows logon session has no usable credentials".to_string(),
                ),
                SEC_E_NO_AUTHENTICATING_AUTHORITY => (
                    Status::AuthUnavailable,
                    "no domain controller could be contacted".to_string(),
                ),
                SEC_E_TARGET_UNKNOWN | SEC_E_WRONG_PRINCIPAL => (
                    Status::AuthUnavailable,
                    "the service principal name is unknown or wrong; check the SPN".to_string(),
                ),
                _ if input.is_some() => (
                    Status::AuthUnavailable,
                    "SSPI could not process the server's token".to_string(),
                ),
                _ => (
                    Status::AuthUnavailable,
                    format!("SSPI could not start {} authentication", self.scheme.name()),
                ),
            };
            return Err(sspi_error(st, &what, status));
        }
        if self.ctx.is_none() {
            self.ctx = Some(new_ctx);
        }
        self.complete = status == SEC_E_OK || status == SEC_I_COMPLETE_NEEDED;
        debug_assert!(
            self.complete
                || status == SEC_I_CONTINUE_NEEDED
                || status == SEC_I_COMPLETE_AND_CONTINUE
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

impl Drop for SspiContext {
    fn drop(&mut self) {
        // SAFETY: each handle was returned by SSPI and is released once.
        unsafe {
            if let Some(h) = &self.ctx {
                DeleteSecurityContext(h);
            }
            FreeCredentialsHandle(&self.cred);
        }
    }
}
