#!/usr/bin/env bash
# Benchmarks: criterion kernel benches (GB/s table vs a scalar loop), then SQL benches
# against a throwaway cluster this script starts and stops. Needs `make install` first.
set -euo pipefail
cd "$(dirname "$0")/.."
PG_CONFIG=${PG_CONFIG:-/usr/bin/pg_config}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/codevec/target}
. scripts/shared-data.sh
WORK=$(mktemp -d /tmp/codevec-bench.XXXXXX); chmod 755 "$WORK"
PORT=${CODEVEC_BENCH_PORT:-$((59000 + RANDOM % 500))}
trap 'scripts/pg-down.sh "$WORK/pg" >/dev/null 2>&1; rm -rf "$WORK"' EXIT INT TERM

echo "== kernels (criterion; table at the end)"
cargo bench -p codevec-distance --bench kernels -- --warm-up-time 1 --measurement-time 2 2>&1 | grep -vE '^(Benchmarking|Found|  [0-9]+ \(|Gnuplot)'

echo "== encoder (criterion: batch throughput at 1 and 2 threads, one 10-word query)"
CODEVEC_MODEL_DIR="$($PG_CONFIG --sharedir)/extension/codevec/models/all-MiniLM-L6-v2" \
  cargo bench -p codevec-encoder --bench encode -- --warm-up-time 1 --measurement-time 5 2>&1 | grep -vE '^(Benchmarking|Found|  [0-9]+ \(|Gnuplot)'

echo "== SQL benchmarks"
scripts/pg-up.sh "$WORK/pg" "$PORT" "shared_buffers=1GB" "work_mem=64MB" \
  "shared_preload_libraries=codevec" "codevec.sync_naptime=100ms"
export CODEVEC_PGHOST="$WORK/pg" CODEVEC_PGPORT="$PORT"
psql -h "$WORK/pg" -p "$PORT" -U postgres -qc "CREATE DATABASE codevec_bench" postgres
cargo run -q --release -p codevec-sqlbench -- exact "${CODEVEC_BENCH_ROWS:-100000}" 30
cargo run -q --release -p codevec-sqlbench -- ivf "${CODEVEC_ANN_DIR:-${CODEVEC_SHARED_DATA:-$(cd .. && pwd)/shared/data}/ann}"
cargo run -q --release -p codevec-sqlbench -- sync "${CODEVEC_SYNC_BENCH_ROWS:-600}"
cargo build -q --release -p codevec-cli   # search splits its corpus with the loader
cargo run -q --release -p codevec-sqlbench -- search "${CODEVEC_ANN_DIR:-${CODEVEC_SHARED_DATA:-$(cd .. && pwd)/shared/data}/ann}" "${CODEVEC_SEARCH_BENCH_ROWS:-50000}"
