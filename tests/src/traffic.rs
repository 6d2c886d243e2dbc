//! Reproducible test traffic: mixed frames (sizes, IPv4 with options and fragments, IPv6 with
//! extension headers, one or two VLAN tags, ARP/LLDP, DHCP, DNS to the VPC resolver, the
//! metadata service, damaged and malformed frames, jumbo frames), each recorded with what the
//! generator put in it, so tests can compute what must be mirrored without parsing the bytes
//! back. The choices are made here; the bytes are written by the dataplane's `FrameBuilder`.

use dataplane::parse::Fields;
use dataplane::wire::testing::FrameBuilder;
use dataplane::wire::{arp, ethernet};
use std::net::Ipv4Addr;

/// A deterministic PRNG (xorshift64*): the same seed gives the same capture on every
/// machine and with every crate version.
#[derive(Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next_u64() % (hi - lo + 1)
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.next_u64() as usize % items.len()]
    }

    pub fn chance(&mut self, percent: u64) -> bool {
        self.next_u64() % 100 < percent
    }
}

/// The monitored hosts' MACs (frames from them arrive on the host side).
pub const HOSTS: [[u8; 6]; 3] = [[2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2], [2, 0, 0, 0, 0, 3]];
/// The router beyond the uplink.
pub const ROUTER: [u8; 6] = [2, 0, 0, 0, 1, 1];
/// Host addresses, by host.
pub const HOST_V4: [[u8; 4]; 3] = [[10, 0, 0, 5], [10, 0, 0, 6], [10, 0, 0, 7]];
pub const HOST_V6: [[u8; 16]; 3] = [v6(5), v6(6), v6(7)];
/// Addresses beyond the router.
pub const REMOTE_V4: [[u8; 4]; 4] = [[198, 51, 100, 1], [198, 51, 100, 2], [203, 0, 113, 9], [10, 1, 0, 20]];
pub const REMOTE_V6: [[u8; 16]; 2] = [v6r(1), v6r(2)];
pub const METADATA: [u8; 4] = [169, 254, 169, 254];
pub const RESOLVER: [u8; 4] = [169, 254, 169, 253];

const fn v6(last: u8) -> [u8; 16] {
    [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, last]
}

const fn v6r(last: u8) -> [u8; 16] {
    [0x20, 0x01, 0x0d, 0xb8, 0xff, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, last]
}

/// Which side of the link a frame enters on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    /// From a monitored host (received on the host port).
    Host,
    /// From the network, to a host (received on the uplink port).
    Uplink,
}

/// A generated frame and what is in it.
#[derive(Clone, Debug)]
pub struct Frame {
    pub bytes: Vec<u8>,
    /// The IP fields as SPEC.md's evaluation sees them; `None` for non-IP and malformed frames.
    pub packet: Option<Fields>,
    /// Index of the monitored host the frame is from or to, if any.
    pub host: Option<usize>,
}

/// `n` mixed frames for `side`, from `seed`.
pub fn mixed(seed: u64, n: usize, side: Side) -> Vec<Frame> {
    let mut rng = Rng::new(seed);
    (0..n).map(|i| one(&mut rng, i as u32, side)).collect()
}

/// Frames that only vary in size and flow, all IPv4/IPv6 TCP/UDP: for benchmarks.
pub fn sized(seed: u64, n: usize, sizes: &[usize], side: Side) -> Vec<Frame> {
    let mut rng = Rng::new(seed);
    (0..n)
        .map(|i| {
            let size = *rng.pick(sizes);
            let host = rng.range(0, 2) as usize;
            let proto = if rng.chance(70) { 6 } else { 17 };
            let sport = rng.range(1024, 65535) as u16;
            let dport = *rng.pick(&[80u16, 443, 53, 8080, 5000]);
            let (src, dst) = endpoints_v4(side, host, *rng.pick(&REMOTE_V4));
            ipv4_frame(side, host, &[], src, dst, &[], 0, L4::Ports(proto, sport, dport), size, i as u32)
        })
        .collect()
}

/// A UDP frame from host 0 to 198.51.100.1, `size` bytes, whose payload starts with `seq`
/// (big-endian) right after the UDP header, at byte 42.
pub fn udp4(seq: u32, sport: u16, dport: u16, size: usize) -> Frame {
    ipv4_frame(Side::Host, 0, &[], HOST_V4[0], REMOTE_V4[0], &[], 0, L4::Ports(17, sport, dport), size, seq)
}

/// A TCP frame from host 0 to 198.51.100.1, `size` bytes.
pub fn tcp4(seq: u32, sport: u16, dport: u16, size: usize) -> Frame {
    ipv4_frame(Side::Host, 0, &[], HOST_V4[0], REMOTE_V4[0], &[], 0, L4::Ports(6, sport, dport), size, seq)
}

