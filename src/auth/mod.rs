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
pub(crate) const MAX_LEGS: usize = 3;

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
///
/// Every form a secret takes in this crate — passwords, bearer tokens, `user:password`, the `Authorization`
/// values derived from them — lives in a `Secret` or in a `Zeroizing` buffer sized before it is filled (a
/// growing buffer would leave unwiped copies behind when it reallocates).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret(zeroize::Zeroizing<String>);

impl Secret {
    /// Wraps a secret (copied once, into an allocation of exactly its size).
    pub fn new(value: &str) -> Self {
        let mut s = String::with_capacity(value.len());
        s.push_str(value);
        Secret(zeroize::Zeroizing::new(s))
    }
    /// Builds a secret from parts without intermediate copies.
    pub fn concat(parts: &[&str]) -> Self {
        let mut s = String::with_capacity(parts.iter().map(|p| p.len()).sum());
        for p in parts {
            s.push_str(p);
        }
        Secret(zeroize::Zeroizing::new(s))
    }
    /// The secret's text; never log it.
    pub fn expose(&self) -> &str {
        &self.0
    }
    /// Whether it is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// `Basic base64(user:password)`, built without a plain copy of either.
pub fn basic_header(user: &str, password: &str) -> Secret {
    use base64::Engine;
    let raw = Secret::concat(&[user, ":", password]);
    let mut out = String::with_capacity(6 + base64::encoded_len(raw.0.len(), true).unwrap_or(0));
    out.push_str("Basic ");
    base64::engine::general_purpose::STANDARD.encode_string(raw.0.as_bytes(), &mut out);
    Secret(zeroize::Zeroizing::new(out))
}

/// `<scheme> base64(token)` for Negotiate/NTLM tokens (a Kerberos AP-REQ is a credential too).
pub(crate) fn encode_token(scheme: &str, token: &[u8]) -> Secret {
    use base64::Engine;
    let mut out = String::with_capacity(
        scheme.len() + 1 + base64::encoded_len(token.len(), true).unwrap_or(0),
    );
    out.push_str(scheme);
    out.push(' ');
    base64::engine::general_purpose::STANDARD.encode_string(token, &mut out);
    Secret(zeroize::Zeroizing::new(out))
}

/// Decodes a token68 from a challenge: standard or URL-safe alphabet, padding optional, whitespace ignored.
pub(crate) fn decode_token(text: &str) -> Option<Vec<u8>> {
    use base64::Engine;
    use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
    const LENIENT: GeneralPurpose = GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
    );
    let cleaned: String = text
        .chars()
        .filter(|c| !c.is_ascii_whitespace())
        .map(|c| match c {
            '-' => '+',
            '_' => '/',
            c => c,
        })
        .collect();
    LENIENT.decode(cleaned.as_bytes()).ok()
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
    /// Refuse an answer whose Negotiate exchange did not prove the server's identity (no final token).
    pub require_mutual_auth: bool,
}

impl AuthConfig {
    /// Checks that the method has what it needs (before anything is sent).
    pub fn validate(&self) -> Result<()> {
        let needs_password = matches!(
            self.method,
            AuthMethod::NegotiateExplicit | AuthMethod::Ntlm | AuthMethod::Basic
        );
        if needs_password && self.username.as_deref().is_none_or(str::is_empty) {
            return Err(Error::new(
                Status::InvalidArgument,
                format!("{:?} authentication needs a username", self.method),
            ));
        }
        if self.method == AuthMethod::Bearer && self.token.as_ref().is_none_or(Secret::is_empty) {
            return Err(Error::new(
                Status::InvalidArgument,
                "Bearer authentication needs a bearer token",
            ));
        }
        Ok(())
    }
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

mod backend;
mod challenge;
#[cfg(all(unix, feature = "gssapi"))]
mod gssapi;
mod session;
#[cfg(windows)]
mod sspi;

pub use challenge::{Challenge, offered_schemes, parse_challenges};
pub use session::{AuthSession, Verified};

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
            assert_eq!(
                encode_token("X", plain.as_bytes()).expose(),
                format!("X {encoded}")
            );
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
        assert_eq!(header.as_ref().map(Secret::expose), Some("Basic Ym9iOnB3"));
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
            let header = encode_token("N", &data);
            assert_eq!(decode_token(&header.expose()[2..]).unwrap(), data);
        }
        assert!(decode_token("a").is_none());
        assert!(decode_token("ab=c").is_none());
        assert!(decode_token("ab*c").is_none());
        assert_eq!(decode_token("Zm9v YmFy").unwrap(), b"foobar");
        assert_eq!(decode_token("Zm8").unwrap(), b"fo");
        assert_eq!(decode_token("-_8=").unwrap(), [0xfb, 0xff]);
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
        assert_eq!(
            s.initial_header().unwrap().as_ref().map(Secret::expose),
            Some("Bearer t0k")
        );
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
