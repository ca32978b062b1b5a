//! Answer-To-Reset (ISO/IEC 7816-3) parsing and normalization.
//!
//! Two uses, two strictness levels:
//! - [`parse_atr_text`] validates an ATR a *caller typed* (any common notation) before it is sent to CM:
//!   structure and TCK errors are rejected, because a typo must not be bound to a card forever.
//! - [`AtrInfo::parse`] describes an ATR *read from a card*: it reports length/TCK problems instead of
//!   rejecting, since the bytes PC/SC returned are sent exactly as they are (never "repaired").

use crate::error::{Error, Result};
use crate::status::Status;

/// Shortest possible ATR: TS and T0.
pub(crate) const MIN_ATR_LEN: usize = 2;
/// Longest ATR allowed by ISO/IEC 7816-3: TS plus 32 bytes.
pub(crate) const MAX_ATR_LEN: usize = 33;

/// What an ATR says about itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AtrInfo {
    /// The raw bytes.
    pub bytes: Vec<u8>,
    /// TS: `0x3B` direct convention, `0x3F` inverse.
    pub ts: u8,
    /// Protocols indicated by the TDi bytes, in order of appearance, without duplicates (T=0 when none).
    pub protocols: Vec<u8>,
    /// The historical bytes T1..TK.
    pub historical_bytes: Vec<u8>,
    /// Whether ISO 7816-3 requires a TCK byte (some protocol other than T=0 is indicated).
    pub tck_required: bool,
    /// The TCK byte, when the ATR has one where the structure puts it.
    pub tck: Option<u8>,
    /// Whether XOR(T0..TCK) is 0; `None` when there is no TCK.
    pub tck_valid: Option<bool>,
    /// Length the structure implies (TS, T0, interface bytes, historical bytes and TCK if required).
    pub expected_len: usize,
    /// Human-readable structural problems; empty for a well-formed ATR.
    pub problems: Vec<String>,
}

impl AtrInfo {
    /// Describes an ATR, reporting (not rejecting) structural problems. Fails only when the bytes are too
    /// short or too long to be an ATR at all.
    pub fn parse(bytes: &[u8]) -> Result<AtrInfo> {
        if bytes.len() < MIN_ATR_LEN || bytes.len() > MAX_ATR_LEN {
            return Err(Error::new(
                Status::InvalidAtr,
                format!(
                    "an ATR has {MIN_ATR_LEN} to {MAX_ATR_LEN} bytes, this one has {}",
                    bytes.len()
                ),
            ));
        }
        let mut problems = Vec::new();
        let ts = bytes[0];
        if ts != 0x3B && ts != 0x3F {
            problems.push(format!(
                "TS is {ts:02x}; it must be 3b (direct) or 3f (inverse convention)"
            ));
        }
        let t0 = bytes[1];
        let historical_len = usize::from(t0 & 0x0F);
        let mut protocols: Vec<u8> = Vec::new();
        let mut tck_required = false;
        // Walk the interface bytes: Y (presence bits) of each group, then TDi's protocol.
        let mut pos = 2usize;
        let mut y = t0 >> 4;
        let mut truncated = false;
        loop {
            let count = (y & 0x7).count_ones() as usize; // TA, TB, TC
            pos += count;
            if y & 0x8 == 0 {
                break;
            }
            let Some(&td) = bytes.get(pos) else {
                truncated = true;
                break;
            };
            pos += 1;
            let t = td & 0x0F;
            if t != 0 {
                tck_required = true;
            }
            if !protocols.contains(&t) {
                protocols.push(t);
            }
            y = td >> 4;
        }
        if protocols.is_empty() {
            protocols.push(0);
        }
        let interface_end = pos;
        let historical_end = interface_end + historical_len;
        let expected_len = historical_end + usize::from(tck_required);
        let historical_bytes = bytes
            .get(interface_end.min(bytes.len())..historical_end.min(bytes.len()))
            .unwrap_or(&[])
            .to_vec();
        if truncated || bytes.len() < historical_end {
            problems.push(format!(
                "the ATR is truncated: its structure needs at least {} bytes, it has {}",
                historical_end,
                bytes.len()
            ));
        }
        let tck = if tck_required {
            bytes.get(historical_end).copied()
        } else {
            None
        };
        if tck_required && tck.is_none() && !truncated && bytes.len() >= historical_end {
            problems.push(
                "TCK is missing: a protocol other than T=0 is indicated, so TCK is required".into(),
            );
        }
        if bytes.len() > expected_len && !truncated {
            problems.push(format!(
                "{} unexpected byte(s) after the {}",
                bytes.len() - expected_len,
                if tck_required {
                    "TCK"
                } else {
                    "historical bytes (T=0 only: no TCK expected)"
                }
            ));
        }
        let tck_valid =
            tck.map(|_| bytes[1..=historical_end].iter().fold(0u8, |acc, b| acc ^ b) == 0);
        if tck_valid == Some(false) {
            let expected = bytes[1..historical_end].iter().fold(0u8, |acc, b| acc ^ b);
            problems.push(format!(
                "TCK is {:02x}, the checksum needs {expected:02x}",
                tck.unwrap_or(0)
            ));
        }
        Ok(AtrInfo {
            bytes: bytes.to_vec(),
            ts,
            protocols,
            historical_bytes,
            tck_required,
            tck,
            tck_valid,
            expected_len,
            problems,
        })
    }

