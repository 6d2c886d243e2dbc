//! The cold builder: compiles the rule sets of one source and direction into a
//! [`Classifier`], when a table is built.

use super::aws::DNS_PORT;
use super::node::*;
use super::outcome::{Outcome, Verdict};
use super::rule::{Cidr, Rule, RuleSet};
use super::Classifier;
use crate::parse::{field, KEY_LEN};
use crate::types::RuleAction;
use rustc_hash::FxHashMap;
use std::collections::BTreeSet;

/// Why a rule list could not be compiled.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CompileError {
    #[error(
        "the rules are too complex to compile (over {limit} decision-table words); \
         use fewer overlapping CIDRs and port ranges"
    )]
    /// The decision structure would outgrow its arena.
    TooComplex {
        /// Arena words allowed.
        limit: usize,
    },
    #[error("{sessions} sessions on one source and direction: at most {limit} can be compiled")]
    /// More rule sets than a leaf can name.
    TooManySessions {
        /// The sets given.
        sessions: usize,
        /// The most there may be.
        limit: usize,
    },
    #[error("the rules are too complex to compile (over {limit} distinct outcomes); use fewer overlapping CIDRs and port ranges")]
    /// More outcomes than leaves can hold.
    TooManyOutcomes {
        /// Outcomes allowed.
        limit: usize,
    },
}

/// A rule as constraints over the key, tagged with its rule set and its place in it.
#[derive(Clone)]
struct KeyRule {
    set: u32,
    /// The rule's index in its set, or [`RESOLVER`] for the rejects that keep a set without
    /// `amazon-dns` off DNS to the VPC resolver.
    rule: u32,
    accept: bool,
    /// Class values the rule matches, as a bitmap.
    class: [u64; CLASS_VALUES / 64],
    /// Inclusive range per range field (index 0, the class, unused).
    ranges: [(u32, u32); KEY_LEN],
    /// The range fields the rule constrains, one bit per field index.
    constrains: u16,
}

/// [`KeyRule::rule`] of the resolver rejects.
const RESOLVER: u32 = u32::MAX;

impl Classifier {
    /// Compiles `sets` (sessions in evaluation order) for IPv4 (`ipv6 == false`) or IPv6;
    /// `resolvers` are the VPC resolvers of that family (see [`Exclusions::resolvers`](super::Exclusions::resolvers)).
    pub fn build(sets: &[RuleSet], ipv6: bool, resolvers: &[[u32; 4]]) -> Result<Self, CompileError> {
        let limit = (1 << WINNER_BITS) - 1;
        if sets.len() > limit {
            return Err(CompileError::TooManySessions { sessions: sets.len(), limit });
        }
        let nfields = if ipv6 { V6_FIELDS } else { V4_FIELDS };
        let words = if ipv6 { 4 } else { 1 };
        let mut rules = Vec::new();
        for (i, set) in sets.iter().enumerate() {
            let set_id = i as u32;
            if !set.amazon_dns {
                // DNS to or from a resolver never matches this set: rejects in front of its
                // rules, one per resolver and direction. As rules, the check costs the workers
                // nothing where the traffic is not port 53.
                for r in resolvers {
                    for (port, addr) in [(F_DPORT, F_DST), (F_SPORT, field::src(ipv6))] {
                        let mut k = KeyRule::any(set_id, RESOLVER, false);
                        k.restrict_class(None, true);
                        k.ranges[port] = (u32::from(DNS_PORT), u32::from(DNS_PORT));
                        for (w, &v) in r[..words].iter().enumerate() {
                            k.ranges[addr + w] = (v, v);
                        }
                        rules.push(k);
                    }
                }
            }
            // A rule of the other family never matches: it never decides, so it is left out.
            for (i, rule) in set.rules.iter().enumerate().filter(|(_, r)| r.family().is_none_or(|v6| v6 == ipv6)) {
                rules.push(KeyRule::from_rule(set_id, i as u32, rule, ipv6));
            }
        }
        for r in &mut rules {
            r.constrains = (1..nfields).filter(|&f| r.ranges[f] != (0, u32::MAX)).fold(0, |m, f| m | 1 << f);
        }
        let mut b = Builder {
            rules: &rules,
            sets: sets.len(),
            arena: Vec::new(),
            small: Vec::new(),
            memo: FxHashMap::default(),
            outcomes: Vec::new(),
            by_outcome: FxHashMap::default(),
        };
        // Outcome 0, which NO_MATCH stands for: nothing matched in any set.
        let none = b.leaf(&[])?;
        debug_assert_eq!(none, NO_MATCH);
        // Each class value's rules, in order: from each rule's set bits, since most rules name
        // a protocol and so hold one or two of the 512 values.
        let mut per_class: Vec<Vec<u32>> = vec![Vec::new(); CLASS_VALUES];
        for (i, r) in rules.iter().enumerate() {
            for (w, &word) in r.class.iter().enumerate() {
                let mut bits = word;
                while bits != 0 {
                    per_class[w * 64 + bits.trailing_zeros() as usize].push(i as u32);
                    bits &= bits - 1;
                }
            }
        }
        let mut class = Vec::with_capacity(CLASS_VALUES);
        let mut by_live: FxHashMap<Vec<u32>, u32> = FxHashMap::default();
        for live in per_class {
            let node = match by_live.get(&live) {
                Some(&n) => n,
                None => {
                    let n = b.node(1 << F_CLASS, live.clone())?;
                    by_live.insert(live, n);
                    n
                }
            };
            class.push(node);
        }
        let empty = class.iter().all(|&n| n == NO_MATCH);
        let class: Box<[u32; CLASS_VALUES]> = class.into_boxed_slice().try_into().expect("one node per class value");
        Ok(Classifier { class: class.into(), small: b.small.into(), arena: b.arena.into(), outcomes: b.outcomes.into(), empty })
    }
}

