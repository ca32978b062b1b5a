//! # cm-emulator: a stand-in for the MIM CM REST API
//!
//! An in-process (library) or standalone (binary `cm-emulator`) HTTP/1.1 server that emulates the whole
//! Microsoft Identity Manager Certificate Management REST API statefully — profile templates, requests of
//! every type, smart cards, certificates, profiles — with fault injection on every endpoint, for tests and
//! demos. Plain HTTP on loopback only; no authentication is performed (the `Authorization` header is
//! logged as `"<scheme> …"`, never its value). **The full reference — endpoints, state rules, the
//! emulator's own choices, and why the HTTP codec is hand-written — is `docs/emulator.md`.**
//!
//! ```no_run
//! use cm_emulator::{Config, Emulator, MANAGER_APPROVAL_TEMPLATE, RequestStatus};
//! let emu = Emulator::start(Config::default()).unwrap();
//! // The documented enrollment, driven over HTTP against emu.api_url():
//! //   GET  /profiletemplates, POST /requests {"profiletemplateuuid":..., "type":"Enroll", ...}
//! //   (a MANAGER_APPROVAL_TEMPLATE request is Pending until emu.approve(id)),
//! //   POST /smartcards, GET .../diversifiedkey, GET .../authenticationresponse,
//! //   GET .../certificaterequestgenerationoptions, POST .../certificatedata, PUT /requests/{id} Completed.
//! // Or seed state directly:
//! let req = uuid::Uuid::new_v4();
//! emu.add_request(req, RequestStatus::Approved);
//! let ca_pem = emu.ca_pem(); // every issued certificate chains to this test CA
//! ```
//!
//! ## Structure
//! - `src/routes.rs`: the one routing table, method + path pattern → handler.
//! - `src/resources/{templates,requests,smartcards,certificates,profiles}.rs`: one module per resource.
//! - `src/state.rs` records and JSON shapes; `src/model.rs` enums; `src/issuing.rs` → `src/crypto/` (test
//!   CA, PKCS#7/#12, 3DES, key diversification); `src/http.rs` codec; `src/server.rs` connections and
//!   faults; `src/control.rs` `/_emulator/...`.
//!
//! ## In short (details in `docs/emulator.md`)
//! - Prefix `/CertificateManagement/api/v1.0/`, matched case-insensitively (IIS). JSON responses with
//!   `Content-Length`; errors `{"Message":"..."}`; 204 without a body for empty results (except
//!   `GET /requests` and bare `GET /smartcards`, which stay 200 arrays as before).
//! - Enums: numbers in responses, names in bodies/queries. RequestType Enroll 1 … OfflineUnblock 12;
//!   RequestStatus None 0, Pending 1, Denied 2, Approved 3, Executing 4, Failed 5, Canceled 6, Abandoned 7,
//!   Completed 8; Smartcard/Profile Status None 0, New 1, Assigned 2, Active 3, Suspended 4, Disabled 5,
//!   Retired 6 ([`RequestType`], [`RequestStatus`], [`SmartcardStatus`]).
//! - 400 for malformed input (bad JSON, GUIDs, base64, enum names), 403 for what the state rules forbid,
//!   415 for a non-JSON body, 405 with `Allow` for other methods on known routes, 404 JSON for unknown
//!   routes under the prefix, IIS-like HTML 404 outside it and while the API is disabled.
//! - Seeded templates [`SMARTCARD_USER_TEMPLATE`] (auto-approved, diversified admin key, 2 CSRs),
//!   [`MANAGER_APPROVAL_TEMPLATE`] (1 approval, default admin key, server-proposed PIN, 1 CSR),
//!   [`SERVER_KEYS_TEMPLATE`] (software, server-generated keys → 2 PFX items). Smart card templates'
//!   `DefaultAdminKeyHex` is the Base CSP default [`BASE_CSP_DEFAULT_ADMIN_KEY`]; diversified keys derive
//!   from [`Config::admin_master_key`] (default [`DEFAULT_ADMIN_MASTER_KEY`]).
//! - The caller is always [`CALLER_USER_UUID`]. `Submitted` is the emulator's clock
//!   (`2015-07-07T23:36:21.93Z` form); `Completed` is `0001-01-01T00:00:00` while open.
//! - Certificate data is returned once; certificates come from a throwaway ECDSA P-256 test CA
//!   ([`Emulator::ca_pem`]) as real PKCS#7 (certs-only) or PKCS#12.
//! - HTTP: keep-alive (HTTP/1.1 default, `Connection: close` honoured, HTTP/1.0 closes unless
//!   keep-alive), Content-Length and chunked request bodies, `Expect: 100-continue`, request body cap
//!   1 MiB (413), head cap 64 KiB (431).
//! - Control endpoints `/_emulator/...` (approve, deny, ca.pem, templates, seeding, faults, log) are
//!   neither faulted nor logged.
//! - Diagnosis options (for `cm-smartcard doctor` tests): [`Emulator::set_date_skew`] (a skewed `Date`
//!   header) and [`Emulator::set_challenges`] (401 with chosen `WWW-Authenticate` values when no
//!   `Authorization` is sent).
//! - `Config::idle_close_max` (`--idle-close-max-ms`): idle keep-alive connections are closed after a
//!   random idle time, without `Connection: close` — the situation a pooled client meets with IIS.

