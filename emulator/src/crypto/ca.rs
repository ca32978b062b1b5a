//! The emulator's throwaway test CA: an ECDSA P-256 key made at start-up, a self-signed X.509 v3
//! certificate, and end-entity certificates issued from verified PKCS#10 requests or for keys the
//! emulator generates itself.

use super::csr::{self, CsrError};
use super::der;
use super::oids;
use super::text::{hex_upper, pem};
use super::time::{json_text, now_unix};
use ring::digest::{SHA1_FOR_LEGACY_USE_ONLY, digest};
use ring::rand::{SecureRandom, SystemRandom};
use ring::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, KeyPair};
use zeroize::Zeroizing;

/// The CA certificate's subject (and issuer) common name.
pub const CA_COMMON_NAME: &str = "cm-emulator test CA";

/// X.509 KeyUsage bits, with the values of .NET's `X509KeyUsageFlags` (low byte = first byte of the
/// BIT STRING, `DECIPHER_ONLY` = bit 8).
pub mod key_usage {
    pub const DIGITAL_SIGNATURE: u16 = 0x0080;
    pub const NON_REPUDIATION: u16 = 0x0040;
    pub const KEY_ENCIPHERMENT: u16 = 0x0020;
    pub const DATA_ENCIPHERMENT: u16 = 0x0010;
    pub const KEY_AGREEMENT: u16 = 0x0008;
    pub const KEY_CERT_SIGN: u16 = 0x0004;
    pub const CRL_SIGN: u16 = 0x0002;
    pub const ENCIPHER_ONLY: u16 = 0x0001;
    pub const DECIPHER_ONLY: u16 = 0x8000;

    /// Maps CM's CSR-option `KeyUsages` (CNG private key usages: 1 decrypt, 2 signing, 4 key agreement,
    /// 0xFFFFFF all) to KeyUsage bits: decrypt → keyEncipherment, signing → digitalSignature,
    /// key agreement → keyAgreement. Other bits are ignored.
    pub fn from_private_key_usages(usages: i64) -> u16 {
        let mut bits = 0;
        if usages & 1 != 0 {
            bits |= KEY_ENCIPHERMENT;
        }
        if usages & 2 != 0 {
            bits |= DIGITAL_SIGNATURE;
        }
        if usages & 4 != 0 {
            bits |= KEY_AGREEMENT;
        }
        bits
    }
}

/// What to put in an issued certificate besides the key and the subject.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssueSpec {
    /// Replaces the CSR's subject with `CN=<this>` (a leading `"CN="` is stripped). `None`: the CSR
    /// subject as sent. Ignored by [`TestCa::issue_with_new_key`], which takes the CN as an argument.
    pub subject: Option<String>,
    /// KeyUsage bits ([`key_usage`]); 0 leaves the extension out.
    pub key_usage: u16,
    /// Adds the Microsoft smart card logon EKU (1.3.6.1.4.1.311.20.2.2) after clientAuth.
    pub smartcard_logon: bool,
}

impl Default for IssueSpec {
    /// Subject from the CSR, digitalSignature + keyEncipherment, clientAuth only.
    fn default() -> Self {
        IssueSpec {
            subject: None,
            key_usage: key_usage::DIGITAL_SIGNATURE | key_usage::KEY_ENCIPHERMENT,
            smartcard_logon: false,
        }
    }
}

/// An issued certificate and the facts CM reports about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issued {
    pub cert_der: Vec<u8>,
    /// The serial number's DER INTEGER content in uppercase hex (32 digits), as Windows shows it.
    pub serial_hex: String,
    /// SHA-1 of the certificate DER, uppercase hex (40 digits).
    pub thumbprint_hex: String,
    /// `"YYYY-MM-DDTHH:MM:SS"`, UTC.
    pub not_before: String,
    pub not_after: String,
    /// The subject as Windows shows it (`"CN=x, O=y"`).
    pub subject_text: String,
    /// The issuer, same form (`"CN=cm-emulator test CA"`).
    pub issuer_text: String,
}

impl Issued {
    pub fn cert_pem(&self) -> String {
        pem("CERTIFICATE", &self.cert_der)
    }
}

