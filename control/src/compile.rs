//! Compiling a validated configuration into the immutable [`Table`] the workers read.

use crate::config::{Config, ConfigError, Direction, FilterRule, NextHop, Session};
use crate::counters::Slots;
use crate::neighbour::Key;
use dataplane::filter::{Cidr, Exclusions, Rule};
use dataplane::types::{CounterSlot, SessionIdx};
use dataplane::encap::{max_inner_len, Outer, Template};
use dataplane::table::{FilterRules, PortRules, SessionOut, SourceRules, Table};
use ipnet::IpNet;
use std::collections::HashMap;
use std::net::IpAddr;

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

/// Compiles `cfg` for ports whose own MACs are `port_macs` (by port index); `resolved` gives
/// the MAC of a next hop named by address, or `None` while it is unresolved (copies to that
/// collector are then skipped and counted).
pub fn compile(cfg: &Config, port_macs: &[[u8; 6]], slots: &Slots, generation: u64, resolved: impl Fn(&Key) -> Option<[u8; 6]>) -> Result<Table, ConfigError> {
    let msg = |m: String| ConfigError { problems: vec![(None, None, m)] };
    let filters: HashMap<&str, FilterRules> = cfg.filters.iter().map(|f| (f.id.as_str(), filter_rules(f))).collect();
    let peers = cfg.peers();
    let mut exclusions = Exclusions::new(
        &cfg.vpc.resolvers.iter().filter_map(|a| match a { IpAddr::V4(a) => Some(u32::from(*a)), _ => None }).collect::<Vec<_>>(),
        &cfg.vpc.resolvers.iter().filter_map(|a| match a { IpAddr::V6(a) => Some(words(u128::from(*a))), _ => None }).collect::<Vec<_>>(),
    );

    // Sessions that mirror: enabled, with everything they refer to present.
    let mut live: Vec<&Session> = cfg
        .sessions
        .iter()
        .filter(|s| {
            s.enabled
                && filters.contains_key(s.filter.as_str())
                && cfg.network_interfaces.iter().any(|x| x.id == s.source)
                && cfg.targets.iter().any(|x| x.id == s.target)
        })
        .collect();
    live.sort_by_key(|s| (s.source.as_str(), s.session_number));

    let mut sessions = Vec::with_capacity(live.len());
    for s in &live {
        let source = cfg.network_interfaces.iter().find(|x| x.id == s.source).expect("checked above");
        let target = cfg.targets.iter().find(|x| x.id == s.target).expect("checked above");
        let dest = cfg.target_destination(target).ok_or_else(|| msg(format!("target {:?}: its destination is not defined", target.id)))?;
        let port = cfg.port_index(dest.port).ok_or_else(|| msg(format!("target {:?}: no port {:?}", target.id, dest.port)))?;
        let mirror = &cfg.ports[port];
        let src_ip = source.ipv4.or(mirror.ipv4).ok_or_else(|| msg(format!("session {:?}: no outer source address (ipv4 on its network interface or port)", s.id)))?;
        exclusions.own_ips.push(u32::from(src_ip));
        exclusions.own_ports.push(target.udp_port);
        // One template per collector whose next hop is known; the others are skipped (and
        // counted) until ARP answers.
        let templates = dest
            .collectors
            .iter()
            .filter_map(|c| {
                let hop = match c.hop {
                    NextHop::Mac(m) => Some(m.0),
                    NextHop::Arp(ip) => resolved(&Key { port, vlan: target.vlan, ip }),
                }?;
                Some(Template::new(&Outer {
                    src_mac: mirror.mac.map_or(port_macs[port], |m| m.0),
                    dst_mac: hop,
                    vlan: target.vlan,
                    src_ip: u32::from(src_ip),
                    dst_ip: u32::from(c.address),
                    dst_port: target.udp_port,
                    vni: s.virtual_network_id.unwrap_or(0),
                }))
            })
            .collect();
        sessions.push(SessionOut {
            slot: CounterSlot(slots.get(&s.id).ok_or_else(|| msg(format!("session {:?} has no counter slot", s.id)))?),
            port: port as u16,
            max_inner: max_inner_len(cfg.effective_packet_length(s), target.mtu),
            templates,
        });
    }
    exclusions.own_ips.sort_unstable();
    exclusions.own_ips.dedup();
    exclusions.own_ports.sort_unstable();
    exclusions.own_ports.dedup();

    let mut ports: Vec<(Vec<SourceRules>, Vec<SourceRules>)> = (0..cfg.ports.len()).map(|_| Default::default()).collect();
    for source in &cfg.network_interfaces {
        let mine: Vec<(SessionIdx, &FilterRules)> = live
            .iter()
            .enumerate()
            .filter(|(_, s)| s.source == source.id)
            .map(|(i, s)| (SessionIdx(i as u32), &filters[s.filter.as_str()]))
            .collect();
        let Some(port) = cfg.port_index(&source.port) else { continue };
        if mine.is_empty() {
            continue;
        }
        let mac = source.mac.map(|m| m.0);
        let build = |dir: Direction| {
            SourceRules::build(mac, dir, &mine, &exclusions).map_err(|e| msg(format!("network interface {:?} ({} direction): {e}", source.id, dir.name())))
        };
        ports[port].1.push(build(Direction::Egress)?);
        // On a tap port (no link) only a MAC tells which frames go to the host.
        if peers[port].is_some() || mac.is_some() {
            ports[port].0.push(build(Direction::Ingress)?);
        }
    }

    Ok(Table {
        generation,
        ports: ports
            .into_iter()
            .map(|(ingress, egress)| PortRules { ingress: ingress.into(), egress: egress.into() })
            .collect(),
        sessions: sessions.into(),
        exclusions,
    })
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
