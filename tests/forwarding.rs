//! Issue 2: the bump in the wire. Both sides' frames are forwarded to the other side exactly,
//! frame for frame and byte for byte; bad configs start nothing; signals stop cleanly; no mbuf
//! is left in use.

use e2e::config::{Port, Setup};
use e2e::traffic::{mixed, Side};
use e2e::{assert_same_frames, linked_ports, read_pcap, require_root, Lab};
use std::time::Duration;

const FRAMES: usize = 12_000;

/// host and uplink, linked: captures read once and written.
fn two_ports() -> Setup {
    Setup::lab()
        .port(Port::pcap("host").rx("{lab}/host.pcap").tx("{lab}/out/host.pcap"))
        .port(Port::pcap("uplink").rx("{lab}/uplink.pcap").tx("{lab}/out/uplink.pcap"))
        .link("host", "uplink")
}

/// [`two_ports`] reading other files, as text followed by `extra`: text, because the tests of
/// bad configurations that use it edit it by line and assert the lines of its problems.
fn two_port_config(host_rx: &str, up_rx: &str, extra: &str) -> String {
    linked_ports(&format!("net_pcap0,rx_pcap={host_rx},tx_pcap={{lab}}/out/host.pcap"), &format!("net_pcap1,rx_pcap={up_rx},tx_pcap={{lab}}/out/uplink.pcap")) + extra
}

fn bytes(frames: &[e2e::traffic::Frame]) -> Vec<Vec<u8>> {
    frames.iter().map(|f| f.bytes.clone()).collect()
}

#[test]
fn forwards_both_ways_frame_for_frame() {
    require_root();
    let lab = Lab::new("fwd");
    let host = mixed(11, FRAMES, Side::Host);
    let up = mixed(12, FRAMES, Side::Uplink);
    let kinds = |fs: &[e2e::traffic::Frame]| {
        let ipv6 = fs.iter().filter(|f| f.packet.is_some_and(|p| p.ipv6)).count();
        let vlan = fs.iter().filter(|f| f.bytes[12..14] == [0x81, 0x00] || f.bytes[12..14] == [0x88, 0xa8]).count();
        let non_ip = fs.iter().filter(|f| f.packet.is_none()).count();
        let jumbo = fs.iter().filter(|f| f.bytes.len() > 2048).count();
        (ipv6, vlan, non_ip, jumbo)
    };
    let (v6, vlan, non_ip, jumbo) = kinds(&host);
    assert!(v6 > 500 && vlan > 500 && non_ip > 500 && jumbo > 10, "the capture is mixed: {v6} IPv6, {vlan} VLAN, {non_ip} non-IP, {jumbo} jumbo");
    lab.write_pcap("host.pcap", host.iter().map(|f| f.bytes.as_slice()));
    lab.write_pcap("uplink.pcap", up.iter().map(|f| f.bytes.as_slice()));
    let cfg = lab.config(&two_ports().toml());

    let run = lab.run(&cfg, Duration::from_secs(60));
    run.assert_ok();

    assert_same_frames("uplink output (host's input)", &read_pcap(&lab.path("out/uplink.pcap")), &bytes(&host));
    assert_same_frames("host output (uplink's input)", &read_pcap(&lab.path("out/host.pcap")), &bytes(&up));
    let stats = run.stats();
    for pool in stats["mempools"].as_array().unwrap() {
        assert_eq!(pool["in_use"], 0, "mbufs left in use: {pool}");
    }
    let ports = stats["ports"].as_array().unwrap();
    for p in ports {
        assert_eq!(p["rx_packets"], FRAMES as u64, "{p}");
        assert_eq!(p["tx_packets"], FRAMES as u64, "{p}");
        assert_eq!(p["tx_dropped"], 0, "{p}");
    }
    let total = |fs: &[e2e::traffic::Frame]| fs.iter().map(|f| f.bytes.len() as u64).sum::<u64>();
    assert_eq!(ports[0]["rx_bytes"], total(&host));
    assert_eq!(ports[1]["rx_bytes"], total(&up));
    assert!(run.stdout.contains("mempool tm_rx") && run.stdout.contains("0 in use"), "readable summary:\n{}", run.stdout);
}