mod api;
mod control;
pub mod crypto;
mod fault;
mod http;
mod issuing;
mod model;
mod resources;
mod routes;
mod server;
mod state;

pub use fault::{DEFAULT_HUGE_BYTES, Fault, FaultKind};
pub use model::{RequestType, SmartcardStatus};
pub use resources::templates::BASE_CSP_DEFAULT_ADMIN_KEY;
pub use state::parse_guid;

/// Seeded profile template "Smartcard User": smart card; Enroll, Unblock, Retire, Renew and Revoke
/// enabled without approval; diversified admin key; no server-proposed PIN; two CSRs (signature,
/// encryption); a retired card may be enrolled again. Requests added by [`Emulator::add_request`] use it.
pub const SMARTCARD_USER_TEMPLATE: Uuid =
    Uuid::from_u128(0x6b8c_1e4a_0f2d_4c37_9a51_2d7e_0c3b_5a10);
/// Seeded profile template "Smartcard Manager Approval": smart card; Enroll needs one approval
/// ([`Emulator::approve`]); Unblock and Retire without; the default admin key (no diversification);
/// server-proposed PIN; one CSR.
pub const MANAGER_APPROVAL_TEMPLATE: Uuid =
    Uuid::from_u128(0x6b8c_1e4a_0f2d_4c37_9a51_2d7e_0c3b_5a11);
/// Seeded profile template "Server Keys": software profile (no smart card); Enroll, Renew, Revoke without
/// approval; no CSRs: the server generates the keys and returns two PFX items (the second a key-history
/// item).
pub const SERVER_KEYS_TEMPLATE: Uuid = Uuid::from_u128(0x6b8c_1e4a_0f2d_4c37_9a51_2d7e_0c3b_5a12);
/// Every seeded template, in the order `GET /profiletemplates` lists them.
pub const SEEDED_TEMPLATES: [Uuid; 3] = [
    SMARTCARD_USER_TEMPLATE,
    MANAGER_APPROVAL_TEMPLATE,
    SERVER_KEYS_TEMPLATE,
];
/// The user the emulator takes every caller for (Originator, and Target when `target` is absent; the
/// documentation example's user).
pub const CALLER_USER_UUID: Uuid = Uuid::from_u128(0x8f15_90dc_d932_4b66_8e68_2e91_c588_0780);
/// `RequesterName` of the caller's certificates.
pub const CALLER_NAME: &str = "CONTOSO\\cmuser";
/// The default master key the diversified admin keys derive from (`--admin-master-key` changes it).
pub const DEFAULT_ADMIN_MASTER_KEY: [u8; 24] = *b"cm-emulator master key!!";

