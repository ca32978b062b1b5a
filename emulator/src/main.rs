//! `cm-emulator`: the MIM CM REST API emulator as a standalone program. See `--help`.

use cm_emulator::{
    Config, Emulator, Fault, MANAGER_APPROVAL_TEMPLATE, RequestStatus, SERVER_KEYS_TEMPLATE,
    SMARTCARD_USER_TEMPLATE, SeedRequest, parse_guid,
};
use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

const HELP: &str = "\
cm-emulator: emulator of the MIM CM REST API (enrollment and card lifecycle) for tests and demos

USAGE:
  cm-emulator [OPTIONS]

OPTIONS:
  --listen ADDR:PORT      Address to listen on (default 127.0.0.1:0 = a free loopback port).
                          A non-loopback address works but prints a warning.
  --request UUID[=STATUS] Seed a CM request (repeatable). STATUS is a name, case-insensitive:
                          None, Pending, Denied, Approved (default), Executing, Failed, Canceled,
                          Completed, Abandoned.
  --requests-file FILE    Seed requests from a JSON array: [{\"uuid\":\"...\",\"status\":\"Approved\"}, ...]
                          (status optional, default Approved).
  --api-disabled          Start with the API disabled (every API URL answers 404, like
                          Clm.WebApi.Enabled=false).
  --idle-close-max-ms N   Close each idle keep-alive connection after a random idle time of 0..N ms
                          (without Connection: close), as IIS drops idle connections.
  --port-file FILE        Write the port number to FILE once listening (written atomically via a
                          temporary file and rename); removed on exit.
  --fault SPEC            Inject a fault (repeatable; the first matching fault wins). See FAULTS.
  --admin-master-key HEX  Master key (48 hex digits, 24 bytes) the diversified admin keys derive from
                          (default: the ASCII bytes of \"cm-emulator master key!!\").
  --smartcard CARDID[=TEMPLATE]
                          Seed an enrolled, Active smart card (repeatable): card id GUID, template
                          GUID (default the \"Smartcard User\" template). Its Uuid is printed on stderr.
  --quiet                 Do not print one line per request to stderr.
  -h, --help              Show this help.
  -V, --version           Show the version.

OUTPUT:
  First stdout line: `cm-emulator listening on http://127.0.0.1:PORT`. Then, unless --quiet, one line
  per request on stderr. SIGTERM/SIGINT (or POST /_emulator/shutdown) stop it with exit status 0.

CM API (prefix /CertificateManagement/api/v1.0, matched case-insensitively; full reference:
docs/emulator.md). Bad GUIDs, bad JSON, bad base64, unknown enum names: 400. Documented state rules: 403.
  GET  /profiletemplates                              200 array of the seeded templates
  GET  /profiletemplates/{id}/policies/{type}         200 policy (Enabled false if not enabled); 204
  GET  /profiletemplates/{id}/policy/workflow/{type}  the same (the other documented path form)
  GET  /profiletemplates/{id}/configuration/smartcards  200 SmartcardConfig; 204
  POST /requests {type, profiletemplateuuid, smartcard, target, datacollection, comment, priority}
                                                      201 \"api/v1.0/requests/<uuid>\"
  GET  /requests[?status=Name][&targetuser=current]   200 array;  GET /requests/{id}  200 | 204
  PUT  /requests/{id} {\"status\":\"Completed\"|\"Canceled\"|\"Abandoned\"}  200 Request
  GET  /requests/{id}/certificaterequestgenerationoptions   200 array | 204
  POST /requests/{id}/certificatedata {pfxpassword, certificaterequests, comments}  200 array (once)
  GET  /requests/{id}/profiles                        200 array | 204
  GET  /requests/{rid}/smartcards/{scid}/diversifiedkey?cardid=[&atr=]   200 base64 admin key
  GET  /requests/{rid}/smartcards/{scid}/authenticationresponse?cardid=&challenge=&diversified=
                                                      200 base64 3DES-ECB(challenge) under the admin key
  GET  /requests/{rid}/smartcards/{scid}/serverproposedpin, /smartcards/{scid}/serverproposedpin
  PUT  /requests/{rid}/smartcards/{scid} {\"status\":\"Retired\"|\"Active\"|\"Disabled\"|\"Suspended\"}
  POST /smartcards {\"requestid\",\"cardid\",\"atr\"}  201 \"api/v1.0/smartcards/<uuid>\"
  GET  /smartcards[?cardid=X], /smartcards/{id}, /smartcards/{id}/operations, /smartcards/{id}/certificates
  GET  /certificates, /profiles[?status=], /profiles/{id}, /profiles/{id}/operations, /profiles/{id}/certificates
  Other methods on these routes: 405 with Allow. Unknown routes under the prefix: 404 JSON {\"Message\"}.
  Outside the prefix, or API disabled: 404 IIS-like HTML.
  Errors are {\"Message\":\"...\"}; 500 faults say \"An error has occurred. Correlation ID: <uuid>\".
  Enum numbers: RequestStatus None=0 Pending=1 Denied=2 Approved=3 Executing=4 Failed=5 Canceled=6
  Abandoned=7 Completed=8; RequestType Enroll=1 Duplicate=2 OnlineUpdate=3 Retire=4 Unblock=5 Revoke=6
  Renew=7 Recover=8 RecoverOnBehalf=9 Reinstate=10 TemporaryCards=11 OfflineUnblock=12; Smartcard and
  Profile Status None=0 New=1 Assigned=2 Active=3 Suspended=4 Disabled=5 Retired=6.

SEEDED TEMPLATES:
  {SMARTCARD_USER}  Smartcard User: auto-approved, diversified admin key, 2 CSRs
  {MANAGER_APPROVAL}  Smartcard Manager Approval: 1 approval, default admin key, PIN
  {SERVER_KEYS}  Server Keys: software profile, server-generated keys (2 PFX items)

FAULTS: SPEC = KIND[=ARG][:METHOD[:PATH[:TIMES]]]
  METHOD   case-insensitive method to match; empty or * = any
  PATH     case-insensitive substring of path+query to match; empty or * = any
  TIMES    number of hits before the fault disappears; empty or * = until cleared
  ARG is percent-decoded (write %3A for ':'). '-' and '_' are interchangeable in KIND.
  KIND:
    delay=MS                 wait MS milliseconds (default 1000), then answer normally
    hang                     read the request, never answer (until the client closes)
    close-before-read        read only the request head, close; nothing processed
    close-after-read[=apply] read the request, apply it if =apply, close without answering
    server-error[=UUID] | 500  500 {\"Message\":\"An error has occurred. Correlation ID: UUID\"}
    garbage                  apply; success status (201 POST, 200 other) with a non-JSON body
    wrong-content-type|html  apply; success status with Content-Type text/html and HTML body
    status=CODE | CODE       any other 3-digit code, body {\"Message\":\"Emulated status CODE\"}
    challenge-401 | 401      401 with WWW-Authenticate: Negotiate and WWW-Authenticate: NTLM
    no-content | 204         apply; answer 204 with no body
    partial-response|partial apply; Content-Length larger than the body sent, then close
    redirect[=LOCATION]|302  302 with Location (default /CertificateManagement/redirected)
    huge-body[=BYTES]|huge   apply; success status with a JSON string body of BYTES (16 MiB)
  Examples: --fault close-after-read=apply:POST:/smartcards:1   --fault 500:GET::2   --fault delay=2000

CONTROL ENDPOINTS (not part of CM; never faulted or logged; work while the API is disabled):
  POST   /_emulator/requests {\"uuid\":\"...\",\"status\":\"Approved\"}   201 Request JSON (uuid optional)
  GET    /_emulator/requests | /_emulator/smartcards              200 arrays of everything
  POST   /_emulator/faults  FAULT | [FAULT, ...]                  204 (appends)
         FAULT = {\"kind\":K, \"method\":M, \"path_contains\":P, \"times\":N, ...kind fields}
         K: delay (\"ms\"), hang, close_before_read, close_after_read (\"apply\":bool), server_error
         (\"correlation_id\"), garbage, wrong_content_type, status (\"code\",\"body\",\"content_type\"),
         challenge_401, no_content, partial_response, redirect (\"location\"), huge_body (\"bytes\");
         or {\"spec\":\"<SPEC as above>\"}
  DELETE /_emulator/faults                                        204
  POST   /_emulator/api-disabled  true|false                      204
  GET    /_emulator/log                                           200 [{connection_id, method, path,
                                   headers:[[name,value]], body, fault}] (Authorization: \"<scheme> …\")
  DELETE /_emulator/log                                           204
  GET    /_emulator/count?method=POST&path=/smartcards            200 {\"count\":N}
  POST   /_emulator/requests/{id}/approve | .../deny              200 Request; 404; 409 not Pending
  GET    /_emulator/ca.pem                                        200 the test CA certificate (PEM)
  GET    /_emulator/templates                                     200 seeded templates with their settings
  POST   /_emulator/smartcards {\"cardid\",\"template\",\"atr\"}       201 {request, smartcard}: an Active card
  POST   /_emulator/shutdown                                      204, then the emulator exits 0
";

/// The help text with the seeded template uuids filled in.
fn help() -> String {
    HELP.replace("{SMARTCARD_USER}", &SMARTCARD_USER_TEMPLATE.to_string())
        .replace("{MANAGER_APPROVAL}", &MANAGER_APPROVAL_TEMPLATE.to_string())
        .replace("{SERVER_KEYS}", &SERVER_KEYS_TEMPLATE.to_string())
}

static SIGNALED: AtomicBool = AtomicBool::new(false);

#[cfg(unix)]
mod signals {
    use super::SIGNALED;
    use std::ffi::c_int;
    use std::sync::atomic::Ordering;

    const SIGINT: c_int = 2;
    const SIGTERM: c_int = 15;

    unsafe extern "C" {
        fn signal(signum: c_int, handler: extern "C" fn(c_int)) -> usize;
    }

    extern "C" fn on_signal(_sig: c_int) {
        SIGNALED.store(true, Ordering::SeqCst);
    }

    pub fn install() {
        // SAFETY: `on_signal` only stores to an atomic, which is async-signal-safe.
        unsafe {
            signal(SIGINT, on_signal);
            signal(SIGTERM, on_signal);
        }
    }
}

#[cfg(not(unix))]
mod signals {
    pub fn install() {}
}

struct Args {
    config: Config,
    port_file: Option<PathBuf>,
    /// Cards to seed as enrolled and Active: (card id, template).
    smartcards: Vec<(uuid::Uuid, uuid::Uuid)>,
}

fn parse_master_key(hex: &str) -> Result<[u8; 24], String> {
    let hex = hex.trim();
    if hex.len() != 48 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(format!(
            "--admin-master-key: expected 48 hex digits (24 bytes), got {} characters",
            hex.len()
        ));
    }
    let mut key = [0u8; 24];
    for (i, k) in key.iter_mut().enumerate() {
        *k = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).map_err(|e| e.to_string())?;
    }
    Ok(key)
}

fn parse_smartcard(s: &str) -> Result<(uuid::Uuid, uuid::Uuid), String> {
    let (c, t) = match s.split_once('=') {
        Some((c, t)) => (c, Some(t)),
        None => (s, None),
    };
    let card = parse_guid(c).ok_or_else(|| format!("--smartcard: {c:?} is not a GUID"))?;
    let template = match t {
        None => SMARTCARD_USER_TEMPLATE,
        Some(t) => parse_guid(t).ok_or_else(|| format!("--smartcard: {t:?} is not a GUID"))?,
    };
    Ok((card, template))
}

fn parse_request(s: &str) -> Result<SeedRequest, String> {
    let (u, st) = match s.split_once('=') {
        Some((u, st)) => (u, Some(st)),
        None => (s, None),
    };
    let uuid = parse_guid(u).ok_or_else(|| format!("--request: {u:?} is not a GUID"))?;
    let status = match st {
        None => RequestStatus::Approved,
        Some(st) => st
            .parse::<RequestStatus>()
            .map_err(|e| format!("--request: {e}"))?,
    };
    Ok(SeedRequest { uuid, status })
}

fn read_requests_file(path: &Path) -> Result<Vec<SeedRequest>, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("--requests-file {}: {e}", path.display()))?;
    let v: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| format!("--requests-file {}: {e}", path.display()))?;
    let arr = v
        .as_array()
        .ok_or("--requests-file: expected a JSON array")?;
    arr.iter()
        .map(|item| {
            let uuid = item
                .get("uuid")
                .and_then(|u| u.as_str())
                .and_then(parse_guid)
                .ok_or("--requests-file: every item needs a \"uuid\" GUID string")?;
            let status = match item.get("status") {
                None | Some(serde_json::Value::Null) => RequestStatus::Approved,
                Some(s) => s
                    .as_str()
                    .and_then(RequestStatus::from_name)
                    .ok_or("--requests-file: bad \"status\"")?,
            };
            Ok(SeedRequest { uuid, status })
        })
        .collect()
}

fn parse_args(mut it: impl Iterator<Item = String>) -> Result<Option<Args>, String> {
    let mut config = Config::default();
    let mut port_file = None;
    let mut smartcards = Vec::new();
    while let Some(arg) = it.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_string(), Some(v.to_string())),
            _ => (arg.clone(), None),
        };
        let mut value = |name: &str| -> Result<String, String> {
            match inline.clone() {
                Some(v) => Ok(v),
                None => it.next().ok_or_else(|| format!("{name} needs a value")),
            }
        };
        match flag.as_str() {
            "-h" | "--help" => {
                print!("{}", help());
                return Ok(None);
            }
            "-V" | "--version" => {
                println!("cm-emulator {}", env!("CARGO_PKG_VERSION"));
                return Ok(None);
            }
            "--listen" => {
                let v = value("--listen")?;
                config.listen = v
                    .parse::<SocketAddr>()
                    .map_err(|e| format!("--listen {v:?}: {e}"))?;
            }
            "--request" => config.requests.push(parse_request(&value("--request")?)?),
            "--requests-file" => {
                let v = value("--requests-file")?;
                config.requests.extend(read_requests_file(Path::new(&v))?);
            }
            "--api-disabled" => config.api_disabled = true,
            "--idle-close-max-ms" => {
                let v = value("--idle-close-max-ms")?;
                let ms: u64 = v.parse().map_err(|_| {
                    format!("--idle-close-max-ms {v:?}: not a number of milliseconds")
                })?;
                config.idle_close_max = Some(std::time::Duration::from_millis(ms));
            }
            "--quiet" | "-q" => config.quiet = true,
            "--admin-master-key" => {
                config.admin_master_key = parse_master_key(&value("--admin-master-key")?)?;
            }
            "--smartcard" => smartcards.push(parse_smartcard(&value("--smartcard")?)?),
            "--port-file" => port_file = Some(PathBuf::from(value("--port-file")?)),
            "--fault" => {
                let v = value("--fault")?;
                config
                    .faults
                    .push(Fault::parse_spec(&v).map_err(|e| format!("--fault: {e}"))?);
            }
            other => return Err(format!("unknown argument {other:?} (see --help)")),
        }
    }
    Ok(Some(Args {
        config,
        port_file,
        smartcards,
    }))
}

fn write_port_file(path: &Path, port: u16) -> std::io::Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(format!(".tmp{}", std::process::id()));
    let tmp = PathBuf::from(tmp);
    std::fs::write(&tmp, port.to_string())?;
    std::fs::rename(&tmp, path).inspect_err(|_| {
        let _ = std::fs::remove_file(&tmp);
    })
}

fn main() -> ExitCode {
    let args = match parse_args(std::env::args().skip(1)) {
        Ok(Some(a)) => a,
        Ok(None) => return ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("cm-emulator: {e}");
            return ExitCode::from(2);
        }
    };
    if !args.config.listen.ip().is_loopback() {
        eprintln!(
            "cm-emulator: warning: listening on non-loopback address {}; the emulator has no authentication",
            args.config.listen
        );
    }
    signals::install();
    let emu = match Emulator::start(args.config) {
        Ok(e) => e,
        Err(e) => {
            eprintln!("cm-emulator: cannot listen: {e}");
            return ExitCode::FAILURE;
        }
    };
    for (card, template) in &args.smartcards {
        match emu.add_active_smartcard(*card, *template, "") {
            Ok((request, smartcard)) => eprintln!(
                "cm-emulator: seeded Active smart card {smartcard} (card id {card}, request {request})"
            ),
            Err(e) => {
                eprintln!("cm-emulator: --smartcard: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    // The port file is complete before the stdout line, so a reader of either sees the same state.
    if let Some(p) = &args.port_file
        && let Err(e) = write_port_file(p, emu.addr().port())
    {
        eprintln!("cm-emulator: cannot write port file {}: {e}", p.display());
        return ExitCode::FAILURE;
    }
    {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "cm-emulator listening on {}", emu.base_url());
        let _ = out.flush();
    }
    while !SIGNALED.load(Ordering::SeqCst) && !emu.stop_requested() {
        std::thread::sleep(Duration::from_millis(25));
    }
    emu.shutdown();
    if let Some(p) = &args.port_file {
        let _ = std::fs::remove_file(p);
    }
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Result<Option<Args>, String> {
        parse_args(list.iter().map(|s| s.to_string()))
    }

    #[test]
    fn cli_parsing() {
        let a = args(&[
            "--listen",
            "127.0.0.1:8080",
            "--request",
            "{BC88F13F-83BA-4037-8262-46EBA1291C6E}=pending",
            "--request=a9b4b42c-cc50-4c9b-89d1-bbc0bcd5a099",
            "--fault",
            "hang:POST",
            "--quiet",
            "--api-disabled",
            "--port-file",
            "/tmp/x",
        ])
        .unwrap()
        .unwrap();
        assert_eq!(a.config.listen.port(), 8080);
        assert_eq!(a.config.requests.len(), 2);
        assert_eq!(a.config.requests[0].status, RequestStatus::Pending);
        assert_eq!(a.config.requests[1].status, RequestStatus::Approved);
        assert_eq!(a.config.faults.len(), 1);
        assert!(a.config.quiet && a.config.api_disabled);
        assert_eq!(a.port_file, Some(PathBuf::from("/tmp/x")));
        assert!(args(&["--request", "nope"]).is_err());
        assert!(args(&["--request", "a9b4b42c-cc50-4c9b-89d1-bbc0bcd5a099=weird"]).is_err());
        assert!(args(&["--bogus"]).is_err());
        assert!(args(&["--listen"]).is_err());
        assert!(args(&["--fault", "nope"]).is_err());
        let a = args(&[
            "--admin-master-key",
            "000102030405060708090a0b0c0d0e0f1011121314151617",
            "--smartcard",
            "bc88f13f-83ba-4037-8262-46eba1291c6e",
            "--smartcard=bc88f13f-83ba-4037-8262-46eba1291c6f=6b8c1e4a-0f2d-4c37-9a51-2d7e0c3b5a11",
        ])
        .unwrap()
        .unwrap();
        assert_eq!(a.config.admin_master_key[23], 0x17);
        assert_eq!(a.config.admin_master_key[1], 1);
        assert_eq!(a.smartcards.len(), 2);
        assert_eq!(a.smartcards[0].1, SMARTCARD_USER_TEMPLATE);
        assert_eq!(a.smartcards[1].1, MANAGER_APPROVAL_TEMPLATE);
        for bad in ["00", "zz0102030405060708090a0b0c0d0e0f1011121314151617", ""] {
            assert!(args(&["--admin-master-key", bad]).is_err(), "{bad}");
        }
        assert!(args(&["--smartcard", "x"]).is_err());
        assert!(help().contains(&SERVER_KEYS_TEMPLATE.to_string()));
    }
}
