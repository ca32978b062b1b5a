//! `doctor`: walks the way to a CM server one layer at a time and says, for each, ok / warning / failed,
//! what it saw and what to do. Only GET requests are ever sent.

use crate::args::DoctorArgs;
use crate::der;
use crate::out::{Output, Tone};
use crate::{CmdResult, cards, connect, exit};
use cm_smartcard::auth::{AuthMethod, AuthSession, Scheme, Secret, Verified, offered_schemes};
use cm_smartcard::cm::url::ServerUrl;
use cm_smartcard::cm::{CmClient, ConnectionConfig};
use cm_smartcard::http::conn::{self, Connection, Origin, Request, Response};
use cm_smartcard::http::{self, Client, ClientSettings, proxy};
use cm_smartcard::{Error, card};
use serde_json::json;
use std::io::{Read, Write};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    Ok,
    Warning,
    Failed,
    Skipped,
}

impl Verdict {
    fn word(self) -> &'static str {
        match self {
            Verdict::Ok => "ok",
            Verdict::Warning => "warning",
            Verdict::Failed => "failed",
            Verdict::Skipped => "skipped",
        }
    }
}

struct Check {
    name: &'static str,
    verdict: Verdict,
    saw: String,
    hint: Option<String>,
}

struct Doctor<'a> {
    o: &'a Output,
    checks: Vec<Check>,
}

impl Doctor<'_> {
    fn add(
        &mut self,
        name: &'static str,
        verdict: Verdict,
        saw: impl Into<String>,
        hint: Option<String>,
    ) {
        let check = Check {
            name,
            verdict,
            saw: saw.into(),
            hint,
        };
        if !self.o.json {
            let tone = match verdict {
                Verdict::Ok => Tone::Good,
                Verdict::Warning => Tone::Warn,
                Verdict::Failed => Tone::Bad,
                Verdict::Skipped => Tone::Dim,
            };
            let word = format!("{:<8}", verdict.word());
            say!(
                "{} {:<14} {}",
                self.o.color(tone, &word),
                check.name,
                check.saw
            );
            if let Some(h) = &check.hint {
                say!("{:<8} {:<14} → {h}", "", "");
            }
        }
        self.checks.push(check);
    }

    fn ok(&mut self, name: &'static str, saw: impl Into<String>) {
        self.add(name, Verdict::Ok, saw, None);
    }
    fn warn(&mut self, name: &'static str, saw: impl Into<String>, hint: impl Into<String>) {
        self.add(name, Verdict::Warning, saw, Some(hint.into()));
    }
    fn fail(&mut self, name: &'static str, saw: impl Into<String>, hint: impl Into<String>) {
        self.add(name, Verdict::Failed, saw, Some(hint.into()));
    }
    fn skip(&mut self, name: &'static str, why: impl Into<String>) {
        self.add(name, Verdict::Skipped, why, None);
    }
}

/// An answer seen by doctor (one exchange).
struct Seen {
    response: Response,
    conn: Connection,
}

const API_ENABLED_HINT: &str = "the CM REST API is disabled by default: in the CM web application's web.config \
(usually C:\\Program Files\\Microsoft Forefront Identity Manager\\2010\\Certificate Management\\web\\web.config), \
under <ClmConfiguration>, set <add key=\"Clm.WebApi.Enabled\" value=\"true\" />, then run iisreset; also check \
that the URL path ends in /CertificateManagement";

const PERMISSION_HINT: &str = "the account authenticated but CM refused it: give it the CM permissions it needs \
— Read on the profile templates (template Security tab), the workflow's authorized initiators/enrollment agents, \
and for binding cards ClmRequestEnroll; IIS authorization rules or IP restrictions can also answer 403";

