#!/usr/bin/env bash
# The main job end to end: a virtual GIDS card in a real PC/SC stack (pcscd + vpcd) is read and bound to an
# approved request on the built-in CM emulator; the smartcard URI is printed. Stops what it starts.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
bash scripts/setup-debian.sh >/dev/null

WORK=$(mktemp -d /tmp/cm-smartcard-demo.XXXXXX)
export PCSC_RIG_DIR="$WORK/pcsc"
cleanup() {
  [ -n "${EMULATOR_PID:-}" ] && kill "$EMULATOR_PID" 2>/dev/null && wait "$EMULATOR_PID" 2>/dev/null || true
  bash tests/rigs/pcsc/stop.sh >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

echo "== building the library, the emulator and the example"
cargo build --quiet --workspace
cc -std=c11 -Wall -Wextra -Wpedantic -Werror -Iinclude -o "$WORK/assign_from_reader" examples/assign_from_reader.c \
  -Ltarget/debug -lcm_smartcard

echo "== starting pcscd with a virtual GIDS card (vpcd)"
bash tests/rigs/pcsc/start.sh >/dev/null
# shellcheck disable=SC1091
. "$PCSC_RIG_DIR/pcsc.env"

REQUEST_ID=$(python3 -c 'import uuid; print(uuid.uuid4())')
echo "== starting the CM emulator with approved request $REQUEST_ID"
./target/debug/cm-emulator --quiet --request "$REQUEST_ID=Approved" --port-file "$WORK/port" >"$WORK/emulator.out" &
EMULATOR_PID=$!
for _ in $(seq 100); do [ -s "$WORK/port" ] && break; sleep 0.05; done
URL="http://127.0.0.1:$(cat "$WORK/port")/CertificateManagement"

echo "== binding the card in '$PCSC_READER0' to the request"
CM_AUTH=none LD_LIBRARY_PATH=target/debug "$WORK/assign_from_reader" "$URL" "$REQUEST_ID" "$PCSC_READER0"

echo "== the server's view: GET /requests/$REQUEST_ID"
python3 - "$URL/api/v1.0/requests/$REQUEST_ID" <<'PY'
import json, sys, urllib.request
r = json.load(urllib.request.urlopen(sys.argv[1]))
print("NewSmartcardUuid:", r["NewSmartcardUuid"])
PY
