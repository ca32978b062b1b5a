//! `cm-smartcard doctor`: each failure it explains, reproduced — on the emulator (API disabled, 401 without
//! Negotiate, skewed clock, 403 on reads, redirect), with `openssl s_server` (plain http on an https URL,
//! TLS 1.1 only, untrusted and wrong-host certificates) and on the auth rig (Kerberos with mutual
//! authentication, a missing SPN, NTLM fallback, Basic over https). Each test asserts the verdict line and
//! the hint; none may see a POST.

mod common;

use cm_emulator::{Config, Emulator, Fault, FaultKind};
use common::shared::tls_server::{cert, have_openssl, s_server};
use common::{Run, cmd, rig, run, run_cmd};
use std::net::TcpListener;
use std::process::Command;

fn emulator() -> Emulator {
    Emulator::start(Config {
        quiet: true,
        ..Config::default()
    })
    .unwrap()
}

/// The line of check `name`, which must carry `verdict`.
fn line<'a>(r: &'a Run, verdict: &str, name: &str) -> &'a str {
    let prefix = format!("{verdict:<8} {name:<14} ");
    r.stdout
        .lines()
        .find(|l| l.starts_with(&prefix))
        .unwrap_or_else(|| panic!("no '{prefix}' line in:\n{}\n{}", r.stdout, r.stderr))
}

/// The hint printed under check `name`.
fn hint<'a>(r: &'a Run, name: &str) -> &'a str {
    let lines: Vec<&str> = r.stdout.lines().collect();
    let i = lines
        .iter()
        .position(|l| l.get(9..9 + name.len() + 1) == Some(&format!("{name} ")))
        .unwrap_or_else(|| panic!("no check {name}:\n{}", r.stdout));
    lines
        .get(i + 1)
        .filter(|l| l.trim_start().starts_with('→'))
        .unwrap_or_else(|| panic!("no hint under {name}:\n{}", r.stdout))
}

fn doctor(url: &str, extra: &[&str]) -> Run {
    run(&[&["doctor", "--server", url][..], extra].concat())
}

#[test]
fn healthy_emulator_reads_ok_and_json_lists_every_check() {
    let emu = emulator();
    let r = doctor(&emu.base_url(), &[]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(line(&r, "ok", "api").contains("answers under /CertificateManagement/api/v1.0"));
    assert!(line(&r, "ok", "permissions").contains("HTTP 204"));
    assert!(line(&r, "ok", "clock").contains("+0 s") || line(&r, "ok", "clock").contains("-1 s"));
    assert!(line(&r, "warning", "tls").contains("plain http://"));
    assert!(
        r.stdout.contains("result: warning (0 failed, 1 warnings)"),
        "{}",
        r.stdout
    );

    let r = doctor(&emu.base_url(), &["--json"]);
    assert_eq!(r.code, 0, "{r:?}");
    let j = r.json();
    assert_eq!(j["result"], "warning");
    let names: Vec<&str> = j["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["check"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "proxy",
            "dns",
            "tcp",
            "tls",
            "http",
            "clock",
            "auth schemes",
            "kerberos",
            "api",
            "permissions"
        ]
    );
    assert_eq!(emu.count("POST", ""), 0);
    assert_eq!(emu.count("PUT", ""), 0);
}

