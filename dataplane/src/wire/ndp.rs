//! Neighbor Discovery for IPv6 (RFC 4861), the two messages that resolve addresses: Neighbor
//! Solicitation and Neighbor Advertisement, with their link-layer address options; and the
//! frames around them that the control thread reads and sends on mirror ports (IPv6 with no
//! extension header, behind at most one VLAN tag), as [`arp`](super::arp) does for IPv4.
//!
//! A message is valid only as RFC 4861 section 7.1 says: hop limit 255 (it cannot have been
//! forwarded), code 0, a good ICMPv6 checksum, at least 24 bytes, options of non-zero length.

use super::ethernet::{self, untag};
use super::ipv6::{self, pseudo_header_sum};
use super::{be16, fold_checksum, ones_sum, proto, put_be16, Malformed};
use std::net::Ipv6Addr;

/// Field ranges, from the ICMPv6 message's first byte.
pub mod field {
    use crate::wire::Field;

    /// ICMPv6 type: [`NEIGHBOR_SOLICIT`](super::NEIGHBOR_SOLICIT) or
    /// [`NEIGHBOR_ADVERT`](super::NEIGHBOR_ADVERT).
    pub const TYPE: usize = 0;
    /// ICMPv6 code: 0.
    pub const CODE: usize = 1;
    /// ICMPv6 checksum, over the pseudo-header and the message.
    pub const CHECKSUM: Field = 2..4;
    /// In an advertisement: the router, solicited and override flags (high bits).
    pub const FLAGS: usize = 4;
    /// The address solicited, or advertised.
    pub const TARGET: Field = 8..24;
    /// Where the options start.
    pub const OPTIONS: usize = 24;
    /// In an option: its type...
    pub const OPT_TYPE: usize = 0;
    /// ...and its length in 8-byte units, header included.
    pub const OPT_LEN: usize = 1;
}

/// A message without options.
pub const LEN: usize = field::OPTIONS;
/// A link-layer address option for Ethernet: type, length, the MAC.
pub const LL_OPTION_LEN: usize = 8;
/// ICMPv6 type 135.
pub const NEIGHBOR_SOLICIT: u8 = 135;
/// ICMPv6 type 136.
pub const NEIGHBOR_ADVERT: u8 = 136;
/// The hop limit every Neighbor Discovery message carries, and receivers insist on.
pub const HOP_LIMIT: u8 = 255;
/// Option 1: the sender's link-layer address (in a solicitation).
pub const OPT_SOURCE_LL: u8 = 1;
/// Option 2: the target's link-layer address (in an advertisement).
pub const OPT_TARGET_LL: u8 = 2;
/// Advertisement flag R: the sender is a router.
pub const FLAG_ROUTER: u8 = 0x80;
/// Advertisement flag S: an answer to a solicitation.
pub const FLAG_SOLICITED: u8 = 0x40;
/// Advertisement flag O: the address replaces a cached one.
pub const FLAG_OVERRIDE: u8 = 0x20;
/// VLAN tags a Neighbor Discovery frame may carry: a mirror network is tagged once or not at
/// all (as for ARP).
pub const MAX_TAGS: usize = 1;

