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
//!
//! # Backends (see `docs/auth.md` for the reasons)
//!
//! | Platform | Negotiate (current user) | Negotiate (explicit) | NTLM (explicit) | Build cost |
//! |---|---|---|---|---|
//! | Windows | SSPI `Negotiate`, logon session | SSPI `Negotiate` + `SEC_WINNT_AUTH_IDENTITY_W` | SSPI `NTLM` | `windows-sys` (already in the tree) |
//! | Linux/macOS, feature `gssapi` (default) | GSSAPI SPNEGO, ticket cache / client keytab | `gss_acquire_cred_with_password` (SPNEGO) | gss-ntlmssp mechanism (raw `NTLM` scheme) | none: `libgssapi_krb5` is `dlopen`ed at run time |
//! | Unix without `gssapi` | `AuthUnsupported` | `AuthUnsupported` | `AuthUnsupported` | — |
//!
//! # Rules implemented here
//!
//! * **Scheme choice:** every `WWW-Authenticate` value is parsed (several challenges may share one header,
//!   RFC 9110 §11.6.1). The Negotiate methods prefer `Negotiate`, then `NTLM`; [`AuthMethod::Ntlm`] uses only
//!   `NTLM`. A 401 with no usable scheme is `AuthRequired`.
//! * **Rejection:** once a context has started, a 401 whose challenge for that scheme carries no token (a bare
//!   `Negotiate`/`NTLM`) means the credentials were refused: `AuthRejected` naming the scheme. More than
//!   [`MAX_LEGS`] challenges is also `AuthRejected`.
//! * **Mutual authentication:** contexts request `GSS_C_MUTUAL_FLAG` / `ISC_REQ_MUTUAL_AUTH`. A final
//!   `Negotiate <token>` is always fed to the context and must complete it, else `AuthMutualFailed`. If the
//!   final answer carries no token and the context is not complete: after the server *demanded*
//!   authentication (a 401) and accepted a single Negotiate token (Kerberos, one round), the server has not
//!   proved its identity — GSSAPI says the context is not established — so this is `AuthMutualFailed`.
//!   If the server never sent a 401 (our pre-emptive token was simply ignored, e.g. an anonymous endpoint)
//!   or the mechanism took several rounds (NTLM inside SPNEGO, which has no mutual authentication), the
//!   answer is accepted.
//! * **Transport:** Negotiate and NTLM count as credentials: an NTLMv2 response can be cracked offline and a
//!   Kerberos AP-REQ over plain HTTP protects nothing that follows it. Over `http://` without
//!   `allow_insecure_http` no token is sent pre-emptively, and a challenge answers `AuthInsecureTransport`.
//!   So an anonymous `http://` server still works with the default method.
//! * **SPN:** `HTTP/<host as the caller wrote it>` (GSSAPI host-based name `HTTP@host`), overridable with
//!   [`AuthConfig::spn`]; `HTTP/host@REALM` is imported as a Kerberos principal name on Unix.

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

/// The HTTP scheme a context speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// `Negotiate` (SPNEGO: Kerberos, or NTLM inside SPNEGO).
    Negotiate,
    /// `NTLM` (raw NTLMSSP messages).
    Ntlm,
}

impl Scheme {
    /// The scheme's name as it appears in HTTP headers.
    pub fn name(self) -> &'static str {
        match self {
            Scheme::Negotiate => "Negotiate",
            Scheme::Ntlm => "NTLM",
        }
    }
}

/// One step of a security context: the token to send (possibly empty) and whether the context is complete.
#[derive(Debug)]
pub(crate) struct Step {
    pub(crate) token: Vec<u8>,
    #[allow(dead_code)]
    pub(crate) complete: bool,
}

/// A platform security context (GSSAPI or SSPI), initiator side.
pub(crate) trait Mechanism: Send + std::fmt::Debug {
    /// Feeds the server's token (None for the first call) and returns the next client token.
    fn step(&mut self, input: Option<&[u8]>) -> Result<Step>;
    /// Whether the context is fully established (the server is authenticated when mutual auth was requested).
    fn complete(&self) -> bool;
}

/// A context in progress.
#[derive(Debug)]
struct Active {
    scheme: Scheme,
    mech: Box<dyn Mechanism>,
    /// Tokens sent so far under this scheme.
    tokens_sent: usize,
}

