//! Issue 4: live control. The API changes sessions, filters and targets while traffic flows;
//! every change is applied whole (RCU table swaps) or refused with the running configuration
//! left in force; SIGHUP reloads the file; export and import-aws move configurations around.

use control::api::{ApiError, AwsPortRange, Client, Request, TrafficDirection};
use control::config::RuleAction;
use e2e::traffic::{mixed, tcp4, udp4, Frame, Side};
use e2e::{read_pcap, require_root, Lab};
use serde_json::Value;
use e2e::Running;
use std::process::Command;
use std::time::{Duration, Instant};

/// host: a capture replayed forever; uplink: a sink; mirror: a capture file.
fn live_ports(input: &str) -> String {
    format!(
        r#"
[dataplane]
workers = 1
eal_args = ["--no-huge", "-m", "256", "--no-pci"]

[[port]]
name = "host"
device = "net_pcap0,rx_pcap={input},infinite_rx=1"

[[port]]
name = "uplink"
device = "net_null0,no-rx=1"

[[port]]
name = "mirror"
device = "net_pcap1,tx_pcap={{lab}}/out/mirror.pcap"
ipv4 = "192.0.2.1"

[[link]]
ports = ["host", "uplink"]

[[network_interface]]
id = "eni-web"
port = "host"
"#
    )
}

fn ok(c: &mut Client, req: Request) -> Value {
    match c.call(&req).expect("talking to traffic-mirror") {
        Ok(v) => v,
        Err(e) => panic!("{req:?} refused: {e}"),
    }
}

fn refused(c: &mut Client, req: Request) -> ApiError {
    match c.call(&req).expect("talking to traffic-mirror") {
        Ok(v) => panic!("{req:?} should have been refused, got {v}"),
        Err(e) => e,
    }
}

fn export(c: &mut Client) -> String {
    ok(c, Request::ExportConfiguration {})["Configuration"].as_str().unwrap().to_owned()
}

/// A session's counters in one direction, from DescribeCounters.
fn counted(c: &mut Client, session: &str) -> (u64, u64) {
    let r = ok(c, Request::DescribeCounters {});
    let s = r["sessions"].as_array().unwrap().iter().find(|s| s["id"] == session).cloned().unwrap_or(Value::Null);
    (s["egress"]["packets"].as_u64().unwrap_or(0), s["egress"]["bytes"].as_u64().unwrap_or(0))
}

fn mirror_tx(c: &mut Client) -> u64 {
    let r = ok(c, Request::DescribePorts {});
    r["Ports"].as_array().unwrap().iter().find(|p| p["name"] == "mirror").unwrap()["tx_packets"].as_u64().unwrap()
}

