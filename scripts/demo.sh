#!/usr/bin/env bash
# The main job end to end: a virtual GIDS card in a real PC/SC stack (pcscd + vpcd) is read and bound to an
# approved request on the built-in CM emulator; the smartcard URI is printed. Stops what it starts.
#   bash scripts/demo.sh          bind the card (examples/assign_from_reader.c)
#   bash scripts/demo.sh enroll   the whole enrollment, then Unblock and Retire (examples/enroll.c, OpenSSL)
set -euo pipefail
cd "$(dirname "$0")/.."
MODE=${1:-assign}
case "$MODE" in assign | enroll) ;; *) echo "usage: $0 [enroll]" >&2; exit 2 ;; esac
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
if [ "$MODE" = enroll ]; then
  # shellcheck disable=SC2046
  cc -std=c11 -Wall -Wextra -Wpedantic -Werror -Iinclude -o "$WORK/enroll" examples/enroll.c \
    -Ltarget/debug -lcm_smartcard $(pkg-config --cflags --libs libcrypto)
else
  cc -std=c11 -Wall -Wextra -Wpedantic -Werror -Iinclude -o "$WORK/assign_from_reader" examples/assign_from_reader.c \
    -Ltarget/debug -lcm_smartcard
fi

echo "== starting pcscd with a virtual GIDS card (vpcd)"
bash tests/rigs/pcsc/start.sh >/dev/null
# shellcheck disable=SC1091
. "$PCSC_RIG_DIR/pcsc.env"

if [ "$MODE" = enroll ]; then
  echo "== starting the CM emulator"
  ./target/debug/cm-emulator --quiet --port-file "$WORK/port" >"$WORK/emulator.out" &
  EMULATOR_PID=$!
  for _ in $(seq 100); do [ -s "$WORK/port" ] && break; sleep 0.05; done
  URL="http://127.0.0.1:$(cat "$WORK/port")/CertificateManagement"
  # The emulator's throwaway test CA: the certificates it issues must verify against it.
  python3 -c 'import sys, urllib.request; open(sys.argv[2], "wb").write(urllib.request.urlopen(sys.argv[1]).read())' \
    "http://127.0.0.1:$(cat "$WORK/port")/_emulator/ca.pem" "$WORK/ca.pem"
  echo "== enrolling the card in '$PCSC_READER0' (template \"Smartcard User\"), then Unblock and Retire"
  CM_AUTH=none LD_LIBRARY_PATH=target/debug "$WORK/enroll" --reader "$PCSC_READER0" --ca "$WORK/ca.pem" --timeout 30 "$URL"
  exit 0
fi

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
