//! Windows only: the subset of the `pcsc` crate's API that the card module uses, over WinSCard's
//! **wide** (UTF-16) functions.
//!
//! The `pcsc` crate calls the ANSI functions (`SCardListReadersA`, `SCardConnectA`, ...), so a reader
//! name that is not ASCII arrives in the system code page (or is lost when the code page cannot hold
//! it) and cannot be connected to by its UTF-8 name. Here every function that carries a reader name
//! is the `W` one, and names are UTF-8 [`CString`]s on our side: exact Unicode, the same as pcsc-lite
//! gives on Linux, so the C API's "reader names are UTF-8" holds on Windows too.
//!
//! Drop-in: `mod.rs` imports this module under the name `pcsc` on Windows; the error, state and
//! flag types are the crate's own (same values), only the types that hold handles or names are ours.
//! Every other file of `src/card` that uses `Context`, `Card`, `ReaderState` or `Transaction` needs
//! `#[cfg(windows)] use super::pcsc;` too; without it the Windows build fails on mismatched types.

#![allow(non_snake_case)] // `PNP_NOTIFICATION()` keeps the crate's name.

use std::ffi::{CStr, CString};
use std::ptr::{null, null_mut};
use std::sync::Arc;
use std::time::Duration;

#[allow(unused_imports)] // which constants the card module uses changes with its buffer sizes
pub use ::pcsc::{
    Disposition, Error, MAX_BUFFER_SIZE, MAX_BUFFER_SIZE_EXTENDED, PNP_NOTIFICATION, Protocols,
    Scope, ShareMode, State, Status,
};
use windows_sys::Win32::Security::Credentials as w;

/// Every `pcsc::Error` by its SCARD code (the crate's own conversion is private).
const ERRORS: &[Error] = {
    use Error::*;
    &[
        InternalError,
        Cancelled,
        InvalidHandle,
        InvalidParameter,
        InvalidTarget,
        NoMemory,
        WaitedTooLong,
        InsufficientBuffer,
        UnknownReader,
        Timeout,
        SharingViolation,
        NoSmartcard,
        UnknownCard,
        CantDispose,
        ProtoMismatch,
        NotReady,
        InvalidValue,
        SystemCancelled,
        CommError,
        UnknownError,
        InvalidAtr,
        NotTransacted,
        ReaderUnavailable,
        Shutdown,
        PciTooSmall,
        ReaderUnsupported,
        DuplicateReader,
        CardUnsupported,
        NoService,
        ServiceStopped,
        Unexpected,
        IccInstallation,
        IccCreateorder,
        UnsupportedFeature,
        DirNotFound,
        FileNotFound,
        NoDir,
        NoFile,
        NoAccess,
        WriteTooMany,
        BadSeek,
        InvalidChv,
        UnknownResMng,
        NoSuchCertificate,
        CertificateUnavailable,
        NoReadersAvailable,
        CommDataLost,
        NoKeyContainer,
        ServerTooBusy,
        UnsupportedCard,
        UnresponsiveCard,
        UnpoweredCard,
        ResetCard,
        RemovedCard,
        SecurityViolation,
        WrongChv,
        ChvBlocked,
        Eof,
        CancelledByUser,
        CardNotAuthenticated,
        CacheItemNotFound,
        CacheItemStale,
        CacheItemTooBig,
    ]
};

fn check(code: i32) -> Result<(), Error> {
    if code == 0 {
        return Ok(());
    }
    Err(ERRORS
        .iter()
        .copied()
        .find(|e| *e as u32 == code as u32)
        .unwrap_or(Error::UnknownError))
}

fn to_wide(s: &CStr) -> Vec<u16> {
    let mut v: Vec<u16> = String::from_utf8_lossy(s.to_bytes())
        .encode_utf16()
        .collect();
    v.push(0);
    v
}

/// A UTF-16 name (without its terminator) as a UTF-8 `CString`; unpaired surrogates become U+FFFD.
fn from_wide(w: &[u16]) -> CString {
    let s = String::from_utf16_lossy(w).replace('\0', "\u{FFFD}");
    CString::new(s).expect("NULs replaced above")
}