/// A view of a Neighbor Solicitation or Advertisement (the ICMPv6 message).
#[derive(Clone, Copy, Debug)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// A view without a check: the accessors panic on fewer than [`LEN`] bytes.
    pub const fn new_unchecked(buffer: T) -> Self {
        Packet { buffer }
    }

    /// A view of a buffer that holds a message without options, at least.
    pub fn new_checked(buffer: T) -> Result<Self, Malformed> {
        if buffer.as_ref().len() < LEN {
            return Err(Malformed);
        }
        Ok(Packet { buffer })
    }

    /// The ICMPv6 type.
    pub fn msg_type(&self) -> u8 {
        self.buffer.as_ref()[field::TYPE]
    }

    /// The ICMPv6 code (0).
    pub fn code(&self) -> u8 {
        self.buffer.as_ref()[field::CODE]
    }

    /// The checksum as sent.
    pub fn checksum(&self) -> u16 {
        be16(self.buffer.as_ref(), field::CHECKSUM.start)
    }

    /// An advertisement's flags ([`FLAG_ROUTER`], [`FLAG_SOLICITED`], [`FLAG_OVERRIDE`]).
    pub fn flags(&self) -> u8 {
        self.buffer.as_ref()[field::FLAGS] & (FLAG_ROUTER | FLAG_SOLICITED | FLAG_OVERRIDE)
    }

    /// The address solicited or advertised.
    pub fn target_addr(&self) -> Ipv6Addr {
        let mut a = [0u8; 16];
        a.copy_from_slice(&self.buffer.as_ref()[field::TARGET]);
        Ipv6Addr::from(a)
    }

    /// True when the checksum holds for a message from `src` to `dst`.
    pub fn verify_checksum(&self, src: &Ipv6Addr, dst: &Ipv6Addr) -> bool {
        let b = self.buffer.as_ref();
        fold_checksum(pseudo_header_sum(&src.octets(), &dst.octets(), b.len() as u32, proto::ICMPV6) + ones_sum(b)) == 0
    }

    /// The MAC of the first link-layer address option of type `kind`; `Err` when the options
    /// are malformed (one of length 0, or running past the message).
    pub fn link_layer_option(&self, kind: u8) -> Result<Option<[u8; 6]>, Malformed> {
        let b = self.buffer.as_ref();
        let mut at = field::OPTIONS;
        let mut found = None;
        while at < b.len() {
            let len = usize::from(*b.get(at + field::OPT_LEN).ok_or(Malformed)?) * 8;
            if len == 0 || at + len > b.len() {
                return Err(Malformed);
            }
            if b[at + field::OPT_TYPE] == kind && len == LL_OPTION_LEN && found.is_none() {
                found = Some(super::mac(b, at + 2..at + 8));
            }
            at += len;
        }
        Ok(found)
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    /// Sets the ICMPv6 type, and code 0.
    pub fn set_msg_type(&mut self, t: u8) {
        let b = self.buffer.as_mut();
        b[field::TYPE] = t;
        b[field::CODE] = 0;
    }

    /// Sets an advertisement's flags (and clears the reserved bits).
    pub fn set_flags(&mut self, flags: u8) {
        self.buffer.as_mut()[field::FLAGS..field::TARGET.start].copy_from_slice(&[flags, 0, 0, 0]);
    }

    /// Sets the target address.
    pub fn set_target_addr(&mut self, a: Ipv6Addr) {
        self.buffer.as_mut()[field::TARGET].copy_from_slice(&a.octets());
    }

    /// Computes and writes the checksum of a message from `src` to `dst`.
    pub fn fill_checksum(&mut self, src: &Ipv6Addr, dst: &Ipv6Addr) {
        put_be16(self.buffer.as_mut(), field::CHECKSUM.start, 0);
        let b = self.buffer.as_ref();
        let c = fold_checksum(pseudo_header_sum(&src.octets(), &dst.octets(), b.len() as u32, proto::ICMPV6) + ones_sum(b));
        put_be16(self.buffer.as_mut(), field::CHECKSUM.start, c);
    }
}

/// Which message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Message {
    /// Who has the target address? (Its option: the sender's MAC.)
    Solicit,
    /// The sender has it. (Its option: the target's MAC.)
    Advert {
        /// [`FLAG_ROUTER`], [`FLAG_SOLICITED`], [`FLAG_OVERRIDE`].
        flags: u8,
    },
}

/// A Neighbor Solicitation or Advertisement.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Repr {
    /// Which message, with an advertisement's flags.
    pub message: Message,
    /// The address solicited or advertised.
    pub target: Ipv6Addr,
    /// The link-layer address option: the sender's MAC in a solicitation, the target's in
    /// an advertisement.
    pub link_layer: Option<[u8; 6]>,
}

