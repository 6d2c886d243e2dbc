//! Issues 4 and 17: the control API, end to end over the socket with EC2's member names. Every
//! change is applied whole while traffic flows (RCU table swaps) or refused, with EC2's code and
//! a message naming the member and value, leaving the running configuration in force; changes
//! are on disk before they are answered and survive SIGKILL, restart and reload; a hand edit is
//! never overwritten; `ctl` runs the AWS CLI documentation's examples.

use control::api::{ApiError, Client};
use e2e::config::{Eni, Filter, Port, Rule, Session, Setup};
use e2e::traffic::{mixed, tcp4, udp4, Frame, Side};
use e2e::{read_pcap, require_root, Lab, Running};
use serde_json::{json, Value};
use std::process::Command;
use std::time::{Duration, Instant};

/// host: a capture replayed forever; uplink: a sink; mirror: a capture file. The monitored
/// host is in the file; the collector and everything else come through the API.
fn live_ports() -> Setup {
    Setup::lab()
        .port(Port::pcap("host").rx("{lab}/in.pcap").infinite())
        .port(Port::null("uplink"))
        .port(Port::pcap("mirror").tx("{lab}/out/mirror.pcap").ipv4("192.0.2.1"))
        .link("host", "uplink")
        .eni(Eni::new("eni-web", "host"))
}

/// `setup` as a file with two comments: text, since whether the API's changes, folded into
/// the file, keep its comments is under test.
fn commented(setup: &Setup) -> String {
    let text = setup.toml();
    let web = "[[network_interface]]\nid = \"eni-web\"";
    assert!(text.contains(web), "{text}");
    format!("# The lab's ports; the API adds the rest.\n{}", text.replacen(web, &format!("# The web server.\n{web}"), 1))
}

/// Calls `req` (an object with its Action); panics when refused.
fn ok(c: &mut Client, req: Value) -> Value {
    match c.call_value(&req).expect("talking to traffic-mirror") {
        Ok(v) => v,
        Err(e) => panic!("{req} refused: {e}"),
    }
}

/// Calls `req`; panics when it is accepted.
fn refused(c: &mut Client, req: Value) -> ApiError {
    match c.call_value(&req).expect("talking to traffic-mirror") {
        Ok(v) => panic!("{req} should have been refused, got {v}"),
        Err(e) => e,
    }
}

fn export(c: &mut Client) -> String {
    ok(c, json!({"Action": "ExportConfiguration"}))["Configuration"].as_str().unwrap().to_owned()
}

/// A session's counters in one direction, from DescribeCounters.
fn counted(c: &mut Client, session: &str) -> (u64, u64) {
    let r = ok(c, json!({"Action": "DescribeCounters"}));
    let s = r["sessions"].as_array().unwrap().iter().find(|s| s["id"] == session).cloned().unwrap_or(Value::Null);
    (s["egress"]["packets"].as_u64().unwrap_or(0), s["egress"]["bytes"].as_u64().unwrap_or(0))
}

fn mirror_tx(c: &mut Client) -> u64 {
    let r = ok(c, json!({"Action": "DescribePorts"}));
    r["Ports"].as_array().unwrap().iter().find(|p| p["name"] == "mirror").unwrap()["tx_packets"].as_u64().unwrap()
}

