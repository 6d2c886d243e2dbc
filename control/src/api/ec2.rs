//! EC2's structures, as its Traffic Mirroring actions take and return them (member names from
//! botocore's EC2 model), and the appliance's own for its inventory, each made from the
//! configuration's resources in one place.

use crate::api_struct;
use crate::config::{self, Config, Direction, NetworkService, RuleAction, TargetType};
use crate::counters::RuleTotals;
use serde::{Deserialize, Serialize};
use std::net::{IpAddr, Ipv6Addr};

api_struct! {
    /// A tag: a key and a value.
    pub struct Tag {
        key ("Key"): String,
        value ("Value"): String,
    }
}

api_struct! {
    /// Tags for the resource a Create makes.
    pub struct TagSpecification {
        /// The type of the resource to tag (traffic-mirror-session, ...).
        resource_type ("ResourceType"): String,
        /// The tags.
        tags ("Tags"): Vec<Tag>,
    }
}

api_struct! {
    /// An IPv6 address of a network interface, as CreateNetworkInterface takes it.
    pub struct InstanceIpv6Address {
        /// The address.
        ipv6_address ("Ipv6Address"): Option<Ipv6Addr>,
    }
}

api_struct! {
    /// A describe filter: the items whose field `Name` has one of `Values` (`*` and `?` match
    /// any characters, as in EC2).
    pub struct Filter {
        /// The filter's name (tag:<key> filters by a tag's value, tag-key by a tag's presence).
        name ("Name"): String,
        /// The values, any of which matches.
        values ("Values"): Vec<String>,
    }
}

api_struct! {
    /// A port range in a request: both ends inclusive.
    pub struct PortRangeRequest {
        /// The first port.
        from_port ("FromPort"): Option<u16>,
        /// The last port.
        to_port ("ToPort"): Option<u16>,
    }
}

/// A port range as EC2 shows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PortRange {
    pub from_port: u16,
    pub to_port: u16,
}

impl From<config::PortRange> for PortRange {
    fn from(p: config::PortRange) -> Self {
        PortRange { from_port: p.from, to_port: p.to }
    }
}

/// Tags as EC2 lists them, from the configuration's map.
pub fn tags(t: &config::Tags) -> Vec<Tag> {
    t.iter().map(|(k, v)| Tag { key: k.clone(), value: v.clone() }).collect()
}

/// A target as EC2 describes it, plus how this appliance sends to it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TrafficMirrorTarget {
    pub traffic_mirror_target_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network_interface_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network_load_balancer_arn: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gateway_load_balancer_endpoint_id: Option<String>,
    #[serde(rename = "Type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<TargetType>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default)]
    pub owner_id: String,
    #[serde(default)]
    pub tags: Vec<Tag>,
    /// The appliance's: largest outer packet, outer VLAN, UDP port, outer TTL and DF.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mtu: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vlan: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub udp_port: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl: Option<u8>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dont_fragment: Option<bool>,
}

impl TrafficMirrorTarget {
    /// EC2's view of a configured target.
    pub fn of(cfg: &Config, t: &config::Target) -> Self {
        TrafficMirrorTarget {
            traffic_mirror_target_id: t.id.clone(),
            network_interface_id: t.network_interface_id.clone(),
            network_load_balancer_arn: t.network_load_balancer_arn.clone(),
            gateway_load_balancer_endpoint_id: t.gateway_load_balancer_endpoint_id.clone(),
            kind: t.kind(),
            description: t.description.clone(),
            owner_id: cfg.vpc.owner_id.clone(),
            tags: tags(&t.tags),
            mtu: Some(t.mtu),
            vlan: t.vlan,
            udp_port: Some(t.udp_port),
            ttl: Some(t.ttl),
            dont_fragment: Some(t.dont_fragment),
        }
    }
}

