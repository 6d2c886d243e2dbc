//! The configuration's schema: what the TOML file holds, as plain serde types.
//!
//! The resources are AWS's and keep its model: an inventory of network interfaces, load
//! balancers and gateway load balancer endpoints (which AWS keeps outside Traffic Mirroring),
//! then targets, filters and sessions that refer to them by id. Everything else describes the
//! appliance: its DPDK ports and links, the workers, the control API.

use super::resources::{Resource, Resources};
use ipnet::IpNet;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// Most workers: well past any core count this runs on.
pub const MAX_WORKERS: usize = 64;
/// AWS's bounds on rule and session numbers.
pub const MAX_NUMBER: u32 = 32766;
/// Largest packet length for a load-balancer target, and its default (AWS).
pub const NLB_MAX_PACKET_LENGTH: u32 = 8500;
/// Default target MTU: an ENA interface's jumbo MTU, as AWS targets have.
pub const DEFAULT_TARGET_MTU: u32 = 9001;
/// Where the control API listens when the config does not say.
pub const DEFAULT_SOCKET: &str = "/run/traffic-mirror.sock";
/// The account that owns every resource unless `[vpc] owner_id` says otherwise.
pub const DEFAULT_OWNER_ID: &str = "000000000000";

/// Tags (key/value pairs), as AWS attaches them to every resource; ordered by key.
pub type Tags = BTreeMap<String, String>;

/// The whole configuration.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub dataplane: Dataplane,
    #[serde(default, skip_serializing_if = "Vpc::is_default")]
    pub vpc: Vpc,
    #[serde(default)]
    pub quotas: Quotas,
    #[serde(default)]
    pub control: Control,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metrics: Option<Metrics>,
    /// The EC2 Query API for the AWS CLI and SDKs (off when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api: Option<crate::query::ApiConfig>,
    #[serde(default, rename = "port", skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<Port>,
    #[serde(default, rename = "link", skip_serializing_if = "Vec::is_empty")]
    pub links: Vec<Link>,
    #[serde(default, rename = "network_interface", skip_serializing_if = "Resources::is_empty")]
    pub network_interfaces: Resources<NetworkInterface>,
    #[serde(default, rename = "load_balancer", skip_serializing_if = "Resources::is_empty")]
    pub load_balancers: Resources<LoadBalancer>,
    #[serde(default, rename = "gateway_load_balancer_endpoint", skip_serializing_if = "Resources::is_empty")]
    pub gateway_load_balancer_endpoints: Resources<GatewayLoadBalancerEndpoint>,
    #[serde(default, rename = "target", skip_serializing_if = "Resources::is_empty")]
    pub targets: Resources<Target>,
    #[serde(default, rename = "filter", skip_serializing_if = "Resources::is_empty")]
    pub filters: Resources<Filter>,
    #[serde(default, rename = "session", skip_serializing_if = "Resources::is_empty")]
    pub sessions: Resources<Session>,
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
    /// Let `dpdk-pdump` attach and capture any port and queue. Needs hugepages, and costs the
    /// workers their mempool caches: DPDK refuses secondary processes once a thread has
    /// registered for an lcore id, so with this on the workers run unregistered.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub pdump: bool,
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
            pdump: false,
        }
    }
}

/// `[vpc]`: facts about the monitored network.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Vpc {
    /// DNS resolvers besides AWS's 169.254.169.253 and fd00:ec2::253 whose traffic only
    /// `amazon-dns` filters mirror (e.g. the VPC's base address + 2).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub resolvers: Vec<IpAddr>,
    /// The account id the API shows as every resource's `OwnerId`.
    pub owner_id: String,
}

impl Default for Vpc {
    fn default() -> Self {
        Vpc { resolvers: Vec::new(), owner_id: DEFAULT_OWNER_ID.into() }
    }
}

