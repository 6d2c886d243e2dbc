//! `traffic-mirror run`: load the configuration (the file and its journal), start DPDK, set
//! the ports up, publish the compiled table, run the workers and the control loop, and on the
//! way out report what happened. The decisions (cores, queues, pools, EAL arguments) are pure
//! functions in [`plan`] and [`eal_args`]; this module only carries them out, in order.

pub(crate) mod eal_args;
pub(crate) mod plan;
pub mod signals;

use crate::api;
use crate::compile::Compiler;
use crate::config::{devargs, dpdk_name, is_pci, Config, Mac};
use crate::controller::{Controller, Finished, Runtime};
use crate::counters::Slots;
use crate::report::{Inputs, Report};
use crate::state::State;
use crate::http::HttpServer;
use crate::query::QueryServer;
use crate::store::{self, Store};
use anyhow::{bail, Context, Result};
use dataplane::dpdk::eal::Eal;
use dataplane::dpdk::mempool::{Mempool, DATA_ROOM};
use dataplane::dpdk::pdump::Pdump;
use dataplane::dpdk::port::{self, Port, PortInfo, PortSetup, PortStats};
use dataplane::dpdk::queue::{RxQueue, TxQueue};
use dataplane::rcu::Rcu;
use dataplane::stats::WorkerCounters;
use dataplane::table::Table;
use dataplane::snoop::SnoopQueue;
use dataplane::wire::probe::Addresses;
use dataplane::encap::{Outer, OuterIp, Template, DEFAULT_TTL};
use dataplane::worker::floor::{self, Floor, FloorOut};
use dataplane::worker::{self, WorkerSetup};
use crossbeam::channel::{Receiver, Sender};
use signals::Event;
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::{Scope, ScopedJoinHandle};
use std::time::{Duration, Instant};

/// What `run` was asked to do.
pub struct RunOptions {
    pub config: PathBuf,
    pub exit_on_idle: Option<Duration>,
    pub stats_json: Option<PathBuf>,
    pub eal_extra: Vec<String>,
    /// Stop and reload requests, from handlers installed before anything else (see
    /// [`signals::install`]).
    pub signals: crossbeam::channel::Receiver<signals::Event>,
    /// The benchmark's floor for the workers to run instead of the product's loop (see
    /// [`floor`](dataplane::worker::floor)).
    pub bench_floor: Option<Floor>,
}

