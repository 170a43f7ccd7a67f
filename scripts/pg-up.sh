#!/usr/bin/env bash
# Start a throwaway PostgreSQL cluster owned by the unprivileged `postgres` user (initdb and
# postgres refuse to run as root): trust auth, unix socket in DIR, no TCP.
# Usage: scripts/pg-up.sh DIR PORT [extra postgres -c settings...]
set -euo pipefail
DIR=${1:?dir}; PORT=${2:?port}; shift 2
PGBIN=$(pg_config --bindir)
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
"$(dirname "$0")/pg-down.sh" "$DIR" >/dev/null 2>&1 || true
rm -rf "$DIR"; mkdir -p "$DIR"
[ "$(id -u)" = 0 ] && chown postgres:postgres "$DIR"
as_pg "$PGBIN/initdb" -D "$DIR/data" -A trust -U postgres --locale=C.UTF-8 -E UTF8 >"$DIR/initdb.log"
opts="-p $PORT -k $DIR -c listen_addresses='' -c fsync=off -c shared_buffers=256MB -c max_wal_size=2GB"
for o in "$@"; do opts="$opts -c $o"; done
as_pg "$PGBIN/pg_ctl" -D "$DIR/data" -l "$DIR/log" -w -o "$opts" start >/dev/null
echo "cluster up: host=$DIR port=$PORT user=postgres"
