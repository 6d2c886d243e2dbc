//! A health check's frames: a TCP segment or an echo, ICMP in IPv4 or ICMPv6 in IPv6, in
//! Ethernet behind at most one VLAN tag, as the control thread sends them from a mirror port's
//! own address to a collector and reads the answers the workers hand over (see
//! [`snoop`](crate::snoop)).
//!
//! The checks go out of the mirror port itself, never through the host's kernel, because that
//! is the path the copies take: a check answered is a collector the copies reach.

use super::ethernet::{self, untag};
use super::{icmp, ipv4, ipv6, proto, tcp, Malformed};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// VLAN tags a health check's frame may carry: a mirror network is tagged once or not at all.
pub const MAX_TAGS: usize = 1;
/// Ethernet's minimum frame, before the FCS: shorter frames are padded.
pub const MIN_FRAME_LEN: usize = 60;
/// The TTL (IPv4) or hop limit (IPv6) of the checks, a host's usual.
pub const TTL: u8 = 64;

/// What a health check's packet carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Segment {
    /// A TCP segment without options or data (SYN, SYN-ACK, RST).
    Tcp(tcp::Repr),
    /// An echo request or reply without data: ICMP over IPv4, ICMPv6 over IPv6.
    Echo(icmp::EchoRepr),
}

/// A health check's packet, IPv4 or IPv6: both addresses are of the same family.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Repr {
    /// Source address.
    pub src: IpAddr,
    /// Destination address.
    pub dst: IpAddr,
    /// The segment.
    pub segment: Segment,
}

impl Repr {
    /// The IANA protocol of the segment: an echo is ICMPv6 over IPv6.
    fn protocol(&self) -> u8 {
        match self.segment {
            Segment::Tcp(_) => proto::TCP,
            Segment::Echo(_) => echo_protocol(self.dst),
        }
    }

    fn payload_len(&self) -> usize {
        match self.segment {
            Segment::Tcp(_) => tcp::HEADER_LEN,
            Segment::Echo(_) => icmp::ECHO_HEADER_LEN,
        }
    }
}

/// The protocol of an echo to or from `ip`: ICMP, or ICMPv6 for an IPv6 address.
pub fn echo_protocol(ip: IpAddr) -> u8 {
    if ip.is_ipv6() {
        proto::ICMPV6
    } else {
        proto::ICMP
    }
}

/// A port's own addresses, as a worker compares a frame's destination with them: the IPv4
/// address as a number ([`ipv4::Packet::dst_addr`]), the IPv6 one as four big-endian words
/// ([`ipv6::Packet::dst_addr`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Addresses {
    /// The IPv4 address, if the port has one.
    pub ipv4: Option<u32>,
    /// The IPv6 address, if the port has one.
    pub ipv6: Option<[u32; 4]>,
}

impl Addresses {
    /// A port's `ipv4` and `ipv6`, either of which it may lack.
    pub fn new(ipv4: Option<Ipv4Addr>, ipv6: Option<Ipv6Addr>) -> Addresses {
        let words = |a: Ipv6Addr| {
            let n = u128::from(a);
            [(n >> 96) as u32, (n >> 64) as u32, (n >> 32) as u32, n as u32]
        };
        Addresses { ipv4: ipv4.map(u32::from), ipv6: ipv6.map(words) }
    }

    /// Whether there is no address at all: nothing can be for the port.
    #[inline(always)]
    pub fn is_empty(&self) -> bool {
        self.ipv4.is_none() && self.ipv6.is_none()
    }
}

