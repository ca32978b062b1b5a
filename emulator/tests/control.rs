//! Control endpoints under /_emulator/.

mod common;

use cm_emulator::{Config, Emulator, RequestStatus};
use common::*;
use uuid::Uuid;

fn emu() -> Emulator {
    Emulator::start(Config {
        quiet: true,
        ..Config::default()
    })
    .unwrap()
}

#[test]
fn add_request_then_bind() {
    let e = emu();
    let a = e.addr();
    let id = Uuid::new_v4();
    let r = req(
        a,
        "POST",
        "/_emulator/requests",
        Some(&format!("{{\"uuid\":\"{id}\",\"status\":\"pending\"}}")),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(r.json()["Uuid"], id.to_string());
    assert_eq!(r.json()["Status"], RequestStatus::Pending.code());
    assert_eq!(e.request_status(id), Some(RequestStatus::Pending));
    // Re-adding resets the status (default Approved).
    let r = req(
        a,
        "POST",
        "/_emulator/requests",
        Some(&format!("{{\"uuid\":\"{id}\"}}")),
    );
    assert_eq!(r.json()["Status"], 3);
    assert_eq!(
        post_bind(a, &id.to_string(), &Uuid::new_v4().to_string(), "3b00").status,
        201
    );
    // uuid optional: one is generated.
    let r = req(a, "POST", "/_emulator/requests", Some("{}"));
    assert_eq!(r.status, 201);
    assert!(Uuid::parse_str(r.json()["Uuid"].as_str().unwrap()).is_ok());
    // Errors.
    assert_eq!(
        req(a, "POST", "/_emulator/requests", Some("{\"uuid\":\"x\"}")).status,
        400
    );
    assert_eq!(
        req(
            a,
            "POST",
            "/_emulator/requests",
            Some("{\"status\":\"Weird\"}")
        )
        .status,
        400
    );
    assert_eq!(
        req(a, "POST", "/_emulator/requests", Some("nope")).status,
        400
    );
    // Listing.
    assert_eq!(
        req(a, "GET", "/_emulator/requests", None)
            .json()
            .as_array()
            .unwrap()
            .len(),
        2
    );
    assert_eq!(
        req(a, "GET", "/_emulator/smartcards", None)
            .json()
            .as_array()
            .unwrap()
            .len(),
        1
    );
    // Control requests are not logged.
    assert_eq!(e.request_log().len(), 1);
}

#[test]
fn faults_via_control() {
    let e = emu();
    let a = e.addr();
    let id = Uuid::new_v4();
    e.add_request(id, RequestStatus::Approved);
    let card = Uuid::new_v4();
    let f = r#"{"kind":"close_after_read","apply":true,"method":"POST","path_contains":"/smartcards","times":1}"#;
    assert_eq!(req(a, "POST", "/_emulator/faults", Some(f)).status, 204);
    let mut c = Client::connect(a);
    c.send_raw(&build(
        "POST",
        &format!("{API}/smartcards"),
        Some(&bind_body(&id.to_string(), &card.to_string(), "")),
        &[],
    ));
    assert!(c.closed_without_data());
    assert!(e.smartcard_for_card(card).is_some());
    assert!(e.faults().is_empty());

    // Array and spec forms.
    let body = r#"[{"kind":"server_error","correlation_id":"{11111111-2222-3333-4444-555555555555}","times":1},{"spec":"418:GET"}]"#;
    assert_eq!(req(a, "POST", "/_emulator/faults", Some(body)).status, 204);
    let r = req(a, "GET", &format!("{API}/requests"), None);
    assert_eq!(r.status, 500);
    assert!(r.text().contains("11111111-2222-3333-4444-555555555555"));
    assert_eq!(req(a, "GET", &format!("{API}/requests"), None).status, 418);
    assert_eq!(req(a, "DELETE", "/_emulator/faults", None).status, 204);
    assert_eq!(req(a, "GET", &format!("{API}/requests"), None).status, 200);

    // Every kind has a JSON form.
    for k in [
        r#"{"kind":"delay","ms":1}"#,
        r#"{"kind":"hang"}"#,
        r#"{"kind":"close_before_read"}"#,
        r#"{"kind":"close_after_read"}"#,
        r#"{"kind":"server_error"}"#,
        r#"{"kind":"garbage"}"#,
        r#"{"kind":"wrong_content_type"}"#,
        r#"{"kind":"status","code":503,"body":"x","content_type":"text/plain"}"#,
        r#"{"kind":"challenge_401"}"#,
        r#"{"kind":"no_content"}"#,
        r#"{"kind":"partial_response"}"#,
        r#"{"kind":"redirect","location":"/x"}"#,
        r#"{"kind":"huge_body","bytes":10}"#,
    ] {
        assert_eq!(
            req(a, "POST", "/_emulator/faults", Some(k)).status,
            204,
            "{k}"
        );
    }
    assert_eq!(e.faults().len(), 13);
    assert_eq!(
        req(a, "POST", "/_emulator/faults", Some(r#"{"kind":"bogus"}"#)).status,
        400
    );
    e.clear_faults();
}

#[test]
fn api_disabled_toggle_and_count_and_log() {
    let e = emu();
    let a = e.addr();
    let id = Uuid::new_v4();
    e.add_request(id, RequestStatus::Approved);
    let path = format!("{API}/requests/{id}");
    assert_eq!(
        req(a, "POST", "/_emulator/api-disabled", Some("true")).status,
        204
    );
    assert_eq!(req(a, "GET", &path, None).status, 404);
    // Control endpoints still work while disabled.
    assert_eq!(
        req(a, "GET", "/_emulator/api-disabled", None).text(),
        "true"
    );
    assert_eq!(
        req(a, "POST", "/_emulator/api-disabled", Some("false")).status,
        204
    );
    assert_eq!(req(a, "GET", &path, None).status, 200);
    assert_eq!(
        req(a, "POST", "/_emulator/api-disabled", Some("maybe")).status,
        400
    );

    let mut c = Client::connect(a);
    c.request(
        "POST",
        &format!("{API}/smartcards"),
        Some("{\"requestid\":1}"),
        &[("Authorization", "NTLM TlRMTVNTUAABAAAAB4IIogAAAAA=")],
    );
    let r = req(
        a,
        "GET",
        "/_emulator/count?method=POST&path=/smartcards",
        None,
    );
    assert_eq!(r.json(), serde_json::json!({ "count": 1 }));
    let r = req(
        a,
        "GET",
        "/_emulator/count?method=get&path=%2Frequests",
        None,
    );
    assert_eq!(r.json()["count"], 2);
    let r = req(a, "GET", "/_emulator/count", None);
    assert_eq!(r.json()["count"], 3);

    let r = req(a, "GET", "/_emulator/log", None);
    assert_eq!(r.status, 200);
    let log = r.json();
    let log = log.as_array().unwrap();
    assert_eq!(log.len(), 3);
    let post = &log[2];
    assert_eq!(post["method"], "POST");
    assert_eq!(post["path"], format!("{API}/smartcards"));
    assert_eq!(post["body"], "{\"requestid\":1}");
    assert!(post["connection_id"].as_u64().unwrap() > 0);
    assert!(
        post["headers"]
            .as_array()
            .unwrap()
            .iter()
            .any(|h| h[0] == "Authorization" && h[1] == "NTLM \u{2026}")
    );
    assert!(!r.text().contains("TlRMTVNTUA"));
    assert_eq!(req(a, "DELETE", "/_emulator/log", None).status, 204);
    assert_eq!(e.request_log().len(), 0);
}

#[test]
fn unknown_control_paths() {
    let e = emu();
    assert_eq!(req(e.addr(), "GET", "/_emulator/nothing", None).status, 404);
    assert_eq!(
        req(e.addr(), "PUT", "/_emulator/faults", Some("{}")).status,
        405
    );
}

#[test]
fn shutdown_endpoint_requests_stop() {
    let e = emu();
    assert!(!e.stop_requested());
    assert_eq!(
        req(e.addr(), "POST", "/_emulator/shutdown", None).status,
        204
    );
    assert!(e.stop_requested());
    e.shutdown();
}
