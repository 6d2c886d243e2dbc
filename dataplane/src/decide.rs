//! The per-frame decision, in one place: which sources see a frame, in which direction, which
//! session of each mirrors it, and the flow hash of its copies. The worker asks it once per
//! frame ([`Sources::decide`]) and builds what it answers.
//!
//! For one frame:
//! 1. [`parse`](crate::parse) reads its headers into the classification key; a frame that is
//!    not IP, or is malformed, is no candidate ([`NotMirrored`]).
//! 2. The sources that can see it were resolved once for its burst ([`Table::sources`]): the
//!    egress sources of the port it arrived on and the ingress sources of the port it leaves
//!    by. Of those, a source with a MAC sees only the frames from it (egress) or to it
//!    (ingress), and is found by that MAC ([`SourceSet::seeing`]).
//! 3. Each source that sees it looks its key up in its compiled filters
//!    ([`Classifier`](crate::filter::Classifier)), which answer the first session, by
//!    session number, whose filter accepts the frame: at most one copy per source.
//! 4. Once some session has accepted it, and only then, AWS's never-mirrored traffic is
//!    checked ([`Exclusions`](crate::filter::Exclusions)): DHCP, the metadata and time
//!    services and our own copies are [`NotMirrored::Excluded`], whatever the rules say.
//!    Otherwise the symmetric flow hash ([`flow_hash`]) is computed, once for all the frame's
//!    copies: it picks their UDP source port and a load balancer's collector.

use crate::hash::flow_hash;
use crate::parse::{parse_into, Packet, KEY_LEN};
use crate::table::{SourceRules, SourceSet, Table};
use crate::types::{Direction, NotMirrored, SessionIdx};
use crate::wire::ethernet;

/// One copy to make: of which session, in which direction, with which flow hash.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Mirror {
    /// Egress or ingress, as the source sees the frame.
    pub dir: Direction,
    /// The session that mirrors it.
    pub session: SessionIdx,
    /// The flow hash: picks the copy's UDP source port and collector.
    pub hash: u32,
}

/// The sources of one burst's frames, by direction: see [`Table::sources`].
pub struct Sources<'t> {
    table: &'t Table,
    egress: &'t SourceSet,
    ingress: &'t SourceSet,
}

impl Table {
    /// The sources that can see a burst received on port `rx_port` and leaving by `out_port`
    /// (the same port for a tap port): resolved once per burst, not per frame.
    #[inline(always)]
    pub fn sources(&self, rx_port: usize, out_port: usize) -> Sources<'_> {
        Sources { table: self, egress: &self.ports[rx_port].egress, ingress: &self.ports[out_port].ingress }
    }

    /// The flow hash of a packet a session accepted, or `None` when it is never mirrored.
    /// Out of line on purpose: inlined, the compiler hoists the hash out of the lookup loop and
    /// computes it for every packet, most of which no session takes.
    /// IPv6 packets go to their own copy, by a tail jump: there `p.ipv6` is known true,
    /// here false, so each copy holds one family's tests only, and the registers IPv6's
    /// tests need (our own IPv6 copies' addresses) are not saved and restored for IPv4 ones.
    #[inline(never)]
    fn accepted_hash(&self, p: &Packet) -> Option<u32> {
        if p.ipv6 {
            return self.accepted_hash_v6(p);
        }
        (!self.exclusions.never_mirrored(p)).then(|| flow_hash(p))
    }

    /// [`accepted_hash`](Self::accepted_hash) of an IPv6 packet.
    #[inline(never)]
    fn accepted_hash_v6(&self, p: &Packet) -> Option<u32> {
        (!self.exclusions.never_mirrored(p)).then(|| flow_hash(p))
    }
}

