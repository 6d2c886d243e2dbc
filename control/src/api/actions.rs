//! Every action's request and reply. The requests' members are botocore's EC2 model's (the
//! tests compare them), plus the appliance's own where it needs more than AWS says (marked
//! "The appliance's"); the doc comments are `ctl`'s help. What each action does is in
//! [`crate::state`].

use super::ec2::{Filter, GatewayLoadBalancerEndpoint, InstanceIpv6Address, LoadBalancer, NetworkInterface, PortRangeRequest, TagSpecification, TrafficMirrorFilter, TrafficMirrorFilterRule, TrafficMirrorSession, TrafficMirrorTarget};
use crate::{api_enum, api_struct};
use crate::config::{Direction, HealthCheckProtocol, Mac, NetworkService, RuleAction};
use ipnet::IpNet;
use serde::{Deserialize, Serialize};
use std::net::{IpAddr, Ipv4Addr};

// ---- targets ----

api_struct! {
    /// Creates a target: where a session's copies go, by the identity of what receives them.
    pub struct CreateTrafficMirrorTarget {
        /// The network interface (from the inventory) that receives the copies.
        network_interface_id ("NetworkInterfaceId"): Option<String>,
        /// The load balancer (from the inventory) whose collectors receive the copies.
        network_load_balancer_arn ("NetworkLoadBalancerArn"): Option<String>,
        /// The gateway load balancer endpoint (from the inventory) that receives the copies.
        gateway_load_balancer_endpoint_id ("GatewayLoadBalancerEndpointId"): Option<String>,
        /// The description.
        description ("Description"): Option<String>,
        /// Tags for the target (ResourceType=traffic-mirror-target).
        tag_specifications ("TagSpecifications"): Vec<TagSpecification>,
        /// Check the request without making the change: DryRunOperation when it would succeed.
        dry_run ("DryRun"): bool,
        /// Makes the request idempotent: a retry with the same token returns the same target.
        client_token ("ClientToken"): Option<String>,
        /// The appliance's: the id to give it (default: a new tmt-...).
        traffic_mirror_target_id ("TrafficMirrorTargetId"): Option<String>,
        /// The appliance's: largest outer IP packet; copies are cut to fit (default 9001).
        mtu ("Mtu"): Option<u32>,
        /// The appliance's: 802.1Q VLAN tag of the outer frame.
        vlan ("Vlan"): Option<u16>,
        /// The appliance's: UDP destination port (default 4789).
        udp_port ("UdpPort"): Option<u16>,
        /// The appliance's: outer IPv4 TTL and IPv6 hop limit, 1-255 (default 255, as AWS
        /// sends copies).
        ttl ("Ttl"): Option<u8>,
        /// The appliance's: set the outer IPv4 DF flag (default clear, as AWS sends copies).
        dont_fragment ("DontFragment"): Option<bool>,
    }
}

/// CreateTrafficMirrorTarget's reply.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateTrafficMirrorTargetResult {
    pub traffic_mirror_target: TrafficMirrorTarget,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_token: Option<String>,
}

api_struct! {
    /// Deletes a target no session uses.
    pub struct DeleteTrafficMirrorTarget {
        /// The target.
        traffic_mirror_target_id ("TrafficMirrorTargetId"): String,
        /// Check the request without making the change.
        dry_run ("DryRun"): bool,
    }
}

/// DeleteTrafficMirrorTarget's reply.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeleteTrafficMirrorTargetResult {
    pub traffic_mirror_target_id: String,
}

api_struct! {
    /// Describes targets: all, those named, or those the filters select.
    pub struct DescribeTrafficMirrorTargets {
        /// The targets (default: all).
        traffic_mirror_target_ids ("TrafficMirrorTargetIds"): Vec<String>,
        /// Check the request without describing.
        dry_run ("DryRun"): bool,
        /// Filters: description, network-interface-id, network-load-balancer-arn,
        /// gateway-load-balancer-endpoint-id, owner-id, traffic-mirror-target-id, tag:<key>, tag-key.
        filters ("Filters"): Vec<Filter>,
        /// Most targets in one reply (5-1000); NextToken then gives the rest.
        max_results ("MaxResults"): Option<u32>,
        /// Where the previous reply stopped.
        next_token ("NextToken"): Option<String>,
    }
}

