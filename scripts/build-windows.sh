#!/bin/bash
# Cross-compiles cm_smartcard.dll for 64-bit (x86_64-pc-windows-gnu) and 32-bit (i686-pc-windows-gnu)
# Windows with mingw-w64 and lays out a release folder per architecture:
#   OUTDIR/x64/ and OUTDIR/x86/: cm_smartcard.dll, libcm_smartcard.dll.a (GNU import library),
#   cm_smartcard.h, CmSmartcard.cs, CmSmartcard.psd1, CmSmartcard.psm1
# plus OUTDIR/CmSmartcard/ — the PowerShell module folder with bin/x64 and bin/x86 DLLs.
#
# Usage: scripts/build-windows.sh [OUTDIR]        (default: target/windows-dist)
# A target whose Rust standard library cannot be fetched (`rustup target add` fails, e.g. offline) or
# whose mingw linker is missing is skipped with a message starting with "SKIP"; the script then still
# succeeds. It fails only when a build that could run fails. OUTDIR/targets lists what was built.
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=${1:-${CARGO_TARGET_DIR:-$ROOT/target}/windows-dist}
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
mkdir -p "$OUT"
: >"$OUT/targets"
status=0

for spec in x86_64-pc-windows-gnu:x86_64-w64-mingw32:x64 i686-pc-windows-gnu:i686-w64-mingw32:x86; do
    IFS=: read -r triple mingw arch <<<"$spec"
    if ! command -v "$mingw-gcc" >/dev/null; then
        echo "SKIP $triple: $mingw-gcc not found (apt-get install gcc-mingw-w64-${triple%%-*} — i686 is gcc-mingw-w64-i686)"
        continue
    fi
    if ! rustup target list --installed 2>/dev/null | grep -qx "$triple"; then
        echo "fetching the Rust standard library for $triple (rustup target add, 180 s limit)..."
        if ! timeout 180 rustup target add "$triple" >/dev/null 2>&1; then
            echo "SKIP $triple: 'rustup target add $triple' failed (no access to static.rust-lang.org?); no $arch DLL built"
            continue
        fi
    fi
    echo "building $triple (release)..."
    if ! (cd "$ROOT" && cargo build --release --lib --target "$triple" -q); then
        echo "FAIL $triple: cargo build failed"
        status=1
        continue
    fi
    rel="$TARGET_DIR/$triple/release"
    d="$OUT/$arch"
    mkdir -p "$d" "$OUT/CmSmartcard/bin/$arch"
    cp "$rel/cm_smartcard.dll" "$rel/libcm_smartcard.dll.a" "$ROOT/include/cm_smartcard.h" \
       "$ROOT/bindings/csharp/CmSmartcard.cs" "$ROOT/bindings/powershell/CmSmartcard.psd1" \
       "$ROOT/bindings/powershell/CmSmartcard.psm1" "$d/"
    "$mingw-strip" --strip-debug "$d/cm_smartcard.dll" 2>/dev/null || true
    cp "$d/cm_smartcard.dll" "$OUT/CmSmartcard/bin/$arch/"
    echo "$triple $arch" >>"$OUT/targets"
    echo "built $d/cm_smartcard.dll"
done

if [ -s "$OUT/targets" ]; then
    cp "$ROOT/bindings/csharp/CmSmartcard.cs" "$ROOT/bindings/powershell/CmSmartcard.psd1" \
       "$ROOT/bindings/powershell/CmSmartcard.psm1" "$OUT/CmSmartcard/"
    echo "PowerShell module folder: $OUT/CmSmartcard"
fi
exit $status
