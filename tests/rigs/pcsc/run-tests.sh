#!/usr/bin/env bash
# Start the PC/SC rig, run the card integration tests against it with CM_REQUIRE_RIGS=1, stop the rig
# (also on failure or interrupt). Extra arguments go to cargo test (e.g. a test name filter).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../../.." && pwd)"
trap '"$here/stop.sh" >/dev/null 2>&1 || true' EXIT INT TERM
env_file=$("$here/start.sh")
# shellcheck disable=SC1090
. "$env_file"
cd "$repo"
CM_REQUIRE_RIGS=1 PCSC_RIG_ENV="$env_file" cargo test --test card_pcsc -- --test-threads=2 "$@"
