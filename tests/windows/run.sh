#!/bin/bash
# The Windows stage: the DLL, cross-built with mingw, runs under Wine 10 against a real pcscd.
#  1. tests/windows/smoke.c calls every function of the header (checked here) and runs natively against
#     the Linux library first (validates the program itself);
#  2. scripts/build-windows.sh cross-compiles x86_64 and i686 cm_smartcard.dll and makes the distribution
#     zip (DLLs, GNU and MSVC import libraries, .def, header, bindings, module) with its SHA-256 file;
#     each DLL exports exactly the header's functions and imports only system DLLs; the MSVC import
#     libraries name every function (undecorated on x86) and a C program links against them with lld-link;
#  3. smoke.c, card.c, sspi.c and the examples are built with mingw against the header and import library;
#  4. scripts/wine10-root.sh builds (once; cached) a Debian 13 root with Wine 10, pcscd and vpcd, and
#     tests/windows/wine10-stage.sh runs, inside it: pcscd + vpcd + virtual cards, the x64 card exports
#     (non-ASCII reader, GIDS/PIV ids, wait/cancel, pulled card, pcscd stopped and restarted),
#     assign-from-reader end to end, the examples, smoke.c on x64 and x86, the x86 card exports' statuses,
#     and SSPI Negotiate/NTLM against the auth rig. The CM emulator and the auth rig run on the host's
#     loopback (the auth rig of tests/run_all.sh when AUTH_RIG_ENV is set, else one started here).
# Usage: tests/windows/run.sh [--native]   (--native: only build and run smoke.c against the Linux library)
# Ends with "N passed, M failed"; exit 1 on failure; exit 77 (and a SKIP line) when nothing could be tested.
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
. "$ROOT/scripts/emulator.sh"
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
CFLAGS="-std=c11 -Wall -Wextra -Wpedantic -Werror"
WORK=$(mktemp -d)
chmod 755 "$WORK"
passed=0; failed=0; skipped=0
ok() { passed=$((passed+1)); echo "ok   $*"; }
ko() { failed=$((failed+1)); echo "FAIL $*"; }
skip() { skipped=$((skipped+1)); echo "SKIP $*"; }
OWN_AUTH=""