/// Runs until Ctrl-C, SIGTERM, or (with `exit_on_idle`) quiet ports. Returns the process exit
/// code: 0, or 3 when mbufs leaked.
pub fn run(opts: RunOptions) -> Result<i32> {
    let loaded = load(&opts.config)?;
    let cfg = loaded.cfg.clone();
    preflight(&cfg)?;
    // Before DPDK starts: a second instance on the same socket fails here, cleanly.
    let socket_path = PathBuf::from(&cfg.control.socket);
    let listener = api::socket::bind(&socket_path, cfg.control.mode())?;
    let _socket_cleanup = RemoveOnDrop(socket_path.clone());
    // Before the EAL starts: it narrows the process's CPU affinity to the main lcore.
    let ncores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let cores = plan::worker_cores(&cfg, ncores);
    let dpdk = start_dpdk(&cfg, &opts.eal_extra, plan::control_core(&cfg, ncores))?;
    let pdump = serve_pdump(&cfg, &dpdk.eal)?;
    // DPDK refuses secondary processes (dpdk-pdump) for good once a thread registers for an
    // lcore id: with pdump on, the workers run unregistered, without mempool caches.
    let register_workers = pdump.is_none();

    let devices = Devices::of(&cfg)?;
    let pools = Pools::create(&cfg, &devices)?;
    let Started { ports, queues, control_tx } = start_ports(&cfg, &devices, &pools.rx)?;
    let tx_rings = targets_fit(&cfg, &opts.config, &ports, &control_tx)?;
    let (slots, counters) = counters_for(&cfg)?;
    let macs: Vec<[u8; 6]> = devices.infos.iter().map(|i| i.mac).collect();
    let state = State::new(cfg, loaded.tokens.clone());
    let (compiler, table) = first_table(&state, &macs, &slots)?;
    let rcu = Rcu::new(table, state.cfg.dataplane.workers);
    let stop = AtomicBool::new(false);
    let (api_tx, api_rx) = crossbeam::channel::unbounded::<api::Pending>();
    let _endpoints = serve_endpoints(&state.cfg, listener, api_tx)?;
    log::info!("control API on {}; DPDK telemetry in {}", socket_path.display(), dpdk.eal.runtime_dir());
    let floor_out = bench_floor_out(&state.cfg, &macs, opts.bench_floor)?;

    let started = Instant::now();
    let snoop = SnoopQueue::new(1024);
    let (store, folded) = Store::open(&opts.config, &loaded);
    let rt = Runtime { counters: &counters, ports: &ports, pools: pools.all(), port_macs: macs, cores: cores.clone(), started, control_tx, tx_rings };
    let mut controller = Controller::new(state, store, slots, rcu.writer(), compiler, rt);
    let setups = worker_setups(controller.config(), queues, &devices.by_reference, &pools, &snoop);
    let crew = Crew { eal: &dpdk.eal, rcu: &rcu, counters: &counters, stop: &stop, cores: &cores, register: register_workers, bench_floor: opts.bench_floor, floor_out };
    let inbox = Inbox { events: opts.signals.clone(), api: api_rx, folded };
    std::thread::scope(|scope| -> Result<()> {
        let handles = spawn_workers(scope, crew, setups)?;
        control_loop(&mut controller, &inbox, &snoop, &handles, &counters, opts.exit_on_idle);
        stop.store(true, Ordering::SeqCst);
        for h in handles {
            if h.join().is_err() {
                bail!("a worker panicked");
            }
        }
        Ok(())
    })?;

    let elapsed = started.elapsed();
    let port_stats: Vec<_> = ports.iter().map(Port::stats).collect();
    let done = controller.finish();
    // Closed before the mempools are counted: a port's rings hold mbufs until then.
    for p in ports {
        p.close();
    }
    let code = report_at_exit(&done, &port_stats, &pools, &counters, &cores, elapsed, opts.stats_json.as_deref())?;
    // The pools before dpdk-pdump and the EAL, whose memory they are.
    drop(pools);
    drop(pdump);
    drop(dpdk);
    Ok(code)
}

/// Reads the configuration and its journal (see [`store::load`]), saying what start-up takes
/// beyond the file as traffic-mirror last wrote it: changes replayed, a hand edit.
fn load(path: &Path) -> Result<store::Loaded> {
    let loaded = store::load(path).map_err(|e| anyhow::anyhow!("{e}"))?;
    if loaded.replayed > 0 {
        log::info!("{} changes made through the API that {} does not hold yet are replayed from its journal", loaded.replayed, path.display());
    }
    if loaded.hand_edited {
        log::warn!("{} was edited by hand since traffic-mirror last wrote it: its edit is taken", path.display());
    }
    Ok(loaded)
}

/// DPDK's environment, and its runtime folder when that is ours to remove. The fields drop in
/// order: the EAL stops before its folder goes.
struct Dpdk {
    eal: Eal,
    _runtime: Option<RemoveOnDrop>,
}

/// Starts the EAL with the arguments the configuration makes (logged), its main lcore on the
/// control thread's core.
fn start_dpdk(cfg: &Config, extra: &[String], control_core: usize) -> Result<Dpdk> {
    let eal_args = eal_args::eal_args(cfg, extra, control_core);
    log::info!("{}; EAL arguments: {}", Eal::version(), eal_args.join(" "));
    let eal = Eal::init(&eal_args).context("starting DPDK (check eal_args in [dataplane] and the port devices)")?;
    // No other process uses the prefix chosen here, so its runtime folder is not left to pile
    // up in /var/run/dpdk run after run. A prefix the user gave is theirs to keep.
    let runtime = eal_args.contains(&eal_args::own_file_prefix()).then(|| RemoveOnDrop(eal.runtime_dir().into()));
    Ok(Dpdk { eal, _runtime: runtime })
}

