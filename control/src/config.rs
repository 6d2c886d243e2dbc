//! The configuration file: its schema (serde + TOML), loading with file:line errors, and
//! validation of every range and reference SPEC.md names.
//!
//! Validation works on the plain model, so changes made through the control API are checked
//! by the same code; each problem carries a path into the document (`[[filter]] 2 →
//! ingress_rule 1 → destination_port`) that the loader turns into a line number.

use ipnet::IpNet;
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet};
use std::fmt;
use std::net::Ipv4Addr;
use std::path::Path;

/// Most workers: well past any core count this runs on.
pub const MAX_WORKERS: usize = 64;
/// AWS's bounds on rule and session numbers.
pub const MAX_NUMBER: u32 = 32766;
/// Largest packet length for a load-balancer target, and its default (AWS).
pub const NLB_MAX_PACKET_LENGTH: u32 = 8500;
/// Default target MTU: an ENA interface's jumbo MTU, as AWS targets have.
pub const DEFAULT_TARGET_MTU: u32 = 9001;

/// The whole configuration.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub dataplane: Dataplane,
    #[serde(default, skip_serializing_if = "Vpc::is_empty")]
    pub vpc: Vpc,
    #[serde(default)]
    pub quotas: Quotas,
    #[serde(default)]
    pub control: Control,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metrics: Option<Metrics>,
    #[serde(default, rename = "port", skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<Port>,
    #[serde(default, rename = "link", skip_serializing_if = "Vec::is_empty")]
    pub links: Vec<Link>,
    #[serde(default, rename = "source", skip_serializing_if = "Vec::is_empty")]
    pub sources: Vec<Source>,
    #[serde(default, rename = "target", skip_serializing_if = "Vec::is_empty")]
    pub targets: Vec<Target>,
    #[serde(default, rename = "filter", skip_serializing_if = "Vec::is_empty")]
    pub filters: Vec<Filter>,
    #[serde(default, rename = "session", skip_serializing_if = "Vec::is_empty")]
    pub sessions: Vec<Session>,
}

/// `[dataplane]`: workers and DPDK.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Dataplane {
    /// Poll-mode worker threads, one per core.
    pub workers: usize,
    /// CPU cores for the workers (default: the last `workers` cores).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cores: Vec<usize>,
    /// Arguments for DPDK's EAL. Port devices are added from `[[port]]`.
    pub eal_args: Vec<String>,
    /// Most packets taken from an RX queue at once.
    pub burst_size: usize,
    /// RX and TX descriptors per queue.
    pub rx_desc: u16,
    pub tx_desc: u16,
    /// Extra attempts to send originals a TX queue refused before dropping them.
    pub tx_retries: u32,
    /// Sleep this long after a poll round that received nothing (0: busy polling, the
    /// lowest latency; a few tens of microseconds spare the CPU in a lab).
    pub idle_sleep_us: u64,
    /// Mbufs for received frames and for copies (0: sized from ports and queues).
    pub mbufs: u32,
    pub copy_mbufs: u32,
}

impl Default for Dataplane {
    fn default() -> Self {
        Dataplane {
            workers: 1,
            cores: Vec::new(),
            eal_args: vec!["--no-huge".into(), "-m".into(), "512".into(), "--no-pci".into()],
            burst_size: 32,
            rx_desc: 1024,
            tx_desc: 1024,
            tx_retries: 8,
            idle_sleep_us: 0,
            mbufs: 0,
            copy_mbufs: 0,
        }
    }
}

/// `[vpc]`: facts about the monitored network.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Vpc {
    /// DNS resolvers besides AWS's 169.254.169.253 and fd00:ec2::253 whose traffic only
    /// `amazon-dns` filters mirror (e.g. the VPC's base address + 2).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub resolvers: Vec<std::net::IpAddr>,
}

impl Vpc {
    fn is_empty(&self) -> bool {
        self.resolvers.is_empty()
    }
}

/// `[quotas]`: AWS's limits, configurable.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Quotas {
    pub sessions_per_source: usize,
    /// Per direction.
    pub rules_per_filter: usize,
    pub targets: usize,
    pub filters: usize,
    pub sessions: usize,
}

impl Default for Quotas {
    fn default() -> Self {
        Quotas { sessions_per_source: 3, rules_per_filter: 10, targets: 10_000, filters: 10_000, sessions: 10_000 }
    }
}

/// Where the control API listens when the config does not say.
pub const DEFAULT_SOCKET: &str = "/run/traffic-mirror.sock";

/// `[control]`: the control API.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Control {
    /// Unix socket of the control API (one JSON request and reply per line).
    pub socket: String,
    /// Its permissions, in octal: only root by default.
    pub socket_mode: String,
}

impl Default for Control {
    fn default() -> Self {
        Control { socket: DEFAULT_SOCKET.into(), socket_mode: "0600".into() }
    }
}

