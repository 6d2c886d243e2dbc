//! Open vSwitch with DPDK (Debian's `openvswitch-switch-dpdk`, OVS 3.1) doing traffic-mirror's
//! job on the same devices: what a user would pick instead. One userspace bridge
//! (`datapath_type=netdev`) takes the capture from the same `net_pcap` `infinite_rx` source and
//! forwards it into a `net_null` sink; mirrored frames also go, cut by `output(max_len=128)`,
//! to a VXLAN tunnel port, whose underlay bridge sends the encapsulated copies into a second
//! `net_null` (or, for [`check_copies`], a `tx_pcap` file). The daemons' threads run on core 0
//! and the PMD on core 1 (`pmd-cpu-mask`), as traffic-mirror's control thread and worker do.
//!
//! Everything is private to one run: its own database and sockets in a temporary folder, its own
//! DPDK file prefix, and its own network namespace, where the underlay bridge's internal port
//! gets the address its tunnel routes from (OVS's userspace tunnels take their source address
//! and route from the kernel's table of the namespace it runs in). Dropping an [`Ovs`] stops
//! both daemons and removes the namespace, the folder and DPDK's runtime folder.
//!
//! Between measurements the switch is frozen (SIGSTOP), so that its PMD does not take the core
//! from traffic-mirror's runs it alternates with, and thawed (SIGCONT) for its own windows.

use crate::process::{Killed, RuntimeDir};
use crate::Args;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// What the switch does with the frames from the source.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Job {
    /// Forward every frame, mirror nothing.
    Forward,
    /// Forward every frame and mirror it (only TCP and UDP from source ports 1024-7475, a
    /// tenth of the benchmark's traffic, when `tenth`), cut to `max_len` bytes if given.
    Mirror { max_len: Option<u16>, tenth: bool },
}

impl Job {
    /// The row's name in the table.
    pub fn label(self) -> String {
        match self {
            Job::Forward => "OVS-DPDK forward only".into(),
            Job::Mirror { max_len, tenth } => {
                let share = if tenth { "10%" } else { "100%" };
                let cut = max_len.map_or("whole".to_string(), |l| format!("{l} B"));
                format!("OVS-DPDK {share} mirrored, {cut}")
            }
        }
    }

    /// OpenFlow rules for the bridge: the source is port 1, the sink 2, the tunnel 3.
    fn flows(self) -> String {
        match self {
            Job::Forward => "in_port=1,actions=output:2\n".into(),
            Job::Mirror { max_len, tenth } => {
                let mirror = match max_len {
                    Some(l) => format!("output:2,output(port=3,max_len={l})"),
                    None => "output:2,output:3".into(),
                };
                if !tenth {
                    return format!("in_port=1,actions={mirror}\n");
                }
                // OpenFlow matches ports by value and mask: the range as prefixes.
                let mut flows = String::from("priority=0,in_port=1,actions=output:2\n");
                for proto in ["tcp", "udp"] {
                    for (value, mask) in prefixes(1024, 7475) {
                        flows += &format!("priority=10,in_port=1,{proto},tp_src={value:#x}/{mask:#x},actions={mirror}\n");
                    }
                }
                flows
            }
        }
    }
}

/// The port range `from..=to` as (value, mask) prefixes that cover it exactly.
fn prefixes(from: u16, to: u16) -> Vec<(u16, u16)> {
    let (mut at, end, mut out) = (u32::from(from), u32::from(to) + 1, Vec::new());
    while at < end {
        // The largest aligned block starting at `at` that fits.
        let mut size = if at == 0 { 1 << 16 } else { at & at.wrapping_neg() };
        while at + size > end {
            size /= 2;
        }
        out.push((at as u16, (0x1_0000 - size) as u16));
        at += size;
    }
    out
}

/// One window of the switch at work.
#[derive(Clone, Copy, Debug)]
pub struct Rate {
    pub mpps: f64,
    pub gbps: f64,
    pub copies_per_s: f64,
    /// The PMD's processing cycles a frame received, as `dpif-netdev/pmd-stats-show` says.
    pub cycles_per_frame: f64,
}

