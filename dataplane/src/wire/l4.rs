//! Above IP: the IANA protocol numbers the packet path cares about, and the UDP, TCP and ICMP
//! headers it reads (ports, the echo identifier) and writes (a copy's UDP header).

/// IANA protocol numbers the packet path cares about.
pub mod proto {
    /// ICMP (IPv4).
    pub const ICMP: u8 = 1;
    /// TCP.
    pub const TCP: u8 = 6;
    /// UDP.
    pub const UDP: u8 = 17;
    /// ICMPv6.
    pub const ICMPV6: u8 = 58;
}

/// UDP (RFC 768).
pub mod udp {
    use crate::wire::{be16, put_be16, Malformed};

    /// Field ranges, from the header's first byte.
    pub mod field {
        use crate::wire::Field;

        /// Source port.
        pub const SRC_PORT: Field = 0..2;
        /// Destination port.
        pub const DST_PORT: Field = 2..4;
        /// Header and payload.
        pub const LENGTH: Field = 4..6;
        /// Checksum (0: none, IPv4 only).
        pub const CHECKSUM: Field = 6..8;
    }

    /// The header: ports, length, checksum.
    pub const HEADER_LEN: usize = 8;

    /// A view of a UDP datagram.
    #[derive(Clone, Copy, Debug)]
    pub struct Packet<T: AsRef<[u8]>> {
        buffer: T,
    }

    impl<T: AsRef<[u8]>> Packet<T> {
        /// A view without a check: the accessors panic on fewer than [`HEADER_LEN`] bytes.
        #[inline(always)]
        pub const fn new_unchecked(buffer: T) -> Self {
            Packet { buffer }
        }

        /// A view of a buffer that holds the header.
        #[inline]
        pub fn new_checked(buffer: T) -> Result<Self, Malformed> {
            if buffer.as_ref().len() < HEADER_LEN {
                return Err(Malformed);
            }
            Ok(Packet { buffer })
        }

        #[inline(always)]
        /// The source port.
        pub fn src_port(&self) -> u16 {
            be16(self.buffer.as_ref(), field::SRC_PORT.start)
        }

        #[inline(always)]
        /// The destination port.
        pub fn dst_port(&self) -> u16 {
            be16(self.buffer.as_ref(), field::DST_PORT.start)
        }

        /// Header and payload, as the header says.
        #[inline(always)]
        pub fn len(&self) -> u16 {
            be16(self.buffer.as_ref(), field::LENGTH.start)
        }

        /// True when the header says the datagram has no bytes at all, not even a header.
        pub fn is_empty(&self) -> bool {
            self.len() == 0
        }

        /// 0 when the sender computed none (IPv4 only).
        #[inline(always)]
        pub fn checksum(&self) -> u16 {
            be16(self.buffer.as_ref(), field::CHECKSUM.start)
        }
    }

    impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
        #[inline(always)]
        /// Sets the source port.
        pub fn set_src_port(&mut self, port: u16) {
            put_be16(self.buffer.as_mut(), field::SRC_PORT.start, port);
        }

        #[inline(always)]
        /// Sets the destination port.
        pub fn set_dst_port(&mut self, port: u16) {
            put_be16(self.buffer.as_mut(), field::DST_PORT.start, port);
        }

        #[inline(always)]
        /// Sets the length (header and payload).
        pub fn set_len(&mut self, len: u16) {
            put_be16(self.buffer.as_mut(), field::LENGTH.start, len);
        }

        #[inline(always)]
        /// Sets the checksum (0: none, IPv4 only).
        pub fn set_checksum(&mut self, c: u16) {
            put_be16(self.buffer.as_mut(), field::CHECKSUM.start, c);
        }
    }
}

/// TCP (RFC 9293): the packet path reads only the ports, which lie where UDP's do; a health
/// check writes and reads whole headers (a SYN, its answer, a RST).
pub mod tcp {
    use crate::wire::{be16, be32, fold_checksum, ones_sum, put_be16, put_be32, Malformed};

    /// Field ranges, from the header's first byte.
    pub mod field {
        use crate::wire::Field;

