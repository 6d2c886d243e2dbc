//! Counters across table swaps.
//!
//! Sessions, targets and the targets' collectors: each keeps a counter slot while it exists,
//! whatever else changes, and its figures are the sum of every worker's counters for that
//! slot, less what the slot held when it got it.
//!
//! Filter rules: each source's compiled filters count how often each of their outcomes
//! decided, and a rule's hits are the counts of the outcomes it decided in ([`RuleHits`]).
//! Compiled filters live as long as some table or the compiler holds them, so their counts
//! follow them from table to table; those of a source that is rebuilt are taken into a sum
//! once the last table that held them is retired.

use crate::config::{Config, ConfigError, Direction};
use dataplane::stats::{CollectorCounters, SessionCounters, TargetCounters, WorkerCounters};
use dataplane::table::{SourceRules, Table};
use dataplane::types::{CollectorSlot, CounterSlot, TargetSlot};
use serde::{Deserialize, Serialize};
// FxHash: a scrape looks up every session's slot.
use rustc_hash::FxHashMap as HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::Arc;

/// Collector slots the counters have for each target slot: a network interface or endpoint
/// has one collector, a load balancer a few.
pub const COLLECTORS_PER_TARGET: usize = 4;

/// One session's figures in one direction (AWS's four metrics, and the reasons for skips).
#[derive(Debug, Default, Serialize, Deserialize, Clone, Copy, PartialEq, Eq)]
pub struct DirReport {
    pub packets: u64,
    pub bytes: u64,
    pub truncated: u64,
    pub skip_packets: u64,
    pub skip_bytes: u64,
    pub skip_queue_full: u64,
    pub skip_no_mbuf: u64,
    pub skip_unresolved: u64,
    #[serde(default)]
    pub skip_no_healthy: u64,
}

impl DirReport {
    fn add(&mut self, c: &SessionCounters) {
        let (q, m, u, h) = (c.skip_queue_full.get(), c.skip_no_mbuf.get(), c.skip_unresolved.get(), c.skip_no_healthy.get());
        self.packets += c.packets.get();
        self.bytes += c.bytes.get();
        self.truncated += c.truncated.get();
        self.skip_queue_full += q;
        self.skip_no_mbuf += m;
        self.skip_unresolved += u;
        self.skip_no_healthy += h;
        self.skip_packets += q + m + u + h;
        self.skip_bytes += c.skip_bytes.get();
    }

    /// The counts since `base`.
    pub fn since(&self, base: &DirReport) -> DirReport {
        DirReport {
            packets: self.packets - base.packets,
            bytes: self.bytes - base.bytes,
            truncated: self.truncated - base.truncated,
            skip_packets: self.skip_packets - base.skip_packets,
            skip_bytes: self.skip_bytes - base.skip_bytes,
            skip_queue_full: self.skip_queue_full - base.skip_queue_full,
            skip_no_mbuf: self.skip_no_mbuf - base.skip_no_mbuf,
            skip_unresolved: self.skip_unresolved - base.skip_unresolved,
            skip_no_healthy: self.skip_no_healthy - base.skip_no_healthy,
        }
    }
}

/// Copies to one collector of one target, and those skipped once it was picked.
#[derive(Debug, Default, Serialize, Deserialize, Clone, Copy, PartialEq, Eq)]
pub struct CollectorTotals {
    pub packets: u64,
    pub bytes: u64,
    pub skip_queue_full: u64,
    pub skip_no_mbuf: u64,
    pub skip_bytes: u64,
}

impl CollectorTotals {
    fn add(&mut self, c: &CollectorCounters) {
        self.packets += c.packets.get();
        self.bytes += c.bytes.get();
        self.skip_queue_full += c.skip_queue_full.get();
        self.skip_no_mbuf += c.skip_no_mbuf.get();
        self.skip_bytes += c.skip_bytes.get();
    }

    fn since(&self, b: &CollectorTotals) -> CollectorTotals {
        CollectorTotals {
            packets: self.packets - b.packets,
            bytes: self.bytes - b.bytes,
            skip_queue_full: self.skip_queue_full - b.skip_queue_full,
            skip_no_mbuf: self.skip_no_mbuf - b.skip_no_mbuf,
            skip_bytes: self.skip_bytes - b.skip_bytes,
        }
    }
}

