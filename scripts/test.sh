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

# The RCU and table code under AddressSanitizer (use after free, leaks) and ThreadSanitizer
# (data races), with an instrumented std (-Zbuild-std, hence rust-src and RUSTC_BOOTSTRAP).
rustup component add rust-src >/dev/null 2>&1 || rustup component list --installed | grep -q rust-src
for san in address thread; do
  echo "test.sh: RCU and table swaps under the ${san} sanitizer"
  RUSTC_BOOTSTRAP=1 RUSTFLAGS="-Zsanitizer=$san" CARGO_TARGET_DIR="target/san-$san" TABLE_SWAPS=1000 \
    cargo test --quiet -Zbuild-std --target x86_64-unknown-linux-gnu -p dataplane --lib rcu::
  RUSTC_BOOTSTRAP=1 RUSTFLAGS="-Zsanitizer=$san" CARGO_TARGET_DIR="target/san-$san" TABLE_SWAPS=1000 \
    cargo test --quiet -Zbuild-std --target x86_64-unknown-linux-gnu -p dataplane --test table_swaps
done

# A short coverage-guided fuzz run of parse + classify (libFuzzer via cargo-fuzz). cargo-fuzz
# needs nightly-only compiler flags (sanitizers); RUSTC_BOOTSTRAP lets the stable toolchain
# accept them. The seeds are real frames; new finds stay in dataplane/fuzz/corpus.
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked --quiet
mkdir -p out dataplane/fuzz/corpus/parse_classify
status=0
(cd dataplane && RUSTC_BOOTSTRAP=1 cargo fuzz run parse_classify fuzz/corpus/parse_classify fuzz/seeds \
   -- -max_total_time="${FUZZ_SECONDS:-60}" -print_final_stats=1) >out/fuzz.log 2>&1 || status=$?
grep -E "^(Done|stat::number_of_executed_units)" out/fuzz.log || true
if ((status)); then
  tail -40 out/fuzz.log >&2
  echo "test.sh: the fuzzer failed (status $status); the input is in dataplane/fuzz/artifacts/" >&2
  exit 1
fi
echo "test.sh: all tests passed"