/// "a\0b\0\0" from names (just "\0" when there are none).
fn multi_string(names: &[CString]) -> Vec<u8> {
    let mut v: Vec<u8> = names
        .iter()
        .flat_map(|n| n.as_bytes_with_nul())
        .copied()
        .collect();
    v.push(0);
    v
}

/// The names of a multi-string written by [`Context::list_readers`].
pub struct ReaderNames<'buf> {
    buf: &'buf [u8],
    pos: usize,
}

impl<'buf> Iterator for ReaderNames<'buf> {
    type Item = &'buf CStr;

    fn next(&mut self) -> Option<&'buf CStr> {
        let rest = &self.buf[self.pos..];
        let len = rest.iter().position(|&c| c == 0)?;
        if len == 0 {
            return None;
        }
        self.pos += len + 1;
        CStr::from_bytes_with_nul(&rest[..=len]).ok()
    }
}

struct ContextInner(usize);

impl Drop for ContextInner {
    fn drop(&mut self) {
        // SAFETY: the handle came from SCardEstablishContext and is released exactly once, here.
        unsafe { w::SCardReleaseContext(self.0) };
    }
}

/// A PC/SC context (`SCARDCONTEXT`); clones share it, the last one releases it.
#[derive(Clone)]
pub struct Context(Arc<ContextInner>);

// SAFETY: WinSCard contexts may be used from any thread (SCardCancel is meant to be called from
// another thread); the crate's `Context` is Send + Sync for the same reason.
unsafe impl Send for Context {}
unsafe impl Sync for Context {}

impl Context {
    pub fn establish(scope: Scope) -> Result<Context, Error> {
        let mut handle = 0usize;
        // SAFETY: out-pointer to a local; reserved arguments are NULL as documented.
        check(unsafe { w::SCardEstablishContext(scope as u32, null(), null(), &mut handle) })?;
        Ok(Context(Arc::new(ContextInner(handle))))
    }

    fn handle(&self) -> usize {
        self.0.0
    }

    pub fn cancel(&self) -> Result<(), Error> {
        // SAFETY: a live context handle.
        check(unsafe { w::SCardCancel(self.handle()) })
    }