/// DescribeTrafficMirrorTargets's reply.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeTrafficMirrorTargetsResult {
    pub traffic_mirror_targets: Vec<TrafficMirrorTarget>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

// ---- filters ----

api_struct! {
    /// Creates a filter, with no rules: it mirrors nothing until rules are added.
    pub struct CreateTrafficMirrorFilter {
        /// The description.
        description ("Description"): Option<String>,
        /// Tags for the filter (ResourceType=traffic-mirror-filter).
        tag_specifications ("TagSpecifications"): Vec<TagSpecification>,
        /// Check the request without making the change.
        dry_run ("DryRun"): bool,
        /// Makes the request idempotent.
        client_token ("ClientToken"): Option<String>,
        /// The appliance's: the id to give it (default: a new tmf-...).
        traffic_mirror_filter_id ("TrafficMirrorFilterId"): Option<String>,
        /// The appliance's: network services from the start (amazon-dns).
        network_services ("NetworkServices"): Vec<NetworkService>,
    }
}

/// CreateTrafficMirrorFilter's reply.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateTrafficMirrorFilterResult {
    pub traffic_mirror_filter: TrafficMirrorFilter,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_token: Option<String>,
}

api_struct! {
    /// Deletes a filter no session uses, with its rules.
    pub struct DeleteTrafficMirrorFilter {
        /// The filter.
        traffic_mirror_filter_id ("TrafficMirrorFilterId"): String,
        /// Check the request without making the change.
        dry_run ("DryRun"): bool,
    }
}

/// DeleteTrafficMirrorFilter's reply.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeleteTrafficMirrorFilterResult {
    pub traffic_mirror_filter_id: String,
}

api_struct! {
    /// Describes filters and their rules.
    pub struct DescribeTrafficMirrorFilters {
        /// The filters (default: all).
        traffic_mirror_filter_ids ("TrafficMirrorFilterIds"): Vec<String>,
        /// Check the request without describing.
        dry_run ("DryRun"): bool,
        /// Filters: description, traffic-mirror-filter-id, tag:<key>, tag-key.
        filters ("Filters"): Vec<Filter>,
        /// Most filters in one reply (5-1000).
        max_results ("MaxResults"): Option<u32>,
        /// Where the previous reply stopped.
        next_token ("NextToken"): Option<String>,
    }
}

/// DescribeTrafficMirrorFilters's reply.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeTrafficMirrorFiltersResult {
    pub traffic_mirror_filters: Vec<TrafficMirrorFilter>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

api_struct! {
    /// Adds or removes a filter's network services (amazon-dns: DNS to the VPC resolver may be
    /// mirrored).
    pub struct ModifyTrafficMirrorFilterNetworkServices {
        /// The filter.
        traffic_mirror_filter_id ("TrafficMirrorFilterId"): String,
        /// Services to add.
        add_network_services ("AddNetworkServices"): Vec<NetworkService>,
        /// Services to remove.
        remove_network_services ("RemoveNetworkServices"): Vec<NetworkService>,
        /// Check the request without making the change.
        dry_run ("DryRun"): bool,
    }
}

/// ModifyTrafficMirrorFilterNetworkServices's reply.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ModifyTrafficMirrorFilterNetworkServicesResult {
    pub traffic_mirror_filter: TrafficMirrorFilter,
}

// ---- filter rules ----

