//! cm-smartcard binds a smart card (its ATR and minidriver card ID, read over PC/SC) to a
//! Microsoft Identity Manager Certificate Management (MIM CM) request through the CM REST API.
//!
//! The crate is a pure-Rust core (`atr`, `guid`, `card`, `cm`, `auth`) under a thin C ABI layer (`ffi`).
//! Rust callers use the core modules directly; C, C#, and PowerShell callers use the `cm_*` exports
//! declared in `include/cm_smartcard.h`.

pub mod atr;
pub mod auth;
pub mod card;
pub mod cm;
pub mod error;
pub mod ffi;
pub mod guid;
pub mod http;
pub mod status;

pub use error::{Error, Result};
pub use status::Status;
