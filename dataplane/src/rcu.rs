//! Quiescent-state-based RCU for the tables workers read.
//!
//! A hand-written QSBR rather than crossbeam-epoch or arc-swap: workers already pass a natural
//! quiescent point after every burst, so reporting it is one store per poll-loop iteration,
//! and reading the table is one load with no reference counting or pinning per packet.
//! (DPDK's rte_rcu_qsbr is the same scheme, but its fast path is static inline C.)
//!
//! The writer swaps the pointer, bumps the grace-period counter and, once every online reader
//! has reported a quiescent state at or after it, drops the old value: [`Writer::swap`] waits
//! for that; [`Writer::publish`] does not (the control plane answers a change without waiting
//! for a worker the scheduler has set aside) and keeps the old value until
//! [`Writer::reclaim`] finds its grace period over.
//! The reader API makes the rule a compile-time one: [`Reader::read`] borrows the reader, and
//! [`Reader::quiescent`] needs it mutably, so no reference survives a quiescent report.

#![allow(unsafe_code)]
// The published pointer and its grace periods: every unsafe block here carries its SAFETY line.

use crossbeam_utils::CachePadded;
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// A reader slot's value while its thread is offline: never holds a reference.
const OFFLINE: u64 = u64::MAX;

/// A value published to readers, replaced as a whole.
pub struct Rcu<T> {
    current: AtomicPtr<T>,
    /// Grace-period counter, bumped by every swap.
    epoch: AtomicU64,
    /// Per reader: the epoch at its last quiescent report, or OFFLINE.
    readers: Box<[CachePadded<AtomicU64>]>,
    /// A [`Writer`] exists: there is only ever one.
    writer_taken: AtomicBool,
}

// SAFETY: readers on other threads get `&T` (needs T: Sync); the writer drops old values
// possibly created on another thread (needs T: Send).
unsafe impl<T: Send + Sync> Sync for Rcu<T> {}
// SAFETY: as above.
unsafe impl<T: Send + Sync> Send for Rcu<T> {}

impl<T> Rcu<T> {
    /// Publishes `initial` for `readers` reader slots, all offline until they call
    /// [`Rcu::reader`].
    pub fn new(initial: T, readers: usize) -> Self {
        Rcu {
            current: AtomicPtr::new(Box::into_raw(Box::new(initial))),
            epoch: AtomicU64::new(1),
            readers: (0..readers).map(|_| CachePadded::new(AtomicU64::new(OFFLINE))).collect(),
            writer_taken: AtomicBool::new(false),
        }
    }

    /// The one writer handle. Panics on a second call.
    pub fn writer(&self) -> Writer<'_, T> {
        assert!(!self.writer_taken.swap(true, Ordering::SeqCst), "RCU writer taken twice");
        Writer { rcu: self, retired: std::collections::VecDeque::new() }
    }

    /// Takes reader slot `id` online. Each slot must have one reader at a time.
    pub fn reader(&self, id: usize) -> Reader<'_, T> {
        let slot = &self.readers[id];
        assert_eq!(slot.load(Ordering::SeqCst), OFFLINE, "RCU reader slot {id} taken twice");
        slot.store(self.epoch.load(Ordering::SeqCst), Ordering::SeqCst);
        Reader { rcu: self, id }
    }
}

impl<T> Drop for Rcu<T> {
    fn drop(&mut self) {
        // SAFETY: &mut self: no reader or writer is left.
        drop(unsafe { Box::from_raw(*self.current.get_mut()) });
    }
}

/// The single writer (the control thread's handle): publishes new values.
pub struct Writer<'a, T> {
    rcu: &'a Rcu<T>,
    /// Values [`publish`](Writer::publish) replaced, oldest first, with the grace period each
    /// waits for; each came from `Box::into_raw`.
    retired: std::collections::VecDeque<(u64, *mut T)>,
}

