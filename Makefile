# codevec: `make install` then `make test` on a fresh Debian machine (as root, or with sudo).
#
#   make install   system packages, pinned cargo-pgrx, the model, release build, install
#   make test      every suite against its own throwaway cluster
#   make test-aarch64  the compute crates cross-built for aarch64, tests under qemu-user
#                  (see scripts/test-aarch64.sh for the tools it needs)
#   make demo      load this repository's sources into a table and ask `codevec search` about it
#                  (after make install; a throwaway cluster unless PGHOST is set)
#   make bench     criterion kernel benchmarks + SQL benchmarks
#   make eval      code-search quality on shared/data (MRR@10, R@1, R@10)
#   make bench-encoder  encoder docs/s vs sentence-transformers on PyTorch, side by side
#                  (needs a reference venv: see scripts/bench-encoder.sh)
#
# Build artefacts go to CARGO_TARGET_DIR (default: outside the clone, so CI stays warm).

PG_CONFIG ?= /usr/bin/pg_config
export CARGO_TARGET_DIR ?= $(HOME)/.cache/codevec/target
export PG_CONFIG

.PHONY: install deps model build test test-aarch64 demo bench bench-encoder eval clean

install: deps model build

deps:
	scripts/install-deps.sh

model:
	scripts/install-model.sh

build:
	cargo pgrx install --release --pg-config $(PG_CONFIG)

test:
	scripts/test.sh

test-aarch64:
	scripts/test-aarch64.sh

demo:
	scripts/demo.sh

bench:
	scripts/bench.sh

bench-encoder:
	scripts/bench-encoder.sh

eval:
	scripts/eval.sh

clean:
	cargo clean
