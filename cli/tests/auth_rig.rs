//! Server commands through the auth rig (Apache mod_auth_gssapi + MIT KDC + NTLM in front of the emulator):
//! a binding with Kerberos, and exit code 4 when the server processed a call without proving its identity.
//! Set AUTH_RIG_ENV; without it the tests skip, unless CM_REQUIRE_RIGS=1.

mod common;

use common::{cmd, rig, run_cmd};
use std::collections::HashMap;
use std::io::{Read, Write};

macro_rules! auth_rig {
    ($test:expr) => {
        match rig("AUTH_RIG_ENV", "see tests/rigs/auth/run-tests.sh", $test) {
            Some(r) => r,
            None => return,
        }
    };
}

/// Seeds an Approved request in the rig's backend emulator (its control endpoint, plain loopback HTTP).
fn seed_request(r: &HashMap<String, String>) -> String {
    let id = uuid::Uuid::new_v4().to_string();
    let authority = r["AUTH_BACKEND_URL"]
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_string();
    let body = format!("{{\"uuid\":\"{id}\"}}");
    let mut s = std::net::TcpStream::connect(&authority).unwrap();
    write!(
        s,
        "POST /_emulator/requests HTTP/1.1\r\nHost: {authority}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut answer = String::new();
    s.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 201"), "{answer}");
    id
}

fn rig_cmd(r: &HashMap<String, String>, args: &[&str]) -> std::process::Command {
    let mut c = cmd(args);
    c.env("KRB5_CONFIG", &r["KRB5_CONFIG"])
        .env("KRB5CCNAME", &r["KRB5CCNAME"]);
    c
}

#[test]
fn assign_with_kerberos_then_reconcile() {
    let r = auth_rig!("assign_with_kerberos_then_reconcile");
    let req = seed_request(&r);
    let card = uuid::Uuid::new_v4().to_string();
    let url = &r["AUTH_NEGOTIATE_URL"];
    let args = [
        "--server",
        url,
        "--insecure-http",
        "--require-mutual-auth",
        "--request",
        &req,
        "--card-id",
        &card,
    ];
    let out = run_cmd(
        rig_cmd(&r, &[&["assign"][..], &args, &["--json"]].concat()),
        None,
    );
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(out.json()["http_status"], 201);
    assert!(
        out.json()["warning"].is_null(),
        "Kerberos proved the server: {}",
        out.stdout
    );
    let out = run_cmd(rig_cmd(&r, &[&["reconcile"][..], &args].concat()), None);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(out.stdout.contains("bound-to-this-card"), "{}", out.stdout);
    // Without --insecure-http the Kerberos token is not sent over http: refused before anything is processed.
    let out = run_cmd(
        rig_cmd(&r, &["request", "get", "--server", url, &req]),
        None,
    );
    assert_eq!(out.code, 1, "{out:?}");
    assert!(
        out.stderr.contains("CM_STATUS_AUTH_INSECURE_TRANSPORT"),
        "{}",
        out.stderr
    );
}

#[test]
fn processed_but_unverified_is_exit_4_with_the_result() {
    let r = auth_rig!("processed_but_unverified_is_exit_4_with_the_result");
    let req = seed_request(&r);
    let user = format!("{}\\{}", r["AUTH_NTLM_DOMAIN"], r["AUTH_NTLM_USER"]);
    let mut c = rig_cmd(
        &r,
        &[
            "request",
            "get",
            "--server",
            &r["AUTH_NTLM_GSS_URL"],
            &req,
            "--insecure-http",
            "--auth",
            "ntlm",
            "--user",
            &user,
            "--require-mutual-auth",
            "--json",
        ],
    );
    c.env("CM_PASSWORD", &r["AUTH_NTLM_PASSWORD"]);
    let out = run_cmd(c, None);
    assert_eq!(out.code, 4, "{out:?}");
    assert_eq!(
        out.json()["request"]["Uuid"],
        req.as_str(),
        "the result is printed"
    );
    assert!(
        out.stderr
            .contains("CM_STATUS_AUTH_SERVER_UNVERIFIED (406)"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("Do NOT send"), "{}", out.stderr);
}