api_struct! {
    /// Adds a rule to a filter. Rules of a direction are tried in ascending rule number; the
    /// first that matches decides.
    pub struct CreateTrafficMirrorFilterRule {
        /// The filter.
        traffic_mirror_filter_id ("TrafficMirrorFilterId"): String,
        /// ingress (traffic to the source) or egress (traffic from it).
        traffic_direction ("TrafficDirection"): Direction,
        /// 1-32766, unique in its direction.
        rule_number ("RuleNumber"): u32,
        /// accept (mirror) or reject.
        rule_action ("RuleAction"): RuleAction,
        /// Destination ports, TCP and UDP only: FromPort=N,ToPort=M.
        destination_port_range ("DestinationPortRange"): Option<PortRangeRequest>,
        /// Source ports, TCP and UDP only: FromPort=N,ToPort=M.
        source_port_range ("SourcePortRange"): Option<PortRangeRequest>,
        /// IANA protocol number (6 TCP, 17 UDP, 1 ICMP); absent: every protocol.
        protocol ("Protocol"): Option<u8>,
        /// Destination CIDR block (IPv4 or IPv6).
        destination_cidr_block ("DestinationCidrBlock"): IpNet,
        /// Source CIDR block, of the destination's family.
        source_cidr_block ("SourceCidrBlock"): IpNet,
        /// The description.
        description ("Description"): Option<String>,
        /// Check the request without making the change.
        dry_run ("DryRun"): bool,
        /// Makes the request idempotent.
        client_token ("ClientToken"): Option<String>,
        /// Tags for the rule (ResourceType=traffic-mirror-filter-rule).
        tag_specifications ("TagSpecifications"): Vec<TagSpecification>,
    }
}

/// CreateTrafficMirrorFilterRule's reply.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateTrafficMirrorFilterRuleResult {
    pub traffic_mirror_filter_rule: TrafficMirrorFilterRule,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_token: Option<String>,
}

api_enum! {
    /// A filter rule member RemoveFields can clear.
    pub enum RuleField {
        DestinationPortRange = "destination-port-range",
        SourcePortRange = "source-port-range",
        Protocol = "protocol",
        Description = "description",
    }
}

api_struct! {
    /// Changes a filter rule; RemoveFields clears a member.
    pub struct ModifyTrafficMirrorFilterRule {
        /// The rule.
        traffic_mirror_filter_rule_id ("TrafficMirrorFilterRuleId"): String,
        /// Move it to ingress or egress.
        traffic_direction ("TrafficDirection"): Option<Direction>,
        /// A new rule number, unique in its direction.
        rule_number ("RuleNumber"): Option<u32>,
        /// accept or reject.
        rule_action ("RuleAction"): Option<RuleAction>,
        /// Destination ports: FromPort=N,ToPort=M.
        destination_port_range ("DestinationPortRange"): Option<PortRangeRequest>,
        /// Source ports: FromPort=N,ToPort=M.
        source_port_range ("SourcePortRange"): Option<PortRangeRequest>,
        /// IANA protocol number.
        protocol ("Protocol"): Option<u8>,
        /// Destination CIDR block.
        destination_cidr_block ("DestinationCidrBlock"): Option<IpNet>,
        /// Source CIDR block.
        source_cidr_block ("SourceCidrBlock"): Option<IpNet>,
        /// The description.
        description ("Description"): Option<String>,
        /// Members to clear: destination-port-range, source-port-range, protocol, description.
        remove_fields ("RemoveFields"): Vec<RuleField>,
        /// Check the request without making the change.
        dry_run ("DryRun"): bool,
    }
}

/// ModifyTrafficMirrorFilterRule's reply.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ModifyTrafficMirrorFilterRuleResult {
    pub traffic_mirror_filter_rule: TrafficMirrorFilterRule,
}

api_struct! {
    /// Deletes a filter rule.
    pub struct DeleteTrafficMirrorFilterRule {
        /// The rule.
        traffic_mirror_filter_rule_id ("TrafficMirrorFilterRuleId"): String,
        /// Check the request without making the change.
        dry_run ("DryRun"): bool,
    }
}

/// DeleteTrafficMirrorFilterRule's reply.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeleteTrafficMirrorFilterRuleResult {
    pub traffic_mirror_filter_rule_id: String,
}

api_struct! {
    /// Describes filter rules: of one filter, those named, or those the filters select.
    pub struct DescribeTrafficMirrorFilterRules {
        /// The rules (default: all).
        traffic_mirror_filter_rule_ids ("TrafficMirrorFilterRuleIds"): Vec<String>,
        /// Only this filter's rules.
        traffic_mirror_filter_id ("TrafficMirrorFilterId"): Option<String>,
        /// Check the request without describing.
        dry_run ("DryRun"): bool,
        /// Filters: traffic-mirror-filter-rule-id, traffic-mirror-filter-id, rule-number,
        /// rule-action, traffic-direction, protocol, source-cidr-block, destination-cidr-block,
        /// description, tag:<key>, tag-key.
        filters ("Filters"): Vec<Filter>,
        /// Most rules in one reply (5-1000).
        max_results ("MaxResults"): Option<u32>,
        /// Where the previous reply stopped.
        next_token ("NextToken"): Option<String>,
    }
}

