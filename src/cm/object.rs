//! Any CM object as the server sent it, read through typed accessors by field name.
//!
//! The CM REST API returns .NET objects serialized as JSON, documented only by example, with names whose case
//! varies (`Pkcs7` next to `isPfx`, `DiversifyAdminKey` vs `diversifyadminkey`). So an object keeps the JSON and
//! the accessors look fields up case-insensitively and convert leniently where the docs disagree on a type
//! (`"priority":"4"` next to `"Priority":0`). Enum fields stay numbers; a name is given only where the docs show
//! one, and an unknown number never fails anything but the name lookup.

use crate::error::{Error, Result};
use crate::status::Status;
use base64::Engine as _;
use serde_json::Value;
use uuid::Uuid;

/// What a [`CmObject`] is (`cm_object_kind`). Explicit values: part of the ABI.
#[repr(i32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ObjectKind {
    /// `GET /profiletemplates` item (ProfileTemplateLimitedView).
    ProfileTemplate = 1,
    /// A profile template's workflow policy.
    Policy = 2,
    /// A profile template's smart card configuration.
    SmartcardConfig = 3,
    /// A request.
    Request = 4,
    /// A smart card.
    Smartcard = 5,
    /// One certificate request to build (`certificaterequestgenerationoptions` item).
    CsrOption = 6,
    /// One certificate returned by `POST /requests/{id}/certificatedata`.
    CertificateData = 7,
    /// A certificate on a smart card or profile (X509ClmCertificate).
    CardCertificate = 8,
    /// One of the caller's certificates (`GET /certificates`).
    UserCertificate = 9,
    /// A profile.
    Profile = 10,
    /// A request's data collection item (`{Name, Value}`).
    DataItem = 11,
    /// What a create call returned: `Uri` (as the server sent it) and `Uuid` (parsed from it).
    Created = 12,
    /// Anything else (a nested object).
    Other = 99,
}

/// A CM object: its kind and the JSON the server sent.
#[derive(Debug, Clone, PartialEq)]
pub struct CmObject {
    /// What it is.
    pub kind: ObjectKind,
    /// The server's JSON (an object for every kind this library produces).
    pub json: Value,
    /// Set when the server's identity was not proven for the answer (`AuthServerUnverified`).
    pub warning: Option<Error>,
}

/// An array answer: its items' kind and the items.
#[derive(Debug, Clone, PartialEq)]
pub struct CmList {
    /// The kind of each object item.
    pub kind: ObjectKind,
    /// The items as sent (objects, or strings for operations).
    pub items: Vec<Value>,
    /// Set when the server's identity was not proven for the answer (`AuthServerUnverified`).
    pub warning: Option<Error>,
}

/// Enum names the CM docs show by example; nothing else is assumed (`mimcm-rest-api.md` §6).
fn known_enum_name(kind: ObjectKind, field: &str, number: i64) -> Option<&'static str> {
    let is = |name: &str| field.eq_ignore_ascii_case(name);
    match (kind, number) {
        (ObjectKind::Request, 1) if is("RequestType") => Some("Enroll"),
        (ObjectKind::Request, 5) if is("RequestType") => Some("Unblock"),
        (ObjectKind::Request, 3) if is("Status") => Some("Approved"),
        (ObjectKind::Request, 8) if is("Status") => Some("Completed"),
        // update-smartcard-status.md: PUT {"status":"Retired"} answers a smartcard with Status 6.
        (ObjectKind::Smartcard, 6) if is("Status") => Some("Retired"),
        _ => None,
    }
}

/// The kind of a nested object: a request's data collection items are known, the rest is `Other`.
fn nested_kind(parent: ObjectKind, field: &str) -> ObjectKind {
    if parent == ObjectKind::Request && field.eq_ignore_ascii_case("DataCollection") {
        ObjectKind::DataItem
    } else {
        ObjectKind::Other
    }
}

/// The JSON type of a value, with its article, for messages ("an array").
pub(crate) fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn wrong_type(field: &str, v: &Value, wanted: &str) -> Error {
    Error::new(
        Status::FieldType,
        format!(
            "field '{}' holds {}, not {wanted}",
            crate::guid::printable(field),
            json_type(v)
        ),
    )
}

