//! Authentication against the auth rig (`tests/rigs/auth/start.sh DIR`): real MIT KDC, Apache
//! mod_auth_gssapi (Kerberos, gss-ntlmssp), a pyspnego NTLM acceptor, Basic over TLS and a bearer echo, all in
//! front of a CM backend. Set `AUTH_RIG_ENV=DIR/auth.env`; without it the tests skip with a notice, unless
//! `CM_REQUIRE_RIGS=1` (then they fail). `tests/rigs/auth/run-tests.sh` does everything.
//!
//! MIT krb5 reads its environment per process, so the env file is loaded once before any GSSAPI call and
//! never changed afterwards; the "no ticket" case runs in a child process of this test binary.

mod common;

use cm_smartcard::Status;
use cm_smartcard::auth::{AuthConfig, AuthMethod, Scheme, Secret};
use cm_smartcard::cm::url::ServerUrl;
use cm_smartcard::cm::{
    Assignment, CmClient, ConnectionConfig, HttpAnswer, Idempotency, Transport, TransportConfig,
};
use std::collections::HashMap;
use std::process::Command;
use std::sync::OnceLock;

const API: &str = "CertificateManagement/api/v1.0/smartcards";

fn rig() -> Option<&'static HashMap<String, String>> {
    static RIG: OnceLock<Option<HashMap<String, String>>> = OnceLock::new();
    RIG.get_or_init(|| {
        let env = common::load_rig_env(
            "auth rig tests",
            "AUTH_RIG_ENV",
            "run tests/rigs/auth/run-tests.sh",
        )?;
        for key in ["KRB5_CONFIG", "KRB5CCNAME"] {
            // The child-process case overrides KRB5CCNAME itself; keep its value.
            if key == "KRB5CCNAME" && std::env::var("CM_AUTH_CHILD").is_ok() {
                continue;
            }
            // SAFETY: runs once, inside OnceLock initialisation, before any GSSAPI call in this process;
            // every test calls rig() first.
            unsafe { std::env::set_var(key, &env[key]) };
        }
        Some(env)
    })
    .as_ref()
}

macro_rules! rig_or_skip {
    () => {
        match rig() {
            Some(r) => r,
            None => return,
        }
    };
}

/// How a test reaches a rig location: one-shot transports built per call, as the one-shot exports do.
struct Via {
    auth: AuthConfig,
    ca: Option<String>,
}

fn transport(auth: AuthConfig, ca: Option<&str>) -> Via {
    Via {
        auth,
        ca: ca.map(str::to_string),
    }
}

/// Splits a rig URL into the server URL and the API path (`/smartcards?...`).
fn split_api(url: &str) -> (ServerUrl, String) {
    const MARK: &str = "CertificateManagement/api/v1.0";
    let (base, path) = match url.find(MARK) {
        Some(i) => (&url[..i], url[i + MARK.len()..].to_string()),
        None => (url, "/smartcards".to_string()),
    };
    (ServerUrl::parse(base).unwrap(), path)
}

fn one_shot(t: &Via, url: &str) -> (Transport, String) {
    let (server, path) = split_api(url);
    let config = TransportConfig {
        auth: t.auth.clone(),
        extra_ca_file: t.ca.as_ref().map(Into::into),
        ..Default::default()
    };
    (Transport::new(server, config, false).unwrap(), path)
}

/// A plain HTTP exchange with our own HTTP client (no authentication logic): status and headers.
fn raw(method: &str, url: &str, headers: &[(&str, &str)], body: &str) -> (u16, Vec<String>) {
    use cm_smartcard::http::{Client, ClientSettings, Origin, Request};
    let (scheme, rest) = url.split_once("://").unwrap();
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let (host, port) = authority.rsplit_once(':').unwrap();
    let client = Client::new(ClientSettings {
        origin: Origin {
            https: scheme == "https",
            host: host.to_string(),
            port: port.parse().unwrap(),
        },
        connect_timeout: std::time::Duration::from_secs(10),
        tls: None,
        proxy: None,
        proxy_auth: AuthConfig::default(),
        max_idle: 0,
        idle_timeout: std::time::Duration::from_secs(1),
    });
    let mut conn = client.open().unwrap();
    let mut all: Vec<(&str, &[u8])> = headers.iter().map(|(n, v)| (*n, v.as_bytes())).collect();
    all.push(("Content-Type", b"application/json"));
    let response = conn
        .exchange(
            &Request {
                method,
                target: if path.is_empty() { "/" } else { path },
                host: authority,
                headers: &all,
                body: Some(body.as_bytes()),
                max_body: 1 << 20,
                secret_bodies: false,
            },
            false,
            std::time::Instant::now() + std::time::Duration::from_secs(30),
        )
        .unwrap_or_else(|e| panic!("{method} {url}: {}", e.detail));
    (response.head.status, response.head.all("www-authenticate"))
}

