//! The poll-mode worker: one per core, pinned, owning one RX queue per port it polls and one
//! TX queue per port it sends on. [`run`] is its loop, as DPDK's l2fwd has one: receive a
//! burst from each RX queue and handle it, flush the copies, report a quiescent state.
//!
//! A received burst goes through four stages, each one function over the whole burst
//! (`handle_burst`), in the spirit of VPP's nodes:
//!
//! 1. On ports without a link, `snoop::to_control` copies ARP and Neighbor Discovery frames,
//!    and TCP and ICMP (ICMPv6) for the port's own addresses (health checks' answers), out
//!    for the control thread.
//! 2. `decide` (only where some source can see the burst): a prefetch of every packet's
//!    first cache line, then per frame [`Sources::decide`], which parses it and answers the
//!    copies to make (see [`decide`](crate::decide)); each becomes a pending copy, and its
//!    original takes a second reference (one per original), so that...
//! 3. `forward`: ...the originals leave first, untouched, with a bounded retry; frames the TX
//!    queue still refuses are freed and counted.
//! 4. `build_copies`: per pending copy, the collector its flow hash picks, and an mbuf from
//!    the copy pool with that collector's precomputed outer headers and only the bytes that
//!    will be sent; queued per mirror port.
//!
//! After every RX queue has been polled the copy queues are flushed (`flush_copies`, no retry:
//! a refused copy is a counted skip) and the worker reports an RCU quiescent state: the table
//! it read stays the same for the whole iteration.
//!
//! A port in a link that also sends copies (a shared port) keeps a reserve of free TX
//! descriptors for originals: its copies are offered only when the device says the ring has
//! room for them and the reserve (one question a flush, `TxQueue::free_at_least`); otherwise
//! they are skipped as `queue full`. Copies may only use what originals leave, so a slow
//! shared port drops copies, never originals. A device that cannot say (DPDK's virtual ones)
//! sends no copies on a shared port; the control plane refuses such a configuration.

use crate::decide::{CountHits, Sources};
use crate::dpdk::burst::{Burst, MAX_BURST};
use crate::dpdk::eal;
use crate::dpdk::mbuf::Mbuf;
use crate::dpdk::mempool::Mempool;
use crate::dpdk::queue::{RxQueue, TxQueue};
use crate::encap::{Template, MAX_OUTER_LEN};
use crate::hash::source_port;
use crate::parse::Packet;
use crate::rcu::Reader;
use crate::snoop::{self, SnoopQueue};
use crate::stats::WorkerCounters;
use crate::table::{CountedAt, Table};
use crate::types::{CopySkip, Direction, NotMirrored, SessionIdx};
use crate::wire::probe::Addresses;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

pub mod floor;

/// What a worker is given to run.
pub struct WorkerSetup<'a> {
    /// Worker number, also its RCU reader slot.
    pub id: usize,
    /// (port index, queue) pairs this worker polls.
    pub rx: Vec<(u16, RxQueue)>,
    /// This worker's TX queue on each port, by port index.
    pub tx: Vec<Option<TxQueue>>,
    /// The link peer of each port (where its frames are forwarded), by port index; `None`
    /// for tap and mirror-only ports, whose frames are dropped after mirroring.
    pub peers: Vec<Option<u16>>,
    /// TX descriptors kept free for originals on each port that forwards them (a port in a
    /// link), by port index: copies leave such a port only while this many stay free.
    pub tx_reserve: Vec<Option<u16>>,
    /// Mempool for copies, apart from the RX pool so slow mirror ports never starve
    /// originals.
    pub copy_pool: &'a Mempool,
    /// Mbufs without a data room, for the segments of copies sent by reference.
    pub ref_pool: &'a Mempool,
    /// Whether each port (by port index) can send chained mbufs: long copies out of it are
    /// then sent by reference ([`fill_copy`]).
    pub chains: Vec<bool>,
    /// Most packets taken from an RX queue at once.
    pub burst_size: usize,
    /// Extra attempts to send originals a TX queue refused.
    pub tx_retries: u32,
    /// Sleep after a poll round that received nothing (0: pure polling).
    pub idle_sleep: Duration,
    /// Where ARP and Neighbor Discovery frames received on ports without a link go (the
    /// control thread resolves next hops and answers for the mirror ports' addresses).
    pub snoop: &'a SnoopQueue,
    /// Each port's own addresses, by port index: TCP and ICMP (ICMPv6) for them received on a
    /// port without a link also go to the control thread (health checks' answers).
    pub addresses: Vec<Addresses>,
}

