//! Reading the card: readers, ATR, minidriver card ID, and waiting for a card. Pure Rust over the
//! `pcsc` crate (PC/SC: pcsc-lite on Linux/macOS, WinSCard on Windows); no FFI types here.
//!
//! Rules every function follows:
//! * **A fresh PC/SC context per call**, released on every path. A context invalidated by a pcscd
//!   restart (or Windows' SCardSvr stopping) therefore never outlives the call that saw it fail; the
//!   next call works as soon as the service is back.
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

mod apdu;
mod cardid;
mod errors;
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
use pcsc::{Context, Disposition, Protocols, ReaderState, Scope, ShareMode, State};
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
    Context::establish(Scope::User).map_err(|e| errors::map(e, None))
}

/// All reader names; an empty list when there is none.
pub(crate) fn list_names(ctx: &Context) -> Result<Vec<CString>> {
    let mut last = pcsc::Error::InsufficientBuffer;
    for _ in 0..3 {
        match ctx.list_readers_owned() {
            Ok(v) => return Ok(v),
            Err(pcsc::Error::NoReadersAvailable) => return Ok(Vec::new()),
            // The list grew between the size query and the read (OpenSC#2078): ask again.
            Err(pcsc::Error::InsufficientBuffer) => continue,
            Err(e) => {
                last = e;
                break;
            }
        }
    }
    Err(errors::map(last, None))
}

fn no_readers() -> Error {
    errors::map(pcsc::Error::NoReadersAvailable, None)
}

/// Current state of the given readers (non-blocking `SCardGetStatusChange`).
fn states_of(ctx: &Context, names: &[CString]) -> Result<Vec<ReaderState>> {
    let mut states: Vec<ReaderState> = names
        .iter()
        .map(|n| ReaderState::new(n.clone(), State::UNAWARE))
        .collect();
    if states.is_empty() {
        return Ok(states);
    }
    match ctx.get_status_change(Duration::ZERO, &mut states) {
        Ok(()) | Err(pcsc::Error::Timeout) => Ok(states),
        Err(e) => Err(errors::map(e, None)),
    }
}

