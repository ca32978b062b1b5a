//! The CM client against the in-process CM emulator: the happy path, every server answer, every fault,
//! and the at-most-once promise for POST.

use cm_emulator::{Config, Emulator, Fault, FaultKind, RequestStatus};
use cm_smartcard::Status;
use cm_smartcard::auth::{AuthConfig, AuthMethod};
use cm_smartcard::cm::TransportConfig;
use cm_smartcard::cm::{Assignment, BindingState, CmClient, ConnectionConfig};
use std::time::{Duration, Instant};
use uuid::Uuid;

const ATR: &str = "3b8d0180fba000000397425446590301c8";

fn emulator() -> Emulator {
    Emulator::start(Config {
        quiet: true,
        ..Config::default()
    })
    .expect("emulator starts")
}

fn client_with(url: &str, timeout: Duration) -> CmClient {
    CmClient::new(ConnectionConfig {
        server_url: url.to_string(),
        transport: TransportConfig {
            timeout,
            connect_timeout: Duration::from_secs(2),
            auth: AuthConfig {
                method: AuthMethod::None,
                ..Default::default()
            },
            ..TransportConfig::default()
        },
    })
    .unwrap()
}

fn client(emu: &Emulator) -> CmClient {
    client_with(&emu.base_url(), Duration::from_secs(5))
}

fn approved_request(emu: &Emulator) -> Uuid {
    let id = Uuid::new_v4();
    emu.add_request(id, RequestStatus::Approved);
    id
}

fn assignment(request: Uuid) -> (Assignment, Uuid) {
    let card = Uuid::new_v4();
    (
        Assignment::new(&request.to_string(), &card.to_string(), Some(ATR)).unwrap(),
        card,
    )
}

fn fault(kind: FaultKind) -> Fault {
    Fault {
        kind,
        method: Some("POST".into()),
        path_contains: Some("/smartcards".into()),
        times: Some(1),
    }
}

#[test]
fn assign_binds_the_card_and_returns_the_uri() {
    let emu = emulator();
    let request = approved_request(&emu);
    let card = Uuid::new_v4();
    // Caller-style inputs: braces, upper case, spaced ATR.
    let a = Assignment::new(
        &format!("{{{}}}", request.to_string().to_uppercase()),
        &card.simple().to_string(),
        Some("3B 8D 01 80 FB A0 00 00 03 97 42 54 46 59 03 01 C8"),
    )
    .unwrap();
    let c = client(&emu);
    let outcome = c.assign_smartcard(&a).unwrap();
    assert_eq!(outcome.http_status, 201);
    let uuid = outcome.smartcard_uuid.unwrap();
    assert_eq!(
        outcome.smartcard_uri.as_deref(),
        Some(format!("api/v1.0/smartcards/{uuid}").as_str())
    );
    // What reached the server is normalized.
    let log = emu.request_log();
    let post = log.iter().find(|r| r.method == "POST").unwrap();
    let body: serde_json::Value = serde_json::from_slice(&post.body).unwrap();
    assert_eq!(body["requestid"], request.to_string());
    assert_eq!(body["cardid"], card.to_string());
    assert_eq!(body["atr"], ATR);
    // And the server state agrees.
    let sc = c.get_smartcard(&uuid.to_string()).unwrap().unwrap();
    assert_eq!(sc.card_id, Some(card));
    assert_eq!(sc.serial_number, format!("{{{card}}}"));
    assert_eq!(sc.atr, ATR);
    let found = c
        .find_smartcard_by_card_id(&card.to_string().to_uppercase())
        .unwrap()
        .unwrap();
    assert_eq!(found.uuid, uuid);
    let req = c.get_request(&request.to_string()).unwrap().unwrap();
    assert_eq!(req.new_smartcard_uuid, Some(uuid));
    assert_eq!(
        req.status, 3,
        "the docs' example value for an approved request"
    );
}

