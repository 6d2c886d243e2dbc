//! Counter reports: gathered from every worker, shown as a readable summary or as JSON.

use crate::config::Config;
pub use crate::counters::DirReport;
use crate::counters::{RuleTotals, Slots};
use crate::health::CollectorHealth;
use crate::neighbour::{ArpCounters, NdCounters, NeighbourReport};
use crate::render::render;
use dataplane::dpdk::mempool::Mempool;
use dataplane::dpdk::port::PortStats;
use dataplane::stats::WorkerCounters;
use serde::Serialize;
use std::fmt::Write;
use std::time::Duration;

/// What a report is made of: the configuration, the counters, and the control thread's own
/// figures.
#[derive(Clone, Copy)]
pub struct Inputs<'a> {
    pub cfg: &'a Config,
    pub slots: &'a Slots,
    pub counters: &'a [WorkerCounters],
    pub port_stats: &'a [PortStats],
    /// Frames each port's device counted as sent that never reached its capture files
    /// ([`CaptureFiles`](crate::capture::CaptureFiles)), by port index.
    pub unwritten: &'a [u64],
    pub cores: &'a [usize],
    pub pools: &'a [&'a Mempool],
    pub elapsed: Duration,
    /// Tables published so far.
    pub table: u64,
    pub neighbours: &'a Vec<NeighbourReport>,
    pub arp: ArpCounters,
    pub nd: NdCounters,
    /// Each worker's busy share over a recent window, when known (else since start).
    pub recent_busy: Option<&'a [f64]>,
    /// The load balancers' collectors' health.
    pub health: &'a [CollectorHealth],
    pub control: ControlReport,
    /// Every filter rule's hits.
    pub rule_hits: &'a RuleTotals,
}

/// What the changes made through the API cost the control thread: counted (so that a test can
/// see on any machine that a change costs what it touches, not what exists), and timed step by
/// step (where a change's time goes).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct ControlReport {
    /// Changes put in force.
    pub changes: u64,
    /// What they cost in all.
    pub total: ChangeWork,
    /// What the last one cost.
    pub last: ChangeWork,
    /// Where their time went on the control thread, in all (what a client waits for besides
    /// is the transport and the jobs ahead of its change).
    #[serde(default)]
    pub nanos: ChangeNanos,
    /// The longest each step took.
    #[serde(default)]
    pub slowest: ChangeNanos,
    /// Reloads whose reading of the file did not come back in time (a hung mount): the
    /// running configuration was kept.
    #[serde(default)]
    pub reloads_stuck: u64,
    /// Changes whose write to the journal did not come back in time (a hung mount): their
    /// callers were told, and changes refused until it came back.
    #[serde(default)]
    pub writes_stuck: u64,
}

/// Time a change (or several) spent in each step on the control thread, in nanoseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct ChangeNanos {
    /// Applying the edits and checking the resources they touched.
    pub validate: u64,
    /// Counter slots, and compiling the touched parts of the new table.
    pub compile: u64,
    /// Appending the change to the journal and flushing it.
    pub persist: u64,
    /// Putting the table in force.
    pub publish: u64,
}

impl ChangeNanos {
    /// The steps by name, as the metrics label them.
    pub fn steps(&self) -> [(&'static str, u64); 4] {
        [("validate", self.validate), ("compile", self.compile), ("persist", self.persist), ("publish", self.publish)]
    }
}

/// What one change (or several) cost.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct ChangeWork {
    /// Resources validated.
    pub validated: u64,
    /// Sessions whose copies were compiled.
    pub sessions_compiled: u64,
    /// Sources whose classifiers were built.
    pub sources_built: u64,
}

impl ControlReport {
    /// Counts a change put in force.
    pub fn count(&mut self, w: ChangeWork, t: ChangeNanos) {
        self.changes += 1;
        self.nanos.validate += t.validate;
        self.nanos.compile += t.compile;
        self.nanos.persist += t.persist;
        self.nanos.publish += t.publish;
        self.slowest.validate = self.slowest.validate.max(t.validate);
        self.slowest.compile = self.slowest.compile.max(t.compile);
        self.slowest.persist = self.slowest.persist.max(t.persist);
        self.slowest.publish = self.slowest.publish.max(t.publish);
        self.total.validated += w.validated;
        self.total.sessions_compiled += w.sessions_compiled;
        self.total.sources_built += w.sources_built;
        self.last = w;
    }
}

