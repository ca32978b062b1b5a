//! Accept loop, per-connection threads, and fault application.

use crate::http::{Conn, HTML, Head, HttpError, Response};
use crate::state::State;
use crate::{FaultKind, LoggedRequest, api, control};
use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

pub(crate) struct Shared {
    pub state: Mutex<State>,
    pub stop: Arc<AtomicBool>,
    pub quiet: bool,
    next_conn: AtomicU64,
    /// Connection threads with a clone of their socket (shut down on stop to unblock them).
    conns: Mutex<Vec<(JoinHandle<()>, Option<TcpStream>)>>,
    /// The random idle-close mode (see `Config::idle_close_max`).
    pub idle_close_max: Option<Duration>,
    /// Connections closed by that mode.
    pub idle_closes: AtomicU64,
}

impl Shared {
    pub fn new(state: State, quiet: bool) -> Shared {
        Shared {
            state: Mutex::new(state),
            stop: Arc::new(AtomicBool::new(false)),
            quiet,
            next_conn: AtomicU64::new(1),
            conns: Mutex::new(Vec::new()),
            idle_close_max: None,
            idle_closes: AtomicU64::new(0),
        }
    }

    pub fn connections_accepted(&self) -> u64 {
        self.next_conn.load(Ordering::SeqCst) - 1
    }

    /// Locks the state, recovering from a poisoned lock (a panicking thread must not wedge tests).
    pub fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn count(&self, method: &str, path_contains: &str) -> usize {
        let p = path_contains.to_ascii_lowercase();
        self.lock()
            .log
            .iter()
            .filter(|l| method.is_empty() || l.method.eq_ignore_ascii_case(method))
            .filter(|l| l.path.to_ascii_lowercase().contains(&p))
            .count()
    }

    /// Joins every connection thread (after `stop` was set).
    pub fn join_connections(&self) {
        let conns: Vec<_> =
            std::mem::take(&mut *self.conns.lock().unwrap_or_else(|e| e.into_inner()));
        for sock in conns.iter().filter_map(|(_, s)| s.as_ref()) {
            let _ = sock.shutdown(std::net::Shutdown::Both);
        }
        for (h, _) in conns {
            let _ = h.join();
        }
    }
}

pub(crate) fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    if listener.set_nonblocking(true).is_err() {
        return;
    }
    while !shared.stop.load(Ordering::SeqCst) {
        match listener.accept() {
            Ok((stream, _)) => {
                let id = shared.next_conn.fetch_add(1, Ordering::SeqCst);
                let sh = Arc::clone(&shared);
                let clone = stream.try_clone().ok();
                let spawned = std::thread::Builder::new()
                    .name(format!("cm-emulator-conn-{id}"))
                    .spawn(move || handle_connection(stream, id, sh));
                let mut conns = shared.conns.lock().unwrap_or_else(|e| e.into_inner());
                conns.retain(|(h, _)| !h.is_finished());
                if let Ok(h) = spawned {
                    conns.push((h, clone));
                }
            }
            Err(_) => std::thread::sleep(Duration::from_millis(10)),
        }
    }
}

fn redact(name: &str, value: &str) -> String {
    if name.eq_ignore_ascii_case("authorization")
        || name.eq_ignore_ascii_case("proxy-authorization")
    {
        let scheme = value.split_whitespace().next().unwrap_or("");
        format!("{scheme} \u{2026}")
    } else if name.eq_ignore_ascii_case("cookie") {
        value
            .split(';')
            .map(|c| {
                c.split_once('=').map_or(c.trim().to_string(), |(n, _)| {
                    format!("{}=\u{2026}", n.trim())
                })
            })
            .collect::<Vec<_>>()
            .join("; ")
    } else {
        value.to_string()
    }
}

fn record(shared: &Shared, conn_id: u64, head: &Head, body: &[u8], fault: Option<&FaultKind>) {
    let entry = LoggedRequest {
        connection_id: conn_id,
        method: head.method.clone(),
        path: head.target.clone(),
        headers: head
            .headers
            .iter()
            .map(|(n, v)| (n.clone(), redact(n, v)))
            .collect(),
        body: body.to_vec(),
        fault: fault.map(|f| f.name().to_string()),
    };
    shared.lock().log.push(entry);
}