impl Control {
    /// The socket mode as a number; validation has checked it parses.
    pub fn mode(&self) -> u32 {
        u32::from_str_radix(self.socket_mode.trim_start_matches("0o"), 8).unwrap_or(0o600)
    }
}

/// `[metrics]`: the Prometheus endpoint (off when the table is absent).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Metrics {
    /// Address and port to serve `/metrics` on, e.g. "127.0.0.1:9400".
    pub listen: std::net::SocketAddr,
}

/// `[[port]]`: a DPDK port.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Port {
    pub name: String,
    /// A `--vdev` string (`net_pcap0,rx_pcap=in.pcap,tx_pcap=out.pcap`) or a PCI address.
    pub device: String,
    /// Outer source MAC of copies sent here (default: the port's own).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mac: Option<Mac>,
    /// Outer source IPv4 of copies sent here, unless their source sets one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ipv4: Option<Ipv4Addr>,
    /// Frame MTU to set on the device.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mtu: Option<u16>,
}

/// `[[link]]`: two ports forwarded both ways.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Link {
    pub ports: Vec<String>,
}

/// `[[source]]`: a monitored interface.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Source {
    pub id: String,
    pub port: String,
    /// Only this host's frames (source MAC when received, destination MAC when sent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mac: Option<Mac>,
    /// Outer source IPv4 of its copies (as AWS uses the ENI's primary address).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ipv4: Option<Ipv4Addr>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// A target's kind, named as in AWS.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TargetType {
    NetworkInterface,
    NetworkLoadBalancer,
}

/// `[[target]]`: where copies go.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Target {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: TargetType,
    /// The collector (network-interface).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<Ipv4Addr>,
    /// The collectors behind a load balancer; each flow always goes to the same one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub addresses: Vec<Ipv4Addr>,
    /// MAC of the next hop towards the collector(s)...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_hop_mac: Option<Mac>,
    /// ...or its IPv4 address, resolved with ARP on the mirror port (the collector's own
    /// address when it is on the mirror port's network).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_hop: Option<Ipv4Addr>,
    /// The mirror port copies leave by.
    pub port: String,
    #[serde(default = "default_mtu")]
    pub mtu: u32,
    /// 802.1Q tag on the outer frame.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vlan: Option<u16>,
    /// UDP destination port (VXLAN's 4789 by default).
    #[serde(default = "default_udp_port")]
    pub udp_port: u16,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

fn default_mtu() -> u32 {
    DEFAULT_TARGET_MTU
}

fn default_udp_port() -> u16 {
    dataplane::wire::vxlan::PORT
}

impl Target {
    /// The collector addresses, whichever key gave them.
    pub fn all_addresses(&self) -> Vec<Ipv4Addr> {
        self.address.iter().chain(&self.addresses).copied().collect()
    }
}

/// Optional traffic a filter lets through, named as in AWS.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum NetworkService {
    #[serde(rename = "amazon-dns")]
    AmazonDns,
}

/// `[[filter]]`: ordered rules per direction.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Filter {
    pub id: String,
    #[serde(default)]
    pub network_services: Vec<NetworkService>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, rename = "ingress_rule", skip_serializing_if = "Vec::is_empty")]
    pub ingress_rules: Vec<FilterRule>,
    #[serde(default, rename = "egress_rule", skip_serializing_if = "Vec::is_empty")]
    pub egress_rules: Vec<FilterRule>,
}

/// A rule's verdict and an inclusive port range: the dataplane's types, whose serde shapes are
/// the file's (`action = "accept"`, `{ from, to }`).
pub use dataplane::types::{PortRange, RuleAction};

/// `[[filter.ingress_rule]]` / `[[filter.egress_rule]]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FilterRule {
    /// The rule's id for the control API (AWS's TrafficMirrorFilterRuleId); assigned when
    /// omitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub rule_number: u32,
    pub action: RuleAction,
    /// IANA protocol number; absent: every protocol.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<u8>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_cidr: Option<IpNet>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destination_cidr: Option<IpNet>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_port: Option<PortRange>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destination_port: Option<PortRange>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// `[[session]]`: links a source, a target and a filter.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Session {
    pub id: String,
    pub source: String,
    pub target: String,
    pub filter: String,
    pub session_number: u32,
    /// VXLAN network identifier; assigned (unique) when omitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub virtual_network_id: Option<u32>,
    /// Bytes of each original to mirror; absent: whole frames (8500 for load balancers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub packet_length: Option<u32>,
    #[serde(default = "yes")]
    pub enabled: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

fn yes() -> bool {
    true
}

/// A MAC address, written `02:00:00:00:00:01`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Mac(pub [u8; 6]);

