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
//!    ([`Classifier`](crate::filter::Classifier)), which answer an outcome: the first session,
//!    by session number, whose filter accepts the frame (at most one copy per source), and
//!    which rule decided each session tried.
//! 4. Once some session has accepted it, and only then, AWS's never-mirrored traffic is
//!    checked ([`Exclusions`](crate::filter::Exclusions)): DHCP, the metadata and time
//!    services and our own copies are [`NotMirrored::Excluded`], whatever the rules say.
//!    Otherwise the symmetric flow hash ([`flow_hash`]) is computed, once for all the frame's
//!    copies: it picks their UDP source port and a load balancer's collector.
//!
//! What else a decision shows goes to an [`Observer`]: the worker's counts each outcome (the
//! rules' hits, [`CountHits`]); `explain` records every step, so that it answers what the
//! workers do by running the very same code. With `()` nothing is observed.

use crate::filter::Exclusion;
use crate::hash::flow_hash;
use crate::parse::{parse_into, Packet, KEY_LEN};
use crate::table::{Compiled, SourceRules, SourceSet, Table};
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

/// What a decision shows besides its copies.
pub trait Observer {
    /// `source` saw the frame (parsed as `p`) in direction `dir`, and its filters of the
    /// frame's address family (`family`) decided outcome `outcome`.
    fn decided(&mut self, dir: Direction, source: &SourceRules, family: &Compiled, p: &Packet, outcome: u32);
    /// A session accepted the frame, but AWS never mirrors it, for `why`.
    fn excluded(&mut self, _why: Exclusion) {}
}

/// Observes nothing.
impl Observer for () {
    #[inline(always)]
    fn decided(&mut self, _: Direction, _: &SourceRules, _: &Compiled, _: &Packet, _: u32) {}
}

/// The workers' observer: counts each outcome, which is what the rules' hit counters sum.
pub struct CountHits {
    /// The worker counting (its stretch of every source's counters).
    pub worker: usize,
}

impl Observer for CountHits {
    #[inline(always)]
    fn decided(&mut self, _: Direction, _: &SourceRules, family: &Compiled, _: &Packet, outcome: u32) {
        family.hits.count(self.worker, outcome);
    }
}

/// The sources of one burst's frames, by direction: see [`Table::sources`].
pub struct Sources<'t> {
    table: &'t Table,
    egress: Side<'t>,
    ingress: Side<'t>,
}

/// The sources of one port and direction, resolved for a burst: where no source has a MAC (the
/// common case, a port that is one monitored host's), the one that sees every frame, so that a
/// frame costs one lookup and no search for its MAC.
#[derive(Clone, Copy)]
enum Side<'t> {
    /// No source.
    None,
    /// One source, without a MAC: it sees every frame.
    Every(&'t SourceRules),
    /// Sources with MACs (and perhaps one without): found by each frame's MAC.
    ByMac(&'t SourceSet),
}

impl<'t> Side<'t> {
    #[inline(always)]
    fn of(set: &'t SourceSet) -> Self {
        match (set.every(), set.has_macs()) {
            (_, true) => Side::ByMac(set),
            (Some(e), false) => Side::Every(e),
            (None, false) => Side::None,
        }
    }
}

impl Table {
    /// The sources that can see a burst received on port `rx_port` and leaving by `out_port`
    /// (the same port for a tap port): resolved once per burst, not per frame.
    #[inline(always)]
    pub fn sources(&self, rx_port: usize, out_port: usize) -> Sources<'_> {
        Sources { table: self, egress: Side::of(&self.ports[rx_port].egress), ingress: Side::of(&self.ports[out_port].ingress) }
    }

    /// The flow hash of a packet a session accepted, or why it is never mirrored. Out of line
    /// on purpose: inlined, the compiler hoists the hash out of the lookup loop and computes
    /// it for every packet, most of which no session takes.
    /// IPv6 packets go to their own copy: there `p.ipv6` is known true, here false, so each
    /// copy holds one family's tests only, and the registers IPv6's tests need (our own IPv6
    /// copies' addresses) are not saved and restored for IPv4 ones.
    #[inline(never)]
    fn accepted_hash(&self, p: &Packet) -> Result<u32, Exclusion> {
        if p.ipv6 {
            return self.accepted_hash_v6(p);
        }
        match self.exclusions.never_mirrored(p) {
            Some(why) => Err(why),
            None => Ok(flow_hash(p)),
        }
    }

    /// [`accepted_hash`](Self::accepted_hash) of an IPv6 packet.
    #[inline(never)]
    fn accepted_hash_v6(&self, p: &Packet) -> Result<u32, Exclusion> {
        match self.exclusions.never_mirrored(p) {
            Some(why) => Err(why),
            None => Ok(flow_hash(p)),
        }
    }
}

