#!/usr/bin/env bash
# Code-search quality (MRR@10, R@1, R@10) of the in-database encoder on
# shared/data/codesearch-python-dev.jsonl, computed in SQL against a throwaway cluster.
# Reference (sentence-transformers, PyTorch): MRR@10 0.551, R@1 0.433, R@10 0.790.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/shared-data.sh
DATA=${CODEVEC_SHARED_DATA:-$(cd .. && pwd)/shared/data}/codesearch-python-dev.jsonl
[ -r "$DATA" ] || { echo "missing $DATA (set CODEVEC_SHARED_DATA)" >&2; exit 1; }
WORK=$(mktemp -d /tmp/codevec-eval.XXXXXX); chmod 755 "$WORK"
PORT=${CODEVEC_EVAL_PORT:-$((59500 + RANDOM % 400))}
trap 'scripts/pg-down.sh "$WORK/pg" >/dev/null 2>&1; rm -rf "$WORK"' EXIT INT TERM
cp "$DATA" "$WORK/data.jsonl"; chmod 644 "$WORK/data.jsonl"
scripts/pg-up.sh "$WORK/pg" "$PORT"
# PRECISIONS: which encoder precisions to evaluate (f32 = full precision; int8 needs AVX512-VNNI)
for precision in ${PRECISIONS:-f32 int8}; do
  psql -h "$WORK/pg" -p "$PORT" -U postgres -X -v datafile="$WORK/data.jsonl" -v precision="$precision" \
    -f benches/sql/codesearch_eval.sql postgres
  if [ "$precision" = f32 ]; then
    # the same set through codevec.search: vector / BM25 / fusion / hybrid / + adapter (#12)
    echo "== hybrid search through SQL (codevec.search, f32)"
    psql -h "$WORK/pg" -p "$PORT" -U postgres -X -f benches/sql/hybrid_eval.sql postgres
  fi
done
echo "reference (sentence-transformers on PyTorch): mrr_at_10 0.551, recall_at_1 0.433, recall_at_10 0.790"

# Held-back sets built the same way from other languages (crates/lexical's build_set writes
# them to ~/.cache/codevec/eval; nothing is tuned on them): the same SQL, f32.
for extra in ${CODEVEC_EVAL_SETS:-$HOME/.cache/codevec/eval/codesearch-rust.jsonl $HOME/.cache/codevec/eval/codesearch-js.jsonl}; do
  [ -r "$extra" ] || continue
  echo
  echo "== held-back set $(basename "$extra") through SQL"
  cp "$extra" "$WORK/extra.jsonl"; chmod 644 "$WORK/extra.jsonl"
  psql -h "$WORK/pg" -p "$PORT" -U postgres -X -v datafile="$WORK/extra.jsonl" -v precision=f32 \
    -f benches/sql/codesearch_eval.sql postgres
  psql -h "$WORK/pg" -p "$PORT" -U postgres -X -f benches/sql/hybrid_eval.sql postgres
done

# The same legs offline, with the sweeps that chose the weights: vector / BM25 / RRF /
# weighted fusion / + code-aware priors (crates/lexical), then the contrastive query adapter
# trained on the even ids and tested on the odd ids (crates/adapter). The embeddings of the set are
# computed once with the repository's encoder and cached in ~/.cache/codevec/eval/.
echo
echo "== offline hybrid search on $(basename "$DATA") (crates/lexical, crates/adapter)"
T=${CARGO_TARGET_DIR:-$HOME/.cache/codevec/target}
cargo build -q --release -p codevec-lexical --features eval --example eval
cargo build -q --release -p codevec-adapter --example adapter_eval
CODEVEC_MODEL_DIR="$(${PG_CONFIG:-pg_config} --sharedir)/extension/codevec/models/all-MiniLM-L6-v2" \
  "$T/release/examples/eval" --data "$DATA" --name python-dev
"$T/release/examples/adapter_eval" --data "$DATA" --name python-dev
