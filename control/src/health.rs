//! Health checks of the load balancers' collectors, as a Network Load Balancer checks its
//! targets (SPEC.md, "Load balancer targets: health and flow affinity").
//!
//! Every `interval`, each collector of a load balancer that a target uses gets a check from
//! the mirror port's own address, out of the mirror port, through the control thread's TX
//! queue: never through the host's kernel, since that is the path the copies take. TCP: a SYN
//! to the check's port; a SYN-ACK is a success (closed at once with a RST), a RST or silence a
//! failure. ICMP: an echo request; its reply is a success. `unhealthy_threshold` failures in a
//! row take a collector out of service, `healthy_threshold` successes in a row put it back; the
//! controller then recompiles the table, whose consistent hashing
//! ([`dataplane::spread`]) moves only that collector's flows.
//!
//! An IPv4 collector is checked from the port's `ipv4` (TCP, or ICMP echo), an IPv6 one from
//! its `ipv6` (TCP, or ICMPv6 echo), each through the next hop that the copies take (its MAC,
//! or the one ARP or Neighbor Discovery found).
//!
//! A collector starts `initial` and in service (copies flow from the start, as they did before
//! any check), `healthy` after its first success. One whose checks cannot be sent at all (its
//! port has no address of the collector's family, no TX queue to spare, or carries a link) is
//! `unavailable`: in service, unchecked, and said so by describe and the log. One whose next
//! hop is unresolved fails its checks: the copies cannot reach it either.
//!
//! [`Health`] is a pure state machine: the checks wanted, the time and the frames the workers
//! handed over go in; frames to send and changes of health come out. No DPDK, no clock.

use crate::config::{Config, HealthCheckProtocol, LoadBalancer, TargetType};
use crate::neighbour::Outgoing;
use dataplane::wire::probe::{self, Segment};
use dataplane::wire::{icmp, tcp};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::hash::{BuildHasher, Hasher};
use std::net::IpAddr;
use std::time::{Duration, Instant, SystemTime};

/// AWS's defaults for a Network Load Balancer's checks (SPEC.md): TCP, every 30 s, 3 and 3.
pub const DEFAULT_INTERVAL: u32 = 30;
/// Successes in a row that put a collector back in service.
pub const DEFAULT_HEALTHY_THRESHOLD: u32 = 3;
/// Failures in a row that take it out.
pub const DEFAULT_UNHEALTHY_THRESHOLD: u32 = 3;
/// The longest a check waits for its answer: AWS's TCP health check timeout. A check never
/// waits past the next one either.
pub const TIMEOUT: Duration = Duration::from_secs(10);
/// The window of the checks' SYNs, a host's usual.
const WINDOW: u16 = 64240;

/// How a load balancer's collectors are checked, every default applied.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Settings {
    pub protocol: HealthCheckProtocol,
    /// The TCP port (unused for ICMP).
    pub port: u16,
    pub interval: Duration,
    pub healthy_threshold: u32,
    pub unhealthy_threshold: u32,
}

impl Settings {
    /// How long a check waits for its answer.
    pub fn timeout(&self) -> Duration {
        self.interval.min(TIMEOUT)
    }

    /// A load balancer's checks: its `health_check`, AWS's defaults for what it omits, the
    /// TCP port defaulting to `traffic_port` (AWS's "traffic-port": the UDP port copies go
    /// to).
    pub fn of(lb: &LoadBalancer, traffic_port: u16) -> Settings {
        let hc = lb.health_check.clone().unwrap_or_default();
        Settings {
            protocol: hc.protocol.unwrap_or_default(),
            port: hc.port.unwrap_or(traffic_port),
            interval: Duration::from_secs(u64::from(hc.interval.unwrap_or(DEFAULT_INTERVAL))),
            healthy_threshold: hc.healthy_threshold.unwrap_or(DEFAULT_HEALTHY_THRESHOLD),
            unhealthy_threshold: hc.unhealthy_threshold.unwrap_or(DEFAULT_UNHEALTHY_THRESHOLD),
        }
    }

    /// What is checked, in words ("TCP port 9000", "ICMP echo").
    fn what(&self) -> String {
        match self.protocol {
            HealthCheckProtocol::Tcp => format!("TCP port {}", self.port),
            HealthCheckProtocol::Icmp => "ICMP echo".into(),
        }
    }
}

/// A collector of a load balancer.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Key {
    /// The load balancer's ARN.
    pub load_balancer: String,
    pub address: IpAddr,
}

/// A collector the configuration names, and how it is checked: `None` when no target uses
/// its load balancer (AWS's `unused`).
#[derive(Clone, Debug, PartialEq)]
pub struct Wanted {
    pub key: Key,
    pub settings: Option<Settings>,
}

/// Every collector of every load balancer, and its checks. A load balancer's checks follow
/// the path of the first target that uses it (its VLAN, its UDP port as the default TCP port).
pub fn wanted(cfg: &Config) -> Vec<Wanted> {
    cfg.load_balancers
        .iter()
        .flat_map(|lb| {
            let user = cfg.targets.iter().find(|t| t.destination() == Some((TargetType::NetworkLoadBalancer, lb.arn.as_str())));
            let settings = user.map(|t| Settings::of(lb, t.udp_port));
            lb.addresses.iter().map(move |&a| Wanted { key: Key { load_balancer: lb.arn.clone(), address: a }, settings })
        })
        .collect()
}

