//! The control thread's state and every change to it: the [`Host`] the API's actions run on.
//!
//! A change is applied to the running configuration in place, then validated, compiled into a
//! new table, written to the journal and published to the workers (RCU: the old table is freed
//! once every worker has passed a quiescent point). If any step fails, the change is undone
//! exactly: the running configuration and table stay in force, and the caller gets the reason
//! in the API's terms.

use crate::api::actions::DescribeNeighborsResult;
use crate::api::ApiError;
use crate::compile::{wanted_next_hops, Compiler};
use crate::config::{Config, ConfigError, Kind};
use crate::counters::Slots;
use crate::neighbour::{Me, NeighbourReport, Neighbours};
use crate::report::{Inputs, Report};
use crate::state::{apply_all, undo_all, Change, Host, State};
use crate::store::{self, Folded, Store};
use crate::throttle::Throttle;
use dataplane::dpdk::burst::Burst;
use dataplane::dpdk::mbuf::Mbuf;
use dataplane::dpdk::mempool::Mempool;
use dataplane::dpdk::port::Port;
use dataplane::dpdk::queue::TxQueue;
use dataplane::rcu::Writer;
use dataplane::stats::WorkerCounters;
use dataplane::table::Table;
use dataplane::snoop::SnoopQueue;
use std::time::Instant;

/// What the control thread reads besides the configuration.
pub struct Runtime<'a> {
    pub counters: &'a [WorkerCounters],
    pub ports: &'a [Port],
    pub pools: [&'a Mempool; 2],
    pub port_macs: Vec<[u8; 6]>,
    pub cores: Vec<usize>,
    pub started: Instant,
    /// The control thread's own TX queue on the ports that have one to spare (for ARP).
    pub control_tx: Vec<Option<TxQueue>>,
}

/// The controller's part of the exit report.
pub struct Finished {
    pub cfg: Config,
    pub slots: Slots,
    pub generation: u64,
    pub neighbours: Vec<NeighbourReport>,
    pub arp: crate::neighbour::ArpCounters,
    pub nd: crate::neighbour::NdCounters,
}

/// The control thread's state.
pub struct Controller<'a> {
    state: State,
    store: Store,
    slots: Slots,
    writer: Writer<'a, Table>,
    /// Keeps each source's compiled rules for the next change (a cell: compiling a candidate
    /// configuration borrows the running one).
    compiler: std::cell::RefCell<Compiler>,
    rt: Runtime<'a>,
    generation: u64,
    neighbours: Neighbours,
    /// What each next hop was last logged as (only changes are logged).
    logged_hops: std::collections::HashMap<String, String>,
    /// Repeated log lines, at most one per key every 10 s.
    throttle: Throttle,
    /// The workers' cycle counts of the last seconds, for a busy share that is recent.
    busy: BusyWindow,
}

/// Samples of the workers' (busy, total) cycle counts, one a second over the last
/// [`BusyWindow::SPAN`]: a busy share since start says nothing about now after a while.
#[derive(Debug, Default)]
struct BusyWindow {
    samples: std::collections::VecDeque<(Instant, Vec<(u64, u64)>)>,
}

impl BusyWindow {
    const SPAN: std::time::Duration = std::time::Duration::from_secs(10);

    fn now(counters: &[WorkerCounters]) -> Vec<(u64, u64)> {
        counters.iter().map(|w| (w.busy_cycles.get(), w.total_cycles.get())).collect()
    }

    /// Takes a sample when a second has passed since the last.
    fn tick(&mut self, counters: &[WorkerCounters], now: Instant) {
        if self.samples.back().is_some_and(|(t, _)| now.duration_since(*t) < std::time::Duration::from_secs(1)) {
            return;
        }
        self.samples.push_back((now, Self::now(counters)));
        while self.samples.front().is_some_and(|(t, _)| now.duration_since(*t) > Self::SPAN) {
            self.samples.pop_front();
        }
    }

    /// Each worker's busy share since the oldest sample.
    fn ratios(&self, counters: &[WorkerCounters]) -> Vec<f64> {
        let now = Self::now(counters);
        let then = self.samples.front().map(|(_, s)| s.clone()).unwrap_or_else(|| vec![(0, 0); now.len()]);
        now.iter().zip(then.iter().chain(std::iter::repeat(&(0, 0)))).map(|((b, t), (b0, t0))| (b - b0) as f64 / (t - t0).max(1) as f64).collect()
    }
}

