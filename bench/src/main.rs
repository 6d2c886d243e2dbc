//! Throughput benchmarks: traffic-mirror on net_pcap `infinite_rx` sources into net_null sinks,
//! against `dpdk-testpmd --forward-mode=io` and traffic-mirror without sessions measured in the
//! same run, on the same devices and cores. Rates are sampled through the control API over
//! steady windows (start-up and warm-up excluded). Against no sessions, each scenario is
//! measured in pairs of windows in one process, its sessions switched off for one of them.
//! Ratios to those baselines are what to compare: this kind of machine is noisy, absolute
//! figures move from run to run.

use clap::Parser;
use control::api::{Client, Request};
use e2e::traffic::{mixed, sized, Side};
use e2e::TARGET_TMT;
use serde::Serialize;
use serde_json::Value;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Run the throughput benchmarks and print the table.
#[derive(Parser)]
struct Args {
    /// Short windows and one repetition: the whole table in under a minute.
    #[arg(long)]
    quick: bool,
    /// Also write the results as JSON.
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
    /// Folder for captures, configs and logs.
    #[arg(long, default_value = "out/bench")]
    out: PathBuf,
    /// The traffic-mirror binary.
    #[arg(long, default_value = "target/release/traffic-mirror")]
    binary: PathBuf,
    /// Only the scenarios whose name contains this (given more than once: any of them).
    #[arg(long)]
    only: Vec<String>,
    /// Instead of the table, compare --binary with another traffic-mirror build (an older
    /// one, say): each scenario on 64-byte frames, both builds alternately for --rounds
    /// rounds, and the median of the paired ratios (--binary's rate over OTHER's). Tells a
    /// change apart from this kind of machine's noise, which single runs cannot.
    #[arg(long, value_name = "OTHER")]
    compare: Option<PathBuf>,
    /// Rounds of a --compare run.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..))]
    rounds: u32,
}

impl Args {
    /// Does --only let this scenario run?
    fn picks(&self, scenario: &str) -> bool {
        self.only.is_empty() || self.only.iter().any(|o| scenario.contains(o.as_str()))
    }
}

/// One measured row.
#[derive(Serialize, Clone)]
struct Row {
    scenario: String,
    traffic: String,
    mpps: f64,
    gbps: f64,
    /// Against testpmd io forwarding on the same traffic; for the reference mode, the median
    /// over runs paired with io ones.
    vs_testpmd: f64,
    /// Against traffic-mirror without sessions on the same traffic: the median over pairs of
    /// windows in one process, the scenario's sessions switched on and off.
    vs_no_sessions: f64,
    copies_per_s: f64,
    copy_drops: u64,
    /// Against another scenario in the same pairs of windows, where the scenario has one
    /// (see [`Against`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    paired_against: Option<Paired>,
}

/// What a scenario mirrors.
struct Scenario {
    name: &'static str,
    workers: usize,
    /// Its sessions' ids: switched off and on to measure against no sessions in one process.
    sessions: &'static [&'static str],
    /// TOML for sources, targets, filters, sessions (and quotas).
    mirroring: String,
    /// Another scenario measured inside this one's pairs: see [`Against`].
    against: Option<Against>,
}

/// A third window in each pair of a scenario's windows, with session s1 switched from
/// [`MAIN_FILTER`] to another filter: two filters compared a fraction of a second apart in one
/// process, as the scenarios are against no sessions. Only a direct pairing of this kind keeps
/// the 10,000-against-10-rules verdict steady on a noisy machine; the quotient of two scenarios'
/// ratios against no sessions carries the noise of both.
#[derive(Clone, Copy)]
struct Against {
    /// The scenario the other filter stands for (its row is measured on its own as well).
    scenario: &'static str,
    filter: &'static str,
}

/// The filter of session s1 in every scenario.
const MAIN_FILTER: &str = "f";


