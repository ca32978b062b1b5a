#!/bin/bash
# Cross-compiles cm_smartcard.dll for 64-bit (x86_64-pc-windows-gnu) and 32-bit (i686-pc-windows-gnu)
# Windows with mingw-w64 and lays out what a Windows user unzips:
#   OUTDIR/x64/ and OUTDIR/x86/: cm_smartcard.dll,
#       cm_smartcard.lib         MSVC (COFF short import) library, made by llvm-dlltool from the .def
#       libcm_smartcard.dll.a    GNU import library (mingw)
#       cm_smartcard.def         the exports (x86: undecorated cdecl names, as the header declares them)
#       cm_smartcard.h, CmSmartcard.cs, CmSmartcard.psd1, CmSmartcard.psm1
#       cm-smartcard.exe         the command line (x64 only; set CM_WINDOWS_CLI=0 to skip it)
#   OUTDIR/CmSmartcard/          the PowerShell module folder (bin/x64 and bin/x86 DLLs)
#   OUTDIR/cm-smartcard-VERSION-windows.zip (all of the above under cm-smartcard-VERSION/) and
#   OUTDIR/cm-smartcard-VERSION-windows.zip.sha256 (`sha256sum -c` format)
#
# Usage: scripts/build-windows.sh [OUTDIR]        (default: target/windows-dist)
# A target whose Rust standard library cannot be fetched (`rustup target add` fails, e.g. offline) or
# whose mingw linker is missing is skipped with a message starting with "SKIP"; the script then still
# succeeds. It fails only when a build that could run fails. OUTDIR/targets lists what was built.
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=${1:-${CARGO_TARGET_DIR:-$ROOT/target}/windows-dist}
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
HEADER="$ROOT/include/cm_smartcard.h"
VERSION=$(sed -n 's/^#define CM_SMARTCARD_VERSION "\(.*\)"/\1/p' "$HEADER")
mkdir -p "$OUT"
: >"$OUT/targets"
status=0

# The .def: every function the header declares (the DLL must export exactly these; check-exports.sh).
write_def() {
    {
        echo "LIBRARY cm_smartcard.dll"
        echo "EXPORTS"
        grep -E '^[A-Za-z_].*\bcm_[a-z0-9_]+\(' "$HEADER" | grep -v '^#' \
            | sed -E 's/.*\b(cm_[a-z0-9_]+)\(.*/    \1/' | sort -u
    } >"$1"
}

for spec in x86_64-pc-windows-gnu:x86_64-w64-mingw32:x64 i686-pc-windows-gnu:i686-w64-mingw32:x86; do
    IFS=: read -r triple mingw arch <<<"$spec"
    if [ "$arch" = x64 ]; then dlltool_machine=i386:x86-64; else dlltool_machine=i386; fi
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
    cp "$rel/cm_smartcard.dll" "$rel/libcm_smartcard.dll.a" "$HEADER" \
       "$ROOT/bindings/csharp/CmSmartcard.cs" "$ROOT/bindings/powershell/CmSmartcard.psd1" \
       "$ROOT/bindings/powershell/CmSmartcard.psm1" "$d/"
    "$mingw-strip" --strip-debug "$d/cm_smartcard.dll" 2>/dev/null || true
    write_def "$d/cm_smartcard.def"
    # MSVC import library. x86: the header's functions are cdecl, whose C symbol is _name and whose DLL
    # export is the undecorated name; llvm-dlltool -m i386 does exactly that from undecorated .def names.
    if ! llvm-dlltool -m "$dlltool_machine" -d "$d/cm_smartcard.def" -D cm_smartcard.dll -l "$d/cm_smartcard.lib"; then
        echo "FAIL $triple: llvm-dlltool could not make cm_smartcard.lib (apt-get install llvm)"
        status=1
        continue
    fi
    cp "$d/cm_smartcard.dll" "$OUT/CmSmartcard/bin/$arch/"
    if [ "$arch" = x64 ] && [ "${CM_WINDOWS_CLI:-1}" != 0 ] && [ -f "$ROOT/cli/Cargo.toml" ]; then
        echo "building the command line for $triple (release)..."
        if (cd "$ROOT" && cargo build --release -p cm-smartcard-cli --target "$triple" -q); then
            cp "$rel/cm-smartcard.exe" "$d/"
            "$mingw-strip" --strip-debug "$d/cm-smartcard.exe" 2>/dev/null || true
        else
            echo "FAIL $triple: building cm-smartcard.exe failed"
            status=1
        fi
    fi
    echo "$triple $arch" >>"$OUT/targets"
    echo "built $d/cm_smartcard.dll, cm_smartcard.lib (MSVC), libcm_smartcard.dll.a (mingw), cm_smartcard.def"
done

if [ -s "$OUT/targets" ]; then
    cp "$ROOT/bindings/csharp/CmSmartcard.cs" "$ROOT/bindings/powershell/CmSmartcard.psd1" \
       "$ROOT/bindings/powershell/CmSmartcard.psm1" "$OUT/CmSmartcard/"
    echo "PowerShell module folder: $OUT/CmSmartcard"
    # The zip a Windows user downloads, with its checksum.
    name="cm-smartcard-$VERSION"
    stage=$(mktemp -d)
    mkdir -p "$stage/$name"
    for a in x64 x86 CmSmartcard; do [ -d "$OUT/$a" ] && cp -r "$OUT/$a" "$stage/$name/"; done
    zip_path="$OUT/$name-windows.zip"
    rm -f "$zip_path"
    if (cd "$stage" && zip -q -r -X "$zip_path" "$name"); then
        (cd "$OUT" && sha256sum "$name-windows.zip" >"$name-windows.zip.sha256")
        echo "distribution: $zip_path ($(cut -c1-16 "$zip_path.sha256")... in $name-windows.zip.sha256)"
    else
        echo "FAIL zip: could not make $zip_path (apt-get install zip)"
        status=1
    fi
    rm -rf "$stage"
fi
exit $status
