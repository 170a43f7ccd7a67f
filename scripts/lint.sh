#!/usr/bin/env bash
# The static guard rails: rustfmt and clippy with warnings as errors (the workspace lints in
# Cargo.toml deny unsafe ops without an `unsafe {}` block, calls through unguarded
# `extern "C-unwind"` pointers, unsafe blocks/impls without a `// SAFETY:` comment and
# `pub unsafe fn`s without a `# Safety` doc section).
#
# `--workspace --all-targets --features itest` covers every target of every package: libs,
# bins, unit tests (the root crate's #[pg_test]s compile in its lib test target), examples,
# benches, and both `itest`-gated suites (the root's tests/e2e and the cli's tests/itest.rs;
# `--features` applies to every selected package that has the feature). Not
# `--all-features`: that would also switch on every Postgres-version feature at once.
# Runs both checks, then exits non-zero if either failed.
set -uo pipefail
cd "$(dirname "$0")/.."
export PG_CONFIG=${PG_CONFIG:-/usr/bin/pg_config}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/codevec/target}

status=0
echo "== cargo fmt --all -- --check"
cargo fmt --all -- --check || { echo "lint: rustfmt found unformatted code (run cargo fmt --all)" >&2; status=1; }
echo "== cargo clippy --workspace --all-targets --features itest -- -D warnings"
cargo clippy --workspace --all-targets --features itest -- -D warnings || { echo "lint: clippy failed" >&2; status=1; }
exit $status
