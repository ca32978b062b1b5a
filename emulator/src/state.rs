//! The emulator's data: CM requests, smart cards, profiles, certificates, templates, faults, the request
//! log, and their JSON shapes.

use crate::fault::Fault;
use crate::issuing::Pki;
use crate::resources::templates::TemplateRec;
use crate::{LoggedRequest, RequestStatus, RequestType, SmartcardStatus};
use serde_json::{Map, Value};
use std::time::{SystemTime, UNIX_EPOCH};
use uuid::Uuid;

/// `ProfileTemplateVersion` of every emulated template, smart card and profile (the documentation example).
pub(crate) const PROFILE_TEMPLATE_VERSION: i64 = 46;
/// `SecurityDescriptor` of every emulated request. CM sends an SDDL string with two trailing NULs.
pub(crate) const SECURITY_DESCRIPTOR: &str =
    "O:BAG:DUD:(A;;CCDCLCSWRPWPDTLOCRSDRCWDWO;;;BA)\u{0}\u{0}";
/// `Completed` of an open request, exactly as the documentation examples show it (no `Z`).
pub(crate) const NOT_COMPLETED: &str = "0001-01-01T00:00:00";

fn guid(u: Uuid) -> Value {
    Value::String(u.hyphenated().to_string())
}

#[derive(Debug, Clone)]
pub(crate) struct RequestRec {
    pub uuid: Uuid,
    pub request_type: RequestType,
    pub status: RequestStatus,
    /// Approvals still needed while Pending.
    pub approvals_left: u32,
    /// The card bound to an Enroll request (`NewSmartcardUuid`).
    pub new_smartcard: Option<Uuid>,
    /// The profile the request created (`NewProfileUuid`): the bound card's, or a software profile.
    pub new_profile: Option<Uuid>,
    /// The existing card a non-Enroll request acts on (`OldSmartcardUuid`; its profile is `OldProfileUuid`).
    pub old_smartcard: Option<Uuid>,
    pub submitted: String,
    pub completed: Option<String>,
    pub originator_user: Uuid,
    pub target_user: Uuid,
    pub profile_template: Uuid,
    pub data_collection: Vec<(String, Option<String>)>,
    pub comment: String,
    pub priority: i64,
    pub is_smartcard: bool,
    /// `POST certificatedata` answered once already.
    pub certificates_returned: bool,
}

impl RequestRec {
    /// An Enroll request for the "Smartcard User" template, for the caller (the seeding API's requests).
    pub fn new(uuid: Uuid, status: RequestStatus) -> Self {
        RequestRec {
            uuid,
            request_type: RequestType::Enroll,
            status,
            approvals_left: 0,
            new_smartcard: None,
            new_profile: None,
            old_smartcard: None,
            submitted: iso_now(),
            completed: None,
            originator_user: crate::CALLER_USER_UUID,
            target_user: crate::CALLER_USER_UUID,
            profile_template: crate::SMARTCARD_USER_TEMPLATE,
            data_collection: Vec::new(),
            comment: String::new(),
            priority: 0,
            is_smartcard: true,
            certificates_returned: false,
        }
    }

    /// Whether this request binds or acts on that card.
    pub fn concerns_card(&self, card: Uuid) -> bool {
        self.new_smartcard == Some(card) || self.old_smartcard == Some(card)
    }

    pub fn is_open_for_execution(&self) -> bool {
        matches!(
            self.status,
            RequestStatus::Approved | RequestStatus::Executing
        )
    }

    /// The fields of a CM `Request` object (reference §6.2), in the documentation's order.
    pub fn fields(&self) -> Vec<(&'static str, Value)> {
        let data: Vec<Value> = self
            .data_collection
            .iter()
            .map(|(n, v)| {
                let mut m = Map::new();
                m.insert("Name".into(), Value::String(n.clone()));
                m.insert("Value".into(), v.clone().map_or(Value::Null, Value::String));
                Value::Object(m)
            })
            .collect();
        let complete = self.data_collection.iter().all(|(_, v)| v.is_some());
        vec![
            ("Uuid", guid(self.uuid)),
            ("RequestType", Value::from(self.request_type.code())),
            ("Status", Value::from(self.status.code())),
            ("Flags", Value::from(0)),
            ("DataCollectionFlags", Value::from(0)),
            ("Priority", Value::from(self.priority)),
            ("DataCollection", Value::Array(data)),
            ("OriginatorUserUuid", guid(self.originator_user)),
            ("TargetUserUuid", guid(self.target_user)),
            ("ProfileTemplateUuid", guid(self.profile_template)),
            (
                "NewProfileUuid",
                guid(self.new_profile.unwrap_or_else(Uuid::nil)),
            ),
            // A smart card's profile has the card's Uuid (emulator's choice).
            (
                "OldProfileUuid",
                guid(self.old_smartcard.unwrap_or_else(Uuid::nil)),
            ),
            (
                "NewSmartcardUuid",
                guid(self.new_smartcard.unwrap_or_else(Uuid::nil)),
            ),
            (
                "OldSmartcardUuid",
                guid(self.old_smartcard.unwrap_or_else(Uuid::nil)),
            ),
            ("Submitted", Value::String(self.submitted.clone())),
            (
                "Completed",
                Value::String(
                    self.completed
                        .clone()
                        .unwrap_or_else(|| NOT_COMPLETED.to_string()),
                ),
            ),
            ("Comment", Value::String(self.comment.clone())),
            (
                "SecurityDescriptor",
                Value::String(SECURITY_DESCRIPTOR.to_string()),
            ),
            ("IsSmartcard", Value::Bool(self.is_smartcard)),
            ("IsEnrollmentAgent", Value::Bool(false)),
            ("IsDataCollectionComplete", Value::Bool(complete)),
        ]
    }
}

