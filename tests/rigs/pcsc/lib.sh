# shellcheck shell=bash
# Common functions of the cm-smartcard PC/SC rig. Sourced by start.sh, stop.sh, restart-pcscd.sh, card.sh.
#
# Layout of $PCSC_RIG_DIR (default /tmp/cm-smartcard-pcsc-rig):
#   pcsc.env            environment for clients (source it, or point PCSC_RIG_ENV at it)
#   mode                "default" (system socket /run/pcscd) or "private" (unshare + bind mount)
#   base-port           first vpcd port (4 ports used: base..base+3)
#   reader.conf.d/      private pcscd configuration (two vpcd entries)
#   libifdvpcd-b.so     copy of the vpcd driver for the second entry (pitfall P4)
#   run/                bind-mounted over /run/pcscd in private mode (pcscd.comm, pcscd.pid)
#   pcscd.pid pcscd.log PID and log of the pcscd we started
#   cards/NAME.{pid,log,ready}  virtual cards started by the rig or by tests
#   pcsc-wait           helper built from pcsc-wait.c

RIG_SRC="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
RIG_DIR="${PCSC_RIG_DIR:-/tmp/cm-smartcard-pcsc-rig}"
VPCD_LIB="${VPCD_LIB:-/usr/lib/pcsc/drivers/serial/libifdvpcd.so}"
UTF8_READER_BASE="Lecteur virtuel é"
DEFAULT_ATR="3b8d0180fba000000397425446590301c8"
# Raw DF20 bytes whose .NET/Windows reading is the MIM docs' example card id bc88f13f-83ba-4037-8262-46eba1291c6e.
DEFAULT_CARD_ID="3ff188bcba833740826246eba1291c6e"

if [ -x /usr/bin/python3 ]; then PY=/usr/bin/python3; else PY=python3; fi

