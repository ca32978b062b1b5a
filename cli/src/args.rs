//! The command line: subcommands, options, and their help texts with examples.

use clap::builder::PossibleValuesParser;
use clap::{Args, Parser, Subcommand, ValueEnum};
use cm_smartcard::cm::lifecycle::{
    PROFILE_STATUSES, REQUEST_TYPES, SETTABLE_REQUEST_STATUSES, SMARTCARD_STATUSES,
};
use std::path::PathBuf;
use std::time::Duration;

#[derive(Parser, Debug)]
#[command(
    name = "cm-smartcard",
    version,
    about = "Read smart cards, bind them to MIM Certificate Management requests, run the enrollment and card lifecycle, and diagnose a CM server",
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
    /// Smartcards in CM: get, find, admin key, challenge response, PIN, status, operations, certificates
    #[command(subcommand, visible_alias = "card")]
    Smartcard(SmartcardCmd),
    /// Requests: create (at most once, reconciled), find-created, get, list, set-status, profiles
    #[command(subcommand)]
    Request(RequestCmd),
    /// Profile templates: list, workflow policy, smart card configuration
    #[command(subcommand)]
    Template(TemplateCmd),
    /// Certificate requests: the generation options, and submitting PKCS#10 files (PKCS#7/PFX back)
    #[command(subcommand)]
    Csr(CsrCmd),
    /// Profiles: list, get, operations, certificates
    #[command(subcommand)]
    Profile(ProfileCmd),
    /// The caller's certificates (GET /certificates)
    #[command(
        after_help = "Examples:\n  cm-smartcard certificates --server https://cm.contoso.com\n  cm-smartcard certificates --server https://cm.contoso.com --json"
    )]
    Certificates {
        #[command(flatten)]
        server: ServerArgs,
    },
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
    /// The card's admin key (GET …/diversifiedkey): a secret, shown only with --show
    #[command(after_help = "\
Without --show only the key's length and a SHA-256 fingerprint are printed: compare fingerprints, not keys.

Examples:
  cm-smartcard smartcard admin-key --server https://cm.contoso.com 4f7c0e2a-… 5d2c… --card-id 767c1c46-…
  cm-smartcard card admin-key --server https://cm.contoso.com REQUEST SMARTCARD --card-id … --show --json
  cm-smartcard card admin-key --server https://cm.contoso.com REQUEST SMARTCARD --reader Yubico")]
    AdminKey {
        #[command(flatten)]
        server: ServerArgs,
        #[command(flatten)]
        card: CardSecretArgs,
        /// Print the key itself (hex): it unlocks the card's administration
        #[arg(long)]
        show: bool,
    },
    /// The response to a card's admin challenge (GET …/authenticationresponse), printed in hex and base64
    #[command(after_help = "\
CHALLENGE is the card's 8-byte challenge in hex (spaces or colons allowed) or base64. The response is
computed by CM with the template's default admin key, or with the card's diversified key (--diversified).

Examples:
  cm-smartcard smartcard auth-response --server https://cm.contoso.com REQUEST SMARTCARD --card-id … --challenge d61143f9ccffd2ca
  cm-smartcard card auth-response --server https://cm.contoso.com REQUEST SMARTCARD --card-id … --challenge 1hFD+cz/0so= --diversified
  cm-smartcard card auth-response --server https://cm.contoso.com REQUEST SMARTCARD --reader Yubico --challenge …")]
    AuthResponse {
        #[command(flatten)]
        server: ServerArgs,
        #[command(flatten)]
        card: CardSecretArgs,
        /// The card's challenge: hex or base64
        #[arg(long, value_name = "HEX|BASE64")]
        challenge: String,
        /// Use the card's diversified admin key (default: the template's default admin key)
        #[arg(long)]
        diversified: bool,
    },
    /// The server-proposed PIN for a card (GET …/serverproposedpin): a secret, shown only with --show
    #[command(after_help = "\
