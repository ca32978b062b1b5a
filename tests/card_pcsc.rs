//! Integration tests of `cm_smartcard::card` against a real pcscd + vpcd with the repository's
//! virtual card (`tests/rigs/pcsc/`). Start the rig with `tests/rigs/pcsc/run-tests.sh` (or
//! `start.sh` and then `PCSC_RIG_ENV=/tmp/cm-smartcard-pcsc-rig/pcsc.env cargo test --test card_pcsc`).
//!
//! Without a rig every test prints a notice and passes, unless `CM_REQUIRE_RIGS=1`, which makes a
//! missing rig a failure. All tests share one pcscd and take a process-wide lock, because cards are
//! inserted/removed and pcscd is restarted. Reader 0 always holds the rig's default GIDS card; tests
//! put their own cards in reader 1 and in the two readers of the non-ASCII vpcd entry.

mod common;

use cm_smartcard::Status;
use cm_smartcard::card::{self, CardIdSource, GuidByteOrder};
use std::collections::HashMap;
use std::ffi::{CStr, CString};
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

const DOCS_ATR: &str = "3b8d0180fba000000397425446590301c8";
/// The yubico-piv-tool worked-example CHUID (smartcards.md §4.4).
const YK_FASCN: &str = "d4e739da739ced39ce739d836858210842108421c84210c3eb";
const YK_GUID: &str = "461c7c766122b38b2edf05183c3d041a";

// ---- rig support ------------------------------------------------------------------------------

struct Rig {
    env: HashMap<String, String>,
}

impl Rig {
    fn var(&self, k: &str) -> &str {
        self.env
            .get(k)
            .map(String::as_str)
            .unwrap_or_else(|| panic!("rig variable {k} missing"))
    }
    fn reader(&self, k: &str) -> CString {
        CString::new(self.var(k)).unwrap()
    }
    fn port(&self, k: &str) -> u16 {
        self.var(k).parse().unwrap()
    }
    fn script(&self, name: &str) -> PathBuf {
        PathBuf::from(self.var("PCSC_RIG_SCRIPTS")).join(name)
    }
}

fn load_rig() -> Option<Rig> {
    let mut env: HashMap<String, String> = std::env::vars()
        .filter(|(k, _)| k.starts_with("PCSC"))
        .collect();
    if let Ok(path) = std::env::var("PCSC_RIG_ENV") {
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("PCSC_RIG_ENV={path} cannot be read: {e}"));
        for (k, v) in common::parse_env_file(&text) {
            env.entry(k).or_insert(v);
        }
    }
    if !env.contains_key("PCSC_READER0") || !env.contains_key("PCSC_VCARD") {
        return None;
    }
    if let Some(sock) = env.get("PCSCLITE_CSOCK_NAME")
        && std::env::var_os("PCSCLITE_CSOCK_NAME").is_none()
    {
        // SAFETY: runs once, inside OnceLock initialisation, before this process makes any PC/SC call
        // (every test calls `rig()` first); libpcsclite reads the variable on its first call.
        unsafe { std::env::set_var("PCSCLITE_CSOCK_NAME", sock) };
    }
    Some(Rig { env })
}

fn rig_opt() -> Option<&'static Rig> {
    static RIG: OnceLock<Option<Rig>> = OnceLock::new();
    RIG.get_or_init(load_rig).as_ref()
}

/// The rig and the process-wide lock, or `None` (skip) when there is no rig.
fn setup(test: &str) -> Option<(&'static Rig, MutexGuard<'static, ()>)> {
    static LOCK: Mutex<()> = Mutex::new(());
    match rig_opt() {
        Some(r) => {
            let guard = LOCK.lock().unwrap_or_else(|p| p.into_inner());
            Some((r, guard))
        }
        None => common::missing(
            test,
            "PC/SC rig",
            "set PCSC_RIG_ENV or run tests/rigs/pcsc/run-tests.sh",
        ),
    }
}

macro_rules! rig {
    ($name:expr) => {
        match setup($name) {
            Some(x) => x,
            None => return,
        }
    };
}