/// A throwaway certificate authority (new key at every [`TestCa::generate`]).
pub struct TestCa {
    key: EcdsaKeyPair,
    cert_der: Vec<u8>,
    name_der: Vec<u8>,
    key_id: Vec<u8>,
    rng: SystemRandom,
}

impl std::fmt::Debug for TestCa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestCa")
            .field("key_id", &hex_upper(&self.key_id))
            .finish_non_exhaustive()
    }
}

const HOUR: i64 = 3600;
const DAY: i64 = 24 * HOUR;

impl TestCa {
    /// A new P-256 key and a self-signed v3 CA certificate: CN "cm-emulator test CA",
    /// basicConstraints CA:TRUE (critical), keyUsage keyCertSign + cRLSign (critical), subject and
    /// authority key identifiers, valid from one hour ago for ten years.
    ///
    /// Panics only if the operating system's random generator fails.
    pub fn generate() -> TestCa {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &rng)
            .expect("ring could not generate a P-256 key (no system randomness?)");
        let key = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8.as_ref(), &rng)
            .expect("ring rejected the key it just generated");
        let public_key = key.public_key().as_ref().to_vec();
        let key_id = key_identifier(&public_key);
        let name_der = common_name(CA_COMMON_NAME);
        let mut ca = TestCa {
            key,
            cert_der: Vec::new(),
            name_der: name_der.clone(),
            key_id: key_id.clone(),
            rng,
        };
        let now = now_unix();
        let ku = der::named_bits(&ku_bytes(key_usage::KEY_CERT_SIGN | key_usage::CRL_SIGN));
        let extensions = [
            extension(
                oids::BASIC_CONSTRAINTS,
                true,
                &der::sequence(&[&der::boolean(true)]),
            ),
            extension(oids::KEY_USAGE, true, &ku),
            extension(
                oids::SUBJECT_KEY_IDENTIFIER,
                false,
                &der::octet_string(&key_id),
            ),
            extension(
                oids::AUTHORITY_KEY_IDENTIFIER,
                false,
                &authority_key_id(&key_id),
            ),
        ];
        let serial = ca
            .random_serial()
            .expect("no system randomness for the CA serial number");
        let cert = ca
            .sign_certificate(
                &serial,
                now - HOUR,
                now + 3652 * DAY,
                &name_der,
                &p256_spki(&public_key),
                &extensions,
            )
            .expect("ring could not sign the CA certificate");
        ca.cert_der = cert;
        ca
    }

    pub fn cert_der(&self) -> &[u8] {
        &self.cert_der
    }

    pub fn cert_pem(&self) -> String {
        pem("CERTIFICATE", &self.cert_der)
    }

    /// The CA's key identifier (SHA-1 of its public key point), as in its certificate.
    pub fn key_id(&self) -> &[u8] {
        &self.key_id
    }

    /// Verifies a DER PKCS#10 request (see [`csr::parse_and_verify`] for the accepted algorithms) and
    /// issues an end-entity certificate for its key: random 16-byte positive serial, the CSR subject
    /// (or `spec.subject`), the CSR's SubjectPublicKeyInfo as-is, basicConstraints CA:FALSE, keyUsage
    /// from `spec` (critical), extendedKeyUsage clientAuth (+ smartcardLogon), subject and authority
    /// key identifiers, valid from five minutes ago for 365 days, signed ecdsa-with-SHA256.
    pub fn issue_from_csr(&self, csr_der: &[u8], spec: &IssueSpec) -> Result<Issued, CsrError> {
        let request = csr::parse_and_verify(csr_der)?;
        let subject = match &spec.subject {
            Some(cn) => common_name(cn.strip_prefix("CN=").unwrap_or(cn)),
            None => request.subject_der,
        };
        self.issue(&subject, &request.spki_der, &request.public_key, spec)
    }

    /// Generates an ECDSA P-256 key (ring cannot generate RSA keys, so the emulator's server-side keys
    /// are P-256) and issues a certificate for it with subject `CN=<cn>` and the rest as in
    /// [`TestCa::issue_from_csr`]. Returns the certificate and the key as unencrypted PKCS#8 DER
    /// (wiped on drop), ready for [`super::pkcs12`].
    pub fn issue_with_new_key(
        &self,
        cn: &str,
        spec: &IssueSpec,
    ) -> Result<(Issued, Zeroizing<Vec<u8>>), CsrError> {
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &self.rng)
            .map_err(|_| CsrError::Internal("key generation failed"))?;
        let pkcs8 = Zeroizing::new(pkcs8.as_ref().to_vec());
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &pkcs8, &self.rng)
            .map_err(|_| CsrError::Internal("generated key rejected"))?;
        let public_key = pair.public_key().as_ref();
        let issued = self.issue(&common_name(cn), &p256_spki(public_key), public_key, spec)?;
        Ok((issued, pkcs8))
    }

    fn issue(
        &self,
        subject_der: &[u8],
        spki_der: &[u8],
        public_key: &[u8],
        spec: &IssueSpec,
    ) -> Result<Issued, CsrError> {
        let now = now_unix();
        let (not_before, not_after) = (now - 300, now + 365 * DAY);
        let mut ekus = vec![der::oid(oids::CLIENT_AUTH)];
        if spec.smartcard_logon {
            ekus.push(der::oid(oids::SMARTCARD_LOGON));
        }
        let eku_refs: Vec<&[u8]> = ekus.iter().map(Vec::as_slice).collect();
        let mut extensions = vec![extension(
            oids::BASIC_CONSTRAINTS,
            true,
            &der::sequence(&[]),
        )];
        if spec.key_usage != 0 {
            let ku = der::named_bits(&ku_bytes(spec.key_usage));
            extensions.push(extension(oids::KEY_USAGE, true, &ku));
        }
        extensions.push(extension(
            oids::EXT_KEY_USAGE,
            false,
            &der::sequence(&eku_refs),
        ));
        extensions.push(extension(
            oids::SUBJECT_KEY_IDENTIFIER,
            false,
            &der::octet_string(&key_identifier(public_key)),
        ));
        extensions.push(extension(
            oids::AUTHORITY_KEY_IDENTIFIER,
            false,
            &authority_key_id(&self.key_id),
        ));
        let serial = self.random_serial()?;
        let cert_der = self.sign_certificate(
            &serial,
            not_before,
            not_after,
            subject_der,
            spki_der,
            &extensions,
        )?;
        Ok(Issued {
            serial_hex: hex_upper(&serial),
            thumbprint_hex: hex_upper(digest(&SHA1_FOR_LEGACY_USE_ONLY, &cert_der).as_ref()),
            not_before: json_text(not_before),
            not_after: json_text(not_after),
            subject_text: csr::name_to_text(subject_der),
            issuer_text: csr::name_to_text(&self.name_der),
            cert_der,
        })
    }

    /// 16 random bytes, first byte in 0x40..=0x7F: positive, exactly 16 content bytes, no padding.
    fn random_serial(&self) -> Result<[u8; 16], CsrError> {
        let mut serial = [0u8; 16];
        self.rng
            .fill(&mut serial)
            .map_err(|_| CsrError::Internal("no randomness"))?;
        serial[0] = (serial[0] & 0x3f) | 0x40;
        Ok(serial)
    }

    /// Builds and signs a v3 certificate (DER).
    fn sign_certificate(
        &self,
        serial: &[u8],
        not_before: i64,
        not_after: i64,
        subject_der: &[u8],
        spki_der: &[u8],
        extensions: &[Vec<u8>],
    ) -> Result<Vec<u8>, CsrError> {
        let sig_alg = der::algorithm(oids::ECDSA_WITH_SHA256, None);
        let ext_refs: Vec<&[u8]> = extensions.iter().map(Vec::as_slice).collect();
        let tbs = der::sequence(&[
            &der::explicit(0, &[&der::integer_u64(2)]),
            &der::integer_unsigned(serial),
            &sig_alg,
            &self.name_der,
            &der::sequence(&[&der::time(not_before), &der::time(not_after)]),
            subject_der,
            spki_der,
            &der::explicit(3, &[&der::sequence(&ext_refs)]),
        ]);
        let signature = self
            .key
            .sign(&self.rng, &tbs)
            .map_err(|_| CsrError::Internal("signing failed"))?;
        Ok(der::sequence(&[
            &tbs,
            &sig_alg,
            &der::bit_string(signature.as_ref()),
        ]))
    }
}

