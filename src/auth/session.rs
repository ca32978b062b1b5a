//! One authentication exchange: the `Authorization` values for one logical call and the verification of
//! the server's final token (mutual authentication).

use super::challenge::{Challenge, offered_schemes, parse_challenges};
use super::{
    AuthConfig, AuthMethod, MAX_LEGS, Mechanism, Scheme, Secret, backend, basic_header,
    encode_token,
};
use crate::error::{Error, Result};
use crate::status::Status;

/// A context in progress.
#[derive(Debug)]
struct Active {
    scheme: Scheme,
    mech: Box<dyn Mechanism>,
    /// Tokens sent so far under this scheme.
    tokens_sent: usize,
}

/// How the final answer left the server's identity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verified {
    /// No connection-based authentication took place (none needed, Basic, Bearer).
    NotApplicable,
    /// Negotiate completed with the server's proof (Kerberos mutual authentication).
    Mutual,
    /// Authenticated without proof of the server's identity (NTLM, or Negotiate without a final token).
    ClientOnly,
}

/// Creates a platform security context (GSSAPI or SSPI); tests substitute scripted ones.
type ContextFactory = fn(Scheme, &str, Option<(&str, &Secret)>) -> Result<Box<dyn Mechanism>>;

/// One authentication exchange, for one logical call.
#[derive(Debug)]
pub struct AuthSession {
    new_context: ContextFactory,
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
            new_context: backend::new_context,
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

