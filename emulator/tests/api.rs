//! The emulated CM API, over a raw TCP client.

mod common;

use cm_emulator::{Config, Emulator, RequestStatus, SeedRequest};
use common::*;
use serde_json::Value;
use uuid::Uuid;

const ATR: &str = "3b8d0180fba000000397425446590301c8";
const NIL: &str = "00000000-0000-0000-0000-000000000000";

fn emu_with(req: Uuid, status: RequestStatus) -> Emulator {
    Emulator::start(Config {
        requests: vec![SeedRequest { uuid: req, status }],
        quiet: true,
        ..Config::default()
    })
    .unwrap()
}

fn smartcard_uuid_from(resp: &Resp) -> Uuid {
    let s = resp.json();
    let s = s.as_str().expect("body is a JSON string");
    let id = s
        .strip_prefix("api/v1.0/smartcards/")
        .unwrap_or_else(|| panic!("unexpected location {s}"));
    Uuid::parse_str(id).unwrap()
}

#[test]
fn bind_happy_path() {
    let req = Uuid::new_v4();
    let card = Uuid::new_v4();
    let emu = emu_with(req, RequestStatus::Approved);
    let addr = emu.addr();
    assert!(emu.base_url().starts_with("http://127.0.0.1:"));
    assert!(!emu.base_url().contains("CertificateManagement"));

    // Before binding: the request is Approved with no card.
    let r = req_get(addr, &format!("{API}/requests/{req}"));
    assert_eq!(r.status, 200);
    assert!(r.is_json_ct());
    let j = r.json();
    assert_eq!(j["Status"], 3);
    assert_eq!(j["NewSmartcardUuid"], NIL);
    assert_eq!(j["Completed"], "0001-01-01T00:00:00");

    let r = post_bind(addr, &req.to_string(), &card.to_string(), ATR);
    assert_eq!(r.status, 201, "{}", r.text());
    assert!(r.is_json_ct());
    assert!(
        r.text().starts_with("\"api/v1.0/smartcards/"),
        "{}",
        r.text()
    );
    let sc = smartcard_uuid_from(&r);
    assert_ne!(sc, card, "the new Uuid is CM's, not the card id");

    let r = req_get(addr, &format!("{API}/smartcards/{sc}"));
    assert_eq!(r.status, 200);
    let j = r.json();
    assert_eq!(j["Uuid"], sc.to_string());
    assert_eq!(j["SerialNumber"], format!("{{{card}}}"));
    assert_eq!(j["Middleware"], "MSBaseCSP");
    assert_eq!(j["Atr"], ATR);
    assert_eq!(j["Status"], 2);
    assert_eq!(j["Flags"], 1);
    assert_eq!(j["ProfileTemplateVersion"], 46);
    assert_eq!(j["Comment"], "");
    for k in [
        "ParentSmartcardUuid",
        "PrimarySmartcardUuid",
        "PermanentSmartcardUuid",
    ] {
        assert_eq!(j[k], NIL, "{k}");
    }
    // Field order follows the documentation (Uuid first).
    assert!(r.text().starts_with("{\"Uuid\":"), "{}", r.text());

    let rj = req_get(addr, &format!("{API}/requests/{req}")).json();
    assert_eq!(rj["NewSmartcardUuid"], sc.to_string());
    assert_eq!(j["AssignedUserUuid"], rj["TargetUserUuid"]);
    assert_eq!(j["ProfileTemplateUuid"], rj["ProfileTemplateUuid"]);

    // In-process accessors agree.
    assert_eq!(
        emu.smartcard_for_card(card).unwrap()["Uuid"],
        sc.to_string()
    );
    assert_eq!(
        emu.request_json(req).unwrap()["NewSmartcardUuid"],
        sc.to_string()
    );
    assert_eq!(emu.count("POST", "/smartcards"), 1);
    assert_eq!(emu.count("post", "/SMARTCARDS"), 1);
    assert_eq!(emu.count("GET", "/requests/"), 2);

    // Lookup by card id, in another GUID form.
    let r = req_get(
        addr,
        &format!(
            "{API}/smartcards?cardid=%7B{}%7D",
            card.to_string().to_uppercase()
        ),
    );
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["Uuid"], sc.to_string());
    let r = req_get(addr, &format!("{API}/smartcards?cardid={}", Uuid::new_v4()));
    assert_eq!(r.status, 204);
    let r = req_get(addr, &format!("{API}/smartcards"));
    assert_eq!(r.status, 200);
    assert_eq!(r.json().as_array().unwrap().len(), 1);
}

