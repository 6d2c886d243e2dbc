//! Classification: which of a source's sessions, if any, mirrors a packet.
//!
//! SPEC.md's model is linear: sessions in ascending session number, each trying its filter's
//! rules of the packet's direction in ascending rule number; the first matching rule decides
//! (`accept` mirrors), and the first session that accepts wins. [`reference`] is that model,
//! written plainly; it is what the tests check the compiled form against.
//!
//! [`Classifier`] is the compiled form the workers use. All the rules of all the sessions become
//! ranges over a fixed key of packet fields; the builder splits the key space field by field
//! (one level per field, like a decision diagram over the rule sets still alive), merging
//! identical sub-problems, and drops rules that can no longer decide the outcome. Each node
//! picks the field that leaves the fewest rules alive on average. A lookup is one table load for
//! the class, then at most one range search per range field (4 for IPv4, 10 for IPv6), however
//! many rules there are.

use crate::parse::{field, Packet, KEY_LEN};
use crate::wire::proto;
use rustc_hash::FxHashMap;
use std::collections::BTreeSet;

/// A filter rule's verdict.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Action {
    Accept,
    Reject,
}

/// An inclusive port range.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PortRange {
    pub from: u16,
    pub to: u16,
}

/// An IPv4 or IPv6 prefix; host bits are ignored.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Cidr {
    /// The address, IPv4 in the low 32 bits.
    pub addr: u128,
    pub len: u8,
    pub ipv6: bool,
}

impl Cidr {
    /// Does the prefix contain the address `words` (laid out as [`Packet::src`])?
    pub fn contains(&self, ipv6: bool, words: &[u32; 4]) -> bool {
        if ipv6 != self.ipv6 {
            return false;
        }
        let (addr, bits) = if ipv6 {
            let a = words.iter().fold(0u128, |acc, w| (acc << 32) | u128::from(*w));
            (a, 128)
        } else {
            (u128::from(words[0]), 32)
        };
        let shift = bits - u32::from(self.len);
        shift >= bits || (addr ^ self.addr) >> shift == 0
    }

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

/// One filter rule, as SPEC.md defines it. `None` fields match everything.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Rule {
    pub number: u16,
    pub action: Action,
    pub protocol: Option<u8>,
    pub source: Option<Cidr>,
    pub destination: Option<Cidr>,
    pub source_ports: Option<PortRange>,
    pub destination_ports: Option<PortRange>,
}

impl Rule {
    /// The address family the rule is limited to: `Some(true)` IPv6, `Some(false)` IPv4, `None`
    /// both (a rule with neither CIDR). Validation rejects a rule that mixes families.
    pub fn family(&self) -> Option<bool> {
        self.source.or(self.destination).map(|c| c.ipv6)
    }

    /// The linear model's match test.
    pub fn matches(&self, p: &Packet) -> bool {
        if self.family().is_some_and(|v6| v6 != p.ipv6) {
            return false;
        }
        let port_ok = |r: Option<PortRange>, port: u16| {
            r.is_none_or(|r| p.has_ports() && r.from <= port && port <= r.to)
        };
        self.protocol.is_none_or(|x| x == p.protocol())
            && self.source.is_none_or(|c| c.contains(p.ipv6, &p.src()))
            && self.destination.is_none_or(|c| c.contains(p.ipv6, &p.dst()))
            && port_ok(self.source_ports, p.sport())
            && port_ok(self.destination_ports, p.dport())
    }
}

/// One session's view of its filter in one direction: the rules in evaluation (ascending
/// rule-number) order, and whether DNS to the VPC resolver is allowed through (`amazon-dns`).
#[derive(Clone, Copy, Debug)]
pub struct RuleSet<'a> {
    pub rules: &'a [Rule],
    pub amazon_dns: bool,
}

/// SPEC.md's evaluation, literally: the index of the first rule set (session) that accepts the
/// packet. `resolver_dns` says the packet is DNS to or from the VPC resolver.
pub fn reference(sets: &[RuleSet], p: &Packet, resolver_dns: bool) -> Option<usize> {
    sets.iter().position(|set| {
        (set.amazon_dns || !resolver_dns)
            && set.rules.iter().find(|r| r.matches(p)).is_some_and(|r| r.action == Action::Accept)
    })
}

