//! HTTP/1.1 framing for the client side: the request head we write, the response heads and bodies we read.
//!
//! Only what a CM server (IIS, or a proxy in front of it) sends is accepted: `HTTP/1.x` status lines,
//! `Content-Length`, `Transfer-Encoding: chunked`, or a body delimited by the connection's close.

use std::fmt;

/// Largest response head we accept (IIS's own limit for request heads is 16 KiB; Negotiate tokens are a few).
pub(crate) const MAX_HEAD_BYTES: usize = 64 * 1024;

/// A malformed answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProtocolError(pub String);

impl fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn bad(what: impl Into<String>) -> ProtocolError {
    ProtocolError(what.into())
}

/// A response's status line and headers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResponseHead {
    /// The status code.
    pub status: u16,
    /// 0 for HTTP/1.0, 1 for HTTP/1.1.
    pub minor_version: u8,
    /// Header fields in arrival order, names as sent.
    pub headers: Vec<(String, String)>,
}

impl ResponseHead {
    /// The first value of a header (case-insensitive name).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Every value of a header, in order.
    pub fn all(&self, name: &str) -> Vec<String> {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
            .collect()
    }

    fn connection_has(&self, token: &str) -> bool {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case("connection"))
            .flat_map(|(_, v)| v.split(','))
            .any(|t| t.trim().eq_ignore_ascii_case(token))
    }

    /// Whether the server keeps the connection open after this answer (before looking at body framing).
    pub fn keeps_alive(&self) -> bool {
        if self.minor_version == 0 {
            self.connection_has("keep-alive")
        } else {
            !self.connection_has("close")
        }
    }
}

/// How the body of an answer is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyFraming {
    /// No body (HEAD, 1xx, 204, 304, or a 2xx answer to CONNECT).
    None,
    /// Exactly this many bytes.
    Length(u64),
    /// Chunked transfer coding.
    Chunked,
    /// Everything until the server closes the connection.
    UntilClose,
}

/// The body framing of an answer to `method` (RFC 9112 §6.3).
pub fn body_framing(method: &str, head: &ResponseHead) -> Result<BodyFraming, ProtocolError> {
    let status = head.status;
    if method.eq_ignore_ascii_case("HEAD")
        || (100..200).contains(&status)
        || status == 204
        || status == 304
        || (method.eq_ignore_ascii_case("CONNECT") && (200..300).contains(&status))
    {
        return Ok(BodyFraming::None);
    }
    if let Some(te) = head.header("transfer-encoding") {
        let last = te.rsplit(',').next().unwrap_or("").trim();
        return if last.eq_ignore_ascii_case("chunked") {
            Ok(BodyFraming::Chunked)
        } else {
            Ok(BodyFraming::UntilClose)
        };
    }
    let mut length: Option<u64> = None;
    for (_, v) in head
        .headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case("content-length"))
    {
        for part in v.split(',') {
            let digits = part.trim();
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return Err(bad(format!("invalid Content-Length '{}'", printable(v))));
            }
            let n: u64 = digits
                .parse()
                .map_err(|_| bad(format!("invalid Content-Length '{}'", printable(v))))?;
            if length.is_some_and(|l| l != n) {
                return Err(bad("conflicting Content-Length values"));
            }
            length = Some(n);
        }
    }
    Ok(length.map_or(BodyFraming::UntilClose, BodyFraming::Length))
}

