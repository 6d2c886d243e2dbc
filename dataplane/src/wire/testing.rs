//! For tests, benches and fuzz seeds, in this crate and the others (feature `testing`): one
//! [`FrameBuilder`] for every frame a test makes, and [`captured`] frames off a real network.
//!
//! Frames are built through the wire views, so a builder and the code under test share the
//! formats' definitions but not their reading: the tests read what the builder wrote, and
//! [`captured`] checks both against bytes neither wrote.

use super::ethernet::{self, TYPE_IPV4, TYPE_IPV6};
use super::{ipv4, ipv6, tcp, udp};
use super::{icmp, proto, put_be16};

/// An Ethernet frame to build, by layers: Ethernet (with VLAN tags), then IPv4, IPv6 or a raw
/// ethertype's bytes, then TCP, UDP, an ICMP echo or a raw protocol's bytes, then a payload.
///
/// Lengths and the IPv4 header checksum are filled in; TCP, UDP and ICMP checksums are left
/// 0 (nothing on the packet path reads them, and 0 is UDP-over-IPv4's "none").
#[derive(Clone, Debug)]
#[must_use]
pub struct FrameBuilder {
    dst: [u8; 6],
    src: [u8; 6],
    vlans: Vec<u16>,
    net: Net,
    l4: L4,
    payload: Vec<u8>,
    size: Option<usize>,
}

#[derive(Clone, Debug)]
enum Net {
    /// An ethertype, and the payload is all there is after Ethernet.
    Raw(u16),
    Ipv4 { src: [u8; 4], dst: [u8; 4], options: Vec<u8>, flags_frag: u16, ident: u16, ttl: u8 },
    Ipv6 { src: [u8; 16], dst: [u8; 16], extensions: Vec<(u8, Vec<u8>)>, hop_limit: u8 },
}

#[derive(Clone, Copy, Debug)]
enum L4 {
    /// Only a protocol number: the payload is the transport's bytes.
    Raw(u8),
    Tcp { sport: u16, dport: u16 },
    Udp { sport: u16, dport: u16 },
    IcmpEcho { kind: u8, ident: u16, seq: u16 },
}

impl FrameBuilder {
    fn new(net: Net) -> Self {
        FrameBuilder { dst: [2, 0, 0, 0, 0, 2], src: [2, 0, 0, 0, 0, 1], vlans: Vec::new(), net, l4: L4::Raw(0), payload: Vec::new(), size: None }
    }

    /// An IPv4 packet from `src` to `dst` (TTL 64, identification 0, no flags).
    pub fn ipv4(src: [u8; 4], dst: [u8; 4]) -> Self {
        Self::new(Net::Ipv4 { src, dst, options: Vec::new(), flags_frag: 0, ident: 0, ttl: 64 })
    }

    /// An IPv6 packet from `src` to `dst` (hop limit 64).
    pub fn ipv6(src: [u8; 16], dst: [u8; 16]) -> Self {
        Self::new(Net::Ipv6 { src, dst, extensions: Vec::new(), hop_limit: 64 })
    }

    /// A frame of `ethertype` whose payload is `bytes`.
    pub fn raw(ethertype: u16, bytes: &[u8]) -> Self {
        Self::new(Net::Raw(ethertype)).payload(bytes)
    }

    /// Destination and source MAC (02:00:00:00:00:02 and :01 unless set).
    pub fn macs(mut self, dst: [u8; 6], src: [u8; 6]) -> Self {
        (self.dst, self.src) = (dst, src);
        self
    }

    /// VLAN tags, outermost first (802.1ad, the last 802.1Q).
    pub fn vlans(mut self, vids: &[u16]) -> Self {
        self.vlans = vids.to_vec();
        self
    }

    /// IPv4 options (a multiple of 4 bytes, at most 40).
    pub fn options(mut self, bytes: &[u8]) -> Self {
        assert!(bytes.len().is_multiple_of(4) && bytes.len() <= 40, "IPv4 options are words, at most 10");
        if let Net::Ipv4 { options, .. } = &mut self.net {
            *options = bytes.to_vec();
        }
        self
    }