/// A filter rule as EC2 describes it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TrafficMirrorFilterRule {
    #[serde(default)]
    pub traffic_mirror_filter_rule_id: Option<String>,
    #[serde(default)]
    pub traffic_mirror_filter_id: Option<String>,
    pub traffic_direction: Direction,
    pub rule_number: u32,
    pub rule_action: RuleAction,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<u8>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destination_port_range: Option<PortRange>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_port_range: Option<PortRange>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destination_cidr_block: Option<ipnet::IpNet>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_cidr_block: Option<ipnet::IpNet>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default)]
    pub tags: Vec<Tag>,
    /// The appliance's: the packets the rule decided (accepted or rejected) since start, once
    /// for each session it decided one for. Describe calls show it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hit_count: Option<u64>,
}

impl TrafficMirrorFilterRule {
    /// EC2's view of a configured rule.
    pub fn of(filter: &str, dir: Direction, r: &config::FilterRule) -> Self {
        TrafficMirrorFilterRule {
            traffic_mirror_filter_rule_id: r.id.clone(),
            traffic_mirror_filter_id: Some(filter.to_owned()),
            traffic_direction: dir,
            rule_number: r.rule_number,
            rule_action: r.action,
            protocol: r.protocol,
            destination_port_range: r.destination_port.map(Into::into),
            source_port_range: r.source_port.map(Into::into),
            destination_cidr_block: r.destination_cidr,
            source_cidr_block: r.source_cidr,
            description: r.description.clone(),
            tags: tags(&r.tags),
            hit_count: None,
        }
    }

    /// With its hits, as describe shows it.
    pub fn with_hits(mut self, hits: &RuleTotals) -> Self {
        self.count_hits(hits);
        self
    }

    fn count_hits(&mut self, hits: &RuleTotals) {
        if let (Some(f), Some(r)) = (&self.traffic_mirror_filter_id, &self.traffic_mirror_filter_rule_id) {
            self.hit_count = Some(hits.get(f, r, self.traffic_direction));
        }
    }

    /// The configured rule for EC2's (as describe output gives it).
    pub fn to_rule(&self) -> config::FilterRule {
        config::FilterRule {
            id: self.traffic_mirror_filter_rule_id.clone(),
            rule_number: self.rule_number,
            action: self.rule_action,
            protocol: self.protocol,
            source_cidr: self.source_cidr_block,
            destination_cidr: self.destination_cidr_block,
            source_port: self.source_port_range.map(|p| config::PortRange { from: p.from_port, to: p.to_port }),
            destination_port: self.destination_port_range.map(|p| config::PortRange { from: p.from_port, to: p.to_port }),
            description: self.description.clone(),
            tags: self.tags.iter().map(|t| (t.key.clone(), t.value.clone())).collect(),
        }
    }
}

/// A filter as EC2 describes it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TrafficMirrorFilter {
    pub traffic_mirror_filter_id: String,
    #[serde(default)]
    pub ingress_filter_rules: Vec<TrafficMirrorFilterRule>,
    #[serde(default)]
    pub egress_filter_rules: Vec<TrafficMirrorFilterRule>,
    #[serde(default)]
    pub network_services: Vec<NetworkService>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default)]
    pub tags: Vec<Tag>,
}

impl TrafficMirrorFilter {
    /// With its rules' hits, as describe shows them.
    pub fn with_hits(mut self, hits: &RuleTotals) -> Self {
        for r in self.ingress_filter_rules.iter_mut().chain(&mut self.egress_filter_rules) {
            r.count_hits(hits);
        }
        self
    }

    /// EC2's view of a configured filter, its rules in evaluation order.
    pub fn of(f: &config::Filter) -> Self {
        let rules = |dir: Direction| {
            let mut v: Vec<_> = f.rules(dir).iter().map(|r| TrafficMirrorFilterRule::of(&f.id, dir, r)).collect();
            v.sort_by_key(|r| r.rule_number);
            v
        };
        TrafficMirrorFilter {
            traffic_mirror_filter_id: f.id.clone(),
            ingress_filter_rules: rules(Direction::Ingress),
            egress_filter_rules: rules(Direction::Egress),
            network_services: f.network_services.clone(),
            description: f.description.clone(),
            tags: tags(&f.tags),
        }
    }
}