/// Copies to a target skipped before any collector could be picked.
#[derive(Debug, Default, Serialize, Deserialize, Clone, Copy, PartialEq, Eq)]
pub struct TargetTotals {
    pub skip_unresolved: u64,
    pub skip_no_healthy: u64,
    pub skip_bytes: u64,
}

impl TargetTotals {
    fn add(&mut self, c: &TargetCounters) {
        self.skip_unresolved += c.skip_unresolved.get();
        self.skip_no_healthy += c.skip_no_healthy.get();
        self.skip_bytes += c.skip_bytes.get();
    }

    fn since(&self, b: &TargetTotals) -> TargetTotals {
        TargetTotals { skip_unresolved: self.skip_unresolved - b.skip_unresolved, skip_no_healthy: self.skip_no_healthy - b.skip_no_healthy, skip_bytes: self.skip_bytes - b.skip_bytes }
    }
}

/// Sums one session slot's counters over the workers, by direction (ingress, egress).
pub fn session_totals(counters: &[WorkerCounters], slot: u32) -> [DirReport; 2] {
    let mut out = [DirReport::default(); 2];
    for w in counters {
        for d in Direction::ALL {
            out[d as usize].add(w.session(CounterSlot(slot), d));
        }
    }
    out
}

fn collector_totals(counters: &[WorkerCounters], slot: u32) -> CollectorTotals {
    let mut t = CollectorTotals::default();
    counters.iter().for_each(|w| t.add(w.collector(CollectorSlot(slot))));
    t
}

fn target_totals(counters: &[WorkerCounters], slot: u32) -> TargetTotals {
    let mut t = TargetTotals::default();
    counters.iter().for_each(|w| t.add(w.target(TargetSlot(slot))));
    t
}

/// Stable slots for one kind of thing counted: a thing keeps its slot while it exists,
/// whatever else changes, so its counters survive table swaps. A slot freed by a change is
/// reused only after that change's table is published (no worker can still count into it
/// for the old owner), and a reused slot remembers the counts it started from (`B`).
#[derive(Clone, Debug)]
struct SlotMap<K, B> {
    by_key: HashMap<K, u32>,
    free: Vec<u32>,
    /// Freed by the change being applied...
    released: Vec<u32>,
    /// ...then waiting for the grace period of the table that no longer counts into them.
    waiting: Vec<(u64, u32)>,
    next: u32,
    capacity: u32,
    base: HashMap<u32, B>,
}

/// What one [`SlotMap::update`] pass did, to undo it when the change is refused.
#[derive(Debug)]
struct Undo<K, B> {
    /// Keys given a slot, with what the slot's base was.
    given: Vec<(K, u32, Option<B>)>,
    /// Keys whose slot was released.
    released: Vec<(K, u32)>,
    /// Slots taken from the free list, in order.
    reused: Vec<u32>,
    next: u32,
}

impl<K: Clone + Eq + Hash, B: Copy + Default> SlotMap<K, B> {
    fn new(capacity: usize) -> Self {
        SlotMap { by_key: HashMap::default(), free: Vec::new(), released: Vec::new(), waiting: Vec::new(), next: 0, capacity: capacity as u32, base: HashMap::default() }
    }

    fn start(&self) -> Undo<K, B> {
        Undo { given: Vec::new(), released: Vec::new(), reused: Vec::new(), next: self.next }
    }

    /// Key `k` gets a slot if `alive` and it has none (starting from `totals` of it), or
    /// releases its own if not `alive`; `Err(())` when no slot is left.
    fn update(&mut self, k: &K, alive: bool, totals: impl Fn(u32) -> B, done: &mut Undo<K, B>) -> Result<(), ()> {
        match (alive, self.by_key.get(k).copied()) {
            (false, Some(slot)) => {
                self.by_key.remove(k);
                self.released.push(slot);
                done.released.push((k.clone(), slot));
            }
            (true, None) => {
                let slot = match self.free.pop() {
                    Some(slot) => {
                        done.reused.push(slot);
                        slot
                    }
                    None if self.next < self.capacity => {
                        self.next += 1;
                        self.next - 1
                    }
                    None => return Err(()),
                };
                let base = self.base.insert(slot, totals(slot));
                self.by_key.insert(k.clone(), slot);
                done.given.push((k.clone(), slot, base));
            }
            _ => {}
        }
        Ok(())
    }

