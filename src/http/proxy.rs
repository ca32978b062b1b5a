//! Proxies as enterprise hosts have them: none, the system's, or an explicit one with a bypass list.
//!
//! * **System** (the default): on Windows the current user's WinHTTP/Internet Options settings, including
//!   auto-detect (WPAD) and PAC scripts, as .NET and PowerShell use them; on Unix the environment variables
//!   `https_proxy`/`HTTPS_PROXY`, `http_proxy`/`HTTP_PROXY` (lower case only for http, as curl does against
//!   "httpoxy"), `all_proxy`/`ALL_PROXY`, with `no_proxy`/`NO_PROXY`.
//! * Loopback targets (`localhost`, `127.0.0.0/8`, `::1`) are never proxied.
//! * https targets go through a `CONNECT` tunnel; a refused or failed tunnel means nothing was sent.
//!   A `407` is answered with Negotiate or NTLM (current user, or the proxy credentials given), or with
//!   Basic only when the caller allows credentials over plain http (the proxy itself is reached over http).

use super::conn::Origin;
use crate::error::{Error, Result};
use crate::status::Status;

/// The caller's choice.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum ProxyConfig {
    /// The system's settings (see the module documentation).
    #[default]
    System,
    /// Never use a proxy.
    None,
    /// This proxy (`http://host:port`), except for the hosts in the bypass list.
    Explicit {
        /// `http://host:port` (or `host:port`).
        url: String,
        /// Comma- or semicolon-separated host names, `.suffix`/`*.suffix` patterns, IP addresses; `*` = all.
        bypass: String,
    },
}

/// A proxy to use for one origin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proxy {
    /// Proxy host.
    pub host: String,
    /// Proxy port.
    pub port: u16,
}

impl Proxy {
    /// Parses `http://host:port`, `host:port` or `host` (port 8080 by default, as WinHTTP does not assume).
    pub fn parse(text: &str) -> Result<Proxy> {
        let bad = |why: &str| {
            Error::new(
                Status::InvalidUrl,
                format!("proxy '{}' {why}", super::codec::printable(text)),
            )
        };
        let t = text.trim();
        // Before any message could echo it: a proxy URL with credentials (a password may contain '/').
        if t.contains('@') {
            return Err(Error::new(
                Status::InvalidUrl,
                "the proxy URL must not contain credentials (user:password@); set proxy_username and \
                 proxy_password",
            ));
        }
        let rest = match t.split_once("://") {
            Some((scheme, rest)) if scheme.eq_ignore_ascii_case("http") => rest,
            Some((scheme, _)) => {
                return Err(bad(&format!(
                    "uses the scheme '{scheme}'; only http:// proxies are supported (https targets are \
                     tunnelled through them with CONNECT)"
                )));
            }
            None => t,
        };
        let authority = rest.split('/').next().unwrap_or("");
        let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
            let end = v6
                .find(']')
                .ok_or_else(|| bad("has an unterminated IPv6 address"))?;
            let port = v6[end + 1..].strip_prefix(':');
            (v6[..end].to_string(), port)
        } else {
            match authority.rsplit_once(':') {
                Some((h, p)) => (h.to_string(), Some(p)),
                None => (authority.to_string(), None),
            }
        };
        if host.is_empty() {
            return Err(bad("has no host"));
        }
        let port = match port {
            None => 8080,
            Some(p) => p
                .parse::<u16>()
                .ok()
                .filter(|&p| p > 0)
                .ok_or_else(|| bad("has an invalid port"))?,
        };
        Ok(Proxy { host, port })
    }
}

/// Whether `host` is a loopback name or address (never proxied): `localhost` and `*.localhost` (RFC 6761),
/// with or without the final dot; 127.0.0.0/8 in every form the resolver accepts (`127.1`, `2130706433`,
/// `0x7f.1`); `::1`; IPv4-mapped `::ffff:127.x.y.z`.
pub fn is_loopback(host: &str) -> bool {
    let h = host.trim_end_matches('.').to_ascii_lowercase();
    if h == "localhost" || h.ends_with(".localhost") {
        return true;
    }
    match h.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V4(v4)) => v4.is_loopback(),
        Ok(std::net::IpAddr::V6(v6)) => {
            v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
        Err(_) => legacy_ipv4(&h).is_some_and(|v4| v4.is_loopback()),
    }
}