/// Waits until `f` holds (at most 30 s).
fn until(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Stops a running instance with SIGTERM and checks it exits cleanly with no mbuf in use.
fn stop(lab: &Lab, child: Running) -> (Value, String) {
    signal(&child, libc::SIGTERM);
    let run = lab.finish(child);
    run.assert_ok();
    let stats = run.stats().clone();
    for pool in stats["mempools"].as_array().unwrap() {
        assert_eq!(pool["in_use"], 0, "{pool}");
    }
    (stats, run.stderr)
}

fn signal(child: &Running, sig: i32) {
    // SAFETY: signalling our own child.
    unsafe { libc::kill(child.id() as i32, sig) };
}

fn untagged_ipv4(seed: u64, n: usize) -> Vec<Frame> {
    mixed(seed, n, Side::Host).into_iter().filter(|f| f.packet.is_some_and(|p| !p.ipv6 && p.l3_offset == 14) && f.bytes.len() <= 1518).collect()
}

/// The collector in the inventory, and a target for it.
fn collector_and_target(c: &mut Client) {
    ok(c, json!({"Action": "CreateNetworkInterface", "NetworkInterfaceId": "eni-ids", "Port": "mirror", "PrivateIpAddress": "192.0.2.10", "NextHopMac": "02:00:00:00:00:20", "Description": "the IDS"}));
    let t = ok(c, json!({"Action": "CreateTrafficMirrorTarget", "TrafficMirrorTargetId": "tmt-ids", "NetworkInterfaceId": "eni-ids", "Description": "the IDS"}));
    assert_eq!(t["TrafficMirrorTarget"]["Type"], "network-interface");
    assert_eq!(t["TrafficMirrorTarget"]["OwnerId"], "000000000000");
}

/// traffic-mirror on [`live_ports`], replaying `frames`, with the filter of
/// [`filter_request`] holding `rule` and the collector and target of [`collector_and_target`]:
/// ready for sessions. Returns its config file, the process and a client.
fn filtering(lab: &Lab, frames: &[Frame], rule: Value) -> (std::path::PathBuf, Running, Client) {
    lab.write_pcap("in.pcap", frames.iter().map(|f| f.bytes.as_slice()));
    let cfg = lab.config(&commented(&live_ports()));
    let mut child = lab.spawn(&cfg, &[]);
    let mut c = lab.client(&mut child);
    ok(&mut c, filter_request());
    ok(&mut c, rule);
    collector_and_target(&mut c);
    (cfg, child, c)
}

fn filter_request() -> Value {
    json!({"Action": "CreateTrafficMirrorFilter", "TrafficMirrorFilterId": "tmf-web"})
}

fn rule_request(number: u32, protocol: Option<u8>, dport: Option<u16>) -> Value {
    let mut r = json!({"Action": "CreateTrafficMirrorFilterRule", "TrafficMirrorFilterId": "tmf-web", "TrafficDirection": "egress", "RuleNumber": number,
                       "RuleAction": "accept", "SourceCidrBlock": "0.0.0.0/0", "DestinationCidrBlock": "0.0.0.0/0"});
    if let Some(p) = protocol {
        r["Protocol"] = json!(p);
    }
    if let Some(p) = dport {
        r["DestinationPortRange"] = json!({"FromPort": p, "ToPort": p});
    }
    r
}

fn session_request(id: &str, number: u32, vni: Option<u32>, packet_length: Option<u32>) -> Value {
    let mut r = json!({"Action": "CreateTrafficMirrorSession", "TrafficMirrorSessionId": id, "NetworkInterfaceId": "eni-web", "TrafficMirrorTargetId": "tmt-ids",
                       "TrafficMirrorFilterId": "tmf-web", "SessionNumber": number});
    if let Some(v) = vni {
        r["VirtualNetworkId"] = json!(v);
    }
    if let Some(l) = packet_length {
        r["PacketLength"] = json!(l);
    }
    r
}

fn modify(id: &str, members: Value) -> Value {
    let mut r = json!({"Action": "ModifyTrafficMirrorSession", "TrafficMirrorSessionId": id});
    for (k, v) in members.as_object().unwrap() {
        r[k] = v.clone();
    }
    r
}

#[test]
fn sessions_created_modified_and_deleted_while_traffic_flows() {
    require_root();
    let lab = Lab::new("api");
    // One frame in 100 is TCP (what the session will mirror), in sizes on both sides of the
    // two packet lengths; the replay runs at millions of frames a second.
    let sizes = [60, 64, 80, 150, 200, 250, 500, 1000, 1200, 1514];
    let frames: Vec<Frame> = (0..1000u32).map(|i| if i % 100 == 0 { tcp4(i, 40000, 443, sizes[(i / 100) as usize]) } else { udp4(i, 40000, 80, 128) }).collect();
    lab.write_pcap("in.pcap", frames.iter().map(|f| f.bytes.as_slice()));
    let cfg = lab.config(&live_ports().toml());
    let mut child = lab.spawn(&cfg, &[]);
    let mut c = lab.client(&mut child);

    assert_eq!(ok(&mut c, json!({"Action": "DescribeTrafficMirrorSessions"}))["TrafficMirrorSessions"], json!([]));
    ok(&mut c, filter_request());
    let rule = ok(&mut c, rule_request(100, Some(6), None));
    assert_eq!(rule["TrafficMirrorFilterRule"]["RuleNumber"], 100);
    assert!(rule["TrafficMirrorFilterRule"]["TrafficMirrorFilterRuleId"].as_str().unwrap().starts_with("tmfr-"));
    collector_and_target(&mut c);
    let described = ok(&mut c, json!({"Action": "DescribeTrafficMirrorTargets", "TrafficMirrorTargetIds": ["tmt-ids"]}));
    assert_eq!(described["TrafficMirrorTargets"][0]["NetworkInterfaceId"], "eni-ids");
    let described = ok(&mut c, json!({"Action": "DescribeTrafficMirrorFilters"}));
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
    ok(&mut c, modify("tms-1", json!({"PacketLength": 64})));
    let b = counted(&mut c, "tms-1");
    until("copies after the change", || counted(&mut c, "tms-1").0 > b.0 + 2000);
    let cc = counted(&mut c, "tms-1");
    let before = (a2.1 - a.1) as f64 / (a2.0 - a.0) as f64;
    let after = (cc.1 - b.1) as f64 / (cc.0 - b.0) as f64;
    assert!(before > 100.0, "copies were up to 200 bytes: {before:.1} on average");
    assert!(after <= 64.0, "copies are at most 64 bytes after the change: {after:.1} on average");

    // ...and stop once the session is deleted.
    ok(&mut c, json!({"Action": "DeleteTrafficMirrorSession", "TrafficMirrorSessionId": "tms-1"}));
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
fn bad_requests_are_refused_in_the_apis_terms_and_change_nothing() {
    require_root();
    let lab = Lab::new("badreq");
    let (_, child, mut c) = filtering(&lab, &untagged_ipv4(92, 500), rule_request(100, Some(6), None));
    for n in 1..=3 {
        ok(&mut c, session_request(&format!("tms-{n}"), n, Some(n), None));
    }
    until("copies", || counted(&mut c, "tms-1").0 > 100);
    let running = export(&mut c);

    let mut bad_range = rule_request(200, Some(6), None);
    bad_range["DestinationPortRange"] = json!({"FromPort": 500, "ToPort": 400});
    let mut bad_cidr = rule_request(200, Some(6), None);
    bad_cidr["SourceCidrBlock"] = json!("10.0.0.0/33");
    let mut no_cidr = rule_request(200, Some(6), None);
    no_cidr.as_object_mut().unwrap().remove("DestinationCidrBlock");
    let mut bad_action = rule_request(200, Some(6), None);
    bad_action["RuleAction"] = json!("allow");
    let mut two = session_request("tms-x", 9, None, None);
    two["SessionNumber"] = json!("two");
    let mut unknown_target = session_request("tms-x", 9, None, None);
    unknown_target["TrafficMirrorTargetId"] = json!("tmt-nope");
    let mut misspelt = session_request("tms-x", 9, None, None);
    misspelt["PacketLenght"] = json!(64);
    let mut dryrun_misspelt = modify("tms-1", json!({"VirtualNetworkId": 77}));
    dryrun_misspelt["Dryrun"] = json!(true);
    let cases: Vec<(Value, &str, &str)> = vec![
        (misspelt, "UnknownParameter", "The parameter PacketLenght is not recognized"),
        (dryrun_misspelt, "UnknownParameter", "The parameter Dryrun is not recognized"),
        (bad_cidr, "InvalidParameterValue", "Value (10.0.0.0/33) for parameter SourceCidrBlock is invalid"),
        (two, "InvalidParameterValue", "Value (two) for parameter SessionNumber is invalid"),
        (bad_action, "InvalidParameterValue", "Value (allow) for parameter RuleAction is invalid: valid values are accept, reject"),
        (no_cidr, "MissingParameter", "The request must contain the parameter DestinationCidrBlock"),
        (json!({"Action": "DeleteTrafficMirrorSession"}), "MissingParameter", "TrafficMirrorSessionId"),
        (modify("tms-nope", json!({"VirtualNetworkId": 5})), "InvalidTrafficMirrorSessionId.NotFound", "'tms-nope' does not exist"),
        (rule_request(100, Some(17), None), "TrafficMirrorFilterRuleAlreadyExists", "egress rule 100"),
        (modify("tms-1", json!({"VirtualNetworkId": 1 << 24})), "InvalidParameterValue", "Value (16777216) for parameter VirtualNetworkId is invalid: must be 0-16777215"),
        (modify("tms-1", json!({"PacketLength": 0})), "InvalidParameterValue", "Value (0) for parameter PacketLength is invalid"),
        (session_request("tms-4", 4, None, None), "TrafficMirrorSessionsPerInterfaceLimitExceeded", "more than 3 sessions"),
        (unknown_target, "InvalidTrafficMirrorTargetId.NotFound", "'tmt-nope' does not exist"),
        (json!({"Action": "DeleteTrafficMirrorFilter", "TrafficMirrorFilterId": "tmf-web"}), "DependencyViolation", "'tmf-web' is in use by traffic mirror session 'tms-1'"),
        (json!({"Action": "DeleteTrafficMirrorTarget", "TrafficMirrorTargetId": "tmt-ids"}), "DependencyViolation", "'tmt-ids' is in use by traffic mirror session 'tms-1'"),
        (json!({"Action": "DeleteNetworkInterface", "NetworkInterfaceId": "eni-ids"}), "DependencyViolation", "in use by traffic mirror target 'tmt-ids'"),
        (json!({"Action": "DeleteTrafficMirrorTarget", "TrafficMirrorTargetId": "tmt-nope"}), "InvalidTrafficMirrorTargetId.NotFound", "tmt-nope"),
        (json!({"Action": "DescribeTrafficMirrorFilters", "TrafficMirrorFilterIds": ["tmf-web", "tmf-nope"]}), "InvalidTrafficMirrorFilterId.NotFound", "tmf-nope"),
        (json!({"Action": "DescribeTrafficMirrorSessions", "Filters": [{"Name": "colour", "Values": ["red"]}]}), "InvalidParameterValue", "The filter 'colour' is invalid"),
        (json!({"Action": "CreateTrafficMirrorTarget", "GatewayLoadBalancerEndpointId": "vpce-nope"}), "InvalidVpcEndpointId.NotFound", "vpce-nope"),
        (bad_range, "InvalidParameterValue", "Value ({ from = 500, to = 400 }) for parameter DestinationPortRange is invalid: its first port is greater than its last"),
    ];
    for (req, code, text) in cases {
        let e = refused(&mut c, req.clone());
        assert_eq!(e.code, code, "{req}: {e}");
        assert!(e.message.contains(text), "{req}: {e}");
        assert!(!e.message.contains("[[") && !e.message.contains("_port") && !e.message.contains("session_number"), "API terms, not the file's: {e}");
        assert_eq!(export(&mut c), running, "a refused request changed the running configuration");
    }
    // A dry run says it would work and changes nothing.
    let mut dry = modify("tms-1", json!({"VirtualNetworkId": 77}));
    dry["DryRun"] = json!(true);
    assert_eq!(refused(&mut c, dry).code, "DryRunOperation");
    assert_eq!(export(&mut c), running);

    // Requests that are not requests, and one too long.
    let long = format!("{{\"Action\":\"DescribePorts\",\"x\":\"{}\"}}", "y".repeat(2 << 20));
    for (line, code) in [
        ("{\"Action\":\"LaunchRockets\"}".to_owned(), "InvalidAction"),
        ("{not json".to_owned(), "InvalidRequest"),
        ("[1,2]".to_owned(), "InvalidRequest"),
        ("{\"SessionNumber\":1}".to_owned(), "MissingAction"),
        (long, "InvalidRequest"),
    ] {
        use std::io::{BufRead, Write};
        let mut s = std::os::unix::net::UnixStream::connect(lab.socket()).unwrap();
        let _ = writeln!(s, "{line}");
        let mut reply = String::new();
        std::io::BufReader::new(s).read_line(&mut reply).unwrap();
        let v: Value = serde_json::from_str(&reply).unwrap();
        assert_eq!(v["Error"]["Code"], code, "{}: {reply}", &line[..line.len().min(60)]);
    }
    assert_eq!(export(&mut c), running);
    let before = counted(&mut c, "tms-1").0;
    until("traffic still mirrored", || counted(&mut c, "tms-1").0 > before + 100);
    stop(&lab, child);
}

#[test]
fn every_action_answers_with_ec2s_members_tags_filters_and_pages() {
    require_root();
    let lab = Lab::new("actions");
    lab.write_pcap("in.pcap", untagged_ipv4(97, 200).iter().map(|f| f.bytes.as_slice()));
    let cfg = lab.config(&live_ports().with(|c| c.quotas.sessions_per_source = 40).toml());
    let mut child = lab.spawn(&cfg, &[]);
    let mut c = lab.client(&mut child);
    let team = |v: &str| json!([{"ResourceType": "traffic-mirror-session", "Tags": [{"Key": "team", "Value": v}]}]);

    // The inventory's verbs.
    collector_and_target(&mut c);
    let lb = ok(&mut c, json!({"Action": "CreateLoadBalancer", "Port": "mirror", "Addresses": ["192.0.2.20", "192.0.2.21"], "NextHopMac": "02:00:00:00:00:20"}));
    let arn = lb["LoadBalancer"]["LoadBalancerArn"].as_str().unwrap().to_owned();
    let nlb = ok(&mut c, json!({"Action": "CreateTrafficMirrorTarget", "NetworkLoadBalancerArn": arn}));
    assert_eq!(nlb["TrafficMirrorTarget"]["Type"], "network-load-balancer");
    let ep = ok(&mut c, json!({"Action": "CreateGatewayLoadBalancerEndpoint", "Port": "mirror", "IpAddress": "192.0.2.30", "NextHopMac": "02:00:00:00:00:20"}));
    let vpce = ep["GatewayLoadBalancerEndpoint"]["GatewayLoadBalancerEndpointId"].as_str().unwrap().to_owned();
    let gw = ok(&mut c, json!({"Action": "CreateTrafficMirrorTarget", "GatewayLoadBalancerEndpointId": vpce}));
    assert_eq!(gw["TrafficMirrorTarget"]["Type"], "gateway-load-balancer-endpoint");
    assert_eq!(ok(&mut c, json!({"Action": "DescribeNetworkInterfaces"}))["NetworkInterfaces"].as_array().unwrap().len(), 2);
    assert_eq!(ok(&mut c, json!({"Action": "DescribeLoadBalancers"}))["LoadBalancers"][0]["Addresses"], json!(["192.0.2.20", "192.0.2.21"]));
    assert_eq!(ok(&mut c, json!({"Action": "DescribeGatewayLoadBalancerEndpoints"}))["GatewayLoadBalancerEndpoints"][0]["IpAddress"], "192.0.2.30");
    let targets = ok(&mut c, json!({"Action": "DescribeTrafficMirrorTargets", "Filters": [{"Name": "network-load-balancer-arn", "Values": [arn]}]}));
    assert_eq!(targets["TrafficMirrorTargets"].as_array().unwrap().len(), 1);

    // Filters, rules, network services.
    ok(&mut c, filter_request());
    let r = ok(&mut c, rule_request(10, Some(17), Some(53)));
    let rid = r["TrafficMirrorFilterRule"]["TrafficMirrorFilterRuleId"].as_str().unwrap().to_owned();
    let m = ok(&mut c, json!({"Action": "ModifyTrafficMirrorFilterRule", "TrafficMirrorFilterRuleId": rid, "TrafficDirection": "ingress", "RemoveFields": ["destination-port-range"], "Description": "DNS"}));
    assert_eq!(m["TrafficMirrorFilterRule"]["TrafficDirection"], "ingress");
    assert!(m["TrafficMirrorFilterRule"].get("DestinationPortRange").is_none());
    let rules = ok(&mut c, json!({"Action": "DescribeTrafficMirrorFilterRules", "TrafficMirrorFilterId": "tmf-web", "Filters": [{"Name": "traffic-direction", "Values": ["ingress"]}]}));
    assert_eq!(rules["TrafficMirrorFilterRules"][0]["Description"], "DNS");
    let f = ok(&mut c, json!({"Action": "ModifyTrafficMirrorFilterNetworkServices", "TrafficMirrorFilterId": "tmf-web", "AddNetworkServices": ["amazon-dns"]}));
    assert_eq!(f["TrafficMirrorFilter"]["NetworkServices"], json!(["amazon-dns"]));

    // 25 sessions, tagged; paged five at a time, each seen once, in order.
    for n in 1..=25u32 {
        let mut s = session_request(&format!("tms-{n:02}"), n, None, None);
        s["TagSpecifications"] = team(if n % 5 == 0 { "ids" } else { "web" });
        ok(&mut c, s);
    }
    let mut seen = Vec::new();
    let mut token: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut req = json!({"Action": "DescribeTrafficMirrorSessions", "MaxResults": 5});
        if let Some(t) = &token {
            req["NextToken"] = json!(t);
        }
        let page = ok(&mut c, req);
        pages += 1;
        seen.extend(page["TrafficMirrorSessions"].as_array().unwrap().iter().map(|s| s["TrafficMirrorSessionId"].as_str().unwrap().to_owned()));
        match page.get("NextToken").and_then(Value::as_str) {
            Some(t) => token = Some(t.to_owned()),
            None => break,
        }
    }
    assert_eq!(pages, 5);
    assert_eq!(seen, (1..=25).map(|n| format!("tms-{n:02}")).collect::<Vec<_>>());
    let ids = ok(&mut c, json!({"Action": "DescribeTrafficMirrorSessions", "Filters": [{"Name": "tag:team", "Values": ["ids"]}]}));
    assert_eq!(ids["TrafficMirrorSessions"].as_array().unwrap().len(), 5);
    assert_eq!(ids["TrafficMirrorSessions"][0]["Tags"], json!([{"Key": "team", "Value": "ids"}]));
    let by_number = ok(&mut c, json!({"Action": "DescribeTrafficMirrorSessions", "Filters": [{"Name": "session-number", "Values": ["7", "8"]}, {"Name": "network-interface-id", "Values": ["eni-*"]}]}));
    assert_eq!(by_number["TrafficMirrorSessions"].as_array().unwrap().len(), 2);

    // ClientToken: a retry answers the first reply; other parameters are a mismatch.
    let mut once = session_request("tms-tok", 30, None, None);
    once.as_object_mut().unwrap().remove("TrafficMirrorSessionId");
    once["ClientToken"] = json!("retry-me");
    let first = ok(&mut c, once.clone());
    let again = ok(&mut c, once.clone());
    assert_eq!(first, again);
    assert_eq!(first["ClientToken"], "retry-me");
    once["PacketLength"] = json!(100);
    assert_eq!(refused(&mut c, once).code, "IdempotentParameterMismatch");
    let all = ok(&mut c, json!({"Action": "DescribeTrafficMirrorSessions"}));
    assert_eq!(all["TrafficMirrorSessions"].as_array().unwrap().len(), 26, "the retry made nothing");

    // DryRun on every kind of action.
    for dry in [
        json!({"Action": "DescribeTrafficMirrorTargets", "DryRun": true}),
        json!({"Action": "CreateTrafficMirrorFilter", "DryRun": true}),
        json!({"Action": "DeleteTrafficMirrorFilterRule", "TrafficMirrorFilterRuleId": rid, "DryRun": true}),
        json!({"Action": "CreateNetworkInterface", "Port": "host", "MacAddress": "02:00:00:00:00:99", "DryRun": true}),
    ] {
        assert_eq!(refused(&mut c, dry.clone()).code, "DryRunOperation", "{dry}");
    }
    // The appliance's own.
    assert!(ok(&mut c, json!({"Action": "DescribeNeighbors"}))["Neighbors"].is_array());
    assert!(ok(&mut c, json!({"Action": "DescribeCounters"}))["sessions"].as_array().unwrap().len() == 26);
    assert!(ok(&mut c, json!({"Action": "ReloadConfiguration"}))["Table"].as_u64().unwrap() > 1);
    // Tear down, as EC2 orders it: sessions, then what they used.
    for s in all["TrafficMirrorSessions"].as_array().unwrap() {
        ok(&mut c, json!({"Action": "DeleteTrafficMirrorSession", "TrafficMirrorSessionId": s["TrafficMirrorSessionId"]}));
    }
    ok(&mut c, json!({"Action": "DeleteTrafficMirrorFilterRule", "TrafficMirrorFilterRuleId": rid}));
    ok(&mut c, json!({"Action": "DeleteTrafficMirrorFilter", "TrafficMirrorFilterId": "tmf-web"}));
    for t in ok(&mut c, json!({"Action": "DescribeTrafficMirrorTargets"}))["TrafficMirrorTargets"].as_array().unwrap() {
        ok(&mut c, json!({"Action": "DeleteTrafficMirrorTarget", "TrafficMirrorTargetId": t["TrafficMirrorTargetId"]}));
    }
    ok(&mut c, json!({"Action": "DeleteLoadBalancer", "LoadBalancerArn": arn}));
    ok(&mut c, json!({"Action": "DeleteGatewayLoadBalancerEndpoint", "GatewayLoadBalancerEndpointId": vpce}));
    ok(&mut c, json!({"Action": "DeleteNetworkInterface", "NetworkInterfaceId": "eni-ids"}));
    assert_eq!(ok(&mut c, json!({"Action": "DescribeTrafficMirrorTargets"}))["TrafficMirrorTargets"], json!([]));
    stop(&lab, child);
}

#[test]
fn changes_survive_sigkill_restart_and_reload_and_never_overwrite_a_hand_edit() {
    require_root();
    let lab = Lab::new("durable");
    let (cfg, child, mut c) = filtering(&lab, &untagged_ipv4(98, 300), rule_request(100, Some(6), None));
    let mut s = session_request("tms-d", 1, Some(555), Some(128));
    s["ClientToken"] = json!("tok-d");
    s["TagSpecifications"] = json!([{"ResourceType": "traffic-mirror-session", "Tags": [{"Key": "Name", "Value": "durable"}]}]);
    let created = ok(&mut c, s.clone());
    let described = ok(&mut c, json!({"Action": "DescribeTrafficMirrorSessions"}));
    // Answered means on disk: killed at once, nothing is lost.
    signal(&child, libc::SIGKILL);
    let _ = lab.finish(child);

    let mut child = lab.spawn(&cfg, &[]);
    let mut c = lab.client(&mut child);
    assert_eq!(ok(&mut c, json!({"Action": "DescribeTrafficMirrorSessions"})), described, "the change survived SIGKILL");
    assert_eq!(ok(&mut c, s.clone()), created, "a retry after the restart answers the first reply");
    until("copies", || counted(&mut c, "tms-d").0 > 100);
    // A reload keeps the changes made through the API.
    ok(&mut c, json!({"Action": "ReloadConfiguration"}));
    assert_eq!(ok(&mut c, json!({"Action": "DescribeTrafficMirrorSessions"})), described, "the reload kept the change");
    // The file itself comes to hold the changes, its comments kept.
    until("the file holding the session", || std::fs::read_to_string(&cfg).unwrap().contains("tms-d"));
    let text = std::fs::read_to_string(&cfg).unwrap();
    assert!(text.contains("# The lab's ports; the API adds the rest.") && text.contains("# The web server."), "comments kept:\n{text}");
    assert!(text.contains("[[network_interface]]\nid = \"eni-ids\"") && text.contains("network_interface_id = \"eni-ids\""), "{text}");
    control::config::parse(&text, "the folded file").expect("the folded file is a valid configuration");

    // A hand edit is never overwritten: changes through the API wait for a reload...
    let edited = text.replace("# The web server.", "# The web server, by hand.").replace("virtual_network_id = 555", "virtual_network_id = 556");
    std::fs::write(&cfg, &edited).unwrap();
    let e = {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let r = c.call_value(&modify("tms-d", json!({"Description": "after the edit"}))).unwrap();
            match r {
                Err(e) => break e,
                Ok(_) if Instant::now() < deadline => {
                    // Noticed within a second or so; undo what got in before.
                    std::thread::sleep(Duration::from_millis(100));
                }
                Ok(v) => panic!("a change after a hand edit was accepted: {v}"),
            }
        }
    };
    assert_eq!(e.code, "IncorrectState", "{e}");
    assert!(e.message.contains("edited by hand") && e.message.contains("reload"), "{e}");
    assert_eq!(std::fs::read_to_string(&cfg).unwrap(), edited, "the hand edit is untouched");
    // ...which takes the edit, and the API works again.
    ok(&mut c, json!({"Action": "ReloadConfiguration"}));
    let after = ok(&mut c, json!({"Action": "DescribeTrafficMirrorSessions"}));
    assert_eq!(after["TrafficMirrorSessions"][0]["VirtualNetworkId"], 556, "the hand edit is in force:\n{edited}\n{}", std::fs::read_to_string(lab.path("config.toml.journal")).unwrap_or_default());
    ok(&mut c, modify("tms-d", json!({"Description": "after the reload"})));
    until("the file holding the description", || std::fs::read_to_string(&cfg).unwrap().contains("after the reload"));
    assert!(std::fs::read_to_string(&cfg).unwrap().contains("# The web server, by hand."), "the hand edit's comment kept");
    let (_, stderr) = stop(&lab, child);
    assert!(stderr.contains("was edited by hand"), "{stderr}");
}

