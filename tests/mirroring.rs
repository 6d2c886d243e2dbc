//! Issue 3: mirroring with AWS's semantics, end to end on net_pcap. Every test checks that
//! (a) the forwarded outputs equal the inputs exactly, (b) the mirror capture holds exactly the
//! expected copies, in order, field by field, (c) tshark decodes every copy as VXLAN with the
//! right VNI and the original inside (cut where required), and (d) the counters agree.

use control::config::Config;
use e2e::expect::{check_capture, check_sent_subset, copies, tshark_check, Copy, Input, Totals};
use e2e::traffic::{mixed, sized, Frame, Side, HOSTS};
use e2e::{assert_same_frames, read_pcap, require_root, Lab, Run, TARGET_TMT};
use std::time::Duration;

const PORTS: &str = r#"
[dataplane]
workers = 1
eal_args = ["--no-huge", "-m", "256", "--no-pci"]

[[port]]
name = "host"
device = "net_pcap0,rx_pcap={lab}/host.pcap,tx_pcap={lab}/out/host.pcap"

[[port]]
name = "uplink"
device = "net_pcap1,rx_pcap={lab}/uplink.pcap,tx_pcap={lab}/out/uplink.pcap"

[[port]]
name = "mirror"
device = "net_pcap2,tx_pcap={lab}/out/mirror.pcap"
mac = "02:00:00:00:00:10"
ipv4 = "192.0.2.1"
ipv6 = "2001:db8:2::1"

[[link]]
ports = ["host", "uplink"]
"#;

/// A filter, `f-all`, that accepts every frame both ways.
const F_ALL: &str = r#"
[[filter]]
id = "f-all"
[[filter.egress_rule]]
rule_number = 1
action = "accept"
[[filter.ingress_rule]]
rule_number = 1
action = "accept"
"#;

/// Every frame of the host port mirrored whole, by session `s` with VNI `vni`, to
/// [`TARGET_TMT`]: a configuration for [`PORTS`].
fn everything_mirrored(vni: u32) -> String {
    format!(
        r#"
[[network_interface]]
id = "all"
port = "host"
{TARGET_TMT}{F_ALL}
[[session]]
id = "s"
source = "all"
target = "tmt"
filter = "f-all"
session_number = 1
virtual_network_id = {vni}
"#
    )
}

fn mac(i: usize) -> String {
    HOSTS[i].iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(":")
}

fn bytes(frames: &[Frame]) -> Vec<Vec<u8>> {
    frames.iter().map(|f| f.bytes.clone()).collect()
}

/// Runs `config` over `host` and `uplink` frames and checks (a) to (d). Returns the run and
/// the copies in capture order.
fn run_link(name: &str, config: &str, host: &[Frame], uplink: &[Frame]) -> (Run, Vec<Copy>) {
    run_ports(name, PORTS, config, host, uplink)
}

/// [`run_link`] with other `[[port]]`s than [`PORTS`].
fn run_ports(name: &str, ports: &str, config: &str, host: &[Frame], uplink: &[Frame]) -> (Run, Vec<Copy>) {
    require_root();
    let lab = Lab::new(name);
    lab.write_pcap("host.pcap", host.iter().map(|f| f.bytes.as_slice()));
    lab.write_pcap("uplink.pcap", uplink.iter().map(|f| f.bytes.as_slice()));
    let text = format!("{ports}{config}");
    let path = lab.config(&text);
    let cfg = Config::load(&path).expect("the test config is valid");
    let run = lab.run(&path, Duration::from_secs(60));
    run.assert_ok();

    // (a) originals untouched
    assert_same_frames("uplink output", &read_pcap(&lab.path("out/uplink.pcap")), &bytes(host));
    assert_same_frames("host output", &read_pcap(&lab.path("out/host.pcap")), &bytes(uplink));

    // (b) exactly the expected copies
    let inputs = [Input { port: "host", frames: host }, Input { port: "uplink", frames: uplink }];
    let (want, totals) = copies(&cfg, &inputs);
    let mirror = read_pcap(&lab.path("out/mirror.pcap"));
    let order = check_capture(&mirror, &want);

    // (c) as Wireshark sees them
    tshark_check(&lab.path("out/mirror.pcap"), &order);

    // (d) counters
    check_counters(&run, &cfg, &totals, order.len());
    (run, order)
}

