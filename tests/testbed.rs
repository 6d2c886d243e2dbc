//! Issue 5: the lab of scripts/testbed.sh, on the kernel's real network stack. A client and a
//! server namespace talk through traffic-mirror (net_tap); a collector namespace receives the
//! copies on the kernel's own VXLAN devices. What those devices deliver, decapsulated by the
//! kernel, is compared with what the client's and the server's own captures saw cross the
//! wire, frame for frame and byte for byte, in both directions.
//!
//! Each test runs its own lab (its own name prefix, state folder and DPDK file prefix) through
//! the script, and takes it down again, also when it fails.

use control::config::{Config, RuleAction};
use e2e::{binary, read_pcap, require_root, require_tool, run_with_timeout, sh, workspace, Lab};
use etherparse::{NetSlice, SlicedPacket, TransportSlice};
use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream, UdpSocket};
use e2e::netns::in_netns;
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

// The lab's fixed addressing, as scripts/testbed.sh sets it up and config/testbed.toml expects.
const CLIENT_MAC: [u8; 6] = [2, 0, 0, 0, 0, 1];
const SERVER_MAC: [u8; 6] = [2, 0, 0, 0, 0, 2];
const MIRROR_MAC: [u8; 6] = [2, 0, 0, 0, 0, 0x10];
const COLLECTOR_MAC: [u8; 6] = [2, 0, 0, 0, 0, 0x20];
const CLIENT_IP: &str = "10.0.0.1";
const SERVER_IP: &str = "10.0.0.2";
const SERVER_IP6: &str = "fd10::2";
const MIRROR_IP: [u8; 4] = [192, 0, 2, 1];
const COLLECTOR_IP: [u8; 4] = [192, 0, 2, 10];
const MIRROR_IP6: &str = "fd20::1";
const COLLECTOR_IP6: &str = "fd20::10";

/// One lab of scripts/testbed.sh, taken down when dropped.
struct Testbed {
    prefix: String,
    lab: Lab,
}

impl Testbed {
    /// A lab named `tag` + this process's id: unique among parallel tests and test runs.
    fn new(tag: &str) -> Testbed {
        require_root();
        for (tool, package) in [("ip", "iproute2"), ("tcpdump", "tcpdump"), ("ping", "iputils-ping"), ("nc", "netcat-openbsd"), ("curl", "curl")] {
            require_tool(tool, package);
        }
        let prefix = format!("{tag}{}", std::process::id() % 100_000);
        Testbed { lab: Lab::new(&format!("testbed-{tag}")), prefix }
    }

    /// The lab's name for a namespace (`client`) or TAP device (`cli`): as testbed.sh names them.
    fn name(&self, role: &str) -> String {
        format!("{}-{role}", self.prefix)
    }

    fn dir(&self) -> PathBuf {
        self.lab.path("state")
    }

    /// The script with this lab's environment.
    fn command(&self, verb: &str, vnis: Option<&str>) -> Command {
        let mut cmd = Command::new(workspace().join("scripts/testbed.sh"));
        cmd.arg(verb).env("TESTBED_PREFIX", &self.prefix).env("TESTBED_DIR", self.dir()).env("TESTBED_BIN", binary());
        match vnis {
            Some(v) => cmd.env("TESTBED_VNIS", v),
            None => cmd.env_remove("TESTBED_VNIS"),
        };
        cmd
    }

    fn script(&self, verb: &str, vnis: Option<&str>) -> Output {
        run_with_timeout(self.command(verb, vnis), Duration::from_secs(120))
    }

    /// `up`, which must succeed; returns what it printed.
    fn up(&self, vnis: Option<&str>) -> String {
        let out = self.script("up", vnis);
        assert!(out.status.success(), "testbed.sh up failed:\n{}", text(&out));
        text(&out)
    }

    /// `up` running configuration `toml` (written to the lab's `file`), which must succeed.
    fn up_with(&self, file: &str, toml: &str) {
        let config = self.lab.path(file);
        std::fs::write(&config, toml).unwrap_or_else(|e| panic!("writing {}: {e}", config.display()));
        let mut cmd = self.command("up", None);
        cmd.env("TESTBED_CONFIG", &config);
        let out = run_with_timeout(cmd, Duration::from_secs(120));
        assert!(out.status.success(), "testbed.sh up failed:\n{}", text(&out));
    }

    /// `down`, which must succeed and leave nothing behind.
    fn down(&self) -> String {
        let out = self.script("down", None);
        assert!(out.status.success(), "testbed.sh down failed:\n{}", text(&out));
        self.assert_gone();
        text(&out)
    }

    /// The traffic-mirror processes of this lab (found by its DPDK file prefix).
    fn processes(&self) -> Vec<u32> {
        let want = format!("testbed-{}", self.prefix);
        let mut pids = Vec::new();
        for entry in std::fs::read_dir("/proc").expect("reading /proc").flatten() {
            let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else { continue };
            let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else { continue };
            let args: Vec<&[u8]> = cmdline.split(|b| *b == 0).collect();
            if args.windows(2).any(|w| w[0] == b"--file-prefix" && w[1] == want.as_bytes()) {
                pids.push(pid);
            }
        }
        pids
    }

    /// No namespace, link, process or DPDK runtime folder of this lab is left.
    fn assert_gone(&self) {
        let netns = sh(&["ip", "netns", "list"]);
        let left: Vec<&str> = netns.lines().filter(|l| l.starts_with(&format!("{}-", self.prefix))).collect();
        assert!(left.is_empty(), "namespaces left behind: {left:?}");
        let links = sh(&["ip", "-br", "link"]);
        let left: Vec<&str> = links.lines().filter(|l| l.starts_with(&format!("{}-", self.prefix))).collect();
        assert!(left.is_empty(), "links left behind: {left:?}");
        assert_eq!(self.processes(), Vec::<u32>::new(), "traffic-mirror processes left behind");
        let runtime = PathBuf::from(format!("/var/run/dpdk/testbed-{}", self.prefix));
        assert!(!runtime.exists(), "{} left behind", runtime.display());
    }

    /// Runs `args` in namespace `ns`; it must succeed.
    fn exec(&self, ns: &str, args: &[&str]) -> String {
        let mut a = vec!["ip", "netns", "exec", ns];
        a.extend_from_slice(args);
        sh(&a)
    }
}

impl Drop for Testbed {
    fn drop(&mut self) {
        // Whatever happened, the lab goes; a failing test has already said why.
        let _ = self.command("down", None).stdout(Stdio::null()).stderr(Stdio::null()).status();
    }
}

fn text(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

/// A tcpdump writing a pcap file in a namespace.
struct Capture {
    child: Option<Child>,
    file: PathBuf,
    log: PathBuf,
    what: String,
}

impl Capture {
    /// Starts capturing and returns once tcpdump listens.
    fn start(tb: &Testbed, ns: &str, dev: &str, name: &str, extra: &[&str]) -> Capture {
        let file = tb.lab.path(&format!("{name}.pcap"));
        let log = tb.lab.path(&format!("{name}.tcpdump"));
        let err = std::fs::File::create(&log).expect("creating a tcpdump log");
        let child = Command::new("ip")
            // Immediate mode: otherwise frames wait in the kernel's ring for a block timeout, and
            // those still waiting at SIGINT are lost. Immediate mode gives every frame a ring
            // slot of the snapshot length: at tcpdump's default of 256 KiB its 2 MiB ring holds
            // 8 frames and drops bursts, so snap at what the lab's MTU allows and grow the ring.
            .args(["netns", "exec", ns, "tcpdump", "-n", "-U", "--immediate-mode", "-s", "2048", "-B", "16384", "-i", dev, "-w"])
            .arg(&file)
            .args(extra)
            .stdout(Stdio::null())
            .stderr(err)
            .spawn()
            .expect("starting tcpdump");
        let mut cap = Capture { child: Some(child), file, log, what: format!("{name} ({dev} in {ns})") };
        let deadline = Instant::now() + Duration::from_secs(15);
        while !std::fs::read_to_string(&cap.log).unwrap_or_default().contains("listening on") {
            if let Some(status) = cap.child.as_mut().unwrap().try_wait().expect("polling tcpdump") {
                panic!("tcpdump for {} exited ({status}): {}", cap.what, std::fs::read_to_string(&cap.log).unwrap_or_default());
            }
            assert!(Instant::now() < deadline, "tcpdump for {} did not start", cap.what);
            std::thread::sleep(Duration::from_millis(20));
        }
        cap
    }

    /// Stops tcpdump and returns what it captured, which must be everything that arrived.
    fn stop(mut self) -> Vec<Vec<u8>> {
        // Frames tcpdump has not read yet at SIGINT count as received but are never written: on
        // a busy machine it may lag behind, so wait until its file has stopped growing (it
        // writes each frame as it reads it, -U) for a second.
        let size = || std::fs::metadata(&self.file).map(|m| m.len()).unwrap_or(0);
        let (mut last, mut still, deadline) = (size(), Instant::now(), Instant::now() + Duration::from_secs(20));
        while still.elapsed() < Duration::from_secs(1) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(100));
            if size() != last {
                (last, still) = (size(), Instant::now());
            }
        }
        let mut child = self.child.take().expect("running");
        // SAFETY: signalling our own child; tcpdump flushes its file on SIGINT.
        unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
        let status = child.wait().expect("waiting for tcpdump");
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        assert!(status.success(), "tcpdump for {} failed ({status}): {log}", self.what);
        let count = |what: &str| {
            let line = log.lines().find(|l| l.ends_with(what)).unwrap_or_else(|| panic!("tcpdump for {} printed no \"{what}\": {log}", self.what));
            line.split(' ').next().and_then(|n| n.parse::<u64>().ok()).unwrap_or_else(|| panic!("tcpdump for {}: {line}", self.what))
        };
        let (captured, received, dropped) = (count("packets captured"), count("packets received by filter"), count("packets dropped by kernel"));
        assert!(captured == received && dropped == 0, "tcpdump for {} missed frames: {log}", self.what);
        let frames = read_pcap(&self.file);
        assert_eq!(frames.len() as u64, captured, "tcpdump for {}: frames in the file", self.what);
        frames
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Reproducible bytes to send.
fn payload(seed: u32, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect()
}

/// A TCP connection from the client to the server's `port`: the client sends `up` bytes, the
/// server answers with `down` bytes once it has read them all. Both ends check what they got.
fn tcp_exchange(tb: &Testbed, port: u16, up: usize, down: usize) {
    let listener = in_netns(&tb.name("server"), move || TcpListener::bind((SERVER_IP, port)).expect("binding in the server namespace"));
    let request = payload(u32::from(port), up);
    let answer = payload(u32::from(port) + 1, down);
    let (want, reply) = (request.clone(), answer.clone());
    let server = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().expect("accepting");
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut got = Vec::new();
        s.read_to_end(&mut got).expect("server reading");
        assert!(got == want, "the server got {} bytes, not the {} the client sent", got.len(), want.len());
        s.write_all(&reply).expect("server writing");
    });
    let target = format!("{SERVER_IP}:{port}").parse().unwrap();
    let mut c = in_netns(&tb.name("client"), move || TcpStream::connect_timeout(&target, Duration::from_secs(5)).expect("connecting through traffic-mirror"));
    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    c.write_all(&request).expect("client writing");
    c.shutdown(Shutdown::Write).unwrap();
    let mut got = Vec::new();
    c.read_to_end(&mut got).expect("client reading");
    server.join().expect("the TCP server failed");
    assert!(got == answer, "the client got {} bytes, not the {} the server sent", got.len(), answer.len());
}

