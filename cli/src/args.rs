//! The command line: subcommands, options, and their help texts with examples.

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;
use std::time::Duration;

#[derive(Parser, Debug)]
#[command(
    name = "cm-smartcard",
    version,
    about = "Read smart cards, bind them to MIM Certificate Management requests, and diagnose a CM server",
    long_about = None,
    after_help = crate::EXIT_CODES_HELP,
    propagate_version = true,
)]
pub struct Cli {
    /// Machine-readable JSON on stdout (errors too, as {"error":{...}})
    #[arg(long, global = true)]
    pub json: bool,
    /// Show the HTTP exchange on stderr, every credential redacted
    #[arg(long, short, global = true)]
    pub verbose: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// List the smart-card readers, whether a card is present, and its ATR
    #[command(after_help = "Examples:\n  cm-smartcard readers\n  cm-smartcard readers --json")]
    Readers,
    /// Read the ATR of the card in READER (default: the first reader holding a card)
    #[command(after_help = "Examples:\n  cm-smartcard atr\n  cm-smartcard atr \"Yubico YubiKey\"")]
    Atr(ReaderArg),
    /// Read the minidriver card ID (GIDS DF20 or PIV CHUID) of the card in READER
    #[command(
        after_help = "Examples:\n  cm-smartcard card-id\n  cm-smartcard card-id \"Virtual PCD 00 00\" --byte-order rfc4122"
    )]
    CardId(CardIdArgs),
    /// Wait until a card is present in READER (default: any reader); Ctrl-C cancels
    #[command(
        after_help = "Examples:\n  cm-smartcard wait\n  cm-smartcard wait \"Virtual PCD\" --timeout 30"
    )]
    Wait(WaitArgs),
    /// Explain an ATR (hex, spaced or colon-separated)
    #[command(
        after_help = "Examples:\n  cm-smartcard parse-atr 3b8d0180fba000000397425446590301c8"
    )]
    ParseAtr(ParseAtrArgs),
    /// Bind a card to a CM request (POST /smartcards; sent at most once)
    #[command(after_help = "\
Examples:
  cm-smartcard assign --server https://cm.contoso.com --request 4f7c0e2a-… --reader \"Yubico YubiKey\"
  cm-smartcard assign --server https://cm.contoso.com --request 4f7c0e2a-… --card-id 767c1c46-… --atr 3b8d01…
  CM_PASSWORD=… cm-smartcard assign --server https://cm --auth basic --user carol --request …

Exit 3 means the outcome is unknown: never resend; run `cm-smartcard reconcile` with the same ids.")]
    Assign(AssignArgs),
    /// Learn whether a binding took effect (after exit code 3): reads the request and its smartcard
    #[command(
        after_help = "Examples:\n  cm-smartcard reconcile --server https://cm.contoso.com --request 4f7c… --card-id 767c…"
    )]
    Reconcile(ReconcileArgs),
    /// Read smartcards: `get UUID` or `find --card-id ID`
    #[command(subcommand)]
    Smartcard(SmartcardCmd),
    /// Read requests: `get ID`
    #[command(subcommand)]
    Request(RequestCmd),
    /// Diagnose the way to a CM server: DNS, TCP, TLS, HTTP, API, authentication, clock, permissions (GETs only)
    #[command(after_help = "\
Each check prints ok / warning / failed, what it saw and what to do. Only GET requests are sent.
Exit code: 0 when no check failed (warnings allowed), 1 when one did, 2 for a usage error.

