//! The `WWW-Authenticate` / `Proxy-Authenticate` parser (RFC 9110 §11.6.1: several challenges may share
//! one header value, separated by commas that are not inside quoted strings).

use crate::error::{Error, Result};
use crate::status::Status;

/// One challenge of a `WWW-Authenticate` header: `scheme [token68 | auth-param, ...]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    /// The scheme as sent (compare with [`Challenge::is`], case-insensitively).
    pub scheme: String,
    /// The token68 (base64 for Negotiate/NTLM), if any.
    pub token68: Option<String>,
    /// The auth-params (`realm="x"`), names lower-cased, quotes removed.
    pub params: Vec<(String, String)>,
}

impl Challenge {
    /// Whether this challenge is for `scheme` (case-insensitive).
    pub fn is(&self, scheme: &str) -> bool {
        self.scheme.eq_ignore_ascii_case(scheme)
    }

    /// The decoded token, if the challenge carries one.
    pub(crate) fn token(&self) -> Option<Result<Vec<u8>>> {
        self.token68.as_deref().map(|t| {
            super::decode_token(t).ok_or_else(|| {
                Error::new(
                    Status::AuthUnavailable,
                    format!("the server sent a malformed {} token", self.scheme),
                )
            })
        })
    }
}

/// Splits `s` at commas outside double-quoted strings.
fn split_commas(s: &str) -> Vec<&str> {
    let (mut out, mut start, mut quoted, mut escaped) = (Vec::new(), 0, false, false);
    for (i, c) in s.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            ',' if !quoted => {
                out.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&s[start..]);
    out
}

fn is_token68(s: &str) -> bool {
    let body = s.trim_end_matches('=');
    !body.is_empty()
        && body
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~+/".contains(&b))
}

fn parse_param(item: &str) -> Option<(String, String)> {
    let (name, value) = item.split_once('=')?;
    let name = name.trim();
    if name.is_empty() || name.contains(char::is_whitespace) {
        return None;
    }
    let value = value.trim();
    let value = if value.len() >= 2 && value.starts_with('"') && value.ends_with('"') {
        value[1..value.len() - 1]
            .replace("\\\"", "\"")
            .replace("\\\\", "\\")
    } else {
        value.to_string()
    };
    Some((name.to_ascii_lowercase(), value))
}

/// Parses every `WWW-Authenticate` value (each may hold several comma-separated challenges).
pub fn parse_challenges(www_authenticate: &[String]) -> Vec<Challenge> {
    let mut out: Vec<Challenge> = Vec::new();
    for value in www_authenticate {
        let mut current: Option<Challenge> = None;
        for item in split_commas(value) {
            let item = item.trim();
            if item.is_empty() {
                continue;
            }
            // `name=value` with no space before '=' continues the current challenge's params.
            let first_ws = item.find(char::is_whitespace).unwrap_or(item.len());
            let eq = item.find('=');
            if let (Some(c), Some(eq)) = (current.as_mut(), eq)
                && eq < first_ws
                && !is_token68(item)
                && let Some(p) = parse_param(item)
            {
                c.params.push(p);
                continue;
            }
            if let Some(c) = current.take() {
                out.push(c);
            }
            let (scheme, rest) = item.split_at(first_ws);
            let rest = rest.trim();
            let mut ch = Challenge {
                scheme: scheme.to_string(),
                token68: None,
                params: Vec::new(),
            };
            if !rest.is_empty() {
                if is_token68(rest) {
                    ch.token68 = Some(rest.to_string());
                } else if let Some(p) = parse_param(rest) {
                    ch.params.push(p);
                }
            }
            current = Some(ch);
        }
        if let Some(c) = current.take() {
            out.push(c);
        }
    }
    out
}

/// The scheme names of a list of `WWW-Authenticate` values, for messages ("Negotiate, NTLM").
pub fn offered_schemes(www_authenticate: &[String]) -> String {
    let names: Vec<String> = parse_challenges(www_authenticate)
        .into_iter()
        .map(|c| c.scheme)
        .collect();
    if names.is_empty() {
        "no scheme".to_string()
    } else {
        names.join(", ")
    }
}
