//! The configuration: its schema, reading a file with every problem located, validation, and
//! what the rest of the control plane asks of a configuration (ports by name, link peers,
//! where a target's copies go).

mod device;
mod locate;
mod problem;
mod refs;
mod resources;
mod schema;
mod validate;

pub use device::{devargs, device_name, dpdk_name, is_pci};
pub use locate::{line_of_problem, parse};
pub use problem::{shown, ConfigError, Fault, Kind, Problem, Seg};
pub use refs::{Refs, Touched};
pub use resources::{Place, Resource, Resources};
pub use schema::*;

use std::collections::HashSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::Path;
use std::time::Duration;

/// The largest configuration file read.
pub const MAX_FILE_BYTES: u64 = 64 << 20;

/// How long start-up waits for the configuration file to be read before it gives up naming the
/// file: long enough for a slow disk, short enough that a hung mount is reported, not waited on.
pub const START_PATIENCE: Duration = Duration::from_secs(5);

/// Reads a configuration file's text (see [`read_text`]) within `timeout`: a hung network
/// mount must not hang the caller, so the read runs on a thread of its own, abandoned when late.
pub fn read_file(path: &Path, timeout: Duration) -> Result<String, ConfigError> {
    let owned = path.to_path_buf();
    within(&path.display().to_string(), timeout, move || read_text(&owned))
}

/// Problem `p` of the configuration in `path`, at its line when the file says where. The file
/// is read again for that, within `timeout` (see [`read_file`]); unreadable, the problem stays
/// unplaced rather than the caller waiting on a hung mount or a FIFO.
pub fn placed_in(path: &Path, p: &Problem, timeout: Duration) -> ConfigError {
    let line = read_file(path, timeout).ok().and_then(|text| line_of_problem(&text, p));
    ConfigError { problems: vec![(Some(path.display().to_string()), line, p.in_file_terms())] }
}

/// Runs `work` (file-system calls, which block for as long as a hung mount does: `stat`
/// too) on a thread of its own and waits for it at most `timeout`; late, it is abandoned and
/// `file` named in the error. For a thread with nothing else to do meanwhile (start-up, a
/// command); the control thread never waits for a file at all.
pub fn within<T: Send + 'static>(file: &str, timeout: Duration, work: impl FnOnce() -> Result<T, ConfigError> + Send + 'static) -> Result<T, ConfigError> {
    let (tx, rx) = crossbeam::channel::bounded(1);
    std::thread::Builder::new()
        .name("tm-config-read".into())
        .spawn(move || {
            let _ = tx.send(work());
        })
        .map_err(|e| ConfigError::file(file, format!("cannot start reading: {e}")))?;
    rx.recv_timeout(timeout).unwrap_or_else(|_| Err(ConfigError::file(file, format!("reading it took longer than {} s (a hung mount?)", timeout.as_secs()))))
}

/// Reads a configuration file's text: only a regular file (a FIFO or a device would block the
/// reader forever), of at most [`MAX_FILE_BYTES`]. Blocks for as long as the file system does:
/// call it on a thread that may wait (see [`within`]).
pub fn read_text(path: &Path) -> Result<String, ConfigError> {
    use std::io::Read;
    let file = &path.display().to_string();
    let meta = std::fs::metadata(path).map_err(|e| ConfigError::file(file, format!("cannot read: {e}")))?;
    if !meta.is_file() {
        return Err(ConfigError::file(file, "is not a regular file (a FIFO, device or folder cannot be a configuration)"));
    }
    // Read whole into memory, so bounded: 10,000 of each resource take a few megabytes.
    if meta.len() > MAX_FILE_BYTES {
        return Err(ConfigError::file(file, format!("is {} bytes, more than a configuration may be ({MAX_FILE_BYTES})", meta.len())));
    }
    // It may grow between the look and the read: no further than the limit.
    let mut text = String::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(MAX_FILE_BYTES + 1).read_to_string(&mut text))
        .map_err(|e| ConfigError::file(file, format!("cannot read: {e}")))?;
    if text.len() as u64 > MAX_FILE_BYTES {
        return Err(ConfigError::file(file, format!("grew past {MAX_FILE_BYTES} bytes while being read")));
    }
    Ok(text)
}

