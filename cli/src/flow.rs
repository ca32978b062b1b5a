//! The enrollment and card lifecycle commands: profile templates, request create / find-created /
//! set-status / profiles, the card's secrets and status, certificate requests, profiles and the caller's
//! certificates. State changes are sent at most once and accept `--dry-run`; secrets (admin keys, PINs, the
//! template's default admin key) are printed only with `--show`.

use crate::args::{
    ByteOrder, CardSecretArgs, CsrCmd, ProfileCmd, RequestSpecArgs, ServerArgs, TemplateCmd,
};
use crate::out::{Output, Tone, error_json};
use crate::server_cmds::{client, done, not_found};
use crate::{CmdResult, Failure, exit};
use base64::Engine as _;
use cm_smartcard::cm::lifecycle::{SETTABLE_REQUEST_STATUSES, SMARTCARD_STATUSES, enum_value};
use cm_smartcard::cm::url::ServerUrl;
use cm_smartcard::cm::{CmClient, CmList, CmObject, Owner, RequestSpec};
use cm_smartcard::guid::{parse_guid, printable};
use cm_smartcard::{Error, Status};
use serde_json::{Map, Value, json};
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use uuid::Uuid;
use zeroize::{Zeroize, Zeroizing};

/// Environment variable for the password of server-generated PFX files.
pub const PFX_PASSWORD_ENV: &str = "CM_PFX_PASSWORD";

fn now_unix() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

// ---------------------------------------------------------------------------------------------------------
// Output of CM objects and lists

/// A field for people: strings as sent, absent or null as "-", the rest as JSON; a number whose name CM
/// documents gets the name in parentheses ("8 (Completed)").
fn cell(obj: &CmObject, field: &str) -> String {
    match obj.field(field) {
        Err(_) => "-".into(),
        Ok(Value::String(s)) => plain(s),
        Ok(v @ Value::Number(_)) => match obj.enum_name(field) {
            Ok(name) => format!("{v} ({name})"),
            Err(_) => v.to_string(),
        },
        Ok(v) => v.to_string(),
    }
}

/// Server text made safe for a terminal: control characters (escape sequences, line breaks) become `?`.
fn plain(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

/// `{"found": true, key: object}` in JSON; every field as an aligned row otherwise.
fn print_object(o: &Output, key: &str, obj: &CmObject) {
    if o.json {
        let mut m = Map::new();
        m.insert("found".into(), Value::Bool(true));
        m.insert(key.into(), obj.json.clone());
        o.print_json(&Value::Object(m));
    } else {
        let rows: Vec<(String, String)> = obj
            .json
            .as_object()
            .map(|m| m.keys().map(|k| (plain(k), cell(obj, k))).collect())
            .unwrap_or_default();
        let rows: Vec<(&str, String)> = rows.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
        o.rows(&rows);
    }
}

/// Columns of a table: header and field name.
type Columns<'a> = &'a [(&'a str, &'a str)];

/// `{"count": n, key: [...]}` in JSON; a table otherwise (`empty` on stderr when there is nothing).
fn print_list(o: &Output, key: &str, list: &CmList, columns: Columns, empty: &str) {
    if o.json {
        let mut m = Map::new();
        m.insert("count".into(), json!(list.len()));
        m.insert(key.into(), Value::Array(list.items.clone()));
        o.print_json(&Value::Object(m));
        return;
    }
    if list.is_empty() {
        o.note(empty);
        return;
    }
    let rows: Vec<Vec<String>> = (0..list.len())
        .map(|i| match list.object(i) {
            Ok(obj) => columns.iter().map(|(_, f)| cell(&obj, f)).collect(),
            Err(_) => vec![list.string(i).unwrap_or_default()],
        })
        .collect();
    let headers: Vec<&str> = columns.iter().map(|(h, _)| *h).collect();
    table(&headers, &rows);
}

/// An aligned table on stdout (the last column unpadded).
fn table(headers: &[&str], rows: &[Vec<String>]) {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, c) in widths.iter_mut().zip(row) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let last = cells.len().saturating_sub(1);
        let mut text = String::new();
        for (i, c) in cells.iter().enumerate() {
            if i == last {
                text.push_str(c);
            } else {
                text.push_str(&format!("{c:<w$}  ", w = widths[i]));
            }
        }
        say!("{}", text.trim_end());
    };
    line(headers.to_vec());
    for row in rows {
        line(row.iter().map(String::as_str).collect());
    }
}

/// Operations are strings: one per line, or `{"count", "operations"}`.
fn print_operations(o: &Output, list: &CmList, empty: &str) {
    let ops: Vec<String> = (0..list.len())
        .map(|i| list.string(i).unwrap_or_default())
        .collect();
    if o.json {
        o.print_json(&json!({ "count": ops.len(), "operations": ops }));
    } else if ops.is_empty() {
        o.note(empty);
    } else {
        for op in ops {
            say!("{op}");
        }
    }
}

const CARD_CERT_COLUMNS: Columns = &[
    ("template", "TemplateCommonName"),
    ("serial number", "SerialNumber"),
    ("thumbprint", "Thumbprint"),
    ("key history", "IsKeyHistory"),
];

const PROFILE_COLUMNS: Columns = &[
    ("profile", "Uuid"),
    ("status", "Status"),
    ("template", "ProfileTemplateUuid"),
    ("user", "AssignedUserUuid"),
];

/// What `--dry-run` prints: the method, the full URL and the body; nothing is sent.
fn dry_run(o: &Output, server: &str, method: &str, path: &str, body: Value) -> CmdResult {
    let url = ServerUrl::parse(server)?.api_url(path);
    if o.json {
        o.print_json(&json!({ "dry_run": true, "method": method, "url": url, "body": body }));
    } else {
        o.note("dry run: nothing was sent. This would be sent once:");
        say!("{method} {url}");
        say!(
            "{}",
            serde_json::to_string_pretty(&body).unwrap_or_default()
        );
    }
    Ok(exit::OK)
}