/// Traffic SPEC.md never mirrors whatever the rules say, and the DNS that only `amazon-dns`
/// filters mirror.
#[derive(Clone, Debug, Default)]
pub struct Exclusions {
    /// VPC resolver addresses: 169.254.169.253 plus configured ones.
    pub resolvers_v4: Vec<u32>,
    /// fd00:ec2::253 plus configured ones.
    pub resolvers_v6: Vec<[u32; 4]>,
    /// Outer source addresses of our own copies, and their UDP destination ports: such
    /// packets are our VXLAN copies coming back, never mirrored again.
    pub own_ips: Vec<u32>,
    pub own_ports: Vec<u16>,
}

/// The instance metadata and time services (IPv4).
pub const METADATA_V4: [u32; 2] = [0xa9fe_a9fe, 0xa9fe_a97b];
/// The instance metadata and time services (IPv6: fd00:ec2::254, fd00:ec2::123).
pub const METADATA_V6: [[u32; 4]; 2] = [[0xfd00_0ec2, 0, 0, 0x254], [0xfd00_0ec2, 0, 0, 0x123]];
/// The VPC resolver (169.254.169.253).
pub const RESOLVER_V4: u32 = 0xa9fe_a9fd;
/// The VPC resolver (fd00:ec2::253).
pub const RESOLVER_V6: [u32; 4] = [0xfd00_0ec2, 0, 0, 0x253];
const DNS_PORT: u16 = 53;
/// DHCP's server and client ports.
const DHCP_PORTS: (u16, u16) = (67, 68);

impl Exclusions {
    /// Exclusions with AWS's resolver addresses and the given extra ones.
    pub fn new(extra_v4: &[u32], extra_v6: &[[u32; 4]]) -> Self {
        Exclusions {
            resolvers_v4: [RESOLVER_V4].iter().chain(extra_v4).copied().collect(),
            resolvers_v6: [RESOLVER_V6].iter().chain(extra_v6).copied().collect(),
            ..Exclusions::default()
        }
    }

    /// DHCP, the metadata and time services, and our own VXLAN copies: never mirrored.
    /// Every mirrored packet pays for this, so the common tests are branch-free.
    #[inline]
    pub fn never_mirrored(&self, p: &Packet) -> bool {
        let udp = p.key[field::CLASS] == u32::from(proto::UDP) | field::CLASS_PORTS;
        let dhcp = |port: u16| port.wrapping_sub(DHCP_PORTS.0) <= DHCP_PORTS.1 - DHCP_PORTS.0;
        if udp & (dhcp(p.sport()) | dhcp(p.dport())) {
            return true;
        }
        if p.ipv6 {
            return METADATA_V6.contains(&p.src()) || METADATA_V6.contains(&p.dst());
        }
        let (src, dst) = (p.src_v4(), p.dst_v4());
        let meta = |a: u32| (a == METADATA_V4[0]) | (a == METADATA_V4[1]);
        meta(src) | meta(dst) || udp && self.own_ports.contains(&p.dport()) && self.own_ips.contains(&src)
    }

    /// DNS (TCP or UDP port 53) to or from a VPC resolver. The workers never ask: the
    /// compiled classifiers hold the resolvers as rules ([`Classifier::build`]); this is the
    /// linear model's test.
    pub fn resolver_dns(&self, p: &Packet) -> bool {
        if !p.has_ports() || p.sport() != DNS_PORT && p.dport() != DNS_PORT {
            return false;
        }
        let (to, from) = if p.ipv6 {
            (self.resolvers_v6.contains(&p.dst()), self.resolvers_v6.contains(&p.src()))
        } else {
            (self.resolvers_v4.contains(&p.dst_v4()), self.resolvers_v4.contains(&p.src_v4()))
        };
        to && p.dport() == DNS_PORT || from && p.sport() == DNS_PORT
    }

    /// The resolver addresses of one family, as key words (IPv4 in the first).
    pub fn resolvers(&self, ipv6: bool) -> Vec<[u32; 4]> {
        if ipv6 {
            self.resolvers_v6.clone()
        } else {
            self.resolvers_v4.iter().map(|&a| [a, 0, 0, 0]).collect()
        }
    }
}

