//! Interop tests against the `openssl` command line tool (OpenSSL 3, default provider): the CSRs it
//! makes are accepted, and what we issue, PKCS#7 and PKCS#12 alike, it reads and verifies.
//! Without `openssl` on PATH the tests skip with a notice, unless CM_REQUIRE_RIGS=1 (CI).

use super::*;
use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};

/// A scratch directory, removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new() -> Scratch {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "cm-emulator-crypto-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }

    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }

    fn write(&self, name: &str, data: impl AsRef<[u8]>) -> PathBuf {
        let p = self.path(name);
        std::fs::write(&p, data).unwrap();
        p
    }

    fn read(&self, name: &str) -> Vec<u8> {
        std::fs::read(self.path(name)).unwrap()
    }

    /// Runs `openssl args...` in this directory.
    fn openssl(&self, args: &[&str]) -> Output {
        Command::new("openssl")
            .args(args)
            .current_dir(&self.0)
            .output()
            .expect("openssl ran before")
    }

    /// Runs openssl, asserts success, returns stdout.
    fn openssl_ok(&self, args: &[&str]) -> String {
        let out = self.openssl(args);
        assert!(
            out.status.success(),
            "openssl {args:?} failed: {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A scratch directory when `openssl` is available; `None` (skip, with a notice) otherwise.
fn with_openssl() -> Option<Scratch> {
    match Command::new("openssl").arg("version").output() {
        Ok(out) if out.status.success() => Some(Scratch::new()),
        other => {
            let why = match other {
                Ok(out) => format!("`openssl version` exited with {}", out.status),
                Err(e) => format!("no openssl on PATH ({e})"),
            };
            if std::env::var("CM_REQUIRE_RIGS").as_deref() == Ok("1") {
                panic!("openssl is required (CM_REQUIRE_RIGS=1): {why}");
            }
            eprintln!("SKIP crypto interop test: {why}");
            None
        }
    }
}

/// `openssl req` makes a new key and a DER CSR for /CN=x; returns the CSR.
fn make_csr(dir: &Scratch, name: &str, key_args: &[&str]) -> Vec<u8> {
    let key = format!("{name}.key.pem");
    let csr = format!("{name}.csr.der");
    let mut args = vec!["req", "-new", "-nodes", "-subj", "/CN=x", "-keyout", &key];
    args.extend_from_slice(key_args);
    args.extend_from_slice(&["-outform", "DER", "-out", &csr]);
    dir.openssl_ok(&args);
    dir.read(&csr)
}

/// Writes the CA and the issued cert as PEM and runs `openssl verify -x509_strict`.
fn assert_verifies(dir: &Scratch, ca: &TestCa, issued: &Issued, name: &str) {
    dir.write("ca.pem", ca.cert_pem());
    let cert = format!("{name}.cert.pem");
    dir.write(&cert, issued.cert_pem());
    let out = dir.openssl_ok(&["verify", "-x509_strict", "-CAfile", "ca.pem", &cert]);
    assert_eq!(out.trim(), format!("{cert}: OK"));
}

/// The public key of a certificate and of a private key, as PEM, must be equal.
fn assert_key_matches(dir: &Scratch, cert_pem: &str, key_pem: &str) {
    let from_cert = dir.openssl_ok(&["x509", "-in", cert_pem, "-noout", "-pubkey"]);
    let from_key = dir.openssl_ok(&["pkey", "-in", key_pem, "-pubout"]);
    assert_eq!(from_cert, from_key);
}

const RSA_2048: &[&str] = &["-newkey", "rsa:2048"];

#[test]
fn rsa_sha256_csr_is_issued_with_the_requested_extensions() {
    let Some(dir) = with_openssl() else { return };
    let ca = TestCa::generate();
    let csr = make_csr(&dir, "rsa", RSA_2048);
    let spec = IssueSpec {
        subject: None,
        key_usage: key_usage::DIGITAL_SIGNATURE | key_usage::KEY_ENCIPHERMENT,
        smartcard_logon: true,
    };
    let issued = ca.issue_from_csr(&csr, &spec).unwrap();
    assert_verifies(&dir, &ca, &issued, "rsa");
    assert_key_matches(&dir, "rsa.cert.pem", "rsa.key.pem");
    assert_eq!(issued.subject_text, "CN=x");
    assert_eq!(issued.issuer_text, "CN=cm-emulator test CA");

    let text = dir.openssl_ok(&["x509", "-in", "rsa.cert.pem", "-noout", "-text"]);
    assert!(text.contains("Version: 3 (0x2)"), "{text}");
    assert!(
        text.contains("Signature Algorithm: ecdsa-with-SHA256"),
        "{text}"
    );
    assert!(text.contains("Issuer: CN = cm-emulator test CA"), "{text}");
    assert!(text.contains("Subject: CN = x"), "{text}");
    assert!(text.contains("X509v3 Key Usage: critical"), "{text}");
    assert!(
        text.contains("Digital Signature, Key Encipherment\n"),
        "{text}"
    );
    assert!(
        text.contains("TLS Web Client Authentication, Microsoft Smartcard Login"),
        "{text}"
    );
    assert!(
        text.contains("X509v3 Basic Constraints: critical\n                CA:FALSE"),
        "{text}"
    );
    assert!(text.contains("X509v3 Authority Key Identifier"), "{text}");
    assert!(text.contains("X509v3 Subject Key Identifier"), "{text}");

    // serial, thumbprint and dates as openssl sees them
    let serial = dir.openssl_ok(&["x509", "-in", "rsa.cert.pem", "-noout", "-serial"]);
    assert_eq!(serial.trim(), format!("serial={}", issued.serial_hex));
    let fp = dir.openssl_ok(&[
        "x509",
        "-in",
        "rsa.cert.pem",
        "-noout",
        "-fingerprint",
        "-sha1",
    ]);
    assert_eq!(
        fp.trim()
            .split_once("Fingerprint=")
            .unwrap()
            .1
            .replace(':', ""),
        issued.thumbprint_hex
    );
    let dates = dir.openssl_ok(&[
        "x509",
        "-in",
        "rsa.cert.pem",
        "-noout",
        "-dateopt",
        "iso_8601",
        "-startdate",
        "-enddate",
    ]);
    assert_eq!(
        dates,
        format!(
            "notBefore={}Z\nnotAfter={}Z\n",
            issued.not_before.replace('T', " "),
            issued.not_after.replace('T', " ")
        )
    );

    // The CA certificate itself, as a CA
    let ca_text = dir.openssl_ok(&["x509", "-in", "ca.pem", "-noout", "-text"]);
    assert!(
        ca_text.contains("X509v3 Basic Constraints: critical\n                CA:TRUE"),
        "{ca_text}"
    );
    assert!(ca_text.contains("Certificate Sign, CRL Sign"), "{ca_text}");
    assert!(ca_text.contains("ASN1 OID: prime256v1"), "{ca_text}");
    dir.openssl_ok(&["verify", "-x509_strict", "-CAfile", "ca.pem", "ca.pem"]);
}

#[test]
fn sha1_rsa_ec_p256_and_p384_csrs_are_accepted() {
    let Some(dir) = with_openssl() else { return };
    let ca = TestCa::generate();
    let cases: [(&str, &[&str], &str); 4] = [
        (
            "sha1",
            &["-newkey", "rsa:2048", "-sha1"],
            "sha1WithRSAEncryption",
        ),
        (
            "sha512",
            &["-newkey", "rsa:2048", "-sha512"],
            "sha512WithRSAEncryption",
        ),
        (
            "p256",
            &["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"],
            "ecdsa-with-SHA256",
        ),
        (
            "p384",
            &[
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:P-384",
                "-sha384",
            ],
            "ecdsa-with-SHA384",
        ),
    ];
    for (name, args, algorithm) in cases {
        let csr = make_csr(&dir, name, args);
        assert_eq!(
            csr::parse_and_verify(&csr).unwrap().signature_algorithm,
            algorithm
        );
        let issued = ca.issue_from_csr(&csr, &IssueSpec::default()).unwrap();
        assert_verifies(&dir, &ca, &issued, name);
        assert_key_matches(
            &dir,
            &format!("{name}.cert.pem"),
            &format!("{name}.key.pem"),
        );
    }
}

#[test]
fn pem_csr_through_lenient_base64_and_subject_override() {
    let Some(dir) = with_openssl() else { return };
    let ca = TestCa::generate();
    dir.openssl_ok(&[
        "req",
        "-new",
        "-nodes",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-subj",
        "/C=US/O=Contoso/CN=Jane Doe",
        "-keyout",
        "k.pem",
        "-out",
        "csr.pem",
    ]);
    let pem_text = String::from_utf8(dir.read("csr.pem")).unwrap();
    assert!(pem_text.starts_with("-----BEGIN CERTIFICATE REQUEST-----"));
    let csr = base64_decode_lenient(&pem_text.replace('\n', "\r\n")).unwrap();
    // the same bytes as the docs' form (bare base64 with \r\n breaks)
    assert_eq!(base64_decode_lenient(&base64_crlf(&csr)).unwrap(), csr);

    let issued = ca.issue_from_csr(&csr, &IssueSpec::default()).unwrap();
    assert_eq!(issued.subject_text, "CN=Jane Doe, O=Contoso, C=US");
    assert_verifies(&dir, &ca, &issued, "asis");
    let subject = dir.openssl_ok(&["x509", "-in", "asis.cert.pem", "-noout", "-subject"]);
    assert_eq!(subject.trim(), "subject=C = US, O = Contoso, CN = Jane Doe");

    let spec = IssueSpec {
        subject: Some("CN=Override Name".into()),
        key_usage: key_usage::DIGITAL_SIGNATURE,
        smartcard_logon: false,
    };
    let issued = ca.issue_from_csr(&csr, &spec).unwrap();
    assert_eq!(issued.subject_text, "CN=Override Name");
    assert_verifies(&dir, &ca, &issued, "override");
    let text = dir.openssl_ok(&["x509", "-in", "override.cert.pem", "-noout", "-text"]);
    assert!(text.contains("Subject: CN = Override Name"), "{text}");
    assert!(text.contains("Digital Signature\n"), "{text}");
    assert!(!text.contains("Smartcard"), "{text}");
}

#[test]
fn tampered_truncated_and_unsupported_csrs_are_refused() {
    let Some(dir) = with_openssl() else { return };
    let ca = TestCa::generate();
    let csr = make_csr(&dir, "rsa", RSA_2048);
    assert!(ca.issue_from_csr(&csr, &IssueSpec::default()).is_ok());

    // a flipped byte in the signature, and one in the signed subject
    let mut bad_sig = csr.clone();
    let last = bad_sig.len() - 1;
    bad_sig[last] ^= 0x01;
    assert_eq!(
        ca.issue_from_csr(&bad_sig, &IssueSpec::default()),
        Err(CsrError::BadSignature)
    );
    let mut bad_subject = csr.clone();
    let x = bad_subject
        .windows(2)
        .position(|w| w == [0x01, b'x'])
        .unwrap()
        + 1;
    bad_subject[x] = b'y';
    assert_eq!(
        ca.issue_from_csr(&bad_subject, &IssueSpec::default()),
        Err(CsrError::BadSignature)
    );

    // every truncation, and trailing garbage
    for len in 0..csr.len() {
        assert!(
            matches!(
                ca.issue_from_csr(&csr[..len], &IssueSpec::default()),
                Err(CsrError::Malformed(_))
            ),
            "prefix of {len} bytes"
        );
    }
    let mut trailing = csr.clone();
    trailing.push(0);
    assert!(matches!(
        ca.issue_from_csr(&trailing, &IssueSpec::default()),
        Err(CsrError::Malformed(_))
    ));

    // algorithms we do not take: RSA-PSS and Ed25519
    let pss = make_csr(
        &dir,
        "pss",
        &["-newkey", "rsa:2048", "-sigopt", "rsa_padding_mode:pss"],
    );
    assert!(matches!(
        ca.issue_from_csr(&pss, &IssueSpec::default()),
        Err(CsrError::UnsupportedAlgorithm(_))
    ));
    let ed = make_csr(&dir, "ed", &["-newkey", "ed25519"]);
    assert_eq!(
        ca.issue_from_csr(&ed, &IssueSpec::default()),
        Err(CsrError::UnsupportedAlgorithm("1.3.101.112".into()))
    );
    // a certificate is not a CSR
    assert!(matches!(
        ca.issue_from_csr(ca.cert_der(), &IssueSpec::default()),
        Err(CsrError::Malformed(_))
    ));
}

#[test]
fn pkcs7_is_what_crl2pkcs7_writes() {
    let Some(dir) = with_openssl() else { return };
    let ca = TestCa::generate();
    let csr = make_csr(
        &dir,
        "p256",
        &["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"],
    );
    let issued = ca.issue_from_csr(&csr, &IssueSpec::default()).unwrap();
    let p7 = pkcs7_certs_only(&[&issued.cert_der, ca.cert_der()]);
    dir.write("p7.der", &p7);
    let printed = dir.openssl_ok(&["pkcs7", "-inform", "DER", "-in", "p7.der", "-print_certs"]);
    assert_eq!(
        printed.matches("-----BEGIN CERTIFICATE-----").count(),
        2,
        "{printed}"
    );
    assert!(printed.contains("subject=CN = x"), "{printed}");
    assert!(
        printed.contains("subject=CN = cm-emulator test CA"),
        "{printed}"
    );

    // byte for byte what `openssl crl2pkcs7 -nocrl` makes of the same two certificates
    dir.write("both.pem", issued.cert_pem() + &ca.cert_pem());
    dir.openssl_ok(&[
        "crl2pkcs7",
        "-nocrl",
        "-certfile",
        "both.pem",
        "-outform",
        "DER",
        "-out",
        "ref.p7b",
    ]);
    assert_eq!(dir.read("ref.p7b"), p7);
}

/// Reads a PFX with `openssl pkcs12 -nodes` and checks key, certificates and names.
fn assert_pfx_reads(dir: &Scratch, pfx: &str, password: &str, friendly: Option<&str>) {
    let pass = format!("pass:{password}");
    let out = dir.openssl_ok(&[
        "pkcs12", "-in", pfx, "-passin", &pass, "-nodes", "-out", "out.pem",
    ]);
    assert!(out.is_empty(), "{out}");
    let pem_text = String::from_utf8(dir.read("out.pem")).unwrap();
    assert_eq!(
        pem_text.matches("-----BEGIN PRIVATE KEY-----").count(),
        1,
        "{pem_text}"
    );
    assert_eq!(
        pem_text.matches("-----BEGIN CERTIFICATE-----").count(),
        2,
        "{pem_text}"
    );
    if let Some(name) = friendly {
        // on the key bag and the leaf certificate bag
        assert_eq!(
            pem_text.matches(&format!("friendlyName: {name}\n")).count(),
            2,
            "{pem_text}"
        );
    }
    assert_eq!(pem_text.matches("localKeyID: ").count(), 2, "{pem_text}");
    // first certificate in the output is the leaf (its bag comes first); its key is the one we packed
    let leaf_start = pem_text.find("-----BEGIN CERTIFICATE-----").unwrap();
    let leaf_end =
        pem_text.find("-----END CERTIFICATE-----").unwrap() + "-----END CERTIFICATE-----\n".len();
    dir.write("leaf.pem", &pem_text[leaf_start..leaf_end]);
    assert_key_matches(dir, "leaf.pem", "out.pem");

    let info = dir.openssl(&["pkcs12", "-in", pfx, "-passin", &pass, "-info", "-noout"]);
    let info_text =
        String::from_utf8_lossy(&info.stderr).into_owned() + &String::from_utf8_lossy(&info.stdout);
    assert!(info.status.success(), "{info_text}");
    assert!(
        info_text.contains("MAC: sha1, Iteration 2048"),
        "{info_text}"
    );
    assert!(
        info_text.contains("Shrouded Keybag: pbeWithSHA1And3-KeyTripleDES-CBC, Iteration 2048"),
        "{info_text}"
    );
}

#[test]
fn pkcs12_reads_in_openssl_without_legacy_and_refuses_a_wrong_password() {
    let Some(dir) = with_openssl() else { return };
    let ca = TestCa::generate();
    let (issued, key) = ca
        .issue_with_new_key("Server Key User", &IssueSpec::default())
        .unwrap();
    assert_verifies(&dir, &ca, &issued, "server");
    let pfx = pkcs12(
        &key,
        &issued.cert_der,
        &[ca.cert_der()],
        "PW ü€",
        Some("cm test"),
    )
    .unwrap();
    dir.write("x.pfx", &pfx);
    assert_pfx_reads(&dir, "x.pfx", "PW ü€", Some("cm test"));

    let wrong = dir.openssl(&[
        "pkcs12", "-in", "x.pfx", "-passin", "pass:PW", "-nodes", "-out", "w.pem",
    ]);
    assert!(!wrong.status.success());
    assert!(
        String::from_utf8_lossy(&wrong.stderr).contains("Mac verify error"),
        "{wrong:?}"
    );

    // empty password, no friendly name
    let pfx = pkcs12(&key, &issued.cert_der, &[ca.cert_der()], "", None).unwrap();
    dir.write("empty.pfx", &pfx);
    assert_pfx_reads(&dir, "empty.pfx", "", None);

    // an RSA key from openssl, packed with a certificate issued from its CSR
    let csr = make_csr(&dir, "rsa", RSA_2048);
    let issued = ca.issue_from_csr(&csr, &IssueSpec::default()).unwrap();
    dir.openssl_ok(&[
        "pkcs8",
        "-topk8",
        "-nocrypt",
        "-in",
        "rsa.key.pem",
        "-outform",
        "DER",
        "-out",
        "rsa.p8",
    ]);
    let rsa_key = dir.read("rsa.p8");
    let pfx = pkcs12(
        &rsa_key,
        &issued.cert_der,
        &[ca.cert_der()],
        "secret",
        Some("rsa"),
    )
    .unwrap();
    dir.write("rsa.pfx", &pfx);
    assert_pfx_reads(&dir, "rsa.pfx", "secret", Some("rsa"));
}

#[test]
fn des_ede3_matches_openssl_enc() {
    let Some(dir) = with_openssl() else { return };
    let key: [u8; 24] = *b"\x8a\xaa\xe6\x29\x7b\x6c\xb0\x46\x42\xab\x5b\x07\x78\x51\x28\x4e\xb7\x12\x8f\x1a\x2a\x7f\xbc\xa3";
    let challenge = *b"\x01\x23\x45\x67\x89\xab\xcd\xef";
    dir.write("challenge.bin", challenge);
    let key_hex = hex_upper(&key);
    dir.openssl_ok(&[
        "enc",
        "-des-ede3",
        "-K",
        &key_hex,
        "-nopad",
        "-in",
        "challenge.bin",
        "-out",
        "response.bin",
    ]);
    assert_eq!(dir.read("response.bin"), des3_ecb_encrypt(&key, &challenge));
}
