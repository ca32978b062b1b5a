//! The minidriver card ID: which APDUs read it, how the 16 bytes are derived, and how they become a
//! GUID string. Pure logic over the [`Transmit`] trait so that it is unit-testable without PC/SC.

use super::apdu::{Fail, Transmit, exchange, find_tag, hex, parse_tlvs};
use crate::{Error, Status};

/// SELECT the GIDS application (AID `A0 00 00 03 97 42 54 46 59`, last two AID bytes not sent).
pub(crate) const SELECT_GIDS: &[u8] = &[
    0x00, 0xA4, 0x04, 0x00, 0x09, 0xA0, 0x00, 0x00, 0x03, 0x97, 0x42, 0x54, 0x46, 0x59, 0x00,
];
/// GET DATA of data object `DF20` in EF `A012` (the GIDS / Windows virtual smart card `cardid`).
pub(crate) const GET_GIDS_CARDID: &[u8] =
    &[0x00, 0xCB, 0xA0, 0x12, 0x04, 0x5C, 0x02, 0xDF, 0x20, 0x00];
/// SELECT the PIV application (full AID `A0 00 00 03 08 00 00 10 00 01 00`).
pub(crate) const SELECT_PIV: &[u8] = &[
    0x00, 0xA4, 0x04, 0x00, 0x0B, 0xA0, 0x00, 0x00, 0x03, 0x08, 0x00, 0x00, 0x10, 0x00, 0x01, 0x00,
    0x00,
];
/// GET DATA of the PIV CHUID object `5FC102`.
pub(crate) const GET_PIV_CHUID: &[u8] = &[
    0x00, 0xCB, 0x3F, 0xFF, 0x05, 0x5C, 0x03, 0x5F, 0xC1, 0x02, 0x00,
];

/// How the 16 raw card-ID bytes are turned into a GUID string.
///
/// Which of the two orders MIM CM uses for `cardid` is **unverified** (see
/// `smartcards.md` §4.5); the default is the Windows/.NET reading, the most likely one because MIM
/// treats the card ID as a .NET `Guid` and the minidriver hands out a Windows `GUID` structure.
/// Both produce lowercase, hyphenated, unbraced strings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum GuidByteOrder {
    /// Windows `GUID` / .NET `new Guid(byte[] bytes)`: the first three fields (4, 2, 2 bytes) are
    /// little-endian, the last 8 bytes as stored (= `uuid::Uuid::from_bytes_le`).
    /// Bytes `46 1c 7c 76 61 22 b3 8b 2e df 05 18 3c 3d 04 1a` read `767c1c46-2261-8bb3-2edf-05183c3d041a`.
    #[default]
    Windows,
    /// RFC 4122 / RFC 9562: the bytes in string order (= `uuid::Uuid::from_bytes`).
    /// Bytes `46 1c 7c 76 61 22 b3 8b 2e df 05 18 3c 3d 04 1a` read `461c7c76-6122-b38b-2edf-05183c3d041a`.
    Rfc4122,
}

impl GuidByteOrder {
    /// Formats 16 raw bytes as a lowercase hyphenated GUID in this byte order.
    pub fn format(self, bytes: &[u8; 16]) -> String {
        let u = match self {
            GuidByteOrder::Windows => uuid::Uuid::from_bytes_le(*bytes),
            GuidByteOrder::Rfc4122 => uuid::Uuid::from_bytes(*bytes),
        };
        u.hyphenated().to_string()
    }
}

/// Where the card ID came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CardIdSource {
    /// GIDS card or Windows (TPM) virtual smart card: data object `DF20` in EF `A012`.
    Gids,
    /// PIV card: the CHUID GUID (tag `34`).
    PivGuid,
    /// PIV card: the first 16 bytes of the CHUID FASC-N (tag `30`), per OpenSC's rule (see
    /// [`CardIdInfo`]). Whether Windows' msclmd.dll derives the same value is unverified.
    PivFascn,
    /// PIV card whose CHUID has neither a non-zero FASC-N nor a non-zero GUID: the card ID is 16 zero
    /// bytes and `warning` says so.
    PivEmpty,
}