// The classification key is the parsed packet itself (`parse::field` has its layout). The
// class comes first and is looked up in a direct table, since most rules constrain the
// protocol or the ports flag and a table costs one load. The range fields follow, ports
// first: where splitting on a port or an address would leave as many rules alive, the builder
// takes the port ([`Builder::split_field`]), as most rules constrain ports and leave some
// address wildcarded, which lets subtrees collapse once only wildcards remain.
const F_CLASS: usize = field::CLASS;
const F_DPORT: usize = field::DPORT;
const F_SPORT: usize = field::SPORT;
const F_DST: usize = field::DST;
const V4_FIELDS: usize = field::V4;
const V6_FIELDS: usize = field::V6;
const CLASS_PORTS: u32 = field::CLASS_PORTS;
const CLASS_VALUES: usize = 1 << 9;
const FIELD_MASK: usize = KEY_LEN - 1;
const _: () = assert!(KEY_LEN.is_power_of_two() && V6_FIELDS <= KEY_LEN && CLASS_PORTS == 1 << 8 && CLASS_VALUES == 1 << 9);

/// Why a rule list could not be compiled.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CompileError {
    #[error(
        "the rules are too complex to compile (over {limit} decision-table words); \
         use fewer overlapping CIDRs and port ranges"
    )]
    TooComplex { limit: usize },
}

/// Marks a leaf reference; the low bits hold the winning set's index + 1, or 0 for none.
const LEAF: u32 = 1 << 31;
/// Marks a reference to a large node in the arena; other references index the small nodes.
const LARGE: u32 = 1 << 30;
/// Intervals a small node holds: its bounds and children fill one cache line.
const SMALL: usize = 8;
const NO_MATCH: u32 = LEAF;
/// Node header: field index in the top byte, then the interval count.
const FIELD_SHIFT: u32 = 24;
const COUNT_MASK: u32 = (1 << FIELD_SHIFT) - 1;
/// Bounds a large node's lookup counts at once: a fixed-length window, which the compiler
/// turns into a few SIMD compares with no branch on the value. Buckets are sized so that one
/// window almost always covers a bucket.
const WINDOW: usize = 8;
/// How many times more buckets than bounds a large node may use to keep its buckets within
/// one window where bounds cluster.
const BUCKETS_PER_BOUND: usize = 4;
/// Arena words one classifier may use: 256 MiB, far beyond 10,000 realistic rules.
const ARENA_LIMIT: usize = 64 << 20;

/// A node of at most [`SMALL`] intervals, in one cache line: the lookup counts the bounds
/// at or below the value over a fixed-length array, which the compiler turns into two SIMD
/// compares (no branch, no bounds check). Each bound is stored as the largest value below it,
/// biased ([`bias`]) so that the signed "greater than" SSE2 has orders them as unsigned: a
/// value above it is at or above the bound. At most `SMALL - 1` bounds are needed; the rest
/// are `i32::MAX`, which no value is above, so the count is a child's index as it is. The
/// field a node splits on travels in the reference to it ([`SMALL_FIELD_SHIFT`]), so its
/// value is loaded before the node is.
#[derive(Clone, Copy, Debug)]
#[repr(C, align(64))]
struct SmallNode {
    below: [i32; SMALL],
    children: [u32; SMALL],
}

/// A small-node reference: the node index in the low bits, the field above them.
const SMALL_FIELD_SHIFT: u32 = 26;
const SMALL_INDEX_MASK: u32 = (1 << SMALL_FIELD_SHIFT) - 1;
const SMALL_FIELD_MASK: u32 = 0xf;
const _: () = assert!(KEY_LEN <= SMALL_FIELD_MASK as usize + 1 && ARENA_LIMIT / (2 * SMALL) <= SMALL_INDEX_MASK as usize);

/// `v` as a signed number in the same order as `v` unsigned.
#[inline(always)]
fn bias(v: u32) -> i32 {
    (v ^ 1 << 31) as i32
}

