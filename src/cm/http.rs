//! One HTTP exchange with the CM server: TLS trust, timeouts, the 401 authentication loop, size caps, and
//! the classification of failures — above all, whether a failed POST may have reached the server.

use crate::auth::{AuthConfig, AuthSession, MAX_LEGS};
use crate::error::{Error, Result};
use crate::status::Status;
use std::io::Read;
use std::path::PathBuf;
use std::time::Duration;
use ureq::tls::{Certificate, PemItem, RootCerts, TlsConfig};

/// Default time to establish the TCP (and TLS) connection.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Default time for one whole HTTP request, from connect to the last byte of the answer.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// Default cap on a response body; CM answers are a few KiB.
pub const DEFAULT_MAX_RESPONSE_BYTES: u64 = 1024 * 1024;

/// How to reach the server.
#[derive(Debug, Clone)]
pub struct TransportConfig {
    /// TCP + TLS connect timeout.
    pub connect_timeout: Duration,
    /// Whole-request timeout (each authentication leg is one request).
    pub timeout: Duration,
    /// PEM file with extra CA certificates to trust in addition to the OS trust store.
    pub extra_ca_file: Option<PathBuf>,
    /// Response body cap in bytes.
    pub max_response_bytes: u64,
    /// Authentication settings.
    pub auth: AuthConfig,
}

impl Default for TransportConfig {
    fn default() -> Self {
        TransportConfig {
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            timeout: DEFAULT_TIMEOUT,
            extra_ca_file: None,
            max_response_bytes: DEFAULT_MAX_RESPONSE_BYTES,
            auth: AuthConfig::default(),
        }
    }
}

/// A received answer.
#[derive(Debug, Clone)]
pub struct HttpAnswer {
    /// HTTP status code.
    pub status: u16,
    /// `Content-Type`, if any.
    pub content_type: Option<String>,
    /// `Location`, if any (redirects).
    pub location: Option<String>,
    /// The body (at most the configured cap).
    pub body: Vec<u8>,
}

/// Whether a request may be repeated safely; decides how a broken exchange is reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Idempotency {
    /// GET: a failure is just a failure.
    Safe,
    /// POST that creates state: once its bytes may have left, a failure is "outcome unknown".
    AtMostOnce,
}

/// An HTTP client for one logical call (one `ureq::Agent`, at most one idle connection per host so the
/// legs of an NTLM handshake share a TCP connection).
pub struct Transport {
    agent: ureq::Agent,
    config: TransportConfig,
}

impl Transport {
    /// Builds the agent: OS trust store (plus the extra CA file), no redirects, timeouts always set.
    pub fn new(config: TransportConfig) -> Result<Transport> {
        if config.timeout.is_zero() || config.connect_timeout.is_zero() {
            return Err(Error::new(
                Status::InvalidArgument,
                "timeouts must be greater than zero",
            ));
        }
        let root_certs = match &config.extra_ca_file {
            None => RootCerts::PlatformVerifier,
            Some(path) => RootCerts::new_with_certs(&trust_roots_with_extra(path)?),
        };
        let tls = TlsConfig::builder().root_certs(root_certs).build();
        let agent_config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .max_redirects_will_error(false)
            .max_idle_connections(1)
            .max_idle_connections_per_host(1)
            .timeout_connect(Some(config.connect_timeout))
            .timeout_global(Some(config.timeout))
            .user_agent(concat!("cm-smartcard/", env!("CARGO_PKG_VERSION")))
            .accept("application/json")
            .tls_config(tls)
            .build();
        Ok(Transport {
            agent: agent_config.new_agent(),
            config,
        })
    }

    /// Sends one logical request, answering up to [`MAX_LEGS`] authentication challenges.
    ///
    /// A 401 answer means the server did not process the request, so repeating it on the next leg cannot
    /// apply it twice. Any break after the bytes may have left is reported per `idempotency`.
    pub fn send(
        &self,
        method: &str,
        url: &str,
        host: &str,
        is_https: bool,
        json_body: Option<&str>,
        idempotency: Idempotency,
    ) -> Result<HttpAnswer> {
        let mut session = AuthSession::new(&self.config.auth, host, is_https)?;
        let mut authorization = session.initial_header()?;
        for leg in 0..=MAX_LEGS {
            let (answer, www_authenticate) = self.exchange(
                method,
                url,
                authorization.as_deref(),
                json_body,
                idempotency,
            )?;
            if answer.status == 401 {
                if leg == MAX_LEGS {
                    return Err(Error::new(
                        Status::AuthRejected,
                        format!("the server still answered 401 after {MAX_LEGS} authentication legs; credentials rejected"),
                    )
                    .with_http_status(401));
                }
                let next = session
                    .respond_to_challenge(&www_authenticate)
                    .map_err(|e| e.with_http_status(401))?;
                authorization = Some(next);
                continue;
            }
            session
                .finish(&www_authenticate)
                .map_err(|e| e.with_http_status(answer.status))?;
            return Ok(answer);
        }
        unreachable!("the loop returns on its last leg")
    }

