//! Counters across table swaps.
//!
//! Sessions: each session keeps a counter slot while it exists, whatever else changes, and its
//! figures are the sum of every worker's counters for that slot, less what the slot held when
//! the session got it.
//!
//! Filter rules: each source's compiled filters count how often each of their outcomes
//! decided, and a rule's hits are the counts of the outcomes it decided in ([`RuleHits`]).
//! Compiled filters live as long as some table or the compiler holds them, so their counts
//! follow them from table to table; those of a source that is rebuilt are taken into a sum
//! once the last table that held them is retired.

use crate::config::{Config, ConfigError, Direction};
use dataplane::stats::{SessionCounters, WorkerCounters};
use dataplane::table::{SourceRules, Table};
use dataplane::types::CounterSlot;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::Arc;

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
}

impl DirReport {
    fn add(&mut self, c: &SessionCounters) {
        let (q, m, u) = (c.skip_queue_full.get(), c.skip_no_mbuf.get(), c.skip_unresolved.get());
        self.packets += c.packets.get();
        self.bytes += c.bytes.get();
        self.truncated += c.truncated.get();
        self.skip_queue_full += q;
        self.skip_no_mbuf += m;
        self.skip_unresolved += u;
        self.skip_packets += q + m + u;
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
        }
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

/// Stable counter slots for sessions: a session keeps its slot while it exists, whatever else
/// changes, so its counters survive table swaps. A slot freed by a change is reused only after
/// that change's table is published (no worker can still count into it for the old session),
/// and a reused slot remembers the counts it started from.
#[derive(Clone, Debug, Default)]
pub struct Slots {
    by_id: HashMap<String, u32>,
    free: Vec<u32>,
    /// Freed by the change being applied; free once its table is published.
    released: Vec<u32>,
    next: u32,
    capacity: u32,
    /// What a reused slot's counters held when its session got it.
    base: HashMap<u32, [DirReport; 2]>,
}

impl Slots {
    /// Room for `capacity` sessions at once.
    pub fn new(capacity: usize) -> Self {
        Slots { capacity: capacity as u32, ..Slots::default() }
    }

    /// Number of slots the counters must have.
    pub fn capacity(&self) -> usize {
        self.capacity as usize
    }

    /// Gives every session of `cfg` a slot and releases the slots of sessions that are gone.
    pub fn assign(&mut self, cfg: &Config, counters: &[WorkerCounters]) -> Result<(), ConfigError> {
        let live: std::collections::HashSet<&str> = cfg.sessions.iter().map(|s| s.id.as_str()).collect();
        let gone: Vec<String> = self.by_id.keys().filter(|id| !live.contains(id.as_str())).cloned().collect();
        for id in gone {
            if let Some(slot) = self.by_id.remove(&id) {
                self.released.push(slot);
            }
        }
        for s in &cfg.sessions {
            if self.by_id.contains_key(&s.id) {
                continue;
            }
            let slot = match self.free.pop() {
                Some(slot) => slot,
                None if self.next < self.capacity => {
                    self.next += 1;
                    self.next - 1
                }
                None => {
                    return Err(ConfigError {
                        problems: vec![(None, None, format!("no counter slot left for session {:?}: at most {} sessions ([quotas] sessions at start-up)", s.id, self.capacity))],
                    })
                }
            };
            self.base.insert(slot, session_totals(counters, slot));
            self.by_id.insert(s.id.clone(), slot);
        }
        Ok(())
    }

    /// The change whose slots were assigned is live: released slots may be reused.
    pub fn published(&mut self) {
        self.free.append(&mut self.released);
    }

    /// The slot of session `id`.
    pub fn get(&self, id: &str) -> Option<u32> {
        self.by_id.get(id).copied()
    }

    /// Session `id`'s figures (ingress, egress) since it got its slot.
    pub fn totals(&self, id: &str, counters: &[WorkerCounters]) -> [DirReport; 2] {
        self.get(id).map_or([DirReport::default(); 2], |slot| {
            let (now, base) = (session_totals(counters, slot), self.base.get(&slot).copied().unwrap_or_default());
            [now[0].since(&base[0]), now[1].since(&base[1])]
        })
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
    /// reads it any more), still holds: nothing will count into them again.
    pub fn retire(&mut self, old: &Table) {
        for s in sources(old).filter(|s| Arc::strong_count(s) == 1) {
            self.retired.add_source(s);
        }
    }

    /// Forgets the retired counts of rules `cfg` no longer has: a deleted rule's hits go with
    /// it, and the sum never grows beyond the rules that exist.
    pub fn prune(&mut self, cfg: &Config) {
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

    /// Every rule's hits so far, `live` being the table in force.
    pub fn totals(&self, live: &Table) -> RuleTotals {
        let mut t = self.retired.clone();
        for s in sources(live) {
            t.add_source(s);
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
            let _ = table.sources(1, 0).decide(&frame, frame.len(), &mut Packet::default(), &mut CountHits { worker: 0 }, |_| ());
        }
    }

    #[test]
    fn rule_hits_survive_a_rebuild_of_their_source_and_go_with_their_rule() {
        let mut cfg = crate::config::parse(crate::state::testing::LAB, "lab.toml").unwrap();
        let mut slots = Slots::new(4);
        slots.assign(&cfg, &[]).unwrap();
        let mut compiler = crate::compile::Compiler::default();
        let mut compile = |cfg: &Config| compiler.compile(cfg, &[[0; 6]; 3], &slots, 1, |_| None).unwrap();
        let old_id = cfg.filters[0].ingress_rules[0].id.clone().unwrap();
        let t1 = compile(&cfg);
        send(&t1, 3, 80);
        let mut hits = RuleHits::default();
        assert_eq!(hits.totals(&t1).get("tmf-all", &old_id, Direction::Ingress), 3);

        // A rule in front of it: the source is compiled anew, and its old counts are kept
        // once the old table is retired.
        let mut ssh = cfg.filters[0].ingress_rules[0].clone();
        (ssh.id, ssh.rule_number, ssh.action, ssh.protocol) = (Some("tmfr-ssh".into()), 10, crate::config::RuleAction::Reject, Some(6));
        ssh.destination_port = Some(crate::config::PortRange { from: 22, to: 22 });
        cfg.filters[0].ingress_rules.push(ssh);
        let t2 = compile(&cfg);
        hits.retire(&t1);
        drop(t1);
        send(&t2, 2, 80);
        send(&t2, 4, 22);
        let totals = hits.totals(&t2);
        assert_eq!(totals.get("tmf-all", &old_id, Direction::Ingress), 5, "3 before the change, 2 after");
        assert_eq!(totals.get("tmf-all", "tmfr-ssh", Direction::Ingress), 4, "a reject's hits count");
        assert_eq!(totals.get("tmf-all", &old_id, Direction::Egress), 0);

        // An unrelated change shares the source: nothing is retired twice.
        cfg.sessions[0].description = Some("x".into());
        let t3 = compile(&cfg);
        hits.retire(&t2);
        drop(t2);
        assert_eq!(hits.totals(&t3).get("tmf-all", &old_id, Direction::Ingress), 5);

        // A deleted rule's hits go with it.
        cfg.filters[0].ingress_rules.retain(|r| r.id.as_deref() != Some(&old_id));
        let t4 = compile(&cfg);
        hits.retire(&t3);
        drop(t3);
        hits.prune(&cfg);
        let totals = hits.totals(&t4);
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