/// DescribeTrafficMirrorFilterRules's reply.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeTrafficMirrorFilterRulesResult {
    pub traffic_mirror_filter_rules: Vec<TrafficMirrorFilterRule>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

// ---- sessions ----

api_struct! {
    /// Creates a session: the source's traffic that the filter accepts is mirrored to the
    /// target. A source's sessions are tried in ascending session number; the first that
    /// accepts a packet mirrors it.
    pub struct CreateTrafficMirrorSession {
        /// The source: a network interface of the inventory.
        network_interface_id ("NetworkInterfaceId"): String,
        /// The target.
        traffic_mirror_target_id ("TrafficMirrorTargetId"): String,
        /// The filter.
        traffic_mirror_filter_id ("TrafficMirrorFilterId"): String,
        /// Bytes of each packet to mirror, from its first Ethernet byte (default: whole packets).
        packet_length ("PacketLength"): Option<u32>,
        /// 1-32766, unique among the source's sessions.
        session_number ("SessionNumber"): u32,
        /// The VXLAN network id (default: one no other session uses).
        virtual_network_id ("VirtualNetworkId"): Option<u32>,
        /// The description.
        description ("Description"): Option<String>,
        /// Tags for the session (ResourceType=traffic-mirror-session).
        tag_specifications ("TagSpecifications"): Vec<TagSpecification>,
        /// Check the request without making the change.
        dry_run ("DryRun"): bool,
        /// Makes the request idempotent.
        client_token ("ClientToken"): Option<String>,
        /// The appliance's: the id to give it (default: a new tms-...).
        traffic_mirror_session_id ("TrafficMirrorSessionId"): Option<String>,
        /// The appliance's: false creates it switched off.
        enabled ("Enabled"): Option<bool>,
    }
}

/// CreateTrafficMirrorSession's reply.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateTrafficMirrorSessionResult {
    pub traffic_mirror_session: TrafficMirrorSession,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_token: Option<String>,
}

api_enum! {
    /// A session member RemoveFields can clear.
    pub enum SessionField {
        PacketLength = "packet-length",
        Description = "description",
        VirtualNetworkId = "virtual-network-id",
    }
}

api_struct! {
    /// Changes a session; RemoveFields clears a member (a cleared VNI is assigned anew).
    pub struct ModifyTrafficMirrorSession {
        /// The session.
        traffic_mirror_session_id ("TrafficMirrorSessionId"): String,
        /// A new target.
        traffic_mirror_target_id ("TrafficMirrorTargetId"): Option<String>,
        /// A new filter.
        traffic_mirror_filter_id ("TrafficMirrorFilterId"): Option<String>,
        /// Bytes of each packet to mirror.
        packet_length ("PacketLength"): Option<u32>,
        /// A new session number, unique among the source's sessions.
        session_number ("SessionNumber"): Option<u32>,
        /// A new VXLAN network id.
        virtual_network_id ("VirtualNetworkId"): Option<u32>,
        /// The description.
        description ("Description"): Option<String>,
        /// Members to clear: packet-length, description, virtual-network-id.
        remove_fields ("RemoveFields"): Vec<SessionField>,
        /// Check the request without making the change.
        dry_run ("DryRun"): bool,
        /// The appliance's: switch the session on (true) or off (false).
        enabled ("Enabled"): Option<bool>,
    }
}

/// ModifyTrafficMirrorSession's reply.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ModifyTrafficMirrorSessionResult {
    pub traffic_mirror_session: TrafficMirrorSession,
}

api_struct! {
    /// Deletes a session.
    pub struct DeleteTrafficMirrorSession {
        /// The session.
        traffic_mirror_session_id ("TrafficMirrorSessionId"): String,
        /// Check the request without making the change.
        dry_run ("DryRun"): bool,
    }
}