    /// Every key holding a slot and every one of `live`: those of `live` get one, the others
    /// release theirs.
    fn update_all(&mut self, live: &[K], totals: impl Fn(u32) -> B, done: &mut Undo<K, B>) -> Result<(), K> {
        let alive: std::collections::HashSet<&K> = live.iter().collect();
        let gone: Vec<K> = self.by_key.keys().filter(|k| !alive.contains(k)).cloned().collect();
        for k in &gone {
            let _ = self.update(k, false, &totals, done);
        }
        for k in live {
            self.update(k, true, &totals, done).map_err(|()| k.clone())?;
        }
        Ok(())
    }

    /// Puts the slots back as they were before the updates that returned `done`.
    fn undo(&mut self, done: Undo<K, B>) {
        for (k, slot, base) in done.given.into_iter().rev() {
            self.by_key.remove(&k);
            match base {
                Some(b) => self.base.insert(slot, b),
                None => self.base.remove(&slot),
            };
        }
        self.free.extend(done.reused.into_iter().rev());
        self.next = done.next;
        self.released.truncate(self.released.len() - done.released.len());
        for (k, slot) in done.released {
            self.by_key.insert(k, slot);
        }
    }

    fn published(&mut self, epoch: u64) {
        self.waiting.extend(self.released.drain(..).map(|slot| (epoch, slot)));
    }

    fn waiting(&self) -> Option<u64> {
        self.waiting.iter().map(|(epoch, _)| *epoch).max()
    }

    fn reclaim(&mut self, passed: &impl Fn(u64) -> bool) {
        let (done, wait): (Vec<_>, Vec<_>) = self.waiting.drain(..).partition(|(epoch, _)| passed(*epoch));
        self.waiting = wait;
        self.free.extend(done.into_iter().map(|(_, slot)| slot));
    }

    fn get<Q: Eq + Hash + ?Sized>(&self, k: &Q) -> Option<u32>
    where
        K: std::borrow::Borrow<Q>,
    {
        self.by_key.get(k).copied()
    }

    fn base(&self, slot: u32) -> B {
        self.base.get(&slot).copied().unwrap_or_default()
    }
}

/// Stable counter slots for sessions, targets and the targets' collectors (see `SlotMap`).
#[derive(Clone, Debug)]
pub struct Slots {
    sessions: SlotMap<String, [DirReport; 2]>,
    targets: SlotMap<String, TargetTotals>,
    /// By target id and collector address.
    collectors: SlotMap<(String, IpAddr), CollectorTotals>,
}

impl Default for Slots {
    fn default() -> Self {
        Slots::new(0)
    }
}

/// What [`Slots::assign`] did, to undo it when the change is refused.
#[derive(Debug)]
pub struct Assigned {
    sessions: Undo<String, [DirReport; 2]>,
    targets: Undo<String, TargetTotals>,
    collectors: Undo<(String, IpAddr), CollectorTotals>,
}

impl Slots {
    /// Room for `capacity` sessions at once, as many targets, and
    /// [`COLLECTORS_PER_TARGET`] collectors a target.
    pub fn new(capacity: usize) -> Self {
        Slots { sessions: SlotMap::new(capacity), targets: SlotMap::new(capacity), collectors: SlotMap::new(capacity * COLLECTORS_PER_TARGET) }
    }

    /// Room for `sessions` sessions at once (the quota), and some to spare: the slot of a
    /// deleted session waits for the workers to leave the table that counts into it, so
    /// without spares a change at the quota (delete one, create another) would wait for them.
    pub fn for_quota(sessions: usize) -> Self {
        Slots::new(sessions + sessions / 8 + 64)
    }

    /// The same, with room for `targets` targets (and spares, as for sessions) and
    /// [`COLLECTORS_PER_TARGET`] collectors each, or `collectors` if that is more.
    pub fn with_targets(mut self, targets: usize, collectors: usize) -> Self {
        let targets = targets + targets / 8 + 64;
        self.targets = SlotMap::new(targets);
        self.collectors = SlotMap::new((targets * COLLECTORS_PER_TARGET).max(collectors));
        self
    }

    /// Number of session slots the counters must have.
    pub fn capacity(&self) -> usize {
        self.sessions.capacity as usize
    }

