//! Encapsulation: the outer Ethernet / IPv4 / UDP / VXLAN headers of a copy, precomputed per
//! session and target address as a template, and how much of the original a copy carries.
//!
//! The outer IPv4 header is what AWS sends: TTL 255, DF clear, identification 0 and UDP
//! checksum 0, as copies captured on a real AWS mirror target carry.

use crate::wire::{ethernet, fold_checksum, ipv4, ones_sum, proto, udp, vxlan};

/// Outer IPv4 + UDP + VXLAN bytes: what the target's MTU must hold besides the inner frame.
pub const MTU_OVERHEAD: usize = ipv4::HEADER_LEN + udp::HEADER_LEN + vxlan::HEADER_LEN;
/// Longest outer header: Ethernet with one VLAN tag, then [`MTU_OVERHEAD`].
pub const MAX_OUTER_LEN: usize = ethernet::HEADER_LEN + ethernet::VLAN_TAG_LEN + MTU_OVERHEAD;
/// The outer IPv4 TTL: AWS's.
pub const DEFAULT_TTL: u8 = 255;

/// What a copy's outer headers say; fixed per session and target address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Outer {
    /// The mirror port's MAC address.
    pub src_mac: [u8; 6],
    /// The next hop's MAC address.
    pub dst_mac: [u8; 6],
    /// 802.1Q VLAN id of the outer frame, if the mirror network is tagged.
    pub vlan: Option<u16>,
    /// The source's address (or the mirror port's), as a number.
    pub src_ip: u32,
    /// The collector's address, as a number.
    pub dst_ip: u32,
    /// The collector's UDP port (4789 unless the target says).
    pub dst_port: u16,
    /// The session's virtual network id.
    pub vni: u32,
}

/// Precomputed outer headers; per copy only the lengths, the checksum and the UDP source
/// port change.
#[derive(Clone, Copy, Debug)]
pub struct Template {
    bytes: [u8; MAX_OUTER_LEN],
    len: u8,
    ip: u8,
    /// Ones'-complement sum of the IPv4 header with total length and checksum zero.
    partial_sum: u32,
}

impl Template {
    /// Builds the template for `o`.
    pub fn new(o: &Outer) -> Self {
        let mut b = [0u8; MAX_OUTER_LEN];
        let eth = ethernet::Repr { dst: o.dst_mac, src: o.src_mac, vlans: o.vlan.as_slice(), ethertype: ethernet::TYPE_IPV4 };
        let ip = eth.emit(&mut b);
        // Total length and checksum stay 0: each copy writes its own.
        let mut h = ipv4::Packet::new_unchecked(&mut b[ip..ip + ipv4::HEADER_LEN]);
        h.set_header_len(ipv4::HEADER_LEN);
        // Identification 0 and DF clear, as AWS's copies carry.
        h.set_flags_frag(0);
        h.set_ttl(DEFAULT_TTL);
        h.set_protocol(proto::UDP);
        h.set_src_addr(o.src_ip);
        h.set_dst_addr(o.dst_ip);
        let partial_sum = ones_sum(&b[ip..ip + ipv4::HEADER_LEN]);
        let u = ip + ipv4::HEADER_LEN;
        udp::Packet::new_unchecked(&mut b[u..]).set_dst_port(o.dst_port);
        vxlan::Repr { vni: o.vni }.emit(&mut b[u + udp::HEADER_LEN..]);
        Template { bytes: b, len: (ip + MTU_OVERHEAD) as u8, ip: ip as u8, partial_sum }
    }

    /// Length of the outer headers (50, or 54 with a VLAN tag).
    #[inline(always)]
    pub fn len(&self) -> usize {
        usize::from(self.len)
    }

    /// Always false: a template has headers. (For clippy's `len` convention.)
    pub fn is_empty(&self) -> bool {
        false
    }

    /// Writes the outer headers for an inner frame of `inner_len` bytes into `out`, which must
    /// be exactly [`len`](Self::len) bytes.
    pub fn write(&self, out: &mut [u8], inner_len: usize, src_port: u16) {
        let mut full = [0u8; MAX_OUTER_LEN];
        self.write_full(&mut full, inner_len, src_port);
        out.copy_from_slice(&full[..self.len()]);
    }

