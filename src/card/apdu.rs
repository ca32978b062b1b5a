//! APDU exchange helpers (61xx / 6Cxx handling) and a minimal BER-TLV reader. Pure code, no PC/SC.

/// Why an exchange with the card failed: a PC/SC failure (mapped later, with the reader name) or a
/// library error that is already final.
#[derive(Debug)]
pub(crate) enum Fail {
    Pcsc(pcsc::Error),
    Lib(crate::Error),
}

impl From<pcsc::Error> for Fail {
    fn from(e: pcsc::Error) -> Self {
        Fail::Pcsc(e)
    }
}

impl From<crate::Error> for Fail {
    fn from(e: crate::Error) -> Self {
        Fail::Lib(e)
    }
}

/// Something that sends one command APDU and returns the raw response (data followed by SW1 SW2).
pub(crate) trait Transmit {
    fn transmit_raw(&mut self, apdu: &[u8]) -> Result<Vec<u8>, Fail>;
}

/// A response APDU: data and status word.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Response {
    pub data: Vec<u8>,
    pub sw: u16,
}

impl Response {
    pub fn ok(&self) -> bool {
        self.sw == 0x9000
    }
}

/// Hex of a byte slice, lowercase, packed.
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn split_sw(mut raw: Vec<u8>) -> Result<Response, Fail> {
    if raw.len() < 2 {
        return Err(Fail::Lib(crate::Error::new(
            crate::Status::CardProtocolError,
            format!(
                "The card sent a response of {} byte(s), shorter than a status word.",
                raw.len()
            ),
        )));
    }
    let sw = u16::from_be_bytes([raw[raw.len() - 2], raw[raw.len() - 1]]);
    raw.truncate(raw.len() - 2);
    Ok(Response { data: raw, sw })
}

/// Sends `apdu` and follows the ISO 7816-4 transport conventions:
/// `61 xx` → GET RESPONSE (`00 C0 00 00 xx`) and append, repeatedly;
/// `6C xx` → resend the same command with Le = xx (once).
pub(crate) fn exchange<T: Transmit + ?Sized>(t: &mut T, apdu: &[u8]) -> Result<Response, Fail> {
    let mut resp = split_sw(t.transmit_raw(apdu)?)?;
    if resp.sw >> 8 == 0x6C && apdu.len() >= 5 {
        let mut again = apdu.to_vec();
        let last = again.len() - 1;
        if apdu.len() == 5 || apdu.len() > 5 + apdu[4] as usize {
            again[last] = (resp.sw & 0xFF) as u8; // replace Le
        } else {
            again.push((resp.sw & 0xFF) as u8); // case 3 → case 4
        }
        resp = split_sw(t.transmit_raw(&again)?)?;
    }
    let mut data = std::mem::take(&mut resp.data);
    let mut sw = resp.sw;
    let mut rounds = 0;
    while sw >> 8 == 0x61 {
        rounds += 1;
        if rounds > 64 || data.len() > 65536 {
            return Err(Fail::Lib(crate::Error::new(
                crate::Status::CardProtocolError,
                "The card kept answering 61xx (more data) beyond 64 GET RESPONSE rounds.",
            )));
        }
        let next = split_sw(t.transmit_raw(&[0x00, 0xC0, 0x00, 0x00, (sw & 0xFF) as u8])?)?;
        data.extend_from_slice(&next.data);
        sw = next.sw;
    }
    Ok(Response { data, sw })
}

/// One BER-TLV element.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Tlv<'a> {
    pub tag: u32,
    pub constructed: bool,
    pub value: &'a [u8],
}

/// Parses a sequence of BER-TLV elements. Stops at the first malformed element and returns what was
/// parsed before it together with `false` (callers treat a truncated buffer as malformed data).
/// `00` and `FF` padding bytes between elements are skipped (ISO 7816-4 §5.2.2.1).
pub(crate) fn parse_tlvs(mut buf: &[u8]) -> (Vec<Tlv<'_>>, bool) {
    let mut out = Vec::new();
    while !buf.is_empty() {
        if buf[0] == 0x00 || buf[0] == 0xFF {
            buf = &buf[1..];
            continue;
        }
        let first = buf[0];
        let constructed = first & 0x20 != 0;
        let mut tag = u32::from(first);
        let mut i = 1;
        if first & 0x1F == 0x1F {
            loop {
                let Some(&b) = buf.get(i) else {
                    return (out, false);
                };
                if i > 3 {
                    return (out, false);
                }
                tag = (tag << 8) | u32::from(b);
                i += 1;
                if b & 0x80 == 0 {
                    break;
                }
            }
        }
        let Some(&l0) = buf.get(i) else {
            return (out, false);
        };
        i += 1;
        let len = if l0 < 0x80 {
            l0 as usize
        } else {
            let n = (l0 & 0x7F) as usize;
            if n == 0 || n > 3 || buf.len() < i + n {
                return (out, false);
            }
            let mut l = 0usize;
            for &b in &buf[i..i + n] {
                l = (l << 8) | b as usize;
            }
            i += n;
            l
        };
        if buf.len() < i + len {
            return (out, false);
        }
        out.push(Tlv {
            tag,
            constructed,
            value: &buf[i..i + len],
        });
        buf = &buf[i + len..];
    }
    (out, true)
}

