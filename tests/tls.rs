//! TLS failures happen before a byte of the request exists, so they are "nothing sent" with a message that
//! names the cause — never "outcome unknown", not even for a POST. Servers: `openssl s_server` (a TLS 1.1-only
//! server, certificates for the wrong host or from an unknown CA) and the emulator (plain HTTP on the port).

mod common;

use cm_emulator::{Config, Emulator};
use cm_smartcard::Status;
use cm_smartcard::auth::{AuthConfig, AuthMethod};
use cm_smartcard::cm::{Assignment, CmClient, ConnectionConfig, TransportConfig};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Server {
    child: Child,
    port: u16,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn have_openssl() -> bool {
    let ok = Command::new("openssl")
        .arg("version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok && std::env::var("CM_REQUIRE_RIGS").as_deref() == Ok("1") {
        panic!("openssl is required (apt-get install openssl)");
    }
    ok
}

fn dir() -> PathBuf {
    let d = std::env::temp_dir().join(format!("cm-tls-tests-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn openssl(args: &[&str], d: &Path) {
    let st = Command::new("openssl")
        .args(args)
        .current_dir(d)
        .stderr(Stdio::null())
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(st.success(), "openssl {args:?}");
}

/// A test CA and a server certificate for `cn` issued by it: (leaf, key, ca).
fn cert(cn: &str) -> (PathBuf, PathBuf, PathBuf) {
    let d = dir();
    let ca = d.join("ca.crt");
    if !ca.exists() {
        openssl(
            &[
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-days",
                "2",
                "-subj",
                "/CN=cm-smartcard test CA",
                "-keyout",
                "ca.key",
                "-out",
                "ca.crt",
            ],
            &d,
        );
    }
    let (crt, key) = (d.join(format!("{cn}.crt")), d.join(format!("{cn}.key")));
    if !crt.exists() {
        std::fs::write(
            d.join(format!("{cn}.ext")),
            format!("subjectAltName=DNS:{cn}\nbasicConstraints=CA:FALSE\n"),
        )
        .unwrap();
        openssl(
            &[
                "req",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-subj",
                &format!("/CN={cn}"),
                "-keyout",
                &format!("{cn}.key"),
                "-out",
                &format!("{cn}.csr"),
            ],
            &d,
        );
        openssl(
            &[
                "x509",
                "-req",
                "-in",
                &format!("{cn}.csr"),
                "-CA",
                "ca.crt",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-days",
                "2",
                "-extfile",
                &format!("{cn}.ext"),
                "-out",
                &format!("{cn}.crt"),
            ],
            &d,
        );
    }
    (crt, key, ca)
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn s_server(crt: &Path, key: &Path, extra: &[&str]) -> Server {
    let port = free_port();
    let child = Command::new("openssl")
        .args(["s_server", "-quiet", "-www", "-accept"])
        .arg(port.to_string())
        .arg("-cert")
        .arg(crt)
        .arg("-key")
        .arg(key)
        .args(extra)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let until = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < until, "s_server did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    Server { child, port }
}

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
