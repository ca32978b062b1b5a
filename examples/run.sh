#!/bin/bash
# Installs the library into a temporary prefix with scripts/install.sh, builds examples/assign.c (C11) and
# examples/lookup.cpp (C++17) with -Wall -Wextra -Wpedantic -Werror through pkg-config, and runs the
# README demo against the CM emulator on loopback: success, a 403 failure, lookup and reconcile.
# Then examples/enroll.c (C11 + OpenSSL libcrypto): the whole enrollment against the virtual card in the
# PC/SC rig (tests/rigs/pcsc, started by tests/run_all.sh; found through PCSC_RIG_ENV or PCSC_RIG_DIR):
# auto-approved, approved by a "manager" through the emulator's control interface, an Enroll request
# whose answer is lost (reconciled), and failures. Without a rig these are skipped with a reason, unless
# CM_REQUIRE_RIGS=1 (then a missing rig is a failure).
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
cc -std=c11 -Wall -Wextra -Wpedantic -Werror "$ROOT/examples/enroll.c" $(pkg-config --cflags --libs cm_smartcard libcrypto) -o "$WORK/enroll" \
    && ok "enroll.c builds (C11, -Werror) via pkg-config with libcrypto" || ko "enroll.c build"
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

# ---- examples/enroll.c: the whole enrollment against the virtual card in the PC/SC rig -------------------
rig_env=${PCSC_RIG_ENV:-${PCSC_RIG_DIR:+$PCSC_RIG_DIR/pcsc.env}}
if [ ! -x "$WORK/enroll" ]; then
    done_
elif [ -z "$rig_env" ] || [ ! -f "$rig_env" ]; then
    if [ "${CM_REQUIRE_RIGS:-0}" = 1 ]; then
        ko "enroll: no PC/SC rig (PCSC_RIG_ENV/PCSC_RIG_DIR unset or without pcsc.env) and CM_REQUIRE_RIGS=1"
    else
        echo "skip enroll: no PC/SC rig; start one with 'PCSC_PRIVATE=1 PCSC_RIG_DIR=DIR bash tests/rigs/pcsc/start.sh'" \
            "and set PCSC_RIG_ENV=DIR/pcsc.env (tests/run_all.sh does)"
    fi
    done_
fi
# shellcheck disable=SC1090
. "$rig_env" # PCSC_READER0, the default card, and PCSCLITE_CSOCK_NAME for a private pcscd
if ! "$PCSC_WAIT" -t 10 present "$PCSC_READER0" "$PCSC_DEFAULT_ATR" >/dev/null 2>&1; then
    ko "enroll: the rig's default card is not in '$PCSC_READER0'"
    done_
fi
# The card id as the library reads it (Windows GUID byte order) and CM stores it.
CARD_ID=$(python3 -c 'import sys, uuid; print(uuid.UUID(bytes_le=bytes.fromhex(sys.argv[1])))' "$PCSC_DEFAULT_CARD_ID")
API="/CertificateManagement/api/v1.0"

# A fresh emulator (its own test CA and state) for each run; the CA the certificates must chain to.
fresh_emulator() {
    stop_emulator
    start_emulator "$@" || return 1
    curl -fsS "$EMULATOR_URL/_emulator/ca.pem" -o "$WORK/ca.pem"
}
# has FILE REGEX...: every extended regex matches a line of FILE
has() {
    local file=$1 re
    shift
    for re in "$@"; do grep -qE -- "$re" "$file" || { echo "     missing: $re"; return 1; }; done
}
# json PATH EXPR: GET the emulator's PATH, print the Python expression EXPR of its JSON answer d
json() { curl -fsS "$EMULATOR_URL$1" | python3 -c "import json, sys; d = json.load(sys.stdin); r = $2; print(*r) if isinstance(r, tuple) else print(r)"; }
show() { sed 's/^/     /' "$1"; }