    /// IPv4 flags and fragment offset, as one word (see [`ipv4::Packet::flags_frag`]).
    pub fn flags_frag(mut self, v: u16) -> Self {
        if let Net::Ipv4 { flags_frag, .. } = &mut self.net {
            *flags_frag = v;
        }
        self
    }

    /// IPv4 identification.
    pub fn ident(mut self, v: u16) -> Self {
        if let Net::Ipv4 { ident, .. } = &mut self.net {
            *ident = v;
        }
        self
    }

    /// An IPv6 extension header of type `kind`, after those added before: its next-header
    /// byte is filled in, then its second byte (the length, or the fragment header's
    /// reserved byte) from the length of `body`, the rest (8n - 2 bytes).
    pub fn extension(mut self, kind: u8, body: &[u8]) -> Self {
        assert!((body.len() + 2).is_multiple_of(8), "an extension header is a multiple of 8 bytes");
        if let Net::Ipv6 { extensions, .. } = &mut self.net {
            extensions.push((kind, body.to_vec()));
        }
        self
    }

    /// A TCP header (20 bytes, a data segment: PSH and ACK).
    pub fn tcp(mut self, sport: u16, dport: u16) -> Self {
        self.l4 = L4::Tcp { sport, dport };
        self
    }

    /// A UDP header.
    pub fn udp(mut self, sport: u16, dport: u16) -> Self {
        self.l4 = L4::Udp { sport, dport };
        self
    }

    /// An ICMP (IPv4) or ICMPv6 (IPv6) echo message of type `kind`.
    pub fn icmp_echo(mut self, kind: u8, ident: u16, seq: u16) -> Self {
        self.l4 = L4::IcmpEcho { kind, ident, seq };
        self
    }

    /// IP protocol `protocol` with no header of ours: the payload holds its bytes.
    pub fn protocol(mut self, protocol: u8) -> Self {
        self.l4 = L4::Raw(protocol);
        self
    }

    /// The bytes after the headers.
    pub fn payload(mut self, bytes: &[u8]) -> Self {
        self.payload = bytes.to_vec();
        self
    }

    /// Pads the payload with zeros to make the frame `len` bytes long.
    pub fn size(mut self, len: usize) -> Self {
        self.size = Some(len);
        self
    }

    fn protocol_number(&self) -> u8 {
        let v6 = matches!(self.net, Net::Ipv6 { .. });
        match self.l4 {
            L4::Raw(p) => p,
            L4::Tcp { .. } => proto::TCP,
            L4::Udp { .. } => proto::UDP,
            L4::IcmpEcho { .. } if v6 => proto::ICMPV6,
            L4::IcmpEcho { .. } => proto::ICMP,
        }
    }

    fn l4_len(&self) -> usize {
        match (&self.net, self.l4) {
            (Net::Raw(_), _) | (_, L4::Raw(_)) => 0,
            (_, L4::Tcp { .. }) => tcp::HEADER_LEN,
            (_, L4::Udp { .. }) => udp::HEADER_LEN,
            (_, L4::IcmpEcho { .. }) => icmp::ECHO_HEADER_LEN,
        }
    }

    /// The bytes before the payload: every header.
    pub fn header_len(&self) -> usize {
        let eth = ethernet::HEADER_LEN + ethernet::VLAN_TAG_LEN * self.vlans.len();
        let net = match &self.net {
            Net::Raw(_) => 0,
            Net::Ipv4 { options, .. } => ipv4::HEADER_LEN + options.len(),
            Net::Ipv6 { extensions, .. } => ipv6::HEADER_LEN + extensions.iter().map(|(_, b)| b.len() + 2).sum::<usize>(),
        };
        eth + net + self.l4_len()
    }

