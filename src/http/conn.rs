//! One HTTP/1.1 connection (TCP, optionally TLS, optionally through a proxy tunnel) and one exchange on it.
//!
//! The rule that keeps POSTs at most once: an exchange reports [`Sent::No`] whenever the server cannot have
//! processed the request — the connection could not be opened, was found closed before use, the request was
//! not completely written, or (on a reused connection) the server closed it before the body left under
//! `Expect: 100-continue`. Only then may a caller send it again.

use super::codec::{self, BodyFraming, ProtocolError, ResponseHead};
use crate::error::{Error, Result};
use crate::status::Status;
use rustls::ClientConnection;
use rustls::pki_types::ServerName;
use std::io::{self, Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Informational (1xx) answers accepted before the final one.
const MAX_INFORMATIONAL: u32 = 16;

/// How long a POST on a reused connection waits for `100 Continue` before sending its body anyway (a server
/// that ignores `Expect` is alive but silent; a closed connection answers at once with EOF or RST).
pub const CONTINUE_WAIT: Duration = Duration::from_secs(1);

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// Where requests go: scheme, host (without IPv6 brackets) and port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// `https://`.
    pub https: bool,
    /// Host name or IP literal.
    pub host: String,
    /// TCP port.
    pub port: u16,
}

impl Origin {
    /// `host[:port]` as the `Host` header and CONNECT target write it (port omitted when default).
    pub fn authority(&self, always_port: bool) -> String {
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        let default = if self.https { 443 } else { 80 };
        if always_port || self.port != default {
            format!("{host}:{}", self.port)
        } else {
            host
        }
    }
}

/// Whether a failed exchange may have been processed by the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sent {
    /// No: nothing the server could process left this machine. Safe to send again.
    No,
    /// Maybe: the complete request may have reached the server and no (complete) answer came back.
    Maybe,
    /// The server answered (the status line arrived), but the answer is unusable.
    Answered,
}

/// A failed exchange.
#[derive(Debug)]
pub struct ExchangeError {
    /// Whether the request may have been processed.
    pub sent: Sent,
    /// The status to report (a transport status; the CM layer may turn `Maybe` into "outcome unknown").
    pub status: Status,
    /// What happened, without method and URL.
    pub detail: String,
    /// The HTTP status when the status line arrived, else 0.
    pub http_status: u16,
    /// The connection was reused from the pool and not one byte of an answer arrived: the classic sign of a
    /// keep-alive connection the server had closed. A safe request may be repeated on a fresh connection.
    pub stale: bool,
    /// The server did not answer `Expect: 100-continue` in time; the body was withheld, so nothing was
    /// sent. The request may go again on a new connection, without `Expect`.
    pub expect_ignored: bool,
}

/// One request to send on a connection.
pub struct Request<'a> {
    /// `GET`, `POST`, `PUT`, …
    pub method: &'a str,
    /// Request target: origin-form (`/path?query`) or absolute-form through a forward proxy.
    pub target: &'a str,
    /// `Host` header value.
    pub host: &'a str,
    /// Other header fields; values may be secrets (they are copied only into a buffer that is wiped).
    pub headers: &'a [(&'a str, &'a [u8])],
    /// The body, if any (sent with `Content-Length`).
    pub body: Option<&'a [u8]>,
    /// Largest body accepted in the answer.
    pub max_body: u64,
    /// The request or its answer carries a secret (an admin key, a PIN, a PFX or its password): the trace
    /// shows the bodies' sizes, never their text.
    pub secret_bodies: bool,
}

/// A complete answer.
#[derive(Debug, Clone)]
pub struct Response {
    /// Status line and headers.
    pub head: ResponseHead,
    /// The body (decoded from chunked coding).
    pub body: Vec<u8>,
}

enum Stream {
    Plain(TcpStream),
    Tls {
        tls: Box<ClientConnection>,
        sock: TcpStream,
    },
}

/// Socket timeouts are armed to the time left before the read deadline and left alone while they still
/// end within this much after it (a setsockopt per read would cost more than the rest of an exchange on a
/// kept-alive connection). A read that times out ends the connection's use: on Windows a socket whose
/// receive timed out is in an indeterminate state, so no read ever follows a timeout.
const TIMEOUT_SLACK: Duration = Duration::from_millis(1000);

