//! AWS's policy: the traffic that is never mirrored whatever the rules say (DHCP, the
//! metadata and time services, our own copies), and the DNS to the VPC resolver that only
//! filters with the `amazon-dns` network service mirror.

use crate::parse::{field, Packet};
use crate::wire::proto;

/// Traffic SPEC.md never mirrors whatever the rules say, and the DNS that only `amazon-dns`
/// filters mirror.
#[derive(Clone, Debug, Default)]
pub struct Exclusions {
    /// VPC resolver addresses: 169.254.169.253 plus configured ones.
    pub resolvers_v4: Vec<u32>,
    /// fd00:ec2::253 plus configured ones.
    pub resolvers_v6: Vec<[u32; 4]>,
    /// Outer source addresses of our own copies, and their UDP destination ports: such
    /// packets are our VXLAN copies coming back, never mirrored again.
    pub own_ips: Vec<u32>,
    /// The same for copies with an outer IPv6 header.
    pub own_ips_v6: Vec<[u32; 4]>,
    /// The UDP destination ports of our own copies.
    pub own_ports: PortSet,
}

/// A set of UDP ports, a bit each (8 KiB): every mirrored UDP packet asks it, and asking is
/// a load and a bit test, where searching a list was a call that made the whole check save
/// and restore every register.
#[derive(Clone, PartialEq, Eq)]
pub struct PortSet(Box<[u64; PortSet::WORDS]>);

impl PortSet {
    const WORDS: usize = (u16::MAX as usize + 1) / 64;

    /// Whether `port` is in the set.
    #[inline(always)]
    pub fn contains(&self, port: u16) -> bool {
        self.0[usize::from(port >> 6)] >> (port & 63) & 1 != 0
    }

    /// The ports in the set, ascending.
    pub fn iter(&self) -> impl Iterator<Item = u16> + '_ {
        (0..=u16::MAX).filter(|&p| self.contains(p))
    }
}

impl Default for PortSet {
    fn default() -> Self {
        PortSet(vec![0; Self::WORDS].into_boxed_slice().try_into().expect("WORDS words"))
    }
}

impl FromIterator<u16> for PortSet {
    fn from_iter<I: IntoIterator<Item = u16>>(ports: I) -> Self {
        let mut set = PortSet::default();
        for p in ports {
            set.0[usize::from(p >> 6)] |= 1 << (p & 63);
        }
        set
    }
}

impl std::fmt::Debug for PortSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.iter()).finish()
    }
}

/// Why a packet a session accepted is never mirrored all the same.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Exclusion {
    /// DHCP (UDP ports 67 and 68).
    Dhcp,
    /// To or from the instance metadata or time service.
    MetadataService,
    /// One of traffic-mirror's own VXLAN copies coming back.
    OwnCopy,
}

impl Exclusion {
    /// "dhcp", "metadata-service" or "own-copy", as `explain` names them.
    pub fn name(self) -> &'static str {
        match self {
            Exclusion::Dhcp => "dhcp",
            Exclusion::MetadataService => "metadata-service",
            Exclusion::OwnCopy => "own-copy",
        }
    }
}

/// The instance metadata and time services (IPv4).
pub const METADATA_V4: [u32; 2] = [0xa9fe_a9fe, 0xa9fe_a97b];
/// The instance metadata and time services (IPv6: fd00:ec2::254, fd00:ec2::123).
pub const METADATA_V6: [[u32; 4]; 2] = [[0xfd00_0ec2, 0, 0, 0x254], [0xfd00_0ec2, 0, 0, 0x123]];
/// The VPC resolver (169.254.169.253).
pub const RESOLVER_V4: u32 = 0xa9fe_a9fd;
/// The VPC resolver (fd00:ec2::253).
pub const RESOLVER_V6: [u32; 4] = [0xfd00_0ec2, 0, 0, 0x253];
pub(super) const DNS_PORT: u16 = 53;
/// DHCP's server and client ports.
const DHCP_PORTS: (u16, u16) = (67, 68);

impl Exclusions {
    /// Exclusions with AWS's resolver addresses and the given extra ones.
    pub fn new(extra_v4: &[u32], extra_v6: &[[u32; 4]]) -> Self {
        Exclusions {
            resolvers_v4: [RESOLVER_V4].iter().chain(extra_v4).copied().collect(),
            resolvers_v6: [RESOLVER_V6].iter().chain(extra_v6).copied().collect(),
            ..Exclusions::default()
        }
    }

    /// Why a packet is never mirrored, if it is: DHCP, the metadata and time services, our
    /// own VXLAN copies. Every mirrored packet pays for this, so the common tests are
    /// branch-free.
    #[inline(always)]
    pub fn never_mirrored(&self, p: &Packet) -> Option<Exclusion> {
        let udp = p.key[field::CLASS] == u32::from(proto::UDP) | field::CLASS_PORTS;
        let dhcp = |port: u16| port.wrapping_sub(DHCP_PORTS.0) <= DHCP_PORTS.1 - DHCP_PORTS.0;
        if udp & (dhcp(p.sport()) | dhcp(p.dport())) {
            return Some(Exclusion::Dhcp);
        }
        if p.ipv6 {
            let src = p.src();
            if METADATA_V6.contains(&src) || METADATA_V6.contains(&p.dst()) {
                return Some(Exclusion::MetadataService);
            }
            return (udp && self.own_ports.contains(p.dport()) && self.own_ips_v6.contains(&src)).then_some(Exclusion::OwnCopy);
        }
        let (src, dst) = (p.src_v4(), p.dst_v4());
        let meta = |a: u32| (a == METADATA_V4[0]) | (a == METADATA_V4[1]);
        if meta(src) | meta(dst) {
            return Some(Exclusion::MetadataService);
        }
        (udp && self.own_ports.contains(p.dport()) && self.own_ips.contains(&src)).then_some(Exclusion::OwnCopy)
    }