/// Everything counted, at one moment.
#[derive(Debug, Serialize, serde::Deserialize)]
pub struct Report {
    pub duration_s: f64,
    /// Tables published so far (one per accepted change).
    #[serde(default)]
    pub table: u64,
    /// Next hops resolved by ARP or Neighbor Discovery, and what each did.
    #[serde(default)]
    pub neighbours: Vec<NeighbourReport>,
    #[serde(default)]
    pub arp: ArpCounters,
    #[serde(default)]
    pub nd: NdCounters,
    pub ports: Vec<PortReport>,
    pub sessions: Vec<SessionReport>,
    /// Every filter rule, with how many packets it decided.
    #[serde(default)]
    pub rules: Vec<RuleReport>,
    #[serde(default)]
    pub targets: Vec<TargetReport>,
    pub workers: Vec<WorkerReport>,
    /// Frames forwarded but never considered for mirroring, by reason.
    pub not_mirrored: NotMirrored,
    /// Frames for the control thread (ARP and Neighbor Discovery on mirror ports) that its
    /// queue had no room for.
    #[serde(default)]
    pub control_frames_dropped: u64,
    /// What the changes cost the control thread.
    #[serde(default)]
    pub control: ControlReport,
    pub mempools: Vec<PoolReport>,
}

/// One port: DPDK's counters, and the drops the workers counted.
#[derive(Clone, Debug, Serialize, serde::Deserialize)]
pub struct PortReport {
    pub name: String,
    pub device: String,
    pub rx_packets: u64,
    pub rx_bytes: u64,
    pub tx_packets: u64,
    pub tx_bytes: u64,
    pub rx_missed: u64,
    pub rx_errors: u64,
    /// Frames the device says it failed to send (`oerrors`). net_pcap never counts a failed
    /// write here: see `tx_unwritten`.
    pub tx_errors: u64,
    /// Frames the device counted as sent that are not in its capture files (net_pcap with
    /// `tx_pcap=` on a full disk).
    #[serde(default)]
    pub tx_unwritten: u64,
    /// Originals the TX queue refused after retries.
    pub tx_dropped: u64,
    /// Copies the TX queue refused.
    pub copies_dropped: u64,
}

/// One session.
#[derive(Debug, Serialize, serde::Deserialize)]
pub struct SessionReport {
    pub id: String,
    pub source: String,
    pub target: String,
    #[serde(default)]
    pub filter: String,
    pub session_number: u32,
    pub virtual_network_id: u32,
    pub enabled: bool,
    pub ingress: DirReport,
    pub egress: DirReport,
}

/// One filter rule and its hits: the packets it decided (accept or reject), counted once for
/// each session it decided one for.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct RuleReport {
    pub filter: String,
    pub rule: String,
    pub rule_number: u32,
    pub direction: crate::config::Direction,
    pub action: crate::config::RuleAction,
    pub hits: u64,
}

/// One target: what receives its copies, where they go, and what came of them.
#[derive(Clone, Debug, Serialize, serde::Deserialize)]
pub struct TargetReport {
    pub id: String,
    /// network-interface, network-load-balancer or gateway-load-balancer-endpoint.
    pub kind: String,
    /// The network interface id, load balancer ARN or endpoint id.
    pub destination: String,
    /// The mirror port.
    pub port: String,
    pub collectors: Vec<std::net::IpAddr>,
    /// Copies sent to its collectors, and the bytes of originals they carried.
    #[serde(default)]
    pub packets: u64,
    #[serde(default)]
    pub bytes: u64,
    /// Copies accepted for it but not sent, by reason.
    #[serde(default)]
    pub skipped: SkipReport,
    /// Each collector's figures, and its health behind a load balancer.
    #[serde(default)]
    pub collector_counters: Vec<CollectorReport>,
}

