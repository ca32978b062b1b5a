#!/usr/bin/env bash
# Benchmarks cm-smartcard against the peers users would otherwise pick, side by side in one run:
#   HTTP: libcurl (handle reused / new handle per call) against a local nginx answering 201 — CPU and
#         instructions per call, connections per call, RSS, TIME_WAIT, cold start, stripped library size;
#   card: scripts/bench-card.sh (raw PC/SC C programs against pcscd + vpcd), when present.
# Prints ratios cm-smartcard / peer. Installs nginx-light, libcurl4-openssl-dev and valgrind when missing.
# Usage: bash scripts/bench.sh [http|card|all]   (default all)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
export PATH="$HOME/.cargo/bin:$PATH"
what=${1:-all}

need=()
for p in nginx-light libcurl4-openssl-dev valgrind openssl; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need+=("$p")
done
if ((${#need[@]})); then
  echo "bench: installing ${need[*]} (about 30 s)"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

echo "bench: building the release library"
cargo build --release --lib --quiet
so=target/release/libcm_smartcard.so
stripped=$(mktemp)
strip -o "$stripped" "$so"
echo "stripped libcm_smartcard.so: $(stat -c %s "$stripped") bytes"
rm -f "$stripped"

if [ "$what" = all ] || [ "$what" = http ]; then
  WORK=$(mktemp -d /tmp/cm-bench.XXXXXX)
  trap 'rm -rf "$WORK"' EXIT
  python3 benches/http/bench.py "$WORK" "$ROOT/target/release" "$ROOT/include"
fi
if { [ "$what" = all ] || [ "$what" = card ]; } && [ -f scripts/bench-card.sh ]; then
  bash scripts/bench-card.sh
fi