#[test]
fn two_workers_each_forward_their_own_queues() {
    require_root();
    let lab = Lab::new("fwd2");
    let inputs: Vec<Vec<e2e::traffic::Frame>> = (0..4).map(|i| mixed(20 + i, 3000, if i < 2 { Side::Host } else { Side::Uplink })).collect();
    for (i, f) in inputs.iter().enumerate() {
        lab.write_pcap(&format!("in{i}.pcap"), f.iter().map(|f| f.bytes.as_slice()));
    }
    let setup = Setup::lab()
        .with(|c| c.dataplane.workers = 2)
        .port(Port::pcap("host").rx("{lab}/in0.pcap").rx("{lab}/in1.pcap").tx("{lab}/out/h0.pcap").tx("{lab}/out/h1.pcap"))
        .port(Port::pcap("uplink").rx("{lab}/in2.pcap").rx("{lab}/in3.pcap").tx("{lab}/out/u0.pcap").tx("{lab}/out/u1.pcap"))
        .link("host", "uplink");
    let cfg = lab.config(&setup.toml());
    let run = lab.run(&cfg, Duration::from_secs(60));
    run.assert_ok();
    // Worker q polls RX queue q of each port and sends on its own TX queue q.
    assert_same_frames("u0", &read_pcap(&lab.path("out/u0.pcap")), &bytes(&inputs[0]));
    assert_same_frames("u1", &read_pcap(&lab.path("out/u1.pcap")), &bytes(&inputs[1]));
    assert_same_frames("h0", &read_pcap(&lab.path("out/h0.pcap")), &bytes(&inputs[2]));
    assert_same_frames("h1", &read_pcap(&lab.path("out/h1.pcap")), &bytes(&inputs[3]));
    let workers = run.stats()["workers"].as_array().unwrap().len();
    assert_eq!(workers, 2);
    for pool in run.stats()["mempools"].as_array().unwrap() {
        assert_eq!(pool["in_use"], 0, "{pool}");
    }
}

#[test]
fn invalid_configs_start_nothing() {
    require_root();
    let lab = Lab::new("badcfg");
    lab.write_pcap("in.pcap", mixed(1, 10, Side::Host).iter().map(|f| f.bytes.as_slice()));
    let good = two_port_config("{lab}/in.pcap", "{lab}/in.pcap", "");
    let cases = [
        (good.replace("workers = 1", "workers = 1\nwrokers = 2"), "config.toml:4: [dataplane]: unknown field `wrokers`"),
        (good.replace("ports = [\"host\", \"uplink\"]", "ports = [\"host\", \"uplnk\"]"), "config.toml:15: [[link]] 1: ports = \"uplnk\": no port has that name"),
        (good.replace("name = \"uplink\"", "name = \"host\""), "config.toml:11: [[port]] \"host\": name = \"host\": is used twice (ports 1 and 2)"),
        (
            good.clone() + "\n[[port]]\nname = \"third\"\ndevice = \"net_null0\"\n\n[[link]]\nports = [\"uplink\", \"third\"]\n",
            "config.toml:22: [[link]] 2: ports = \"uplink\": the port is in two links (1 and 2)",
        ),
        (good.replace("{lab}/in.pcap,tx_pcap={lab}/out/host", "{lab}/missing.pcap,tx_pcap={lab}/out/host"), "rx_pcap file"),
    ];
    for (text, want) in cases {
        let cfg = lab.config(&text);
        let run = lab.run(&cfg, Duration::from_secs(30));
        assert_eq!(run.code, Some(2), "expected exit 2 for {want:?}\n{}", run.stderr);
        assert!(run.stderr.contains(want), "expected {want:?} in:\n{}", run.stderr);
        assert!(!run.stderr.contains("EAL:"), "DPDK must not start on a bad config:\n{}", run.stderr);
        assert!(run.stats.is_none());
        assert!(!lab.path("out/host.pcap").exists(), "nothing may be written");
    }
}

