//! Session counters across table swaps: each session keeps a counter slot while it exists,
//! whatever else changes, and its figures are the sum of every worker's counters for that
//! slot, less what the slot held when the session got it.

use crate::config::{Config, ConfigError, Direction};
use dataplane::stats::{SessionCounters, WorkerCounters};
use dataplane::types::CounterSlot;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

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
