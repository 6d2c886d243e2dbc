//! IPv4 (RFC 791) headers.

use super::{be16, be32, fold_checksum, ones_sum, put_be16, put_be32, Malformed};

/// Field ranges, from the header's first byte.
pub mod field {
    use crate::wire::Field;

    /// Version (high nibble) and header length in 32-bit words (IHL, low nibble).
    pub const VER_IHL: usize = 0;
    /// DSCP and ECN.
    pub const DSCP_ECN: usize = 1;
    /// Total length: header and payload.
    pub const LENGTH: Field = 2..4;
    /// Identification.
    pub const IDENT: Field = 4..6;
    /// Flags (high 3 bits) and fragment offset in 8-byte units.
    pub const FLAGS_FRAG: Field = 6..8;
    /// Time to live.
    pub const TTL: usize = 8;
    /// The payload's IANA protocol number.
    pub const PROTOCOL: usize = 9;
    /// Header checksum.
    pub const CHECKSUM: Field = 10..12;
    /// Source address.
    pub const SRC: Field = 12..16;
    /// Destination address.
    pub const DST: Field = 16..20;
}

/// A header without options.
pub const HEADER_LEN: usize = 20;
/// Don't fragment.
pub const FLAG_DF: u16 = 0x4000;
/// More fragments follow.
pub const FLAG_MF: u16 = 0x2000;
/// The fragment offset's bits of [`field::FLAGS_FRAG`].
pub const FRAG_OFFSET_MASK: u16 = 0x1fff;

