#!/usr/bin/env bash
# Stop and/or start only the rig's pcscd (cards keep running and reconnect by themselves).
#   restart-pcscd.sh [stop|start|restart]   (default restart)
# Used by the "pcscd stopped, then restarted" tests. The PID is re-recorded in $PCSC_RIG_DIR/pcscd.pid.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
[ -f "$RIG_DIR/mode" ] || die "rig not started (no $RIG_DIR/mode)"
case "${1:-restart}" in
    stop) stop_pcscd ;;
    start) start_pcscd ;;
    restart) stop_pcscd; start_pcscd ;;
    *) die "usage: $0 [stop|start|restart]" ;;
esac
