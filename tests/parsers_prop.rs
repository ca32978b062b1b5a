//! Property tests of the parsers that read what the server and the caller send: server URLs, the
//! `WWW-Authenticate` parser, base64 tokens, the HTTP response head, and the JSON bodies. Arbitrary input
//! never panics; valid input round-trips.

use cm_smartcard::auth::parse_challenges;
use cm_smartcard::cm::url::ServerUrl;
use cm_smartcard::http::codec::{body_framing, parse_chunk_size, parse_response_head};
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn server_urls_never_panic_and_never_keep_dot_segments(s in "\\PC{0,80}") {
        if let Ok(url) = ServerUrl::parse(&s) {
            prop_assert!(url.app_root.starts_with("http"));
            prop_assert!(!url.api_target("/smartcards").split('/').any(|seg| seg == "." || seg == ".."));
            prop_assert!(url.app_path.starts_with('/'));
        }
    }

    #[test]
    fn valid_urls_round_trip(
        host in "[a-z][a-z0-9-]{0,20}(\\.[a-z][a-z0-9-]{0,10}){0,3}",
        port in proptest::option::of(1u16..),
        segs in proptest::collection::vec("[A-Za-z0-9_-]{1,8}|\\.|\\.\\.", 0..5),
        https in any::<bool>(),
    ) {
        let scheme = if https { "https" } else { "http" };
        let authority = port.map_or(host.clone(), |p| format!("{host}:{p}"));
        let text = format!("{scheme}://{authority}/{}", segs.join("/"));
        let url = ServerUrl::parse(&text).unwrap();
        prop_assert_eq!(url.host.as_str(), host.as_str());
        prop_assert_eq!(url.port, port.unwrap_or(if https { 443 } else { 80 }));
        prop_assert!(url.app_root.ends_with("/CertificateManagement"));
        // Parsing the normalized form again changes nothing.
        let again = ServerUrl::parse(&url.app_root).unwrap();
        prop_assert_eq!(again, url);
    }

    #[test]
    fn challenges_never_panic(values in proptest::collection::vec("\\PC{0,60}", 0..4)) {
        let parsed = parse_challenges(&values);
        for c in parsed {
            prop_assert!(!c.scheme.is_empty());
        }
    }

    #[test]
    fn negotiate_tokens_round_trip(token in proptest::collection::vec(any::<u8>(), 1..200), extra in "[A-Za-z]{0,6}") {
        use base64::Engine;
        let b64 = base64::engine::general_purpose::STANDARD.encode(&token);
        let header = vec![format!("Negotiate {b64}"), format!("NTLM, Basic realm=\"{extra}\"")];
        let parsed = parse_challenges(&header);
        prop_assert_eq!(parsed.len(), 3);
        prop_assert!(parsed[0].is("negotiate"));
        prop_assert_eq!(parsed[0].token68.as_deref(), Some(b64.as_str()));
    }

    #[test]
    fn response_heads_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        if let Ok(Some((head, used))) = parse_response_head(&bytes) {
            prop_assert!(used <= bytes.len());
            prop_assert!((100..=999).contains(&head.status));
            let _ = body_framing("GET", &head);
        }
        let _ = parse_chunk_size(&bytes);
    }

    #[test]
    fn well_formed_heads_parse(status in 100u16..600, len in 0u64..100_000, name in "[A-Za-z-]{1,20}", value in "[ -~]{0,40}") {
        let raw = format!("HTTP/1.1 {status} Reason\r\n{name}: {value}\r\nContent-Length: {len}\r\n\r\n");
        let (head, used) = parse_response_head(raw.as_bytes()).unwrap().unwrap();
        prop_assert_eq!(used, raw.len());
        prop_assert_eq!(head.status, status);
        prop_assert_eq!(head.header(&name.to_ascii_uppercase()), Some(if name.eq_ignore_ascii_case("content-length") { head.header("content-length").unwrap() } else { value.trim() }));
    }

    #[test]
    fn json_bodies_with_or_without_bom(uuid in any::<u128>(), bom in any::<bool>()) {
        let id = uuid::Uuid::from_u128(uuid);
        let body = format!("{}{{\"Uuid\":\"{id}\",\"Status\":3}}", if bom { "\u{FEFF}" } else { "" });
        let v = cm_smartcard::cm::objects::parse_json(body.as_bytes()).unwrap();
        prop_assert_eq!(v["Uuid"].as_str().unwrap(), id.to_string());
    }
}
