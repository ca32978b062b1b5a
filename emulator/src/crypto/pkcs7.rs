//! Certificates-only ("degenerate") PKCS#7 SignedData, RFC 2315 §9.1 / RFC 5652 §5.

use super::der;
use super::oids;

/// A PKCS#7 ContentInfo of type signedData carrying `certs` (complete DER certificates, in this
/// order) and nothing else: version 1, no digest algorithms, an empty `data` content, no CRLs, no
/// signers. The same structure `openssl crl2pkcs7 -nocrl` writes.
pub fn pkcs7_certs_only(certs: &[&[u8]]) -> Vec<u8> {
    let signed_data = der::sequence(&[
        &der::integer_u64(1),
        &der::set_of(&[]),
        &der::sequence(&[&der::oid(oids::PKCS7_DATA)]),
        // certificates [0] IMPLICIT SET OF Certificate: the certificates as given, not sorted
        &der::constructed(0xa0, certs),
        &der::set_of(&[]),
    ]);
    der::sequence(&[
        &der::oid(oids::PKCS7_SIGNED_DATA),
        &der::explicit(0, &[&signed_data]),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn structure() {
        let fake_a = der::sequence(&[&der::integer_u64(1)]);
        let fake_b = der::sequence(&[&der::integer_u64(2)]);
        let p7 = pkcs7_certs_only(&[&fake_b, &fake_a]);
        let outer = der::parse_single(&p7, der::tag::SEQUENCE, "ContentInfo").unwrap();
        let mut r = der::Reader::new(outer.content);
        assert_eq!(
            r.read().unwrap().raw,
            der::oid(oids::PKCS7_SIGNED_DATA).as_slice()
        );
        let wrapper = r.expect(0xa0, "content").unwrap();
        r.finish("end").unwrap();
        let sd = der::parse_single(wrapper.content, der::tag::SEQUENCE, "SignedData").unwrap();
        let mut f = der::Reader::new(sd.content);
        assert_eq!(f.read().unwrap().raw, &[2, 1, 1]);
        assert_eq!(f.read().unwrap().raw, &[0x31, 0]);
        assert_eq!(
            f.read().unwrap().content,
            der::oid(oids::PKCS7_DATA).as_slice()
        );
        let certs = f.expect(0xa0, "certificates").unwrap();
        assert_eq!(
            certs.content,
            [fake_b.clone(), fake_a.clone()].concat().as_slice()
        );
        assert_eq!(f.read().unwrap().raw, &[0x31, 0]);
        f.finish("end").unwrap();
    }
}