impl Cidr {
    /// The prefix as one inclusive range per 32-bit word (1 word for IPv4, 4 for IPv6).
    fn word_ranges(&self) -> impl Iterator<Item = (u32, u32)> + '_ {
        let words = if self.ipv6 { 4 } else { 1 };
        (0..words).map(move |i| {
            let shift = 32 * (words - 1 - i);
            let word = (self.addr >> shift) as u32;
            let fixed = i32::from(self.len) - 32 * i;
            if fixed >= 32 {
                (word, word)
            } else if fixed <= 0 {
                (0, u32::MAX)
            } else {
                let host = u32::MAX >> fixed;
                (word & !host, word | host)
            }
        })
    }
}

/// The first bucket's start and the bucket width (as a shift) for a large node's sorted
/// bounds: about one bound per bucket over the bounds' own range, then narrower buckets while
/// some bucket holds more than a window and the bucket count stays within
/// [`BUCKETS_PER_BOUND`] times the bounds.
pub(super) fn bucket_layout(lower: &[u32]) -> (u32, u32) {
    let lo = lower[0];
    let span = u64::from(lower[lower.len() - 1] - lo) + 1;
    let target = lower.len().next_power_of_two() as u64;
    let mut shift = 0;
    while span >> shift > target {
        shift += 1;
    }
    let widest = |shift: u32| lower.chunk_by(|a, b| (a - lo) >> shift == (b - lo) >> shift).map(<[u32]>::len).max();
    while shift > 0 && widest(shift) > Some(WINDOW) && span.div_ceil(1 << (shift - 1)) <= BUCKETS_PER_BOUND as u64 * target {
        shift -= 1;
    }
    (lo, shift)
}

impl KeyRule {
    fn any(set: u32, rule: u32, accept: bool) -> Self {
        KeyRule { set, rule, accept, class: [u64::MAX; CLASS_VALUES / 64], ranges: [(0, u32::MAX); KEY_LEN], constrains: 0 }
    }

    /// Keeps only the class values of `protocol` (any when `None`), and of those only the ones
    /// with ports when `needs_ports`. Bit by bit, not value by value: rules number thousands.
    fn restrict_class(&mut self, protocol: Option<u8>, needs_ports: bool) {
        let mut keep = [0u64; CLASS_VALUES / 64];
        let mut set = |v: usize| keep[v / 64] |= 1 << (v % 64);
        // A class value is the protocol, plus CLASS_PORTS when the packet has ports.
        let lowest = if needs_ports { CLASS_PORTS as usize } else { 0 };
        match protocol {
            Some(p) => (lowest..CLASS_VALUES).step_by(CLASS_PORTS as usize).for_each(|v| set(v | usize::from(p))),
            None => (lowest..CLASS_VALUES).for_each(&mut set),
        }
        for (c, k) in self.class.iter_mut().zip(keep) {
            *c &= k;
        }
    }

    fn from_rule(set: u32, index: u32, rule: &Rule, ipv6: bool) -> Self {
        let mut r = KeyRule::any(set, index, rule.action == RuleAction::Accept);
        let needs_ports = rule.source_ports.is_some() || rule.destination_ports.is_some();
        r.restrict_class(rule.protocol, needs_ports);
        if let Some(pr) = rule.destination_ports {
            r.ranges[F_DPORT] = (u32::from(pr.from), u32::from(pr.to));
        }
        if let Some(pr) = rule.source_ports {
            r.ranges[F_SPORT] = (u32::from(pr.from), u32::from(pr.to));
        }
        for (cidr, first) in [(rule.destination, F_DST), (rule.source, field::src(ipv6))] {
            if let Some(c) = cidr {
                for (i, range) in c.word_ranges().enumerate() {
                    r.ranges[first + i] = range;
                }
            }
        }
        r
    }
}