/// UDP datagrams of `sizes` from the client, each echoed by the server.
fn udp_exchange(tb: &Testbed, port: u16, sizes: &[usize]) {
    let server = in_netns(&tb.name("server"), move || UdpSocket::bind((SERVER_IP, port)).expect("binding in the server namespace"));
    let client = in_netns(&tb.name("client"), || UdpSocket::bind((CLIENT_IP, 0)).expect("binding in the client namespace"));
    server.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    client.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    for (i, &n) in sizes.iter().enumerate() {
        let d = payload(1000 + i as u32, n);
        client.send_to(&d, (SERVER_IP, port)).expect("client sending");
        let mut buf = vec![0; 65536];
        let (len, from) = server.recv_from(&mut buf).expect("the server received no datagram");
        assert_eq!(&buf[..len], &d[..], "datagram {i} changed on the way");
        server.send_to(&buf[..len], from).expect("server answering");
        let len = client.recv(&mut buf).expect("the client received no answer");
        assert_eq!(&buf[..len], &d[..], "answer {i} changed on the way");
    }
}

fn ping(tb: &Testbed, args: &[&str]) {
    let mut a = vec!["ping", "-c", "3", "-i", "0.2", "-W", "2"];
    a.extend_from_slice(args);
    let out = tb.exec(&tb.name("client"), &a);
    assert!(out.contains("3 received"), "{out}");
}

/// What the test looks at in a frame that crossed the wire.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Kind {
    NotIp,
    Icmp4,
    Icmp6(u8),
    Tcp(u16, u16),
    Udp(u16, u16),
    OtherIp,
}

fn kind(f: &[u8]) -> Kind {
    let p = SlicedPacket::from_ethernet(f).unwrap_or_else(|e| panic!("a frame from the wire does not parse ({e}): {:02x?}", &f[..f.len().min(64)]));
    kind_of(&p)
}

fn ssh(k: Kind) -> bool {
    matches!(k, Kind::Tcp(22, _) | Kind::Tcp(_, 22))
}

/// The kernel's own IPv6 chatter (router and neighbour solicitations and advertisements, MLD
/// reports): the only traffic in the lab that the test did not make, and so the only kind a
/// copy may be of when it crossed before or after the capture it is compared with.
fn chatter(copy: &[u8]) -> bool {
    copy.len() < 128 && matches!(SlicedPacket::from_ethernet(copy).map(|p| kind_of(&p)), Ok(Kind::Icmp6(130..=136 | 143)))
}

fn kind_of(p: &SlicedPacket) -> Kind {
    match (&p.net, &p.transport) {
        (Some(NetSlice::Ipv4(_) | NetSlice::Ipv6(_)), Some(TransportSlice::Tcp(t))) => Kind::Tcp(t.source_port(), t.destination_port()),
        (Some(NetSlice::Ipv4(_) | NetSlice::Ipv6(_)), Some(TransportSlice::Udp(u))) => Kind::Udp(u.source_port(), u.destination_port()),
        (Some(NetSlice::Ipv4(_)), Some(TransportSlice::Icmpv4(_))) => Kind::Icmp4,
        (Some(NetSlice::Ipv6(_)), Some(TransportSlice::Icmpv6(i))) => Kind::Icmp6(i.type_u8()),
        (Some(NetSlice::Ipv4(_) | NetSlice::Ipv6(_)), _) => Kind::OtherIp,
        _ => Kind::NotIp,
    }
}

/// A source's copies as one VXLAN device delivered them, against the frames that crossed its
/// port (the host's own capture): `local` is the host's MAC (its frames are the source's
/// egress, the others its ingress), `mirrored` says which frames the session's filter takes,
/// `cut` is the session's packet_length. Per direction, the copies must be exactly the
/// mirrored frames, cut, in order: the collector's capture runs longer than the host's, so
/// only kernel chatter that crossed outside the host's capture may come before or after.
/// Returns the number of copies per direction (egress, ingress).
fn check_copies(what: &str, wire: &[Vec<u8>], local: [u8; 6], copies: &[Vec<u8>], mirrored: impl Fn(Kind) -> bool, cut: Option<usize>) -> (usize, usize) {
    let mut counts = (0, 0);
    for egress in [true, false] {
        let dir = if egress { "egress" } else { "ingress" };
        let want: Vec<Vec<u8>> = wire
            .iter()
            .filter(|f| (f[6..12] == local) == egress && mirrored(kind(f)))
            .map(|f| f[..f.len().min(cut.unwrap_or(usize::MAX))].to_vec())
            .collect();
        let got: Vec<&Vec<u8>> = copies.iter().filter(|c| (c[6..12] == local) == egress).collect();
        assert!(!want.is_empty(), "{what} {dir}: no frame crossed the wire that the session mirrors");
        let Some(start) = (0..=got.len().saturating_sub(want.len())).find(|&s| got.len() >= want.len() && want.iter().zip(&got[s..]).all(|(w, g)| w == *g)) else {
            let missing = want.iter().position(|w| !got.contains(&w));
            let extra = got.iter().position(|g| !want.contains(g) && !chatter(g));
            panic!(
                "{what} {dir}: the {} copies delivered are not the {} frames that crossed, in order; first frame without a copy: {:?}, first copy of no frame: {:?}",
                got.len(),
                want.len(),
                missing.map(|i| (i, kind(&wire.iter().filter(|f| (f[6..12] == local) == egress && mirrored(kind(f))).nth(i).unwrap()[..]))),
                extra.map(|i| format!("{:02x?}", &got[i][..got[i].len().min(64)]))
            );
        };
        for (i, g) in got[..start].iter().chain(&got[start + want.len()..]).enumerate() {
            assert!(chatter(g), "{what} {dir}: extra copy {i} outside the capture window is not kernel chatter: {:02x?}", &g[..g.len().min(64)]);
        }
        if egress {
            counts.0 = want.len();
        } else {
            counts.1 = want.len();
        }
    }
    counts
}

/// The outer frames the collector's interface received: every one a VXLAN copy from
/// traffic-mirror to the collector. Returns (VNI, inner frame) pairs.
fn outer_copies(frames: &[Vec<u8>]) -> Vec<(u32, Vec<u8>)> {
    frames
        .iter()
        .map(|f| {
            assert!(f.len() > 50, "a short frame on the collector's port: {f:02x?}");
            assert_eq!(f[0..6], COLLECTOR_MAC, "outer destination MAC");
            assert_eq!(f[6..12], MIRROR_MAC, "outer source MAC");
            assert_eq!(f[12..14], [0x08, 0x00], "outer IPv4");
            // As AWS's own copies: identification 0, DF clear, TTL 255.
            assert_eq!((&f[18..20], &f[20..22], f[22]), (&[0u8, 0][..], &[0u8, 0][..], 255), "outer IPv4 id, flags and TTL");
            assert_eq!(f[26..30], MIRROR_IP, "outer source address");
            assert_eq!(f[30..34], COLLECTOR_IP, "outer destination address");
            assert_eq!(u16::from_be_bytes([f[36], f[37]]), 4789, "outer UDP port");
            assert_eq!(f[42], 0x08, "VXLAN flags");
            (u32::from_be_bytes([0, f[46], f[47], f[48]]), f[50..].to_vec())
        })
        .collect()
}

/// Every frame a VXLAN device delivered is the inner frame of a copy with its VNI that reached
/// the collector's interface.
fn assert_decapsulated_from(what: &str, delivered: &[Vec<u8>], outer: &[(u32, Vec<u8>)], vni: u32) {
    let mut pool: Vec<&Vec<u8>> = outer.iter().filter(|(v, _)| *v == vni).map(|(_, f)| f).collect();
    for (i, d) in delivered.iter().enumerate() {
        let at = pool.iter().position(|f| *f == d).unwrap_or_else(|| panic!("{what}: delivered frame {i} is in no VNI {vni} copy that reached the collector"));
        pool.swap_remove(at);
    }
}