impl<T> Writer<'_, T> {
    /// At most this many replaced values wait for their grace period: past it, a publication
    /// waits for the oldest (a worker stalled that long is waited for, as by `swap`).
    pub const MAX_RETIRED: usize = 64;

    /// The value published now (the control thread reads the live table through it).
    pub fn current(&self) -> &T {
        // SAFETY: only the writer replaces or frees values, in methods that take `&mut self`:
        // while this borrow lives, the current value cannot be replaced, let alone freed.
        unsafe { &*self.rcu.current.load(Ordering::SeqCst) }
    }

    /// Publishes `new` and returns at once with the grace period after which no reader sees
    /// the old value; the old value is handed to `on_free` and dropped by a later
    /// [`reclaim`](Self::reclaim) (or when the writer goes). `on_wait` as for
    /// [`swap`](Self::swap), when too many wait; `on_free` as for `reclaim`.
    pub fn publish(&mut self, new: T, on_wait: impl FnMut(usize), on_free: impl FnMut(&T)) -> u64 {
        if self.retired.len() >= Self::MAX_RETIRED {
            if let Some(&(epoch, _)) = self.retired.front() {
                self.wait(epoch, on_wait);
                self.reclaim(on_free);
            }
        }
        let old = self.rcu.current.swap(Box::into_raw(Box::new(new)), Ordering::SeqCst);
        let target = self.rcu.epoch.fetch_add(1, Ordering::SeqCst) + 1;
        self.retired.push_back((target, old));
        target
    }

    /// Whether every reader has passed a quiescent state at or after grace period `epoch`.
    pub fn passed(&self, epoch: u64) -> bool {
        self.rcu.readers.iter().all(|slot| slot.load(Ordering::SeqCst) >= epoch)
    }

    /// Drops the replaced values whose grace period is over, oldest first, each shown to
    /// `on_free` just before (what it alone held is final then); returns how many still wait.
    pub fn reclaim(&mut self, mut on_free: impl FnMut(&T)) -> usize {
        while let Some(&(epoch, old)) = self.retired.front() {
            if !self.passed(epoch) {
                break;
            }
            self.retired.pop_front();
            // SAFETY: `old` came from Box::into_raw in `publish`, was unreachable from the
            // moment it was swapped out, and every reader has since passed a quiescent state,
            // so no reference to it remains; it is popped, so it is freed once.
            let old = unsafe { Box::from_raw(old) };
            on_free(&old);
        }
        self.retired.len()
    }

    /// The replaced values still waiting for their grace period, oldest first (readers may
    /// still be in them, so their counters still move).
    pub fn waiting(&self) -> impl Iterator<Item = &T> {
        // SAFETY: each came from Box::into_raw and is freed only by `reclaim`, which needs
        // `&mut self`: while this borrow lives, none of them is freed.
        self.retired.iter().map(|&(_, v)| unsafe { &*v })
    }

    /// Waits until every reader has passed grace period `target` (`on_wait` as for
    /// [`swap`](Self::swap)).
    pub fn wait(&self, target: u64, mut on_wait: impl FnMut(usize)) {
        for (id, slot) in self.rcu.readers.iter().enumerate() {
            let mut since = Instant::now();
            let mut spins = 0u32;
            while slot.load(Ordering::SeqCst) < target {
                spins += 1;
                if spins < 64 {
                    std::hint::spin_loop();
                } else {
                    std::thread::sleep(Duration::from_micros(50));
                }
                if since.elapsed() > Duration::from_secs(1) {
                    on_wait(id);
                    since = Instant::now();
                }
            }
        }
    }

    /// Publishes `new`, waits for a grace period, and returns the previous value, which no
    /// reader can see any more. `on_wait` is called about once a second while a reader is
    /// late (a stalled worker), with its slot id.
    pub fn swap(&mut self, new: T, on_wait: impl FnMut(usize)) -> T {
        let old = self.rcu.current.swap(Box::into_raw(Box::new(new)), Ordering::SeqCst);
        let target = self.rcu.epoch.fetch_add(1, Ordering::SeqCst) + 1;
        self.wait(target, on_wait);
        // SAFETY: `old` came from Box::into_raw, and every reader has passed a quiescent
        // state after it became unreachable, so no reference to it remains.
        *unsafe { Box::from_raw(old) }
    }
}

impl<T> Drop for Writer<'_, T> {
    fn drop(&mut self) {
        if let Some(&(epoch, _)) = self.retired.back() {
            self.wait(epoch, |_| {});
        }
        self.reclaim(|_| {});
    }
}

/// One reader's handle: read the current value, report quiescent states.
pub struct Reader<'a, T> {
    rcu: &'a Rcu<T>,
    id: usize,
}

impl<T> Reader<'_, T> {
    /// The current value; valid until the next [`quiescent`](Self::quiescent).
    #[inline(always)]
    pub fn read(&self) -> &T {
        // SAFETY: the writer frees a value only after this reader reports a quiescent state
        // later than the swap; `quiescent` takes &mut self, so this borrow has ended by then.
        unsafe { &*self.rcu.current.load(Ordering::SeqCst) }
    }

    /// Reports that this reader holds no reference.
    #[inline(always)]
    pub fn quiescent(&mut self) {
        let e = self.rcu.epoch.load(Ordering::SeqCst);
        self.rcu.readers[self.id].store(e, Ordering::SeqCst);
    }
}