/// Chooses the reader named `wanted`: exact match, else the single case-insensitive substring match.
pub(crate) fn resolve_reader(ctx: &Context, wanted: &CStr) -> Result<CString> {
    let names = list_names(ctx)?;
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

/// `Some(name)` → that reader; `None` → the first reader holding a (non-mute) card.
fn choose_reader(ctx: &Context, reader: Option<&CStr>) -> Result<CString> {
    if let Some(r) = reader {
        return resolve_reader(ctx, r);
    }
    let names = list_names(ctx)?;
    if names.is_empty() {
        return Err(no_readers());
    }
    let states = states_of(ctx, &names)?;
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
            errors::list_names(names.iter().map(|n| n.as_c_str()))
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
    fn open(ctx: &Context, reader: &CStr) -> Result<Conn> {
        match ctx.connect(reader, ShareMode::Shared, Protocols::ANY) {
            Ok(card) => Ok(Conn {
                card: Some(card),
                reader: reader.to_owned(),
            }),
            Err(pcsc::Error::UnknownReader) => {
                let names = list_names(ctx).unwrap_or_default();
                let refs: Vec<&CStr> = names.iter().map(|n| n.as_c_str()).collect();
                Err(errors::unknown_reader(reader, &refs, None))
            }
            Err(e) => Err(errors::map(e, Some(reader))),
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

    /// The ATR through `SCardStatus`; a reset card is reconnected and read again once.
    fn atr(&mut self) -> Result<Vec<u8>> {
        for attempt in 0..2 {
            match self.card().status2_owned() {
                Ok(s) if !s.atr().is_empty() => return Ok(s.atr().to_vec()),
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
            match self.card().status2_owned() {
                Err(P::RemovedCard) | Err(P::NoSmartcard) => return P::RemovedCard,
                Err(P::ResetCard) => return P::ResetCard,
                Err(_) => return e,
                Ok(s) if s.status().contains(pcsc::Status::ABSENT) => return P::RemovedCard,
                Ok(_) => {}
            }
            if Instant::now() >= until {
                return e;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Runs an APDU sequence inside a transaction; on a reset card, reconnects and runs it once more.
    fn transact<T>(
        &mut self,
        f: impl Fn(&mut dyn Transmit) -> std::result::Result<T, Fail>,
    ) -> Result<T> {
        for attempt in 0..2 {
            let outcome = match self.card().transaction() {
                Err(e) => Err(Fail::Pcsc(e)),
                Ok(tx) => {
                    let mut t = TxTransmit {
                        tx: &tx,
                        buf: vec![0u8; pcsc::MAX_BUFFER_SIZE_EXTENDED],
                    };
                    f(&mut t)
                }
            };
            match outcome {
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
            // On failure the returned Card is dropped, which disconnects once more (and may fail too).
            let _ = card.disconnect(Disposition::LeaveCard);
        }
    }
}

struct TxTransmit<'a, 'tx> {
    tx: &'a pcsc::Transaction<'tx>,
    buf: Vec<u8>,
}

impl Transmit for TxTransmit<'_, '_> {
    fn transmit_raw(&mut self, apdu: &[u8]) -> std::result::Result<Vec<u8>, Fail> {
        Ok(self.tx.transmit(apdu, &mut self.buf)?.to_vec())
    }
}

/// Lists the readers with their state: card present or not, and the ATR when a card is present.
/// An empty list means no reader is connected.
pub fn list_readers() -> Result<Vec<ReaderInfo>> {
    let ctx = establish()?;
    let mut names = list_names(&ctx)?;
    let states = match states_of(&ctx, &names) {
        // A reader left between listing and querying: list once more.
        Err(e) if e.status == Status::PcscUnknownReader => {
            names = list_names(&ctx)?;
            states_of(&ctx, &names)?
        }
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

/// Reads the ATR of the card in `reader` (`None`: the first reader that holds a card).
/// Returns the reader actually used and the ATR bytes exactly as PC/SC returned them.
///
/// Connects in shared mode and reads the ATR through `SCardStatus`.
pub fn read_atr(reader: Option<&CStr>) -> Result<(CString, Vec<u8>)> {
    let ctx = establish()?;
    let name = choose_reader(&ctx, reader)?;
    let mut conn = Conn::open(&ctx, &name)?;
    let atr = conn.atr()?;
    Ok((name, atr))
}

/// Reads the 16-byte minidriver card ID of the card in `reader` (`None`: the first reader that holds
/// a card) and formats it in `order` ([`GuidByteOrder::Windows`] unless you know MIM needs the other).
///
/// GIDS cards and Windows virtual smart cards: SELECT the GIDS AID, GET DATA `A012`/`DF20`.
/// Otherwise PIV: SELECT PIV, GET DATA CHUID `5FC102`, derived as described on [`CardIdInfo`].
/// Fails with [`Status::CardIdNotFound`] for other cards and [`Status::CardProtocolError`] for
/// malformed answers.
pub fn read_card_id(reader: Option<&CStr>, order: GuidByteOrder) -> Result<CardIdInfo> {
    let ctx = establish()?;
    let name = choose_reader(&ctx, reader)?;
    let mut conn = Conn::open(&ctx, &name)?;
    conn.transact(|t| cardid::read_card_id_with(t, order))
}

/// Reads the ATR and the card ID in one connection (for "assign the card in this reader").
pub fn read_card(reader: Option<&CStr>, order: GuidByteOrder) -> Result<CardReading> {
    let ctx = establish()?;
    let name = choose_reader(&ctx, reader)?;
    let mut conn = Conn::open(&ctx, &name)?;
    let atr = conn.atr()?;
    let card_id = conn.transact(|t| cardid::read_card_id_with(t, order))?;
    Ok(CardReading {
        reader: name,
        atr,
        card_id,
    })
}
