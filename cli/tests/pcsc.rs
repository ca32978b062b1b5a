//! The card subcommands of `cm-smartcard` against the PC/SC rig (pcscd + vpcd + the repository's virtual
//! GIDS card in reader 0; reader 1 empty). Set PCSC_RIG_ENV (tests/rigs/pcsc/start.sh writes it); without it
//! the tests skip with a notice, unless CM_REQUIRE_RIGS=1.

mod common;

use cm_emulator::{Config, Emulator, RequestStatus};
use common::{Run, cmd, rig, run_cmd};
use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use uuid::Uuid;

macro_rules! pcsc_rig {
    ($test:expr) => {
        match rig("PCSC_RIG_ENV", "start tests/rigs/pcsc/start.sh", $test) {
            Some(r) => r,
            None => return,
        }
    };
}

fn card_cmd(r: &HashMap<String, String>, args: &[&str]) -> Command {
    let mut c = cmd(args);
    // Private rigs (PCSC_PRIVATE=1) run pcscd on their own socket; the default rig uses the system's.
    if let Some(sock) = r.get("PCSCLITE_CSOCK_NAME") {
        c.env("PCSCLITE_CSOCK_NAME", sock);
    }
    c
}

fn card_run(r: &HashMap<String, String>, args: &[&str]) -> Run {
    run_cmd(card_cmd(r, args), None)
}

/// The default card's id in both byte orders, from the rig's raw bytes.
fn default_card_id(r: &HashMap<String, String>) -> (String, String) {
    let hex = &r["PCSC_DEFAULT_CARD_ID"];
    let bytes: Vec<u8> = (0..16)
        .map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap())
        .collect();
    let bytes: [u8; 16] = bytes.try_into().unwrap();
    (
        Uuid::from_bytes_le(bytes).to_string(),
        Uuid::from_bytes(bytes).to_string(),
    )
}

#[test]
fn readers_atr_and_card_id() {
    let r = pcsc_rig!("readers_atr_and_card_id");
    let (reader0, reader1) = (&r["PCSC_READER0"], &r["PCSC_READER1"]);
    let atr = &r["PCSC_DEFAULT_ATR"];

    let out = card_run(&r, &["readers", "--json"]);
    assert_eq!(out.code, 0, "{out:?}");
    let list = out.json()["readers"].as_array().unwrap().clone();
    let find = |name: &str| {
        list.iter()
            .find(|x| x["name"] == name)
            .unwrap_or_else(|| panic!("{name} in {list:?}"))
    };
    assert_eq!(find(reader0)["card_present"], true);
    assert_eq!(find(reader0)["atr"], atr.as_str());
    assert_eq!(find(reader1)["card_present"], false);
    let out = card_run(&r, &["readers"]);
    let row = out
        .stdout
        .lines()
        .find(|l| l.starts_with(reader0.as_str()))
        .unwrap();
    assert!(row.contains("yes") && row.contains(atr.as_str()), "{row}");
    assert!(
        out.stdout.contains(&r["PCSC_READER_UTF8"]),
        "non-ASCII reader names: {}",
        out.stdout
    );

    let out = card_run(&r, &["atr", reader0]);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(
        out.stdout.contains(&format!("atr     {atr}")),
        "{}",
        out.stdout
    );
    // A unique part of the name is enough.
    let out = card_run(&r, &["atr", "pcd 00 00", "--json"]);
    assert_eq!(out.json()["reader"], reader0.as_str());

    let (windows, rfc) = default_card_id(&r);
    let out = card_run(&r, &["card-id", reader0, "--json"]);
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(out.json()["card_id"], windows.as_str());
    assert_eq!(out.json()["source"], "gids");
    assert_eq!(out.json()["card_id_other_order"], rfc.as_str());
    let out = card_run(&r, &["card-id", reader0, "--byte-order", "rfc4122"]);
    assert!(
        out.stdout.contains(&format!("card id     {rfc}")),
        "{}",
        out.stdout
    );
}