fn endpoints_v4(side: Side, host: usize, remote: [u8; 4]) -> ([u8; 4], [u8; 4]) {
    match side {
        Side::Host => (HOST_V4[host], remote),
        Side::Uplink => (remote, HOST_V4[host]),
    }
}

fn endpoints_v6(side: Side, host: usize, remote: [u8; 16]) -> ([u8; 16], [u8; 16]) {
    match side {
        Side::Host => (HOST_V6[host], remote),
        Side::Uplink => (remote, HOST_V6[host]),
    }
}

fn one(rng: &mut Rng, seq: u32, side: Side) -> Frame {
    let host = rng.range(0, 2) as usize;
    let tags: Vec<u16> = match rng.range(0, 9) {
        0 => vec![100],
        1 => vec![200, 300],
        _ => vec![],
    };
    let size = *rng.pick(&[60usize, 64, 128, 256, 512, 594, 1024, 1514, 1518]);
    let size = if rng.chance(1) { 9000 } else { size };
    let sport = rng.range(1024, 65535) as u16;
    let dport = *rng.pick(&[22u16, 53, 80, 443, 8080, 5000, 123]);
    match rng.range(0, 19) {
        0..=5 => {
            let (src, dst) = endpoints_v4(side, host, *rng.pick(&REMOTE_V4));
            let (sp, dp) = if side == Side::Host { (sport, dport) } else { (dport, sport) };
            let opts: &[u8] = if rng.chance(10) { &[1, 1, 1, 0] } else { &[] };
            ipv4_frame(side, host, &tags, src, dst, opts, 0, L4::Ports(6, sp, dp), size, seq)
        }
        6..=8 => {
            let (src, dst) = endpoints_v4(side, host, *rng.pick(&REMOTE_V4));
            let (sp, dp) = if side == Side::Host { (sport, dport) } else { (dport, sport) };
            ipv4_frame(side, host, &tags, src, dst, &[], 0, L4::Ports(17, sp, dp), size, seq)
        }
        9 => {
            let (src, dst) = endpoints_v4(side, host, *rng.pick(&REMOTE_V4));
            let echo = L4::Echo(if side == Side::Host { 8 } else { 0 }, 0x1200 | host as u16);
            ipv4_frame(side, host, &tags, src, dst, &[], 0, echo, size.min(1000), seq)
        }
        10 => {
            // A first fragment (ports present) or a later one (no ports).
            let (src, dst) = endpoints_v4(side, host, *rng.pick(&REMOTE_V4));
            let later = rng.chance(50);
            let frag = if later { 185 } else { 0x2000 };
            let l4 = if later { L4::Fragment } else { L4::Ports(17, sport, dport) };
            ipv4_frame(side, host, &tags, src, dst, &[], frag, l4, size.max(100), seq)
        }
        11..=13 => {
            let (src, dst) = endpoints_v6(side, host, *rng.pick(&REMOTE_V6));
            let (sp, dp) = if side == Side::Host { (sport, dport) } else { (dport, sport) };
            let proto = if rng.chance(60) { 6 } else { 17 };
            let ext = match rng.range(0, 3) {
                0 => Some(0),  // hop-by-hop
                1 => Some(60), // destination options
                _ => None,
            };
            ipv6_frame(side, host, &tags, src, dst, ext, L4::Ports(proto, sp, dp), size.max(86), seq)
        }
        14 => {
            let (src, dst) = endpoints_v6(side, host, *rng.pick(&REMOTE_V6));
            let echo = L4::Echo(if side == Side::Host { 128 } else { 129 }, 0x3400 | host as u16);
            ipv6_frame(side, host, &tags, src, dst, None, echo, size.clamp(86, 1000), seq)
        }
        15 => {
            // DNS to / from the VPC resolver, or the metadata service.
            let remote = if rng.chance(50) { RESOLVER } else { METADATA };
            let (src, dst) = endpoints_v4(side, host, remote);
            let (sp, dp) = match (remote == RESOLVER, side) {
                (true, Side::Host) => (sport, 53),
                (true, Side::Uplink) => (53, sport),
                (false, Side::Host) => (sport, 80),
                (false, Side::Uplink) => (80, sport),
            };
            let proto = if remote == RESOLVER { 17 } else { 6 };
            ipv4_frame(side, host, &tags, src, dst, &[], 0, L4::Ports(proto, sp, dp), size.min(512), seq)
        }
        16 => {
            // DHCP.
            let (src, dst, sp, dp) = match side {
                Side::Host => ([0, 0, 0, 0], [255, 255, 255, 255], 68, 67),
                Side::Uplink => ([10, 0, 0, 1], HOST_V4[host], 67, 68),
            };
            ipv4_frame(side, host, &tags, src, dst, &[], 0, L4::Ports(17, sp, dp), size.clamp(300, 600), seq)
        }
        17 => non_ip(side, host, rng.chance(50), seq),
        18 => {
            // Damaged: classified on what is intact (SPEC.md, rule 5), malformed only when
            // the IP header itself is broken.
            let (src, dst) = endpoints_v4(side, host, REMOTE_V4[0]);
            let mut f = ipv4_frame(side, host, &tags, src, dst, &[], 0, L4::Ports(6, sport, dport), size, seq);
            let l3 = 14 + 4 * tags.len();
            match seq % 5 {
                // The IPv4 header claims more bytes than the frame has.
                0 => f.bytes[l3 + 2..l3 + 4].copy_from_slice(&9999u16.to_be_bytes()),
                // The TCP header cut after its ports.
                1 => f.bytes.truncate(l3 + 20 + 10),
                // The TCP header cut inside its ports: addresses and protocol, no ports.
                2 => {
                    f.bytes.truncate(l3 + 20 + 2);
                    f.packet = f.packet.map(|p| Fields { has_ports: false, sport: 0, dport: 0, ..p });
                }
                // Malformed: a header length of 16 bytes, or the header cut.
                3 => {
                    f.bytes[l3] = 0x44;
                    f.packet = None;
                }
                _ => {
                    f.bytes.truncate(l3 + 12);
                    f.packet = None;
                }
            }
            f
        }
        _ => {
            // A jumbo UDP datagram.
            let (src, dst) = endpoints_v4(side, host, REMOTE_V4[1]);
            ipv4_frame(side, host, &tags, src, dst, &[], 0, L4::Ports(17, sport, 9000), 9000, seq)
        }
    }
}

