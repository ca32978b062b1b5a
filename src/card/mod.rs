//! Reading the card: readers, ATR, minidriver card ID, and waiting for a card. Pure Rust over the
//! `pcsc` crate (PC/SC: pcsc-lite on Linux/macOS, WinSCard on Windows); no FFI types here.
//!
//! Rules every function follows:
//! * **One PC/SC context per process** for card operations (waits have their own), kept between
//!   calls. A context invalidated by a pcscd restart (or Windows' SCardSvr stopping) is replaced and the
//!   operation retried once, transparently; while the service is down the call fails with
//!   [`Status::PcscNoService`] and works again as soon as the service is back.
//! * **One card operation at a time per process** (see [`serial`]): libpcsclite 1.9.9 crashes when
//!   threads connect and disconnect concurrently. Blocking waits and their cancellation stay outside.
//! * **Few pcscd round trips**: a named reader is connected to directly (the reader list is read only
//!   when that fails); lists and `SCardStatus` use fixed buffers, without a size query.
//! * **Shared mode only**, never exclusive; the connection is closed with `SCARD_LEAVE_CARD` (RAII),
//!   so other applications' sessions are not reset.
//! * **ATR via `SCardStatus`** (never `SCardGetAttrib`, which some readers do not support).
//! * APDU sequences run inside `SCardBeginTransaction`. A card reset by another application
//!   (`SCARD_W_RESET_CARD`) is reconnected and the operation retried once, silently. After a failed
//!   transmit the card's status is checked to tell "card removed" from other failures.
//! * Every PC/SC failure maps to its own [`Status`] with an English message saying what to do; the
//!   raw SCARD code is kept in [`Error::pcsc_code`](crate::Error::pcsc_code) and quoted in hex.
//!
//! **Reader names** are byte strings ([`CString`]): they need not be UTF-8 and are passed back to
//! PC/SC byte-exact; messages show them lossily. A reader is selected by its **exact name**; when no
//! reader has exactly that name, a **case-insensitive substring** that matches exactly one reader is
//! accepted (pcsc-lite appends " 00 00"-style indices that depend on enumeration order).
//! `None` and the **empty name** both mean "the first reader that holds a (non-mute) card" (PowerShell
//! and .NET turn a missing string into "").

mod apdu;
mod cardid;
mod errors;
mod serial;
mod wait;
// Windows: reader names through WinSCard's wide (UTF-16) functions; a drop-in for the `pcsc` crate.
#[cfg(windows)]
mod winscard_w;
#[cfg(windows)]
use winscard_w as pcsc;

pub use cardid::{CardIdInfo, CardIdSource, GuidByteOrder};
pub use wait::{cancel_waits, wait_for_card};

use crate::{Error, Result, Status};
use apdu::{Fail, Transmit};
use errors::lossy;
use pcsc::{Context, Disposition, Protocols, ReaderState, ShareMode, State};
use serial::with_context;
use std::ffi::{CStr, CString};
use std::time::{Duration, Instant};

/// One reader as seen by [`list_readers`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReaderInfo {
    /// The reader name, byte-exact as PC/SC reports it (not necessarily UTF-8).
    pub name: CString,
    /// A card is present (it may still be mute; see `mute`).
    pub card_present: bool,
    /// The card's ATR, when a card is present and the reader reported one.
    pub atr: Option<Vec<u8>>,
    /// The card does not answer (`SCARD_STATE_MUTE`).
    pub mute: bool,
    /// Another application holds the card exclusively (`SCARD_STATE_EXCLUSIVE`).
    pub exclusive: bool,
}

impl ReaderInfo {
    /// The name for display (invalid UTF-8 replaced by U+FFFD).
    pub fn name_lossy(&self) -> String {
        lossy(&self.name)
    }
}

/// What [`read_card`] reads in one connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CardReading {
    /// The reader that holds the card.
    pub reader: CString,
    /// The ATR, exactly as PC/SC returned it (1..=33 bytes).
    pub atr: Vec<u8>,
    /// The minidriver card ID.
    pub card_id: CardIdInfo,
}

pub(crate) fn establish() -> Result<Context> {
    Context::establish(pcsc::Scope::User).map_err(|e| errors::map(e, None))
}

/// `None` or an empty name: no reader was named (use the first reader holding a card).
pub(crate) fn named(reader: Option<&CStr>) -> Option<&CStr> {
    reader.filter(|r| !r.is_empty())
}