/// A uuid argument, checked before anything is sent (exit 2 when malformed).
fn guid(text: &str, what: &str) -> Result<Uuid, Failure> {
    Ok(parse_guid(text, what)?)
}

/// Appends what to do after an unknown outcome to the library's message.
fn with_hint(mut e: Error, hint: String) -> Failure {
    if e.status == Status::OutcomeUnknown {
        e.message.push_str("\n  ");
        e.message.push_str(&hint);
    }
    e.into()
}

/// `'text'` for a POSIX shell.
fn shell_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

/// The secret's length and a short SHA-256 fingerprint (never the secret).
fn fingerprint(secret: &[u8]) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, secret);
    format!(
        "sha256:{}",
        cm_smartcard::atr::to_hex(&digest.as_ref()[..8])
    )
}

// ---------------------------------------------------------------------------------------------------------
// Profile templates

/// A template given as its uuid or its name (looked up with `GET /profiletemplates`).
fn template_uuid(client: &CmClient, text: &str) -> Result<Uuid, Failure> {
    if let Ok(u) = parse_guid(text, "profile template") {
        return Ok(u);
    }
    let templates = client.list_profile_templates()?;
    let want = text.trim();
    let all: Vec<(String, Option<Uuid>)> = (0..templates.len())
        .filter_map(|i| templates.object(i).ok())
        .map(|t| (t.string("Name").unwrap_or_default(), t.guid("Uuid").ok()))
        .collect();
    let found: Vec<Uuid> = all
        .iter()
        .filter(|(name, _)| name.trim().eq_ignore_ascii_case(want))
        .filter_map(|(_, u)| *u)
        .collect();
    let names = all
        .iter()
        .map(|(n, _)| format!("'{}'", plain(n)))
        .collect::<Vec<_>>()
        .join(", ");
    match found.as_slice() {
        [one] => Ok(*one),
        [] => Err(Failure {
            exit: exit::NOT_FOUND,
            error: Error::new(
                Status::InvalidArgument,
                format!(
                    "no profile template is named '{}' (nor is it a uuid); the server lists: {}",
                    printable(want),
                    if names.is_empty() { "none" } else { &names }
                ),
            ),
        }),
        several => Err(Failure {
            exit: exit::FAILURE,
            error: Error::new(
                Status::InvalidArgument,
                format!(
                    "{} profile templates are named '{}'; give the uuid: {}",
                    several.len(),
                    printable(want),
                    several
                        .iter()
                        .map(Uuid::to_string)
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ),
        }),
    }
}

fn nonblank(text: &str, what: &str) -> Result<(), Failure> {
    if text.trim().is_empty() {
        return Err(Failure::usage(format!("the {what} is empty")));
    }
    Ok(())
}

/// Fields of the smart card configuration that are secrets: shown only with `--show`.
const SECRET_CONFIG_FIELDS: [&str; 1] = ["DefaultAdminKeyHex"];

pub fn template(o: &Output, cmd: TemplateCmd) -> CmdResult {
    match cmd {
        TemplateCmd::List { server } => {
            let list = client(o, &server)?.list_profile_templates()?;
            print_list(
                o,
                "templates",
                &list,
                &[
                    ("name", "Name"),
                    ("uuid", "Uuid"),
                    ("smart card", "IsSmartcardProfileTemplate"),
                    ("virtual", "IsVirtualSmartcardProfileTemplate"),
                    ("description", "Description"),
                ],
                "no profile templates",
            );
            done(o, list.warning.as_ref())
        }
        TemplateCmd::Policy {
            server,
            template,
            policy_type,
        } => {
            nonblank(&template, "profile template")?;
            let client = client(o, &server)?;
            let uuid = template_uuid(&client, &template)?;
            match client.profile_template_policy(&uuid.to_string(), &policy_type)? {
                Some(p) => {
                    print_object(o, "policy", &p);
                    done(o, p.warning.as_ref())
                }
                None => not_found(o, format!("CM has no profile template {uuid} (HTTP 204)")),
            }
        }
        TemplateCmd::Config {
            server,
            template,
            show,
        } => {
            nonblank(&template, "profile template")?;
            let client = client(o, &server)?;
            let uuid = template_uuid(&client, &template)?;
            match client.smartcard_config(&uuid.to_string())? {
                Some(mut c) => {
                    if !show {
                        hide_secret_fields(&mut c);
                    }
                    print_object(o, "configuration", &c);
                    wipe_json(&mut c.json);
                    done(o, c.warning.as_ref())
                }
                None => not_found(
                    o,
                    format!(
                        "CM has no smart card configuration for profile template {uuid} (HTTP 204: unknown \
                         template, or not a smart card template)"
                    ),
                ),
            }
        }
    }
}

/// Replaces each secret field's value by its length and fingerprint.
fn hide_secret_fields(c: &mut CmObject) {
    let Some(m) = c.json.as_object_mut() else {
        return;
    };
    for (k, v) in m.iter_mut() {
        if SECRET_CONFIG_FIELDS
            .iter()
            .any(|f| f.eq_ignore_ascii_case(k))
            && let Value::String(s) = v
        {
            // The fingerprint of the key's bytes, comparable with `smartcard admin-key`'s.
            let fp = match cm_smartcard::atr::decode_hex_text(s) {
                Ok(bytes) => fingerprint(&Zeroizing::new(bytes)),
                Err(_) => fingerprint(s.as_bytes()),
            };
            let hidden = format!("[hidden: {} hex digits, {fp}; --show prints it]", s.len());
            s.zeroize();
            *v = Value::String(hidden);
        }
    }
}

/// Wipes the strings of a JSON value that held secrets.
fn wipe_json(v: &mut Value) {
    match v {
        Value::String(s) => s.zeroize(),
        Value::Array(a) => a.iter_mut().for_each(wipe_json),
        Value::Object(m) => m.values_mut().for_each(wipe_json),
        _ => {}
    }
}

// ---------------------------------------------------------------------------------------------------------
// Requests

/// The spec from the arguments, checked; the template name to look up when one was given by name (the spec
/// then holds a placeholder uuid until it is resolved).
fn build_spec(a: &RequestSpecArgs) -> Result<(RequestSpec, Option<String>), Failure> {
    let mut spec = RequestSpec::new(&a.request_type)?;
    let mut name = None;
    if let Some(t) = &a.template {
        nonblank(t, "profile template")?;
        spec.profile_template = Some(match parse_guid(t, "profile template") {
            Ok(u) => u,
            Err(_) => {
                name = Some(t.clone());
                Uuid::nil()
            }
        });
    }
    spec.target_user = a
        .target
        .as_deref()
        .map(|t| guid(t, "target user"))
        .transpose()?;
    spec.smartcard = a
        .smartcard
        .as_deref()
        .map(|s| guid(s, "smartcard uuid"))
        .transpose()?;
    spec.comment = a.comment.clone();
    spec.priority = a.priority;
    if spec.profile_template.is_none() {
        if spec.request_type == "Enroll" {
            return Err(Failure::usage(
                "--type Enroll needs --template (the profile template's uuid or name)",
            ));
        }
        if spec.smartcard.is_none() {
            return Err(Failure::usage(format!(
                "--type {} needs --smartcard (the card it is about) or --template",
                spec.request_type
            )));
        }
    }
    spec.data_collection = a
        .data
        .iter()
        .map(|(n, v)| (n.clone(), Some(v.clone())))
        .collect();
    spec.validate()?;
    Ok((spec, name))
}

/// Resolves a template given by name (a read).
fn resolve_template(
    client: &CmClient,
    spec: &mut RequestSpec,
    name: Option<String>,
) -> Result<(), Failure> {
    if let Some(name) = name {
        spec.profile_template = Some(template_uuid(client, &name)?);
    }
    Ok(())
}

/// The `request find-created` command that repeats the reconcile of a create.
fn find_created_command(server: &str, spec: &RequestSpec, since: i64) -> String {
    let mut c = format!(
        "cm-smartcard request find-created --server {} --type {}",
        shell_quote(server),
        spec.request_type
    );
    for (opt, v) in [
        ("--template", spec.profile_template),
        ("--target", spec.target_user),
        ("--smartcard", spec.smartcard),
    ] {
        if let Some(u) = v {
            c.push_str(&format!(" {opt} {u}"));
        }
    }
    if !spec.comment.is_empty() {
        c.push_str(&format!(" --comment {}", shell_quote(&spec.comment)));
    }
    c.push_str(&format!(" --since {since}"));
    c
}

fn request_ids(list: &CmList) -> Vec<String> {
    (0..list.len())
        .filter_map(|i| list.object(i).ok())
        .map(|r| {
            r.guid("Uuid")
                .map(|u| u.to_string())
                .unwrap_or_else(|_| cell(&r, "Uuid"))
        })
        .collect()
}

pub fn create_request(
    o: &Output,
    server: ServerArgs,
    spec_args: RequestSpecArgs,
    dry: bool,
) -> CmdResult {
    let (mut spec, name) = build_spec(&spec_args)?;
    let client = client(o, &server)?;
    resolve_template(&client, &mut spec, name)?;
    if dry {
        let body: Value = serde_json::from_str(&spec.to_json()).unwrap_or(Value::Null);
        return dry_run(o, &server.server, "POST", "/requests", body);
    }
    let before = now_unix();
    match client.create_request(&spec) {
        Ok(created) => {
            let id = created
                .guid("Uuid")
                .map(|u| u.to_string())
                .unwrap_or_default();
            let uri = created.string("Uri").unwrap_or_default();
            if o.json {
                o.print_json(&json!({ "created": true, "request": id, "uri": uri }));
            } else {
                o.rows(&[
                    ("created", o.color(Tone::Good, "yes")),
                    ("request", id),
                    ("uri", uri),
                ]);
            }
            done(o, created.warning.as_ref())
        }
        // Unknown outcome, or a success answer whose body is unusable (created, id unknown): look for it.
        Err(e) if e.status == Status::OutcomeUnknown || (200..300).contains(&e.http_status) => {
            create_outcome_unknown(o, &client, &server.server, &spec, before, e)
        }
        Err(e) => Err(e.into()),
    }
}

/// After an unknown outcome (or a 2xx whose body is unusable): looks for the request (never resends) and says
/// what it found. The exit code stays the create's own (3 for an unknown outcome, 1 for an unusable answer):
/// the reconcile says whether to send it again.
fn create_outcome_unknown(
    o: &Output,
    client: &CmClient,
    server: &str,
    spec: &RequestSpec,
    before: i64,
    mut e: Error,
) -> CmdResult {
    let exit_code = crate::exit_code_for(e.status);
    let outcome = if e.status == Status::OutcomeUnknown {
        "unknown".to_string()
    } else {
        format!("HTTP {} with an unusable answer", e.http_status)
    };
    let again = find_created_command(server, spec, before);
    e.message.push_str(&format!(
        "\n  Looking for it now (never resending). To look again later: {again}"
    ));
    o.error_lines(&e);
    let (state, meaning, ids, reconcile_error) = match client.find_created_requests(spec, before) {
        Ok(list) => {
            let ids = request_ids(&list);
            let (state, meaning) = match ids.len() {
                0 => (
                    "not-created",
                    "no matching request was submitted: the create did not take effect; it may be sent again"
                        .to_string(),
                ),
                1 => (
                    "created",
                    "the request WAS created: use it; do not send the create again".to_string(),
                ),
                n => (
                    "ambiguous",
                    format!(
                        "{n} matching requests: the one sent is most likely among them (a unique --comment \
                         makes the match exact); do not send the create again"
                    ),
                ),
            };
            (state, meaning, ids, None)
        }
        Err(re) => {
            let label = "the reconcile failed too";
            eprintln!("{label}: {}", re.message);
            (
                "failed",
                format!("the reconcile could not run; run it later: {again}"),
                Vec::new(),
                Some(re),
            )
        }
    };
    if o.json {
        o.print_json(&json!({
            "error": error_json(&e),
            "exit_code": exit_code,
            "reconcile": {
                "state": state,
                "meaning": meaning,
                "since": before,
                "requests": ids,
                "error": reconcile_error.as_ref().map(error_json),
                "command": again,
            },
        }));
    } else {
        let tone = match state {
            "created" => Tone::Good,
            "not-created" => Tone::Warn,
            _ => Tone::Bad,
        };
        let mut rows = vec![
            ("outcome", o.color(Tone::Warn, &outcome)),
            ("reconcile", o.color(tone, state)),
            ("meaning", meaning),
        ];
        rows.extend(ids.into_iter().map(|id| ("request", id)));
        o.rows(&rows);
    }
    Ok(exit_code)
}

pub fn find_created(
    o: &Output,
    server: ServerArgs,
    spec_args: RequestSpecArgs,
    since: i64,
) -> CmdResult {
    let (mut spec, name) = build_spec(&spec_args)?;
    let client = client(o, &server)?;
    resolve_template(&client, &mut spec, name)?;
    let list = client.find_created_requests(&spec, since)?;
    print_list(
        o,
        "requests",
        &list,
        &[
            ("request", "Uuid"),
            ("status", "Status"),
            ("submitted", "Submitted"),
            ("comment", "Comment"),
        ],
        "no matching request: the create did not take effect and may be sent again",
    );
    done(o, list.warning.as_ref())
}

pub fn set_request_status(
    o: &Output,
    server: ServerArgs,
    id: String,
    status: String,
    dry: bool,
) -> CmdResult {
    let id = guid(&id, "request id")?;
    let status = enum_value(&status, &SETTABLE_REQUEST_STATUSES, "request status")?;
    let client = client(o, &server)?;
    if dry {
        return dry_run(
            o,
            &server.server,
            "PUT",
            &format!("/requests/{id}"),
            json!({ "status": status }),
        );
    }
    match client.set_request_status(&id.to_string(), status) {
        Ok(Some(r)) => {
            print_object(o, "request", &r);
            done(o, r.warning.as_ref())
        }
        Ok(None) => not_found(o, format!("CM has no request {id} (HTTP 204)")),
        Err(e) => Err(with_hint(
            e,
            format!(
                "Read it back before anything else: cm-smartcard request get --server {} {id}",
                shell_quote(&server.server)
            ),
        )),
    }
}

pub fn request_profiles(o: &Output, server: ServerArgs, id: String) -> CmdResult {
    let id = guid(&id, "request id")?;
    let list = client(o, &server)?.request_profiles(&id.to_string())?;
    print_list(
        o,
        "profiles",
        &list,
        PROFILE_COLUMNS,
        "the request has no profiles",
    );
    done(o, list.warning.as_ref())
}

// ---------------------------------------------------------------------------------------------------------
// Smart cards: secrets, status, operations, certificates

/// The card's ids and ATR, checked before anything is sent; with `--reader`, the card id and ATR read from the
/// card (a card without a usable id is refused). Returns (card id, ATR).
fn check_card(
    o: &Output,
    server: &ServerArgs,
    c: &CardSecretArgs,
) -> Result<(String, Option<String>), Failure> {
    guid(&c.request, "request id")?;
    guid(&c.smartcard, "smartcard uuid")?;
    if let Some(card_id) = &c.card_id {
        guid(card_id, "card id")?;
        if let Some(atr) = &c.atr {
            cm_smartcard::atr::normalize_atr(atr)?;
        }
        return Ok((card_id.clone(), c.atr.clone()));
    }
    let (card_id, atr) = read_card_in(o, server, &c.reader, c.byte_order)?;
    Ok((card_id, Some(atr)))
}

/// The card id and ATR of the card in `reader` (a card without a usable id is refused).
fn read_card_in(
    o: &Output,
    server: &ServerArgs,
    reader: &Option<String>,
    byte_order: ByteOrder,
) -> Result<(String, String), Failure> {
    let reader = crate::cards::reader_name(reader)?;
    crate::connect::config(server)?; // bad options before touching the card
    let reading = cm_smartcard::card::read_card(reader.as_deref(), byte_order.into())?;
    let name = reading.reader.to_string_lossy().into_owned();
    if let Some(w) = &reading.card_id.warning {
        return Err(Error::new(
            Status::CardIdNotFound,
            format!("the card in '{name}' has no usable card id: {w}"),
        )
        .into());
    }
    let atr = cm_smartcard::atr::to_hex(&reading.atr);
    if !o.json {
        o.note(&format!(
            "card in '{name}': card id {}, ATR {atr}",
            reading.card_id.guid
        ));
    }
    Ok((reading.card_id.guid, atr))
}

/// Prints a secret: hidden unless `show`. Keys get a SHA-256 fingerprint to compare; low-entropy secrets
/// (PINs) do not, since a hash of 8 digits is as good as the digits.
fn print_secret(
    o: &Output,
    what: &str,
    secret: &[u8],
    shown: &str,
    show: bool,
    with_fingerprint: bool,
) {
    let fp = with_fingerprint.then(|| fingerprint(secret));
    if o.json {
        let mut v = json!({ "length": secret.len(), "shown": show });
        if let Some(fp) = &fp {
            v["fingerprint"] = Value::String(fp.clone());
        }
        if show {
            v[what.replace(' ', "_")] = Value::String(shown.to_string());
        }
        o.print_json(&v);
        wipe_json(&mut v);
    } else {
        let unit = if with_fingerprint {
            "bytes"
        } else {
            "characters"
        };
        let mut value = Zeroizing::new(if show {
            shown.to_string()
        } else {
            format!("[hidden: {} {unit}; --show prints it]", secret.len())
        });
        let mut rows = vec![(what, std::mem::take(&mut *value))];
        if let Some(fp) = fp {
            rows.push(("fingerprint", fp));
        }
        o.rows(&rows);
        rows.iter_mut().for_each(|(_, v)| v.zeroize());
    }
}

/// A card challenge in hex (spaces and colons allowed) or base64; 8 bytes.
fn parse_challenge(text: &str) -> Result<Vec<u8>, Failure> {
    let compact: String = text
        .chars()
        .filter(|c| !c.is_whitespace() && *c != ':')
        .collect();
    if compact.is_empty() {
        return Err(Failure::usage("the challenge is empty"));
    }
    let bytes = if compact.len().is_multiple_of(2) && compact.chars().all(|c| c.is_ascii_hexdigit())
    {
        (0..compact.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&compact[i..i + 2], 16).unwrap_or_default())
            .collect()
    } else {
        let engine = base64::engine::GeneralPurpose::new(
            &base64::alphabet::STANDARD,
            base64::engine::GeneralPurposeConfig::new()
                .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
        );
        engine.decode(compact.as_bytes()).map_err(|_| {
            Failure::usage(format!(
                "the challenge '{}' is neither hex nor base64",
                printable(text)
            ))
        })?
    };
    if bytes.len() != 8 {
        return Err(Failure::usage(format!(
            "the challenge is {} bytes; a Base CSP admin challenge is 8 bytes (16 hex digits)",
            bytes.len()
        )));
    }
    Ok(bytes)
}

