#!/bin/bash
# Installs the library into a temporary prefix with scripts/install.sh, builds examples/assign.c (C11) and
# examples/lookup.cpp (C++17) with -Wall -Wextra -Wpedantic -Werror through pkg-config, and runs the
# README demo against the CM emulator on loopback: success, a 403 failure, lookup and reconcile.
# Usage: examples/run.sh      Ends with "N passed, M failed"; exit status 1 on failure.
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
. "$ROOT/scripts/emulator.sh"
WORK=$(mktemp -d)
cleanup() { stop_emulator; rm -rf "$WORK"; }
trap cleanup EXIT
trap 'exit 130' INT TERM
passed=0; failed=0
ok() { passed=$((passed+1)); echo "ok   $*"; }
ko() { failed=$((failed+1)); echo "FAIL $*"; }
done_() { echo "$passed passed, $failed failed"; [ $failed -eq 0 ]; exit; }

if "$ROOT/scripts/install.sh" --debug "$WORK/prefix" >/dev/null; then ok "scripts/install.sh PREFIX"; else ko "scripts/install.sh"; done_; fi
for f in include/cm_smartcard.h lib/libcm_smartcard.so lib/pkgconfig/cm_smartcard.pc; do
    [ -f "$WORK/prefix/$f" ] && ok "installed $f" || ko "missing $f"
done
export PKG_CONFIG_PATH="$WORK/prefix/lib/pkgconfig"
[ "$(pkg-config --modversion cm_smartcard)" = "$(sed -n 's/^#define CM_SMARTCARD_VERSION "\(.*\)"/\1/p' "$ROOT/include/cm_smartcard.h")" ] \
    && ok "pkg-config --modversion" || ko "pkg-config --modversion"
cc -std=c11 -Wall -Wextra -Wpedantic -Werror "$ROOT/examples/assign.c" $(pkg-config --cflags --libs cm_smartcard) -o "$WORK/assign" \
    && ok "assign.c builds (C11, -Werror) via pkg-config" || ko "assign.c build"
cc -std=c11 -Wall -Wextra -Wpedantic -Werror "$ROOT/examples/bulk_assign.c" $(pkg-config --cflags --libs cm_smartcard) -o "$WORK/bulk_assign" \
    && ok "bulk_assign.c builds (C11, -Werror) via pkg-config" || ko "bulk_assign.c build"
c++ -std=c++17 -Wall -Wextra -Wpedantic -Werror "$ROOT/examples/lookup.cpp" $(pkg-config --cflags --libs cm_smartcard) -o "$WORK/lookup" \
    && ok "lookup.cpp builds (C++17, -Werror) via pkg-config" || ko "lookup.cpp build"
[ -x "$WORK/assign" ] && [ -x "$WORK/lookup" ] && [ -x "$WORK/bulk_assign" ] || done_
export LD_LIBRARY_PATH="$WORK/prefix/lib"

REQ=$(cat /proc/sys/kernel/random/uuid); PENDING=$(cat /proc/sys/kernel/random/uuid); CARD=$(cat /proc/sys/kernel/random/uuid)
BULK=()
for _ in 1 2 3 4 5; do BULK+=("$(cat /proc/sys/kernel/random/uuid)"); done
start_emulator --request "$REQ=Approved" --request "$PENDING=Pending" $(printf -- '--request %s=Approved ' "${BULK[@]}") || { ko "cm-emulator"; done_; }
export CM_AUTH=none
ATR="3B 8D 01 80 FB A0 00 00 03 97 42 54 46 59 03 01 C8"

out=$("$WORK/assign" "$EMULATOR_URL" "$REQ" "$CARD" "$ATR" 2>&1); rc=$?
echo "$out" | sed 's/^/     /'
[ $rc -eq 0 ] && echo "$out" | grep -qE '^smartcard uuid: [0-9a-f-]{36}$' && ok "assign: binds and prints the uuid" || ko "assign success (rc $rc)"
out=$("$WORK/assign" "$EMULATOR_URL" "$PENDING" "$(cat /proc/sys/kernel/random/uuid)" "$ATR" 2>&1); rc=$?
echo "$out" | sed 's/^/     /'
[ $rc -eq 1 ] && echo "$out" | grep -q 'status 300' && echo "$out" | grep -q 'HTTP status: 403' && echo "$out" | grep -q 'server message:' \
    && ok "assign: a 403 prints status, message, HTTP status, server message; exit 1" || ko "assign failure (rc $rc)"
out=$("$WORK/assign" "$EMULATOR_URL" "$REQ" 2>&1); rc=$?
[ $rc -eq 2 ] && ok "assign: usage error exits 2" || ko "assign usage (rc $rc)"
out=$("$WORK/lookup" "$EMULATOR_URL" "$CARD" "$REQ" 2>&1); rc=$?
echo "$out" | sed 's/^/     /'
[ $rc -eq 0 ] && echo "$out" | grep -q "serial number:  {$CARD}" && echo "$out" | grep -q 'bound to this card' \
    && ok "lookup: finds the smartcard and reconciles" || ko "lookup (rc $rc)"
out=$("$WORK/lookup" "http://127.0.0.1:1" "$CARD" 2>&1); rc=$?
[ $rc -eq 1 ] && echo "$out" | grep -q 'cm_find_smartcard' && ok "lookup: a connection failure becomes a cm::error, exit 1" || ko "lookup failure (rc $rc): $out"
input=$(for r in "${BULK[@]}"; do echo "$r $(cat /proc/sys/kernel/random/uuid) 3b8d0180fba000000397425446590301c8"; done
  echo "# a comment"; echo "$PENDING $(cat /proc/sys/kernel/random/uuid)")
out=$(echo "$input" | "$WORK/bulk_assign" "$EMULATOR_URL" 2>&1); rc=$?
echo "$out" | sed 's/^/     /'
[ $rc -eq 1 ] && echo "$out" | grep -q '^5 bound, 1 failed, 0 unknown$' && [ "$(echo "$out" | grep -c '^bound ')" = 5 ] \
    && ok "bulk_assign: five cards bound over one session, the pending request reported, exit 1" || ko "bulk_assign (rc $rc)"
done_
