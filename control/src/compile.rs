//! Compiling a validated configuration into the immutable [`Table`] the workers read.

use crate::config::{packet_length_to, Config, ConfigError, Direction, FilterRule, NetworkInterface, NextHop, Target};
use crate::counters::Slots;
use crate::neighbour::Key;
use dataplane::encap::{max_inner_len, Outer, OuterIp, Template};
use dataplane::filter::{Cidr, Exclusions, Rule};
use dataplane::table::{FilterRules, PortRules, SessionOut, SourceRules, SourceSet, Table};
use dataplane::types::{CounterSlot, SessionIdx};
use ipnet::IpNet;
use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

/// Converts a configured rule to the dataplane's.
pub fn rule(r: &FilterRule) -> Rule {
    Rule {
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
        ingress: sorted(&f.ingress_rules),
        egress: sorted(&f.egress_rules),
        amazon_dns: f.network_services.contains(&crate::config::NetworkService::AmazonDns),
    }
}

/// The next hops resolved by ARP or Neighbor Discovery that `cfg`'s targets need.
pub fn wanted_next_hops(cfg: &Config) -> Vec<Key> {
    let mut keys = Vec::new();
    for t in &cfg.targets {
        let Some(d) = cfg.target_destination(t) else { continue };
        let Some(port) = cfg.port_index(d.port) else { continue };
        for c in &d.collectors {
            if let NextHop::Address(ip) = c.hop {
                let k = Key { port, vlan: t.vlan, ip };
                if !keys.contains(&k) {
                    keys.push(k);
                }
            }
        }
    }
    keys
}

/// What one compilation keeps for the next: each source's compiled filters, with what they
/// were built from. A change then rebuilds only the sources whose sessions or filters it
/// touched, and the new table shares every other source's rules with the old one (the
/// workers read both while the swap is under way; `Arc` frees what neither uses).
#[derive(Default)]
pub struct Compiler {
    /// The VPC resolvers the cached rules were built for: a change to them rebuilds all.
    resolvers: Vec<IpAddr>,
    /// By network interface id.
    sources: HashMap<String, Built>,
    /// Sources rebuilt by the last compilation (for tests and the log).
    pub rebuilt: usize,
    /// Sessions mirroring in the last table: enabled, with everything they name present.
    pub mirroring: usize,
}

