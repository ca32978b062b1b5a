//! Fault injection, one test per kind, plus matching and `times`.

mod common;

use cm_emulator::{Config, Emulator, Fault, FaultKind, RequestStatus};
use common::*;
use std::io::Read;
use std::time::{Duration, Instant};
use uuid::Uuid;

const ATR: &str = "3b8d0180fba000000397425446590301c8";
const NIL: &str = "00000000-0000-0000-0000-000000000000";

struct Setup {
    emu: Emulator,
    req: Uuid,
    card: Uuid,
}

impl Setup {
    fn new() -> Setup {
        let emu = Emulator::start(Config {
            quiet: true,
            ..Config::default()
        })
        .unwrap();
        let req = Uuid::new_v4();
        emu.add_request(req, RequestStatus::Approved);
        Setup {
            emu,
            req,
            card: Uuid::new_v4(),
        }
    }
    fn bind_raw(&self) -> Vec<u8> {
        build(
            "POST",
            &format!("{API}/smartcards"),
            Some(&bind_body(
                &self.req.to_string(),
                &self.card.to_string(),
                ATR,
            )),
            &[],
        )
    }
    fn bind(&self) -> Resp {
        post_bind(
            self.emu.addr(),
            &self.req.to_string(),
            &self.card.to_string(),
            ATR,
        )
    }
    fn bound(&self) -> bool {
        self.emu.smartcard_for_card(self.card).is_some()
    }
    fn get_request(&self) -> Resp {
        req(
            self.emu.addr(),
            "GET",
            &format!("{API}/requests/{}", self.req),
            None,
        )
    }
}

fn smartcards_fault(kind: FaultKind) -> Fault {
    Fault::new(kind).method("POST").path("/smartcards")
}

#[test]
fn delay_then_normal_answer() {
    let s = Setup::new();
    s.emu
        .set_fault(Fault::new(FaultKind::Delay(Duration::from_millis(400))).times(1));
    let t = Instant::now();
    let r = s.bind();
    assert!(
        t.elapsed() >= Duration::from_millis(380),
        "{:?}",
        t.elapsed()
    );
    assert_eq!(r.status, 201);
    assert!(s.bound());
    let t = Instant::now();
    assert_eq!(s.get_request().status, 200);
    assert!(t.elapsed() < Duration::from_millis(300), "times=1 used up");
}

#[test]
fn hang_never_answers_and_does_not_block_shutdown() {
    let s = Setup::new();
    s.emu.set_fault(smartcards_fault(FaultKind::Hang));
    let mut c = Client::connect(s.emu.addr());
    c.stream
        .set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    c.send_raw(&s.bind_raw());
    let mut b = [0u8; 1];
    let e = c.stream.read(&mut b).unwrap_err();
    assert!(
        matches!(
            e.kind(),
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
        ),
        "{e:?}"
    );
    assert!(!s.bound(), "hang does not apply");
    assert_eq!(
        s.emu.count("POST", "/smartcards"),
        1,
        "the request was read and logged"
    );
    assert_eq!(s.emu.request_log()[0].fault.as_deref(), Some("hang"));
    // Other requests are not affected.
    assert_eq!(s.get_request().status, 200);
    let t = Instant::now();
    s.emu.shutdown();
    assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
    c.stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    assert!(c.closed_without_data());
}

#[test]
fn hang_ends_when_client_closes() {
    let s = Setup::new();
    s.emu.set_fault(Fault::new(FaultKind::Hang).times(1));
    let mut c = Client::connect(s.emu.addr());
    c.send_raw(&s.bind_raw());
    std::thread::sleep(Duration::from_millis(100));
    drop(c);
    std::thread::sleep(Duration::from_millis(200));
    // The emulator keeps serving; shutdown is quick.
    assert_eq!(s.get_request().status, 200);
}

#[test]
fn close_before_read_processes_nothing() {
    let s = Setup::new();
    s.emu
        .set_fault(smartcards_fault(FaultKind::CloseBeforeRead).times(1));
    let mut c = Client::connect(s.emu.addr());
    c.send_raw(&s.bind_raw());
    assert!(c.read_response().is_err());
    assert!(!s.bound());
    assert_eq!(
        s.emu.request_log()[0].fault.as_deref(),
        Some("close_before_read")
    );
    assert!(s.emu.request_log()[0].body.is_empty());
    // Retry succeeds (times=1).
    assert_eq!(s.bind().status, 201);
}