# 1. "Smartcard User": auto-approved, diversified admin key, two certificates; then Unblock and Retire.
if fresh_emulator; then
    "$WORK/enroll" --reader "$PCSC_READER0" --ca "$WORK/ca.pem" --timeout 30 "$EMULATOR_URL" >"$WORK/enroll1.out" 2>&1; rc=$?
    show "$WORK/enroll1.out"
    [ $rc -eq 0 ] && has "$WORK/enroll1.out" \
        "^card: ATR $PCSC_DEFAULT_ATR, card id $CARD_ID " \
        '^Enroll policy: ApprovalsNeeded 0 ' \
        '^Enroll request created: [0-9a-f-]{36}$' '^Enroll request approved \(Status 3\)$' \
        '^card bound: smartcard [0-9a-f-]{36}$' \
        '^smart card configuration: DiversifyAdminKey true' \
        '^admin challenge: challenge [0-9a-f]{16} answered with the default admin key: response verified$' \
        '^admin challenge: challenge [0-9a-f]{16} answered with the diversified admin key: response verified$' \
        '^CSR options: 2$' '^2 certificates verified against the CA$' \
        '^certificate 1: CMSmartcardSignature, PKCS#7, .*verified against the CA, key of CSR 1$' \
        '^certificate 2: CMSmartcardEncryption, PKCS#7, .*verified against the CA, key of CSR 2$' \
        '^Enroll request completed \(Status 8\)$' \
        '^enrolled: smartcard .* Status 3, operations: renew, unblock, retire' \
        '^unblock challenge: .* diversified admin key: response verified$' '^Unblock request completed \(Status 8\)$' \
        '^card retired \(Status 6\)$' '^Retire request completed \(Status 8\)$' \
        '^final card status: smartcard .* Status 6 \(Retired\), operations: none$' \
        && ok "enroll (Smartcard User): card read, request created and approved, card bound, both challenge responses verified, 2 certificates verified against the CA, completed, unblocked, retired" \
        || ko "enroll Smartcard User (rc $rc)"
    # The server's side: one card, retired, with its two certificates; three requests (Enroll, Unblock, Retire), all completed.
    read -r sc_uuid sc_status sc_atr < <(json "$API/smartcards?cardid=$CARD_ID" 'd["Uuid"], d["Status"], d["Atr"]')
    certs=$(json "$API/smartcards/$sc_uuid/certificates" 'len(d)')
    reqs=$(json "/_emulator/requests" '" ".join(sorted("%s:%s" % (r["RequestType"], r["Status"]) for r in d))')
    [ "$sc_status" = 6 ] && [ "$sc_atr" = "$PCSC_DEFAULT_ATR" ] && [ "$certs" = 2 ] && [ "$reqs" = "1:8 4:8 5:8" ] \
        && ok "emulator state: card $CARD_ID Retired with its ATR and 2 certificates; Enroll, Retire, Unblock requests Completed" \
        || ko "emulator state after enroll: card $sc_uuid status $sc_status ATR $sc_atr, certificates $certs, requests (type:status) $reqs"
else
    ko "cm-emulator for enroll"
fi

# 2. "Smartcard Manager Approval": the request waits until a manager approves it (here: run.sh, through the
#    emulator's control interface, as soon as the example has printed the request id).
if fresh_emulator; then
    "$WORK/enroll" --reader "$PCSC_READER0" --template "Smartcard Manager Approval" --ca "$WORK/ca.pem" --timeout 60 \
        "$EMULATOR_URL" >"$WORK/enroll2.out" 2>&1 &
    enroll_pid=$!
    request=""
    for _ in $(seq 1 300); do
        grep -q '^Enroll request pending' "$WORK/enroll2.out" && request=$(sed -n 's/^Enroll request created: //p' "$WORK/enroll2.out")
        [ -n "$request" ] && break
        kill -0 "$enroll_pid" 2>/dev/null || break
        sleep 0.1
    done
    status_before=$(json "$API/requests/$request" 'd["Status"]' 2>/dev/null)
    approved=$(curl -sS -o /dev/null -w '%{http_code}' -X POST "$EMULATOR_URL/_emulator/requests/$request/approve")
    wait "$enroll_pid"; rc=$?
    show "$WORK/enroll2.out"
    [ -n "$request" ] && [ "$status_before" = 1 ] && [ "$approved" = 200 ] && [ $rc -eq 0 ] && has "$WORK/enroll2.out" \
        '^Enroll policy: ApprovalsNeeded 1 ' \
        '^Enroll request pending: waiting up to 60 s for a CM manager to approve it$' \
        '^Enroll request approved \(Status 3\)$' '^smart card configuration: DiversifyAdminKey false' \
        '^admin challenge: .* default admin key: response verified$' \
        '^1 certificate verified against the CA$' '^Enroll request completed \(Status 8\)$' \
        '^unblock challenge: .* default admin key: response verified$' \
        '^final card status: smartcard .* Status 6 \(Retired\)' \
        && ! grep -q 'diversified admin key' "$WORK/enroll2.out" \
        && ok "enroll (Smartcard Manager Approval): pending until run.sh approved request $request through /_emulator, default admin key only, 1 certificate verified, completed, unblocked, retired" \
        || ko "enroll Smartcard Manager Approval (rc $rc, request '$request', status before approval '$status_before', approve HTTP $approved)"