    /// Number of target and of collector slots the counters must have.
    pub fn target_capacity(&self) -> (usize, usize) {
        (self.targets.capacity as usize, self.collectors.capacity as usize)
    }

    /// For each session id in `ids`: one of `cfg` gets a slot if it has none, one that `cfg`
    /// no longer has releases its own. (Every session id of `cfg` and every one holding a
    /// slot, for a whole configuration.) Targets and collectors, few, are all updated.
    pub fn assign<'i>(&mut self, cfg: &Config, ids: impl IntoIterator<Item = &'i str>, counters: &[WorkerCounters]) -> Result<Assigned, ConfigError> {
        let mut done = Assigned { sessions: self.sessions.start(), targets: self.targets.start(), collectors: self.collectors.start() };
        let refuse = |s: &mut Slots, done: Assigned, problem: String| {
            s.undo(done);
            Err(ConfigError { problems: vec![(None, None, problem)] })
        };
        for id in ids {
            let key = id.to_owned();
            if self.sessions.update(&key, cfg.sessions.contains(id), |slot| session_totals(counters, slot), &mut done.sessions).is_err() {
                let cap = self.sessions.capacity;
                return refuse(self, done, format!("no counter slot left for session {id:?}: at most {cap} sessions ([quotas] sessions at start-up)"));
            }
        }
        let targets: Vec<String> = cfg.targets.iter().map(|t| t.id.clone()).collect();
        if let Err(id) = self.targets.update_all(&targets, |slot| target_totals(counters, slot), &mut done.targets) {
            let cap = self.targets.capacity;
            return refuse(self, done, format!("no counter slot left for target {id:?}: at most {cap} targets ([quotas] targets at start-up)"));
        }
        let collectors: Vec<(String, IpAddr)> = cfg
            .targets
            .iter()
            .flat_map(|t| cfg.target_destination(t).into_iter().flat_map(|d| d.collectors).map(|c| (t.id.clone(), c.address)))
            .collect();
        if let Err((t, a)) = self.collectors.update_all(&collectors, |slot| collector_totals(counters, slot), &mut done.collectors) {
            let cap = self.collectors.capacity;
            return refuse(self, done, format!("no counter slot left for collector {a} of target {t:?}: at most {cap} collectors ({COLLECTORS_PER_TARGET} a target of [quotas] targets at start-up)"));
        }
        Ok(done)
    }

    /// [`assign`](Self::assign) for every session of `cfg` and every one that holds a slot.
    pub fn assign_all(&mut self, cfg: &Config, counters: &[WorkerCounters]) -> Result<Assigned, ConfigError> {
        let mut ids: Vec<String> = self.sessions.by_key.keys().filter(|id| !cfg.sessions.contains(id)).cloned().collect();
        ids.extend(cfg.sessions.iter().map(|s| s.id.clone()));
        self.assign(cfg, ids.iter().map(String::as_str), counters)
    }

    /// Puts the slots back as they were before the [`assign`](Self::assign) that returned
    /// `done`.
    pub fn undo(&mut self, done: Assigned) {
        self.collectors.undo(done.collectors);
        self.targets.undo(done.targets);
        self.sessions.undo(done.sessions);
    }

    /// The change whose slots were assigned is published as grace period `epoch`: the slots
    /// it released are free once no worker reads the table before it ([`Slots::reclaim`]).
    pub fn published(&mut self, epoch: u64) {
        self.sessions.published(epoch);
        self.targets.published(epoch);
        self.collectors.published(epoch);
    }

    /// The latest grace period a released slot waits for, if one does.
    pub fn waiting(&self) -> Option<u64> {
        [self.sessions.waiting(), self.targets.waiting(), self.collectors.waiting()].into_iter().flatten().max()
    }

    /// Frees the released slots whose grace period `passed` says is over.
    pub fn reclaim(&mut self, passed: impl Fn(u64) -> bool) {
        self.sessions.reclaim(&passed);
        self.targets.reclaim(&passed);
        self.collectors.reclaim(&passed);
    }

    /// The slot of session `id`.
    pub fn get(&self, id: &str) -> Option<u32> {
        self.sessions.get(id)
    }

    /// The slot of target `id`.
    pub fn target(&self, id: &str) -> Option<TargetSlot> {
        self.targets.get(id).map(TargetSlot)
    }

    /// The slot of the collector at `address` of target `id`.
    pub fn collector(&self, id: &str, address: IpAddr) -> Option<CollectorSlot> {
        self.collectors.get(&(id.to_owned(), address)).map(CollectorSlot)
    }

    /// Session `id`'s figures (ingress, egress) since it got its slot.
    pub fn totals(&self, id: &str, counters: &[WorkerCounters]) -> [DirReport; 2] {
        self.get(id).map_or([DirReport::default(); 2], |slot| {
            let (now, base) = (session_totals(counters, slot), self.sessions.base(slot));
            [now[0].since(&base[0]), now[1].since(&base[1])]
        })
    }

    /// Target `id`'s own skips since it got its slot.
    pub fn target_totals(&self, id: &str, counters: &[WorkerCounters]) -> TargetTotals {
        self.target(id).map_or_else(TargetTotals::default, |s| target_totals(counters, s.0).since(&self.targets.base(s.0)))
    }

    /// The figures of the collector at `address` of target `id` since it got its slot.
    pub fn collector_totals(&self, id: &str, address: IpAddr, counters: &[WorkerCounters]) -> CollectorTotals {
        self.collector(id, address).map_or_else(CollectorTotals::default, |s| collector_totals(counters, s.0).since(&self.collectors.base(s.0)))
    }
}

