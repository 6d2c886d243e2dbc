#!/usr/bin/env bash
# Builds the Debian package and prints the .deb's path (the last line of its output): the
# release binary, then what the binary makes of its own command line (a man page per command
# and ctl verb, the bash, zsh and fish completions) and the example configuration, written into
# target/release/package-assets/, then cargo-deb, which packages what [package.metadata.deb]
# in control/Cargo.toml lists. Needs cargo-deb and dpkg-dev (scripts/setup.sh installs them).
set -euo pipefail
cd "$(dirname "$0")/.."

for tool in cargo-deb dpkg-shlibdeps; do
  command -v "$tool" >/dev/null || { echo "package.sh: $tool not found; run scripts/setup.sh" >&2; exit 1; }
done

cargo build --release --quiet -p control --bin traffic-mirror
release="${CARGO_TARGET_DIR:-target}/release"
bin="$release/traffic-mirror"
assets="$release/package-assets"
rm -rf "$assets"
mkdir -p "$assets/completions"

# cargo-deb gzips man pages only outside target/release/; -n: no name or time, reproducible.
"$bin" manpage --out "$assets/man" >/dev/null
gzip -9n "$assets"/man/*.1
"$bin" completions bash >"$assets/completions/traffic-mirror"
"$bin" completions zsh >"$assets/completions/_traffic-mirror"
"$bin" completions fish >"$assets/completions/traffic-mirror.fish"

# The example configuration: config/default.toml with its ports on devices that need no file,
# so that it runs as installed: they receive nothing, and what they send goes to
# /var/lib/traffic-mirror/ (the service's state folder) instead of the repository's out/.
example="$assets/traffic-mirror.toml"
{
  cat <<'HEADER'
# traffic-mirror's configuration, installed by its Debian package as an example to edit.
#
# As it is, it runs on DPDK's pcap virtual devices, without a NIC or hugepages: its ports
# receive nothing, and what they send is written to /var/lib/traffic-mirror/*.pcap. So
# `systemctl start traffic-mirror` gives an appliance that answers the API, e.g.
#   traffic-mirror ctl --config /etc/traffic-mirror/traffic-mirror.toml describe-traffic-mirror-sessions
# For real ports see /usr/share/doc/traffic-mirror/examples/ (nic-pair.toml: a NIC pair with
# hugepages and vfio-pci; ec2-ena.toml: EC2), `man traffic-mirror` and README.md there.
#
# Network interfaces, targets, filters and sessions mean what they mean in AWS VPC Traffic
# Mirroring. Changes made through the API (traffic-mirror ctl, the AWS CLI) are written back
# here: first to traffic-mirror.toml.journal beside it, then into this file, its comments kept.
# Everything below is config/default.toml of the source, its ports' devices changed.

HEADER
  sed -n '/^\[dataplane\]/,$p' config/default.toml |
    sed -e 's#rx_pcap=out/sample/[^,"]*,##' -e 's#tx_pcap=out/default/#tx_pcap=/var/lib/traffic-mirror/#'
} >"$example"
if grep -n 'out/' "$example" >&2; then
  echo "package.sh: config/default.toml names files under out/ that the example cannot keep (above); adapt the sed in $0" >&2
  exit 1
fi
"$bin" validate "$example" >/dev/null

# cargo-deb prints the .deb's path on standard output.
cargo deb --quiet -p control --no-build
