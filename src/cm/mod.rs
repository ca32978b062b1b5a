//! The MIM CM REST client: bind a card to a request, the whole enrollment and card lifecycle around it, and
//! reconciliation of state changes whose outcome is unknown.
//!
//! * [`client`] — the binding calls ([`CmClient`]);
//! * [`lifecycle`] — the rest of the enrollment and card lifecycle;
//! * [`object`] — any CM object, read through typed accessors;
//! * [`objects`] — what is sent and read, and its JSON;
//! * [`answer`] — error answers mapped to statuses and advice;
//! * [`transport`] — one logical call over HTTP: authentication, connection reuse, at-most-once;
//! * [`url`] — the server URL rules.

pub mod answer;
pub mod client;
pub mod lifecycle;
pub mod object;
pub mod objects;
pub mod time;
pub mod transport;
pub mod url;

pub use client::{CmClient, ConnectionConfig};
pub use lifecycle::{Owner, RequestSpec};
pub use object::{CmList, CmObject, ObjectKind};
pub use objects::{AssignOutcome, Assignment, BindingState, CmRequest, Reconciliation, Smartcard};
pub use transport::{HttpAnswer, Idempotency, Transport, TransportConfig};