#[test]
fn thousands_of_table_swaps_under_traffic() {
    require_root();
    let lab = Lab::new("swaps");
    // 16 bursts of 32 frames; only the first burst's frames are mirrored, so each burst of
    // copies is one RX burst, whose copies must all come from one table.
    let frames: Vec<Frame> = (0..512u32).map(|i| udp4(i, 40000, if i < 32 { 7777 } else { 80 }, 64)).collect();
    let (_, child, mut c) = filtering(&lab, &frames, rule_request(1, Some(17), Some(7777)));
    ok(&mut c, session_request("tms-1", 1, Some(1000), Some(46)));
    until("copies", || counted(&mut c, "tms-1").0 > 1000);

    const SWAPS: u32 = 3000;
    let start = Instant::now();
    for vni in 1001..=1000 + SWAPS {
        ok(&mut c, modify("tms-1", json!({"VirtualNetworkId": vni})));
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
        live_ports()
            .collector("eni-ids", "tmt-ids")
            .filter(Filter::new("tmf-web").egress(Rule::accept(1)))
            .session(Session::new("tms-1", 1).source("eni-web").target("tmt-ids").filter("tmf-web").vni(vni))
            .toml()
    };
    let cfg = lab.config(&mirroring(100));
    let mut child = lab.spawn(&cfg, &[]);
    let mut c = lab.client(&mut child);
    let vni = |c: &mut Client| ok(c, json!({"Action": "DescribeTrafficMirrorSessions", "TrafficMirrorSessionIds": ["tms-1"]}))["TrafficMirrorSessions"][0]["VirtualNetworkId"].clone();
    assert_eq!(vni(&mut c), 100);

    lab.config(&mirroring(200));
    signal(&child, libc::SIGHUP);
    until("the reload", || vni(&mut c) == 200);

    // A change made through the API, kept by the reloads that follow.
    ok(&mut c, json!({"Action": "CreateTrafficMirrorSession", "TrafficMirrorSessionId": "tms-api", "NetworkInterfaceId": "eni-web", "TrafficMirrorTargetId": "tmt-ids", "TrafficMirrorFilterId": "tmf-web", "SessionNumber": 2}));
    until("the file holding it", || std::fs::read_to_string(&cfg).unwrap().contains("tms-api"));
    // A file with an error, and one that changes a port: both refused, VNI 200 stays. (Each
    // reload is awaited: signals sent close together coalesce.) Edited from what the file holds
    // now, as an operator would.
    let running = export(&mut c);
    let now = std::fs::read_to_string(&cfg).unwrap();
    let refusals = || std::fs::read_to_string(lab.path("run.stderr")).unwrap_or_default().matches("reload refused").count();
    std::fs::write(&cfg, now.replace("virtual_network_id = 200", "virtual_network_id = 300\nsesion_number = 2")).unwrap();
    signal(&child, libc::SIGHUP);
    until("the first refusal", || refusals() == 1);
    std::fs::write(&cfg, now.replace("no-rx=1", "no-rx=1,size=128")).unwrap();
    signal(&child, libc::SIGHUP);
    until("the second refusal", || refusals() == 2);
    assert_eq!(vni(&mut c), 200);
    assert_eq!(export(&mut c), running);
    // The file as it was, reloaded: the API's session is still there.
    std::fs::write(&cfg, &now).unwrap();
    signal(&child, libc::SIGHUP);
    until("a reload that takes", || std::fs::read_to_string(lab.path("run.stderr")).unwrap_or_default().matches(": reloaded ").count() >= 2);
    assert_eq!(ok(&mut c, json!({"Action": "DescribeTrafficMirrorSessions", "TrafficMirrorSessionIds": ["tms-api"]}))["TrafficMirrorSessions"].as_array().unwrap().len(), 1);
    let (_, stderr) = stop(&lab, child);
    assert!(stderr.contains("reload refused") && stderr.contains("unknown field `sesion_number`"), "{stderr}");
    assert!(stderr.contains("[[port]] changed: it can only change with a restart"), "{stderr}");
}

