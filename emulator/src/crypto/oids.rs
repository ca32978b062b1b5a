//! Object identifiers (as arcs) used by the crypto module.

pub const RSA_ENCRYPTION: &[u64] = &[1, 2, 840, 113549, 1, 1, 1];
pub const SHA1_WITH_RSA: &[u64] = &[1, 2, 840, 113549, 1, 1, 5];
pub const SHA256_WITH_RSA: &[u64] = &[1, 2, 840, 113549, 1, 1, 11];
pub const SHA384_WITH_RSA: &[u64] = &[1, 2, 840, 113549, 1, 1, 12];
pub const SHA512_WITH_RSA: &[u64] = &[1, 2, 840, 113549, 1, 1, 13];

pub const EC_PUBLIC_KEY: &[u64] = &[1, 2, 840, 10045, 2, 1];
pub const PRIME256V1: &[u64] = &[1, 2, 840, 10045, 3, 1, 7];
pub const SECP384R1: &[u64] = &[1, 3, 132, 0, 34];
pub const ECDSA_WITH_SHA256: &[u64] = &[1, 2, 840, 10045, 4, 3, 2];
pub const ECDSA_WITH_SHA384: &[u64] = &[1, 2, 840, 10045, 4, 3, 3];

pub const SHA1: &[u64] = &[1, 3, 14, 3, 2, 26];

// X.520 attribute types
pub const COMMON_NAME: &[u64] = &[2, 5, 4, 3];

// X.509 extensions
pub const SUBJECT_KEY_IDENTIFIER: &[u64] = &[2, 5, 29, 14];
pub const KEY_USAGE: &[u64] = &[2, 5, 29, 15];
pub const BASIC_CONSTRAINTS: &[u64] = &[2, 5, 29, 19];
pub const AUTHORITY_KEY_IDENTIFIER: &[u64] = &[2, 5, 29, 35];
pub const EXT_KEY_USAGE: &[u64] = &[2, 5, 29, 37];
pub const CLIENT_AUTH: &[u64] = &[1, 3, 6, 1, 5, 5, 7, 3, 2];
pub const SMARTCARD_LOGON: &[u64] = &[1, 3, 6, 1, 4, 1, 311, 20, 2, 2];

// PKCS#7 / PKCS#9 / PKCS#12
pub const PKCS7_DATA: &[u64] = &[1, 2, 840, 113549, 1, 7, 1];
pub const PKCS7_SIGNED_DATA: &[u64] = &[1, 2, 840, 113549, 1, 7, 2];
pub const FRIENDLY_NAME: &[u64] = &[1, 2, 840, 113549, 1, 9, 20];
pub const LOCAL_KEY_ID: &[u64] = &[1, 2, 840, 113549, 1, 9, 21];
pub const X509_CERTIFICATE: &[u64] = &[1, 2, 840, 113549, 1, 9, 22, 1];
pub const PBE_SHA1_3DES: &[u64] = &[1, 2, 840, 113549, 1, 12, 1, 3];
pub const PKCS8_SHROUDED_KEY_BAG: &[u64] = &[1, 2, 840, 113549, 1, 12, 10, 1, 2];
pub const CERT_BAG: &[u64] = &[1, 2, 840, 113549, 1, 12, 10, 1, 3];

/// Short names for distinguished-name attribute types, for display ("CN=…, O=…").
pub fn attribute_short_name(dotted: &str) -> Option<&'static str> {
    Some(match dotted {
        "2.5.4.3" => "CN",
        "2.5.4.4" => "SN",
        "2.5.4.5" => "SERIALNUMBER",
        "2.5.4.6" => "C",
        "2.5.4.7" => "L",
        "2.5.4.8" => "S",
        "2.5.4.9" => "STREET",
        "2.5.4.10" => "O",
        "2.5.4.11" => "OU",
        "2.5.4.12" => "T",
        "2.5.4.42" => "G",
        "2.5.4.43" => "I",
        "1.2.840.113549.1.9.1" => "E",
        "0.9.2342.19200300.100.1.25" => "DC",
        "0.9.2342.19200300.100.1.1" => "UID",
        _ => return None,
    })
}
