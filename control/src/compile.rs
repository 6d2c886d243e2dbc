//! Compiling the configuration into the immutable [`Table`] the workers read, change by change.
//!
//! The [`Compiler`] keeps what it built, by id: each filter's rules, where each target's copies
//! go, each mirroring session's copies, each source's classifiers, each port's sources. A
//! change recompiles what it touched ([`Touched`]) and what refers to that ([`Refs`]), and the
//! new table shares everything else with the old one (`Arc`: the workers read both while the
//! swap is under way, and what neither uses is freed). Compiling a whole configuration is the
//! same with everything touched; sources whose sessions have the same filters then share
//! their classifiers, built once.

use crate::config::{packet_length_to, Config, ConfigError, Direction, FilterRule, NextHop, Place, Refs, Target, TargetType, Touched};
use crate::counters::Slots;
use crate::health;
use crate::neighbour::Key;
use dataplane::encap::{max_inner_len, Outer, OuterIp, Template};
use dataplane::filter::{Cidr, Classifier, Exclusions, Rule};
use dataplane::spread::{self, Spread};
use dataplane::table::{CollectorOut, FilterRules, PortRules, SessionOut, SourceRules, SourceSet, Table};
use dataplane::types::{CollectorSlot, CopySkip, CounterSlot, SessionIdx, TargetSlot};
use ipnet::IpNet;
use rustc_hash::FxHashMap as HashMap;
use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

/// Converts a configured rule to the dataplane's.
pub fn rule(r: &FilterRule) -> Rule {
    Rule {
        id: r.id.as_deref().unwrap_or_default().into(),
        number: r.rule_number as u16,
        action: r.action,
        protocol: r.protocol,
        source: r.source_cidr.map(cidr),
        destination: r.destination_cidr.map(cidr),
        source_ports: r.source_port,
        destination_ports: r.destination_port,
    }
}

fn cidr(n: IpNet) -> Cidr {
    match n {
        IpNet::V4(n) => Cidr { addr: u128::from(u32::from(n.network())), len: n.prefix_len(), ipv6: false },
        IpNet::V6(n) => Cidr { addr: u128::from(n.network()), len: n.prefix_len(), ipv6: true },
    }
}

/// A filter's rules in evaluation order (ascending rule number).
pub fn filter_rules(f: &crate::config::Filter) -> FilterRules {
    let sorted = |rules: &[FilterRule]| {
        let mut v: Vec<Rule> = rules.iter().map(rule).collect();
        v.sort_by_key(|r| r.number);
        v
    };
    FilterRules {
        id: f.id.as_str().into(),
        ingress: sorted(&f.ingress_rules),
        egress: sorted(&f.egress_rules),
        amazon_dns: f.network_services.contains(&crate::config::NetworkService::AmazonDns),
    }
}

/// The next hops resolved by ARP or Neighbor Discovery that `cfg`'s targets need.
pub fn wanted_next_hops(cfg: &Config) -> Vec<Key> {
    let mut keys = Vec::new();
    for t in &cfg.targets {
        for k in arp_hops(cfg, t) {
            if !keys.contains(&k) {
                keys.push(k);
            }
        }
    }
    keys
}

/// The next hops of target `t` that ARP or Neighbor Discovery resolves.
pub fn arp_hops(cfg: &Config, t: &Target) -> Vec<Key> {
    let Some(d) = cfg.target_destination(t) else { return Vec::new() };
    let Some(port) = cfg.port_index(d.port) else { return Vec::new() };
    d.collectors
        .iter()
        .filter_map(|c| match c.hop {
            NextHop::Address(ip) => Some(Key { port, vlan: t.vlan, ip }),
            NextHop::Mac(_) => None,
        })
        .collect()
}

/// The targets whose copies depend on ARP or Neighbor Discovery: what a resolved next hop
/// recompiles.
pub fn arp_targets(cfg: &Config) -> Touched {
    Touched { targets: cfg.targets.iter().filter(|t| !arp_hops(cfg, t).is_empty()).map(|t| t.id.clone()).collect(), ..Touched::default() }
}

/// What compiling reads besides the configuration.
pub struct Env<'a> {
    /// The ports' own MACs, by port index.
    pub port_macs: &'a [[u8; 6]],
    /// Every session's counter slot, which numbers it in the table.
    pub slots: &'a Slots,
    /// The MAC of a next hop found by ARP, `None` while unresolved (copies to that collector
    /// are then skipped, and counted).
    pub resolved: &'a dyn Fn(&Key) -> Option<[u8; 6]>,
}

/// What the last compilation did, for the log, the counters and the tests that check a
/// change costs what it touches.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Work {
    /// Sources whose classifiers were built.
    pub sources_built: usize,
    /// Sessions whose copies were compiled.
    pub sessions_compiled: usize,
}

