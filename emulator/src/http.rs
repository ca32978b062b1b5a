//! A small HTTP/1.1 server-side codec over `std::net::TcpStream`: request heads, bodies
//! (Content-Length and chunked), and responses.

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// Largest request head accepted (request line + headers).
pub(crate) const MAX_HEAD: usize = 64 * 1024;
/// Largest request body accepted; larger ones get 413.
pub(crate) const MAX_BODY: usize = 1024 * 1024;
/// How often blocked reads wake up to look at the stop flag.
pub(crate) const POLL: Duration = Duration::from_millis(50);
/// An idle keep-alive connection is closed after this long.
const IDLE_TIMEOUT: Duration = Duration::from_secs(120);

#[derive(Debug)]
pub(crate) enum HttpError {
    /// The connection failed, closed mid-request, or the emulator is stopping: just close it.
    Io,
    /// Answer with this status and message, then close.
    Status(u16, &'static str),
}

impl From<io::Error> for HttpError {
    fn from(_: io::Error) -> Self {
        HttpError::Io
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Head {
    pub method: String,
    /// Path and query, as sent.
    pub target: String,
    pub minor_version: u8,
    pub headers: Vec<(String, String)>,
}

impl Head {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn path(&self) -> &str {
        self.target
            .split_once('?')
            .map_or(self.target.as_str(), |(p, _)| p)
    }

    pub fn query(&self) -> &str {
        self.target.split_once('?').map_or("", |(_, q)| q)
    }

    /// Whether the connection must be closed after this exchange.
    pub fn wants_close(&self) -> bool {
        let tokens = |v: &str| -> Vec<String> {
            v.split(',')
                .map(|t| t.trim().to_ascii_lowercase())
                .collect::<Vec<_>>()
        };
        let conn: Vec<String> = self
            .headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case("connection"))
            .flat_map(|(_, v)| tokens(v))
            .collect();
        if conn.iter().any(|t| t == "close") {
            return true;
        }
        self.minor_version == 0 && !conn.iter().any(|t| t == "keep-alive")
    }

    pub fn expects_continue(&self) -> bool {
        self.minor_version >= 1
            && self
                .header("expect")
                .is_some_and(|v| v.trim().eq_ignore_ascii_case("100-continue"))
    }
}

/// Query-string lookup, case-insensitive on the name, percent- and `+`-decoded.
pub(crate) fn query_param(query: &str, name: &str) -> Option<String> {
    query.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let k = crate::fault::percent_decode(&k.replace('+', " "));
        k.eq_ignore_ascii_case(name)
            .then(|| crate::fault::percent_decode(&v.replace('+', " ")))
    })
}

pub(crate) struct Conn {
    pub stream: TcpStream,
    buf: Vec<u8>,
    stop: Arc<AtomicBool>,
}

impl Conn {
    pub fn new(stream: TcpStream, stop: Arc<AtomicBool>) -> io::Result<Conn> {
        stream.set_nonblocking(false)?;
        stream.set_read_timeout(Some(POLL))?;
        stream.set_write_timeout(Some(Duration::from_secs(30)))?;
        let _ = stream.set_nodelay(true);
        Ok(Conn {
            stream,
            buf: Vec::new(),
            stop,
        })
    }

    fn stopping(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }

    /// Reads more bytes into the buffer. Ok(0) = peer closed. Err = failure or emulator stopping.
    fn fill(&mut self, idle_limit: Option<Duration>) -> io::Result<usize> {
        let started = Instant::now();
        let mut chunk = [0u8; 16 * 1024];
        loop {
            if self.stopping() {
                return Err(io::Error::other("stopping"));
            }
            match self.stream.read(&mut chunk) {
                Ok(n) => {
                    self.buf.extend_from_slice(&chunk[..n]);
                    return Ok(n);
                }
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) =>
                {
                    if idle_limit.is_some_and(|l| started.elapsed() > l) {
                        return Err(io::Error::new(io::ErrorKind::TimedOut, "idle"));
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// Reads a request head, giving up (Ok(None)) when no byte of it has arrived after `idle_limit`.
    /// The wait is a sleep plus a non-blocking peek, not a socket timeout: Linux rounds socket timeouts up to
    /// whole scheduler ticks (4 ms), far coarser than the idle moments this mode must hit.
    pub fn read_head_within(
        &mut self,
        idle_limit: Option<Duration>,
    ) -> Result<Option<Head>, HttpError> {
        let Some(limit) = idle_limit else {
            return self.read_head();
        };
        if self.buf.is_empty() {
            std::thread::sleep(limit);
            if self.stopping() || self.stream.set_nonblocking(true).is_err() {
                return Ok(None);
            }
            let mut probe = [0u8; 1];
            let waiting = matches!(self.stream.peek(&mut probe), Ok(n) if n > 0);
            if self.stream.set_nonblocking(false).is_err() || !waiting {
                return Ok(None);
            }
        }
        self.read_head()
    }

    /// Reads a request head. Ok(None) = the peer closed (or went idle) between requests.
    pub fn read_head(&mut self) -> Result<Option<Head>, HttpError> {
        loop {
            // Ignore empty lines before a request line (RFC 7230 §3.5).
            while self.buf.starts_with(b"\r\n") {
                self.buf.drain(..2);
            }
            while self.buf.starts_with(b"\n") {
                self.buf.drain(..1);
            }
            if let Some((end, skip)) = find_head_end(&self.buf) {
                let raw: Vec<u8> = self.buf.drain(..end + skip).take(end).collect();
                return parse_head(&raw).map(Some);
            }
            if self.buf.len() > MAX_HEAD {
                return Err(HttpError::Status(431, "Request header fields too large."));
            }
            let idle = if self.buf.is_empty() {
                Some(IDLE_TIMEOUT)
            } else {
                None
            };
            match self.fill(idle) {
                Ok(0) if self.buf.is_empty() => return Ok(None),
                Ok(0) => return Err(HttpError::Io),
                Ok(_) => {}
                Err(_) if self.buf.is_empty() => return Ok(None),
                Err(_) => return Err(HttpError::Io),
            }
        }
    }

    fn read_line(&mut self, limit: usize) -> Result<Vec<u8>, HttpError> {
        loop {
            if let Some(i) = self.buf.iter().position(|&b| b == b'\n') {
                let mut line: Vec<u8> = self.buf.drain(..=i).collect();
                line.pop();
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                return Ok(line);
            }
            if self.buf.len() > limit {
                return Err(HttpError::Status(400, "Bad chunked encoding."));
            }
            if self.fill(None)? == 0 {
                return Err(HttpError::Io);
            }
        }
    }

    fn read_exact_buf(&mut self, n: usize) -> Result<Vec<u8>, HttpError> {
        while self.buf.len() < n {
            if self.fill(None)? == 0 {
                return Err(HttpError::Io);
            }
        }
        Ok(self.buf.drain(..n).collect())
    }

    /// Reads the body the head announces (Content-Length or chunked), at most [`MAX_BODY`] bytes.
    pub fn read_body(&mut self, head: &Head) -> Result<Vec<u8>, HttpError> {
        if let Some(te) = head.header("transfer-encoding") {
            let last = te.rsplit(',').next().unwrap_or("").trim();
            if !last.eq_ignore_ascii_case("chunked") {
                return Err(HttpError::Status(501, "Unsupported transfer encoding."));
            }
            return self.read_chunked();
        }
        let lengths: Vec<&str> = head
            .headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case("content-length"))
            .map(|(_, v)| v.trim())
            .collect();
        let Some(first) = lengths.first() else {
            return Ok(Vec::new());
        };
        if lengths.iter().any(|l| l != first) {
            return Err(HttpError::Status(
                400,
                "Conflicting Content-Length headers.",
            ));
        }
        if first.is_empty() || !first.bytes().all(|b| b.is_ascii_digit()) {
            return Err(HttpError::Status(400, "Bad Content-Length."));
        }
        let len: usize = first.parse().unwrap_or(usize::MAX);
        if len > MAX_BODY {
            return Err(HttpError::Status(413, "Request entity too large."));
        }
        self.read_exact_buf(len)
    }

    fn read_chunked(&mut self) -> Result<Vec<u8>, HttpError> {
        let mut body = Vec::new();
        loop {
            let line = self.read_line(4096)?;
            let line = String::from_utf8_lossy(&line);
            let size_str = line.split(';').next().unwrap_or("").trim();
            if size_str.is_empty() || size_str.len() > 16 {
                return Err(HttpError::Status(400, "Bad chunk size."));
            }
            let size = usize::from_str_radix(size_str, 16)
                .map_err(|_| HttpError::Status(400, "Bad chunk size."))?;
            if size == 0 {
                // Trailer section, up to the empty line.
                loop {
                    if self.read_line(MAX_HEAD)?.is_empty() {
                        return Ok(body);
                    }
                }
            }
            if body.len() + size > MAX_BODY {
                return Err(HttpError::Status(413, "Request entity too large."));
            }
            let data = self.read_exact_buf(size)?;
            body.extend_from_slice(&data);
            if !self.read_line(2)?.is_empty() {
                return Err(HttpError::Status(400, "Bad chunk terminator."));
            }
        }
    }

    /// Waits until the peer closes the connection or the emulator stops, discarding input.
    pub fn hang(&mut self) {
        loop {
            self.buf.clear();
            match self.fill(None) {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    }

    pub fn close(&self) {
        let _ = self.stream.shutdown(Shutdown::Both);
    }
}

fn find_head_end(buf: &[u8]) -> Option<(usize, usize)> {
    let crlf = buf
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|i| (i, 4));
    let lf = buf.windows(2).position(|w| w == b"\n\n").map(|i| (i, 2));
    match (crlf, lf) {
        (Some(a), Some(b)) => Some(if a.0 <= b.0 { a } else { b }),
        (a, b) => a.or(b),
    }
}

fn parse_head(raw: &[u8]) -> Result<Head, HttpError> {
    let text = std::str::from_utf8(raw)
        .map_err(|_| HttpError::Status(400, "Request head is not UTF-8."))?;
    let mut lines = text.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l));
    let request_line = lines.next().unwrap_or("");
    let mut parts = request_line.split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(HttpError::Status(400, "Bad request line."));
    };
    if method.is_empty()
        || !method
            .bytes()
            .all(|b| b.is_ascii_alphabetic() || b == b'-' || b == b'_')
    {
        return Err(HttpError::Status(400, "Bad request method."));
    }
    if !target.starts_with('/') {
        return Err(HttpError::Status(400, "Bad request target."));
    }
    let minor_version = match version {
        "HTTP/1.1" => 1,
        "HTTP/1.0" => 0,
        _ => return Err(HttpError::Status(505, "HTTP version not supported.")),
    };
    let mut headers = Vec::new();
    for line in lines {
        if line.starts_with(' ') || line.starts_with('\t') {
            return Err(HttpError::Status(400, "Obsolete header line folding."));
        }
        let (name, value) = line
            .split_once(':')
            .ok_or(HttpError::Status(400, "Bad header line."))?;
        if name.is_empty() || name.contains([' ', '\t']) {
            return Err(HttpError::Status(400, "Bad header name."));
        }
        headers.push((name.to_string(), value.trim().to_string()));
    }
    Ok(Head {
        method: method.to_string(),
        target: target.to_string(),
        minor_version,
        headers,
    })
}

/// A response to write.
#[derive(Debug, Clone)]
pub(crate) struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

pub(crate) const JSON: &str = "application/json; charset=utf-8";
pub(crate) const HTML: &str = "text/html";

impl Response {
    pub fn new(status: u16, content_type: &str, body: impl Into<Vec<u8>>) -> Self {
        Response {
            status,
            headers: vec![("Content-Type".into(), content_type.into())],
            body: body.into(),
        }
    }

