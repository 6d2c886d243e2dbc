//! Issue 3: mirroring with AWS's semantics, end to end on net_pcap. Every test checks that
//! (a) the forwarded outputs equal the inputs exactly, (b) the mirror capture holds exactly the
//! expected copies, in order, field by field, (c) tshark decodes every copy as VXLAN with the
//! right VNI and the original inside (cut where required), and (d) the counters agree.

use control::config::Config;
use e2e::expect::{check_capture, check_sent_subset, copies, tshark_check, Copy, Input, Totals};
use e2e::traffic::{mixed, sized, Frame, Side, HOSTS};
use e2e::config::{Eni, Filter, Port, Rule, Session, Setup, Target};
use e2e::{assert_same_frames, read_pcap, require_root, Lab, Run};
use std::time::Duration;

/// host and uplink: captures read once and written, linked; mirror: a capture, with IPv4 and
/// IPv6 addresses for copies whose source has none.
fn ports() -> Setup {
    Setup::lab()
        .port(Port::pcap("host").rx("{lab}/host.pcap").tx("{lab}/out/host.pcap"))
        .port(Port::pcap("uplink").rx("{lab}/uplink.pcap").tx("{lab}/out/uplink.pcap"))
        .port(Port::pcap("mirror").tx("{lab}/out/mirror.pcap").mac("02:00:00:00:00:10").ipv4("192.0.2.1").ipv6("2001:db8:2::1"))
        .link("host", "uplink")
}

/// A filter, `f-all`, that accepts every frame both ways.
fn f_all() -> Filter {
    Filter::accept_all("f-all")
}

/// Every frame of the host port mirrored whole, by session `s` with VNI `vni`, to
/// [`Setup::tmt`], on [`ports`].
fn everything_mirrored(vni: u32) -> Setup {
    ports().eni(Eni::new("all", "host")).tmt().filter(f_all()).session(Session::new("s", 1).source("all").target("tmt").filter("f-all").vni(vni))
}

fn mac(i: usize) -> String {
    HOSTS[i].iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(":")
}

fn bytes(frames: &[Frame]) -> Vec<Vec<u8>> {
    frames.iter().map(|f| f.bytes.clone()).collect()
}

