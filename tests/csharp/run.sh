#!/bin/bash
# Compiles bindings/csharp/CmSmartcard.cs at C# 5 (the level of Windows PowerShell 5.1's Add-Type) with
# Mono's mcs together with tests/csharp/CmSmartcardTest.cs, and runs it under Mono against the Linux
# library (target/debug/libcm_smartcard.so, loaded by full path with CmLibrary.Load: no LD_LIBRARY_PATH) and
# the CM emulator on loopback. The card tests use the PC/SC rig whose env file PCSC_RIG_ENV names (as
# tests/run_all.sh exports it; start one with PCSC_PRIVATE=1 PCSC_RIG_DIR=... tests/rigs/pcsc/start.sh).
# The enrollment tests (EnrollTest.cs) make their CSRs with the openssl CLI.
# Then builds examples/enroll.cs and runs it against the same emulator.
# Usage: tests/csharp/run.sh            Needs: mono-mcs mono-runtime, cargo, openssl, curl.
# Ends with "N passed, M failed"; exit status non-zero on failure, 77 when skipped.
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
. "$ROOT/scripts/emulator.sh"

for tool in mcs mono cargo openssl curl; do
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
rc=$?

# examples/enroll.cs, built as its header says and run against a fresh emulator (the tests above bound the rig's
# card already): the whole walk must reach its last step, with the certificates verified against the emulator's
# test CA. The card is the rig's when it runs (read over PC/SC by the example), else a card id of our own.
stop_emulator
start_emulator || { echo "0 passed, 1 failed (emulator for examples/enroll.cs)"; exit 1; }
example_passed=0; example_failed=0
example_ok() { example_passed=$((example_passed + 1)); echo "ok   $*"; }
example_ko() { example_failed=$((example_failed + 1)); echo "FAIL $*"; }
if mcs -langversion:5 -warnaserror -nologo -r:System.Security -out:"$OUT/enroll.exe" "$ROOT/examples/enroll.cs" "$ROOT/bindings/csharp/CmSmartcard.cs"; then
    example_ok "examples/enroll.cs builds (mcs -langversion:5 -warnaserror)"
    if curl -sf "$EMULATOR_URL/_emulator/ca.pem" -o "$OUT/ca.pem"; then
        card_env=()
        [ -z "${PCSC_DEFAULT_CARD_ID:-}" ] && card_env=(CM_CARD_ID="$(cat /proc/sys/kernel/random/uuid)" CM_ATR=3b8d0180fba000000397425446590301c8)
        if env CM_SMARTCARD_LIB="$OUT/lib/libcm_smartcard.so" CM_AUTH=none CM_CA_PEM="$OUT/ca.pem" CM_WORK_DIR="$OUT/enroll" \
               "${card_env[@]}" mono --debug "$OUT/enroll.exe" "$EMULATOR_URL" >"$OUT/enroll.out" 2>&1 \
           && grep -q '^13\. Retire request' "$OUT/enroll.out" && grep -q 'verified against ca.pem' "$OUT/enroll.out"; then
            sed 's/^/     /' "$OUT/enroll.out"
            example_ok "examples/enroll.cs walks enrollment, Unblock and Retire against the emulator"
        else
            sed 's/^/     /' "$OUT/enroll.out"
            example_ko "examples/enroll.cs against the emulator (output above)"
        fi
    else
        example_ko "GET /_emulator/ca.pem for examples/enroll.cs"
    fi
else
    example_ko "examples/enroll.cs build"
fi
echo "examples/enroll.cs: $example_passed passed, $example_failed failed"
[ "$rc" -eq 0 ] && [ "$example_failed" -eq 0 ]
