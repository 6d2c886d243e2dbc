#!/usr/bin/env bash
# A lab on one machine: a client and a server network namespace whose traffic passes through
# traffic-mirror (DPDK net_tap devices), and a collector namespace where the Linux kernel's own
# VXLAN devices (two per VNI: over IPv4 and over IPv6) decapsulate the copies. Needs root.
#
#   scripts/testbed.sh up       build the lab (again, if a crash left half of one)
#   scripts/testbed.sh status   namespaces, links, the process and the session counters
#   scripts/testbed.sh down     remove every namespace, link and process the lab made
#
# Environment (all optional):
#   TESTBED_PREFIX  names of this lab: namespaces <prefix>-client, -server, -collector and
#                   TAP interfaces <prefix>-cli, -srv, -mir (default tb; letters and digits,
#                   at most 10). Labs with different prefixes run side by side.
#   TESTBED_CONFIG  configuration to run (default config/testbed.toml); its iface=tb-* device
#                   names and control socket are rewritten for this lab.
#   TESTBED_DIR     state folder: pid, logs, stats, the config run (default out/testbed/<prefix>)
#   TESTBED_VNIS    VNIs that get VXLAN devices in the collector, vx<VNI> over IPv4 and
#                   vx6-<VNI> over IPv6 (default: every virtual_network_id in the
#                   configuration). `up` on a running lab adds the missing ones.
#   TESTBED_BIN     traffic-mirror binary (default: cargo build --release, then target/release)
set -Eeuo pipefail
cd "$(dirname "$0")/.."

prefix=${TESTBED_PREFIX:-tb}
config=${TESTBED_CONFIG:-config/testbed.toml}
state=${TESTBED_DIR:-out/testbed/$prefix}

if [[ ! $prefix =~ ^[a-z][a-z0-9]{0,9}$ ]]; then
  echo "testbed.sh: TESTBED_PREFIX=$prefix: use 1 to 10 lower-case letters and digits, starting with a letter" >&2
  exit 2
fi

ns_client=$prefix-client
ns_server=$prefix-server
ns_collector=$prefix-collector
namespaces=("$ns_client" "$ns_server" "$ns_collector")
if_client=$prefix-cli
if_server=$prefix-srv
if_mirror=$prefix-mir
# DPDK's runtime folder (/var/run/dpdk/<file prefix>) is named after the lab too, so a crash
# leaves nothing that another lab could trip over.
file_prefix=testbed-$prefix

# The addressing the namespaces get. The collector's address and MAC (or address) must be the
# collector network interface's ipv4 (or ipv6) and next_hop_mac (or next_hop) in the
# configuration (checked below): the kernel takes a copy only when both outer destinations
# are its own. The client and server MTU leaves room for the 70 bytes of VXLAN encapsulation
# over IPv6 (50 over IPv4), so that copies of full-size frames fit the mirror port (net_tap
# carries at most 1500-byte packets) and arrive whole.
client_mac=02:00:00:00:00:01 client_ip=10.0.0.1/24 client_ip6=fd10::1/64
server_mac=02:00:00:00:00:02 server_ip=10.0.0.2/24 server_ip6=fd10::2/64
collector_mac=02:00:00:00:00:20 collector_ip=192.0.2.10/24 collector_ip6=fd20::10/64
lab_mtu=1430
http_port=80

pidfile=$state/traffic-mirror.pid
log=$state/traffic-mirror.log
run_config=$state/config.toml
socket=$state/control.sock
stats=$state/stats.json

say() { echo "testbed.sh: $*"; }
die() { echo "testbed.sh: $*" >&2; exit 1; }
in_ns() { ip netns exec "$1" "${@:2}"; }
ns_exists() { ip netns list | awk '{print $1}' | grep -qxF "$1"; }
link_exists() { ip link show dev "$1" >/dev/null 2>&1; }

require_root() {
  [[ $(id -u) -eq 0 ]] || die "needs root (DPDK, TAP devices, network namespaces); run: sudo $0 $*"
}

# The traffic-mirror binary: the one given, else a fresh release build.
binary() {
  if [[ -n ${TESTBED_BIN:-} ]]; then
    [[ -x $TESTBED_BIN ]] || die "TESTBED_BIN=$TESTBED_BIN is not an executable"
    echo "$TESTBED_BIN"
    return
  fi
  cargo build --release --quiet -p control --bin traffic-mirror >&2
  echo "${CARGO_TARGET_DIR:-target}/release/traffic-mirror"
}

