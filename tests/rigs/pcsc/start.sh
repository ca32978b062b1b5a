#!/usr/bin/env bash
# Start the PC/SC rig: pcscd (system socket, or a private instance when /run/pcscd is taken) with two
# vpcd entries (4 readers) and a default GIDS virtual card in reader 0. Idempotent: a running rig is
# stopped first. Writes $PCSC_RIG_DIR/pcsc.env (source it, or set PCSC_RIG_ENV to its path).
#
# Environment: PCSC_RIG_DIR (default /tmp/cm-smartcard-pcsc-rig), PCSC_PRIVATE (auto|0|1, default auto),
# PCSC_BASE_PORT (default: just above the kernel's ephemeral port range, e.g. 61063 in default mode and
# 62063 in private mode; moved up by 10 while any of the 4 ports is in use, retried if vpcd cannot bind).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

[ "$(id -u)" = 0 ] || die "must run as root (pcscd needs /run/pcscd; private mode needs unshare + mount)"
command -v pcscd >/dev/null || die "pcscd not installed (apt-get install pcscd vsmartcard-vpcd libpcsclite-dev pkg-config)"
[ -f "$VPCD_LIB" ] || die "$VPCD_LIB missing (apt-get install vsmartcard-vpcd)"

"$RIG_SRC/stop.sh" >/dev/null 2>&1 || true
mkdir -p "$RIG_DIR"
rm -f "$RIG_DIR/pcscd.log"
build_wait

case "${PCSC_PRIVATE:-auto}" in
    1 | yes | true) mode=private ;;
    0 | no | false) mode=default ;;
    *) if system_pcscd_taken; then mode=private; else mode=default; fi ;;
esac
echo "$mode" >"$RIG_DIR/mode"

# vpcd ports: above the ephemeral port range (a machine full of TIME_WAIT sockets cannot take them), the
# first range where no socket uses any of the 4 ports; if a vpcd entry still fails to bind (a race with
# another program), pcscd is stopped and the next range tried.
if [ -n "${PCSC_BASE_PORT:-}" ]; then
    base=$PCSC_BASE_PORT
    ports_free "$base" || die "ports $base..$((base + 3)) are in use"
else
    base=$(first_base_port "$mode")
fi
attempt=0
while :; do
    if [ -z "${PCSC_BASE_PORT:-}" ]; then
        tries=0
        until ports_free "$base"; do
            base=$((base + 10))
            tries=$((tries + 1))
            [ $tries -lt 50 ] || die "no free vpcd port range found"
        done
    fi
    echo "$base" >"$RIG_DIR/base-port"
    write_conf "$base"
    attempt=$((attempt + 1))
    if PCSC_START_MAY_FAIL=$([ $attempt -lt 5 ] && [ -z "${PCSC_BASE_PORT:-}" ] && echo 1 || echo 0) start_pcscd; then
        break
    fi
    log "a vpcd port of $base..$((base + 3)) was taken meanwhile; trying the next range"
    stop_pcscd
    : >"$RIG_DIR/pcscd.log"
    base=$((base + 10))
done
client_env

# Reader names as pcscd reports them (instance numbers depend on enumeration order).
readers=$("$RIG_DIR/pcsc-wait" -t 5 list)
r0=$(printf '%s\n' "$readers" | grep '^Virtual PCD ' | sort | sed -n 1p)
r1=$(printf '%s\n' "$readers" | grep '^Virtual PCD ' | sort | sed -n 2p)
u0=$(printf '%s\n' "$readers" | grep -F "$UTF8_READER_BASE" | sort | sed -n 1p || true)
u1=$(printf '%s\n' "$readers" | grep -F "$UTF8_READER_BASE" | sort | sed -n 2p || true)
[ -n "$r0" ] && [ -n "$r1" ] || die "vpcd readers missing: $readers"
[ -n "$u0" ] || log "WARNING: the non-ASCII reader '$UTF8_READER_BASE' was not created (see pcscd.log)"

card_pid=$(start_card default "$base" --profile gids --atr "$DEFAULT_ATR" --card-id "$DEFAULT_CARD_ID")
"$RIG_DIR/pcsc-wait" -t 10 present "$r0" "$DEFAULT_ATR" || die "default card did not appear in '$r0'"

env_file="$RIG_DIR/pcsc.env"
{
    echo "# cm-smartcard PC/SC rig ($mode mode), written by start.sh"
    echo "export PCSC_RIG_DIR='$RIG_DIR'"
    echo "export PCSC_RIG_SCRIPTS='$RIG_SRC'"
    echo "export PCSC_MODE='$mode'"
    if [ "$mode" = private ]; then echo "export PCSCLITE_CSOCK_NAME='$RIG_DIR/run/pcscd.comm'"; fi
    echo "export PCSC_READER0='$r0'"
    echo "export PCSC_READER1='$r1'"
    echo "export PCSC_READER_UTF8='$u0'"
    echo "export PCSC_READER_UTF8_1='$u1'"
    echo "export PCSC_PORT0='$base'"
    echo "export PCSC_PORT1='$((base + 1))'"
    echo "export PCSC_PORT2='$((base + 2))'"
    echo "export PCSC_PORT3='$((base + 3))'"
    echo "export PCSC_VCARD='$RIG_SRC/vcard.py'"
    echo "export PCSC_PYTHON='$PY'"
    echo "export PCSC_WAIT='$RIG_DIR/pcsc-wait'"
    echo "export PCSC_DEFAULT_ATR='$DEFAULT_ATR'"
    echo "export PCSC_DEFAULT_CARD_ID='$DEFAULT_CARD_ID'"
    echo "export PCSC_DEFAULT_CARD_PID='$card_pid'"
    echo "export PCSC_RIG_ENV='$env_file'"
} >"$env_file"
log "ready: $env_file (readers: '$r0', '$r1', '$u0', '$u1')"
echo "$env_file"