pub fn admin_key(o: &Output, server: ServerArgs, c: CardSecretArgs, show: bool) -> CmdResult {
    let (card_id, atr) = check_card(o, &server, &c)?;
    let client = client(o, &server)?;
    let (key, warning) = client.admin_key(&c.request, &c.smartcard, &card_id, atr.as_deref())?;
    let hex = Zeroizing::new(cm_smartcard::atr::to_hex(&key));
    print_secret(o, "admin key", &key, &hex, show, true);
    done(o, warning.as_ref())
}

pub fn auth_response(
    o: &Output,
    server: ServerArgs,
    c: CardSecretArgs,
    challenge: String,
    diversified: bool,
) -> CmdResult {
    let challenge = parse_challenge(&challenge)?;
    let (card_id, atr) = check_card(o, &server, &c)?;
    let client = client(o, &server)?;
    let (response, warning) = client.authentication_response(
        &c.request,
        &c.smartcard,
        &card_id,
        atr.as_deref(),
        &challenge,
        diversified,
    )?;
    let hex = cm_smartcard::atr::to_hex(&response);
    let b64 = base64::engine::general_purpose::STANDARD.encode(&response);
    let key = if diversified {
        "diversified"
    } else {
        "default"
    };
    if o.json {
        o.print_json(&json!({
            "challenge_hex": cm_smartcard::atr::to_hex(&challenge),
            "response_hex": hex,
            "response_base64": b64,
            "diversified": diversified,
        }));
    } else {
        o.rows(&[
            ("response", hex),
            ("base64", b64),
            ("challenge", cm_smartcard::atr::to_hex(&challenge)),
            ("admin key", key.to_string()),
        ]);
    }
    done(o, warning.as_ref())
}

