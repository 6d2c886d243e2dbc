#!/usr/bin/env bash
# Benchmarks, in one run on this machine: traffic-mirror's throughput per scenario against the
# least work the job takes on these devices (the floors) and against Open vSwitch with DPDK doing
# the same job, then instruction counts under callgrind (exact on a noisy machine: what a change
# to the packet path must not raise): the real binary's whole worker loop a frame, its floors',
# and parse + classify + encapsulation alone a packet; in the full mode, the latter's time too
# (criterion).
#
#   scripts/bench.sh [--quick] [--json FILE] [--only TEXT] [--no-ovs]
#   scripts/bench.sh --compare OTHER [--traffic 64B|IMIX|mix] [--rounds N] [--only TEXT]
#   scripts/bench.sh --callgrind [--only TEXT] [--binary BINARY]
#   scripts/bench.sh --control [--sessions N]... [--changes N]
#
#   --quick          short windows and 3 rounds a scenario (without it, 5 rounds of longer
#                    windows, and criterion): a few minutes once built
#   --json FILE      the throughput rows as JSON too
#   --only TEXT      only the scenarios whose name contains TEXT (and no sessions); given more
#                    than once, those that contain any of them
#   --no-ovs         leave OVS-DPDK out
#   --compare OTHER  instead of the table, this build against another traffic-mirror binary
#                    (an older build): both alternately for N rounds (8) per scenario on one
#                    capture (--traffic, 64 B by default), the median of the paired ratios
#   --callgrind      only the instruction counts, no throughput (a few minutes); with
#                    --binary, the whole-worker counts of another build (an older one)
#   --control        only the control plane at scale: start-up time and the latency of single
#                    changes (median, p99) with 100, 1,000 and 10,000 sessions in force (or
#                    each --sessions N), --changes (1,000) in a row while a worker forwards,
#                    one client scrapes /metrics and another pages through Describe
#
# Sources are net_pcap devices replaying captures this script generates (64-byte frames,
# IMIX 7:4:1, a TCP/UDP/ICMP/IPv6 mix) with infinite_rx=1; sinks are net_null. One worker
# unless the scenario says otherwise; traffic-mirror's and OVS's control threads on core 0, the
# worker (OVS's PMD) on core 1. Each scenario runs in rounds: traffic-mirror, its floor and
# OVS-DPDK (on 64-byte frames and IMIX) one after the other, in an order rotated every round;
# the table shows the medians over the rounds and the range of the rounds' ratios.
#   floors: the same binary's worker loop (traffic-mirror run --bench-floor, hidden) doing
#     only what the job cannot do without: "touch" reads one byte of each frame and forwards
#     it; "copy:128" forwards each frame and sends a 128-byte copy behind a fixed template's
#     outer headers (no parse, no rules, no hash); "copy:128/10" copies one frame in ten,
#     "copy:whole" whole frames.
#   OVS-DPDK: Debian's openvswitch-switch-dpdk (OVS 3.1), one netdev bridge from the same
#     source into a net_null sink, mirrored frames to a VXLAN port by
#     output(port=vx,max_len=128), its underlay bridge into a second net_null; daemons on core
#     0, PMD on core 1 (pmd-cpu-mask), its own DPDK file prefix (--no-huge --legacy-mem), its
#     own database and network namespace, frozen (SIGSTOP) while traffic-mirror runs and all
#     removed after. Once per run a short tx_pcap run and tshark check that its copies are VXLAN
#     with the inner frame cut at 128 bytes.
# "vs no sessions" is measured in pairs of windows in one traffic-mirror process, the
# scenario's sessions switched off (through the control API) for one window of each pair.
# The whole-worker counts run traffic-mirror under valgrind on the 64-byte capture (again
# infinite_rx into net_null), count the worker thread's loop (dataplane::worker::run, or
# worker::floor::run for the floors) only, stop it with SIGTERM after a few seconds and divide
# by the frames it received: no sessions, nothing accepted, 10% and 100% mirrored at 128
# bytes, the touch floor and the 128-byte copy floor.
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
  echo "bench.sh: throughput (traffic-mirror, its floors, OVS-DPDK and testpmd, one after the other on the same cores)"
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
