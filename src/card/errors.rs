//! Maps every `pcsc::Error` to a [`Status`] and a message that tells the user what to do.
//! The raw SCARD code is always kept in [`Error::pcsc_code`] and quoted in hex in the message.

use crate::{Error, Status};
use std::ffi::CStr;
use std::time::Duration;

/// Lossy display form of a reader name (names need not be UTF-8).
pub(crate) fn lossy(name: &CStr) -> String {
    String::from_utf8_lossy(name.to_bytes()).into_owned()
}

/// Comma-separated quoted list of reader names, or "none".
pub(crate) fn list_names<'a>(names: impl IntoIterator<Item = &'a CStr>) -> String {
    let v: Vec<String> = names
        .into_iter()
        .map(|n| format!("'{}'", lossy(n)))
        .collect();
    if v.is_empty() {
        "none".into()
    } else {
        v.join(", ")
    }
}

/// The raw SCARD code of a `pcsc::Error`.
pub(crate) fn raw_code(e: pcsc::Error) -> u32 {
    e as u32
}

/// The generic mapping. `reader` names the reader involved, when known.
pub(crate) fn map(e: pcsc::Error, reader: Option<&CStr>) -> Error {
    use pcsc::Error as P;
    let code = raw_code(e);
    let r = reader
        .map(|n| format!("'{}'", lossy(n)))
        .unwrap_or_else(|| "the reader".into());
    let (status, msg) = match e {
        P::NoService | P::ServiceStopped => (
            Status::PcscNoService,
            "The PC/SC service is not running. Linux: install pcscd and run \
             `systemctl enable --now pcscd.socket` (or start `pcscd`). Windows: connect a reader or \
             start the 'Smart Card' service (SCardSvr)."
                .to_string(),
        ),
        P::NoReadersAvailable => (
            Status::PcscNoReaders,
            "No smart-card reader found. Connect a reader.".to_string(),
        ),
        P::UnknownReader => (
            Status::PcscUnknownReader,
            format!("Reader {r} not found (unplugged or misspelt)."),
        ),
        P::NoSmartcard => (
            Status::PcscNoCard,
            format!("No card in reader {r}. Insert the card."),
        ),
        P::RemovedCard => (
            Status::PcscCardRemoved,
            format!("The card was removed from {r} during the operation. Reinsert it and retry."),
        ),
        P::ResetCard => (
            Status::PcscCardReset,
            format!(
                "The card in {r} was reset by another application during the operation. Retry."
            ),
        ),
        P::SharingViolation => (
            Status::PcscSharingViolation,
            format!(
                "The card in {r} is in use by another program that holds it exclusively \
                 (for example gpg-agent/scdaemon, gsd-smartcard, yubikey-agent, or macOS ctkpcscd). \
                 Close that program and retry; on Linux `lsof +E /run/pcscd/pcscd.comm` shows who is connected."
            ),
        ),
        P::UnresponsiveCard => (
            Status::PcscUnresponsiveCard,
            format!(
                "The card in {r} does not respond. Check that it is inserted the right way round and \
                 its contacts are clean, or try another reader."
            ),
        ),
        P::UnpoweredCard => (
            Status::PcscUnpoweredCard,
            format!("The card in {r} is not powered. Remove and reinsert it."),
        ),
        P::UnsupportedCard | P::CardUnsupported => (
            Status::PcscUnsupportedCard,
            format!("Reader {r} cannot communicate with this card."),
        ),
        P::Timeout => (
            Status::PcscTimeout,
            "The PC/SC operation timed out.".to_string(),
        ),
        P::Cancelled | P::SystemCancelled => (
            Status::PcscCancelled,
            "The operation was cancelled.".to_string(),
        ),
        P::ReaderUnavailable | P::NotReady => (
            Status::PcscReaderUnavailable,
            format!("Reader {r} is temporarily unavailable. Wait a moment and retry."),
        ),
        P::InternalError | P::CommError | P::UnknownError => (
            Status::PcscError,
            format!("Smart-card subsystem error talking to {r}: {e}."),
        ),
        _ => (Status::PcscError, format!("PC/SC error: {e}.")),
    };
    Error::new(status, format!("{msg} [SCARD 0x{code:08X}]")).with_pcsc_code(code)
}