/// A compiled, immutable classifier for one address family and one direction of one source.
#[derive(Clone, Debug)]
pub struct Classifier {
    /// Node for each class value (see [`key`]).
    class: Box<[u32; CLASS_VALUES]>,
    /// Nodes of up to [`SMALL`] intervals: almost all of them.
    small: Box<[SmallNode]>,
    /// Large nodes (more than [`SMALL`] intervals): `[header, lo, shift, buckets, bucket
    /// index (buckets + 3), n - 1 lower bounds, WINDOW u32::MAX, n children]`. Bucket 0 holds
    /// the values below `lo`, bucket b (1 to buckets) those from `lo + ((b - 1) << shift)`,
    /// bucket buckets + 1 the values beyond; entry b of the index counts the bounds below
    /// bucket b, so a lookup counts one window of bounds from its bucket's first, and none
    /// when the bucket holds no bound (as the first and last always do).
    arena: Box<[u32]>,
    /// No class value leads anywhere: nothing of this family is ever mirrored.
    empty: bool,
}

/// A rule as constraints over the key, tagged with its rule set.
#[derive(Clone)]
struct KeyRule {
    set: u32,
    accept: bool,
    /// Class values the rule matches, as a bitmap.
    class: [u64; CLASS_VALUES / 64],
    /// Inclusive range per range field (index 0, the class, unused).
    ranges: [(u32, u32); KEY_LEN],
    /// The range fields the rule constrains, one bit per field index.
    constrains: u16,
}

impl Classifier {
    /// Compiles `sets` (sessions in evaluation order) for IPv4 (`ipv6 == false`) or IPv6;
    /// `resolvers` are the VPC resolvers of that family (see [`Exclusions::resolvers`]).
    pub fn build(sets: &[RuleSet], ipv6: bool, resolvers: &[[u32; 4]]) -> Result<Self, CompileError> {
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
                        let mut k = KeyRule::any(set_id, false);
                        k.restrict_class(None, true);
                        k.ranges[port] = (u32::from(DNS_PORT), u32::from(DNS_PORT));
                        for (w, &v) in r[..words].iter().enumerate() {
                            k.ranges[addr + w] = (v, v);
                        }
                        rules.push(k);
                    }
                }
            }
            for rule in set.rules.iter().filter(|r| r.family().is_none_or(|v6| v6 == ipv6)) {
                rules.push(KeyRule::from_rule(set_id, rule, ipv6));
            }
        }
        for r in &mut rules {
            r.constrains = (1..nfields).filter(|&f| r.ranges[f] != (0, u32::MAX)).fold(0, |m, f| m | 1 << f);
        }
        let mut b = Builder { rules: &rules, arena: Vec::new(), small: Vec::new(), memo: FxHashMap::default() };
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
        let class = class.into_boxed_slice().try_into().expect("one node per class value");
        Ok(Classifier { class, small: b.small.into_boxed_slice(), arena: b.arena.into_boxed_slice(), empty })
    }

    /// The index of the rule set (session) that mirrors the packet, if any.
    #[inline(always)]
    pub fn classify(&self, p: &Packet) -> Option<usize> {
        self.lookup(&p.key)
    }

    /// [`classify`](Self::classify) on a packet's key.
    #[inline(always)]
    pub fn lookup(&self, key: &[u32; KEY_LEN]) -> Option<usize> {
        let mut r = self.root(key);
        while r & LEAF == 0 {
            r = self.step(r, key);
        }
        leaf_result(r)
    }

    /// Nodes a key's walk visits after the class table (for tests of the tree's shape).
    #[cfg(test)]
    fn steps(&self, key: &[u32; KEY_LEN]) -> usize {
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

    /// True when no packet of this family is ever mirrored: the workers skip the lookup.
    pub fn is_empty(&self) -> bool {
        self.empty
    }

    /// Size of the compiled form, for logs and benchmarks.
    pub fn memory_bytes(&self) -> usize {
        (self.arena.len() + self.class.len()) * 4 + self.small.len() * std::mem::size_of::<SmallNode>()
    }
}

/// The set index a leaf reference holds, if any.
#[inline(always)]
fn leaf_result(r: u32) -> Option<usize> {
    (r & !LEAF).checked_sub(1).map(|i| i as usize)
}

/// How many of `window`'s bounds are at or below `v`.
#[inline(always)]
fn count_at_or_below(window: &[u32; WINDOW], v: u32) -> usize {
    window.iter().map(|&b| u32::from(b <= v)).sum::<u32>() as usize
}