#[test]
fn card_errors_name_the_pcsc_status() {
    let r = pcsc_rig!("card_errors_name_the_pcsc_status");
    let out = card_run(&r, &["atr", "No Such Reader 99"]);
    assert_eq!(out.code, 1, "{out:?}");
    assert!(
        out.stderr.contains("CM_STATUS_PCSC_UNKNOWN_READER"),
        "{}",
        out.stderr
    );
    let out = card_run(&r, &["card-id", &r["PCSC_READER1"], "--json"]);
    assert_eq!(out.code, 1, "{out:?}");
    assert!(
        out.stderr.contains("CM_STATUS_PCSC_NO_CARD"),
        "{}",
        out.stderr
    );
    assert_eq!(out.json()["error"]["status"], "CM_STATUS_PCSC_NO_CARD");
    let out = card_run(&r, &["atr", &r["PCSC_READER_UTF8"]]);
    assert_eq!(out.code, 1, "{out:?}");
    assert!(
        out.stderr.contains("CM_STATUS_PCSC_NO_CARD"),
        "{}",
        out.stderr
    );
}

#[test]
fn wait_returns_times_out_and_cancels_on_ctrl_c() {
    let r = pcsc_rig!("wait_returns_times_out_and_cancels_on_ctrl_c");
    let out = card_run(&r, &["wait", &r["PCSC_READER0"]]);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(out.stderr.contains("waiting for a card"), "{}", out.stderr);
    assert!(out.stdout.contains(&r["PCSC_READER0"]), "{}", out.stdout);

    let out = card_run(&r, &["wait", &r["PCSC_READER1"], "--timeout", "0.5"]);
    assert_eq!(out.code, 1, "{out:?}");
    assert!(
        out.stderr.contains("CM_STATUS_PCSC_TIMEOUT"),
        "{}",
        out.stderr
    );

    // Ctrl-C: SIGINT once the wait is announced; exit 130, "cancelled".
    let mut c = card_cmd(&r, &["wait", &r["PCSC_READER1"]]);
    c.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = c.spawn().unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut first = String::new();
    stderr.read_line(&mut first).unwrap();
    assert!(first.contains("Ctrl-C cancels"), "{first}");
    let st = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(st.success());
    let status = child.wait().unwrap();
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stderr, &mut rest).unwrap();
    assert_eq!(status.code(), Some(130), "{rest}");
    assert!(rest.contains("cancelled"), "{rest}");
}

#[test]
fn assign_from_the_reader_and_doctor_sees_the_card() {
    let r = pcsc_rig!("assign_from_the_reader_and_doctor_sees_the_card");
    let emu = Emulator::start(Config {
        quiet: true,
        ..Config::default()
    })
    .unwrap();
    let req = Uuid::new_v4();
    emu.add_request(req, RequestStatus::Approved);
    let url = emu.base_url();
    let reader0 = r["PCSC_READER0"].as_str();
    let (windows, _) = default_card_id(&r);

    // Before: the card is unknown to CM (a fresh emulator).
    let out = card_run(&r, &["doctor", "--server", &url, "--reader", reader0]);
    assert_eq!(out.code, 0, "{out:?}");
    let card = out
        .stdout
        .lines()
        .find(|l| l.starts_with("ok       card           "))
        .unwrap();
    assert!(
        card.contains(&windows) && card.contains(&r["PCSC_DEFAULT_ATR"]),
        "{card}"
    );
    assert!(
        out.stdout.contains("CM does not know this card yet"),
        "{}",
        out.stdout
    );

    let out = card_run(
        &r,
        &[
            "assign",
            "--server",
            &url,
            "--request",
            &req.to_string(),
            "--reader",
            reader0,
            "--json",
        ],
    );
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(out.json()["card_id"], windows.as_str());
    assert_eq!(out.json()["atr"], r["PCSC_DEFAULT_ATR"].as_str());
    assert_eq!(emu.count("POST", "/smartcards"), 1);

    let out = card_run(
        &r,
        &["smartcard", "find", "--server", &url, "--reader", reader0],
    );
    assert_eq!(out.code, 0, "{out:?}");
    let out = card_run(&r, &["doctor", "--server", &url, "--reader", reader0]);
    assert!(
        out.stdout.contains("CM knows this card: smartcard"),
        "{}",
        out.stdout
    );
    assert_eq!(emu.count("POST", ""), 1, "doctor never POSTs");
}