impl Repr {
    /// Reads a message: `Err` unless it is a solicitation or advertisement with code 0 and
    /// well-formed options (the checksum is the frame's to check: it needs the addresses).
    pub fn parse<T: AsRef<[u8]>>(p: &Packet<T>) -> Result<Repr, Malformed> {
        let (message, option) = match p.msg_type() {
            NEIGHBOR_SOLICIT => (Message::Solicit, OPT_SOURCE_LL),
            NEIGHBOR_ADVERT => (Message::Advert { flags: p.flags() }, OPT_TARGET_LL),
            _ => return Err(Malformed),
        };
        if p.code() != 0 {
            return Err(Malformed);
        }
        Ok(Repr { message, target: p.target_addr(), link_layer: p.link_layer_option(option)? })
    }

    /// Bytes [`emit`](Self::emit) writes.
    pub fn len(&self) -> usize {
        LEN + if self.link_layer.is_some() { LL_OPTION_LEN } else { 0 }
    }

    /// Always false: a message has a header. (For clippy's `len` convention.)
    pub fn is_empty(&self) -> bool {
        false
    }

    /// Writes the message, checksum included for one from `src` to `dst`, at the front of
    /// `buf` ([`len`](Self::len) bytes).
    pub fn emit(&self, buf: &mut [u8], src: &Ipv6Addr, dst: &Ipv6Addr) {
        let buf = &mut buf[..self.len()];
        buf.fill(0);
        let mut p = Packet::new_unchecked(&mut *buf);
        let (kind, option) = match self.message {
            Message::Solicit => (NEIGHBOR_SOLICIT, OPT_SOURCE_LL),
            Message::Advert { flags } => {
                p.set_flags(flags);
                (NEIGHBOR_ADVERT, OPT_TARGET_LL)
            }
        };
        p.set_msg_type(kind);
        p.set_target_addr(self.target);
        if let Some(mac) = self.link_layer {
            let o = &mut buf[field::OPTIONS..field::OPTIONS + LL_OPTION_LEN];
            o[field::OPT_TYPE] = option;
            o[field::OPT_LEN] = (LL_OPTION_LEN / 8) as u8;
            o[2..].copy_from_slice(&mac);
        }
        Packet::new_unchecked(buf).fill_checksum(src, dst);
    }
}

/// A Neighbor Discovery frame as read: where it came from and what it says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Frame {
    /// The VLAN it came on.
    pub vlan: Option<u16>,
    /// The Ethernet source.
    pub src_mac: [u8; 6],
    /// The IPv6 source (unspecified in a duplicate address detection probe).
    pub src: Ipv6Addr,
    /// The IPv6 destination.
    pub dst: Ipv6Addr,
    /// The message.
    pub repr: Repr,
}

/// Where a Neighbor Discovery frame's ICMPv6 message starts, if `frame` is one: IPv6 behind at
/// most [`MAX_TAGS`] VLAN tags, ICMPv6 right after the fixed header, type 135 or 136. What the
/// workers test before handing a frame to the control thread: a few compares, no checksum.
#[inline]
fn message_at(frame: &[u8]) -> Option<usize> {
    let u = untag(frame, MAX_TAGS).ok()?;
    if u.ethertype != ethernet::TYPE_IPV6 {
        return None;
    }
    let ip = frame.get(u.offset..u.offset + ipv6::HEADER_LEN)?;
    let at = u.offset + ipv6::HEADER_LEN;
    let icmp = *frame.get(at + field::TYPE)?;
    (ip[ipv6::field::NEXT_HEADER] == proto::ICMPV6 && matches!(icmp, NEIGHBOR_SOLICIT | NEIGHBOR_ADVERT)).then_some(at)
}

/// True for a Neighbor Solicitation or Advertisement frame: what the workers hand to the
/// control thread.
#[inline]
pub fn is_ndp(frame: &[u8]) -> bool {
    message_at(frame).is_some()
}

