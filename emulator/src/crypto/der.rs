//! A small DER writer and reader: just what X.509, PKCS#10, PKCS#7 and PKCS#12 need here.
//!
//! The writer builds values bottom-up as `Vec<u8>` (each helper returns one complete TLV). The reader
//! walks a byte slice and hands out `(tag, content)` pairs; it accepts definite lengths only (DER),
//! single-byte tags, lengths up to 2^32 − 1, and never panics on malformed input.

/// Universal tags used here.
pub mod tag {
    pub const BOOLEAN: u8 = 0x01;
    pub const INTEGER: u8 = 0x02;
    pub const BIT_STRING: u8 = 0x03;
    pub const OCTET_STRING: u8 = 0x04;
    pub const NULL: u8 = 0x05;
    pub const OID: u8 = 0x06;
    pub const UTF8_STRING: u8 = 0x0c;
    pub const PRINTABLE_STRING: u8 = 0x13;
    pub const T61_STRING: u8 = 0x14;
    pub const IA5_STRING: u8 = 0x16;
    pub const UTC_TIME: u8 = 0x17;
    pub const GENERALIZED_TIME: u8 = 0x18;
    pub const UNIVERSAL_STRING: u8 = 0x1c;
    pub const BMP_STRING: u8 = 0x1e;
    pub const SEQUENCE: u8 = 0x30;
    pub const SET: u8 = 0x31;
}

/// Why a DER value could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DerError(pub &'static str);

impl std::fmt::Display for DerError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "malformed DER: {}", self.0)
    }
}

impl std::error::Error for DerError {}

// ---------------------------------------------------------------------------------------------------
// Writer
// ---------------------------------------------------------------------------------------------------

/// One TLV with the given tag byte and content.
pub fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(content.len() + 6);
    out.push(tag);
    push_length(&mut out, content.len());
    out.extend_from_slice(content);
    out
}

fn push_length(out: &mut Vec<u8>, len: usize) {
    if len < 0x80 {
        out.push(len as u8);
        return;
    }
    let bytes = (len as u64).to_be_bytes();
    let skip = bytes.iter().take_while(|b| **b == 0).count();
    out.push(0x80 | (8 - skip) as u8);
    out.extend_from_slice(&bytes[skip..]);
}

/// A constructed value (SEQUENCE, SET, context tag) from already encoded parts, in order.
pub fn constructed(tag: u8, parts: &[&[u8]]) -> Vec<u8> {
    tlv(tag, &parts.concat())
}

pub fn sequence(parts: &[&[u8]]) -> Vec<u8> {
    constructed(tag::SEQUENCE, parts)
}

/// A SET OF: DER wants the elements sorted by their encodings.
pub fn set_of(parts: &[&[u8]]) -> Vec<u8> {
    let mut sorted = parts.to_vec();
    sorted.sort();
    constructed(tag::SET, &sorted)
}

/// `[n] EXPLICIT` (constructed context-specific tag around a complete TLV or several).
pub fn explicit(n: u8, parts: &[&[u8]]) -> Vec<u8> {
    constructed(0xa0 | n, parts)
}

pub fn null() -> Vec<u8> {
    vec![tag::NULL, 0]
}

pub fn boolean(value: bool) -> Vec<u8> {
    tlv(tag::BOOLEAN, &[if value { 0xff } else { 0 }])
}

/// An INTEGER from unsigned big-endian magnitude bytes (leading zeros trimmed, a 0x00 added when the
/// high bit is set so the value stays positive).
pub fn integer_unsigned(magnitude: &[u8]) -> Vec<u8> {
    let skip = magnitude.iter().take_while(|b| **b == 0).count();
    let trimmed = &magnitude[skip..];
    if trimmed.is_empty() {
        return tlv(tag::INTEGER, &[0]);
    }
    if trimmed[0] & 0x80 != 0 {
        let mut content = Vec::with_capacity(trimmed.len() + 1);
        content.push(0);
        content.extend_from_slice(trimmed);
        tlv(tag::INTEGER, &content)
    } else {
        tlv(tag::INTEGER, trimmed)
    }
}

pub fn integer_u64(value: u64) -> Vec<u8> {
    integer_unsigned(&value.to_be_bytes())
}

pub fn octet_string(content: &[u8]) -> Vec<u8> {
    tlv(tag::OCTET_STRING, content)
}

/// A BIT STRING of whole bytes (0 unused bits), as keys and signatures are.
pub fn bit_string(bytes: &[u8]) -> Vec<u8> {
    bit_string_with_unused(bytes, 0)
}

pub fn bit_string_with_unused(bytes: &[u8], unused_bits: u8) -> Vec<u8> {
    let mut content = Vec::with_capacity(bytes.len() + 1);
    content.push(unused_bits);
    content.extend_from_slice(bytes);
    tlv(tag::BIT_STRING, &content)
}

/// A named-bit-list BIT STRING (e.g. KeyUsage): trailing zero bytes and bits dropped, as DER requires.
pub fn named_bits(bytes: &[u8]) -> Vec<u8> {
    let used = bytes.len() - bytes.iter().rev().take_while(|b| **b == 0).count();
    let bytes = &bytes[..used];
    let unused = bytes.last().map_or(0, |last| last.trailing_zeros() as u8);
    bit_string_with_unused(bytes, unused)
}