/// One authentication exchange, for one logical call.
#[derive(Debug)]
pub struct AuthSession {
    config: AuthConfig,
    host: String,
    is_https: bool,
    legs: usize,
    active: Option<Active>,
    /// The server sent at least one 401 (it demanded authentication).
    challenged: bool,
}

impl AuthSession {
    /// Starts an exchange with `host` (the host name as the caller wrote it in the URL).
    pub fn new(config: &AuthConfig, host: &str, is_https: bool) -> Result<Self> {
        Ok(AuthSession {
            config: config.clone(),
            host: host.to_string(),
            is_https,
            legs: 0,
            active: None,
            challenged: false,
        })
    }

    /// The SPN used for Kerberos: the override or `HTTP/<host>`.
    pub fn spn(&self) -> String {
        self.config
            .spn
            .clone()
            .unwrap_or_else(|| format!("HTTP/{}", self.host))
    }

    /// The scheme of the context in progress or completed, if any (for logs: which mechanism was used).
    pub fn scheme(&self) -> Option<Scheme> {
        self.active.as_ref().map(|a| a.scheme)
    }

    fn transport_ok(&self) -> bool {
        self.is_https || self.config.allow_insecure_http
    }

    fn check_transport(&self, what: &str) -> Result<()> {
        if self.transport_ok() {
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
            AuthMethod::NegotiateCurrentUser | AuthMethod::NegotiateExplicit => {
                // Pre-emptive Negotiate only when it is allowed and a context starts (a ticket is at hand);
                // any failure here is silent: the server's challenge retries and reports it.
                if !self.transport_ok() || !backend::AVAILABLE {
                    return Ok(None);
                }
                if self.config.method == AuthMethod::NegotiateExplicit
                    && self.explicit_user().is_err()
                {
                    return Ok(None);
                }
                match self.start(Scheme::Negotiate, None) {
                    Ok(header) => Ok(Some(header)),
                    Err(_) => {
                        self.active = None;
                        Ok(None)
                    }
                }
            }
            AuthMethod::None | AuthMethod::Ntlm => Ok(None),
        }
    }

    fn explicit_user(&self) -> Result<(&str, &Secret)> {
        let user = self.config.username.as_deref().filter(|u| !u.is_empty());
        match (user, self.config.password.as_ref()) {
            (Some(u), Some(p)) => Ok((u, p)),
            _ => Err(Error::new(
                Status::InvalidArgument,
                format!(
                    "{:?} authentication needs a username and a password",
                    self.config.method
                ),
            )),
        }
    }

    /// Creates the context for `scheme`, steps it with `server_token` and returns the header value.
    fn start(&mut self, scheme: Scheme, server_token: Option<&[u8]>) -> Result<String> {
        let creds = match self.config.method {
            AuthMethod::NegotiateExplicit | AuthMethod::Ntlm => {
                let (u, p) = self.explicit_user()?;
                Some((u.to_string(), p.clone()))
            }
            _ => None,
        };
        let creds_ref = creds.as_ref().map(|(u, p)| (u.as_str(), p));
        let mech = backend::new_context(scheme, &self.spn(), creds_ref)?;
        self.active = Some(Active {
            scheme,
            mech,
            tokens_sent: 0,
        });
        self.step_active(server_token)
    }

    fn step_active(&mut self, server_token: Option<&[u8]>) -> Result<String> {
        let active = self
            .active
            .as_mut()
            .ok_or_else(|| Error::new(Status::Internal, "no auth context"))?;
        let step = active.mech.step(server_token)?;
        if step.token.is_empty() {
            return Err(Error::new(
                Status::AuthRejected,
                format!(
                    "the server keeps asking for {} authentication although the security context has nothing \
                     more to send; the credentials were not accepted",
                    active.scheme.name()
                ),
            ));
        }
        active.tokens_sent += 1;
        Ok(format!(
            "{} {}",
            active.scheme.name(),
            base64_encode(&step.token)
        ))
    }