/// What one compilation keeps for the next.
#[derive(Default)]
pub struct Compiler {
    /// The VPC resolvers the classifiers were built for: a change to them rebuilds all.
    resolvers: Option<Vec<IpAddr>>,
    /// Each filter's rules, by id.
    filters: HashMap<String, Arc<FilterRules>>,
    /// Where each target's copies go, by id (or why they cannot).
    targets: HashMap<String, Result<Arc<TargetOut>, String>>,
    /// Each session that mirrors, by id.
    sessions: HashMap<String, Mirroring>,
    /// The sessions' copies by counter slot, as the last table has them.
    outs: Arc<[SessionOut]>,
    /// The outer source addresses (IPv4 and IPv6) and UDP ports of the sessions' copies, with
    /// how many sessions use each (what [`Exclusions`] keeps from being mirrored again).
    own_ips: BTreeMap<IpAddr, usize>,
    own_ports: BTreeMap<u16, usize>,
    exclusions: Exclusions,
    /// Each source's compiled rules, by network interface id.
    sources: HashMap<String, Built>,
    /// Each port's sources in the inventory's order (the order a frame's copies are made
    /// in), and the sets the last table has.
    ports: Vec<PortSources>,
    /// What a compilation that was not put in force touched: the next one compiles it again.
    stale: Touched,
    /// What the last compilation did.
    pub work: Work,
    /// The load balancers' collectors that failed their health checks: no copy goes to
    /// them (the controller keeps it as the checks say, and recompiles their targets).
    pub out_of_service: HashSet<health::Key>,
}

/// What copies to one target look like before a session's source and VNI are known: its
/// collectors in service (next hop known and, behind a load balancer, healthy), how flows
/// spread over them, why copies are skipped while none is.
struct TargetOut {
    /// The mirror port.
    port: usize,
    /// One per collector in service, with its counter slot: outer headers with the source
    /// address unspecified (the others are skipped, and counted, until ARP or Neighbor
    /// Discovery answers, or their health checks pass).
    collectors: Vec<(Outer, CollectorSlot)>,
    /// The collectors' keys for the spread, to keep it while they stay the same.
    keys: Vec<u64>,
    spread: Option<Arc<Spread>>,
    empty: CopySkip,
    target: TargetSlot,
    mtu: u32,
    udp_port: u16,
    /// Some collector has an IPv4 address, some an IPv6 one: which outer source addresses
    /// its sessions need.
    ipv4: bool,
    ipv6: bool,
}

/// A session that mirrors: enabled, with everything it names present.
struct Mirroring {
    slot: u32,
    source: String,
    number: u32,
    filter: Arc<FilterRules>,
    /// Its copies' outer source addresses (one per family its target needs) and UDP port.
    own: (Vec<IpAddr>, u16),
}

/// One source's compiled rules and what they were built from.
struct Built {
    port: usize,
    place: Place,
    mac: Option<[u8; 6]>,
    with_ingress: bool,
    sessions: Vec<(SessionIdx, Arc<FilterRules>)>,
    egress: Arc<SourceRules>,
    ingress: Option<Arc<SourceRules>>,
}

impl Built {
    fn same_inputs(&self, mac: Option<[u8; 6]>, with_ingress: bool, sessions: &[(SessionIdx, Arc<FilterRules>)]) -> bool {
        self.mac == mac
            && self.with_ingress == with_ingress
            && self.sessions.len() == sessions.len()
            && self.sessions.iter().zip(sessions).all(|((i, f), (j, g))| i == j && (Arc::ptr_eq(f, g) || f == g))
    }
}

#[derive(Default)]
struct PortSources {
    /// (egress, ingress) of each source, by its place in the inventory.
    by_place: BTreeMap<Place, (Arc<SourceRules>, Option<Arc<SourceRules>>)>,
    rules: PortRules,
    changed: bool,
}

/// Classifiers built during one compilation, by direction and filters (by address: every
/// filter is held by the compiler meanwhile, so no address is reused).
type Shared = HashMap<(Direction, Vec<*const FilterRules>), (Classifier, Classifier)>;

fn msg(m: String) -> ConfigError {
    ConfigError { problems: vec![(None, None, m)] }
}

impl Compiler {
    /// Compiles `cfg` whole (`refs` are its references): at start-up, on a reload. What the
    /// compiler already holds and `cfg` has alike is kept.
    pub fn compile_all(&mut self, cfg: &Config, refs: &Refs, env: &Env, generation: u64) -> Result<Table, ConfigError> {
        let mut all = Touched::everything(cfg);
        all.filters.extend(self.filters.keys().cloned());
        all.targets.extend(self.targets.keys().cloned());
        all.sessions.extend(self.sessions.keys().cloned());
        all.sources.extend(self.sources.keys().cloned());
        self.compile(cfg, refs, &all, env, generation)
    }