# The pids of this lab's traffic-mirror: whatever runs with this lab's DPDK file prefix, so a
# lost pid file loses nothing, and a reused pid is never mistaken for ours.
lab_pids() {
  local f pid
  for f in /proc/[0-9]*/cmdline; do
    pid=${f#/proc/}
    pid=${pid%/cmdline}
    tr '\0' '\n' 2>/dev/null <"$f" | grep -A1 -xF -- --file-prefix | grep -qxF -- "$file_prefix" && echo "$pid"
  done
  return 0
}

lab_pid() {
  local pids
  pids=$(lab_pids)
  [[ -n $pids ]] || return 1
  head -1 <<<"$pids"
}

# The VNIs that get a VXLAN device: TESTBED_VNIS, else the configuration's.
vnis() {
  if [[ -n ${TESTBED_VNIS:-} ]]; then
    tr ' ,' '\n\n' <<<"$TESTBED_VNIS" | grep -E '^[0-9]+$' | sort -un
  else
    grep -E '^[[:space:]]*virtual_network_id[[:space:]]*=' "$config" | grep -oE '[0-9]+' | sort -un
  fi
}

# Receive-only VXLAN devices for one VNI: no remote and no learning, so the collector never
# sends anything back. The kernel demultiplexes copies by VNI and outer IP version: vx<VNI>
# takes those over IPv4, vx6-<VNI> those over IPv6 (whose UDP checksum the kernel verifies);
# a copy without a device is dropped.
add_vxlan() {
  local vni=$1 dev
  for dev in "vx$vni" "vx6-$vni"; do
    ip -n "$ns_collector" link show dev "$dev" >/dev/null 2>&1 && continue
    if [[ $dev == vx6-* ]]; then
      ip -n "$ns_collector" link add "$dev" type vxlan id "$vni" local "${collector_ip6%/*}" dstport 4789 dev "$if_mirror" nolearning
    else
      ip -n "$ns_collector" link add "$dev" type vxlan id "$vni" dstport 4789 dev "$if_mirror" nolearning
    fi
    # Without IPv6 of its own the device sends nothing (router solicitations, MLD), so a
    # capture on it shows only what it received.
    in_ns "$ns_collector" sysctl -qw "net.ipv6.conf.$dev.disable_ipv6=1"
    ip -n "$ns_collector" link set "$dev" up
  done
  say "collector: vx$vni takes VNI $vni over IPv4, vx6-$vni over IPv6"
}

# Every part of the lab is there and traffic-mirror runs.
lab_complete() {
  lab_pid >/dev/null || return 1
  ip -n "$ns_client" link show dev "$if_client" >/dev/null 2>&1 || return 1
  ip -n "$ns_server" link show dev "$if_server" >/dev/null 2>&1 || return 1
  ip -n "$ns_collector" link show dev "$if_mirror" >/dev/null 2>&1 || return 1
}

# This lab's configuration: the template with this lab's interface names and control socket.
render_config() {
  local iface
  [[ -f $config ]] || die "no configuration $config"
  for iface in cli srv mir; do
    grep -q "iface=tb-$iface\"" "$config" || die "$config: no port with device iface=tb-$iface (the names testbed.sh moves into namespaces)"
  done
  # The collector is a network interface with one of the collector's addresses, reached by its
  # MAC, or by its address resolved with ARP or Neighbor Discovery (given, or by default),
  # which the collector's kernel answers.
  grep -qE "^[[:space:]]*(ipv4[[:space:]]*=[[:space:]]*\"${collector_ip%/*}\"|ipv6[[:space:]]*=[[:space:]]*\"${collector_ip6%/*}\")" "$config" \
    || die "$config: the target's network interface must be the collector: ipv4 = \"${collector_ip%/*}\" or ipv6 = \"${collector_ip6%/*}\""
  if grep -qE "^[[:space:]]*next_hop(_mac)?[[:space:]]*=" "$config"; then
    grep -qE "^[[:space:]]*(next_hop_mac[[:space:]]*=[[:space:]]*\"$collector_mac\"|next_hop[[:space:]]*=[[:space:]]*\"(${collector_ip%/*}|${collector_ip6%/*})\")" "$config" \
      || die "$config: the collector's next hop must be the collector: next_hop_mac = \"$collector_mac\", next_hop = \"${collector_ip%/*}\" or \"${collector_ip6%/*}\" (or neither: ARP or Neighbor Discovery for its address)"
  fi
  sed -e "s/iface=tb-\(cli\|srv\|mir\)\"/iface=$prefix-\1\"/" \
      -e "s#^\([[:space:]]*socket[[:space:]]*=[[:space:]]*\)\".*\"#\1\"$(realpath -m "$socket")\"#" \
      "$config" >"$run_config"
  grep -q '^\[control\]' "$run_config" || printf '\n[control]\nsocket = "%s"\n' "$(realpath -m "$socket")" >>"$run_config"
}

# The client or server end: the TAP's kernel side, moved into its namespace, with a fixed MAC
# (how the tests tell directions apart) and the lab's addresses. IPv6 stays on, with its
# link-local chatter, as on any real host; the ULA address skips duplicate detection so it
# works at once.
wire_host() {
  local ns=$1 dev=$2 mac=$3 ip4=$4 ip6=$5
  ip link set "$dev" netns "$ns"
  ip -n "$ns" link set "$dev" address "$mac" mtu "$lab_mtu"
  ip -n "$ns" addr add "$ip4" dev "$dev"
  ip -n "$ns" -6 addr add "$ip6" dev "$dev" nodad
}

wire_collector() {
  ip link set "$if_mirror" netns "$ns_collector"
  ip -n "$ns_collector" link set "$if_mirror" address "$collector_mac"
  ip -n "$ns_collector" addr add "$collector_ip" dev "$if_mirror"
  # The collector mostly listens: IPv6 for its one address only (no link-local address, no
  # router solicitations), which it defends and answers Neighbor Discovery for; and no
  # reverse-path check, so copies whose outer source is a source's own address (a
  # [[network_interface]] ipv4 outside this subnet, as AWS uses the ENI's) are taken too.
  in_ns "$ns_collector" sysctl -qw "net.ipv6.conf.$if_mirror.addr_gen_mode=1" \
    "net.ipv6.conf.$if_mirror.router_solicitations=0" "net.ipv6.conf.$if_mirror.accept_ra=0" \
    net.ipv4.conf.all.rp_filter=0 "net.ipv4.conf.$if_mirror.rp_filter=0"
  ip -n "$ns_collector" -6 addr add "$collector_ip6" dev "$if_mirror" nodad
  ip -n "$ns_collector" link set "$if_mirror" up
  local vni
  for vni in $(vnis); do add_vxlan "$vni"; done
}

# A web server for curl, in the server namespace: netcat answering one request at a time with
# a few kilobytes of text. `down` stops it with everything else in the namespace.
start_http() {
  local body=$state/index.txt
  for i in $(seq 1 100); do
    printf 'traffic-mirror testbed: line %03d from the server namespace (%s)\n' "$i" "${server_ip%/*}"
  done >"$body"
  {
    printf 'HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\nConnection: close\r\n\r\n' "$(stat -c %s "$body")"
    cat "$body"
  } >"$state/index.http"
  # Started as a plain command, never through a shell function: a background function is a
  # copy of this script, ERR trap included, that would tear the lab down when the server
  # is stopped.
  ip netns exec "$ns_server" setsid bash -c 'while :; do nc -N -l "$1" <"$2" >/dev/null 2>&1 || sleep 0.2; done' \
    http "$http_port" "$(realpath "$state/index.http")" </dev/null >/dev/null 2>&1 &
}

up() {
  require_root up
  if lab_complete; then
    say "lab $prefix is already up (traffic-mirror pid $(lab_pid))"
    local vni
    for vni in $(vnis); do add_vxlan "$vni"; done
    return
  fi
  # Whatever a crash or an interrupted `up` left behind goes first.
  teardown quiet
  for tool in ip nc sed realpath; do command -v "$tool" >/dev/null || die "needs $tool; run scripts/setup.sh"; done
  local bin
  bin=$(binary)
  mkdir -p "$state"
  rm -f "$stats" "$socket"
  render_config
  "$bin" validate "$run_config" >/dev/null || die "$run_config is not valid"

  trap 'echo "testbed.sh: up failed; removing what it built (log: $log)" >&2; tail -20 "$log" >&2 2>/dev/null; teardown quiet' ERR
  for ns in "${namespaces[@]}"; do
    ip netns add "$ns"
    ip -n "$ns" link set lo up
  done

  # The TAP devices exist once traffic-mirror has started DPDK.
  setsid "$bin" run --config "$(realpath "$run_config")" --stats-json "$(realpath -m "$stats")" \
    -- --file-prefix "$file_prefix" </dev/null >"$log" 2>&1 &
  echo $! >"$pidfile"
  say "traffic-mirror started (pid $!, log $log)"

  # Ready once the control API answers: the ports are started then. Before that DPDK still
  # configures the TAPs by name in this namespace, so they must not move yet.
  local deadline=$((SECONDS + 60))
  until "$bin" ctl --socket "$socket" describe-ports >/dev/null 2>&1; do
    lab_pid >/dev/null || { echo "testbed.sh: traffic-mirror exited:" >&2; cat "$log" >&2; false; }
    ((SECONDS < deadline)) || { echo "testbed.sh: traffic-mirror did not start within 60 s" >&2; false; }
    sleep 0.2
  done
  for dev in "$if_client" "$if_server" "$if_mirror"; do
    link_exists "$dev" || { echo "testbed.sh: no TAP device $dev after start" >&2; false; }
  done

  # The collector first and both ends up last, so that the first frames find every TAP up.
  wire_collector
  wire_host "$ns_client" "$if_client" "$client_mac" "$client_ip" "$client_ip6"
  wire_host "$ns_server" "$if_server" "$server_mac" "$server_ip" "$server_ip6"
  ip -n "$ns_server" link set "$if_server" up
  ip -n "$ns_client" link set "$if_client" up
  start_http
  trap - ERR

  cat <<EOF
testbed.sh: lab $prefix is up
  client    ns $ns_client     $if_client ${client_ip%/*} ${client_ip6%/*} ($client_mac)
  server    ns $ns_server     $if_server ${server_ip%/*} ${server_ip6%/*} ($server_mac), HTTP on port $http_port
  collector ns $ns_collector  $if_mirror ${collector_ip%/*} ${collector_ip6%/*} ($collector_mac), VXLAN devices: $(vnis | sed 's/.*/vx& vx6-&/' | paste -sd' ')
Try:
  ip netns exec $ns_client ping -c 3 ${server_ip%/*}
  ip netns exec $ns_client curl http://${server_ip%/*}/
  ip netns exec $ns_collector tcpdump -n -e -i vx$(vnis | head -1)
  ip netns exec $ns_collector tshark -i $if_mirror -f 'udp port 4789'
  $0 status
  $0 down
EOF
}

# Kills pid (TERM, then KILL after `wait` seconds).
stop_pid() {
  local pid=$1 wait=$2 i
  kill -TERM "$pid" 2>/dev/null || return 0
  for ((i = 0; i < wait * 10; i++)); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
}

# Removes everything this lab may have made, whatever state it is in. `quiet` says nothing
# about parts that were not there.
teardown() {
  local quiet=${1:-} pid ns dev p
  for pid in $(lab_pids); do
    # SIGTERM lets traffic-mirror print its summary and write the stats; the TAP devices go
    # with it, wherever they are.
    stop_pid "$pid" 10
    [[ $quiet ]] || say "traffic-mirror (pid $pid) stopped; its counters are in $stats"
  done
  rm -f "$pidfile" "$socket"
  for ns in "${namespaces[@]}"; do
    ns_exists "$ns" || continue
    # What runs inside the lab's namespaces was started for the lab (the web server, or a
    # capture someone left running).
    for p in $(ip netns pids "$ns" 2>/dev/null); do stop_pid "$p" 2; done
    ip netns del "$ns"
    [[ $quiet ]] || say "namespace $ns removed"
  done
  # A TAP that never left this namespace lives as long as its process, gone by now; what
  # remains under the lab's names was left by something else, and is removed all the same.
  for dev in "$if_client" "$if_server" "$if_mirror"; do
    link_exists "$dev" || continue
    ip link del "$dev"
    [[ $quiet ]] || say "link $dev removed"
  done
  rm -rf "/var/run/dpdk/$file_prefix"
}

down() {
  require_root down
  teardown
  say "lab $prefix is down"
}

status() {
  require_root status
  local up=0 parts=0 pid ns dev bin
  echo "lab $prefix (state in $state)"
  for ns in "${namespaces[@]}"; do
    if ns_exists "$ns"; then
      parts=$((parts + 1))
      echo "namespace $ns:"
      ip -n "$ns" -br addr | sed -n '/^lo /!s/^/  /p'
    else
      echo "namespace $ns: absent"
    fi
  done
  for dev in "$if_client" "$if_server" "$if_mirror"; do
    if link_exists "$dev"; then
      parts=$((parts + 1))
      echo "link $dev: in this namespace (not moved into the lab)"
    fi
  done
  if pid=$(lab_pid); then
    parts=$((parts + 1))
    echo "traffic-mirror: pid $pid, running since $(ps -o lstart= -p "$pid"), log $log"
    bin=${TESTBED_BIN:-$(tr '\0' '\n' <"/proc/$pid/cmdline" | head -1)}
    "$bin" ctl --socket "$socket" stats || echo "  (the control API did not answer)"
  else
    echo "traffic-mirror: not running"
    [[ -f $stats ]] && echo "  counters of the last run: $stats"
  fi
  if lab_complete; then
    up=1
  fi
  if ((up)); then
    echo "state: up"
  elif ((parts)); then
    echo "state: partly built (scripts/testbed.sh down removes it)"
    return 1
  else
    echo "state: down"
    return 3
  fi
}

case ${1:-} in
  up) up ;;
  down) down ;;
  status) status ;;
  *)
    echo "usage: $0 up|down|status   (environment: TESTBED_PREFIX, TESTBED_CONFIG, TESTBED_DIR, TESTBED_VNIS, TESTBED_BIN)" >&2
    exit 2
    ;;
esac
