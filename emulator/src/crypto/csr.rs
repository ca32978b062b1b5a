//! PKCS#10 CertificationRequest parsing (RFC 2986) and self-signature verification with ring.

use super::der::{self, DerError, Reader, tag};
use super::oids;
use ring::signature::{self, UnparsedPublicKey, VerificationAlgorithm};

/// Why a CSR was refused (or, for [`CsrError::Internal`], why issuing failed on our side).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CsrError {
    /// Not DER, or not shaped like a PKCS#10 CertificationRequest.
    Malformed(&'static str),
    /// A signature or key algorithm the emulator does not accept (dotted OID or a description).
    UnsupportedAlgorithm(String),
    /// The CSR's self-signature does not verify with its own public key.
    BadSignature,
    /// Key generation or signing failed inside ring (should not happen).
    Internal(&'static str),
}

impl std::fmt::Display for CsrError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CsrError::Malformed(what) => write!(f, "not a valid PKCS#10 request: {what}"),
            CsrError::UnsupportedAlgorithm(alg) => write!(f, "unsupported algorithm {alg}"),
            CsrError::BadSignature => f.write_str("the request's signature does not verify"),
            CsrError::Internal(what) => write!(f, "internal error: {what}"),
        }
    }
}

impl std::error::Error for CsrError {}

impl From<DerError> for CsrError {
    fn from(e: DerError) -> Self {
        CsrError::Malformed(e.0)
    }
}

/// A PKCS#10 request whose signature has been verified.
#[derive(Debug, Clone)]
pub struct VerifiedCsr {
    /// The subject Name, complete DER TLV, as sent.
    pub subject_der: Vec<u8>,
    /// The SubjectPublicKeyInfo, complete DER TLV, as sent.
    pub spki_der: Vec<u8>,
    /// The subjectPublicKey BIT STRING's bytes (for the subject key identifier).
    pub public_key: Vec<u8>,
    /// e.g. `"sha256WithRSAEncryption"`.
    pub signature_algorithm: &'static str,
}

/// Parses a DER PKCS#10 request and verifies its self-signature. Accepted signatures:
/// sha1/sha256/sha384/sha512WithRSAEncryption (RSA 2048..8192 bits) and ecdsa-with-SHA256/384
/// (P-256 or P-384 keys). Trailing bytes after the request are refused.
pub fn parse_and_verify(csr_der: &[u8]) -> Result<VerifiedCsr, CsrError> {
    let outer = der::parse_single(
        csr_der,
        tag::SEQUENCE,
        "CertificationRequest is not a SEQUENCE",
    )?;
    let mut fields = Reader::new(outer.content);
    let info = fields.expect(tag::SEQUENCE, "certificationRequestInfo missing")?;
    let sig_alg = fields.expect(tag::SEQUENCE, "signatureAlgorithm missing")?;
    let sig = fields.expect(tag::BIT_STRING, "signature missing")?;
    fields.finish("extra fields in CertificationRequest")?;

    let mut info_fields = Reader::new(info.content);
    let version = info_fields.expect(tag::INTEGER, "version missing")?;
    if version.content != [0] {
        return Err(CsrError::Malformed("version is not 0 (v1)"));
    }
    let subject = info_fields.expect(tag::SEQUENCE, "subject missing")?;
    validate_name(subject.content)?;
    let spki = info_fields.expect(tag::SEQUENCE, "subjectPKInfo missing")?;
    if !info_fields.is_empty() {
        // attributes [0] IMPLICIT SET OF Attribute (required by RFC 2986, tolerated when absent)
        info_fields.expect(0xa0, "attributes are not [0]")?;
        info_fields.finish("extra fields in certificationRequestInfo")?;
    }

    let (key_alg, key_params, public_key) = parse_spki(spki.content)?;
    let (sig_oid, sig_params) = parse_algorithm(sig_alg.content)?;
    let signature = bit_string_bytes(sig.content, "signature")?;
    let (name, algorithm) = pick_algorithm(&sig_oid, sig_params, &key_alg, key_params)?;

    UnparsedPublicKey::new(algorithm, public_key)
        .verify(info.raw, signature)
        .map_err(|_| CsrError::BadSignature)?;

    Ok(VerifiedCsr {
        subject_der: subject.raw.to_vec(),
        spki_der: spki.raw.to_vec(),
        public_key: public_key.to_vec(),
        signature_algorithm: name,
    })
}

/// `(algorithm OID content, parameters TLV raw if any, public key bytes)`.
type SpkiParts<'a> = (Vec<u8>, Option<&'a [u8]>, &'a [u8]);

fn parse_spki(content: &[u8]) -> Result<SpkiParts<'_>, CsrError> {
    let mut r = Reader::new(content);
    let alg = r.expect(tag::SEQUENCE, "SubjectPublicKeyInfo algorithm missing")?;
    let key = r.expect(tag::BIT_STRING, "subjectPublicKey missing")?;
    r.finish("extra fields in SubjectPublicKeyInfo")?;
    let (oid, params) = parse_algorithm(alg.content)?;
    Ok((
        oid,
        params,
        bit_string_bytes(key.content, "subjectPublicKey")?,
    ))
}