    /// Compiles the change to `cfg` that `touched` describes: the filters, targets, sessions
    /// and sources it touched or that refer to what it touched; the rest is shared with the
    /// last table. Until [`Compiler::refused`] says otherwise, the table is taken to be put in
    /// force.
    pub fn compile(&mut self, cfg: &Config, refs: &Refs, touched: &Touched, env: &Env, generation: u64) -> Result<Table, ConfigError> {
        let mut t = touched.clone();
        t.extend(std::mem::take(&mut self.stale));
        if self.ports.len() != cfg.ports.len() {
            self.ports = (0..cfg.ports.len()).map(|_| PortSources { changed: true, ..Default::default() }).collect();
            self.sources.clear();
        }
        if self.resolvers.as_ref() != Some(&cfg.vpc.resolvers) {
            // Every classifier holds the resolvers.
            t.sources.extend(self.sources.keys().cloned());
            t.sources.extend(cfg.sessions.iter().map(|s| s.source.clone()));
            self.sources.clear();
            for p in &mut self.ports {
                *p = PortSources { changed: true, ..Default::default() };
            }
            self.resolvers = Some(cfg.vpc.resolvers.clone());
            self.exclusions = Exclusions::new(
                &cfg.vpc.resolvers.iter().filter_map(|a| match a { IpAddr::V4(a) => Some(u32::from(*a)), _ => None }).collect::<Vec<_>>(),
                &cfg.vpc.resolvers.iter().filter_map(|a| match a { IpAddr::V6(a) => Some(words(u128::from(*a))), _ => None }).collect::<Vec<_>>(),
            );
        }
        let result = self.run(cfg, refs, &t, env, generation);
        if result.is_err() {
            self.stale = t;
        }
        result
    }

    /// The last compiled table was not put in force (the change was refused after it
    /// compiled): what it touched is compiled again next time, from the configuration then.
    pub fn refused(&mut self, touched: &Touched) {
        self.stale.extend(touched.clone());
    }

    /// Sessions that mirror in the last table: enabled, with everything they name present.
    pub fn mirroring(&self) -> usize {
        self.sessions.len()
    }

    fn run(&mut self, cfg: &Config, refs: &Refs, t: &Touched, env: &Env, generation: u64) -> Result<Table, ConfigError> {
        self.work = Work::default();
        // Filters.
        for id in &t.filters {
            match cfg.filters.get(id) {
                Some(f) => {
                    let rules = filter_rules(f);
                    if self.filters.get(id).is_none_or(|old| **old != rules) {
                        self.filters.insert(id.clone(), Arc::new(rules));
                    }
                }
                None => {
                    self.filters.remove(id);
                }
            }
        }
        // Targets.
        let targets = refs.targets_reached(t);
        for id in &targets {
            match cfg.targets.get(id) {
                Some(target) => {
                    let old = self.targets.get(id).and_then(|o| o.as_ref().ok()).cloned();
                    self.targets.insert(id.clone(), outers(cfg, target, env, &self.out_of_service, old.as_deref()).map(Arc::new))
                }
                None => self.targets.remove(id),
            };
        }
        // Sessions: those touched, those of the targets, sources and filters touched.
        let mut sessions: BTreeSet<&str> = t.sessions.iter().map(String::as_str).collect();
        for id in &targets {
            sessions.extend(refs.sessions_of_target(id));
        }
        for id in &t.interfaces {
            sessions.extend(refs.sessions_of_source(id));
        }
        for id in &t.filters {
            sessions.extend(refs.sessions_of_filter(id));
        }
        let mut sources: BTreeSet<String> = t.sources.iter().chain(&t.interfaces).cloned().collect();
        let mut outs: Vec<(u32, SessionOut)> = Vec::new();
        for id in sessions {
            if let Some(old) = self.sessions.remove(id) {
                self.own(&old.own, false);
                sources.insert(old.source);
            }
            let Some((m, out)) = self.mirroring_of(cfg, id, env)? else { continue };
            self.work.sessions_compiled += 1;
            self.own(&m.own, true);
            sources.insert(m.source.clone());
            // The table before has these copies already (a change of filter, say): shared.
            if self.outs.get(m.slot as usize) != Some(&out) {
                outs.push((m.slot, out));
            }
            self.sessions.insert(id.to_owned(), m);
        }
        // Sources.
        let peers = cfg.peers();
        let mut shared = Shared::default();
        for id in &sources {
            self.source(cfg, refs, id, &peers, &mut shared)?;
        }
        // The table: what changed, and the rest shared.
        for (p, port) in self.ports.iter_mut().enumerate() {
            if !std::mem::take(&mut port.changed) {
                continue;
            }
            let name = &cfg.ports[p].name;
            let set = |v: Vec<Arc<SourceRules>>| SourceSet::new(v).map_err(|e| msg(format!("port {name:?}: {e}")));
            let egress = set(port.by_place.values().map(|(e, _)| e.clone()).collect())?;
            let ingress = set(port.by_place.values().filter_map(|(_, i)| i.clone()).collect())?;
            port.rules = PortRules { egress, ingress };
        }
        if !outs.is_empty() {
            let len = outs.iter().map(|(slot, _)| *slot as usize + 1).max().unwrap_or(0).max(self.outs.len());
            let mut all = self.outs.to_vec();
            all.resize_with(len, || SessionOut::unused(CounterSlot(0)));
            for (slot, out) in outs {
                all[slot as usize] = out;
            }
            // Unused slots hold a session no source names.
            self.outs = all.into();
        }
        Ok(Table { generation, ports: self.ports.iter().map(|p| p.rules.clone()).collect(), sessions: self.outs.clone(), exclusions: self.exclusions.clone() })
    }

