//! The compiled session table: everything a worker needs to decide and build copies,
//! immutable once published (see [`rcu`](crate::rcu)).

use crate::filter::{Classifier, CompileError, Exclusions, Rule, RuleSet};
use crate::encap::Template;
use crate::types::{CounterSlot, Direction, SessionIdx};

/// One filter, rules sorted by rule number within each direction.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FilterRules {
    /// Ingress rules.
    pub ingress: Vec<Rule>,
    /// Egress rules.
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
    /// By [`SessionIdx`], as [`SourceRules::sessions`] refers to them.
    pub sessions: Box<[SessionOut]>,
    /// Traffic never mirrored, and the VPC resolvers.
    pub exclusions: Exclusions,
}

impl Table {
    /// The session `i` names.
    #[inline(always)]
    pub fn session(&self, i: SessionIdx) -> &SessionOut {
        &self.sessions[i.0 as usize]
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

/// The sources on one port, by direction.
#[derive(Default)]
pub struct PortRules {
    /// Sources whose frames are received on this port.
    pub egress: Box<[SourceRules]>,
    /// Sources whose frames are sent out of this port.
    pub ingress: Box<[SourceRules]>,
}

/// One source in one direction: which frames are its own, and its sessions' compiled filters
/// (what [`decide`](crate::decide) reads of it).
pub struct SourceRules {
    /// Only frames from (egress) or to (ingress) this MAC; every frame when `None`.
    pub mac: Option<[u8; 6]>,
    /// The compiled filters for IPv4.
    pub v4: Classifier,
    /// The compiled filters for IPv6.
    pub v6: Classifier,
    /// The session of each classifier result (rule set), i.e. the enabled sessions by
    /// session number.
    pub sessions: Box<[SessionIdx]>,
}

impl SourceRules {
    /// Compiles the sessions of one source for one direction; `sessions` holds (session,
    /// filter), in ascending session number; `exclusions` gives the VPC resolvers.
    pub fn build(mac: Option<[u8; 6]>, dir: Direction, sessions: &[(SessionIdx, &FilterRules)], exclusions: &Exclusions) -> Result<Self, CompileError> {
        let sets: Vec<RuleSet> =
            sessions.iter().map(|(_, f)| RuleSet { rules: f.rules(dir), amazon_dns: f.amazon_dns }).collect();
        Ok(SourceRules {
            mac,
            v4: Classifier::build(&sets, false, &exclusions.resolvers(false))?,
            v6: Classifier::build(&sets, true, &exclusions.resolvers(true))?,
            sessions: sessions.iter().map(|&(s, _)| s).collect(),
        })
    }
}

/// How one session's copies are built and where they go.
pub struct SessionOut {
    /// Where its copies are counted (stable across table swaps).
    pub slot: CounterSlot,
    /// Port index of the target's mirror port.
    pub port: u16,
    /// Most bytes of the original a copy carries (packet length and target MTU).
    pub max_inner: u32,
    /// Outer headers, one per target address (a load balancer has several; the flow hash
    /// picks one). Empty while the next hop is unresolved: copies are skipped and counted.
    pub templates: Box<[Template]>,
}
