//! The `--verbose` trace hook never receives a card secret: the bodies of the calls that carry one are shown
//! by size only, while ordinary bodies stay readable (they are what a diagnosis needs).

mod common;

use cm_emulator::{
    Config, Emulator, MANAGER_APPROVAL_TEMPLATE, SERVER_KEYS_TEMPLATE, SMARTCARD_USER_TEMPLATE,
};
use cm_smartcard::cm::{Assignment, RequestSpec};
use std::sync::Mutex;

static LINES: Mutex<Vec<String>> = Mutex::new(Vec::new());

fn collect(line: &str) {
    LINES.lock().unwrap().push(line.to_string());
}

#[test]
fn secret_bodies_never_reach_the_trace() {
    assert!(cm_smartcard::http::trace::set_hook(collect));
    let emu = Emulator::start(Config {
        quiet: true,
        ..Config::default()
    })
    .unwrap();
    let client = common::plain_session(&emu.base_url());
    let create = |template: uuid::Uuid| {
        let mut spec = RequestSpec::new("Enroll").unwrap();
        spec.profile_template = Some(template);
        spec.comment = "traced".into();
        client
            .create_request(&spec)
            .unwrap()
            .guid("Uuid")
            .unwrap()
            .to_string()
    };
    let bind = |request: &str, card: &str| {
        client
            .assign_smartcard(&Assignment::new(request, card, None).unwrap())
            .unwrap()
            .smartcard_uuid
            .unwrap()
            .to_string()
    };
    let (request, card) = (
        create(SMARTCARD_USER_TEMPLATE),
        uuid::Uuid::new_v4().to_string(),
    );
    let smartcard = bind(&request, &card);
    let mut secrets: Vec<String> = Vec::new();
    let (key, _) = client.admin_key(&request, &smartcard, &card, None).unwrap();
    secrets.push(hex(&key));
    let config = client
        .smartcard_config(&SMARTCARD_USER_TEMPLATE.to_string())
        .unwrap()
        .unwrap();
    secrets.push(config.string("DefaultAdminKeyHex").unwrap());
    let approval = create(MANAGER_APPROVAL_TEMPLATE);
    emu.approve(uuid::Uuid::parse_str(&approval).unwrap())
        .unwrap();
    let card2 = uuid::Uuid::new_v4().to_string();
    let smartcard2 = bind(&approval, &card2);
    let (pin, _) = client
        .server_proposed_pin(Some(&approval), &smartcard2, Some(&card2), None)
        .unwrap();
    secrets.push(pin.to_string());
    let keys = create(SERVER_KEYS_TEMPLATE);
    let certs = client
        .submit_certificate_requests(&keys, &[], Some("Trace-Pfx-Passw0rd"), None)
        .unwrap();
    secrets.push("Trace-Pfx-Passw0rd".into());
    let pfx = (0..certs.len())
        .filter_map(|i| certs.object(i).unwrap().string("Pfx").ok())
        .next()
        .unwrap();
    secrets.push(pfx[..40].to_string());

    let lines = LINES.lock().unwrap().clone();
    let text = lines.join("\n");
    let b64_key = {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode(key.as_slice())
    };
    secrets.push(b64_key);
    for secret in &secrets {
        assert!(
            !text.contains(secret.as_str()),
            "a secret reached the trace:\n{text}"
        );
    }
    let hidden = lines
        .iter()
        .filter(|l| l.contains("[not shown: it holds a secret]"))
        .count();
    assert!(
        hidden >= 5,
        "secret bodies are summarized by size ({hidden}):\n{text}"
    );
    // Ordinary bodies stay readable: the create answer and the binding body.
    assert!(text.contains("api/v1.0/requests/"), "{text}");
    assert!(text.contains(&format!("\"cardid\":\"{card}\"")), "{text}");
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
