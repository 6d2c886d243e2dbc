//! The hot lookup: a compiled classifier, walked once per packet for each source that owns it.
//! A walk ends at a leaf, one of the classifier's outcomes: the session that mirrors, and the
//! rule that decided each session tried (for hit counters and `explain`; the workers read the
//! winner only).

use super::node::*;
use super::outcome::Outcome;
use crate::parse::{Packet, KEY_LEN};
use std::sync::Arc;

/// A compiled, immutable classifier for one address family and one direction of one source.
/// Cloning shares it (its tables are reference-counted, read through the same one pointer as
/// a box): sources with the same filters share one, and a table shares an unchanged
/// source's with the table before it.
#[derive(Clone, Debug)]
pub struct Classifier {
    /// Node for each class value (see [`key`]).
    pub(super) class: Arc<[u32; CLASS_VALUES]>,
    /// Nodes of up to [`SMALL`] intervals: almost all of them.
    pub(super) small: Arc<[SmallNode]>,
    /// Large nodes (more than [`SMALL`] intervals): `[header, lo, shift, buckets, bucket
    /// index (buckets + 3), n - 1 lower bounds, WINDOW u32::MAX, n children]`. Bucket 0 holds
    /// the values below `lo`, bucket b (1 to buckets) those from `lo + ((b - 1) << shift)`,
    /// bucket buckets + 1 the values beyond; entry b of the index counts the bounds below
    /// bucket b, so a lookup counts one window of bounds from its bucket's first, and none
    /// when the bucket holds no bound (as the first and last always do).
    pub(super) arena: Arc<[u32]>,
    /// The leaves' outcomes, by index.
    pub(super) outcomes: Arc<[Outcome]>,
    /// No class value leads anywhere: no rule of this family ever matches.
    pub(super) empty: bool,
}

impl Classifier {
    /// The index of the rule set (session) that mirrors the packet, if any.
    #[inline(always)]
    pub fn classify(&self, p: &Packet) -> Option<usize> {
        self.lookup(&p.key).winner()
    }

    /// Where a packet's key (a [`Packet`]'s) leads: its outcome and the set that mirrors it.
    #[inline(always)]
    pub fn lookup(&self, key: &[u32; KEY_LEN]) -> Leaf {
        let mut r = self.root(key);
        while r & LEAF == 0 {
            r = self.step(r, key);
        }
        Leaf(r)
    }

    /// Outcome `o` (a [`Leaf::outcome`]): what decided each set tried.
    pub fn outcome(&self, o: u32) -> &Outcome {
        &self.outcomes[o as usize]
    }

    /// How many outcomes there are; [`Leaf::outcome`] is below this.
    pub fn outcomes(&self) -> usize {
        self.outcomes.len()
    }

    /// Nodes a key's walk visits after the class table (for tests of the tree's shape).
    #[cfg(test)]
    pub(super) fn steps(&self, key: &[u32; KEY_LEN]) -> usize {
        let (mut r, mut n) = (self.root(key), 0);
        while r & LEAF == 0 {
            r = self.step(r, key);
            n += 1;
        }
        n
    }

    /// The reference to start a key's walk from: its class's.
    #[inline(always)]
    fn root(&self, key: &[u32; KEY_LEN]) -> u32 {
        self.class[key[F_CLASS] as usize & (CLASS_VALUES - 1)]
    }