/// The lab's session settings, read from the configuration the script runs.
struct Sessions {
    client_vni: u32,
    server_vni: u32,
    server_cut: usize,
}

fn sessions() -> Sessions {
    let cfg = Config::load(&workspace().join("config/testbed.toml")).expect("config/testbed.toml is valid");
    let get = |id: &str| cfg.sessions.iter().find(|s| s.id == id).unwrap_or_else(|| panic!("config/testbed.toml has no session {id}"));
    let (client, server) = (get("tms-client"), get("tms-server"));
    // What this test models: the client's session mirrors everything but TCP port 22, whole;
    // the server's everything, cut.
    assert_eq!((client.source.as_str(), client.filter.as_str(), client.packet_length), ("eni-client", "tmf-no-ssh", None));
    assert_eq!((server.source.as_str(), server.filter.as_str()), ("eni-server", "tmf-all"));
    // Each filter's rules per direction, in rule_number order, as (accept, protocol, source
    // port, destination port, any CIDR).
    let rules = |id: &str| {
        let f = cfg.filters.iter().find(|f| f.id == id).unwrap_or_else(|| panic!("config/testbed.toml has no filter {id}"));
        [&f.egress_rules, &f.ingress_rules].map(|rs| {
            let mut rs: Vec<_> = rs.iter().collect();
            rs.sort_by_key(|r| r.rule_number);
            rs.iter()
                .map(|r| {
                    let port = |p: &Option<control::config::PortRange>| p.as_ref().map(|p| (p.from, p.to));
                    (r.action == RuleAction::Accept, r.protocol, port(&r.source_port), port(&r.destination_port), r.source_cidr.is_some() || r.destination_cidr.is_some())
                })
                .collect::<Vec<_>>()
        })
    };
    let no_ssh = vec![(false, Some(6), None, Some((22, 22)), false), (false, Some(6), Some((22, 22)), None, false), (true, None, None, None, false)];
    assert_eq!(rules("tmf-no-ssh"), [no_ssh.clone(), no_ssh], "tmf-no-ssh: reject TCP port 22 at either end, accept the rest");
    let all = vec![(true, None, None, None, false)];
    assert_eq!(rules("tmf-all"), [all.clone(), all], "tmf-all: accept everything");
    Sessions {
        client_vni: client.virtual_network_id.expect("assigned"),
        server_vni: server.virtual_network_id.expect("assigned"),
        server_cut: server.packet_length.expect("tms-server cuts its copies") as usize,
    }
}

/// Wireshark's decoding of a capture of copies, a line per frame: the VNI, the outer source
/// and destination and the outer IP checksum's status (1: good), tab-separated.
fn tshark_outer(file: &std::path::Path) -> Vec<String> {
    let out = Command::new("tshark")
        .arg("-r")
        .arg(file)
        .args(["-o", "ip.check_checksum:TRUE", "-T", "fields", "-E", "occurrence=f", "-e", "vxlan.vni", "-e", "ip.src", "-e", "ip.dst", "-e", "ip.checksum.status"])
        .output()
        .expect("running tshark");
    assert!(out.status.success(), "tshark: {}", text(&out));
    String::from_utf8_lossy(&out.stdout).lines().map(str::to_owned).collect()
}

/// The whole lab, twice: first with a VXLAN device for the client's VNI only (the server
/// session's copies reach the collector and go nowhere), then, after a second `up` adds the
/// other device, with every kind of traffic and every comparison.
#[test]
fn collector_devices_deliver_what_crossed_the_wire() {
    require_tool("tshark", "tshark");
    let s = sessions();
    let tb = Testbed::new("tbm");
    let (client, server, collector) = (tb.name("client"), tb.name("server"), tb.name("collector"));
    let (cli, srv, mir) = (tb.name("cli"), tb.name("srv"), tb.name("mir"));
    let started = Instant::now();
    let vx_client = format!("vx{}", s.client_vni);
    let vx_server = format!("vx{}", s.server_vni);

    // Round 1: only the client's VNI has a device.
    let out = tb.up(Some(&s.client_vni.to_string()));
    assert!(out.contains(&format!("{vx_client} takes VNI {}", s.client_vni)) && !out.contains(&vx_server), "{out}");
    let outer = Capture::start(&tb, &collector, &mir, "r1-outer", &["-Q", "in", "udp", "port", "4789"]);
    let vx = Capture::start(&tb, &collector, &vx_client, "r1-vx-client", &["-Q", "in"]);
    let wire = Capture::start(&tb, &client, &cli, "r1-client", &[]);
    ping(&tb, &[SERVER_IP]);
    udp_exchange(&tb, 4000, &[40, 400, 1000, 1400]);
    std::thread::sleep(Duration::from_millis(300));
    let wire = wire.stop();
    std::thread::sleep(Duration::from_millis(300));
    let (vx, outer) = (vx.stop(), outer.stop());
    let outer = outer_copies(&outer);
    let (eg, ing) = check_copies("round 1: client session", &wire, CLIENT_MAC, &vx, |k| k != Kind::NotIp && !ssh(k), None);
    assert!(eg >= 7 && ing >= 7, "round 1: {eg} egress and {ing} ingress copies");
    assert_decapsulated_from("round 1", &vx, &outer, s.client_vni);
    let other: Vec<&Vec<u8>> = outer.iter().filter(|(v, _)| *v == s.server_vni).map(|(_, f)| f).collect();
    let cut_udp = other.iter().filter(|f| f.len() == s.server_cut && f[12..14] == [0x08, 0x00] && f[23] == 17).count();
    assert!(cut_udp >= 4, "the server session's copies (VNI {}) reach the collector: {cut_udp} cut UDP copies", s.server_vni);
    assert!(!vx.iter().any(|f| f.len() == s.server_cut && f[12..14] == [0x08, 0x00] && f[23] == 17), "cut UDP frames (the other session's) on {vx_client}");
    let links = tb.exec(&collector, &["ip", "-d", "-br", "link"]);
    assert!(!links.contains(&vx_server), "{links}");

    // Round 2: `up` again adds the missing device and leaves the rest as it is.
    let out = tb.up(None);
    assert!(out.contains("already up") && out.contains(&format!("{vx_server} takes VNI {}", s.server_vni)), "{out}");
    let outer = Capture::start(&tb, &collector, &mir, "r2-outer", &["-Q", "in", "udp", "port", "4789"]);
    let vxc = Capture::start(&tb, &collector, &vx_client, "r2-vx-client", &["-Q", "in"]);
    let vxs = Capture::start(&tb, &collector, &vx_server, "r2-vx-server", &["-Q", "in"]);
    let wire_c = Capture::start(&tb, &client, &cli, "r2-client", &[]);
    let wire_s = Capture::start(&tb, &server, &srv, "r2-server", &[]);
    ping(&tb, &[SERVER_IP]);
    ping(&tb, &["-s", "1300", SERVER_IP]);
    ping(&tb, &["-6", SERVER_IP6]);
    let page = tb.exec(&client, &["curl", "-sS", "--max-time", "10", "--retry", "5", "--retry-connrefused", "--retry-delay", "1", &format!("http://{SERVER_IP}/")]);
    assert_eq!(page, std::fs::read_to_string(tb.dir().join("index.txt")).expect("the served page"), "curl through traffic-mirror");
    assert!(page.len() > 4000, "a page of several KB: {} bytes", page.len());
    tcp_exchange(&tb, 8080, 48_000, 24_000);
    tcp_exchange(&tb, 22, 3000, 5000);
    udp_exchange(&tb, 4000, &[40, 400, 1000, 1400]);
    std::thread::sleep(Duration::from_millis(300));
    let (wire_c, wire_s) = (wire_c.stop(), wire_s.stop());
    std::thread::sleep(Duration::from_millis(300));
    let (vxc, vxs) = (vxc.stop(), vxs.stop());
    let outer_file = tb.lab.path("r2-outer.pcap");
    let outer = outer_copies(&outer.stop());

    // The client's session: everything but SSH, whole, both ways.
    let (eg, ing) = check_copies("client session", &wire_c, CLIENT_MAC, &vxc, |k| k != Kind::NotIp && !ssh(k), None);
    // The server's session: everything, SSH included, cut to its packet_length, both ways.
    let (seg, sing) = check_copies("server session", &wire_s, SERVER_MAC, &vxs, |k| k != Kind::NotIp, Some(s.server_cut));
    assert_decapsulated_from(&vx_client, &vxc, &outer, s.client_vni);
    assert_decapsulated_from(&vx_server, &vxs, &outer, s.server_vni);

    // Every kind of traffic made it, both ways, to the collector.
    let count = |frames: &[Vec<u8>], from: [u8; 6], f: &dyn Fn(Kind) -> bool| frames.iter().filter(|x| x[6..12] == from && f(kind(x))).count();
    let kinds: [(&str, &dyn Fn(Kind) -> bool); 5] = [
        ("ICMP", &|k| k == Kind::Icmp4),
        ("ICMPv6 echo", &|k| matches!(k, Kind::Icmp6(128 | 129))),
        ("HTTP", &|k| matches!(k, Kind::Tcp(80, _) | Kind::Tcp(_, 80))),
        ("TCP 8080", &|k| matches!(k, Kind::Tcp(8080, _) | Kind::Tcp(_, 8080))),
        ("UDP", &|k| matches!(k, Kind::Udp(4000, _) | Kind::Udp(_, 4000))),
    ];
    for (name, f) in kinds {
        let (up, down) = (count(&vxc, CLIENT_MAC, f), count(&vxc, SERVER_MAC, f));
        assert!(up >= 3 && down >= 3, "{name} on {vx_client}: {up} client->server, {down} server->client copies");
    }
    let bulk: usize = vxc.iter().filter(|x| x[6..12] == CLIENT_MAC && matches!(kind(x), Kind::Tcp(_, 8080))).map(|x| x.len()).sum();
    assert!(bulk > 48_000, "the 48 KB upload arrived whole on {vx_client}: {bulk} bytes of frames");

    // SSH crossed the wire both ways, stayed out of the client's session and is in the
    // server's (whose filter takes it), as the filters say.
    let ssh_wire = (count(&wire_c, CLIENT_MAC, &ssh), count(&wire_c, SERVER_MAC, &ssh));
    assert!(ssh_wire.0 >= 4 && ssh_wire.1 >= 4, "SSH-port frames on the wire: {ssh_wire:?}");
    let ssh_copies = vxc.iter().filter(|x| x.len() >= 54 && matches!(SlicedPacket::from_ethernet(x).map(|p| p.transport), Ok(Some(TransportSlice::Tcp(t))) if t.source_port() == 22 || t.destination_port() == 22)).count();
    assert_eq!(ssh_copies, 0, "SSH-port copies on {vx_client}");
    let ssh_cut = vxs.iter().filter(|x| x[12..14] == [0x08, 0x00] && x[23] == 6 && (x[34..36] == [0, 22] || x[36..38] == [0, 22])).count();
    assert_eq!(ssh_cut, count(&wire_s, SERVER_MAC, &ssh) + count(&wire_s, CLIENT_MAC, &ssh), "every SSH-port frame on {vx_server}");
    assert!(vxs.iter().any(|x| x.len() == s.server_cut) && vxs.iter().all(|x| x.len() <= s.server_cut), "{vx_server}: copies cut to {}", s.server_cut);

    // Wireshark's view of the same copies: VXLAN with the sessions' VNIs, from the mirror port
    // to the collector.
    let lines = tshark_outer(&outer_file);
    assert_eq!(lines.len(), outer.len(), "tshark read every copy");
    for (l, (vni, _)) in lines.iter().zip(&outer) {
        assert_eq!(l, &format!("{vni}\t192.0.2.1\t192.0.2.10\t1"), "tshark's decoding");
    }

    // traffic-mirror's own counters agree, once `down` has stopped it.
    let out = tb.down();
    assert!(out.contains("namespace") && out.contains("removed"), "{out}");
    let stats: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(tb.dir().join("stats.json")).expect("stats.json written at SIGTERM")).unwrap();
    let session = |id: &str| stats["sessions"].as_array().unwrap().iter().find(|x| x["id"] == id).cloned().unwrap_or_else(|| panic!("{id} in {stats}"));
    let n = |v: &serde_json::Value, dir: &str, key: &str| v[dir][key].as_u64().unwrap_or_else(|| panic!("{dir}.{key} in {v}")) as usize;
    let (c, sv) = (session("tms-client"), session("tms-server"));
    assert!(n(&c, "egress", "packets") >= eg && n(&c, "ingress", "packets") >= ing, "{c}");
    assert!(n(&sv, "egress", "packets") >= seg && n(&sv, "ingress", "packets") >= sing, "{sv}");
    assert_eq!(n(&c, "egress", "truncated") + n(&c, "ingress", "truncated"), 0, "{c}");
    assert!(n(&sv, "egress", "truncated") > 0 && n(&sv, "ingress", "truncated") > 0, "{sv}");
    eprintln!("testbed: {eg}+{ing} client copies, {seg}+{sing} server copies compared in {:.1?}", started.elapsed());
}

