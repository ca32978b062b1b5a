//! Fault injection: what can go wrong, which requests it hits, and its text and JSON forms.

use serde_json::Value;
use std::time::Duration;
use uuid::Uuid;

/// A fault to inject into the answers of matching CM API requests.
///
/// Matching: `method` compares case-insensitively with the request method; `path_contains` is a
/// case-insensitive substring of the request target (path and query). `None` matches anything.
/// The first matching fault in the list wins; `times` counts down per hit and the fault is
/// removed when it reaches 0 (`None` = until cleared). Control endpoints (`/_emulator/...`) are
/// never faulted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    pub kind: FaultKind,
    pub method: Option<String>,
    pub path_contains: Option<String>,
    pub times: Option<u32>,
}

/// What a fault does to a matching request.
///
/// "Applies" means the request is processed normally (e.g. the card is bound) before the faulty
/// answer is sent. Faults that answer with a success status (`Garbage`, `WrongContentType`,
/// `NoContent`, `PartialResponse`, `HugeBody`) apply the request; `CloseAfterRead` applies it when
/// `apply` is true; `Delay` answers normally; all others do not apply it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FaultKind {
    /// Wait, then answer normally.
    Delay(Duration),
    /// Read the request, never answer (until the client closes or the emulator stops).
    Hang,
    /// Read only the request head (to match), then close the connection; nothing is processed.
    CloseBeforeRead,
    /// Read the whole request, apply it if `apply`, then close without answering.
    CloseAfterRead { apply: bool },
    /// 500 with `{"Message":"An error has occurred. Correlation ID: <id>"}`.
    ServerError { correlation_id: Uuid },
    /// Success status (201 for POST, 200 otherwise) with a body that is not JSON.
    Garbage,
    /// Success status with `Content-Type: text/html` and an HTML body.
    WrongContentType,
    /// An arbitrary answer.
    Status {
        code: u16,
        body: String,
        content_type: String,
    },
    /// 401 with `WWW-Authenticate: Negotiate` and `WWW-Authenticate: NTLM` and an IIS-like HTML body.
    Challenge401,
    /// Apply, then answer 204 with no body.
    NoContent,
    /// Apply, send status line and headers with a `Content-Length` larger than the body sent, close.
    PartialResponse,
    /// 302 with `Location`.
    Redirect { location: String },
    /// Apply, then a success status with a JSON body (one long string) of `bytes` bytes.
    HugeBody { bytes: usize },
    /// Answer normally, with a UTF-8 byte-order mark (EF BB BF) before the body, as some ASP.NET stacks send.
    Bom,
}

impl FaultKind {
    /// The snake-case name used in the JSON form and in logs.
    pub fn name(&self) -> &'static str {
        match self {
            FaultKind::Delay(_) => "delay",
            FaultKind::Hang => "hang",
            FaultKind::CloseBeforeRead => "close_before_read",
            FaultKind::CloseAfterRead { .. } => "close_after_read",
            FaultKind::ServerError { .. } => "server_error",
            FaultKind::Garbage => "garbage",
            FaultKind::WrongContentType => "wrong_content_type",
            FaultKind::Status { .. } => "status",
            FaultKind::Challenge401 => "challenge_401",
            FaultKind::NoContent => "no_content",
            FaultKind::PartialResponse => "partial_response",
            FaultKind::Redirect { .. } => "redirect",
            FaultKind::HugeBody { .. } => "huge_body",
            FaultKind::Bom => "bom",
        }
    }
}

/// Default size of a `HugeBody` fault when none is given: 16 MiB.
pub const DEFAULT_HUGE_BYTES: usize = 16 * 1024 * 1024;

impl Fault {
    /// A fault hitting every request, until cleared.
    pub fn new(kind: FaultKind) -> Self {
        Fault {
            kind,
            method: None,
            path_contains: None,
            times: None,
        }
    }

    /// Restricts the fault to one method.
    pub fn method(mut self, method: &str) -> Self {
        self.method = Some(method.to_string());
        self
    }

    /// Restricts the fault to targets containing `path` (case-insensitive).
    pub fn path(mut self, path: &str) -> Self {
        self.path_contains = Some(path.to_string());
        self
    }

    /// Limits the fault to `n` hits.
    pub fn times(mut self, n: u32) -> Self {
        self.times = Some(n);
        self
    }

