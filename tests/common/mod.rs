//! Shared by the integration tests: the rule for a missing rig, the rig env-file parser, the build of the C
//! test programs against the header and the shared library, and a plain session to the emulator.

#![allow(dead_code)] // each test binary uses a different part of this module

pub mod tls_server;

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::Command;

/// A session to a test server without authentication (the in-process emulator), with a 5 s timeout.
pub fn plain_session(url: &str) -> cm_smartcard::cm::CmClient {
    use cm_smartcard::auth::{AuthConfig, AuthMethod};
    use cm_smartcard::cm::{CmClient, ConnectionConfig, TransportConfig};
    CmClient::session(ConnectionConfig {
        server_url: url.to_string(),
        transport: TransportConfig {
            auth: AuthConfig {
                method: AuthMethod::None,
                ..AuthConfig::default()
            },
            timeout: std::time::Duration::from_secs(5),
            ..TransportConfig::default()
        },
    })
    .unwrap()
}

/// Whether a missing rig or tool is a failure rather than a skip: `CM_REQUIRE_RIGS=1`, which
/// `tests/run_all.sh` (and so CI) sets.
pub fn rigs_required() -> bool {
    std::env::var("CM_REQUIRE_RIGS").is_ok_and(|v| v == "1")
}

/// The one skip-or-fail rule: under `CM_REQUIRE_RIGS=1` a missing `what` fails the test (`how` says how to
/// provide it); otherwise the test prints a notice and skips (returns `None`).
pub fn missing<T>(test: &str, what: &str, how: &str) -> Option<T> {
    if rigs_required() {
        panic!("{test}: CM_REQUIRE_RIGS=1 but {what} is missing ({how})");
    }
    eprintln!("SKIPPED {test}: no {what} ({how})");
    None
}

/// Parses a rig env file: `KEY=VALUE` lines, optionally `export KEY='VALUE'`; `#` comments and blank lines
/// are skipped; one pair of surrounding quotes is removed.
pub fn parse_env_file(text: &str) -> HashMap<String, String> {
    let mut env = HashMap::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("export ").unwrap_or(line);
        let Some((k, v)) = line.split_once('=') else {
            continue;
        };
        let v = v.trim();
        let v = [('\'', '\''), ('"', '"')]
            .iter()
            .find_map(|(a, b)| v.strip_prefix(*a).and_then(|v| v.strip_suffix(*b)))
            .unwrap_or(v);
        env.insert(k.trim().to_string(), v.to_string());
    }
    env
}

/// The env file named by the variable `var` (e.g. `PCSC_RIG_ENV`), or the skip-or-fail rule.
pub fn load_rig_env(test: &str, var: &str, how: &str) -> Option<HashMap<String, String>> {
    let Ok(path) = std::env::var(var) else {
        return missing(test, &format!("rig ({var} not set)"), how);
    };
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{var}={path} cannot be read: {e}"));
    Some(parse_env_file(&text))
}

/// `target/<profile>`: where cargo put the cdylib and the workspace binaries (test binaries live in its
/// `deps/`).
pub fn profile_dir() -> PathBuf {
    std::env::current_exe()
        .unwrap()
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .to_path_buf()
}

/// Compiles `tests/c/<name>.c` with strict C11 warnings, linked to the library the tests were built
/// with. Returns the executable and the library directory (for `LD_LIBRARY_PATH`).
pub fn compile_c_test(name: &str) -> (PathBuf, PathBuf) {
    compile_c_test_with(name, &[])
}

/// As [`compile_c_test`], with extra compiler arguments (e.g. `-pthread`).
pub fn compile_c_test_with(name: &str, extra: &[&str]) -> (PathBuf, PathBuf) {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    // Test binaries live in target/<profile>/deps; the cdylib in target/<profile>.
    let lib_dir = profile_dir();
    let so = lib_dir.join(if cfg!(target_os = "macos") {
        "libcm_smartcard.dylib"
    } else {
        "libcm_smartcard.so"
    });
    assert!(
        so.exists(),
        "{} not built (cargo builds the cdylib with the tests)",
        so.display()
    );
    let exe = lib_dir.join(name);
    let compile = Command::new("cc")
        .args([
            "-std=c11",
            "-Wall",
            "-Wextra",
            "-Wpedantic",
            "-Werror",
            "-o",
        ])
        .arg(&exe)
        .arg(root.join(format!("tests/c/{name}.c")))
        .arg("-I")
        .arg(root.join("include"))
        .arg("-L")
        .arg(&lib_dir)
        .arg("-lcm_smartcard")
        .args(extra)
        .output()
        .expect("cc runs");
    assert!(
        compile.status.success(),
        "cc failed:\n{}",
        String::from_utf8_lossy(&compile.stderr)
    );
    (exe, lib_dir)
}

#[cfg(test)]
mod tests {
    #[test]
    fn env_files_of_both_rigs_parse() {
        let env = super::parse_env_file(
            "# comment\nexport PCSC_READER0='Virtual PCD 00 00'\nAUTH_NTLM_USER=bob\nX=\"q\"\n\nnot a pair\n",
        );
        assert_eq!(env["PCSC_READER0"], "Virtual PCD 00 00");
        assert_eq!(env["AUTH_NTLM_USER"], "bob");
        assert_eq!(env["X"], "q");
        assert_eq!(env.len(), 3);
    }
}
