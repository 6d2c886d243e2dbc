//! Encapsulation: the outer Ethernet / IP / UDP / VXLAN headers of a copy, precomputed per
//! session and collector as a template, and how much of the original a copy carries.
//!
//! The outer IP header is what AWS sends: IPv4 with TTL 255, DF clear, identification 0 and
//! UDP checksum 0, as copies captured on a real AWS mirror target carry (a target may set its
//! own TTL and DF). A collector with an IPv6 address gets an outer IPv6 header instead (hop
//! limit 255, next header UDP) and, as RFC 8200 requires of UDP over IPv6, a valid UDP
//! checksum: summed per copy over the bytes it carries, the header part precomputed. Only
//! IPv6 copies pay for the sum; the IPv4 path's work per copy is what it was.

use crate::wire::{ethernet, fold_checksum, ipv4, ipv6, ones_sum, ones_sum_chained, proto, udp, vxlan};
use std::net::{Ipv4Addr, Ipv6Addr};

/// Outer IPv4 + UDP + VXLAN bytes: what the target's MTU must hold besides the inner frame.
pub const MTU_OVERHEAD: usize = ipv4::HEADER_LEN + udp::HEADER_LEN + vxlan::HEADER_LEN;
/// Outer IPv6 + UDP + VXLAN bytes.
pub const MTU_OVERHEAD_V6: usize = ipv6::HEADER_LEN + udp::HEADER_LEN + vxlan::HEADER_LEN;
/// Longest outer header: Ethernet with one VLAN tag, then [`MTU_OVERHEAD_V6`].
pub const MAX_OUTER_LEN: usize = ethernet::HEADER_LEN + ethernet::VLAN_TAG_LEN + MTU_OVERHEAD_V6;
/// Longest outer header of an IPv4 copy: the bytes every copy's fixed-size move writes (an
/// IPv6 copy's longer tail is moved on its own path).
const MAX_V4_LEN: usize = ethernet::HEADER_LEN + ethernet::VLAN_TAG_LEN + MTU_OVERHEAD;
/// The outer IPv4 TTL and IPv6 hop limit unless the target sets its own: AWS's.
pub const DEFAULT_TTL: u8 = 255;

/// The outer addresses, both of one family.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OuterIp {
    /// An IPv4 collector, from the source's address (or the mirror port's).
    V4 {
        /// The source network interface's address, else the mirror port's.
        src: Ipv4Addr,
        /// The collector's.
        dst: Ipv4Addr,
    },
    /// An IPv6 collector.
    V6 {
        /// The source network interface's IPv6 address, else the mirror port's.
        src: Ipv6Addr,
        /// The collector's.
        dst: Ipv6Addr,
    },
}

/// What a copy's outer headers say; fixed per session and collector.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Outer {
    /// The mirror port's MAC address.
    pub src_mac: [u8; 6],
    /// The next hop's MAC address.
    pub dst_mac: [u8; 6],
    /// 802.1Q VLAN id of the outer frame, if the mirror network is tagged.
    pub vlan: Option<u16>,
    /// Source and collector addresses, which say the outer IP version.
    pub ip: OuterIp,
    /// IPv4's TTL or IPv6's hop limit ([`DEFAULT_TTL`] unless the target says).
    pub ttl: u8,
    /// IPv4's DF flag (clear unless the target says). IPv6 has none: its routers never
    /// fragment.
    pub dont_fragment: bool,
    /// The collector's UDP port (4789 unless the target says).
    pub dst_port: u16,
    /// The session's virtual network id.
    pub vni: u32,
}

/// Precomputed outer headers; per copy only the lengths, a checksum and the UDP source port
/// change.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Template {
    bytes: [u8; MAX_OUTER_LEN],
    len: u8,
    ip: u8,
    ipv6: bool,
    /// Folded to 16 bits, so a copy adds its own part and folds once. IPv4: the header's sum
    /// with total length and checksum zero. IPv6: the UDP checksum's sum over the
    /// pseudo-header's addresses and protocol, the destination port and the VXLAN header.
    partial_sum: u32,
}