impl Stream {
    fn sock(&self) -> &TcpStream {
        match self {
            Stream::Plain(s) => s,
            Stream::Tls { sock, .. } => sock,
        }
    }

    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(s) => s.read(out),
            Stream::Tls { tls, sock } => loop {
                match tls.reader().read(out) {
                    Ok(n) => return Ok(n),
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                    Err(e) => return Err(e),
                }
                while tls.wants_write() {
                    tls.write_tls(sock)?;
                }
                let n = tls.read_tls(sock)?;
                tls.process_new_packets()
                    .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
                if n == 0 {
                    // EOF: the reader now returns Ok(0) after close_notify, or UnexpectedEof.
                    return match tls.reader().read(out) {
                        Ok(n) => Ok(n),
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(0),
                        Err(e) => Err(e),
                    };
                }
            },
        }
    }

    fn write_all(&mut self, data: &[u8]) -> io::Result<()> {
        match self {
            Stream::Plain(s) => s.write_all(data),
            Stream::Tls { tls, sock } => {
                // Plaintext is encrypted into rustls's record buffer at once; only ciphertext waits there.
                tls.writer().write_all(data)?;
                while tls.wants_write() {
                    if tls.write_tls(sock)? == 0 {
                        return Err(io::ErrorKind::WriteZero.into());
                    }
                }
                Ok(())
            }
        }
    }
}

/// A receive buffer that wipes its `len()` bytes when dropped (bytes past `len()` are always zero).
struct RecvBuf(Vec<u8>);

impl std::ops::Deref for RecvBuf {
    type Target = Vec<u8>;
    fn deref(&self) -> &Vec<u8> {
        &self.0
    }
}

impl std::ops::DerefMut for RecvBuf {
    fn deref_mut(&mut self) -> &mut Vec<u8> {
        &mut self.0
    }
}

impl Drop for RecvBuf {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(self.0.as_mut_slice());
    }
}

/// Makes room for `extra` more bytes without leaving the old contents in freed memory (a plain `reserve` may
/// move them and free the old block unwiped).
fn grow_wiping(buf: &mut Vec<u8>, extra: usize) {
    if buf.capacity() - buf.len() >= extra {
        return;
    }
    let mut bigger = Vec::with_capacity((buf.len() + extra).max(2 * buf.capacity()));
    bigger.extend_from_slice(buf);
    // Only the first len() bytes can hold data (the rest is never written, or already wiped).
    zeroize::Zeroize::zeroize(buf.as_mut_slice());
    *buf = bigger;
}

/// `extend_from_slice` that never leaves a copy behind when it grows `buf`.
fn extend_wiping(buf: &mut Vec<u8>, data: &[u8]) {
    grow_wiping(buf, data.len());
    buf.extend_from_slice(data);
}

/// An open connection.
pub struct Connection {
    stream: Stream,
    /// Received bytes not yet consumed. Answers can carry secrets (an admin key, a PIN, a PFX), so what an
    /// exchange consumed is wiped when it ends, growth never leaves an old copy, and what is left is wiped when
    /// the connection is dropped. Bytes past `len()` are always zero, so only `len()` bytes are ever wiped
    /// (not the whole capacity: a one-shot call would pay for 16 KiB of volatile writes).
    buf: RecvBuf,
    start: usize,
    /// Taken from the pool (it carried an earlier exchange).
    pub reused: bool,
    /// The connection carries an established Negotiate/NTLM authentication (IIS binds it to the connection).
    pub authenticated: bool,
    /// When it was last returned to the pool.
    pub idle_since: Instant,
    /// The server's `Keep-Alive: timeout=N`, if it sent one.
    pub server_idle_limit: Option<Duration>,
    /// A number for diagnostics and tests.
    pub id: u64,
    /// Reads give up after this instant (the exchange's deadline, or the wait for `100 Continue`).
    read_until: Instant,
    /// The read timeout in force (see [`TIMEOUT_SLACK`]).
    read_timeout: Option<Duration>,
    /// The write timeout in force.
    write_timeout: Option<Duration>,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("id", &self.id)
            .field("reused", &self.reused)
            .field("authenticated", &self.authenticated)
            .finish()
    }
}