/// Seeds an Approved request in the backend (the CM emulator's control API; the stub backend ignores it)
/// and returns its id, so every assign below is valid for the backend and a 201 proves authentication.
fn seed_request(r: &HashMap<String, String>) -> String {
    let id = uuid::Uuid::new_v4().to_string();
    let url = format!("{}/_emulator/requests", r["AUTH_BACKEND_URL"]);
    raw(
        "POST",
        &url,
        &[],
        &format!(r#"{{"uuid":"{id}","status":"Approved"}}"#),
    );
    id
}

fn body(r: &HashMap<String, String>) -> String {
    format!(
        r#"{{"requestid":"{}","cardid":"{}"}}"#,
        seed_request(r),
        uuid::Uuid::new_v4()
    )
}

fn post(t: &Via, url: &str) -> cm_smartcard::Result<HttpAnswer> {
    let r = rig().expect("rig loaded");
    let (transport, path) = one_shot(t, url);
    transport.send(
        "POST",
        &path,
        Some(&body(r)),
        Idempotency::AtMostOnce,
        false,
    )
}

fn nonce() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

fn current_user(insecure_ok: bool) -> AuthConfig {
    AuthConfig {
        method: AuthMethod::NegotiateCurrentUser,
        allow_insecure_http: insecure_ok,
        ..Default::default()
    }
}

fn ntlm(r: &HashMap<String, String>, password: &str) -> AuthConfig {
    AuthConfig {
        method: AuthMethod::Ntlm,
        username: Some(format!(
            "{}\\{}",
            r["AUTH_NTLM_DOMAIN"], r["AUTH_NTLM_USER"]
        )),
        password: Some(Secret::new(password)),
        allow_insecure_http: true,
        ..Default::default()
    }
}

/// Log lines that contain `marker`, waiting up to 2 s for `expected` of them (servers log after answering).
fn log_lines(path: &str, marker: &str, expected: usize) -> Vec<String> {
    let mut lines = Vec::new();
    for _ in 0..40 {
        lines = std::fs::read_to_string(path)
            .unwrap()
            .lines()
            .filter(|l| l.contains(marker))
            .map(String::from)
            .collect::<Vec<_>>();
        if lines.len() >= expected {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    lines
}

/// The full assign call through Apache `/negotiate/` with the CM client: Kerberos from the ticket cache,
/// pre-emptive token, mutual authentication verified by `finish`.
#[test]
fn kerberos_from_ccache_assign_end_to_end() {
    let r = rig_or_skip!();
    let base = r["AUTH_NEGOTIATE_URL"].trim_end_matches('/').to_string();
    let client = CmClient::new(ConnectionConfig {
        server_url: base,
        transport: TransportConfig {
            auth: current_user(true),
            ..Default::default()
        },
    })
    .unwrap();
    let a = Assignment::new(&seed_request(r), &uuid::Uuid::new_v4().to_string(), None).unwrap();
    let outcome = client
        .assign_smartcard(&a)
        .unwrap_or_else(|e| panic!("assign failed: {e}"));
    assert!(
        matches!(outcome.http_status, 200 | 201 | 204),
        "{outcome:?}"
    );
}

/// Kerberos at the session level: the token is sent pre-emptively (one round trip), the final token is
/// verified, and a tampered final token fails mutual authentication.
#[test]
fn kerberos_mutual_auth_checked() {
    let r = rig_or_skip!();
    use cm_smartcard::auth::AuthSession;
    let url = format!("{}{API}?t={}", r["AUTH_NEGOTIATE_URL"], nonce());
    let mut s = AuthSession::new(&current_user(true), "localhost", false).unwrap();
    let authz = s
        .initial_header()
        .unwrap()
        .expect("a pre-emptive Negotiate token (ticket in the cache)");
    assert!(authz.expose().starts_with("Negotiate "));
    assert_eq!(s.scheme(), Some(Scheme::Negotiate));
    let (status, www) = raw("POST", &url, &[("Authorization", authz.expose())], &body(r));
    assert!(matches!(status, 200 | 201), "status {status}");
    assert!(
        www.iter().any(|v| v.starts_with("Negotiate ")),
        "Apache sends a mutual-auth token: {www:?}"
    );

    // A corrupted final token must not verify.
    let mut tampered = AuthSession::new(&current_user(true), "localhost", false).unwrap();
    let authz2 = tampered.initial_header().unwrap().unwrap();
    let (_, good) = raw(
        "POST",
        &url,
        &[("Authorization", authz2.expose())],
        &body(r),
    );
    let tok = good
        .iter()
        .find(|v| v.starts_with("Negotiate "))
        .unwrap()
        .clone();
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut bytes = b64.decode(&tok["Negotiate ".len()..]).unwrap();
    let n = bytes.len();
    bytes[n - 5] ^= 0x55;
    let bad = vec![format!("Negotiate {}", b64.encode(&bytes))];
    let err = tampered.finish(&bad).unwrap_err();
    assert_eq!(err.status, Status::AuthMutualFailed, "{err}");

    // The genuine token verifies.
    s.finish(&www).unwrap();

    // A Kerberos exchange the server demanded (401) that ends without a final token is not mutual.
    let mut s3 = AuthSession::new(&current_user(true), "localhost", false).unwrap();
    let _ = s3.respond_to_challenge(&["Negotiate".to_string()]).unwrap();
    assert_eq!(s3.finish(&[]).unwrap_err().status, Status::AuthMutualFailed);
}

/// Kerberos through the full 401 loop with the transport, against the IIS-like location offering both
/// Negotiate and NTLM.
#[test]
fn kerberos_against_both_location() {
    let r = rig_or_skip!();
    let t = transport(current_user(true), None);
    let a = post(&t, &format!("{}{API}", r["AUTH_IISLIKE_URL"])).unwrap();
    assert_eq!(a.status, 201);
}

/// Negotiate with explicit user/password (Kerberos AS exchange with pre-authentication).
#[test]
fn negotiate_explicit_password() {
    let r = rig_or_skip!();
    let mut cfg = AuthConfig {
        method: AuthMethod::NegotiateExplicit,
        username: Some(r["AUTH_KRB5_USER"].clone()),
        password: Some(Secret::new(&r["AUTH_KRB5_PASSWORD"])),
        allow_insecure_http: true,
        ..Default::default()
    };
    let a = post(
        &transport(cfg.clone(), None),
        &format!("{}{API}", r["AUTH_NEGOTIATE_URL"]),
    )
    .unwrap();
    assert_eq!(a.status, 201);
    // The Windows form REALM\user is accepted for Kerberos too.
    let user = r["AUTH_KRB5_USER"].split('@').next().unwrap().to_string();
    cfg.username = Some(format!("{}\\{user}", r["AUTH_KRB5_REALM"]));
    let a = post(
        &transport(cfg.clone(), None),
        &format!("{}{API}", r["AUTH_NEGOTIATE_URL"]),
    )
    .unwrap();
    assert_eq!(a.status, 201);
    cfg.password = Some(Secret::new("wrong-password"));
    let e = post(
        &transport(cfg, None),
        &format!("{}{API}", r["AUTH_NEGOTIATE_URL"]),
    )
    .unwrap_err();
    assert_eq!(e.status, Status::AuthRejected, "{e}");
    assert!(!e.message.contains("wrong-password"));
}

/// No ticket: a clear AuthUnavailable (or AuthRejected) error, in a child process with an empty ccache.
#[test]
fn kerberos_without_ticket_fails_clearly() {
    let r = rig_or_skip!();
    if std::env::var("CM_AUTH_CHILD").is_ok() {
        return;
    }
    let empty = format!("FILE:{}/no-such-ccache-{}", r["AUTH_RIG_DIR"], nonce());
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "child_no_ticket",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("CM_AUTH_CHILD", "1")
        .env("KRB5CCNAME", &empty)
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "child failed:\n{text}");
    assert!(text.contains("CHILD-OK"), "child did not run:\n{text}");
}

#[test]
fn child_no_ticket() {
    if std::env::var("CM_AUTH_CHILD").is_err() {
        return;
    }
    let r = rig_or_skip!();
    let t = transport(current_user(true), None);
    let e = post(&t, &format!("{}{API}", r["AUTH_NEGOTIATE_URL"])).unwrap_err();
    assert!(
        matches!(e.status, Status::AuthUnavailable | Status::AuthRejected),
        "{e:?}"
    );
    assert!(
        e.message.contains("Kerberos") || e.message.contains("credentials"),
        "{e}"
    );
    println!("no-ticket error: {} ({:?})", e.message, e.status);
    println!("CHILD-OK");
}

/// NTLM with the right password against the pyspnego acceptor (one context per TCP connection, as IIS):
/// 201, and all legs on one connection.
#[test]
fn ntlm_pyspnego_one_connection() {
    let r = rig_or_skip!();
    let n = nonce();
    let t = transport(ntlm(r, &r["AUTH_NTLM_PASSWORD"]), None);
    let a = post(&t, &format!("{}{API}?t={n}", r["AUTH_NTLM_URL"])).unwrap();
    assert_eq!(a.status, 201);
    let lines = log_lines(&r["AUTH_NTLM_ACCEPTOR_LOG"], &n, 3);
    assert_eq!(lines.len(), 3, "{lines:?}");
    let conns: Vec<&str> = lines
        .iter()
        .map(|l| l.split_whitespace().next().unwrap())
        .collect();
    assert!(
        conns.iter().all(|c| *c == conns[0]),
        "legs on several connections: {lines:?}"
    );
    assert!(
        lines[2].contains(" 201 ") && lines[2].contains("user=TESTDOM\\bob"),
        "{lines:?}"
    );
}

/// NTLM through Apache + gss-ntlmssp (`/ntlm/`): 201 on one connection (Apache's %k keep-alive counter).
#[test]
fn ntlm_apache_gss_ntlmssp_one_connection() {
    let r = rig_or_skip!();
    let n = nonce();
    let t = transport(ntlm(r, &r["AUTH_NTLM_PASSWORD"]), None);
    let a = post(&t, &format!("{}{API}?t={n}", r["AUTH_NTLM_GSS_URL"])).unwrap();
    assert_eq!(a.status, 201);
    let lines = log_lines(&r["AUTH_HTTPD_ACCESS_LOG"], &n, 3);
    assert_eq!(lines.len(), 3, "{lines:?}");
    let port = |l: &String| l.split_whitespace().nth(1).unwrap().to_string();
    assert!(
        lines.iter().all(|l| port(l) == port(&lines[0])),
        "legs on several connections: {lines:?}"
    );
    assert!(
        lines[2].contains("k=2") && lines[2].contains(" 201 "),
        "{lines:?}"
    );
}

/// Wrong NTLM password: AuthRejected naming NTLM, password not in the message.
#[test]
fn ntlm_wrong_password_rejected() {
    let r = rig_or_skip!();
    for url in [&r["AUTH_NTLM_URL"], &r["AUTH_NTLM_GSS_URL"]] {
        let t = transport(ntlm(r, "not-the-password"), None);
        let e = post(&t, &format!("{url}{API}")).unwrap_err();
        assert_eq!(e.status, Status::AuthRejected, "{url}: {e}");
        assert!(e.message.contains("NTLM"), "{e}");
        assert!(!e.message.contains("not-the-password"));
    }
}

/// Explicit-credential Negotiate falls back to NTLM when the server offers only NTLM (pyspnego).
#[test]
fn negotiate_explicit_falls_back_to_ntlm() {
    let r = rig_or_skip!();
    let cfg = AuthConfig {
        method: AuthMethod::NegotiateExplicit,
        ..ntlm(r, &r["AUTH_NTLM_PASSWORD"])
    };
    let a = post(
        &transport(cfg, None),
        &format!("{}{API}", r["AUTH_NTLM_URL"]),
    )
    .unwrap();
    assert_eq!(a.status, 201);
}

/// Server offering both Negotiate and NTLM (`/both/`): the NTLM method picks NTLM and succeeds.
#[test]
fn ntlm_against_both_location() {
    let r = rig_or_skip!();
    let a = post(
        &transport(ntlm(r, &r["AUTH_NTLM_PASSWORD"]), None),
        &format!("{}{API}", r["AUTH_IISLIKE_URL"]),
    )
    .unwrap();
    assert_eq!(a.status, 201);
}

fn basic(r: &HashMap<String, String>) -> AuthConfig {
    AuthConfig {
        method: AuthMethod::Basic,
        username: Some(r["AUTH_BASIC_USER"].clone()),
        password: Some(Secret::new(&r["AUTH_BASIC_PASSWORD"])),
        ..Default::default()
    }
}

/// Basic over HTTPS with the rig's CA as the extra CA file.
#[test]
fn basic_over_https_with_extra_ca() {
    let r = rig_or_skip!();
    let t = transport(basic(r), Some(&r["AUTH_CA_FILE"]));
    let a = post(&t, &format!("{}{API}", r["AUTH_HTTPS_BASIC_URL"])).unwrap();
    assert_eq!(a.status, 201);
    let mut wrong = basic(r);
    wrong.password = Some(Secret::new("nope-nope"));
    let e = post(
        &transport(wrong, Some(&r["AUTH_CA_FILE"])),
        &format!("{}{API}", r["AUTH_HTTPS_BASIC_URL"]),
    )
    .unwrap_err();
    assert_eq!(e.status, Status::AuthRejected, "{e}");
    assert!(
        e.message.contains("Basic") && !e.message.contains("nope-nope"),
        "{e}"
    );
}

/// Without the test CA the TLS verification fails (and no credentials are sent).
#[test]
fn https_without_ca_fails_verification() {
    let r = rig_or_skip!();
    let e = post(
        &transport(basic(r), None),
        &format!("{}{API}", r["AUTH_HTTPS_BASIC_URL"]),
    )
    .unwrap_err();
    assert_eq!(e.status, Status::TlsFailed, "{e:?}");
    let m = e.message.to_ascii_lowercase();
    assert!(
        m.contains("tls") || m.contains("certificate") || m.contains("trust"),
        "{e}"
    );
}

/// Credentials are refused over http:// without the opt-in: Basic/Bearer up front, Negotiate/NTLM on the
/// challenge (no token is sent pre-emptively).
#[test]
fn credentials_refused_over_http_without_opt_in() {
    let r = rig_or_skip!();
    let n = nonce();
    let mut cfg = current_user(false);
    let e = post(
        &transport(cfg.clone(), None),
        &format!("{}{API}?t={n}", r["AUTH_NEGOTIATE_URL"]),
    )
    .unwrap_err();
    assert_eq!(e.status, Status::AuthInsecureTransport, "{e}");
    let lines = log_lines(&r["AUTH_HTTPD_ACCESS_LOG"], &n, 1);
    assert_eq!(
        lines.len(),
        1,
        "only the unauthenticated request went out: {lines:?}"
    );
    let mut n2 = ntlm(r, &r["AUTH_NTLM_PASSWORD"]);
    n2.allow_insecure_http = false;
    let e = post(
        &transport(n2, None),
        &format!("{}{API}", r["AUTH_NTLM_URL"]),
    )
    .unwrap_err();
    assert_eq!(e.status, Status::AuthInsecureTransport, "{e}");
    cfg.method = AuthMethod::Bearer;
    cfg.token = Some(Secret::new(&r["AUTH_BEARER_TOKEN"]));
    let e = post(&transport(cfg, None), &r["AUTH_BEARER_URL"]).unwrap_err();
    assert_eq!(e.status, Status::AuthInsecureTransport, "{e}");
}

/// The bearer token reaches the server intact.
#[test]
fn bearer_token_arrives_intact() {
    let r = rig_or_skip!();
    let cfg = AuthConfig {
        method: AuthMethod::Bearer,
        token: Some(Secret::new(&r["AUTH_BEARER_TOKEN"])),
        allow_insecure_http: true,
        ..Default::default()
    };
    let a = post(&transport(cfg, None), &r["AUTH_BEARER_URL"]).unwrap();
    assert_eq!(a.status, 200);
    let v: serde_json::Value = serde_json::from_slice(&a.body).unwrap();
    assert_eq!(v["token"].as_str(), Some(r["AUTH_BEARER_TOKEN"].as_str()));
    assert_eq!(v["matches"], serde_json::Value::Bool(true));
}

/// No method configured against a protected location: AuthRequired naming the offered schemes.
#[test]
fn no_method_gives_auth_required() {
    let r = rig_or_skip!();
    let cfg = AuthConfig {
        method: AuthMethod::None,
        ..Default::default()
    };
    let e = post(
        &transport(cfg, None),
        &format!("{}{API}", r["AUTH_IISLIKE_URL"]),
    )
    .unwrap_err();
    assert_eq!(e.status, Status::AuthRequired, "{e}");
    assert!(
        e.message.contains("Negotiate") && e.message.contains("NTLM"),
        "{e}"
    );
}

/// A session with the connection settings of `url` and `auth`.
fn session_for(url: &str, auth: AuthConfig) -> CmClient {
    CmClient::session(ConnectionConfig {
        server_url: url.trim_end_matches('/').to_string(),
        transport: TransportConfig {
            auth,
            ..Default::default()
        },
    })
    .unwrap()
}

/// The access-log lines of the calls that read request `id` (each session call below reads its own).
fn lines_for(r: &HashMap<String, String>, id: &str, expected: usize) -> Vec<String> {
    log_lines(&r["AUTH_HTTPD_ACCESS_LOG"], id, expected)
}

fn client_port(line: &str) -> String {
    line.split_whitespace().nth(1).unwrap().to_string()
}

/// Five reads on one session against IIS-like connection-bound authentication: the first runs the
/// handshake, the others ride on the authenticated connection with no Authorization header at all — no 401
/// round trip and no new Kerberos AP-REQ / NTLM exchange.
fn assert_authenticated_once(
    r: &HashMap<String, String>,
    url: &str,
    auth: AuthConfig,
    first_lines: usize,
) {
    let s = session_for(url, auth);
    let ids: Vec<String> = (0..5).map(|_| seed_request(r)).collect();
    for id in &ids {
        let req = s
            .get_request(id)
            .unwrap_or_else(|e| panic!("{:?}: {}", e.status, e.message))
            .unwrap();
        assert_eq!(req.uuid.to_string(), *id);
    }
    let first = lines_for(r, &ids[0], first_lines);
    assert_eq!(first.len(), first_lines, "{first:?}");
    assert!(first.last().unwrap().contains(" 200 "), "{first:?}");
    let port = client_port(&first[0]);
    for id in &ids[1..] {
        let lines = lines_for(r, id, 1);
        assert_eq!(lines.len(), 1, "one request, no 401: {lines:?}");
        assert!(
            lines[0].contains(" 200 ") && lines[0].ends_with("a=-"),
            "no Authorization: {lines:?}"
        );
        assert_eq!(client_port(&lines[0]), port, "same connection: {lines:?}");
    }
    assert_eq!(s.transport().client().connections_opened(), 1);
}

#[test]
fn session_ntlm_authenticates_once_per_connection() {
    let r = rig_or_skip!();
    assert_authenticated_once(
        r,
        &r["AUTH_NTLM_GSS_URL"],
        ntlm(r, &r["AUTH_NTLM_PASSWORD"]),
        3,
    );
}

#[test]
fn session_kerberos_authenticates_once_per_connection() {
    let r = rig_or_skip!();
    assert_authenticated_once(r, &r["AUTH_IISLIKE_URL"], current_user(true), 1);
}

/// A server that does not keep authentication per connection (mod_auth_gssapi without
/// GssapiConnectionBound): the session notices the 401 once and then authenticates every request again.
#[test]
fn session_learns_when_the_server_does_not_keep_authentication() {
    let r = rig_or_skip!();
    let s = session_for(&r["AUTH_NEGOTIATE_URL"], current_user(true));
    let ids: Vec<String> = (0..3).map(|_| seed_request(r)).collect();
    for id in &ids {
        assert!(s.get_request(id).unwrap().is_some());
    }
    assert_eq!(lines_for(r, &ids[0], 1).len(), 1);
    let second = lines_for(r, &ids[1], 2);
    assert_eq!(
        second.len(),
        2,
        "tried without authentication once: {second:?}"
    );
    assert!(
        second[0].contains(" 401 ") && second[1].contains(" 200 "),
        "{second:?}"
    );
    let third = lines_for(r, &ids[2], 1);
    assert_eq!(third.len(), 1, "{third:?}");
    assert!(
        third[0].ends_with("a=Negotiate"),
        "pre-emptive token again: {third:?}"
    );
}

/// A POST on a session rides on the authenticated connection too (with Expect: 100-continue).
#[test]
fn session_assign_over_ntlm() {
    let r = rig_or_skip!();
    let s = session_for(&r["AUTH_NTLM_GSS_URL"], ntlm(r, &r["AUTH_NTLM_PASSWORD"]));
    for _ in 0..3 {
        let a = Assignment::new(&seed_request(r), &uuid::Uuid::new_v4().to_string(), None).unwrap();
        let outcome = s.assign_smartcard(&a).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(outcome.http_status, 201);
        assert!(outcome.warning.is_none());
    }
    assert_eq!(s.transport().client().connections_opened(), 1);
}

/// Kerberos failures name their cause first: a service principal the KDC does not have is not "run kinit".
#[test]
fn missing_spn_is_named_first() {
    let r = rig_or_skip!();
    let mut auth = current_user(true);
    let spn = format!("HTTP/nosuch.cm.test@{}", r["AUTH_KRB5_REALM"]);
    auth.spn = Some(spn.clone());
    let e = post(
        &transport(auth, None),
        &format!("{}{API}", r["AUTH_NEGOTIATE_URL"]),
    )
    .unwrap_err();
    assert_eq!(e.status, Status::AuthUnavailable, "{e}");
    assert!(
        e.message
            .starts_with(&format!("the KDC has no service principal {spn}"))
            && e.message.contains(&format!("setspn -S {spn}")),
        "{e}"
    );
    assert!(!e.message.contains("kinit"), "{e}");
}

#[test]
fn foreign_realm_is_named_first() {
    let r = rig_or_skip!();
    let mut auth = current_user(true);
    auth.spn = Some("HTTP/localhost@OTHER.CM.TEST".into());
    let e = post(
        &transport(auth, None),
        &format!("{}{API}", r["AUTH_NEGOTIATE_URL"]),
    )
    .unwrap_err();
    assert_eq!(e.status, Status::AuthUnavailable, "{e}");
    assert!(
        e.message.starts_with(&format!(
            "no cross-realm trust from {} to OTHER.CM.TEST",
            r["AUTH_KRB5_REALM"]
        )),
        "{e}"
    );
    assert!(!e.message.contains("kinit"), "{e}");
}

/// What the forwarder does to the server's final Negotiate token on a 2xx answer.
#[derive(Clone, Copy, PartialEq)]
enum Tamper {
    Corrupt,
    Strip,
}

/// A TCP forwarder in front of Apache that alters the `WWW-Authenticate: Negotiate <token>` of 2xx answers:
/// the server processed the request, but its proof of identity is missing or wrong.
fn tampering_forwarder(upstream: std::net::SocketAddr, tamper: Tamper) -> u16 {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for client in listener.incoming().flatten() {
            let Ok(server) = std::net::TcpStream::connect(upstream) else {
                continue;
            };
            let (mut c_in, mut s_out) = (client.try_clone().unwrap(), server.try_clone().unwrap());
            std::thread::spawn(move || {
                let _ = std::io::copy(&mut c_in, &mut s_out);
                let _ = s_out.shutdown(std::net::Shutdown::Write);
            });
            let (mut s_in, mut c_out) = (server, client);
            std::thread::spawn(move || {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 16384];
                loop {
                    let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
                        match s_in.read(&mut chunk) {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                        continue;
                    };
                    let head = String::from_utf8_lossy(&buf[..end]).into_owned();
                    let ok = head.split(' ').nth(1).is_some_and(|s| s.starts_with('2'));
                    let length: usize = head
                        .lines()
                        .find_map(|l| {
                            l.to_ascii_lowercase()
                                .strip_prefix("content-length:")
                                .map(|v| v.trim().parse().unwrap())
                        })
                        .unwrap_or(0);
                    while buf.len() < end + 4 + length {
                        match s_in.read(&mut chunk) {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                    }
                    let mut out_head = String::new();
                    for line in head.split("\r\n") {
                        if ok
                            && line
                                .to_ascii_lowercase()
                                .starts_with("www-authenticate: negotiate ")
                        {
                            if tamper == Tamper::Strip {
                                continue;
                            }
                            let (name, token) = line.split_at("WWW-Authenticate: Negotiate ".len());
                            let mut t: Vec<char> = token.chars().collect();
                            let i = t.len() / 2;
                            t[i] = if t[i] == 'A' { 'B' } else { 'A' };
                            out_head.push_str(name);
                            out_head.extend(t);
                        } else {
                            out_head.push_str(line);
                        }
                        out_head.push_str("\r\n");
                    }
                    out_head.push_str("\r\n");
                    let body = buf[end + 4..end + 4 + length].to_vec();
                    if c_out
                        .write_all(out_head.as_bytes())
                        .and_then(|_| c_out.write_all(&body))
                        .is_err()
                    {
                        return;
                    }
                    buf.drain(..end + 4 + length);
                }
            });
        }
    });
    port
}

