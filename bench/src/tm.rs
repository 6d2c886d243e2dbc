//! traffic-mirror on one scenario: started with its configuration, sampled through the control
//! API over pairs of windows, its sessions switched off for one window of each pair.

use crate::figures::{median, median_of, range};
use crate::process::{Killed, RuntimeDir};
use crate::scenario::{config, Against, Scenario, MAIN_FILTER};
use crate::Args;
use control::api::Client;
use serde::Serialize;
use serde_json::{json, Value};
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Counters from DescribeCounters: (host rx packets, host rx bytes, mirror tx packets, skips).
pub fn sample(c: &mut Client) -> (u64, u64, u64, u64, f64) {
    let r = c.call_value(&json!({"Action": "DescribeCounters"})).expect("talking to traffic-mirror").expect("counters");
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

/// How long to measure.
#[derive(Clone, Copy)]
pub struct Timing {
    /// After start-up, before the first window.
    pub warm: Duration,
    /// One sampling window.
    pub window: Duration,
    /// Pairs of windows per traffic-mirror run (sessions on, sessions off).
    pub pairs: usize,
}

/// What traffic-mirror did on one scenario.
pub struct Measured {
    /// Medians over the windows with the scenario's sessions on.
    pub mpps: f64,
    pub gbps: f64,
    pub copies_per_s: f64,
    /// Summed over those windows.
    pub copy_drops: u64,
    /// The median, over the pairs, of the rate with the sessions on over the rate with them off.
    pub vs_no_sessions: f64,
    /// The scenario's [`Against`], measured in the same pairs.
    pub vs_against: Option<Paired>,
}

/// One scenario's rate over another's, the median over pairs of windows in one process.
#[derive(Serialize, Clone)]
pub struct Paired {
    pub scenario: String,
    pub ratio: f64,
}

/// Switches the sessions of a running scenario on or off; returns once the workers use the
/// new table (the control API publishes it before it answers).
pub fn switch_sessions(c: &mut Client, ids: &[&str], on: bool) {
    for id in ids {
        modify_session(c, id, None, on);
    }
}

/// Sets a session's filter (when given) and whether it is enabled, as [`switch_sessions`] does.
pub fn modify_session(c: &mut Client, id: &str, filter: Option<&str>, on: bool) {
    let mut req = json!({"Action": "ModifyTrafficMirrorSession", "TrafficMirrorSessionId": id, "Enabled": on});
    if let Some(f) = filter {
        req["TrafficMirrorFilterId"] = json!(f);
    }
    if let Err(e) = c.call_value(&req).expect("talking to traffic-mirror") {
        panic!("switching session {id} {} (filter {filter:?}): {e:?}", if on { "on" } else { "off" });
    }
}

/// Runs traffic-mirror on one scenario. After the warm-up it measures pairs of windows, one
/// with the scenario's sessions on and one with them switched off through the control API,
/// which is traffic-mirror without sessions in the same process on the same devices; the
/// order flips every pair. A ratio taken within one pair does not see this kind of machine's
/// drift from one second to the next, which ratios between separate runs do.
pub fn measure_tm(a: &Args, binary: &Path, s: &Scenario, input: &Path, t: Timing) -> Measured {
    measure_with(a, binary, s, input, t, &[])
}

/// A floor (`traffic-mirror run --bench-floor FLOOR`, see dataplane's `worker::floor`) on
/// `workers` workers: the same binary and devices, windows as [`measure_tm`]'s.
pub fn measure_floor(a: &Args, floor: &str, workers: usize, input: &Path, t: Timing) -> Measured {
    let s = Scenario { name: "floor", workers, sessions: &[], mirroring: |s| s, against: None, floor: None, ovs: None, scales: None };
    measure_with(a, &a.binary, &s, input, t, &[OsString::from("--bench-floor"), OsString::from(floor)])
}

fn measure_with(a: &Args, binary: &Path, s: &Scenario, input: &Path, t: Timing, extra: &[OsString]) -> Measured {
    let name = s.name;
    let mut running = start(a, Command::new(binary), s, input, extra);
    let c = &mut running.client;
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
            on.push(window(c));
            ratios.push(1.0);
            continue;
        }
        // The sessions are on at start-up and after every even pair: off first in even pairs,
        // so each pair needs one switch (and two more for `against`'s window, which comes
        // last in even pairs and first in odd ones, always next to the sessions-on window).
        let (with, without) = if pair % 2 == 0 {
            switch_sessions(c, s.sessions, false);
            let without = window(c);
            switch_sessions(c, s.sessions, true);
            let with = window(c);
            if let Some(x) = s.against {
                other.push(with.0 / against(c, x).0);
            }
            (with, without)
        } else {
            let x = s.against.map(|x| against(c, x));
            let with = window(c);
            if let Some(x) = x {
                other.push(with.0 / x.0);
            }
            switch_sessions(c, s.sessions, false);
            (with, window(c))
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

/// A traffic-mirror started on a scenario, its control API answering. The process is stopped
/// when this is dropped, then its DPDK runtime folder removed.
pub struct Started {
    pub child: Killed,
    pub client: Client,
    /// Where its standard error goes.
    pub log: PathBuf,
    /// After `child`: fields drop in order, and the folder must outlive the process.
    _runtime: RuntimeDir,
}

/// Starts `command` (the traffic-mirror binary, or a wrapper with the binary as its last
/// argument) with `run` on scenario `s` over `input`, `extra` arguments for `run`, and its own
/// DPDK file prefix; returns once its control API answers.
pub fn start(a: &Args, mut command: Command, s: &Scenario, input: &Path, extra: &[OsString]) -> Started {
    let tag: String = s.name.chars().filter(|c| c.is_ascii_alphanumeric()).take(12).collect();
    let socket = a.out.join(format!("{tag}.sock"));
    let cfg = a.out.join(format!("{tag}.toml"));
    std::fs::write(&cfg, config(input, s.workers, &socket, s.mirroring)).unwrap();
    let log = a.out.join(format!("{tag}.log"));
    let prefix = format!("tm-bench-{tag}-{}", std::process::id());
    let runtime = RuntimeDir(prefix.clone());
    let child = command
        .args(["run", "--config"])
        .arg(&cfg)
        .args(extra)
        .args(["--", "--file-prefix", &prefix, "--log-level=lib.eal:warning"])
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .expect("starting traffic-mirror");
    let mut child = Killed(child);
    let deadline = Instant::now() + Duration::from_secs(60);
    let client = loop {
        if let Ok(mut c) = Client::connect(&socket) {
            if matches!(c.call_value(&json!({"Action": "DescribePorts"})), Ok(Ok(_))) {
                break c;
            }
        }
        if let Ok(Some(st)) = child.0.try_wait() {
            panic!("{}: traffic-mirror exited ({st}); see {}", s.name, log.display());
        }
        assert!(Instant::now() < deadline, "{}: traffic-mirror did not start", s.name);
        std::thread::sleep(Duration::from_millis(50));
    };
    Started { child, client, log, _runtime: runtime }
}
