//! The emulated CM REST API (`/CertificateManagement/api/v1.0/...`): prefix and API switch; the endpoints
//! are in [`crate::routes`], their handlers in [`crate::resources`].

use crate::http::{HTML, Head, Response};
use crate::resources::Ctx;
use crate::routes::{self, Routed};
use crate::state::State;

/// The API prefix, lowercase (matched case-insensitively).
pub(crate) const PREFIX: &str = "/certificatemanagement/api/v1.0";

/// IIS-like 404 page, used for URLs outside the API and for every URL while the API is disabled.
pub(crate) fn iis_404() -> Response {
    Response::new(
        404,
        HTML,
        "<!DOCTYPE html PUBLIC \"-//W3C//DTD XHTML 1.0 Strict//EN\" \"http://www.w3.org/TR/xhtml1/DTD/xhtml1-strict.dtd\">\r\n\
<html xmlns=\"http://www.w3.org/1999/xhtml\">\r\n<head>\r\n<title>404 - File or directory not found.</title>\r\n</head>\r\n\
<body>\r\n<div id=\"header\"><h1>Server Error</h1></div>\r\n<div id=\"content\">\r\n<fieldset>\r\n\
<h2>404 - File or directory not found.</h2>\r\n\
<h3>The resource you are looking for might have been removed, had its name changed, or is temporarily unavailable.</h3>\r\n\
</fieldset></div>\r\n</body>\r\n</html>\r\n",
    )
}

fn decode_segment(s: &str) -> String {
    crate::fault::percent_decode(s)
}

/// Handles a CM API request (faults already dealt with by the caller): prefix, API switch, then the
/// routing table ([`crate::routes::ROUTES`]).
pub(crate) fn handle(state: &mut State, head: &Head, body: &[u8]) -> Response {
    let path = head.path();
    let lower = path.to_ascii_lowercase();
    let rest = if lower == PREFIX {
        ""
    } else if lower.starts_with(PREFIX) && lower.as_bytes()[PREFIX.len()] == b'/' {
        &path[PREFIX.len() + 1..]
    } else {
        return iis_404();
    };
    if state.api_disabled {
        return iis_404();
    }
    let segs: Vec<String> = rest
        .split('/')
        .filter(|s| !s.is_empty())
        .map(decode_segment)
        .collect();
    match routes::find(&head.method, &segs) {
        Routed::Found(handler, params) => {
            let mut ctx = Ctx {
                state,
                head,
                body,
                params,
            };
            handler(&mut ctx).unwrap_or_else(|e| e)
        }
        Routed::MethodNotAllowed(allowed) => routes::not_allowed(&head.method, &allowed),
        Routed::NotFound => Response::message(
            404,
            &format!(
                "No HTTP resource was found that matches the request URI 'http://{}{}'.",
                head.header("host").unwrap_or("localhost"),
                head.target
            ),
        ),
    }
}