impl std::str::FromStr for Mac {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let mut b = [0u8; 6];
        let parts: Vec<&str> = s.split([':', '-']).collect();
        if parts.len() != 6 {
            return Err(format!("invalid MAC address {s:?}: expected six hex bytes like 02:00:00:00:00:01"));
        }
        for (i, p) in parts.iter().enumerate() {
            b[i] = u8::from_str_radix(p, 16)
                .ok()
                .filter(|_| p.len() == 2)
                .ok_or_else(|| format!("invalid MAC address {s:?}: {p:?} is not a hex byte"))?;
        }
        Ok(Mac(b))
    }
}

impl fmt::Display for Mac {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        let b = self.0;
        write!(f, "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}", b[0], b[1], b[2], b[3], b[4], b[5])
    }
}

impl fmt::Debug for Mac {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl Serialize for Mac {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Mac {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// One step of a path into the document.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Seg {
    Key(&'static str),
    Index(usize),
}

/// A validation problem: what is wrong, and where in the document.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    pub path: Vec<Seg>,
    pub message: String,
}

/// Why a configuration was refused; every problem, each with its line when known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// (file, line) of each problem, where known.
    pub problems: Vec<(Option<String>, Option<usize>, String)>,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        for (i, (file, line, msg)) in self.problems.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            match (file, line) {
                (Some(file), Some(line)) => write!(f, "{file}:{line}: {msg}")?,
                (Some(file), None) => write!(f, "{file}: {msg}")?,
                _ => write!(f, "{msg}")?,
            }
        }
        Ok(())
    }
}

impl std::error::Error for ConfigError {}

impl ConfigError {
    /// Problems found outside any file (an API request), located only by their text.
    pub fn from_problems(problems: Vec<Problem>) -> Self {
        ConfigError { problems: problems.into_iter().map(|p| (None, None, p.message)).collect() }
    }

    /// One problem, no location.
    pub fn msg(message: impl Into<String>) -> Self {
        ConfigError { problems: vec![(None, None, message.into())] }
    }
}

impl Config {
    /// Reads, parses and validates `path`, and assigns missing VNIs.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path)
            .map_err(|e| ConfigError { problems: vec![(Some(file.clone()), None, format!("cannot read: {e}"))] })?;
        Self::parse(&text, &file)
    }

    /// Parses and validates `text`, naming it `file` in errors.
    pub fn parse(text: &str, file: &str) -> Result<Config, ConfigError> {
        let mut cfg: Config = toml::from_str(text).map_err(|e| {
            let line = e.span().map(|s| line_of(text, s.start));
            ConfigError { problems: vec![(Some(file.to_owned()), line, e.message().trim().to_owned())] }
        })?;
        if let Err(problems) = cfg.validate() {
            let doc = toml_edit::Document::parse(text.to_owned()).ok();
            return Err(ConfigError {
                problems: problems
                    .into_iter()
                    .map(|p| {
                        let line = doc.as_ref().and_then(|d| span_of(d, &p.path)).map(|s| line_of(text, s));
                        (Some(file.to_owned()), line, p.message)
                    })
                    .collect(),
            });
        }
        cfg.assign_ids();
        Ok(cfg)
    }

    /// Checks every range and reference; returns all problems found.
    pub fn validate(&self) -> Result<(), Vec<Problem>> {
        let mut v = Validator { problems: Vec::new() };
        v.dataplane(&self.dataplane);
        v.control(&self.control);
        v.ports(self);
        v.links(self);
        v.sources(self);
        v.targets(self);
        v.filters(self);
        v.sessions(self);
        if v.problems.is_empty() { Ok(()) } else { Err(v.problems) }
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
            for (dir, rules) in [("ingress", &mut f.ingress_rules), ("egress", &mut f.egress_rules)] {
                for r in rules.iter_mut().filter(|r| r.id.is_none()) {
                    let mut salt = 0u32;
                    let id = loop {
                        let h = stable_hash(&format!("{}/{dir}/{}/{salt}", f.id, r.rule_number));
                        let h2 = stable_hash(&format!("{salt}/{}/{}/{dir}", r.rule_number, f.id));
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
                let mut vni = stable_hash(&s.id) % (dataplane::wire::vxlan::MAX_VNI + 1);
                while !used.insert(vni) {
                    vni = (vni + 1) % (dataplane::wire::vxlan::MAX_VNI + 1);
                }
                s.virtual_network_id = Some(vni);
            }
        }
    }

    /// Index of the port named `name`.
    pub fn port_index(&self, name: &str) -> Option<usize> {
        self.ports.iter().position(|p| p.name == name)
    }

    /// The link peer of each port, by index.
    pub fn peers(&self) -> Vec<Option<u16>> {
        let mut peers = vec![None; self.ports.len()];
        for l in &self.links {
            if let (Some(a), Some(b)) = (self.port_index(&l.ports[0]), self.port_index(&l.ports[1])) {
                peers[a] = Some(b as u16);
                peers[b] = Some(a as u16);
            }
        }
        peers
    }

    /// The session's packet length as the dataplane applies it (AWS's 8500 default for load
    /// balancers).
    pub fn effective_packet_length(&self, s: &Session) -> Option<u32> {
        let nlb = self.targets.iter().any(|t| t.id == s.target && t.kind == TargetType::NetworkLoadBalancer);
        s.packet_length.or(nlb.then_some(NLB_MAX_PACKET_LENGTH))
    }
}

