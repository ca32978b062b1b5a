//! Servers that trickle, stall, refuse `Expect`, or answer 408 under a reused connection: timeouts hold,
//! nothing is retried that may have been processed, and nothing that was not processed fails a session.
//! Each server is a scripted loopback listener (std only); the assertions name the promise they check.

use cm_smartcard::Status;
use cm_smartcard::auth::{AuthConfig, AuthMethod};
use cm_smartcard::cm::{Assignment, CmClient, ConnectionConfig, TransportConfig};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const REQUEST: &str = "a9b4b42c-cc50-4c9b-89d1-bbc0bcd5a099";
const CARD: &str = "bc88f13f-83ba-4037-8262-46eba1291c6e";
const CREATED: &str = "\"api/v1.0/smartcards/17cf063d-e337-4aa9-a822-346554ddd3c9\"";
const REQUEST_JSON: &str = "{\"Uuid\":\"a9b4b42c-cc50-4c9b-89d1-bbc0bcd5a099\",\"Status\":3}";

/// One request as the server saw it.
#[derive(Debug, Clone)]
struct Seen {
    method: String,
    expect: bool,
    body: Vec<u8>,
    /// Requests before this one on the same connection.
    on_connection: usize,
}

/// What the script does with one request: the connection, the request, and its number on the connection.
type Script = dyn Fn(&mut TcpStream, &Seen) -> bool + Send + Sync;

struct Server {
    port: u16,
    seen: Arc<Mutex<Vec<Seen>>>,
    /// Connections accepted.
    #[allow(dead_code)]
    connections: Arc<AtomicUsize>,
}

impl Server {
    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
    fn posts(&self) -> usize {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .filter(|s| s.method == "POST")
            .count()
    }
    fn bodies(&self) -> usize {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .filter(|s| !s.body.is_empty())
            .count()
    }
}

/// Reads one request head (and, unless `Expect` is waiting, its body). None when the client closed.
fn read_request(
    reader: &mut BufReader<TcpStream>,
    on_connection: usize,
    answer_continue: bool,
) -> Option<Seen> {
    let mut line = String::new();
    if reader.read_line(&mut line).ok()? == 0 {
        return None;
    }
    let method = line.split_whitespace().next()?.to_string();
    let (mut length, mut expect) = (0usize, false);
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).ok()? == 0 {
            return None;
        }
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        let lower = h.to_ascii_lowercase();
        if let Some(v) = lower.strip_prefix("content-length:") {
            length = v.trim().parse().ok()?;
        }
        if lower.starts_with("expect:") {
            expect = true;
        }
    }
    let mut seen = Seen {
        method,
        expect,
        body: Vec::new(),
        on_connection,
    };
    if length > 0 && (!expect || answer_continue) {
        if expect {
            reader
                .get_mut()
                .write_all(b"HTTP/1.1 100 Continue\r\n\r\n")
                .ok()?;
        }
        let mut body = vec![0u8; length];
        reader.read_exact(&mut body).ok()?;
        seen.body = body;
    }
    Some(seen)
}

/// A listener whose connections run `script` for each request until it returns false. `answer_continue`:
/// answer `Expect: 100-continue` and read the body before the script runs.
fn serve(answer_continue: bool, script: Arc<Script>) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let connections = Arc::new(AtomicUsize::new(0));
    let (seen2, conns2) = (Arc::clone(&seen), Arc::clone(&connections));
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            conns2.fetch_add(1, Ordering::SeqCst);
            let (seen, script) = (Arc::clone(&seen2), Arc::clone(&script));
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut stream = stream;
                let mut n = 0;
                while let Some(req) = read_request(&mut reader, n, answer_continue) {
                    seen.lock().unwrap().push(req.clone());
                    n += 1;
                    if !script(&mut stream, &req) {
                        break;
                    }
                }
            });
        }
    });
    Server {
        port,
        seen,
        connections,
    }
}

fn answer(stream: &mut TcpStream, status: &str, body: &str, extra: &str) -> bool {
    let text = format!(
        "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n{extra}\r\n{body}",
        body.len()
    );
    stream.write_all(text.as_bytes()).is_ok()
}

/// 201 for a POST, the request object for a GET.
fn ok(stream: &mut TcpStream, req: &Seen) -> bool {
    if req.method == "POST" {
        answer(stream, "201 Created", CREATED, "")
    } else {
        answer(stream, "200 OK", REQUEST_JSON, "")
    }
}

