//! The control thread's state and every change to it: the [`Host`] the API's actions run on.
//!
//! A change is tried first: applied to the running configuration in place, validated and
//! compiled into a new table, then undone exactly (on a failure the caller gets the reason in
//! the API's terms, and the running configuration and table stay in force). Then it is written
//! to the journal by the store's journal thread, the control thread serving everything else
//! meanwhile (on a hung mount the write never returns; see [`WRITE_PATIENCE`]), and changes
//! after it wait until it is on disk. Once it is, it is applied and compiled again and
//! published to the workers (RCU: the old table is freed once every worker has passed a
//! quiescent point, after the change was answered). Each step costs what the change touched
//! ([`Touched`]), not what the configuration holds: with 10,000 sessions a change is answered
//! in milliseconds.

use crate::api::actions::DescribeNeighborsResult;
use crate::api::{ApiError, Reply};
use crate::compile::{arp_targets, wanted_next_hops, Compiler, Env};
use crate::config::{Config, ConfigError, Kind, NextHop, TargetType, Touched};
use crate::counters::{Assigned, RuleHits, RuleTotals, Slots};
use crate::health::{self, CollectorHealth, Health, Route};
use crate::neighbour::{Me, NeighbourReport, Neighbours};
use crate::reload::{Asked, Reloads};
use crate::report::{ChangeNanos, ChangeWork, ControlReport, Inputs, Report};
use crate::state::{Change, Host, Job, State};
use crate::store::{self, Folded, NotWritten, Store};
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
use dataplane::wire::{arp, ndp};
use std::collections::VecDeque;
use std::net::IpAddr;
use std::time::{Duration, Instant, SystemTime};

/// How long a change may take to be written down before its caller is told it is stuck. A
/// flush takes milliseconds, a second on a very busy disk; a write this late is a file system
/// that does not answer.
pub const WRITE_PATIENCE: Duration = Duration::from_secs(5);

/// What the control thread reads besides the configuration.
pub struct Runtime<'a> {
    pub counters: &'a [WorkerCounters],
    pub ports: &'a [Port],
    pub pools: [&'a Mempool; 3],
    pub port_macs: Vec<[u8; 6]>,
    pub cores: Vec<usize>,
    pub started: Instant,
    /// The control thread's own TX queue on the ports that have one to spare (for ARP).
    pub control_tx: Vec<Option<TxQueue>>,
    /// What each port's device says of its TX rings (whether copies may share a port with
    /// originals).
    pub tx_rings: Vec<crate::boot::plan::TxRing>,
}

/// The controller's part of the exit report.
pub struct Finished {
    pub cfg: Config,
    pub slots: Slots,
    pub generation: u64,
    pub neighbours: Vec<NeighbourReport>,
    pub arp: crate::neighbour::ArpCounters,
    pub nd: crate::neighbour::NdCounters,
    pub health: Vec<CollectorHealth>,
    pub control: ControlReport,
    pub rule_hits: RuleTotals,
    /// What the last check of the capture files found missing, by port.
    pub unwritten: Vec<u64>,
}

/// The control thread's state.
pub struct Controller<'a> {
    state: State,
    store: Store,
    slots: Slots,
    writer: Writer<'a, Table>,
    /// Keeps what it compiled for the next change.
    compiler: Compiler,
    rt: Runtime<'a>,
    generation: u64,
    neighbours: Neighbours,
    /// The load balancers' collectors' health checks.
    health: Health,
    /// What each next hop was last logged as (only changes are logged).
    logged_hops: std::collections::HashMap<String, String>,
    /// Repeated log lines, at most one per key every 10 s.
    throttle: Throttle,
    /// The workers' cycle counts of the last seconds, for a busy share that is recent.
    busy: BusyWindow,
    /// net_pcap's capture files, checked against what DPDK counts as sent (off this thread).
    captures: crate::capture::CaptureWatch,
    /// When the capture files were last handed over for a check.
    captures_checked: Instant,
    /// What the changes cost, counted.
    work: ControlReport,
    /// What the filter rules of retired tables counted.
    rule_hits: RuleHits,
    /// The reload whose file is being read, and those asked for meanwhile.
    reloads: Reloads<Reply<u64>>,
    /// The change being written down, if one is.
    writing: Option<Writing>,
    /// What waits for it (changes; see [`Host::after_writes`]).
    after_writes: VecDeque<Job>,
    /// What a reload read while a change was being written: taken once it is on disk.
    read_meanwhile: Option<Result<store::Loaded, ConfigError>>,
}