    /// DNS (TCP or UDP port 53) to or from a VPC resolver. The workers never ask: the
    /// compiled classifiers hold the resolvers as rules ([`Classifier::build`](super::Classifier::build)); this is the
    /// linear model's test, and what `explain` words a set's "no rule decided" by.
    pub fn resolver_dns(&self, p: &Packet) -> bool {
        if !p.has_ports() || p.sport() != DNS_PORT && p.dport() != DNS_PORT {
            return false;
        }
        let (to, from) = if p.ipv6 {
            (self.resolvers_v6.contains(&p.dst()), self.resolvers_v6.contains(&p.src()))
        } else {
            (self.resolvers_v4.contains(&p.dst_v4()), self.resolvers_v4.contains(&p.src_v4()))
        };
        to && p.dport() == DNS_PORT || from && p.sport() == DNS_PORT
    }

    /// The resolver addresses of one family, as key words (IPv4 in the first).
    pub fn resolvers(&self, ipv6: bool) -> Vec<[u32; 4]> {
        if ipv6 {
            self.resolvers_v6.clone()
        } else {
            self.resolvers_v4.iter().map(|&a| [a, 0, 0, 0]).collect()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{edit, tcp4, v4};
    use super::*;

    #[test]
    fn a_port_set_holds_exactly_its_ports_at_both_ends_of_the_range() {
        let set: PortSet = [0, 63, 64, 4789, u16::MAX].into_iter().collect();
        assert_eq!(set.iter().collect::<Vec<_>>(), [0, 63, 64, 4789, u16::MAX]);
        for p in [1, 62, 65, 4788, 4790, u16::MAX - 1] {
            assert!(!set.contains(p), "{p}");
        }
        assert_eq!(PortSet::default().iter().count(), 0);
        assert_eq!(format!("{set:?}"), "{0, 63, 64, 4789, 65535}");
    }

    #[test]
    fn never_mirrored_traffic() {
        let ex = Exclusions::new(&[v4([10, 0, 0, 2])], &[]);
        let dhcp = edit(tcp4([0, 0, 0, 0], [255, 255, 255, 255], 68, 67), |f| f.protocol = proto::UDP);
        assert_eq!(ex.never_mirrored(&dhcp), Some(Exclusion::Dhcp));
        assert_eq!(ex.never_mirrored(&tcp4([10, 0, 0, 5], [169, 254, 169, 254], 40000, 80)), Some(Exclusion::MetadataService));
        assert_eq!(ex.never_mirrored(&tcp4([169, 254, 169, 123], [10, 0, 0, 5], 123, 123)), Some(Exclusion::MetadataService));
        let md6 = edit(tcp4([0; 4], [0; 4], 1, 80), |f| {
            f.ipv6 = true;
            f.dst = [0xfd00_0ec2, 0, 0, 0x254];
        });
        assert_eq!(ex.never_mirrored(&md6), Some(Exclusion::MetadataService));
        assert_eq!(ex.never_mirrored(&tcp4([10, 0, 0, 5], [10, 0, 0, 6], 68, 67)), None, "DHCP ports over TCP are not DHCP");
        let own = edit(tcp4([192, 0, 2, 1], [192, 0, 2, 10], 50000, 4789), |f| f.protocol = proto::UDP);
        assert_eq!(ex.never_mirrored(&own), None);
        let ex2 = Exclusions { own_ips: vec![v4([192, 0, 2, 1])], own_ports: [4789].into_iter().collect(), ..ex.clone() };
        assert_eq!(ex2.never_mirrored(&own), Some(Exclusion::OwnCopy));
        let mirror6 = [0x2001_0db8, 0, 2, 1];
        let own6 = edit(tcp4([0; 4], [0; 4], 50000, 4789), |f| {
            f.protocol = proto::UDP;
            f.ipv6 = true;
            f.src = mirror6;
            f.dst = [0x2001_0db8, 0, 2, 0x10];
        });
        assert_eq!(ex2.never_mirrored(&own6), None, "an IPv6 packet from another address");
        let ex3 = Exclusions { own_ips_v6: vec![mirror6], ..ex2.clone() };
        assert_eq!(ex3.never_mirrored(&own6), Some(Exclusion::OwnCopy), "our own IPv6 copy");
        assert_eq!(ex3.never_mirrored(&edit(own6, |f| f.dport = 4790)), None, "another UDP port");

        assert!(ex.resolver_dns(&tcp4([10, 0, 0, 5], [169, 254, 169, 253], 3000, 53)));
        assert!(ex.resolver_dns(&tcp4([10, 0, 0, 2], [10, 0, 0, 5], 53, 3000)), "replies from a configured resolver");
        assert!(!ex.resolver_dns(&tcp4([10, 0, 0, 5], [8, 8, 8, 8], 3000, 53)), "other DNS servers are ordinary traffic");
    }
}
