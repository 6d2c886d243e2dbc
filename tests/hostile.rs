//! Issue 20: a hostile day. What an attacker or a bad day did to the control plane, each
//! re-run: the socket is never reachable with another mode, never replaces what is not a
//! stale socket, survives SIGHUP during start-up, bounds what a client can send and hold, a
//! slow client delays nobody, a FIFO or hung file never blocks the control thread, and frames
//! the control thread never saw are counted.

use control::api::Client;
use e2e::config::{Eni, Filter, Port, Rule, Session, Setup, Target};
use e2e::traffic::{mixed, Side};
use e2e::{require_root, Lab, Running};
use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// A host port replaying a capture forever, linked to a sink.
fn ports(lab: &Lab) -> Setup {
    write_capture(lab);
    Setup::lab().port(Port::pcap("host").rx("{lab}/in.pcap").infinite()).port(Port::null("uplink")).link("host", "uplink")
}

/// The host port's capture, `in.pcap`: mixed traffic.
fn write_capture(lab: &Lab) {
    // infinite_rx takes single-segment frames only.
    lab.write_pcap("in.pcap", mixed(7, 400, Side::Host).iter().filter(|f| f.bytes.len() <= 1514).map(|f| f.bytes.as_slice()));
}

/// Everything `eni-web` on the host port sends, mirrored by session `tms-1` to target `tmt-ids`.
fn web_sends_mirrored(setup: Setup) -> Setup {
    setup
        .eni(Eni::new("eni-web", "host"))
        .filter(Filter::new("tmf-all").egress(Rule::accept(1)))
        .session(Session::new("tms-1", 1).source("eni-web").target("tmt-ids").filter("tmf-all"))
}

fn rss_kb(pid: u32) -> u64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    s.lines().find(|l| l.starts_with("VmRSS:")).and_then(|l| l.split_whitespace().nth(1)).and_then(|n| n.parse().ok()).unwrap()
}

fn threads(pid: u32) -> u64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    s.lines().find(|l| l.starts_with("Threads:")).and_then(|l| l.split_whitespace().nth(1)).and_then(|n| n.parse().ok()).unwrap()
}

/// Stops with SIGTERM; (stdout: the exit summary, stderr: the log).
fn stop(lab: &Lab, child: Running) -> (String, String) {
    // SAFETY: signalling our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let run = lab.finish(child);
    run.assert_ok();
    (run.stdout, run.stderr)
}

/// A request answered within `within`.
fn answers_within(c: &mut Client, within: Duration) {
    let t = Instant::now();
    let r = c.call_value(&json!({"Action": "DescribePorts"})).expect("talking to traffic-mirror");
    assert!(r.is_ok(), "{r:?}");
    assert!(t.elapsed() < within, "the control API took {:?}", t.elapsed());
}

/// The metrics endpoint's address, from the log line that announces it.
fn metrics_addr(lab: &Lab) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let log = std::fs::read_to_string(lab.path("run.stderr")).unwrap_or_default();
        if let Some(rest) = log.split("Prometheus metrics on http://").nth(1) {
            return rest.split('/').next().unwrap().to_owned();
        }
        assert!(Instant::now() < deadline, "no metrics endpoint announced:\n{log}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn scrape(addr: &str, within: Duration) -> String {
    let t = Instant::now();
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(within)).unwrap();
    write!(s, "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap_or_else(|e| panic!("a scrape did not answer within {within:?}: {e}"));
    assert!(t.elapsed() < within, "a scrape took {:?}", t.elapsed());
    assert!(out.starts_with("HTTP/1.1 200"), "{out}");
    out
}

#[test]
fn the_socket_never_exists_with_another_mode_and_never_replaces_a_file() {
    require_root();
    let lab = Lab::new("sockmode");
    let cfg = lab.config(&ports(&lab).toml());
    // Under umask 000 a socket bound in place would be world-connectable until chmod: look at
    // it as soon as it exists, as often as the machine lets us.
    let sock = lab.socket();
    let watcher = {
        let sock = sock.clone();
        std::thread::spawn(move || {
            let deadline = Instant::now() + Duration::from_secs(60);
            loop {
                if let Ok(m) = std::fs::symlink_metadata(&sock) {
                    return m.permissions().mode() & 0o777;
                }
                assert!(Instant::now() < deadline, "the socket never appeared");
                std::hint::spin_loop();
            }
        })
    };
    let mut cmd = Command::new(e2e::binary());
    cmd.args(["run", "--config"]).arg(&cfg).arg("--").args(lab.eal_args()).stdout(Stdio::null()).stderr(std::fs::File::create(lab.path("run.stderr")).unwrap());
    // SAFETY: umask is async-signal-safe and changes only the child's mask.
    unsafe {
        cmd.pre_exec(|| {
            libc::umask(0);
            Ok(())
        });
    }
    let child = cmd.spawn().unwrap();
    let first = watcher.join().unwrap();
    assert_eq!(first, 0o600, "the socket's mode when it first appeared");
    // Nobody else can connect.
    let probe = Command::new("setpriv").args(["--reuid=65534", "--regid=65534", "--clear-groups", "nc", "-U", "-z"]).arg(&sock).status().unwrap();
    assert!(!probe.success(), "user nobody connected to the control socket");
    let mut running = RunningGuard(Some(child));
    if let Some(mut c) = running.0.take() {
        // SAFETY: signalling our own child.
        unsafe { libc::kill(c.id() as i32, libc::SIGTERM) };
        c.wait().unwrap();
    }

    // A path that is not a stale socket is never removed.
    let precious = lab.path("precious.txt");
    std::fs::write(&precious, "keep me").unwrap();
    let cfg = lab.config(&ports(&lab).with(|c| c.control.socket = precious.display().to_string()).toml());
    let run = lab.run(&cfg, Duration::from_secs(30));
    assert_eq!(run.code, Some(2), "{}", run.stderr);
    assert!(run.stderr.contains("the path is a file, not a socket; traffic-mirror removes only a stale socket there"), "{}", run.stderr);
    assert!(!run.stderr.contains("EAL:"), "refused before DPDK starts: {}", run.stderr);
    assert_eq!(std::fs::read_to_string(&precious).unwrap(), "keep me");
}

