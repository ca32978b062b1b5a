//! Waiting for a card (`SCardGetStatusChange`) and cancelling waits from another thread.

use super::errors::{self, lossy};
#[cfg(windows)]
use super::pcsc;
use super::serial::{WaitCtx, serialized};
use super::{list_names, named, resolve_reader};
use crate::{Error, Result, Status};
use pcsc::{Context, ReaderState, State};
use std::ffi::{CStr, CString};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Contexts of the waits in flight, so that [`cancel_waits`] can `SCardCancel` them.
static WAITS: Mutex<Vec<(u64, Context)>> = Mutex::new(Vec::new());
static NEXT_ID: AtomicU64 = AtomicU64::new(1);
/// Incremented by every [`cancel_waits`]; a wait that sees it change before it blocks gives up, which
/// closes the window between establishing its context and registering it.
static CANCEL_GEN: AtomicU64 = AtomicU64::new(0);

fn waits() -> std::sync::MutexGuard<'static, Vec<(u64, Context)>> {
    WAITS.lock().unwrap_or_else(|p| p.into_inner())
}

struct Registration(u64);

impl Registration {
    fn new(ctx: &Context) -> Self {
        let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
        waits().push((id, ctx.clone()));
        Registration(id)
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        waits().retain(|(id, _)| *id != self.0);
    }
}

/// Cancels every [`wait_for_card`] in flight in this process (from any thread); they return
/// [`Status::PcscCancelled`]. A wait that has started but not yet blocked is cancelled too.
/// Returns the number of waits that were blocked and got an `SCardCancel`.
pub fn cancel_waits() -> usize {
    CANCEL_GEN.fetch_add(1, Ordering::SeqCst);
    let w = waits();
    for (_, ctx) in w.iter() {
        let _ = ctx.cancel();
    }
    w.len()
}

fn cancelled() -> Error {
    let code = pcsc::Error::Cancelled as u32;
    Error::new(
        Status::PcscCancelled,
        format!("The wait for a card was cancelled. [SCARD 0x{code:08X}]"),
    )
    .with_pcsc_code(code)
}

fn usable(s: &ReaderState) -> bool {
    let st = s.event_state();
    st.contains(State::PRESENT) && !st.contains(State::MUTE)
}

/// Waits until a card is present and returns the name of the reader that holds it.
///
/// The blocking `SCardGetStatusChange` runs outside the process-wide PC/SC lock (its own context), so
/// other threads keep reading cards and [`cancel_waits`] can always end it.
///
/// * `reader`: `Some(name)` waits on that reader (exact name, else a unique case-insensitive
///   substring, as for [`read_atr`](super::read_atr)); the reader must exist. `None` or an empty
///   name waits on every reader, including readers plugged in during the wait (PnP notification).
/// * `timeout`: `None` waits forever; `Some(d)` returns [`Status::PcscTimeout`]
///   ("No card presented within N s") when no card appeared in time. A card already present returns
///   at once, even with a zero timeout.
///
/// Another thread can end the wait with [`cancel_waits`] ([`Status::PcscCancelled`]).
/// A mute card (present but not answering) does not count as present.
pub fn wait_for_card(reader: Option<&CStr>, timeout: Option<Duration>) -> Result<CString> {
    let gen0 = CANCEL_GEN.load(Ordering::SeqCst);
    let ctx = WaitCtx::establish()?;
    // Dropped before `ctx`, so the last clone of the context is released by `ctx`, under the lock.
    let _reg = Registration::new(&ctx);
    let deadline = timeout.map(|t| Instant::now() + t);
    let target = match named(reader) {
        Some(name) => Some(serialized(|| resolve_reader(&ctx, name))?),
        None => None,
    };
    loop {
        let mut states: Vec<ReaderState> = match &target {
            Some(name) => vec![ReaderState::new(name.clone(), State::UNAWARE)],
            None => serialized(|| list_names(&ctx))?
                .into_iter()
                .map(|n| ReaderState::new(n, State::UNAWARE))
                .collect(),
        };
        if target.is_none() {
            states.push(ReaderState::new(pcsc::PNP_NOTIFICATION(), State::UNAWARE));
        }
        let mut first = true;
        'inner: loop {
            if CANCEL_GEN.load(Ordering::SeqCst) != gen0 {
                return Err(cancelled());
            }
            let remaining = match deadline {
                None => None,
                Some(d) => {
                    let now = Instant::now();
                    if now >= d && !first {
                        return Err(errors::wait_timeout(timeout.unwrap_or_default()));
                    }
                    Some(d.saturating_duration_since(now))
                }
            };
            first = false;
            match ctx.get_status_change(remaining, &mut states) {
                Ok(()) => {}
                Err(pcsc::Error::Timeout) => {
                    return Err(errors::wait_timeout(timeout.unwrap_or_default()));
                }
                Err(pcsc::Error::Cancelled) => return Err(cancelled()),
                Err(pcsc::Error::UnknownReader) if target.is_some() => {
                    let names = serialized(|| list_names(&ctx)).unwrap_or_default();
                    let refs: Vec<&CStr> = names.iter().map(|n| n.as_c_str()).collect();
                    return Err(errors::unknown_reader(
                        target.as_deref().unwrap_or(c""),
                        &refs,
                        None,
                    ));
                }
                Err(pcsc::Error::UnknownReader) => break 'inner, // a reader left: re-list
                Err(e) => return Err(errors::map(e, target.as_deref())),
            }
            let mut relist = false;
            for s in &states {
                if s.name() == pcsc::PNP_NOTIFICATION() {
                    if s.event_state().contains(State::CHANGED) && !s.current_state().is_empty() {
                        relist = true;
                    }
                    continue;
                }
                if usable(s) {
                    return Ok(s.name().to_owned());
                }
                if s.event_state()
                    .intersects(State::UNKNOWN | State::UNAVAILABLE)
                {
                    if let Some(t) = &target {
                        let names = serialized(|| list_names(&ctx)).unwrap_or_default();
                        let refs: Vec<&CStr> = names.iter().map(|n| n.as_c_str()).collect();
                        return Err(errors::unknown_reader(t, &refs, None).context(format!(
                            "Reader '{}' disappeared during the wait",
                            lossy(t)
                        )));
                    }
                    relist = true;
                }
            }
            for s in states.iter_mut() {
                s.sync_current_state();
            }
            if relist {
                break 'inner;
            }
        }
    }
}
