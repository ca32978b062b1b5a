//! One logical CM call over the HTTP client: the 401 authentication loop on the right connection, the reuse
//! of connections IIS already authenticated, and the classification of failures — above all, whether a
//! failed state-changing request may have reached the server.

use super::url::ServerUrl;
use crate::auth::{AuthConfig, AuthMethod, AuthSession, Secret, Verified};
use crate::error::{Error, Result};
use crate::http::proxy::{self, ProxyConfig};
use crate::http::{self, Client, ClientSettings, Connection, ExchangeError, Origin, Request, Sent};
use crate::status::Status;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::time::{Duration, Instant};

/// Default time to establish the TCP (and TLS) connection.
pub const CM_DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Default time for one whole HTTP request, from sending to the last byte of the answer.
pub const CM_DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// Default cap on a response body; CM answers are a few KiB.
pub const CM_DEFAULT_MAX_RESPONSE_BYTES: u64 = 1024 * 1024;

/// How to reach the server.
#[derive(Debug, Clone)]
pub struct TransportConfig {
    /// TCP + TLS (+ proxy tunnel) connect timeout.
    pub connect_timeout: Duration,
    /// Whole-request timeout (each authentication leg is one request).
    pub timeout: Duration,
    /// PEM file with extra CA certificates to trust in addition to the OS trust store.
    pub extra_ca_file: Option<PathBuf>,
    /// Response body cap in bytes.
    pub max_response_bytes: u64,
    /// Authentication settings.
    pub auth: AuthConfig,
    /// Proxy choice.
    pub proxy: ProxyConfig,
    /// Credentials for a proxy's 407 (user name and password; none = current user for Negotiate/NTLM).
    pub proxy_username: Option<String>,
    /// Password for `proxy_username`.
    pub proxy_password: Option<Secret>,
    /// Idle connections a session keeps.
    pub max_idle_connections: usize,
    /// Idle connections older than this are closed.
    pub idle_timeout: Duration,
}

impl Default for TransportConfig {
    fn default() -> Self {
        TransportConfig {
            connect_timeout: CM_DEFAULT_CONNECT_TIMEOUT,
            timeout: CM_DEFAULT_TIMEOUT,
            extra_ca_file: None,
            max_response_bytes: CM_DEFAULT_MAX_RESPONSE_BYTES,
            auth: AuthConfig::default(),
            proxy: ProxyConfig::default(),
            proxy_username: None,
            proxy_password: None,
            max_idle_connections: http::DEFAULT_MAX_IDLE,
            idle_timeout: http::DEFAULT_IDLE_TIMEOUT,
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
    /// The server processed the request but did not prove its identity (`AuthServerUnverified`).
    pub warning: Option<Error>,
}

#[cfg(test)]
impl HttpAnswer {
    /// An answer as the parsers see it, for their unit tests.
    pub(crate) fn for_test(status: u16, content_type: &str, body: &str) -> HttpAnswer {
        HttpAnswer {
            status,
            content_type: Some(content_type.into()),
            location: None,
            body: body.as_bytes().to_vec(),
            warning: None,
        }
    }
}

/// Whether a request may be repeated safely; decides how a broken exchange is reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Idempotency {
    /// GET: a failure is just a failure, and a stale pooled connection is retried on a fresh one.
    Safe,
    /// POST/PUT that changes state: once its bytes may have left, a failure is "outcome unknown".
    AtMostOnce,
}

/// Whether the server keeps Negotiate/NTLM authentication per connection (IIS does for NTLM, and for
/// Kerberos with its default `authPersistNonNTLM`): learnt from the first reuse.
const PERSIST_UNKNOWN: u8 = 0;
const PERSIST_YES: u8 = 1;
const PERSIST_NO: u8 = 2;

/// The transport of one client: the server, its connections and the authentication settings.
pub struct Transport {
    server: ServerUrl,
    client: Client,
    config: TransportConfig,
    auth_persists: AtomicU8,
    /// The server answered 417 to `Expect: 100-continue`.
    expect_refused: AtomicBool,
}

/// Why a request is sent again on another connection (each case: the server cannot have processed it).
enum Retry {
    /// A pooled connection turned out closed (EOF/reset before any answer, or a 408 crossing the request).
    Elsewhere,
    /// The server refused `Expect` (417): resend on a new connection, without it.
    Fresh,
}

impl std::fmt::Debug for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transport")
            .field("server", &self.server.app_root)
            .finish()
    }
}

