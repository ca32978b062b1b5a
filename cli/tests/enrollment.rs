//! The enrollment and card lifecycle commands of `cm-smartcard` against the in-process CM emulator: the
//! documented walkthrough from a shell, approvals, server-proposed PINs and server-generated keys, `--dry-run`
//! (nothing sent), outcome unknown (never resent; the create is reconciled), refusals and their exit codes,
//! bad input (exit 2, nothing sent), and secrets that are printed only when asked, not even with `--verbose`.

mod common;

use base64::Engine as _;
use cm_emulator::crypto::des3_ecb_encrypt;
use cm_emulator::{
    BASE_CSP_DEFAULT_ADMIN_KEY, Config, Emulator, Fault, FaultKind, MANAGER_APPROVAL_TEMPLATE,
    SERVER_KEYS_TEMPLATE, SMARTCARD_USER_TEMPLATE, SmartcardStatus,
};
use common::{Run, cmd, run_cmd};
use std::path::{Path, PathBuf};
use std::process::Command;
use uuid::Uuid;

const ATR: &str = "3b8d0180fba000000397425446590301c8";
/// A challenge whose base64 has '+', '/' and '=' (the documentation's example).
const CHALLENGE: [u8; 8] = [0xd6, 0x11, 0x43, 0xf9, 0xcc, 0xff, 0xd2, 0xca];

fn emulator() -> Emulator {
    Emulator::start(Config {
        quiet: true,
        ..Config::default()
    })
    .unwrap()
}

/// Runs `cm-smartcard ARGS --server <emulator>`.
fn cli(emu: &Emulator, args: &[&str]) -> Run {
    cli_with(emu, args, &[], None)
}

