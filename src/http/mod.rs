//! The HTTP/1.1 client under the CM client: connections to one origin, pooled and kept alive, TLS through
//! rustls with the OS trust store, proxies, and the at-most-once bookkeeping that a POST needs.
//!
//! Why our own client instead of a crate: a POST must never be sent twice, so every failure has to say
//! whether the server can have processed the request ([`conn::Sent`]); pooled connections must be checked
//! before a POST rides on them; and IIS binds Negotiate/NTLM authentication to the TCP connection, so the
//! caller needs to know which connection carries a request and whether it is already authenticated. HTTP
//! client crates hide all three (docs/http.md). The codec is small because a CM server's answers are.

pub mod codec;
pub mod conn;
pub mod proxy;
pub mod tls;
pub mod trace;

use crate::auth::{AuthConfig, AuthMethod, AuthSession, Secret};
use crate::error::{Error, Result};
use crate::status::Status;
pub use conn::{Connection, ExchangeError, Origin, Request, Response, Sent};
use proxy::Proxy;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Default number of idle connections a session keeps.
pub(crate) const DEFAULT_MAX_IDLE: usize = 4;
/// Default time an idle connection is kept (IIS closes idle connections after 120 s by default).
pub(crate) const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(30);

/// How to reach one origin.
#[derive(Debug, Clone)]
pub struct ClientSettings {
    /// The server.
    pub origin: Origin,
    /// TCP connect + TLS handshake (+ proxy tunnel) time limit.
    pub connect_timeout: Duration,
    /// TLS settings for https origins.
    pub tls: Option<Arc<rustls::ClientConfig>>,
    /// The proxy to use, if any.
    pub proxy: Option<Proxy>,
    /// Credentials for a proxy that answers 407.
    pub proxy_auth: AuthConfig,
    /// Idle connections kept; 0 = none (one-shot calls).
    pub max_idle: usize,
    /// Idle connections older than this are closed.
    pub idle_timeout: Duration,
}

/// Connections to one origin, safe to share between threads.
pub struct Client {
    settings: ClientSettings,
    idle: Mutex<Vec<Connection>>,
    host_header: String,
    opened: AtomicU64,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("origin", &self.settings.origin)
            .field("proxy", &self.settings.proxy)
            .finish()
    }
}

impl Client {
    /// A client for one origin. Opens nothing yet.
    pub fn new(settings: ClientSettings) -> Client {
        let host_header = settings.origin.authority(false);
        Client {
            settings,
            idle: Mutex::new(Vec::new()),
            host_header,
            opened: AtomicU64::new(0),
        }
    }

    /// The `Host` header value.
    pub fn host_header(&self) -> &str {
        &self.host_header
    }

    /// The settings.
    pub fn settings(&self) -> &ClientSettings {
        &self.settings
    }

    /// The request target for an origin-form path: absolute-form when an http origin goes through a proxy.
    pub fn target(&self, path_and_query: &str) -> String {
        if self.settings.proxy.is_some() && !self.settings.origin.https {
            format!("http://{}{path_and_query}", self.host_header)
        } else {
            path_and_query.to_string()
        }
    }

    /// Whether requests travel through a forward (non-tunnel) proxy, where connection-bound authentication to
    /// the origin cannot be relied on.
    pub fn forward_proxy(&self) -> bool {
        self.settings.proxy.is_some() && !self.settings.origin.https
    }

    /// Connections opened so far (for tests and benchmarks).
    pub fn connections_opened(&self) -> u64 {
        self.opened.load(Ordering::Relaxed)
    }

    /// An idle pooled connection that is still alive (most recently used first), marked `reused`.
    pub fn checkout(&self) -> Option<Connection> {
        loop {
            let mut conn = {
                let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
                self.expire(&mut idle);
                idle.pop()?
            };
            // Checked outside the lock; a dead one is dropped (closed) and the next one tried.
            if conn.is_alive() {
                conn.reused = true;
                return Some(conn);
            }
        }
    }

    fn expire(&self, idle: &mut Vec<Connection>) {
        let now = Instant::now();
        idle.retain(|c| {
            let limit = c
                .server_idle_limit
                .map(|s| s.saturating_sub(Duration::from_secs(1)))
                .map_or(self.settings.idle_timeout, |s| {
                    s.min(self.settings.idle_timeout)
                });
            now.duration_since(c.idle_since) < limit
        });
    }