/// Whom checks come from: a mirror port's MAC and its address of the collector's family.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sender {
    pub mac: [u8; 6],
    pub ip: IpAddr,
}

/// How a check reaches its collector now, as the controller finds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Route {
    /// Out of port `port`, on `vlan`, from the port's own address and MAC (of the collector's
    /// family), to the next hop.
    Ready { port: usize, vlan: Option<u16>, me: Sender, next_hop: [u8; 6], collector: IpAddr },
    /// The next hop's MAC is not known: the check fails, as the copies could not get there.
    Unresolved,
    /// No check can be sent at all (why not): the collector stays in service, unchecked.
    Unavailable(String),
}

/// A collector's health, named as AWS names a target's.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    /// Checked, no answer yet: in service.
    Initial,
    /// In service.
    Healthy,
    /// Out of service: its flows go to the others.
    Unhealthy,
    /// No target uses its load balancer: not checked.
    Unused,
    /// Its checks cannot be sent: in service, unchecked.
    Unavailable,
}

impl State {
    /// "healthy", ...
    pub fn name(self) -> &'static str {
        match self {
            State::Initial => "initial",
            State::Healthy => "healthy",
            State::Unhealthy => "unhealthy",
            State::Unused => "unused",
            State::Unavailable => "unavailable",
        }
    }

    /// Whether copies may go to it.
    pub fn in_service(self) -> bool {
        !matches!(self, State::Unhealthy)
    }
}

/// A change of a collector's health: one log line, and a new table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Change {
    pub key: Key,
    pub from: State,
    pub to: State,
    /// Why, in words.
    pub why: String,
}

impl std::fmt::Display for Change {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        write!(f, "load balancer {}: collector {} is {} (was {}): {}", self.key.load_balancer, self.key.address, self.to.name(), self.from.name(), self.why)
    }
}

/// One collector's health, for describe, the metrics and the exit report.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CollectorHealth {
    pub load_balancer: String,
    pub address: IpAddr,
    pub state: State,
    /// AWS's reason code (`Target.FailedHealthChecks`, `Elb.InitialHealthChecking`, ...);
    /// none when healthy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// When the state last changed (ISO 8601, UTC).
    pub last_change: String,
    /// Checks sent, and changes into each state that routes or stops copies.
    pub checks: u64,
    pub became_healthy: u64,
    pub became_unhealthy: u64,
}

/// What the checks did, for reports.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HealthCounters {
    pub checks_sent: u64,
    pub answers: u64,
    /// Frames for a mirror port's address that answered no check.
    pub ignored: u64,
}

/// A check waiting for its answer.
#[derive(Clone, Copy, Debug)]
struct Pending {
    sent: Instant,
    port: usize,
    vlan: Option<u16>,
    me: Sender,
    next_hop: [u8; 6],
    collector: IpAddr,
    probe: Probe,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Probe {
    /// A SYN from `port` with sequence number `isn`.
    Syn { port: u16, isn: u32 },
    Echo { ident: u16, seq: u16 },
}

#[derive(Clone, Debug)]
struct Entry {
    settings: Option<Settings>,
    state: State,
    reason: Option<&'static str>,
    description: Option<String>,
    since: Instant,
    successes: u32,
    failures: u32,
    next: Instant,
    pending: Option<Pending>,
    checks: u64,
    became_healthy: u64,
    became_unhealthy: u64,
}

impl Entry {
    fn new(settings: Option<Settings>, now: Instant) -> Entry {
        let mut e = Entry {
            settings,
            state: State::Unused,
            reason: None,
            description: None,
            since: now,
            successes: 0,
            failures: 0,
            next: now,
            pending: None,
            checks: 0,
            became_healthy: 0,
            became_unhealthy: 0,
        };
        e.enter(if settings.is_some() { State::Initial } else { State::Unused }, now, String::new());
        e
    }

    /// Puts the entry in `to` with AWS's reason for it; the change, when it is one.
    fn enter(&mut self, to: State, now: Instant, why: String) -> Option<(State, String)> {
        let (reason, description) = match to {
            State::Initial => ("Elb.InitialHealthChecking", "Initial health checks in progress".to_owned()),
            State::Healthy => ("", String::new()),
            State::Unhealthy if why.contains("no answer") => ("Target.Timeout", format!("Health checks failed: {why}")),
            State::Unhealthy => ("Target.FailedHealthChecks", format!("Health checks failed: {why}")),
            State::Unused => ("Target.NotInUse", "No traffic mirror target uses this load balancer".to_owned()),
            State::Unavailable => ("Target.HealthCheckDisabled", format!("Health checks cannot be sent: {why}; in service, unchecked")),
        };
        self.reason = (!reason.is_empty()).then_some(reason);
        self.description = (!description.is_empty()).then_some(description);
        if self.state == to {
            return None;
        }
        let from = std::mem::replace(&mut self.state, to);
        self.since = now;
        match to {
            State::Healthy => self.became_healthy += 1,
            State::Unhealthy => self.became_unhealthy += 1,
            _ => {}
        }
        Some((from, why))
    }

    fn success(&mut self, now: Instant) -> Option<(State, String)> {
        let s = self.settings?;
        self.pending = None;
        self.failures = 0;
        self.successes += 1;
        let back = match self.state {
            State::Initial => true,
            State::Unhealthy => self.successes >= s.healthy_threshold,
            _ => false,
        };
        back.then(|| self.enter(State::Healthy, now, format!("{} check(s) of {} passed in a row", self.successes, s.what()))).flatten()
    }