    pub fn json(status: u16, body: impl Into<Vec<u8>>) -> Self {
        Response::new(status, JSON, body)
    }

    /// `{"Message":"..."}`, the ASP.NET Web API error shape.
    pub fn message(status: u16, msg: &str) -> Self {
        let v = serde_json::json!({ "Message": msg });
        Response::json(status, v.to_string())
    }

    pub fn empty(status: u16) -> Self {
        Response {
            status,
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    pub fn with_header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Status line and headers. `content_length` overrides the real body length (for faults).
    pub fn head_bytes(&self, close: bool, content_length: Option<usize>) -> Vec<u8> {
        let mut out = format!("HTTP/1.1 {} {}\r\n", self.status, reason(self.status));
        for (n, v) in &self.headers {
            out.push_str(&format!("{n}: {v}\r\n"));
        }
        if self.status != 204 && self.status != 304 && !(100..200).contains(&self.status) {
            out.push_str(&format!(
                "Content-Length: {}\r\n",
                content_length.unwrap_or(self.body.len())
            ));
        }
        out.push_str("Server: cm-emulator\r\n");
        out.push_str(&format!("Date: {}\r\n", crate::state::http_date()));
        if close {
            out.push_str("Connection: close\r\n");
        }
        out.push_str("\r\n");
        out.into_bytes()
    }

    pub fn write_to(&self, stream: &mut TcpStream, close: bool) -> io::Result<()> {
        let mut bytes = self.head_bytes(close, None);
        if self.status != 204 && self.status != 304 {
            bytes.extend_from_slice(&self.body);
        }
        stream.write_all(&bytes)?;
        stream.flush()
    }
}

pub(crate) fn reason(code: u16) -> &'static str {
    match code {
        100 => "Continue",
        200 => "OK",
        201 => "Created",
        204 => "No Content",
        301 => "Moved Permanently",
        302 => "Found",
        304 => "Not Modified",
        307 => "Temporary Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        413 => "Request Entity Too Large",
        415 => "Unsupported Media Type",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        505 => "HTTP Version Not Supported",
        _ => "Status",
    }
}