impl Sources<'_> {
    /// No source sees these frames: nothing to decide.
    pub fn is_empty(&self) -> bool {
        self.egress.is_empty() && self.ingress.is_empty()
    }

    /// Decides one frame, `wire_len` bytes long of which `frame` is the first segment: calls
    /// `copy` for each copy to make, egress ones first. `Err` says why the frame is no
    /// candidate at all. `p` is scratch for the parsed headers, kept by the caller across
    /// frames so that none pays for clearing it.
    #[inline(always)]
    pub fn decide(&self, frame: &[u8], wire_len: usize, p: &mut Packet, mut copy: impl FnMut(Mirror)) -> Result<(), NotMirrored> {
        parse_into(frame, wire_len, p)?;
        // Set once a session accepts: the flow hash, or None when the packet is excluded.
        let mut hash: Option<Option<u32>> = None;
        let (dst, rest) = frame.split_first_chunk::<{ ethernet::ADDR_LEN }>().expect("parse saw the Ethernet header");
        let src = rest.first_chunk().expect("parse saw the Ethernet header");
        self.visit(self.egress, Direction::Egress, src, p, &mut hash, &mut copy);
        self.visit(self.ingress, Direction::Ingress, dst, p, &mut hash, &mut copy);
        if hash == Some(None) {
            return Err(NotMirrored::Excluded);
        }
        Ok(())
    }

    /// The sources of one direction that see the frame, each looked up once.
    #[inline(always)]
    fn visit(&self, sources: &SourceSet, dir: Direction, mac: &[u8; 6], p: &Packet, hash: &mut Option<Option<u32>>, copy: &mut impl FnMut(Mirror)) {
        for s in sources.seeing(mac).into_iter().flatten() {
            let Some(session) = s.lookup(&p.key, p.ipv6) else { continue };
            let h = match *hash {
                Some(h) => h,
                None => *hash.insert(self.table.accepted_hash(p)),
            };
            match h {
                Some(hash) => copy(Mirror { dir, session, hash }),
                None => return,
            }
        }
    }
}