/// Runs `setup` over `host` and `uplink` frames and checks (a) to (d). Returns the run and
/// the copies in capture order.
fn run_link(name: &str, setup: &Setup, host: &[Frame], uplink: &[Frame]) -> (Run, Vec<Copy>) {
    require_root();
    let lab = Lab::new(name);
    lab.write_pcap("host.pcap", host.iter().map(|f| f.bytes.as_slice()));
    lab.write_pcap("uplink.pcap", uplink.iter().map(|f| f.bytes.as_slice()));
    let path = lab.config(&setup.toml());
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
    // Host 0: three sessions. The first rejects SSH and takes the rest of TCP to 198.51.100.0/24,
    // cut to 100 bytes; the second takes UDP, whole but cut by a 600-byte MTU and VLAN-tagged; the
    // third takes all IPv6 and ICMP. Host 1: IPv6 rules, and a disabled session; it uses the
    // mirror port's address.
    let config = ports()
        .eni(Eni::new("eni-a", "host").mac(&mac(0)).ipv4("10.0.0.5"))
        .eni(Eni::new("eni-b", "host").mac(&mac(1)))
        .eni(Eni::collector("eni-big", "mirror", "192.0.2.10").next_hop_mac("02:00:00:00:00:20"))
        .target(Target::eni("tmt-big", "eni-big"))
        .eni(Eni::collector("eni-small", "mirror", "192.0.2.11").next_hop_mac("02:00:00:00:00:21"))
        .target(Target::eni("tmt-small", "eni-small").mtu(600).vlan(42))
        .filter(
            Filter::new("f-tcp")
                .egress(Rule::accept(20).protocol(6).destination("198.51.100.0/24"))
                .egress(Rule::reject(10).protocol(6).destination_port(22, 22))
                .ingress(Rule::accept(10).protocol(6).source("198.51.100.0/24")),
        )
        .filter(
            Filter::new("f-udp")
                .egress(Rule::accept(1).protocol(17))
                .ingress(Rule::reject(1).protocol(17).source_port(5000, 5000))
                .ingress(Rule::accept(2).protocol(17)),
        )
        .filter(
            Filter::new("f-v6-icmp")
                .egress(Rule::accept(1).destination("::/0"))
                .egress(Rule::accept(2).protocol(1))
                .ingress(Rule::accept(1).source("2001:db8:ff00::/40"))
                .ingress(Rule::accept(2).protocol(1)),
        )
        .filter(
            Filter::new("f-v6-rules")
                .egress(Rule::reject(100).protocol(6).source("2001:db8::/64").destination_port(443, 443))
                .egress(Rule::accept(200).destination("2001:db8:ff00::/40"))
                .ingress(Rule::accept(100).source("2001:db8:ff00::2/128")),
        )
        .filter(f_all())
        .session(Session::new("a-tcp", 1).source("eni-a").target("tmt-big").filter("f-tcp").vni(101).packet_length(100))
        .session(Session::new("a-udp", 2).source("eni-a").target("tmt-small").filter("f-udp").vni(102))
        .session(Session::new("a-v6", 3).source("eni-a").target("tmt-big").filter("f-v6-icmp"))
        .session(Session::new("b-off", 1).source("eni-b").target("tmt-big").filter("f-all").vni(201).disabled())
        .session(Session::new("b-v6", 7).source("eni-b").target("tmt-big").filter("f-v6-rules").vni(202));
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
    let config = ports()
        .eni(Eni::new("eni-a", "host").mac(&mac(0)).ipv4("10.0.0.5").ipv6("2001:db8:1::5"))
        .eni(Eni::new("eni-b", "host").mac(&mac(1)))
        .eni(Eni::new("eni-c", "host").mac(&mac(2)))
        .eni(Eni::new("eni-ids6", "mirror").ipv6("2001:db8:2::10").next_hop_mac("02:00:00:00:00:20"))
        .endpoint("vpce-4", "mirror", "192.0.2.30", "02:00:00:00:00:30")
        .endpoint("vpce-6", "mirror", "2001:db8:2::30", "02:00:00:00:00:31")
        .target(Target::eni("tmt-ids6", "eni-ids6").mtu(1500))
        .target(Target::endpoint("tmt-gwlb4", "vpce-4").ttl(64).dont_fragment())
        .target(Target::endpoint("tmt-gwlb6", "vpce-6").vlan(42))
        .filter(f_all())
        .session(Session::new("a-ids6", 1).source("eni-a").target("tmt-ids6").filter("f-all").vni(601))
        .session(Session::new("b-gwlb4", 1).source("eni-b").target("tmt-gwlb4").filter("f-all").vni(602))
        .session(Session::new("c-gwlb6", 1).source("eni-c").target("tmt-gwlb6").filter("f-all").vni(603).packet_length(200));
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
    let nlb = "arn:aws:elasticloadbalancing:local:000000000000:loadbalancer/net/nlb/1";
    let config = &ports()
        .eni(Eni::new("eni-all", "host").ipv4("10.0.0.1"))
        .load_balancer(nlb, "mirror", &["192.0.2.20", "192.0.2.21", "192.0.2.22"], "02:00:00:00:00:22")
        .target(Target::nlb("tmt-nlb", nlb).udp_port(4790))
        .filter(f_all())
        .session(Session::new("all", 1).source("eni-all").target("tmt-nlb").filter("f-all").vni(77));
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
    let config = &ports()
        .with(|c| c.vpc.resolvers = vec!["10.0.0.2".parse().unwrap()])
        .eni(Eni::new("eni-all", "host").ipv4("10.0.0.1"))
        .tmt()
        .filter(Filter::new("f-plain").egress(Rule::accept(1).protocol(17)).ingress(Rule::accept(1).protocol(17)))
        .filter(Filter::accept_all("f-dns").amazon_dns())
        .session(Session::new("plain", 1).source("eni-all").target("tmt").filter("f-plain").vni(1))
        .session(Session::new("with-dns", 2).source("eni-all").target("tmt").filter("f-dns").vni(2));
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
    let setup = Setup::lab()
        .port(Port::pcap("span").rx("{lab}/span.pcap").tx("{lab}/out/span.pcap"))
        .port(Port::pcap("mirror").tx("{lab}/out/mirror.pcap").mac("02:00:00:00:00:10").ipv4("192.0.2.1"))
        .eni(Eni::new("web", "span").mac(&mac(0)))
        .eni(Eni::new("db", "span").mac(&mac(1)))
        .tmt()
        .filter(Filter::new("f-tcp").egress(Rule::accept(1).protocol(6)).ingress(Rule::accept(1).protocol(6)))
        .session(Session::new("web", 1).source("web").target("tmt").filter("f-tcp").vni(10))
        .session(Session::new("db", 1).source("db").target("tmt").filter("f-tcp").vni(20));
    let path = lab.config(&setup.toml());
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
    let setup = Setup::lab()
        .with(|c| c.dataplane.workers = 2)
        .port(Port::pcap("host").rx("{lab}/in0.pcap").rx("{lab}/in1.pcap").tx("{lab}/out/h0.pcap").tx("{lab}/out/h1.pcap"))
        .port(Port::pcap("uplink").rx("{lab}/in2.pcap").rx("{lab}/in3.pcap").tx("{lab}/out/u0.pcap").tx("{lab}/out/u1.pcap"))
        .port(Port::pcap("mirror").tx("{lab}/out/m0.pcap").tx("{lab}/out/m1.pcap").ipv4("192.0.2.1"))
        .link("host", "uplink")
        .eni(Eni::new("all", "host"))
        .tmt()
        .filter(Filter::new("f").egress(Rule::accept(1).protocol(6)).ingress(Rule::accept(1).protocol(17)))
        .session(Session::new("s", 1).source("all").target("tmt").filter("f").vni(5).packet_length(200));
    let path = lab.config(&setup.toml());
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
    let config = everything_mirrored(9).with(|c| c.dataplane.copy_mbufs = 24);
    require_root();
    let lab = Lab::new("nombuf");
    let host = mixed(81, 4000, Side::Host);
    let uplink = mixed(82, 4000, Side::Uplink);
    lab.write_pcap("host.pcap", host.iter().map(|f| f.bytes.as_slice()));
    lab.write_pcap("uplink.pcap", uplink.iter().map(|f| f.bytes.as_slice()));
    let path = lab.config(&config.toml());
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
    // The mirror port, told to send long copies by reference.
    let config = &everything_mirrored(5).with(|c| c.ports[2].copy_by_reference = Some(true));
    let host = sized(91, 3000, &[64, 594, 1518], Side::Host);
    let uplink = sized(92, 3000, &[1518, 600, 64], Side::Uplink);
    let (run, order) = run_link("by-reference", config, &host, &uplink);
    assert!(run.stderr.lines().any(|l| l.contains("port \"mirror\"") && l.contains("long copies sent by reference")), "the mirror port does not send by reference:\n{}", run.stderr);
    let long = order.iter().filter(|c| c.inner.len() >= 512).count();
    assert!(long > 1000, "only {long} long copies");
    assert_eq!(order.len(), host.len() + uplink.len(), "every frame mirrored once");
}