fn req_get(addr: std::net::SocketAddr, path: &str) -> Resp {
    req(addr, "GET", path, None)
}

#[test]
fn request_object_shape() {
    let req = Uuid::new_v4();
    let emu = emu_with(req, RequestStatus::Approved);
    let r = req_get(emu.addr(), &format!("{API}/requests/{}", req.simple()));
    assert_eq!(r.status, 200);
    let j = r.json();
    for k in [
        "Uuid",
        "RequestType",
        "Status",
        "Flags",
        "DataCollectionFlags",
        "Priority",
        "DataCollection",
        "OriginatorUserUuid",
        "TargetUserUuid",
        "ProfileTemplateUuid",
        "NewProfileUuid",
        "OldProfileUuid",
        "NewSmartcardUuid",
        "OldSmartcardUuid",
        "Submitted",
        "Completed",
        "Comment",
        "SecurityDescriptor",
        "IsSmartcard",
        "IsEnrollmentAgent",
        "IsDataCollectionComplete",
    ] {
        assert!(j.get(k).is_some(), "missing {k}");
    }
    assert_eq!(j.as_object().unwrap().len(), 21);
    assert_eq!(j["Uuid"], req.to_string());
    assert_eq!(j["RequestType"], 1);
    assert_eq!(j["IsSmartcard"], true);
    assert_eq!(j["DataCollection"], Value::Array(vec![]));
    assert!(
        j["SecurityDescriptor"]
            .as_str()
            .unwrap()
            .ends_with("\u{0}\u{0}")
    );
    assert!(r.text().contains("\\u0000\\u0000\""), "{}", r.text());
    let submitted = j["Submitted"].as_str().unwrap();
    assert!(
        submitted.ends_with('Z') && submitted.starts_with("20"),
        "{submitted}"
    );
}

