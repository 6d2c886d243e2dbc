//! Issue 7: what an operator watches. The Prometheus endpoint shows the same counters as the
//! exit summary; DPDK's telemetry client shows the sessions and counters next to DPDK's own.

use e2e::config::{Eni, Filter, Port, Rule, Session, Setup, Target};
use e2e::traffic::{mixed, Side};
use e2e::{require_root, require_tool, Lab};
use serde_json::Value;
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// Two captures read once, a mirror capture, metrics, and one session mirroring the web
/// server's TCP out and everything in, cut at 300 bytes.
fn setup() -> Setup {
    Setup::lab()
        .metrics()
        .port(Port::pcap("host").rx("{lab}/host.pcap").tx("{lab}/out/host.pcap"))
        .port(Port::pcap("uplink").rx("{lab}/uplink.pcap").tx("{lab}/out/uplink.pcap"))
        .port(Port::pcap("mirror").tx("{lab}/out/mirror.pcap").ipv4("192.0.2.1"))
        .link("host", "uplink")
        .eni(Eni::new("eni-web", "host"))
        .eni(Eni::collector("eni-ids", "mirror", "192.0.2.10").next_hop_mac("02:00:00:00:00:20"))
        .target(Target::eni("tmt-ids", "eni-ids").mtu(1000))
        .filter(Filter::new("tmf-tcp").egress(Rule::accept(1).protocol(6)).ingress(Rule::accept(1)))
        .session(Session::new("tms-web", 1).source("eni-web").target("tmt-ids").filter("tmf-tcp").vni(4242).packet_length(300))
}

/// GET `path` from `addr` over plain HTTP/1.1.
fn http_get(addr: &str, path: &str) -> (String, String) {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).unwrap_or_else(|e| panic!("connecting to {addr}: {e}"));
    write!(s, "GET {path} HTTP/1.1\r\nHost: {addr}\r\nAccept: */*\r\nConnection: close\r\n\r\n").unwrap();
    let mut reply = String::new();
    s.read_to_string(&mut reply).unwrap();
    let (head, body) = reply.split_once("\r\n\r\n").expect("an HTTP reply");
    (head.to_owned(), body.to_owned())
}

/// `name{labels}` -> value, from the text format.
fn samples(text: &str) -> HashMap<String, f64> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .filter_map(|l| l.rsplit_once(' ').map(|(k, v)| (k.to_owned(), v.parse().expect("a number"))))
        .collect()
}

/// Starts a run on mixed traffic and returns the child, the metrics address and the lab.
fn start(name: &str) -> (Lab, e2e::Running, String) {
    require_root();
    let lab = Lab::new(name);
    lab.write_pcap("host.pcap", mixed(111, 6000, Side::Host).iter().map(|f| f.bytes.as_slice()));
    lab.write_pcap("uplink.pcap", mixed(112, 6000, Side::Uplink).iter().map(|f| f.bytes.as_slice()));
    let cfg = lab.config(&setup().toml());
    let mut child = lab.spawn(&cfg, &[]);
    let _ = lab.client(&mut child);
    let log = std::fs::read_to_string(lab.path("run.stderr")).unwrap();
    let addr = log
        .split("Prometheus metrics on http://")
        .nth(1)
        .and_then(|r| r.split("/metrics").next())
        .unwrap_or_else(|| panic!("the endpoint is announced:\n{log}"))
        .to_owned();
    (lab, child, addr)
}

