//! Ethernet II frames, the 802.1Q/802.1ad tags between their addresses and their ethertype,
//! and [`untag`], the one walk over those tags.

use super::{be16, mac, put_be16, Malformed};

/// Field ranges: of the untagged header, and of a VLAN tag (from the tag's first byte).
pub mod field {
    use crate::wire::Field;

    /// Destination MAC address.
    pub const DST: Field = 0..6;
    /// Source MAC address.
    pub const SRC: Field = 6..12;
    /// The payload's ethertype, or the first tag's TPID.
    pub const ETHERTYPE: Field = 12..14;
    /// In a tag: priority, drop eligibility and the VLAN id.
    pub const TAG_TCI: Field = 0..2;
    /// In a tag: the ethertype after it (the payload's, or the next tag's TPID).
    pub const TAG_ETHERTYPE: Field = 2..4;
}

/// An untagged header.
pub const HEADER_LEN: usize = 14;
/// Bytes of a MAC address.
pub const ADDR_LEN: usize = 6;
/// An 802.1Q/802.1ad tag: TCI (2 bytes) then the next ethertype (2 bytes).
pub const VLAN_TAG_LEN: usize = 4;
/// The VLAN id's bits of a TCI.
pub const VLAN_ID_MASK: u16 = 0x0fff;

/// IPv4.
pub const TYPE_IPV4: u16 = 0x0800;
/// ARP.
pub const TYPE_ARP: u16 = 0x0806;
/// IPv6.
pub const TYPE_IPV6: u16 = 0x86dd;
/// An 802.1Q VLAN tag (C-tag).
pub const TYPE_VLAN: u16 = 0x8100;
/// An 802.1ad VLAN tag (S-tag, QinQ's outer tag).
pub const TYPE_QINQ: u16 = 0x88a8;
/// Pre-standard QinQ outer tag, still seen on older switches.
pub const TYPE_QINQ_OLD: u16 = 0x9100;
/// LLDP.
pub const TYPE_LLDP: u16 = 0x88cc;

/// True for the ethertypes that introduce a VLAN tag.
#[inline(always)]
pub fn is_vlan(ethertype: u16) -> bool {
    matches!(ethertype, TYPE_VLAN | TYPE_QINQ | TYPE_QINQ_OLD)
}

/// A view of an Ethernet frame.
#[derive(Clone, Copy, Debug)]
pub struct Frame<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Frame<T> {
    /// A view without a length check: the accessors panic on fewer than [`HEADER_LEN`] bytes.
    #[inline(always)]
    pub const fn new_unchecked(buffer: T) -> Self {
        Frame { buffer }
    }

    /// A view of a buffer that holds at least the untagged header.
    #[inline]
    pub fn new_checked(buffer: T) -> Result<Self, Malformed> {
        if buffer.as_ref().len() < HEADER_LEN {
            return Err(Malformed);
        }
        Ok(Frame { buffer })
    }

    /// The destination MAC address.
    #[inline(always)]
    pub fn dst_addr(&self) -> [u8; 6] {
        mac(self.buffer.as_ref(), field::DST)
    }

    /// The source MAC address.
    #[inline(always)]
    pub fn src_addr(&self) -> [u8; 6] {
        mac(self.buffer.as_ref(), field::SRC)
    }

    /// The ethertype after the addresses: the payload's, or a VLAN tag's TPID.
    #[inline(always)]
    pub fn ethertype(&self) -> u16 {
        be16(self.buffer.as_ref(), field::ETHERTYPE.start)
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Frame<T> {
    #[inline(always)]
    /// Sets the destination MAC address.
    pub fn set_dst_addr(&mut self, a: [u8; 6]) {
        self.buffer.as_mut()[field::DST].copy_from_slice(&a);
    }

    #[inline(always)]
    /// Sets the source MAC address.
    pub fn set_src_addr(&mut self, a: [u8; 6]) {
        self.buffer.as_mut()[field::SRC].copy_from_slice(&a);
    }
}

/// What follows a frame's VLAN tags.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Untagged {
    /// The ethertype after the tags walked: a VLAN TPID still when the frame has more.
    pub ethertype: u16,
    /// Where that ethertype's header starts (14, 18, 22, ...).
    pub offset: usize,
    /// The outermost tag's VLAN id, if the frame is tagged.
    pub vlan: Option<u16>,
}

/// Walks at most `max_tags` VLAN tags (802.1Q, 802.1ad and the older QinQ TPID) to the
/// ethertype behind them. A frame with more tags than that comes back with a VLAN ethertype,
/// which no caller takes for its own; `Err` when the frame ends inside its header or a tag.
#[inline(always)]
pub fn untag(frame: &[u8], max_tags: usize) -> Result<Untagged, Malformed> {
    if frame.len() < HEADER_LEN {
        return Err(Malformed);
    }
    let mut u = Untagged { ethertype: be16(frame, field::ETHERTYPE.start), offset: HEADER_LEN, vlan: None };
    for _ in 0..max_tags {
        if !is_vlan(u.ethertype) {
            break;
        }
        let tag = frame.get(u.offset..u.offset + VLAN_TAG_LEN).ok_or(Malformed)?;
        u.vlan.get_or_insert(be16(tag, field::TAG_TCI.start) & VLAN_ID_MASK);
        u.ethertype = be16(tag, field::TAG_ETHERTYPE.start);
        u.offset += VLAN_TAG_LEN;
    }
    Ok(u)
}

/// An Ethernet header to write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Repr<'a> {
    /// Destination MAC address.
    pub dst: [u8; 6],
    /// Source MAC address.
    pub src: [u8; 6],
    /// VLAN ids, outermost first: an 802.1ad (QinQ) tag for each but the last, which is an
    /// 802.1Q tag.
    pub vlans: &'a [u16],
    /// The payload's ethertype, after the tags.
    pub ethertype: u16,
}

