//! A minimal raw HTTP/1.1 client over `TcpStream` for the emulator's tests.
#![allow(dead_code)]

use serde_json::Value;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

pub const API: &str = "/CertificateManagement/api/v1.0";

#[derive(Debug, Clone)]
pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    pub fn all(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", self.text()))
    }
    pub fn is_json_ct(&self) -> bool {
        self.header("content-type") == Some("application/json; charset=utf-8")
    }
}

pub struct Client {
    pub stream: TcpStream,
    buf: Vec<u8>,
}

impl Client {
    pub fn connect(addr: SocketAddr) -> Client {
        let stream = TcpStream::connect(addr).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        Client {
            stream,
            buf: Vec::new(),
        }
    }

    pub fn send_raw(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).expect("write");
    }

    fn fill(&mut self) -> io::Result<usize> {
        let mut chunk = [0u8; 65536];
        loop {
            // A socket read with a timeout fails with EINTR when the process was stopped and resumed
            // (Linux, signal(7)), even without signal handlers: retry.
            match self.stream.read(&mut chunk) {
                Ok(n) => {
                    self.buf.extend_from_slice(&chunk[..n]);
                    return Ok(n);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
    }

    /// Reads one response. Err(UnexpectedEof) if the server closed before a full response.
    pub fn read_response(&mut self) -> io::Result<Resp> {
        loop {
            let head_end = loop {
                if let Some(i) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                    break i;
                }
                if self.fill()? == 0 {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "closed before head",
                    ));
                }
            };
            let head: Vec<u8> = self.buf.drain(..head_end + 4).collect();
            let head = String::from_utf8(head[..head_end].to_vec()).expect("utf8 head");
            let mut lines = head.split("\r\n");
            let status_line = lines.next().unwrap();
            assert!(
                status_line.starts_with("HTTP/1.1 "),
                "status line {status_line:?}"
            );
            let status: u16 = status_line[9..12].parse().unwrap();
            let headers: Vec<(String, String)> = lines
                .map(|l| {
                    let (n, v) = l.split_once(':').expect("header line");
                    (n.to_string(), v.trim().to_string())
                })
                .collect();
            if status == 100 {
                continue;
            }
            let mut resp = Resp {
                status,
                headers,
                body: Vec::new(),
            };
            if status == 204 || status == 304 {
                assert!(
                    resp.header("content-length").is_none(),
                    "204 with Content-Length"
                );
                return Ok(resp);
            }
            match resp
                .header("content-length")
                .map(|v| v.parse::<usize>().unwrap())
            {
                Some(len) => {
                    while self.buf.len() < len {
                        if self.fill()? == 0 {
                            return Err(io::Error::new(
                                io::ErrorKind::UnexpectedEof,
                                "closed in body",
                            ));
                        }
                    }
                    resp.body = self.buf.drain(..len).collect();
                }
                None => {
                    while self.fill()? > 0 {}
                    resp.body = std::mem::take(&mut self.buf);
                }
            }
            return Ok(resp);
        }
    }

    /// Sends a request with a JSON body (if any) and reads the response.
    pub fn request(
        &mut self,
        method: &str,
        path: &str,
        body: Option<&str>,
        extra: &[(&str, &str)],
    ) -> Resp {
        self.send_raw(&build(method, path, body, extra));
        self.read_response().expect("response")
    }

    /// True if the server closed the connection (EOF or reset) without sending anything more.
    pub fn closed_without_data(&mut self) -> bool {
        match self.fill() {
            Ok(0) => self.buf.is_empty(),
            Ok(_) => false,
            Err(e) => !matches!(
                e.kind(),
                io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
            ),
        }
    }
}

pub fn build(method: &str, path: &str, body: Option<&str>, extra: &[(&str, &str)]) -> Vec<u8> {
    let mut s = format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n");
    let has_ct = extra
        .iter()
        .any(|(n, _)| n.eq_ignore_ascii_case("content-type"));
    if let Some(b) = body {
        if !has_ct {
            s.push_str("Content-Type: application/json\r\n");
        }
        s.push_str(&format!("Content-Length: {}\r\n", b.len()));
    }
    for (n, v) in extra {
        s.push_str(&format!("{n}: {v}\r\n"));
    }
    s.push_str("\r\n");
    if let Some(b) = body {
        s.push_str(b);
    }
    s.into_bytes()
}

/// One request on a fresh connection.
pub fn req(addr: SocketAddr, method: &str, path: &str, body: Option<&str>) -> Resp {
    Client::connect(addr).request(method, path, body, &[])
}

pub fn bind_body(request: &str, card: &str, atr: &str) -> String {
    serde_json::json!({ "requestid": request, "cardid": card, "atr": atr }).to_string()
}

pub fn post_bind(addr: SocketAddr, request: &str, card: &str, atr: &str) -> Resp {
    req(
        addr,
        "POST",
        &format!("{API}/smartcards"),
        Some(&bind_body(request, card, atr)),
    )
}