impl Vpc {
    fn is_default(&self) -> bool {
        *self == Vpc::default()
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

/// `[control]`: the control API's Unix socket.
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
    pub listen: SocketAddr,
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
    /// The port's own address: outer source of copies whose source has none, ARP's sender.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ipv4: Option<Ipv4Addr>,
    /// Its IPv6 address: outer source of IPv6 copies whose source has none, Neighbor
    /// Discovery's sender (and answered for).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ipv6: Option<Ipv6Addr>,
    /// Frame MTU to set on the device.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mtu: Option<u16>,
    /// Send long copies out of this port by reference (their headers in one mbuf, the
    /// original's bytes attached behind) rather than copying the bytes. Default: where the
    /// device says it sends chained mbufs (NICs, net_tap).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub copy_by_reference: Option<bool>,
}

/// `[[link]]`: two ports forwarded both ways.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Link {
    pub ports: Vec<String>,
}

/// `[[network_interface]]`: a host the appliance knows, as AWS knows an ENI. A monitored one
/// is a session's source; a collector is a target's destination.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetworkInterface {
    /// `eni-...`.
    pub id: String,
    /// The port its frames cross (a source) or that copies to it leave by (a collector).
    pub port: String,
    /// Its MAC: as a source, only its frames (source MAC when received, destination MAC when
    /// sent) are its own, which tells hosts on a shared port apart.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mac: Option<Mac>,
    /// Its primary address: the outer source of its copies as a source (as AWS uses the
    /// ENI's), the address copies go to as a collector.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ipv4: Option<Ipv4Addr>,
    /// Its IPv6 address: the outer source of its IPv6 copies as a source; as a collector
    /// without `ipv4`, where copies go, with an outer IPv6 header.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ipv6: Option<Ipv6Addr>,
    /// MAC of the next hop towards it...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_hop_mac: Option<Mac>,
    /// ...or the next hop's address, resolved by ARP or Neighbor Discovery (neither: its own
    /// address).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_hop: Option<IpAddr>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Tags::is_empty")]
    pub tags: Tags,
}

/// How copies to a collector reach it through the mirror port.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum NextHop {
    /// A given MAC.
    Mac(Mac),
    /// An address resolved on the mirror port, by ARP (IPv4) or Neighbor Discovery (IPv6):
    /// the one given, else the collector's own.
    Address(IpAddr),
}

impl NextHop {
    /// The next hop of a collector at `address`, from its `next_hop_mac` and `next_hop` keys.
    pub fn of(mac: Option<Mac>, ip: Option<IpAddr>, address: IpAddr) -> NextHop {
        match (mac, ip) {
            (Some(m), _) => NextHop::Mac(m),
            (None, ip) => NextHop::Address(ip.unwrap_or(address)),
        }
    }
}

/// `[[load_balancer]]`: collectors behind one ARN, as a Network Load Balancer fronts them.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoadBalancer {
    /// `arn:aws:elasticloadbalancing:...:loadbalancer/net/...`.
    pub arn: String,
    /// The mirror port copies leave by.
    pub port: String,
    /// The collectors, IPv4 or IPv6; each flow always goes to the same one.
    pub addresses: Vec<IpAddr>,
    /// MAC of the next hop towards it...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_hop_mac: Option<Mac>,
    /// ...or the next hop's address, resolved by ARP or Neighbor Discovery (neither: each
    /// collector's own address).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_hop: Option<IpAddr>,
    /// How its collectors are health-checked (absent: AWS's defaults).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health_check: Option<HealthCheck>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Tags::is_empty")]
    pub tags: Tags,
}

/// A load balancer's health check, as a Network Load Balancer's target group has one:
/// `health_check = { protocol = "tcp", port = 9000, interval = 30, healthy_threshold = 3,
/// unhealthy_threshold = 3 }`. What is omitted takes AWS's default (see [`crate::health`]).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HealthCheck {
    /// `tcp` (a handshake) or `icmp` (an echo); default `tcp`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<HealthCheckProtocol>,
    /// The TCP port; default the traffic port (the target's UDP port, 4789).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    /// Seconds between checks of a collector (1-300; default 30).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<u32>,
    /// Successes in a row that make an unhealthy collector healthy (2-10; default 3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub healthy_threshold: Option<u32>,
    /// Failures in a row that make a collector unhealthy (2-10; default 3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unhealthy_threshold: Option<u32>,
}

/// What a health check sends. AWS spells it in capitals (`TCP`), the file in small letters;
/// both are read.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HealthCheckProtocol {
    /// A SYN to the check's port: a SYN-ACK is healthy, a RST or silence is not.
    #[default]
    #[serde(alias = "TCP")]
    Tcp,
    /// An ICMP echo request: a reply is healthy.
    #[serde(alias = "ICMP")]
    Icmp,
}