    /// Whether this fault applies to a request.
    pub fn matches(&self, method: &str, target: &str) -> bool {
        if self.times == Some(0) {
            return false;
        }
        let method_ok = self
            .method
            .as_ref()
            .is_none_or(|m| m.eq_ignore_ascii_case(method));
        let path_ok = self.path_contains.as_ref().is_none_or(|p| {
            target
                .to_ascii_lowercase()
                .contains(&p.to_ascii_lowercase())
        });
        method_ok && path_ok
    }

    /// Parses the compact text form `KIND[=ARG][:METHOD[:PATH[:TIMES]]]`.
    ///
    /// Kinds: `delay=MS`, `hang`, `close-before-read`, `close-after-read[=apply]`,
    /// `server-error[=UUID]` or `500`, `garbage`, `wrong-content-type` or `html`,
    /// `status=CODE` or any other 3-digit code (body `{"Message":"Emulated status CODE"}`),
    /// `challenge-401` or `401`, `no-content` or `204`, `partial-response` or `partial`,
    /// `redirect[=LOCATION]` or `302`, `huge-body[=BYTES]` or `huge`. `-` and `_` are interchangeable.
    /// ARG is percent-decoded (write `%3A` for a `:`). METHOD and PATH may be empty or `*` (any);
    /// TIMES is a count, empty or `*` = until cleared.
    pub fn parse_spec(spec: &str) -> Result<Fault, String> {
        let mut parts = spec.splitn(4, ':');
        let head = parts.next().unwrap_or("");
        let any = |s: Option<&str>| s.filter(|s| !s.is_empty() && *s != "*").map(str::to_string);
        let method = any(parts.next());
        let path_contains = any(parts.next());
        let times = match any(parts.next()) {
            None => None,
            Some(t) => Some(
                t.parse::<u32>()
                    .map_err(|_| format!("bad TIMES {t:?} in fault {spec:?}"))?,
            ),
        };
        let (name, arg) = match head.split_once('=') {
            Some((n, a)) => (n, Some(percent_decode(a))),
            None => (head, None),
        };
        let kind = kind_from_name(name, arg.as_deref())?;
        Ok(Fault {
            kind,
            method,
            path_contains,
            times,
        })
    }

    /// Parses the JSON form, e.g.
    /// `{"kind":"close_after_read","apply":true,"method":"POST","path_contains":"/smartcards","times":1}`.
    /// Also accepts `{"spec":"<text form>"}`.
    pub fn from_json(v: &Value) -> Result<Fault, String> {
        let obj = v.as_object().ok_or("a fault must be a JSON object")?;
        let get = |k: &str| {
            obj.iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(k))
                .map(|(_, v)| v)
        };
        let opt_str = |k: &str| -> Result<Option<String>, String> {
            match get(k) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) if s.is_empty() || s == "*" => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.clone())),
                Some(_) => Err(format!("\"{k}\" must be a string")),
            }
        };
        let opt_u64 = |k: &str| -> Result<Option<u64>, String> {
            match get(k) {
                None | Some(Value::Null) => Ok(None),
                Some(v) => v
                    .as_u64()
                    .map(Some)
                    .ok_or(format!("\"{k}\" must be a non-negative integer")),
            }
        };
        if let Some(spec) = opt_str("spec")? {
            return Fault::parse_spec(&spec);
        }
        let kind_name = opt_str("kind")?.ok_or("missing \"kind\"")?;
        let norm = kind_name.to_ascii_lowercase().replace('-', "_");
        let kind = match norm.as_str() {
            "delay" => FaultKind::Delay(Duration::from_millis(opt_u64("ms")?.unwrap_or(1000))),
            "close_after_read" => {
                let apply = match get("apply") {
                    None | Some(Value::Null) => false,
                    Some(Value::Bool(b)) => *b,
                    Some(_) => return Err("\"apply\" must be a boolean".into()),
                };
                FaultKind::CloseAfterRead { apply }
            }
            "server_error" | "500" => FaultKind::ServerError {
                correlation_id: match opt_str("correlation_id")? {
                    None => Uuid::new_v4(),
                    Some(s) => crate::parse_guid(&s).ok_or("bad \"correlation_id\"")?,
                },
            },
            "status" => FaultKind::Status {
                code: status_code(opt_u64("code")?.ok_or("missing \"code\"")?)?,
                body: opt_str("body")?.unwrap_or_default(),
                content_type: opt_str("content_type")?
                    .unwrap_or_else(|| "application/json; charset=utf-8".to_string()),
            },
            "redirect" => FaultKind::Redirect {
                location: opt_str("location")?.unwrap_or_else(|| DEFAULT_REDIRECT.to_string()),
            },
            "huge_body" | "huge" => FaultKind::HugeBody {
                bytes: opt_u64("bytes")?
                    .map(|b| b as usize)
                    .unwrap_or(DEFAULT_HUGE_BYTES),
            },
            other => kind_from_name(other, None)?,
        };
        let times = opt_u64("times")?.map(|t| u32::try_from(t).unwrap_or(u32::MAX));
        let path_contains = match opt_str("path_contains")? {
            Some(p) => Some(p),
            None => opt_str("path")?,
        };
        Ok(Fault {
            kind,
            method: opt_str("method")?,
            path_contains,
            times,
        })
    }
}

