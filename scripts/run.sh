#!/usr/bin/env bash
# The main job on a fresh machine: set up, build, write the sample capture, and run
# traffic-mirror on config/default.toml (or the config given) until the capture is consumed.
# Forwarded frames and VXLAN copies land in out/default/; the summary and a few decoded copies
# are printed at the end.
#
#   scripts/run.sh [CONFIG] [-- EAL ARGS...]
set -euo pipefail
cd "$(dirname "$0")/.."

config=config/default.toml
if [[ $# -gt 0 && $1 != "--" ]]; then config=$1; shift; fi
[[ ${1:-} == "--" ]] && shift

scripts/setup.sh
cargo build --release --quiet -p control -p e2e --bins

# The sample traffic of config/default.toml: 10,000 mixed frames per side, the same bytes on
# every machine.
if [[ ! -f out/sample/host.pcap || ! -f out/sample/uplink.pcap ]]; then
  target/release/tm-pcapgen --side host --seed 1 --count 10000 out/sample/host.pcap
  target/release/tm-pcapgen --side uplink --seed 2 --count 10000 out/sample/uplink.pcap
fi

mkdir -p out/default
target/release/traffic-mirror run --config "$config" --exit-on-idle 500 \
  --stats-json out/default/stats.json -- "$@"

if [[ $config == config/default.toml ]] && command -v tshark >/dev/null; then
  echo
  echo "First copies in out/default/mirror.pcap, as Wireshark decodes them:"
  tshark -r out/default/mirror.pcap -c 5 -o ip.check_checksum:TRUE \
    -T fields -E header=y -e frame.number -e ip.src -e ip.dst -e udp.srcport -e vxlan.vni \
    -e ip.checksum.status -e frame.len 2>/dev/null | column -t || true
  echo
  echo "Open out/default/mirror.pcap in Wireshark, or: tshark -r out/default/mirror.pcap -V | less"
fi