    /// The reader names as a UTF-8 multi-string ("a\0b\0\0") in `buffer`, like the crate's
    /// `list_readers`; `InsufficientBuffer` when it does not fit ([`Context::list_readers_len`] says
    /// how much does).
    #[allow(dead_code)] // the card module uses either this or list_readers_owned
    pub fn list_readers<'buf>(&self, buffer: &'buf mut [u8]) -> Result<ReaderNames<'buf>, Error> {
        let multi = multi_string(&self.list_readers_owned()?);
        let out = buffer
            .get_mut(..multi.len())
            .ok_or(Error::InsufficientBuffer)?;
        out.copy_from_slice(&multi);
        Ok(ReaderNames { buf: out, pos: 0 })
    }

    /// Bytes needed by [`Context::list_readers`] (the UTF-8 multi-string).
    #[allow(dead_code)]
    pub fn list_readers_len(&self) -> Result<usize, Error> {
        Ok(multi_string(&self.list_readers_owned()?).len())
    }

    /// The reader names (`SCardListReadersW`) as UTF-8.
    pub fn list_readers_owned(&self) -> Result<Vec<CString>, Error> {
        let mut len = 0u32;
        // SAFETY: size query: NULL buffer, out-length to a local.
        check(unsafe { w::SCardListReadersW(self.handle(), null(), null_mut(), &mut len) })?;
        let mut buf = vec![0u16; len as usize];
        // SAFETY: `buf` holds `len` UTF-16 units; WinSCard writes at most that many and updates len.
        check(unsafe { w::SCardListReadersW(self.handle(), null(), buf.as_mut_ptr(), &mut len) })?;
        buf.truncate(len as usize);
        Ok(buf
            .split(|&c| c == 0)
            .filter(|n| !n.is_empty())
            .map(from_wide)
            .collect())
    }

    pub fn connect(
        &self,
        reader: &CStr,
        share_mode: ShareMode,
        preferred_protocols: Protocols,
    ) -> Result<Card, Error> {
        let name = to_wide(reader);
        let (mut handle, mut active) = (0usize, 0u32);
        // SAFETY: NUL-terminated UTF-16 name; out-pointers to locals.
        check(unsafe {
            w::SCardConnectW(
                self.handle(),
                name.as_ptr(),
                share_mode as u32,
                preferred_protocols.bits(),
                &mut handle,
                &mut active,
            )
        })?;
        Ok(Card {
            _context: self.clone(),
            handle,
            active_protocol: active,
        })
    }

    /// `SCardGetStatusChangeW` on `readers`; `None` waits forever.
    pub fn get_status_change<D>(&self, timeout: D, readers: &mut [ReaderState]) -> Result<(), Error>
    where
        D: Into<Option<Duration>>,
    {
        let timeout_ms = match timeout.into() {
            Some(d) => u32::try_from(d.as_millis()).unwrap_or(u32::MAX - 1),
            None => u32::MAX, // INFINITE
        };
        let mut raw: Vec<w::SCARD_READERSTATEW> = readers
            .iter()
            .map(|r| w::SCARD_READERSTATEW {
                szReader: r.wide.as_ptr(),
                pvUserData: null_mut(),
                dwCurrentState: r.current,
                dwEventState: r.event,
                cbAtr: r.atr_len,
                rgbAtr: r.atr,
            })
            .collect();
        // SAFETY: `raw` has readers.len() entries whose names point into `readers`, alive for the call.
        let rc = unsafe {
            w::SCardGetStatusChangeW(
                self.handle(),
                timeout_ms,
                raw.as_mut_ptr(),
                raw.len() as u32,
            )
        };
        for (r, s) in readers.iter_mut().zip(&raw) {
            r.event = s.dwEventState;
            r.atr_len = s.cbAtr.min(36);
            r.atr = s.rgbAtr;
        }
        check(rc)
    }
}

/// One reader's state for [`Context::get_status_change`], like `pcsc::ReaderState`.
pub struct ReaderState {
    name: CString,
    wide: Vec<u16>,
    current: u32,
    event: u32,
    atr_len: u32,
    atr: [u8; 36],
}

impl ReaderState {
    pub fn new<T: Into<CString>>(name: T, current_state: State) -> ReaderState {
        let name = name.into();
        // The PnP pseudo-reader is ASCII: its wide form is the same name.
        let wide = to_wide(&name);
        ReaderState {
            name,
            wide,
            current: current_state.bits(),
            event: 0,
            atr_len: 0,
            atr: [0; 36],
        }
    }

    pub fn name(&self) -> &CStr {
        &self.name
    }

    pub fn atr(&self) -> &[u8] {
        &self.atr[..self.atr_len as usize]
    }

    pub fn current_state(&self) -> State {
        State::from_bits_truncate(self.current)
    }

    pub fn event_state(&self) -> State {
        State::from_bits_truncate(self.event)
    }

    pub fn sync_current_state(&mut self) {
        self.current = self.event;
    }
}

/// A connection to a card (`SCARDHANDLE`), disconnected with `SCARD_LEAVE_CARD` when dropped.
pub struct Card {
    _context: Context,
    handle: usize,
    active_protocol: u32,
}

// SAFETY: as for `Context`; the card module serializes its own use of one connection.
unsafe impl Send for Card {}
unsafe impl Sync for Card {}

/// What `SCardStatusW` reports (the reader name is not needed by the card module).
pub struct CardStatusOwned {
    state: u32,
    atr: Vec<u8>,
}

impl CardStatusOwned {
    pub fn atr(&self) -> &[u8] {
        &self.atr
    }

    pub fn status(&self) -> Status {
        status_from_windows(self.state)
    }
}

