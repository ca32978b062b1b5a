//! cm-smartcard: bind a smart card to a MIM CM request (placeholder).
