//! The one status type of the library.
//!
//! Every fallible export returns a `cm_status` (an `int32_t` in C). The numbers are part of the ABI:
//! they are explicit, grouped by subsystem and **never renumbered**. A retired code is reserved, not reused.
//! Groups: 0 success; 1–99 arguments; 100–199 PC/SC and card; 200–299 transport; 300–399 server answers;
//! 400–499 authentication; 900–999 internal.

/// Status codes returned by every fallible `cm_*` function. 0 means success.
///
/// The numeric values are stable across releases; new codes are only ever added.
/// `cm_status_str()` gives a short static English description of any code, and the
/// `cm_last_error_*()` functions give the detailed message of the last failing call on this thread.
#[repr(i32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Status {
    /// Success.
    Ok = 0,

    // ---- 1–99: arguments -------------------------------------------------------------------
    /// A required pointer argument was NULL.
    NullArgument = 1,
    /// A string argument was not valid UTF-8.
    InvalidUtf8 = 2,
    /// A GUID argument (request id, card id, smartcard uuid) is malformed.
    InvalidGuid = 3,
    /// An ATR argument is malformed: not hex, wrong length, bad TS, bad structure or bad TCK.
    InvalidAtr = 4,
    /// The server URL is malformed or uses a scheme other than http/https.
    InvalidUrl = 5,
    /// The output buffer is NULL or too small; the size needed was written to the `*_len_out` parameter.
    BufferTooSmall = 6,
    /// An argument is out of range or inconsistent (details in the last-error message).
    InvalidArgument = 7,
    /// The `struct_size` field of an input struct is 0 or smaller than any version this library knows.
    InvalidStructSize = 8,
    /// A file given as an option (for example a CA bundle) could not be read or parsed.
    InvalidFile = 9,
    /// A CM object has no such field, or its value is null (`cm_object_get_*`).
    FieldMissing = 10,
    /// A CM object's field holds another JSON type than the accessor reads (details in the message).
    FieldType = 11,
    /// An index is past the end of a list or array field.
    IndexOutOfRange = 12,
    /// An enum field holds a number whose name is not documented; `cm_object_get_int` still reads it.
    EnumUnknown = 13,

    // ---- 100–199: PC/SC and the card -------------------------------------------------------
    /// The PC/SC service is not running (Linux: pcscd; Windows: the "Smart Card" service).
    PcscNoService = 100,
    /// No smart-card reader is connected.
    PcscNoReaders = 101,
    /// The named reader does not exist (unplugged or misspelt).
    PcscUnknownReader = 102,
    /// The reader is empty: no card inserted (or no reader holds a card).
    PcscNoCard = 103,
    /// The card was removed during the operation.
    PcscCardRemoved = 104,
    /// The card was reset by another application during the operation.
    PcscCardReset = 105,
    /// Another program holds the card exclusively.
    PcscSharingViolation = 106,
    /// The card does not respond (mute, inserted the wrong way, dirty contacts).
    PcscUnresponsiveCard = 107,
    /// The card is not powered.
    PcscUnpoweredCard = 108,
    /// The reader cannot communicate with this card.
    PcscUnsupportedCard = 109,
    /// No card was presented within the timeout.
    PcscTimeout = 110,
    /// The wait was cancelled by `cm_cancel_waits()` or another PC/SC cancel.
    PcscCancelled = 111,
    /// The reader is temporarily unavailable.
    PcscReaderUnavailable = 112,
    /// The card has no minidriver card ID this library can read (not GIDS, not a Windows virtual smart card, not PIV).
    CardIdNotFound = 113,
    /// The card answered an APDU with an unexpected status word or malformed data.
    CardProtocolError = 114,
    /// Any other PC/SC failure; the raw SCARD code is in the last-error message.
    PcscError = 199,

    // ---- 200–299: transport -----------------------------------------------------------------
    /// The server host name could not be resolved.
    DnsFailed = 200,
    /// The TCP connection could not be established (refused, unreachable, connect timeout). Nothing was sent.
    ConnectFailed = 201,
    /// TLS failed: the server certificate is not trusted, expired or for another host, or the handshake failed.
    TlsFailed = 202,
    /// A request that is safe to repeat (a GET, or a POST that was never sent) timed out.
    Timeout = 203,
    /// The POST may have reached the server, but no answer was received (connection closed or timed out after
    /// sending). It was NOT retried. Use `cm_reconcile_assignment()` to learn whether the card was bound.
    /// A request that provably never reached the server (connect, TLS handshake, proxy, a pooled connection
    /// found closed) is never reported with this code.
    OutcomeUnknown = 204,
    /// The response exceeded the library's size cap.
    ResponseTooLarge = 205,
    /// The server answered with a redirect; redirects are never followed (credentials must not leak).
    RedirectRefused = 206,
    /// The proxy could not be reached, or refused or failed the tunnel to the server. Nothing was sent.
    ProxyFailed = 207,
    /// Any other transport failure (the last-error message names it).
    TransportError = 299,

    // ---- 300–399: server answers ------------------------------------------------------------
    /// HTTP 403 Forbidden: request not Approved/Executing, card or request already bound, or missing CM permissions.
    HttpForbidden = 300,
    /// HTTP 404 Not Found: the CM REST API is disabled (`Clm.WebApi.Enabled` is false by default) or the URL is wrong.
    HttpNotFound = 301,
    /// HTTP 5xx: server-side failure; the correlation id, when present, is in the last error.
    HttpServerError = 302,
    /// HTTP 400 Bad Request: the server rejected the request body.
    HttpBadRequest = 303,
    /// Any other unexpected HTTP status (the status is in the last error).
    HttpUnexpectedStatus = 304,
    /// A success status with a body that is not what the API documents (not JSON, wrong type, no smartcard URI).
    MalformedResponse = 305,

    // ---- 400–499: authentication ------------------------------------------------------------
    /// HTTP 401 and no usable authentication method was configured or offered by the server.
    AuthRequired = 400,
    /// The server rejected the credentials (a 401 after the last authentication leg).
    AuthRejected = 401,
    /// Credentials could not be obtained locally (no Kerberos ticket, no keytab, SSPI/GSSAPI failure).
    AuthUnavailable = 402,
    /// Credentials would be sent over plain `http://` and the caller did not opt in.
    AuthInsecureTransport = 403,
    /// The server's final Negotiate token failed mutual-authentication verification.
    AuthMutualFailed = 404,
    /// The requested authentication method is not built into this library (for example a disabled cargo feature).
    AuthUnsupported = 405,
    /// The server PROCESSED the request (it answered 2xx) but its identity is not proven: its final Negotiate
    /// token was missing or did not verify. The outcome is known — do NOT send the request again. Outputs are
    /// filled as on success; treat them with suspicion.
    AuthServerUnverified = 406,
    /// The proxy demands authentication that could not be given (no usable scheme, or credentials refused).
    /// Nothing was sent to the server.
    ProxyAuthRequired = 407,

    // ---- 900–999: internal ------------------------------------------------------------------
    /// A bug: a panic was caught at the library boundary. The host process is unaffected.
    Panic = 900,
    /// A bug or an impossible state inside the library.
    Internal = 901,
}