/// A ones'-complement sum folded to 16 bits.
fn folded(sum: u32) -> u32 {
    u32::from(!fold_checksum(sum))
}

impl Template {
    /// Builds the template for `o`.
    pub fn new(o: &Outer) -> Self {
        let mut b = [0u8; MAX_OUTER_LEN];
        let ethertype = match o.ip {
            OuterIp::V4 { .. } => ethernet::TYPE_IPV4,
            OuterIp::V6 { .. } => ethernet::TYPE_IPV6,
        };
        let eth = ethernet::Repr { dst: o.dst_mac, src: o.src_mac, vlans: o.vlan.as_slice(), ethertype };
        let ip = eth.emit(&mut b);
        // Lengths and checksums stay 0: each copy writes its own.
        let (u, mut partial_sum) = match o.ip {
            OuterIp::V4 { src, dst } => {
                let mut h = ipv4::Packet::new_unchecked(&mut b[ip..ip + ipv4::HEADER_LEN]);
                h.set_header_len(ipv4::HEADER_LEN);
                // Identification 0, as AWS's copies carry: nothing is fragmented on the way.
                h.set_flags_frag(if o.dont_fragment { ipv4::FLAG_DF } else { 0 });
                h.set_ttl(o.ttl);
                h.set_protocol(proto::UDP);
                h.set_src_addr(u32::from(src));
                h.set_dst_addr(u32::from(dst));
                (ip + ipv4::HEADER_LEN, folded(ones_sum(&b[ip..ip + ipv4::HEADER_LEN])))
            }
            OuterIp::V6 { src, dst } => {
                ipv6::Repr { src, dst, next_header: proto::UDP, hop_limit: o.ttl, payload_len: 0 }.emit(&mut b[ip..]);
                // The length is the copy's (twice: the pseudo-header's and UDP's own).
                (ip + ipv6::HEADER_LEN, ipv6::pseudo_header_sum(&src.octets(), &dst.octets(), 0, proto::UDP) + u32::from(o.dst_port))
            }
        };
        udp::Packet::new_unchecked(&mut b[u..]).set_dst_port(o.dst_port);
        let vx = u + udp::HEADER_LEN;
        vxlan::Repr { vni: o.vni }.emit(&mut b[vx..]);
        let ipv6 = matches!(o.ip, OuterIp::V6 { .. });
        if ipv6 {
            partial_sum = folded(partial_sum + ones_sum(&b[vx..vx + vxlan::HEADER_LEN]));
        }
        Template { bytes: b, len: (vx + vxlan::HEADER_LEN) as u8, ip: ip as u8, ipv6, partial_sum }
    }

    /// Length of the outer headers: 50 with IPv4, 70 with IPv6, 4 more with a VLAN tag.
    #[inline(always)]
    pub fn len(&self) -> usize {
        usize::from(self.len)
    }

    /// Always false: a template has headers. (For clippy's `len` convention.)
    pub fn is_empty(&self) -> bool {
        false
    }

    /// True when the outer header is IPv6 (and the copy carries a UDP checksum).
    #[inline(always)]
    pub fn is_ipv6(&self) -> bool {
        self.ipv6
    }

    /// Writes the outer headers of a copy that carries `inner` (the original's first bytes)
    /// into `out`, which must be exactly [`len`](Self::len) bytes.
    pub fn write(&self, out: &mut [u8], inner: &[u8], src_port: u16) {
        let mut full = [0u8; MAX_OUTER_LEN];
        self.fill(&mut full, inner.len(), src_port, || ones_sum(inner));
        out.copy_from_slice(&full[..self.len()]);
    }

