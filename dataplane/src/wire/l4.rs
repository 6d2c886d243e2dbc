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

/// TCP (RFC 9293): the packet path reads only the ports, which lie where UDP's do.
pub mod tcp {
    /// Field ranges, from the header's first byte.
    pub mod field {
        use crate::wire::Field;

        /// Source port.
        pub const SRC_PORT: Field = 0..2;
        /// Destination port.
        pub const DST_PORT: Field = 2..4;
        /// Header length in 32-bit words (high nibble).
        pub const DATA_OFFSET: usize = 12;
        /// The flags ([`FLAG_SYN`] and the others).
        pub const FLAGS: usize = 13;
    }

    /// A header without options.
    pub const HEADER_LEN: usize = 20;
    /// Bytes a packet must hold for its ports to be read.
    pub const PORTS_LEN: usize = 4;
    /// SYN: opens a connection.
    pub const FLAG_SYN: u8 = 0x02;
    /// PSH: push the data to the application.
    pub const FLAG_PSH: u8 = 0x08;
    /// ACK: the acknowledgement number is valid.
    pub const FLAG_ACK: u8 = 0x10;
}

/// ICMP and ICMPv6 share this layout for echo messages.
pub mod icmp {
    /// Field ranges, from the message's first byte.
    pub mod field {
        use crate::wire::Field;

        /// The message type.
        pub const TYPE: usize = 0;
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::testing::captured;
    use crate::wire::{be16, ethernet, ipv4, ipv6};

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
