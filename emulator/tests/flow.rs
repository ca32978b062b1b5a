//! The whole enrollment and card lifecycle over real HTTP (issue 10): the documented walkthrough for each
//! seeded template, every 403 rule, the 400 cases, both documented path and input forms, a fault on a new
//! endpoint, and the crypto outputs checked independently (3DES recomputed here with RustCrypto's `des`;
//! PKCS#7 and PFX read and verified with the `openssl` CLI when it is installed).

mod common;

use cm_emulator::{
    BASE_CSP_DEFAULT_ADMIN_KEY, CALLER_USER_UUID, Config, DEFAULT_ADMIN_MASTER_KEY, Emulator,
    Fault, FaultKind, MANAGER_APPROVAL_TEMPLATE, RequestStatus, RequestType, SERVER_KEYS_TEMPLATE,
    SMARTCARD_USER_TEMPLATE, SmartcardStatus,
};
use common::*;
use des::TdesEde3;
use des::cipher::generic_array::GenericArray;
use des::cipher::{BlockEncrypt, KeyInit};
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Command;
use uuid::Uuid;

const ATR: &str = "3b8d0180fba000000397425446590301c8";

fn emu() -> Emulator {
    Emulator::start(Config {
        quiet: true,
        ..Config::default()
    })
    .unwrap()
}

fn get(a: SocketAddr, path: &str) -> Resp {
    req(a, "GET", &format!("{API}/{path}"), None)
}

fn post(a: SocketAddr, path: &str, body: &Value) -> Resp {
    req(a, "POST", &format!("{API}/{path}"), Some(&body.to_string()))
}

fn put(a: SocketAddr, path: &str, body: &Value) -> Resp {
    req(a, "PUT", &format!("{API}/{path}"), Some(&body.to_string()))
}

fn ok_json(r: &Resp) -> Value {
    assert!(
        r.status == 200 || r.status == 201,
        "{} {}",
        r.status,
        r.text()
    );
    assert!(r.is_json_ct());
    r.json()
}

fn assert_status(r: &Resp, status: u16) {
    assert_eq!(r.status, status, "{}", r.text());
    if status >= 400 {
        assert!(r.json()["Message"].is_string(), "{}", r.text());
    }
}

/// `"api/v1.0/<kind>/<uuid>"` → uuid.
fn created(r: &Resp, kind: &str) -> Uuid {
    assert_eq!(r.status, 201, "{}", r.text());
    let s = r.json();
    let s = s.as_str().expect("JSON string");
    let id = s
        .strip_prefix(&format!("api/v1.0/{kind}/"))
        .unwrap_or_else(|| panic!("{s}"));
    Uuid::parse_str(id).unwrap()
}

fn create_request(a: SocketAddr, body: Value) -> Uuid {
    created(&post(a, "requests", &body), "requests")
}

fn enroll(a: SocketAddr, template: Uuid, comment: &str) -> Uuid {
    create_request(
        a,
        json!({"profiletemplateuuid": template, "datacollection": "[]", "type": "Enroll", "comment": comment}),
    )
}

fn bind(a: SocketAddr, request: Uuid, card: Uuid) -> Resp {
    post(
        a,
        "smartcards",
        &json!({"requestid": request, "cardid": card, "atr": ATR}),
    )
}

fn b64(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn unb64(v: &Value) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD
        .decode(v.as_str().expect("base64 string"))
        .expect("base64")
}

/// Base64 with `\r\n` every 64 characters, as the documentation's `certificaterequests` look.
fn b64_crlf(bytes: &[u8]) -> String {
    b64(bytes)
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect::<Vec<_>>()
        .join("\r\n")
}

fn des3(key: &[u8; 24], block: [u8; 8]) -> [u8; 8] {
    let mut b = GenericArray::clone_from_slice(&block);
    TdesEde3::new(GenericArray::from_slice(key)).encrypt_block(&mut b);
    b.into()
}

/// The documented diversification: E(M, id[0..8]) | E(M, id[8..16]) | E(M, id[0..8] ^ id[8..16]), odd parity.
fn diversified(master: &[u8; 24], card: Uuid) -> [u8; 24] {
    let id = card.as_bytes();
    let mut halves = [[0u8; 8]; 3];
    for i in 0..8 {
        halves[0][i] = id[i];
        halves[1][i] = id[8 + i];
        halves[2][i] = id[i] ^ id[8 + i];
    }
    let mut key = [0u8; 24];
    for (k, h) in halves.iter().enumerate() {
        key[k * 8..k * 8 + 8].copy_from_slice(&des3(master, *h));
    }
    for b in key.iter_mut() {
        let high = *b & 0xfe;
        *b = high | u8::from(high.count_ones() % 2 == 0);
    }
    key
}

/// A P-256 PKCS#10 request built here with ring (signature verifiable by the emulator and openssl).
fn p256_csr(cn: &str) -> Vec<u8> {
    use cm_emulator::crypto::der;
    use ring::rand::SystemRandom;
    use ring::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, KeyPair};
    let rng = SystemRandom::new();
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &rng).unwrap();
    let key =
        EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8.as_ref(), &rng).unwrap();
    let spki = der::sequence(&[
        &der::sequence(&[
            &der::oid(&[1, 2, 840, 10045, 2, 1]),
            &der::oid(&[1, 2, 840, 10045, 3, 1, 7]),
        ]),
        &der::bit_string(key.public_key().as_ref()),
    ]);
    let info = der::sequence(&[
        &der::integer_u64(0),
        &cm_emulator::crypto::ca::common_name(cn),
        &spki,
        &der::tlv(0xa0, &[]),
    ]);
    let sig = key.sign(&rng, &info).unwrap();
    der::sequence(&[
        &info,
        &der::sequence(&[&der::oid(&[1, 2, 840, 10045, 4, 3, 2])]),
        &der::bit_string(sig.as_ref()),
    ])
}

fn openssl_available() -> bool {
    Command::new("openssl")
        .arg("version")
        .output()
        .is_ok_and(|o| o.status.success())
}

fn temp_dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("cm-emu-flow-{tag}-{}", Uuid::new_v4()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn openssl(args: &[&str]) -> (bool, String) {
    let o = Command::new("openssl").args(args).output().unwrap();
    (
        o.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        ),
    )
}

/// An RSA-2048 CSR from `openssl req` (the key algorithm the CSR options ask for), when openssl exists.
fn rsa_csr(dir: &std::path::Path, cn: &str) -> Option<Vec<u8>> {
    if !openssl_available() {
        return None;
    }
    let out = dir.join(format!("{cn}.csr"));
    let (ok, text) = openssl(&[
        "req",
        "-new",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        dir.join(format!("{cn}.key")).to_str().unwrap(),
        "-subj",
        &format!("/CN={cn}"),
        "-outform",
        "DER",
        "-out",
        out.to_str().unwrap(),
    ]);
    assert!(ok, "{text}");
    Some(std::fs::read(out).unwrap())
}