    /// True when the ATR has no structural problem.
    pub fn is_well_formed(&self) -> bool {
        self.problems.is_empty()
    }

    /// Bit mask of the indicated protocols: bit n set = T=n indicated.
    pub fn protocol_mask(&self) -> u32 {
        self.protocols.iter().fold(0u32, |m, t| m | (1u32 << t))
    }
}

/// Decodes hex text in the common ATR notations: packed (`3b8d01…`), spaced (`3B 8D 01`), colon-separated
/// (`3b:8d:01`), with or without `0x` prefixes, any case.
pub fn decode_hex_text(text: &str) -> Result<Vec<u8>> {
    let mut digits = Vec::with_capacity(text.len());
    let tokens: Vec<&str> = text
        .split(|c: char| c.is_whitespace() || c == ':' || c == '-' || c == ',')
        .filter(|t| !t.is_empty())
        .collect();
    for token in &tokens {
        let token = token
            .strip_prefix("0x")
            .or_else(|| token.strip_prefix("0X"))
            .unwrap_or(token);
        // A separated notation must use whole bytes per token ("3B 8D"), not "3 B8D".
        if tokens.len() > 1 && token.len() % 2 != 0 {
            return Err(Error::new(
                Status::InvalidAtr,
                format!("ATR byte '{token}' is not two hex digits"),
            ));
        }
        for c in token.chars() {
            let v = c.to_digit(16).ok_or_else(|| {
                Error::new(
                    Status::InvalidAtr,
                    format!("ATR contains '{c}', which is not a hex digit"),
                )
            })?;
            digits.push(v as u8);
        }
    }
    if digits.is_empty() {
        return Err(Error::new(Status::InvalidAtr, "the ATR is empty"));
    }
    if digits.len() % 2 != 0 {
        return Err(Error::new(
            Status::InvalidAtr,
            "the ATR has an odd number of hex digits",
        ));
    }
    Ok(digits.chunks(2).map(|p| (p[0] << 4) | p[1]).collect())
}

/// Lowercase packed hex, the form MIM CM stores and documents.
pub fn to_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[usize::from(b >> 4)] as char);
        s.push(DIGITS[usize::from(b & 0xF)] as char);
    }
    s
}

/// Validates a caller-supplied ATR strictly and returns its bytes: 2..33 bytes, TS 3B/3F, a consistent
/// structure, and a correct TCK whenever a protocol other than T=0 is indicated.
pub fn parse_atr_text(text: &str) -> Result<Vec<u8>> {
    let bytes = decode_hex_text(text)?;
    let info = AtrInfo::parse(&bytes)?;
    if let Some(problem) = info.problems.first() {
        return Err(Error::new(
            Status::InvalidAtr,
            format!("invalid ATR {}: {problem}", to_hex(&bytes)),
        ));
    }
    Ok(bytes)
}