log() { echo "pcsc-rig: $*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# pid_alive PID -> 0 when the process exists and is not a zombie. A multi-threaded process whose
# main thread has exited also shows "Z" for its PID while other threads still run (pcscd does that
# while shutting down, still holding its sockets): it is alive while any of its tasks is not a zombie.
pid_alive() {
    local pid="$1" t
    [ -n "$pid" ] && [ -d "/proc/$pid" ] || return 1
    for t in /proc/"$pid"/task/*; do
        [ -e "$t/status" ] || continue
        grep -q '^State:[[:space:]]*Z' "$t/status" 2>/dev/null || return 0
    done
    return 1
}

# pid_is PID PATTERN -> 0 when the live process's command line contains PATTERN (PID-reuse guard)
pid_is() {
    local pid="$1" pat="$2"
    pid_alive "$pid" || return 1
    tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$pat"
}

# stop_pid PID PATTERN: SIGTERM, wait <= 5 s (zombies count as gone), then SIGKILL
stop_pid() {
    local pid="$1" pat="$2" i
    pid_is "$pid" "$pat" || return 0
    kill -TERM "$pid" 2>/dev/null || true
    for i in $(seq 1 50); do
        pid_alive "$pid" || return 0
        sleep 0.1
    done
    log "pid $pid ($pat) did not stop within 5 s, sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    for i in $(seq 1 20); do
        pid_alive "$pid" || return 0
        sleep 0.1
    done
    return 0
}

# port_listening PORT -> 0 when some socket listens on TCP PORT (IPv4 or IPv6)
port_listening() {
    local hex
    hex=$(printf '%04X' "$1")
    cat /proc/net/tcp /proc/net/tcp6 2>/dev/null | awk -v p=":$hex" '$2 ~ p"$" && $4 == "0A" {found=1} END {exit !found}'
}

# port_in_use PORT -> 0 when any TCP socket (listening, connected, TIME_WAIT, ...) has local port PORT:
# vpcd binds without SO_REUSEADDR, so even a TIME_WAIT socket makes its bind fail ("Address already in use").
port_in_use() {
    local hex
    hex=$(printf '%04X' "$1")
    cat /proc/net/tcp /proc/net/tcp6 2>/dev/null | awk -v p=":$hex" '$2 ~ p"$" {found=1} END {exit !found}'
}

ports_free() {
    local base="$1" p
    for p in "$base" $((base + 1)) $((base + 2)) $((base + 3)); do
        port_in_use "$p" && return 1
    done
    return 0
}

# first_base_port MODE -> the first vpcd base port to try: above the kernel's ephemeral port range
# (/proc/sys/net/ipv4/ip_local_port_range), so outgoing connections and their TIME_WAIT sockets never
# take it; below the range when the range reaches the top. Private mode starts 1000 higher.
first_base_port() {
    local lo hi base
    read -r lo hi </proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || { lo=32768; hi=60999; }
    if [ "$hi" -le 63500 ]; then
        base=$(((hi / 1000 + 1) * 1000 + 63))
    else
        base=$((lo - 2000 + 63))
    fi
    [ "$1" = private ] && base=$((base + 1000))
    echo "$base"
}

# vpcd_bind_failed -> 0 when the pcscd log says a vpcd entry could not bind its port
vpcd_bind_failed() {
    grep -q "Address already in use" "$RIG_DIR/pcscd.log" 2>/dev/null
}

# system_pcscd_taken -> 0 when /run/pcscd holds any pcscd file we did not create (live or stale: not ours to touch)
system_pcscd_taken() {
    [ -e /run/pcscd/pcscd.comm ] || [ -e /run/pcscd/pcscd.pid ]
}

build_wait() {
    mkdir -p "$RIG_DIR"
    if [ ! -x "$RIG_DIR/pcsc-wait" ] || [ "$RIG_SRC/pcsc-wait.c" -nt "$RIG_DIR/pcsc-wait" ]; then
        # shellcheck disable=SC2046
        cc -O2 -o "$RIG_DIR/pcsc-wait" "$RIG_SRC/pcsc-wait.c" $(pkg-config --cflags --libs libpcsclite) \
            || die "cannot build pcsc-wait (need cc, pkg-config, libpcsclite-dev)"
    fi
}

# client_env: exports PCSCLITE_CSOCK_NAME in private mode
client_env() {
    if [ "$(cat "$RIG_DIR/mode" 2>/dev/null)" = private ]; then
        export PCSCLITE_CSOCK_NAME="$RIG_DIR/run/pcscd.comm"
    fi
}

write_conf() {
    local base="$1"
    mkdir -p "$RIG_DIR/reader.conf.d"
    cp -f "$VPCD_LIB" "$RIG_DIR/libifdvpcd-b.so"
    cat >"$RIG_DIR/reader.conf.d/vpcd" <<CONF
FRIENDLYNAME "Virtual PCD"
DEVICENAME /dev/null:$base
LIBPATH $VPCD_LIB
CHANNELID $base

FRIENDLYNAME "$UTF8_READER_BASE"
DEVICENAME /dev/null:$((base + 2))
LIBPATH $RIG_DIR/libifdvpcd-b.so
CHANNELID $((base + 2))
CONF
}

# start_pcscd: starts pcscd in the recorded mode, records its PID, waits until it lists readers
start_pcscd() {
    local mode pid
    mode=$(cat "$RIG_DIR/mode")
    if [ -f "$RIG_DIR/pcscd.pid" ] && pid_is "$(cat "$RIG_DIR/pcscd.pid")" pcscd; then
        log "pcscd already running (pid $(cat "$RIG_DIR/pcscd.pid"))"
        return 0
    fi
    if [ "$mode" = private ]; then
        mkdir -p "$RIG_DIR/run" /run/pcscd
        # Stale files of our own private instance only.
        rm -f "$RIG_DIR/run/pcscd.comm" "$RIG_DIR/run/pcscd.pid"
        # unshare execs sh, sh execs pcscd: $! is pcscd's PID.
        unshare --mount --propagation private \
            sh -c 'mount --bind "$1" /run/pcscd && exec pcscd -f -c "$2"' sh \
            "$RIG_DIR/run" "$RIG_DIR/reader.conf.d" >>"$RIG_DIR/pcscd.log" 2>&1 &
        pid=$!
    else
        system_pcscd_taken && die "/run/pcscd is in use by another pcscd; use PCSC_PRIVATE=1"
        mkdir -p /run/pcscd
        pcscd -f -c "$RIG_DIR/reader.conf.d" >>"$RIG_DIR/pcscd.log" 2>&1 &
        pid=$!
    fi
    echo "$pid" >"$RIG_DIR/pcscd.pid"
    client_env
    if ! "$RIG_DIR/pcsc-wait" -t 10 exists "Virtual PCD 00 00" >/dev/null \
        || ! "$RIG_DIR/pcsc-wait" -t 3 exists "$UTF8_READER_BASE 00 00" >/dev/null; then
        # start.sh retries on other ports when a vpcd port could not be bound.
        [ "${PCSC_START_MAY_FAIL:-0}" = 1 ] && vpcd_bind_failed && return 1
        tail -20 "$RIG_DIR/pcscd.log" >&2
        die "pcscd (pid $pid) did not come up"
    fi
    log "pcscd pid $pid ($mode mode)"
}

stop_pcscd() {
    local pid mode
    [ -f "$RIG_DIR/pcscd.pid" ] || return 0
    pid=$(cat "$RIG_DIR/pcscd.pid")
    mode=$(cat "$RIG_DIR/mode" 2>/dev/null)
    stop_pid "$pid" pcscd
    rm -f "$RIG_DIR/pcscd.pid"
    if [ "$mode" = private ]; then
        rm -f "$RIG_DIR/run/pcscd.comm" "$RIG_DIR/run/pcscd.pid"
    elif [ "$(cat /run/pcscd/pcscd.pid 2>/dev/null)" = "$pid" ]; then
        # Our own default-mode instance died without cleaning up (SIGKILL): its files are stale.
        rm -f /run/pcscd/pcscd.comm /run/pcscd/pcscd.pid
    fi
}

# start_card NAME PORT [vcard.py args...]: starts a virtual card, records its PID in cards/NAME.pid
start_card() {
    local name="$1" port="$2" pid
    shift 2
    mkdir -p "$RIG_DIR/cards"
    stop_card "$name"
    rm -f "$RIG_DIR/cards/$name.ready"
    "$PY" "$RIG_SRC/vcard.py" --port "$port" --log "$RIG_DIR/cards/$name.log" \
        --ready-file "$RIG_DIR/cards/$name.ready" "$@" </dev/null >>"$RIG_DIR/cards/$name.out" 2>&1 &
    pid=$!
    echo "$pid" >"$RIG_DIR/cards/$name.pid"
    echo "$pid"
}

stop_card() {
    local name="$1"
    [ -f "$RIG_DIR/cards/$name.pid" ] || return 0
    stop_pid "$(cat "$RIG_DIR/cards/$name.pid")" vcard.py
    rm -f "$RIG_DIR/cards/$name.pid"
}

stop_all_cards() {
    local f
    for f in "$RIG_DIR"/cards/*.pid; do
        [ -e "$f" ] || continue
        stop_card "$(basename "$f" .pid)"
    done
}