/// Runs the poll loop until `stop` is set. The calling thread should already be pinned and
/// registered with the EAL. Out of line so that it stays a function of its own: the
/// whole-worker instruction count (`tm-bench --callgrind`) collects inside it.
#[inline(never)]
pub fn run(setup: WorkerSetup, reader: Reader<Table>, counters: &WorkerCounters, stop: &AtomicBool) {
    poll(setup, reader, counters, stop, |w, table, port, burst| w.handle_burst(table, port, burst));
}

/// The poll loop around a burst handler, as DPDK's l2fwd has one: receive a burst from each RX
/// queue and hand it to `handle`, flush the copies, report a quiescent state, count the cycles.
/// Shared by [`run`] and the benchmark's [`floor`]s, so that a floor differs from the product
/// only by what its handler does.
#[inline(always)]
fn poll(setup: WorkerSetup, mut reader: Reader<Table>, counters: &WorkerCounters, stop: &AtomicBool, mut handle: impl FnMut(&mut Worker, &Table, usize, &mut Burst)) {
    let WorkerSetup { id, mut rx, tx, peers, tx_reserve, copy_pool, ref_pool, chains, burst_size, tx_retries, idle_sleep, snoop, addresses } = setup;
    let burst_size = burst_size.clamp(1, MAX_BURST);
    let ports = tx.len();
    let mut w = Worker {
        id,
        tx,
        peers,
        copy_pool,
        ref_pool,
        chains,
        tx_retries,
        counters,
        pending: Vec::with_capacity(MAX_PENDING),
        held: Burst::new(),
        fresh: Burst::new(),
        copies: (0..ports).map(|p| CopyQueue { burst: Burst::new(), meta: [CopyMeta::default(); MAX_BURST], reserve: tx_reserve.get(p).copied().flatten() }).collect(),
        snoop,
        addresses,
    };
    let mut burst = Burst::new();
    let mut last = eal::tsc();
    while !stop.load(Ordering::Relaxed) {
        let mut received = 0;
        for (port, queue) in &mut rx {
            let n = queue.receive_up_to(&mut burst, burst_size);
            if n > 0 {
                received += n;
                // The table is read after the frames are: a frame that arrives once a change
                // has been published (and answered) is decided by the new table.
                handle(&mut w, reader.read(), usize::from(*port), &mut burst);
            }
        }
        w.flush_copies();
        reader.quiescent();

        let now = eal::tsc();
        let spent = now.wrapping_sub(last);
        last = now;
        counters.total_cycles.add(spent);
        counters.polls.add(1);
        if received > 0 {
            counters.busy_cycles.add(spent);
        } else if !idle_sleep.is_zero() {
            std::thread::sleep(idle_sleep);
        }
    }
}

