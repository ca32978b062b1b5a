#!/bin/bash
# A Debian 13 (trixie) root with Wine 10, pcscd and vpcd, for running the Windows DLL's PC/SC path under
# Wine (Debian 12's Wine 8 has only a stub winscard.dll; Wine 10's is built on the Unix pcsc-lite).
#
# Usage:
#   scripts/wine10-root.sh [build]     build the root when missing or outdated; prints its path (last line)
#   scripts/wine10-root.sh path        prints the path only
#   scripts/wine10-root.sh exec [--bind DIR]... -- CMD [ARGS...]
#        runs CMD (on the host side, with the host's tools) in a private mount namespace in which the root
#        has proc, sys, dev, dev/pts, a fresh dev/shm, run and tmp (tmpfs, so concurrent runs never share
#        /run/pcscd) and each DIR bind-mounted at the same path. CMD starts processes in the root with
#        `chroot "$WINE10_ROOT" ...`. The mounts exist only in that namespace: they are unmounted on exit
#        (trap) and vanish with the namespace anyway, so nothing is left mounted on the host.
#
# The root lives in $CM_WINE10_ROOT (default /var/cache/cm-smartcard/wine10-root). It is made with
# `debootstrap --variant=minbase trixie` from the Debian mirror the host's apt uses, then
# `apt-get install` inside it (wine64, wine, wine32:i386, pcscd, libpcsclite1, vsmartcard-vpcd, python3,
# winbind for Wine's NTLM through ntlm_auth, the Kerberos libraries Wine's SSP loads) and a Wine prefix
# template is initialised. A stamp file records the recipe; a root with the current stamp is reused as is.
# Cost measured on the project machine (2 cores): cold 90-141 s (3.5 GB), warm (stamp present) under 0.1 s.
# Needs root (debootstrap, chroot, mount) and debootstrap (scripts/setup-debian.sh installs it).
set -euo pipefail
ROOT_DIR=${CM_WINE10_ROOT:-/var/cache/cm-smartcard/wine10-root}
# Bump when the recipe below changes: a root with another stamp is rebuilt.
RECIPE="v1 trixie wine64 wine wine32:i386 pcscd libpcsclite1 vsmartcard-vpcd python3 winbind libgssapi-krb5-2 libkrb5-3 libgssapi-krb5-2:i386 libkrb5-3:i386 ca-certificates"
STAMP="$ROOT_DIR/.cm-smartcard-stamp"
SELF=$(readlink -f "$0")

log() { echo "wine10-root: $*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# The Debian mirror the host's apt uses (first non-security "deb" source), so the root comes from the same
# package archive as everything else installed here.
debian_mirror() {
    local f uri
    for f in /etc/apt/sources.list.d/*.sources; do
        [ -f "$f" ] || continue
        # deb822 stanzas: the URIs of a stanza whose Suites are not *-security.
        uri=$(awk 'BEGIN{RS=""; FS="\n"} {u=""; s=""; t="";
                for (i = 1; i <= NF; i++) {
                    if ($i ~ /^URIs:/) u = $i; if ($i ~ /^Suites:/) s = $i; if ($i ~ /^Types:/) t = $i }
                if (t ~ /deb( |$)/ && u != "" && s !~ /-security/) { sub(/^URIs:[ \t]*/, "", u); split(u, a, " "); print a[1]; exit } }' "$f")
        [ -n "$uri" ] && { echo "$uri"; return; }
    done
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [ -f "$f" ] || continue
        uri=$(awk '$1 == "deb" && $0 !~ /-security/ { for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\//) { print $i; exit } }' "$f")
        [ -n "$uri" ] && { echo "$uri"; return; }
    done
    echo "http://deb.debian.org/debian"
}

