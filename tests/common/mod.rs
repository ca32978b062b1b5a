//! Shared by the tests that build C programs against the header and the built shared library.

use std::path::PathBuf;
use std::process::Command;

/// Compiles `tests/c/<name>.c` with strict C11 warnings, linked to the library the tests were built
/// with. Returns the executable and the library directory (for `LD_LIBRARY_PATH`).
#[allow(dead_code)] // not every test binary that includes this module uses it
pub fn compile_c_test(name: &str) -> (PathBuf, PathBuf) {
    compile_c_test_with(name, &[])
}

/// As [`compile_c_test`], with extra compiler arguments (e.g. `-pthread`).
#[allow(dead_code)] // not every test binary that includes this module uses it
pub fn compile_c_test_with(name: &str, extra: &[&str]) -> (PathBuf, PathBuf) {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    // Test binaries live in target/<profile>/deps; the cdylib in target/<profile>.
    let lib_dir = std::env::current_exe()
        .unwrap()
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .to_path_buf();
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
