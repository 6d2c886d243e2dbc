//! Whole-worker instruction counts: the real traffic-mirror binary under callgrind, counting
//! only the worker thread's poll loop (`dataplane::worker::run`, the function callgrind
//! toggles collection on), divided by the frames it received. Unlike rates, the counts are
//! exact on a loaded machine, so they can gate a change: a change to the packet path must not
//! raise them.
//!
//! The 64-byte capture is replayed with `infinite_rx`, as in the throughput runs: `net_pcap`
//! then copies each frame out of memory into a fresh mbuf, as a NIC's receive would cost at
//! most. (A finite capture read to its end would take every frame through libpcap's file
//! reads, some 440 instructions a frame, twice the whole no-sessions loop, and its idle tail
//! before `--exit-on-idle` would count polls that received nothing.) With an endless source,
//! every poll receives a full burst; the run is stopped with SIGTERM after a fixed time, and
//! the loop's start and end (a few thousand instructions) vanish in millions of frames.

use crate::scenario::{scenarios, Scenario};
use crate::tm::start;
use crate::Args;
use serde_json::Value;
use std::ffi::OsString;
use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// The scenarios counted, as the README's "Where the time goes" quotes them.
pub const SCENARIOS: [&str; 4] = ["no sessions", "sessions, nothing accepted", "10% mirrored, 128 B", "100% mirrored, 128 B"];

/// The floors counted (name, `--bench-floor`): the least work of the jobs above.
pub const FLOORS: [(&str, &str); 2] = [("touch floor", "touch"), ("copy floor, 128 B", "copy:128")];

/// The function whose calls callgrind counts: the worker's whole loop.
const WORKER_LOOP: &str = "dataplane::worker::run";
/// The same for a floor.
const FLOOR_LOOP: &str = "dataplane::worker::floor::run";

/// The targets: (scenario, most instructions a frame).
const TARGETS: [(&str, f64); 2] = [("sessions, nothing accepted", 300.0), ("100% mirrored, 128 B", 700.0)];

/// Fewer frames than this and the loop's start and end would show in the quotient.
const MIN_FRAMES: u64 = 200_000;

/// One scenario's count.
pub struct Count {
    pub scenario: String,
    pub frames: u64,
    /// Instructions of the worker thread's loop.
    pub instructions: u64,
    /// Copies sent by the mirror port.
    pub copies: u64,
}

impl Count {
    /// Instructions a frame.
    pub fn per_frame(&self) -> f64 {
        self.instructions as f64 / self.frames as f64
    }
}

/// Counts every scenario of [`SCENARIOS`] that `--only` picks, each run for `run_for` once
/// its control API answers, over the 64-byte capture `input`, one after the other.
pub fn count_all(a: &Args, input: &Path, run_for: Duration) -> Vec<Count> {
    let mut counts: Vec<Count> = scenarios().into_iter().filter(|s| SCENARIOS.contains(&s.name) && a.picks(s.name)).map(|s| count(a, &s, None, input, run_for)).collect();
    for (name, floor) in FLOORS.into_iter().filter(|(name, _)| a.picks(name)) {
        let s = Scenario { name, workers: 1, sessions: &[], mirroring: |s| s, against: None, floor: None, ovs: None, scales: None };
        counts.push(count(a, &s, Some(floor), input, run_for));
    }
    counts
}