/// Checks a certificatedata `Pkcs7` with openssl: two certificates, the leaf verifies against the CA.
fn verify_pkcs7(dir: &std::path::Path, ca_pem: &str, pkcs7: &[u8], name: &str) {
    if !openssl_available() {
        eprintln!("openssl not installed: PKCS#7 structure not checked by openssl");
        return;
    }
    let p7 = dir.join(format!("{name}.p7b"));
    let certs = dir.join(format!("{name}.pem"));
    let ca = dir.join("ca.pem");
    std::fs::write(&p7, pkcs7).unwrap();
    std::fs::write(&ca, ca_pem).unwrap();
    let (ok, text) = openssl(&[
        "pkcs7",
        "-inform",
        "DER",
        "-in",
        p7.to_str().unwrap(),
        "-print_certs",
        "-out",
        certs.to_str().unwrap(),
    ]);
    assert!(ok, "{text}");
    let pem = std::fs::read_to_string(&certs).unwrap();
    assert_eq!(pem.matches("BEGIN CERTIFICATE").count(), 2, "{pem}");
    // The first certificate is the issued one; verify it against the CA.
    let leaf = pem
        .split("-----END CERTIFICATE-----")
        .next()
        .unwrap()
        .to_string()
        + "-----END CERTIFICATE-----\n";
    let leaf_path = dir.join(format!("{name}-leaf.pem"));
    std::fs::write(&leaf_path, leaf).unwrap();
    let (ok, text) = openssl(&[
        "verify",
        "-CAfile",
        ca.to_str().unwrap(),
        leaf_path.to_str().unwrap(),
    ]);
    assert!(ok && text.contains(": OK"), "{text}");
}