    /// One level of a walk: the child of node `r` that holds the key.
    #[inline(always)]
    fn step(&self, r: u32, key: &[u32; KEY_LEN]) -> u32 {
        if r & LARGE == 0 {
            let v = bias(key[(r >> SMALL_FIELD_SHIFT) as usize & FIELD_MASK]);
            let node = &self.small[(r & SMALL_INDEX_MASK) as usize];
            let i: u32 = node.below.iter().map(|&b| u32::from(v > b)).sum();
            return node.children[i as usize & (SMALL - 1)];
        }
        let arena = &*self.arena;
        let base = (r & !LARGE) as usize;
        let header = arena[base];
        let n = (header & COUNT_MASK) as usize;
        let v = key[(header >> FIELD_SHIFT) as usize & FIELD_MASK];
        let (lo, shift, buckets) = (arena[base + 1], arena[base + 2], arena[base + 3] as usize);
        let index = base + 4;
        let bucket = if v < lo { 0 } else { (((v - lo) >> shift) as usize + 1).min(buckets + 1) };
        let (from, to) = (arena[index + bucket] as usize, arena[index + bucket + 1] as usize);
        let bounds = index + buckets + 3;
        let children = bounds + n - 1 + WINDOW;
        // No bound in the bucket: its values all lie in one interval. Traffic outside every
        // rule's range takes this way.
        if from == to {
            return arena[children + from];
        }
        // Bounds before the bucket are below v, those after it above: counting a whole window
        // from the bucket's first is exact. A bucket wider than a window (bounds clustered
        // beyond what the builder could spread) takes more rounds.
        let (mut at, mut le) = (bounds + from, from);
        loop {
            let window: &[u32; WINDOW] = arena[at..at + WINDOW].try_into().expect("a window's length");
            le += count_at_or_below(window, v);
            at += WINDOW;
            if at >= bounds + to {
                break;
            }
        }
        // Only v == u32::MAX counts the padding too: it belongs to the last interval.
        let i = le.min(n - 1);
        arena[children + i]
    }

    /// True when no rule of this family ever matches.
    pub fn is_empty(&self) -> bool {
        self.empty
    }
}

/// The leaf a walk ends at: which outcome, and the winning set, both in one word.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Leaf(u32);

impl Leaf {
    /// The index of its outcome ([`Classifier::outcome`]).
    #[inline(always)]
    pub fn outcome(self) -> u32 {
        (self.0 & !LEAF) >> WINNER_BITS
    }

    /// The rule set (session) that mirrors the packet, if any.
    #[inline(always)]
    pub fn winner(self) -> Option<usize> {
        ((self.0 & ((1 << WINNER_BITS) - 1)) as usize).checked_sub(1)
    }
}

/// How many of `window`'s bounds are at or below `v`.
#[inline(always)]
fn count_at_or_below(window: &[u32; WINDOW], v: u32) -> usize {
    window.iter().map(|&b| u32::from(b <= v)).sum::<u32>() as usize
}

#[cfg(test)]
mod tests {
    use super::super::builder::bucket_layout;
    use super::super::testing::{both, cidr4, edit, rule, tcp4, v4};
    use super::super::{reference, reference_outcome, Cidr, Exclusions, Rule, RuleSet, Verdict, RESOLVER_V4};
    use crate::types::{PortRange, RuleAction};
    use super::*;
    use crate::parse::Fields;
    use proptest::prelude::*;

    #[test]
    fn first_matching_rule_decides() {
        let mut reject_ssh = rule(100, RuleAction::Reject);
        reject_ssh.protocol = Some(6);
        reject_ssh.destination_ports = Some(PortRange { from: 22, to: 22 });
        let accept_all = rule(200, RuleAction::Accept);
        let rules = [reject_ssh, accept_all];
        let sets = [RuleSet { rules: &rules, amazon_dns: false }];
        assert_eq!(both(&sets, &tcp4([1, 1, 1, 1], [2, 2, 2, 2], 5000, 22)), None);
        assert_eq!(both(&sets, &tcp4([1, 1, 1, 1], [2, 2, 2, 2], 5000, 80)), Some(0));
    }

    #[test]
    fn no_matching_rule_means_not_mirrored() {
        let mut r = rule(1, RuleAction::Accept);
        r.destination = Some(cidr4([10, 0, 0, 0], 8));
        let rules = [r];
        let sets = [RuleSet { rules: &rules, amazon_dns: false }];
        assert_eq!(both(&sets, &tcp4([1, 1, 1, 1], [10, 9, 9, 9], 1, 2)), Some(0));
        assert_eq!(both(&sets, &tcp4([1, 1, 1, 1], [11, 9, 9, 9], 1, 2)), None);
    }

