//! Parsing: from a frame's bytes to the fields classification and flow hashing need.
//!
//! Ethernet, up to two VLAN tags, IPv4 (options, fragments) or IPv6 (hop-by-hop, routing,
//! fragment and destination-options headers), then the TCP/UDP ports or the ICMP echo
//! identifier. Damaged frames are what an IDS most wants to see, so a frame is read on what is
//! intact (SPEC.md, rule 5 of the evaluation): once its IP header is complete, its addresses and
//! protocol classify it whatever its length fields say, and it has ports when the 4 port bytes
//! are in the frame. Only an IP header that is itself incomplete or invalid makes a frame
//! malformed: forwarded, never mirrored. Nothing here panics, whatever the bytes.

use crate::types::NotMirrored;
use crate::wire::{be16, be32, ethernet, icmp, ipv4, ipv6, proto, tcp, udp, Malformed};

/// Words of the classification key: one `u32` per field, in the order the classifier prefers
/// to split on them (see [`filter`](crate::filter)). Field 0 is the packet's "class": the
/// protocol and the ports-present flag in 9 bits. The destination address comes before the
/// source; an IPv4 address is one word, an IPv6 address four.
pub mod field {
    /// The class: protocol and the ports-present flag.
    pub const CLASS: usize = 0;
    /// Destination port (or ICMP echo identifier).
    pub const DPORT: usize = 1;
    /// Source port (or ICMP echo identifier).
    pub const SPORT: usize = 2;
    /// Where the destination address starts.
    pub const DST: usize = 3;
    /// Where the source address starts.
    pub const fn src(ipv6: bool) -> usize {
        if ipv6 { DST + 4 } else { DST + 1 }
    }
    /// Fields of an IPv4 key.
    pub const V4: usize = 5;
    /// Fields of an IPv6 key.
    pub const V6: usize = 11;
    /// Class bit: TCP or UDP ports were read.
    pub const CLASS_PORTS: u32 = 1 << 8;
}

/// Length of a key: room for IPv6, rounded to a power of two so that a field number masked
/// to 4 bits always indexes it (no bounds check in the lookup). IPv4 leaves the tail unused.
pub const KEY_LEN: usize = 16;

/// A parsed IP packet: the header fields classification and flow hashing read, stored as the
/// classification key itself, so parsing writes the key and nothing is copied between them.
/// Read it through the accessors; [`Fields`] spells it out.
#[derive(Clone, Copy, Default, PartialEq, Eq)]
pub struct Packet {
    /// The key words (see [`field`]). Words past the family's fields are unspecified.
    pub key: [u32; KEY_LEN],
    /// Offset of the IP header in the frame (14, 18 or 22).
    pub l3_offset: u16,
    /// IPv6 rather than IPv4.
    pub ipv6: bool,
    /// Any IP fragment, first or not.
    pub fragment: bool,
}

/// A [`Packet`]'s fields, spelled out: to build one by hand or to read it whole.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Fields {
    /// Offset of the IP header in the frame (14, 18 or 22).
    pub l3_offset: u16,
    /// IPv6 rather than IPv4.
    pub ipv6: bool,
    /// Source address: IPv4 in `src[0]`, IPv6 as four big-endian words.
    pub src: [u32; 4],
    /// Destination address, laid out as `src`.
    pub dst: [u32; 4],
    /// IANA protocol, after IPv6 extension headers.
    pub protocol: u8,
    /// TCP or UDP ports were read: the packet is not a non-first fragment.
    pub has_ports: bool,
    /// Any IP fragment, first or not.
    pub fragment: bool,
    /// TCP/UDP source port when `has_ports`; for ICMP echo, the echo identifier (flow hashing
    /// only: port rules never match ICMP).
    pub sport: u16,
    /// TCP/UDP destination port when `has_ports`; for ICMP echo, the echo identifier.
    pub dport: u16,
}

impl Packet {
    /// IANA protocol, after IPv6 extension headers.
    #[inline(always)]
    pub fn protocol(&self) -> u8 {
        self.key[field::CLASS] as u8
    }