fn client(url: &str, session: bool, timeout_ms: u64) -> CmClient {
    let config = ConnectionConfig {
        server_url: url.to_string(),
        transport: TransportConfig {
            timeout: Duration::from_millis(timeout_ms),
            connect_timeout: Duration::from_millis(timeout_ms),
            max_response_bytes: 1000,
            auth: AuthConfig {
                method: AuthMethod::None,
                ..Default::default()
            },
            ..Default::default()
        },
    };
    if session {
        CmClient::session(config).unwrap()
    } else {
        CmClient::new(config).unwrap()
    }
}

fn assignment() -> Assignment {
    Assignment::new(REQUEST, CARD, None).unwrap()
}

/// Calls `f` and checks it returned within `limit` (a call that hangs is the defect, not a slow one).
fn within<T>(limit: Duration, f: impl FnOnce() -> T) -> T {
    let t = Instant::now();
    let r = f();
    assert!(
        t.elapsed() < limit,
        "the call took {:?}, the timeout does not hold",
        t.elapsed()
    );
    r
}

#[test]
fn a_trickled_body_cannot_outlast_the_timeout() {
    let srv = serve(
        true,
        Arc::new(|s: &mut TcpStream, _: &Seen| {
            let _ = s.write_all(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 900\r\n\r\n",
            );
            for _ in 0..300 {
                if s.write_all(b" ").is_err() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            false
        }),
    );
    let e = within(Duration::from_secs(6), || {
        client(&srv.url(), false, 1000).get_request(REQUEST)
    })
    .unwrap_err();
    assert_eq!(e.status, Status::Timeout, "{e}");
}

#[test]
fn endless_informational_answers_cannot_outlast_the_timeout() {
    let srv = serve(
        true,
        Arc::new(|s: &mut TcpStream, _: &Seen| {
            for _ in 0..300 {
                if s.write_all(b"HTTP/1.1 102 Processing\r\n\r\n").is_err() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            false
        }),
    );
    let e = within(Duration::from_secs(6), || {
        client(&srv.url(), false, 1000).get_request(REQUEST)
    })
    .unwrap_err();
    assert_eq!(e.status, Status::Timeout, "{e}");
}

#[test]
fn a_trickled_tls_handshake_cannot_outlast_the_connect_timeout() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        if let Ok((mut s, _)) = listener.accept() {
            // A handshake record announcing 16 KiB, delivered a byte at a time.
            let _ = s.write_all(&[0x16, 0x03, 0x03, 0x40, 0x00]);
            for _ in 0..300 {
                if s.write_all(&[0x02]).is_err() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    });
    let c = client(&format!("https://localhost:{port}"), false, 1000);
    let e = within(Duration::from_secs(6), || c.assign_smartcard(&assignment())).unwrap_err();
    assert_eq!(e.status, Status::TlsFailed, "{e}");
    assert!(e.message.contains("nothing was sent"), "{e}");
}

/// IIS closes idle connections with a 408: when it crosses the next request, that request was not processed
/// and goes out again on a new connection — a POST exactly once.
#[test]
fn a_408_crossing_a_reused_connection_is_resent_elsewhere() {
    let srv = serve(
        false,
        Arc::new(|s: &mut TcpStream, req: &Seen| {
            if req.on_connection == 0 {
                ok(s, req)
            } else {
                answer(s, "408 Request Timeout", "", "Connection: close\r\n");
                false
            }
        }),
    );
    let s = client(&srv.url(), true, 3000);
    assert!(s.get_request(REQUEST).unwrap().is_some());
    assert!(
        s.get_request(REQUEST).unwrap().is_some(),
        "a GET behind a 408 is resent"
    );
    let outcome = s
        .assign_smartcard(&assignment())
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(outcome.http_status, 201);
    assert_eq!(srv.bodies(), 1, "the POST body reached the server once");
}

/// A server that refuses `Expect: 100-continue` (417): the POST goes out again without it, on a new
/// connection, and later POSTs take new connections straight away.
#[test]
fn a_417_to_expect_resends_without_it() {
    let srv = serve(
        false,
        Arc::new(|s: &mut TcpStream, req: &Seen| {
            if req.expect {
                answer(s, "417 Expectation Failed", "", "Connection: close\r\n");
                return false;
            }
            ok(s, req)
        }),
    );
    let s = client(&srv.url(), true, 3000);
    assert!(s.get_request(REQUEST).unwrap().is_some());
    for _ in 0..3 {
        let outcome = s
            .assign_smartcard(&assignment())
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(outcome.http_status, 201);
    }
    assert_eq!(srv.bodies(), 3, "three POSTs, each processed once");
    let expects = srv.seen.lock().unwrap().iter().filter(|s| s.expect).count();
    assert_eq!(expects, 1, "Expect is not tried again once refused");
}

/// A GET that times out on a reused connection is not sent again on every pooled connection.
#[test]
fn a_get_timing_out_on_a_reused_connection_is_not_repeated() {
    let srv = serve(
        false,
        Arc::new(|s: &mut TcpStream, req: &Seen| {
            if req.on_connection == 0 {
                return ok(s, req);
            }
            std::thread::sleep(Duration::from_secs(4)); // silent
            false
        }),
    );
    let s = client(&srv.url(), true, 800);
    assert!(s.get_request(REQUEST).unwrap().is_some());
    let e = within(Duration::from_secs(3), || s.get_request(REQUEST)).unwrap_err();
    assert_eq!(e.status, Status::Timeout, "{e}");
    let gets = srv
        .seen
        .lock()
        .unwrap()
        .iter()
        .filter(|s| s.method == "GET")
        .count();
    assert_eq!(gets, 2, "the timed-out GET was sent once");
}

/// A server that ignores `Expect` and stays silent: at the deadline only the head was sent, so the call is
/// a timeout with nothing sent — never "outcome unknown" — and the body never leaves.
#[test]
fn a_post_withheld_until_the_deadline_is_nothing_sent() {
    let srv = serve(
        false,
        Arc::new(|s: &mut TcpStream, req: &Seen| {
            if req.on_connection == 0 {
                return ok(s, req);
            }
            std::thread::sleep(Duration::from_secs(3)); // ignores Expect, never reads the body
            false
        }),
    );
    let s = client(&srv.url(), true, 600);
    assert!(s.get_request(REQUEST).unwrap().is_some());
    let e = s.assign_smartcard(&assignment()).unwrap_err();
    assert_eq!(e.status, Status::Timeout, "{e}");
    assert!(e.message.contains("nothing was sent"), "{e}");
    assert_eq!(srv.bodies(), 0);
    assert_eq!(srv.posts(), 1);
}

/// A server that does not implement `Expect: 100-continue` (it waits for the body, silently): after the
/// wait the POST goes out again on a new connection without `Expect` — the body once, the binding once.
#[test]
fn a_server_ignoring_expect_gets_the_post_once_without_it() {
    let srv = serve(
        false,
        Arc::new(|s: &mut TcpStream, req: &Seen| {
            if req.expect {
                std::thread::sleep(Duration::from_secs(3)); // waits for a body that never comes
                return false;
            }
            ok(s, req)
        }),
    );
    let s = client(&srv.url(), true, 5000);
    assert!(s.get_request(REQUEST).unwrap().is_some());
    for _ in 0..2 {
        let outcome = s
            .assign_smartcard(&assignment())
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(outcome.http_status, 201);
    }
    assert_eq!(srv.bodies(), 2, "each POST body reached the server once");
    let expects = srv.seen.lock().unwrap().iter().filter(|s| s.expect).count();
    assert_eq!(
        expects, 1,
        "after one ignored Expect, POSTs go on new connections without it"
    );
}

/// A success answer over the size cap: for a POST the server processed it (ResponseTooLarge with "do not
/// resend, read it back"); for a GET it is simply too large.
#[test]
fn oversized_success_answers_get_the_right_status() {
    let big = format!("\"{}\"", "a".repeat(5000));
    let srv = serve(
        true,
        Arc::new(move |s: &mut TcpStream, req: &Seen| {
            let status = if req.method == "POST" {
                "201 Created"
            } else {
                "200 OK"
            };
            answer(s, status, &big, "")
        }),
    );
    let c = client(&srv.url(), false, 2000);
    let e = c.assign_smartcard(&assignment()).unwrap_err();
    assert_eq!(e.status, Status::ResponseTooLarge, "{e}");
    assert!(
        e.message.contains("WAS processed") && e.message.contains("instead of sending it again"),
        "{e}"
    );
    let e = c.get_request(REQUEST).unwrap_err();
    assert_eq!(e.status, Status::ResponseTooLarge, "{e}");
    assert!(!e.message.contains("processed"), "{e}");
}

/// A GET whose body stalls is a timeout (not "malformed", not reconcile advice).
#[test]
fn a_stalled_get_body_is_a_timeout() {
    let srv = serve(
        true,
        Arc::new(|s: &mut TcpStream, _: &Seen| {
            let _ = s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\n{");
            std::thread::sleep(Duration::from_secs(3));
            false
        }),
    );
    let e = within(Duration::from_secs(3), || {
        client(&srv.url(), false, 800).get_request(REQUEST)
    })
    .unwrap_err();
    assert_eq!(e.status, Status::Timeout, "{e}");
    assert!(!e.message.contains("reconcile"), "{e}");
}