else
    ko "cm-emulator for enroll (manager approval)"
fi

# 3. The answer to POST /requests is lost (the emulator creates the request, then closes the connection):
#    the example finds the request by its unique comment instead of sending it again.
if fresh_emulator --fault "close-after-read=apply:POST:$API/requests:1"; then
    "$WORK/enroll" --reader "$PCSC_READER0" --ca "$WORK/ca.pem" --timeout 30 "$EMULATOR_URL" >"$WORK/enroll3.out" 2>&1; rc=$?
    show "$WORK/enroll3.out"
    enrolls=$(json "/_emulator/requests" 'sum(1 for r in d if r["RequestType"] == 1)')
    [ $rc -eq 0 ] && [ "$enrolls" = 1 ] && has "$WORK/enroll3.out" \
        '^Enroll request: outcome unknown \(the answer was lost\); looking for it by its comment$' \
        '^Enroll request: found, it was created$' '^2 certificates verified against the CA$' \
        '^final card status: smartcard .* Status 6 \(Retired\)' \
        && ok "enroll: a lost POST /requests answer is reconciled (exactly 1 Enroll request on the server), the run completes" \
        || ko "enroll with a lost answer (rc $rc, Enroll requests on the server: $enrolls)"
else
    ko "cm-emulator for enroll (lost answer)"
fi

# 4. Failures: an unknown template, a server error with its HTTP status, a usage error.
if fresh_emulator --fault "500:POST:/certificatedata"; then
    "$WORK/enroll" --reader "$PCSC_READER0" --template "No Such Template" "$EMULATOR_URL" >"$WORK/enroll4.out" 2>&1; rc=$?
    show "$WORK/enroll4.out"
    [ $rc -eq 1 ] && has "$WORK/enroll4.out" \
        '^FAILED: no profile template named "No Such Template" \(the server offers "Smartcard User", "Smartcard Manager Approval", "Server Keys"\)$' \
        && ok "enroll: an unknown template name fails with the names offered, exit 1" || ko "enroll unknown template (rc $rc)"
    "$WORK/enroll" --reader "$PCSC_READER0" --ca "$WORK/ca.pem" "$EMULATOR_URL" >"$WORK/enroll5.out" 2>&1; rc=$?
    show "$WORK/enroll5.out"
    [ $rc -eq 1 ] && has "$WORK/enroll5.out" \
        '^FAILED: submitting the certificate requests: status 302 \(' '^  message: .+' '^  HTTP status: 500$' \
        && ! grep -q 'request completed' "$WORK/enroll5.out" \
        && ok "enroll: a 500 on certificate data prints the status, message and HTTP status, stops, exit 1" \
        || ko "enroll server error (rc $rc)"
else
    ko "cm-emulator for enroll (failures)"
fi
"$WORK/enroll" >/dev/null 2>&1; rc=$?
"$WORK/enroll" --timeout soon "$EMULATOR_URL" >/dev/null 2>&1; rc2=$?
[ $rc -eq 2 ] && [ $rc2 -eq 2 ] && ok "enroll: usage errors exit 2" || ko "enroll usage (rc $rc, $rc2)"
done_
