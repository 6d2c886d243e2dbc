//! The table code under concurrent swaps, without DPDK: readers run the per-frame decision
//! (`Sources::decide`) and build outer headers over bursts of frames while a writer compiles
//! and publishes thousands of tables through the RCU. Every copy of a burst must come from the
//! one table the reader holds (whose VNI is its generation), generations only move forward,
//! and no freed table is ever touched. scripts/test.sh also runs this under AddressSanitizer
//! (use after free, leaks) and ThreadSanitizer (data races).

use dataplane::decide::CountHits;
use dataplane::filter::{Exclusions, Rule};
use dataplane::encap::{Outer, OuterIp, Template, DEFAULT_TTL};
use dataplane::parse::Packet;
use dataplane::rcu::Rcu;
use dataplane::table::{FilterRules, PortRules, SessionOut, SourceRules, SourceSet, Table};
use dataplane::types::{CounterSlot, Direction, RuleAction, SessionIdx};
use dataplane::wire::testing::FrameBuilder;
use std::sync::atomic::{AtomicBool, Ordering};

/// A table whose one session mirrors all UDP received on port 0, with VNI `generation`.
fn table(generation: u64) -> Table {
    let filter = std::sync::Arc::new(FilterRules {
        egress: vec![Rule {
            id: "r1".into(),
            number: 1,
            action: RuleAction::Accept,
            protocol: Some(17),
            source: None,
            destination: None,
            source_ports: None,
            destination_ports: None,
        }],
        ..FilterRules::default()
    });
    let source = SourceRules::build("eni-src", None, Direction::Egress, &[(SessionIdx(0), filter)], &Exclusions::new(&[], &[]), 2).unwrap();
    let outer = Outer {
        src_mac: [2, 0, 0, 0, 0, 0x10],
        dst_mac: [2, 0, 0, 0, 0, 0x20],
        vlan: None,
        ip: OuterIp::V4 { src: [192, 0, 2, 1].into(), dst: [192, 0, 2, 10].into() },
        ttl: DEFAULT_TTL,
        dont_fragment: false,
        dst_port: 4789,
        vni: generation as u32,
    };
    Table {
        generation,
        ports: vec![PortRules { egress: SourceSet::new([std::sync::Arc::new(source)]).expect("one source"), ingress: SourceSet::default() }, PortRules::default()].into(),
        sessions: vec![SessionOut::single(CounterSlot(0), 1, 128, Template::new(&outer))].into(),
        exclusions: Exclusions::default(),
    }
}

/// A 64-byte UDP frame.
fn frame(i: u8) -> Vec<u8> {
    FrameBuilder::ipv4([10, 0, 0, i], [198, 51, 100, 1]).udp(4000, 53).size(64).build()
}

#[test]
fn readers_see_whole_tables_while_thousands_are_swapped_in() {
    let swaps: u64 = std::env::var("TABLE_SWAPS").ok().and_then(|s| s.parse().ok()).unwrap_or(3000);
    let frames: Vec<Vec<u8>> = (0..32).map(frame).collect();
    let rcu = Rcu::new(table(1), 2);
    let stop = AtomicBool::new(false);
    let bursts = std::thread::scope(|s| {
        let readers: Vec<_> = (0..2)
            .map(|id| {
                let (rcu, stop, frames) = (&rcu, &stop, &frames);
                s.spawn(move || {
                    let mut reader = rcu.reader(id);
                    let mut last = 0;
                    let mut bursts = 0u64;
                    let mut header = [0u8; 50];
                    while !stop.load(Ordering::Relaxed) {
                        let t = reader.read();
                        let mut packet = Packet::default();
                        let mut vnis = Vec::with_capacity(32);
                        let sources = t.sources(0, 1);
                        for f in frames {
                            let decided = sources.decide(f, &mut packet, &mut CountHits { worker: id }, |m| {
                                assert_eq!(m.dir, Direction::Egress);
                                let out = t.session(m.session);
                                out.collectors[0].outer.write(&mut header, &f[..f.len().min(out.max_inner as usize)], m.hash as u16 | 0xc000);
                                vnis.push(u32::from_be_bytes([0, header[46], header[47], header[48]]));
                            });
                            assert_eq!(decided, Ok(()), "a UDP frame is a candidate");
                        }
                        assert_eq!(vnis.len(), 32, "every frame of the burst mirrored");
                        assert!(vnis.iter().all(|&v| u64::from(v) == t.generation), "one table per burst: {vnis:?} in table {}", t.generation);
                        assert!(t.generation >= last, "table {} after {last}", t.generation);
                        last = t.generation;
                        bursts += 1;
                        reader.quiescent();
                    }
                    bursts
                })
            })
            .collect();
        let mut w = rcu.writer();
        for g in 2..=swaps + 1 {
            // As the controller publishes: at once, the replaced table freed once no reader
            // is in it (here waited for, to check which one it was).
            let epoch = w.publish(table(g), |_| {}, |_| panic!("nothing waits before this publication"));
            w.wait(epoch, |_| {});
            let mut freed = Vec::new();
            assert_eq!(w.reclaim(|old| freed.push(old.generation)), 0);
            assert_eq!(freed, [g - 1]);
        }
        stop.store(true, Ordering::Relaxed);
        readers.into_iter().map(|r| r.join().unwrap()).sum::<u64>()
    });
    assert!(bursts > swaps / 10, "readers worked through the swaps: {bursts} bursts");
}