    fn exchange(
        &self,
        method: &str,
        url: &str,
        authorization: Option<&str>,
        json_body: Option<&str>,
        idempotency: Idempotency,
    ) -> Result<(HttpAnswer, Vec<String>)> {
        let mut builder = ureq::http::Request::builder().method(method).uri(url);
        if let Some(a) = authorization {
            builder = builder.header("Authorization", a);
        }
        let result = match json_body {
            Some(body) => {
                let request = builder
                    .header("Content-Type", "application/json; charset=utf-8")
                    .body(body.as_bytes().to_vec())
                    .map_err(|e| {
                        Error::new(
                            Status::InvalidUrl,
                            format!("cannot build the request for {url}: {e}"),
                        )
                    })?;
                self.agent.run(request)
            }
            None => {
                let request = builder.body(()).map_err(|e| {
                    Error::new(
                        Status::InvalidUrl,
                        format!("cannot build the request for {url}: {e}"),
                    )
                })?;
                self.agent.run(request)
            }
        };
        let mut response = result.map_err(|e| classify_error(e, method, url, idempotency))?;
        let status = response.status().as_u16();
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        let content_type = header("content-type");
        let location = header("location");
        let www_authenticate: Vec<String> = response
            .headers()
            .get_all("www-authenticate")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .map(str::to_string)
            .collect();
        // Read to the end (under the cap) so the connection can carry the next authentication leg.
        let mut body = Vec::new();
        let cap = self.config.max_response_bytes;
        let read = response
            .body_mut()
            .as_reader()
            .take(cap + 1)
            .read_to_end(&mut body);
        if let Err(e) = read {
            // The status line arrived, so the outcome is known; only the body is incomplete.
            if (200..300).contains(&status) {
                return Err(Error::new(
                    Status::MalformedResponse,
                    format!(
                        "{method} {url}: the server answered HTTP {status} (success) but the body was cut off ({e}); \
                         use cm_reconcile_assignment() or cm_find_smartcard() to read the result"
                    ),
                )
                .with_http_status(status));
            }
            // A failure status with a truncated body: report the status with what arrived.
        }
        if body.len() as u64 > cap {
            return Err(Error::new(
                Status::ResponseTooLarge,
                format!(
                    "the answer to {method} {url} (HTTP {status}) is larger than the {cap}-byte cap"
                ),
            )
            .with_http_status(status));
        }
        Ok((
            HttpAnswer {
                status,
                content_type,
                location,
                body,
            },
            www_authenticate,
        ))
    }
}

/// The OS trust roots plus the certificates of `path` (PEM).
///
/// ureq cannot combine its platform verifier with extra roots, so the OS store is read as a PEM bundle
/// where the platform keeps one (Linux/BSD). On other platforms only the extra file is trusted when given;
/// enterprise CAs are normally in the Windows store already, so the option is meant for labs there.
fn trust_roots_with_extra(path: &std::path::Path) -> Result<Vec<Certificate<'static>>> {
    let read_pem = |p: &std::path::Path| -> std::io::Result<Vec<Certificate<'static>>> {
        let bytes = std::fs::read(p)?;
        Ok(ureq::tls::parse_pem(&bytes)
            .filter_map(|item| match item {
                Ok(PemItem::Certificate(c)) => Some(c),
                _ => None,
            })
            .collect())
    };
    let extra = read_pem(path).map_err(|e| {
        Error::new(
            Status::InvalidFile,
            format!("cannot read the extra CA file '{}': {e}", path.display()),
        )
    })?;
    if extra.is_empty() {
        return Err(Error::new(
            Status::InvalidFile,
            format!(
                "the extra CA file '{}' contains no PEM certificate",
                path.display()
            ),
        ));
    }
    let mut roots = Vec::new();
    if cfg!(unix) {
        for bundle in [
            "/etc/ssl/certs/ca-certificates.crt",
            "/etc/pki/tls/certs/ca-bundle.crt",
            "/etc/ssl/ca-bundle.pem",
            "/etc/ssl/cert.pem",
        ] {
            if let Ok(certs) = read_pem(std::path::Path::new(bundle))
                && !certs.is_empty()
            {
                roots.extend(certs);
                break;
            }
        }
    }
    roots.extend(extra);
    Ok(roots)
}

fn unknown_outcome(method: &str, url: &str, what: &str) -> Error {
    Error::new(
        Status::OutcomeUnknown,
        format!(
            "{method} {url}: {what} after the request may have reached the server. It was NOT retried, because \
             repeating it could bind twice. Check whether it took effect with cm_reconcile_assignment() before \
             trying again"
        ),
    )
}

