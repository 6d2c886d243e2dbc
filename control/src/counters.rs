//! Session counters across table swaps: each session keeps a counter slot while it exists,
//! whatever else changes, and its figures are the sum of every worker's counters for that
//! slot, less what the slot held when the session got it.

use crate::config::{Config, ConfigError, Direction};
use dataplane::stats::{SessionCounters, WorkerCounters};
use dataplane::types::CounterSlot;
use serde::{Deserialize, Serialize};
// FxHash: a scrape looks up every session's slot.
use rustc_hash::FxHashMap as HashMap;

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
    /// Freed by the change being applied...
    released: Vec<u32>,
    /// ...then waiting for the grace period of the table that no longer counts into them.
    waiting: Vec<(u64, u32)>,
    next: u32,
    capacity: u32,
    /// What a reused slot's counters held when its session got it.
    base: HashMap<u32, [DirReport; 2]>,
}

/// What [`Slots::assign`] did, to undo it when the change is refused.
#[derive(Debug, Default)]
pub struct Assigned {
    /// Sessions given a slot, with what the slot's base was.
    given: Vec<(String, u32, Option<[DirReport; 2]>)>,
    /// Sessions whose slot was released.
    released: Vec<(String, u32)>,
    /// Slots taken from the free list, in order.
    reused: Vec<u32>,
    next: u32,
}

impl Slots {
    /// Room for `capacity` sessions at once.
    pub fn new(capacity: usize) -> Self {
        Slots { capacity: capacity as u32, ..Slots::default() }
    }

    /// Room for `sessions` sessions at once (the quota), and some to spare: the slot of a
    /// deleted session waits for the workers to leave the table that counts into it, so
    /// without spares a change at the quota (delete one, create another) would wait for them.
    pub fn for_quota(sessions: usize) -> Self {
        Slots::new(sessions + sessions / 8 + 64)
    }

    /// Number of slots the counters must have.
    pub fn capacity(&self) -> usize {
        self.capacity as usize
    }

    /// For each session id in `ids`: one of `cfg` gets a slot if it has none, one that `cfg`
    /// no longer has releases its own. (Every session id of `cfg` and every one holding a
    /// slot, for a whole configuration.)
    pub fn assign<'i>(&mut self, cfg: &Config, ids: impl IntoIterator<Item = &'i str>, counters: &[WorkerCounters]) -> Result<Assigned, ConfigError> {
        let mut done = Assigned { next: self.next, ..Assigned::default() };
        for id in ids {
            match (cfg.sessions.contains(id), self.by_id.get(id).copied()) {
                (false, Some(slot)) => {
                    self.by_id.remove(id);
                    self.released.push(slot);
                    done.released.push((id.to_owned(), slot));
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
                        None => {
                            self.undo(done);
                            return Err(ConfigError {
                                problems: vec![(None, None, format!("no counter slot left for session {id:?}: at most {} sessions ([quotas] sessions at start-up)", self.capacity))],
                            });
                        }
                    };
                    let base = self.base.insert(slot, session_totals(counters, slot));
                    self.by_id.insert(id.to_owned(), slot);
                    done.given.push((id.to_owned(), slot, base));
                }
                _ => {}
            }
        }
        Ok(done)
    }

    /// [`assign`](Self::assign) for every session of `cfg` and every one that holds a slot.
    pub fn assign_all(&mut self, cfg: &Config, counters: &[WorkerCounters]) -> Result<Assigned, ConfigError> {
        let mut ids: Vec<String> = self.by_id.keys().filter(|id| !cfg.sessions.contains(id)).cloned().collect();
        ids.extend(cfg.sessions.iter().map(|s| s.id.clone()));
        self.assign(cfg, ids.iter().map(String::as_str), counters)
    }

    /// Puts the slots back as they were before the [`assign`](Self::assign) that returned
    /// `done`.
    pub fn undo(&mut self, done: Assigned) {
        for (id, slot, base) in done.given.into_iter().rev() {
            self.by_id.remove(&id);
            match base {
                Some(b) => self.base.insert(slot, b),
                None => self.base.remove(&slot),
            };
        }
        self.free.extend(done.reused.into_iter().rev());
        self.next = done.next;
        self.released.truncate(self.released.len() - done.released.len());
        for (id, slot) in done.released {
            self.by_id.insert(id, slot);
        }
    }

    /// The change whose slots were assigned is published as grace period `epoch`: the slots
    /// it released are free once no worker reads the table before it ([`Slots::reclaim`]).
    pub fn published(&mut self, epoch: u64) {
        self.waiting.extend(self.released.drain(..).map(|slot| (epoch, slot)));
    }

    /// The latest grace period a released slot waits for, if one does.
    pub fn waiting(&self) -> Option<u64> {
        self.waiting.iter().map(|(epoch, _)| *epoch).max()
    }

    /// Frees the released slots whose grace period `passed` says is over.
    pub fn reclaim(&mut self, passed: impl Fn(u64) -> bool) {
        let (done, wait): (Vec<_>, Vec<_>) = self.waiting.drain(..).partition(|(epoch, _)| passed(*epoch));
        self.waiting = wait;
        self.free.extend(done.into_iter().map(|(_, slot)| slot));
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
        let mut ids: Vec<_> = s.by_id.iter().map(|(k, v)| (k.clone(), *v)).collect();
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
        let mut cfg = Config::default();
        cfg.sessions = vec![mk("a"), mk("b"), mk("c")].into();
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