/// Parses a response head at the start of `buf`. `Ok(None)`: incomplete, read more. On success, returns the
/// head and the number of bytes it took (including the blank line).
pub fn parse_response_head(buf: &[u8]) -> Result<Option<(ResponseHead, usize)>, ProtocolError> {
    let Some((end, skip)) = find_head_end(buf) else {
        if buf.len() > MAX_HEAD_BYTES {
            return Err(bad(format!(
                "the answer's header is larger than {MAX_HEAD_BYTES} bytes"
            )));
        }
        // Fail fast on something that is not HTTP at all (e.g. a TLS alert from an https port).
        if buf.len() >= 5 && !b"HTTP/".eq_ignore_ascii_case(&buf[..5]) {
            return Err(not_http(buf));
        }
        return Ok(None);
    };
    if end > MAX_HEAD_BYTES {
        return Err(bad(format!(
            "the answer's header is larger than {MAX_HEAD_BYTES} bytes"
        )));
    }
    let text = std::str::from_utf8(&buf[..end])
        .map_err(|_| bad("the answer's header is not ASCII/UTF-8"))?;
    let mut lines = text.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l));
    let status_line = lines.next().unwrap_or("");
    let mut parts = status_line.splitn(3, ' ');
    let version = parts.next().unwrap_or("");
    let minor_version = match version.to_ascii_uppercase().as_str() {
        "HTTP/1.1" => 1,
        "HTTP/1.0" => 0,
        _ => return Err(not_http(buf)),
    };
    let code = parts.next().unwrap_or("");
    if code.len() != 3 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad(format!(
            "invalid status line '{}'",
            printable(status_line)
        )));
    }
    let status: u16 = code.parse().map_err(|_| bad("invalid status code"))?;
    if !(100..=999).contains(&status) {
        return Err(bad(format!("invalid status code {status}")));
    }
    let mut headers: Vec<(String, String)> = Vec::new();
    for line in lines {
        if line.is_empty() {
            continue;
        }
        if line.starts_with([' ', '\t']) {
            // Obsolete line folding (RFC 9112 §5.2): join with the previous value.
            let last = headers
                .last_mut()
                .ok_or_else(|| bad("the header starts with a continuation line"))?;
            last.1.push(' ');
            last.1.push_str(line.trim());
            continue;
        }
        let (name, value) = line
            .split_once(':')
            .ok_or_else(|| bad(format!("invalid header line '{}'", printable(line))))?;
        if name.is_empty() || name.contains([' ', '\t']) {
            return Err(bad(format!("invalid header name '{}'", printable(name))));
        }
        headers.push((name.to_string(), value.trim().to_string()));
    }
    Ok(Some((
        ResponseHead {
            status,
            minor_version,
            headers,
        },
        end + skip,
    )))
}

fn not_http(buf: &[u8]) -> ProtocolError {
    if buf.first() == Some(&0x15) || buf.first() == Some(&0x16) {
        bad("the server answered with TLS: the URL says http:// but the port speaks https://")
    } else {
        let n = buf.len().min(40);
        bad(format!(
            "the answer is not HTTP/1.x (it starts with '{}')",
            printable(&String::from_utf8_lossy(&buf[..n]))
        ))
    }
}

/// End of the head: the index of the blank line's start and its length (`\r\n\r\n` or `\n\n`).
fn find_head_end(buf: &[u8]) -> Option<(usize, usize)> {
    let mut i = 0;
    while i < buf.len() {
        if buf[i] == b'\n' {
            if buf.get(i + 1) == Some(&b'\n') {
                return Some((i + 1, 1));
            }
            if buf.get(i + 1) == Some(&b'\r') && buf.get(i + 2) == Some(&b'\n') {
                return Some((i + 1, 2));
            }
        }
        i += 1;
    }
    None
}

/// One chunk-size line (`1a;ext=x`) → the size.
pub fn parse_chunk_size(line: &[u8]) -> Result<u64, ProtocolError> {
    let text = std::str::from_utf8(line).map_err(|_| bad("invalid chunk size line"))?;
    let size = text.split(';').next().unwrap_or("").trim();
    if size.is_empty() || size.len() > 15 || !size.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(bad(format!("invalid chunk size '{}'", printable(size))));
    }
    u64::from_str_radix(size, 16)
        .map_err(|_| bad(format!("invalid chunk size '{}'", printable(size))))
}

/// Control characters replaced, for messages.
pub fn printable(s: &str) -> String {
    s.chars()
        .take(200)
        .map(|c| if c.is_control() { '\u{FFFD}' } else { c })
        .collect()
}

