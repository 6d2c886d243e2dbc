//! Wire formats: field offsets and constants of the headers the packet path reads and writes,
//! and big-endian accessors over byte slices. Offsets are relative to the header's first byte.

/// Ethernet II.
pub mod eth {
    pub const DST: usize = 0;
    pub const SRC: usize = 6;
    pub const ETHERTYPE: usize = 12;
    pub const HEADER_LEN: usize = 14;
    pub const ADDR_LEN: usize = 6;
    /// An 802.1Q/802.1ad tag: TCI (2 bytes) then the next ethertype (2 bytes).
    pub const VLAN_TAG_LEN: usize = 4;

    pub const TYPE_IPV4: u16 = 0x0800;
    pub const TYPE_ARP: u16 = 0x0806;
    pub const TYPE_IPV6: u16 = 0x86dd;
    pub const TYPE_VLAN: u16 = 0x8100;
    pub const TYPE_QINQ: u16 = 0x88a8;
    /// Pre-standard QinQ outer tag, still seen on older switches.
    pub const TYPE_QINQ_OLD: u16 = 0x9100;

    /// True for the ethertypes that introduce a VLAN tag.
    pub fn is_vlan(ethertype: u16) -> bool {
        matches!(ethertype, TYPE_VLAN | TYPE_QINQ | TYPE_QINQ_OLD)
    }
}

/// IPv4 (RFC 791).
pub mod ipv4 {
    pub const VER_IHL: usize = 0;
    pub const TOS: usize = 1;
    pub const TOTAL_LEN: usize = 2;
    pub const IDENT: usize = 4;
    pub const FLAGS_FRAG: usize = 6;
    pub const TTL: usize = 8;
    pub const PROTOCOL: usize = 9;
    pub const CHECKSUM: usize = 10;
    pub const SRC: usize = 12;
    pub const DST: usize = 16;
    pub const MIN_HEADER_LEN: usize = 20;

    pub const FLAG_DF: u16 = 0x4000;
    pub const FLAG_MF: u16 = 0x2000;
    pub const FRAG_OFFSET_MASK: u16 = 0x1fff;
}

/// IPv6 (RFC 8200) and the extension headers SPEC.md says to walk past.
pub mod ipv6 {
    pub const PAYLOAD_LEN: usize = 4;
    pub const NEXT_HEADER: usize = 6;
    pub const SRC: usize = 8;
    pub const DST: usize = 24;
    pub const HEADER_LEN: usize = 40;

    pub const EXT_HOP_BY_HOP: u8 = 0;
    pub const EXT_ROUTING: u8 = 43;
    pub const EXT_FRAGMENT: u8 = 44;
    pub const EXT_DEST_OPTS: u8 = 60;
    /// Fragment header: next header, reserved, offset+flags (2), identification (4).
    pub const FRAG_HEADER_LEN: usize = 8;
    pub const FRAG_OFFSET_FLAGS: usize = 2;
    pub const FRAG_MORE: u16 = 0x0001;
    pub const FRAG_OFFSET_MASK: u16 = 0xfff8;
}

/// ARP for IPv4 over Ethernet (RFC 826).
pub mod arp {
    pub const HTYPE: usize = 0;
    pub const PTYPE: usize = 2;
    pub const HLEN: usize = 4;
    pub const PLEN: usize = 5;
    pub const OPER: usize = 6;
    /// Sender hardware and protocol address.
    pub const SHA: usize = 8;
    pub const SPA: usize = 14;
    /// Target hardware and protocol address.
    pub const THA: usize = 18;
    pub const TPA: usize = 24;
    pub const LEN: usize = 28;
    pub const HTYPE_ETHERNET: u16 = 1;
    pub const OP_REQUEST: u16 = 1;
    pub const OP_REPLY: u16 = 2;
}

/// IANA protocol numbers the packet path cares about.
pub mod proto {
    pub const ICMP: u8 = 1;
    pub const TCP: u8 = 6;
    pub const UDP: u8 = 17;
    pub const ICMPV6: u8 = 58;
}