/// Hits by filter, then rule id, then direction (ingress, egress).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RuleTotals(HashMap<String, HashMap<String, [u64; 2]>>);

impl RuleTotals {
    /// The hits of rule `rule` of filter `filter` in direction `dir`.
    pub fn get(&self, filter: &str, rule: &str, dir: Direction) -> u64 {
        self.0.get(filter).and_then(|f| f.get(rule)).map_or(0, |h| h[dir as usize])
    }

    /// Adds `n` hits to a rule.
    pub fn add(&mut self, filter: &str, rule: &str, dir: Direction, n: u64) {
        let f = match self.0.get_mut(filter) {
            Some(f) => f,
            None => self.0.entry(filter.to_owned()).or_default(),
        };
        match f.get_mut(rule) {
            Some(h) => h[dir as usize] += n,
            None => f.entry(rule.to_owned()).or_default()[dir as usize] += n,
        }
    }

    /// Adds the hits `source`'s compiled filters counted.
    fn add_source(&mut self, source: &SourceRules) {
        source.rule_hits(|f, r, n| self.add(&f.id, &r.id, source.dir, n));
    }
}

/// Hits per filter rule over the life of the process: what the compiled filters in force
/// count, plus what retired ones counted.
#[derive(Debug, Default)]
pub struct RuleHits {
    retired: RuleTotals,
}

impl RuleHits {
    /// Takes the final counts of the sources that only `old`, a table just replaced (no worker
    /// reads it any more), still holds: nothing will count into them again. Then forgets the
    /// rules `cfg`, the configuration in force, no longer has: a deleted rule's hits go with it
    /// wherever its last table is freed (a tick's reclaim or one forced by a publication).
    pub fn retire(&mut self, old: &Table, cfg: &Config) {
        for s in sources(old).filter(|s| Arc::strong_count(s) == 1) {
            self.retired.add_source(s);
        }
        self.prune(cfg);
    }

    /// Forgets the retired counts of rules `cfg` no longer has, so that the sum never grows
    /// beyond the rules that exist.
    fn prune(&mut self, cfg: &Config) {
        if self.retired.0.is_empty() {
            return;
        }
        let filters: HashMap<&str, &crate::config::Filter> = cfg.filters.iter().map(|f| (f.id.as_str(), f)).collect();
        self.retired.0.retain(|id, rules| {
            let Some(f) = filters.get(id.as_str()) else { return false };
            let ids = Direction::ALL.map(|d| f.rules(d).iter().filter_map(|r| r.id.as_deref()).collect::<std::collections::HashSet<&str>>());
            rules.retain(|rule, hits| {
                for d in Direction::ALL {
                    if !ids[d as usize].contains(rule.as_str()) {
                        hits[d as usize] = 0;
                    }
                }
                hits.iter().any(|&h| h > 0)
            });
            !rules.is_empty()
        });
    }