use serde_json::Value;
use server::Shared;
use state::{State, to_value};
use std::fmt;
use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::thread::JoinHandle;
use uuid::Uuid;

/// Lifecycle status of a CM request. Names as in `Microsoft.Clm.Shared.Requests.RequestStatus`;
/// the numbers other than Approved (3) and Completed (8) are the emulator's choice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum RequestStatus {
    None,
    Pending,
    Denied,
    #[default]
    Approved,
    Executing,
    Failed,
    Canceled,
    Completed,
    Abandoned,
}

impl RequestStatus {
    /// Every status, in numeric order of [`RequestStatus::code`].
    pub const ALL: [RequestStatus; 9] = [
        RequestStatus::None,
        RequestStatus::Pending,
        RequestStatus::Denied,
        RequestStatus::Approved,
        RequestStatus::Executing,
        RequestStatus::Failed,
        RequestStatus::Canceled,
        RequestStatus::Abandoned,
        RequestStatus::Completed,
    ];

    /// The number used in JSON responses (`"Status":3`).
    pub fn code(self) -> u32 {
        match self {
            RequestStatus::None => 0,
            RequestStatus::Pending => 1,
            RequestStatus::Denied => 2,
            RequestStatus::Approved => 3,
            RequestStatus::Executing => 4,
            RequestStatus::Failed => 5,
            RequestStatus::Canceled => 6,
            RequestStatus::Abandoned => 7,
            RequestStatus::Completed => 8,
        }
    }

    /// The status with this number.
    pub fn from_code(code: u32) -> Option<RequestStatus> {
        RequestStatus::ALL.into_iter().find(|s| s.code() == code)
    }

    /// The .NET member name (`"Approved"`).
    pub fn name(self) -> &'static str {
        match self {
            RequestStatus::None => "None",
            RequestStatus::Pending => "Pending",
            RequestStatus::Denied => "Denied",
            RequestStatus::Approved => "Approved",
            RequestStatus::Executing => "Executing",
            RequestStatus::Failed => "Failed",
            RequestStatus::Canceled => "Canceled",
            RequestStatus::Completed => "Completed",
            RequestStatus::Abandoned => "Abandoned",
        }
    }

    /// Parses a name, case-insensitively (surrounding whitespace ignored). `Cancelled` is accepted too.
    pub fn from_name(name: &str) -> Option<RequestStatus> {
        let n = name.trim();
        if n.eq_ignore_ascii_case("cancelled") {
            return Some(RequestStatus::Canceled);
        }
        RequestStatus::ALL
            .into_iter()
            .find(|s| s.name().eq_ignore_ascii_case(n))
    }

    /// Denied, Failed, Canceled, Completed and Abandoned: no further change is possible.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            RequestStatus::Denied
                | RequestStatus::Failed
                | RequestStatus::Canceled
                | RequestStatus::Completed
                | RequestStatus::Abandoned
        )
    }
}

impl fmt::Display for RequestStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for RequestStatus {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        RequestStatus::from_name(s).ok_or_else(|| format!("unknown request status {s:?}"))
    }
}

/// A CM request that exists when the emulator starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeedRequest {
    pub uuid: Uuid,
    pub status: RequestStatus,
}

impl SeedRequest {
    /// An Approved request.
    pub fn approved(uuid: Uuid) -> Self {
        SeedRequest {
            uuid,
            status: RequestStatus::Approved,
        }
    }
}

/// Emulator configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// Address to listen on. Default `127.0.0.1:0` (a free loopback port).
    pub listen: SocketAddr,
    /// Start with the API disabled (every API URL answers 404).
    pub api_disabled: bool,
    /// Requests that exist from the start.
    pub requests: Vec<SeedRequest>,
    /// Do not print one line per request to stderr.
    pub quiet: bool,
    /// Faults active from the start.
    pub faults: Vec<Fault>,
    /// Close each idle keep-alive connection after a random idle time in `[0, max]` (as IIS drops idle
    /// connections, but at random moments): for testing that clients never lose or repeat a request on a
    /// connection the server closed. `None` = keep idle connections up to 120 s.
    pub idle_close_max: Option<std::time::Duration>,
    /// Master key of the diversified admin keys (default [`DEFAULT_ADMIN_MASTER_KEY`]).
    pub admin_master_key: [u8; 24],
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            api_disabled: false,
            requests: Vec::new(),
            quiet: false,
            faults: Vec::new(),
            idle_close_max: None,
            admin_master_key: DEFAULT_ADMIN_MASTER_KEY,
        }
    }
}