impl HealthCheckProtocol {
    /// "tcp" or "icmp".
    pub fn name(self) -> &'static str {
        match self {
            HealthCheckProtocol::Tcp => "tcp",
            HealthCheckProtocol::Icmp => "icmp",
        }
    }
}

/// `[[gateway_load_balancer_endpoint]]`: an endpoint that receives copies like a network
/// interface.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GatewayLoadBalancerEndpoint {
    /// `vpce-...`.
    pub id: String,
    /// The mirror port copies leave by.
    pub port: String,
    /// The endpoint's address: IPv4...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ipv4: Option<Ipv4Addr>,
    /// ...or IPv6 (exactly one of the two).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ipv6: Option<Ipv6Addr>,
    /// MAC of the next hop towards it...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_hop_mac: Option<Mac>,
    /// ...or the next hop's address, resolved by ARP or Neighbor Discovery (neither: its own
    /// address).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_hop: Option<IpAddr>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Tags::is_empty")]
    pub tags: Tags,
}

/// A target's kind, named as in AWS.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TargetType {
    NetworkInterface,
    NetworkLoadBalancer,
    GatewayLoadBalancerEndpoint,
}

impl TargetType {
    /// AWS's name for it.
    pub fn name(self) -> &'static str {
        match self {
            TargetType::NetworkInterface => "network-interface",
            TargetType::NetworkLoadBalancer => "network-load-balancer",
            TargetType::GatewayLoadBalancerEndpoint => "gateway-load-balancer-endpoint",
        }
    }

    /// The `[[target]]` key that names a destination of this type.
    pub fn key(self) -> &'static str {
        match self {
            TargetType::NetworkInterface => "network_interface_id",
            TargetType::NetworkLoadBalancer => "network_load_balancer_arn",
            TargetType::GatewayLoadBalancerEndpoint => "gateway_load_balancer_endpoint_id",
        }
    }
}

/// `[[target]]`: where copies go, by the identity of what receives them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Target {
    /// `tmt-...`.
    pub id: String,
    /// Exactly one of these three names the destination.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network_interface_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network_load_balancer_arn: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gateway_load_balancer_endpoint_id: Option<String>,
    /// Largest outer IP packet: copies are cut to fit.
    #[serde(default = "default_mtu")]
    pub mtu: u32,
    /// 802.1Q tag on the outer frame.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vlan: Option<u16>,
    /// UDP destination port (VXLAN's 4789 by default).
    #[serde(default = "default_udp_port")]
    pub udp_port: u16,
    /// Outer IPv4 TTL and IPv6 hop limit, 1-255 (AWS's 255 by default).
    #[serde(default = "default_ttl", skip_serializing_if = "is_default_ttl")]
    pub ttl: u8,
    /// The outer IPv4 DF flag (clear by default, as AWS sends copies).
    #[serde(default, skip_serializing_if = "is_false")]
    pub dont_fragment: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Tags::is_empty")]
    pub tags: Tags,
}

impl Target {
    /// A target of `kind` receiving at `destination` (an id or ARN), with the defaults.
    pub fn new(id: &str, kind: TargetType, destination: &str) -> Self {
        let mut t = Target {
            id: id.into(),
            network_interface_id: None,
            network_load_balancer_arn: None,
            gateway_load_balancer_endpoint_id: None,
            mtu: DEFAULT_TARGET_MTU,
            vlan: None,
            udp_port: default_udp_port(),
            ttl: default_ttl(),
            dont_fragment: false,
            description: None,
            tags: Tags::new(),
        };
        *t.slot(kind) = Some(destination.into());
        t
    }

    /// The kind and id of its destination, when exactly one is given.
    pub fn destination(&self) -> Option<(TargetType, &str)> {
        match (&self.network_interface_id, &self.network_load_balancer_arn, &self.gateway_load_balancer_endpoint_id) {
            (Some(id), None, None) => Some((TargetType::NetworkInterface, id)),
            (None, Some(arn), None) => Some((TargetType::NetworkLoadBalancer, arn)),
            (None, None, Some(id)) => Some((TargetType::GatewayLoadBalancerEndpoint, id)),
            _ => None,
        }
    }