/// Room for the reader list in one `SCardListReaders` (a few readers of ~30 bytes each); a longer
/// list is retried with the size PC/SC asks for.
const LIST_BUFFER: usize = 1024;
/// Room for the reader name in `SCardStatus` (pcsc-lite's MAX_READERNAME is 128; Windows' names are
/// longer but still far below this).
const STATUS_NAME_BUFFER: usize = 1024;
/// Room for an ATR: 33 bytes per ISO 7816-3, 36 in Windows' structures.
const ATR_BUFFER: usize = 64;

/// All reader names in one `SCardListReaders`; an empty list when there is none.
pub(crate) fn list_names(ctx: &Context) -> Result<Vec<CString>> {
    let mut first = [0u8; LIST_BUFFER];
    let mut grown = Vec::new();
    let mut last = pcsc::Error::InsufficientBuffer;
    for attempt in 0..3 {
        let buf: &mut [u8] = if attempt == 0 { &mut first } else { &mut grown };
        match ctx.list_readers(buf).map(drop) {
            Ok(()) => return Ok(split_multi_string(buf)),
            Err(pcsc::Error::NoReadersAvailable) => return Ok(Vec::new()),
            // More readers than the buffer holds, or the list grew meanwhile (OpenSC#2078).
            Err(pcsc::Error::InsufficientBuffer) => {
                let needed = ctx.list_readers_len().unwrap_or(2 * LIST_BUFFER);
                grown = vec![0u8; needed.max(grown.len()) + 256];
            }
            Err(e) => {
                last = e;
                break;
            }
        }
    }
    Err(errors::map(last, None))
}

/// The names in a PC/SC multi-string ("a\0b\0\0"), stopping at the first empty one.
fn split_multi_string(buf: &[u8]) -> Vec<CString> {
    buf.split(|&b| b == 0)
        .take_while(|name| !name.is_empty())
        .filter_map(|name| CString::new(name).ok())
        .collect()
}

fn no_readers() -> Error {
    errors::map(pcsc::Error::NoReadersAvailable, None)
}

/// Current state of the given readers (non-blocking `SCardGetStatusChange`).
fn states_of(ctx: &Context, names: Vec<CString>) -> Result<Vec<ReaderState>> {
    let mut states: Vec<ReaderState> = names
        .into_iter()
        .map(|n| ReaderState::new(n, State::UNAWARE))
        .collect();
    if states.is_empty() {
        return Ok(states);
    }
    match ctx.get_status_change(Duration::ZERO, &mut states) {
        Ok(()) | Err(pcsc::Error::Timeout) => Ok(states),
        Err(e) => Err(errors::map(e, None)),
    }
}

/// Chooses the reader named `wanted` among `names`: exact match, else the single case-insensitive
/// substring match.
fn resolve_in(names: &[CString], wanted: &CStr) -> Result<CString> {
    if names.is_empty() {
        return Err(no_readers().context(format!("Reader '{}' not found", lossy(wanted))));
    }
    if let Some(n) = names.iter().find(|n| n.as_c_str() == wanted) {
        return Ok(n.clone());
    }
    let needle = lossy(wanted).to_lowercase();
    let matches: Vec<&CString> = if needle.is_empty() {
        Vec::new()
    } else {
        names
            .iter()
            .filter(|n| lossy(n).to_lowercase().contains(&needle))
            .collect()
    };
    let refs: Vec<&CStr> = names.iter().map(|n| n.as_c_str()).collect();
    match matches.as_slice() {
        [one] => Ok((*one).clone()),
        [] => Err(errors::unknown_reader(wanted, &refs, None)),
        several => {
            let code = pcsc::Error::UnknownReader as u32;
            Err(Error::new(
                Status::PcscUnknownReader,
                format!(
                    "Reader name '{}' matches several readers: {}. Give the full name. [SCARD 0x{code:08X}]",
                    lossy(wanted),
                    errors::list_names(several.iter().map(|n| n.as_c_str()))
                ),
            )
            .with_pcsc_code(code))
        }
    }
}

/// Chooses the reader named `wanted` from the current reader list (see [`resolve_in`]).
pub(crate) fn resolve_reader(ctx: &Context, wanted: &CStr) -> Result<CString> {
    resolve_in(&list_names(ctx)?, wanted)
}