/// One request the emulator received (control endpoints excluded).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoggedRequest {
    /// Counter of accepted TCP connections, from 1: equal ids = same connection.
    pub connection_id: u64,
    pub method: String,
    /// Path and query, as sent.
    pub path: String,
    /// Headers in order. `Authorization`/`Proxy-Authorization` values are reduced to
    /// `"<scheme> …"`, cookie values to `name=…`.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// The fault applied to this request (`FaultKind::name`), if any.
    pub fault: Option<String>,
}

impl LoggedRequest {
    /// First header with this name (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body as (lossy) UTF-8.
    pub fn body_str(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// A running emulator. Dropping it stops the server and joins its threads.
pub struct Emulator {
    addr: SocketAddr,
    shared: Arc<Shared>,
    accept: Option<JoinHandle<()>>,
}

impl fmt::Debug for Emulator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Emulator")
            .field("addr", &self.addr)
            .finish()
    }
}

impl Emulator {
    /// Idle keep-alive connections closed by the `idle_close_max` mode so far.
    pub fn idle_closes(&self) -> u64 {
        self.shared
            .idle_closes
            .load(std::sync::atomic::Ordering::SeqCst)
    }

    /// TCP connections accepted so far.
    pub fn connections_accepted(&self) -> u64 {
        self.shared.connections_accepted()
    }

    /// Binds `config.listen` and starts serving in background threads.
    pub fn start(config: Config) -> std::io::Result<Emulator> {
        let listener = TcpListener::bind(config.listen)?;
        let addr = listener.local_addr()?;
        let mut state = State {
            api_disabled: config.api_disabled,
            faults: config.faults,
            admin_master_key: config.admin_master_key,
            ..State::default()
        };
        for r in &config.requests {
            state.upsert_request(r.uuid, r.status);
        }
        let mut shared = Shared::new(state, config.quiet);
        shared.idle_close_max = config.idle_close_max;
        let shared = Arc::new(shared);
        let sh = Arc::clone(&shared);
        let accept = std::thread::Builder::new()
            .name("cm-emulator-accept".into())
            .spawn(move || server::accept_loop(listener, sh))?;
        Ok(Emulator {
            addr,
            shared,
            accept: Some(accept),
        })
    }

    /// The address actually listened on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`: the server root, without `/CertificateManagement`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// `{base_url}/CertificateManagement/api/v1.0`.
    pub fn api_url(&self) -> String {
        format!("{}/CertificateManagement/api/v1.0", self.base_url())
    }

    /// Adds a request (or resets an existing one with that UUID, dropping its card binding).
    pub fn add_request(&self, uuid: Uuid, status: RequestStatus) {
        self.shared.lock().upsert_request(uuid, status);
    }

    /// Changes a request's status; false if unknown.
    pub fn set_request_status(&self, uuid: Uuid, status: RequestStatus) -> bool {
        match self.shared.lock().request_mut(uuid) {
            Some(r) => {
                r.status = status;
                true
            }
            None => false,
        }
    }

    /// Replaces the fault list with this one fault.
    pub fn set_fault(&self, fault: Fault) {
        let mut st = self.shared.lock();
        st.faults.clear();
        st.faults.push(fault);
    }

    /// Appends a fault (earlier faults win when several match).
    pub fn add_fault(&self, fault: Fault) {
        self.shared.lock().faults.push(fault);
    }

    /// Removes every fault.
    pub fn clear_faults(&self) {
        self.shared.lock().faults.clear();
    }