impl Status {
    /// All codes, in numeric order (for tests and for `cm_status_str`).
    pub const ALL: &'static [Status] = &[
        Self::Ok,
        Self::NullArgument,
        Self::InvalidUtf8,
        Self::InvalidGuid,
        Self::InvalidAtr,
        Self::InvalidUrl,
        Self::BufferTooSmall,
        Self::InvalidArgument,
        Self::InvalidStructSize,
        Self::InvalidFile,
        Self::FieldMissing,
        Self::FieldType,
        Self::IndexOutOfRange,
        Self::EnumUnknown,
        Self::PcscNoService,
        Self::PcscNoReaders,
        Self::PcscUnknownReader,
        Self::PcscNoCard,
        Self::PcscCardRemoved,
        Self::PcscCardReset,
        Self::PcscSharingViolation,
        Self::PcscUnresponsiveCard,
        Self::PcscUnpoweredCard,
        Self::PcscUnsupportedCard,
        Self::PcscTimeout,
        Self::PcscCancelled,
        Self::PcscReaderUnavailable,
        Self::CardIdNotFound,
        Self::CardProtocolError,
        Self::PcscError,
        Self::DnsFailed,
        Self::ConnectFailed,
        Self::TlsFailed,
        Self::Timeout,
        Self::OutcomeUnknown,
        Self::ResponseTooLarge,
        Self::RedirectRefused,
        Self::ProxyFailed,
        Self::TransportError,
        Self::HttpForbidden,
        Self::HttpNotFound,
        Self::HttpServerError,
        Self::HttpBadRequest,
        Self::HttpUnexpectedStatus,
        Self::MalformedResponse,
        Self::AuthRequired,
        Self::AuthRejected,
        Self::AuthUnavailable,
        Self::AuthInsecureTransport,
        Self::AuthMutualFailed,
        Self::AuthUnsupported,
        Self::AuthServerUnverified,
        Self::ProxyAuthRequired,
        Self::Panic,
        Self::Internal,
    ];

    /// Short static English description (the text `cm_status_str` returns, without the NUL).
    pub fn description(self) -> &'static str {
        use Status::*;
        match self {
            Ok => "success",
            NullArgument => "a required pointer argument was NULL",
            InvalidUtf8 => "a string argument is not valid UTF-8",
            InvalidGuid => "malformed GUID",
            InvalidAtr => "malformed ATR",
            InvalidUrl => "malformed server URL",
            BufferTooSmall => "output buffer too small; the needed size was returned",
            InvalidArgument => "invalid argument",
            InvalidStructSize => "struct_size is 0 or too small",
            InvalidFile => "a file given as an option could not be read or parsed",
            FieldMissing => "the object has no such field, or it is null",
            FieldType => "the field holds another type than requested",
            IndexOutOfRange => "index out of range",
            EnumUnknown => "the enum number has no documented name",
            PcscNoService => "the PC/SC service is not running",
            PcscNoReaders => "no smart-card reader connected",
            PcscUnknownReader => "unknown smart-card reader",
            PcscNoCard => "no card in the reader",
            PcscCardRemoved => "the card was removed during the operation",
            PcscCardReset => "the card was reset by another application",
            PcscSharingViolation => "the card is in use by another program",
            PcscUnresponsiveCard => "the card does not respond",
            PcscUnpoweredCard => "the card is not powered",
            PcscUnsupportedCard => "the reader cannot communicate with this card",
            PcscTimeout => "no card presented within the timeout",
            PcscCancelled => "the operation was cancelled",
            PcscReaderUnavailable => "the reader is temporarily unavailable",
            CardIdNotFound => "the card has no readable minidriver card ID",
            CardProtocolError => "the card answered with an unexpected status or malformed data",
            PcscError => "PC/SC error",
            DnsFailed => "the server name could not be resolved",
            ConnectFailed => "could not connect to the server",
            TlsFailed => "TLS failure (certificate not trusted or handshake failed)",
            Timeout => "the server did not answer in time",
            OutcomeUnknown => {
                "the request may have reached the server but no answer was received; outcome unknown"
            }
            ResponseTooLarge => "the server's response is too large",
            RedirectRefused => "the server answered with a redirect, which is not followed",
            ProxyFailed => "the proxy could not be reached or refused the tunnel; nothing was sent",
            TransportError => "transport error",
            HttpForbidden => "HTTP 403 Forbidden",
            HttpNotFound => "HTTP 404 Not Found (CM REST API disabled or wrong URL)",
            HttpServerError => "HTTP 5xx server error",
            HttpBadRequest => "HTTP 400 Bad Request",
            HttpUnexpectedStatus => "unexpected HTTP status",
            MalformedResponse => "malformed response from the server",
            AuthRequired => "HTTP 401: authentication required",
            AuthRejected => "the server rejected the credentials",
            AuthUnavailable => "credentials could not be obtained",
            AuthInsecureTransport => "refused to send credentials over plain http",
            AuthMutualFailed => "mutual authentication of the server failed",
            AuthUnsupported => "authentication method not supported by this build",
            AuthServerUnverified => {
                "the server processed the request but did not prove its identity; do not send it again"
            }
            ProxyAuthRequired => "the proxy demands authentication that could not be given",
            Panic => "internal error: a panic was caught",
            Internal => "internal error",
        }
    }
}