Examples:
  cm-smartcard smartcard pin --server https://cm.contoso.com SMARTCARD --request REQUEST --card-id … --show")]
    Pin {
        #[command(flatten)]
        server: ServerArgs,
        /// The smartcard's CM uuid
        smartcard: String,
        /// The request (tries /requests/{id}/smartcards/{id}/serverproposedpin when the short path answers 404)
        #[arg(long, value_name = "ID")]
        request: Option<String>,
        /// The card id (GUID)
        #[arg(long, value_name = "ID")]
        card_id: Option<String>,
        /// The card's ATR (with --card-id)
        #[arg(long, value_name = "ATR", requires = "card_id")]
        atr: Option<String>,
        /// Read the card id and the ATR from the card in this reader instead
        #[arg(long, value_name = "READER", conflicts_with = "card_id")]
        reader: Option<String>,
        /// Byte order of the card id read with --reader
        #[arg(long, value_enum, default_value_t = ByteOrder::Windows)]
        byte_order: ByteOrder,
        /// Print the PIN itself
        #[arg(long)]
        show: bool,
    },
    /// Change a card's status for a request (PUT /requests/{rid}/smartcards/{sid}; sent at most once)
    #[command(after_help = "\
Examples:
  cm-smartcard smartcard set-status --server https://cm.contoso.com RETIRE-REQUEST SMARTCARD Retired
  cm-smartcard card set-status --server https://cm.contoso.com REQUEST SMARTCARD Disabled --dry-run

Exit 3 means the outcome is unknown: never resend; read the card back with `smartcard get`.")]
    SetStatus {
        #[command(flatten)]
        server: ServerArgs,
        /// The request (GUID) that allows the change
        request: String,
        /// The smartcard's CM uuid
        smartcard: String,
        /// The new status
        #[arg(ignore_case = true, value_parser = PossibleValuesParser::new(SMARTCARD_STATUSES))]
        status: String,
        /// Print what would be sent; send nothing
        #[arg(long)]
        dry_run: bool,
    },
    /// The operations CM allows on a card now (GET /smartcards/{id}/operations)
    #[command(
        after_help = "Examples:\n  cm-smartcard smartcard operations --server https://cm.contoso.com 5d2c…"
    )]
    Operations {
        #[command(flatten)]
        server: ServerArgs,
        /// The smartcard's CM uuid
        smartcard: String,
    },
    /// The certificates issued for a card (GET /smartcards/{id}/certificates)
    #[command(
        after_help = "Examples:\n  cm-smartcard smartcard certificates --server https://cm.contoso.com 5d2c… --json"
    )]
    Certificates {
        #[command(flatten)]
        server: ServerArgs,
        /// The smartcard's CM uuid
        smartcard: String,
    },
}