    /// TCP or UDP ports were read: the packet is not a non-first fragment.
    #[inline(always)]
    pub fn has_ports(&self) -> bool {
        self.key[field::CLASS] & field::CLASS_PORTS != 0
    }

    /// TCP/UDP source port, or the ICMP echo identifier, or 0.
    #[inline(always)]
    pub fn sport(&self) -> u16 {
        self.key[field::SPORT] as u16
    }

    /// TCP/UDP destination port, or the ICMP echo identifier, or 0.
    #[inline(always)]
    pub fn dport(&self) -> u16 {
        self.key[field::DPORT] as u16
    }

    /// IPv4 source address (meaningful when `!ipv6`).
    #[inline(always)]
    pub fn src_v4(&self) -> u32 {
        self.key[field::src(false)]
    }

    /// IPv4 destination address (meaningful when `!ipv6`).
    #[inline(always)]
    pub fn dst_v4(&self) -> u32 {
        self.key[field::DST]
    }

    /// Source address: IPv4 in the first word, IPv6 as four big-endian words.
    #[inline(always)]
    pub fn src(&self) -> [u32; 4] {
        self.addr(field::src(self.ipv6))
    }

    /// Destination address, laid out as [`src`](Self::src).
    #[inline(always)]
    pub fn dst(&self) -> [u32; 4] {
        self.addr(field::DST)
    }

    #[inline(always)]
    fn addr(&self, at: usize) -> [u32; 4] {
        if self.ipv6 {
            [self.key[at], self.key[at + 1], self.key[at + 2], self.key[at + 3]]
        } else {
            [self.key[at], 0, 0, 0]
        }
    }

    /// All fields, spelled out.
    pub fn fields(&self) -> Fields {
        Fields {
            l3_offset: self.l3_offset,
            ipv6: self.ipv6,
            src: self.src(),
            dst: self.dst(),
            protocol: self.protocol(),
            has_ports: self.has_ports(),
            fragment: self.fragment,
            sport: self.sport(),
            dport: self.dport(),
        }
    }

    #[inline(always)]
    fn set_transport(&mut self, protocol: u8, has_ports: bool, sport: u16, dport: u16) {
        self.key[field::CLASS] = u32::from(protocol) | if has_ports { field::CLASS_PORTS } else { 0 };
        self.key[field::SPORT] = u32::from(sport);
        self.key[field::DPORT] = u32::from(dport);
    }
}

impl From<Fields> for Packet {
    fn from(f: Fields) -> Self {
        let mut p = Packet { l3_offset: f.l3_offset, ipv6: f.ipv6, fragment: f.fragment, ..Packet::default() };
        p.set_transport(f.protocol, f.has_ports, f.sport, f.dport);
        let words = if f.ipv6 { 4 } else { 1 };
        p.key[field::DST..field::DST + words].copy_from_slice(&f.dst[..words]);
        let src = field::src(f.ipv6);
        p.key[src..src + words].copy_from_slice(&f.src[..words]);
        p
    }
}

impl std::fmt::Debug for Packet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.fields().fmt(f)
    }
}

/// Parses one frame, or the first segment of a chained one (the headers are read where they
/// lie: in it). `Err` (not IP, or malformed) means: forward, do not mirror.
#[inline]
pub fn parse(frame: &[u8]) -> Result<Packet, NotMirrored> {
    let mut p = Packet::default();
    parse_into(frame, &mut p).map(|()| p)
}

/// [`parse`] into a packet the caller keeps (the fast path: nothing is moved). On `Err` the
/// packet holds partial fields.
#[inline(always)]
pub fn parse_into(frame: &[u8], p: &mut Packet) -> Result<(), NotMirrored> {
    if parse_plain_ipv4(frame, p) {
        return Ok(());
    }
    parse_general(frame, p)
}

/// An IP header cut short or invalid makes the frame malformed.
impl From<Malformed> for NotMirrored {
    fn from(_: Malformed) -> Self {
        NotMirrored::Malformed
    }
}