/// A change handed to the journal thread, tried and found good, waiting to be on disk.
struct Writing {
    seq: u64,
    change: Change,
    /// Its caller; gone once told the write is stuck.
    done: Option<Reply<()>>,
    since: Instant,
    /// What trying it cost.
    nanos: ChangeNanos,
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
        let captures = crate::capture::CaptureWatch::start(crate::capture::CaptureFiles::of(&state.cfg));
        // Every collector starts in service (`initial`): nothing to publish yet.
        let mut health = Health::default();
        health.want(&health::wanted(&state.cfg), Instant::now());
        Controller {
            state,
            store,
            slots,
            writer,
            compiler,
            rt,
            generation: 1,
            neighbours,
            health,
            logged_hops: Default::default(),
            throttle: Throttle::new(std::time::Duration::from_secs(10)),
            busy: BusyWindow::default(),
            captures,
            captures_checked: Instant::now(),
            work: ControlReport::default(),
            rule_hits: RuleHits::default(),
            reloads: Reloads::default(),
            writing: None,
            after_writes: VecDeque::new(),
            read_meanwhile: None,
        }
    }

    /// The running configuration.
    pub fn config(&self) -> &Config {
        &self.state.cfg
    }

    /// What the exit report needs once the controller (and its borrow of the ports) is gone:
    /// the configuration, the slots and the controller's own figures.
    pub fn finish(self) -> Finished {
        let neighbours = self.neighbour_report();
        let health = self.health_report();
        let rule_hits = self.rule_totals();
        let unwritten = self.captures.latest().unwritten.clone();
        Finished { cfg: self.state.cfg, slots: self.slots, generation: self.generation, neighbours, arp: self.neighbours.counters, nd: self.neighbours.nd, health, control: self.work, rule_hits, unwritten }
    }

    /// Every filter rule's hits so far.
    fn rule_totals(&self) -> RuleTotals {
        self.rule_hits.totals(self.writer.current(), self.writer.waiting())
    }

    fn report_with(&self, port_stats: &[dataplane::dpdk::port::PortStats], elapsed: std::time::Duration) -> Report {
        let neighbours = self.neighbour_report();
        let health = self.health_report();
        let rule_hits = self.rule_totals();
        Report::collect(&Inputs {
            cfg: &self.state.cfg,
            slots: &self.slots,
            counters: self.rt.counters,
            port_stats,
            unwritten: &self.captures.latest().unwritten,
            cores: &self.rt.cores,
            pools: &self.rt.pools,
            elapsed,
            table: self.generation,
            neighbours: &neighbours,
            arp: self.neighbours.counters,
            nd: self.neighbours.nd,
            recent_busy: Some(&self.busy.ratios(self.rt.counters)),
            health: &health,
            control: self.work,
            rule_hits: &rule_hits,
        })
    }

    /// The load balancers' collectors' health.
    pub fn health_report(&self) -> Vec<CollectorHealth> {
        self.health.report(Instant::now(), SystemTime::now())
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
            Folded::Reread(read) => self.reread(*read),
            Folded::Journalled { seq, result } => self.journalled(seq, result),
        }
    }

    /// The control loop's periodic work (and what follows every job, once it is answered):
    /// freeing the tables no worker reads any more, a sample of the workers' load, then ARP
    /// and Neighbor Discovery and the health checks (the frames workers handed over, the
    /// requests and checks that are due; a next hop or a collector's health that changes
    /// republishes the table).
    pub fn tick(&mut self, snooped: &SnoopQueue) {
        let (hits, cfg) = (&mut self.rule_hits, &self.state.cfg);
        self.writer.reclaim(|old| hits.retire(old, cfg));
        let writer = &self.writer;
        self.slots.reclaim(|epoch| writer.passed(epoch));
        let now = Instant::now();
        self.busy.tick(self.rt.counters, now);
        self.reload_overdue(now);
        self.write_overdue(now);
        self.check_captures(now);
        let mut changed = false;
        let mut health = Vec::new();
        while let Some(s) = snooped.pop() {
            let port = usize::from(s.port);
            // Neighbours' frames (ARP, Neighbor Discovery) to the table, the rest (TCP and ICMP
            // for the port's address) to the health checks.
            let (reply, ch) = if arp::is_arp(s.frame()) || ndp::is_ndp(s.frame()) {
                self.neighbours.input(port, s.frame(), self.me(port), now)
            } else {
                let (reply, change) = self.health.input(port, s.frame(), now);
                health.extend(change);
                (reply, false)
            };
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
        let (checks, changes) = {
            let (cfg, macs, tx, n) = (&self.state.cfg, &self.rt.port_macs, &self.rt.control_tx, &self.neighbours);
            self.health.due(now, |k| check_route(cfg, macs, |p| tx.get(p).is_some_and(Option::is_some), n, k))
        };
        health.extend(changes);
        for out in checks {
            self.send(out);
        }
        let health_changed = self.health_changed(&health);
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
        }
        if changed || health_changed {
            self.republish();
        }
    }

    /// Logs each change of a collector's health (one line each, never throttled: they are
    /// at most one per check) and says whether the collectors in service changed, which the
    /// compiler is then told.
    fn health_changed(&mut self, changes: &[health::Change]) -> bool {
        for c in changes {
            if c.to.in_service() {
                log::info!("{c}");
            } else {
                log::warn!("{c}");
            }
        }
        let out: std::collections::HashSet<health::Key> = self.health.out_of_service().cloned().collect();
        if self.compiler.out_of_service == out {
            return false;
        }
        self.compiler.out_of_service = out;
        true
    }

    fn me(&self, port: usize) -> Option<Me> {
        me_of(&self.state.cfg, &self.rt.port_macs, &self.rt.control_tx, port)
    }

    /// Hands the port counters over for a check of the capture files once a second, and logs
    /// (once in a while) the files the last check found short of what was counted as sent.
    fn check_captures(&mut self, now: Instant) {
        if now.duration_since(self.captures_checked) >= std::time::Duration::from_secs(1) {
            self.captures_checked = now;
            let stats: Vec<_> = self.rt.ports.iter().map(Port::stats).collect();
            if let Some(late) = self.captures.check(stats, now) {
                log::warn!("{late}");
            }
        }
        let Some(verdict) = self.captures.poll() else { return };
        for (port, path, frames) in &verdict.short {
            let name = &self.state.cfg.ports[*port].name;
            let key = format!("capture {}", path.display());
            if let Some(line) = self.throttle.line(&key, now, || {
                format!("port {name}: {} lacks {frames} frames counted as sent: writing it fails (a full disk?) and net_pcap counts no error", path.display())
            }) {
                log::warn!("{line}");
            }
        }
    }

    /// Sends a control frame (ARP, Neighbor Discovery, a health check) on its port's control
    /// queue; a refused frame is dropped (each retries on its own).
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

    /// Recompiles the targets whose next hops ARP finds or whose collectors are
    /// health-checked (one of them changed) and publishes.
    fn republish(&mut self) {
        let n = &self.neighbours;
        let env = Env { port_macs: &self.rt.port_macs, slots: &self.slots, resolved: &|k| n.lookup(k) };
        let mut touched = arp_targets(&self.state.cfg);
        let balanced = self.state.cfg.targets.iter().filter(|t| t.destination().is_some_and(|(kind, _)| kind == TargetType::NetworkLoadBalancer));
        touched.targets.extend(balanced.map(|t| t.id.clone()));
        let compiled = self.compiler.compile(&self.state.cfg, self.state.refs(), &touched, &env, self.generation + 1);
        match compiled {
            Ok(table) => {
                self.publish(table);
                log::info!("table {}: next hops or collectors in service changed", self.generation);
            }
            Err(e) => log::error!("recompiling for new next hops or collectors in service failed, the running table stays: {e}"),
        }
    }

    /// Puts `table` in force: workers decide every frame they receive from now on by it.
    /// Neither waits for the workers to leave the old one (a worker the scheduler has set
    /// aside would hold the answer for as long) nor frees it: [`Controller::tick`] does, once
    /// they have, after the change was answered.
    fn publish(&mut self, table: Table) {
        let (hits, cfg) = (&mut self.rule_hits, &self.state.cfg);
        let epoch = self.writer.publish(table, |w| log::warn!("waiting for worker {w} to pass a quiescent point"), |old| hits.retire(old, cfg));
        self.slots.published(epoch);
        self.generation += 1;
    }

    /// Checks the change just applied to the running state, which `touched` describes, gives
    /// its new sessions counter slots and compiles it: each step costs what the change
    /// touched. On an error nothing of it is kept (the caller undoes the state).
    fn prepare(&mut self, touched: &Touched, nanos: &mut ChangeNanos) -> Result<(Table, Assigned, ChangeWork), ApiError> {
        let t = Instant::now();
        let validated = self.state.validate(touched)?;
        let cfg = &self.state.cfg;
        let targets = self.state.refs().targets_reached(touched);
        arp_capable(cfg, targets.iter().filter_map(|id| cfg.targets.get(id)), &self.rt.control_tx).map_err(ApiError::combination)?;
        crate::boot::plan::copies_leave_room(cfg, &self.rt.tx_rings).map_err(|p| {
            let (code, message) = p.in_api_terms();
            ApiError::new(code, message)
        })?;
        let validating = t.elapsed();
        let ids = || touched.sessions.iter().map(String::as_str);
        let mut assigned = self.slots.assign(cfg, ids(), self.rt.counters);
        if let (Err(_), Some(epoch)) = (&assigned, self.slots.waiting()) {
            // At the quota, the slots of sessions just deleted are waited for: free once no
            // worker can still count into them.
            self.writer.wait(epoch, |w| log::warn!("waiting for worker {w} to pass a quiescent point"));
            let writer = &self.writer;
            self.slots.reclaim(|e| writer.passed(e));
            assigned = self.slots.assign(cfg, ids(), self.rt.counters);
        }
        let assigned = assigned.map_err(|e| ApiError::new("TrafficMirrorSessionLimitExceeded", e.to_string()))?;
        let n = &self.neighbours;
        let env = Env { port_macs: &self.rt.port_macs, slots: &self.slots, resolved: &|k| n.lookup(k) };
        let compiled = self.compiler.compile(cfg, self.state.refs(), touched, &env, self.generation + 1);
        nanos.validate += nanos_of(validating);
        nanos.compile += nanos_of(t.elapsed() - validating);
        match compiled {
            Ok(table) => {
                let w = self.compiler.work;
                Ok((table, assigned, ChangeWork { validated: validated as u64, sessions_compiled: w.sessions_compiled as u64, sources_built: w.sources_built as u64 }))
            }
            Err(e) => {
                self.slots.undo(assigned);
                Err(ApiError::new("InvalidParameterCombination", e.to_string()))
            }
        }
    }

    /// Asks for a reload (SIGHUP, the API): re-reads the file, with the changes it does not
    /// hold yet, off the control thread, then applies it whole or refuses it with every
    /// problem, and answers `reply` with the table then in force. See [`crate::reload`]: a
    /// reload asked for during a read waits for the next one.
    pub fn reload(&mut self, reply: Reply<u64>) {
        match self.reloads.ask(reply, Instant::now()) {
            Asked::Read => self.start_reading(),
            Asked::Queued => {}
            Asked::Stuck { who, stuck_for } => {
                let why = format!(
                    "the reload of {} begun {} s ago is still stuck reading it (a hung mount?): the running configuration is kept; retry once the file can be read",
                    self.store_path(),
                    stuck_for.as_secs()
                );
                if let Some(line) = self.throttle.line("reload still stuck", Instant::now(), || format!("reload refused: {why}")) {
                    log::warn!("{line}");
                }
                who(Err(ApiError::unavailable(why)));
            }
        }
    }

    fn start_reading(&mut self) {
        if let Err(e) = self.store.reread() {
            self.reread(Err(e));
        }
    }

    /// What a reload's read brought back: put in force, or refused; its askers answered, and
    /// the next read started when a reload was asked for meanwhile.
    fn reread(&mut self, read: Result<store::Loaded, ConfigError>) {
        if self.writing.is_some() {
            // The read may hold the change being written, or not: taken once it is on disk,
            // on top of which `catch_up` then puts exactly what the read lacks.
            self.read_meanwhile = Some(read);
            return;
        }
        let Some(back) = self.reloads.back(Instant::now()) else {
            // Nobody asked for it: nothing to put in force.
            self.store.refused();
            return;
        };
        if back.was_stuck {
            log::warn!("reload of {}: the read that was stuck came back after {} s", self.store_path(), back.took.as_secs());
        }
        let outcome = read.and_then(|mut loaded| {
            self.store.catch_up(&mut loaded);
            self.take(&loaded)?;
            self.store.reloaded(&loaded);
            let kept = if loaded.replayed > 0 { format!(", with {} changes made through the API kept on top", loaded.replayed) } else { String::new() };
            log::info!("table {}: reloaded {}{kept}", self.generation, self.store_path());
            Ok(self.generation)
        });
        if let Err(e) = &outcome {
            // The fold thread waits to hear how the reload ended, whatever ended it.
            self.store.refused();
            log::error!("reload refused, the running configuration stays:\n{e}");
        }
        let answer = outcome.map_err(|e| ApiError::new("InvalidConfiguration", e.to_string()));
        for who in back.waiting {
            who(answer.clone());
        }
        if back.read_next {
            self.start_reading();
        }
    }

    /// Reports a reload whose read is out too long, once: logged, counted, its askers told.
    fn reload_overdue(&mut self, now: Instant) {
        let Some((out, waiting)) = self.reloads.overdue(now) else { return };
        self.work.reloads_stuck += 1;
        let path = self.store_path();
        log::error!(
            "reload of {path} is stuck: reading it has not returned in {} s (a hung mount?); the running configuration is kept (should the read ever come back, what it read is put in force)",
            out.as_secs()
        );
        let why = format!("reading {path} has not returned in {} s (a hung mount?): the reload is stuck and the running configuration is kept", out.as_secs());
        for who in waiting {
            who(Err(ApiError::unavailable(why.clone())));
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
        if let Err(problems) = new.validate() {
            return Err(ConfigError { problems: problems.iter().map(|p| (Some(self.store_path()), None, p.in_file_terms())).collect() });
        }
        arp_capable(&new, new.targets.iter(), &self.rt.control_tx).map_err(|e| ConfigError::file(&self.store_path(), e))?;
        let tokens = self.state.tokens.clone();
        let old = std::mem::replace(&mut self.state, State::new(new, tokens));
        let assigned = match self.slots.assign_all(&self.state.cfg, self.rt.counters) {
            Ok(a) => a,
            Err(e) => {
                self.state = old;
                return Err(e);
            }
        };
        let n = &self.neighbours;
        let env = Env { port_macs: &self.rt.port_macs, slots: &self.slots, resolved: &|k| n.lookup(k) };
        match self.compiler.compile_all(&self.state.cfg, self.state.refs(), &env, self.generation + 1) {
            Ok(table) => self.publish(table),
            Err(e) => {
                self.slots.undo(assigned);
                self.state = old;
                // What the compiler holds of the refused configuration is compiled again.
                self.compiler.refused(&Touched::everything(&self.state.cfg));
                return Err(ConfigError::file(&self.store_path(), e.to_string()));
            }
        }
        for t in loaded.tokens.iter() {
            self.state.tokens.remember(t.clone());
        }
        self.neighbours.want(&wanted_next_hops(&self.state.cfg), Instant::now());
        self.want_checks();
        Ok(())
    }

    /// Checks the collectors the running configuration names; a change that takes a
    /// collector out of the checks, or back, republishes.
    fn want_checks(&mut self) {
        let changes = self.health.want(&health::wanted(&self.state.cfg), Instant::now());
        if self.health_changed(&changes) {
            self.republish();
        }
    }

    /// Tries `change` on the running state (validated, compiled), then undoes it whole: says
    /// whether it would be put in force, with the reason in the API's terms if not.
    fn try_change(&mut self, change: &Change, nanos: &mut ChangeNanos) -> Result<(), ApiError> {
        let t = Instant::now();
        let applied = self.state.apply(&change.edits);
        nanos.validate = nanos_of(t.elapsed());
        let prepared = self.prepare(&applied.touched, nanos).map(|(_, assigned, _)| {
            self.slots.undo(assigned);
            self.compiler.refused(&applied.touched);
        });
        self.state.undo(applied);
        match prepared {
            Err(e) => {
                if let Some(line) = self.throttle.line(&format!("refused/{}", e.code), Instant::now(), || format!("refused ({}): {e}", change.what)) {
                    log::info!("{line}");
                }
                Err(e)
            }
            Ok(_) if change.dry_run => Err(ApiError::dry_run()),
            Ok(_) => Ok(()),
        }
    }

    /// The journal thread's word on change `seq`: on disk, so put in force, or refused. Its
    /// caller is answered (unless already told it was stuck), then what waited for it runs.
    fn journalled(&mut self, seq: u64, result: Result<(), NotWritten>) {
        let Some(w) = self.writing.take_if(|w| w.seq == seq) else {
            log::error!("the journal reported change {seq}, which is not the one being written");
            return;
        };
        let Writing { change, done, since, mut nanos, .. } = w;
        let what = change.what.clone();
        let outcome = match result {
            Ok(()) => {
                nanos.persist = nanos_of(since.elapsed());
                self.store.written(seq, &change.edits);
                self.put_in_force(change, nanos)
            }
            Err(NotWritten::HandEdited(why)) => Err(ApiError::new("IncorrectState", why)),
            Err(NotWritten::Failed(why)) => {
                log::error!("refused ({what}): {why}");
                Err(ApiError::new("InternalError", why))
            }
        };
        match done {
            Some(done) => done(outcome),
            None => log::warn!(
                "the change that was stuck being written came back after {} s: {}",
                since.elapsed().as_secs(),
                match &outcome {
                    Ok(()) => format!("{what}, now in force"),
                    Err(e) => format!("not written, nothing changed ({e})"),
                }
            ),
        }
        if let Some(read) = self.read_meanwhile.take() {
            self.reread(read);
        }
        while self.writing.is_none() {
            let Some(job) = self.after_writes.pop_front() else { break };
            job(Ok(self));
        }
    }

    /// Applies a change that is on disk and publishes it. It was tried before it was written,
    /// and nothing changed the configuration since, so this does what the try did.
    fn put_in_force(&mut self, change: Change, mut nanos: ChangeNanos) -> Result<(), ApiError> {
        let applied = self.state.apply(&change.edits);
        let (table, _, work) = match self.prepare(&applied.touched, &mut nanos) {
            Ok(p) => p,
            Err(e) => {
                self.state.undo(applied);
                log::error!("{} is written down but could not be put in force, unlike when it was tried: {e}", change.what);
                return Err(e);
            }
        };
        let t = Instant::now();
        self.publish(table);
        nanos.publish = nanos_of(t.elapsed());
        log::debug!("change: {work:?}, {nanos:?}");
        self.work.count(work, nanos);
        if let Some(t) = change.token {
            self.state.tokens.remember(t);
        }
        log::info!("table {}: {}", self.generation, change.what);
        let cfg = &self.state.cfg;
        let touched = &applied.touched;
        if !self.state.refs().targets_reached(touched).is_empty() {
            self.neighbours.want(&wanted_next_hops(cfg), Instant::now());
        }
        if !touched.load_balancers.is_empty() || !touched.targets.is_empty() {
            self.want_checks();
        }
        Ok(())
    }

    /// Reports a change whose write is out too long, once: logged, counted, its caller and
    /// the changes waiting behind it told.
    fn write_overdue(&mut self, now: Instant) {
        let Some(w) = self.writing.as_mut().filter(|w| w.done.is_some() && now.saturating_duration_since(w.since) >= WRITE_PATIENCE) else { return };
        let done = w.done.take().expect("filtered above");
        let (what, out) = (w.change.what.clone(), now.saturating_duration_since(w.since));
        self.work.writes_stuck += 1;
        log::error!("{what}: writing it to {} has not returned in {} s (a hung mount?); it is not in force, and changes are refused until the write returns", store::journal_path(self.store.path()).display(), out.as_secs());
        let why = self.stuck_write(out);
        done(Err(ApiError::unavailable(why.clone())));
        for job in std::mem::take(&mut self.after_writes) {
            job(Err(ApiError::unavailable(why.clone())));
        }
    }

    /// Why a change is not answered while a write is stuck.
    fn stuck_write(&self, out: Duration) -> String {
        format!(
            "writing a change to {} has not returned in {} s (a hung mount?): that change is not in force, and takes effect only if the write completes (retry it with the same ClientToken to learn which); changes are refused until then",
            store::journal_path(self.store.path()).display(),
            out.as_secs()
        )
    }

    fn store_path(&self) -> String {
        self.store.path().display().to_string()
    }
}

