//! The one place the API handlers reach the crypto module (`crate::crypto`): the test CA, PKCS#7/PKCS#12,
//! the Base CSP admin challenge-response and admin key diversification, base64.
//!
//! TEMPORARY STUB until the crypto branch is merged: 3DES and base64 are real, certificate issuing fails.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, STANDARD_PAD_INDIFFERENT};
use des::TdesEde3;
use des::cipher::generic_array::GenericArray;
use des::cipher::{BlockEncrypt, KeyInit};

/// `Issuer` of the certificates in `GET /certificates` (CA host `\` CA name, as the documentation shows it).
pub(crate) const ISSUER_NAME: &str = "cm-emulator.invalid\\cm-emulator Test CA";

/// What a certificate is issued for.
pub(crate) struct CertSpec<'a> {
    /// The certificate template's common name (`TemplateCommonName`).
    pub template_common_name: &'a str,
    pub friendly_name: &'a str,
    /// Subject for server-generated keys (CSR subjects are kept as sent).
    pub subject_cn: &'a str,
    /// NCRYPT key usages of the CSR option (1 decrypt, 2 sign, 3 both).
    pub key_usages: i64,
}

/// An issued certificate.
pub(crate) struct IssuedCert {
    pub cert_der: Vec<u8>,
    pub serial_hex: String,
    pub thumbprint_hex: String,
    /// `2016-07-13T09:10:31` form.
    pub not_before: String,
    pub not_after: String,
}

/// The emulator's throwaway test CA.
pub(crate) struct Pki {}

impl std::fmt::Debug for Pki {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Pki")
    }
}

impl Pki {
    pub fn new() -> Pki {
        Pki {}
    }

    pub fn ca_pem(&self) -> String {
        String::new()
    }

    /// Verifies a PKCS#10 request and issues its certificate. `Err` = the CSR is not acceptable (400).
    pub fn issue_from_csr(&self, _csr_der: &[u8], _spec: &CertSpec) -> Result<IssuedCert, String> {
        Err("certificate issuing is not available yet".into())
    }

    /// Issues a certificate for a new server-generated key; the PKCS#12 holds key, certificate and CA.
    pub fn issue_with_server_key(
        &self,
        _spec: &CertSpec,
        _pfx_password: &str,
    ) -> Result<(IssuedCert, Vec<u8>), String> {
        Err("certificate issuing is not available yet".into())
    }

    /// Degenerate PKCS#7 SignedData: the certificate and the CA certificate.
    pub fn pkcs7(&self, _cert_der: &[u8]) -> Vec<u8> {
        Vec::new()
    }
}

/// 3DES-EDE ECB of one block: the Base CSP admin challenge-response.
pub(crate) fn des3_ecb(key: &[u8; 24], block: &[u8; 8]) -> [u8; 8] {
    let mut b = GenericArray::clone_from_slice(block);
    TdesEde3::new(GenericArray::from_slice(key)).encrypt_block(&mut b);
    b.into()
}

/// The per-card admin key: see `crypto::diversify_admin_key`.
pub(crate) fn diversify(master: &[u8; 24], card_id: &[u8; 16]) -> [u8; 24] {
    let mut first = [0u8; 8];
    let mut second = [0u8; 8];
    first.copy_from_slice(&card_id[..8]);
    second.copy_from_slice(&card_id[8..]);
    let mut mixed = [0u8; 8];
    for i in 0..8 {
        mixed[i] = first[i] ^ second[i];
    }
    let mut key = [0u8; 24];
    key[..8].copy_from_slice(&des3_ecb(master, &first));
    key[8..16].copy_from_slice(&des3_ecb(master, &second));
    key[16..].copy_from_slice(&des3_ecb(master, &mixed));
    for byte in key.iter_mut() {
        let high = *byte & 0xfe;
        *byte = high | u8::from(high.count_ones() % 2 == 0);
    }
    key
}

/// Plain base64 (no line breaks), as the API returns keys, responses, PKCS#7 and PFX.
pub(crate) fn b64(bytes: &[u8]) -> String {
    STANDARD.encode(bytes)
}

/// Base64 with line breaks / PEM armour tolerated.
pub(crate) fn b64_decode_lenient(text: &str) -> Option<Vec<u8>> {
    let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    if compact.is_empty() {
        return None;
    }
    STANDARD_PAD_INDIFFERENT.decode(compact.as_bytes()).ok()
}
