#!/usr/bin/env bash
# Extra virtual cards for tests and demos.
#   card.sh start NAME PORT [vcard.py args...]   start a card (prints its PID; log in cards/NAME.log)
#   card.sh stop NAME                            stop it (SIGTERM by recorded PID)
#   card.sh remove NAME | insert NAME            SIGUSR1 / SIGUSR2
#   card.sh pid NAME
set -euo pipefail
. "$(dirname "$0")/lib.sh"
cmd="${1:-}"; name="${2:-}"
[ -n "$cmd" ] && [ -n "$name" ] || die "usage: $0 start NAME PORT [args] | stop NAME | remove NAME | insert NAME | pid NAME"
pidf="$RIG_DIR/cards/$name.pid"
case "$cmd" in
    start) port="${3:?port}"; shift 3; start_card "$name" "$port" "$@" ;;
    stop) stop_card "$name" ;;
    remove | insert)
        pid=$(cat "$pidf") && pid_is "$pid" vcard.py || die "card $name not running"
        if [ "$cmd" = remove ]; then kill -USR1 "$pid"; else kill -USR2 "$pid"; fi ;;
    pid) cat "$pidf" ;;
    *) die "unknown command $cmd" ;;
esac