pub fn run(o: &Output, a: DoctorArgs) -> CmdResult {
    // Options are validated (and secrets read) before anything goes on the wire.
    let config = connect::config(&a.server)?;
    let reader = cards::reader_name(&a.reader)?;
    let server = ServerUrl::parse(&config.server_url)?;
    let mut d = Doctor {
        o,
        checks: Vec::new(),
    };
    let api_root = server.api_url("");
    if !o.json {
        say!("cm-smartcard doctor: {api_root}");
    }
    let timeout = config.transport.timeout;
    let origin = Origin {
        https: server.is_https,
        host: server.host.clone(),
        port: server.port,
    };

    // Proxy.
    let chosen = proxy::select(&config.transport.proxy, &origin)?;
    let proxy_source = match &config.transport.proxy {
        proxy::ProxyConfig::None => "--proxy none",
        proxy::ProxyConfig::Explicit { .. } => "--proxy",
        proxy::ProxyConfig::System => {
            if cfg!(windows) {
                "the Windows (WinHTTP) settings"
            } else {
                "the environment (https_proxy, http_proxy, all_proxy, no_proxy)"
            }
        }
    };
    match &chosen {
        None if proxy::is_loopback(&origin.host) => {
            d.ok("proxy", "none (loopback is never proxied)")
        }
        None => d.ok(
            "proxy",
            format!("direct connection (no proxy for this server per {proxy_source})"),
        ),
        Some(p) => d.ok(
            "proxy",
            format!("http://{}:{} (from {proxy_source})", p.host, p.port),
        ),
    }

    // DNS.
    let started = Instant::now();
    match conn::resolve(&origin.host, origin.port, timeout) {
        Ok(addrs) if origin.host.parse::<std::net::IpAddr>().is_ok() => {
            let _ = addrs;
            d.ok(
                "dns",
                format!("{} is an IP address; no DNS lookup needed", origin.host),
            )
        }
        Ok(addrs) => {
            let list: Vec<String> = addrs.iter().map(|a| a.ip().to_string()).collect();
            d.ok(
                "dns",
                format!(
                    "{} → {} ({} ms)",
                    origin.host,
                    list.join(", "),
                    started.elapsed().as_millis()
                ),
            )
        }
        Err(e) if chosen.is_some() => d.warn(
            "dns",
            format!("{} does not resolve here: {}", origin.host, e.message),
            "the proxy resolves the name for you; fine if only the proxy can see this DNS zone",
        ),
        Err(e) => {
            d.fail(
                "dns",
                e.message.clone(),
                "check the host name in --server and this machine's DNS servers (nslookup <host>); \
                 use the name the server certificate and the SPN were issued for",
            );
            return finish(d, &api_root);
        }
    }

    // TCP (to the proxy when there is one).
    let (tcp_host, tcp_port, what) = match &chosen {
        Some(p) => (p.host.clone(), p.port, "the proxy"),
        None => (origin.host.clone(), origin.port, "the server"),
    };
    let started = Instant::now();
    match conn::connect_tcp(
        &tcp_host,
        tcp_port,
        Instant::now() + timeout.min(Duration::from_secs(10)),
        what,
    ) {
        Ok(sock) => {
            let peer = sock.peer_addr().map(|a| a.to_string()).unwrap_or_default();
            d.ok(
                "tcp",
                format!(
                    "connected to {what} {peer} in {} ms",
                    started.elapsed().as_millis()
                ),
            );
        }
        Err(e) => {
            d.fail(
                "tcp",
                e.message.clone(),
                format!(
                    "nothing accepts connections on {tcp_host}:{tcp_port}: check that the {} is running, the port \
                     (IIS site bindings), and firewalls on the way",
                    if chosen.is_some() { "proxy" } else { "web server" }
                ),
            );
            return finish(d, &api_root);
        }
    }

    // TLS.
    let tls_config = if server.is_https {
        Some(http::tls::client_config(
            config.transport.extra_ca_file.as_deref(),
        )?)
    } else {
        None
    };
    match &tls_config {
        None => d.warn(
            "tls",
            "plain http:// — no TLS: credentials and the card binding travel unprotected",
            "use https:// in production (the CM portal is normally reached over https)",
        ),
        Some(_) if chosen.is_some() => {
            // Through a tunnel: the library's own connection says whether TLS works.
            match client(&config, &server, chosen.clone(), tls_config.clone()).open() {
                Ok(c) => d.ok(
                    "tls",
                    format!(
                        "{} through the proxy tunnel; certificate trusted",
                        c.tls_version()
                            .unwrap_or_default()
                            .replace("TLSv1_3", "TLS 1.3")
                            .replace("TLSv1_2", "TLS 1.2")
                    ),
                ),
                Err(e) => {
                    d.fail(
                        "tls",
                        e.message.clone(),
                        "see the message; the proxy may also intercept TLS",
                    );
                    return finish(d, &api_root);
                }
            }
        }
        Some(cfg) => {
            if !tls_probe(
                &mut d,
                cfg,
                &origin,
                config.transport.extra_ca_file.is_some(),
                timeout,
            ) {
                return finish(d, &api_root);
            }
        }
    }

    // HTTP: an unauthenticated GET on a known read-only route.
    let client = client(&config, &server, chosen.clone(), tls_config.clone());
    let probe_path = format!("/smartcards?cardid={}", uuid::Uuid::new_v4());
    let target = client.target(&server.api_target(&probe_path));
    let first = match get(&client, None, &target, None, timeout) {
        Ok(seen) => seen,
        Err(e) => {
            d.fail(
                "http",
                e.message.clone(),
                "the server accepted the connection but gave no usable HTTP answer; check that the port serves \
                 the CM web site",
            );
            return finish(d, &api_root);
        }
    };
    let status = first.response.head.status;
    d.ok(
        "http",
        format!("GET {} answered HTTP {status}", server.api_url(&probe_path)),
    );
    clock_check(&mut d, &first.response);

    // What the server asks for.
    let www = first.response.head.all("www-authenticate");
    let offered = offered_schemes(&www);
    let auth = &config.transport.auth;
    if status == 401 {
        let has = |s: &str| offered.split(", ").any(|o| o.eq_ignore_ascii_case(s));
        if has("Negotiate") {
            d.ok("auth schemes", format!("the server offers: {offered}"));
        } else if has("NTLM") {
            d.warn(
                "auth schemes",
                format!("the server offers: {offered} (no Negotiate, so no Kerberos)"),
                "in IIS, Windows Authentication → Providers for /CertificateManagement: add Negotiate above NTLM",
            );
        } else {
            d.warn(
                "auth schemes",
                format!("the server offers: {offered} (no Windows authentication)"),
                "CM expects Windows Authentication (Negotiate) in IIS for /CertificateManagement; or use --auth \
                 basic/bearer as the server asks, over https",
            );
        }
    } else {
        d.ok(
            "auth schemes",
            format!("the server answered without asking for authentication (HTTP {status})"),
        );
    }

    // Authentication and the authenticated read.
    let final_answer = if status == 401 {
        match authenticate(
            &mut d, &client, first, &target, &config, &server, &www, timeout,
        ) {
            Some(seen) => seen,
            None => return finish(d, &api_root),
        }
    } else {
        d.skip("kerberos", "not asked for: the server did not answer 401");
        first.response
    };
    let status = final_answer.head.status;
    api_and_permissions(&mut d, status, &final_answer, auth.method);
    let usable = (200..300).contains(&status);

    // The card.
    if a.reader.is_some() {
        card_check(
            &mut d,
            reader.as_deref(),
            a.byte_order.into(),
            &config,
            usable,
        );
    }
    finish(d, &api_root)
}