#[test]
fn close_after_read_without_apply() {
    let s = Setup::new();
    s.emu
        .set_fault(smartcards_fault(FaultKind::CloseAfterRead { apply: false }).times(1));
    let mut c = Client::connect(s.emu.addr());
    c.send_raw(&s.bind_raw());
    assert!(c.closed_without_data());
    assert!(!s.bound());
    assert!(!s.emu.request_log()[0].body.is_empty(), "the body was read");
    assert_eq!(s.bind().status, 201);
}

#[test]
fn close_after_read_with_apply_is_outcome_unknown() {
    let s = Setup::new();
    s.emu
        .set_fault(smartcards_fault(FaultKind::CloseAfterRead { apply: true }).times(1));
    let mut c = Client::connect(s.emu.addr());
    c.send_raw(&s.bind_raw());
    assert!(c.closed_without_data());
    assert!(s.bound(), "applied");
    let sc = s.emu.smartcard_for_card(s.card).unwrap();
    assert_eq!(s.get_request().json()["NewSmartcardUuid"], sc["Uuid"]);
    // A blind retry now gets 403 (request already bound).
    assert_eq!(s.bind().status, 403);
}

#[test]
fn server_error_carries_correlation_id() {
    let s = Setup::new();
    let cid = Uuid::new_v4();
    s.emu.set_fault(smartcards_fault(FaultKind::ServerError {
        correlation_id: cid,
    }));
    let r = s.bind();
    assert_eq!(r.status, 500);
    assert!(r.is_json_ct());
    assert_eq!(
        r.json()["Message"],
        format!("An error has occurred. Correlation ID: {cid}")
    );
    assert!(!s.bound());
    // Unlimited: still failing.
    assert_eq!(s.bind().status, 500);
    // GET is not matched by a POST fault.
    assert_eq!(s.get_request().status, 200);
    s.emu.clear_faults();
    assert_eq!(s.bind().status, 201);
}

#[test]
fn garbage_body_with_success_status() {
    let s = Setup::new();
    s.emu.set_fault(Fault::new(FaultKind::Garbage).times(2));
    let r = s.bind();
    assert_eq!(r.status, 201);
    assert!(serde_json::from_slice::<serde_json::Value>(&r.body).is_err());
    assert!(s.bound());
    let r = s.get_request();
    assert_eq!(r.status, 200);
    assert!(serde_json::from_slice::<serde_json::Value>(&r.body).is_err());
}

#[test]
fn wrong_content_type() {
    let s = Setup::new();
    s.emu
        .set_fault(Fault::new(FaultKind::WrongContentType).times(1));
    let r = s.bind();
    assert_eq!(r.status, 201);
    assert_eq!(r.header("content-type"), Some("text/html"));
    assert!(r.text().contains("<html"));
}

#[test]
fn arbitrary_status() {
    let s = Setup::new();
    s.emu.set_fault(Fault::new(FaultKind::Status {
        code: 503,
        body: "busy".into(),
        content_type: "text/plain".into(),
    }));
    let r = s.bind();
    assert_eq!(r.status, 503);
    assert_eq!(r.text(), "busy");
    assert_eq!(r.header("content-type"), Some("text/plain"));
    assert!(!s.bound());
}

#[test]
fn challenge_401_has_two_www_authenticate_headers() {
    let s = Setup::new();
    s.emu
        .set_fault(Fault::new(FaultKind::Challenge401).times(1));
    let mut c = Client::connect(s.emu.addr());
    c.send_raw(&s.bind_raw());
    let r = c.read_response().unwrap();
    assert_eq!(r.status, 401);
    assert_eq!(r.all("www-authenticate"), vec!["Negotiate", "NTLM"]);
    assert_eq!(r.header("content-type"), Some("text/html"));
    assert!(!s.bound());
    // The connection stays open for the authenticated retry (as with IIS).
    c.send_raw(&s.bind_raw());
    assert_eq!(c.read_response().unwrap().status, 201);
}

#[test]
fn no_content_applies() {
    let s = Setup::new();
    s.emu.set_fault(smartcards_fault(FaultKind::NoContent));
    let r = s.bind();
    assert_eq!(r.status, 204);
    assert!(r.body.is_empty());
    assert!(s.bound());
}

#[test]
fn partial_response_applies_then_truncates() {
    let s = Setup::new();
    s.emu
        .set_fault(smartcards_fault(FaultKind::PartialResponse));
    let mut c = Client::connect(s.emu.addr());
    c.send_raw(&s.bind_raw());
    let mut all = Vec::new();
    c.stream.read_to_end(&mut all).unwrap();
    let text = String::from_utf8_lossy(&all);
    assert!(text.starts_with("HTTP/1.1 201 "), "{text}");
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    let cl: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("Content-Length: "))
        .unwrap()
        .parse()
        .unwrap();
    assert!(body.len() < cl, "{} < {cl}", body.len());
    assert!(s.bound());
}

