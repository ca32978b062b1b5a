#!/bin/bash
# Installs the library, the header and a pkg-config file into a prefix.
# Usage: scripts/install.sh [--target TRIPLE] [--debug] [--no-build] PREFIX
#   Linux (default): PREFIX/lib/libcm_smartcard.so, PREFIX/include/cm_smartcard.h,
#                    PREFIX/lib/pkgconfig/cm_smartcard.pc
#   --target x86_64-pc-windows-gnu (or i686-pc-windows-gnu): PREFIX/bin/cm_smartcard.dll,
#                    PREFIX/lib/libcm_smartcard.dll.a (GNU import library), header and .pc as above.
# Then: cc app.c $(PKG_CONFIG_PATH=PREFIX/lib/pkgconfig pkg-config --cflags --libs cm_smartcard)
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
TARGET=""; PROFILE=release; BUILD=1
while [ $# -gt 1 ]; do
    case "$1" in
    --target) TARGET=$2; shift 2 ;;
    --debug) PROFILE=debug; shift ;;
    --no-build) BUILD=0; shift ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
    esac
done
PREFIX=${1:?usage: scripts/install.sh [--target TRIPLE] [--debug] [--no-build] PREFIX}
mkdir -p "$PREFIX"
PREFIX=$(cd "$PREFIX" && pwd)
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
VERSION=$(sed -n 's/^#define CM_SMARTCARD_VERSION "\(.*\)"/\1/p' "$ROOT/include/cm_smartcard.h")

args=(--lib); [ "$PROFILE" = release ] && args+=(--release); [ -n "$TARGET" ] && args+=(--target "$TARGET")
[ $BUILD -eq 1 ] && (cd "$ROOT" && cargo build -q "${args[@]}")
OUT="$TARGET_DIR/${TARGET:+$TARGET/}$PROFILE"

install -d "$PREFIX/include" "$PREFIX/lib/pkgconfig"
install -m 644 "$ROOT/include/cm_smartcard.h" "$PREFIX/include/"
case "$TARGET" in
*windows*)
    install -d "$PREFIX/bin"
    install -m 755 "$OUT/cm_smartcard.dll" "$PREFIX/bin/"
    install -m 644 "$OUT/libcm_smartcard.dll.a" "$PREFIX/lib/"
    ;;
*)
    install -m 755 "$OUT/libcm_smartcard.so" "$PREFIX/lib/"
    ;;
esac
sed -e "s|@PREFIX@|$PREFIX|" -e "s|@LIBDIR@|lib|" -e "s|@VERSION@|$VERSION|" -e "s|@LIBS_PRIVATE@||" \
    "$ROOT/cm_smartcard.pc.in" >"$PREFIX/lib/pkgconfig/cm_smartcard.pc"
echo "installed cm_smartcard $VERSION${TARGET:+ ($TARGET)} into $PREFIX"