    #[test]
    fn a_later_session_gets_what_an_earlier_one_rejects() {
        let mut reject_web = rule(1, RuleAction::Reject);
        reject_web.destination_ports = Some(PortRange { from: 80, to: 80 });
        reject_web.protocol = Some(6);
        let first = [reject_web, rule(2, RuleAction::Accept)];
        let second = [rule(1, RuleAction::Accept)];
        let sets = [RuleSet { rules: &first, amazon_dns: false }, RuleSet { rules: &second, amazon_dns: false }];
        assert_eq!(both(&sets, &tcp4([1, 1, 1, 1], [2, 2, 2, 2], 9, 80)), Some(1));
        assert_eq!(both(&sets, &tcp4([1, 1, 1, 1], [2, 2, 2, 2], 9, 81)), Some(0));
    }

    #[test]
    fn port_rules_never_match_non_first_fragments_or_other_protocols() {
        let mut r = rule(1, RuleAction::Accept);
        r.protocol = Some(6);
        r.destination_ports = Some(PortRange { from: 0, to: 65535 });
        let rules = [r];
        let sets = [RuleSet { rules: &rules, amazon_dns: false }];
        let frag = edit(tcp4([1, 1, 1, 1], [2, 2, 2, 2], 0, 0), |f| {
            f.has_ports = false;
            f.fragment = true;
        });
        assert_eq!(both(&sets, &frag), None);
        assert_eq!(both(&sets, &tcp4([1, 1, 1, 1], [2, 2, 2, 2], 0, 0)), Some(0));
    }

    #[test]
    fn family_of_a_rule_comes_from_its_cidrs() {
        let mut only_v4 = rule(1, RuleAction::Accept);
        only_v4.source = Some(cidr4([0, 0, 0, 0], 0));
        let rules = [only_v4];
        let sets = [RuleSet { rules: &rules, amazon_dns: false }];
        let p6 = edit(tcp4([0; 4], [0; 4], 1, 2), |f| {
            f.ipv6 = true;
            f.src = [0x2001_0db8, 0, 0, 1];
        });
        assert_eq!(both(&sets, &p6), None);
        assert_eq!(both(&sets, &tcp4([9, 9, 9, 9], [1, 1, 1, 1], 1, 2)), Some(0));
        let any = [rule(1, RuleAction::Accept)];
        let sets = [RuleSet { rules: &any, amazon_dns: false }];
        assert_eq!(both(&sets, &p6), Some(0));
    }

    #[test]
    fn resolver_dns_needs_amazon_dns() {
        let all = [rule(1, RuleAction::Accept)];
        let without = [RuleSet { rules: &all, amazon_dns: false }];
        let with = [RuleSet { rules: &all, amazon_dns: true }];
        let p = tcp4([10, 0, 0, 5], [169, 254, 169, 253], 3333, 53);
        assert_eq!(both(&without, &p), None);
        assert_eq!(both(&with, &p), Some(0));
        let two = [RuleSet { rules: &all, amazon_dns: false }, RuleSet { rules: &all, amazon_dns: true }];
        assert_eq!(both(&two, &p), Some(1));
    }

    #[test]
    fn empty_filters_compile_to_nothing() {
        let sets = [RuleSet { rules: &[], amazon_dns: true }];
        assert!(Classifier::build(&sets, false, &[]).unwrap().is_empty());
        let mut only_v4 = rule(1, RuleAction::Accept);
        only_v4.destination = Some(cidr4([10, 0, 0, 0], 8));
        let rules = [only_v4];
        let sets = [RuleSet { rules: &rules, amazon_dns: true }];
        assert!(Classifier::build(&sets, true, &[]).unwrap().is_empty(), "no IPv6 rule");
    }

