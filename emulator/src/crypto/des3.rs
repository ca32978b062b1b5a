//! Triple DES (EDE, three keys): the Base CSP card-admin challenge-response, the emulator's admin key
//! diversification, and the CBC mode PKCS#12's `pbeWithSHAAnd3-KeyTripleDES-CBC` needs.
//!
//! ring has no DES, so the block cipher is RustCrypto's `des` crate; the modes are written here.

use des::TdesEde3;
use des::cipher::generic_array::GenericArray;
use des::cipher::{BlockDecrypt, BlockEncrypt, KeyInit};
use zeroize::Zeroizing;

fn cipher(key: &[u8; 24]) -> TdesEde3 {
    TdesEde3::new(GenericArray::from_slice(key))
}

/// 3DES-EDE ECB encryption of one block under `key` = K1|K2|K3: what a Base CSP minidriver card
/// computes from its admin key and the 8-byte challenge (and so what `authenticationresponse` returns).
pub fn des3_ecb_encrypt(key: &[u8; 24], block: &[u8; 8]) -> [u8; 8] {
    let mut b = GenericArray::clone_from_slice(block);
    cipher(key).encrypt_block(&mut b);
    b.into()
}

/// The inverse of [`des3_ecb_encrypt`] (what a card would use to check a response the other way round).
pub fn des3_ecb_decrypt(key: &[u8; 24], block: &[u8; 8]) -> [u8; 8] {
    let mut b = GenericArray::clone_from_slice(block);
    cipher(key).decrypt_block(&mut b);
    b.into()
}

/// The emulator's per-card admin key derivation (its own choice; real CM's is not documented):
///
/// `K = E(M, id[0..8]) | E(M, id[8..16]) | E(M, id[0..8] XOR id[8..16])`, each `E` 3DES-EDE ECB under
/// the 24-byte master key `M`, then every byte set to odd DES parity (low bit). `card_id` is the 16 bytes
/// of the card id in the order the caller chose; the emulator uses the GUID's RFC 4122 (big-endian,
/// `Uuid::as_bytes`) order of the minidriver card id.
pub fn diversify_admin_key(master: &[u8; 24], card_id: &[u8; 16]) -> [u8; 24] {
    let mut first = [0u8; 8];
    let mut second = [0u8; 8];
    first.copy_from_slice(&card_id[..8]);
    second.copy_from_slice(&card_id[8..]);
    let mut mixed = [0u8; 8];
    for (m, (a, b)) in mixed.iter_mut().zip(first.iter().zip(second.iter())) {
        *m = a ^ b;
    }
    let mut key = [0u8; 24];
    key[..8].copy_from_slice(&des3_ecb_encrypt(master, &first));
    key[8..16].copy_from_slice(&des3_ecb_encrypt(master, &second));
    key[16..].copy_from_slice(&des3_ecb_encrypt(master, &mixed));
    set_odd_parity(&mut key);
    key
}

/// Sets the low bit of each byte so that every byte has an odd number of 1 bits (DES key parity).
pub fn set_odd_parity(key: &mut [u8]) {
    for byte in key {
        let high = *byte & 0xfe;
        *byte = high | u8::from(high.count_ones() % 2 == 0);
    }
}

/// 3DES-EDE CBC with PKCS#7 padding (always 1..=8 bytes of padding).
pub fn des3_cbc_encrypt(key: &[u8; 24], iv: &[u8; 8], plaintext: &[u8]) -> Vec<u8> {
    let cipher = cipher(key);
    let pad = 8 - plaintext.len() % 8;
    let mut data = Zeroizing::new(Vec::with_capacity(plaintext.len() + pad));
    data.extend_from_slice(plaintext);
    data.extend(std::iter::repeat_n(pad as u8, pad));
    let mut out = Vec::with_capacity(data.len());
    let mut chain = *iv;
    for chunk in data.chunks_exact(8) {
        let mut block = GenericArray::clone_from_slice(chunk);
        for (b, c) in block.iter_mut().zip(chain.iter()) {
            *b ^= c;
        }
        cipher.encrypt_block(&mut block);
        chain.copy_from_slice(&block);
        out.extend_from_slice(&block);
    }
    out
}