/// The IPv4 forms `inet_aton` accepts besides dotted quads: 1–4 parts, each decimal, `0x` hex or 0-octal,
/// the last part filling the remaining bytes (`127.1` = 127.0.0.1).
fn legacy_ipv4(text: &str) -> Option<std::net::Ipv4Addr> {
    let parts: Vec<&str> = text.split('.').collect();
    if parts.is_empty() || parts.len() > 4 {
        return None;
    }
    let mut values = Vec::with_capacity(4);
    for p in &parts {
        let v = if let Some(hex) = p.strip_prefix("0x") {
            u32::from_str_radix(hex, 16).ok()?
        } else if p.len() > 1 && p.starts_with('0') {
            u32::from_str_radix(&p[1..], 8).ok()?
        } else if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) {
            p.parse().ok()?
        } else {
            return None;
        };
        values.push(v);
    }
    let (last, head) = values.split_last()?;
    if head.iter().any(|&v| v > 255) {
        return None;
    }
    let spare = 4 - head.len(); // bytes the last part fills
    if spare < 4 && u64::from(*last) >= 1u64 << (8 * spare) {
        return None;
    }
    let mut n: u32 = 0;
    for (i, v) in head.iter().enumerate() {
        n |= v << (24 - 8 * i);
    }
    Some(std::net::Ipv4Addr::from(n | last))
}

/// Whether a `NO_PROXY`-style list names `origin`: `*`, exact host, `.suffix`, `*.suffix`, `suffix` matching
/// a subdomain, `host:port`, IP literal. WinHTTP's `<local>` matches names without a dot.
pub fn bypassed(list: &str, origin: &Origin) -> bool {
    let host = origin.host.to_ascii_lowercase();
    list.split([',', ';', ' '])
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .any(|entry| {
            let entry = entry.to_ascii_lowercase();
            if entry == "*" {
                return true;
            }
            if entry == "<local>" {
                return !host.contains('.') && !host.contains(':');
            }
            let (pattern, port) = match entry.rsplit_once(':') {
                Some((h, p)) if !h.contains(':') && p.parse::<u16>().is_ok() => {
                    (h.to_string(), p.parse().ok())
                }
                _ => (entry.trim_matches(['[', ']']).to_string(), None),
            };
            if port.is_some_and(|p: u16| p != origin.port) {
                return false;
            }
            let pattern = pattern.trim_start_matches('*');
            if let Some(suffix) = pattern.strip_prefix('.') {
                host.ends_with(&format!(".{suffix}")) || host == suffix
            } else {
                host == pattern || host.ends_with(&format!(".{pattern}"))
            }
        })
}

/// The proxy for `origin` under `config`, or None for a direct connection.
pub fn select(config: &ProxyConfig, origin: &Origin) -> Result<Option<Proxy>> {
    // An explicit proxy is validated even when this server bypasses it: a typo must not wait for production.
    let explicit = match config {
        ProxyConfig::Explicit { url, .. } => Some(Proxy::parse(url)?),
        _ => None,
    };
    if is_loopback(&origin.host) {
        return Ok(None);
    }
    match config {
        ProxyConfig::None => Ok(None),
        ProxyConfig::Explicit { bypass, .. } => Ok(explicit.filter(|_| !bypassed(bypass, origin))),
        ProxyConfig::System => system(origin),
    }
}

#[cfg(not(windows))]
fn system(origin: &Origin) -> Result<Option<Proxy>> {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
    let no_proxy = var("no_proxy")
        .or_else(|| var("NO_PROXY"))
        .unwrap_or_default();
    if bypassed(&no_proxy, origin) {
        return Ok(None);
    }
    let chosen = if origin.https {
        var("https_proxy").or_else(|| var("HTTPS_PROXY"))
    } else {
        var("http_proxy")
    }
    .or_else(|| var("all_proxy"))
    .or_else(|| var("ALL_PROXY"));
    chosen.map(|url| Proxy::parse(&url)).transpose()
}

