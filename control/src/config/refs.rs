//! Who refers to whom, kept as changes come: the sessions of each source, target and filter,
//! the targets of each destination, the network interfaces at each port and MAC, and how many
//! rules have each rule id. A change then finds what it can affect by looking it up, so its
//! validation and compilation cost what it touches, not what exists ([`Touched`]).
//!
//! [`Refs::of`] computes them from a configuration; [`Refs::forget`] and [`Refs::learn`] keep
//! them up to date around each edit (the edit's resource forgotten as it was, learnt as it
//! is), which the tests check against [`Refs::of`] after random changes.

use super::problem::Kind;
use super::schema::{Config, Mac, TargetType};
use rustc_hash::FxHashMap as HashMap;
use std::collections::BTreeSet;

/// The references of a configuration, by what is referred to.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Refs {
    /// Session ids by the network interface that is their source.
    by_source: HashMap<String, BTreeSet<String>>,
    /// Session ids by target.
    by_target: HashMap<String, BTreeSet<String>>,
    /// Session ids by filter.
    by_filter: HashMap<String, BTreeSet<String>>,
    /// Target ids by what receives their copies.
    by_destination: HashMap<(TargetType, String), BTreeSet<String>>,
    /// Network interface ids by port and MAC.
    at: HashMap<(String, Option<Mac>), BTreeSet<String>>,
    /// How many rules have each rule id.
    rule_ids: HashMap<String, u32>,
    /// How many sessions have each VNI.
    vnis: HashMap<u32, usize>,
}

/// What a change touched: the resources it put or deleted, by kind and id, and the sources
/// whose sessions changed (a session's source before the change and after).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Touched {
    pub interfaces: BTreeSet<String>,
    pub load_balancers: BTreeSet<String>,
    pub endpoints: BTreeSet<String>,
    pub targets: BTreeSet<String>,
    pub filters: BTreeSet<String>,
    pub sessions: BTreeSet<String>,
    pub sources: BTreeSet<String>,
}

impl Touched {
    /// The set of ids of `kind` (a rule is its filter's).
    fn of_kind(&mut self, kind: Kind) -> Option<&mut BTreeSet<String>> {
        Some(match kind {
            Kind::NetworkInterface => &mut self.interfaces,
            Kind::LoadBalancer => &mut self.load_balancers,
            Kind::GatewayLoadBalancerEndpoint => &mut self.endpoints,
            Kind::Target => &mut self.targets,
            Kind::Filter | Kind::FilterRule => &mut self.filters,
            Kind::Session => &mut self.sessions,
            Kind::Port | Kind::Link => return None,
        })
    }

    /// Adds resource `id` of `kind`.
    pub fn touch(&mut self, kind: Kind, id: &str) {
        if let Some(set) = self.of_kind(kind) {
            set.insert(id.to_owned());
        }
    }

    /// Nothing touched.
    pub fn is_empty(&self) -> bool {
        *self == Touched::default()
    }

    /// Everything `other` touched too.
    pub fn extend(&mut self, other: Touched) {
        self.interfaces.extend(other.interfaces);
        self.load_balancers.extend(other.load_balancers);
        self.endpoints.extend(other.endpoints);
        self.targets.extend(other.targets);
        self.filters.extend(other.filters);
        self.sessions.extend(other.sessions);
        self.sources.extend(other.sources);
    }

    /// Every resource of `cfg`, as a change that made it all would have touched it.
    pub fn everything(cfg: &Config) -> Touched {
        let all = |v: &mut dyn Iterator<Item = &str>| v.map(str::to_owned).collect::<BTreeSet<String>>();
        Touched {
            interfaces: all(&mut cfg.network_interfaces.iter().map(|n| n.id.as_str())),
            load_balancers: all(&mut cfg.load_balancers.iter().map(|l| l.arn.as_str())),
            endpoints: all(&mut cfg.gateway_load_balancer_endpoints.iter().map(|e| e.id.as_str())),
            targets: all(&mut cfg.targets.iter().map(|t| t.id.as_str())),
            filters: all(&mut cfg.filters.iter().map(|f| f.id.as_str())),
            sessions: all(&mut cfg.sessions.iter().map(|s| s.id.as_str())),
            sources: all(&mut cfg.sessions.iter().map(|s| s.source.as_str())),
        }
    }
}

fn ids<'r>(set: Option<&'r BTreeSet<String>>) -> impl Iterator<Item = &'r str> + 'r {
    set.into_iter().flatten().map(String::as_str)
}

fn add<K: std::hash::Hash + Eq>(map: &mut HashMap<K, BTreeSet<String>>, key: K, id: &str, on: bool) {
    if on {
        map.entry(key).or_default().insert(id.to_owned());
    } else if let std::collections::hash_map::Entry::Occupied(mut e) = map.entry(key) {
        e.get_mut().remove(id);
        if e.get().is_empty() {
            e.remove();
        }
    }
}