fn apache_addr(r: &HashMap<String, String>) -> std::net::SocketAddr {
    let url = &r["AUTH_NEGOTIATE_URL"];
    let port: u16 = url
        .split(':')
        .nth(2)
        .unwrap()
        .split('/')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    std::net::SocketAddr::from(([127, 0, 0, 1], port))
}

/// The server bound the card (201) but its final Kerberos token does not verify: the outcome is known —
/// processed — so the call reports AuthServerUnverified with the result, never a failure inviting a resend.
#[test]
fn mutual_auth_failure_after_201_reports_the_processed_result() {
    let r = rig_or_skip!();
    let port = tampering_forwarder(apache_addr(r), Tamper::Corrupt);
    let s = session_for(
        &format!("http://localhost:{port}/negotiate/"),
        current_user(true),
    );
    let card = uuid::Uuid::new_v4().to_string();
    let a = Assignment::new(&seed_request(r), &card, None).unwrap();
    let outcome = s
        .assign_smartcard(&a)
        .expect("the binding happened: a result, not an error");
    assert_eq!(outcome.http_status, 201);
    let warning = outcome
        .warning
        .expect("the server's identity is not proven");
    assert_eq!(warning.status, Status::AuthServerUnverified, "{warning}");
    assert!(
        warning.message.contains("WAS processed") && warning.message.contains("Do NOT send"),
        "{warning}"
    );
    // The card is bound, as the result says.
    let genuine = session_for(&r["AUTH_NEGOTIATE_URL"], current_user(true));
    let rec = genuine.reconcile(&a).unwrap();
    assert_eq!(rec.state, cm_smartcard::cm::BindingState::BoundToThisCard);
}

