//! Counters across table swaps: each session, target and collector keeps a counter slot
//! while it exists, whatever else changes, and its figures are the sum of every worker's
//! counters for that slot, less what the slot held when it got it.

use crate::config::{Config, ConfigError, Direction};
use dataplane::stats::{CollectorCounters, SessionCounters, TargetCounters, WorkerCounters};
use dataplane::types::{CollectorSlot, CounterSlot, TargetSlot};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;

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
    /// Freed by the change being applied; free once its table is published.
    released: Vec<u32>,
    next: u32,
    capacity: u32,
    base: HashMap<u32, B>,
}

impl<K: Clone + Eq + Hash, B: Copy + Default> SlotMap<K, B> {
    fn new(capacity: usize) -> Self {
        SlotMap { by_key: HashMap::new(), free: Vec::new(), released: Vec::new(), next: 0, capacity: capacity as u32, base: HashMap::new() }
    }

    /// Gives every key of `live` a slot (starting from `totals` of it) and releases the slots
    /// of keys that are gone; `full` says which key found none.
    fn assign(&mut self, live: &[K], totals: impl Fn(u32) -> B, full: impl Fn(&K) -> String) -> Result<(), ConfigError> {
        let alive: std::collections::HashSet<&K> = live.iter().collect();
        let gone: Vec<K> = self.by_key.keys().filter(|k| !alive.contains(k)).cloned().collect();
        for k in gone {
            if let Some(slot) = self.by_key.remove(&k) {
                self.released.push(slot);
            }
        }
        for k in live {
            if self.by_key.contains_key(k) {
                continue;
            }
            let slot = match self.free.pop() {
                Some(slot) => slot,
                None if self.next < self.capacity => {
                    self.next += 1;
                    self.next - 1
                }
                None => return Err(ConfigError { problems: vec![(None, None, full(k))] }),
            };
            self.base.insert(slot, totals(slot));
            self.by_key.insert(k.clone(), slot);
        }
        Ok(())
    }

    fn published(&mut self) {
        self.free.append(&mut self.released);
    }

    fn get(&self, k: &K) -> Option<u32> {
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

impl Slots {
    /// Room for `capacity` sessions at once, as many targets, and
    /// [`COLLECTORS_PER_TARGET`] collectors a target.
    pub fn new(capacity: usize) -> Self {
        Slots { sessions: SlotMap::new(capacity), targets: SlotMap::new(capacity), collectors: SlotMap::new(capacity * COLLECTORS_PER_TARGET) }
    }

    /// The same, with room for `targets` targets and [`COLLECTORS_PER_TARGET`] collectors
    /// each, or `collectors` if that is more.
    pub fn with_targets(mut self, targets: usize, collectors: usize) -> Self {
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

    /// Gives every session, target and collector of `cfg` a slot and releases the slots of
    /// those that are gone.
    pub fn assign(&mut self, cfg: &Config, counters: &[WorkerCounters]) -> Result<(), ConfigError> {
        let sessions: Vec<String> = cfg.sessions.iter().map(|s| s.id.clone()).collect();
        let cap = self.sessions.capacity;
        self.sessions.assign(&sessions, |slot| session_totals(counters, slot), |id| format!("no counter slot left for session {id:?}: at most {cap} sessions ([quotas] sessions at start-up)"))?;
        let targets: Vec<String> = cfg.targets.iter().map(|t| t.id.clone()).collect();
        let cap = self.targets.capacity;
        self.targets.assign(&targets, |slot| target_totals(counters, slot), |id| format!("no counter slot left for target {id:?}: at most {cap} targets ([quotas] targets at start-up)"))?;
        let collectors: Vec<(String, IpAddr)> = cfg
            .targets
            .iter()
            .flat_map(|t| cfg.target_destination(t).into_iter().flat_map(|d| d.collectors).map(|c| (t.id.clone(), IpAddr::from(c.address))))
            .collect();
        let cap = self.collectors.capacity;
        self.collectors.assign(&collectors, |slot| collector_totals(counters, slot), |(t, a)| {
            format!("no counter slot left for collector {a} of target {t:?}: at most {cap} collectors ({COLLECTORS_PER_TARGET} a target of [quotas] targets at start-up)")
        })
    }

    /// The change whose slots were assigned is live: released slots may be reused.
    pub fn published(&mut self) {
        self.sessions.published();
        self.targets.published();
        self.collectors.published();
    }

    /// The slot of session `id`.
    pub fn get(&self, id: &str) -> Option<u32> {
        self.sessions.get(&id.to_owned())
    }

    /// The slot of target `id`.
    pub fn target(&self, id: &str) -> Option<TargetSlot> {
        self.targets.get(&id.to_owned()).map(TargetSlot)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Session;

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
        cfg.sessions = vec![mk("a"), mk("b")];
        let mut slots = Slots::new(3);
        slots.assign(&cfg, &counters).unwrap();
        assert_eq!((slots.get("a"), slots.get("b")), (Some(0), Some(1)));
        slots.published();
        // a's slot is not reused by the change that frees it...
        counters[0].session(CounterSlot(0), Direction::Egress).packets.add(7);
        cfg.sessions = vec![mk("b"), mk("c")];
        slots.assign(&cfg, &counters).unwrap();
        assert_eq!((slots.get("b"), slots.get("c"), slots.get("a")), (Some(1), Some(2), None));
        slots.published();
        // ...but by a later one, which starts from the counts a left behind.
        cfg.sessions = vec![mk("b"), mk("c"), mk("d")];
        slots.assign(&cfg, &counters).unwrap();
        assert_eq!(slots.get("d"), Some(0));
        assert_eq!(slots.totals("d", &counters)[Direction::Egress as usize].packets, 0);
        counters[0].session(CounterSlot(0), Direction::Egress).packets.add(2);
        assert_eq!(slots.totals("d", &counters)[Direction::Egress as usize].packets, 2);
        cfg.sessions.push(mk("e"));
        assert!(slots.assign(&cfg, &counters).is_err(), "capacity 3");
    }
}
