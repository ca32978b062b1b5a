//! The whole CM enrollment and card lifecycle through the core client (`CmClient::session`) against the
//! emulator: the documented walkthrough end to end, then at most once for every state-changing call under
//! the emulator's faults, and the reconcile of a created request.

mod common;

use cm_emulator::crypto::des3_ecb_encrypt;
use cm_emulator::{
    BASE_CSP_DEFAULT_ADMIN_KEY, Config, Emulator, Fault, FaultKind, MANAGER_APPROVAL_TEMPLATE,
    RequestStatus, SERVER_KEYS_TEMPLATE, SMARTCARD_USER_TEMPLATE,
};
use cm_smartcard::Status;
use cm_smartcard::cm::{Assignment, CmClient, ObjectKind, Owner, RequestSpec};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use uuid::Uuid;

const ATR: &str = "3b8d0180fba000000397425446590301c8";

fn emulator() -> Emulator {
    Emulator::start(Config {
        quiet: true,
        ..Config::default()
    })
    .unwrap()
}

fn session(emu: &Emulator) -> CmClient {
    common::plain_session(&emu.base_url())
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn enroll_spec(template: Uuid, comment: &str) -> RequestSpec {
    let mut spec = RequestSpec::new("Enroll").unwrap();
    spec.profile_template = Some(template);
    spec.comment = comment.into();
    spec
}

/// A PKCS#10 request (DER) made by the openssl command line, as a caller's own tooling would.
fn csr(dir: &Path, cn: &str, extra: &[&str]) -> Vec<u8> {
    let out = dir.join(format!("{cn}.der"));
    let status = Command::new("openssl")
        .args(["req", "-new", "-newkey", "rsa:2048", "-nodes", "-subj"])
        .arg(format!("/CN={cn}"))
        .args(extra)
        .args(["-keyout"])
        .arg(dir.join(format!("{cn}.key")))
        .args(["-outform", "DER", "-out"])
        .arg(&out)
        .output()
        .expect("openssl is installed by scripts/setup-debian.sh");
    assert!(status.status.success(), "{status:?}");
    std::fs::read(out).unwrap()
}

fn temp_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("cm-enroll-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Creates an Enroll request on the auto-approving template and binds a new card id to it.
fn enrolled_card(client: &CmClient) -> (Uuid, Uuid, Uuid) {
    let created = client
        .create_request(&enroll_spec(SMARTCARD_USER_TEMPLATE, "card"))
        .unwrap();
    let request = created.guid("Uuid").unwrap();
    let card_id = Uuid::new_v4();
    let assignment =
        Assignment::new(&request.to_string(), &card_id.to_string(), Some(ATR)).unwrap();
    let smartcard = client
        .assign_smartcard(&assignment)
        .unwrap()
        .smartcard_uuid
        .unwrap();
    (request, card_id, smartcard)
}

#[test]
fn the_documented_enrollment_walkthrough_end_to_end() {
    let emu = emulator();
    let client = session(&emu);
    let dir = temp_dir("walk");

    // 1. Templates; 2. the Enroll policy (both documented path forms answer).
    let templates = client.list_profile_templates().unwrap();
    assert!(templates.len() >= 3);
    let user = (0..templates.len())
        .map(|i| templates.object(i).unwrap())
        .find(|t| t.string("Name").unwrap() == "Smartcard User")
        .expect("seeded template");
    assert_eq!(user.kind, ObjectKind::ProfileTemplate);
    let template = user.guid("Uuid").unwrap();
    assert_eq!(template, SMARTCARD_USER_TEMPLATE);
    assert!(user.bool("IsSmartcardProfileTemplate").unwrap());
    let policy = client
        .profile_template_policy(&template.to_string(), "enroll")
        .unwrap()
        .unwrap();
    assert_eq!(policy.kind, ObjectKind::Policy);
    assert_eq!(policy.int("ApprovalsNeeded").unwrap(), 0);
    assert!(policy.bool("Enabled").unwrap());

    // 3. Create; 4. approved at once (status 3, the documented "Approved"), no card yet.
    let spec = enroll_spec(template, "walkthrough");
    let created = client.create_request(&spec).unwrap();
    assert_eq!(created.kind, ObjectKind::Created);
    assert!(
        created
            .string("Uri")
            .unwrap()
            .starts_with("api/v1.0/requests/")
    );
    let request = created.guid("Uuid").unwrap();
    let req = client.get_request(&request.to_string()).unwrap().unwrap();
    assert_eq!(req.status, 3);
    assert_eq!(req.new_smartcard_uuid, None);

    // 5. The smart card configuration; 6. bind; 7. read the card back.
    let config = client
        .smartcard_config(&template.to_string())
        .unwrap()
        .unwrap();
    assert!(config.bool("DiversifyAdminKey").unwrap());
    let default_key: [u8; 24] = hex(&config.string("DefaultAdminKeyHex").unwrap())
        .try_into()
        .unwrap();
    assert_eq!(default_key, BASE_CSP_DEFAULT_ADMIN_KEY);
    let card_id = Uuid::new_v4();
    let assignment =
        Assignment::new(&request.to_string(), &card_id.to_string(), Some(ATR)).unwrap();
    let smartcard = client
        .assign_smartcard(&assignment)
        .unwrap()
        .smartcard_uuid
        .unwrap();
    let (r, s, c) = (
        request.to_string(),
        smartcard.to_string(),
        card_id.to_string(),
    );

    // 8. The diversified admin key, and challenge responses with the default and the diversified key,
    // checked the way a card checks them (3DES-ECB of the challenge).
    let (admin_key, warning) = client.admin_key(&r, &s, &c, Some(ATR)).unwrap();
    assert!(warning.is_none());
    assert_eq!(admin_key.len(), 24);
    assert_eq!(admin_key.as_slice(), emu.diversified_admin_key(card_id));
    let challenge = [0xd6, 0x11, 0x43, 0xf9, 0xcc, 0xff, 0xd2, 0xca]; // has '+', '/' and '=' in base64
    let (default_response, _) = client
        .authentication_response(&r, &s, &c, None, &challenge, false)
        .unwrap();
    assert_eq!(default_response, des3_ecb_encrypt(&default_key, &challenge));
    let (diversified_response, _) = client
        .authentication_response(&r, &s, &c, Some(ATR), &challenge, true)
        .unwrap();
    let key: [u8; 24] = admin_key.as_slice().try_into().unwrap();
    assert_eq!(diversified_response, des3_ecb_encrypt(&key, &challenge));
    // This template proposes no PIN: CM forbids it.
    let pin = client
        .server_proposed_pin(Some(&r), &s, Some(&c), None)
        .unwrap_err();
    assert_eq!(pin.status, Status::HttpForbidden);

    // 9. CSR options; 10. certificate data for CSRs made with openssl; 11. real PKCS#7 that chains to the CA.
    let options = client.csr_options(&r).unwrap();
    assert!(!options.is_empty());
    let option = options.object(0).unwrap();
    assert_eq!(option.kind, ObjectKind::CsrOption);
    assert!(option.int("KeySize").unwrap() >= 1024);
    assert!(option.count("KeyStorageProviderNames").unwrap() >= 1);
    let csrs: Vec<Vec<u8>> = (0..options.len())
        .map(|i| csr(&dir, &format!("user{i}"), &[]))
        .collect();
    let csr_refs: Vec<&[u8]> = csrs.iter().map(Vec::as_slice).collect();
    let certs = client
        .submit_certificate_requests(&r, &csr_refs, None, Some("from the test"))
        .unwrap();
    assert_eq!(certs.len(), options.len());
    let ca = dir.join("ca.pem");
    std::fs::write(&ca, emu.ca_pem()).unwrap();
    for i in 0..certs.len() {
        let cert = certs.object(i).unwrap();
        assert_eq!(cert.kind, ObjectKind::CertificateData);
        assert!(cert.bool("isPkcs7").unwrap());
        let p7 = dir.join(format!("cert{i}.p7b"));
        std::fs::write(&p7, cert.bytes("Pkcs7").unwrap()).unwrap();
        let pem = dir.join(format!("cert{i}.pem"));
        let printed = Command::new("openssl")
            .args(["pkcs7", "-inform", "DER", "-print_certs", "-in"])
            .arg(&p7)
            .arg("-out")
            .arg(&pem)
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
    // Certificate data is returned once.
    let again = client
        .submit_certificate_requests(&r, &csr_refs, None, None)
        .unwrap_err();
    assert_eq!(again.status, Status::HttpForbidden);

    // 12. Complete: the request is Completed (8), the card Active, its certificates and operations visible.
    let done = client.set_request_status(&r, "completed").unwrap().unwrap();
    assert_eq!(done.int("Status").unwrap(), 8);
    assert_eq!(done.enum_name("Status").unwrap(), "Completed");
    let on_card = client.certificates(Owner::Smartcard, &s).unwrap();
    assert_eq!(on_card.len(), certs.len());
    assert!(
        on_card
            .object(0)
            .unwrap()
            .string("Thumbprint")
            .unwrap()
            .len()
            == 40
    );
    let ops = client.operations(Owner::Smartcard, &s).unwrap();
    let ops: Vec<String> = (0..ops.len()).map(|i| ops.string(i).unwrap()).collect();
    assert!(
        ops.iter().any(|o| o.eq_ignore_ascii_case("unblock")),
        "{ops:?}"
    );
    let profiles = client.request_profiles(&r).unwrap();
    assert_eq!(profiles.len(), 1);
    let profile = profiles.object(0).unwrap();
    let profile_id = profile.guid("Uuid").unwrap().to_string();
    assert!(client.get_profile(&profile_id).unwrap().is_some());
    assert!(!client.list_profiles(Some("active")).unwrap().is_empty());
    assert!(
        client
            .certificates(Owner::Profile, &profile_id)
            .unwrap()
            .len()
            >= certs.len()
    );
    assert!(client.user_certificates().unwrap().len() >= certs.len());

    // Then an Unblock with challenge/response, and a Retire that retires the card.
    let mut unblock = RequestSpec::new("Unblock").unwrap();
    unblock.smartcard = Some(smartcard);
    let unblock_id = client
        .create_request(&unblock)
        .unwrap()
        .guid("Uuid")
        .unwrap()
        .to_string();
    let (response, _) = client
        .authentication_response(&unblock_id, &s, &c, None, &challenge, true)
        .unwrap();
    assert_eq!(response, des3_ecb_encrypt(&key, &challenge));
    client.set_request_status(&unblock_id, "Completed").unwrap();
    let mut retire = RequestSpec::new("retire").unwrap();
    retire.smartcard = Some(smartcard);
    let retire_id = client
        .create_request(&retire)
        .unwrap()
        .guid("Uuid")
        .unwrap()
        .to_string();
    let retired = client
        .set_smartcard_status(&retire_id, &s, "Retired")
        .unwrap()
        .unwrap();
    assert_eq!(retired.kind, ObjectKind::Smartcard);
    assert_eq!(retired.enum_name("Status").unwrap(), "Retired");
    client.set_request_status(&retire_id, "Completed").unwrap();
    assert!(client.operations(Owner::Smartcard, &s).unwrap().is_empty());
    std::fs::remove_dir_all(dir).ok();
}

fn hex(text: &str) -> Vec<u8> {
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
        .collect()
}

#[test]
fn approval_templates_wait_and_server_keys_come_back_as_pfx() {
    let emu = emulator();
    let client = session(&emu);
    // A request that needs an approval stays Pending (its number has no documented name) until approved.
    let created = client
        .create_request(&enroll_spec(MANAGER_APPROVAL_TEMPLATE, "needs approval"))
        .unwrap();
    let id = created.guid("Uuid").unwrap();
    let pending = client.list_request_objects(Some("pending"), false).unwrap();
    let mine = (0..pending.len())
        .map(|i| pending.object(i).unwrap())
        .find(|r| r.guid("Uuid").unwrap() == id)
        .expect("listed as pending");
    assert_eq!(
        mine.enum_name("Status").unwrap_err().status,
        Status::EnumUnknown
    );
    emu.approve(id).unwrap();
    assert_eq!(
        client.get_request(&id.to_string()).unwrap().unwrap().status,
        3
    );
    // This template proposes a PIN and does not diversify admin keys.
    let card_id = Uuid::new_v4();
    let smartcard = client
        .assign_smartcard(&Assignment::new(&id.to_string(), &card_id.to_string(), None).unwrap())
        .unwrap()
        .smartcard_uuid
        .unwrap()
        .to_string();
    let (pin, _) = client
        .server_proposed_pin(
            Some(&id.to_string()),
            &smartcard,
            Some(&card_id.to_string()),
            None,
        )
        .unwrap();
    assert_eq!(pin.as_str(), emu.server_proposed_pin(card_id));
    let refused = client
        .admin_key(&id.to_string(), &smartcard, &card_id.to_string(), None)
        .unwrap_err();
    assert_eq!(refused.status, Status::HttpForbidden);
    assert!(
        refused.message.contains("diversification"),
        "{}",
        refused.message
    );

    // Server-generated keys: no CSR, a PFX under our password (openssl reads it with that password only).
    let request = client
        .create_request(&enroll_spec(SERVER_KEYS_TEMPLATE, "software"))
        .unwrap()
        .guid("Uuid")
        .unwrap()
        .to_string();
    assert!(client.csr_options(&request).unwrap().is_empty());
    let certs = client
        .submit_certificate_requests(&request, &[], Some("pfx-Passw0rd"), None)
        .unwrap();
    assert!(
        certs.len() >= 2,
        "more certificates than requested: {}",
        certs.len()
    );
    let pfx = (0..certs.len())
        .map(|i| certs.object(i).unwrap())
        .find(|c| c.bool("isPfx").unwrap_or(false))
        .expect("a PFX");
    let dir = temp_dir("pfx");
    let file = dir.join("key.pfx");
    std::fs::write(&file, pfx.bytes("Pfx").unwrap()).unwrap();
    let read = |pass: &str| {
        Command::new("openssl")
            .args(["pkcs12", "-nodes", "-passin"])
            .arg(format!("pass:{pass}"))
            .arg("-in")
            .arg(&file)
            .output()
            .unwrap()
            .status
            .success()
    };
    assert!(read("pfx-Passw0rd"));
    assert!(!read("wrong"));
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn bad_input_is_refused_before_anything_is_sent() {
    let emu = emulator();
    let client = session(&emu);
    let g = Uuid::new_v4().to_string();
    let cases: Vec<(Status, cm_smartcard::Error)> = vec![
        (Status::InvalidArgument, RequestSpec::new("Enrol").unwrap_err()),
        (
            Status::InvalidArgument,
            client.create_request(&RequestSpec::new("Enroll").unwrap()).unwrap_err(),
        ),
        (
            Status::InvalidGuid,
            client.profile_template_policy("not-a-guid", "Enroll").unwrap_err(),
        ),
        (
            Status::InvalidArgument,
            client.profile_template_policy(&g, "Enrollment").unwrap_err(),
        ),
        (Status::InvalidArgument, client.set_request_status(&g, "Done").unwrap_err()),
        (Status::InvalidArgument, client.set_request_status(&g, "Approved").unwrap_err()),
        (
            Status::InvalidArgument,
            client.set_smartcard_status(&g, &g, "Broken").unwrap_err(),
        ),
        (Status::InvalidGuid, client.admin_key(&g, &g, "xyz", None).unwrap_err()),
        (Status::InvalidAtr, client.admin_key(&g, &g, &g, Some("zz")).unwrap_err()),
        (
            Status::InvalidArgument,
            client
                .authentication_response(&g, &g, &g, None, &[], true)
                .unwrap_err(),
        ),
        (
            Status::InvalidArgument,
            client
                .submit_certificate_requests(&g, &[b"not a csr"], None, None)
                .unwrap_err(),
        ),
        (
            Status::InvalidArgument,
            client
                .submit_certificate_requests(
                    &g,
                    &[b"-----BEGIN CERTIFICATE REQUEST-----\n@@@\n-----END CERTIFICATE REQUEST-----\n"],
                    None,
                    None,
                )
                .unwrap_err(),
        ),
        (Status::InvalidArgument, client.list_profiles(Some("Sleeping")).unwrap_err()),
    ];
    for (i, (want, got)) in cases.iter().enumerate() {
        assert_eq!(got.status, *want, "case {i}: {}", got.message);
    }
    assert!(emu.request_log().is_empty(), "nothing reached the server");
}

#[test]
fn empty_answers_are_empty_lists_or_nothing() {
    let emu = emulator();
    let client = session(&emu);
    let unknown = Uuid::new_v4().to_string();
    assert!(client.smartcard_config(&unknown).unwrap().is_none());
    assert!(client.get_profile(&unknown).unwrap().is_none());
    assert!(
        client
            .certificates(Owner::Smartcard, &unknown)
            .unwrap()
            .is_empty()
    );
    assert!(
        client
            .operations(Owner::Profile, &unknown)
            .unwrap()
            .is_empty()
    );
    emu.set_fault(
        Fault::new(FaultKind::NoContent)
            .method("GET")
            .path("/profiletemplates"),
    );
    assert!(client.list_profile_templates().unwrap().is_empty());
}

#[test]
fn the_policy_is_found_under_either_documented_path() {
    let emu = emulator();
    let client = session(&emu);
    let t = SMARTCARD_USER_TEMPLATE.to_string();
    // A server that only knows the URL table's form: the examples' form answers 404.
    emu.set_fault(
        Fault::new(FaultKind::Status {
            code: 404,
            body: "{\"Message\":\"No HTTP resource was found\"}".into(),
            content_type: "application/json".into(),
        })
        .path("/policies/"),
    );
    let policy = client
        .profile_template_policy(&t, "Unblock")
        .unwrap()
        .unwrap();
    assert!(policy.bool("Enabled").unwrap());
    assert_eq!(emu.count("GET", "/policy/workflow/unblock"), 1);
    // Remembered: the next lookup goes straight to the form that answered.
    emu.clear_log();
    client
        .profile_template_policy(&t, "Retire")
        .unwrap()
        .unwrap();
    assert_eq!(emu.count("GET", "/policies/"), 0);
    assert_eq!(emu.count("GET", "/policy/workflow/retire"), 1);
}

/// Every state-changing call under a connection that breaks after the server read (and applied, or not)
/// the request: `OutcomeUnknown`, never resent — and for a created request, the reconcile tells which.
#[test]
fn every_state_change_is_sent_at_most_once() {
    for apply in [true, false] {
        let emu = emulator();
        let client = session(&emu);
        let (request, card_id, smartcard) = enrolled_card(&client);
        let (r, s) = (request.to_string(), smartcard.to_string());
        let dir = temp_dir(&format!("amo{apply}"));
        let der = csr(&dir, "amo", &[]);
        let options = client.csr_options(&r).unwrap().len();
        let csrs: Vec<&[u8]> = std::iter::repeat_n(der.as_slice(), options).collect();
        let break_next = |method: &str, path: &str| {
            emu.set_fault(
                Fault::new(FaultKind::CloseAfterRead { apply })
                    .method(method)
                    .path(path)
                    .times(1),
            );
        };

        let before = now();
        let spec = enroll_spec(SMARTCARD_USER_TEMPLATE, &format!("at most once {apply}"));
        break_next("POST", "/requests");
        let e = client.create_request(&spec).unwrap_err();
        assert_eq!(e.status, Status::OutcomeUnknown, "{}", e.message);
        assert!(e.message.contains("cm_session_find_created_requests"));
        assert_eq!(
            emu.count("POST", "/api/v1.0/requests"),
            2,
            "the first create and this one, once"
        );
        let found = client.find_created_requests(&spec, before).unwrap();
        assert_eq!(found.len(), usize::from(apply), "apply={apply}");

        break_next("POST", "/certificatedata");
        let e = client
            .submit_certificate_requests(&r, &csrs, None, None)
            .unwrap_err();
        assert_eq!(e.status, Status::OutcomeUnknown);
        assert_eq!(emu.count("POST", "/certificatedata"), 1);
        assert_eq!(
            client.certificates(Owner::Smartcard, &s).unwrap().len(),
            if apply { options } else { 0 },
            "the card's certificates tell whether they were issued"
        );

        break_next("PUT", &format!("/requests/{r}/smartcards/"));
        let e = client.set_smartcard_status(&r, &s, "Disabled").unwrap_err();
        assert_eq!(e.status, Status::OutcomeUnknown);
        assert_eq!(emu.count("PUT", "/smartcards/"), 1);

        break_next("PUT", &format!("/requests/{r}"));
        let e = client.set_request_status(&r, "Canceled").unwrap_err();
        assert_eq!(e.status, Status::OutcomeUnknown);
        assert_eq!(emu.count("PUT", &format!("/requests/{r}")), 2);
        let status = client.get_request(&r).unwrap().unwrap().status;
        assert_eq!(status == 3, !apply, "read back: status {status}");
        let _ = card_id;
        std::fs::remove_dir_all(dir).ok();
    }
}

/// A success answer whose body is unusable: the call was processed; the error says so and how to find out.
#[test]
fn a_garbled_success_answer_is_reported_as_processed() {
    let emu = emulator();
    let client = session(&emu);
    for (i, fault) in [FaultKind::Garbage, FaultKind::NoContent]
        .into_iter()
        .enumerate()
    {
        emu.set_fault(Fault::new(fault).method("POST").path("/requests").times(1));
        let spec = enroll_spec(SMARTCARD_USER_TEMPLATE, &format!("garbled {i}"));
        let before = now();
        let e = client.create_request(&spec).unwrap_err();
        assert_eq!(e.status, Status::MalformedResponse);
        assert!(
            e.message.contains("WAS most likely created"),
            "{}",
            e.message
        );
        assert_eq!(
            client.find_created_requests(&spec, before).unwrap().len(),
            1
        );
    }
}

/// A session whose pooled connections the server closes at random: many creates, each exactly once.
#[test]
fn creates_over_a_closing_pool_arrive_exactly_once() {
    let emu = Emulator::start(Config {
        quiet: true,
        idle_close_max: Some(Duration::from_millis(2)),
        ..Config::default()
    })
    .unwrap();
    let client = session(&emu);
    let n = 200;
    for i in 0..n {
        let spec = enroll_spec(SMARTCARD_USER_TEMPLATE, &format!("pool {i}"));
        client.create_request(&spec).unwrap();
        if i % 3 == 0 {
            std::thread::sleep(Duration::from_millis(3));
        }
    }
    assert_eq!(emu.count("POST", "/requests"), n);
    assert_eq!(
        client.list_request_objects(None, true).unwrap().len(),
        n,
        "every request created once"
    );
}

#[test]
fn server_errors_and_forbidden_states_carry_advice() {
    let emu = emulator();
    let client = session(&emu);
    let (request, _, _) = enrolled_card(&client);
    let r = request.to_string();
    // Completing twice: the second is refused by CM's state rules.
    client.set_request_status(&r, "Completed").unwrap();
    let e = client.set_request_status(&r, "Canceled").unwrap_err();
    assert_eq!(e.status, Status::HttpForbidden);
    assert!(e.message.contains("state"), "{}", e.message);
    let corr = Uuid::new_v4();
    emu.set_fault(
        Fault::new(FaultKind::ServerError {
            correlation_id: corr,
        })
        .path("/certificaterequestgenerationoptions"),
    );
    let e = client.csr_options(&r).unwrap_err();
    assert_eq!(e.status, Status::HttpServerError);
    assert_eq!(e.correlation_id.as_deref(), Some(corr.to_string().as_str()));
    let _ = RequestStatus::Approved;
}
