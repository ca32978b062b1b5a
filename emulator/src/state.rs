//! The emulator's data: CM requests, smart cards, faults, the request log, and their JSON shapes.

use crate::fault::Fault;
use crate::{LoggedRequest, RequestStatus};
use serde_json::{Map, Value};
use std::time::{SystemTime, UNIX_EPOCH};
use uuid::Uuid;

/// Profile template every emulated request uses (the emulator's choice; CM would use a real template).
pub(crate) const PROFILE_TEMPLATE_UUID: Uuid =
    Uuid::from_u128(0x6b8c_1e4a_0f2d_4c37_9a51_2d7e_0c3b_5a10);
/// `ProfileTemplateVersion` of every emulated smart card (the value of the documentation example).
pub(crate) const PROFILE_TEMPLATE_VERSION: i64 = 46;
/// `SecurityDescriptor` of every emulated request. CM sends an SDDL string with two trailing NULs.
pub(crate) const SECURITY_DESCRIPTOR: &str =
    "O:BAG:DUD:(A;;CCDCLCSWRPWPDTLOCRSDRCWDWO;;;BA)\u{0}\u{0}";
/// `Completed` of an open request, exactly as the documentation examples show it (no `Z`).
pub(crate) const NOT_COMPLETED: &str = "0001-01-01T00:00:00";

#[derive(Debug, Clone)]
pub(crate) struct RequestRec {
    pub uuid: Uuid,
    pub status: RequestStatus,
    pub new_smartcard: Option<Uuid>,
    pub submitted: String,
    pub completed: Option<String>,
    pub originator_user: Uuid,
    pub target_user: Uuid,
    pub profile_template: Uuid,
}

impl RequestRec {
    pub fn new(uuid: Uuid, status: RequestStatus) -> Self {
        let user = Uuid::new_v4();
        RequestRec {
            uuid,
            status,
            new_smartcard: None,
            submitted: iso_now(),
            completed: None,
            originator_user: user,
            target_user: user,
            profile_template: PROFILE_TEMPLATE_UUID,
        }
    }

    /// The fields of a CM `Request` object (reference §6.2), in the documentation's order.
    pub fn fields(&self) -> Vec<(&'static str, Value)> {
        let g = |u: Uuid| Value::String(u.hyphenated().to_string());
        vec![
            ("Uuid", g(self.uuid)),
            ("RequestType", Value::from(1)),
            ("Status", Value::from(self.status.code())),
            ("Flags", Value::from(0)),
            ("DataCollectionFlags", Value::from(0)),
            ("Priority", Value::from(0)),
            ("DataCollection", Value::Array(Vec::new())),
            ("OriginatorUserUuid", g(self.originator_user)),
            ("TargetUserUuid", g(self.target_user)),
            ("ProfileTemplateUuid", g(self.profile_template)),
            ("NewProfileUuid", g(Uuid::nil())),
            ("OldProfileUuid", g(Uuid::nil())),
            (
                "NewSmartcardUuid",
                g(self.new_smartcard.unwrap_or_else(Uuid::nil)),
            ),
            ("OldSmartcardUuid", g(Uuid::nil())),
            ("Submitted", Value::String(self.submitted.clone())),
            (
                "Completed",
                Value::String(
                    self.completed
                        .clone()
                        .unwrap_or_else(|| NOT_COMPLETED.to_string()),
                ),
            ),
            ("Comment", Value::String(String::new())),
            (
                "SecurityDescriptor",
                Value::String(SECURITY_DESCRIPTOR.to_string()),
            ),
            ("IsSmartcard", Value::Bool(true)),
            ("IsEnrollmentAgent", Value::Bool(false)),
            ("IsDataCollectionComplete", Value::Bool(true)),
        ]
    }
}

#[derive(Debug, Clone)]
pub(crate) struct SmartcardRec {
    pub uuid: Uuid,
    pub card_id: Uuid,
    pub atr: String,
    pub assigned_user: Uuid,
    pub profile_template: Uuid,
}

