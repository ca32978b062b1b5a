#!/bin/bash
# Links tests/windows/msvc_prog.c the way an MSVC caller would, without Visual C++ or the Windows SDK:
# clang --target=<arch>-pc-windows-msvc compiles it (freestanding: no SDK headers), lld-link links it against
# the shipped MSVC import library cm_smartcard.lib and a kernel32.lib made here by llvm-dlltool.
# Usage: msvc-link.sh x64|x86 DISTDIR OUTDIR   -> OUTDIR/msvc_prog.exe; prints one line; exit 1 on failure.
set -eu
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
arch=$1 dist=$2 out=$3
mkdir -p "$out"
if [ "$arch" = x64 ]; then target=x86_64-pc-windows-msvc; machine=i386:x86-64; lldm=x64
else target=i686-pc-windows-msvc; machine=i386; lldm=x86; fi
for t in clang lld-link llvm-dlltool; do
    command -v $t >/dev/null || { echo "$t not installed (apt-get install clang lld llvm)"; exit 1; }
done
# kernel32: x86 stdcall symbols are _Name@N, imported by the bare name (-k).
printf 'LIBRARY kernel32.dll\nEXPORTS\n    GetStdHandle@4\n    WriteFile@20\n    ExitProcess@4\n' >"$out/kernel32.def"
[ "$arch" = x64 ] && sed -i 's/@[0-9]*$//' "$out/kernel32.def"
llvm-dlltool -m $machine -k -d "$out/kernel32.def" -l "$out/kernel32.lib"
clang --target=$target -ffreestanding -fno-stack-protector -O0 -Wall -Wextra -Werror -I"$ROOT/include" \
    -c "$ROOT/tests/windows/msvc_prog.c" -o "$out/msvc_prog.obj"
lld-link /nologo /machine:$lldm /subsystem:console /entry:start /nodefaultlib /out:"$out/msvc_prog.exe" \
    "$out/msvc_prog.obj" "$dist/cm_smartcard.lib" "$out/kernel32.lib"
imports=$(llvm-readobj --coff-imports "$out/msvc_prog.exe" | sed -n 's/^  Name: //p' | sort -u | tr '\n' ' ')
echo "clang --target=$target + lld-link linked msvc_prog.exe against cm_smartcard.lib (imports: $imports)"