/// A running switch on one capture. Stopped and cleaned up when dropped.
pub struct Ovs {
    /// Dropped first: the switch, then its database.
    vswitchd: Option<Killed>,
    ovsdb: Option<Killed>,
    /// Database, sockets and flow files.
    dir: PathBuf,
    ns: String,
    /// Where the daemons' logs go (kept after the run).
    log: PathBuf,
    frozen: bool,
    job: Option<Job>,
    /// After the daemons: DPDK's runtime folder of the switch's file prefix.
    _runtime: RuntimeDir,
}

/// Tells apart the switches of one benchmark process.
static STARTED: AtomicUsize = AtomicUsize::new(0);

/// The collector address of the tunnel and its next hop's MAC.
const REMOTE: &str = "192.0.2.10";
const REMOTE_MAC: &str = "02:00:00:00:00:0a";

impl Ovs {
    /// Starts the switch with the capture `input` as its source and `underlay` (a DPDK device)
    /// under the tunnel; returns it frozen, its bridges set up and forwarding nothing yet.
    pub fn start(a: &Args, input: &Path, underlay: &str) -> Ovs {
        let id = format!("tm-bench-ovs-{}-{}", std::process::id(), STARTED.fetch_add(1, Ordering::Relaxed));
        // Sockets have short paths: a temporary folder, not the output folder.
        let dir = std::env::temp_dir().join(&id);
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let log = a.out.join(format!("{id}.log"));
        let runtime = RuntimeDir(id.clone());
        let mut ovs = Ovs { vswitchd: None, ovsdb: None, dir, ns: id.clone(), log, frozen: false, job: None, _runtime: runtime };
        run(Command::new("ip").args(["netns", "add", &ovs.ns]));
        // No IPv6 chatter from the underlay's internal port: only copies leave by the underlay.
        run(ovs.in_ns("sysctl").args(["-qw", "net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1"]));
        let db = ovs.dir.join("conf.db");
        run(Command::new("ovsdb-tool").arg("create").arg(&db).arg("/usr/share/openvswitch/vswitch.ovsschema"));
        let log_file = std::fs::File::create(&ovs.log).unwrap();
        let ovsdb = ovs
            .in_ns("ovsdb-server")
            .arg(&db)
            .arg(format!("--remote=punix:{}", ovs.path("db.sock")))
            .arg(format!("--unixctl={}", ovs.path("ovsdb.ctl")))
            .stdout(Stdio::null())
            .stderr(log_file.try_clone().unwrap())
            .spawn()
            .expect("starting ovsdb-server (scripts/setup.sh installs openvswitch-switch-dpdk)");
        ovs.ovsdb = Some(Killed(ovsdb));
        ovs.wait_for(|o| Path::new(&o.path("db.sock")).exists(), "ovsdb-server's socket");
        let eal = format!("--no-huge -m 1024 --no-pci --legacy-mem --file-prefix {id} --log-level=lib.eal:warning");
        ovs.vsctl(&["--no-wait", "init"]);
        ovs.vsctl(&["--no-wait", "set", "Open_vSwitch", ".", "other_config:dpdk-init=true", &format!("other_config:dpdk-extra={eal}"), "other_config:pmd-cpu-mask=0x2"]);
        // The daemon's own threads on core 0; the PMD pins itself to core 1.
        let vswitchd = ovs
            .in_ns("taskset")
            .args(["-c", "0", "/usr/lib/openvswitch-switch-dpdk/ovs-vswitchd-dpdk"])
            .arg(format!("unix:{}", ovs.path("db.sock")))
            .arg(format!("--unixctl={}", ovs.path("vswitchd.ctl")))
            .env("OVS_RUNDIR", &ovs.dir)
            .stdout(Stdio::null())
            .stderr(log_file)
            .spawn()
            .expect("starting ovs-vswitchd-dpdk");
        ovs.vswitchd = Some(Killed(vswitchd));
        let source = format!("options:dpdk-devargs=net_pcap0,rx_pcap={},infinite_rx=1", input.display());
        let underlay = format!("options:dpdk-devargs={underlay}");
        let remote = format!("options:remote_ip={REMOTE}");
        #[rustfmt::skip]
        ovs.vsctl(&[
            "add-br", "br0", "--", "set", "bridge", "br0", "datapath_type=netdev", "--",
            "add-port", "br0", "src", "--", "set", "Interface", "src", "type=dpdk", &source, "ofport_request=1", "--",
            "add-port", "br0", "sink", "--", "set", "Interface", "sink", "type=dpdk", "options:dpdk-devargs=net_null0,no-rx=1", "ofport_request=2", "--",
            "add-port", "br0", "vx", "--", "set", "Interface", "vx", "type=vxlan", &remote, "options:key=1", "ofport_request=3", "--",
            "add-br", "br-phy", "--", "set", "bridge", "br-phy", "datapath_type=netdev", "--",
            "add-port", "br-phy", "under", "--", "set", "Interface", "under", "type=dpdk", &underlay, "ofport_request=1",
        ]);
        // Nothing leaves until a job's flows are set.
        ovs.ofctl("br0", &["del-flows"]);
        let underlay_flows = ovs.path("underlay.flows");
        std::fs::write(&underlay_flows, "in_port=LOCAL,udp,tp_dst=4789,actions=output:1\n").unwrap();
        ovs.ofctl("br-phy", &["replace-flows", &underlay_flows]);
        run(ovs.in_ns("ip").args(["addr", "add", "192.0.2.1/24", "dev", "br-phy"]));
        run(ovs.in_ns("ip").args(["link", "set", "br-phy", "up"]));
        ovs.wait_for(|o| o.appctl(&["ovs/route/show"]).contains("192.0.2.0/24"), "the tunnel's route");
        ovs.appctl(&["tnl/neigh/set", "br-phy", REMOTE, REMOTE_MAC]);
        ovs.freeze();
        ovs
    }

