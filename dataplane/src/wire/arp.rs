//! ARP for IPv4 over Ethernet (RFC 826): the packet, and the frames around it that the control
//! thread reads and sends on mirror ports (behind at most one VLAN tag).

use super::ethernet::{self, untag};
use super::{be16, mac, put_be16, Malformed};
use std::net::Ipv4Addr;

/// Field ranges, from the ARP packet's first byte.
pub mod field {
    use crate::wire::Field;

    /// Hardware type.
    pub const HTYPE: Field = 0..2;
    /// Protocol type (an ethertype).
    pub const PTYPE: Field = 2..4;
    /// Hardware address length.
    pub const HLEN: usize = 4;
    /// Protocol address length.
    pub const PLEN: usize = 5;
    /// Operation.
    pub const OPER: Field = 6..8;
    /// Sender hardware address.
    pub const SHA: Field = 8..14;
    /// Sender protocol address.
    pub const SPA: Field = 14..18;
    /// Target hardware address.
    pub const THA: Field = 18..24;
    /// Target protocol address.
    pub const TPA: Field = 24..28;
}

/// An ARP packet for IPv4 over Ethernet.
pub const LEN: usize = 28;
/// Hardware type 1: Ethernet.
pub const HTYPE_ETHERNET: u16 = 1;
/// Operation 1: who has the target protocol address?
pub const OP_REQUEST: u16 = 1;
/// Operation 2: the sender has it.
pub const OP_REPLY: u16 = 2;
/// VLAN tags an ARP frame may carry: a mirror network is tagged once or not at all.
pub const MAX_TAGS: usize = 1;
/// Ethernet's minimum frame, before the FCS: shorter frames are padded.
pub const MIN_FRAME_LEN: usize = 60;

fn ip(b: &[u8], f: super::Field) -> Ipv4Addr {
    Ipv4Addr::new(b[f.start], b[f.start + 1], b[f.start + 2], b[f.start + 3])
}

/// A view of an ARP packet.
#[derive(Clone, Copy, Debug)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// A view without a check: the accessors panic on fewer than [`LEN`] bytes.
    pub const fn new_unchecked(buffer: T) -> Self {
        Packet { buffer }
    }

    /// A view of a buffer that holds an IPv4-over-Ethernet-sized packet.
    pub fn new_checked(buffer: T) -> Result<Self, Malformed> {
        if buffer.as_ref().len() < LEN {
            return Err(Malformed);
        }
        Ok(Packet { buffer })
    }

    /// [`HTYPE_ETHERNET`] for Ethernet.
    pub fn hardware_type(&self) -> u16 {
        be16(self.buffer.as_ref(), field::HTYPE.start)
    }

    /// The protocol's ethertype: [`ethernet::TYPE_IPV4`] for IPv4.
    pub fn protocol_type(&self) -> u16 {
        be16(self.buffer.as_ref(), field::PTYPE.start)
    }

    /// Bytes of a hardware address: 6 for Ethernet.
    pub fn hardware_len(&self) -> u8 {
        self.buffer.as_ref()[field::HLEN]
    }

    /// Bytes of a protocol address: 4 for IPv4.
    pub fn protocol_len(&self) -> u8 {
        self.buffer.as_ref()[field::PLEN]
    }

    /// [`OP_REQUEST`] or [`OP_REPLY`].
    pub fn operation(&self) -> u16 {
        be16(self.buffer.as_ref(), field::OPER.start)
    }

    /// The sender's MAC address.
    pub fn sender_hardware_addr(&self) -> [u8; 6] {
        mac(self.buffer.as_ref(), field::SHA)
    }

    /// The sender's IPv4 address.
    pub fn sender_protocol_addr(&self) -> Ipv4Addr {
        ip(self.buffer.as_ref(), field::SPA)
    }

    /// The target's MAC address (zero in a request).
    pub fn target_hardware_addr(&self) -> [u8; 6] {
        mac(self.buffer.as_ref(), field::THA)
    }

    /// The IPv4 address asked about or answered for.
    pub fn target_protocol_addr(&self) -> Ipv4Addr {
        ip(self.buffer.as_ref(), field::TPA)
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    /// Sets the hardware and protocol types and lengths of IPv4 over Ethernet.
    pub fn set_ipv4_over_ethernet(&mut self) {
        let b = self.buffer.as_mut();
        put_be16(b, field::HTYPE.start, HTYPE_ETHERNET);
        put_be16(b, field::PTYPE.start, ethernet::TYPE_IPV4);
        b[field::HLEN] = 6;
        b[field::PLEN] = 4;
    }

    /// Sets the operation: [`OP_REQUEST`] or [`OP_REPLY`].
    pub fn set_operation(&mut self, op: u16) {
        put_be16(self.buffer.as_mut(), field::OPER.start, op);
    }

    /// Sets the sender's MAC address.
    pub fn set_sender_hardware_addr(&mut self, a: [u8; 6]) {
        self.buffer.as_mut()[field::SHA].copy_from_slice(&a);
    }

    /// Sets the sender's IPv4 address.
    pub fn set_sender_protocol_addr(&mut self, a: Ipv4Addr) {
        self.buffer.as_mut()[field::SPA].copy_from_slice(&a.octets());
    }

    /// Sets the target's MAC address.
    pub fn set_target_hardware_addr(&mut self, a: [u8; 6]) {
        self.buffer.as_mut()[field::THA].copy_from_slice(&a);
    }

    /// Sets the target's IPv4 address.
    pub fn set_target_protocol_addr(&mut self, a: Ipv4Addr) {
        self.buffer.as_mut()[field::TPA].copy_from_slice(&a.octets());
    }
}