#[allow(clippy::too_many_arguments)]
pub fn pin(
    o: &Output,
    server: ServerArgs,
    smartcard: String,
    request: Option<String>,
    mut card_id: Option<String>,
    mut atr: Option<String>,
    reader: Option<String>,
    byte_order: ByteOrder,
    show: bool,
) -> CmdResult {
    guid(&smartcard, "smartcard uuid")?;
    if let Some(r) = &request {
        guid(r, "request id")?;
    }
    if let Some(c) = &card_id {
        guid(c, "card id")?;
    }
    if let Some(a) = &atr {
        cm_smartcard::atr::normalize_atr(a)?;
    }
    if reader.is_some() {
        let (id, a) = read_card_in(o, &server, &reader, byte_order)?;
        (card_id, atr) = (Some(id), Some(a));
    }
    let client = client(o, &server)?;
    let (pin, warning) = client.server_proposed_pin(
        request.as_deref(),
        &smartcard,
        card_id.as_deref(),
        atr.as_deref(),
    )?;
    print_secret(o, "pin", pin.as_bytes(), &pin, show, false);
    done(o, warning.as_ref())
}

pub fn set_smartcard_status(
    o: &Output,
    server: ServerArgs,
    request: String,
    smartcard: String,
    status: String,
    dry: bool,
) -> CmdResult {
    let request = guid(&request, "request id")?;
    let smartcard = guid(&smartcard, "smartcard uuid")?;
    let status = enum_value(&status, &SMARTCARD_STATUSES, "smartcard status")?;
    let client = client(o, &server)?;
    if dry {
        return dry_run(
            o,
            &server.server,
            "PUT",
            &format!("/requests/{request}/smartcards/{smartcard}"),
            json!({ "status": status }),
        );
    }
    match client.set_smartcard_status(&request.to_string(), &smartcard.to_string(), status) {
        Ok(Some(card)) => {
            print_object(o, "smartcard", &card);
            done(o, card.warning.as_ref())
        }
        Ok(None) => not_found(
            o,
            format!("CM answered 204: no smartcard {smartcard} for request {request}"),
        ),
        Err(e) => Err(with_hint(
            e,
            format!(
                "Read the card back before anything else: cm-smartcard smartcard get --server {} {smartcard}",
                shell_quote(&server.server)
            ),
        )),
    }
}