/// Reads a Neighbor Discovery frame, valid as RFC 4861 section 7.1 requires.
pub fn parse_frame(frame: &[u8]) -> Result<Frame, Malformed> {
    let at = message_at(frame).ok_or(Malformed)?;
    let vlan = untag(frame, MAX_TAGS)?.vlan;
    let ip = ipv6::Repr::parse(&ipv6::Packet::new_checked(&frame[at - ipv6::HEADER_LEN..])?);
    if ip.hop_limit != HOP_LIMIT {
        return Err(Malformed);
    }
    // The message is what the payload length says, not the Ethernet padding after it.
    let message = frame.get(at..at + ip.payload_len).ok_or(Malformed)?;
    let p = Packet::new_checked(message)?;
    let (src, dst) = (ip.src, ip.dst);
    if !p.verify_checksum(&src, &dst) {
        return Err(Malformed);
    }
    let src_mac = ethernet::Frame::new_unchecked(frame).src_addr();
    Ok(Frame { vlan, src_mac, src, dst, repr: Repr::parse(&p)? })
}

/// A Neighbor Discovery frame to send: from `src_mac` and `src` to `dst_mac` and `dst`, on
/// `vlan`.
pub fn frame(dst_mac: [u8; 6], src_mac: [u8; 6], vlan: Option<u16>, src: Ipv6Addr, dst: Ipv6Addr, repr: &Repr) -> Vec<u8> {
    let eth = ethernet::Repr { dst: dst_mac, src: src_mac, vlans: vlan.as_slice(), ethertype: ethernet::TYPE_IPV6 };
    let mut f = vec![0; eth.header_len() + ipv6::HEADER_LEN + repr.len()];
    let at = eth.emit(&mut f);
    ipv6::Repr { src, dst, next_header: proto::ICMPV6, hop_limit: HOP_LIMIT, payload_len: repr.len() }.emit(&mut f[at..]);
    repr.emit(&mut f[at + ipv6::HEADER_LEN..], &src, &dst);
    f
}

/// The solicited-node multicast address of `a` (ff02::1:ffXX:XXXX, its last 24 bits): where a
/// solicitation for `a` goes, and what `a`'s owner listens to.
pub fn solicited_node(a: Ipv6Addr) -> Ipv6Addr {
    let o = a.octets();
    Ipv6Addr::new(0xff02, 0, 0, 0, 0, 1, 0xff00 | u16::from(o[13]), u16::from_be_bytes([o[14], o[15]]))
}