/// `up` twice, `status`, crashes and interrupted set-ups: `down` always leaves nothing.
#[test]
fn script_is_idempotent_and_cleans_up_after_crashes() {
    let tb = Testbed::new("tbc");
    let (client, server) = (tb.name("client"), tb.name("server"));

    let out = tb.script("status", None);
    assert_eq!(out.status.code(), Some(3), "status of no lab:\n{}", text(&out));
    assert!(text(&out).contains("state: down"), "{}", text(&out));

    tb.up(None);
    let first = tb.processes();
    assert_eq!(first.len(), 1, "one traffic-mirror: {first:?}");
    let out = tb.up(None);
    assert!(out.contains("already up"), "{out}");
    assert_eq!(tb.processes(), first, "a second up starts nothing");
    ping(&tb, &[SERVER_IP]);
    let out = tb.script("status", None);
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    let pid = format!("pid {}", first[0]);
    let collector = tb.name("collector");
    for want in [client.as_str(), server.as_str(), collector.as_str(), pid.as_str(), "tms-client", "tms-server", "10.0.0.1/24", "192.0.2.10/24", "vx100", "state: up"] {
        assert!(t.contains(want), "status lacks {want}:\n{t}");
    }

    // traffic-mirror killed: its TAPs vanish, the namespaces stay; status says so and `up`
    // builds a working lab again.
    // SAFETY: killing this lab's own process.
    unsafe { libc::kill(first[0] as i32, libc::SIGKILL) };
    let deadline = Instant::now() + Duration::from_secs(10);
    while !tb.processes().is_empty() {
        assert!(Instant::now() < deadline, "traffic-mirror survived SIGKILL");
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = tb.script("status", None);
    assert_eq!(out.status.code(), Some(1), "status after a crash:\n{}", text(&out));
    assert!(text(&out).contains("partly built"), "{}", text(&out));
    tb.up(None);
    ping(&tb, &[SERVER_IP]);
    let second = tb.processes();
    assert!(second.len() == 1 && second != first, "a new traffic-mirror: {second:?}");
    // SAFETY: as above.
    unsafe { libc::kill(second[0] as i32, libc::SIGKILL) };
    tb.down();

    // `up` killed half-way (traffic-mirror running, TAPs maybe not moved yet).
    let log = std::fs::File::create(tb.lab.path("interrupted-up.log")).unwrap();
    let mut up = tb.command("up", None).stdout(log.try_clone().unwrap()).stderr(log).spawn().expect("starting testbed.sh up");
    let deadline = Instant::now() + Duration::from_secs(60);
    while tb.processes().is_empty() {
        assert!(up.try_wait().unwrap().is_none(), "up ended before traffic-mirror started");
        assert!(Instant::now() < deadline, "traffic-mirror never started");
        std::thread::sleep(Duration::from_millis(10));
    }
    let _ = up.kill();
    let _ = up.wait();
    assert!(!tb.processes().is_empty(), "traffic-mirror outlives the interrupted script");
    tb.down();

    // Leftovers made by hand under the lab's names: a namespace and a link in this one.
    sh(&["ip", "netns", "add", &server]);
    sh(&["ip", "link", "add", &tb.name("cli"), "type", "veth", "peer", "name", &format!("{}-x", tb.prefix)]);
    let out = tb.script("status", None);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let out = tb.down();
    assert!(out.contains(&format!("namespace {server} removed")) && out.contains(&format!("link {} removed", tb.name("cli"))), "{out}");
}

/// The lab with the collector named by address (`next_hop = "192.0.2.10"`): traffic-mirror
/// resolves it with ARP on the mirror port, the collector's kernel answers, and the copies
/// reach its VXLAN device as with a fixed MAC.
#[test]
fn collector_found_by_arp() {
    let s = sessions();
    let tb = Testbed::new("tba");
    let template = std::fs::read_to_string(workspace().join("config/testbed.toml")).expect("config/testbed.toml");
    let fixed = "next_hop_mac = \"02:00:00:00:00:20\"";
    assert!(template.contains(fixed), "config/testbed.toml names the collector by MAC");
    tb.up_with("testbed-arp.toml", &template.replace(fixed, "next_hop = \"192.0.2.10\""));

    let (client, collector) = (tb.name("client"), tb.name("collector"));
    let vx = Capture::start(&tb, &collector, &format!("vx{}", s.client_vni), "arp-vx-client", &["-Q", "in"]);
    let wire = Capture::start(&tb, &client, &tb.name("cli"), "arp-client", &[]);
    // The first copies may find the next hop unresolved (and be counted as skipped); ping on
    // until the collector answered, then compare a whole round.
    let socket = tb.dir().join("control.sock");
    let neighbours = || {
        let out = Command::new(binary()).args(["ctl", "--socket"]).arg(&socket).arg("describe-neighbors").output().expect("running ctl");
        assert!(out.status.success(), "ctl describe-neighbors: {}", text(&out));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    // Ping before looking, every round: the next hop may be resolved before the first ping
    // (the mirror port's own ARP), and a round without a ping sends nothing to mirror.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        tb.exec(&client, &["ping", "-c", "1", "-W", "1", SERVER_IP]);
        if neighbours().contains("02:00:00:00:00:20") {
            break;
        }
        assert!(Instant::now() < deadline, "the collector's MAC was never resolved:\n{}", neighbours());
    }
    // Resolved: what is pinged now is mirrored.
    ping(&tb, &[SERVER_IP]);
    std::thread::sleep(Duration::from_millis(300));
    let (vx, wire) = (vx.stop(), wire.stop());
    assert!(!vx.is_empty(), "no copy reached vx{} once the collector answered ARP", s.client_vni);
    let vx2 = Capture::start(&tb, &collector, &format!("vx{}", s.client_vni), "arp-vx-client2", &["-Q", "in"]);
    let wire2 = Capture::start(&tb, &client, &tb.name("cli"), "arp-client2", &[]);
    ping(&tb, &[SERVER_IP]);
    udp_exchange(&tb, 4000, &[40, 1000]);
    std::thread::sleep(Duration::from_millis(300));
    let wire2 = wire2.stop();
    std::thread::sleep(Duration::from_millis(300));
    let vx2 = vx2.stop();
    let (eg, ing) = check_copies("client session, next hop by ARP", &wire2, CLIENT_MAC, &vx2, |k| k != Kind::NotIp && !ssh(k), None);
    assert!(eg >= 5 && ing >= 5, "{eg} egress and {ing} ingress copies");
    let table = neighbours();
    assert!(table.contains("192.0.2.10") && table.contains("02:00:00:00:00:20"), "{table}");
    eprintln!("testbed with ARP: {} copies before the comparison over {} frames, then {eg}+{ing} compared", vx.len(), wire.len());
    tb.down();
}

/// The lab with an IPv6 collector: the collector network interface has `ipv6 = "fd20::10"`
/// and no next hop MAC, so traffic-mirror finds it by Neighbor Discovery from the mirror
/// port's fd20::1, and sends the copies over IPv6 with a UDP checksum. The collector's kernel
/// VXLAN device over IPv6 (which drops a copy whose checksum is wrong) must deliver the
/// client's frames, and tshark must decode every copy without complaint.
#[test]
fn ipv6_collector_found_by_neighbor_discovery_gets_the_clients_frames() {
    require_tool("tshark", "tshark");
    let s = sessions();
    let tb = Testbed::new("tb6");
    let template = std::fs::read_to_string(workspace().join("config/testbed.toml")).expect("config/testbed.toml");
    let v4 = "ipv4 = \"192.0.2.10\"\nnext_hop_mac = \"02:00:00:00:00:20\"\n";
    assert!(template.contains(v4) && template.contains(&format!("ipv6 = \"{MIRROR_IP6}\"")), "config/testbed.toml: the collector by IPv4 and MAC, the mirror port with an IPv6 address");
    let config = tb.lab.path("testbed-ipv6.toml");
    std::fs::write(&config, template.replace(v4, &format!("ipv6 = \"{COLLECTOR_IP6}\"\n"))).unwrap();
    let mut cmd = tb.command("up", None);
    cmd.env("TESTBED_CONFIG", &config);
    let out = run_with_timeout(cmd, Duration::from_secs(120));
    assert!(out.status.success(), "testbed.sh up failed:\n{}", text(&out));
    let (client, collector) = (tb.name("client"), tb.name("collector"));
    let vx6 = format!("vx6-{}", s.client_vni);
    assert!(text(&out).contains(&format!("{vx6} over IPv6")), "{}", text(&out));

    let socket = tb.dir().join("control.sock");
    let neighbours = || {
        let out = Command::new(binary()).args(["ctl", "--output", "json", "--socket"]).arg(&socket).arg("describe-neighbors").output().expect("running ctl");
        assert!(out.status.success(), "ctl describe-neighbors: {}", text(&out));
        serde_json::from_slice::<serde_json::Value>(&out.stdout).expect("describe-neighbors JSON")
    };
    let resolved = |n: &serde_json::Value| n["Neighbors"].as_array().unwrap().iter().any(|e| e["ip"] == COLLECTOR_IP6 && e["mac"] == "02:00:00:00:00:20");
    let deadline = Instant::now() + Duration::from_secs(20);
    while !resolved(&neighbours()) {
        assert!(Instant::now() < deadline, "the collector's MAC was never resolved by Neighbor Discovery:\n{}", neighbours());
        std::thread::sleep(Duration::from_millis(200));
    }
    let nd = neighbours()["Nd"].clone();
    assert!(nd["solicitations_sent"].as_u64() >= Some(1) && nd["received"].as_u64() >= Some(1), "{nd}");

    // The mirror port answers Neighbor Discovery for its own address. Our solicitations
    // already taught the collector's kernel the mirror port's MAC (a stale entry, which it
    // would use without asking): forgotten first, the kernel must solicit, and only our
    // advertisement can teach it again (its echo request then goes to the mirror port, which
    // does not answer it).
    tb.exec(&collector, &["ip", "-6", "neigh", "flush", "to", MIRROR_IP6]);
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let _ = Command::new("ip").args(["netns", "exec", &collector, "ping", "-6", "-c", "1", "-W", "1", MIRROR_IP6]).output();
        let neigh = tb.exec(&collector, &["ip", "-6", "neigh", "show", MIRROR_IP6]);
        let answered = neighbours()["Nd"]["advertisements_sent"].as_u64() >= Some(1);
        if answered && neigh.contains("lladdr 02:00:00:00:00:10") {
            break;
        }
        assert!(Instant::now() < deadline, "the mirror port never answered the collector's solicitation: {neigh:?}, {}", neighbours());
    }

    let outer = Capture::start(&tb, &collector, &tb.name("mir"), "v6-outer", &["-Q", "in", "udp", "port", "4789"]);
    let vx = Capture::start(&tb, &collector, &vx6, "v6-vx-client", &["-Q", "in"]);
    let wire = Capture::start(&tb, &client, &tb.name("cli"), "v6-client", &[]);
    ping(&tb, &[SERVER_IP]);
    ping(&tb, &["-s", "1300", SERVER_IP]);
    ping(&tb, &["-6", SERVER_IP6]);
    udp_exchange(&tb, 4000, &[40, 400, 1000, 1400]);
    tcp_exchange(&tb, 8080, 20_000, 10_000);
    std::thread::sleep(Duration::from_millis(300));
    let wire = wire.stop();
    std::thread::sleep(Duration::from_millis(300));
    let vx = vx.stop();
    let outer_file = tb.lab.path("v6-outer.pcap");
    let outer = outer.stop();

    // What the kernel's VXLAN device over IPv6 delivered is what crossed the client's wire.
    let (eg, ing) = check_copies("client session over IPv6", &wire, CLIENT_MAC, &vx, |k| k != Kind::NotIp && !ssh(k), None);
    assert!(eg >= 10 && ing >= 10, "{eg} egress and {ing} ingress copies");
    let mirror6: std::net::Ipv6Addr = MIRROR_IP6.parse().unwrap();
    let collector6: std::net::Ipv6Addr = COLLECTOR_IP6.parse().unwrap();
    let copies: Vec<(u32, Vec<u8>)> = outer
        .iter()
        .map(|f| {
            let p = SlicedPacket::from_ethernet(f).unwrap_or_else(|e| panic!("an outer frame does not parse ({e}): {:02x?}", &f[..f.len().min(80)]));
            let Some(NetSlice::Ipv6(ip)) = &p.net else { panic!("not over IPv6: {:02x?}", &f[..f.len().min(80)]) };
            let Some(TransportSlice::Udp(u)) = &p.transport else { panic!("not UDP") };
            let h = ip.header();
            assert_eq!((f[0..6].to_vec(), f[6..12].to_vec()), (COLLECTOR_MAC.to_vec(), MIRROR_MAC.to_vec()), "outer MACs");
            assert_eq!((h.source_addr(), h.destination_addr(), h.hop_limit()), (mirror6, collector6, 255), "outer IPv6 header");
            assert_eq!(u.destination_port(), 4789);
            let want = u.to_header().calc_checksum_ipv6_raw(h.source(), h.destination(), u.payload()).unwrap();
            assert_eq!(u.checksum(), want, "the outer UDP checksum (etherparse's computation)");
            let vxlan = u.payload();
            assert_eq!(vxlan[0], 0x08, "VXLAN flags");
            (u32::from_be_bytes([0, vxlan[4], vxlan[5], vxlan[6]]), vxlan[8..].to_vec())
        })
        .collect();
    assert_decapsulated_from(&vx6, &vx, &copies, s.client_vni);

    // Wireshark's view: every copy VXLAN with its session's VNI over a good UDP checksum, and
    // the whole-frame copies (the client's) free of any malformed packet or error.
    let out = Command::new("tshark")
        .arg("-r")
        .arg(&outer_file)
        .args(["-o", "udp.check_checksum:TRUE", "-T", "fields", "-E", "occurrence=f", "-e", "vxlan.vni", "-e", "ipv6.src", "-e", "ipv6.dst", "-e", "udp.checksum.status", "-e", "_ws.malformed", "-e", "_ws.expert.severity"])
        .output()
        .expect("running tshark");
    assert!(out.status.success(), "tshark: {}", text(&out));
    let lines: Vec<String> = String::from_utf8_lossy(&out.stdout).lines().map(str::to_owned).collect();
    assert_eq!(lines.len(), copies.len(), "tshark read every copy");
    let (mut whole, mut cut) = (0, 0);
    for (l, (vni, _)) in lines.iter().zip(&copies) {
        let f: Vec<&str> = l.split('\t').collect();
        assert_eq!(&f[..4], &[vni.to_string().as_str(), MIRROR_IP6, COLLECTOR_IP6, "1"], "tshark's decoding: {l}");
        if *vni == s.client_vni {
            whole += 1;
            // 8388608 is Wireshark's "error" severity.
            assert!(f[4].is_empty() && f[5] != "8388608", "tshark complains about a whole copy: {l}");
        } else {
            cut += 1;
        }
    }
    assert!(whole >= eg + ing && cut > 0, "{whole} whole copies, {cut} of the server's cut ones");
    let verbose = Command::new("tshark").arg("-r").arg(&outer_file).args(["-o", "udp.check_checksum:TRUE", "-V", "-Y", &format!("vxlan.vni == {}", s.client_vni)]).output().expect("running tshark -V");
    let v = String::from_utf8_lossy(&verbose.stdout);
    assert!(verbose.status.success() && v.contains("[Checksum Status: Good]"), "{}", text(&verbose));
    for bad in ["Malformed", "[Checksum Status: Bad]", "Expert Info (Error"] {
        assert!(!v.contains(bad), "tshark -V says {bad:?} of a whole copy");
    }
    eprintln!("testbed over IPv6: {eg}+{ing} client copies compared, {} copies decoded by tshark", copies.len());
    tb.down();
}