/// VLAN tags walked to find IP: a frame with more is not IP, as SPEC.md says.
const MAX_TAGS: usize = 2;

/// Every frame [`parse_plain_ipv4`] leaves: VLAN tags, IPv4 options, fragments, other
/// protocols, IPv6, and everything malformed.
#[inline(always)]
fn parse_general(frame: &[u8], p: &mut Packet) -> Result<(), NotMirrored> {
    let l2 = ethernet::untag(frame, MAX_TAGS)?;
    match l2.ethertype {
        ethernet::TYPE_IPV4 => parse_ipv4(frame, l2.offset, p),
        ethernet::TYPE_IPV6 => parse_ipv6(frame, l2.offset, p),
        _ => Err(NotMirrored::NotIp),
    }
}

/// Bytes [`parse_plain_ipv4`] reads: Ethernet, an IPv4 header without options and the 4
/// bytes of TCP or UDP ports.
const PLAIN_LEN: usize = ethernet::HEADER_LEN + ipv4::HEADER_LEN + tcp::PORTS_LEN;

/// Untagged IPv4 without options, TCP or UDP, not a fragment: most traffic, read at fixed
/// offsets with the general path's checks, combined without a branch each. No length is
/// compared: what the header's total length says never changes how a frame is read.
/// False leaves the frame to the general path, which also decides what is malformed.
#[inline(always)]
fn parse_plain_ipv4(frame: &[u8], p: &mut Packet) -> bool {
    const IP: usize = ethernet::HEADER_LEN;
    const L4: usize = IP + ipv4::HEADER_LEN;
    let Some(h) = frame.first_chunk::<PLAIN_LEN>() else { return false };
    let ip = ipv4::Packet::new_unchecked(&h[IP..L4]);
    // The ports are the first 4 bytes of a TCP header as of a UDP one.
    let l4 = udp::Packet::new_unchecked(&h[L4..]);
    let protocol = ip.protocol();
    // Ethertype, version and header length in one word (the DSCP/ECN byte masked off).
    let head = be32(h, ethernet::field::ETHERTYPE.start) & 0xffff_ff00;
    let plain = (head == u32::from(ethernet::TYPE_IPV4) << 16 | 0x45 << 8)
        & (ip.flags_frag() & (ipv4::FLAG_MF | ipv4::FRAG_OFFSET_MASK) == 0)
        & ((protocol == proto::UDP) | (protocol == proto::TCP));
    if !plain {
        return false;
    }
    p.l3_offset = IP as u16;
    p.ipv6 = false;
    p.fragment = false;
    p.key[field::DST] = ip.dst_addr();
    p.key[field::src(false)] = ip.src_addr();
    p.set_transport(protocol, true, l4.src_port(), l4.dst_port());
    true
}

/// IPv4: malformed only when the header itself is (version, header length, its bytes); the
/// total length is never compared with the frame (rule 5).
#[inline(always)]
fn parse_ipv4(frame: &[u8], l3: usize, p: &mut Packet) -> Result<(), NotMirrored> {
    // The whole header, its options included, lies in the first segment.
    let ip = ipv4::Packet::new_checked(frame.get(l3..).ok_or(Malformed)?)?;
    p.l3_offset = l3 as u16;
    p.ipv6 = false;
    p.fragment = ip.frag_offset() != 0 || ip.more_frags();
    p.key[field::DST] = ip.dst_addr();
    p.key[field::src(false)] = ip.src_addr();
    if ip.frag_offset() != 0 {
        p.set_transport(ip.protocol(), false, 0, 0);
        return Ok(());
    }
    read_transport(p, ip.protocol(), ip.after_header())
}