/// The first reader holding a (non-mute) card.
fn first_reader_with_card(ctx: &Context) -> Result<CString> {
    let names = list_names(ctx)?;
    if names.is_empty() {
        return Err(no_readers());
    }
    let states = states_of(ctx, names)?;
    if let Some(s) = states.iter().find(|s| {
        let st = s.event_state();
        st.contains(State::PRESENT) && !st.contains(State::MUTE)
    }) {
        return Ok(s.name().to_owned());
    }
    if let Some(s) = states
        .iter()
        .find(|s| s.event_state().contains(State::MUTE))
    {
        return Err(errors::map(pcsc::Error::UnresponsiveCard, Some(s.name())));
    }
    let code = pcsc::Error::NoSmartcard as u32;
    Err(Error::new(
        Status::PcscNoCard,
        format!(
            "No card in any reader (readers: {}). Insert the card. [SCARD 0x{code:08X}]",
            errors::list_names(states.iter().map(|s| s.name()))
        ),
    )
    .with_pcsc_code(code))
}

/// A shared connection that is always closed with `SCARD_LEAVE_CARD`.
struct Conn {
    card: Option<pcsc::Card>,
    reader: CString,
}

impl Conn {
    /// Connects to `reader` (`None` or empty: the first reader holding a card). A named reader is tried
    /// directly; only when PC/SC does not know that exact name is the list read to resolve it.
    fn open(ctx: &Context, reader: Option<&CStr>) -> Result<Conn> {
        let Some(wanted) = named(reader) else {
            let name = first_reader_with_card(ctx)?;
            return Conn::open_exact(ctx, name);
        };
        match Conn::connect(ctx, wanted) {
            Ok(card) => Ok(Conn {
                card: Some(card),
                reader: wanted.to_owned(),
            }),
            // Not an exact name (pcsc-lite refuses names over 128 bytes as an invalid value).
            Err(pcsc::Error::UnknownReader | pcsc::Error::InvalidValue) => {
                let name = resolve_reader(ctx, wanted)?;
                Conn::open_exact(ctx, name)
            }
            Err(e) => Err(errors::map(e, Some(wanted))),
        }
    }

    fn connect(ctx: &Context, reader: &CStr) -> std::result::Result<pcsc::Card, pcsc::Error> {
        ctx.connect(reader, ShareMode::Shared, Protocols::ANY)
    }

    /// Connects to a name taken from the reader list.
    fn open_exact(ctx: &Context, reader: CString) -> Result<Conn> {
        match Conn::connect(ctx, &reader) {
            Ok(card) => Ok(Conn {
                card: Some(card),
                reader,
            }),
            // The reader left between listing and connecting.
            Err(pcsc::Error::UnknownReader) => {
                let names = list_names(ctx).unwrap_or_default();
                let refs: Vec<&CStr> = names.iter().map(|n| n.as_c_str()).collect();
                Err(errors::unknown_reader(&reader, &refs, None))
            }
            Err(e) => Err(errors::map(e, Some(&reader))),
        }
    }

    fn card(&mut self) -> &mut pcsc::Card {
        self.card.as_mut().expect("connection is open until drop")
    }

    fn reconnect(&mut self) -> Result<()> {
        let reader = self.reader.clone();
        self.card()
            .reconnect(ShareMode::Shared, Protocols::ANY, Disposition::LeaveCard)
            .map_err(|e| errors::map(e, Some(&reader)))
    }

    /// One `SCardStatus` with fixed buffers: (card absent, ATR).
    fn status(&mut self) -> std::result::Result<(bool, Vec<u8>), pcsc::Error> {
        let card = self.card();
        let mut names = [0u8; STATUS_NAME_BUFFER];
        let mut atr = [0u8; ATR_BUFFER];
        let fixed = card
            .status2(&mut names, &mut atr)
            .map(|s| (s.status().contains(pcsc::Status::ABSENT), s.atr().to_vec()));
        match fixed {
            // A reader name longer than any seen so far: ask PC/SC for the sizes.
            Err(pcsc::Error::InsufficientBuffer) => card
                .status2_owned()
                .map(|s| (s.status().contains(pcsc::Status::ABSENT), s.atr().to_vec())),
            other => other,
        }
    }

