//! Counter reports: gathered from every worker, shown as a readable summary or as JSON.

use crate::compile::Slots;
use crate::config::Config;
use dataplane::dpdk::mempool::Mempool;
use dataplane::dpdk::port::PortStats;
use dataplane::stats::{SessionCounters, WorkerCounters};
use dataplane::types::{CounterSlot, Direction};
use serde::Serialize;
use std::fmt::Write;
use std::time::Duration;

/// Everything counted, at one moment.
#[derive(Debug, Serialize, serde::Deserialize)]
pub struct Report {
    pub duration_s: f64,
    /// Tables published so far (one per accepted change).
    #[serde(default)]
    pub table: u64,
    /// Next hops resolved by ARP, and what ARP did.
    #[serde(default)]
    pub neighbours: Vec<crate::arp::NeighbourReport>,
    #[serde(default)]
    pub arp: crate::arp::ArpCounters,
    pub ports: Vec<PortReport>,
    pub sessions: Vec<SessionReport>,
    pub workers: Vec<WorkerReport>,
    /// Frames forwarded but never considered for mirroring, by reason.
    pub not_mirrored: NotMirrored,
    pub mempools: Vec<PoolReport>,
}

/// One port: DPDK's counters, and the drops the workers counted.
#[derive(Debug, Serialize, serde::Deserialize)]
pub struct PortReport {
    pub name: String,
    pub device: String,
    pub rx_packets: u64,
    pub rx_bytes: u64,
    pub tx_packets: u64,
    pub tx_bytes: u64,
    pub rx_missed: u64,
    pub rx_errors: u64,
    pub tx_errors: u64,
    /// Originals the TX queue refused after retries.
    pub tx_dropped: u64,
    /// Copies the TX queue refused.
    pub copies_dropped: u64,
}

/// One session's figures in one direction (AWS's four metrics, and the reasons).
#[derive(Debug, Default, Serialize, serde::Deserialize, Clone, Copy, PartialEq, Eq)]
pub struct DirReport {
    pub packets: u64,
    pub bytes: u64,
    pub truncated: u64,
    pub skip_packets: u64,
    pub skip_bytes: u64,
    pub skip_queue_full: u64,
    pub skip_no_mbuf: u64,
    pub skip_unresolved: u64,
}

impl DirReport {
    fn add(&mut self, c: &SessionCounters) {
        let (q, m, u) = (c.skip_queue_full.get(), c.skip_no_mbuf.get(), c.skip_unresolved.get());
        self.packets += c.packets.get();
        self.bytes += c.bytes.get();
        self.truncated += c.truncated.get();
        self.skip_queue_full += q;
        self.skip_no_mbuf += m;
        self.skip_unresolved += u;
        self.skip_packets += q + m + u;
        self.skip_bytes += c.skip_bytes.get();
    }
}

/// One session.
#[derive(Debug, Serialize, serde::Deserialize)]
pub struct SessionReport {
    pub id: String,
    pub source: String,
    pub target: String,
    pub session_number: u32,
    pub virtual_network_id: u32,
    pub enabled: bool,
    pub ingress: DirReport,
    pub egress: DirReport,
}

/// One worker.
#[derive(Debug, Serialize, serde::Deserialize)]
pub struct WorkerReport {
    pub id: usize,
    pub core: usize,
    /// Share of poll time spent on iterations that received frames.
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

/// Sums one session slot's counters over the workers.
pub fn session_totals(counters: &[WorkerCounters], slot: u32) -> [DirReport; 2] {
    let mut out = [DirReport::default(); 2];
    for w in counters {
        for d in Direction::ALL {
            out[d as usize].add(w.session(CounterSlot(slot), d));
        }
    }
    out
}

impl DirReport {
    /// The counts since `base`.
    pub fn since(&self, base: &DirReport) -> DirReport {
        DirReport {
            packets: self.packets - base.packets,
            bytes: self.bytes - base.bytes,
            truncated: self.truncated - base.truncated,
            skip_packets: self.skip_packets - base.skip_packets,
            skip_bytes: self.skip_bytes - base.skip_bytes,
            skip_queue_full: self.skip_queue_full - base.skip_queue_full,
            skip_no_mbuf: self.skip_no_mbuf - base.skip_no_mbuf,
            skip_unresolved: self.skip_unresolved - base.skip_unresolved,
        }
    }
}

impl Report {
    /// Gathers the counters.
    pub fn collect(
        cfg: &Config,
        slots: &Slots,
        counters: &[WorkerCounters],
        port_stats: &[PortStats],
        cores: &[usize],
        pools: &[&Mempool],
        elapsed: Duration,
    ) -> Report {
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
                tx_dropped: sum(&|w| w.ports[i].tx_dropped.get()),
                copies_dropped: sum(&|w| w.ports[i].copies_dropped.get()),
            })
            .collect();
        let sessions = cfg
            .sessions
            .iter()
            .map(|s| {
                let [ingress, egress] = slots.get(&s.id).map_or([DirReport::default(); 2], |slot| {
                    let (now, base) = (session_totals(counters, slot), slots.base(slot));
                    [now[0].since(&base[0]), now[1].since(&base[1])]
                });
                SessionReport {
                    id: s.id.clone(),
                    source: s.source.clone(),
                    target: s.target.clone(),
                    session_number: s.session_number,
                    virtual_network_id: s.virtual_network_id.unwrap_or(0),
                    enabled: s.enabled,
                    ingress,
                    egress,
                }
            })
            .collect();
        let workers = counters
            .iter()
            .enumerate()
            .map(|(id, w)| WorkerReport {
                id,
                core: cores.get(id).copied().unwrap_or(0),
                busy_ratio: w.busy_cycles.get() as f64 / w.total_cycles.get().max(1) as f64,
                busy_cycles: w.busy_cycles.get(),
                total_cycles: w.total_cycles.get(),
            })
            .collect();
        Report {
            duration_s: elapsed.as_secs_f64(),
            table: 0,
            neighbours: Vec::new(),
            arp: Default::default(),
            ports,
            sessions,
            workers,
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
                        format!("{}/{}/{}", d.skip_queue_full, d.skip_no_mbuf, d.skip_unresolved),
                    ]);
                }
            }
            out.push('\n');
            out += &render(&["session", "vni", "direction", "mirrored", "bytes", "truncated", "skipped", "queue/mbuf/unresolved"], &rows);
        }
        let _ = writeln!(
            out,
            "\nnot mirrored: {} non-IP, {} malformed, {} excluded (accepted, but DHCP, metadata or own copies)",
            self.not_mirrored.not_ip, self.not_mirrored.malformed, self.not_mirrored.excluded
        );
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

/// A left-aligned first column and right-aligned numbers.
pub fn render(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.len()).collect();
    for r in rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.len());
        }
    }
    let line = |cells: &mut dyn Iterator<Item = &str>| {
        let mut s = String::new();
        for (i, (c, w)) in cells.zip(&widths).enumerate() {
            if i == 0 {
                let _ = write!(s, "{c:<w$}");
            } else {
                let _ = write!(s, "  {c:>w$}");
            }
        }
        s.trim_end().to_owned() + "\n"
    };
    let mut out = line(&mut headers.iter().copied());
    for r in rows {
        out += &line(&mut r.iter().map(String::as_str));
    }
    out
}