/// FNV-1a: a fixed hash, so assigned VNIs do not change between builds.
fn stable_hash(s: &str) -> u32 {
    s.bytes().fold(0x811c_9dc5u32, |h, b| (h ^ u32::from(b)).wrapping_mul(0x0100_0193))
}

/// 1-based line of byte offset `at`.
fn line_of(text: &str, at: usize) -> usize {
    text[..at.min(text.len())].bytes().filter(|&b| b == b'\n').count() + 1
}

/// Start of the deepest element of `path` that the document has a span for.
fn span_of(doc: &toml_edit::Document<String>, path: &[Seg]) -> Option<usize> {
    let mut item = doc.as_item();
    let mut best = None;
    for seg in path {
        let next = match seg {
            Seg::Key(k) => item.get(k),
            Seg::Index(i) => item.get(*i),
        };
        let Some(next) = next else { break };
        item = next;
        if let Some(span) = item.span() {
            best = Some(span.start);
        }
    }
    best
}

struct Validator {
    problems: Vec<Problem>,
}

impl Validator {
    fn problem(&mut self, path: Vec<Seg>, message: String) {
        self.problems.push(Problem { path, message });
    }

    fn dataplane(&mut self, d: &Dataplane) {
        let at = |k| vec![Seg::Key("dataplane"), Seg::Key(k)];
        if d.workers == 0 || d.workers > MAX_WORKERS {
            self.problem(at("workers"), format!("[dataplane] workers = {}: must be 1-{MAX_WORKERS}", d.workers));
        }
        if !d.cores.is_empty() && d.cores.len() != d.workers {
            self.problem(at("cores"), format!("[dataplane] cores lists {} cores for {} workers", d.cores.len(), d.workers));
        }
        let max_burst = dataplane::dpdk::burst::MAX_BURST;
        if d.burst_size == 0 || d.burst_size > max_burst {
            self.problem(at("burst_size"), format!("[dataplane] burst_size = {}: must be 1-{max_burst}", d.burst_size));
        }
        for (k, n) in [("rx_desc", d.rx_desc), ("tx_desc", d.tx_desc)] {
            if n < 32 {
                self.problem(at(k), format!("[dataplane] {k} = {n}: must be at least 32"));
            }
        }
        if d.idle_sleep_us > 1_000_000 {
            self.problem(at("idle_sleep_us"), format!("[dataplane] idle_sleep_us = {}: at most 1000000", d.idle_sleep_us));
        }
    }

    fn control(&mut self, c: &Control) {
        let ok = u32::from_str_radix(c.socket_mode.trim_start_matches("0o"), 8).is_ok_and(|m| m <= 0o777);
        if !ok {
            self.problem(vec![Seg::Key("control"), Seg::Key("socket_mode")], format!(
                "[control] socket_mode = {:?}: expected octal permissions such as \"0600\"", c.socket_mode
            ));
        }
        if c.socket.is_empty() {
            self.problem(vec![Seg::Key("control"), Seg::Key("socket")], "[control] socket is empty".into());
        }
    }

    fn ports(&mut self, c: &Config) {
        let mut names = HashMap::new();
        let mut devices = HashMap::new();
        for (i, p) in c.ports.iter().enumerate() {
            let at = |k| vec![Seg::Key("port"), Seg::Index(i), Seg::Key(k)];
            if p.name.is_empty() {
                self.problem(at("name"), format!("[[port]] {}: name is empty", i + 1));
            } else if let Some(first) = names.insert(p.name.as_str(), i) {
                self.problem(at("name"), format!("[[port]] name {:?} is used twice (ports {} and {})", p.name, first + 1, i + 1));
            }
            let dev = device_name(&p.device);
            if dev.is_empty() {
                self.problem(at("device"), format!("port {:?}: device is empty", p.name));
            } else if let Some(first) = devices.insert(dev.to_owned(), i) {
                self.problem(at("device"), format!("port {:?}: device {dev:?} is already port {:?}", p.name, c.ports[first].name));
            }
            if let Some(mtu) = p.mtu {
                if !(68..=9600).contains(&mtu) {
                    self.problem(at("mtu"), format!("port {:?}: mtu = {mtu}: must be 68-9600", p.name));
                }
            }
        }
        if c.ports.is_empty() {
            self.problem(vec![], "no [[port]] defined: traffic-mirror needs at least one port".into());
        }
    }

