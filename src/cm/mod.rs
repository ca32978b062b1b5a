//! The MIM CM REST client: bind a card to a request, and read back smartcards and requests to reconcile an
//! assignment whose outcome is unknown.
//!
//! * [`client`] — the calls ([`CmClient`]);
//! * [`objects`] — what is sent and read, and its JSON;
//! * [`answer`] — error answers mapped to statuses and advice;
//! * [`transport`] — one logical call over HTTP: authentication, connection reuse, at-most-once;
//! * [`url`] — the server URL rules.

pub mod answer;
pub mod client;
pub mod objects;
pub mod transport;
pub mod url;

pub use client::{CmClient, ConnectionConfig};
pub use objects::{AssignOutcome, Assignment, BindingState, CmRequest, Reconciliation, Smartcard};
pub use transport::{HttpAnswer, Idempotency, Transport, TransportConfig};