/// Resolves `host:port`. IP literals never touch the resolver; names are resolved on a helper thread so the
/// connect timeout bounds a hanging DNS server too.
pub fn resolve(host: &str, port: u16, timeout: Duration) -> Result<Vec<SocketAddr>> {
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(vec![SocketAddr::new(ip, port)]);
    }
    if host.eq_ignore_ascii_case("localhost") {
        return Ok(vec![
            SocketAddr::new(IpAddr::from([127, 0, 0, 1]), port),
            SocketAddr::new(IpAddr::from([0u16, 0, 0, 0, 0, 0, 0, 1]), port),
        ]);
    }
    let (tx, rx) = std::sync::mpsc::channel();
    let name = host.to_string();
    std::thread::Builder::new()
        .name("cm-resolve".into())
        .spawn(move || {
            let _ = tx.send((name.as_str(), port).to_socket_addrs().map(Vec::from_iter));
        })
        .map_err(|e| {
            Error::new(
                Status::Internal,
                format!("cannot start the resolver thread: {e}"),
            )
        })?;
    match rx.recv_timeout(timeout) {
        Ok(Ok(addrs)) if !addrs.is_empty() => Ok(addrs),
        Ok(Ok(_)) => Err(Error::new(
            Status::DnsFailed,
            format!("the name '{host}' has no address; check the URL and DNS; nothing was sent"),
        )),
        Ok(Err(e)) => Err(Error::new(
            Status::DnsFailed,
            format!(
                "the name '{host}' could not be resolved ({e}); check the URL and DNS; nothing was sent"
            ),
        )),
        Err(_) => Err(Error::new(
            Status::DnsFailed,
            format!("resolving '{host}' timed out; check DNS; nothing was sent"),
        )),
    }
}

/// Trace lines for a request that was written (headers redacted by [`super::trace::redact_header`]).
fn trace_request(conn_id: u64, req: &Request<'_>, headers: &[(&str, &[u8])]) {
    use super::trace::{emit, redact_header};
    emit(&format!(
        "> [connection {conn_id}] {} {} HTTP/1.1",
        req.method, req.target
    ));
    emit(&format!("> Host: {}", req.host));
    for (name, value) in headers {
        emit(&format!("> {}", redact_header(name, value)));
    }
    if let Some(body) = req.body {
        emit(&format!(
            "> ({} body bytes) {}",
            body.len(),
            body_preview(body, req.secret_bodies)
        ));
    }
}

/// Trace lines for an answer (headers redacted, body shortened).
fn trace_response(conn_id: u64, head: &ResponseHead, body: &[u8], secret: bool) {
    use super::trace::{emit, redact_header};
    emit(&format!("< [connection {conn_id}] HTTP {}", head.status));
    for (name, value) in &head.headers {
        emit(&format!("< {}", redact_header(name, value.as_bytes())));
    }
    if !body.is_empty() {
        emit(&format!(
            "< ({} body bytes) {}",
            body.len(),
            body_preview(body, secret)
        ));
    }
}

fn body_preview(body: &[u8], secret: bool) -> String {
    const MAX: usize = 300;
    if secret {
        return "[not shown: it holds a secret]".into();
    }
    let text = String::from_utf8_lossy(&body[..body.len().min(MAX)]);
    let mut shown = codec::printable(&text);
    if body.len() > MAX {
        shown.push('…');
    }
    shown
}

/// Opens a TCP connection to the first address that answers within the deadline.
pub fn connect_tcp(host: &str, port: u16, deadline: Instant, what: &str) -> Result<TcpStream> {
    let left = || deadline.saturating_duration_since(Instant::now());
    let addrs = resolve(host, port, left())?;
    let mut last: Option<io::Error> = None;
    for addr in addrs {
        let timeout = left();
        if timeout.is_zero() {
            break;
        }
        match TcpStream::connect_timeout(&addr, timeout) {
            Ok(s) => {
                let _ = s.set_nodelay(true);
                return Ok(s);
            }
            Err(e) => last = Some(e),
        }
    }
    Err(match last {
        Some(e)
            if matches!(
                e.kind(),
                io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock
            ) =>
        {
            Error::new(
                Status::ConnectFailed,
                format!("connecting to {what} {host}:{port} timed out; nothing was sent"),
            )
        }
        Some(e) => Error::new(
            Status::ConnectFailed,
            format!("could not connect to {what} {host}:{port} ({e}); nothing was sent"),
        ),
        None => Error::new(
            Status::ConnectFailed,
            format!("connecting to {what} {host}:{port} timed out; nothing was sent"),
        ),
    })
}

