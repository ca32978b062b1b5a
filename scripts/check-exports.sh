#!/bin/bash
# Checks that a built library exports exactly the functions declared in include/cm_smartcard.h.
# Usage: scripts/check-exports.sh LIBRARY [HEADER]
#   LIBRARY  a Windows DLL (read with <triple>-objdump -p or objdump -p), an MSVC import library .lib (read
#            with llvm-nm and llvm-readobj: every member must import an undecorated name from cm_smartcard.dll;
#            x86: C symbol _name, import name type "noprefix", i.e. the cdecl names the header declares, no
#            stdcall @N), or a Linux .so (nm -D --defined-only; only the cm_* symbols are compared, the Rust
#            toolchain adds no others but the loader's may).
# Prints the differences; ends with "N passed, M failed"; exit status 1 on a mismatch.
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
LIB=${1:?usage: check-exports.sh LIBRARY [HEADER]}
HEADER=${2:-$ROOT/include/cm_smartcard.h}
TMP=$(mktemp -d); trap 'rm -rf "$TMP"' EXIT

# Function declarations: a line starting with a type, then cm_name( .
grep -E '^[A-Za-z_].*\bcm_[a-z0-9_]+\(' "$HEADER" | grep -v '^#' \
    | sed -E 's/.*\b(cm_[a-z0-9_]+)\(.*/\1/' | sort -u >"$TMP/header"

case "$LIB" in
*.dll|*.DLL)
    OBJDUMP=objdump
    for o in x86_64-w64-mingw32-objdump i686-w64-mingw32-objdump; do command -v $o >/dev/null && { OBJDUMP=$o; break; }; done
    # The export name table: lines "\t[   N] name" after "[Ordinal/Name Pointer] Table".
    "$OBJDUMP" -p "$LIB" | sed -n '/\[Ordinal\/Name Pointer\] Table/,/^$/p' \
        | sed -nE 's/^[[:space:]]*\[[[:space:]]*[0-9]+\][[:space:]]+([^[:space:]]+).*/\1/p' | sort -u >"$TMP/lib"
    # A DLL must export nothing else at all (no Rust or mingw runtime symbols).
    ;;
*.lib|*.LIB)
    llvm-nm --defined-only "$LIB" 2>/dev/null | awk '$2 == "T" {print $3}' | grep -v '^__imp_' | sort -u >"$TMP/syms"
    llvm-readobj --coff-imports "$LIB" >"$TMP/imports" 2>&1
    if grep -q '^_cm_' "$TMP/syms"; then
        # x86: cdecl C symbols carry one leading underscore; the DLL export must be the bare name.
        sed 's/^_//' "$TMP/syms" >"$TMP/lib"
        want_type=noprefix
    else
        cp "$TMP/syms" "$TMP/lib"
        want_type=name
    fi
    bad_types=$(sed -n 's/^Name type: //p' "$TMP/imports" | grep -vx "$want_type" | sort -u)
    if [ -n "$bad_types" ] || grep -q '@' "$TMP/lib"; then
        echo "FAIL $LIB: import name types '$bad_types' (want $want_type) or decorated names: $(grep '@' "$TMP/lib" | head -3)"
        echo "0 passed, 1 failed"; exit 1
    fi
    dlls=$(llvm-readobj --coff-imports "$LIB" 2>/dev/null | sed -n 's/^File: //p' | grep -vi '(' | sort -u)
    [ "$dlls" = "cm_smartcard.dll" ] || { echo "FAIL $LIB imports from '$dlls', not cm_smartcard.dll"; echo "0 passed, 1 failed"; exit 1; }
    ;;
*)
    nm -D --defined-only "$LIB" | awk '$2 ~ /^[TtWw]$/ || $2 == "T" {print $3}' | sort -u >"$TMP/all"
    grep '^cm_' "$TMP/all" >"$TMP/lib"
    ;;
esac

pass=0; fail=0
missing=$(comm -23 "$TMP/header" "$TMP/lib")
extra=$(comm -13 "$TMP/header" "$TMP/lib")
if [ -n "$missing" ]; then echo "FAIL declared in the header but not exported by $LIB:"; echo "$missing" | sed 's/^/  /'; fail=$((fail+1)); else pass=$((pass+1)); fi
if [ -n "$extra" ]; then echo "FAIL exported by $LIB but not declared in the header:"; echo "$extra" | sed 's/^/  /'; fail=$((fail+1)); else pass=$((pass+1)); fi
n=$(wc -l <"$TMP/header")
if [ "$n" -lt 10 ]; then echo "FAIL only $n functions found in $HEADER (parser broken?)"; fail=$((fail+1)); else pass=$((pass+1)); fi
[ $fail -eq 0 ] && echo "ok   $(basename "$LIB") exports exactly the $n functions of $(basename "$HEADER")"
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