impl Config {
    /// Reads, parses and validates `path`, and assigns what may be omitted.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = read_file(path, START_PATIENCE)?;
        parse(&text, &path.display().to_string())
    }

    /// Assigns what may be omitted: VNIs and filter-rule ids.
    pub fn assign_ids(&mut self) {
        self.assign_vnis();
        self.assign_rule_ids();
    }

    /// Gives every filter rule without an id one, derived from its filter, direction and
    /// number (so it is stable across restarts), AWS-shaped: `tmfr-` and 17 hex digits.
    pub fn assign_rule_ids(&mut self) {
        let mut used: HashSet<String> = self.rule_ids().map(str::to_owned).collect();
        for f in &mut self.filters {
            for dir in Direction::ALL {
                let fid = f.id.clone();
                for r in f.rules_mut(dir).iter_mut().filter(|r| r.id.is_none()) {
                    let mut salt = 0u32;
                    let id = loop {
                        let h = stable_hash(&format!("{fid}/{}/{}/{salt}", dir.name(), r.rule_number));
                        let h2 = stable_hash(&format!("{salt}/{}/{fid}/{}", r.rule_number, dir.name()));
                        let id = format!("tmfr-{:01x}{h:08x}{h2:08x}", salt % 16);
                        if used.insert(id.clone()) {
                            break id;
                        }
                        salt += 1;
                    };
                    r.id = Some(id);
                }
            }
        }
    }

    /// Every filter rule id present.
    pub fn rule_ids(&self) -> impl Iterator<Item = &str> {
        self.filters.iter().flat_map(|f| f.ingress_rules.iter().chain(&f.egress_rules)).filter_map(|r| r.id.as_deref())
    }

    /// Gives every session without a VNI one no other session uses: derived from its id (so
    /// it is stable across restarts and edits), probing upwards on collision.
    pub fn assign_vnis(&mut self) {
        let mut used: HashSet<u32> = self.sessions.iter().filter_map(|s| s.virtual_network_id).collect();
        for s in &mut self.sessions {
            if s.virtual_network_id.is_none() {
                let vni = free_vni(&s.id, |v| used.contains(&v));
                used.insert(vni);
                s.virtual_network_id = Some(vni);
            }
        }
    }

    /// The port named `name`.
    pub fn port(&self, name: &str) -> Option<&Port> {
        self.ports.iter().find(|p| p.name == name)
    }

    /// Index of the port named `name`.
    pub fn port_index(&self, name: &str) -> Option<usize> {
        self.ports.iter().position(|p| p.name == name)
    }

    /// The link peer of each port, by index.
    pub fn peers(&self) -> Vec<Option<u16>> {
        let mut peers = vec![None; self.ports.len()];
        for l in &self.links {
            if let [a, b] = l.ports.as_slice() {
                if let (Some(a), Some(b)) = (self.port_index(a), self.port_index(b)) {
                    peers[a] = Some(b as u16);
                    peers[b] = Some(a as u16);
                }
            }
        }
        peers
    }

    /// Whether port `name` is in a link.
    pub fn is_linked(&self, name: &str) -> bool {
        self.links.iter().any(|l| l.ports.iter().any(|p| p == name))
    }

    /// The session's packet length as the dataplane applies it (AWS's 8500 default for load
    /// balancers).
    pub fn effective_packet_length(&self, s: &Session) -> Option<u32> {
        match self.targets.get(&s.target) {
            Some(t) => packet_length_to(s, t),
            None => s.packet_length,
        }
    }

    /// Where copies to the destination of `kind` with id (or ARN) `id` go.
    pub fn destination_of(&self, kind: TargetType, id: &str) -> Option<Destination<'_>> {
        match kind {
            TargetType::NetworkInterface => self.network_interfaces.get(id).map(Destination::of_interface),
            TargetType::GatewayLoadBalancerEndpoint => self.gateway_load_balancer_endpoints.get(id).map(Destination::of_endpoint),
            TargetType::NetworkLoadBalancer => self.load_balancers.get(id).map(Destination::of_load_balancer),
        }
    }

    /// Where a target's copies go, when its destination exists.
    pub fn target_destination(&self, t: &Target) -> Option<Destination<'_>> {
        let (kind, id) = t.destination()?;
        self.destination_of(kind, id)
    }
}

/// Where a target's copies go: out of which port, to which collectors.
#[derive(Clone, Debug, PartialEq)]
pub struct Destination<'c> {
    /// What receives them, in words ("load balancer").
    pub noun: &'static str,
    /// The mirror port.
    pub port: &'c str,
    /// One for a network interface or endpoint, several behind a load balancer.
    pub collectors: Vec<Collector>,
}

/// One collector address and how copies reach it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Collector {
    /// IPv4, or IPv6 (its copies then carry an outer IPv6 header).
    pub address: IpAddr,
    pub hop: NextHop,
}

impl<'c> Destination<'c> {
    /// A network interface as a collector: its IPv4 address, as AWS sends to an ENI's
    /// primary address, else its IPv6 address.
    pub fn of_interface(n: &'c NetworkInterface) -> Self {
        single("network interface", &n.port, one_address(n.ipv4, n.ipv6), n.next_hop_mac, n.next_hop)
    }

    /// A gateway load balancer endpoint: one address, as a network interface.
    pub fn of_endpoint(e: &'c GatewayLoadBalancerEndpoint) -> Self {
        single("gateway load balancer endpoint", &e.port, one_address(e.ipv4, e.ipv6), e.next_hop_mac, e.next_hop)
    }

