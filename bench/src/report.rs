//! The results: the table of rows and the targets' verdicts.

use crate::figures::{median_of, spread};
use crate::tm::Paired;
use serde::Serialize;
use std::fmt::Write as _;

/// What a row measures.
#[derive(Serialize, Clone, Copy, PartialEq, Eq, Debug)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// traffic-mirror on a scenario.
    TrafficMirror,
    /// The same binary's worker loop doing the least work the job takes (`--bench-floor`).
    Floor,
    /// Open vSwitch with DPDK doing the same job.
    OvsDpdk,
    /// dpdk-testpmd io forwarding: the devices' own path.
    Testpmd,
}

/// One measured row: figures are medians over the rounds of one run, ranges the lowest and
/// highest round.
#[derive(Serialize, Clone)]
pub struct Row {
    pub scenario: String,
    pub traffic: String,
    pub kind: Kind,
    /// Rounds (or runs) the figures are taken over.
    pub rounds: usize,
    pub mpps: f64,
    pub mpps_range: [f64; 2],
    pub gbps: f64,
    /// The floor this row is compared with (`--bench-floor`'s spelling), if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub floor: Option<String>,
    /// Against the floor, round by round: the median of the rounds' ratios (NaN: none).
    pub vs_floor: f64,
    pub vs_floor_range: [f64; 2],
    /// Against OVS-DPDK doing the same job, round by round (NaN: not measured).
    pub vs_ovs: f64,
    pub vs_ovs_range: [f64; 2],
    /// Against traffic-mirror without sessions on the same traffic: the median over pairs of
    /// windows in one process, the scenario's sessions switched on and off (NaN: not
    /// traffic-mirror).
    pub vs_no_sessions: f64,
    pub copies_per_s: f64,
    pub copy_drops: u64,
    /// Against another scenario in the same pairs of windows, where the scenario has one
    /// (see [`Against`](crate::scenario::Against)).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub paired_against: Option<Paired>,
    /// Against the same job on one worker, round by round (see `Scenario::scales`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vs_one_worker: Option<f64>,
    /// OVS-DPDK's PMD cycles a frame (its own `pmd-stats-show`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cycles_per_frame: Option<f64>,
}

impl Row {
    /// A reference row (a floor, OVS-DPDK, testpmd): its rates over every round it ran in.
    pub fn reference(scenario: String, traffic: &str, kind: Kind, rates: &[(f64, f64)], copies_per_s: f64, cycles: Option<f64>) -> Row {
        let mpps: Vec<f64> = rates.iter().map(|r| r.0).collect();
        Row {
            scenario,
            traffic: traffic.into(),
            kind,
            rounds: rates.len(),
            mpps: median_of(mpps.clone()),
            mpps_range: spread(&mpps),
            gbps: median_of(rates.iter().map(|r| r.1).collect()),
            floor: None,
            vs_floor: f64::NAN,
            vs_floor_range: [f64::NAN; 2],
            vs_ovs: f64::NAN,
            vs_ovs_range: [f64::NAN; 2],
            vs_no_sessions: f64::NAN,
            copies_per_s,
            copy_drops: 0,
            paired_against: None,
            vs_one_worker: None,
            cycles_per_frame: cycles,
        }
    }
}

/// A floor's row name, from its `--bench-floor` spelling.
pub fn floor_label(floor: &str, workers: usize) -> String {
    let mut s = match floor {
        "touch" => "touch floor".to_string(),
        f => {
            let f = f.strip_prefix("copy:").unwrap_or(f);
            let (len, every) = f.split_once('/').unwrap_or((f, "1"));
            let len = if len == "whole" { "whole".to_string() } else { format!("{len} B") };
            if every == "1" { format!("copy floor, {len}") } else { format!("copy floor, {len}, 1 in {every}") }
        }
    };
    if workers > 1 {
        let _ = write!(s, ", {workers} workers");
    }
    s
}