/// A card ID read from a card.
///
/// PIV derivation (OpenSC `card-piv.c` `piv_get_serial_nr_from_CHUI` + minidriver `md_set_cardid`):
/// if the FASC-N is non-zero and is not a ";9999" FASC-N paired with a non-zero GUID, the FASC-N is
/// the serial and its first 16 bytes are the card ID; otherwise a non-zero GUID is the card ID;
/// otherwise 16 zero bytes with a warning. A GUID (tag `34`) that is not 16 bytes long is ignored,
/// as OpenSC does. (Windows' own PIV derivation is unverified.)
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CardIdInfo {
    /// The 16 raw bytes as stored on the card.
    pub bytes: [u8; 16],
    /// Where they came from.
    pub source: CardIdSource,
    /// The GUID string in the requested byte order (lowercase, hyphenated, no braces).
    pub guid: String,
    /// The byte order `guid` was formatted with.
    pub order: GuidByteOrder,
    /// A non-fatal problem the caller should show (for example an all-zero card ID that many cards share).
    pub warning: Option<String>,
}

impl CardIdInfo {
    fn new(bytes: [u8; 16], source: CardIdSource, order: GuidByteOrder) -> Self {
        let warning = bytes.iter().all(|&b| b == 0).then(|| {
            "The card ID is all zeros: cards without a unique ID look identical to Windows and MIM. \
             Personalise the card (PIV: write a CHUID with a random GUID) before binding it."
                .to_string()
        });
        CardIdInfo {
            guid: order.format(&bytes),
            bytes,
            source,
            order,
            warning,
        }
    }

    /// The same card ID formatted in another byte order.
    pub fn guid_in(&self, order: GuidByteOrder) -> String {
        order.format(&self.bytes)
    }
}

fn protocol_error(msg: String) -> Fail {
    Fail::Lib(Error::new(Status::CardProtocolError, msg))
}

/// The ";9999" FASC-N test of OpenSC (agency code 9999: a placeholder FASC-N).
pub(crate) fn is_9999_fascn(fascn: &[u8]) -> bool {
    fascn.len() >= 4
        && fascn[0] == 0xD4
        && fascn[1] == 0xE7
        && fascn[2] == 0x39
        && (fascn[3] | 0x7F) == 0xFF
}

/// Derives the card ID from the value of a CHUID object (with or without the outer `53` tag).
pub(crate) fn card_id_from_chuid(chuid: &[u8], order: GuidByteOrder) -> Result<CardIdInfo, Error> {
    let body = match parse_tlvs(chuid) {
        (t, true) if t.len() == 1 && t[0].tag == 0x53 => t[0].value,
        _ => chuid,
    };
    let (tlvs, complete) = parse_tlvs(body);
    if !complete && tlvs.is_empty() {
        return Err(Error::new(
            Status::CardProtocolError,
            format!("The PIV CHUID is not valid BER-TLV: {}", hex(chuid)),
        ));
    }
    let get = |tag: u32| tlvs.iter().find(|t| t.tag == tag).map(|t| t.value);
    let fascn = get(0x30);
    // A GUID that is not 16 bytes is ignored, as OpenSC does: the FASC-N (if any) decides.
    let guid = get(0x34).filter(|g| g.len() == 16);
    let nonzero = |v: Option<&[u8]>| v.is_some_and(|v| v.iter().any(|&b| b != 0));
    let guid_nonzero = nonzero(guid);
    if let Some(f) = fascn
        && nonzero(fascn)
        && !(is_9999_fascn(f) && guid_nonzero)
    {
        // md_set_cardid: the serial, truncated to 16 bytes (or repeated when shorter).
        let mut bytes = [0u8; 16];
        for (i, b) in bytes.iter_mut().enumerate() {
            *b = f[i % f.len()];
        }
        return Ok(CardIdInfo::new(bytes, CardIdSource::PivFascn, order));
    }
    if let Some(g) = guid
        && guid_nonzero
    {
        let mut bytes = [0u8; 16];
        bytes.copy_from_slice(g);
        return Ok(CardIdInfo::new(bytes, CardIdSource::PivGuid, order));
    }
    Ok(CardIdInfo::new([0u8; 16], CardIdSource::PivEmpty, order))
}

