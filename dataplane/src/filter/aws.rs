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
    pub own_ports: Vec<u16>,
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

    /// DHCP, the metadata and time services, and our own VXLAN copies: never mirrored.
    /// Every mirrored packet pays for this, so the common tests are branch-free.
    #[inline(always)]
    pub fn never_mirrored(&self, p: &Packet) -> bool {
        let udp = p.key[field::CLASS] == u32::from(proto::UDP) | field::CLASS_PORTS;
        let dhcp = |port: u16| port.wrapping_sub(DHCP_PORTS.0) <= DHCP_PORTS.1 - DHCP_PORTS.0;
        if udp & (dhcp(p.sport()) | dhcp(p.dport())) {
            return true;
        }
        if p.ipv6 {
            let src = p.src();
            return METADATA_V6.contains(&src) || METADATA_V6.contains(&p.dst()) || udp && self.own_ports.contains(&p.dport()) && self.own_ips_v6.contains(&src);
        }
        let (src, dst) = (p.src_v4(), p.dst_v4());
        let meta = |a: u32| (a == METADATA_V4[0]) | (a == METADATA_V4[1]);
        meta(src) | meta(dst) || udp && self.own_ports.contains(&p.dport()) && self.own_ips.contains(&src)
    }

    /// DNS (TCP or UDP port 53) to or from a VPC resolver. The workers never ask: the
    /// compiled classifiers hold the resolvers as rules ([`Classifier::build`](super::Classifier::build)); this is the
    /// linear model's test.
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
    fn never_mirrored_traffic() {
        let ex = Exclusions::new(&[v4([10, 0, 0, 2])], &[]);
        let dhcp = edit(tcp4([0, 0, 0, 0], [255, 255, 255, 255], 68, 67), |f| f.protocol = proto::UDP);
        assert!(ex.never_mirrored(&dhcp));
        assert!(ex.never_mirrored(&tcp4([10, 0, 0, 5], [169, 254, 169, 254], 40000, 80)));
        assert!(ex.never_mirrored(&tcp4([169, 254, 169, 123], [10, 0, 0, 5], 123, 123)));
        let md6 = edit(tcp4([0; 4], [0; 4], 1, 80), |f| {
            f.ipv6 = true;
            f.dst = [0xfd00_0ec2, 0, 0, 0x254];
        });
        assert!(ex.never_mirrored(&md6));
        assert!(!ex.never_mirrored(&tcp4([10, 0, 0, 5], [10, 0, 0, 6], 68, 67)), "DHCP ports over TCP are not DHCP");
        let own = edit(tcp4([192, 0, 2, 1], [192, 0, 2, 10], 50000, 4789), |f| f.protocol = proto::UDP);
        assert!(!ex.never_mirrored(&own));
        let ex2 = Exclusions { own_ips: vec![v4([192, 0, 2, 1])], own_ports: vec![4789], ..ex.clone() };
        assert!(ex2.never_mirrored(&own));
        let mirror6 = [0x2001_0db8, 0, 2, 1];
        let own6 = edit(tcp4([0; 4], [0; 4], 50000, 4789), |f| {
            f.protocol = proto::UDP;
            f.ipv6 = true;
            f.src = mirror6;
            f.dst = [0x2001_0db8, 0, 2, 0x10];
        });
        assert!(!ex2.never_mirrored(&own6), "an IPv6 packet from another address");
        let ex3 = Exclusions { own_ips_v6: vec![mirror6], ..ex2.clone() };
        assert!(ex3.never_mirrored(&own6), "our own IPv6 copy");
        assert!(!ex3.never_mirrored(&edit(own6.clone(), |f| f.dport = 4790)), "another UDP port");

        assert!(ex.resolver_dns(&tcp4([10, 0, 0, 5], [169, 254, 169, 253], 3000, 53)));
        assert!(ex.resolver_dns(&tcp4([10, 0, 0, 2], [10, 0, 0, 5], 53, 3000)), "replies from a configured resolver");
        assert!(!ex.resolver_dns(&tcp4([10, 0, 0, 5], [8, 8, 8, 8], 3000, 53)), "other DNS servers are ordinary traffic");
    }
}
