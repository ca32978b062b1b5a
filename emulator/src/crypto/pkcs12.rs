//! PKCS#12 (RFC 7292) files that OpenSSL 3 (default provider, no legacy) and Windows both read:
//! the key in a pkcs8ShroudedKeyBag under pbeWithSHAAnd3-KeyTripleDES-CBC, the certificates in a
//! plain `data` SafeContents, an HMAC-SHA1 MAC, all keys derived with the PKCS#12 KDF (SHA-1).

use super::der;
use super::des3::des3_cbc_encrypt;
use super::oids;
use ring::digest::{Context, SHA1_FOR_LEGACY_USE_ONLY, digest};
use ring::hmac;
use ring::rand::{SecureRandom, SystemRandom};
use zeroize::Zeroizing;

/// Iteration count for both the key encryption and the MAC (OpenSSL's and Windows' default).
pub const PKCS12_ITERATIONS: u32 = 2048;

const SALT_LEN: usize = 8;

/// Why a PFX could not be built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pkcs12Error {
    /// The system random generator failed.
    NoRandomness,
}

impl std::fmt::Display for Pkcs12Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("no system randomness for the PKCS#12 salts")
    }
}

impl std::error::Error for Pkcs12Error {}

/// A PFX (PKCS#12 v3) holding `key_pkcs8` (unencrypted PKCS#8 PrivateKeyInfo DER) for `cert_der`, plus
/// `chain` (e.g. the CA certificate). The key is encrypted and the whole is MACed under `password`
/// (an empty password is encoded as the two-byte BMPString terminator, as OpenSSL does). The key bag
/// and the leaf certificate bag share a localKeyId (SHA-1 of the certificate); `friendly_name`, when
/// given, labels both.
pub fn pkcs12(
    key_pkcs8: &[u8],
    cert_der: &[u8],
    chain: &[&[u8]],
    password: &str,
    friendly_name: Option<&str>,
) -> Result<Vec<u8>, Pkcs12Error> {
    let rng = SystemRandom::new();
    let password = bmp_password(password);
    let local_key_id = digest(&SHA1_FOR_LEGACY_USE_ONLY, cert_der);

    let mut leaf_attrs = vec![der::sequence(&[
        &der::oid(oids::LOCAL_KEY_ID),
        &der::set_of(&[&der::octet_string(local_key_id.as_ref())]),
    ])];
    if let Some(name) = friendly_name {
        leaf_attrs.push(der::sequence(&[
            &der::oid(oids::FRIENDLY_NAME),
            &der::set_of(&[&der::bmp_string(name)]),
        ]));
    }
    let attr_refs: Vec<&[u8]> = leaf_attrs.iter().map(Vec::as_slice).collect();
    let leaf_attr_set = der::set_of(&attr_refs);

    // Certificates: one plain SafeContents.
    let mut cert_bags = vec![cert_bag(cert_der, Some(&leaf_attr_set))];
    cert_bags.extend(chain.iter().map(|c| cert_bag(c, None)));
    let cert_bag_refs: Vec<&[u8]> = cert_bags.iter().map(Vec::as_slice).collect();
    let cert_safe = der::sequence(&cert_bag_refs);

    // Key: a pkcs8ShroudedKeyBag in its own plain SafeContents.
    let mut key_salt = [0u8; SALT_LEN];
    rng.fill(&mut key_salt)
        .map_err(|_| Pkcs12Error::NoRandomness)?;
    let key_bytes = Zeroizing::new(kdf(&password, &key_salt, 1, PKCS12_ITERATIONS, 24));
    let iv_bytes = kdf(&password, &key_salt, 2, PKCS12_ITERATIONS, 8);
    let mut des_key = Zeroizing::new([0u8; 24]);
    des_key.copy_from_slice(&key_bytes);
    let mut iv = [0u8; 8];
    iv.copy_from_slice(&iv_bytes);
    let encrypted_key = des3_cbc_encrypt(&des_key, &iv, key_pkcs8);
    let pbe_params = der::sequence(&[
        &der::octet_string(&key_salt),
        &der::integer_u64(PKCS12_ITERATIONS.into()),
    ]);
    let encrypted_private_key_info = der::sequence(&[
        &der::algorithm(oids::PBE_SHA1_3DES, Some(&pbe_params)),
        &der::octet_string(&encrypted_key),
    ]);
    let key_bag = der::sequence(&[
        &der::oid(oids::PKCS8_SHROUDED_KEY_BAG),
        &der::explicit(0, &[&encrypted_private_key_info]),
        &leaf_attr_set,
    ]);
    let key_safe = der::sequence(&[&key_bag]);

    let auth_safe = der::sequence(&[
        &data_content_info(&cert_safe),
        &data_content_info(&key_safe),
    ]);

    let mut mac_salt = [0u8; SALT_LEN];
    rng.fill(&mut mac_salt)
        .map_err(|_| Pkcs12Error::NoRandomness)?;
    let mac_key = Zeroizing::new(kdf(&password, &mac_salt, 3, PKCS12_ITERATIONS, 20));
    let mac = hmac::sign(
        &hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, &mac_key),
        &auth_safe,
    );
    let mac_data = der::sequence(&[
        &der::sequence(&[
            &der::algorithm(oids::SHA1, Some(&der::null())),
            &der::octet_string(mac.as_ref()),
        ]),
        &der::octet_string(&mac_salt),
        &der::integer_u64(PKCS12_ITERATIONS.into()),
    ]);

    Ok(der::sequence(&[
        &der::integer_u64(3),
        &data_content_info(&auth_safe),
        &mac_data,
    ]))
}

