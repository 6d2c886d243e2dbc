//! IPv6 (RFC 8200) headers, and the walk past the extension headers SPEC.md names (hop-by-hop,
//! routing, fragment, destination options) to the upper-layer protocol.

use super::{be16, be32, ones_sum, put_be16, Malformed};
use std::net::Ipv6Addr;

/// Field ranges, from the header's first byte.
pub mod field {
    use crate::wire::Field;

    /// Version, traffic class and flow label.
    pub const VER_TC_FLOW: Field = 0..4;
    /// Bytes after the fixed header.
    pub const PAYLOAD_LEN: Field = 4..6;
    /// The header after the fixed one.
    pub const NEXT_HEADER: usize = 6;
    /// Hops left.
    pub const HOP_LIMIT: usize = 7;
    /// Source address.
    pub const SRC: Field = 8..24;
    /// Destination address.
    pub const DST: Field = 24..40;
    /// In an extension header: the header after it...
    pub const EXT_NEXT_HEADER: usize = 0;
    /// ...and its length in 8-byte units after the first 8 (not in the fragment header).
    pub const EXT_LEN: usize = 1;
    /// In the fragment header: the offset (8-byte units, high 13 bits) and the M flag.
    pub const FRAG_OFFSET_FLAGS: Field = 2..4;
}

/// The fixed header.
pub const HEADER_LEN: usize = 40;

/// Hop-by-hop options.
pub const EXT_HOP_BY_HOP: u8 = 0;
/// Routing.
pub const EXT_ROUTING: u8 = 43;
/// Fragment.
pub const EXT_FRAGMENT: u8 = 44;
/// Destination options.
pub const EXT_DEST_OPTS: u8 = 60;
/// Fragment header: next header, reserved, offset and flags (2), identification (4).
pub const FRAG_HEADER_LEN: usize = 8;
/// The offset's bits of [`field::FRAG_OFFSET_FLAGS`].
pub const FRAG_OFFSET_MASK: u16 = 0xfff8;

/// Most extension headers walked before giving up: a real packet has a handful, a crafted one
/// must not make the worker loop.
pub const MAX_EXT_HEADERS: usize = 8;

/// An address as four big-endian words, first word first.
#[inline(always)]
fn words(b: &[u8], at: usize) -> [u32; 4] {
    [be32(b, at), be32(b, at + 4), be32(b, at + 8), be32(b, at + 12)]
}

/// A view of an IPv6 packet (fixed header first).
#[derive(Clone, Copy, Debug)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// A view without checks: the accessors panic on fewer than [`HEADER_LEN`] bytes.
    #[inline(always)]
    pub const fn new_unchecked(buffer: T) -> Self {
        Packet { buffer }
    }

    /// A view of a buffer that holds the fixed header, version 6. The payload length is not
    /// checked: a packet may be cut short, or followed by padding.
    #[inline]
    pub fn new_checked(buffer: T) -> Result<Self, Malformed> {
        let p = Packet { buffer };
        if p.buffer.as_ref().len() < HEADER_LEN || p.version() != 6 {
            return Err(Malformed);
        }
        Ok(p)
    }

    /// Bytes in the buffer, whatever the header says.
    #[inline(always)]
    pub fn buffer_len(&self) -> usize {
        self.buffer.as_ref().len()
    }

    #[inline(always)]
    /// 6 for IPv6.
    pub fn version(&self) -> u8 {
        self.buffer.as_ref()[field::VER_TC_FLOW.start] >> 4
    }

    /// Bytes after the fixed header, extension headers included, as the header says.
    #[inline(always)]
    pub fn payload_len(&self) -> usize {
        usize::from(be16(self.buffer.as_ref(), field::PAYLOAD_LEN.start))
    }

    /// The header after the fixed one: an extension header or the upper-layer protocol.
    #[inline(always)]
    pub fn next_header(&self) -> u8 {
        self.buffer.as_ref()[field::NEXT_HEADER]
    }

    #[inline(always)]
    /// Hops left.
    pub fn hop_limit(&self) -> u8 {
        self.buffer.as_ref()[field::HOP_LIMIT]
    }

    /// The source address as four big-endian words (fd00:ec2::254 is [0xfd000ec2, 0, 0, 0x254]).
    #[inline(always)]
    pub fn src_addr(&self) -> [u32; 4] {
        words(self.buffer.as_ref(), field::SRC.start)
    }

    /// The destination address, as [`src_addr`](Self::src_addr).
    #[inline(always)]
    pub fn dst_addr(&self) -> [u32; 4] {
        words(self.buffer.as_ref(), field::DST.start)
    }

    /// The packet's bytes present: to the end of its payload, or of the buffer when shorter.
    #[inline(always)]
    pub fn packet(&self) -> &[u8] {
        let b = self.buffer.as_ref();
        &b[..(HEADER_LEN + self.payload_len()).min(b.len())]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    /// Sets version 6, traffic class and flow label 0.
    #[inline(always)]
    pub fn set_version(&mut self) {
        self.buffer.as_mut()[field::VER_TC_FLOW].copy_from_slice(&[0x60, 0, 0, 0]);
    }

    #[inline(always)]
    /// Sets the payload length (extension headers included).
    pub fn set_payload_len(&mut self, len: u16) {
        put_be16(self.buffer.as_mut(), field::PAYLOAD_LEN.start, len);
    }

    #[inline(always)]
    /// Sets the header after the fixed one.
    pub fn set_next_header(&mut self, next: u8) {
        self.buffer.as_mut()[field::NEXT_HEADER] = next;
    }

    #[inline(always)]
    /// Sets the hop limit.
    pub fn set_hop_limit(&mut self, hops: u8) {
        self.buffer.as_mut()[field::HOP_LIMIT] = hops;
    }

    #[inline(always)]
    /// Sets the source address.
    pub fn set_src_addr(&mut self, a: [u8; 16]) {
        self.buffer.as_mut()[field::SRC].copy_from_slice(&a);
    }

    #[inline(always)]
    /// Sets the destination address.
    pub fn set_dst_addr(&mut self, a: [u8; 16]) {
        self.buffer.as_mut()[field::DST].copy_from_slice(&a);
    }
}