/// What each port's device offers, and the plan made of it (see [`plan`]), by port index.
struct Devices {
    infos: Vec<PortInfo>,
    setups: Vec<PortSetup>,
    /// Whether long copies leave the port by reference.
    by_reference: Vec<bool>,
}

impl Devices {
    /// Finds the ports' devices (the EAL has probed them by now) and plans their queues.
    fn of(cfg: &Config) -> Result<Devices> {
        let infos: Vec<PortInfo> = cfg
            .ports
            .iter()
            .map(|p| {
                let id = port::lookup(&dpdk_name(&p.device)).with_context(|| format!("port {:?} ({})", p.name, p.device))?;
                port::info(id).with_context(|| format!("port {:?}", p.name))
            })
            .collect::<Result<_>>()?;
        let setups = plan::port_setups(cfg, &infos)?;
        let by_reference = plan::copies_by_reference(cfg, &infos)?;
        Ok(Devices { infos, setups, by_reference })
    }
}

/// The mbuf pools: received frames, copies apart (so slow collectors never starve the
/// originals), and the segments of copies sent by reference.
struct Pools {
    rx: Mempool,
    copy: Mempool,
    reference: Mempool,
}

impl Pools {
    /// Creates the pools as [`plan::pool_sizes`] sizes them, on the first port's NUMA socket.
    fn create(cfg: &Config, devices: &Devices) -> Result<Pools> {
        let (rx_pool_size, copy_pool_size, ref_pool_size) = plan::pool_sizes(cfg, &devices.setups);
        let socket = devices.infos.first().map_or(-1, |i| i.socket);
        let rx = Mempool::new("tm_rx", rx_pool_size, plan::pool_cache(rx_pool_size), DATA_ROOM, socket).context("creating the RX mempool (raise -m in eal_args?)")?;
        let copy = Mempool::new("tm_copy", copy_pool_size, plan::pool_cache(copy_pool_size), DATA_ROOM, socket).context("creating the copy mempool (raise -m in eal_args?)")?;
        // Segments of copies sent by reference: attached to an original's buffer, no room of their own.
        let reference = Mempool::new("tm_ref", ref_pool_size, plan::pool_cache(ref_pool_size), 0, socket).context("creating the reference mempool (raise -m in eal_args?)")?;
        Ok(Pools { rx, copy, reference })
    }

    /// All three, in the order the controller and the exit report count them.
    fn all(&self) -> [&Mempool; 3] {
        [&self.rx, &self.copy, &self.reference]
    }
}

/// Each worker's queues: the RX queues it polls (with their port index) and its TX queue on
/// each port, by worker.
struct WorkerQueues {
    rx: Vec<Vec<(u16, RxQueue)>>,
    tx: Vec<Vec<Option<TxQueue>>>,
}

/// The ports started, and their queues dealt out.
struct Started {
    ports: Vec<Port>,
    queues: WorkerQueues,
    /// The control thread's own TX queue on each port that has one to spare (ARP).
    control_tx: Vec<Option<TxQueue>>,
}

/// Starts every port with its planned queues and says what each is; deals the RX queues to the
/// workers round-robin, a TX queue on each port to every worker, and the one beyond to the
/// control thread.
fn start_ports(cfg: &Config, devices: &Devices, rx_pool: &Mempool) -> Result<Started> {
    let workers = cfg.dataplane.workers;
    let mut ports = Vec::new();
    let mut rx_queues: Vec<Vec<(u16, RxQueue)>> = (0..workers).map(|_| Vec::new()).collect();
    let mut tx_queues: Vec<Vec<Option<TxQueue>>> = (0..workers).map(|_| Vec::new()).collect();
    let mut control_tx: Vec<Option<TxQueue>> = Vec::new();
    let Devices { infos, setups, by_reference } = devices;
    for (i, (p, info)) in cfg.ports.iter().zip(infos).enumerate() {
        let (handle, rxq, txq) = Port::start(info.id, &setups[i], rx_pool).with_context(|| format!("starting port {:?}", p.name))?;
        log::info!(
            "port {:?}: {} ({}, DPDK port {}), mac {}, {} rx / {} tx queues, {}",
            p.name,
            p.device,
            info.driver,
            info.id,
            Mac(info.mac),
            setups[i].rx_queues,
            setups[i].tx_queues,
            if by_reference[i] { "long copies sent by reference" } else { "copies copied whole" }
        );
        ports.push(handle);
        for (q, queue) in rxq.into_iter().enumerate() {
            rx_queues[q % workers].push((i as u16, queue));
        }
        let mut txq = txq.into_iter();
        for queues in tx_queues.iter_mut() {
            queues.push(txq.next());
        }
        // A queue beyond the workers' is the control thread's (ARP on mirror ports).
        control_tx.push(txq.next());
    }
    Ok(Started { ports, queues: WorkerQueues { rx: rx_queues, tx: tx_queues }, control_tx })
}