#[test]
fn validate_command() {
    let lab = Lab::new("validate");
    let good = lab.config(&two_port_config("a.pcap", "b.pcap", ""));
    let out = std::process::Command::new(e2e::binary()).arg("validate").arg(&good).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("valid: 2 ports, 1 links"));
    let bad = lab.config(&two_port_config("a.pcap", "b.pcap", "[[network_interface]]\nid = \"s\"\nport = \"nope\"\n\n[[port]]\nname = \"host\"\ndevice = \"net_null9\"\n"));
    let out = std::process::Command::new(e2e::binary()).arg("validate").arg(&bad).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    // Every problem, each with its file, line, item, key and value.
    let want = [
        format!("{}:18: [[network_interface]] \"s\": port = \"nope\": no port has that name", bad.display()),
        format!("{}:21: [[port]] \"host\": name = \"host\": is used twice (ports 1 and 3)", bad.display()),
    ];
    assert_eq!(err.trim().lines().collect::<Vec<_>>(), want, "{err}");
}

/// A lab config that forwards a capture over and over into net_null until stopped.
fn endless_config(lab: &Lab) -> std::path::PathBuf {
    // net_pcap's infinite_rx mode keeps frames in single mbufs: no jumbo frames.
    let frames = mixed(3, 2000, Side::Host);
    lab.write_pcap("in.pcap", frames.iter().filter(|f| f.bytes.len() <= 2048).map(|f| f.bytes.as_slice()));
    lab.config(&Setup::lab().port(Port::pcap("host").rx("{lab}/in.pcap").infinite()).port(Port::null_source("uplink")).link("host", "uplink").toml())
}

#[test]
fn sigterm_and_ctrl_c_stop_cleanly() {
    require_root();
    let lab = Lab::new("signals");
    let cfg = endless_config(&lab);
    for signal in [libc::SIGTERM, libc::SIGINT] {
        let child = lab.spawn(&cfg, &[]);
        std::thread::sleep(Duration::from_secs(2));
        // SAFETY: sending a signal to our own child process.
        assert_eq!(unsafe { libc::kill(child.id() as i32, signal) }, 0);
        let run = lab.finish(child);
        assert_eq!(run.code, Some(0), "signal {signal}: {}", run.stderr);
        let stats = run.stats();
        let fwd = stats["ports"][1]["tx_packets"].as_u64().unwrap();
        assert!(fwd > 10_000, "traffic flowed before the signal: {fwd}");
        for pool in stats["mempools"].as_array().unwrap() {
            assert_eq!(pool["in_use"], 0, "{pool}");
        }
    }
}

/// Without a --file-prefix, traffic-mirror uses its own (tm-PID): DPDK's runtime folder for it
/// is there while it runs and gone once it has stopped, so runs do not pile folders up in
/// /var/run/dpdk.
#[test]
fn its_own_runtime_folder_goes_with_it() {
    require_root();
    let lab = Lab::new("prefix");
    let cfg = endless_config(&lab);
    let mut child = lab.spawn_with_eal(&cfg, &[], &["--log-level=lib.eal:warning".into()]);
    let dir = std::path::PathBuf::from(format!("/var/run/dpdk/tm-{}", child.id()));
    // Up once the control loop answers (its signal handlers are in place by then).
    lab.client(&mut child);
    assert!(dir.exists(), "{} exists while traffic-mirror runs", dir.display());
    // SAFETY: sending a signal to our own child process.
    assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGTERM) }, 0);
    let run = lab.finish(child);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert!(!dir.exists(), "{} is left after traffic-mirror stopped", dir.display());
}
