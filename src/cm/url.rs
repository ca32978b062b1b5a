//! The CM server base URL as callers write it, normalized to the API root.

use crate::error::{Error, Result};
use crate::guid::printable;
use crate::status::Status;

/// The CM application path every API URL starts with (IIS treats it case-insensitively).
pub const APP_PATH: &str = "/CertificateManagement";
/// The API version segment.
pub const API_PATH: &str = "/api/v1.0";

/// A validated server URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerUrl {
    /// True for `https://`.
    pub is_https: bool,
    /// The host exactly as the caller wrote it (brackets removed from IPv6 literals), used for the SPN.
    pub host: String,
    /// The TCP port (explicit, or 443/80).
    pub port: u16,
    /// `scheme://authority/…/CertificateManagement`, without a trailing slash.
    pub app_root: String,
    /// The path part of `app_root` (`/…/CertificateManagement`), dot segments resolved.
    pub app_path: String,
}

impl ServerUrl {
    /// Accepts `http(s)://host[:port][/prefix][/CertificateManagement][/api/v1.0][/]`.
    pub fn parse(text: &str) -> Result<ServerUrl> {
        let bad = |why: &str| {
            Error::new(
                Status::InvalidUrl,
                format!("server URL '{}' {why}", printable(text)),
            )
        };
        let text = text.trim();
        // First, before any message could echo the URL: credentials in it (user:password@host). A password
        // may contain '/', '?' or '#', so any '@' counts; CM URLs never contain one.
        if text.contains('@') {
            return Err(Error::new(
                Status::InvalidUrl,
                "the server URL must not contain credentials (user:password@); set them in the connection's \
                 authentication fields",
            ));
        }
        let (scheme, rest) = text.split_once("://").ok_or_else(|| {
            bad("has no scheme; write it like https://cm.contoso.com/CertificateManagement")
        })?;
        let is_https = if scheme.eq_ignore_ascii_case("https") {
            true
        } else if scheme.eq_ignore_ascii_case("http") {
            false
        } else {
            return Err(bad("must start with https:// (or http:// for labs)"));
        };
        if rest.contains(['?', '#']) {
            return Err(bad("must not contain a query (?) or fragment (#)"));
        }
        if rest.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(bad("contains spaces or control characters"));
        }
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, ""),
        };
        // Host and port text, split once: `[v6]:port`, `[v6]`, `host:port`, `host`.
        let (host, port_text) = if let Some(v6) = authority.strip_prefix('[') {
            let end = v6
                .find(']')
                .ok_or_else(|| bad("has an unterminated IPv6 address"))?;
            let after = &v6[end + 1..];
            let port = match after.strip_prefix(':') {
                Some(p) => Some(p),
                None if after.is_empty() => None,
                None => return Err(bad("has an invalid port")),
            };
            (v6[..end].to_string(), port)
        } else {
            match authority.rsplit_once(':') {
                Some((h, p)) => (h.to_string(), Some(p)),
                None => (authority.to_string(), None),
            }
        };
        let port = match port_text {
            Some(p) => parse_port(p).ok_or_else(|| bad("has an invalid port"))?,
            None if is_https => 443,
            None => 80,
        };
        if host.is_empty() {
            return Err(bad("has no host name"));
        }
        if !host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | ':'))
        {
            return Err(bad(
                "has an invalid host name (international names must be given in punycode)",
            ));
        }
        if path.contains('\\') {
            return Err(bad(
                "contains a backslash; IIS reads it as '/', so write the path with '/' only",
            ));
        }
        let path = remove_dot_segments(&decode_dots(path));
        let mut path = path.trim_end_matches('/').to_string();
        if ends_with_ignore_case(&path, API_PATH) {
            path.truncate(path.len() - API_PATH.len());
            path = path.trim_end_matches('/').to_string();
        }
        if !ends_with_ignore_case(&path, APP_PATH) {
            path.push_str(APP_PATH);
        }
        if path.contains("//") {
            return Err(bad("has an empty path segment (//)"));
        }
        let scheme = if is_https { "https" } else { "http" };
        Ok(ServerUrl {
            is_https,
            host,
            port,
            app_root: format!("{scheme}://{authority}{path}"),
            app_path: path,
        })
    }

    /// The full URL of an API path such as `/smartcards` (for messages).
    pub fn api_url(&self, path: &str) -> String {
        format!("{}{API_PATH}{path}", self.app_root)
    }

    /// The request target (origin-form) of an API path such as `/smartcards`.
    pub fn api_target(&self, path: &str) -> String {
        format!("{}{API_PATH}{path}", self.app_path)
    }
}

/// Percent-encoded dots (`%2e`) are dots (RFC 3986 §6.2.2.2: unreserved characters); IIS decodes them too.
fn decode_dots(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    let mut rest = path;
    while let Some(i) = rest.find('%') {
        out.push_str(&rest[..i]);
        let candidate = &rest[i..];
        if candidate.len() >= 3 && candidate[1..3].eq_ignore_ascii_case("2e") {
            out.push('.');
            rest = &candidate[3..];
        } else {
            out.push('%');
            rest = &candidate[1..];
        }
    }
    out.push_str(rest);
    out
}