/// Refuses targets the started ports cannot serve: next hops to find by ARP on a port without a
/// queue for the control thread, copies that would crowd out a link's originals (placed in the
/// file `config`). Returns what each port's TX ring says of itself, for later changes' checks.
fn targets_fit(cfg: &Config, config: &Path, ports: &[Port], control_tx: &[Option<TxQueue>]) -> Result<Vec<plan::TxRing>> {
    crate::controller::arp_capable(cfg, cfg.targets.iter(), control_tx).map_err(anyhow::Error::msg)?;
    let tx_rings: Vec<plan::TxRing> = ports.iter().map(|p| plan::TxRing { visible: p.reports_tx_ring(), descriptors: p.tx_descriptors() }).collect();
    if let Err(p) = plan::copies_leave_room(cfg, &tx_rings) {
        bail!("{}", crate::config::placed_in(config, &p, crate::config::START_PATIENCE));
    }
    Ok(tx_rings)
}

/// Counter slots for as many sessions, targets and collectors as the quotas allow, and each
/// worker's counters with room for them all.
fn counters_for(cfg: &Config) -> Result<(Slots, Vec<WorkerCounters>)> {
    let collectors = cfg.targets.iter().filter_map(|t| cfg.target_destination(t)).map(|d| d.collectors.len()).sum();
    let mut slots = Slots::for_quota(cfg.quotas.sessions.max(cfg.sessions.len())).with_targets(cfg.quotas.targets.max(cfg.targets.len()), collectors);
    let (target_slots, collector_slots) = slots.target_capacity();
    let counters: Vec<WorkerCounters> = (0..cfg.dataplane.workers).map(|_| WorkerCounters::new(cfg.ports.len(), slots.capacity()).with_targets(target_slots, collector_slots)).collect();
    slots.assign_all(cfg, &counters).map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok((slots, counters))
}

/// Compiles the first table (generation 1), and says what it holds.
fn first_table(state: &State, macs: &[[u8; 6]], slots: &Slots) -> Result<(Compiler, Table)> {
    // Next hops found by ARP start unresolved; the control thread resolves them.
    let mut compiler = Compiler::default();
    let compiling = Instant::now();
    let env = crate::compile::Env { port_macs: macs, slots, resolved: &|_| None };
    let table = compiler.compile_all(&state.cfg, state.refs(), &env, 1).map_err(|e| anyhow::anyhow!("{e}"))?;
    log::debug!("compiled {} sources in {:?}", compiler.work.sources_built, compiling.elapsed());
    log_table(&state.cfg, &table, compiler.mirroring());
    Ok((compiler, table))
}

/// The endpoints that live as long as the process: dropping one stops it.
struct Endpoints {
    _query: Option<QueryServer>,
    _metrics: Option<HttpServer>,
}

/// Serves the metrics endpoint, DPDK telemetry, the EC2 API and the control socket, each
/// handing its requests to the control thread through `to_control`.
fn serve_endpoints(cfg: &Config, listener: UnixListener, to_control: Sender<api::Pending>) -> Result<Endpoints> {
    let metrics = cfg.metrics.as_ref().map(|m| crate::metrics::serve(m.listen, to_control.clone())).transpose()?;
    crate::metrics::register_telemetry(to_control.clone())?;
    let query = match &cfg.api {
        Some(api) => {
            let to_control = to_control.clone();
            let dispatch = move |action: &str, input: serde_json::Value| api::call_action(&to_control, action, input, api::socket::PATIENCE);
            let server = crate::query::serve(api, std::sync::Arc::new(dispatch))?;
            log::info!("EC2 API on {}://{}", if api.tls_cert.is_some() { "https" } else { "http" }, server.local_addr());
            Some(server)
        }
        None => None,
    };
    api::socket::serve(listener, to_control)?;
    Ok(Endpoints { _query: query, _metrics: metrics })
}