pub fn utf8_string(text: &str) -> Vec<u8> {
    tlv(tag::UTF8_STRING, text.as_bytes())
}

/// A BMPString (UTF-16BE), as PKCS#12 friendlyName wants.
pub fn bmp_string(text: &str) -> Vec<u8> {
    let content: Vec<u8> = text.encode_utf16().flat_map(u16::to_be_bytes).collect();
    tlv(tag::BMP_STRING, &content)
}

/// The content octets of an OBJECT IDENTIFIER with the given arcs (at least two).
pub fn oid_content(arcs: &[u64]) -> Vec<u8> {
    let mut out = Vec::with_capacity(arcs.len() * 2);
    let (first, rest) = match arcs {
        [a, b, rest @ ..] => (a * 40 + b, rest),
        _ => panic!("an OID has at least two arcs"),
    };
    for arc in std::iter::once(first).chain(rest.iter().copied()) {
        let mut chunk = [0u8; 10];
        let mut n = 0;
        let mut value = arc;
        loop {
            chunk[n] = (value & 0x7f) as u8;
            n += 1;
            value >>= 7;
            if value == 0 {
                break;
            }
        }
        for (i, byte) in chunk[..n].iter().enumerate().rev() {
            out.push(if i == 0 { *byte } else { byte | 0x80 });
        }
    }
    out
}

pub fn oid(arcs: &[u64]) -> Vec<u8> {
    tlv(tag::OID, &oid_content(arcs))
}

/// AlgorithmIdentifier with absent parameters (ECDSA signatures) or the given parameter TLV.
pub fn algorithm(arcs: &[u64], params: Option<&[u8]>) -> Vec<u8> {
    match params {
        Some(p) => sequence(&[&oid(arcs), p]),
        None => sequence(&[&oid(arcs)]),
    }
}

/// RFC 5280 Time: UTCTime for 1950..=2049, GeneralizedTime otherwise.
pub fn time(unix_seconds: i64) -> Vec<u8> {
    let t = super::time::Civil::from_unix(unix_seconds);
    if (1950..2050).contains(&t.year) {
        let text = format!(
            "{:02}{:02}{:02}{:02}{:02}{:02}Z",
            t.year % 100,
            t.month,
            t.day,
            t.hour,
            t.minute,
            t.second
        );
        tlv(tag::UTC_TIME, text.as_bytes())
    } else {
        let text = format!(
            "{:04}{:02}{:02}{:02}{:02}{:02}Z",
            t.year, t.month, t.day, t.hour, t.minute, t.second
        );
        tlv(tag::GENERALIZED_TIME, text.as_bytes())
    }
}

// ---------------------------------------------------------------------------------------------------
// Reader
// ---------------------------------------------------------------------------------------------------

/// One decoded TLV: its tag, content octets, and the whole encoding (for signed parts kept as-is).
#[derive(Debug, Clone, Copy)]
pub struct Tlv<'a> {
    pub tag: u8,
    pub content: &'a [u8],
    pub raw: &'a [u8],
}

/// Reads consecutive TLVs from a slice.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    pub fn new(data: &'a [u8]) -> Self {
        Reader { rest: data }
    }

    pub fn is_empty(&self) -> bool {
        self.rest.is_empty()
    }

    pub fn peek_tag(&self) -> Option<u8> {
        self.rest.first().copied()
    }

    /// The next TLV, whatever its tag.
    pub fn read(&mut self) -> Result<Tlv<'a>, DerError> {
        let data = self.rest;
        let (&tag, after_tag) = data
            .split_first()
            .ok_or(DerError("unexpected end of data"))?;
        if tag & 0x1f == 0x1f {
            return Err(DerError("multi-byte tags are not supported"));
        }
        let (&first, after_len) = after_tag.split_first().ok_or(DerError("missing length"))?;
        let (len, header_len) = if first < 0x80 {
            (first as usize, 2)
        } else {
            let count = (first & 0x7f) as usize;
            if count == 0 {
                return Err(DerError("indefinite length is not DER"));
            }
            if count > 4 {
                return Err(DerError("length too large"));
            }
            let bytes = after_len.get(..count).ok_or(DerError("truncated length"))?;
            let len = bytes.iter().fold(0usize, |acc, b| (acc << 8) | *b as usize);
            (len, 2 + count)
        };
        let end = header_len
            .checked_add(len)
            .ok_or(DerError("length overflow"))?;
        if end > data.len() {
            return Err(DerError("value runs past the end of the data"));
        }
        self.rest = &data[end..];
        Ok(Tlv {
            tag,
            content: &data[header_len..end],
            raw: &data[..end],
        })
    }

    /// The next TLV, which must have the given tag.
    pub fn expect(&mut self, tag: u8, what: &'static str) -> Result<Tlv<'a>, DerError> {
        let tlv = self.read().map_err(|_| DerError(what))?;
        if tlv.tag != tag {
            return Err(DerError(what));
        }
        Ok(tlv)
    }

    /// Fails unless everything was consumed.
    pub fn finish(&self, what: &'static str) -> Result<(), DerError> {
        if self.rest.is_empty() {
            Ok(())
        } else {
            Err(DerError(what))
        }
    }
}