/// Reads the card ID in the order of Windows' inbox minidriver: SELECT PIV first, and when the card
/// is PIV its CHUID decides; only when PIV cannot be selected, SELECT GIDS and read `A012`/`DF20`.
/// A card carrying both applications is therefore read as the PIV card Windows sees.
pub(crate) fn read_card_id_with<T: Transmit + ?Sized>(
    t: &mut T,
    order: GuidByteOrder,
) -> Result<CardIdInfo, Fail> {
    let sel = exchange(t, SELECT_PIV)?;
    if sel.ok() {
        let r = exchange(t, GET_PIV_CHUID)?;
        if r.ok() {
            return card_id_from_chuid(&r.data, order).map_err(Fail::Lib);
        }
        return Err(Fail::Lib(Error::new(
            Status::CardIdNotFound,
            format!(
                "The PIV card has no readable CHUID (GET DATA 5FC102 → SW {:04X}); it has no card ID.",
                r.sw
            ),
        )));
    }
    let piv_sw = sel.sw;
    let sel = exchange(t, SELECT_GIDS)?;
    if !sel.ok() {
        return Err(Fail::Lib(Error::new(
            Status::CardIdNotFound,
            format!(
                "The card is neither a PIV card nor a GIDS card / Windows virtual smart card \
                 (SELECT PIV → SW {piv_sw:04X}; SELECT GIDS → SW {:04X}), so it has no minidriver card ID \
                 this library can read.",
                sel.sw
            ),
        )));
    }
    let r = exchange(t, GET_GIDS_CARDID)?;
    if !r.ok() {
        return Err(Fail::Lib(Error::new(
            Status::CardIdNotFound,
            format!(
                "The GIDS card has no readable card ID (GET DATA A012/DF20 → SW {:04X}). \
                 (SELECT PIV → SW {piv_sw:04X})",
                r.sw
            ),
        )));
    }
    let Some(v) = find_tag(&r.data, 0xDF20) else {
        return Err(protocol_error(format!(
            "GET DATA A012/DF20 answered without a DF20 object: {}",
            hex(&r.data)
        )));
    };
    let bytes: [u8; 16] = v.try_into().map_err(|_| {
        protocol_error(format!(
            "The GIDS card ID (DF20) has {} bytes instead of 16.",
            v.len()
        ))
    })?;
    Ok(CardIdInfo::new(bytes, CardIdSource::Gids, order))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unhex(h: &str) -> Vec<u8> {
        let h: String = h.chars().filter(|c| !c.is_whitespace()).collect();
        (0..h.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&h[i..i + 2], 16).unwrap())
            .collect()
    }

    /// The worked example of yubico-piv-tool `doc/Actions/status.adoc` (smartcards.md §4.4).
    const YK_CHUID: &str = "30 19 d4e739da739ced39ce739d836858210842108421c84210c3eb \
                            34 10 461c7c766122b38b2edf05183c3d041a 35 08 3230333030313031 3e 00 fe 00";

    #[test]
    fn byte_orders() {
        let b: [u8; 16] = unhex("461c7c766122b38b2edf05183c3d041a")
            .try_into()
            .unwrap();
        assert_eq!(
            GuidByteOrder::Windows.format(&b),
            "767c1c46-2261-8bb3-2edf-05183c3d041a"
        );
        assert_eq!(
            GuidByteOrder::Rfc4122.format(&b),
            "461c7c76-6122-b38b-2edf-05183c3d041a"
        );
        assert_eq!(GuidByteOrder::default(), GuidByteOrder::Windows);
        // .NET Guid.ToByteArray documentation example.
        let b: [u8; 16] = unhex("C98B91356D19EA409779889D79B753F0")
            .try_into()
            .unwrap();
        assert_eq!(
            GuidByteOrder::Windows.format(&b),
            "35918bc9-196d-40ea-9779-889d79b753f0"
        );
        // MIM docs example card id.
        let b: [u8; 16] = unhex("3ff188bcba833740826246eba1291c6e")
            .try_into()
            .unwrap();
        assert_eq!(
            GuidByteOrder::Windows.format(&b),
            "bc88f13f-83ba-4037-8262-46eba1291c6e"
        );
    }

    #[test]
    fn chuid_9999_fascn_with_guid_uses_guid() {
        for wrapped in [false, true] {
            let mut chuid = unhex(YK_CHUID);
            if wrapped {
                let mut w = vec![0x53, chuid.len() as u8];
                w.extend_from_slice(&chuid);
                chuid = w;
            }
            let id = card_id_from_chuid(&chuid, GuidByteOrder::Windows).unwrap();
            assert_eq!(id.source, CardIdSource::PivGuid);
            assert_eq!(id.guid, "767c1c46-2261-8bb3-2edf-05183c3d041a");
            assert_eq!(
                id.guid_in(GuidByteOrder::Rfc4122),
                "461c7c76-6122-b38b-2edf-05183c3d041a"
            );
            assert!(id.warning.is_none());
        }
    }

    #[test]
    fn chuid_real_fascn_wins() {
        // A FASC-N that is not ";9999" (agency 1234) together with a GUID: OpenSC uses the FASC-N.
        let fascn = "d0 43 94 58 21 0c 2c 19 a0 84 6d 83 68 5a 10 82 10 8c e7 39 84 10 8c a3 fc";
        let chuid = unhex(&format!(
            "3019 {fascn} 3410 461c7c766122b38b2edf05183c3d041a fe00"
        ));
        let id = card_id_from_chuid(&chuid, GuidByteOrder::Rfc4122).unwrap();
        assert_eq!(id.source, CardIdSource::PivFascn);
        assert_eq!(id.bytes[..], unhex(fascn)[..16]);
        assert!(!is_9999_fascn(&unhex(fascn)));
        assert!(is_9999_fascn(&unhex("d4e739da")));
    }

    #[test]
    fn chuid_zero_fascn_zero_guid_warns() {
        let chuid = unhex(&format!(
            "3019 {} 3410 {} fe00",
            "00".repeat(25),
            "00".repeat(16)
        ));
        let id = card_id_from_chuid(&chuid, GuidByteOrder::Windows).unwrap();
        assert_eq!(id.source, CardIdSource::PivEmpty);
        assert_eq!(id.guid, "00000000-0000-0000-0000-000000000000");
        assert!(id.warning.is_some());
        // Zero FASC-N, non-zero GUID → GUID.
        let chuid = unhex(&format!(
            "3019 {} 3410 {}",
            "00".repeat(25),
            "11".repeat(16)
        ));
        assert_eq!(
            card_id_from_chuid(&chuid, GuidByteOrder::Windows)
                .unwrap()
                .source,
            CardIdSource::PivGuid
        );
    }

    #[test]
    fn chuid_guid_of_wrong_length_is_ignored_and_the_fascn_used() {
        // OpenSC ignores a tag-34 GUID that is not 16 bytes and falls back to the FASC-N, even a
        // ";9999" one (it is no longer paired with a usable GUID).
        for guid_len in [0usize, 8, 15, 17, 32] {
            let chuid = unhex(&format!(
                "3019 d4e739da739ced39ce739d836858210842108421c84210c3eb 34{guid_len:02x} {} fe00",
                "5a".repeat(guid_len)
            ));
            let id = card_id_from_chuid(&chuid, GuidByteOrder::Rfc4122).unwrap();
            assert_eq!(
                id.source,
                CardIdSource::PivFascn,
                "GUID of {guid_len} bytes"
            );
            assert_eq!(hex(&id.bytes), "d4e739da739ced39ce739d8368582108");
            assert!(id.warning.is_none());
        }
        // Without a FASC-N, a bad GUID leaves no card ID: all zeros with a warning, not an error.
        let id =
            card_id_from_chuid(&unhex("3408 0102030405060708"), GuidByteOrder::Windows).unwrap();
        assert_eq!(id.source, CardIdSource::PivEmpty);
        assert!(id.warning.is_some());
    }

    struct Fake {
        gids: Option<Vec<u8>>,
        chuid: Option<Vec<u8>>,
        selected: u8,
        sent: Vec<Vec<u8>>,
    }
    impl Transmit for Fake {
        fn transmit_raw(&mut self, apdu: &[u8]) -> Result<Vec<u8>, Fail> {
            self.sent.push(apdu.to_vec());
            let with_sw = |mut d: Vec<u8>| {
                d.extend_from_slice(&[0x90, 0x00]);
                d
            };
            Ok(match apdu {
                a if a == SELECT_GIDS && self.gids.is_some() => {
                    self.selected = 1;
                    vec![0x90, 0x00]
                }
                a if a == SELECT_PIV && self.chuid.is_some() => {
                    self.selected = 2;
                    vec![0x90, 0x00]
                }
                a if a == GET_GIDS_CARDID && self.selected == 1 => {
                    with_sw(self.gids.clone().unwrap())
                }
                a if a == GET_PIV_CHUID && self.selected == 2 => {
                    with_sw(self.chuid.clone().unwrap())
                }
                _ => {
                    self.selected = 0;
                    vec![0x6A, 0x82]
                }
            })
        }
    }

    #[test]
    fn gids_flow() {
        let mut f = Fake {
            gids: Some(unhex("df2010 3ff188bcba833740826246eba1291c6e")),
            chuid: None,
            selected: 0,
            sent: vec![],
        };
        let id = read_card_id_with(&mut f, GuidByteOrder::Windows).unwrap();
        assert_eq!(id.source, CardIdSource::Gids);
        assert_eq!(id.guid, "bc88f13f-83ba-4037-8262-46eba1291c6e");
        // PIV is tried first (as Windows does), GIDS only after PIV was refused.
        assert_eq!(
            f.sent,
            vec![
                SELECT_PIV.to_vec(),
                SELECT_GIDS.to_vec(),
                GET_GIDS_CARDID.to_vec()
            ]
        );
    }

    #[test]
    fn a_card_with_both_piv_and_gids_is_read_as_piv() {
        let mut chuid = vec![0x53, 0x3B];
        chuid.extend(unhex(YK_CHUID));
        let mut f = Fake {
            gids: Some(unhex("df2010 3ff188bcba833740826246eba1291c6e")),
            chuid: Some(chuid),
            selected: 0,
            sent: vec![],
        };
        let id = read_card_id_with(&mut f, GuidByteOrder::Rfc4122).unwrap();
        assert_eq!(id.source, CardIdSource::PivGuid);
        assert_eq!(id.guid, "461c7c76-6122-b38b-2edf-05183c3d041a");
        assert_eq!(f.sent, vec![SELECT_PIV.to_vec(), GET_PIV_CHUID.to_vec()]);
    }

    #[test]
    fn piv_flow_and_not_found() {
        let mut chuid = vec![0x53, 0x3B];
        chuid.extend(unhex(YK_CHUID));
        let mut f = Fake {
            gids: None,
            chuid: Some(chuid),
            selected: 0,
            sent: vec![],
        };
        let id = read_card_id_with(&mut f, GuidByteOrder::Rfc4122).unwrap();
        assert_eq!(id.guid, "461c7c76-6122-b38b-2edf-05183c3d041a");
        assert_eq!(f.sent, vec![SELECT_PIV.to_vec(), GET_PIV_CHUID.to_vec()]);

        let mut f = Fake {
            gids: None,
            chuid: None,
            selected: 0,
            sent: vec![],
        };
        match read_card_id_with(&mut f, GuidByteOrder::Windows) {
            Err(Fail::Lib(e)) => {
                assert_eq!(e.status, Status::CardIdNotFound);
                assert!(e.message.contains("6A82"), "{}", e.message);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn gids_wrong_length_is_protocol_error() {
        let mut f = Fake {
            gids: Some(unhex("df2004 01020304")),
            chuid: None,
            selected: 0,
            sent: vec![],
        };
        match read_card_id_with(&mut f, GuidByteOrder::Windows) {
            Err(Fail::Lib(e)) => assert_eq!(e.status, Status::CardProtocolError),
            other => panic!("{other:?}"),
        }
    }
}