/// No final token at all after a pre-emptive Kerberos token: accepted by default (the server never asked
/// for authentication, so it owes no proof), refused as unproven with CM_AUTH_FLAG_REQUIRE_MUTUAL_AUTH.
#[test]
fn missing_final_token_is_accepted_unless_mutual_auth_is_required() {
    let r = rig_or_skip!();
    let port = tampering_forwarder(apache_addr(r), Tamper::Strip);
    let url = format!("http://localhost:{port}/negotiate/");
    let lax = session_for(&url, current_user(true));
    let a = Assignment::new(&seed_request(r), &uuid::Uuid::new_v4().to_string(), None).unwrap();
    let outcome = lax.assign_smartcard(&a).unwrap();
    assert!(outcome.warning.is_none(), "{:?}", outcome.warning);
    let mut strict_auth = current_user(true);
    strict_auth.require_mutual_auth = true;
    let strict = session_for(&url, strict_auth);
    let a = Assignment::new(&seed_request(r), &uuid::Uuid::new_v4().to_string(), None).unwrap();
    let outcome = strict.assign_smartcard(&a).unwrap();
    assert_eq!(outcome.http_status, 201);
    assert_eq!(
        outcome.warning.map(|w| w.status),
        Some(Status::AuthServerUnverified)
    );
    // Through the genuine server the strict session gets its proof.
    let mut strict_auth = current_user(true);
    strict_auth.require_mutual_auth = true;
    let genuine = session_for(&r["AUTH_NEGOTIATE_URL"], strict_auth);
    let a = Assignment::new(&seed_request(r), &uuid::Uuid::new_v4().to_string(), None).unwrap();
    assert!(genuine.assign_smartcard(&a).unwrap().warning.is_none());
}