// Issue 19: a load balancer of two collectors, health-checked through the mirror port.
const LB_ARN: &str = "arn:aws:elasticloadbalancing:local:000000000000:loadbalancer/net/ids/1";
const COLLECTOR2_MAC: [u8; 6] = [2, 0, 0, 0, 0, 0x21];
const COLLECTOR2_IP: [u8; 4] = [192, 0, 2, 11];
/// The health checks of the test's load balancer: short, so a collector fails within seconds.
const HC_INTERVAL_S: u64 = 1;
const HC_HEALTHY: u64 = 2;
const HC_UNHEALTHY: u64 = 2;
const HC_PORT: u16 = 9000;

/// A second collector namespace, `<prefix>-coll2`, on the mirror port's wire: a macvlan of the
/// TAP (whose kernel side is in the lab's collector namespace) with its own MAC and address
/// and its own VXLAN devices. Removed when dropped, before the lab is taken down.
struct SecondCollector {
    ns: String,
}

impl SecondCollector {
    fn new(tb: &Testbed, vnis: &[u32]) -> SecondCollector {
        let ns = tb.name("coll2");
        let dev = tb.name("mv2");
        let _ = Command::new("ip").args(["netns", "del", &ns]).stderr(Stdio::null()).status();
        sh(&["ip", "netns", "add", &ns]);
        let me = SecondCollector { ns: ns.clone() };
        sh(&["ip", "-n", &ns, "link", "set", "lo", "up"]);
        sh(&["ip", "-n", &tb.name("collector"), "link", "add", "link", &tb.name("mir"), "name", &dev, "type", "macvlan", "mode", "bridge"]);
        sh(&["ip", "-n", &tb.name("collector"), "link", "set", &dev, "netns", &ns]);
        let mac = COLLECTOR2_MAC.map(|b| format!("{b:02x}")).join(":");
        let [a, b, c, d] = COLLECTOR2_IP;
        sh(&["ip", "-n", &ns, "link", "set", &dev, "address", &mac]);
        sh(&["ip", "-n", &ns, "addr", "add", &format!("{a}.{b}.{c}.{d}/24"), "dev", &dev]);
        tb.exec(&ns, &["sysctl", "-qw", &format!("net.ipv6.conf.{dev}.disable_ipv6=1"), "net.ipv4.conf.all.rp_filter=0", &format!("net.ipv4.conf.{dev}.rp_filter=0")]);
        sh(&["ip", "-n", &ns, "link", "set", &dev, "up"]);
        for vni in vnis {
            let vx = format!("vx{vni}");
            sh(&["ip", "-n", &ns, "link", "add", &vx, "type", "vxlan", "id", &vni.to_string(), "dstport", "4789", "dev", &dev, "nolearning"]);
            tb.exec(&ns, &["sysctl", "-qw", &format!("net.ipv6.conf.{vx}.disable_ipv6=1")]);
            sh(&["ip", "-n", &ns, "link", "set", &vx, "up"]);
        }
        me
    }
}

