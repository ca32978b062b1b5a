//! The card exports from C, against the PC/SC rig (`PCSC_RIG_ENV`) and the emulator.

mod common;

use cm_emulator::{Config, Emulator, RequestStatus};
use std::path::{Path, PathBuf};
use std::process::Command;
use uuid::Uuid;

/// The PC/SC rig's environment file (`PCSC_RIG_ENV`).
struct Rig(Vec<(String, String)>);

impl Rig {
    /// The rig, or `None` (the test skips) when there is none; a failure under `CM_REQUIRE_RIGS=1`.
    fn load(test: &str) -> Option<Rig> {
        let env = common::load_rig_env(test, "PCSC_RIG_ENV", "see tests/rigs/pcsc/README.md")?;
        Some(Rig(env.into_iter().collect()))
    }

    fn get(&self, key: &str) -> String {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| panic!("{key} missing in rig env"))
    }

    /// The rig's default card ID bytes, read in Windows order.
    fn default_card_id(&self) -> String {
        let hex = self.get("PCSC_DEFAULT_CARD_ID");
        let raw: Vec<u8> = (0..16)
            .map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap())
            .collect();
        Uuid::from_bytes_le(raw.try_into().unwrap()).to_string()
    }

    /// A command for a C test program, with the library path and the rig's pcscd socket.
    fn command(&self, exe: &Path, lib_dir: &Path) -> Command {
        let mut cmd = Command::new(exe);
        cmd.env("LD_LIBRARY_PATH", lib_dir);
        if let Some((_, sock)) = self.0.iter().find(|(k, _)| k == "PCSCLITE_CSOCK_NAME") {
            cmd.env("PCSCLITE_CSOCK_NAME", sock);
        }
        cmd
    }
}

#[test]
fn c_program_reads_the_card_and_assigns_it_from_the_reader() {
    let Some(rig) = Rig::load("c_program_reads_the_card_and_assigns_it_from_the_reader") else {
        return;
    };
    let (exe, lib_dir) = common::compile_c_test("test_c_card");

    let emu = Emulator::start(Config {
        quiet: true,
        ..Config::default()
    })
    .unwrap();
    let request = Uuid::new_v4();
    emu.add_request(request, RequestStatus::Approved);
    let card_id = rig.default_card_id();
    let out = rig
        .command(&exe, &lib_dir)
        .args([
            emu.base_url(),
            request.to_string(),
            rig.get("PCSC_READER0"),
            rig.get("PCSC_READER1"),
            rig.get("PCSC_DEFAULT_ATR"),
            card_id.clone(),
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    println!("{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(
        out.status.success() && stdout.contains(" passed, 0 failed"),
        "C card test failed:\n{stdout}"
    );
    let sc = emu
        .smartcard_for_card(Uuid::parse_str(&card_id).unwrap())
        .expect("the card is bound on the server");
    assert_eq!(sc["Atr"], rig.get("PCSC_DEFAULT_ATR"));
}

/// Builds `tests/c/pcsc_overlap_shim.c` as an `LD_PRELOAD` library next to the test programs.
fn build_overlap_shim(lib_dir: &Path) -> PathBuf {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let cflags = Command::new("pkg-config")
        .args(["--cflags", "libpcsclite"])
        .output()
        .expect("pkg-config runs");
    let cflags = String::from_utf8_lossy(&cflags.stdout);
    let shim = lib_dir.join("libpcsc_overlap_shim.so");
    let out = Command::new("cc")
        .args([
            "-shared", "-fPIC", "-O2", "-Wall", "-Wextra", "-Werror", "-o",
        ])
        .arg(&shim)
        .arg(root.join("tests/c/pcsc_overlap_shim.c"))
        .args(cflags.split_whitespace())
        .arg("-ldl")
        .output()
        .expect("cc runs");
    assert!(
        out.status.success(),
        "cc (shim) failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    shim
}

/// Issue 9, defect 1: 32 threads reading the same card (ATR, reader list, card ID; named reader, "" and
/// NULL) while two more threads keep waiting on an empty reader. libpcsclite 1.9.9 walks and edits its
/// context and handle lists without a lock (`SCardDisconnect` → `SCardRemoveHandle`), so threads that
/// connect, disconnect, establish and release concurrently can segfault the host. The library must never
/// let two of these calls overlap:
/// * rounds under `LD_PRELOAD` of a shim that counts overlapping libpcsclite calls must count 0 (the
///   unserialized library overlapped thousands of calls per round: a deterministic check);
/// * further rounds run at full speed without the shim, where a crash would show as a signal.
///
/// Each round runs in a child process, so a crash is reported here instead of killing the test runner,
/// and every call must succeed with the right values.
#[test]
fn concurrent_card_reads_do_not_crash_the_process() {
    use std::os::unix::process::ExitStatusExt;
    let Some(rig) = Rig::load("concurrent_card_reads_do_not_crash_the_process") else {
        return;
    };
    let (exe, lib_dir) = common::compile_c_test("stress_c_card");
    let shim = build_overlap_shim(&lib_dir);
    const ROUNDS: usize = 6;
    for round in 1..=ROUNDS {
        let with_shim = round <= 2;
        let mut cmd = rig.command(&exe, &lib_dir);
        cmd.args([
            rig.get("PCSC_READER0"),
            rig.get("PCSC_READER1"),
            "32".into(),
            "40".into(),
            rig.get("PCSC_DEFAULT_ATR"),
            rig.default_card_id(),
        ]);
        if with_shim {
            cmd.env("LD_PRELOAD", &shim);
        }
        let out = cmd.output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.signal().is_none(),
            "round {round}/{ROUNDS}: the process crashed with signal {:?} under concurrent card reads\n{stdout}",
            out.status.signal()
        );
        if with_shim {
            let report = stderr
                .lines()
                .find(|l| l.starts_with("pcsc-overlap-shim:"))
                .unwrap_or_else(|| panic!("the overlap shim did not report:\n{stderr}"));
            assert!(
                report.ends_with(" overlapping=0") && !report.contains("calls=0 "),
                "round {round}/{ROUNDS}: libpcsclite calls overlapped: {report}"
            );
        }
        assert!(
            out.status.success() && stdout.contains(" 0 failed"),
            "round {round}/{ROUNDS}: calls failed under concurrency ({}):\n{stdout}{stderr}",
            out.status
        );
    }
}