    fn links(&mut self, c: &Config) {
        let mut linked: HashMap<&str, usize> = HashMap::new();
        for (i, l) in c.links.iter().enumerate() {
            let at = vec![Seg::Key("link"), Seg::Index(i), Seg::Key("ports")];
            if l.ports.len() != 2 {
                self.problem(at.clone(), format!("[[link]] {}: ports must name exactly two ports, not {}", i + 1, l.ports.len()));
                continue;
            }
            if l.ports[0] == l.ports[1] {
                self.problem(at.clone(), format!("[[link]] {}: links port {:?} to itself", i + 1, l.ports[0]));
            }
            for (j, name) in l.ports.iter().enumerate() {
                let mut at = at.clone();
                at.push(Seg::Index(j));
                if c.port_index(name).is_none() {
                    self.problem(at, format!("[[link]] {}: port {name:?} is not defined", i + 1));
                } else if let Some(first) = linked.insert(name, i) {
                    if first != i {
                        self.problem(at, format!("port {name:?} is in two links ({} and {})", first + 1, i + 1));
                    }
                }
            }
        }
    }

    fn sources(&mut self, c: &Config) {
        let mut ids = HashSet::new();
        let mut per_port: HashMap<(&str, Option<Mac>), &str> = HashMap::new();
        for (i, s) in c.sources.iter().enumerate() {
            let at = |k| vec![Seg::Key("source"), Seg::Index(i), Seg::Key(k)];
            if s.id.is_empty() {
                self.problem(at("id"), format!("[[source]] {}: id is empty", i + 1));
            } else if !ids.insert(s.id.as_str()) {
                self.problem(at("id"), format!("source id {:?} is used twice", s.id));
            }
            if c.port_index(&s.port).is_none() {
                self.problem(at("port"), format!("source {:?}: port {:?} is not defined", s.id, s.port));
            }
            if let Some(other) = per_port.insert((s.port.as_str(), s.mac), s.id.as_str()) {
                let what = s.mac.map_or("without a mac".to_owned(), |m| format!("with mac {m}"));
                self.problem(at(if s.mac.is_some() { "mac" } else { "port" }), format!(
                    "source {:?}: port {:?} already has a source {what} ({other:?}); a frame must belong to one source",
                    s.id, s.port
                ));
            }
        }
    }

    fn targets(&mut self, c: &Config) {
        let mut ids = HashSet::new();
        if c.targets.len() > c.quotas.targets {
            self.problem(vec![Seg::Key("target")], format!("{} targets exceed the quota of {} ([quotas] targets)", c.targets.len(), c.quotas.targets));
        }
        for (i, t) in c.targets.iter().enumerate() {
            let at = |k| vec![Seg::Key("target"), Seg::Index(i), Seg::Key(k)];
            if t.id.is_empty() {
                self.problem(at("id"), format!("[[target]] {}: id is empty", i + 1));
            } else if !ids.insert(t.id.as_str()) {
                self.problem(at("id"), format!("target id {:?} is used twice", t.id));
            }
            match (t.kind, t.address.is_some(), t.addresses.len()) {
                (TargetType::NetworkInterface, true, 0) => {}
                (TargetType::NetworkInterface, _, _) => self.problem(
                    at("address"),
                    format!("target {:?}: a network-interface target has exactly one address (address = \"...\")", t.id),
                ),
                (TargetType::NetworkLoadBalancer, false, n) if n > 0 => {}
                (TargetType::NetworkLoadBalancer, _, _) => self.problem(
                    at("addresses"),
                    format!("target {:?}: a network-load-balancer target lists its collectors in addresses = [...]", t.id),
                ),
            }
            let port = c.ports.iter().find(|p| p.name == t.port);
            if port.is_none() {
                self.problem(at("port"), format!("target {:?}: port {:?} is not defined", t.id, t.port));
            }
            match (t.next_hop_mac, t.next_hop) {
                (Some(_), None) => {}
                (None, Some(_)) => {
                    if port.is_some_and(|p| p.ipv4.is_none()) {
                        self.problem(at("next_hop"), format!(
                            "target {:?}: resolving next_hop by ARP needs an ipv4 on port {:?} (ARP's sender address)", t.id, t.port
                        ));
                    }
                    if c.links.iter().any(|l| l.ports.contains(&t.port)) {
                        self.problem(at("next_hop"), format!(
                            "target {:?}: port {:?} is in a link, whose frames pass through untouched: ARP runs only on mirror ports; give next_hop_mac", t.id, t.port
                        ));
                    }
                }
                _ => self.problem(at("next_hop_mac"), format!(
                    "target {:?}: give exactly one of next_hop_mac (a MAC) and next_hop (an IPv4 address resolved by ARP)", t.id
                )),
            }
            let min_mtu = dataplane::encap::MTU_OVERHEAD as u32 + 14;
            if !(min_mtu..=65535).contains(&t.mtu) {
                self.problem(at("mtu"), format!("target {:?}: mtu = {}: must be {min_mtu}-65535", t.id, t.mtu));
            }
            if let Some(vlan) = t.vlan {
                if !(1..=4094).contains(&vlan) {
                    self.problem(at("vlan"), format!("target {:?}: vlan = {vlan}: must be 1-4094", t.id));
                }
            }
            if t.udp_port == 0 {
                self.problem(at("udp_port"), format!("target {:?}: udp_port must be 1-65535", t.id));
            }
        }
    }