fn check_counters(run: &Run, cfg: &Config, totals: &Totals, copies: usize) {
    let stats = run.stats();
    for s in &cfg.sessions {
        let rep = stats["sessions"].as_array().unwrap().iter().find(|r| r["id"] == s.id.as_str()).expect("session in the report");
        for dir in dataplane::types::Direction::ALL {
            let (packets, bytes, truncated) = totals.get(&(s.id.clone(), dir)).copied().unwrap_or_default();
            let d = &rep[dir.name()];
            assert_eq!(d["packets"], packets, "session {} {}: {d}", s.id, dir.name());
            assert_eq!(d["bytes"], bytes, "session {} {}: {d}", s.id, dir.name());
            assert_eq!(d["truncated"], truncated, "session {} {}: {d}", s.id, dir.name());
            assert_eq!(d["skip_packets"], 0, "session {} {}: {d}", s.id, dir.name());
        }
        assert_eq!(rep["virtual_network_id"], s.virtual_network_id.unwrap());
    }
    let mirror = stats["ports"].as_array().unwrap().iter().find(|p| p["name"] == "mirror").unwrap();
    assert_eq!(mirror["tx_packets"], copies as u64, "mirror port tx counter");
    for pool in stats["mempools"].as_array().unwrap() {
        assert_eq!(pool["in_use"], 0, "{pool}");
    }
}

/// Copies per (session, direction) in a run.
fn count(order: &[Copy], session: &str, dir: dataplane::types::Direction) -> usize {
    order.iter().filter(|c| c.session == session && c.dir == dir).count()
}

