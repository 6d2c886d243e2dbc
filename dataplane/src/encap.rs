//! Encapsulation: the outer Ethernet / IPv4 / UDP / VXLAN headers of a copy, precomputed per
//! session and target address as a template, and how much of the original a copy carries.

use crate::wire::{ethernet, fold_checksum, ipv4, ones_sum, proto, put_be16, udp, vxlan};

/// Outer IPv4 + UDP + VXLAN bytes: what the target's MTU must hold besides the inner frame.
pub const MTU_OVERHEAD: usize = ipv4::MIN_HEADER_LEN + udp::HEADER_LEN + vxlan::HEADER_LEN;
/// Longest outer header: Ethernet with one VLAN tag, then [`MTU_OVERHEAD`].
pub const MAX_OUTER_LEN: usize = ethernet::HEADER_LEN + ethernet::VLAN_TAG_LEN + MTU_OVERHEAD;
/// The outer IPv4 TTL, as the kernel's VXLAN device and AWS use.
pub const OUTER_TTL: u8 = 64;

/// What a copy's outer headers say; fixed per session and target address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Outer {
    pub src_mac: [u8; 6],
    pub dst_mac: [u8; 6],
    /// 802.1Q VLAN id of the outer frame, if the mirror network is tagged.
    pub vlan: Option<u16>,
    pub src_ip: u32,
    pub dst_ip: u32,
    pub dst_port: u16,
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
        b[ethernet::DST..ethernet::DST + 6].copy_from_slice(&o.dst_mac);
        b[ethernet::SRC..ethernet::SRC + 6].copy_from_slice(&o.src_mac);
        let mut at = ethernet::ETHERTYPE;
        if let Some(vid) = o.vlan {
            put_be16(&mut b, at, ethernet::TYPE_VLAN);
            put_be16(&mut b, at + 2, vid & 0x0fff);
            at += ethernet::VLAN_TAG_LEN;
        }
        put_be16(&mut b, at, ethernet::TYPE_IPV4);
        let ip = at + 2;
        let h = &mut b[ip..];
        h[ipv4::VER_IHL] = 0x45;
        put_be16(h, ipv4::FLAGS_FRAG, ipv4::FLAG_DF);
        h[ipv4::TTL] = OUTER_TTL;
        h[ipv4::PROTOCOL] = proto::UDP;
        h[ipv4::SRC..ipv4::SRC + 4].copy_from_slice(&o.src_ip.to_be_bytes());
        h[ipv4::DST..ipv4::DST + 4].copy_from_slice(&o.dst_ip.to_be_bytes());
        let partial_sum = ones_sum(&h[..ipv4::MIN_HEADER_LEN]);
        let u = &mut h[ipv4::MIN_HEADER_LEN..];
        put_be16(u, udp::DST_PORT, o.dst_port);
        let v = &mut u[udp::HEADER_LEN..];
        v[vxlan::FLAGS] = vxlan::FLAG_VNI_VALID;
        v[vxlan::VNI..vxlan::VNI + 4].copy_from_slice(&(o.vni << 8).to_be_bytes());
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
        put_be16(out, ip + ipv4::TOTAL_LEN, total);
        put_be16(out, ip + ipv4::CHECKSUM, fold_checksum(self.partial_sum + u32::from(total)));
        let u = ip + ipv4::MIN_HEADER_LEN;
        put_be16(out, u + udp::SRC_PORT, src_port);
        put_be16(out, u + udp::LENGTH, total - ipv4::MIN_HEADER_LEN as u16);
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
    use crate::wire::{be16, be32};

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
    fn headers_are_what_spec_says() {
        let t = Template::new(&outer(None));
        assert_eq!(t.len(), 50);
        let mut out = [0u8; 50];
        t.write(&mut out, 100, 50000);
        assert_eq!(&out[0..6], &[2, 0, 0, 0, 0, 0x20]);
        assert_eq!(&out[6..12], &[2, 0, 0, 0, 0, 0x10]);
        assert_eq!(be16(&out, 12), ethernet::TYPE_IPV4);
        let ip = &out[14..34];
        assert_eq!(ip[0], 0x45);
        assert_eq!(be16(ip, ipv4::TOTAL_LEN), 136);
        assert_eq!(be16(ip, ipv4::FLAGS_FRAG), ipv4::FLAG_DF);
        assert_eq!(ip[ipv4::TTL], 64);
        assert_eq!(ip[ipv4::PROTOCOL], 17);
        assert_eq!(fold_checksum(ones_sum(ip)), 0, "header checksum must verify");
        assert_eq!(be32(ip, ipv4::SRC), 0xc000_0201);
        assert_eq!(be32(ip, ipv4::DST), 0xc000_020a);
        let u = &out[34..42];
        assert_eq!(be16(u, udp::SRC_PORT), 50000);
        assert_eq!(be16(u, udp::DST_PORT), 4789);
        assert_eq!(be16(u, udp::LENGTH), 116);
        assert_eq!(be16(u, udp::CHECKSUM), 0);
        assert_eq!(&out[42..50], &[0x08, 0, 0, 0, 0x00, 0x10, 0x92, 0x00]);
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