impl Drop for SecondCollector {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.ns]).stderr(Stdio::null()).status();
    }
}

/// Brings the lab up (its configuration in the lab's `file`) with config/testbed.toml's
/// target replaced by `tmt-ids`, the load balancer of `addresses` with the test's short
/// health checks; the sessions copy to it.
fn up_load_balanced(tb: &Testbed, file: &str, addresses: &[&str]) {
    let template = std::fs::read_to_string(workspace().join("config/testbed.toml")).expect("config/testbed.toml");
    let to_collector = "[[target]]\nid = \"tmt-collector\"\nnetwork_interface_id = \"eni-collector\"\n";
    assert!(template.contains(to_collector), "config/testbed.toml's target is the collector's network interface");
    let addresses = addresses.iter().map(|a| format!("\"{a}\"")).collect::<Vec<_>>().join(", ");
    let balanced = format!(
        "[[load_balancer]]\narn = \"{LB_ARN}\"\nport = \"mirror\"\naddresses = [{addresses}]\n\
         health_check = {{ protocol = \"tcp\", port = {HC_PORT}, interval = {HC_INTERVAL_S}, healthy_threshold = {HC_HEALTHY}, unhealthy_threshold = {HC_UNHEALTHY} }}\n\n\
         [[target]]\nid = \"tmt-ids\"\nnetwork_load_balancer_arn = \"{LB_ARN}\"\n"
    );
    tb.up_with(file, &template.replace(to_collector, &balanced).replace("target = \"tmt-collector\"", "target = \"tmt-ids\""));
}

/// The health-check listener of a collector at `ip` (IPv4 or IPv6): bound while it lives.
fn listener(ns: &str, ip: impl Into<std::net::IpAddr>) -> TcpListener {
    let ip = ip.into();
    in_netns(ns, move || TcpListener::bind((ip, HC_PORT)).expect("binding the health-check listener"))
}

/// A control API client of the lab.
fn lab_client(tb: &Testbed) -> control::api::Client {
    control::api::Client::connect(&tb.dir().join("control.sock")).expect("connecting to the lab's control socket")
}

/// Each collector's health state, by address, as describe-load-balancers says it.
fn health(c: &mut control::api::Client) -> std::collections::BTreeMap<String, String> {
    let r = c.call(&control::api::actions::DescribeLoadBalancers::default()).expect("the control socket answers").expect("describe-load-balancers succeeds");
    let lb = r.load_balancers.iter().find(|l| l.load_balancer_arn == LB_ARN).expect("the lab's load balancer is described");
    lb.target_health_descriptions.iter().map(|d| (d.target.id.clone(), d.target_health.state.clone())).collect()
}

