//! The benchmark's floors: the worker's own poll loop ([`poll`](super::poll)) doing the least
//! work a job can be done with on these devices, for `tm-bench` to measure traffic-mirror
//! against. The touch floor reads one byte of each frame and forwards it; the copy floor
//! forwards every frame and sends a copy of it (of every n-th one) behind a fixed template's
//! outer headers: no parse, no rules, no hash. Both go through the same receive, forward
//! (originals first, a second reference held for the copy), copy building ([`fill_copy`]),
//! queueing and flushing as the product, so a floor differs from [`run`](super::run) only by
//! the decision it leaves out.
//!
//! Reachable only through `traffic-mirror run --bench-floor` (a hidden flag): a worker runs
//! either [`run`](super::run) or a floor from its first poll, chosen once when it starts, so
//! the product's per-packet path has no branch for floors.

use super::{fill_copy, poll, CopyMeta, Worker, WorkerSetup, BY_REFERENCE_FROM};
use crate::dpdk::mbuf::Mbuf;
use crate::dpdk::burst::MAX_BURST;
use crate::encap::Template;
use crate::rcu::Reader;
use crate::stats::WorkerCounters;
use crate::table::{CountedAt, Table};
use crate::types::{CollectorSlot, CounterSlot, Direction};
use std::fmt;
use std::str::FromStr;
use std::sync::atomic::AtomicBool;

/// What a floor does with each frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Floor {
    /// Reads one byte of each frame and forwards it.
    Touch,
    /// Forwards each frame and copies every `every`-th one: its first `len` bytes, or all of
    /// it when `None`.
    Copy {
        /// Bytes of the original a copy carries at most; `None` for whole frames.
        len: Option<u32>,
        /// One frame in this many is copied (1: every frame).
        every: u32,
    },
}

/// A floor spelled wrongly on the command line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("bench floor {0:?}: expected touch, copy:LEN or copy:whole, optionally /EVERY (copy:128/10)")]
pub struct BadFloor(pub String);

impl FromStr for Floor {
    type Err = BadFloor;

    fn from_str(s: &str) -> Result<Self, BadFloor> {
        let bad = || BadFloor(s.to_string());
        if s == "touch" {
            return Ok(Floor::Touch);
        }
        let rest = s.strip_prefix("copy:").ok_or_else(bad)?;
        let (len, every) = rest.split_once('/').unwrap_or((rest, "1"));
        let len = match len {
            "whole" => None,
            n => Some(n.parse::<u32>().ok().filter(|&n| n > 0).ok_or_else(bad)?),
        };
        let every = every.parse::<u32>().ok().filter(|&n| n > 0).ok_or_else(bad)?;
        Ok(Floor::Copy { len, every })
    }
}

impl fmt::Display for Floor {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match self {
            Floor::Touch => write!(f, "touch"),
            Floor::Copy { len, every } => {
                match len {
                    Some(n) => write!(f, "copy:{n}")?,
                    None => write!(f, "copy:whole")?,
                }
                if *every != 1 {
                    write!(f, "/{every}")?;
                }
                Ok(())
            }
        }
    }
}

/// Where a copy floor's copies go and the outer headers they carry.
#[derive(Clone, Copy, Debug)]
pub struct FloorOut {
    /// The mirror port's index.
    pub port: u16,
    /// Outer headers: fixed, as a session's are.
    pub template: Template,
}

/// The UDP source port of every floor copy: no flow hash.
const SOURCE_PORT: u16 = 49152;

/// Runs `floor` in the worker's poll loop until `stop` is set; a copy floor sends to `out`,
/// which it needs. Out of line, as [`run`](super::run) is, for the whole-worker instruction
/// count.
#[inline(never)]
pub fn run(setup: WorkerSetup, floor: Floor, out: Option<FloorOut>, reader: Reader<Table>, counters: &WorkerCounters, stop: &AtomicBool) {
    match floor {
        Floor::Touch => poll(setup, reader, counters, stop, |w, _, port, burst| {
            w.counters.ports[port].rx_packets.add(burst.len() as u64);
            let mut seen = 0u8;
            for m in burst.iter() {
                seen ^= m.data().first().copied().unwrap_or(0);
            }
            std::hint::black_box(seen);
            let peer = w.peers[port].map(usize::from);
            w.forward(peer, burst);
        }),
        Floor::Copy { len, every } => {
            let out = out.expect("a copy floor is given where its copies go");
            let len = len.map_or(usize::MAX, |n| n as usize);
            // Counts down to the next frame copied.
            let mut next = 1u32;
            poll(setup, reader, counters, stop, move |w, _, port, burst| {
                w.counters.ports[port].rx_packets.add(burst.len() as u64);
                for m in burst.iter() {
                    next -= 1;
                    if next == 0 {
                        next = every;
                        // Cannot fail: at most one hold per packet of the burst.
                        let _ = w.held.push(m.share());
                    }
                }
                let peer = w.peers[port].map(usize::from);
                w.forward(peer, burst);
                w.build_floor_copies(&out, len);
            });
        }
    }
}

impl Worker<'_> {
    /// A copy of each held original, its first `len` bytes behind `out`'s template, queued on
    /// its port; as [`build_copies`](Worker::build_copies) without sessions.
    fn build_floor_copies(&mut self, out: &FloorOut, len: usize) {
        if self.held.is_empty() {
            return;
        }
        if self.fresh.len() < self.held.len() {
            let _ = self.fresh.alloc_bulk(self.copy_pool, MAX_BURST);
        }
        for i in 0..self.held.len() {
            let original = &self.held[i];
            let whole = original.pkt_len();
            let inner = whole.min(len);
            let Some(mut copy) = self.fresh.pop().or_else(|| Mbuf::alloc(self.copy_pool)) else { continue };
            let by_reference = inner >= BY_REFERENCE_FROM && self.chains[usize::from(out.port)];
            let reference = by_reference.then(|| Mbuf::alloc(self.ref_pool)).flatten();
            if !fill_copy(&mut copy, self.copy_pool, reference, &out.template, original, inner, SOURCE_PORT) {
                continue;
            }
            let meta = CopyMeta { counted: CountedAt::new(CounterSlot(0), Direction::Egress, CollectorSlot(0)), truncated: inner < whole, inner: inner as u32 };
            self.enqueue_copy(usize::from(out.port), copy, meta);
        }
        self.held.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floors_read_as_they_are_written() {
        for (text, floor) in [
            ("touch", Floor::Touch),
            ("copy:128", Floor::Copy { len: Some(128), every: 1 }),
            ("copy:whole", Floor::Copy { len: None, every: 1 }),
            ("copy:128/10", Floor::Copy { len: Some(128), every: 10 }),
        ] {
            assert_eq!(text.parse::<Floor>(), Ok(floor));
            assert_eq!(floor.to_string(), text);
        }
    }

    #[test]
    fn misspelt_floors_are_refused_with_what_was_given() {
        for text in ["", "copy", "copy:", "copy:0", "copy:128/0", "copy:big", "touch/2", "copy:128/x"] {
            let e = text.parse::<Floor>().unwrap_err();
            assert!(e.to_string().contains(&format!("{text:?}")), "{e}");
        }
    }
}
