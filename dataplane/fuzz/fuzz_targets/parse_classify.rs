//! Fuzzes the per-packet path on arbitrary bytes: parsing must never panic, and whenever a
//! frame parses, the compiled classifier must agree with SPEC.md's linear model for rules
//! drawn from the same input. The flow hash must be symmetric. The seeds in `fuzz/seeds` are
//! written by `cargo run -p dataplane --example fuzz_seeds -- dataplane/fuzz/seeds`.
#![no_main]

use dataplane::filter::{reference, reference_outcome, Cidr, Classifier, Exclusions, Rule, RuleSet};
use dataplane::hash::flow_hash;
use dataplane::parse::{parse, parse_head};
use dataplane::types::{PortRange, RuleAction};
use libfuzzer_sys::fuzz_target;

/// Reads rules from the front of the input: 1 byte count, then 16 bytes per rule.
fn rules(data: &[u8]) -> (Vec<Rule>, &[u8]) {
    let Some((&n, mut rest)) = data.split_first() else { return (Vec::new(), data) };
    let mut out = Vec::new();
    for i in 0..usize::from(n % 16) {
        let Some((r, tail)) = rest.split_first_chunk::<16>() else { break };
        rest = tail;
        let ipv6 = r[0] & 1 != 0;
        let addr = u128::from(u32::from_be_bytes([r[2], r[3], r[4], r[5]]));
        let addr = if ipv6 { (0x2001_0db8u128 << 96) | addr } else { addr };
        let cidr = |len: u8| Cidr { addr, len: if ipv6 { len % 129 } else { len % 33 }, ipv6 };
        let ported = r[0] & 0x40 != 0;
        let port = |a: u8, b: u8| PortRange { from: u16::from(a) << 4, to: (u16::from(a) << 4).saturating_add(u16::from(b) * 8) };
        out.push(Rule {
            id: "".into(),
            number: i as u16 + 1,
            action: if r[0] & 2 != 0 { RuleAction::Accept } else { RuleAction::Reject },
            protocol: if ported { Some(if r[1] & 1 != 0 { 6 } else { 17 }) } else if r[0] & 4 != 0 { Some(r[1]) } else { None },
            source: (r[0] & 8 != 0).then(|| cidr(r[6])),
            destination: (r[0] & 16 != 0).then(|| cidr(r[7])),
            source_ports: (ported && r[0] & 32 != 0).then(|| port(r[8], r[9])),
            destination_ports: (ported && r[0] & 128 != 0).then(|| port(r[10], r[11])),
        });
    }
    (out, rest)
}

fuzz_target!(|data: &[u8]| {
    let (rules, frame) = rules(data);
    // A first segment cut short of a longer frame must not panic either, whether or not the
    // whole frame parses.
    let _ = parse_head(&frame[..frame.len() / 2], frame.len());
    let Ok(p) = parse(frame) else { return };
    let mid = rules.len() / 2;
    let sets = [RuleSet { rules: &rules[..mid], amazon_dns: false }, RuleSet { rules: &rules[mid..], amazon_dns: true }];
    // AWS's resolvers and one more of each family, where the rules' addresses often fall.
    let ex = Exclusions::new(&[0x0a00_0001], &[[0x2001_0db8, 0, 0, 0x0a00_0001]]);
    let c = Classifier::build(&sets, p.ipv6, &ex.resolvers(p.ipv6)).expect("small rule lists always compile");
    assert_eq!(c.classify(&p), reference(&sets, &p, ex.resolver_dns(&p)), "{p:?}");
    assert_eq!(c.outcome(c.lookup(&p.key).outcome()), &reference_outcome(&sets, &p, ex.resolver_dns(&p)), "{p:?}");
    let mut rev = p.fields();
    std::mem::swap(&mut rev.src, &mut rev.dst);
    std::mem::swap(&mut rev.sport, &mut rev.dport);
    assert_eq!(flow_hash(&p), flow_hash(&rev.into()));
});