impl Connection {
    /// Wraps an open TCP stream; runs the TLS handshake for https (to completion, so that every handshake
    /// failure is reported before a byte of the request exists).
    pub fn establish(
        sock: TcpStream,
        origin: &Origin,
        tls: Option<&Arc<rustls::ClientConfig>>,
        deadline: Instant,
    ) -> Result<Connection> {
        sock.set_read_timeout(None).map_err(|e| {
            Error::new(
                Status::TransportError,
                format!("cannot set a socket timeout: {e}"),
            )
        })?;
        let stream = match tls {
            None => Stream::Plain(sock),
            Some(config) => {
                let name = ServerName::try_from(origin.host.clone()).map_err(|_| {
                    Error::new(
                        Status::InvalidUrl,
                        format!("'{}' is not a valid TLS server name", origin.host),
                    )
                })?;
                let mut conn = ClientConnection::new(Arc::clone(config), name)
                    .map_err(|e| Error::new(Status::TlsFailed, format!("cannot start TLS: {e}")))?;
                let mut sock = sock;
                handshake(&mut conn, &mut sock, deadline)?;
                Stream::Tls {
                    tls: Box::new(conn),
                    sock,
                }
            }
        };
        Ok(Connection {
            stream,
            buf: RecvBuf(Vec::with_capacity(16 * 1024)),
            start: 0,
            reused: false,
            authenticated: false,
            idle_since: Instant::now(),
            server_idle_limit: None,
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            read_until: Instant::now(),
            read_timeout: None,
            write_timeout: None,
        })
    }

    /// The TLS protocol version in use (for diagnostics).
    pub fn tls_version(&self) -> Option<String> {
        match &self.stream {
            Stream::Tls { tls, .. } => tls.protocol_version().map(|v| format!("{v:?}")),
            Stream::Plain(_) => None,
        }
    }

    /// Whether a pooled connection is still open: no EOF, no reset, no unsolicited bytes (such as the 408 or
    /// close_notify a server sends before dropping an idle connection). Never blocks.
    pub fn is_alive(&mut self) -> bool {
        if self.start < self.buf.len() {
            return false; // bytes the server sent after the last answer: the connection is out of step
        }
        match peek_nonblocking(self.stream.sock()) {
            Peek::Nothing => true,
            Peek::Closed => false,
            Peek::Data => match &mut self.stream {
                Stream::Plain(_) => false, // unsolicited bytes (an IIS 408, say): out of step
                Stream::Tls { tls, sock } => {
                    // TLS 1.3 servers may send session tickets after the answer: consume them and look again.
                    let _ = sock.set_nonblocking(true);
                    let ok = tls.read_tls(sock).is_ok_and(|n| n > 0)
                        && tls.process_new_packets().is_ok_and(|state| {
                            !state.peer_has_closed() && state.plaintext_bytes_to_read() == 0
                        });
                    let again = matches!(sock.peek(&mut [0u8; 1]), Err(e) if e.kind() == io::ErrorKind::WouldBlock);
                    sock.set_nonblocking(false).is_ok() && ok && again
                }
            },
        }
    }

