//! Builds the C test program with strict warnings against the header and the built shared library, and
//! runs it against four emulators (normal, API disabled, 500, outcome unknown).

mod common;

use cm_emulator::{Config, Emulator, Fault, FaultKind, RequestStatus, SeedRequest};
use std::process::Command;
use uuid::Uuid;

fn emulator(requests: Vec<SeedRequest>, api_disabled: bool, fault: Option<FaultKind>) -> Emulator {
    let faults = fault
        .map(|kind| {
            vec![Fault {
                kind,
                method: Some("POST".into()),
                path_contains: None,
                times: None,
            }]
        })
        .unwrap_or_default();
    Emulator::start(Config {
        quiet: true,
        requests,
        api_disabled,
        faults,
        ..Config::default()
    })
    .unwrap()
}

#[test]
fn c_program_walks_the_api_and_every_error_path() {
    let (exe, lib_dir) = common::compile_c_test("test_c_api");

    let (a, b, c) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
    let correlation = Uuid::new_v4();
    let approved = |ids: &[Uuid]| {
        ids.iter()
            .map(|u| SeedRequest {
                uuid: *u,
                status: RequestStatus::Approved,
            })
            .collect()
    };
    let ok = emulator(approved(&[a, b]), false, None);
    let disabled = emulator(vec![], true, None);
    let error500 = emulator(
        approved(&[a]),
        false,
        Some(FaultKind::ServerError {
            correlation_id: correlation,
        }),
    );
    let unknown = emulator(
        approved(&[c]),
        false,
        Some(FaultKind::CloseAfterRead { apply: true }),
    );

    let out = Command::new(&exe)
        .args([
            ok.base_url(),
            disabled.base_url(),
            error500.base_url(),
            unknown.base_url(),
        ])
        .args([
            a.to_string(),
            b.to_string(),
            c.to_string(),
            correlation.to_string(),
        ])
        .env("LD_LIBRARY_PATH", &lib_dir)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    println!("{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "C test failed:\n{stdout}");
    assert!(stdout.contains(" passed, 0 failed"), "{stdout}");
    assert_eq!(
        unknown.count("POST", "/smartcards"),
        1,
        "the POST whose answer was lost was sent once"
    );
    assert_eq!(
        ok.count("POST", "/smartcards"),
        3,
        "invalid inputs never reached the server"
    );
}