/// True when `frame` is IPv4 TCP or ICMP addressed to `own`'s IPv4 address, or IPv6 TCP or
/// ICMPv6 right after the fixed header addressed to its IPv6 one, behind at most
/// [`MAX_TAGS`] tags: what a worker hands over from a port whose addresses are `own`. A few
/// loads and compares, no parse.
#[inline]
pub fn is_for(frame: &[u8], own: &Addresses) -> bool {
    if own.is_empty() {
        return false;
    }
    let Ok(u) = untag(frame, MAX_TAGS) else { return false };
    match u.ethertype {
        ethernet::TYPE_IPV4 => match (own.ipv4, frame.get(u.offset..u.offset + ipv4::HEADER_LEN)) {
            (Some(ip), Some(h)) => {
                let p = ipv4::Packet::new_unchecked(h);
                p.dst_addr() == ip && matches!(p.protocol(), proto::TCP | proto::ICMP)
            }
            _ => false,
        },
        ethernet::TYPE_IPV6 => match (own.ipv6, frame.get(u.offset..u.offset + ipv6::HEADER_LEN)) {
            (Some(ip), Some(h)) => {
                let p = ipv6::Packet::new_unchecked(h);
                p.dst_addr() == ip && matches!(p.next_header(), proto::TCP | proto::ICMPV6)
            }
            _ => false,
        },
        _ => false,
    }
}

/// Reads a health check's frame (or its answer): the VLAN it came on and its packet. The
/// frame may be cut after the fields read (the workers hand over the first bytes of a frame);
/// the checksums are not verified, for the same reason.
pub fn parse_frame(frame: &[u8]) -> Result<(Option<u16>, Repr), Malformed> {
    let u = untag(frame, MAX_TAGS)?;
    let packet = frame.get(u.offset..).ok_or(Malformed)?;
    let (src, dst, protocol, l4) = match u.ethertype {
        ethernet::TYPE_IPV4 => {
            let ip = ipv4::Packet::new_checked(packet)?;
            // A fragment is no answer to a check, which never sends one.
            if ip.more_frags() || ip.frag_offset() != 0 {
                return Err(Malformed);
            }
            let l4 = packet.get(ip.header_len()..).ok_or(Malformed)?;
            (IpAddr::from(Ipv4Addr::from(ip.src_addr())), IpAddr::from(Ipv4Addr::from(ip.dst_addr())), ip.protocol(), l4)
        }
        ethernet::TYPE_IPV6 => {
            // The segment right after the fixed header, as is_for hands it over: an answer to
            // a check carries no extension header (nor a fragment header).
            let ip = ipv6::Repr::parse(&ipv6::Packet::new_checked(packet)?);
            (IpAddr::from(ip.src), IpAddr::from(ip.dst), ip.next_header, &packet[ipv6::HEADER_LEN..])
        }
        _ => return Err(Malformed),
    };
    let segment = match protocol {
        proto::TCP => Segment::Tcp(tcp::Repr::parse(&tcp::Packet::new_checked(l4)?)),
        p if p == echo_protocol(src) => Segment::Echo(icmp::EchoRepr::parse(p, l4)?),
        _ => return Err(Malformed),
    };
    Ok((u.vlan, Repr { src, dst, segment }))
}