#[test]
fn several_sessions_ordering_truncation_mtu_ipv6_vlan_and_disabled() {
    use dataplane::types::Direction::{Egress, Ingress};
    let config = format!(
        r#"
# Host 0: three sessions. The first rejects SSH and takes the rest of TCP to 198.51.100.0/24,
# cut to 100 bytes; the second takes UDP, whole but cut by a 600-byte MTU and VLAN-tagged; the
# third takes all IPv6 and ICMP.
[[network_interface]]
id = "eni-a"
port = "host"
mac = "{a}"
ipv4 = "10.0.0.5"

# Host 1: IPv6 rules, and a disabled session. Uses the mirror port's address.
[[network_interface]]
id = "eni-b"
port = "host"
mac = "{b}"

[[network_interface]]
id = "eni-big"
port = "mirror"
ipv4 = "192.0.2.10"
next_hop_mac = "02:00:00:00:00:20"

[[target]]
id = "tmt-big"
network_interface_id = "eni-big"

[[network_interface]]
id = "eni-small"
port = "mirror"
ipv4 = "192.0.2.11"
next_hop_mac = "02:00:00:00:00:21"

[[target]]
id = "tmt-small"
network_interface_id = "eni-small"
mtu = 600
vlan = 42

[[filter]]
id = "f-tcp"
[[filter.egress_rule]]
rule_number = 20
action = "accept"
protocol = 6
destination_cidr = "198.51.100.0/24"
[[filter.egress_rule]]
rule_number = 10
action = "reject"
protocol = 6
destination_port = {{ from = 22, to = 22 }}
[[filter.ingress_rule]]
rule_number = 10
action = "accept"
protocol = 6
source_cidr = "198.51.100.0/24"

[[filter]]
id = "f-udp"
[[filter.egress_rule]]
rule_number = 1
action = "accept"
protocol = 17
[[filter.ingress_rule]]
rule_number = 1
action = "reject"
protocol = 17
source_port = {{ from = 5000, to = 5000 }}
[[filter.ingress_rule]]
rule_number = 2
action = "accept"
protocol = 17

[[filter]]
id = "f-v6-icmp"
[[filter.egress_rule]]
rule_number = 1
action = "accept"
destination_cidr = "::/0"
[[filter.egress_rule]]
rule_number = 2
action = "accept"
protocol = 1
[[filter.ingress_rule]]
rule_number = 1
action = "accept"
source_cidr = "2001:db8:ff00::/40"
[[filter.ingress_rule]]
rule_number = 2
action = "accept"
protocol = 1

[[filter]]
id = "f-v6-rules"
[[filter.egress_rule]]
rule_number = 100
action = "reject"
protocol = 6
source_cidr = "2001:db8::/64"
destination_port = {{ from = 443, to = 443 }}
[[filter.egress_rule]]
rule_number = 200
action = "accept"
destination_cidr = "2001:db8:ff00::/40"
[[filter.ingress_rule]]
rule_number = 100
action = "accept"
source_cidr = "2001:db8:ff00::2/128"

{F_ALL}
[[session]]
id = "a-tcp"
source = "eni-a"
target = "tmt-big"
filter = "f-tcp"
session_number = 1
virtual_network_id = 101
packet_length = 100

[[session]]
id = "a-udp"
source = "eni-a"
target = "tmt-small"
filter = "f-udp"
session_number = 2
virtual_network_id = 102

[[session]]
id = "a-v6"
source = "eni-a"
target = "tmt-big"
filter = "f-v6-icmp"
session_number = 3

[[session]]
id = "b-off"
source = "eni-b"
target = "tmt-big"
filter = "f-all"
session_number = 1
virtual_network_id = 201
enabled = false

[[session]]
id = "b-v6"
source = "eni-b"
target = "tmt-big"
filter = "f-v6-rules"
session_number = 7
virtual_network_id = 202
"#,
        a = mac(0),
        b = mac(1)
    );
    let host = mixed(31, 6000, Side::Host);
    let uplink = mixed(32, 6000, Side::Uplink);
    let (run, order) = run_link("sessions", &config, &host, &uplink);

    // The configuration exercised what it claims to.
    for (s, d) in [("a-tcp", Egress), ("a-tcp", Ingress), ("a-udp", Egress), ("a-udp", Ingress), ("a-v6", Egress), ("a-v6", Ingress), ("b-v6", Egress), ("b-v6", Ingress)] {
        assert!(count(&order, s, d) > 10, "{s} {d:?}: only {} copies", count(&order, s, d));
    }
    assert_eq!(count(&order, "b-off", Egress) + count(&order, "b-off", Ingress), 0, "disabled session mirrors nothing");
    assert!(order.iter().any(|c| c.session == "a-tcp" && c.inner.len() == 100 && c.original_len > 100), "packet_length cuts");
    assert!(order.iter().any(|c| c.session == "a-udp" && c.inner.len() == 564 && c.original_len > 564), "the 600-byte MTU cuts");
    assert!(order.iter().any(|c| c.inner[12..14] == [0x81, 0x00]), "VLAN-tagged originals are mirrored");
    assert!(!order.iter().any(|c| c.inner[0..6] == HOSTS[2] || c.inner[6..12] == HOSTS[2]), "host 2 has no source");
    // SSH is rejected by a-tcp's first rule and no later session takes TCP over IPv4.
    assert!(!order.iter().any(|c| c.dir == Egress && c.session == "a-tcp" && c.inner.len() > 37 && c.inner[36..38] == [0, 22]));
    let auto_vni = run.stats()["sessions"].as_array().unwrap().iter().find(|s| s["id"] == "a-v6").unwrap()["virtual_network_id"].as_u64().unwrap();
    assert!(order.iter().filter(|c| c.session == "a-v6").all(|c| u64::from(c.vni) == auto_vni), "assigned VNI is reported and used");
}

