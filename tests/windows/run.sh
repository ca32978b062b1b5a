#!/bin/bash
# Windows DLL checks from Linux:
#  1. scripts/build-windows.sh cross-compiles x86_64 (and i686) cm_smartcard.dll with mingw (skips a target
#     with a clear "SKIP" message when its Rust std cannot be fetched);
#  2. each DLL exports exactly the functions of include/cm_smartcard.h (scripts/check-exports.sh);
#  3. tests/windows/smoke.c calls every export (checked by name), is compiled with mingw
#     (-std=c11 -Wall -Wextra -Wpedantic -Werror) against the header and the import library, and runs
#     under Wine (64-bit; 32-bit when this Wine can run 32-bit programs) against the CM emulator on
#     loopback, with the test-only ProcessPrng shim for Wine 8.0.
# Usage: tests/windows/run.sh [--native]   (--native: only build and run smoke.c against the Linux library)
# Ends with "N passed, M failed"; exit 1 on failure; exit 77 (and a SKIP line) when nothing could be tested.
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
. "$ROOT/scripts/emulator.sh"
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
CFLAGS="-std=c11 -Wall -Wextra -Wpedantic -Werror"
WORK=$(mktemp -d)
WINE64=$(command -v wine64 || { [ -x /usr/lib/wine/wine64 ] && echo /usr/lib/wine/wine64; })
WINE32=$(command -v wine || true)
passed=0; failed=0; skipped=0
ok() { passed=$((passed+1)); echo "ok   $*"; }
ko() { failed=$((failed+1)); echo "FAIL $*"; }
skip() { skipped=$((skipped+1)); echo "SKIP $*"; }