/// The Ethernet address of IPv6 multicast group `a` (33:33 and its last 32 bits, RFC 2464).
pub fn multicast_mac(a: Ipv6Addr) -> [u8; 6] {
    let o = a.octets();
    [0x33, 0x33, o[12], o[13], o[14], o[15]]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::testing::captured;

    const COLLECTOR: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 2, 0, 0, 0, 0x10);
    const MIRROR: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 2, 0, 0, 0, 1);
    const MIRROR_MAC: [u8; 6] = [2, 0, 0, 0, 0, 0x10];
    const COLLECTOR_MAC: [u8; 6] = [2, 0, 0, 0, 0, 0x20];

    #[test]
    fn reads_a_captured_solicitation() {
        let f = parse_frame(captured::NEIGHBOR_SOLICIT).unwrap();
        assert_eq!(f.vlan, None);
        assert_eq!((f.src_mac, f.src, f.dst), (COLLECTOR_MAC, COLLECTOR, solicited_node(MIRROR)));
        assert_eq!(f.repr, Repr { message: Message::Solicit, target: MIRROR, link_layer: Some(COLLECTOR_MAC) });
        assert_eq!(&captured::NEIGHBOR_SOLICIT[..6], &multicast_mac(solicited_node(MIRROR)));
        assert!(is_ndp(captured::NEIGHBOR_SOLICIT));
    }

    #[test]
    fn reads_a_captured_advertisement() {
        let f = parse_frame(captured::NEIGHBOR_ADVERT).unwrap();
        assert_eq!((f.src_mac, f.src, f.dst), (COLLECTOR_MAC, COLLECTOR, MIRROR));
        let flags = FLAG_SOLICITED | FLAG_OVERRIDE;
        assert_eq!(f.repr, Repr { message: Message::Advert { flags }, target: COLLECTOR, link_layer: Some(COLLECTOR_MAC) });
    }

    #[test]
    fn writes_what_the_kernel_wrote() {
        // The captured solicitation is the kernel's (the collector's); the same message
        // written here is byte for byte the same frame.
        let f = parse_frame(captured::NEIGHBOR_SOLICIT).unwrap();
        let again = frame(multicast_mac(f.dst), f.src_mac, None, f.src, f.dst, &f.repr);
        assert_eq!(&again[..], captured::NEIGHBOR_SOLICIT);
        let a = parse_frame(captured::NEIGHBOR_ADVERT).unwrap();
        assert_eq!(&frame(MIRROR_MAC, a.src_mac, None, a.src, a.dst, &a.repr)[..], captured::NEIGHBOR_ADVERT);
    }

    #[test]
    fn etherparse_agrees_on_the_checksums() {
        let ask = Repr { message: Message::Solicit, target: COLLECTOR, link_layer: Some(MIRROR_MAC) };
        let answer = Repr { message: Message::Advert { flags: FLAG_SOLICITED | FLAG_OVERRIDE }, target: MIRROR, link_layer: Some(MIRROR_MAC) };
        for (repr, dst) in [(ask, solicited_node(COLLECTOR)), (answer, COLLECTOR), (Repr { link_layer: None, ..ask }, COLLECTOR)] {
            for vlan in [None, Some(42)] {
                let f = frame([0x33; 6], MIRROR_MAC, vlan, MIRROR, dst, &repr);
                let p = etherparse::SlicedPacket::from_ethernet(&f).unwrap();
                let Some(etherparse::TransportSlice::Icmpv6(icmp)) = p.transport else { panic!("not ICMPv6: {f:02x?}") };
                assert!(icmp.is_checksum_valid(MIRROR.octets(), dst.octets()), "{repr:?}");
                let back = parse_frame(&f).unwrap();
                assert_eq!((back.vlan, back.src, back.dst, back.repr), (vlan, MIRROR, dst, repr));
            }
        }
    }

    #[test]
    fn only_valid_messages_are_read() {
        let good = captured::NEIGHBOR_SOLICIT.to_vec();
        let mut forwarded = good.clone();
        forwarded[14 + ipv6::field::HOP_LIMIT] = 254;
        assert_eq!(parse_frame(&forwarded), Err(Malformed), "hop limit below 255");
        let mut damaged = good.clone();
        damaged[14 + 40 + 10] ^= 1;
        assert_eq!(parse_frame(&damaged), Err(Malformed), "bad checksum");
        let mut zero_option = good.clone();
        zero_option[14 + 40 + field::OPTIONS + field::OPT_LEN] = 0;
        assert_eq!(parse_frame(&zero_option), Err(Malformed), "an option of length 0");
        assert_eq!(parse_frame(&good[..good.len() - 4]), Err(Malformed), "cut short of its payload length");
        let mut padded = good.clone();
        padded.extend_from_slice(&[0; 10]);
        assert!(parse_frame(&padded).is_ok(), "Ethernet padding after the message");
        assert!(!is_ndp(captured::ICMPV6_ECHO_REQUEST) && !is_ndp(captured::ARP_REQUEST) && !is_ndp(captured::MLD_REPORT));
        let mut two_tags = frame([0x33; 6], MIRROR_MAC, Some(1), MIRROR, COLLECTOR, &Repr { message: Message::Solicit, target: COLLECTOR, link_layer: None });
        two_tags.splice(12..12, [0x88, 0xa8, 0, 7]);
        assert!(!is_ndp(&two_tags), "behind two tags");
    }

    #[test]
    fn solicited_node_groups() {
        let a: Ipv6Addr = "fe80::2aa:ff:fe28:9c5a".parse().unwrap();
        assert_eq!(solicited_node(a), "ff02::1:ff28:9c5a".parse::<Ipv6Addr>().unwrap());
        assert_eq!(multicast_mac(solicited_node(a)), [0x33, 0x33, 0xff, 0x28, 0x9c, 0x5a]);
    }
}
