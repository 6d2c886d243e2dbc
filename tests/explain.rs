//! Issue 22: seeing why. `traffic-mirror explain` answers what the workers do with a frame (it
//! runs their decision), so over the default configuration and its sample capture it must
//! agree, frame by frame, with the copies the real run sent, and with the rules' hit counters
//! the run kept. Against a running appliance it answers from the table in force, and the
//! rules' hits are shown by describe.

use control::api::Client;
use dataplane::wire::testing::FrameBuilder;
use e2e::config::{Eni, Filter, Port, Rule, Session, Setup};
use e2e::{built, read_pcap, require_root, sh, workspace, Lab};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::process::Command;
use std::time::{Duration, Instant};

/// `traffic-mirror explain ARGS --json`, parsed.
fn explain(args: &[&str]) -> Value {
    let out = Command::new(e2e::binary()).arg("explain").args(args).arg("--json").output().expect("running traffic-mirror explain");
    assert!(out.status.success(), "explain {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("explain --json prints JSON")
}

/// A copy explain announced, with the frame it is a copy of.
struct Announced<'a> {
    frame: u64,
    copy: &'a Value,
    bytes: Vec<u8>,
}

fn announced(frames: &Value) -> Vec<Announced<'_>> {
    let mut out = Vec::new();
    for f in frames.as_array().expect("a list of frames") {
        for c in f["Copies"].as_array().unwrap() {
            let bytes = hex::decode(c["Bytes"].as_str().expect("every copy has its bytes")).unwrap();
            out.push(Announced { frame: f["Frame"].as_u64().unwrap(), copy: c, bytes });
        }
    }
    out
}

