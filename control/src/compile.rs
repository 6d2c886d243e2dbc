//! Compiling a validated configuration into the immutable [`Table`] the workers read.

use crate::arp::Key;
use crate::config::{Config, ConfigError, FilterRule, Session};
use crate::report::{session_totals, DirReport};
use dataplane::stats::WorkerCounters;
use dataplane::filter::{Cidr, Exclusions, Rule};
use dataplane::encap::{max_inner_len, Outer, Template};
use dataplane::table::{FilterRules, PortRules, SessionOut, SourceRules, Table};
use dataplane::types::{CounterSlot, Direction, SessionIdx};
use ipnet::IpNet;
use std::collections::HashMap;
use std::net::IpAddr;

/// Stable counter slots for sessions: a session keeps its slot while it exists, whatever else
/// changes, so its counters survive table swaps. A slot freed by a change is reused only after
/// that change's table is published (no worker can still count into it for the old session),
/// and a reused slot remembers the counts it started from.
#[derive(Clone, Debug, Default)]
pub struct Slots {
    by_id: HashMap<String, u32>,
    free: Vec<u32>,
    /// Freed by the change being applied; free once its table is published.
    released: Vec<u32>,
    next: u32,
    capacity: u32,
    /// What a reused slot's counters held when its session got it.
    base: HashMap<u32, [DirReport; 2]>,
}

impl Slots {
    /// Room for `capacity` sessions at once.
    pub fn new(capacity: usize) -> Self {
        Slots { capacity: capacity as u32, ..Slots::default() }
    }

    /// Number of slots the counters must have.
    pub fn capacity(&self) -> usize {
        self.capacity as usize
    }

    /// Gives every session of `cfg` a slot and releases the slots of sessions that are gone.
    pub fn assign(&mut self, cfg: &Config, counters: &[WorkerCounters]) -> Result<(), ConfigError> {
        let live: std::collections::HashSet<&str> = cfg.sessions.iter().map(|s| s.id.as_str()).collect();
        let gone: Vec<String> = self.by_id.keys().filter(|id| !live.contains(id.as_str())).cloned().collect();
        for id in gone {
            if let Some(slot) = self.by_id.remove(&id) {
                self.released.push(slot);
            }
        }
        for s in &cfg.sessions {
            if self.by_id.contains_key(&s.id) {
                continue;
            }
            let slot = match self.free.pop() {
                Some(slot) => slot,
                None if self.next < self.capacity => {
                    self.next += 1;
                    self.next - 1
                }
                None => {
                    return Err(ConfigError::msg(format!(
                        "no counter slot left for session {:?}: at most {} sessions ([quotas] sessions at start-up)",
                        s.id, self.capacity
                    )))
                }
            };
            self.base.insert(slot, session_totals(counters, slot));
            self.by_id.insert(s.id.clone(), slot);
        }
        Ok(())
    }

    /// The change whose slots were assigned is live: released slots may be reused.
    pub fn published(&mut self) {
        self.free.append(&mut self.released);
    }

    /// The slot of session `id`.
    pub fn get(&self, id: &str) -> Option<u32> {
        self.by_id.get(id).copied()
    }

    /// The counts slot `slot` held when its session got it.
    pub fn base(&self, slot: u32) -> [DirReport; 2] {
        self.base.get(&slot).copied().unwrap_or_default()
    }
}

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

/// The next hop a target sends to, when it names one by address.
pub fn next_hop_key(cfg: &Config, t: &crate::config::Target) -> Option<Key> {
    Some(Key { port: cfg.port_index(&t.port)?, vlan: t.vlan, ip: t.next_hop? })
}

