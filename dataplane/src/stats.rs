//! Counters: each worker writes its own, the control thread reads them all.
//!
//! A counter has one writer, so an increment is a relaxed load and store (plain `mov`/`add`,
//! no locked instruction); the atomic type only makes the control thread's concurrent read
//! well-defined.

use crate::types::{CollectorSlot, CopySkip, CounterSlot, Direction, NotMirrored, TargetSlot};
use std::sync::atomic::{AtomicU64, Ordering};

/// A single-writer counter.
#[derive(Default, Debug)]
pub struct Counter(AtomicU64);

impl Counter {
    /// Adds `n`; call only from the owning worker.
    #[inline(always)]
    pub fn add(&self, n: u64) {
        self.0.store(self.0.load(Ordering::Relaxed).wrapping_add(n), Ordering::Relaxed);
    }

    /// The current value.
    #[inline]
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// One worker's counters for one session and direction.
#[derive(Default, Debug)]
pub struct SessionCounters {
    /// Copies sent (AWS NetworkPacketsMirrorIn/Out).
    pub packets: Counter,
    /// Bytes of original frames carried by the copies sent (AWS NetworkMirrorIn/Out).
    pub bytes: Counter,
    /// Copies sent cut short of the original frame.
    pub truncated: Counter,
    /// Copies accepted but not sent (AWS NetworkPacketsSkipMirrorIn/Out), by reason: the
    /// mirror port's TX queue was full...
    pub skip_queue_full: Counter,
    /// ...the copy pool was empty...
    pub skip_no_mbuf: Counter,
    /// ...the next hop was unresolved...
    pub skip_unresolved: Counter,
    /// ...or no collector of the load balancer was healthy.
    pub skip_no_healthy: Counter,
    /// Bytes of those (AWS NetworkSkipMirrorIn/Out).
    pub skip_bytes: Counter,
}

impl SessionCounters {
    /// Counts a skipped copy of `bytes` bytes.
    #[inline]
    pub fn skip(&self, reason: CopySkip, bytes: u64) {
        match reason {
            CopySkip::QueueFull => self.skip_queue_full.add(1),
            CopySkip::NoMbuf => self.skip_no_mbuf.add(1),
            CopySkip::Unresolved => self.skip_unresolved.add(1),
            CopySkip::NoHealthyCollector => self.skip_no_healthy.add(1),
        }
        self.skip_bytes.add(bytes);
    }
}

/// One worker's counters for one collector of one target: the copies sent to it, and those
/// skipped once it was picked.
#[derive(Default, Debug)]
pub struct CollectorCounters {
    /// Copies sent.
    pub packets: Counter,
    /// Bytes of original frames they carried.
    pub bytes: Counter,
    /// Copies for it that the mirror port's TX queue refused...
    pub skip_queue_full: Counter,
    /// ...or that found the copy pool empty.
    pub skip_no_mbuf: Counter,
    /// Bytes of those.
    pub skip_bytes: Counter,
}

/// One worker's counters for one target: copies skipped before any collector could be picked
/// (those after are its collectors').
#[derive(Default, Debug)]
pub struct TargetCounters {
    /// No collector's next hop was resolved...
    pub skip_unresolved: Counter,
    /// ...or no collector of its load balancer was healthy.
    pub skip_no_healthy: Counter,
    /// Bytes of those.
    pub skip_bytes: Counter,
}

impl CollectorCounters {
    /// Counts a skipped copy of `bytes` bytes for a reason that comes after the pick (a full
    /// queue, no mbuf); the reasons that come before are the target's.
    #[inline]
    pub fn skip(&self, reason: CopySkip, bytes: u64) {
        match reason {
            CopySkip::QueueFull => self.skip_queue_full.add(1),
            CopySkip::NoMbuf => self.skip_no_mbuf.add(1),
            CopySkip::Unresolved | CopySkip::NoHealthyCollector => return,
        }
        self.skip_bytes.add(bytes);
    }
}

impl TargetCounters {
    /// Counts a copy of `bytes` bytes skipped for want of a collector in service; the reasons
    /// that come after a pick are the collector's.
    #[inline]
    pub fn skip(&self, reason: CopySkip, bytes: u64) {
        match reason {
            CopySkip::Unresolved => self.skip_unresolved.add(1),
            CopySkip::NoHealthyCollector => self.skip_no_healthy.add(1),
            CopySkip::QueueFull | CopySkip::NoMbuf => return,
        }
        self.skip_bytes.add(bytes);
    }
}

/// How often each outcome of one compiled classifier decided a packet, per worker: each
/// worker counts into its own stretch, cache lines apart from the others', and the control
/// thread sums them (a rule's hits are the counts of the outcomes it decides in). One add per
/// lookup, and it lives as long as the classifier, so its counts follow it from table to table.
#[derive(Debug, Default)]
pub struct OutcomeCounters {
    /// Counters from one worker's first to the next's.
    stride: usize,
    counts: Box<[Counter]>,
}

impl OutcomeCounters {
    /// Zeroed counters for `outcomes` outcomes and `workers` workers.
    pub fn new(workers: usize, outcomes: usize) -> Self {
        // Rounded to whole cache lines, plus one: stretches never share a line, wherever the
        // allocation starts.
        let stride = outcomes.next_multiple_of(8) + 8;
        OutcomeCounters { stride, counts: (0..workers * stride).map(|_| Counter::default()).collect() }
    }