#[cfg(windows)]
fn system(origin: &Origin) -> Result<Option<Proxy>> {
    winhttp::system_proxy(origin)
}

/// Windows: the current user's proxy settings through WinHTTP (what .NET's default proxy reads), including
/// WPAD auto-detection and PAC scripts.
#[cfg(windows)]
mod winhttp {
    use super::{Origin, Proxy, bypassed};
    use crate::error::Result;
    use windows_sys::Win32::Foundation::GlobalFree;
    use windows_sys::Win32::Networking::WinHttp::*;

    fn wide(s: &str) -> Vec<u16> {
        s.encode_utf16().chain(std::iter::once(0)).collect()
    }

    /// Takes ownership of a WinHTTP-allocated wide string.
    unsafe fn take(p: *mut u16) -> Option<String> {
        if p.is_null() {
            return None;
        }
        // SAFETY: WinHTTP returns NUL-terminated strings allocated with GlobalAlloc.
        let s = unsafe {
            let mut n = 0;
            while *p.add(n) != 0 {
                n += 1;
            }
            String::from_utf16_lossy(std::slice::from_raw_parts(p, n))
        };
        // SAFETY: allocated by WinHTTP with GlobalAlloc.
        unsafe { GlobalFree(p.cast()) };
        Some(s)
    }

    /// `host:port`, `http=host:port;https=host:port` → the proxy for this scheme.
    fn pick(list: &str, https: bool) -> Option<String> {
        let want = if https { "https=" } else { "http=" };
        let mut plain = None;
        for entry in list
            .split([';', ' '])
            .map(str::trim)
            .filter(|e| !e.is_empty())
        {
            if let Some(v) = entry.strip_prefix(want) {
                return Some(v.to_string());
            }
            if !entry.contains('=') && plain.is_none() {
                plain = Some(entry.to_string());
            }
        }
        plain
    }