    /// [`write`](Self::write) into the first [`MAX_OUTER_LEN`] bytes of a copy whose inner frame
    /// is written afterwards: bytes past [`len`](Self::len) are scratch that the inner frame
    /// overwrites. One fixed-size move and four stores, without a call or a bounds check.
    #[inline(always)]
    pub fn write_full(&self, out: &mut [u8; MAX_OUTER_LEN], inner_len: usize, src_port: u16) {
        *out = self.bytes;
        // The IP header is at 14 or 18; saying so lets every offset below be checked at build.
        let ip = usize::from(self.ip).min(MAX_OUTER_LEN - MTU_OVERHEAD);
        let total = (MTU_OVERHEAD + inner_len) as u16;
        let mut h = ipv4::Packet::new_unchecked(&mut out[ip..]);
        h.set_total_len(total);
        h.set_checksum(fold_checksum(self.partial_sum + u32::from(total)));
        let mut u = udp::Packet::new_unchecked(&mut out[ip + ipv4::HEADER_LEN..]);
        u.set_src_port(src_port);
        u.set_len(total - ipv4::HEADER_LEN as u16);
    }
}

/// Most bytes of the original frame a copy carries: the session's packet length, cut further
/// so the outer IPv4 packet fits the target's MTU.
pub fn max_inner_len(packet_length: Option<u32>, target_mtu: u32) -> u32 {
    let mtu_room = target_mtu.saturating_sub(MTU_OVERHEAD as u32);
    packet_length.map_or(mtu_room, |l| l.min(mtu_room))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::parse;
    use crate::wire::be16;

    fn outer(vlan: Option<u16>) -> Outer {
        Outer {
            src_mac: [2, 0, 0, 0, 0, 0x10],
            dst_mac: [2, 0, 0, 0, 0, 0x20],
            vlan,
            src_ip: 0xc000_0201,
            dst_ip: 0xc000_020a,
            dst_port: vxlan::PORT,
            vni: 4242,
        }
    }

    #[test]
    fn ipv4_headers_are_awss_byte_for_byte() {
        let t = Template::new(&outer(None));
        assert_eq!(t.len(), 50);
        let mut out = [0u8; 50];
        t.write(&mut out, 100, 50000);
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
    fn checksum_holds_for_every_length() {
        let t = Template::new(&outer(Some(100)));
        assert_eq!(t.len(), 54);
        let mut out = [0u8; 54];
        for inner in [0usize, 1, 60, 1514, 8964, 65499] {
            t.write(&mut out, inner, 65535);
            assert_eq!(be16(&out, 12), ethernet::TYPE_VLAN);
            assert_eq!(be16(&out, 14), 100);
            assert_eq!(fold_checksum(ones_sum(&out[18..38])), 0, "inner {inner}");
        }
    }

    #[test]
    fn the_fixed_size_write_agrees_with_the_exact_one() {
        for vlan in [None, Some(7)] {
            let t = Template::new(&outer(vlan));
            for inner in [0usize, 64, 1514] {
                let mut exact = vec![0u8; t.len()];
                t.write(&mut exact, inner, 51234);
                let mut full = [0xee; MAX_OUTER_LEN];
                t.write_full(&mut full, inner, 51234);
                assert_eq!(&full[..t.len()], &exact[..], "vlan {vlan:?}, inner {inner}");
            }
        }
    }

    #[test]
    fn the_copy_parses_as_udp_to_4789() {
        let t = Template::new(&outer(None));
        let mut frame = vec![0u8; 50];
        t.write(&mut frame, 64, 49999);
        frame.extend_from_slice(&[0xab; 64]);
        let p = parse(&frame).unwrap();
        assert_eq!((p.protocol(), p.sport(), p.dport()), (17, 49999, 4789));
    }

    #[test]
    fn cut_lengths() {
        assert_eq!(max_inner_len(None, 9001), 9001 - 36);
        assert_eq!(max_inner_len(Some(128), 9001), 128);
        assert_eq!(max_inner_len(Some(8500), 1500), 1464);
        assert_eq!(max_inner_len(None, 20), 0);
    }
}