#[test]
fn smartcard_user_enroll_unblock_retire_over_http() {
    let emu = emu();
    let a = emu.addr();
    let dir = temp_dir("user");

    // 1. Templates.
    let templates = ok_json(&get(a, "profiletemplates"));
    let t = templates
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["Name"] == "Smartcard User")
        .expect("seeded template")
        .clone();
    assert_eq!(t["Uuid"], SMARTCARD_USER_TEMPLATE.to_string());
    assert_eq!(t["IsSmartcardProfileTemplate"], true);
    assert_eq!(t["IsVirtualSmartcardProfileTemplate"], false);
    // 2. The Enroll policy, both documented path forms.
    let p1 = ok_json(&get(
        a,
        &format!("profiletemplates/{SMARTCARD_USER_TEMPLATE}/policies/enroll"),
    ));
    let p2 = ok_json(&get(
        a,
        &format!("profiletemplates/{SMARTCARD_USER_TEMPLATE}/policy/workflow/Enroll"),
    ));
    assert_eq!(p1, p2);
    assert_eq!(p1["Enabled"], true);
    assert_eq!(p1["ApprovalsNeeded"], 0);
    for k in [
        "AuthorizedApprover",
        "AuthorizedEnrollmentAgent",
        "AuthorizedInitiator",
        "CollectComments",
        "CollectRequestPriority",
        "DefaultRequestPriority",
        "Documents",
        "EnrollAgentRequired",
        "OneTimePasswordPolicy",
        "Personalization",
        "PolicyDataCollection",
        "SelfServiceEnabled",
    ] {
        assert!(p1.get(k).is_some(), "policy lacks {k}");
    }
    // 3. Create the Enroll request; it is auto-approved.
    let rid = enroll(a, SMARTCARD_USER_TEMPLATE, "flow test");
    let r = ok_json(&get(a, &format!("requests/{rid}")));
    assert_eq!(r["RequestType"], 1);
    assert_eq!(r["Status"], 3);
    assert_eq!(r["Comment"], "flow test");
    assert_eq!(
        r["ProfileTemplateUuid"],
        SMARTCARD_USER_TEMPLATE.to_string()
    );
    assert_eq!(r["TargetUserUuid"], CALLER_USER_UUID.to_string());
    assert_eq!(r["NewSmartcardUuid"], Uuid::nil().to_string());
    let submitted = r["Submitted"].as_str().unwrap();
    assert!(
        submitted.len() >= 20 && submitted.ends_with('Z') && &submitted[10..11] == "T",
        "{submitted}"
    );
    assert_eq!(r["Completed"], "0001-01-01T00:00:00");
    // The policy's data item is listed with a null value.
    assert_eq!(
        r["DataCollection"],
        json!([{"Name": "Sample Data Item", "Value": null}])
    );
    // 4. Smart card configuration.
    let config = ok_json(&get(
        a,
        &format!("profiletemplates/{SMARTCARD_USER_TEMPLATE}/configuration/smartcards"),
    ));
    assert_eq!(
        config["DefaultAdminKeyHex"],
        "010203040506070801020304050607080102030405060708"
    );
    assert_eq!(config["DiversifyAdminKey"], true);
    assert_eq!(config["ServerProposedPin"], false);
    assert!(config["UserPinOption"].is_i64());
    // 5. Bind the card.
    let card = Uuid::new_v4();
    let scid = created(&bind(a, rid, card), "smartcards");
    let sc = ok_json(&get(a, &format!("smartcards/{scid}")));
    assert_eq!(sc["Status"], 2);
    assert_eq!(sc["SerialNumber"], format!("{{{card}}}"));
    assert_eq!(
        ok_json(&get(a, &format!("requests/{rid}")))["NewSmartcardUuid"],
        scid.to_string()
    );
    // 6. Diversified admin key and the challenge-responses, recomputed here.
    let key = unb64(&ok_json(&get(
        a,
        &format!("requests/{rid}/smartcards/{scid}/diversifiedkey?cardid={card}&atr={ATR}"),
    )));
    let expected_key = diversified(&DEFAULT_ADMIN_MASTER_KEY, card);
    assert_eq!(key, expected_key.to_vec());
    assert_eq!(emu.diversified_admin_key(card), expected_key);
    let challenge = [0xd6, 0x11, 0x43, 0xf9, 0xcc, 0xff, 0xd2, 0xca]; // the docs' 1hFD+cz/0so=
    assert_eq!(b64(&challenge), "1hFD+cz/0so=");
    for (flag, key) in [
        ("false", BASE_CSP_DEFAULT_ADMIN_KEY),
        ("True", expected_key),
        ("true", expected_key),
        ("False", BASE_CSP_DEFAULT_ADMIN_KEY),
    ] {
        let resp = unb64(&ok_json(&get(
            a,
            &format!(
                "requests/{rid}/smartcards/{scid}/authenticationresponse?cardid={card}&challenge=1hFD%2Bcz%2F0so%3D&diversified={flag}&atr={ATR}"
            ),
        )));
        assert_eq!(resp, des3(&key, challenge).to_vec(), "diversified={flag}");
    }
    // 7. CSR options: two items.
    let options = ok_json(&get(
        a,
        &format!("requests/{rid}/certificaterequestgenerationoptions"),
    ));
    let options = options.as_array().unwrap();
    assert_eq!(options.len(), 2);
    for o in options {
        assert_eq!(o["KeyAlgorithmName"], "RSA");
        assert_eq!(o["KeySize"], 2048);
        assert!(o["KeyStorageProviderNames"].as_array().unwrap()[0].is_string());
        for k in [
            "Subject",
            "FriendlyName",
            "HashAlgorithmName",
            "Exportable",
            "KeyProtectionLevel",
            "KeyUsages",
        ] {
            assert!(o.get(k).is_some(), "option lacks {k}");
        }
    }
    assert_eq!(options[0]["KeyUsages"], 3);
    // 8. Certificate data: an RSA CSR from openssl (when present) with CRLF base64, a P-256 one plain.
    let first = rsa_csr(&dir, "flow-rsa").unwrap_or_else(|| p256_csr("flow-ec-1"));
    let csrs = json!([b64_crlf(&first), b64(&p256_csr("flow-ec-2"))]);
    let certs = ok_json(&post(
        a,
        &format!("requests/{rid}/certificatedata"),
        &json!({"pfxpassword": "", "certificaterequests": csrs, "comments": "flow"}),
    ));
    let certs = certs.as_array().unwrap().clone();
    assert_eq!(certs.len(), 2);
    let ca_pem = emu.ca_pem();
    assert!(ca_pem.starts_with("-----BEGIN CERTIFICATE-----"));
    for (i, c) in certs.iter().enumerate() {
        assert_eq!(c["isPkcs7"], true);
        assert_eq!(c["isPfx"], false);
        assert_eq!(c["isServerGenerated"], false);
        assert_eq!(c["isKeyHistory"], false);
        assert_eq!(c["Pfx"], Value::Null);
        assert_eq!(c["Error"], Value::Null);
        assert!(c["CertificateId"].is_i64());
        verify_pkcs7(&dir, &ca_pem, &unb64(&c["Pkcs7"]), &format!("user{i}"));
    }
    assert_eq!(ok_json(&get(a, &format!("requests/{rid}")))["Status"], 4);
    // Returned once only.
    assert_status(
        &post(
            a,
            &format!("requests/{rid}/certificatedata"),
            &json!({"pfxpassword": "", "certificaterequests": [b64(&p256_csr("x")), b64(&p256_csr("y"))], "comments": ""}),
        ),
        403,
    );
    // 9. Complete: card and profile Active.
    let done = ok_json(&put(
        a,
        &format!("requests/{rid}"),
        &json!({"status": "Completed"}),
    ));
    assert_eq!(done["Status"], 8);
    assert_ne!(done["Completed"], "0001-01-01T00:00:00");
    assert_eq!(ok_json(&get(a, &format!("smartcards/{scid}")))["Status"], 3);
    assert_eq!(emu.smartcard_status(scid), Some(SmartcardStatus::Active));
    let ops = ok_json(&get(a, &format!("smartcards/{scid}/operations")));
    assert_eq!(ops, json!(["renew", "unblock", "retire", "revoke"]));
    assert_eq!(
        ok_json(&get(a, &format!("profiles/{scid}/operations"))),
        ops
    );
    let profile = ok_json(&get(a, &format!("profiles/{scid}")));
    assert_eq!(profile["Status"], 3);
    assert_eq!(profile["ProfileOperations"], ops);
    assert_eq!(
        ok_json(&get(a, &format!("requests/{rid}/profiles")))[0]["Uuid"],
        scid.to_string()
    );
    assert_eq!(
        ok_json(&get(a, "profiles?status=Active"))
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(get(a, "profiles?status=Pending").status, 204);
    let on_card = ok_json(&get(a, &format!("smartcards/{scid}/certificates")));
    assert_eq!(on_card.as_array().unwrap().len(), 2);
    assert_eq!(
        ok_json(&get(a, &format!("profiles/{scid}/certificates"))),
        on_card
    );
    for c in on_card.as_array().unwrap() {
        assert_eq!(c["SerialNumber"].as_str().unwrap().len(), 32);
        assert_eq!(c["Thumbprint"].as_str().unwrap().len(), 40);
    }
    let mine = ok_json(&get(a, "certificates"));
    assert_eq!(mine.as_array().unwrap().len(), 2);
    let nb = mine[0]["NotBefore"].as_str().unwrap();
    assert_eq!(nb.len(), 19, "{nb}");
    for k in ["Issuer", "NotAfter", "RequesterName", "Status"] {
        assert!(mine[0].get(k).is_some(), "{k}");
    }

    // 10. Unblock: a request naming the card (no template), then its challenge-response.
    let unblock = create_request(
        a,
        json!({"datacollection": "[]", "type": "Unblock", "comment": "", "smartcard": scid}),
    );
    let u = ok_json(&get(a, &format!("requests/{unblock}")));
    assert_eq!(u["RequestType"], 5);
    assert_eq!(u["Status"], 3);
    assert_eq!(u["OldSmartcardUuid"], scid.to_string());
    assert_eq!(
        u["ProfileTemplateUuid"],
        SMARTCARD_USER_TEMPLATE.to_string()
    );
    let resp = unb64(&ok_json(&get(
        a,
        &format!(
            "requests/{unblock}/smartcards/{scid}/authenticationresponse?cardid={card}&challenge={}&diversified=true",
            b64(&[1, 2, 3, 4, 5, 6, 7, 8]).replace('=', "%3D")
        ),
    )));
    assert_eq!(resp, des3(&expected_key, [1, 2, 3, 4, 5, 6, 7, 8]).to_vec());
    // An Unblock issues no certificates.
    assert_eq!(
        get(
            a,
            &format!("requests/{unblock}/certificaterequestgenerationoptions")
        )
        .status,
        204
    );
    ok_json(&put(
        a,
        &format!("requests/{unblock}"),
        &json!({"status": "Completed"}),
    ));
    assert_eq!(emu.smartcard_status(scid), Some(SmartcardStatus::Active));

    // 11. Retire: request, then the card status PUT, then completion.
    let retire = create_request(
        a,
        json!({"datacollection": [], "type": "Retire", "comment": "lost", "smartcard": scid}),
    );
    assert_eq!(
        ok_json(&get(a, &format!("requests/{retire}")))["RequestType"],
        4
    );
    let r = req(
        a,
        "GET",
        &format!("{API}/requests/{retire}/smartcards/{scid}"),
        None,
    );
    assert_eq!(r.status, 405);
    assert_eq!(r.header("allow"), Some("PUT"));
    let sc = ok_json(&put(
        a,
        &format!("requests/{retire}/smartcards/{scid}"),
        &json!({"status": "Retired"}),
    ));
    assert_eq!(sc["Status"], 6);
    assert_eq!(sc["Uuid"], scid.to_string());
    ok_json(&put(
        a,
        &format!("requests/{retire}"),
        &json!({"status": "Completed"}),
    ));
    assert_eq!(emu.smartcard_status(scid), Some(SmartcardStatus::Retired));
    assert_eq!(get(a, &format!("smartcards/{scid}/operations")).status, 204);
    // Retired certificates are filtered from the caller's list.
    assert_eq!(get(a, "certificates").status, 204);
    // Nothing more can be requested for a retired card.
    assert_status(
        &post(
            a,
            "requests",
            &json!({"type": "Unblock", "smartcard": scid, "datacollection": "[]", "comment": ""}),
        ),
        403,
    );
    // The template allows reuse: the same card can be enrolled again.
    let again = enroll(a, SMARTCARD_USER_TEMPLATE, "reuse");
    let scid2 = created(&bind(a, again, card), "smartcards");
    assert_ne!(scid2, scid);
    assert_eq!(
        ok_json(&get(a, &format!("smartcards?cardid={card}")))["Uuid"],
        scid2.to_string()
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn manager_approval_template_pending_approve_deny_and_pin() {
    let emu = emu();
    let a = emu.addr();
    let rid = enroll(a, MANAGER_APPROVAL_TEMPLATE, "needs approval");
    assert_eq!(ok_json(&get(a, &format!("requests/{rid}")))["Status"], 1);
    let card = Uuid::new_v4();
    assert_status(&bind(a, rid, card), 403);
    // Approval through the HTTP control interface.
    let r = req(
        a,
        "POST",
        &format!("/_emulator/requests/{rid}/approve"),
        None,
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["Status"], 3);
    // Approving again: not Pending any more.
    assert_eq!(
        req(
            a,
            "POST",
            &format!("/_emulator/requests/{rid}/approve"),
            None
        )
        .status,
        409
    );
    assert_eq!(
        emu.approve(rid),
        Err(format!("request {rid} is Approved, not Pending"))
    );
    let scid = created(&bind(a, rid, card), "smartcards");
    let config = ok_json(&get(
        a,
        &format!("profiletemplates/{MANAGER_APPROVAL_TEMPLATE}/configuration/smartcards"),
    ));
    assert_eq!(config["DiversifyAdminKey"], false);
    assert_eq!(config["ServerProposedPin"], true);
    // No diversification: diversifiedkey and diversified=true are forbidden, the default key answers.
    assert_status(
        &get(
            a,
            &format!("requests/{rid}/smartcards/{scid}/diversifiedkey?cardid={card}"),
        ),
        403,
    );
    let q = format!(
        "requests/{rid}/smartcards/{scid}/authenticationresponse?cardid={card}&challenge=AAAAAAAAAAA%3D"
    );
    assert_status(&get(a, &format!("{q}&diversified=true")), 403);
    let resp = unb64(&ok_json(&get(a, &format!("{q}&diversified=false"))));
    assert_eq!(resp, des3(&BASE_CSP_DEFAULT_ADMIN_KEY, [0; 8]).to_vec());
    // Server-proposed PIN, both documented path forms, 8 digits, the same.
    let pin1 = ok_json(&get(a, &format!("smartcards/{scid}/serverproposedpin")));
    let pin2 = ok_json(&get(
        a,
        &format!("requests/{rid}/smartcards/{scid}/serverproposedpin?cardid={card}&atr={ATR}"),
    ));
    assert_eq!(pin1, pin2);
    let pin = pin1.as_str().unwrap();
    assert!(
        pin.len() == 8 && pin.bytes().all(|b| b.is_ascii_digit()),
        "{pin}"
    );
    assert_eq!(emu.server_proposed_pin(card), pin);
    // One CSR for this template.
    let options = ok_json(&get(
        a,
        &format!("requests/{rid}/certificaterequestgenerationoptions"),
    ));
    assert_eq!(options.as_array().unwrap().len(), 1);

    // Deny, through the Rust API and over HTTP.
    let other = enroll(a, MANAGER_APPROVAL_TEMPLATE, "to deny");
    assert_eq!(emu.deny(other), Ok(RequestStatus::Denied));
    assert_eq!(ok_json(&get(a, &format!("requests/{other}")))["Status"], 2);
    let third = enroll(a, MANAGER_APPROVAL_TEMPLATE, "to deny over http");
    let r = req(
        a,
        "POST",
        &format!("/_emulator/requests/{third}/deny"),
        None,
    );
    assert_eq!(r.json()["Status"], 2);
    assert_eq!(
        req(
            a,
            "POST",
            &format!("/_emulator/requests/{}/deny", Uuid::new_v4()),
            None
        )
        .status,
        404
    );
    // Rust approve of a pending request.
    let fourth = enroll(a, MANAGER_APPROVAL_TEMPLATE, "rust approve");
    assert_eq!(emu.approve(fourth), Ok(RequestStatus::Approved));
    // Pending requests listed by status.
    assert_eq!(
        ok_json(&get(a, "requests?status=Denied"))
            .as_array()
            .unwrap()
            .len(),
        2
    );
}

#[test]
fn server_keys_template_returns_pfx_and_an_extra_item() {
    let emu = emu();
    let a = emu.addr();
    let dir = temp_dir("pfx");
    let t = ok_json(&get(a, "profiletemplates"));
    let t = t
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["Uuid"] == SERVER_KEYS_TEMPLATE.to_string())
        .unwrap()
        .clone();
    assert_eq!(t["IsSmartcardProfileTemplate"], false);
    assert_eq!(
        get(
            a,
            &format!("profiletemplates/{SERVER_KEYS_TEMPLATE}/configuration/smartcards")
        )
        .status,
        204
    );
    let rid = enroll(a, SERVER_KEYS_TEMPLATE, "software");
    assert_eq!(
        ok_json(&get(a, &format!("requests/{rid}")))["IsSmartcard"],
        false
    );
    assert_eq!(
        get(
            a,
            &format!("requests/{rid}/certificaterequestgenerationoptions")
        )
        .status,
        204
    );
    // No card to bind for a software template.
    assert_status(&bind(a, rid, Uuid::new_v4()), 403);
    // A CSR where none is expected: wrong count.
    assert_status(
        &post(
            a,
            &format!("requests/{rid}/certificatedata"),
            &json!({"pfxpassword": "pw", "certificaterequests": [b64(&p256_csr("x"))], "comments": ""}),
        ),
        403,
    );
    let certs = ok_json(&post(
        a,
        &format!("requests/{rid}/certificatedata"),
        &json!({"pfxpassword": "s3cret pw", "certificaterequests": [], "comments": ""}),
    ));
    let certs = certs.as_array().unwrap();
    assert_eq!(certs.len(), 2, "more certificates than requested");
    assert_eq!(certs[0]["isKeyHistory"], false);
    assert_eq!(certs[1]["isKeyHistory"], true);
    for (i, c) in certs.iter().enumerate() {
        assert_eq!(c["isPfx"], true);
        assert_eq!(c["isServerGenerated"], true);
        assert_eq!(c["isPkcs7"], false);
        assert_eq!(c["Pkcs7"], Value::Null);
        let pfx = unb64(&c["Pfx"]);
        if openssl_available() {
            let f = dir.join(format!("k{i}.pfx"));
            std::fs::write(&f, &pfx).unwrap();
            let (ok, text) = openssl(&[
                "pkcs12",
                "-in",
                f.to_str().unwrap(),
                "-passin",
                "pass:s3cret pw",
                "-nodes",
            ]);
            assert!(ok, "{text}");
            assert!(text.contains("PRIVATE KEY") && text.matches("BEGIN CERTIFICATE").count() == 2);
            let (ok, _) = openssl(&[
                "pkcs12",
                "-in",
                f.to_str().unwrap(),
                "-passin",
                "pass:wrong",
                "-nodes",
            ]);
            assert!(!ok, "a wrong password must not open the PFX");
        }
    }
    // The software profile exists and becomes Active on completion.
    let profiles = ok_json(&get(a, &format!("requests/{rid}/profiles")));
    let pid = profiles[0]["Uuid"].as_str().unwrap().to_string();
    assert_eq!(profiles[0]["Status"], 2);
    ok_json(&put(
        a,
        &format!("requests/{rid}"),
        &json!({"status": "completed"}),
    ));
    assert_eq!(ok_json(&get(a, &format!("profiles/{pid}")))["Status"], 3);
    assert_eq!(
        ok_json(&get(a, &format!("profiles/{pid}/certificates")))
            .as_array()
            .unwrap()
            .len(),
        2
    );
    let _ = std::fs::remove_dir_all(dir);
}

/// A card enrolled and active (through the control interface's seeding).
fn active_card(emu: &Emulator, template: Uuid) -> (Uuid, Uuid) {
    let card = Uuid::new_v4();
    let (_, scid) = emu.add_active_smartcard(card, template, ATR).unwrap();
    (card, scid)
}

#[test]
fn every_forbidden_rule_answers_403() {
    let emu = emu();
    let a = emu.addr();
    let body = |t: &str, extra: Value| {
        let mut v = json!({"type": t, "datacollection": "[]", "comment": ""});
        for (k, x) in extra.as_object().unwrap() {
            v[k] = x.clone();
        }
        v
    };
    let (card, scid) = active_card(&emu, SMARTCARD_USER_TEMPLATE);
    // POST /requests.
    for (what, b) in [
        (
            "unknown template",
            body("Enroll", json!({"profiletemplateuuid": Uuid::new_v4()})),
        ),
        (
            "policy not enabled",
            body(
                "Renew",
                json!({"profiletemplateuuid": MANAGER_APPROVAL_TEMPLATE, "smartcard": Uuid::new_v4()}),
            ),
        ),
        (
            "policy not enabled (template of the card)",
            body("OnlineUpdate", json!({"smartcard": scid})),
        ),
        (
            "unknown card",
            body("Unblock", json!({"smartcard": Uuid::new_v4()})),
        ),
        (
            "card of another template",
            body(
                "Unblock",
                json!({"smartcard": scid, "profiletemplateuuid": MANAGER_APPROVAL_TEMPLATE}),
            ),
        ),
        (
            "Enroll naming an existing card",
            body("Enroll", json!({"smartcard": scid})),
        ),
    ] {
        assert_status(&post(a, "requests", &b), 403);
        let _ = what;
    }
    // A card that is not Active: Unblock, Retire and Revoke are forbidden.
    let pending_enroll = enroll(a, SMARTCARD_USER_TEMPLATE, "");
    let assigned = created(&bind(a, pending_enroll, Uuid::new_v4()), "smartcards");
    for t in ["Unblock", "Retire", "Revoke"] {
        assert_status(
            &post(a, "requests", &body(t, json!({"smartcard": assigned}))),
            403,
        );
    }
    // POST /smartcards: pending request, non-enroll request, card already bound, request already bound.
    let pending = enroll(a, MANAGER_APPROVAL_TEMPLATE, "");
    assert_status(&bind(a, pending, Uuid::new_v4()), 403);
    let unblock = create_request(a, body("Unblock", json!({"smartcard": scid})));
    assert_status(&bind(a, unblock, Uuid::new_v4()), 403);
    let fresh = enroll(a, SMARTCARD_USER_TEMPLATE, "");
    assert_status(&bind(a, fresh, card), 403);
    assert_status(&bind(a, pending_enroll, Uuid::new_v4()), 403);

    // diversifiedkey / authenticationresponse.
    let dk = |rid: Uuid, sc: Uuid, cid: Uuid| {
        get(
            a,
            &format!("requests/{rid}/smartcards/{sc}/diversifiedkey?cardid={cid}"),
        )
    };
    let ar = |rid: Uuid, sc: Uuid, cid: Uuid| {
        get(
            a,
            &format!(
                "requests/{rid}/smartcards/{sc}/authenticationresponse?cardid={cid}&challenge=AAAAAAAAAAA%3D&diversified=false"
            ),
        )
    };
    assert_eq!(dk(unblock, scid, card).status, 200);
    for r in [
        dk(unblock, scid, Uuid::new_v4()), // cardid is not the card's
        ar(unblock, scid, Uuid::new_v4()),
        dk(fresh, scid, card), // card not bound to that request
        ar(fresh, scid, card),
        dk(Uuid::new_v4(), scid, card),    // unknown request
        dk(unblock, Uuid::new_v4(), card), // unknown card
    ] {
        assert_status(&r, 403);
    }
    // A closed request no longer gets keys.
    ok_json(&put(
        a,
        &format!("requests/{unblock}"),
        &json!({"status": "Canceled"}),
    ));
    assert_status(&dk(unblock, scid, card), 403);
    assert_status(&ar(unblock, scid, card), 403);

    // certificatedata: pending, no card bound, non-issuing type, wrong count, twice.
    let cd = |rid: Uuid, n: usize| {
        let csrs: Vec<String> = (0..n).map(|i| b64(&p256_csr(&format!("c{i}")))).collect();
        post(
            a,
            &format!("requests/{rid}/certificatedata"),
            &json!({"pfxpassword": "", "certificaterequests": csrs, "comments": ""}),
        )
    };
    assert_status(&cd(pending, 1), 403);
    assert_status(&cd(fresh, 2), 403);
    let unblock2 = create_request(a, body("Unblock", json!({"smartcard": scid})));
    assert_status(&cd(unblock2, 0), 403);
    assert_status(&cd(pending_enroll, 1), 403);
    assert_status(&cd(pending_enroll, 3), 403);
    assert_eq!(cd(pending_enroll, 2).status, 200);
    assert_status(&cd(pending_enroll, 2), 403);
    assert_status(&cd(Uuid::new_v4(), 2), 403);

    // PUT /requests/{id}: Completed needs Approved/Executing; nothing after a final state.
    assert_status(
        &put(
            a,
            &format!("requests/{pending}"),
            &json!({"status": "Completed"}),
        ),
        403,
    );
    assert_status(
        &put(
            a,
            &format!("requests/{unblock}"),
            &json!({"status": "Abandoned"}),
        ),
        403,
    );
    assert_status(
        &put(
            a,
            &format!("requests/{}", Uuid::new_v4()),
            &json!({"status": "Canceled"}),
        ),
        403,
    );

    // PUT /requests/{rid}/smartcards/{scid}: request not concerning the card, closed request.
    assert_status(
        &put(
            a,
            &format!("requests/{fresh}/smartcards/{scid}"),
            &json!({"status": "Retired"}),
        ),
        403,
    );
    assert_status(
        &put(
            a,
            &format!("requests/{unblock}/smartcards/{scid}"),
            &json!({"status": "Retired"}),
        ),
        403,
    );
    // serverproposedpin: template without it; cardid mismatch.
    assert_status(
        &get(a, &format!("smartcards/{scid}/serverproposedpin")),
        403,
    );
    let (mcard, mscid) = active_card(&emu, MANAGER_APPROVAL_TEMPLATE);
    assert_eq!(
        get(
            a,
            &format!("smartcards/{mscid}/serverproposedpin?cardid={mcard}")
        )
        .status,
        200
    );
    assert_status(
        &get(
            a,
            &format!("smartcards/{mscid}/serverproposedpin?cardid={card}"),
        ),
        403,
    );
    assert_status(
        &get(
            a,
            &format!("smartcards/{}/serverproposedpin", Uuid::new_v4()),
        ),
        403,
    );

    // A Retired card cannot be set back; a Pending request cannot change a card.
    let retire = create_request(a, body("Retire", json!({"smartcard": mscid})));
    ok_json(&put(
        a,
        &format!("requests/{retire}/smartcards/{mscid}"),
        &json!({"status": "Retired"}),
    ));
    assert_status(
        &put(
            a,
            &format!("requests/{retire}/smartcards/{mscid}"),
            &json!({"status": "Active"}),
        ),
        403,
    );
    let (_, other) = active_card(&emu, SMARTCARD_USER_TEMPLATE);
    let pending_retire = Uuid::new_v4();
    emu.add_request_with(
        pending_retire,
        RequestType::Retire,
        SMARTCARD_USER_TEMPLATE,
        RequestStatus::Pending,
        Some(other),
    );
    assert_status(
        &put(
            a,
            &format!("requests/{pending_retire}/smartcards/{other}"),
            &json!({"status": "Retired"}),
        ),
        403,
    );
    assert_eq!(emu.smartcard_status(other), Some(SmartcardStatus::Active));
}

#[test]
fn malformed_input_answers_400() {
    let emu = emu();
    let a = emu.addr();
    let (card, scid) = active_card(&emu, SMARTCARD_USER_TEMPLATE);
    let rid = create_request(
        a,
        json!({"type": "Unblock", "smartcard": scid, "datacollection": "[]", "comment": ""}),
    );
    // Bad GUIDs in every kind of path.
    for p in [
        "profiletemplates/nope/policies/Enroll".to_string(),
        "profiletemplates/nope/policy/workflow/Enroll".to_string(),
        "profiletemplates/nope/configuration/smartcards".to_string(),
        "requests/nope/certificaterequestgenerationoptions".to_string(),
        "requests/nope/profiles".to_string(),
        format!("requests/nope/smartcards/{scid}/diversifiedkey?cardid={card}"),
        format!("requests/{rid}/smartcards/nope/diversifiedkey?cardid={card}"),
        format!("requests/{rid}/smartcards/nope/serverproposedpin"),
        "smartcards/nope/operations".to_string(),
        "smartcards/nope/certificates".to_string(),
        "smartcards/nope/serverproposedpin".to_string(),
        "profiles/nope".to_string(),
        "profiles/nope/operations".to_string(),
        "profiles/nope/certificates".to_string(),
    ] {
        assert_status(&get(a, &p), 400);
    }
    // Unknown enum names.
    assert_status(
        &get(
            a,
            &format!("profiletemplates/{SMARTCARD_USER_TEMPLATE}/policies/Bogus"),
        ),
        400,
    );
    assert_status(&get(a, "profiles?status=Bogus"), 400);
    assert_status(&get(a, "requests?status=Bogus"), 400);
    // diversifiedkey / authenticationresponse query errors.
    let base = format!("requests/{rid}/smartcards/{scid}");
    for q in [
        format!("{base}/diversifiedkey"),
        format!("{base}/diversifiedkey?cardid=xyz"),
        format!("{base}/authenticationresponse?challenge=AAAAAAAAAAA%3D&diversified=false"),
        format!("{base}/authenticationresponse?cardid={card}&diversified=false"),
        format!(
            "{base}/authenticationresponse?cardid={card}&challenge=AAAAAAAAAA%3D%3D&diversified=false"
        ),
        format!(
            "{base}/authenticationresponse?cardid={card}&challenge=AAAAAAAAAAAAAA%3D%3D&diversified=false"
        ),
        format!("{base}/authenticationresponse?cardid={card}&challenge=!!!!&diversified=false"),
        format!("{base}/authenticationresponse?cardid={card}&challenge=AAAAAAAAAAA%3D"),
        format!(
            "{base}/authenticationresponse?cardid={card}&challenge=AAAAAAAAAAA%3D&diversified=maybe"
        ),
    ] {
        assert_status(&get(a, &q), 400);
    }
    // POST /requests bodies.
    for b in [
        "not json".to_string(),
        "[]".to_string(),
        json!({"profiletemplateuuid": SMARTCARD_USER_TEMPLATE, "datacollection": "[]", "comment": ""}).to_string(),
        json!({"profiletemplateuuid": SMARTCARD_USER_TEMPLATE, "type": "Bogus"}).to_string(),
        json!({"profiletemplateuuid": SMARTCARD_USER_TEMPLATE, "type": 1}).to_string(),
        json!({"profiletemplateuuid": "nope", "type": "Enroll"}).to_string(),
        json!({"type": "Enroll", "datacollection": "[]"}).to_string(),
        json!({"profiletemplateuuid": SMARTCARD_USER_TEMPLATE, "type": "Enroll", "target": "nope"}).to_string(),
        json!({"type": "Unblock", "smartcard": "nope"}).to_string(),
        json!({"type": "Unblock", "profiletemplateuuid": SMARTCARD_USER_TEMPLATE}).to_string(),
        json!({"profiletemplateuuid": SMARTCARD_USER_TEMPLATE, "type": "Enroll", "datacollection": "not json"}).to_string(),
        json!({"profiletemplateuuid": SMARTCARD_USER_TEMPLATE, "type": "Enroll", "datacollection": {"a": "b"}}).to_string(),
        json!({"profiletemplateuuid": SMARTCARD_USER_TEMPLATE, "type": "Enroll", "datacollection": [{"a": "b", "c": "d"}]}).to_string(),
        json!({"profiletemplateuuid": SMARTCARD_USER_TEMPLATE, "type": "Enroll", "datacollection": [1]}).to_string(),
        json!({"profiletemplateuuid": SMARTCARD_USER_TEMPLATE, "type": "Enroll", "priority": "high"}).to_string(),
        json!({"profiletemplateuuid": SMARTCARD_USER_TEMPLATE, "type": "Enroll", "priority": 1.5}).to_string(),
        json!({"profiletemplateuuid": SMARTCARD_USER_TEMPLATE, "type": "Enroll", "comment": 5}).to_string(),
    ] {
        let r = req(a, "POST", &format!("{API}/requests"), Some(&b));
        assert_status(&r, 400);
    }
    // certificatedata bodies.
    let enroll_id = enroll(a, SMARTCARD_USER_TEMPLATE, "");
    created(&bind(a, enroll_id, Uuid::new_v4()), "smartcards");
    let mut bad_sig = p256_csr("tampered");
    let n = bad_sig.len();
    bad_sig[n - 5] ^= 0x01; // inside the signature
    let mut bad_subject = p256_csr("tampered-subject");
    let i = bad_subject
        .windows(16)
        .position(|w| w == b"tampered-subject")
        .unwrap();
    bad_subject[i] = b'T'; // the signed data changes
    for csrs in [
        json!("not an array"),
        json!([1, 2]),
        json!(["!!!not base64!!!", b64(&p256_csr("ok"))]),
        json!([b64(b"valid base64, but not a CSR"), b64(&p256_csr("ok"))]),
        json!([b64(&bad_sig), b64(&p256_csr("ok"))]),
        json!([b64(&bad_subject), b64(&p256_csr("ok"))]),
    ] {
        let r = post(
            a,
            &format!("requests/{enroll_id}/certificatedata"),
            &json!({"pfxpassword": "", "certificaterequests": csrs, "comments": ""}),
        );
        assert_status(&r, 400);
    }
    // Nothing was issued by the refused attempts: a good one still works.
    assert_eq!(
        post(
            a,
            &format!("requests/{enroll_id}/certificatedata"),
            &json!({"pfxpassword": "", "certificaterequests": [b64(&p256_csr("a")), b64(&p256_csr("b"))], "comments": ""}),
        )
        .status,
        200
    );
    // PUT bodies.
    assert_status(
        &put(
            a,
            &format!("requests/{rid}"),
            &json!({"status": "Approved"}),
        ),
        400,
    );
    assert_status(&put(a, &base, &json!({"status": "Assigned"})), 400);
    assert_status(&put(a, &base, &json!({"state": "Retired"})), 400);
    let r = req(a, "PUT", &format!("{API}/{base}"), Some("{\"status\":"));
    assert_status(&r, 400);
}

#[test]
fn documented_input_forms_are_all_accepted() {
    let emu = emu();
    let a = emu.addr();
    let base = json!({"profiletemplateuuid": SMARTCARD_USER_TEMPLATE, "type": "enroll", "comment": "forms"});
    let with = |k: &str, v: Value| {
        let mut b = base.clone();
        b[k] = v;
        b
    };
    // datacollection: {name,value} items, single-key items, JSON in a string, the empty string form.
    let r1 = create_request(
        a,
        with(
            "datacollection",
            json!([{"name": "city", "value": "seattle"}]),
        ),
    );
    let r2 = create_request(
        a,
        with(
            "datacollection",
            json!([{"name": "pavle"}, {"city": "seattle"}]),
        ),
    );
    let r3 = create_request(
        a,
        with(
            "datacollection",
            json!("[{\"Name\":\"city\",\"Value\":\"seattle\"}]"),
        ),
    );
    let r4 = create_request(a, with("datacollection", json!("[]")));
    let dc = |id: Uuid| ok_json(&get(a, &format!("requests/{id}")))["DataCollection"].clone();
    let sample = json!({"Name": "Sample Data Item", "Value": null});
    assert_eq!(
        dc(r1),
        json!([sample, {"Name": "city", "Value": "seattle"}])
    );
    assert_eq!(
        dc(r2),
        json!([sample, {"Name": "name", "Value": "pavle"}, {"Name": "city", "Value": "seattle"}])
    );
    assert_eq!(dc(r3), dc(r1));
    assert_eq!(dc(r4), json!([sample]));
    // The policy's item, given a value, keeps its place.
    let r5 = create_request(
        a,
        with("datacollection", json!([{"Sample Data Item": "x"}])),
    );
    assert_eq!(dc(r5), json!([{"Name": "Sample Data Item", "Value": "x"}]));
    // priority: number or numeric string.
    let p1 = create_request(a, with("priority", json!(4)));
    let p2 = create_request(a, with("priority", json!("4")));
    for id in [p1, p2] {
        assert_eq!(ok_json(&get(a, &format!("requests/{id}")))["Priority"], 4);
    }
    // target.
    let target = Uuid::new_v4();
    let t = create_request(a, with("target", json!(target.to_string().to_uppercase())));
    let tj = ok_json(&get(a, &format!("requests/{t}")));
    assert_eq!(tj["TargetUserUuid"], target.to_string());
    assert_eq!(tj["OriginatorUserUuid"], CALLER_USER_UUID.to_string());
    // targetuser=current keeps the caller's requests only.
    let mine = ok_json(&get(a, "requests?targetuser=current"));
    assert_eq!(mine.as_array().unwrap().len(), 7);
    // Policy type names: TemporaryEnroll (and the request type name), any case; disabled → Enabled false.
    let pol = |t: &str| {
        ok_json(&get(
            a,
            &format!("profiletemplates/{SMARTCARD_USER_TEMPLATE}/policies/{t}"),
        ))
    };
    assert_eq!(pol("TemporaryEnroll")["Enabled"], false);
    assert_eq!(pol("temporarycards")["Enabled"], false);
    assert_eq!(pol("UNBLOCK")["Enabled"], true);
    assert_eq!(pol("offlineunblock")["Enabled"], false);
    // Unknown template: 204 for policy and configuration.
    let unknown = Uuid::new_v4();
    assert_eq!(
        get(a, &format!("profiletemplates/{unknown}/policies/Enroll")).status,
        204
    );
    assert_eq!(
        get(
            a,
            &format!("profiletemplates/{unknown}/policy/workflow/Enroll")
        )
        .status,
        204
    );
    assert_eq!(
        get(
            a,
            &format!("profiletemplates/{unknown}/configuration/smartcards")
        )
        .status,
        204
    );
    // Empty results are 204 on the new lists.
    for p in [
        format!("smartcards/{unknown}/operations"),
        format!("smartcards/{unknown}/certificates"),
        format!("profiles/{unknown}"),
        format!("profiles/{unknown}/operations"),
        "profiles".to_string(),
        "certificates".to_string(),
    ] {
        let r = get(a, &p);
        assert_eq!(r.status, 204, "{p}");
        assert!(r.body.is_empty());
    }
    // A challenge whose '+' was not URL-escaped still decodes.
    let (card, scid) = active_card(&emu, SMARTCARD_USER_TEMPLATE);
    let u = create_request(
        a,
        json!({"type": "UNBLOCK", "smartcard": scid.to_string().to_uppercase(), "datacollection": [], "comment": ""}),
    );
    let r = ok_json(&get(
        a,
        &format!(
            "requests/{u}/smartcards/{scid}/authenticationresponse?cardid={{{card}}}&challenge=1hFD+cz/0so=&diversified=false"
        ),
    ));
    assert_eq!(
        unb64(&r),
        des3(
            &BASE_CSP_DEFAULT_ADMIN_KEY,
            [0xd6, 0x11, 0x43, 0xf9, 0xcc, 0xff, 0xd2, 0xca]
        )
        .to_vec()
    );
    // Every request type name creates the type number of the contract (where the template allows it).
    let codes: Vec<(RequestType, u32)> = RequestType::ALL.iter().map(|t| (*t, t.code())).collect();
    assert_eq!(codes[0], (RequestType::Enroll, 1));
    assert_eq!(codes[11], (RequestType::OfflineUnblock, 12));
    for (name, code) in [("Renew", 7), ("Revoke", 6), ("Retire", 4), ("Unblock", 5)] {
        let id = create_request(
            a,
            json!({"type": name, "smartcard": scid, "datacollection": "[]", "comment": ""}),
        );
        assert_eq!(
            ok_json(&get(a, &format!("requests/{id}")))["RequestType"],
            code
        );
    }
}

#[test]
fn faults_apply_to_the_new_endpoints() {
    let emu = emu();
    let a = emu.addr();
    // The request is created, the answer never arrives: the caller reconciles by listing.
    emu.set_fault(
        Fault::new(FaultKind::CloseAfterRead { apply: true })
            .method("POST")
            .path("/requests")
            .times(1),
    );
    let body = json!({"profiletemplateuuid": SMARTCARD_USER_TEMPLATE, "type": "Enroll", "datacollection": "[]", "comment": "lost answer"});
    let mut c = Client::connect(a);
    c.send_raw(&build(
        "POST",
        &format!("{API}/requests"),
        Some(&body.to_string()),
        &[],
    ));
    assert!(c.read_response().is_err(), "closed without an answer");
    let list = ok_json(&get(a, "requests?targetuser=current&status=Approved"));
    let found: Vec<&Value> = list
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["Comment"] == "lost answer" && r["RequestType"] == 1)
        .collect();
    assert_eq!(found.len(), 1, "applied exactly once");
    // Submitted can be moved (to test a reconcile's time window).
    let lost = Uuid::parse_str(found[0]["Uuid"].as_str().unwrap()).unwrap();
    assert!(emu.set_request_submitted(lost, "2015-07-07T23:36:21.93Z"));
    assert_eq!(
        ok_json(&get(a, &format!("requests/{lost}")))["Submitted"],
        "2015-07-07T23:36:21.93Z"
    );
    assert!(!emu.set_request_submitted(Uuid::new_v4(), "x"));
    let log = emu.request_log();
    let posted = log.iter().find(|l| l.method == "POST").unwrap();
    assert_eq!(posted.fault.as_deref(), Some("close_after_read"));
    // A 500 on the diversified key endpoint, once; then the real answer.
    let (card, scid) = active_card(&emu, SMARTCARD_USER_TEMPLATE);
    let rid = create_request(
        a,
        json!({"type": "Unblock", "smartcard": scid, "datacollection": "[]", "comment": ""}),
    );
    emu.set_fault(
        Fault::new(FaultKind::ServerError {
            correlation_id: Uuid::nil(),
        })
        .method("GET")
        .path("/diversifiedkey")
        .times(1),
    );
    let p = format!("requests/{rid}/smartcards/{scid}/diversifiedkey?cardid={card}");
    let r = get(a, &p);
    assert_eq!(r.status, 500);
    assert!(r.text().contains("Correlation ID"));
    assert_eq!(get(a, &p).status, 200);
    // Faults still work on the certificatedata POST (answer lost after applying: returned-once rule).
    let e = enroll(a, MANAGER_APPROVAL_TEMPLATE, "");
    emu.approve(e).unwrap();
    created(&bind(a, e, Uuid::new_v4()), "smartcards");
    emu.set_fault(Fault::parse_spec("close-after-read=apply:POST:/certificatedata:1").unwrap());
    let cd =
        json!({"pfxpassword": "", "certificaterequests": [b64(&p256_csr("z"))], "comments": ""});
    let mut c = Client::connect(a);
    c.send_raw(&build(
        "POST",
        &format!("{API}/requests/{e}/certificatedata"),
        Some(&cd.to_string()),
        &[],
    ));
    assert!(c.read_response().is_err());
    assert_status(&post(a, &format!("requests/{e}/certificatedata"), &cd), 403);
}

