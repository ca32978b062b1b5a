//! TLS test servers: a throwaway CA with server certificates issued by it, and `openssl s_server` on a free
//! loopback port (killed on drop). Shared by the library's TLS tests and the CLI's `doctor` tests.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running `openssl s_server`.
pub struct Server {
    child: Child,
    /// Its loopback port.
    pub port: u16,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn dir() -> PathBuf {
    let d = std::env::temp_dir().join(format!("cm-tls-certs-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn openssl(args: &[&str], d: &Path) {
    let st = Command::new("openssl")
        .args(args)
        .current_dir(d)
        .stderr(Stdio::null())
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(st.success(), "openssl {args:?}");
}

/// A test CA and a server certificate for `cn` (subject `CN=<cn>, O=Contoso Test`) issued by it:
/// (leaf, key, ca). Made once per process and name; safe to call from parallel tests.
pub fn cert(cn: &str) -> (PathBuf, PathBuf, PathBuf) {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _g = LOCK.lock().unwrap_or_else(|p| p.into_inner());
    let d = dir();
    let ca = d.join("ca.crt");
    if !ca.exists() {
        openssl(
            &[
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-days",
                "2",
                "-subj",
                "/CN=cm-smartcard test CA",
                "-keyout",
                "ca.key",
                "-out",
                "ca.crt",
            ],
            &d,
        );
    }
    let (crt, key) = (d.join(format!("{cn}.crt")), d.join(format!("{cn}.key")));
    if !crt.exists() {
        std::fs::write(
            d.join(format!("{cn}.ext")),
            format!("subjectAltName=DNS:{cn}\nbasicConstraints=CA:FALSE\n"),
        )
        .unwrap();
        let (subject, csr, ext) = (
            format!("/CN={cn}/O=Contoso Test"),
            format!("{cn}.csr"),
            format!("{cn}.ext"),
        );
        let (key_name, crt_name) = (format!("{cn}.key"), format!("{cn}.crt"));
        openssl(
            &[
                "req", "-newkey", "rsa:2048", "-nodes", "-subj", &subject, "-keyout", &key_name,
                "-out", &csr,
            ],
            &d,
        );
        openssl(
            &[
                "x509",
                "-req",
                "-in",
                &csr,
                "-CA",
                "ca.crt",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-days",
                "2",
                "-extfile",
                &ext,
                "-out",
                &crt_name,
            ],
            &d,
        );
    }
    (crt, key, ca)
}

/// `openssl s_server -www` with this certificate (plus `extra` options) on a free loopback port.
pub fn s_server(crt: &Path, key: &Path, extra: &[&str]) -> Server {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new("openssl")
        .args(["s_server", "-quiet", "-www", "-accept"])
        .arg(port.to_string())
        .arg("-cert")
        .arg(crt)
        .arg("-key")
        .arg(key)
        .args(extra)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let server = Server { child, port };
    let until = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < until, "s_server did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    server
}

/// Whether `openssl` is available; under `CM_REQUIRE_RIGS=1` its absence fails the test.
pub fn have_openssl() -> bool {
    let ok = Command::new("openssl")
        .arg("version")
        .output()
        .is_ok_and(|o| o.status.success());
    ok || super::missing::<()>("TLS tests", "openssl", "apt-get install openssl").is_some()
}
