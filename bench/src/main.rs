//! Throughput benchmarks: traffic-mirror on net_pcap `infinite_rx` sources into net_null sinks,
//! against `dpdk-testpmd --forward-mode=io` and traffic-mirror without sessions measured in the
//! same run, on the same devices and cores. Rates are sampled through the control API over
//! steady windows (start-up and warm-up excluded). Against no sessions, each scenario is
//! measured in pairs of windows in one process, its sessions switched off for one of them.
//! Ratios to those baselines are what to compare: this kind of machine is noisy, absolute
//! figures move from run to run.

mod callgrind;
mod at_scale;
mod figures;
mod process;
mod report;
mod scenario;
mod testpmd;
mod tm;

use clap::Parser;
use e2e::traffic::{mixed, sized, Side};
use figures::{alternately, median, median_of, range};
use report::{table, targets, Row};
use scenario::{scenarios, Scenario};
use std::path::{Path, PathBuf};
use std::time::Duration;
use testpmd::{measure_testpmd, REFERENCE_MODE};
use tm::{measure_tm, Timing};

/// Run the throughput benchmarks and print the table.
#[derive(Parser)]
pub struct Args {
    /// Short windows and one repetition: the whole table in under a minute.
    #[arg(long)]
    pub quick: bool,
    /// Also write the results as JSON.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Folder for captures, configs and logs.
    #[arg(long, default_value = "out/bench")]
    pub out: PathBuf,
    /// The traffic-mirror binary.
    #[arg(long, default_value = "target/release/traffic-mirror")]
    pub binary: PathBuf,
    /// Only the scenarios whose name contains this (given more than once: any of them).
    #[arg(long)]
    pub only: Vec<String>,
    /// Instead of the table, compare --binary with another traffic-mirror build (an older
    /// one, say): each scenario on 64-byte frames, both builds alternately for --rounds
    /// rounds, and the median of the paired ratios (--binary's rate over OTHER's). Tells a
    /// change apart from this kind of machine's noise, which single runs cannot.
    #[arg(long, value_name = "OTHER")]
    pub compare: Option<PathBuf>,
    /// Rounds of a --compare run.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..))]
    pub rounds: u32,
    /// Instead of the table, the instructions a frame of --binary's whole worker loop under
    /// callgrind (valgrind), on 64-byte frames: no sessions, nothing accepted, 10% and 100%
    /// mirrored at 128 bytes. Exact where rates are noisy.
    #[arg(long)]
    pub callgrind: bool,
    /// How long each --callgrind scenario runs once started (under valgrind, about a million
    /// frames a second on a 2-core VM; the quotient does not depend on it).
    #[arg(long, default_value_t = 5, value_name = "SECONDS")]
    pub callgrind_seconds: u64,
    /// Instead of the table, the control plane at scale: start-up time and the latency of
    /// single changes through the control API for each of --sessions, side by side.
    #[arg(long)]
    pub control: bool,
    /// Sessions in force for --control (given more than once: one run each).
    #[arg(long = "sessions", value_name = "N", default_values_t = [100usize, 1000, 10000])]
    pub sessions: Vec<usize>,
    /// Changes in a row for --control.
    #[arg(long, default_value_t = 1000, value_name = "N")]
    pub changes: usize,
}

impl Args {
    /// Does --only let this scenario run?
    pub fn picks(&self, scenario: &str) -> bool {
        self.only.is_empty() || self.only.iter().any(|o| scenario.contains(o.as_str()))
    }
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

    if a.control {
        let rows: Vec<at_scale::Measured> = a
            .sessions
            .iter()
            .map(|&n| {
                eprintln!("control plane: {n} sessions, {} changes", a.changes);
                at_scale::measure(&a, &inputs[0].1, n, a.changes)
            })
            .collect();
        print!("{}", at_scale::render(&rows));
        return;
    }
    if a.callgrind {
        let counts = callgrind::count_all(&a, &inputs[0].1, Duration::from_secs(a.callgrind_seconds));
        print!("{}", callgrind::render(&a.binary, &counts));
        return;
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
    title + &control::render::render(&["scenario", "A Mpps", "B Mpps", "B/A (median)", "B/A (range)"], &cells)
}