/// Maps a ureq error to our status, deciding whether the request may have left.
fn classify_error(err: ureq::Error, method: &str, url: &str, idempotency: Idempotency) -> Error {
    use ureq::Error as E;
    use ureq::Timeout as T;
    let at_most_once = idempotency == Idempotency::AtMostOnce;
    match err {
        E::HostNotFound => Error::new(
            Status::DnsFailed,
            format!("{method} {url}: the server name could not be resolved; check the URL and DNS"),
        ),
        E::ConnectionFailed => Error::new(
            Status::ConnectFailed,
            format!("{method} {url}: could not connect to the server; nothing was sent"),
        ),
        E::Timeout(T::Resolve) => Error::new(
            Status::DnsFailed,
            format!("{method} {url}: resolving the server name timed out"),
        ),
        E::Timeout(T::Connect) => Error::new(
            Status::ConnectFailed,
            format!("{method} {url}: connecting to the server timed out; nothing was sent"),
        ),
        E::Timeout(phase) if at_most_once => {
            unknown_outcome(method, url, &format!("timed out ({phase})"))
        }
        E::Timeout(phase) => Error::new(
            Status::Timeout,
            format!("{method} {url}: the server did not answer in time ({phase})"),
        ),
        E::Io(io) => classify_io(io, method, url, idempotency),
        E::Tls(msg) => Error::new(
            Status::TlsFailed,
            format!("{method} {url}: TLS failed: {msg}"),
        ),
        E::Rustls(e) => Error::new(Status::TlsFailed, tls_message(method, url, &e.to_string())),
        E::Pem(e) => Error::new(
            Status::InvalidFile,
            format!("cannot parse a PEM certificate: {e}"),
        ),
        E::BadUri(u) => Error::new(Status::InvalidUrl, format!("{method}: invalid URL {u}")),
        E::Http(e) => Error::new(
            Status::InvalidUrl,
            format!("{method} {url}: invalid request: {e}"),
        ),
        E::Protocol(e) if at_most_once => unknown_outcome(
            method,
            url,
            &format!("the answer broke the HTTP protocol ({e})"),
        ),
        E::Protocol(e) => Error::new(
            Status::TransportError,
            format!("{method} {url}: malformed HTTP answer: {e}"),
        ),
        E::TooManyRedirects | E::RedirectFailed => Error::new(
            Status::RedirectRefused,
            format!("{method} {url}: the server redirected; redirects are not followed"),
        ),
        E::BodyExceedsLimit(n) => Error::new(
            Status::ResponseTooLarge,
            format!("{method} {url}: the answer is larger than the {n}-byte cap"),
        ),
        other if at_most_once => {
            unknown_outcome(method, url, &format!("the exchange failed ({other})"))
        }
        other => Error::new(Status::TransportError, format!("{method} {url}: {other}")),
    }
}

fn tls_message(method: &str, url: &str, detail: &str) -> String {
    format!(
        "{method} {url}: TLS failed: {detail}. If the server certificate comes from an enterprise CA, install \
         that CA in the OS trust store or pass it as the extra CA file"
    )
}

fn classify_io(io: std::io::Error, method: &str, url: &str, idempotency: Idempotency) -> Error {
    use std::io::ErrorKind as K;
    // ureq wraps rustls failures during the handshake in io errors.
    if let Some(inner) = io.get_ref() {
        if let Some(tls) = inner.downcast_ref::<ureq::Error>()
            && matches!(tls, ureq::Error::Rustls(_) | ureq::Error::Tls(_))
        {
            return Error::new(
                Status::TlsFailed,
                tls_message(method, url, &tls.to_string()),
            );
        }
        let text = inner.to_string();
        if text.contains("certificate")
            || text.contains("InvalidCertificate")
            || text.contains("UnknownIssuer")
        {
            return Error::new(Status::TlsFailed, tls_message(method, url, &text));
        }
    }
    // Name resolution fails before anything is sent: std reports it as an uncategorized io error
    // ("failed to lookup address information" on Unix, WSAHOST_NOT_FOUND / WSANO_DATA on Windows).
    let text = io.to_string();
    if text.contains("failed to lookup address")
        || (cfg!(windows) && matches!(io.raw_os_error(), Some(11001 | 11004)))
    {
        return Error::new(
            Status::DnsFailed,
            format!(
                "{method} {url}: the server name could not be resolved ({io}); check the URL and DNS; nothing was sent"
            ),
        );
    }
    match io.kind() {
        K::ConnectionRefused | K::AddrNotAvailable | K::NetworkUnreachable | K::HostUnreachable => {
            Error::new(
                Status::ConnectFailed,
                format!("{method} {url}: could not connect to the server ({io}); nothing was sent"),
            )
        }
        K::TimedOut | K::WouldBlock if idempotency == Idempotency::Safe => Error::new(
            Status::Timeout,
            format!("{method} {url}: the server did not answer in time ({io})"),
        ),
        _ if idempotency == Idempotency::AtMostOnce => {
            unknown_outcome(method, url, &format!("the connection broke ({io})"))
        }
        _ => Error::new(
            Status::TransportError,
            format!("{method} {url}: the connection broke ({io})"),
        ),
    }
}
