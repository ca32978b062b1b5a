//! Running the built `cm-smartcard` binary in tests, and loading the rigs.
#![allow(dead_code)]

/// The library's own test helpers: the skip-or-fail rule, the rig env-file parser, the TLS test servers.
#[path = "../../../tests/common/mod.rs"]
pub mod shared;

use std::collections::HashMap;
use std::io::Write;
use std::process::{Command, Stdio};

/// What a run of the binary produced.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// stdout and stderr together (for "never appears anywhere" assertions).
    pub fn all(&self) -> String {
        format!("{}\n{}", self.stdout, self.stderr)
    }
    /// The stdout as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {}", self.stdout))
    }
}

/// The binary with a clean environment for credentials and proxies.
pub fn cmd(args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_cm-smartcard"));
    c.args(args)
        .env_remove("CM_PASSWORD")
        .env_remove("CM_BEARER_TOKEN")
        .env("NO_COLOR", "1")
        .stdin(Stdio::null());
    for v in [
        "http_proxy",
        "https_proxy",
        "HTTPS_PROXY",
        "all_proxy",
        "ALL_PROXY",
    ] {
        c.env_remove(v);
    }
    c
}

/// Runs the command, feeding `stdin` when given.
pub fn run_cmd(mut c: Command, stdin: Option<&str>) -> Run {
    if stdin.is_some() {
        c.stdin(Stdio::piped());
    }
    c.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = c.spawn().expect("start cm-smartcard");
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
    }
    let out = child.wait_with_output().unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

pub fn run(args: &[&str]) -> Run {
    run_cmd(cmd(args), None)
}

/// The rig's variables, or None (skip with a notice) — a failure with CM_REQUIRE_RIGS=1.
pub fn rig(var: &str, what: &str, test: &str) -> Option<HashMap<String, String>> {
    shared::load_rig_env(test, var, what)
}