    /// Returns a connection to the pool if it can carry another exchange (else closes it).
    pub fn checkin(&self, mut conn: Connection) {
        if self.settings.max_idle == 0 || !conn.reusable() {
            return;
        }
        conn.idle_since = Instant::now();
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        self.expire(&mut idle);
        idle.push(conn);
        while idle.len() > self.settings.max_idle {
            idle.remove(0); // the oldest
        }
    }

    /// Closes every idle connection.
    pub fn close_idle(&self) {
        self.idle.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }

    /// Opens a new connection (TCP, proxy tunnel, TLS). Every failure here means nothing was sent.
    pub fn open(&self) -> Result<Connection> {
        let deadline = Instant::now() + self.settings.connect_timeout;
        let origin = &self.settings.origin;
        let conn = match &self.settings.proxy {
            None => {
                let sock = conn::connect_tcp(&origin.host, origin.port, deadline, "the server")?;
                Connection::establish(sock, origin, self.settings.tls.as_ref(), deadline)?
            }
            Some(proxy) if origin.https => self.tunnel(proxy, deadline)?,
            Some(proxy) => {
                let sock = conn::connect_tcp(&proxy.host, proxy.port, deadline, "the proxy")
                    .map_err(proxy_unreachable)?;
                let proxy_origin = Origin {
                    https: false,
                    host: proxy.host.clone(),
                    port: proxy.port,
                };
                Connection::establish(sock, &proxy_origin, None, deadline)?
            }
        };
        self.opened.fetch_add(1, Ordering::Relaxed);
        if trace::enabled() {
            let via = match &self.settings.proxy {
                Some(p) => format!(" through the proxy {}:{}", p.host, p.port),
                None => String::new(),
            };
            let tls = conn
                .tls_version()
                .map(|v| format!(", {v}"))
                .unwrap_or_default();
            trace::emit(&format!(
                "* [connection {}] connected to {}{via}{tls}",
                conn.id,
                origin.authority(true)
            ));
        }
        Ok(conn)
    }

    /// `CONNECT` through the proxy, answering its 407 challenges, then TLS to the origin inside the tunnel.
    fn tunnel(&self, proxy: &Proxy, deadline: Instant) -> Result<Connection> {
        let origin = &self.settings.origin;
        let target = origin.authority(true);
        let proxy_origin = Origin {
            https: false,
            host: proxy.host.clone(),
            port: proxy.port,
        };
        let mut auth = ProxyAuth::new(&self.settings.proxy_auth, &proxy.host)?;
        let mut header: Option<Secret> = None;
        let mut conn: Option<Connection> = None;
        for _leg in 0..=crate::auth::MAX_LEGS {
            let mut c = match conn.take() {
                Some(c) => c,
                None => {
                    let sock = conn::connect_tcp(&proxy.host, proxy.port, deadline, "the proxy")
                        .map_err(proxy_unreachable)?;
                    Connection::establish(sock, &proxy_origin, None, deadline)?
                }
            };
            // The same request-head writer as every request; sized first, so the buffer that may hold the
            // proxy credentials never reallocates (and is wiped when dropped).
            let auth_header: Vec<(&str, &[u8])> = header
                .iter()
                .map(|h| ("Proxy-Authorization", h.expose().as_bytes()))
                .collect();
            let mut request = zeroize::Zeroizing::new(Vec::with_capacity(codec::request_head_len(
                "CONNECT",
                &target,
                &target,
                &auth_header,
                None,
            )));
            codec::write_request_head(
                &mut request,
                "CONNECT",
                &target,
                &target,
                &auth_header,
                None,
            );
            if trace::enabled() {
                trace::emit(&format!(
                    "> [proxy {}:{}] CONNECT {target} HTTP/1.1",
                    proxy.host, proxy.port
                ));
                if let Some(h) = &header {
                    trace::emit(&format!(
                        "> {}",
                        trace::redact_header("Proxy-Authorization", h.expose().as_bytes())
                    ));
                }
            }
            c.write_raw(&request, deadline).map_err(|e| {
                Error::new(
                    Status::ProxyFailed,
                    format!(
                        "the proxy {}:{} broke the connection ({e}); nothing was sent",
                        proxy.host, proxy.port
                    ),
                )
            })?;
            let answer = c.read_answer("CONNECT", deadline, 64 * 1024).map_err(|e| {
                Error::new(
                    Status::ProxyFailed,
                    format!(
                        "the proxy {}:{} did not answer the tunnel request ({e}); nothing was sent",
                        proxy.host, proxy.port
                    ),
                )
            })?;
            if trace::enabled() {
                trace::emit(&format!(
                    "< [proxy {}:{}] HTTP {}",
                    proxy.host, proxy.port, answer.head.status
                ));
                for (name, value) in &answer.head.headers {
                    trace::emit(&format!(
                        "< {}",
                        trace::redact_header(name, value.as_bytes())
                    ));
                }
            }
            match answer.head.status {
                200..=299 => return c.into_tunnel(origin, self.settings.tls.as_ref(), deadline),
                407 => {
                    let challenges = answer.head.all("proxy-authenticate");
                    header = Some(auth.respond(&challenges)?);
                    if c.reusable() {
                        conn = Some(c); // NTLM's legs must share the connection
                    }
                }
                status => {
                    return Err(Error::new(
                        Status::ProxyFailed,
                        format!(
                            "the proxy {}:{} refused the tunnel to {target} with HTTP {status}{}; nothing was sent",
                            proxy.host,
                            proxy.port,
                            reason_hint(status)
                        ),
                    )
                    .with_http_status(status));
                }
            }
        }
        Err(Error::new(
            Status::ProxyAuthRequired,
            format!(
                "the proxy {}:{} still demanded authentication after {} legs; its credentials were refused; \
                 nothing was sent",
                proxy.host,
                proxy.port,
                crate::auth::MAX_LEGS
            ),
        )
        .with_http_status(407))
    }
}