/// A fixed header, to write or as read (traffic class and flow label 0).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Repr {
    /// Source address.
    pub src: Ipv6Addr,
    /// Destination address.
    pub dst: Ipv6Addr,
    /// The header after the fixed one.
    pub next_header: u8,
    /// Hops left.
    pub hop_limit: u8,
    /// Bytes after the fixed header, extension headers included.
    pub payload_len: usize,
}

impl Repr {
    /// Reads a checked packet's fixed header.
    pub fn parse<T: AsRef<[u8]>>(p: &Packet<T>) -> Repr {
        let addr = |f: super::Field| Ipv6Addr::from(<[u8; 16]>::try_from(&p.buffer.as_ref()[f]).expect("16 bytes"));
        Repr { src: addr(field::SRC), dst: addr(field::DST), next_header: p.next_header(), hop_limit: p.hop_limit(), payload_len: p.payload_len() }
    }

    /// Writes the fixed header at the front of `buf` ([`HEADER_LEN`] bytes).
    pub fn emit(&self, buf: &mut [u8]) {
        let mut p = Packet::new_unchecked(&mut buf[..HEADER_LEN]);
        p.set_version();
        p.set_payload_len(self.payload_len as u16);
        p.set_next_header(self.next_header);
        p.set_hop_limit(self.hop_limit);
        p.set_src_addr(self.src.octets());
        p.set_dst_addr(self.dst.octets());
    }
}

/// The part of an upper-layer checksum (UDP, ICMPv6) that the pseudo-header contributes
/// (RFC 8200 section 8.1): both addresses, the upper-layer packet's length and its protocol.
/// Unfolded, as [`ones_sum`] leaves a sum.
pub fn pseudo_header_sum(src: &[u8; 16], dst: &[u8; 16], upper_len: u32, next_header: u8) -> u32 {
    ones_sum(src) + ones_sum(dst) + (upper_len >> 16) + (upper_len & 0xffff) + u32::from(next_header)
}

/// Where the extension headers end.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Upper {
    /// The upper-layer protocol (IANA number).
    pub protocol: u8,
    /// Where its header starts, from the fixed header's first byte.
    pub offset: usize,
    /// A fragment header was seen.
    pub fragment: bool,
    /// The packet is not a later fragment (no fragment header has an offset): the
    /// upper-layer header is here.
    pub first_fragment: bool,
}