/// Finds the first element with `tag`, searching constructed elements depth-first.
pub(crate) fn find_tag(buf: &[u8], tag: u32) -> Option<&[u8]> {
    let (tlvs, _) = parse_tlvs(buf);
    for t in &tlvs {
        if t.tag == tag {
            return Some(t.value);
        }
        if t.constructed
            && let Some(v) = find_tag(t.value, tag)
        {
            return Some(v);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::VecDeque;

    struct Script {
        sent: Vec<Vec<u8>>,
        replies: VecDeque<Vec<u8>>,
    }
    impl Transmit for Script {
        fn transmit_raw(&mut self, apdu: &[u8]) -> Result<Vec<u8>, Fail> {
            self.sent.push(apdu.to_vec());
            Ok(self.replies.pop_front().expect("unexpected APDU"))
        }
    }
    fn script(replies: &[&str]) -> Script {
        Script {
            sent: vec![],
            replies: replies.iter().map(|h| unhex(h)).collect(),
        }
    }
    pub(crate) fn unhex(h: &str) -> Vec<u8> {
        let h: String = h.chars().filter(|c| !c.is_whitespace()).collect();
        (0..h.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&h[i..i + 2], 16).unwrap())
            .collect()
    }

    #[test]
    fn get_response_chaining() {
        let mut s = script(&["0102 6103", "030405 6102", "0607 9000"]);
        let r = exchange(&mut s, &unhex("00cb3fff055c035fc10200")).unwrap();
        assert_eq!(r.data, unhex("01020304050607"));
        assert_eq!(r.sw, 0x9000);
        assert_eq!(s.sent[1], unhex("00c0000003"));
        assert_eq!(s.sent[2], unhex("00c0000002"));
    }

    #[test]
    fn wrong_le_is_resent() {
        let mut s = script(&["6c05", "0102030405 9000"]);
        let r = exchange(&mut s, &unhex("00cba012045c02df2000")).unwrap();
        assert_eq!(r.data.len(), 5);
        assert_eq!(s.sent[1], unhex("00cba012045c02df2005"));
        // Case 3 command: Le is appended.
        let mut s = script(&["6c02", "aabb 9000"]);
        exchange(&mut s, &unhex("00cba012045c02df20")).unwrap();
        assert_eq!(s.sent[1], unhex("00cba012045c02df2002"));
    }

    #[test]
    fn short_response_is_protocol_error() {
        let mut s = script(&["90"]);
        match exchange(&mut s, &unhex("00a4040000")) {
            Err(Fail::Lib(e)) => assert_eq!(e.status, crate::Status::CardProtocolError),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn tlv_parsing() {
        let buf = unhex("df2010 00112233445566778899aabbccddeeff");
        let (t, ok) = parse_tlvs(&buf);
        assert!(ok);
        assert_eq!(t[0].tag, 0xDF20);
        assert_eq!(t[0].value.len(), 16);
        // Long form length and nesting
        let mut nested = vec![0x53, 0x81, 0x83, 0x34, 0x10];
        nested.extend_from_slice(&[7u8; 16]);
        nested.extend_from_slice(&[0x3E, 0x6F]);
        nested.extend_from_slice(&[0u8; 0x6F]);
        assert_eq!(parse_tlvs(&nested).0.len(), 1);
        // 53 is primitive (bit 6 clear): find_tag does not descend; CHUID code parses the value itself.
        assert!(find_tag(&nested, 0x34).is_none());
        let constructed = unhex("7004 5f2f01aa");
        assert_eq!(find_tag(&constructed, 0x5F2F), Some(&[0xAA][..]));
        // Truncated
        assert!(!parse_tlvs(&unhex("341000")).1);
        assert!(!parse_tlvs(&unhex("df")).1);
    }
}