    #[test]
    fn a_filter_of_rejects_mirrors_nothing_but_says_which_rule_decided() {
        let mut ssh = rule(1, RuleAction::Reject);
        ssh.protocol = Some(6);
        ssh.destination_ports = Some(PortRange { from: 22, to: 22 });
        let rejects = [ssh, rule(2, RuleAction::Reject)];
        let sets = [RuleSet { rules: &rejects, amazon_dns: false }];
        let c = Classifier::build(&sets, false, &[[RESOLVER_V4, 0, 0, 0]]).unwrap();
        assert!(!c.is_empty(), "its rules are counted");
        let p = tcp4([1, 1, 1, 1], [2, 2, 2, 2], 5000, 22);
        assert_eq!(both(&sets, &p), None);
        assert_eq!(*c.outcome(c.lookup(&p.key).outcome()).tried, [Verdict::Rule(0)]);
        let p = tcp4([1, 1, 1, 1], [2, 2, 2, 2], 5000, 80);
        assert_eq!(*c.outcome(c.lookup(&p.key).outcome()).tried, [Verdict::Rule(1)]);
        let dns = edit(tcp4([10, 0, 0, 5], [169, 254, 169, 253], 3333, 53), |f| f.protocol = 17);
        assert_eq!(*c.outcome(c.lookup(&dns.key).outcome()).tried, [Verdict::NoRule], "resolver DNS: the rules are not tried");
    }

    #[test]
    fn each_session_tried_has_its_deciding_rule() {
        // Session 0 rejects web traffic and takes the rest of TCP; session 1 takes everything.
        let mut reject_web = rule(1, RuleAction::Reject);
        reject_web.protocol = Some(6);
        reject_web.destination_ports = Some(PortRange { from: 80, to: 80 });
        let mut tcp = rule(2, RuleAction::Accept);
        tcp.protocol = Some(6);
        let first = [reject_web, tcp];
        let second = [rule(7, RuleAction::Accept)];
        let sets = [RuleSet { rules: &first, amazon_dns: false }, RuleSet { rules: &second, amazon_dns: false }];
        let c = Classifier::build(&sets, false, &[]).unwrap();
        let outcome = |p: &Packet| c.outcome(c.lookup(&p.key).outcome()).clone();
        let web = tcp4([1, 1, 1, 1], [2, 2, 2, 2], 9, 80);
        assert_eq!(both(&sets, &web), Some(1));
        assert_eq!(outcome(&web), Outcome { winner: Some(1), tried: [Verdict::Rule(0), Verdict::Rule(0)].into() }, "a reject of session 1, then an accept of session 2");
        let other = tcp4([1, 1, 1, 1], [2, 2, 2, 2], 9, 81);
        assert_eq!(outcome(&other), Outcome { winner: Some(0), tried: [Verdict::Rule(1)].into() }, "session 2 is never tried");
        let udp = edit(other, |f| f.protocol = 17);
        assert_eq!(outcome(&udp), Outcome { winner: Some(1), tried: [Verdict::NoRule, Verdict::Rule(0)].into() });
        assert_eq!(c.outcome(0).winner, None, "outcome 0 is nothing matched");
    }

    #[test]
    fn ten_thousand_rules_compile_and_stay_shallow() {
        let mut rules = Vec::new();
        for i in 0..10_000u32 {
            let mut r = rule(i as u16 % 32766 + 1, if i % 7 == 0 { RuleAction::Accept } else { RuleAction::Reject });
            r.protocol = Some(if i % 2 == 0 { 6 } else { 17 });
            r.source = Some(cidr4([10, (i >> 8) as u8, i as u8, 0], 24));
            r.destination_ports = Some(PortRange { from: (i % 1000) as u16 * 10, to: (i % 1000) as u16 * 10 + 5 });
            rules.push(r);
        }
        let sets = [RuleSet { rules: &rules, amazon_dns: false }];
        let c = Classifier::build(&sets, false, &[[RESOLVER_V4, 0, 0, 0]]).unwrap();
        for i in (0..10_000u32).step_by(97) {
            let p = tcp4([10, (i >> 8) as u8, i as u8, 7], [1, 2, 3, 4], 1000, (i % 1000) as u16 * 10 + 3);
            assert_eq!(c.classify(&p), reference(&sets, &p, false));
            assert_eq!(c.outcome(c.lookup(&p.key).outcome()), &reference_outcome(&sets, &p, false));
        }
    }

