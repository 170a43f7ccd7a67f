#!/usr/bin/env bash
# Every test suite of codevec, each against servers this script (or the suite) starts:
#   1. core crates: plain `cargo test` (no Postgres)
#   2. #[pg_test]s: `cargo pgrx test` in its own throwaway cluster, as user postgres
#   3. pg_regress SQL tests with expected output    } against one throwaway cluster on a
#   4. end-to-end tests in tests/ (postgres crate)   } private unix socket, stopped on exit
#   5. the `codevec` loader's integration tests      }
# Prints a per-suite count and a final "N passed, N failed" line; exits non-zero on failure.
set -uo pipefail
cd "$(dirname "$0")/.."
PG_CONFIG=${PG_CONFIG:-/usr/bin/pg_config}
# the ivf crash / replica e2e tests start their own clusters with $PG_CONFIG --bindir
export PG_CONFIG
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/codevec/target}
. scripts/shared-data.sh
WORK=$(mktemp -d /tmp/codevec-test.XXXXXX)
chmod 755 "$WORK"
PORT=${CODEVEC_TEST_PORT:-$((55000 + RANDOM % 4000))}
PGHOST_DIR="$WORK/pg"
LOGS="$WORK/logs"; mkdir -p "$LOGS"
# `cargo pgrx test --runas` calls sudo; as root without sudo installed, use our shim.
if [ "$(id -u)" = 0 ] && ! command -v sudo >/dev/null; then export PATH="$PWD/scripts/shims:$PATH"; fi

cleanup() { scripts/pg-down.sh "$PGHOST_DIR" >/dev/null 2>&1; rm -rf "$WORK"; }
trap cleanup EXIT INT TERM

total_pass=0; total_fail=0; summary=()
record() { # suite passed failed
  total_pass=$((total_pass + $2)); total_fail=$((total_fail + $3)); summary+=("$(printf '%-28s %5d passed %3d failed' "$1" "$2" "$3")")
}
# Sum cargo's "test result:" lines of a log; a build failure counts as one failure.
cargo_counts() { # name log exitcode
  local p f
  read -r p f < <(awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i } } END { print p + 0, f + 0 }' "$2")
  if [ "$3" != 0 ] && [ "$f" = 0 ]; then f=1; echo "!! $1 exited $3:"; tail -40 "$2"; fi
  record "$1" "$p" "$f"
}

# which kernels this run exercises: every SIMD level up to the CPU's, capped by CODEVEC_SIMD
echo "== CPU: $(lscpu | sed -n 's/^Model name: *//p' | head -1); AVX-512: $(grep -q avx512f /proc/cpuinfo && echo yes || echo no); CODEVEC_SIMD=${CODEVEC_SIMD:-unset}"

echo "== 0/5 lints (cargo fmt --check, cargo clippy -D warnings)"
scripts/lint.sh 2>&1 | tee "$LOGS/lint.log" | tail -5
if [ "${PIPESTATUS[0]}" = 0 ]; then record "lints (fmt, clippy)" 1 0; else record "lints (fmt, clippy)" 0 1; fi

echo "== 1/5 core crates (cargo test)"
cargo test --workspace --exclude codevec 2>&1 | tee "$LOGS/core.log" | grep -E '^test result|FAILED|panicked'
cargo_counts "core crates" "$LOGS/core.log" "${PIPESTATUS[0]}"

echo "== 2/5 #[pg_test] (cargo pgrx test, cluster run as postgres)"
install -d -o postgres -g postgres "$WORK/pgrx-data"
cargo pgrx test pg15 --runas postgres --pgdata "$WORK/pgrx-data" 2>&1 | tee "$LOGS/pgtest.log" | grep -E '^test result|FAILED|panicked'
cargo_counts "pg_test" "$LOGS/pgtest.log" "${PIPESTATUS[0]}"

echo "== reinstall the release build (cargo pgrx test installed its debug build)"
cargo pgrx install --release --pg-config "$PG_CONFIG" >"$LOGS/install.log" 2>&1 || { tail -30 "$LOGS/install.log"; exit 1; }

echo "== throwaway cluster on $PGHOST_DIR:$PORT"
# RUST_BACKTRACE=1 in the server environment: no Rust backtrace may reach a client (checked by
# tests/e2e/hardening.rs and by every expected output of pg_regress)
RUST_BACKTRACE=1 scripts/pg-up.sh "$PGHOST_DIR" "$PORT" || { cat "$PGHOST_DIR/log" 2>/dev/null; exit 1; }
export CODEVEC_PGHOST="$PGHOST_DIR" CODEVEC_PGPORT="$PORT"
# ports of the clusters the ivf crash / replica tests start (base, base+1, base+2)
export CODEVEC_IVF_TEST_PORT_BASE=${CODEVEC_IVF_TEST_PORT_BASE:-$((PORT + 1))}

echo "== 3/5 pg_regress"
PGREGRESS="$(dirname "$($PG_CONFIG --pgxs)")/../test/regress/pg_regress"
"$PGREGRESS" --host="$PGHOST_DIR" --port="$PORT" --user=postgres --dbname=codevec_regress \
  --inputdir=tests/pg_regress --outputdir="$WORK/regress" --schedule=tests/pg_regress/schedule 2>&1 | tee "$LOGS/regress.log"
rc=${PIPESTATUS[0]}
rp=$(grep -cE '\.\.\. ok' "$LOGS/regress.log"); rf=$(grep -cE '\.\.\. FAILED' "$LOGS/regress.log")
if [ "$rc" != 0 ]; then [ "$rf" = 0 ] && rf=1; cat "$WORK/regress/regression.diffs" 2>/dev/null | head -200; fi
record "pg_regress" "$rp" "$rf"

echo "== 4/5 end-to-end (tests/e2e, postgres crate)"
psql -h "$PGHOST_DIR" -p "$PORT" -U postgres -qc "CREATE DATABASE codevec_e2e" postgres
cargo test --features itest --test e2e 2>&1 | tee "$LOGS/e2e.log" | grep -E '^test |^test result|panicked'
cargo_counts "e2e" "$LOGS/e2e.log" "${PIPESTATUS[0]}"

echo "== 5/5 the codevec loader against the server (crates/cli, a database without the extension)"
psql -h "$PGHOST_DIR" -p "$PORT" -U postgres -qc "CREATE DATABASE codevec_cli" postgres
CODEVEC_TEST_DSN="host=$PGHOST_DIR port=$PORT user=postgres dbname=codevec_cli" \
  cargo test -p codevec-cli --features itest --test itest 2>&1 | tee "$LOGS/cli.log" | grep -E '^test |^test result|panicked'
cargo_counts "cli loader" "$LOGS/cli.log" "${PIPESTATUS[0]}"

echo
echo "== summary"
printf '%s\n' "${summary[@]}"
echo "total: $total_pass passed, $total_fail failed"
[ "$total_fail" = 0 ]
