//! The `cm-emulator` binary: startup line, port file, seeding, faults, clean stop.

mod common;

use common::*;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};
use uuid::Uuid;

const BIN: &str = env!("CARGO_BIN_EXE_cm-emulator");

fn spawn(args: &[&str]) -> (Child, BufReader<ChildStdout>, SocketAddr) {
    let mut child = Command::new(BIN)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn cm-emulator");
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    let url = line
        .trim_end()
        .strip_prefix("cm-emulator listening on http://")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"));
    assert!(url.starts_with("127.0.0.1:"), "{url}");
    (child, out, url.parse().unwrap())
}

fn wait_exit(child: &mut Child) -> std::process::ExitStatus {
    let t = Instant::now();
    loop {
        if let Some(st) = child.try_wait().unwrap() {
            return st;
        }
        if t.elapsed() > Duration::from_secs(10) {
            let _ = child.kill();
            panic!("cm-emulator did not exit");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[cfg(unix)]
fn send_signal(child: &Child, sig: &str) {
    let st = Command::new("kill")
        .arg(format!("-{sig}"))
        .arg(child.id().to_string())
        .status()
        .unwrap();
    assert!(st.success());
}

#[cfg(unix)]
#[test]
fn prints_address_serves_and_exits_0_on_sigterm() {
    let dir = std::env::temp_dir().join(format!("cm-emu-test-{}", Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let port_file = dir.join("port");
    let req_id = Uuid::new_v4();
    let pending = Uuid::new_v4();
    let file_req = Uuid::new_v4();
    let reqs_file = dir.join("requests.json");
    std::fs::write(
        &reqs_file,
        format!("[{{\"uuid\":\"{file_req}\"}},{{\"uuid\":\"{pending}\",\"status\":\"Pending\"}}]"),
    )
    .unwrap();
    let (mut child, _out, addr) = spawn(&[
        "--request",
        &req_id.to_string(),
        "--requests-file",
        reqs_file.to_str().unwrap(),
        "--port-file",
        port_file.to_str().unwrap(),
        "--fault",
        "close-after-read=apply:POST:/smartcards:1",
        "--quiet",
    ]);
    assert_eq!(
        std::fs::read_to_string(&port_file).unwrap(),
        addr.port().to_string()
    );

    // Fault first: binding applied, no answer.
    let card = Uuid::new_v4();
    let mut c = Client::connect(addr);
    c.send_raw(&build(
        "POST",
        &format!("{API}/smartcards"),
        Some(&bind_body(&req_id.to_string(), &card.to_string(), "3b00")),
        &[],
    ));
    assert!(c.closed_without_data());
    let r = req(
        addr,
        "GET",
        &format!("{API}/smartcards?cardid={card}"),
        None,
    );
    assert_eq!(r.status, 200);
    // Seeded from the file.
    assert_eq!(
        post_bind(addr, &file_req.to_string(), &Uuid::new_v4().to_string(), "").status,
        201
    );
    assert_eq!(
        post_bind(addr, &pending.to_string(), &Uuid::new_v4().to_string(), "").status,
        403
    );
    let r = req(
        addr,
        "GET",
        "/_emulator/count?method=POST&path=/smartcards",
        None,
    );
    assert_eq!(r.json()["count"], 3);

    // An idle keep-alive connection must not delay the exit.
    let mut idle = Client::connect(addr);
    assert_eq!(idle.request("GET", "/", None, &[]).status, 404);

    send_signal(&child, "TERM");
    let st = wait_exit(&mut child);
    assert_eq!(st.code(), Some(0));
    assert!(!port_file.exists(), "port file removed");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[cfg(unix)]
#[test]
fn exits_0_on_sigint() {
    let (mut child, _out, _addr) = spawn(&["--quiet"]);
    send_signal(&child, "INT");
    assert_eq!(wait_exit(&mut child).code(), Some(0));
}

#[test]
fn shutdown_endpoint_exits_0() {
    let (mut child, _out, addr) = spawn(&["--api-disabled"]);
    let id = Uuid::new_v4();
    assert_eq!(
        req(addr, "GET", &format!("{API}/requests/{id}"), None).status,
        404
    );
    assert_eq!(req(addr, "POST", "/_emulator/shutdown", None).status, 204);
    assert_eq!(wait_exit(&mut child).code(), Some(0));
}

#[test]
fn help_and_bad_arguments() {
    let out = Command::new(BIN).arg("--help").output().unwrap();
    assert!(out.status.success());
    let help = String::from_utf8(out.stdout).unwrap();
    for needle in [
        "--listen",
        "--request",
        "--requests-file",
        "--api-disabled",
        "--port-file",
        "--quiet",
        "--fault",
        "close-after-read",
        "/_emulator/faults",
        "Abandoned=7",
    ] {
        assert!(help.contains(needle), "help lacks {needle}");
    }
    for bad in [
        &["--bogus"][..],
        &["--fault", "nope"],
        &["--request", "not-a-guid"],
        &["--listen", "x"],
    ] {
        let out = Command::new(BIN).args(bad).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{bad:?}");
        assert!(!out.stderr.is_empty());
    }
}

#[test]
fn logs_requests_to_stderr_unless_quiet() {
    let mut child = Command::new(BIN)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    let addr: SocketAddr = line
        .trim_end()
        .rsplit("//")
        .next()
        .unwrap()
        .parse()
        .unwrap();
    req(
        addr,
        "GET",
        "/CertificateManagement/api/v1.0/requests",
        None,
    );
    req(addr, "POST", "/_emulator/shutdown", None);
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success());
    let err = String::from_utf8_lossy(&output.stderr);
    assert!(
        err.contains("GET /CertificateManagement/api/v1.0/requests -> 200"),
        "{err}"
    );
}

#[cfg(unix)]
#[test]
fn seeds_active_cards_and_uses_the_given_admin_master_key() {
    use base64::Engine;
    let card = Uuid::new_v4();
    let master_hex = "000102030405060708090a0b0c0d0e0f1011121314151617";
    let (mut child, _out, addr) = spawn(&[
        "--quiet",
        "--admin-master-key",
        master_hex,
        "--smartcard",
        &card.to_string(),
    ]);
    let sc = req(
        addr,
        "GET",
        &format!("{API}/smartcards?cardid={card}"),
        None,
    );
    assert_eq!(sc.status, 200, "{}", sc.text());
    assert_eq!(sc.json()["Status"], 3);
    let scid = sc.json()["Uuid"].as_str().unwrap().to_string();
    let body = serde_json::json!({"type": "Unblock", "smartcard": scid, "datacollection": "[]", "comment": ""});
    let r = req(
        addr,
        "POST",
        &format!("{API}/requests"),
        Some(&body.to_string()),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let rid = r
        .json()
        .as_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_string();
    let key = req(
        addr,
        "GET",
        &format!("{API}/requests/{rid}/smartcards/{scid}/diversifiedkey?cardid={card}"),
        None,
    );
    assert_eq!(key.status, 200, "{}", key.text());
    let key = base64::engine::general_purpose::STANDARD
        .decode(key.json().as_str().unwrap())
        .unwrap();
    let mut master = [0u8; 24];
    for (i, m) in master.iter_mut().enumerate() {
        *m = i as u8;
    }
    assert_eq!(
        key,
        cm_emulator::crypto::diversify_admin_key(&master, card.as_bytes()).to_vec()
    );
    req(addr, "POST", "/_emulator/shutdown", None);
    assert!(wait_exit(&mut child).success());
}

#[test]
fn rejects_a_bad_admin_master_key() {
    let out = Command::new(BIN)
        .args(["--admin-master-key", "0102"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("48 hex digits"));
}