    /// Sends `req` and reads the answer. `expect_continue` withholds the body until the server answers
    /// `100 Continue` (at most [`CONTINUE_WAIT`]), so that a connection the server already closed can never
    /// have received a complete POST.
    pub fn exchange(
        &mut self,
        req: &Request<'_>,
        expect_continue: bool,
        deadline: Instant,
    ) -> std::result::Result<Response, ExchangeError> {
        let reused = self.reused;
        // Stale: a reused connection that the server had closed (EOF or reset, not one byte of an answer). A
        // timeout is not that: the server is there, just slow, and a retry would only double the wait.
        let fail = |sent: Sent, status: Status, detail: String, received_any: bool| ExchangeError {
            sent,
            status,
            detail,
            http_status: 0,
            stale: reused && !received_any && status != Status::Timeout,
            expect_ignored: false,
        };
        if let Err(e) = self.begin(deadline) {
            return Err(fail(
                Sent::No,
                Status::TransportError,
                format!("the connection is unusable ({e})"),
                false,
            ));
        }
        let body = req.body.unwrap_or(&[]);
        let expect: &[(&str, &[u8])] = &[("Expect", b"100-continue")];
        let mut headers: Vec<(&str, &[u8])> = Vec::with_capacity(req.headers.len() + 1);
        headers.extend_from_slice(req.headers);
        if expect_continue && !body.is_empty() {
            headers.extend_from_slice(expect);
        }
        let withhold_body = expect_continue && !body.is_empty();
        let head_len = codec::request_head_len(
            req.method,
            req.target,
            req.host,
            &headers,
            req.body.map(<[u8]>::len),
        );
        // The head (it may hold an Authorization value) and the body go out in one buffer that is wiped after.
        let mut out = zeroize::Zeroizing::new(Vec::with_capacity(
            head_len + if withhold_body { 0 } else { body.len() },
        ));
        codec::write_request_head(
            &mut out,
            req.method,
            req.target,
            req.host,
            &headers,
            req.body.map(<[u8]>::len),
        );
        if !withhold_body {
            out.extend_from_slice(body);
        }
        if let Err(e) = self.stream.write_all(&out) {
            // An incomplete request is never processed.
            return Err(fail(
                Sent::No,
                io_status(&e),
                format!("the connection broke while sending ({e})"),
                false,
            ));
        }
        drop(out);
        if super::trace::enabled() {
            trace_request(self.id, req, &headers);
        }

        let mut body_sent = !withhold_body;
        let mut informational = 0u32;
        loop {
            let wait = if body_sent {
                deadline
            } else {
                deadline.min(Instant::now() + CONTINUE_WAIT)
            };
            self.read_until = wait;
            let head = match self.read_head() {
                Ok(h) => h,
                Err(ReadError::Io(e))
                    if !body_sent && is_timeout(&e) && Instant::now() >= deadline =>
                {
                    // The whole exchange timed out while the body was still withheld: nothing to process.
                    return Err(fail(
                        Sent::No,
                        Status::Timeout,
                        format!("no answer before the timeout ({e}); the body was not sent"),
                        self.buf.len() > self.start,
                    ));
                }
                Err(ReadError::Io(e)) if !body_sent && is_timeout(&e) => {
                    // No 100 within the wait: the server ignores Expect. The body never left, and after a
                    // timed-out read this socket is not read again: the caller resends on a new connection.
                    self.poison();
                    let mut err = fail(
                        Sent::No,
                        Status::TransportError,
                        format!(
                            "the server did not answer Expect: 100-continue within {CONTINUE_WAIT:?}"
                        ),
                        false,
                    );
                    err.expect_ignored = true;
                    return Err(err);
                }
                Err(e) => {
                    let received_any = self.buf.len() > self.start;
                    let sent = if body_sent { Sent::Maybe } else { Sent::No };
                    return Err(match e {
                        ReadError::Io(e) => fail(
                            sent,
                            if is_timeout(&e) {
                                Status::Timeout
                            } else {
                                Status::TransportError
                            },
                            if received_any {
                                format!("the connection broke during the answer ({e})")
                            } else if is_timeout(&e) {
                                "no answer before the timeout".to_string()
                            } else if e.kind() == io::ErrorKind::UnexpectedEof {
                                "the server closed the connection without answering".to_string()
                            } else {
                                format!("the connection broke before an answer arrived ({e})")
                            },
                            received_any,
                        ),
                        ReadError::Protocol(p) => fail(
                            if body_sent { Sent::Maybe } else { Sent::No },
                            Status::TransportError,
                            format!("malformed HTTP answer: {p}"),
                            true,
                        ),
                    });
                }
            };
            if head.status == 100 && !body_sent {
                self.read_until = deadline;
                if let Err(e) = self.stream.write_all(body) {
                    return Err(fail(
                        Sent::No,
                        io_status(&e),
                        format!("the connection broke while sending the body ({e})"),
                        true,
                    ));
                }
                body_sent = true;
                continue;
            }
            if (100..200).contains(&head.status) {
                // 100 after the body, 102, 103: informational. Bounded, and the deadline still holds.
                informational += 1;
                if informational > MAX_INFORMATIONAL || Instant::now() >= deadline {
                    return Err(fail(
                        if body_sent { Sent::Maybe } else { Sent::No },
                        Status::Timeout,
                        format!(
                            "no final answer before the timeout ({informational} informational answers)"
                        ),
                        true,
                    ));
                }
                continue;
            }
            self.read_until = deadline;
            let status = head.status;
            let answered = |status_code: Status, detail: String| ExchangeError {
                sent: Sent::Answered,
                status: status_code,
                detail,
                http_status: status,
                stale: false,
                expect_ignored: false,
            };
            let framing = codec::body_framing(req.method, &head).map_err(|p| {
                answered(
                    Status::TransportError,
                    format!("malformed HTTP answer: {p}"),
                )
            })?;
            let keep = head.keeps_alive() && framing != BodyFraming::UntilClose;
            let body_in = self.read_body(framing, req.max_body).map_err(|e| match e {
                BodyError::TooLarge => answered(
                    Status::ResponseTooLarge,
                    format!(
                        "the answer (HTTP {status}) is larger than the {}-byte cap",
                        req.max_body
                    ),
                ),
                BodyError::Read(e) => answered(
                    if is_timeout(&e) {
                        Status::Timeout
                    } else {
                        Status::TransportError
                    },
                    format!("the answer's body (HTTP {status}) was cut off ({e})"),
                ),
            })?;
            if super::trace::enabled() {
                trace_response(self.id, &head, &body_in, req.secret_bodies);
            }
            if !body_sent {
                // A final answer before the body (a 401 or 417 to `Expect`): the request was not processed. Send
                // the body the head announced so the connection stays in step (the server discards it).
                if keep && self.stream.write_all(body).is_ok() {
                    body_sent = true;
                }
            }
            self.server_idle_limit = keep_alive_timeout(&head);
            if !keep || !body_sent {
                self.poison();
            }
            self.wipe_consumed();
            return Ok(Response {
                head,
                body: body_in,
            });
        }
    }