/// A view of an IPv4 packet (header first).
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

    /// A view of a buffer that holds a whole IPv4 header, its options included: version 4,
    /// a header length of at least 20 bytes, and that many bytes present. The total length
    /// is not checked: a packet may be cut short, or followed by padding.
    #[inline]
    pub fn new_checked(buffer: T) -> Result<Self, Malformed> {
        let p = Packet { buffer };
        let len = p.buffer.as_ref().len();
        if len < HEADER_LEN || p.version() != 4 || p.header_len() < HEADER_LEN || p.header_len() > len {
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
    /// 4 for IPv4.
    pub fn version(&self) -> u8 {
        self.buffer.as_ref()[field::VER_IHL] >> 4
    }

    /// The header's length in bytes, options included.
    #[inline(always)]
    pub fn header_len(&self) -> usize {
        usize::from(self.buffer.as_ref()[field::VER_IHL] & 0x0f) * 4
    }

    /// The packet's length in bytes as its header says: header and payload.
    #[inline(always)]
    pub fn total_len(&self) -> usize {
        usize::from(be16(self.buffer.as_ref(), field::LENGTH.start))
    }

    #[inline(always)]
    /// The identification, shared by a packet's fragments.
    pub fn ident(&self) -> u16 {
        be16(self.buffer.as_ref(), field::IDENT.start)
    }

    /// Flags and fragment offset, as one word ([`FLAG_DF`], [`FLAG_MF`], [`FRAG_OFFSET_MASK`]).
    #[inline(always)]
    pub fn flags_frag(&self) -> u16 {
        be16(self.buffer.as_ref(), field::FLAGS_FRAG.start)
    }

    #[inline(always)]
    /// The DF flag: do not fragment.
    pub fn dont_frag(&self) -> bool {
        self.flags_frag() & FLAG_DF != 0
    }

    #[inline(always)]
    /// The MF flag: more fragments follow.
    pub fn more_frags(&self) -> bool {
        self.flags_frag() & FLAG_MF != 0
    }

    /// The fragment offset, in 8-byte units: not 0 for every fragment but the first.
    #[inline(always)]
    pub fn frag_offset(&self) -> u16 {
        self.flags_frag() & FRAG_OFFSET_MASK
    }

    #[inline(always)]
    /// Time to live.
    pub fn ttl(&self) -> u8 {
        self.buffer.as_ref()[field::TTL]
    }

    /// The IANA protocol number of the payload.
    #[inline(always)]
    pub fn protocol(&self) -> u8 {
        self.buffer.as_ref()[field::PROTOCOL]
    }

    #[inline(always)]
    /// The header checksum as sent.
    pub fn checksum(&self) -> u16 {
        be16(self.buffer.as_ref(), field::CHECKSUM.start)
    }

    /// The source address as a number (10.0.0.1 is 0x0a000001).
    #[inline(always)]
    pub fn src_addr(&self) -> u32 {
        be32(self.buffer.as_ref(), field::SRC.start)
    }

    /// The destination address, as [`src_addr`](Self::src_addr).
    #[inline(always)]
    pub fn dst_addr(&self) -> u32 {
        be32(self.buffer.as_ref(), field::DST.start)
    }

    /// True when the header checksum holds (over the header and its options).
    pub fn verify_checksum(&self) -> bool {
        fold_checksum(ones_sum(&self.buffer.as_ref()[..self.header_len()])) == 0
    }

    /// The payload bytes present: from the end of the header to the total length, or to the
    /// end of the buffer when it is shorter. Never panics on a checked view.
    #[inline(always)]
    pub fn payload(&self) -> &[u8] {
        let b = self.buffer.as_ref();
        let start = self.header_len();
        &b[start..self.total_len().clamp(start, b.len())]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    /// Sets version 4 and a header of `len` bytes (a multiple of 4, 20 to 60).
    #[inline(always)]
    pub fn set_header_len(&mut self, len: usize) {
        self.buffer.as_mut()[field::VER_IHL] = 0x40 | (len / 4) as u8;
    }

    #[inline(always)]
    /// Sets the total length (header and payload).
    pub fn set_total_len(&mut self, len: u16) {
        put_be16(self.buffer.as_mut(), field::LENGTH.start, len);
    }

    #[inline(always)]
    /// Sets the identification.
    pub fn set_ident(&mut self, ident: u16) {
        put_be16(self.buffer.as_mut(), field::IDENT.start, ident);
    }

    #[inline(always)]
    /// Sets flags and fragment offset (see [`Packet::flags_frag`]).
    pub fn set_flags_frag(&mut self, v: u16) {
        put_be16(self.buffer.as_mut(), field::FLAGS_FRAG.start, v);
    }

    #[inline(always)]
    /// Sets the time to live.
    pub fn set_ttl(&mut self, ttl: u8) {
        self.buffer.as_mut()[field::TTL] = ttl;
    }

    #[inline(always)]
    /// Sets the payload's protocol.
    pub fn set_protocol(&mut self, protocol: u8) {
        self.buffer.as_mut()[field::PROTOCOL] = protocol;
    }

    #[inline(always)]
    /// Sets the header checksum (see [`fill_checksum`](Self::fill_checksum)).
    pub fn set_checksum(&mut self, c: u16) {
        put_be16(self.buffer.as_mut(), field::CHECKSUM.start, c);
    }

    #[inline(always)]
    /// Sets the source address (as [`Packet::src_addr`] reads it).
    pub fn set_src_addr(&mut self, a: u32) {
        put_be32(self.buffer.as_mut(), field::SRC.start, a);
    }

    #[inline(always)]
    /// Sets the destination address.
    pub fn set_dst_addr(&mut self, a: u32) {
        put_be32(self.buffer.as_mut(), field::DST.start, a);
    }

    /// Computes and writes the header checksum (over the header and its options).
    pub fn fill_checksum(&mut self) {
        self.set_checksum(0);
        let c = fold_checksum(ones_sum(&self.buffer.as_ref()[..self.header_len()]));
        self.set_checksum(c);
    }
}

/// The ones'-complement sum (not yet folded) of the pseudo-header that TCP's and UDP's
/// checksums cover (RFC 9293 3.1): both addresses, the protocol and the segment's length.
pub fn pseudo_sum(src: u32, dst: u32, protocol: u8, len: usize) -> u32 {
    (src >> 16) + (src & 0xffff) + (dst >> 16) + (dst & 0xffff) + u32::from(protocol) + len as u32
}

/// An IPv4 header without options, to write or as read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Repr {
    /// Source address, as [`Packet::src_addr`].
    pub src: u32,
    /// Destination address.
    pub dst: u32,
    /// The payload's IANA protocol number.
    pub protocol: u8,
    /// Time to live.
    pub ttl: u8,
    /// Identification.
    pub ident: u16,
    /// Flags and fragment offset, as [`Packet::flags_frag`].
    pub flags_frag: u16,
    /// Bytes after the header.
    pub payload_len: usize,
}

impl Repr {
    /// Reads a checked packet's header (its options are left out).
    pub fn parse<T: AsRef<[u8]>>(p: &Packet<T>) -> Result<Repr, Malformed> {
        let payload_len = p.total_len().checked_sub(p.header_len()).ok_or(Malformed)?;
        Ok(Repr {
            src: p.src_addr(),
            dst: p.dst_addr(),
            protocol: p.protocol(),
            ttl: p.ttl(),
            ident: p.ident(),
            flags_frag: p.flags_frag(),
            payload_len,
        })
    }

    /// Writes the header, checksum included, at the front of `buf` ([`HEADER_LEN`] bytes).
    pub fn emit(&self, buf: &mut [u8]) {
        let mut p = Packet::new_unchecked(&mut buf[..HEADER_LEN]);
        p.set_header_len(HEADER_LEN);
        p.buffer[field::DSCP_ECN] = 0;
        p.set_total_len((HEADER_LEN + self.payload_len) as u16);
        p.set_ident(self.ident);
        p.set_flags_frag(self.flags_frag);
        p.set_ttl(self.ttl);
        p.set_protocol(self.protocol);
        p.set_src_addr(self.src);
        p.set_dst_addr(self.dst);
        p.fill_checksum();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::testing::captured;
    use crate::wire::{ethernet, proto};

    fn ip(frame: &[u8]) -> Packet<&[u8]> {
        Packet::new_checked(&frame[ethernet::HEADER_LEN..]).unwrap()
    }

    #[test]
    fn reads_a_captured_tcp_syn() {
        let p = ip(captured::TCP_SYN);
        assert_eq!((p.version(), p.header_len(), p.total_len()), (4, 20, 60));
        assert_eq!((p.ident(), p.dont_frag(), p.more_frags(), p.frag_offset()), (0x749d, true, false, 0));
        assert_eq!((p.ttl(), p.protocol(), p.checksum()), (64, proto::TCP, 0xb20a));
        assert_eq!((p.src_addr(), p.dst_addr()), (0x0a09_0001, 0x0a09_0002));
        assert!(p.verify_checksum());
        assert_eq!(p.payload().len(), 40, "the TCP header and its options");
    }

    #[test]
    fn writes_what_it_reads() {
        for frame in [captured::TCP_SYN, captured::UDP_DNS, captured::ICMP_ECHO_REQUEST] {
            let p = ip(frame);
            let repr = Repr::parse(&p).unwrap();
            let mut buf = [0u8; HEADER_LEN];
            repr.emit(&mut buf);
            assert_eq!(&buf[..], &frame[14..34]);
        }
    }

    #[test]
    fn a_header_must_be_whole_and_version_4() {
        let h = &captured::UDP_DNS[14..];
        assert!(Packet::new_checked(&h[..19]).is_err());
        let mut v6 = h.to_vec();
        v6[0] = 0x65;
        assert!(Packet::new_checked(&v6[..]).is_err());
        let mut short_ihl = h.to_vec();
        short_ihl[0] = 0x44;
        assert!(Packet::new_checked(&short_ihl[..]).is_err());
        // Options announced but cut: the header is not all there.
        let mut options = h.to_vec();
        options[0] = 0x4f;
        assert!(Packet::new_checked(&options[..]).is_err(), "60 header bytes announced, {} present", options.len());
    }

    #[test]
    fn payload_stops_at_the_buffer_or_the_total_length() {
        let mut padded = captured::UDP_DNS[14..].to_vec();
        padded.extend_from_slice(&[0; 16]);
        assert_eq!(Packet::new_checked(&padded[..]).unwrap().payload().len(), 10, "Ethernet padding is not payload");
        let cut = &captured::UDP_DNS[14..36];
        assert_eq!(Packet::new_checked(cut).unwrap().payload().len(), 2);
        let mut lying = captured::UDP_DNS[14..].to_vec();
        lying[2..4].copy_from_slice(&4u16.to_be_bytes());
        assert_eq!(Packet::new_checked(&lying[..]).unwrap().payload(), &[] as &[u8], "a total length below the header's");
    }
}