impl Worker<'_> {
    /// One burst received on `port`, through the four stages.
    fn handle_burst(&mut self, table: &Table, port: usize, burst: &mut Burst) {
        self.counters.ports[port].rx_packets.add(burst.len() as u64);
        let peer = self.peers[port].map(usize::from);
        // Frames leave through the peer; on a tap port there is no peer, and its own sources
        // see frames addressed to their MAC as ingress.
        let out_port = peer.unwrap_or(port);
        if peer.is_none() {
            snoop::to_control(self.snoop, port as u16, &self.addresses[port], burst.iter().map(Mbuf::data), &self.counters.snoop_dropped);
        }
        let sources = table.sources(port, out_port);
        if !sources.is_empty() {
            self.decide(&sources, burst);
        }
        self.forward(peer, burst);
        self.build_copies(table);
    }

    /// Stage 2: which sessions mirror which frames.
    fn decide(&mut self, sources: &Sources, burst: &Burst) {
        self.pending.clear();
        // The headers of the whole burst on their way into the cache before the first is read.
        for m in burst.iter() {
            m.prefetch();
        }
        let mut not_mirrored = [0u64; NotMirrored::ALL.len()];
        let (pending, held) = (&mut self.pending, &mut self.held);
        let mut packet = Packet::default();
        let mut hits = CountHits { worker: self.id };
        for m in burst.iter() {
            // As each copy is found: a second reference on its original (one per
            // original, however many copies) keeps it for building once it has been sent.
            let mut hold = None;
            let decided = sources.decide(m.data(), &mut packet, &mut hits, |mirror| {
                if pending.len() == MAX_PENDING {
                    return;
                }
                let at = *hold.get_or_insert_with(|| {
                    // Cannot fail: at most one hold per packet of the burst.
                    let _ = held.push(m.share());
                    (held.len() - 1) as u8
                });
                pending.push(PendingCopy { pkt: at, dir: mirror.dir, session: mirror.session, hash: mirror.hash });
            });
            if let Err(reason) = decided {
                not_mirrored[reason as usize] += 1;
            }
        }
        for reason in NotMirrored::ALL {
            self.counters.not_mirrored(reason).add(not_mirrored[reason as usize]);
        }
    }

    /// Stage 3: originals out of the peer port, or dropped where there is none.
    fn forward(&mut self, peer: Option<usize>, burst: &mut Burst) {
        let Some(out) = peer else {
            burst.clear();
            return;
        };
        let txq = self.tx[out].as_mut().expect("every linked port has a TX queue per worker");
        txq.send(burst);
        let mut attempts = 0;
        while !burst.is_empty() && attempts < self.tx_retries {
            txq.send(burst);
            attempts += 1;
        }
        if !burst.is_empty() {
            self.counters.ports[out].tx_dropped.add(burst.len() as u64);
            burst.clear();
        }
    }

    /// Stage 4: build each pending copy and queue it on its mirror port.
    fn build_copies(&mut self, table: &Table) {
        if self.pending.is_empty() {
            return;
        }
        if self.fresh.len() < self.pending.len() {
            // Bulk refill; if the pool is short, per-copy allocation below counts the misses.
            let _ = self.fresh.alloc_bulk(self.copy_pool, MAX_BURST);
        }
        let counters = self.counters;
        let pending = std::mem::take(&mut self.pending);
        // Fields read where they lie: copying each pending copy out first costs a copy one to
        // three instructions more (callgrind).
        for pc in &pending {
            let s = table.session(pc.session);
            let original = &self.held[usize::from(pc.pkt)];
            let len = original.pkt_len();
            let inner = len.min(s.max_inner as usize);
            let skip = |reason| counters.session(s.slot, pc.dir).skip(reason, inner as u64);
            // The flow hash picks the collector (see `SessionOut::collector`).
            let Some(c) = s.collector(pc.hash) else {
                skip(s.empty);
                counters.target(s.target).skip(s.empty, inner as u64);
                continue;
            };
            let no_mbuf = || {
                skip(CopySkip::NoMbuf);
                counters.collector(c.slot).skip(CopySkip::NoMbuf, inner as u64);
            };
            let Some(mut copy) = self.fresh.pop().or_else(|| Mbuf::alloc(self.copy_pool)) else {
                no_mbuf();
                continue;
            };
            // Only long copies ask whether their port chains: short ones pay one comparison.
            let by_reference = inner >= BY_REFERENCE_FROM && self.chains[usize::from(s.port)];
            let reference = by_reference.then(|| Mbuf::alloc(self.ref_pool)).flatten();
            if !fill_copy(&mut copy, self.copy_pool, reference, &c.outer, original, inner, source_port(pc.hash)) {
                no_mbuf();
                continue;
            }
            let meta = CopyMeta { counted: c.counted.toward(pc.dir), truncated: inner < len, inner: inner as u32 };
            self.enqueue_copy(usize::from(s.port), copy, meta);
        }
        // Back in place, empty: its capacity is kept, nothing is allocated per burst.
        self.pending = pending;
        self.pending.clear();
        self.held.clear();
    }

    // Inlined into both of its callers (the floors' too): out of line, a copy costs 13
    // instructions more.
    #[inline(always)]
    fn enqueue_copy(&mut self, port: usize, copy: Mbuf, meta: CopyMeta) {
        if self.copies[port].burst.is_full() {
            self.flush_port(port);
        }
        let q = &mut self.copies[port];
        q.meta[q.burst.len()] = meta;
        // Cannot fail: flushed above when full.
        let _ = q.burst.push(copy);
    }

    /// After every poll: sends every queued copy, once; what a TX queue refuses is a counted
    /// skip.
    fn flush_copies(&mut self) {
        for port in 0..self.copies.len() {
            if !self.copies[port].burst.is_empty() {
                self.flush_port(port);
            }
        }
    }

    fn flush_port(&mut self, port: usize) {
        let q = &mut self.copies[port];
        let n = q.burst.len();
        let txq = self.tx[port].as_mut().expect("every mirror port has a TX queue per worker");
        let sent = match q.reserve {
            None => txq.send(&mut q.burst),
            Some(reserve) => send_leaving(txq, &mut q.burst, reserve),
        };
        // Copies of one session and direction, to one collector, come in runs: each run is
        // counted at once.
        for run in q.meta[..sent].chunk_by(|a, b| a.counted == b.counted) {
            let (packets, bytes) = (run.len() as u64, run.iter().map(|m| u64::from(m.inner)).sum());
            let at = run[0].counted;
            let c = self.counters.session(at.session(), at.dir());
            c.packets.add(packets);
            c.bytes.add(bytes);
            c.truncated.add(run.iter().map(|m| u64::from(m.truncated)).sum());
            let c = self.counters.collector(at.collector());
            c.packets.add(packets);
            c.bytes.add(bytes);
        }
        if sent < n {
            for m in &q.meta[sent..n] {
                self.counters.session(m.counted.session(), m.counted.dir()).skip(CopySkip::QueueFull, u64::from(m.inner));
                self.counters.collector(m.counted.collector()).skip(CopySkip::QueueFull, u64::from(m.inner));
            }
            self.counters.ports[port].copies_dropped.add((n - sent) as u64);
            q.burst.clear();
        }
    }
}