/// The card a secret is asked for: the request, the smartcard, and the card's id (and ATR).
#[derive(Args, Debug)]
pub struct CardSecretArgs {
    /// The request (GUID) the card is bound to (or, for Unblock, the Unblock request)
    pub request: String,
    /// The smartcard's CM uuid
    pub smartcard: String,
    /// The card id (GUID): must match the smartcard's serial number in CM
    #[arg(long, value_name = "ID", required_unless_present = "reader")]
    pub card_id: Option<String>,
    /// The card's ATR
    #[arg(long, value_name = "ATR", conflicts_with = "reader")]
    pub atr: Option<String>,
    /// Read the card id and the ATR from the card in this reader instead
    #[arg(long, value_name = "READER", conflicts_with = "card_id")]
    pub reader: Option<String>,
    /// Byte order of the card id read with --reader
    #[arg(long, value_enum, default_value_t = ByteOrder::Windows)]
    pub byte_order: ByteOrder,
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
    /// Create a request (POST /requests; sent at most once) and print its id
    #[command(after_help = "\
TEMPLATE is the profile template's uuid or its name. A unique --comment makes a later reconcile exact.

Examples:
  cm-smartcard request create --server https://cm.contoso.com --type Enroll --template \"Smartcard User\" --comment \"badge 4711\"
  cm-smartcard request create --server https://cm.contoso.com --type Enroll --template 6b8c… --data City=Seattle --priority 5
  cm-smartcard request create --server https://cm.contoso.com --type Unblock --smartcard 5d2c… --dry-run

Exit 3 means the outcome is unknown: the command then looks for the request (find-created, from the time
taken before sending) and prints what it found. It never resends.")]
    Create {
        #[command(flatten)]
        server: ServerArgs,
        #[command(flatten)]
        spec: RequestSpecArgs,
        /// Print what would be sent; send nothing (a template given by name is still looked up)
        #[arg(long)]
        dry_run: bool,
    },
    /// Find the requests a create may have made (after exit code 3): same spec, submitted since a time
    #[command(after_help = "\
Matches the template, type, target, smartcard and comment, and Submitted >= SINCE - 5 minutes (clock skew).
No match: the create did not take effect and may be sent again.

Examples:
  cm-smartcard request find-created --server https://cm.contoso.com --type Enroll --template 6b8c… --comment \"badge 4711\" --since 1796180400
  cm-smartcard request find-created --server https://cm.contoso.com --type Enroll --template \"Smartcard User\" --since 2026-12-02T03:00:00Z")]
    FindCreated {
        #[command(flatten)]
        server: ServerArgs,
        #[command(flatten)]
        spec: RequestSpecArgs,
        /// Unix seconds or an ISO 8601 time (2026-12-02T03:00:00Z) taken before the create was sent
        #[arg(long, value_name = "UNIX|ISO", value_parser = parse_since)]
        since: i64,
    },
    /// Complete, cancel or abandon a request (PUT /requests/{id}; sent at most once)
    #[command(after_help = "\
Examples:
  cm-smartcard request set-status --server https://cm.contoso.com 4f7c0e2a-… Completed
  cm-smartcard request set-status --server https://cm.contoso.com 4f7c0e2a-… Canceled --dry-run

Exit 3 means the outcome is unknown: never resend; read the request back with `request get`.")]
    SetStatus {
        #[command(flatten)]
        server: ServerArgs,
        /// The request id (GUID)
        id: String,
        /// The new status
        #[arg(ignore_case = true, value_parser = PossibleValuesParser::new(SETTABLE_REQUEST_STATUSES))]
        status: String,
        /// Print what would be sent; send nothing
        #[arg(long)]
        dry_run: bool,
    },
    /// The profiles of a request (GET /requests/{id}/profiles)
    #[command(
        after_help = "Examples:\n  cm-smartcard request profiles --server https://cm.contoso.com 4f7c0e2a-…"
    )]
    Profiles {
        #[command(flatten)]
        server: ServerArgs,
        /// The request id (GUID)
        id: String,
    },
}

/// What `request create` sends (and `request find-created` looks for).
#[derive(Args, Debug, Clone)]
pub struct RequestSpecArgs {
    /// The request type
    #[arg(long = "type", value_name = "TYPE", ignore_case = true, value_parser = PossibleValuesParser::new(REQUEST_TYPES))]
    pub request_type: String,
    /// The profile template: its uuid or its name (required for Enroll)
    #[arg(long, value_name = "TEMPLATE")]
    pub template: Option<String>,
    /// The target user's uuid (default: the caller)
    #[arg(long, value_name = "USER")]
    pub target: Option<String>,
    /// The smartcard the request is about (Unblock, Retire, Revoke, …)
    #[arg(long, value_name = "SMARTCARD")]
    pub smartcard: Option<String>,
    /// The comment (sent even when empty)
    #[arg(long, value_name = "TEXT", default_value = "")]
    pub comment: String,
    /// The priority (default: the policy's)
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(i32).range(0..))]
    pub priority: Option<i32>,
    /// A data collection item; repeat for several
    #[arg(long = "data", value_name = "NAME=VALUE", value_parser = parse_data_item)]
    pub data: Vec<(String, String)>,
}