/// An ARP packet for IPv4 over Ethernet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Repr {
    /// [`OP_REQUEST`] or [`OP_REPLY`].
    pub op: u16,
    /// The sender's MAC address.
    pub sha: [u8; 6],
    /// The sender's IPv4 address.
    pub spa: Ipv4Addr,
    /// The target's MAC address.
    pub tha: [u8; 6],
    /// The target's IPv4 address.
    pub tpa: Ipv4Addr,
}

impl Repr {
    /// Reads a packet; `Err` unless it is IPv4 over Ethernet.
    pub fn parse<T: AsRef<[u8]>>(p: &Packet<T>) -> Result<Repr, Malformed> {
        if p.hardware_type() != HTYPE_ETHERNET || p.protocol_type() != ethernet::TYPE_IPV4 || p.hardware_len() != 6 || p.protocol_len() != 4 {
            return Err(Malformed);
        }
        Ok(Repr {
            op: p.operation(),
            sha: p.sender_hardware_addr(),
            spa: p.sender_protocol_addr(),
            tha: p.target_hardware_addr(),
            tpa: p.target_protocol_addr(),
        })
    }

    /// Writes the packet at the front of `buf` ([`LEN`] bytes).
    pub fn emit(&self, buf: &mut [u8]) {
        let mut p = Packet::new_unchecked(&mut buf[..LEN]);
        p.set_ipv4_over_ethernet();
        p.set_operation(self.op);
        p.set_sender_hardware_addr(self.sha);
        p.set_sender_protocol_addr(self.spa);
        p.set_target_hardware_addr(self.tha);
        p.set_target_protocol_addr(self.tpa);
    }
}

/// True for an ARP frame behind at most [`MAX_TAGS`] VLAN tags: what the workers hand to the
/// control thread.
#[inline]
pub fn is_arp(frame: &[u8]) -> bool {
    untag(frame, MAX_TAGS).is_ok_and(|u| u.ethertype == ethernet::TYPE_ARP)
}

/// Reads an ARP frame: the VLAN it came on and its packet.
pub fn parse_frame(frame: &[u8]) -> Result<(Option<u16>, Repr), Malformed> {
    let u = untag(frame, MAX_TAGS)?;
    if u.ethertype != ethernet::TYPE_ARP {
        return Err(Malformed);
    }
    let p = Packet::new_checked(frame.get(u.offset..).ok_or(Malformed)?)?;
    Ok((u.vlan, Repr::parse(&p)?))
}

/// An ARP frame to send: from `src` to `dst`, on `vlan`, padded to [`MIN_FRAME_LEN`].
pub fn frame(dst: [u8; 6], src: [u8; 6], vlan: Option<u16>, repr: &Repr) -> Vec<u8> {
    let eth = ethernet::Repr { dst, src, vlans: vlan.as_slice(), ethertype: ethernet::TYPE_ARP };
    let mut f = vec![0; (eth.header_len() + LEN).max(MIN_FRAME_LEN)];
    let at = eth.emit(&mut f);
    repr.emit(&mut f[at..]);
    f
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::testing::captured;

    const A: [u8; 6] = [2, 0, 0, 0, 0x0a, 1];
    const B: [u8; 6] = [2, 0, 0, 0, 0x0b, 1];

    fn request() -> Repr {
        Repr { op: OP_REQUEST, sha: A, spa: Ipv4Addr::new(10, 9, 0, 1), tha: [0; 6], tpa: Ipv4Addr::new(10, 9, 0, 2) }
    }

    #[test]
    fn reads_a_captured_request_and_reply() {
        assert_eq!(parse_frame(captured::ARP_REQUEST), Ok((None, request())));
        let reply = Repr { op: OP_REPLY, sha: B, spa: Ipv4Addr::new(10, 9, 0, 2), tha: A, tpa: Ipv4Addr::new(10, 9, 0, 1) };
        assert_eq!(parse_frame(captured::ARP_REPLY), Ok((None, reply)));
        assert!(is_arp(captured::ARP_REQUEST) && !is_arp(captured::TCP_SYN));
    }

    #[test]
    fn writes_what_the_kernel_wrote_padded_to_the_minimum() {
        let f = frame([0xff; 6], A, None, &request());
        assert_eq!(f.len(), MIN_FRAME_LEN);
        assert_eq!(&f[..captured::ARP_REQUEST.len()], captured::ARP_REQUEST);
        assert!(f[captured::ARP_REQUEST.len()..].iter().all(|&b| b == 0));
    }

    #[test]
    fn frames_behind_one_vlan_tag_round_trip() {
        let f = frame([0xff; 6], A, Some(42), &request());
        assert_eq!(f.len(), MIN_FRAME_LEN);
        assert_eq!(&f[12..16], &[0x81, 0x00, 0, 42]);
        assert!(is_arp(&f));
        assert_eq!(parse_frame(&f), Ok((Some(42), request())));
        assert_eq!(parse_frame(&f[..30]), Err(Malformed));
        assert_eq!(parse_frame(&[0u8; 60]), Err(Malformed));
    }

    #[test]
    fn only_ipv4_over_ethernet_is_read() {
        let mut f = captured::ARP_REQUEST.to_vec();
        f[14 + field::PTYPE.start] = 0x86;
        assert_eq!(parse_frame(&f), Err(Malformed));
        let mut two_tags = frame([0xff; 6], A, Some(1), &request());
        two_tags.splice(12..12, [0x88, 0xa8, 0, 7]);
        assert!(!is_arp(&two_tags), "behind two tags");
    }
}
