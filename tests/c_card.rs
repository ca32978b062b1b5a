//! The card exports from C, against the PC/SC rig (`PCSC_RIG_ENV`) and the emulator.

mod common;

use cm_emulator::{Config, Emulator, RequestStatus};
use std::process::Command;
use uuid::Uuid;

fn rig_env() -> Option<Vec<(String, String)>> {
    let path = std::env::var("PCSC_RIG_ENV").ok()?;
    let text = std::fs::read_to_string(path).ok()?;
    Some(
        text.lines()
            .filter_map(|l| l.strip_prefix("export ").unwrap_or(l).split_once('='))
            .map(|(k, v)| {
                (
                    k.trim().to_string(),
                    v.trim().trim_matches(['"', '\'']).to_string(),
                )
            })
            .collect(),
    )
}

#[test]
fn c_program_reads_the_card_and_assigns_it_from_the_reader() {
    let Some(env) = rig_env() else {
        assert!(
            std::env::var("CM_REQUIRE_RIGS").as_deref() != Ok("1"),
            "PCSC_RIG_ENV is required (CM_REQUIRE_RIGS=1)"
        );
        eprintln!("SKIP: no PC/SC rig (set PCSC_RIG_ENV; see tests/rigs/pcsc/README.md)");
        return;
    };
    let get = |k: &str| {
        env.iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| panic!("{k} missing in rig env"))
    };
    let (exe, lib_dir) = common::compile_c_test("test_c_card");

    let emu = Emulator::start(Config {
        quiet: true,
        ..Config::default()
    })
    .unwrap();
    let request = Uuid::new_v4();
    emu.add_request(request, RequestStatus::Approved);
    // The rig's default card ID bytes, read in Windows order.
    let raw: Vec<u8> = (0..16)
        .map(|i| u8::from_str_radix(&get("PCSC_DEFAULT_CARD_ID")[2 * i..2 * i + 2], 16).unwrap())
        .collect();
    let card_id = Uuid::from_bytes_le(raw.try_into().unwrap()).to_string();
    let mut cmd = Command::new(&exe);
    cmd.args([
        emu.base_url(),
        request.to_string(),
        get("PCSC_READER0"),
        get("PCSC_READER1"),
        get("PCSC_DEFAULT_ATR"),
        card_id.clone(),
    ])
    .env("LD_LIBRARY_PATH", &lib_dir);
    if let Some((_, sock)) = env.iter().find(|(k, _)| k == "PCSCLITE_CSOCK_NAME") {
        cmd.env("PCSCLITE_CSOCK_NAME", sock);
    }
    let out = cmd.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    println!("{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(
        out.status.success() && stdout.contains(" passed, 0 failed"),
        "C card test failed:\n{stdout}"
    );
    let sc = emu
        .smartcard_for_card(Uuid::parse_str(&card_id).unwrap())
        .expect("the card is bound on the server");
    assert_eq!(sc["Atr"], get("PCSC_DEFAULT_ATR"));
}

/// Issue 9, defect 1: 32 threads reading the same card (ATR, reader list, card ID; named reader, "" and
/// NULL) while two more threads keep waiting on an empty reader. libpcsclite 1.9.9 segfaults inside
/// `SCardDisconnect` under such load unless the library serializes its PC/SC work. Each round runs in a
/// child process, so a crash is reported here (with its signal) instead of killing the test runner.
/// Against the unserialized library, about half of these rounds crashed.
#[test]
fn concurrent_card_reads_do_not_crash_the_process() {
    use std::os::unix::process::ExitStatusExt;
    let Some(env) = rig_env() else {
        assert!(
            std::env::var("CM_REQUIRE_RIGS").as_deref() != Ok("1"),
            "PCSC_RIG_ENV is required (CM_REQUIRE_RIGS=1)"
        );
        eprintln!("SKIP: no PC/SC rig (set PCSC_RIG_ENV; see tests/rigs/pcsc/README.md)");
        return;
    };
    let get = |k: &str| {
        env.iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| panic!("{k} missing in rig env"))
    };
    let (exe, lib_dir) = common::compile_c_test("stress_c_card");
    let raw: Vec<u8> = (0..16)
        .map(|i| u8::from_str_radix(&get("PCSC_DEFAULT_CARD_ID")[2 * i..2 * i + 2], 16).unwrap())
        .collect();
    let card_id = Uuid::from_bytes_le(raw.try_into().unwrap()).to_string();
    const ROUNDS: usize = 6;
    for round in 1..=ROUNDS {
        let mut cmd = Command::new(&exe);
        cmd.args([
            get("PCSC_READER0"),
            get("PCSC_READER1"),
            "32".into(),
            "40".into(),
            get("PCSC_DEFAULT_ATR"),
            card_id.clone(),
        ])
        .env("LD_LIBRARY_PATH", &lib_dir);
        if let Some((_, sock)) = env.iter().find(|(k, _)| k == "PCSCLITE_CSOCK_NAME") {
            cmd.env("PCSCLITE_CSOCK_NAME", sock);
        }
        let out = cmd.output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.signal().is_none(),
            "round {round}/{ROUNDS}: the process crashed with signal {:?} under concurrent card reads\n{stdout}",
            out.status.signal()
        );
        assert!(
            out.status.success() && stdout.contains(" 0 failed"),
            "round {round}/{ROUNDS}: calls failed under concurrency ({}):\n{stdout}{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
