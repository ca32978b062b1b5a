//! The card commands: readers, atr, card-id, wait, parse-atr.

use crate::args::{CardIdArgs, ParseAtrArgs, ReaderArg, WaitArgs};
use crate::out::Output;
use crate::{CmdResult, Failure, exit};
use cm_smartcard::atr::{self, AtrInfo};
use cm_smartcard::card::{self, CardIdInfo, CardIdSource, GuidByteOrder};
use serde_json::json;
use std::ffi::CString;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// A reader name as the core takes it (a NUL inside is a usage error).
pub fn reader_name(reader: &Option<String>) -> Result<Option<CString>, Failure> {
    reader
        .as_deref()
        .map(|r| {
            if r.is_empty() {
                return Err(Failure::usage("the reader name is empty"));
            }
            CString::new(r).map_err(|_| Failure::usage("the reader name contains a NUL character"))
        })
        .transpose()
}

pub fn readers(o: &Output) -> CmdResult {
    let list = card::list_readers()?;
    if o.json {
        let items: Vec<_> = list
            .iter()
            .map(|r| {
                json!({
                    "name": r.name_lossy(),
                    "card_present": r.card_present,
                    "atr": r.atr.as_deref().map(atr::to_hex),
                    "mute": r.mute,
                    "exclusive": r.exclusive,
                })
            })
            .collect();
        o.print_json(&json!({ "readers": items }));
        return Ok(exit::OK);
    }
    if list.is_empty() {
        say!("no smart-card reader is connected");
        return Ok(exit::OK);
    }
    let width = list
        .iter()
        .map(|r| r.name_lossy().chars().count())
        .max()
        .unwrap_or(0)
        .max(6);
    say!("{:<width$}  {:<5}  ATR", "READER", "CARD");
    for r in &list {
        let card = if r.mute {
            o.color(crate::out::Tone::Warn, "mute ")
        } else if r.card_present {
            o.color(crate::out::Tone::Good, "yes  ")
        } else {
            o.color(crate::out::Tone::Dim, "no   ")
        };
        let mut atr_text = r.atr.as_deref().map(atr::to_hex).unwrap_or_default();
        if r.exclusive {
            atr_text.push_str("  (in exclusive use by another program)");
        }
        say!("{:<width$}  {card}  {atr_text}", r.name_lossy());
    }
    Ok(exit::OK)
}

pub fn atr(o: &Output, a: ReaderArg) -> CmdResult {
    let reader = reader_name(&a.reader)?;
    let (name, bytes) = card::read_atr(reader.as_deref())?;
    let name = name.to_string_lossy().into_owned();
    if o.json {
        o.print_json(&json!({ "reader": name, "atr": atr::to_hex(&bytes) }));
    } else {
        o.rows(&[("reader", name), ("atr", atr::to_hex(&bytes))]);
    }
    Ok(exit::OK)
}

fn source_name(s: CardIdSource) -> &'static str {
    match s {
        CardIdSource::Gids => "gids",
        CardIdSource::PivGuid => "piv-guid",
        CardIdSource::PivFascn => "piv-fascn",
        CardIdSource::PivEmpty => "piv-empty",
    }
}

fn order_name(o: GuidByteOrder) -> &'static str {
    match o {
        GuidByteOrder::Windows => "windows",
        GuidByteOrder::Rfc4122 => "rfc4122",
    }
}

pub fn card_id_json(reader: &str, id: &CardIdInfo) -> serde_json::Value {
    let other = match id.order {
        GuidByteOrder::Windows => GuidByteOrder::Rfc4122,
        GuidByteOrder::Rfc4122 => GuidByteOrder::Windows,
    };
    json!({
        "reader": reader,
        "card_id": id.guid,
        "byte_order": order_name(id.order),
        "source": source_name(id.source),
        "bytes": atr::to_hex(&id.bytes),
        "card_id_other_order": id.guid_in(other),
        "warning": id.warning,
    })
}

pub fn card_id(o: &Output, a: CardIdArgs) -> CmdResult {
    let reader = reader_name(&a.reader)?;
    let order: GuidByteOrder = a.byte_order.into();
    // Read through read_card: it reports the reader actually used.
    let reading = card::read_card(reader.as_deref(), order)?;
    let name = reading.reader.to_string_lossy().into_owned();
    let id = &reading.card_id;
    if o.json {
        o.print_json(&card_id_json(&name, id));
    } else {
        let other = match order {
            GuidByteOrder::Windows => GuidByteOrder::Rfc4122,
            GuidByteOrder::Rfc4122 => GuidByteOrder::Windows,
        };
        o.rows(&[
            ("reader", name),
            ("card id", id.guid.clone()),
            ("byte order", order_name(order).to_string()),
            ("source", source_name(id.source).to_string()),
            ("raw bytes", atr::to_hex(&id.bytes)),
            (&format!("as {}", order_name(other)), id.guid_in(other)),
        ]);
    }
    if let Some(w) = &id.warning {
        eprintln!("warning: {w}");
    }
    Ok(exit::OK)
}