    /// The frame.
    pub fn build(&self) -> Vec<u8> {
        let ethertype = match self.net {
            Net::Raw(t) => t,
            Net::Ipv4 { .. } => TYPE_IPV4,
            Net::Ipv6 { .. } => TYPE_IPV6,
        };
        let headers = self.header_len();
        let len = self.size.unwrap_or(0).max(headers + self.payload.len());
        let mut f = vec![0u8; len];
        f[headers..headers + self.payload.len()].copy_from_slice(&self.payload);
        let l3 = ethernet::Repr { dst: self.dst, src: self.src, vlans: &self.vlans, ethertype }.emit(&mut f);
        let protocol = self.protocol_number();
        let l4 = match &self.net {
            Net::Raw(_) => return f,
            Net::Ipv4 { src, dst, options, flags_frag, ident, ttl } => {
                let header_len = ipv4::HEADER_LEN + options.len();
                let repr = ipv4::Repr {
                    src: u32::from_be_bytes(*src),
                    dst: u32::from_be_bytes(*dst),
                    protocol,
                    ttl: *ttl,
                    ident: *ident,
                    flags_frag: *flags_frag,
                    payload_len: len - l3 - ipv4::HEADER_LEN,
                };
                repr.emit(&mut f[l3..]);
                f[l3 + ipv4::HEADER_LEN..l3 + header_len].copy_from_slice(options);
                let mut ip = ipv4::Packet::new_unchecked(&mut f[l3..]);
                ip.set_header_len(header_len);
                ip.fill_checksum();
                l3 + header_len
            }
            Net::Ipv6 { src, dst, extensions, hop_limit } => {
                let mut ip = ipv6::Packet::new_unchecked(&mut f[l3..]);
                ip.set_version();
                ip.set_payload_len((len - l3 - ipv6::HEADER_LEN) as u16);
                ip.set_next_header(extensions.first().map_or(protocol, |(kind, _)| *kind));
                ip.set_hop_limit(*hop_limit);
                ip.set_src_addr(*src);
                ip.set_dst_addr(*dst);
                let mut at = l3 + ipv6::HEADER_LEN;
                for (i, (_, body)) in extensions.iter().enumerate() {
                    f[at] = extensions.get(i + 1).map_or(protocol, |(kind, _)| *kind);
                    f[at + 1] = ((body.len() + 2) / 8 - 1) as u8;
                    f[at + 2..at + 2 + body.len()].copy_from_slice(body);
                    at += body.len() + 2;
                }
                at
            }
        };
        match self.l4 {
            L4::Raw(_) => {}
            L4::Tcp { sport, dport } => {
                put_be16(&mut f, l4 + tcp::field::SRC_PORT.start, sport);
                put_be16(&mut f, l4 + tcp::field::DST_PORT.start, dport);
                f[l4 + tcp::field::DATA_OFFSET] = ((tcp::HEADER_LEN / 4) as u8) << 4;
                f[l4 + tcp::field::FLAGS] = tcp::FLAG_PSH | tcp::FLAG_ACK;
            }
            L4::Udp { sport, dport } => {
                let mut u = udp::Packet::new_unchecked(&mut f[l4..]);
                u.set_src_port(sport);
                u.set_dst_port(dport);
                u.set_len((len - l4) as u16);
            }
            L4::IcmpEcho { kind, ident, seq } => {
                f[l4 + icmp::field::TYPE] = kind;
                put_be16(&mut f, l4 + icmp::field::ECHO_IDENT.start, ident);
                put_be16(&mut f, l4 + icmp::field::ECHO_SEQ.start, seq);
            }
        }
        f
    }
}

/// Frames captured with tcpdump between two Linux network namespaces (veth, 10.9.0.1 and
/// fd10:9::1 on 02:00:00:00:0a:01, 10.9.0.2 and fd10:9::2 on 02:00:00:00:0b:01): bytes no
/// code of ours wrote.
pub mod captured {
    /// A TCP SYN with options (MSS, SACK, timestamps, window scale), 10.9.0.1:53946 to 10.9.0.2:8080.
    pub const TCP_SYN: &[u8] = &[
        0x02, 0x00, 0x00, 0x00, 0x0b, 0x01, 0x02, 0x00, 0x00, 0x00, 0x0a, 0x01, 0x08, 0x00, 0x45, 0x00,
        0x00, 0x3c, 0x74, 0x9d, 0x40, 0x00, 0x40, 0x06, 0xb2, 0x0a, 0x0a, 0x09, 0x00, 0x01, 0x0a, 0x09,
        0x00, 0x02, 0xd2, 0xba, 0x1f, 0x90, 0xb2, 0xec, 0x62, 0xe2, 0x00, 0x00, 0x00, 0x00, 0xa0, 0x02,
        0xfa, 0xf0, 0x14, 0x43, 0x00, 0x00, 0x02, 0x04, 0x05, 0xb4, 0x04, 0x02, 0x08, 0x0a, 0xb0, 0x47,
        0xae, 0xcb, 0x00, 0x00, 0x00, 0x00, 0x01, 0x03, 0x03, 0x0a,
    ];