    /// Counts (`on`) or uncounts a session's outer source address and UDP port among those
    /// never mirrored again.
    fn own(&mut self, (ips, port): &(Vec<IpAddr>, u16), on: bool) {
        fn count<K: Ord + Copy>(map: &mut BTreeMap<K, usize>, k: K, on: bool) -> bool {
            let n = map.entry(k).or_default();
            if on {
                *n += 1;
                return *n == 1;
            }
            *n -= 1;
            let gone = *n == 0;
            if gone {
                map.remove(&k);
            }
            gone
        }
        let mut changed = false;
        for ip in ips {
            changed |= count(&mut self.own_ips, *ip, on);
        }
        if changed {
            let (v4, v6): (Vec<IpAddr>, Vec<IpAddr>) = self.own_ips.keys().partition(|a| a.is_ipv4());
            self.exclusions.own_ips = v4.into_iter().filter_map(|a| match a { IpAddr::V4(a) => Some(u32::from(a)), IpAddr::V6(_) => None }).collect();
            self.exclusions.own_ips_v6 = v6.into_iter().filter_map(|a| match a { IpAddr::V6(a) => Some(words(u128::from(a))), IpAddr::V4(_) => None }).collect();
        }
        if count(&mut self.own_ports, *port, on) {
            self.exclusions.own_ports = self.own_ports.keys().copied().collect();
        }
    }

    /// Session `id` of `cfg`, if it mirrors, and its copies.
    fn mirroring_of(&self, cfg: &Config, id: &str, env: &Env) -> Result<Option<(Mirroring, SessionOut)>, ConfigError> {
        let Some(s) = cfg.sessions.get(id).filter(|s| s.enabled) else { return Ok(None) };
        let (Some(filter), Some(source), Some(target), Some(out)) =
            (self.filters.get(&s.filter), cfg.network_interfaces.get(&s.source), cfg.targets.get(&s.target), self.targets.get(&s.target))
        else {
            return Ok(None);
        };
        let out = out.as_ref().map_err(|e| msg(e.clone()))?;
        // The outer source of each family: the source's own address (AWS uses the ENI's),
        // else the mirror port's.
        let mirror = &cfg.ports[out.port];
        let no_source = |family: &str| msg(format!("session {:?}: no outer {family} source address ({family} on its network interface or port)", s.id));
        let (src_v4, src_v6) = (source.ipv4.or(mirror.ipv4), source.ipv6.or(mirror.ipv6));
        let mut own = Vec::new();
        if out.ipv4 {
            own.push(IpAddr::V4(src_v4.ok_or_else(|| no_source("ipv4"))?));
        }
        if out.ipv6 {
            own.push(IpAddr::V6(src_v6.ok_or_else(|| no_source("ipv6"))?));
        }
        let slot = env.slots.get(&s.id).ok_or_else(|| msg(format!("session {:?} has no counter slot", s.id)))?;
        let vni = s.virtual_network_id.unwrap_or(0);
        let collectors = out.collectors.iter().map(|(o, c)| CollectorOut::new(Template::new(&Outer { ip: from(o.ip, src_v4, src_v6), vni, ..*o }), CounterSlot(slot), *c)).collect();
        let session_out = SessionOut {
            id: s.id.as_str().into(),
            slot: CounterSlot(slot),
            target: out.target,
            port: out.port as u16,
            max_inner: max_inner_len(packet_length_to(s, target), out.mtu, out.ipv6),
            collectors,
            spread: out.spread.clone(),
            empty: out.empty,
        };
        let m = Mirroring { slot, source: s.source.clone(), number: s.session_number, filter: filter.clone(), own: (own, out.udp_port) };
        Ok(Some((m, session_out)))
    }