#[test]
fn prometheus_counters_equal_the_exit_summary() {
    let (lab, child, addr) = start("metrics");
    // Scrape once the captures are consumed: the figures must then be final.
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut last = HashMap::new();
    let text = loop {
        let (head, body) = http_get(&addr, "/metrics");
        assert!(head.starts_with("HTTP/1.1 200") && head.contains("openmetrics-text"), "{head}");
        // Uptime and cycle counts move on every scrape; the traffic counters stop.
        let now: HashMap<String, f64> =
            samples(&body).into_iter().filter(|(k, _)| k.starts_with("traffic_mirror_port_") || k.starts_with("traffic_mirror_session_")).collect();
        let rx = |m: &HashMap<String, f64>| m.get(r#"traffic_mirror_port_rx_packets_total{port="host"}"#).copied();
        if rx(&now) == Some(6000.0) && now == last {
            break body;
        }
        assert!(Instant::now() < deadline, "the counters never settled");
        last = now;
        std::thread::sleep(Duration::from_millis(200));
    };
    let (head, _) = http_get(&addr, "/nope");
    assert!(head.starts_with("HTTP/1.1 404"), "{head}");
    // Series come in the same order on every scrape.
    let names = |t: &str| t.lines().filter(|l| !l.starts_with('#')).map(|l| l.rsplit_once(' ').map_or(l, |(k, _)| k).to_owned()).collect::<Vec<_>>();
    let (_, again) = http_get(&addr, "/metrics");
    assert_eq!(names(&again), names(&text), "the same series in the same order");
    assert!(text.trim_end().ends_with("# EOF"), "OpenMetrics ends with # EOF");
    // SAFETY: signalling our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let run = lab.finish(child);
    run.assert_ok();
    let stats = run.stats();

    let m = samples(&text);
    let get = |k: &str| *m.get(k).unwrap_or_else(|| panic!("{k} missing from:\n{text}"));
    let mut checked = 0;
    for p in stats["ports"].as_array().unwrap() {
        let name = p["name"].as_str().unwrap();
        for field in ["rx_packets", "rx_bytes", "tx_packets", "tx_bytes", "rx_missed", "tx_dropped", "copies_dropped"] {
            assert_eq!(get(&format!("traffic_mirror_port_{field}_total{{port=\"{name}\"}}")), p[field].as_f64().unwrap(), "port {name} {field}");
            checked += 1;
        }
    }
    for s in stats["sessions"].as_array().unwrap() {
        let id = s["id"].as_str().unwrap();
        for dir in ["ingress", "egress"] {
            let d = &s[dir];
            let l = format!("session=\"{id}\",direction=\"{dir}\"");
            for (metric, field) in [("packets", "packets"), ("bytes", "bytes"), ("truncated", "truncated"), ("skipped_bytes", "skip_bytes")] {
                assert_eq!(get(&format!("traffic_mirror_session_{metric}_total{{{l}}}")), d[field].as_f64().unwrap(), "{id} {dir} {field}");
                checked += 1;
            }
            for reason in ["queue_full", "no_mbuf", "unresolved"] {
                let v = get(&format!("traffic_mirror_session_skipped_packets_total{{{l},reason=\"{reason}\"}}"));
                assert_eq!(v, d[format!("skip_{reason}")].as_f64().unwrap());
            }
        }
        assert!(s["egress"]["packets"].as_u64().unwrap() > 100 && s["ingress"]["truncated"].as_u64().unwrap() > 10, "the run mirrored: {s}");
    }
    for (reason, field) in [("not_ip", "not_ip"), ("malformed", "malformed"), ("excluded", "excluded")] {
        assert_eq!(get(&format!("traffic_mirror_frames_not_mirrored_total{{reason=\"{reason}\"}}")), stats["not_mirrored"][field].as_f64().unwrap());
    }
    assert!(checked >= 21 + 8);
    assert!(get(r#"traffic_mirror_mempool_size{pool="tm_rx"}"#) > 0.0);
    assert!(m.keys().any(|k| k.starts_with("traffic_mirror_worker_busy_ratio{")));
    assert_eq!(get("traffic_mirror_table_generation"), 1.0);

    // Series that join: a session's source, target, filter and VNI; a target's collectors.
    assert_eq!(get(r#"traffic_mirror_session_info{session="tms-web",source="eni-web",target="tmt-ids",filter="tmf-tcp",vni="4242"}"#), 1.0);
    assert_eq!(get(r#"traffic_mirror_target_info{target="tmt-ids",type="network-interface",destination="eni-ids",port="mirror"}"#), 1.0);
    assert_eq!(get(r#"traffic_mirror_collector_info{target="tmt-ids",collector="192.0.2.10",port="mirror"}"#), 1.0);
    // Each filter rule's hits, as the exit report counts them.
    let rules = stats["rules"].as_array().unwrap();
    for r in rules {
        let l = format!("filter={},rule={},direction={},action={}", r["filter"], r["rule"], r["direction"], r["action"]);
        assert_eq!(get(&format!("traffic_mirror_rule_hits_total{{{l}}}")), r["hits"].as_f64().unwrap(), "{r}");
    }
    assert!(rules.iter().any(|r| r["hits"].as_u64().unwrap() > 0), "the rules decided the run: {rules:?}");
    // The busy share is recent: the captures were consumed seconds ago, so it falls.
    let busy = get(&format!("traffic_mirror_worker_busy_ratio{{worker=\"0\",core=\"{}\"}}", stats["workers"][0]["core"]));
    assert!((0.0..=1.0).contains(&busy), "{busy}");

    // Every metric the Grafana dashboard queries is one traffic-mirror serves.
    let dashboard: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(e2e::workspace().join("dashboards/traffic-mirror.json")).unwrap()).unwrap();
    // What is served: every family the exposition declares, with its samples' names (a family
    // can be empty, as the next hops are without ARP).
    let served: std::collections::HashSet<String> = text
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .map(|l| {
            let (name, kind) = l.split_once(' ').unwrap();
            match kind {
                "counter" => format!("{name}_total"),
                "info" => format!("{name}_info"),
                _ => name.to_owned(),
            }
        })
        .collect();
    assert!(m.keys().all(|k| served.contains(k.split('{').next().unwrap())), "every sample is of a declared family");
    let mut queried = 0;
    for panel in dashboard["panels"].as_array().unwrap() {
        for t in panel["targets"].as_array().unwrap() {
            let expr = t["expr"].as_str().unwrap();
            for name in expr.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).filter(|w| w.starts_with("traffic_mirror_")) {
                assert!(served.contains(name), "panel {:?} queries {name}, which is not served", panel["title"]);
                queried += 1;
            }
        }
    }
    assert!(queried >= 20, "the dashboard queries the metrics: {queried}");
}

#[test]
fn dpdk_telemetry_shows_the_sessions() {
    require_tool("dpdk-telemetry.py", "dpdk");
    let (lab, child, _) = start("telemetry");
    let out = std::process::Command::new("dpdk-telemetry.py")
        .args(["-f", &lab.prefix])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            use std::io::Write;
            c.stdin.take().unwrap().write_all(b"/traffic_mirror/sessions\n/traffic_mirror/stats\n/ethdev/stats,0\n")?;
            c.wait_with_output()
        })
        .expect("running dpdk-telemetry.py");
    // SAFETY: signalling our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    lab.finish(child).assert_ok();
    let text = String::from_utf8_lossy(&out.stdout);
    let replies: Vec<Value> = text.lines().filter(|l| l.starts_with('{')).map(|l| serde_json::from_str(l).expect("JSON")).collect();
    assert_eq!(replies.len(), 3, "three replies:\n{text}");
    let s = &replies[0]["/traffic_mirror/sessions"]["tms_web"];
    assert_eq!(s["id"], "tms-web", "{text}");
    assert_eq!(s["vni"], 4242);
    assert_eq!(s["packet_length"], 300);
    let st = &replies[1]["/traffic_mirror/stats"];
    assert_eq!(st["port_host"]["name"], "host", "{text}");
    assert!(st["session_tms_web_egress"]["packets"].as_u64().is_some(), "{text}");
    assert!(replies[2]["/ethdev/stats"]["ipackets"].as_u64().is_some(), "DPDK's own commands still answer: {text}");
}
