//! An optional, process-wide observer of the HTTP exchanges, for diagnostics (`cm-smartcard --verbose`).
//!
//! Off by default: until [`set_hook`] is called, every trace point costs one atomic load. The hook receives
//! one line per request line, header, status line and body summary, **already redacted**: the value of
//! every `Authorization`, `Proxy-Authorization`, `Cookie` and `Set-Cookie` header is replaced before the
//! line is built, and the tokens in `WWW-Authenticate`/`Proxy-Authenticate` challenges are reduced to their
//! length; the bodies of calls that carry card secrets (admin keys, PINs, PFX files and passwords, a template's
//! default admin key) are shown by size only. No secret ever reaches the hook, whatever it does with the text.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};

/// Receives one redacted line: `> ` for what is sent, `< ` for what is received, `* ` for connection events.
pub type TraceHook = fn(&str);

static HOOK: OnceLock<TraceHook> = OnceLock::new();
static ENABLED: AtomicBool = AtomicBool::new(false);

/// Installs the process-wide hook (once; later calls are ignored and return false).
pub fn set_hook(hook: TraceHook) -> bool {
    let installed = HOOK.set(hook).is_ok();
    if installed {
        ENABLED.store(true, Ordering::Release);
    }
    installed
}

/// Whether a hook is installed.
pub fn enabled() -> bool {
    ENABLED.load(Ordering::Acquire)
}

pub(crate) fn emit(line: &str) {
    if let Some(hook) = HOOK.get() {
        hook(line);
    }
}

/// `name: value` with the value redacted when it is (or may carry) a credential.
pub fn redact_header(name: &str, value: &[u8]) -> String {
    let value = String::from_utf8_lossy(value);
    let lower = name.to_ascii_lowercase();
    let shown = match lower.as_str() {
        "authorization" | "proxy-authorization" => {
            let scheme = value.split_whitespace().next().unwrap_or("");
            format!("{scheme} [redacted]")
        }
        "cookie" | "set-cookie" => "[redacted]".to_string(),
        "www-authenticate" | "proxy-authenticate" => redact_challenge(&value),
        _ => super::codec::printable(&value),
    };
    format!("{name}: {shown}")
}

/// A challenge with its token68 reduced to a length (`Negotiate [token, 120 chars]`); parameters are kept.
fn redact_challenge(value: &str) -> String {
    value
        .split(',')
        .map(|part| {
            let part = part.trim();
            match part.split_once(' ') {
                Some((scheme, rest))
                    if !rest.contains('=')
                        || rest.trim_end_matches('=').chars().all(is_token68_char) =>
                {
                    format!("{scheme} [token, {} chars]", rest.trim().len())
                }
                _ => super::codec::printable(part),
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn is_token68_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_' | '~' | '+' | '/')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_never_survive_redaction() {
        let basic = redact_header("Authorization", b"Basic Ym9iOnB3");
        assert_eq!(basic, "Authorization: Basic [redacted]");
        let bearer = redact_header("proxy-authorization", b"Bearer t0k.en");
        assert!(!bearer.contains("t0k"));
        assert_eq!(redact_header("Cookie", b"a=secret"), "Cookie: [redacted]");
        let www = redact_header("WWW-Authenticate", b"Negotiate oYG3MIG0oAMKAQA=");
        assert_eq!(www, "WWW-Authenticate: Negotiate [token, 16 chars]");
        let realm = redact_header("WWW-Authenticate", br#"Basic realm="cm""#);
        assert_eq!(realm, r#"WWW-Authenticate: Basic realm="cm""#);
        assert_eq!(
            redact_header("WWW-Authenticate", b"NTLM"),
            "WWW-Authenticate: NTLM"
        );
        assert_eq!(
            redact_header("Content-Type", b"application/json"),
            "Content-Type: application/json"
        );
    }
}