/// Waits (at most `limit`) until collector `ip` is `state`; returns how long it took.
fn await_health(c: &mut control::api::Client, ip: &str, state: &str, limit: Duration) -> Duration {
    let start = Instant::now();
    loop {
        let h = health(c);
        if h.get(ip).map(String::as_str) == Some(state) {
            return start.elapsed();
        }
        assert!(start.elapsed() < limit, "collector {ip} was not {state} within {limit:?}: {h:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The counters of the lab's load-balancer target: copies per collector address, and the
/// sessions' skips for want of a healthy collector.
fn lb_counters(c: &mut control::api::Client) -> (std::collections::BTreeMap<String, u64>, u64, u64) {
    let r = c.call(&control::api::actions::DescribeCounters::default()).expect("the control socket answers").expect("describe-counters succeeds");
    let t = r.targets.iter().find(|t| t.id == "tmt-ids").expect("the target is reported");
    let copies = t.collector_counters.iter().map(|c| (c.address.to_string(), c.packets)).collect();
    let skipped: u64 = r.sessions.iter().map(|s| s.ingress.skip_no_healthy + s.egress.skip_no_healthy).sum();
    (copies, skipped, t.skipped.no_healthy_collector)
}

/// Waits (at most `limit`) until the lab's load-balancer counters satisfy `done`.
fn await_counters(c: &mut control::api::Client, what: &str, limit: Duration, done: impl Fn(&(std::collections::BTreeMap<String, u64>, u64, u64)) -> bool) {
    let start = Instant::now();
    loop {
        let now = lb_counters(c);
        if done(&now) {
            return;
        }
        assert!(start.elapsed() < limit, "{what}: the load balancer's counters did not get there within {limit:?}: {now:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Two datagrams from each of the `flows` client sockets to the server's UDP port 7000, all
/// received. Returns the client ports (one per flow).
fn udp_flows(tb: &Testbed, flows: &[UdpSocket]) -> Vec<u16> {
    let server = in_netns(&tb.name("server"), || UdpSocket::bind((SERVER_IP, 7000)).expect("binding in the server namespace"));
    server.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut ports = Vec::new();
    for (i, s) in flows.iter().enumerate() {
        for n in 0..2 {
            s.send_to(&payload(i as u32 * 2 + n, 100), (SERVER_IP, 7000)).expect("client sending");
        }
        ports.push(s.local_addr().unwrap().port());
    }
    let mut buf = [0u8; 2048];
    for _ in 0..flows.len() * 2 {
        server.recv_from(&mut buf).expect("the server received every datagram");
    }
    ports
}

/// The UDP source port of an IPv4 frame to port 7000 (the test's flows), read from the headers
/// alone: the server session's copies are cut short of their IP length, which parsers refuse.
fn udp_to_7000(f: &[u8]) -> Option<u16> {
    if f.len() < 14 + 20 || f[12..14] != [0x08, 0x00] || f[14 + 9] != 17 {
        return None;
    }
    let udp = 14 + usize::from(f[14] & 0x0f) * 4;
    let port = |at: usize| f.get(at..at + 2).map(|b| u16::from_be_bytes([b[0], b[1]]));
    (port(udp + 2)? == 7000).then(|| port(udp)).flatten()
}

/// The copies a capture of the collectors' wire saw: (collector address, VNI, the inner
/// frame's UDP source port, or None for another kind of frame).
fn copies_seen(frames: &[Vec<u8>]) -> Vec<([u8; 4], u32, Option<u16>)> {
    frames
        .iter()
        .map(|f| {
            assert!(f.len() > 50 && f[12..14] == [0x08, 0x00], "a VXLAN copy over IPv4: {:02x?}", &f[..f.len().min(64)]);
            assert_eq!(f[6..12], MIRROR_MAC, "outer source MAC");
            let to: [u8; 4] = f[30..34].try_into().unwrap();
            let mac = if to == COLLECTOR_IP { COLLECTOR_MAC } else { COLLECTOR2_MAC };
            assert_eq!(f[0..6], mac, "the outer destination MAC is the collector's (ARP)");
            let inner = &f[50..];
            let port = udp_to_7000(inner);
            (to, u32::from_be_bytes([0, f[46], f[47], f[48]]), port)
        })
        .collect()
}

/// A round of `flows`: the copies captured on the collectors' wire and each collector's
/// VXLAN device for VNI `vni`. Returns, per flow (client port), the collector it went to;
/// every copy of a flow (both sessions, both datagrams) must have gone to one collector, and
/// each device must have delivered exactly the copies of its collector. Also returns every
/// copy seen, as [`copies_seen`] says them.
fn round(tb: &Testbed, api: &mut control::api::Client, what: &str, flows: &[UdpSocket], vni: u32) -> (std::collections::BTreeMap<u16, [u8; 4]>, Vec<([u8; 4], u32, Option<u16>)>) {
    let (collector, coll2) = (tb.name("collector"), tb.name("coll2"));
    let wire = Capture::start(tb, &collector, &tb.name("mir"), &format!("{what}-wire"), &["-Q", "in", "udp", "dst", "port", "4789"]);
    let vx1 = Capture::start(tb, &collector, &format!("vx{vni}"), &format!("{what}-vx1"), &["-Q", "in"]);
    let vx2 = Capture::start(tb, &coll2, &format!("vx{vni}"), &format!("{what}-vx2"), &["-Q", "in"]);
    let sent_before: u64 = lb_counters(api).0.values().sum();
    let ports = udp_flows(tb, flows);
    // Two datagrams per flow, each copied by both sessions: wait until the target has sent
    // them all before the captures stop (they then drain what the kernel still holds).
    await_counters(api, what, Duration::from_secs(60), |(copies, _, _)| copies.values().sum::<u64>() >= sent_before + 4 * flows.len() as u64);
    let (wire, vx1, vx2) = (wire.stop(), vx1.stop(), vx2.stop());
    let seen = copies_seen(&wire);
    // Wireshark decodes every copy as VXLAN from the mirror port to the collector it went to.
    let decoded = tshark_outer(&tb.lab.path(&format!("{what}-wire.pcap")));
    assert_eq!(decoded.len(), seen.len(), "{what}: tshark read every copy");
    for (l, (to, vni, _)) in decoded.iter().zip(&seen) {
        let [a, b, c, d] = *to;
        assert_eq!(l, &format!("{vni}\t192.0.2.1\t{a}.{b}.{c}.{d}\t1"), "{what}: tshark's decoding");
    }
    let mut to = std::collections::BTreeMap::new();
    for &(at, _, port) in &seen {
        let Some(p) = port.filter(|p| ports.contains(p)) else { continue };
        let was = *to.entry(p).or_insert(at);
        assert_eq!(was, at, "{what}: flow from port {p} went to two collectors");
    }
    for p in &ports {
        let n = seen.iter().filter(|(_, _, q)| q == &Some(*p)).count();
        // Two datagrams, each mirrored by both sessions (the client's egress, the server's ingress).
        assert_eq!(n, 4, "{what}: flow from port {p} has {n} copies, not 4");
    }
    for (dev, ip, got) in [("vx1", COLLECTOR_IP, &vx1), ("vx2", COLLECTOR2_IP, &vx2)] {
        let mut want: Vec<u16> = seen.iter().filter(|(a, v, p)| *a == ip && *v == vni && p.is_some()).filter_map(|s| s.2).collect();
        let mut delivered: Vec<u16> = got.iter().filter_map(|f| udp_to_7000(f)).collect();
        want.sort_unstable();
        delivered.sort_unstable();
        assert_eq!(delivered, want, "{what}: the flows {dev}'s kernel VXLAN device delivered are those of the copies sent to its collector");
    }
    (to, seen)
}

/// A round of `flows` while no collector is healthy: every copy (4 a flow) is skipped and
/// counted as `no_healthy_collector`, by the sessions and the target alike, and none is sent
/// or leaves on the collectors' wire.
fn all_skipped(tb: &Testbed, api: &mut control::api::Client, what: &str, flows: &[UdpSocket]) {
    let (copies_before, skipped_before, target_before) = lb_counters(api);
    let wire = Capture::start(tb, &tb.name("collector"), &tb.name("mir"), &format!("{what}-wire"), &["-Q", "in", "udp", "dst", "port", "4789"]);
    udp_flows(tb, flows);
    let want = skipped_before + 4 * flows.len() as u64;
    await_counters(api, what, Duration::from_secs(60), |&(_, skipped, _)| skipped >= want);
    let sent = wire.stop();
    let (copies_after, skipped_after, target_after) = lb_counters(api);
    assert_eq!(sent.len(), 0, "{what}: no copy leaves while no collector is healthy");
    assert_eq!(copies_after, copies_before, "{what}: no copy counted as sent");
    assert!(skipped_after - skipped_before >= 4 * flows.len() as u64, "{what}: every copy of the round was skipped as no_healthy_collector: {}", skipped_after - skipped_before);
    assert_eq!(target_after - target_before, skipped_after - skipped_before, "{what}: the target counts the same skips as its sessions");
}

/// The lab with a load-balancer target of two collectors, each a kernel VXLAN device in its
/// own namespace with a TCP listener for the health checks: copies of many flows are split;
/// when one listener stops, within interval x unhealthy_threshold (plus slack for a loaded
/// machine) its flows move to the other and no flow of the other moves, and no copy reaches
/// it while it is unhealthy; when it listens again its flows come back and the others stay.
/// With neither listening, copies are skipped and counted as `no_healthy_collector`.
#[test]
fn a_failed_collector_gives_up_only_its_flows_and_takes_them_back_when_it_recovers() {
    let s = sessions();
    let tb = Testbed::new("tbh");
    require_tool("tshark", "tshark");
    up_load_balanced(&tb, "testbed-lb.toml", &["192.0.2.10", "192.0.2.11"]);
    let coll2 = SecondCollector::new(&tb, &[s.client_vni, s.server_vni]);

    let (c1, c2) = ("192.0.2.10", "192.0.2.11");
    let l1 = listener(&tb.name("collector"), COLLECTOR_IP);
    let mut l2 = Some(listener(&coll2.ns, COLLECTOR2_IP));
    let mut api = lab_client(&tb);
    // Both checked and healthy (ARP resolved, SYN-ACKs seen) before traffic.
    let generous = Duration::from_secs(60);
    let t0 = Instant::now();
    await_health(&mut api, c1, "healthy", generous);
    await_health(&mut api, c2, "healthy", generous);
    eprintln!("both collectors healthy after {:?}", t0.elapsed());

    let flows: Vec<UdpSocket> = (0..48).map(|_| in_netns(&tb.name("client"), || UdpSocket::bind((CLIENT_IP, 0)).expect("binding in the client namespace"))).collect();
    let (before, _) = round(&tb, &mut api, "both-up", &flows, s.client_vni);
    let on = |map: &std::collections::BTreeMap<u16, [u8; 4]>, ip: [u8; 4]| map.iter().filter(|(_, a)| **a == ip).map(|(p, _)| *p).collect::<Vec<_>>();
    let (mine, theirs) = (on(&before, COLLECTOR2_IP), on(&before, COLLECTOR_IP));
    assert!(!mine.is_empty() && !theirs.is_empty(), "48 flows split over both collectors: {} and {}", theirs.len(), mine.len());

    // The second collector's listener stops: its kernel refuses the checks with a RST.
    let log_path = tb.dir().join("traffic-mirror.log");
    let log_from = std::fs::read_to_string(&log_path).expect("the lab's log").len();
    drop(l2.take());
    let nominal = Duration::from_secs(HC_INTERVAL_S * HC_UNHEALTHY);
    let took = await_health(&mut api, c2, "unhealthy", generous);
    // The checks are due every interval, the threshold-th failure marks it; the control
    // thread shares two cores with the test and other work, hence the slack.
    assert!(took <= nominal + Duration::from_secs(8), "collector {c2} turned unhealthy after {took:?}, not within {nominal:?} (+ 8 s of slack)");
    assert_eq!(health(&mut api).get(c1).map(String::as_str), Some("healthy"), "the other collector stays healthy");
    let (copies_before, skipped_before, _) = lb_counters(&mut api);
    let (during, seen) = round(&tb, &mut api, "one-down", &flows, s.client_vni);
    let (copies_after, skipped_after, _) = lb_counters(&mut api);
    assert!(seen.iter().all(|c| c.0 == COLLECTOR_IP), "no copy, of any flow, reaches the unhealthy collector");
    assert_eq!(copies_after[c2], copies_before[c2], "no copy was sent to the unhealthy collector");
    assert_eq!(skipped_after, skipped_before, "with one collector healthy nothing is skipped");
    for p in &theirs {
        assert_eq!(during[p], COLLECTOR_IP, "flow {p} of the healthy collector stayed");
    }
    for p in &mine {
        assert_eq!(during[p], COLLECTOR_IP, "flow {p} of the failed collector moved to the healthy one");
    }

    // Listening again: healthy after healthy_threshold checks, and its flows come back.
    l2 = Some(listener(&coll2.ns, COLLECTOR2_IP));
    let took_back = await_health(&mut api, c2, "healthy", generous);
    let (after, _) = round(&tb, &mut api, "both-up-again", &flows, s.client_vni);
    assert_eq!(after, before, "every flow is back where it was: the recovered collector's, and only those, moved back");

    // Neither listens: copies are skipped and counted, none sent.
    drop(l1);
    drop(l2.take());
    await_health(&mut api, c1, "unhealthy", generous);
    await_health(&mut api, c2, "unhealthy", generous);
    all_skipped(&tb, &mut api, "none-up", &flows);

    // One log line per change of health since the traffic started (before, the second
    // collector may have failed its first checks while its namespace was being built).
    let log = std::fs::read_to_string(&log_path).expect("the lab's log")[log_from..].to_owned();
    let lines = |what: &str| log.lines().filter(|l| l.contains(what)).count();
    assert_eq!(lines(&format!("collector {c2} is unhealthy (was healthy)")), 2, "{log}");
    assert_eq!(lines(&format!("collector {c2} is healthy (was unhealthy)")), 1, "{log}");
    assert_eq!(lines(&format!("collector {c1} is unhealthy (was healthy)")), 1, "{log}");
    eprintln!("testbed load balancer: {} and {} of 48 flows; unhealthy after {took:?}, healthy again after {took_back:?}", theirs.len(), mine.len());
    drop(coll2);
    tb.down();
}

/// The lab with a load-balancer target whose only collector is IPv6 (fd20::10, the next hop
/// found by Neighbor Discovery): its health checks go over IPv6 from the mirror port's
/// fd20::1, and Wireshark finds their TCP checksums good. With a listener on the check port
/// it turns healthy and the copies reach its kernel's VXLAN device over IPv6; once the
/// listener stops, its kernel refuses the checks, it turns unhealthy within interval x
/// unhealthy_threshold (plus slack), and every copy is skipped as `no_healthy_collector`.
#[test]
fn an_ipv6_collector_is_health_checked_over_ipv6_and_its_copies_stop_when_it_fails() {
    let s = sessions();
    let tb = Testbed::new("tbh6");
    require_tool("tshark", "tshark");
    let template = std::fs::read_to_string(workspace().join("config/testbed.toml")).expect("config/testbed.toml");
    assert!(template.contains(&format!("ipv6 = \"{MIRROR_IP6}\"")), "config/testbed.toml: the mirror port has an IPv6 address");
    up_load_balanced(&tb, "testbed-lb6.toml", &[COLLECTOR_IP6]);
    let (client, collector) = (tb.name("client"), tb.name("collector"));
    let collector6: std::net::Ipv6Addr = COLLECTOR_IP6.parse().unwrap();
    let mirror6: std::net::Ipv6Addr = MIRROR_IP6.parse().unwrap();

    // Healthy: Neighbor Discovery resolved the collector, a SYN-ACK came back.
    let log_path = tb.dir().join("traffic-mirror.log");
    let checks = Capture::start(&tb, &collector, &tb.name("mir"), "v6-checks", &["tcp", "port", &HC_PORT.to_string()]);
    let l = listener(&collector, collector6);
    let mut api = lab_client(&tb);
    let took = await_health(&mut api, COLLECTOR_IP6, "healthy", Duration::from_secs(60));
    eprintln!("the IPv6 collector is healthy after {took:?}");
    // More checks, each answered and closed, while the capture waits for the wire to fall
    // quiet (which, with a check a second, it does only at its 20 s limit).
    let checks_file = tb.lab.path("v6-checks.pcap");
    let seen = checks.stop();
    assert!(!seen.is_empty(), "no health check crossed the wire");
    for f in &seen {
        let p = SlicedPacket::from_ethernet(f).unwrap_or_else(|e| panic!("a check's frame does not parse ({e}): {f:02x?}"));
        let Some(NetSlice::Ipv6(_)) = &p.net else { panic!("a check's frame is not IPv6: {f:02x?}") };
    }
    // Wireshark's view: our SYNs and the RSTs that close them from fd20::1, the kernel's
    // SYN-ACKs from fd20::10, the TCP checksum of each of ours good.
    let out = Command::new("tshark")
        .arg("-r")
        .arg(&checks_file)
        .args(["-o", "tcp.check_checksum:TRUE", "-T", "fields", "-e", "ipv6.src", "-e", "ipv6.dst", "-e", "tcp.flags.str", "-e", "tcp.checksum.status"])
        .output()
        .expect("running tshark");
    assert!(out.status.success(), "tshark: {}", text(&out));
    let lines: Vec<Vec<String>> = String::from_utf8_lossy(&out.stdout).lines().map(|l| l.split('\t').map(str::to_owned).collect()).collect();
    assert_eq!(lines.len(), seen.len(), "tshark read every frame");
    let count = |src: &str, flag: char| lines.iter().filter(|f| f[0] == src && f[2].contains(flag)).count();
    let (syns, syn_acks, resets) = (count(MIRROR_IP6, 'S'), lines.iter().filter(|f| f[0] == COLLECTOR_IP6 && f[2].contains('S') && f[2].contains('A')).count(), count(MIRROR_IP6, 'R'));
    assert!(syns >= 2 && syn_acks >= 2 && resets >= 2, "{syns} SYNs, {syn_acks} SYN-ACKs, {resets} RSTs: {lines:?}");
    for f in lines.iter().filter(|f| f[0] == MIRROR_IP6) {
        assert_eq!(f[3], "1", "tshark finds the TCP checksum of a frame of ours bad: {f:?}");
    }

    // The copies of a round of flows go to it over IPv6, and its kernel's VXLAN device
    // delivers them.
    let flows: Vec<UdpSocket> = (0..8).map(|_| in_netns(&client, || UdpSocket::bind((CLIENT_IP, 0)).expect("binding in the client namespace"))).collect();
    let vx6 = format!("vx6-{}", s.client_vni);
    let wire = Capture::start(&tb, &collector, &tb.name("mir"), "v6-up-wire", &["-Q", "in", "udp", "dst", "port", "4789"]);
    let delivered = Capture::start(&tb, &collector, &vx6, "v6-up-vx", &["-Q", "in"]);
    let sent_before = lb_counters(&mut api).0.get(COLLECTOR_IP6).copied().unwrap_or(0);
    let ports = udp_flows(&tb, &flows);
    let want = sent_before + 4 * flows.len() as u64;
    await_counters(&mut api, "v6-up", Duration::from_secs(60), |(copies, _, _)| copies.get(COLLECTOR_IP6).copied().unwrap_or(0) >= want);
    let (copies, delivered) = (wire.stop(), delivered.stop());
    for f in &copies {
        let p = SlicedPacket::from_ethernet(f).unwrap_or_else(|e| panic!("a copy does not parse ({e})"));
        let Some(NetSlice::Ipv6(ip)) = &p.net else { panic!("a copy not over IPv6: {:02x?}", &f[..f.len().min(80)]) };
        assert_eq!((ip.header().source_addr(), ip.header().destination_addr(), &f[0..6]), (mirror6, collector6, &COLLECTOR_MAC[..]), "outer addresses and MAC");
    }
    let to_7000 = |frames: &[Vec<u8>]| frames.iter().filter(|f| udp_to_7000(f).is_some_and(|p| ports.contains(&p))).count();
    assert!(copies.len() >= 4 * flows.len(), "{} copies on the wire, {} flows", copies.len(), flows.len());
    assert_eq!(to_7000(&delivered), 2 * flows.len(), "{vx6} delivered both datagrams of each flow (the client's session)");

    // The listener stops: the kernel refuses the checks with a RST.
    let log_from = std::fs::read_to_string(&log_path).expect("the lab's log").len();
    drop(l);
    let nominal = Duration::from_secs(HC_INTERVAL_S * HC_UNHEALTHY);
    let took = await_health(&mut api, COLLECTOR_IP6, "unhealthy", Duration::from_secs(60));
    assert!(took <= nominal + Duration::from_secs(8), "the IPv6 collector turned unhealthy after {took:?}, not within {nominal:?} (+ 8 s of slack)");
    let described = Command::new(binary()).args(["ctl", "--output", "json", "--socket"]).arg(tb.dir().join("control.sock")).arg("describe-load-balancers").output().expect("running ctl");
    assert!(described.status.success(), "ctl describe-load-balancers: {}", text(&described));
    let described: serde_json::Value = serde_json::from_slice(&described.stdout).expect("describe-load-balancers JSON");
    let lb = described["LoadBalancers"].as_array().and_then(|a| a.iter().find(|l| l["LoadBalancerArn"] == LB_ARN)).unwrap_or_else(|| panic!("{described}"));
    let d = &lb["TargetHealthDescriptions"][0];
    assert_eq!((d["Target"]["Id"].as_str(), d["TargetHealth"]["State"].as_str(), d["TargetHealth"]["Reason"].as_str()), (Some(COLLECTOR_IP6), Some("unhealthy"), Some("Target.FailedHealthChecks")), "{lb}");
    assert!(d["TargetHealth"]["Description"].as_str().is_some_and(|t| t.contains("connection refused")), "{lb}");

    // Its only collector unhealthy: every copy is skipped and counted, none sent.
    all_skipped(&tb, &mut api, "v6-down", &flows);

    let log = std::fs::read_to_string(&log_path).expect("the lab's log")[log_from..].to_owned();
    assert_eq!(log.lines().filter(|l| l.contains(&format!("collector {COLLECTOR_IP6} is unhealthy (was healthy)"))).count(), 1, "{log}");
    eprintln!("testbed IPv6 load balancer: {syns} checks seen, {} copies over IPv6, unhealthy after {took:?}", copies.len());
    tb.down();
}