    /// The `Authorization` value answering a 401 with these `WWW-Authenticate` values.
    pub fn respond_to_challenge(&mut self, www_authenticate: &[String]) -> Result<String> {
        self.legs += 1;
        let first_challenge = !self.challenged;
        self.challenged = true;
        let offered = offered_schemes(www_authenticate);
        let challenges = parse_challenges(www_authenticate);
        match self.config.method {
            AuthMethod::None => {
                return Err(Error::new(
                    Status::AuthRequired,
                    format!(
                        "the server requires authentication (offers: {offered}) and no authentication method \
                         was configured"
                    ),
                ));
            }
            AuthMethod::Basic | AuthMethod::Bearer => {
                let name = if self.config.method == AuthMethod::Basic {
                    "Basic"
                } else {
                    "Bearer"
                };
                return Err(Error::new(
                    Status::AuthRejected,
                    format!("the server rejected the {name} credentials (it offers: {offered})"),
                ));
            }
            _ => {}
        }
        if self.legs > MAX_LEGS {
            let scheme = self
                .active
                .as_ref()
                .map_or("authentication", |a| a.scheme.name());
            return Err(Error::new(
                Status::AuthRejected,
                format!(
                    "{scheme} credentials rejected: the server still answered 401 after {MAX_LEGS} legs"
                ),
            ));
        }
        // A pre-emptive token answered by a 401 without a token for its scheme: the optimisation failed (for
        // example the server wants NTLM). Start over from the offered schemes, unless that would pick the same
        // scheme again (then the pre-emptive credentials were refused).
        let mut refused_preemptive = None;
        if first_challenge && let Some(a) = self.active.as_ref() {
            let continues = challenges
                .iter()
                .any(|c| c.is(a.scheme.name()) && c.token68.is_some());
            if !continues && a.tokens_sent == 1 {
                refused_preemptive = Some(a.scheme);
                self.active = None;
            }
        }
        // A context in progress continues with the server's token for its scheme.
        if let Some(scheme) = self.active.as_ref().map(|a| a.scheme) {
            let token = challenges
                .iter()
                .find(|c| c.is(scheme.name()))
                .and_then(|c| c.token());
            return match token {
                Some(Ok(token)) => self.step_active(Some(&token)),
                Some(Err(e)) => Err(e),
                None => Err(Error::new(
                    Status::AuthRejected,
                    format!(
                        "{} credentials rejected by the server (it answered 401 again, offering: {offered}){}",
                        scheme.name(),
                        self.rejection_hint(scheme)
                    ),
                )),
            };
        }
        let has = |name: &str| challenges.iter().any(|c| c.is(name));
        let scheme = match self.config.method {
            AuthMethod::Ntlm if has("NTLM") => Scheme::Ntlm,
            AuthMethod::NegotiateCurrentUser | AuthMethod::NegotiateExplicit
                if has("Negotiate") =>
            {
                Scheme::Negotiate
            }
            AuthMethod::NegotiateCurrentUser | AuthMethod::NegotiateExplicit if has("NTLM") => {
                Scheme::Ntlm
            }
            _ => {
                return Err(Error::new(
                    Status::AuthRequired,
                    format!(
                        "the server requires authentication but offers no scheme usable with the configured \
                         method {:?} (it offers: {offered})",
                        self.config.method
                    ),
                ));
            }
        };
        if refused_preemptive == Some(scheme) {
            return Err(Error::new(
                Status::AuthRejected,
                format!(
                    "{} credentials rejected by the server (it answered 401 to them, offering: {offered}){}",
                    scheme.name(),
                    self.rejection_hint(scheme)
                ),
            ));
        }
        self.check_transport(scheme.name())?;
        if !backend::AVAILABLE {
            return Err(Error::new(
                Status::AuthUnsupported,
                format!(
                    "the server asks for {offered}; {} authentication is not built into this library \
                     (Unix builds need the cargo feature \"gssapi\")",
                    scheme.name()
                ),
            ));
        }
        // A first challenge normally carries no token; if it does (rare), pass it to the new context.
        let token = match challenges
            .iter()
            .find(|c| c.is(scheme.name()))
            .and_then(|c| c.token())
        {
            Some(Ok(t)) => Some(t),
            Some(Err(e)) => return Err(e),
            None => None,
        };
        self.start(scheme, token.as_deref())
    }