impl Host for Controller<'_> {
    fn state(&self) -> &State {
        &self.state
    }

    fn after_writes(&mut self, job: Job) {
        match &self.writing {
            None => job(Ok(self)),
            Some(w) if w.done.is_none() => job(Err(ApiError::unavailable(self.stuck_write(w.since.elapsed())))),
            Some(_) => self.after_writes.push_back(job),
        }
    }

    fn commit(&mut self, change: Change, done: Reply<()>) {
        if let Some(why) = self.store.refusal() {
            return done(Err(ApiError::new("IncorrectState", why)));
        }
        let mut nanos = ChangeNanos::default();
        if let Err(e) = self.try_change(&change, &mut nanos) {
            return done(Err(e));
        }
        match self.store.write(&change.edits, change.token.as_ref()) {
            Ok(seq) => self.writing = Some(Writing { seq, change, done: Some(done), since: Instant::now(), nanos }),
            Err(why) => {
                log::error!("refused ({}): {why}", change.what);
                done(Err(ApiError::new("InternalError", why)));
            }
        }
    }

    fn report(&self) -> Report {
        let stats: Vec<_> = self.rt.ports.iter().map(Port::stats).collect();
        self.report_with(&stats, self.rt.started.elapsed())
    }

    fn neighbours(&self) -> DescribeNeighborsResult {
        DescribeNeighborsResult { neighbors: self.neighbour_report(), arp: self.neighbours.counters, nd: self.neighbours.nd }
    }

    fn reload(&mut self, reply: Reply<u64>) {
        Controller::reload(self, reply);
    }

    fn health(&self) -> Vec<CollectorHealth> {
        self.health_report()
    }

    fn rule_hits(&self) -> RuleTotals {
        self.rule_totals()
    }

    fn explain(&self, port: &str, frames: &[Vec<u8>]) -> Result<Vec<crate::explain::FrameExplanation>, ApiError> {
        crate::explain::explain(&self.state.cfg, self.writer.current(), port, frames)
    }
}

