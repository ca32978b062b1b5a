//! Output: aligned text for people (colors only on a terminal without NO_COLOR), JSON for scripts, errors
//! with the library's status name.

use cm_smartcard::{Error, Status};

/// `println!` that never panics: a closed stdout (`cm-smartcard readers | head -1`) ends the output quietly.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout().lock(), $($arg)*);
    }};
}

use serde_json::{Value, json};
use std::io::{IsTerminal, Write};

/// How to print.
pub struct Output {
    pub json: bool,
    pub verbose: bool,
    color_out: bool,
    color_err: bool,
}

/// Whether colors are allowed at all (<https://no-color.org>: any non-empty NO_COLOR disables them).
fn colors_allowed() -> bool {
    std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
        && std::env::var_os("TERM").is_none_or(|t| t != "dumb")
}

#[derive(Clone, Copy)]
pub enum Tone {
    Good,
    Warn,
    Bad,
    Dim,
}

impl Output {
    pub fn new(json: bool, verbose: bool) -> Output {
        let allowed = colors_allowed();
        Output {
            json,
            verbose,
            color_out: allowed && !json && std::io::stdout().is_terminal(),
            color_err: allowed && std::io::stderr().is_terminal(),
        }
    }

    fn paint(enabled: bool, tone: Tone, text: &str) -> String {
        if !enabled {
            return text.to_string();
        }
        let code = match tone {
            Tone::Good => "32",
            Tone::Warn => "33",
            Tone::Bad => "31",
            Tone::Dim => "2",
        };
        format!("\x1b[{code}m{text}\x1b[0m")
    }

    /// `text` colored for stdout (when allowed).
    pub fn color(&self, tone: Tone, text: &str) -> String {
        Output::paint(self.color_out, tone, text)
    }

    /// Prints aligned `key  value` rows (or nothing in JSON mode: callers print JSON themselves).
    pub fn rows(&self, rows: &[(&str, String)]) {
        let width = rows
            .iter()
            .map(|(k, _)| k.chars().count())
            .max()
            .unwrap_or(0);
        let mut o = std::io::stdout().lock();
        for (k, v) in rows {
            let _ = writeln!(o, "{k:<width$}  {v}");
        }
    }

    /// Prints a JSON value on stdout.
    pub fn print_json(&self, value: &Value) {
        let mut o = std::io::stdout().lock();
        let _ = writeln!(
            o,
            "{}",
            serde_json::to_string_pretty(value).unwrap_or_default()
        );
    }

    /// A line on stderr for the person at the terminal (progress, notes), never in stdout.
    pub fn note(&self, text: &str) {
        eprintln!("{text}");
    }

    /// Prints a warning that came with a successful answer (the server did not prove its identity).
    pub fn warning(&self, e: &Error) {
        let label = Output::paint(self.color_err, Tone::Warn, "warning");
        eprintln!(
            "{label}: {} ({}): {}",
            status_name(e.status),
            e.status as i32,
            e.message
        );
    }

    /// Prints a failure: the status name and number, the library's message, details; JSON too with --json.
    pub fn error(&self, e: &Error, exit: u8) {
        self.error_lines(e);
        if self.json {
            self.print_json(&json!({ "error": error_json(e), "exit_code": exit }));
        }
    }

    /// The failure's lines on stderr (for commands that print their own JSON around an error).
    pub fn error_lines(&self, e: &Error) {
        let label = Output::paint(self.color_err, Tone::Bad, "error");
        eprintln!(
            "{label}: {} ({}): {}",
            status_name(e.status),
            e.status as i32,
            e.message
        );
        // The library's message usually quotes them already; print what it does not.
        if let Some(m) = e
            .server_message
            .as_ref()
            .filter(|m| !e.message.contains(m.as_str()))
        {
            eprintln!("  server said: {m}");
        }
        if let Some(c) = e
            .correlation_id
            .as_ref()
            .filter(|c| !e.message.contains(c.as_str()))
        {
            eprintln!("  correlation id: {c}");
        }
    }
}

/// The error as JSON (status name and number, message, HTTP status, server details).
pub fn error_json(e: &Error) -> Value {
    json!({
        "status": status_name(e.status),
        "code": e.status as i32,
        "message": e.message,
        "http_status": (e.http_status != 0).then_some(e.http_status),
        "server_message": e.server_message,
        "correlation_id": e.correlation_id,
        "pcsc_code": (e.pcsc_code != 0).then(|| format!("0x{:08X}", e.pcsc_code)),
    })
}

/// `CM_STATUS_HTTP_FORBIDDEN` for [`Status::HttpForbidden`]: the C header's name.
pub fn status_name(status: Status) -> String {
    let debug = format!("{status:?}");
    let mut name = String::from("CM_STATUS_");
    let mut prev_lower = false;
    for c in debug.chars() {
        if c.is_ascii_uppercase() && prev_lower {
            name.push('_');
        }
        prev_lower = c.is_ascii_lowercase() || c.is_ascii_digit();
        name.push(c.to_ascii_uppercase());
    }
    name
}

/// The `--verbose` hook: the library hands over lines that are already redacted.
pub fn trace_line(line: &str) {
    // Bodies that carry card secrets (admin keys, PINs, PFX files and passwords) arrive as their size only.
    eprintln!("  {line}");
}
