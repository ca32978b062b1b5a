#!/usr/bin/env bash
# Stops the auth rig started by start.sh DIR: SIGTERM to each recorded PID in reverse start order, only if the
# PID's /proc start time still matches (so a recycled PID is never hit); SIGKILL after 5 s. Never by name.
set -uo pipefail
DIR="${1:?usage: stop.sh DIR}"
[ -f "$DIR/pids" ] || exit 0
alive() { [ -d "/proc/$1" ] && [ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" != Z ]; }
tac "$DIR/pids" | while read -r name pid start; do
  [ -n "${pid:-}" ] || continue
  alive "$pid" || continue
  now="$(awk '{print $22}' "/proc/$pid/stat" 2>/dev/null || echo x)"
  if [ "$now" != "$start" ]; then echo "stop.sh: PID $pid ($name) was recycled; not touching it" >&2; continue; fi
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 100); do alive "$pid" || break; sleep 0.05; done
  if alive "$pid"; then echo "stop.sh: $name ($pid) ignored SIGTERM; SIGKILL" >&2; kill -KILL "$pid" 2>/dev/null || true; fi
done
: > "$DIR/pids"