MOUNTED=()
unmount_all() {
    local i
    for ((i = ${#MOUNTED[@]} - 1; i >= 0; i--)); do
        umount -l "${MOUNTED[$i]}" 2>/dev/null || true
    done
    MOUNTED=()
}
mnt() { # mnt TARGET mount-args...
    local target=$1; shift
    mkdir -p "$target"
    mount "$@" "$target"
    MOUNTED+=("$target")
}
mount_root() { # mount_root ROOT [BIND_DIR...]
    local r=$1 d; shift
    mnt "$r/proc" -t proc proc
    mnt "$r/sys" --rbind /sys
    mount --make-rslave "$r/sys"
    mnt "$r/dev" --bind /dev
    mnt "$r/dev/pts" --bind /dev/pts
    mnt "$r/dev/shm" -t tmpfs -o mode=1777 shm
    mnt "$r/run" -t tmpfs -o mode=755 run
    mnt "$r/tmp" -t tmpfs -o mode=1777 tmp
    for d in "$@"; do
        mnt "$r$d" --bind "$d"
    done
}

build() {
    if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$RECIPE" ]; then
        echo "$ROOT_DIR"
        return 0
    fi
    [ "$(id -u)" = 0 ] || die "must run as root (debootstrap, chroot)"
    command -v debootstrap >/dev/null || die "debootstrap not installed (apt-get install debootstrap; scripts/setup-debian.sh does)"
    if [ -z "${CM_WINE10_NS:-}" ]; then
        # Build in a private mount namespace (the mounts below die with it) and one build at a time.
        mkdir -p "$(dirname "$ROOT_DIR")"
        CM_WINE10_NS=1 exec flock "$ROOT_DIR.lock" unshare --mount --propagation private bash "$SELF" build
    fi
    # Another run may have finished the root while we waited for the lock.
    if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$RECIPE" ]; then
        echo "$ROOT_DIR"
        return 0
    fi
    local mirror new start
    mirror=$(debian_mirror)
    start=$(date +%s)
    mkdir -p "$(dirname "$ROOT_DIR")"
    # Built beside the final path and renamed at the end: an interrupted build never looks finished.
    new="$ROOT_DIR.new.$$"
    rm -rf "$new"
    log "building a Debian 13 root with Wine 10 in $ROOT_DIR (from $mirror; a few minutes, once)"
    if ! debootstrap --variant=minbase trixie "$new" "$mirror" >"$new.log" 2>&1; then
        tail -20 "$new.log" >&2
        rm -rf "$new"
        die "debootstrap failed (log above)"
    fi
    trap 'unmount_all; rm -rf "$new"' EXIT
    # apt and wineboot need proc and dev; the trap unmounts them (and the namespace drops them anyway).
    mount_root "$new"
    cp /etc/resolv.conf "$new/etc/resolv.conf" 2>/dev/null || true
    # No services inside the root during installs (pcscd, winbind, ...): we start what we need ourselves.
    printf '#!/bin/sh\nexit 101\n' >"$new/usr/sbin/policy-rc.d"
    chmod 755 "$new/usr/sbin/policy-rc.d"
    local pkgs
    pkgs=$(echo "$RECIPE" | cut -d' ' -f3-)
    if ! chroot "$new" sh -c "dpkg --add-architecture i386 && apt-get update -qq && \
            DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $pkgs && apt-get clean" \
            >"$new.apt.log" 2>&1; then
        tail -30 "$new.apt.log" >&2
        die "apt-get install inside the root failed (log above)"
    fi
    # A Wine prefix template (wineboot takes ~20 s): tests copy it instead of initialising their own.
    if ! chroot "$new" env HOME=/root WINEPREFIX=/opt/wineprefix-template WINEDEBUG=-all \
            WINEDLLOVERRIDES="mscoree,mshtml=" sh -c 'wineboot -i && wineserver -w' >"$new.wine.log" 2>&1; then
        tail -30 "$new.wine.log" >&2
        die "initialising the Wine prefix failed (log above)"
    fi
    unmount_all
    trap - EXIT
    rm -f "$new.log" "$new.apt.log" "$new.wine.log"
    rm -rf "$ROOT_DIR"
    mv "$new" "$ROOT_DIR"
    echo "$RECIPE" >"$STAMP"
    log "root ready in $(($(date +%s) - start)) s: Wine $(chroot "$ROOT_DIR" dpkg-query -W -f '${Version}' wine64 2>/dev/null)"
    echo "$ROOT_DIR"
}

exec_in_namespace() {
    local binds=()
    while [ $# -gt 0 ]; do
        case $1 in
        --bind) binds+=("$(cd "$2" && pwd)"); shift 2 ;;
        --) shift; break ;;
        *) die "exec: unexpected argument '$1' (usage: exec [--bind DIR]... -- CMD...)" ;;
        esac
    done
    [ $# -gt 0 ] || die "exec: no command"
    [ -f "$STAMP" ] || die "no root in $ROOT_DIR (run scripts/wine10-root.sh build)"
    if [ -z "${CM_WINE10_NS:-}" ]; then
        # Re-run this script in a new private mount namespace; the mounts die with it.
        local args=() d
        for d in "${binds[@]}"; do args+=(--bind "$d"); done
        CM_WINE10_NS=1 exec unshare --mount --propagation private bash "$SELF" exec "${args[@]}" -- "$@"
    fi
    trap unmount_all EXIT
    trap 'exit 130' INT TERM
    mount_root "$ROOT_DIR" "${binds[@]}"
    export WINE10_ROOT=$ROOT_DIR
    local rc=0
    "$@" || rc=$?
    exit $rc
}

case "${1:-build}" in
build) build ;;
path) echo "$ROOT_DIR" ;;
exec) shift; exec_in_namespace "$@" ;;
*) die "usage: $0 [build|path|exec [--bind DIR]... -- CMD...]" ;;
esac