fn ratio(x: f64) -> String {
    if x.is_nan() { "-".into() } else { format!("{x:.2}") }
}

fn range(r: [f64; 2], digits: usize) -> String {
    if r[0].is_nan() { "-".into() } else { format!("{:.digits$}-{:.digits$}", r[0], r[1]) }
}

pub fn table(rows: &[Row]) -> String {
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            vec![
                r.scenario.clone(),
                r.traffic.clone(),
                format!("{:.2}", r.mpps),
                range(r.mpps_range, 2),
                format!("{:.2}", r.gbps),
                r.floor.clone().unwrap_or_else(|| "-".into()),
                ratio(r.vs_floor),
                range(r.vs_floor_range, 2),
                ratio(r.vs_ovs),
                range(r.vs_ovs_range, 2),
                ratio(r.vs_no_sessions),
                format!("{:.0}", r.copies_per_s),
                r.copy_drops.to_string(),
            ]
        })
        .collect();
    control::render::render(
        &["scenario", "traffic", "Mpps", "Mpps range", "Gbit/s", "floor", "vs floor", "vs floor range", "vs OVS-DPDK", "vs OVS range", "vs no sessions", "copies/s", "copy drops"],
        &cells,
    )
}

/// The targets, each a median over the rounds of this run; on 64-byte frames unless
/// said.
pub fn targets(rows: &[Row]) -> String {
    let row = |s: &str, traffic: &str| rows.iter().find(|r| r.scenario == s && r.traffic == traffic && r.kind == Kind::TrafficMirror);
    let vs_floor = |s: &str| row(s, "64 B").map_or(f64::NAN, |r| r.vs_floor);
    let vs_ovs = |s: &str, t: &str| row(s, t).map_or(f64::NAN, |r| r.vs_ovs);
    let against = |s: &str, other: &str| {
        let p = row(s, "64 B").and_then(|r| r.paired_against.as_ref());
        p.filter(|p| p.scenario == other).map_or(f64::NAN, |p| p.ratio)
    };
    let scaling = row("2 workers, 100% mirrored, 128 B", "64 B").and_then(|r| r.vs_one_worker).unwrap_or(f64::NAN);
    let checks = [
        ("nothing accepted vs touch floor".to_string(), vs_floor("sessions, nothing accepted"), 0.95),
        ("100% mirrored 128 B vs copy floor".to_string(), vs_floor("100% mirrored, 128 B"), 0.90),
        ("100% mirrored 128 B vs OVS-DPDK".to_string(), vs_ovs("100% mirrored, 128 B", "64 B"), 4.0),
        ("100% mirrored 128 B vs OVS-DPDK, IMIX".to_string(), vs_ovs("100% mirrored, 128 B", "IMIX"), 4.0),
        ("10% mirrored vs OVS-DPDK".to_string(), vs_ovs("10% mirrored, 128 B", "64 B"), 3.5),
        ("10% mirrored vs OVS-DPDK, IMIX".to_string(), vs_ovs("10% mirrored, 128 B", "IMIX"), 3.5),
        ("2 workers vs 1, 100% mirrored 128 B".to_string(), scaling, 1.8),
        ("10,000 rules vs 10 rules".to_string(), against("10,000 rules, 10% mirrored", "10 rules, 10% mirrored"), 0.90),
    ];
    let mut out = String::from("\ntargets (64-byte frames unless said; medians of round-by-round ratios in this run)\n");
    for (what, ratio, want) in checks {
        let verdict = if ratio.is_nan() { "not run" } else if ratio >= want { "met" } else { "MISSED" };
        let _ = writeln!(out, "  {what:<40} {ratio:>6.3}  (target {want:.2})  {verdict}");
    }
    out += "  100% mirrored whole frames, IMIX: against an older build with --compare OLD --traffic IMIX (target 1.30)\n";
    out += "  instructions a frame: scripts/bench.sh --callgrind (targets 300 nothing accepted, 700 100% mirrored at 128 B)\n";
    out
}