/// How a health check reaches collector `key` now: out of its load balancer's port, on the
/// VLAN of the first target that uses it, from the port's own address of the collector's
/// family (`ipv4`, or `ipv6` for an IPv6 collector), to the next hop (its MAC, or the one ARP
/// or Neighbor Discovery found). `spare_tx` says whether the control thread has a TX queue
/// on a port.
fn check_route(cfg: &Config, macs: &[[u8; 6]], spare_tx: impl Fn(usize) -> bool, neighbours: &Neighbours, key: &health::Key) -> Route {
    let Some(lb) = cfg.load_balancers.iter().find(|l| l.arn == key.load_balancer) else {
        return Route::Unavailable("the load balancer is not defined".into());
    };
    let Some(port) = cfg.port_index(&lb.port) else {
        return Route::Unavailable(format!("there is no port {:?}", lb.port));
    };
    if cfg.is_linked(&lb.port) {
        return Route::Unavailable(format!("port {:?} is in a link, whose frames pass through untouched", lb.port));
    }
    let p = &cfg.ports[port];
    let (own, family) = match key.address {
        IpAddr::V4(_) => (p.ipv4.map(IpAddr::V4), "IPv4 address (ipv4)"),
        IpAddr::V6(_) => (p.ipv6.map(IpAddr::V6), "IPv6 address (ipv6)"),
    };
    let Some(ip) = own else {
        return Route::Unavailable(format!("port {:?} has no {family} to send them from", lb.port));
    };
    if !spare_tx(port) {
        return Route::Unavailable(format!("port {:?} has no TX queue to spare for the control thread (for net_pcap, give it one more tx_pcap=)", lb.port));
    }
    let me = health::Sender { mac: port_mac(cfg, macs, port), ip };
    let vlan = cfg.targets.iter().find(|t| t.destination() == Some((TargetType::NetworkLoadBalancer, lb.arn.as_str()))).and_then(|t| t.vlan);
    let next_hop = match NextHop::of(lb.next_hop_mac, lb.next_hop, key.address) {
        NextHop::Mac(m) => m.0,
        NextHop::Address(ip) => match neighbours.lookup(&crate::neighbour::Key { port, vlan, ip }) {
            Some(m) => m,
            None => return Route::Unresolved,
        },
    };
    Route::Ready { port, vlan, me, next_hop, collector: key.address }
}