impl Sources<'_> {
    /// No source sees these frames: nothing to decide.
    pub fn is_empty(&self) -> bool {
        matches!((self.egress, self.ingress), (Side::None, Side::None))
    }

    /// Decides one frame (its first segment, where the headers are read): calls `copy` for
    /// each copy to make, egress ones first, and shows `obs` what decided. `Err` says why the
    /// frame is no candidate at all. `p` is scratch for the parsed headers, kept
    /// by the caller across frames so that none pays for clearing it.
    #[inline(always)]
    pub fn decide(&self, frame: &[u8], p: &mut Packet, obs: &mut impl Observer, mut copy: impl FnMut(Mirror)) -> Result<(), NotMirrored> {
        parse_into(frame, p)?;
        // Set once a session accepts: the flow hash, or why the packet is excluded.
        let mut hash: Option<Result<u32, Exclusion>> = None;
        // Parsing saw the Ethernet header: the MACs are there (read only where a side has
        // sources with MACs).
        let macs = || {
            let (dst, rest) = frame.split_first_chunk::<{ ethernet::ADDR_LEN }>().expect("parse saw the Ethernet header");
            (dst, rest.first_chunk::<{ ethernet::ADDR_LEN }>().expect("parse saw the Ethernet header"))
        };
        self.side(self.egress, Direction::Egress, || macs().1, p, &mut hash, obs, &mut copy);
        self.side(self.ingress, Direction::Ingress, || macs().0, p, &mut hash, obs, &mut copy);
        if let Some(Err(why)) = hash {
            obs.excluded(why);
            return Err(NotMirrored::Excluded);
        }
        Ok(())
    }

    /// The sources of one direction that see the frame, each looked up once; `mac` is the
    /// frame's MAC that the direction's sources are found by.
    #[inline(always)]
    #[allow(clippy::too_many_arguments)]
    fn side<'f>(
        &self,
        side: Side,
        dir: Direction,
        mac: impl FnOnce() -> &'f [u8; 6],
        p: &Packet,
        hash: &mut Option<Result<u32, Exclusion>>,
        obs: &mut impl Observer,
        copy: &mut impl FnMut(Mirror),
    ) {
        match side {
            Side::None => {}
            Side::Every(s) => {
                self.visit(s, dir, p, hash, obs, copy);
            }
            Side::ByMac(set) => {
                for s in set.seeing(mac()).into_iter().flatten() {
                    if !self.visit(s, dir, p, hash, obs, copy) {
                        return;
                    }
                }
            }
        }
    }

    /// One source's lookup; false once the packet turns out never to be mirrored.
    #[inline(always)]
    fn visit(&self, s: &SourceRules, dir: Direction, p: &Packet, hash: &mut Option<Result<u32, Exclusion>>, obs: &mut impl Observer, copy: &mut impl FnMut(Mirror)) -> bool {
        let (family, outcome, session) = s.lookup(&p.key, p.ipv6);
        obs.decided(dir, s, family, p, outcome);
        let Some(session) = session else { return true };
        let h = match *hash {
            Some(h) => h,
            None => *hash.insert(self.table.accepted_hash(p)),
        };
        match h {
            Ok(hash) => {
                copy(Mirror { dir, session, hash });
                true
            }
            // Excluded: no source mirrors it, and none is asked further.
            Err(_) => false,
        }
    }
}

