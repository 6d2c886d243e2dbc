//! Next hops by ARP and Neighbor Discovery: the neighbour table the control thread keeps for
//! targets that give `next_hop` (an address) instead of `next_hop_mac`, and the frames it
//! sends and reads on mirror ports (their formats are the dataplane's,
//! [`dataplane::wire::arp`] and [`dataplane::wire::ndp`]). IPv4 next hops are resolved by ARP
//! from the port's `ipv4`, IPv6 ones by Neighbor Discovery from its `ipv6`, the same way:
//!
//! An entry is probed with broadcast requests (ARP) or solicitations to the solicited-node
//! group (ND), one a second, until someone answers; then it is reachable for [`REACHABLE`],
//! after which it is confirmed with unicast requests or solicitations; with no answer after
//! [`PROBES`] of them it is forgotten, and copies for it are skipped (counted as
//! "unresolved") until it answers again. Any ARP packet from a wanted address, and any
//! solicitation from or advertisement for one, updates its entry. Requests and solicitations
//! for a mirror port's own address are answered.

use dataplane::wire::{arp, ndp};
use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::{Duration, Instant};

/// How long an answer keeps an entry good before it is confirmed again.
pub const REACHABLE: Duration = Duration::from_secs(30);
/// Time between requests while resolving or confirming.
pub const RETRY: Duration = Duration::from_secs(1);
/// Unanswered unicast confirmations before an entry is forgotten.
pub const PROBES: u32 = 3;

/// A next hop: where (port index, VLAN) and which address.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Key {
    pub port: usize,
    pub vlan: Option<u16>,
    /// IPv4 (resolved by ARP) or IPv6 (by Neighbor Discovery).
    pub ip: IpAddr,
}

#[derive(Clone, Copy, Debug)]
struct Entry {
    mac: Option<[u8; 6]>,
    /// When the address last spoke.
    heard: Option<Instant>,
    next_probe: Instant,
    /// Requests sent since it last spoke.
    unanswered: u32,
}

/// What the ARP machinery did, for reports.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ArpCounters {
    pub requests_sent: u64,
    pub replies_sent: u64,
    pub received: u64,
    pub ignored: u64,
}

/// What Neighbor Discovery did, for reports.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct NdCounters {
    pub solicitations_sent: u64,
    pub advertisements_sent: u64,
    pub received: u64,
    /// Frames that were not valid Neighbor Discovery (RFC 4861 7.1: hop limit, checksum, ...).
    pub ignored: u64,
}

/// One entry, for reports.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct NeighbourReport {
    pub port: String,
    pub vlan: Option<u16>,
    pub ip: IpAddr,
    /// The resolved MAC, or none while unresolved.
    pub mac: Option<String>,
    /// Seconds since the address last spoke.
    pub age_s: Option<f64>,
}

/// A mirror port's own identity on its network: its MAC and the addresses it has.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Me {
    pub mac: [u8; 6],
    /// ARP's sender, answered for.
    pub ip: Option<Ipv4Addr>,
    /// Neighbor Discovery's sender, answered for.
    pub ipv6: Option<Ipv6Addr>,
}

/// A frame to send: out of which port.
pub type Outgoing = (usize, Vec<u8>);

/// The neighbour table.
#[derive(Debug, Default)]
pub struct Neighbours {
    entries: HashMap<Key, Entry>,
    pub counters: ArpCounters,
    pub nd: NdCounters,
}

impl Neighbours {
    /// The MAC of a next hop, when resolved.
    pub fn lookup(&self, k: &Key) -> Option<[u8; 6]> {
        self.entries.get(k).and_then(|e| e.mac)
    }

    /// Keeps exactly the next hops in `wanted`; new ones are probed at once.
    pub fn want(&mut self, wanted: &[Key], now: Instant) {
        self.entries.retain(|k, _| wanted.contains(k));
        for k in wanted {
            self.entries.entry(*k).or_insert(Entry { mac: None, heard: None, next_probe: now, unanswered: 0 });
        }
    }

