# Sourced by the test scripts: start_emulator / stop_emulator for the CM emulator on loopback.
#
# start_emulator [extra cm-emulator args...]  sets EMULATOR_URL and EMULATOR_PID; the caller traps stop_emulator.
# The binary: $CM_EMULATOR if set, else target/debug/cm-emulator (built with `cargo build -p cm-emulator`).

find_emulator() {
    if [ -n "${CM_EMULATOR:-}" ]; then
        [ -x "$CM_EMULATOR" ] || { echo "CM_EMULATOR=$CM_EMULATOR is not executable" >&2; return 1; }
        return 0
    fi
    if [ ! -f "$ROOT/emulator/src/main.rs" ]; then
        echo "the cm-emulator binary is not in this tree yet (emulator/src/main.rs missing); set CM_EMULATOR" >&2
        return 1
    fi
    (cd "$ROOT" && cargo build -q -p cm-emulator) || return 1
    CM_EMULATOR="${CARGO_TARGET_DIR:-$ROOT/target}/debug/cm-emulator"
}

start_emulator() {
    find_emulator || return 1
    EMULATOR_DIR=$(mktemp -d)
    "$CM_EMULATOR" --quiet --port-file "$EMULATOR_DIR/port" "$@" >"$EMULATOR_DIR/out" 2>"$EMULATOR_DIR/err" &
    EMULATOR_PID=$!
    for _ in $(seq 1 100); do
        [ -s "$EMULATOR_DIR/port" ] && break
        kill -0 "$EMULATOR_PID" 2>/dev/null || { cat "$EMULATOR_DIR/err" >&2; return 1; }
        sleep 0.1
    done
    [ -s "$EMULATOR_DIR/port" ] || { echo "cm-emulator did not start" >&2; return 1; }
    EMULATOR_URL="http://127.0.0.1:$(cat "$EMULATOR_DIR/port")"
    export EMULATOR_URL EMULATOR_PID
}

stop_emulator() {
    if [ -n "${EMULATOR_PID:-}" ]; then
        kill "$EMULATOR_PID" 2>/dev/null
        wait "$EMULATOR_PID" 2>/dev/null
        EMULATOR_PID=
    fi
    [ -n "${EMULATOR_DIR:-}" ] && rm -rf "$EMULATOR_DIR"
    return 0
}