impl SourceRules {
    /// A packet's key (a [`Packet`]'s) looked up: the filters of its family, the outcome, and
    /// the session that mirrors it, if any.
    #[inline(always)]
    pub fn lookup(&self, key: &[u32; KEY_LEN], ipv6: bool) -> (&Compiled, u32, Option<SessionIdx>) {
        let c = self.family(ipv6);
        let leaf = c.classifier.lookup(key);
        (c, leaf.outcome(), leaf.winner().map(|i| self.sessions[i]))
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
    use std::sync::Arc;

    const HOST: [u8; 6] = [2, 0, 0, 0, 0, 1];
    const ROUTER: [u8; 6] = [2, 0, 0, 0, 1, 1];

    fn set(s: SourceRules) -> SourceSet {
        SourceSet::new([Arc::new(s)]).unwrap()
    }

    fn accept(number: u16, protocol: Option<u8>, destination_ports: Option<PortRange>) -> Rule {
        Rule { id: format!("r{number}").into(), number, action: RuleAction::Accept, protocol, source: None, destination: None, source_ports: None, destination_ports }
    }

    /// Port 0 (the host side) and port 1 (the uplink): session 0 mirrors UDP its host sends
    /// (egress, the host's MAC only), session 1 TCP to port 80 it receives (ingress, any MAC).
    fn table() -> Table {
        let udp = Arc::new(FilterRules { egress: vec![accept(1, Some(17), None)], ..FilterRules::default() });
        let web = Arc::new(FilterRules { ingress: vec![accept(1, Some(6), Some(PortRange { from: 80, to: 80 }))], ..FilterRules::default() });
        let ex = Exclusions::new(&[], &[]);
        let egress = SourceRules::build("eni-host", Some(HOST), Direction::Egress, &[(SessionIdx(0), udp)], &ex, 1).unwrap();
        let ingress = SourceRules::build("eni-any", None, Direction::Ingress, &[(SessionIdx(1), web)], &ex, 1).unwrap();
        let ip = OuterIp::V4 { src: [192, 0, 2, 1].into(), dst: [192, 0, 2, 10].into() };
        let outer = Outer { src_mac: [2; 6], dst_mac: [3; 6], vlan: None, ip, ttl: DEFAULT_TTL, dont_fragment: false, dst_port: 4789, vni: 7 };
        let out = |slot| SessionOut::single(CounterSlot(slot), 2, 128, Template::new(&outer));
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
        let r = t.sources(0, 1).decide(frame, &mut Packet::default(), &mut CountHits { worker: 0 }, |m| copies.push(m));
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
        let both = Arc::new(FilterRules { egress: vec![accept(1, None, None)], ingress: vec![accept(1, None, None)], ..FilterRules::default() });
        let ex = Exclusions::new(&[], &[]);
        let mut t2 = table();
        t2.ports[0].egress = set(SourceRules::build("eni-a", None, Direction::Egress, &[(SessionIdx(0), both.clone())], &ex, 1).unwrap());
        t2.ports[1].ingress = set(SourceRules::build("eni-b", None, Direction::Ingress, &[(SessionIdx(1), both)], &ex, 1).unwrap());
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
        assert_eq!(decide(&t, &udp[..30]), (Err(NotMirrored::Malformed), vec![]), "its IP header cut");
        let dhcp = FrameBuilder::ipv4([0; 4], [255; 4]).macs([0xff; 6], HOST).udp(68, 67).build();
        assert_eq!(decide(&t, &dhcp), (Err(NotMirrored::Excluded), vec![]), "accepted, but never mirrored");
    }

    /// Records what a decision shows.
    #[derive(Default)]
    struct Trace(Vec<(Direction, String, u32)>, Option<Exclusion>);

    impl Observer for Trace {
        fn decided(&mut self, dir: Direction, source: &SourceRules, _: &Compiled, _: &Packet, outcome: u32) {
            self.0.push((dir, source.id.to_string(), outcome));
        }
        fn excluded(&mut self, why: Exclusion) {
            self.1 = Some(why);
        }
    }

    #[test]
    fn the_observer_sees_each_source_looked_up_and_every_exclusion() {
        let t = table();
        let mut trace = Trace::default();
        let web = FrameBuilder::ipv4([10, 0, 0, 5], [198, 51, 100, 1]).macs(ROUTER, HOST).tcp(5000, 80).build();
        let mut copies = 0;
        t.sources(0, 1).decide(&web, &mut Packet::default(), &mut trace, |_| copies += 1).unwrap();
        let looked: Vec<(Direction, &str)> = trace.0.iter().map(|(d, s, _)| (*d, s.as_str())).collect();
        assert_eq!(looked, [(Direction::Egress, "eni-host"), (Direction::Ingress, "eni-any")]);
        let ingress = &t.ports[1].ingress.iter().next().unwrap().v4.classifier;
        assert_eq!(ingress.outcome(trace.0[1].2).winner, Some(0), "the ingress source's session accepted");
        assert_eq!(copies, 1);
        let mut trace = Trace::default();
        let dhcp = FrameBuilder::ipv4([0; 4], [255; 4]).macs([0xff; 6], HOST).udp(68, 67).build();
        let _ = t.sources(0, 1).decide(&dhcp, &mut Packet::default(), &mut trace, |_| ());
        assert_eq!(trace.1, Some(Exclusion::Dhcp));
    }

    #[test]
    fn the_workers_observer_counts_each_outcome() {
        let t = table();
        let udp = FrameBuilder::ipv4([10, 0, 0, 5], [198, 51, 100, 1]).macs(ROUTER, HOST).udp(5000, 53).build();
        for _ in 0..3 {
            assert_eq!(decide(&t, &udp).1.len(), 1);
        }
        let mut hits = Vec::new();
        for s in t.ports[0].egress.iter() {
            s.rule_hits(|f, r, n| hits.push((f.id.to_string(), r.id.to_string(), n)));
        }
        assert_eq!(hits, [(String::new(), "r1".to_owned(), 3)]);
    }
}
