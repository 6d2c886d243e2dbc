//! The symmetric flow hash of a mirrored packet, which picks its copies' UDP source port (and
//! a load balancer's collector), so that both directions of a flow go the same way.

use crate::parse::{field, Packet};
use crate::wire::proto;

/// UDP source ports are taken from this range (RFC 7348 recommends the dynamic range).
pub const SOURCE_PORT_BASE: u16 = 49152;

/// Symmetric flow hash: both directions of a flow hash alike. Over the 5-tuple for TCP, UDP
/// and ICMP (ports, or the echo identifier), over addresses and protocol otherwise and for
/// every fragment (a non-first fragment has no ports, and all of a packet's fragments must
/// reach the same collector). Each end (address folded to 32 bits, port) is one word, and the
/// two are ordered before mixing: two multiply rounds, whatever the family, since every
/// mirrored packet pays for this.
#[inline]
pub fn flow_hash(p: &Packet) -> u32 {
    let five = !p.fragment && matches!(p.protocol(), proto::TCP | proto::UDP | proto::ICMP | proto::ICMPV6);
    let (sp, dp) = if five { (p.sport(), p.dport()) } else { (0, 0) };
    // An IPv4 address is one word and folds to itself.
    let k = &p.key;
    let end = |at: usize, port: u16| {
        let folded = if p.ipv6 { k[at] ^ k[at + 1].rotate_left(8) ^ k[at + 2].rotate_left(16) ^ k[at + 3].rotate_left(24) } else { k[at] };
        u64::from(folded) << 16 | u64::from(port)
    };
    let (x, y) = (end(field::src(p.ipv6), sp), end(field::DST, dp));
    let (lo, hi) = if x <= y { (x, y) } else { (y, x) };
    let mut h: u64 = 0x9e37_79b9_7f4a_7c15 ^ u64::from(p.protocol()) << 56;
    for w in [lo, hi] {
        h = (h ^ w).wrapping_mul(0xff51_afd7_ed55_8ccd);
        h ^= h >> 29;
    }
    (h ^ (h >> 32)) as u32
}

/// The outer UDP source port for a flow hash: 49152-65535.
#[inline(always)]
pub fn source_port(hash: u32) -> u16 {
    SOURCE_PORT_BASE | (hash as u16 & 0x3fff)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::Fields;

    fn packet(src: u32, dst: u32, protocol: u8, sport: u16, dport: u16) -> Packet {
        Packet::from(Fields {
            l3_offset: 14,
            src: [src, 0, 0, 0],
            dst: [dst, 0, 0, 0],
            protocol,
            has_ports: true,
            sport,
            dport,
            ..Fields::default()
        })
    }

    #[test]
    fn hash_is_symmetric_and_spreads() {
        let mut ports = std::collections::HashSet::new();
        for i in 0..1000u32 {
            let a = packet(0x0a00_0001 + i, 0x0a00_0100, 6, 40000 + i as u16, 443);
            let b = packet(0x0a00_0100, 0x0a00_0001 + i, 6, 443, 40000 + i as u16);
            assert_eq!(flow_hash(&a), flow_hash(&b));
            let port = source_port(flow_hash(&a));
            assert!(port >= 49152);
            ports.insert(port);
        }
        assert!(ports.len() > 900, "only {} distinct ports over 1000 flows", ports.len());
    }

    #[test]
    fn ports_matter_except_for_fragments_and_other_protocols() {
        let a = packet(1, 2, 6, 1000, 80);
        let b = packet(1, 2, 6, 1001, 80);
        assert_ne!(flow_hash(&a), flow_hash(&b));
        let (mut fa, mut fb) = (a.fields(), b.fields());
        fa.fragment = true;
        fb.fragment = true;
        fb.has_ports = false;
        fb.sport = 0;
        fb.dport = 0;
        assert_eq!(flow_hash(&fa.into()), flow_hash(&fb.into()));
        let gre_a = packet(1, 2, 47, 5, 6);
        let gre_b = packet(1, 2, 47, 7, 8);
        assert_eq!(flow_hash(&gre_a), flow_hash(&gre_b));
    }
}