fn macs(side: Side, host: usize) -> ([u8; 6], [u8; 6]) {
    match side {
        Side::Host => (ROUTER, HOSTS[host]),
        Side::Uplink => (HOSTS[host], ROUTER),
    }
}

/// What follows the IP header.
#[derive(Clone, Copy)]
enum L4 {
    /// TCP (a 20-byte data segment) or UDP, by protocol number, with ports.
    Ports(u8, u16, u16),
    /// An ICMP or ICMPv6 echo message: type and identifier (sequence 1).
    Echo(u8, u16),
    /// A later fragment's bytes of a UDP datagram: no header of its own.
    Fragment,
}

impl L4 {
    fn protocol(self, ipv6: bool) -> u8 {
        match self {
            L4::Ports(p, ..) => p,
            L4::Echo(..) => if ipv6 { 58 } else { 1 },
            L4::Fragment => 17,
        }
    }

    fn add(self, b: FrameBuilder) -> FrameBuilder {
        match self {
            L4::Ports(6, sport, dport) => b.tcp(sport, dport),
            L4::Ports(_, sport, dport) => b.udp(sport, dport),
            L4::Echo(kind, ident) => b.icmp_echo(kind, ident, 1),
            L4::Fragment => b.protocol(17),
        }
    }

    /// (source port, destination port) as SPEC.md's evaluation reads them.
    fn ports(self) -> (u16, u16) {
        match self {
            L4::Ports(_, s, d) => (s, d),
            L4::Echo(_, ident) => (ident, ident),
            L4::Fragment => (0, 0),
        }
    }
}

/// `b`'s frame, its payload padded to `size` bytes (4 at least) with a pattern that starts
/// with the sequence number, so every frame is unique. `lead` comes first in the payload.
fn finish(b: FrameBuilder, lead: &[u8], size: usize, seq: u32) -> Vec<u8> {
    let tag = seq.to_be_bytes();
    let start = b.header_len() + lead.len();
    let n = size.saturating_sub(start).max(4);
    let mut payload = lead.to_vec();
    payload.extend((0..n).map(|i| if i < 4 { tag[i] } else { (i as u8).wrapping_mul(31) ^ tag[3] }));
    b.payload(&payload).build()
}

#[allow(clippy::too_many_arguments)]
fn ipv4_frame(side: Side, host: usize, tags: &[u16], src: [u8; 4], dst: [u8; 4], options: &[u8], frag: u16, l4: L4, size: usize, seq: u32) -> Frame {
    let (dmac, smac) = macs(side, host);
    let b = FrameBuilder::ipv4(src, dst).macs(dmac, smac).vlans(tags).options(options).flags_frag(frag).ident(seq as u16);
    let lead: &[u8] = if matches!(l4, L4::Fragment) { &[0xee; 8] } else { &[] };
    let bytes = finish(l4.add(b), lead, size, seq);
    let proto = l4.protocol(false);
    let has_ports = matches!(l4, L4::Ports(..)) && frag & 0x1fff == 0;
    let (sport, dport) = l4.ports();
    Frame {
        packet: Some(Fields {
            l3_offset: (14 + 4 * tags.len()) as u16,
            ipv6: false,
            src: [u32::from_be_bytes(src), 0, 0, 0],
            dst: [u32::from_be_bytes(dst), 0, 0, 0],
            protocol: proto,
            has_ports,
            fragment: frag != 0,
            sport,
            dport,
        }),
        bytes,
        host: Some(host),
    }
}

