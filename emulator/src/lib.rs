//! MIM CM REST API emulator (placeholder; see issue 2).