    fn failure(&mut self, now: Instant, why: String) -> Option<(State, String)> {
        let s = self.settings?;
        self.pending = None;
        self.successes = 0;
        self.failures += 1;
        match self.state {
            State::Initial | State::Healthy if self.failures >= s.unhealthy_threshold => {
                self.enter(State::Unhealthy, now, format!("{} check(s) of {} failed in a row, the last: {why}", self.failures, s.what()))
            }
            // Still out: describe shows the latest failure.
            State::Unhealthy => {
                self.enter(State::Unhealthy, now, format!("{} check(s) of {} failed in a row, the last: {why}", self.failures, s.what()));
                None
            }
            _ => None,
        }
    }
}

/// The health of every collector of the configuration's load balancers, and the checks under
/// way.
#[derive(Debug, Default)]
pub struct Health {
    entries: BTreeMap<Key, Entry>,
    /// Ephemeral ports, sequence numbers and echo identifiers: unguessable off the path, as
    /// RFC 6528 asks of a host's.
    random: std::collections::hash_map::RandomState,
    draws: u64,
    pub counters: HealthCounters,
}

impl Health {
    fn draw(&mut self) -> u64 {
        let mut h = self.random.build_hasher();
        h.write_u64(self.draws);
        self.draws += 1;
        h.finish()
    }

    /// Keeps exactly the collectors in `wanted`, with their settings; new ones start
    /// `initial` (checked at once) or `unused`. Changed settings restart the checks, the
    /// health stays. Returns the changes (a load balancer that a target starts or stops
    /// using).
    pub fn want(&mut self, wanted: &[Wanted], now: Instant) -> Vec<Change> {
        let keep: std::collections::HashSet<&Key> = wanted.iter().map(|w| &w.key).collect();
        self.entries.retain(|k, _| keep.contains(k));
        let mut changes = Vec::new();
        for w in wanted {
            let Some(e) = self.entries.get_mut(&w.key) else {
                self.entries.insert(w.key.clone(), Entry::new(w.settings, now));
                continue;
            };
            if e.settings == w.settings {
                continue;
            }
            let was = std::mem::replace(&mut e.settings, w.settings);
            e.pending = None;
            e.next = now;
            let change = match (was, w.settings) {
                (_, None) => e.enter(State::Unused, now, "no traffic mirror target uses its load balancer any more".into()),
                (None, Some(_)) => {
                    (e.successes, e.failures) = (0, 0);
                    e.enter(State::Initial, now, "a traffic mirror target uses its load balancer".into())
                }
                (Some(_), Some(_)) => None,
            };
            if let Some((from, why)) = change {
                changes.push(Change { key: w.key.clone(), from, to: e.state, why });
            }
        }
        changes
    }

    /// The checks that are due now: answers waited for too long count as failures, and the
    /// next checks go out. `route` says how each collector is reached. Returns the frames to
    /// send and the changes of health.
    pub fn due(&mut self, now: Instant, route: impl Fn(&Key) -> Route) -> (Vec<Outgoing>, Vec<Change>) {
        let mut out = Vec::new();
        let mut changes = Vec::new();
        let keys: Vec<Key> = self.entries.iter().filter(|(_, e)| e.settings.is_some() && (now >= e.next || e.pending.is_some())).map(|(k, _)| k.clone()).collect();
        for key in keys {
            let mut change = |c: Option<(State, String)>, to: State| {
                if let Some((from, why)) = c {
                    changes.push(Change { key: key.clone(), from, to, why });
                }
            };
            let e = self.entries.get_mut(&key).expect("a key of the map");
            let s = e.settings.expect("filtered on settings");
            if let Some(p) = e.pending {
                if now.duration_since(p.sent) >= s.timeout() {
                    let c = e.failure(now, format!("no answer within {} s", s.timeout().as_secs_f64()));
                    change(c, e.state);
                }
            }
            if now < e.next {
                continue;
            }
            e.next = now + s.interval;
            match route(&key) {
                Route::Unavailable(why) => {
                    e.pending = None;
                    let c = e.enter(State::Unavailable, now, why);
                    change(c, State::Unavailable);
                }
                Route::Unresolved => {
                    let by = if key.address.is_ipv6() { "Neighbor Discovery" } else { "ARP" };
                    let c = e.failure(now, format!("the next hop towards {} is unresolved ({by})", key.address));
                    change(c, e.state);
                }
                Route::Ready { port, vlan, me, next_hop, collector } => {
                    if e.state == State::Unavailable {
                        (e.successes, e.failures) = (0, 0);
                        let c = e.enter(State::Initial, now, "health checks can be sent".into());
                        change(c, State::Initial);
                    }
                    let r = self.draw();
                    let e = self.entries.get_mut(&key).expect("a key of the map");
                    let (probe, segment) = match s.protocol {
                        HealthCheckProtocol::Tcp => {
                            // An ephemeral port as IANA has them, and a random first sequence number.
                            let (port, isn) = (49152 + (r as u16 & 0x3fff), (r >> 32) as u32);
                            (Probe::Syn { port, isn }, Segment::Tcp(tcp::Repr { src_port: port, dst_port: s.port, seq: isn, ack: 0, flags: tcp::FLAG_SYN, window: WINDOW }))
                        }
                        HealthCheckProtocol::Icmp => {
                            let (ident, seq) = (r as u16, e.checks as u16);
                            (Probe::Echo { ident, seq }, Segment::Echo(icmp::EchoRepr::request(probe::echo_protocol(collector), ident, seq)))
                        }
                    };
                    let repr = probe::Repr { src: me.ip, dst: collector, segment };
                    out.push((port, probe::frame(next_hop, me.mac, vlan, &repr)));
                    e.pending = Some(Pending { sent: now, port, vlan, me, next_hop, collector, probe });
                    e.checks += 1;
                    self.counters.checks_sent += 1;
                }
            }
        }
        (out, changes)
    }