    /// Whether some collector has an IPv6 address (copies to it carry longer outer headers).
    pub fn has_ipv6(&self) -> bool {
        self.collectors.iter().any(|c| c.address.is_ipv6())
    }

    /// A load balancer's collectors.
    pub fn of_load_balancer(lb: &'c LoadBalancer) -> Self {
        Destination {
            noun: "load balancer",
            port: &lb.port,
            collectors: lb.addresses.iter().map(|&a| Collector { address: a, hop: NextHop::of(lb.next_hop_mac, lb.next_hop, a) }).collect(),
        }
    }
}

/// The address copies go to of something with an IPv4 and an IPv6 key: IPv4 first.
fn one_address(v4: Option<Ipv4Addr>, v6: Option<Ipv6Addr>) -> Option<IpAddr> {
    v4.map(IpAddr::V4).or(v6.map(IpAddr::V6))
}

fn single<'c>(noun: &'static str, port: &'c str, address: Option<IpAddr>, mac: Option<Mac>, hop: Option<IpAddr>) -> Destination<'c> {
    Destination { noun, port, collectors: address.map(|a| Collector { address: a, hop: NextHop::of(mac, hop, a) }).into_iter().collect() }
}

/// A VNI derived from `id`, probing upwards past those `taken` says are.
pub fn free_vni(id: &str, taken: impl Fn(u32) -> bool) -> u32 {
    let max = dataplane::wire::vxlan::MAX_VNI;
    let mut vni = stable_hash(id) % (max + 1);
    while taken(vni) {
        vni = (vni + 1) % (max + 1);
    }
    vni
}

/// FNV-1a: a fixed hash, so assigned VNIs and rule ids do not change between builds.
pub fn stable_hash(s: &str) -> u32 {
    s.bytes().fold(0x811c_9dc5u32, |h, b| (h ^ u32::from(b)).wrapping_mul(0x0100_0193))
}

/// Session `s`'s packet length as the dataplane applies it when its target is `t`.
pub fn packet_length_to(s: &Session, t: &Target) -> Option<u32> {
    s.packet_length.or((t.kind() == Some(TargetType::NetworkLoadBalancer)).then_some(NLB_MAX_PACKET_LENGTH))
}

#[cfg(test)]
mod read_tests {
    use super::*;

    /// A FIFO in `dir`: reading its text would block until a writer came.
    fn fifo_in(dir: &Path, name: &str) -> std::path::PathBuf {
        let fifo = dir.join(name);
        assert!(std::process::Command::new("mkfifo").arg(&fifo).status().unwrap().success());
        fifo
    }

    #[test]
    fn a_fifo_or_a_folder_is_refused_at_once_and_a_regular_file_is_read() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = fifo_in(dir.path(), "fifo.toml");
        let t = std::time::Instant::now();
        let e = read_file(&fifo, Duration::from_secs(5)).unwrap_err().to_string();
        assert!(e.contains("fifo.toml") && e.contains("is not a regular file"), "{e}");
        assert!(t.elapsed() < Duration::from_secs(2), "took {:?}", t.elapsed());
        let e = read_file(dir.path(), Duration::from_secs(5)).unwrap_err().to_string();
        assert!(e.contains("is not a regular file"), "{e}");
        let file = dir.path().join("ok.toml");
        std::fs::write(&file, "[dataplane]\n").unwrap();
        assert_eq!(read_file(&file, Duration::from_secs(5)).unwrap(), "[dataplane]\n");
    }

    fn session_number_too_high() -> Problem {
        Problem {
            path: vec![Seg::Key("session"), Seg::Index(0), Seg::Key("session_number")],
            kind: Some(Kind::Session),
            item: "[[session]] \"tms-1\"".into(),
            key: "session_number",
            value: Some("40000".into()),
            reason: "must be 1-32766".into(),
            fault: Fault::Invalid,
        }
    }

    #[test]
    fn a_problem_is_placed_at_its_line_of_a_readable_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("c.toml");
        std::fs::write(&file, "[[session]]\nid = \"tms-1\"\nsession_number = 40000\n").unwrap();
        let e = placed_in(&file, &session_number_too_high(), Duration::from_secs(5)).to_string();
        assert_eq!(e, format!("{}:3: [[session]] \"tms-1\": session_number = 40000: must be 1-32766", file.display()));
    }

    #[test]
    fn a_problem_of_a_fifo_is_told_at_once_without_a_line() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = fifo_in(dir.path(), "c.toml");
        let t = std::time::Instant::now();
        let e = placed_in(&fifo, &session_number_too_high(), Duration::from_secs(5)).to_string();
        assert!(t.elapsed() < Duration::from_secs(2), "took {:?}", t.elapsed());
        assert_eq!(e, format!("{}: [[session]] \"tms-1\": session_number = 40000: must be 1-32766", fifo.display()));
    }
}