    /// Handles an ARP or Neighbor Discovery frame received on `port`. Returns the answer to
    /// send, if the frame asked for our address, and whether a resolved MAC changed.
    pub fn input(&mut self, port: usize, frame: &[u8], me: Option<Me>, now: Instant) -> (Option<Outgoing>, bool) {
        if ndp::is_ndp(frame) {
            return self.input_nd(port, frame, me, now);
        }
        let Ok((vlan, p)) = arp::parse_frame(frame) else {
            self.counters.ignored += 1;
            return (None, false);
        };
        self.counters.received += 1;
        let changed = self.heard(Key { port, vlan, ip: IpAddr::V4(p.spa) }, p.sha, now);
        let reply = match me {
            Some(me @ Me { ip: Some(ip), .. }) if p.op == arp::OP_REQUEST && p.tpa == ip => {
                self.counters.replies_sent += 1;
                Some((port, build(arp::OP_REPLY, me.mac, ip, vlan, p.sha, p.sha, p.spa)))
            }
            _ => None,
        };
        (reply, changed)
    }

    /// A Neighbor Solicitation teaches its sender's MAC and is answered when it asks for our
    /// address; an Advertisement teaches its target's.
    fn input_nd(&mut self, port: usize, frame: &[u8], me: Option<Me>, now: Instant) -> (Option<Outgoing>, bool) {
        let Ok(f) = ndp::parse_frame(frame) else {
            self.nd.ignored += 1;
            return (None, false);
        };
        self.nd.received += 1;
        // An advertisement without the option comes from the target itself.
        let mac = f.repr.link_layer.unwrap_or(f.src_mac);
        let changed = match f.repr.message {
            ndp::Message::Advert { .. } => self.heard(Key { port, vlan: f.vlan, ip: IpAddr::V6(f.repr.target) }, mac, now),
            // A duplicate address detection probe (no source) says nothing about its sender.
            ndp::Message::Solicit if !f.src.is_unspecified() && f.repr.link_layer.is_some() => self.heard(Key { port, vlan: f.vlan, ip: IpAddr::V6(f.src) }, mac, now),
            ndp::Message::Solicit => false,
        };
        let reply = match me {
            Some(Me { mac: my_mac, ipv6: Some(mine), .. }) if f.repr.message == ndp::Message::Solicit && f.repr.target == mine => {
                self.nd.advertisements_sent += 1;
                Some((port, advertisement(my_mac, mine, &f)))
            }
            _ => None,
        };
        (reply, changed)
    }

    /// `mac` spoke for `k`: a wanted entry is reachable again. Whether its MAC changed.
    fn heard(&mut self, k: Key, mac: [u8; 6], now: Instant) -> bool {
        let Some(e) = self.entries.get_mut(&k) else { return false };
        let changed = e.mac != Some(mac);
        e.mac = Some(mac);
        e.heard = Some(now);
        e.unanswered = 0;
        e.next_probe = now + REACHABLE;
        changed
    }

    /// Requests that are due (broadcast while resolving, unicast while confirming), and
    /// whether an entry was forgotten.
    pub fn due(&mut self, now: Instant, me: impl Fn(usize) -> Option<Me>) -> (Vec<Outgoing>, bool) {
        let mut out = Vec::new();
        let mut changed = false;
        let mut keys: Vec<Key> = self.entries.keys().copied().collect();
        keys.sort();
        for k in keys {
            let e = self.entries.get_mut(&k).expect("key from the map");
            if now < e.next_probe {
                continue;
            }
            if e.mac.is_some() && e.unanswered >= PROBES {
                e.mac = None;
                changed = true;
            }
            let Some(me) = me(k.port) else { continue };
            let frame = match (k.ip, me) {
                (IpAddr::V4(ip), Me { ip: Some(mine), .. }) => {
                    self.counters.requests_sent += 1;
                    build(arp::OP_REQUEST, me.mac, mine, k.vlan, e.mac.unwrap_or([0xff; 6]), [0; 6], ip)
                }
                (IpAddr::V6(ip), Me { ipv6: Some(mine), .. }) => {
                    self.nd.solicitations_sent += 1;
                    solicitation(me.mac, mine, k.vlan, e.mac, ip)
                }
                // The port has no address of that family: validation refuses such a next hop.
                _ => continue,
            };
            out.push((k.port, frame));
            e.unanswered += 1;
            e.next_probe = now + RETRY;
        }
        (out, changed)
    }