pub fn operations(o: &Output, server: ServerArgs, owner: Owner, id: String) -> CmdResult {
    let what = match owner {
        Owner::Smartcard => "smartcard uuid",
        Owner::Profile => "profile uuid",
    };
    let id = guid(&id, what)?;
    let list = client(o, &server)?.operations(owner, &id.to_string())?;
    print_operations(o, &list, "CM allows no operations on it now");
    done(o, list.warning.as_ref())
}

pub fn certificates(o: &Output, server: ServerArgs, owner: Owner, id: String) -> CmdResult {
    let what = match owner {
        Owner::Smartcard => "smartcard uuid",
        Owner::Profile => "profile uuid",
    };
    let id = guid(&id, what)?;
    let list = client(o, &server)?.certificates(owner, &id.to_string())?;
    print_list(
        o,
        "certificates",
        &list,
        CARD_CERT_COLUMNS,
        "no certificates",
    );
    done(o, list.warning.as_ref())
}

pub fn user_certificates(o: &Output, server: ServerArgs) -> CmdResult {
    let list = client(o, &server)?.user_certificates()?;
    print_list(
        o,
        "certificates",
        &list,
        &[
            ("template", "TemplateCommonName"),
            ("serial number", "SerialNumber"),
            ("not after", "NotAfter"),
            ("status", "Status"),
            ("thumbprint", "Thumbprint"),
        ],
        "no certificates",
    );
    done(o, list.warning.as_ref())
}