#[test]
fn explain_over_the_default_sample_capture_agrees_frame_by_frame_with_the_copies_sent() {
    require_root();
    let lab = Lab::new("explain-default");
    // The sample capture, as scripts/run.sh writes it, and config/default.toml reading it: the
    // shipped example is under test, so its text, not a built configuration.
    let gen = built("e2e", "tm-pcapgen");
    for (side, seed) in [("host", "1"), ("uplink", "2")] {
        sh(&[gen.to_str().unwrap(), "--side", side, "--seed", seed, "--count", "10000", lab.path(&format!("{side}.pcap")).to_str().unwrap()]);
    }
    let text = std::fs::read_to_string(workspace().join("config/default.toml"))
        .unwrap()
        .replace("out/sample/", &format!("{}/", lab.root()))
        .replace("out/default/", &format!("{}/out/", lab.root()));
    assert!(text.contains(&format!("rx_pcap={}/host.pcap", lab.root())), "the default configuration reads the sample capture");
    let cfg = lab.config(&text);
    let run = lab.run(&cfg, Duration::from_secs(300));
    run.assert_ok();
    let stats = run.stats();
    for s in stats["sessions"].as_array().unwrap() {
        for dir in ["ingress", "egress"] {
            assert_eq!(s[dir]["skip_packets"], 0, "every copy was sent: {s}");
        }
    }
    let sent = read_pcap(&lab.path("out/mirror.pcap"));

    let cfg_path = cfg.to_str().unwrap();
    let host = explain(&["--config", cfg_path, "--pcap", lab.path("host.pcap").to_str().unwrap(), "--port", "host"]);
    let uplink = explain(&["--config", cfg_path, "--pcap", lab.path("uplink.pcap").to_str().unwrap(), "--port", "uplink"]);
    assert_eq!((host.as_array().unwrap().len(), uplink.as_array().unwrap().len()), (10_000, 10_000), "one answer per frame");
    let (from_host, from_uplink) = (announced(&host), announced(&uplink));
    assert!(from_host.len() > 1000 && from_uplink.len() > 1000, "the sample is mirrored both ways: {} and {}", from_host.len(), from_uplink.len());

    // The worker handles the two ports' bursts in turn, so the copies sent are the two ports'
    // copies interleaved, each port's in its frames' order: every copy sent is the next one
    // explain announced for one of the ports, byte for byte, and none is left over. (A copy of
    // a host frame never equals one of an uplink frame: their inner MACs differ.)
    let (mut h, mut u) = (0, 0);
    for (i, got) in sent.iter().enumerate() {
        let next = if from_host.get(h).is_some_and(|a| a.bytes == *got) {
            h += 1;
            &from_host[h - 1]
        } else if from_uplink.get(u).is_some_and(|a| a.bytes == *got) {
            u += 1;
            &from_uplink[u - 1]
        } else {
            let want = |a: Option<&Announced>| a.map(|a| format!("frame {}: {}", a.frame, a.copy)).unwrap_or_else(|| "none".into());
            panic!("copy {i} sent ({} bytes) is neither port's next announced copy:\n host {}\n uplink {}", got.len(), want(from_host.get(h)), want(from_uplink.get(u)));
        };
        // What explain says of it is what was sent: VNI, length, outer UDP ports.
        let c = next.copy;
        assert_eq!(c["VirtualNetworkId"].as_u64().unwrap(), u64::from(u32::from_be_bytes([0, got[46], got[47], got[48]])), "copy {i}");
        assert_eq!(c["Length"].as_u64().unwrap(), got.len() as u64, "copy {i}");
        assert_eq!(c["UdpSourcePort"].as_u64().unwrap(), u64::from(u16::from_be_bytes([got[34], got[35]])), "copy {i}");
        assert_eq!(c["UdpDestinationPort"].as_u64().unwrap(), u64::from(u16::from_be_bytes([got[36], got[37]])), "copy {i}");
    }
    assert_eq!((h, u), (from_host.len(), from_uplink.len()), "every copy explain announced was sent");

    // The run's counters say the same: copies per session and direction, frames never
    // mirrored by reason, and each rule's hits.
    let mut copies: HashMap<(String, String), u64> = HashMap::new();
    let mut reasons: HashMap<String, u64> = HashMap::new();
    let mut hits: HashMap<(String, String, String), u64> = HashMap::new();
    for f in host.as_array().unwrap().iter().chain(uplink.as_array().unwrap()) {
        for c in f["Copies"].as_array().unwrap() {
            *copies.entry((c["TrafficMirrorSessionId"].as_str().unwrap().into(), c["Direction"].as_str().unwrap().into())).or_default() += 1;
        }
        if let Some(r) = f["NotMirrored"].as_str() {
            *reasons.entry(r.replace('-', "_")).or_default() += 1;
        }
        for s in f["Sources"].as_array().unwrap() {
            for t in s["Sessions"].as_array().unwrap().iter().filter(|t| t["DecidedBy"] == "rule") {
                let key = (t["TrafficMirrorFilterId"].as_str().unwrap().into(), t["TrafficMirrorFilterRuleId"].as_str().unwrap().into(), s["Direction"].as_str().unwrap().into());
                *hits.entry(key).or_default() += 1;
            }
        }
    }
    for s in stats["sessions"].as_array().unwrap() {
        for dir in ["ingress", "egress"] {
            let explained = copies.get(&(s["id"].as_str().unwrap().into(), dir.into())).copied().unwrap_or(0);
            assert_eq!(s[dir]["packets"].as_u64().unwrap(), explained, "{} {dir}", s["id"]);
        }
    }
    for reason in ["not_ip", "malformed", "excluded"] {
        assert_eq!(stats["not_mirrored"][reason].as_u64().unwrap(), reasons.get(reason).copied().unwrap_or(0), "{reason}");
    }
    assert!(reasons["excluded"] > 0 && reasons["malformed"] > 0, "the sample has never-mirrored frames: {reasons:?}");
    let mut counted = 0;
    for r in stats["rules"].as_array().unwrap() {
        let key = (r["filter"].as_str().unwrap().to_owned(), r["rule"].as_str().unwrap().to_owned(), r["direction"].as_str().unwrap().to_owned());
        assert_eq!(r["hits"].as_u64().unwrap(), hits.remove(&key).unwrap_or(0), "hits of {key:?}");
        counted += r["hits"].as_u64().unwrap();
    }
    assert!(hits.is_empty(), "explain has decisions by rules the run does not list: {hits:?}");
    assert!(counted > 5000, "the rules decided the sample: {counted}");
    let ssh = stats["rules"].as_array().unwrap().iter().find(|r| r["filter"] == "tmf-web" && r["rule_number"] == 100 && r["direction"] == "egress").unwrap();
    assert!(ssh["hits"].as_u64().unwrap() > 0 && ssh["action"] == "reject", "a reject rule's hits count: {ssh}");
}