// ---- proxies (squid, started by the rig when installed) -------------------------------------------------

/// The rig's proxies, or a skip (a failure under CM_REQUIRE_RIGS) when squid is not installed.
fn proxies(r: &HashMap<String, String>) -> Option<&HashMap<String, String>> {
    if r.contains_key("AUTH_PROXY_OPEN_URL") {
        return Some(r);
    }
    common::missing(
        "proxy tests",
        "squid proxy in the auth rig",
        "apt-get install squid",
    )
}

macro_rules! proxies_or_skip {
    ($r:expr) => {
        match proxies($r) {
            Some(r) => r,
            None => return,
        }
    };
}

use cm_smartcard::http::proxy::ProxyConfig;

/// A client for `url` (a host only the proxies resolve) through `proxy`.
fn via_proxy(
    r: &HashMap<String, String>,
    url: &str,
    auth: AuthConfig,
    proxy: ProxyConfig,
    proxy_user: Option<(&str, &str)>,
) -> CmClient {
    CmClient::session(ConnectionConfig {
        server_url: url.to_string(),
        transport: TransportConfig {
            auth,
            extra_ca_file: Some(r["AUTH_CA_FILE"].clone().into()),
            proxy,
            proxy_username: proxy_user.map(|(u, _)| u.to_string()),
            proxy_password: proxy_user.map(|(_, p)| Secret::new(p)),
            connect_timeout: std::time::Duration::from_secs(10),
            ..Default::default()
        },
    })
    .unwrap()
}