        /// Source port.
        pub const SRC_PORT: Field = 0..2;
        /// Destination port.
        pub const DST_PORT: Field = 2..4;
        /// Sequence number.
        pub const SEQ: Field = 4..8;
        /// Acknowledgement number.
        pub const ACK: Field = 8..12;
        /// Header length in 32-bit words (high nibble).
        pub const DATA_OFFSET: usize = 12;
        /// The flags ([`FLAG_SYN`](super::FLAG_SYN) and the others).
        pub const FLAGS: usize = 13;
        /// Receive window.
        pub const WINDOW: Field = 14..16;
        /// Checksum, over the pseudo-header, the header and the payload.
        pub const CHECKSUM: Field = 16..18;
        /// Urgent pointer.
        pub const URGENT: Field = 18..20;
    }

    /// A header without options.
    pub const HEADER_LEN: usize = 20;
    /// Bytes a packet must hold for its ports to be read.
    pub const PORTS_LEN: usize = 4;
    /// FIN: no more data from the sender.
    pub const FLAG_FIN: u8 = 0x01;
    /// SYN: opens a connection.
    pub const FLAG_SYN: u8 = 0x02;
    /// RST: aborts a connection, or refuses one.
    pub const FLAG_RST: u8 = 0x04;
    /// PSH: push the data to the application.
    pub const FLAG_PSH: u8 = 0x08;
    /// ACK: the acknowledgement number is valid.
    pub const FLAG_ACK: u8 = 0x10;

    /// A view of a TCP segment.
    #[derive(Clone, Copy, Debug)]
    pub struct Packet<T: AsRef<[u8]>> {
        buffer: T,
    }

    impl<T: AsRef<[u8]>> Packet<T> {
        /// A view without a check: the accessors panic on fewer than [`HEADER_LEN`] bytes.
        pub const fn new_unchecked(buffer: T) -> Self {
            Packet { buffer }
        }

        /// A view of a buffer that holds a header without options. The options themselves
        /// need not be there: the fields read here lie before them.
        pub fn new_checked(buffer: T) -> Result<Self, Malformed> {
            if buffer.as_ref().len() < HEADER_LEN {
                return Err(Malformed);
            }
            Ok(Packet { buffer })
        }

        /// The source port.
        pub fn src_port(&self) -> u16 {
            be16(self.buffer.as_ref(), field::SRC_PORT.start)
        }

        /// The destination port.
        pub fn dst_port(&self) -> u16 {
            be16(self.buffer.as_ref(), field::DST_PORT.start)
        }

        /// The sequence number.
        pub fn seq(&self) -> u32 {
            be32(self.buffer.as_ref(), field::SEQ.start)
        }

        /// The acknowledgement number (meaningful with [`FLAG_ACK`]).
        pub fn ack(&self) -> u32 {
            be32(self.buffer.as_ref(), field::ACK.start)
        }

        /// The header's length in bytes, options included.
        pub fn header_len(&self) -> usize {
            usize::from(self.buffer.as_ref()[field::DATA_OFFSET] >> 4) * 4
        }

        /// The flags ([`FLAG_SYN`], [`FLAG_ACK`], ...).
        pub fn flags(&self) -> u8 {
            self.buffer.as_ref()[field::FLAGS]
        }

        /// The receive window.
        pub fn window(&self) -> u16 {
            be16(self.buffer.as_ref(), field::WINDOW.start)
        }

        /// The checksum as sent.
        pub fn checksum(&self) -> u16 {
            be16(self.buffer.as_ref(), field::CHECKSUM.start)
        }
    }

    /// A TCP header without options, to write or as read (a health check's segments carry
    /// no data).
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct Repr {
        /// Source port.
        pub src_port: u16,
        /// Destination port.
        pub dst_port: u16,
        /// Sequence number.
        pub seq: u32,
        /// Acknowledgement number.
        pub ack: u32,
        /// Flags.
        pub flags: u8,
        /// Receive window.
        pub window: u16,
    }

    impl Repr {
        /// Reads a checked segment's header (its options are left out).
        pub fn parse<T: AsRef<[u8]>>(p: &Packet<T>) -> Repr {
            Repr { src_port: p.src_port(), dst_port: p.dst_port(), seq: p.seq(), ack: p.ack(), flags: p.flags(), window: p.window() }
        }