    /// A 2-byte UDP datagram to port 53, 10.9.0.1:53785 to 10.9.0.2, with a UDP checksum.
    pub const UDP_DNS: &[u8] = &[
        0x02, 0x00, 0x00, 0x00, 0x0b, 0x01, 0x02, 0x00, 0x00, 0x00, 0x0a, 0x01, 0x08, 0x00, 0x45, 0x00,
        0x00, 0x1e, 0xf5, 0xc6, 0x40, 0x00, 0x40, 0x11, 0x30, 0xf4, 0x0a, 0x09, 0x00, 0x01, 0x0a, 0x09,
        0x00, 0x02, 0xd2, 0x19, 0x00, 0x35, 0x00, 0x0a, 0x14, 0x30, 0x71, 0x0a,
    ];

    /// `ping`: an ICMP echo request, identifier 21828, sequence 1, 56 bytes of data.
    pub const ICMP_ECHO_REQUEST: &[u8] = &[
        0x02, 0x00, 0x00, 0x00, 0x0b, 0x01, 0x02, 0x00, 0x00, 0x00, 0x0a, 0x01, 0x08, 0x00, 0x45, 0x00,
        0x00, 0x54, 0x6d, 0xd0, 0x40, 0x00, 0x40, 0x01, 0xb8, 0xc4, 0x0a, 0x09, 0x00, 0x01, 0x0a, 0x09,
        0x00, 0x02, 0x08, 0x00, 0xd3, 0x18, 0x55, 0x44, 0x00, 0x01, 0xa0, 0x1b, 0x13, 0x6b, 0x00, 0x00,
        0x00, 0x00, 0x54, 0x48, 0x09, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10, 0x11, 0x12, 0x13, 0x14, 0x15,
        0x16, 0x17, 0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f, 0x20, 0x21, 0x22, 0x23, 0x24, 0x25,
        0x26, 0x27, 0x28, 0x29, 0x2a, 0x2b, 0x2c, 0x2d, 0x2e, 0x2f, 0x30, 0x31, 0x32, 0x33, 0x34, 0x35,
        0x36, 0x37,
    ];

    /// `ping -6`: an ICMPv6 echo request, fd10:9::1 to fd10:9::2, identifier 21829.
    pub const ICMPV6_ECHO_REQUEST: &[u8] = &[
        0x02, 0x00, 0x00, 0x00, 0x0b, 0x01, 0x02, 0x00, 0x00, 0x00, 0x0a, 0x01, 0x86, 0xdd, 0x60, 0x01,
        0x1d, 0xb8, 0x00, 0x40, 0x3a, 0x40, 0xfd, 0x10, 0x00, 0x09, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0xfd, 0x10, 0x00, 0x09, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x80, 0x00, 0x27, 0x57, 0x55, 0x45, 0x00, 0x01, 0xa0, 0x1b,
        0x13, 0x6b, 0x00, 0x00, 0x00, 0x00, 0x8d, 0x57, 0x09, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10, 0x11,
        0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f, 0x20, 0x21,
        0x22, 0x23, 0x24, 0x25, 0x26, 0x27, 0x28, 0x29, 0x2a, 0x2b, 0x2c, 0x2d, 0x2e, 0x2f, 0x30, 0x31,
        0x32, 0x33, 0x34, 0x35, 0x36, 0x37,
    ];