    fn rejection_hint(&self, scheme: Scheme) -> &'static str {
        match (scheme, self.config.method) {
            (Scheme::Negotiate, AuthMethod::NegotiateCurrentUser) => {
                "; check the SPN, the clock and that the current user's ticket is valid for this server"
            }
            _ => "; check the user name and password",
        }
    }

    /// Verifies the final answer's `WWW-Authenticate` values (mutual authentication).
    pub fn finish(&mut self, www_authenticate: &[String]) -> Result<()> {
        let Some(active) = self.active.as_mut() else {
            return Ok(());
        };
        let challenges = parse_challenges(www_authenticate);
        let token = challenges
            .iter()
            .find(|c| c.is(active.scheme.name()))
            .and_then(|c| c.token());
        match token {
            Some(Ok(token)) if !active.mech.complete() => {
                let step = active.mech.step(Some(&token)).map_err(|e| {
                    Error::new(
                        Status::AuthMutualFailed,
                        format!("mutual authentication failed: the server's final token did not verify ({})", e.message),
                    )
                })?;
                if !active.mech.complete() || !step.token.is_empty() {
                    return Err(Error::new(
                        Status::AuthMutualFailed,
                        "mutual authentication failed: the server's final token did not complete the security \
                         context",
                    ));
                }
                Ok(())
            }
            Some(Ok(_)) => Ok(()), // already complete (e.g. NTLM); nothing to verify
            Some(Err(e)) => Err(Error::new(
                Status::AuthMutualFailed,
                format!("mutual authentication failed: {}", e.message),
            )),
            None => {
                if active.mech.complete()
                    || !self.challenged
                    || active.scheme != Scheme::Negotiate
                    || active.tokens_sent > 1
                {
                    Ok(())
                } else {
                    Err(Error::new(
                        Status::AuthMutualFailed,
                        "mutual authentication failed: the server accepted the Kerberos credentials but sent no \
                         final Negotiate token proving its identity",
                    ))
                }
            }
        }
    }
}

/// One challenge of a `WWW-Authenticate` header: `scheme [token68 | auth-param, ...]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    /// The scheme as sent (compare with [`Challenge::is`], case-insensitively).
    pub scheme: String,
    /// The token68 (base64 for Negotiate/NTLM), if any.
    pub token68: Option<String>,
    /// The auth-params (`realm="x"`), names lower-cased, quotes removed.
    pub params: Vec<(String, String)>,
}

impl Challenge {
    /// Whether this challenge is for `scheme` (case-insensitive).
    pub fn is(&self, scheme: &str) -> bool {
        self.scheme.eq_ignore_ascii_case(scheme)
    }

    /// The decoded token, if the challenge carries one.
    fn token(&self) -> Option<Result<Vec<u8>>> {
        self.token68.as_deref().map(|t| {
            base64_decode(t).ok_or_else(|| {
                Error::new(
                    Status::AuthUnavailable,
                    format!("the server sent a malformed {} token", self.scheme),
                )
            })
        })
    }
}

/// Splits `s` at commas outside double-quoted strings.
fn split_commas(s: &str) -> Vec<&str> {
    let (mut out, mut start, mut quoted, mut escaped) = (Vec::new(), 0, false, false);
    for (i, c) in s.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            ',' if !quoted => {
                out.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&s[start..]);
    out
}

fn is_token68(s: &str) -> bool {
    let body = s.trim_end_matches('=');
    !body.is_empty()
        && body
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~+/".contains(&b))
}

fn parse_param(item: &str) -> Option<(String, String)> {
    let (name, value) = item.split_once('=')?;
    let name = name.trim();
    if name.is_empty() || name.contains(char::is_whitespace) {
        return None;
    }
    let value = value.trim();
    let value = if value.len() >= 2 && value.starts_with('"') && value.ends_with('"') {
        value[1..value.len() - 1]
            .replace("\\\"", "\"")
            .replace("\\\\", "\\")
    } else {
        value.to_string()
    };
    Some((name.to_ascii_lowercase(), value))
}