/// A virtual card process started by a test; stopped (SIGTERM by PID, then kill) on drop.
struct VCard {
    child: Child,
    log: PathBuf,
}

impl VCard {
    fn start(rig: &Rig, name: &str, port: u16, args: &[&str]) -> VCard {
        let dir = PathBuf::from(rig.var("PCSC_RIG_DIR")).join("test-cards");
        std::fs::create_dir_all(&dir).unwrap();
        let log = dir.join(format!("{name}.log"));
        let _ = std::fs::remove_file(&log);
        let child = Command::new(rig.var("PCSC_PYTHON"))
            .arg(rig.var("PCSC_VCARD"))
            .arg("--port")
            .arg(port.to_string())
            .arg("--log")
            .arg(&log)
            .args(args)
            .stdin(Stdio::null())
            .spawn()
            .expect("start vcard.py");
        VCard { child, log }
    }
    fn signal(&self, sig: &str) {
        let ok = Command::new("kill")
            .arg(format!("-{sig}"))
            .arg(self.child.id().to_string())
            .status()
            .unwrap()
            .success();
        assert!(ok, "kill -{sig} failed");
    }
    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for VCard {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        let until = Instant::now() + Duration::from_secs(3);
        while Instant::now() < until {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn pcsc_wait(rig: &Rig, args: &[&str]) -> bool {
    Command::new(rig.var("PCSC_WAIT"))
        .args(["-t", "8"])
        .args(args)
        .status()
        .expect("run pcsc-wait")
        .success()
}

fn wait_present(rig: &Rig, reader: &CStr, atr: &str) {
    let r = reader.to_str().unwrap();
    assert!(
        pcsc_wait(rig, &["present", r, atr]),
        "card {atr} did not appear in '{r}'"
    );
}

fn wait_empty(rig: &Rig, reader: &CStr) {
    let r = reader.to_str().unwrap();
    assert!(pcsc_wait(rig, &["empty", r]), "'{r}' did not become empty");
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Starts a card in `reader_key`'s slot and waits until pcscd shows it.
fn card_in(rig: &Rig, reader_key: &str, port_key: &str, atr: &str, args: &[&str]) -> VCard {
    let reader = rig.reader(reader_key);
    wait_empty(rig, &reader); // a previous test's card is gone
    let mut all = vec!["--atr", atr];
    all.extend_from_slice(args);
    let c = VCard::start(rig, reader_key, rig.port(port_key), &all);
    wait_present(rig, &reader, atr);
    c
}

// ---- tests ------------------------------------------------------------------------------------

#[test]
fn gids_virtual_smart_card_atr_from_the_docs() {
    let (rig, _g) = rig!("gids_virtual_smart_card_atr_from_the_docs");
    let r0 = rig.reader("PCSC_READER0");
    assert_eq!(rig.var("PCSC_DEFAULT_ATR"), DOCS_ATR);
    let (used, atr) = card::read_atr(Some(&r0)).unwrap();
    assert_eq!(used, r0);
    assert_eq!(hex(&atr), DOCS_ATR);
    // NULL reader = the first reader holding a card: only reader 0 holds one between tests.
    let (used, atr) = card::read_atr(None).unwrap();
    assert_eq!(used, r0);
    assert_eq!(hex(&atr), DOCS_ATR);
    // An empty name means the same (issue 9, defect 7: .NET/PowerShell pass "" for a missing name).
    let (used, atr) = card::read_atr(Some(c"")).unwrap();
    assert_eq!(used, r0);
    assert_eq!(hex(&atr), DOCS_ATR);
    // Repeated calls (fresh context each) keep working: nothing leaks.
    for _ in 0..20 {
        card::read_atr(Some(&r0)).unwrap();
    }
}

#[test]
fn gids_card_id_in_both_byte_orders() {
    let (rig, _g) = rig!("gids_card_id_in_both_byte_orders");
    let r0 = rig.reader("PCSC_READER0");
    assert_eq!(
        rig.var("PCSC_DEFAULT_CARD_ID"),
        "3ff188bcba833740826246eba1291c6e"
    );
    let id = card::read_card_id(Some(&r0), GuidByteOrder::Windows).unwrap();
    assert_eq!(id.source, CardIdSource::Gids);
    assert_eq!(hex(&id.bytes), "3ff188bcba833740826246eba1291c6e");
    // The MIM documentation's example card id (get-smartcard-data.md), .NET reading.
    assert_eq!(id.guid, "bc88f13f-83ba-4037-8262-46eba1291c6e");
    let id = card::read_card_id(Some(&r0), GuidByteOrder::Rfc4122).unwrap();
    assert_eq!(id.guid, "3ff188bc-ba83-3740-8262-46eba1291c6e");
    // ATR and card id in one connection.
    let all = card::read_card(Some(&r0), GuidByteOrder::default()).unwrap();
    assert_eq!(all.reader, r0);
    assert_eq!(hex(&all.atr), DOCS_ATR);
    assert_eq!(all.card_id.guid, "bc88f13f-83ba-4037-8262-46eba1291c6e");
}

/// Issue 9, defect 7: "" is "the first reader holding a card" in every card function, like `None`.
#[test]
fn empty_reader_name_means_the_first_reader_with_a_card() {
    let (rig, _g) = rig!("empty_reader_name_means_the_first_reader_with_a_card");
    let r0 = rig.reader("PCSC_READER0");
    let id = card::read_card_id(Some(c""), GuidByteOrder::Windows).unwrap();
    assert_eq!(id.guid, "bc88f13f-83ba-4037-8262-46eba1291c6e");
    let all = card::read_card(Some(c""), GuidByteOrder::Windows).unwrap();
    assert_eq!(all.reader, r0);
    assert_eq!(hex(&all.atr), DOCS_ATR);
    assert_eq!(
        card::wait_for_card(Some(c""), Some(Duration::ZERO)).unwrap(),
        r0
    );
    assert_eq!(card::read_atr(Some(c"")).unwrap().0, r0);
}

#[test]
fn piv_card_id_from_chuid_guid_with_get_response_chaining() {
    let (rig, _g) = rig!("piv_card_id_from_chuid_guid_with_get_response_chaining");
    let r1 = rig.reader("PCSC_READER1");
    let piv_atr = "3b8880010000000000000000"; // arbitrary; the card is recognised by SELECT, not ATR
    let c = card_in(
        rig,
        "PCSC_READER1",
        "PCSC_PORT1",
        piv_atr,
        &[
            "--profile",
            "piv",
            "--fascn",
            YK_FASCN,
            "--guid",
            YK_GUID,
            "--sig-len",
            "120",
            "--chunk",
            "40",
        ],
    );
    let id = card::read_card_id(Some(&r1), GuidByteOrder::Windows).unwrap();
    assert_eq!(id.source, CardIdSource::PivGuid);
    assert_eq!(hex(&id.bytes), YK_GUID);
    assert_eq!(id.guid, "767c1c46-2261-8bb3-2edf-05183c3d041a");
    assert_eq!(
        id.guid_in(GuidByteOrder::Rfc4122),
        "461c7c76-6122-b38b-2edf-05183c3d041a"
    );
    let id = card::read_card_id(Some(&r1), GuidByteOrder::Rfc4122).unwrap();
    assert_eq!(id.guid, "461c7c76-6122-b38b-2edf-05183c3d041a");
    assert!(id.warning.is_none());
    let log = c.log();
    // PIV selected first (as Windows does), so GIDS is never tried; the long CHUID came in several
    // GET RESPONSE rounds.
    assert!(
        log.contains("apdu> 00a404000ba000000308000010000100"),
        "{log}"
    );
    assert!(!log.contains("apdu> 00a4040009a000000397425446"), "{log}");
    assert!(log.contains("apdu> 00cb3fff055c035fc10200"), "{log}");
    assert!(log.matches("apdu> 00c00000").count() >= 3, "{log}");
}

/// Issue 9, defect 6: Windows' inbox minidriver selects PIV first, so a card carrying both PIV and
/// GIDS has the PIV card ID (from its CHUID), not the GIDS `DF20` one.
#[test]
fn card_with_piv_and_gids_is_read_as_piv_like_windows() {
    let (rig, _g) = rig!("card_with_piv_and_gids_is_read_as_piv_like_windows");
    let r1 = rig.reader("PCSC_READER1");
    let c = card_in(
        rig,
        "PCSC_READER1",
        "PCSC_PORT1",
        DOCS_ATR,
        &[
            "--profile",
            "piv-gids",
            "--card-id",
            "3ff188bcba833740826246eba1291c6e",
            "--fascn",
            YK_FASCN,
            "--guid",
            YK_GUID,
        ],
    );
    let id = card::read_card_id(Some(&r1), GuidByteOrder::Windows).unwrap();
    assert_eq!(id.source, CardIdSource::PivGuid);
    assert_eq!(id.guid, "767c1c46-2261-8bb3-2edf-05183c3d041a");
    let all = card::read_card(Some(&r1), GuidByteOrder::Windows).unwrap();
    assert_eq!(all.card_id.source, CardIdSource::PivGuid);
    let log = c.log();
    assert!(
        !log.contains("apdu> 00a4040009a000000397425446"),
        "GIDS selected: {log}"
    );
    // The GIDS application really is there: a card without PIV answers with its DF20.
    drop(c);
    let _c = card_in(
        rig,
        "PCSC_READER1",
        "PCSC_PORT1",
        DOCS_ATR,
        &[
            "--profile",
            "gids",
            "--card-id",
            "3ff188bcba833740826246eba1291c6e",
        ],
    );
    let id = card::read_card_id(Some(&r1), GuidByteOrder::Windows).unwrap();
    assert_eq!(id.source, CardIdSource::Gids);
    assert_eq!(id.guid, "bc88f13f-83ba-4037-8262-46eba1291c6e");
}

/// Issue 9, defect 6: a CHUID GUID (tag 34) that is not 16 bytes is ignored and the FASC-N used, as
/// OpenSC does (it used to be a protocol error).
#[test]
fn piv_chuid_guid_of_wrong_length_falls_back_to_the_fascn() {
    let (rig, _g) = rig!("piv_chuid_guid_of_wrong_length_falls_back_to_the_fascn");
    let r1 = rig.reader("PCSC_READER1");
    let fascn = "d0439458210c2c19a0846d83685a1082108ce73984108ca3fc";
    let _c = card_in(
        rig,
        "PCSC_READER1",
        "PCSC_PORT1",
        "3b00",
        &["--profile", "piv-bad-guid", "--fascn", fascn],
    );
    let id = card::read_card_id(Some(&r1), GuidByteOrder::Rfc4122).unwrap();
    assert_eq!(id.source, CardIdSource::PivFascn);
    assert_eq!(hex(&id.bytes), &fascn[..32]);
    assert!(id.warning.is_none());
}

#[test]
fn piv_all_zero_chuid_warns_and_real_fascn_is_used() {
    let (rig, _g) = rig!("piv_all_zero_chuid_warns_and_real_fascn_is_used");
    let r1 = rig.reader("PCSC_READER1");
    {
        let _c = card_in(
            rig,
            "PCSC_READER1",
            "PCSC_PORT1",
            "3b00",
            &["--profile", "piv"],
        );
        let id = card::read_card_id(Some(&r1), GuidByteOrder::Windows).unwrap();
        assert_eq!(id.source, CardIdSource::PivEmpty);
        assert!(id.warning.unwrap().contains("all zeros"));
    }
    let fascn = "d0439458210c2c19a0846d83685a1082108ce73984108ca3fc";
    let _c = card_in(
        rig,
        "PCSC_READER1",
        "PCSC_PORT1",
        "3b00",
        &["--profile", "piv", "--fascn", fascn, "--guid", YK_GUID],
    );
    let id = card::read_card_id(Some(&r1), GuidByteOrder::Rfc4122).unwrap();
    assert_eq!(id.source, CardIdSource::PivFascn);
    assert_eq!(hex(&id.bytes), &fascn[..32]);
}

#[test]
fn wrong_le_6cxx_is_retried() {
    let (rig, _g) = rig!("wrong_le_6cxx_is_retried");
    let r1 = rig.reader("PCSC_READER1");
    let c = card_in(
        rig,
        "PCSC_READER1",
        "PCSC_PORT1",
        DOCS_ATR,
        &["--profile", "gids", "--card-id", YK_GUID, "--le-exact"],
    );
    let id = card::read_card_id(Some(&r1), GuidByteOrder::Rfc4122).unwrap();
    assert_eq!(id.guid, "461c7c76-6122-b38b-2edf-05183c3d041a");
    let log = c.log();
    assert!(log.contains("apdu< 6c13"), "{log}");
    assert!(log.contains("apdu> 00cba012045c02df2013"), "{log}");
}

#[test]
fn card_without_card_id_is_card_id_not_found() {
    let (rig, _g) = rig!("card_without_card_id_is_card_id_not_found");
    let r1 = rig.reader("PCSC_READER1");
    let _c = card_in(
        rig,
        "PCSC_READER1",
        "PCSC_PORT1",
        "3b021450",
        &["--default-sw", "6a82"],
    );
    let e = card::read_card_id(Some(&r1), GuidByteOrder::Windows).unwrap_err();
    assert_eq!(e.status, Status::CardIdNotFound, "{}", e.message);
    assert!(e.message.contains("neither"), "{}", e.message);
    // The ATR is still readable.
    assert_eq!(hex(&card::read_atr(Some(&r1)).unwrap().1), "3b021450");
}

#[test]
fn atr_of_33_bytes() {
    let (rig, _g) = rig!("atr_of_33_bytes");
    let atr = "3bff110000f1010000f1fe4500710000004142434445464748494a4b4c4d4e4f65";
    assert_eq!(atr.len(), 66);
    let _c = card_in(rig, "PCSC_READER1", "PCSC_PORT1", atr, &[]);
    let (_, got) = card::read_atr(Some(&rig.reader("PCSC_READER1"))).unwrap();
    assert_eq!(hex(&got), atr);
    let info = card::list_readers().unwrap();
    let r1 = info
        .iter()
        .find(|r| r.name == rig.reader("PCSC_READER1"))
        .unwrap();
    assert_eq!(hex(r1.atr.as_deref().unwrap()), atr);
}

#[test]
fn t0_only_atr_without_tck() {
    let (rig, _g) = rig!("t0_only_atr_without_tck");
    // T=0 only (no TD1): ISO 7816-3 says TCK is absent. Sent back exactly as PC/SC reports it.
    let atr = "3b021450";
    let _c = card_in(rig, "PCSC_READER1", "PCSC_PORT1", atr, &[]);
    let (_, got) = card::read_atr(Some(&rig.reader("PCSC_READER1"))).unwrap();
    assert_eq!(hex(&got), atr);
}

#[test]
fn two_readers_with_two_cards() {
    let (rig, _g) = rig!("two_readers_with_two_cards");
    let (r0, r1) = (rig.reader("PCSC_READER0"), rig.reader("PCSC_READER1"));
    let atr1 = "3b80800101";
    let _c = card_in(rig, "PCSC_READER1", "PCSC_PORT1", atr1, &[]);
    let list = card::list_readers().unwrap();
    let names: Vec<&CStr> = list.iter().map(|r| r.name.as_c_str()).collect();
    assert!(names.contains(&r0.as_c_str()) && names.contains(&r1.as_c_str()));
    for r in &list {
        if r.name == r0 {
            assert!(r.card_present);
            assert_eq!(hex(r.atr.as_deref().unwrap()), DOCS_ATR);
        } else if r.name == r1 {
            assert!(r.card_present);
            assert_eq!(hex(r.atr.as_deref().unwrap()), atr1);
        } else {
            assert!(!r.card_present, "{}", r.name_lossy());
            assert!(r.atr.is_none());
        }
    }
    assert_eq!(hex(&card::read_atr(Some(&r0)).unwrap().1), DOCS_ATR);
    assert_eq!(hex(&card::read_atr(Some(&r1)).unwrap().1), atr1);
}

#[test]
fn card_removed_during_read() {
    let (rig, _g) = rig!("card_removed_during_read");
    let r1 = rig.reader("PCSC_READER1");
    let c = card_in(
        rig,
        "PCSC_READER1",
        "PCSC_PORT1",
        DOCS_ATR,
        &["--profile", "gids", "--remove-on-apdu", "00cba012"],
    );
    let e = card::read_card_id(Some(&r1), GuidByteOrder::Windows).unwrap_err();
    assert_eq!(e.status, Status::PcscCardRemoved, "{}", e.message);
    assert_eq!(e.pcsc_code, 0x80100069);
    assert!(e.message.contains("Reinsert"), "{}", e.message);
    assert!(c.log().contains("remove-on-apdu"));
    // Reinserted: the next call works.
    c.signal("USR2");
    wait_present(rig, &r1, DOCS_ATR);
    let (_, atr) = card::read_atr(Some(&r1)).unwrap();
    assert_eq!(hex(&atr), DOCS_ATR);
}

#[test]
fn empty_reader_is_no_card() {
    let (rig, _g) = rig!("empty_reader_is_no_card");
    let r1 = rig.reader("PCSC_READER1");
    wait_empty(rig, &r1);
    let e = card::read_atr(Some(&r1)).unwrap_err();
    assert_eq!(e.status, Status::PcscNoCard, "{}", e.message);
    assert_eq!(e.pcsc_code, 0x8010000C);
    assert!(e.message.contains(rig.var("PCSC_READER1")), "{}", e.message);
    assert!(e.message.contains("Insert the card"), "{}", e.message);
    let e = card::read_card_id(Some(&r1), GuidByteOrder::Windows).unwrap_err();
    assert_eq!(e.status, Status::PcscNoCard);
}

#[test]
fn no_card_in_any_reader() {
    let (rig, _g) = rig!("no_card_in_any_reader");
    let r0 = rig.reader("PCSC_READER0");
    let pid = rig.var("PCSC_DEFAULT_CARD_PID");
    let sig = |s: &str| {
        assert!(
            Command::new("kill")
                .args([s, pid])
                .status()
                .unwrap()
                .success()
        )
    };
    sig("-USR1");
    wait_empty(rig, &r0);
    let res = card::read_atr(None);
    sig("-USR2");
    wait_present(rig, &r0, DOCS_ATR);
    let e = res.unwrap_err();
    assert_eq!(e.status, Status::PcscNoCard, "{}", e.message);
    assert!(e.message.contains("No card in any reader"), "{}", e.message);
}

#[test]
fn unknown_reader_lists_the_available_ones() {
    let (rig, _g) = rig!("unknown_reader_lists_the_available_ones");
    let e = card::read_atr(Some(c"No Such Reader 00 00")).unwrap_err();
    assert_eq!(e.status, Status::PcscUnknownReader, "{}", e.message);
    assert_eq!(e.pcsc_code, 0x80100009);
    assert!(e.message.contains(rig.var("PCSC_READER0")), "{}", e.message);
    // Case-insensitive unique substring selects the reader; an ambiguous one is refused.
    let (used, _) = card::read_atr(Some(c"virtual pcd 00 00")).unwrap();
    assert_eq!(used, rig.reader("PCSC_READER0"));
    let e = card::read_atr(Some(c"virtual pcd")).unwrap_err();
    assert_eq!(e.status, Status::PcscUnknownReader);
    assert!(e.message.contains("several"), "{}", e.message);
    let e =
        card::wait_for_card(Some(c"No Such Reader"), Some(Duration::from_millis(100))).unwrap_err();
    assert_eq!(e.status, Status::PcscUnknownReader);
}

#[test]
fn non_ascii_reader_name() {
    let (rig, _g) = rig!("non_ascii_reader_name");
    let u0 = rig.reader("PCSC_READER_UTF8");
    assert!(
        !u0.to_bytes().is_ascii(),
        "rig reader name should be non-ASCII"
    );
    let _c = card_in(
        rig,
        "PCSC_READER_UTF8",
        "PCSC_PORT2",
        DOCS_ATR,
        &["--profile", "gids", "--card-id", YK_GUID],
    );
    let list = card::list_readers().unwrap();
    let r = list
        .iter()
        .find(|r| r.name == u0)
        .expect("listed byte-exact");
    assert!(r.card_present);
    assert!(r.name_lossy().contains("Lecteur virtuel é"));
    let (used, atr) = card::read_atr(Some(&u0)).unwrap();
    assert_eq!(used, u0);
    assert_eq!(hex(&atr), DOCS_ATR);
    let id = card::read_card_id(Some(&u0), GuidByteOrder::Rfc4122).unwrap();
    assert_eq!(id.guid, "461c7c76-6122-b38b-2edf-05183c3d041a");
    // Case-insensitive match works beyond ASCII.
    let upper = CString::new(rig.var("PCSC_READER_UTF8").to_uppercase()).unwrap();
    assert_eq!(card::read_atr(Some(&upper)).unwrap().0, u0);
    // Empty reader of the same entry: the error names it readably.
    let u1 = rig.reader("PCSC_READER_UTF8_1");
    let e = card::read_atr(Some(&u1)).unwrap_err();
    assert_eq!(e.status, Status::PcscNoCard);
    assert!(
        e.message.contains(rig.var("PCSC_READER_UTF8_1")),
        "{}",
        e.message
    );
}

#[test]
fn exclusive_holder_is_sharing_violation() {
    let (rig, _g) = rig!("exclusive_holder_is_sharing_violation");
    let r1 = rig.reader("PCSC_READER1");
    let _c = card_in(
        rig,
        "PCSC_READER1",
        "PCSC_PORT1",
        DOCS_ATR,
        &["--profile", "gids"],
    );
    let mut holder = Command::new(rig.var("PCSC_WAIT"))
        .args(["-t", "5", "hold", rig.var("PCSC_READER1"), "30"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(holder.stdout.as_mut().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(line.trim(), "held");
    let res = card::read_atr(Some(&r1));
    let res_id = card::read_card_id(Some(&r1), GuidByteOrder::Windows);
    let listed = card::list_readers().unwrap();
    let _ = holder.kill();
    let _ = holder.wait();
    let e = res.unwrap_err();
    assert_eq!(e.status, Status::PcscSharingViolation, "{}", e.message);
    assert_eq!(e.pcsc_code, 0x8010000B);
    assert!(e.message.contains("scdaemon"), "{}", e.message);
    assert_eq!(res_id.unwrap_err().status, Status::PcscSharingViolation);
    assert!(listed.iter().any(|r| r.name == r1 && r.exclusive));
    // Released (pcscd notices the holder's exit asynchronously): works again, in shared mode.
    let until = Instant::now() + Duration::from_secs(5);
    let atr = loop {
        match card::read_atr(Some(&r1)) {
            Err(e) if e.status == Status::PcscSharingViolation && Instant::now() < until => {
                std::thread::sleep(Duration::from_millis(50))
            }
            r => break r.unwrap().1,
        }
    };
    assert_eq!(hex(&atr), DOCS_ATR);
}

#[test]
fn pcscd_stopped_then_restarted() {
    let (rig, _g) = rig!("pcscd_stopped_then_restarted");
    let r0 = rig.reader("PCSC_READER0");
    card::read_atr(Some(&r0)).unwrap();
    let ctl = |arg: &str| {
        let ok = Command::new("bash")
            .arg(rig.script("restart-pcscd.sh"))
            .arg(arg)
            .status()
            .unwrap()
            .success();
        assert!(ok, "restart-pcscd.sh {arg} failed");
    };
    ctl("stop");
    let e = card::read_atr(Some(&r0)).unwrap_err();
    let e2 = card::list_readers().unwrap_err();
    let e3 = card::wait_for_card(None, Some(Duration::from_millis(100))).unwrap_err();
    ctl("start");
    assert_eq!(e.status, Status::PcscNoService, "{}", e.message);
    assert_eq!(e.pcsc_code, 0x8010001D);
    assert!(e.message.contains("systemctl"), "{}", e.message);
    assert_eq!(e2.status, Status::PcscNoService);
    assert_eq!(e3.status, Status::PcscNoService);
    // The default card reconnects to the new pcscd by itself; the next call works.
    wait_present(rig, &r0, DOCS_ATR);
    let (_, atr) = card::read_atr(Some(&r0)).unwrap();
    assert_eq!(hex(&atr), DOCS_ATR);
    assert_eq!(
        card::read_card_id(Some(&r0), GuidByteOrder::Windows)
            .unwrap()
            .guid,
        "bc88f13f-83ba-4037-8262-46eba1291c6e"
    );
    // Restarted between two calls: the context the library kept is dead, and the next calls still
    // work without an error (a fresh context replaces it).
    ctl("restart");
    wait_present(rig, &r0, DOCS_ATR);
    assert_eq!(hex(&card::read_atr(Some(&r0)).unwrap().1), DOCS_ATR);
    ctl("restart");
    wait_present(rig, &r0, DOCS_ATR);
    assert!(card::list_readers().unwrap().iter().any(|r| r.name == r0));
    ctl("restart");
    wait_present(rig, &r0, DOCS_ATR);
    assert_eq!(
        card::read_card(Some(&r0), GuidByteOrder::Windows)
            .unwrap()
            .card_id
            .guid,
        "bc88f13f-83ba-4037-8262-46eba1291c6e"
    );
}

#[test]
fn wait_times_out() {
    let (rig, _g) = rig!("wait_times_out");
    let r1 = rig.reader("PCSC_READER1");
    wait_empty(rig, &r1);
    let t0 = Instant::now();
    let e = card::wait_for_card(Some(&r1), Some(Duration::from_millis(700))).unwrap_err();
    let took = t0.elapsed();
    assert_eq!(e.status, Status::PcscTimeout, "{}", e.message);
    assert_eq!(e.pcsc_code, 0x8010000A);
    assert!(
        e.message.starts_with("No card presented within 0.7 s"),
        "{}",
        e.message
    );
    assert!(
        took >= Duration::from_millis(600) && took < Duration::from_secs(5),
        "{took:?}"
    );
}

#[test]
fn wait_is_cancelled_from_another_thread() {
    let (rig, _g) = rig!("wait_is_cancelled_from_another_thread");
    let r1 = rig.reader("PCSC_READER1");
    wait_empty(rig, &r1);
    let r = r1.clone();
    let h = std::thread::spawn(move || {
        let t0 = Instant::now();
        (card::wait_for_card(Some(&r), None), t0.elapsed())
    });
    std::thread::sleep(Duration::from_millis(400));
    assert!(card::cancel_waits() >= 1, "the wait was not registered");
    let (res, took) = h.join().unwrap();
    let e = res.unwrap_err();
    assert_eq!(e.status, Status::PcscCancelled, "{}", e.message);
    assert!(took < Duration::from_secs(3), "{took:?}");
    // Waiting on all readers is cancellable too.
    let h = std::thread::spawn(|| {
        card::wait_for_card(Some(c"Virtual PCD 00 01"), Some(Duration::from_secs(20)))
    });
    std::thread::sleep(Duration::from_millis(300));
    card::cancel_waits();
    assert_eq!(h.join().unwrap().unwrap_err().status, Status::PcscCancelled);
}

#[test]
fn wait_returns_when_a_card_arrives() {
    let (rig, _g) = rig!("wait_returns_when_a_card_arrives");
    let r1 = rig.reader("PCSC_READER1");
    wait_empty(rig, &r1);
    let r = r1.clone();
    let h =
        std::thread::spawn(move || card::wait_for_card(Some(&r), Some(Duration::from_secs(10))));
    std::thread::sleep(Duration::from_millis(300));
    let _c = VCard::start(
        rig,
        "wait-arrives",
        rig.port("PCSC_PORT1"),
        &["--atr", "3b80800101"],
    );
    assert_eq!(h.join().unwrap().unwrap(), r1);
    // Already present: returns at once, even with a zero timeout; None = any reader.
    assert_eq!(
        card::wait_for_card(Some(&r1), Some(Duration::ZERO)).unwrap(),
        r1
    );
    let any = card::wait_for_card(None, Some(Duration::ZERO)).unwrap();
    assert!(any == r1 || any == rig.reader("PCSC_READER0"));
}