const DEFAULT_REDIRECT: &str = "/CertificateManagement/redirected";

fn status_code(n: u64) -> Result<u16, String> {
    if (100..=999).contains(&n) {
        Ok(n as u16)
    } else {
        Err(format!("bad status code {n}"))
    }
}

fn kind_from_name(name: &str, arg: Option<&str>) -> Result<FaultKind, String> {
    let norm = name.trim().to_ascii_lowercase().replace('-', "_");
    let no_arg = |k: FaultKind| match arg {
        None => Ok(k),
        Some(a) => Err(format!("fault {name:?} takes no argument (got {a:?})")),
    };
    match norm.as_str() {
        "delay" => {
            let ms = match arg {
                None => 1000,
                Some(a) => a
                    .parse::<u64>()
                    .map_err(|_| format!("bad delay milliseconds {a:?}"))?,
            };
            Ok(FaultKind::Delay(Duration::from_millis(ms)))
        }
        "hang" => no_arg(FaultKind::Hang),
        "close_before_read" => no_arg(FaultKind::CloseBeforeRead),
        "close_after_read" => match arg {
            None | Some("") | Some("noapply") | Some("false") => {
                Ok(FaultKind::CloseAfterRead { apply: false })
            }
            Some("apply") | Some("true") => Ok(FaultKind::CloseAfterRead { apply: true }),
            Some(a) => Err(format!("close-after-read takes \"apply\" (got {a:?})")),
        },
        "server_error" | "500" => Ok(FaultKind::ServerError {
            correlation_id: match arg {
                None | Some("") => Uuid::new_v4(),
                Some(a) => crate::parse_guid(a).ok_or(format!("bad correlation id {a:?}"))?,
            },
        }),
        "garbage" => no_arg(FaultKind::Garbage),
        "wrong_content_type" | "html" => no_arg(FaultKind::WrongContentType),
        "challenge_401" | "challenge401" | "401" => no_arg(FaultKind::Challenge401),
        "no_content" | "204" => no_arg(FaultKind::NoContent),
        "bom" => no_arg(FaultKind::Bom),
        "partial_response" | "partial" => no_arg(FaultKind::PartialResponse),
        "redirect" | "302" => Ok(FaultKind::Redirect {
            location: arg
                .filter(|a| !a.is_empty())
                .unwrap_or(DEFAULT_REDIRECT)
                .to_string(),
        }),
        "huge_body" | "huge" => Ok(FaultKind::HugeBody {
            bytes: match arg {
                None | Some("") => DEFAULT_HUGE_BYTES,
                Some(a) => a.parse().map_err(|_| format!("bad byte count {a:?}"))?,
            },
        }),
        "status" => {
            let a = arg.ok_or("status needs a code: status=CODE")?;
            let code = a
                .parse::<u64>()
                .map_err(|_| format!("bad status code {a:?}"))?;
            Ok(status_fault(status_code(code)?))
        }
        n if n.len() == 3 && n.bytes().all(|b| b.is_ascii_digit()) => {
            no_arg(status_fault(n.parse().map_err(|_| "bad code".to_string())?))
        }
        _ => Err(format!("unknown fault kind {name:?}")),
    }
}

fn status_fault(code: u16) -> FaultKind {
    FaultKind::Status {
        code,
        body: format!("{{\"Message\":\"Emulated status {code}\"}}"),
        content_type: "application/json; charset=utf-8".to_string(),
    }
}

/// Decodes `%XX` escapes (and leaves everything else, including `+`, as is).
pub(crate) fn percent_decode_bytes(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            let hex = std::str::from_utf8(&b[i + 1..i + 3]).ok();
            if let Some(v) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    out
}

