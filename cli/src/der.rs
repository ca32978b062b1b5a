//! Just enough DER to show a server certificate: subject, issuer, validity and DNS names (X.509, RFC 5280).
//! A small reader instead of a crate: `x509-parser` would add `nom`, `der-parser`, `asn1-rs`, `time` and
//! their derive macros (several seconds of cold build) for four fields. Malformed input gives `None`, never
//! a panic.

/// One TLV: tag byte and contents.
struct Tlv<'a> {
    tag: u8,
    body: &'a [u8],
}

/// Reads one TLV from the front of `input`, returning it and the rest.
fn read(input: &[u8]) -> Option<(Tlv<'_>, &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, mut rest) = rest.split_first()?;
    let len = if first < 0x80 {
        usize::from(first)
    } else {
        let n = usize::from(first & 0x7F);
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let len = rest[..n]
            .iter()
            .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
        rest = &rest[n..];
        len
    };
    if rest.len() < len {
        return None;
    }
    Some((
        Tlv {
            tag,
            body: &rest[..len],
        },
        &rest[len..],
    ))
}

/// All TLVs in a constructed body.
fn children(mut body: &[u8]) -> Option<Vec<Tlv<'_>>> {
    let mut out = Vec::new();
    while !body.is_empty() {
        let (tlv, rest) = read(body)?;
        out.push(tlv);
        body = rest;
    }
    Some(out)
}

/// What `doctor` shows of a certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertSummary {
    pub subject: String,
    pub issuer: String,
    /// Seconds since the Unix epoch.
    pub not_before: i64,
    pub not_after: i64,
    /// subjectAltName dNSName entries.
    pub dns_names: Vec<String>,
}

/// Parses a DER X.509 certificate.
pub fn summarize(der: &[u8]) -> Option<CertSummary> {
    let (cert, _) = read(der)?;
    let (tbs, _) = read(cert.body)?;
    let fields = children(tbs.body)?;
    // [0] version is optional; then serial, signature, issuer, validity, subject, spki, [3] extensions.
    let start = usize::from(fields.first()?.tag == 0xA0);
    let issuer = name(fields.get(start + 2)?)?;
    let validity = children(fields.get(start + 3)?.body)?;
    let subject = name(fields.get(start + 4)?)?;
    let not_before = time(validity.first()?)?;
    let not_after = time(validity.get(1)?)?;
    let mut dns_names = Vec::new();
    if let Some(ext) = fields.iter().find(|f| f.tag == 0xA3) {
        let (seq, _) = read(ext.body)?;
        for e in children(seq.body)? {
            let parts = children(e.body)?;
            // extnID 2.5.29.17 (subjectAltName)
            if parts
                .first()
                .is_some_and(|p| p.tag == 0x06 && p.body == [0x55, 0x1D, 0x11])
            {
                let value = parts.last()?;
                let (names, _) = read(value.body)?;
                for n in children(names.body)? {
                    if n.tag == 0x82 {
                        dns_names.push(String::from_utf8_lossy(n.body).into_owned());
                    }
                }
            }
        }
    }
    Some(CertSummary {
        subject,
        issuer,
        not_before,
        not_after,
        dns_names,
    })
}

fn oid_name(oid: &[u8]) -> String {
    match oid {
        [0x55, 0x04, 0x03] => "CN".into(),
        [0x55, 0x04, 0x06] => "C".into(),
        [0x55, 0x04, 0x07] => "L".into(),
        [0x55, 0x04, 0x08] => "ST".into(),
        [0x55, 0x04, 0x0A] => "O".into(),
        [0x55, 0x04, 0x0B] => "OU".into(),
        [0x09, 0x92, 0x26, 0x89, 0x93, 0xF2, 0x2C, 0x64, 0x01, 0x19] => "DC".into(),
        [0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x09, 0x01] => "emailAddress".into(),
        other => other
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<Vec<_>>()
            .join(""),
    }
}

