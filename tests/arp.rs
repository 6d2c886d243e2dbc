//! Issue 7: next hops by ARP. The mirror port is a TAP device moved into a collector network
//! namespace this test creates (and removes); the kernel there answers ARP for the
//! collector's address. Copies are skipped (and counted) until the next hop resolves, then
//! flow to the collector's MAC; the collector's kernel learns traffic-mirror's MAC from our
//! answers to its ARP requests.

use serde_json::json;
use e2e::traffic::{mixed, Side};
use e2e::config::{Eni, Filter, Port, Rule, Session, Setup, Target};
use e2e::netns::Netns;
use e2e::{require_root, require_tool, sh, Lab};
use serde_json::Value;
use std::process::Command;
use std::time::{Duration, Instant};

fn until(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn next_hop_resolved_by_arp_with_a_kernel_collector() {
    require_root();
    require_tool("ip", "iproute2");
    let lab = Lab::new("arp");
    let tag = std::process::id() % 100_000;
    let ns = Netns::new(&format!("tm-arp-{tag}"));
    let tap = format!("tmarp{tag}");
    // Frames without jumbo ones: net_pcap's infinite_rx keeps single-segment mbufs.
    let frames: Vec<_> = mixed(121, 2000, Side::Host).into_iter().filter(|f| f.bytes.len() <= 1518).collect();
    lab.write_pcap("in.pcap", frames.iter().map(|f| f.bytes.as_slice()));
    let setup = Setup::lab()
        .port(Port::pcap("host").rx("{lab}/in.pcap").infinite())
        .port(Port::null("uplink"))
        .port(Port::tap("mirror", &tap).mac("02:00:00:00:00:10").ipv4("192.0.2.1"))
        .link("host", "uplink")
        .eni(Eni::new("eni-web", "host"))
        .eni(Eni::collector("eni-ids", "mirror", "192.0.2.10").next_hop("192.0.2.10"))
        .target(Target::eni("tmt-ids", "eni-ids"))
        .filter(Filter::new("f").egress(Rule::accept(1).protocol(6)))
        .session(Session::new("tms-1", 1).source("eni-web").target("tmt-ids").filter("f").vni(77).packet_length(64))
        .with(|c| c.dataplane.idle_sleep_us = 0);
    let cfg = lab.config(&setup.toml());
    let mut child = lab.spawn(&cfg, &[]);
    let mut c = lab.client(&mut child);
    let counters = |c: &mut control::api::Client| c.call_value(&json!({"Action": "DescribeCounters"})).unwrap().unwrap();
    let session = |r: &Value| r["sessions"][0]["egress"].clone();

    // Unresolved: the TAP is not in the collector's namespace yet, so nobody answers. Copies
    // are skipped and counted.
    until("skipped copies", || session(&counters(&mut c))["skip_unresolved"].as_u64().unwrap_or(0) > 1000);
    assert_eq!(session(&counters(&mut c))["packets"], 0);

    // The collector: the TAP in its namespace with the target's address. Its kernel answers.
    sh(&["ip", "link", "set", &tap, "netns", &ns.0]);
    ns.exec(&["ip", "addr", "add", "192.0.2.10/24", "dev", &tap]);
    ns.exec(&["ip", "link", "set", &tap, "up"]);
    let collector_mac = ns.exec(&["cat", &format!("/sys/class/net/{tap}/address")]).trim().to_owned();
    until("the next hop resolved", || {
        let r = c.call_value(&json!({"Action": "DescribeNeighbors"})).unwrap().unwrap();
        r["Neighbors"][0]["mac"] == collector_mac.as_str()
    });
    let before = session(&counters(&mut c))["packets"].as_u64().unwrap();
    until("copies flowing", || session(&counters(&mut c))["packets"].as_u64().unwrap() > before + 1000);
    // The copies reach the collector's MAC: capture a few there.
    require_tool("tcpdump", "tcpdump");
    let dump = ns.exec(&["timeout", "5", "tcpdump", "-c", "5", "-n", "-e", "-i", &tap, "udp", "port", "4789"]);
    assert!(dump.lines().filter(|l| l.contains(&format!("> {collector_mac}")) && l.contains("192.0.2.1.") && l.contains("192.0.2.10.4789")).count() >= 5, "{dump}");
    // traffic-mirror answers ARP for its own address: once the collector forgets what our
    // requests taught it, it asks, and learns our MAC from the answer.
    ns.exec(&["ip", "neigh", "flush", "dev", &tap]);
    let _ = Command::new("ip").args(["netns", "exec", &ns.0, "ping", "-c", "1", "-W", "1", "192.0.2.1"]).output();
    until("the collector learned our MAC", || ns.exec(&["ip", "neigh", "show", "192.0.2.1"]).contains("02:00:00:00:00:10"));
    // The operator sees it all.
    let text = Command::new(e2e::binary()).args(["ctl", "--config"]).arg(&cfg).arg("describe-neighbors").output().unwrap();
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(text.contains("192.0.2.10") && text.contains(&collector_mac), "{text}");
    // SAFETY: signalling our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let run = lab.finish(child);
    run.assert_ok();
    let arp = &run.stats()["arp"];
    assert!(arp["requests_sent"].as_u64().unwrap() >= 1 && arp["replies_sent"].as_u64().unwrap() >= 1 && arp["received"].as_u64().unwrap() >= 2, "{arp}");
    assert!(run.stderr.contains(&format!("next hop 192.0.2.10 on port mirror: {collector_mac}")), "one log line per change:\n{}", run.stderr);
    for pool in run.stats()["mempools"].as_array().unwrap() {
        assert_eq!(pool["in_use"], 0, "{pool}");
    }
}