/// A health check's frame to send: from `src` to `dst`, on `vlan`, padded to
/// [`MIN_FRAME_LEN`]; IPv4 with DF set, as a host's TCP stack sends it, or IPv6 (which
/// routers never fragment). Panics when `repr`'s addresses are of two families.
pub fn frame(dst: [u8; 6], src: [u8; 6], vlan: Option<u16>, repr: &Repr) -> Vec<u8> {
    let (ethertype, ip_len) = match repr.dst {
        IpAddr::V4(_) => (ethernet::TYPE_IPV4, ipv4::HEADER_LEN),
        IpAddr::V6(_) => (ethernet::TYPE_IPV6, ipv6::HEADER_LEN),
    };
    let eth = ethernet::Repr { dst, src, vlans: vlan.as_slice(), ethertype };
    let (protocol, len) = (repr.protocol(), repr.payload_len());
    let mut f = vec![0; (eth.header_len() + ip_len + len).max(MIN_FRAME_LEN)];
    let at = eth.emit(&mut f);
    let pseudo_sum = match (repr.src, repr.dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            let (s, d) = (u32::from(s), u32::from(d));
            ipv4::Repr { src: s, dst: d, protocol, ttl: TTL, ident: 0, flags_frag: ipv4::FLAG_DF, payload_len: len }.emit(&mut f[at..]);
            ipv4::pseudo_sum(s, d, protocol, len)
        }
        (IpAddr::V6(s), IpAddr::V6(d)) => {
            ipv6::Repr { src: s, dst: d, next_header: protocol, hop_limit: TTL, payload_len: len }.emit(&mut f[at..]);
            ipv6::pseudo_header_sum(&s.octets(), &d.octets(), len as u32, protocol)
        }
        (s, d) => panic!("a health check from {s} to {d}: addresses of two families"),
    };
    let l4 = &mut f[at + ip_len..];
    match &repr.segment {
        Segment::Tcp(t) => t.emit(l4, pseudo_sum),
        // ICMPv6's checksum covers the pseudo-header, ICMP's does not.
        Segment::Echo(e) => e.emit(l4, if protocol == proto::ICMPV6 { pseudo_sum } else { 0 }),
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
    const PORT_IP6: Ipv6Addr = Ipv6Addr::new(0xfd20, 0, 0, 0, 0, 0, 0, 1);
    const COLLECTOR_IP6: Ipv6Addr = Ipv6Addr::new(0xfd20, 0, 0, 0, 0, 0, 0, 0x10);
    const PORT_MAC: [u8; 6] = [2, 0, 0, 0, 0, 0x10];
    const COLLECTOR_MAC: [u8; 6] = [2, 0, 0, 0, 0, 0x20];

    fn v4(ip: Ipv4Addr) -> Addresses {
        Addresses::new(Some(ip), None)
    }

    fn v6(ip: Ipv6Addr) -> Addresses {
        Addresses::new(None, Some(ip))
    }

    #[test]
    fn reads_a_listeners_syn_ack_a_closed_ports_rst_and_an_echo_reply() {
        let (vlan, r) = parse_frame(captured::TCP_SYN_ACK).unwrap();
        assert_eq!((vlan, r.src, r.dst), (None, IpAddr::V4(COLLECTOR_IP), IpAddr::V4(PORT_IP)));
        assert_eq!(r.segment, Segment::Tcp(tcp::Repr { src_port: 9000, dst_port: 54122, seq: 0xcb1b_6e50, ack: 0x7023_eb9a, flags: tcp::FLAG_SYN | tcp::FLAG_ACK, window: 65160 }));
        let (_, r) = parse_frame(captured::TCP_RST_ACK).unwrap();
        assert_eq!(r.segment, Segment::Tcp(tcp::Repr { src_port: 9001, dst_port: 48846, seq: 0, ack: 0xfd3c_95a5, flags: tcp::FLAG_RST | tcp::FLAG_ACK, window: 0 }));
        let (_, r) = parse_frame(captured::ICMP_ECHO_REPLY).unwrap();
        assert_eq!(r.segment, Segment::Echo(icmp::EchoRepr { kind: icmp::V4_ECHO_REPLY, ident: 4330, seq: 1 }));
        for f in [captured::TCP_SYN_ACK, captured::TCP_RST_ACK, captured::ICMP_ECHO_REPLY] {
            assert!(is_for(f, &v4(PORT_IP)) && !is_for(f, &v4(COLLECTOR_IP)));
            assert!(!is_for(f, &v6(PORT_IP6)) && !is_for(f, &Addresses::default()), "for the port's IPv4 address only");
        }
        assert!(parse_frame(captured::UDP_DNS).is_err() && !is_for(captured::UDP_DNS, &v4(Ipv4Addr::new(10, 9, 0, 2))), "UDP answers no check");
        assert!(parse_frame(captured::ARP_REPLY).is_err() && !is_for(captured::ARP_REPLY, &v4(PORT_IP)));
    }

    #[test]
    fn reads_the_kernels_answers_over_ipv6() {
        let (vlan, r) = parse_frame(captured::TCP6_SYN_ACK).unwrap();
        assert_eq!((vlan, r.src, r.dst), (None, IpAddr::V6(COLLECTOR_IP6), IpAddr::V6(PORT_IP6)));
        assert_eq!(r.segment, Segment::Tcp(tcp::Repr { src_port: 9000, dst_port: 43178, seq: 0x91c2_6344, ack: 0x9f92_f752, flags: tcp::FLAG_SYN | tcp::FLAG_ACK, window: 64260 }));
        let (_, r) = parse_frame(captured::TCP6_RST_ACK).unwrap();
        assert_eq!(r.segment, Segment::Tcp(tcp::Repr { src_port: 9001, dst_port: 33208, seq: 0, ack: 0x9f5e_0f9b, flags: tcp::FLAG_RST | tcp::FLAG_ACK, window: 0 }));
        let (_, r) = parse_frame(captured::ICMPV6_ECHO_REPLY).unwrap();
        assert_eq!(r.segment, Segment::Echo(icmp::EchoRepr { kind: icmp::V6_ECHO_REPLY, ident: 13794, seq: 1 }));
        let both = Addresses::new(Some(PORT_IP), Some(PORT_IP6));
        for f in [captured::TCP6_SYN_ACK, captured::TCP6_RST_ACK, captured::ICMPV6_ECHO_REPLY] {
            assert!(is_for(f, &v6(PORT_IP6)) && is_for(f, &both));
            assert!(!is_for(f, &v6(COLLECTOR_IP6)) && !is_for(f, &v4(PORT_IP)), "for the port's IPv6 address only");
        }
        // Our own pseudo-header sums check the kernel's checksums.
        for f in [captured::TCP6_SYN, captured::TCP6_SYN_ACK, captured::TCP6_RST_ACK, captured::ICMPV6_ECHO_REPLY] {
            let ip = ipv6::Packet::new_checked(&f[14..]).unwrap();
            let r = ipv6::Repr::parse(&ip);
            let l4 = &ip.packet()[ipv6::HEADER_LEN..];
            assert_eq!(fold_checksum(ipv6::pseudo_header_sum(&r.src.octets(), &r.dst.octets(), l4.len() as u32, r.next_header) + ones_sum(l4)), 0);
        }
        assert!(!is_for(captured::ICMPV6_ECHO_REQUEST, &v6(PORT_IP6)), "another host's ping");
        assert!(parse_frame(captured::NEIGHBOR_ADVERT).is_err(), "Neighbor Discovery answers no check");
    }

    #[test]
    fn a_cut_answer_still_reads_but_a_cut_header_does_not() {
        // The workers hand over the first 64 bytes: the SYN-ACK's options are cut.
        assert_eq!(parse_frame(&captured::TCP_SYN_ACK[..64]), parse_frame(captured::TCP_SYN_ACK));
        assert!(parse_frame(&captured::TCP_SYN_ACK[..14 + 20 + 19]).is_err());
        assert!(parse_frame(&captured::ICMP_ECHO_REPLY[..14 + 20 + 7]).is_err());
        assert!(!is_for(&captured::TCP_SYN_ACK[..14 + 19], &v4(PORT_IP)));
        assert_eq!(parse_frame(&captured::TCP6_SYN_ACK[..14 + 40 + 20]), parse_frame(captured::TCP6_SYN_ACK));
        assert!(parse_frame(&captured::TCP6_SYN_ACK[..14 + 40 + 19]).is_err());
        assert!(parse_frame(&captured::ICMPV6_ECHO_REPLY[..14 + 40 + 7]).is_err());
        assert!(!is_for(&captured::TCP6_SYN_ACK[..14 + 39], &v6(PORT_IP6)));
    }

    #[test]
    fn a_syn_is_what_the_kernel_sends_less_its_options() {
        let kernel = ipv4::Packet::new_checked(&captured::TCP_SYN[14..]).unwrap();
        let k = tcp::Repr::parse(&tcp::Packet::new_checked(kernel.payload()).unwrap());
        let syn = Repr { src: Ipv4Addr::from(kernel.src_addr()).into(), dst: Ipv4Addr::from(kernel.dst_addr()).into(), segment: Segment::Tcp(k) };
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
        assert!(is_for(&f, &v4(Ipv4Addr::from(kernel.dst_addr()))));
    }

    #[test]
    fn a_syn_over_ipv6_is_what_the_kernel_sends_less_its_options_and_flow_label() {
        let (_, kernel) = parse_frame(captured::TCP6_SYN).unwrap();
        assert_eq!((kernel.src, kernel.dst), (IpAddr::V6(PORT_IP6), IpAddr::V6(COLLECTOR_IP6)));
        let f = frame(COLLECTOR_MAC, PORT_MAC, None, &kernel);
        assert_eq!(f.len(), 14 + 40 + 20, "no padding");
        assert_eq!(&f[..14], &captured::TCP6_SYN[..14], "MACs and ethertype");
        let (ours, theirs) = (&f[14..14 + 40], &captured::TCP6_SYN[14..14 + 40]);
        assert_eq!((&ours[..4], &ours[4..6]), (&[0x60, 0, 0, 0][..], &[0, 20][..]), "no flow label, 20 bytes of TCP");
        assert_eq!(&ours[6..], &theirs[6..], "next header, hop limit and addresses as the kernel's");
        let (seg, kseg) = (&f[14 + 40..], &captured::TCP6_SYN[14 + 40..]);
        assert_eq!(&seg[..12], &kseg[..12], "ports, sequence and acknowledgement");
        assert_eq!(&seg[13..16], &kseg[13..16], "flags and window");
        let p = etherparse::SlicedPacket::from_ethernet(&f).unwrap();
        let Some(etherparse::TransportSlice::Tcp(t)) = p.transport else { panic!("not TCP: {f:02x?}") };
        assert_eq!(t.calc_checksum_ipv6(PORT_IP6.octets(), COLLECTOR_IP6.octets()).unwrap(), t.checksum(), "etherparse's TCP checksum over IPv6");
        assert_eq!(parse_frame(&f), Ok((None, kernel)));
        assert!(is_for(&f, &v6(COLLECTOR_IP6)) && !is_for(&f, &v6(PORT_IP6)));
    }

    #[test]
    fn an_echo_request_behind_a_vlan_tag_round_trips() {
        let ping = Repr { src: PORT_IP.into(), dst: COLLECTOR_IP.into(), segment: Segment::Echo(icmp::EchoRepr::request(proto::ICMP, 7, 3)) };
        let f = frame([2; 6], [1; 6], Some(42), &ping);
        assert_eq!(&f[12..16], &[0x81, 0x00, 0, 42]);
        assert_eq!(parse_frame(&f), Ok((Some(42), ping)));
        assert_eq!(fold_checksum(ones_sum(&f[18 + 20..18 + 28])), 0, "a valid ICMP checksum");
        let mut two_tags = f.clone();
        two_tags.splice(12..12, [0x88, 0xa8, 0, 7]);
        assert!(parse_frame(&two_tags).is_err() && !is_for(&two_tags, &v4(COLLECTOR_IP)), "behind two tags");
    }

    #[test]
    fn an_icmpv6_echo_request_and_tcp_over_ipv6_satisfy_etherparse() {
        let echo = Segment::Echo(icmp::EchoRepr::request(proto::ICMPV6, 0xbeef, 5));
        let rst = Segment::Tcp(tcp::Repr { src_port: 50000, dst_port: 9000, seq: 0xdead_beef, ack: 0, flags: tcp::FLAG_RST, window: 0 });
        for (segment, vlan) in [(echo, None), (echo, Some(42)), (rst, None), (rst, Some(7))] {
            let check = Repr { src: PORT_IP6.into(), dst: COLLECTOR_IP6.into(), segment };
            let f = frame(COLLECTOR_MAC, PORT_MAC, vlan, &check);
            let p = etherparse::SlicedPacket::from_ethernet(&f).unwrap();
            let Some(etherparse::NetSlice::Ipv6(ip)) = &p.net else { panic!("not IPv6: {f:02x?}") };
            let h = ip.header();
            assert_eq!((h.source_addr(), h.destination_addr(), h.hop_limit(), h.flow_label().value()), (PORT_IP6, COLLECTOR_IP6, TTL, 0));
            match p.transport {
                Some(etherparse::TransportSlice::Icmpv6(m)) => {
                    assert!(m.is_checksum_valid(PORT_IP6.octets(), COLLECTOR_IP6.octets()), "etherparse's ICMPv6 checksum");
                    assert_eq!(m.icmp_type(), etherparse::Icmpv6Type::EchoRequest(etherparse::IcmpEchoHeader { id: 0xbeef, seq: 5 }));
                }
                Some(etherparse::TransportSlice::Tcp(t)) => {
                    assert_eq!(t.calc_checksum_ipv6(PORT_IP6.octets(), COLLECTOR_IP6.octets()).unwrap(), t.checksum(), "etherparse's TCP checksum");
                    assert!(t.rst() && !t.syn() && t.sequence_number() == 0xdead_beef);
                }
                other => panic!("{other:?}"),
            }
            assert_eq!(parse_frame(&f), Ok((vlan, check)));
            assert!(is_for(&f, &v6(COLLECTOR_IP6)));
        }
    }

    #[test]
    fn fragments_extension_headers_and_other_protocols_are_no_answers() {
        let frag = FrameBuilder::ipv4([192, 0, 2, 10], [192, 0, 2, 1]).tcp(9000, 5000).flags_frag(ipv4::FLAG_MF).build();
        assert!(is_for(&frag, &v4(PORT_IP)), "handed over, then refused by the parse");
        assert!(parse_frame(&frag).is_err());
        let gre = FrameBuilder::ipv4([192, 0, 2, 10], [192, 0, 2, 1]).protocol(47).payload(&[0; 24]).build();
        assert!(!is_for(&gre, &v4(PORT_IP)) && parse_frame(&gre).is_err());
        let (c6, p6) = (COLLECTOR_IP6.octets(), PORT_IP6.octets());
        let frag6 = FrameBuilder::ipv6(c6, p6).extension(ipv6::EXT_FRAGMENT, &[0, 1, 0, 0, 0, 42]).tcp(9000, 5000).build();
        assert!(!is_for(&frag6, &v6(PORT_IP6)) && parse_frame(&frag6).is_err(), "behind a fragment header");
        let udp6 = FrameBuilder::ipv6(c6, p6).udp(9000, 5000).build();
        assert!(!is_for(&udp6, &v6(PORT_IP6)) && parse_frame(&udp6).is_err());
        // ICMP's echo types in ICMPv6, and ICMPv6's in IPv4, are no echoes.
        let v4_types_in_v6 = FrameBuilder::ipv6(c6, p6).icmp_echo(icmp::V4_ECHO_REPLY, 1, 1).build();
        assert!(is_for(&v4_types_in_v6, &v6(PORT_IP6)) && parse_frame(&v4_types_in_v6).is_err());
        let icmpv6_in_v4 = FrameBuilder::ipv4([192, 0, 2, 10], [192, 0, 2, 1]).protocol(proto::ICMPV6).payload(&[icmp::V6_ECHO_REPLY, 0, 0, 0, 0, 1, 0, 1]).build();
        assert!(!is_for(&icmpv6_in_v4, &v4(PORT_IP)) && parse_frame(&icmpv6_in_v4).is_err());
    }

    #[test]
    #[should_panic(expected = "addresses of two families")]
    fn a_check_between_two_families_is_a_bug() {
        frame(COLLECTOR_MAC, PORT_MAC, None, &Repr { src: PORT_IP.into(), dst: COLLECTOR_IP6.into(), segment: Segment::Echo(icmp::EchoRepr::request(proto::ICMPV6, 1, 1)) });
    }
}