/// Copies skipped, by reason, and their bytes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct SkipReport {
    pub queue_full: u64,
    pub no_mbuf: u64,
    pub unresolved: u64,
    pub no_healthy_collector: u64,
    pub bytes: u64,
}

impl SkipReport {
    /// Every skip, whatever the reason.
    pub fn packets(&self) -> u64 {
        self.queue_full + self.no_mbuf + self.unresolved + self.no_healthy_collector
    }

    /// The count for `reason`.
    pub fn by(&self, reason: dataplane::types::CopySkip) -> u64 {
        use dataplane::types::CopySkip;
        match reason {
            CopySkip::QueueFull => self.queue_full,
            CopySkip::NoMbuf => self.no_mbuf,
            CopySkip::Unresolved => self.unresolved,
            CopySkip::NoHealthyCollector => self.no_healthy_collector,
        }
    }
}

/// One collector of one target.
#[derive(Clone, Debug, Serialize, serde::Deserialize)]
pub struct CollectorReport {
    pub address: std::net::IpAddr,
    /// Copies sent to it, and the bytes of originals they carried.
    pub packets: u64,
    pub bytes: u64,
    /// Copies for it that were not sent: a full queue, no mbuf.
    pub skipped: SkipReport,
    /// Its health, behind a load balancer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health: Option<CollectorHealth>,
}

/// One worker.
#[derive(Debug, Serialize, serde::Deserialize)]
pub struct WorkerReport {
    pub id: usize,
    pub core: usize,
    /// Share of poll time spent on iterations that received frames over the last few seconds
    /// (since start in the exit report).
    pub busy_ratio: f64,
    /// TSC cycles of the iterations that received frames, and of all of them.
    #[serde(default)]
    pub busy_cycles: u64,
    #[serde(default)]
    pub total_cycles: u64,
}

/// Frames forwarded but not candidates for mirroring.
#[derive(Debug, Default, Serialize, serde::Deserialize)]
pub struct NotMirrored {
    pub not_ip: u64,
    pub malformed: u64,
    pub excluded: u64,
}

/// A mempool's state.
#[derive(Debug, Serialize, serde::Deserialize)]
pub struct PoolReport {
    pub name: String,
    pub size: u32,
    pub in_use: u32,
}

/// One target's figures: its collectors' (and their health), and the skips before any was
/// picked.
fn target_report(i: &Inputs, t: &crate::config::Target) -> TargetReport {
    let dest = i.cfg.target_destination(t);
    let balancer = t.destination().and_then(|(k, id)| (k == crate::config::TargetType::NetworkLoadBalancer).then_some(id));
    let collector_counters: Vec<CollectorReport> = dest
        .iter()
        .flat_map(|d| &d.collectors)
        .map(|c| {
            let address = c.address;
            let n = i.slots.collector_totals(&t.id, address, i.counters);
            CollectorReport {
                address,
                packets: n.packets,
                bytes: n.bytes,
                skipped: SkipReport { queue_full: n.skip_queue_full, no_mbuf: n.skip_no_mbuf, bytes: n.skip_bytes, ..SkipReport::default() },
                health: balancer.and_then(|lb| i.health.iter().find(|h| h.load_balancer == lb && h.address == address)).cloned(),
            }
        })
        .collect();
    let own = i.slots.target_totals(&t.id, i.counters);
    let sum = |f: fn(&CollectorReport) -> u64| collector_counters.iter().map(f).sum::<u64>();
    TargetReport {
        id: t.id.clone(),
        kind: t.kind().map_or("", |k| k.name()).to_owned(),
        destination: t.destination().map_or("", |(_, d)| d).to_owned(),
        port: dest.as_ref().map_or("", |d| d.port).to_owned(),
        collectors: dest.as_ref().map(|d| d.collectors.iter().map(|c| c.address).collect()).unwrap_or_default(),
        packets: sum(|c| c.packets),
        bytes: sum(|c| c.bytes),
        skipped: SkipReport {
            queue_full: sum(|c| c.skipped.queue_full),
            no_mbuf: sum(|c| c.skipped.no_mbuf),
            unresolved: own.skip_unresolved,
            no_healthy_collector: own.skip_no_healthy,
            bytes: own.skip_bytes + sum(|c| c.skipped.bytes),
        },
        collector_counters,
    }
}