    /// The faults still active (with their remaining `times`).
    pub fn faults(&self) -> Vec<Fault> {
        self.shared.lock().faults.clone()
    }

    /// Enables (false) or disables (true) the API; disabled = 404 for every API URL.
    pub fn set_api_disabled(&self, disabled: bool) {
        self.shared.lock().api_disabled = disabled;
    }

    /// Diagnosis option: the `Date` header of every API answer is `secs` seconds off (negative = behind), as
    /// from a server whose clock is skewed; 0 restores the true time.
    pub fn set_date_skew(&self, secs: i64) {
        self.shared.date_skew_secs.store(secs, Ordering::Relaxed);
    }

    /// Diagnosis option: API requests that carry no `Authorization` header are answered `401` with these
    /// `WWW-Authenticate` values (one header each; e.g. `Basic realm="CM"` for a server without Windows
    /// authentication); requests with one are served normally — the emulator checks no credentials. Faults
    /// still win. An empty list switches it off.
    pub fn set_challenges(&self, www_authenticate: &[&str]) {
        *self
            .shared
            .challenges
            .lock()
            .unwrap_or_else(|e| e.into_inner()) =
            www_authenticate.iter().map(|s| s.to_string()).collect();
    }

    /// Every request received so far (control endpoints excluded), oldest first.
    pub fn request_log(&self) -> Vec<LoggedRequest> {
        self.shared.lock().log.clone()
    }

    /// Empties the request log.
    pub fn clear_log(&self) {
        self.shared.lock().log.clear();
    }

    /// Logged requests with this method (case-insensitive; `""` = any) whose path and query contain
    /// `path_contains` (case-insensitive).
    pub fn count(&self, method: &str, path_contains: &str) -> usize {
        self.shared.count(method, path_contains)
    }

    /// The Smartcard object (PascalCase, as the API returns it) bound with this card id.
    pub fn smartcard_for_card(&self, card_id: Uuid) -> Option<Value> {
        self.shared
            .lock()
            .smartcard_by_card(card_id)
            .map(|s| to_value(s.fields()))
    }

    /// The Smartcard object with this CM smart card Uuid.
    pub fn smartcard_json(&self, uuid: Uuid) -> Option<Value> {
        self.shared
            .lock()
            .smartcard(uuid)
            .map(|s| to_value(s.fields()))
    }

    /// The Request object (PascalCase, as the API returns it).
    pub fn request_json(&self, uuid: Uuid) -> Option<Value> {
        self.shared
            .lock()
            .request(uuid)
            .map(|r| to_value(r.fields()))
    }

    /// The current status of a request.
    pub fn request_status(&self, uuid: Uuid) -> Option<RequestStatus> {
        self.shared.lock().request(uuid).map(|r| r.status)
    }

    /// Approves a Pending request: one approval; the last one needed makes it Approved. Returns the
    /// status afterwards; `Err` when the request is unknown or not Pending.
    pub fn approve(&self, uuid: Uuid) -> Result<RequestStatus, String> {
        self.shared.lock().approve(uuid)
    }

    /// Denies a Pending request (status Denied). `Err` when unknown or not Pending.
    pub fn deny(&self, uuid: Uuid) -> Result<RequestStatus, String> {
        self.shared.lock().deny(uuid)
    }

    /// The test CA's certificate, PEM (every issued certificate chains to it).
    pub fn ca_pem(&self) -> String {
        self.shared.lock().pki.ca_pem()
    }

    /// Adds a request of any type for a seeded (or unknown) template, for the caller, with an existing
    /// smart card for the types that act on one (its `OldSmartcardUuid`). Replaces a request with that UUID.
    pub fn add_request_with(
        &self,
        uuid: Uuid,
        request_type: RequestType,
        template: Uuid,
        status: RequestStatus,
        smartcard: Option<Uuid>,
    ) {
        let mut st = self.shared.lock();
        let is_smartcard = st.template(template).is_none_or(|t| t.is_smartcard);
        st.upsert(state::RequestRec {
            request_type,
            profile_template: template,
            old_smartcard: smartcard,
            is_smartcard,
            ..state::RequestRec::new(uuid, status)
        });
    }

