//! Runs `tests/c/test_c_enroll.c`: every enrollment export from C, their bad inputs, CM's statuses, and at
//! most once for every state-changing call. Recomputes the challenge responses the program printed (3DES-ECB
//! under the key it printed, or the template's default key) and checks the server saw each state change once.

mod common;

use cm_emulator::crypto::des3_ecb_encrypt;
use cm_emulator::{
    BASE_CSP_DEFAULT_ADMIN_KEY, Config, Emulator, Fault, FaultKind, MANAGER_APPROVAL_TEMPLATE,
    SERVER_KEYS_TEMPLATE, SMARTCARD_USER_TEMPLATE,
};
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use uuid::Uuid;

fn unhex(text: &str) -> Vec<u8> {
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
        .collect()
}

#[test]
fn c_program_walks_the_enrollment_and_its_bad_inputs() {
    let (exe, lib_dir) = common::compile_c_test("test_c_enroll");
    let dir = std::env::temp_dir().join(format!("cm-c-enroll-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let csr = dir.join("csr.der");
    let made = Command::new("openssl")
        .args([
            "req",
            "-new",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            "/CN=c test",
        ])
        .arg("-keyout")
        .arg(dir.join("key.pem"))
        .args(["-outform", "DER", "-out"])
        .arg(&csr)
        .output()
        .expect("openssl is installed by scripts/setup-debian.sh");
    assert!(made.status.success(), "{made:?}");

    let emu = Emulator::start(Config {
        quiet: true,
        ..Config::default()
    })
    .unwrap();
    let breaking = Emulator::start(Config {
        quiet: true,
        ..Config::default()
    })
    .unwrap();
    // Applied, then the connection is dropped without an answer.
    let drop_after = || FaultKind::CloseAfterRead { apply: true };
    breaking.add_fault(
        Fault::new(drop_after())
            .method("POST")
            .path("/api/v1.0/requests"),
    );
    breaking.add_fault(Fault::new(drop_after()).method("PUT"));
    let correlation_id = Uuid::new_v4();
    breaking.add_fault(
        Fault::new(FaultKind::ServerError { correlation_id })
            .method("GET")
            .path("/api/v1.0/certificates"),
    );
    let disabled = Emulator::start(Config {
        quiet: true,
        ..Config::default()
    })
    .unwrap();
    disabled.set_api_disabled(true);

    let mut child = Command::new(&exe)
        .arg(emu.base_url())
        .arg(breaking.base_url())
        .arg(&csr)
        .arg(SMARTCARD_USER_TEMPLATE.to_string())
        .arg(MANAGER_APPROVAL_TEMPLATE.to_string())
        .arg(SERVER_KEYS_TEMPLATE.to_string())
        .arg(disabled.base_url())
        .arg(correlation_id.to_string())
        .env("LD_LIBRARY_PATH", &lib_dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut lines = Vec::new();
    for line in BufReader::new(child.stdout.take().unwrap()).lines() {
        let line = line.unwrap();
        println!("{line}");
        if let Some(id) = line.strip_prefix("APPROVE ") {
            emu.approve(Uuid::parse_str(id).unwrap()).unwrap();
            writeln!(stdin, "approved").unwrap();
        }
        lines.push(line);
    }
    let status = child.wait().unwrap();
    let out = lines.join("\n");
    assert!(status.success(), "C test failed:\n{out}");
    assert!(out.contains(" passed, 0 failed"), "{out}");

    // Each response is 3DES-ECB of the challenge under the key a card would hold.
    let mut checked = 0;
    for line in lines.iter().filter(|l| l.starts_with("AUTH ")) {
        let f: Vec<&str> = line.split(' ').collect();
        let key: [u8; 24] = if f[4] == "1" {
            unhex(f[1]).try_into().unwrap()
        } else {
            BASE_CSP_DEFAULT_ADMIN_KEY
        };
        let challenge: [u8; 8] = unhex(f[2]).try_into().unwrap();
        assert_eq!(unhex(f[3]), des3_ecb_encrypt(&key, &challenge), "{line}");
        checked += 1;
    }
    assert_eq!(checked, 3, "default, diversified, unblock");
    let pin = lines.iter().find_map(|l| l.strip_prefix("PIN ")).unwrap();
    assert_eq!(
        pin,
        emu.server_proposed_pin(Uuid::parse_str("c0ffee00-e2e0-4000-8000-000000000002").unwrap())
    );

    // At most once: each state change reached the breaking server exactly once and took effect there.
    let once = lines.iter().find_map(|l| l.strip_prefix("ONCE ")).unwrap();
    assert_eq!(
        breaking.count("POST", "/api/v1.0/requests"),
        2,
        "create + certificatedata"
    );
    assert_eq!(breaking.count("POST", "/certificatedata"), 1);
    assert_eq!(breaking.count("PUT", "/smartcards/"), 1);
    assert_eq!(breaking.count("PUT", &format!("/requests/{once}")), 2);
    assert_eq!(
        disabled.count("GET", "/policy/workflow/"),
        1,
        "both documented policy paths were tried"
    );
    let request = breaking
        .request_json(Uuid::parse_str(once).unwrap())
        .unwrap();
    assert_eq!(request["Status"], 8, "the lost PUT Completed took effect");
    std::fs::remove_dir_all(dir).ok();
}
