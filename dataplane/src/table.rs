//! The compiled session table: everything a worker needs to decide and build copies,
//! immutable once published (see [`rcu`](crate::rcu)).

use crate::filter::{Classifier, CompileError, Exclusions, Rule, RuleSet};
use crate::encap::Template;
use crate::spread::Spread;
use crate::stats::OutcomeCounters;
use crate::types::{CollectorSlot, CopySkip, CounterSlot, Direction, SessionIdx, TargetSlot};
use std::sync::Arc;

/// One filter, rules sorted by rule number within each direction.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FilterRules {
    /// The filter's id (`tmf-...`), for hit counters and `explain`.
    pub id: Arc<str>,
    /// Ingress rules.
    pub ingress: Vec<Rule>,
    /// Egress rules.
    pub egress: Vec<Rule>,
    /// The `amazon-dns` network service: DNS to the VPC resolver may be mirrored.
    pub amazon_dns: bool,
}

impl FilterRules {
    /// The rules of one direction.
    pub fn rules(&self, dir: Direction) -> &[Rule] {
        match dir {
            Direction::Ingress => &self.ingress,
            Direction::Egress => &self.egress,
        }
    }
}

/// A compiled table, published whole to the workers.
pub struct Table {
    /// Counts publications, for logs and tests.
    pub generation: u64,
    /// By port index.
    pub ports: Box<[PortRules]>,
    /// By [`SessionIdx`], as [`SourceRules::sessions`] refers to them. The control plane
    /// numbers sessions by counter slot, so an index means the same session in the next table
    /// and a source's compiled rules can be shared by both; unused indices hold a session
    /// that no source names. Shared with the next table when no session's copies change.
    pub sessions: Arc<[SessionOut]>,
    /// Traffic never mirrored, and the VPC resolvers.
    pub exclusions: Exclusions,
}

impl Table {
    /// The session `i` names.
    #[inline(always)]
    pub fn session(&self, i: SessionIdx) -> &SessionOut {
        &self.sessions[i.0 as usize]
    }

    /// A table that mirrors nothing.
    pub fn empty(ports: usize) -> Self {
        Table {
            generation: 0,
            ports: (0..ports).map(|_| PortRules::default()).collect(),
            sessions: Arc::new([]),
            exclusions: Exclusions::default(),
        }
    }
}

/// The sources on one port, by direction.
#[derive(Clone, Default)]
pub struct PortRules {
    /// Sources whose frames are received on this port.
    pub egress: SourceSet,
    /// Sources whose frames are sent out of this port.
    pub ingress: SourceSet,
}

/// The sources of one port in one direction, found by a frame's MAC: a frame's cost does not
/// grow with the number of monitored hosts on its port. At most one source sees every frame
/// (one without a MAC); the others each see one MAC's frames. Cloning shares it: a table
/// shares the sets of the ports a change did not touch with the table before it.
#[derive(Clone, Default)]
pub struct SourceSet {
    /// The source without a MAC, and its place among the port's sources.
    every: Option<(u32, Arc<SourceRules>)>,
    /// The sources with a MAC, in their order; `by_mac` indexes them.
    with_mac: Arc<[Arc<SourceRules>]>,
    by_mac: MacIndex,
}

/// Why sources cannot share a port: a frame would belong to two of them.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SharedPortError {
    /// Two sources without a MAC.
    #[error("two sources without a MAC on one port")]
    TwoWithoutMac,
    /// Two sources with the same MAC.
    #[error("two sources with MAC {0:02x?} on one port")]
    SameMac([u8; 6]),
}

impl SourceSet {
    /// The sources of one port and direction, in the order their copies of a frame are made.
    pub fn new(sources: impl IntoIterator<Item = Arc<SourceRules>>) -> Result<Self, SharedPortError> {
        let (mut every, mut with_mac) = (None, Vec::new());
        for (pos, s) in sources.into_iter().enumerate() {
            match s.mac {
                None if every.is_some() => return Err(SharedPortError::TwoWithoutMac),
                None => every = Some((pos as u32, s)),
                Some(_) => with_mac.push((pos as u32, s)),
            }
        }
        let by_mac = MacIndex::new(&with_mac)?;
        Ok(SourceSet { every, with_mac: with_mac.into_iter().map(|(_, s)| s).collect(), by_mac })
    }

