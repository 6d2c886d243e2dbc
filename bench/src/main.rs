//! Throughput benchmarks: traffic-mirror on net_pcap `infinite_rx` sources into net_null sinks,
//! against what a user compares it with, measured in the same run on the same devices and
//! cores: the least work each job can be done with on these devices (the floors: the same
//! binary's worker loop reading one byte of each frame, or forwarding and copying it behind a
//! fixed template, `run --bench-floor`), and Open vSwitch with DPDK doing the same job. Each
//! scenario runs in rounds, traffic-mirror, its floor and OVS-DPDK one after the other in an
//! order rotated every round; the table shows medians over the rounds and the range of the
//! rounds' ratios. Rates are sampled over steady windows (start-up and warm-up excluded).
//! Against no sessions, each scenario is also measured in pairs of windows in one process, its
//! sessions switched off for one of them. Ratios are what to compare: this kind of machine is
//! noisy, absolute figures move from run to run.

mod at_scale;
mod callgrind;
mod figures;
mod ovs;
mod process;
mod report;
mod scenario;
mod testpmd;
mod tm;

use clap::Parser;
use e2e::traffic::{mixed, sized, Side};
use figures::{alternately, median_of, range, rotated, spread};
use ovs::Ovs;
use report::{floor_label, table, targets, Kind, Row};
use scenario::{scenarios, Scenario};
use std::path::{Path, PathBuf};
use std::time::Duration;
use testpmd::measure_testpmd;
use tm::{measure_floor, measure_tm, Paired, Timing};

