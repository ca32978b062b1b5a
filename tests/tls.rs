//! TLS failures happen before a byte of the request exists, so they are "nothing sent" with a message that
//! names the cause — never "outcome unknown", not even for a POST. Servers: `openssl s_server` (a TLS 1.1-only
//! server, certificates for the wrong host or from an unknown CA) and the emulator (plain HTTP on the port).

mod common;

use common::tls_server::{cert, have_openssl, s_server};

use cm_emulator::{Config, Emulator};
use cm_smartcard::Status;
use cm_smartcard::auth::{AuthConfig, AuthMethod};
use cm_smartcard::cm::{Assignment, CmClient, ConnectionConfig, TransportConfig};
use std::path::Path;
use std::time::Duration;

fn client(url: &str, ca: Option<&Path>) -> CmClient {
    CmClient::new(ConnectionConfig {
        server_url: url.into(),
        transport: TransportConfig {
            timeout: Duration::from_secs(5),
            connect_timeout: Duration::from_secs(2),
            extra_ca_file: ca.map(Path::to_path_buf),
            auth: AuthConfig {
                method: AuthMethod::None,
                ..Default::default()
            },
            ..Default::default()
        },
    })
    .unwrap()
}

fn assign(c: &CmClient) -> cm_smartcard::Error {
    let a = Assignment::new(
        "a9b4b42c-cc50-4c9b-89d1-bbc0bcd5a099",
        "bc88f13f-83ba-4037-8262-46eba1291c6e",
        None,
    )
    .unwrap();
    c.assign_smartcard(&a).expect_err("the handshake must fail")
}

fn assert_nothing_sent(e: &cm_smartcard::Error, needle: &str) {
    assert_eq!(e.status, Status::TlsFailed, "{}", e.message);
    assert!(
        e.message.contains(needle),
        "wanted '{needle}' in: {}",
        e.message
    );
    assert!(e.message.contains("nothing was sent"), "{}", e.message);
}

#[test]
fn https_to_a_plain_http_port_is_tls_failed_not_outcome_unknown() {
    let emu = Emulator::start(Config {
        quiet: true,
        ..Config::default()
    })
    .unwrap();
    let url = format!("https://localhost:{}", emu.addr().port());
    let e = assign(&client(&url, None));
    assert_nothing_sent(&e, "plain http");
    assert_eq!(emu.count("POST", ""), 0);
}

#[test]
fn a_tls_1_1_only_server_is_named() {
    if !have_openssl() {
        return;
    }
    let (crt, key, ca) = cert("localhost");
    let srv = s_server(&crt, &key, &["-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0"]);
    let e = assign(&client(
        &format!("https://localhost:{}", srv.port),
        Some(&ca),
    ));
    assert_nothing_sent(&e, "older than 1.2");
}

#[test]
fn untrusted_and_wrong_host_certificates_are_named() {
    if !have_openssl() {
        return;
    }
    let (crt, key, ca) = cert("localhost");
    let srv = s_server(&crt, &key, &[]);
    let url = format!("https://localhost:{}", srv.port);
    assert_nothing_sent(&assign(&client(&url, None)), "not trusted");
    let (other, other_key, _) = cert("other.example");
    let wrong = s_server(&other, &other_key, &[]);
    let e = assign(&client(
        &format!("https://localhost:{}", wrong.port),
        Some(&ca),
    ));
    assert_nothing_sent(&e, "host name");
}

/// A GET through the same failures is also reported before anything is sent (and a session reports it too).
#[test]
fn sessions_report_handshake_failures_the_same_way() {
    let emu = Emulator::start(Config {
        quiet: true,
        ..Config::default()
    })
    .unwrap();
    let s = CmClient::session(ConnectionConfig {
        server_url: format!("https://127.0.0.1:{}", emu.addr().port()),
        transport: TransportConfig {
            connect_timeout: Duration::from_secs(2),
            auth: AuthConfig {
                method: AuthMethod::None,
                ..Default::default()
            },
            ..Default::default()
        },
    })
    .unwrap();
    let e = s
        .get_request("a9b4b42c-cc50-4c9b-89d1-bbc0bcd5a099")
        .unwrap_err();
    assert_nothing_sent(&e, "plain http");
}