        /// Writes the header at the front of `buf` ([`HEADER_LEN`] bytes), its checksum
        /// completed from `pseudo_sum`, the ones'-complement sum of the IP pseudo-header
        /// ([`ipv4::pseudo_sum`](crate::wire::ipv4::pseudo_sum)).
        pub fn emit(&self, buf: &mut [u8], pseudo_sum: u32) {
            let b = &mut buf[..HEADER_LEN];
            put_be16(b, field::SRC_PORT.start, self.src_port);
            put_be16(b, field::DST_PORT.start, self.dst_port);
            put_be32(b, field::SEQ.start, self.seq);
            put_be32(b, field::ACK.start, self.ack);
            b[field::DATA_OFFSET] = ((HEADER_LEN / 4) as u8) << 4;
            b[field::FLAGS] = self.flags;
            put_be16(b, field::WINDOW.start, self.window);
            put_be16(b, field::CHECKSUM.start, 0);
            put_be16(b, field::URGENT.start, 0);
            let c = fold_checksum(pseudo_sum + ones_sum(b));
            put_be16(b, field::CHECKSUM.start, c);
        }
    }
}

/// ICMP and ICMPv6 share this layout for echo messages.
pub mod icmp {
    use crate::wire::{be16, fold_checksum, ones_sum, put_be16, Malformed};

    /// Field ranges, from the message's first byte.
    pub mod field {
        use crate::wire::Field;

        /// The message type.
        pub const TYPE: usize = 0;
        /// The code (0 for echo messages).
        pub const CODE: usize = 1;
        /// Checksum over the message.
        pub const CHECKSUM: Field = 2..4;
        /// In an echo request or reply: the identifier...
        pub const ECHO_IDENT: Field = 4..6;
        /// ...and the sequence number.
        pub const ECHO_SEQ: Field = 6..8;
    }

    /// An echo message's header: type, code, checksum, identifier, sequence.
    pub const ECHO_HEADER_LEN: usize = 8;
    /// ICMP echo reply.
    pub const V4_ECHO_REPLY: u8 = 0;
    /// ICMP echo request.
    pub const V4_ECHO_REQUEST: u8 = 8;
    /// ICMPv6 echo request.
    pub const V6_ECHO_REQUEST: u8 = 128;
    /// ICMPv6 echo reply.
    pub const V6_ECHO_REPLY: u8 = 129;

    /// An ICMP or ICMPv6 echo request or reply without data, as a health check sends and
    /// reads it (both share this layout; only ICMPv6's checksum covers a pseudo-header).
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct EchoRepr {
        /// [`V4_ECHO_REQUEST`] or [`V4_ECHO_REPLY`] in ICMP, [`V6_ECHO_REQUEST`] or
        /// [`V6_ECHO_REPLY`] in ICMPv6.
        pub kind: u8,
        /// Identifier.
        pub ident: u16,
        /// Sequence number.
        pub seq: u16,
    }

    impl EchoRepr {
        /// An echo request of `protocol` ([`proto::ICMP`](crate::wire::proto::ICMP) or
        /// [`proto::ICMPV6`](crate::wire::proto::ICMPV6)).
        pub fn request(protocol: u8, ident: u16, seq: u16) -> EchoRepr {
            let kind = if protocol == crate::wire::proto::ICMPV6 { V6_ECHO_REQUEST } else { V4_ECHO_REQUEST };
            EchoRepr { kind, ident, seq }
        }

        /// The reply to this request, of the same protocol.
        pub fn reply(&self) -> EchoRepr {
            EchoRepr { kind: if self.kind == V6_ECHO_REQUEST { V6_ECHO_REPLY } else { V4_ECHO_REPLY }, ..*self }
        }

        /// Whether it is a reply, of either protocol.
        pub fn is_reply(&self) -> bool {
            matches!(self.kind, V4_ECHO_REPLY | V6_ECHO_REPLY)
        }

