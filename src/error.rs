//! The library's error value: a status code plus everything a PKI engineer needs to act on it.

use crate::status::Status;
use std::fmt;

/// A failure: the stable status code, a human-readable message, and the details that came with it.
///
/// Messages never contain secrets (passwords, tokens, `Authorization` headers).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    /// The stable status code.
    pub status: Status,
    /// Full English message: what happened and, where possible, what to do about it.
    pub message: String,
    /// HTTP status of the server's answer, 0 when there was none.
    pub http_status: u16,
    /// The message the server sent in its error body (truncated), if any.
    pub server_message: Option<String>,
    /// The correlation id the server sent with a 500 answer, if any.
    pub correlation_id: Option<String>,
    /// The raw PC/SC (SCARD_*) code, 0 when the failure did not come from PC/SC.
    pub pcsc_code: u32,
}

impl Error {
    /// An error with a status and a message and no further details.
    pub fn new(status: Status, message: impl Into<String>) -> Self {
        Error {
            status,
            message: message.into(),
            http_status: 0,
            server_message: None,
            correlation_id: None,
            pcsc_code: 0,
        }
    }

    /// Adds the HTTP status of the answer that caused this error.
    pub fn with_http_status(mut self, http_status: u16) -> Self {
        self.http_status = http_status;
        self
    }

    /// Adds the (already truncated) message the server sent.
    pub fn with_server_message(mut self, server_message: Option<String>) -> Self {
        self.server_message = server_message;
        self
    }

    /// Adds the server's correlation id.
    pub fn with_correlation_id(mut self, correlation_id: Option<String>) -> Self {
        self.correlation_id = correlation_id;
        self
    }

    /// Adds the raw PC/SC code.
    pub fn with_pcsc_code(mut self, pcsc_code: u32) -> Self {
        self.pcsc_code = pcsc_code;
        self
    }

    /// Prefixes the message with context, keeping status and details.
    pub fn context(mut self, context: impl fmt::Display) -> Self {
        self.message = format!("{context}: {}", self.message);
        self
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.message)
    }
}

impl std::error::Error for Error {}

/// Result alias used by every core module.
pub type Result<T> = std::result::Result<T, Error>;
