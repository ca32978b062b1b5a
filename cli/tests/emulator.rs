//! The server commands of `cm-smartcard` against the in-process CM emulator: results, exit codes, the status
//! names in errors, bad input for every argument (exit 2, nothing sent), `--help` everywhere, and secrets
//! that never reach the output, not even with `--verbose`.

mod common;

use cm_emulator::{Config, Emulator, Fault, FaultKind, RequestStatus};
use common::{cmd, run, run_cmd};
use uuid::Uuid;

const ATR: &str = "3b8d0180fba000000397425446590301c8";

fn emulator() -> Emulator {
    Emulator::start(Config {
        quiet: true,
        ..Config::default()
    })
    .unwrap()
}

fn approved(emu: &Emulator) -> String {
    let id = Uuid::new_v4();
    emu.add_request(id, RequestStatus::Approved);
    id.to_string()
}

#[test]
fn assign_then_reconcile_get_and_find() {
    let emu = emulator();
    let url = emu.base_url();
    let req = approved(&emu);
    let card = Uuid::new_v4().to_string();
    let r = run(&[
        "assign",
        "--server",
        &url,
        "--request",
        &req,
        "--card-id",
        &card,
        "--atr",
        ATR,
    ]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        r.stdout.contains("bound") && r.stdout.contains(&card),
        "{}",
        r.stdout
    );
    assert_eq!(emu.count("POST", "/smartcards"), 1);
    let body = emu.request_log()[0].body_str();
    assert!(body.contains(&card) && body.contains(ATR), "{body}");

    let r = run(&[
        "reconcile",
        "--server",
        &url,
        "--request",
        &req,
        "--card-id",
        &card,
        "--json",
    ]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(r.json()["state"], "bound-to-this-card");
    let smartcard = r.json()["smartcard_uuid"].as_str().unwrap().to_string();

    let r = run(&["smartcard", "get", "--server", &url, &smartcard, "--json"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(r.json()["smartcard"]["Atr"], ATR);
    let r = run(&["smartcard", "find", "--server", &url, "--card-id", &card]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stdout.contains(&smartcard), "{}", r.stdout);
    let listed = run(&[
        "request", "list", "--server", &url, "--status", "approved", "--json",
    ]);
    assert_eq!(listed.code, 0, "{}", listed.stderr);
    let v: serde_json::Value = serde_json::from_str(&listed.stdout).unwrap();
    assert!(
        v["requests"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["Uuid"].as_str() == Some(req.as_str())),
        "{}",
        listed.stdout
    );
    let none = run(&["request", "list", "--server", &url, "--status", "Denied"]);
    assert_eq!(none.code, 0, "{}", none.stderr);
    assert!(
        none.stdout.trim().is_empty() && none.stderr.contains("no requests"),
        "{}",
        none.stderr
    );
    let r = run(&["request", "get", "--server", &url, &req]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stdout.contains(&smartcard), "{}", r.stdout);

    // Not found: exit 5, and nothing but GETs were sent.
    let unknown = Uuid::new_v4().to_string();
    for args in [
        vec!["smartcard", "get", "--server", &url, &unknown],
        vec!["smartcard", "find", "--server", &url, "--card-id", &unknown],
        vec!["request", "get", "--server", &url, &unknown],
    ] {
        let r = run(&args);
        assert_eq!(r.code, 5, "{args:?}: {r:?}");
    }
    let r = run(&[
        "reconcile",
        "--server",
        &url,
        "--request",
        &approved(&emu),
        "--card-id",
        &card,
    ]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stdout.contains("not-bound"), "{}", r.stdout);
    assert_eq!(emu.count("POST", ""), 1);
}

#[test]
fn server_refusals_name_the_status_and_exit_1() {
    let emu = emulator();
    let url = emu.base_url();
    let req = approved(&emu);
    let card = Uuid::new_v4().to_string();
    let args = [
        "assign",
        "--server",
        &url,
        "--request",
        &req,
        "--card-id",
        &card,
    ];
    assert_eq!(run(&args).code, 0);
    // The request already has a card: CM answers 403.
    let r = run(&[&args[..], &["--json"]].concat());
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stderr.contains("CM_STATUS_HTTP_FORBIDDEN (300)"),
        "{}",
        r.stderr
    );
    assert_eq!(r.json()["error"]["status"], "CM_STATUS_HTTP_FORBIDDEN");
    assert_eq!(r.json()["error"]["http_status"], 403);
    assert_eq!(r.json()["exit_code"], 1);

    let correlation = Uuid::new_v4();
    emu.set_fault(Fault::new(FaultKind::ServerError {
        correlation_id: correlation,
    }));
    let r = run(&["request", "get", "--server", &url, &req]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stderr.contains("CM_STATUS_HTTP_SERVER_ERROR"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains(&correlation.to_string()), "{}", r.stderr);

    emu.set_api_disabled(true);
    emu.clear_faults();
    let r = run(&["request", "get", "--server", &url, &req]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stderr.contains("CM_STATUS_HTTP_NOT_FOUND"),
        "{}",
        r.stderr
    );
}

#[test]
fn outcome_unknown_is_exit_3_and_names_the_reconcile_command() {
    let emu = emulator();
    let url = emu.base_url();
    let req = approved(&emu);
    let card = Uuid::new_v4().to_string();
    emu.set_fault(
        Fault::new(FaultKind::CloseAfterRead { apply: true })
            .method("POST")
            .times(1),
    );
    let r = run(&[
        "assign",
        "--server",
        &url,
        "--request",
        &req,
        "--card-id",
        &card,
    ]);
    assert_eq!(r.code, 3, "{r:?}");
    assert!(
        r.stderr.contains("CM_STATUS_OUTCOME_UNKNOWN"),
        "{}",
        r.stderr
    );
    let hint = format!("cm-smartcard reconcile --server {url} --request {req} --card-id {card}");
    assert!(r.stderr.contains(&hint), "{}", r.stderr);
    assert_eq!(emu.count("POST", ""), 1, "never resent");
    let r = run(&[
        "reconcile",
        "--server",
        &url,
        "--request",
        &req,
        "--card-id",
        &card,
    ]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stdout.contains("bound-to-this-card"), "{}", r.stdout);
}

/// Every argument's bad values: a clear message, exit 2, and not one request on the wire.
#[test]
fn bad_input_is_exit_2_and_sends_nothing() {
    let emu = emulator();
    let url = emu.base_url();
    let req = approved(&emu);
    let card = Uuid::new_v4().to_string();
    let s = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<String>>();
    let assign = |extra: &[&str]| {
        let mut v = s(&[
            "assign",
            "--server",
            &url,
            "--request",
            &req,
            "--card-id",
            &card,
        ]);
        v.extend(s(extra));
        v
    };
    let cases: Vec<(Vec<String>, &str)> = vec![
        (
            s(&[
                "assign",
                "--server",
                &url,
                "--request",
                "not-a-guid",
                "--card-id",
                &card,
            ]),
            "request id",
        ),
        (
            s(&[
                "assign",
                "--server",
                &url,
                "--request",
                &req,
                "--card-id",
                "12345",
            ]),
            "card id",
        ),
        (assign(&["--atr", "zz"]), "ATR"),
        (assign(&["--atr", "3b"]), "ATR"),
        (
            s(&[
                "assign",
                "--server",
                "ftp://cm",
                "--request",
                &req,
                "--card-id",
                &card,
            ]),
            "https://",
        ),
        (
            s(&[
                "assign",
                "--server",
                "https://user:pw@cm",
                "--request",
                &req,
                "--card-id",
                &card,
            ]),
            "credentials",
        ),
        (
            s(&["assign", "--request", &req, "--card-id", &card]),
            "--server",
        ),
        (
            s(&["assign", "--server", &url, "--card-id", &card]),
            "--request",
        ),
        (assign(&["--auth", "kerberos5"]), "kerberos5"),
        (assign(&["--auth", "basic"]), "--user"),
        (assign(&["--auth", "ntlm"]), "--user"),
        (
            assign(&["--auth", "basic", "--user", "carol"]),
            "CM_PASSWORD",
        ),
        (assign(&["--auth", "bearer"]), "CM_BEARER_TOKEN"),
        (
            assign(&["--auth", "none", "--user", "carol"]),
            "--user goes with",
        ),
        (
            assign(&["--password", "Hunter2-argv"]),
            "--password is not accepted",
        ),
        (assign(&["--token", "tok-argv"]), "--token is not accepted"),
        (
            assign(&["--password-stdin", "--token-stdin", "--auth", "bearer"]),
            "cannot both",
        ),
        (assign(&["--token-stdin"]), "--auth bearer"),
        (assign(&["--timeout", "0"]), "more than 0"),
        (assign(&["--timeout", "soon"]), "not a number"),
        (
            assign(&["--proxy", "ftp://proxy:21"]),
            "only http:// proxies",
        ),
        (
            assign(&["--ca-file", "/nonexistent/ca.pem"]),
            "not a readable file",
        ),
        (
            assign(&["--reader", "Virtual PCD 00 00"]),
            "cannot be used with",
        ),
        (assign(&["--byte-order", "rfc4122"]), "cannot be used with"),
        (
            s(&["assign", "--server", &url, "--request", &req, "--atr", ATR]),
            "--card-id",
        ),
        (
            s(&[
                "reconcile",
                "--server",
                &url,
                "--request",
                &req,
                "--card-id",
                "x",
            ]),
            "card id",
        ),
        (
            s(&[
                "reconcile",
                "--server",
                &url,
                "--request",
                "x",
                "--card-id",
                &card,
            ]),
            "request id",
        ),
        (
            s(&["smartcard", "get", "--server", &url, "nope"]),
            "smartcard uuid",
        ),
        (s(&["smartcard", "find", "--server", &url]), "--card-id"),
        (
            s(&["smartcard", "find", "--server", &url, "--card-id", "nope"]),
            "card id",
        ),
        (
            s(&[
                "smartcard",
                "find",
                "--server",
                &url,
                "--card-id",
                &card,
                "--reader",
                "r",
            ]),
            "cannot be used with",
        ),
        (
            s(&["request", "get", "--server", &url, "{bad}"]),
            "request id",
        ),
        (
            s(&["request", "list", "--server", &url, "--status", "bogus"]),
            "invalid value",
        ),
        (s(&["doctor", "--server", "cm.contoso.com"]), "no scheme"),
        (s(&["doctor", "--server", &url, "--timeout", "-3"]), "'-3'"),
        (
            s(&["doctor", "--server", &url, "--reader", ""]),
            "reader name is empty",
        ),
        (s(&["card-id", "--byte-order", "big"]), "big"),
        (s(&["wait", "--timeout", "x"]), "not a number"),
        (s(&["parse-atr", "3b 8d 0"]), "ATR"),
        (s(&["parse-atr"]), "<ATR>"),
        (s(&["frobnicate"]), "unrecognized subcommand"),
        (s(&["readers", "--server", &url]), "unexpected argument"),
    ];
    for (args, expected) in cases {
        let argv: Vec<&str> = args.iter().map(String::as_str).collect();
        let r = run(&argv);
        assert_eq!(r.code, 2, "{argv:?}: {r:?}");
        assert!(
            r.stderr.contains(expected),
            "{argv:?}: expected {expected:?} in stderr: {}",
            r.stderr
        );
        assert!(
            r.stdout.is_empty() || r.stdout.contains("Usage"),
            "{argv:?}: {}",
            r.stdout
        );
        assert!(
            !r.all().contains("Hunter2-argv") && !r.all().contains("tok-argv"),
            "{argv:?}"
        );
        assert!(
            emu.request_log().is_empty(),
            "{argv:?} sent {:?}",
            emu.request_log()
        );
    }
}

#[test]
fn help_on_every_subcommand_has_examples() {
    for sub in [
        vec!["readers"],
        vec!["atr"],
        vec!["card-id"],
        vec!["wait"],
        vec!["parse-atr"],
        vec!["assign"],
        vec!["reconcile"],
        vec!["smartcard", "get"],
        vec!["smartcard", "find"],
        vec!["request", "get"],
        vec!["request", "list"],
        vec!["doctor"],
        vec!["completions"],
    ] {
        let r = run(&[&sub[..], &["--help"]].concat());
        assert_eq!(r.code, 0, "{sub:?}");
        assert!(r.stdout.contains("Examples:"), "{sub:?}: {}", r.stdout);
    }
    let r = run(&["--help"]);
    assert!(r.stdout.contains("Exit codes:") && r.stdout.contains("3    outcome unknown"));
    let r = run(&["--version"]);
    assert_eq!(r.code, 0);
    assert!(r.stdout.starts_with("cm-smartcard "), "{}", r.stdout);
}

const PASSWORD: &str = "Pw-9f3c1e77-never-shown";
const TOKEN: &str = "tok.eyJ-4a1b9c-never-shown";

/// The forms a secret could leak in: itself, `user:password`, and their base64 (the Basic header).
fn leaks(text: &str, user: &str, secret: &str) -> Vec<String> {
    use base64::Engine;
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let forms = [
        secret.to_string(),
        format!("{user}:{secret}"),
        b64(&format!("{user}:{secret}")),
        b64(secret),
    ];
    forms
        .into_iter()
        .filter(|f| text.contains(f.as_str()))
        .collect()
}

#[test]
fn secrets_never_reach_the_output_even_verbose() {
    let emu = emulator();
    let url = emu.base_url();
    let card = Uuid::new_v4().to_string();

    // Basic with the password from the environment, then from stdin.
    let req = approved(&emu);
    let mut c = cmd(&[
        "assign",
        "--server",
        &url,
        "--request",
        &req,
        "--card-id",
        &card,
        "--auth",
        "basic",
        "--user",
        "carol",
        "--insecure-http",
        "--verbose",
    ]);
    c.env("CM_PASSWORD", PASSWORD);
    let r = run_cmd(c, None);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        r.stderr.contains("> Authorization: Basic [redacted]"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains("< [connection"),
        "the answer is traced: {}",
        r.stderr
    );
    assert_eq!(leaks(&r.all(), "carol", PASSWORD), Vec::<String>::new());
    let sent = emu.request_log();
    assert_eq!(
        sent.last().unwrap().header("Authorization"),
        Some("Basic …")
    );

    let r = run_cmd(
        cmd(&[
            "request",
            "get",
            "--server",
            &url,
            &req,
            "--auth",
            "basic",
            "--user",
            "carol",
            "--password-stdin",
            "--insecure-http",
            "-v",
            "--json",
        ]),
        Some(&format!("{PASSWORD}\n")),
    );
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(leaks(&r.all(), "carol", PASSWORD), Vec::<String>::new());

    // Bearer from stdin and from the environment.
    let r = run_cmd(
        cmd(&[
            "request",
            "get",
            "--server",
            &url,
            &req,
            "--auth",
            "bearer",
            "--token-stdin",
            "--insecure-http",
            "-v",
        ]),
        Some(TOKEN),
    );
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        r.stderr.contains("> Authorization: Bearer [redacted]"),
        "{}",
        r.stderr
    );
    assert_eq!(leaks(&r.all(), "", TOKEN), Vec::<String>::new());
    let mut c = cmd(&[
        "request",
        "get",
        "--server",
        &url,
        &req,
        "--auth",
        "bearer",
        "--insecure-http",
        "-v",
    ]);
    c.env("CM_BEARER_TOKEN", TOKEN);
    let r = run_cmd(c, None);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(leaks(&r.all(), "", TOKEN), Vec::<String>::new());

    // A failure path: credentials over http without --insecure-http are refused, with nothing sent.
    emu.clear_log();
    let mut c = cmd(&[
        "request", "get", "--server", &url, &req, "--auth", "basic", "--user", "carol", "-v",
    ]);
    c.env("CM_PASSWORD", PASSWORD);
    let r = run_cmd(c, None);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stderr.contains("CM_STATUS_AUTH_INSECURE_TRANSPORT"),
        "{}",
        r.stderr
    );
    assert_eq!(leaks(&r.all(), "carol", PASSWORD), Vec::<String>::new());
    assert!(emu.request_log().is_empty());
}

#[test]
fn parse_atr_explains_and_flags_problems() {
    let r = run(&[
        "parse-atr",
        "3B:8D:01:80:FB:A0:00:00:03:97:42:54:46:59:03:01:C8",
        "--json",
    ]);
    assert_eq!(r.code, 0, "{r:?}");
    let j = r.json();
    assert_eq!(j["atr"], ATR);
    assert_eq!(j["protocols"][0], "T=1");
    assert_eq!(j["tck_valid"], true);
    assert_eq!(j["well_formed"], true);
    // A wrong TCK: still explained (exit 0), flagged as not well formed.
    let r = run(&["parse-atr", "3b8d0180fba000000397425446590301c9"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        r.stdout.contains("INVALID checksum") && r.stdout.contains("NOT well formed"),
        "{}",
        r.stdout
    );
}

/// `cm-smartcard doctor … | head -1`: a closed stdout ends the output quietly, never a panic (exit 101).
#[test]
fn a_closed_stdout_is_not_a_panic() {
    let emu = emulator();
    let mut c = cmd(&["doctor", "--server", &emu.base_url()]);
    c.stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = c.spawn().unwrap();
    drop(child.stdout.take()); // before the child writes its first line
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(out.status.code(), Some(0), "{stderr}");
}

#[test]
fn completion_scripts_cover_the_subcommands() {
    for shell in ["bash", "zsh", "fish", "powershell"] {
        let r = run(&["completions", shell]);
        assert_eq!(r.code, 0, "{shell}: {r:?}");
        for word in ["doctor", "card-id", "byte-order", "password-stdin"] {
            assert!(r.stdout.contains(word), "{shell} lacks {word}");
        }
        assert!(
            !r.stdout.contains("Never accepted") && !r.stdout.contains(" --password --token"),
            "{shell}: the hidden --password is not offered"
        );
    }
    assert_eq!(run(&["completions", "tcsh"]).code, 2);
}