/// "Reader 'x' not found. Available: …"
pub(crate) fn unknown_reader(name: &CStr, available: &[&CStr], code: Option<u32>) -> Error {
    let code = code.unwrap_or(raw_code(pcsc::Error::UnknownReader));
    Error::new(
        Status::PcscUnknownReader,
        format!(
            "Reader '{}' not found. Available readers: {}. [SCARD 0x{code:08X}]",
            lossy(name),
            list_names(available.iter().copied())
        ),
    )
    .with_pcsc_code(code)
}

/// The end of a wait without a card.
pub(crate) fn wait_timeout(timeout: Duration) -> Error {
    let code = raw_code(pcsc::Error::Timeout);
    Error::new(
        Status::PcscTimeout,
        format!(
            "No card presented within {} s. [SCARD 0x{code:08X}]",
            fmt_secs(timeout)
        ),
    )
    .with_pcsc_code(code)
}

fn fmt_secs(d: Duration) -> String {
    if d.subsec_millis() == 0 {
        d.as_secs().to_string()
    } else {
        format!("{:.1}", d.as_secs_f64())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_named_error_has_its_status_and_code() {
        use pcsc::Error as P;
        let name = c"Lecteur virtuel é 00 00";
        let cases = [
            (P::NoService, Status::PcscNoService, "systemctl"),
            (P::ServiceStopped, Status::PcscNoService, "pcscd"),
            (
                P::NoReadersAvailable,
                Status::PcscNoReaders,
                "Connect a reader",
            ),
            (
                P::UnknownReader,
                Status::PcscUnknownReader,
                "Lecteur virtuel é",
            ),
            (P::NoSmartcard, Status::PcscNoCard, "Insert the card"),
            (P::RemovedCard, Status::PcscCardRemoved, "Reinsert"),
            (P::ResetCard, Status::PcscCardReset, "reset"),
            (
                P::SharingViolation,
                Status::PcscSharingViolation,
                "scdaemon",
            ),
            (
                P::UnresponsiveCard,
                Status::PcscUnresponsiveCard,
                "contacts",
            ),
            (P::UnpoweredCard, Status::PcscUnpoweredCard, "reinsert"),
            (
                P::UnsupportedCard,
                Status::PcscUnsupportedCard,
                "cannot communicate",
            ),
            (P::Timeout, Status::PcscTimeout, "timed out"),
            (P::Cancelled, Status::PcscCancelled, "cancelled"),
            (
                P::ReaderUnavailable,
                Status::PcscReaderUnavailable,
                "temporarily",
            ),
            (P::InternalError, Status::PcscError, "subsystem"),
            (P::InsufficientBuffer, Status::PcscError, "PC/SC error"),
        ];
        for (e, st, needle) in cases {
            let m = map(e, Some(name));
            assert_eq!(m.status, st, "{e:?}");
            assert_eq!(m.pcsc_code, e as u32);
            assert!(m.message.contains(needle), "{e:?}: {}", m.message);
            assert!(
                m.message.contains(&format!("0x{:08X}", e as u32)),
                "{}",
                m.message
            );
        }
        assert_eq!(map(P::NoService, None).pcsc_code, 0x8010001D);
        assert_eq!(map(P::RemovedCard, None).pcsc_code, 0x80100069);
    }

    #[test]
    fn unknown_reader_lists_available() {
        let e = unknown_reader(c"Nope", &[c"A 00 00", c"B 00 00"], None);
        assert_eq!(e.status, Status::PcscUnknownReader);
        assert!(e.message.contains("'A 00 00', 'B 00 00'"), "{}", e.message);
        assert_eq!(e.pcsc_code, 0x80100009);
        let e = wait_timeout(Duration::from_secs(3));
        assert!(e.message.starts_with("No card presented within 3 s"));
        assert_eq!(e.status, Status::PcscTimeout);
    }
}
