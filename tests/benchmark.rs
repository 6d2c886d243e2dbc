//! Issues 6 and 23: the benchmark tool itself, on a few scenarios of its quick mode. What it
//! measures is not judged here (speed is the benchmark's business, not a test's); that it
//! measures what it says is: every row it promises (the floors' and OVS-DPDK's too), figures
//! from real traffic, ratios to the floor and to OVS-DPDK taken round by round, a "vs no
//! sessions" ratio from windows with the sessions switched on and off, a copy for every frame
//! when every frame is mirrored (by OVS too, whose copies it checks with tshark), nothing of
//! OVS left behind; and that its callgrind mode counts the worker loop and the floors'.

use e2e::{binary, built, require_root, require_tool, Lab};
use serde_json::Value;
use std::process::{Command, Stdio};

#[test]
fn quick_mode_measures_scenarios_against_floors_and_ovs_dpdk() {
    require_root();
    require_tool("dpdk-testpmd", "dpdk");
    require_tool("ovs-vsctl", "openvswitch-switch-dpdk");
    require_tool("tshark", "tshark");
    let lab = Lab::new("bench");
    let json = lab.path("results.json");
    let child = Command::new(built("bench", "tm-bench"))
        .args(["--quick", "--only", "100% mirrored, 128 B", "--only", "10,000 rules", "--out"])
        .arg(lab.path("bench"))
        .arg("--binary")
        .arg(binary())
        .arg("--json")
        .arg(&json)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("running tm-bench");
    let pid = child.id();
    let out = child.wait_with_output().expect("waiting for tm-bench");
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "tm-bench failed:\n{stdout}\n{stderr}");

    let rows: Vec<Value> = serde_json::from_str(&std::fs::read_to_string(&json).expect("the JSON results")).expect("JSON rows");
    let find = |scenario: &str, traffic: &str| rows.iter().find(|r| r["scenario"] == scenario && r["traffic"] == traffic);
    let row = |scenario: &str, traffic: &str| find(scenario, traffic).unwrap_or_else(|| panic!("no row for {scenario} on {traffic}:\n{stdout}"));
    let num = |r: &Value, key: &str| r[key].as_f64().unwrap_or_else(|| panic!("{key} is not a number in {r}"));
    let range = |r: &Value, key: &str| -> (f64, f64) {
        let v = r[format!("{key}_range")].as_array().unwrap_or_else(|| panic!("no {key}_range in {r}"));
        (v[0].as_f64().unwrap(), v[1].as_f64().unwrap())
    };
    // A median over the rounds inside the range of the rounds.
    let median_in_range = |r: &Value, key: &str| {
        let m = num(r, key);
        let (lo, hi) = range(r, key);
        assert!(m.is_finite() && m > 0.0 && lo <= m && m <= hi, "{key} {m} outside {lo}-{hi}: {r}");
    };
    for traffic in ["64 B", "IMIX", "mix"] {
        for scenario in ["testpmd io", "touch floor", "copy floor, 128 B", "no sessions", "100% mirrored, 128 B"] {
            let r = row(scenario, traffic);
            assert!(num(r, "mpps") > 0.0, "{scenario} on {traffic} forwarded nothing: {r}");
            assert!(num(r, "gbps") > 0.0, "{r}");
        }
        assert_eq!(num(row("no sessions", traffic), "vs_no_sessions"), 1.0);
        let m = row("100% mirrored, 128 B", traffic);
        assert_eq!(m["rounds"], 3, "{m}");
        median_in_range(m, "mpps");
        let ratio = num(m, "vs_no_sessions");
        assert!(ratio.is_finite() && ratio > 0.0, "no paired ratio on {traffic}: {m}");
        // Against its floor, round by round.
        assert_eq!(m["floor"], "copy:128", "{m}");
        median_in_range(m, "vs_floor");
        assert_eq!(row("no sessions", traffic)["floor"], "touch");
        median_in_range(row("no sessions", traffic), "vs_floor");
        // Every frame mirrored and none dropped: as many copies a second as frames, where every
        // frame is plain TCP or UDP (the mix also holds non-IP and malformed frames, DHCP and
        // the metadata service, which are never mirrored); the copy floor copies every frame.
        assert_eq!(m["copy_drops"], 0, "{m}");
        let copies_per_frame = |r: &Value| num(r, "copies_per_s") / (num(r, "mpps") * 1e6);
        if traffic == "mix" {
            assert!(copies_per_frame(m) > 0.5 && copies_per_frame(m) < 1.05, "{} copies a frame on {traffic}: {m}", copies_per_frame(m));
        } else {
            assert!((copies_per_frame(m) - 1.0).abs() < 0.05, "{} copies a frame on {traffic}: {m}", copies_per_frame(m));
        }
        let floor = row("copy floor, 128 B", traffic);
        assert_eq!(floor["kind"], "floor");
        assert!((copies_per_frame(floor) - 1.0).abs() < 0.05, "{} copies a frame: {floor}", copies_per_frame(floor));
        // OVS-DPDK on 64-byte frames and IMIX, doing the same job: every frame mirrored.
        let ovs = find("OVS-DPDK 100% mirrored, 128 B", traffic);
        if traffic == "mix" {
            assert!(ovs.is_none() && m["vs_ovs"].is_null(), "OVS-DPDK on the mix: {m}");
            continue;
        }
        let ovs = ovs.unwrap_or_else(|| panic!("no OVS-DPDK row on {traffic}:\n{stdout}"));
        assert_eq!(ovs["kind"], "ovs-dpdk");
        assert!(num(ovs, "mpps") > 0.0 && num(ovs, "cycles_per_frame") > 0.0, "{ovs}");
        assert!((copies_per_frame(ovs) - 1.0).abs() < 0.1, "OVS-DPDK made {} copies a frame: {ovs}", copies_per_frame(ovs));
        assert!(num(row("OVS-DPDK forward only", traffic), "copies_per_s") < 1.0, "OVS-DPDK copied while only forwarding");
        median_in_range(m, "vs_ovs");
        median_in_range(row("no sessions", traffic), "vs_ovs");
    }
    assert!(stdout.contains("OVS-DPDK's copies, checked with tshark:"), "no check of OVS's copies:\n{stdout}");
    // Two workers against one, round by round, with a floor of two workers.
    let two = row("2 workers, 100% mirrored, 128 B", "64 B");
    assert!(num(two, "vs_one_worker") > 0.0, "{two}");
    assert!(num(row("copy floor, 128 B, 2 workers", "64 B"), "mpps") > 0.0);
    // 10,000 rules against 10 in the same pairs of windows, without the 10-rule scenario's run.
    let many = row("10,000 rules, 10% mirrored", "64 B");
    assert_eq!(many["paired_against"]["scenario"], "10 rules, 10% mirrored", "{many}");
    let ratio = num(&many["paired_against"], "ratio");
    assert!(ratio.is_finite() && ratio > 0.0, "{many}");
    assert_eq!(many["floor"], "copy:128/10", "{many}");
    assert!(stderr.contains("10,000 rules, 10% mirrored: against 10 rules, 10% mirrored"), "no direct pairs reported:\n{stderr}");
    // The other scenarios were left out, and the pairs were measured and reported.
    for left_out in ["sessions, nothing accepted", "10 rules, 10% mirrored", "OVS-DPDK 10% mirrored, 128 B"] {
        assert!(!rows.iter().any(|r| r["scenario"] == left_out), "--only was ignored: {left_out}");
    }
    assert!(stderr.contains("100% mirrored, 128 B: against no sessions"), "no paired windows reported:\n{stderr}");
    for target in ["100% mirrored 128 B vs copy floor", "100% mirrored 128 B vs OVS-DPDK", "100% mirrored 128 B vs OVS-DPDK, IMIX", "2 workers vs 1", "10,000 rules vs 10 rules", "nothing accepted vs touch floor"] {
        let line = stdout.lines().find(|l| l.trim_start().starts_with(target)).unwrap_or_else(|| panic!("no target line {target}:\n{stdout}"));
        let verdict_ok = if target.starts_with("nothing") { line.ends_with("not run") } else { line.ends_with("met") || line.ends_with("MISSED") };
        assert!(verdict_ok, "{line}");
    }
    // Nothing of OVS's is left: no daemon, network namespace, DPDK runtime folder or database.
    let tag = format!("tm-bench-ovs-{pid}-");
    let netns = Command::new("ip").args(["netns", "list"]).output().expect("ip netns list");
    assert!(!String::from_utf8_lossy(&netns.stdout).contains(&tag), "a network namespace left behind");
    let left = |dir: &str| std::fs::read_dir(dir).map(|d| d.flatten().any(|e| e.file_name().to_string_lossy().starts_with(&tag))).unwrap_or(false);
    assert!(!left("/var/run/dpdk") && !left(&std::env::temp_dir().display().to_string()), "OVS's DPDK runtime folder or database left behind");
    let processes = std::fs::read_dir("/proc").unwrap().flatten().filter_map(|e| std::fs::read(e.path().join("cmdline")).ok());
    assert!(!processes.into_iter().any(|c| String::from_utf8_lossy(&c).contains(&tag)), "an OVS daemon left running");
}