#[derive(Subcommand, Debug)]
pub enum TemplateCmd {
    /// List the profile templates the caller may use (GET /profiletemplates)
    #[command(
        after_help = "Examples:\n  cm-smartcard template list --server https://cm.contoso.com\n  cm-smartcard template list --server https://cm.contoso.com --json"
    )]
    List {
        #[command(flatten)]
        server: ServerArgs,
    },
    /// A template's workflow policy for a request type (GET /profiletemplates/{id}/policies/{type})
    #[command(after_help = "\
Examples:
  cm-smartcard template policy --server https://cm.contoso.com \"Smartcard User\"
  cm-smartcard template policy --server https://cm.contoso.com 6b8c… --type Unblock --json")]
    Policy {
        #[command(flatten)]
        server: ServerArgs,
        /// The template: uuid or name
        template: String,
        /// The policy (request) type
        #[arg(long = "type", value_name = "TYPE", default_value = "Enroll", ignore_case = true,
              value_parser = PossibleValuesParser::new(POLICY_TYPE_NAMES))]
        policy_type: String,
    },
    /// A template's smart card configuration: admin key, diversification, PIN options
    #[command(after_help = "\
Examples:
  cm-smartcard template config --server https://cm.contoso.com \"Smartcard User\"

The default admin key (DefaultAdminKeyHex) is a secret: only its length and fingerprint are shown
unless --show is given.")]
    Config {
        #[command(flatten)]
        server: ServerArgs,
        /// The template: uuid or name
        template: String,
        /// Print the default admin key itself
        #[arg(long)]
        show: bool,
    },
}

/// Policy types as `template policy --type` accepts them: the policy names and the request type
/// `TemporaryCards` (the same policy as `TemporaryEnroll`).
const POLICY_TYPE_NAMES: [&str; 13] = [
    "Enroll",
    "Duplicate",
    "OfflineUnblock",
    "OnlineUpdate",
    "Renew",
    "Recover",
    "RecoverOnBehalf",
    "Reinstate",
    "Retire",
    "Revoke",
    "TemporaryEnroll",
    "TemporaryCards",
    "Unblock",
];

#[derive(Subcommand, Debug)]
pub enum CsrCmd {
    /// What to put in each PKCS#10 request (GET /requests/{id}/certificaterequestgenerationoptions)
    #[command(
        after_help = "Examples:\n  cm-smartcard csr options --server https://cm.contoso.com 4f7c0e2a-…"
    )]
    Options {
        #[command(flatten)]
        server: ServerArgs,
        /// The request id (GUID)
        request: String,
    },
    /// Submit PKCS#10 files (POST /requests/{id}/certificatedata; sent at most once), save what comes back
    #[command(after_help = "\
FILE is a PKCS#10 request, DER or PEM, one per generation option, in their order; none for templates whose
keys the server generates. Each returned certificate is written to --out-dir as
<request>-<n>-<template>.p7b (PKCS#7) or .pfx (PKCS#12, under the PFX password); existing files are never
overwritten. CM returns certificate data only ONCE: a second submit is refused.
The PFX password comes from CM_PFX_PASSWORD or --pfx-password-stdin, never from the command line.

Examples:
  cm-smartcard csr submit --server https://cm.contoso.com 4f7c0e2a-… sign.csr enc.csr --out-dir certs/
  CM_PFX_PASSWORD=… cm-smartcard csr submit --server https://cm.contoso.com 4f7c0e2a-… --out-dir keys/")]
    Submit {
        #[command(flatten)]
        server: ServerArgs,
        /// The request id (GUID)
        request: String,
        /// PKCS#10 request files (DER or PEM)
        #[arg(value_name = "FILE")]
        files: Vec<PathBuf>,
        /// Read the password for server-generated PFX files from the first line of stdin
        #[arg(long)]
        pfx_password_stdin: bool,
        /// Comments sent with the certificate requests
        #[arg(long, value_name = "TEXT")]
        comments: Option<String>,
        /// Where to write the returned .p7b/.pfx files
        #[arg(long, value_name = "DIR", default_value = ".")]
        out_dir: PathBuf,
        /// Check the files and print what would be sent; send nothing
        #[arg(long)]
        dry_run: bool,
    },
}