    /// No sources.
    pub fn is_empty(&self) -> bool {
        self.every.is_none() && self.with_mac.is_empty()
    }

    /// The source without a MAC, which sees every frame, if any.
    #[inline(always)]
    pub fn every(&self) -> Option<&SourceRules> {
        self.every.as_ref().map(|(_, s)| &**s)
    }

    /// Some sources have a MAC: a frame's are found by its MAC ([`seeing`](Self::seeing)).
    #[inline(always)]
    pub fn has_macs(&self) -> bool {
        !self.with_mac.is_empty()
    }

    /// The sources that see a frame whose source (egress) or destination (ingress) MAC is
    /// `mac`, in order: at most two.
    #[inline(always)]
    pub fn seeing(&self, mac: &[u8; 6]) -> [Option<&SourceRules>; 2] {
        let hit = if self.with_mac.is_empty() { None } else { self.by_mac.get(mac) };
        match (&self.every, hit) {
            (None, None) => [None, None],
            (Some((_, e)), None) => [Some(e), None],
            (None, Some((_, i))) => [Some(&self.with_mac[i as usize]), None],
            (Some((pe, e)), Some((ph, i))) => {
                let h = &*self.with_mac[i as usize];
                if *pe < ph { [Some(e), Some(h)] } else { [Some(h), Some(e)] }
            }
        }
    }

    /// Every source, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = &Arc<SourceRules>> {
        self.every.iter().map(|(_, s)| s).chain(self.with_mac.iter())
    }
}

/// An open-addressing hash of MACs to (place among the port's sources, index into
/// `with_mac`), at most half full.
#[derive(Clone, Default)]
struct MacIndex {
    /// (MAC as 48 bits | 1 << 48 when used, place, index); a power of two long.
    slots: Arc<[(u64, u32, u32)]>,
}

impl MacIndex {
    const USED: u64 = 1 << 48;

    fn key(mac: &[u8; 6]) -> u64 {
        let mut b = [0u8; 8];
        b[..6].copy_from_slice(mac);
        u64::from_le_bytes(b) | Self::USED
    }

    #[inline(always)]
    fn home(&self, key: u64) -> usize {
        Self::home_in(key, self.slots.len() - 1)
    }

    #[inline(always)]
    fn home_in(key: u64, mask: usize) -> usize {
        // Fibonacci hashing: the multiply spreads the OUI and serial bits over the top bits.
        (key.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 32) as usize & mask
    }

    fn new(sources: &[(u32, Arc<SourceRules>)]) -> Result<Self, SharedPortError> {
        if sources.is_empty() {
            return Ok(MacIndex::default());
        }
        let mut slots = vec![(0, 0, 0); (sources.len() * 2).next_power_of_two()];
        let mask = slots.len() - 1;
        for (i, (pos, s)) in sources.iter().enumerate() {
            let mac = s.mac.expect("only sources with a MAC are indexed");
            let key = Self::key(&mac);
            let mut at = Self::home_in(key, mask);
            while slots[at].0 != 0 {
                if slots[at].0 == key {
                    return Err(SharedPortError::SameMac(mac));
                }
                at = (at + 1) & mask;
            }
            slots[at] = (key, *pos, i as u32);
        }
        Ok(MacIndex { slots: slots.into() })
    }

    /// The place and index of the source with this MAC.
    #[inline(always)]
    fn get(&self, mac: &[u8; 6]) -> Option<(u32, u32)> {
        let key = Self::key(mac);
        let mut at = self.home(key);
        loop {
            let (k, pos, i) = self.slots[at];
            if k == key {
                return Some((pos, i));
            }
            if k == 0 {
                return None;
            }
            at = (at + 1) & (self.slots.len() - 1);
        }
    }
}