    /// The table, for reports.
    pub fn report(&self, port_names: &[String], now: Instant) -> Vec<NeighbourReport> {
        let mut v: Vec<_> = self
            .entries
            .iter()
            .map(|(k, e)| NeighbourReport {
                port: port_names.get(k.port).cloned().unwrap_or_default(),
                vlan: k.vlan,
                ip: k.ip,
                mac: e.mac.map(|m| crate::config::Mac(m).to_string()),
                age_s: e.heard.map(|h| now.duration_since(h).as_secs_f64()),
            })
            .collect();
        v.sort_by(|a, b| (&a.port, a.vlan, a.ip).cmp(&(&b.port, b.vlan, b.ip)));
        v
    }
}

/// An ARP frame from `mac` and `ip`: to Ethernet `dst`, asking about or answering `tpa`
/// (`tha` the target hardware address field).
fn build(op: u16, mac: [u8; 6], ip: Ipv4Addr, vlan: Option<u16>, dst: [u8; 6], tha: [u8; 6], tpa: Ipv4Addr) -> Vec<u8> {
    arp::frame(dst, mac, vlan, &arp::Repr { op, sha: mac, spa: ip, tha, tpa })
}

/// A Neighbor Solicitation from `mac` and `ip` for `target`: to its solicited-node group
/// while it is unresolved, to it (at `known`) when confirming.
fn solicitation(mac: [u8; 6], ip: Ipv6Addr, vlan: Option<u16>, known: Option<[u8; 6]>, target: Ipv6Addr) -> Vec<u8> {
    let (dst_mac, dst) = match known {
        Some(m) => (m, target),
        None => (ndp::multicast_mac(ndp::solicited_node(target)), ndp::solicited_node(target)),
    };
    ndp::frame(dst_mac, mac, vlan, ip, dst, &ndp::Repr { message: ndp::Message::Solicit, target, link_layer: Some(mac) })
}

/// The answer to solicitation `asked` for our address `ip` (RFC 4861 7.2.4): solicited and
/// override, with our MAC; to all nodes when the asker has no address yet.
fn advertisement(mac: [u8; 6], ip: Ipv6Addr, asked: &ndp::Frame) -> Vec<u8> {
    let (dst_mac, dst, flags) = if asked.src.is_unspecified() {
        let all = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1);
        (ndp::multicast_mac(all), all, ndp::FLAG_OVERRIDE)
    } else {
        (asked.repr.link_layer.unwrap_or(asked.src_mac), asked.src, ndp::FLAG_SOLICITED | ndp::FLAG_OVERRIDE)
    };
    ndp::frame(dst_mac, mac, asked.vlan, ip, dst, &ndp::Repr { message: ndp::Message::Advert { flags }, target: ip, link_layer: Some(mac) })
}

#[cfg(test)]
mod tests {
    use super::*;
    use dataplane::wire::testing::captured;