/// The whole-worker counts: the real binary under callgrind, the worker's loop only, divided
/// by the frames received. Not how many instructions (that is the benchmark's business), but
/// that every frame of the scenario was counted and each did what the scenario says.
#[test]
fn callgrind_mode_counts_the_worker_loop_a_frame() {
    require_root();
    require_tool("valgrind", "valgrind");
    let lab = Lab::new("bench-callgrind");
    let out = Command::new(built("bench", "tm-bench"))
        .args(["--callgrind", "--callgrind-seconds", "2", "--only", "no sessions", "--only", "100% mirrored, 128 B", "--only", "floor", "--out"])
        .arg(lab.path("bench"))
        .arg("--binary")
        .arg(binary())
        .output()
        .expect("running tm-bench --callgrind");
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "tm-bench --callgrind failed:\n{stdout}\n{stderr}");
    let row = |scenario: &str| -> (u64, f64, f64) {
        let line = stdout.lines().find(|l| l.trim_start().starts_with(scenario)).unwrap_or_else(|| panic!("no row for {scenario}:\n{stdout}"));
        let f: Vec<&str> = line.trim_start()[scenario.len()..].split_whitespace().collect();
        assert_eq!(f.len(), 3, "{line}");
        (f[0].parse().unwrap(), f[1].parse().unwrap(), f[2].parse().unwrap())
    };
    let (frames, copies, ir) = row("no sessions");
    assert!(frames >= 200_000, "{frames} frames");
    assert_eq!(copies, 0.0);
    // Forwarding alone takes a couple of hundred instructions a frame; a count far off says
    // the wrong thread or the wrong function was counted.
    assert!(ir > 50.0 && ir < 2000.0, "{ir} instructions a frame without sessions:\n{stdout}");
    let (_, copies, mirrored) = row("100% mirrored, 128 B");
    assert_eq!(copies, 1.0, "every frame mirrored once:\n{stdout}");
    assert!(mirrored > ir, "a copy costs instructions:\n{stdout}");
    assert!(!stdout.contains("sessions, nothing accepted"), "--only was ignored:\n{stdout}");
    // The floors, in the same binary's loop: the touch floor copies nothing, the copy floor
    // every frame, and the product does more than its floor.
    let (_, copies, touch) = row("touch floor");
    assert_eq!(copies, 0.0);
    assert!(touch > 50.0 && touch < 2000.0, "{touch} instructions a frame for the touch floor:\n{stdout}");
    let (_, copies, copy) = row("copy floor, 128 B");
    assert_eq!(copies, 1.0, "the copy floor copies every frame:\n{stdout}");
    assert!(copy > touch && mirrored > copy, "copy floor {copy}, touch floor {touch}, 100% mirrored {mirrored}:\n{stdout}");
    assert!(stdout.lines().any(|l| l.trim_start().starts_with("100% mirrored, 128 B") && (l.ends_with("met") || l.ends_with("MISSED"))), "no target line:\n{stdout}");
}
