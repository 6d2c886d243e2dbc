#!/usr/bin/env bash
# Reserves hugepages for DPDK and mounts hugetlbfs, idempotently.
#
#   scripts/hugepages.sh [MEGABYTES] [NODE]      default: 2048 MB of 2 MiB pages on node 0
#   scripts/hugepages.sh --status
#
# Hugepages reserved at run time can fail once memory is fragmented; on a dedicated box put
# them on the kernel command line instead (default_hugepagesz=1G hugepagesz=1G hugepages=4)
# and keep this script for the mount. Then drop --no-huge and -m from [dataplane] eal_args
# and give --socket-mem (see config/nic-pair.toml).
set -euo pipefail

mount_point=/dev/hugepages

status() {
  grep -E "HugePages_(Total|Free)|Hugepagesize" /proc/meminfo
  for n in /sys/devices/system/node/node*/hugepages/hugepages-*; do
    [[ -e $n/nr_hugepages ]] && echo "$(basename "$(dirname "$(dirname "$n")")") $(basename "$n"): $(cat "$n/nr_hugepages") reserved, $(cat "$n/free_hugepages") free"
  done
  mount | grep hugetlbfs || echo "hugetlbfs: not mounted"
}

if [[ ${1:-} == "--status" ]]; then
  status
  exit 0
fi

megabytes=${1:-2048}
node=${2:-0}
[[ $(id -u) -eq 0 ]] || { echo "hugepages.sh: needs root" >&2; exit 1; }
pages=$(( (megabytes + 1) / 2 ))
dir=/sys/devices/system/node/node$node/hugepages/hugepages-2048kB
[[ -d $dir ]] || dir=/sys/kernel/mm/hugepages/hugepages-2048kB
echo "$pages" > "$dir/nr_hugepages"
got=$(cat "$dir/nr_hugepages")
if (( got < pages )); then
  echo "hugepages.sh: asked for $pages 2 MiB pages on node $node, got $got (memory fragmented? reserve them at boot)" >&2
  exit 1
fi
mkdir -p "$mount_point"
mountpoint -q "$mount_point" || mount -t hugetlbfs nodev "$mount_point"
status