#[derive(Subcommand, Debug)]
pub enum ProfileCmd {
    /// List profiles (GET /profiles[?status=])
    #[command(
        after_help = "Examples:\n  cm-smartcard profile list --server https://cm.contoso.com --status Active"
    )]
    List {
        #[command(flatten)]
        server: ServerArgs,
        /// Only profiles in this state
        #[arg(long, ignore_case = true, value_parser = PossibleValuesParser::new(PROFILE_STATUSES))]
        status: Option<String>,
    },
    /// Read a profile (GET /profiles/{id})
    #[command(
        after_help = "Examples:\n  cm-smartcard profile get --server https://cm.contoso.com 5d2c…"
    )]
    Get {
        #[command(flatten)]
        server: ServerArgs,
        /// The profile uuid
        id: String,
    },
    /// The operations CM allows on a profile now (GET /profiles/{id}/operations)
    #[command(
        after_help = "Examples:\n  cm-smartcard profile operations --server https://cm.contoso.com 5d2c…"
    )]
    Operations {
        #[command(flatten)]
        server: ServerArgs,
        /// The profile uuid
        id: String,
    },
    /// The certificates of a profile (GET /profiles/{id}/certificates)
    #[command(
        after_help = "Examples:\n  cm-smartcard profile certificates --server https://cm.contoso.com 5d2c… --json"
    )]
    Certificates {
        #[command(flatten)]
        server: ServerArgs,
        /// The profile uuid
        id: String,
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

/// `NAME=VALUE` (the value may be empty; the name may not).
fn parse_data_item(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((name, value)) if !name.trim().is_empty() => {
            Ok((name.trim().to_string(), value.to_string()))
        }
        Some(_) => Err(format!("'{text}' has an empty name (expected NAME=VALUE)")),
        None => Err(format!("'{text}' is not NAME=VALUE")),
    }
}

/// A point in time as Unix seconds or ISO 8601 (`2026-12-02T03:00:00Z`; no zone means UTC).
fn parse_since(text: &str) -> Result<i64, String> {
    let t = text.trim();
    if let Ok(secs) = t.parse::<i64>() {
        return if secs >= 0 {
            Ok(secs)
        } else {
            Err(format!("'{text}' is before 1970"))
        };
    }
    cm_smartcard::cm::time::parse_iso_time(t).ok_or_else(|| {
        format!(
            "'{text}' is neither Unix seconds nor an ISO 8601 time such as 2026-12-02T03:00:00Z"
        )
    })
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
    fn data_items_and_times_are_checked() {
        assert_eq!(
            parse_data_item("City=Seattle=WA"),
            Ok(("City".into(), "Seattle=WA".into()))
        );
        assert_eq!(
            parse_data_item("Empty="),
            Ok(("Empty".into(), String::new()))
        );
        for bad in ["=x", "novalue", " =x"] {
            assert!(parse_data_item(bad).is_err(), "{bad}");
        }
        assert_eq!(parse_since("1796180400"), Ok(1_796_180_400));
        assert_eq!(parse_since("2026-12-02T03:00:00Z"), Ok(1_796_180_400));
        for bad in ["-5", "yesterday", "2026-13-01T00:00:00Z"] {
            assert!(parse_since(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn seconds_are_checked() {
        assert_eq!(parse_seconds("1.5"), Ok(Duration::from_millis(1500)));
        for bad in ["0", "-1", "x", "NaN", "inf", "100000"] {
            assert!(parse_seconds(bad).is_err(), "{bad}");
        }
    }
}