/// Sends copies on a port that forwards originals: only if the ring has room for them and the
/// originals' `reserve` of descriptors; a device that cannot say sends none. Out of line: the
/// common mirror port never comes here.
#[inline(never)]
fn send_leaving(txq: &mut TxQueue, copies: &mut Burst, reserve: u16) -> usize {
    let descriptors = copies.iter().map(Mbuf::segment_count).sum::<u16>();
    if txq.free_at_least(reserve.saturating_add(descriptors)) == Some(true) {
        txq.send(copies)
    } else {
        0
    }
}

/// From this many bytes on, a copy is sent by reference where its port can send chained mbufs:
/// below, copying the bytes costs less than a second mbuf and the atomic reference counts of
/// attaching it to the original and detaching it.
pub(crate) const BY_REFERENCE_FROM: usize = 512;

/// Writes a copy: `outer` then the first `inner` bytes of `original`. The common case (the
/// bytes lie in the original's first segment and fit the copy's buffer) is one append and one
/// copy. Given a `reference` segment (for copies of [`BY_REFERENCE_FROM`] bytes or more out of
/// a port that sends chained mbufs), the bytes are not copied but referred to: the copy holds
/// the headers, and the segment, attached to the original's buffer, follows
/// ([`Mbuf::chain_reference`]). Otherwise the bytes are chained over segments from `pool`.
/// False when mbufs ran out.
#[inline(always)]
fn fill_copy(copy: &mut Mbuf, pool: &Mempool, reference: Option<Mbuf>, outer: &Template, original: &Mbuf, inner: usize, src_port: u16) -> bool {
    let head = original.data();
    if inner <= head.len() {
        if let Some(segment) = reference {
            let Some(header) = copy.append(outer.len()) else { return false };
            outer.write(header, &head[..inner], src_port);
            return copy.chain_reference(segment, original, inner).is_ok();
        }
        if let Some(buf) = copy.append(outer.len() + inner) {
            let bytes = &head[..inner];
            match buf.first_chunk_mut::<MAX_OUTER_LEN>() {
                Some(full) => outer.write_full(full, bytes, src_port),
                None => outer.write(&mut buf[..outer.len()], bytes, src_port),
            }
            // After the headers: it overwrites their scratch tail.
            buf[outer.len()..].copy_from_slice(bytes);
            return true;
        }
    }
    match copy.append(outer.len()) {
        Some(header) => outer.write_chained(header, original.segments(), inner, src_port),
        None => return false,
    }
    copy.append_from(pool, original, inner).is_ok()
}

// What the stages hand each other.

/// Copies one frame can produce: an egress source with and one without a MAC on its port,
/// and the same for ingress on the peer (validation keeps MACs unique per port).
const MAX_COPIES_PER_FRAME: usize = 4;
const MAX_PENDING: usize = MAX_BURST * MAX_COPIES_PER_FRAME;

/// One accepted copy, between the decision and building.
#[derive(Clone, Copy)]
struct PendingCopy {
    /// Index of its original in `held`.
    pkt: u8,
    // Mirror's fields, flat: packed with `pkt` in 12 bytes.
    dir: Direction,
    session: SessionIdx,
    hash: u32,
}

/// What flushing needs to count a queued copy.
#[derive(Clone, Copy, Default)]
struct CopyMeta {
    counted: CountedAt,
    truncated: bool,
    /// Bytes of the original carried.
    inner: u32,
}

/// Copies waiting to be sent on one port.
struct CopyQueue {
    burst: Burst,
    meta: [CopyMeta; MAX_BURST],
    /// TX descriptors kept free for originals, on a port that forwards them.
    reserve: Option<u16>,
}

/// A worker's state between the stages of a burst and the polls of its loop.
struct Worker<'a> {
    /// Its number: where it counts rule hits.
    id: usize,
    tx: Vec<Option<TxQueue>>,
    peers: Vec<Option<u16>>,
    copy_pool: &'a Mempool,
    ref_pool: &'a Mempool,
    chains: Vec<bool>,
    tx_retries: u32,
    counters: &'a WorkerCounters,
    pending: Vec<PendingCopy>,
    /// Second references on the originals being copied, freed together after building.
    held: Burst,
    /// Pre-allocated copy mbufs, refilled in bulk.
    fresh: Burst,
    /// By port index.
    copies: Vec<CopyQueue>,
    snoop: &'a SnoopQueue,
    /// By port index.
    addresses: Vec<Addresses>,
}