/// A filter with `extra` rules that never match the traffic, then `accept`.
fn filter(id: &str, extra: usize, accept: &str) -> String {
    let mut s = format!("\n[[filter]]\nid = \"{id}\"\n");
    let mut x: u64 = 0x1234_5678;
    for i in 0..extra {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let from = 1 + x % 60000;
        let _ = write!(
            s,
            "[[filter.egress_rule]]\nrule_number = {}\naction = \"{}\"\nprotocol = {}\ndestination_cidr = \"172.{}.{}.0/24\"\ndestination_port = {{ from = {from}, to = {} }}\n",
            i + 1,
            if i % 3 == 0 { "reject" } else { "accept" },
            if i % 2 == 0 { 6 } else { 17 },
            16 + (x >> 20) % 16,
            (x >> 8) % 256,
            (from + x % 200).min(65535)
        );
    }
    let _ = write!(s, "{}", accept.replace("{n}", &(extra + 1).to_string()).replace("{n2}", &(extra + 2).to_string()));
    s
}

/// Accept TCP and UDP whose source port is in the lowest tenth (1024-7475 of 1024-65535).
const TENTH: &str = "[[filter.egress_rule]]\nrule_number = {n}\naction = \"accept\"\nprotocol = 6\nsource_port = { from = 1024, to = 7475 }\n[[filter.egress_rule]]\nrule_number = {n2}\naction = \"accept\"\nprotocol = 17\nsource_port = { from = 1024, to = 7475 }\n";
/// Accept everything.
const ALL: &str = "[[filter.egress_rule]]\nrule_number = {n}\naction = \"accept\"\n";
/// Rules that look at ports and addresses but match nothing in the traffic.
const NOTHING: &str = "[[filter.egress_rule]]\nrule_number = {n}\naction = \"accept\"\nprotocol = 6\ndestination_port = { from = 9999, to = 9999 }\n[[filter.egress_rule]]\nrule_number = {n2}\naction = \"accept\"\nprotocol = 17\nsource_port = { from = 1, to = 1000 }\n";

fn session(id: &str, filter: &str, number: u32, packet_length: Option<u32>) -> String {
    let pl = packet_length.map(|l| format!("packet_length = {l}\n")).unwrap_or_default();
    format!("\n[[session]]\nid = \"{id}\"\nsource = \"src\"\ntarget = \"tmt\"\nfilter = \"{filter}\"\nsession_number = {number}\nvirtual_network_id = {number}\n{pl}")
}

fn one_session(f: String, packet_length: Option<u32>) -> String {
    format!("{TARGET_TMT}{f}{}", session("s1", MAIN_FILTER, 1, packet_length))
}