/// A port's identity for ARP and Neighbor Discovery: its MAC and addresses, when it has an
/// address and a control queue.
fn me_of(cfg: &Config, macs: &[[u8; 6]], control_tx: &[Option<TxQueue>], port: usize) -> Option<Me> {
    let p = cfg.ports.get(port)?;
    control_tx.get(port)?.as_ref()?;
    (p.ipv4.is_some() || p.ipv6.is_some()).then(|| Me { mac: port_mac(cfg, macs, port), ip: p.ipv4, ipv6: p.ipv6 })
}

/// The MAC a port's own frames come from: its `mac`, else the device's.
fn port_mac(cfg: &Config, macs: &[[u8; 6]], port: usize) -> [u8; 6] {
    cfg.ports[port].mac.map_or(macs[port], |m| m.0)
}

fn nanos_of(d: std::time::Duration) -> u64 {
    d.as_nanos().try_into().unwrap_or(u64::MAX)
}

/// Every next hop resolved by ARP or Neighbor Discovery of `targets` needs a port where the
/// control thread can send: a spare TX queue.
pub fn arp_capable<'c>(cfg: &'c Config, targets: impl IntoIterator<Item = &'c crate::config::Target>, control_tx: &[Option<TxQueue>]) -> Result<(), String> {
    for key in targets.into_iter().flat_map(|t| crate::compile::arp_hops(cfg, t)) {
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

#[cfg(test)]
mod tests {
    use super::*;
    use dataplane::wire::ndp;
    use std::net::Ipv6Addr;

    const ARN: &str = "arn:aws:elasticloadbalancing:local:000000000000:loadbalancer/net/ids/1";
    const MIRROR_MAC: [u8; 6] = [2, 0, 0, 0, 0, 0x10];
    const COLLECTOR_MAC: [u8; 6] = [2, 0, 0, 0, 0, 0x20];

    /// A mirror port with `addresses` (TOML lines) and a load balancer of an IPv4 and an
    /// IPv6 collector behind `hop` (a TOML line or none), used by a target on VLAN 7.
    fn config_with(addresses: &str, hop: &str) -> Config {
        let text = format!(
            "[[port]]\nname = \"mirror\"\ndevice = \"net_null0\"\nmac = \"02:00:00:00:00:10\"\n{addresses}\n\n\
             [[load_balancer]]\narn = \"{ARN}\"\nport = \"mirror\"\naddresses = [\"192.0.2.10\", \"fd20::10\"]\n{hop}\n\n\
             [[target]]\nid = \"tmt-ids\"\nnetwork_load_balancer_arn = \"{ARN}\"\nvlan = 7\n"
        );
        crate::config::parse(&text, "t.toml").unwrap_or_else(|e| panic!("{e}"))
    }

    /// The next hop by MAC.
    fn config(addresses: &str) -> Config {
        config_with(addresses, "next_hop_mac = \"02:00:00:00:00:20\"")
    }

    fn key(address: &str) -> health::Key {
        health::Key { load_balancer: ARN.into(), address: address.parse().unwrap() }
    }

    fn route(cfg: &Config, spare_tx: bool, neighbours: &Neighbours, address: &str) -> Route {
        check_route(cfg, &[[2, 0, 0, 0, 0, 0x99]], |_| spare_tx, neighbours, &key(address))
    }

    #[test]
    fn each_collector_is_checked_from_the_ports_address_of_its_family() {
        let cfg = config("ipv4 = \"192.0.2.1\"\nipv6 = \"fd20::1\"");
        let n = Neighbours::default();
        let ready = |ip: &str, collector: &str| Route::Ready { port: 0, vlan: Some(7), me: health::Sender { mac: MIRROR_MAC, ip: ip.parse().unwrap() }, next_hop: COLLECTOR_MAC, collector: collector.parse().unwrap() };
        assert_eq!(route(&cfg, true, &n, "fd20::10"), ready("fd20::1", "fd20::10"));
        assert_eq!(route(&cfg, true, &n, "192.0.2.10"), ready("192.0.2.1", "192.0.2.10"));
    }

    #[test]
    fn an_ipv6_collector_is_unchecked_when_its_port_has_no_ipv6() {
        let cfg = config("ipv4 = \"192.0.2.1\"");
        let n = Neighbours::default();
        assert_eq!(route(&cfg, true, &n, "fd20::10"), Route::Unavailable("port \"mirror\" has no IPv6 address (ipv6) to send them from".into()));
        assert!(matches!(route(&cfg, true, &n, "192.0.2.10"), Route::Ready { .. }), "the IPv4 collector is checked");
        let v6_only = config("ipv6 = \"fd20::1\"");
        assert_eq!(route(&v6_only, true, &n, "192.0.2.10"), Route::Unavailable("port \"mirror\" has no IPv4 address (ipv4) to send them from".into()));
        assert!(matches!(route(&v6_only, false, &n, "fd20::10"), Route::Unavailable(why) if why.contains("no TX queue to spare")));
    }

    #[test]
    fn an_ipv6_collectors_next_hop_is_the_one_neighbor_discovery_found() {
        let cfg = config_with("ipv4 = \"192.0.2.1\"\nipv6 = \"fd20::1\"", "");
        let collector: Ipv6Addr = "fd20::10".parse().unwrap();
        let hop = crate::neighbour::Key { port: 0, vlan: Some(7), ip: collector.into() };
        let mut n = Neighbours::default();
        let now = Instant::now();
        n.want(&[hop], now);
        assert_eq!(route(&cfg, true, &n, "fd20::10"), Route::Unresolved, "not advertised yet");
        let advert = ndp::Repr { message: ndp::Message::Advert { flags: ndp::FLAG_SOLICITED | ndp::FLAG_OVERRIDE }, target: collector, link_layer: Some(COLLECTOR_MAC) };
        let me = Me { mac: MIRROR_MAC, ip: None, ipv6: cfg.ports[0].ipv6 };
        n.input(0, &ndp::frame(MIRROR_MAC, COLLECTOR_MAC, Some(7), collector, "fd20::1".parse().unwrap(), &advert), Some(me), now);
        assert!(matches!(route(&cfg, true, &n, "fd20::10"), Route::Ready { next_hop: COLLECTOR_MAC, vlan: Some(7), .. }));
    }
}
