//! The compiled session table: everything a worker needs to decide and build copies,
//! immutable once published (see [`rcu`](crate::rcu)).

use crate::filter::{Classifier, CompileError, Exclusions, Rule, RuleSet};
use crate::encap::{flow_hash, Template};
use crate::parse::{parse_into, Packet, Skip, KEY_LEN};
use crate::stats::Direction;
use crate::wire::ethernet;

/// One filter, rules sorted by rule number within each direction.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FilterRules {
    pub ingress: Vec<Rule>,
    pub egress: Vec<Rule>,
    /// The `amazon-dns` network service: DNS to the VPC resolver may be mirrored.
    pub amazon_dns: bool,
}

impl FilterRules {
    /// The rules of one direction.
    pub fn rules(&self, dir: Direction) -> &[Rule] {
        match dir {
            Direction::Ingress => &self.ingress,
            Direction::Egress => &self.egress,
        }
    }
}

/// A compiled table, published whole to the workers.
pub struct Table {
    /// Counts publications, for logs and tests.
    pub generation: u64,
    /// By port index.
    pub ports: Box<[PortRules]>,
    /// By session index, as [`SourceRules::sessions`] refers to them.
    pub sessions: Box<[SessionOut]>,
    pub exclusions: Exclusions,
}

/// Frames that were no candidates for mirroring, by reason.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NotMirrored {
    pub not_ip: u64,
    pub malformed: u64,
    /// Accepted by a session but never mirrored (DHCP, metadata and time services, our own
    /// copies).
    pub excluded: u64,
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
    #[inline(never)]
    fn accepted_hash(&self, p: &Packet) -> Option<u32> {
        (!self.exclusions.never_mirrored(p)).then(|| flow_hash(p))
    }

    /// A table that mirrors nothing.
    pub fn empty(ports: usize) -> Self {
        Table {
            generation: 0,
            ports: (0..ports).map(|_| PortRules::default()).collect(),
            sessions: Box::new([]),
            exclusions: Exclusions::default(),
        }
    }
}

/// The sources of one burst's frames, by direction: see [`Table::sources`].
pub struct Sources<'t> {
    table: &'t Table,
    egress: &'t [SourceRules],
    ingress: &'t [SourceRules],
}

impl Sources<'_> {
    /// No source sees these frames: nothing to classify.
    pub fn is_empty(&self) -> bool {
        self.egress.is_empty() && self.ingress.is_empty()
    }

    /// The sessions that mirror one frame, `wire_len` bytes long of which `frame` is the first
    /// segment. Calls `copy(direction, session index, flow hash)` for each; counts the frames
    /// that are no candidates into `skipped`. `p` is scratch for the parsed headers, kept by
    /// the caller across frames so that none pays for clearing it.
    ///
    /// The never-mirrored traffic (DHCP, metadata and time services, our own copies) is checked
    /// only once a session has accepted the packet: the rules decide nothing for it, so most
    /// packets, which no session takes, never pay for the check.
    #[inline(always)]
    pub fn mirrors(&self, frame: &[u8], wire_len: usize, p: &mut Packet, skipped: &mut NotMirrored, mut copy: impl FnMut(Direction, u32, u32)) {
        match parse_into(frame, wire_len, p) {
            Ok(()) => {}
            Err(Skip::NotIp) => return skipped.not_ip += 1,
            Err(Skip::Malformed) => return skipped.malformed += 1,
        }
        // Set once a session accepts: the flow hash, or None when the packet is excluded.
        let mut hash: Option<Option<u32>> = None;
        let macs: &[u8; 12] = frame.first_chunk().expect("parse saw the Ethernet header");
        let (dst, src) = macs.split_at(ethernet::ADDR_LEN);
        self.visit(self.egress, Direction::Egress, src, p, &mut hash, &mut copy);
        self.visit(self.ingress, Direction::Ingress, dst, p, &mut hash, &mut copy);
        if hash == Some(None) {
            skipped.excluded += 1;
        }
    }

    /// The sources of one direction that own the frame, each looked up once.
    #[inline(always)]
    fn visit(
        &self,
        sources: &[SourceRules],
        dir: Direction,
        mac: &[u8],
        p: &Packet,
        hash: &mut Option<Option<u32>>,
        copy: &mut impl FnMut(Direction, u32, u32),
    ) {
        for s in sources {
            if !s.owns(mac) {
                continue;
            }
            let Some(session) = s.lookup(&p.key, p.ipv6) else { continue };
            let h = match *hash {
                Some(h) => h,
                None => *hash.insert(self.table.accepted_hash(p)),
            };
            match h {
                Some(h) => copy(dir, session, h),
                None => return,
            }
        }
    }
}

/// The sources on one port, by direction.
#[derive(Default)]
pub struct PortRules {
    /// Sources whose frames are received on this port.
    pub egress: Box<[SourceRules]>,
    /// Sources whose frames are sent out of this port.
    pub ingress: Box<[SourceRules]>,
}

/// One source in one direction: which frames are its own, and its sessions' compiled filters.
pub struct SourceRules {
    /// Only frames from (egress) or to (ingress) this MAC; every frame when `None`.
    pub mac: Option<[u8; 6]>,
    pub v4: Classifier,
    pub v6: Classifier,
    /// Session index per classifier result, i.e. the enabled sessions by session number.
    pub sessions: Box<[u32]>,
}

impl SourceRules {
    /// Compiles the sessions of one source for one direction; `sessions` holds (session index,
    /// filter), in ascending session number; `exclusions` gives the VPC resolvers.
    pub fn build(mac: Option<[u8; 6]>, dir: Direction, sessions: &[(u32, &FilterRules)], exclusions: &Exclusions) -> Result<Self, CompileError> {
        let sets: Vec<RuleSet> =
            sessions.iter().map(|(_, f)| RuleSet { rules: f.rules(dir), amazon_dns: f.amazon_dns }).collect();
        Ok(SourceRules {
            mac,
            v4: Classifier::build(&sets, false, &exclusions.resolvers(false))?,
            v6: Classifier::build(&sets, true, &exclusions.resolvers(true))?,
            sessions: sessions.iter().map(|&(s, _)| s).collect(),
        })
    }

    /// Is this frame the source's? `mac` is the frame's source (egress) or destination
    /// (ingress) address; it is read only when the source has a MAC.
    #[inline(always)]
    pub fn owns(&self, mac: &[u8]) -> bool {
        self.mac.is_none_or(|m| m == mac)
    }

    /// The session that mirrors a packet with this key (a [`Packet`]'s), if any.
    #[inline(always)]
    pub fn lookup(&self, key: &[u32; KEY_LEN], ipv6: bool) -> Option<u32> {
        let c = if ipv6 { &self.v6 } else { &self.v4 };
        c.lookup(key).map(|i| self.sessions[i])
    }
}

/// How one session's copies are built and where they go.
pub struct SessionOut {
    /// Counter slot (stable across table swaps).
    pub slot: u32,
    /// Port index of the target's mirror port.
    pub port: u16,
    /// Most bytes of the original a copy carries (packet length and target MTU).
    pub max_inner: u32,
    /// Outer headers, one per target address (a load balancer has several; the flow hash
    /// picks one). Empty while the next hop is unresolved: copies are skipped and counted.
    pub templates: Box<[Template]>,
}