fn cli_with(emu: &Emulator, args: &[&str], env: &[(&str, &str)], stdin: Option<&str>) -> Run {
    let url = emu.base_url();
    let mut c = cmd(&[args, &["--server", &url]].concat());
    for (k, v) in env {
        c.env(k, v);
    }
    run_cmd(c, stdin)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("cm-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A PKCS#10 request made by openssl (`DER` or `PEM`), as an administrator's own tooling would.
fn csr(dir: &Path, cn: &str, form: &str) -> PathBuf {
    let out = dir.join(format!("{cn}.{}", form.to_lowercase()));
    let made = Command::new("openssl")
        .args(["req", "-new", "-newkey", "rsa:2048", "-nodes", "-subj"])
        .arg(format!("/CN={cn}"))
        .arg("-keyout")
        .arg(dir.join(format!("{cn}.key")))
        .args(["-outform", form, "-out"])
        .arg(&out)
        .output()
        .expect("openssl is installed by scripts/setup-debian.sh");
    assert!(made.status.success(), "{made:?}");
    out
}

/// Creates a request through the CLI and returns its id.
fn create(emu: &Emulator, template: &str, comment: &str) -> String {
    let r = cli(
        emu,
        &[
            "request",
            "create",
            "--type",
            "Enroll",
            "--template",
            template,
            "--comment",
            comment,
            "--json",
        ],
    );
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(r.json()["created"], true);
    r.json()["request"].as_str().unwrap().to_string()
}

/// Binds a new card id to the request; returns (card id, smartcard uuid).
fn bind(emu: &Emulator, request: &str) -> (String, String) {
    let card = Uuid::new_v4().to_string();
    let r = cli(
        emu,
        &[
            "assign",
            "--request",
            request,
            "--card-id",
            &card,
            "--atr",
            ATR,
            "--json",
        ],
    );
    assert_eq!(r.code, 0, "{r:?}");
    let smartcard = r.json()["smartcard_uuid"].as_str().unwrap().to_string();
    (card, smartcard)
}

fn posts_and_puts(emu: &Emulator) -> usize {
    emu.count("POST", "") + emu.count("PUT", "")
}

#[test]
fn the_enrollment_walkthrough_from_the_command_line() {
    let emu = emulator();
    let dir = temp_dir("walk");

    // Templates, the Enroll policy (by name, any case) and the smart card configuration.
    let r = cli(&emu, &["template", "list"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        r.stdout.contains("Smartcard User")
            && r.stdout.contains(&SMARTCARD_USER_TEMPLATE.to_string()),
        "{}",
        r.stdout
    );
    let r = cli(&emu, &["template", "list", "--json"]);
    assert_eq!(r.json()["count"], 3);
    let r = cli(&emu, &["template", "policy", "smartcard user", "--json"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(r.json()["policy"]["ApprovalsNeeded"], 0);
    assert_eq!(r.json()["policy"]["Enabled"], true);
    let r = cli(
        &emu,
        &[
            "template",
            "policy",
            &SMARTCARD_USER_TEMPLATE.to_string(),
            "--type",
            "unblock",
        ],
    );
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stdout.contains("Enabled"), "{}", r.stdout);
    let r = cli(&emu, &["template", "config", "Smartcard User", "--json"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(r.json()["configuration"]["DiversifyAdminKey"], true);

    // Create (data collection, priority), bind, and the request as CM stores it.
    let r = cli(
        &emu,
        &[
            "request",
            "create",
            "--type",
            "enroll",
            "--template",
            "Smartcard User",
            "--comment",
            "walkthrough",
            "--priority",
            "4",
            "--data",
            "City=Seattle",
            "--data",
            "Badge=",
        ],
    );
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stdout.contains("created  yes"), "{}", r.stdout);
    let request = r
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("request  "))
        .expect("the request id is printed")
        .trim()
        .to_string();
    let stored = emu.request_json(request.parse().unwrap()).unwrap();
    assert_eq!(stored["Comment"], "walkthrough");
    assert_eq!(
        stored["ProfileTemplateUuid"],
        SMARTCARD_USER_TEMPLATE.to_string()
    );
    assert_eq!(stored["Priority"], 4);
    let sent = emu.request_log();
    let body = sent
        .iter()
        .rev()
        .find(|l| l.method == "POST")
        .unwrap()
        .body_str();
    assert!(
        body.contains("\"City\"") && body.contains("\"Seattle\"") && body.contains("\"Badge\""),
        "{body}"
    );
    let (card, smartcard) = bind(&emu, &request);

    // The admin key (diversified per card) and challenge responses, checked as a card checks them.
    let key = emu.diversified_admin_key(card.parse().unwrap());
    let r = cli(
        &emu,
        &[
            "card",
            "admin-key",
            &request,
            &smartcard,
            "--card-id",
            &card,
            "--atr",
            ATR,
            "--show",
            "--json",
        ],
    );
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(r.json()["admin_key"], hex(&key));
    assert_eq!(r.json()["length"], 24);
    let r = cli(
        &emu,
        &[
            "smartcard",
            "auth-response",
            &request,
            &smartcard,
            "--card-id",
            &card,
            "--challenge",
            &hex(&CHALLENGE).to_uppercase(),
        ],
    );
    assert_eq!(r.code, 0, "{r:?}");
    let default_response = des3_ecb_encrypt(&BASE_CSP_DEFAULT_ADMIN_KEY, &CHALLENGE);
    assert!(
        r.stdout
            .contains(&format!("response   {}", hex(&default_response))),
        "{}",
        r.stdout
    );
    let r = cli(
        &emu,
        &[
            "card",
            "auth-response",
            &request,
            &smartcard,
            "--card-id",
            &card,
            "--challenge",
            &b64(&CHALLENGE),
            "--diversified",
            "--json",
        ],
    );
    assert_eq!(r.code, 0, "{r:?}");
    let diversified = des3_ecb_encrypt(&key, &CHALLENGE);
    assert_eq!(r.json()["response_hex"], hex(&diversified));
    assert_eq!(r.json()["response_base64"], b64(&diversified));

    // CSR options, then the certificates for openssl's CSRs (one DER, one PEM), saved and verified.
    let r = cli(&emu, &["csr", "options", &request, "--json"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(r.json()["count"], 2);
    let csrs = [csr(&dir, "sign", "DER"), csr(&dir, "enc", "PEM")];
    let out = dir.join("out");
    std::fs::create_dir(&out).unwrap();
    let r = cli(
        &emu,
        &[
            "csr",
            "submit",
            &request,
            csrs[0].to_str().unwrap(),
            csrs[1].to_str().unwrap(),
            "--comments",
            "from the cli test",
            "--out-dir",
            out.to_str().unwrap(),
            "--json",
        ],
    );
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(r.json()["count"], 2);
    let ca = dir.join("ca.pem");
    std::fs::write(&ca, emu.ca_pem()).unwrap();
    for item in r.json()["certificates"].as_array().unwrap() {
        let file = item["files"][0]["file"].as_str().unwrap();
        assert!(file.ends_with(".p7b") && file.contains(&request), "{file}");
        let pem = format!("{file}.pem");
        let printed = Command::new("openssl")
            .args([
                "pkcs7",
                "-inform",
                "DER",
                "-print_certs",
                "-in",
                file,
                "-out",
                &pem,
            ])
            .status()
            .unwrap();
        assert!(printed.success());
        let verify = Command::new("openssl")
            .args(["verify", "-partial_chain", "-CAfile"])
            .arg(&ca)
            .arg(&pem)
            .output()
            .unwrap();
        assert!(verify.status.success(), "{verify:?}");
    }
    // Returned once: a second submit is refused (403 → exit 1), and the files already there are kept.
    let r = cli(
        &emu,
        &[
            "csr",
            "submit",
            &request,
            csrs[0].to_str().unwrap(),
            csrs[1].to_str().unwrap(),
            "--out-dir",
            out.to_str().unwrap(),
        ],
    );
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stderr.contains("CM_STATUS_HTTP_FORBIDDEN"),
        "{}",
        r.stderr
    );
    assert_eq!(
        std::fs::read_dir(&out).unwrap().count(),
        4,
        "2 .p7b + 2 .pem"
    );

    // Complete; the card is active: its operations, certificates, profile, and the user's certificates.
    let r = cli(
        &emu,
        &["request", "set-status", &request, "completed", "--json"],
    );
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(r.json()["request"]["Status"], 8);
    let r = cli(&emu, &["request", "get", &request]);
    assert!(
        r.stdout.contains("status") && r.stdout.contains('8'),
        "{}",
        r.stdout
    );
    let r = cli(&emu, &["card", "operations", &smartcard]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stdout.lines().any(|l| l == "unblock"), "{}", r.stdout);
    let r = cli(&emu, &["smartcard", "certificates", &smartcard, "--json"]);
    assert_eq!(r.json()["count"], 2);
    assert_eq!(
        r.json()["certificates"][0]["Thumbprint"]
            .as_str()
            .unwrap()
            .len(),
        40
    );
    let r = cli(&emu, &["request", "profiles", &request, "--json"]);
    assert_eq!(r.json()["count"], 1);
    let profile = r.json()["profiles"][0]["Uuid"]
        .as_str()
        .unwrap()
        .to_string();
    let r = cli(&emu, &["profile", "get", &profile]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stdout.contains("ProfileOperations"), "{}", r.stdout);
    let r = cli(&emu, &["profile", "list", "--status", "active"]);
    assert!(r.stdout.contains(&profile), "{}", r.stdout);
    let r = cli(&emu, &["profile", "operations", &profile, "--json"]);
    assert!(r.json()["count"].as_u64().unwrap() >= 1, "{}", r.stdout);
    let r = cli(&emu, &["profile", "certificates", &profile]);
    assert!(r.stdout.contains("CMSmartcardSignature"), "{}", r.stdout);
    let r = cli(&emu, &["certificates", "--json"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.json()["count"].as_u64().unwrap() >= 2);

    // Unblock: a request about the card, and the challenge response for it.
    let r = cli(
        &emu,
        &[
            "request",
            "create",
            "--type",
            "Unblock",
            "--smartcard",
            &smartcard,
            "--json",
        ],
    );
    assert_eq!(r.code, 0, "{r:?}");
    let unblock = r.json()["request"].as_str().unwrap().to_string();
    let r = cli(
        &emu,
        &[
            "card",
            "auth-response",
            &unblock,
            &smartcard,
            "--card-id",
            &card,
            "--challenge",
            "d6 11 43 f9 cc ff d2 ca",
            "--diversified",
        ],
    );
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stdout.contains(&hex(&diversified)), "{}", r.stdout);
    assert_eq!(
        cli(&emu, &["request", "set-status", &unblock, "Completed"]).code,
        0
    );

    // Retire: the card's status set through the Retire request; nothing is allowed afterwards.
    let r = cli(
        &emu,
        &[
            "request",
            "create",
            "--type",
            "retire",
            "--smartcard",
            &smartcard,
            "--json",
        ],
    );
    let retire = r.json()["request"].as_str().unwrap().to_string();
    let r = cli(
        &emu,
        &["card", "set-status", &retire, &smartcard, "retired"],
    );
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stdout.contains("6 (Retired)"), "{}", r.stdout);
    assert_eq!(
        emu.smartcard_status(smartcard.parse().unwrap()),
        Some(SmartcardStatus::Retired)
    );
    let r = cli(&emu, &["card", "operations", &smartcard]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        r.stdout.is_empty() && r.stderr.contains("no operations"),
        "{r:?}"
    );
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn approvals_pins_and_server_generated_keys() {
    let emu = emulator();
    let request = create(&emu, "Smartcard Manager Approval", "needs approval");
    let r = cli(&emu, &["request", "list", "--status", "pending", "--json"]);
    assert!(r.stdout.contains(&request), "{}", r.stdout);
    emu.approve(request.parse().unwrap()).unwrap();
    let (card, smartcard) = bind(&emu, &request);

    // The PIN this template proposes: hidden unless --show.
    let pin = emu.server_proposed_pin(card.parse().unwrap());
    let args = [
        "card",
        "pin",
        &smartcard,
        "--request",
        &request,
        "--card-id",
        &card,
    ];
    let r = cli(&emu, &args);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stdout.contains("[hidden: 8 characters"), "{}", r.stdout);
    assert!(!r.all().contains(&pin));
    let r = cli(&emu, &[&args[..], &["--show", "--json"]].concat());
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(r.json()["pin"], pin);
    assert!(r.json().get("fingerprint").is_none(), "no hash of 8 digits");
    // This template does not diversify: the admin key is refused (403 → exit 1, with CM's reason).
    let r = cli(
        &emu,
        &[
            "card",
            "admin-key",
            &request,
            &smartcard,
            "--card-id",
            &card,
            "--json",
        ],
    );
    assert_eq!(r.code, 1, "{r:?}");
    assert_eq!(r.json()["error"]["http_status"], 403);
    assert!(
        r.stderr.contains("CM_STATUS_HTTP_FORBIDDEN (300)"),
        "{}",
        r.stderr
    );

    // Server-generated keys: no CSR options, no FILE; the PFX is written under the password, owner-only.
    let request = create(&emu, &SERVER_KEYS_TEMPLATE.to_string(), "software");
    let r = cli(&emu, &["csr", "options", &request]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        r.stderr.contains("the server generates the keys"),
        "{}",
        r.stderr
    );
    let dir = temp_dir("pfx");
    let password = "pfx-Passw0rd-never-shown";
    let r = cli_with(
        &emu,
        &[
            "csr",
            "submit",
            &request,
            "--out-dir",
            dir.to_str().unwrap(),
            "--json",
            "-v",
        ],
        &[("CM_PFX_PASSWORD", password)],
        None,
    );
    assert_eq!(r.code, 0, "{r:?}");
    assert!(!r.all().contains(password));
    let items = r.json()["certificates"].as_array().unwrap().clone();
    assert!(
        items.len() >= 2,
        "more certificates than requested: {items:?}"
    );
    let pfx: Vec<String> = items
        .iter()
        .flat_map(|i| i["files"].as_array().unwrap().clone())
        .filter(|f| f["kind"] == "pfx")
        .map(|f| f["file"].as_str().unwrap().to_string())
        .collect();
    assert!(!pfx.is_empty(), "{items:?}");
    for file in &pfx {
        let pfx_bytes = std::fs::read(file).unwrap();
        assert!(!r.all().contains(&b64(&pfx_bytes)[..40]), "PFX not printed");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(file).unwrap().permissions().mode();
            assert_eq!(mode & 0o077, 0, "{file}: {mode:o}");
        }
        let read = |pass: &str| {
            Command::new("openssl")
                .args(["pkcs12", "-nodes", "-passin"])
                .arg(format!("pass:{pass}"))
                .args(["-in", file])
                .output()
                .unwrap()
                .status
                .success()
        };
        assert!(read(password), "{file}");
        assert!(!read("wrong"), "{file}");
    }
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn the_pfx_password_from_stdin() {
    let emu = emulator();
    let request = create(&emu, "Server Keys", "stdin");
    let dir = temp_dir("pfx-stdin");
    let password = "stdin-Pfx-9c1d-never-shown";
    let r = cli_with(
        &emu,
        &[
            "csr",
            "submit",
            &request,
            "--pfx-password-stdin",
            "--out-dir",
            dir.to_str().unwrap(),
            "--verbose",
        ],
        &[],
        Some(&format!("{password}\n")),
    );
    assert_eq!(r.code, 0, "{r:?}");
    assert!(!r.all().contains(password), "{r:?}");
    assert!(
        r.stderr.contains("[not shown: it holds a secret]"),
        "{}",
        r.stderr
    );
    let sent = emu
        .request_log()
        .into_iter()
        .find(|l| l.path.contains("/certificatedata"))
        .unwrap();
    assert!(sent.body_str().contains(password), "the password was sent");
    let pfx = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "pfx"))
        .expect("a .pfx");
    let ok = Command::new("openssl")
        .args(["pkcs12", "-nodes", "-passin"])
        .arg(format!("pass:{password}"))
        .arg("-in")
        .arg(&pfx)
        .output()
        .unwrap();
    assert!(ok.status.success(), "{ok:?}");
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn dry_runs_print_the_request_and_send_nothing() {
    let emu = emulator();
    let request = create(&emu, &SMARTCARD_USER_TEMPLATE.to_string(), "real");
    let (_, smartcard) = bind(&emu, &request);
    let dir = temp_dir("dry");
    let file = csr(&dir, "dry", "PEM");
    let status_before = emu.request_status(request.parse().unwrap());
    emu.clear_log();
    let template = SMARTCARD_USER_TEMPLATE.to_string();
    let cases: Vec<Vec<&str>> = vec![
        vec![
            "request",
            "create",
            "--type",
            "Enroll",
            "--template",
            &template,
            "--comment",
            "dry",
            "--data",
            "City=Seattle",
        ],
        vec![
            "request",
            "create",
            "--type",
            "Unblock",
            "--smartcard",
            &smartcard,
        ],
        vec!["request", "set-status", &request, "Canceled"],
        vec!["card", "set-status", &request, &smartcard, "Disabled"],
        vec![
            "csr",
            "submit",
            &request,
            file.to_str().unwrap(),
            "--out-dir",
            dir.to_str().unwrap(),
        ],
    ];
    for args in cases {
        let r = cli(&emu, &[&args[..], &["--dry-run", "--json"]].concat());
        assert_eq!(r.code, 0, "{args:?}: {r:?}");
        assert_eq!(r.json()["dry_run"], true, "{args:?}");
        assert!(
            r.json()["url"]
                .as_str()
                .unwrap()
                .starts_with(&emu.base_url()),
            "{}",
            r.stdout
        );
        assert!(
            emu.request_log().is_empty(),
            "{args:?} sent {:?}",
            emu.request_log()
        );
        let r = cli(&emu, &[&args[..], &["--dry-run"]].concat());
        assert_eq!(r.code, 0, "{args:?}: {r:?}");
        assert!(r.stderr.contains("nothing was sent"), "{}", r.stderr);
    }
    let r = cli(
        &emu,
        &[
            "request",
            "create",
            "--type",
            "Enroll",
            "--template",
            &template,
            "--comment",
            "dry",
            "--data",
            "City=Seattle",
            "--dry-run",
            "--json",
        ],
    );
    assert_eq!(r.json()["method"], "POST");
    assert_eq!(r.json()["body"]["comment"], "dry");
    assert_eq!(r.json()["body"]["profiletemplateuuid"], template);
    assert_eq!(r.json()["body"]["datacollection"][0]["value"], "Seattle");
    let r = cli(
        &emu,
        &[
            "card",
            "set-status",
            &request,
            &smartcard,
            "disabled",
            "--dry-run",
            "--json",
        ],
    );
    assert_eq!(r.json()["method"], "PUT");
    assert_eq!(r.json()["body"]["status"], "Disabled");
    // The PFX password is never shown, not even in a dry run.
    let r = cli_with(
        &emu,
        &[
            "csr",
            "submit",
            &request,
            "--out-dir",
            dir.to_str().unwrap(),
            "--dry-run",
        ],
        &[("CM_PFX_PASSWORD", "dry-Pfx-never-shown")],
        None,
    );
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stdout.contains("[redacted]") && !r.all().contains("dry-Pfx-never-shown"));
    // A template given by name is looked up (a GET) and nothing else is sent.
    let r = cli(
        &emu,
        &[
            "request",
            "create",
            "--type",
            "Enroll",
            "--template",
            "Smartcard User",
            "--dry-run",
        ],
    );
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stdout.contains(&template), "{}", r.stdout);
    assert_eq!(posts_and_puts(&emu), 0);
    assert_eq!(emu.request_status(request.parse().unwrap()), status_before);
    std::fs::remove_dir_all(dir).ok();
}

/// A create whose connection breaks after the server read it: exit 3, never resent, and the CLI runs the
/// reconcile itself and says what it found — created (the id) or not created.
#[test]
fn outcome_unknown_on_create_is_reconciled_never_resent() {
    for apply in [true, false] {
        let emu = emulator();
        let comment = format!("badge 4711 {apply}");
        let args = [
            "request",
            "create",
            "--type",
            "Enroll",
            "--template",
            "Smartcard User",
            "--comment",
            &comment,
        ];
        for json in [false, true] {
            emu.set_fault(
                Fault::new(FaultKind::CloseAfterRead { apply })
                    .method("POST")
                    .path("/requests")
                    .times(1),
            );
            let before = emu.count("POST", "/requests");
            let r = if json {
                cli(&emu, &[&args[..], &["--json"]].concat())
            } else {
                cli(&emu, &args)
            };
            assert_eq!(r.code, 3, "{r:?}");
            assert_eq!(emu.count("POST", "/requests"), before + 1, "never resent");
            assert!(
                r.stderr.contains("CM_STATUS_OUTCOME_UNKNOWN (204)"),
                "{}",
                r.stderr
            );
            assert!(
                r.stderr
                    .contains("cm-smartcard request find-created --server")
                    && r.stderr.contains(&format!("--comment '{comment}'")),
                "{}",
                r.stderr
            );
            let created: Vec<String> = emu
                .request_log()
                .iter()
                .filter(|l| l.method == "GET")
                .map(|l| l.path.clone())
                .collect();
            assert!(
                created.iter().any(|p| p.ends_with("/requests")),
                "{created:?}"
            );
            if json {
                let v = r.json();
                assert_eq!(v["exit_code"], 3);
                assert_eq!(v["error"]["status"], "CM_STATUS_OUTCOME_UNKNOWN");
                let ids = v["reconcile"]["requests"].as_array().unwrap();
                if apply {
                    // The first (text) run created one too: both match the spec.
                    assert_eq!(v["reconcile"]["state"], "ambiguous", "{v}");
                    assert_eq!(ids.len(), 2);
                } else {
                    assert_eq!(v["reconcile"]["state"], "not-created", "{v}");
                    assert!(ids.is_empty());
                }
            } else if apply {
                assert!(r.stdout.contains("reconcile  created"), "{}", r.stdout);
                let id = r
                    .stdout
                    .lines()
                    .find_map(|l| l.strip_prefix("request    "))
                    .expect("the created request is named")
                    .trim();
                let stored = emu.request_json(id.parse().unwrap()).unwrap();
                assert_eq!(stored["Comment"], comment.as_str());
            } else {
                assert!(r.stdout.contains("reconcile  not-created"), "{}", r.stdout);
                assert!(r.stdout.contains("may be sent again"), "{}", r.stdout);
            }
        }
        // The reconcile command the message names finds the same.
        let since = "2000-01-01T00:00:00Z";
        let r = cli(
            &emu,
            &[
                "request",
                "find-created",
                "--type",
                "enroll",
                "--template",
                "Smartcard User",
                "--comment",
                &comment,
                "--since",
                since,
                "--json",
            ],
        );
        assert_eq!(r.code, 0, "{r:?}");
        assert_eq!(r.json()["count"], if apply { 2 } else { 0 });
    }
}

/// A 2xx to the create whose body is unusable: the request was created but its id is unknown; the CLI finds
/// it (exit 1: the answer was a failure, never resent).
#[test]
fn a_garbled_create_answer_is_reconciled_too() {
    let emu = emulator();
    emu.set_fault(
        Fault::new(FaultKind::Garbage)
            .method("POST")
            .path("/requests")
            .times(1),
    );
    let r = cli(
        &emu,
        &[
            "request",
            "create",
            "--type",
            "Enroll",
            "--template",
            "Smartcard User",
            "--comment",
            "garbled",
        ],
    );
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stderr.contains("CM_STATUS_MALFORMED_RESPONSE"),
        "{}",
        r.stderr
    );
    assert!(r.stdout.contains("reconcile  created"), "{}", r.stdout);
    assert!(
        r.stdout.contains("HTTP 201 with an unusable answer"),
        "{}",
        r.stdout
    );
    assert_eq!(emu.count("POST", "/requests"), 1);
}