fn count(a: &Args, s: &Scenario, floor: Option<&str>, input: &Path, run_for: Duration) -> Count {
    let tag: String = s.name.chars().filter(|c| c.is_ascii_alphanumeric()).take(12).collect();
    let valgrind_log = a.out.join(format!("{tag}.callgrind.log"));
    let stats = a.out.join(format!("{tag}.callgrind.json"));
    let _ = std::fs::remove_file(&stats);
    let mut valgrind = Command::new("valgrind");
    // Fair scheduling: by default a spinning worker holds valgrind's one lock for long spells,
    // and the control thread takes seconds to answer or to stop.
    valgrind
        .args(["--tool=callgrind", "--fair-sched=yes", "--dump-instr=yes"])
        .arg(format!("--callgrind-out-file={}", std::env::var("TM_CG_OUT").unwrap_or("/dev/null".into())))
        .arg(format!("--toggle-collect={}", if floor.is_some() { FLOOR_LOOP } else { WORKER_LOOP }))
        .arg(format!("--log-file={}", valgrind_log.display()))
        .arg(&a.binary);
    let mut extra = vec![OsString::from("--stats-json"), stats.clone().into()];
    if let Some(f) = floor {
        extra.extend([OsString::from("--bench-floor"), OsString::from(f)]);
    }
    let mut running = start(a, valgrind, s, input, &extra);
    std::thread::sleep(run_for);
    // SIGTERM: traffic-mirror stops its workers, writes its report and exits, and callgrind
    // prints its totals.
    // SAFETY: signalling our own child.
    unsafe { libc::kill(running.child.0.id() as i32, libc::SIGTERM) };
    let deadline = Instant::now() + Duration::from_secs(120);
    let status = loop {
        if let Some(status) = running.child.0.try_wait().expect("waiting for valgrind") {
            break status;
        }
        assert!(Instant::now() < deadline, "{}: traffic-mirror under callgrind did not stop; see {}", s.name, running.log.display());
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "{}: traffic-mirror under callgrind exited {status}; see {} and {}", s.name, running.log.display(), valgrind_log.display());
    let text = std::fs::read_to_string(&valgrind_log).expect("callgrind's log");
    let instructions: u64 = text
        .lines()
        .find_map(|l| l.split_once("Collected : ").map(|(_, n)| n.trim().parse().expect("callgrind's count")))
        .unwrap_or_else(|| panic!("{}: callgrind printed no count:\n{text}", s.name));
    let report: Value = serde_json::from_str(&std::fs::read_to_string(&stats).expect("the --stats-json report")).expect("stats JSON");
    let port = |name: &str, key: &str| {
        let p = report["ports"].as_array().and_then(|ps| ps.iter().find(|p| p["name"] == name));
        p.and_then(|p| p[key].as_u64()).unwrap_or_else(|| panic!("no {key} of port {name} in {}", stats.display()))
    };
    let (frames, copies) = (port("host", "rx_packets"), port("mirror", "tx_packets"));
    assert!(instructions > 0, "{}: callgrind counted nothing: is {WORKER_LOOP} still a function of its own?", s.name);
    assert!(frames >= MIN_FRAMES, "{}: only {frames} frames in {run_for:?} under callgrind (at least {MIN_FRAMES}): a longer --callgrind-seconds", s.name);
    Count { scenario: s.name.to_string(), frames, instructions, copies }
}

/// The counts as a table.
pub fn render(binary: &Path, counts: &[Count]) -> String {
    let mut out = format!("\nwhole-worker instructions a frame ({}, worker thread only, callgrind, 64-byte frames)\n", binary.display());
    let _ = writeln!(out, "  {:<28} {:>10} {:>12} {:>10}", "scenario", "frames", "copies/frame", "Ir/frame");
    for c in counts {
        let _ = writeln!(out, "  {:<28} {:>10} {:>12.3} {:>10.1}", c.scenario, c.frames, c.copies as f64 / c.frames as f64, c.per_frame());
    }
    let per_frame = |name: &str| counts.iter().find(|c| c.scenario == name).map(Count::per_frame);
    let _ = writeln!(out, "targets");
    for (name, most) in TARGETS {
        let Some(ir) = per_frame(name) else { continue };
        let _ = writeln!(out, "  {name:<28} {ir:>10.1}  (target {most:.0})  {}", if ir <= most { "met" } else { "MISSED" });
    }
    for (name, floor) in [("sessions, nothing accepted", "touch floor"), ("100% mirrored, 128 B", "copy floor, 128 B")] {
        if let (Some(x), Some(f)) = (per_frame(name), per_frame(floor)) {
            let _ = writeln!(out, "  {name:<28} {:>10.1}  more than the {floor}", x - f);
        }
    }
    out
}