fn explicit(url: &str) -> ProxyConfig {
    ProxyConfig::Explicit {
        url: url.to_string(),
        bypass: String::new(),
    }
}

fn tls_url(r: &HashMap<String, String>, location: &str) -> String {
    format!(
        "https://{}:{}/{location}/",
        r["AUTH_TLS_HOST"], r["AUTH_HTTPS_PORT"]
    )
}

fn proxy_log(r: &HashMap<String, String>, marker: &str, expected: usize) -> Vec<String> {
    log_lines(&r["AUTH_PROXY_ACCESS_LOG"], marker, expected)
}

/// Basic to the server over TLS, through a CONNECT tunnel of an open proxy; the session keeps the tunnel.
#[test]
fn https_through_a_proxy_tunnel() {
    let r = rig_or_skip!();
    let r = proxies_or_skip!(r);
    let s = via_proxy(
        r,
        &tls_url(r, "basic"),
        basic(r),
        explicit(&r["AUTH_PROXY_OPEN_URL"]),
        None,
    );
    for _ in 0..3 {
        let a = Assignment::new(&seed_request(r), &uuid::Uuid::new_v4().to_string(), None).unwrap();
        assert_eq!(
            s.assign_smartcard(&a)
                .unwrap_or_else(|e| panic!("{e}"))
                .http_status,
            201
        );
    }
    assert_eq!(
        s.transport().client().connections_opened(),
        1,
        "one tunnel for three calls"
    );
}