/// Retries of one leg on another connection after a pooled one turned out dead (bounded by the pool).
const MAX_STALE_RETRIES: usize = 8;

impl Transport {
    /// Builds the transport. `pooled`: keep idle connections for later calls (sessions); one-shot calls
    /// close theirs. TLS settings (trust roots, session cache) are shared per process either way.
    pub fn new(server: ServerUrl, config: TransportConfig, pooled: bool) -> Result<Transport> {
        if config.timeout.is_zero() || config.connect_timeout.is_zero() {
            return Err(Error::new(
                Status::InvalidArgument,
                "timeouts must be greater than zero",
            ));
        }
        let tls = if server.is_https {
            Some(http::tls::client_config(config.extra_ca_file.as_deref())?)
        } else {
            None
        };
        let origin = Origin {
            https: server.is_https,
            host: server.host.clone(),
            port: server.port,
        };
        let proxy = proxy::select(&config.proxy, &origin)?;
        let proxy_auth = AuthConfig {
            method: AuthMethod::NegotiateCurrentUser,
            username: config.proxy_username.clone(),
            password: config.proxy_password.clone(),
            allow_insecure_http: config.auth.allow_insecure_http,
            ..AuthConfig::default()
        };
        let client = Client::new(ClientSettings {
            origin,
            connect_timeout: config.connect_timeout,
            tls,
            proxy,
            proxy_auth,
            max_idle: if pooled {
                config.max_idle_connections
            } else {
                0
            },
            idle_timeout: config.idle_timeout,
        });
        Ok(Transport {
            server,
            client,
            config,
            auth_persists: AtomicU8::new(PERSIST_UNKNOWN),
            expect_refused: AtomicBool::new(false),
        })
    }

    /// The server URL.
    pub fn server(&self) -> &ServerUrl {
        &self.server
    }

    /// The HTTP client (connection statistics, proxy in use).
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// A connection for the next request: a pooled one when it may carry it, else a new one. A server that
    /// refused `Expect: 100-continue` (417) gets state-changing requests on new connections only: without
    /// that handshake a POST must never ride on a connection the server may have closed.
    fn connection(&self, idempotency: Idempotency) -> Result<Connection> {
        if idempotency == Idempotency::AtMostOnce && self.expect_refused.load(Ordering::Relaxed) {
            return self.client.open();
        }
        match self.client.checkout() {
            Some(c) => Ok(c),
            None => self.client.open(),
        }
    }

    /// The connection's authentication can carry this request without a new handshake.
    fn rides_on_authenticated(&self, conn: &Connection) -> bool {
        conn.authenticated && self.auth_persists.load(Ordering::Relaxed) != PERSIST_NO
    }