/// Decodes base64 as CM sends it: standard alphabet, padded or not, possibly wrapped in `\r\n` lines.
pub(crate) fn decode_base64_lenient(text: &str) -> Option<Vec<u8>> {
    // The text may be a secret (an admin key): the compacted copy is sized once and wiped.
    let mut compact = zeroize::Zeroizing::new(String::with_capacity(text.len()));
    compact.extend(text.chars().filter(|c| !c.is_ascii_whitespace()));
    let engine = base64::engine::GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        base64::engine::GeneralPurposeConfig::new()
            .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
    );
    engine.decode(compact.as_bytes()).ok()
}

/// Reads an integer leniently: a JSON integer, or a string holding one (`"priority":"4"` in the docs).
fn as_int(field: &str, v: &Value) -> Result<i64> {
    match v {
        Value::Number(n) => n.as_i64().ok_or_else(|| wrong_type(field, v, "an integer")),
        Value::String(s) => s
            .trim()
            .parse()
            .map_err(|_| wrong_type(field, v, "an integer")),
        _ => Err(wrong_type(field, v, "an integer")),
    }
}

fn as_text(field: &str, v: &Value) -> Result<String> {
    match v {
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        Value::Bool(b) => Ok(b.to_string()),
        _ => Err(wrong_type(field, v, "a string")),
    }
}

fn item<'a>(field: &str, items: &'a [Value], index: usize) -> Result<&'a Value> {
    items.get(index).ok_or_else(|| {
        Error::new(
            Status::IndexOutOfRange,
            format!(
                "index {index} is past the end of '{}' ({} items)",
                crate::guid::printable(field),
                items.len()
            ),
        )
    })
}

impl CmObject {
    /// An object of `kind` with no warning.
    pub fn new(kind: ObjectKind, json: Value) -> CmObject {
        CmObject {
            kind,
            json,
            warning: None,
        }
    }

    /// The field's value, looked up case-insensitively; absent and null are both "missing".
    pub fn field(&self, name: &str) -> Result<&Value> {
        let missing = || {
            Error::new(
                Status::FieldMissing,
                format!(
                    "the object has no field '{}' (or it is null)",
                    crate::guid::printable(name)
                ),
            )
        };
        let object = self.json.as_object().ok_or_else(missing)?;
        let value = object
            .get(name)
            .or_else(|| {
                object
                    .iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case(name))
                    .map(|(_, v)| v)
            })
            .ok_or_else(missing)?;
        if value.is_null() {
            return Err(missing());
        }
        Ok(value)
    }

    /// A string field; numbers and booleans are given as their JSON text.
    pub fn string(&self, name: &str) -> Result<String> {
        as_text(name, self.field(name)?)
    }

    /// An integer field (a JSON integer or a string holding one).
    pub fn int(&self, name: &str) -> Result<i64> {
        as_int(name, self.field(name)?)
    }

    /// A boolean field: `true`/`false`, the strings `"true"`/`"False"` (any case), or the numbers 0/1.
    pub fn bool(&self, name: &str) -> Result<bool> {
        let v = self.field(name)?;
        match v {
            Value::Bool(b) => Ok(*b),
            Value::Number(n) => match n.as_i64() {
                Some(0) => Ok(false),
                Some(1) => Ok(true),
                _ => Err(wrong_type(name, v, "a boolean")),
            },
            Value::String(s) if s.trim().eq_ignore_ascii_case("true") => Ok(true),
            Value::String(s) if s.trim().eq_ignore_ascii_case("false") => Ok(false),
            _ => Err(wrong_type(name, v, "a boolean")),
        }
    }

    /// A GUID field, in any .NET form (braces as in `SerialNumber` included).
    pub fn guid(&self, name: &str) -> Result<Uuid> {
        let v = self.field(name)?;
        v.as_str()
            .and_then(|s| Uuid::parse_str(s.trim()).ok())
            .ok_or_else(|| wrong_type(name, v, "a GUID"))
    }

    /// A base64 field, decoded (`Pkcs7`, `Pfx`).
    pub fn bytes(&self, name: &str) -> Result<Vec<u8>> {
        let v = self.field(name)?;
        let text = v
            .as_str()
            .ok_or_else(|| wrong_type(name, v, "base64 text"))?;
        decode_base64_lenient(text).ok_or_else(|| {
            Error::new(
                Status::FieldType,
                format!(
                    "field '{}' is not valid base64",
                    crate::guid::printable(name)
                ),
            )
        })
    }

    /// The name of an enum field's value: the documented name of a number, or the text CM sent when it sent
    /// a name. `EnumUnknown` for a number without a documented name.
    pub fn enum_name(&self, name: &str) -> Result<String> {
        let v = self.field(name)?;
        if let Value::String(s) = v
            && s.trim().parse::<i64>().is_err()
        {
            return Ok(s.clone());
        }
        let number = as_int(name, v)?;
        known_enum_name(self.kind, name, number)
            .map(str::to_string)
            .ok_or_else(|| {
                Error::new(
                    Status::EnumUnknown,
                    format!(
                        "field '{}' is {number}, a value whose name CM does not document; read the number \
                         with cm_object_get_int()",
                        crate::guid::printable(name)
                    ),
                )
            })
    }

    fn array(&self, name: &str) -> Result<&[Value]> {
        let v = self.field(name)?;
        v.as_array()
            .map(Vec::as_slice)
            .ok_or_else(|| wrong_type(name, v, "an array"))
    }

    /// The length of an array field.
    pub fn count(&self, name: &str) -> Result<usize> {
        self.array(name).map(<[Value]>::len)
    }

    /// Item `index` of an array field of strings (numbers and booleans as their text).
    pub fn string_at(&self, name: &str, index: usize) -> Result<String> {
        as_text(name, item(name, self.array(name)?, index)?)
    }

    /// Item `index` of an array field of objects; index 0 of a field that holds one object is that object.
    pub fn object_at(&self, name: &str, index: usize) -> Result<CmObject> {
        let v = self.field(name)?;
        let value = match v {
            Value::Array(items) => item(name, items, index)?,
            Value::Object(_) => item(name, std::slice::from_ref(v), index)?,
            _ => return Err(wrong_type(name, v, "an object or an array of objects")),
        };
        if !value.is_object() {
            return Err(wrong_type(name, value, "an object"));
        }
        Ok(CmObject {
            kind: nested_kind(self.kind, name),
            json: value.clone(),
            warning: None,
        })
    }
}