#[test]
fn outcome_unknown_on_status_changes_and_certificate_data() {
    let emu = emulator();
    let request = create(&emu, "Smartcard User", "amo");
    let (_, smartcard) = bind(&emu, &request);
    let dir = temp_dir("amo");
    let files = [csr(&dir, "a", "DER"), csr(&dir, "b", "DER")];
    let break_next = |method: &str, path: &str| {
        emu.set_fault(
            Fault::new(FaultKind::CloseAfterRead { apply: true })
                .method(method)
                .path(path)
                .times(1),
        );
    };
    break_next("POST", "/certificatedata");
    let r = cli(
        &emu,
        &[
            "csr",
            "submit",
            &request,
            files[0].to_str().unwrap(),
            files[1].to_str().unwrap(),
            "--out-dir",
            dir.to_str().unwrap(),
        ],
    );
    assert_eq!(r.code, 3, "{r:?}");
    assert!(r.stderr.contains("only ONCE"), "{}", r.stderr);
    assert_eq!(emu.count("POST", "/certificatedata"), 1);

    break_next("PUT", "/smartcards/");
    let r = cli(
        &emu,
        &["card", "set-status", &request, &smartcard, "Disabled"],
    );
    assert_eq!(r.code, 3, "{r:?}");
    assert!(
        r.stderr.contains(&format!(
            "cm-smartcard smartcard get --server '{}' {smartcard}",
            emu.base_url()
        )),
        "{}",
        r.stderr
    );
    assert_eq!(emu.count("PUT", "/smartcards/"), 1);

    break_next("PUT", &format!("/requests/{request}"));
    let r = cli(
        &emu,
        &["request", "set-status", &request, "Canceled", "--json"],
    );
    assert_eq!(r.code, 3, "{r:?}");
    assert_eq!(r.json()["error"]["status"], "CM_STATUS_OUTCOME_UNKNOWN");
    assert!(
        r.stderr.contains("cm-smartcard request get"),
        "{}",
        r.stderr
    );
    assert_eq!(
        emu.count("PUT", &format!("/requests/{request}")),
        2,
        "the card's status change above and this one, each once"
    );
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn refusals_and_absences_have_their_exit_codes() {
    let emu = emulator();
    let request = create(&emu, "Smartcard User", "refusals");
    let (card, smartcard) = bind(&emu, &request);
    // The card is not Active yet: CM refuses an Unblock (403 → exit 1, the status name, CM's reason).
    let r = cli(
        &emu,
        &[
            "request",
            "create",
            "--type",
            "Unblock",
            "--smartcard",
            &smartcard,
            "--json",
        ],
    );
    assert_eq!(r.code, 1, "{r:?}");
    assert_eq!(r.json()["error"]["status"], "CM_STATUS_HTTP_FORBIDDEN");
    assert_eq!(r.json()["exit_code"], 1);
    // The Server Keys template has no Unblock policy enabled.
    let r = cli(
        &emu,
        &[
            "request",
            "create",
            "--type",
            "Unblock",
            "--template",
            "Server Keys",
        ],
    );
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stderr.contains("CM_STATUS_HTTP_FORBIDDEN"),
        "{}",
        r.stderr
    );
    // A card id that is not the bound card's: 403.
    let other = Uuid::new_v4().to_string();
    let r = cli(
        &emu,
        &[
            "card",
            "admin-key",
            &request,
            &smartcard,
            "--card-id",
            &other,
        ],
    );
    assert_eq!(r.code, 1, "{r:?}");
    // Completed twice: CM's state rules refuse the second.
    assert_eq!(
        cli(&emu, &["request", "set-status", &request, "Completed"]).code,
        0
    );
    let r = cli(&emu, &["request", "set-status", &request, "Canceled"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stderr.contains("HTTP 403"), "{}", r.stderr);
    // A server error names its correlation id.
    let corr = Uuid::new_v4();
    emu.set_fault(
        Fault::new(FaultKind::ServerError {
            correlation_id: corr,
        })
        .path("/certificaterequestgenerationoptions"),
    );
    let r = cli(&emu, &["csr", "options", &request]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stderr.contains(&corr.to_string()), "{}", r.stderr);
    emu.clear_faults();

    // Not found: exit 5.
    let unknown = Uuid::new_v4().to_string();
    for args in [
        vec!["template", "policy", unknown.as_str()],
        vec!["template", "config", unknown.as_str()],
        vec!["template", "config", "No Such Template"],
        vec![
            "request",
            "create",
            "--type",
            "Enroll",
            "--template",
            "No Such Template",
        ],
        vec!["profile", "get", unknown.as_str()],
    ] {
        let r = cli(&emu, &args);
        assert_eq!(r.code, 5, "{args:?}: {r:?}");
    }
    let r = cli(&emu, &["template", "policy", "no such template"]);
    assert!(
        r.stderr.contains("'Smartcard User'"),
        "lists the names: {}",
        r.stderr
    );
    // Empty lists are not failures.
    let fresh = create(&emu, "Smartcard User", "no profile yet");
    for args in [
        vec!["card", "certificates", unknown.as_str()],
        vec!["profile", "operations", unknown.as_str()],
        vec!["request", "profiles", fresh.as_str()],
    ] {
        let r = cli(&emu, &args);
        assert_eq!(r.code, 0, "{args:?}: {r:?}");
        assert!(r.stdout.is_empty(), "{args:?}: {}", r.stdout);
    }
    let _ = card;
    assert_eq!(
        emu.count("POST", "/requests"),
        4,
        "the two `create`s, the two refused creates, and not one from the not-found template name"
    );
}

/// Every argument's bad values: a clear message, exit 2, and not one request on the wire.
#[test]
fn bad_input_is_exit_2_and_sends_nothing() {
    let emu = emulator();
    let g = Uuid::new_v4().to_string();
    let t = SMARTCARD_USER_TEMPLATE.to_string();
    let dir = temp_dir("bad");
    let not_csr = dir.join("not.csr");
    std::fs::write(&not_csr, "hello").unwrap();
    let not_csr = not_csr.to_str().unwrap();
    let missing = dir.join("missing.csr");
    let missing = missing.to_str().unwrap();
    let dir_s = dir.to_str().unwrap();
    let create = |extra: &[&'static str]| -> Vec<String> {
        let mut v: Vec<String> = ["request", "create", "--type", "Enroll", "--template", &t]
            .iter()
            .map(|s| s.to_string())
            .collect();
        v.extend(extra.iter().map(|s| s.to_string()));
        v
    };
    let s = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<String>>();
    let cases: Vec<(Vec<String>, &str)> = vec![
        (
            s(&["request", "create", "--type", "Enrol", "--template", &t]),
            "invalid value",
        ),
        (s(&["request", "create", "--template", &t]), "--type"),
        (
            s(&["request", "create", "--type", "Enroll"]),
            "needs --template",
        ),
        (
            s(&["request", "create", "--type", "Unblock"]),
            "needs --smartcard",
        ),
        (
            s(&["request", "create", "--type", "Enroll", "--template", " "]),
            "profile template is empty",
        ),
        (create(&["--target", "carol"]), "target user"),
        (create(&["--smartcard", "nope"]), "smartcard uuid"),
        (create(&["--priority", "-1"]), "-1"),
        (create(&["--priority", "high"]), "high"),
        (create(&["--data", "novalue"]), "NAME=VALUE"),
        (create(&["--data", "=x"]), "empty name"),
        (
            create(&["--password", "Hunter2-argv"]),
            "--password is not accepted",
        ),
        (create(&["--auth", "basic"]), "--user"),
        (
            s(&[
                "request",
                "find-created",
                "--type",
                "Enroll",
                "--template",
                &t,
                "--since",
                "yesterday",
            ]),
            "ISO 8601",
        ),
        (
            s(&[
                "request",
                "find-created",
                "--type",
                "Enroll",
                "--template",
                &t,
            ]),
            "--since",
        ),
        (
            s(&["request", "set-status", "x", "Completed"]),
            "request id",
        ),
        (
            s(&["request", "set-status", &g, "Approved"]),
            "invalid value",
        ),
        (s(&["request", "set-status", &g]), "<STATUS>"),
        (s(&["request", "profiles", "{bad}"]), "request id"),
        (
            s(&["template", "policy", &t, "--type", "Enrollment"]),
            "invalid value",
        ),
        (s(&["template", "policy", ""]), "profile template is empty"),
        (s(&["template", "config", " "]), "profile template is empty"),
        (
            s(&["card", "admin-key", "x", &g, "--card-id", &g]),
            "request id",
        ),
        (
            s(&["card", "admin-key", &g, "x", "--card-id", &g]),
            "smartcard uuid",
        ),
        (
            s(&["card", "admin-key", &g, &g, "--card-id", "x"]),
            "card id",
        ),
        (
            s(&["card", "admin-key", &g, &g, "--card-id", &g, "--atr", "zz"]),
            "ATR",
        ),
        (s(&["card", "admin-key", &g, &g]), "--card-id"),
        (
            s(&[
                "card",
                "admin-key",
                &g,
                &g,
                "--card-id",
                &g,
                "--reader",
                "r",
            ]),
            "cannot be used with",
        ),
        (
            s(&["card", "admin-key", &g, &g, "--atr", ATR, "--reader", "r"]),
            "cannot be used with",
        ),
        (
            s(&["card", "admin-key", &g, &g, "--reader", ""]),
            "reader name is empty",
        ),
        (
            s(&[
                "card",
                "auth-response",
                &g,
                &g,
                "--reader",
                "r",
                "--challenge",
                "x",
            ]),
            "neither hex",
        ),
        (
            s(&[
                "card",
                "auth-response",
                &g,
                &g,
                "--card-id",
                &g,
                "--challenge",
                "CFAA62118BBD25",
            ]),
            "8 bytes",
        ),
        (
            s(&[
                "card",
                "auth-response",
                &g,
                &g,
                "--card-id",
                &g,
                "--challenge",
                "%%",
            ]),
            "neither hex nor base64",
        ),
        (
            s(&["card", "auth-response", &g, &g, "--card-id", &g]),
            "--challenge",
        ),
        (s(&["card", "pin", "x"]), "smartcard uuid"),
        (s(&["card", "pin", &g, "--request", "x"]), "request id"),
        (s(&["card", "pin", &g, "--atr", ATR]), "--card-id"),
        (
            s(&["card", "set-status", &g, &g, "Broken"]),
            "invalid value",
        ),
        (s(&["card", "set-status", "x", &g, "Retired"]), "request id"),
        (s(&["card", "operations", "x"]), "smartcard uuid"),
        (s(&["smartcard", "certificates", "x"]), "smartcard uuid"),
        (s(&["csr", "options", "x"]), "request id"),
        (
            s(&["csr", "submit", &g, missing, "--out-dir", dir_s]),
            "cannot read",
        ),
        (
            s(&["csr", "submit", &g, not_csr, "--out-dir", dir_s]),
            "not a PKCS#10",
        ),
        (
            s(&["csr", "submit", &g, "--out-dir", "/nonexistent/dir"]),
            "not a directory",
        ),
        (
            s(&[
                "csr",
                "submit",
                &g,
                "--pfx-password-stdin",
                "--password-stdin",
                "--user",
                "u",
            ]),
            "cannot both read stdin",
        ),
        (s(&["csr", "submit", "x"]), "request id"),
        (s(&["profile", "get", "x"]), "profile uuid"),
        (
            s(&["profile", "list", "--status", "Sleeping"]),
            "invalid value",
        ),
        (s(&["profile", "operations", "x"]), "profile uuid"),
        (s(&["profile", "certificates", "x"]), "profile uuid"),
        (s(&["certificates", "--auth", "ntlm"]), "--user"),
    ];
    for (args, expected) in cases {
        let argv: Vec<&str> = args.iter().map(String::as_str).collect();
        let r = cli(&emu, &argv);
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
        assert!(!r.all().contains("Hunter2-argv"), "{argv:?}");
        assert!(
            emu.request_log().is_empty(),
            "{argv:?} sent {:?}",
            emu.request_log()
        );
    }
    std::fs::remove_dir_all(dir).ok();
}

/// Admin keys, the template's default admin key and PINs: never printed without --show, not even by
/// `--verbose` (whose HTTP body previews would otherwise show them).
#[test]
fn secrets_are_printed_only_when_asked_even_verbose() {
    let emu = emulator();
    let request = create(&emu, "Smartcard User", "secrets");
    let (card, smartcard) = bind(&emu, &request);
    let key = emu.diversified_admin_key(card.parse().unwrap());
    let forms = |k: &[u8]| vec![hex(k), hex(k).to_uppercase(), b64(k)];

    let args = [
        "card",
        "admin-key",
        &request,
        &smartcard,
        "--card-id",
        &card,
        "-v",
    ];
    for extra in [&[][..], &["--json"][..]] {
        let r = cli(&emu, &[&args[..], extra].concat());
        assert_eq!(r.code, 0, "{r:?}");
        for f in forms(&key) {
            assert!(!r.all().contains(&f), "{f} leaked: {r:?}");
        }
        assert!(
            r.stderr.contains("[not shown: it holds a secret]"),
            "{}",
            r.stderr
        );
        assert!(r.all().contains("sha256:"), "the fingerprint is shown");
    }
    let r = cli(&emu, &[&args[..], &["--show"]].concat());
    assert!(r.stdout.contains(&hex(&key)), "{}", r.stdout);
    assert!(
        !r.stderr.contains(&b64(&key)),
        "the body stays hidden: {}",
        r.stderr
    );

    let default_key = hex(&BASE_CSP_DEFAULT_ADMIN_KEY);
    let r = cli(
        &emu,
        &[
            "template",
            "config",
            &SMARTCARD_USER_TEMPLATE.to_string(),
            "-v",
        ],
    );
    assert_eq!(r.code, 0, "{r:?}");
    assert!(!r.all().to_lowercase().contains(&default_key), "{r:?}");
    assert!(r.stdout.contains("[hidden: 48 hex digits"), "{}", r.stdout);
    let r = cli(&emu, &["template", "config", "Smartcard User", "--json"]);
    assert!(!r.all().to_lowercase().contains(&default_key));
    let r = cli(
        &emu,
        &["template", "config", "Smartcard User", "--show", "--json"],
    );
    assert_eq!(
        r.json()["configuration"]["DefaultAdminKeyHex"]
            .as_str()
            .unwrap()
            .to_lowercase(),
        default_key
    );

    let request = create(&emu, &MANAGER_APPROVAL_TEMPLATE.to_string(), "pin");
    emu.approve(request.parse().unwrap()).unwrap();
    let (card, smartcard) = bind(&emu, &request);
    let pin = emu.server_proposed_pin(card.parse().unwrap());
    let r = cli(
        &emu,
        &[
            "card",
            "pin",
            &smartcard,
            "--card-id",
            &card,
            "--request",
            &request,
            "-v",
            "--json",
        ],
    );
    assert_eq!(r.code, 0, "{r:?}");
    assert!(!r.all().contains(&pin), "{r:?}");
    assert_eq!(r.json()["shown"], false);
}

#[test]
fn help_on_every_new_subcommand_has_examples() {
    for sub in [
        vec!["template", "list"],
        vec!["template", "policy"],
        vec!["template", "config"],
        vec!["request", "create"],
        vec!["request", "find-created"],
        vec!["request", "set-status"],
        vec!["request", "profiles"],
        vec!["smartcard", "admin-key"],
        vec!["card", "auth-response"],
        vec!["card", "pin"],
        vec!["card", "set-status"],
        vec!["card", "operations"],
        vec!["card", "certificates"],
        vec!["csr", "options"],
        vec!["csr", "submit"],
        vec!["profile", "list"],
        vec!["profile", "get"],
        vec!["profile", "operations"],
        vec!["profile", "certificates"],
        vec!["certificates"],
    ] {
        let r = run_cmd(cmd(&[&sub[..], &["--help"]].concat()), None);
        assert_eq!(r.code, 0, "{sub:?}");
        assert!(r.stdout.contains("Examples:"), "{sub:?}: {}", r.stdout);
    }
    let r = run_cmd(cmd(&["completions", "bash"]), None);
    for word in ["admin-key", "find-created", "dry-run", "pfx-password-stdin"] {
        assert!(r.stdout.contains(word), "bash completion lacks {word}");
    }
}