    /// A frame for a mirror port's address, received on `port`: the answer to a check, or
    /// not. Returns the frame to send back (the RST that closes a check's connection, or
    /// refuses a SYN-ACK no check waits for) and the change of health it made.
    pub fn input(&mut self, port: usize, frame: &[u8], now: Instant) -> (Option<Outgoing>, Option<Change>) {
        let Ok((vlan, r)) = probe::parse_frame(frame) else {
            self.counters.ignored += 1;
            return (None, None);
        };
        let answered = self.entries.iter_mut().find(|(_, e)| {
            e.pending.is_some_and(|p| p.port == port && p.vlan == vlan && p.collector == r.src && p.me.ip == r.dst && answers(&p, e.settings.map_or(0, |s| s.port), &r.segment).is_some())
        });
        let Some((key, e)) = answered else {
            self.counters.ignored += 1;
            return (stray_reset(port, frame, vlan, &r), None);
        };
        self.counters.answers += 1;
        let p = e.pending.expect("matched on it");
        let ok = answers(&p, e.settings.map_or(0, |s| s.port), &r.segment).expect("matched on it");
        let mut reply = None;
        let c = if ok {
            if let (Probe::Syn { port: sport, isn }, Some(s)) = (p.probe, e.settings) {
                // Close the half-open connection, as a host's stack aborts one.
                let rst = tcp::Repr { src_port: sport, dst_port: s.port, seq: isn.wrapping_add(1), ack: 0, flags: tcp::FLAG_RST, window: 0 };
                reply = Some((p.port, probe::frame(p.next_hop, p.me.mac, p.vlan, &probe::Repr { src: p.me.ip, dst: p.collector, segment: Segment::Tcp(rst) })));
            }
            e.success(now)
        } else {
            e.failure(now, "connection refused (RST)".into())
        };
        let change = c.map(|(from, why)| Change { key: key.clone(), from, to: e.state, why });
        (reply, change)
    }

    /// The collectors out of service.
    pub fn out_of_service(&self) -> impl Iterator<Item = &Key> {
        self.entries.iter().filter(|(_, e)| !e.state.in_service()).map(|(k, _)| k)
    }