impl Refs {
    /// The references of `cfg`.
    pub fn of(cfg: &Config) -> Refs {
        let mut r = Refs::default();
        let mut ignored = Touched::default();
        for n in &cfg.network_interfaces {
            r.note(cfg, Kind::NetworkInterface, &n.id, true, &mut ignored);
        }
        for t in &cfg.targets {
            r.note(cfg, Kind::Target, &t.id, true, &mut ignored);
        }
        for f in &cfg.filters {
            r.note(cfg, Kind::Filter, &f.id, true, &mut ignored);
        }
        for s in &cfg.sessions {
            r.note(cfg, Kind::Session, &s.id, true, &mut ignored);
        }
        r
    }

    /// Before resource `id` of `kind` changes: forgets its references as they are in `cfg`,
    /// and notes it (and a session's source) in `touched`.
    pub fn forget(&mut self, cfg: &Config, kind: Kind, id: &str, touched: &mut Touched) {
        touched.touch(kind, id);
        self.note(cfg, kind, id, false, touched);
    }

    /// After resource `id` of `kind` changed: learns its references as they are in `cfg`, and
    /// notes it (and a session's source) in `touched`.
    pub fn learn(&mut self, cfg: &Config, kind: Kind, id: &str, touched: &mut Touched) {
        touched.touch(kind, id);
        self.note(cfg, kind, id, true, touched);
    }

    fn note(&mut self, cfg: &Config, kind: Kind, id: &str, on: bool, touched: &mut Touched) {
        match kind {
            Kind::NetworkInterface => {
                if let Some(n) = cfg.network_interfaces.get(id) {
                    add(&mut self.at, (n.port.clone(), n.mac), id, on);
                }
            }
            Kind::Target => {
                if let Some((kind, dest)) = cfg.targets.get(id).and_then(|t| t.destination()) {
                    add(&mut self.by_destination, (kind, dest.to_owned()), id, on);
                }
            }
            Kind::Filter | Kind::FilterRule => {
                for r in cfg.filters.get(id).into_iter().flat_map(|f| f.ingress_rules.iter().chain(&f.egress_rules)) {
                    let Some(rid) = &r.id else { continue };
                    let n = self.rule_ids.entry(rid.clone()).or_default();
                    *n = if on { *n + 1 } else { n.saturating_sub(1) };
                    if *n == 0 {
                        self.rule_ids.remove(rid);
                    }
                }
            }
            Kind::Session => {
                if let Some(s) = cfg.sessions.get(id) {
                    add(&mut self.by_source, s.source.clone(), id, on);
                    add(&mut self.by_target, s.target.clone(), id, on);
                    add(&mut self.by_filter, s.filter.clone(), id, on);
                    if let Some(v) = s.virtual_network_id {
                        let n = self.vnis.entry(v).or_default();
                        *n = if on { *n + 1 } else { n.saturating_sub(1) };
                        if *n == 0 {
                            self.vnis.remove(&v);
                        }
                    }
                    touched.sources.insert(s.source.clone());
                }
            }
            Kind::LoadBalancer | Kind::GatewayLoadBalancerEndpoint | Kind::Port | Kind::Link => {}
        }
    }

    /// The sessions whose source is network interface `id`.
    pub fn sessions_of_source<'r>(&'r self, id: &str) -> impl Iterator<Item = &'r str> + 'r {
        ids(self.by_source.get(id))
    }

    /// Whether network interface `id` is some session's source.
    pub fn is_source(&self, id: &str) -> bool {
        self.by_source.contains_key(id)
    }

    /// The sessions that send to target `id`.
    pub fn sessions_of_target<'r>(&'r self, id: &str) -> impl Iterator<Item = &'r str> + 'r {
        ids(self.by_target.get(id))
    }

    /// The sessions that use filter `id`.
    pub fn sessions_of_filter<'r>(&'r self, id: &str) -> impl Iterator<Item = &'r str> + 'r {
        ids(self.by_filter.get(id))
    }

    /// The targets whose copies go to the destination of `kind` with id (or ARN) `id`.
    pub fn targets_of<'r>(&'r self, kind: TargetType, id: &str) -> impl Iterator<Item = &'r str> + 'r {
        ids(self.by_destination.get(&(kind, id.to_owned())))
    }

    /// The network interfaces on `port` with `mac`.
    pub fn interfaces_at<'r>(&'r self, port: &str, mac: Option<Mac>) -> impl Iterator<Item = &'r str> + 'r {
        ids(self.at.get(&(port.to_owned(), mac)))
    }

    /// How many sessions have VNI `vni`.
    pub fn sessions_with_vni(&self, vni: u32) -> usize {
        self.vnis.get(&vni).copied().unwrap_or(0)
    }

    /// How many rules have rule id `id`.
    pub fn rules_with_id(&self, id: &str) -> u32 {
        self.rule_ids.get(id).copied().unwrap_or(0)
    }

    /// The targets a change to the resources in `touched` reaches: those it touched, and those
    /// whose destination it touched.
    pub fn targets_reached(&self, touched: &Touched) -> BTreeSet<String> {
        let mut out = touched.targets.clone();
        let dests = [
            (TargetType::NetworkInterface, &touched.interfaces),
            (TargetType::NetworkLoadBalancer, &touched.load_balancers),
            (TargetType::GatewayLoadBalancerEndpoint, &touched.endpoints),
        ];
        for (kind, ids) in dests {
            for id in ids {
                out.extend(self.targets_of(kind, id).map(str::to_owned));
            }
        }
        out
    }
}
