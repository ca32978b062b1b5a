//! The platform backend: GSSAPI on Unix (feature `gssapi`), SSPI on Windows.

use super::{Mechanism, Scheme, Secret};
use crate::error::Result;

#[cfg(any(windows, all(unix, feature = "gssapi")))]
pub(super) const AVAILABLE: bool = true;
#[cfg(not(any(windows, all(unix, feature = "gssapi"))))]
pub(super) const AVAILABLE: bool = false;

#[cfg(all(unix, feature = "gssapi"))]
pub(super) fn new_context(
    scheme: Scheme,
    spn: &str,
    creds: Option<(&str, &Secret)>,
) -> Result<Box<dyn Mechanism>> {
    use super::gssapi::{GssContext, Mech};
    let mech = match scheme {
        Scheme::Negotiate => Mech::Spnego,
        Scheme::Ntlm => Mech::Ntlm,
    };
    // Kerberos wants user@REALM; accept the Windows form DOMAIN\user for Negotiate too.
    let user = creds.map(|(u, _)| match (scheme, u.split_once('\\')) {
        (Scheme::Negotiate, Some((domain, user))) => {
            format!("{user}@{}", domain.to_ascii_uppercase())
        }
        _ => u.to_string(),
    });
    let creds = match (&user, creds) {
        (Some(u), Some((_, p))) => Some((u.as_str(), p)),
        _ => None,
    };
    Ok(Box::new(GssContext::new(mech, spn, creds)?))
}

#[cfg(windows)]
pub(super) fn new_context(
    scheme: Scheme,
    spn: &str,
    creds: Option<(&str, &Secret)>,
) -> Result<Box<dyn Mechanism>> {
    Ok(Box::new(super::sspi::SspiContext::new(scheme, spn, creds)?))
}

#[cfg(not(any(windows, all(unix, feature = "gssapi"))))]
pub(super) fn new_context(
    scheme: Scheme,
    _spn: &str,
    _creds: Option<(&str, &Secret)>,
) -> Result<Box<dyn Mechanism>> {
    Err(crate::error::Error::new(
        crate::status::Status::AuthUnsupported,
        format!(
            "{} authentication is not built into this library",
            scheme.name()
        ),
    ))
}