/// The card's admin key and challenge response for the card in the reader: the card id and ATR read from the
/// card are the ones CM checks against the binding (the key is the one diversified for that card id).
#[test]
fn card_secrets_for_the_card_in_the_reader() {
    let r = pcsc_rig!("card_secrets_for_the_card_in_the_reader");
    let emu = Emulator::start(Config {
        quiet: true,
        ..Config::default()
    })
    .unwrap();
    let url = emu.base_url();
    let reader0 = r["PCSC_READER0"].as_str();
    let (windows, _) = default_card_id(&r);
    let out = card_run(
        &r,
        &[
            "request",
            "create",
            "--server",
            &url,
            "--type",
            "Enroll",
            "--template",
            "Smartcard User",
            "--json",
        ],
    );
    assert_eq!(out.code, 0, "{out:?}");
    let req = out.json()["request"].as_str().unwrap().to_string();
    let out = card_run(
        &r,
        &[
            "assign",
            "--server",
            &url,
            "--request",
            &req,
            "--reader",
            reader0,
            "--json",
        ],
    );
    assert_eq!(out.code, 0, "{out:?}");
    let smartcard = out.json()["smartcard_uuid"].as_str().unwrap().to_string();

    let out = card_run(
        &r,
        &[
            "card",
            "admin-key",
            "--server",
            &url,
            &req,
            &smartcard,
            "--reader",
            reader0,
            "--show",
        ],
    );
    assert_eq!(out.code, 0, "{out:?}");
    let key = emu.diversified_admin_key(windows.parse().unwrap());
    let key_hex: String = key.iter().map(|b| format!("{b:02x}")).collect();
    assert!(out.stdout.contains(&key_hex), "{}", out.stdout);
    assert!(
        out.stderr.contains(&windows) && out.stderr.contains(&r["PCSC_DEFAULT_ATR"]),
        "says which card it read: {}",
        out.stderr
    );
    let sent = emu.request_log().last().unwrap().path.clone();
    assert!(
        sent.contains(&format!("cardid={windows}"))
            && sent.contains(&format!("atr={}", r["PCSC_DEFAULT_ATR"])),
        "{sent}"
    );

    let challenge = [1u8, 2, 3, 4, 5, 6, 7, 8];
    let out = card_run(
        &r,
        &[
            "card",
            "auth-response",
            "--server",
            &url,
            &req,
            &smartcard,
            "--reader",
            reader0,
            "--challenge",
            "0102030405060708",
            "--diversified",
            "--json",
        ],
    );
    assert_eq!(out.code, 0, "{out:?}");
    let want = cm_emulator::crypto::des3_ecb_encrypt(&key, &challenge);
    let want_hex: String = want.iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(out.json()["response_hex"], want_hex.as_str());

    // The empty reader: a PC/SC failure (exit 1), nothing sent.
    emu.clear_log();
    let out = card_run(
        &r,
        &[
            "card",
            "admin-key",
            "--server",
            &url,
            &req,
            &smartcard,
            "--reader",
            r["PCSC_READER1"].as_str(),
        ],
    );
    assert_eq!(out.code, 1, "{out:?}");
    assert!(out.stderr.contains("CM_STATUS_PCSC_"), "{}", out.stderr);
    assert!(emu.request_log().is_empty());

    // The server-proposed PIN (a template that proposes one) for the card in the reader.
    let emu = Emulator::start(Config {
        quiet: true,
        ..Config::default()
    })
    .unwrap();
    let url = emu.base_url();
    let out = card_run(
        &r,
        &[
            "request",
            "create",
            "--server",
            &url,
            "--type",
            "Enroll",
            "--template",
            "Smartcard Manager Approval",
            "--json",
        ],
    );
    let req = out.json()["request"].as_str().unwrap().to_string();
    emu.approve(req.parse().unwrap()).unwrap();
    let out = card_run(
        &r,
        &[
            "assign",
            "--server",
            &url,
            "--request",
            &req,
            "--reader",
            reader0,
            "--json",
        ],
    );
    assert_eq!(out.code, 0, "{out:?}");
    let smartcard = out.json()["smartcard_uuid"].as_str().unwrap().to_string();
    let out = card_run(
        &r,
        &[
            "card",
            "pin",
            "--server",
            &url,
            &smartcard,
            "--request",
            &req,
            "--reader",
            reader0,
            "--show",
            "--json",
        ],
    );
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(
        out.json()["pin"],
        emu.server_proposed_pin(windows.parse().unwrap()).as_str()
    );
}