/// Negotiate (Kerberos) to the server inside the tunnel: authenticated once, then the connection carries it.
#[test]
fn negotiate_through_a_proxy_tunnel() {
    let r = rig_or_skip!();
    let r = proxies_or_skip!(r);
    let s = via_proxy(
        r,
        &tls_url(r, "negotiate"),
        current_user(false),
        explicit(&r["AUTH_PROXY_OPEN_URL"]),
        None,
    );
    let ids: Vec<String> = (0..3).map(|_| seed_request(r)).collect();
    for id in &ids {
        assert!(
            s.get_request(id)
                .unwrap_or_else(|e| panic!("{e}"))
                .is_some()
        );
    }
    assert_eq!(s.transport().client().connections_opened(), 1);
    let later = lines_for(r, &ids[2], 1);
    assert!(
        later[0].ends_with("a=-"),
        "rode on the authenticated tunnel: {later:?}"
    );
}

/// A proxy that demands Negotiate: answered with the current user's Kerberos ticket.
#[test]
fn proxy_demanding_negotiate() {
    let r = rig_or_skip!();
    let r = proxies_or_skip!(r);
    let s = via_proxy(
        r,
        &tls_url(r, "basic"),
        basic(r),
        explicit(&r["AUTH_PROXY_NEGOTIATE_URL"]),
        None,
    );
    let a = Assignment::new(&seed_request(r), &uuid::Uuid::new_v4().to_string(), None).unwrap();
    assert_eq!(
        s.assign_smartcard(&a)
            .unwrap_or_else(|e| panic!("{e}"))
            .http_status,
        201
    );
    // squid logs a CONNECT when the tunnel closes: close the session's pooled tunnel first.
    drop(s);
    let lines = proxy_log(r, &format!("alice@{}", r["AUTH_KRB5_REALM"]), 1);
    assert!(!lines.is_empty(), "the proxy saw alice authenticated");
}

