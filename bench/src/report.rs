//! The results: the table of rows and the targets' verdicts.

use crate::testpmd::REFERENCE_MODE;
use crate::tm::Paired;
use serde::Serialize;
use std::fmt::Write as _;

/// One measured row.
#[derive(Serialize, Clone)]
pub struct Row {
    pub scenario: String,
    pub traffic: String,
    pub mpps: f64,
    pub gbps: f64,
    /// Against testpmd io forwarding on the same traffic; for the reference mode, the median
    /// over runs paired with io ones.
    pub vs_testpmd: f64,
    /// Against traffic-mirror without sessions on the same traffic: the median over pairs of
    /// windows in one process, the scenario's sessions switched on and off.
    pub vs_no_sessions: f64,
    pub copies_per_s: f64,
    pub copy_drops: u64,
    /// Against another scenario in the same pairs of windows, where the scenario has one
    /// (see [`Against`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub paired_against: Option<Paired>,
}

pub fn table(rows: &[Row]) -> String {
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
    control::render::render(&["scenario", "traffic", "Mpps", "Gbit/s", "vs testpmd", "vs no sessions", "copies/s", "copy drops"], &cells)
}

/// The targets, checked on the 64-byte rows. Against no sessions, each scenario's own
/// paired ratio (see [`measure_tm`]); 10,000 against 10 rules, paired directly (see [`Against`]).
pub fn targets(rows: &[Row]) -> String {
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