struct RunningGuard(Option<std::process::Child>);

impl Drop for RunningGuard {
    fn drop(&mut self) {
        if let Some(mut c) = self.0.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

#[test]
fn sighup_during_start_up_is_a_reload_not_a_death() {
    require_root();
    let lab = Lab::new("earlyhup");
    let cfg = lab.config(&ports(&lab).toml());
    let mut child = lab.spawn(&cfg, &[]);
    // From the moment the process catches SIGHUP (its first act in main, before the EAL and
    // the ports: nothing earlier than exec's dynamic loading can be), SIGHUP after SIGHUP
    // until the control API answers.
    let caught = |pid: u32| {
        let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        s.lines().find(|l| l.starts_with("SigCgt:")).and_then(|l| u64::from_str_radix(l.split_whitespace().nth(1)?, 16).ok()).is_some_and(|m| m & 1 != 0)
    };
    let t = Instant::now();
    while !caught(child.id()) {
        assert!(t.elapsed() < Duration::from_secs(30), "SIGHUP never caught");
        std::hint::spin_loop();
    }
    // A thread keeps signalling while this one waits for the control API to answer.
    let pid = child.id();
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let hup = {
        let done = done.clone();
        std::thread::spawn(move || {
            let mut sent = 0u32;
            while !done.load(std::sync::atomic::Ordering::SeqCst) {
                // SAFETY: signalling our own child.
                unsafe { libc::kill(pid as i32, libc::SIGHUP) };
                sent += 1;
                std::thread::sleep(Duration::from_millis(2));
            }
            sent
        })
    };
    let mut c = loop {
        if let Some(status) = child.try_wait().unwrap() {
            done.store(true, std::sync::atomic::Ordering::SeqCst);
            panic!("SIGHUP during start-up killed traffic-mirror ({status}):\n{}", std::fs::read_to_string(lab.path("run.stderr")).unwrap_or_default());
        }
        if let Ok(mut c) = Client::connect(&lab.socket()) {
            if matches!(c.call_value(&json!({"Action": "DescribePorts"})), Ok(Ok(_))) {
                break c;
            }
        }
        assert!(t.elapsed() < Duration::from_secs(30), "never started");
        std::thread::sleep(Duration::from_millis(5));
    };
    done.store(true, std::sync::atomic::Ordering::SeqCst);
    let sent = hup.join().unwrap();
    assert!(sent > 10, "signals sent during start-up: {sent}");
    answers_within(&mut c, Duration::from_secs(2));
    let (_, stderr) = stop(&lab, child);
    assert!(stderr.contains(": reloaded "), "a reload asked for during start-up is done once it is up:\n{stderr}");
}

#[test]
fn what_a_client_sends_and_holds_is_bounded() {
    require_root();
    let lab = Lab::new("bounded");
    let cfg = lab.config(&ports(&lab).metrics().toml());
    let mut child = lab.spawn(&cfg, &[]);
    let mut c = lab.client(&mut child);
    let pid = child.id();
    let addr = metrics_addr(&lab);
    scrape(&addr, Duration::from_secs(5));
    let before = rss_kb(pid);

    // A 200 MB line without a newline: refused at the limit, memory stays put.
    let mut s = std::os::unix::net::UnixStream::connect(lab.socket()).unwrap();
    s.set_write_timeout(Some(Duration::from_secs(10))).unwrap();
    let chunk = vec![b'x'; 1 << 20];
    let mut written = 0usize;
    while written < 200 << 20 {
        match s.write(&chunk) {
            Ok(n) => written += n,
            Err(_) => break,
        }
    }
    let mut reply = String::new();
    let _ = BufReader::new(&s).read_line(&mut reply);
    let v: Value = serde_json::from_str(&reply).unwrap_or(Value::Null);
    assert_eq!(v["Error"]["Code"], "InvalidRequest", "{reply}");
    assert!(v["Error"]["Message"].as_str().unwrap().contains("longer than 1048576 bytes"), "{reply}");
    answers_within(&mut c, Duration::from_secs(1));
    // A 64 MB metrics request line: refused too.
    let mut m = TcpStream::connect(&addr).unwrap();
    m.set_write_timeout(Some(Duration::from_secs(10))).unwrap();
    let _ = m.write_all(b"GET /");
    for _ in 0..64 {
        if m.write_all(&chunk).is_err() {
            break;
        }
    }
    let mut head = [0u8; 12];
    let _ = m.read(&mut head);
    assert!(head.starts_with(b"HTTP/1.1 414") || head.starts_with(b"HTTP/1.1 431") || head == [0; 12], "{:?}", String::from_utf8_lossy(&head));
    let grew = rss_kb(pid).saturating_sub(before);
    assert!(grew < 20_000, "memory grew by {grew} kB");

    // 2,000 idle connections: at most the limit are served, each one past it told so; the
    // threads stay bounded and the API answers meanwhile.
    let mut held = Vec::new();
    let mut told = 0;
    for _ in 0..2000 {
        let s = std::os::unix::net::UnixStream::connect(lab.socket()).unwrap();
        held.push(s);
    }
    std::thread::sleep(Duration::from_millis(500));
    for s in held.iter_mut().skip(100) {
        s.set_read_timeout(Some(Duration::from_millis(200))).unwrap();
        let mut line = String::new();
        if BufReader::new(&*s).read_line(&mut line).is_ok() && line.contains("too many control connections") {
            told += 1;
        }
    }
    assert!(told > 1800, "connections past the limit were told so: {told}");
    let t = threads(pid);
    assert!(t < 200, "{t} threads with 2,000 connections open");
    drop(held);
    std::thread::sleep(Duration::from_millis(300));
    let mut c = Client::connect(&lab.socket()).unwrap();
    answers_within(&mut c, Duration::from_secs(1));
    stop(&lab, child);
}

#[test]
fn a_slow_or_silent_metrics_client_delays_no_other_scrape() {
    require_root();
    let lab = Lab::new("slowscrape");
    let cfg = lab.config(&ports(&lab).metrics().toml());
    let mut child = lab.spawn(&cfg, &[]);
    let _c = lab.client(&mut child);
    let addr = metrics_addr(&lab);
    let silent: Vec<TcpStream> = (0..20).map(|_| TcpStream::connect(&addr).unwrap()).collect();
    let trickle = {
        let addr = addr.clone();
        std::thread::spawn(move || {
            let mut s = TcpStream::connect(&addr).unwrap();
            for b in b"GET /metrics HTTP/1.1\r\n" {
                if s.write_all(&[*b]).is_err() {
                    return;
                }
                std::thread::sleep(Duration::from_secs(1));
            }
        })
    };
    std::thread::sleep(Duration::from_millis(300));
    for _ in 0..5 {
        let body = scrape(&addr, Duration::from_secs(1));
        assert!(body.contains("traffic_mirror_port_rx_packets_total"), "{body}");
    }
    drop(silent);
    stop(&lab, child);
    let _ = trickle.join();
}

#[test]
fn a_fifo_as_the_configuration_never_blocks_anything() {
    require_root();
    let lab = Lab::new("fifo");
    let fifo = lab.path("fifo.toml");
    let made = Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(made.success());
    // At start: refused with the reason, at once (timed once the binary is built).
    e2e::binary();
    let t = Instant::now();
    let run = lab.run(&fifo, Duration::from_secs(30));
    assert_eq!(run.code, Some(2), "{}", run.stderr);
    assert!(run.stderr.contains("is not a regular file"), "{}", run.stderr);
    assert!(t.elapsed() < Duration::from_secs(10));

    // Running: the file becomes a FIFO, a reload is asked for; refused, and the API, the
    // neighbours and the metrics answer meanwhile.
    let cfg = lab.config(&ports(&lab).metrics().toml());
    let mut child = lab.spawn(&cfg, &[]);
    let mut c = lab.client(&mut child);
    let addr = metrics_addr(&lab);
    std::fs::remove_file(&cfg).unwrap();
    assert!(Command::new("mkfifo").arg(&cfg).status().unwrap().success());
    let e = c.call_value(&json!({"Action": "ReloadConfiguration"})).unwrap().unwrap_err();
    assert_eq!(e.code, "InvalidConfiguration");
    assert!(e.message.contains("is not a regular file"), "{e}");
    // SAFETY: signalling our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGHUP) };
    std::thread::sleep(Duration::from_millis(200));
    answers_within(&mut c, Duration::from_secs(1));
    assert!(c.call_value(&json!({"Action": "DescribeNeighbors"})).unwrap().is_ok());
    scrape(&addr, Duration::from_secs(1));
    let (_, stderr) = stop(&lab, child);
    assert!(stderr.contains("reload refused") && stderr.contains("is not a regular file"), "{stderr}");
}

#[test]
fn frames_the_control_thread_never_saw_are_counted_and_a_flapping_hop_logs_little() {
    require_root();
    let lab = Lab::new("arpflood");
    // ARP replies for the collector from two MACs in turn, replayed forever on the mirror port:
    // the control thread's queue overflows and the next hop flaps.
    let reply = |mac: [u8; 6]| {
        let mut f = vec![0x02, 0, 0, 0, 0, 0x10];
        f.extend_from_slice(&mac);
        f.extend_from_slice(&[0x08, 0x06, 0, 1, 0x08, 0, 6, 4, 0, 2]);
        f.extend_from_slice(&mac);
        f.extend_from_slice(&[192, 0, 2, 10]);
        f.extend_from_slice(&[0x02, 0, 0, 0, 0, 0x10, 192, 0, 2, 1]);
        f.resize(60, 0);
        f
    };
    let frames: Vec<Vec<u8>> = (0..64).map(|i| reply([0x02, 0, 0, 0, 0, if i % 2 == 0 { 0x20 } else { 0x21 }])).collect();
    lab.write_pcap("arp.pcap", frames.iter().map(|f| f.as_slice()));
    // No next hop MAC for the collector: it is learnt from the replies.
    let setup = ports(&lab)
        .metrics()
        .port(Port::pcap("mirror").rx("{lab}/arp.pcap").infinite().tx("{lab}/out/mirror.pcap").tx("{lab}/out/mirror-control.pcap").mac("02:00:00:00:00:10").ipv4("192.0.2.1"))
        .eni(Eni::collector("eni-ids", "mirror", "192.0.2.10"))
        .target(Target::eni("tmt-ids", "eni-ids"));
    let setup = web_sends_mirrored(setup);
    let cfg = lab.config(&setup.toml());
    let mut child = lab.spawn(&cfg, &[]);
    let mut c = lab.client(&mut child);
    let addr = metrics_addr(&lab);
    std::thread::sleep(Duration::from_secs(3));
    let dropped = |c: &mut Client| c.call_value(&json!({"Action": "DescribeCounters"})).unwrap().unwrap()["control_frames_dropped"].as_u64().unwrap();
    assert!(dropped(&mut c) > 1000, "frames the control thread could not take are counted");
    let body = scrape(&addr, Duration::from_secs(2));
    let line = body.lines().find(|l| l.starts_with("traffic_mirror_control_frames_dropped_total")).unwrap_or_else(|| panic!("no drop counter in:\n{body}"));
    assert!(line.split_whitespace().last().unwrap().parse::<f64>().unwrap() > 1000.0, "{line}");
    answers_within(&mut c, Duration::from_secs(2));
    let (stdout, stderr) = stop(&lab, child);
    let hop_lines = stderr.lines().filter(|l| l.contains("next hop 192.0.2.10 on port mirror")).count();
    assert!((1..=3).contains(&hop_lines), "a flapping next hop logged {hop_lines} lines in 3 s:\n{stderr}");
    assert!(stdout.contains("frames for the control thread dropped"), "in the exit summary too:\n{stdout}");
}

/// A link whose uplink is slow: a veth into a namespace of its own behind `tc ... tbf rate
/// 10mbit`, sent on by net_af_packet through the qdisc (`qdisc_bypass=0`), so that the
/// shaping applies; the host side a veth from another namespace, where the test sends.
struct SlowUplink {
    near: e2e::netns::Netns,
    far: e2e::netns::Netns,
    /// The root-side ends: (host, uplink).
    ports: (String, String),
}

impl SlowUplink {
    /// `tbf` takes the rest of the qdisc's parameters (its queue: `latency ...` or `limit ...`).
    fn new(tag: &str, tbf: &str) -> SlowUplink {
        require_root();
        e2e::require_tool("tc", "iproute2");
        let id = std::process::id() % 100_000;
        let near = e2e::netns::Netns::new(&format!("tm-{tag}-near-{id}"));
        let far = e2e::netns::Netns::new(&format!("tm-{tag}-far-{id}"));
        let ports = (format!("tm{tag}h{id}"), format!("tm{tag}u{id}"));
        near.veth(&ports.0, "in", 9000);
        far.veth(&ports.1, "out", 9000);
        let mut tc = vec!["tc", "qdisc", "add", "dev", &ports.1, "root", "tbf", "rate", "10mbit", "burst", "5kb"];
        tc.extend(tbf.split_whitespace());
        e2e::sh(&tc);
        SlowUplink { near, far, ports }
    }

    /// The host and uplink ports (and the link) of a configuration.
    fn setup(&self) -> Setup {
        Setup::lab()
            .port(Port::af_packet("host", &self.ports.0))
            .port(Port::af_packet("uplink", &self.ports.1).arg("qdisc_bypass=0").ipv4("192.0.2.1"))
            .link("host", "uplink")
    }

    /// Sends `n` originals (UDP to port 5000, 1400 bytes, numbered) into the host port at
    /// `pps` frames a second (never faster: a late frame is not made up for), then a few
    /// more to another port, spaced out, which push along whatever net_af_packet still holds
    /// in its ring (it hands frames to the kernel only when it is given more). Returns how
    /// many of the `n` crossed the uplink.
    fn originals_through(&self, n: u32, pps: u32) -> u32 {
        let rx = e2e::netns::in_netns(&self.far.0, || e2e::netns::PacketSocket::bind("out"));
        let tx = e2e::netns::in_netns(&self.near.0, || e2e::netns::PacketSocket::bind("in"));
        let receiver = std::thread::spawn(move || {
            let mut seen = std::collections::BTreeSet::new();
            while let Some(f) = rx.recv(Duration::from_secs(3)) {
                // An original: IPv4, UDP, to port 5000, its number after the UDP header.
                if f.len() >= 46 && f[12..14] == [8, 0] && f[23] == 17 && f[36..38] == 5000u16.to_be_bytes() {
                    seen.insert(u32::from_be_bytes([f[42], f[43], f[44], f[45]]));
                }
            }
            seen
        });
        let gap = Duration::from_secs(1) / pps;
        for seq in 0..n {
            tx.send(&e2e::traffic::udp4(seq, 40000, 5000, 1400).bytes);
            std::thread::sleep(gap);
        }
        for seq in 0..20 {
            tx.send(&e2e::traffic::udp4(seq, 40000, 7, 60).bytes);
            std::thread::sleep(Duration::from_millis(100));
        }
        let seen = receiver.join().unwrap();
        seen.iter().filter(|s| **s < n).count() as u32
    }
}

#[test]
fn copies_never_share_a_slow_port_with_originals_on_a_device_that_cannot_keep_them_a_reserve() {
    // Today's uplink: a 10 Mbit/s link with a short queue. 150 originals at 600 a second
    // (6.7 Mbit/s) fit; with a copy each (13.6 Mbit/s) they do not, and the queue drops
    // whatever comes when it is full, originals too.
    let slow = SlowUplink::new("sh", "latency 50ms");
    let lab = Lab::new("sharedport");
    // A collector on the uplink: copies would leave by the port that forwards the originals.
    let cfg = lab.config(&web_sends_mirrored(slow.setup().collector_on("uplink", "eni-ids", "tmt-ids")).toml());
    let mut child = lab.spawn(&cfg, &[]);
    let t = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Client::connect(&lab.socket()).is_ok_and(|mut c| matches!(c.call_value(&json!({"Action": "DescribePorts"})), Ok(Ok(_)))) {
            // It runs with the copies on the uplink: measure what that costs the originals.
            let arrived = slow.originals_through(150, 600);
            panic!("a target on a slow port that forwards originals was accepted, and {} of 150 originals were lost", 150 - arrived);
        }
        assert!(t.elapsed() < Duration::from_secs(60), "neither refused nor started");
        std::thread::sleep(Duration::from_millis(50));
    };
    let log = std::fs::read_to_string(lab.path("run.stderr")).unwrap();
    assert_eq!(status.code(), Some(2), "{log}");
    // The target, the key and its value, the port, the device and why.
    for part in [
        format!("{}:", cfg.display()),
        "[[target]] \"tmt-ids\": network_interface_id = \"eni-ids\": its port \"uplink\" forwards originals".into(),
        format!("net_af_packet1,iface={},qdisc_bypass=0", slow.ports.1),
        "cannot say how full its TX ring is".into(),
    ] {
        assert!(log.contains(&part), "{part:?} not in:\n{log}");
    }
}

#[test]
fn through_the_api_too_and_meanwhile_every_original_crosses_the_slow_port() {
    // A deep queue this time: 1,000 originals at 800 a second (9 Mbit/s) fit the 10 Mbit/s
    // link whatever the machine's load does to their spacing.
    let slow = SlowUplink::new("sa", "limit 4mb");
    let lab = Lab::new("sharedapi");
    let setup = slow.setup().port(Port::null("mirror").mac("02:00:00:00:00:10").ipv4("192.0.2.1")).collector_on("mirror", "eni-ids", "tmt-ids");
    let cfg = lab.config(&web_sends_mirrored(setup).toml());
    let mut child = lab.spawn(&cfg, &[]);
    let mut c = lab.client(&mut child);
    let made = c.call_value(&json!({"Action": "CreateNetworkInterface", "NetworkInterfaceId": "eni-up", "Port": "uplink", "PrivateIpAddress": "192.0.2.11", "NextHopMac": "02:00:00:00:00:21"})).unwrap();
    assert!(made.is_ok(), "a collector on the uplink is no problem until copies go to it: {made:?}");
    let e = c.call_value(&json!({"Action": "CreateTrafficMirrorTarget", "NetworkInterfaceId": "eni-up"})).unwrap().unwrap_err();
    assert_eq!(e.code, "InvalidParameterCombination", "{e}");
    assert!(e.message.starts_with("Value (eni-up) for parameter NetworkInterfaceId is invalid: its port \"uplink\" forwards originals"), "{e}");
    assert!(e.message.contains("cannot say how full its TX ring is"), "{e}");
    let targets = c.call_value(&json!({"Action": "DescribeTrafficMirrorTargets"})).unwrap().unwrap();
    assert_eq!(targets["TrafficMirrorTargets"].as_array().map(Vec::len), Some(1), "the running configuration stays: {targets}");
    answers_within(&mut c, Duration::from_secs(1));

    let arrived = slow.originals_through(1000, 800);
    let counters = c.call_value(&json!({"Action": "DescribeCounters"})).unwrap().unwrap();
    let (_, stderr) = stop(&lab, child);
    assert_eq!(arrived, 1000, "originals lost on the slow uplink: {}\n{stderr}", 1000 - arrived);
    let mirrored = counters["sessions"][0]["egress"]["packets"].as_u64().unwrap_or_default();
    assert!(mirrored >= 1000, "the copies left by the mirror port: {counters}");
}

/// A tmpfs of `size` mounted at `path`, unmounted when dropped.
struct Tmpfs(std::path::PathBuf);

impl Tmpfs {
    fn mount(path: std::path::PathBuf, size: &str) -> Tmpfs {
        std::fs::create_dir_all(&path).unwrap();
        e2e::sh(&["mount", "-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs", path.to_str().unwrap()]);
        Tmpfs(path)
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

/// A FUSE file system that never answers, mounted over a folder: every look below it (stat,
/// open, read) blocks until it is released, as on a network mount whose server went away. The
/// kernel waits for its first answer (to FUSE_INIT) before serving any request, and none comes.
/// Released (the connection aborted, so that whatever waits fails with ENOTCONN, then unmounted)
/// by [`HungMount::release`] or when dropped: declare it after the lab, whose removal would
/// otherwise hang in it.
struct HungMount {
    dir: std::path::PathBuf,
    fuse: Option<std::fs::File>,
}

impl HungMount {
    fn over(dir: &std::path::Path) -> HungMount {
        use std::os::fd::AsRawFd;
        let fuse = std::fs::OpenOptions::new().read(true).write(true).open("/dev/fuse").expect("this test needs /dev/fuse (the fuse kernel module) to make a mount hang");
        let target = std::ffi::CString::new(dir.to_str().unwrap()).unwrap();
        let options = std::ffi::CString::new(format!("fd={},rootmode=40000,user_id=0,group_id=0", fuse.as_raw_fd())).unwrap();
        // SAFETY: every pointer is a NUL-terminated string that outlives the call.
        let r = unsafe { libc::mount(c"tm-hung".as_ptr(), target.as_ptr(), c"fuse".as_ptr(), libc::MS_NOSUID | libc::MS_NODEV, options.as_ptr().cast()) };
        assert_eq!(r, 0, "mounting a FUSE file system over {}: {}", dir.display(), std::io::Error::last_os_error());
        HungMount { dir: dir.to_path_buf(), fuse: Some(fuse) }
    }

    fn release(&mut self) {
        // Closing the last descriptor of the connection aborts it.
        if self.fuse.take().is_some() {
            let target = std::ffi::CString::new(self.dir.to_str().unwrap()).unwrap();
            // SAFETY: a NUL-terminated path that outlives the call.
            unsafe { libc::umount2(target.as_ptr(), libc::MNT_DETACH) };
        }
    }
}

impl Drop for HungMount {
    fn drop(&mut self) {
        self.release();
    }
}

/// `request` answered within `within` on a connection of its own (a control thread that never
/// answers fails the test instead of hanging it).
fn answered_within(lab: &Lab, request: Value, within: Duration) -> Result<Value, control::api::ApiError> {
    let (tx, rx) = std::sync::mpsc::channel();
    let sock = lab.socket();
    let t = Instant::now();
    std::thread::spawn(move || {
        let mut c = Client::connect(&sock).unwrap();
        let _ = tx.send(c.call_value(&request).unwrap());
    });
    let r = rx.recv_timeout(within).unwrap_or_else(|_| panic!("the control API did not answer within {within:?}"));
    assert!(t.elapsed() < within, "the control API took {:?}", t.elapsed());
    r
}

fn stderr_of(lab: &Lab) -> String {
    std::fs::read_to_string(lab.path("run.stderr")).unwrap_or_default()
}

fn until(what: &str, within: Duration, mut f: impl FnMut() -> bool) {
    let t = Instant::now();
    while !f() {
        assert!(t.elapsed() < within, "{what}: not within {within:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The lab's ports (with metrics) as `etc/config.toml`, in a folder of its own for a mount to
/// hang over: (the folder, the file).
fn config_in_folder(lab: &Lab) -> (std::path::PathBuf, std::path::PathBuf) {
    let etc = lab.path("etc");
    std::fs::create_dir(&etc).unwrap();
    let cfg = etc.join("config.toml");
    std::fs::rename(lab.config(&ports(lab).metrics().toml()), &cfg).unwrap();
    (etc, cfg)
}

/// For 3 s from `since`, `request`, DescribePorts, DescribeCounters and a scrape are each
/// answered within 500 ms, over and over.
fn answered_meanwhile(lab: &Lab, addr: &str, request: Value, since: Instant) {
    while since.elapsed() < Duration::from_secs(3) {
        for r in [json!({"Action": "DescribePorts"}), request.clone(), json!({"Action": "DescribeCounters"})] {
            answered_within(lab, r, Duration::from_millis(500)).unwrap();
        }
        scrape(addr, Duration::from_millis(500));
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The control thread's counter `field` (`reloads_stuck`, `writes_stuck`) is 1, in
/// DescribeCounters and as `traffic_mirror_control_<field>_total` in the metrics.
fn counted_once(lab: &Lab, addr: &str, field: &str) {
    let counters = answered_within(lab, json!({"Action": "DescribeCounters"}), Duration::from_millis(500)).unwrap();
    assert_eq!(counters["control"][field], 1, "{}", counters["control"]);
    let body = scrape(addr, Duration::from_millis(500));
    let line = format!("traffic_mirror_control_{field}_total 1");
    assert!(body.lines().any(|l| l == line), "{body}");
}

#[test]
fn a_reload_from_a_hung_mount_never_blocks_the_control_thread_and_keeps_the_running_configuration() {
    require_root();
    let lab = Lab::new("hungreload");
    let (etc, cfg) = config_in_folder(&lab);
    // At start-up there is nothing to serve yet: the read is waited for, a while, then the
    // start refused naming the file.
    {
        let _hung = HungMount::over(&etc);
        e2e::binary();
        let t = Instant::now();
        let run = lab.run(&cfg, Duration::from_secs(60));
        assert_eq!(run.code, Some(2), "{}", run.stderr);
        assert!(run.stderr.contains("etc/config.toml: reading it took longer than 5 s (a hung mount?)"), "{}", run.stderr);
        assert!(t.elapsed() < Duration::from_secs(30), "refused after {:?}", t.elapsed());
    }
    let mut child = lab.spawn(&cfg, &[]);
    let mut c = lab.client(&mut child);
    let addr = metrics_addr(&lab);
    let export = json!({"Action": "ExportConfiguration"});
    let running = c.call_value(&export).unwrap().unwrap();
    // The folder of the configuration (and of its journal) stops answering.
    let mut hung = HungMount::over(&etc);
    let asked = Instant::now();
    let reload = {
        let sock = lab.socket();
        std::thread::spawn(move || Client::connect(&sock).unwrap().call_value(&json!({"Action": "ReloadConfiguration"})).unwrap())
    };
    std::thread::sleep(Duration::from_millis(100));
    // SAFETY: signalling our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGHUP) };
    // While the read hangs, everything else is answered at once.
    answered_meanwhile(&lab, &addr, json!({"Action": "DescribeNeighbors"}), asked);
    // Given up after a while: the caller told, one line logged (the SIGHUP asked during the
    // read joined it), counted; the running configuration kept.
    let e = reload.join().unwrap().unwrap_err();
    assert!(asked.elapsed() < Duration::from_secs(40), "the reload's caller waited {:?}", asked.elapsed());
    assert_eq!(e.code, "ServiceUnavailable", "{e}");
    assert!(e.message.contains("a hung mount?") && e.message.contains("the running configuration is kept"), "{e}");
    until("the stuck reload logged", Duration::from_secs(5), || stderr_of(&lab).contains("is stuck"));
    assert_eq!(stderr_of(&lab).matches("is stuck").count(), 1, "{}", stderr_of(&lab));
    counted_once(&lab, &addr, "reloads_stuck");
    // Asked again while it is stuck: answered at once, nothing else read.
    let e = answered_within(&lab, json!({"Action": "ReloadConfiguration"}), Duration::from_millis(500)).unwrap_err();
    assert!(e.code == "ServiceUnavailable" && e.message.contains("still"), "{e}");
    assert_eq!(answered_within(&lab, export.clone(), Duration::from_millis(500)).unwrap(), running);
    // The mount comes back (its connection aborted): the stuck read returns, and the next
    // reload reads the file again.
    hung.release();
    until("the stuck read returning", Duration::from_secs(30), || stderr_of(&lab).contains("came back after"));
    let table = c.call_value(&json!({"Action": "ReloadConfiguration"})).unwrap().unwrap_or_else(|e| panic!("{e}\n{}", stderr_of(&lab)));
    assert!(table["Table"].as_u64().unwrap() > 1, "{table}");
    assert_eq!(c.call_value(&export).unwrap().unwrap(), running);
    let (_, stderr) = stop(&lab, child);
    assert_eq!(stderr.matches("is stuck").count(), 1, "{stderr}");
}

#[test]
fn capture_files_on_a_hung_mount_never_block_the_control_thread() {
    require_root();
    let lab = Lab::new("hungpcap");
    // The capture read once, forwarded into a capture file.
    write_capture(&lab);
    let setup = Setup::lab().port(Port::pcap("host").rx("{lab}/in.pcap")).port(Port::pcap("uplink").tx("{lab}/out/uplink.pcap")).link("host", "uplink").metrics();
    let cfg = lab.config(&setup.toml());
    let mut child = lab.spawn(&cfg, &[]);
    let mut c = lab.client(&mut child);
    let addr = metrics_addr(&lab);
    let port = |c: &mut Client, name: &str| {
        let ports = c.call_value(&json!({"Action": "DescribePorts"})).unwrap().unwrap();
        ports["Ports"].as_array().and_then(|p| p.iter().find(|p| p["name"] == name)).cloned().unwrap_or_else(|| panic!("{ports}"))
    };
    until("the frames sent", Duration::from_secs(30), || {
        let sent = port(&mut c, "uplink")["tx_packets"].as_u64().unwrap();
        sent > 0 && port(&mut c, "host")["rx_packets"] == sent
    });
    // The capture's folder stops answering (net_pcap keeps writing through the file it opened);
    // the control thread's once-a-second look at the file must not wait for it.
    let _hung = HungMount::over(&lab.path("out"));
    let t = Instant::now();
    while t.elapsed() < Duration::from_secs(12) {
        let ports = answered_within(&lab, json!({"Action": "DescribePorts"}), Duration::from_millis(500)).unwrap();
        assert!(ports["Ports"].as_array().unwrap().iter().all(|p| p["tx_unwritten"] == 0), "{ports}");
        answered_within(&lab, json!({"Action": "DescribeCounters"}), Duration::from_millis(500)).unwrap();
        scrape(&addr, Duration::from_millis(500));
        std::thread::sleep(Duration::from_millis(100));
    }
    // Said once, after a while.
    until("the stuck look logged", Duration::from_secs(5), || stderr_of(&lab).contains("have not answered a look for"));
    // At exit the last look waits a bounded time, then the report goes out with what the
    // checks saw last.
    let t = Instant::now();
    let (stdout, stderr) = stop(&lab, child);
    assert!(t.elapsed() < Duration::from_secs(30), "stopping took {:?}", t.elapsed());
    assert_eq!(stderr.matches("have not answered a look for").count(), 1, "{stderr}");
    assert!(stderr.contains("uplink.pcap) have not answered a look in"), "{stderr}");
    assert!(stdout.contains("uplink"), "the exit report: {stdout}");
}

#[test]
fn a_change_with_the_configuration_on_a_hung_mount_never_blocks_the_control_thread_and_its_token_tells_the_outcome() {
    require_root();
    let lab = Lab::new("hungchange");
    let (etc, cfg) = config_in_folder(&lab);
    let mut child = lab.spawn(&cfg, &[]);
    let mut c = lab.client(&mut child);
    let addr = metrics_addr(&lab);
    let filter = |description: &str, token: &str| json!({"Action": "CreateTrafficMirrorFilter", "Description": description, "ClientToken": token});
    let descriptions = |c: &mut Client| -> Vec<String> {
        let filters = c.call_value(&json!({"Action": "DescribeTrafficMirrorFilters"})).unwrap().unwrap();
        let mut d: Vec<String> = filters["TrafficMirrorFilters"].as_array().unwrap().iter().map(|f| f["Description"].as_str().unwrap_or_default().to_owned()).collect();
        d.sort();
        d
    };
    c.call_value(&filter("before", "t-before")).unwrap().unwrap();
    // The folder of the configuration and its journal stops answering: the look for a hand
    // edit before the write blocks.
    let mut hung = HungMount::over(&etc);
    let asked = Instant::now();
    let change = {
        let (sock, request) = (lab.socket(), filter("during", "t-during"));
        std::thread::spawn(move || Client::connect(&sock).unwrap().call_value(&request).unwrap())
    };
    // While it is written, everything else is answered at once.
    answered_meanwhile(&lab, &addr, json!({"Action": "DescribeTrafficMirrorFilters"}), asked);
    // Given up after a while: the caller told what it means, logged once, counted.
    let e = change.join().unwrap().unwrap_err();
    assert!(asked.elapsed() < Duration::from_secs(30), "the caller waited {:?}", asked.elapsed());
    assert_eq!(e.code, "ServiceUnavailable", "{e}");
    assert!(e.message.contains("config.toml.journal has not returned in") && e.message.contains("a hung mount?") && e.message.contains("same ClientToken"), "{e}");
    until("the stuck write logged", Duration::from_secs(5), || stderr_of(&lab).contains("created filter") && stderr_of(&lab).contains("has not returned in"));
    counted_once(&lab, &addr, "writes_stuck");
    // Another change while it stays stuck: refused at once, saying why; nothing of it in force.
    let e = answered_within(&lab, filter("refused", "t-refused"), Duration::from_millis(500)).unwrap_err();
    assert!(e.code == "ServiceUnavailable" && e.message.contains("changes are refused until then"), "{e}");
    assert_eq!(descriptions(&mut c), ["before"], "nothing is in force before it is on disk");
    // The mount comes back (its connection aborted): the write completes through the journal
    // opened before the hang, and the change is put in force then.
    hung.release();
    until("the stuck write returning", Duration::from_secs(30), || stderr_of(&lab).contains("came back after"));
    assert!(stderr_of(&lab).contains("now in force"), "{}", stderr_of(&lab));
    assert_eq!(descriptions(&mut c), ["before", "during"]);
    // A retry with its client token learns the outcome: the same filter, not a second one.
    let first = c.call_value(&filter("during", "t-during")).unwrap().unwrap();
    assert_eq!(descriptions(&mut c), ["before", "during"], "{first}");
    c.call_value(&filter("after", "t-after")).unwrap().unwrap_or_else(|e| panic!("changes are taken again: {e}"));
    // All of it survives a restart.
    let (_, stderr) = stop(&lab, child);
    assert_eq!(stderr.matches("has not returned in").count(), 1, "{stderr}");
    let mut child = lab.spawn(&cfg, &[]);
    let mut c = lab.client(&mut child);
    assert_eq!(descriptions(&mut c), ["after", "before", "during"]);
    let again = c.call_value(&filter("during", "t-during")).unwrap().unwrap();
    assert_eq!(again["TrafficMirrorFilter"]["TrafficMirrorFilterId"], first["TrafficMirrorFilter"]["TrafficMirrorFilterId"], "the token is kept too");
    stop(&lab, child);
}

/// Whole records in a pcap file (a cut one at the end, where the disk filled, is not).
fn pcap_records(path: &std::path::Path) -> u64 {
    let bytes = std::fs::read(path).unwrap();
    let (mut at, mut n) = (24usize, 0);
    while at + 16 <= bytes.len() {
        let caplen = u32::from_le_bytes(bytes[at + 8..at + 12].try_into().unwrap()) as usize;
        if at + 16 + caplen > bytes.len() {
            break;
        }
        at += 16 + caplen;
        n += 1;
    }
    n
}

#[test]
fn frames_a_full_disk_never_took_are_counted_as_unwritten_not_as_sent() {
    require_root();
    let lab = Lab::new("fulldisk");
    let disk = Tmpfs::mount(lab.path("disk"), "256k");
    lab.write_pcap("in.pcap", (0..64).map(|i| e2e::traffic::udp4(i, 40000, 5000, 1000).bytes).collect::<Vec<_>>().iter().map(Vec::as_slice));
    let uplink = Port::pcap("uplink").tx(&format!("{}/uplink.pcap", disk.0.display()));
    let cfg = lab.config(&Setup::lab().port(Port::pcap("host").rx("{lab}/in.pcap").infinite()).port(uplink).link("host", "uplink").toml());
    let mut child = lab.spawn(&cfg, &[]);
    let mut c = lab.client(&mut child);
    // Running: the shortfall shows within seconds, counted and logged.
    let t = Instant::now();
    let unwritten = loop {
        let ports = c.call_value(&json!({"Action": "DescribePorts"})).unwrap().unwrap();
        let uplink = ports["Ports"].as_array().and_then(|p| p.iter().find(|p| p["name"] == "uplink")).cloned().unwrap_or_else(|| panic!("{ports}"));
        assert_eq!(uplink["tx_errors"], 0, "net_pcap reports no write error itself: {uplink}");
        let n = uplink["tx_unwritten"].as_u64().unwrap_or_else(|| panic!("{uplink}"));
        if n > 0 {
            break n;
        }
        assert!(t.elapsed() < Duration::from_secs(60), "the full disk never showed: {uplink}");
        std::thread::sleep(Duration::from_millis(100));
    };
    answers_within(&mut c, Duration::from_secs(1));
    // And logged, by the control thread's check a second or so later.
    let logged = format!("port uplink: {}/uplink.pcap lacks", disk.0.display());
    let t = Instant::now();
    while !std::fs::read_to_string(lab.path("run.stderr")).unwrap().contains(&logged) {
        assert!(t.elapsed() < Duration::from_secs(30), "never logged: {logged}");
        std::thread::sleep(Duration::from_millis(100));
    }
    let (stdout, stderr) = stop(&lab, child);
    assert!(unwritten > 0);
    assert!(stderr.contains("frames counted as sent: writing it fails (a full disk?) and net_pcap counts no error"), "{stderr}");
    // At exit, exactly what the file lacks.
    let stats: Value = serde_json::from_str(&std::fs::read_to_string(lab.path("stats.json")).unwrap()).unwrap();
    let uplink = stats["ports"].as_array().unwrap().iter().find(|p| p["name"] == "uplink").unwrap();
    let (sent, written) = (uplink["tx_packets"].as_u64().unwrap(), pcap_records(&disk.0.join("uplink.pcap")));
    assert!(written > 0 && sent > written, "{uplink}, {written} in the file");
    assert_eq!(uplink["tx_unwritten"].as_u64(), Some(sent - written), "{uplink}");
    assert!(stdout.contains(&format!("port uplink: {} frames counted as sent are not in its tx_pcap files", sent - written)), "{stdout}");
}

#[test]
fn oversized_values_are_refused_by_member_and_value_while_another_client_is_answered_in_milliseconds() {
    require_root();
    let lab = Lab::new("bigvalues");
    let cfg = lab.config(&ports(&lab).toml());
    let mut child = lab.spawn(&cfg, &[]);
    let mut c = lab.client(&mut child);
    let pid = child.id();
    let before = rss_kb(pid);
    // Another client asks all along; its slowest answer is what an operator would wait.
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let watcher = {
        let (socket, done) = (lab.socket(), done.clone());
        std::thread::spawn(move || {
            let mut c = Client::connect(&socket).unwrap();
            let (mut slowest, mut asked) = (Duration::ZERO, 0);
            while !done.load(std::sync::atomic::Ordering::Relaxed) {
                let t = Instant::now();
                assert!(c.call_value(&json!({"Action": "DescribeTrafficMirrorFilters"})).unwrap().is_ok());
                slowest = slowest.max(t.elapsed());
                asked += 1;
                std::thread::sleep(Duration::from_millis(5));
            }
            (slowest, asked)
        })
    };
    let refused = |c: &mut Client, request: Value, member: &str, length: usize| {
        let e = c.call_value(&request).unwrap().unwrap_err();
        assert_eq!(e.code, "InvalidParameterValue", "{}", &e.message[..e.message.len().min(300)]);
        // The member and the value, shown by its start and its length: not echoed whole.
        assert!(e.message.contains(&format!("for parameter {member} is invalid")), "{}", &e.message[..e.message.len().min(300)]);
        assert!(e.message.contains(&format!("... ({length} characters))")), "{}", &e.message[..e.message.len().min(300)]);
        assert!(e.message.len() < 1000, "a refusal of {} bytes", e.message.len());
    };
    // 100 descriptions of half a megabyte each (under the line limit): never kept.
    let big = "d".repeat(500_000);
    for i in 0..100 {
        let request = json!({"Action": "CreateTrafficMirrorFilter", "Description": big, "ClientToken": format!("token-{i}")});
        refused(&mut c, request, "Description", 500_000);
    }
    // A client token past EC2's 64 characters: remembered with its reply, so refused.
    refused(&mut c, json!({"Action": "CreateTrafficMirrorFilter", "ClientToken": "t".repeat(10_000)}), "ClientToken", 10_000);
    // An id past 1,024 characters.
    let id = format!("eni-{}", "0".repeat(5_000));
    refused(&mut c, json!({"Action": "CreateNetworkInterface", "NetworkInterfaceId": id, "Port": "host"}), "NetworkInterfaceId", 5_004);
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    let (slowest, asked) = watcher.join().unwrap();
    let filters = c.call_value(&json!({"Action": "DescribeTrafficMirrorFilters"})).unwrap().unwrap();
    assert_eq!(filters["TrafficMirrorFilters"].as_array().map(Vec::len), Some(0), "nothing was created: {filters}");
    let grew = rss_kb(pid).saturating_sub(before);
    let (_, stderr) = stop(&lab, child);
    assert!(grew < 30_000, "memory grew by {grew} kB");
    assert!(asked > 10, "the other client asked {asked} times");
    // Each big request is parsed on the control thread, so the other client may wait behind
    // one: tens of milliseconds, not seconds, even on a loaded machine.
    assert!(slowest < Duration::from_millis(500), "the other client waited {slowest:?}");
    assert!(stderr.len() < 200_000, "the log took {} bytes", stderr.len());
}