    /// The kind, when the destination is given once.
    pub fn kind(&self) -> Option<TargetType> {
        self.destination().map(|(k, _)| k)
    }

    fn slot(&mut self, kind: TargetType) -> &mut Option<String> {
        match kind {
            TargetType::NetworkInterface => &mut self.network_interface_id,
            TargetType::NetworkLoadBalancer => &mut self.network_load_balancer_arn,
            TargetType::GatewayLoadBalancerEndpoint => &mut self.gateway_load_balancer_endpoint_id,
        }
    }
}

fn default_mtu() -> u32 {
    DEFAULT_TARGET_MTU
}

fn default_udp_port() -> u16 {
    dataplane::wire::vxlan::PORT
}

fn default_ttl() -> u8 {
    dataplane::encap::DEFAULT_TTL
}

fn is_default_ttl(ttl: &u8) -> bool {
    *ttl == default_ttl()
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// Optional traffic a filter lets through, named as in AWS.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum NetworkService {
    #[serde(rename = "amazon-dns")]
    AmazonDns,
}

/// `[[filter]]`: ordered rules per direction.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Filter {
    /// `tmf-...`.
    pub id: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub network_services: Vec<NetworkService>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Tags::is_empty")]
    pub tags: Tags,
    #[serde(default, rename = "ingress_rule", skip_serializing_if = "Vec::is_empty")]
    pub ingress_rules: Vec<FilterRule>,
    #[serde(default, rename = "egress_rule", skip_serializing_if = "Vec::is_empty")]
    pub egress_rules: Vec<FilterRule>,
}

impl Filter {
    /// The rules of one direction.
    pub fn rules(&self, dir: Direction) -> &Vec<FilterRule> {
        match dir {
            Direction::Ingress => &self.ingress_rules,
            Direction::Egress => &self.egress_rules,
        }
    }

    /// The rules of one direction, to change.
    pub fn rules_mut(&mut self, dir: Direction) -> &mut Vec<FilterRule> {
        match dir {
            Direction::Ingress => &mut self.ingress_rules,
            Direction::Egress => &mut self.egress_rules,
        }
    }
}

/// Which way traffic goes, a rule's verdict and an inclusive port range: the dataplane's types,
/// whose serde shapes are the file's and the API's (`"ingress"`, `"accept"`, `{ from, to }`).
pub use dataplane::types::{Direction, PortRange, RuleAction};

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
    #[serde(default, skip_serializing_if = "Tags::is_empty")]
    pub tags: Tags,
}

impl FilterRule {
    /// Rule `number` doing `action` on every protocol, address and port, its id assigned later.
    pub fn new(number: u32, action: RuleAction) -> Self {
        FilterRule {
            id: None,
            rule_number: number,
            action,
            protocol: None,
            source_cidr: None,
            destination_cidr: None,
            source_port: None,
            destination_port: None,
            description: None,
            tags: Tags::new(),
        }
    }
}

/// `[[session]]`: links a source, a target and a filter.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Session {
    /// `tms-...`.
    pub id: String,
    /// The monitored network interface.
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
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    pub enabled: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Tags::is_empty")]
    pub tags: Tags,
}

impl Session {
    /// Session `number` of `source` through `filter` to `target`, enabled, with the defaults.
    pub fn new(id: &str, number: u32, source: &str, target: &str, filter: &str) -> Self {
        Session {
            id: id.into(),
            source: source.into(),
            target: target.into(),
            filter: filter.into(),
            session_number: number,
            virtual_network_id: None,
            packet_length: None,
            enabled: true,
            description: None,
            tags: Tags::new(),
        }
    }
}

fn yes() -> bool {
    true
}

fn is_true(b: &bool) -> bool {
    *b
}

/// A MAC address, written `02:00:00:00:00:01`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default, PartialOrd, Ord)]
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

macro_rules! resource {
    ($($t:ty => $id:ident),* $(,)?) => {$(
        impl Resource for $t {
            fn id(&self) -> &str {
                &self.$id
            }
        }
    )*};
}

resource!(NetworkInterface => id, LoadBalancer => arn, GatewayLoadBalancerEndpoint => id, Target => id, Filter => id, Session => id);