/// Run the throughput benchmarks and print the table.
#[derive(Parser)]
pub struct Args {
    /// Short windows and three rounds a scenario: the whole table in a few minutes.
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
    /// Leave OVS-DPDK out of the table (it is in by default).
    #[arg(long)]
    pub no_ovs: bool,
    /// The capture a --compare run replays: 64 B, IMIX or mix.
    #[arg(long, default_value = "64 B", value_name = "TRAFFIC")]
    pub traffic: String,
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
        let Some((_, input)) = inputs.iter().find(|(name, _)| name.eq_ignore_ascii_case(&a.traffic)) else {
            eprintln!("tm-bench: --traffic {:?}: expected one of 64 B, IMIX, mix", a.traffic);
            std::process::exit(2);
        };
        print!("{}", compare(&a, other, input, Timing { warm, window, pairs: 1 }));
        return;
    }

    let ovs_check = (!a.no_ovs).then(|| {
        eprintln!("OVS-DPDK: checking its copies (tx_pcap, tshark)");
        ovs::check_copies(&a, &inputs[1].1)
    });
    let rounds = if a.quick { 3 } else { 5 };
    let ovs_window = if a.quick { Duration::from_millis(500) } else { Duration::from_secs(2) };
    let all = scenarios();
    let mut rows: Vec<Row> = Vec::new();
    for (tname, input) in &inputs {
        let main_only = *tname != "64 B";
        let picked: Vec<&Scenario> = all
            .iter()
            // Every scenario on 64-byte frames; the others get the main ones.
            .filter(|s| !main_only || matches!(s.name, "no sessions" | "10% mirrored, 128 B" | "100% mirrored, 128 B" | "100% mirrored, whole"))
            .filter(|s| a.picks(s.name) || s.name == "no sessions")
            .collect();
        let testpmd: Vec<(f64, f64)> = (0..reps).map(|_| measure_testpmd(input, "io", warm, window)).collect();
        eprintln!("{tname}: testpmd io {:.2} Mpps", median_of(testpmd.iter().map(|r| r.0).collect()));
        rows.push(Row::reference("testpmd io".into(), tname, Kind::Testpmd, &testpmd, 0.0, None));
        // On the traffic the issue compares with OVS-DPDK: one switch for all its scenarios,
        // frozen while traffic-mirror runs.
        let with_ovs = !a.no_ovs && matches!(*tname, "64 B" | "IMIX") && picked.iter().any(|s| s.ovs.is_some());
        let mut switch = with_ovs.then(|| Ovs::start(&a, input, "net_null1,no-rx=1"));
        // Reference rows: (rates, copies a second, OVS's cycles a frame) over every round.
        let mut references: Vec<(String, Kind, Vec<(f64, f64)>, Vec<f64>, Vec<f64>)> = Vec::new();
        let mut reference = |name: String, kind, rate: (f64, f64), copies: f64, cycles: f64| match references.iter_mut().find(|r| r.0 == name) {
            Some(r) => {
                r.2.push(rate);
                r.3.push(copies);
                r.4.push(cycles);
            }
            None => references.push((name, kind, vec![rate], vec![copies], vec![cycles])),
        };
        let mut scenario_rows = Vec::new();
        for s in picked {
            let job = s.ovs.filter(|_| switch.is_some());
            let one = s.scales.and_then(|name| all.iter().find(|x| x.name == name));
            let mut steps = vec![Step::Tm];
            steps.extend(s.floor.map(|_| Step::Floor));
            steps.extend(job.map(|_| Step::Ovs));
            steps.extend(one.map(|_| Step::OneWorker));
            let (mut tm, mut floor, mut other, mut single) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
            for round in 0..rounds {
                for step in rotated(round, &steps) {
                    match step {
                        Step::Tm => tm.push(measure_tm(&a, &a.binary, s, input, timing)),
                        Step::Floor => {
                            let f = s.floor.expect("a floor step has a floor");
                            let r = measure_floor(&a, f, s.workers, input, timing);
                            reference(floor_label(f, s.workers), Kind::Floor, (r.mpps, r.gbps), r.copies_per_s, f64::NAN);
                            floor.push(r.mpps);
                        }
                        Step::Ovs => {
                            let job = job.expect("an OVS step has a job");
                            let r = switch.as_mut().expect("a switch for OVS steps").measure(job, warm, ovs_window);
                            reference(job.label(), Kind::OvsDpdk, (r.mpps, r.gbps), r.copies_per_s, r.cycles_per_frame);
                            other.push(r.mpps);
                        }
                        Step::OneWorker => single.push(measure_tm(&a, &a.binary, one.expect("a scaling step has a scenario"), input, timing).mpps),
                    }
                }
            }
            let mpps: Vec<f64> = tm.iter().map(|r| r.mpps).collect();
            let over = |refs: &[f64]| -> Vec<f64> { mpps.iter().zip(refs).map(|(x, y)| x / y).collect() };
            let (vs_floor, vs_ovs, vs_one) = (over(&floor), over(&other), over(&single));
            let median_or_nan = |v: &[f64]| if v.is_empty() { f64::NAN } else { median_of(v.to_vec()) };
            let row = Row {
                scenario: s.name.into(),
                traffic: (*tname).into(),
                kind: Kind::TrafficMirror,
                rounds,
                mpps: median_of(mpps.clone()),
                mpps_range: spread(&mpps),
                gbps: median_of(tm.iter().map(|r| r.gbps).collect()),
                floor: s.floor.map(str::to_string),
                vs_floor: median_or_nan(&vs_floor),
                vs_floor_range: spread(&vs_floor),
                vs_ovs: median_or_nan(&vs_ovs),
                vs_ovs_range: spread(&vs_ovs),
                vs_no_sessions: median_of(tm.iter().map(|r| r.vs_no_sessions).collect()),
                copies_per_s: median_of(tm.iter().map(|r| r.copies_per_s).collect()),
                copy_drops: tm.iter().map(|r| r.copy_drops).sum(),
                paired_against: s.against.map(|x| Paired {
                    scenario: x.scenario.into(),
                    ratio: median_of(tm.iter().filter_map(|r| r.vs_against.as_ref()).map(|p| p.ratio).collect()),
                }),
                vs_one_worker: one.map(|_| median_of(vs_one.clone())),
                cycles_per_frame: None,
            };
            eprintln!(
                "{tname}: {} {:.2} Mpps ({}), {} of its floor, {} of OVS-DPDK, {:.3} of no sessions",
                s.name,
                row.mpps,
                range(&mpps),
                if vs_floor.is_empty() { "-".into() } else { format!("{:.3} ({})", row.vs_floor, range(&vs_floor)) },
                if vs_ovs.is_empty() { "-".into() } else { format!("{:.3} ({})", row.vs_ovs, range(&vs_ovs)) },
                row.vs_no_sessions
            );
            scenario_rows.push(row);
        }
        drop(switch);
        for (name, kind, rates, copies, cycles) in references {
            let cycles = (kind == Kind::OvsDpdk).then(|| median_of(cycles));
            rows.push(Row::reference(name, tname, kind, &rates, median_of(copies), cycles));
        }
        rows.extend(scenario_rows);
    }

    print!("{}", table(&rows));
    if let Some(line) = &ovs_check {
        println!("\n{line}");
    }
    let ovs_cycles: Vec<String> = rows.iter().filter_map(|r| Some(format!("{} ({}): {:.0}", r.scenario, r.traffic, r.cycles_per_frame?))).collect();
    if !ovs_cycles.is_empty() {
        println!("OVS-DPDK's PMD cycles a frame (pmd-stats-show, medians): {}", ovs_cycles.join("; "));
    }
    print!("{}", targets(&rows));
    if let Some(path) = &a.json {
        std::fs::write(path, serde_json::to_string_pretty(&rows).unwrap() + "\n").unwrap();
    }
}

/// What a round of a scenario runs, in an order rotated every round.
#[derive(Clone, Copy)]
enum Step {
    /// traffic-mirror on the scenario.
    Tm,
    /// The scenario's floor.
    Floor,
    /// OVS-DPDK on the same job.
    Ovs,
    /// The scenario on one worker.
    OneWorker,
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
    let title = format!("\n{} (B) against {} (A), {} traffic, {} rounds\n", a.binary.display(), other.display(), a.traffic, a.rounds);
    title + &control::render::render(&["scenario", "A Mpps", "B Mpps", "B/A (median)", "B/A (range)"], &cells)
}
