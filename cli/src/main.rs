//! `cm-smartcard`: every job of the cm-smartcard library from a shell, and `doctor` for a CM server that will
//! not answer. Written on the library's Rust core (`cm_smartcard::{card, atr, cm, http, auth}`), not through
//! the C ABI. Reference: docs/cli.md.

#[macro_use]
mod out;
mod args;
mod cards;
mod connect;
mod der;
mod doctor;
mod flow;
mod server_cmds;

use args::{Cli, Command};
use clap::Parser;
use cm_smartcard::{Error, Status};
use std::process::ExitCode;

/// Exit codes (documented in `--help` and docs/cli.md; scripts rely on them, so never renumber).
pub mod exit {
    /// Success.
    pub const OK: u8 = 0;
    /// The operation failed (the server refused, the card could not be read, …); nothing was changed.
    pub const FAILURE: u8 = 1;
    /// Bad command line or argument; nothing was sent.
    pub const USAGE: u8 = 2;
    /// The request may have reached the server and no answer came: outcome unknown. Never resend; reconcile.
    pub const OUTCOME_UNKNOWN: u8 = 3;
    /// The server processed the request but did not prove its identity (mutual authentication). Do not resend.
    pub const UNVERIFIED: u8 = 4;
    /// The server answered, but CM has no such object (smartcard, request, profile, profile template).
    pub const NOT_FOUND: u8 = 5;
    /// Cancelled (Ctrl-C during `wait`).
    pub const CANCELLED: u8 = 130;
}

/// The exit code table, as `--help` shows it.
pub const EXIT_CODES_HELP: &str = "\
Exit codes:
  0    success
  1    failure (the error names the library status, e.g. CM_STATUS_HTTP_FORBIDDEN, and what to do)
  2    usage error: bad option or argument; nothing was sent
  3    outcome unknown: the request may have reached the server; do NOT resend. Find out with the
       command the message names (`reconcile`, `request find-created`, `request get`, …);
       `request create` runs its reconcile itself and prints what it found
  4    the server processed the request but did not prove its identity; do NOT resend
  5    not found: the server answered, CM has no such smartcard, request, profile or template
  130  cancelled (Ctrl-C)

Secrets are never taken from the command line: the password comes from CM_PASSWORD, --password-stdin or a
prompt on the terminal; a bearer token from CM_BEARER_TOKEN or --token-stdin; a PFX password from
CM_PFX_PASSWORD or --pfx-password-stdin. Secrets CM returns (admin keys, PINs) are printed only with --show.
Colors only on a terminal, never with NO_COLOR set. Reference: docs/cli.md";

/// A failure of a command: the exit code and what to print.
#[derive(Debug)]
pub struct Failure {
    pub exit: u8,
    pub error: Error,
}

impl Failure {
    /// A usage error found by the CLI itself (exit 2).
    pub fn usage(message: impl Into<String>) -> Failure {
        Failure {
            exit: exit::USAGE,
            error: Error::new(Status::InvalidArgument, message),
        }
    }
}

impl From<Error> for Failure {
    fn from(error: Error) -> Failure {
        Failure {
            exit: exit_code_for(error.status),
            error,
        }
    }
}

/// The exit code for a library status.
pub fn exit_code_for(status: Status) -> u8 {
    match status {
        Status::Ok => exit::OK,
        Status::InvalidGuid
        | Status::InvalidAtr
        | Status::InvalidUrl
        | Status::InvalidArgument
        | Status::InvalidUtf8
        | Status::InvalidFile
        | Status::NullArgument => exit::USAGE,
        Status::OutcomeUnknown => exit::OUTCOME_UNKNOWN,
        Status::AuthServerUnverified => exit::UNVERIFIED,
        Status::PcscCancelled => exit::CANCELLED,
        _ => exit::FAILURE,
    }
}

pub type CmdResult = Result<u8, Failure>;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // clap prints help/version to stdout (exit 0) and usage errors to stderr (exit 2).
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() {
                exit::USAGE
            } else {
                exit::OK
            });
        }
    };
    let o = out::Output::new(cli.json, cli.verbose);
    if cli.verbose {
        cm_smartcard::http::trace::set_hook(out::trace_line);
    }
    let result = match cli.command {
        Command::Readers => cards::readers(&o),
        Command::Atr(a) => cards::atr(&o, a),
        Command::CardId(a) => cards::card_id(&o, a),
        Command::Wait(a) => cards::wait(&o, a),
        Command::ParseAtr(a) => cards::parse_atr(&o, a),
        Command::Assign(a) => server_cmds::assign(&o, a),
        Command::Reconcile(a) => server_cmds::reconcile(&o, a),
        Command::Smartcard(a) => server_cmds::smartcard(&o, a),
        Command::Request(a) => server_cmds::request(&o, a),
        Command::Template(a) => flow::template(&o, a),
        Command::Csr(a) => flow::csr(&o, a),
        Command::Profile(a) => flow::profile(&o, a),
        Command::Certificates { server } => flow::user_certificates(&o, server),
        Command::Doctor(a) => doctor::run(&o, a),
        Command::Completions { shell } => {
            use clap::CommandFactory;
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "cm-smartcard", &mut script);
            // The generators list hidden options too: never offer --password/--token, which only refuse.
            let script = String::from_utf8_lossy(&script).replace(" --password --token", "");
            for line in script.lines().filter(|l| !l.contains("Never accepted")) {
                say!("{line}");
            }
            Ok(exit::OK)
        }
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(f) => {
            o.error(&f.error, f.exit);
            ExitCode::from(f.exit)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_names_match_the_c_header() {
        let header = include_str!("../../include/cm_smartcard.h");
        for &status in Status::ALL {
            let name = out::status_name(status);
            let line = format!("  {name} = {},", status as i32);
            assert!(header.contains(&line), "{line} not in the header");
        }
    }

    #[test]
    fn every_validation_status_is_a_usage_error() {
        for s in [Status::InvalidGuid, Status::InvalidAtr, Status::InvalidUrl] {
            assert_eq!(exit_code_for(s), exit::USAGE);
        }
        assert_eq!(exit_code_for(Status::OutcomeUnknown), 3);
        assert_eq!(exit_code_for(Status::AuthServerUnverified), 4);
        assert_eq!(exit_code_for(Status::HttpForbidden), 1);
    }
}