/// `(OID content, parameters TLV raw)` of an AlgorithmIdentifier's content.
fn parse_algorithm(content: &[u8]) -> Result<(Vec<u8>, Option<&[u8]>), CsrError> {
    let mut r = Reader::new(content);
    let oid = r.expect(tag::OID, "algorithm OID missing")?;
    let params = if r.is_empty() {
        None
    } else {
        Some(r.read()?.raw)
    };
    r.finish("extra fields in AlgorithmIdentifier")?;
    Ok((oid.content.to_vec(), params))
}

fn bit_string_bytes<'a>(content: &'a [u8], what: &'static str) -> Result<&'a [u8], CsrError> {
    match content.split_first() {
        Some((0, bytes)) => Ok(bytes),
        _ => Err(CsrError::Malformed(match what {
            "signature" => "signature BIT STRING has unused bits or is empty",
            _ => "public key BIT STRING has unused bits or is empty",
        })),
    }
}

/// A Name must be a SEQUENCE OF SET OF SEQUENCE { OID, value }.
pub(crate) fn validate_name(content: &[u8]) -> Result<(), CsrError> {
    let mut rdns = Reader::new(content);
    while !rdns.is_empty() {
        let rdn = rdns.expect(tag::SET, "subject RDN is not a SET")?;
        let mut atvs = Reader::new(rdn.content);
        if atvs.is_empty() {
            return Err(CsrError::Malformed("empty RDN in subject"));
        }
        while !atvs.is_empty() {
            let atv = atvs.expect(tag::SEQUENCE, "subject attribute is not a SEQUENCE")?;
            let mut parts = Reader::new(atv.content);
            parts.expect(tag::OID, "subject attribute type missing")?;
            parts
                .read()
                .map_err(|_| DerError("subject attribute value missing"))?;
            parts.finish("extra fields in subject attribute")?;
        }
    }
    Ok(())
}

fn is(oid_content: &[u8], arcs: &[u64]) -> bool {
    oid_content == der::oid_content(arcs).as_slice()
}

fn params_absent_or_null(params: Option<&[u8]>) -> bool {
    matches!(params, None | Some([tag::NULL, 0]))
}

fn pick_algorithm(
    sig_oid: &[u8],
    sig_params: Option<&[u8]>,
    key_oid: &[u8],
    key_params: Option<&[u8]>,
) -> Result<(&'static str, &'static dyn VerificationAlgorithm), CsrError> {
    let rsa: Option<(&'static str, &'static dyn VerificationAlgorithm)> =
        if is(sig_oid, oids::SHA256_WITH_RSA) {
            Some((
                "sha256WithRSAEncryption",
                &signature::RSA_PKCS1_2048_8192_SHA256,
            ))
        } else if is(sig_oid, oids::SHA1_WITH_RSA) {
            Some((
                "sha1WithRSAEncryption",
                &signature::RSA_PKCS1_2048_8192_SHA1_FOR_LEGACY_USE_ONLY,
            ))
        } else if is(sig_oid, oids::SHA384_WITH_RSA) {
            Some((
                "sha384WithRSAEncryption",
                &signature::RSA_PKCS1_2048_8192_SHA384,
            ))
        } else if is(sig_oid, oids::SHA512_WITH_RSA) {
            Some((
                "sha512WithRSAEncryption",
                &signature::RSA_PKCS1_2048_8192_SHA512,
            ))
        } else {
            None
        };
    if let Some(found) = rsa {
        if !params_absent_or_null(sig_params) {
            return Err(CsrError::Malformed(
                "RSA signature algorithm parameters are not NULL",
            ));
        }
        if !is(key_oid, oids::RSA_ENCRYPTION) {
            return Err(CsrError::UnsupportedAlgorithm(
                "an RSA signature with a non-RSA key".into(),
            ));
        }
        return Ok(found);
    }

    let sha384 = if is(sig_oid, oids::ECDSA_WITH_SHA256) {
        false
    } else if is(sig_oid, oids::ECDSA_WITH_SHA384) {
        true
    } else {
        return Err(CsrError::UnsupportedAlgorithm(
            der::oid_to_string(sig_oid).unwrap_or_else(|| "(malformed OID)".into()),
        ));
    };
    if !params_absent_or_null(sig_params) {
        return Err(CsrError::Malformed(
            "ECDSA signature algorithm has parameters",
        ));
    }
    if !is(key_oid, oids::EC_PUBLIC_KEY) {
        return Err(CsrError::UnsupportedAlgorithm(
            "an ECDSA signature with a non-EC key".into(),
        ));
    }
    let curve = key_params
        .and_then(|p| der::parse_single(p, tag::OID, "curve").ok())
        .ok_or(CsrError::UnsupportedAlgorithm(
            "EC key without a named curve".into(),
        ))?;
    let p256 = is(curve.content, oids::PRIME256V1);
    let p384 = is(curve.content, oids::SECP384R1);
    Ok(match (p256, p384, sha384) {
        (true, _, false) => ("ecdsa-with-SHA256", &signature::ECDSA_P256_SHA256_ASN1),
        (true, _, true) => ("ecdsa-with-SHA384", &signature::ECDSA_P256_SHA384_ASN1),
        (_, true, false) => ("ecdsa-with-SHA256", &signature::ECDSA_P384_SHA256_ASN1),
        (_, true, true) => ("ecdsa-with-SHA384", &signature::ECDSA_P384_SHA384_ASN1),
        _ => {
            return Err(CsrError::UnsupportedAlgorithm(format!(
                "EC curve {}",
                der::oid_to_string(curve.content).unwrap_or_default()
            )));
        }
    })
}