impl Report {
    /// Gathers every counter, at once.
    pub fn collect(i: &Inputs) -> Report {
        let Inputs { cfg, slots, counters, port_stats, unwritten, cores, pools, elapsed, .. } = *i;
        let sum = |f: &dyn Fn(&WorkerCounters) -> u64| counters.iter().map(f).sum::<u64>();
        let ports = cfg
            .ports
            .iter()
            .zip(port_stats)
            .enumerate()
            .map(|(i, (p, s))| PortReport {
                name: p.name.clone(),
                device: p.device.clone(),
                rx_packets: s.rx_packets,
                rx_bytes: s.rx_bytes,
                tx_packets: s.tx_packets,
                tx_bytes: s.tx_bytes,
                rx_missed: s.rx_missed,
                rx_errors: s.rx_errors,
                tx_errors: s.tx_errors,
                tx_unwritten: unwritten.get(i).copied().unwrap_or_default(),
                tx_dropped: sum(&|w| w.ports[i].tx_dropped.get()),
                copies_dropped: sum(&|w| w.ports[i].copies_dropped.get()),
            })
            .collect();
        let sessions = cfg
            .sessions
            .iter()
            .map(|s| {
                let [ingress, egress] = slots.totals(&s.id, counters);
                SessionReport {
                    id: s.id.clone(),
                    source: s.source.clone(),
                    target: s.target.clone(),
                    filter: s.filter.clone(),
                    session_number: s.session_number,
                    virtual_network_id: s.virtual_network_id.unwrap_or(0),
                    enabled: s.enabled,
                    ingress,
                    egress,
                }
            })
            .collect();
        let mut rules = Vec::new();
        for f in &cfg.filters {
            for dir in crate::config::Direction::ALL {
                let mut sorted: Vec<_> = f.rules(dir).iter().collect();
                sorted.sort_by_key(|r| r.rule_number);
                for r in sorted {
                    let id = r.id.clone().unwrap_or_default();
                    rules.push(RuleReport { filter: f.id.clone(), hits: i.rule_hits.get(&f.id, &id, dir), rule: id, rule_number: r.rule_number, direction: dir, action: r.action });
                }
            }
        }
        let workers = counters
            .iter()
            .enumerate()
            .map(|(id, w)| WorkerReport {
                id,
                core: cores.get(id).copied().unwrap_or(0),
                busy_ratio: i.recent_busy.and_then(|r| r.get(id).copied()).unwrap_or(w.busy_cycles.get() as f64 / w.total_cycles.get().max(1) as f64),
                busy_cycles: w.busy_cycles.get(),
                total_cycles: w.total_cycles.get(),
            })
            .collect();
        let targets = cfg.targets.iter().map(|t| target_report(i, t)).collect();
        Report {
            duration_s: elapsed.as_secs_f64(),
            targets,
            table: i.table,
            neighbours: i.neighbours.clone(),
            arp: i.arp,
            nd: i.nd,
            ports,
            sessions,
            rules,
            workers,
            control_frames_dropped: sum(&|w| w.snoop_dropped.get()),
            control: i.control,
            not_mirrored: NotMirrored {
                not_ip: sum(&|w| w.not_ip.get()),
                malformed: sum(&|w| w.malformed.get()),
                excluded: sum(&|w| w.excluded.get()),
            },
            mempools: pools.iter().map(|p| PoolReport { name: p.name().into(), size: p.size(), in_use: p.in_use() }).collect(),
        }
    }