    const MIRROR4: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
    const MIRROR6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 2, 0, 0, 0, 1);
    const COLLECTOR6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 2, 0, 0, 0, 0x10);
    const ME: Me = Me { mac: [2, 0, 0, 0, 0, 0x10], ip: Some(MIRROR4), ipv6: Some(MIRROR6) };
    const HOP: [u8; 6] = [2, 0, 0, 0, 0, 0x20];

    fn key() -> Key {
        Key { port: 2, vlan: None, ip: IpAddr::V4(Ipv4Addr::new(192, 0, 2, 10)) }
    }

    fn key6() -> Key {
        Key { port: 2, vlan: None, ip: IpAddr::V6(COLLECTOR6) }
    }

    fn answer(from: [u8; 6], ip: Ipv4Addr, vlan: Option<u16>) -> Vec<u8> {
        build(arp::OP_REPLY, from, ip, vlan, ME.mac, ME.mac, MIRROR4)
    }

    fn v4(k: Key) -> Ipv4Addr {
        match k.ip {
            IpAddr::V4(a) => a,
            IpAddr::V6(_) => unreachable!(),
        }
    }

    #[test]
    fn resolves_confirms_and_forgets() {
        let mut n = Neighbours::default();
        let t0 = Instant::now();
        n.want(&[key()], t0);
        let me = |_| Some(ME);
        let (out, _) = n.due(t0, me);
        assert_eq!(out.len(), 1);
        assert_eq!(&out[0].1[..6], &[0xff; 6], "a broadcast request");
        assert!(n.due(t0 + Duration::from_millis(500), me).0.is_empty(), "one request a second");
        assert_eq!(n.due(t0 + RETRY, me).0.len(), 1);

        let (reply, changed) = n.input(2, &answer(HOP, v4(key()), None), Some(ME), t0 + RETRY);
        assert!(changed && reply.is_none());
        assert_eq!(n.lookup(&key()), Some(HOP));
        assert!(n.due(t0 + Duration::from_secs(20), me).0.is_empty(), "reachable");

        // Confirmation: unicast requests; silence forgets the entry.
        let mut t = t0 + RETRY + REACHABLE;
        for i in 0..PROBES {
            let (out, changed) = n.due(t, me);
            assert!(!changed, "probe {i}");
            assert_eq!(&out[0].1[..6], &HOP, "unicast");
            t += RETRY;
        }
        let (out, changed) = n.due(t, me);
        assert!(changed);
        assert_eq!(n.lookup(&key()), None);
        assert_eq!(&out[0].1[..6], &[0xff; 6], "back to broadcast");
    }

    #[test]
    fn answers_for_our_address_only_and_learns_only_wanted_hops() {
        let mut n = Neighbours::default();
        let now = Instant::now();
        n.want(&[key()], now);
        let ask = build(arp::OP_REQUEST, HOP, v4(key()), None, [0xff; 6], [0; 6], MIRROR4);
        let (reply, changed) = n.input(2, &ask, Some(ME), now);
        assert!(changed, "a request teaches its sender's MAC");
        let (port, f) = reply.expect("a reply for our address");
        assert_eq!(port, 2);
        let (_, p) = arp::parse_frame(&f).unwrap();
        assert_eq!((p.op, p.sha, p.spa, p.tpa), (arp::OP_REPLY, ME.mac, MIRROR4, v4(key())));
        assert_eq!(&f[..6], &HOP);
        let other = build(arp::OP_REQUEST, [9; 6], Ipv4Addr::new(192, 0, 2, 99), None, [0xff; 6], [0; 6], Ipv4Addr::new(192, 0, 2, 50));
        assert_eq!(n.input(2, &other, Some(ME), now), (None, false), "not ours, not wanted");
        assert!(!n.input(3, &answer([7; 6], v4(key()), None), Some(ME), now).1, "another port");
        n.want(&[], now);
        assert_eq!(n.lookup(&key()), None);
    }

    #[test]
    fn a_port_without_ipv4_does_not_answer_arp() {
        let mut n = Neighbours::default();
        let ask = build(arp::OP_REQUEST, HOP, v4(key()), None, [0xff; 6], [0; 6], MIRROR4);
        assert_eq!(n.input(2, &ask, Some(Me { ip: None, ..ME }), Instant::now()).0, None);
    }

    #[test]
    fn ipv6_next_hops_resolve_by_neighbor_discovery() {
        let mut n = Neighbours::default();
        let t0 = Instant::now();
        n.want(&[key6()], t0);
        let me = |_| Some(ME);
        // Resolving: a solicitation to the collector's solicited-node group, from our address.
        let (out, _) = n.due(t0, me);
        assert_eq!(out.len(), 1);
        let asked = ndp::parse_frame(&out[0].1).expect("a valid solicitation");
        assert_eq!((asked.src, asked.dst), (MIRROR6, ndp::solicited_node(COLLECTOR6)));
        assert_eq!(asked.repr, ndp::Repr { message: ndp::Message::Solicit, target: COLLECTOR6, link_layer: Some(ME.mac) });
        assert_eq!(&out[0].1[..6], &ndp::multicast_mac(ndp::solicited_node(COLLECTOR6)));
        assert_eq!(n.nd.solicitations_sent, 1);

        // The collector's kernel answers (a captured advertisement).
        let (reply, changed) = n.input(2, captured::NEIGHBOR_ADVERT, Some(ME), t0 + Duration::from_millis(10));
        assert!(changed && reply.is_none());
        assert_eq!(n.lookup(&key6()), Some(HOP));
        assert_eq!(n.nd.received, 1);

        // Confirmation: unicast solicitations to the collector itself; silence forgets it.
        let mut t = t0 + REACHABLE + Duration::from_millis(10);
        for _ in 0..PROBES {
            let (out, changed) = n.due(t, me);
            assert!(!changed);
            let f = ndp::parse_frame(&out[0].1).unwrap();
            assert_eq!((&out[0].1[..6], f.dst), (&HOP[..], COLLECTOR6), "unicast");
            t += RETRY;
        }
        let (out, changed) = n.due(t, me);
        assert!(changed);
        assert_eq!(n.lookup(&key6()), None, "unresolved: copies are skipped");
        assert_eq!(ndp::parse_frame(&out[0].1).unwrap().dst, ndp::solicited_node(COLLECTOR6), "back to multicast");
    }

    #[test]
    fn solicitations_for_our_address_get_the_kernels_answer() {
        let mut n = Neighbours::default();
        let now = Instant::now();
        n.want(&[key6()], now);
        // The collector asks for the mirror port's address (a captured solicitation, to the
        // solicited-node group): the answer is what the kernel answered, byte for byte, and
        // the question teaches the collector's MAC.
        let (reply, changed) = n.input(2, captured::NEIGHBOR_SOLICIT, Some(ME), now);
        let (port, frame) = reply.expect("an advertisement for our address");
        assert_eq!(port, 2);
        assert_eq!(&frame[..], captured::NEIGHBOR_ADVERT_REPLY);
        assert!(changed);
        assert_eq!(n.lookup(&key6()), Some(HOP));
        assert_eq!(n.nd.advertisements_sent, 1);

        // Not ours, a port without IPv6, and a damaged frame: no answer.
        let other = Me { ipv6: Some("2001:db8:0:2::99".parse().unwrap()), ..ME };
        assert_eq!(n.input(2, captured::NEIGHBOR_SOLICIT, Some(other), now).0, None);
        assert_eq!(n.input(2, captured::NEIGHBOR_SOLICIT, Some(Me { ipv6: None, ..ME }), now).0, None);
        let mut damaged = captured::NEIGHBOR_SOLICIT.to_vec();
        damaged[70] ^= 0xff;
        assert_eq!(n.input(2, &damaged, Some(ME), now), (None, false));
        assert_eq!(n.nd.ignored, 1);
    }

    #[test]
    fn duplicate_address_probes_are_answered_to_all_nodes() {
        let mut n = Neighbours::default();
        let probe = ndp::frame([0x33; 6], HOP, Some(5), Ipv6Addr::UNSPECIFIED, ndp::solicited_node(MIRROR6), &ndp::Repr { message: ndp::Message::Solicit, target: MIRROR6, link_layer: None });
        let (reply, changed) = n.input(2, &probe, Some(ME), Instant::now());
        assert!(!changed);
        let f = ndp::parse_frame(&reply.unwrap().1).unwrap();
        assert_eq!((f.vlan, f.dst, f.repr.message), (Some(5), Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1), ndp::Message::Advert { flags: ndp::FLAG_OVERRIDE }));
    }
}