    /// Thaws the switch, sets `job`'s flows (if not already in force), waits `warm`, measures
    /// one `window`, and freezes it again.
    pub fn measure(&mut self, job: Job, warm: Duration, window: Duration) -> Rate {
        self.thaw();
        self.set_job(job);
        std::thread::sleep(warm);
        self.appctl(&["dpif-netdev/pmd-stats-clear"]);
        let s1 = self.sample();
        std::thread::sleep(window);
        let s2 = self.sample();
        let pmd = self.appctl(&["dpif-netdev/pmd-stats-show"]);
        self.freeze();
        let dt = (s2.at - s1.at).as_secs_f64();
        let cycles_per_frame = pmd
            .lines()
            .find_map(|l| l.trim().strip_prefix("avg processing cycles per packet:"))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .unwrap_or(f64::NAN);
        Rate {
            mpps: (s2.frames - s1.frames) as f64 / dt / 1e6,
            gbps: (s2.bytes - s1.bytes) as f64 * 8.0 / dt / 1e9,
            copies_per_s: (s2.copies - s1.copies) as f64 / dt,
            cycles_per_frame,
        }
    }

    fn set_job(&mut self, job: Job) {
        if self.job == Some(job) {
            return;
        }
        let file = self.path("br0.flows");
        std::fs::write(&file, job.flows()).unwrap();
        self.ofctl("br0", &["replace-flows", &file]);
        self.job = Some(job);
    }

    /// Frames and bytes received from the source and copies sent by the underlay so far, from
    /// the datapath's port statistics (DPDK's own, read live) in one call.
    fn sample(&self) -> Sample {
        let before = Instant::now();
        let text = self.appctl(&["dpctl/show", "-s"]);
        let at = before + (Instant::now() - before) / 2;
        Sample { at, frames: stat(&text, "src", "RX packets:", "RX packets:"), bytes: port_bytes(&text, "src"), copies: tx_packets(&text, "under") }
    }

    fn freeze(&mut self) {
        self.signal(libc::SIGSTOP);
        self.frozen = true;
    }