    /// Starts an exchange that must end by `deadline`: reads give up then; the write timeout follows it
    /// (changed only when it moves by more than a read slice).
    fn begin(&mut self, deadline: Instant) -> io::Result<()> {
        self.read_until = deadline;
        let sock = self.stream.sock();
        arm(&mut self.write_timeout, deadline, |t| {
            sock.set_write_timeout(Some(t))
        })
    }

    /// Arms the socket's read timeout for a read that must end by `read_until`.
    fn arm_read(&mut self) -> io::Result<()> {
        let sock = self.stream.sock();
        arm(&mut self.read_timeout, self.read_until, |t| {
            sock.set_read_timeout(Some(t))
        })
    }

    /// Wipes the bytes already consumed and moves what is left (bytes of a next answer) to the front.
    fn wipe_consumed(&mut self) {
        use zeroize::Zeroize;
        let rest = self.buf.len() - self.start;
        self.buf.copy_within(self.start.., 0);
        self.buf[rest..].zeroize();
        self.buf.truncate(rest);
        self.start = 0;
    }

    /// Marks the connection unusable for another exchange (the pool drops it).
    pub fn poison(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.buf[..]);
        self.buf.clear();
        self.start = 0;
        self.buf.push(0); // unconsumed byte: `is_alive` and `reusable` say no
    }

    /// Whether the connection can carry another exchange.
    pub fn reusable(&self) -> bool {
        self.start >= self.buf.len()
    }

    fn fill(&mut self) -> io::Result<usize> {
        if self.start > 0 && self.start == self.buf.len() {
            self.wipe_consumed();
        }
        let len = self.buf.len();
        if self.buf.capacity() - len < 4096 {
            grow_wiping(&mut self.buf, 16 * 1024);
        }
        let cap = self.buf.capacity();
        self.buf.resize(cap, 0); // only the newly reserved tail is zeroed, once
        loop {
            // Checked before every read, not only when one times out: a server that trickles bytes must
            // not stretch the exchange past its deadline.
            if Instant::now() >= self.read_until {
                self.buf.truncate(len);
                return Err(io::ErrorKind::TimedOut.into());
            }
            if let Err(e) = self.arm_read() {
                self.buf.truncate(len);
                return Err(e);
            }
            match self.stream.read(&mut self.buf[len..]) {
                Ok(n) => {
                    self.buf.truncate(len + n);
                    return Ok(n);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    self.buf.truncate(len);
                    return Err(e);
                }
            }
        }
    }

    fn read_head(&mut self) -> std::result::Result<ResponseHead, ReadError> {
        loop {
            if let Some((head, used)) =
                codec::parse_response_head(&self.buf[self.start..]).map_err(ReadError::Protocol)?
            {
                self.start += used;
                return Ok(head);
            }
            if self.fill().map_err(ReadError::Io)? == 0 {
                return Err(ReadError::Io(io::ErrorKind::UnexpectedEof.into()));
            }
        }
    }

    fn read_body(
        &mut self,
        framing: BodyFraming,
        cap: u64,
    ) -> std::result::Result<Vec<u8>, BodyError> {
        let mut body = Vec::new();
        match framing {
            BodyFraming::None => {}
            BodyFraming::Length(n) => {
                if n > cap {
                    self.poison();
                    return Err(BodyError::TooLarge);
                }
                self.take_exact(n as usize, &mut body)?;
            }
            BodyFraming::Chunked => loop {
                let line = self.take_line()?;
                let size = codec::parse_chunk_size(&line).map_err(|p| {
                    BodyError::Read(io::Error::new(io::ErrorKind::InvalidData, p.0))
                })?;
                if size == 0 {
                    // Trailer fields, up to the blank line.
                    while !self.take_line()?.is_empty() {}
                    break;
                }
                if body.len() as u64 + size > cap {
                    self.poison();
                    return Err(BodyError::TooLarge);
                }
                self.take_exact(size as usize, &mut body)?;
                if !self.take_line()?.is_empty() {
                    return Err(BodyError::Read(io::Error::new(
                        io::ErrorKind::InvalidData,
                        "chunk not followed by CRLF",
                    )));
                }
            },
            BodyFraming::UntilClose => loop {
                extend_wiping(&mut body, &self.buf[self.start..]);
                self.start = self.buf.len();
                if body.len() as u64 > cap {
                    self.poison();
                    return Err(BodyError::TooLarge);
                }
                match self.fill() {
                    Ok(0) => break,
                    Ok(_) => {}
                    Err(e) => return Err(BodyError::Read(e)),
                }
            },
        }
        Ok(body)
    }

    fn take_exact(&mut self, n: usize, into: &mut Vec<u8>) -> std::result::Result<(), BodyError> {
        // Grown as bytes arrive: an announced length is not a promise (and must not abort the host on a
        // failed allocation).
        grow_wiping(into, n.min(64 * 1024));
        let mut left = n;
        loop {
            let have = (self.buf.len() - self.start).min(left);
            extend_wiping(into, &self.buf[self.start..self.start + have]);
            self.start += have;
            left -= have;
            if left == 0 {
                return Ok(());
            }
            match self.fill() {
                Ok(0) => {
                    return Err(BodyError::Read(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        format!("{} of {n} bytes arrived", n - left),
                    )));
                }
                Ok(_) => {}
                Err(e) => return Err(BodyError::Read(e)),
            }
        }
    }

    fn take_line(&mut self) -> std::result::Result<Vec<u8>, BodyError> {
        loop {
            if let Some(i) = self.buf[self.start..].iter().position(|&b| b == b'\n') {
                let mut line = self.buf[self.start..self.start + i].to_vec();
                self.start += i + 1;
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                return Ok(line);
            }
            if self.buf.len() - self.start > 4096 {
                return Err(BodyError::Read(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "chunk line too long",
                )));
            }
            match self.fill() {
                Ok(0) => return Err(BodyError::Read(io::ErrorKind::UnexpectedEof.into())),
                Ok(_) => {}
                Err(e) => return Err(BodyError::Read(e)),
            }
        }
    }

    /// Reads one answer head and its body on this connection (used for CONNECT, whose request we write
    /// ourselves).
    pub(crate) fn read_answer(
        &mut self,
        method: &str,
        deadline: Instant,
        cap: u64,
    ) -> std::result::Result<Response, String> {
        self.read_until = deadline;
        loop {
            let head = self.read_head().map_err(|e| match e {
                ReadError::Io(e) => e.to_string(),
                ReadError::Protocol(p) => p.0,
            })?;
            if (100..200).contains(&head.status) {
                if Instant::now() >= deadline {
                    return Err("no final answer before the timeout".into());
                }
                continue;
            }
            let framing = codec::body_framing(method, &head).map_err(|p| p.0)?;
            let body = self.read_body(framing, cap).map_err(|e| match e {
                BodyError::TooLarge => "the answer is too large".to_string(),
                BodyError::Read(e) => e.to_string(),
            })?;
            if !head.keeps_alive() || framing == BodyFraming::UntilClose {
                self.poison();
            }
            return Ok(Response { head, body });
        }
    }

    /// Writes raw bytes (a CONNECT request).
    pub(crate) fn write_raw(&mut self, data: &[u8], deadline: Instant) -> io::Result<()> {
        self.begin(deadline)?;
        self.stream.write_all(data)
    }

    /// Turns a plain connection to a proxy (after a successful CONNECT) into the TLS connection to the origin.
    pub(crate) fn into_tunnel(
        self,
        origin: &Origin,
        tls: Option<&Arc<rustls::ClientConfig>>,
        deadline: Instant,
    ) -> Result<Connection> {
        let Stream::Plain(sock) = self.stream else {
            return Err(Error::new(
                Status::Internal,
                "a tunnel over TLS to the proxy",
            ));
        };
        let mut conn = Connection::establish(sock, origin, tls, deadline)?;
        conn.id = self.id;
        Ok(conn)
    }
}