struct Builder<'a> {
    rules: &'a [KeyRule],
    /// How many rule sets (sessions) there are.
    sets: usize,
    arena: Vec<u32>,
    small: Vec<SmallNode>,
    /// Sub-problems already built: fields decided -> live rules -> node reference. Nested, so
    /// that a lookup borrows the live rules instead of copying them.
    memo: FxHashMap<u16, FxHashMap<Vec<u32>, u32>>,
    /// The leaves' outcomes, by index...
    outcomes: Vec<Outcome>,
    /// ...and by value.
    by_outcome: FxHashMap<Outcome, u32>,
}

/// What [`Builder::normalize`] finds: every set tried is decided, or a field must be split.
enum Normal {
    /// The rules that decide, one per set that some rule decides, in order.
    Leaf(Vec<u32>),
    /// The rules still alive.
    Split(Vec<u32>),
}

impl Builder<'_> {
    /// Builds (or reuses) the node deciding among `live` rules (indices, in evaluation order),
    /// all of which match the packet in every field of `decided` (one bit per field index).
    fn node(&mut self, decided: u16, live: Vec<u32>) -> Result<u32, CompileError> {
        let live = match self.normalize(decided, live) {
            Normal::Leaf(deciders) => return self.leaf(&deciders),
            Normal::Split(live) => live,
        };
        if let Some(&n) = self.memo.get(&decided).and_then(|m| m.get(live.as_slice())) {
            return Ok(n);
        }
        let field = self.split_field(decided, &live);

        // Elementary intervals start at 0, at every range start and after every range end.
        let mut starts: Vec<(u32, u32)> = Vec::with_capacity(live.len());
        let mut ends: Vec<(u32, u32)> = Vec::with_capacity(live.len());
        for &r in &live {
            let (lo, hi) = self.rules[r as usize].ranges[field];
            starts.push((lo, r));
            if hi != u32::MAX {
                ends.push((hi + 1, r));
            }
        }
        let mut bounds: Vec<u32> = starts.iter().chain(&ends).map(|&(b, _)| b).chain([0]).collect();
        bounds.sort_unstable();
        bounds.dedup();
        starts.sort_unstable();
        ends.sort_unstable();

        // Sweep the intervals, keeping the live rules that cover each one.
        let (mut si, mut ei) = (0, 0);
        let mut active = BTreeSet::new();
        let mut children: Vec<(u32, u32)> = Vec::with_capacity(bounds.len());
        for &b in &bounds {
            while ei < ends.len() && ends[ei].0 <= b {
                active.remove(&ends[ei].1);
                ei += 1;
            }
            while si < starts.len() && starts[si].0 <= b {
                active.insert(starts[si].1);
                si += 1;
            }
            let child = self.node(decided | 1 << field, active.iter().copied().collect())?;
            if children.last().is_none_or(|&(_, c)| c != child) {
                children.push((b, child));
            }
        }

        let n = children.len();
        let lower: Vec<u32> = children.iter().skip(1).map(|&(b, _)| b).collect();
        if n <= SMALL {
            let last = children[n - 1].1;
            let mut node = SmallNode { below: [i32::MAX; SMALL], children: [last; SMALL] };
            // A lower bound is never 0 (the first interval starts there): minus one stays
            // in range.
            for (b, &l) in node.below.iter_mut().zip(&lower) {
                *b = bias(l) - 1;
            }
            for (i, &(_, c)) in children.iter().enumerate() {
                node.children[i] = c;
            }
            self.reserve(SMALL * 2)?;
            self.small.push(node);
            let r = (self.small.len() - 1) as u32 | (field as u32) << SMALL_FIELD_SHIFT;
            self.memo.entry(decided).or_default().insert(live, r);
            return Ok(r);
        }
        let at = self.arena.len();
        let (lo, shift) = bucket_layout(&lower);
        let buckets = ((u64::from(lower[lower.len() - 1] - lo) >> shift) + 1) as usize;
        self.reserve(4 + buckets + 3 + lower.len() + WINDOW + n)?;
        self.arena.extend([((field as u32) << FIELD_SHIFT) | n as u32, lo, shift, buckets as u32]);
        // Nothing is below lo, the first bound; everything is below the values beyond.
        self.arena.push(0);
        for b in 0..buckets {
            let start = u64::from(lo) + ((b as u64) << shift);
            self.arena.push(lower.partition_point(|&x| u64::from(x) < start) as u32);
        }
        self.arena.extend([lower.len() as u32; 2]);
        self.arena.extend(&lower);
        self.arena.extend([u32::MAX; WINDOW]);
        self.arena.extend(children.iter().map(|&(_, c)| c));
        let node = at as u32 | LARGE;
        self.memo.entry(decided).or_default().insert(live, node);
        Ok(node)
    }

    /// The field to split on next: of those some live rule constrains and the path has not
    /// decided, the one after which the fewest rules stay live, on average over the field's
    /// values. On a tie the earlier field in the key wins, ports before addresses. Traffic
    /// outside every rule's addresses then leaves a long list of address-and-port rules after
    /// one split instead of walking their ports first.
    fn split_field(&self, decided: u16, live: &[u32]) -> usize {
        let open = live.iter().fold(0, |m, &r| m | self.rules[r as usize].constrains) & !decided;
        let mut best = (f64::INFINITY, 0);
        for field in (1..KEY_LEN).filter(|&f| open >> f & 1 != 0) {
            let mean = self.mean_live(field, live);
            if mean < best.0 {
                best = (mean, field);
            }
        }
        assert!(best.0.is_finite(), "normalize keeps a rule that decides nothing only with a field left to split");
        best.1
    }

    /// How many of the `live` rules cover a value of `field`, on average over its values: the
    /// area under the coverage count, which is the sum of the rules' range lengths.
    fn mean_live(&self, field: usize, live: &[u32]) -> f64 {
        let domain: u64 = if field == F_DPORT || field == F_SPORT { 1 << 16 } else { 1 << 32 };
        let area: u64 = live
            .iter()
            .map(|&r| {
                let (lo, hi) = self.rules[r as usize].ranges[field];
                u64::from(hi).min(domain - 1) + 1 - u64::from(lo)
            })
            .sum();
        area as f64 / domain as f64
    }

    /// Fails once the nodes would outgrow their limit.
    fn reserve(&self, words: usize) -> Result<(), CompileError> {
        if self.arena.len() + self.small.len() * SMALL * 2 + words > ARENA_LIMIT {
            return Err(CompileError::TooComplex { limit: ARENA_LIMIT });
        }
        Ok(())
    }

    /// Drops the live rules that can no longer change the outcome, given that only the fields
    /// of `decided` are known: in each set, those after one that matches everything left (the
    /// first match decides), and every set after one that surely accepts (it is never tried).
    /// When each set tried is decided, the leaf's rules. A reject that surely matches stays:
    /// it decides its set, and its hits are counted. The resolver rejects stay only in front
    /// of some rule of their set: they keep the set from mirroring resolver DNS that a rule
    /// would take, and count nothing.
    fn normalize(&self, decided: u16, live: Vec<u32>) -> Normal {
        let rules = self.rules;
        let decides = |r: u32| rules[r as usize].constrains & !decided == 0;
        let mut kept = Vec::with_capacity(live.len());
        let mut open = false;
        let mut i = 0;
        while i < live.len() {
            let set = rules[live[i] as usize].set;
            let end = i + live[i..].iter().take_while(|&&r| rules[r as usize].set == set).count();
            let group = &live[i..end];
            i = end;
            let cut = group.iter().position(|&r| decides(r)).map_or(group.len(), |p| p + 1);
            let mut group = &group[..cut];
            // Resolver rejects with no rule of the set alive behind them change nothing: the
            // set mirrors nothing here either way, and no rule decides. Dropping them keeps the
            // walks of ordinary traffic as short as without them.
            while let Some((&last, rest)) = group.split_last() {
                if rules[last as usize].rule != RESOLVER {
                    break;
                }
                group = rest;
            }
            let Some(&first) = group.first() else { continue };
            kept.extend_from_slice(group);
            if !decides(first) {
                open = true;
            } else if rules[first as usize].accept {
                break;
            }
        }
        if open { Normal::Split(kept) } else { Normal::Leaf(kept) }
    }

    /// The leaf whose outcome `deciders` (one deciding rule per set, in set order) make.
    fn leaf(&mut self, deciders: &[u32]) -> Result<u32, CompileError> {
        let rules = self.rules;
        let winner = deciders.last().map(|&r| &rules[r as usize]).filter(|r| r.accept).map(|r| r.set);
        let mut tried = vec![Verdict::NoRule; winner.map_or(self.sets, |w| w as usize + 1)];
        for k in deciders.iter().map(|&r| &rules[r as usize]).filter(|k| k.rule != RESOLVER) {
            tried[k.set as usize] = Verdict::Rule(k.rule);
        }
        let leaf = |o: usize| LEAF | (o as u32) << WINNER_BITS | winner.map_or(0, |w| w + 1);
        let outcome = Outcome { winner, tried: tried.into() };
        if let Some(&o) = self.by_outcome.get(&outcome) {
            return Ok(leaf(o as usize));
        }
        let o = self.outcomes.len();
        if o == MAX_OUTCOMES {
            return Err(CompileError::TooManyOutcomes { limit: MAX_OUTCOMES });
        }
        self.outcomes.push(outcome.clone());
        self.by_outcome.insert(outcome, o as u32);
        Ok(leaf(o))
    }
}