/// Waits until `f` holds (at most 20 s).
fn until(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Stops a running instance with SIGTERM and checks it exits cleanly with no mbuf in use.
fn stop(lab: &Lab, child: Running) -> (Value, String) {
    // SAFETY: signalling our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let run = lab.finish(child);
    run.assert_ok();
    let stats = run.stats().clone();
    for pool in stats["mempools"].as_array().unwrap() {
        assert_eq!(pool["in_use"], 0, "{pool}");
    }
    (stats, run.stderr)
}

fn untagged_ipv4(seed: u64, n: usize) -> Vec<Frame> {
    mixed(seed, n, Side::Host).into_iter().filter(|f| f.packet.is_some_and(|p| !p.ipv6 && p.l3_offset == 14) && f.bytes.len() <= 1518).collect()
}

fn session_request(id: &str, number: u32, vni: Option<u32>, packet_length: Option<u32>) -> Request {
    Request::CreateTrafficMirrorSession {
        traffic_mirror_session_id: Some(id.into()),
        network_interface_id: "eni-web".into(),
        traffic_mirror_target_id: "tmt-ids".into(),
        traffic_mirror_filter_id: "tmf-web".into(),
        session_number: number,
        virtual_network_id: vni,
        packet_length,
        description: None,
        enabled: None,
        dry_run: false,
    }
}

fn target_request() -> Request {
    Request::CreateTrafficMirrorTarget {
        traffic_mirror_target_id: Some("tmt-ids".into()),
        kind: None,
        address: Some("192.0.2.10".parse().unwrap()),
        addresses: None,
        next_hop_mac: Some("02:00:00:00:00:20".parse().unwrap()),
        next_hop: None,
        port: "mirror".into(),
        mtu: None,
        vlan: None,
        udp_port: None,
        description: Some("the IDS".into()),
        dry_run: false,
    }
}

fn rule_request(number: u32, protocol: Option<u8>, dport: Option<u16>) -> Request {
    Request::CreateTrafficMirrorFilterRule {
        traffic_mirror_filter_id: "tmf-web".into(),
        traffic_direction: TrafficDirection::Egress,
        rule_number: number,
        rule_action: RuleAction::Accept,
        protocol,
        destination_port_range: dport.map(|p| AwsPortRange { from_port: p, to_port: p }),
        source_port_range: None,
        destination_cidr_block: None,
        source_cidr_block: None,
        description: None,
        dry_run: false,
    }
}

fn filter_request() -> Request {
    Request::CreateTrafficMirrorFilter { traffic_mirror_filter_id: Some("tmf-web".into()), description: None, network_services: None, dry_run: false }
}

#[test]
fn sessions_created_modified_and_deleted_while_traffic_flows() {
    require_root();
    let lab = Lab::new("api");
    // One frame in 100 is TCP (what the session will mirror), in sizes on both sides of the
    // two packet lengths; the replay runs at millions of frames a second.
    let sizes = [60, 64, 80, 150, 200, 250, 500, 1000, 1200, 1514];
    let frames: Vec<Frame> = (0..1000u32)
        .map(|i| if i % 100 == 0 { tcp4(i, 40000, 443, sizes[(i / 100) as usize]) } else { udp4(i, 40000, 80, 128) })
        .collect();
    lab.write_pcap("in.pcap", frames.iter().map(|f| f.bytes.as_slice()));
    let cfg = lab.config(&live_ports("{lab}/in.pcap"));
    let mut child = lab.spawn(&cfg, &[]);
    let mut c = lab.client(&mut child);

    assert_eq!(ok(&mut c, Request::DescribeTrafficMirrorSessions { traffic_mirror_session_ids: None })["TrafficMirrorSessions"], serde_json::json!([]));
    ok(&mut c, filter_request());
    let rule = ok(&mut c, rule_request(100, Some(6), None));
    assert_eq!(rule["TrafficMirrorFilterRule"]["RuleNumber"], 100);
    assert!(rule["TrafficMirrorFilterRule"]["TrafficMirrorFilterRuleId"].as_str().unwrap().starts_with("tmfr-"));
    let t = ok(&mut c, target_request());
    assert_eq!(t["TrafficMirrorTarget"]["Type"], "network-interface");
    let described = ok(&mut c, Request::DescribeTrafficMirrorTargets { traffic_mirror_target_ids: Some(vec!["tmt-ids".into()]) });
    assert_eq!(described["TrafficMirrorTargets"][0]["TrafficMirrorTargetId"], "tmt-ids");
    let described = ok(&mut c, Request::DescribeTrafficMirrorFilters { traffic_mirror_filter_ids: None });
    assert_eq!(described["TrafficMirrorFilters"][0]["EgressFilterRules"][0]["RuleNumber"], 100);
    let s = ok(&mut c, session_request("tms-1", 1, Some(4242), Some(200)));
    assert_eq!(s["TrafficMirrorSession"]["VirtualNetworkId"], 4242);
    assert_eq!(s["TrafficMirrorSession"]["PacketLength"], 200);

    // Copies appear...
    until("copies", || counted(&mut c, "tms-1").0 > 2000);
    let a = counted(&mut c, "tms-1");
    until("more copies", || counted(&mut c, "tms-1").0 > a.0 + 2000);
    // The window before the change closes before the request is sent.
    let a2 = counted(&mut c, "tms-1");
    // ...and shrink once the packet length changes: every copy after the reply is cut at 64.
    ok(&mut c, Request::ModifyTrafficMirrorSession {
        traffic_mirror_session_id: "tms-1".into(),
        traffic_mirror_target_id: None,
        traffic_mirror_filter_id: None,
        packet_length: Some(64),
        session_number: None,
        virtual_network_id: None,
        description: None,
        enabled: None,
        remove_fields: vec![],
        dry_run: false,
    });
    let b = counted(&mut c, "tms-1");
    until("copies after the change", || counted(&mut c, "tms-1").0 > b.0 + 2000);
    let cc = counted(&mut c, "tms-1");
    let before = (a2.1 - a.1) as f64 / (a2.0 - a.0) as f64;
    let after = (cc.1 - b.1) as f64 / (cc.0 - b.0) as f64;
    assert!(before > 100.0, "copies were up to 200 bytes: {before:.1} on average");
    assert!(after <= 64.0, "copies are at most 64 bytes after the change: {after:.1} on average");

    // ...and stop once the session is deleted.
    ok(&mut c, Request::DeleteTrafficMirrorSession { traffic_mirror_session_id: "tms-1".into(), dry_run: false });
    let x = mirror_tx(&mut c);
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(mirror_tx(&mut c), x, "no copy after the session is gone");
    let (stats, stderr) = stop(&lab, child);
    assert!(stderr.contains("created session tms-1") && stderr.contains("modified session tms-1") && stderr.contains("deleted session tms-1"), "one log line per change:\n{stderr}");

    // The capture: every copy of VNI 4242, first cut at 200, then, from one copy on, at 64.
    let copies = read_pcap(&lab.path("out/mirror.pcap"));
    assert_eq!(copies.len() as u64, x);
    assert_eq!(stats["ports"][2]["tx_packets"].as_u64(), Some(x));
    let cut = |c: &[u8]| (c.len() - 50, 14 + usize::from(u16::from_be_bytes([c[50 + 16], c[50 + 17]])));
    assert!(copies.iter().all(|c| c[46..49] == [0, 0x10, 0x92]), "VNI 4242");
    let switch = copies.iter().position(|c| {
        let (inner, orig) = cut(c);
        inner != orig.min(200)
    });
    let switch = switch.expect("some copies were cut at 64");
    assert!(switch > 2000, "the first {switch} copies were cut at 200");
    for (i, c) in copies.iter().enumerate().skip(switch) {
        let (inner, orig) = cut(c);
        assert_eq!(inner, orig.min(64), "copy {i}: after the change every copy is cut at 64");
    }
}

#[test]
fn bad_requests_are_refused_and_change_nothing() {
    require_root();
    let lab = Lab::new("badreq");
    lab.write_pcap("in.pcap", untagged_ipv4(92, 500).iter().map(|f| f.bytes.as_slice()));
    let cfg = lab.config(&live_ports("{lab}/in.pcap"));
    let mut child = lab.spawn(&cfg, &[]);
    let mut c = lab.client(&mut child);
    ok(&mut c, filter_request());
    ok(&mut c, rule_request(100, Some(6), None));
    ok(&mut c, target_request());
    for n in 1..=3 {
        ok(&mut c, session_request(&format!("tms-{n}"), n, Some(n), None));
    }
    until("copies", || counted(&mut c, "tms-1").0 > 100);
    let running = export(&mut c);

    let modify = |id: &str, vni: Option<u32>, packet_length: Option<u32>| Request::ModifyTrafficMirrorSession {
        traffic_mirror_session_id: id.into(),
        traffic_mirror_target_id: None,
        traffic_mirror_filter_id: None,
        packet_length,
        session_number: None,
        virtual_network_id: vni,
        description: None,
        enabled: None,
        remove_fields: vec![],
        dry_run: false,
    };
    let mut bad_range = rule_request(200, Some(6), None);
    if let Request::CreateTrafficMirrorFilterRule { destination_port_range, .. } = &mut bad_range {
        *destination_port_range = Some(AwsPortRange { from_port: 500, to_port: 400 });
    }
    let mut unknown_target = session_request("tms-x", 9, None, None);
    if let Request::CreateTrafficMirrorSession { traffic_mirror_target_id, network_interface_id, .. } = &mut unknown_target {
        *traffic_mirror_target_id = "tmt-nope".into();
        *network_interface_id = "eni-web".into();
    }
    let cases: Vec<(Request, &str, &str)> = vec![
        (modify("tms-nope", Some(5), None), "InvalidTrafficMirrorSessionId.NotFound", "tms-nope"),
        (rule_request(100, Some(17), None), "InvalidParameterValue", "rule number 100 is already used"),
        (modify("tms-1", Some(1 << 24), None), "InvalidParameterValue", "virtual_network_id = 16777216: must be 0-16777215"),
        (modify("tms-1", None, Some(0)), "InvalidParameterValue", "packet_length = 0"),
        (session_request("tms-4", 4, None, None), "TrafficMirrorSessionsPerSourceLimitExceeded", "already has 3 sessions"),
        (unknown_target, "InvalidTrafficMirrorTargetId.NotFound", "tmt-nope"),
        (Request::DeleteTrafficMirrorFilter { traffic_mirror_filter_id: "tmf-web".into(), dry_run: false }, "DependencyViolation", "filter tmf-web is in use by session tms-1"),
        (Request::DeleteTrafficMirrorTarget { traffic_mirror_target_id: "tmt-ids".into(), dry_run: false }, "DependencyViolation", "target tmt-ids is in use by session tms-1"),
        (Request::DeleteTrafficMirrorTarget { traffic_mirror_target_id: "tmt-nope".into(), dry_run: false }, "InvalidTrafficMirrorTargetId.NotFound", "tmt-nope"),
        (Request::DescribeTrafficMirrorFilters { traffic_mirror_filter_ids: Some(vec!["tmf-web".into(), "tmf-nope".into()]) }, "InvalidTrafficMirrorFilterId.NotFound", "tmf-nope"),
        (bad_range, "InvalidParameterValue", "from = 500 is greater than to = 400"),
    ];
    for (req, code, text) in cases {
        let e = refused(&mut c, req);
        assert_eq!(e.code, code, "{e}");
        assert!(e.message.contains(text), "{e}");
        assert_eq!(export(&mut c), running, "a refused request changed the running configuration");
    }
    // A dry run says it would work and changes nothing.
    let mut dry = modify("tms-1", Some(77), None);
    if let Request::ModifyTrafficMirrorSession { dry_run, .. } = &mut dry {
        *dry_run = true;
    }
    assert_eq!(refused(&mut c, dry).code, "DryRunOperation");
    assert_eq!(export(&mut c), running);

    // Requests that are not requests.
    for (line, code) in [("{\"Action\":\"LaunchRockets\"}", "InvalidAction"), ("{not json", "InvalidParameterValue"), ("{\"Action\":\"DeleteTrafficMirrorSession\"}", "InvalidParameterValue")] {
        use std::io::{BufRead, Write};
        let mut s = std::os::unix::net::UnixStream::connect(lab.socket()).unwrap();
        writeln!(s, "{line}").unwrap();
        let mut reply = String::new();
        std::io::BufReader::new(s).read_line(&mut reply).unwrap();
        let v: Value = serde_json::from_str(&reply).unwrap();
        assert_eq!(v["Error"]["Code"], code, "{line}: {reply}");
    }
    assert_eq!(export(&mut c), running);
    let before = counted(&mut c, "tms-1").0;
    until("traffic still mirrored", || counted(&mut c, "tms-1").0 > before + 100);
    stop(&lab, child);
}

#[test]
fn thousands_of_table_swaps_under_traffic() {
    require_root();
    let lab = Lab::new("swaps");
    // 16 bursts of 32 frames; only the first burst's frames are mirrored, so each burst of
    // copies is one RX burst, whose copies must all come from one table.
    let frames: Vec<Frame> = (0..512u32).map(|i| udp4(i, 40000, if i < 32 { 7777 } else { 80 }, 64)).collect();
    lab.write_pcap("in.pcap", frames.iter().map(|f| f.bytes.as_slice()));
    let cfg = lab.config(&live_ports("{lab}/in.pcap"));
    let mut child = lab.spawn(&cfg, &[]);
    let mut c = lab.client(&mut child);
    ok(&mut c, filter_request());
    ok(&mut c, rule_request(1, Some(17), Some(7777)));
    ok(&mut c, target_request());
    ok(&mut c, session_request("tms-1", 1, Some(1000), Some(46)));
    until("copies", || counted(&mut c, "tms-1").0 > 1000);

    const SWAPS: u32 = 3000;
    let start = Instant::now();
    for vni in 1001..=1000 + SWAPS {
        ok(&mut c, Request::ModifyTrafficMirrorSession {
            traffic_mirror_session_id: "tms-1".into(),
            traffic_mirror_target_id: None,
            traffic_mirror_filter_id: None,
            packet_length: None,
            session_number: None,
            virtual_network_id: Some(vni),
            description: None,
            enabled: None,
            remove_fields: vec![],
            dry_run: false,
        });
    }
    let took = start.elapsed();
    let last = counted(&mut c, "tms-1").0;
    until("copies after the last swap", || counted(&mut c, "tms-1").0 > last + 1000);
    let (stats, _) = stop(&lab, child);
    eprintln!("{SWAPS} swaps in {took:?}");

    let copies = read_pcap(&lab.path("out/mirror.pcap"));
    assert_eq!(copies.len() as u64, stats["ports"][2]["tx_packets"].as_u64().unwrap());
    let vni = |c: &[u8]| u32::from_be_bytes([0, c[46], c[47], c[48]]);
    let seq = |c: &[u8]| u32::from_be_bytes([c[50 + 42], c[50 + 43], c[50 + 44], c[50 + 45]]);
    let mut seen = std::collections::BTreeSet::new();
    let mut last_vni = 0;
    for (i, burst) in copies.chunks(32).enumerate() {
        let v = vni(&burst[0]);
        for (k, c) in burst.iter().enumerate() {
            assert_eq!(seq(c), k as u32, "burst {i}: copies come whole, in order");
            assert_eq!(vni(c), v, "burst {i}: one table per burst, never a mix");
        }
        assert!((1000..=1000 + SWAPS).contains(&v), "burst {i}: VNI {v} was never published");
        assert!(v >= last_vni, "burst {i}: VNI {v} after {last_vni}: an old table came back");
        last_vni = v;
        seen.insert(v);
    }
    assert_eq!(copies.len() % 32, 0, "only whole bursts");
    assert_eq!(last_vni, 1000 + SWAPS, "the last table is the one in force");
    assert!(seen.len() > 100, "the swaps happened while copies flowed: {} tables seen", seen.len());
}

#[test]
fn sighup_reloads_the_file_and_a_bad_file_changes_nothing() {
    require_root();
    let lab = Lab::new("reload");
    lab.write_pcap("in.pcap", untagged_ipv4(93, 500).iter().map(|f| f.bytes.as_slice()));
    let mirroring = |vni: u32| {
        format!(
            "{}\n[[target]]\nid = \"tmt-ids\"\ntype = \"network-interface\"\naddress = \"192.0.2.10\"\nnext_hop_mac = \"02:00:00:00:00:20\"\nport = \"mirror\"\n\n[[filter]]\nid = \"tmf-web\"\n[[filter.egress_rule]]\nrule_number = 1\naction = \"accept\"\n\n[[session]]\nid = \"tms-1\"\nsource = \"eni-web\"\ntarget = \"tmt-ids\"\nfilter = \"tmf-web\"\nsession_number = 1\nvirtual_network_id = {vni}\n",
            live_ports("{lab}/in.pcap")
        )
    };
    let cfg = lab.config(&mirroring(100));
    let mut child = lab.spawn(&cfg, &[]);
    let mut c = lab.client(&mut child);
    let vni = |c: &mut Client| ok(c, Request::DescribeTrafficMirrorSessions { traffic_mirror_session_ids: None })["TrafficMirrorSessions"][0]["VirtualNetworkId"].clone();
    assert_eq!(vni(&mut c), 100);
    let hup = |child: &Running| {
        // SAFETY: signalling our own child.
        unsafe { libc::kill(child.id() as i32, libc::SIGHUP) };
    };

    lab.config(&mirroring(200));
    hup(&child);
    until("the reload", || vni(&mut c) == 200);

    // A file with an error, and one that changes a port: both refused, VNI 200 stays. (Each
    // reload is awaited: signals sent close together coalesce.)
    let running = export(&mut c);
    let refusals = || std::fs::read_to_string(lab.path("run.stderr")).unwrap_or_default().matches("reload refused").count();
    lab.config(&mirroring(300).replace("session_number = 1", "session_number = 1\nsesion_number = 2"));
    hup(&child);
    until("the first refusal", || refusals() == 1);
    lab.config(&mirroring(300).replace("no-rx=1", "no-rx=1,size=128"));
    hup(&child);
    until("the second refusal", || refusals() == 2);
    assert_eq!(vni(&mut c), 200);
    assert_eq!(export(&mut c), running);
    let (_, stderr) = stop(&lab, child);
    assert!(stderr.contains("reload refused") && stderr.contains("unknown field `sesion_number`"), "{stderr}");
    assert!(stderr.contains("[[port]] can only change with a restart"), "{stderr}");
}

#[test]
fn export_writes_the_running_configuration() {
    require_root();
    let lab = Lab::new("export");
    lab.write_pcap("in.pcap", untagged_ipv4(94, 300).iter().map(|f| f.bytes.as_slice()));
    let cfg = lab.config(&live_ports("{lab}/in.pcap"));
    let mut child = lab.spawn(&cfg, &[]);
    let mut c = lab.client(&mut child);
    ok(&mut c, filter_request());
    ok(&mut c, rule_request(10, Some(6), Some(443)));
    ok(&mut c, target_request());
    ok(&mut c, session_request("tms-e", 5, None, Some(128)));
    let described = ok(&mut c, Request::DescribeTrafficMirrorSessions { traffic_mirror_session_ids: None });

    let out = Command::new(e2e::binary()).args(["export", "--config"]).arg(&cfg).arg("-o").arg(lab.path("exported.toml")).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    stop(&lab, child);

    // The exported file is a valid configuration that starts the same sessions (with the VNI
    // that was assigned, now written out).
    let text = std::fs::read_to_string(lab.path("exported.toml")).unwrap();
    assert!(text.contains("id = \"tms-e\"") && text.contains("virtual_network_id"), "{text}");
    let exported = lab.config(&text);
    let mut child = lab.spawn(&exported, &[]);
    let mut c = lab.client(&mut child);
    assert_eq!(ok(&mut c, Request::DescribeTrafficMirrorSessions { traffic_mirror_session_ids: None }), described);
    stop(&lab, child);
}

#[test]
fn ctl_speaks_the_aws_cli_verbs() {
    require_root();
    let lab = Lab::new("ctl");
    lab.write_pcap("in.pcap", untagged_ipv4(95, 300).iter().map(|f| f.bytes.as_slice()));
    let cfg = lab.config(&live_ports("{lab}/in.pcap"));
    let mut child = lab.spawn(&cfg, &[]);
    let _ = lab.client(&mut child);
    let ctl = |args: &[&str]| {
        let out = Command::new(e2e::binary()).arg("ctl").arg("--config").arg(&cfg).args(args).output().unwrap();
        (out.status.code(), String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
    };
    let (code, out, err) = ctl(&["create-traffic-mirror-target", "--traffic-mirror-target-id", "tmt-ids", "--address", "192.0.2.10", "--next-hop-mac", "02:00:00:00:00:20", "--port", "mirror"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("tmt-ids") && out.contains("network-interface") && out.contains("192.0.2.10"), "{out}");
    let (code, _, err) = ctl(&["create-traffic-mirror-filter", "--traffic-mirror-filter-id", "tmf-web", "--network-services", "amazon-dns"]);
    assert_eq!(code, Some(0), "{err}");
    let (code, out, err) = ctl(&[
        "create-traffic-mirror-filter-rule", "--traffic-mirror-filter-id", "tmf-web", "--traffic-direction", "egress", "--rule-number", "100",
        "--rule-action", "accept", "--protocol", "6", "--destination-port-range", "FromPort=443,ToPort=443", "--destination-cidr-block", "0.0.0.0/0",
    ]);
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("egress") && out.contains("443") && out.contains("tmfr-"), "{out}");
    let (code, out, err) = ctl(&[
        "create-traffic-mirror-session", "--traffic-mirror-session-id", "tms-cli", "--network-interface-id", "eni-web", "--traffic-mirror-target-id",
        "tmt-ids", "--traffic-mirror-filter-id", "tmf-web", "--session-number", "1", "--virtual-network-id", "321", "--packet-length", "96",
    ]);
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("tms-cli") && out.contains("321") && out.contains("96"), "{out}");
    let (_, out, _) = ctl(&["describe-traffic-mirror-filters"]);
    assert!(out.contains("tmf-web [amazon-dns]"), "{out}");
    let (code, out, _) = ctl(&["--json", "describe-traffic-mirror-sessions"]);
    assert_eq!(code, Some(0));
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["TrafficMirrorSessions"][0]["SessionNumber"], 1);
    let (code, _, err) = ctl(&["delete-traffic-mirror-session", "--traffic-mirror-session-id", "tms-nope"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("InvalidTrafficMirrorSessionId.NotFound"), "{err}");
    let (code, out, _) = ctl(&["stats"]);
    assert_eq!(code, Some(0));
    assert!(out.contains("tms-cli") && out.contains("mempool tm_rx"), "{out}");
    let (_, out, _) = ctl(&["describe-sources"]);
    assert!(out.contains("eni-web") && out.contains("tms-cli"), "{out}");
    stop(&lab, child);
}

#[test]
fn a_second_instance_on_the_same_socket_is_refused() {
    require_root();
    let lab = Lab::new("twice");
    lab.write_pcap("in.pcap", untagged_ipv4(96, 100).iter().map(|f| f.bytes.as_slice()));
    let cfg = lab.config(&live_ports("{lab}/in.pcap"));
    let mut first = lab.spawn(&cfg, &[]);
    let _ = lab.client(&mut first);
    let second = Command::new(e2e::binary()).args(["run", "--config"]).arg(&cfg).args(["--", "--file-prefix", "tm-e2e-twice-b"]).output().unwrap();
    assert_eq!(second.status.code(), Some(2));
    let err = String::from_utf8_lossy(&second.stderr);
    assert!(err.contains("another traffic-mirror is listening on"), "{err}");
    assert!(!err.contains("EAL:"), "DPDK must not start: {err}");
    stop(&lab, first);
    assert!(!lab.socket().exists(), "the socket is removed at exit");
}