/// Windows reports one state value (SCARD_ABSENT = 1 ... SCARD_SPECIFIC = 6), mapped to the crate's
/// flags exactly as the crate does on Windows.
fn status_from_windows(state: u32) -> Status {
    match state {
        0 => Status::UNKNOWN,
        1 => Status::ABSENT,
        2 => Status::PRESENT,
        3 => Status::SWALLOWED,
        4 => Status::POWERED,
        5 => Status::NEGOTIABLE,
        6 => Status::SPECIFIC,
        _ => Status::empty(),
    }
}

/// What [`Card::status2`] reports: the state and the ATR (copied into the caller's buffer).
#[allow(dead_code)] // see Card::status2
pub struct CardStatus<'atr_buf> {
    state: u32,
    atr: &'atr_buf [u8],
}

#[allow(dead_code)]
impl CardStatus<'_> {
    pub fn atr(&self) -> &[u8] {
        self.atr
    }

    pub fn status(&self) -> Status {
        status_from_windows(self.state)
    }
}

impl Card {
    /// `SCardStatusW` with the ATR copied into `atr_buf` (`InsufficientBuffer` when it does not fit).
    /// `names_buf` is the crate's reader-name buffer; the reader name is not needed by the card module,
    /// so it is left untouched.
    #[allow(dead_code)] // the card module uses either this or status2_owned
    pub fn status2<'atr_buf>(
        &self,
        _names_buf: &mut [u8],
        atr_buf: &'atr_buf mut [u8],
    ) -> Result<CardStatus<'atr_buf>, Error> {
        let s = self.status2_owned()?;
        let out = atr_buf
            .get_mut(..s.atr.len())
            .ok_or(Error::InsufficientBuffer)?;
        out.copy_from_slice(&s.atr);
        Ok(CardStatus {
            state: s.state,
            atr: out,
        })
    }

    pub fn status2_owned(&self) -> Result<CardStatusOwned, Error> {
        let mut name = vec![0u16; 512];
        let mut name_len = name.len() as u32;
        let (mut state, mut protocol) = (0u32, 0u32);
        let mut atr = [0u8; 36];
        let mut atr_len = atr.len() as u32;
        // SAFETY: every buffer is as large as the length passed with it; out-pointers to locals.
        let rc = unsafe {
            w::SCardStatusW(
                self.handle,
                name.as_mut_ptr(),
                &mut name_len,
                &mut state,
                &mut protocol,
                atr.as_mut_ptr(),
                &mut atr_len,
            )
        };
        if rc == Error::InsufficientBuffer as u32 as i32 {
            // A reader name longer than 511 units: ask again for the state and ATR only.
            name_len = 0;
            atr_len = atr.len() as u32;
            // SAFETY: as above, with no name buffer.
            check(unsafe {
                w::SCardStatusW(
                    self.handle,
                    null_mut(),
                    &mut name_len,
                    &mut state,
                    &mut protocol,
                    atr.as_mut_ptr(),
                    &mut atr_len,
                )
            })?;
        } else {
            check(rc)?;
        }
        Ok(CardStatusOwned {
            state,
            atr: atr[..(atr_len as usize).min(atr.len())].to_vec(),
        })
    }

    pub fn reconnect(
        &mut self,
        share_mode: ShareMode,
        preferred_protocols: Protocols,
        initialization: Disposition,
    ) -> Result<(), Error> {
        let mut active = 0u32;
        // SAFETY: a live card handle; out-pointer to a local.
        check(unsafe {
            w::SCardReconnect(
                self.handle,
                share_mode as u32,
                preferred_protocols.bits(),
                initialization as u32,
                &mut active,
            )
        })?;
        self.active_protocol = active;
        Ok(())
    }

    pub fn transaction(&mut self) -> Result<Transaction<'_>, Error> {
        // SAFETY: a live card handle.
        check(unsafe { w::SCardBeginTransaction(self.handle) })?;
        Ok(Transaction { card: self })
    }

    pub fn disconnect(mut self, disposition: Disposition) -> Result<(), (Card, Error)> {
        // SAFETY: a live card handle; on success it is never used again (handle zeroed, no Drop call).
        match check(unsafe { w::SCardDisconnect(self.handle, disposition as u32) }) {
            Ok(()) => {
                self.handle = 0;
                Ok(())
            }
            Err(e) => Err((self, e)),
        }
    }

    fn transmit<'buf>(&self, send: &[u8], receive: &'buf mut [u8]) -> Result<&'buf [u8], Error> {
        let pci = w::SCARD_IO_REQUEST {
            dwProtocol: self.active_protocol,
            cbPciLength: std::mem::size_of::<w::SCARD_IO_REQUEST>() as u32,
        };
        let mut len = u32::try_from(receive.len()).unwrap_or(u32::MAX);
        let send_len = u32::try_from(send.len()).map_err(|_| Error::InvalidParameter)?;
        // SAFETY: send/receive buffers with their true lengths; the receive PCI is optional (NULL).
        check(unsafe {
            w::SCardTransmit(
                self.handle,
                &pci,
                send.as_ptr(),
                send_len,
                null_mut(),
                receive.as_mut_ptr(),
                &mut len,
            )
        })?;
        Ok(&receive[..(len as usize).min(receive.len())])
    }
}

