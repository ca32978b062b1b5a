//! One process-wide lock around the library's PC/SC work, except the blocking wait
//! (`SCardGetStatusChange` with a timeout) and `SCardCancel`.
//!
//! Why: Debian 12's libpcsclite 1.9.9 is not safe when several threads connect and disconnect at
//! once, even on separate contexts: a plain C program with 32 threads doing establish / connect /
//! `SCardStatus` / disconnect / release segfaults inside `SCardDisconnect` within seconds. A segfault
//! cannot be caught, and the header promises thread safety, so the library never lets two of its own
//! PC/SC operations overlap.
//!
//! Granularity: a card operation (`read_atr`, `read_card_id`, `read_card`, `list_readers`) holds the
//! lock from `SCardEstablishContext` to `SCardReleaseContext`. A finer lock (one PC/SC call at a time)
//! deadlocks: pcscd makes `SCardConnect` and `SCardBeginTransaction` wait while another handle holds a
//! transaction, and that handle's owner would be waiting for the lock to send its next APDU.
//! A wait takes the lock only for its short non-blocking steps (establish, list, release), so other
//! threads keep reading cards during a wait and `cancel_waits` can always end it.

use super::establish;
use crate::Result;
use pcsc::Context;
use std::sync::{Mutex, PoisonError};

static PCSC_LOCK: Mutex<()> = Mutex::new(());

/// Runs PC/SC work under the process-wide lock. Not reentrant: never nest.
pub(crate) fn serialized<T>(work: impl FnOnce() -> T) -> T {
    let _guard = PCSC_LOCK.lock().unwrap_or_else(PoisonError::into_inner);
    work()
}

/// A context for a wait: established and released (when its last clone goes) under the lock.
pub(crate) struct WaitCtx(Option<Context>);

impl WaitCtx {
    pub(crate) fn establish() -> Result<WaitCtx> {
        serialized(establish).map(|c| WaitCtx(Some(c)))
    }
}

impl std::ops::Deref for WaitCtx {
    type Target = Context;
    fn deref(&self) -> &Context {
        self.0.as_ref().expect("the context lives until drop")
    }
}

impl Drop for WaitCtx {
    fn drop(&mut self) {
        if let Some(ctx) = self.0.take() {
            serialized(move || drop(ctx));
        }
    }
}
