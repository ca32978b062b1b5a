#!/bin/bash
# Parses every .ps1/.psm1/.psd1 under bindings/powershell (and examples/enroll.ps1) with a real PowerShell grammar (tree-sitter-powershell
# through tree-sitter's Node.js bindings; PowerShell itself cannot be installed here) and fails on any syntax
# error, naming the file, line, column and text. One known false alarm of that grammar is allowed, exactly:
# `Export-ModuleMember -Function A, B, ...` (a comma-separated argument list after a parameter) parses as an
# error there although it is valid PowerShell.
# The grammar is installed once with npm into $CM_TS_CACHE (default /var/cache/cm-smartcard/ts-powershell,
# outside the repository), pinned: tree-sitter 0.25.0, tree-sitter-powershell 0.26.4.
# Ends with "N passed, M failed"; exit 1 on a syntax error; exit 77 when Node.js/npm or the packages are missing.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
MODULE_DIR=$(cd "$HERE/.." && pwd)
CACHE=${CM_TS_CACHE:-/var/cache/cm-smartcard/ts-powershell}
TS_VERSION=0.25.0
GRAMMAR_VERSION=0.26.4

command -v node >/dev/null && command -v npm >/dev/null || { echo "SKIP node/npm not installed (scripts/setup-debian.sh installs them)"; exit 77; }
stamp="$CACHE/.installed-$TS_VERSION-$GRAMMAR_VERSION"
if [ ! -f "$stamp" ]; then
    echo "installing tree-sitter $TS_VERSION + tree-sitter-powershell $GRAMMAR_VERSION into $CACHE (npm, once; ~30 s)"
    mkdir -p "$CACHE"
    [ -f "$CACHE/package.json" ] || echo '{"name":"cm-smartcard-ts-powershell","private":true}' >"$CACHE/package.json"
    if ! (cd "$CACHE" && npm install --no-audit --no-fund --loglevel=error "tree-sitter@$TS_VERSION" "tree-sitter-powershell@$GRAMMAR_VERSION" >"$CACHE/npm.log" 2>&1); then
        tail -20 "$CACHE/npm.log"
        echo "SKIP npm install of the PowerShell grammar failed (log above)"; exit 77
    fi
    touch "$stamp"
fi

# PARSE_FILES (space-separated) replaces the file list, for checking the checker on a broken file.
# examples/enroll.ps1 (the module's example walk) is checked with the module.
EXAMPLE=$(cd "$MODULE_DIR/../.." && pwd)/examples/enroll.ps1
files=${PARSE_FILES:-$(find "$MODULE_DIR" \( -name '*.ps1' -o -name '*.psm1' -o -name '*.psd1' \) -not -path '*/node_modules/*' | sort; [ -f "$EXAMPLE" ] && echo "$EXAMPLE")}
[ -n "$files" ] || { echo "FAIL no PowerShell files under $MODULE_DIR"; echo "0 passed, 1 failed"; exit 1; }

# The checker: an ES module (the grammar's Node binding is one), run from the cache so imports resolve there.
checker="$CACHE/check-powershell.mjs"
cat >"$checker" <<'JS'
import Parser from "tree-sitter";
import PowerShell from "tree-sitter-powershell";
import { readFileSync } from "node:fs";

const parser = new Parser();
parser.setLanguage(PowerShell);
// The grammar's one known false alarm: `Export-ModuleMember -Function A, B` (a comma list after a parameter).
const allowed = /^Export-ModuleMember\s+-Function\s+[\w-]+(\s*,\s*[\w-]+)*\s*$/;
let passed = 0, failed = 0;
for (const file of process.argv.slice(2)) {
  const src = readFileSync(file, "utf8");
  const tree = parser.parse(src, undefined, { bufferSize: 16 * 1024 * 1024 });
  const lines = src.split(/\r?\n/);
  const problems = [];
  (function walk(node) {
    if (node.type === "ERROR" || node.isMissing) {
      const line = lines[node.startPosition.row] ?? "";
      const text = src.slice(node.startIndex, node.endIndex).trim();
      if (!(node.type === "ERROR" && allowed.test(text) && text === line.trim())) {
        const what = node.isMissing ? `missing ${node.type}` : `syntax error at ${JSON.stringify(src.slice(node.startIndex, node.startIndex + 60))}`;
        problems.push(`${file}:${node.startPosition.row + 1}:${node.startPosition.column + 1}: ${what}\n    ${line.trim()}`);
      }
      return;
    }
    if (node.hasError) for (const child of node.children) walk(child);
  })(tree.rootNode);
  if (problems.length) { failed++; console.log(`FAIL ${file}\n${problems.join("\n")}`); }
  else { passed++; console.log(`ok   ${file} parses (tree-sitter-powershell, ${lines.length} lines)`); }
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
JS
# shellcheck disable=SC2086
(cd "$CACHE" && node --no-deprecation "$checker" $files)