fn scenarios() -> Vec<Scenario> {
    let quota = "\n[quotas]\nrules_per_filter = 20000\n";
    vec![
        Scenario { name: "no sessions", workers: 1, sessions: &[], mirroring: String::new(), against: None },
        Scenario { name: "sessions, nothing accepted", workers: 1, sessions: &["s1"], mirroring: one_session(filter(MAIN_FILTER, 0, NOTHING), Some(128)), against: None },
        Scenario { name: "10% mirrored, 128 B", workers: 1, sessions: &["s1"], mirroring: one_session(filter(MAIN_FILTER, 0, TENTH), Some(128)), against: None },
        Scenario { name: "100% mirrored, 128 B", workers: 1, sessions: &["s1"], mirroring: one_session(filter(MAIN_FILTER, 0, ALL), Some(128)), against: None },
        Scenario { name: "100% mirrored, whole", workers: 1, sessions: &["s1"], mirroring: one_session(filter(MAIN_FILTER, 0, ALL), None), against: None },
        Scenario { name: "10 rules, 10% mirrored", workers: 1, sessions: &["s1"], mirroring: format!("{quota}{}", one_session(filter(MAIN_FILTER, 8, TENTH), Some(128))), against: None },
        // Right after 10 rules: a target pair, measured close together on a noisy machine.
        Scenario {
            name: "10,000 rules, 10% mirrored",
            workers: 1,
            sessions: &["s1"],
            // The 10-rule filter (the same as the scenario before) too, to be compared with directly.
            mirroring: format!("{quota}{}", one_session(filter(MAIN_FILTER, 9998, TENTH) + &filter("f10", 8, TENTH), Some(128))),
            against: Some(Against { scenario: "10 rules, 10% mirrored", filter: "f10" }),
        },
        Scenario { name: "1,000 rules, 10% mirrored", workers: 1, sessions: &["s1"], mirroring: format!("{quota}{}", one_session(filter(MAIN_FILTER, 998, TENTH), Some(128))), against: None },
        Scenario {
            name: "3 sessions, 10% mirrored",
            workers: 1,
            sessions: &["s1", "s2", "s3"],
            mirroring: format!(
                "{TARGET_TMT}{}{}{}{}{}{}",
                filter("f1", 0, NOTHING),
                filter("f2", 0, NOTHING),
                filter("f3", 0, TENTH),
                session("s1", "f1", 1, Some(128)),
                session("s2", "f2", 2, Some(128)),
                session("s3", "f3", 3, Some(128))
            ),
            against: None,
        },
        Scenario { name: "2 workers, 100% mirrored, 128 B", workers: 2, sessions: &["s1"], mirroring: one_session(filter(MAIN_FILTER, 0, ALL), Some(128)), against: None },
    ]
}

fn config(input: &Path, workers: usize, socket: &Path, mirroring: &str) -> String {
    let rx: String = (0..workers).map(|_| format!(",rx_pcap={}", input.display())).collect();
    format!(
        r#"
[dataplane]
workers = {workers}
eal_args = ["--no-huge", "-m", "1024", "--no-pci"]

[control]
socket = "{}"

[[port]]
name = "host"
device = "net_pcap0{rx},infinite_rx=1"

[[port]]
name = "uplink"
device = "net_null0,no-rx=1"

[[port]]
name = "mirror"
device = "net_null1,no-rx=1"
ipv4 = "192.0.2.1"

[[link]]
ports = ["host", "uplink"]

[[source]]
id = "src"
port = "host"
{mirroring}"#,
        socket.display()
    )
}

/// Counters from DescribeCounters: (host rx packets, host rx bytes, mirror tx packets, skips).
fn sample(c: &mut Client) -> (u64, u64, u64, u64, f64) {
    let r = c.call(&Request::DescribeCounters {}).expect("talking to traffic-mirror").expect("counters");
    let port = |n: &str| r["ports"].as_array().unwrap().iter().find(|p| p["name"] == n).cloned().unwrap_or(Value::Null);
    let skips: u64 = r["sessions"].as_array().unwrap().iter().map(|s| s["ingress"]["skip_packets"].as_u64().unwrap() + s["egress"]["skip_packets"].as_u64().unwrap()).sum();
    let (host, mirror) = (port("host"), port("mirror"));
    (
        host["rx_packets"].as_u64().unwrap(),
        host["rx_bytes"].as_u64().unwrap(),
        mirror["tx_packets"].as_u64().unwrap(),
        skips + mirror["copies_dropped"].as_u64().unwrap(),
        r["duration_s"].as_f64().unwrap(),
    )
}

/// DPDK's runtime folder of a file prefix, removed when dropped (a benchmark run makes one per
/// scenario). Declared before the process handle, so dropped after the process has ended.
struct RuntimeDir(String);