#[test]
fn api_disabled_names_the_web_config_setting() {
    let emu = Emulator::start(Config {
        quiet: true,
        api_disabled: true,
        ..Config::default()
    })
    .unwrap();
    let r = doctor(&emu.base_url(), &[]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(line(&r, "failed", "api").contains("the CM REST API is disabled"));
    let h = hint(&r, "api");
    assert!(
        h.contains("Clm.WebApi.Enabled") && h.contains("iisreset") && h.contains("web.config"),
        "{h}"
    );
    assert_eq!(emu.count("POST", ""), 0);
}

#[test]
fn a_401_without_negotiate_is_explained() {
    let emu = emulator();
    emu.set_challenges(&["Basic realm=\"CM\""]);
    let r = doctor(&emu.base_url(), &[]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(line(&r, "ok", "http").contains("answered HTTP 401"));
    assert!(
        line(&r, "warning", "auth schemes").contains("offers: Basic (no Windows authentication)")
    );
    assert!(hint(&r, "auth schemes").contains("Windows Authentication (Negotiate)"));
    assert!(line(&r, "failed", "authentication").contains("CM_STATUS_AUTH_REQUIRED"));
    assert!(hint(&r, "authentication").contains("--auth"));

    // The IIS-like challenge (Negotiate, NTLM) with --auth none.
    emu.set_challenges(&[]);
    emu.set_fault(Fault::new(FaultKind::Challenge401).method("GET"));
    let r = doctor(&emu.base_url(), &["--auth", "none"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(line(&r, "ok", "auth schemes").contains("Negotiate, NTLM"));
    assert!(line(&r, "failed", "authentication").contains("requires authentication"));
    assert!(hint(&r, "authentication").contains("--auth negotiate"));

    // Basic offered and answered: over http only with --insecure-http.
    emu.clear_faults();
    emu.set_challenges(&["Basic realm=\"CM\""]);
    let mut c = cmd(&[
        "doctor",
        "--server",
        &emu.base_url(),
        "--auth",
        "basic",
        "--user",
        "carol",
    ]);
    c.env("CM_PASSWORD", "pw-doctor-1");
    let r = run_cmd(c, None);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(line(&r, "failed", "authentication").contains("CM_STATUS_AUTH_INSECURE_TRANSPORT"));
    let mut c = cmd(&[
        "doctor",
        "--server",
        &emu.base_url(),
        "--auth",
        "basic",
        "--user",
        "carol",
        "--insecure-http",
        "-v",
    ]);
    c.env("CM_PASSWORD", "pw-doctor-1");
    let r = run_cmd(c, None);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(line(&r, "ok", "authentication").contains("as carol"));
    assert!(!r.all().contains("pw-doctor-1"));
    assert_eq!(emu.count("POST", ""), 0);
}

#[test]
fn a_skewed_server_clock_warns_then_fails() {
    let emu = emulator();
    emu.set_date_skew(-180);
    let r = doctor(&emu.base_url(), &[]);
    assert_eq!(r.code, 0, "{r:?}");
    let l = line(&r, "warning", "clock");
    assert!(l.contains("s from this machine"), "{l}");
    assert!(hint(&r, "clock").contains("5 minutes"));
    emu.set_date_skew(600);
    let r = doctor(&emu.base_url(), &[]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(line(&r, "failed", "clock").contains("(+"));
    assert!(hint(&r, "clock").contains("w32tm /resync"));
}

#[test]
fn forbidden_reads_name_the_missing_permission() {
    let emu = emulator();
    emu.set_fault(
        Fault::new(FaultKind::Status {
            code: 403,
            body: "{\"Message\":\"Access denied\"}".into(),
            content_type: "application/json; charset=utf-8".into(),
        })
        .method("GET"),
    );
    let r = doctor(&emu.base_url(), &[]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(line(&r, "failed", "permissions").contains("403 Forbidden"));
    let h = hint(&r, "permissions");
    assert!(
        h.contains("profile templates") && h.contains("ClmRequestEnroll"),
        "{h}"
    );
    assert_eq!(emu.count("POST", ""), 0);
}

#[test]
fn a_redirect_is_not_followed_and_named() {
    let emu = emulator();
    emu.set_fault(Fault::new(FaultKind::Redirect {
        location: "https://cm.contoso.com/CertificateManagement/".into(),
    }));
    let r = doctor(&emu.base_url(), &[]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(line(&r, "failed", "api").contains("redirect to https://cm.contoso.com"));
    assert!(hint(&r, "api").contains("never followed"));
}

#[test]
fn nothing_listening_fails_at_tcp() {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let r = doctor(&format!("http://127.0.0.1:{port}"), &[]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(line(&r, "failed", "tcp").contains("could not connect"));
    assert!(hint(&r, "tcp").contains("IIS site bindings"));
    let r = doctor("https://nosuchhost.invalid", &[]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(line(&r, "failed", "dns").contains("nosuchhost.invalid"));
}

// ---- TLS ---------------------------------------------------------------------------------------

#[test]
fn https_url_on_a_plain_http_port() {
    let emu = emulator();
    let r = doctor(&format!("https://localhost:{}", emu.addr().port()), &[]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(line(&r, "failed", "tls").contains("is it a plain http:// port?"));
    assert!(hint(&r, "tls").contains("plain HTTP"));
    assert!(emu.request_log().is_empty());
}

#[test]
fn tls_verdicts_with_openssl_servers() {
    if !have_openssl() {
        eprintln!("SKIPPED: no openssl");
        return;
    }
    let (crt, key, ca) = cert("localhost");
    let ca = ca.to_str().unwrap().to_string();

    // Trusted through --ca-file: TLS ok and the certificate shown.
    let srv = s_server(&crt, &key, &[]);
    let url = format!("https://localhost:{}", srv.port);
    let r = doctor(&url, &["--ca-file", &ca]);
    let l = line(&r, "ok", "tls");
    assert!(l.contains("TLS 1.3") && l.contains("--ca-file"), "{l}");
    // The test certificates live 2 days: shown, with the expiry warning.
    let l = line(&r, "warning", "certificate");
    assert!(
        l.contains("subject CN=localhost, O=Contoso Test")
            && l.contains("issuer CN=cm-smartcard test CA"),
        "{l}"
    );
    assert!(hint(&r, "certificate").contains("expires soon"));

    // The same server without the CA: untrusted, and the refused certificate is shown.
    let r = doctor(&url, &[]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(line(&r, "failed", "tls").contains("not trusted"));
    assert!(hint(&r, "tls").contains("--ca-file"));
    let l = line(&r, "warning", "certificate");
    assert!(
        l.contains("issuer CN=cm-smartcard test CA") && l.contains("DNS names localhost"),
        "{l}"
    );

    // A certificate for another host.
    let (other, other_key, _) = cert("other.cm.test");
    let wrong = s_server(&other, &other_key, &[]);
    let r = doctor(
        &format!("https://localhost:{}", wrong.port),
        &["--ca-file", &ca],
    );
    assert_eq!(r.code, 1, "{r:?}");
    assert!(line(&r, "failed", "tls").contains("not valid for the host name"));
    assert!(line(&r, "warning", "certificate").contains("DNS names other.cm.test"));
    assert!(hint(&r, "certificate").contains("'localhost'"));

    // TLS 1.1 only.
    let old = s_server(&crt, &key, &["-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0"]);
    let r = doctor(
        &format!("https://localhost:{}", old.port),
        &["--ca-file", &ca],
    );
    assert_eq!(r.code, 1, "{r:?}");
    assert!(line(&r, "failed", "tls").contains("older than 1.2"));
    assert!(hint(&r, "tls").contains("TLS 1.2"));
}

// ---- auth rig ----------------------------------------------------------------------------------

macro_rules! auth_rig {
    ($test:expr) => {
        match rig("AUTH_RIG_ENV", "see tests/rigs/auth/run-tests.sh", $test) {
            Some(r) => r,
            None => return,
        }
    };
}

fn rig_cmd(
    r: &std::collections::HashMap<String, String>,
    url_key: &str,
    extra: &[&str],
) -> Command {
    let mut c = cmd(&[&["doctor", "--server", &r[url_key]][..], extra].concat());
    c.env("KRB5_CONFIG", &r["KRB5_CONFIG"])
        .env("KRB5CCNAME", &r["KRB5CCNAME"]);
    c
}

#[test]
fn rig_kerberos_with_mutual_authentication() {
    let r = auth_rig!("rig_kerberos_with_mutual_authentication");
    let out = run_cmd(
        rig_cmd(&r, "AUTH_NEGOTIATE_URL", &["--insecure-http"]),
        None,
    );
    assert_eq!(out.code, 0, "{out:?}");
    assert!(line(&out, "ok", "auth schemes").contains("Negotiate"));
    assert!(line(&out, "ok", "kerberos").contains("service ticket obtained for HTTP/localhost"));
    assert!(line(&out, "ok", "authentication").contains("Negotiate (Kerberos)"));
    assert!(line(&out, "ok", "mutual auth").contains("verified"));
    assert!(line(&out, "ok", "permissions").contains("allowed"));
}

#[test]
fn rig_missing_spn_is_named() {
    let r = auth_rig!("rig_missing_spn_is_named");
    let spn = format!("HTTP/nosuch.cm.test@{}", r["AUTH_KRB5_REALM"]);
    let out = run_cmd(
        rig_cmd(
            &r,
            "AUTH_NEGOTIATE_URL",
            &["--insecure-http", "--spn", &spn],
        ),
        None,
    );
    assert_eq!(out.code, 1, "{out:?}");
    let l = line(&out, "failed", "kerberos");
    assert!(
        l.contains("not found in Kerberos database") && l.contains("CM_STATUS_AUTH_UNAVAILABLE"),
        "{l}"
    );
    assert!(hint(&out, "kerberos").contains(&format!("setspn -S {spn}")));
}

#[test]
fn rig_ntlm_fallback_and_ntlm_only() {
    let r = auth_rig!("rig_ntlm_fallback_and_ntlm_only");
    let user = format!("{}\\{}", r["AUTH_NTLM_DOMAIN"], r["AUTH_NTLM_USER"]);
    // Negotiate with a user the KDC does not know: SPNEGO falls back to NTLM.
    let mut c = rig_cmd(
        &r,
        "AUTH_IISLIKE_URL",
        &["--insecure-http", "--user", &user, "-v"],
    );
    c.env("CM_PASSWORD", &r["AUTH_NTLM_PASSWORD"]);
    let out = run_cmd(c, None);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(line(&out, "warning", "kerberos").contains("Negotiate fell back to NTLM"));
    assert!(hint(&out, "kerberos").contains("setspn -S HTTP/localhost"));
    assert!(line(&out, "ok", "authentication").contains("NTLM inside"));
    assert!(line(&out, "warning", "mutual auth").contains("not verified"));
    assert!(!out.all().contains(r["AUTH_NTLM_PASSWORD"].as_str()));

    // Explicit NTLM on a location that takes NTLM only.
    let mut c = rig_cmd(
        &r,
        "AUTH_NTLM_GSS_URL",
        &["--insecure-http", "--auth", "ntlm", "--user", &user],
    );
    c.env("CM_PASSWORD", &r["AUTH_NTLM_PASSWORD"]);
    let out = run_cmd(c, None);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(line(&out, "ok", "kerberos").contains("not used: --auth ntlm"));
    assert!(line(&out, "ok", "authentication").contains("accepted with NTLM"));
    assert!(hint(&out, "mutual auth").contains("use https and Kerberos"));

    // A wrong password: refused, with the credentials hint.
    let mut c = rig_cmd(
        &r,
        "AUTH_NTLM_GSS_URL",
        &["--insecure-http", "--auth", "ntlm", "--user", &user],
    );
    c.env("CM_PASSWORD", "wrong-password-77");
    let out = run_cmd(c, None);
    assert_eq!(out.code, 1, "{out:?}");
    assert!(line(&out, "failed", "authentication").contains("CM_STATUS_AUTH_REJECTED"));
    assert!(hint(&out, "authentication").contains("password"));
}

#[test]
fn rig_basic_over_https_with_the_rig_ca() {
    let r = auth_rig!("rig_basic_over_https_with_the_rig_ca");
    let mut c = rig_cmd(
        &r,
        "AUTH_HTTPS_BASIC_URL",
        &[
            "--ca-file",
            &r["AUTH_CA_FILE"],
            "--auth",
            "basic",
            "--user",
            &r["AUTH_BASIC_USER"],
            "--verbose",
        ],
    );
    c.env("CM_PASSWORD", &r["AUTH_BASIC_PASSWORD"]);
    let out = run_cmd(c, None);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(line(&out, "ok", "tls").contains("trusted by the OS store and --ca-file"));
    let cert = out
        .stdout
        .lines()
        .find(|l| l.get(9..21) == Some("certificate "))
        .unwrap();
    assert!(
        cert.contains("subject CN=") && cert.contains("issuer CN="),
        "{cert}"
    );
    assert!(line(&out, "ok", "authentication").contains(&format!("as {}", r["AUTH_BASIC_USER"])));
    assert!(
        out.stderr.contains("> Authorization: Basic [redacted]"),
        "{}",
        out.stderr
    );
    assert!(!out.all().contains(r["AUTH_BASIC_PASSWORD"].as_str()));
}

#[test]
fn rig_doctor_reports_the_proxy_and_tunnels_through_it() {
    let r = auth_rig!("rig_doctor_reports_the_proxy_and_tunnels_through_it");
    // cm.rig.test resolves only for the proxies (the rig's hosts file): the path a proxied enterprise has.
    let url = format!(
        "https://{}:{}/basic/",
        r["AUTH_TLS_HOST"], r["AUTH_HTTPS_PORT"]
    );
    let proxy = &r["AUTH_PROXY_NEGOTIATE_URL"];
    let mut c = cmd(&[
        "doctor",
        "--server",
        &url,
        "--proxy",
        proxy,
        "--ca-file",
        &r["AUTH_CA_FILE"],
        "--auth",
        "basic",
        "--user",
        &r["AUTH_BASIC_USER"],
    ]);
    c.env("KRB5_CONFIG", &r["KRB5_CONFIG"])
        .env("KRB5CCNAME", &r["KRB5CCNAME"]);
    c.env("CM_PASSWORD", &r["AUTH_BASIC_PASSWORD"]);
    let out = run_cmd(c, None);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(
        line(&out, "ok", "proxy")
            .contains(&format!("{} (from --proxy)", proxy.trim_end_matches('/')))
    );
    assert!(hint(&out, "dns").contains("the proxy resolves the name"));
    assert!(line(&out, "ok", "tcp").contains("connected to the proxy"));
    assert!(line(&out, "ok", "tls").contains("TLS 1.3 through the proxy tunnel"));
    assert!(line(&out, "ok", "authentication").contains("Basic"));
}