#[test]
fn base_url_variants_reach_the_api() {
    let emu = emulator();
    for suffix in [
        "/",
        "/CertificateManagement",
        "/certificatemanagement/",
        "/CertificateManagement/api/v1.0",
    ] {
        let request = approved_request(&emu);
        let (a, _) = assignment(request);
        let c = client_with(
            &format!("{}{suffix}", emu.base_url()),
            Duration::from_secs(5),
        );
        assert_eq!(c.assign_smartcard(&a).unwrap().http_status, 201, "{suffix}");
    }
}

#[test]
fn no_content_success_is_reported_as_204() {
    let emu = emulator();
    let (a, card) = assignment(approved_request(&emu));
    emu.set_fault(fault(FaultKind::NoContent));
    let outcome = client(&emu).assign_smartcard(&a).unwrap();
    assert_eq!(
        (
            outcome.http_status,
            outcome.smartcard_uri,
            outcome.smartcard_uuid
        ),
        (204, None, None)
    );
    assert!(
        client(&emu)
            .find_smartcard_by_card_id(&card.to_string())
            .unwrap()
            .is_some()
    );
}

#[test]
fn forbidden_cases_give_403_with_advice() {
    let emu = emulator();
    let c = client(&emu);
    // Unknown request.
    let (a, _) = assignment(Uuid::new_v4());
    let e = c.assign_smartcard(&a).unwrap_err();
    assert_eq!((e.status, e.http_status), (Status::HttpForbidden, 403));
    assert!(e.message.contains("Approved or Executing"), "{}", e.message);
    // Pending request.
    let pending = Uuid::new_v4();
    emu.add_request(pending, RequestStatus::Pending);
    assert_eq!(
        c.assign_smartcard(&assignment(pending).0)
            .unwrap_err()
            .status,
        Status::HttpForbidden
    );
    // Bound twice.
    let (a, card) = assignment(approved_request(&emu));
    c.assign_smartcard(&a).unwrap();
    let e = c.assign_smartcard(&a).unwrap_err();
    assert_eq!(e.status, Status::HttpForbidden);
    assert!(e.server_message.is_some(), "the server's reason is kept");
    // The same card for another request.
    let other = Assignment::new(
        &approved_request(&emu).to_string(),
        &card.to_string(),
        Some(ATR),
    )
    .unwrap();
    assert_eq!(
        c.assign_smartcard(&other).unwrap_err().status,
        Status::HttpForbidden
    );
}

#[test]
fn api_disabled_gives_404_naming_the_setting() {
    let emu = emulator();
    emu.set_api_disabled(true);
    let (a, _) = assignment(approved_request(&emu));
    let e = client(&emu).assign_smartcard(&a).unwrap_err();
    assert_eq!((e.status, e.http_status), (Status::HttpNotFound, 404));
    assert!(e.message.contains("Clm.WebApi.Enabled"), "{}", e.message);
}

#[test]
fn server_error_keeps_the_correlation_id() {
    let emu = emulator();
    let corr = Uuid::new_v4();
    emu.set_fault(fault(FaultKind::ServerError {
        correlation_id: corr,
    }));
    let (a, card) = assignment(approved_request(&emu));
    let e = client(&emu).assign_smartcard(&a).unwrap_err();
    assert_eq!((e.status, e.http_status), (Status::HttpServerError, 500));
    assert_eq!(e.correlation_id.as_deref(), Some(corr.to_string().as_str()));
    assert!(e.message.contains(&corr.to_string()));
    assert!(
        client(&emu)
            .find_smartcard_by_card_id(&card.to_string())
            .unwrap()
            .is_none()
    );
}

#[test]
fn malformed_success_bodies_are_reported_not_trusted() {
    for kind in [FaultKind::Garbage, FaultKind::WrongContentType] {
        let emu = emulator();
        emu.set_fault(fault(kind));
        let (a, _) = assignment(approved_request(&emu));
        let e = client(&emu).assign_smartcard(&a).unwrap_err();
        assert_eq!(e.status, Status::MalformedResponse, "{}", e.message);
        assert!(e.message.contains("reconcile"), "{}", e.message);
    }
}

