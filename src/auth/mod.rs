//! Authentication for CM REST calls: the HTTP `Authorization` exchange, independent of the HTTP stack.
//!
//! The CM client drives one [`AuthSession`] per logical call:
//! 1. `initial_header()` — sent with the first request (pre-emptive Bearer/Basic, or a Negotiate token when
//!    a Kerberos ticket is at hand), or none;
//! 2. on every 401, `respond_to_challenge(all WWW-Authenticate values)` gives the next `Authorization` value
//!    (at most [`MAX_LEGS`] legs; NTLM's legs must travel on one TCP connection, which the client ensures);
//! 3. on the final non-401 answer, `finish(all WWW-Authenticate values)` verifies mutual authentication.
//!
//! Secrets never appear in messages or logs.

use crate::error::{Error, Result};
use crate::status::Status;

/// Maximum number of 401 answers the client will respond to in one call.
pub const MAX_LEGS: usize = 3;

/// Which authentication the caller asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AuthMethod {
    /// Send no credentials; a 401 is reported as `AuthRequired`.
    None,
    /// Negotiate (Kerberos, NTLM fallback) with the current user's credentials (the default).
    #[default]
    NegotiateCurrentUser,
    /// Negotiate with explicit `DOMAIN\user` and password.
    NegotiateExplicit,
    /// NTLM with explicit `DOMAIN\user` and password.
    Ntlm,
    /// HTTP Basic (HTTPS only unless the caller opts in).
    Basic,
    /// `Authorization: Bearer <token>` (for example a token from ADFS).
    Bearer,
}

/// A secret string that is wiped from memory when dropped and never printed.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }
    /// The secret's text; never log it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl Drop for Secret {
    fn drop(&mut self) {
        // Overwrite the heap bytes in place before they are freed. Volatile writes keep the compiler
        // from eliding the wipe of memory that is about to be released.
        let bytes = unsafe { self.0.as_mut_vec() };
        for b in bytes.iter_mut() {
            unsafe { std::ptr::write_volatile(b, 0) };
        }
        std::sync::atomic::compiler_fence(std::sync::atomic::Ordering::SeqCst);
    }
}

/// The caller's authentication settings.
#[derive(Debug, Clone, Default)]
pub struct AuthConfig {
    /// The method.
    pub method: AuthMethod,
    /// `DOMAIN\user`, `user@REALM` or `user` for the explicit-credential methods and Basic.
    pub username: Option<String>,
    /// Password for the explicit-credential methods and Basic.
    pub password: Option<Secret>,
    /// Bearer token.
    pub token: Option<Secret>,
    /// Service principal name override; default `HTTP/<host the caller gave>`.
    pub spn: Option<String>,
    /// Allow sending credentials (Basic, Bearer, NTLM, Negotiate) over plain `http://`.
    pub allow_insecure_http: bool,
}

/// One authentication exchange, for one logical call.
#[derive(Debug)]
pub struct AuthSession {
    config: AuthConfig,
    host: String,
    is_https: bool,
    legs: usize,
}

impl AuthSession {
    /// Starts an exchange with `host` (the host name as the caller wrote it in the URL).
    pub fn new(config: &AuthConfig, host: &str, is_https: bool) -> Result<Self> {
        Ok(AuthSession {
            config: config.clone(),
            host: host.to_string(),
            is_https,
            legs: 0,
        })
    }

    /// The SPN used for Kerberos: the override or `HTTP/<host>`.
    pub fn spn(&self) -> String {
        self.config
            .spn
            .clone()
            .unwrap_or_else(|| format!("HTTP/{}", self.host))
    }

    fn check_transport(&self, what: &str) -> Result<()> {
        if self.is_https || self.config.allow_insecure_http {
            Ok(())
        } else {
            Err(Error::new(
                Status::AuthInsecureTransport,
                format!(
                    "refusing to send {what} credentials over plain http://; use https:// or set \
                     CM_AUTH_FLAG_ALLOW_INSECURE_HTTP"
                ),
            ))
        }
    }