impl SmartcardRec {
    /// The fields of a CM `Smartcard` object (reference §6.1), in the documentation's order.
    pub fn fields(&self) -> Vec<(&'static str, Value)> {
        let g = |u: Uuid| Value::String(u.hyphenated().to_string());
        vec![
            ("Uuid", g(self.uuid)),
            ("Status", Value::from(2)),
            ("Flags", Value::from(1)),
            ("ParentSmartcardUuid", g(Uuid::nil())),
            ("PrimarySmartcardUuid", g(Uuid::nil())),
            ("PermanentSmartcardUuid", g(Uuid::nil())),
            ("AssignedUserUuid", g(self.assigned_user)),
            ("ProfileTemplateUuid", g(self.profile_template)),
            (
                "ProfileTemplateVersion",
                Value::from(PROFILE_TEMPLATE_VERSION),
            ),
            ("Comment", Value::String(String::new())),
            (
                "SerialNumber",
                Value::String(format!("{{{}}}", self.card_id.hyphenated())),
            ),
            ("Middleware", Value::String("MSBaseCSP".to_string())),
            ("Atr", Value::String(self.atr.clone())),
        ]
    }
}

/// Everything the server shares between connections, behind one mutex.
#[derive(Debug, Default)]
pub(crate) struct State {
    pub requests: Vec<RequestRec>,
    pub smartcards: Vec<SmartcardRec>,
    pub faults: Vec<Fault>,
    pub api_disabled: bool,
    pub log: Vec<LoggedRequest>,
}

impl State {
    /// Adds a request, or resets an existing one with the same UUID (its card binding is dropped).
    pub fn upsert_request(&mut self, uuid: Uuid, status: RequestStatus) -> &RequestRec {
        if let Some(i) = self.requests.iter().position(|r| r.uuid == uuid) {
            self.requests[i] = RequestRec::new(uuid, status);
            &self.requests[i]
        } else {
            self.requests.push(RequestRec::new(uuid, status));
            self.requests.last().expect("just pushed")
        }
    }

    pub fn request(&self, uuid: Uuid) -> Option<&RequestRec> {
        self.requests.iter().find(|r| r.uuid == uuid)
    }

    pub fn request_mut(&mut self, uuid: Uuid) -> Option<&mut RequestRec> {
        self.requests.iter_mut().find(|r| r.uuid == uuid)
    }

    pub fn smartcard(&self, uuid: Uuid) -> Option<&SmartcardRec> {
        self.smartcards.iter().find(|s| s.uuid == uuid)
    }

    pub fn smartcard_by_card(&self, card_id: Uuid) -> Option<&SmartcardRec> {
        self.smartcards.iter().find(|s| s.card_id == card_id)
    }

    /// Removes and returns the first fault matching this request, counting `times` down.
    pub fn take_fault(&mut self, method: &str, target: &str) -> Option<crate::FaultKind> {
        let i = self.faults.iter().position(|f| f.matches(method, target))?;
        let fault = &mut self.faults[i];
        let kind = fault.kind.clone();
        if let Some(n) = fault.times.as_mut() {
            *n = n.saturating_sub(1);
            if *n == 0 {
                self.faults.remove(i);
            }
        }
        Some(kind)
    }
}

/// Serialises fields as a JSON object keeping their order (serde_json's `Map` would sort them).
pub(crate) fn ordered_json(fields: &[(&'static str, Value)]) -> String {
    let mut out = String::from("{");
    for (i, (k, v)) in fields.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&Value::String((*k).to_string()).to_string());
        out.push(':');
        out.push_str(&v.to_string());
    }
    out.push('}');
    out
}

/// Same fields as a `serde_json::Value` object.
pub(crate) fn to_value(fields: Vec<(&'static str, Value)>) -> Value {
    Value::Object(
        fields
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect::<Map<_, _>>(),
    )
}

/// A JSON array of ordered objects.
pub(crate) fn ordered_array(items: impl Iterator<Item = String>) -> String {
    let mut out = String::from("[");
    for (i, item) in items.enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&item);
    }
    out.push(']');
    out
}

/// Parses a GUID the way .NET `Guid.Parse` accepts the common forms: `D` (hyphenated), `N` (32 hex
/// digits), `B` (`{...}`), `P` (`(...)`), any case, surrounding whitespace ignored. The `X` form and
/// `urn:uuid:` are not accepted.
pub fn parse_guid(s: &str) -> Option<Uuid> {
    let s = s.trim();
    let inner = if let Some(rest) = s.strip_prefix('{') {
        rest.strip_suffix('}')?
    } else if let Some(rest) = s.strip_prefix('(') {
        rest.strip_suffix(')')?
    } else {
        s
    };
    match inner.len() {
        32 if inner.bytes().all(|b| b.is_ascii_hexdigit()) => Uuid::try_parse(inner).ok(),
        36 => Uuid::try_parse(inner).ok(),
        _ => None,
    }
}

