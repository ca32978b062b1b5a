#!/usr/bin/env bash
# Card-path benchmark (issue 8): cm-smartcard against raw PC/SC calls, side by side on the same virtual card.
#
# Builds, in one run, benches/card/bench_card.c (one program: "raw" = the calls a C program written directly
# against libpcsclite makes; "ours" = cm_read_card_atr / cm_read_card_id / cm_list_readers), starts its own
# PC/SC rig (pcscd + vpcd + the rig's default GIDS card; tests/rigs/pcsc), and prints per call:
#   - client CPU (getrusage of the calling process, user + system), median of interleaved rounds;
#   - instructions (valgrind --tool=callgrind, counting only the measured loop);
#   - pcscd round trips per call in steady state (commands sent on the pcscd socket, counted with strace);
# each as ours/raw. Targets (issue 8): ATR read, card ID and reader list <= 1.0x raw.
# Not a test: it asserts nothing about speed and exits 0 when it could measure.
#
# Environment: BENCH_PROFILE (cargo profile of the library, default release), BENCH_LIB_DIR (measure the
# libcm_smartcard.so in that directory instead of building one, e.g. an older build), BENCH_ROUNDS (interleaved
# rounds, default 7), BENCH_CALLS (calls per round, default 200), BENCH_CALLGRIND_CALLS (default 20),
# PCSC_PRIVATE (rig mode, default auto). Needs root (the rig), cc, pkg-config, libpcsclite-dev, valgrind;
# strace is optional (round trips).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
export PATH="$HOME/.cargo/bin:$PATH"
PROFILE=${BENCH_PROFILE:-release}
ROUNDS=${BENCH_ROUNDS:-7}
CALLS=${BENCH_CALLS:-200}
CG_CALLS=${BENCH_CALLGRIND_CALLS:-20}

WORK=$(mktemp -d /tmp/cm-bench-card.XXXXXX)
export PCSC_RIG_DIR="$WORK/rig"
cleanup() {
    local rc=$?
    bash "$ROOT/tests/rigs/pcsc/stop.sh" >/dev/null 2>&1 || true
    rm -rf "$WORK"
    exit $rc
}
trap cleanup EXIT INT TERM

if [ -n "${BENCH_LIB_DIR:-}" ]; then
    LIB_DIR=$(cd "$BENCH_LIB_DIR" && pwd)
    PROFILE="given: $LIB_DIR"
    echo "building the benchmark program against $LIB_DIR..." >&2
else
    echo "building the library ($PROFILE) and the benchmark program..." >&2
    cargo build --lib --profile "$PROFILE" --quiet
    case $PROFILE in dev) LIB_DIR=$ROOT/target/debug ;; *) LIB_DIR=$ROOT/target/$PROFILE ;; esac
fi
# shellcheck disable=SC2046
cc -std=c11 -O2 -Wall -Wextra -Werror -o "$WORK/bench_card" benches/card/bench_card.c -I include \
    $(pkg-config --cflags --libs libpcsclite) -L "$LIB_DIR" -lcm_smartcard
export LD_LIBRARY_PATH="$LIB_DIR${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"

echo "starting the PC/SC rig..." >&2
PCSC_PRIVATE=${PCSC_PRIVATE:-auto} bash tests/rigs/pcsc/start.sh >/dev/null
# shellcheck disable=SC1091
. "$PCSC_RIG_DIR/pcsc.env"
READER=$PCSC_READER0
BENCH=$WORK/bench_card

# cpu_per_call IMPL OP -> ns per call of one round (fails loudly when a call failed)
cpu_per_call() {
    local out
    out=$("$BENCH" "$1" "$2" "$READER" "$CALLS") || { echo "bench_card $1 $2 failed: $out" >&2; exit 1; }
    echo "${out%% *}"
}

median() { sort -n | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }

# instructions_per_call IMPL OP -> callgrind instruction count of bench_loop / calls
instructions_per_call() {
    local out="$WORK/cg.$1.$2"
    valgrind --tool=callgrind --toggle-collect=bench_loop --callgrind-out-file="$out" \
        "$BENCH" "$1" "$2" "$READER" "$CG_CALLS" >/dev/null 2>&1 || { echo "callgrind $1 $2 failed" >&2; exit 1; }
    awk -v n="$CG_CALLS" '/^totals:/ {printf "%.0f\n", $2 / n}' "$out"
}