/// One source's compiled rules and their inputs.
struct Built {
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

impl Compiler {
    /// Compiles `cfg` for ports whose own MACs are `port_macs` (by port index); `resolved`
    /// gives the MAC of a next hop named by address, or `None` while it is unresolved (copies
    /// to that collector are then skipped and counted). Sessions are numbered by their
    /// counter slot in `slots`, which every session of `cfg` must have.
    pub fn compile(&mut self, cfg: &Config, port_macs: &[[u8; 6]], slots: &Slots, generation: u64, resolved: impl Fn(&Key) -> Option<[u8; 6]>) -> Result<Table, ConfigError> {
        let msg = |m: String| ConfigError { problems: vec![(None, None, m)] };
        if self.resolvers != cfg.vpc.resolvers {
            self.sources.clear();
            self.resolvers = cfg.vpc.resolvers.clone();
        }
        let filters: HashMap<&str, Arc<FilterRules>> = cfg.filters.iter().map(|f| (f.id.as_str(), Arc::new(filter_rules(f)))).collect();
        let interfaces: HashMap<&str, &NetworkInterface> = cfg.network_interfaces.iter().map(|n| (n.id.as_str(), n)).collect();
        let targets: HashMap<&str, &Target> = cfg.targets.iter().map(|t| (t.id.as_str(), t)).collect();
        let peers = cfg.peers();
        let mut exclusions = Exclusions::new(
            &cfg.vpc.resolvers.iter().filter_map(|a| match a { IpAddr::V4(a) => Some(u32::from(*a)), _ => None }).collect::<Vec<_>>(),
            &cfg.vpc.resolvers.iter().filter_map(|a| match a { IpAddr::V6(a) => Some(words(u128::from(*a))), _ => None }).collect::<Vec<_>>(),
        );

        // What copies to each target look like, less the session's VNI, source address and length.
        let mut outs: HashMap<&str, Outers> = HashMap::new();
        let mut sessions: Vec<Option<SessionOut>> = Vec::new();
        // Sessions that mirror (enabled, with everything they refer to present), by source.
        let mut by_source: HashMap<&str, Vec<(u32, SessionIdx, Arc<FilterRules>)>> = HashMap::new();
        for s in cfg.sessions.iter().filter(|s| s.enabled) {
            let (Some(filter), Some(source), Some(target)) = (filters.get(s.filter.as_str()), interfaces.get(s.source.as_str()), targets.get(s.target.as_str())) else { continue };
            let o = match outs.entry(target.id.as_str()) {
                std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
                std::collections::hash_map::Entry::Vacant(e) => e.insert(self::outers(cfg, target, port_macs, &resolved).map_err(msg)?),
            };
            // The outer source of each family: the source's own address (AWS uses the ENI's),
            // else the mirror port's.
            let mirror = &cfg.ports[o.port];
            let no_source = |family: &str| msg(format!("session {:?}: no outer {family} source address ({family} on its network interface or port)", s.id));
            let src_v4 = source.ipv4.or(mirror.ipv4);
            let src_v6 = source.ipv6.or(mirror.ipv6);
            if o.ipv4 {
                exclusions.own_ips.push(u32::from(src_v4.ok_or_else(|| no_source("ipv4"))?));
            }
            if o.ipv6 {
                exclusions.own_ips_v6.push(words(u128::from(src_v6.ok_or_else(|| no_source("ipv6"))?)));
            }
            exclusions.own_ports.push(o.udp_port);
            let slot = slots.get(&s.id).ok_or_else(|| msg(format!("session {:?} has no counter slot", s.id)))?;
            let vni = s.virtual_network_id.unwrap_or(0);
            let templates = o.outers.iter().map(|outer| Template::new(&Outer { ip: from(outer.ip, src_v4, src_v6), vni, ..*outer })).collect();
            let i = slot as usize;
            if sessions.len() <= i {
                sessions.resize_with(i + 1, || None);
            }
            let max_inner = max_inner_len(packet_length_to(s, target), o.mtu, o.ipv6);
            sessions[i] = Some(SessionOut { slot: CounterSlot(slot), port: o.port as u16, max_inner, templates });
            by_source.entry(s.source.as_str()).or_default().push((s.session_number, SessionIdx(slot), filter.clone()));
        }
        self.mirroring = by_source.values().map(Vec::len).sum();
        exclusions.own_ips.sort_unstable();
        exclusions.own_ips.dedup();
        exclusions.own_ips_v6.sort_unstable();
        exclusions.own_ips_v6.dedup();
        exclusions.own_ports.sort_unstable();
        exclusions.own_ports.dedup();

        let mut ports: Vec<(Vec<Arc<SourceRules>>, Vec<Arc<SourceRules>>)> = (0..cfg.ports.len()).map(|_| Default::default()).collect();
        let mut kept = HashMap::with_capacity(by_source.len());
        self.rebuilt = 0;
        // In the inventory's order: the order a frame's copies are made in.
        for source in &cfg.network_interfaces {
            let Some(mut mine) = by_source.remove(source.id.as_str()) else { continue };
            let Some(port) = cfg.port_index(&source.port) else { continue };
            mine.sort_by_key(|(number, _, _)| *number);
            let mine: Vec<(SessionIdx, Arc<FilterRules>)> = mine.into_iter().map(|(_, i, f)| (i, f)).collect();
            let mac = source.mac.map(|m| m.0);
            // On a tap port (no link) only a MAC tells which frames go to the host.
            let with_ingress = peers[port].is_some() || mac.is_some();
            let built = match self.sources.remove(&source.id) {
                Some(b) if b.same_inputs(mac, with_ingress, &mine) => b,
                _ => {
                    self.rebuilt += 1;
                    let refs: Vec<(SessionIdx, &FilterRules)> = mine.iter().map(|(i, f)| (*i, &**f)).collect();
                    let build = |dir: Direction| {
                        SourceRules::build(mac, dir, &refs, &exclusions)
                            .map(Arc::new)
                            .map_err(|e| msg(format!("network interface {:?} ({} direction): {e}", source.id, dir.name())))
                    };
                    Built { mac, with_ingress, egress: build(Direction::Egress)?, ingress: if with_ingress { Some(build(Direction::Ingress)?) } else { None }, sessions: mine }
                }
            };
            ports[port].1.push(built.egress.clone());
            if let Some(i) = &built.ingress {
                ports[port].0.push(i.clone());
            }
            kept.insert(source.id.clone(), built);
        }
        // What no source uses any more goes; a refused change may leave its sources here,
        // which the next compilation finds unlike its inputs and rebuilds.
        self.sources = kept;

        let name = |p: usize| cfg.ports[p].name.as_str();
        let set = |p: usize, v: Vec<Arc<SourceRules>>| SourceSet::new(v).map_err(|e| msg(format!("port {:?}: {e}", name(p))));
        Ok(Table {
            generation,
            ports: ports
                .into_iter()
                .enumerate()
                .map(|(p, (ingress, egress))| Ok(PortRules { ingress: set(p, ingress)?, egress: set(p, egress)? }))
                .collect::<Result<Vec<_>, ConfigError>>()?
                .into(),
            sessions: sessions
                .into_iter()
                .enumerate()
                .map(|(i, s)| s.unwrap_or(SessionOut { slot: CounterSlot(i as u32), port: 0, max_inner: 0, templates: Box::new([]) }))
                .collect(),
            exclusions,
        })
    }
}

/// What copies to one target look like before a session's source and VNI are known.
struct Outers {
    /// The mirror port.
    port: usize,
    /// One per collector whose next hop is known (the others are skipped, and counted, until
    /// ARP or Neighbor Discovery answers); the source address left unspecified.
    outers: Vec<Outer>,
    mtu: u32,
    udp_port: u16,
    /// Some collector has an IPv4 address, some an IPv6 one: which outer source addresses
    /// its sessions need.
    ipv4: bool,
    ipv6: bool,
}

/// A target's copies, from its destination.
fn outers(cfg: &Config, target: &Target, port_macs: &[[u8; 6]], resolved: &impl Fn(&Key) -> Option<[u8; 6]>) -> Result<Outers, String> {
    let dest = cfg.target_destination(target).ok_or_else(|| format!("target {:?}: its destination is not defined", target.id))?;
    let port = cfg.port_index(dest.port).ok_or_else(|| format!("target {:?}: no port {:?}", target.id, dest.port))?;
    let mirror = &cfg.ports[port];
    let outers = dest
        .collectors
        .iter()
        .filter_map(|c| {
            let hop = match c.hop {
                NextHop::Mac(m) => Some(m.0),
                NextHop::Address(ip) => resolved(&Key { port, vlan: target.vlan, ip }),
            }?;
            let ip = match c.address {
                IpAddr::V4(dst) => OuterIp::V4 { src: Ipv4Addr::UNSPECIFIED, dst },
                IpAddr::V6(dst) => OuterIp::V6 { src: Ipv6Addr::UNSPECIFIED, dst },
            };
            let src_mac = mirror.mac.map_or(port_macs[port], |m| m.0);
            Some(Outer { src_mac, dst_mac: hop, vlan: target.vlan, ip, ttl: target.ttl, dont_fragment: target.dont_fragment, dst_port: target.udp_port, vni: 0 })
        })
        .collect();
    let ipv4 = dest.collectors.iter().any(|c| c.address.is_ipv4());
    Ok(Outers { port, outers, mtu: target.mtu, udp_port: target.udp_port, ipv4, ipv6: dest.has_ipv6() })
}

/// `ip` with the session's source address of its family (validation made sure there is one).
fn from(ip: OuterIp, v4: Option<Ipv4Addr>, v6: Option<Ipv6Addr>) -> OuterIp {
    match ip {
        OuterIp::V4 { dst, .. } => OuterIp::V4 { src: v4.unwrap_or(Ipv4Addr::UNSPECIFIED), dst },
        OuterIp::V6 { dst, .. } => OuterIp::V6 { src: v6.unwrap_or(Ipv6Addr::UNSPECIFIED), dst },
    }
}

fn words(a: u128) -> [u32; 4] {
    [(a >> 96) as u32, (a >> 64) as u32, (a >> 32) as u32, a as u32]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_words() {
        assert_eq!(words(0xfd00_0ec2_0000_0000_0000_0000_0000_0253), [0xfd00_0ec2, 0, 0, 0x253]);
    }
}