/// `Name` with a single CN (UTF8String).
pub fn common_name(cn: &str) -> Vec<u8> {
    let atv = der::sequence(&[&der::oid(oids::COMMON_NAME), &der::utf8_string(cn)]);
    der::sequence(&[&der::set_of(&[&atv])])
}

/// SubjectPublicKeyInfo of an uncompressed P-256 point.
fn p256_spki(point: &[u8]) -> Vec<u8> {
    der::sequence(&[
        &der::algorithm(oids::EC_PUBLIC_KEY, Some(&der::oid(oids::PRIME256V1))),
        &der::bit_string(point),
    ])
}

/// RFC 5280 §4.2.1.2 method (1): SHA-1 of the subjectPublicKey bits.
fn key_identifier(public_key: &[u8]) -> Vec<u8> {
    digest(&SHA1_FOR_LEGACY_USE_ONLY, public_key)
        .as_ref()
        .to_vec()
}

/// AuthorityKeyIdentifier ::= SEQUENCE { keyIdentifier [0] IMPLICIT OCTET STRING }
fn authority_key_id(key_id: &[u8]) -> Vec<u8> {
    der::sequence(&[&der::tlv(0x80, key_id)])
}

fn ku_bytes(bits: u16) -> [u8; 2] {
    [(bits & 0xff) as u8, (bits >> 8) as u8]
}