    #[test]
    fn traffic_outside_every_rules_addresses_leaves_them_at_the_first_split() {
        // As the benchmark's filters: thousands of rules on a /24 and a port range each, then
        // one on source ports. Splitting on destination ports first would leave tens of rules
        // alive for every port and walk their addresses next; the destination address splits
        // them off at once for traffic that goes elsewhere.
        let mut rules = Vec::new();
        for i in 0..4000u32 {
            let mut r = rule(i as u16 + 1, RuleAction::Accept);
            r.protocol = Some(6);
            r.destination = Some(cidr4([172, 16 + (i >> 8) as u8, i as u8, 0], 24));
            let from = (i * 7919 % 60000) as u16 + 1;
            r.destination_ports = Some(PortRange { from, to: from + 200 });
            rules.push(r);
        }
        let mut last = rule(4001, RuleAction::Accept);
        last.protocol = Some(6);
        last.source_ports = Some(PortRange { from: 1024, to: 7475 });
        rules.push(last);
        let sets = [RuleSet { rules: &rules, amazon_dns: true }];
        let c = Classifier::build(&sets, false, &[]).unwrap();
        for (i, dport) in (0..200u32).map(|i| (i, (i * 331 % 65535) as u16)) {
            let p = tcp4([10, 0, 0, 1], [10, 1, (i >> 8) as u8, i as u8], 1000 + i as u16 * 50, dport);
            assert_eq!(c.classify(&p), reference(&sets, &p, false));
            assert_eq!(c.steps(&p.key), 2, "destination, then source port, for {p:?}");
        }
    }

    #[test]
    fn clustered_bounds_take_several_windows() {
        // 40 neighbouring hosts and one far away, each its own session so that no two
        // intervals merge: the bucket width that keeps the index small puts all 40 in one
        // bucket, wider than a window.
        let hosts: Vec<[u8; 4]> = (1..=40u8).map(|h| [10, 0, 0, h]).chain([[250, 0, 0, 0]]).collect();
        let rules: Vec<[Rule; 1]> =
            hosts.iter().map(|&h| [Rule { destination: Some(cidr4(h, 32)), ..rule(1, RuleAction::Accept) }]).collect();
        let sets: Vec<RuleSet> = rules.iter().map(|r| RuleSet { rules: r, amazon_dns: true }).collect();
        let mut lower: Vec<u32> = hosts.iter().flat_map(|&h| [v4(h), v4(h) + 1]).collect();
        lower.dedup();
        let (lo, shift) = bucket_layout(&lower);
        assert_eq!((v4([10, 0, 0, 41]) - lo) >> shift, 0, "the cluster shares one bucket");
        for dst in (0..=45u8).map(|h| [10, 0, 0, h]).chain([[9, 255, 255, 255], [250, 0, 0, 0], [250, 0, 0, 1], [255, 255, 255, 255]]) {
            both(&sets, &tcp4([1, 1, 1, 1], dst, 1000, 80));
        }
    }

    #[test]
    fn values_outside_a_large_nodes_bounds_take_its_end_buckets() {
        // Twelve /24s apart from each other, each its own session: one large node on the
        // destination. Below the first bound, beyond the last, in empty buckets between them
        // and at every bound's edges, the walk must agree with the reference.
        let nets: Vec<[u8; 4]> = (0..12u8).map(|i| [172, 16 + i, 7 * i, 0]).collect();
        let rules: Vec<[Rule; 1]> =
            nets.iter().map(|&n| [Rule { destination: Some(cidr4(n, 24)), ..rule(1, RuleAction::Accept) }]).collect();
        let sets: Vec<RuleSet> = rules.iter().map(|r| RuleSet { rules: r, amazon_dns: true }).collect();
        let c = Classifier::build(&sets, false, &[]).unwrap();
        let probe = |dst: [u8; 4]| tcp4([1, 1, 1, 1], dst, 1000, 80);
        assert_eq!(c.steps(&probe([198, 51, 100, 1]).key), 1, "one large node decides");
        let mut dsts = vec![[0, 0, 0, 0], [172, 15, 255, 255], [198, 51, 100, 1], [255, 255, 255, 255], [172, 20, 0, 0]];
        for n in &nets {
            let base = v4(*n);
            for a in [base - 1, base, base + 128, base + 255, base + 256] {
                dsts.push(a.to_be_bytes());
            }
        }
        for dst in dsts {
            both(&sets, &probe(dst));
        }
    }