    /// The readable summary.
    pub fn text(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "\ntraffic-mirror ran {:.2} s", self.duration_s);
        let rows: Vec<Vec<String>> = self
            .ports
            .iter()
            .map(|p| {
                vec![
                    p.name.clone(),
                    p.rx_packets.to_string(),
                    p.rx_bytes.to_string(),
                    p.tx_packets.to_string(),
                    p.tx_bytes.to_string(),
                    p.rx_missed.to_string(),
                    p.tx_dropped.to_string(),
                    p.copies_dropped.to_string(),
                ]
            })
            .collect();
        out += &render(&["port", "rx pkts", "rx bytes", "tx pkts", "tx bytes", "rx missed", "tx dropped", "copies dropped"], &rows);
        for p in &self.ports {
            if p.tx_errors > 0 {
                let _ = writeln!(out, "port {}: {} frames the device failed to send", p.name, p.tx_errors);
            }
            if p.tx_unwritten > 0 {
                let _ = writeln!(out, "port {}: {} frames counted as sent are not in its tx_pcap files (net_pcap drops write errors: a full disk?)", p.name, p.tx_unwritten);
            }
        }
        if !self.sessions.is_empty() {
            let mut rows = Vec::new();
            for s in &self.sessions {
                for (dir, d) in [("ingress", &s.ingress), ("egress", &s.egress)] {
                    rows.push(vec![
                        s.id.clone(),
                        s.virtual_network_id.to_string(),
                        dir.into(),
                        d.packets.to_string(),
                        d.bytes.to_string(),
                        d.truncated.to_string(),
                        d.skip_packets.to_string(),
                        format!("{}/{}/{}/{}", d.skip_queue_full, d.skip_no_mbuf, d.skip_unresolved, d.skip_no_healthy),
                    ]);
                }
            }
            out.push('\n');
            out += &render(&["session", "vni", "direction", "mirrored", "bytes", "truncated", "skipped", "queue/mbuf/unresolved/no healthy"], &rows);
        }
        let balanced: Vec<&TargetReport> = self.targets.iter().filter(|t| t.collector_counters.len() > 1 || t.collector_counters.iter().any(|c| c.health.is_some())).collect();
        if !balanced.is_empty() {
            let mut rows = Vec::new();
            for t in balanced {
                for c in &t.collector_counters {
                    let health = c.health.as_ref().map_or("", |h| h.state.name());
                    rows.push(vec![t.id.clone(), c.address.to_string(), health.to_owned(), c.packets.to_string(), c.bytes.to_string(), c.skipped.packets().to_string()]);
                }
                rows.push(vec![t.id.clone(), "no collector".into(), String::new(), String::new(), String::new(), (t.skipped.unresolved + t.skipped.no_healthy_collector).to_string()]);
            }
            out.push('\n');
            out += &render(&["target", "collector", "health", "copies", "bytes", "skipped"], &rows);
        }
        if !self.rules.is_empty() {
            let rows: Vec<Vec<String>> = self
                .rules
                .iter()
                .map(|r| vec![r.filter.clone(), r.direction.name().into(), r.rule_number.to_string(), r.rule.clone(), r.action.name().into(), r.hits.to_string()])
                .collect();
            out.push('\n');
            out += &render(&["filter", "direction", "rule", "id", "action", "hits"], &rows);
        }
        let _ = writeln!(
            out,
            "\nnot mirrored: {} non-IP, {} malformed, {} excluded (accepted, but DHCP, metadata or own copies)",
            self.not_mirrored.not_ip, self.not_mirrored.malformed, self.not_mirrored.excluded
        );
        if self.control_frames_dropped > 0 {
            let _ = writeln!(out, "frames for the control thread dropped (its queue was full): {}", self.control_frames_dropped);
        }
        if self.control.reloads_stuck > 0 {
            let _ = writeln!(out, "reloads stuck reading the configuration file (a hung mount?): {}", self.control.reloads_stuck);
        }
        if self.control.writes_stuck > 0 {
            let _ = writeln!(out, "changes stuck being written to the journal (a hung mount?): {}", self.control.writes_stuck);
        }
        for n in &self.neighbours {
            let _ = writeln!(
                out,
                "next hop {} on {}{}: {}",
                n.ip,
                n.port,
                n.vlan.map(|v| format!(" vlan {v}")).unwrap_or_default(),
                n.mac.as_deref().unwrap_or("unresolved")
            );
        }
        for w in &self.workers {
            let _ = writeln!(out, "worker {} (core {}): busy {:.1}%", w.id, w.core, w.busy_ratio * 100.0);
        }
        for p in &self.mempools {
            let _ = writeln!(out, "mempool {}: {} mbufs, {} in use", p.name, p.size, p.in_use);
        }
        out
    }
}
