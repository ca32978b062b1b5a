//! Credentials do not stay readable in process memory after a call: the password, `user:password`, the
//! `Basic` value and the bearer token are searched for in every writable mapping of the process (as a core
//! dump would show it) once the calls are over. The calls go to the emulator in another process, so its
//! receive buffers are not ours.

mod common;

use cm_smartcard::auth::{AuthConfig, AuthMethod, Secret};
use cm_smartcard::cm::{CmClient, ConnectionConfig, TransportConfig};
use std::io::{Read, Seek, SeekFrom};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const CHILD: &str = "CM_SECRETS_CHILD";

fn emulator_binary() -> PathBuf {
    common::profile_dir().join(if cfg!(windows) {
        "cm-emulator.exe"
    } else {
        "cm-emulator"
    })
}

struct Emu(Child, String);
impl Drop for Emu {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_emulator() -> Emu {
    let port_file = std::env::temp_dir().join(format!("cm-secrets-{}.port", std::process::id()));
    let _ = std::fs::remove_file(&port_file);
    let mut emu = Emu(
        Command::new(emulator_binary())
            .args(["--quiet", "--port-file"])
            .arg(&port_file)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("target/debug/cm-emulator (cargo build --workspace builds it)"),
        String::new(),
    );
    for _ in 0..200 {
        if let Ok(p) = std::fs::read_to_string(&port_file)
            && !p.trim().is_empty()
        {
            emu.1 = format!("http://127.0.0.1:{}", p.trim());
            return emu;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("the emulator did not start");
}

/// Secrets are kept XOR-masked so that the test itself holds no plain copy while it scans.
const MASK: u8 = 0x5a;
fn masked(s: &str) -> Vec<u8> {
    s.bytes().map(|b| b ^ MASK).collect()
}

/// Scans the writable mappings of this process. Every buffer it needs is allocated before the calls under
/// test, so the scan itself reuses no freed memory (a freed, unwiped copy of a secret stays where it was).
struct Scanner {
    maps: String,
    chunk: zeroize::Zeroizing<Vec<u8>>,
    needle: zeroize::Zeroizing<Vec<u8>>,
    hits: Vec<String>,
}

impl Scanner {
    fn new() -> Scanner {
        Scanner {
            maps: String::with_capacity(1 << 20),
            chunk: zeroize::Zeroizing::new(vec![0u8; 1 << 20]),
            needle: zeroize::Zeroizing::new(Vec::with_capacity(256)),
            hits: Vec::with_capacity(64),
        }
    }

    /// Records where the unmasked `masked_needle` occurs (outside the scanner's own buffers). Only its tail
    /// is searched: malloc overwrites the first 16 bytes of a freed chunk with its own pointers, and the rest
    /// of an unwiped secret is just as readable in a core dump.
    fn scan(&mut self, what: &str, masked_needle: &[u8]) {
        let skip = if masked_needle.len() > 28 { 16 } else { 0 };
        self.needle.clear();
        self.needle
            .extend(masked_needle[skip..].iter().map(|b| b ^ MASK));
        let own =
            self.needle.as_ptr() as usize..self.needle.as_ptr() as usize + self.needle.capacity();
        let scratch = self.chunk.as_ptr() as usize..self.chunk.as_ptr() as usize + self.chunk.len();
        self.maps.clear();
        std::fs::File::open("/proc/self/maps")
            .unwrap()
            .read_to_string(&mut self.maps)
            .unwrap();
        let mut mem = std::fs::File::open("/proc/self/mem").unwrap();
        let n_needle = self.needle.len();
        for line in self.maps.lines() {
            let mut f = line.split_whitespace();
            let (range, perms) = (f.next().unwrap(), f.next().unwrap());
            if !perms.starts_with("rw") {
                continue;
            }
            let (a, b) = range.split_once('-').unwrap();
            let (start, end) = (
                usize::from_str_radix(a, 16).unwrap(),
                usize::from_str_radix(b, 16).unwrap(),
            );
            let mut at = start;
            while at < end {
                let n = (end - at).min(self.chunk.len());
                if mem.seek(SeekFrom::Start(at as u64)).is_err()
                    || mem.read_exact(&mut self.chunk[..n]).is_err()
                {
                    break;
                }
                for i in 0..n.saturating_sub(n_needle - 1) {
                    let addr = at + i;
                    if self.chunk[i..i + n_needle] == self.needle[..]
                        && !own.contains(&addr)
                        && !scratch.contains(&addr)
                    {
                        let lo = i.saturating_sub(32);
                        let hi = (i + n_needle + 16).min(n);
                        let context: String = self.chunk[lo..hi]
                            .iter()
                            .map(|&c| {
                                if c.is_ascii_graphic() || c == b' ' {
                                    c as char
                                } else {
                                    '.'
                                }
                            })
                            .collect::<String>()
                            .replace(
                                std::str::from_utf8(&self.needle).unwrap_or("\u{1}"),
                                "<SECRET>",
                            );
                        self.hits
                            .push(format!("{what}: {addr:#x} [{context}] in {line}"));
                    }
                }
                // Overlap chunks so a match across a boundary is not missed.
                at += n.saturating_sub(n_needle).max(1);
            }
        }
        self.needle.iter_mut().for_each(|b| *b = 0);
        self.chunk.iter_mut().for_each(|b| *b = 0);
    }
}

fn config(
    url: &str,
    method: AuthMethod,
    user: &str,
    secret: &zeroize::Zeroizing<String>,
) -> ConnectionConfig {
    ConnectionConfig {
        server_url: url.to_string(),
        transport: TransportConfig {
            auth: AuthConfig {
                method,
                username: Some(user.to_string()),
                password: (method == AuthMethod::Basic).then(|| Secret::new(secret)),
                token: (method == AuthMethod::Bearer).then(|| Secret::new(secret)),
                allow_insecure_http: true,
                ..Default::default()
            },
            ..Default::default()
        },
    }
}

/// Runs in a fresh child process: calls with Basic and Bearer (one-shot and session), drops everything,
/// then scans.
#[test]
fn child_calls_then_scans_memory() {
    if std::env::var(CHILD).is_err() {
        return;
    }
    let emu = start_emulator();
    let user = "alice";
    // The secrets are made here, inside wiped buffers, and kept only XOR-masked.
    let fresh = |prefix: &str| {
        let mut raw = [0u8; 32];
        uuid::Uuid::new_v4().simple().encode_lower(&mut raw);
        let mut s = zeroize::Zeroizing::new(String::with_capacity(prefix.len() + 32));
        s.push_str(prefix);
        s.push_str(std::str::from_utf8(&raw).unwrap());
        zeroize::Zeroize::zeroize(&mut raw);
        s
    };
    let (password_m, token_m) = {
        let (p, t) = (fresh("Pw-"), fresh("tok."));
        (masked(&p), masked(&t))
    };
    // The derived forms, masked, computed in wiped buffers — before the calls, like the scanner.
    let (basic_m, basic_b64_m) = {
        use base64::Engine;
        let mut plain = zeroize::Zeroizing::new(Vec::with_capacity(6 + password_m.len()));
        plain.extend_from_slice(b"alice:");
        plain.extend(password_m.iter().map(|b| b ^ MASK));
        let mut b64 = zeroize::Zeroizing::new(String::with_capacity(4 * plain.len().div_ceil(3)));
        base64::engine::general_purpose::STANDARD.encode_string(plain.as_slice(), &mut b64);
        (
            plain.iter().map(|b| b ^ MASK).collect::<Vec<u8>>(),
            masked(&b64),
        )
    };
    let mut scanner = Scanner::new();
    {
        let unmask = |m: &[u8]| {
            let mut s = zeroize::Zeroizing::new(String::with_capacity(m.len()));
            s.extend(m.iter().map(|b| (b ^ MASK) as char));
            s
        };
        let (password, token) = (unmask(&password_m), unmask(&token_m));
        let request = "a9b4b42c-cc50-4c9b-89d1-bbc0bcd5a099";
        for method in [AuthMethod::Basic, AuthMethod::Bearer] {
            let secret = if method == AuthMethod::Basic {
                &password
            } else {
                &token
            };
            let one_shot = CmClient::new(config(&emu.1, method, user, secret)).unwrap();
            let _ = one_shot.get_request(request).unwrap();
            let session = CmClient::session(config(&emu.1, method, user, secret)).unwrap();
            for _ in 0..3 {
                let _ = session.get_request(request).unwrap();
            }
        }
    }
    let needles = [
        ("password", password_m),
        ("user:password", basic_m),
        ("Basic value", basic_b64_m),
        ("bearer token", token_m),
    ];
    for (what, needle) in &needles {
        scanner.scan(what, needle);
    }
    let report = std::mem::take(&mut scanner.hits);
    assert!(
        report.is_empty(),
        "secrets left in memory:\n{}",
        report.join("\n")
    );
    println!("SCAN-CLEAN");
}

/// `POST /_emulator/requests/{id}/approve` on the out-of-process emulator.
fn approve(url: &str, request: &str) {
    use std::io::Write;
    let addr = url.trim_start_matches("http://");
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    write!(
        s,
        "POST /_emulator/requests/{request}/approve HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut answer = String::new();
    s.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
}

/// Runs in a fresh child process: the enrollment calls that carry card secrets (diversified admin key, the
/// template's default admin key, a server-proposed PIN, a PFX password), everything dropped, then scans for
/// each secret in every form the wire carried.
#[test]
fn child_enrollment_then_scans_memory() {
    if std::env::var(CHILD).is_err() {
        return;
    }
    use base64::Engine;
    use cm_smartcard::cm::{Assignment, RequestSpec};
    let emu = start_emulator();
    let mut scanner = Scanner::new();
    let mut needles: Vec<(&str, Vec<u8>)> = Vec::new();
    let mask_bytes = |b: &[u8]| b.iter().map(|c| c ^ MASK).collect::<Vec<u8>>();
    let pfx_password_m = {
        let mut raw = [0u8; 32];
        uuid::Uuid::new_v4().simple().encode_lower(&mut raw);
        let m = mask_bytes(&raw);
        zeroize::Zeroize::zeroize(&mut raw);
        m
    };
    {
        let none = zeroize::Zeroizing::new(String::new());
        let client = CmClient::session(config(&emu.1, AuthMethod::None, "", &none)).unwrap();
        let create = |template: &str| {
            let mut spec = RequestSpec::new("Enroll").unwrap();
            spec.profile_template = Some(uuid::Uuid::parse_str(template).unwrap());
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
        // The diversified admin key, raw and as the base64 the server sent.
        let user = cm_emulator::SMARTCARD_USER_TEMPLATE.to_string();
        let (request, card) = (create(&user), uuid::Uuid::new_v4().to_string());
        let smartcard = bind(&request, &card);
        {
            let (key, _) = client.admin_key(&request, &smartcard, &card, None).unwrap();
            let mut b64 = zeroize::Zeroizing::new(String::with_capacity(64));
            base64::engine::general_purpose::STANDARD.encode_string(key.as_slice(), &mut b64);
            needles.push(("admin key", mask_bytes(&key)));
            needles.push(("admin key, base64", mask_bytes(b64.as_bytes())));
        }
        // Scanned at once, before later calls can reuse (and so hide) freed memory.
        for (what, needle) in needles.drain(..) {
            scanner.scan(what, &needle);
        }
        // The template's default admin key, in its configuration object.
        {
            let config = client.smartcard_config(&user).unwrap().unwrap();
            let hex = zeroize::Zeroizing::new(config.string("DefaultAdminKeyHex").unwrap());
            needles.push(("default admin key (hex)", mask_bytes(hex.as_bytes())));
        }
        for (what, needle) in needles.drain(..) {
            scanner.scan(what, &needle);
        }
        // A server-proposed PIN.
        let approval = cm_emulator::MANAGER_APPROVAL_TEMPLATE.to_string();
        let (request, card) = (create(&approval), uuid::Uuid::new_v4().to_string());
        approve(&emu.1, &request);
        let smartcard = bind(&request, &card);
        {
            let (pin, _) = client
                .server_proposed_pin(Some(&request), &smartcard, Some(&card), None)
                .unwrap();
            needles.push(("server-proposed PIN", mask_bytes(pin.as_bytes())));
        }
        for (what, needle) in needles.drain(..) {
            scanner.scan(what, &needle);
        }
        // A PFX password, sent in a certificatedata body.
        let request = create(&cm_emulator::SERVER_KEYS_TEMPLATE.to_string());
        {
            let mut password = zeroize::Zeroizing::new(String::with_capacity(32));
            password.extend(pfx_password_m.iter().map(|b| (b ^ MASK) as char));
            let certs = client
                .submit_certificate_requests(&request, &[], Some(&password), None)
                .unwrap();
            assert!(!certs.is_empty());
        }
    }
    needles.push(("PFX password", pfx_password_m));
    for (what, needle) in &needles {
        scanner.scan(what, needle);
    }
    let report = std::mem::take(&mut scanner.hits);
    assert!(
        report.is_empty(),
        "card secrets left in memory:\n{}",
        report.join("\n")
    );
    println!("SCAN-CLEAN");
}

#[test]
fn card_secrets_are_not_left_in_process_memory() {
    if std::env::var(CHILD).is_ok() || !cfg!(target_os = "linux") {
        return;
    }
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "child_enrollment_then_scans_memory",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD, "1")
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success() && text.contains("SCAN-CLEAN"),
        "{text}"
    );
}

#[test]
fn credentials_are_not_left_in_process_memory() {
    if std::env::var(CHILD).is_ok() || !cfg!(target_os = "linux") {
        return;
    }
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "child_calls_then_scans_memory",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD, "1")
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success() && text.contains("SCAN-CLEAN"),
        "{text}"
    );
}
