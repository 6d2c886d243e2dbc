#!/usr/bin/env bash
# Installs every system package traffic-mirror needs to build, run and test, idempotently:
# nothing is fetched when everything is already there. Needs root (apt-get).
set -euo pipefail

packages=(
  # build: DPDK 22.11 and what bindgen and the pcap PMD need
  libdpdk-dev dpdk dpdk-dev pkg-config clang libclang-dev libpcap-dev
  # tests and the lab: decoding copies, namespaces, traffic
  tshark tcpdump iproute2 iputils-ping netcat-openbsd curl procps
  # the EC2 Query API's tests: the stock AWS CLI and boto3 in a venv, certificates for HTTPS
  python3 python3-venv openssl
  # benchmarks: instruction counts; Open vSwitch with DPDK, what users would pick instead
  valgrind openvswitch-switch-dpdk
  # the Debian package: dpkg-shlibdeps finds its library dependencies; its test reads man -w
  dpkg-dev man-db
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
# cargo-deb builds the Debian package (scripts/package.sh), pinned so that every machine makes
# the same package. Nothing is fetched when that version is there.
cargo_deb=3.8.0
if [[ $(cargo deb --version 2>/dev/null) != "cargo-deb $cargo_deb" ]]; then
  echo "setup.sh: installing cargo-deb $cargo_deb"
  cargo install cargo-deb --version "$cargo_deb" --locked --quiet
fi
# The stock AWS clients, pinned so that control/src/query/ec2-model.json (extracted from this
# botocore by scripts/ec2-model.py) and the tests agree; in a venv inside the repo, never in the
# system Python. Nothing is fetched when the pinned versions are already there.
repo=$(cd "$(dirname "$0")/.." && pwd)
venv="$repo/out/venv"
aws_clients=(awscli==1.46.3 boto3==1.44.8 botocore==1.44.8)
if ! "$venv/bin/python" -c '
import sys, importlib.metadata as m
want = dict(a.split("==") for a in sys.argv[1:])
sys.exit(any(m.version(p) != v for p, v in want.items()))' "${aws_clients[@]}" 2>/dev/null || [[ ! -x "$venv/bin/aws" ]]; then
  echo "setup.sh: installing ${aws_clients[*]} into $venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "${aws_clients[@]}"
fi

pkg-config --atleast-version=22.11 libdpdk || { echo "setup.sh: DPDK 22.11 or later not found by pkg-config" >&2; exit 1; }
echo "setup.sh: ready (DPDK $(pkg-config --modversion libdpdk), $(cargo --version), $("$venv/bin/aws" --version 2>&1))"