// ---------------------------------------------------------------------------------------------------------
// Profiles

pub fn profile(o: &Output, cmd: ProfileCmd) -> CmdResult {
    match cmd {
        ProfileCmd::List { server, status } => {
            let list = client(o, &server)?.list_profiles(status.as_deref())?;
            print_list(o, "profiles", &list, PROFILE_COLUMNS, "no profiles");
            done(o, list.warning.as_ref())
        }
        ProfileCmd::Get { server, id } => {
            let id = guid(&id, "profile uuid")?;
            match client(o, &server)?.get_profile(&id.to_string())? {
                Some(p) => {
                    print_object(o, "profile", &p);
                    done(o, p.warning.as_ref())
                }
                None => not_found(o, format!("CM has no profile {id} (HTTP 204)")),
            }
        }
        ProfileCmd::Operations { server, id } => operations(o, server, Owner::Profile, id),
        ProfileCmd::Certificates { server, id } => certificates(o, server, Owner::Profile, id),
    }
}

// ---------------------------------------------------------------------------------------------------------
// Certificate requests

pub fn csr(o: &Output, cmd: CsrCmd) -> CmdResult {
    match cmd {
        CsrCmd::Options { server, request } => {
            let request = guid(&request, "request id")?;
            let list = client(o, &server)?.csr_options(&request.to_string())?;
            print_list(
                o,
                "options",
                &list,
                &[
                    ("subject", "Subject"),
                    ("algorithm", "KeyAlgorithmName"),
                    ("size", "KeySize"),
                    ("hash", "HashAlgorithmName"),
                    ("key usages", "KeyUsages"),
                    ("exportable", "Exportable"),
                    ("friendly name", "FriendlyName"),
                ],
                "no certificate requests to build: the server generates the keys (csr submit with no FILE)",
            );
            done(o, list.warning.as_ref())
        }
        CsrCmd::Submit {
            server,
            request,
            files,
            pfx_password_stdin,
            comments,
            out_dir,
            dry_run: dry,
        } => submit(
            o,
            server,
            request,
            files,
            pfx_password_stdin,
            comments,
            out_dir,
            dry,
        ),
    }
}

/// A PKCS#10 file: PEM (`-----BEGIN CERTIFICATE REQUEST-----`) or DER, checked to hold one ASN.1 SEQUENCE.
/// Returns the DER length and the form.
fn check_csr_file(path: &Path, bytes: &[u8]) -> Result<(usize, &'static str), Failure> {
    let bad = |why: &str| {
        Failure::from(Error::new(
            Status::InvalidFile,
            format!("'{}': {why}", path.display()),
        ))
    };
    let (der, form) = if bytes.trim_ascii_start().starts_with(b"-----BEGIN") {
        let text = std::str::from_utf8(bytes).map_err(|_| bad("the PEM text is not UTF-8"))?;
        let body: String = text
            .lines()
            .filter(|l| !l.trim_start().starts_with("-----"))
            .flat_map(|l| l.chars().filter(|c| !c.is_whitespace()))
            .collect();
        let der = base64::engine::general_purpose::STANDARD
            .decode(body.as_bytes())
            .map_err(|_| bad("the PEM body is not valid base64"))?;
        (der, "PEM")
    } else {
        (bytes.to_vec(), "DER")
    };
    if der_sequence_len(&der) != Some(der.len()) {
        return Err(bad(
            "not a PKCS#10 request (expected DER: one ASN.1 SEQUENCE, or PEM: -----BEGIN CERTIFICATE \
             REQUEST-----)",
        ));
    }
    Ok((der.len(), form))
}

/// The length of the DER SEQUENCE at the start of `der` (header included), when it is one.
fn der_sequence_len(der: &[u8]) -> Option<usize> {
    if der.first() != Some(&0x30) {
        return None;
    }
    let first = *der.get(1)?;
    if first < 0x80 {
        return Some(2 + usize::from(first));
    }
    let n = usize::from(first & 0x7f);
    if n == 0 || n > 4 {
        return None;
    }
    let len = der
        .get(2..2 + n)?
        .iter()
        .fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
    len.checked_add(2 + n)
}