    /// [`write`](Self::write) for a copy whose inner bytes are the first `inner_len` of
    /// `segments` (an original that spans several mbufs).
    pub fn write_chained<'a>(&self, out: &mut [u8], segments: impl IntoIterator<Item = &'a [u8]>, inner_len: usize, src_port: u16) {
        let mut full = [0u8; MAX_OUTER_LEN];
        self.fill(&mut full, inner_len, src_port, || ones_sum_chained(segments, inner_len));
        out.copy_from_slice(&full[..self.len()]);
    }

    /// [`write`](Self::write) into the first [`MAX_OUTER_LEN`] bytes of a copy whose inner
    /// frame, `inner`, is written afterwards: bytes past [`len`](Self::len) are scratch that
    /// the inner frame overwrites. For IPv4, one fixed-size move and four stores, without a
    /// call or a bounds check.
    #[inline(always)]
    pub fn write_full(&self, out: &mut [u8; MAX_OUTER_LEN], inner: &[u8], src_port: u16) {
        self.fill(out, inner.len(), src_port, || ones_sum(inner));
    }

    /// The headers for an inner frame of `inner_len` bytes whose ones'-complement sum
    /// `inner_sum` gives, asked for only by an IPv6 template.
    #[inline(always)]
    fn fill(&self, out: &mut [u8; MAX_OUTER_LEN], inner_len: usize, src_port: u16, inner_sum: impl FnOnce() -> u32) {
        out[..MAX_V4_LEN].copy_from_slice(&self.bytes[..MAX_V4_LEN]);
        if self.ipv6 {
            return self.fill_v6(out, inner_len, src_port, inner_sum());
        }
        // The IP header is at 14 or 18; the mask says so, which lets every offset below be
        // checked at build (cheaper than a `min`).
        let ip = usize::from(self.ip & 0x1f);
        let total = (MTU_OVERHEAD + inner_len) as u16;
        let mut h = ipv4::Packet::new_unchecked(&mut out[ip..]);
        h.set_total_len(total);
        // The partial sum is folded, so one fold of this sum (at most 17 bits) is enough.
        let sum = self.partial_sum + u32::from(total);
        h.set_checksum(!((sum as u16).wrapping_add((sum >> 16) as u16)));
        let mut u = udp::Packet::new_unchecked(&mut out[ip + ipv4::HEADER_LEN..]);
        u.set_src_port(src_port);
        u.set_len(total - ipv4::HEADER_LEN as u16);
    }

    /// The IPv6 part of [`fill`](Self::fill): out of line and marked cold, so that the IPv4
    /// path stays as short as it was and falls straight through (a taken branch and a jump
    /// around this code would cost every IPv4 copy two instructions).
    #[cold]
    #[inline(never)]
    fn fill_v6(&self, out: &mut [u8; MAX_OUTER_LEN], inner_len: usize, src_port: u16, inner_sum: u32) {
        out[MAX_V4_LEN..].copy_from_slice(&self.bytes[MAX_V4_LEN..]);
        let ip = usize::from(self.ip & 0x1f);
        let udp_len = (udp::HEADER_LEN + vxlan::HEADER_LEN + inner_len) as u16;
        ipv6::Packet::new_unchecked(&mut out[ip..]).set_payload_len(udp_len);
        let mut u = udp::Packet::new_unchecked(&mut out[ip + ipv6::HEADER_LEN..]);
        u.set_src_port(src_port);
        u.set_len(udp_len);
        // The length counts twice: in the pseudo-header and in UDP's own header.
        let c = fold_checksum(self.partial_sum + 2 * u32::from(udp_len) + u32::from(src_port) + inner_sum);
        // 0 would say "no checksum", which IPv6 forbids: its ones'-complement twin goes instead.
        u.set_checksum(if c == 0 { 0xffff } else { c });
    }
}

/// Bytes of outer IP, UDP and VXLAN header a copy to an IPv6 (or IPv4) collector carries.
pub fn mtu_overhead(ipv6: bool) -> usize {
    if ipv6 { MTU_OVERHEAD_V6 } else { MTU_OVERHEAD }
}

