#!/usr/bin/env bash
# Stop a cluster started by pg-up.sh (immediate mode is fine for a throwaway) and remove it.
set -uo pipefail
DIR=${1:?dir}
PGBIN=$(pg_config --bindir)
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
[ -d "$DIR/data" ] && as_pg "$PGBIN/pg_ctl" -D "$DIR/data" -m fast -w stop >/dev/null 2>&1
rm -rf "$DIR"
