//! Issue 22: DPDK's own capture tool, dpdk-pdump, attached to a live traffic-mirror, captures
//! what the mirror port sends.
//!
//! dpdk-pdump is a secondary DPDK process: it maps the running process's hugepage memory, so
//! this test runs traffic-mirror on hugepages (reserving them itself, and giving back what it
//! reserved). Its ports are TAP devices moved into a network namespace the test creates: frames
//! are written into the host port after dpdk-pdump is attached, and what the mirror port sent
//! is read from its TAP. Not net_pcap files: when a secondary process attaches, net_pcap
//! reopens every `tx_pcap` file of the primary for writing, truncating what the port wrote.

use e2e::traffic::udp4;
use e2e::netns::{Netns, PacketSocket};
use e2e::config::{Eni, Filter, Port, Rule, Session, Setup};
use e2e::{read_pcap, remove_runtime_dir, require_root, require_tool, sh, Lab};
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

/// 2 MiB pages the test needs free: traffic-mirror's pools and dpdk-pdump's, with room.
const PAGES_NEEDED: u64 = 256;
/// Frames written into the host port; each is mirrored.
const FRAMES: usize = 200;
/// Destination port of the test's UDP frames: the only frames the session's filter accepts, so
/// that nothing the kernel might send on a new link gets mirrored.
const DPORT: u16 = 7000;

/// Hugepages reserved for the test: raises `nr_hugepages` when too few are free, and on drop
/// (panics included) removes the page files DPDK left under the file prefix and puts the old
/// reservation back.
struct Hugepages {
    old: u64,
    raised: bool,
    prefix: String,
}

const NR_HUGEPAGES: &str = "/proc/sys/vm/nr_hugepages";
const HUGE_DIR: &str = "/dev/hugepages";

fn meminfo(field: &str) -> u64 {
    let text = std::fs::read_to_string("/proc/meminfo").expect("reading /proc/meminfo");
    let line = text.lines().find(|l| l.starts_with(field)).unwrap_or_else(|| panic!("/proc/meminfo has no {field}"));
    line.split_whitespace().nth(1).and_then(|v| v.parse().ok()).unwrap_or_else(|| panic!("/proc/meminfo: {line}"))
}

impl Hugepages {
    fn reserve(pages: u64, prefix: &str) -> Hugepages {
        assert_eq!(meminfo("Hugepagesize:"), 2048, "this test reserves 2 MiB hugepages; the default size here is another");
        let mounts = std::fs::read_to_string("/proc/mounts").expect("reading /proc/mounts");
        assert!(
            mounts.lines().any(|l| l.split_whitespace().nth(1) == Some(HUGE_DIR) && l.contains("hugetlbfs")),
            "this test needs hugetlbfs mounted on {HUGE_DIR} (scripts/hugepages.sh mounts it)"
        );
        let old: u64 = std::fs::read_to_string(NR_HUGEPAGES).expect("reading nr_hugepages").trim().parse().expect("nr_hugepages is a number");
        let free = meminfo("HugePages_Free:");
        let mut guard = Hugepages { old, raised: false, prefix: prefix.into() };
        if free < pages {
            std::fs::write(NR_HUGEPAGES, (old + pages - free).to_string()).expect("raising nr_hugepages");
            guard.raised = true;
        }
        let free = meminfo("HugePages_Free:");
        assert!(free >= pages, "this test needs {pages} free 2 MiB hugepages and got {free} (memory too fragmented? reserve them at boot)");
        guard
    }
}

impl Drop for Hugepages {
    fn drop(&mut self) {
        // DPDK keeps its page files after exit (for a restart to reuse): they hold the pages.
        if let Ok(dir) = std::fs::read_dir(HUGE_DIR) {
            for f in dir.flatten() {
                if f.file_name().to_string_lossy().starts_with(&format!("{}map_", self.prefix)) {
                    let _ = std::fs::remove_file(f.path());
                }
            }
        }
        if self.raised {
            let _ = std::fs::write(NR_HUGEPAGES, self.old.to_string());
        }
    }
}