impl<'a> Controller<'a> {
    /// Takes over a state that is already published (generation 1) with `slots`, its next
    /// hops not yet resolved.
    pub fn new(state: State, store: Store, slots: Slots, writer: Writer<'a, Table>, compiler: Compiler, rt: Runtime<'a>) -> Self {
        let mut neighbours = Neighbours::default();
        neighbours.want(&wanted_next_hops(&state.cfg), Instant::now());
        Controller { state, store, slots, writer, compiler: compiler.into(), rt, generation: 1, neighbours, logged_hops: Default::default(), throttle: Throttle::new(std::time::Duration::from_secs(10)), busy: BusyWindow::default() }
    }

    /// The running configuration.
    pub fn config(&self) -> &Config {
        &self.state.cfg
    }

    /// What the exit report needs once the controller (and its borrow of the ports) is gone:
    /// the configuration, the slots and the controller's own figures.
    pub fn finish(self) -> Finished {
        let neighbours = self.neighbour_report();
        Finished { cfg: self.state.cfg, slots: self.slots, generation: self.generation, neighbours, arp: self.neighbours.counters, nd: self.neighbours.nd }
    }

    fn report_with(&self, port_stats: &[dataplane::dpdk::port::PortStats], elapsed: std::time::Duration) -> Report {
        let neighbours = self.neighbour_report();
        Report::collect(&Inputs {
            cfg: &self.state.cfg,
            slots: &self.slots,
            counters: self.rt.counters,
            port_stats,
            cores: &self.rt.cores,
            pools: &self.rt.pools,
            elapsed,
            table: self.generation,
            neighbours: &neighbours,
            arp: self.neighbours.counters,
            nd: self.neighbours.nd,
            recent_busy: Some(&self.busy.ratios(self.rt.counters)),
        })
    }

    /// The next hops resolved by ARP or Neighbor Discovery.
    pub fn neighbour_report(&self) -> Vec<NeighbourReport> {
        let names: Vec<String> = self.state.cfg.ports.iter().map(|p| p.name.clone()).collect();
        self.neighbours.report(&names, Instant::now())
    }

    /// What the fold thread reported.
    pub fn folded(&mut self, f: Folded) {
        match f {
            Folded::Written { hash, through } => self.store.folded(hash, through),
            Folded::HandEdit => log::warn!("{}", self.store.refusal().unwrap_or_default()),
            Folded::Failed(why) => log::error!("writing the changes into the configuration file failed (they are safe in the journal): {why}"),
        }
    }

    /// The control loop's periodic work: a sample of the workers' load, then ARP and Neighbor
    /// Discovery (the frames workers handed over, the requests that are due; a next hop that
    /// changes republishes the table).
    pub fn tick(&mut self, snooped: &SnoopQueue) {
        let now = Instant::now();
        self.busy.tick(self.rt.counters, now);
        let mut changed = false;
        while let Some(s) = snooped.pop() {
            let port = usize::from(s.port);
            let (reply, ch) = self.neighbours.input(port, s.frame(), self.me(port), now);
            changed |= ch;
            if let Some(out) = reply {
                self.send(out);
            }
        }
        let (requests, ch) = {
            let cfg = &self.state.cfg;
            let macs = &self.rt.port_macs;
            let tx = &self.rt.control_tx;
            self.neighbours.due(now, |p| me_of(cfg, macs, tx, p))
        };
        changed |= ch;
        for out in requests {
            self.send(out);
        }
        if changed {
            for n in self.neighbour_report() {
                let key = format!("{}/{:?}/{}", n.port, n.vlan, n.ip);
                let mac = n.mac.as_deref().unwrap_or("unresolved").to_owned();
                if self.logged_hops.get(&key) == Some(&mac) {
                    continue;
                }
                self.logged_hops.insert(key.clone(), mac.clone());
                if let Some(line) = self.throttle.line(&key, now, || format!("next hop {} on port {}: {mac}", n.ip, n.port)) {
                    log::info!("{line}");
                }
            }
            self.republish();
        }
    }