fn client(
    config: &ConnectionConfig,
    server: &ServerUrl,
    chosen: Option<proxy::Proxy>,
    tls: Option<Arc<rustls::ClientConfig>>,
) -> Client {
    let proxy_auth = cm_smartcard::auth::AuthConfig {
        method: AuthMethod::NegotiateCurrentUser,
        allow_insecure_http: config.transport.auth.allow_insecure_http,
        ..Default::default()
    };
    Client::new(ClientSettings {
        origin: Origin {
            https: server.is_https,
            host: server.host.clone(),
            port: server.port,
        },
        connect_timeout: config.transport.connect_timeout,
        tls,
        proxy: chosen,
        proxy_auth,
        max_idle: 0,
        idle_timeout: Duration::from_secs(30),
    })
}

/// One GET on `conn` (or a new connection), with an optional `Authorization` value.
fn get(
    client: &Client,
    conn: Option<Connection>,
    target: &str,
    authorization: Option<&Secret>,
    timeout: Duration,
) -> Result<Seen, Error> {
    let mut conn = match conn {
        Some(c) if c.reusable() => c,
        _ => client.open()?,
    };
    let mut headers: Vec<(&str, &[u8])> = vec![
        (
            "User-Agent",
            concat!("cm-smartcard-doctor/", env!("CARGO_PKG_VERSION")).as_bytes(),
        ),
        ("Accept", b"application/json"),
    ];
    if let Some(a) = authorization {
        headers.push(("Authorization", a.expose().as_bytes()));
    }
    let request = Request {
        method: "GET",
        target,
        host: client.host_header(),
        headers: &headers,
        body: None,
        max_body: 1024 * 1024,
        secret_bodies: false,
    };
    let response = conn
        .exchange(&request, false, Instant::now() + timeout)
        .map_err(|e| Error::new(e.status, format!("GET {target}: {}", e.detail)))?;
    Ok(Seen { response, conn })
}

