#!/usr/bin/env bash
# Runs every test of cm-smartcard: Rust unit and integration tests (against the CM emulator, a real pcscd
# with virtual cards, and a Kerberos/NTLM rig), the C API test, the C# binding under mono, and the Windows
# DLL under Wine when the Windows target is available. Starts and stops every service itself (by PID).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
export PATH="$HOME/.cargo/bin:$PATH"
export CM_REQUIRE_RIGS=1   # in this script, a missing rig is a failure, never a silent skip

bash scripts/setup-debian.sh

WORK=$(mktemp -d /tmp/cm-smartcard-tests.XXXXXX)
chmod 711 "$WORK"
cleanup() {
  local rc=$?
  [ -f "$WORK/auth/auth.env" ] && bash tests/rigs/auth/stop.sh "$WORK/auth" >/dev/null 2>&1 || true
  [ -n "${EMULATOR_PID:-}" ] && kill "$EMULATOR_PID" 2>/dev/null && wait "$EMULATOR_PID" 2>/dev/null || true
  [ -f "$WORK/pcsc/pcsc.env" ] && PCSC_RIG_DIR="$WORK/pcsc" bash tests/rigs/pcsc/stop.sh >/dev/null 2>&1 || true
  rm -rf "$WORK"
  exit $rc
}
trap cleanup EXIT INT TERM

FAILED=()
SKIPPED=()
step() { echo; echo "=== $* ==="; }
# A suite exiting 77 could not run here for a reason outside the project (e.g. the Windows Rust target could
# not be downloaded); it says why, and is reported as skipped, not failed.
run() {
  local name=$1 rc=0; shift
  "$@" || rc=$?
  case $rc in
    0) echo "--- $name: ok" ;;
    77) echo "--- $name: SKIPPED (see its message above)"; SKIPPED+=("$name") ;;
    *) echo "--- $name: FAILED (exit $rc)"; FAILED+=("$name") ;;
  esac
}

step "build"
cargo build --workspace --all-targets --quiet

step "PC/SC rig (pcscd + vpcd + virtual cards)"
export PCSC_RIG_DIR="$WORK/pcsc"
bash tests/rigs/pcsc/start.sh
export PCSC_RIG_ENV="$WORK/pcsc/pcsc.env"

step "CM emulator as the auth rig's backend"
./target/debug/cm-emulator --quiet --port-file "$WORK/emulator.port" > "$WORK/emulator.out" 2>&1 &
EMULATOR_PID=$!
for _ in $(seq 100); do [ -s "$WORK/emulator.port" ] && break; sleep 0.05; done
export AUTH_BACKEND_URL="http://127.0.0.1:$(cat "$WORK/emulator.port")"

step "auth rig (MIT KDC, Apache mod_auth_gssapi, pyspnego NTLM)"
bash tests/rigs/auth/start.sh "$WORK/auth"
export AUTH_RIG_ENV="$WORK/auth/auth.env"

step "Rust tests (unit, emulator, PC/SC, auth, header, C API)"
run "cargo test" cargo test --workspace --all-features -- --test-threads=2

step "exports, examples, install, PowerShell module (static)"
run "exports-linux" bash scripts/check-exports.sh target/debug/libcm_smartcard.so
run "examples+install" bash examples/run.sh
run "powershell-static" python3 bindings/powershell/tests/check_module.py
run "powershell-parse" bash bindings/powershell/tests/parse.sh
run "demo" bash scripts/demo.sh

step "C# binding under mono"
run "csharp" bash tests/csharp/run.sh

step "Windows DLL (mingw + Wine)"
run "windows" bash tests/windows/run.sh

echo
if ((${#FAILED[@]})); then
  echo "FAILED suites: ${FAILED[*]}"
  exit 1
fi
((${#SKIPPED[@]})) && echo "skipped suites: ${SKIPPED[*]}"
echo "all suites passed"