/// A dpdk-pdump process: killed when dropped, unless stopped.
struct Pdump {
    child: Option<Child>,
    out: PathBuf,
}

impl Pdump {
    /// Starts dpdk-pdump capturing the TX of every queue of `port` into `file`, and returns
    /// once it has attached (the primary installed its callbacks).
    fn attach(lab: &Lab, prefix: &str, port: u16, file: &Path) -> Pdump {
        let out = lab.path("pdump.out");
        let log = std::fs::File::create(&out).expect("creating pdump.out");
        // stdout is a file, fully buffered by default: its "capture for" line would only show
        // at exit. It comes right after the primary has acknowledged the capture.
        let child = Command::new("stdbuf")
            .args(["-oL", "dpdk-pdump", "--file-prefix", prefix, "--no-pci", "--log-level=lib.eal:warning", "--", "--pdump"])
            .arg(format!("port={port},queue=*,tx-dev={},total-num-mbufs=4096", file.display()))
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("starting dpdk-pdump");
        let mut p = Pdump { child: Some(child), out };
        let deadline = Instant::now() + Duration::from_secs(60);
        while !p.log().contains("capture for (1) tuples") {
            if let Some(status) = p.child.as_mut().unwrap().try_wait().expect("polling dpdk-pdump") {
                panic!("dpdk-pdump exited ({status}) before attaching:\n{}", p.log());
            }
            assert!(Instant::now() < deadline, "dpdk-pdump did not attach within 60 s:\n{}", p.log());
            std::thread::sleep(Duration::from_millis(50));
        }
        p
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.out).unwrap_or_default()
    }

    /// Stops it as Ctrl-C would: it detaches, writes what its ring still holds and closes the
    /// file. Returns its output.
    fn stop(mut self) -> String {
        let mut child = self.child.take().unwrap();
        // SAFETY: signalling our own child.
        unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
        let deadline = Instant::now() + Duration::from_secs(60);
        let status = loop {
            if let Some(s) = child.try_wait().expect("waiting for dpdk-pdump") {
                break s;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!("dpdk-pdump did not stop within 60 s:\n{}", self.log());
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        assert!(status.success(), "dpdk-pdump failed ({status}):\n{}", self.log());
        self.log()
    }
}

impl Drop for Pdump {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

#[test]
fn dpdk_pdump_captures_exactly_what_the_mirror_port_of_a_live_process_sends() {
    require_root();
    require_tool("dpdk-pdump", "dpdk");
    require_tool("stdbuf", "coreutils");
    require_tool("ip", "iproute2");
    let lab = Lab::new("pdump");
    // Declared first, dropped last: after every DPDK process below has ended.
    let _pages = Hugepages::reserve(PAGES_NEEDED, &lab.prefix);
    let tag = std::process::id() % 100_000;
    let ns = Netns::new(&format!("tm-pdump-{tag}"));
    let (host_tap, mirror_tap) = (format!("tmpdh{tag}"), format!("tmpdm{tag}"));
    let setup = Setup::lab()
        .with(|c| {
            c.dataplane.eal_args = ["--no-pci", "--huge-dir", HUGE_DIR].map(String::from).to_vec();
            c.dataplane.pdump = true;
        })
        .port(Port::tap("host", &host_tap))
        .port(Port::null("uplink"))
        .port(Port::tap("mirror", &mirror_tap).ipv4("192.0.2.1"))
        .link("host", "uplink")
        .eni(Eni::new("eni-web", "host"))
        .collector("eni-ids", "tmt-ids")
        .filter(Filter::new("f").egress(Rule::accept(1).protocol(17).destination_port(DPORT, DPORT)))
        .session(Session::new("tms-1", 1).source("eni-web").target("tmt-ids").filter("f").vni(22));
    let cfg = lab.config(&setup.toml());
    let mut running = lab.spawn(&cfg, &[]);
    lab.client(&mut running);
    let log = std::fs::read_to_string(lab.path("run.stderr")).unwrap_or_default();
    assert!(log.contains("dpdk-pdump can capture any port"), "traffic-mirror on hugepages does not serve dpdk-pdump:\n{log}");
    let mirror_port: u16 = log
        .lines()
        .find(|l| l.contains("port \"mirror\""))
        .and_then(|l| l.split("DPDK port ").nth(1))
        .and_then(|r| r.split(')').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no DPDK port id for the mirror port in the log:\n{log}"));

    // The TAPs in the namespace, with no IPv6 to chatter on them.
    ns.exec(&["sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1"]);
    for tap in [&host_tap, &mirror_tap] {
        sh(&["ip", "link", "set", tap, "netns", &ns.0]);
        ns.exec(&["ip", "link", "set", tap, "up"]);
    }

    let captured = lab.path("pdump-mirror-tx.pcap");
    let pdump = Pdump::attach(&lab, &lab.prefix, mirror_port, &captured);

    // Frames of every size class, long ones included (sent by reference, as chained mbufs).
    let sizes = [60, 128, 300, 700, 1000, 1400];
    let frames: Vec<Vec<u8>> = (0..FRAMES).map(|i| udp4(i as u32, 1024 + i as u16, DPORT, sizes[i % sizes.len()]).bytes).collect();
    let sent = ns.run(move || {
        let host = PacketSocket::bind(&host_tap);
        let mirror = PacketSocket::bind(&mirror_tap);
        // A few at a time, each batch's copies read back before the next: a starved worker
        // never sees the TAP's queue overflow.
        let mut sent = Vec::new();
        for batch in frames.chunks(8) {
            for f in batch {
                host.send(f);
            }
            for _ in batch {
                // A copy that takes longer than this on a loaded machine is lost, not late.
                sent.push(mirror.recv(Duration::from_secs(30)).expect("no copy from the mirror port within 30 s"));
            }
        }
        sent
    });
    let pdump_log = pdump.stop();
    let run = lab.finish({
        // SAFETY: signalling our own child.
        unsafe { libc::kill(running.id() as i32, libc::SIGTERM) };
        running
    });
    run.assert_ok();
    remove_runtime_dir(&lab.prefix);

    assert_eq!(sent.len(), FRAMES);
    assert!(sent.iter().all(|c| c.len() > 50 && c[12..14] == [0x08, 0x00] && c[23] == 17 && c[36..38] == 4789u16.to_be_bytes()), "the mirror port sent something else than VXLAN copies");
    // In order: one worker sends every copy through one TX queue, whose callback feeds one ring.
    let got = read_pcap(&captured);
    e2e::assert_same_frames(&format!("dpdk-pdump's capture of the mirror port's TX\n{pdump_log}"), &got, &sent);
}

#[test]
fn without_hugepages_traffic_mirror_says_once_that_dpdk_pdump_needs_them() {
    require_root();
    let lab = Lab::new("pdump-nohuge");
    let cfg = lab.config(&Setup::lab().port(Port::null("host")).port(Port::null("uplink")).link("host", "uplink").toml());
    let mut running = lab.spawn(&cfg, &[]);
    lab.client(&mut running);
    // SAFETY: signalling our own child.
    unsafe { libc::kill(running.id() as i32, libc::SIGTERM) };
    let run = lab.finish(running);
    run.assert_ok();
    let said: Vec<_> = run.stderr.lines().filter(|l| l.contains("dpdk-pdump")).collect();
    assert_eq!(said.len(), 1, "{}", run.stderr);
    assert!(said[0].contains("capturing with dpdk-pdump needs hugepages (the EAL runs with --no-huge) and [dataplane] pdump = true"), "{}", said[0]);
}
