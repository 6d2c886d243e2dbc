//! Wire formats, written as smoltcp writes them: each header is a view over bytes
//! (`Packet<T: AsRef<[u8]>>`, `Frame<T>` for Ethernet) that reads and writes its fields at the
//! byte ranges of its `field` table, with `new_checked` as the one length check; a header
//! that is built whole has a `Repr` that emits it (and parses it back where that is useful).
//!
//! - [`ethernet`]: Ethernet II and VLAN tags, with [`ethernet::untag`], the one walk over the
//!   tags that parsing, the ARP snoop and the neighbour code all use;
//! - [`ipv4`]; [`ipv6`], with the walk over the extension headers SPEC.md names;
//! - [`l4`]: the IANA protocol numbers, UDP, TCP and ICMP;
//! - [`arp`], and [`vxlan`] (a copy's encapsulation);
//! - [`probe`]: a load balancer's health checks (TCP or ICMP echo over IPv4) and their answers;
//! - `testing` (feature `testing`): one `FrameBuilder` and frames captured off a real
//!   network, for the tests, benches and fuzz seeds of every crate.
//!
//! Views check once and then read at fixed offsets, so per-packet code uses them as it would
//! use raw offsets; the tests at the bottom of each file read captured bytes.

pub mod arp;
pub mod ethernet;
pub mod ipv4;
pub mod ipv6;
pub mod l4;
pub mod probe;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
pub mod vxlan;

pub use l4::{icmp, proto, tcp, udp};

/// A header field: its byte range from the header's first byte.
pub type Field = std::ops::Range<usize>;

/// The bytes do not hold the header they start, or its lengths disagree with them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("malformed header")]
pub struct Malformed;

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

/// The 6 bytes of a MAC address field.
#[inline(always)]
fn mac(b: &[u8], f: Field) -> [u8; 6] {
    let mut a = [0; 6];
    a.copy_from_slice(&b[f]);
    a
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
        put_be16(&mut h, ipv4::field::CHECKSUM.start, c);
        assert_eq!(fold_checksum(ones_sum(&h)), 0);
    }
}