fn trace(shared: &Shared, conn_id: u64, head: &Head, outcome: &str) {
    if !shared.quiet {
        eprintln!(
            "cm-emulator: [conn {conn_id}] {} {} -> {outcome}",
            head.method, head.target
        );
    }
}

/// Sleeps for `d`, waking early (and returning false) if the emulator stops.
fn sleep_unless_stopped(shared: &Shared, d: Duration) -> bool {
    let until = Instant::now() + d;
    loop {
        if shared.stop.load(Ordering::SeqCst) {
            return false;
        }
        let now = Instant::now();
        if now >= until {
            return true;
        }
        std::thread::sleep((until - now).min(Duration::from_millis(20)));
    }
}

fn success_status(head: &Head) -> u16 {
    if head.method.eq_ignore_ascii_case("POST") {
        201
    } else {
        200
    }
}

const CHALLENGE_HTML: &str = "<!DOCTYPE html PUBLIC \"-//W3C//DTD XHTML 1.0 Strict//EN\" \"http://www.w3.org/TR/xhtml1/DTD/xhtml1-strict.dtd\">\r\n\
<html xmlns=\"http://www.w3.org/1999/xhtml\">\r\n<head>\r\n<title>401 - Unauthorized: Access is denied due to invalid credentials.</title>\r\n</head>\r\n\
<body>\r\n<div id=\"header\"><h1>Server Error</h1></div>\r\n<div id=\"content\">\r\n<fieldset>\r\n\
<h2>401 - Unauthorized: Access is denied due to invalid credentials.</h2>\r\n\
<h3>You do not have permission to view this directory or page using the credentials that you supplied.</h3>\r\n\
</fieldset></div>\r\n</body>\r\n</html>\r\n";