/// host: a capture read once; the rest by configuration: two sessions on the web server, the
/// first rejecting SSH, the second taking what the first does not.
fn live() -> Setup {
    Setup::lab()
        .metrics()
        .port(Port::pcap("host").rx("{lab}/host.pcap"))
        .port(Port::null("uplink"))
        .port(Port::pcap("mirror").tx("{lab}/out/mirror.pcap").ipv4("192.0.2.1"))
        .link("host", "uplink")
        .eni(Eni::new("eni-web", "host").mac("02:00:00:00:00:01").ipv4("10.0.0.5"))
        .collector("eni-ids", "tmt-ids")
        .filter(
            Filter::new("tmf-web")
                .egress(Rule::reject(100).id("tmfr-ssh").protocol(6).destination_port(22, 22))
                .egress(Rule::accept(200).id("tmfr-tcp").protocol(6))
                .egress(Rule::accept(300).id("tmfr-udp").protocol(17)),
        )
        .filter(Filter::new("tmf-rest").egress(Rule::accept(1).id("tmfr-rest")))
        .session(Session::new("tms-web", 1).source("eni-web").target("tmt-ids").filter("tmf-web").vni(100))
        .session(Session::new("tms-rest", 2).source("eni-web").target("tmt-ids").filter("tmf-rest").vni(300))
}

const WEB: [u8; 6] = [2, 0, 0, 0, 0, 1];
const ROUTER: [u8; 6] = [2, 0, 0, 0, 1, 1];

fn ok(c: &mut Client, req: Value) -> Value {
    match c.call_value(&req).expect("talking to traffic-mirror") {
        Ok(v) => v,
        Err(e) => panic!("{req} refused: {e}"),
    }
}

/// Each rule's HitCount, as DescribeTrafficMirrorFilterRules shows it.
fn described_hits(c: &mut Client) -> HashMap<String, u64> {
    let r = ok(c, json!({"Action": "DescribeTrafficMirrorFilterRules"}));
    r["TrafficMirrorFilterRules"].as_array().unwrap().iter().map(|r| (r["TrafficMirrorFilterRuleId"].as_str().unwrap().to_owned(), r["HitCount"].as_u64().expect("describe shows HitCount"))).collect()
}

