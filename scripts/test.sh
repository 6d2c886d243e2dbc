#!/usr/bin/env bash
# The whole test suite, set-up included: unit and property tests, end-to-end tests that run
# the real binary on DPDK virtual devices, and a short fuzz run. Needs root (DPDK, TAP
# devices, network namespaces): tests that lack it fail, they never skip.
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ $(id -u) -ne 0 ]]; then
  echo "test.sh: the end-to-end tests need root (DPDK runtime files, TAP devices, namespaces)" >&2
  exit 1
fi
scripts/setup.sh
cargo build --release --workspace --all-targets
cargo test --release --workspace
echo "test.sh: all tests passed"
