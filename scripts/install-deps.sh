#!/usr/bin/env bash
# Install what codevec's build needs, and only what is missing: Debian packages, the pinned
# cargo-pgrx, and pgrx's configuration for the local PostgreSQL 15.
set -euo pipefail
PG_CONFIG=${PG_CONFIG:-/usr/bin/pg_config}
PGRX_VERSION=0.18.1
SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo

pkgs=(postgresql-15 postgresql-server-dev-15 clang libclang-dev build-essential pkg-config libssl-dev openssl sudo python3-pip unzip)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "== apt-get install ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

if [ "$(cargo pgrx --version 2>/dev/null)" != "cargo-pgrx $PGRX_VERSION" ]; then
  echo "== cargo install cargo-pgrx $PGRX_VERSION (several minutes, once)"
  cargo install cargo-pgrx --version "$PGRX_VERSION" --locked
fi

# `cargo pgrx init` only when its config differs: rewriting it re-runs pgrx's bindgen.
if ! grep -qs "^pg15 = \"$PG_CONFIG\"" "$HOME/.pgrx/config.toml"; then
  echo "== cargo pgrx init --pg15 $PG_CONFIG"
  cargo pgrx init --pg15 "$PG_CONFIG" >/dev/null
fi
echo "deps: ok"