/// One source in one direction: which frames are its own, and its sessions' compiled filters
/// (what [`decide`](crate::decide) reads of it), with how often each decided.
pub struct SourceRules {
    /// The network interface's id (`eni-...`), for `explain`.
    pub id: Arc<str>,
    /// Only frames from (egress) or to (ingress) this MAC; every frame when `None`
    /// ([`SourceSet`] finds a frame's sources by it).
    pub mac: Option<[u8; 6]>,
    /// The direction its frames are, seen from the source.
    pub dir: Direction,
    /// The compiled filters for IPv4.
    pub v4: Compiled,
    /// The compiled filters for IPv6.
    pub v6: Compiled,
    /// The session of each classifier result (rule set), i.e. the enabled sessions by
    /// session number.
    pub sessions: Box<[SessionIdx]>,
    /// The filter of each session, in the same order: what outcomes' rule indices point into.
    pub filters: Box<[Arc<FilterRules>]>,
}

/// One address family's compiled filters of a source, and how often each outcome decided.
pub struct Compiled {
    /// The decision structure.
    pub classifier: Classifier,
    /// By worker and outcome.
    pub hits: OutcomeCounters,
}

impl Compiled {
    fn new(classifier: Classifier, workers: usize) -> Self {
        let hits = OutcomeCounters::new(workers, classifier.outcomes());
        Compiled { classifier, hits }
    }
}

impl SourceRules {
    /// Compiles the sessions of network interface `id` for one direction; `sessions` holds
    /// (session, filter), in ascending session number; `exclusions` gives the VPC resolvers;
    /// `workers` count its rules' hits.
    pub fn build(id: &str, mac: Option<[u8; 6]>, dir: Direction, sessions: &[(SessionIdx, Arc<FilterRules>)], exclusions: &Exclusions, workers: usize) -> Result<Self, CompileError> {
        let filters: Vec<&FilterRules> = sessions.iter().map(|(_, f)| &**f).collect();
        let (v4, v6) = Self::classifiers(dir, &filters, exclusions)?;
        Ok(Self::with_classifiers(id, mac, dir, sessions, (v4, v6), workers))
    }

    /// The IPv4 and IPv6 classifiers of sessions with `filters` (in ascending session number)
    /// in direction `dir`: what sources whose sessions have the same filters can share.
    pub fn classifiers(dir: Direction, filters: &[&FilterRules], exclusions: &Exclusions) -> Result<(Classifier, Classifier), CompileError> {
        let sets: Vec<RuleSet> = filters.iter().map(|f| RuleSet { rules: f.rules(dir), amazon_dns: f.amazon_dns }).collect();
        Ok((Classifier::build(&sets, false, &exclusions.resolvers(false))?, Classifier::build(&sets, true, &exclusions.resolvers(true))?))
    }

    /// Source `id` over classifiers already built for its sessions' filters (shared with other
    /// sources); its hit counters are its own.
    pub fn with_classifiers(id: &str, mac: Option<[u8; 6]>, dir: Direction, sessions: &[(SessionIdx, Arc<FilterRules>)], (v4, v6): (Classifier, Classifier), workers: usize) -> Self {
        SourceRules {
            id: id.into(),
            mac,
            dir,
            v4: Compiled::new(v4, workers),
            v6: Compiled::new(v6, workers),
            sessions: sessions.iter().map(|(s, _)| *s).collect(),
            filters: sessions.iter().map(|(_, f)| f.clone()).collect(),
        }
    }

    /// The compiled filters of one address family.
    #[inline(always)]
    pub fn family(&self, ipv6: bool) -> &Compiled {
        if ipv6 { &self.v6 } else { &self.v4 }
    }

    /// Calls `f` with each rule that has decided packets, and how many it decided: its hits.
    /// A rule is counted once for each session it decided a packet for (a reject of one
    /// session and the accept of the next both count).
    pub fn rule_hits(&self, mut f: impl FnMut(&FilterRules, &Rule, u64)) {
        for c in [&self.v4, &self.v6] {
            for o in 0..c.classifier.outcomes() as u32 {
                let n = c.hits.total(o);
                if n == 0 {
                    continue;
                }
                for (set, i) in c.classifier.outcome(o).deciding_rules() {
                    let filter = &self.filters[set];
                    f(filter, &filter.rules(self.dir)[i], n);
                }
            }
        }
    }
}