impl Drop for Card {
    fn drop(&mut self) {
        if self.handle != 0 {
            // SAFETY: a live card handle, disconnected once.
            unsafe { w::SCardDisconnect(self.handle, Disposition::LeaveCard as u32) };
        }
    }
}

/// A transaction (`SCardBeginTransaction`), ended with `SCARD_LEAVE_CARD` when dropped.
pub struct Transaction<'tx> {
    card: &'tx mut Card,
}

impl<'tx> Transaction<'tx> {
    /// Ends the transaction with `disposition` (dropping it ends it with `SCARD_LEAVE_CARD`).
    #[allow(dead_code)]
    pub fn end(self, disposition: Disposition) -> Result<(), (Transaction<'tx>, Error)> {
        // SAFETY: a live card handle inside a transaction we began; on success Drop is skipped.
        match check(unsafe { w::SCardEndTransaction(self.card.handle, disposition as u32) }) {
            Ok(()) => {
                std::mem::forget(self);
                Ok(())
            }
            Err(e) => Err((self, e)),
        }
    }

    pub fn transmit<'buf>(
        &self,
        send: &[u8],
        receive: &'buf mut [u8],
    ) -> Result<&'buf [u8], Error> {
        self.card.transmit(send, receive)
    }
}

impl Drop for Transaction<'_> {
    fn drop(&mut self) {
        // SAFETY: a live card handle inside a transaction we began.
        unsafe { w::SCardEndTransaction(self.card.handle, Disposition::LeaveCard as u32) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_through_utf16() {
        let name = c"Lecteur virtuel \xc3\xa9 00 00";
        let wide = to_wide(name);
        assert_eq!(wide.last(), Some(&0));
        assert_eq!(from_wide(&wide[..wide.len() - 1]).as_c_str(), name);
    }

    #[test]
    fn reader_names_iterate_a_multi_string() {
        let names = vec![
            CString::from(c"A 00 00"),
            CString::from(c"B \xc3\xa9 00 00"),
        ];
        let multi = multi_string(&names);
        assert_eq!(multi, b"A 00 00\0B \xc3\xa9 00 00\0\0");
        let got: Vec<&CStr> = ReaderNames {
            buf: &multi,
            pos: 0,
        }
        .collect();
        assert_eq!(got, [names[0].as_c_str(), names[1].as_c_str()]);
        assert_eq!(multi_string(&[]), b"\0");
        assert_eq!(ReaderNames { buf: b"\0", pos: 0 }.count(), 0);
    }

    #[test]
    fn scard_codes_map_to_the_crate_errors() {
        assert_eq!(check(0), Ok(()));
        assert_eq!(check(0x8010_0009u32 as i32), Err(Error::UnknownReader));
        assert_eq!(check(0x8010_0069u32 as i32), Err(Error::RemovedCard));
        assert_eq!(check(0x8010_002Eu32 as i32), Err(Error::NoReadersAvailable));
        assert_eq!(check(0x1234), Err(Error::UnknownError));
    }
}