#[derive(Debug, Clone)]
pub(crate) struct SmartcardRec {
    pub uuid: Uuid,
    pub card_id: Uuid,
    pub atr: String,
    pub status: SmartcardStatus,
    pub assigned_user: Uuid,
    pub profile_template: Uuid,
}

impl SmartcardRec {
    /// The fields of a CM `Smartcard` object (reference §6.1), in the documentation's order.
    pub fn fields(&self) -> Vec<(&'static str, Value)> {
        vec![
            ("Uuid", guid(self.uuid)),
            ("Status", Value::from(self.status.code())),
            ("Flags", Value::from(1)),
            ("ParentSmartcardUuid", guid(Uuid::nil())),
            ("PrimarySmartcardUuid", guid(Uuid::nil())),
            ("PermanentSmartcardUuid", guid(Uuid::nil())),
            ("AssignedUserUuid", guid(self.assigned_user)),
            ("ProfileTemplateUuid", guid(self.profile_template)),
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

/// A profile: every bound smart card has one with the card's Uuid; software templates get one when their
/// certificates are issued.
#[derive(Debug, Clone)]
pub(crate) struct ProfileRec {
    pub uuid: Uuid,
    pub status: SmartcardStatus,
    pub assigned_user: Uuid,
    pub profile_template: Uuid,
}

impl ProfileRec {
    pub fn fields(&self, operations: Vec<String>) -> Vec<(&'static str, Value)> {
        vec![
            ("Uuid", guid(self.uuid)),
            ("Status", Value::from(self.status.code())),
            ("Flags", Value::from(0)),
            ("ParentProfileUuid", guid(Uuid::nil())),
            ("PrimaryProfileUuid", guid(Uuid::nil())),
            ("AssignedUserUuid", guid(self.assigned_user)),
            ("ProfileTemplateUuid", guid(self.profile_template)),
            (
                "ProfileTemplateVersion",
                Value::from(PROFILE_TEMPLATE_VERSION),
            ),
            ("Comment", Value::String(String::new())),
            (
                "ProfileOperations",
                Value::Array(operations.into_iter().map(Value::String).collect()),
            ),
        ]
    }
}

/// A certificate the emulator's test CA issued.
#[derive(Debug, Clone)]
pub(crate) struct CertRec {
    pub profile: Uuid,
    pub owner: Uuid,
    pub template_common_name: String,
    pub serial_hex: String,
    pub thumbprint_hex: String,
    /// `2016-07-13T09:10:31` (UTC, no zone, as the documentation example).
    pub not_before: String,
    pub not_after: String,
    pub is_key_history: bool,
}

impl CertRec {
    /// `X509ClmCertificate` as `/smartcards/{id}/certificates` shows it.
    pub fn card_fields(&self) -> Vec<(&'static str, Value)> {
        vec![
            ("IsKeyHistory", Value::Bool(self.is_key_history)),
            ("ArchivedOnCa", Value::Bool(false)),
            ("CertificateType", Value::from(1)),
            (
                "TemplateCommonName",
                Value::String(self.template_common_name.clone()),
            ),
            ("SerialNumber", Value::String(self.serial_hex.clone())),
            ("Thumbprint", Value::String(self.thumbprint_hex.clone())),
        ]
    }

    /// `X509ClmCertificate` as `/certificates` shows it (the documentation example's order).
    pub fn user_fields(&self) -> Vec<(&'static str, Value)> {
        let mut f = self.card_fields();
        f.extend([
            ("NotAfter", Value::String(self.not_after.clone())),
            ("NotBefore", Value::String(self.not_before.clone())),
            (
                "Issuer",
                Value::String(crate::issuing::ISSUER_NAME.to_string()),
            ),
            (
                "RequesterName",
                Value::String(crate::CALLER_NAME.to_string()),
            ),
            ("Status", Value::from(0)),
        ]);
        f
    }
}

/// Everything the server shares between connections, behind one mutex.
#[derive(Debug)]
pub(crate) struct State {
    pub requests: Vec<RequestRec>,
    pub smartcards: Vec<SmartcardRec>,
    pub profiles: Vec<ProfileRec>,
    pub certificates: Vec<CertRec>,
    pub templates: Vec<TemplateRec>,
    pub faults: Vec<Fault>,
    pub api_disabled: bool,
    pub log: Vec<LoggedRequest>,
    /// Master key the diversified admin keys are derived from.
    pub admin_master_key: [u8; 24],
    pub pki: Pki,
    pub next_certificate_id: i64,
}

impl Default for State {
    fn default() -> Self {
        State {
            requests: Vec::new(),
            smartcards: Vec::new(),
            profiles: Vec::new(),
            certificates: Vec::new(),
            templates: crate::resources::templates::seeded(),
            faults: Vec::new(),
            api_disabled: false,
            log: Vec::new(),
            admin_master_key: crate::DEFAULT_ADMIN_MASTER_KEY,
            pki: Pki::new(),
            next_certificate_id: 1,
        }
    }
}

impl State {
    /// Adds a request, or resets an existing one with the same UUID (its card binding is dropped).
    pub fn upsert_request(&mut self, uuid: Uuid, status: RequestStatus) -> &RequestRec {
        self.upsert(RequestRec::new(uuid, status))
    }

    /// Adds a request record, replacing one with the same UUID.
    pub fn upsert(&mut self, rec: RequestRec) -> &RequestRec {
        if let Some(i) = self.requests.iter().position(|r| r.uuid == rec.uuid) {
            self.requests[i] = rec;
            &self.requests[i]
        } else {
            self.requests.push(rec);
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

    pub fn smartcard_mut(&mut self, uuid: Uuid) -> Option<&mut SmartcardRec> {
        self.smartcards.iter_mut().find(|s| s.uuid == uuid)
    }

    /// The newest smart card registered with this card id (a retired card may be re-enrolled).
    pub fn smartcard_by_card(&self, card_id: Uuid) -> Option<&SmartcardRec> {
        self.smartcards.iter().rev().find(|s| s.card_id == card_id)
    }

    pub fn profile(&self, uuid: Uuid) -> Option<&ProfileRec> {
        self.profiles.iter().find(|p| p.uuid == uuid)
    }

    pub fn template(&self, uuid: Uuid) -> Option<&TemplateRec> {
        self.templates.iter().find(|t| t.uuid == uuid)
    }

    /// Sets a card's status and its profile's.
    pub fn set_card_status(&mut self, card: Uuid, status: SmartcardStatus) {
        if let Some(sc) = self.smartcard_mut(card) {
            sc.status = status;
        }
        self.set_profile_status(card, status);
    }

    pub fn set_profile_status(&mut self, profile: Uuid, status: SmartcardStatus) {
        if let Some(p) = self.profiles.iter_mut().find(|p| p.uuid == profile) {
            p.status = status;
        }
    }

    /// One approval of a Pending request; the last one needed makes it Approved.
    pub fn approve(&mut self, uuid: Uuid) -> Result<RequestStatus, String> {
        let r = self
            .request_mut(uuid)
            .ok_or_else(|| format!("no request {uuid}"))?;
        if r.status != RequestStatus::Pending {
            return Err(format!(
                "request {uuid} is {}, not Pending",
                r.status.name()
            ));
        }
        r.approvals_left = r.approvals_left.saturating_sub(1);
        if r.approvals_left == 0 {
            r.status = RequestStatus::Approved;
        }
        Ok(r.status)
    }

    /// Denies a Pending request.
    pub fn deny(&mut self, uuid: Uuid) -> Result<RequestStatus, String> {
        let r = self
            .request_mut(uuid)
            .ok_or_else(|| format!("no request {uuid}"))?;
        if r.status != RequestStatus::Pending {
            return Err(format!(
                "request {uuid} is {}, not Pending",
                r.status.name()
            ));
        }
        r.status = RequestStatus::Denied;
        r.completed = Some(iso_now());
        Ok(r.status)
    }

    /// Seeds an enrolled card: a Completed Enroll request with the card bound, card and profile Active.
    pub fn add_active_smartcard(
        &mut self,
        card_id: Uuid,
        template: Uuid,
        atr: &str,
    ) -> Result<(Uuid, Uuid), String> {
        if let Some(sc) = self.smartcard_by_card(card_id)
            && sc.status != SmartcardStatus::Retired
        {
            return Err(format!(
                "card id {card_id} is already registered ({})",
                sc.uuid
            ));
        }
        let request = Uuid::new_v4();
        let card = Uuid::new_v4();
        self.upsert(RequestRec {
            profile_template: template,
            new_smartcard: Some(card),
            new_profile: Some(card),
            completed: Some(iso_now()),
            ..RequestRec::new(request, RequestStatus::Completed)
        });
        self.smartcards.push(SmartcardRec {
            uuid: card,
            card_id,
            atr: atr.to_ascii_lowercase(),
            status: SmartcardStatus::Active,
            assigned_user: crate::CALLER_USER_UUID,
            profile_template: template,
        });
        self.profiles.push(ProfileRec {
            uuid: card,
            status: SmartcardStatus::Active,
            assigned_user: crate::CALLER_USER_UUID,
            profile_template: template,
        });
        Ok((request, card))
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