#[test]
fn challenge_without_auth_configured_is_auth_required() {
    let emu = emulator();
    emu.set_fault(Fault {
        kind: FaultKind::Challenge401,
        method: None,
        path_contains: None,
        times: None,
    });
    let (a, _) = assignment(approved_request(&emu));
    let e = client(&emu).assign_smartcard(&a).unwrap_err();
    assert_eq!((e.status, e.http_status), (Status::AuthRequired, 401));
    assert!(
        e.message.contains("Negotiate") && e.message.contains("NTLM"),
        "{}",
        e.message
    );
    assert_eq!(
        emu.count("POST", "/smartcards"),
        1,
        "no credentials to answer with: no second leg"
    );
}

#[test]
fn redirects_are_not_followed() {
    let emu = emulator();
    emu.set_fault(fault(FaultKind::Redirect {
        location: "http://127.0.0.1:9/elsewhere".into(),
    }));
    let (a, _) = assignment(approved_request(&emu));
    let e = client(&emu).assign_smartcard(&a).unwrap_err();
    assert_eq!(e.status, Status::RedirectRefused);
    assert!(e.message.contains("127.0.0.1:9/elsewhere"), "{}", e.message);
}

#[test]
fn oversized_answers_are_capped() {
    let emu = emulator();
    emu.set_fault(fault(FaultKind::HugeBody {
        bytes: 4 * 1024 * 1024,
    }));
    let (a, _) = assignment(approved_request(&emu));
    assert_eq!(
        client(&emu).assign_smartcard(&a).unwrap_err().status,
        Status::ResponseTooLarge
    );
}

/// The at-most-once promise: whatever breaks after the bytes left, the POST is sent exactly once and the
/// caller hears "outcome unknown"; reconciliation then tells the truth.
#[test]
fn broken_exchanges_after_sending_are_outcome_unknown_and_never_resent() {
    let cases: Vec<(FaultKind, Option<BindingState>)> = vec![
        (
            FaultKind::CloseAfterRead { apply: true },
            Some(BindingState::BoundToThisCard),
        ),
        (
            FaultKind::CloseAfterRead { apply: false },
            Some(BindingState::NotBound),
        ),
        (FaultKind::CloseBeforeRead, Some(BindingState::NotBound)),
        (FaultKind::Hang, None),
    ];
    for (kind, expected) in cases {
        let emu = emulator();
        let label = format!("{kind:?}");
        emu.set_fault(fault(kind));
        let (a, _) = assignment(approved_request(&emu));
        let c = client_with(&emu.base_url(), Duration::from_millis(800));
        let e = c.assign_smartcard(&a).unwrap_err();
        assert_eq!(e.status, Status::OutcomeUnknown, "{label}: {}", e.message);
        assert!(e.message.contains("NOT retried"), "{label}: {}", e.message);
        assert!(
            emu.count("POST", "/smartcards") <= 1,
            "{label}: the POST was sent more than once"
        );
        if let Some(state) = expected {
            let r = client(&emu).reconcile(&a).unwrap();
            assert_eq!(r.state, state, "{label}");
            assert_eq!(
                r.smartcard_uuid.is_some(),
                state == BindingState::BoundToThisCard,
                "{label}"
            );
        }
    }
}

#[test]
fn cut_off_success_body_is_known_success_not_unknown() {
    let emu = emulator();
    emu.set_fault(fault(FaultKind::PartialResponse));
    let (a, _) = assignment(approved_request(&emu));
    let e = client(&emu).assign_smartcard(&a).unwrap_err();
    assert_eq!(
        (e.status, e.http_status),
        (Status::MalformedResponse, 201),
        "{}",
        e.message
    );
    assert_eq!(
        client(&emu).reconcile(&a).unwrap().state,
        BindingState::BoundToThisCard
    );
    assert_eq!(emu.count("POST", "/smartcards"), 1);
}

