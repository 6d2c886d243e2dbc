#!/usr/bin/env bash
# Benchmarks, in one run on this machine: traffic-mirror's throughput per scenario against
# dpdk-testpmd io forwarding and against itself without sessions, then instruction counts
# under callgrind (exact on a noisy machine: what a change to the packet path must not raise):
# the real binary's whole worker loop a frame, and parse + classify + encapsulation alone a
# packet; in the full mode, the latter's time too (criterion).
#
#   scripts/bench.sh [--quick] [--json FILE] [--only TEXT] [--compare OTHER [--rounds N]]
#   scripts/bench.sh --callgrind [--only TEXT] [--binary BINARY]
#   scripts/bench.sh --control [--sessions N]... [--changes N]
#
#   --quick          short windows (3 pairs of 0.15 s per scenario): the whole table in under
#                    a minute once built; without it, 8 pairs of 0.5 s and criterion
#   --json FILE      the throughput rows as JSON too
#   --only TEXT      only the scenarios whose name contains TEXT (and the baselines); given
#                    more than once, those that contain any of them
#   --compare OTHER  instead of the table, this build against another traffic-mirror binary
#                    (an older build): both alternately for N rounds (8) per scenario, the
#                    median of the paired ratios; what tells a change apart from the noise
#   --callgrind      only the instruction counts, no throughput (about a minute); with
#                    --binary, the whole-worker counts of another build (an older one)
#   --control        only the control plane at scale: start-up time and the latency of single
#                    changes (median, p99) with 100, 1,000 and 10,000 sessions in force (or
#                    each --sessions N), --changes (1,000) in a row while a worker forwards,
#                    one client scrapes /metrics and another pages through Describe
#
# Sources are net_pcap devices replaying captures this script generates (64-byte frames,
# IMIX 7:4:1, a TCP/UDP/ICMP/IPv6 mix) with infinite_rx=1; sinks are net_null. One worker
# unless the scenario says otherwise. Compare ratios, not absolute figures: they are measured
# in the same run, on the same devices and cores. "vs no sessions" is measured in pairs of
# windows in one traffic-mirror process, the scenario's sessions switched off (through the
# control API) for one window of each pair; the median of the pairs' ratios is shown.
# The whole-worker counts run traffic-mirror under valgrind on the 64-byte capture (again
# infinite_rx into net_null), count the worker thread's loop (dataplane::worker::run) only,
# stop it with SIGTERM after a few seconds and divide by the frames it received: no sessions,
# nothing accepted, 10% and 100% mirrored at 128 bytes.
# On 64-byte frames testpmd also runs its 5tswap mode (it reads and rewrites every frame's
# Ethernet, IP and TCP/UDP headers), alternately with io: a reference for what touching each
# frame's headers costs on these devices, whoever's code does it.
set -euo pipefail
cd "$(dirname "$0")/.."

quick=0
callgrind=0
control=0
for a in "$@"; do
  case $a in
    --quick) quick=1 ;;
    --callgrind) callgrind=1 ;;
    --control) control=1 ;;
    -h | --help) sed -n '2,/^set -e/{/^set -e/d;p}' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
  esac
done
[[ $(id -u) -eq 0 ]] || { echo "bench.sh: DPDK needs root; run: sudo $0 $*" >&2; exit 1; }

scripts/setup.sh
echo "bench.sh: building"
cargo build --release --quiet -p control --bin traffic-mirror -p bench --bin tm-bench
cargo build --release --quiet -p dataplane --example packet_path_ipp

if ((control)); then
  target/release/tm-bench "$@"
  exit 0
elif ((callgrind)); then
  target/release/tm-bench "$@"
else
  echo "bench.sh: throughput (traffic-mirror and testpmd, one after the other on the same cores)"
  target/release/tm-bench "$@"
  target/release/tm-bench --callgrind "$@"
fi

# Instructions per packet of the packet path alone (no DPDK), for filters of 10, 1,000 and
# 10,000 rules. run_burst is what is counted; the set-up is not. Instruction counts do not
# depend on what else runs, so the three run side by side, after the throughput runs.
echo
echo "per-packet instructions (parse + classify + outer headers; callgrind, 4096 frames x 5)"
printf '  %-14s %10s\n' rules Ir/packet
counts=$(mktemp -d)
trap 'rm -rf "$counts"' EXIT
for rules in 10 1000 10000; do
  valgrind --tool=callgrind --callgrind-out-file=/dev/null --toggle-collect='*run_burst*' \
    target/release/examples/packet_path_ipp "$rules" 5 >"$counts/$rules" 2>&1 &
done
wait
for rules in 10 1000 10000; do
  ir=$(grep -oE 'Collected : [0-9]+' "$counts/$rules" | grep -oE '[0-9]+$' || true)
  [[ -n $ir ]] || { echo "bench.sh: callgrind printed no count:" >&2; cat "$counts/$rules" >&2; exit 1; }
  awk -v r="$rules" -v ir="$ir" 'BEGIN { printf "  %-14s %10.0f\n", r, ir / (5 * 4096) }'
done

if ((!quick && !callgrind)); then
  echo
  echo "per-packet time (criterion; target/criterion/ has the reports)"
  cargo bench --quiet -p dataplane --bench packet_path 2>&1 | grep -E '^(parse|\s+time|\s+thrpt)'
fi