    /// Seeds an enrolled card directly: a Completed Enroll request of `template` with this card bound
    /// (ATR `atr`), the card and its profile Active, no certificates. Returns (request, smart card Uuid);
    /// `Err` if the card id is already registered and not retired.
    pub fn add_active_smartcard(
        &self,
        card_id: Uuid,
        template: Uuid,
        atr: &str,
    ) -> Result<(Uuid, Uuid), String> {
        self.shared
            .lock()
            .add_active_smartcard(card_id, template, atr)
    }

    /// Overrides a request's `Submitted` (CM's form, e.g. `2015-07-07T23:36:21.93Z`): for testing the
    /// time window of a client's reconcile. False if the request is unknown.
    pub fn set_request_submitted(&self, uuid: Uuid, submitted: &str) -> bool {
        match self.shared.lock().request_mut(uuid) {
            Some(r) => {
                r.submitted = submitted.to_string();
                true
            }
            None => false,
        }
    }

    /// The status of a smart card (by its CM Uuid).
    pub fn smartcard_status(&self, uuid: Uuid) -> Option<SmartcardStatus> {
        self.shared.lock().smartcard(uuid).map(|s| s.status)
    }

    /// Sets a smart card's (and its profile's) status; false if unknown.
    pub fn set_smartcard_status(&self, uuid: Uuid, status: SmartcardStatus) -> bool {
        let mut st = self.shared.lock();
        if st.smartcard(uuid).is_none() {
            return false;
        }
        st.set_card_status(uuid, status);
        true
    }

    /// The admin key `diversifiedkey` returns for this card id (diversified from the master key).
    pub fn diversified_admin_key(&self, card_id: Uuid) -> [u8; 24] {
        resources::smartcards::diversified_admin_key(&self.shared.lock(), card_id)
    }

    /// The PIN `serverproposedpin` returns for this card id (when its template proposes one).
    pub fn server_proposed_pin(&self, card_id: Uuid) -> String {
        resources::smartcards::proposed_pin_for(&self.shared.lock(), card_id)
    }

    /// The Profile object (PascalCase, as the API returns it).
    pub fn profile_json(&self, uuid: Uuid) -> Option<Value> {
        let st = self.shared.lock();
        st.profile(uuid).map(|p| {
            to_value(p.fields(resources::smartcards::allowed_operations(
                &st,
                p.profile_template,
                p.status,
            )))
        })
    }

    /// Whether a stop was requested (by [`Emulator::shutdown`] or `POST /_emulator/shutdown`).
    pub fn stop_requested(&self) -> bool {
        self.shared.stop.load(Ordering::SeqCst)
    }

    /// Stops the server and joins all its threads (hanging connections are closed).
    pub fn shutdown(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        if let Some(h) = self.accept.take() {
            let _ = h.join();
        }
        self.shared.join_connections();
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        self.stop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_names_and_codes() {
        assert_eq!(RequestStatus::Approved.code(), 3);
        assert_eq!(RequestStatus::Completed.code(), 8);
        for s in RequestStatus::ALL {
            assert_eq!(RequestStatus::from_code(s.code()), Some(s));
            assert_eq!(RequestStatus::from_name(&s.name().to_uppercase()), Some(s));
            assert_eq!(s.name().parse::<RequestStatus>(), Ok(s));
        }
        assert_eq!(
            RequestStatus::from_name("approved"),
            Some(RequestStatus::Approved)
        );
        assert_eq!(RequestStatus::from_name("bogus"), None);
        assert_eq!(RequestStatus::default(), RequestStatus::Approved);
    }
}

#[cfg(test)]
mod send_sync {
    fn assert_send_sync<T: Send + Sync>() {}
    #[test]
    fn emulator_is_send_and_sync() {
        assert_send_sync::<super::Emulator>();
        assert_send_sync::<super::Fault>();
        assert_send_sync::<super::LoggedRequest>();
    }
}