fn handle_connection(stream: TcpStream, conn_id: u64, shared: Arc<Shared>) {
    let Ok(mut conn) = Conn::new(stream, Arc::clone(&shared.stop)) else {
        return;
    };
    let mut rng = conn_id.wrapping_mul(0x9E37_79B9_7F4A_7C15)
        ^ std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
    let mut served = 0u64;
    loop {
        // After an answer, the random idle-close mode picks how long this connection may stay idle.
        let idle_limit = shared.idle_close_max.filter(|_| served > 0).map(|max| {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            let micros = max.as_micros().max(1) as u64;
            Duration::from_micros(rng % (micros + 1))
        });
        served += 1;
        let head = match conn.read_head_within(idle_limit) {
            Ok(Some(h)) => h,
            Ok(None) if idle_limit.is_some() => {
                shared.idle_closes.fetch_add(1, Ordering::SeqCst);
                conn.close();
                return;
            }
            Ok(None) | Err(HttpError::Io) => return,
            Err(HttpError::Status(code, msg)) => {
                let _ = Response::message(code, msg).write_to(&mut conn.stream, true);
                conn.close();
                return;
            }
        };
        let is_control = control::is_control(head.path());
        let fault = if is_control {
            None
        } else {
            shared.lock().take_fault(&head.method, &head.target)
        };

        if let Some(FaultKind::CloseBeforeRead) = fault {
            record(&shared, conn_id, &head, &[], fault.as_ref());
            trace(
                &shared,
                conn_id,
                &head,
                "closed before reading (fault close_before_read)",
            );
            conn.close();
            return;
        }
        if head.expects_continue() {
            let _ = conn.stream.write_all(b"HTTP/1.1 100 Continue\r\n\r\n");
        }
        let body = match conn.read_body(&head) {
            Ok(b) => b,
            Err(HttpError::Io) => return,
            Err(HttpError::Status(code, msg)) => {
                trace(&shared, conn_id, &head, &code.to_string());
                let _ = Response::message(code, msg).write_to(&mut conn.stream, true);
                conn.close();
                return;
            }
        };
        let close = head.wants_close();

        if is_control {
            let resp = control::handle(&shared, &head, &body);
            if resp.write_to(&mut conn.stream, close).is_err() || close {
                conn.close();
                return;
            }
            continue;
        }

        record(&shared, conn_id, &head, &body, fault.as_ref());
        let apply = |sh: &Shared| api::handle(&mut sh.lock(), &head, &body);
        let fault_note = fault
            .as_ref()
            .map(|f| format!(" (fault {})", f.name()))
            .unwrap_or_default();

        let resp = match fault {
            None => apply(&shared),
            Some(FaultKind::Delay(d)) => {
                if !sleep_unless_stopped(&shared, d) {
                    conn.close();
                    return;
                }
                apply(&shared)
            }
            Some(FaultKind::Hang) => {
                trace(&shared, conn_id, &head, "hanging (fault hang)");
                conn.hang();
                conn.close();
                return;
            }
            Some(FaultKind::CloseBeforeRead) => unreachable!("handled before reading the body"),
            Some(FaultKind::CloseAfterRead { apply: do_apply }) => {
                let outcome = if do_apply {
                    let r = apply(&shared);
                    format!("applied ({}), closed without answering{fault_note}", r.status)
                } else {
                    format!("closed without answering{fault_note}")
                };
                trace(&shared, conn_id, &head, &outcome);
                conn.close();
                return;
            }
            Some(FaultKind::ServerError { correlation_id }) => Response::message(
                500,
                &format!("An error has occurred. Correlation ID: {}", correlation_id.hyphenated()),
            ),
            Some(FaultKind::Garbage) => {
                apply(&shared);
                Response::json(success_status(&head), "<<not json>> \u{1}garbage{".as_bytes())
            }
            Some(FaultKind::WrongContentType) => {
                apply(&shared);
                Response::new(
                    success_status(&head),
                    HTML,
                    "<!DOCTYPE html>\r\n<html><head><title>Certificate Management</title></head><body><p>Welcome</p></body></html>\r\n",
                )
            }
            Some(FaultKind::Status { code, body, content_type }) => Response::new(code, &content_type, body),
            Some(FaultKind::Challenge401) => Response::new(401, HTML, CHALLENGE_HTML)
                .with_header("WWW-Authenticate", "Negotiate")
                .with_header("WWW-Authenticate", "NTLM"),
            Some(FaultKind::NoContent) => {
                apply(&shared);
                Response::empty(204)
            }
            Some(FaultKind::Bom) => {
                let mut r = apply(&shared);
                if !r.body.is_empty() {
                    r.body.splice(0..0, [0xEF, 0xBB, 0xBF]);
                }
                r
            }
            Some(FaultKind::PartialResponse) => {
                let mut r = apply(&shared);
                if r.body.is_empty() {
                    r = Response::json(success_status(&head), "\"partial response body\"");
                }
                let declared = r.body.len() + 100;
                let mut bytes = r.head_bytes(false, Some(declared));
                bytes.extend_from_slice(&r.body[..r.body.len().div_ceil(2)]);
                let _ = conn.stream.write_all(&bytes);
                let _ = conn.stream.flush();
                trace(&shared, conn_id, &head, &format!("{} partial, then closed{fault_note}", r.status));
                conn.close();
                return;
            }
            Some(FaultKind::Redirect { location }) => Response::new(
                302,
                HTML,
                format!("<html><head><title>Object moved</title></head><body><h2>Object moved to <a href=\"{location}\">here</a>.</h2></body></html>\r\n"),
            )
            .with_header("Location", &location),
            Some(FaultKind::HugeBody { bytes }) => {
                apply(&shared);
                let status = success_status(&head);
                let n = bytes.max(2);
                let r = Response::json(status, Vec::new());
                let ok = conn.stream.write_all(&r.head_bytes(close, Some(n))).is_ok() && write_huge(&mut conn.stream, n);
                trace(&shared, conn_id, &head, &format!("{status} with {n} body bytes{fault_note}"));
                if !ok || close {
                    conn.close();
                    return;
                }
                continue;
            }
        };
        trace(
            &shared,
            conn_id,
            &head,
            &format!("{}{fault_note}", resp.status),
        );
        if resp.write_to(&mut conn.stream, close).is_err() || close {
            conn.close();
            return;
        }
    }
}

/// Writes a JSON string of exactly `n` bytes (`"aaa...a"`), in pieces.
fn write_huge(stream: &mut TcpStream, n: usize) -> bool {
    let piece = vec![b'a'; 64 * 1024];
    if stream.write_all(b"\"").is_err() {
        return false;
    }
    let mut left = n - 2;
    while left > 0 {
        let k = left.min(piece.len());
        if stream.write_all(&piece[..k]).is_err() {
            return false;
        }
        left -= k;
    }
    stream.write_all(b"\"").is_ok() && stream.flush().is_ok()
}