        /// Reads a message of `protocol` (ICMP or ICMPv6); `Err` unless it is an echo
        /// request or reply of that protocol.
        pub fn parse(protocol: u8, b: &[u8]) -> Result<EchoRepr, Malformed> {
            let (request, reply) = if protocol == crate::wire::proto::ICMPV6 { (V6_ECHO_REQUEST, V6_ECHO_REPLY) } else { (V4_ECHO_REQUEST, V4_ECHO_REPLY) };
            if b.len() < ECHO_HEADER_LEN || (b[field::TYPE] != request && b[field::TYPE] != reply) || b[field::CODE] != 0 {
                return Err(Malformed);
            }
            Ok(EchoRepr { kind: b[field::TYPE], ident: be16(b, field::ECHO_IDENT.start), seq: be16(b, field::ECHO_SEQ.start) })
        }

        /// Writes the message at the front of `buf` ([`ECHO_HEADER_LEN`] bytes), its
        /// checksum completed from `pseudo_sum`: 0 for ICMP, the IPv6 pseudo-header's sum
        /// ([`ipv6::pseudo_header_sum`](crate::wire::ipv6::pseudo_header_sum)) for ICMPv6.
        pub fn emit(&self, buf: &mut [u8], pseudo_sum: u32) {
            let b = &mut buf[..ECHO_HEADER_LEN];
            b[field::TYPE] = self.kind;
            b[field::CODE] = 0;
            put_be16(b, field::CHECKSUM.start, 0);
            put_be16(b, field::ECHO_IDENT.start, self.ident);
            put_be16(b, field::ECHO_SEQ.start, self.seq);
            let c = fold_checksum(pseudo_sum + ones_sum(b));
            put_be16(b, field::CHECKSUM.start, c);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::testing::captured;
    use crate::wire::{be16, ethernet, fold_checksum, ipv4, ipv6, ones_sum};

    #[test]
    fn reads_a_captured_udp_header() {
        let u = udp::Packet::new_checked(&captured::UDP_DNS[ethernet::HEADER_LEN + ipv4::HEADER_LEN..]).unwrap();
        assert_eq!((u.src_port(), u.dst_port(), u.len(), u.checksum()), (53785, 53, 10, 0x1430));
        assert!(udp::Packet::new_checked(&[0u8; 7][..]).is_err());
    }

    #[test]
    fn tcp_ports_lie_where_udp_ports_do() {
        let l4 = &captured::TCP_SYN[ethernet::HEADER_LEN + ipv4::HEADER_LEN..];
        assert_eq!((be16(l4, tcp::field::SRC_PORT.start), be16(l4, tcp::field::DST_PORT.start)), (53946, 8080));
        let as_udp = udp::Packet::new_unchecked(l4);
        assert_eq!((as_udp.src_port(), as_udp.dst_port()), (53946, 8080));
        assert_eq!(l4[tcp::field::FLAGS], tcp::FLAG_SYN);
        assert_eq!(usize::from(l4[tcp::field::DATA_OFFSET] >> 4) * 4, 40, "a SYN with options");
    }

    #[test]
    fn reads_captured_echo_requests() {
        let v4 = &captured::ICMP_ECHO_REQUEST[ethernet::HEADER_LEN + ipv4::HEADER_LEN..];
        assert_eq!((v4[icmp::field::TYPE], be16(v4, icmp::field::ECHO_IDENT.start), be16(v4, icmp::field::ECHO_SEQ.start)), (icmp::V4_ECHO_REQUEST, 21828, 1));
        let v6 = &captured::ICMPV6_ECHO_REQUEST[ethernet::HEADER_LEN + ipv6::HEADER_LEN..];
        assert_eq!((v6[icmp::field::TYPE], be16(v6, icmp::field::ECHO_IDENT.start)), (icmp::V6_ECHO_REQUEST, 21829));
    }

    #[test]
    fn reads_a_captured_syn_and_writes_its_header_back() {
        let ip = ipv4::Packet::new_checked(&captured::TCP_SYN[ethernet::HEADER_LEN..]).unwrap();
        let p = tcp::Packet::new_checked(ip.payload()).unwrap();
        let r = tcp::Repr::parse(&p);
        assert_eq!((r.src_port, r.dst_port, r.flags, p.header_len()), (53946, 8080, tcp::FLAG_SYN, 40));
        // Its options left out, the header sums with the pseudo-header of a 20-byte segment
        // to a valid checksum, and reads back as written.
        let mut h = [0u8; tcp::HEADER_LEN];
        r.emit(&mut h, ipv4::pseudo_sum(ip.src_addr(), ip.dst_addr(), proto::TCP, tcp::HEADER_LEN));
        assert_eq!(fold_checksum(ipv4::pseudo_sum(ip.src_addr(), ip.dst_addr(), proto::TCP, tcp::HEADER_LEN) + ones_sum(&h)), 0);
        assert_eq!(tcp::Repr::parse(&tcp::Packet::new_checked(&h[..]).unwrap()), r);
        assert_eq!(&h[..12], &ip.payload()[..12], "ports, sequence and acknowledgement as captured");
        assert!(tcp::Packet::new_checked(&h[..19]).is_err());
    }

    #[test]
    fn writes_the_captured_echo_request_and_reads_it_back() {
        let v4 = &captured::ICMP_ECHO_REQUEST[ethernet::HEADER_LEN + ipv4::HEADER_LEN..];
        let r = icmp::EchoRepr::parse(proto::ICMP, v4).unwrap();
        assert_eq!(r, icmp::EchoRepr::request(proto::ICMP, 21828, 1));
        let mut b = [0u8; icmp::ECHO_HEADER_LEN];
        r.emit(&mut b, 0);
        assert_eq!(fold_checksum(ones_sum(&b)), 0);
        assert_eq!(icmp::EchoRepr::parse(proto::ICMP, &b), Ok(r));
        assert!(icmp::EchoRepr::parse(proto::ICMPV6, &b).is_err(), "type 8 is no ICMPv6 echo");
        let mut unreachable = b;
        unreachable[icmp::field::TYPE] = 3;
        assert!(icmp::EchoRepr::parse(proto::ICMP, &unreachable).is_err());
        assert!(icmp::EchoRepr::parse(proto::ICMP, &b[..7]).is_err());
        assert_eq!((r.reply().kind, r.reply().is_reply(), r.is_reply()), (icmp::V4_ECHO_REPLY, true, false));
    }

    #[test]
    fn writes_the_captured_icmpv6_echo_request_with_its_pseudo_header() {
        let ip = ipv6::Packet::new_checked(&captured::ICMPV6_ECHO_REQUEST[ethernet::HEADER_LEN..]).unwrap();
        let (src, dst) = (ipv6::Repr::parse(&ip).src.octets(), ipv6::Repr::parse(&ip).dst.octets());
        let message = &ip.packet()[ipv6::HEADER_LEN..];
        let r = icmp::EchoRepr::parse(proto::ICMPV6, message).unwrap();
        assert_eq!(r, icmp::EchoRepr::request(proto::ICMPV6, 21829, 1));
        assert!(icmp::EchoRepr::parse(proto::ICMP, message).is_err(), "type 128 is no ICMP echo");
        // The kernel's request carries 56 bytes of data: written here without them, with the
        // captured header and the pseudo-header of an 8-byte message, the checksum must be
        // the captured one less what the data added to it.
        let mut b = [0u8; icmp::ECHO_HEADER_LEN];
        r.emit(&mut b, ipv6::pseudo_header_sum(&src, &dst, icmp::ECHO_HEADER_LEN as u32, proto::ICMPV6));
        assert_eq!(fold_checksum(ipv6::pseudo_header_sum(&src, &dst, icmp::ECHO_HEADER_LEN as u32, proto::ICMPV6) + ones_sum(&b)), 0);
        let data = ones_sum(&message[icmp::ECHO_HEADER_LEN..]);
        let length_difference = (message.len() - icmp::ECHO_HEADER_LEN) as u32;
        assert_eq!(fold_checksum(u32::from(!be16(&b, 2)) + data + length_difference), be16(message, 2), "the kernel's checksum, from ours");
        assert_eq!(icmp::EchoRepr::parse(proto::ICMPV6, &b), Ok(r));
        assert_eq!(r.reply(), icmp::EchoRepr { kind: icmp::V6_ECHO_REPLY, ident: 21829, seq: 1 });
    }

    #[test]
    fn writes_a_udp_header() {
        let mut h = [0u8; udp::HEADER_LEN];
        let mut u = udp::Packet::new_unchecked(&mut h[..]);
        u.set_src_port(53785);
        u.set_dst_port(53);
        u.set_len(10);
        u.set_checksum(0x1430);
        assert_eq!(&h[..], &captured::UDP_DNS[34..42]);
    }
}