    fn me(&self, port: usize) -> Option<Me> {
        me_of(&self.state.cfg, &self.rt.port_macs, &self.rt.control_tx, port)
    }

    /// Sends a control frame (ARP, Neighbor Discovery) on its port's control queue; a refused
    /// frame is dropped (both retry on their own).
    fn send(&mut self, (port, frame): crate::neighbour::Outgoing) {
        let Some(Some(txq)) = self.rt.control_tx.get_mut(port) else { return };
        let Some(mut m) = Mbuf::alloc(self.rt.pools[1]) else { return };
        let Some(buf) = m.append(frame.len()) else { return };
        buf.copy_from_slice(&frame);
        let mut burst = Burst::new();
        if burst.push(m).is_ok() {
            txq.send(&mut burst);
        }
    }

    /// Recompiles the running configuration (next hops changed) and publishes it.
    fn republish(&mut self) {
        let n = &self.neighbours;
        let compiled = self.compiler.borrow_mut().compile(&self.state.cfg, &self.rt.port_macs, &self.slots, self.generation + 1, |k| n.lookup(k));
        match compiled {
            Ok(table) => {
                self.publish(table);
                log::info!("table {}: next hops changed", self.generation);
            }
            Err(e) => log::error!("recompiling for new next hops failed, the running table stays: {e}"),
        }
    }

    fn publish(&mut self, table: Table) {
        self.writer.swap(table, |w| log::warn!("waiting for worker {w} to pass a quiescent point"));
        self.slots.published();
        self.generation += 1;
    }

    /// Checks `cfg` (the running configuration with a change applied) whole and compiles it;
    /// the slots it needs are assigned in `slots`.
    fn prepare(&self, cfg: &Config, slots: &mut Slots) -> Result<Table, ApiError> {
        if let Err(problems) = cfg.validate() {
            let (code, _) = problems[0].in_api_terms();
            let message = problems.iter().map(|p| p.in_api_terms().1).collect::<Vec<_>>().join("; ");
            return Err(ApiError::new(code, message));
        }
        arp_capable(cfg, &self.rt.control_tx).map_err(ApiError::combination)?;
        slots.assign(cfg, self.rt.counters).map_err(|e| ApiError::new("TrafficMirrorSessionLimitExceeded", e.to_string()))?;
        let n = &self.neighbours;
        self.compiler.borrow_mut().compile(cfg, &self.rt.port_macs, slots, self.generation + 1, |k| n.lookup(k)).map_err(|e| ApiError::new("InvalidParameterCombination", e.to_string()))
    }

    /// Re-reads the file (with the changes it does not hold yet) and applies it whole, or
    /// refuses it with every problem.
    pub fn reload_file(&mut self) -> Result<u64, ConfigError> {
        let loaded = self.store.reread()?;
        match self.take(&loaded) {
            Ok(()) => {
                self.store.reloaded(&loaded);
                let kept = if loaded.replayed > 0 { format!(", with {} changes made through the API kept on top", loaded.replayed) } else { String::new() };
                log::info!("table {}: reloaded {}{kept}", self.generation, self.store_path());
                Ok(self.generation)
            }
            Err(e) => {
                self.store.refused();
                Err(e)
            }
        }
    }

    /// Puts what a reload read in force, or says why not.
    fn take(&mut self, loaded: &store::Loaded) -> Result<(), ConfigError> {
        let new = loaded.cfg.clone();
        let fixed = [
            (new.dataplane != self.state.cfg.dataplane, "[dataplane]"),
            (new.ports != self.state.cfg.ports, "[[port]]"),
            (new.links != self.state.cfg.links, "[[link]]"),
            (new.control != self.state.cfg.control, "[control]"),
            (new.metrics != self.state.cfg.metrics, "[metrics]"),
            (new.api != self.state.cfg.api, "[api]"),
        ];
        if let Some((_, what)) = fixed.iter().find(|(changed, _)| *changed) {
            return Err(ConfigError::file(&self.store_path(), format!("{what} changed: it can only change with a restart, so the reload is refused whole")));
        }
        let mut slots = self.slots.clone();
        let table = self.prepare(&new, &mut slots).map_err(|e| ConfigError::file(&self.store_path(), e.message))?;
        self.slots = slots;
        self.publish(table);
        self.state.cfg = new;
        for t in loaded.tokens.iter() {
            self.state.tokens.remember(t.clone());
        }
        self.neighbours.want(&wanted_next_hops(&self.state.cfg), Instant::now());
        Ok(())
    }