impl<T> Drop for Reader<'_, T> {
    fn drop(&mut self) {
        self.rcu.readers[self.id].store(OFFLINE, Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;
    use std::sync::Arc;

    /// A value that records whether it is still alive when read.
    struct Tracked {
        generation: u64,
        alive: Arc<AtomicUsize>,
        poisoned: AtomicBool,
    }

    impl Drop for Tracked {
        fn drop(&mut self) {
            self.poisoned.store(true, Ordering::SeqCst);
            self.alive.fetch_sub(1, Ordering::SeqCst);
        }
    }

    #[test]
    fn readers_never_see_a_freed_value_and_all_values_are_freed() {
        let alive = Arc::new(AtomicUsize::new(1));
        let make = |g| Tracked { generation: g, alive: alive.clone(), poisoned: AtomicBool::new(false) };
        let rcu = Rcu::new(make(0), 2);
        let stop = AtomicBool::new(false);
        let swaps = if cfg!(miri) { 20 } else { 2000 };
        std::thread::scope(|s| {
            for id in 0..2 {
                let (rcu, stop) = (&rcu, &stop);
                s.spawn(move || {
                    let mut r = rcu.reader(id);
                    let mut last = 0;
                    while !stop.load(Ordering::Relaxed) {
                        let v = r.read();
                        // Within one "burst", the value is whole and alive, and generations
                        // only move forward.
                        assert!(!v.poisoned.load(Ordering::SeqCst));
                        assert!(v.generation >= last);
                        last = v.generation;
                        r.quiescent();
                    }
                });
            }
            let mut w = rcu.writer();
            for g in 1..=swaps {
                alive.fetch_add(1, Ordering::SeqCst);
                let old = w.swap(make(g), |_| {});
                assert_eq!(old.generation, g - 1);
            }
            stop.store(true, Ordering::Relaxed);
        });
        assert_eq!(alive.load(Ordering::SeqCst), 1, "every replaced value was dropped once");
        drop(rcu);
        assert_eq!(alive.load(Ordering::SeqCst), 0);
    }

    #[test]
    fn an_offline_reader_does_not_block_the_writer() {
        let rcu = Rcu::new(1u32, 3);
        {
            let _r = rcu.reader(1);
        }
        let mut w = rcu.writer();
        assert_eq!(*w.current(), 1);
        assert_eq!(w.swap(2, |id| panic!("waited for reader {id}")), 1);
        assert_eq!(*rcu.reader(0).read(), 2);
        assert_eq!(*w.current(), 2, "the writer reads what it published");
    }

    #[test]
    fn published_values_are_freed_once_readers_have_passed_and_never_before() {
        let alive = Arc::new(AtomicUsize::new(1));
        let make = |g| Tracked { generation: g, alive: alive.clone(), poisoned: AtomicBool::new(false) };
        let rcu = Rcu::new(make(0), 2);
        let stop = AtomicBool::new(false);
        let publications = if cfg!(miri) { 20 } else { 2000 };
        std::thread::scope(|s| {
            for id in 0..2 {
                let (rcu, stop) = (&rcu, &stop);
                s.spawn(move || {
                    let mut r = rcu.reader(id);
                    let mut last = 0;
                    while !stop.load(Ordering::Relaxed) {
                        let v = r.read();
                        assert!(!v.poisoned.load(Ordering::SeqCst));
                        assert!(v.generation >= last);
                        last = v.generation;
                        r.quiescent();
                    }
                });
            }
            let mut w = rcu.writer();
            for g in 1..=publications {
                alive.fetch_add(1, Ordering::SeqCst);
                w.publish(make(g), |_| {}, |_| {});
                assert!(w.reclaim(|_| {}) <= Writer::<Tracked>::MAX_RETIRED);
            }
            stop.store(true, Ordering::Relaxed);
        });
        assert_eq!(alive.load(Ordering::SeqCst), 1, "the writer's going freed what waited");
        drop(rcu);
        assert_eq!(alive.load(Ordering::SeqCst), 0);
    }

    #[test]
    fn a_published_value_waits_for_a_reader_that_has_not_passed() {
        let rcu = Rcu::new(1u32, 1);
        let mut r = rcu.reader(0);
        let mut w = rcu.writer();
        let epoch = w.publish(2, |id| panic!("waited for reader {id}"), |_| {});
        assert!(!w.passed(epoch));
        assert_eq!(w.reclaim(|_| {}), 1, "the old value waits");
        assert_eq!(*r.read(), 2);
        r.quiescent();
        assert!(w.passed(epoch));
        assert_eq!(w.reclaim(|_| {}), 0);
    }
}