pub(crate) fn percent_decode(s: &str) -> String {
    String::from_utf8_lossy(&percent_decode_bytes(s)).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_forms() {
        let f = Fault::parse_spec("close-after-read:POST:/smartcards:1").unwrap();
        assert_eq!(f.kind, FaultKind::CloseAfterRead { apply: false });
        assert_eq!(f.method.as_deref(), Some("POST"));
        assert_eq!(f.path_contains.as_deref(), Some("/smartcards"));
        assert_eq!(f.times, Some(1));
        let f = Fault::parse_spec("close_after_read=apply").unwrap();
        assert_eq!(f.kind, FaultKind::CloseAfterRead { apply: true });
        assert_eq!((f.method, f.path_contains, f.times), (None, None, None));
        assert_eq!(
            Fault::parse_spec("delay=2000").unwrap().kind,
            FaultKind::Delay(Duration::from_millis(2000))
        );
        assert!(matches!(
            Fault::parse_spec("500").unwrap().kind,
            FaultKind::ServerError { .. }
        ));
        assert_eq!(Fault::parse_spec("401:*:*:2").unwrap().times, Some(2));
        assert_eq!(
            Fault::parse_spec("401").unwrap().kind,
            FaultKind::Challenge401
        );
        let f = Fault::parse_spec("redirect=http%3A//127.0.0.1%3A1/x:GET").unwrap();
        assert_eq!(
            f.kind,
            FaultKind::Redirect {
                location: "http://127.0.0.1:1/x".into()
            }
        );
        assert_eq!(f.method.as_deref(), Some("GET"));
        assert!(matches!(
            Fault::parse_spec("403").unwrap().kind,
            FaultKind::Status { code: 403, .. }
        ));
        assert_eq!(
            Fault::parse_spec("huge=100").unwrap().kind,
            FaultKind::HugeBody { bytes: 100 }
        );
        for bad in [
            "",
            "nope",
            "delay=x",
            "hang=1",
            "status",
            "garbage:POST:/x:many",
            "status=5",
        ] {
            assert!(Fault::parse_spec(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn json_forms() {
        let v: Value = serde_json::from_str(
            r#"{"kind":"close_after_read","apply":true,"method":"POST","path_contains":"/smartcards","times":1}"#,
        )
        .unwrap();
        let f = Fault::from_json(&v).unwrap();
        assert_eq!(
            f,
            Fault::new(FaultKind::CloseAfterRead { apply: true })
                .method("POST")
                .path("/smartcards")
                .times(1)
        );
        let v: Value = serde_json::from_str(
            r#"{"kind":"status","code":418,"body":"teapot","content_type":"text/plain"}"#,
        )
        .unwrap();
        assert_eq!(
            Fault::from_json(&v).unwrap().kind,
            FaultKind::Status {
                code: 418,
                body: "teapot".into(),
                content_type: "text/plain".into()
            }
        );
        let v: Value = serde_json::from_str(r#"{"spec":"hang:GET"}"#).unwrap();
        assert_eq!(
            Fault::from_json(&v).unwrap(),
            Fault::new(FaultKind::Hang).method("GET")
        );
        let v: Value =
            serde_json::from_str(r#"{"kind":"Wrong-Content-Type","path":"/requests"}"#).unwrap();
        assert_eq!(
            Fault::from_json(&v).unwrap(),
            Fault::new(FaultKind::WrongContentType).path("/requests")
        );
        for bad in [
            r#"{}"#,
            r#"{"kind":"x"}"#,
            r#"{"kind":"delay","ms":-1}"#,
            r#"[1]"#,
            r#"{"kind":"status"}"#,
        ] {
            assert!(
                Fault::from_json(&serde_json::from_str(bad).unwrap()).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn matching() {
        let f = Fault::new(FaultKind::Hang)
            .method("post")
            .path("/SMARTCARDS");
        assert!(f.matches("POST", "/certificatemanagement/api/v1.0/smartcards"));
        assert!(!f.matches("GET", "/certificatemanagement/api/v1.0/smartcards"));
        assert!(!f.matches("POST", "/certificatemanagement/api/v1.0/requests"));
    }

    #[test]
    fn percent() {
        assert_eq!(percent_decode("%7Babc%7d%2"), "{abc}%2");
        assert_eq!(percent_decode("a+b%20c"), "a+b c");
    }
}