impl Drop for RuntimeDir {
    fn drop(&mut self) {
        e2e::remove_runtime_dir(&self.0);
    }
}

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        // SAFETY: signalling our own child.
        unsafe { libc::kill(self.0.id() as i32, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.0.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// How long to measure.
#[derive(Clone, Copy)]
struct Timing {
    /// After start-up, before the first window.
    warm: Duration,
    /// One sampling window.
    window: Duration,
    /// Pairs of windows per traffic-mirror run (sessions on, sessions off).
    pairs: usize,
}

/// What traffic-mirror did on one scenario.
struct Measured {
    /// Medians over the windows with the scenario's sessions on.
    mpps: f64,
    gbps: f64,
    copies_per_s: f64,
    /// Summed over those windows.
    copy_drops: u64,
    /// The median, over the pairs, of the rate with the sessions on over the rate with them off.
    vs_no_sessions: f64,
    /// The scenario's [`Against`], measured in the same pairs.
    vs_against: Option<Paired>,
}

/// One scenario's rate over another's, the median over pairs of windows in one process.
#[derive(Serialize, Clone)]
struct Paired {
    scenario: String,
    ratio: f64,
}

/// Switches the sessions of a running scenario on or off; returns once the workers use the
/// new table (the control API publishes it before it answers).
fn switch_sessions(c: &mut Client, ids: &[&str], on: bool) {
    for id in ids {
        modify_session(c, id, None, on);
    }
}

/// Sets a session's filter (when given) and whether it is enabled, as [`switch_sessions`] does.
fn modify_session(c: &mut Client, id: &str, filter: Option<&str>, on: bool) {
    let req = Request::ModifyTrafficMirrorSession {
        traffic_mirror_session_id: id.into(),
        traffic_mirror_target_id: None,
        traffic_mirror_filter_id: filter.map(Into::into),
        packet_length: None,
        session_number: None,
        virtual_network_id: None,
        description: None,
        enabled: Some(on),
        remove_fields: Vec::new(),
        dry_run: false,
    };
    if let Err(e) = c.call(&req).expect("talking to traffic-mirror") {
        panic!("switching session {id} {} (filter {filter:?}): {e:?}", if on { "on" } else { "off" });
    }
}

/// Runs traffic-mirror on one scenario. After the warm-up it measures pairs of windows, one
/// with the scenario's sessions on and one with them switched off through the control API,
/// which is traffic-mirror without sessions in the same process on the same devices; the
/// order flips every pair. A ratio taken within one pair does not see this kind of machine's
/// drift from one second to the next, which ratios between separate runs do.
fn measure_tm(a: &Args, binary: &Path, s: &Scenario, input: &Path, t: Timing) -> Measured {
    let (name, workers, mirroring) = (s.name, s.workers, &s.mirroring);
    let tag: String = name.chars().filter(|c| c.is_ascii_alphanumeric()).take(12).collect();
    let socket = a.out.join(format!("{tag}.sock"));
    let cfg = a.out.join(format!("{tag}.toml"));
    std::fs::write(&cfg, config(input, workers, &socket, mirroring)).unwrap();
    let log = std::fs::File::create(a.out.join(format!("{tag}.log"))).unwrap();
    let prefix = format!("tm-bench-{tag}-{}", std::process::id());
    let _runtime = RuntimeDir(prefix.clone());
    let child = Command::new(binary)
        .args(["run", "--config"])
        .arg(&cfg)
        .args(["--", "--file-prefix", &prefix, "--log-level=lib.eal:warning"])
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("starting traffic-mirror");
    let mut child = Killed(child);
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut c = loop {
        if let Ok(mut c) = Client::connect(&socket) {
            if matches!(c.call(&Request::DescribeSources {}), Ok(Ok(_))) {
                break c;
            }
        }
        if let Ok(Some(st)) = child.0.try_wait() {
            panic!("{name}: traffic-mirror exited ({st}); see {}", a.out.join(format!("{tag}.log")).display());
        }
        assert!(Instant::now() < deadline, "{name}: traffic-mirror did not start");
        std::thread::sleep(Duration::from_millis(50));
    };
    std::thread::sleep(t.warm);
    // (packets/s, bits/s, copies/s, copy drops) over one window.
    let window = |c: &mut Client| {
        let s1 = sample(c);
        std::thread::sleep(t.window);
        let s2 = sample(c);
        let dt = s2.4 - s1.4;
        ((s2.0 - s1.0) as f64 / dt, (s2.1 - s1.1) as f64 * 8.0 / dt, (s2.2 - s1.2) as f64 / dt, s2.3 - s1.3)
    };
    // s1 on the other filter of an `against`, then back on its own; sessions on after.
    let against = |c: &mut Client, x: Against| {
        modify_session(c, "s1", Some(x.filter), true);
        let w = window(c);
        modify_session(c, "s1", Some(MAIN_FILTER), true);
        w
    };
    let (mut on, mut ratios, mut other) = (Vec::new(), Vec::new(), Vec::new());
    for pair in 0..t.pairs {
        if s.sessions.is_empty() {
            on.push(window(&mut c));
            ratios.push(1.0);
            continue;
        }
        // The sessions are on at start-up and after every even pair: off first in even pairs,
        // so each pair needs one switch (and two more for `against`'s window, which comes
        // last in even pairs and first in odd ones, always next to the sessions-on window).
        let (with, without) = if pair % 2 == 0 {
            switch_sessions(&mut c, s.sessions, false);
            let without = window(&mut c);
            switch_sessions(&mut c, s.sessions, true);
            let with = window(&mut c);
            if let Some(x) = s.against {
                other.push(with.0 / against(&mut c, x).0);
            }
            (with, without)
        } else {
            let x = s.against.map(|x| against(&mut c, x));
            let with = window(&mut c);
            if let Some(x) = x {
                other.push(with.0 / x.0);
            }
            switch_sessions(&mut c, s.sessions, false);
            (with, window(&mut c))
        };
        on.push(with);
        ratios.push(with.0 / without.0);
    }
    let mid = median(on.clone(), |w| w.0);
    if !s.sessions.is_empty() {
        eprintln!("  {name}: against no sessions {} over {} pairs", range(&ratios), ratios.len());
    }
    if let Some(x) = s.against {
        eprintln!("  {name}: against {} {} over {} pairs", x.scenario, range(&other), other.len());
    }
    Measured {
        mpps: mid.0 / 1e6,
        gbps: mid.1 / 1e9,
        copies_per_s: median_of(on.iter().map(|w| w.2).collect()),
        copy_drops: on.iter().map(|w| w.3).sum(),
        vs_no_sessions: median_of(ratios),
        vs_against: s.against.map(|x| Paired { scenario: x.scenario.into(), ratio: median_of(other) }),
    }
}

/// testpmd's forwarding mode that reads and rewrites every frame's Ethernet, IP and TCP/UDP
/// headers (it swaps their addresses and ports): DPDK's own code for the least work that looks
/// at what a classifier looks at. Its rate against io shows what touching each frame's headers
/// costs on these devices, whoever's code does it.
const REFERENCE_MODE: &str = "5tswap";

/// Mpps and Gbit/s of dpdk-testpmd forwarding (`mode`: io, or [`REFERENCE_MODE`]) from the
/// capture into net_null, on one core.
///
/// testpmd prints port statistics once a second; its first print has no rate yet. The stats are
/// read as they come and testpmd is stopped once the warm-up and window seconds are sampled, so a
/// slow start on a loaded machine only delays the measurement rather than losing it.
fn measure_testpmd(input: &Path, mode: &str, warm: Duration, window: Duration) -> (f64, f64) {
    use std::io::BufRead as _;
    let prefix = format!("tm-bench-testpmd-{}", std::process::id());
    let _runtime = RuntimeDir(prefix.clone());
    let child = Command::new("dpdk-testpmd")
        .args(["--no-huge", "-m", "1024", "--no-pci", "-l", "0-1", "--log-level=lib.eal:warning"])
        .args(["--file-prefix", &prefix])
        .arg("--vdev")
        .arg(format!("net_pcap0,rx_pcap={},infinite_rx=1", input.display()))
        .args(["--vdev", "net_null0,no-rx=1", "--"])
        .arg(format!("--forward-mode={mode}"))
        .args(["--auto-start", "--stats-period=1", "--nb-cores=1", "--total-num-mbufs=16384"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("running dpdk-testpmd (scripts/setup.sh installs it)");
    let mut child = Killed(child);
    // The first non-zero rate already covers the second second of forwarding: the first one
    // was warm-up.
    let skip = (warm.as_secs_f64().ceil() as usize).saturating_sub(1);
    let want = skip + (window.as_secs_f64().ceil() as usize).max(1);
    // The reader ends when testpmd exits; Killed ends it after the deadline at the latest.
    let (tx, rx) = std::sync::mpsc::channel();
    let stdout = child.0.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let deadline = Instant::now() + Duration::from_secs(30) + (warm + window) * 2;
    let (mut text, mut samples) = (String::new(), Vec::<(f64, f64)>::new());
    while samples.len() < want {
        let Ok(line) = rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) else { break };
        text.push_str(&line);
        text.push('\n');
        // Port 1 (net_null, no-rx) always reads 0; port 0's first print does too.
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.first() == Some(&"Rx-pps:") {
            if let (Some(Ok(pps)), Some(Ok(bps))) = (f.get(1).map(|v| v.parse::<f64>()), f.get(3).map(|v| v.parse::<f64>())) {
                if pps > 0.0 {
                    samples.push((pps, bps));
                }
            }
        }
    }
    drop(child);
    assert!(samples.len() >= want, "testpmd printed {} of {want} rates in time:\n{text}", samples.len());
    let used = &samples[skip..];
    let n = used.len() as f64;
    (used.iter().map(|s| s.0).sum::<f64>() / n / 1e6, used.iter().map(|s| s.1).sum::<f64>() / n / 1e9)
}

/// Runs both, `x` first in even rounds and `y` first in odd ones, so that a drift in the
/// machine's speed weighs on both alike; returns their results as (x, y).
fn alternately<T>(round: u32, x: impl FnOnce() -> T, y: impl FnOnce() -> T) -> (T, T) {
    if round.is_multiple_of(2) {
        let x = x();
        (x, y())
    } else {
        let y = y();
        (x(), y)
    }
}

/// The result in the middle by `key` (the upper one of an even count).
fn median<T: Copy>(mut v: Vec<T>, key: impl Fn(&T) -> f64) -> T {
    v.sort_by(|a, b| key(a).total_cmp(&key(b)));
    v[v.len() / 2]
}

/// The median of some figures.
fn median_of(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 { v[n / 2] } else { (v[n / 2 - 1] + v[n / 2]) / 2.0 }
}

/// The lowest and the highest of some ratios, as "lo-hi".
fn range(v: &[f64]) -> String {
    let (lo, hi) = v.iter().fold((f64::INFINITY, 0.0f64), |(lo, hi), &r| (lo.min(r), hi.max(r)));
    format!("{lo:.3}-{hi:.3}")
}

fn main() {
    let a = Args::parse();
    std::fs::create_dir_all(&a.out).unwrap();
    // testpmd prints its rates once a second, so its windows are whole seconds.
    let (warm, window, reps) = if a.quick { (Duration::from_millis(300), Duration::from_millis(800), 1) } else { (Duration::from_secs(2), Duration::from_secs(4), 3) };
    let timing = if a.quick {
        Timing { warm, window: Duration::from_millis(150), pairs: 3 }
    } else {
        Timing { warm, window: Duration::from_millis(500), pairs: 8 }
    };

    // The captures: reproducible, single-segment frames (infinite_rx cannot chain mbufs).
    let traffic: Vec<(&str, Vec<Vec<u8>>)> = vec![
        ("64 B", sized(1, 4096, &[64], Side::Host).into_iter().map(|f| f.bytes).collect()),
        ("IMIX", sized(2, 4096, &[64, 64, 64, 64, 64, 64, 64, 594, 594, 594, 594, 1518], Side::Host).into_iter().map(|f| f.bytes).collect()),
        ("mix", mixed(3, 8192, Side::Host).into_iter().map(|f| f.bytes).filter(|b| b.len() <= 1518).collect()),
    ];
    let mut inputs = Vec::new();
    for (name, frames) in &traffic {
        let path = a.out.join(format!("{}.pcap", name.replace(' ', "").to_lowercase()));
        e2e::write_pcap(&path, frames.iter().map(Vec::as_slice));
        inputs.push((*name, path));
    }

    if let Some(other) = &a.compare {
        print!("{}", compare(&a, other, &inputs[0].1, Timing { warm, window, pairs: 1 }));
        return;
    }

    let mut rows: Vec<Row> = Vec::new();
    for (tname, input) in &inputs {
        let reference = *tname == "64 B";
        let (mut io, mut swapped, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
        for rep in 0..reps {
            let run = |mode| measure_testpmd(input, mode, warm, window);
            if !reference {
                io.push(run("io"));
                continue;
            }
            // On 64-byte frames, the reference mode too, alternately with io: paired, as the
            // scenarios are, with the order flipped every repetition.
            let (x, y) = alternately(rep, || run("io"), || run(REFERENCE_MODE));
            io.push(x);
            swapped.push(y);
            ratios.push(y.0 / x.0);
        }
        let testpmd = median(io, |r| r.0);
        rows.push(Row { scenario: "testpmd io (baseline)".into(), traffic: (*tname).into(), mpps: testpmd.0, gbps: testpmd.1, vs_testpmd: 1.0, vs_no_sessions: f64::NAN, copies_per_s: 0.0, copy_drops: 0, paired_against: None });
        eprintln!("{tname}: testpmd {:.2} Mpps", testpmd.0);
        if reference {
            let r = median(swapped, |r| r.0);
            let vs_io = median_of(ratios);
            rows.push(Row { scenario: format!("testpmd {REFERENCE_MODE} (reference)"), traffic: (*tname).into(), mpps: r.0, gbps: r.1, vs_testpmd: vs_io, vs_no_sessions: f64::NAN, copies_per_s: 0.0, copy_drops: 0, paired_against: None });
            eprintln!("{tname}: testpmd {REFERENCE_MODE} {:.2} Mpps, {vs_io:.3} of io", r.0);
        }
        for s in scenarios() {
            // Every scenario on 64-byte frames; the others get the main ones.
            let main = matches!(s.name, "no sessions" | "10% mirrored, 128 B" | "100% mirrored, 128 B" | "100% mirrored, whole");
            if *tname != "64 B" && !main {
                continue;
            }
            if !a.picks(s.name) && s.name != "no sessions" {
                continue;
            }
            let r = measure_tm(&a, &a.binary, &s, input, timing);
            eprintln!("{tname}: {} {:.2} Mpps, {:.3} of no sessions", s.name, r.mpps, r.vs_no_sessions);
            rows.push(Row {
                scenario: s.name.into(),
                traffic: (*tname).into(),
                mpps: r.mpps,
                gbps: r.gbps,
                vs_testpmd: r.mpps / testpmd.0,
                vs_no_sessions: r.vs_no_sessions,
                copies_per_s: r.copies_per_s,
                copy_drops: r.copy_drops,
                paired_against: r.vs_against,
            });
        }
    }

    print!("{}", table(&rows));
    print!("{}", targets(&rows));
    if let Some(path) = &a.json {
        std::fs::write(path, serde_json::to_string_pretty(&rows).unwrap() + "\n").unwrap();
    }
}

/// Both builds alternately on each scenario, the order flipped every round so that a drift in
/// the machine's speed weighs on both alike. Returns the table of medians.
fn compare(a: &Args, other: &Path, input: &Path, timing: Timing) -> String {
    let mut cells = Vec::new();
    for s in scenarios().into_iter().filter(|s| a.picks(s.name)) {
        // Builds against each other, sessions on throughout: nothing to switch.
        let s = Scenario { sessions: &[], against: None, ..s };
        let (mut base, mut new, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
        for round in 0..a.rounds {
            let run = |binary: &Path| measure_tm(a, binary, &s, input, timing).mpps;
            // x: the other build (A), y: this one (B).
            let (x, y) = alternately(round, || run(other), || run(&a.binary));
            eprintln!("{}: round {}: {:.2} / {:.2} Mpps = {:.3}", s.name, round + 1, y, x, y / x);
            base.push(x);
            new.push(y);
            ratios.push(y / x);
        }
        let range = range(&ratios);
        cells.push(vec![
            s.name.to_string(),
            format!("{:.2}", median_of(base)),
            format!("{:.2}", median_of(new)),
            format!("{:.3}", median_of(ratios)),
            range,
        ]);
    }
    let title = format!("\n{} (B) against {} (A), 64-byte frames, {} rounds\n", a.binary.display(), other.display(), a.rounds);
    title + &control::report::render(&["scenario", "A Mpps", "B Mpps", "B/A (median)", "B/A (range)"], &cells)
}

fn table(rows: &[Row]) -> String {
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            vec![
                r.scenario.clone(),
                r.traffic.clone(),
                format!("{:.2}", r.mpps),
                format!("{:.2}", r.gbps),
                format!("{:.2}", r.vs_testpmd),
                if r.vs_no_sessions.is_nan() { "-".into() } else { format!("{:.2}", r.vs_no_sessions) },
                format!("{:.0}", r.copies_per_s),
                r.copy_drops.to_string(),
            ]
        })
        .collect();
    control::report::render(&["scenario", "traffic", "Mpps", "Gbit/s", "vs testpmd", "vs no sessions", "copies/s", "copy drops"], &cells)
}

/// The issue's targets, checked on the 64-byte rows. Against no sessions, each scenario's own
/// paired ratio (see [`measure_tm`]); 10,000 against 10 rules, paired directly (see [`Against`]).
fn targets(rows: &[Row]) -> String {
    let row = |s: &str| rows.iter().find(|r| r.scenario == s && r.traffic == "64 B");
    let mpps = |s: &str| row(s).map_or(f64::NAN, |r| r.mpps);
    let paired = |s: &str| row(s).map_or(f64::NAN, |r| r.vs_no_sessions);
    let against = |s: &str, other: &str| {
        let p = row(s).and_then(|r| r.paired_against.as_ref());
        p.filter(|p| p.scenario == other).map_or(f64::NAN, |p| p.ratio)
    };
    let checks = [
        ("no sessions vs testpmd io", mpps("no sessions") / mpps("testpmd io (baseline)"), 0.95),
        ("nothing accepted vs no sessions", paired("sessions, nothing accepted"), 0.95),
        ("10% mirrored vs no sessions", paired("10% mirrored, 128 B"), 0.85),
        ("100% mirrored 128 B vs no sessions", paired("100% mirrored, 128 B"), 0.60),
        ("10,000 rules vs 10 rules", against("10,000 rules, 10% mirrored", "10 rules, 10% mirrored"), 0.90),
    ];
    let mut out = String::from("\ntargets (64-byte frames, ratios measured in this run)\n");
    for (what, ratio, want) in checks {
        let verdict = if ratio.is_nan() { "not run" } else if ratio >= want { "met" } else { "MISSED" };
        let _ = writeln!(out, "  {what:<38} {ratio:>6.3}  (target {want:.2})  {verdict}");
    }
    if let Some(r) = row(&format!("testpmd {REFERENCE_MODE} (reference)")) {
        let what = format!("testpmd {REFERENCE_MODE} vs testpmd io");
        let _ = writeln!(out, "  {what:<38} {:>6.3}  (reference: DPDK's own pass over each frame's L2-L4 headers)", r.vs_testpmd);
    }
    out
}
