//! `traffic-mirror run`: start DPDK, set the ports up, publish the compiled table, run the
//! workers, and on the way out report what happened.

use crate::api;
use crate::compile::{compile, Slots};
use crate::config::{device_name, is_pci, Config};
use crate::controller::{Controller, Runtime};
use crate::report::Report;
use anyhow::{bail, Context, Result};
use dataplane::dpdk::eal::Eal;
use dataplane::dpdk::burst::MAX_BURST;
use dataplane::dpdk::mempool::{Mempool, DATA_ROOM};
use dataplane::dpdk::port::{self, Port, PortInfo, PortSetup};
use dataplane::dpdk::queue::{RxQueue, TxQueue};
use dataplane::rcu::Rcu;
use dataplane::stats::WorkerCounters;
use dataplane::snoop::SnoopQueue;
use dataplane::worker::{self, WorkerSetup};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What `run` was asked to do.
pub struct RunOptions {
    pub config: PathBuf,
    pub exit_on_idle: Option<Duration>,
    pub stats_json: Option<PathBuf>,
    pub eal_extra: Vec<String>,
}

/// Per-lcore mempool cache size (DPDK's usual figure).
const POOL_CACHE: u32 = 256;

/// Runs until Ctrl-C, SIGTERM, or (with `exit_on_idle`) quiet ports. Returns the process exit
/// code: 0, or 3 when mbufs leaked.
pub fn run(opts: RunOptions) -> Result<i32> {
    let cfg = Config::load(&opts.config).map_err(|e| anyhow::anyhow!("{e}"))?;
    preflight(&cfg)?;
    // Before DPDK starts: a second instance on the same socket fails here, cleanly.
    let socket_path = std::path::PathBuf::from(&cfg.control.socket);
    let listener = api::bind(&socket_path, cfg.control.mode())?;
    let _socket_cleanup = RemoveOnDrop(socket_path.clone());
    // Before the EAL starts: it narrows the process's CPU affinity to the main lcore.
    let cores = worker_cores(&cfg);
    let eal_args = eal_args(&cfg, &opts.eal_extra);
    log::info!("{}; EAL arguments: {}", Eal::version(), eal_args.join(" "));
    // Declared before the EAL so that it drops after it.
    let mut _runtime_cleanup = None;
    let eal = Eal::init(&eal_args).context("starting DPDK (check eal_args in [dataplane] and the port devices)")?;
    if eal_args.contains(&own_file_prefix()) {
        // No other process uses the prefix chosen here, so its runtime folder is not left to
        // pile up in /var/run/dpdk run after run. A prefix the user gave is theirs to keep.
        _runtime_cleanup = Some(RemoveOnDrop(eal.runtime_dir().into()));
    }

    let workers = cfg.dataplane.workers;
    let infos: Vec<PortInfo> = cfg
        .ports
        .iter()
        .map(|p| {
            let id = port::lookup(&dpdk_name(&p.device)).with_context(|| format!("port {:?} ({})", p.name, p.device))?;
            port::info(id).with_context(|| format!("port {:?}", p.name))
        })
        .collect::<Result<_>>()?;
    let setups = port_setups(&cfg, &infos)?;
    let (rx_pool_size, copy_pool_size) = pool_sizes(&cfg, &setups);
    let socket = infos.first().map_or(-1, |i| i.socket);
    // DPDK refuses a per-lcore cache above 2/3 of the pool; small pools get a small one.
    let cache = |size: u32| POOL_CACHE.min(size / 4);
    let rx_pool = Mempool::new("tm_rx", rx_pool_size, cache(rx_pool_size), DATA_ROOM, socket)
        .context("creating the RX mempool (raise -m in eal_args?)")?;
    let copy_pool = Mempool::new("tm_copy", copy_pool_size, cache(copy_pool_size), DATA_ROOM, socket)
        .context("creating the copy mempool (raise -m in eal_args?)")?;

    let mut ports = Vec::new();
    let mut rx_queues: Vec<Vec<(u16, RxQueue)>> = (0..workers).map(|_| Vec::new()).collect();
    let mut tx_queues: Vec<Vec<Option<TxQueue>>> = (0..workers).map(|_| Vec::new()).collect();
    let mut control_tx: Vec<Option<TxQueue>> = Vec::new();
    for (i, (p, info)) in cfg.ports.iter().zip(&infos).enumerate() {
        let (handle, rxq, txq) = Port::start(info.id, &setups[i], &rx_pool).with_context(|| format!("starting port {:?}", p.name))?;
        log::info!(
            "port {:?}: {} ({}), mac {}, {} rx / {} tx queues",
            p.name, p.device, info.driver, crate::config::Mac(info.mac), setups[i].rx_queues, setups[i].tx_queues
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
    crate::controller::arp_capable(&cfg, &control_tx).map_err(anyhow::Error::msg)?;

    let mut slots = Slots::new(cfg.quotas.sessions.max(cfg.sessions.len()));
    let counters: Vec<WorkerCounters> = (0..workers).map(|_| WorkerCounters::new(cfg.ports.len(), slots.capacity())).collect();
    slots.assign(&cfg, &counters).map_err(|e| anyhow::anyhow!("{e}"))?;
    slots.published();
    let macs: Vec<[u8; 6]> = infos.iter().map(|i| i.mac).collect();
    // Next hops named by address start unresolved; the control thread resolves them.
    let table = compile(&cfg, &macs, &slots, 1, |_| None).map_err(|e| anyhow::anyhow!("{e}"))?;
    log_table(&cfg, &table);
    let rcu = Rcu::new(table, workers);
    let stop = AtomicBool::new(false);
    let events = signals()?;
    let (api_tx, api_rx) = crossbeam::channel::unbounded::<api::Pending>();
    if let Some(m) = &cfg.metrics {
        crate::metrics::serve(m.listen, api_tx.clone())?;
    }
    crate::metrics::register_telemetry(api_tx.clone())?;
    api::serve(listener, api_tx);
    log::info!("control API on {}; DPDK telemetry in {}", socket_path.display(), eal.runtime_dir());
    let peers = cfg.peers();

    let started = Instant::now();
    let snoop = SnoopQueue::new(1024);
    let rt = Runtime { counters: &counters, ports: &ports, pools: [&rx_pool, &copy_pool], port_macs: macs, cores: cores.clone(), started, control_tx };
    let mut controller = Controller::new(cfg, opts.config.clone(), slots, rcu.writer(), rt);
    std::thread::scope(|scope| -> Result<()> {
        let mut handles = Vec::new();
        for (w, (rx, tx)) in rx_queues.into_iter().zip(tx_queues).enumerate() {
            let setup = WorkerSetup {
                id: w,
                rx,
                tx,
                peers: peers.clone(),
                copy_pool: &copy_pool,
                burst_size: controller.config().dataplane.burst_size,
                tx_retries: controller.config().dataplane.tx_retries,
                idle_sleep: Duration::from_micros(controller.config().dataplane.idle_sleep_us),
                snoop: &snoop,
            };
            let (eal, rcu, counters, stop, core) = (&eal, &rcu, &counters[w], &stop, cores[w]);
            let handle = std::thread::Builder::new().name(format!("tm-worker-{w}")).spawn_scoped(scope, move || {
                if !core_affinity::set_for_current(core_affinity::CoreId { id: core }) {
                    log::warn!("worker {w}: cannot pin to core {core}");
                }
                let _registration = eal.register_thread().map_err(|e| log::warn!("worker {w}: {e}")).ok();
                log::info!("worker {w} on core {core}");
                worker::run(setup, rcu.reader(w), counters, stop);
            });
            match handle {
                Ok(h) => handles.push(h),
                Err(e) => {
                    stop.store(true, Ordering::SeqCst);
                    bail!("cannot start worker {w}: {e}");
                }
            }
        }

        let mut idle = IdleWatch::new(workers);
        loop {
            crossbeam::select! {
                recv(events) -> ev => match ev {
                    Ok(Event::Stop(why)) => {
                        log::info!("{why}: stopping");
                        break;
                    }
                    Ok(Event::Reload) => {
                        if let Err(e) = controller.reload() {
                            log::error!("reload refused, the running configuration stays: {e}");
                        }
                    }
                    Err(_) => {}
                },
                recv(api_rx) -> req => if let Ok((req, reply)) = req {
                    let _ = reply.send(controller.handle(req));
                },
                default(Duration::from_millis(20)) => {}
            }
            controller.arp_tick(&snoop);
            if handles.iter().any(|h| h.is_finished()) {
                log::error!("a worker ended unexpectedly: stopping");
                break;
            }
            if let Some(after) = opts.exit_on_idle {
                if idle.quiet_for(&counters) >= after {
                    log::info!("no frame received for {} ms: stopping", after.as_millis());
                    break;
                }
            }
        }
        stop.store(true, Ordering::SeqCst);
        for h in handles {
            if h.join().is_err() {
                bail!("a worker panicked");
            }
        }
        Ok(())
    })?;
    let elapsed = started.elapsed();
    let (cfg, slots, controller_figures) = controller.finish();

    let port_stats: Vec<_> = ports.iter().map(Port::stats).collect();
    for p in ports {
        p.close();
    }
    let pools = [&rx_pool, &copy_pool];
    let mut report = Report::collect(&cfg, &slots, &counters, &port_stats, &cores, &pools, elapsed);
    controller_figures(&mut report);
    print!("{}", report.text());
    if let Some(path) = &opts.stats_json {
        let json = serde_json::to_string_pretty(&report)?;
        std::fs::write(path, json + "\n").with_context(|| format!("writing {}", path.display()))?;
    }
    let leaked: u32 = pools.iter().map(|p| p.in_use()).sum();
    if leaked > 0 {
        log::error!("{leaked} mbufs were not returned to their mempools");
        return Ok(3);
    }
    drop(rx_pool);
    drop(copy_pool);
    drop(eal);
    Ok(0)
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
                "rx_pcap" if !Path::new(value).is_file() => {
                    bail!("port {:?}: rx_pcap file {value:?} does not exist", p.name)
                }
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

/// `key=value` arguments of a vdev string.
fn devargs(device: &str) -> impl Iterator<Item = (&str, &str)> {
    device.split(',').skip(1).filter_map(|kv| kv.split_once('=')).map(|(k, v)| (k.trim(), v.trim()))
}

/// The name DPDK registers the port under (PCI addresses in full domain form).
fn dpdk_name(device: &str) -> String {
    let name = device_name(device);
    if is_pci(device) && name.matches(':').count() == 1 {
        format!("0000:{name}")
    } else {
        name.to_owned()
    }
}

/// The EAL command line: the config's arguments, a device per port, a main lcore and a file
/// prefix unless given, then the command line's extra arguments.
pub fn eal_args(cfg: &Config, extra: &[String]) -> Vec<String> {
    let mut args = cfg.dataplane.eal_args.clone();
    for p in &cfg.ports {
        args.push(if is_pci(&p.device) { "-a" } else { "--vdev" }.into());
        args.push(p.device.clone());
    }
    let given = |names: &[&str]| {
        cfg.dataplane.eal_args.iter().chain(extra).any(|a| names.iter().any(|n| a == n || a.starts_with(&format!("{n}="))))
    };
    if !given(&["-l", "-c", "--lcores"]) {
        // The main lcore is the control thread; workers are registered threads of their own.
        args.extend(["-l".into(), control_core(cfg).to_string()]);
    }
    if !given(&["--file-prefix"]) {
        args.extend(["--file-prefix".into(), own_file_prefix()]);
    }
    args.extend(extra.iter().cloned());
    args
}

/// The DPDK file prefix used when none is given: this process's own.
fn own_file_prefix() -> String {
    format!("tm-{}", std::process::id())
}

/// Cores for the workers: configured, or the last `workers` cores.
fn worker_cores(cfg: &Config) -> Vec<usize> {
    if !cfg.dataplane.cores.is_empty() {
        return cfg.dataplane.cores.clone();
    }
    let n = std::thread::available_parallelism().map_or(1, |n| n.get());
    let w = cfg.dataplane.workers;
    (0..w).map(|i| if w < n { n - w + i } else { i % n }).collect()
}

/// The control thread's core: the first one no worker uses, else core 0.
fn control_core(cfg: &Config) -> usize {
    let n = std::thread::available_parallelism().map_or(1, |n| n.get());
    let used = worker_cores(cfg);
    (0..n).find(|c| !used.contains(c)).unwrap_or(0)
}

/// Queue counts per port: one TX queue per worker everywhere, one RX queue per worker where
/// the device has enough.
fn port_setups(cfg: &Config, infos: &[PortInfo]) -> Result<Vec<PortSetup>> {
    let workers = cfg.dataplane.workers;
    cfg.ports
        .iter()
        .zip(infos)
        .map(|(p, info)| {
            if usize::from(info.max_tx_queues) < workers {
                bail!(
                    "port {:?} ({}) has {} TX queue(s) but [dataplane] workers = {workers}: every worker needs its own{}",
                    p.name,
                    info.driver,
                    info.max_tx_queues,
                    if info.driver.contains("pcap") { " (give the device one tx_pcap= per worker)" } else { "" }
                );
            }
            // Ports in no link may need the control thread to send (ARP): one more TX queue
            // when the device has it.
            let linked = cfg.links.iter().any(|l| l.ports.contains(&p.name));
            let spare = !linked && usize::from(info.max_tx_queues) > workers;
            let tx_queues = workers as u16 + u16::from(spare);
            // As many RX queues as TX queues where the device has them (net_tap insists);
            // workers poll them all, dealt out round-robin.
            Ok(PortSetup {
                rx_queues: info.max_rx_queues.min(tx_queues),
                tx_queues,
                rx_desc: cfg.dataplane.rx_desc,
                tx_desc: cfg.dataplane.tx_desc,
                mtu: p.mtu,
            })
        })
        .collect()
}

/// Mbuf counts: every descriptor of every ring full at once, every worker's bursts and
/// caches, and slack. Copies get their own pool sized for the mirror ports' TX rings.
fn pool_sizes(cfg: &Config, setups: &[PortSetup]) -> (u32, u32) {
    let workers = cfg.dataplane.workers as u32;
    let rings: u32 = setups.iter().map(|s| u32::from(s.rx_queues) * u32::from(s.rx_desc) + u32::from(s.tx_queues) * u32::from(s.tx_desc)).sum();
    let per_worker = (MAX_BURST as u32) * 4 + POOL_CACHE * 3 / 2;
    let mirror_rings: u32 = cfg
        .targets
        .iter()
        .filter_map(|t| cfg.port_index(&t.port))
        .collect::<std::collections::BTreeSet<_>>()
        .iter()
        .map(|&i| u32::from(setups[i].tx_queues) * u32::from(setups[i].tx_desc))
        .sum();
    let round = |n: u32| (n + 1).next_power_of_two() - 1;
    let rx = if cfg.dataplane.mbufs > 0 { cfg.dataplane.mbufs } else { round(rings + workers * per_worker + 1024) };
    let copies = if cfg.dataplane.copy_mbufs > 0 {
        cfg.dataplane.copy_mbufs
    } else {
        round(mirror_rings + workers * (per_worker + (MAX_BURST as u32) * setups.len() as u32) + 1024)
    };
    (rx, copies)
}

/// What the signals ask the control loop to do.
enum Event {
    Stop(&'static str),
    Reload,
}

/// Ctrl-C, SIGTERM (stop) and SIGHUP (reload the configuration file), as messages on a channel
/// the control loop waits on.
fn signals() -> Result<crossbeam::channel::Receiver<Event>> {
    let (tx, rx) = crossbeam::channel::unbounded();
    let int = tx.clone();
    ctrlc::set_handler(move || {
        let _ = int.send(Event::Stop("interrupted"));
    })
    .context("installing the Ctrl-C handler")?;
    let term = Arc::new(AtomicBool::new(false));
    let hup = Arc::new(AtomicBool::new(false));
    signal_hook::flag::register(signal_hook::consts::SIGTERM, term.clone()).context("installing the SIGTERM handler")?;
    signal_hook::flag::register(signal_hook::consts::SIGHUP, hup.clone()).context("installing the SIGHUP handler")?;
    std::thread::Builder::new().name("tm-signals".into()).spawn(move || loop {
        if term.swap(false, Ordering::SeqCst) && tx.send(Event::Stop("SIGTERM")).is_err() {
            return;
        }
        if hup.swap(false, Ordering::SeqCst) && tx.send(Event::Reload).is_err() {
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    })?;
    Ok(rx)
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
struct RemoveOnDrop(std::path::PathBuf);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        let _ = if self.0.is_dir() { std::fs::remove_dir_all(&self.0) } else { std::fs::remove_file(&self.0) };
    }
}

fn log_table(cfg: &Config, table: &dataplane::table::Table) {
    let enabled = cfg.sessions.iter().filter(|s| s.enabled).count();
    log::info!(
        "table {}: {} sources, {} targets, {} filters, {} sessions ({} enabled, {} mirroring)",
        table.generation,
        cfg.sources.len(),
        cfg.targets.len(),
        cfg.filters.len(),
        cfg.sessions.len(),
        enabled,
        table.sessions.len()
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eal_args_add_devices_lcore_and_prefix_unless_given() {
        let mut cfg = Config::default();
        cfg.ports.push(crate::config::Port { name: "a".into(), device: "net_null0".into(), mac: None, ipv4: None, mtu: None });
        cfg.ports.push(crate::config::Port { name: "b".into(), device: "0000:00:05.0".into(), mac: None, ipv4: None, mtu: None });
        let args = eal_args(&cfg, &[]);
        assert!(args.windows(2).any(|w| w == ["--vdev", "net_null0"]));
        assert!(args.windows(2).any(|w| w == ["-a", "0000:00:05.0"]));
        assert!(args.iter().any(|a| a == "-l"));
        assert!(args.iter().any(|a| a == "--file-prefix"));
        let args = eal_args(&cfg, &["--file-prefix=x".into(), "-l".into(), "0".into()]);
        assert_eq!(args.iter().filter(|a| a.starts_with("--file-prefix")).count(), 1);
        assert_eq!(args.iter().filter(|a| *a == "-l").count(), 1);
    }

    #[test]
    fn devargs_and_names() {
        let d = "net_pcap0,rx_pcap=in.pcap, tx_pcap=out/o.pcap,infinite_rx=1";
        assert_eq!(devargs(d).collect::<Vec<_>>(), vec![("rx_pcap", "in.pcap"), ("tx_pcap", "out/o.pcap"), ("infinite_rx", "1")]);
        assert_eq!(dpdk_name("00:05.0"), "0000:00:05.0");
        assert_eq!(dpdk_name(d), "net_pcap0");
    }
}