    // Property test: random rule lists and random packets drawn from the same small value
    // pools (so that matches, overlaps and boundaries are common), compiled vs reference.
    fn arb_cidr(ipv6: bool) -> impl Strategy<Value = Cidr> {
        let bases4 = prop::sample::select(vec![0u32, 0x0a00_0000, 0x0a01_0000, 0x0a01_0100, 0xc0a8_0001, 0xffff_ffff]);
        (bases4, 0u8..=32, 0u8..=128).prop_map(move |(b, l4, l6)| {
            if ipv6 {
                let addr = (0x2001_0db8u128 << 96) | (u128::from(b) << 32) | u128::from(b);
                Cidr { addr, len: l6, ipv6: true }
            } else {
                Cidr { addr: u128::from(b), len: l4, ipv6: false }
            }
        })
    }

    fn arb_ports() -> impl Strategy<Value = Option<PortRange>> {
        prop::option::weighted(
            0.4,
            (prop::sample::select(vec![0u16, 22, 53, 80, 443, 1024, 65535]), 0u16..2000)
                .prop_map(|(from, span)| PortRange { from, to: from.saturating_add(span) }),
        )
    }

    fn arb_rule(ipv6: bool) -> impl Strategy<Value = Rule> {
        (
            any::<bool>(),
            prop::option::weighted(0.6, prop::sample::select(vec![1u8, 6, 17, 58])),
            prop::option::weighted(0.5, arb_cidr(ipv6)),
            prop::option::weighted(0.5, arb_cidr(ipv6)),
            arb_ports(),
            arb_ports(),
        )
            .prop_map(|(accept, protocol, source, destination, sp, dp)| {
                let ported = protocol == Some(6) || protocol == Some(17);
                Rule {
                    id: "".into(),
                    number: 0,
                    action: if accept { RuleAction::Accept } else { RuleAction::Reject },
                    protocol,
                    source,
                    destination,
                    source_ports: sp.filter(|_| ported),
                    destination_ports: dp.filter(|_| ported),
                }
            })
    }

    fn arb_addr(ipv6: bool) -> impl Strategy<Value = [u32; 4]> {
        let words = prop::sample::select(vec![0u32, 0x0a00_0000, 0x0a01_0005, 0x0a01_0100, 0x0a01_01ff, 0xc0a8_0001, 0xffff_ffff]);
        (words.clone(), words, any::<u32>(), 0u8..4).prop_map(move |(a, b, r, pick)| {
            let w = if pick == 0 { r } else { a };
            if ipv6 { [0x2001_0db8, w, b, w] } else { [w, 0, 0, 0] }
        })
    }

    fn arb_packet() -> impl Strategy<Value = Packet> {
        any::<bool>().prop_flat_map(|ipv6| {
            let port = prop::sample::select(vec![0u16, 21, 22, 23, 53, 80, 443, 1023, 1024, 2000, 3023, 65535]);
            (
                arb_addr(ipv6),
                arb_addr(ipv6),
                prop::sample::select(vec![1u8, 6, 17, 58, 47]),
                port.clone(),
                port,
                0u8..5,
            )
                .prop_map(move |(src, dst, protocol, sport, dport, frag)| {
                    let ported = protocol == 6 || protocol == 17;
                    Packet::from(Fields {
                        l3_offset: 14,
                        ipv6,
                        src,
                        dst,
                        protocol,
                        has_ports: ported && frag != 0,
                        fragment: frag == 0,
                        sport,
                        dport,
                    })
                })
        })
    }