/// DeleteTrafficMirrorSession's reply.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeleteTrafficMirrorSessionResult {
    pub traffic_mirror_session_id: String,
}

api_struct! {
    /// Describes sessions.
    pub struct DescribeTrafficMirrorSessions {
        /// The sessions (default: all).
        traffic_mirror_session_ids ("TrafficMirrorSessionIds"): Vec<String>,
        /// Check the request without describing.
        dry_run ("DryRun"): bool,
        /// Filters: description, network-interface-id, owner-id, packet-length, session-number,
        /// traffic-mirror-filter-id, traffic-mirror-session-id, traffic-mirror-target-id,
        /// virtual-network-id, tag:<key>, tag-key.
        filters ("Filters"): Vec<Filter>,
        /// Most sessions in one reply (5-1000).
        max_results ("MaxResults"): Option<u32>,
        /// Where the previous reply stopped.
        next_token ("NextToken"): Option<String>,
    }
}

/// DescribeTrafficMirrorSessions's reply.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeTrafficMirrorSessionsResult {
    pub traffic_mirror_sessions: Vec<TrafficMirrorSession>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

// ---- the inventory (the appliance's own verbs) ----

api_struct! {
    /// The appliance's: adds a network interface to the inventory, a host to monitor (a
    /// session's source) or a collector (a target's destination).
    pub struct CreateNetworkInterface {
        /// Its id (default: a new eni-...).
        network_interface_id ("NetworkInterfaceId"): Option<String>,
        /// The port its frames cross, or that copies to it leave by.
        port ("Port"): String,
        /// Its MAC: as a source, only its frames are its own (hosts on a shared port).
        mac_address ("MacAddress"): Option<Mac>,
        /// Its primary IPv4 address: its copies' outer source as a source, their destination
        /// as a collector.
        private_ip_address ("PrivateIpAddress"): Option<Ipv4Addr>,
        /// Its IPv6 address (at most one): its IPv6 copies' outer source as a source; as a
        /// collector without an IPv4 address, where copies go, over IPv6.
        ipv6_addresses ("Ipv6Addresses"): Vec<InstanceIpv6Address>,
        /// As a collector: the MAC of the next hop towards it.
        next_hop_mac ("NextHopMac"): Option<Mac>,
        /// As a collector: the next hop's address, resolved by ARP or Neighbor Discovery
        /// (default: its own).
        next_hop ("NextHop"): Option<IpAddr>,
        /// The description.
        description ("Description"): Option<String>,
        /// Tags (ResourceType=network-interface).
        tag_specifications ("TagSpecifications"): Vec<TagSpecification>,
        /// Check the request without making the change.
        dry_run ("DryRun"): bool,
        /// Makes the request idempotent.
        client_token ("ClientToken"): Option<String>,
    }
}

/// CreateNetworkInterface's reply.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateNetworkInterfaceResult {
    pub network_interface: NetworkInterface,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_token: Option<String>,
}

api_struct! {
    /// The appliance's: removes a network interface no session or target uses.
    pub struct DeleteNetworkInterface {
        /// The network interface.
        network_interface_id ("NetworkInterfaceId"): String,
        /// Check the request without making the change.
        dry_run ("DryRun"): bool,
    }
}

/// DeleteNetworkInterface's reply.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeleteNetworkInterfaceResult {
    pub network_interface_id: String,
}

api_struct! {
    /// The appliance's: describes the inventory's network interfaces.
    pub struct DescribeNetworkInterfaces {
        /// The network interfaces (default: all).
        network_interface_ids ("NetworkInterfaceIds"): Vec<String>,
        /// Check the request without describing.
        dry_run ("DryRun"): bool,
        /// Filters: network-interface-id, port, mac-address, private-ip-address,
        /// ipv6-addresses.ipv6-address, description, tag:<key>, tag-key.
        filters ("Filters"): Vec<Filter>,
        /// Most in one reply (5-1000).
        max_results ("MaxResults"): Option<u32>,
        /// Where the previous reply stopped.
        next_token ("NextToken"): Option<String>,
    }
}

/// DescribeNetworkInterfaces's reply.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeNetworkInterfacesResult {
    pub network_interfaces: Vec<NetworkInterface>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