fn reason_hint(status: u16) -> &'static str {
    match status {
        403 => " (the proxy's rules forbid this destination or port)",
        502 | 504 => " (the proxy could not reach the server)",
        _ => "",
    }
}

fn proxy_unreachable(e: Error) -> Error {
    let status = if e.status == Status::DnsFailed {
        Status::DnsFailed
    } else {
        Status::ProxyFailed
    };
    Error::new(status, e.message)
}

/// Authentication to a proxy (407): Negotiate/NTLM as the current user or with the proxy credentials; Basic
/// only with the caller's opt-in for credentials over plain http.
struct ProxyAuth {
    session: AuthSession,
    config: AuthConfig,
}

impl ProxyAuth {
    fn new(config: &AuthConfig, proxy_host: &str) -> Result<ProxyAuth> {
        // Negotiate/NTLM tokens to the proxy are what every Windows client sends over a plain-http proxy.
        let negotiate = AuthConfig {
            method: if config.username.is_some() {
                AuthMethod::NegotiateExplicit
            } else {
                AuthMethod::NegotiateCurrentUser
            },
            allow_insecure_http: true,
            spn: None,
            ..config.clone()
        };
        Ok(ProxyAuth {
            session: AuthSession::new(&negotiate, proxy_host, false)?,
            config: config.clone(),
        })
    }

    fn respond(&mut self, challenges: &[String]) -> Result<Secret> {
        let parsed = crate::auth::parse_challenges(challenges);
        let offers = |s: &str| parsed.iter().any(|c| c.is(s));
        if !offers("Negotiate") && !offers("NTLM") && offers("Basic") {
            let Some(user) = self.config.username.as_deref() else {
                return Err(Error::new(
                    Status::ProxyAuthRequired,
                    "the proxy demands Basic authentication; set proxy_username and proxy_password; nothing was \
                     sent",
                )
                .with_http_status(407));
            };
            if !self.config.allow_insecure_http {
                return Err(Error::new(
                    Status::ProxyAuthRequired,
                    "the proxy demands Basic authentication, which would send the proxy password in clear text \
                     over http; allow it with CM_AUTH_FLAG_ALLOW_INSECURE_HTTP or use a proxy that offers \
                     Negotiate/NTLM; nothing was sent",
                )
                .with_http_status(407));
            }
            let pass = self.config.password.as_ref().map_or("", |p| p.expose());
            return Ok(crate::auth::basic_header(user, pass));
        }
        self.session.respond_to_challenge(challenges).map_err(|e| {
            let status = match e.status {
                Status::AuthRequired | Status::AuthRejected => Status::ProxyAuthRequired,
                other => other,
            };
            Error::new(
                status,
                format!("proxy authentication: {}; nothing was sent", e.message),
            )
            .with_http_status(407)
        })
    }
}