/// Renders a Name (complete DER TLV) the way Windows shows a subject: most specific RDN first,
/// `", "` between RDNs, `" + "` inside a multi-valued RDN, short names (CN, OU, O, L, S, C, E, DC, …) or
/// the dotted OID, values quoted when they contain separators. Unknown value types show as `#hex`.
pub fn name_to_text(name_der: &[u8]) -> String {
    let Ok(name) = der::parse_single(name_der, tag::SEQUENCE, "Name") else {
        return String::new();
    };
    let mut rdn_texts = Vec::new();
    let mut rdns = Reader::new(name.content);
    while let Ok(rdn) = rdns.read() {
        let mut parts = Vec::new();
        let mut atvs = Reader::new(rdn.content);
        while let Ok(atv) = atvs.read() {
            let mut r = Reader::new(atv.content);
            let (Ok(oid), Ok(value)) = (r.read(), r.read()) else {
                continue;
            };
            let dotted = der::oid_to_string(oid.content).unwrap_or_default();
            let key = oids::attribute_short_name(&dotted)
                .map(str::to_owned)
                .unwrap_or_else(|| format!("OID.{dotted}"));
            parts.push(format!(
                "{key}={}",
                value_text(value.tag, value.content, value.raw)
            ));
        }
        rdn_texts.push(parts.join(" + "));
    }
    rdn_texts.reverse();
    rdn_texts.join(", ")
}

fn value_text(value_tag: u8, content: &[u8], raw: &[u8]) -> String {
    let decoded = match value_tag {
        tag::UTF8_STRING | tag::PRINTABLE_STRING | tag::IA5_STRING => {
            std::str::from_utf8(content).ok().map(str::to_owned)
        }
        // T61String: treat as Latin-1, as Windows does in practice
        tag::T61_STRING => Some(content.iter().map(|b| *b as char).collect()),
        tag::BMP_STRING if content.len().is_multiple_of(2) => String::from_utf16(
            &content
                .chunks_exact(2)
                .map(|c| u16::from_be_bytes([c[0], c[1]]))
                .collect::<Vec<_>>(),
        )
        .ok(),
        tag::UNIVERSAL_STRING if content.len().is_multiple_of(4) => content
            .chunks_exact(4)
            .map(|c| char::from_u32(u32::from_be_bytes([c[0], c[1], c[2], c[3]])))
            .collect(),
        _ => None,
    };
    match decoded {
        Some(text) => quote_if_needed(&text),
        None => format!("#{}", super::text::hex_upper(raw)),
    }
}

fn quote_if_needed(text: &str) -> String {
    let needs = text.is_empty()
        || text.starts_with(' ')
        || text.ends_with(' ')
        || text.contains([',', '+', '=', '"', '\n', '\r', '<', '>', '#', ';']);
    if needs {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(rdns: &[(&[u64], &str)]) -> Vec<u8> {
        let sets: Vec<Vec<u8>> = rdns
            .iter()
            .map(|(arcs, v)| {
                der::set_of(&[&der::sequence(&[&der::oid(arcs), &der::utf8_string(v)])])
            })
            .collect();
        let refs: Vec<&[u8]> = sets.iter().map(Vec::as_slice).collect();
        der::sequence(&refs)
    }

    #[test]
    fn subject_text_is_reversed_and_quoted() {
        let n = name(&[
            (&[2, 5, 4, 6], "US"),
            (&[2, 5, 4, 10], "Contoso, Ltd"),
            (oids::COMMON_NAME, "Jane"),
        ]);
        assert_eq!(name_to_text(&n), "CN=Jane, O=\"Contoso, Ltd\", C=US");
        let odd = name(&[(&[1, 2, 3, 4], "x")]);
        assert_eq!(name_to_text(&odd), "OID.1.2.3.4=x");
        assert_eq!(name_to_text(&der::sequence(&[])), "");
    }

    #[test]
    fn garbage_is_malformed_not_a_panic() {
        for bad in [
            &[][..],
            &[0x30, 0x00],
            &[0x30, 0x03, 0x30, 0x01, 0x00],
            &[0x04, 0x01, 0x00],
        ] {
            assert!(
                matches!(parse_and_verify(bad), Err(CsrError::Malformed(_))),
                "{bad:?}"
            );
        }
    }
}