    /// A Neighbor Solicitation the kernel sent: 2001:db8:0:2::10 (MAC 02:00:00:00:00:20) asks
    /// the solicited-node group of 2001:db8:0:2::1 who has it, with its own MAC as option.
    pub const NEIGHBOR_SOLICIT: &[u8] = &[
        0x33, 0x33, 0xff, 0x00, 0x00, 0x01, 0x02, 0x00, 0x00, 0x00, 0x00, 0x20, 0x86, 0xdd, 0x60, 0x00,
        0x00, 0x00, 0x00, 0x20, 0x3a, 0xff, 0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x10, 0xff, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x01, 0xff, 0x00, 0x00, 0x01, 0x87, 0x00, 0x1b, 0xf7, 0x00, 0x00, 0x00, 0x00, 0x20, 0x01,
        0x0d, 0xb8, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x01, 0x01,
        0x02, 0x00, 0x00, 0x00, 0x00, 0x20,
    ];

    /// The kernel's answer to [`NEIGHBOR_SOLICIT`] for its address 2001:db8:0:2::1 (MAC
    /// 02:00:00:00:00:10): a solicited, override advertisement with its MAC as option.
    pub const NEIGHBOR_ADVERT_REPLY: &[u8] = &[
        0x02, 0x00, 0x00, 0x00, 0x00, 0x20, 0x02, 0x00, 0x00, 0x00, 0x00, 0x10, 0x86, 0xdd, 0x60, 0x00,
        0x00, 0x00, 0x00, 0x20, 0x3a, 0xff, 0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x10, 0x88, 0x00, 0x8a, 0x50, 0x60, 0x00, 0x00, 0x00, 0x20, 0x01,
        0x0d, 0xb8, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x02, 0x01,
        0x02, 0x00, 0x00, 0x00, 0x00, 0x10,
    ];

    /// A Neighbor Advertisement the kernel sent: 2001:db8:0:2::10 answers 2001:db8:0:2::1 that
    /// it has 2001:db8:0:2::10, at MAC 02:00:00:00:00:20.
    pub const NEIGHBOR_ADVERT: &[u8] = &[
        0x02, 0x00, 0x00, 0x00, 0x00, 0x10, 0x02, 0x00, 0x00, 0x00, 0x00, 0x20, 0x86, 0xdd, 0x60, 0x00,
        0x00, 0x00, 0x00, 0x20, 0x3a, 0xff, 0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x10, 0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x88, 0x00, 0x8a, 0x31, 0x60, 0x00, 0x00, 0x00, 0x20, 0x01,
        0x0d, 0xb8, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10, 0x02, 0x01,
        0x02, 0x00, 0x00, 0x00, 0x00, 0x20,
    ];

    /// An MLDv2 report: IPv6, a hop-by-hop header (router alert, PadN), then ICMPv6.
    pub const MLD_REPORT: &[u8] = &[
        0x33, 0x33, 0x00, 0x00, 0x00, 0x16, 0x02, 0x00, 0x00, 0x00, 0x0a, 0x01, 0x86, 0xdd, 0x60, 0x00,
        0x00, 0x00, 0x00, 0x38, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xff, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x16, 0x3a, 0x00, 0x05, 0x02, 0x00, 0x00, 0x01, 0x00, 0x8f, 0x00,
        0x63, 0x6e, 0x00, 0x00, 0x00, 0x02, 0x04, 0x00, 0x00, 0x00, 0xff, 0x02, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0xff, 0x00, 0x0a, 0x01, 0x04, 0x00, 0x00, 0x00, 0xff, 0x02,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0xff, 0x00, 0x00, 0x01,
    ];

    /// The Linux kernel's VXLAN device (VNI 4242, UDP 4789) carrying an ARP request of its own.
    pub const VXLAN: &[u8] = &[
        0x02, 0x00, 0x00, 0x00, 0x0b, 0x01, 0x02, 0x00, 0x00, 0x00, 0x0a, 0x01, 0x08, 0x00, 0x45, 0x00,
        0x00, 0x4e, 0x4d, 0x74, 0x00, 0x00, 0x40, 0x11, 0x19, 0x17, 0x0a, 0x09, 0x00, 0x01, 0x0a, 0x09,
        0x00, 0x02, 0xa1, 0xa0, 0x12, 0xb5, 0x00, 0x3a, 0x14, 0x60, 0x08, 0x00, 0x00, 0x00, 0x00, 0x10,
        0x92, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0x00, 0x00, 0x00, 0x0c, 0x01, 0x08, 0x06,
        0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x01, 0x02, 0x00, 0x00, 0x00, 0x0c, 0x01, 0x0a, 0x4d,
        0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0a, 0x4d, 0x00, 0x02,
    ];

