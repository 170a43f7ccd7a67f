#!/usr/bin/env bash
# `make demo`: load codevec's own sources (src/ and crates/) into a table and ask it questions
# with `codevec search` (the hybrid search of the extension). Run after `make install`.
#
# Server: with PGHOST set, the one that PGHOST, PGPORT, PGUSER, PGPASSWORD, PGDATABASE name
# (the role must be allowed to CREATE EXTENSION codevec, or it must be there already; on
# Debian's own cluster as root: PGHOST=/var/run/postgresql PGUSER=postgres); without
# PGHOST, a throwaway cluster started with scripts/pg-up.sh (as root the server runs as the
# postgres user) on a private unix socket, stopped and removed on exit.
#
# Idempotent: the table (CODEVEC_DEMO_TABLE, default codevec_demo) is dropped and loaded
# afresh every run. Questions: the arguments, else three examples.
#   scripts/demo.sh
#   PGHOST=/var/run/postgresql PGDATABASE=code scripts/demo.sh "open a database connection"
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/codevec/target}
TABLE=${CODEVEC_DEMO_TABLE:-codevec_demo}
if ! [[ $TABLE =~ ^[a-z_][a-z0-9_]*$ ]]; then
  echo "demo: CODEVEC_DEMO_TABLE must be a plain lower-case name, not $TABLE" >&2
  exit 2
fi
if [ $# -gt 0 ]; then
  QUESTIONS=("$@")
else
  QUESTIONS=(
    "parse an embedding from text"
    "split a source file into functions"
    "cosine distance between two vectors"
  )
fi

echo "== building the loader (cargo build --release -p codevec-cli)"
cargo build --release -p codevec-cli
CODEVEC="$CARGO_TARGET_DIR/release/codevec"

if [ -n "${PGHOST:-}" ]; then
  echo "== server from the environment: PGHOST=$PGHOST PGPORT=${PGPORT:-5432}"
else
  WORK=$(mktemp -d /tmp/codevec-demo.XXXXXX)
  chmod 755 "$WORK"
  PORT=${CODEVEC_DEMO_PORT:-$((59000 + RANDOM % 900))}
  cleanup() { scripts/pg-down.sh "$WORK/pg" >/dev/null 2>&1; rm -rf "$WORK"; }
  trap cleanup EXIT
  trap 'exit 130' INT TERM
  echo "== throwaway cluster on $WORK/pg port $PORT (stopped on exit)"
  scripts/pg-up.sh "$WORK/pg" "$PORT" || { cat "$WORK/pg/log" 2>/dev/null; exit 1; }
  export PGHOST="$WORK/pg" PGPORT="$PORT" PGUSER=postgres PGDATABASE=postgres
fi
# the loader reads the PG* variables; DATABASE_URL would win over them
unset DATABASE_URL

psql_() { psql -X -q -v ON_ERROR_STOP=1 "$@"; }

echo "== CREATE EXTENSION IF NOT EXISTS codevec; DROP TABLE IF EXISTS $TABLE"
psql_ -c "SET client_min_messages = warning" -c "CREATE EXTENSION IF NOT EXISTS codevec" \
  -c "DROP TABLE IF EXISTS $TABLE CASCADE"

echo "== codevec load --create-table --table $TABLE src crates (embedded in the server as it arrives)"
"$CODEVEC" load --create-table --table "$TABLE" src crates

echo "== SELECT codevec.enable_search('$TABLE', 'code', 'emb')"
psql_ -c "SELECT codevec.enable_search('$TABLE', 'code', 'emb')" >/dev/null

for q in "${QUESTIONS[@]}"; do
  echo
  echo "== codevec search --table $TABLE -k 3 \"$q\""
  "$CODEVEC" search --table "$TABLE" -k 3 "$q"
done
