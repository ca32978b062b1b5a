//! THE routing table of the emulated CM API: every endpoint, method + path pattern → handler. Paths are
//! relative to `/CertificateManagement/api/v1.0/`, matched per segment and case-insensitively; `{name}`
//! matches any one segment and hands it (percent-decoded) to the handler. A path that matches a pattern
//! under another method answers 405 with `Allow`; one that matches none answers 404.

use crate::http::Response;
use crate::resources::{Ctx, Reply, certificates, profiles, requests, smartcards, templates};

pub(crate) type Handler = fn(&mut Ctx) -> Reply;

pub(crate) struct Route {
    pub method: &'static str,
    pub pattern: &'static str,
    pub handler: Handler,
}

const fn route(method: &'static str, pattern: &'static str, handler: Handler) -> Route {
    Route {
        method,
        pattern,
        handler,
    }
}

/// Every endpoint of `mimcm-enrollment.md` §1 (numbers in the comments), both path forms where the
/// documentation disagrees.
pub(crate) static ROUTES: &[Route] = &[
    // 1-3: profile templates.
    route("GET", "profiletemplates", templates::list),
    route(
        "GET",
        "profiletemplates/{tid}/policies/{type}",
        templates::policy,
    ),
    route(
        "GET",
        "profiletemplates/{tid}/policy/workflow/{type}",
        templates::policy,
    ),
    route(
        "GET",
        "profiletemplates/{tid}/configuration/smartcards",
        templates::smartcard_config,
    ),
    // 4-6: requests.
    route("GET", "requests", requests::list),
    route("POST", "requests", requests::create),
    route("GET", "requests/{rid}", requests::get),
    route("PUT", "requests/{rid}", requests::set_status),
    // 7-8: certificates of a request.
    route(
        "GET",
        "requests/{rid}/certificaterequestgenerationoptions",
        certificates::csr_options,
    ),
    route(
        "POST",
        "requests/{rid}/certificatedata",
        certificates::certificate_data,
    ),
    // 14: profiles of a request.
    route("GET", "requests/{rid}/profiles", profiles::for_request),
    // 15-18: a request's smart card.
    route(
        "GET",
        "requests/{rid}/smartcards/{scid}/diversifiedkey",
        smartcards::diversified_key,
    ),
    route(
        "GET",
        "requests/{rid}/smartcards/{scid}/authenticationresponse",
        smartcards::authentication_response,
    ),
    route(
        "GET",
        "requests/{rid}/smartcards/{scid}/serverproposedpin",
        smartcards::request_proposed_pin,
    ),
    route(
        "PUT",
        "requests/{rid}/smartcards/{scid}",
        smartcards::set_status,
    ),
    // 9-12, 17: smart cards.
    route("GET", "smartcards", smartcards::list_or_find),
    route("POST", "smartcards", smartcards::bind),
    route("GET", "smartcards/{scid}", smartcards::get),
    route(
        "GET",
        "smartcards/{scid}/operations",
        smartcards::operations,
    ),
    route(
        "GET",
        "smartcards/{scid}/certificates",
        certificates::for_smartcard,
    ),
    route(
        "GET",
        "smartcards/{scid}/serverproposedpin",
        smartcards::proposed_pin,
    ),
    // 13: the caller's certificates.
    route("GET", "certificates", certificates::for_user),
    // 11, 12, 14: profiles.
    route("GET", "profiles", profiles::list),
    route("GET", "profiles/{pid}", profiles::get),
    route("GET", "profiles/{pid}/operations", profiles::operations),
    route(
        "GET",
        "profiles/{pid}/certificates",
        certificates::for_profile,
    ),
];

/// Matches `segments` against a pattern; the captured `{name}` segments on success.
fn matches(pattern: &'static str, segments: &[String]) -> Option<Vec<(&'static str, String)>> {
    let parts: Vec<&'static str> = pattern.split('/').collect();
    if parts.len() != segments.len() {
        return None;
    }
    let mut params = Vec::new();
    for (p, s) in parts.iter().zip(segments) {
        if let Some(name) = p.strip_prefix('{').and_then(|n| n.strip_suffix('}')) {
            params.push((name, s.clone()));
        } else if !p.eq_ignore_ascii_case(s) {
            return None;
        }
    }
    Some(params)
}

/// The outcome of routing a request.
pub(crate) enum Routed {
    Found(Handler, Vec<(&'static str, String)>),
    /// The path exists under these methods only.
    MethodNotAllowed(Vec<&'static str>),
    NotFound,
}

pub(crate) fn find(method: &str, segments: &[String]) -> Routed {
    let mut allowed = Vec::new();
    for r in ROUTES {
        if let Some(params) = matches(r.pattern, segments) {
            if r.method.eq_ignore_ascii_case(method) {
                return Routed::Found(r.handler, params);
            }
            if !allowed.contains(&r.method) {
                allowed.push(r.method);
            }
        }
    }
    if allowed.is_empty() {
        Routed::NotFound
    } else {
        Routed::MethodNotAllowed(allowed)
    }
}

pub(crate) fn not_allowed(method: &str, allowed: &[&str]) -> Response {
    Response::message(
        405,
        &format!("The requested resource does not support http method '{method}'."),
    )
    .with_header("Allow", &allowed.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn segs(p: &str) -> Vec<String> {
        p.split('/').map(str::to_string).collect()
    }

    #[test]
    fn patterns_capture_and_methods_are_listed() {
        match find("GET", &segs("Requests/abc/SmartCards/def/DiversifiedKey")) {
            Routed::Found(_, params) => assert_eq!(
                params,
                vec![("rid", "abc".to_string()), ("scid", "def".to_string())]
            ),
            _ => panic!("no match"),
        }
        match find("GET", &segs("requests/abc/smartcards/def")) {
            Routed::MethodNotAllowed(m) => assert_eq!(m, vec!["PUT"]),
            _ => panic!("expected 405"),
        }
        match find("DELETE", &segs("smartcards")) {
            Routed::MethodNotAllowed(m) => assert_eq!(m, vec!["GET", "POST"]),
            _ => panic!("expected 405"),
        }
        assert!(matches!(
            find("GET", &segs("nothing/here")),
            Routed::NotFound
        ));
    }

    #[test]
    fn every_pattern_is_unique_per_method() {
        for (i, a) in ROUTES.iter().enumerate() {
            for b in &ROUTES[i + 1..] {
                assert!(
                    !(a.method == b.method && a.pattern == b.pattern),
                    "{} {}",
                    a.method,
                    a.pattern
                );
            }
        }
    }
}
