#!/usr/bin/env bash
# Starts the auth rig in front of a backend, runs the auth tests with CM_REQUIRE_RIGS=1, stops everything.
# Backend: $AUTH_BACKEND_URL if set; else the CM emulator (cargo build -p cm-emulator); else the stub backend.
# Usage: tests/rigs/auth/run-tests.sh [extra cargo test args, e.g. -- --nocapture]
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../../.." && pwd)"
export PATH="$HOME/.cargo/bin:$PATH"
WORK="$(mktemp -d /tmp/cm-auth-tests.XXXXXX)"
chmod 711 "$WORK"
EMU_PID=""
cleanup() {
  local rc=$?
  "$HERE/stop.sh" "$WORK/rig" >/dev/null 2>&1 || true
  if [ -n "$EMU_PID" ] && kill -0 "$EMU_PID" 2>/dev/null; then kill "$EMU_PID"; wait "$EMU_PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
  exit $rc
}
trap cleanup EXIT INT TERM
cd "$ROOT"
if [ -z "${AUTH_BACKEND_URL:-}" ] && cargo build -q -p cm-emulator 2>/dev/null && [ -x target/debug/cm-emulator ]; then
  target/debug/cm-emulator --quiet --port-file "$WORK/emulator.port" > "$WORK/emulator.out" 2>&1 &
  EMU_PID=$!
  for _ in $(seq 100); do [ -s "$WORK/emulator.port" ] && break; sleep 0.05; done
  [ -s "$WORK/emulator.port" ] || { echo "cm-emulator did not start" >&2; cat "$WORK/emulator.out" >&2; exit 1; }
  export AUTH_BACKEND_URL="http://127.0.0.1:$(cat "$WORK/emulator.port")"
fi
"$HERE/start.sh" "$WORK/rig" >/dev/null
echo "auth rig up (backend ${AUTH_BACKEND_URL:-stub}); env: $WORK/rig/auth.env"
AUTH_RIG_ENV="$WORK/rig/auth.env" CM_REQUIRE_RIGS=1 cargo test --features gssapi --test auth_rig "$@"