    fn filters(&mut self, c: &Config) {
        let mut ids = HashSet::new();
        let mut rule_ids = HashSet::new();
        if c.filters.len() > c.quotas.filters {
            self.problem(vec![Seg::Key("filter")], format!("{} filters exceed the quota of {} ([quotas] filters)", c.filters.len(), c.quotas.filters));
        }
        for (i, f) in c.filters.iter().enumerate() {
            if f.id.is_empty() {
                self.problem(vec![Seg::Key("filter"), Seg::Index(i), Seg::Key("id")], format!("[[filter]] {}: id is empty", i + 1));
            } else if !ids.insert(f.id.as_str()) {
                self.problem(vec![Seg::Key("filter"), Seg::Index(i), Seg::Key("id")], format!("filter id {:?} is used twice", f.id));
            }
            for (key, rules) in [("ingress_rule", &f.ingress_rules), ("egress_rule", &f.egress_rules)] {
                let base = vec![Seg::Key("filter"), Seg::Index(i), Seg::Key(key)];
                if rules.len() > c.quotas.rules_per_filter {
                    self.problem(base.clone(), format!(
                        "filter {:?}: {} {key}s exceed the quota of {} per direction ([quotas] rules_per_filter)",
                        f.id, rules.len(), c.quotas.rules_per_filter
                    ));
                }
                let mut numbers = HashSet::new();
                for (j, r) in rules.iter().enumerate() {
                    let mut rule_at = base.clone();
                    rule_at.push(Seg::Index(j));
                    let name = format!("filter {:?} {key} {}", f.id, r.rule_number);
                    for p in rule_problems(r, &name) {
                        let mut path = rule_at.clone();
                        path.push(Seg::Key(p.0));
                        self.problem(path, p.1);
                    }
                    if let Some(id) = &r.id {
                        if !rule_ids.insert(id.as_str()) {
                            let mut path = rule_at.clone();
                            path.push(Seg::Key("id"));
                            self.problem(path, format!("{name}: rule id {id:?} is used twice"));
                        }
                    }
                    if !numbers.insert(r.rule_number) {
                        let mut path = rule_at.clone();
                        path.push(Seg::Key("rule_number"));
                        self.problem(path, format!("{name}: rule_number is used twice in this direction"));
                    }
                }
            }
        }
    }

    fn sessions(&mut self, c: &Config) {
        let mut ids = HashSet::new();
        let mut numbers: HashSet<(&str, u32)> = HashSet::new();
        let mut per_source: HashMap<&str, usize> = HashMap::new();
        let mut vnis: HashMap<u32, &str> = HashMap::new();
        if c.sessions.len() > c.quotas.sessions {
            self.problem(vec![Seg::Key("session")], format!("{} sessions exceed the quota of {} ([quotas] sessions)", c.sessions.len(), c.quotas.sessions));
        }
        for (i, s) in c.sessions.iter().enumerate() {
            let at = |k| vec![Seg::Key("session"), Seg::Index(i), Seg::Key(k)];
            if s.id.is_empty() {
                self.problem(at("id"), format!("[[session]] {}: id is empty", i + 1));
            } else if !ids.insert(s.id.as_str()) {
                self.problem(at("id"), format!("session id {:?} is used twice", s.id));
            }
            let source = c.sources.iter().find(|x| x.id == s.source);
            let target = c.targets.iter().find(|x| x.id == s.target);
            if source.is_none() {
                self.problem(at("source"), format!("session {:?}: source {:?} is not defined", s.id, s.source));
            }
            if target.is_none() {
                self.problem(at("target"), format!("session {:?}: target {:?} is not defined", s.id, s.target));
            }
            if !c.filters.iter().any(|x| x.id == s.filter) {
                self.problem(at("filter"), format!("session {:?}: filter {:?} is not defined", s.id, s.filter));
            }
            if !(1..=MAX_NUMBER).contains(&s.session_number) {
                self.problem(at("session_number"), format!("session {:?}: session_number = {}: must be 1-{MAX_NUMBER}", s.id, s.session_number));
            } else if !numbers.insert((s.source.as_str(), s.session_number)) {
                self.problem(at("session_number"), format!(
                    "session {:?}: session_number {} is already used by another session of source {:?}",
                    s.id, s.session_number, s.source
                ));
            }
            let count = per_source.entry(s.source.as_str()).or_default();
            *count += 1;
            if *count == c.quotas.sessions_per_source + 1 {
                self.problem(at("source"), format!(
                    "source {:?} has more than {} sessions ([quotas] sessions_per_source)",
                    s.source, c.quotas.sessions_per_source
                ));
            }
            if let Some(vni) = s.virtual_network_id {
                if vni > dataplane::wire::vxlan::MAX_VNI {
                    self.problem(at("virtual_network_id"), format!("session {:?}: virtual_network_id = {vni}: must be 0-16777215", s.id));
                } else if let Some(other) = vnis.insert(vni, s.id.as_str()) {
                    // AWS allows shared VNIs; a collector then cannot tell sessions apart.
                    log::debug!("sessions {other:?} and {:?} share VNI {vni}", s.id);
                }
            }
            if let (Some(len), Some(t)) = (s.packet_length, target) {
                let max = if t.kind == TargetType::NetworkLoadBalancer { NLB_MAX_PACKET_LENGTH } else { 65535 };
                if !(1..=max).contains(&len) {
                    self.problem(at("packet_length"), format!("session {:?}: packet_length = {len}: must be 1-{max} for target {:?}", s.id, t.id));
                }
            }
            if let (Some(src), Some(t)) = (source, target) {
                let port_ip = c.ports.iter().find(|p| p.name == t.port).and_then(|p| p.ipv4);
                if src.ipv4.is_none() && port_ip.is_none() {
                    self.problem(at("source"), format!(
                        "session {:?}: copies need an outer source address: set ipv4 on source {:?} or on port {:?}",
                        s.id, src.id, t.port
                    ));
                }
            }
        }
    }
}

