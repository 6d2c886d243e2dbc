//! Issue 21: the control plane at AWS's quotas. With 10,000 sessions in force a change must
//! cost what it touches, not what exists. A timing would show it only on an idle machine, so
//! the control thread's own counts are what is checked (DescribeCounters' `control`, the
//! `control_change_work` metric): what each change validated, compiled and built is the same
//! with 10,000 sessions as with 100. (`scripts/bench.sh --control` times the same changes.)

use control::api::Client;
use e2e::scale::{config, Changes};
use e2e::traffic::{mixed, Side};
use e2e::{require_root, Lab};
use serde_json::{json, Value};
use std::io::{Read, Write};

/// Calls `req` (an object with its Action); panics when refused.
fn ok(c: &mut Client, req: Value) -> Value {
    match c.call_value(&req).expect("talking to traffic-mirror") {
        Ok(v) => v,
        Err(e) => panic!("{req} refused: {e}"),
    }
}

/// `GET /metrics` on 127.0.0.1:`port`: the body of a 200.
fn scrape(port: u16) -> String {
    let mut c = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connecting to /metrics");
    c.write_all(b"GET /metrics HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n").unwrap();
    let mut text = String::new();
    c.read_to_string(&mut text).expect("reading /metrics");
    assert!(text.starts_with("HTTP/1.1 200"), "/metrics answered {}", &text[..text.len().min(80)]);
    text
}

/// What `changes` changes in a row cost with `sessions` sessions in force (DescribeCounters'
/// `control`), once every session was seen on Describe's pages and in the metrics.
fn changes_at(sessions: usize, changes: usize) -> Value {
    let lab = Lab::new(&format!("scale{sessions}"));
    // Single-segment frames: infinite_rx cannot chain mbufs.
    let frames = mixed(21, 256, Side::Host);
    let input = lab.write_pcap("in.pcap", frames.iter().map(|f| f.bytes.as_slice()).filter(|b| b.len() <= 1518));
    let metrics = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let cfg = lab.config(&config(&input, &lab.socket(), metrics, sessions));
    let mut child = lab.spawn(&cfg, &[]);
    let mut c = lab.client(&mut child);
    for req in Changes::new(sessions).take(changes) {
        ok(&mut c, req);
    }
    // Describe pages through every session once, in id order.
    let (mut seen, mut token) = (Vec::new(), None::<String>);
    loop {
        let mut req = json!({"Action": "DescribeTrafficMirrorSessions", "MaxResults": 1000});
        if let Some(t) = &token {
            req["NextToken"] = json!(t);
        }
        let page = ok(&mut c, req);
        seen.extend(page["TrafficMirrorSessions"].as_array().unwrap().iter().map(|s| s["TrafficMirrorSessionId"].as_str().unwrap().to_owned()));
        match page["NextToken"].as_str() {
            Some(t) => token = Some(t.to_owned()),
            None => break,
        }
    }
    let mut want: Vec<String> = (0..sessions).map(|i| format!("tms-{i}")).collect();
    want.sort();
    assert_eq!(seen, want, "{sessions} sessions: Describe's pages");
    let control = ok(&mut c, json!({"Action": "DescribeCounters"}))["control"].clone();
    let text = scrape(metrics);
    for work in ["validated", "sessions_compiled", "sources_built"] {
        let line = format!("traffic_mirror_control_change_work_total{{work=\"{work}\"}} {}", control["total"][work]);
        assert!(text.contains(&line), "{sessions} sessions: /metrics has no {line:?}");
    }
    drop(child);
    control
}

#[test]
fn a_change_with_ten_thousand_sessions_in_force_costs_what_it_does_with_a_hundred() {
    require_root();
    const CHANGES: u64 = 60;
    let small = changes_at(100, CHANGES as usize);
    let large = changes_at(10_000, CHANGES as usize);
    for (sessions, c) in [(100, &small), (10_000, &large)] {
        assert_eq!(c["changes"], CHANGES, "{sessions} sessions: {c}");
        let t = &c["total"];
        // A Modify, Delete or Create validates the session and its source's others (three at
        // most), compiles that session's copies, and builds its source's classifiers.
        assert!(t["validated"].as_u64().unwrap() <= 3 * CHANGES, "{sessions} sessions: {c}");
        assert!(t["sessions_compiled"].as_u64().unwrap() <= CHANGES, "{sessions} sessions: {c}");
        assert!(t["sources_built"].as_u64().unwrap() <= CHANGES, "{sessions} sessions: {c}");
    }
    let per_change = |c: &Value, work: &str| c["total"][work].as_u64().unwrap() as f64 / CHANGES as f64;
    for work in ["validated", "sessions_compiled", "sources_built"] {
        let (a, b) = (per_change(&small, work), per_change(&large, work));
        assert!(b <= a + 0.5, "{work}: {b:.2} a change with 10,000 sessions, {a:.2} with 100");
    }
}