cleanup() {
    stop_emulator
    if [ -d "$WORK/prefix" ] && [ -n "$WINE64" ]; then
        WINEPREFIX="$WORK/prefix" "$(dirname "$WINE64")/wineserver" -k 2>/dev/null || true
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

summary() {
    if [ $skipped -gt 0 ]; then echo "$passed passed, $failed failed ($skipped skipped)"; else echo "$passed passed, $failed failed"; fi
    [ $failed -eq 0 ] || exit 1
    [ $passed -gt 0 ] || exit 77
    exit 0
}

# Every function of the header must be called by smoke.c.
missing=""
for f in $(grep -E '^[A-Za-z_].*\bcm_[a-z0-9_]+\(' "$ROOT/include/cm_smartcard.h" | sed -E 's/.*\b(cm_[a-z0-9_]+)\(.*/\1/' | sort -u); do
    grep -q "\b$f(" "$ROOT/tests/windows/smoke.c" || missing="$missing $f"
done
if [ -z "$missing" ]; then ok "smoke.c calls every function of the header"; else ko "smoke.c does not call:$missing"; fi

# Emulator state for smoke.c: an Approved and a Pending request; a 500 with a known correlation id.
uuid() { cat /proc/sys/kernel/random/uuid; }
REQ=$(uuid); PENDING=$(uuid); FAULT_CARD=$(uuid); CID=$(uuid)
emulator() { start_emulator --request "$REQ=Approved" --request "$PENDING=Pending" --fault "server-error=$CID:GET:cardid=$FAULT_CARD"; }

# Native run: the same program against the Linux library (validates smoke.c itself).
if (cd "$ROOT" && cargo build -q --lib) && gcc $CFLAGS -I"$ROOT/include" "$ROOT/tests/windows/smoke.c" \
        -L"$TARGET_DIR/debug" -lcm_smartcard -o "$WORK/smoke-native"; then
    if emulator; then
        if LD_LIBRARY_PATH="$TARGET_DIR/debug" "$WORK/smoke-native" "$EMULATOR_URL" "$REQ" "$PENDING" "$FAULT_CARD" "$CID" >"$WORK/native.log" 2>&1; then
            ok "smoke.c against the Linux library: $(tail -1 "$WORK/native.log")"
        else
            cat "$WORK/native.log"; ko "smoke.c against the Linux library"
        fi
        stop_emulator
    else
        ko "cm-emulator could not be started"
    fi
else
    ko "building smoke.c natively"
fi
[ "${1:-}" = "--native" ] && summary

# Cross builds.
"$ROOT/scripts/build-windows.sh" "$WORK/dist" | tee "$WORK/build.log"
[ "${PIPESTATUS[0]}" -eq 0 ] || ko "scripts/build-windows.sh"
grep '^SKIP' "$WORK/build.log" | while read -r line; do echo "(build) $line"; done
skipped=$((skipped + $(grep -c '^SKIP' "$WORK/build.log")))

while read -r triple arch; do
    [ -n "$triple" ] || continue
    mingw=${triple%%-*}-w64-mingw32
    rel="$TARGET_DIR/$triple/release"
    if "$ROOT/scripts/check-exports.sh" "$rel/cm_smartcard.dll" >"$WORK/exports-$arch.log"; then
        ok "$arch: $(grep '^ok' "$WORK/exports-$arch.log" | sed 's/^ok *//')"
    else
        cat "$WORK/exports-$arch.log"; ko "$arch: the DLL's export table differs from the header"
    fi
    # Imports: only system DLLs (no libgcc_s / libwinpthread to ship).
    bad=$("$mingw-objdump" -p "$rel/cm_smartcard.dll" | sed -n 's/.*DLL Name: //p' | grep -viE '^(api-ms-win-.*|kernel32|ntdll|msvcrt|advapi32|bcrypt|bcryptprimitives|userenv|ws2_32|winscard|crypt32|ncrypt|secur32|ole32|oleaut32|shell32|user32)\.dll$' || true)
    if [ -z "$bad" ]; then ok "$arch: the DLL imports only system DLLs"; else ko "$arch: unexpected DLL imports: $bad"; fi

    bin="$WORK/bin-$arch"; mkdir -p "$bin"
    extra=""; [ "$arch" = x86 ] && extra="-Wl,--kill-at"
    if ! "$mingw-gcc" -shared -O2 -Wall -Wextra -Werror $extra -o "$bin/bcryptprimitives.dll" "$ROOT/tests/windows/processprng_shim.c" -ladvapi32; then
        ko "$arch: building the ProcessPrng shim"; continue
    fi
    if ! "$mingw-gcc" $CFLAGS -I"$ROOT/include" -o "$bin/smoke.exe" "$ROOT/tests/windows/smoke.c" -L"$rel" -l:libcm_smartcard.dll.a; then
        ko "$arch: building smoke.exe with mingw against the import library"; continue
    fi
    ok "$arch: smoke.exe built with mingw ($CFLAGS) and linked with libcm_smartcard.dll.a"
    cp "$rel/cm_smartcard.dll" "$bin/"

    if [ "$arch" = x64 ]; then wine=$WINE64; else wine=$WINE32; fi
    if [ -z "$wine" ]; then
        skip "$arch: no Wine to run it (x64: apt-get install wine64; x86 needs the 32-bit wine package)"; continue
    fi
    export WINEPREFIX="$WORK/prefix" WINEDEBUG=-all WINEDLLOVERRIDES="mscoree,mshtml="
    unset DISPLAY
    emulator || { ko "cm-emulator could not be started"; continue; }
    if (cd "$bin" && timeout 240 "$wine" smoke.exe "$EMULATOR_URL" "$REQ" "$PENDING" "$FAULT_CARD" "$CID") >"$WORK/wine-$arch.log" 2>&1; then
        ok "$arch: smoke.exe under $("$wine" --version 2>/dev/null) against the emulator: $(tr -d '\r' <"$WORK/wine-$arch.log" | tail -1)"
    else
        tr -d '\r' <"$WORK/wine-$arch.log"
        if [ "$arch" = x86 ] && grep -qi 'wow64\|32-bit\|Bad EXE format' "$WORK/wine-$arch.log"; then
            skip "x86: this Wine cannot run 32-bit programs"
        else
            ko "$arch: smoke.exe under Wine"
        fi
    fi
    stop_emulator
done <"$WORK/dist/targets"

summary