#[test]
fn prefix_is_case_insensitive_and_guid_forms_accepted() {
    let req = Uuid::new_v4();
    let card = Uuid::new_v4();
    let emu = emu_with(req, RequestStatus::Executing);
    let body = format!(
        "{{\"RequestId\":\"{{{}}}\",\"CARDID\":\"{}\",\"Atr\":\"3B8D0180FBA000000397425446590301C8\"}}",
        req.to_string().to_uppercase(),
        card.simple().to_string().to_uppercase()
    );
    let r = common::req(
        emu.addr(),
        "POST",
        "/certificatemanagement/API/V1.0/SmartCards",
        Some(&body),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let sc = emu.smartcard_for_card(card).unwrap();
    assert_eq!(sc["SerialNumber"], format!("{{{card}}}"));
    assert_eq!(sc["Atr"], ATR, "ATR lowercased");
    let r = req_get(
        emu.addr(),
        &format!("/CERTIFICATEMANAGEMENT/api/v1.0/Requests/{{{req}}}"),
    );
    assert_eq!(r.status, 200);
}

#[test]
fn atr_is_optional() {
    let req = Uuid::new_v4();
    let card = Uuid::new_v4();
    let emu = emu_with(req, RequestStatus::Approved);
    let body = format!("{{\"requestid\":\"{req}\",\"cardid\":\"{card}\"}}");
    let r = common::req(
        emu.addr(),
        "POST",
        &format!("{API}/smartcards"),
        Some(&body),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(emu.smartcard_for_card(card).unwrap()["Atr"], "");
}

#[test]
fn forbidden_cases() {
    let approved = Uuid::new_v4();
    let other = Uuid::new_v4();
    let pending = Uuid::new_v4();
    let card = Uuid::new_v4();
    let emu = Emulator::start(Config {
        requests: vec![
            SeedRequest {
                uuid: approved,
                status: RequestStatus::Approved,
            },
            SeedRequest {
                uuid: other,
                status: RequestStatus::Approved,
            },
            SeedRequest {
                uuid: pending,
                status: RequestStatus::Pending,
            },
        ],
        quiet: true,
        ..Config::default()
    })
    .unwrap();
    let a = emu.addr();
    let msg = |r: &Resp| r.json()["Message"].as_str().unwrap_or_default().to_string();

    // Unknown request.
    let r = post_bind(a, &Uuid::new_v4().to_string(), &card.to_string(), ATR);
    assert_eq!(r.status, 403);
    assert!(r.is_json_ct());
    assert!(!msg(&r).is_empty());
    // Pending request.
    let r = post_bind(a, &pending.to_string(), &card.to_string(), ATR);
    assert_eq!(r.status, 403);
    assert!(msg(&r).contains("Pending"), "{}", msg(&r));
    // Every non-Approved/Executing status is refused.
    for st in RequestStatus::ALL {
        if matches!(st, RequestStatus::Approved | RequestStatus::Executing) {
            continue;
        }
        emu.add_request(pending, st);
        assert_eq!(
            post_bind(a, &pending.to_string(), &card.to_string(), ATR).status,
            403,
            "{st}"
        );
    }
    assert_eq!(
        emu.smartcard_for_card(card),
        None,
        "nothing bound by refused requests"
    );

    // First bind works; binding the same request again fails; reusing the card fails.
    assert_eq!(
        post_bind(a, &approved.to_string(), &card.to_string(), ATR).status,
        201
    );
    let r = post_bind(a, &approved.to_string(), &Uuid::new_v4().to_string(), ATR);
    assert_eq!(r.status, 403);
    assert!(msg(&r).contains("already"), "{}", msg(&r));
    let r = post_bind(a, &other.to_string(), &card.to_string().to_uppercase(), ATR);
    assert_eq!(r.status, 403);
    assert_eq!(emu.request_json(other).unwrap()["NewSmartcardUuid"], NIL);
}

#[test]
fn bad_requests() {
    let req = Uuid::new_v4();
    let emu = emu_with(req, RequestStatus::Approved);
    let a = emu.addr();
    let path = format!("{API}/smartcards");
    let card = Uuid::new_v4();
    for body in [
        "not json".to_string(),
        "{\"requestid\":".to_string(),
        "[]".to_string(),
        format!("{{\"cardid\":\"{card}\"}}"),
        format!("{{\"requestid\":\"{req}\"}}"),
        format!("{{\"requestid\":\"{req}\",\"cardid\":\"xyz\"}}"),
        format!("{{\"requestid\":\"{req}\",\"cardid\":42}}"),
        format!("{{\"requestid\":\"{req}\",\"cardid\":\"{card}\",\"atr\":17}}"),
        format!("{{\"requestid\":\"urn:uuid:{req}\",\"cardid\":\"{card}\"}}"),
        format!("{{\"requestid\":\"{req}\",\"cardid\":\"{card}\",}}"),
    ] {
        let r = common::req(a, "POST", &path, Some(&body));
        assert_eq!(r.status, 400, "{body} -> {}", r.text());
        assert!(r.json()["Message"].is_string());
    }
    // Wrong media type.
    let body = bind_body(&req.to_string(), &card.to_string(), ATR);
    let r = Client::connect(a).request(
        "POST",
        &path,
        Some(&body),
        &[("Content-Type", "text/plain")],
    );
    assert_eq!(r.status, 415);
    assert_eq!(emu.smartcard_for_card(card), None);
    // Charset parameter is fine.
    let r = Client::connect(a).request(
        "POST",
        &path,
        Some(&body),
        &[("Content-Type", "application/json; charset=utf-8")],
    );
    assert_eq!(r.status, 201);
    // Bad GUIDs in URLs and queries.
    assert_eq!(req_get(a, &format!("{API}/requests/nope")).status, 400);
    assert_eq!(req_get(a, &format!("{API}/smartcards/nope")).status, 400);
    assert_eq!(
        req_get(a, &format!("{API}/smartcards?cardid=nope")).status,
        400
    );
    assert_eq!(
        req_get(a, &format!("{API}/requests?status=Weird")).status,
        400
    );
}

#[test]
fn no_content_for_unknown_things() {
    let emu = Emulator::start(Config {
        quiet: true,
        ..Config::default()
    })
    .unwrap();
    for p in [
        format!("{API}/smartcards/{}", Uuid::new_v4()),
        format!("{API}/requests/{}", Uuid::new_v4()),
    ] {
        let r = req_get(emu.addr(), &p);
        assert_eq!(r.status, 204, "{p}");
        assert!(r.body.is_empty());
    }
}

#[test]
fn not_found_and_method_not_allowed() {
    let emu = Emulator::start(Config {
        quiet: true,
        ..Config::default()
    })
    .unwrap();
    let a = emu.addr();
    // Outside the prefix: IIS-like HTML.
    for p in [
        "/",
        "/CertificateManagement",
        "/CertificateManagement/api/v2.0/smartcards",
        "/other",
    ] {
        let r = req_get(a, p);
        assert_eq!(r.status, 404, "{p}");
        assert_eq!(r.header("content-type"), Some("text/html"), "{p}");
    }
    // Unknown route inside the prefix: JSON Message.
    let r = req_get(a, &format!("{API}/nothing/here"));
    assert_eq!(r.status, 404);
    assert!(
        r.json()["Message"]
            .as_str()
            .unwrap()
            .contains("No HTTP resource")
    );
    // Wrong methods.
    let r = common::req(a, "DELETE", &format!("{API}/smartcards"), None);
    assert_eq!(r.status, 405);
    assert_eq!(r.header("allow"), Some("GET, POST"));
    let r = common::req(
        a,
        "POST",
        &format!("{API}/requests/{}", Uuid::new_v4()),
        Some("{}"),
    );
    assert_eq!(r.status, 405);
    assert_eq!(
        common::req(
            a,
            "PUT",
            &format!("{API}/smartcards/{}", Uuid::new_v4()),
            Some("{}")
        )
        .status,
        405
    );
}

#[test]
fn api_disabled_gives_404_everywhere() {
    let req = Uuid::new_v4();
    let emu = Emulator::start(Config {
        api_disabled: true,
        requests: vec![SeedRequest::approved(req)],
        quiet: true,
        ..Config::default()
    })
    .unwrap();
    let a = emu.addr();
    let r = post_bind(a, &req.to_string(), &Uuid::new_v4().to_string(), ATR);
    assert_eq!(r.status, 404);
    assert_eq!(r.header("content-type"), Some("text/html"));
    assert_eq!(req_get(a, &format!("{API}/requests/{req}")).status, 404);
    assert_eq!(req_get(a, &format!("{API}/nothing")).status, 404);
    assert!(emu.request_json(req).unwrap()["NewSmartcardUuid"] == NIL);
    emu.set_api_disabled(false);
    assert_eq!(req_get(a, &format!("{API}/requests/{req}")).status, 200);
    emu.set_api_disabled(true);
    assert_eq!(req_get(a, &format!("{API}/requests/{req}")).status, 404);
}

#[test]
fn put_request_status() {
    let req = Uuid::new_v4();
    let emu = emu_with(req, RequestStatus::Approved);
    let a = emu.addr();
    let path = format!("{API}/requests/{req}");
    assert_eq!(
        common::req(a, "PUT", &path, Some("{\"status\":\"Bogus\"}")).status,
        400
    );
    assert_eq!(
        common::req(a, "PUT", &path, Some("{\"status\":\"Approved\"}")).status,
        400
    );
    assert_eq!(common::req(a, "PUT", &path, Some("{}")).status, 400);
    let r = common::req(a, "PUT", &path, Some("{\"status\":\"Completed\"}"));
    assert_eq!(r.status, 200, "{}", r.text());
    let j = r.json();
    assert_eq!(j["Status"], 8);
    let completed = j["Completed"].as_str().unwrap();
    assert!(
        completed.starts_with("20") && completed.ends_with('Z'),
        "{completed}"
    );
    assert_eq!(emu.request_status(req), Some(RequestStatus::Completed));
    // A completed request cannot be canceled or completed again.
    assert_eq!(
        common::req(a, "PUT", &path, Some("{\"status\":\"Canceled\"}")).status,
        403
    );
    // Unknown request.
    let p2 = format!("{API}/requests/{}", Uuid::new_v4());
    assert_eq!(
        common::req(a, "PUT", &p2, Some("{\"status\":\"Completed\"}")).status,
        403
    );
    // Cancel and abandon (case-insensitive names).
    let r2 = Uuid::new_v4();
    emu.add_request(r2, RequestStatus::Pending);
    let r = common::req(
        a,
        "PUT",
        &format!("{API}/requests/{r2}"),
        Some("{\"STATUS\":\"canceled\"}"),
    );
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["Status"], RequestStatus::Canceled.code());
    let r3 = Uuid::new_v4();
    emu.add_request(r3, RequestStatus::Approved);
    let r = common::req(
        a,
        "PUT",
        &format!("{API}/requests/{r3}"),
        Some("{\"status\":\"Abandoned\"}"),
    );
    assert_eq!(r.json()["Status"], RequestStatus::Abandoned.code());
    // Completed requires Approved or Executing.
    let r4 = Uuid::new_v4();
    emu.add_request(r4, RequestStatus::Pending);
    assert_eq!(
        common::req(
            a,
            "PUT",
            &format!("{API}/requests/{r4}"),
            Some("{\"status\":\"Completed\"}")
        )
        .status,
        403
    );
}

#[test]
fn list_requests_with_status_filter() {
    let emu = Emulator::start(Config {
        quiet: true,
        ..Config::default()
    })
    .unwrap();
    let (r1, r2, r3) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
    emu.add_request(r1, RequestStatus::Approved);
    emu.add_request(r2, RequestStatus::Pending);
    emu.add_request(r3, RequestStatus::Approved);
    let r = req_get(emu.addr(), &format!("{API}/requests"));
    assert_eq!(r.json().as_array().unwrap().len(), 3);
    let r = req_get(
        emu.addr(),
        &format!("{API}/requests?targetuser=current&status=approved"),
    );
    let arr = r.json();
    let ids: Vec<&str> = arr
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["Uuid"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec![r1.to_string(), r3.to_string()]);
    let r = req_get(emu.addr(), &format!("{API}/requests?status=Completed"));
    assert_eq!(r.json(), Value::Array(vec![]));
}

#[test]
fn keep_alive_serves_several_requests_on_one_connection() {
    let req = Uuid::new_v4();
    let emu = emu_with(req, RequestStatus::Approved);
    let mut c = Client::connect(emu.addr());
    let r = c.request("GET", &format!("{API}/requests/{req}"), None, &[]);
    assert_eq!(r.status, 200);
    assert!(r.header("connection").is_none());
    let body = bind_body(&req.to_string(), &Uuid::new_v4().to_string(), ATR);
    let r = c.request("POST", &format!("{API}/smartcards"), Some(&body), &[]);
    assert_eq!(r.status, 201);
    let r = c.request(
        "GET",
        &format!("{API}/smartcards/{}", Uuid::new_v4()),
        None,
        &[],
    );
    assert_eq!(r.status, 204);
    // Pipelined: two requests written at once.
    let mut two = build("GET", &format!("{API}/requests/{req}"), None, &[]);
    two.extend(build("GET", "/nowhere", None, &[]));
    c.send_raw(&two);
    assert_eq!(c.read_response().unwrap().status, 200);
    assert_eq!(c.read_response().unwrap().status, 404);
    // Connection: close is honoured.
    let r = c.request(
        "GET",
        &format!("{API}/requests/{req}"),
        None,
        &[("Connection", "close")],
    );
    assert_eq!(r.header("connection"), Some("close"));
    assert!(c.closed_without_data());

    let log = emu.request_log();
    assert_eq!(log.len(), 6);
    assert!(log.iter().all(|l| l.connection_id == log[0].connection_id));
    // A new connection gets a new id.
    req_get(emu.addr(), "/x");
    let log = emu.request_log();
    assert_ne!(log[6].connection_id, log[0].connection_id);
}

#[test]
fn http10_closes_by_default() {
    let emu = Emulator::start(Config {
        quiet: true,
        ..Config::default()
    })
    .unwrap();
    let mut c = Client::connect(emu.addr());
    c.send_raw(b"GET /x HTTP/1.0\r\n\r\n");
    let r = c.read_response().unwrap();
    assert_eq!(r.status, 404);
    assert!(c.closed_without_data());
}

#[test]
fn chunked_request_body() {
    let req = Uuid::new_v4();
    let card = Uuid::new_v4();
    let emu = emu_with(req, RequestStatus::Approved);
    let body = bind_body(&req.to_string(), &card.to_string(), ATR);
    let (p1, p2) = body.split_at(10);
    let raw = format!(
        "POST {API}/smartcards HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n\
         {:x};ext=1\r\n{p1}\r\n{:X}\r\n{p2}\r\n0\r\nX-Trailer: y\r\n\r\n",
        p1.len(),
        p2.len()
    );
    let mut c = Client::connect(emu.addr());
    c.send_raw(raw.as_bytes());
    let r = c.read_response().unwrap();
    assert_eq!(r.status, 201, "{}", r.text());
    assert!(emu.smartcard_for_card(card).is_some());
    assert_eq!(emu.request_log()[0].body, body.as_bytes());
    // The connection stays usable after a chunked body.
    let r = c.request("GET", &format!("{API}/requests/{req}"), None, &[]);
    assert_eq!(r.status, 200);
}

#[test]
fn expect_continue_and_size_cap() {
    let req = Uuid::new_v4();
    let emu = emu_with(req, RequestStatus::Approved);
    let body = bind_body(&req.to_string(), &Uuid::new_v4().to_string(), ATR);
    let mut c = Client::connect(emu.addr());
    let head = format!(
        "POST {API}/smartcards HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\nExpect: 100-continue\r\n\r\n",
        body.len()
    );
    c.send_raw(head.as_bytes());
    // The interim 100 arrives before we send the body.
    let mut buf = [0u8; 25];
    std::io::Read::read_exact(&mut c.stream, &mut buf).unwrap();
    assert_eq!(&buf, b"HTTP/1.1 100 Continue\r\n\r\n");
    c.send_raw(body.as_bytes());
    assert_eq!(c.read_response().unwrap().status, 201);

    // Over 1 MiB: 413 without reading the body.
    let mut c = Client::connect(emu.addr());
    c.send_raw(
        format!("POST {API}/smartcards HTTP/1.1\r\nHost: x\r\nContent-Length: 2000000\r\n\r\n")
            .as_bytes(),
    );
    assert_eq!(c.read_response().unwrap().status, 413);

    // Malformed request line.
    let mut c = Client::connect(emu.addr());
    c.send_raw(b"GARBAGE\r\n\r\n");
    assert_eq!(c.read_response().unwrap().status, 400);
}

#[test]
fn log_redacts_authorization() {
    let emu = Emulator::start(Config {
        quiet: true,
        ..Config::default()
    })
    .unwrap();
    let mut c = Client::connect(emu.addr());
    c.request(
        "GET",
        &format!("{API}/requests"),
        None,
        &[
            ("Authorization", "Negotiate YIIGhgYGKwYBBQUCoIIGejCCBnag"),
            ("Cookie", "s=secret1; t=secret2"),
        ],
    );
    let log = emu.request_log();
    assert_eq!(log[0].header("authorization"), Some("Negotiate \u{2026}"));
    assert_eq!(log[0].header("cookie"), Some("s=\u{2026}; t=\u{2026}"));
    let dump = format!("{log:?}");
    assert!(!dump.contains("YIIG") && !dump.contains("secret"));
}

#[test]
fn shutdown_is_prompt_and_frees_the_port() {
    let emu = Emulator::start(Config {
        quiet: true,
        ..Config::default()
    })
    .unwrap();
    let a = emu.addr();
    // An idle keep-alive connection must not block shutdown.
    let mut c = Client::connect(a);
    assert_eq!(c.request("GET", "/x", None, &[]).status, 404);
    let t = std::time::Instant::now();
    emu.shutdown();
    assert!(
        t.elapsed() < std::time::Duration::from_secs(2),
        "{:?}",
        t.elapsed()
    );
    assert!(c.closed_without_data());
    assert!(std::net::TcpStream::connect(a).is_err());
}
