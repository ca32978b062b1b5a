#!/usr/bin/env bash
# Stop the PC/SC rig: virtual cards first, then pcscd, each by recorded PID after a /proc cmdline
# check; waits <= 5 s (zombies count as gone), then SIGKILL. Removes only files of this rig instance.
# Idempotent: nothing running is fine.
set -uo pipefail
. "$(dirname "$0")/lib.sh"
[ -d "$RIG_DIR" ] || exit 0
stop_all_cards
stop_pcscd
rm -f "$RIG_DIR/pcsc.env"
log "stopped"
