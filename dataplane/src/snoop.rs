//! Frames the control thread must see: ARP and Neighbor Discovery (solicitations and
//! advertisements) received on ports without a link (mirror ports), copied out of their mbufs
//! by the workers and handed over through a bounded queue.

use crate::stats::Counter;
use crate::wire::{arp, ndp};

/// A frame the control thread must see (ARP or Neighbor Discovery on a mirror port), copied
/// out of its mbuf.
#[derive(Clone, Copy, Debug)]
pub struct Snooped {
    /// Port index it arrived on.
    pub port: u16,
    /// Bytes kept, at most [`SNOOP_LEN`].
    pub len: u8,
    /// The frame's first [`len`](Self::len) bytes.
    pub bytes: [u8; SNOOP_LEN],
}

/// Bytes kept of a snooped frame: an ARP packet behind one VLAN tag is 46, a Neighbor
/// Solicitation with its link-layer option 90; room for a few more options.
pub const SNOOP_LEN: usize = 128;

/// Where workers hand snooped frames to the control thread: bounded, lock-free; when full,
/// frames are dropped (and counted), never waited for.
pub type SnoopQueue = crossbeam_queue::ArrayQueue<Snooped>;

impl Snooped {
    /// A copy of `frame` (its first [`SNOOP_LEN`] bytes), received on port `port`.
    pub fn new(port: u16, frame: &[u8]) -> Self {
        let len = frame.len().min(SNOOP_LEN);
        let mut s = Snooped { port, len: len as u8, bytes: [0; SNOOP_LEN] };
        s.bytes[..len].copy_from_slice(&frame[..len]);
        s
    }

    /// The frame's bytes (cut at [`SNOOP_LEN`]).
    pub fn frame(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }
}

/// Whether the control thread must see `frame`: ARP or Neighbor Discovery.
#[inline]
pub fn wanted(frame: &[u8]) -> bool {
    arp::is_arp(frame) || ndp::is_ndp(frame)
}

/// Hands the ARP and Neighbor Discovery frames among `frames`, received on port `port`, to
/// the control thread; counts in `dropped` those it has no room for.
#[inline]
pub fn to_control<'a>(queue: &SnoopQueue, port: u16, frames: impl Iterator<Item = &'a [u8]>, dropped: &Counter) {
    for f in frames.filter(|f| wanted(f)) {
        if queue.push(Snooped::new(port, f)).is_err() {
            dropped.add(1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::testing::{captured, FrameBuilder};

    #[test]
    fn only_arp_is_handed_over_and_a_full_queue_is_counted() {
        let queue = SnoopQueue::new(2);
        let dropped = Counter::default();
        let tagged = FrameBuilder::raw(crate::wire::ethernet::TYPE_ARP, &captured::ARP_REQUEST[14..]).vlans(&[7]).build();
        let frames = [captured::ARP_REQUEST, captured::TCP_SYN, &tagged[..], captured::ARP_REPLY];
        to_control(&queue, 3, frames.into_iter(), &dropped);
        assert_eq!(queue.len(), 2);
        assert_eq!(dropped.get(), 1, "the reply found the queue full");
        let first = queue.pop().unwrap();
        assert_eq!((first.port, first.frame()), (3, captured::ARP_REQUEST));
        assert_eq!(queue.pop().unwrap().frame(), &tagged[..]);
    }

    #[test]
    fn neighbor_discovery_is_handed_over_too() {
        let queue = SnoopQueue::new(8);
        let dropped = Counter::default();
        let frames = [captured::NEIGHBOR_SOLICIT, captured::ICMPV6_ECHO_REQUEST, captured::MLD_REPORT, captured::NEIGHBOR_ADVERT];
        to_control(&queue, 1, frames.into_iter(), &dropped);
        assert_eq!(queue.len(), 2, "solicitation and advertisement, not echo or MLD");
        assert_eq!(queue.pop().unwrap().frame(), captured::NEIGHBOR_SOLICIT, "whole");
        assert_eq!(queue.pop().unwrap().frame(), captured::NEIGHBOR_ADVERT);
        assert_eq!(dropped.get(), 0);
    }

    #[test]
    fn long_frames_are_cut() {
        let s = Snooped::new(0, &[0xab; 200]);
        assert_eq!(s.frame(), &[0xab; SNOOP_LEN][..]);
    }
}