/// A session as EC2 describes it, plus whether it is enabled.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TrafficMirrorSession {
    pub traffic_mirror_session_id: String,
    pub traffic_mirror_target_id: String,
    pub traffic_mirror_filter_id: String,
    pub network_interface_id: String,
    #[serde(default)]
    pub owner_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub packet_length: Option<u32>,
    pub session_number: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub virtual_network_id: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default)]
    pub tags: Vec<Tag>,
    /// The appliance's: whether it mirrors (a session created disabled mirrors nothing).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
}

impl TrafficMirrorSession {
    /// EC2's view of a configured session.
    pub fn of(cfg: &Config, s: &config::Session) -> Self {
        TrafficMirrorSession {
            traffic_mirror_session_id: s.id.clone(),
            traffic_mirror_target_id: s.target.clone(),
            traffic_mirror_filter_id: s.filter.clone(),
            network_interface_id: s.source.clone(),
            owner_id: cfg.vpc.owner_id.clone(),
            packet_length: s.packet_length,
            session_number: s.session_number,
            virtual_network_id: s.virtual_network_id,
            description: s.description.clone(),
            tags: tags(&s.tags),
            enabled: Some(s.enabled),
        }
    }

    /// The configured session for EC2's (as describe output gives it).
    pub fn to_session(&self) -> config::Session {
        config::Session {
            id: self.traffic_mirror_session_id.clone(),
            source: self.network_interface_id.clone(),
            target: self.traffic_mirror_target_id.clone(),
            filter: self.traffic_mirror_filter_id.clone(),
            session_number: self.session_number,
            virtual_network_id: self.virtual_network_id,
            packet_length: self.packet_length,
            enabled: self.enabled.unwrap_or(true),
            description: self.description.clone(),
            tags: self.tags.iter().map(|t| (t.key.clone(), t.value.clone())).collect(),
        }
    }
}

/// A network interface of the inventory, shaped as EC2's DescribeNetworkInterfaces shows one
/// (so its output and AWS's read alike), plus the appliance's port and next hop.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct NetworkInterface {
    pub network_interface_id: String,
    #[serde(default)]
    pub port: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mac_address: Option<config::Mac>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub private_ip_address: Option<std::net::Ipv4Addr>,
    /// Its IPv6 address, as EC2 shows the primary one...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ipv6_address: Option<Ipv6Addr>,
    /// ...and in the list of all.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ipv6_addresses: Vec<NetworkInterfaceIpv6Address>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_hop_mac: Option<config::Mac>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_hop: Option<IpAddr>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default)]
    pub owner_id: String,
    #[serde(default)]
    pub tag_set: Vec<Tag>,
}

/// One of a network interface's IPv6 addresses, as EC2 describes it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct NetworkInterfaceIpv6Address {
    pub ipv6_address: Ipv6Addr,
    #[serde(default)]
    pub is_primary_ipv6: bool,
}

impl NetworkInterface {
    /// The API's view of an inventory entry.
    pub fn of(cfg: &Config, n: &config::NetworkInterface) -> Self {
        NetworkInterface {
            network_interface_id: n.id.clone(),
            port: n.port.clone(),
            mac_address: n.mac,
            private_ip_address: n.ipv4,
            ipv6_address: n.ipv6,
            ipv6_addresses: n.ipv6.map(|a| NetworkInterfaceIpv6Address { ipv6_address: a, is_primary_ipv6: true }).into_iter().collect(),
            next_hop_mac: n.next_hop_mac,
            next_hop: n.next_hop,
            description: n.description.clone(),
            owner_id: cfg.vpc.owner_id.clone(),
            tag_set: tags(&n.tags),
        }
    }
}