#[test]
fn a_running_appliance_counts_each_rules_hits_and_explains_from_the_table_in_force() {
    require_root();
    let lab = Lab::new("explain-live");
    let ssh = FrameBuilder::ipv4([10, 0, 0, 5], [198, 51, 100, 7]).macs(ROUTER, WEB).tcp(40000, 22).build();
    let web = FrameBuilder::ipv4([10, 0, 0, 5], [198, 51, 100, 7]).macs(ROUTER, WEB).tcp(40001, 443).build();
    // DNS to the VPC resolver: neither filter has amazon-dns, so no rule decides it.
    let dns = FrameBuilder::ipv4([10, 0, 0, 5], [169, 254, 169, 253]).macs(ROUTER, WEB).udp(40002, 53).build();
    let arp = FrameBuilder::raw(0x0806, &[0; 28]).macs([0xff; 6], WEB).build();
    let mut frames: Vec<&[u8]> = Vec::new();
    frames.extend(std::iter::repeat_n(ssh.as_slice(), 5));
    frames.extend(std::iter::repeat_n(web.as_slice(), 7));
    frames.extend(std::iter::repeat_n(dns.as_slice(), 3));
    frames.extend(std::iter::repeat_n(arp.as_slice(), 2));
    lab.write_pcap("host.pcap", frames);
    let cfg = lab.config(&live().toml());
    let mut child = lab.spawn(&cfg, &[]);
    let mut c = lab.client(&mut child);
    let deadline = Instant::now() + Duration::from_secs(60);
    while ok(&mut c, json!({"Action": "DescribeCounters"}))["ports"][0]["rx_packets"] != 17 {
        assert!(Instant::now() < deadline, "the capture was never consumed");
        std::thread::sleep(Duration::from_millis(50));
    }

    // SSH: rejected by tms-web's rule 100, then accepted by tms-rest's rule 1; both count.
    let want: HashMap<String, u64> = [("tmfr-ssh", 5), ("tmfr-tcp", 7), ("tmfr-udp", 0), ("tmfr-rest", 5)].into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
    let deadline = Instant::now() + Duration::from_secs(10);
    while described_hits(&mut c) != want {
        assert!(Instant::now() < deadline, "describe shows {:?}, expected {want:?}", described_hits(&mut c));
        std::thread::sleep(Duration::from_millis(50));
    }
    let filters = ok(&mut c, json!({"Action": "DescribeTrafficMirrorFilters", "TrafficMirrorFilterIds": ["tmf-web"]}));
    assert_eq!(filters["TrafficMirrorFilters"][0]["EgressFilterRules"][0]["HitCount"], 5, "{filters}");

    // Explained by the running appliance: the same two decisions, and the copy tms-rest makes.
    let socket = lab.socket();
    let socket = socket.to_str().unwrap();
    let e = explain(&["--socket", socket, "--hex", &hex::encode(&ssh), "--port", "host"]);
    let tried = &e[0]["Sources"][0]["Sessions"];
    assert_eq!((tried[0]["TrafficMirrorFilterRuleId"].as_str(), tried[0]["RuleAction"].as_str(), tried[0]["Accepted"].as_bool()), (Some("tmfr-ssh"), Some("reject"), Some(false)), "{e}");
    assert_eq!((tried[1]["TrafficMirrorFilterRuleId"].as_str(), tried[1]["Accepted"].as_bool()), (Some("tmfr-rest"), Some(true)), "{e}");
    assert_eq!(e[0]["Copies"][0]["VirtualNetworkId"], 300);
    let sent = read_pcap(&lab.path("out/mirror.pcap"));
    assert_eq!(hex::decode(e[0]["Copies"][0]["Bytes"].as_str().unwrap()).unwrap(), sent[0], "the first copy sent was of the first SSH frame");
    let e = explain(&["--socket", socket, "--hex", &hex::encode(&dns), "--port", "host"]);
    assert_eq!(e[0]["Sources"][0]["Sessions"][0]["DecidedBy"], "resolver-dns", "{e}");
    assert!(e[0]["Copies"].as_array().unwrap().is_empty());
    // The appliance's verb, from ctl.
    let out = Command::new(e2e::binary()).args(["ctl", "--socket", socket, "explain-frames", "--port", "host", "--frames", &hex::encode(&web)]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["Frames"][0]["Sources"][0]["Sessions"][0]["TrafficMirrorFilterRuleId"], "tmfr-tcp", "{v}");
    assert_eq!(described_hits(&mut c), want, "explaining counts nothing");

    // A change: the table in force is what explain answers from, and the hits stay.
    ok(&mut c, json!({"Action": "ModifyTrafficMirrorFilterRule", "TrafficMirrorFilterRuleId": "tmfr-ssh", "RuleAction": "accept"}));
    let e = explain(&["--socket", socket, "--hex", &hex::encode(&ssh), "--port", "host"]);
    let tried = e[0]["Sources"][0]["Sessions"].as_array().unwrap();
    assert_eq!((tried.len(), tried[0]["RuleAction"].as_str(), tried[0]["Accepted"].as_bool()), (1, Some("accept"), Some(true)), "{e}");
    assert_eq!(e[0]["Copies"][0]["VirtualNetworkId"], 100);
    assert_eq!(described_hits(&mut c), want, "the rule's source was compiled anew, its hits kept");
    let text = Command::new(e2e::binary()).args(["explain", "--socket", socket, "--port", "host", "--hex"]).arg(hex::encode(&ssh)).output().unwrap();
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(text.contains("session 1 tms-web (filter tmf-web): rule 100 (tmfr-ssh) matched: accept -> mirrored") && text.contains("VNI 100"), "{text}");
    let bad = Command::new(e2e::binary()).args(["explain", "--socket", socket, "--port", "nic9", "--hex", "00"]).output().unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("Port"), "{}", String::from_utf8_lossy(&bad.stderr));

    // Deleting a rule takes its hits away; the exit report lists the others.
    ok(&mut c, json!({"Action": "DeleteTrafficMirrorFilterRule", "TrafficMirrorFilterRuleId": "tmfr-rest"}));
    assert!(!described_hits(&mut c).contains_key("tmfr-rest"));
    // SAFETY: signalling our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let run = lab.finish(child);
    run.assert_ok();
    let rules = run.stats()["rules"].as_array().unwrap().clone();
    let by_id: HashMap<&str, u64> = rules.iter().map(|r| (r["rule"].as_str().unwrap(), r["hits"].as_u64().unwrap())).collect();
    assert_eq!(by_id, HashMap::from([("tmfr-ssh", 5), ("tmfr-tcp", 7), ("tmfr-udp", 0)]));
    assert!(run.stdout.contains("hits"), "the exit summary shows the rules' hits:\n{}", run.stdout);
}
