#!/usr/bin/env bash
# Installs every system package traffic-mirror needs to build, run and test, idempotently:
# nothing is fetched when everything is already there. Needs root (apt-get).
set -euo pipefail

packages=(
  # build: DPDK 22.11 and what bindgen and the pcap PMD need
  libdpdk-dev dpdk dpdk-dev pkg-config clang libclang-dev libpcap-dev
  # tests and the lab: decoding copies, namespaces, traffic
  tshark tcpdump iproute2 iputils-ping netcat-openbsd curl procps
  # benchmarks: instruction counts
  valgrind
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if ((${#missing[@]})); then
  if [[ $(id -u) -ne 0 ]]; then
    echo "setup.sh: installing ${missing[*]} needs root; run: sudo $0" >&2
    exit 1
  fi
  echo "setup.sh: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  # tshark asks whether non-root users may capture; the answer does not matter here.
  echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if ! command -v cargo >/dev/null; then
  echo "setup.sh: no Rust toolchain (cargo) found; install one with rustup (https://rustup.rs)" >&2
  exit 1
fi
pkg-config --atleast-version=22.11 libdpdk || { echo "setup.sh: DPDK 22.11 or later not found by pkg-config" >&2; exit 1; }
echo "setup.sh: ready (DPDK $(pkg-config --modversion libdpdk), $(cargo --version))"