static CANCELLED: AtomicBool = AtomicBool::new(false);
static WAIT_DONE: AtomicBool = AtomicBool::new(false);

pub fn wait(o: &Output, a: WaitArgs) -> CmdResult {
    let reader = reader_name(&a.reader)?;
    // Ctrl-C: the `ctrlc` crate runs this on its own thread (not in signal context), so it may call into
    // PC/SC. It keeps cancelling until the wait has ended: a Ctrl-C that lands before the wait registered
    // its context is not lost.
    ctrlc::set_handler(|| {
        CANCELLED.store(true, Ordering::SeqCst);
        while !WAIT_DONE.load(Ordering::SeqCst) {
            card::cancel_waits();
            std::thread::sleep(Duration::from_millis(50));
        }
    })
    .map_err(|e| Failure {
        exit: exit::FAILURE,
        error: cm_smartcard::Error::new(
            cm_smartcard::Status::Internal,
            format!("cannot install the Ctrl-C handler: {e}"),
        ),
    })?;
    let what = a.reader.as_deref().unwrap_or("any reader");
    let limit = a
        .timeout
        .map(|t| format!(" (at most {:.0} s)", t.as_secs_f64().ceil()))
        .unwrap_or_default();
    o.note(&format!(
        "waiting for a card in {what}{limit}; Ctrl-C cancels…"
    ));
    let result = card::wait_for_card(reader.as_deref(), a.timeout);
    WAIT_DONE.store(true, Ordering::SeqCst);
    let name = match result {
        Ok(name) => name.to_string_lossy().into_owned(),
        Err(e) if CANCELLED.load(Ordering::SeqCst) => {
            o.note("cancelled");
            if o.json {
                o.print_json(&json!({ "cancelled": true, "error": crate::out::error_json(&e) }));
            }
            return Ok(exit::CANCELLED);
        }
        Err(e) => return Err(e.into()),
    };
    if o.json {
        o.print_json(&json!({ "reader": name }));
    } else {
        o.rows(&[("card present in", name)]);
    }
    Ok(exit::OK)
}

pub fn parse_atr(o: &Output, a: ParseAtrArgs) -> CmdResult {
    let bytes = atr::decode_hex_text(&a.atr)?;
    let info = AtrInfo::parse(&bytes)?;
    let protocols: Vec<String> = info.protocols.iter().map(|t| format!("T={t}")).collect();
    let convention = match info.ts {
        0x3B => "direct (3B)",
        0x3F => "inverse (3F)",
        _ => "invalid",
    };
    if o.json {
        o.print_json(&json!({
            "atr": atr::to_hex(&info.bytes),
            "length": info.bytes.len(),
            "convention": convention,
            "protocols": protocols,
            "historical_bytes": atr::to_hex(&info.historical_bytes),
            "historical_text": printable_ascii(&info.historical_bytes),
            "tck": info.tck.map(|t| format!("{t:02x}")),
            "tck_valid": info.tck_valid,
            "tck_required": info.tck_required,
            "expected_length": info.expected_len,
            "well_formed": info.is_well_formed(),
            "problems": info.problems,
        }));
        return Ok(exit::OK);
    }
    let tck = match (info.tck, info.tck_valid) {
        (Some(t), Some(true)) => format!("{t:02x} (valid)"),
        (Some(t), _) => format!("{t:02x} (INVALID checksum)"),
        (None, _) if info.tck_required => "missing (required)".to_string(),
        (None, _) => "none (not required for T=0 only)".to_string(),
    };
    let verdict = if info.is_well_formed() {
        o.color(crate::out::Tone::Good, "well formed")
    } else {
        o.color(crate::out::Tone::Bad, "NOT well formed")
    };
    let mut rows = vec![
        ("atr", atr::to_hex(&info.bytes)),
        (
            "length",
            format!(
                "{} bytes (structure implies {})",
                info.bytes.len(),
                info.expected_len
            ),
        ),
        ("convention", convention.to_string()),
        ("protocols", protocols.join(", ")),
        (
            "historical bytes",
            format!(
                "{} {}",
                atr::to_hex(&info.historical_bytes),
                printable_ascii(&info.historical_bytes)
                    .map(|t| format!("(\"{t}\")"))
                    .unwrap_or_default()
            )
            .trim_end()
            .to_string(),
        ),
        ("tck", tck),
        ("verdict", verdict),
    ];
    for p in &info.problems {
        rows.push(("problem", p.clone()));
    }
    o.rows(&rows);
    Ok(exit::OK)
}

/// The historical bytes as text when they are printable ASCII (many cards put their name there).
fn printable_ascii(bytes: &[u8]) -> Option<String> {
    let text: String = bytes
        .iter()
        .filter(|b| b.is_ascii_graphic() || **b == b' ')
        .map(|&b| b as char)
        .collect();
    (text.len() >= 3 && text.len() * 2 >= bytes.len()).then_some(text)
}