/// Problems with one rule: (key, message).
pub fn rule_problems(r: &FilterRule, name: &str) -> Vec<(&'static str, String)> {
    let mut out = Vec::new();
    if !(1..=MAX_NUMBER).contains(&r.rule_number) {
        out.push(("rule_number", format!("{name}: rule_number must be 1-{MAX_NUMBER}")));
    }
    if let (Some(s), Some(d)) = (r.source_cidr, r.destination_cidr) {
        if matches!(s, IpNet::V4(_)) != matches!(d, IpNet::V4(_)) {
            out.push(("destination_cidr", format!("{name}: source_cidr {s} and destination_cidr {d} are of different address families")));
        }
    }
    for (key, range) in [("source_port", r.source_port), ("destination_port", r.destination_port)] {
        let Some(range) = range else { continue };
        if range.from > range.to {
            out.push((key, format!("{name}: {key} from = {} is greater than to = {}", range.from, range.to)));
        }
        if !matches!(r.protocol, Some(6) | Some(17)) {
            out.push((key, format!("{name}: {key} needs protocol = 6 (TCP) or 17 (UDP)")));
        }
    }
    out
}

/// The name DPDK gives the device: the vdev name before its arguments, or the PCI address.
pub fn device_name(device: &str) -> &str {
    device.split(',').next().unwrap_or("").trim()
}

