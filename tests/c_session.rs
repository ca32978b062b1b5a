//! Runs `tests/c/test_c_session.c` (cm_session from C, threads, a server closing idle connections).

mod common;

use cm_emulator::{Config, Emulator, RequestStatus};
use std::process::Command;
use std::time::Duration;
use uuid::Uuid;

const PREFIX: &str = "5e5510a0-0000-4000-8000-";
const N: usize = 192; // divisible by 16: the C program splits it into quarters of quarters

fn emulator(idle_close: Option<Duration>) -> Emulator {
    let emu = Emulator::start(Config {
        quiet: true,
        idle_close_max: idle_close,
        ..Config::default()
    })
    .unwrap();
    for i in 0..N {
        let id = Uuid::parse_str(&format!("{PREFIX}{i:012}")).unwrap();
        emu.add_request(id, RequestStatus::Approved);
    }
    emu
}

#[test]
fn c_program_uses_sessions() {
    let (exe, lib_dir) = common::compile_c_test_with("test_c_session", &["-pthread"]);
    let ok = emulator(None);
    let closing = emulator(Some(Duration::from_millis(1)));
    let out = Command::new(&exe)
        .args([
            ok.base_url(),
            closing.base_url(),
            PREFIX.to_string(),
            N.to_string(),
        ])
        .env("LD_LIBRARY_PATH", &lib_dir)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    println!("{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "C test failed:\n{stdout}");
    assert!(stdout.contains(" passed, 0 failed"), "{stdout}");
    // Every card bound exactly once: no POST was lost or repeated.
    assert_eq!(ok.count("POST", "/smartcards"), N / 2);
    assert_eq!(closing.count("POST", "/smartcards"), N - N / 2);
    assert!(
        ok.connections_accepted() <= 8,
        "pooled: {}",
        ok.connections_accepted()
    );
}
