//! # Crypto for the enrollment flow: test CA, PKCS#7/#12, the card admin challenge-response
//!
//! Everything the emulator signs or encrypts, on `ring` (ECDSA, RSA verification, SHA-1, HMAC,
//! randomness) and RustCrypto's `des` (3DES, which ring lacks). ASN.1 is hand-written DER
//! ([`der`]); no X.509 or OpenSSL crate.
//!
//! ## API
//! - [`TestCa::generate`]`() -> TestCa`: a throwaway ECDSA P-256 CA, self-signed v3 certificate
//!   (CN "cm-emulator test CA", basicConstraints CA:TRUE critical, keyUsage keyCertSign + cRLSign
//!   critical, subject/authority key identifiers, valid now − 1 h … now + 10 y).
//!   [`TestCa::cert_der`]`() -> &[u8]`, [`TestCa::cert_pem`]`() -> String`, [`TestCa::key_id`].
//! - [`TestCa::issue_from_csr`]`(&self, csr_der: &[u8], spec: &IssueSpec) -> Result<Issued, CsrError>`:
//!   parses the PKCS#10 request, verifies its self-signature (sha1/256/384/512WithRSAEncryption with
//!   2048–8192-bit keys, ecdsa-with-SHA256/384 with P-256/P-384 keys; anything else, bad DER or a bad
//!   signature → [`CsrError`]) and issues an end-entity certificate: 16-byte random positive serial,
//!   subject from the CSR (or `CN=spec.subject`), SPKI copied, basicConstraints CA:FALSE, keyUsage
//!   `spec.key_usage` (critical, omitted when 0), extendedKeyUsage clientAuth (+ smartcardLogon
//!   1.3.6.1.4.1.311.20.2.2 when `spec.smartcard_logon`), SKI, AKI, valid now − 5 min … now + 365 d,
//!   signed ecdsa-with-SHA256.
//! - [`TestCa::issue_with_new_key`]`(&self, cn: &str, spec: &IssueSpec) -> Result<(Issued,
//!   Zeroizing<Vec<u8>>), CsrError>`: server-side key generation. ring cannot generate RSA keys, so
//!   **the emulator's server-generated keys are ECDSA P-256**; the second value is the PKCS#8 DER.
//! - [`Issued`]` { cert_der, serial_hex, thumbprint_hex, not_before, not_after, subject_text,
//!   issuer_text }` (hex uppercase like Windows; times `"YYYY-MM-DDTHH:MM:SS"` UTC; subject like
//!   Windows shows it, `"CN=x, O=y"`), [`Issued::cert_pem`].
//! - [`IssueSpec`]` { subject: Option<String>, key_usage: u16, smartcard_logon: bool }` with
//!   [`key_usage`] bit constants (.NET `X509KeyUsageFlags` values) and
//!   [`key_usage::from_private_key_usages`] for CM's CSR-option `KeyUsages` (1 decrypt, 2 sign, 4 agree).
//! - [`pkcs7_certs_only`]`(certs: &[&[u8]]) -> Vec<u8>`: degenerate PKCS#7 SignedData (as
//!   `openssl crl2pkcs7 -nocrl` writes).
//! - [`pkcs12`]`(key_pkcs8, cert_der, chain: &[&[u8]], password: &str, friendly_name: Option<&str>)
//!   -> Result<Vec<u8>, Pkcs12Error>`: PFX with the key in a pkcs8ShroudedKeyBag
//!   (pbeWithSHAAnd3-KeyTripleDES-CBC, 2048 iterations), certs in plain `data`, localKeyId linking key
//!   and leaf, HMAC-SHA1 MAC: read by OpenSSL 3 without the legacy provider and by Windows.
//! - [`des3_ecb_encrypt`]`(key: &[u8; 24], block: &[u8; 8]) -> [u8; 8]`: the Base CSP admin
//!   challenge-response (3DES-EDE ECB, key K1|K2|K3); [`des3_ecb_decrypt`] its inverse.
//! - [`diversify_admin_key`]`(master: &[u8; 24], card_id: &[u8; 16]) -> [u8; 24]`: the emulator's
//!   per-card admin key, `E(M, id[0..8]) | E(M, id[8..16]) | E(M, id[0..8] ^ id[8..16])` under 3DES-EDE
//!   ECB, odd DES parity applied (card id bytes in GUID RFC 4122 order, `Uuid::as_bytes`).
//! - [`base64_decode_lenient`]`(text: &str) -> Option<Vec<u8>>` (line breaks, whitespace, PEM armour,
//!   optional padding), [`base64_crlf`]`(bytes) -> String` (64-char lines joined by `"\r\n"`),
//!   [`pem`]`(label, der) -> String`, [`hex_upper`].
//! - [`der`]: the DER writer and reader the rest is built on.
//!
//! [`TestCa`] is `Send + Sync`: one instance can serve every connection thread.
//!
//! ```
//! use cm_emulator::crypto::{IssueSpec, TestCa, des3_ecb_encrypt, pkcs7_certs_only, pkcs12};
//! let ca = TestCa::generate();
//! // server-generated key → PFX; a CSR would go through ca.issue_from_csr(&der, &spec)
//! let (issued, key) = ca.issue_with_new_key("Jane Doe", &IssueSpec::default()).unwrap();
//! let p7 = pkcs7_certs_only(&[&issued.cert_der, ca.cert_der()]);
//! let pfx = pkcs12(&key, &issued.cert_der, &[ca.cert_der()], "pfx password", Some("Jane")).unwrap();
//! assert!(p7.len() > issued.cert_der.len() && pfx.len() > key.len());
//! assert_eq!(issued.subject_text, "CN=Jane Doe");
//! // Base CSP admin challenge-response
//! let response = des3_ecb_encrypt(&[0x11; 24], &[1, 2, 3, 4, 5, 6, 7, 8]);
//! assert_eq!(response.len(), 8);
//! ```

pub mod ca;
pub mod csr;
pub mod der;
pub mod des3;
mod oids;
pub mod pkcs12;
pub mod pkcs7;
pub mod text;
pub mod time;

#[cfg(test)]
mod openssl_tests;

pub use ca::{CA_COMMON_NAME, IssueSpec, Issued, TestCa, key_usage};
pub use csr::{CsrError, VerifiedCsr};
pub use des3::{des3_ecb_decrypt, des3_ecb_encrypt, diversify_admin_key};
pub use pkcs7::pkcs7_certs_only;
pub use pkcs12::{PKCS12_ITERATIONS, Pkcs12Error, pkcs12};
pub use text::{base64_crlf, base64_decode_lenient, hex_upper, pem};

#[cfg(test)]
mod send_sync {
    fn assert_send_sync<T: Send + Sync>() {}

    #[test]
    fn test_ca_is_shareable_between_threads() {
        assert_send_sync::<super::TestCa>();
        assert_send_sync::<super::Issued>();
    }
}