/// Inverse of [`des3_cbc_encrypt`]; `None` on a bad length or bad padding.
pub fn des3_cbc_decrypt(
    key: &[u8; 24],
    iv: &[u8; 8],
    ciphertext: &[u8],
) -> Option<Zeroizing<Vec<u8>>> {
    if ciphertext.is_empty() || !ciphertext.len().is_multiple_of(8) {
        return None;
    }
    let cipher = cipher(key);
    let mut out = Zeroizing::new(Vec::with_capacity(ciphertext.len()));
    let mut chain = *iv;
    for chunk in ciphertext.chunks_exact(8) {
        let mut block = GenericArray::clone_from_slice(chunk);
        cipher.decrypt_block(&mut block);
        for (b, c) in block.iter_mut().zip(chain.iter()) {
            *b ^= c;
        }
        chain.copy_from_slice(chunk);
        out.extend_from_slice(&block);
    }
    let pad = *out.last()? as usize;
    if pad == 0 || pad > 8 || out[out.len() - pad..].iter().any(|b| *b as usize != pad) {
        return None;
    }
    let len = out.len() - pad;
    out.truncate(len);
    Some(out)
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

    // NIST SP 800-67 Rev. 1, Appendix B example (also `openssl enc -des-ede3 -nopad`):
    // keys 0123456789ABCDEF / 23456789ABCDEF01 / 456789ABCDEF0123, "The qufck brown fox jump".
    const KAT_KEY: &str = "0123456789ABCDEF23456789ABCDEF01456789ABCDEF0123";
    const KAT_PLAIN: &[u8; 24] = b"The qufck brown fox jump";
    const KAT_CIPHER: &str = "A826FD8CE53B855FCCE21C8112256FE668D5C05DD9B6B900";

    #[test]
    fn ecb_known_answer() {
        let key: [u8; 24] = hex(KAT_KEY).try_into().unwrap();
        let expected = hex(KAT_CIPHER);
        for (i, chunk) in KAT_PLAIN.chunks(8).enumerate() {
            let block: [u8; 8] = chunk.try_into().unwrap();
            let out = des3_ecb_encrypt(&key, &block);
            assert_eq!(out.as_slice(), &expected[i * 8..i * 8 + 8], "block {i}");
            assert_eq!(des3_ecb_decrypt(&key, &out), block);
        }
    }

    #[test]
    fn tampered_challenge_or_key_changes_the_response() {
        let key: [u8; 24] = hex(KAT_KEY).try_into().unwrap();
        let challenge = *b"\x01\x02\x03\x04\x05\x06\x07\x08";
        let response = des3_ecb_encrypt(&key, &challenge);
        let mut tampered = challenge;
        tampered[7] ^= 1;
        assert_ne!(des3_ecb_encrypt(&key, &tampered), response);
        let mut other_key = key;
        other_key[20] ^= 0x02; // not a parity bit
        assert_ne!(des3_ecb_encrypt(&other_key, &challenge), response);
    }

    #[test]
    fn diversification_is_deterministic_per_card_with_odd_parity() {
        let master: [u8; 24] = hex(KAT_KEY).try_into().unwrap();
        let card_a = [0x11u8; 16];
        let mut card_b = card_a;
        card_b[15] = 0x12;
        let key_a = diversify_admin_key(&master, &card_a);
        assert_eq!(key_a, diversify_admin_key(&master, &card_a));
        assert_ne!(key_a, diversify_admin_key(&master, &card_b));
        assert_ne!(&key_a[..], &master[..]);
        assert!(key_a.iter().all(|b| b.count_ones() % 2 == 1));
        // The documented construction, spelled out: E(M, first half) with parity fixed.
        let mut first = des3_ecb_encrypt(&master, &[0x11; 8]);
        set_odd_parity(&mut first);
        assert_eq!(&key_a[..8], &first);
        // halves equal → third block is E(M, 0)
        let mut third = des3_ecb_encrypt(&master, &[0; 8]);
        set_odd_parity(&mut third);
        assert_eq!(&key_a[16..], &third);
    }

    #[test]
    fn parity() {
        let mut bytes = [0x00, 0x01, 0xfe, 0xff, 0x80];
        set_odd_parity(&mut bytes);
        assert_eq!(bytes, [0x01, 0x01, 0xfe, 0xfe, 0x80]);
    }

    #[test]
    fn cbc_round_trip_and_padding() {
        let key: [u8; 24] = hex(KAT_KEY).try_into().unwrap();
        let iv = [7u8; 8];
        for len in [0usize, 1, 7, 8, 9, 100] {
            let plain: Vec<u8> = (0..len as u8).collect();
            let ct = des3_cbc_encrypt(&key, &iv, &plain);
            assert_eq!(ct.len(), (len / 8 + 1) * 8);
            assert_eq!(
                des3_cbc_decrypt(&key, &iv, &ct).unwrap().as_slice(),
                &plain[..]
            );
        }
        // First CBC block with a zero IV is ECB of the plaintext block.
        let ct = des3_cbc_encrypt(&key, &[0; 8], &KAT_PLAIN[..]);
        assert_eq!(&ct[..8], &hex(KAT_CIPHER)[..8]);
        assert!(des3_cbc_decrypt(&key, &iv, &ct[..7]).is_none());
        let mut wrong = des3_cbc_encrypt(&key, &iv, b"abc");
        wrong[7] ^= 0x55;
        assert!(des3_cbc_decrypt(&key, &iv, &wrong).is_none());
    }
}
