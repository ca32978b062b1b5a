#!/bin/bash
# Compiles bindings/csharp/CmSmartcard.cs at C# 5 (the level of Windows PowerShell 5.1's Add-Type) with
# Mono's mcs together with tests/csharp/CmSmartcardTest.cs, and runs it under Mono against the Linux
# library (target/debug/libcm_smartcard.so, loaded by full path with CmLibrary.Load: no LD_LIBRARY_PATH) and
# the CM emulator on loopback. The card tests use the PC/SC rig whose env file PCSC_RIG_ENV names (as
# tests/run_all.sh exports it; start one with PCSC_PRIVATE=1 PCSC_RIG_DIR=... tests/rigs/pcsc/start.sh).
# The enrollment tests (EnrollTest.cs) make their CSRs with the openssl CLI.
# Usage: tests/csharp/run.sh            Needs: mono-mcs mono-runtime, cargo, openssl.
# Ends with "N passed, M failed"; exit status non-zero on failure, 77 when skipped.
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
. "$ROOT/scripts/emulator.sh"

for tool in mcs mono cargo openssl; do
    command -v "$tool" >/dev/null || { echo "SKIP: $tool not installed (apt-get install mono-mcs mono-runtime)"; exit 77; }
done

OUT=$(mktemp -d)
cleanup() { stop_emulator; rm -rf "$OUT"; }
trap cleanup EXIT
trap 'exit 130' INT TERM

(cd "$ROOT" && cargo build -q --lib) || { echo "0 passed, 1 failed (cargo build)"; exit 1; }
LIBDIR="${CARGO_TARGET_DIR:-$ROOT/target}/debug"

mcs -langversion:5 -warnaserror -nologo -out:"$OUT/CmSmartcardTest.exe" \
    -r:System.Security "$ROOT/bindings/csharp/CmSmartcard.cs" "$ROOT/tests/csharp/CmSmartcardTest.cs" "$ROOT/tests/csharp/EnrollTest.cs" \
    || { echo "0 passed, 1 failed (mcs -langversion:5)"; exit 1; }
# The binding alone, as Add-Type compiles it: a library with no other sources.
mcs -langversion:5 -warnaserror -nologo -target:library -out:"$OUT/CmSmartcard.dll" "$ROOT/bindings/csharp/CmSmartcard.cs" \
    || { echo "0 passed, 1 failed (binding alone)"; exit 1; }

# A copy in a folder of its own: the test checks that exactly this file is the one loaded.
mkdir -p "$OUT/lib" && cp "$LIBDIR/libcm_smartcard.so" "$OUT/lib/" || { echo "0 passed, 1 failed (no $LIBDIR/libcm_smartcard.so)"; exit 1; }

if [ -n "${PCSC_RIG_ENV:-}" ]; then
    # shellcheck disable=SC1090
    . "$PCSC_RIG_ENV" || { echo "0 passed, 1 failed (PCSC_RIG_ENV=$PCSC_RIG_ENV unreadable)"; exit 1; }
fi

start_emulator || { echo "0 passed, 1 failed (emulator)"; exit 1; }
mono --debug "$OUT/CmSmartcardTest.exe" "$EMULATOR_URL" "$ROOT/include/cm_smartcard.h" "$OUT/lib/libcm_smartcard.so"