    pub(super) fn system_proxy(origin: &Origin) -> Result<Option<Proxy>> {
        let mut ie: WINHTTP_CURRENT_USER_IE_PROXY_CONFIG = unsafe { std::mem::zeroed() };
        // SAFETY: ie is a valid out-structure.
        let have_ie = unsafe { WinHttpGetIEProxyConfigForCurrentUser(&mut ie) } != 0;
        let (auto_detect, pac, manual, bypass) = if have_ie {
            // SAFETY: strings allocated by WinHTTP, freed by take().
            unsafe {
                (
                    ie.fAutoDetect != 0,
                    take(ie.lpszAutoConfigUrl),
                    take(ie.lpszProxy),
                    take(ie.lpszProxyBypass),
                )
            }
        } else {
            (false, None, None, None)
        };
        let url = format!(
            "{}://{}/",
            if origin.https { "https" } else { "http" },
            origin.authority(false)
        );
        if auto_detect || pac.is_some() {
            let agent = wide("cm-smartcard");
            // SAFETY: plain WinHTTP calls with valid NUL-terminated strings; handles closed below.
            unsafe {
                let session = WinHttpOpen(
                    agent.as_ptr(),
                    WINHTTP_ACCESS_TYPE_NO_PROXY,
                    std::ptr::null(),
                    std::ptr::null(),
                    0,
                );
                if !session.is_null() {
                    let mut opts: WINHTTP_AUTOPROXY_OPTIONS = std::mem::zeroed();
                    let pac_w = pac.as_deref().map(wide);
                    if let Some(p) = &pac_w {
                        opts.dwFlags = WINHTTP_AUTOPROXY_CONFIG_URL;
                        opts.lpszAutoConfigUrl = p.as_ptr();
                    } else {
                        opts.dwFlags = WINHTTP_AUTOPROXY_AUTO_DETECT;
                        opts.dwAutoDetectFlags =
                            WINHTTP_AUTO_DETECT_TYPE_DHCP | WINHTTP_AUTO_DETECT_TYPE_DNS_A;
                    }
                    opts.fAutoLogonIfChallenged = 1;
                    let url_w = wide(&url);
                    let mut info: WINHTTP_PROXY_INFO = std::mem::zeroed();
                    let ok =
                        WinHttpGetProxyForUrl(session, url_w.as_ptr(), &mut opts, &mut info) != 0;
                    WinHttpCloseHandle(session);
                    if ok {
                        let list = take(info.lpszProxy);
                        let _ = take(info.lpszProxyBypass);
                        if info.dwAccessType == WINHTTP_ACCESS_TYPE_NAMED_PROXY
                            && let Some(p) = list.as_deref().and_then(|l| pick(l, origin.https))
                        {
                            return Proxy::parse(&p).map(Some);
                        }
                        return Ok(None);
                    }
                }
            }
            // Auto-detection found nothing: fall through to the manual setting, as WinHTTP clients do.
        }
        match manual.as_deref().and_then(|m| pick(m, origin.https)) {
            Some(p) if !bypassed(bypass.as_deref().unwrap_or(""), origin) => {
                Proxy::parse(&p).map(Some)
            }
            _ => Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn origin(host: &str, port: u16) -> Origin {
        Origin {
            https: true,
            host: host.into(),
            port,
        }
    }

    #[test]
    fn proxy_urls_parse() {
        assert_eq!(
            Proxy::parse("http://proxy.contoso.com:3128/").unwrap(),
            Proxy {
                host: "proxy.contoso.com".into(),
                port: 3128
            }
        );
        assert_eq!(Proxy::parse("proxy:80").unwrap().port, 80);
        assert_eq!(Proxy::parse("[::1]:3128").unwrap().host, "::1");
        assert_eq!(Proxy::parse("proxy").unwrap().port, 8080);
        for bad in [
            "https://p:1",
            "socks5://p:1",
            "http://u:pw@p:1",
            "http://:1",
            "p:0",
            "p:x",
        ] {
            let e = Proxy::parse(bad).unwrap_err();
            assert_eq!(e.status, Status::InvalidUrl, "{bad}");
            assert!(!e.message.contains("pw"), "{}", e.message);
        }
    }

    #[test]
    fn bypass_lists_match_like_no_proxy_and_winhttp() {
        let o = origin("cm.contoso.com", 443);
        for list in [
            "*",
            "cm.contoso.com",
            ".contoso.com",
            "*.contoso.com",
            "contoso.com",
            "x, contoso.com",
            "cm.contoso.com:443",
        ] {
            assert!(bypassed(list, &o), "{list}");
        }
        for list in [
            "",
            "contoso.co",
            "xcontoso.com",
            "cm.contoso.com:8443",
            ".other.com",
        ] {
            assert!(!bypassed(list, &o), "{list}");
        }
        assert!(bypassed("<local>", &origin("cmserver", 443)));
        assert!(!bypassed("<local>", &o));
        assert!(bypassed("10.1.2.3", &origin("10.1.2.3", 443)));
    }

    #[test]
    fn loopback_is_never_proxied() {
        let explicit = ProxyConfig::Explicit {
            url: "http://proxy:3128".into(),
            bypass: String::new(),
        };
        for host in [
            "localhost",
            "LOCALHOST.",
            "cm.localhost",
            "127.0.0.1",
            "127.8.9.10",
            "127.1",
            "2130706433",
            "0x7f.1",
            "0177.0.0.1",
            "::1",
            "::ffff:127.0.0.1",
        ] {
            assert_eq!(
                select(&explicit, &origin(host, 443)).unwrap(),
                None,
                "{host}"
            );
        }
        assert_eq!(
            select(&explicit, &origin("cm.contoso.com", 443)).unwrap(),
            Some(Proxy {
                host: "proxy".into(),
                port: 3128
            })
        );
        assert_eq!(
            select(&ProxyConfig::None, &origin("cm", 443)).unwrap(),
            None
        );
    }
}