    /// Who has 10.9.0.2? Tell 10.9.0.1: a broadcast request, unpadded as captured on the sender's side.
    pub const ARP_REQUEST: &[u8] = &[
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0x00, 0x00, 0x00, 0x0a, 0x01, 0x08, 0x06, 0x00, 0x01,
        0x08, 0x00, 0x06, 0x04, 0x00, 0x01, 0x02, 0x00, 0x00, 0x00, 0x0a, 0x01, 0x0a, 0x09, 0x00, 0x01,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0a, 0x09, 0x00, 0x02,
    ];

    /// 10.9.0.2 is at 02:00:00:00:0b:01, the answer to [`ARP_REQUEST`].
    pub const ARP_REPLY: &[u8] = &[
        0x02, 0x00, 0x00, 0x00, 0x0a, 0x01, 0x02, 0x00, 0x00, 0x00, 0x0b, 0x01, 0x08, 0x06, 0x00, 0x01,
        0x08, 0x00, 0x06, 0x04, 0x00, 0x02, 0x02, 0x00, 0x00, 0x00, 0x0b, 0x01, 0x0a, 0x09, 0x00, 0x02,
        0x02, 0x00, 0x00, 0x00, 0x0a, 0x01, 0x0a, 0x09, 0x00, 0x01,
    ];
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tcp_frame_is_what_the_kernel_sends_but_the_options_and_the_checksums() {
        // The captured SYN without its TCP options, as the builder writes TCP: 20 bytes.
        let built = FrameBuilder::ipv4([10, 9, 0, 1], [10, 9, 0, 2])
            .macs([2, 0, 0, 0, 0x0b, 1], [2, 0, 0, 0, 0x0a, 1])
            .ident(0x749d)
            .flags_frag(ipv4::FLAG_DF)
            .tcp(53946, 8080)
            .build();
        assert_eq!(built.len(), 54);
        assert_eq!(&built[..16], &captured::TCP_SYN[..16]);
        assert_eq!(&built[18..24], &captured::TCP_SYN[18..24], "identification, flags, TTL, protocol");
        assert_eq!(&built[26..38], &captured::TCP_SYN[26..38], "addresses and ports");
        assert!(ipv4::Packet::new_checked(&built[14..]).unwrap().verify_checksum());
    }

    #[test]
    fn lengths_are_filled_in() {
        let f = FrameBuilder::ipv4([1, 1, 1, 1], [2, 2, 2, 2]).options(&[1, 1, 1, 0]).udp(1, 2).size(100).build();
        assert_eq!(f.len(), 100);
        let ip = ipv4::Packet::new_checked(&f[14..]).unwrap();
        assert_eq!((ip.header_len(), ip.total_len()), (24, 86));
        assert!(ip.verify_checksum());
        assert_eq!(udp::Packet::new_unchecked(&f[38..]).len(), 62);
        let v6 = FrameBuilder::ipv6([0; 16], [1; 16]).extension(ipv6::EXT_HOP_BY_HOP, &[1, 4, 0, 0, 0, 0]).icmp_echo(icmp::V6_ECHO_REQUEST, 7, 1).build();
        let ip = ipv6::Packet::new_checked(&v6[14..]).unwrap();
        assert_eq!((ip.next_header(), ip.payload_len()), (ipv6::EXT_HOP_BY_HOP, 16));
        assert_eq!(ipv6::upper_layer(ip.packet()).map(|u| (u.protocol, u.offset)), Ok((proto::ICMPV6, 48)));
    }

    #[test]
    fn header_len_is_where_the_payload_starts() {
        let b = FrameBuilder::ipv6([0; 16], [1; 16]).vlans(&[5]).extension(ipv6::EXT_DEST_OPTS, &[0; 14]).tcp(1, 2).payload(&[0xab]);
        let f = b.build();
        assert_eq!(b.header_len(), 18 + 40 + 16 + 20);
        assert_eq!(&f[b.header_len()..], &[0xab]);
        assert_eq!(FrameBuilder::raw(ethernet::TYPE_ARP, &[7; 28]).build()[14..], [7; 28]);
    }
}