    /// Whether a Negotiate/NTLM context was started (the server may bind it to the connection).
    pub fn connection_based(&self) -> bool {
        self.active.is_some()
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
    pub fn initial_header(&mut self) -> Result<Option<Secret>> {
        match self.config.method {
            AuthMethod::Bearer => {
                self.check_transport("bearer")?;
                let token = self
                    .config
                    .token
                    .as_ref()
                    .filter(|t| !t.is_empty())
                    .ok_or_else(|| {
                        Error::new(
                            Status::InvalidArgument,
                            "bearer authentication needs a token",
                        )
                    })?;
                Ok(Some(Secret::concat(&["Bearer ", token.expose()])))
            }
            AuthMethod::Basic => {
                self.check_transport("Basic")?;
                let user = self.config.username.as_deref().unwrap_or("");
                if user.is_empty() {
                    return Err(Error::new(
                        Status::InvalidArgument,
                        "Basic authentication needs a username",
                    ));
                }
                let pass = self.config.password.as_ref().map_or("", |p| p.expose());
                Ok(Some(basic_header(user, pass)))
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
    fn start(&mut self, scheme: Scheme, server_token: Option<&[u8]>) -> Result<Secret> {
        let creds = match self.config.method {
            AuthMethod::NegotiateExplicit | AuthMethod::Ntlm => Some(self.explicit_user()?),
            _ => None,
        };
        let mech = (self.new_context)(scheme, &self.spn(), creds)?;
        self.active = Some(Active {
            scheme,
            mech,
            tokens_sent: 0,
        });
        self.step_active(server_token)
    }

    fn step_active(&mut self, server_token: Option<&[u8]>) -> Result<Secret> {
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
        Ok(encode_token(active.scheme.name(), &step.token))
    }

    /// The `Authorization` value answering a 401 with these `WWW-Authenticate` values.
    ///
    /// The steps: count the leg; refuse what the configured method cannot answer; drop a pre-emptive token
    /// the server ignored; continue a context in progress; or start one with the best scheme offered.
    pub fn respond_to_challenge(&mut self, www_authenticate: &[String]) -> Result<Secret> {
        self.legs += 1;
        let first_challenge = !self.challenged;
        self.challenged = true;
        let offered = offered_schemes(www_authenticate);
        let challenges = parse_challenges(www_authenticate);
        self.refuse_unanswerable(&offered)?;
        let refused_preemptive = if first_challenge {
            self.drop_ignored_preemptive(&challenges)
        } else {
            None
        };
        if let Some(scheme) = self.active.as_ref().map(|a| a.scheme) {
            return self.continue_context(scheme, &challenges, &offered);
        }
        let scheme = self.choose_scheme(&challenges, &offered)?;
        if refused_preemptive == Some(scheme) {
            return Err(self.rejected(scheme, &offered, "it answered 401 to them"));
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
        let token = server_token(&challenges, scheme).transpose()?;
        self.start(scheme, token.as_deref())
    }

    /// Methods that have nothing more to offer after a 401, and the leg limit.
    fn refuse_unanswerable(&self, offered: &str) -> Result<()> {
        match self.config.method {
            AuthMethod::None => Err(Error::new(
                Status::AuthRequired,
                format!(
                    "the server requires authentication (offers: {offered}) and no authentication method \
                     was configured"
                ),
            )),
            AuthMethod::Basic | AuthMethod::Bearer => {
                let name = if self.config.method == AuthMethod::Basic {
                    "Basic"
                } else {
                    "Bearer"
                };
                Err(Error::new(
                    Status::AuthRejected,
                    format!("the server rejected the {name} credentials (it offers: {offered})"),
                ))
            }
            _ if self.legs > MAX_LEGS => {
                let scheme = self
                    .active
                    .as_ref()
                    .map_or("authentication", |a| a.scheme.name());
                Err(Error::new(
                    Status::AuthRejected,
                    format!(
                        "{scheme} credentials rejected: the server still answered 401 after {MAX_LEGS} legs"
                    ),
                ))
            }
            _ => Ok(()),
        }
    }

    /// A pre-emptive token answered by a 401 without a token for its scheme: the optimisation failed (for
    /// example the server wants NTLM). Returns the scheme that was refused; the caller starts over from the
    /// offered schemes unless that would pick the same scheme again.
    fn drop_ignored_preemptive(&mut self, challenges: &[Challenge]) -> Option<Scheme> {
        let a = self.active.as_ref()?;
        let continues = challenges
            .iter()
            .any(|c| c.is(a.scheme.name()) && c.token68.is_some());
        if !continues && a.tokens_sent == 1 {
            let scheme = a.scheme;
            self.active = None;
            return Some(scheme);
        }
        None
    }

    /// The next token of a context in progress. A 401 without a token for its scheme, or a new challenge
    /// after the context already completed (NTLM sends its last message in the third leg), is a rejection.
    fn continue_context(
        &mut self,
        scheme: Scheme,
        challenges: &[Challenge],
        offered: &str,
    ) -> Result<Secret> {
        let finished = self
            .active
            .as_ref()
            .is_some_and(|a| a.mech.complete() || (scheme == Scheme::Ntlm && a.tokens_sent >= 2));
        match server_token(challenges, scheme) {
            Some(Ok(_)) if finished => Err(self.rejected(
                scheme,
                offered,
                "it sent a new challenge after the handshake was complete",
            )),
            Some(Ok(token)) => self.step_active(Some(&token)).map_err(|e| {
                if e.status == Status::AuthUnavailable {
                    // The mechanism could not use the server's next token: the server is not accepting us.
                    Error::new(
                        Status::AuthRejected,
                        format!(
                            "{} credentials rejected: the server answered with a token this client cannot \
                             continue ({})",
                            scheme.name(),
                            e.message
                        ),
                    )
                } else {
                    e
                }
            }),
            Some(Err(e)) => Err(e),
            None => Err(self.rejected(scheme, offered, "it answered 401 again")),
        }
    }

    fn choose_scheme(&self, challenges: &[Challenge], offered: &str) -> Result<Scheme> {
        let has = |name: &str| challenges.iter().any(|c| c.is(name));
        match self.config.method {
            AuthMethod::Ntlm if has("NTLM") => Ok(Scheme::Ntlm),
            AuthMethod::NegotiateCurrentUser | AuthMethod::NegotiateExplicit
                if has("Negotiate") =>
            {
                Ok(Scheme::Negotiate)
            }
            AuthMethod::NegotiateCurrentUser | AuthMethod::NegotiateExplicit if has("NTLM") => {
                Ok(Scheme::Ntlm)
            }
            _ => Err(Error::new(
                Status::AuthRequired,
                format!(
                    "the server requires authentication but offers no scheme usable with the configured \
                     method {:?} (it offers: {offered})",
                    self.config.method
                ),
            )),
        }
    }

    fn rejected(&self, scheme: Scheme, offered: &str, why: &str) -> Error {
        let hint = match (scheme, self.config.method) {
            (Scheme::Negotiate, AuthMethod::NegotiateCurrentUser) => {
                "; check the SPN, the clock and that the current user's ticket is valid for this server"
            }
            _ => "; check the user name and password",
        };
        Error::new(
            Status::AuthRejected,
            format!(
                "{} credentials rejected by the server ({why}, offering: {offered}){hint}",
                scheme.name()
            ),
        )
    }

    /// Verifies the final answer's `WWW-Authenticate` values (mutual authentication) and says how far the
    /// server's identity is proven. `Err` is `AuthMutualFailed` (a token that does not verify) or, with
    /// [`AuthConfig::require_mutual_auth`], a missing proof; the caller decides what that means for an answer
    /// the server already processed.
    pub fn finish(&mut self, www_authenticate: &[String]) -> Result<Verified> {
        let strict = self.config.require_mutual_auth;
        let Some(active) = self.active.as_mut() else {
            return Ok(Verified::NotApplicable);
        };
        let challenges = parse_challenges(www_authenticate);
        let token = challenges
            .iter()
            .find(|c| c.is(active.scheme.name()))
            .and_then(|c| c.token());
        let verified = match token {
            Some(Ok(token)) if !active.mech.complete() => {
                let step = active.mech.step(Some(&token)).map_err(|e| {
                    Error::new(
                        Status::AuthMutualFailed,
                        format!(
                            "mutual authentication failed: the server's final token did not verify ({})",
                            e.message
                        ),
                    )
                })?;
                if !active.mech.complete() || !step.token.is_empty() {
                    return Err(Error::new(
                        Status::AuthMutualFailed,
                        "mutual authentication failed: the server's final token did not complete the security \
                         context",
                    ));
                }
                Verified::Mutual
            }
            // Already complete: Kerberos completed earlier in this exchange, or NTLM (inside SPNEGO after
            // several rounds, or raw), which proves nothing about the server.
            Some(Ok(_)) if active.scheme == Scheme::Negotiate && active.tokens_sent == 1 => {
                Verified::Mutual
            }
            Some(Ok(_)) => Verified::ClientOnly,
            Some(Err(e)) => {
                return Err(Error::new(
                    Status::AuthMutualFailed,
                    format!("mutual authentication failed: {}", e.message),
                ));
            }
            None if active.mech.complete()
                && active.scheme == Scheme::Negotiate
                && active.tokens_sent > 1 =>
            {
                // SPNEGO that settled on NTLM completes on our side; NTLM proves nothing about the server.
                Verified::ClientOnly
            }
            None if active.mech.complete() && active.scheme == Scheme::Negotiate => {
                Verified::Mutual
            }
            None => {
                let kerberos_single_round = self.challenged
                    && active.scheme == Scheme::Negotiate
                    && active.tokens_sent == 1;
                if kerberos_single_round {
                    return Err(Error::new(
                        Status::AuthMutualFailed,
                        "mutual authentication failed: the server accepted the Kerberos credentials but sent no \
                         final Negotiate token proving its identity",
                    ));
                }
                Verified::ClientOnly
            }
        };
        if strict && verified != Verified::Mutual {
            return Err(Error::new(
                Status::AuthMutualFailed,
                format!(
                    "the server did not prove its identity ({} without a verified final Negotiate token) and \
                     CM_AUTH_FLAG_REQUIRE_MUTUAL_AUTH is set",
                    active.scheme.name()
                ),
            ));
        }
        Ok(verified)
    }
}

fn server_token(challenges: &[Challenge], scheme: Scheme) -> Option<Result<Vec<u8>>> {
    challenges
        .iter()
        .find(|c| c.is(scheme.name()))
        .and_then(|c| c.token())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A scripted NTLM-like context: two tokens, then complete; any further input is an error of the kind a
    /// real mechanism reports (AuthUnavailable), which the session must turn into a rejection.
    #[derive(Debug)]
    struct Scripted {
        steps: usize,
    }

    impl Mechanism for Scripted {
        fn step(&mut self, _input: Option<&[u8]>) -> Result<super::super::Step> {
            self.steps += 1;
            if self.steps > 2 {
                return Err(Error::new(
                    Status::AuthUnavailable,
                    "the mechanism cannot process the token",
                ));
            }
            Ok(super::super::Step {
                token: vec![self.steps as u8; 8],
                complete: self.steps == 2,
            })
        }
        fn complete(&self) -> bool {
            self.steps >= 2
        }
    }

    fn scripted(_: Scheme, _: &str, _: Option<(&str, &Secret)>) -> Result<Box<dyn Mechanism>> {
        Ok(Box::new(Scripted { steps: 0 }))
    }

    fn session(method: AuthMethod) -> AuthSession {
        let config = AuthConfig {
            method,
            username: Some("D\\u".into()),
            password: Some(Secret::new("pw")),
            ..Default::default()
        };
        let mut s = AuthSession::new(&config, "h", true).unwrap();
        s.new_context = scripted;
        s
    }

    fn v(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn a_server_that_keeps_challenging_ntlm_is_a_rejection() {
        let mut s = session(AuthMethod::Ntlm);
        assert!(
            s.respond_to_challenge(&v(&["NTLM"]))
                .unwrap()
                .expose()
                .starts_with("NTLM ")
        );
        assert!(
            s.respond_to_challenge(&v(&["NTLM AAAA"]))
                .unwrap()
                .expose()
                .starts_with("NTLM ")
        );
        // The handshake is complete (type 3 sent); another challenge with a token is a refusal.
        let e = s.respond_to_challenge(&v(&["NTLM BBBB"])).unwrap_err();
        assert_eq!(e.status, Status::AuthRejected, "{}", e.message);
        assert!(
            e.message
                .contains("new challenge after the handshake was complete"),
            "{}",
            e.message
        );
    }

    #[test]
    fn a_token_the_mechanism_cannot_continue_is_a_rejection() {
        let mut s = session(AuthMethod::NegotiateExplicit);
        // Scripted contexts start pre-emptively (Negotiate), then the server answers with tokens.
        let _ = s.initial_header().unwrap();
        let _ = s.respond_to_challenge(&v(&["Negotiate AAAA"])).unwrap();
        let e = s.respond_to_challenge(&v(&["Negotiate BBBB"])).unwrap_err();
        assert_eq!(e.status, Status::AuthRejected, "{}", e.message);
    }

    #[test]
    fn strict_mutual_auth_refuses_ntlm() {
        let mut config = AuthConfig {
            method: AuthMethod::Ntlm,
            username: Some("u".into()),
            password: Some(Secret::new("pw")),
            require_mutual_auth: true,
            ..Default::default()
        };
        let mut s = AuthSession::new(&config, "h", true).unwrap();
        s.new_context = scripted;
        let _ = s.respond_to_challenge(&v(&["NTLM"])).unwrap();
        let _ = s.respond_to_challenge(&v(&["NTLM AAAA"])).unwrap();
        let e = s.finish(&[]).unwrap_err();
        assert_eq!(e.status, Status::AuthMutualFailed);
        config.require_mutual_auth = false;
        let mut lax = AuthSession::new(&config, "h", true).unwrap();
        lax.new_context = scripted;
        let _ = lax.respond_to_challenge(&v(&["NTLM"])).unwrap();
        let _ = lax.respond_to_challenge(&v(&["NTLM AAAA"])).unwrap();
        assert_eq!(lax.finish(&[]).unwrap(), Verified::ClientOnly);
    }
}
