//! Wire formats, written as smoltcp writes them: each header is a view over bytes
//! (`Packet<T: AsRef<[u8]>>`, `Frame<T>` for Ethernet) that reads and writes its fields at the
//! byte ranges of its `field` table, with `new_checked` as the one length check; a header
//! that is built whole has a `Repr` that emits it (and parses it back where that is useful).
//!
//! - [`ethernet`]: Ethernet II and VLAN tags, with [`ethernet::untag`], the one walk over the
//!   tags that parsing, the ARP snoop and the neighbour code all use;
//! - [`ipv4`]; [`ipv6`], with the walk over the extension headers SPEC.md names;
//! - [`l4`]: the IANA protocol numbers, UDP, TCP and ICMP;
//! - [`arp`] and [`ndp`] (Neighbor Discovery: how the control thread resolves next hops),
//!   and [`vxlan`] (a copy's encapsulation);
//! - [`probe`]: a load balancer's health checks (TCP, or ICMP echo over IPv4 and ICMPv6 echo
//!   over IPv6) and their answers;
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
pub mod ndp;
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

/// Ones'-complement sum of 16-bit big-endian words (RFC 1071), an odd last byte padded with
/// zero: not complemented, and folded only into 17 bits, so that sums of several parts can
/// be added before [`fold_checksum`] finishes them. Read four bytes at a time (a sum of
/// 32-bit words folds to the sum of their 16-bit halves, as 2^16 is 1 in ones' complement):
/// an IPv6 copy's UDP checksum covers the whole inner frame.
pub fn ones_sum(b: &[u8]) -> u32 {
    let mut acc = 0u64;
    let mut words = b.chunks_exact(4);
    for w in &mut words {
        acc += u64::from(u32::from_be_bytes([w[0], w[1], w[2], w[3]]));
    }
    let mut tail = [0u8; 4];
    tail[..words.remainder().len()].copy_from_slice(words.remainder());
    acc += u64::from(u32::from_be_bytes(tail));
    let acc = (acc & 0xffff_ffff) + (acc >> 32);
    let acc = ((acc & 0xffff_ffff) + (acc >> 32)) as u32;
    (acc & 0xffff) + (acc >> 16)
}

/// [`ones_sum`] of the first `len` bytes of `segments` taken as one run of bytes (a packet
/// spread over several buffers). A segment that starts at an odd offset of the run holds the
/// other halves of its words: its sum, byte-swapped, is their part (RFC 1071, 2(B)).
pub fn ones_sum_chained<'a>(segments: impl IntoIterator<Item = &'a [u8]>, mut len: usize) -> u32 {
    let (mut sum, mut odd) = (0u32, false);
    for seg in segments {
        if len == 0 {
            break;
        }
        let part = &seg[..seg.len().min(len)];
        let s = !fold_checksum(ones_sum(part));
        sum += u32::from(if odd { s.swap_bytes() } else { s });
        odd ^= part.len() % 2 == 1;
        len -= part.len();
        sum = (sum & 0xffff) + (sum >> 16);
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
    fn the_word_sum_equals_the_sum_of_16_bit_words() {
        // The obvious sum, 16 bits at a time, folded at the end.
        let slow = |b: &[u8]| {
            let mut s: u64 = b.chunks(2).map(|c| u64::from(c[0]) << 8 | u64::from(*c.get(1).unwrap_or(&0))).sum();
            while s > 0xffff {
                s = (s & 0xffff) + (s >> 16);
            }
            !(s as u16)
        };
        let bytes: Vec<u8> = (0..9000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
        for len in [0, 1, 2, 3, 4, 5, 7, 8, 63, 64, 1514, 9000] {
            assert_eq!(fold_checksum(ones_sum(&bytes[..len])), slow(&bytes[..len]), "{len} bytes");
        }
        let ones = [0xff; 8999];
        assert_eq!(fold_checksum(ones_sum(&ones)), slow(&ones), "every word 0xffff");
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
