//! The per-packet path without DPDK, for the criterion benchmark and the callgrind probe:
//! a table with one source whose filter has `rules` rules, and a burst of realistic frames.
//! Both runs use exactly this set-up, so their figures describe the same work.

use dataplane::decide::CountHits;
use dataplane::filter::{Cidr, Exclusions, Rule};
use dataplane::encap::{Outer, OuterIp, Template, DEFAULT_TTL};
use dataplane::hash::source_port;
use dataplane::parse::Packet;
use dataplane::table::{FilterRules, PortRules, SessionOut, SourceRules, SourceSet, Table};
use dataplane::types::{CounterSlot, Direction, PortRange, RuleAction, SessionIdx};
use dataplane::wire::testing::FrameBuilder;

/// A deterministic PRNG, so both runs see the same rules and frames.
pub struct Rng(u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// `rules` egress rules: `rules - 2` that never match the traffic (other networks, other
/// ports), then two that accept the tenth of the flows whose source port is low.
pub fn table(rules: usize) -> Table {
    let mut rng = Rng(0x5eed);
    let mut list = Vec::with_capacity(rules);
    for i in 0..rules.saturating_sub(2) {
        let from = 1 + (rng.next() % 60000) as u16;
        list.push(Rule {
            id: format!("r{}", i + 1).into(),
            number: i as u16 + 1,
            action: if i % 3 == 0 { RuleAction::Reject } else { RuleAction::Accept },
            protocol: Some(if i % 2 == 0 { 6 } else { 17 }),
            source: None,
            // 172.16.0.0/12 and smaller: none of the traffic's addresses.
            destination: Some(Cidr { addr: u128::from(0xac10_0000u32 | (rng.next() as u32 & 0x000f_ffff)), len: 16 + (rng.next() % 17) as u8, ipv6: false }),
            source_ports: None,
            destination_ports: Some(PortRange { from, to: from.saturating_add((rng.next() % 200) as u16) }),
        });
    }
    for (i, p) in [6u8, 17].into_iter().enumerate() {
        list.push(Rule {
            id: format!("r{}", rules + i).into(),
            number: (rules + i) as u16,
            action: RuleAction::Accept,
            protocol: Some(p),
            source: None,
            destination: None,
            source_ports: Some(PortRange { from: 1024, to: 7475 }),
            destination_ports: None,
        });
    }
    let filter = std::sync::Arc::new(FilterRules { egress: list, ..FilterRules::default() });
    let source = SourceRules::build("eni-src", None, Direction::Egress, &[(SessionIdx(0), filter)], &Exclusions::new(&[], &[]), 1).expect("rules compile");
    let outer = Outer {
        src_mac: [2, 0, 0, 0, 0, 0x10],
        dst_mac: [2, 0, 0, 0, 0, 0x20],
        vlan: None,
        ip: OuterIp::V4 { src: [192, 0, 2, 1].into(), dst: [192, 0, 2, 10].into() },
        ttl: DEFAULT_TTL,
        dont_fragment: false,
        dst_port: 4789,
        vni: 42,
    };
    Table {
        generation: 1,
        ports: vec![PortRules { egress: SourceSet::new([std::sync::Arc::new(source)]).expect("one source"), ingress: SourceSet::default() }, PortRules::default()].into(),
        sessions: vec![SessionOut::single(CounterSlot(0), 1, 128, Template::new(&outer))].into(),
        exclusions: Exclusions::new(&[], &[]),
    }
}

/// `n` TCP and UDP frames of 64 to 1514 bytes over thousands of flows, source ports uniform
/// over 1024-65535 (so a tenth match the accepting rules).
pub fn frames(n: usize) -> Vec<Vec<u8>> {
    let mut rng = Rng(0xf00d);
    (0..n)
        .map(|_| {
            let size = [64usize, 64, 64, 64, 64, 64, 64, 594, 594, 594, 594, 1514][(rng.next() % 12) as usize];
            let tcp = rng.next() % 10 < 7;
            let src = [10, 0, 0, (rng.next() % 250) as u8 + 1];
            let dst = [198, 51, 100, (rng.next() % 250) as u8 + 1];
            let sport = 1024 + (rng.next() % 64511) as u16;
            let dport = [80u16, 443, 53, 8080][(rng.next() % 4) as usize];
            let f = FrameBuilder::ipv4(src, dst).macs([2, 0, 0, 0, 1, 1], [2, 0, 0, 0, 0, 1]).size(size);
            if tcp { f.tcp(sport, dport) } else { f.udp(sport, dport) }.build()
        })
        .collect()
}

/// The packet path over `frames`: parse, classify (counting the rules' hits, as a worker
/// does), and the outer headers of each copy. Returns the copies made (so the work cannot be
/// optimised away).
#[inline(never)]
pub fn run_burst(table: &Table, frames: &[Vec<u8>], out: &mut [u8; 128]) -> u32 {
    let mut copies = 0;
    let mut packet = Packet::default();
    let sources = table.sources(0, 1);
    for f in frames {
        let _ = sources.decide(f, &mut packet, &mut CountHits { worker: 0 }, |m| {
            let t = table.session(m.session);
            let head = out.first_chunk_mut().expect("room for the longest outer headers");
            t.collectors[0].outer.write_full(head, &f[..f.len().min(t.max_inner as usize)], source_port(m.hash));
            copies += 1;
        });
    }
    copies
}