#[test]
fn export_writes_the_running_configuration() {
    require_root();
    let lab = Lab::new("export");
    let (cfg, child, mut c) = filtering(&lab, &untagged_ipv4(94, 300), rule_request(10, Some(6), Some(443)));
    ok(&mut c, session_request("tms-e", 5, None, Some(128)));
    let described = ok(&mut c, json!({"Action": "DescribeTrafficMirrorSessions"}));

    let out = Command::new(e2e::binary()).args(["export", "--config"]).arg(&cfg).arg("-o").arg(lab.path("exported.toml")).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    stop(&lab, child);

    // The exported file is a valid configuration that starts the same sessions (with the VNI
    // that was assigned, now written out).
    let text = std::fs::read_to_string(lab.path("exported.toml")).unwrap();
    assert!(text.contains("id = \"tms-e\"") && text.contains("virtual_network_id"), "{text}");
    let _ = std::fs::remove_file(lab.path("config.toml.journal"));
    let exported = lab.config(&text);
    let mut child = lab.spawn(&exported, &[]);
    let mut c = lab.client(&mut child);
    assert_eq!(ok(&mut c, json!({"Action": "DescribeTrafficMirrorSessions"})), described);
    stop(&lab, child);
}

/// The AWS CLI documentation's examples for the Traffic Mirroring verbs (shipped with the CLI,
/// `awscli/examples/ec2/*traffic-mirror*.rst`), as argument lists.
fn documented_examples() -> Vec<(String, Vec<String>)> {
    let venv = e2e::workspace().join("out/venv/lib");
    let site = std::fs::read_dir(&venv)
        .unwrap_or_else(|e| panic!("{}: {e}: run scripts/setup.sh (it installs the AWS CLI into out/venv)", venv.display()))
        .filter_map(|d| d.ok())
        .map(|d| d.path().join("site-packages/awscli/examples/ec2"))
        .find(|p| p.is_dir())
        .expect("the AWS CLI's examples in out/venv: run scripts/setup.sh");
    let mut out = Vec::new();
    for entry in std::fs::read_dir(&site).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if !name.contains("traffic-mirror") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        // Each example: `aws ec2 VERB \` then indented `--flag value \` lines.
        let mut lines = text.lines().peekable();
        while let Some(l) = lines.next() {
            let Some(rest) = l.trim().strip_prefix("aws ec2 ") else { continue };
            let mut command = rest.trim_end_matches('\\').trim().to_owned();
            while l.trim_end().ends_with('\\') || command.ends_with('\\') {
                let Some(next) = lines.next() else { break };
                command.push(' ');
                command.push_str(next.trim().trim_end_matches('\\').trim());
                if !next.trim_end().ends_with('\\') {
                    break;
                }
            }
            out.push((name.clone(), shell_words(&command)));
        }
    }
    out.sort();
    out
}

