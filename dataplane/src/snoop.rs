//! Frames the control thread must see: ARP received on ports without a link (mirror ports),
//! and the answers to its health checks (TCP and ICMP for the port's own address), copied out
//! of their mbufs by the workers and handed over through a bounded queue.

use crate::stats::Counter;
use crate::wire::{arp, probe};

/// A frame the control thread must see (ARP on a mirror port), copied out of its mbuf.
#[derive(Clone, Copy, Debug)]
pub struct Snooped {
    /// Port index it arrived on.
    pub port: u16,
    /// Bytes kept, at most [`SNOOP_LEN`].
    pub len: u8,
    /// The frame's first [`len`](Self::len) bytes.
    pub bytes: [u8; SNOOP_LEN],
}

/// Bytes kept of a snooped frame: an ARP packet behind one VLAN tag is 46; a TCP header
/// without its options behind one, 58.
pub const SNOOP_LEN: usize = 64;

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

/// Hands the ARP frames among `frames`, received on port `port`, to the control thread;
/// counts in `dropped` those it has no room for.
#[inline]
pub fn arp<'a>(queue: &SnoopQueue, port: u16, frames: impl Iterator<Item = &'a [u8]>, dropped: &Counter) {
    for f in frames.filter(|f| arp::is_arp(f)) {
        if queue.push(Snooped::new(port, f)).is_err() {
            dropped.add(1);
        }
    }
}

/// Hands the frames among `frames`, received on port `port`, that are TCP or ICMP for the
/// port's own address `ip` (the answers to health checks) to the control thread; counts in
/// `dropped` those it has no room for.
#[inline]
pub fn addressed_to<'a>(queue: &SnoopQueue, port: u16, ip: u32, frames: impl Iterator<Item = &'a [u8]>, dropped: &Counter) {
    for f in frames.filter(|f| probe::is_for(f, ip)) {
        if queue.push(Snooped::new(port, f)).is_err() {
            dropped.add(1);
        }
    }
}

/// Hands the frames among `frames`, received on port `port`, that the control thread must
/// see to it: ARP, and, when the port has an address `ip`, TCP and ICMP for it; counts in
/// `dropped` those it has no room for. One pass over the burst.
#[inline]
pub fn control_frames<'a>(queue: &SnoopQueue, port: u16, ip: Option<u32>, frames: impl Iterator<Item = &'a [u8]>, dropped: &Counter) {
    for f in frames.filter(|f| arp::is_arp(f) || ip.is_some_and(|ip| probe::is_for(f, ip))) {
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
        arp(&queue, 3, frames.into_iter(), &dropped);
        assert_eq!(queue.len(), 2);
        assert_eq!(dropped.get(), 1, "the reply found the queue full");
        let first = queue.pop().unwrap();
        assert_eq!((first.port, first.frame()), (3, captured::ARP_REQUEST));
        assert_eq!(queue.pop().unwrap().frame(), &tagged[..]);
    }

    #[test]
    fn only_tcp_and_icmp_for_the_ports_address_are_handed_over() {
        let queue = SnoopQueue::new(2);
        let dropped = Counter::default();
        let me = u32::from(std::net::Ipv4Addr::new(192, 0, 2, 1));
        let other = FrameBuilder::ipv4([192, 0, 2, 10], [192, 0, 2, 2]).tcp(9000, 5000).build();
        let udp = FrameBuilder::ipv4([192, 0, 2, 10], [192, 0, 2, 1]).udp(9000, 5000).build();
        let frames = [captured::TCP_SYN_ACK, captured::ARP_REPLY, &other[..], &udp[..], captured::ICMP_ECHO_REPLY, captured::TCP_RST_ACK];
        addressed_to(&queue, 2, me, frames.into_iter(), &dropped);
        assert_eq!(queue.len(), 2);
        assert_eq!(dropped.get(), 1, "the RST found the queue full");
        let first = queue.pop().unwrap();
        assert_eq!((first.port, first.frame()), (2, &captured::TCP_SYN_ACK[..SNOOP_LEN]));
        assert_eq!(queue.pop().unwrap().frame(), &captured::ICMP_ECHO_REPLY[..SNOOP_LEN]);
    }

    #[test]
    fn long_frames_are_cut() {
        let s = Snooped::new(0, &[0xab; 100]);
        assert_eq!(s.frame(), &[0xab; SNOOP_LEN][..]);
    }
}
