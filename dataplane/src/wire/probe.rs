//! A health check's frames: a TCP segment or an ICMP echo, in IPv4, in Ethernet behind at most
//! one VLAN tag, as the control thread sends them from a mirror port's own address to a
//! collector and reads the answers the workers hand over (see [`snoop`](crate::snoop)).
//!
//! The checks go out of the mirror port itself, never through the host's kernel, because that
//! is the path the copies take: a check answered is a collector the copies reach.

use super::ethernet::{self, untag};
use super::{icmp, ipv4, proto, tcp, Malformed};
use std::net::Ipv4Addr;

/// VLAN tags a health check's frame may carry: a mirror network is tagged once or not at all.
pub const MAX_TAGS: usize = 1;
/// Ethernet's minimum frame, before the FCS: shorter frames are padded.
pub const MIN_FRAME_LEN: usize = 60;
/// The TTL of the checks, a host's usual.
pub const TTL: u8 = 64;

/// What a health check's packet carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Segment {
    /// A TCP segment without options or data (SYN, SYN-ACK, RST).
    Tcp(tcp::Repr),
    /// An ICMP echo request or reply without data.
    Echo(icmp::EchoRepr),
}

/// A health check's IPv4 packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Repr {
    /// Source address.
    pub src: Ipv4Addr,
    /// Destination address.
    pub dst: Ipv4Addr,
    /// The segment.
    pub segment: Segment,
}

impl Repr {
    fn protocol(&self) -> u8 {
        match self.segment {
            Segment::Tcp(_) => proto::TCP,
            Segment::Echo(_) => proto::ICMP,
        }
    }

    fn payload_len(&self) -> usize {
        match self.segment {
            Segment::Tcp(_) => tcp::HEADER_LEN,
            Segment::Echo(_) => icmp::ECHO_HEADER_LEN,
        }
    }
}

/// True when `frame` is IPv4 TCP or ICMP addressed to `ip` (as a number), behind at most
/// [`MAX_TAGS`] tags: what a worker hands over from a port whose address is `ip`. A few
/// loads and compares, no parse.
#[inline]
pub fn is_for(frame: &[u8], ip: u32) -> bool {
    let Ok(u) = untag(frame, MAX_TAGS) else { return false };
    if u.ethertype != ethernet::TYPE_IPV4 {
        return false;
    }
    match frame.get(u.offset..u.offset + ipv4::HEADER_LEN) {
        Some(h) => {
            let p = ipv4::Packet::new_unchecked(h);
            p.dst_addr() == ip && matches!(p.protocol(), proto::TCP | proto::ICMP)
        }
        None => false,
    }
}

/// Reads a health check's frame (or its answer): the VLAN it came on and its packet. The
/// frame may be cut after the fields read (the workers hand over the first bytes of a frame);
/// the checksums are not verified, for the same reason.
pub fn parse_frame(frame: &[u8]) -> Result<(Option<u16>, Repr), Malformed> {
    let u = untag(frame, MAX_TAGS)?;
    if u.ethertype != ethernet::TYPE_IPV4 {
        return Err(Malformed);
    }
    let ip = ipv4::Packet::new_checked(frame.get(u.offset..).ok_or(Malformed)?)?;
    // A fragment is no answer to a check, which never sends one.
    if ip.more_frags() || ip.frag_offset() != 0 {
        return Err(Malformed);
    }
    let l4 = frame.get(u.offset + ip.header_len()..).ok_or(Malformed)?;
    let segment = match ip.protocol() {
        proto::TCP => Segment::Tcp(tcp::Repr::parse(&tcp::Packet::new_checked(l4)?)),
        proto::ICMP => Segment::Echo(icmp::EchoRepr::parse(l4)?),
        _ => return Err(Malformed),
    };
    Ok((u.vlan, Repr { src: Ipv4Addr::from(ip.src_addr()), dst: Ipv4Addr::from(ip.dst_addr()), segment }))
}