/// Parses every `WWW-Authenticate` value (each may hold several comma-separated challenges).
pub fn parse_challenges(www_authenticate: &[String]) -> Vec<Challenge> {
    let mut out: Vec<Challenge> = Vec::new();
    for value in www_authenticate {
        let mut current: Option<Challenge> = None;
        for item in split_commas(value) {
            let item = item.trim();
            if item.is_empty() {
                continue;
            }
            // `name=value` with no space before '=' continues the current challenge's params.
            let first_ws = item.find(char::is_whitespace).unwrap_or(item.len());
            let eq = item.find('=');
            if let (Some(c), Some(eq)) = (current.as_mut(), eq)
                && eq < first_ws
                && !is_token68(item)
                && let Some(p) = parse_param(item)
            {
                c.params.push(p);
                continue;
            }
            if let Some(c) = current.take() {
                out.push(c);
            }
            let (scheme, rest) = item.split_at(first_ws);
            let rest = rest.trim();
            let mut ch = Challenge {
                scheme: scheme.to_string(),
                token68: None,
                params: Vec::new(),
            };
            if !rest.is_empty() {
                if is_token68(rest) {
                    ch.token68 = Some(rest.to_string());
                } else if let Some(p) = parse_param(rest) {
                    ch.params.push(p);
                }
            }
            current = Some(ch);
        }
        if let Some(c) = current.take() {
            out.push(c);
        }
    }
    out
}

#[cfg(all(unix, feature = "gssapi"))]
mod gssapi;
#[cfg(windows)]
mod sspi;

/// The platform backend: GSSAPI on Unix (feature `gssapi`), SSPI on Windows.
mod backend {
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
}