    /// Compiles source `id` again if its inputs changed, and puts it among its port's.
    fn source(&mut self, cfg: &Config, refs: &Refs, id: &str, peers: &[Option<u16>], shared: &mut Shared) -> Result<(), ConfigError> {
        let old = self.sources.remove(id);
        let new = match (cfg.network_interfaces.place(id), cfg.network_interfaces.get(id)) {
            (Some(place), Some(n)) => match cfg.port_index(&n.port) {
                Some(port) => {
                    let mut mine: Vec<(u32, SessionIdx, Arc<FilterRules>)> =
                        refs.sessions_of_source(id).filter_map(|s| self.sessions.get(s)).map(|m| (m.number, SessionIdx(m.slot), m.filter.clone())).collect();
                    mine.sort_by_key(|(number, _, _)| *number);
                    let mine: Vec<(SessionIdx, Arc<FilterRules>)> = mine.into_iter().map(|(_, i, f)| (i, f)).collect();
                    let mac = n.mac.map(|m| m.0);
                    // On a tap port (no link) only a MAC tells which frames go to the host.
                    let with_ingress = peers[port].is_some() || mac.is_some();
                    match &old {
                        _ if mine.is_empty() => None,
                        Some(b) if b.same_inputs(mac, with_ingress, &mine) => {
                            Some(Built { port, place, mac, with_ingress, sessions: mine, egress: b.egress.clone(), ingress: b.ingress.clone() })
                        }
                        _ => {
                            self.work.sources_built += 1;
                            let build = |dir: Direction, shared: &mut Shared| -> Result<Arc<SourceRules>, ConfigError> {
                                let key = (dir, mine.iter().map(|(_, f)| Arc::as_ptr(f)).collect());
                                let (v4, v6) = match shared.get(&key) {
                                    Some(c) => c.clone(),
                                    None => {
                                        let filters: Vec<&FilterRules> = mine.iter().map(|(_, f)| &**f).collect();
                                        let c = SourceRules::classifiers(dir, &filters, &self.exclusions)
                                            .map_err(|e| msg(format!("network interface {id:?} ({} direction): {e}", dir.name())))?;
                                        shared.insert(key, c.clone());
                                        c
                                    }
                                };
                                Ok(Arc::new(SourceRules::with_classifiers(id, mac, dir, &mine, (v4, v6), cfg.dataplane.workers)))
                            };
                            let egress = build(Direction::Egress, shared)?;
                            let ingress = if with_ingress { Some(build(Direction::Ingress, shared)?) } else { None };
                            Some(Built { port, place, mac, with_ingress, sessions: mine, egress, ingress })
                        }
                    }
                }
                None => None,
            },
            _ => None,
        };
        let same = |a: &Built, b: &Built| a.port == b.port && a.place == b.place && Arc::ptr_eq(&a.egress, &b.egress) && a.ingress.as_ref().map(Arc::as_ptr) == b.ingress.as_ref().map(Arc::as_ptr);
        match (&old, &new) {
            (Some(o), Some(n)) if same(o, n) => {}
            _ => {
                if let Some(o) = &old {
                    self.ports[o.port].by_place.remove(&o.place);
                    self.ports[o.port].changed = true;
                }
                if let Some(n) = &new {
                    self.ports[n.port].by_place.insert(n.place, (n.egress.clone(), n.ingress.clone()));
                    self.ports[n.port].changed = true;
                }
            }
        }
        if let Some(n) = new {
            self.sources.insert(id.to_owned(), n);
        }
        Ok(())
    }
}

/// Where target `target`'s copies go.
fn outers(cfg: &Config, target: &Target, env: &Env, out_of_service: &HashSet<health::Key>, old: Option<&TargetOut>) -> Result<TargetOut, String> {
    let dest = cfg.target_destination(target).ok_or_else(|| format!("target {:?}: its destination is not defined", target.id))?;
    let port = cfg.port_index(dest.port).ok_or_else(|| format!("target {:?}: no port {:?}", target.id, dest.port))?;
    let mirror = &cfg.ports[port];
    let balancer = target.destination().and_then(|(kind, id)| (kind == TargetType::NetworkLoadBalancer).then_some(id));
    let healthy = |address: IpAddr| balancer.is_none_or(|lb| !out_of_service.contains(&health::Key { load_balancer: lb.to_owned(), address }));
    let no_slot = |a| format!("target {:?}: collector {a} has no counter slot", target.id);
    let mut collectors = Vec::new();
    let mut keys = Vec::new();
    for c in &dest.collectors {
        let address = c.address;
        if !healthy(address) {
            continue;
        }
        let hop = match c.hop {
            NextHop::Mac(m) => Some(m.0),
            NextHop::Address(ip) => (env.resolved)(&Key { port, vlan: target.vlan, ip }),
        };
        let Some(hop) = hop else { continue };
        let ip = match address {
            IpAddr::V4(dst) => OuterIp::V4 { src: Ipv4Addr::UNSPECIFIED, dst },
            IpAddr::V6(dst) => OuterIp::V6 { src: Ipv6Addr::UNSPECIFIED, dst },
        };
        let src_mac = mirror.mac.map_or(env.port_macs[port], |m| m.0);
        let outer = Outer { src_mac, dst_mac: hop, vlan: target.vlan, ip, ttl: target.ttl, dont_fragment: target.dont_fragment, dst_port: target.udp_port, vni: 0 };
        collectors.push((outer, env.slots.collector(&target.id, address).ok_or_else(|| no_slot(address))?));
        keys.push(spread::key(address_bits(address)));
    }
    // The same collectors keep the same spread (a table of buckets, built once).
    let spread = (collectors.len() > 1).then(|| match old {
        Some(o) if o.keys == keys && o.spread.is_some() => o.spread.clone().expect("checked"),
        _ => Arc::new(Spread::new(&keys)),
    });
    let empty = if dest.collectors.iter().any(|c| healthy(c.address)) { CopySkip::Unresolved } else { CopySkip::NoHealthyCollector };
    let target_slot = env.slots.target(&target.id).ok_or_else(|| format!("target {:?} has no counter slot", target.id))?;
    let ipv4 = dest.collectors.iter().any(|c| c.address.is_ipv4());
    Ok(TargetOut { port, collectors, keys, spread, empty, target: target_slot, mtu: target.mtu, udp_port: target.udp_port, ipv4, ipv6: dest.has_ipv6() })
}