    fn store_path(&self) -> String {
        self.store.path().display().to_string()
    }
}

impl Host for Controller<'_> {
    fn state(&self) -> &State {
        &self.state
    }

    fn commit(&mut self, change: Change) -> Result<(), ApiError> {
        if let Some(why) = self.store.refusal() {
            return Err(ApiError::new("IncorrectState", why));
        }
        let undos = apply_all(&mut self.state.cfg, &change.edits);
        let mut slots = self.slots.clone();
        let prepared = self.prepare(&self.state.cfg, &mut slots);
        let table = match (prepared, change.dry_run) {
            (Err(e), _) => {
                undo_all(&mut self.state.cfg, undos);
                if let Some(line) = self.throttle.line(&format!("refused/{}", e.code), Instant::now(), || format!("refused ({}): {e}", change.what)) {
                    log::info!("{line}");
                }
                return Err(e);
            }
            (Ok(_), true) => {
                undo_all(&mut self.state.cfg, undos);
                return Err(ApiError::dry_run());
            }
            (Ok(table), false) => table,
        };
        // On disk before it is in force: what runs is always what a restart would load.
        if let Err(why) = self.store.append(&change.edits, change.token.as_ref()) {
            undo_all(&mut self.state.cfg, undos);
            log::error!("refused ({}): {why}", change.what);
            return Err(ApiError::new("InternalError", why));
        }
        self.slots = slots;
        self.publish(table);
        if let Some(t) = change.token {
            self.state.tokens.remember(t);
        }
        log::info!("table {}: {}", self.generation, change.what);
        self.neighbours.want(&wanted_next_hops(&self.state.cfg), Instant::now());
        Ok(())
    }

    fn report(&self) -> Report {
        let stats: Vec<_> = self.rt.ports.iter().map(Port::stats).collect();
        self.report_with(&stats, self.rt.started.elapsed())
    }

    fn neighbours(&self) -> DescribeNeighborsResult {
        DescribeNeighborsResult { neighbors: self.neighbour_report(), arp: self.neighbours.counters, nd: self.neighbours.nd }
    }

    fn reload(&mut self) -> Result<u64, ApiError> {
        self.reload_file().map_err(|e| ApiError::new("InvalidConfiguration", e.to_string()))
    }
}

/// A port's identity for ARP and Neighbor Discovery: its MAC and addresses, when it has an
/// address and a control queue.
fn me_of(cfg: &Config, macs: &[[u8; 6]], control_tx: &[Option<TxQueue>], port: usize) -> Option<Me> {
    let p = cfg.ports.get(port)?;
    control_tx.get(port)?.as_ref()?;
    (p.ipv4.is_some() || p.ipv6.is_some()).then(|| Me { mac: p.mac.map_or(macs[port], |m| m.0), ip: p.ipv4, ipv6: p.ipv6 })
}

/// Every next hop resolved by ARP or Neighbor Discovery needs a port where the control thread
/// can send: a spare TX queue.
pub fn arp_capable(cfg: &Config, control_tx: &[Option<TxQueue>]) -> Result<(), String> {
    for key in wanted_next_hops(cfg) {
        if control_tx.get(key.port).is_none_or(|q| q.is_none()) {
            let port = &cfg.ports[key.port].name;
            let users: Vec<&str> = cfg.targets.iter().filter(|t| cfg.target_destination(t).is_some_and(|d| d.port == port)).map(|t| t.id.as_str()).collect();
            return Err(format!(
                "{} {}: next hop {} is found by ARP or Neighbor Discovery, but port {port:?} has no TX queue to spare for it (the device has one per worker only; for net_pcap give it one more tx_pcap=); give the {} a next_hop_mac",
                Kind::Target.noun(),
                users.join(", "),
                key.ip,
                "destination"
            ));
        }
    }
    Ok(())
}