/// A load balancer of the inventory, its health checks as they run (every default applied),
/// and, when described, each collector's health.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct LoadBalancer {
    pub load_balancer_arn: String,
    pub port: String,
    pub addresses: Vec<IpAddr>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_hop_mac: Option<config::Mac>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_hop: Option<IpAddr>,
    /// `tcp` or `icmp`.
    #[serde(default)]
    pub health_check_protocol: String,
    /// The TCP port, or `traffic-port` (the target's UDP port) as AWS says it; none for ICMP.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health_check_port: Option<String>,
    #[serde(default)]
    pub health_check_interval_seconds: u32,
    #[serde(default)]
    pub healthy_threshold_count: u32,
    #[serde(default)]
    pub unhealthy_threshold_count: u32,
    /// Each collector's health, as ELB's DescribeTargetHealth says a target's (describe only).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub target_health_descriptions: Vec<TargetHealthDescription>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default)]
    pub tags: Vec<Tag>,
}

/// One collector's health, in ELB's DescribeTargetHealth shape, and when it last changed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TargetHealthDescription {
    pub target: HealthTarget,
    pub target_health: TargetHealth,
    /// The appliance's: when the state last changed (UTC).
    pub last_change: String,
}

/// A collector checked: its address.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct HealthTarget {
    pub id: String,
}

/// A collector's health: `initial`, `healthy`, `unhealthy`, `unused` or `unavailable`, and why.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TargetHealth {
    pub state: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

impl LoadBalancer {
    /// The API's view of an inventory entry; `health` gives its collectors' health (for
    /// describe).
    pub fn of(lb: &config::LoadBalancer, health: &[crate::health::CollectorHealth]) -> Self {
        let hc = lb.health_check.clone().unwrap_or_default();
        let protocol = hc.protocol.unwrap_or_default();
        let port = match (protocol, hc.port) {
            (config::HealthCheckProtocol::Icmp, _) => None,
            (_, Some(p)) => Some(p.to_string()),
            (_, None) => Some("traffic-port".to_owned()),
        };
        LoadBalancer {
            load_balancer_arn: lb.arn.clone(),
            port: lb.port.clone(),
            addresses: lb.addresses.clone(),
            next_hop_mac: lb.next_hop_mac,
            next_hop: lb.next_hop,
            health_check_protocol: protocol.name().to_owned(),
            health_check_port: port,
            health_check_interval_seconds: hc.interval.unwrap_or(crate::health::DEFAULT_INTERVAL),
            healthy_threshold_count: hc.healthy_threshold.unwrap_or(crate::health::DEFAULT_HEALTHY_THRESHOLD),
            unhealthy_threshold_count: hc.unhealthy_threshold.unwrap_or(crate::health::DEFAULT_UNHEALTHY_THRESHOLD),
            target_health_descriptions: health
                .iter()
                .filter(|h| h.load_balancer == lb.arn)
                .map(|h| TargetHealthDescription {
                    target: HealthTarget { id: h.address.to_string() },
                    target_health: TargetHealth { state: h.state.name().to_owned(), reason: h.reason.clone(), description: h.description.clone() },
                    last_change: h.last_change.clone(),
                })
                .collect(),
            description: lb.description.clone(),
            tags: tags(&lb.tags),
        }
    }
}

/// A gateway load balancer endpoint of the inventory.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GatewayLoadBalancerEndpoint {
    pub gateway_load_balancer_endpoint_id: String,
    pub port: String,
    /// IPv4 or IPv6.
    pub ip_address: IpAddr,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_hop_mac: Option<config::Mac>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_hop: Option<IpAddr>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default)]
    pub tags: Vec<Tag>,
}

impl GatewayLoadBalancerEndpoint {
    /// The API's view of an inventory entry.
    pub fn of(e: &config::GatewayLoadBalancerEndpoint) -> Self {
        GatewayLoadBalancerEndpoint {
            gateway_load_balancer_endpoint_id: e.id.clone(),
            port: e.port.clone(),
            // Validation keeps exactly one of the two.
            ip_address: e.ipv4.map(IpAddr::V4).or(e.ipv6.map(IpAddr::V6)).unwrap_or(IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED)),
            next_hop_mac: e.next_hop_mac,
            next_hop: e.next_hop,
            description: e.description.clone(),
            tags: tags(&e.tags),
        }
    }
}