/// True when `device` is a PCI address (`0000:00:05.0` or `00:05.0`) rather than a vdev.
pub fn is_pci(device: &str) -> bool {
    let name = device_name(device);
    let parts: Vec<&str> = name.split([':', '.']).collect();
    (parts.len() == 3 || parts.len() == 4) && parts.iter().all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_hexdigit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
[dataplane]
workers = 1

[[port]]
name = "host"
device = "net_pcap0,rx_pcap=a.pcap,tx_pcap=b.pcap"

[[port]]
name = "uplink"
device = "net_pcap1,rx_pcap=c.pcap,tx_pcap=d.pcap"

[[port]]
name = "mirror"
device = "net_pcap2,tx_pcap=m.pcap"
ipv4 = "192.0.2.1"

[[link]]
ports = ["host", "uplink"]

[[source]]
id = "eni-web"
port = "host"

[[target]]
id = "tmt-ids"
type = "network-interface"
address = "192.0.2.10"
next_hop_mac = "02:00:00:00:00:20"
port = "mirror"

[[filter]]
id = "tmf-all"
[[filter.ingress_rule]]
rule_number = 100
action = "accept"
[[filter.egress_rule]]
rule_number = 100
action = "accept"
protocol = 6
destination_port = { from = 443, to = 443 }

[[session]]
id = "tms-1"
source = "eni-web"
target = "tmt-ids"
filter = "tmf-all"
session_number = 1
"#;

    fn errors(text: &str) -> String {
        Config::parse(text, "t.toml").unwrap_err().to_string()
    }

    #[test]
    fn the_example_is_valid_and_gets_a_vni() {
        let c = Config::parse(GOOD, "t.toml").unwrap();
        let vni = c.sessions[0].virtual_network_id.unwrap();
        assert!(vni <= 0xff_ffff);
        assert_eq!(Config::parse(GOOD, "t.toml").unwrap().sessions[0].virtual_network_id, Some(vni), "stable");
        assert_eq!(c.peers(), vec![Some(1), Some(0), None]);
    }

    #[test]
    fn unknown_keys_name_key_and_line() {
        let e = errors(&GOOD.replace("device = \"net_pcap2", "devcie = \"net_pcap2"));
        assert!(e.starts_with("t.toml:15: unknown field `devcie`"), "{e}");
    }

    #[test]
    fn missing_port_in_link_names_line() {
        let e = errors(&GOOD.replace("ports = [\"host\", \"uplink\"]", "ports = [\"host\", \"uplnk\"]"));
        assert_eq!(e, "t.toml:19: [[link]] 1: port \"uplnk\" is not defined");
    }

    #[test]
    fn port_in_two_links_and_duplicate_names() {
        let text = GOOD.replace("[[source]]", "[[link]]\nports = [\"uplink\", \"mirror\"]\n\n[[source]]")
            .replace("name = \"mirror\"", "name = \"host\"");
        let e = errors(&text);
        assert!(e.contains("t.toml:14: [[port]] name \"host\" is used twice (ports 1 and 3)"), "{e}");
        assert!(e.contains("t.toml:22: port \"uplink\" is in two links (1 and 2)"), "{e}");
    }

    #[test]
    fn rule_ranges_and_references() {
        let text = GOOD
            .replace("destination_port = { from = 443, to = 443 }", "destination_port = { from = 500, to = 400 }")
            .replace("protocol = 6\n", "protocol = 1\n")
            .replace("session_number = 1", "session_number = 40000\nvirtual_network_id = 16777216");
        let e = errors(&text);
        assert!(e.contains("destination_port from = 500 is greater than to = 400"), "{e}");
        assert!(e.contains("destination_port needs protocol = 6 (TCP) or 17 (UDP)"), "{e}");
        assert!(e.contains("session_number = 40000: must be 1-32766"), "{e}");
        assert!(e.contains("virtual_network_id = 16777216: must be 0-16777215"), "{e}");
    }

    #[test]
    fn cidr_syntax_and_family() {
        let e = errors(&GOOD.replace("action = \"accept\"\nprotocol = 6", "action = \"accept\"\nsource_cidr = \"10.0.0.0/33\"\nprotocol = 6"));
        assert!(e.starts_with("t.toml:40: invalid IP address syntax"), "{e}");
        let e = errors(&GOOD.replace(
            "action = \"accept\"\nprotocol = 6",
            "action = \"accept\"\nsource_cidr = \"10.0.0.0/8\"\ndestination_cidr = \"2001:db8::/32\"\nprotocol = 6",
        ));
        assert!(e.contains("different address families"), "{e}");
    }

    #[test]
    fn fourth_session_on_a_source_is_refused() {
        let mut text = GOOD.to_owned();
        for n in 2..=4 {
            text.push_str(&format!(
                "\n[[session]]\nid = \"tms-{n}\"\nsource = \"eni-web\"\ntarget = \"tmt-ids\"\nfilter = \"tmf-all\"\nsession_number = {n}\n"
            ));
        }
        let e = errors(&text);
        assert!(e.contains("source \"eni-web\" has more than 3 sessions"), "{e}");
        assert_eq!(e.lines().count(), 1, "{e}");
    }

    #[test]
    fn outer_source_address_is_required() {
        let e = errors(&GOOD.replace("ipv4 = \"192.0.2.1\"\n", ""));
        assert!(e.contains("set ipv4 on source \"eni-web\" or on port \"mirror\""), "{e}");
    }

    #[test]
    fn nlb_packet_length_limit() {
        let text = GOOD
            .replace("type = \"network-interface\"\naddress = \"192.0.2.10\"", "type = \"network-load-balancer\"\naddresses = [\"192.0.2.10\", \"192.0.2.11\"]")
            .replace("session_number = 1", "session_number = 1\npacket_length = 9000");
        assert!(errors(&text).contains("packet_length = 9000: must be 1-8500"));
        let ok = Config::parse(&text.replace("packet_length = 9000", ""), "t").unwrap();
        assert_eq!(ok.effective_packet_length(&ok.sessions[0]), Some(8500));
    }

    #[test]
    fn macs_parse_and_print() {
        let m: Mac = "02:00:0a:FF:00:01".parse().unwrap();
        assert_eq!(m.to_string(), "02:00:0a:ff:00:01");
        assert!("02:00:0a:ff:00".parse::<Mac>().is_err());
        assert!("02:00:0a:ff:00:1".parse::<Mac>().is_err());
    }

    #[test]
    fn pci_or_vdev() {
        assert!(is_pci("0000:00:05.0"));
        assert!(is_pci("00:05.0"));
        assert!(!is_pci("net_pcap0,rx_pcap=x"));
        assert_eq!(device_name("net_pcap0,rx_pcap=x"), "net_pcap0");
    }

    #[test]
    fn export_round_trips() {
        let c = Config::parse(GOOD, "t.toml").unwrap();
        let text = toml::to_string(&c).unwrap();
        assert_eq!(Config::parse(&text, "again").unwrap(), c);
    }
}