/// Overwrites every string of a JSON value (a smart card configuration carries `DefaultAdminKeyHex`).
pub(crate) fn wipe_strings(value: &mut Value) {
    use zeroize::Zeroize;
    match value {
        Value::String(s) => s.zeroize(),
        Value::Array(items) => items.iter_mut().for_each(wipe_strings),
        Value::Object(map) => map.values_mut().for_each(wipe_strings),
        _ => {}
    }
}

impl Drop for CmObject {
    fn drop(&mut self) {
        // The only object kind that holds a secret: the template's default admin key.
        if self.kind == ObjectKind::SmartcardConfig {
            wipe_strings(&mut self.json);
        }
    }
}

impl CmList {
    /// The number of items.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// No items (CM answered 204 or an empty array).
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Item `index` as an object.
    pub fn object(&self, index: usize) -> Result<CmObject> {
        let value = item("list", &self.items, index)?;
        if !value.is_object() {
            return Err(wrong_type("list item", value, "an object"));
        }
        Ok(CmObject {
            kind: self.kind,
            json: value.clone(),
            warning: None,
        })
    }

    /// Item `index` as text (operations are strings).
    pub fn string(&self, index: usize) -> Result<String> {
        as_text("list item", item("list", &self.items, index)?)
    }

    /// The list as JSON.
    pub fn to_json(&self) -> String {
        // serde_json renders a slice of values like the array it came from.
        serde_json::to_string(&self.items).unwrap_or_else(|_| "[]".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn request() -> CmObject {
        CmObject::new(
            ObjectKind::Request,
            json!({"Uuid":"A9B4B42C-CC50-4C9B-89D1-BBC0BCD5A099","RequestType":1,"Status":42,"Priority":"4",
                   "IsSmartcard":true,"isPfx":"False","Comment":null,"Flags":2,
                   "DataCollection":[{"Name":"Sample","Value":null}],"Ops":["renew",7],
                   "SerialNumber":"{bc88f13f-83ba-4037-8262-46eba1291c6e}","Pkcs7":"AQID\r\nBA==","Bad":"%%"}),
        )
    }

    #[test]
    fn fields_are_found_in_any_case_and_converted_leniently() {
        let r = request();
        assert_eq!(
            r.guid("uuid").unwrap().to_string(),
            "a9b4b42c-cc50-4c9b-89d1-bbc0bcd5a099"
        );
        assert_eq!(
            r.guid("SerialNumber").unwrap().to_string(),
            "bc88f13f-83ba-4037-8262-46eba1291c6e"
        );
        assert_eq!(r.int("priority").unwrap(), 4);
        assert!(r.bool("IsSmartcard").unwrap());
        assert!(!r.bool("ISPFX").unwrap());
        assert_eq!(r.string("Flags").unwrap(), "2");
        assert_eq!(r.bytes("Pkcs7").unwrap(), vec![1, 2, 3, 4]);
    }

    #[test]
    fn missing_null_and_wrong_types_have_their_own_statuses() {
        let r = request();
        assert_eq!(r.string("Nope").unwrap_err().status, Status::FieldMissing);
        assert_eq!(
            r.string("Comment").unwrap_err().status,
            Status::FieldMissing
        );
        assert_eq!(r.int("Uuid").unwrap_err().status, Status::FieldType);
        assert_eq!(r.bool("Flags").unwrap_err().status, Status::FieldType);
        assert_eq!(r.guid("Flags").unwrap_err().status, Status::FieldType);
        assert_eq!(r.bytes("Bad").unwrap_err().status, Status::FieldType);
        assert_eq!(r.count("Uuid").unwrap_err().status, Status::FieldType);
        assert_eq!(
            r.string_at("Ops", 2).unwrap_err().status,
            Status::IndexOutOfRange
        );
        assert_eq!(r.object_at("Ops", 0).unwrap_err().status, Status::FieldType);
    }

    #[test]
    fn enum_names_only_where_documented_and_numbers_always() {
        let r = request();
        assert_eq!(r.enum_name("RequestType").unwrap(), "Enroll");
        let unknown = r.enum_name("Status").unwrap_err();
        assert_eq!(unknown.status, Status::EnumUnknown);
        assert!(unknown.message.contains("42"));
        assert_eq!(r.int("Status").unwrap(), 42);
        let named = CmObject::new(ObjectKind::Request, json!({"Status":"Pending"}));
        assert_eq!(named.enum_name("status").unwrap(), "Pending");
        // The same number means nothing in another kind of object.
        let card = CmObject::new(ObjectKind::Smartcard, json!({"RequestType":1,"Status":6}));
        assert_eq!(
            card.enum_name("RequestType").unwrap_err().status,
            Status::EnumUnknown
        );
        assert_eq!(card.enum_name("Status").unwrap(), "Retired");
    }

    #[test]
    fn arrays_are_counted_and_indexed() {
        let r = request();
        assert_eq!(r.count("DataCollection").unwrap(), 1);
        let data = r.object_at("DataCollection", 0).unwrap();
        assert_eq!(data.kind, ObjectKind::DataItem);
        assert_eq!(data.string("name").unwrap(), "Sample");
        assert_eq!(
            data.string("Value").unwrap_err().status,
            Status::FieldMissing
        );
        assert_eq!(r.string_at("Ops", 0).unwrap(), "renew");
        assert_eq!(r.string_at("Ops", 1).unwrap(), "7");
        let list = CmList {
            kind: ObjectKind::Profile,
            items: vec![json!({"Uuid":"x"}), json!("retire")],
            warning: None,
        };
        assert_eq!(list.object(0).unwrap().kind, ObjectKind::Profile);
        assert_eq!(list.object(1).unwrap_err().status, Status::FieldType);
        assert_eq!(list.string(1).unwrap(), "retire");
        assert_eq!(list.object(2).unwrap_err().status, Status::IndexOutOfRange);
        assert_eq!(list.to_json(), r#"[{"Uuid":"x"},"retire"]"#);
    }

    #[test]
    fn base64_with_line_breaks_and_without_padding_decodes() {
        assert_eq!(
            decode_base64_lenient("AQID\r\nBA").unwrap(),
            vec![1, 2, 3, 4]
        );
        assert!(decode_base64_lenient("A*==").is_none());
    }
}