    fn thaw(&mut self) {
        self.signal(libc::SIGCONT);
        self.frozen = false;
    }

    fn signal(&self, sig: i32) {
        if let Some(v) = &self.vswitchd {
            // SAFETY: signalling our own child.
            unsafe { libc::kill(v.0.id() as i32, sig) };
        }
    }

    fn path(&self, name: &str) -> String {
        self.dir.join(name).display().to_string()
    }

    fn in_ns(&self, program: &str) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.ns, program]);
        c
    }

    fn vsctl(&self, args: &[&str]) -> String {
        let db = format!("--db=unix:{}", self.path("db.sock"));
        self.checked(Command::new("ovs-vsctl").args([db.as_str(), "--timeout=120"]).args(args))
    }

    fn ofctl(&self, bridge: &str, args: &[&str]) -> String {
        let (verb, rest) = args.split_first().unwrap();
        self.checked(Command::new("ovs-ofctl").arg(verb).arg(format!("unix:{}", self.path(&format!("{bridge}.mgmt")))).args(rest))
    }

    fn appctl(&self, args: &[&str]) -> String {
        self.checked(Command::new("ovs-appctl").arg("-t").arg(self.path("vswitchd.ctl")).arg("--timeout=60").args(args))
    }

    /// Runs an OVS tool, which must succeed; on failure, the daemons' log says why.
    fn checked(&self, c: &mut Command) -> String {
        let out = c.output().unwrap_or_else(|e| panic!("{c:?}: {e}"));
        assert!(out.status.success(), "{c:?} failed:\n{}{}\nOVS's log ({}):\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr), self.log.display(), self.log_tail());
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn wait_for(&self, ready: impl Fn(&Ovs) -> bool, what: &str) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while !ready(self) {
            assert!(Instant::now() < deadline, "OVS: no {what} after 60 s; its log ({}):\n{}", self.log.display(), self.log_tail());
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }
}

impl Drop for Ovs {
    fn drop(&mut self) {
        // A frozen process keeps a SIGTERM pending: thawed first, so that it stops cleanly
        // (closing its DPDK ports, which writes out a tx_pcap file).
        if self.frozen {
            self.thaw();
        }
        drop(self.vswitchd.take());
        drop(self.ovsdb.take());
        let _ = Command::new("ip").args(["netns", "delete", &self.ns]).status();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

struct Sample {
    at: Instant,
    frames: u64,
    bytes: u64,
    copies: u64,
}

/// The figure after `key` in the block of port `name` of `dpctl/show -s`, where a line holds
/// `RX packets:N ...`, `TX packets:N ...` and `RX bytes:N  TX bytes:N`.
fn stat(text: &str, name: &str, line_start: &str, key: &str) -> u64 {
    let mut lines = text.lines().skip_while(|l| {
        let mut w = l.split_whitespace();
        !(w.next() == Some("port") && w.nth(1) == Some(name))
    });
    lines.next().unwrap_or_else(|| panic!("no port {name} in OVS's dpctl/show:\n{text}"));
    lines
        .take_while(|l| !l.trim_start().starts_with("port "))
        .filter(|l| l.trim_start().starts_with(line_start))
        .find_map(|l| {
            let at = l.find(key)? + key.len();
            l[at..].split_whitespace().next()?.parse().ok()
        })
        .unwrap_or_else(|| panic!("no {line_start} {key} for port {name} in OVS's dpctl/show:\n{text}"))
}

fn port_bytes(text: &str, name: &str) -> u64 {
    stat(text, name, "RX bytes:", "RX bytes:")
}

fn tx_packets(text: &str, name: &str) -> u64 {
    stat(text, name, "TX packets:", "TX packets:")
}

/// Runs a command that must succeed.
fn run(c: &mut Command) {
    let out = c.output().unwrap_or_else(|e| panic!("{c:?}: {e}"));
    assert!(out.status.success(), "{c:?} failed:\n{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
}

/// Once per run: OVS's copies of `input` (which should hold frames longer than 128 bytes)
/// written to a file by a short `tx_pcap` run and read back with tshark, to show that what it
/// is measured on is the same job: VXLAN to 4789 with VNI 1, the inner frame cut at 128
/// bytes. Returns the line that says so; panics when they are not.
pub fn check_copies(a: &Args, input: &Path) -> String {
    let pcap = a.out.join("ovs-copies.pcap");
    let _ = std::fs::remove_file(&pcap);
    {
        let mut ovs = Ovs::start(a, input, &format!("net_pcap1,tx_pcap={}", pcap.display()));
        ovs.measure(Job::Mirror { max_len: Some(128), tenth: false }, Duration::from_millis(100), Duration::from_millis(100));
        ovs.thaw();
        ovs.set_job(Job::Forward);
    }
    let out = Command::new("tshark")
        .arg("-r")
        .arg(&pcap)
        .args(["-T", "fields", "-E", "separator=;", "-e", "frame.len", "-e", "udp.dstport", "-e", "vxlan.vni", "-e", "ip.proto", "-e", "ip.ttl"])
        .output()
        .expect("running tshark (scripts/setup.sh installs it)");
    assert!(out.status.success(), "tshark on {}: {}", pcap.display(), String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    let (mut frames, mut cut) = (0, 0);
    for line in text.lines() {
        let f: Vec<&str> = line.split(';').collect();
        let len: usize = f[0].parse().unwrap();
        // Outer then inner: two IP layers, the first of them UDP to 4789 carrying VNI 1.
        let protos: Vec<&str> = f[3].split(',').collect();
        assert!(f[1].split(',').next() == Some("4789") && f[2] == "1" && protos.len() == 2 && protos[0] == "17", "not a VXLAN copy (VNI 1) of an IP frame: {line}");
        assert!(len <= 50 + 128, "a copy of {len} bytes: not cut at 128 ({line})");
        frames += 1;
        cut += usize::from(len == 50 + 128);
    }
    assert!(frames > 0 && cut > 0, "OVS's tx_pcap run wrote {frames} copies, {cut} of them cut at 128 bytes ({})", pcap.display());
    let _ = std::fs::remove_file(&pcap);
    format!("OVS-DPDK's copies, checked with tshark: {frames} frames, all VXLAN to 4789 (VNI 1) around an IP frame, inner frames cut at 128 bytes ({cut} of 178 bytes outer)")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_ranges_become_exact_prefixes() {
        for (from, to) in [(1024, 7475), (0, 65535), (5, 5), (1, 1000)] {
            let p = prefixes(from, to);
            let covered: Vec<u32> = (0..=65535u32).filter(|&v| p.iter().any(|&(val, mask)| v as u16 & mask == val)).collect();
            assert_eq!(covered.first(), Some(&u32::from(from)));
            assert_eq!(covered.last(), Some(&u32::from(to)));
            assert_eq!(covered.len() as u32, u32::from(to) - u32::from(from) + 1);
        }
    }

    #[test]
    fn statistics_are_read_per_port() {
        let text = "netdev@ovs-netdev:\n  lookups: hit:1 missed:2 lost:0\n  port 0: ovs-netdev (tap)\n    RX packets:0 errors:0 dropped:0 overruns:0 frame:0\n    TX packets:0 errors:0 dropped:0 aborted:0 carrier:0\n    collisions:0\n    RX bytes:0  TX bytes:0\n  port 1: src (dpdk: configured_rx_queues=1)\n    RX packets:1000 errors:0 dropped:0 overruns:0 frame:0\n    TX packets:0 errors:0 dropped:0 aborted:0 carrier:0\n    collisions:0\n    RX bytes:64000 (62.5 KiB)  TX bytes:0\n  port 4: under (dpdk)\n    RX packets:0 errors:0 dropped:0 overruns:0 frame:0\n    TX packets:990 errors:0 dropped:0 aborted:0 carrier:0\n";
        assert_eq!(stat(text, "src", "RX packets:", "RX packets:"), 1000);
        assert_eq!(port_bytes(text, "src"), 64000);
        assert_eq!(tx_packets(text, "under"), 990);
    }
}