#[test]
fn redirect() {
    let s = Setup::new();
    s.emu.set_fault(Fault::new(FaultKind::Redirect {
        location: "http://127.0.0.1:1/elsewhere".into(),
    }));
    let r = s.bind();
    assert_eq!(r.status, 302);
    assert_eq!(r.header("location"), Some("http://127.0.0.1:1/elsewhere"));
    assert!(!s.bound());
}

#[test]
fn huge_body() {
    let s = Setup::new();
    s.emu
        .set_fault(smartcards_fault(FaultKind::HugeBody { bytes: 3_000_000 }).times(1));
    let r = s.bind();
    assert_eq!(r.status, 201);
    assert_eq!(r.body.len(), 3_000_000);
    assert_eq!(r.header("content-length"), Some("3000000"));
    assert!(r.json().as_str().unwrap().len() == 2_999_998);
    assert!(s.bound());
    // A client that gives up early does not hurt the server.
    s.emu
        .set_fault(Fault::new(FaultKind::HugeBody { bytes: 50_000_000 }).times(1));
    let mut c = Client::connect(s.emu.addr());
    c.send_raw(&build("GET", &format!("{API}/requests"), None, &[]));
    let mut first = [0u8; 1024];
    c.stream.read_exact(&mut first).unwrap();
    drop(c);
    assert_eq!(s.get_request().status, 200);
}

#[test]
fn times_counts_down_and_first_match_wins() {
    let s = Setup::new();
    let cid = Uuid::new_v4();
    s.emu.set_fault(
        Fault::new(FaultKind::ServerError {
            correlation_id: cid,
        })
        .method("get")
        .path("/REQUESTS/")
        .times(2),
    );
    s.emu.add_fault(
        Fault::new(FaultKind::Status {
            code: 418,
            body: String::new(),
            content_type: "text/plain".into(),
        })
        .method("GET"),
    );
    assert_eq!(s.get_request().status, 500);
    assert_eq!(s.emu.faults()[0].times, Some(1));
    assert_eq!(s.get_request().status, 500);
    assert_eq!(s.emu.faults().len(), 1, "exhausted fault removed");
    // Now the second fault matches.
    assert_eq!(s.get_request().status, 418);
    // POST matches neither.
    assert_eq!(s.bind().status, 201);
    s.emu.clear_faults();
    assert_eq!(s.get_request().status, 200);
    // set_fault replaces the list.
    s.emu.add_fault(Fault::new(FaultKind::Garbage));
    s.emu.set_fault(Fault::new(FaultKind::NoContent).times(1));
    assert_eq!(s.emu.faults().len(), 1);
}

#[test]
fn control_endpoints_are_never_faulted() {
    let s = Setup::new();
    s.emu.set_fault(Fault::new(FaultKind::CloseBeforeRead));
    let r = req(
        s.emu.addr(),
        "GET",
        "/_emulator/count?method=POST&path=/smartcards",
        None,
    );
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["count"], 0);
    let r = req(s.emu.addr(), "DELETE", "/_emulator/faults", None);
    assert_eq!(r.status, 204);
    assert_eq!(s.bind().status, 201);
    assert_ne!(s.get_request().json()["NewSmartcardUuid"], NIL);
}

#[test]
fn faults_from_config() {
    let emu = Emulator::start(Config {
        quiet: true,
        faults: vec![Fault::parse_spec("503:GET::1").unwrap()],
        ..Config::default()
    })
    .unwrap();
    assert_eq!(
        req(emu.addr(), "GET", &format!("{API}/requests"), None).status,
        503
    );
    assert_eq!(
        req(emu.addr(), "GET", &format!("{API}/requests"), None).status,
        200
    );
}

#[test]
fn shutdown_is_prompt_while_writing_to_a_client_that_does_not_read() {
    let s = Setup::new();
    s.emu
        .set_fault(Fault::new(FaultKind::HugeBody { bytes: 200_000_000 }));
    let mut c = Client::connect(s.emu.addr());
    c.send_raw(&build("GET", &format!("{API}/requests"), None, &[]));
    std::thread::sleep(Duration::from_millis(300)); // the server fills the socket buffers and blocks
    let t = Instant::now();
    s.emu.shutdown();
    assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
    drop(c);
}