/// Where the benchmark's copy floor sends (see [`floor_out`]), refused when no port can send
/// its copies.
fn bench_floor_out(cfg: &Config, macs: &[[u8; 6]], bench_floor: Option<Floor>) -> Result<Option<FloorOut>> {
    let out = match bench_floor {
        Some(f) => {
            log::warn!("benchmark floor {f}: the workers forward without mirroring");
            floor_out(cfg, macs)
        }
        None => None,
    };
    if matches!(bench_floor, Some(Floor::Copy { .. })) && out.is_none() {
        bail!("--bench-floor copy needs a port with an ipv4 to send its copies from");
    }
    Ok(out)
}

/// Each worker's setup: its queues, the pools, and the running configuration's settings.
fn worker_setups<'a>(cfg: &Config, queues: WorkerQueues, chains: &[bool], pools: &'a Pools, snoop: &'a SnoopQueue) -> Vec<WorkerSetup<'a>> {
    let peers = cfg.peers();
    let tx_reserve = plan::tx_reserve(cfg);
    let d = &cfg.dataplane;
    queues
        .rx
        .into_iter()
        .zip(queues.tx)
        .enumerate()
        .map(|(w, (rx, tx))| WorkerSetup {
            id: w,
            rx,
            tx,
            peers: peers.clone(),
            tx_reserve: tx_reserve.clone(),
            copy_pool: &pools.copy,
            ref_pool: &pools.reference,
            chains: chains.to_vec(),
            burst_size: d.burst_size,
            tx_retries: d.tx_retries,
            idle_sleep: Duration::from_micros(d.idle_sleep_us),
            snoop,
            addresses: cfg.ports.iter().map(|p| Addresses::new(p.ipv4, p.ipv6)).collect(),
        })
        .collect()
}

/// What the worker threads share, borrowed from [`run`] for as long as they run.
#[derive(Clone, Copy)]
struct Crew<'a> {
    eal: &'a Eal,
    rcu: &'a Rcu<Table>,
    counters: &'a [WorkerCounters],
    stop: &'a AtomicBool,
    cores: &'a [usize],
    /// Whether the workers register with the EAL (not while dpdk-pdump may attach).
    register: bool,
    bench_floor: Option<Floor>,
    floor_out: Option<FloorOut>,
}

/// Starts a thread per worker, pinned to its core, running the product's loop or the
/// benchmark's floor. A thread that cannot start stops those that did.
fn spawn_workers<'s, 'a: 's>(scope: &'s Scope<'s, '_>, crew: Crew<'a>, setups: Vec<WorkerSetup<'a>>) -> Result<Vec<ScopedJoinHandle<'s, ()>>> {
    let mut handles = Vec::new();
    for (w, setup) in setups.into_iter().enumerate() {
        let (counters, core) = (&crew.counters[w], crew.cores[w]);
        let handle = std::thread::Builder::new().name(format!("tm-worker-{w}")).spawn_scoped(scope, move || {
            if !core_affinity::set_for_current(core_affinity::CoreId { id: core }) {
                log::warn!("worker {w}: cannot pin to core {core}");
            }
            let _registration = crew.register.then(|| crew.eal.register_thread().map_err(|e| log::warn!("worker {w}: {e}")).ok()).flatten();
            log::info!("worker {w} on core {core}");
            match crew.bench_floor {
                None => worker::run(setup, crew.rcu.reader(w), counters, crew.stop),
                Some(f) => floor::run(setup, f, crew.floor_out, crew.rcu.reader(w), counters, crew.stop),
            }
        });
        match handle {
            Ok(h) => handles.push(h),
            Err(e) => {
                crew.stop.store(true, Ordering::SeqCst);
                bail!("cannot start worker {w}: {e}");
            }
        }
    }
    Ok(handles)
}