/// The mechanism inside a Negotiate/NTLM token: NTLMSSP, or Kerberos (its OID in the SPNEGO wrapper).
fn mechanism_of(header: &Secret) -> &'static str {
    use base64::Engine;
    let Some((_, b64)) = header.expose().split_once(' ') else {
        return "unknown";
    };
    let Ok(token) = base64::engine::general_purpose::STANDARD.decode(b64.trim()) else {
        return "unknown";
    };
    let contains = |needle: &[u8]| token.windows(needle.len()).any(|w| w == needle);
    if contains(b"NTLMSSP\0") {
        "NTLM"
    } else if contains(&[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x12, 0x01, 0x02, 0x02])
        || contains(&[0x2a, 0x86, 0x48, 0x82, 0xf7, 0x12, 0x01, 0x02, 0x02])
    {
        "Kerberos"
    } else {
        "unknown"
    }
}

/// Answers the 401 as the library would and reports the Kerberos ticket, the mechanism and mutual
/// authentication. Returns the final answer, or None when authentication could not go on.
#[allow(clippy::too_many_arguments)]
fn authenticate(
    d: &mut Doctor<'_>,
    client: &Client,
    first: Seen,
    target: &str,
    config: &ConnectionConfig,
    server: &ServerUrl,
    www: &[String],
    timeout: Duration,
) -> Option<Response> {
    let auth = &config.transport.auth;
    let mut session = match AuthSession::new(auth, &server.host, server.is_https) {
        Ok(s) => s,
        Err(e) => {
            d.fail("kerberos", e.message, "check the authentication options");
            return None;
        }
    };
    let spn = session.spn();
    if auth.method == AuthMethod::None {
        d.skip("kerberos", "--auth none");
        d.fail(
            "authentication",
            format!(
                "the server requires authentication (offers: {})",
                offered_schemes(www)
            ),
            "choose --auth negotiate (default), ntlm, basic or bearer",
        );
        return None;
    }
    let header = match auth.method {
        AuthMethod::Basic | AuthMethod::Bearer => match session.initial_header() {
            Ok(h) => h,
            Err(e) => {
                d.skip(
                    "kerberos",
                    format!("--auth {:?} (no Kerberos)", auth.method).to_lowercase(),
                );
                d.fail(
                    "authentication",
                    format!("{} [{}]", e.message, crate::out::status_name(e.status)),
                    "use https://, or --insecure-http in a lab",
                );
                return None;
            }
        },
        _ => None,
    };
    let mut header = match header {
        Some(h) => Some(h),
        None => match session.respond_to_challenge(www) {
            Ok(h) => Some(h),
            Err(e) => {
                let kerberos = matches!(
                    auth.method,
                    AuthMethod::NegotiateCurrentUser | AuthMethod::NegotiateExplicit
                );
                let (name, hint) = if e.status == cm_smartcard::Status::AuthInsecureTransport {
                    (
                        "authentication",
                        "the server is http://: use https://, or --insecure-http in a lab"
                            .to_string(),
                    )
                } else if e.status == cm_smartcard::Status::AuthRequired || !kerberos {
                    (
                        "authentication",
                        format!(
                            "the server offers {}: choose the matching --auth (basic and bearer only over https),                              or enable Windows Authentication (Negotiate) in IIS for /CertificateManagement",
                            offered_schemes(www)
                        ),
                    )
                } else {
                    (
                        "kerberos",
                        format!(
                            "Kerberos for {spn} failed. A missing SPN: setspn -S {spn} <the IIS app pool account>; \
                             a duplicate SPN: setspn -X; a skewed clock: sync time (w32tm /resync); no ticket: \
                             kinit / log on to the domain; or name the SPN with --spn"
                        ),
                    )
                };
                d.fail(
                    name,
                    format!("{} [{}]", e.message, crate::out::status_name(e.status)),
                    hint,
                );
                return None;
            }
        },
    };
    let mech = header.as_ref().map_or("none", mechanism_of);
    match (auth.method, header.as_ref()) {
        (AuthMethod::Basic | AuthMethod::Bearer, _) => {
            d.skip("kerberos", format!("--auth {:?} (no Kerberos)", auth.method).to_lowercase())
        }
        (_, Some(h)) => match (mechanism_of(h), session.scheme()) {
            ("Kerberos", _) => d.ok("kerberos", format!("service ticket obtained for {spn}")),
            ("NTLM", Some(Scheme::Ntlm)) if auth.method == AuthMethod::Ntlm => {
                d.ok("kerberos", "not used: --auth ntlm")
            }
            ("NTLM", Some(Scheme::Ntlm)) => d.warn(
                "kerberos",
                "the server offers NTLM only, so Kerberos is not used",
                "enable the Negotiate provider in IIS Windows Authentication for Kerberos and mutual authentication",
            ),
            ("NTLM", _) => d.warn(
                "kerberos",
                format!("Negotiate fell back to NTLM: no Kerberos ticket for {spn}"),
                format!(
                    "register the SPN for the IIS application pool account (setspn -S {spn} DOMAIN\\account), check \
                     that no other account holds it (setspn -X), and that the client is in a trusting realm"
                ),
            ),
            (other, _) => d.warn("kerberos", format!("the first token's mechanism is {other}"), "run with --verbose"),
        },
        (_, None) => d.skip("kerberos", "no token"),
    }
    let mut conn = Some(first.conn);
    for _leg in 0..4 {
        let seen = match get(client, conn.take(), target, header.as_ref(), timeout) {
            Ok(s) => s,
            Err(e) => {
                d.fail(
                    "authentication",
                    e.message,
                    "the connection broke during the handshake; retry with --verbose",
                );
                return None;
            }
        };
        let www = seen.response.head.all("www-authenticate");
        if seen.response.head.status != 401 {
            let scheme = session.scheme();
            let verified = session.finish(&www);
            let via = match scheme {
                Some(Scheme::Negotiate) if mech == "NTLM" => "Negotiate (NTLM inside)".to_string(),
                Some(Scheme::Negotiate) if mech == "Kerberos" => "Negotiate (Kerberos)".to_string(),
                Some(s) => s.name().to_string(),
                None => format!("{:?}", auth.method),
            };
            // NTLM authenticates the client only, whatever the final SPNEGO token says.
            let verified = match verified {
                Ok(Verified::Mutual) if mech == "NTLM" => Ok(Verified::ClientOnly),
                v => v,
            };
            d.ok(
                "authentication",
                format!(
                    "accepted with {via}{}",
                    auth.username
                        .as_deref()
                        .map(|u| format!(" as {u}"))
                        .unwrap_or_default()
                ),
            );
            match verified {
                Ok(Verified::Mutual) => d.ok("mutual auth", "verified: the server proved its identity (Kerberos)"),
                Ok(Verified::ClientOnly) => d.warn(
                    "mutual auth",
                    "not verified: the server did not prove its identity (NTLM, or no final Negotiate token)",
                    if server.is_https {
                        "over https the certificate proves the server; Kerberos would add mutual authentication"
                    } else {
                        "over plain http nothing proves the server's identity: use https and Kerberos"
                    },
                ),
                Ok(Verified::NotApplicable) => d.skip(
                    "mutual auth",
                    if server.is_https {
                        "not applicable (Basic/Bearer); the TLS certificate proves the server"
                    } else {
                        "not applicable (Basic/Bearer)"
                    },
                ),
                Err(e) => d.fail(
                    "mutual auth",
                    e.message,
                    format!("the server's final Kerberos token did not verify: check that {spn} belongs to this server"),
                ),
            }
            return Some(seen.response);
        }
        match session.respond_to_challenge(&www) {
            Ok(h) => header = Some(h),
            Err(e) => {
                d.fail(
                    "authentication",
                    format!("{} [{}]", e.message, crate::out::status_name(e.status)),
                    match auth.method {
                        AuthMethod::NegotiateCurrentUser => {
                            "the server refused the current user's credentials: check the SPN, the clock, and that \
                             the user belongs to the domain the server trusts"
                        }
                        _ => "check the user name (DOMAIN\\user) and the password",
                    },
                );
                return None;
            }
        }
        conn = Some(seen.conn);
    }
    d.fail(
        "authentication",
        "the server kept answering 401",
        "check the credentials",
    );
    None
}