    /// The `Authorization` value for the first request, if the method sends one pre-emptively.
    pub fn initial_header(&mut self) -> Result<Option<String>> {
        match self.config.method {
            AuthMethod::Bearer => {
                self.check_transport("bearer")?;
                let token = self
                    .config
                    .token
                    .as_ref()
                    .filter(|t| !t.expose().is_empty())
                    .ok_or_else(|| {
                        Error::new(
                            Status::InvalidArgument,
                            "bearer authentication needs a token",
                        )
                    })?;
                Ok(Some(format!("Bearer {}", token.expose())))
            }
            AuthMethod::Basic => {
                self.check_transport("Basic")?;
                let user = self.config.username.as_deref().unwrap_or("");
                let pass = self
                    .config
                    .password
                    .as_ref()
                    .map(|p| p.expose())
                    .unwrap_or("");
                if user.is_empty() {
                    return Err(Error::new(
                        Status::InvalidArgument,
                        "Basic authentication needs a username",
                    ));
                }
                let raw = Secret::new(format!("{user}:{pass}"));
                Ok(Some(format!(
                    "Basic {}",
                    base64_encode(raw.expose().as_bytes())
                )))
            }
            _ => Ok(None),
        }
    }

    /// The `Authorization` value answering a 401 with these `WWW-Authenticate` values.
    pub fn respond_to_challenge(&mut self, www_authenticate: &[String]) -> Result<String> {
        self.legs += 1;
        let offered = offered_schemes(www_authenticate);
        match self.config.method {
            AuthMethod::None => Err(Error::new(
                Status::AuthRequired,
                format!(
                    "the server requires authentication (offers: {offered}) and no authentication method \
                     was configured"
                ),
            )),
            AuthMethod::Basic | AuthMethod::Bearer => Err(Error::new(
                Status::AuthRejected,
                format!(
                    "the server rejected the {:?} credentials (it offers: {offered})",
                    self.config.method
                ),
            )),
            _ => Err(Error::new(
                Status::AuthUnsupported,
                format!(
                    "the server asks for {offered}; Negotiate/NTLM authentication is not available in this build"
                ),
            )),
        }
    }

    /// Verifies the final answer's `WWW-Authenticate` values (mutual authentication).
    pub fn finish(&mut self, _www_authenticate: &[String]) -> Result<()> {
        Ok(())
    }
}

/// The scheme names of a list of `WWW-Authenticate` values, for messages ("Negotiate, NTLM").
pub fn offered_schemes(www_authenticate: &[String]) -> String {
    let names: Vec<&str> = www_authenticate
        .iter()
        .filter_map(|v| v.split_whitespace().next())
        .collect();
    if names.is_empty() {
        "no scheme".to_string()
    } else {
        names.join(", ")
    }
}

/// Standard base64 with padding.
pub fn base64_encode(input: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(input.len().div_ceil(3) * 4);
    for chunk in input.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc4648_vectors() {
        let cases = [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foobar", "Zm9vYmFy"),
        ];
        for (plain, encoded) in cases {
            assert_eq!(base64_encode(plain.as_bytes()), encoded);
        }
    }

    #[test]
    fn basic_refused_over_http_without_opt_in() {
        let cfg = AuthConfig {
            method: AuthMethod::Basic,
            username: Some("bob".into()),
            password: Some(Secret::new("pw")),
            ..Default::default()
        };
        let err = AuthSession::new(&cfg, "localhost", false)
            .unwrap()
            .initial_header()
            .unwrap_err();
        assert_eq!(err.status, Status::AuthInsecureTransport);
        assert!(!err.message.contains("pw"));
        let header = AuthSession::new(&cfg, "localhost", true)
            .unwrap()
            .initial_header()
            .unwrap();
        assert_eq!(header.as_deref(), Some("Basic Ym9iOnB3"));
    }

    #[test]
    fn secret_debug_hides_value() {
        assert_eq!(format!("{:?}", Secret::new("hunter2")), "Secret(***)");
    }
}