/// Parses exactly one TLV that must span all of `data`.
pub fn parse_single<'a>(data: &'a [u8], tag: u8, what: &'static str) -> Result<Tlv<'a>, DerError> {
    let mut reader = Reader::new(data);
    let tlv = reader.expect(tag, what)?;
    reader.finish("trailing data after the value")?;
    Ok(tlv)
}

/// Renders OID content octets as dotted text ("1.2.840.113549.1.1.11"); `None` when malformed.
pub fn oid_to_string(content: &[u8]) -> Option<String> {
    if content.is_empty() || content.last()? & 0x80 != 0 {
        return None;
    }
    let mut arcs: Vec<u64> = Vec::new();
    let mut value: u64 = 0;
    for byte in content {
        if value > (u64::MAX >> 7) {
            return None;
        }
        value = (value << 7) | u64::from(byte & 0x7f);
        if byte & 0x80 == 0 {
            arcs.push(value);
            value = 0;
        }
    }
    let first = arcs[0];
    let (a, b) = match first {
        0..=39 => (0, first),
        40..=79 => (1, first - 40),
        _ => (2, first - 80),
    };
    let mut text = format!("{a}.{b}");
    for arc in &arcs[1..] {
        text.push('.');
        text.push_str(&arc.to_string());
    }
    Some(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_short_and_long_form() {
        assert_eq!(tlv(0x04, &[1, 2]), vec![0x04, 2, 1, 2]);
        let long = tlv(0x04, &[0u8; 200]);
        assert_eq!(&long[..3], &[0x04, 0x81, 200]);
        let longer = tlv(0x04, &[0u8; 300]);
        assert_eq!(&longer[..4], &[0x04, 0x82, 0x01, 0x2c]);
        let mut reader = Reader::new(&longer);
        assert_eq!(reader.read().unwrap().content.len(), 300);
        assert!(reader.is_empty());
    }

    #[test]
    fn oid_round_trip_and_known_encoding() {
        // sha256WithRSAEncryption
        assert_eq!(
            oid(&[1, 2, 840, 113549, 1, 1, 11]),
            vec![
                0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0b
            ]
        );
        let content = oid_content(&[1, 3, 6, 1, 4, 1, 311, 20, 2, 2]);
        assert_eq!(
            oid_to_string(&content).as_deref(),
            Some("1.3.6.1.4.1.311.20.2.2")
        );
        assert_eq!(oid_to_string(&[0x2a, 0x86]), None);
    }

    #[test]
    fn integers_stay_positive_and_minimal() {
        assert_eq!(integer_u64(0), vec![2, 1, 0]);
        assert_eq!(integer_u64(127), vec![2, 1, 127]);
        assert_eq!(integer_u64(128), vec![2, 2, 0, 128]);
        assert_eq!(integer_u64(2048), vec![2, 2, 8, 0]);
    }

    #[test]
    fn named_bits_drop_trailing_zeros() {
        // digitalSignature only: 1 byte, 7 unused bits
        assert_eq!(named_bits(&[0x80, 0]), vec![3, 2, 7, 0x80]);
        // keyCertSign + cRLSign
        assert_eq!(named_bits(&[0x06, 0]), vec![3, 2, 1, 0x06]);
        assert_eq!(named_bits(&[0, 0]), vec![3, 1, 0]);
        // decipherOnly is bit 8
        assert_eq!(named_bits(&[0x80, 0x80]), vec![3, 3, 7, 0x80, 0x80]);
    }

    #[test]
    fn set_of_sorts() {
        let a = octet_string(&[2]);
        let b = octet_string(&[1]);
        assert_eq!(set_of(&[&a, &b]), vec![0x31, 6, 4, 1, 1, 4, 1, 2]);
    }

    #[test]
    fn times_switch_to_generalized_in_2050() {
        assert_eq!(time(0), tlv(tag::UTC_TIME, b"700101000000Z"));
        // 2050-01-01T00:00:00Z
        assert_eq!(
            time(2_524_608_000),
            tlv(tag::GENERALIZED_TIME, b"20500101000000Z")
        );
    }

    #[test]
    fn reader_rejects_malformed_input_without_panicking() {
        for bad in [
            &[][..],
            &[0x30],
            &[0x30, 0x80, 0, 0],
            &[0x30, 0x85, 1, 1, 1, 1, 1],
            &[0x30, 0x82, 0x01],
            &[0x30, 0x05, 1, 2],
            &[0x1f, 0x01, 0],
        ] {
            assert!(Reader::new(bad).read().is_err(), "{bad:?}");
        }
        assert!(parse_single(&[0x30, 0, 0], tag::SEQUENCE, "x").is_err());
        assert!(parse_single(&[0x30, 0], tag::SET, "x").is_err());
    }
}