    /// Sends one logical request: `method` on the API path (`/smartcards?...`), answering the server's 401
    /// challenges on the connection that carries them.
    pub fn send(
        &self,
        method: &str,
        path: &str,
        json_body: Option<&str>,
        idempotency: Idempotency,
        secret_bodies: bool,
    ) -> Result<HttpAnswer> {
        let url = self.server.api_url(path);
        let target = self.client.target(&self.server.api_target(path));
        let mut auth =
            AuthSession::new(&self.config.auth, &self.server.host, self.server.is_https)?;
        let mut conn = self
            .connection(idempotency)
            .map_err(|e| e.context(format!("{method} {url}")))?;
        let mut riding = self.rides_on_authenticated(&conn);
        let mut header = if riding { None } else { auth.initial_header()? };
        let mut stale_retries = 0;
        let mut legs = 0;
        loop {
            let deadline = Instant::now() + self.config.timeout;
            let mut headers: Vec<(&str, &[u8])> = Vec::with_capacity(5);
            headers.push(("User-Agent", USER_AGENT.as_bytes()));
            headers.push(("Accept", b"application/json"));
            if json_body.is_some() {
                headers.push(("Content-Type", b"application/json; charset=utf-8"));
            }
            if let Some(h) = &header {
                headers.push(("Authorization", h.expose().as_bytes()));
            }
            let request = Request {
                method,
                target: &target,
                host: self.client.host_header(),
                headers: &headers,
                body: json_body.map(str::as_bytes),
                max_body: self.config.max_response_bytes,
                secret_bodies,
            };
            // On a reused connection a state-changing request withholds its body until the server shows the
            // connection is alive (100 Continue): a connection the server closed can never take the POST.
            let expect = idempotency == Idempotency::AtMostOnce && conn.reused;
            let result = conn.exchange(&request, expect, deadline);
            drop(headers);
            let retry = match &result {
                // An IIS 408 that crossed the request on a kept-alive connection: nothing was processed.
                Ok(r) if r.head.status == 408 && conn.reused => Some(Retry::Elsewhere),
                Ok(r) if r.head.status == 417 && expect => {
                    self.expect_refused.store(true, Ordering::Relaxed);
                    Some(Retry::Fresh)
                }
                Ok(_) => None,
                // The server ignored `Expect` (no 100, no answer): the body never left. Resend without it.
                Err(e) if e.expect_ignored => {
                    self.expect_refused.store(true, Ordering::Relaxed);
                    Some(Retry::Fresh)
                }
                Err(e) if retry_elsewhere(e, &conn, idempotency) => Some(Retry::Elsewhere),
                Err(_) => None,
            };
            if let Some(kind) = retry.filter(|_| stale_retries < MAX_STALE_RETRIES) {
                stale_retries += 1;
                conn = match kind {
                    Retry::Elsewhere => self.connection(idempotency),
                    Retry::Fresh => self.client.open(),
                }
                .map_err(|e| e.context(format!("{method} {url}")))?;
                if auth.connection_based() && legs > 0 {
                    // A handshake bound to the dead connection cannot continue elsewhere: start over.
                    auth = AuthSession::new(
                        &self.config.auth,
                        &self.server.host,
                        self.server.is_https,
                    )?;
                    legs = 0;
                }
                riding = self.rides_on_authenticated(&conn);
                if riding {
                    header = None;
                } else if header.is_none() || legs == 0 {
                    header = match header {
                        Some(h) if !auth.connection_based() => Some(h), // Basic/Bearer: same value
                        _ => auth.initial_header()?,
                    };
                }
                continue;
            }
            let response = match result {
                Ok(r) => r,
                Err(e) => return Err(exchange_error(e, method, &url, idempotency)),
            };
            let status = response.head.status;
            if status == 401 {
                legs += 1;
                if riding {
                    // The server does not keep authentication on the connection: handshake on every call.
                    self.auth_persists.store(PERSIST_NO, Ordering::Relaxed);
                    conn.authenticated = false;
                    riding = false;
                }
                let www = response.head.all("www-authenticate");
                header = Some(
                    auth.respond_to_challenge(&www)
                        .map_err(|e| e.with_http_status(401))?,
                );
                if !conn.reusable() {
                    conn = self
                        .client
                        .open()
                        .map_err(|e| e.context(format!("{method} {url}")))?;
                }
                continue;
            }
            if status == 407 {
                return Err(Error::new(
                    Status::ProxyAuthRequired,
                    format!(
                        "{method} {url}: the proxy demands authentication; proxy authentication is supported for \
                         https:// servers (through a CONNECT tunnel); nothing was processed"
                    ),
                )
                .with_http_status(407));
            }
            if riding {
                self.auth_persists.store(PERSIST_YES, Ordering::Relaxed);
            }
            let www = response.head.all("www-authenticate");
            let verified = auth.finish(&www);
            let warning = match verified {
                Ok(v) => {
                    let connection_bound = auth.connection_based() && !self.client.forward_proxy();
                    if connection_bound
                        && (v == Verified::Mutual || !self.config.auth.require_mutual_auth)
                    {
                        conn.authenticated = true;
                    }
                    let unproven = self.config.auth.require_mutual_auth
                        && v == Verified::NotApplicable
                        && !riding
                        && !matches!(
                            self.config.auth.method,
                            AuthMethod::None | AuthMethod::Basic | AuthMethod::Bearer
                        );
                    unproven.then(|| {
                        unverified(
                            method,
                            &url,
                            status,
                            "the server did not authenticate with Negotiate, so it proved nothing about its \
                             identity, and CM_AUTH_FLAG_REQUIRE_MUTUAL_AUTH is set",
                        )
                    })
                }
                Err(e) if (200..300).contains(&status) => {
                    Some(unverified(method, &url, status, &e.message))
                }
                Err(e) => return Err(e.with_http_status(status)),
            };
            let header_value = |name: &str| response.head.header(name).map(str::to_string);
            let answer = HttpAnswer {
                status,
                content_type: header_value("content-type"),
                location: header_value("location"),
                body: response.body,
                warning,
            };
            self.client.checkin(conn);
            return Ok(answer);
        }
    }
}