fn api_and_permissions(d: &mut Doctor<'_>, status: u16, answer: &Response, method: AuthMethod) {
    let body = String::from_utf8_lossy(&answer.body);
    match status {
        200 | 204 => {
            d.ok("api", "the CM REST API answers under /CertificateManagement/api/v1.0");
            d.ok(
                "permissions",
                format!("the read GET /smartcards?cardid=<random> was allowed (HTTP {status})"),
            );
        }
        404 if body.contains("No HTTP resource") => {
            d.fail(
                "api",
                "HTTP 404 from ASP.NET Web API: the API is on, but does not know the route",
                "check the URL: it must lead to /CertificateManagement/api/v1.0 (no other prefix or version)",
            );
            d.skip("permissions", "needs the API");
        }
        404 => {
            d.fail(
                "api",
                "HTTP 404 on a known API route: the CM REST API is disabled (or the URL path is wrong)",
                API_ENABLED_HINT,
            );
            d.skip("permissions", "needs the API");
        }
        403 => {
            d.ok("api", "the CM REST API answers (HTTP 403 is CM's, after authentication)");
            d.fail(
                "permissions",
                format!(
                    "GET /smartcards?cardid=<random> answered HTTP 403 Forbidden{}",
                    if method == AuthMethod::None { " without credentials" } else { "" }
                ),
                PERMISSION_HINT,
            );
        }
        401 => d.fail("api", "still HTTP 401 after authentication", "check the credentials"),
        300..=399 => d.fail(
            "api",
            format!(
                "HTTP {status} redirect to {}",
                answer.head.header("location").unwrap_or("(no Location)")
            ),
            "use the URL the server redirects to as --server (often http:// → https://); redirects are never followed",
        ),
        500..=599 => d.fail(
            "api",
            format!("HTTP {status} server error: {}", body_summary(&body)),
            "see the CM server's event log (the correlation id, if any, is in the message)",
        ),
        other => d.fail("api", format!("unexpected HTTP {other}"), "run with --verbose to see the exchange"),
    }
}