cleanup() {
    stop_emulator
    [ -n "$OWN_AUTH" ] && bash "$ROOT/tests/rigs/auth/stop.sh" "$OWN_AUTH" >/dev/null 2>&1
    # CM_WINDOWS_KEEP=1 keeps the logs (rig logs, Wine output) for a look afterwards.
    if [ -n "${CM_WINDOWS_KEEP:-}" ]; then echo "kept $WORK"; else rm -rf "$WORK"; fi
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

# Emulator state: smoke.c's Approved and Pending requests and a 500 with a known correlation id; one
# Approved request per assign-from-reader run and one for examples/assign.c.
uuid() { cat /proc/sys/kernel/random/uuid; }
REQ=$(uuid); PENDING=$(uuid); FAULT_CARD=$(uuid); CID=$(uuid)
BULK=($(uuid) $(uuid) $(uuid)); REQ_X86=$(uuid); AFR_REQ=$(uuid); AFR_REQ2=$(uuid); ASSIGN_REQ=$(uuid); ASSIGN_CARD=$(uuid)
CLI_REQ=$(uuid)
emulator() {
    start_emulator --request "$REQ=Approved" --request "$PENDING=Pending" --request "$REQ_X86=Approved" --request "$AFR_REQ=Approved" \
        --request "$AFR_REQ2=Approved" --request "$ASSIGN_REQ=Approved" --request "$CLI_REQ=Approved" \
        --request "${BULK[0]}=Approved" --request "${BULK[1]}=Approved" --request "${BULK[2]}=Approved" \
        --fault "server-error=$CID:GET:cardid=$FAULT_CARD"
}

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

# ---- cross builds, distribution zip, exports, import libraries -------------------------------------------
"$ROOT/scripts/build-windows.sh" "$WORK/dist" | tee "$WORK/build.log"
[ "${PIPESTATUS[0]}" -eq 0 ] || ko "scripts/build-windows.sh"
grep '^SKIP' "$WORK/build.log" | while read -r line; do echo "(build) $line"; done
skipped=$((skipped + $(grep -c '^SKIP' "$WORK/build.log")))
if zip=$(ls "$WORK"/dist/cm-smartcard-*-windows.zip 2>/dev/null) && (cd "$WORK/dist" && sha256sum -c --quiet "$(basename "$zip").sha256"); then
    ok "distribution zip $(basename "$zip") matches its SHA-256 file; $(unzip -Z1 "$zip" | wc -l) files"
else
    ko "distribution zip or its checksum"
fi

while read -r triple arch; do
    [ -n "$triple" ] || continue
    mingw=${triple%%-*}-w64-mingw32
    d="$WORK/dist/$arch"
    if "$ROOT/scripts/check-exports.sh" "$d/cm_smartcard.dll" >"$WORK/exports-$arch.log"; then
        ok "$arch: $(grep '^ok' "$WORK/exports-$arch.log" | sed 's/^ok *//')"
    else
        cat "$WORK/exports-$arch.log"; ko "$arch: the DLL's export table differs from the header"
    fi
    if "$ROOT/scripts/check-exports.sh" "$d/cm_smartcard.lib" >"$WORK/implib-$arch.log"; then
        ok "$arch: MSVC cm_smartcard.lib: $(grep '^ok' "$WORK/implib-$arch.log" | sed 's/^ok *//')"
    else
        cat "$WORK/implib-$arch.log"; ko "$arch: the MSVC import library differs from the header"
    fi
    # Imports: only system DLLs (no libgcc_s / libwinpthread to ship).
    bad=$("$mingw-objdump" -p "$d/cm_smartcard.dll" | sed -n 's/.*DLL Name: //p' | grep -viE '^(api-ms-win-.*|kernel32|ntdll|msvcrt|advapi32|bcrypt|bcryptprimitives|userenv|ws2_32|winscard|crypt32|ncrypt|secur32|ole32|oleaut32|shell32|user32|winhttp)\.dll$' || true)
    if [ -z "$bad" ]; then ok "$arch: the DLL imports only system DLLs"; else ko "$arch: unexpected DLL imports: $bad"; fi

    # An MSVC-style link against the MSVC import library (no Windows SDK: our own tiny CRT-free program).
    if out=$(bash "$ROOT/tests/windows/msvc-link.sh" "$arch" "$d" "$WORK/msvc-$arch" 2>&1); then
        ok "$arch: $out"
    else
        echo "$out" | sed 's/^/     /'; ko "$arch: linking a C program against cm_smartcard.lib with lld-link"
    fi

    bin="$WORK/bin-$arch"; mkdir -p "$bin"
    cp "$d/cm_smartcard.dll" "$bin/"
    [ -f "$d/cm-smartcard.exe" ] && cp "$d/cm-smartcard.exe" "$bin/"
    [ -f "$WORK/msvc-$arch/msvc_prog.exe" ] && cp "$WORK/msvc-$arch/msvc_prog.exe" "$bin/"
    built=1
    for prog in smoke card sspi; do
        if ! "$mingw-gcc" $CFLAGS -I"$ROOT/include" -o "$bin/$prog.exe" "$ROOT/tests/windows/$prog.c" -L"$d" -l:libcm_smartcard.dll.a; then
            ko "$arch: building $prog.exe with mingw"; built=0
        fi
    done
    if [ "$arch" = x64 ]; then
        "$mingw-gcc" $CFLAGS -I"$ROOT/include" -o "$bin/assign.exe" "$ROOT/examples/assign.c" -L"$d" -l:libcm_smartcard.dll.a || built=0
        "$mingw-gcc" $CFLAGS -I"$ROOT/include" -o "$bin/assign_from_reader.exe" "$ROOT/examples/assign_from_reader.c" -L"$d" -l:libcm_smartcard.dll.a || built=0
        if [ -f "$ROOT/examples/bulk_assign.c" ]; then
            "$mingw-gcc" $CFLAGS -I"$ROOT/include" -o "$bin/bulk_assign.exe" "$ROOT/examples/bulk_assign.c" -L"$d" -l:libcm_smartcard.dll.a || built=0
        fi
        # C++: the mingw C++ runtime linked statically (Wine has no libstdc++-6.dll).
        "$mingw-g++" -std=c++17 -Wall -Wextra -Wpedantic -Werror -static -I"$ROOT/include" -o "$bin/lookup.exe" "$ROOT/examples/lookup.cpp" \
            -L"$d" -l:libcm_smartcard.dll.a || built=0
    fi
    if [ $built = 1 ]; then ok "$arch: smoke.c, card.c, sspi.c$([ "$arch" = x64 ] && echo ', examples/assign.c, assign_from_reader.c, bulk_assign.c, lookup.cpp') built with mingw ($CFLAGS) against libcm_smartcard.dll.a"; else ko "$arch: mingw builds"; fi
done <"$WORK/dist/targets"

# Without the x64 DLL (its Rust target could not be fetched: see the SKIP lines above) there is nothing to run.
if ! grep -q ' x64$' "$WORK/dist/targets"; then
    skip "Wine 10 stage: no x64 DLL was built"; summary
fi

# The library's Rust unit tests built for Windows (x64), to run under Wine 10 (winscard_w.rs is Windows-only).
if out=$(cd "$ROOT" && cargo test --lib --no-run --target x86_64-pc-windows-gnu 2>&1) \
   && exe=$(echo "$out" | sed -n 's/.*Executable unittests src\/lib.rs (\(.*\.exe\)).*/\1/p' | head -1) && [ -f "$ROOT/$exe" ] || [ -f "$exe" ]; then
    [ -f "$exe" ] || exe="$ROOT/$exe"
    cp "$exe" "$WORK/bin-x64/unit-tests.exe" && ok "x64: the library's Rust unit tests built for Windows"
else
    echo "$out" | tail -5; ko "x64: building the Rust unit tests for Windows"
fi

# ---- Wine 10 in a Debian 13 root ---------------------------------------------------------------------
if [ "$(id -u)" != 0 ]; then
    skip "Wine 10 stage: needs root (debootstrap, chroot, mounts)"; summary
fi
t0=$(date +%s)
if ! "$ROOT/scripts/wine10-root.sh" build >"$WORK/root.log" 2>&1; then
    cat "$WORK/root.log"; ko "scripts/wine10-root.sh build"; summary
fi
ok "Debian 13 root with Wine 10 ready ($(($(date +%s) - t0)) s; $(tail -1 "$WORK/root.log"))"

emulator || { ko "cm-emulator could not be started"; summary; }
# Always an auth rig of its own (about 1 s), in front of this stage's emulator: the SSPI checks then do not
# depend on what earlier suites left in a shared rig (on fresh CI clones the shared rig's Apache sometimes
# did not answer a process's first Kerberos call within 20 s; docs/windows.md).
OWN_AUTH="$WORK/auth"
if AUTH_BACKEND_URL="$EMULATOR_URL" bash "$ROOT/tests/rigs/auth/start.sh" "$OWN_AUTH" >"$WORK/auth.log" 2>&1; then
    AUTH_ENV="$OWN_AUTH/auth.env"
else
    tail -20 "$WORK/auth.log"; ko "auth rig could not be started"; AUTH_ENV=""
fi
# pcsc-wait (the PC/SC rig's helper) built here, run inside the root against its libpcsclite.
cc -O2 -o "$WORK/pcsc-wait" "$ROOT/tests/rigs/pcsc/pcsc-wait.c" $(pkg-config --cflags --libs libpcsclite) || ko "building pcsc-wait"
cp "$ROOT/tests/rigs/pcsc/vcard.py" "$WORK/"
# examples/bulk_assign.c's input: three Approved requests with new cards, a comment, the Pending request.
{ for r in "${BULK[@]}"; do echo "$r $(uuid) 3b8d0180fba000000397425446590301c8"; done; echo "# a comment"; echo "$PENDING $(uuid)"; } >"$WORK/bulk.txt"
binds=(--bind "$WORK")
[ -n "$AUTH_ENV" ] && binds+=(--bind "$(dirname "$AUTH_ENV")")
STAGE_DIR="$WORK" PCSC_RIG_SRC="$WORK" EMULATOR_URL="$EMULATOR_URL" STAGE_REQ="$AFR_REQ" STAGE_REQ2="$AFR_REQ2" STAGE_CLI_REQ="$CLI_REQ" \
STAGE_SMOKE_ARGS_x64="$EMULATOR_URL $REQ $PENDING $FAULT_CARD $CID" \
STAGE_SMOKE_ARGS_x86="$EMULATOR_URL $REQ_X86 $PENDING $FAULT_CARD $CID $(uuid)" AUTH_ENV="$AUTH_ENV" STAGE_PENDING="$PENDING" \
STAGE_ASSIGN_ARGS="$EMULATOR_URL $ASSIGN_REQ $ASSIGN_CARD 3b8d0180fba000000397425446590301c8" \
    "$ROOT/scripts/wine10-root.sh" exec "${binds[@]}" -- bash "$ROOT/tests/windows/wine10-stage.sh" 2>&1 | tee "$WORK/stage.log"
counts=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$WORK/stage.log" | tail -1)
if [ -z "$counts" ]; then
    ko "the Wine 10 stage did not finish"
else
    passed=$((passed + $(echo "$counts" | awk '{print $1}')))
    failed=$((failed + $(echo "$counts" | awk '{print $3}')))
fi
grep -q wine10-root /proc/mounts && ko "mounts of the Wine 10 root left behind: $(grep -c wine10-root /proc/mounts)"
summary
