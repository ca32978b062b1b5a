//! The one place the API handlers reach the crypto module ([`crate::crypto`]): the test CA, PKCS#7 and
//! PKCS#12, the Base CSP admin challenge-response and admin key diversification, base64.

use crate::crypto::{self, CsrError, IssueSpec, TestCa, key_usage};

/// `Issuer` of the certificates in `GET /certificates` (CA host `\` CA name, as the documentation shows it).
pub(crate) const ISSUER_NAME: &str = "cm-emulator.invalid\\cm-emulator test CA";

/// What a certificate is issued for.
pub(crate) struct CertSpec<'a> {
    /// Friendly name of the PFX bags (server-generated keys).
    pub friendly_name: &'a str,
    /// Subject CN for server-generated keys (CSR subjects are kept as sent).
    pub subject_cn: &'a str,
    /// CNG private key usages of the template item (1 decrypt, 2 sign, 3 both).
    pub key_usages: i64,
    /// Smart card certificates get the smart card logon EKU.
    pub smartcard: bool,
}

impl CertSpec<'_> {
    fn issue_spec(&self) -> IssueSpec {
        IssueSpec {
            subject: None,
            key_usage: key_usage::from_private_key_usages(self.key_usages),
            smartcard_logon: self.smartcard,
        }
    }
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

impl From<crypto::Issued> for IssuedCert {
    fn from(i: crypto::Issued) -> Self {
        IssuedCert {
            cert_der: i.cert_der,
            serial_hex: i.serial_hex,
            thumbprint_hex: i.thumbprint_hex,
            not_before: i.not_before,
            not_after: i.not_after,
        }
    }
}

/// The emulator's throwaway test CA (a new key at every start).
#[derive(Debug)]
pub(crate) struct Pki {
    ca: TestCa,
}

impl Pki {
    pub fn new() -> Pki {
        Pki {
            ca: TestCa::generate(),
        }
    }

    pub fn ca_pem(&self) -> String {
        self.ca.cert_pem()
    }

    /// Verifies a PKCS#10 request (DER) and issues its certificate.
    pub fn issue_from_csr(&self, csr_der: &[u8], spec: &CertSpec) -> Result<IssuedCert, CsrError> {
        self.ca
            .issue_from_csr(csr_der, &spec.issue_spec())
            .map(IssuedCert::from)
    }

    /// Issues a certificate for a new server-generated key (P-256); returns it and the PKCS#12 holding
    /// key, certificate and CA certificate, encrypted under `pfx_password`.
    pub fn issue_with_server_key(
        &self,
        spec: &CertSpec,
        pfx_password: &str,
    ) -> Result<(IssuedCert, Vec<u8>), String> {
        let (issued, key) = self
            .ca
            .issue_with_new_key(spec.subject_cn, &spec.issue_spec())
            .map_err(|e| e.to_string())?;
        let pfx = crypto::pkcs12(
            &key,
            &issued.cert_der,
            &[self.ca.cert_der()],
            pfx_password,
            Some(spec.friendly_name),
        )
        .map_err(|e| e.to_string())?;
        Ok((issued.into(), pfx))
    }

    /// Degenerate PKCS#7 SignedData: the certificate and the CA certificate.
    pub fn pkcs7(&self, cert_der: &[u8]) -> Vec<u8> {
        crypto::pkcs7_certs_only(&[cert_der, self.ca.cert_der()])
    }
}

/// 3DES-EDE ECB of one block: the Base CSP admin challenge-response.
pub(crate) fn des3_ecb(key: &[u8; 24], block: &[u8; 8]) -> [u8; 8] {
    crypto::des3_ecb_encrypt(key, block)
}

/// The per-card admin key (see [`crypto::diversify_admin_key`]).
pub(crate) fn diversify(master: &[u8; 24], card_id: &[u8; 16]) -> [u8; 24] {
    crypto::diversify_admin_key(master, card_id)
}

/// Plain base64 (no line breaks), as the API returns keys, responses, PKCS#7 and PFX.
pub(crate) fn b64(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Base64 with line breaks, whitespace or PEM armour tolerated.
pub(crate) fn b64_decode_lenient(text: &str) -> Option<Vec<u8>> {
    crypto::base64_decode_lenient(text)
}