api_struct! {
    /// The appliance's: adds a load balancer (collectors behind one ARN) to the inventory.
    pub struct CreateLoadBalancer {
        /// Its ARN (default: a new arn:aws:elasticloadbalancing:...).
        load_balancer_arn ("LoadBalancerArn"): Option<String>,
        /// The mirror port copies to it leave by.
        port ("Port"): String,
        /// The collectors' addresses, IPv4 or IPv6; each flow always goes to the same one.
        addresses ("Addresses"): Vec<IpAddr>,
        /// The MAC of the next hop towards the collectors.
        next_hop_mac ("NextHopMac"): Option<Mac>,
        /// The next hop's address, resolved by ARP or Neighbor Discovery (default: each
        /// collector's own).
        next_hop ("NextHop"): Option<IpAddr>,
        /// How the collectors are health-checked: tcp (a handshake, the default) or icmp (an
        /// echo).
        health_check_protocol ("HealthCheckProtocol"): Option<HealthCheckProtocol>,
        /// The TCP port of the health checks (default: the traffic port, the target's UDP
        /// port).
        health_check_port ("HealthCheckPort"): Option<u16>,
        /// Seconds between the checks of a collector, 1-300 (default 30).
        health_check_interval_seconds ("HealthCheckIntervalSeconds"): Option<u32>,
        /// Successes in a row that make an unhealthy collector healthy, 2-10 (default 3).
        healthy_threshold_count ("HealthyThresholdCount"): Option<u32>,
        /// Failures in a row that make a collector unhealthy, 2-10 (default 3).
        unhealthy_threshold_count ("UnhealthyThresholdCount"): Option<u32>,
        /// The description.
        description ("Description"): Option<String>,
        /// Tags (ResourceType=load-balancer).
        tag_specifications ("TagSpecifications"): Vec<TagSpecification>,
        /// Check the request without making the change.
        dry_run ("DryRun"): bool,
        /// Makes the request idempotent.
        client_token ("ClientToken"): Option<String>,
    }
}

/// CreateLoadBalancer's reply.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateLoadBalancerResult {
    pub load_balancer: LoadBalancer,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_token: Option<String>,
}

api_struct! {
    /// The appliance's: removes a load balancer no target uses.
    pub struct DeleteLoadBalancer {
        /// The load balancer.
        load_balancer_arn ("LoadBalancerArn"): String,
        /// Check the request without making the change.
        dry_run ("DryRun"): bool,
    }
}

/// DeleteLoadBalancer's reply.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeleteLoadBalancerResult {
    pub load_balancer_arn: String,
}

api_struct! {
    /// The appliance's: describes the inventory's load balancers, with each collector's
    /// health.
    pub struct DescribeLoadBalancers {
        /// The load balancers (default: all).
        load_balancer_arns ("LoadBalancerArns"): Vec<String>,
        /// Check the request without describing.
        dry_run ("DryRun"): bool,
        /// Filters: load-balancer-arn, port, description, tag:<key>, tag-key.
        filters ("Filters"): Vec<Filter>,
        /// Most in one reply (5-1000).
        max_results ("MaxResults"): Option<u32>,
        /// Where the previous reply stopped.
        next_token ("NextToken"): Option<String>,
    }
}

/// DescribeLoadBalancers's reply.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeLoadBalancersResult {
    pub load_balancers: Vec<LoadBalancer>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

api_struct! {
    /// The appliance's: adds a gateway load balancer endpoint to the inventory.
    pub struct CreateGatewayLoadBalancerEndpoint {
        /// Its id (default: a new vpce-...).
        gateway_load_balancer_endpoint_id ("GatewayLoadBalancerEndpointId"): Option<String>,
        /// The mirror port copies to it leave by.
        port ("Port"): String,
        /// The endpoint's address, IPv4 or IPv6 (required).
        ip_address ("IpAddress"): Option<IpAddr>,
        /// The MAC of the next hop towards it.
        next_hop_mac ("NextHopMac"): Option<Mac>,
        /// The next hop's address, resolved by ARP or Neighbor Discovery (default: the
        /// endpoint's own).
        next_hop ("NextHop"): Option<IpAddr>,
        /// The description.
        description ("Description"): Option<String>,
        /// Tags (ResourceType=vpc-endpoint).
        tag_specifications ("TagSpecifications"): Vec<TagSpecification>,
        /// Check the request without making the change.
        dry_run ("DryRun"): bool,
        /// Makes the request idempotent.
        client_token ("ClientToken"): Option<String>,
    }
}

