//! Wire formats: field offsets and constants of the headers the packet path reads and writes,
//! and big-endian accessors over byte slices. Offsets are relative to the header's first byte.

pub mod arp;
pub mod ethernet;
pub mod ipv4;
pub mod ipv6;
pub mod l4;
pub mod vxlan;

pub use l4::{icmp, proto, tcp, udp};

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