/// Compiles `cfg` for ports whose own MACs are `port_macs` (by port index); `resolved` gives
/// the MAC of a next hop named by address, or `None` while it is unresolved (its sessions'
/// copies are then skipped and counted).
pub fn compile(cfg: &Config, port_macs: &[[u8; 6]], slots: &Slots, generation: u64, resolved: impl Fn(&Key) -> Option<[u8; 6]>) -> Result<Table, ConfigError> {
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
                && cfg.sources.iter().any(|x| x.id == s.source)
                && cfg.targets.iter().any(|x| x.id == s.target)
        })
        .collect();
    live.sort_by_key(|s| (s.source.as_str(), s.session_number));

    let mut sessions = Vec::with_capacity(live.len());
    for s in &live {
        let source = cfg.sources.iter().find(|x| x.id == s.source).expect("checked above");
        let target = cfg.targets.iter().find(|x| x.id == s.target).expect("checked above");
        let port = cfg.port_index(&target.port).ok_or_else(|| ConfigError::msg(format!("target {:?}: no port {:?}", target.id, target.port)))?;
        let mirror = &cfg.ports[port];
        let src_ip = source.ipv4.or(mirror.ipv4).ok_or_else(|| {
            ConfigError::msg(format!("session {:?}: no outer source address (ipv4 on source or port)", s.id))
        })?;
        exclusions.own_ips.push(u32::from(src_ip));
        exclusions.own_ports.push(target.udp_port);
        let next_hop = target.next_hop_mac.map(|m| m.0).or_else(|| next_hop_key(cfg, target).and_then(|k| resolved(&k)));
        let templates = next_hop
            .map(|hop| target.all_addresses().into_iter().map(move |dst| (hop, dst)))
            .into_iter()
            .flatten()
            .map(|(hop, dst)| {
                Template::new(&Outer {
                    src_mac: mirror.mac.map_or(port_macs[port], |m| m.0),
                    dst_mac: hop,
                    vlan: target.vlan,
                    src_ip: u32::from(src_ip),
                    dst_ip: u32::from(dst),
                    dst_port: target.udp_port,
                    vni: s.virtual_network_id.unwrap_or(0),
                })
            })
            .collect();
        sessions.push(SessionOut {
            slot: CounterSlot(slots.get(&s.id).ok_or_else(|| ConfigError::msg(format!("session {:?} has no counter slot", s.id)))?),
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
    for source in &cfg.sources {
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
        let build = |dir| {
            SourceRules::build(mac, dir, &mine, &exclusions).map_err(|e| ConfigError::msg(format!("source {:?} ({} direction): {e}", source.id, dir.name())))
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
    fn slots_are_stable_and_reused() {
        let mut cfg = Config::default();
        let mk = |id: &str| Session {
            id: id.into(),
            source: "s".into(),
            target: "t".into(),
            filter: "f".into(),
            session_number: 1,
            virtual_network_id: None,
            packet_length: None,
            enabled: true,
            description: None,
        };
        let counters = [WorkerCounters::new(0, 3)];
        cfg.sessions = vec![mk("a"), mk("b")];
        let mut slots = Slots::new(3);
        slots.assign(&cfg, &counters).unwrap();
        assert_eq!((slots.get("a"), slots.get("b")), (Some(0), Some(1)));
        slots.published();
        // a's slot is not reused by the change that frees it...
        counters[0].session(CounterSlot(0), Direction::Egress).packets.add(7);
        cfg.sessions = vec![mk("b"), mk("c")];
        slots.assign(&cfg, &counters).unwrap();
        assert_eq!((slots.get("b"), slots.get("c"), slots.get("a")), (Some(1), Some(2), None));
        slots.published();
        // ...but by a later one, which starts from the counts a left behind.
        cfg.sessions = vec![mk("b"), mk("c"), mk("d")];
        slots.assign(&cfg, &counters).unwrap();
        assert_eq!(slots.get("d"), Some(0));
        assert_eq!(slots.base(0)[Direction::Egress as usize].packets, 7);
        cfg.sessions.push(mk("e"));
        assert!(slots.assign(&cfg, &counters).is_err(), "capacity 3");
    }

    #[test]
    fn ipv6_words() {
        assert_eq!(words(0xfd00_0ec2_0000_0000_0000_0000_0000_0253), [0xfd00_0ec2, 0, 0, 0x253]);
    }
}