/// A health check's frame to send: from `src` to `dst`, on `vlan`, padded to
/// [`MIN_FRAME_LEN`]; IPv4 with DF set, as a host's TCP stack sends it.
pub fn frame(dst: [u8; 6], src: [u8; 6], vlan: Option<u16>, repr: &Repr) -> Vec<u8> {
    let eth = ethernet::Repr { dst, src, vlans: vlan.as_slice(), ethertype: ethernet::TYPE_IPV4 };
    let len = repr.payload_len();
    let mut f = vec![0; (eth.header_len() + ipv4::HEADER_LEN + len).max(MIN_FRAME_LEN)];
    let at = eth.emit(&mut f);
    let (s, d) = (u32::from(repr.src), u32::from(repr.dst));
    ipv4::Repr { src: s, dst: d, protocol: repr.protocol(), ttl: TTL, ident: 0, flags_frag: ipv4::FLAG_DF, payload_len: len }.emit(&mut f[at..]);
    let l4 = &mut f[at + ipv4::HEADER_LEN..];
    match &repr.segment {
        Segment::Tcp(t) => t.emit(l4, ipv4::pseudo_sum(s, d, proto::TCP, len)),
        Segment::Echo(e) => e.emit(l4),
    }
    f
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::testing::{captured, FrameBuilder};
    use crate::wire::{fold_checksum, ones_sum};

    const PORT_IP: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
    const COLLECTOR_IP: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 10);

    #[test]
    fn reads_a_listeners_syn_ack_a_closed_ports_rst_and_an_echo_reply() {
        let (vlan, r) = parse_frame(captured::TCP_SYN_ACK).unwrap();
        assert_eq!((vlan, r.src, r.dst), (None, COLLECTOR_IP, PORT_IP));
        assert_eq!(r.segment, Segment::Tcp(tcp::Repr { src_port: 9000, dst_port: 54122, seq: 0xcb1b_6e50, ack: 0x7023_eb9a, flags: tcp::FLAG_SYN | tcp::FLAG_ACK, window: 65160 }));
        let (_, r) = parse_frame(captured::TCP_RST_ACK).unwrap();
        assert_eq!(r.segment, Segment::Tcp(tcp::Repr { src_port: 9001, dst_port: 48846, seq: 0, ack: 0xfd3c_95a5, flags: tcp::FLAG_RST | tcp::FLAG_ACK, window: 0 }));
        let (_, r) = parse_frame(captured::ICMP_ECHO_REPLY).unwrap();
        assert_eq!(r.segment, Segment::Echo(icmp::EchoRepr { kind: icmp::V4_ECHO_REPLY, ident: 4330, seq: 1 }));
        for f in [captured::TCP_SYN_ACK, captured::TCP_RST_ACK, captured::ICMP_ECHO_REPLY] {
            assert!(is_for(f, u32::from(PORT_IP)) && !is_for(f, u32::from(COLLECTOR_IP)));
        }
        assert!(parse_frame(captured::UDP_DNS).is_err() && !is_for(captured::UDP_DNS, 0x0a09_0002), "UDP answers no check");
        assert!(parse_frame(captured::ARP_REPLY).is_err() && !is_for(captured::ARP_REPLY, u32::from(PORT_IP)));
    }

    #[test]
    fn a_cut_answer_still_reads_but_a_cut_header_does_not() {
        // The workers hand over the first 64 bytes: the SYN-ACK's options are cut.
        assert_eq!(parse_frame(&captured::TCP_SYN_ACK[..64]), parse_frame(captured::TCP_SYN_ACK));
        assert!(parse_frame(&captured::TCP_SYN_ACK[..14 + 20 + 19]).is_err());
        assert!(parse_frame(&captured::ICMP_ECHO_REPLY[..14 + 20 + 7]).is_err());
        assert!(!is_for(&captured::TCP_SYN_ACK[..14 + 19], u32::from(PORT_IP)));
    }

    #[test]
    fn a_syn_is_what_the_kernel_sends_less_its_options() {
        let kernel = ipv4::Packet::new_checked(&captured::TCP_SYN[14..]).unwrap();
        let k = tcp::Repr::parse(&tcp::Packet::new_checked(kernel.payload()).unwrap());
        let syn = Repr { src: Ipv4Addr::from(kernel.src_addr()), dst: Ipv4Addr::from(kernel.dst_addr()), segment: Segment::Tcp(k) };
        let f = frame([2, 0, 0, 0, 0x0b, 1], [2, 0, 0, 0, 0x0a, 1], None, &syn);
        assert_eq!(f.len(), MIN_FRAME_LEN, "54 bytes, padded");
        assert_eq!(&f[..14], &captured::TCP_SYN[..14]);
        let ip = ipv4::Packet::new_checked(&f[14..]).unwrap();
        assert!(ip.verify_checksum());
        assert_eq!((ip.total_len(), ip.ttl(), ip.dont_frag(), ip.protocol()), (40, kernel.ttl(), true, proto::TCP));
        let seg = ip.payload();
        assert_eq!(&seg[..12], &kernel.payload()[..12], "ports, sequence and acknowledgement");
        assert_eq!(&seg[13..16], &kernel.payload()[13..16], "flags and window");
        assert_eq!(fold_checksum(ipv4::pseudo_sum(ip.src_addr(), ip.dst_addr(), proto::TCP, seg.len()) + ones_sum(seg)), 0, "a valid TCP checksum");
        assert_eq!(parse_frame(&f), Ok((None, syn)));
        assert!(is_for(&f, kernel.dst_addr()));
    }

    #[test]
    fn an_echo_request_behind_a_vlan_tag_round_trips() {
        let ping = Repr { src: PORT_IP, dst: COLLECTOR_IP, segment: Segment::Echo(icmp::EchoRepr { kind: icmp::V4_ECHO_REQUEST, ident: 7, seq: 3 }) };
        let f = frame([2; 6], [1; 6], Some(42), &ping);
        assert_eq!(&f[12..16], &[0x81, 0x00, 0, 42]);
        assert_eq!(parse_frame(&f), Ok((Some(42), ping)));
        assert_eq!(fold_checksum(ones_sum(&f[18 + 20..18 + 28])), 0, "a valid ICMP checksum");
        let mut two_tags = f.clone();
        two_tags.splice(12..12, [0x88, 0xa8, 0, 7]);
        assert!(parse_frame(&two_tags).is_err() && !is_for(&two_tags, u32::from(COLLECTOR_IP)), "behind two tags");
    }

    #[test]
    fn fragments_and_other_protocols_are_no_answers() {
        let frag = FrameBuilder::ipv4([192, 0, 2, 10], [192, 0, 2, 1]).tcp(9000, 5000).flags_frag(ipv4::FLAG_MF).build();
        assert!(is_for(&frag, u32::from(PORT_IP)), "handed over, then refused by the parse");
        assert!(parse_frame(&frag).is_err());
        let gre = FrameBuilder::ipv4([192, 0, 2, 10], [192, 0, 2, 1]).protocol(47).payload(&[0; 24]).build();
        assert!(!is_for(&gre, u32::from(PORT_IP)) && parse_frame(&gre).is_err());
    }
}