const USER_AGENT: &str = concat!("cm-smartcard/", env!("CARGO_PKG_VERSION"));

/// The server processed the request (a 2xx) but did not prove its identity: the outcome is known.
fn unverified(method: &str, url: &str, status: u16, why: &str) -> Error {
    Error::new(
        Status::AuthServerUnverified,
        format!(
            "{method} {url}: the server answered HTTP {status} — the request WAS processed — but its identity is \
             not proven: {why}. Do NOT send the request again; treat the result with suspicion and check the \
             server's SPN, certificate and Kerberos setup"
        ),
    )
    .with_http_status(status)
}

/// Whether a failed leg may be repeated on another connection: nothing was sent, or a safe request met a
/// pooled connection the server had already closed.
fn retry_elsewhere(e: &ExchangeError, conn: &Connection, idempotency: Idempotency) -> bool {
    // A timeout is never retried: the server is there, only slow, and a second try would double the wait.
    conn.reused
        && e.status != Status::Timeout
        && (e.sent == Sent::No
            || (e.stale && e.sent == Sent::Maybe && idempotency == Idempotency::Safe))
}

fn unknown_outcome(method: &str, url: &str, what: &str) -> Error {
    Error::new(
        Status::OutcomeUnknown,
        format!(
            "{method} {url}: {what}, after the request may have reached the server. It was NOT retried, because \
             repeating it could apply it twice. Check whether it took effect (for a binding: \
             cm_reconcile_assignment(); for a new request: cm_session_find_created_requests(); for a status \
             change: read the object back) before trying again"
        ),
    )
}

fn exchange_error(e: ExchangeError, method: &str, url: &str, idempotency: Idempotency) -> Error {
    let error = match e.sent {
        Sent::No => Error::new(
            e.status,
            format!("{method} {url}: {}; nothing was sent", e.detail),
        ),
        Sent::Maybe if idempotency == Idempotency::AtMostOnce => {
            unknown_outcome(method, url, &e.detail)
        }
        Sent::Maybe => Error::new(e.status, format!("{method} {url}: {}", e.detail)),
        // A state-changing request the server answered with success, whose answer is unusable: it was
        // processed. (For a GET the failure is just what it is: a timeout, a body over the cap.)
        Sent::Answered
            if (200..300).contains(&e.http_status) && idempotency == Idempotency::AtMostOnce =>
        {
            // Over the cap keeps its own status (the caller may raise the cap), with the same advice.
            let status = if e.status == Status::ResponseTooLarge {
                Status::ResponseTooLarge
            } else {
                Status::MalformedResponse
            };
            Error::new(
                status,
                format!(
                    "{method} {url}: the server answered HTTP {} (success: the request WAS processed) but {}; \
                     read the result back (for a binding: cm_reconcile_assignment() or cm_find_smartcard(); \
                     for a new request: cm_session_find_created_requests()) instead of sending it again",
                    e.http_status, e.detail
                ),
            )
        }
        Sent::Answered => Error::new(e.status, format!("{method} {url}: {}", e.detail)),
    };
    if e.http_status != 0 {
        error.with_http_status(e.http_status)
    } else {
        error
    }
}