    /// The ATR through `SCardStatus`; a reset card is reconnected and read again once.
    fn atr(&mut self) -> Result<Vec<u8>> {
        for attempt in 0..2 {
            match self.status() {
                Ok((_, atr)) if !atr.is_empty() => return Ok(atr),
                Ok(_) => {
                    return Err(errors::map(pcsc::Error::NoSmartcard, Some(&self.reader)));
                }
                Err(pcsc::Error::ResetCard) if attempt == 0 => self.reconnect()?,
                Err(e) => return Err(errors::map(e, Some(&self.reader))),
            }
        }
        Err(errors::map(pcsc::Error::ResetCard, Some(&self.reader)))
    }

    /// After a failed APDU exchange: was the card removed or reset meanwhile? The reader may take a
    /// moment to notice a removal, so a present card is re-checked for up to about a second.
    fn diagnose(&mut self, e: pcsc::Error) -> pcsc::Error {
        use pcsc::Error as P;
        match e {
            P::RemovedCard
            | P::ResetCard
            | P::NoService
            | P::ServiceStopped
            | P::SharingViolation
            | P::Cancelled => return e,
            _ => {}
        }
        let until = Instant::now() + Duration::from_millis(1200);
        loop {
            match self.status() {
                Err(P::RemovedCard) | Err(P::NoSmartcard) => return P::RemovedCard,
                Err(P::ResetCard) => return P::ResetCard,
                Err(_) => return e,
                Ok((true, _)) => return P::RemovedCard,
                Ok(_) => {}
            }
            if Instant::now() >= until {
                return e;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Runs `f` inside `SCardBeginTransaction` .. `SCardEndTransaction`.
    fn in_transaction<T>(
        &mut self,
        f: &impl Fn(&mut dyn Transmit) -> std::result::Result<T, Fail>,
    ) -> std::result::Result<T, Fail> {
        let tx = self.card().transaction().map_err(Fail::Pcsc)?;
        let mut t = TxTransmit {
            tx: &tx,
            buf: [0u8; pcsc::MAX_BUFFER_SIZE],
        };
        let outcome = f(&mut t);
        // On failure the returned transaction is dropped, which ends it once more.
        let _ = tx.end(Disposition::LeaveCard);
        outcome
    }

    /// Runs an APDU sequence inside a transaction; on a reset card, reconnects and runs it once more.
    fn transact<T>(
        &mut self,
        f: impl Fn(&mut dyn Transmit) -> std::result::Result<T, Fail>,
    ) -> Result<T> {
        for attempt in 0..2 {
            match self.in_transaction(&f) {
                Ok(v) => return Ok(v),
                // vpcd (and some drivers) report a card pulled mid-APDU as an empty response rather
                // than an error: check whether the card is still there before blaming the card.
                Err(Fail::Lib(e)) if e.status == Status::CardProtocolError => {
                    match self.diagnose(pcsc::Error::CommError) {
                        pcsc::Error::ResetCard if attempt == 0 => {
                            self.reconnect()?;
                            continue;
                        }
                        p @ (pcsc::Error::RemovedCard | pcsc::Error::ResetCard) => {
                            return Err(errors::map(p, Some(&self.reader)));
                        }
                        _ => {
                            return Err(
                                e.context(format!("Card in reader '{}'", lossy(&self.reader)))
                            );
                        }
                    }
                }
                Err(Fail::Lib(e)) => {
                    return Err(e.context(format!("Card in reader '{}'", lossy(&self.reader))));
                }
                Err(Fail::Pcsc(e)) => {
                    let e = self.diagnose(e);
                    if e == pcsc::Error::ResetCard && attempt == 0 {
                        self.reconnect()?;
                        continue;
                    }
                    return Err(errors::map(e, Some(&self.reader)));
                }
            }
        }
        Err(errors::map(pcsc::Error::ResetCard, Some(&self.reader)))
    }
}

impl Drop for Conn {
    fn drop(&mut self) {
        if let Some(card) = self.card.take() {
            // On failure the returned Card is dropped, which disconnects once more.
            let _ = card.disconnect(Disposition::LeaveCard);
        }
    }
}

/// Short APDUs only (Le ≤ 256; longer answers come through `61xx`/GET RESPONSE), so a response
/// never exceeds 256 data bytes + SW: `MAX_BUFFER_SIZE` (264) suffices.
struct TxTransmit<'a, 'tx> {
    tx: &'a pcsc::Transaction<'tx>,
    buf: [u8; pcsc::MAX_BUFFER_SIZE],
}

impl Transmit for TxTransmit<'_, '_> {
    fn transmit_raw(&mut self, apdu: &[u8]) -> std::result::Result<Vec<u8>, Fail> {
        Ok(self.tx.transmit(apdu, &mut self.buf)?.to_vec())
    }
}

/// Lists the readers with their state: card present or not, and the ATR when a card is present.
/// An empty list means no reader is connected.
pub fn list_readers() -> Result<Vec<ReaderInfo>> {
    with_context(list_readers_with)
}

fn list_readers_with(ctx: &Context) -> Result<Vec<ReaderInfo>> {
    let states = match states_of(ctx, list_names(ctx)?) {
        // A reader left between listing and querying: list once more.
        Err(e) if e.status == Status::PcscUnknownReader => states_of(ctx, list_names(ctx)?)?,
        r => r?,
    };
    Ok(states
        .iter()
        .map(|s| {
            let st = s.event_state();
            let present = st.contains(State::PRESENT);
            ReaderInfo {
                name: s.name().to_owned(),
                card_present: present,
                atr: (present && !s.atr().is_empty()).then(|| s.atr().to_vec()),
                mute: st.contains(State::MUTE),
                exclusive: st.contains(State::EXCLUSIVE),
            }
        })
        .collect())
}

/// Reads the ATR of the card in `reader` (`None` or an empty name: the first reader that holds a
/// card). Returns the reader actually used and the ATR bytes exactly as PC/SC returned them.
///
/// Connects in shared mode and reads the ATR through `SCardStatus`.
pub fn read_atr(reader: Option<&CStr>) -> Result<(CString, Vec<u8>)> {
    with_context(|ctx| {
        let mut conn = Conn::open(ctx, reader)?;
        let atr = conn.atr()?;
        Ok((std::mem::take(&mut conn.reader), atr))
    })
}

/// Reads the 16-byte minidriver card ID of the card in `reader` (`None` or an empty name: the first
/// reader that holds a card) and formats it in `order` ([`GuidByteOrder::Windows`] unless you know
/// MIM needs the other).
///
/// The order of Windows' inbox minidriver: SELECT PIV first; a PIV card's ID comes from its CHUID
/// (GET DATA `5FC102`, derived as described on [`CardIdInfo`]). Only when PIV cannot be selected:
/// SELECT GIDS (GIDS cards and Windows virtual smart cards), GET DATA `A012`/`DF20`.
/// Fails with [`Status::CardIdNotFound`] for other cards and [`Status::CardProtocolError`] for
/// malformed answers.
pub fn read_card_id(reader: Option<&CStr>, order: GuidByteOrder) -> Result<CardIdInfo> {
    with_context(|ctx| {
        let mut conn = Conn::open(ctx, reader)?;
        conn.transact(|t| cardid::read_card_id_with(t, order))
    })
}

/// Reads the ATR and the card ID in one connection (for "assign the card in this reader");
/// `reader` as for [`read_atr`].
pub fn read_card(reader: Option<&CStr>, order: GuidByteOrder) -> Result<CardReading> {
    with_context(|ctx| {
        let mut conn = Conn::open(ctx, reader)?;
        let atr = conn.atr()?;
        let card_id = conn.transact(|t| cardid::read_card_id_with(t, order))?;
        Ok(CardReading {
            reader: std::mem::take(&mut conn.reader),
            atr,
            card_id,
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multi_string_reader_lists() {
        let names =
            split_multi_string(b"Virtual PCD 00 00\0Lecteur virtuel \xc3\xa9 00 00\0\0junk\0");
        assert_eq!(
            names,
            vec![
                c"Virtual PCD 00 00".to_owned(),
                CString::new(&b"Lecteur virtuel \xc3\xa9 00 00"[..]).unwrap()
            ]
        );
        assert!(split_multi_string(b"\0\0").is_empty());
        assert!(split_multi_string(b"").is_empty());
        // A list that fills the buffer exactly, without the final NUL, still yields its names.
        assert_eq!(split_multi_string(b"a\0b").len(), 2);
    }

    #[test]
    fn empty_name_means_no_reader_named() {
        assert_eq!(named(Some(c"")), None);
        assert_eq!(named(None), None);
        assert_eq!(named(Some(c"Virtual PCD")), Some(c"Virtual PCD"));
    }
}