/// Sets a socket timeout (through `set`) for an operation that must end by `until`, unless the one in force
/// (`current`) already fits: never shorter than the time left (so a timeout means the deadline passed), at
/// most [`TIMEOUT_SLACK`] longer.
fn arm(
    current: &mut Option<Duration>,
    until: Instant,
    set: impl FnOnce(Duration) -> io::Result<()>,
) -> io::Result<()> {
    let left = until
        .saturating_duration_since(Instant::now())
        .max(Duration::from_millis(1));
    if current.is_none_or(|t| t < left || t > left + TIMEOUT_SLACK) {
        let armed = left + TIMEOUT_SLACK / 2;
        set(armed)?;
        *current = Some(armed);
    }
    Ok(())
}

enum Peek {
    /// Nothing to read: the connection is open and idle.
    Nothing,
    /// EOF, reset, or another error.
    Closed,
    /// Bytes are waiting.
    Data,
}

/// Looks at a socket without blocking and without consuming: one `recv(MSG_PEEK | MSG_DONTWAIT)` on Linux,
/// a non-blocking toggle elsewhere.
fn peek_nonblocking(sock: &TcpStream) -> Peek {
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd;
        unsafe extern "C" {
            fn recv(
                fd: core::ffi::c_int,
                buf: *mut core::ffi::c_void,
                len: usize,
                flags: core::ffi::c_int,
            ) -> isize;
        }
        const MSG_PEEK: core::ffi::c_int = 0x2;
        const MSG_DONTWAIT: core::ffi::c_int = 0x40;
        let mut probe = 0u8;
        // SAFETY: a valid open socket and a one-byte buffer; MSG_PEEK leaves the data in the socket.
        let n = unsafe {
            recv(
                sock.as_raw_fd(),
                (&raw mut probe).cast(),
                1,
                MSG_PEEK | MSG_DONTWAIT,
            )
        };
        match n {
            1.. => Peek::Data,
            0 => Peek::Closed,
            _ => match io::Error::last_os_error().kind() {
                io::ErrorKind::WouldBlock => Peek::Nothing,
                io::ErrorKind::Interrupted => Peek::Nothing,
                _ => Peek::Closed,
            },
        }
    }
    #[cfg(not(target_os = "linux"))]
    {
        if sock.set_nonblocking(true).is_err() {
            return Peek::Closed;
        }
        let result = match sock.peek(&mut [0u8; 1]) {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Peek::Nothing,
            Ok(0) | Err(_) => Peek::Closed,
            Ok(_) => Peek::Data,
        };
        if sock.set_nonblocking(false).is_err() {
            return Peek::Closed;
        }
        result
    }
}