/// Walks `packet`'s extension headers (at most [`MAX_EXT_HEADERS`]) from the fixed header's
/// next header to the upper-layer protocol. `packet` is the bytes present, fixed header first
/// (the frame's, whatever the payload length says). `Err` when a header runs past them, or
/// the chain does not end within the limit.
#[inline]
pub fn upper_layer(packet: &[u8]) -> Result<Upper, Malformed> {
    let ip = packet;
    if ip.len() < HEADER_LEN {
        return Err(Malformed);
    }
    let mut u = Upper { protocol: ip[field::NEXT_HEADER], offset: HEADER_LEN, fragment: false, first_fragment: true };
    for _ in 0..MAX_EXT_HEADERS {
        match u.protocol {
            EXT_HOP_BY_HOP | EXT_ROUTING | EXT_DEST_OPTS => {
                if ip.len() < u.offset + 2 {
                    return Err(Malformed);
                }
                u.protocol = ip[u.offset + field::EXT_NEXT_HEADER];
                u.offset += (usize::from(ip[u.offset + field::EXT_LEN]) + 1) * 8;
            }
            EXT_FRAGMENT => {
                if ip.len() < u.offset + FRAG_HEADER_LEN {
                    return Err(Malformed);
                }
                let offset_flags = be16(ip, u.offset + field::FRAG_OFFSET_FLAGS.start);
                u.fragment = true;
                u.first_fragment &= offset_flags & FRAG_OFFSET_MASK == 0;
                u.protocol = ip[u.offset + field::EXT_NEXT_HEADER];
                u.offset += FRAG_HEADER_LEN;
            }
            _ => break,
        }
        if u.offset > ip.len() {
            return Err(Malformed);
        }
    }
    if matches!(u.protocol, EXT_HOP_BY_HOP | EXT_ROUTING | EXT_DEST_OPTS | EXT_FRAGMENT) {
        return Err(Malformed);
    }
    Ok(u)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::testing::{captured, FrameBuilder};
    use crate::wire::{ethernet, proto};

    fn ip(frame: &[u8]) -> Packet<&[u8]> {
        Packet::new_checked(&frame[ethernet::HEADER_LEN..]).unwrap()
    }

    #[test]
    fn reads_a_captured_echo_request() {
        let p = ip(captured::ICMPV6_ECHO_REQUEST);
        assert_eq!((p.version(), p.payload_len(), p.next_header(), p.hop_limit()), (6, 64, proto::ICMPV6, 64));
        assert_eq!(p.src_addr(), [0xfd10_0009, 0, 0, 1]);
        assert_eq!(p.dst_addr(), [0xfd10_0009, 0, 0, 2]);
        assert_eq!(upper_layer(p.packet()), Ok(Upper { protocol: proto::ICMPV6, offset: 40, fragment: false, first_fragment: true }));
    }

    #[test]
    fn writes_the_captured_echo_requests_header_back() {
        let p = ip(captured::ICMPV6_ECHO_REQUEST);
        let r = Repr::parse(&p);
        assert_eq!(r, Repr { src: "fd10:9::1".parse().unwrap(), dst: "fd10:9::2".parse().unwrap(), next_header: proto::ICMPV6, hop_limit: 64, payload_len: 64 });
        let mut h = [0xff; HEADER_LEN];
        r.emit(&mut h);
        let captured = &captured::ICMPV6_ECHO_REQUEST[ethernet::HEADER_LEN..ethernet::HEADER_LEN + HEADER_LEN];
        assert_eq!(&h[4..], &captured[4..], "lengths, next header, hop limit, addresses");
        assert_eq!((&h[..4], &captured[..4]), (&[0x60, 0, 0, 0][..], &[0x60, 1, 0x1d, 0xb8][..]), "no flow label of our own");
    }

    #[test]
    fn walks_a_captured_hop_by_hop_header() {
        // An MLDv2 report: hop-by-hop (router alert) then ICMPv6.
        let p = ip(captured::MLD_REPORT);
        assert_eq!(p.next_header(), EXT_HOP_BY_HOP);
        assert_eq!(upper_layer(p.packet()), Ok(Upper { protocol: proto::ICMPV6, offset: 48, fragment: false, first_fragment: true }));
    }

    #[test]
    fn fragments_say_whether_the_upper_header_is_here() {
        let src = [0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
        let first = FrameBuilder::ipv6(src, src).extension(EXT_FRAGMENT, &[0, 1, 0, 0, 0, 42]).tcp(1, 22).build();
        let u = upper_layer(ip(&first).packet()).unwrap();
        assert_eq!((u.protocol, u.offset, u.fragment, u.first_fragment), (proto::TCP, 48, true, true));
        let later = FrameBuilder::ipv6(src, src).extension(EXT_FRAGMENT, &[0x05, 0x00, 0, 0, 0, 42]).tcp(1, 22).build();
        let u = upper_layer(ip(&later).packet()).unwrap();
        assert_eq!((u.protocol, u.fragment, u.first_fragment), (proto::TCP, true, false));
    }

    #[test]
    fn the_walk_is_bounded_and_stays_inside_the_packet() {
        let a = [0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
        let chain = |n: usize| (0..n).fold(FrameBuilder::ipv6(a, a), |b, _| b.extension(EXT_DEST_OPTS, &[1, 4, 0, 0, 0, 0])).udp(1, 2).build();
        let most = chain(MAX_EXT_HEADERS);
        assert_eq!(upper_layer(ip(&most).packet()).map(|u| u.protocol), Ok(proto::UDP), "{MAX_EXT_HEADERS} extension headers");
        let too_many = chain(MAX_EXT_HEADERS + 1);
        assert_eq!(upper_layer(ip(&too_many).packet()), Err(Malformed), "{} extension headers", MAX_EXT_HEADERS + 1);
        let p = ip(captured::MLD_REPORT);
        assert_eq!(upper_layer(&p.packet()[..41]), Err(Malformed), "cut inside the hop-by-hop header");
        assert_eq!(upper_layer(&p.packet()[..42]), Err(Malformed), "its length runs past the packet");
    }
}