fn clock_check(d: &mut Doctor<'_>, response: &Response) {
    let Some(date) = response.head.header("date") else {
        d.skip("clock", "the server sent no Date header");
        return;
    };
    let Some(server_time) = der::http_date(date) else {
        d.warn(
            "clock",
            format!("unreadable Date header '{date}'"),
            "not RFC 7231 format",
        );
        return;
    };
    let local = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let skew = server_time - local;
    let saw = format!(
        "server time {} ({}{} s from this machine)",
        der::format_time(server_time),
        if skew >= 0 { "+" } else { "" },
        skew
    );
    let hint = "synchronise both clocks with the domain (w32tm /resync on Windows, chrony/ntpd on Linux); Kerberos \
                refuses tickets beyond 5 minutes of skew";
    match skew.abs() {
        s if s > 300 => d.fail("clock", saw, hint),
        s if s > 120 => d.warn("clock", saw, hint),
        _ => d.ok("clock", saw),
    }
}

fn card_check(
    d: &mut Doctor<'_>,
    reader: Option<&std::ffi::CStr>,
    order: card::GuidByteOrder,
    config: &ConnectionConfig,
    api_usable: bool,
) {
    let reading = match card::read_card(reader, order) {
        Ok(r) => r,
        Err(e) => {
            d.fail(
                "card",
                format!("{} [{}]", e.message, crate::out::status_name(e.status)),
                "run `cm-smartcard readers` to see the readers and cards",
            );
            return;
        }
    };
    let saw = format!(
        "'{}': ATR {}, card id {}",
        reading.reader.to_string_lossy(),
        cm_smartcard::atr::to_hex(&reading.atr),
        reading.card_id.guid
    );
    match &reading.card_id.warning {
        Some(w) => d.warn("card", saw, w.clone()),
        None => d.ok("card", saw),
    }
    if !api_usable {
        d.skip("card in cm", "needs a working authenticated read");
        return;
    }
    let lookup = CmClient::new(config.clone())
        .and_then(|c| c.find_smartcard_by_card_id(&reading.card_id.guid));
    match lookup {
        Ok(Some(c)) => d.ok(
            "card in cm",
            format!(
                "CM knows this card: smartcard {} (status {})",
                c.uuid, c.status
            ),
        ),
        Ok(None) => d.ok(
            "card in cm",
            "CM does not know this card yet (ready to be bound)",
        ),
        Err(e) => d.fail(
            "card in cm",
            format!("{} [{}]", e.message, crate::out::status_name(e.status)),
            "see the message",
        ),
    }
}