#[test]
fn slow_server_within_the_timeout_is_fine_and_beyond_it_times_out() {
    let emu = emulator();
    emu.set_fault(Fault {
        kind: FaultKind::Delay(Duration::from_millis(300)),
        method: Some("GET".into()),
        path_contains: None,
        times: Some(1),
    });
    let request = approved_request(&emu);
    assert!(
        client(&emu)
            .get_request(&request.to_string())
            .unwrap()
            .is_some()
    );
    emu.set_fault(Fault {
        kind: FaultKind::Delay(Duration::from_secs(3)),
        method: Some("GET".into()),
        path_contains: None,
        times: Some(1),
    });
    let started = Instant::now();
    let e = client_with(&emu.base_url(), Duration::from_millis(500))
        .get_request(&request.to_string())
        .unwrap_err();
    assert_eq!(
        e.status,
        Status::Timeout,
        "a GET that times out is a plain timeout: {}",
        e.message
    );
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "the timeout was honoured"
    );
}

#[test]
fn server_down_is_connect_failed_and_nothing_was_sent() {
    // Bind and drop a listener to get a loopback port nobody listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let c = client_with(&format!("http://127.0.0.1:{port}"), Duration::from_secs(2));
    let (a, _) = assignment(Uuid::new_v4());
    let e = c.assign_smartcard(&a).unwrap_err();
    assert_eq!(e.status, Status::ConnectFailed, "{}", e.message);
    assert!(e.message.contains("nothing was sent"));
}

#[test]
fn unresolvable_host_is_dns_failed() {
    let c = client_with("http://no-such-host.invalid", Duration::from_secs(5));
    let e = c.get_request(&Uuid::new_v4().to_string()).unwrap_err();
    assert_eq!(e.status, Status::DnsFailed, "{}", e.message);
}

#[test]
fn reconcile_reports_the_other_card_and_unknown_requests() {
    let emu = emulator();
    let request = approved_request(&emu);
    let (a, _) = assignment(request);
    client(&emu).assign_smartcard(&a).unwrap();
    let other = Assignment::new(&request.to_string(), &Uuid::new_v4().to_string(), None).unwrap();
    let r = client(&emu).reconcile(&other).unwrap();
    assert_eq!(r.state, BindingState::BoundToOtherCard);
    let unknown = Assignment::new(
        &Uuid::new_v4().to_string(),
        &Uuid::new_v4().to_string(),
        None,
    )
    .unwrap();
    let e = client(&emu).reconcile(&unknown).unwrap_err();
    assert_eq!((e.status, e.http_status), (Status::HttpForbidden, 204));
    assert!(
        client(&emu)
            .find_smartcard_by_card_id(&Uuid::new_v4().to_string())
            .unwrap()
            .is_none()
    );
    assert!(
        client(&emu)
            .get_smartcard(&Uuid::new_v4().to_string())
            .unwrap()
            .is_none()
    );
}

/// Every answer starts with a UTF-8 byte-order mark (some ASP.NET stacks send one): binding, reading back,
/// reconciling and error messages all still work (RFC 8259 §8.1).
#[test]
fn a_byte_order_mark_before_every_body_is_accepted() {
    let emu = emulator();
    emu.set_fault(Fault::new(FaultKind::Bom));
    let c = client(&emu);
    let request = approved_request(&emu);
    let (a, card) = assignment(request);
    let outcome = c.assign_smartcard(&a).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(outcome.http_status, 201);
    assert!(outcome.smartcard_uuid.is_some());
    let rec = c.reconcile(&a).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(rec.state, BindingState::BoundToThisCard);
    let found = c
        .find_smartcard_by_card_id(&card.to_string())
        .unwrap()
        .unwrap();
    assert_eq!(found.card_id, Some(card));
    // An error answer with a BOM still yields the server's message.
    let e = c.assign_smartcard(&a).unwrap_err();
    assert_eq!(e.status, Status::HttpForbidden);
    assert!(
        e.server_message
            .as_deref()
            .is_some_and(|m| !m.starts_with('\u{FEFF}') && !m.is_empty()),
        "{e:?}"
    );
    assert!(emu.count("", "").ge(&4));
}