/// The first bucket's start and the bucket width (as a shift) for a large node's sorted
/// bounds: about one bound per bucket over the bounds' own range, then narrower buckets while
/// some bucket holds more than a window and the bucket count stays within
/// [`BUCKETS_PER_BOUND`] times the bounds.
fn bucket_layout(lower: &[u32]) -> (u32, u32) {
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
    fn any(set: u32, accept: bool) -> Self {
        KeyRule { set, accept, class: [u64::MAX; CLASS_VALUES / 64], ranges: [(0, u32::MAX); KEY_LEN], constrains: 0 }
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

    fn from_rule(set: u32, rule: &Rule, ipv6: bool) -> Self {
        let mut r = KeyRule::any(set, rule.action == Action::Accept);
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
    arena: Vec<u32>,
    small: Vec<SmallNode>,
    /// Sub-problems already built: fields decided -> live rules -> node reference. Nested, so
    /// that a lookup borrows the live rules instead of copying them.
    memo: FxHashMap<u16, FxHashMap<Vec<u32>, u32>>,
}

impl Builder<'_> {
    /// Builds (or reuses) the node deciding among `live` rules (indices, in evaluation order),
    /// all of which match the packet in every field of `decided` (one bit per field index).
    fn node(&mut self, decided: u16, mut live: Vec<u32>) -> Result<u32, CompileError> {
        if let Some(leaf) = self.normalize(decided, &mut live) {
            return Ok(leaf);
        }
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
    /// of `decided` are known. Returns the leaf when the outcome is already decided.
    fn normalize(&self, decided: u16, live: &mut Vec<u32>) -> Option<u32> {
        let rules = self.rules;
        let decides = |r: u32| rules[r as usize].constrains & !decided == 0;
        let mut kept = Vec::with_capacity(live.len());
        let mut i = 0;
        while i < live.len() {
            let set = rules[live[i] as usize].set;
            let end = i + live[i..].iter().take_while(|&&r| rules[r as usize].set == set).count();
            let group = &live[i..end];
            i = end;
            // Rules after one that matches everything left are shadowed.
            let cut = group.iter().position(|&r| decides(r)).map_or(group.len(), |p| p + 1);
            let mut group = &group[..cut];
            // Trailing rejects decide nothing: no match means "not mirrored" too.
            while let Some((&last, rest)) = group.split_last() {
                if rules[last as usize].accept {
                    break;
                }
                group = rest;
            }
            let Some(&first) = group.first() else { continue };
            kept.extend_from_slice(group);
            if decides(first) {
                // The set surely accepts (a deciding reject was stripped above): if no earlier
                // set is left it wins now, and no later set can ever win.
                if kept.len() == group.len() {
                    return Some(LEAF | (set + 1));
                }
                break;
            }
        }
        if kept.is_empty() {
            return Some(NO_MATCH);
        }
        *live = kept;
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::{Fields, Packet};
    use proptest::prelude::*;

    /// `p` with some fields changed.
    fn edit(p: Packet, change: impl FnOnce(&mut Fields)) -> Packet {
        let mut f = p.fields();
        change(&mut f);
        f.into()
    }

    fn v4(a: [u8; 4]) -> u32 {
        u32::from_be_bytes(a)
    }

    fn cidr4(a: [u8; 4], len: u8) -> Cidr {
        Cidr { addr: u128::from(v4(a)), len, ipv6: false }
    }

    fn tcp4(src: [u8; 4], dst: [u8; 4], sport: u16, dport: u16) -> Packet {
        Packet::from(Fields {
            l3_offset: 14,
            src: [v4(src), 0, 0, 0],
            dst: [v4(dst), 0, 0, 0],
            protocol: proto::TCP,
            has_ports: true,
            sport,
            dport,
            ..Fields::default()
        })
    }

    fn rule(number: u16, action: Action) -> Rule {
        Rule {
            number,
            action,
            protocol: None,
            source: None,
            destination: None,
            source_ports: None,
            destination_ports: None,
        }
    }

    /// The compiled classifier's answer, checked against the reference's.
    fn both(sets: &[RuleSet], p: &Packet) -> Option<usize> {
        let ex = Exclusions::new(&[], &[]);
        let c = Classifier::build(sets, p.ipv6, &ex.resolvers(p.ipv6)).unwrap();
        let got = c.classify(p);
        assert_eq!(got, reference(sets, p, ex.resolver_dns(p)), "compiled and reference disagree on {p:?}");
        got
    }

    #[test]
    fn cidr_contains() {
        let c = cidr4([10, 0, 0, 0], 8);
        assert!(c.contains(false, &[v4([10, 1, 2, 3]), 0, 0, 0]));
        assert!(!c.contains(false, &[v4([11, 0, 0, 0]), 0, 0, 0]));
        assert!(!c.contains(true, &[v4([10, 0, 0, 0]), 0, 0, 0]));
        assert!(cidr4([0, 0, 0, 0], 0).contains(false, &[u32::MAX, 0, 0, 0]));
        let v6 = Cidr { addr: 0x2001_0db8 << 96, len: 32, ipv6: true };
        assert!(v6.contains(true, &[0x2001_0db8, 1, 2, 3]));
        assert!(!v6.contains(true, &[0x2001_0db9, 0, 0, 0]));
    }

    #[test]
    fn first_matching_rule_decides() {
        let mut reject_ssh = rule(100, Action::Reject);
        reject_ssh.protocol = Some(6);
        reject_ssh.destination_ports = Some(PortRange { from: 22, to: 22 });
        let accept_all = rule(200, Action::Accept);
        let rules = [reject_ssh, accept_all];
        let sets = [RuleSet { rules: &rules, amazon_dns: false }];
        assert_eq!(both(&sets, &tcp4([1, 1, 1, 1], [2, 2, 2, 2], 5000, 22)), None);
        assert_eq!(both(&sets, &tcp4([1, 1, 1, 1], [2, 2, 2, 2], 5000, 80)), Some(0));
    }

    #[test]
    fn no_matching_rule_means_not_mirrored() {
        let mut r = rule(1, Action::Accept);
        r.destination = Some(cidr4([10, 0, 0, 0], 8));
        let rules = [r];
        let sets = [RuleSet { rules: &rules, amazon_dns: false }];
        assert_eq!(both(&sets, &tcp4([1, 1, 1, 1], [10, 9, 9, 9], 1, 2)), Some(0));
        assert_eq!(both(&sets, &tcp4([1, 1, 1, 1], [11, 9, 9, 9], 1, 2)), None);
    }

    #[test]
    fn a_later_session_gets_what_an_earlier_one_rejects() {
        let mut reject_web = rule(1, Action::Reject);
        reject_web.destination_ports = Some(PortRange { from: 80, to: 80 });
        reject_web.protocol = Some(6);
        let first = [reject_web, rule(2, Action::Accept)];
        let second = [rule(1, Action::Accept)];
        let sets = [RuleSet { rules: &first, amazon_dns: false }, RuleSet { rules: &second, amazon_dns: false }];
        assert_eq!(both(&sets, &tcp4([1, 1, 1, 1], [2, 2, 2, 2], 9, 80)), Some(1));
        assert_eq!(both(&sets, &tcp4([1, 1, 1, 1], [2, 2, 2, 2], 9, 81)), Some(0));
    }

    #[test]
    fn port_rules_never_match_non_first_fragments_or_other_protocols() {
        let mut r = rule(1, Action::Accept);
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
        let mut only_v4 = rule(1, Action::Accept);
        only_v4.source = Some(cidr4([0, 0, 0, 0], 0));
        let rules = [only_v4];
        let sets = [RuleSet { rules: &rules, amazon_dns: false }];
        let p6 = edit(tcp4([0; 4], [0; 4], 1, 2), |f| {
            f.ipv6 = true;
            f.src = [0x2001_0db8, 0, 0, 1];
        });
        assert_eq!(both(&sets, &p6), None);
        assert_eq!(both(&sets, &tcp4([9, 9, 9, 9], [1, 1, 1, 1], 1, 2)), Some(0));
        let any = [rule(1, Action::Accept)];
        let sets = [RuleSet { rules: &any, amazon_dns: false }];
        assert_eq!(both(&sets, &p6), Some(0));
    }

    #[test]
    fn resolver_dns_needs_amazon_dns() {
        let all = [rule(1, Action::Accept)];
        let without = [RuleSet { rules: &all, amazon_dns: false }];
        let with = [RuleSet { rules: &all, amazon_dns: true }];
        let p = tcp4([10, 0, 0, 5], [169, 254, 169, 253], 3333, 53);
        assert_eq!(both(&without, &p), None);
        assert_eq!(both(&with, &p), Some(0));
        let two = [RuleSet { rules: &all, amazon_dns: false }, RuleSet { rules: &all, amazon_dns: true }];
        assert_eq!(both(&two, &p), Some(1));
    }

    #[test]
    fn never_mirrored_traffic() {
        let ex = Exclusions::new(&[v4([10, 0, 0, 2])], &[]);
        let dhcp = edit(tcp4([0, 0, 0, 0], [255, 255, 255, 255], 68, 67), |f| f.protocol = proto::UDP);
        assert!(ex.never_mirrored(&dhcp));
        assert!(ex.never_mirrored(&tcp4([10, 0, 0, 5], [169, 254, 169, 254], 40000, 80)));
        assert!(ex.never_mirrored(&tcp4([169, 254, 169, 123], [10, 0, 0, 5], 123, 123)));
        let md6 = edit(tcp4([0; 4], [0; 4], 1, 80), |f| {
            f.ipv6 = true;
            f.dst = [0xfd00_0ec2, 0, 0, 0x254];
        });
        assert!(ex.never_mirrored(&md6));
        assert!(!ex.never_mirrored(&tcp4([10, 0, 0, 5], [10, 0, 0, 6], 68, 67)), "DHCP ports over TCP are not DHCP");
        let own = edit(tcp4([192, 0, 2, 1], [192, 0, 2, 10], 50000, 4789), |f| f.protocol = proto::UDP);
        assert!(!ex.never_mirrored(&own));
        let ex2 = Exclusions { own_ips: vec![v4([192, 0, 2, 1])], own_ports: vec![4789], ..ex.clone() };
        assert!(ex2.never_mirrored(&own));

        assert!(ex.resolver_dns(&tcp4([10, 0, 0, 5], [169, 254, 169, 253], 3000, 53)));
        assert!(ex.resolver_dns(&tcp4([10, 0, 0, 2], [10, 0, 0, 5], 53, 3000)), "replies from a configured resolver");
        assert!(!ex.resolver_dns(&tcp4([10, 0, 0, 5], [8, 8, 8, 8], 3000, 53)), "other DNS servers are ordinary traffic");
    }

    #[test]
    fn empty_filters_compile_to_nothing() {
        let sets = [RuleSet { rules: &[], amazon_dns: true }];
        assert!(Classifier::build(&sets, false, &[]).unwrap().is_empty());
        let rejects = [rule(1, Action::Reject)];
        let sets = [RuleSet { rules: &rejects, amazon_dns: false }];
        assert!(Classifier::build(&sets, true, &[RESOLVER_V6]).unwrap().is_empty());
    }

    #[test]
    fn ten_thousand_rules_compile_and_stay_shallow() {
        let mut rules = Vec::new();
        for i in 0..10_000u32 {
            let mut r = rule(i as u16 % 32766 + 1, if i % 7 == 0 { Action::Accept } else { Action::Reject });
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
            let mut r = rule(i as u16 + 1, Action::Accept);
            r.protocol = Some(6);
            r.destination = Some(cidr4([172, 16 + (i >> 8) as u8, i as u8, 0], 24));
            let from = (i * 7919 % 60000) as u16 + 1;
            r.destination_ports = Some(PortRange { from, to: from + 200 });
            rules.push(r);
        }
        let mut last = rule(4001, Action::Accept);
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
            hosts.iter().map(|&h| [Rule { destination: Some(cidr4(h, 32)), ..rule(1, Action::Accept) }]).collect();
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
            nets.iter().map(|&n| [Rule { destination: Some(cidr4(n, 24)), ..rule(1, Action::Accept) }]).collect();
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
                    number: 0,
                    action: if accept { Action::Accept } else { Action::Reject },
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
                number: 0,
                action: if accept { Action::Accept } else { Action::Reject },
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
            }
        }
    }
}