fn now_since_epoch() -> (i64, u32) {
    let d = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    (d.as_secs() as i64, d.subsec_nanos())
}

/// Days since 1970-01-01 to (year, month, day) (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Current UTC time the way CM's JSON shows it: `2015-07-07T23:36:21.93Z` (up to 7 fraction digits,
/// trailing zeros trimmed, like Json.NET).
pub(crate) fn iso_now() -> String {
    let (secs, nanos) = now_since_epoch();
    let (y, mo, d) = civil_from_days(secs.div_euclid(86_400));
    let sod = secs.rem_euclid(86_400);
    let mut s = format!(
        "{y:04}-{mo:02}-{d:02}T{:02}:{:02}:{:02}",
        sod / 3600,
        (sod / 60) % 60,
        sod % 60
    );
    let frac = format!("{:07}", nanos / 100);
    let frac = frac.trim_end_matches('0');
    if !frac.is_empty() {
        s.push('.');
        s.push_str(frac);
    }
    s.push('Z');
    s
}

/// Current time as an HTTP `Date` header value (RFC 7231 IMF-fixdate).
pub(crate) fn http_date() -> String {
    http_date_skewed(0)
}

/// The HTTP date `skew_secs` seconds from now (a server whose clock is off).
pub(crate) fn http_date_skewed(skew_secs: i64) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let secs = now_since_epoch().0 + skew_secs;
    let days = secs.div_euclid(86_400);
    let (y, mo, d) = civil_from_days(days);
    let sod = secs.rem_euclid(86_400);
    format!(
        "{}, {d:02} {} {y:04} {:02}:{:02}:{:02} GMT",
        DAYS[days.rem_euclid(7) as usize],
        MONTHS[(mo - 1) as usize],
        sod / 3600,
        (sod / 60) % 60,
        sod % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skewed_http_date_moves_by_the_skew() {
        // One day ahead names the next weekday; the format stays RFC 7231's IMF-fixdate.
        let now = http_date_skewed(0);
        let later = http_date_skewed(86_400);
        assert_eq!(now.len(), later.len());
        assert!(later.ends_with(" GMT") && now[..3] != later[..3]);
    }

    #[test]
    fn civil_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(16_623), (2015, 7, 7));
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
    }

    #[test]
    fn guid_forms() {
        let u = Uuid::parse_str("bc88f13f-83ba-4037-8262-46eba1291c6e").unwrap();
        for s in [
            "bc88f13f-83ba-4037-8262-46eba1291c6e",
            "BC88F13F-83BA-4037-8262-46EBA1291C6E",
            "{bc88f13f-83ba-4037-8262-46eba1291c6e}",
            "(BC88F13F-83BA-4037-8262-46EBA1291C6E)",
            "bc88f13f83ba4037826246eba1291c6e",
            "  bc88f13f-83ba-4037-8262-46eba1291c6e ",
        ] {
            assert_eq!(parse_guid(s), Some(u), "{s}");
        }
        for s in [
            "",
            "bc88f13f",
            "{bc88f13f-83ba-4037-8262-46eba1291c6e",
            "urn:uuid:bc88f13f-83ba-4037-8262-46eba1291c6e",
            "bc88f13f-83ba-4037-8262-46eba1291c6g",
        ] {
            assert_eq!(parse_guid(s), None, "{s}");
        }
    }

    #[test]
    fn ordered_json_keeps_order() {
        let s = ordered_json(&[("Z", Value::from(1)), ("A", Value::from("x\u{0}"))]);
        assert_eq!(s, r#"{"Z":1,"A":"x\u0000"}"#);
    }

    #[test]
    fn iso_shape() {
        let s = iso_now();
        assert!(
            s.ends_with('Z') && s.len() >= 20 && &s[4..5] == "-" && &s[10..11] == "T",
            "{s}"
        );
    }
}