#[allow(clippy::too_many_arguments)]
fn ipv6_frame(side: Side, host: usize, tags: &[u16], src: [u8; 16], dst: [u8; 16], ext: Option<u8>, l4: L4, size: usize, seq: u32) -> Frame {
    let (dmac, smac) = macs(side, host);
    let mut b = FrameBuilder::ipv6(src, dst).macs(dmac, smac).vlans(tags);
    if let Some(kind) = ext {
        // One 8-byte extension header holding a 4-byte PadN option.
        b = b.extension(kind, &[1, 4, 0, 0, 0, 0]);
    }
    let bytes = finish(l4.add(b), &[], size, seq);
    let (sport, dport) = l4.ports();
    let words = |a: [u8; 16]| [0, 4, 8, 12].map(|i| u32::from_be_bytes([a[i], a[i + 1], a[i + 2], a[i + 3]]));
    Frame {
        packet: Some(Fields {
            l3_offset: (14 + 4 * tags.len()) as u16,
            ipv6: true,
            src: words(src),
            dst: words(dst),
            protocol: l4.protocol(true),
            has_ports: matches!(l4, L4::Ports(..)),
            fragment: false,
            sport,
            dport,
        }),
        bytes,
        host: Some(host),
    }
}

fn non_ip(side: Side, host: usize, arp: bool, seq: u32) -> Frame {
    let (dmac, smac) = macs(side, host);
    let bytes = if arp {
        let request = arp::Repr { op: arp::OP_REQUEST, sha: smac, spa: Ipv4Addr::new(10, 0, 0, 5), tha: [0; 6], tpa: Ipv4Addr::new(10, 0, 0, 1) };
        let mut packet = [0u8; arp::LEN];
        request.emit(&mut packet);
        finish(FrameBuilder::raw(ethernet::TYPE_ARP, &[]).macs([0xff; 6], smac), &packet, 60, seq)
    } else {
        // LLDP to the nearest-bridge group address: a chassis id TLV.
        let mut tlv = vec![0x02, 0x07, 0x04];
        tlv.extend_from_slice(&dmac);
        finish(FrameBuilder::raw(ethernet::TYPE_LLDP, &[]).macs([0x01, 0x80, 0xc2, 0, 0, 0x0e], smac), &tlv, 60, seq)
    };
    Frame { bytes, packet: None, host: None }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_the_generator_records_is_what_parse_reads() {
        for side in [Side::Host, Side::Uplink] {
            for f in mixed(7, 5000, side) {
                let parsed = dataplane::parse::parse(&f.bytes).ok().map(|p| p.fields());
                assert_eq!(parsed, f.packet, "frame {:02x?}", &f.bytes[..f.bytes.len().min(64)]);
            }
        }
    }

    #[test]
    fn frames_are_unique_and_reproducible() {
        let a = mixed(1, 3000, Side::Host);
        let b = mixed(1, 3000, Side::Host);
        assert!(a.iter().zip(&b).all(|(x, y)| x.bytes == y.bytes));
        let set: std::collections::HashSet<&[u8]> = a.iter().map(|f| f.bytes.as_slice()).collect();
        assert_eq!(set.len(), a.len());
    }

    /// The bytes themselves are pinned: `tm-pcapgen` promises the same capture from the same
    /// seed with every version, and the builders underneath may change. (Changed on purpose
    /// once, when the damaged frames of SPEC.md rule 5 joined the mix.)
    #[test]
    fn captures_keep_their_bytes_across_versions() {
        let fnv = |frames: &[Frame]| {
            frames.iter().flat_map(|f| f.bytes.iter()).fold(0xcbf2_9ce4_8422_2325u64, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3))
        };
        assert_eq!(fnv(&mixed(1, 2000, Side::Host)), 6_781_101_641_531_384_812, "mixed, host");
        assert_eq!(fnv(&mixed(2, 2000, Side::Uplink)), 13_690_511_217_669_067_312, "mixed, uplink");
        assert_eq!(fnv(&sized(3, 2000, &[64, 594, 1518], Side::Host)), 17_264_482_820_873_564_882, "sized");
    }
}
