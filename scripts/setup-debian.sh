#!/usr/bin/env bash
# Installs what cm-smartcard's build, demo and tests need on Debian 12+ (idempotent; fast when done).
# Needs root for apt-get (or sudo). Rust itself comes from rustup (https://rustup.rs), not Debian.
set -euo pipefail

PACKAGES=(
  # build: the pcsc crate links libpcsclite via pkg-config (GSSAPI is loaded at run time, no build dependency)
  build-essential pkg-config libpcsclite-dev
  # PC/SC rig: real pcscd with the vsmartcard vpcd reader driver; our virtual card is stdlib Python
  pcscd vsmartcard-vpcd python3
  # auth rig: MIT Kerberos KDC, Apache with mod_auth_gssapi, gss-ntlmssp, pyspnego in a venv
  krb5-kdc krb5-admin-server krb5-user libgssapi-krb5-2 apache2 libapache2-mod-auth-gssapi gss-ntlmssp
  curl python3-venv openssl
  # proxies for the proxy tests (squid: open, Negotiate- and Basic-authenticated, started by the auth rig)
  squid
  # callers: C# via mono, the Windows DLL via mingw (Wine 10 runs in a Debian 13 root: see below)
  mono-mcs mono-runtime gcc-mingw-w64-x86-64 gcc-mingw-w64-i686 g++-mingw-w64-x86-64
  # C# enrollment test: SignedCms (System.Security.dll) reads the returned PKCS#7
  libmono-system-security4.0-cil
  # Windows stage: the Debian 13 root with Wine 10 (scripts/wine10-root.sh); MSVC import libraries and an
  # MSVC-ABI link (llvm-dlltool, clang, lld-link); the distribution zip
  debootstrap llvm clang lld zip unzip
  # the enrollment example and its C test build PKCS#10 requests and check PKCS#7 with OpenSSL (libcrypto)
  libssl-dev
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  # On stderr, so callers that silence stdout (scripts/demo.sh) still tell a newcomer why the first run waits.
  echo "setup: first run: installing ${#missing[@]} Debian packages (about 2 minutes; later runs skip this): ${missing[*]}" >&2
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# The PowerShell grammar check (bindings/powershell/tests/parse.sh) runs tree-sitter under Node.js; Debian's
# nodejs + npm only when no Node.js is installed (another source's nodejs already ships npm).
if ! command -v npm >/dev/null; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  echo "setup: installing nodejs npm"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
fi

# The header generator, pinned: the checked-in header is diffed against its output in the tests.
if ! cbindgen --version 2>/dev/null | grep -q "0.29.4"; then
  echo "setup: installing cbindgen 0.29.4 (about 1 minute, once)" >&2
  cargo install cbindgen --version 0.29.4 --locked --quiet
fi

# The Windows target, best effort: it is downloaded from the Rust distribution server, which may be
# unreachable; the Windows checks then say so and skip.
for target in x86_64-pc-windows-gnu i686-pc-windows-gnu; do
  if ! rustup target list --installed 2>/dev/null | grep -q "$target"; then
    if timeout 180 rustup target add "$target" >/dev/null 2>&1; then
      echo "setup: added rustup target $target"
    else
      echo "setup: NOTE rustup target $target could not be fetched; its Windows checks will be skipped"
    fi
  fi
done
echo "setup: ok"