/// Appends a request head. `headers` values may be secrets: the caller owns (and wipes) `out`.
pub fn write_request_head(
    out: &mut Vec<u8>,
    method: &str,
    target: &str,
    host: &str,
    headers: &[(&str, &[u8])],
    body_len: Option<usize>,
) {
    out.extend_from_slice(method.as_bytes());
    out.push(b' ');
    out.extend_from_slice(target.as_bytes());
    out.extend_from_slice(b" HTTP/1.1\r\nHost: ");
    out.extend_from_slice(host.as_bytes());
    out.extend_from_slice(b"\r\n");
    for (name, value) in headers {
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value);
        out.extend_from_slice(b"\r\n");
    }
    if let Some(n) = body_len {
        out.extend_from_slice(b"Content-Length: ");
        out.extend_from_slice(n.to_string().as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
}

/// The exact size [`write_request_head`] will need, so a buffer holding secrets never reallocates (a
/// reallocation would leave an unwiped copy behind).
pub fn request_head_len(
    method: &str,
    target: &str,
    host: &str,
    headers: &[(&str, &[u8])],
    body_len: Option<usize>,
) -> usize {
    let mut n = method.len() + 1 + target.len() + " HTTP/1.1\r\nHost: ".len() + host.len() + 2;
    for (name, value) in headers {
        n += name.len() + 2 + value.len() + 2;
    }
    if let Some(b) = body_len {
        n += "Content-Length: ".len() + b.to_string().len() + 2;
    }
    n + 2
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_heads_incrementally() {
        let raw = b"HTTP/1.1 201 Created\r\nContent-Type: application/json\r\nWWW-Authenticate: Negotiate abc\r\nwww-authenticate: NTLM\r\nContent-Length: 5\r\n\r\nhello";
        for cut in 0..raw.len() - 5 {
            if cut < raw.len() - 5 - 1 {
                assert_eq!(parse_response_head(&raw[..cut]).unwrap(), None, "{cut}");
            }
        }
        let (head, n) = parse_response_head(raw).unwrap().unwrap();
        assert_eq!(head.status, 201);
        assert_eq!(&raw[n..], b"hello");
        assert_eq!(head.all("WWW-Authenticate"), ["Negotiate abc", "NTLM"]);
        assert_eq!(body_framing("POST", &head).unwrap(), BodyFraming::Length(5));
        assert!(head.keeps_alive());
    }

    #[test]
    fn framing_follows_rfc9112() {
        let head = |status: u16, headers: &[(&str, &str)]| ResponseHead {
            status,
            minor_version: 1,
            headers: headers
                .iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect(),
        };
        assert_eq!(
            body_framing("GET", &head(204, &[("Content-Length", "3")])).unwrap(),
            BodyFraming::None
        );
        assert_eq!(
            body_framing("CONNECT", &head(200, &[])).unwrap(),
            BodyFraming::None
        );
        assert_eq!(
            body_framing("GET", &head(200, &[("Transfer-Encoding", "gzip, chunked")])).unwrap(),
            BodyFraming::Chunked
        );
        assert_eq!(
            body_framing("GET", &head(200, &[])).unwrap(),
            BodyFraming::UntilClose
        );
        assert_eq!(
            body_framing("GET", &head(200, &[("Content-Length", "7, 7")])).unwrap(),
            BodyFraming::Length(7)
        );
        assert!(body_framing("GET", &head(200, &[("Content-Length", "7, 8")])).is_err());
        assert!(body_framing("GET", &head(200, &[("Content-Length", "-1")])).is_err());
        assert!(body_framing("GET", &head(200, &[("Content-Length", "+5")])).is_err());
        let old = ResponseHead {
            minor_version: 0,
            ..head(200, &[])
        };
        assert!(!old.keeps_alive());
        assert!(!head(200, &[("Connection", "Keep-Alive, close")]).keeps_alive());
    }

    #[test]
    fn rejects_what_is_not_http() {
        let tls_alert = [0x15u8, 0x03, 0x01, 0x00, 0x02, 0x02, 0x46];
        let e = parse_response_head(&tls_alert).unwrap_err();
        assert!(e.0.contains("speaks https"), "{e}");
        assert!(parse_response_head(b"SSH-2.0-OpenSSH\r\n\r\n").is_err());
        assert!(parse_response_head(b"HTTP/1.1 2x0 OK\r\n\r\n").is_err());
        assert!(parse_response_head(b"HTTP/1.1 200 OK\r\nbad line\r\n\r\n").is_err());
        let (h, _) = parse_response_head(b"HTTP/1.1 200\r\nA: 1\r\n  2\r\n\r\n")
            .unwrap()
            .unwrap();
        assert_eq!(h.header("a"), Some("1 2"));
    }

    #[test]
    fn chunk_sizes() {
        assert_eq!(parse_chunk_size(b"1a").unwrap(), 26);
        assert_eq!(parse_chunk_size(b"0;ext=1").unwrap(), 0);
        assert!(parse_chunk_size(b"").is_err());
        assert!(parse_chunk_size(b"zz").is_err());
        assert!(parse_chunk_size(b"ffffffffffffffffff").is_err());
        assert!(parse_chunk_size(b"+1f").is_err());
        assert!(parse_chunk_size(b"-1").is_err());
        let mut huge = b"HTTP/1.1 200 OK\r\nX: ".to_vec();
        huge.extend(std::iter::repeat_n(b'a', MAX_HEAD_BYTES));
        huge.extend_from_slice(b"\r\n\r\n");
        assert!(
            parse_response_head(&huge).is_err(),
            "a head over the limit is refused even when complete"
        );
    }

    #[test]
    fn request_head_length_is_exact() {
        let headers: [(&str, &[u8]); 2] =
            [("Authorization", b"Basic Ym9iOnB3"), ("Accept", b"*/*")];
        for body in [None, Some(0), Some(12345)] {
            let mut out = Vec::new();
            write_request_head(&mut out, "POST", "/x?y=1", "h:1", &headers, body);
            assert_eq!(
                out.len(),
                request_head_len("POST", "/x?y=1", "h:1", &headers, body)
            );
        }
    }
}
