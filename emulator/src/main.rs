//! `cm-emulator`: the MIM CM REST API emulator as a standalone program. See `--help`.

use cm_emulator::{Config, Emulator, Fault, RequestStatus, SeedRequest, parse_guid};
use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

const HELP: &str = "\
cm-emulator: emulator of the MIM CM REST API (smart card binding) for tests and demos

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
  --quiet                 Do not print one line per request to stderr.
  -h, --help              Show this help.
  -V, --version           Show the version.

OUTPUT:
  First stdout line: `cm-emulator listening on http://127.0.0.1:PORT`. Then, unless --quiet, one line
  per request on stderr. SIGTERM/SIGINT (or POST /_emulator/shutdown) stop it with exit status 0.

CM API (prefix /CertificateManagement/api/v1.0, matched case-insensitively):
  POST /smartcards {\"requestid\",\"cardid\",\"atr\"}  201 \"api/v1.0/smartcards/<uuid>\"; 400 bad JSON/GUID;
                                               403 unknown request, request not Approved/Executing,
                                               request already bound, card already bound;
                                               415 Content-Type not application/json
  GET  /smartcards/{uuid}                      200 Smartcard | 204
  GET  /smartcards?cardid=X                    200 Smartcard whose SerialNumber is {X} | 204
  GET  /smartcards                             200 array (undocumented upstream; emulator's choice)
  GET  /requests/{uuid}                        200 Request | 204
  GET  /requests[?status=Name]                 200 array
  PUT  /requests/{uuid} {\"status\":\"Completed\"|\"Canceled\"|\"Abandoned\"}  200 Request; 400; 403
  Other methods on these routes: 405. Unknown routes under the prefix: 404 JSON {\"Message\"}.
  Outside the prefix, or API disabled: 404 IIS-like HTML.
  Errors are {\"Message\":\"...\"}; 500 faults say \"An error has occurred. Correlation ID: <uuid>\".
  Request Status numbers (only 3 and 8 are documented; the rest are the emulator's choice):
  None=0 Pending=1 Denied=2 Approved=3 Executing=4 Failed=5 Canceled=6 Abandoned=7 Completed=8.

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
  POST   /_emulator/shutdown                                      204, then the emulator exits 0
";

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
                print!("{HELP}");
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
    Ok(Some(Args { config, port_file }))
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
    }
}