/// CreateGatewayLoadBalancerEndpoint's reply.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateGatewayLoadBalancerEndpointResult {
    pub gateway_load_balancer_endpoint: GatewayLoadBalancerEndpoint,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_token: Option<String>,
}

api_struct! {
    /// The appliance's: removes a gateway load balancer endpoint no target uses.
    pub struct DeleteGatewayLoadBalancerEndpoint {
        /// The endpoint.
        gateway_load_balancer_endpoint_id ("GatewayLoadBalancerEndpointId"): String,
        /// Check the request without making the change.
        dry_run ("DryRun"): bool,
    }
}

/// DeleteGatewayLoadBalancerEndpoint's reply.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeleteGatewayLoadBalancerEndpointResult {
    pub gateway_load_balancer_endpoint_id: String,
}

api_struct! {
    /// The appliance's: describes the inventory's gateway load balancer endpoints.
    pub struct DescribeGatewayLoadBalancerEndpoints {
        /// The endpoints (default: all).
        gateway_load_balancer_endpoint_ids ("GatewayLoadBalancerEndpointIds"): Vec<String>,
        /// Check the request without describing.
        dry_run ("DryRun"): bool,
        /// Filters: gateway-load-balancer-endpoint-id, port, ip-address, description,
        /// tag:<key>, tag-key.
        filters ("Filters"): Vec<Filter>,
        /// Most in one reply (5-1000).
        max_results ("MaxResults"): Option<u32>,
        /// Where the previous reply stopped.
        next_token ("NextToken"): Option<String>,
    }
}

/// DescribeGatewayLoadBalancerEndpoints's reply.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeGatewayLoadBalancerEndpointsResult {
    pub gateway_load_balancer_endpoints: Vec<GatewayLoadBalancerEndpoint>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

// ---- the appliance ----

api_struct! {
    /// The appliance's: its ports and their counters.
    pub struct DescribePorts {}
}

/// DescribePorts's reply.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribePortsResult {
    pub ports: Vec<crate::report::PortReport>,
}

api_struct! {
    /// The appliance's: next hops resolved by ARP and Neighbor Discovery, and what each did.
    pub struct DescribeNeighbors {}
}

/// DescribeNeighbors's reply.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeNeighborsResult {
    pub neighbors: Vec<crate::neighbour::NeighbourReport>,
    pub arp: crate::neighbour::ArpCounters,
    #[serde(default)]
    pub nd: crate::neighbour::NdCounters,
}

api_struct! {
    /// The appliance's: every counter (ports, sessions by direction, workers, mempools).
    pub struct DescribeCounters {}
}

api_struct! {
    /// The appliance's: re-reads the configuration file (as SIGHUP does), keeping every change
    /// made through the API.
    pub struct ReloadConfiguration {}
}

/// ReloadConfiguration's reply.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ReloadConfigurationResult {
    /// The table now in force.
    pub table: u64,
}

api_struct! {
    /// The appliance's: the running configuration as TOML.
    pub struct ExportConfiguration {}
}

api_struct! {
    /// The appliance's: what the running dataplane does with frames, and why, as `traffic-mirror
    /// explain` shows it: the sources that see each frame, the rule that decided each session
    /// tried, why it is never mirrored, and its copies (VNI, length, outer UDP ports, bytes).
    /// The decision is the workers' own, on the table in force; nothing is sent or counted.
    pub struct ExplainFrames {
        /// The port the frames arrive on.
        port ("Port"): String,
        /// The frames, in hex (at most 1,000).
        frames ("Frames"): Vec<String>,
    }
}

/// ExplainFrames's reply.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ExplainFramesResult {
    pub frames: Vec<crate::explain::FrameExplanation>,
}

/// ExportConfiguration's reply.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ExportConfigurationResult {
    pub configuration: String,
}