/// `CN=cm.contoso.com, O=Contoso` (RDNs in the order they appear).
fn name(tlv: &Tlv<'_>) -> Option<String> {
    let mut parts = Vec::new();
    for rdn in children(tlv.body)? {
        for atv in children(rdn.body)? {
            let kv = children(atv.body)?;
            let (oid, value) = (kv.first()?, kv.get(1)?);
            let text = match value.tag {
                0x1E => {
                    // BMPString: UTF-16BE
                    let units: Vec<u16> = value
                        .body
                        .chunks(2)
                        .map(|c| u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]))
                        .collect();
                    String::from_utf16_lossy(&units)
                }
                _ => String::from_utf8_lossy(value.body).into_owned(),
            };
            parts.push(format!("{}={text}", oid_name(oid.body)));
        }
    }
    Some(parts.join(", "))
}

/// UTCTime (YYMMDDHHMMSSZ) or GeneralizedTime (YYYYMMDDHHMMSSZ) to Unix seconds.
fn time(tlv: &Tlv<'_>) -> Option<i64> {
    let text = std::str::from_utf8(tlv.body).ok()?;
    let digits = text.strip_suffix('Z')?;
    let (year, rest) = match tlv.tag {
        0x17 if digits.len() == 12 => {
            let yy: i64 = digits[..2].parse().ok()?;
            (if yy >= 50 { 1900 + yy } else { 2000 + yy }, &digits[2..])
        }
        0x18 if digits.len() == 14 => (digits[..4].parse().ok()?, &digits[4..]),
        _ => return None,
    };
    let num = |i: usize| rest.get(i..i + 2)?.parse::<i64>().ok();
    unix_time(year, num(0)?, num(2)?, num(4)?, num(6)?, num(8)?)
}

pub use cm_smartcard::cm::time::unix_time;

/// Parses an HTTP date (IMF-fixdate, `Sun, 06 Nov 1994 08:49:37 GMT`) to Unix seconds.
pub fn http_date(text: &str) -> Option<i64> {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let parts: Vec<&str> = text.split_whitespace().collect();
    let [_, day, month, year, clock, "GMT"] = parts.as_slice() else {
        return None;
    };
    let month = MONTHS.iter().position(|m| m.eq_ignore_ascii_case(month))? as i64 + 1;
    let hms: Vec<i64> = clock
        .split(':')
        .map(|p| p.parse().ok())
        .collect::<Option<_>>()?;
    let [h, mi, s] = hms.as_slice() else {
        return None;
    };
    unix_time(year.parse().ok()?, month, day.parse().ok()?, *h, *mi, *s)
}

/// Unix seconds as `2026-12-02 01:30:00 UTC`.
pub fn format_time(t: i64) -> String {
    let days = t.div_euclid(86_400);
    let sod = t.rem_euclid(86_400);
    // civil_from_days
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} UTC",
        sod / 3600,
        (sod / 60) % 60,
        sod % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(unix_time(1970, 1, 1, 0, 0, 0), Some(0));
        assert_eq!(
            http_date("Sun, 06 Nov 1994 08:49:37 GMT"),
            Some(784_111_777)
        );
        assert_eq!(format_time(784_111_777), "1994-11-06 08:49:37 UTC");
        assert_eq!(http_date("Sunday, 06-Nov-94 08:49:37 GMT"), None);
        assert_eq!(http_date("Sun, 06 Nov 1994 08:49:37"), None);
        assert_eq!(unix_time(2026, 13, 1, 0, 0, 0), None);
    }

    #[test]
    fn malformed_der_is_none_not_a_panic() {
        assert_eq!(summarize(&[]), None);
        assert_eq!(summarize(&[0x30, 0x84, 0xFF, 0xFF, 0xFF, 0xFF]), None);
        assert_eq!(summarize(&[0x30, 0x03, 0x30, 0x01, 0x02]), None);
        for len in 0..64u8 {
            let junk: Vec<u8> = (0..len).map(|i| i.wrapping_mul(73) ^ 0x30).collect();
            let _ = summarize(&junk);
        }
    }
}