/// Collectors with IPv6 addresses and gateway load balancer endpoints: each source's copies
/// get the outer header of its target (checked field by field against the mirror capture,
/// UDP checksums recomputed, and by tshark): host 0 to an IPv6 network interface, from the
/// source's own IPv6 address; host 1 to an endpoint over IPv4 with the target's own TTL and
/// DF; host 2 to an endpoint over IPv6 from the mirror port's address, VLAN-tagged and cut.
#[test]
fn ipv6_collectors_and_endpoints_get_their_own_outer_headers() {
    use dataplane::types::Direction::{Egress, Ingress};
    let config = format!(
        r#"
[[network_interface]]
id = "eni-a"
port = "host"
mac = "{a}"
ipv4 = "10.0.0.5"
ipv6 = "2001:db8:1::5"

[[network_interface]]
id = "eni-b"
port = "host"
mac = "{b}"

[[network_interface]]
id = "eni-c"
port = "host"
mac = "{c}"

[[network_interface]]
id = "eni-ids6"
port = "mirror"
ipv6 = "2001:db8:2::10"
next_hop_mac = "02:00:00:00:00:20"

[[gateway_load_balancer_endpoint]]
id = "vpce-4"
port = "mirror"
ipv4 = "192.0.2.30"
next_hop_mac = "02:00:00:00:00:30"

[[gateway_load_balancer_endpoint]]
id = "vpce-6"
port = "mirror"
ipv6 = "2001:db8:2::30"
next_hop_mac = "02:00:00:00:00:31"

[[target]]
id = "tmt-ids6"
network_interface_id = "eni-ids6"
mtu = 1500

[[target]]
id = "tmt-gwlb4"
gateway_load_balancer_endpoint_id = "vpce-4"
ttl = 64
dont_fragment = true

[[target]]
id = "tmt-gwlb6"
gateway_load_balancer_endpoint_id = "vpce-6"
vlan = 42

{F_ALL}
[[session]]
id = "a-ids6"
source = "eni-a"
target = "tmt-ids6"
filter = "f-all"
session_number = 1
virtual_network_id = 601

[[session]]
id = "b-gwlb4"
source = "eni-b"
target = "tmt-gwlb4"
filter = "f-all"
session_number = 1
virtual_network_id = 602

[[session]]
id = "c-gwlb6"
source = "eni-c"
target = "tmt-gwlb6"
filter = "f-all"
session_number = 1
virtual_network_id = 603
packet_length = 200
"#,
        a = mac(0),
        b = mac(1),
        c = mac(2)
    );
    let host = mixed(51, 5000, Side::Host);
    let uplink = mixed(52, 5000, Side::Uplink);
    let (_, order) = run_link("ipv6-gwlb", &config, &host, &uplink);
    for s in ["a-ids6", "b-gwlb4", "c-gwlb6"] {
        for d in [Egress, Ingress] {
            assert!(count(&order, s, d) > 10, "{s} {d:?}: only {} copies", count(&order, s, d));
        }
    }
    let a: Vec<&Copy> = order.iter().filter(|c| c.session == "a-ids6").collect();
    assert!(a.iter().all(|c| c.src_ip == "2001:db8:1::5".parse::<std::net::IpAddr>().unwrap()), "the source's own IPv6 address");
    assert!(a.iter().any(|c| c.inner.len() == 1444 && c.original_len > 1444), "the 1500-byte MTU holds 56 bytes of outer IPv6, UDP and VXLAN");
    assert!(a.iter().any(|c| c.original_len == 9000), "jumbo originals (several mbufs) are summed across their segments");
    let b: Vec<&Copy> = order.iter().filter(|c| c.session == "b-gwlb4").collect();
    assert!(b.iter().all(|c| c.src_ip == "192.0.2.1".parse::<std::net::IpAddr>().unwrap() && (c.ttl, c.dont_fragment) == (64, true)));
    let c: Vec<&Copy> = order.iter().filter(|c| c.session == "c-gwlb6").collect();
    assert!(c.iter().all(|c| c.src_ip == "2001:db8:2::1".parse::<std::net::IpAddr>().unwrap() && c.vlan == Some(42) && c.inner.len() <= 200));
}