# pcscd_commands IMPL OP CALLS -> pcscd commands sent by a run of CALLS measured calls (plus the warm-up call)
pcscd_commands() {
    strace -f -s 65536 -xx -yy -e trace=sendto,sendmsg,write -o "$WORK/st.$1.$2.$3" \
        "$BENCH" "$1" "$2" "$READER" "$3" >/dev/null 2>&1 || return 1
    python3 - "$WORK/st.$1.$2.$3" <<'PY'
import re, sys
# pcsc-lite's client protocol: an 8-byte header (body size, command) then the body; SCardTransmit's APDU
# follows its struct (cbSendLength at offset 12). One command = one round trip to pcscd.
stream = b"".join(
    bytes.fromhex(m.group(1).replace("\\x", ""))
    for m in (
        re.search(r'(?:sendto|write)\(\d+<UNIX-STREAM:\[[^\]]*\]>, "((?:\\x[0-9a-f]{2})*)"', l)
        for l in open(sys.argv[1])
    )
    if m
)
i = n = 0
while i + 8 <= len(stream):
    size = int.from_bytes(stream[i:i + 4], "little")
    cmd = int.from_bytes(stream[i + 4:i + 8], "little")
    body = stream[i + 8:i + 8 + size]
    i += 8 + size
    if cmd == 9:
        i += int.from_bytes(body[12:16], "little")
    n += 1
print(n)
PY
}

# round_trips IMPL OP -> pcscd round trips per call in steady state: (commands of 5 calls - of 1 call) / 4,
# so one-time setup (ours: the kept PC/SC context) is not counted
round_trips() {
    command -v strace >/dev/null || { echo "-"; return; }
    local one five
    one=$(pcscd_commands "$1" "$2" 1) && five=$(pcscd_commands "$1" "$2" 5) || { echo "-"; return; }
    awk -v a="$one" -v b="$five" 'BEGIN {print (b - a) / 4}'
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN {if (b > 0) printf "%.2fx", a / b; else print "-"}'; }

echo "measuring: $ROUNDS interleaved rounds x $CALLS calls, callgrind over $CG_CALLS calls, reader '$READER'" >&2
printf '\n%-12s | %-28s | %-32s | %s\n' "call" "client CPU per call (ours/raw)" "instructions per call (ours/raw)" "pcscd round trips (ours/raw)"
printf '%s\n' "-------------|------------------------------|----------------------------------|------------------------------"
for op in atr id list; do
    ours=() raw=()
    for round in $(seq 1 "$ROUNDS"); do
        # Interleaved, alternating who goes first, so drift on a shared machine hits both alike.
        if ((round % 2)); then
            raw+=("$(cpu_per_call raw $op)"); ours+=("$(cpu_per_call ours $op)")
        else
            ours+=("$(cpu_per_call ours $op)"); raw+=("$(cpu_per_call raw $op)")
        fi
    done
    cpu_ours=$(printf '%s\n' "${ours[@]}" | median)
    cpu_raw=$(printf '%s\n' "${raw[@]}" | median)
    ins_ours=$(instructions_per_call ours $op)
    ins_raw=$(instructions_per_call raw $op)
    rt_ours=$(round_trips ours $op)
    rt_raw=$(round_trips raw $op)
    case $op in atr) name="ATR read" ;; id) name="card ID" ;; list) name="reader list" ;; esac
    printf '%-12s | %8.1f / %8.1f us %6s | %11s / %11s %7s | %5s / %5s %s\n' "$name" \
        "$(awk -v v="$cpu_ours" 'BEGIN {print v / 1000}')" "$(awk -v v="$cpu_raw" 'BEGIN {print v / 1000}')" \
        "$(ratio "$cpu_ours" "$cpu_raw")" "$ins_ours" "$ins_raw" "$(ratio "$ins_ours" "$ins_raw")" \
        "$rt_ours" "$rt_raw" "$(ratio "$rt_ours" "$rt_raw")"
done
echo
echo "(library: $PROFILE build; card: the rig's GIDS card, so a card-ID read selects PIV first, as Windows does)"
