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
//! lock from its first PC/SC call to its last. A finer lock (one PC/SC call at a time) deadlocks:
//! pcscd makes `SCardConnect` and `SCardBeginTransaction` wait while another handle holds a
//! transaction, and that handle's owner would be waiting for the lock to send its next APDU.
//! A wait takes the lock only for its short non-blocking steps (establish, list, release), so other
//! threads keep reading cards during a wait and `cancel_waits` can always end it.
//!
//! The lock also guards the process's **one PC/SC context** for card operations: established on first
//! use and kept, which saves three pcscd round trips per call (version check, establish, release).
//! A context that pcscd no longer knows (pcscd restarted; Windows' SCardSvr stopped when the last
//! reader left) fails with `SCARD_E_NO_SERVICE`/`SERVICE_STOPPED`/`INVALID_HANDLE`/a comm error; it is
//! then released and the operation runs once more on a fresh context, so a restart costs nothing
//! visible. While the service is down, the error is reported as before and nothing is kept. A child
//! process (after `fork`) never uses or releases its parent's context (it shares the parent's pcscd
//! socket): it establishes its own.

use super::establish;
#[cfg(windows)]
use super::pcsc;
use crate::{Error, Result};
use pcsc::Context;
use std::sync::{Mutex, MutexGuard, PoisonError};

/// The context card operations share, and the process that established it.
struct Kept {
    pid: u32,
    ctx: Context,
}

/// The lock, and the kept context (None until first use or after it was lost).
static PCSC: Mutex<Option<Kept>> = Mutex::new(None);

fn lock() -> MutexGuard<'static, Option<Kept>> {
    PCSC.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Runs PC/SC work under the process-wide lock. Not reentrant: never nest.
pub(crate) fn serialized<T>(work: impl FnOnce() -> T) -> T {
    let _guard = lock();
    work()
}

/// The SCARD codes of a context that pcscd (or SCardSvr) no longer serves.
fn context_lost(e: &Error) -> bool {
    use pcsc::Error as P;
    [
        P::NoService,
        P::ServiceStopped,
        P::InvalidHandle,
        P::CommError,
    ]
    .iter()
    .any(|&p| e.pcsc_code == p as u32)
}

/// Runs a card operation under the lock on the process's PC/SC context (see the module comment);
/// `op` runs a second time, on a fresh context, when the kept one turned out to be lost.
pub(crate) fn with_context<T>(op: impl Fn(&Context) -> Result<T>) -> Result<T> {
    let mut slot = lock();
    let pid = std::process::id();
    if let Some(inherited) = slot.take_if(|k| k.pid != pid) {
        // Forked: the context belongs to the parent's pcscd connection; releasing it here would
        // release the parent's.
        std::mem::forget(inherited.ctx);
    }
    match slot.as_ref().map(|k| k.ctx.clone()) {
        Some(ctx) => match op(&ctx) {
            Err(e) if context_lost(&e) => {
                *slot = None;
                drop(ctx); // the last clone: SCardReleaseContext, still under the lock
                run_on_fresh(&mut slot, &op)
            }
            r => r,
        },
        None => run_on_fresh(&mut slot, &op),
    }
}

fn run_on_fresh<T>(slot: &mut Option<Kept>, op: &impl Fn(&Context) -> Result<T>) -> Result<T> {
    let ctx = establish()?;
    let result = op(&ctx);
    if !matches!(&result, Err(e) if context_lost(e)) {
        *slot = Some(Kept {
            pid: std::process::id(),
            ctx,
        });
    }
    result
}

/// A context for a wait: its own (a blocking `SCardGetStatusChange` must not hold the shared one),
/// established and released (when its last clone goes) under the lock.
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