/// A proxy that demands Basic: refused without credentials and without the opt-in for clear-text credentials
/// to an http proxy; accepted with both. Every refusal is "nothing sent".
#[test]
fn proxy_demanding_basic() {
    let r = rig_or_skip!();
    let r = proxies_or_skip!(r);
    let url = tls_url(r, "basic");
    let proxy = explicit(&r["AUTH_PROXY_BASIC_URL"]);
    let a = || Assignment::new(&seed_request(r), &uuid::Uuid::new_v4().to_string(), None).unwrap();
    let e = via_proxy(r, &url, basic(r), proxy.clone(), None)
        .assign_smartcard(&a())
        .unwrap_err();
    assert_eq!(e.status, Status::ProxyAuthRequired, "{e}");
    assert!(
        e.message.contains("proxy_username") && e.message.contains("nothing was sent"),
        "{e}"
    );
    let user = (
        r["AUTH_PROXY_BASIC_USER"].as_str(),
        r["AUTH_PROXY_BASIC_PASSWORD"].as_str(),
    );
    let e = via_proxy(r, &url, basic(r), proxy.clone(), Some(user))
        .assign_smartcard(&a())
        .unwrap_err();
    assert_eq!(e.status, Status::ProxyAuthRequired, "{e}");
    assert!(e.message.contains("clear text"), "{e}");
    assert!(!e.message.contains(user.1), "{e}");
    let mut opted_in = basic(r);
    opted_in.allow_insecure_http = true;
    let outcome = via_proxy(r, &url, opted_in, proxy, Some(user))
        .assign_smartcard(&a())
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(outcome.http_status, 201);
    // A wrong proxy password is refused too, and says so.
    let mut opted_in = basic(r);
    opted_in.allow_insecure_http = true;
    let e = via_proxy(
        r,
        &url,
        opted_in,
        explicit(&r["AUTH_PROXY_BASIC_URL"]),
        Some(("dave", "wrong")),
    )
    .assign_smartcard(&a())
    .unwrap_err();
    assert_eq!(e.status, Status::ProxyAuthRequired, "{e}");
}

/// A refused tunnel and an unreachable proxy are "nothing sent" (ProxyFailed), never "outcome unknown".
#[test]
fn refused_tunnel_and_dead_proxy_are_nothing_sent() {
    let r = rig_or_skip!();
    let r = proxies_or_skip!(r);
    let a = Assignment::new(&seed_request(r), &uuid::Uuid::new_v4().to_string(), None).unwrap();
    let refused = format!("https://{}:7/", r["AUTH_TLS_HOST"]); // the proxy denies CONNECT to port 7
    let e = via_proxy(
        r,
        &refused,
        basic(r),
        explicit(&r["AUTH_PROXY_OPEN_URL"]),
        None,
    )
    .assign_smartcard(&a)
    .unwrap_err();
    assert_eq!(e.status, Status::ProxyFailed, "{e}");
    assert!(
        e.message.contains("refused the tunnel") && e.message.contains("nothing was sent"),
        "{e}"
    );
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let e = via_proxy(
        r,
        &tls_url(r, "basic"),
        basic(r),
        explicit(&format!("http://127.0.0.1:{closed}")),
        None,
    )
    .assign_smartcard(&a)
    .unwrap_err();
    assert_eq!(e.status, Status::ProxyFailed, "{e}");
    assert!(e.message.contains("nothing was sent"), "{e}");
}

/// The bypass list and loopback: never through the proxy (the proxy would be the only way to resolve the
/// rig host, so a bypassed call to it fails with DnsFailed — proof it did not use the proxy).
#[test]
fn bypass_list_and_loopback_go_direct() {
    let r = rig_or_skip!();
    let r = proxies_or_skip!(r);
    let bypassing = ProxyConfig::Explicit {
        url: r["AUTH_PROXY_OPEN_URL"].clone(),
        bypass: format!(
            "localhost, .{}",
            r["AUTH_TLS_HOST"].split_once('.').unwrap().1
        ),
    };
    let e = via_proxy(r, &tls_url(r, "basic"), basic(r), bypassing, None)
        .get_request(&seed_request(r))
        .unwrap_err();
    assert_eq!(e.status, Status::DnsFailed, "{e}");
    // Loopback with an explicit proxy and no bypass: direct (the server answers; the proxy log stays quiet).
    let marker = seed_request(r);
    let s = via_proxy(
        r,
        &r["AUTH_HTTPS_BASIC_URL"],
        basic(r),
        explicit(&r["AUTH_PROXY_OPEN_URL"]),
        None,
    );
    assert!(s.get_request(&marker).unwrap().is_some());
    assert!(proxy_log(r, &format!("localhost:{}", r["AUTH_HTTPS_PORT"]), 0).is_empty());
}

/// The system setting on Unix: the environment (https_proxy and no_proxy), read in a child process so the
/// variables never touch this multi-threaded test process.
#[test]
fn system_proxy_from_the_environment() {
    let r = rig_or_skip!();
    let r = proxies_or_skip!(r);
    if std::env::var("CM_PROXY_CHILD").is_ok() {
        return;
    }
    let run = |no_proxy: &str| {
        Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "child_system_proxy", "--nocapture"])
            .env("CM_PROXY_CHILD", "1")
            .env("https_proxy", &r["AUTH_PROXY_OPEN_URL"])
            .env("no_proxy", no_proxy)
            .output()
            .unwrap()
    };
    let via = run("");
    let text = String::from_utf8_lossy(&via.stdout);
    assert!(
        text.contains("SYSTEM-PROXY-OK 201"),
        "{text}{}",
        String::from_utf8_lossy(&via.stderr)
    );
    let direct = run(&r["AUTH_TLS_HOST"]);
    let text = String::from_utf8_lossy(&direct.stdout);
    assert!(
        text.contains("SYSTEM-PROXY-ERR DnsFailed"),
        "{text}{}",
        String::from_utf8_lossy(&direct.stderr)
    );
}

#[test]
fn child_system_proxy() {
    if std::env::var("CM_PROXY_CHILD").is_err() {
        return;
    }
    let r = rig().unwrap();
    let s = via_proxy(r, &tls_url(r, "basic"), basic(r), ProxyConfig::System, None);
    let a = Assignment::new(&seed_request(r), &uuid::Uuid::new_v4().to_string(), None).unwrap();
    match s.assign_smartcard(&a) {
        Ok(o) => println!("SYSTEM-PROXY-OK {}", o.http_status),
        Err(e) => println!("SYSTEM-PROXY-ERR {:?} {}", e.status, e.message),
    }
}