/// What the control thread waits on: signals, API requests, and the fold thread's news.
struct Inbox {
    events: Receiver<Event>,
    api: Receiver<api::Pending>,
    folded: Receiver<store::Folded>,
}

/// The control thread's loop: serves what arrives in `inbox` and ticks the controller, until a
/// stop signal, a worker that ended, or (with `exit_on_idle`) ports quiet that long.
fn control_loop(controller: &mut Controller, inbox: &Inbox, snoop: &SnoopQueue, workers: &[ScopedJoinHandle<()>], counters: &[WorkerCounters], exit_on_idle: Option<Duration>) {
    let mut idle = IdleWatch::new(workers.len());
    loop {
        crossbeam::select! {
            recv(inbox.events) -> ev => match ev {
                Ok(Event::Stop(why)) => {
                    log::info!("{why}: stopping");
                    break;
                }
                // The controller logs how it ends: nobody else waits for it.
                Ok(Event::Reload) => controller.reload(Box::new(|_| {})),
                Err(_) => {}
            },
            recv(inbox.api) -> job => if let Ok(job) = job {
                job(controller);
            },
            recv(inbox.folded) -> f => if let Ok(f) = f {
                controller.folded(f);
            },
            default(Duration::from_millis(20)) => {}
        }
        controller.tick(snoop);
        if workers.iter().any(|h| h.is_finished()) {
            log::error!("a worker ended unexpectedly: stopping");
            break;
        }
        if let Some(after) = exit_on_idle {
            if idle.quiet_for(counters) >= after {
                log::info!("no frame received for {} ms: stopping", after.as_millis());
                break;
            }
        }
    }
}

/// Prints the exit report (and writes it as JSON to `stats_json`); the ports are closed by
/// now. Returns the exit code: 3 when mbufs did not come back to their pools, else 0.
fn report_at_exit(done: &Finished, port_stats: &[PortStats], pools: &Pools, counters: &[WorkerCounters], cores: &[usize], elapsed: Duration, stats_json: Option<&Path>) -> Result<i32> {
    let pools = pools.all();
    // Once the ports are closed their capture files are whole: walked to the end, unless
    // their file system does not answer.
    let unwritten = crate::capture::unwritten_at_exit(&done.cfg, port_stats, &done.unwritten, Duration::from_secs(10));
    let report = Report::collect(&Inputs {
        cfg: &done.cfg,
        slots: &done.slots,
        counters,
        port_stats,
        unwritten: &unwritten,
        cores,
        pools: &pools,
        elapsed,
        table: done.generation,
        neighbours: &done.neighbours,
        arp: done.arp,
        nd: done.nd,
        recent_busy: None,
        health: &done.health,
        control: done.control,
        rule_hits: &done.rule_hits,
    });
    print!("{}", report.text());
    if let Some(path) = stats_json {
        let json = serde_json::to_string_pretty(&report)?;
        std::fs::write(path, json + "\n").with_context(|| format!("writing {}", path.display()))?;
    }
    let leaked: u32 = pools.iter().map(|p| p.in_use()).sum();
    if leaked > 0 {
        log::error!("{leaked} mbufs were not returned to their mempools");
        return Ok(3);
    }
    Ok(0)
}

/// Serves dpdk-pdump when `[dataplane] pdump` asks for it, or says once why it cannot attach.
fn serve_pdump<'e>(cfg: &Config, eal: &'e Eal) -> Result<Option<Pdump<'e>>> {
    // dpdk-pdump is a secondary process: it maps this process's memory, which only hugepages share.
    let huge = eal.has_hugepages();
    if !cfg.dataplane.pdump {
        let why = if huge { "" } else { "hugepages (the EAL runs with --no-huge) and " };
        log::info!("capturing with dpdk-pdump needs {why}[dataplane] pdump = true");
        return Ok(None);
    }
    if !huge {
        bail!("[dataplane] pdump = true: dpdk-pdump needs hugepages, and the EAL runs with --no-huge");
    }
    let pdump = Pdump::serve(eal).context("[dataplane] pdump = true: serving dpdk-pdump (does the EAL share its memory? not with --in-memory)")?;
    let runtime = eal.runtime_dir();
    let prefix = Path::new(&runtime).file_name().map_or_else(|| runtime.clone(), |p| p.to_string_lossy().into_owned());
    log::info!("dpdk-pdump can capture any port: dpdk-pdump --file-prefix {prefix} -- --pdump 'port=ID,queue=*,rx-dev=FILE,tx-dev=FILE'");
    Ok(Some(pdump))
}

