//! Writes the fuzzer's seed corpus: a frame of every kind the packet path tells apart, built
//! with the FrameBuilder or captured off a real network, each behind four rules drawn from a
//! fixed seed, in the input format of `fuzz/fuzz_targets/parse_classify.rs` (a byte for the
//! rule count, 16 bytes a rule, then the frame). The same run always writes the same files.
//!
//!   cargo run -p dataplane --example fuzz_seeds -- dataplane/fuzz/seeds

use dataplane::wire::testing::{captured, FrameBuilder};
use dataplane::wire::{arp, ethernet, icmp, ipv4, ipv6, proto};
use std::net::Ipv4Addr;

const HOST: [u8; 4] = [10, 0, 0, 5];
const REMOTE: [u8; 4] = [198, 51, 100, 1];
const HOST6: [u8; 16] = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 5];
const REMOTE6: [u8; 16] = [0x20, 0x01, 0x0d, 0xb8, 0xff, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
const RULES: u8 = 4;
const RULE_LEN: usize = 16;

fn frames() -> Vec<(&'static str, Vec<u8>)> {
    let v4 = || FrameBuilder::ipv4(HOST, REMOTE);
    let v6 = || FrameBuilder::ipv6(HOST6, REMOTE6);
    let mut long = v4().tcp(40000, 443).size(64).build();
    long[16..18].copy_from_slice(&9999u16.to_be_bytes());
    let mut bad_ihl = v4().tcp(40000, 443).size(64).build();
    bad_ihl[14] = 0x44;
    let mut v6_long = v6().extension(ipv6::EXT_HOP_BY_HOP, &[1, 4, 0, 0, 0, 0]).udp(5000, 53).size(128).build();
    v6_long[18..20].copy_from_slice(&9000u16.to_be_bytes());
    let mut arp_request = [0u8; arp::LEN];
    arp::Repr { op: arp::OP_REQUEST, sha: [2, 0, 0, 0, 0, 1], spa: Ipv4Addr::from(HOST), tha: [0; 6], tpa: Ipv4Addr::new(10, 0, 0, 1) }.emit(&mut arp_request);
    vec![
        ("tcp4", v4().tcp(40000, 443).size(64).build()),
        ("udp4", v4().udp(5000, 8080).size(594).build()),
        ("tcp4-options", v4().options(&[1, 1, 1, 0]).tcp(40000, 22).size(128).build()),
        ("udp4-first-fragment", v4().flags_frag(ipv4::FLAG_MF).udp(5000, 53).size(1514).build()),
        ("udp4-later-fragment", v4().flags_frag(185).protocol(proto::UDP).payload(&[0xee; 64]).build()),
        ("icmp4-echo", v4().icmp_echo(icmp::V4_ECHO_REQUEST, 0x1200, 1).size(98).build()),
        ("tcp4-vlan", v4().vlans(&[100]).tcp(40000, 80).size(64).build()),
        ("udp4-qinq", v4().vlans(&[200, 300]).udp(5000, 123).size(128).build()),
        ("tcp4-three-tags", v4().vlans(&[1, 2, 3]).tcp(1, 2).build()),
        ("udp4-dns-to-resolver", FrameBuilder::ipv4(HOST, [169, 254, 169, 253]).udp(40000, 53).size(100).build()),
        ("udp4-dhcp", FrameBuilder::ipv4([0; 4], [255; 4]).udp(68, 67).size(342).build()),
        ("tcp4-metadata", FrameBuilder::ipv4(HOST, [169, 254, 169, 254]).tcp(40000, 80).size(64).build()),
        ("udp4-vxlan", v4().udp(50000, 4789).payload(&captured::VXLAN[42..]).build()),
        ("tcp6", v6().tcp(40000, 443).size(86).build()),
        ("udp6-hop-by-hop", v6().extension(ipv6::EXT_HOP_BY_HOP, &[1, 4, 0, 0, 0, 0]).udp(5000, 53).size(128).build()),
        ("tcp6-dest-opts", v6().vlans(&[100]).extension(ipv6::EXT_DEST_OPTS, &[1, 4, 0, 0, 0, 0]).tcp(40000, 22).size(128).build()),
        ("tcp6-fragment", v6().extension(ipv6::EXT_FRAGMENT, &[0, 1, 0, 0, 0, 42]).tcp(40000, 22).size(128).build()),
        ("icmp6-echo", v6().icmp_echo(icmp::V6_ECHO_REQUEST, 0x3400, 1).size(118).build()),
        ("arp", FrameBuilder::raw(ethernet::TYPE_ARP, &arp_request).macs([0xff; 6], [2, 0, 0, 0, 0, 1]).size(60).build()),
        ("lldp", FrameBuilder::raw(ethernet::TYPE_LLDP, &[0x02, 0x07, 0x04, 2, 0, 0, 0, 0, 1]).macs([0x01, 0x80, 0xc2, 0, 0, 0x0e], [2, 0, 0, 0, 0, 1]).size(60).build()),
        ("ipv4-length-beyond-the-frame", long),
        ("tcp4-cut", v4().tcp(40000, 443).build()[..30].to_vec()),
        ("captured-tcp-syn", captured::TCP_SYN.to_vec()),
        ("captured-udp-dns", captured::UDP_DNS.to_vec()),
        ("captured-icmp-echo", captured::ICMP_ECHO_REQUEST.to_vec()),
        ("captured-icmpv6-echo", captured::ICMPV6_ECHO_REQUEST.to_vec()),
        ("captured-mld-report", captured::MLD_REPORT.to_vec()),
        ("captured-vxlan", captured::VXLAN.to_vec()),
        ("captured-arp-reply", captured::ARP_REPLY.to_vec()),
        ("ipv4-header-length-4", bad_ihl),
        ("tcp4-cut-in-the-ports", v4().tcp(40000, 443).build()[..36].to_vec()),
        ("udp4-cut-after-the-ports", v4().udp(5000, 53).build()[..38].to_vec()),
        ("udp6-payload-length-beyond-the-frame", v6_long),
        ("udp6-cut-in-the-hop-by-hop-header", v6().extension(ipv6::EXT_HOP_BY_HOP, &[1, 4, 0, 0, 0, 0]).udp(5000, 53).build()[..58].to_vec()),
    ]
}

fn main() {
    let dir = std::path::PathBuf::from(std::env::args().nth(1).expect("usage: fuzz_seeds DIR"));
    std::fs::create_dir_all(&dir).expect("creating the seed folder");
    // xorshift64: rules the fuzzer mutates from, the same on every run.
    let mut x: u64 = 0x5eed_f00d;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x as u8
    };
    for (name, frame) in frames() {
        let mut seed = vec![RULES];
        seed.extend((0..usize::from(RULES) * RULE_LEN).map(|_| next()));
        seed.extend_from_slice(&frame);
        std::fs::write(dir.join(name), seed).expect("writing a seed");
    }
}
