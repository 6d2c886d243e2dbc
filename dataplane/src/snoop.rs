//! Frames the control thread must see, received on ports without a link (mirror ports): ARP,
//! Neighbor Discovery (solicitations and advertisements), and the answers to its health checks
//! (TCP and ICMP for the port's own IPv4 address, TCP and ICMPv6 for its IPv6 one); copied
//! out of their mbufs by the workers and handed over through a bounded queue.

use crate::stats::Counter;
use crate::wire::probe::{self, Addresses};
use crate::wire::{arp, ndp};

/// A frame the control thread must see ([`wanted`]), copied out of its mbuf.
#[derive(Clone, Copy, Debug)]
pub struct Snooped {
    /// Port index it arrived on.
    pub port: u16,
    /// Bytes kept, at most [`SNOOP_LEN`].
    pub len: u8,
    /// The frame's first [`len`](Self::len) bytes.
    pub bytes: [u8; SNOOP_LEN],
}

/// Bytes kept of a snooped frame: an ARP packet behind one VLAN tag is 46, a TCP header
/// without its options behind one 58, a Neighbor Solicitation with its link-layer option 90;
/// room for a few more options.
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

/// Whether the control thread must see `frame`: ARP, Neighbor Discovery, and TCP and ICMP
/// (ICMPv6) for the port's own addresses `own` (the answers to health checks).
#[inline]
pub fn wanted(frame: &[u8], own: &Addresses) -> bool {
    arp::is_arp(frame) || ndp::is_ndp(frame) || probe::is_for(frame, own)
}

/// Hands the frames among `frames`, received on port `port` whose addresses are `own`, that
/// the control thread must see ([`wanted`]) to it; counts in `dropped` those it has no room
/// for. One pass over the burst. Out of line: it runs only on ports in no link, so the
/// worker's loop for the others carries none of its code.
#[inline(never)]
pub fn to_control<'a>(queue: &SnoopQueue, port: u16, own: &Addresses, frames: impl Iterator<Item = &'a [u8]>, dropped: &Counter) {
    for f in frames.filter(|f| wanted(f, own)) {
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
        to_control(&queue, 3, &Addresses::default(), frames.into_iter(), &dropped);
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
        to_control(&queue, 1, &Addresses::default(), frames.into_iter(), &dropped);
        assert_eq!(queue.len(), 2, "solicitation and advertisement, not echo or MLD");
        assert_eq!(queue.pop().unwrap().frame(), captured::NEIGHBOR_SOLICIT, "whole");
        assert_eq!(queue.pop().unwrap().frame(), captured::NEIGHBOR_ADVERT);
        assert_eq!(dropped.get(), 0);
    }


    #[test]
    fn only_tcp_and_icmp_for_the_ports_address_are_handed_over() {
        let queue = SnoopQueue::new(2);
        let dropped = Counter::default();
        let me = Addresses::new(Some(std::net::Ipv4Addr::new(192, 0, 2, 1)), None);
        let cut = |f: &'static [u8]| &f[..f.len().min(SNOOP_LEN)];
        let other = FrameBuilder::ipv4([192, 0, 2, 10], [192, 0, 2, 2]).tcp(9000, 5000).build();
        let udp = FrameBuilder::ipv4([192, 0, 2, 10], [192, 0, 2, 1]).udp(9000, 5000).build();
        let frames = [captured::TCP_SYN_ACK, &other[..], &udp[..], captured::TCP6_SYN_ACK, captured::ICMP_ECHO_REPLY, captured::TCP_RST_ACK];
        to_control(&queue, 2, &me, frames.into_iter(), &dropped);
        assert_eq!(queue.len(), 2);
        assert_eq!(dropped.get(), 1, "the RST found the queue full");
        let first = queue.pop().unwrap();
        assert_eq!((first.port, first.frame()), (2, cut(captured::TCP_SYN_ACK)));
        assert_eq!(queue.pop().unwrap().frame(), cut(captured::ICMP_ECHO_REPLY));
    }

    #[test]
    fn tcp_and_icmpv6_for_the_ports_ipv6_address_are_handed_over_too() {
        let queue = SnoopQueue::new(8);
        let dropped = Counter::default();
        let me = Addresses::new(Some(std::net::Ipv4Addr::new(192, 0, 2, 1)), Some("fd20::1".parse().unwrap()));
        let (collector, other) = ("fd20::10".parse::<std::net::Ipv6Addr>().unwrap().octets(), "fd20::2".parse::<std::net::Ipv6Addr>().unwrap().octets());
        let to_other = FrameBuilder::ipv6(collector, other).tcp(9000, 5000).build();
        let udp = FrameBuilder::ipv6(collector, "fd20::1".parse::<std::net::Ipv6Addr>().unwrap().octets()).udp(9000, 5000).build();
        let frames = [captured::TCP6_SYN_ACK, &to_other[..], &udp[..], captured::ICMPV6_ECHO_REQUEST, captured::ICMPV6_ECHO_REPLY, captured::TCP6_RST_ACK, captured::TCP_SYN_ACK];
        to_control(&queue, 2, &me, frames.into_iter(), &dropped);
        let got: Vec<Vec<u8>> = std::iter::from_fn(|| queue.pop()).map(|s| s.frame().to_vec()).collect();
        assert_eq!(got, [captured::TCP6_SYN_ACK, captured::ICMPV6_ECHO_REPLY, captured::TCP6_RST_ACK, captured::TCP_SYN_ACK].map(|f| f[..f.len().min(SNOOP_LEN)].to_vec()), "the answers for fd20::1 and 192.0.2.1, nothing else");
        assert_eq!(dropped.get(), 0);
        // A port without an IPv6 address gets no IPv6 answers.
        to_control(&queue, 2, &Addresses::new(Some(std::net::Ipv4Addr::new(192, 0, 2, 1)), None), [captured::TCP6_SYN_ACK, captured::ICMPV6_ECHO_REPLY].into_iter(), &dropped);
        assert!(queue.is_empty());
    }

    #[test]
    fn long_frames_are_cut() {
        let s = Snooped::new(0, &[0xab; 200]);
        assert_eq!(s.frame(), &[0xab; SNOOP_LEN][..]);
    }
}