Examples:
  cm-smartcard doctor --server https://cm.contoso.com
  cm-smartcard doctor --server https://cm.contoso.com --ca-file corp-root.pem --reader \"Yubico\"
  cm-smartcard doctor --server http://cmlab:8080 --insecure-http --json")]
    Doctor(DoctorArgs),
    /// Print a shell completion script (bash, zsh, fish, powershell, elvish)
    #[command(
        after_help = "Examples:\n  cm-smartcard completions bash > /etc/bash_completion.d/cm-smartcard\n  cm-smartcard completions powershell >> $PROFILE"
    )]
    Completions {
        /// The shell
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

#[derive(Args, Debug)]
pub struct ReaderArg {
    /// Reader name: exact, or a unique case-insensitive part of it
    pub reader: Option<String>,
}

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum ByteOrder {
    /// Windows GUID / .NET Guid(byte[]) reading (the default)
    Windows,
    /// RFC 4122: the bytes in string order
    Rfc4122,
}

impl From<ByteOrder> for cm_smartcard::card::GuidByteOrder {
    fn from(b: ByteOrder) -> Self {
        match b {
            ByteOrder::Windows => cm_smartcard::card::GuidByteOrder::Windows,
            ByteOrder::Rfc4122 => cm_smartcard::card::GuidByteOrder::Rfc4122,
        }
    }
}

#[derive(Args, Debug)]
pub struct CardIdArgs {
    /// Reader name: exact, or a unique case-insensitive part of it
    pub reader: Option<String>,
    /// How the 16 card-ID bytes are written as a GUID
    #[arg(long, value_enum, default_value_t = ByteOrder::Windows)]
    pub byte_order: ByteOrder,
}

#[derive(Args, Debug)]
pub struct WaitArgs {
    /// Reader name: exact, or a unique case-insensitive part of it (default: any reader)
    pub reader: Option<String>,
    /// Give up after SECONDS (default: wait until a card arrives or Ctrl-C)
    #[arg(long, value_name = "SECONDS", value_parser = parse_seconds)]
    pub timeout: Option<Duration>,
}

#[derive(Args, Debug)]
pub struct ParseAtrArgs {
    /// The ATR: 3b8d01…, "3B 8D 01 …" or 3b:8d:01:…
    pub atr: String,
}

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthArg {
    /// Kerberos (NTLM fallback) as the logged-on user, or as --user with a password
    Negotiate,
    /// NTLM as --user with a password
    Ntlm,
    /// HTTP Basic as --user with a password (https only unless --insecure-http)
    Basic,
    /// Authorization: Bearer with the token from CM_BEARER_TOKEN or --token-stdin
    Bearer,
    /// No credentials
    None,
}

/// How to reach and authenticate to the CM server (every server command).
#[derive(Args, Debug, Clone)]
pub struct ServerArgs {
    /// CM server: https://host[:port][/CertificateManagement]
    #[arg(long, value_name = "URL")]
    pub server: String,
    /// Authentication method
    #[arg(long, value_enum, default_value_t = AuthArg::Negotiate)]
    pub auth: AuthArg,
    /// User for negotiate/ntlm/basic: DOMAIN\user, user@REALM or user (password: CM_PASSWORD, --password-stdin or a prompt)
    #[arg(long, value_name = "USER")]
    pub user: Option<String>,
    /// Read the password from the first line of stdin
    #[arg(long)]
    pub password_stdin: bool,
    /// Read the bearer token from the first line of stdin
    #[arg(long)]
    pub token_stdin: bool,
    /// Never accepted: passwords on the command line end up in the process list and shell history
    #[arg(long, hide = true, value_name = "NEVER")]
    pub password: Option<String>,
    /// Never accepted: tokens on the command line end up in the process list and shell history
    #[arg(long, hide = true, value_name = "NEVER")]
    pub token: Option<String>,
    /// PEM file with CA certificates to trust in addition to the OS store
    #[arg(long, value_name = "FILE")]
    pub ca_file: Option<PathBuf>,
    /// Time limit for each HTTP request, in seconds
    #[arg(long, value_name = "SECONDS", default_value = "30", value_parser = parse_seconds)]
    pub timeout: Duration,
    /// Labs only: allow credentials (Basic, Bearer, NTLM, Kerberos) over plain http://
    #[arg(long)]
    pub insecure_http: bool,
    /// Proxy: an http://host:port URL, `none`, or `system` (Windows settings / *_proxy variables)
    #[arg(long, value_name = "URL|none|system", default_value = "system")]
    pub proxy: String,
    /// Kerberos service principal (default HTTP/<host of --server>)
    #[arg(long, value_name = "SPN")]
    pub spn: Option<String>,
    /// Refuse answers whose Negotiate exchange did not prove the server's identity
    #[arg(long)]
    pub require_mutual_auth: bool,
}

#[derive(Args, Debug)]
pub struct AssignArgs {
    #[command(flatten)]
    pub server: ServerArgs,
    /// The CM request id (GUID)
    #[arg(long, value_name = "ID")]
    pub request: String,
    /// Read the card in this reader (default: the first reader holding a card)
    #[arg(long, value_name = "READER", conflicts_with_all = ["card_id", "atr"])]
    pub reader: Option<String>,
    /// Bind this card id instead of reading a card
    #[arg(long, value_name = "ID")]
    pub card_id: Option<String>,
    /// The card's ATR (with --card-id)
    #[arg(long, value_name = "ATR", requires = "card_id")]
    pub atr: Option<String>,
    /// Byte order of the card id read from the card
    #[arg(long, value_enum, default_value_t = ByteOrder::Windows, conflicts_with = "card_id")]
    pub byte_order: ByteOrder,
}

#[derive(Args, Debug)]
pub struct ReconcileArgs {
    #[command(flatten)]
    pub server: ServerArgs,
    /// The CM request id (GUID)
    #[arg(long, value_name = "ID")]
    pub request: String,
    /// The card id that was sent
    #[arg(long, value_name = "ID")]
    pub card_id: String,
}

#[derive(Subcommand, Debug)]
pub enum SmartcardCmd {
    /// Read a smartcard by its CM uuid (GET /smartcards/{uuid})
    #[command(
        after_help = "Examples:\n  cm-smartcard smartcard get --server https://cm.contoso.com 5d2c…"
    )]
    Get {
        #[command(flatten)]
        server: ServerArgs,
        /// The smartcard's CM uuid
        uuid: String,
    },
    /// Find the smartcard CM holds for a card id (GET /smartcards?cardid=)
    #[command(
        after_help = "Examples:\n  cm-smartcard smartcard find --server https://cm.contoso.com --card-id 767c1c46-…\n  cm-smartcard smartcard find --server https://cm.contoso.com --reader Yubico"
    )]
    Find {
        #[command(flatten)]
        server: ServerArgs,
        /// The card id (GUID)
        #[arg(long, value_name = "ID", required_unless_present = "reader")]
        card_id: Option<String>,
        /// Read the card id from the card in this reader
        #[arg(long, value_name = "READER", conflicts_with = "card_id")]
        reader: Option<String>,
        /// Byte order of the card id read from the card
        #[arg(long, value_enum, default_value_t = ByteOrder::Windows)]
        byte_order: ByteOrder,
    },
}