    /// Counts one packet of outcome `o`; call only from worker `worker`.
    #[inline(always)]
    pub fn count(&self, worker: usize, o: u32) {
        self.counts[worker * self.stride + o as usize].add(1);
    }

    /// Outcome `o`'s count, summed over the workers.
    pub fn total(&self, o: u32) -> u64 {
        self.counts.iter().skip(o as usize).step_by(self.stride.max(1)).map(Counter::get).sum()
    }
}

/// One worker's counters for one port. (Packets and bytes in and out are DPDK's port
/// statistics; counting them again here would cost a read of every mbuf.)
#[derive(Default, Debug)]
pub struct PortCounters {
    /// Frames received, per burst: tells the control thread whether traffic still arrives.
    pub rx_packets: Counter,
    /// Originals the TX queue still refused after the retries, freed.
    pub tx_dropped: Counter,
    /// Copies the TX queue refused (also counted per session as skips).
    pub copies_dropped: Counter,
}

/// Everything one worker counts.
#[derive(Debug)]
pub struct WorkerCounters {
    /// By port index.
    pub ports: Box<[PortCounters]>,
    /// By session [`CounterSlot`], then [`Direction`].
    pub sessions: Box<[[SessionCounters; 2]]>,
    /// By [`TargetSlot`].
    pub targets: Box<[TargetCounters]>,
    /// By [`CollectorSlot`].
    pub collectors: Box<[CollectorCounters]>,
    /// Frames that are not IPv4/IPv6: forwarded, never mirrored.
    pub not_ip: Counter,
    /// Frames too short or inconsistent to parse: forwarded, never mirrored.
    pub malformed: Counter,
    /// IP packets that are never mirrored (DHCP, metadata and time services, own copies).
    pub excluded: Counter,
    /// TSC cycles spent in poll iterations that received something, and in all of them.
    pub busy_cycles: Counter,
    /// TSC cycles of all poll iterations.
    pub total_cycles: Counter,
    /// Poll iterations: shows the worker is running, not starved of CPU.
    pub polls: Counter,
    /// Frames for the control thread (ARP, health-check answers) dropped because its queue
    /// was full.
    pub snoop_dropped: Counter,
}

impl WorkerCounters {
    /// Zeroed counters for `ports` ports and `session_slots` sessions (and as many targets,
    /// and collectors, until [`with_targets`](Self::with_targets) says otherwise).
    pub fn new(ports: usize, session_slots: usize) -> Self {
        WorkerCounters {
            ports: (0..ports).map(|_| PortCounters::default()).collect(),
            sessions: (0..session_slots).map(|_| Default::default()).collect(),
            targets: (0..session_slots).map(|_| Default::default()).collect(),
            collectors: (0..session_slots).map(|_| Default::default()).collect(),
            not_ip: Counter::default(),
            malformed: Counter::default(),
            excluded: Counter::default(),
            busy_cycles: Counter::default(),
            total_cycles: Counter::default(),
            polls: Counter::default(),
            snoop_dropped: Counter::default(),
        }
    }

    /// The same, with `target_slots` targets and `collector_slots` collectors.
    pub fn with_targets(mut self, target_slots: usize, collector_slots: usize) -> Self {
        self.targets = (0..target_slots).map(|_| Default::default()).collect();
        self.collectors = (0..collector_slots).map(|_| Default::default()).collect();
        self
    }

    /// The counters of target slot `slot`.
    #[inline(always)]
    pub fn target(&self, slot: TargetSlot) -> &TargetCounters {
        &self.targets[slot.0 as usize]
    }

    /// The counters of collector slot `slot`.
    #[inline(always)]
    pub fn collector(&self, slot: CollectorSlot) -> &CollectorCounters {
        &self.collectors[slot.0 as usize]
    }

    /// The counters of session slot `slot`, direction `dir`.
    #[inline(always)]
    pub fn session(&self, slot: CounterSlot, dir: Direction) -> &SessionCounters {
        &self.sessions[slot.0 as usize][dir as usize]
    }

    /// The counter of frames never mirrored for `reason`.
    #[inline(always)]
    pub fn not_mirrored(&self, reason: NotMirrored) -> &Counter {
        match reason {
            NotMirrored::NotIp => &self.not_ip,
            NotMirrored::Malformed => &self.malformed,
            NotMirrored::Excluded => &self.excluded,
        }
    }
}