/// The TLS check: handshake with the library's trust settings; on failure, a second look (trusting anything,
/// sending nothing) to show the certificate that was refused. Returns whether the TLS connection works.
fn tls_probe(
    d: &mut Doctor<'_>,
    cfg: &Arc<rustls::ClientConfig>,
    origin: &Origin,
    extra_ca: bool,
    timeout: Duration,
) -> bool {
    let trust = if extra_ca {
        "the OS store and --ca-file"
    } else {
        "the OS store"
    };
    match handshake(cfg, origin, timeout) {
        Ok((version, certs)) => {
            let leaf = certs.first().and_then(|c| der::summarize(c));
            let now = SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs() as i64);
            d.ok(
                "tls",
                format!("{version}; certificate chain trusted by {trust}; host name matches"),
            );
            match leaf {
                Some(c) => {
                    let days_left = (c.not_after - now) / 86_400;
                    let saw = format!(
                        "subject {}; issuer {}; valid until {} ({days_left} days)",
                        c.subject,
                        c.issuer,
                        der::format_time(c.not_after)
                    );
                    if days_left < 30 {
                        d.warn(
                            "certificate",
                            saw,
                            "the certificate expires soon: renew it on the server",
                        );
                    } else {
                        d.ok("certificate", saw);
                    }
                }
                None => d.warn(
                    "certificate",
                    "could not read the certificate",
                    "run openssl s_client to inspect it",
                ),
            }
            true
        }
        Err(TlsFailure::Silent) => {
            d.fail(
                "tls",
                "the server did not answer the TLS handshake in time (is it a plain http:// port?)",
                "this port may speak plain HTTP: use http:// (labs) or the https port of the site",
            );
            false
        }
        Err(TlsFailure::Io(e)) => {
            d.fail(
                "tls",
                e,
                "the server closed or did not finish the TLS handshake; is it an https port?",
            );
            false
        }
        Err(TlsFailure::Tls(e)) => {
            let why = http::tls::describe_tls_error(&e);
            let hint = match &e {
                rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer) => {
                    "install the issuing CA in the OS trust store, or pass it with --ca-file corp-root.pem"
                }
                rustls::Error::InvalidCertificate(_) => {
                    "renew or re-issue the server certificate for the host name used in --server"
                }
                rustls::Error::InvalidMessage(_) | rustls::Error::InappropriateMessage { .. } => {
                    "this port speaks plain HTTP: use http:// (labs) or the https port"
                }
                _ => "enable TLS 1.2 or 1.3 on the server (IIS: SChannel protocols; IIS Crypto)",
            };
            d.fail("tls", why, hint);
            // Show what the server presented, when it presented anything.
            let look = Arc::new(
                rustls::ClientConfig::builder_with_provider(Arc::new(
                    rustls::crypto::ring::default_provider(),
                ))
                .with_safe_default_protocol_versions()
                .expect("ring supports the default versions")
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(LookOnly))
                .with_no_client_auth(),
            );
            if let Ok((_, certs)) = handshake(&look, origin, timeout)
                && let Some(c) = certs.first().and_then(|c| der::summarize(c))
            {
                let names = if c.dns_names.is_empty() {
                    "none".to_string()
                } else {
                    c.dns_names.join(", ")
                };
                d.add(
                    "certificate",
                    Verdict::Warning,
                    format!(
                        "subject {}; issuer {}; valid {} to {}; DNS names {names}",
                        c.subject,
                        c.issuer,
                        der::format_time(c.not_before),
                        der::format_time(c.not_after)
                    ),
                    Some(format!("the host in --server is '{}'", origin.host)),
                );
            }
            false
        }
    }
}

enum TlsFailure {
    /// The server never answered the ClientHello: most likely a plain-HTTP server waiting for a request.
    Silent,
    Io(String),
    Tls(rustls::Error),
}

/// A complete TLS handshake on a new TCP connection; nothing else is sent. Returns the version and the
/// peer's certificates.
fn handshake(
    cfg: &Arc<rustls::ClientConfig>,
    origin: &Origin,
    timeout: Duration,
) -> Result<(String, Vec<Vec<u8>>), TlsFailure> {
    let deadline = Instant::now() + timeout.min(Duration::from_secs(5));
    let mut sock = conn::connect_tcp(&origin.host, origin.port, deadline, "the server")
        .map_err(|e| TlsFailure::Io(e.message))?;
    let _ = sock.set_read_timeout(Some(timeout.min(Duration::from_secs(5))));
    let _ = sock.set_write_timeout(Some(timeout.min(Duration::from_secs(5))));
    let name = rustls::pki_types::ServerName::try_from(origin.host.clone())
        .map_err(|_| TlsFailure::Io(format!("'{}' is not a valid TLS server name", origin.host)))?;
    let mut tls = rustls::ClientConnection::new(Arc::clone(cfg), name).map_err(TlsFailure::Tls)?;
    while tls.is_handshaking() {
        if Instant::now() > deadline {
            return Err(TlsFailure::Io("the TLS handshake timed out".into()));
        }
        match tls.complete_io(&mut sock) {
            Ok((0, 0)) if tls.is_handshaking() => {
                return Err(TlsFailure::Io(
                    "the server closed the connection during the TLS handshake (is it an https port? does it \
                     allow TLS 1.2 or 1.3?)"
                        .into(),
                ));
            }
            Ok(_) => {}
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock
                ) =>
            {
                return Err(TlsFailure::Silent);
            }
            Err(e) => {
                // rustls reports its own errors through io::Error; take the typed one back out.
                let inner = e
                    .get_ref()
                    .and_then(|i| i.downcast_ref::<rustls::Error>())
                    .cloned();
                return Err(match inner {
                    Some(t) => TlsFailure::Tls(t),
                    None => TlsFailure::Io(format!("the TLS handshake broke: {e}")),
                });
            }
        }
    }
    // Let a TLS alert out before closing; ignore errors (nothing of ours is in flight).
    tls.send_close_notify();
    let _ = tls.write_tls(&mut sock);
    let _ = sock.flush();
    let _ = sock.read(&mut [0u8; 0]);
    let version = tls
        .protocol_version()
        .map(|v| match v {
            rustls::ProtocolVersion::TLSv1_3 => "TLS 1.3".to_string(),
            rustls::ProtocolVersion::TLSv1_2 => "TLS 1.2".to_string(),
            other => format!("{other:?}"),
        })
        .unwrap_or_default();
    let certs = tls
        .peer_certificates()
        .map(|c| c.iter().map(|c| c.as_ref().to_vec()).collect())
        .unwrap_or_default();
    Ok((version, certs))
}

