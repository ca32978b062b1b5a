//! Sessions against the in-process CM emulator: connections are reused, and the at-most-once promise holds
//! on pooled connections that the server closes while they are idle.

use cm_emulator::{Config, Emulator, RequestStatus};
use cm_smartcard::auth::{AuthConfig, AuthMethod};
use cm_smartcard::cm::{Assignment, BindingState, CmClient, ConnectionConfig, TransportConfig};
use std::sync::Arc;
use std::time::Duration;
use uuid::Uuid;

const ATR: &str = "3b8d0180fba000000397425446590301c8";

fn session(url: &str) -> CmClient {
    CmClient::session(ConnectionConfig {
        server_url: url.to_string(),
        transport: TransportConfig {
            timeout: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(5),
            auth: AuthConfig {
                method: AuthMethod::None,
                ..Default::default()
            },
            ..TransportConfig::default()
        },
    })
    .unwrap()
}

fn assign_new_card(emu: &Emulator, s: &CmClient) -> (Uuid, Uuid) {
    let request = Uuid::new_v4();
    emu.add_request(request, RequestStatus::Approved);
    let card = Uuid::new_v4();
    let a = Assignment::new(&request.to_string(), &card.to_string(), Some(ATR)).unwrap();
    let outcome = s
        .assign_smartcard(&a)
        .unwrap_or_else(|e| panic!("assign {request}: {:?}: {}", e.status, e.message));
    assert_eq!(outcome.http_status, 201);
    (request, card)
}

/// Steady use keeps one connection: at most 0.01 new connections per call.
#[test]
fn a_session_reuses_its_connection() {
    let emu = Emulator::start(Config {
        quiet: true,
        ..Config::default()
    })
    .unwrap();
    let s = session(&emu.base_url());
    for _ in 0..200 {
        let (request, card) = assign_new_card(&emu, &s);
        assert!(s.get_request(&request.to_string()).unwrap().is_some());
        assert!(
            s.find_smartcard_by_card_id(&card.to_string())
                .unwrap()
                .is_some()
        );
    }
    let opened = s.transport().client().connections_opened();
    assert!(
        opened <= 6,
        "600 calls opened {opened} connections (emulator accepted {})",
        emu.connections_accepted()
    );
    assert_eq!(emu.connections_accepted(), opened);
}

/// The server closes idle keep-alive connections at random moments (as IIS does when they idle out).
/// Over 10,000 session calls from two threads: not one false "outcome unknown", not one failure, and every
/// POST reached the server exactly once.
#[test]
fn at_most_once_survives_connections_closed_while_idle() {
    let emu = Arc::new(
        Emulator::start(Config {
            quiet: true,
            idle_close_max: Some(Duration::from_micros(1500)),
            ..Config::default()
        })
        .unwrap(),
    );
    let s = Arc::new(session(&emu.base_url()));
    const ROUNDS_PER_THREAD: usize = 1250; // 4 calls each, 2 threads: 10,000 calls
    let threads: Vec<_> = (0..2u64)
        .map(|t| {
            let (emu, s) = (Arc::clone(&emu), Arc::clone(&s));
            std::thread::spawn(move || {
                let mut rng = 0x2545_F491_4F6C_DD1D_u64 ^ (t + 1);
                let mut assigned = Vec::new();
                for _ in 0..ROUNDS_PER_THREAD {
                    let (request, card) = assign_new_card(&emu, &s);
                    let r = s.get_request(&request.to_string()).unwrap().unwrap();
                    let bound = r.new_smartcard_uuid.expect("bound");
                    assert!(s.get_smartcard(&bound.to_string()).unwrap().is_some());
                    assert!(
                        s.find_smartcard_by_card_id(&card.to_string())
                            .unwrap()
                            .is_some()
                    );
                    assigned.push(request);
                    // Idle gaps of 0..2 ms so the server's random idle closes race with the next call.
                    rng ^= rng << 13;
                    rng ^= rng >> 7;
                    rng ^= rng << 17;
                    std::thread::sleep(Duration::from_micros(rng % 2000));
                }
                assigned
            })
        })
        .collect();
    let mut requests = Vec::new();
    for t in threads {
        requests.extend(t.join().expect("no call failed"));
    }
    assert_eq!(requests.len(), 2 * ROUNDS_PER_THREAD);
    let posts = emu.count("POST", "/smartcards");
    assert_eq!(
        posts,
        requests.len(),
        "every POST reached the server exactly once"
    );
    for request in requests.iter().step_by(97) {
        let json = emu.request_json(*request).unwrap();
        assert_ne!(
            json["NewSmartcardUuid"],
            "00000000-0000-0000-0000-000000000000"
        );
    }
    // The mode really closed pooled connections under the client, many times.
    assert!(
        emu.idle_closes() >= 200,
        "only {} idle closes: the test did not exercise stale connections",
        emu.idle_closes()
    );
}

/// A POST on a reused connection that the server closed gives no "outcome unknown" even when the close
/// comes right after the previous answer, with no idle gap at all.
#[test]
fn post_after_immediate_close_is_sent_on_a_new_connection() {
    let emu = Emulator::start(Config {
        quiet: true,
        idle_close_max: Some(Duration::ZERO),
        ..Config::default()
    })
    .unwrap();
    let s = session(&emu.base_url());
    for _ in 0..300 {
        assign_new_card(&emu, &s);
    }
    assert_eq!(emu.count("POST", "/smartcards"), 300);
    assert!(emu.idle_closes() >= 100, "closes: {}", emu.idle_closes());
}

/// A session is shared by threads: concurrent calls each take their own connection, and reconcile works.
#[test]
fn one_session_shared_by_threads() {
    let emu = Arc::new(
        Emulator::start(Config {
            quiet: true,
            ..Config::default()
        })
        .unwrap(),
    );
    let s = Arc::new(session(&emu.base_url()));
    let threads: Vec<_> = (0..8)
        .map(|_| {
            let (emu, s) = (Arc::clone(&emu), Arc::clone(&s));
            std::thread::spawn(move || {
                for _ in 0..25 {
                    let (request, card) = assign_new_card(&emu, &s);
                    let a = Assignment::new(&request.to_string(), &card.to_string(), None).unwrap();
                    let rec = s.reconcile(&a).unwrap();
                    assert_eq!(rec.state, BindingState::BoundToThisCard);
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(emu.count("POST", "/smartcards"), 200);
    assert!(s.transport().client().connections_opened() <= 16);
}