/// Splits a shell command line as sh would (quotes, no expansion).
fn shell_words(s: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut quote: Option<char> = None;
    let mut any = false;
    for ch in s.chars() {
        match (quote, ch) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => cur.push(c),
            (None, '\'' | '"') => {
                quote = Some(ch);
                any = true;
            }
            (None, c) if c.is_whitespace() => {
                if any || !cur.is_empty() {
                    words.push(std::mem::take(&mut cur));
                    any = false;
                }
            }
            (None, c) => cur.push(c),
        }
    }
    if any || !cur.is_empty() {
        words.push(cur);
    }
    words
}

#[test]
fn ctl_runs_the_aws_cli_documentations_examples() {
    require_root();
    let lab = Lab::new("ctl");
    lab.write_pcap("in.pcap", untagged_ipv4(95, 300).iter().map(|f| f.bytes.as_slice()));
    let cfg = lab.config(&live_ports().toml());
    let mut child = lab.spawn(&cfg, &[]);
    let mut c = lab.client(&mut child);
    let ctl = |args: &[String]| {
        let out = Command::new(e2e::binary()).arg("ctl").arg("--config").arg(&cfg).args(args).output().unwrap();
        (out.status.code(), String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
    };
    let strs = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    // What the examples refer to, in the inventory: their ENIs and NLB.
    ok(&mut c, json!({"Action": "CreateNetworkInterface", "NetworkInterfaceId": "eni-ids", "Port": "mirror", "PrivateIpAddress": "192.0.2.10", "NextHopMac": "02:00:00:00:00:20"}));
    ok(&mut c, json!({"Action": "CreateLoadBalancer", "LoadBalancerArn": "arn:aws:elasticloadbalancing:us-east-1:111122223333:loadbalancer/net/NLB/7cdec873EXAMPLE", "Port": "mirror",
                      "Addresses": ["192.0.2.20"], "NextHopMac": "02:00:00:00:00:20"}));
    ok(&mut c, json!({"Action": "CreateGatewayLoadBalancerEndpoint", "GatewayLoadBalancerEndpointId": "vpce-0e7e1ef8f1EXAMPLE", "Port": "mirror", "IpAddress": "192.0.2.30", "NextHopMac": "02:00:00:00:00:20"}));

    let examples = documented_examples();
    let verbs: std::collections::BTreeSet<&str> = examples.iter().map(|(_, a)| a[0].as_str()).collect();
    assert!(verbs.len() >= 14, "the CLI documents its Traffic Mirroring verbs: {verbs:?}");
    // The examples in the order a user would run them, their ids changed for those made here.
    let order = ["create-traffic-mirror-filter", "create-traffic-mirror-filter-rule", "modify-traffic-mirror-filter-rule", "modify-traffic-mirror-filter-network-services",
        "create-traffic-mirror-target", "create-traffic-mirror-session", "modify-traffic-mirror-session", "describe-traffic-mirror-filters",
        "describe-traffic-mirror-targets", "describe-traffic-mirror-sessions", "delete-traffic-mirror-session", "delete-traffic-mirror-filter-rule",
        "delete-traffic-mirror-target", "delete-traffic-mirror-filter"];
    let mut ids: std::collections::HashMap<&str, String> = Default::default();
    let mut ran = std::collections::BTreeSet::new();
    for verb in order {
        for (_, args) in examples.iter().filter(|(_, a)| a[0] == verb) {
            let mut args = args.clone();
            // Only ids change: the EXAMPLE ones become those this run made.
            for i in 1..args.len() {
                let id = |k: &str| ids.get(k).cloned();
                let new = match args[i - 1].as_str() {
                    "--traffic-mirror-filter-id" => id("filter"),
                    "--traffic-mirror-filter-rule-id" => id("rule"),
                    "--traffic-mirror-target-id" => id("target"),
                    "--traffic-mirror-session-id" => id("session"),
                    "--network-interface-id" if verb == "create-traffic-mirror-session" => Some("eni-web".into()),
                    "--network-interface-id" => Some("eni-ids".into()),
                    "--traffic-mirror-target-ids" => id("target"),
                    "--traffic-mirror-filter-ids" => id("filter"),
                    _ => None,
                };
                if let Some(new) = new {
                    args[i] = new;
                }
            }
            // A target is deleted once its session is; the NLB and endpoint targets too.
            let (code, out, err) = ctl(&args);
            assert_eq!(code, Some(0), "ctl {}: {err}{out}", args.join(" "));
            let v: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("ctl {}: not JSON ({e}): {out}", args.join(" ")));
            let id_of = |k: &str| v[k].as_str().map(str::to_owned);
            if let Some(id) = v["TrafficMirrorFilter"]["TrafficMirrorFilterId"].as_str().filter(|_| verb == "create-traffic-mirror-filter") {
                ids.insert("filter", id.to_owned());
            }
            if let Some(id) = v["TrafficMirrorFilterRule"]["TrafficMirrorFilterRuleId"].as_str() {
                ids.insert("rule", id.to_owned());
            }
            if let Some(id) = v["TrafficMirrorTarget"]["TrafficMirrorTargetId"].as_str() {
                // The network-interface target is the one sessions use.
                if v["TrafficMirrorTarget"]["Type"] == "network-interface" {
                    ids.insert("target", id.to_owned());
                }
            }
            if let Some(id) = v["TrafficMirrorSession"]["TrafficMirrorSessionId"].as_str() {
                ids.insert("session", id.to_owned());
            }
            let _ = id_of;
            ran.insert(verb);
        }
    }
    assert_eq!(ran.len(), verbs.len(), "every documented verb ran: {ran:?} of {verbs:?}");
    // The other targets, made from the NLB and endpoint examples, go too.
    for t in ok(&mut c, json!({"Action": "DescribeTrafficMirrorTargets"}))["TrafficMirrorTargets"].as_array().unwrap() {
        ok(&mut c, json!({"Action": "DeleteTrafficMirrorTarget", "TrafficMirrorTargetId": t["TrafficMirrorTargetId"]}));
    }

    // The AWS CLI's other conventions: output formats, shorthand and JSON structures, tags,
    // filters, exit codes.
    let (code, _, err) = ctl(&strs(&["create-traffic-mirror-filter", "--traffic-mirror-filter-id", "tmf-web", "--tag-specifications", "ResourceType=traffic-mirror-filter,Tags=[{Key=team,Value=ids}]"]));
    assert_eq!(code, Some(0), "{err}");
    let (code, out, err) = ctl(&strs(&["create-traffic-mirror-filter-rule", "--traffic-mirror-filter-id", "tmf-web", "--traffic-direction", "egress", "--rule-number", "100",
        "--rule-action", "accept", "--protocol", "6", "--destination-port-range", r#"{"FromPort":443,"ToPort":443}"#, "--destination-cidr-block", "0.0.0.0/0", "--source-cidr-block", "0.0.0.0/0", "--output", "text"]));
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("\nTRAFFICMIRRORFILTERRULE\t") && out.contains("\nDESTINATIONPORTRANGE\t443\t443"), "{out}");
    let (code, out, _) = ctl(&strs(&["describe-traffic-mirror-filters", "--filters", "Name=tag:team,Values=ids", "--output", "table"]));
    assert_eq!(code, Some(0));
    assert!(out.contains("DescribeTrafficMirrorFilters") && out.contains("tmf-web") && out.contains("|  team"), "{out}");
    let (code, out, _) = ctl(&strs(&["describe-traffic-mirror-filters", "--filters", "Name=tag:team,Values=web"]));
    assert_eq!(code, Some(0));
    assert_eq!(serde_json::from_str::<Value>(&out).unwrap()["TrafficMirrorFilters"], json!([]));
    let (code, _, err) = ctl(&strs(&["delete-traffic-mirror-session", "--traffic-mirror-session-id", "tms-nope"]));
    assert_eq!(code, Some(255), "an API error exits 255, as the AWS CLI's");
    assert!(err.contains("An error occurred (InvalidTrafficMirrorSessionId.NotFound) when calling the DeleteTrafficMirrorSession operation"), "{err}");
    let (code, _, err) = ctl(&strs(&["delete-traffic-mirror-session"]));
    assert_eq!(code, Some(2), "a usage error exits 2: {err}");
    assert!(err.contains("--traffic-mirror-session-id"), "{err}");
    let (code, _, _) = ctl(&strs(&["create-traffic-mirror-filter", "--dry-run", "--no-dry-run", "--traffic-mirror-filter-id", "tmf-two"]));
    assert_eq!(code, Some(0), "--no-dry-run after --dry-run makes the change");
    let (code, _, err) = ctl(&strs(&["create-traffic-mirror-filter", "--dry-run"]));
    assert_eq!(code, Some(255));
    assert!(err.contains("DryRunOperation"), "{err}");
    let (code, out, _) = ctl(&strs(&["create-traffic-mirror-filter", "--help"]));
    assert_eq!(code, Some(0));
    for flag in ["--description", "--tag-specifications", "--dry-run", "--no-dry-run", "--client-token"] {
        assert!(out.contains(flag), "{flag} in the help:\n{out}");
    }
    let (code, out, _) = ctl(&strs(&["stats"]));
    assert_eq!(code, Some(0));
    assert!(out.contains("mempool tm_rx"), "{out}");
    let (code, out, _) = ctl(&strs(&["describe-network-interfaces", "--network-interface-ids", "eni-web"]));
    assert_eq!(code, Some(0));
    assert_eq!(serde_json::from_str::<Value>(&out).unwrap()["NetworkInterfaces"][0]["Port"], "host");
    stop(&lab, child);
}

#[test]
fn a_second_instance_on_the_same_socket_is_refused() {
    require_root();
    let lab = Lab::new("twice");
    lab.write_pcap("in.pcap", untagged_ipv4(96, 100).iter().map(|f| f.bytes.as_slice()));
    let cfg = lab.config(&live_ports().toml());
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