/// A verifier that accepts any certificate: used only to display a certificate the real verifier refused,
/// on a connection that is closed right after the handshake (no request is ever sent on it).
#[derive(Debug)]
struct LookOnly;

impl rustls::client::danger::ServerCertVerifier for LookOnly {
    fn verify_server_cert(
        &self,
        _: &rustls::pki_types::CertificateDer<'_>,
        _: &[rustls::pki_types::CertificateDer<'_>],
        _: &rustls::pki_types::ServerName<'_>,
        _: &[u8],
        _: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        _: &[u8],
        _: &rustls::pki_types::CertificateDer<'_>,
        _: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        Ok(rustls::client::danger::HandshakeSignatureValid::assertion())
    }
    fn verify_tls13_signature(
        &self,
        _: &[u8],
        _: &rustls::pki_types::CertificateDer<'_>,
        _: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        Ok(rustls::client::danger::HandshakeSignatureValid::assertion())
    }
    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        rustls::crypto::ring::default_provider()
            .signature_verification_algorithms
            .supported_schemes()
    }
}

fn finish(d: Doctor<'_>, api_root: &str) -> CmdResult {
    let failed = d
        .checks
        .iter()
        .filter(|c| c.verdict == Verdict::Failed)
        .count();
    let warnings = d
        .checks
        .iter()
        .filter(|c| c.verdict == Verdict::Warning)
        .count();
    let result = if failed > 0 {
        "failed"
    } else if warnings > 0 {
        "warning"
    } else {
        "ok"
    };
    if d.o.json {
        let checks: Vec<_> = d
            .checks
            .iter()
            .map(|c| json!({ "check": c.name, "verdict": c.verdict.word(), "saw": c.saw, "hint": c.hint }))
            .collect();
        d.o.print_json(&json!({ "server": api_root, "result": result, "checks": checks }));
    } else {
        say!("result: {result} ({failed} failed, {warnings} warnings)");
    }
    Ok(if failed > 0 { exit::FAILURE } else { exit::OK })
}

/// An error body in one line: the HTML `<title>` when there is one, else the start of the text.
fn body_summary(body: &str) -> String {
    let lower = body.to_ascii_lowercase();
    let text = match (lower.find("<title>"), lower.find("</title>")) {
        (Some(a), Some(b)) if b > a + 7 => &body[a + 7..b],
        _ => body,
    };
    let one_line: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    one_line.chars().take(160).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_bodies_are_summarised_on_one_line() {
        let html = "<!DOCTYPE html>\r\n<html><head>\r\n<title>502 Proxy Error</title>\r\n</head><body>x</body>";
        assert_eq!(body_summary(html), "502 Proxy Error");
        assert_eq!(
            body_summary("{\"Message\":\n \"An error\"}"),
            "{\"Message\": \"An error\"}"
        );
        assert_eq!(body_summary(&"a".repeat(500)).len(), 160);
    }

    #[test]
    fn token_mechanisms_are_recognised() {
        use base64::Engine;
        let enc = |b: &[u8]| {
            Secret::new(&format!(
                "Negotiate {}",
                base64::engine::general_purpose::STANDARD.encode(b)
            ))
        };
        assert_eq!(
            mechanism_of(&enc(b"\x60\x28junkNTLMSSP\0\x01\0\0\0")),
            "NTLM"
        );
        let krb = [
            0x60, 0x82, 0x02, 0x00, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x12, 0x01, 0x02,
            0x02, 0x01, 0x00,
        ];
        assert_eq!(mechanism_of(&enc(&krb)), "Kerberos");
        assert_eq!(mechanism_of(&enc(b"nothing known")), "unknown");
        assert_eq!(mechanism_of(&Secret::new("Negotiate")), "unknown");
    }
}