/// How one session's copies are built and where they go.
#[derive(Clone, PartialEq, Eq)]
pub struct SessionOut {
    /// The session's id (`tms-...`), for `explain`.
    pub id: Arc<str>,
    /// Where its copies are counted (stable across table swaps).
    pub slot: CounterSlot,
    /// Where its target's skips are counted.
    pub target: TargetSlot,
    /// Port index of the target's mirror port.
    pub port: u16,
    /// Most bytes of the original a copy carries (packet length and target MTU).
    pub max_inner: u32,
    /// The target's collectors in service (next hop resolved and, behind a load balancer,
    /// healthy), each with its outer headers. Empty when none is: copies are then skipped
    /// and counted as [`empty`](Self::empty) says.
    pub collectors: Box<[CollectorOut]>,
    /// With two collectors or more, which one a flow's hash picks: consistent hashing, so a
    /// collector leaving or coming back moves only its own flows. `None` with one or none.
    pub spread: Option<Arc<Spread>>,
    /// Why copies are skipped while no collector is in service: [`CopySkip::Unresolved`] or
    /// [`CopySkip::NoHealthyCollector`].
    pub empty: CopySkip,
}

/// One collector of a session's target: the outer headers of copies to it, and where they
/// are counted.
#[derive(Clone, PartialEq, Eq)]
pub struct CollectorOut {
    /// The outer headers.
    pub outer: Template,
    /// Its counters (stable across table swaps and health changes).
    pub slot: CollectorSlot,
    /// The session's counter slot and this one in one word ([`CountedAt`]), so that the worker
    /// tells runs of copies counted alike apart with one compare.
    pub counted: CountedAt,
}

impl CollectorOut {
    /// Copies of session `session` to the collector counted in `slot`, with headers `outer`.
    pub fn new(outer: Template, session: CounterSlot, slot: CollectorSlot) -> Self {
        CollectorOut { outer, slot, counted: CountedAt::new(session, Direction::Ingress, slot) }
    }
}

/// Where a copy is counted, in one word: its session's slot, its direction and its
/// collector's slot.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CountedAt(u64);

impl CountedAt {
    const DIR: u32 = 32;
    const SESSION: u32 = 33;

    /// Session slot, direction and collector slot (session slots below 2^31).
    pub fn new(session: CounterSlot, dir: Direction, collector: CollectorSlot) -> Self {
        debug_assert!(session.0 < 1 << 31);
        CountedAt(u64::from(session.0) << Self::SESSION | u64::from(dir as u8) << Self::DIR | u64::from(collector.0))
    }

    /// The same, in direction `dir` (which it was built with [`Direction::Ingress`]).
    #[inline(always)]
    pub fn toward(self, dir: Direction) -> Self {
        CountedAt(self.0 | u64::from(dir as u8) << Self::DIR)
    }

    /// The session's counter slot.
    #[inline(always)]
    pub fn session(self) -> CounterSlot {
        CounterSlot((self.0 >> Self::SESSION) as u32)
    }

    /// The direction.
    #[inline(always)]
    pub fn dir(self) -> Direction {
        if self.0 >> Self::DIR & 1 == 0 { Direction::Ingress } else { Direction::Egress }
    }

    /// The collector's counter slot.
    #[inline(always)]
    pub fn collector(self) -> CollectorSlot {
        CollectorSlot(self.0 as u32)
    }
}

impl SessionOut {
    /// A session that sends nothing (an index no source names).
    pub fn unused(slot: CounterSlot) -> Self {
        SessionOut { id: "".into(), slot, target: TargetSlot(0), port: 0, max_inner: 0, collectors: Box::new([]), spread: None, empty: CopySkip::Unresolved }
    }

    /// A session whose copies all go to one collector, counted in target and collector slot
    /// 0 (for tests and benches).
    pub fn single(slot: CounterSlot, port: u16, max_inner: u32, outer: Template) -> Self {
        let collectors = Box::new([CollectorOut::new(outer, slot, CollectorSlot(0))]);
        SessionOut { id: "tms".into(), slot, target: TargetSlot(0), port, max_inner, collectors, spread: None, empty: CopySkip::Unresolved }
    }

    /// The collector that copies of a flow with hash `hash` go to; `None` while no collector
    /// is in service. One collector (a network interface, or one left in service) needs no
    /// lookup; more share the flows by [`spread`](Self::spread).
    #[inline(always)]
    pub fn collector(&self, hash: u32) -> Option<&CollectorOut> {
        match &self.spread {
            None => self.collectors.first(),
            Some(spread) => self.collectors.get(spread.pick(hash)),
        }
    }
}