/// The scheme names of a list of `WWW-Authenticate` values, for messages ("Negotiate, NTLM").
pub fn offered_schemes(www_authenticate: &[String]) -> String {
    let names: Vec<String> = parse_challenges(www_authenticate)
        .into_iter()
        .map(|c| c.scheme)
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

/// Standard base64 decoding (padding optional, whitespace ignored); None when malformed.
pub fn base64_decode(input: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(input.len() / 4 * 3);
    let (mut acc, mut bits, mut pad) = (0u32, 0u32, 0usize);
    for b in input.bytes() {
        let v = match b {
            b'A'..=b'Z' => b - b'A',
            b'a'..=b'z' => b - b'a' + 26,
            b'0'..=b'9' => b - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            b'=' => {
                pad += 1;
                continue;
            }
            b' ' | b'\t' | b'\r' | b'\n' => continue,
            _ => return None,
        };
        if pad > 0 {
            return None; // data after padding
        }
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    // 6 leftover bits can never be valid (1 char of a 4-char group); more than 2 pads is malformed.
    if bits >= 6 || pad > 2 {
        None
    } else {
        Some(out)
    }
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

    fn v(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn parses_separate_and_comma_joined_challenges() {
        let c = parse_challenges(&v(&[
            "Negotiate",
            "NTLM",
            r#"Basic realm="cm, prod", charset="UTF-8""#,
        ]));
        assert_eq!(c.len(), 3);
        assert!(c[0].is("negotiate") && c[0].token68.is_none());
        assert!(c[1].is("NTLM"));
        assert_eq!(
            c[2].params,
            vec![
                ("realm".into(), "cm, prod".into()),
                ("charset".into(), "UTF-8".into())
            ]
        );

        let joined = parse_challenges(&v(&[r#"Negotiate, NTLM, Basic realm="x""#]));
        let names: Vec<&str> = joined.iter().map(|c| c.scheme.as_str()).collect();
        assert_eq!(names, ["Negotiate", "NTLM", "Basic"]);
        assert_eq!(
            offered_schemes(&v(&[r#"Negotiate, NTLM, Basic realm="x""#])),
            "Negotiate, NTLM, Basic"
        );
    }

    #[test]
    fn parses_tokens_with_padding_and_params_after_them() {
        let c = parse_challenges(&v(&[
            "Negotiate oYG3MIG0oAMKAQA=",
            "NTLM TlRMTVNTUAACAAAA",
            "ntlm",
            "Bearer realm=\"a\", error=\"invalid_token\"",
        ]));
        assert_eq!(c[0].token68.as_deref(), Some("oYG3MIG0oAMKAQA="));
        assert_eq!(c[0].token().unwrap().unwrap()[..2], [0xa1, 0x81]);
        assert_eq!(c[1].token68.as_deref(), Some("TlRMTVNTUAACAAAA"));
        assert!(c[2].is("NTLM") && c[2].token68.is_none());
        assert_eq!(c[3].params.len(), 2);
        let joined = parse_challenges(&v(&["Negotiate abc==, NTLM"]));
        assert_eq!(joined.len(), 2);
        assert_eq!(joined[0].token68.as_deref(), Some("abc=="));
        assert!(parse_challenges(&v(&["", " , "])).is_empty());
    }

    #[test]
    fn base64_round_trip_and_rejects_garbage() {
        for len in 0..40u8 {
            let data: Vec<u8> = (0..len).map(|i| i.wrapping_mul(37)).collect();
            assert_eq!(base64_decode(&base64_encode(&data)).unwrap(), data);
        }
        assert!(base64_decode("a").is_none());
        assert!(base64_decode("ab=c").is_none());
        assert!(base64_decode("ab*c").is_none());
        assert_eq!(base64_decode("Zm9v YmFy").unwrap(), b"foobar");
    }

    #[test]
    fn no_method_or_no_usable_scheme_is_auth_required() {
        let cfg = AuthConfig {
            method: AuthMethod::None,
            ..Default::default()
        };
        let e = AuthSession::new(&cfg, "h", true)
            .unwrap()
            .respond_to_challenge(&v(&["Negotiate, NTLM"]))
            .unwrap_err();
        assert_eq!(e.status, Status::AuthRequired);
        assert!(e.message.contains("Negotiate, NTLM"));
        let cfg = AuthConfig {
            method: AuthMethod::Ntlm,
            username: Some("D\\u".into()),
            password: Some(Secret::new("pw")),
            ..Default::default()
        };
        let e = AuthSession::new(&cfg, "h", true)
            .unwrap()
            .respond_to_challenge(&v(&["Negotiate"]))
            .unwrap_err();
        assert_eq!(e.status, Status::AuthRequired);
        let e = AuthSession::new(&cfg, "h", true)
            .unwrap()
            .respond_to_challenge(&v(&["Basic realm=\"x\""]))
            .unwrap_err();
        assert_eq!(e.status, Status::AuthRequired);
    }

    #[test]
    fn negotiate_and_ntlm_refused_over_http_without_opt_in() {
        for method in [
            AuthMethod::NegotiateCurrentUser,
            AuthMethod::NegotiateExplicit,
            AuthMethod::Ntlm,
        ] {
            let cfg = AuthConfig {
                method,
                username: Some("D\\u".into()),
                password: Some(Secret::new("hunter2")),
                ..Default::default()
            };
            let mut s = AuthSession::new(&cfg, "h", false).unwrap();
            assert_eq!(
                s.initial_header().unwrap(),
                None,
                "{method:?}: nothing pre-emptive over http"
            );
            let e = s
                .respond_to_challenge(&v(&["Negotiate", "NTLM"]))
                .unwrap_err();
            assert_eq!(e.status, Status::AuthInsecureTransport, "{method:?}");
            assert!(!e.message.contains("hunter2"));
        }
    }

    #[test]
    fn basic_or_bearer_challenged_again_is_rejected() {
        let cfg = AuthConfig {
            method: AuthMethod::Bearer,
            token: Some(Secret::new("t0k")),
            ..Default::default()
        };
        let mut s = AuthSession::new(&cfg, "h", true).unwrap();
        assert_eq!(s.initial_header().unwrap().as_deref(), Some("Bearer t0k"));
        let e = s
            .respond_to_challenge(&v(&["Bearer error=\"invalid_token\""]))
            .unwrap_err();
        assert_eq!(e.status, Status::AuthRejected);
        assert!(e.message.contains("Bearer") && !e.message.contains("t0k"));
    }

    #[test]
    fn finish_without_context_is_ok_and_spn_defaults() {
        let cfg = AuthConfig::default();
        let mut s = AuthSession::new(&cfg, "cm.contoso.com", true).unwrap();
        assert_eq!(s.spn(), "HTTP/cm.contoso.com");
        s.finish(&v(&["Negotiate abcd"])).unwrap();
        let cfg = AuthConfig {
            spn: Some("HTTP/cmsrv.contoso.com".into()),
            ..Default::default()
        };
        assert_eq!(
            AuthSession::new(&cfg, "cm", true).unwrap().spn(),
            "HTTP/cmsrv.contoso.com"
        );
    }
}