enum ReadError {
    Io(io::Error),
    Protocol(ProtocolError),
}

enum BodyError {
    TooLarge,
    Read(io::Error),
}

fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

fn io_status(e: &io::Error) -> Status {
    if is_timeout(e) {
        Status::Timeout
    } else {
        Status::TransportError
    }
}

fn keep_alive_timeout(head: &ResponseHead) -> Option<Duration> {
    let value = head.header("keep-alive")?;
    value.split(',').find_map(|p| {
        let (k, v) = p.split_once('=')?;
        (k.trim().eq_ignore_ascii_case("timeout"))
            .then(|| v.trim().parse::<u64>().ok())
            .flatten()
            .map(Duration::from_secs)
    })
}

/// Runs the TLS handshake to completion within the deadline; every failure names its cause.
fn handshake(conn: &mut ClientConnection, sock: &mut TcpStream, deadline: Instant) -> Result<()> {
    let tls_error =
        |detail: String| Error::new(Status::TlsFailed, format!("{detail}; nothing was sent"));
    let timed_out = || {
        tls_error(
            "the server did not complete the TLS handshake in time (is it a plain http:// port?)"
                .into(),
        )
    };
    let closed = |e: Option<&io::Error>| {
        tls_error(format!(
            "the server closed the connection during the TLS handshake ({}is it an https port? does it allow \
             TLS 1.2 or 1.3?)",
            e.map(|e| format!("{e}; ")).unwrap_or_default()
        ))
    };
    // Driven step by step (not `complete_io`) so that the deadline holds even against a server that
    // trickles its handshake a byte at a time.
    let flush = |conn: &mut ClientConnection, sock: &mut TcpStream| -> io::Result<()> {
        while conn.wants_write() {
            conn.write_tls(sock)?;
        }
        Ok(())
    };
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(timed_out());
        }
        // The whole time left: a timed-out read is the end of this socket (Windows leaves it indeterminate).
        let _ = sock.set_read_timeout(Some(left));
        let _ = sock.set_write_timeout(Some(left));
        if let Err(e) = flush(conn, sock) {
            return Err(match e.kind() {
                io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => timed_out(),
                _ => closed(Some(&e)),
            });
        }
        if !conn.is_handshaking() {
            return Ok(());
        }
        match conn.read_tls(sock) {
            Ok(0) => return Err(closed(None)),
            Ok(_) => {
                if let Err(e) = conn.process_new_packets() {
                    let _ = flush(conn, sock); // the alert that tells the server why
                    return Err(tls_error(super::tls::describe_tls_error(&e)));
                }
            }
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock
                ) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(closed(Some(&e))),
        }
    }
}