/// Where a benchmark copy floor sends: the first port with an address (a mirror port), to a
/// documentation address (RFC 5737) by VNI 1, as a session's copies would go.
fn floor_out(cfg: &Config, macs: &[[u8; 6]]) -> Option<FloorOut> {
    let (i, p) = cfg.ports.iter().enumerate().find(|(_, p)| p.ipv4.is_some())?;
    let ip = OuterIp::V4 { src: p.ipv4?, dst: std::net::Ipv4Addr::new(192, 0, 2, 10) };
    let outer = Outer { src_mac: macs[i], dst_mac: [2, 0, 0, 0, 0, 0x0a], vlan: None, ip, ttl: DEFAULT_TTL, dont_fragment: false, dst_port: 4789, vni: 1 };
    Some(FloorOut { port: i as u16, template: Template::new(&outer) })
}

/// Checks what DPDK would otherwise report cryptically: missing capture files, missing output
/// folders (created), PCI devices with `--no-pci`.
fn preflight(cfg: &Config) -> Result<()> {
    let no_pci = cfg.dataplane.eal_args.iter().any(|a| a == "--no-pci");
    for p in &cfg.ports {
        if is_pci(&p.device) {
            if no_pci {
                bail!("port {:?} is the PCI device {} but [dataplane] eal_args has --no-pci", p.name, p.device);
            }
            continue;
        }
        for (key, value) in devargs(&p.device) {
            match key {
                "rx_pcap" if !Path::new(value).is_file() => bail!("port {:?}: rx_pcap file {value:?} does not exist", p.name),
                "tx_pcap" => {
                    if let Some(dir) = Path::new(value).parent().filter(|d| !d.as_os_str().is_empty()) {
                        std::fs::create_dir_all(dir).with_context(|| format!("port {:?}: creating {}", p.name, dir.display()))?;
                    }
                }
                _ => {}
            }
        }
    }
    Ok(())
}

/// How long the ports have been quiet, counting only time in which every worker kept polling:
/// a worker starved of CPU has not seen its ports empty.
struct IdleWatch {
    last_rx: u64,
    polls_then: Vec<u64>,
    since: Instant,
}

impl IdleWatch {
    fn new(workers: usize) -> Self {
        IdleWatch { last_rx: 0, polls_then: vec![0; workers], since: Instant::now() }
    }

    fn quiet_for(&mut self, counters: &[WorkerCounters]) -> Duration {
        let rx: u64 = counters.iter().flat_map(|c| c.ports.iter()).map(|p| p.rx_packets.get()).sum();
        let polls: Vec<u64> = counters.iter().map(|c| c.polls.get()).collect();
        if rx != self.last_rx {
            self.last_rx = rx;
            self.since = Instant::now();
            self.polls_then = polls;
            return Duration::ZERO;
        }
        // Every worker polled (and found nothing) at least twice since the last frame.
        if polls.iter().zip(&self.polls_then).all(|(now, then)| *now >= then + 2) {
            self.since.elapsed()
        } else {
            Duration::ZERO
        }
    }
}

/// A file (the control socket) or folder (DPDK's runtime folder) removed when dropped.
struct RemoveOnDrop(PathBuf);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        let _ = if self.0.is_dir() { std::fs::remove_dir_all(&self.0) } else { std::fs::remove_file(&self.0) };
    }
}

fn log_table(cfg: &Config, table: &dataplane::table::Table, mirroring: usize) {
    let enabled = cfg.sessions.iter().filter(|s| s.enabled).count();
    log::info!(
        "table {}: {} network interfaces, {} targets, {} filters, {} sessions ({} enabled, {} mirroring)",
        table.generation,
        cfg.network_interfaces.len(),
        cfg.targets.len(),
        cfg.filters.len(),
        cfg.sessions.len(),
        enabled,
        mirroring
    );
}