/// RFC 3986 §5.2.4: resolves `.` and `..` segments (a `..` above the root stays at the root).
fn remove_dot_segments(path: &str) -> String {
    let mut segments: Vec<&str> = Vec::new();
    let parts: Vec<&str> = path.split('/').collect();
    let last = parts.len().saturating_sub(1);
    for (i, seg) in parts.iter().enumerate() {
        match *seg {
            "." => {
                if i == last {
                    segments.push("");
                }
            }
            ".." => {
                if segments.len() > 1 {
                    segments.pop();
                }
                if i == last {
                    segments.push("");
                }
            }
            s => segments.push(s),
        }
    }
    let joined = segments.join("/");
    if path.starts_with('/') && !joined.starts_with('/') && !joined.is_empty() {
        format!("/{joined}")
    } else {
        joined
    }
}

/// A TCP port as written after the `:` (1–65535, at most five characters).
fn parse_port(p: &str) -> Option<u16> {
    (!p.is_empty() && p.len() <= 5)
        .then(|| p.parse::<u16>().ok())
        .flatten()
        .filter(|&n| n > 0)
}

fn ends_with_ignore_case(s: &str, suffix: &str) -> bool {
    s.len() >= suffix.len()
        && s.is_char_boundary(s.len() - suffix.len())
        && s[s.len() - suffix.len()..].eq_ignore_ascii_case(suffix)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_url_forms_normalize_to_the_app_root() {
        for (input, root) in [
            (
                "https://cm.contoso.com",
                "https://cm.contoso.com/CertificateManagement",
            ),
            (
                "https://cm.contoso.com/",
                "https://cm.contoso.com/CertificateManagement",
            ),
            (
                "https://cm.contoso.com/CertificateManagement",
                "https://cm.contoso.com/CertificateManagement",
            ),
            (
                "https://cm.contoso.com/certificatemanagement/",
                "https://cm.contoso.com/certificatemanagement",
            ),
            (
                "https://cm.contoso.com/CertificateManagement/api/v1.0/",
                "https://cm.contoso.com/CertificateManagement",
            ),
            (
                "HTTP://127.0.0.1:8080/negotiate",
                "http://127.0.0.1:8080/negotiate/CertificateManagement",
            ),
            (
                "http://[::1]:8080",
                "http://[::1]:8080/CertificateManagement",
            ),
        ] {
            let url = ServerUrl::parse(input).unwrap();
            assert_eq!(url.app_root, root, "{input}");
        }
        let url = ServerUrl::parse("https://cm.contoso.com:8443/x").unwrap();
        assert_eq!(url.host, "cm.contoso.com");
        assert!(url.is_https);
        assert_eq!(
            url.api_url("/smartcards"),
            "https://cm.contoso.com:8443/x/CertificateManagement/api/v1.0/smartcards"
        );
        assert_eq!(ServerUrl::parse("http://[::1]:80").unwrap().host, "::1");
        assert_eq!(ServerUrl::parse("http://[::1]:8080").unwrap().port, 8080);
        assert_eq!(ServerUrl::parse("https://cm").unwrap().port, 443);
        assert_eq!(ServerUrl::parse("http://cm").unwrap().port, 80);
        assert_eq!(
            url.api_target("/smartcards"),
            "/x/CertificateManagement/api/v1.0/smartcards"
        );
    }

    #[test]
    fn dot_segments_are_resolved_never_sent() {
        for (input, root) in [
            (
                "https://h/x/../CertificateManagement",
                "https://h/CertificateManagement",
            ),
            (
                "https://h/./CertificateManagement/.",
                "https://h/CertificateManagement",
            ),
            (
                "https://h/a/b/../../CertificateManagement",
                "https://h/CertificateManagement",
            ),
            (
                "https://h/../../CertificateManagement",
                "https://h/CertificateManagement",
            ),
            (
                "https://h/x/%2e%2E/CertificateManagement",
                "https://h/CertificateManagement",
            ),
            ("https://h/x/..", "https://h/CertificateManagement"),
            ("https://h/x/y/..", "https://h/x/CertificateManagement"),
            (
                "https://h/CertificateManagement/api/v1.0/../v1.0",
                "https://h/CertificateManagement",
            ),
            (
                "https://h/a%2fb/x",
                "https://h/a%2fb/x/CertificateManagement",
            ),
        ] {
            let url = ServerUrl::parse(input).unwrap();
            assert_eq!(url.app_root, root, "{input}");
            assert!(
                !url.app_path.contains("/./") && !url.app_path.contains(".."),
                "{input}"
            );
            assert!(!url.api_target("/smartcards").contains(".."), "{input}");
        }
    }

    #[test]
    fn malformed_urls_are_rejected() {
        for (input, needle) in [
            ("cm.contoso.com", "no scheme"),
            ("ftp://cm", "https://"),
            ("https://", "no host"),
            ("https://user:pw@cm/", "credentials"),
            ("http://bob:ab/Zq7pw@127.0.0.1:1/", "credentials"),
            ("http://bob:12/Zq7pw@127.0.0.1:1/", "credentials"),
            ("http://bob:a?b#c d@127.0.0.1/", "credentials"),
            ("https://cm/?a=1", "query"),
            ("https://cm:99999/", "port"),
            ("https://cm:/", "port"),
            ("https://c m/", "spaces"),
            ("https://cm//x", "empty path segment"),
            ("https://cm/x\\..\\y", "backslash"),
        ] {
            let err = ServerUrl::parse(input).unwrap_err();
            assert_eq!(err.status, Status::InvalidUrl, "{input}");
            assert!(err.message.contains(needle), "{input}: {}", err.message);
            assert!(!err.message.contains("pw@"), "{}", err.message);
        }
    }
}
