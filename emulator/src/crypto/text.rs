//! Base64 the way CM clients send it (line breaks, PEM armour) and the way the docs show it.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, STANDARD_PAD_INDIFFERENT};

/// Decodes base64 that may carry `\r\n`/whitespace line breaks and PEM armour (`-----BEGIN CERTIFICATE
/// REQUEST-----`, `-----BEGIN NEW CERTIFICATE REQUEST-----`, any `-----BEGIN x-----` … `-----END x-----`).
/// Padding may be omitted. `None` for anything else (bad characters, bad length, empty input, an
/// unterminated PEM block).
pub fn base64_decode_lenient(text: &str) -> Option<Vec<u8>> {
    let body = pem_body(text)?;
    let compact: String = body.chars().filter(|c| !c.is_whitespace()).collect();
    if compact.is_empty() {
        return None;
    }
    STANDARD_PAD_INDIFFERENT.decode(compact.as_bytes()).ok()
}

/// The text between the first `-----BEGIN …-----` line and its `-----END …-----` line, or the whole
/// text when there is no armour.
fn pem_body(text: &str) -> Option<&str> {
    let Some(begin) = text.find("-----BEGIN ") else {
        return Some(text);
    };
    let after_begin = &text[begin + "-----BEGIN ".len()..];
    let label_end = after_begin.find("-----")?;
    let label = &after_begin[..label_end];
    if label.contains(['\r', '\n']) {
        return None;
    }
    let body = &after_begin[label_end + "-----".len()..];
    let end_marker = format!("-----END {label}-----");
    let end = body.find(&end_marker)?;
    Some(&body[..end])
}

/// Standard base64 in 64-character lines joined by `"\r\n"` (no trailing line break), as the CM
/// documentation's `certificaterequests` and `Pkcs7` values look.
pub fn base64_crlf(bytes: &[u8]) -> String {
    let flat = STANDARD.encode(bytes);
    let mut out = String::with_capacity(flat.len() + flat.len() / 64 * 2);
    for (i, line) in flat.as_bytes().chunks(64).enumerate() {
        if i > 0 {
            out.push_str("\r\n");
        }
        // chunks of ASCII are valid UTF-8
        out.push_str(std::str::from_utf8(line).unwrap_or_default());
    }
    out
}

/// PEM with `\n` line endings: `-----BEGIN {label}-----`, 64-column base64, `-----END {label}-----`.
pub fn pem(label: &str, der: &[u8]) -> String {
    let body = base64_crlf(der).replace("\r\n", "\n");
    format!("-----BEGIN {label}-----\n{body}\n-----END {label}-----\n")
}

/// Uppercase hex without separators (Windows' serial number and thumbprint form).
pub fn hex_upper(bytes: &[u8]) -> String {
    use std::fmt::Write;
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(out, "{b:02X}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crlf_lines_round_trip() {
        let data: Vec<u8> = (0..=255u8).collect();
        let text = base64_crlf(&data);
        let lines: Vec<&str> = text.split("\r\n").collect();
        assert_eq!(lines.len(), 6); // 344 chars
        assert!(lines[..5].iter().all(|l| l.len() == 64));
        assert!(!text.ends_with('\n'));
        assert_eq!(base64_decode_lenient(&text).unwrap(), data);
        assert_eq!(base64_crlf(b""), "");
    }

    #[test]
    fn lenient_forms() {
        assert_eq!(base64_decode_lenient("AQID").unwrap(), vec![1, 2, 3]);
        assert_eq!(
            base64_decode_lenient(" AQ\r\nID \n").unwrap(),
            vec![1, 2, 3]
        );
        assert_eq!(base64_decode_lenient("AQIDBA").unwrap(), vec![1, 2, 3, 4]);
        assert_eq!(base64_decode_lenient("AQIDBA==").unwrap(), vec![1, 2, 3, 4]);
        let pem_new = "-----BEGIN NEW CERTIFICATE REQUEST-----\r\nAQID\r\n-----END NEW CERTIFICATE REQUEST-----\r\n";
        assert_eq!(base64_decode_lenient(pem_new).unwrap(), vec![1, 2, 3]);
        let pem_plain =
            "-----BEGIN CERTIFICATE REQUEST-----\nAQID\n-----END CERTIFICATE REQUEST-----";
        assert_eq!(base64_decode_lenient(pem_plain).unwrap(), vec![1, 2, 3]);
        assert_eq!(
            base64_decode_lenient(&pem("CERTIFICATE", &[9, 8, 7])).unwrap(),
            vec![9, 8, 7]
        );
    }

    #[test]
    fn lenient_rejects() {
        for bad in [
            "",
            " \r\n",
            "AQI*",
            "A",
            "-----BEGIN CERTIFICATE REQUEST-----\nAQID\n",
            "-----BEGIN CERTIFICATE REQUEST-----\nAQID\n-----END CERTIFICATE-----",
            "-----BEGIN X-----\n-----END X-----",
        ] {
            assert!(base64_decode_lenient(bad).is_none(), "{bad:?}");
        }
    }

    #[test]
    fn hex() {
        assert_eq!(hex_upper(&[0x0a, 0xff, 0]), "0AFF00");
    }
}