    /// Every rule's hits so far, `live` being the table in force and `waiting` the replaced
    /// ones not yet retired (workers may still count in them). A source several tables share
    /// is counted once.
    pub fn totals<'t>(&self, live: &'t Table, waiting: impl Iterator<Item = &'t Table>) -> RuleTotals {
        let mut t = self.retired.clone();
        let mut seen = std::collections::HashSet::new();
        for s in std::iter::once(live).chain(waiting).flat_map(sources) {
            if seen.insert(Arc::as_ptr(s)) {
                t.add_source(s);
            }
        }
        t
    }
}

/// Every source of a table, once each.
fn sources(t: &Table) -> impl Iterator<Item = &Arc<SourceRules>> {
    t.ports.iter().flat_map(|p| p.egress.iter().chain(p.ingress.iter()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Session;
    use dataplane::decide::CountHits;
    use dataplane::parse::Packet;
    use dataplane::wire::testing::FrameBuilder;

    /// Runs `n` frames from the lab's monitored host to `dport` through `table` as worker 0.
    fn send(table: &Table, n: usize, dport: u16) {
        let frame = FrameBuilder::ipv4([10, 0, 0, 5], [198, 51, 100, 1]).macs([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 1, 1]).tcp(40000, dport).build();
        // Arriving on the uplink (port 1): the host's ingress, as the lab's rule takes it.
        for _ in 0..n {
            let _ = table.sources(1, 0).decide(&frame, &mut Packet::default(), &mut CountHits { worker: 0 }, |_| ());
        }
    }

    #[test]
    fn rule_hits_survive_a_rebuild_of_their_source_and_go_with_their_rule() {
        let mut cfg = crate::config::parse(crate::state::testing::LAB, "lab.toml").unwrap();
        let mut slots = Slots::new(4);
        slots.assign_all(&cfg, &[]).unwrap();
        let mut compiler = crate::compile::Compiler::default();
        let mut compile = |cfg: &Config| {
            let env = crate::compile::Env { port_macs: &[[0; 6]; 3], slots: &slots, resolved: &|_| None };
            compiler.compile_all(cfg, &crate::config::Refs::of(cfg), &env, 1).unwrap()
        };
        let filter = cfg.filters.first().unwrap().id.clone();
        let old_id = cfg.filters.first().unwrap().ingress_rules[0].id.clone().unwrap();
        let t1 = compile(&cfg);
        send(&t1, 3, 80);
        let mut hits = RuleHits::default();
        assert_eq!(hits.totals(&t1, std::iter::empty()).get("tmf-all", &old_id, Direction::Ingress), 3);

        // A rule in front of it: the source is compiled anew, and its old counts are kept
        // once the old table is retired.
        let mut ssh = cfg.filters.first().unwrap().ingress_rules[0].clone();
        (ssh.id, ssh.rule_number, ssh.action, ssh.protocol) = (Some("tmfr-ssh".into()), 10, crate::config::RuleAction::Reject, Some(6));
        ssh.destination_port = Some(crate::config::PortRange { from: 22, to: 22 });
        cfg.filters.get_mut(&filter).unwrap().ingress_rules.push(ssh);
        let t2 = compile(&cfg);
        let waiting = hits.totals(&t2, std::iter::once(&t1));
        assert_eq!(waiting.get("tmf-all", &old_id, Direction::Ingress), 3, "a replaced table workers may still be in counts");
        hits.retire(&t1, &cfg);
        drop(t1);
        send(&t2, 2, 80);
        send(&t2, 4, 22);
        let totals = hits.totals(&t2, std::iter::empty());
        assert_eq!(totals.get("tmf-all", &old_id, Direction::Ingress), 5, "3 before the change, 2 after");
        assert_eq!(totals.get("tmf-all", "tmfr-ssh", Direction::Ingress), 4, "a reject's hits count");
        assert_eq!(totals.get("tmf-all", &old_id, Direction::Egress), 0);

        // An unrelated change shares the source: nothing is retired twice.
        let session = cfg.sessions.first().unwrap().id.clone();
        cfg.sessions.get_mut(&session).unwrap().description = Some("x".into());
        let t3 = compile(&cfg);
        hits.retire(&t2, &cfg);
        drop(t2);
        assert_eq!(hits.totals(&t3, std::iter::empty()).get("tmf-all", &old_id, Direction::Ingress), 5);

        // A deleted rule's hits go with it.
        cfg.filters.get_mut(&filter).unwrap().ingress_rules.retain(|r| r.id.as_deref() != Some(&old_id));
        let t4 = compile(&cfg);
        hits.retire(&t3, &cfg);
        drop(t3);
        let totals = hits.totals(&t4, std::iter::empty());
        assert_eq!(totals.get("tmf-all", &old_id, Direction::Ingress), 0);
        assert_eq!(totals.get("tmf-all", "tmfr-ssh", Direction::Ingress), 4);
        assert_eq!(hits.retired.0["tmf-all"].len(), 1, "only the rule that exists is kept");
    }

    #[test]
    fn slots_are_stable_and_reused() {
        let mut cfg = Config::default();
        let mk = |id: &str| Session {
            id: id.into(),
            source: "s".into(),
            target: "t".into(),
            filter: "f".into(),
            session_number: 1,
            virtual_network_id: None,
            packet_length: None,
            enabled: true,
            description: None,
            tags: Default::default(),
        };
        let counters = [WorkerCounters::new(0, 3)];
        cfg.sessions = vec![mk("a"), mk("b")].into();
        let mut slots = Slots::new(3);
        slots.assign_all(&cfg, &counters).unwrap();
        assert_eq!((slots.get("a"), slots.get("b")), (Some(0), Some(1)));
        slots.published(1);
        slots.reclaim(|_| true);
        // a's slot is not reused by the change that frees it...
        counters[0].session(CounterSlot(0), Direction::Egress).packets.add(7);
        cfg.sessions = vec![mk("b"), mk("c")].into();
        slots.assign_all(&cfg, &counters).unwrap();
        assert_eq!((slots.get("b"), slots.get("c"), slots.get("a")), (Some(1), Some(2), None));
        slots.published(1);
        slots.reclaim(|_| true);
        // ...but by a later one, which starts from the counts a left behind.
        cfg.sessions = vec![mk("b"), mk("c"), mk("d")].into();
        slots.assign_all(&cfg, &counters).unwrap();
        assert_eq!(slots.get("d"), Some(0));
        assert_eq!(slots.totals("d", &counters)[Direction::Egress as usize].packets, 0);
        counters[0].session(CounterSlot(0), Direction::Egress).packets.add(2);
        assert_eq!(slots.totals("d", &counters)[Direction::Egress as usize].packets, 2);
        cfg.sessions.push(mk("e"));
        assert!(slots.assign_all(&cfg, &counters).is_err(), "capacity 3");
    }

    type Snapshot = (Vec<(String, u32)>, Vec<u32>, Vec<u32>, u32, Vec<(u32, [DirReport; 2])>);

    fn snapshot(s: &Slots) -> Snapshot {
        let s = &s.sessions;
        let mut ids: Vec<_> = s.by_key.iter().map(|(k, v)| (k.clone(), *v)).collect();
        ids.sort();
        let mut base: Vec<_> = s.base.iter().map(|(k, v)| (*k, *v)).collect();
        base.sort_by_key(|(k, _)| *k);
        (ids, s.free.clone(), s.released.clone(), s.next, base)
    }

    #[test]
    fn an_undone_assignment_leaves_the_slots_as_they_were() {
        let mk = |id: &str| Session {
            id: id.into(),
            source: "s".into(),
            target: "t".into(),
            filter: "f".into(),
            session_number: 1,
            virtual_network_id: None,
            packet_length: None,
            enabled: true,
            description: None,
            tags: Default::default(),
        };
        let counters = [WorkerCounters::new(0, 4)];
        let mut cfg = Config { sessions: vec![mk("a"), mk("b"), mk("c")].into(), ..Default::default() };
        let mut slots = Slots::new(4);
        slots.assign_all(&cfg, &counters).unwrap();
        cfg.sessions.remove("b");
        slots.assign(&cfg, ["b"], &counters).unwrap();
        slots.published(1);
        slots.reclaim(|_| true);
        let before = snapshot(&slots);
        // A change that deletes a, reuses b's slot for d and takes a new one for e, refused.
        cfg.sessions.remove("a");
        cfg.sessions.push(mk("d"));
        cfg.sessions.push(mk("e"));
        let done = slots.assign(&cfg, ["a", "d", "e"], &counters).unwrap();
        assert_eq!((slots.get("a"), slots.get("d"), slots.get("e")), (None, Some(1), Some(3)));
        slots.undo(done);
        assert_eq!(snapshot(&slots), before);
    }
}