/// Extension ::= SEQUENCE { extnID, critical BOOLEAN DEFAULT FALSE, extnValue OCTET STRING }
fn extension(id: &[u64], critical: bool, value: &[u8]) -> Vec<u8> {
    if critical {
        der::sequence(&[
            &der::oid(id),
            &der::boolean(true),
            &der::octet_string(value),
        ])
    } else {
        der::sequence(&[&der::oid(id), &der::octet_string(value)])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ca_certificate_is_well_formed_der() {
        let ca = TestCa::generate();
        let cert = der::parse_single(ca.cert_der(), der::tag::SEQUENCE, "cert").unwrap();
        let mut parts = der::Reader::new(cert.content);
        let tbs = parts.expect(der::tag::SEQUENCE, "tbs").unwrap();
        parts.expect(der::tag::SEQUENCE, "alg").unwrap();
        parts.expect(der::tag::BIT_STRING, "sig").unwrap();
        parts.finish("end").unwrap();
        // the self-signature verifies with the CA's own key
        let mut fields = der::Reader::new(cert.content);
        fields.read().unwrap();
        fields.read().unwrap();
        let bits = fields.read().unwrap();
        let pk = ca.key.public_key().as_ref();
        ring::signature::UnparsedPublicKey::new(&ring::signature::ECDSA_P256_SHA256_ASN1, pk)
            .verify(tbs.raw, &bits.content[1..])
            .unwrap();
        assert_eq!(ca.key_id().len(), 20);
        assert!(ca.cert_pem().starts_with("-----BEGIN CERTIFICATE-----\n"));
    }

    #[test]
    fn new_key_issue_fills_the_report() {
        let ca = TestCa::generate();
        let (issued, pkcs8) = ca
            .issue_with_new_key("server key", &IssueSpec::default())
            .unwrap();
        assert_eq!(issued.serial_hex.len(), 32);
        assert!(
            issued
                .serial_hex
                .chars()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_lowercase())
        );
        assert_eq!(issued.thumbprint_hex.len(), 40);
        assert_eq!(issued.subject_text, "CN=server key");
        assert_eq!(issued.issuer_text, "CN=cm-emulator test CA");
        assert_eq!(issued.not_before.len(), 19);
        assert!(issued.not_before < issued.not_after);
        assert!(
            EcdsaKeyPair::from_pkcs8(
                &ECDSA_P256_SHA256_ASN1_SIGNING,
                &pkcs8,
                &SystemRandom::new()
            )
            .is_ok()
        );
        let (second, _) = ca
            .issue_with_new_key("server key", &IssueSpec::default())
            .unwrap();
        assert_ne!(second.serial_hex, issued.serial_hex);
    }

    #[test]
    fn private_key_usages_map() {
        assert_eq!(
            key_usage::from_private_key_usages(3),
            key_usage::DIGITAL_SIGNATURE | key_usage::KEY_ENCIPHERMENT
        );
        assert_eq!(
            key_usage::from_private_key_usages(4),
            key_usage::KEY_AGREEMENT
        );
        assert_eq!(key_usage::from_private_key_usages(0), 0);
    }
}