    // Many distinct ranges: exercises the bucket-indexed nodes that small rule lists never make.
    fn arb_wide_rule() -> impl Strategy<Value = Rule> {
        (any::<bool>(), any::<u32>(), 8u8..=32, any::<u16>(), 0u16..300, prop::sample::select(vec![6u8, 17]))
            .prop_map(|(accept, addr, len, from, span, protocol)| Rule {
                id: "".into(),
                number: 0,
                action: if accept { RuleAction::Accept } else { RuleAction::Reject },
                protocol: Some(protocol),
                source: None,
                destination: Some(Cidr { addr: u128::from(addr & 0x0fff_ffff), len, ipv6: false }),
                source_ports: None,
                destination_ports: Some(PortRange { from, to: from.saturating_add(span) }),
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]
        #[test]
        fn compiled_equals_reference_with_hundreds_of_rules(
            rules in prop::collection::vec(arb_wide_rule(), 100..400),
            packets in prop::collection::vec((any::<u32>(), any::<u16>(), any::<bool>()), 256),
        ) {
            let sets = [RuleSet { rules: &rules, amazon_dns: false }];
            let c = Classifier::build(&sets, false, &[]).unwrap();
            for (i, (addr, dport, udp)) in packets.into_iter().enumerate() {
                // Half the packets aim inside some rule's prefix and port range.
                let (dst, dport) = if i % 2 == 0 {
                    let r = &rules[i % rules.len()];
                    let d = r.destination.unwrap();
                    let pr = r.destination_ports.unwrap();
                    (d.addr as u32 | (addr >> d.len.min(31)), pr.from + dport % (pr.to - pr.from + 1))
                } else {
                    (addr & 0x0fff_ffff, dport)
                };
                let p = edit(tcp4([1, 1, 1, 1], dst.to_be_bytes(), 1000, dport), |f| f.protocol = if udp { 17 } else { 6 });
                prop_assert_eq!(c.classify(&p), reference(&sets, &p, false), "packet {:?}", p);
                prop_assert_eq!(c.outcome(c.lookup(&p.key).outcome()), &reference_outcome(&sets, &p, false), "packet {:?}", p);
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]
        #[test]
        fn compiled_equals_reference(
            ipv6 in any::<bool>(),
            sets in prop::collection::vec((prop::collection::vec(any::<u8>(), 0..12), any::<bool>()), 1..4),
            seed_rules4 in prop::collection::vec(arb_rule(false), 24),
            seed_rules6 in prop::collection::vec(arb_rule(true), 24),
            packets in prop::collection::vec((arb_packet(), any::<bool>()), 64),
        ) {
            // Each set picks rules from a shared pool (both families) so sets overlap.
            let pool: Vec<Rule> = seed_rules4.into_iter().chain(seed_rules6).collect();
            let lists: Vec<Vec<Rule>> = sets.iter()
                .map(|(picks, _)| picks.iter().map(|&i| pool[usize::from(i) % pool.len()].clone()).collect())
                .collect();
            let rule_sets: Vec<RuleSet> = lists.iter().zip(&sets)
                .map(|(rules, (_, dns))| RuleSet { rules, amazon_dns: *dns })
                .collect();
            // Resolvers among the packets' own addresses, and some packets aimed at them.
            let ex = Exclusions::new(&[0x0a01_0005], &[[0x2001_0db8, 0x0a01_0005, 0xc0a8_0001, 0x0a01_0005]]);
            let resolvers = ex.resolvers(ipv6);
            let c = Classifier::build(&rule_sets, ipv6, &resolvers).unwrap();
            for (i, (p, dns)) in packets.into_iter().enumerate() {
                let p = edit(p, |f| {
                    f.ipv6 = ipv6;
                    if dns {
                        let r = resolvers[i % resolvers.len()];
                        if i % 4 < 2 { (f.dst, f.dport) = (r, 53) } else { (f.src, f.sport) = (r, 53) }
                    }
                });
                prop_assert_eq!(c.classify(&p), reference(&rule_sets, &p, ex.resolver_dns(&p)), "packet {:?}", p);
                prop_assert_eq!(c.outcome(c.lookup(&p.key).outcome()), &reference_outcome(&rule_sets, &p, ex.resolver_dns(&p)), "packet {:?}", p);
            }
        }
    }
}
