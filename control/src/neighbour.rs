//! Next hops by ARP: the neighbour table the control thread keeps for targets that give
//! `next_hop` (an IPv4 address) instead of `next_hop_mac`, and the ARP frames it sends and
//! reads on mirror ports (their format is the dataplane's, [`dataplane::wire::arp`]).
//!
//! An entry is probed with broadcast requests (one a second) until someone answers; then it is
//! reachable for [`REACHABLE`], after which it is confirmed with unicast requests; with no
//! answer after [`PROBES`] of them it is forgotten, and copies for it are skipped (counted as
//! "unresolved") until it answers again. Any ARP packet from a wanted address updates its
//! entry. Requests for a mirror port's own address are answered.

use dataplane::wire::arp;
use std::collections::HashMap;
use std::net::Ipv4Addr;
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
    pub ip: Ipv4Addr,
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

/// One entry, for reports.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct NeighbourReport {
    pub port: String,
    pub vlan: Option<u16>,
    pub ip: Ipv4Addr,
    /// The resolved MAC, or none while unresolved.
    pub mac: Option<String>,
    /// Seconds since the address last spoke.
    pub age_s: Option<f64>,
}

/// A mirror port's own identity on its network.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Me {
    pub mac: [u8; 6],
    pub ip: Ipv4Addr,
}

/// A frame to send: out of which port.
pub type Outgoing = (usize, Vec<u8>);

/// The neighbour table.
#[derive(Debug, Default)]
pub struct Neighbours {
    entries: HashMap<Key, Entry>,
    pub counters: ArpCounters,
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

    /// Handles an ARP frame received on `port`. Returns the reply to send, if the frame asked
    /// for our address, and whether a resolved MAC changed.
    pub fn input(&mut self, port: usize, frame: &[u8], me: Option<Me>, now: Instant) -> (Option<Outgoing>, bool) {
        let Ok((vlan, p)) = arp::parse_frame(frame) else {
            self.counters.ignored += 1;
            return (None, false);
        };
        self.counters.received += 1;
        let mut changed = false;
        if let Some(e) = self.entries.get_mut(&Key { port, vlan, ip: p.spa }) {
            changed = e.mac != Some(p.sha);
            e.mac = Some(p.sha);
            e.heard = Some(now);
            e.unanswered = 0;
            e.next_probe = now + REACHABLE;
        }
        let reply = match me {
            Some(me) if p.op == arp::OP_REQUEST && p.tpa == me.ip => {
                self.counters.replies_sent += 1;
                Some((port, build(arp::OP_REPLY, me, vlan, p.sha, p.sha, p.spa)))
            }
            _ => None,
        };
        (reply, changed)
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
            let to = e.mac.unwrap_or([0xff; 6]);
            out.push((k.port, build(arp::OP_REQUEST, me, k.vlan, to, [0; 6], k.ip)));
            self.counters.requests_sent += 1;
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

/// An ARP frame from `me`: to Ethernet `dst`, asking about or answering `tpa` (`tha` the
/// target hardware address field).
fn build(op: u16, me: Me, vlan: Option<u16>, dst: [u8; 6], tha: [u8; 6], tpa: Ipv4Addr) -> Vec<u8> {
    arp::frame(dst, me.mac, vlan, &arp::Repr { op, sha: me.mac, spa: me.ip, tha, tpa })
}

#[cfg(test)]
mod tests {
    use super::*;

    const ME: Me = Me { mac: [2, 0, 0, 0, 0, 0x10], ip: Ipv4Addr::new(192, 0, 2, 1) };
    const HOP: [u8; 6] = [2, 0, 0, 0, 0, 0x20];

    fn key() -> Key {
        Key { port: 2, vlan: None, ip: Ipv4Addr::new(192, 0, 2, 10) }
    }

    fn answer(from: [u8; 6], ip: Ipv4Addr, vlan: Option<u16>) -> Vec<u8> {
        build(arp::OP_REPLY, Me { mac: from, ip }, vlan, ME.mac, ME.mac, ME.ip)
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

        let (reply, changed) = n.input(2, &answer(HOP, key().ip, None), Some(ME), t0 + RETRY);
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
        let ask = build(arp::OP_REQUEST, Me { mac: HOP, ip: key().ip }, None, [0xff; 6], [0; 6], ME.ip);
        let (reply, changed) = n.input(2, &ask, Some(ME), now);
        assert!(changed, "a request teaches its sender's MAC");
        let (port, f) = reply.expect("a reply for our address");
        assert_eq!(port, 2);
        let (_, p) = arp::parse_frame(&f).unwrap();
        assert_eq!((p.op, p.sha, p.spa, p.tpa), (arp::OP_REPLY, ME.mac, ME.ip, key().ip));
        assert_eq!(&f[..6], &HOP);
        let other = build(arp::OP_REQUEST, Me { mac: [9; 6], ip: Ipv4Addr::new(192, 0, 2, 99) }, None, [0xff; 6], [0; 6], Ipv4Addr::new(192, 0, 2, 50));
        assert_eq!(n.input(2, &other, Some(ME), now), (None, false), "not ours, not wanted");
        assert!(!n.input(3, &answer([7; 6], key().ip, None), Some(ME), now).1, "another port");
        n.want(&[], now);
        assert_eq!(n.lookup(&key()), None);
    }
}