#[derive(Subcommand, Debug)]
pub enum RequestCmd {
    /// Read a request (GET /requests/{id})
    #[command(
        after_help = "Examples:\n  cm-smartcard request get --server https://cm.contoso.com 4f7c0e2a-…"
    )]
    Get {
        #[command(flatten)]
        server: ServerArgs,
        /// The request id (GUID)
        id: String,
    },
    /// List requests (GET /requests[?status=][&targetuser=current])
    #[command(
        after_help = "Examples:\n  cm-smartcard request list --server https://cm.contoso.com --status pending\n  cm-smartcard request list --server https://cm.contoso.com --mine --json"
    )]
    List {
        #[command(flatten)]
        server: ServerArgs,
        /// Only requests in this state
        #[arg(long, ignore_case = true, value_parser = ["Approved", "Canceled", "Completed", "Denied", "Executing", "Failed", "None", "Pending"])]
        status: Option<String>,
        /// Only the caller's own requests (targetuser=current)
        #[arg(long)]
        mine: bool,
    },
}

#[derive(Args, Debug)]
pub struct DoctorArgs {
    #[command(flatten)]
    pub server: ServerArgs,
    /// Also check the card in this reader: ATR, card id, and whether CM knows it
    #[arg(long, value_name = "READER")]
    pub reader: Option<String>,
    /// Byte order of the card id read with --reader
    #[arg(long, value_enum, default_value_t = ByteOrder::Windows)]
    pub byte_order: ByteOrder,
}

/// Seconds as a positive decimal number, at most a day.
fn parse_seconds(text: &str) -> Result<Duration, String> {
    let secs: f64 = text
        .trim()
        .parse()
        .map_err(|_| format!("'{text}' is not a number of seconds"))?;
    if !(secs > 0.0 && secs <= 86_400.0) {
        return Err(format!(
            "'{text}' must be more than 0 and at most 86400 seconds"
        ));
    }
    Ok(Duration::from_secs_f64(secs))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn command_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn seconds_are_checked() {
        assert_eq!(parse_seconds("1.5"), Ok(Duration::from_millis(1500)));
        for bad in ["0", "-1", "x", "NaN", "inf", "100000"] {
            assert!(parse_seconds(bad).is_err(), "{bad}");
        }
    }
}
