//! Compiling a validated configuration into the immutable [`Table`] the workers read.

use crate::config::{packet_length_to, Config, ConfigError, Direction, FilterRule, NetworkInterface, NextHop, Target};
use crate::counters::Slots;
use crate::neighbour::Key;
use dataplane::encap::{max_inner_len, Outer, Template};
use dataplane::filter::{Cidr, Exclusions, Rule};
use dataplane::table::{FilterRules, PortRules, SessionOut, SourceRules, SourceSet, Table};
use dataplane::types::{CounterSlot, SessionIdx};
use ipnet::IpNet;
use std::collections::HashMap;
use std::net::IpAddr;
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

/// The next hops resolved by ARP that `cfg`'s targets need.
pub fn wanted_next_hops(cfg: &Config) -> Vec<Key> {
    let mut keys = Vec::new();
    for t in &cfg.targets {
        let Some(d) = cfg.target_destination(t) else { continue };
        let Some(port) = cfg.port_index(d.port) else { continue };
        for c in &d.collectors {
            if let NextHop::Arp(ip) = c.hop {
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

        // What copies to each target look like, less the session's VNI and length.
        let mut outs: HashMap<&str, (usize, Vec<Outer>, u32, u16)> = HashMap::new();
        let mut sessions: Vec<Option<SessionOut>> = Vec::new();
        // Sessions that mirror (enabled, with everything they refer to present), by source.
        let mut by_source: HashMap<&str, Vec<(u32, SessionIdx, Arc<FilterRules>)>> = HashMap::new();
        for s in cfg.sessions.iter().filter(|s| s.enabled) {
            let (Some(filter), Some(source), Some(target)) = (filters.get(s.filter.as_str()), interfaces.get(s.source.as_str()), targets.get(s.target.as_str())) else { continue };
            let (port, outers, mtu, udp_port) = match outs.entry(target.id.as_str()) {
                std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
                std::collections::hash_map::Entry::Vacant(e) => e.insert(self::outers(cfg, target, port_macs, &resolved).map_err(msg)?),
            };
            let src_ip = source.ipv4.or(cfg.ports[*port].ipv4).ok_or_else(|| msg(format!("session {:?}: no outer source address (ipv4 on its network interface or port)", s.id)))?;
            exclusions.own_ips.push(u32::from(src_ip));
            exclusions.own_ports.push(*udp_port);
            let slot = slots.get(&s.id).ok_or_else(|| msg(format!("session {:?} has no counter slot", s.id)))?;
            let vni = s.virtual_network_id.unwrap_or(0);
            let templates = outers.iter().map(|o| Template::new(&Outer { src_ip: u32::from(src_ip), vni, ..*o })).collect();
            let i = slot as usize;
            if sessions.len() <= i {
                sessions.resize_with(i + 1, || None);
            }
            sessions[i] = Some(SessionOut { id: s.id.as_str().into(), slot: CounterSlot(slot), port: *port as u16, max_inner: max_inner_len(packet_length_to(s, target), *mtu), templates });
            by_source.entry(s.source.as_str()).or_default().push((s.session_number, SessionIdx(slot), filter.clone()));
        }
        self.mirroring = by_source.values().map(Vec::len).sum();
        exclusions.own_ips.sort_unstable();
        exclusions.own_ips.dedup();
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
                    let build = |dir: Direction| {
                        SourceRules::build(&source.id, mac, dir, &mine, &exclusions, cfg.dataplane.workers)
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
                .map(|(i, s)| s.unwrap_or(SessionOut { id: "".into(), slot: CounterSlot(i as u32), port: 0, max_inner: 0, templates: Box::new([]) }))
                .collect(),
            exclusions,
        })
    }
}

/// A target's mirror port, outer headers (one per collector whose next hop is known; the
/// others are skipped, and counted, until ARP answers; source address and VNI left for the
/// session), MTU and UDP port.
fn outers(cfg: &Config, target: &Target, port_macs: &[[u8; 6]], resolved: &impl Fn(&Key) -> Option<[u8; 6]>) -> Result<(usize, Vec<Outer>, u32, u16), String> {
    let dest = cfg.target_destination(target).ok_or_else(|| format!("target {:?}: its destination is not defined", target.id))?;
    let port = cfg.port_index(dest.port).ok_or_else(|| format!("target {:?}: no port {:?}", target.id, dest.port))?;
    let mirror = &cfg.ports[port];
    let outers = dest
        .collectors
        .iter()
        .filter_map(|c| {
            let hop = match c.hop {
                NextHop::Mac(m) => Some(m.0),
                NextHop::Arp(ip) => resolved(&Key { port, vlan: target.vlan, ip }),
            }?;
            Some(Outer { src_mac: mirror.mac.map_or(port_macs[port], |m| m.0), dst_mac: hop, vlan: target.vlan, src_ip: 0, dst_ip: u32::from(c.address), dst_port: target.udp_port, vni: 0 })
        })
        .collect();
    Ok((port, outers, target.mtu, target.udp_port))
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