/// IPv6: malformed only when the fixed header or an extension header before the upper-layer
/// protocol is missing from the frame (or the chain is longer than walked); the payload
/// length is never compared with the frame (rule 5).
fn parse_ipv6(frame: &[u8], l3: usize, p: &mut Packet) -> Result<(), NotMirrored> {
    let bytes = frame.get(l3..).ok_or(Malformed)?;
    let ip = ipv6::Packet::new_checked(bytes)?;
    p.l3_offset = l3 as u16;
    p.ipv6 = true;
    p.key[field::DST..field::DST + 4].copy_from_slice(&ip.dst_addr());
    p.key[field::src(true)..field::src(true) + 4].copy_from_slice(&ip.src_addr());
    let upper = ipv6::upper_layer(bytes)?;
    p.fragment = upper.fragment;
    if !upper.first_fragment {
        p.set_transport(upper.protocol, false, 0, 0);
        return Ok(());
    }
    read_transport(p, upper.protocol, &bytes[upper.offset..])
}

/// The protocols with ports (TCP, UDP), as a bit set over protocol numbers.
const WITH_PORTS: u64 = 1 << proto::TCP | 1 << proto::UDP;

/// Reads ports (TCP, UDP) or the echo identifier (ICMP echo) from what the frame holds of the
/// transport header, `l4`. A TCP or UDP header cut before the end of its ports leaves the
/// packet without ports: no port rule matches it, as for a later fragment.
#[inline(always)]
fn read_transport(p: &mut Packet, protocol: u8, l4: &[u8]) -> Result<(), NotMirrored> {
    // TCP and UDP share one path, chosen by one bit test: a comparison per protocol (which the
    // compiler also makes of a lookup table) branches on the traffic's mix and mispredicts.
    if WITH_PORTS.checked_shr(u32::from(protocol)).unwrap_or(0) & 1 != 0 {
        match l4.first_chunk::<{ tcp::PORTS_LEN }>() {
            Some(ports) => {
                let ports = udp::Packet::new_unchecked(ports);
                p.set_transport(protocol, true, ports.src_port(), ports.dst_port());
            }
            None => p.set_transport(protocol, false, 0, 0),
        }
        return Ok(());
    }
    match protocol {
        proto::ICMP | proto::ICMPV6 if l4.len() >= icmp::ECHO_HEADER_LEN => {
            let echo = match l4[icmp::field::TYPE] {
                icmp::V4_ECHO_REQUEST | icmp::V4_ECHO_REPLY => protocol == proto::ICMP,
                icmp::V6_ECHO_REQUEST | icmp::V6_ECHO_REPLY => protocol == proto::ICMPV6,
                _ => false,
            };
            let id = if echo { be16(l4, icmp::field::ECHO_IDENT.start) } else { 0 };
            p.set_transport(protocol, false, id, id);
        }
        _ => p.set_transport(protocol, false, 0, 0),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::testing::{captured, FrameBuilder};

    const A6: [u8; 16] = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
    const B6: [u8; 16] = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];

    fn v4(src: [u8; 4], dst: [u8; 4]) -> FrameBuilder {
        FrameBuilder::ipv4(src, dst)
    }

    /// The fixed-offset path and the general one agree on every frame the first takes, and
    /// it takes the plain ones: mutations of a plain TCP and a plain UDP frame in every byte
    /// the two read (and in the total length), cut at every length.
    #[test]
    fn plain_ipv4_path_agrees_with_the_general_one() {
        let mut taken = 0;
        for base in [
            v4([10, 0, 0, 5], [10, 0, 0, 9]).flags_frag(ipv4::FLAG_DF).tcp(40000, 443).build(),
            v4([10, 0, 0, 5], [10, 0, 0, 9]).udp(5353, 53).build(),
        ] {
            let mut frames = vec![base.clone()];
            for at in 12..PLAIN_LEN + 4 {
                for v in [0x00, 0x01, 0x06, 0x08, 0x11, 0x14, 0x1c, 0x20, 0x3f, 0x40, 0x45, 0x46, 0x55, 0x81, 0xff] {
                    let mut f = base.clone();
                    f[at] = v;
                    frames.push(f);
                }
            }
            for f in frames {
                for cut in 0..=f.len() {
                    let (mut fast, mut general) = (Packet::default(), Packet::default());
                    if parse_plain_ipv4(&f[..cut], &mut fast) {
                        taken += 1;
                        assert_eq!(parse_general(&f[..cut], &mut general), Ok(()), "{f:02x?} cut at {cut}");
                        assert_eq!(fast, general, "{f:02x?} cut at {cut}");
                    }
                }
            }
            let mut p = Packet::default();
            assert!(parse_plain_ipv4(&base, &mut p), "a plain frame takes the fixed-offset path");
        }
        assert!(taken > 1000, "only {taken} frames took the fixed-offset path");
    }

    #[test]
    fn ipv4_tcp() {
        let f = v4([10, 0, 0, 5], [10, 0, 0, 9]).tcp(40000, 443).build();
        let p = parse(&f).unwrap();
        assert_eq!(p.l3_offset, 14);
        assert!(!p.ipv6);
        assert_eq!(p.src_v4(), 0x0a000005);
        assert_eq!(p.dst_v4(), 0x0a000009);
        assert_eq!((p.protocol(), p.sport(), p.dport(), p.has_ports(), p.fragment), (6, 40000, 443, true, false));
    }

    #[test]
    fn ipv4_options_are_skipped() {
        let opts = [1, 1, 1, 1, 1, 1, 1, 0];
        let f = v4([1, 2, 3, 4], [5, 6, 7, 8]).options(&opts).udp(53, 5353).build();
        let p = parse(&f).unwrap();
        assert_eq!((p.sport(), p.dport()), (53, 5353));
    }

    #[test]
    fn two_vlan_tags_then_ip() {
        let f = v4([1, 2, 3, 4], [5, 6, 7, 8]).vlans(&[100, 200]).tcp(1, 2).build();
        assert_eq!(parse(&f).unwrap().l3_offset, 22);
    }

    #[test]
    fn three_vlan_tags_are_not_ip() {
        let f = v4([1, 2, 3, 4], [5, 6, 7, 8]).vlans(&[1, 2, 3]).tcp(1, 2).build();
        assert_eq!(parse(&f), Err(NotMirrored::NotIp));
    }

    #[test]
    fn arp_is_not_ip() {
        assert_eq!(parse(&FrameBuilder::raw(ethernet::TYPE_ARP, &[0; 28]).build()), Err(NotMirrored::NotIp));
    }

    #[test]
    fn fragments() {
        let first = v4([1, 1, 1, 1], [2, 2, 2, 2]).flags_frag(ipv4::FLAG_MF).tcp(7, 8).build();
        let p = parse(&first).unwrap();
        assert!(p.fragment && p.has_ports() && p.dport() == 8);
        let later = v4([1, 1, 1, 1], [2, 2, 2, 2]).flags_frag(185).protocol(proto::TCP).payload(&[0xff; 16]).build();
        let p = parse(&later).unwrap();
        assert!(p.fragment && !p.has_ports());
        assert_eq!((p.protocol(), p.sport(), p.dport()), (6, 0, 0));
    }

    #[test]
    fn only_a_broken_ip_header_makes_a_frame_malformed() {
        let good = v4([1, 1, 1, 1], [2, 2, 2, 2]).udp(1, 2).payload(&[0; 12]).build();
        for cut in 0..14 + ipv4::HEADER_LEN {
            assert!(parse(&good[..cut]).is_err(), "the IP header cut at {cut}");
        }
        let mut bad_ihl = good.clone();
        bad_ihl[14] = 0x44;
        assert_eq!(parse(&bad_ihl), Err(NotMirrored::Malformed));
        let mut bad_version = good.clone();
        bad_version[14] = 0x55;
        assert_eq!(parse(&bad_version), Err(NotMirrored::Malformed));
        let mut options_cut = good.clone();
        options_cut[14] = 0x46;
        assert_eq!(parse(&options_cut[..37]), Err(NotMirrored::Malformed), "IHL says 24 bytes, 23 are there");
        let mut padded = good.clone();
        padded.extend_from_slice(&[0; 10]);
        assert_eq!(parse(&padded), parse(&good), "Ethernet padding after the packet changes nothing");
    }

    #[test]
    fn a_damaged_packet_is_read_on_what_is_intact() {
        let good = v4([1, 1, 1, 1], [2, 2, 2, 2]).tcp(40000, 443).build();
        let whole = parse(&good).unwrap();
        // The total length beyond the frame, below the header, or zero (a TSO capture's).
        for total in [9999u16, 4000, 41, 19, 0] {
            let mut f = good.clone();
            f[16..18].copy_from_slice(&total.to_be_bytes());
            assert_eq!(parse(&f), Ok(whole), "total length {total}");
        }
        // Cut anywhere after the ports: still the same flow.
        for cut in 14 + 20 + 4..good.len() {
            assert_eq!(parse(&good[..cut]), Ok(whole), "cut at {cut}");
        }
        // Cut inside the ports: addresses and protocol, no ports.
        for cut in 14 + 20..14 + 20 + 4 {
            let p = parse(&good[..cut]).unwrap();
            assert_eq!((p.src_v4(), p.dst_v4(), p.protocol(), p.has_ports(), p.sport(), p.dport()), (0x0101_0101, 0x0202_0202, 6, false, 0, 0), "cut at {cut}");
        }
        // A UDP header needs only its ports too.
        let udp = v4([1, 1, 1, 1], [2, 2, 2, 2]).udp(5353, 53).build();
        let p = parse(&udp[..14 + 20 + 4]).unwrap();
        assert_eq!((p.protocol(), p.has_ports(), p.sport(), p.dport()), (17, true, 5353, 53));
        // A later fragment never has ports, however many bytes follow.
        let later = v4([1, 1, 1, 1], [2, 2, 2, 2]).flags_frag(185).protocol(proto::TCP).payload(&[0xff; 16]).build();
        assert!(!parse(&later[..14 + 20 + 2]).unwrap().has_ports());
    }

    #[test]
    fn a_damaged_ipv6_packet_is_read_on_what_is_intact() {
        let good = FrameBuilder::ipv6(A6, B6).extension(ipv6::EXT_HOP_BY_HOP, &[1, 4, 0, 0, 0, 0]).udp(5000, 53).build();
        let whole = parse(&good).unwrap();
        for payload_len in [0u16, 7, 9000] {
            let mut f = good.clone();
            f[18..20].copy_from_slice(&payload_len.to_be_bytes());
            assert_eq!(parse(&f), Ok(whole), "payload length {payload_len}");
        }
        let upper = 14 + 40 + 8;
        for cut in 14..upper {
            assert_eq!(parse(&good[..cut]), Err(NotMirrored::Malformed), "an extension header cut at {cut}");
        }
        for cut in upper..upper + 4 {
            let p = parse(&good[..cut]).unwrap();
            assert_eq!((p.ipv6, p.src(), p.protocol(), p.has_ports()), (true, [0x20010db8, 0, 0, 1], 17, false), "cut at {cut}");
        }
        assert_eq!(parse(&good[..upper + 4]), Ok(whole));
    }

    #[test]
    fn a_first_segment_that_ends_inside_the_ipv4_options_is_malformed() {
        // The headers must lie in the first segment; one that ends inside the options used to
        // slice past its end (a panic) for every packet but a later fragment.
        let options = [1u8; 40];
        for flags_frag in [0, ipv4::FLAG_MF, 185] {
            let f = FrameBuilder::ipv4([1, 1, 1, 1], [2, 2, 2, 2]).options(&options).flags_frag(flags_frag).tcp(1, 2).build();
            assert!(parse(&f).is_ok());
            for cut in 34..74 {
                assert_eq!(parse(&f[..cut]), Err(NotMirrored::Malformed), "flags {flags_frag:#x}, cut at {cut}");
            }
        }
    }

    #[test]
    fn ipv6_udp_behind_extension_headers() {
        // hop-by-hop (8 bytes) -> destination options (16 bytes) -> UDP
        let f = FrameBuilder::ipv6(A6, B6)
            .extension(ipv6::EXT_HOP_BY_HOP, &[1, 4, 0, 0, 0, 0])
            .extension(ipv6::EXT_DEST_OPTS, &[1, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0])
            .udp(5000, 53)
            .build();
        let p = parse(&f).unwrap();
        assert!(p.ipv6);
        assert_eq!(p.src(), [0x20010db8, 0, 0, 1]);
        assert_eq!((p.protocol(), p.sport(), p.dport()), (17, 5000, 53));
    }

    #[test]
    fn ipv6_fragments() {
        // Offset 0 with M set, identification 42.
        let f = FrameBuilder::ipv6(A6, B6).extension(ipv6::EXT_FRAGMENT, &[0, 1, 0, 0, 0, 42]).tcp(1, 22).build();
        let p = parse(&f).unwrap();
        assert!(p.fragment && p.has_ports() && p.protocol() == 6 && p.dport() == 22);
        let later = FrameBuilder::ipv6(A6, B6).extension(ipv6::EXT_FRAGMENT, &[0x05, 0x00, 0, 0, 0, 42]);
        let f = later.protocol(proto::TCP).payload(&[0xee; 16]).build();
        let p = parse(&f).unwrap();
        assert!(p.fragment && !p.has_ports() && p.protocol() == 6);
    }

    #[test]
    fn ipv6_extension_loop_is_bounded() {
        // 21 destination-options headers, the last one pointing at another.
        let chain = (0..20).fold(FrameBuilder::ipv6(A6, B6), |b, _| b.extension(ipv6::EXT_DEST_OPTS, &[0; 6]));
        let f = chain.protocol(ipv6::EXT_DEST_OPTS).build();
        assert_eq!(parse(&f), Err(NotMirrored::Malformed));
    }

    #[test]
    fn icmp_echo_identifier_feeds_both_ports() {
        let f = v4([1, 1, 1, 1], [2, 2, 2, 2]).icmp_echo(icmp::V4_ECHO_REQUEST, 0x1234, 1).build();
        let p = parse(&f).unwrap();
        assert_eq!((p.sport(), p.dport(), p.has_ports()), (0x1234, 0x1234, false));
        let unreachable = [3, 1, 0, 0, 0x12, 0x34, 0, 1];
        let f = v4([1, 1, 1, 1], [2, 2, 2, 2]).protocol(proto::ICMP).payload(&unreachable).build();
        assert_eq!(parse(&f).unwrap().sport(), 0);
    }

    /// Frames of every kind the parser tells apart, then damaged: a length field set to
    /// anything, a byte of the headers changed, cut anywhere.
    fn arb_damaged_frame() -> impl proptest::strategy::Strategy<Value = Vec<u8>> {
        use proptest::prelude::*;
        let kinds = (0u8..12, any::<u16>(), any::<u16>(), 0usize..3, 60usize..200).prop_map(|(kind, a, b, tags, size)| {
            let tags = &[100u16, 200][..tags.min(2)];
            let v4 = || v4([10, 0, 0, 5], [198, 51, 100, 1]).vlans(tags);
            let v6 = || FrameBuilder::ipv6(A6, B6).vlans(tags);
            match kind {
                0 => v4().tcp(a, b).size(size).build(),
                1 => v4().udp(a, b).size(size).build(),
                2 => v4().options(&[1, 1, 1, 0]).tcp(a, b).size(size).build(),
                3 => v4().flags_frag(ipv4::FLAG_MF).udp(a, b).size(size).build(),
                4 => v4().flags_frag(185).protocol(proto::TCP).payload(&[0xee; 24]).build(),
                5 => v4().icmp_echo(icmp::V4_ECHO_REQUEST, a, b).size(size).build(),
                6 => v6().tcp(a, b).size(size.max(80)).build(),
                7 => v6().extension(ipv6::EXT_HOP_BY_HOP, &[1, 4, 0, 0, 0, 0]).udp(a, b).size(size.max(90)).build(),
                8 => v6().extension(ipv6::EXT_FRAGMENT, &[0, 1, 0, 0, 0, 42]).tcp(a, b).size(size.max(90)).build(),
                9 => v6().extension(ipv6::EXT_FRAGMENT, &[0x05, 0x00, 0, 0, 0, 42]).protocol(proto::UDP).payload(&[0xee; 16]).build(),
                10 => v6().icmp_echo(icmp::V6_ECHO_REQUEST, a, b).size(size.max(80)).build(),
                _ => FrameBuilder::raw(ethernet::TYPE_ARP, &[0; 28]).build(),
            }
        });
        (kinds, any::<u16>(), 0usize..80, any::<u8>(), any::<bool>(), 0usize..200, 0u8..4).prop_map(|(mut f, len, at, byte, poke, cut, length_field)| {
            let l3 = ethernet::untag(&f, MAX_TAGS).map_or(14, |u| u.offset);
            // The IPv4 total length, or the IPv6 payload length, set to anything.
            let field = if f.get(l3).is_some_and(|b| b >> 4 == 6) { l3 + 4 } else { l3 + 2 };
            if length_field > 0 && f.len() >= field + 2 {
                f[field..field + 2].copy_from_slice(&len.to_be_bytes());
            }
            if poke && at < f.len() {
                f[at] = byte;
            }
            f.truncate(cut.max(1));
            f
        })
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig { cases: 4096, ..Default::default() })]
        /// SPEC.md's rule 5, as the reference reads it byte by byte, is what the parser
        /// answers, on damaged frames above all.
        #[test]
        fn damaged_frames_are_classified_as_the_reference_reads_them(f in arb_damaged_frame()) {
            proptest::prop_assert_eq!(parse(&f).map(|p| p.fields()), crate::filter::reference_fields(&f), "{:02x?}", f);
        }
    }

    #[test]
    fn captured_frames_parse_as_what_they_are() {
        let syn = parse(captured::TCP_SYN).unwrap();
        assert_eq!((syn.src_v4(), syn.dst_v4(), syn.protocol(), syn.sport(), syn.dport()), (0x0a09_0001, 0x0a09_0002, proto::TCP, 53946, 8080));
        let dns = parse(captured::UDP_DNS).unwrap();
        assert_eq!((dns.protocol(), dns.dport(), dns.has_ports()), (proto::UDP, 53, true));
        let ping = parse(captured::ICMP_ECHO_REQUEST).unwrap();
        assert_eq!((ping.protocol(), ping.sport(), ping.has_ports()), (proto::ICMP, 21828, false));
        let ping6 = parse(captured::ICMPV6_ECHO_REQUEST).unwrap();
        assert_eq!((ping6.ipv6, ping6.src(), ping6.protocol(), ping6.sport()), (true, [0xfd10_0009, 0, 0, 1], proto::ICMPV6, 21829));
        let mld = parse(captured::MLD_REPORT).unwrap();
        assert_eq!((mld.ipv6, mld.protocol(), mld.dst()), (true, proto::ICMPV6, [0xff02_0000, 0, 0, 0x16]), "behind its hop-by-hop header");
        let copy = parse(captured::VXLAN).unwrap();
        assert_eq!((copy.protocol(), copy.dport()), (proto::UDP, crate::wire::vxlan::PORT));
        assert_eq!(parse(captured::ARP_REQUEST), Err(NotMirrored::NotIp));
        // The fixed-offset path takes the plain ones, and reads them as the general path does.
        for f in [captured::TCP_SYN, captured::UDP_DNS, captured::VXLAN] {
            let (mut fast, mut general) = (Packet::default(), Packet::default());
            assert!(parse_plain_ipv4(f, &mut fast));
            assert_eq!(parse_general(f, &mut general), Ok(()));
            assert_eq!(fast, general);
        }
    }
}