#[test]
fn load_balancer_target_keeps_flows_on_one_collector() {
    let config = &format!(
        r#"
[[network_interface]]
id = "eni-all"
port = "host"
ipv4 = "10.0.0.1"

[[load_balancer]]
arn = "arn:aws:elasticloadbalancing:local:000000000000:loadbalancer/net/nlb/1"
port = "mirror"
addresses = ["192.0.2.20", "192.0.2.21", "192.0.2.22"]
next_hop_mac = "02:00:00:00:00:22"

[[target]]
id = "tmt-nlb"
network_load_balancer_arn = "arn:aws:elasticloadbalancing:local:000000000000:loadbalancer/net/nlb/1"
udp_port = 4790

{F_ALL}
[[session]]
id = "all"
source = "eni-all"
target = "tmt-nlb"
filter = "f-all"
session_number = 1
virtual_network_id = 77
"#
    );
    let host = mixed(41, 5000, Side::Host);
    let uplink = mixed(42, 5000, Side::Uplink);
    let (_, order) = run_link("nlb", config, &host, &uplink);
    // A port-wide source on a linked port sees both directions of every flow.
    assert!(order.iter().any(|c| c.dir == dataplane::types::Direction::Ingress));
    // AWS's 8500-byte default for load balancers cuts the jumbo frames.
    assert!(order.iter().any(|c| c.original_len == 9000 && c.inner.len() == 8500));
    // check_capture already asserted one collector per flow; all three are used.
    let mirror: std::collections::HashSet<_> = order.iter().map(|c| c.flow.clone()).collect();
    assert!(mirror.len() > 50, "many flows");
}