/// Most bytes of the original frame a copy carries: the session's packet length, cut further
/// so the outer IP packet (IPv6 when `ipv6`) fits the target's MTU.
pub fn max_inner_len(packet_length: Option<u32>, target_mtu: u32, ipv6: bool) -> u32 {
    let mtu_room = target_mtu.saturating_sub(mtu_overhead(ipv6) as u32);
    packet_length.map_or(mtu_room, |l| l.min(mtu_room))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::parse;
    use crate::wire::be16;

    const SRC6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 2, 0, 0, 0, 1);
    const DST6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 2, 0, 0, 0, 0x10);

    fn outer(vlan: Option<u16>) -> Outer {
        Outer {
            src_mac: [2, 0, 0, 0, 0, 0x10],
            dst_mac: [2, 0, 0, 0, 0, 0x20],
            vlan,
            ip: OuterIp::V4 { src: Ipv4Addr::new(192, 0, 2, 1), dst: Ipv4Addr::new(192, 0, 2, 10) },
            ttl: DEFAULT_TTL,
            dont_fragment: false,
            dst_port: vxlan::PORT,
            vni: 4242,
        }
    }

    fn outer6(vlan: Option<u16>) -> Outer {
        Outer { ip: OuterIp::V6 { src: SRC6, dst: DST6 }, ..outer(vlan) }
    }

    fn inner(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i as u32).wrapping_mul(2_654_435_761).rotate_left(7) as u8).collect()
    }

    /// The copy a template makes of `inner`: headers, then the bytes.
    fn copy(t: &Template, inner: &[u8], src_port: u16) -> Vec<u8> {
        let mut frame = vec![0u8; t.len()];
        t.write(&mut frame, inner, src_port);
        frame.extend_from_slice(inner);
        frame
    }

    #[test]
    fn ipv4_headers_are_awss_byte_for_byte() {
        let t = Template::new(&outer(None));
        assert_eq!(t.len(), 50);
        let mut out = [0u8; 50];
        t.write(&mut out, &inner(100), 50000);
        #[rustfmt::skip]
        let want: [u8; 50] = [
            2, 0, 0, 0, 0, 0x20, 2, 0, 0, 0, 0, 0x10, 0x08, 0x00,
            // IPv4: length 136, id 0, DF clear, TTL 255, UDP, checksum, 192.0.2.1 -> 192.0.2.10
            0x45, 0, 0, 136, 0, 0, 0, 0, 255, 17, 0x37, 0x59, 192, 0, 2, 1, 192, 0, 2, 10,
            // UDP: 50000 -> 4789, length 116, checksum 0
            0xc3, 0x50, 0x12, 0xb5, 0, 116, 0, 0,
            // VXLAN: flags 0x08, VNI 4242
            0x08, 0, 0, 0, 0x00, 0x10, 0x92, 0x00,
        ];
        assert_eq!(out, want);
        let ip = ipv4::Packet::new_checked(&out[14..34]).unwrap();
        assert!(ip.verify_checksum(), "header checksum must verify");
        assert_eq!((ip.ttl(), ip.dont_frag(), ip.ident()), (255, false, 0));
        assert_eq!(vxlan::Repr::parse(&vxlan::Packet::new_checked(&out[42..50]).unwrap()), Ok(vxlan::Repr { vni: 4242 }));
    }

    #[test]
    fn a_target_may_set_ttl_and_dont_fragment() {
        let t = Template::new(&Outer { ttl: 64, dont_fragment: true, ..outer(None) });
        let mut out = [0u8; 50];
        t.write(&mut out, &inner(64), 50000);
        let ip = ipv4::Packet::new_checked(&out[14..34]).unwrap();
        assert_eq!((ip.ttl(), ip.flags_frag(), ip.ident()), (64, ipv4::FLAG_DF, 0));
        assert!(ip.verify_checksum());
    }

    #[test]
    fn ipv4_checksum_holds_for_every_length() {
        let t = Template::new(&outer(Some(100)));
        assert_eq!(t.len(), 54);
        let mut out = [0u8; 54];
        for len in [0usize, 1, 60, 1514, 8964, 65499] {
            t.write(&mut out, &inner(len), 65535);
            assert_eq!(be16(&out, 12), ethernet::TYPE_VLAN);
            assert_eq!(be16(&out, 14), 100);
            assert_eq!(fold_checksum(ones_sum(&out[18..38])), 0, "inner {len}");
        }
        // Every TTL and DF, so the folded partial sum meets every carry.
        for ttl in [1, 2, 127, 128, 254, 255] {
            for dont_fragment in [false, true] {
                let t = Template::new(&Outer { ttl, dont_fragment, ..outer(None) });
                for len in [0usize, 14, 1500, 65499] {
                    t.write(&mut out[..50], &inner(len), 49152);
                    assert!(ipv4::Packet::new_checked(&out[14..34]).unwrap().verify_checksum(), "ttl {ttl}, df {dont_fragment}, inner {len}");
                }
            }
        }
    }

    #[test]
    fn ipv6_headers_byte_for_byte() {
        let t = Template::new(&outer6(None));
        assert_eq!(t.len(), 70);
        assert!(t.is_ipv6());
        let body = inner(100);
        let mut out = [0u8; 70];
        t.write(&mut out, &body, 50000);
        let src = SRC6.octets();
        let dst = DST6.octets();
        let mut want = vec![2, 0, 0, 0, 0, 0x20, 2, 0, 0, 0, 0, 0x10, 0x86, 0xdd];
        // IPv6: version 6, payload 116 bytes, next header UDP, hop limit 255
        want.extend_from_slice(&[0x60, 0, 0, 0, 0, 116, 17, 255]);
        want.extend_from_slice(&src);
        want.extend_from_slice(&dst);
        // UDP: 50000 -> 4789, length 116, then the checksum (checked below on its own)
        want.extend_from_slice(&[0xc3, 0x50, 0x12, 0xb5, 0, 116]);
        want.extend_from_slice(&out[60..62]);
        want.extend_from_slice(&[0x08, 0, 0, 0, 0x00, 0x10, 0x92, 0x00]);
        assert_eq!(&out[..], &want[..]);
        // An independent computation of the checksum (etherparse's).
        let udp = etherparse::UdpHeader { source_port: 50000, destination_port: 4789, length: 116, checksum: 0 };
        let payload: Vec<u8> = out[62..].iter().chain(&body).copied().collect();
        assert_eq!(be16(&out, 60), udp.calc_checksum_ipv6_raw(src, dst, &payload).unwrap());
    }

    /// Checks a whole IPv6 copy with etherparse: it parses, and its UDP checksum is right.
    fn assert_valid_ipv6_copy(frame: &[u8], what: &str) {
        let p = etherparse::SlicedPacket::from_ethernet(frame).unwrap_or_else(|e| panic!("{what}: {e}"));
        let Some(etherparse::NetSlice::Ipv6(ip)) = &p.net else { panic!("{what}: not IPv6") };
        let Some(etherparse::TransportSlice::Udp(u)) = &p.transport else { panic!("{what}: not UDP") };
        let h = ip.header();
        assert_eq!((h.hop_limit(), h.next_header()), (255, etherparse::IpNumber::UDP), "{what}");
        let want = u.to_header().calc_checksum_ipv6_raw(h.source(), h.destination(), u.payload()).unwrap();
        assert_eq!(u.checksum(), want, "{what}: UDP checksum");
        assert_ne!(u.checksum(), 0, "{what}: IPv6 forbids a zero UDP checksum");
    }

    #[test]
    fn ipv6_udp_checksum_holds_for_every_length_port_and_vlan() {
        for vlan in [None, Some(7)] {
            let t = Template::new(&outer6(vlan));
            for len in [0usize, 1, 2, 3, 14, 60, 61, 1514, 8935] {
                for port in [49152, 50001, 65535] {
                    assert_valid_ipv6_copy(&copy(&t, &inner(len), port), &format!("vlan {vlan:?}, inner {len}, port {port}"));
                }
            }
        }
    }

    #[test]
    fn a_checksum_that_sums_to_zero_is_sent_as_ffff() {
        // Adding a copy's checksum to one word of its inner frame makes the sum all ones, whose
        // complement, 0, must go out as 0xffff.
        let t = Template::new(&outer6(None));
        let mut body = inner(64);
        let mut out = [0u8; 70];
        t.write(&mut out, &body, 50000);
        let word = u32::from(be16(&body, 0)) + u32::from(be16(&out, 60));
        crate::wire::put_be16(&mut body, 0, ((word & 0xffff) + (word >> 16)) as u16);
        t.write(&mut out, &body, 50000);
        assert_eq!(be16(&out, 60), 0xffff);
        assert_valid_ipv6_copy(&copy(&t, &body, 50000), "the zero-sum copy");
    }

    #[test]
    fn the_chained_write_sums_across_odd_segments() {
        for vlan in [None, Some(9)] {
            let t = Template::new(&outer6(vlan));
            let body = inner(301);
            let mut whole = vec![0u8; t.len()];
            t.write(&mut whole, &body, 51000);
            // Segments of odd and even lengths, and more bytes than the copy carries.
            let (a, rest) = body.split_at(7);
            let (b, c) = rest.split_at(100);
            let mut longer = c.to_vec();
            longer.extend_from_slice(&[0xaa; 33]);
            let mut chained = vec![0u8; t.len()];
            t.write_chained(&mut chained, [a, b, &longer[..]], body.len(), 51000);
            assert_eq!(chained, whole, "vlan {vlan:?}");
            let v4 = Template::new(&outer(vlan));
            let (mut x, mut y) = (vec![0u8; v4.len()], vec![0u8; v4.len()]);
            v4.write(&mut x, &body, 51000);
            v4.write_chained(&mut y, [a, b, &longer[..]], body.len(), 51000);
            assert_eq!(x, y);
        }
    }

    #[test]
    fn the_fixed_size_write_agrees_with_the_exact_one() {
        for o in [outer(None), outer(Some(7)), outer6(None), outer6(Some(7))] {
            let t = Template::new(&o);
            for len in [0usize, 64, 1514] {
                let body = inner(len);
                let mut exact = vec![0u8; t.len()];
                t.write(&mut exact, &body, 51234);
                let mut full = [0xee; MAX_OUTER_LEN];
                t.write_full(&mut full, &body, 51234);
                assert_eq!(&full[..t.len()], &exact[..], "{o:?}, inner {len}");
            }
        }
    }

    #[test]
    fn the_copy_parses_as_udp_to_4789() {
        for o in [outer(None), outer6(None)] {
            let p = parse(&copy(&Template::new(&o), &inner(64), 49999)).unwrap();
            assert_eq!((p.protocol(), p.sport(), p.dport(), p.ipv6), (17, 49999, 4789, matches!(o.ip, OuterIp::V6 { .. })));
        }
    }

    #[test]
    fn cut_lengths() {
        assert_eq!(max_inner_len(None, 9001, false), 9001 - 36);
        assert_eq!(max_inner_len(None, 9001, true), 9001 - 56);
        assert_eq!(max_inner_len(Some(128), 9001, true), 128);
        assert_eq!(max_inner_len(Some(8500), 1500, false), 1464);
        assert_eq!(max_inner_len(Some(8500), 1500, true), 1444);
        assert_eq!(max_inner_len(None, 20, false), 0);
    }
}