    /// Every collector's health, by load balancer and address; `wall` is the wall-clock time
    /// at `now`.
    pub fn report(&self, now: Instant, wall: SystemTime) -> Vec<CollectorHealth> {
        self.entries
            .iter()
            .map(|(k, e)| CollectorHealth {
                load_balancer: k.load_balancer.clone(),
                address: k.address,
                state: e.state,
                reason: e.reason.map(str::to_owned),
                description: e.description.clone(),
                last_change: crate::query::sigv4::format_iso8601(wall - now.duration_since(e.since)),
                checks: e.checks,
                became_healthy: e.became_healthy,
                became_unhealthy: e.became_unhealthy,
            })
            .collect()
    }
}

/// Whether `segment` answers the check `p` to TCP port `port`: `Some(true)` a success,
/// `Some(false)` a refusal, `None` no answer to it.
fn answers(p: &Pending, port: u16, segment: &Segment) -> Option<bool> {
    match (p.probe, segment) {
        (Probe::Syn { port: sport, isn }, Segment::Tcp(t)) if t.src_port == port && t.dst_port == sport => {
            let acked = t.flags & tcp::FLAG_ACK != 0 && t.ack == isn.wrapping_add(1);
            if t.flags & tcp::FLAG_RST != 0 && (acked || t.flags & tcp::FLAG_ACK == 0) {
                Some(false)
            } else if t.flags & (tcp::FLAG_SYN | tcp::FLAG_ACK) == tcp::FLAG_SYN | tcp::FLAG_ACK && acked {
                Some(true)
            } else {
                None
            }
        }
        (Probe::Echo { ident, seq }, Segment::Echo(e)) => (e.is_reply() && e.ident == ident && e.seq == seq).then_some(true),
        _ => None,
    }
}

/// A SYN-ACK that no check waits for (one answered too late) is refused with a RST, as a
/// host's stack refuses a segment for no connection, so the collector frees its half-open
/// connection at once.
fn stray_reset(port: usize, frame: &[u8], vlan: Option<u16>, r: &probe::Repr) -> Option<Outgoing> {
    let Segment::Tcp(t) = r.segment else { return None };
    if t.flags & (tcp::FLAG_SYN | tcp::FLAG_ACK | tcp::FLAG_RST) != tcp::FLAG_SYN | tcp::FLAG_ACK {
        return None;
    }
    let (theirs, ours) = (mac(frame, 6), mac(frame, 0));
    let rst = tcp::Repr { src_port: t.dst_port, dst_port: t.src_port, seq: t.ack, ack: 0, flags: tcp::FLAG_RST, window: 0 };
    Some((port, probe::frame(theirs, ours, vlan, &probe::Repr { src: r.dst, dst: r.src, segment: Segment::Tcp(rst) })))
}

fn mac(frame: &[u8], at: usize) -> [u8; 6] {
    let mut m = [0; 6];
    m.copy_from_slice(&frame[at..at + 6]);
    m
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    /// Whether copies may go to the collector `key` (those not checked may).
    fn in_service(h: &Health, key: &Key) -> bool {
        h.entries.get(key).is_none_or(|e| e.state.in_service())
    }

    const MAC: [u8; 6] = [2, 0, 0, 0, 0, 0x10];
    const ME: Sender = Sender { mac: MAC, ip: IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)) };
    /// The port's IPv6 address, whence IPv6 collectors are checked.
    const ME6: Sender = Sender { mac: MAC, ip: IpAddr::V6(Ipv6Addr::new(0xfd20, 0, 0, 0, 0, 0, 0, 1)) };
    const HOP: [u8; 6] = [2, 0, 0, 0, 0, 0x20];
    const LB: &str = "arn:aws:elasticloadbalancing:local:000000000000:loadbalancer/net/ids/1";

    fn key(last: u8) -> Key {
        Key { load_balancer: LB.into(), address: IpAddr::V4(Ipv4Addr::new(192, 0, 2, last)) }
    }

    /// IPv6 collector fd20::`last`.
    fn key6(last: u16) -> Key {
        Key { load_balancer: LB.into(), address: IpAddr::V6(Ipv6Addr::new(0xfd20, 0, 0, 0, 0, 0, 0, last)) }
    }

    fn tcp(interval: u64) -> Settings {
        Settings { protocol: HealthCheckProtocol::Tcp, port: 9000, interval: Duration::from_secs(interval), healthy_threshold: 3, unhealthy_threshold: 3 }
    }

    /// Out of port 2 from the port's address of the collector's family, as the controller's
    /// route has it.
    fn ready(k: &Key) -> Route {
        let me = if k.address.is_ipv6() { ME6 } else { ME };
        Route::Ready { port: 2, vlan: None, me, next_hop: HOP, collector: k.address }
    }

    /// A checker of collectors `a` and `b`, both wanted with `s`, at `t0`.
    fn checker_of(a: Key, b: Key, s: Settings, t0: Instant) -> Health {
        let mut h = Health::default();
        assert!(h.want(&[Wanted { key: a, settings: Some(s) }, Wanted { key: b, settings: Some(s) }], t0).is_empty());
        h
    }

    /// A checker of collectors .10 and .11.
    fn checker(s: Settings, t0: Instant) -> Health {
        checker_of(key(10), key(11), s, t0)
    }

    /// The check sent to collector `to` among `out`, read back.
    fn sent_to(out: &[Outgoing], to: &Key) -> (Option<u16>, probe::Repr) {
        let f = out.iter().find(|(_, f)| probe::parse_frame(f).is_ok_and(|(_, r)| r.dst == to.address)).unwrap_or_else(|| panic!("no check to {} in {out:?}", to.address));
        assert_eq!(f.0, 2, "out of the mirror port");
        assert_eq!((&f.1[..6], &f.1[6..12]), (&HOP[..], &MAC[..]), "to the next hop, from the port's MAC");
        probe::parse_frame(&f.1).unwrap()
    }

    /// The collector's answer to `check`: a TCP segment with `flags` (acknowledging the SYN
    /// when `ack`), or an echo reply.
    fn answer(check: &probe::Repr, flags: u8, ack: bool) -> Vec<u8> {
        let segment = match check.segment {
            Segment::Tcp(t) => Segment::Tcp(tcp::Repr { src_port: t.dst_port, dst_port: t.src_port, seq: 77, ack: if ack { t.seq.wrapping_add(1) } else { 0 }, flags, window: 1000 }),
            Segment::Echo(e) => Segment::Echo(e.reply()),
        };
        probe::frame(ME.mac, HOP, None, &probe::Repr { src: check.dst, dst: check.src, segment })
    }

    const SYN_ACK: u8 = tcp::FLAG_SYN | tcp::FLAG_ACK;
    const RST_ACK: u8 = tcp::FLAG_RST | tcp::FLAG_ACK;

    #[test]
    fn a_listeners_syn_ack_is_healthy_and_its_connection_is_closed_with_a_rst() {
        let t0 = Instant::now();
        let mut h = checker(tcp(30), t0);
        assert!(in_service(&h, &key(10)), "initial: in service");
        let (out, changes) = h.due(t0, ready);
        assert!(changes.is_empty() && out.len() == 2, "one check each at once");
        let (_, syn) = sent_to(&out, &key(10));
        let Segment::Tcp(s) = syn.segment else { panic!("a TCP check") };
        assert_eq!((syn.src, s.dst_port, s.flags), (ME.ip, 9000, tcp::FLAG_SYN));
        assert!((49152..=65535).contains(&s.src_port), "an ephemeral port: {}", s.src_port);

        let (reply, change) = h.input(2, &answer(&syn, SYN_ACK, true), t0 + Duration::from_millis(1));
        let change = change.expect("initial to healthy");
        assert_eq!((change.key, change.from, change.to), (key(10), State::Initial, State::Healthy));
        let (port, rst) = reply.expect("a RST closes the connection");
        let (_, rst) = probe::parse_frame(&rst).unwrap();
        assert_eq!((port, rst.dst), (2, syn.dst));
        assert_eq!(rst.segment, Segment::Tcp(tcp::Repr { src_port: s.src_port, dst_port: 9000, seq: s.seq.wrapping_add(1), ack: 0, flags: tcp::FLAG_RST, window: 0 }));
        assert_eq!(h.counters.answers, 1);
        assert!(h.due(t0 + Duration::from_secs(29), ready).0.is_empty(), "the next check after the interval");
        assert_eq!(h.due(t0 + Duration::from_secs(30), ready).0.len(), 2);
    }

    #[test]
    fn refusals_make_a_collector_unhealthy_at_the_threshold_and_successes_bring_it_back() {
        let t0 = Instant::now();
        let mut h = checker(tcp(1), t0);
        let mut t = t0;
        // Collector .10 answers with `flags`, .11 always listens.
        let check = |h: &mut Health, t: Instant, flags: u8| {
            let (out, _) = h.due(t, ready);
            let (_, other) = sent_to(&out, &key(11));
            h.input(2, &answer(&other, SYN_ACK, true), t);
            let (_, syn) = sent_to(&out, &key(10));
            h.input(2, &answer(&syn, flags, true), t).1
        };
        assert_eq!(check(&mut h, t, SYN_ACK).map(|c| c.to), Some(State::Healthy));
        for i in 1..=3 {
            t += Duration::from_secs(1);
            let change = check(&mut h, t, RST_ACK);
            assert_eq!(change.is_some(), i == 3, "refusal {i}");
        }
        assert!(!in_service(&h, &key(10)) && in_service(&h, &key(11)));
        assert_eq!(h.out_of_service().collect::<Vec<_>>(), [&key(10)]);
        let r = h.report(t, SystemTime::now());
        assert_eq!((r[0].state, r[0].reason.as_deref(), r[0].became_unhealthy), (State::Unhealthy, Some("Target.FailedHealthChecks"), 1));
        assert!(r[0].description.as_deref().unwrap().contains("connection refused"), "{:?}", r[0].description);
        // Two successes are not enough; a refusal starts the count again.
        for flags in [SYN_ACK, SYN_ACK, RST_ACK, SYN_ACK, SYN_ACK] {
            t += Duration::from_secs(1);
            assert!(check(&mut h, t, flags).is_none());
        }
        t += Duration::from_secs(1);
        let back = check(&mut h, t, SYN_ACK).expect("the third success in a row");
        assert_eq!((back.from, back.to), (State::Unhealthy, State::Healthy));
        assert!(back.to_string().contains("collector 192.0.2.10 is healthy (was unhealthy)"), "{back}");
        assert!(in_service(&h, &key(10)));
        assert_eq!(h.report(t, SystemTime::now())[0].became_healthy, 2);
    }

    #[test]
    fn silence_fails_once_the_answer_is_overdue() {
        let t0 = Instant::now();
        let mut h = checker(tcp(2), t0);
        let mut changes = Vec::new();
        for i in 0..4 {
            let (_, c) = h.due(t0 + Duration::from_secs(2 * i), ready);
            changes.extend(c);
        }
        // Checks at 0, 2, 4 and 6 s: the first three went unanswered (each found so when the
        // next was due), for both collectors.
        assert_eq!(changes.len(), 2, "{changes:?}");
        assert!(changes.iter().all(|c| c.to == State::Unhealthy));
        assert!(changes[0].why.contains("no answer within 2 s"), "{}", changes[0].why);
        assert_eq!(h.report(t0, SystemTime::now())[0].reason.as_deref(), Some("Target.Timeout"));
        // The timeout is at most AWS's 10 s, even with a long interval.
        assert_eq!(tcp(300).timeout(), TIMEOUT);
    }

    #[test]
    fn answers_to_no_check_change_nothing() {
        let t0 = Instant::now();
        let mut h = checker(tcp(30), t0);
        let (out, _) = h.due(t0, ready);
        let (_, syn) = sent_to(&out, &key(10));
        let wrong_ack = answer(&syn, SYN_ACK, false);
        let mut other_port = syn;
        if let Segment::Tcp(t) = &mut other_port.segment {
            t.dst_port = 9001;
        }
        let mut from_other = syn;
        from_other.dst = Ipv4Addr::new(192, 0, 2, 99).into();
        for (what, f, port) in [("an unacknowledged SYN-ACK", wrong_ack, 2), ("a SYN-ACK from another port", answer(&other_port, SYN_ACK, true), 2), ("from another host", answer(&from_other, SYN_ACK, true), 2), ("on another port", answer(&syn, SYN_ACK, true), 3)] {
            let (_, change) = h.input(port, &f, t0);
            assert!(change.is_none(), "{what}");
        }
        assert_eq!(h.counters.ignored, 4);
        let (reply, _) = h.input(2, &answer(&other_port, SYN_ACK, true), t0);
        let (_, rst) = probe::parse_frame(&reply.expect("a stray SYN-ACK is refused").1).unwrap();
        assert!(matches!(rst.segment, Segment::Tcp(t) if t.flags == tcp::FLAG_RST && t.dst_port == 9001));
        assert!(h.input(2, &[0u8; 20], t0).0.is_none());
        // The real answer still counts.
        assert!(h.input(2, &answer(&syn, SYN_ACK, true), t0).1.is_some());
    }

    #[test]
    fn an_echo_reply_is_healthy() {
        let t0 = Instant::now();
        let mut h = checker(Settings { protocol: HealthCheckProtocol::Icmp, ..tcp(5) }, t0);
        let (out, _) = h.due(t0, ready);
        let (_, ping) = sent_to(&out, &key(11));
        assert!(matches!(ping.segment, Segment::Echo(e) if e.kind == icmp::V4_ECHO_REQUEST));
        let (reply, change) = h.input(2, &answer(&ping, 0, false), t0);
        assert!(reply.is_none());
        assert_eq!(change.map(|c| (c.key, c.to)), Some((key(11), State::Healthy)));
    }

    /// Whether the L4 checksum of IPv6 frame `f` (untagged) holds.
    fn ipv6_checksum_holds(f: &[u8]) -> bool {
        use dataplane::wire::{fold_checksum, ipv6, ones_sum};
        let ip = ipv6::Packet::new_checked(&f[14..]).unwrap();
        let r = ipv6::Repr::parse(&ip);
        let l4 = &ip.packet()[ipv6::HEADER_LEN..];
        fold_checksum(ipv6::pseudo_header_sum(&r.src.octets(), &r.dst.octets(), l4.len() as u32, r.next_header) + ones_sum(l4)) == 0
    }

    #[test]
    fn an_ipv6_collector_is_checked_from_the_ports_ipv6_and_its_syn_ack_makes_it_healthy() {
        let t0 = Instant::now();
        // One load balancer with an IPv6 and an IPv4 collector: each checked in its family.
        let (v6, v4) = (key6(0x10), key(11));
        let mut h = checker_of(v6.clone(), v4.clone(), tcp(30), t0);
        let (out, _) = h.due(t0, ready);
        assert_eq!(out.len(), 2, "one check each at once");
        let (_, syn) = sent_to(&out, &v6);
        let Segment::Tcp(s) = syn.segment else { panic!("a TCP check") };
        assert_eq!((syn.src, s.dst_port, s.flags), (ME6.ip, 9000, tcp::FLAG_SYN));
        let frame = &out.iter().find(|(_, f)| f[12..14] == [0x86, 0xdd]).expect("an IPv6 frame").1;
        assert!(ipv6_checksum_holds(frame), "the SYN's TCP checksum over the IPv6 pseudo-header");
        assert_eq!(sent_to(&out, &v4).1.src, ME.ip, "the IPv4 collector from the port's IPv4 address");

        let (reply, change) = h.input(2, &answer(&syn, SYN_ACK, true), t0 + Duration::from_millis(1));
        let change = change.expect("initial to healthy");
        assert!(change.to_string().contains("collector fd20::10 is healthy (was initial)"), "{change}");
        assert_eq!((change.key, change.from, change.to), (v6.clone(), State::Initial, State::Healthy));
        let (port, rst) = reply.expect("a RST closes the connection");
        assert!(ipv6_checksum_holds(&rst), "the RST's TCP checksum");
        let (_, rst) = probe::parse_frame(&rst).unwrap();
        assert_eq!((port, rst.src, rst.dst), (2, ME6.ip, v6.address));
        assert_eq!(rst.segment, Segment::Tcp(tcp::Repr { src_port: s.src_port, dst_port: 9000, seq: s.seq.wrapping_add(1), ack: 0, flags: tcp::FLAG_RST, window: 0 }));
        assert!(in_service(&h, &v6) && in_service(&h, &v4));
        assert_eq!(h.report(t0, SystemTime::now()).iter().find(|r| r.address == v6.address).map(|r| r.state), Some(State::Healthy));
    }

    #[test]
    fn refusals_make_an_ipv6_collector_unhealthy_and_an_unresolved_neighbour_fails_its_checks() {
        let t0 = Instant::now();
        let (v6, v4) = (key6(0x10), key(11));
        let mut h = checker_of(v6.clone(), v4.clone(), tcp(1), t0);
        let mut changes = Vec::new();
        for i in 0..3 {
            let t = t0 + Duration::from_secs(i);
            let (out, _) = h.due(t, ready);
            h.input(2, &answer(&sent_to(&out, &v4).1, SYN_ACK, true), t);
            let (reply, change) = h.input(2, &answer(&sent_to(&out, &v6).1, RST_ACK, true), t);
            assert!(reply.is_none(), "a refusal needs no RST");
            changes.extend(change);
        }
        assert_eq!(changes.iter().map(|c| (c.key.clone(), c.to)).collect::<Vec<_>>(), [(v6.clone(), State::Unhealthy)], "at the third refusal");
        assert!(!in_service(&h, &v6) && in_service(&h, &v4));
        let r = h.report(t0, SystemTime::now()).into_iter().find(|r| r.address == v6.address).unwrap();
        assert_eq!((r.state, r.reason.as_deref()), (State::Unhealthy, Some("Target.FailedHealthChecks")));
        assert!(r.description.as_deref().unwrap().contains("connection refused (RST)"), "{:?}", r.description);

        // Its next hop forgotten by Neighbor Discovery: the checks fail, and say why.
        let mut h = checker_of(v6.clone(), v4.clone(), tcp(1), t0);
        let route = |k: &Key| if k.address.is_ipv6() { Route::Unresolved } else { ready(k) };
        let changes: Vec<Change> = (0..3).flat_map(|i| h.due(t0 + Duration::from_secs(i), route).1).collect();
        assert_eq!(changes.len(), 1, "{changes:?}");
        assert_eq!((changes[0].key.clone(), changes[0].to), (v6, State::Unhealthy));
        assert!(changes[0].why.contains("the next hop towards fd20::10 is unresolved (Neighbor Discovery)"), "{}", changes[0].why);
    }

    #[test]
    fn an_icmpv6_echo_reply_makes_an_ipv6_collector_healthy() {
        let t0 = Instant::now();
        let v6 = key6(0x10);
        let mut h = checker_of(key6(0x10), key6(0x11), Settings { protocol: HealthCheckProtocol::Icmp, ..tcp(5) }, t0);
        let (out, _) = h.due(t0, ready);
        let (_, ping) = sent_to(&out, &v6);
        let Segment::Echo(e) = ping.segment else { panic!("an echo") };
        assert_eq!((ping.src, e.kind), (ME6.ip, icmp::V6_ECHO_REQUEST), "ICMPv6 type 128");
        assert!(out.iter().all(|(_, f)| ipv6_checksum_holds(f)), "the ICMPv6 checksums over the pseudo-header");
        // A reply with another identifier (another ping's) answers nothing.
        let other_ping = probe::Repr { segment: Segment::Echo(icmp::EchoRepr { ident: e.ident.wrapping_add(1), ..e }), ..ping };
        assert!(h.input(2, &answer(&other_ping, 0, false), t0).1.is_none(), "a reply to another identifier");
        let (reply, change) = h.input(2, &answer(&ping, 0, false), t0);
        assert!(reply.is_none());
        assert_eq!(change.map(|c| (c.key, c.to)), Some((v6, State::Healthy)));
    }

    #[test]
    fn unresolved_next_hops_fail_and_unsendable_checks_leave_collectors_in_service() {
        let t0 = Instant::now();
        let mut h = checker(tcp(1), t0);
        let route = |k: &Key| if *k == key(10) { Route::Unresolved } else { Route::Unavailable("port \"mirror\" has no IPv4 address (ipv4) to send them from".into()) };
        let mut changes = Vec::new();
        for i in 0..3 {
            let (out, c) = h.due(t0 + Duration::from_secs(i), route);
            assert!(out.is_empty(), "nothing can be sent");
            changes.extend(c);
        }
        assert_eq!(changes.len(), 2, "{changes:?}");
        assert_eq!((changes[0].key.clone(), changes[0].to), (key(11), State::Unavailable), "at once");
        assert!(changes[1].why.contains("unresolved") && changes[1].to == State::Unhealthy);
        assert!(in_service(&h, &key(11)) && !in_service(&h, &key(10)));
        let r = h.report(t0, SystemTime::now());
        assert_eq!(r[1].reason.as_deref(), Some("Target.HealthCheckDisabled"));
        // Once a check can be sent, the unchecked collector starts over.
        let (out, c) = h.due(t0 + Duration::from_secs(3), ready);
        assert_eq!(out.len(), 2);
        assert_eq!(c.iter().map(|c| (c.key.clone(), c.to)).collect::<Vec<_>>(), [(key(11), State::Initial)]);
    }

    #[test]
    fn collectors_follow_the_configuration() {
        let t0 = Instant::now();
        let mut h = checker(tcp(30), t0);
        h.due(t0, ready);
        // A load balancer no target uses is not checked.
        let c = h.want(&[Wanted { key: key(10), settings: None }], t0);
        assert_eq!(c.iter().map(|c| (c.key.clone(), c.to)).collect::<Vec<_>>(), [(key(10), State::Unused)]);
        assert_eq!(h.report(t0, SystemTime::now()).len(), 1, "collector .11 is gone");
        assert!(h.due(t0 + Duration::from_secs(60), ready).0.is_empty());
        // Used again: checked at once; changed settings restart the checks, the health stays.
        let c = h.want(&[Wanted { key: key(10), settings: Some(tcp(30)) }], t0);
        assert_eq!(c[0].to, State::Initial);
        assert_eq!(h.due(t0, ready).0.len(), 1);
        assert!(h.want(&[Wanted { key: key(10), settings: Some(tcp(10)) }], t0).is_empty());
        assert_eq!(h.due(t0, ready).0.len(), 1, "a new check at once");
    }

    #[test]
    fn settings_default_as_aws_does_and_the_port_to_the_traffic_port() {
        let mut lb = LoadBalancer { arn: LB.into(), port: "mirror".into(), addresses: vec![Ipv4Addr::new(192, 0, 2, 10).into()], ..Default::default() };
        let s = Settings::of(&lb, 4789);
        assert_eq!(s, Settings { protocol: HealthCheckProtocol::Tcp, port: 4789, interval: Duration::from_secs(30), healthy_threshold: 3, unhealthy_threshold: 3 });
        lb.health_check = Some(crate::config::HealthCheck { port: Some(9000), interval: Some(1), ..Default::default() });
        assert_eq!((Settings::of(&lb, 4789).port, Settings::of(&lb, 4789).interval), (9000, Duration::from_secs(1)));

        let mut cfg = Config { load_balancers: vec![lb].into(), ..Default::default() };
        assert_eq!(wanted(&cfg), [Wanted { key: key(10), settings: None }], "no target uses it");
        let mut t = crate::config::Target::new("tmt-1", TargetType::NetworkLoadBalancer, LB);
        t.udp_port = 4790;
        cfg.targets.push(t);
        assert_eq!(wanted(&cfg)[0].settings.map(|s| s.port), Some(9000));
    }
}