/// The PFX password: stdin (when asked) or CM_PFX_PASSWORD; none otherwise.
fn pfx_password(from_stdin: bool) -> Result<Option<Zeroizing<String>>, Failure> {
    if from_stdin {
        let mut line = Zeroizing::new(String::new());
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .map_err(|e| Failure::usage(format!("cannot read the PFX password from stdin: {e}")))?;
        let trimmed = line.trim_end_matches(['\r', '\n']).len();
        line.truncate(trimmed);
        if line.is_empty() {
            return Err(Failure::usage("the PFX password read from stdin is empty"));
        }
        return Ok(Some(line));
    }
    Ok(std::env::var_os(PFX_PASSWORD_ENV)
        .and_then(|v| v.into_string().ok())
        .filter(|v| !v.is_empty())
        .map(Zeroizing::new))
}

/// A file name part from a template name: letters, digits, `.`, `-`, `_` only.
fn file_part(text: &str) -> String {
    let s: String = text
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._-".contains(c) {
                c
            } else {
                '_'
            }
        })
        .take(64)
        .collect();
    let s = s.trim_matches(['.', '_']).to_string();
    if s.is_empty() {
        "certificate".into()
    } else {
        s
    }
}

/// Writes `bytes` to a new file `<stem>.<ext>` in `dir` (never over an existing one: `-2`, `-3`, … are
/// added); PFX files are readable by the owner only.
fn write_new(dir: &Path, stem: &str, ext: &str, bytes: &[u8]) -> std::io::Result<PathBuf> {
    for n in 1..1000 {
        let name = if n == 1 {
            format!("{stem}.{ext}")
        } else {
            format!("{stem}-{n}.{ext}")
        };
        let path = dir.join(name);
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(if ext == "pfx" { 0o600 } else { 0o644 });
        }
        match options.open(&path) {
            Ok(mut f) => {
                f.write_all(bytes)?;
                f.sync_all()?;
                return Ok(path);
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
    Err(std::io::Error::other("too many files with that name"))
}

/// Checks that files can be created in `dir` before the certificates (returned only once) are asked for.
fn check_out_dir(dir: &Path) -> Result<(), Failure> {
    if !dir.is_dir() {
        return Err(Failure::usage(format!(
            "--out-dir '{}' is not a directory",
            dir.display()
        )));
    }
    let probe = dir.join(format!(".cm-smartcard-probe-{}", std::process::id()));
    std::fs::File::create(&probe)
        .and_then(|_| std::fs::remove_file(&probe))
        .map_err(|e| {
            Failure::usage(format!(
                "cannot create files in --out-dir '{}': {e}",
                dir.display()
            ))
        })
}

#[allow(clippy::too_many_arguments)]
fn submit(
    o: &Output,
    server: ServerArgs,
    request: String,
    files: Vec<PathBuf>,
    pfx_password_stdin: bool,
    comments: Option<String>,
    out_dir: PathBuf,
    dry: bool,
) -> CmdResult {
    let request = guid(&request, "request id")?;
    if pfx_password_stdin && (server.password_stdin || server.token_stdin) {
        return Err(Failure::usage(
            "--pfx-password-stdin and --password-stdin/--token-stdin cannot both read stdin",
        ));
    }
    let mut csrs = Vec::with_capacity(files.len());
    let mut described = Vec::with_capacity(files.len());
    for path in &files {
        let bytes = std::fs::read(path).map_err(|e| {
            Failure::from(Error::new(
                Status::InvalidFile,
                format!("cannot read '{}': {e}", path.display()),
            ))
        })?;
        let (der_len, form) = check_csr_file(path, &bytes)?;
        described.push(
            json!({ "file": path.display().to_string(), "form": form, "der_bytes": der_len }),
        );
        csrs.push(bytes);
    }
    check_out_dir(&out_dir)?;
    let client = client(o, &server)?;
    let password = pfx_password(pfx_password_stdin)?;
    if dry {
        let body = json!({
            "pfxpassword": if password.is_some() { "[redacted]" } else { "" },
            "certificaterequests": described,
            "comments": comments.clone().unwrap_or_default(),
        });
        return dry_run(
            o,
            &server.server,
            "POST",
            &format!("/requests/{request}/certificatedata"),
            body,
        );
    }
    if files.is_empty() && password.is_none() {
        o.note(&format!(
            "note: no PFX password ({PFX_PASSWORD_ENV} or --pfx-password-stdin): server-generated keys come back \
             under an empty password"
        ));
    }
    let refs: Vec<&[u8]> = csrs.iter().map(Vec::as_slice).collect();
    let certs = client
        .submit_certificate_requests(
            &request.to_string(),
            &refs,
            password.as_ref().map(|p| p.as_str()),
            comments.as_deref(),
        )
        .map_err(|e| {
            with_hint(
                e,
                format!(
                    "CM returns certificate data only ONCE: do not submit again. See what was issued: \
                     cm-smartcard request get --server {s} {request}, then cm-smartcard smartcard certificates \
                     --server {s} <its smartcard>",
                    s = shell_quote(&server.server)
                ),
            )
        })?;
    drop(password);
    save_certificates(o, &request, &certs, &out_dir)
}

/// Writes each returned certificate (PKCS#7 → .p7b, PFX → .pfx) and prints a summary. An item that cannot
/// be written is printed as JSON on stdout instead, so that nothing CM returned once is lost.
fn save_certificates(o: &Output, request: &Uuid, certs: &CmList, dir: &Path) -> CmdResult {
    let mut summary = Vec::new();
    let mut unsaved = Vec::new();
    for i in 0..certs.len() {
        let Ok(item) = certs.object(i) else {
            unsaved.push(certs.items[i].clone());
            continue;
        };
        let template = item.string("TemplateCommonName").unwrap_or_default();
        let stem = format!("{request}-{}-{}", i + 1, file_part(&template));
        let mut files = Vec::new();
        let mut failed = false;
        for (field, ext) in [("Pkcs7", "p7b"), ("Pfx", "pfx")] {
            let Ok(mut bytes) = item.bytes(field) else {
                continue;
            };
            if bytes.is_empty() {
                continue;
            }
            match write_new(dir, &stem, ext, &bytes) {
                Ok(path) => files.push(json!({
                    "kind": ext,
                    "file": path.display().to_string(),
                    "bytes": bytes.len(),
                })),
                Err(e) => {
                    eprintln!(
                        "error: cannot write {stem}.{ext} in '{}': {e}; its JSON follows on stdout",
                        dir.display()
                    );
                    failed = true;
                }
            }
            bytes.zeroize();
        }
        if failed {
            unsaved.push(item.json.clone());
        }
        summary.push(json!({
            "index": i + 1,
            "template": template,
            "certificate_id": item.string("CertificateId").ok(),
            "is_key_history": item.bool("isKeyHistory").ok(),
            "is_server_generated": item.bool("isServerGenerated").ok(),
            "error": item.string("Error").ok().filter(|e| !e.is_empty()),
            "files": files,
        }));
    }
    if o.json {
        o.print_json(&json!({
            "request": request.to_string(),
            "count": certs.len(),
            "certificates": summary,
            "unsaved": unsaved,
        }));
    } else {
        if certs.is_empty() {
            o.note("CM returned no certificates");
        }
        let rows: Vec<Vec<String>> = summary
            .iter()
            .map(|s| {
                let files = s["files"]
                    .as_array()
                    .map(|f| {
                        f.iter()
                            .filter_map(|f| f["file"].as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    })
                    .unwrap_or_default();
                vec![
                    s["index"].to_string(),
                    s["template"].as_str().unwrap_or("-").to_string(),
                    match s["is_key_history"].as_bool() {
                        Some(true) => "yes".into(),
                        _ => "no".into(),
                    },
                    s["error"].as_str().unwrap_or("-").to_string(),
                    if files.is_empty() { "-".into() } else { files },
                ]
            })
            .collect();
        if !rows.is_empty() {
            table(&["#", "template", "key history", "error", "file"], &rows);
        }
        for u in &unsaved {
            say!("{}", serde_json::to_string(u).unwrap_or_default());
        }
    }
    if !unsaved.is_empty() {
        // Not a usage error (the request went through): exit 1.
        return Err(Failure {
            exit: exit::FAILURE,
            error: Error::new(
                Status::InvalidFile,
                format!(
                    "{} of {} returned certificates could not be written to '{}'; their JSON (base64 \
                     Pkcs7/Pfx) was printed on stdout: keep it, CM returns certificate data only once",
                    unsaved.len(),
                    certs.len(),
                    dir.display()
                ),
            ),
        });
    }
    done(o, certs.warning.as_ref())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenges_in_hex_or_base64_of_8_bytes() {
        let want = vec![0xd6, 0x11, 0x43, 0xf9, 0xcc, 0xff, 0xd2, 0xca];
        assert_eq!(parse_challenge("d61143f9ccffd2ca").unwrap(), want);
        assert_eq!(parse_challenge("D6:11:43:F9:CC:FF:D2:CA").unwrap(), want);
        assert_eq!(parse_challenge("d6 11 43 f9 cc ff d2 ca").unwrap(), want);
        assert_eq!(parse_challenge("1hFD+cz/0so=").unwrap(), want);
        assert_eq!(parse_challenge("1hFD+cz/0so").unwrap(), want);
        for bad in ["", "CFAA62118BBD25", "zz", "1hFD+cz/0so=AAAA", "%%%"] {
            assert_eq!(parse_challenge(bad).unwrap_err().exit, exit::USAGE, "{bad}");
        }
    }

    #[test]
    fn csr_files_are_der_or_pem_sequences() {
        let der: Vec<u8> = [&[0x30u8, 0x81, 0x50][..], &[7u8; 0x50][..]].concat();
        let p = Path::new("x.csr");
        assert_eq!(check_csr_file(p, &der).unwrap(), (0x53, "DER"));
        let pem = format!(
            "-----BEGIN CERTIFICATE REQUEST-----\n{}\n-----END CERTIFICATE REQUEST-----\n",
            base64::engine::general_purpose::STANDARD.encode(&der)
        );
        assert_eq!(check_csr_file(p, pem.as_bytes()).unwrap(), (0x53, "PEM"));
        for bad in [
            &b""[..],
            b"\x30\x05\x01",
            b"hello",
            b"-----BEGIN X-----\n%%%\n",
        ] {
            assert_eq!(check_csr_file(p, bad).unwrap_err().exit, exit::USAGE);
        }
    }

    #[test]
    fn secret_config_fields_are_hidden_with_the_key_fingerprint() {
        let mut c = CmObject::new(
            cm_smartcard::cm::ObjectKind::SmartcardConfig,
            json!({"defaultadminkeyhex": "0A0B0C", "DiversifyAdminKey": true}),
        );
        hide_secret_fields(&mut c);
        let hidden = c.json["defaultadminkeyhex"].as_str().unwrap();
        assert!(!hidden.to_lowercase().contains("0a0b0c"), "{hidden}");
        assert!(hidden.contains(&fingerprint(&[10, 11, 12])), "{hidden}");
        assert_eq!(c.json["DiversifyAdminKey"], true);
    }

    #[test]
    fn server_text_cannot_drive_the_terminal() {
        assert_eq!(plain("a\x1b[31mb\nc"), "a?[31mb?c");
        assert_eq!(plain("Lecteur é"), "Lecteur é");
    }

    #[test]
    fn file_names_and_quotes_are_safe() {
        assert_eq!(file_part("Smartcard User/Sign"), "Smartcard_User_Sign");
        assert_eq!(file_part("../.."), "certificate");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert!(fingerprint(b"k").starts_with("sha256:") && fingerprint(b"k").len() == 23);
    }
}
