#!/usr/bin/env bash
# Encoder speed against the reference, side by side: documents/s of codevec's encoder (f32 and
# int8, the `throughput` example = what embed_batch runs) and of sentence-transformers on
# PyTorch (CPU), on the same texts with the same batch size, at 1 and 2 threads, interleaved
# round by round so that both see the same machine. Prints every measurement and the ratios,
# then the median ratio per configuration, then for f32 and int8 the FLOP rate one thread
# reached against the peak of the path's product instruction measured on this CPU, and the
# latency of a 10-word query.
#
#   CODEVEC_REF_PYTHON=/path/to/venv/bin/python scripts/bench-encoder.sh [rounds] [texts]
#
# The reference needs torch and sentence-transformers from PyPI in a throwaway venv:
#   python3 -m venv ~/.cache/codevec/refvenv
#   ~/.cache/codevec/refvenv/bin/pip install torch sentence-transformers
# (that venv is used when CODEVEC_REF_PYTHON is unset). CODEVEC_BENCH_INT8_KERNEL=avx2-madd
# (or portable, avx-vnni, avx512-vnni) picks the int8 kernel, e.g. to measure on a CPU with
# AVX-VNNI what one without it runs: with CODEVEC_SIMD=avx2, the int8 kernel of an AVX2-only
# AMD EPYC before Zen 5. The texts are the `code` fields of
# ../shared/data/codesearch-python-dev.jsonl; the model is the one `make install` installed.
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-3}
TEXTS=${2:-512}
BATCH=${CODEVEC_BENCH_BATCH:-32}
PG_CONFIG=${PG_CONFIG:-/usr/bin/pg_config}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/codevec/target}
MODEL="$($PG_CONFIG --sharedir)/extension/codevec/models/all-MiniLM-L6-v2"
. scripts/shared-data.sh
DATA=${CODEVEC_SHARED_DATA:-$(cd .. && pwd)/shared/data}/codesearch-python-dev.jsonl
REF_SCRIPT=${CODEVEC_REF_SCRIPT:-$(cd .. && pwd)/shared/tools/reference_encoder.py}
REF_PYTHON=${CODEVEC_REF_PYTHON:-$HOME/.cache/codevec/refvenv/bin/python}

for f in "$MODEL/model.safetensors" "$DATA" "$REF_SCRIPT"; do
  [ -e "$f" ] || { echo "bench-encoder: $f not found (run make install; see the header of this script)" >&2; exit 1; }
done
if ! "$REF_PYTHON" -c 'import torch, sentence_transformers' 2>/dev/null; then
  echo "bench-encoder: $REF_PYTHON cannot import torch and sentence_transformers;" >&2
  echo "  create the reference venv as described at the top of $0, or set CODEVEC_REF_PYTHON" >&2
  exit 1
fi

cargo build -q --release -p codevec-encoder --example throughput
BIN="$CARGO_TARGET_DIR/release/examples/throughput"
CPUS=$(nproc)

codevec() { # threads precision -> texts/s
  "$BIN" --model "$MODEL" --data "$DATA" --limit "$TEXTS" --batch "$BATCH" --threads "$1" \
    --repeat 1 --precision "$2" ${CODEVEC_BENCH_INT8_KERNEL:+--int8-kernel "$CODEVEC_BENCH_INT8_KERNEL"} | grep -oE '= [0-9.]+ texts/s' | grep -oE '[0-9.]+'
}
reference() { # threads -> texts/s
  HF_HUB_OFFLINE=1 "$REF_PYTHON" "$REF_SCRIPT" "$MODEL" "$DATA" --threads "$1" --batch "$BATCH" \
    --limit "$TEXTS" 2>/dev/null | grep -E '^reference' | grep -oE '= [0-9.]+ texts/s' | grep -oE '[0-9.]+'
}

echo "== encoder vs reference: $TEXTS code texts, batch $BATCH, $ROUNDS rounds, $(date -u +%FT%TZ)"
echo "   $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | xargs), $CPUS CPUs; $("$REF_PYTHON" -c 'import torch; print("torch", torch.__version__)')"
echo "   CODEVEC_SIMD=${CODEVEC_SIMD:-unset}, int8 kernel: ${CODEVEC_BENCH_INT8_KERNEL:-the best of the level}"
RESULTS=$(mktemp)
trap 'rm -f "$RESULTS"' EXIT
printf '%-6s %-8s %12s %12s %12s %10s %10s\n' round threads "f32 docs/s" "int8 docs/s" "ref docs/s" "f32/ref" "int8/ref"
for round in $(seq 1 "$ROUNDS"); do
  for t in 1 2; do
    [ "$t" -le "$CPUS" ] || continue
    f=$(codevec "$t" f32)
    i=$(codevec "$t" int8 || echo nan)
    r=$(reference "$t")
    awk -v R="$round" -v T="$t" -v f="$f" -v i="$i" -v r="$r" 'BEGIN {
      printf "%-6s %-8s %12.1f %12s %12.1f %9.2fx %9sx\n", R, T, f, i, r, f / r,
        (i == "nan" ? "-" : sprintf("%.2f", i / r)) }'
    echo "$t $f $i $r" >>"$RESULTS"
  done
done
echo "== median ratio over the rounds (min - max)"
for t in 1 2; do
  for col in 2 3; do
    name=$([ "$col" = 2 ] && echo f32 || echo int8)
    awk -v T="$t" -v C="$col" '$1 == T && $C != "nan" { print $C / $4 }' "$RESULTS" | sort -n |
      awk -v T="$t" -v N="$name" '{ v[NR] = $1 } END { if (NR == 0) exit;
        m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2;
        printf "threads %s %-5s %.2fx (%.2f - %.2f)\n", T, N, m, v[1], v[NR] }'
  done
done
echo "== FLOP rate of one thread against its measured peak (the model's FLOPs for the same texts / wall time)"
for p in f32 int8; do
  "$BIN" --model "$MODEL" --data "$DATA" --limit "$TEXTS" --batch "$BATCH" --threads 1 --repeat 1 \
    --precision "$p" --peak ${CODEVEC_BENCH_INT8_KERNEL:+--int8-kernel "$CODEVEC_BENCH_INT8_KERNEL"} |
    grep -E '^(peak|flops)|10-word' | sed -E 's/^codevec: .*(10-word query: [^|]*).*/\1/; s/^/   /' || echo "   $p: -"
done
