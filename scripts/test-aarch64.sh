#!/usr/bin/env bash
# The compute crates on aarch64: cross-built for aarch64-unknown-linux-gnu and their tests run
# under qemu-user, so the portable paths (no x86 intrinsics: distance kernels, ivf estimator,
# encoder dense/int8/element-wise kernels) are built and checked on a target that is not
# x86-64. Not part of `make test` (under emulation the suites take ~45 minutes on 2 cores).
#
#   make test-aarch64      (after `make install`, which installs the model the encoder tests use)
#
# Needs, once: rustup target add aarch64-unknown-linux-gnu;
#              apt-get install qemu-user gcc-aarch64-linux-gnu libc6-dev-arm64-cross
#
# Three encoder tests are skipped. Two spawn the test binary again as child processes, which
# the kernel cannot exec without qemu registered with binfmt_misc (the cache they test is
# also covered by the other tests of crates/encoder/tests/cache.rs, which run). The third
# reads the workers' signal masks from /proc, which under qemu-user shows the emulator's
# host mask, not the program's (codevec-threads' own test checks the masks with
# pthread_sigmask, and runs).
set -uo pipefail
cd "$(dirname "$0")/.."
T=aarch64-unknown-linux-gnu
missing=()
rustup target list --installed 2>/dev/null | grep -qx "$T" || missing+=("rustup target add $T")
command -v aarch64-linux-gnu-gcc >/dev/null || missing+=("apt-get install gcc-aarch64-linux-gnu libc6-dev-arm64-cross")
command -v qemu-aarch64 >/dev/null || missing+=("apt-get install qemu-user")
if [ ${#missing[@]} -gt 0 ]; then
  echo "test-aarch64: missing tools; run:" >&2
  printf '  %s\n' "${missing[@]}" >&2
  exit 2
fi
. scripts/shared-data.sh
export CARGO_TARGET_DIR=${CODEVEC_AARCH64_TARGET_DIR:-$HOME/.cache/codevec/target-aarch64}
export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc
export CC_aarch64_unknown_linux_gnu=aarch64-linux-gnu-gcc
export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUNNER="qemu-aarch64 -L /usr/aarch64-linux-gnu"
CRATES=(-p codevec-simd -p codevec-threads -p codevec-distance -p codevec-vector
        -p codevec-lexical -p codevec-adapter -p codevec-ivf -p codevec-encoder)
LOG=$(mktemp /tmp/codevec-aarch64.XXXXXX)
trap 'rm -f "$LOG"' EXIT
names=$(printf '%s\n' "${CRATES[@]}" | grep -v '^-p$' | sed 's/^codevec-//' | xargs)
echo "== aarch64 (qemu-user $(qemu-aarch64 --version | head -1 | grep -oE '[0-9]+\.[0-9.]+' | head -1)): $names"
cargo test --release --no-fail-fast --target "$T" "${CRATES[@]}" -- \
  --skip four_processes_mapping_one_cache_file_share_its_memory \
  --skip processes_racing_to_create_the_cache_share_one_file \
  --skip pool_has_exactly_n_workers_with_signals_blocked 2>&1 | tee "$LOG" |
  grep -E '^(test result:|error|warning: unused)|FAILED|panicked'
rc=${PIPESTATUS[0]}
read -r p f < <(awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i } } END { print p + 0, f + 0 }' "$LOG")
[ "$rc" != 0 ] && [ "$f" = 0 ] && f=1
echo "aarch64: $p passed, $f failed"
exit "$rc"