impl Repr<'_> {
    /// Bytes [`emit`](Self::emit) writes.
    pub fn header_len(&self) -> usize {
        HEADER_LEN + VLAN_TAG_LEN * self.vlans.len()
    }

    /// Writes the header at the front of `buf`, which must hold [`header_len`](Self::header_len)
    /// bytes; returns that length.
    pub fn emit(&self, buf: &mut [u8]) -> usize {
        let mut f = Frame::new_unchecked(&mut *buf);
        f.set_dst_addr(self.dst);
        f.set_src_addr(self.src);
        let mut at = field::ETHERTYPE.start;
        for (i, &vid) in self.vlans.iter().enumerate() {
            let tpid = if i + 1 < self.vlans.len() { TYPE_QINQ } else { TYPE_VLAN };
            put_be16(buf, at, tpid);
            put_be16(buf, at + 2 + field::TAG_TCI.start, vid & VLAN_ID_MASK);
            at += VLAN_TAG_LEN;
        }
        put_be16(buf, at, self.ethertype);
        at + 2
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::testing::{captured, FrameBuilder};

    #[test]
    fn reads_a_captured_frames_header() {
        let f = Frame::new_checked(captured::ARP_REQUEST).unwrap();
        assert_eq!(f.dst_addr(), [0xff; 6]);
        assert_eq!(f.src_addr(), [2, 0, 0, 0, 0x0a, 1]);
        assert_eq!(f.ethertype(), TYPE_ARP);
        assert_eq!(untag(captured::ARP_REQUEST, 2), Ok(Untagged { ethertype: TYPE_ARP, offset: HEADER_LEN, vlan: None }));
        assert_eq!(Frame::new_checked(&captured::TCP_SYN[..13]).map(|_| ()), Err(Malformed));
    }

    #[test]
    fn writes_what_it_reads() {
        let f = Frame::new_unchecked(captured::TCP_SYN);
        let repr = Repr { dst: f.dst_addr(), src: f.src_addr(), vlans: &[], ethertype: f.ethertype() };
        let mut buf = [0u8; HEADER_LEN];
        assert_eq!(repr.emit(&mut buf), HEADER_LEN);
        assert_eq!(buf, captured::TCP_SYN[..HEADER_LEN]);
    }

    #[test]
    fn untag_walks_at_most_the_tags_it_is_asked_to() {
        let one = FrameBuilder::raw(TYPE_ARP, &[0; 28]).vlans(&[42]).build();
        assert_eq!(untag(&one, 1), Ok(Untagged { ethertype: TYPE_ARP, offset: 18, vlan: Some(42) }));
        assert_eq!(untag(&one, 0), Ok(Untagged { ethertype: TYPE_VLAN, offset: 14, vlan: None }));
        let two = FrameBuilder::ipv4([1, 1, 1, 1], [2, 2, 2, 2]).udp(1, 2).vlans(&[100, 200]).build();
        assert_eq!(&two[12..14], &TYPE_QINQ.to_be_bytes(), "the outer tag is 802.1ad");
        assert_eq!(untag(&two, 2), Ok(Untagged { ethertype: TYPE_IPV4, offset: 22, vlan: Some(100) }));
        assert_eq!(untag(&two, 1).map(|u| u.ethertype), Ok(TYPE_VLAN), "a tag left over");
        let three = FrameBuilder::ipv4([1, 1, 1, 1], [2, 2, 2, 2]).udp(1, 2).vlans(&[1, 2, 3]).build();
        assert!(is_vlan(untag(&three, 2).unwrap().ethertype));
        assert_eq!(untag(&one[..17], 1), Err(Malformed), "the frame ends inside its tag");
        assert_eq!(untag(&one[..17], 0).map(|u| u.ethertype), Ok(TYPE_VLAN), "no tag walked, none read");
        let mut old = one.clone();
        old[12..14].copy_from_slice(&TYPE_QINQ_OLD.to_be_bytes());
        assert_eq!(untag(&old, 1).map(|u| u.ethertype), Ok(TYPE_ARP));
    }

    #[test]
    fn vlan_ids_keep_twelve_bits() {
        let mut buf = [0u8; 18];
        Repr { dst: [1; 6], src: [2; 6], vlans: &[0xf123], ethertype: TYPE_IPV4 }.emit(&mut buf);
        assert_eq!(&buf[12..18], &[0x81, 0x00, 0x01, 0x23, 0x08, 0x00]);
    }
}