impl SourceRules {
    /// The session that mirrors a packet with this key (a [`Packet`]'s), if any.
    #[inline(always)]
    pub fn lookup(&self, key: &[u32; KEY_LEN], ipv6: bool) -> Option<SessionIdx> {
        let c = if ipv6 { &self.v6 } else { &self.v4 };
        c.lookup(key).map(|i| self.sessions[i])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encap::{Outer, OuterIp, Template, DEFAULT_TTL};
    use crate::filter::{Exclusions, Rule};
    use crate::table::{FilterRules, PortRules, SessionOut};
    use crate::types::{CounterSlot, PortRange, RuleAction};
    use crate::wire::testing::FrameBuilder;

    const HOST: [u8; 6] = [2, 0, 0, 0, 0, 1];
    const ROUTER: [u8; 6] = [2, 0, 0, 0, 1, 1];

    fn set(s: SourceRules) -> SourceSet {
        SourceSet::new([std::sync::Arc::new(s)]).unwrap()
    }

    fn accept(number: u16, protocol: Option<u8>, destination_ports: Option<PortRange>) -> Rule {
        Rule { number, action: RuleAction::Accept, protocol, source: None, destination: None, source_ports: None, destination_ports }
    }

    /// Port 0 (the host side) and port 1 (the uplink): session 0 mirrors UDP its host sends
    /// (egress, the host's MAC only), session 1 TCP to port 80 it receives (ingress, any MAC).
    fn table() -> Table {
        let udp = FilterRules { egress: vec![accept(1, Some(17), None)], ..FilterRules::default() };
        let web = FilterRules { ingress: vec![accept(1, Some(6), Some(PortRange { from: 80, to: 80 }))], ..FilterRules::default() };
        let ex = Exclusions::new(&[], &[]);
        let egress = SourceRules::build(Some(HOST), Direction::Egress, &[(SessionIdx(0), &udp)], &ex).unwrap();
        let ingress = SourceRules::build(None, Direction::Ingress, &[(SessionIdx(1), &web)], &ex).unwrap();
        let ip = OuterIp::V4 { src: [192, 0, 2, 1].into(), dst: [192, 0, 2, 10].into() };
        let outer = Outer { src_mac: [2; 6], dst_mac: [3; 6], vlan: None, ip, ttl: DEFAULT_TTL, dont_fragment: false, dst_port: 4789, vni: 7 };
        let out = |slot| SessionOut { slot: CounterSlot(slot), port: 2, max_inner: 128, templates: vec![Template::new(&outer)].into() };
        Table {
            generation: 1,
            ports: vec![
                PortRules { egress: set(egress), ingress: SourceSet::default() },
                PortRules { egress: SourceSet::default(), ingress: set(ingress) },
                PortRules::default(),
            ]
            .into(),
            sessions: vec![out(0), out(1)].into(),
            exclusions: ex,
        }
    }

    fn decide(t: &Table, frame: &[u8]) -> (Result<(), NotMirrored>, Vec<Mirror>) {
        let mut copies = Vec::new();
        let r = t.sources(0, 1).decide(frame, frame.len(), &mut Packet::default(), |m| copies.push(m));
        (r, copies)
    }

    #[test]
    fn each_source_that_sees_the_frame_mirrors_it_once() {
        let t = table();
        let udp = FrameBuilder::ipv4([10, 0, 0, 5], [198, 51, 100, 1]).macs(ROUTER, HOST).udp(5000, 53).build();
        let (r, copies) = decide(&t, &udp);
        assert_eq!(r, Ok(()));
        assert_eq!(copies.iter().map(|m| (m.dir, m.session)).collect::<Vec<_>>(), [(Direction::Egress, SessionIdx(0))]);
        let web = FrameBuilder::ipv4([10, 0, 0, 5], [198, 51, 100, 1]).macs(ROUTER, HOST).tcp(5000, 80).build();
        let (_, copies) = decide(&t, &web);
        assert_eq!(copies.iter().map(|m| (m.dir, m.session)).collect::<Vec<_>>(), [(Direction::Ingress, SessionIdx(1))]);
    }

    #[test]
    fn a_source_with_a_mac_sees_only_its_hosts_frames() {
        let t = table();
        let other_host = FrameBuilder::ipv4([10, 0, 0, 6], [198, 51, 100, 1]).macs(ROUTER, [2, 0, 0, 0, 0, 9]).udp(5000, 53).build();
        assert_eq!(decide(&t, &other_host), (Ok(()), vec![]));
    }

    #[test]
    fn copies_of_one_frame_share_its_flow_hash_and_both_directions_hash_alike() {
        let both = FilterRules { egress: vec![accept(1, None, None)], ingress: vec![accept(1, None, None)], amazon_dns: false };
        let ex = Exclusions::new(&[], &[]);
        let mut t2 = table();
        t2.ports[0].egress = set(SourceRules::build(None, Direction::Egress, &[(SessionIdx(0), &both)], &ex).unwrap());
        t2.ports[1].ingress = set(SourceRules::build(None, Direction::Ingress, &[(SessionIdx(1), &both)], &ex).unwrap());
        let out = FrameBuilder::ipv4([10, 0, 0, 5], [198, 51, 100, 1]).tcp(5000, 443).build();
        let back = FrameBuilder::ipv4([198, 51, 100, 1], [10, 0, 0, 5]).tcp(443, 5000).build();
        let (_, copies) = decide(&t2, &out);
        assert_eq!(copies.len(), 2);
        assert_eq!(copies[0].hash, copies[1].hash);
        assert_eq!(decide(&t2, &back).1[0].hash, copies[0].hash);
    }

    #[test]
    fn no_candidates_say_why() {
        let t = table();
        let arp = FrameBuilder::raw(ethernet::TYPE_ARP, &[0; 28]).macs(ROUTER, HOST).build();
        assert_eq!(decide(&t, &arp), (Err(NotMirrored::NotIp), vec![]));
        let udp = FrameBuilder::ipv4([10, 0, 0, 5], [198, 51, 100, 1]).macs(ROUTER, HOST).udp(5000, 53).build();
        assert_eq!(decide(&t, &udp[..40]), (Err(NotMirrored::Malformed), vec![]));
        let dhcp = FrameBuilder::ipv4([0; 4], [255; 4]).macs([0xff; 6], HOST).udp(68, 67).build();
        assert_eq!(decide(&t, &dhcp), (Err(NotMirrored::Excluded), vec![]), "accepted, but never mirrored");
    }
}