/// UDP (RFC 768).
pub mod udp {
    pub const SRC_PORT: usize = 0;
    pub const DST_PORT: usize = 2;
    pub const LENGTH: usize = 4;
    pub const CHECKSUM: usize = 6;
    pub const HEADER_LEN: usize = 8;
}

/// TCP: only the ports are read.
pub mod tcp {
    pub const SRC_PORT: usize = 0;
    pub const DST_PORT: usize = 2;
}

/// ICMP and ICMPv6 share this layout for echo messages.
pub mod icmp {
    pub const TYPE: usize = 0;
    pub const ECHO_IDENT: usize = 4;
    pub const ECHO_HEADER_LEN: usize = 8;
    pub const V4_ECHO_REPLY: u8 = 0;
    pub const V4_ECHO_REQUEST: u8 = 8;
    pub const V6_ECHO_REQUEST: u8 = 128;
    pub const V6_ECHO_REPLY: u8 = 129;
}

/// VXLAN (RFC 7348).
pub mod vxlan {
    pub const FLAGS: usize = 0;
    pub const VNI: usize = 4;
    pub const HEADER_LEN: usize = 8;
    /// The I flag: the VNI field is valid.
    pub const FLAG_VNI_VALID: u8 = 0x08;
    /// IANA-assigned UDP port.
    pub const PORT: u16 = 4789;
    pub const MAX_VNI: u32 = (1 << 24) - 1;
}

/// Reads a big-endian u16 at `off`. Callers check the length first.
#[inline(always)]
pub fn be16(b: &[u8], off: usize) -> u16 {
    u16::from_be_bytes([b[off], b[off + 1]])
}

/// Reads a big-endian u32 at `off`. Callers check the length first.
#[inline(always)]
pub fn be32(b: &[u8], off: usize) -> u32 {
    u32::from_be_bytes([b[off], b[off + 1], b[off + 2], b[off + 3]])
}

/// Writes a big-endian u16 at `off`.
#[inline(always)]
pub fn put_be16(b: &mut [u8], off: usize, v: u16) {
    b[off..off + 2].copy_from_slice(&v.to_be_bytes());
}

/// Writes a big-endian u32 at `off`.
#[inline(always)]
pub fn put_be32(b: &mut [u8], off: usize, v: u32) {
    b[off..off + 4].copy_from_slice(&v.to_be_bytes());
}

/// Ones'-complement sum of 16-bit big-endian words (RFC 1071), not yet folded.
pub fn ones_sum(b: &[u8]) -> u32 {
    let mut sum = 0u32;
    let mut chunks = b.chunks_exact(2);
    for c in &mut chunks {
        sum += u32::from(u16::from_be_bytes([c[0], c[1]]));
    }
    if let [last] = chunks.remainder() {
        sum += u32::from(*last) << 8;
    }
    sum
}

/// Folds a ones'-complement sum to 16 bits and complements it: the Internet checksum.
#[inline(always)]
pub fn fold_checksum(mut sum: u32) -> u16 {
    sum = (sum & 0xffff) + (sum >> 16);
    sum = (sum & 0xffff) + (sum >> 16);
    !(sum as u16)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksum_of_rfc1071_example() {
        // RFC 1071 section 3's example words sum to 0xddf2 after folding.
        let words = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        assert_eq!(fold_checksum(ones_sum(&words)), !0xddf2);
    }

    #[test]
    fn odd_length_pads_with_zero() {
        assert_eq!(ones_sum(&[0x12, 0x34, 0x56]), 0x1234 + 0x5600);
    }

    #[test]
    fn header_with_its_checksum_sums_to_zero() {
        let mut h = [
            0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0x00, 0x00, 0xc0, 0xa8,
            0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7,
        ];
        let c = fold_checksum(ones_sum(&h));
        assert_eq!(c, 0xb861);
        put_be16(&mut h, ipv4::CHECKSUM, c);
        assert_eq!(fold_checksum(ones_sum(&h)), 0);
    }
}