/// `ip` with the session's source address of its family (validation made sure there is one).
fn from(ip: OuterIp, v4: Option<Ipv4Addr>, v6: Option<Ipv6Addr>) -> OuterIp {
    match ip {
        OuterIp::V4 { dst, .. } => OuterIp::V4 { src: v4.unwrap_or(Ipv4Addr::UNSPECIFIED), dst },
        OuterIp::V6 { dst, .. } => OuterIp::V6 { src: v6.unwrap_or(Ipv6Addr::UNSPECIFIED), dst },
    }
}

/// An address as 128 bits, IPv4 mapped into IPv6, for a collector's stable key.
fn address_bits(a: IpAddr) -> u128 {
    match a {
        IpAddr::V4(a) => u128::from(a.to_ipv6_mapped()),
        IpAddr::V6(a) => u128::from(a),
    }
}

fn words(a: u128) -> [u32; 4] {
    [(a >> 96) as u32, (a >> 64) as u32, (a >> 32) as u32, a as u32]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{parse, LoadBalancer, Mac, NetworkInterface, NetworkService, PortRange, RuleAction, Session, TargetType};
    use crate::state::{Edit, State};
    use dataplane::stats::WorkerCounters;
    use proptest::prelude::*;
    use std::fmt::Write;

    #[test]
    fn ipv6_words() {
        assert_eq!(words(0xfd00_0ec2_0000_0000_0000_0000_0000_0253), [0xfd00_0ec2, 0, 0, 0x253]);
    }

    /// Hosts on a linked port (one without a MAC), one on a tap port, and the three kinds of
    /// target, each filter with a rule or two.
    const LAB: &str = r#"
[quotas]
sessions = 12

[[port]]
name = "host"
device = "net_null0"

[[port]]
name = "uplink"
device = "net_null1"

[[port]]
name = "mirror"
device = "net_null2"
ipv4 = "192.0.2.1"

[[port]]
name = "span"
device = "net_null3"

[[link]]
ports = ["host", "uplink"]

[[network_interface]]
id = "eni-0"
port = "host"
mac = "02:00:00:00:00:00"
ipv4 = "10.0.0.10"

[[network_interface]]
id = "eni-1"
port = "host"
mac = "02:00:00:00:00:01"

[[network_interface]]
id = "eni-2"
port = "host"

[[network_interface]]
id = "eni-3"
port = "span"
mac = "02:00:00:00:00:03"

[[network_interface]]
id = "eni-c"
port = "mirror"
ipv4 = "192.0.2.10"
next_hop_mac = "02:00:00:00:00:20"

[[load_balancer]]
arn = "lb-1"
port = "mirror"
addresses = ["192.0.2.20", "192.0.2.21"]
next_hop_mac = "02:00:00:00:00:21"

[[gateway_load_balancer_endpoint]]
id = "vpce-1"
port = "mirror"
ipv4 = "192.0.2.30"
next_hop_mac = "02:00:00:00:00:22"

[[target]]
id = "tmt-1"
network_interface_id = "eni-c"

[[target]]
id = "tmt-2"
network_load_balancer_arn = "lb-1"

[[target]]
id = "tmt-3"
gateway_load_balancer_endpoint_id = "vpce-1"

[[filter]]
id = "tmf-1"
[[filter.ingress_rule]]
id = "r-0"
rule_number = 10
action = "accept"
protocol = 6

[[filter]]
id = "tmf-2"
[[filter.egress_rule]]
id = "r-1"
rule_number = 10
action = "accept"
protocol = 17
destination_port = { from = 53, to = 53 }

[[filter]]
id = "tmf-3"

[[session]]
id = "tms-0"
source = "eni-0"
target = "tmt-1"
filter = "tmf-1"
session_number = 1

[[session]]
id = "tms-1"
source = "eni-1"
target = "tmt-2"
filter = "tmf-2"
session_number = 1
"#;

    /// A table as text: each port's sources in order with their classifiers and the copies
    /// of their sessions (unused session slots are not the table's), and the exclusions.
    fn view(t: &Table) -> String {
        let mut out = String::new();
        for (p, port) in t.ports.iter().enumerate() {
            for (dir, set) in [("egress", &port.egress), ("ingress", &port.ingress)] {
                for s in set.iter() {
                    let _ = writeln!(out, "port {p} {dir}: {:?} {:?}\n  {:?}\n  {:?}", s.mac, s.sessions, s.v4.classifier, s.v6.classifier);
                    for i in s.sessions.iter() {
                        let o = t.session(*i);
                        let _ = writeln!(out, "  session {:?}: port {} max {} {:?}", o.slot, o.port, o.max_inner, o.collectors.iter().map(|c| &c.outer).collect::<Vec<_>>());
                    }
                }
                if set.seeing(&[0xff; 6])[0].is_some() {
                    let _ = writeln!(out, "port {p} {dir}: a source sees every frame");
                }
            }
        }
        let _ = write!(out, "{:?}", t.exclusions);
        out
    }

    /// One random change, chosen against the state (ids of what exists, mostly).
    fn edits(s: &State, (op, a, b, c): (u8, u32, u32, u32)) -> Vec<Edit> {
        let cfg = &s.cfg;
        let macs = [None, Some(Mac([2, 0, 0, 0, 0, 0])), Some(Mac([2, 0, 0, 0, 0, 1])), Some(Mac([2, 0, 0, 0, 0, 7]))];
        let session = |a: u32, b: u32, c: u32| Session {
            id: format!("tms-{}", a % 6),
            source: format!("eni-{}", b % 5),
            target: format!("tmt-{}", c % 4 + 1),
            filter: format!("tmf-{}", (c / 4) % 4 + 1),
            session_number: (a / 6) % 4 + 1,
            virtual_network_id: Some(b % 7),
            packet_length: [None, Some(100), Some(9000)][(c % 3) as usize],
            enabled: !c.is_multiple_of(5),
            description: None,
            tags: Default::default(),
        };
        match op % 12 {
            0 => vec![Edit::PutSession(session(a, b, c))],
            1 => vec![Edit::DeleteSession(format!("tms-{}", a % 6))],
            2 => {
                let id = format!("eni-{}", a % 5);
                let mut n = cfg.network_interfaces.get(&id).cloned().unwrap_or(NetworkInterface { id, port: "host".into(), ..Default::default() });
                n.mac = macs[(b % 4) as usize];
                n.ipv4 = (c % 2 == 0).then(|| format!("10.0.0.{}", c % 4).parse().unwrap());
                n.port = ["host", "span", "host"][(c % 3) as usize].into();
                vec![Edit::PutNetworkInterface(n)]
            }
            3 => vec![Edit::DeleteNetworkInterface(format!("eni-{}", a % 5))],
            4 => {
                let (kind, dest) = [(TargetType::NetworkInterface, "eni-c"), (TargetType::NetworkLoadBalancer, "lb-1"), (TargetType::GatewayLoadBalancerEndpoint, "vpce-1"), (TargetType::NetworkInterface, "eni-0")][(b % 4) as usize];
                let mut t = Target::new(&format!("tmt-{}", a % 4 + 1), kind, dest);
                t.udp_port = [4789, 4790][(c % 2) as usize];
                t.mtu = [9001, 1500][(c / 2 % 2) as usize];
                vec![Edit::PutTarget(t)]
            }
            5 => vec![Edit::DeleteTarget(format!("tmt-{}", a % 4 + 1))],
            6 => {
                let rule = FilterRule {
                    id: Some(format!("r-{}", b % 5)),
                    rule_number: c % 4 + 10,
                    action: if c % 2 == 0 { RuleAction::Accept } else { RuleAction::Reject },
                    protocol: [None, Some(6), Some(17)][(a / 4 % 3) as usize],
                    source_cidr: None,
                    destination_cidr: (c % 3 == 0).then(|| "10.0.0.0/8".parse().unwrap()),
                    source_port: None,
                    destination_port: (c % 4 == 1).then_some(PortRange { from: 80, to: 80 }),
                    description: None,
                    tags: Default::default(),
                };
                let direction = if b % 2 == 0 { Direction::Ingress } else { Direction::Egress };
                vec![Edit::PutRule { filter: format!("tmf-{}", a % 4 + 1), direction, rule }]
            }
            7 => vec![Edit::DeleteRule { filter: format!("tmf-{}", a % 4 + 1), id: format!("r-{}", b % 5) }],
            8 => {
                let mut f = cfg.filters.get(&format!("tmf-{}", a % 4 + 1)).cloned().unwrap_or(crate::config::Filter { id: format!("tmf-{}", a % 4 + 1), ..Default::default() });
                f.network_services = if b % 2 == 0 { vec![NetworkService::AmazonDns] } else { vec![] };
                vec![Edit::PutFilter(f)]
            }
            9 => vec![Edit::DeleteFilter(format!("tmf-{}", a % 4 + 1))],
            10 => {
                let addresses = [vec![], vec!["192.0.2.20".parse().unwrap()], vec!["192.0.2.20".parse().unwrap(), "192.0.2.22".parse().unwrap()]][(b % 3) as usize].clone();
                vec![Edit::PutLoadBalancer(LoadBalancer { arn: "lb-1".into(), port: "mirror".into(), addresses, next_hop_mac: Some(Mac([2, 0, 0, 0, 0, 0x21])), ..Default::default() })]
            }
            _ => vec![Edit::DeleteSession(format!("tms-{}", a % 6)), Edit::PutSession(session(a + 1, b, c)), Edit::PutSession(session(a + 2, b + 1, c + 1))],
        }
    }

    /// With many sources, a change to one session validates, compiles and builds what it
    /// touches: its source, its source's sessions and what they name.
    #[test]
    fn a_change_to_one_session_of_thousands_costs_what_it_touches() {
        let mut text = LAB.replace("sessions = 12", "sessions = 4000");
        for i in 0..1000 {
            let _ = write!(text, "\n[[network_interface]]\nid = \"eni-h{i}\"\nport = \"host\"\nmac = \"02:01:00:00:{:02x}:{:02x}\"\n", i >> 8, i & 255);
            for n in 1..=3 {
                let _ = write!(text, "\n[[session]]\nid = \"tms-h{i}-{n}\"\nsource = \"eni-h{i}\"\ntarget = \"tmt-{n}\"\nfilter = \"tmf-{n}\"\nsession_number = {n}\n");
            }
        }
        let mut state = State::new(parse(&text, "lab.toml").unwrap(), Default::default());
        let counters = [WorkerCounters::new(4, 4000)];
        let mut slots = Slots::new(4000);
        slots.assign_all(&state.cfg, &counters).unwrap();
        slots.published(1);
        slots.reclaim(|_| true);
        let macs = [[2, 0, 0, 0, 9, 0]; 4];
        let mut compiler = Compiler::default();
        compiler.compile_all(&state.cfg, state.refs(), &Env { port_macs: &macs, slots: &slots, resolved: &|_| None }, 1).unwrap();
        assert_eq!(compiler.work.sources_built, 1002, "every source at start-up");
        let mut s = state.cfg.sessions.get("tms-h500-2").unwrap().clone();
        for change in [vec![Edit::PutSession(Session { filter: "tmf-3".into(), ..s.clone() })], vec![Edit::DeleteSession(s.id.clone())], {
            s.id = "tms-new".into();
            vec![Edit::PutSession(s)]
        }] {
            let applied = state.apply(&change);
            let validated = state.validate(&applied.touched).unwrap();
            slots.assign(&state.cfg, applied.touched.sessions.iter().map(String::as_str), &counters).unwrap();
            compiler.compile(&state.cfg, state.refs(), &applied.touched, &Env { port_macs: &macs, slots: &slots, resolved: &|_| None }, 2).unwrap();
            slots.published(1);
            slots.reclaim(|_| true);
            assert!(validated <= 4, "{change:?}: {validated} resources validated");
            assert_eq!(compiler.work, Work { sources_built: 1, sessions_compiled: usize::from(!matches!(change[0], Edit::DeleteSession(_))) }, "{change:?}");
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

        /// Changes applied one by one: each change's validation says what a whole validation
        /// says, the references kept are those of the configuration, a refused change leaves
        /// the configuration as it was, and the table compiled from the change alone is the
        /// table compiled from the whole configuration.
        #[test]
        fn a_change_validates_and_compiles_as_the_whole_configuration_would(ops in proptest::collection::vec((any::<u8>(), any::<u32>(), any::<u32>(), any::<u32>()), 1..40)) {
            let mut state = State::new(parse(LAB, "lab.toml").unwrap(), Default::default());
            let counters = [WorkerCounters::new(4, 12)];
            let mut slots = Slots::new(12);
            slots.assign_all(&state.cfg, &counters).unwrap();
            slots.published(1);
            slots.reclaim(|_| true);
            let macs = [[2, 0, 0, 0, 9, 0], [2, 0, 0, 0, 9, 1], [2, 0, 0, 0, 9, 2], [2, 0, 0, 0, 9, 3]];
            let mut compiler = Compiler::default();
            compiler.compile_all(&state.cfg, state.refs(), &Env { port_macs: &macs, slots: &slots, resolved: &|_| None }, 1).unwrap();
            for (step, op) in ops.into_iter().enumerate() {
                let before = state.cfg.clone();
                let change = edits(&state, op);
                let applied = state.apply(&change);
                prop_assert_eq!(state.refs(), &Refs::of(&state.cfg), "step {}: {:?}: references kept", step, change);
                let whole = state.cfg.validate();
                let verdict = state.validate(&applied.touched);
                prop_assert_eq!(verdict.is_ok(), whole.is_ok(), "step {}: {:?}: the change's validation says {:?}, the whole one {:?}", step, change, verdict, whole);
                if verdict.is_err() {
                    state.undo(applied);
                    prop_assert_eq!(&state.cfg, &before, "step {}: undone", step);
                    prop_assert_eq!(state.refs(), &Refs::of(&state.cfg));
                    continue;
                }
                let assigned = slots.assign(&state.cfg, applied.touched.sessions.iter().map(String::as_str), &counters).unwrap();
                let env = Env { port_macs: &macs, slots: &slots, resolved: &|_| None };
                let table = compiler.compile(&state.cfg, state.refs(), &applied.touched, &env, 2).unwrap();
                let fresh = Compiler::default().compile_all(&state.cfg, state.refs(), &env, 2).unwrap();
                prop_assert_eq!(view(&table), view(&fresh), "step {}: {:?}", step, change);
                if op.0 % 7 == 3 {
                    // Refused after it compiled (the journal could not be written).
                    slots.undo(assigned);
                    compiler.refused(&applied.touched);
                    state.undo(applied);
                    prop_assert_eq!(&state.cfg, &before, "step {}: undone", step);
                } else {
                    slots.published(1);
                    slots.reclaim(|_| true);
                }
            }
        }
    }
}