#[test]
fn control_interface_templates_ca_and_seeding() {
    let emu = emu();
    let a = emu.addr();
    let r = req(a, "GET", "/_emulator/ca.pem", None);
    assert_eq!(r.status, 200);
    assert_eq!(r.text(), emu.ca_pem());
    assert!(r.text().contains("BEGIN CERTIFICATE"));
    let t = req(a, "GET", "/_emulator/templates", None).json();
    let ids: Vec<&str> = t
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["Uuid"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        cm_emulator::SEEDED_TEMPLATES
            .iter()
            .map(|u| u.to_string())
            .collect::<Vec<_>>()
    );
    assert_eq!(t[1]["EnabledPolicies"][0]["ApprovalsNeeded"], 1);
    // Seeding an active card over HTTP.
    let card = Uuid::new_v4();
    let r = req(
        a,
        "POST",
        "/_emulator/smartcards",
        Some(&json!({"cardid": card, "atr": ATR}).to_string()),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let scid = Uuid::parse_str(r.json()["smartcard"].as_str().unwrap()).unwrap();
    assert_eq!(ok_json(&get(a, &format!("smartcards/{scid}")))["Status"], 3);
    assert_eq!(
        req(
            a,
            "POST",
            "/_emulator/smartcards",
            Some(&json!({"cardid": card}).to_string())
        )
        .status,
        409
    );
    // Control requests are neither faulted nor logged.
    emu.set_fault(Fault::new(FaultKind::Hang));
    assert_eq!(req(a, "GET", "/_emulator/templates", None).status, 200);
    emu.clear_faults();
    assert!(
        emu.request_log()
            .iter()
            .all(|l| !l.path.contains("_emulator"))
    );
    // Rust seeding of a typed request.
    let rid = Uuid::new_v4();
    emu.add_request_with(
        rid,
        RequestType::Retire,
        SMARTCARD_USER_TEMPLATE,
        RequestStatus::Approved,
        Some(scid),
    );
    let sc = ok_json(&put(
        a,
        &format!("requests/{rid}/smartcards/{scid}"),
        &json!({"status": "Suspended"}),
    ));
    assert_eq!(sc["Status"], 4);
    // Suspended: only Reinstate would be possible, and this template has no Reinstate policy.
    assert_eq!(get(a, &format!("smartcards/{scid}/operations")).status, 204);
}

#[test]
fn renew_issues_onto_the_card_it_names() {
    let emu = emu();
    let a = emu.addr();
    let (_, scid) = active_card(&emu, SMARTCARD_USER_TEMPLATE);
    let renew = create_request(
        a,
        json!({"type": "Renew", "smartcard": scid, "datacollection": "[]", "comment": ""}),
    );
    let options = ok_json(&get(
        a,
        &format!("requests/{renew}/certificaterequestgenerationoptions"),
    ));
    assert_eq!(options.as_array().unwrap().len(), 2);
    let certs = ok_json(&post(
        a,
        &format!("requests/{renew}/certificatedata"),
        &json!({"pfxpassword": "", "certificaterequests": [b64(&p256_csr("r1")), b64(&p256_csr("r2"))], "comments": ""}),
    ));
    assert_eq!(certs.as_array().unwrap().len(), 2);
    assert_eq!(
        ok_json(&get(a, &format!("smartcards/{scid}/certificates")))
            .as_array()
            .unwrap()
            .len(),
        2
    );
    // The renewal created no new profile.
    let r = ok_json(&get(a, &format!("requests/{renew}")));
    assert_eq!(r["NewProfileUuid"], Uuid::nil().to_string());
    assert_eq!(r["OldProfileUuid"], scid.to_string());
    ok_json(&put(
        a,
        &format!("requests/{renew}"),
        &json!({"status": "Completed"}),
    ));
    assert_eq!(emu.smartcard_status(scid), Some(SmartcardStatus::Active));
}

#[test]
fn master_key_is_configurable() {
    let master = *b"another master key 24 b!";
    let emu = Emulator::start(Config {
        quiet: true,
        admin_master_key: master,
        ..Config::default()
    })
    .unwrap();
    let a = emu.addr();
    let card = Uuid::new_v4();
    let (_, scid) = emu
        .add_active_smartcard(card, SMARTCARD_USER_TEMPLATE, ATR)
        .unwrap();
    let rid = create_request(
        a,
        json!({"type": "Unblock", "smartcard": scid, "datacollection": "[]", "comment": ""}),
    );
    let key = unb64(&ok_json(&get(
        a,
        &format!("requests/{rid}/smartcards/{scid}/diversifiedkey?cardid={card}"),
    )));
    assert_eq!(key, diversified(&master, card).to_vec());
    assert_ne!(key, diversified(&DEFAULT_ADMIN_MASTER_KEY, card).to_vec());
}