/// ContentInfo { data, [0] EXPLICIT OCTET STRING content }.
fn data_content_info(content: &[u8]) -> Vec<u8> {
    der::sequence(&[
        &der::oid(oids::PKCS7_DATA),
        &der::explicit(0, &[&der::octet_string(content)]),
    ])
}

/// SafeBag { certBag, [0] EXPLICIT CertBag { x509Certificate, [0] EXPLICIT OCTET STRING }, attrs? }.
fn cert_bag(cert_der: &[u8], attributes: Option<&[u8]>) -> Vec<u8> {
    let bag = der::sequence(&[
        &der::oid(oids::X509_CERTIFICATE),
        &der::explicit(0, &[&der::octet_string(cert_der)]),
    ]);
    let id = der::oid(oids::CERT_BAG);
    let value = der::explicit(0, &[&bag]);
    match attributes {
        Some(attrs) => der::sequence(&[&id, &value, attrs]),
        None => der::sequence(&[&id, &value]),
    }
}

/// The password as a NUL-terminated BMPString (UTF-16BE), RFC 7292 Appendix B.1.
fn bmp_password(password: &str) -> Zeroizing<Vec<u8>> {
    let mut out = Zeroizing::new(Vec::with_capacity(password.len() * 2 + 2));
    for unit in password.encode_utf16() {
        out.extend_from_slice(&unit.to_be_bytes());
    }
    out.extend_from_slice(&[0, 0]);
    out
}

/// The PKCS#12 key derivation function, RFC 7292 Appendix B.2, with SHA-1 (u = 20, v = 64).
/// `id` 1 = encryption key, 2 = IV, 3 = MAC key.
pub(crate) fn kdf(
    password: &[u8],
    salt: &[u8],
    id: u8,
    iterations: u32,
    out_len: usize,
) -> Vec<u8> {
    const U: usize = 20;
    const V: usize = 64;
    let repeat_to_block = |input: &[u8]| -> Zeroizing<Vec<u8>> {
        let len = input.len().div_ceil(V) * V;
        Zeroizing::new(input.iter().copied().cycle().take(len).collect())
    };
    let d = [id; V];
    let s = repeat_to_block(salt);
    let p = repeat_to_block(password);
    let mut i = Zeroizing::new([s.as_slice(), p.as_slice()].concat());
    let mut out = Vec::with_capacity(out_len.div_ceil(U) * U);
    while out.len() < out_len {
        let mut ctx = Context::new(&SHA1_FOR_LEGACY_USE_ONLY);
        ctx.update(&d);
        ctx.update(&i);
        let mut a = Zeroizing::new(ctx.finish().as_ref().to_vec());
        for _ in 1..iterations {
            *a = digest(&SHA1_FOR_LEGACY_USE_ONLY, &a).as_ref().to_vec();
        }
        out.extend_from_slice(&a);
        if out.len() >= out_len {
            break;
        }
        // I_j = (I_j + B + 1) mod 2^(8v) for each v-byte block of I, B = A repeated to v bytes.
        let b: Zeroizing<Vec<u8>> = Zeroizing::new(a.iter().copied().cycle().take(V).collect());
        for block in i.chunks_exact_mut(V) {
            let mut carry = 1u16;
            for (x, y) in block.iter_mut().rev().zip(b.iter().rev()) {
                let sum = u16::from(*x) + u16::from(*y) + carry;
                *x = sum as u8;
                carry = sum >> 8;
            }
        }
    }
    out.truncate(out_len);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(text: &str) -> Vec<u8> {
        (0..text.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
            .collect()
    }

    #[test]
    fn bmp_password_has_terminator() {
        assert_eq!(bmp_password("ab").as_slice(), &[0, b'a', 0, b'b', 0, 0]);
        assert_eq!(bmp_password("").as_slice(), &[0, 0]);
    }

    // Known answers from the PKCS#12 KDF test vectors used by BouncyCastle and OpenSSL's test suite
    // (password "smeg", salt 0A58CF64530D823F, SHA-1).
    #[test]
    fn kdf_known_answers() {
        let password = bmp_password("smeg");
        let salt = hex("0A58CF64530D823F");
        assert_eq!(
            kdf(&password, &salt, 1, 1, 24),
            hex("8AAAE6297B6CB04642AB5B077851284EB7128F1A2A7FBCA3")
        );
        assert_eq!(kdf(&password, &salt, 2, 1, 8), hex("79993DFE048D3B76"));
        let salt3 = hex("3D83C0E4546AC140");
        assert_eq!(
            kdf(&password, &salt3, 3, 1, 20),
            hex("8D967D88F6CAA9D714800AB3D48051D63F73A312")
        );
        let queeg = bmp_password("queeg");
        let salt1000 = hex("1682C0FC5B3F7EC5");
        assert_eq!(
            kdf(&queeg, &salt1000, 1, 1000, 24),
            hex("483DD6E919D7DE2E8E648BA8F862F3FBFBDC2BCB2C02957F")
        );
    }
}