/// [`parse_atr_text`], returned as lowercase packed hex.
pub fn normalize_atr(text: &str) -> Result<String> {
    parse_atr_text(text).map(|b| to_hex(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    const GIDS_VSC: &str = "3b8d0180fba000000397425446590301c8";

    #[test]
    fn documented_gids_atr_parses() {
        let info = AtrInfo::parse(&decode_hex_text(GIDS_VSC).unwrap()).unwrap();
        assert_eq!(info.protocols, vec![1]);
        assert_eq!(info.historical_bytes.len(), 13);
        assert_eq!(info.historical_bytes[0], 0x80);
        assert_eq!(info.tck, Some(0xC8));
        assert_eq!(info.tck_valid, Some(true));
        assert_eq!(info.expected_len, 17);
        assert!(info.is_well_formed(), "{:?}", info.problems);
    }

    #[test]
    fn notations_normalize_to_lowercase_packed_hex() {
        for text in [
            "3B 8D 01 80 FB A0 00 00 03 97 42 54 46 59 03 01 C8",
            "3b:8d:01:80:fb:a0:00:00:03:97:42:54:46:59:03:01:c8",
            "3B8D0180FBA000000397425446590301C8",
            "  3b8d0180fba000000397425446590301c8\n",
            "0x3B 0x8D 0x01 0x80 0xFB 0xA0 0x00 0x00 0x03 0x97 0x42 0x54 0x46 0x59 0x03 0x01 0xC8",
        ] {
            assert_eq!(normalize_atr(text).unwrap(), GIDS_VSC, "{text}");
        }
    }

    #[test]
    fn other_documented_vectors_are_valid() {
        for atr in [
            "3B8D0180FBA000000397425446590401CF",
            "3B80800101",
            "3B8F8001804F0CA000000306030001000000006A",
        ] {
            assert!(normalize_atr(atr).is_ok(), "{atr}");
        }
    }

    #[test]
    fn t0_only_atr_without_tck_is_valid() {
        // TS, T0 = 0x60 (TB1, TC1 present, K = 0) — T=0 implied, no TCK.
        let info = AtrInfo::parse(&[0x3B, 0x60, 0x00, 0x00]).unwrap();
        assert!(!info.tck_required);
        assert_eq!(info.tck, None);
        assert_eq!(info.protocols, vec![0]);
        assert!(info.is_well_formed());
        // A common real T=0 ATR with historical bytes and no TCK.
        assert!(normalize_atr("3B 6E 00 00 80 31 80 66 B0 84 0C 01 6E 01 83 00 90 00").is_ok());
    }

    #[test]
    fn bad_tck_is_rejected_for_callers_but_reported_for_cards() {
        let bad = "3b8d0180fba000000397425446590301c9";
        let err = normalize_atr(bad).unwrap_err();
        assert_eq!(err.status, Status::InvalidAtr);
        assert!(err.message.contains("TCK"), "{}", err.message);
        let info = AtrInfo::parse(&decode_hex_text(bad).unwrap()).unwrap();
        assert_eq!(info.tck_valid, Some(false));
        assert!(!info.is_well_formed());
    }

    #[test]
    fn missing_tck_is_rejected_when_t1_indicated() {
        let err = normalize_atr("3b8d0180fba000000397425446590301").unwrap_err();
        assert!(err.message.contains("TCK is missing"), "{}", err.message);
    }

    #[test]
    fn malformed_inputs_are_rejected_with_invalid_atr() {
        for (text, needle) in [
            ("", "empty"),
            ("3b8", "odd"),
            ("3bzz", "not a hex digit"),
            ("3B 8 D", "two hex digits"),
            ("3b", "2 to 33 bytes"),
            ("2b00", "TS is 2b"),
            ("3b0f00", "truncated"),
            ("3b0000", "unexpected byte"),
        ] {
            let err = normalize_atr(text).unwrap_err();
            assert_eq!(err.status, Status::InvalidAtr, "{text}");
            assert!(err.message.contains(needle), "{text}: {}", err.message);
        }
        let too_long = "3b".to_string() + &"00".repeat(33);
        assert!(normalize_atr(&too_long).unwrap_err().message.contains("34"));
    }

    #[test]
    fn thirty_three_byte_atr_is_accepted() {
        // T0 = FF: TA1 TB1 TC1 TD1, K = 15. TD1 = F1 and TD2 = F1: next group full, T=1. TD3 = 71: TA4 TB4 TC4, T=1.
        // 1 + 1 + 4 + 4 + 4 + 3 + 15 historical + TCK = 33 bytes, the ISO maximum.
        let mut atr = vec![
            0x3B, 0xFF, 0x11, 0x00, 0x00, 0xF1, 0x00, 0x00, 0x00, 0xF1, 0x00, 0x00, 0x00, 0x71,
        ];
        atr.extend_from_slice(&[0x00, 0x00, 0x00]);
        atr.extend_from_slice(&[0x41; 15]);
        atr.push(atr[1..].iter().fold(0u8, |a, b| a ^ b));
        assert_eq!(atr.len(), MAX_ATR_LEN);
        let info = AtrInfo::parse(&atr).unwrap();
        assert!(info.is_well_formed(), "{:?}", info.problems);
        assert_eq!(info.historical_bytes, vec![0x41; 15]);
        assert_eq!(normalize_atr(&to_hex(&atr)).unwrap(), to_hex(&atr));
    }
}

/// Property-based tests: the parser never panics, notations round-trip, normalization is idempotent,
/// and every ATR built by the ISO 7816-3 rules is described exactly.
#[cfg(test)]
mod properties {
    use super::*;
    use proptest::prelude::*;

    /// An ATR built by the rules: TS, T0, up to 4 interface groups chained by TDi, historical bytes,
    /// and a TCK when a protocol other than T=0 is indicated. Returns (bytes, protocols, historical).
    fn well_formed_atr() -> impl Strategy<Value = (Vec<u8>, Vec<u8>, Vec<u8>)> {
        (
            any::<bool>(),
            0usize..=3,
            prop::array::uniform4(0u8..8),
            prop::array::uniform4(0u8..16),
            prop::collection::vec(any::<u8>(), 32),
            0usize..=15,
        )
            .prop_map(|(inverse, n_td, ys, protos, fill, hist_len)| {
                let mut fill = fill.into_iter().cycle();
                let more = |i: usize| if i < n_td { 0x80 } else { 0 };
                let mut b = vec![
                    if inverse { 0x3F } else { 0x3B },
                    ((ys[0] << 4) | more(0) | hist_len as u8),
                ];
                let mut protocols = Vec::new();
                for i in 0..=n_td {
                    for _ in 0..ys[i].count_ones() {
                        b.push(fill.next().unwrap());
                    }
                    if i < n_td {
                        b.push((ys[i + 1] << 4) | more(i + 1) | protos[i]);
                        if !protocols.contains(&protos[i]) {
                            protocols.push(protos[i]);
                        }
                    }
                }
                let historical: Vec<u8> = fill.by_ref().take(hist_len).collect();
                b.extend_from_slice(&historical);
                if protocols.iter().any(|&t| t != 0) {
                    let tck = b[1..].iter().fold(0u8, |a, x| a ^ x);
                    b.push(tck);
                }
                if protocols.is_empty() {
                    protocols.push(0);
                }
                (b, protocols, historical)
            })
    }

    proptest! {
        #[test]
        fn parse_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..40)) {
            if let Ok(info) = AtrInfo::parse(&bytes) {
                prop_assert_eq!(info.bytes, bytes);
                prop_assert!(info.historical_bytes.len() <= 15);
            }
        }

        #[test]
        fn text_decoding_never_panics(text in "\\PC{0,80}") {
            let _ = decode_hex_text(&text);
            let _ = normalize_atr(&text);
        }

        #[test]
        fn built_atrs_are_described_exactly((bytes, protocols, historical) in well_formed_atr()) {
            let info = AtrInfo::parse(&bytes).unwrap();
            prop_assert!(info.is_well_formed(), "{:?}", info.problems);
            prop_assert_eq!(&info.protocols, &protocols);
            prop_assert_eq!(&info.historical_bytes, &historical);
            prop_assert_eq!(info.expected_len, bytes.len());
            prop_assert_eq!(info.tck_required, protocols.iter().any(|&t| t != 0));
            prop_assert_eq!(info.tck_valid, info.tck_required.then_some(true));
            prop_assert_eq!(parse_atr_text(&to_hex(&bytes)).unwrap(), bytes.clone());
            // A corrupted TCK is reported by the card-side parser and refused for callers.
            if info.tck_required {
                let mut bad = bytes.clone();
                *bad.last_mut().unwrap() ^= 0x01;
                let info = AtrInfo::parse(&bad).unwrap();
                prop_assert_eq!(info.tck_valid, Some(false));
                prop_assert!(parse_atr_text(&to_hex(&bad)).is_err());
            }
        }

        #[test]
        fn every_notation_round_trips(bytes in prop::collection::vec(any::<u8>(), 1..=33)) {
            let packed = to_hex(&bytes);
            let upper_spaced: Vec<String> = bytes.iter().map(|b| format!("{b:02X}")).collect();
            let prefixed: Vec<String> = bytes.iter().map(|b| format!("0x{b:02x}")).collect();
            for text in [
                packed.clone(),
                packed.to_uppercase(),
                upper_spaced.join(" "),
                upper_spaced.join(":").to_lowercase(),
                prefixed.join(", "),
            ] {
                prop_assert_eq!(decode_hex_text(&text).unwrap(), bytes.clone(), "{}", text);
            }
        }

        #[test]
        fn normalization_is_idempotent(text in "[0-9a-fA-F :]{0,70}") {
            if let Ok(once) = normalize_atr(&text) {
                prop_assert_eq!(normalize_atr(&once).unwrap(), once.clone());
                prop_assert_eq!(once.clone(), once.to_lowercase());
            }
        }

        #[test]
        fn normalizing_a_built_atr_gives_lowercase_packed_hex((bytes, _p, _h) in well_formed_atr()) {
            let spaced: Vec<String> = bytes.iter().map(|b| format!("{b:02X}")).collect();
            prop_assert_eq!(normalize_atr(&spaced.join(" ")).unwrap(), to_hex(&bytes));
        }
    }
}