#[test]
fn never_mirrored_traffic_and_amazon_dns() {
    let config = &format!(r#"
[vpc]
resolvers = ["10.0.0.2"]

[[network_interface]]
id = "eni-all"
port = "host"
ipv4 = "10.0.0.1"

{TARGET_TMT}
[[filter]]
id = "f-plain"
[[filter.egress_rule]]
rule_number = 1
action = "accept"
protocol = 17
[[filter.ingress_rule]]
rule_number = 1
action = "accept"
protocol = 17

[[filter]]
id = "f-dns"
network_services = ["amazon-dns"]
[[filter.egress_rule]]
rule_number = 1
action = "accept"
[[filter.ingress_rule]]
rule_number = 1
action = "accept"

[[session]]
id = "plain"
source = "eni-all"
target = "tmt"
filter = "f-plain"
session_number = 1
virtual_network_id = 1

[[session]]
id = "with-dns"
source = "eni-all"
target = "tmt"
filter = "f-dns"
session_number = 2
virtual_network_id = 2
"#);
    let host = mixed(51, 6000, Side::Host);
    let uplink = mixed(52, 6000, Side::Uplink);
    let (run, order) = run_link("dns", config, &host, &uplink);
    let dst53 = |c: &Copy| c.inner.len() > 40 && c.inner[12..14] == [8, 0] && c.inner[30..34] == [169, 254, 169, 253];
    let dns_copies: Vec<_> = order.iter().filter(|c| dst53(c)).collect();
    assert!(!dns_copies.is_empty(), "DNS to the resolver is mirrored by the amazon-dns session");
    assert!(dns_copies.iter().all(|c| c.session == "with-dns"), "never by the one without amazon-dns");
    let is_meta = |c: &Copy| c.inner[12..14] == [8, 0] && (c.inner[26..30] == [169, 254, 169, 254] || c.inner[30..34] == [169, 254, 169, 254]);
    assert!(!order.iter().any(is_meta), "metadata traffic is never mirrored");
    let excluded = run.stats()["not_mirrored"]["excluded"].as_u64().unwrap();
    let expected_excluded = host.iter().chain(&uplink).filter(|f| {
        f.packet.is_some_and(|p| {
            (p.protocol == 17 && p.has_ports && [67, 68].iter().any(|x| *x == p.sport || *x == p.dport)) || p.dst[0] == 0xa9fe_a9fe || p.src[0] == 0xa9fe_a9fe
        })
    });
    assert_eq!(excluded, expected_excluded.count() as u64, "DHCP and metadata frames are counted as excluded");
    let not_ip = run.stats()["not_mirrored"]["not_ip"].as_u64().unwrap();
    assert_eq!(not_ip, host.iter().chain(&uplink).filter(|f| f.bytes[12..14] == [0x08, 0x06] || f.bytes[12..14] == [0x88, 0xcc]).count() as u64);
}

#[test]
fn damaged_frames_are_mirrored_on_what_is_intact_and_only_broken_ip_headers_are_malformed() {
    // The sample's 10,000 frames a side behind an accept-all filter, as an IDS is fed: a frame
    // whose IP length lies or whose TCP header is cut is mirrored as it was (run_link checks
    // every copy byte for byte); only a broken IP header keeps a frame from it.
    let config = &everything_mirrored(1);
    let host = mixed(1, 10_000, Side::Host);
    let uplink = mixed(2, 10_000, Side::Uplink);
    let (run, order) = run_link("damaged", config, &host, &uplink);
    let inputs = [&host, &uplink];
    let ip = |f: &Frame| {
        let l2 = dataplane::wire::ethernet::untag(&f.bytes, 2);
        l2.is_ok_and(|l2| l2.ethertype == 0x0800 || l2.ethertype == 0x86dd)
    };
    let damaged = |f: &Frame| {
        let l3 = usize::from(f.packet.map_or(14, |p| p.l3_offset));
        f.packet.is_some_and(|p| !p.ipv6) && f.bytes.len() != l3 + usize::from(u16::from_be_bytes([f.bytes[l3 + 2], f.bytes[l3 + 3]]))
    };
    let all = || host.iter().chain(&uplink);
    let sent_damaged = all().filter(|f| damaged(f)).count();
    let mirrored_damaged = order.iter().filter(|c| damaged(&inputs[c.input][c.frame])).count();
    assert!(sent_damaged > 500, "the sample holds damaged frames: {sent_damaged}");
    assert_eq!(mirrored_damaged, sent_damaged, "every damaged frame with an intact IP header is mirrored");
    assert!(order.iter().any(|c| c.inner.len() < 60), "frames cut short are mirrored as cut");
    let broken = all().filter(|f| ip(f) && f.packet.is_none()).count() as u64;
    assert!(broken > 0);
    assert_eq!(run.stats()["not_mirrored"]["malformed"], broken, "malformed counts the broken IP headers, and only them");
}

#[test]
fn tap_port_mirrors_by_mac_and_forwards_nothing() {
    require_root();
    let lab = Lab::new("tap");
    // A SPAN feed: both directions of hosts 0 and 1 on one port.
    let mut span: Vec<Frame> = Vec::new();
    for (a, b) in mixed(61, 3000, Side::Host).into_iter().zip(mixed(62, 3000, Side::Uplink)) {
        span.push(a);
        span.push(b);
    }
    lab.write_pcap("span.pcap", span.iter().map(|f| f.bytes.as_slice()));
    let text = format!(
        r#"
[dataplane]
workers = 1
eal_args = ["--no-huge", "-m", "256", "--no-pci"]

[[port]]
name = "span"
device = "net_pcap0,rx_pcap={{lab}}/span.pcap,tx_pcap={{lab}}/out/span.pcap"

[[port]]
name = "mirror"
device = "net_pcap1,tx_pcap={{lab}}/out/mirror.pcap"
mac = "02:00:00:00:00:10"
ipv4 = "192.0.2.1"

[[network_interface]]
id = "web"
port = "span"
mac = "{a}"

[[network_interface]]
id = "db"
port = "span"
mac = "{b}"

{TARGET_TMT}
[[filter]]
id = "f-tcp"
[[filter.egress_rule]]
rule_number = 1
action = "accept"
protocol = 6
[[filter.ingress_rule]]
rule_number = 1
action = "accept"
protocol = 6

[[session]]
id = "web"
source = "web"
target = "tmt"
filter = "f-tcp"
session_number = 1
virtual_network_id = 10

[[session]]
id = "db"
source = "db"
target = "tmt"
filter = "f-tcp"
session_number = 1
virtual_network_id = 20
"#,
        a = mac(0),
        b = mac(1)
    );
    let path = lab.config(&text);
    let cfg = Config::load(&path).unwrap();
    let run = lab.run(&path, Duration::from_secs(60));
    run.assert_ok();
    assert!(read_pcap(&lab.path("out/span.pcap")).is_empty(), "a tap port forwards nothing");
    let (want, totals) = copies(&cfg, &[Input { port: "span", frames: &span }]);
    let order = check_capture(&read_pcap(&lab.path("out/mirror.pcap")), &want);
    tshark_check(&lab.path("out/mirror.pcap"), &order);
    check_counters(&run, &cfg, &totals, order.len());
    for s in ["web", "db"] {
        for d in dataplane::types::Direction::ALL {
            assert!(count(&order, s, d) > 10, "{s} {d:?}");
        }
    }
}

#[test]
fn two_workers_mirror_their_own_queues() {
    require_root();
    let lab = Lab::new("mirror2w");
    let inputs: Vec<Vec<Frame>> = (0..4).map(|i| mixed(70 + i, 2500, if i < 2 { Side::Host } else { Side::Uplink })).collect();
    for (i, f) in inputs.iter().enumerate() {
        lab.write_pcap(&format!("in{i}.pcap"), f.iter().map(|f| f.bytes.as_slice()));
    }
    let path = lab.config(
        &format!(r#"
[dataplane]
workers = 2
eal_args = ["--no-huge", "-m", "256", "--no-pci"]

[[port]]
name = "host"
device = "net_pcap0,rx_pcap={{lab}}/in0.pcap,rx_pcap={{lab}}/in1.pcap,tx_pcap={{lab}}/out/h0.pcap,tx_pcap={{lab}}/out/h1.pcap"

[[port]]
name = "uplink"
device = "net_pcap1,rx_pcap={{lab}}/in2.pcap,rx_pcap={{lab}}/in3.pcap,tx_pcap={{lab}}/out/u0.pcap,tx_pcap={{lab}}/out/u1.pcap"

[[port]]
name = "mirror"
device = "net_pcap2,tx_pcap={{lab}}/out/m0.pcap,tx_pcap={{lab}}/out/m1.pcap"
ipv4 = "192.0.2.1"

[[link]]
ports = ["host", "uplink"]

[[network_interface]]
id = "all"
port = "host"

{TARGET_TMT}
[[filter]]
id = "f"
[[filter.egress_rule]]
rule_number = 1
action = "accept"
protocol = 6
[[filter.ingress_rule]]
rule_number = 1
action = "accept"
protocol = 17

[[session]]
id = "s"
source = "all"
target = "tmt"
filter = "f"
session_number = 1
virtual_network_id = 5
packet_length = 200
"#),
    );
    let cfg = Config::load(&path).unwrap();
    let run = lab.run(&path, Duration::from_secs(60));
    run.assert_ok();
    let mut all = 0;
    for q in 0..2 {
        // Worker q reads queue q of both ports and sends its copies on mirror queue q.
        let ins = [Input { port: "host", frames: &inputs[q] }, Input { port: "uplink", frames: &inputs[2 + q] }];
        let (want, _) = copies(&cfg, &ins);
        let order = check_capture(&read_pcap(&lab.path(&format!("out/m{q}.pcap"))), &want);
        tshark_check(&lab.path(&format!("out/m{q}.pcap")), &order);
        assert!(order.len() > 500, "worker {q}: {} copies", order.len());
        all += order.len();
    }
    let ins: Vec<Input> = vec![
        Input { port: "host", frames: &inputs[0] },
        Input { port: "host", frames: &inputs[1] },
        Input { port: "uplink", frames: &inputs[2] },
        Input { port: "uplink", frames: &inputs[3] },
    ];
    let (_, totals) = copies(&cfg, &ins);
    check_counters(&run, &cfg, &totals, all);
}

#[test]
fn copies_without_mbufs_are_skipped_and_counted_while_originals_flow() {
    // 24 copy mbufs for bursts of 32 frames that are all mirrored: every burst runs short.
    let config = &everything_mirrored(9);
    require_root();
    let lab = Lab::new("nombuf");
    let host = mixed(81, 4000, Side::Host);
    let uplink = mixed(82, 4000, Side::Uplink);
    lab.write_pcap("host.pcap", host.iter().map(|f| f.bytes.as_slice()));
    lab.write_pcap("uplink.pcap", uplink.iter().map(|f| f.bytes.as_slice()));
    let text = format!("{PORTS}{config}").replace("workers = 1", "workers = 1\ncopy_mbufs = 24");
    let path = lab.config(&text);
    let cfg = Config::load(&path).unwrap();
    let run = lab.run(&path, Duration::from_secs(60));
    run.assert_ok();
    assert_same_frames("uplink output", &read_pcap(&lab.path("out/uplink.pcap")), &bytes(&host));
    assert_same_frames("host output", &read_pcap(&lab.path("out/host.pcap")), &bytes(&uplink));
    let (want, totals) = copies(&cfg, &[Input { port: "host", frames: &host }, Input { port: "uplink", frames: &uplink }]);
    let sent = check_sent_subset(&read_pcap(&lab.path("out/mirror.pcap")), &want);
    let s = &run.stats()["sessions"][0];
    let mut expected_total = 0;
    let mut skipped_total = 0;
    for dir in dataplane::types::Direction::ALL {
        let d = &s[dir.name()];
        let (packets, _, _) = totals[&("s".to_string(), dir)];
        let (mirrored, skipped) = (d["packets"].as_u64().unwrap(), d["skip_packets"].as_u64().unwrap());
        assert_eq!(mirrored + skipped, packets, "{}: every accepted copy is sent or skipped: {d}", dir.name());
        assert_eq!(skipped, d["skip_no_mbuf"].as_u64().unwrap(), "the reason is the mempool");
        assert_eq!(mirrored as usize, sent.iter().filter(|c| c.dir == dir).count());
        expected_total += packets;
        skipped_total += skipped;
    }
    assert!(skipped_total > expected_total / 10, "the small pool must run short: {skipped_total} of {expected_total} skipped");
    assert!(sent.len() as u64 > expected_total / 3, "but copies still flow: {} sent", sent.len());
    for pool in run.stats()["mempools"].as_array().unwrap() {
        assert_eq!(pool["in_use"], 0, "{pool}");
    }
}

#[test]
fn long_copies_are_sent_by_reference_and_carry_the_original_bytes() {
    // Whole-frame copies of 64-, 594- and 1518-byte frames out of a net_pcap port told to send
    // them by reference (it gathers chained mbufs in software): the long ones go as headers
    // with the original's buffer attached behind (issue 23), yet the capture, tshark, the
    // counters and the mempools (every reference returned) see exactly what copying gives.
    let config = &everything_mirrored(5);
    let host = sized(91, 3000, &[64, 594, 1518], Side::Host);
    let uplink = sized(92, 3000, &[1518, 600, 64], Side::Uplink);
    let ports = PORTS.replace("ipv4 = \"192.0.2.1\"\n", "ipv4 = \"192.0.2.1\"\ncopy_by_reference = true\n");
    let (run, order) = run_ports("by-reference", &ports, config, &host, &uplink);
    assert!(run.stderr.lines().any(|l| l.contains("port \"mirror\"") && l.contains("long copies sent by reference")), "the mirror port does not send by reference:\n{}", run.stderr);
    let long = order.iter().filter(|c| c.inner.len() >= 512).count();
    assert!(long > 1000, "only {long} long copies");
    assert_eq!(order.len(), host.len() + uplink.len(), "every frame mirrored once");
}
